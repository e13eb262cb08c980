"""The newest containers/image Rekor SET vectors: signature/internal/rekor_set_test.go.

TestUntrustedRekorSETUnmarshalJSON, TestUntrustedRekorPayloadUnmarshalJSON and
TestVerifyRekorSET (key order, canonicalization failure, every hashedrekord breakFn) are
restated through ``verify_cosign_set`` with material generated here (c/i's rekor-* fixtures
exist only in the newest tree). Every failure is REKOR_SET_INVALID. c/i's
"invalid unverifiedKeyOrCertBytes / base64 signature" inputs have no counterpart: trustcopy's
caller passes the already-parsed certificate's DER and decoded signature bytes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore_material import (
    NOW,
    canonical,
    cert_pem,
    cosign_payload,
    ec_key,
    hashedrekord,
    make_cert,
    pub_pem,
    sign,
)

from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.sigstore_rekor import verify_cosign_set
from trustcopy.signature.sigstore_x509 import certificate_der

REKOR = ec_key()
OTHER = ec_key()  # "mismatchingKey": signed nothing
ROOT = make_cert("root", None, ca=True)
LEAF = make_cert("", ROOT, ca=False, email="test-user@example.com")
LEAF_PEM = cert_pem(LEAF.cert)
PAYLOAD = cosign_payload()
SIGNATURE = sign(LEAF.key, PAYLOAD)
INTEGRATED = 1670870899


def _payload(body: Any, **changes: Any) -> dict[str, Any]:
    payload = {"body": base64.b64encode(json.dumps(body).encode()).decode(), "integratedTime": INTEGRATED,
               "logIndex": 8949589, "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}
    payload.update(changes)
    return payload


def _set(payload: Any, *, key: ec.EllipticCurvePrivateKey = REKOR, signed: bytes | None = None,
         **members: Any) -> str:
    """A SET annotation: the log's signature over the canonical payload (or over ``signed``)."""
    sig = sign(key, canonical(payload) if signed is None else signed)
    return json.dumps({"SignedEntryTimestamp": base64.b64encode(sig).decode(), "Payload": payload, **members})


def verify(annotation: str, keys: tuple[Any, ...] = (REKOR.public_key(),)) -> int:
    return verify_cosign_set(keys, annotation, certificate_der(LEAF.cert), SIGNATURE, PAYLOAD)


def refused(annotation: str, keys: tuple[Any, ...] = (REKOR.public_key(),)) -> str:
    with pytest.raises(SignatureVerificationError) as exc:
        verify(annotation, keys)
    assert exc.value.reason == "REKOR_SET_INVALID"
    return exc.value.message


VALID_BODY = hashedrekord(LEAF_PEM, SIGNATURE, PAYLOAD)


@pytest.mark.parametrize("order", ["only", "first", "second"])
def test_verify_rekor_set_success_with_any_key_order(order: str) -> None:
    keys = {"only": (REKOR.public_key(),), "first": (REKOR.public_key(), OTHER.public_key()),
            "second": (OTHER.public_key(), REKOR.public_key())}[order]
    assert verify(_set(_payload(VALID_BODY)), keys) == INTEGRATED


@pytest.mark.parametrize("keys", [(OTHER.public_key(),), (OTHER.public_key(), ec_key().public_key())],
                         ids=["one", "two"])
def test_verify_rekor_set_mismatched_keys(keys: tuple[Any, ...]) -> None:
    assert "cryptographic signature verification of Rekor SET failed" in refused(_set(_payload(VALID_BODY)), keys)


# --- TestUntrustedRekorSETUnmarshalJSON ---------------------------------------------------------

SET_BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing-SignedEntryTimestamp": lambda v: v.pop("SignedEntryTimestamp"),
    "missing-Payload": lambda v: v.pop("Payload"),
    "extra-member": lambda v: v.update(unexpected=1),
    "extra-critical": lambda v: v.update(critical=1),
    "extra-optional": lambda v: v.update(optional=1),
    "SignedEntryTimestamp-number": lambda v: v.update(SignedEntryTimestamp=1),
    "SignedEntryTimestamp-not-base64": lambda v: v.update(SignedEntryTimestamp="signedTimestamp#@!"),
}


@pytest.mark.parametrize("name", list(SET_BREAKS), ids=list(SET_BREAKS))
def test_rekor_set_breaks(name: str) -> None:
    value = json.loads(_set(_payload(VALID_BODY)))
    SET_BREAKS[name](value)
    refused(json.dumps(value))


@pytest.mark.parametrize("text", ["", "&", "1", "invalid signature", "[]", "null"], ids=repr)
def test_rekor_set_not_an_object(text: str) -> None:
    refused(text)


def test_rekor_set_duplicate_payload_member_refused_by_canonicalization() -> None:
    # "JSON canonicalization fails": a payload with a duplicated member, correctly signed as written.
    raw = '{"logIndex":1, "integratedTime":2,"body":"abc","logID":"def","body":"ABC"}'
    sig = base64.b64encode(sign(REKOR, raw.encode())).decode()
    refused('{"SignedEntryTimestamp":"' + sig + '","Payload":' + raw + "}")


# --- TestUntrustedRekorPayloadUnmarshalJSON (each correctly signed) -------------------------

PAYLOAD_BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing-body": lambda v: v.pop("body"),
    "missing-integratedTime": lambda v: v.pop("integratedTime"),
    "missing-logIndex": lambda v: v.pop("logIndex"),
    "missing-logID": lambda v: v.pop("logID"),
    "extra-member": lambda v: v.update(unexpected=1),
    "body-number": lambda v: v.update(body=1),
    "integratedTime-string": lambda v: v.update(integratedTime="hello"),
    "logIndex-string": lambda v: v.update(logIndex="hello"),
    "logID-number": lambda v: v.update(logID=1),
    "empty-object": lambda v: v.clear(),
}


@pytest.mark.parametrize("name", list(PAYLOAD_BREAKS), ids=list(PAYLOAD_BREAKS))
def test_rekor_payload_breaks(name: str) -> None:
    payload = _payload(VALID_BODY)
    PAYLOAD_BREAKS[name](payload)
    assert "parsing Rekor SET payload" in refused(_set(payload))


# --- TestVerifyRekorSET: "A correctly signed UntrustedRekorPayload is invalid" ---------------

def _x(v: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        v = v[key]
    return v


def _other_key_pem() -> str:
    return base64.b64encode(pub_pem(ec_key())).decode()


HASHEDREKORD_BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing-apiVersion": lambda v: v.pop("apiVersion"),
    "missing-kind": lambda v: v.pop("kind"),
    "missing-spec": lambda v: v.pop("spec"),
    "apiVersion-null": lambda v: v.update(apiVersion=None),
    "apiVersion-number": lambda v: v.update(apiVersion=1),
    "apiVersion-object": lambda v: v.update(apiVersion={}),
    "apiVersion-99.0.99": lambda v: v.update(apiVersion="99.0.99"),
    "kind-null": lambda v: v.update(kind=None),
    "kind-number": lambda v: v.update(kind=1),
    "kind-notHashedRekord": lambda v: v.update(kind="notHashedRekord"),
    "spec-null": lambda v: v.update(spec=None),
    "spec-number": lambda v: v.update(spec=1),
    "missing-spec.data": lambda v: _x(v, "spec").pop("data"),
    "missing-spec.signature": lambda v: _x(v, "spec").pop("signature"),
    "spec.data-null": lambda v: _x(v, "spec").update(data=None),
    "spec.data-number": lambda v: _x(v, "spec").update(data=1),
    "missing-spec.data.hash": lambda v: _x(v, "spec", "data").pop("hash"),
    "spec.data.hash-null": lambda v: _x(v, "spec", "data").update(hash=None),
    "spec.data.hash-number": lambda v: _x(v, "spec", "data").update(hash=1),
    "missing-hash.algorithm": lambda v: _x(v, "spec", "data", "hash").pop("algorithm"),
    "missing-hash.value": lambda v: _x(v, "spec", "data", "hash").pop("value"),
    "hash.algorithm-null": lambda v: _x(v, "spec", "data", "hash").update(algorithm=None),
    "hash.algorithm-number": lambda v: _x(v, "spec", "data", "hash").update(algorithm=1),
    "hash.value-null": lambda v: _x(v, "spec", "data", "hash").update(value=None),
    "hash.value-number": lambda v: _x(v, "spec", "data", "hash").update(value=1),
    "hash.value-odd-hex-digits": lambda v: _x(v, "spec", "data", "hash").update(
        value=hashlib.sha256(PAYLOAD).hexdigest()[:-1]),
    "hash.value-does-not-match": lambda v: _x(v, "spec", "data", "hash").update(
        value=hashlib.sha256(b"mismatch").hexdigest()),
    "non-sha256-hash": lambda v: _x(v, "spec", "data").update(
        hash={"algorithm": "sha512", "value": hashlib.sha512(PAYLOAD).hexdigest()}),
    "spec.signature-null": lambda v: _x(v, "spec").update(signature=None),
    "spec.signature-number": lambda v: _x(v, "spec").update(signature=1),
    "missing-signature.content": lambda v: _x(v, "spec", "signature").pop("content"),
    "missing-signature.publicKey": lambda v: _x(v, "spec", "signature").pop("publicKey"),
    "signature.content-null": lambda v: _x(v, "spec", "signature").update(content=None),
    "signature.content-number": lambda v: _x(v, "spec", "signature").update(content=1),
    "signature.content-empty": lambda v: _x(v, "spec", "signature").update(content=""),
    "signature.content-invalid-base64": lambda v: _x(v, "spec", "signature").update(content="+"),
    "signature.content-does-not-match": lambda v: _x(v, "spec", "signature").update(
        content=base64.b64encode(b"does not match").decode()),
    "publicKey-null": lambda v: _x(v, "spec", "signature").update(publicKey=None),
    "publicKey-number": lambda v: _x(v, "spec", "signature").update(publicKey=1),
    "missing-publicKey.content": lambda v: _x(v, "spec", "signature", "publicKey").pop("content"),
    "publicKey.content-null": lambda v: _x(v, "spec", "signature", "publicKey").update(content=None),
    "publicKey.content-number": lambda v: _x(v, "spec", "signature", "publicKey").update(content=1),
    "publicKey.content-empty": lambda v: _x(v, "spec", "signature", "publicKey").update(content=""),
    "publicKey.content-invalid-base64": lambda v: _x(v, "spec", "signature", "publicKey").update(content="+"),
    "publicKey.content-not-pem": lambda v: _x(v, "spec", "signature", "publicKey").update(
        content=base64.b64encode(b"not PEM").decode()),
    "publicKey.content-two-pem-blocks": lambda v: _x(v, "spec", "signature", "publicKey").update(
        content=base64.b64encode(LEAF_PEM * 2).decode()),
    "publicKey.content-does-not-match": lambda v: _x(v, "spec", "signature", "publicKey").update(
        content=_other_key_pem()),
}


@pytest.mark.parametrize("name", list(HASHEDREKORD_BREAKS), ids=list(HASHEDREKORD_BREAKS))
def test_hashedrekord_breaks(name: str) -> None:
    body = copy.deepcopy(VALID_BODY)
    HASHEDREKORD_BREAKS[name](body)
    assert body != VALID_BODY
    refused(_set(_payload(body, integratedTime=1, logIndex=2, logID="logID")))


def test_hashedrekord_extra_member_is_accepted_as_in_ci() -> None:
    # c/i: "This, along with many other extra fields, is currently accepted."
    body = {**copy.deepcopy(VALID_BODY), "unexpected": 1}
    assert verify(_set(_payload(body))) == INTEGRATED


def test_integrated_time_is_returned_as_logged() -> None:
    assert verify(_set(_payload(VALID_BODY, integratedTime=int(NOW.timestamp())))) == int(NOW.timestamp())
