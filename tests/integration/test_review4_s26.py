"""Review of session 26's --sign-by pre-check and Ctrl-C handling, against real gpg and real commands.

- ``check_signing_key`` (the pre-check that keeps a tag from moving to an unsigned image)
  must refuse exactly the keys gpg refuses to sign with. It looked only at the primary key's
  validity: a certify-only primary key whose signing subkey expired or was revoked (a
  common layout: the primary key kept for certifying, a subkey for daily signing), a key with
  no signing (sub)key at all, or an offline primary key (``sec#``) with no signing subkey
  here, all passed the check, and gpg refused them only after the image was written. Each
  key below is judged by the check and by gpg itself; the two must agree.
- Ctrl-C exits 130 ``interrupted`` in every command (click turns it into Abort, which
  said ``Aborted!`` with status 1); an end of input at a prompt stays ``Aborted!``, 1.
"""

from __future__ import annotations

import getpass
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image, make_image, random_layer, write_dir
from registry_fixtures import Fault, FaultProxy, RegistryServer, fast_sys, push_image, registry_request

from trustcopy.errors import SignatureError
from trustcopy.signature import gpg

#: When the backdated keys were made; their one-year expiry ended on 2020-12-31.
PAST = "20200101T000000"


def _revoke_subkey(home: GPGHome, primary: str) -> None:
    """Revoke the first subkey of ``primary`` (gpg has no --quick command for it)."""
    cmd = ["gpg", "--homedir", home.path, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
           "--command-fd", "0", "--status-fd", "2", "--edit-key", primary]
    subprocess.run(cmd, input=b"key 1\nrevkey\ny\n0\n\ny\nsave\n", capture_output=True, check=True)


@pytest.fixture(scope="module")
def keys() -> Iterator[tuple[GPGHome, dict[str, str]]]:
    """One home holding a key of each layout; name → the key ID/fingerprint --sign-by gets."""
    home, donor = GPGHome(), GPGHome()
    try:
        named: dict[str, str] = {"plain": home.gen_key("plain")}
        # A primary key that may sign, and an expired signing subkey: gpg signs with the primary.
        fpr = home.gen_key("sign-primary", faked_time="20191201T000000")
        home.run("--passphrase", "", "--quick-add-key", fpr, "ed25519", "sign", "1y", faked_time=PAST)
        named["sign-primary+expired-subkey"] = fpr
        # Certify-only primary keys, whose signing subkey expired / was revoked / does not exist.
        fpr = home.gen_key("cert-expired-sub", usage="cert", faked_time="20191201T000000")
        home.run("--passphrase", "", "--quick-add-key", fpr, "ed25519", "sign", "1y", faked_time=PAST)
        named["cert+expired-subkey"] = fpr
        named["cert+expired-subkey, by the subkey's ID"] = home.fingerprints(fpr)[-1][-16:]
        fpr = home.gen_key("cert-revoked-sub", usage="cert")
        home.add_subkey(fpr)
        _revoke_subkey(home, fpr)
        named["cert+revoked-subkey"] = fpr
        fpr = home.gen_key("cert-encrypt-only", usage="cert")
        home.add_subkey(fpr, algo="cv25519", usage="encr")
        named["cert+encryption-subkey"] = fpr
        named["cert+valid-subkey"] = fpr = home.gen_key("cert-valid-sub", usage="cert")
        home.add_subkey(fpr)
        # The primary key expired, its signing subkey did not: the whole key is expired.
        fpr = home.gen_key("expired-primary", usage="cert", expire="1y", faked_time=PAST)
        home.run("--passphrase", "", "--quick-add-key", fpr, "ed25519", "sign", "never", faked_time="20200102T000000")
        named["expired-primary+valid-subkey"] = fpr
        # Offline primary keys (only a stub here): with a signing subkey here, and without.
        for name, usage, algo in (("offline+signing-subkey", "sign", "ed25519"),
                                  ("offline+encryption-subkey-only", "encr", "cv25519")):
            fpr = donor.gen_key(name)
            sub = donor.add_subkey(fpr, algo=algo, usage=usage)
            home.import_keys(donor.export(fpr))
            home.import_keys(donor.run("--passphrase", "", "--export-secret-subkeys", sub + "!").stdout)
            named[name] = fpr
        yield home, named
    finally:
        home.close()
        donor.close()


#: Whether gpg signs with each key, and what the check says when it does not.
CASES = {
    "plain": None,
    "sign-primary+expired-subkey": None,
    "cert+valid-subkey": None,
    "offline+signing-subkey": None,
    "cert+expired-subkey": "its signing subkey [0-9A-F]{16} has expired on 2020-12-31",
    "cert+expired-subkey, by the subkey's ID": "its signing subkey [0-9A-F]{16} has expired on 2020-12-31",
    "cert+revoked-subkey": "its signing subkey [0-9A-F]{16} has been revoked",
    "cert+encryption-subkey": "the key has no key or subkey that may sign",
    "expired-primary+valid-subkey": "the key has expired on 2020-12-31",
    "offline+encryption-subkey-only": "the secret part of its signing key [0-9A-F]{16} is not in this GnuPG home",
}


@pytest.mark.gpg
@pytest.mark.parametrize("name", list(CASES))
def test_the_check_refuses_exactly_what_gpg_refuses(keys: tuple[GPGHome, dict[str, str]], name: str) -> None:
    home, named = keys
    key = named[name]
    try:
        gpg.sign(b"payload", key, gnupg_home=home.path)
        signed_error = None
    except SignatureError as exc:
        signed_error = exc
    assert (signed_error is None) == (CASES[name] is None), signed_error
    if CASES[name] is None:
        gpg.check_signing_key(key, gnupg_home=home.path)
        return
    with pytest.raises(SignatureError, match=CASES[name]) as refused:
        gpg.check_signing_key(key, gnupg_home=home.path)
    assert refused.value.code == "signature-create" and refused.value.hint
    # gpg's own failure says the same (it said "the key cannot sign" for a revoked subkey, and
    # for an expired subkey hinted at extending the primary key, which does not help).
    if not name.startswith("offline"):
        assert signed_error is not None and signed_error.message == refused.value.message


@pytest.mark.gpg
@pytest.mark.registry
def test_an_expired_signing_subkey_moves_no_tag(keys: tuple[GPGHome, dict[str, str]], tmp_path: Path,
                                                run_cli: Callable[..., Any], insecure_policy: Path,
                                                plain_registry: RegistryServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the check passed, the manifest PUT moved the tag, then gpg refused to sign."""
    home, named = keys
    monkeypatch.setenv("GNUPGHOME", home.path)
    write_dir(example_image(), str(tmp_path / "img"))
    result = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false",
                     "--sign-by", named["cert+expired-subkey"], f"dir:{tmp_path / 'img'}",
                     f"docker://{plain_registry.host}/review4/subkey:1")
    assert result.exit_code == 1, result.stderr
    assert registry_request(plain_registry.url, "review4/subkey/manifests/1", "HEAD")[0] == 404
    assert "has expired on 2020-12-31" in result.stderr and "SUBKEY-FINGERPRINT" in result.stderr, result.stderr


# -- Ctrl-C ------------------------------------------------------------------------------------

COMMANDS = [
    ["copy", "dir:/nonexistent/a", "dir:/nonexistent/b"],
    ["sync", "--src", "dir", "--dest", "dir", "/nonexistent/a", "/nonexistent/b"],
    ["verify", "dir:/nonexistent/a"],
    ["inspect", "dir:/nonexistent/a"],
    ["list-tags", "docker://example.invalid/a"],
    ["login", "example.invalid"],
    ["standalone-sign", "-o", "/nonexistent/s", "/nonexistent/m", "example.com/a:1", "0" * 40],
]


@pytest.mark.parametrize(("raised", "status", "said"), [(KeyboardInterrupt, 130, "interrupted"),
                                                        (EOFError, 1, "Aborted!")])
@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_an_interrupt_in_any_command_exits_130(args: list[str], raised: type[BaseException], status: int, said: str,
                                               run_cli: Callable[..., Any], insecure_policy: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command takes its global flags first (cli.common.global_options): interrupted there."""
    from trustcopy.cli import common

    def interrupted(_opts: object) -> None:
        raise raised

    monkeypatch.setattr(common, "_configure_logging", interrupted)
    result = run_cli("--policy", str(insecure_policy), *args)
    assert (result.exit_code, result.stderr.strip()) == (status, said)


@pytest.mark.parametrize(("raised", "status", "said"), [(KeyboardInterrupt, 130, "interrupted"),
                                                        (EOFError, 1, "Aborted!")])
def test_login_password_prompt(raised: type[BaseException], status: int, said: str, run_cli: Callable[..., Any],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C at the password prompt is an interruption; Ctrl-D (end of input) stays skopeo's 1."""
    def prompt(*_a: object, **_k: object) -> str:
        raise raised

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(getpass, "getpass", prompt)
    result = run_cli("login", "--username", "u", "127.0.0.1:9")
    assert result.exit_code == status, result.stderr
    assert result.stderr.strip().splitlines()[-1] == said


@pytest.mark.registry
def test_ctrl_c_during_a_stalled_sync_exits_130(tmp_path: Path, insecure_policy: Path,
                                                plain_registry: RegistryServer, fault_proxy: FaultProxy) -> None:
    """A sync (images in a thread pool) interrupted while a blob download is stalled."""
    push_image(plain_registry.host, "big:1", make_image([random_layer(1 << 20, 41)]), fast_sys())
    fault_proxy.rule = lambda m, p, h: Fault(stall=30.0) if m == "GET" and "/blobs/sha256:" in p else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "sync", "--src", "docker",
         "--dest", "dir", "--src-tls-verify=false", f"{fault_proxy.host}/big:1", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while fault_proxy.count("GET", "/blobs/sha256:") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=40)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Aborted!" not in err, err
    assert took < 10, took
    assert not any((tmp_path / "out").rglob("manifest.json"))

