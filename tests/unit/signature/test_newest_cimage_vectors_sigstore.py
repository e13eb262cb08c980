"""The newest containers/image sigstore vectors not yet restated: generate_test.go,
internal/sigstore_payload_test.go (its "invalid verifier" rows) and policy_eval_sigstore_test.go
(the rows of TestPRrSigstoreSignedIsSignatureAccepted that need the newest tree's fixtures).

The newest tree's ``dir-img-cosign-key-rekor-valid``, ``dir-img-cosign-fulcio-rekor-valid``,
``dir-img-cosign-pki-valid``, ``cosign2.pub``, ``rekor.pub`` and CA files are not in Debian's 5.23
copy; the same situations are generated here with ``cryptography`` (tests/unit/signature/
sigstore_material.py), each row naming the Go case it restates. Rows of those Go tests that
the 5.23 fixtures can express are in tests/unit/signature/test_sigstore_verify.py,
test_signature_cimage_vectors.py and tests/unit/policy/test_policy_eval_cimage_vectors.py.

Deliberate differences (narrow; both sides reject):
- c/i builds requirements with conflicting or missing trust roots by hand (key and Fulcio, Fulcio
  and PKI, PKI and Rekor, Fulcio without Rekor, none at all) and rejects every signature;
  trustcopy's parser refuses such a policy (PolicyError) before anything is evaluated.
- An "invalid verifier" (a key that cannot verify) anywhere in the key list rejects as
  KEY_LOAD_FAILED when the trust root is built; c/i rejects the signature when verifying.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sigstore_material import (
    CERT_ANN,
    CHAIN_ANN,
    EMAIL,
    ISSUER,
    MIME,
    NOW,
    SET_ANN,
    SIG_ANN,
    FakeImage,
    cert_pem,
    cosign_payload,
    ec_key,
    envelope,
    hashedrekord,
    make_cert,
    make_set,
    pub_pem,
    sign,
)

from trustcopy.errors import PolicyError, SignatureError, SignatureVerificationError
from trustcopy.policy.context import PolicyContext
from trustcopy.policy.parse import parse_policy
from trustcopy.policy.verdict import Verdict
from trustcopy.signature.sigstore import load_public_keys

REF = "quay.io/ns/app:1"
MATCH_REPOSITORY = {"type": "matchRepository"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def evaluate(requirement: dict[str, Any], blobs: list[bytes], ref: str = REF) -> Verdict:
    requirement = {"type": "sigstoreSigned", "signedIdentity": MATCH_REPOSITORY, **requirement}
    policy = parse_policy(json.dumps({"default": [requirement]}).encode(), source="policy.json")
    with PolicyContext(policy) as pc:
        return pc.evaluate(FakeImage(ref, blobs))  # type: ignore[arg-type]


def _unusable_public_pem() -> bytes:
    """A well-formed public key of a type no cosign verifier uses (c/i's ``struct{}{}`` verifier)."""
    from cryptography.hazmat.primitives.asymmetric import ed448

    return pub_pem(ed448.Ed448PrivateKey.generate())


# --- sigstore/generate_test.go: TestGenerateKeyPair -----------------------------------------------


def test_generated_key_pair_signs_and_its_public_key_verifies(tmp_path: Path) -> None:
    from trustcopy.copy.sign import create_sigstore_signatures, load_sigstore_private_key
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.reference import parse_normalized_named
    from trustcopy.signature.sigstore import verify_sigstore
    from trustcopy.signature.sigstore_keys import generate_key_pair

    pair = generate_key_pair(b"some passphrase")
    private = tmp_path / "private.key"
    private.write_bytes(pair.private_pem)
    key = load_sigstore_private_key(str(private), "some passphrase")
    manifest = b"{}"
    before = int(time.time())
    [sig] = create_sigstore_signatures(manifest, parse_normalized_named("example.com/foo:notlatest"), key=key)
    seen: list[str] = []

    def check_reference(value: str) -> None:
        seen.append(value)

    def check_digest(value: Any) -> None:
        seen.append(str(value))

    verified = verify_sigstore(sig, load_public_keys([pair.public_pem], ["generated.pub"]),  # type: ignore[arg-type]
                               validate_signed_docker_reference=check_reference,
                               validate_signed_docker_manifest_digest=check_digest)
    assert seen == [str(manifest_digest(manifest)), "example.com/foo:notlatest"]
    # TestNewUntrustedSigstorePayload: a creator and the time of signing (c/i writes "containers/image VERSION")
    assert verified.creator is not None and verified.creator.startswith("trustcopy ")
    assert verified.timestamp is not None and before <= verified.timestamp <= int(time.time())


# --- internal/sigstore_payload_test.go: TestVerifySigstorePayload "Invalid verifier" ---------------


@pytest.mark.parametrize("order", ["invalid-only", "invalid-then-matching", "matching-then-invalid"])
def test_an_invalid_verifier_anywhere_fails_the_key_set(order: str) -> None:
    good = pub_pem(ec_key())
    bad = _unusable_public_pem()
    keys = {"invalid-only": [bad], "invalid-then-matching": [bad, good], "matching-then-invalid": [good, bad]}[order]
    with pytest.raises(SignatureError) as info:
        load_public_keys(keys, [f"key-{i}" for i in range(len(keys))])
    assert info.value.code == "key-invalid"
    assert not isinstance(info.value, SignatureVerificationError)
    # …and through a policy, every signature is rejected as KEY_LOAD_FAILED.
    key = ec_key()
    payload = cosign_payload()
    blob = envelope(MIME, payload, {SIG_ANN: b64(sign(key, payload))})
    datas = [b64(pub_pem(key)) if k is good else b64(k) for k in keys]
    verdict = evaluate({"keyDatas": datas}, [blob])
    assert not verdict.allowed and verdict.reason == "KEY_LOAD_FAILED", verdict.message


# --- policy_eval_sigstore_test.go: TestPRrSigstoreSignedIsSignatureAccepted ------------------------


class KeyRekor:
    """``dir-img-cosign-key-rekor-valid``: signed by key2 (cosign2.pub), logged by rekor; key1 is cosign.pub."""

    def __init__(self) -> None:
        self.key1, self.key2, self.rekor = ec_key(), ec_key(), ec_key()
        self.payload = cosign_payload()
        self.signature = sign(self.key2, self.payload)
        self.set = make_set(self.rekor, hashedrekord(pub_pem(self.key2), self.signature, self.payload), 1700000000)

    def blob(self, **annotations: str | None) -> bytes:
        ann = {SIG_ANN: b64(self.signature), SET_ANN: self.set} | annotations
        return envelope(MIME, self.payload, {k: v for k, v in ann.items() if v is not None})

    def requirement(self, keys: str, rekor: str = "rekor") -> dict[str, Any]:
        named = {"1": self.key1, "2": self.key2, "rekor": self.rekor}
        return {"keyDatas": [b64(pub_pem(named[k])) for k in keys.split(",")],
                "rekorPublicKeyDatas": [b64(pub_pem(named[k])) for k in rekor.split(",")]}


@pytest.fixture(scope="module")
def key_rekor() -> KeyRekor:
    return KeyRekor()


@pytest.mark.parametrize("keys", ["2", "2,1", "1,2"])
@pytest.mark.parametrize("rekor", ["rekor", "rekor,1", "1,rekor"])
def test_key_and_rekor_success_with_any_key_order(key_rekor: KeyRekor, keys: str, rekor: str) -> None:
    verdict = evaluate(key_rekor.requirement(keys, rekor), [key_rekor.blob()])
    assert verdict.allowed, verdict.message


@pytest.mark.parametrize(("case", "set_value"), [("missing-set", None), ("invalid-set", "this is not a valid SET")])
def test_key_and_rekor_without_a_usable_set(key_rekor: KeyRekor, case: str, set_value: str | None) -> None:
    verdict = evaluate(key_rekor.requirement("2"), [key_rekor.blob(**{SET_ANN: set_value})])
    assert verdict.reason == "REKOR_SET_INVALID", verdict.message


@pytest.mark.parametrize("keys", ["2", "2,1", "1,2"])
def test_key_and_rekor_with_a_set_not_signed_by_the_rekor_key(key_rekor: KeyRekor, keys: str) -> None:
    # c/i: rekorPublicKeyPath is cosign.pub instead of rekor.pub, "a key mismatch"
    verdict = evaluate(key_rekor.requirement(keys, rekor="1"), [key_rekor.blob()])
    assert verdict.reason == "REKOR_SET_INVALID", verdict.message


def test_key_and_rekor_set_of_another_signature_by_another_accepted_key(key_rekor: KeyRekor) -> None:
    # testKeyImageSig (signed by cosign.pub) carrying the key-rekor image's SET (which logs cosign2.pub)
    signature = sign(key_rekor.key1, key_rekor.payload)
    blob = key_rekor.blob(**{SIG_ANN: b64(signature)})
    verdict = evaluate(key_rekor.requirement("1,2"), [blob])
    assert verdict.reason == "REKOR_SET_INVALID", verdict.message
    assert "signature in Rekor SET does not match" in verdict.message


class FulcioRekor:
    """``dir-img-cosign-fulcio-rekor-valid``: a Fulcio leaf under an intermediate, logged by rekor."""

    def __init__(self) -> None:
        self.root = make_cert("fulcio-root", None, ca=True)
        self.inter = make_cert("fulcio-intermediate", self.root, ca=True, path_length=0)
        self.leaf = make_cert("", self.inter, ca=False, email=EMAIL, oidc_issuer=ISSUER, oidc_issuer_v2=ISSUER)
        self.rekor, self.other = ec_key(), ec_key()
        self.payload = cosign_payload()
        self.signature = sign(self.leaf.key, self.payload)
        leaf = cert_pem(self.leaf.cert)
        self.annotations = {
            SIG_ANN: b64(self.signature), CERT_ANN: leaf.decode(),
            CHAIN_ANN: cert_pem(self.inter.cert, self.root.cert).decode(),
            SET_ANN: make_set(self.rekor, hashedrekord(leaf, self.signature, self.payload), int(NOW.timestamp())),
        }

    def blob(self, **changes: str | None) -> bytes:
        ann = self.annotations | changes
        return envelope(MIME, self.payload, {k: v for k, v in ann.items() if v is not None})

    def requirement(self, ca: bytes | None = None, rekor: str = "rekor") -> dict[str, Any]:
        named = {"rekor": self.rekor, "other": self.other}
        return {"fulcio": {"caData": b64(ca or cert_pem(self.root.cert)), "oidcIssuer": ISSUER, "subjectEmail": EMAIL},
                "rekorPublicKeyDatas": [b64(pub_pem(named[k])) for k in rekor.split(",")]}


@pytest.fixture(scope="module")
def fulcio() -> FulcioRekor:
    return FulcioRekor()


@pytest.mark.parametrize("rekor", ["rekor", "rekor,other", "other,rekor"])
def test_fulcio_success_with_any_rekor_key_order(fulcio: FulcioRekor, rekor: str) -> None:
    verdict = evaluate(fulcio.requirement(rekor=rekor), [fulcio.blob()])
    assert verdict.allowed, verdict.message


def test_fulcio_without_the_chain_annotation_is_fine_when_the_chain_is_trusted(fulcio: FulcioRekor) -> None:
    # c/i: PRSigstoreSignedFulcioWithCAData(the chain annotation's contents): intermediates trusted directly
    no_chain = fulcio.blob(**{CHAIN_ANN: None})
    assert evaluate(fulcio.requirement(), [no_chain]).reason == "CERTIFICATE_INVALID"
    trusting_the_chain = fulcio.requirement(ca=cert_pem(fulcio.inter.cert, fulcio.root.cert))
    verdict = evaluate(trusting_the_chain, [no_chain])
    assert verdict.allowed, verdict.message


@pytest.mark.parametrize(("case", "changes", "reason"), [
    ("invalid-certificate", {CERT_ANN: "this is not a valid certificate"}, "CERTIFICATE_INVALID"),
    ("invalid-set", {SET_ANN: "this is not a valid SET"}, "REKOR_SET_INVALID"),
])
def test_fulcio_smoke_rejections(fulcio: FulcioRekor, case: str, changes: dict[str, str], reason: str) -> None:
    verdict = evaluate(fulcio.requirement(), [fulcio.blob(**changes)])
    assert verdict.reason == reason, verdict.message


def test_pki_missing_certificate_annotation_is_rejected() -> None:
    root = make_cert("pki-root", None, ca=True)
    leaf = make_cert("signer", root, ca=False, email=EMAIL, dns=["myhost.example.com"])
    payload = cosign_payload()
    signature = b64(sign(leaf.key, payload))
    requirement = {"pki": {"caRootsData": b64(cert_pem(root.cert)), "subjectEmail": EMAIL,
                           "subjectHostname": "myhost.example.com"}}
    with_cert = envelope(MIME, payload, {SIG_ANN: signature, CERT_ANN: cert_pem(leaf.cert).decode()})
    assert evaluate(requirement, [with_cert]).allowed
    verdict = evaluate(requirement, [envelope(MIME, payload, {SIG_ANN: signature})])
    assert verdict.reason == "CERTIFICATE_INVALID", verdict.message


@pytest.mark.parametrize("form", ["keyPath", "keyPaths-first", "keyPaths-second", "keyData", "keyDatas-first",
                                  "keyDatas-second"])
def test_successful_validation_with_every_key_source(form: str, tmp_path: Path) -> None:
    key, key2 = ec_key(), ec_key()
    (tmp_path / "cosign.pub").write_bytes(pub_pem(key))
    (tmp_path / "cosign2.pub").write_bytes(pub_pem(key2))
    paths = [str(tmp_path / "cosign.pub"), str(tmp_path / "cosign2.pub")]
    datas = [b64(pub_pem(key)), b64(pub_pem(key2))]
    forms: dict[str, dict[str, Any]] = {"keyPath": {"keyPath": paths[0]}, "keyPaths-first": {"keyPaths": paths},
        "keyPaths-second": {"keyPaths": paths[::-1]}, "keyData": {"keyData": datas[0]},
        "keyDatas-first": {"keyDatas": datas}, "keyDatas-second": {"keyDatas": datas[::-1]}}
    requirement = forms[form]
    payload = cosign_payload()
    verdict = evaluate(requirement, [envelope(MIME, payload, {SIG_ANN: b64(sign(key, payload))})])
    assert verdict.allowed, verdict.message


CA = b64(cert_pem(make_cert("some-ca", None, ca=True).cert))
KEY = b64(pub_pem(ec_key()))
FULCIO = {"caData": CA, "oidcIssuer": ISSUER, "subjectEmail": EMAIL}
PKI = {"caRootsData": CA, "subjectEmail": EMAIL}


@pytest.mark.parametrize("requirement", [
    {"keyPath": "/nonexistent/cosign.pub", "keyData": KEY},  # "prepareTrustRoot fails"
    {},  # "None of the public key, Fulcio, or PKI is specified"
    {"keyData": KEY, "fulcio": FULCIO, "rekorPublicKeyData": KEY},  # "Both a public key and Fulcio"
    {"fulcio": FULCIO, "pki": PKI, "rekorPublicKeyData": KEY},  # "Both Fulcio and PKI"
    {"pki": PKI, "rekorPublicKeyData": KEY},  # "Both PKI and Rekor public key"
    {"fulcio": FULCIO},  # "Fulcio, no Rekor requirement"
], ids=["key-path-and-data", "no-trust-root", "key-and-fulcio", "fulcio-and-pki", "pki-and-rekor",
        "fulcio-without-rekor"])
def test_inconsistent_requirements_are_refused_when_parsed(requirement: dict[str, Any]) -> None:
    # c/i rejects every signature of such a hand-built requirement; its parser refuses them too.
    requirement = {"type": "sigstoreSigned", "signedIdentity": MATCH_REPOSITORY, **requirement}
    with pytest.raises(PolicyError):
        parse_policy(json.dumps({"default": [requirement]}).encode(), source="policy.json")


# --- TestPRSigstoreSignedIsRunningImageAllowed "No signatures" ------------------------------------


def test_image_without_signatures_is_rejected() -> None:
    verdict = evaluate({"keyData": KEY}, [])
    assert not verdict.allowed and verdict.reason == "NO_SIGNATURES", verdict.message
