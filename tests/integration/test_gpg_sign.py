"""gpg.sign / export_public_keys against real gpg: key selection, passphrases, never prompting."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome

from trustcopy.errors import SignatureError
from trustcopy.signature.formats import SimpleSigning, signature_from_blob
from trustcopy.signature.gpg import GPGKeyring, export_public_keys, sign

pytestmark = pytest.mark.gpg

PAYLOAD = b'{"critical":{},"optional":{}}'


@pytest.fixture(scope="module")
def protected() -> Iterator[tuple[GPGHome, str]]:
    """One home with a passphrase-protected key ("pässwörd ✓"); generating one takes seconds."""
    home = GPGHome()
    try:
        yield home, home.gen_key("Protected", passphrase=PASSPHRASE)
    finally:
        home.close()


PASSPHRASE = "pässwörd ✓"


def verified_by(home: GPGHome, fpr: str, blob: bytes) -> tuple[bytes, str]:
    with GPGKeyring([home.export(fpr)]) as keyring:
        return keyring.verify(blob)


def test_sign_round_trip_binary_simple_signing(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Signer")
    blob = sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert isinstance(signature_from_blob(blob), SimpleSigning)  # binary, c/i-recognised first byte
    assert verified_by(home, fpr, blob) == (PAYLOAD, fpr)


def test_sign_uses_gnupghome_by_default(new_home: Callable[[], GPGHome], monkeypatch: pytest.MonkeyPatch) -> None:
    home = new_home()
    fpr = home.gen_key("Signer")
    monkeypatch.setenv("GNUPGHOME", home.path)
    assert verified_by(home, fpr, sign(PAYLOAD, fpr)) == (PAYLOAD, fpr)


def test_sign_picks_the_requested_key_not_the_default(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    first = home.gen_key("First")
    second = home.gen_key("Second")
    assert verified_by(home, second, sign(PAYLOAD, second, gnupg_home=home.path))[1] == second
    assert verified_by(home, first, sign(PAYLOAD, first.lower(), gnupg_home=home.path))[1] == first


def test_missing_key_never_falls_back_to_another_secret_key(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    home.gen_key("Only key")  # gpg --default-key would silently use this one
    missing = "0123456789ABCDEF0123456789ABCDEF01234567"
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, missing, gnupg_home=home.path)
    assert info.value.code == "signing-key-missing"
    assert missing in str(info.value)


def test_public_key_only_cannot_sign(new_home: Callable[[], GPGHome]) -> None:
    source, home = new_home(), new_home()
    fpr = source.gen_key("Elsewhere")
    home.import_keys(source.export(fpr))
    with pytest.raises(SignatureError, match="no secret key"):
        sign(PAYLOAD, fpr, gnupg_home=home.path)


@pytest.mark.parametrize("bad", ["Signer", "--default-key=x", "0x1234", "", "A" * 41, "12345678"])
def test_malformed_fingerprint_refused(new_home: Callable[[], GPGHome], bad: str) -> None:
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, bad, gnupg_home=new_home().path)
    assert info.value.code == "invalid-fingerprint"


def test_subkey_signs_for_primary(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    primary = home.gen_key("Primary", usage="cert")
    home.add_subkey(primary, usage="sign")
    assert verified_by(home, primary, sign(PAYLOAD, primary, gnupg_home=home.path)) == (PAYLOAD, primary)


def test_protected_key_with_utf8_passphrase(protected: tuple[GPGHome, str]) -> None:
    home, fpr = protected
    _restart_agent(home)
    blob = sign(PAYLOAD, fpr, gnupg_home=home.path, passphrase=PASSPHRASE)
    assert verified_by(home, fpr, blob) == (PAYLOAD, fpr)


def _restart_agent(home: GPGHome) -> None:
    """Forget cached passphrases, so that the next signing really needs one."""
    subprocess.run(["gpgconf", "--homedir", home.path, "--kill", "gpg-agent"], capture_output=True, check=False)


def test_wrong_passphrase_fails_and_is_never_shown(protected: tuple[GPGHome, str]) -> None:
    home, fpr = protected
    _restart_agent(home)
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path, passphrase="wrong-secret-value")
    assert "wrong-secret-value" not in info.value.diagnostics()
    assert "passphrase" in str(info.value).lower()


def test_missing_passphrase_fails_fast_without_prompting(protected: tuple[GPGHome, str]) -> None:
    home, fpr = protected
    _restart_agent(home)
    start = time.monotonic()
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert time.monotonic() - start < 20
    assert info.value.hint and "--passphrase-file" in info.value.hint


def test_passphrase_for_unprotected_key_is_not_signed_as_data(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Open")
    blob = sign(PAYLOAD, fpr, gnupg_home=home.path, passphrase="unused")
    assert verified_by(home, fpr, blob) == (PAYLOAD, fpr)


@pytest.mark.parametrize("passphrase", ["two\nlines", "carriage\rreturn"])
def test_passphrase_with_line_break_refused(new_home: Callable[[], GPGHome], passphrase: str) -> None:
    home = new_home()
    fpr = home.gen_key("Open")
    with pytest.raises(SignatureError, match="line break") as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path, passphrase=passphrase)
    assert passphrase not in str(info.value)


def test_users_gpg_conf_cannot_armor_or_textmode_the_signature(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Signer")
    (Path(home.path) / "gpg.conf").write_text("armor\ntextmode\n")
    blob = sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert not blob.startswith(b"-----BEGIN")
    assert isinstance(signature_from_blob(blob), SimpleSigning)
    assert verified_by(home, fpr, blob) == (PAYLOAD, fpr)


def test_export_public_keys_exports_only_the_named_keys(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    wanted, other = home.gen_key("Wanted"), home.gen_key("Other")
    material = export_public_keys([wanted], gnupg_home=home.path)
    with GPGKeyring([material]) as keyring:
        assert keyring.fingerprints == frozenset({wanted})
        assert other not in keyring.fingerprints


def test_export_of_unknown_keys_refused(new_home: Callable[[], GPGHome]) -> None:
    with pytest.raises(SignatureError) as info:
        export_public_keys(["0123456789ABCDEF0123456789ABCDEF01234567"], gnupg_home=new_home().path)
    assert info.value.code == "no-public-keys"


def _check_key_pair(directory: Path) -> None:
    """FINGERPRINT, pubring.gpg, public-key.asc and secret-key.asc describe one unprotected key."""
    fpr = (directory / "FINGERPRINT").read_text().strip()
    home = GPGHome()
    try:
        home.import_keys((directory / "secret-key.asc").read_bytes())
        blob = sign(PAYLOAD, fpr, gnupg_home=home.path)  # no passphrase needed
        for public in ("pubring.gpg", "public-key.asc"):
            with GPGKeyring([(directory / public).read_bytes()]) as keyring:
                assert keyring.fingerprints == frozenset({fpr})
                assert keyring.verify(blob) == (PAYLOAD, fpr)
    finally:
        home.close()


def test_keys_example_is_one_consistent_unprotected_demo_key() -> None:
    _check_key_pair(KEYS_EXAMPLE)
    assert "DEMO/TEST ONLY" in (KEYS_EXAMPLE / "README.md").read_text()


@pytest.mark.slow
def test_keys_example_regenerate_script(tmp_path: Path) -> None:
    script = tmp_path / "regenerate.sh"
    shutil.copy(KEYS_EXAMPLE / "regenerate.sh", script)
    subprocess.run(["sh", str(script)], check=True, capture_output=True, env={**os.environ, "TMPDIR": "/tmp"},
                   timeout=120)
    assert (tmp_path / "FINGERPRINT").read_text().strip() != (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
    _check_key_pair(tmp_path)


def test_create_signatures_signs_the_destination_manifest(new_home: Callable[[], GPGHome]) -> None:
    from trustcopy.copy.sign import create_signatures
    from trustcopy.digest import Digest
    from trustcopy.reference import parse_normalized_named
    from trustcopy.signature.formats import SimpleSigning
    from trustcopy.signature.payload import parse_simple_payload

    home = new_home()
    fpr = home.gen_key("Copy signer")
    manifest = b'{"schemaVersion": 2, "layers": []}'
    sigs = create_signatures(manifest, parse_normalized_named("quay.io/org/app:1"), sign_by=fpr, passphrase=None,
                             gnupg_home=home.path)
    assert len(sigs) == 1
    assert isinstance(sigs[0], SimpleSigning)
    payload, signer = verified_by(home, fpr, sigs[0].untrusted_blob)
    parsed = parse_simple_payload(payload)
    assert signer == fpr
    assert parsed.untrusted_docker_manifest_digest == Digest.from_bytes(manifest)
    assert parsed.untrusted_docker_reference == "quay.io/org/app:1"
