"""containers/image's policy-evaluation test vectors not already ported elsewhere.

Each table row names the Go test (and case comment) it comes from, in
containers/image ``signature/`` (newest, go.podman.io/image/v5): policy_eval_test.go,
policy_eval_signedby_test.go, policy_eval_simple_test.go, policy_eval_baselayer_test.go,
policy_eval_sigstore_test.go, policy_reference_match_test.go, policy_config_test.go and
policy_config_sigstore_test.go. Already covered elsewhere (not repeated here): the
reference-match tables (test_policy_identity_vectors.py), scope lookup
(test_policy_scope_lookup.py), the cosign fixture verdicts and generated Fulcio/Rekor/PKI
material (tests/unit/signature/test_sigstore_verify.py).

Fixtures: the GPG and cosign ``dir-img-*`` fixtures are read in place from Debian's
golang-github-containers-image-dev (v5.23; ./run installs it), with that version's
public keys; the newest GPG fixtures (subkeys) from tests/fixtures/signature.

Where trustcopy is deliberately stricter than containers/image (it refuses at load time
what c/i loads and then rejects at evaluation), the row says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from policy_fakes import FakeImage, docker_image

from trustcopy.errors import PolicyError
from trustcopy.policy import (
    ExactReference,
    InsecureAcceptAnything,
    MatchExact,
    MatchRepository,
    Policy,
    PolicyContext,
    PolicySpecError,
    Reject,
    RemapIdentity,
    Requirement,
    SignedBaseLayer,
    SignedBy,
    SigStatus,
    SigstoreSigned,
)
from trustcopy.policy.parse import parse_policy
from trustcopy.signature.formats import stored_signature

CI = Path("/usr/share/gocode/src/github.com/containers/image/signature/fixtures")
OURS = Path(__file__).resolve().parents[2] / "fixtures" / "signature"
LATEST = "testing/manifest:latest"
COSIGN_REF = "192.168.64.2:5000/cosign-signed-single-sample"


@pytest.fixture(autouse=True)
def _ci_fixtures_installed() -> None:
    assert CI.is_dir(), "./run installs golang-github-containers-image-dev"


def ci(name: str) -> bytes:
    return (CI / name).read_bytes()


def ci_sigs(directory: str) -> list[bytes]:
    d = CI / directory
    return [p.read_bytes() for p in sorted(d.glob("signature-*"))]


class NoManifestImage(FakeImage):
    """``dir-img-no-manifest``: reading the manifest fails."""

    def manifest(self) -> tuple[bytes, str]:
        raise FileNotFoundError("manifest.json: no such file or directory")


class UnreadableSignaturesImage(FakeImage):
    """``createInvalidSigDir``: listing the signatures fails (ELOOP)."""

    def signatures(self) -> list[Any]:
        raise OSError(40, "Too many levels of symbolic links")


def dir_image(directory: str, ref: str = LATEST) -> FakeImage:
    """c/i's ``dirImageMock``: a fixture directory claiming the Docker reference ``ref``."""
    from trustcopy.transports.docker.reference import TRANSPORT

    reference = TRANSPORT.parse_reference("//" + ref)
    if not (CI / directory / "manifest.json").exists():
        return NoManifestImage(reference, ci_sigs(directory))
    return FakeImage(reference, ci_sigs(directory), ci(f"{directory}/manifest.json"))


def evaluate(requirements: list[Requirement], image: Any, *, require_signed: bool = False) -> Any:
    with PolicyContext(Policy(default=tuple(requirements)), require_signed=require_signed) as pc:
        return pc.evaluate(image)


def gpg_key(name: str = "public-key.gpg") -> str:
    return str(CI / name)


# --- policy_eval_signedby_test.go ---------------------------------------------------------

SB_ACCEPTED: list[tuple[str, Callable[[], SignedBy]]] = [
    # TestPRSignedByIsSignatureAuthorAccepted: "Successful validation, with KeyPath, KeyPaths and KeyData"
    ("keyPath", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact())),
    ("keyPaths-1-1", lambda: SignedBy(key_paths=(gpg_key("public-key-1.gpg"), gpg_key("public-key-1.gpg")),
                                      signed_identity=MatchExact())),
    ("keyPaths-2-1", lambda: SignedBy(key_paths=(gpg_key("public-key-2.gpg"), gpg_key("public-key-1.gpg")),
                                      signed_identity=MatchExact())),
    ("keyData", lambda: SignedBy(key_data=ci("public-key.gpg"), signed_identity=MatchExact())),
]


@pytest.mark.gpg
@pytest.mark.parametrize("make", [c[1] for c in SB_ACCEPTED], ids=[c[0] for c in SB_ACCEPTED])
def test_signed_by_accepts_the_fixture_signature(make: Callable[[], SignedBy]) -> None:
    req = make()
    with PolicyContext(Policy(default=(req,))) as pc:
        blob = stored_signature(ci("dir-img-valid/signature-1"))
        result = req.is_signature_accepted(dir_image("dir-img-valid"), blob, pc)
    assert result.status is SigStatus.ACCEPTED, result.message
    assert result.signature is not None
    assert result.signature.docker_reference == LATEST
    assert str(result.signature.docker_manifest_digest) == (
        "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55")  # TestImageManifestDigest


SB_REJECTED: list[tuple[str, Callable[[], SignedBy], str, bytes | str, str]] = [
    # (case, requirement, image dir, signature blob or fixture name, reason)
    # TestPRSignedByIsSignatureAuthorAccepted: "Unimplemented and invalid KeyType values" (the invalid one
    # cannot be constructed here: see test_invalid_key_type_refused_at_load)
    *((f"keyType-{kt}", (lambda kt=kt: SignedBy(key_type=kt, key_data=ci("public-key.gpg"),
                                                 signed_identity=MatchExact())),
       "dir-img-valid", "dir-img-valid/signature-1", "NOT_IMPLEMENTED")
      for kt in ("signedByGPGKeys", "X509Certificates", "signedByX509CAs")),
    # "Invalid KeyPath" / "Invalid KeyPaths" / "One of the KeyPaths is invalid"
    ("missing-keyPath", lambda: SignedBy(key_path="/this/does/not/exist", signed_identity=MatchExact()),
     "dir-img-valid", "dir-img-valid/signature-1", "KEY_LOAD_FAILED"),
    ("missing-keyPaths", lambda: SignedBy(key_paths=("/this/does/not/exist",), signed_identity=MatchExact()),
     "dir-img-valid", "dir-img-valid/signature-1", "KEY_LOAD_FAILED"),
    ("one-missing-keyPaths", lambda: SignedBy(key_paths=(gpg_key(), "/this/does/not/exist"),
                                              signed_identity=MatchExact()),
     "dir-img-valid", "dir-img-valid/signature-1", "KEY_LOAD_FAILED"),
    # "KeyData has no public keys" (c/i: an empty keyData, refused at load here; non-key bytes instead)
    ("keyData-without-keys", lambda: SignedBy(key_data=b"this is not a key", signed_identity=MatchExact()),
     "dir-img-valid", "dir-img-valid/signature-1", "KEY_LOAD_FAILED"),
    # "A signature which does not GPG verify": c/i hands the raw bytes to gpg; trustcopy does not
    # recognize the format (as c/i's signature.FromBlob would not), with an OpenPGP tag gpg refuses it.
    ("not-a-signature", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-valid", b"invalid signature", "UNSUPPORTED_FORMAT"),
    ("not-a-signature-openpgp-tag", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-valid", b"\x88invalid signature", "INVALID_SIGNATURE"),
    # "A valid signature using an unknown key."
    ("unknown-key", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-valid", "unknown-key.signature", "UNKNOWN_KEY"),
    # "A valid signature of an invalid JSON."
    ("invalid-blob", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-valid", "invalid-blob.signature", "INVALID_PAYLOAD"),
    # "A valid signature with a rejected identity."
    ("rejected-identity", lambda: SignedBy(key_path=gpg_key(), signed_identity=ExactReference("this/does-not:match")),
     "dir-img-valid", "dir-img-valid/signature-1", "IDENTITY_MISMATCH"),
    # "Error computing manifest digest"
    ("manifest-digest-error", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-manifest-digest-error", "dir-img-manifest-digest-error/signature-1", "DIGEST_MISMATCH"),
    # "A valid signature with a non-matching manifest"
    ("modified-manifest", lambda: SignedBy(key_path=gpg_key(), signed_identity=MatchExact()),
     "dir-img-modified-manifest", "dir-img-modified-manifest/signature-1", "DIGEST_MISMATCH"),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("make", "directory", "blob", "reason"), [c[1:] for c in SB_REJECTED],
                         ids=[c[0] for c in SB_REJECTED])
def test_signed_by_rejects_signature(make: Callable[[], SignedBy], directory: str, blob: bytes | str,
                                     reason: str) -> None:
    req = make()
    data = ci(blob) if isinstance(blob, str) else blob
    with PolicyContext(Policy(default=(req,))) as pc:
        result = req.is_signature_accepted(dir_image(directory), stored_signature(data), pc)
    assert result.status is SigStatus.REJECTED
    assert result.signature is None
    assert result.reason == reason, result.message
    assert result.message


@pytest.mark.gpg
def test_signed_by_manifest_read_error_propagates() -> None:
    # TestPRSignedByIsSignatureAuthorAccepted "Error reading image manifest": c/i answers sarRejected;
    # trustcopy lets errors reading the image propagate (never an acceptance).
    req = SignedBy(key_path=gpg_key(), signed_identity=MatchExact())
    image = dir_image("dir-img-no-manifest")
    with PolicyContext(Policy(default=(req,))) as pc:
        with pytest.raises(FileNotFoundError):
            req.is_signature_accepted(image, stored_signature(ci("dir-img-no-manifest/signature-1")), pc)
        with pytest.raises(FileNotFoundError):
            pc.evaluate(image)


SB_RUNNING: list[tuple[str, str, str, bool, str]] = [
    # TestPRSignedByIsRunningImageAllowed: (case, image dir, image reference, allowed, reason); matchExact
    ("single-valid", "dir-img-valid", LATEST, True, "ALLOWED"),
    ("no-signatures", "dir-img-unsigned", LATEST, False, "NO_SIGNATURES"),
    ("one-invalid-nonmatching-ref", "dir-img-valid", "testing/manifest:notlatest", False, "IDENTITY_MISMATCH"),
    ("two-valid", "dir-img-valid-2", LATEST, True, "ALLOWED"),
    ("invalid-then-valid", "dir-img-mixed", LATEST, True, "ALLOWED"),
    ("two-invalid-nonmatching-ref", "dir-img-valid-2", "testing/manifest:notlatest", False, "IDENTITY_MISMATCH"),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("directory", "ref", "allowed", "reason"), [c[1:] for c in SB_RUNNING],
                         ids=[c[0] for c in SB_RUNNING])
def test_signed_by_is_running_image_allowed(directory: str, ref: str, allowed: bool, reason: str) -> None:
    verdict = evaluate([SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], dir_image(directory, ref))
    assert verdict.allowed is allowed, verdict.summary()
    assert verdict.reason == reason
    if directory == "dir-img-valid-2" and not allowed:
        assert verdict.message.startswith("None of the signatures were accepted, reasons: ")


@pytest.mark.gpg
def test_signed_by_unreadable_signatures_never_allow() -> None:
    # TestPRSignedByIsRunningImageAllowed "Error reading signatures" (assertRunningRejected)
    from trustcopy.transports.docker.reference import TRANSPORT

    image = UnreadableSignaturesImage(TRANSPORT.parse_reference("//" + LATEST), [], b"{}")
    with pytest.raises(OSError, match="symbolic links"):
        evaluate([SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], image)


@pytest.mark.gpg
def test_signed_by_subkey_signature_allowed_as_its_primary_key() -> None:
    # TestPRSignedByIsRunningImageAllowed "A valid signature using a subkey" (dir-img-valid-subkey is
    # image.manifest.json + subkey.signature, newest fixtures)
    req = SignedBy(key_path=str(OURS / "public-key-with-subkey.gpg"), signed_identity=MatchExact())
    image = docker_image(LATEST, [(OURS / "subkey.signature").read_bytes()],
                         manifest=(OURS / "image.manifest.json").read_bytes())
    verdict = evaluate([req], image)
    assert verdict.allowed, verdict.summary()
    [sig] = verdict.requirements[0].signatures
    assert sig.key_fingerprint == "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36"  # the primary key


def test_invalid_key_type_refused_at_load() -> None:
    # TestPRSignedByIsSignatureAuthorAccepted: sbKeyType("This is invalid") (c/i: sarRejected at evaluation)
    with pytest.raises(PolicySpecError) as exc:
        SignedBy(key_type="This is invalid", key_path="/k")
    assert exc.value.path == ("keyType",)


@pytest.mark.parametrize(
    "kwargs",
    [
        # TestPRSignedByIsSignatureAuthorAccepted "Invalid KeyPath/KeyPaths/KeyData combinations"
        # (c/i builds the object directly and rejects at evaluation; refused when built here)
        {"key_path": "/k", "key_paths": ("/1", "/2"), "key_data": b"k"},
        {"key_path": "/k", "key_paths": ("/1", "/2")},
        {"key_path": "/k", "key_data": b"k"},
        {"key_paths": ("/1", "/2"), "key_data": b"k"},
        {},
    ],
    ids=["all-three", "path+paths", "path+data", "paths+data", "none"],
)
def test_signed_by_key_source_combinations_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(PolicySpecError, match="exactly one of keyPath, keyPaths and keyData"):
        SignedBy(**kwargs)


# --- policy_eval_simple_test.go, policy_eval_baselayer_test.go -----------------------------

SIMPLE = [
    # (Go tests, requirement, signature status, image allowed, verifiesSignatures)
    ("TestPRInsecureAcceptAnything*", InsecureAcceptAnything(), SigStatus.UNKNOWN, True, False),
    ("TestPRReject*", Reject(), SigStatus.REJECTED, False, False),
    ("TestPRSignedBaseLayer*", SignedBaseLayer(MatchRepository()), SigStatus.UNKNOWN, False, False),
]


@pytest.mark.parametrize(("req", "status", "allowed", "verifies"), [c[1:] for c in SIMPLE], ids=[c[0] for c in SIMPLE])
def test_simple_requirements(req: Requirement, status: SigStatus, allowed: bool, verifies: bool) -> None:
    from trustcopy.transports.docker.reference import TRANSPORT

    image = FakeImage(TRANSPORT.parse_reference("//" + LATEST), forbid_reads=True)  # the image is never read
    with PolicyContext(Policy(default=(req,))) as pc:
        sig = req.is_signature_accepted(image, stored_signature(b"\x88whatever"), pc)
        verdict = pc.evaluate(image)
    assert sig.status is status
    assert sig.signature is None
    assert bool(sig.reason) is (status is SigStatus.REJECTED)  # assertSARUnknown: no error
    assert verdict.allowed is allowed
    assert req.verifies_signatures is verifies
    assert SignedBy(key_path="/k").verifies_signatures  # TestPRSignedByVerifiesSignatures
    assert SigstoreSigned(key_path="/k").verifies_signatures


# --- policy_eval_test.go ------------------------------------------------------------------


def _pk_repo() -> SignedBy:
    return SignedBy(key_path=gpg_key(), signed_identity=MatchRepository())


ACCEPTED_AUTHOR = [
    # TestPolicyContextGetSignaturesWithAcceptedAuthor: (case, requirements, image dir, accepted count)
    ("success", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-valid", 1),
    ("two-signatures", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-valid-2", 2),
    ("no-signatures", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-unsigned", 0),
    ("only-invalid", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())],
     "dir-img-modified-manifest", 0),
    ("invalid-then-valid", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-mixed", 1),
    ("twoAccepts", lambda: [_pk_repo(), _pk_repo()], "dir-img-valid", 1),
    ("acceptReject", lambda: [_pk_repo(), Reject()], "dir-img-valid", 0),
    ("acceptUnknown", lambda: [_pk_repo(), SignedBaseLayer(MatchRepository())], "dir-img-valid", 1),
    ("rejectUnknown", lambda: [Reject(), SignedBaseLayer(MatchRepository())], "dir-img-valid", 0),
    ("unknown", lambda: [SignedBaseLayer(MatchRepository())], "dir-img-valid", 0),
    ("unknown2", lambda: [InsecureAcceptAnything()], "dir-img-valid", 0),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("make", "directory", "count"), [c[1:] for c in ACCEPTED_AUTHOR],
                         ids=[c[0] for c in ACCEPTED_AUTHOR])
def test_accepted_signatures(make: Callable[[], list[Requirement]], directory: str, count: int) -> None:
    with PolicyContext(Policy(default=tuple(make()))) as pc:
        sigs = pc.accepted_signatures(dir_image(directory))
    assert len(sigs) == count
    for sig in sigs:  # expectedSig
        assert sig.docker_reference == LATEST
        assert str(sig.docker_manifest_digest).startswith("sha256:20bf21ed457b")


@pytest.mark.gpg
def test_accepted_signatures_unreadable_signatures_raise() -> None:
    # TestPolicyContextGetSignaturesWithAcceptedAuthor "Error reading signatures" (err, nil sigs)
    from trustcopy.transports.docker.reference import TRANSPORT

    image = UnreadableSignaturesImage(TRANSPORT.parse_reference("//" + LATEST), [], b"{}")
    with PolicyContext(Policy(default=(_pk_repo(),))) as pc, pytest.raises(OSError):
        pc.accepted_signatures(image)


RUNNING = [
    # TestPolicyContextIsRunningImageAllowed: (case, requirements, image dir, allowed, reason)
    ("success", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-valid", True,
     "ALLOWED"),
    ("two-signatures", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-valid-2", True,
     "ALLOWED"),
    ("no-signatures", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-unsigned", False,
     "NO_SIGNATURES"),
    ("only-invalid", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())],
     "dir-img-modified-manifest", False, "DIGEST_MISMATCH"),
    ("invalid-then-valid", lambda: [SignedBy(key_path=gpg_key(), signed_identity=MatchExact())], "dir-img-mixed",
     True, "ALLOWED"),
    ("twoAllows", lambda: [_pk_repo(), _pk_repo()], "dir-img-mixed", True, "ALLOWED"),
    ("allowDeny", lambda: [_pk_repo(), Reject()], "dir-img-mixed", False, "SCOPE_REJECT"),
    ("reject", lambda: [Reject()], "dir-img-mixed", False, "SCOPE_REJECT"),
    ("acceptAnything", lambda: [InsecureAcceptAnything()], "dir-img-mixed", True, "ALLOWED"),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("make", "directory", "allowed", "reason"), [c[1:] for c in RUNNING],
                         ids=[c[0] for c in RUNNING])
def test_is_running_image_allowed(make: Callable[[], list[Requirement]], directory: str, allowed: bool,
                                  reason: str) -> None:
    verdict = evaluate(make(), dir_image(directory))
    assert verdict.allowed is allowed, verdict.summary()
    assert verdict.reason == reason


REQUIRE_SIGNED = [
    # TestPolicyContextIsRunningImageAllowedWithRequireSigned: (case, requirements, dir, requireSigned, allowed)
    ("insecureOnly-default", lambda: [InsecureAcceptAnything()], "dir-img-valid", False, True),
    ("insecureOnly", lambda: [InsecureAcceptAnything()], "dir-img-valid", True, False),
    ("insecureWithOther", lambda: [InsecureAcceptAnything(), _pk_repo()], "dir-img-valid", True, True),
    ("signedOnly", lambda: [_pk_repo()], "dir-img-valid", True, True),
    ("insecureWithOther-unsigned", lambda: [InsecureAcceptAnything(), _pk_repo()], "dir-img-unsigned", True, False),
]


@pytest.mark.gpg
@pytest.mark.parametrize(("make", "directory", "require_signed", "allowed"), [c[1:] for c in REQUIRE_SIGNED],
                         ids=[c[0] for c in REQUIRE_SIGNED])
def test_require_signed(make: Callable[[], list[Requirement]], directory: str, require_signed: bool,
                        allowed: bool) -> None:
    verdict = evaluate(make(), dir_image(directory), require_signed=require_signed)
    assert verdict.allowed is allowed, verdict.summary()
    if require_signed and not allowed and directory == "dir-img-valid":
        assert verdict.reason == "REQUIRE_SIGNED"
        assert verdict.message == ("No signature verification policy found for image "
                                   "docker:docker.io/testing/manifest:latest")


def test_empty_requirement_list_refused_when_built() -> None:
    # TestPolicyContextIsRunningImageAllowed / GetSignaturesWithAcceptedAuthor "invalidEmptyRequirements":
    # c/i rejects at evaluation; trustcopy cannot build such a policy.
    with pytest.raises(PolicySpecError, match="must not be empty"):
        Policy(default=(Reject(),), transports={"docker": {"docker.io/testing/manifest:invalidEmptyRequirements": ()}})


# --- policy_eval_sigstore_test.go (v5.23 fixtures; key+Rekor/Fulcio/PKI: test_sigstore_verify.py) ---


def sigstore_eval(req: dict[str, Any], image: Any) -> Any:
    req = {"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"}, **req}
    policy = parse_policy(json.dumps({"default": [req]}).encode(), source="policy.json")
    with PolicyContext(policy) as pc:
        return pc.evaluate(image)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rsa_public_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


PREPARE_TRUST_ROOT_FAILURES: list[tuple[str, Callable[[Path], dict[str, Any]]]] = [
    # TestPRSigstoreSignedPrepareTrustRoot "Failure" (and the Fulcio/PKI PrepareTrustRoot failures):
    # every signature is then rejected with KEY_LOAD_FAILED.
    ("invalid-keyPath", lambda t: {"keyPath": str(CI / "image.signature")}),
    ("unusable-keyPath", lambda t: {"keyPath": str(CI / "this/does/not/exist")}),
    ("invalid-keyPaths-first", lambda t: {"keyPaths": [str(CI / "image.signature"), str(CI / "cosign.pub")]}),
    ("invalid-keyPaths-second", lambda t: {"keyPaths": [str(CI / "cosign.pub"), str(CI / "image.signature")]}),
    ("unusable-keyPaths-first", lambda t: {"keyPaths": [str(CI / "this/does/not/exist"), str(CI / "cosign.pub")]}),
    ("unusable-keyPaths-second", lambda t: {"keyPaths": [str(CI / "cosign.pub"), str(CI / "this/does/not/exist")]}),
    ("invalid-keyData", lambda t: {"keyData": b64(b"this is invalid")}),
    ("invalid-keyDatas-first", lambda t: {"keyDatas": [b64(b"this is invalid"), b64(ci("cosign.pub"))]}),
    ("invalid-keyDatas-second", lambda t: {"keyDatas": [b64(ci("cosign.pub")), b64(b"this is invalid")]}),
    ("invalid-rekorPublicKeyPath", lambda t: {"keyPath": str(CI / "cosign.pub"),
                                              "rekorPublicKeyPath": str(CI / "image.signature")}),
    ("invalid-rekorPublicKeyPaths", lambda t: {"keyPath": str(CI / "cosign.pub"),
                                               "rekorPublicKeyPaths": [str(CI / "cosign.pub"),
                                                                       str(CI / "image.signature")]}),
    ("invalid-rekorPublicKeyData", lambda t: {"keyPath": str(CI / "cosign.pub"),
                                              "rekorPublicKeyData": b64(b"this is invalid")}),
    ("invalid-rekorPublicKeyDatas", lambda t: {"keyPath": str(CI / "cosign.pub"),
                                               "rekorPublicKeyDatas": [b64(ci("cosign.pub")), b64(b"invalid")]}),
    ("rekor-key-not-ecdsa", lambda t: {"keyPath": str(CI / "cosign.pub"),
                                       "rekorPublicKeyData": b64(_rsa_public_key_pem())}),
    # TestPRSigstoreSignedFulcioPrepareTrustRoot "Invalid CAPath" / "Unusable CAPath" / "Invalid CAData"
    ("fulcio-invalid-caPath", lambda t: {"fulcio": {"caPath": str(CI / "image.signature"), "oidcIssuer": "https://i",
                                                    "subjectEmail": "a@example.com"},
                                         "rekorPublicKeyPath": str(CI / "cosign.pub")}),
    ("fulcio-unusable-caPath", lambda t: {"fulcio": {"caPath": str(CI / "this/does/not/exist"),
                                                     "oidcIssuer": "https://i", "subjectEmail": "a@example.com"},
                                          "rekorPublicKeyPath": str(CI / "cosign.pub")}),
    ("fulcio-invalid-caData", lambda t: {"fulcio": {"caData": b64(b"abc"), "oidcIssuer": "https://i",
                                                    "subjectEmail": "a@example.com"},
                                         "rekorPublicKeyPath": str(CI / "cosign.pub")}),
    # TestPRSigstoreSignedPKIPrepareTrustRoot "Invalid/Unusable CARootsPath/CAIntermediatesPath", "Invalid *Data"
    ("pki-invalid-caRootsPath", lambda t: {"pki": {"caRootsPath": str(CI / "image.signature"),
                                                   "subjectEmail": "a@example.com"}}),
    ("pki-unusable-caRootsPath", lambda t: {"pki": {"caRootsPath": str(CI / "this/does/not/exist"),
                                                    "subjectEmail": "a@example.com"}}),
    ("pki-invalid-caRootsData", lambda t: {"pki": {"caRootsData": b64(b"abc"), "subjectEmail": "a@example.com"}}),
]


@pytest.mark.parametrize("make", [c[1] for c in PREPARE_TRUST_ROOT_FAILURES],
                         ids=[c[0] for c in PREPARE_TRUST_ROOT_FAILURES])
def test_sigstore_trust_root_failures_reject(make: Callable[[Path], dict[str, Any]], tmp_path: Path) -> None:
    verdict = sigstore_eval(make(tmp_path), dir_image("dir-img-cosign-valid", COSIGN_REF))
    assert not verdict.allowed
    assert verdict.reason == "KEY_LOAD_FAILED", verdict.message


def _self_signed_ca_pem() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pki-root")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("intermediates", ["caIntermediatesPath", "caIntermediatesData"])
def test_sigstore_pki_invalid_intermediates_reject(intermediates: str, tmp_path: Path) -> None:
    # TestPRSigstoreSignedPKIPrepareTrustRoot "Invalid CAIntermediatesPath/Data" (a valid root is needed first)
    root = tmp_path / "root.pem"
    root.write_bytes(_self_signed_ca_pem())
    value = str(CI / "image.signature") if intermediates.endswith("Path") else b64(b"abc")
    req = {"pki": {"caRootsPath": str(root), intermediates: value, "subjectEmail": "a@example.com"}}
    verdict = sigstore_eval(req, dir_image("dir-img-cosign-valid", COSIGN_REF))
    assert verdict.reason == "KEY_LOAD_FAILED", verdict.message


def _without_annotations(blob: bytes) -> bytes:
    head, body = blob.split(b"\n", 1)
    data = json.loads(body)
    data["annotations"] = {}
    return head + b"\n" + json.dumps(data).encode()


SIGSTORE_SIGNATURE = [
    # TestPRrSigstoreSignedIsSignatureAccepted: (case, image factory, signedIdentity, reason)
    ("no-cryptographic-signature",
     lambda: docker_image(COSIGN_REF, [_without_annotations(ci_sigs("dir-img-cosign-valid")[0])],
                          manifest=ci("dir-img-cosign-valid/manifest.json")),
     {"type": "matchRepository"}, "INVALID_SIGNATURE"),
    ("unknown-key",
     lambda: docker_image(COSIGN_REF, [ci("unknown-cosign-key.signature")],
                          manifest=ci("dir-img-cosign-valid/manifest.json")),
     {"type": "matchRepository"}, "INVALID_SIGNATURE"),
    ("rejected-identity", lambda: dir_image("dir-img-cosign-valid", COSIGN_REF),
     {"type": "exactReference", "dockerReference": "this/does-not:match"}, "IDENTITY_MISMATCH"),
    ("manifest-digest-error", lambda: dir_image("dir-img-cosign-manifest-digest-error", COSIGN_REF),
     {"type": "matchRepository"}, "DIGEST_MISMATCH"),
    ("non-matching-manifest", lambda: dir_image("dir-img-cosign-modified-manifest", COSIGN_REF),
     {"type": "matchRepository"}, "DIGEST_MISMATCH"),
    # TestPRSigstoreSignedIsRunningImageAllowed "2 invalid signatures"
    ("two-invalid", lambda: dir_image("dir-img-cosign-valid-2", "this/does-not:match"),
     {"type": "matchRepository"}, "IDENTITY_MISMATCH"),
]


@pytest.mark.parametrize(("make", "identity", "reason"), [c[1:] for c in SIGSTORE_SIGNATURE],
                         ids=[c[0] for c in SIGSTORE_SIGNATURE])
def test_sigstore_signature_rejected(make: Callable[[], Any], identity: dict[str, Any], reason: str) -> None:
    verdict = sigstore_eval({"keyPath": str(CI / "cosign.pub"), "signedIdentity": identity}, make())
    assert not verdict.allowed
    assert verdict.reason == reason, verdict.message


def test_sigstore_manifest_read_error_propagates() -> None:
    # TestPRrSigstoreSignedIsSignatureAccepted "Error reading image manifest" (c/i: sarRejected)
    with pytest.raises(FileNotFoundError):
        sigstore_eval({"keyPath": str(CI / "cosign.pub")}, dir_image("dir-img-cosign-no-manifest", COSIGN_REF))


def test_sigstore_is_signature_accepted_not_implemented() -> None:
    # TestPRSigstoreSignedIsSignatureAuthorAccepted: rejected even for a correctly signed image
    req = SigstoreSigned(key_path=str(CI / "cosign.pub"), signed_identity=MatchRepository())
    image = dir_image("dir-img-cosign-valid", COSIGN_REF)
    with PolicyContext(Policy(default=(req,))) as pc:
        result = req.is_signature_accepted(image, stored_signature(ci_sigs("dir-img-cosign-valid")[0]), pc)
        assert result.status is SigStatus.REJECTED and result.signature is None
        assert pc.evaluate(image).allowed  # while the image itself is allowed
        assert pc.accepted_signatures(image) == []


def test_sigstore_unreadable_signatures_never_allow() -> None:
    # TestPRSigstoreSignedIsRunningImageAllowed "Error reading signatures"
    from trustcopy.transports.docker.reference import TRANSPORT

    image = UnreadableSignaturesImage(TRANSPORT.parse_reference("//" + LATEST), [], b"{}")
    with pytest.raises(OSError):
        sigstore_eval({"keyPath": str(CI / "cosign.pub")}, image)


# --- policy_reference_match_test.go: remapIdentity objects c/i tests directly --------------


@pytest.mark.parametrize(
    ("prefix", "signed_prefix", "field"),
    [
        # TestPRMRemapIdentityMatchesDockerReference "Invalid object" rows: c/i builds them by hand
        # and they never match (except "UPPERCASE", which "happens to work"); refused when built here.
        ("busybox", "example.com/busybox", "prefix"),
        ("docker.io/library/busybox", "busybox", "signedPrefix"),
        ("UPPERCASE", "example.com", "prefix"),
        ("example.com", "UPPERCASE", "signedPrefix"),
    ],
)
def test_remap_identity_invalid_objects_refused(prefix: str, signed_prefix: str, field: str) -> None:
    with pytest.raises(PolicySpecError) as exc:
        RemapIdentity(prefix, signed_prefix)
    assert exc.value.path == (field,)


# --- policy_config_test.go, policy_config_sigstore_test.go: parse errors --------------------

KD = b64(b"abc")
SBY = {"type": "signedBy", "keyType": "GPGKeys", "keyData": KD, "signedIdentity": {"type": "matchRepoDigestOrExact"}}
SST = {"type": "sigstoreSigned", "keyData": KD, "signedIdentity": {"type": "matchRepoDigestOrExact"}}
FULCIO = {"caPath": "/foo/baz", "oidcIssuer": "https://example.com", "subjectEmail": "test@example.com"}
PKI = {"caRootsPath": "/foo/bar", "caIntermediatesPath": "/foo/baz", "subjectHostname": "example.com"}
DIGEST = "@sha256:" + "0123456789abcdef" * 4
_DEL = object()


def edit(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is _DEL:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def one(req: Any) -> str:
    return json.dumps({"default": [req]})


def ident(identity: Any) -> str:
    return one(edit(SBY, signedIdentity=identity))


def dup(text: str, member: str) -> str:
    """``text`` (one requirement) with ``member`` (a JSON "name":value) added again to the requirement."""
    assert text.endswith("}]}")
    return text[:-3] + "," + member + "}]}"


#: (Go test / case, policy text, JSON path of the error; None: must load).
PARSE_VECTORS: list[tuple[str, str, str | None]] = [
    # TestNewPolicyFromBytes
    ("NewPolicyFromBytes/empty", "", "(top level)"),
    # TestPolicyUnmarshalJSON
    ("Policy/missing-default", json.dumps({"transports": {}}), "default"),
    ("Policy/unexpected", json.dumps({"default": [SBY], "unexpected": 1}), "unexpected"),
    ("Policy/default-number", json.dumps({"default": 1}), "default"),
    ("Policy/default-object", json.dumps({"default": {}}), "default"),
    ("Policy/transports-number", json.dumps({"default": [SBY], "transports": 1}), "transports"),
    ("Policy/transports-array", json.dumps({"default": [SBY], "transports": []}), "transports"),
    ("Policy/default-empty", json.dumps({"default": []}), "default"),
    ("Policy/duplicate-transports", '{"default":[{"type":"reject"}],"transports":{},"transports":{}}', "transports"),
    ("Policy/no-transports", json.dumps({"default": [SBY]}), None),
    ("Policy/empty-transports", json.dumps({"default": [SBY], "transports": {}}), None),
    ("Policy/unknown-transport", json.dumps({"default": [SBY], "transports": {"unknown": {"rhel7": [SBY]}}}), None),
    # testInvalidJSONInput
    ("invalid-json", "&", "(top level)"),
    ("not-an-object", "1", "(top level)"),
    # TestPolicyTransportScopesWithTransportUnmarshalJSON
    ("PTS/scope-number", json.dumps({"default": [SBY], "transports": {"docker": {"docker.io/library/busybox": 1}}}),
     'transports.docker["docker.io/library/busybox"]'),
    ("PTS/scope-object", json.dumps({"default": [SBY], "transports": {"docker": {"docker.io/library/busybox": {}}}}),
     'transports.docker["docker.io/library/busybox"]'),
    ("PTS/default-scope-number", json.dumps({"default": [SBY], "transports": {"docker": {"": 1}}}),
     'transports.docker[""]'),
    ("PTS/default-scope-object", json.dumps({"default": [SBY], "transports": {"docker": {"": {}}}}),
     'transports.docker[""]'),
    ("PTS/scope-empty", json.dumps({"default": [SBY], "transports": {"docker": {"docker.io/library/busybox": []}}}),
     'transports.docker["docker.io/library/busybox"]'),
    ("PTS/default-scope-empty", json.dumps({"default": [SBY], "transports": {"docker": {"": []}}}),
     'transports.docker[""]'),
    ("PTS/duplicate-default-scope",
     '{"default":[{"type":"reject"}],"transports":{"docker":{"":[{"type":"reject"}],"":[{"type":"reject"}]}}}',
     'transports.docker[""]'),
    ("PTS/scope-rejected-by-transport",
     json.dumps({"default": [SBY], "transports": {"dir": {"docker.io/library/busybox": [SBY]}}}),
     'transports.dir["docker.io/library/busybox"]'),
    ("PTS/no-default-scope", json.dumps({"default": [SBY], "transports": {"docker": {"docker.io/x": [SBY]}}}), None),
    ("PTS/empty", json.dumps({"default": [SBY], "transports": {"docker": {}}}), None),
    # TestPolicyRequirementsUnmarshalJSON, TestNewPolicyRequirementFromJSON
    ("PR/member-number", json.dumps({"default": [1]}), "default[0]"),
    ("PR/invalid-type", one({"type": "this is invalid"}), "default[0].type"),
    ("PR/missing-type", one({}), "default[0].type"),
    ("PR/valid-type-invalid-contents", one({"type": "signedBy", "keyType": "this is invalid"}), "default[0].keyType"),
    # TestPRInsecureAcceptAnythingUnmarshalJSON, TestPRRejectUnmarshalJSON
    ("IAA/type-number", one({"type": 1}), "default[0].type"),
    ("IAA/extra", one({"type": "insecureAcceptAnything", "unknown": "foo"}), "default[0].unknown"),
    ("IAA/duplicate-type", '{"default":[{"type":"insecureAcceptAnything","type":"insecureAcceptAnything"}]}',
     "default[0].type"),
    ("Reject/extra", one({"type": "reject", "unknown": "foo"}), "default[0].unknown"),
    ("Reject/duplicate-type", '{"default":[{"type":"reject","type":"reject"}]}', "default[0].type"),
    # TestPRSignedByUnmarshalJSON
    ("SignedBy/valid", one(SBY), None),
    ("SignedBy/missing-type", one(edit(SBY, type=_DEL)), "default[0].type"),
    ("SignedBy/type-number", one(edit(SBY, type=1)), "default[0].type"),
    ("SignedBy/unexpected", one(edit(SBY, unexpected=1)), "default[0].unexpected"),
    ("SignedBy/missing-keyType", one(edit(SBY, keyType=_DEL)), "default[0].keyType"),
    ("SignedBy/invalid-keyType", one(edit(SBY, keyType="this is invalid")), "default[0].keyType"),
    ("SBKeyType/empty", one(edit(SBY, keyType="")), "default[0].keyType"),
    ("SBKeyType/number", one(edit(SBY, keyType=1)), "default[0].keyType"),
    *((f"SBKeyType/{kt}", one(edit(SBY, keyType=kt)), None)
      for kt in ("GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs")),
    ("SignedBy/no-key", one(edit(SBY, keyData=_DEL)), "default[0]"),
    ("SignedBy/all-three", one(edit(SBY, keyPath="/foo/bar", keyPaths=["/1", "/2"])), "default[0]"),
    ("SignedBy/path+paths", one(edit(SBY, keyPath="/foo/bar", keyPaths=["/1", "/2"], keyData=_DEL)), "default[0]"),
    ("SignedBy/path+data", one(edit(SBY, keyPath="/foo/bar")), "default[0]"),
    ("SignedBy/paths+data", one(edit(SBY, keyPaths=["/1", "/2"])), "default[0]"),
    ("SignedBy/keyPath-number", one(edit(SBY, keyData=_DEL, keyPath=1)), "default[0].keyPath"),
    ("SignedBy/keyPaths-number", one(edit(SBY, keyData=_DEL, keyPaths=1)), "default[0].keyPaths"),
    ("SignedBy/keyPaths-number-item", one(edit(SBY, keyData=_DEL, keyPaths=[1])), "default[0].keyPaths[0]"),
    ("SignedBy/keyData-number", one(edit(SBY, keyData=1)), "default[0].keyData"),
    ("SignedBy/keyData-not-base64", one(edit(SBY, keyData="this is invalid base64")), "default[0].keyData"),
    ("SignedBy/signedIdentity-string", one(edit(SBY, signedIdentity="this is invalid")), "default[0].signedIdentity"),
    ("SignedBy/signedIdentity-null", one(edit(SBY, signedIdentity=None)), "default[0].signedIdentity"),
    ("SignedBy/no-signedIdentity", one(edit(SBY, signedIdentity=_DEL)), None),
    ("SignedBy/keyPath", one(edit(SBY, keyData=_DEL, keyPath="/foo/bar")), None),
    ("SignedBy/keyPaths", one(edit(SBY, keyData=_DEL, keyPaths=["/1", "/2"])), None),
    ("SignedBy/duplicate-type", dup(one(SBY), '"type":"signedBy"'), "default[0].type"),
    ("SignedBy/duplicate-keyType", dup(one(SBY), '"keyType":"GPGKeys"'), "default[0].keyType"),
    ("SignedBy/duplicate-keyData", dup(one(SBY), f'"keyData":"{KD}"'), "default[0].keyData"),
    ("SignedBy/duplicate-signedIdentity", dup(one(SBY), '"signedIdentity":{"type":"matchExact"}'),
     "default[0].signedIdentity"),
    ("SignedBy/duplicate-keyPath", dup(one(edit(SBY, keyData=_DEL, keyPath="/a")), '"keyPath":"/a"'),
     "default[0].keyPath"),
    ("SignedBy/duplicate-keyPaths", dup(one(edit(SBY, keyData=_DEL, keyPaths=["/a"])), '"keyPaths":["/a"]'),
     "default[0].keyPaths"),
    # TestPRSignedBaseLayerUnmarshalJSON
    ("BaseLayer/valid", one({"type": "signedBaseLayer", "baseLayerIdentity": {
        "type": "exactReference", "dockerReference": "registry.access.redhat.com/rhel7/rhel:7.2.3"}}), None),
    ("BaseLayer/missing-identity", one({"type": "signedBaseLayer"}), "default[0].baseLayerIdentity"),
    ("BaseLayer/identity-string", one({"type": "signedBaseLayer", "baseLayerIdentity": "this is invalid"}),
     "default[0].baseLayerIdentity"),
    ("BaseLayer/identity-null", one({"type": "signedBaseLayer", "baseLayerIdentity": None}),
     "default[0].baseLayerIdentity"),
    ("BaseLayer/unexpected", one({"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchExact"},
                                  "unexpected": 1}), "default[0].unexpected"),
    # TestNewPolicyReferenceMatchFromJSON and the matchExact/matchRepoDigestOrExact/matchRepository tests
    ("PRM/number", ident(1), "default[0].signedIdentity"),
    ("PRM/missing-type", ident({}), "default[0].signedIdentity.type"),
    ("PRM/invalid-type", ident({"type": "this is invalid"}), "default[0].signedIdentity.type"),
    ("PRM/type-number", ident({"type": 1}), "default[0].signedIdentity.type"),
    *((f"PRM/{t}-extra", ident({"type": t, "unknown": "foo"}), "default[0].signedIdentity.unknown")
      for t in ("matchExact", "matchRepoDigestOrExact", "matchRepository")),
    ("PRM/duplicate-type", ident({"type": "matchExact"}).replace('{"type": "matchExact"}',
                                                                  '{"type": "matchExact", "type": "matchExact"}'),
     "default[0].signedIdentity.type"),
    # TestNewPRMExactReference, TestPRMExactReferenceUnmarshalJSON
    ("ExactReference/valid", ident({"type": "exactReference", "dockerReference": "library/busybox:latest"}), None),
    ("ExactReference/empty", ident({"type": "exactReference", "dockerReference": ""}),
     "default[0].signedIdentity.dockerReference"),
    ("ExactReference/uppercase", ident({"type": "exactReference", "dockerReference": "INVALIDUPPERCASE:latest"}),
     "default[0].signedIdentity.dockerReference"),
    ("ExactReference/missing-tag", ident({"type": "exactReference", "dockerReference": "library/busybox"}),
     "default[0].signedIdentity.dockerReference"),
    ("ExactReference/missing", ident({"type": "exactReference"}), "default[0].signedIdentity.dockerReference"),
    ("ExactReference/number", ident({"type": "exactReference", "dockerReference": 1}),
     "default[0].signedIdentity.dockerReference"),
    ("ExactReference/unexpected", ident({"type": "exactReference", "dockerReference": "busybox:1", "unexpected": 1}),
     "default[0].signedIdentity.unexpected"),
    # TestNewPRMExactRepository, TestPRMExactRepositoryUnmarshalJSON (a tagged value is valid, as in c/i)
    ("ExactRepository/valid-tagged",
     ident({"type": "exactRepository", "dockerRepository": "library/busybox:latest"}), None),
    ("ExactRepository/empty", ident({"type": "exactRepository", "dockerRepository": ""}),
     "default[0].signedIdentity.dockerRepository"),
    ("ExactRepository/uppercase", ident({"type": "exactRepository", "dockerRepository": "INVALIDUPPERCASE"}),
     "default[0].signedIdentity.dockerRepository"),
    ("ExactRepository/missing", ident({"type": "exactRepository"}), "default[0].signedIdentity.dockerRepository"),
    ("ExactRepository/number", ident({"type": "exactRepository", "dockerRepository": 1}),
     "default[0].signedIdentity.dockerRepository"),
    # TestNewPRMRemapIdentity, TestPRMRemapIdentityUnmarshalJSON
    ("Remap/valid", ident({"type": "remapIdentity", "prefix": "example.com/docker-library",
                           "signedPrefix": "docker.io/library"}), None),
    *((f"Remap/prefix-{name}", ident({"type": "remapIdentity", "prefix": value, "signedPrefix": "docker.io/library"}),
       "default[0].signedIdentity.prefix")
      for name, value in [("empty", ""), ("uppercase", "example.com/UPPERCASEISINVALID"), ("number", 1),
                          ("words", "this is invalid")]),
    *((f"Remap/signedPrefix-{name}", ident({"type": "remapIdentity", "prefix": "example.com/docker-library",
                                            "signedPrefix": value}), "default[0].signedIdentity.signedPrefix")
      for name, value in [("empty", ""), ("uppercase", "example.com/UPPERCASEISINVALID"), ("number", 1),
                          ("words", "this is invalid")]),
    ("Remap/missing-prefix", ident({"type": "remapIdentity", "signedPrefix": "docker.io/library"}),
     "default[0].signedIdentity.prefix"),
    ("Remap/missing-signedPrefix", ident({"type": "remapIdentity", "prefix": "example.com"}),
     "default[0].signedIdentity.signedPrefix"),
    ("Remap/unexpected", ident({"type": "remapIdentity", "prefix": "example.com", "signedPrefix": "docker.io/library",
                                "unexpected": 1}), "default[0].signedIdentity.unexpected"),
    # TestValidateIdentityRemappingPrefix (valid values; "shortname" and "ns/shortname", which c/i
    # accepts but notes "do not actually work", are refused here: test_policy_identity_vectors.py)
    *((f"ValidatePrefix/ok/{p}", ident({"type": "remapIdentity", "prefix": p, "signedPrefix": "docker.io/library"}),
       None)
      for p in ["localhost", "example.com", "example.com:80", "example.com/repo",
                "example.com/ns1/ns2/ns3/repo.with.dots-dashes_underscores",
                "example.com:80/ns1/ns2/ns3/repo.with.dots-dashes_underscores"]),
    *((f"ValidatePrefix/bad/{p}", ident({"type": "remapIdentity", "prefix": p, "signedPrefix": "docker.io/library"}),
       "default[0].signedIdentity.prefix")
      for p in ["", "repo_with_underscores", "example.com/", "example.com/UPPERCASEISINVALID", "example.com/repo/",
                "example.com/repo:tag", "example.com/repo" + DIGEST, "example.com/repo:tag" + DIGEST]),
    # TestPRSigstoreSignedUnmarshalJSON
    ("Sigstore/valid", one(SST), None),
    ("Sigstore/missing-type", one(edit(SST, type=_DEL)), "default[0].type"),
    ("Sigstore/type-number", one(edit(SST, type=1)), "default[0].type"),
    ("Sigstore/unexpected", one(edit(SST, unexpected=1)), "default[0].unexpected"),
    ("Sigstore/no-key", one(edit(SST, keyData=_DEL)), "default[0]"),
    ("Sigstore/keyPath+keyData", one(edit(SST, keyPath="/foo/bar")), "default[0]"),
    ("Sigstore/keyPaths+keyData", one(edit(SST, keyPaths=["/foo/bar", "/foo/baz"])), "default[0]"),
    ("Sigstore/keyData+keyDatas", one(edit(SST, keyDatas=[KD, b64(b"def")])), "default[0]"),
    ("Sigstore/keyData+fulcio", one(edit(SST, fulcio=FULCIO, rekorPublicKeyPath="/r")), "default[0]"),
    ("Sigstore/keyData+pki", one(edit(SST, pki=PKI)), "default[0]"),
    ("Sigstore/fulcio+pki", one(edit(SST, keyData=_DEL, fulcio=FULCIO, pki=PKI, rekorPublicKeyPath="/r")),
     "default[0]"),
    ("Sigstore/keyPath-number", one(edit(SST, keyData=_DEL, keyPath=1)), "default[0].keyPath"),
    *((f"Sigstore/{field}-{name}", one(edit(SST, keyData=_DEL, **{field: value})), f"default[0].{field}")
      for field in ("keyPaths", "keyDatas") for name, value in [("number", 1), ("object", {}), ("empty", [])]),
    ("Sigstore/keyData-number", one(edit(SST, keyData=1)), "default[0].keyData"),
    ("Sigstore/keyData-not-base64", one(edit(SST, keyData="this is invalid base64")), "default[0].keyData"),
    *((f"Sigstore/{field}-{name}", one(edit(SST, keyData=_DEL, rekorPublicKeyPath="/r", **{field: value})),
       f"default[0].{field}")
      for field in ("fulcio", "pki") for name, value in [("number", 1), ("null", None)]),
    ("Sigstore/fulcio-empty", one(edit(SST, keyData=_DEL, fulcio={}, rekorPublicKeyPath="/r")), "default[0].fulcio"),
    ("Sigstore/pki-empty", one(edit(SST, keyData=_DEL, pki={})), "default[0].pki"),
    ("Sigstore/fulcio-without-rekor", one(edit(SST, keyData=_DEL, fulcio=FULCIO)), "default[0]"),
    ("Sigstore/pki-with-rekor", one(edit(SST, keyData=_DEL, pki=PKI, rekorPublicKeyPath="/r")), "default[0]"),
    ("Sigstore/rekorPath+rekorData", one(edit(SST, rekorPublicKeyPath="/foo/baz", rekorPublicKeyData=KD)),
     "default[0]"),
    ("Sigstore/rekorPath+rekorPaths", one(edit(SST, rekorPublicKeyPath="/a", rekorPublicKeyPaths=["/b", "/c"])),
     "default[0]"),
    ("Sigstore/rekorData+rekorDatas", one(edit(SST, rekorPublicKeyData=KD, rekorPublicKeyDatas=[KD, KD])),
     "default[0]"),
    ("Sigstore/rekorPath-number", one(edit(SST, rekorPublicKeyPath=1)), "default[0].rekorPublicKeyPath"),
    ("Sigstore/rekorData-number", one(edit(SST, rekorPublicKeyData=1)), "default[0].rekorPublicKeyData"),
    ("Sigstore/rekorData-not-base64", one(edit(SST, rekorPublicKeyData="this is invalid base64")),
     "default[0].rekorPublicKeyData"),
    *((f"Sigstore/{field}-{name}", one(edit(SST, **{field: value})), f"default[0].{field}")
      for field in ("rekorPublicKeyPaths", "rekorPublicKeyDatas")
      for name, value in [("number", 1), ("object", {}), ("empty", [])]),
    ("Sigstore/signedIdentity-string", one(edit(SST, signedIdentity="this is invalid")), "default[0].signedIdentity"),
    ("Sigstore/signedIdentity-null", one(edit(SST, signedIdentity=None)), "default[0].signedIdentity"),
    ("Sigstore/no-signedIdentity", one(edit(SST, signedIdentity=_DEL)), None),
    ("Sigstore/keyDatas+rekorPublicKeyDatas", one(edit(SST, keyData=_DEL, keyDatas=[KD, KD],
                                                       rekorPublicKeyDatas=[KD, KD])), None),
    ("Sigstore/keyPaths+rekorPublicKeyPaths", one(edit(SST, keyData=_DEL, keyPaths=["/a", "/b"],
                                                       rekorPublicKeyPaths=["/r1", "/r2"])), None),
    ("Sigstore/duplicate-keyData", dup(one(SST), f'"keyData":"{KD}"'), "default[0].keyData"),
    ("Sigstore/duplicate-signedIdentity", dup(one(SST), '"signedIdentity":{"type":"matchExact"}'),
     "default[0].signedIdentity"),
    # TestPRSigstoreSignedFulcioUnmarshalJSON
    ("Fulcio/valid", one(edit(SST, keyData=_DEL, fulcio=FULCIO, rekorPublicKeyPath="/r")), None),
    ("Fulcio/valid-caData", one(edit(SST, keyData=_DEL, fulcio=edit(FULCIO, caPath=_DEL, caData=KD),
                                     rekorPublicKeyPath="/r")), None),
    *((f"Fulcio/{name}", one(edit(SST, keyData=_DEL, fulcio=edit(FULCIO, **change), rekorPublicKeyPath="/r")), path)
      for name, change, path in [
          ("unexpected", {"unexpected": 1}, "default[0].fulcio.unexpected"),
          ("no-ca", {"caPath": _DEL}, "default[0].fulcio"),
          ("caPath+caData", {"caData": ""}, "default[0].fulcio"),
          ("caPath-number", {"caPath": 1}, "default[0].fulcio.caPath"),
          ("oidcIssuer-number", {"oidcIssuer": 1}, "default[0].fulcio.oidcIssuer"),
          ("no-oidcIssuer", {"oidcIssuer": _DEL}, "default[0].fulcio.oidcIssuer"),
          ("subjectEmail-number", {"subjectEmail": 1}, "default[0].fulcio.subjectEmail"),
          ("no-subjectEmail", {"subjectEmail": _DEL}, "default[0].fulcio.subjectEmail"),
          ("caData-number", {"caPath": _DEL, "caData": 1}, "default[0].fulcio.caData"),
          ("caData-not-base64", {"caPath": _DEL, "caData": "this is invalid base64"}, "default[0].fulcio.caData"),
      ]),
    # TestPRSigstoreSignedPKIUnmarshalJSON
    ("PKI/valid", one(edit(SST, keyData=_DEL, pki=PKI)), None),
    ("PKI/valid-data", one(edit(SST, keyData=_DEL, pki=edit(PKI, caRootsPath=_DEL, caIntermediatesPath=_DEL,
                                                            caRootsData=KD, caIntermediatesData=KD))), None),
    ("PKI/email-only", one(edit(SST, keyData=_DEL, pki=edit(PKI, subjectHostname=_DEL, subjectEmail="a@b.c"))), None),
    *((f"PKI/{name}", one(edit(SST, keyData=_DEL, pki=edit(PKI, **change))), path)
      for name, change, path in [
          ("unexpected", {"unexpected": 1}, "default[0].pki.unexpected"),
          ("no-roots", {"caRootsPath": _DEL}, "default[0].pki"),
          ("rootsPath+rootsData", {"caRootsData": ""}, "default[0].pki"),
          ("caRootsPath-number", {"caRootsPath": 1}, "default[0].pki.caRootsPath"),
          ("intermediatesPath+Data", {"caIntermediatesData": ""}, "default[0].pki"),
          ("caIntermediatesPath-number", {"caIntermediatesPath": 1}, "default[0].pki.caIntermediatesPath"),
          ("subjectHostname-number", {"subjectHostname": 1}, "default[0].pki.subjectHostname"),
          ("subjectEmail-number", {"subjectEmail": 1}, "default[0].pki.subjectEmail"),
          ("no-subject", {"subjectHostname": _DEL}, "default[0].pki"),
          ("caRootsData-number", {"caRootsPath": _DEL, "caRootsData": 1}, "default[0].pki.caRootsData"),
          ("caRootsData-not-base64", {"caRootsPath": _DEL, "caRootsData": "this is invalid base64"},
           "default[0].pki.caRootsData"),
          ("caIntermediatesData-number", {"caIntermediatesPath": _DEL, "caIntermediatesData": 1},
           "default[0].pki.caIntermediatesData"),
          ("caIntermediatesData-not-base64", {"caIntermediatesPath": _DEL, "caIntermediatesData": "not base64!"},
           "default[0].pki.caIntermediatesData"),
      ]),
]


@pytest.mark.parametrize(("text", "path"), [v[1:] for v in PARSE_VECTORS], ids=[v[0] for v in PARSE_VECTORS])
def test_policy_config_vectors(text: str, path: str | None) -> None:
    if path is None:
        policy = parse_policy(text.encode(), source="policy.json")
        assert parse_policy(json.dumps(policy.to_json()).encode()) == policy  # and it round-trips
        return
    with pytest.raises(PolicyError) as exc:
        parse_policy(text.encode(), source="policy.json")
    message = str(exc.value)
    assert message.startswith('invalid policy in "policy.json": ')
    if path != "(top level)":
        assert exc.value.context["path"] == path, message


def test_parse_vector_ids_unique() -> None:
    assert len({v[0] for v in PARSE_VECTORS}) == len(PARSE_VECTORS)
