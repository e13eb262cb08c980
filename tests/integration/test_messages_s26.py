"""Messages a CI gate can act on (session 26): ``standalone-verify`` naming who a signature claims as signer.

When none of the expected keys can be found (not in the user's keyring, or a key file holding
no key), verification cannot even start; the message must still say which key the signature
*claims* to be by (gpg reports the issuer from the signature packet without verifying it), so
the user sees at once whether the fingerprint list or the keyring is wrong. skopeo 1.9.3 is
run on the same files: same exit status (1) and the same first words (``Error verifying
signature:``), and it names the claimed fingerprint too (inside a gpgme struct dump).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpghelpers import FIXTURES, GPGHome

pytestmark = [pytest.mark.gpg, pytest.mark.skopeo]

ROOT = Path(__file__).resolve().parents[2]
ABSENT = "0123456789ABCDEF0123456789ABCDEF01234567"  # a fingerprint that is in no keyring


class _Keys:
    """A signer's home (key A) and a user's home holding only another key (B)."""

    def __init__(self) -> None:
        self.signer, self.user = GPGHome(), GPGHome()
        self.a = self.signer.gen_key("Signer A <a@example.com>")
        self.b = self.user.gen_key("Other B <b@example.com>")

    def close(self) -> None:
        self.signer.close()
        self.user.close()


@pytest.fixture(scope="module")
def keys() -> Iterator[_Keys]:
    k = _Keys()
    try:
        yield k
    finally:
        k.close()


def _run(tool: str, home: GPGHome, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    env = {**home.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def signed_by_a(keys: _Keys, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """manifest.json and its signature by A (who is in no verifier's keyring)."""
    tmp = tmp_path_factory.mktemp("s26")
    manifest, sig = tmp / "manifest.json", tmp / "manifest.sig"
    manifest.write_bytes((FIXTURES / "image.manifest.json").read_bytes())
    result = _run("trustcopy", keys.signer, "standalone-sign", str(manifest), "busybox:latest", keys.a,
                  "-o", str(sig))
    assert result.returncode == 0, result.stderr
    return manifest, sig


def _skopeo_message(stderr: str) -> str:
    """The msg="…" of skopeo's fatal log line."""
    return stderr.split('msg="', 1)[1]


@pytest.mark.parametrize(("home_keys", "fingerprints"), [
    ("B", ABSENT), ("B", f"{ABSENT},{ABSENT[::-1]}"), ("none", ABSENT)])
def test_unknown_signer_is_named_as_a_claim_when_no_expected_key_is_in_the_keyring(
        keys: _Keys, signed_by_a: tuple[Path, Path], home_keys: str, fingerprints: str) -> None:
    """Signer A is in no keyring and not expected; no expected key is in the user's keyring either.

    Before: ``Error verifying signature: none of the keys … is in HOME`` (nothing about A).
    """
    manifest, sig = signed_by_a
    empty = GPGHome()
    try:
        home = keys.user if home_keys == "B" else empty
        results = {tool: _run(tool, home, "standalone-verify", str(manifest), "busybox:latest", fingerprints,
                              str(sig)) for tool in ("skopeo", "trustcopy")}
    finally:
        empty.close()
    for tool, result in results.items():
        assert result.returncode == 1, (tool, result.stderr)
        assert result.stdout == "", tool
    assert _skopeo_message(results["skopeo"].stderr).startswith("Error verifying signature: ")
    assert keys.a in results["skopeo"].stderr  # skopeo names the claimed fingerprint (gpgme's struct)
    ours = results["trustcopy"].stderr
    first = ours.splitlines()[0]
    assert first.startswith("error[no-public-keys]: Error verifying signature: "), ours
    assert f"none of the keys {fingerprints.replace(',', ', ')} is in {home.path}" in first
    assert f"the signature claims to be signed by key {keys.a} (key ID {keys.a[-16:]})" in first
    assert "unverified" in first


def test_signer_in_the_keyring_but_not_expected_is_named_too(keys: _Keys, signed_by_a: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    """skopeo says ``Signature by A does not match expected fingerprint B``: we name A as well."""
    manifest, sig = signed_by_a
    home = GPGHome()
    try:
        home.import_keys(keys.signer.export(keys.a))
        results = {tool: _run(tool, home, "standalone-verify", str(manifest), "busybox:latest", keys.b, str(sig))
                   for tool in ("skopeo", "trustcopy")}
    finally:
        home.close()
    assert {tool: r.returncode for tool, r in results.items()} == {"skopeo": 1, "trustcopy": 1}
    assert _skopeo_message(results["skopeo"].stderr).startswith(f"Error verifying signature: Signature by {keys.a}")
    first = results["trustcopy"].stderr.splitlines()[0]
    assert first.startswith("error[no-public-keys]: Error verifying signature: none of the keys "), first
    assert f"claims to be signed by key {keys.a}" in first


def test_key_file_without_keys_names_the_claimed_signer(keys: _Keys, signed_by_a: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    """``--public-key-file`` holding no key (skopeo 1.9.3 has no such flag): the claim is named all the same."""
    manifest, sig = signed_by_a
    key_file = tmp_path / "not-keys.gpg"
    key_file.write_bytes(b"this is not an OpenPGP key\n")
    result = _run("trustcopy", keys.user, "standalone-verify", "--public-key-file", str(key_file), str(manifest),
                  "busybox:latest", keys.b, str(sig))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[no-public-keys]: Error verifying signature: no public keys could be imported")
    assert f"(public key file {key_file})" in first
    assert f"claims to be signed by key {keys.a} (key ID {keys.a[-16:]})" in first


def test_garbage_signature_with_no_expected_key_adds_no_claim(keys: _Keys, signed_by_a: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    """Nothing is claimed when the file is no signature: the message stays as it was, no invented signer."""
    manifest, _sig = signed_by_a
    garbage = tmp_path / "garbage.sig"
    garbage.write_bytes(b"not a signature at all")
    result = _run("trustcopy", keys.user, "standalone-verify", str(manifest), "busybox:latest", ABSENT, str(garbage))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[no-public-keys]: Error verifying signature: none of the keys "), first
    assert "claims" not in first


def test_verify_explains_a_one_requirement_rejection_without_repeating_its_reason(tmp_path: Path) -> None:
    """The explanation printed the deciding requirement's long reason twice (as the verdict's reason, and
    again under the requirement); the second time it now points to the first."""
    import json

    from imagefactory import example_image, write_dir

    write_dir(example_image(), str(tmp_path / "img"))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"dir": {"": [
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(FIXTURES / "public-key.gpg")}]}}}))
    done = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(policy), "verify",
                           f"dir:{tmp_path / 'img'}"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.count("A signature was required, but no signature exists") == 1, done.stderr
    assert "(the reason above)" in done.stderr
    assert "FAIL transports.dir[\"\"][0]: signedBy" in done.stderr


def test_copy_refused_by_a_reject_scope_sends_no_request(tmp_path: Path) -> None:
    """A scope of ``reject`` only refuses from the reference alone, as sync already did: copy read the
    source manifest first (a registry nobody can reach cost three retries, then a network error
    instead of the policy's refusal)."""
    import json
    import socket

    with socket.socket() as s:  # a port nothing listens on: any request would fail as a network error
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}]}))
    done = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy",
                           f"docker://127.0.0.1:{port}/team/app:1", f"dir:{tmp_path / 'out'}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error[policy-rejected]: Source image rejected: Running image "
                                  f"docker://127.0.0.1:{port}/team/app:1 is rejected by policy."), done.stderr
    assert "SCOPE_REJECT" in done.stderr and "pinging" not in done.stderr
    assert not (tmp_path / "out").exists()
