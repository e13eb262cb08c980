"""Sigstore bundles (cosign v3): verification with the same trust roots, and the identity rule.

Bundles are built here from the published format (DSSE, in-toto v1, Rekor ``dsse`` 0.0.1
entries with inclusion promises), signed with keys and certificates made by the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from sigstore_material import (
    DIGEST,
    EMAIL,
    ISSUER,
    NOW,
    FakeImage,
    canonical,
    ec_key,
    envelope,
    make_cert,
    pub_pem,
    sign,
)

from trustcopy.policy.context import PolicyContext
from trustcopy.policy.parse import parse_policy
from trustcopy.policy.verdict import Verdict

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IMG = "quay.io/ns/app:1"


def statement(digest_hex: str = DIGEST.hex, name: str | None = None, **extra: Any) -> bytes:
    subject: dict[str, Any] = {"digest": {"sha256": digest_hex}}
    if name is not None:
        subject["name"] = name
    return json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [subject],
                       "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}, **extra}).encode()


def pae(payload: bytes) -> bytes:
    kind = b"application/vnd.in-toto+json"
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def dsse_entry(rekor: Any, payload: bytes, sig: bytes, verifier_pem: bytes, when: int) -> dict[str, Any]:
    body = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256", "value": "00" * 32},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "signatures": [{"signature": base64.b64encode(sig).decode(),
                        "verifier": base64.b64encode(verifier_pem).decode()}]}}
    body_b64 = base64.b64encode(json.dumps(body).encode()).decode()
    log_id = hashlib.sha256(b"log").digest()
    set_payload = {"body": body_b64, "integratedTime": when, "logIndex": 3, "logID": log_id.hex()}
    return {"logIndex": "3", "logId": {"keyId": base64.b64encode(log_id).decode()},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"}, "integratedTime": str(when),
            "inclusionPromise": {
                "signedEntryTimestamp": base64.b64encode(sign(rekor, canonical(set_payload))).decode()},
            "canonicalizedBody": body_b64}


def bundle(payload: bytes, sig: bytes, material: dict[str, Any]) -> bytes:
    return json.dumps({"mediaType": BUNDLE, "verificationMaterial": material,
                       "dsseEnvelope": {"payload": base64.b64encode(payload).decode(),
                                        "payloadType": "application/vnd.in-toto+json",
                                        "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}}).encode()


def evaluate(req: dict[str, Any], blob: bytes, ref: str = IMG) -> Verdict:
    policy = parse_policy(json.dumps({"default": [req]}).encode())
    with PolicyContext(policy) as pc:
        return pc.evaluate(FakeImage(ref, [envelope(BUNDLE, blob, {})]))  # type: ignore[arg-type]


def key_setup(payload: bytes | None = None) -> tuple[Any, bytes]:
    key = ec_key()
    payload = payload or statement()
    return key, bundle(payload, sign(key, pae(payload)), {"publicKey": {"hint": "x"}})


def key_req(key: Any, identity: str = "matchRepository") -> dict[str, Any]:
    return {"type": "sigstoreSigned", "keyData": base64.b64encode(pub_pem(key)).decode(),
            "signedIdentity": {"type": identity}}


@pytest.mark.parametrize(("identity", "allowed", "reason"), [
    ("matchRepository", True, "ALLOWED"),
    ("matchRepoDigestOrExact", False, "IDENTITY_NOT_SIGNED"),
    ("matchExact", False, "IDENTITY_NOT_SIGNED"),
])
def test_digest_only_bundle_identity_rule(identity: str, allowed: bool, reason: str) -> None:
    key, blob = key_setup()
    verdict = evaluate(key_req(key, identity), blob)
    assert verdict.allowed is allowed and verdict.reason == reason, verdict.message
    if not allowed:
        assert "matchRepository" in verdict.message


@pytest.mark.parametrize("identity", [{"type": "exactReference", "dockerReference": IMG},
                                      {"type": "exactRepository", "dockerRepository": "quay.io/ns/app"},
                                      {"type": "remapIdentity", "prefix": "quay.io", "signedPrefix": "q.io"}])
def test_digest_only_bundle_fails_closed_for_name_forms(identity: dict[str, str]) -> None:
    key, blob = key_setup()
    req = key_req(key) | {"signedIdentity": identity}
    assert evaluate(req, blob).reason == "IDENTITY_NOT_SIGNED"


def test_named_bundle_is_judged_like_a_payload_identity() -> None:
    key, blob = key_setup(statement(name=IMG))
    assert evaluate(key_req(key, "matchExact"), blob).allowed
    assert evaluate(key_req(key, "matchExact"), blob, ref="quay.io/ns/app:2").reason == "IDENTITY_MISMATCH"


def test_bundle_for_another_digest_rejected() -> None:
    key, blob = key_setup(statement(digest_hex="ab" * 32))
    assert evaluate(key_req(key), blob).reason == "DIGEST_MISMATCH"


def test_bundle_by_another_key_and_mangled_signature_rejected() -> None:
    _, blob = key_setup()
    assert evaluate(key_req(ec_key()), blob).reason == "INVALID_SIGNATURE"
    key, blob = key_setup()
    data = json.loads(blob)
    data["dsseEnvelope"]["signatures"][0]["sig"] = "!!!"
    assert evaluate(key_req(key), json.dumps(data).encode()).reason == "BUNDLE_INVALID"


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(messageSignature={}) or d.pop("dsseEnvelope"),
    lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle.v0.9+json"),
    lambda d: d.update(unknownMember=1),
    lambda d: d["dsseEnvelope"]["signatures"].append(d["dsseEnvelope"]["signatures"][0]),
], ids=["message-signature", "unknown-version", "unknown-member", "two-signatures"])
def test_malformed_bundles_rejected(mutate: Any) -> None:
    key, blob = key_setup()
    data = json.loads(blob)
    mutate(data)
    assert evaluate(key_req(key), json.dumps(data).encode()).reason == "BUNDLE_INVALID"


@pytest.mark.parametrize("payload", [
    statement().replace(b"sigstore.dev/cosign/sign/v1", b"slsa.dev/provenance/v1"),
    statement().replace(b"Statement/v1", b"Statement/v0.1"),
    json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType":
                "https://sigstore.dev/cosign/sign/v1", "predicate": {}}).encode(),
], ids=["provenance-predicate", "old-statement-type", "no-subject"])
def test_statements_that_are_not_cosign_signatures_rejected(payload: bytes) -> None:
    key, blob = key_setup(payload)
    assert evaluate(key_req(key), blob).reason == "BUNDLE_INVALID"


def test_hundred_megabyte_bundle_fails_fast() -> None:
    key = ec_key()
    start = time.process_time()  # CPU, not wall: a busy machine stretched the wall time past the bound
    verdict = evaluate(key_req(key), b'{"mediaType":"' + BUNDLE.encode() + b'","pad":"' + b"x" * (100 << 20) + b'"}')
    assert verdict.reason == "BUNDLE_INVALID" and "more than" in verdict.message
    assert time.process_time() - start < 10


def test_keyless_bundle_with_rekor_dsse_entry() -> None:
    root = make_cert("fulcio-root", None, ca=True)
    leaf = make_cert("", root, ca=False, email=EMAIL, oidc_issuer_v2=ISSUER)
    rekor = ec_key()
    payload = statement()
    sig = sign(leaf.key, pae(payload))
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf_pem = leaf.cert.public_bytes(Encoding.PEM)
    when = int(NOW.timestamp())
    material = {"certificate": {"rawBytes": base64.b64encode(leaf.cert.public_bytes(Encoding.DER)).decode()},
                "tlogEntries": [dsse_entry(rekor, payload, sig, leaf_pem, when)]}
    req = {"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
           "fulcio": {"caData": base64.b64encode(root.cert.public_bytes(Encoding.PEM)).decode(),
                      "oidcIssuer": ISSUER, "subjectEmail": EMAIL},
           "rekorPublicKeyData": base64.b64encode(pub_pem(rekor)).decode()}
    assert evaluate(req, bundle(payload, sig, material)).allowed
    # no log entry, a log entry by another log, an entry for another signature
    for entries, fragment in (([], "no transparency-log entries"),
                              ([dsse_entry(ec_key(), payload, sig, leaf_pem, when)], "Rekor SET failed"),
                              ([dsse_entry(rekor, payload, b"other", leaf_pem, when)], "does not match")):
        verdict = evaluate(req, bundle(payload, sig, dict(material, tlogEntries=entries)))
        assert verdict.reason == "REKOR_SET_INVALID" and fragment in verdict.message, verdict.message
    # a bundle without inclusion promise (Rekor v2): refused with the reason
    entry = dsse_entry(rekor, payload, sig, leaf_pem, when)
    del entry["inclusionPromise"]
    verdict = evaluate(req, bundle(payload, sig, dict(material, tlogEntries=[entry])))
    assert "Rekor v2 entries are not supported" in verdict.message
    # a key-signed bundle under a Fulcio policy has no certificate
    assert evaluate(req, bundle(payload, sig, {"publicKey": {"hint": "x"}})).reason == "CERTIFICATE_INVALID"
