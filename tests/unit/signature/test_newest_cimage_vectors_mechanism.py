"""The newest containers/image mechanism vectors: mechanism_test.go (+ the gpgme/sequoia variants).

Restated against :class:`~trustcopy.signature.gpg.GPGKeyring` (real gpg) with the c/image
fixtures in tests/fixtures/signature (the newest tree's V4 and ``-v3`` variants). What the
older tests/integration/test_gpg_verify.py already pins (the reason of every fixture) is not
repeated; these rows add what the Go tables assert beyond accept/reject: the exact signed
content, the signing and primary fingerprints for both packet versions, the key listing of
keyrings built from several blobs, and what each failure returns (nothing).

Deliberate differences (each encoded narrowly below):
- c/i's ``NewEphemeralGPGSigningMechanism`` accepts key material holding no key (an empty
  blob, "This is invalid") and only its later ``Verify`` fails; trustcopy refuses to build
  such a keyring (code ``no-public-keys``). Both reject every signature; c/i's policy
  code rejects a key set without keys too ("No public keys imported").
- c/i's ``keyIdentities`` is a list (a key imported twice is listed twice); trustcopy's
  ``fingerprints`` is a set: the same keys, each once.
- Not applicable: ``newGPGSigningMechanismInDirectory`` (verification against a user's
  GNUPGHOME: trustcopy only ever verifies with the policy's keys, gpg.py's module
  docstring), ``UntrustedSignatureContents`` (it backs skopeo's hidden
  ``untrusted-signature-dump-without-verification``, which trustcopy does not offer), and
  ``SupportsSigning`` of the openpgp/sequoia builds. Signing and the cleartext form are
  covered by tests/integration/test_gpg_sign.py and test_gpg_newest_cleartext.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpghelpers import FIXTURES, INFO

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.signature.gpg import GPGKeyring

pytestmark = pytest.mark.gpg

NOT_JSON = b"This is not JSON\n"
SUBKEY_PAYLOAD = (
    b'{"critical":{"identity":{"docker-reference":"testing/manifest:latest"},"image":{"docker-manifest-digest":'
    b'"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"},'
    b'"type":"atomic container signature"},"optional":{}}'
)
#: The keys of c/i's ``./fixtures`` GNUPGHOME that these vectors verify with.
CI_KEYS = ["public-key.gpg", "public-key-with-subkey.gpg", "public-key-with-revoked-subkey.gpg"]


def _variants(name: str) -> list[str]:
    """c/i's fixtureVariants: the V4 fixture and its ``-v3`` twin."""
    return [name, name + "-v3"]


@pytest.fixture(scope="module")
def keyring() -> Iterator[GPGKeyring]:
    with GPGKeyring([(FIXTURES / name).read_bytes() for name in CI_KEYS]) as ring:
        yield ring


# --- TestGPGSigningMechanismVerify: successes -----------------------------------------------------


@pytest.mark.parametrize("name", _variants("invalid-blob.signature"))
def test_verify_returns_the_signed_content_and_the_signer(keyring: GPGKeyring, name: str) -> None:
    message = keyring.verify_message((FIXTURES / name).read_bytes())
    assert message.payload == NOT_JSON
    assert message.signing_key_fingerprint == INFO.TEST_KEY_FINGERPRINT
    assert message.primary_key_fingerprint == INFO.TEST_KEY_FINGERPRINT
    assert keyring.verify((FIXTURES / name).read_bytes()) == (NOT_JSON, INFO.TEST_KEY_FINGERPRINT)


@pytest.mark.parametrize("name", _variants("subkey.signature"))
def test_verify_by_a_subkey_names_the_subkey_and_maps_it_to_its_primary(keyring: GPGKeyring, name: str) -> None:
    # c/i: Verify returns the subkey; keyIdentityForVerificationKeyIdentity maps it to the primary.
    message = keyring.verify_message((FIXTURES / name).read_bytes())
    assert message.payload == SUBKEY_PAYLOAD
    assert message.signing_key_fingerprint == INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY
    assert message.primary_key_fingerprint == INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY
    # verify() reports the primary key, as c/i's callers see it after the lookup
    assert keyring.verify((FIXTURES / name).read_bytes())[1] == INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY


def test_key_identity_of_a_key_without_subkeys_is_itself(keyring: GPGKeyring) -> None:
    # TestGPGSigningMechanismKeyIdentityForVerificationKeyIdentity "A no-subkey key is mapped to itself"
    # (the primary→itself rows: the keyring lists primary keys only, never a subkey)
    assert keyring.fingerprints == {INFO.TEST_KEY_FINGERPRINT, INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY,
                                    INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY}
    assert INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY not in keyring.fingerprints
    assert INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_REVOKED_SUBKEY not in keyring.fingerprints


# --- TestGPGSigningMechanismVerify: failures return nothing -------------------------------------

FAILURES: dict[str, tuple[bytes | str, str]] = {
    # name: (blob or fixture, reason); c/i asserts only "an error, nil content, empty fingerprint".
    "empty": (b"", "INVALID_SIGNATURE"),
    "invalid-signature-text": (b"invalid signature", "INVALID_SIGNATURE"),
    "unsigned-literal": ("unsigned-literal.signature", "NOT_SIGNED"),
    "unsigned-encrypted": ("unsigned-encrypted.signature", "NOT_SIGNED"),
    "expired": ("expired.signature", "EXPIRED"),
    **{f"corrupt{v}": (f"corrupt.signature{v}", "INVALID_SIGNATURE") for v in ("", "-v3")},
    **{f"unknown-key{v}": (f"unknown-key.signature{v}", "UNKNOWN_KEY") for v in ("", "-v3")},
    **{f"subkey-revoked{v}": (f"subkey-revoked.signature{v}", "INVALID_SIGNATURE") for v in ("", "-v3")},
}


@pytest.mark.parametrize("name", list(FAILURES), ids=list(FAILURES))
def test_verify_failures_return_nothing(keyring: GPGKeyring, name: str) -> None:
    source, reason = FAILURES[name]
    blob = source if isinstance(source, bytes) else (FIXTURES / source).read_bytes()
    with pytest.raises(SignatureVerificationError) as info:  # raising: no content, no fingerprint
        keyring.verify_message(blob)
    assert info.value.reason == reason, info.value.message


# --- TestNewEphemeralGPGSigningMechanism ---------------------------------------------------------


@pytest.mark.parametrize("material", [[], [b""], [b"This is invalid"]], ids=["no-blob", "empty", "invalid"])
def test_key_material_without_keys_is_refused_when_built(material: list[bytes]) -> None:
    # Deliberate: c/i builds a mechanism with no keys (and its Verify then fails).
    with pytest.raises(SignatureError) as info:
        GPGKeyring(material)
    assert info.value.code == "no-public-keys"


@pytest.mark.parametrize("name", _variants("invalid-blob.signature"))
def test_a_key_imported_later_is_what_makes_the_signature_verify(name: str) -> None:
    blob = (FIXTURES / name).read_bytes()
    with GPGKeyring([(FIXTURES / "public-key-1.gpg").read_bytes()]) as ring:
        assert ring.fingerprints == {INFO.TEST_KEY_FINGERPRINT}
        assert ring.verify(blob) == (NOT_JSON, INFO.TEST_KEY_FINGERPRINT)
    with GPGKeyring([(FIXTURES / "public-key-2.gpg").read_bytes()]) as ring, \
            pytest.raises(SignatureVerificationError) as info:
        ring.verify(blob)  # another key only: the signer is unknown
    assert info.value.reason == "UNKNOWN_KEY"


@pytest.mark.parametrize(("fixture", "primary"), [
    ("public-key-with-subkey.gpg", INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY),
    ("public-key-with-revoked-subkey.gpg", INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY),
])
def test_import_of_a_key_with_a_subkey_lists_the_primary_only(fixture: str, primary: str) -> None:
    with GPGKeyring([(FIXTURES / fixture).read_bytes()]) as ring:
        assert ring.fingerprints == {primary}


def test_binary_keyring_concatenated_twice_lists_its_four_keys() -> None:
    # c/i lists each key twice (a list); trustcopy's fingerprints are a set of the same keys.
    data = (FIXTURES / "pubring.gpg").read_bytes()
    with GPGKeyring([data + data]) as ring:
        assert ring.fingerprints == {INFO.TEST_KEY_FINGERPRINT_WITH_PASSPHRASE, INFO.TEST_KEY_FINGERPRINT,
                                     INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY,
                                     INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY}


def test_two_armored_copies_of_one_key_in_one_blob() -> None:
    # c/i's comment: two ASCII-armored copies in one blob work with gpgme (not openpgp); gpg as gpgme.
    data = (FIXTURES / "public-key.gpg").read_bytes()
    with GPGKeyring([data + data]) as ring:
        assert ring.fingerprints == {INFO.TEST_KEY_FINGERPRINT}
        assert ring.verify((FIXTURES / "invalid-blob.signature").read_bytes())[1] == INFO.TEST_KEY_FINGERPRINT
