"""GPGKeyring against real gpg: every rejection reason, made by gpg itself in throw-away homes.

Each attack gets its own test, named after it. The keyring under test only ever holds
keys exported from a separate "signer" home, as a policy's keyPath would.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Callable, Iterator

import gnupg
import pytest
from gpghelpers import FIXTURES, INFO, GPGHome, agents_running_in

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.signature.gpg import GPGKeyring, KeyringCache

pytestmark = pytest.mark.gpg

PAYLOAD = b'{"critical":{"identity":{"docker-reference":"docker.io/library/busybox:latest"}},"optional":{}}'


@pytest.fixture
def signer(new_home: Callable[[], GPGHome]) -> tuple[GPGHome, str]:
    """A home holding one ed25519 signing key (no passphrase)."""
    home = new_home()
    return home, home.gen_key("Signer <signer@example.com>")


def reject(keyring: GPGKeyring, message: bytes, reason: str) -> SignatureVerificationError:
    with pytest.raises(SignatureVerificationError) as info:
        keyring.verify(message)
    assert info.value.reason == reason, str(info.value)
    return info.value


# --- accepted -------------------------------------------------------------------------------------


def test_valid_signature_returns_payload_and_fingerprint(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    with GPGKeyring([home.export(fpr)]) as keyring:
        assert keyring.fingerprints == frozenset({fpr})
        assert keyring.verify(home.sign(PAYLOAD, fpr)) == (PAYLOAD, fpr)


def test_armored_and_binary_keys_in_several_blobs(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    a, b = home.gen_key("A"), home.gen_key("B")
    with GPGKeyring([home.export(a, armor=True), home.export(b)]) as keyring:
        assert keyring.fingerprints == frozenset({a, b})
        assert keyring.verify(home.sign(PAYLOAD, b))[1] == b


def test_subkey_signature_counts_as_its_primary_key(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    primary = home.gen_key("Primary", usage="cert")
    subkey = home.add_subkey(primary, usage="sign")
    with GPGKeyring([home.export(primary)]) as keyring:
        assert keyring.fingerprints == frozenset({primary})  # subkeys never count as separate keys
        message = keyring.verify_message(home.sign(PAYLOAD, primary))
        assert (message.signing_key_fingerprint, message.primary_key_fingerprint) == (subkey, primary)


def test_text_mode_signature_accepted(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    with GPGKeyring([home.export(fpr)]) as keyring:
        assert keyring.verify(home.sign(PAYLOAD, fpr, extra=["--textmode"]))[1] == fpr


# --- rejected: every reason ------------------------------------------------------------------------


def test_literal_message_made_with_gpg_store_is_not_signed(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, home.store(PAYLOAD), "NOT_SIGNED")


def test_encrypted_message_rejected(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Enc")
    home.add_subkey(fpr, algo="cv25519", usage="encr")
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, home.encrypt(PAYLOAD, fpr), "NOT_SIGNED")


def test_signed_then_encrypted_message_rejected(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Enc")
    home.add_subkey(fpr, algo="cv25519", usage="encr")
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, home.encrypt(PAYLOAD, fpr, sign_with=fpr), "NOT_SIGNED")


def test_symmetrically_encrypted_message_rejected_without_prompting(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    message = home.run("--passphrase", "pw", "--symmetric", data=PAYLOAD).stdout
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, message, "NOT_SIGNED")
        assert not agents_running_in(keyring.home)


def test_signature_by_unknown_key_rejected(signer: tuple[GPGHome, str], new_home: Callable[[], GPGHome]) -> None:
    home, fpr = signer
    stranger = new_home()
    other = stranger.gen_key("Stranger")
    with GPGKeyring([home.export(fpr)]) as keyring:
        err = reject(keyring, stranger.sign(PAYLOAD, other), "UNKNOWN_KEY")
        assert err.context["key_id"] == other[-16:]


def test_keys_in_the_users_keyring_are_not_trusted(signer: tuple[GPGHome, str], new_home: Callable[[], GPGHome],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    user_home, user_key = signer  # the signing key is in the user's own keyring …
    monkeypatch.setenv("GNUPGHOME", user_home.path)
    policy_home = new_home()
    policy_key = policy_home.gen_key("Policy key")
    with GPGKeyring([policy_home.export(policy_key)]) as keyring:  # … but the policy names another key
        assert keyring.home != user_home.path
        reject(keyring, user_home.sign(PAYLOAD, user_key), "UNKNOWN_KEY")


def test_tampered_payload_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    message = bytearray(home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"]))
    at = message.find(b"busybox")
    assert at > 0
    message[at] = ord("B")
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, bytes(message), "INVALID_SIGNATURE")


def test_tampered_signature_packet_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    message = bytearray(home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"]))
    message[-5] ^= 0x01
    with GPGKeyring([home.export(fpr)]) as keyring, pytest.raises(SignatureVerificationError) as info:
        keyring.verify(bytes(message))
    assert info.value.reason in {"INVALID_SIGNATURE", "UNKNOWN_KEY"}


def test_expired_signature_rejected(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Old", faked_time="20200101T000000")
    message = home.sign(PAYLOAD, fpr, extra=["--default-sig-expire", "1d"], faked_time="20200102T000000")
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, message, "EXPIRED")


def test_expired_key_rejected_although_gpg_exits_zero(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    fpr = home.gen_key("Expiring", expire="2020-06-01", faked_time="20200101T000000")
    message = home.sign(PAYLOAD, fpr, faked_time="20200102T000000")
    with GPGKeyring([home.export(fpr)]) as keyring:
        err = reject(keyring, message, "EXPIRED")
        assert "key has expired" in str(err)


def test_revoked_key_rejected_although_gpg_exits_zero(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    message = home.sign(PAYLOAD, fpr)
    with GPGKeyring([home.revoke(fpr)]) as keyring:
        assert "revoked" in str(reject(keyring, message, "INVALID_SIGNATURE"))


def test_double_signature_by_two_trusted_keys_rejected(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    a, b = home.gen_key("A"), home.gen_key("B")
    with GPGKeyring([home.export(a, b)]) as keyring:
        reject(keyring, home.sign(PAYLOAD, a, b), "MULTIPLE_SIGNATURES")


def test_double_signature_with_one_unknown_key_rejected(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    a, b = home.gen_key("A"), home.gen_key("B")
    with GPGKeyring([home.export(a)]) as keyring:
        reject(keyring, home.sign(PAYLOAD, a, b), "MULTIPLE_SIGNATURES")


def test_two_concatenated_signed_messages_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    other = b'{"critical":{"identity":{"docker-reference":"docker.io/evil/image:latest"}}}'
    with GPGKeyring([home.export(fpr)]) as keyring:
        reject(keyring, home.sign(PAYLOAD, fpr) + home.sign(other, fpr), "MULTIPLE_SIGNATURES")


def test_signed_message_followed_by_literal_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    with GPGKeyring([home.export(fpr)]) as keyring, pytest.raises(SignatureVerificationError):
        keyring.verify(home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"]) + home.store(b"evil"))


def _in_compressed_packet(inner: bytes, trailing: bytes) -> bytes:
    """``inner`` deflated into an old-format compressed packet, with ``trailing`` after the stream's end."""
    deflate = zlib.compressobj(wbits=-15)
    return b"\xa3\x01" + deflate.compress(inner) + deflate.flush() + trailing


def test_damaged_message_is_reported_as_altered_not_as_two_messages(signer: tuple[GPGHome, str]) -> None:
    """A damaged deflate stream often ends early, leaving random bytes after it: gpg's BADSIG says why."""
    home, fpr = signer
    inner = home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"])
    altered = inner.replace(b"busybox", b"busyboy")
    assert altered != inner
    with GPGKeyring([home.export(fpr)]) as keyring:
        error = reject(keyring, _in_compressed_packet(altered, b"\xff\x12junk"), "INVALID_SIGNATURE")
        assert "altered" in str(error)


def test_junk_after_a_good_message_in_its_compressed_packet_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    inner = home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"])
    with GPGKeyring([home.export(fpr)]) as keyring:
        assert keyring.verify(_in_compressed_packet(inner, b""))[0] == PAYLOAD
        error = reject(keyring, _in_compressed_packet(inner, b"\xff\x12junk"), "INVALID_SIGNATURE")
        assert "6 bytes follow the signed message" in str(error)


def test_second_message_hidden_in_the_compressed_packet_rejected(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    other = b'{"critical":{"identity":{"docker-reference":"docker.io/evil/image:latest"}}}'
    inner = home.sign(PAYLOAD, fpr, extra=["--compress-algo", "none"])
    with GPGKeyring([home.export(fpr)]) as keyring:
        error = reject(keyring, _in_compressed_packet(inner, home.sign(other, fpr)), "MULTIPLE_SIGNATURES")
        assert "a second signed message" in str(error)


def test_compression_bomb_rejected_with_bounded_output(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    bomb = home.sign(b"a" * (64 << 20), fpr, extra=["--compress-level", "9"])
    assert len(bomb) < 1 << 20
    with GPGKeyring([home.export(fpr)]) as keyring, pytest.raises(SignatureVerificationError):
        keyring.verify(bomb)


@pytest.mark.parametrize("blob", [b"", b"garbage", b"\xa3\x01\x00\x00"], ids=["empty", "text", "truncated"])
def test_not_an_openpgp_message_rejected(signer: tuple[GPGHome, str], blob: bytes) -> None:
    home, fpr = signer
    with GPGKeyring([home.export(fpr)]) as keyring, pytest.raises(SignatureVerificationError) as info:
        keyring.verify(blob)
    assert info.value.reason in {"INVALID_SIGNATURE", "NOT_SIGNED"}


# --- the c/image fixtures -----------------------------------------------------------------------

CI_KEYS = ["public-key.gpg", "public-key-with-subkey.gpg", "public-key-with-revoked-subkey.gpg"]
CI_VECTORS = {
    "image.signature": None,
    "no-optional-fields.signature": None,
    "invalid-blob.signature": None,  # valid crypto; the payload is refused later
    "invalid-blob.signature-v3": None,
    "subkey.signature": None,
    "subkey.signature-v3": None,
    "expired.signature": "EXPIRED",
    "corrupt.signature": "INVALID_SIGNATURE",
    "corrupt.signature-v3": "INVALID_SIGNATURE",
    "unknown-key.signature": "UNKNOWN_KEY",
    "unknown-key.signature-v3": "UNKNOWN_KEY",
    "unsigned-literal.signature": "NOT_SIGNED",
    "unsigned-encrypted.signature": "NOT_SIGNED",
    "subkey-revoked.signature": "INVALID_SIGNATURE",
    "subkey-revoked.signature-v3": "INVALID_SIGNATURE",
    "double.signature": "MULTIPLE_SIGNATURES",  # c/image would accept it: gpg ignores the second copy
}


@pytest.fixture(scope="module")
def ci_keyring() -> Iterator[GPGKeyring]:
    with GPGKeyring([(FIXTURES / name).read_bytes() for name in CI_KEYS]) as keyring:
        yield keyring


@pytest.mark.parametrize("name", list(CI_VECTORS), ids=list(CI_VECTORS))
def test_c_image_fixture(ci_keyring: GPGKeyring, name: str) -> None:
    blob = (FIXTURES / name).read_bytes()
    if CI_VECTORS[name] is None:
        payload, fingerprint = ci_keyring.verify(blob)
        assert fingerprint in ci_keyring.fingerprints
        assert payload
    else:
        reject(ci_keyring, blob, CI_VECTORS[name])


def test_c_image_keyrings_list_primary_fingerprints() -> None:
    with GPGKeyring([(FIXTURES / "pubring.gpg").read_bytes()]) as keyring:
        assert keyring.fingerprints == {INFO.TEST_KEY_FINGERPRINT, INFO.TEST_KEY_FINGERPRINT_WITH_PASSPHRASE,
                                        INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY,
                                        INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY}
    with GPGKeyring([(FIXTURES / "public-key-1.gpg").read_bytes(), (FIXTURES / "public-key-2.gpg").read_bytes()]) as k:
        assert k.fingerprints == {INFO.TEST_KEY_FINGERPRINT, INFO.TEST_KEY_FINGERPRINT_WITH_PASSPHRASE}


def test_c_image_subkey_signature_names_both_keys(ci_keyring: GPGKeyring) -> None:
    message = ci_keyring.verify_message((FIXTURES / "subkey.signature").read_bytes())
    assert message.signing_key_fingerprint == INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY
    assert message.primary_key_fingerprint == INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY


# --- the private home ---------------------------------------------------------------------------


def test_key_material_without_keys_refused() -> None:
    with pytest.raises(SignatureError) as info:
        GPGKeyring([b"This is invalid"])
    assert info.value.code == "no-public-keys"


def test_home_is_private_removed_on_close_and_starts_no_agent(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    keyring = GPGKeyring([home.export(fpr)])
    path = keyring.home
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    keyring.verify(home.sign(PAYLOAD, fpr))
    assert not agents_running_in(path)
    keyring.close()
    keyring.close()  # idempotent
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError):
        keyring.verify(b"")


def test_secret_key_material_imports_only_the_public_part(signer: tuple[GPGHome, str]) -> None:
    home, fpr = signer
    with GPGKeyring([home.export_secret(fpr)]) as keyring:
        assert keyring.fingerprints == frozenset({fpr})
        assert not agents_running_in(keyring.home)


def test_cache_imports_each_key_set_once(signer: tuple[GPGHome, str], monkeypatch: pytest.MonkeyPatch) -> None:
    home, fpr = signer
    imports = []
    original = gnupg.GPG.import_keys
    monkeypatch.setattr(gnupg.GPG, "import_keys", lambda self, *a, **k: imports.append(1) or original(self, *a, **k))
    key = home.export(fpr)
    messages = [home.sign(PAYLOAD + str(i).encode(), fpr) for i in range(20)]
    with KeyringCache() as cache:
        for message in messages:
            assert cache.get([key]).verify(message)[1] == fpr
        assert cache.get([key, key]) is cache.get([key])  # same set, same home
        assert len(imports) == 1 and len(cache) == 1
        keyring = cache.get([key])
    assert keyring.closed


def test_cache_keeps_distinct_key_sets_apart(new_home: Callable[[], GPGHome]) -> None:
    home = new_home()
    a, b = home.gen_key("A"), home.gen_key("B")
    with KeyringCache() as cache:
        only_a, only_b = cache.get([home.export(a)]), cache.get([home.export(b)])
        assert only_a is not only_b and only_a.home != only_b.home
        reject(only_a, home.sign(PAYLOAD, b), "UNKNOWN_KEY")
        homes = [only_a.home, only_b.home]
    assert not any(os.path.exists(path) for path in homes)
    with pytest.raises(RuntimeError):
        cache.get([home.export(a)])
