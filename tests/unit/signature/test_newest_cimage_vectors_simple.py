"""The newest containers/image simple-signing vectors: simple_test.go and docker_test.go, with real gpg.

Restated through :func:`~trustcopy.signature.simple.verify_simple_signing` (c/i's
``verifyAndExtractSignature``) with the c/image fixtures of tests/fixtures/signature and a
recording pair of callbacks like c/i's ``setupRecording``: each row checks the outcome, the
error class (reason) and exactly which callbacks saw which values. Signing rows
(TestNewUntrustedSignature, TestSign, TestSignDockerManifest) use a key generated here, since
c/i's secret keyring is not a fixture we keep.

Already covered elsewhere, not repeated: the payload marshal/unmarshal tables
(tests/unit/signature/test_payload.py, test_signature_cimage_vectors.py), the
VerifyImageManifestSignatureUsingKeyIdentityList table (test_signature_cimage_vectors.py,
``STANDALONE``; VerifyDockerManifestSignature is its one-fingerprint case), the passphrase rows
of TestSignDockerManifestWithPassphrase (tests/integration/test_gpg_sign.py: a passphrase with a
line break, a wrong one, none, a right one, all through the same ``gpg.sign``).

Deliberate differences (encoded narrowly):
- ``reference#@!`` (TestSign's and TestUnmarshalJSON's reference) is signed as given, but a
  payload claiming it is refused as INVALID_PAYLOAD when verified; c/i leaves it to the
  identity rules, which all reject it (trustcopy/signature/payload.py's docstring).
- The creator trustcopy writes is ``trustcopy VERSION`` (c/i: ``atomic VERSION``).
- Not applicable: GetUntrustedSignatureInformationWithoutVerifying (skopeo's hidden
  ``untrusted-signature-dump-without-verification``; trustcopy does not offer it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from gpghelpers import FIXTURES, INFO, GPGHome

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, SignatureError, SignatureVerificationError
from trustcopy.reasons import Reason
from trustcopy.signature.formats import SimpleSigning
from trustcopy.signature.gpg import GPGKeyring
from trustcopy.signature.payload import parse_simple_payload
from trustcopy.signature.simple import CREATOR, sign_simple_signing, verify_simple_signing
from trustcopy.signature.standalone import standalone_sign, standalone_verify
from trustcopy.signature.verified import VerifiedSignature

pytestmark = pytest.mark.gpg

CI_KEYS = ["public-key.gpg", "public-key-with-subkey.gpg", "public-key-with-revoked-subkey.gpg"]
IMAGE_DATA = (INFO.TEST_IMAGE_SIGNATURE_REFERENCE, INFO.TEST_IMAGE_MANIFEST_DIGEST)
SUBKEY_DATA = (INFO.TEST_SUBKEY_SIGNATURE_REFERENCE, INFO.TEST_IMAGE_MANIFEST_DIGEST)
OTHER = "some other fingerprint"


@pytest.fixture(scope="module")
def keyring() -> Iterator[GPGKeyring]:
    with GPGKeyring([(FIXTURES / name).read_bytes() for name in CI_KEYS]) as ring:
        yield ring


class Recording:
    """c/i's setupRecording: the callbacks record what they saw and reject anything but ``wanted``."""

    def __init__(self, wanted: tuple[str, str]) -> None:
        self.wanted = wanted
        self.reference: str | None = None
        self.digest: str | None = None

    def check_reference(self, value: str) -> None:
        self.reference = value
        if value != self.wanted[0]:
            raise SignatureVerificationError("signedDockerReference mismatch", reason=Reason.IDENTITY_MISMATCH)

    def check_digest(self, value: Digest) -> None:
        self.digest = str(value)
        if str(value) != self.wanted[1]:
            raise SignatureVerificationError("signedDockerManifestDigest mismatch", reason=Reason.DIGEST_MISMATCH)

    @property
    def recorded(self) -> tuple[str | None, str | None]:
        return self.reference, self.digest


def _verify(ring: GPGKeyring, blob: bytes, rec: Recording, accepted: list[str]) -> VerifiedSignature:
    return verify_simple_signing(SimpleSigning(blob), ring, validate_signed_docker_reference=rec.check_reference,
                                 validate_signed_docker_manifest_digest=rec.check_digest,
                                 accepted_fingerprints=accepted)


# --- TestVerifyAndExtractSignature ----------------------------------------------------------------


@pytest.mark.parametrize("accepted", [[INFO.TEST_KEY_FINGERPRINT], [INFO.TEST_KEY_FINGERPRINT, OTHER],
                                      [OTHER, INFO.TEST_KEY_FINGERPRINT]], ids=["only", "first", "second"])
def test_verify_and_extract_success(keyring: GPGKeyring, accepted: list[str]) -> None:
    rec = Recording(IMAGE_DATA)
    verified = _verify(keyring, (FIXTURES / "image.signature").read_bytes(), rec, accepted)
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == IMAGE_DATA
    assert verified.key_fingerprint == INFO.TEST_KEY_FINGERPRINT
    assert rec.recorded == IMAGE_DATA


def test_verify_and_extract_success_using_a_subkey(keyring: GPGKeyring) -> None:
    rec = Recording(SUBKEY_DATA)
    verified = _verify(keyring, (FIXTURES / "subkey.signature").read_bytes(), rec,
                       [INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY])
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == SUBKEY_DATA
    assert verified.key_fingerprint == INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY
    assert rec.recorded == SUBKEY_DATA


NOTHING = (None, None)
VERIFY_FAILURES: dict[str, tuple[bytes | str, tuple[str, str], list[str], str, tuple[str | None, str | None]]] = {
    # name: (blob or fixture, wanted, accepted fingerprints, reason, what the callbacks recorded)
    "empty": (b"", IMAGE_DATA, [INFO.TEST_KEY_FINGERPRINT], "INVALID_SIGNATURE", NOTHING),
    "invalid-signature": (b"invalid signature", IMAGE_DATA, [INFO.TEST_KEY_FINGERPRINT], "INVALID_SIGNATURE",
                          NOTHING),
    "no-key-accepted": ("image.signature", IMAGE_DATA, [], "UNTRUSTED_KEY", NOTHING),
    "revoked-subkey": ("subkey-revoked.signature", SUBKEY_DATA, [INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY],
                       "INVALID_SIGNATURE", NOTHING),
    "non-json": ("invalid-blob.signature", IMAGE_DATA, [INFO.TEST_KEY_FINGERPRINT], "INVALID_PAYLOAD", NOTHING),
    "wrong-key": ("image.signature", IMAGE_DATA, ["unexpected fingerprint"], "UNTRUSTED_KEY", NOTHING),
    "wrong-digest": ("image.signature", (IMAGE_DATA[0], "invalid digest"), [INFO.TEST_KEY_FINGERPRINT],
                     "DIGEST_MISMATCH", (None, IMAGE_DATA[1])),
    "wrong-reference": ("image.signature", ("unexpected docker reference", IMAGE_DATA[1]), [INFO.TEST_KEY_FINGERPRINT],
                        "IDENTITY_MISMATCH", IMAGE_DATA),
}


@pytest.mark.parametrize("name", list(VERIFY_FAILURES), ids=list(VERIFY_FAILURES))
def test_verify_and_extract_failure(keyring: GPGKeyring, name: str) -> None:
    source, wanted, accepted, reason, recorded = VERIFY_FAILURES[name]
    blob = source if isinstance(source, bytes) else (FIXTURES / source).read_bytes()
    rec = Recording(wanted)
    with pytest.raises(SignatureVerificationError) as info:
        _verify(keyring, blob, rec, accepted)
    assert info.value.reason == reason, info.value.message
    assert rec.recorded == recorded


# --- TestNewUntrustedSignature, TestSign (a key generated here) ----------------------------------


@pytest.fixture(scope="module")
def signer() -> Iterator[tuple[GPGHome, str]]:
    home = GPGHome()
    try:
        yield home, home.gen_key("c/i vectors <vectors@example.com>")
    finally:
        home.close()


def test_new_signature_claims_creator_and_the_time_of_signing(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    manifest = (FIXTURES / "image.manifest.json").read_bytes()
    before = int(time.time())
    blob = sign_simple_signing(manifest, INFO.TEST_IMAGE_SIGNATURE_REFERENCE, fpr, gnupg_home=home.path)
    after = int(time.time())
    with GPGKeyring([home.export(fpr)]) as ring:
        payload = parse_simple_payload(ring.verify(blob)[0])
    assert str(payload.untrusted_docker_manifest_digest) == INFO.TEST_IMAGE_MANIFEST_DIGEST
    assert payload.untrusted_docker_reference == INFO.TEST_IMAGE_SIGNATURE_REFERENCE
    assert payload.untrusted_creator_id == CREATOR  # deliberate: c/i writes "atomic VERSION"
    assert payload.untrusted_timestamp is not None and before <= payload.untrusted_timestamp <= after


def test_sign_then_verify_and_extract(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    manifest = (FIXTURES / "image.manifest.json").read_bytes()
    reference = "example.com/ns/image:tag"
    blob = sign_simple_signing(manifest, reference, fpr, gnupg_home=home.path)
    rec = Recording((reference, INFO.TEST_IMAGE_MANIFEST_DIGEST))
    with GPGKeyring([home.export(fpr)]) as ring:
        verified = _verify(ring, blob, rec, [fpr])
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == rec.wanted
    assert verified.key_fingerprint == fpr
    assert rec.recorded == rec.wanted


def test_signed_invalid_reference_is_refused_when_verified(signer: tuple[GPGHome, str]) -> None:
    # TestSign signs "reference#@!" and verifies it with an exact-string rule; deliberately different.
    home, fpr = signer
    blob = sign_simple_signing(b"{}", "reference#@!", fpr, gnupg_home=home.path)
    rec = Recording(("reference#@!", str(Digest.from_bytes(b"{}"))))
    with GPGKeyring([home.export(fpr)]) as ring, pytest.raises(SignatureVerificationError) as info:
        _verify(ring, blob, rec, [fpr])
    assert info.value.reason == "INVALID_PAYLOAD"
    assert rec.recorded == NOTHING


@pytest.mark.parametrize(("reference", "fingerprint"), [("", None), (INFO.TEST_IMAGE_SIGNATURE_REFERENCE, "bad")],
                         ids=["error-creating-blob-to-sign", "error-signing"])
def test_sign_errors(signer: tuple[GPGHome, str], reference: str, fingerprint: str | None) -> None:
    home, fpr = signer
    unknown = {"bad": "this fingerprint doesn't exist", None: fpr}[fingerprint]
    with pytest.raises(SignatureError):
        sign_simple_signing(b"{}", reference, unknown, gnupg_home=home.path)


# --- TestSignDockerManifest ------------------------------------------------------------------------


def test_sign_docker_manifest_then_verify(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    manifest = (FIXTURES / "image.manifest.json").read_bytes()
    blob = standalone_sign(manifest, INFO.TEST_IMAGE_SIGNATURE_REFERENCE, fpr, gnupg_home=home.path)
    verified = standalone_verify(manifest, INFO.TEST_IMAGE_SIGNATURE_REFERENCE, [fpr], blob,
                                 public_keys=home.export(fpr))
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == IMAGE_DATA
    assert verified.key_fingerprint == fpr


SIGN_DOCKER_FAILURES: dict[str, tuple[str, str, Callable[[str], str], type[Exception], str | None]] = {
    # name: (manifest fixture, reference, fingerprint from the key's, error class, error code)
    "error-computing-docker-manifest": ("v2s1-invalid-signatures.manifest.json", INFO.TEST_IMAGE_SIGNATURE_REFERENCE,
                                        lambda f: f, ManifestError, None),
    "error-creating-blob-to-sign": ("image.manifest.json", "", lambda f: f, SignatureError, "invalid-reference"),
    "error-signing": ("image.manifest.json", INFO.TEST_IMAGE_SIGNATURE_REFERENCE,
                      lambda f: "this fingerprint doesn't exist", SignatureError, None),
}


@pytest.mark.parametrize("name", list(SIGN_DOCKER_FAILURES), ids=list(SIGN_DOCKER_FAILURES))
def test_sign_docker_manifest_errors(signer: tuple[GPGHome, str], name: str) -> None:
    home, fpr = signer
    manifest_name, reference, fingerprint, error, code = SIGN_DOCKER_FAILURES[name]
    with pytest.raises(error) as info:
        standalone_sign((FIXTURES / manifest_name).read_bytes(), reference, fingerprint(fpr), gnupg_home=home.path)
    if code is not None:
        assert info.value.code == code  # type: ignore[attr-defined]


# --- VerifyImageManifestSignatureUsingKeyIdentityList with subkeys (verifyAndExtractSignature's lookup) ---

SUBKEY_LISTS = {
    # accepted list: the key identity c/i returns (the signing key when listed, else its primary)
    "primary": ([INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY], INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY),
    "subkey": ([INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY], INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY),
    "primary-and-subkey": (
        [INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY, INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY],
        INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY,
    ),
}


@pytest.mark.parametrize("name", list(SUBKEY_LISTS), ids=list(SUBKEY_LISTS))
@pytest.mark.parametrize("variant", ["", "-v3"])
def test_key_identity_list_with_a_subkey_signature(name: str, variant: str) -> None:
    accepted, identity = SUBKEY_LISTS[name]
    verified = standalone_verify((FIXTURES / "image.manifest.json").read_bytes(), INFO.TEST_SUBKEY_SIGNATURE_REFERENCE,
                                 accepted, (FIXTURES / f"subkey.signature{variant}").read_bytes(),
                                 public_keys=(FIXTURES / "public-key-with-subkey.gpg").read_bytes())
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == SUBKEY_DATA
    assert verified.key_fingerprint == identity


@pytest.mark.parametrize("accepted", [[INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY],
                                      [INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_REVOKED_SUBKEY]],
                         ids=["primary", "subkey"])
def test_key_identity_list_with_a_revoked_subkey_signature(accepted: list[str]) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        standalone_verify((FIXTURES / "image.manifest.json").read_bytes(), INFO.TEST_SUBKEY_SIGNATURE_REFERENCE,
                          accepted, (FIXTURES / "subkey-revoked.signature").read_bytes(),
                          public_keys=(FIXTURES / "public-key-with-revoked-subkey.gpg").read_bytes())
    assert info.value.reason == "INVALID_SIGNATURE"
