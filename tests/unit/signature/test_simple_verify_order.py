"""verify_simple_signing keeps c/i's order (crypto → key → payload → digest → identity), with a fake mechanism."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.formats import SimpleSigning
from trustcopy.signature.gpg import GPGKeyring
from trustcopy.signature.mechanism import SigningMechanism, VerifiedMessage
from trustcopy.signature.payload import build_simple_payload
from trustcopy.signature.simple import verify_simple_signing
from trustcopy.signature.verified import VerifiedSignature

PRIMARY = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36"
SUBKEY = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF"
OTHER = "0123456789ABCDEF0123456789ABCDEF01234567"
DIGEST = Digest.parse("sha256:" + "a" * 64)
REFERENCE = "docker.io/library/busybox:latest"
PAYLOAD = build_simple_payload(DIGEST, REFERENCE, creator="test", timestamp=7)


@dataclass
class FakeMechanism:
    """Returns a fixed result (or raises) and records calls."""

    payload: bytes = PAYLOAD
    signing: str = PRIMARY
    primary: str = PRIMARY
    error: Exception | None = None
    fingerprints: frozenset[str] = frozenset({PRIMARY})
    calls: list[str] = field(default_factory=list)

    def verify_message(self, message: bytes) -> VerifiedMessage:
        self.calls.append("crypto")
        if self.error:
            raise self.error
        return VerifiedMessage(self.payload, self.signing, self.primary)

    def verify(self, message: bytes) -> tuple[bytes, str]:
        m = self.verify_message(message)
        return m.payload, m.primary_key_fingerprint

    def close(self) -> None:
        pass


def run(mech: FakeMechanism, *, digest_ok: bool = True, identity_ok: bool = True,
        accepted: list[str] | None = None) -> VerifiedSignature:
    def check_digest(d: Digest) -> None:
        mech.calls.append("digest")
        if not digest_ok:
            raise SignatureVerificationError("digest", reason="DIGEST_MISMATCH")

    def check_identity(ref: str) -> None:
        mech.calls.append("identity")
        if not identity_ok:
            raise SignatureVerificationError("identity", reason="IDENTITY_MISMATCH")

    return verify_simple_signing(SimpleSigning(b"\xa3"), mech, validate_signed_docker_reference=check_identity,
                                 validate_signed_docker_manifest_digest=check_digest, accepted_fingerprints=accepted)


@pytest.mark.parametrize("impl", [FakeMechanism, GPGKeyring], ids=["fake", "gpg"])
def test_mechanisms_match_the_protocol_member_by_member(impl: type) -> None:
    """isinstance on a runtime_checkable Protocol only looks at names: compare signatures too.

    A change to SigningMechanism must then reach the real mechanism and this fake alike,
    or the fake would keep testing an interface that no longer exists.
    """
    members = {n: m for n, m in vars(SigningMechanism).items() if not n.startswith("_")}
    assert {"fingerprints", "verify_message", "verify", "close"} <= members.keys()
    for name, member in members.items():
        assert hasattr(impl, name), name
        if isinstance(member, property):
            continue
        want, got = inspect.signature(member), inspect.signature(getattr(impl, name))
        assert list(got.parameters) == list(want.parameters), name
        assert got.return_annotation == want.return_annotation, name
    if impl is FakeMechanism:
        assert isinstance(FakeMechanism(), SigningMechanism)


def test_all_steps_pass_in_order() -> None:
    mech = FakeMechanism()
    verified = run(mech)
    assert mech.calls == ["crypto", "digest", "identity"]
    assert (verified.docker_manifest_digest, verified.docker_reference, verified.key_fingerprint) == (
        DIGEST, REFERENCE, PRIMARY)
    assert (verified.timestamp, verified.creator) == (7, "test")


def test_crypto_failure_stops_before_any_callback() -> None:
    mech = FakeMechanism(error=SignatureVerificationError("bad", reason="INVALID_SIGNATURE"))
    with pytest.raises(SignatureVerificationError, match="bad"):
        run(mech)
    assert mech.calls == ["crypto"]


def test_untrusted_signer_rejected_before_payload_is_parsed() -> None:
    mech = FakeMechanism(payload=b"not json", signing=OTHER, primary=OTHER)
    with pytest.raises(SignatureVerificationError) as info:
        run(mech)
    assert info.value.reason == "UNTRUSTED_KEY"
    assert info.value.context["key_fingerprint"] == OTHER
    assert mech.calls == ["crypto"]


def test_invalid_payload_rejected_before_callbacks() -> None:
    mech = FakeMechanism(payload=b"This is not JSON\n")
    with pytest.raises(SignatureVerificationError) as info:
        run(mech)
    assert info.value.reason == "INVALID_PAYLOAD"
    assert info.value.context["key_fingerprint"] == PRIMARY
    assert mech.calls == ["crypto"]


def test_signature_for_other_digest_rejected_before_identity_is_checked() -> None:
    mech = FakeMechanism()
    with pytest.raises(SignatureVerificationError) as info:
        run(mech, digest_ok=False)
    assert info.value.reason == "DIGEST_MISMATCH"
    assert info.value.context["key_fingerprint"] == PRIMARY  # the trace names the signer
    assert mech.calls == ["crypto", "digest"]


def test_signature_for_other_identity_rejected() -> None:
    mech = FakeMechanism()
    with pytest.raises(SignatureVerificationError) as info:
        run(mech, identity_ok=False)
    assert info.value.reason == "IDENTITY_MISMATCH"
    assert mech.calls == ["crypto", "digest", "identity"]


def test_subkey_signature_counts_as_trusted_primary() -> None:
    verified = run(FakeMechanism(signing=SUBKEY, primary=PRIMARY))
    assert verified.key_fingerprint == PRIMARY


def test_subkey_signature_rejected_when_primary_not_accepted() -> None:
    with pytest.raises(SignatureVerificationError, match=f"{SUBKEY} of {PRIMARY} is not accepted"):
        run(FakeMechanism(signing=SUBKEY, primary=PRIMARY), accepted=[OTHER])


def test_explicitly_accepted_subkey_is_reported_as_itself() -> None:
    # c/i: the signing key's own fingerprint is checked first.
    verified = run(FakeMechanism(signing=SUBKEY, primary=PRIMARY), accepted=[SUBKEY])
    assert verified.key_fingerprint == SUBKEY


def test_fingerprints_compare_exactly_so_lower_case_does_not_match() -> None:
    with pytest.raises(SignatureVerificationError) as info:
        run(FakeMechanism(), accepted=[PRIMARY.lower()])
    assert info.value.reason == "UNTRUSTED_KEY"


def test_keyring_key_outside_accepted_list_is_refused() -> None:
    with pytest.raises(SignatureVerificationError):
        run(FakeMechanism(), accepted=[])


def test_non_simple_signature_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        verify_simple_signing(b"\xa3", FakeMechanism(), validate_signed_docker_reference=print,  # type: ignore[arg-type]
                              validate_signed_docker_manifest_digest=print)
