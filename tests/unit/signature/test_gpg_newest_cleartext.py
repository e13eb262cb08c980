"""Cleartext-signed ("-----BEGIN PGP SIGNED MESSAGE-----") simple signatures, as the newest containers/image.

containers-signature(5) says a blob must be a binary "Signed Message", yet the gpgme and
sequoia mechanisms have always verified cleartext signatures, and the newest
containers/image (container-libs, October 2025) pins that with tests: such a blob yields
the signed text and the signer's fingerprint. Fedora signs images this way. trustcopy
drives gpg as gpgme does, so it accepts them too (trustcopy/signature/gpg.py, NOTE(go-diff)
item 4); the pure-Go openpgp mechanism of the 5.23 oracle refuses them.

The same man page now also says a blob must not hold more than one signature packet:
a cleartext message signed by two keys is refused as MULTIPLE_SIGNATURES.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gpghelpers import GPGHome

from trustcopy.digest import Digest
from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.gpg import GPGKeyring
from trustcopy.signature.payload import build_simple_payload
from trustcopy.signature.standalone import standalone_verify

pytestmark = pytest.mark.gpg

MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
REFERENCE = "registry.example/fcos/coreos:stable"


def clearsign(home: GPGHome, data: bytes, *signers: str) -> bytes:
    """A cleartext signed message of ``data`` by every key in ``signers``."""
    users = [arg for key in signers for arg in ("--local-user", key)]
    return home.run(*users, "--clearsign", data=data).stdout


@pytest.fixture
def signer(new_home: Callable[[], GPGHome]) -> tuple[GPGHome, str]:
    """A home holding one ed25519 signing key."""
    home = new_home()
    return home, home.gen_key("Clear <clear@example.com>")


def test_cleartext_signature_yields_the_text_and_the_signer(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    text = b"Not a JSON document at all\n"
    blob = clearsign(home, text, fpr)
    assert blob.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
    with GPGKeyring([home.export(fpr)]) as keyring:
        assert keyring.verify(blob) == (text, fpr)


def test_cleartext_signed_image_signature_is_accepted_end_to_end(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    payload = build_simple_payload(Digest.from_bytes(MANIFEST), REFERENCE, creator="clear test", timestamp=1700000000)
    blob = clearsign(home, payload, fpr)
    verified = standalone_verify(MANIFEST, REFERENCE, [fpr], blob, public_keys=home.export(fpr))
    assert verified.key_fingerprint == fpr
    assert str(verified.docker_manifest_digest) == str(Digest.from_bytes(MANIFEST))
    assert verified.docker_reference == REFERENCE


def test_cleartext_with_an_edited_body_is_refused(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    payload = build_simple_payload(Digest.from_bytes(MANIFEST), REFERENCE, creator="clear test", timestamp=1)
    blob = clearsign(home, payload, fpr)
    forged = blob.replace(b"registry.example/fcos", b"registry.example/evil", 1)
    assert forged != blob
    with GPGKeyring([home.export(fpr)]) as keyring, pytest.raises(SignatureVerificationError) as info:
        keyring.verify(forged)
    assert info.value.reason == "INVALID_SIGNATURE"


def test_cleartext_signed_by_two_keys_is_refused(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    a, b = home.gen_key("A <a@example.com>"), home.gen_key("B <b@example.com>")
    blob = clearsign(home, b'{"x":1}\n', a, b)
    with GPGKeyring([home.export(a, b)]) as keyring, pytest.raises(SignatureVerificationError) as info:
        keyring.verify(blob)
    assert info.value.reason == "MULTIPLE_SIGNATURES"
