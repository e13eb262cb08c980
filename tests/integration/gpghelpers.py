"""Throw-away GnuPG homes, keys and messages for the signing tests, made with real gpg.

Every :class:`GPGHome` lives in a short path under the system temp dir (gpg-agent's
socket path must stay short), is mode 0700, and :meth:`GPGHome.close` kills its agent
and deletes it. Keys are ed25519 unless a test needs otherwise: generating one takes
milliseconds. ``faked_time`` (``YYYYMMDDTHHMMSS``) backdates key creation or signing,
which is how expired keys and expired signatures are made without waiting.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "signature"
KEYS_EXAMPLE = ROOT / "keys-example"


def _load_fixtures_info() -> ModuleType:
    """tests/fixtures/signature/fixtures_info.py, loaded by path (``fixtures`` is no package)."""
    spec = importlib.util.spec_from_file_location("signature_fixtures_info", FIXTURES / "fixtures_info.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Facts about the c/image fixtures (fingerprints, digests), as in c/i's fixtures_info_test.go.
INFO = _load_fixtures_info()


class GPGHome:
    """A temporary GNUPGHOME driven with the gpg command line."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="tcg-", dir="/tmp")
        os.chmod(self.path, 0o700)

    @property
    def env(self) -> dict[str, str]:
        """An environment selecting this home (for subprocesses such as skopeo)."""
        return {**os.environ, "GNUPGHOME": self.path}

    def run(self, *args: str, data: bytes | None = None, faked_time: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``gpg --batch ARGS`` in this home; returns the completed process."""
        cmd = ["gpg", "--homedir", self.path, "--batch", "--no-tty", "--pinentry-mode", "loopback"]
        if faked_time:
            cmd += ["--faked-system-time", faked_time]
        proc = subprocess.run([*cmd, *args], input=data, capture_output=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc

    def gen_key(self, uid: str, *, algo: str = "ed25519", usage: str = "sign", expire: str = "never",
                passphrase: str = "", faked_time: str | None = None) -> str:
        """Create a primary key; return its fingerprint."""
        proc = self.run("--status-fd", "1", "--passphrase", passphrase, "--quick-gen-key", uid, algo, usage, expire,
                        faked_time=faked_time)
        for line in proc.stdout.decode().splitlines():
            if line.startswith("[GNUPG:] KEY_CREATED"):
                return line.split()[3]
        raise AssertionError("no KEY_CREATED status")

    def add_subkey(self, primary: str, *, algo: str = "ed25519", usage: str = "sign", expire: str = "never",
                   passphrase: str = "") -> str:
        """Add a subkey to ``primary``; return the subkey's fingerprint."""
        self.run("--passphrase", passphrase, "--quick-add-key", primary, algo, usage, expire)
        return self.fingerprints(primary)[-1]

    def fingerprints(self, key: str) -> list[str]:
        """Primary then subkey fingerprints of ``key``."""
        out = self.run("--with-colons", "--with-subkey-fingerprints", "--list-keys", key).stdout.decode()
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def export(self, *keys: str, armor: bool = False) -> bytes:
        """Public key material for ``keys``."""
        return self.run("--export", *(["--armor"] if armor else []), *keys).stdout

    def export_secret(self, *keys: str, passphrase: str = "") -> bytes:
        """Secret key material (armored)."""
        return self.run("--passphrase", passphrase, "--armor", "--export-secret-keys", *keys).stdout

    def import_keys(self, blob: bytes) -> None:
        """Import key material into this home."""
        self.run("--import", data=blob)

    def sign(self, data: bytes, *signers: str, extra: Sequence[str] = (), faked_time: str | None = None,
             passphrase: str = "") -> bytes:
        """A binary signed message of ``data`` by every key in ``signers`` (one message)."""
        users = [arg for key in signers for arg in ("--local-user", key)]
        return self.run("--passphrase", passphrase, *users, *extra, "--sign", data=data, faked_time=faked_time).stdout

    def store(self, data: bytes) -> bytes:
        """A literal-data message: looks like a signature, is not signed."""
        return self.run("--store", data=data).stdout

    def encrypt(self, data: bytes, recipient: str, *, sign_with: str | None = None) -> bytes:
        """An encrypted (optionally also signed) message to ``recipient``."""
        extra = ["--local-user", sign_with, "--sign"] if sign_with else []
        return self.run("--trust-model", "always", "--recipient", recipient, *extra, "--encrypt", data=data).stdout

    def revoke(self, fingerprint: str) -> bytes:
        """Import the revocation certificate gpg made at key creation; return the revoked public key."""
        cert = (Path(self.path) / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
        self.import_keys(cert.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----")
                         .encode())
        return self.export(fingerprint)

    def close(self) -> None:
        """Stop this home's agent and delete it."""
        subprocess.run(["gpgconf", "--homedir", self.path, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def gpg_homes() -> Iterator[list[GPGHome]]:
    """Yield a list to append GPGHome objects to; all are closed afterwards."""
    homes: list[GPGHome] = []
    try:
        yield homes
    finally:
        for home in homes:
            home.close()


def agents_running_in(path: str) -> bool:
    """True if a gpg-agent socket exists in ``path`` (a private home must never start one)."""
    return any(name.startswith("S.gpg-agent") for name in os.listdir(path)) if os.path.isdir(path) else False


# -- pytest fixtures (this module is a pytest plugin, see tests/conftest.py) -----------


@pytest.fixture
def new_home() -> Iterator[Callable[[], GPGHome]]:
    """Factory of throw-away GnuPG homes, all deleted after the test."""
    with gpg_homes() as homes:

        def make() -> GPGHome:
            homes.append(GPGHome())
            return homes[-1]

        yield make


@pytest.fixture(scope="module")
def example_home() -> Iterator[GPGHome]:
    """A user keyring holding the keys-example secret key (as the README's demo uses it)."""
    home = GPGHome()
    home.import_keys((KEYS_EXAMPLE / "secret-key.asc").read_bytes())
    try:
        yield home
    finally:
        home.close()
