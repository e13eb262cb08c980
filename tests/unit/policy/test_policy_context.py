"""PolicyContext: lifecycle, accepted_signatures consistency rules, and real GPG keyrings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from policy_fakes import FPR_A, FakeKeysContext, docker_image, fake_sig, sigstore_blob

from trustcopy.image.unparsed import UnparsedImage
from trustcopy.policy import (
    ExactRepository,
    ImageResult,
    InsecureAcceptAnything,
    Policy,
    PolicyContext,
    Reject,
    Requirement,
    SignedBy,
    SigResult,
    SigStatus,
)
from trustcopy.policy.model import SignatureInfo
from trustcopy.signature.formats import stored_signature
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "signature"
IMG = "quay.io/ns/app:1"


@dataclass(frozen=True)
class Scripted(Requirement):
    """A requirement answering every signature question with a fixed, possibly inconsistent, result."""

    type_name: ClassVar[str] = "scripted"
    answer: str = "unknown"

    def is_image_allowed(self, image: Any, env: Any) -> ImageResult:
        return ImageResult(True, "ALLOWED", "scripted")

    def is_signature_accepted(self, image: Any, sig: Any, env: Any) -> SigResult:
        real = SignedBy(key_path="/keys/a.gpg").is_signature_accepted(image, sig, env)
        other = SignedBy(key_path="/keys/a.gpg").is_signature_accepted(
            docker_image("quay.io/ns/app:1", [fake_sig("quay.io/ns/app:1")]),
            stored_signature(fake_sig("quay.io/ns/app:1")), env
        )
        return {
            "accepted": real,
            "accepted-without-payload": SigResult(SigStatus.ACCEPTED, "SIGNATURE_VERIFIED", "ok"),
            "accepted-other-payload": SigResult(SigStatus.ACCEPTED, "SIGNATURE_VERIFIED", "ok",
                                                signature=_with_other_timestamp(other.signature)),
            "unknown": SigResult(SigStatus.UNKNOWN),
            "unknown-with-error": SigResult(SigStatus.UNKNOWN, "INVALID_SIGNATURE", "broken"),
            "rejected": SigResult(SigStatus.REJECTED, "SCOPE_REJECT", "no", info=SignatureInfo(1)),
        }[self.answer]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type_name}


def _with_other_timestamp(sig: Any) -> Any:
    from trustcopy.signature.verified import _issue

    return _issue(docker_manifest_digest=sig.docker_manifest_digest, docker_reference="quay.io/ns/other:1",
                  key_fingerprint=sig.key_fingerprint, timestamp=sig.timestamp, creator=sig.creator)


@pytest.mark.parametrize(
    ("answers", "accepted"),
    [
        (["accepted"], 1),
        (["accepted", "accepted"], 1),
        (["accepted", "unknown"], 1),
        (["unknown", "accepted"], 1),
        (["accepted", "rejected"], 0),
        (["rejected", "accepted"], 0),
        (["unknown"], 0),
        (["unknown", "unknown"], 0),
        # impossible answers reject the signature (fail closed)
        (["accepted-without-payload"], 0),
        (["accepted", "accepted-without-payload"], 0),
        (["accepted", "accepted-other-payload"], 0),
        (["accepted", "unknown-with-error"], 0),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, list) else str(v),
)
def test_accepted_signatures_needs_one_accept_and_no_reject(answers: list[str], accepted: int) -> None:
    policy = Policy(default=tuple(Scripted(a) for a in answers))
    with FakeKeysContext(policy) as pc:
        sigs = pc.accepted_signatures(docker_image(IMG, [fake_sig(IMG)]))
    assert len(sigs) == accepted
    if accepted:
        assert sigs[0].key_fingerprint == FPR_A


def test_accepted_signatures_skips_sigstore_and_garbage() -> None:
    policy = Policy(default=(SignedBy(key_path="/keys/a.gpg"),))
    with FakeKeysContext(policy) as pc:
        sigs = pc.accepted_signatures(docker_image(IMG, [sigstore_blob(), b"\x01junk", fake_sig(IMG)]))
    assert [s.docker_reference for s in sigs] == [IMG]


def test_insecure_accept_anything_accepts_no_signature() -> None:
    with FakeKeysContext(Policy(default=(InsecureAcceptAnything(),))) as pc:
        assert pc.accepted_signatures(docker_image(IMG, [fake_sig(IMG)])) == []


def test_inconsistent_image_result_is_not_allowed() -> None:
    @dataclass(frozen=True)
    class Truthy(Requirement):
        type_name: ClassVar[str] = "truthy"

        def is_image_allowed(self, image: Any, env: Any) -> ImageResult:
            return ImageResult("yes", "ALLOWED", "a non-bool is not an allowance")  # type: ignore[arg-type]

        def is_signature_accepted(self, image: Any, blob: bytes, env: Any) -> SigResult:
            return SigResult(SigStatus.UNKNOWN)

        def to_json(self) -> dict[str, Any]:
            return {}

    with FakeKeysContext(Policy(default=(Truthy(),))) as pc:
        assert not pc.evaluate(docker_image(IMG)).allowed


def test_context_cannot_be_used_after_close() -> None:
    pc = PolicyContext(Policy(default=(Reject(),)))
    with pc:
        pc.evaluate(docker_image(IMG))
    with pytest.raises(RuntimeError, match="after close"):
        pc.evaluate(docker_image(IMG))
    pc.close()  # idempotent


def test_context_needs_a_policy() -> None:
    with pytest.raises(TypeError):
        PolicyContext({"default": [{"type": "reject"}]})  # type: ignore[arg-type]


# --- real gpg: c/i's signature fixtures through the dir: transport ----------------------


def _dir_image(root: Path, signatures: list[bytes], manifest: bytes | None = None) -> Path:
    root.mkdir()
    (root / "version").write_text("Directory Transport Version: 1.1\n")
    (root / "manifest.json").write_bytes(manifest or (FIXTURES / "image.manifest.json").read_bytes())
    for i, sig in enumerate(signatures, start=1):
        (root / f"signature-{i}").write_bytes(sig)
    return root


def _evaluate_dir(path: Path, requirement: Requirement) -> Any:
    ref = parse_image_name(f"dir:{path}")
    with PolicyContext(Policy(default=(requirement,))) as pc, ref.new_image_source(SystemContext()) as src:
        return pc.evaluate(UnparsedImage(src))


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


GPG_CASES = [
    ("valid", ["image.signature"], None, True, "ALLOWED"),
    ("mixed-invalid-then-valid", ["unknown-key.signature", "image.signature"], None, True, "ALLOWED"),
    ("unknown-key", ["unknown-key.signature"], None, False, "UNKNOWN_KEY"),
    ("expired", ["expired.signature"], None, False, "EXPIRED"),
    ("corrupt", ["corrupt.signature"], None, False, "INVALID_SIGNATURE"),
    ("unsigned-literal", ["unsigned-literal.signature"], None, False, "NOT_SIGNED"),
    ("double", ["double.signature"], None, False, "MULTIPLE_SIGNATURES"),
    ("modified-manifest", ["image.signature"], b'{"schemaVersion":2,"modified":true}', False, "DIGEST_MISMATCH"),
    ("unsigned", [], None, False, "NO_SIGNATURES"),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("sigs", "manifest", "allowed", "reason"), [c[1:] for c in GPG_CASES],
                         ids=[c[0] for c in GPG_CASES])
def test_real_gpg_signatures(tmp_path: Path, sigs: list[str], manifest: bytes | None, allowed: bool,
                             reason: str) -> None:
    path = _dir_image(tmp_path / "img", [_fixture(s) for s in sigs], manifest)
    req = SignedBy(key_path=str(FIXTURES / "public-key.gpg"), signed_identity=ExactRepository("testing/manifest"))
    verdict = _evaluate_dir(path, req)
    assert verdict.allowed is allowed, verdict.summary()
    assert verdict.reason == reason, verdict.summary()


@pytest.mark.gpg
def test_real_gpg_key_data_and_wrong_key(tmp_path: Path) -> None:
    path = _dir_image(tmp_path / "img", [_fixture("image.signature")])
    inline = SignedBy(key_data=_fixture("public-key.gpg"), signed_identity=ExactRepository("testing/manifest"))
    assert _evaluate_dir(path, inline).allowed
    other = SignedBy(key_path=str(FIXTURES / "public-key-2.gpg"), signed_identity=ExactRepository("testing/manifest"))
    assert not _evaluate_dir(path, other).allowed
    wrong_identity = SignedBy(key_path=str(FIXTURES / "public-key.gpg"),
                              signed_identity=ExactRepository("testing/other"))
    assert _evaluate_dir(path, wrong_identity).reason == "IDENTITY_MISMATCH"


@pytest.mark.gpg
def test_real_gpg_keyrings_removed_on_close(tmp_path: Path) -> None:
    req = SignedBy(key_path=str(FIXTURES / "public-key.gpg"), signed_identity=ExactRepository("testing/manifest"))
    with PolicyContext(Policy(default=(req,))) as pc:
        keyring = pc.gpg_keyring(req)
        assert pc.gpg_keyring(req) is keyring  # built once per context
        home = keyring.home
        assert os.path.isdir(home)
        assert (os.stat(home).st_mode & 0o777) == 0o700
    assert not os.path.exists(home)


@pytest.mark.gpg
def test_real_gpg_file_without_keys(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gpg"
    empty.write_bytes(b"this is not a key")
    path = _dir_image(tmp_path / "img", [_fixture("image.signature")])
    verdict = _evaluate_dir(path, SignedBy(key_path=str(empty), signed_identity=ExactRepository("testing/manifest")))
    assert verdict.reason == "KEY_LOAD_FAILED"
    assert "cannot import the keys" in verdict.message


@pytest.mark.gpg
def test_missing_key_file_rejects_every_signature(tmp_path: Path) -> None:
    path = _dir_image(tmp_path / "img", [_fixture("image.signature")])
    req = SignedBy(key_path=str(tmp_path / "nope.gpg"), signed_identity=ExactRepository("testing/manifest"))
    verdict = _evaluate_dir(path, req)
    assert verdict.reason == "KEY_LOAD_FAILED"
    assert "nope.gpg" in verdict.message


# --- impossible per-signature results inside a requirement -------------------------------


@pytest.mark.parametrize(
    "results",
    [
        [SigResult(SigStatus.ACCEPTED, "SIGNATURE_VERIFIED", "no payload")],
        [SigResult(SigStatus.UNKNOWN)],
        [SigResult(SigStatus.UNKNOWN, "INVALID_SIGNATURE", "unknown with an error")],
    ],
    ids=["accepted-without-payload", "unknown", "unknown-with-error"],
)
def test_impossible_signature_results_never_allow_the_image(results: list[SigResult]) -> None:
    from trustcopy.policy.requirements import summarize

    outcome = summarize(results, "none")
    assert not outcome.allowed
    assert outcome.reason == "INTERNAL_INCONSISTENCY"


# --- sigstoreSigned wiring to a verifier ---------------------------------------------------


@pytest.fixture
def fake_sigstore(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace trustcopy.signature.sigstore.verify_sigstore by one that does what ``behaviour`` says."""
    from trustcopy.errors import SignatureVerificationError
    from trustcopy.signature import sigstore

    state: dict[str, Any] = {"behaviour": "accept"}

    def verify_sigstore(sig: Any, trust_root: Any, *, validate_signed_docker_reference: Any,
                        validate_signed_docker_manifest_digest: Any, validate_unsigned_identity: Any = None) -> Any:
        state["trust_root"] = trust_root
        if state["behaviour"] == "none":
            return None
        if state["behaviour"] == "bad-key":
            raise SignatureVerificationError("cosign signature does not verify", reason="INVALID_SIGNATURE")
        from policy_fakes import DIGEST

        validate_signed_docker_manifest_digest(DIGEST)
        validate_signed_docker_reference(state.get("claims", IMG))
        signed = SignedBy(key_path="/keys/a.gpg").is_signature_accepted(
            docker_image(IMG, [fake_sig(IMG)]), stored_signature(fake_sig(IMG)),
            FakeKeysContext(Policy(default=(Reject(),))))
        return signed.signature

    monkeypatch.setattr(sigstore, "verify_sigstore", verify_sigstore)
    return state


@pytest.mark.parametrize(
    ("behaviour", "claims", "allowed", "reason"),
    [
        ("accept", IMG, True, "ALLOWED"),
        ("accept", "quay.io/ns/app:2", False, "IDENTITY_MISMATCH"),
        ("bad-key", IMG, False, "INVALID_SIGNATURE"),
        ("none", IMG, False, "INTERNAL_INCONSISTENCY"),
    ],
)
def test_sigstore_requirement_uses_the_verifier_and_its_callbacks(
    fake_sigstore: dict[str, Any], behaviour: str, claims: str, allowed: bool, reason: str
) -> None:
    from policy_fakes import sigstore_blob

    from trustcopy.policy import SigstoreSigned

    fake_sigstore.update(behaviour=behaviour, claims=claims)
    req = SigstoreSigned(key_path="/c.pub")
    with FakeKeysContext(Policy(default=(req,))) as pc:
        verdict = pc.evaluate(docker_image(IMG, [sigstore_blob()]))
    assert verdict.allowed is allowed, verdict.summary()
    assert verdict.reason == reason
    assert fake_sigstore["trust_root"].kind == "keys"
