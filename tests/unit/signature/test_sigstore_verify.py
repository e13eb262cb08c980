"""``sigstoreSigned`` verification against independent vectors.

1. containers/image's cosign fixtures, read in place from Debian's
   golang-github-containers-image-dev (./run installs it), under the policies c/i's own
   ``policy_eval_sigstore_test.go`` uses; its negative fixtures fail for the same reasons.
2. Signatures made with ``openssl`` over a payload this test writes.
3. Keyless (Fulcio + Rekor) and PKI material generated here with ``cryptography``:
   every rejection of the issue's list, each with its reason code.
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sigstore_material import (
    CERT_ANN,
    CHAIN_ANN,
    DIGEST,
    EMAIL,
    ISSUER,
    MIME,
    NOW,
    SET_ANN,
    SIG_ANN,
    FakeImage,
    Issued,
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

from trustcopy.digest import Digest
from trustcopy.policy.context import PolicyContext
from trustcopy.policy.parse import parse_policy
from trustcopy.policy.verdict import Verdict

CI = Path("/usr/share/gocode/src/github.com/containers/image/signature/fixtures")
COSIGN_PUB = CI / "cosign.pub"
CI_REF = "192.168.64.2:5000/cosign-signed-single-sample"


def _ci_blobs(name: str) -> list[bytes]:
    assert CI.exists(), "./run installs golang-github-containers-image-dev"
    d = CI / name
    return [d.joinpath(f"signature-{i}").read_bytes() for i in range(1, 10) if d.joinpath(f"signature-{i}").exists()]


def _ci_image(name: str, ref: str, manifest_from: str | None = None) -> FakeImage:
    manifest = (CI / (manifest_from or name) / "manifest.json").read_bytes()
    return FakeImage(ref, _ci_blobs(name), manifest)


def evaluate(requirement: dict[str, Any], image: FakeImage) -> Verdict:
    """Evaluate a one-requirement default policy, through the real parser and context."""
    policy = parse_policy(json.dumps({"default": [requirement]}).encode(), source="test-policy.json")
    with PolicyContext(policy) as pc:
        return pc.evaluate(image)  # type: ignore[arg-type]


def sig_results(verdict: Verdict) -> list[Any]:
    """The per-signature trace of the only requirement."""
    return list(verdict.requirements[0].signatures)


def key_req(identity: str = "matchRepository", **extra: Any) -> dict[str, Any]:
    return {"type": "sigstoreSigned", "keyPath": str(COSIGN_PUB), "signedIdentity": {"type": identity}, **extra}


# --- 1. containers/image fixtures -------------------------------------------------------


@pytest.mark.parametrize(("fixture", "ref", "identity", "allowed", "reason"), [
    ("dir-img-cosign-valid", CI_REF, "matchRepository", True, "ALLOWED"),
    ("dir-img-cosign-valid-2", CI_REF, "matchRepository", True, "ALLOWED"),
    ("dir-img-cosign-mixed", CI_REF, "matchRepository", True, "ALLOWED"),
    ("dir-img-cosign-valid-with-tag", "192.168.64.2:5000/skopeo-signed:tag", "matchExact", True, "ALLOWED"),
    ("dir-img-cosign-valid-with-tag", "192.168.64.2:5000/skopeo-signed:othertag", "matchExact", False,
     "IDENTITY_MISMATCH"),
    ("dir-img-cosign-valid", CI_REF, "matchExact", False, "IDENTITY_MISMATCH"),
    ("dir-img-cosign-valid", "testing/manifest:notlatest", "matchRepository", False, "IDENTITY_MISMATCH"),
    ("dir-img-cosign-valid-2", "this/doesnt:match", "matchRepository", False, "IDENTITY_MISMATCH"),
    ("dir-img-cosign-modified-manifest", CI_REF, "matchRepository", False, "DIGEST_MISMATCH"),
    ("dir-img-cosign-other-attachment", "testing/manifest:latest", "matchRepository", False, "NO_SIGNATURES"),
    ("dir-img-valid", "testing/manifest:latest", "matchRepository", False, "NO_SIGNATURES"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("dir-") else None)
def test_containers_image_cosign_fixtures(fixture: str, ref: str, identity: str, allowed: bool, reason: str) -> None:
    verdict = evaluate(key_req(identity), _ci_image(fixture, ref))
    assert verdict.allowed is allowed, verdict.message
    assert verdict.reason == reason


def test_ci_fixture_key_given_as_key_data_and_key_paths() -> None:
    image = _ci_image("dir-img-cosign-valid", CI_REF)
    data = base64.b64encode(COSIGN_PUB.read_bytes()).decode()
    assert evaluate({"type": "sigstoreSigned", "keyData": data, "signedIdentity": {"type": "matchRepository"}},
                    image).allowed
    other = ec_key()
    assert evaluate({"type": "sigstoreSigned", "keyDatas": [base64.b64encode(pub_pem(other)).decode(), data],
                     "signedIdentity": {"type": "matchRepository"}}, image).allowed


def test_cosign_repository_only_identity_rejected_by_default_suggests_match_repository() -> None:
    verdict = evaluate({"type": "sigstoreSigned", "keyPath": str(COSIGN_PUB)}, _ci_image("dir-img-cosign-valid",
                                                                                         CI_REF + ":latest"))
    assert not verdict.allowed
    assert verdict.reason == "IDENTITY_MISMATCH"
    assert '"signedIdentity": {"type": "matchRepository"}' in verdict.message
    assert "names only a repository" in verdict.message


def test_unknown_cosign_key_signature_rejected() -> None:
    blob = (CI / "unknown-cosign-key.signature").read_bytes()
    verdict = evaluate(key_req(), FakeImage(CI_REF, [blob], (CI / "dir-img-cosign-valid/manifest.json").read_bytes()))
    assert verdict.reason == "INVALID_SIGNATURE"
    assert "does not verify with the trusted key" in verdict.message


def test_mixed_fixture_trace_names_each_signature_and_its_location() -> None:
    verdict = evaluate(key_req(), _ci_image("dir-img-cosign-mixed", CI_REF))
    results = sig_results(verdict)
    assert [r.location for r in results] == ["test/signature-1", "test/signature-2"]
    assert results[0].reason == "INVALID_SIGNATURE" and results[1].reason == "SIGNATURE_VERIFIED"
    assert results[1].claimed_identity == CI_REF
    assert results[1].key_fingerprint


class _Unreadable(FakeImage):
    def signatures(self) -> list[Any]:
        from trustcopy.errors import RegistryError

        raise RegistryError("the registry went away")


@pytest.mark.parametrize(("list_signatures", "explained"), [
    ("cosign", True),
    ("none", False),
    ("gpg-only", False),
    ("unreadable", False),
])
def test_instance_rejected_while_only_its_list_is_signed_says_so(list_signatures: str, explained: bool) -> None:
    """cosign signs only the list without --recursive; the policy judges each instance (as c/i)."""
    blobs = {"cosign": _ci_blobs("dir-img-cosign-valid"), "none": [], "gpg-only": [b"\x88" + b"x" * 20],
             "unreadable": []}[list_signatures]
    parent = (_Unreadable if list_signatures == "unreadable" else FakeImage)(CI_REF, blobs)
    instance = FakeImage(CI_REF, [])
    instance.instance_digest = DIGEST
    instance.manifest_list = parent
    verdict = evaluate(key_req(), instance)
    assert verdict.reason == "NO_SIGNATURES"
    assert ("only its manifest list" in verdict.message) is explained, verdict.message
    if explained:
        assert "carries sigstore signatures (1)" in verdict.message and "cosign sign --recursive" in verdict.message
    # never accepted because of the list, and a top-level image is never explained so
    top = FakeImage(CI_REF, [])
    top.manifest_list = parent
    assert "manifest list" not in evaluate(key_req(), top).message


@pytest.mark.parametrize("annotation", [None, "bWFuZ2xlZA==", "not base64!"], ids=["missing", "other-bytes", "mangled"])
def test_mangled_signature_annotation_rejected(annotation: str | None) -> None:
    blob = _ci_blobs("dir-img-cosign-valid")[0]
    data = json.loads(blob.split(b"\n", 1)[1])
    data["annotations"] = {} if annotation is None else {SIG_ANN: annotation}
    mangled = b"\x00sigstore-json\n" + json.dumps(data).encode()
    manifest = (CI / "dir-img-cosign-valid/manifest.json").read_bytes()
    verdict = evaluate(key_req(), FakeImage(CI_REF, [mangled], manifest))
    assert verdict.reason == "INVALID_SIGNATURE"


def test_key_file_that_is_not_a_key_rejects_with_key_load_failed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_bytes((CI / "dir-img-cosign-valid/manifest.json").read_bytes())
    verdict = evaluate({"type": "sigstoreSigned", "keyPath": str(bad), "signedIdentity": {"type": "matchRepository"}},
                       _ci_image("dir-img-cosign-valid", CI_REF))
    assert verdict.reason == "KEY_LOAD_FAILED"


# --- 2. openssl-made signatures ------------------------------------------------------------


def test_openssl_signature_over_a_payload_the_test_writes_verifies(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(tmp_path / "key.pub")], check=True,
                   capture_output=True)
    payload = cosign_payload(reference="quay.io/ns/app", optional='{"creator":"openssl","timestamp":1700000000}')
    (tmp_path / "payload").write_bytes(payload)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key), str(tmp_path / "payload")],
                         check=True, capture_output=True).stdout
    blob = envelope(MIME, payload, {SIG_ANN: base64.b64encode(sig).decode()})
    req = {"type": "sigstoreSigned", "keyPath": str(tmp_path / "key.pub"),
           "signedIdentity": {"type": "matchRepository"}}
    verdict = evaluate(req, FakeImage("quay.io/ns/app:1", [blob]))
    assert verdict.allowed, verdict.message
    # the same signature for another digest is refused
    other = FakeImage("quay.io/ns/app:1", [blob], manifest=b'{"schemaVersion":2,"other":1}')
    assert evaluate(req, other).reason == "DIGEST_MISMATCH"


@pytest.mark.parametrize(("optional", "ok"), [
    ("null", True), ("{}", True), ('{"timestamp":1.0}', True), ('{"unknown":[1,{"x":2}]}', True),
    ('{"timestamp":1.5}', False), ('{"timestamp":"1"}', False), ("[]", False), ('{"creator":1}', False),
])
def test_payload_strictness_follows_containers_image(optional: str, ok: bool) -> None:
    key = ec_key()
    payload = cosign_payload(optional=optional)
    blob = envelope(MIME, payload, {SIG_ANN: base64.b64encode(sign(key, payload)).decode()})
    req = {"type": "sigstoreSigned", "keyData": base64.b64encode(pub_pem(key)).decode(),
           "signedIdentity": {"type": "matchRepository"}}
    verdict = evaluate(req, FakeImage("quay.io/ns/app:1", [blob]))
    assert verdict.allowed is ok, verdict.message
    if not ok:
        assert verdict.reason == "INVALID_PAYLOAD"


@pytest.mark.parametrize("payload", [
    b'{"critical":{"identity":{"docker-reference":"quay.io/ns/app"},"image":{"docker-manifest-digest":"DIGEST"},'
    b'"type":"atomic container signature"},"optional":null}',
    b'{"critical":{"identity":{"docker-reference":"quay.io/ns/app"},"image":{"docker-manifest-digest":"DIGEST"},'
    b'"type":"cosign container image signature","extra":1},"optional":null}',
    b'{"critical":{"identity":{"docker-reference":"quay.io/ns/app"},"image":{"docker-manifest-digest":"DIGEST"},'
    b'"type":"cosign container image signature"}}',
    b'{"critical":null,"optional":null}',
], ids=["simple-signing-type", "extra-critical-key", "no-optional", "null-critical"])
def test_payload_exact_keys(payload: bytes) -> None:
    key = ec_key()
    payload = payload.replace(b"DIGEST", str(DIGEST).encode())
    blob = envelope(MIME, payload, {SIG_ANN: base64.b64encode(sign(key, payload)).decode()})
    req = {"type": "sigstoreSigned", "keyData": base64.b64encode(pub_pem(key)).decode(),
           "signedIdentity": {"type": "matchRepository"}}
    assert evaluate(req, FakeImage("quay.io/ns/app:1", [blob])).reason == "INVALID_PAYLOAD"


# --- 3. Fulcio + Rekor, key + Rekor, PKI --------------------------------------------------


class Keyless:
    """A Fulcio CA (root + intermediate), a leaf for EMAIL/ISSUER, a Rekor key; a valid signature."""

    def __init__(self, **leaf: Any) -> None:
        self.root = make_cert("fulcio-root", None, ca=True)
        self.inter = make_cert("fulcio-intermediate", self.root, ca=True, path_length=0)
        args = {"email": EMAIL, "oidc_issuer": ISSUER, "oidc_issuer_v2": ISSUER} | leaf
        self.leaf = make_cert("", self.inter, ca=False, **args)
        self.rekor = ec_key()
        self.payload = cosign_payload()
        self.signature = sign(self.leaf.key, self.payload)
        self.time = int(NOW.timestamp())

    def annotations(self, *, body: dict[str, Any] | None = None, set_key: Any = None, when: int | None = None,
                    chain: bytes | None = None) -> dict[str, str]:
        leaf = cert_pem(self.leaf.cert)
        body = body or hashedrekord(leaf, self.signature, self.payload)
        return {SIG_ANN: base64.b64encode(self.signature).decode(), CERT_ANN: leaf.decode(),
                CHAIN_ANN: (chain if chain is not None else cert_pem(self.inter.cert, self.root.cert)).decode(),
                SET_ANN: make_set(set_key or self.rekor, body, self.time if when is None else when)}

    def requirement(self, root: Issued | None = None, *, issuer: str = ISSUER, email: str = EMAIL) -> dict[str, Any]:
        return {"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
                "fulcio": {"caData": base64.b64encode(cert_pem((root or self.root).cert)).decode(),
                           "oidcIssuer": issuer, "subjectEmail": email},
                "rekorPublicKeyData": base64.b64encode(pub_pem(self.rekor)).decode()}

    def evaluate(self, annotations: dict[str, str] | None = None, requirement: dict[str, Any] | None = None,
                 payload: bytes | None = None) -> Verdict:
        blob = envelope(MIME, payload or self.payload, annotations or self.annotations())
        return evaluate(requirement or self.requirement(), FakeImage("quay.io/ns/app:1", [blob]))


def test_fulcio_rekor_signature_verifies() -> None:
    k = Keyless()
    verdict = k.evaluate()
    assert verdict.allowed, verdict.message


def test_fulcio_issuer_v1_only_and_v2_only_both_work() -> None:
    for leaf in ({"oidc_issuer_v2": None}, {"oidc_issuer": None}):
        k = Keyless(**leaf)
        assert k.evaluate().allowed


@pytest.mark.parametrize(("case", "reason"), [
    ("certificate-from-another-ca", "CERTIFICATE_INVALID"),
    ("wrong-email", "CERTIFICATE_IDENTITY_MISMATCH"),
    ("wrong-issuer", "CERTIFICATE_IDENTITY_MISMATCH"),
    ("inconsistent-issuer-extensions", "CERTIFICATE_IDENTITY_MISMATCH"),
    ("no-issuer-extension", "CERTIFICATE_IDENTITY_MISMATCH"),
    ("expired-at-signing-time", "CERTIFICATE_INVALID"),
    ("not-yet-valid-at-signing-time", "CERTIFICATE_INVALID"),
    ("no-code-signing-usage", "CERTIFICATE_INVALID"),
    ("missing-chain-annotation", "CERTIFICATE_INVALID"),
    ("missing-certificate", "CERTIFICATE_INVALID"),
    ("missing-set", "REKOR_SET_INVALID"),
    ("set-signed-by-another-log", "REKOR_SET_INVALID"),
    ("set-for-another-signature", "REKOR_SET_INVALID"),
    ("set-for-another-payload", "REKOR_SET_INVALID"),
    ("set-for-another-certificate", "REKOR_SET_INVALID"),
    ("set-body-other-kind", "REKOR_SET_INVALID"),
    ("set-body-other-version", "REKOR_SET_INVALID"),
    ("set-tampered-time", "REKOR_SET_INVALID"),
    ("signature-by-another-key", "INVALID_SIGNATURE"),
])
def test_keyless_rejections(case: str, reason: str) -> None:
    k = Keyless(**({"email": "other@example.com"} if case == "wrong-email" else
                   {"oidc_issuer": "https://other", "oidc_issuer_v2": None} if case == "wrong-issuer" else
                   {"oidc_issuer_v2": "https://other"} if case == "inconsistent-issuer-extensions" else
                   {"oidc_issuer": None, "oidc_issuer_v2": None} if case == "no-issuer-extension" else
                   {"not_after": NOW - datetime.timedelta(hours=1)} if case == "expired-at-signing-time" else
                   {"not_before": NOW + datetime.timedelta(hours=1)} if case == "not-yet-valid-at-signing-time" else
                   {"code_signing": False} if case == "no-code-signing-usage" else {}))
    ann = k.annotations()
    leaf = cert_pem(k.leaf.cert)
    req = None
    payload = None
    if case == "certificate-from-another-ca":
        req = k.requirement(make_cert("other-root", None, ca=True))
    elif case == "missing-chain-annotation":
        del ann[CHAIN_ANN]
    elif case == "missing-certificate":
        del ann[CERT_ANN]
    elif case == "missing-set":
        del ann[SET_ANN]
    elif case == "set-signed-by-another-log":
        ann = k.annotations(set_key=ec_key())
    elif case == "set-for-another-signature":
        ann = k.annotations(body=hashedrekord(leaf, sign(k.leaf.key, k.payload), k.payload))
    elif case == "set-for-another-payload":
        ann = k.annotations(body=hashedrekord(leaf, k.signature, b"other"))
    elif case == "set-for-another-certificate":
        ann = k.annotations(body=hashedrekord(cert_pem(k.inter.cert), k.signature, k.payload))
    elif case == "set-body-other-kind":
        ann = k.annotations(body=hashedrekord(leaf, k.signature, k.payload, kind="rekord"))
    elif case == "set-body-other-version":
        ann = k.annotations(body=hashedrekord(leaf, k.signature, k.payload, version="0.0.2"))
    elif case == "set-tampered-time":
        data = json.loads(ann[SET_ANN])
        data["Payload"]["integratedTime"] += 1
        ann[SET_ANN] = json.dumps(data)
    elif case == "signature-by-another-key":
        payload = k.payload  # signed by another key, logged as such
        other = sign(ec_key(), payload)
        ann = k.annotations(body=hashedrekord(leaf, other, payload))
        ann[SIG_ANN] = base64.b64encode(other).decode()
    verdict = k.evaluate(ann, req, payload)
    assert not verdict.allowed
    assert verdict.reason == reason, verdict.message


def test_certificate_expired_now_but_valid_at_integrated_time_is_accepted() -> None:
    k = Keyless(not_before=NOW - datetime.timedelta(days=3), not_after=NOW - datetime.timedelta(days=2))
    assert k.evaluate(k.annotations(when=int((NOW - datetime.timedelta(days=2, hours=12)).timestamp()))).allowed


def test_key_with_rekor_requires_a_set_logging_that_key() -> None:
    key, other, rekor = ec_key(), ec_key(), ec_key()
    payload = cosign_payload()
    signature = sign(key, payload)
    req = {"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
           "keyDatas": [base64.b64encode(pub_pem(other)).decode(), base64.b64encode(pub_pem(key)).decode()],
           "rekorPublicKeyData": base64.b64encode(pub_pem(rekor)).decode()}
    good = {SIG_ANN: base64.b64encode(signature).decode(),
            SET_ANN: make_set(rekor, hashedrekord(pub_pem(key), signature, payload), 1700000000)}
    assert evaluate(req, FakeImage("quay.io/ns/app:1", [envelope(MIME, payload, good)])).allowed
    # a SET logging a key outside the policy: no policy key is logged
    wrong = dict(good, **{SET_ANN: make_set(rekor, hashedrekord(pub_pem(ec_key()), signature, payload), 1700000000)})
    verdict = evaluate(req, FakeImage("quay.io/ns/app:1", [envelope(MIME, payload, wrong)]))
    assert verdict.reason == "REKOR_SET_INVALID"
    assert "publicKey in Rekor SET does not match" in verdict.message
    # a SET logging the other policy key: that key is the candidate, and it did not sign (as c/i)
    logged_other = dict(good, **{SET_ANN: make_set(rekor, hashedrekord(pub_pem(other), signature, payload), 1)})
    verdict = evaluate(req, FakeImage("quay.io/ns/app:1", [envelope(MIME, payload, logged_other)]))
    assert verdict.reason == "INVALID_SIGNATURE"


def test_rekor_key_must_be_ecdsa() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    k = Keyless()
    req = k.requirement()
    req["rekorPublicKeyData"] = base64.b64encode(pub_pem(ed25519.Ed25519PrivateKey.generate())).decode()
    verdict = k.evaluate(requirement=req)
    assert verdict.reason == "KEY_LOAD_FAILED"
    assert "not using ECDSA" in verdict.message


class PKI:
    """A private CA with an intermediate and a leaf for EMAIL and a hostname."""

    def __init__(self, **leaf: Any) -> None:
        self.root = make_cert("pki-root", None, ca=True)
        self.inter = make_cert("pki-intermediate", self.root, ca=True)
        self.leaf = make_cert("signer", self.inter, ca=False, **({"email": EMAIL, "dns": ["build.example.com"]} | leaf))
        self.payload = cosign_payload()

    def evaluate(self, *, intermediates_in_policy: bool = True, chain: bool = False, **pki: Any) -> Verdict:
        ann = {SIG_ANN: base64.b64encode(sign(self.leaf.key, self.payload)).decode(),
               CERT_ANN: cert_pem(self.leaf.cert).decode()}
        if chain:
            ann[CHAIN_ANN] = cert_pem(self.inter.cert, self.root.cert).decode()
        spec = {"caRootsData": base64.b64encode(cert_pem(self.root.cert)).decode()} | pki
        if intermediates_in_policy:
            spec["caIntermediatesData"] = base64.b64encode(cert_pem(self.inter.cert)).decode()
        req = {"type": "sigstoreSigned", "pki": spec, "signedIdentity": {"type": "matchRepository"}}
        return evaluate(req, FakeImage("quay.io/ns/app:1", [envelope(MIME, self.payload, ann)]))


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"subjectEmail": EMAIL}, "ALLOWED"),
    ({"subjectHostname": "build.example.com"}, "ALLOWED"),
    ({"subjectEmail": EMAIL, "subjectHostname": "build.example.com"}, "ALLOWED"),
    ({"subjectEmail": "else@example.com"}, "CERTIFICATE_IDENTITY_MISMATCH"),
    ({"subjectHostname": "other.example.com"}, "CERTIFICATE_IDENTITY_MISMATCH"),
])
def test_pki(kwargs: dict[str, str], reason: str) -> None:
    assert PKI().evaluate(**kwargs).reason == reason


def test_pki_intermediate_from_the_chain_annotation_and_missing_intermediate() -> None:
    assert PKI().evaluate(intermediates_in_policy=False, chain=True, subjectEmail=EMAIL).allowed
    assert PKI().evaluate(intermediates_in_policy=False, subjectEmail=EMAIL).reason == "CERTIFICATE_INVALID"


def test_pki_expired_leaf_rejected() -> None:
    pki = PKI(not_after=NOW - datetime.timedelta(hours=1))
    assert pki.evaluate(subjectEmail=EMAIL).reason == "CERTIFICATE_INVALID"


def test_pki_with_rekor_refused_by_the_policy() -> None:
    from trustcopy.errors import PolicyError

    req = {"type": "sigstoreSigned", "pki": {"caRootsData": "eA==", "subjectEmail": EMAIL},
           "rekorPublicKeyData": "eA=="}
    with pytest.raises(PolicyError, match="not supported for pki"):
        parse_policy(json.dumps({"default": [req]}).encode())


def test_intermediate_that_is_not_a_ca_cannot_issue() -> None:
    root = make_cert("root", None, ca=True)
    not_ca = make_cert("leafy", root, ca=False)
    leaf = make_cert("signer", not_ca, ca=False, email=EMAIL)
    from trustcopy.errors import SignatureVerificationError
    from trustcopy.signature.sigstore_x509 import verify_chain

    with pytest.raises(SignatureVerificationError, match="not a CA certificate"):
        verify_chain(leaf.cert, [not_ca.cert], (root.cert,), NOW)


def test_digest_claim_is_recorded_for_a_rejected_signature() -> None:
    key = ec_key()
    other = Digest.from_bytes(b"other")
    payload = cosign_payload(digest=other)
    blob = envelope(MIME, payload, {SIG_ANN: base64.b64encode(sign(key, payload)).decode()})
    req = {"type": "sigstoreSigned", "keyData": base64.b64encode(pub_pem(key)).decode(),
           "signedIdentity": {"type": "matchRepository"}}
    result = sig_results(evaluate(req, FakeImage("quay.io/ns/app:1", [blob])))[0]
    assert result.reason == "DIGEST_MISMATCH"
    assert result.claimed_digest == str(other)
    assert result.key_fingerprint  # the crypto held: the signer is named


# --- hostile certificate chains -------------------------------------------------------------


def test_hundred_deep_chain_fails_bounded() -> None:
    from trustcopy.errors import SignatureVerificationError
    from trustcopy.signature.sigstore_x509 import attached_certificates, verify_chain

    root = make_cert("root", None, ca=True)
    chain = [root]
    for i in range(100):
        chain.append(make_cert(f"ca-{i}", chain[-1], ca=True))
    leaf = make_cert("leaf", chain[-1], ca=False, email=EMAIL)
    with pytest.raises(SignatureVerificationError, match="more than 16"):  # the annotation is refused whole
        attached_certificates(cert_pem(leaf.cert), cert_pem(*[c.cert for c in reversed(chain)]))
    start = __import__("time").monotonic()
    with pytest.raises(SignatureVerificationError) as exc:
        verify_chain(leaf.cert, [c.cert for c in chain[1:]], (root.cert,), NOW)
    assert exc.value.reason == "CERTIFICATE_INVALID"
    assert __import__("time").monotonic() - start < 5


def test_looping_chain_fails_bounded() -> None:
    from trustcopy.errors import SignatureVerificationError
    from trustcopy.signature.sigstore_x509 import verify_chain

    root = make_cert("root", None, ca=True)
    a_key, b_key = ec_key(), ec_key()
    # A and B issue each other (same names, keys swapped): a cycle never reaching the root.
    a = make_cert("A", None, ca=True, key=a_key, issuer_name="B")
    b = make_cert("B", Issued(a.cert, a_key), ca=True, key=b_key)
    a = make_cert("A", Issued(b.cert, b_key), ca=True, key=a_key)
    leaf = make_cert("leaf", Issued(a.cert, a_key), ca=False, email=EMAIL)
    with pytest.raises(SignatureVerificationError, match="does not chain to a trusted root"):
        verify_chain(leaf.cert, [a.cert, b.cert] * 8, (root.cert,), NOW)
