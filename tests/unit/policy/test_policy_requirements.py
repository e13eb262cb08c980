"""Requirement combinations: all must allow; a signature needs one accepting requirement.

Signatures are built by the tests (policy_fakes): the real verify_simple_signing runs,
with a fake OpenPGP layer. Each case names the attack or situation it covers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from policy_fakes import (
    DIGEST,
    FPR_A,
    FPR_B,
    FPR_EVIL,
    OTHER_DIGEST,
    FakeEnv,
    FakeKeysContext,
    FakeRef,
    docker_image,
    fake_sig,
    sigstore_blob,
)

from trustcopy.errors import PolicyRejected
from trustcopy.policy import (
    ExactReference,
    ExactRepository,
    InsecureAcceptAnything,
    MatchExact,
    MatchRepository,
    Policy,
    Reject,
    RemapIdentity,
    Requirement,
    SignedBaseLayer,
    SignedBy,
    SigstoreSigned,
)
from trustcopy.policy.verdict import Verdict

IMG = "quay.io/ns/app:1"
FULL = "quay.io/ns/app:1"
SB_A = SignedBy(key_path="/keys/a.gpg")
SB_B = SignedBy(key_path="/keys/b.gpg")
SB_A_REPO = SignedBy(key_path="/keys/a.gpg", signed_identity=MatchRepository())
ACCEPT = InsecureAcceptAnything()
REJECT = Reject()


def evaluate(reqs: Sequence[Requirement], sigs: Sequence[bytes], *, image: str = IMG,
             require_signed: bool = False) -> Verdict:
    policy = Policy(default=(REJECT,), transports={"docker": {"quay.io/ns": tuple(reqs)}})
    with FakeKeysContext(policy, require_signed=require_signed) as pc:
        return pc.evaluate(docker_image(image, sigs))


# (id, requirements, signatures, allowed, reason, message fragment)
CASES = [
    ("accept-anything-unsigned", [ACCEPT], [], True, "ALLOWED", ""),
    ("reject-rejects-even-signed", [REJECT], [fake_sig(FULL)], False, "SCOPE_REJECT",
     "Running image docker://quay.io/ns/app:1 is rejected by policy."),
    ("signed-by-valid", [SB_A], [fake_sig(FULL)], True, "ALLOWED", ""),
    ("unsigned-image-rejected", [SB_A], [], False, "NO_SIGNATURES",
     "A signature was required, but no signature exists"),
    ("signature-by-untrusted-key-rejected", [SB_A], [fake_sig(FULL, key=FPR_EVIL)], False, "UNKNOWN_KEY",
     "is not trusted"),
    ("signature-by-other-trusted-key-of-another-requirement-rejected", [SB_B], [fake_sig(FULL, key=FPR_A)], False,
     "UNKNOWN_KEY", ""),
    ("signature-for-other-digest-rejected", [SB_A], [fake_sig(FULL, OTHER_DIGEST)], False, "DIGEST_MISMATCH",
     f"Signature for digest {OTHER_DIGEST} does not match"),
    ("signature-for-other-tag-rejected", [SB_A], [fake_sig("quay.io/ns/app:2")], False, "IDENTITY_MISMATCH",
     'Signature for identity "quay.io/ns/app:2" is not accepted'),
    ("signature-for-other-repository-rejected", [SB_A_REPO], [fake_sig("quay.io/ns/evil:1")], False,
     "IDENTITY_MISMATCH", "not in repository quay.io/ns/app"),
    ("match-repository-accepts-other-tag", [SB_A_REPO], [fake_sig("quay.io/ns/app:2")], True, "ALLOWED", ""),
    ("short-name-identity-is-normalized", [SB_A], [fake_sig("quay.io/ns/app:1")], True, "ALLOWED", ""),
    ("corrupt-crypto-rejected", [SB_A], [fake_sig(FULL, fail="INVALID_SIGNATURE")], False, "INVALID_SIGNATURE", ""),
    ("expired-signature-rejected", [SB_A], [fake_sig(FULL, fail="EXPIRED")], False, "EXPIRED", ""),
    ("one-good-signature-is-enough", [SB_A], [fake_sig(FULL, key=FPR_EVIL), fake_sig(FULL)], True, "ALLOWED", ""),
    ("all-bad-signatures-listed", [SB_A], [fake_sig(FULL, key=FPR_EVIL), fake_sig(FULL, OTHER_DIGEST)], False,
     "SIGNATURES_REJECTED", "None of the signatures were accepted, reasons: signature 1: "),
    ("same-reason-kept", [SB_A], [fake_sig(FULL, key=FPR_EVIL), fake_sig(FULL, key=FPR_B)], False, "UNKNOWN_KEY",
     "None of the signatures were accepted"),
    ("every-requirement-must-allow", [SB_A, SB_B], [fake_sig(FULL)], False, "UNKNOWN_KEY", ""),
    ("two-signers-both-present", [SB_A, SB_B], [fake_sig(FULL), fake_sig(FULL, key=FPR_B)], True, "ALLOWED", ""),
    ("signed-plus-reject-rejects", [SB_A, REJECT], [fake_sig(FULL)], False, "SCOPE_REJECT", ""),
    ("reject-plus-accept-rejects", [REJECT, ACCEPT], [], False, "SCOPE_REJECT", ""),
    ("signed-plus-accept-anything-needs-signature", [ACCEPT, SB_A], [], False, "NO_SIGNATURES", ""),
    ("key-file-missing-rejects", [SignedBy(key_path="/keys/missing.gpg")], [fake_sig(FULL)], False,
     "KEY_LOAD_FAILED", "cannot read key file"),
    ("key-file-without-keys-rejects", [SignedBy(key_path="/keys/empty.gpg")], [fake_sig(FULL)], False,
     "KEY_LOAD_FAILED", "No public keys imported"),
    ("key-paths-union", [SignedBy(key_paths=("/keys/b.gpg", "/keys/a.gpg"))], [fake_sig(FULL)], True, "ALLOWED", ""),
    ("key-type-signed-by-gpg-keys-rejects-valid-signature",
     [SignedBy(key_type="signedByGPGKeys", key_path="/keys/a.gpg")], [fake_sig(FULL)], False, "NOT_IMPLEMENTED",
     'Unimplemented "keyType" value "signedByGPGKeys"'),
    ("key-type-x509-without-signatures", [SignedBy(key_type="X509Certificates", key_path="/keys/a.gpg")], [],
     False, "NO_SIGNATURES", "A signature was required, but no signature exists"),
    ("base-layer-never-implemented", [SignedBaseLayer()], [fake_sig(FULL)], False, "NOT_IMPLEMENTED",
     "signedBaseLayer not implemented yet!"),
    ("garbage-blob-beside-valid-signature-rejects", [SB_A], [b"\x01garbage", fake_sig(FULL)], False,
     "UNSUPPORTED_FORMAT", "signature 1 (fake/signature-1) cannot be parsed"),
    ("sigstore-only-signed-by-sees-none", [SB_A], [sigstore_blob()], False, "NO_SIGNATURES", ""),
    ("sigstore-requirement-ignores-simple-signing", [SigstoreSigned(key_path="/c.pub")], [fake_sig(FULL)], False,
     "NO_SIGNATURES", "(1 non-sigstore signatures, 0 sigstore non-signature attachments)"),
    ("sigstore-other-attachment-skipped", [SigstoreSigned(key_path="/c.pub")], [sigstore_blob("text/plain")], False,
     "NO_SIGNATURES", "(0 non-sigstore signatures, 1 sigstore non-signature attachments)"),
    ("sigstore-without-signature-annotation-rejects", [SigstoreSigned(key_path="/c.pub")], [sigstore_blob()], False,
     "INVALID_SIGNATURE", "missing dev.cosignproject.cosign/signature annotation"),
    ("exact-reference-for-mirror", [SignedBy(key_path="/keys/a.gpg",
                                             signed_identity=ExactReference("vendor.io/app:1"))],
     [fake_sig("vendor.io/app:1")], True, "ALLOWED", ""),
    ("remap-mirror-to-vendor", [SignedBy(key_path="/keys/a.gpg",
                                         signed_identity=RemapIdentity("quay.io/ns", "vendor.io/prod"))],
     [fake_sig("vendor.io/prod/app:1")], True, "ALLOWED", ""),
    ("remap-rejects-mirror-identity", [SignedBy(key_path="/keys/a.gpg",
                                                signed_identity=RemapIdentity("quay.io/ns", "vendor.io/prod"))],
     [fake_sig(FULL)], False, "IDENTITY_MISMATCH", "remapped to vendor.io/prod/app:1"),
]


@pytest.mark.parametrize(("reqs", "sigs", "allowed", "reason", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_requirement_combinations(reqs: list[Requirement], sigs: list[bytes], allowed: bool, reason: str,
                                  fragment: str) -> None:
    verdict = evaluate(reqs, sigs)
    assert verdict.allowed is allowed, verdict.summary()
    assert verdict.reason == reason, verdict.summary()
    assert fragment in verdict.message
    assert len(verdict.requirements) == len(reqs)
    assert verdict.scope_label == 'transports.docker["quay.io/ns"]'


def test_digest_reference_accepts_signature_for_any_tag_of_repository() -> None:
    verdict = evaluate([SB_A], [fake_sig("quay.io/ns/app:7")], image=f"quay.io/ns/app@{DIGEST}")
    assert verdict.allowed, verdict.summary()


def test_digest_reference_rejects_signature_for_other_repository() -> None:
    verdict = evaluate([SB_A], [fake_sig("quay.io/ns/other:7")], image=f"quay.io/ns/app@{DIGEST}")
    assert verdict.reason == "IDENTITY_MISMATCH"


def test_require_signed_refuses_accept_anything() -> None:
    verdict = evaluate([ACCEPT], [], require_signed=True)
    assert not verdict.allowed
    assert verdict.reason == "REQUIRE_SIGNED"
    assert verdict.message == "No signature verification policy found for image docker:quay.io/ns/app:1"


def test_require_signed_accepts_verified_signature() -> None:
    verdict = evaluate([ACCEPT, SB_A], [fake_sig(FULL)], require_signed=True)
    assert verdict.allowed and verdict.signature_verified


def test_require_signed_is_not_satisfied_by_base_layer_or_reject() -> None:
    assert evaluate([SignedBaseLayer()], [], require_signed=True).reason == "NOT_IMPLEMENTED"


def test_signature_trace_names_key_and_claimed_versus_expected_identity() -> None:
    verdict = evaluate([SB_A], [fake_sig("quay.io/ns/app:2"), fake_sig(FULL, key=FPR_EVIL)])
    first, second = verdict.requirements[0].signatures
    assert (first.index, first.status, first.reason) == (1, "rejected", "IDENTITY_MISMATCH")
    assert first.key_fingerprint == FPR_A
    assert first.claimed_identity == "quay.io/ns/app:2"
    assert first.claimed_digest == str(DIGEST)
    assert first.expected_identity == "exactly quay.io/ns/app:1 (matchRepoDigestOrExact)"
    assert (second.index, second.reason, second.claimed_identity) == (2, "UNKNOWN_KEY", None)


def test_verified_signature_in_trace() -> None:
    verdict = evaluate([SB_A], [fake_sig(FULL)])
    sig = verdict.requirements[0].signatures[0]
    assert sig.verified and sig.status == "accepted" and sig.key_fingerprint == FPR_A
    assert verdict.requirements[0].path == 'transports.docker["quay.io/ns"][0]'


def test_check_raises_with_skopeo_phrases_scope_and_requirement() -> None:
    policy = Policy(default=(REJECT,), transports={"docker": {"quay.io/ns": (ACCEPT, SB_A)}})
    with FakeKeysContext(policy) as pc, pytest.raises(PolicyRejected) as exc:
        pc.check(docker_image(IMG))
    message = str(exc.value)
    assert message.startswith("Source image rejected: A signature was required, but no signature exists")
    assert 'scope transports.docker["quay.io/ns"]' in message
    assert 'requirement transports.docker["quay.io/ns"][1]: signedBy (keys: /keys/a.gpg' in message
    assert "reason NO_SIGNATURES" in message
    assert exc.value.verdict.reason == "NO_SIGNATURES"
    assert exc.value.code == "policy-rejected"


def test_check_returns_verdict_when_allowed() -> None:
    policy = Policy(default=(ACCEPT,))
    with FakeKeysContext(policy) as pc:
        assert pc.check(docker_image(IMG)).allowed


def test_default_reject_message_matches_skopeo() -> None:
    with FakeKeysContext(Policy(default=(REJECT,))) as pc, pytest.raises(PolicyRejected) as exc:
        pc.check(docker_image("busybox"))
    assert str(exc.value).startswith(
        "Source image rejected: Running image docker://busybox:latest is rejected by policy. (scope default "
        "(the policy has no transports.docker section);"
    )


def test_accept_anything_and_reject_never_read_the_image() -> None:
    for reqs in ([ACCEPT], [REJECT], [REJECT, ACCEPT]):
        policy = Policy(default=tuple(reqs))
        image = docker_image(IMG, [fake_sig(FULL)], forbid_reads=True)
        with FakeKeysContext(policy) as pc:
            pc.evaluate(image)
        assert image.reads == []


@pytest.mark.parametrize("matcher", [MatchExact(), MatchRepository(), RemapIdentity("docker.io", "quay.io")],
                         ids=lambda m: m.type_name)
def test_dir_image_needs_exact_identity_matchers(matcher: object) -> None:
    from policy_fakes import FakeImage

    ref = FakeRef(None, transport="dir", identity="/srv/img", namespaces=["/srv"], name="/srv/img")
    req = SignedBy(key_path="/keys/a.gpg", signed_identity=matcher)  # type: ignore[arg-type]
    result = req.is_image_allowed(FakeImage(ref, [fake_sig(FULL)]), FakeEnv())
    assert not result.allowed
    assert result.reason == "IDENTITY_MISMATCH"
    assert "use exactReference or exactRepository" in result.message
    good = SignedBy(key_path="/keys/a.gpg", signed_identity=ExactRepository("quay.io/ns/app"))
    assert good.is_image_allowed(FakeImage(ref, [fake_sig(FULL)]), FakeEnv()).allowed


def test_reject_is_signature_message() -> None:
    result = REJECT.is_signature_accepted(docker_image(IMG), fake_sig(FULL), FakeEnv())
    assert result.message == "Any signatures for image docker://quay.io/ns/app:1 are rejected by policy."


def _documented_verdict_json() -> dict[str, object]:
    """The first JSON example under "Verdict JSON" in docs/policy.md."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "policy.md").read_text()
    section = doc[doc.index("## Verdict JSON"):]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_verdict_json_is_documented_shape() -> None:
    data = evaluate([SB_A], [fake_sig("quay.io/ns/app:2")]).to_json()
    assert data["schemaVersion"] == 1
    assert data["allowed"] is False
    assert data["scope"] == {
        "transport": "docker", "identity": "quay.io/ns/app:1", "matched": "quay.io/ns", "kind": "namespace",
        "label": 'transports.docker["quay.io/ns"]',
        "overridden": ["default"],
        "tried": ["quay.io/ns/app:1", "quay.io/ns/app", "quay.io/ns", "quay.io", "*.io", ""],
    }
    sig = data["requirements"][0]["signatures"][0]
    documented: dict = _documented_verdict_json()  # type: ignore[type-arg]
    assert set(sig) == set(documented["requirements"][0]["signatures"][0])
    assert set(data["requirements"][0]) == set(documented["requirements"][0])
    # The single-image form adds "digest" (copy/evaluate.py), the verdict has every other key.
    assert set(data) | {"digest"} == set(documented)
    assert sig["location"] == "fake/signature-1"
    assert data["failedRequirement"] == 0
