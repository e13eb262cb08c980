"""A newcomer's signing mistakes: each GPG signing failure says what is wrong and what fixes it.

Found following the docs as a platform engineer (session 26): gpg reports an expired or a
revoked secret key only as "Unusable secret key" (``INV_SGNR 9``), which trustcopy printed
as "the key cannot sign" with a hint to give a passphrase, through an option ``copy`` does
not have; a wrong fingerprint or a user ID for ``--sign-by`` gave no way to the fingerprint.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from gpghelpers import GPGHome

from trustcopy.errors import SignatureError
from trustcopy.signature.gpg import sign

pytestmark = pytest.mark.gpg

PAYLOAD = b'{"critical":{},"optional":{}}'
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                                  "digest": "sha256:" + "c" * 64}, "layers": []}).encode()


def test_expired_key_is_named_expired_with_its_date_and_no_passphrase_hint(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Expired", expire="1y", faked_time="20200101T000000")  # expired on 2020-12-31
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert info.value.code == "signature-create"
    assert "the key has expired on 2020-12-3" in str(info.value)  # 30 or 31: gpg's year is 365 days
    assert info.value.hint is not None
    assert "passphrase" not in info.value.hint
    assert "--quick-set-expire" in info.value.hint


def test_revoked_key_is_named_revoked(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Revoked")
    home.revoke(fpr)
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert "the key has been revoked" in str(info.value)
    assert info.value.hint is not None and "passphrase" not in info.value.hint


def test_missing_passphrase_names_copys_option(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Protected", passphrase="s3cret-pass")
    # Forget the passphrase the agent cached when the key was made, so signing really needs one.
    subprocess.run(["gpgconf", "--homedir", home.path, "--kill", "gpg-agent"], capture_output=True, check=False)
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, fpr, gnupg_home=home.path)
    assert "needs a passphrase" in str(info.value)
    assert info.value.hint is not None
    assert "--sign-passphrase-file" in info.value.hint and "--passphrase-file (standalone-sign)" in info.value.hint


def test_cli_standalone_sign_with_an_expired_key_says_expired(new_home: Callable[[], GPGHome], tmp_path: Path,
                                                   run_cli: Callable[..., object],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = new_home()
    fpr = home.gen_key("Expired", expire="1y", faked_time="20200101T000000")
    monkeypatch.setenv("GNUPGHOME", home.path)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(MANIFEST)
    result = run_cli("standalone-sign", str(manifest), "registry.example.com/app:1", fpr, "-o",
                     str(tmp_path / "sig"))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "the key has expired" in err
    assert "passphrase" not in err
    assert not (tmp_path / "sig").exists()


def test_sign_by_user_id_hints_at_the_fingerprint(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    home.gen_key("CI signer <ci@example.com>")
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, "ci@example.com", gnupg_home=home.path)
    assert info.value.code == "invalid-fingerprint"
    assert info.value.hint is not None and "gpg --list-keys --with-colons" in info.value.hint


def test_unknown_fingerprint_hints_at_listing_the_home(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Signer")
    wrong = fpr[:-1] + ("0" if fpr[-1] != "0" else "1")
    with pytest.raises(SignatureError) as info:
        sign(PAYLOAD, wrong, gnupg_home=home.path)
    assert info.value.code == "signing-key-missing"
    assert home.path in str(info.value)
    assert info.value.hint is not None
    assert "gpg --list-secret-keys" in info.value.hint and "GNUPGHOME" in info.value.hint
