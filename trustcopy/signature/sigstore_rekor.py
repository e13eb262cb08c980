"""Rekor signed entry timestamps (SETs): proof that a signature was logged, and when.

A SET is the Rekor log's ECDSA signature over the RFC 8785 canonical JSON of
``{"body": B64, "integratedTime": N, "logIndex": N, "logID": HEX}``; ``body`` is the
logged entry. Cosign stores it in the ``dev.sigstore.cosign/bundle`` annotation as
``{"SignedEntryTimestamp": B64, "Payload": {…}}``; a Sigstore bundle carries the same
facts as a transparency-log entry's ``inclusionPromise``.

Verification steps (containers/image ``VerifyRekorSET``, kept in this order):

1. parse the SET strictly (exactly its two members, no duplicates);
2. verify the log's signature over the canonical JSON of the payload with one of the
   policy's Rekor keys (ECDSA only, refused at load time otherwise);
3. parse the *canonicalized* payload (exact members, integers where Go wants int64);
4. the body must be a ``hashedrekord`` 0.0.1 entry (or, for bundles, ``dsse`` 0.0.1)
   whose key or certificate, signature and payload hash are exactly those of the
   signature being checked.

Only then is ``integratedTime`` returned: Fulcio certificates are checked at that time.
Nothing here fetches anything: SETs are verified offline.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from trustcopy.errors import LimitExceededError, SignatureVerificationError
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

SET_ANNOTATION = "dev.sigstore.cosign/bundle"
HASHEDREKORD_VERSION = "0.0.1"
_MAX_SET = 4 << 20
@functools.cache
def _hex() -> re.Pattern[str]:
    """Whole bytes in hexadecimal (compiled on first use, start-up: issue 14)."""
    return re.compile(r"(?:[0-9a-fA-F]{2})*")


def _bad(message: str) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=Reason.REKOR_SET_INVALID, code="rekor-set-invalid")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON number {name}")


def strict_json(data: bytes | str, what: str) -> Any:
    """Bounded JSON with duplicate keys and NaN/Infinity refused (ValueError otherwise)."""
    from trustcopy.limits import load_json

    if len(data) > _MAX_SET:
        raise ValueError(f"{what} is larger than {_MAX_SET} bytes")
    try:
        return load_json(data, what, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except LimitExceededError as exc:
        raise ValueError(exc.message) from None


def exact(value: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """A JSON object with exactly ``keys`` (ValueError otherwise)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what}: JSON object expected")  # noqa: TRY004 - callers map ValueError to a reason
    if set(value) != set(keys):
        raise ValueError(f"{what}: expected exactly the members {', '.join(keys)}, got {', '.join(sorted(value))}")
    return value


def b64(value: Any, what: str) -> bytes:
    """Go's ``[]byte`` JSON decoding: standard base64 (ValueError otherwise)."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: base64 string expected")  # noqa: TRY004 - as above
    from trustcopy.signature.sigstore_keys import go_b64decode

    try:
        return go_b64decode(value)
    except ValueError:
        raise ValueError(f"{what}: invalid base64") from None


def int64(value: Any, what: str) -> int:
    """A JSON integer in int64 range (Go refuses fractions and overflow)."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"{what}: integer expected")
    return value


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) serialization (ValueError for values JCS cannot represent)."""
    import rfc8785

    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from None


def load_rekor_keys(materials: list[bytes], names: list[str]) -> tuple[Any, ...]:
    """Parse the policy's Rekor public keys; each must be an ECDSA key.

    Raises:
        SignatureError: code ``key-invalid``, naming the key.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    from trustcopy.errors import SignatureError
    from trustcopy.signature.sigstore_keys import load_public_key

    keys = []
    for material, name in zip(materials, names, strict=True):
        key = load_public_key(material, f"Rekor public key {name}")
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SignatureError(f"Rekor public key {name} is not using ECDSA", code="key-invalid")
        keys.append(key)
    return tuple(keys)


def verify_set_signature(rekor_keys: tuple[Any, ...], signed_entry_timestamp: bytes, payload: Any) -> bytes:
    """Step 2: the log's signature over the canonical payload; the canonical bytes.

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``.
    """
    from trustcopy.signature.sigstore_keys import verify_message

    try:
        canonical = canonical_json(payload)
    except ValueError as exc:
        raise _bad(f"canonicalizing Rekor SET JSON: {exc}") from None
    if not any(verify_message(key, signed_entry_timestamp, canonical) for key in rekor_keys):
        raise _bad("cryptographic signature verification of Rekor SET failed")
    return canonical


@dataclass(frozen=True)
class LogEntry:
    """A verified SET payload: the logged body and when it was integrated."""

    body: Any
    integrated_time: int
    log_index: int


def parse_set_payload(canonical: bytes) -> LogEntry:
    """Step 3: the canonicalized payload, strictly; the body decoded from base64 JSON.

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``.
    """
    try:
        payload = exact(strict_json(canonical, "Rekor SET payload"),
                        ("body", "integratedTime", "logIndex", "logID"), "Rekor SET payload")
        if not isinstance(payload["logID"], str):
            raise ValueError("logID: string expected")  # noqa: TRY004 - as above
        body = strict_json(b64(payload["body"], "body"), "Rekor entry body")
        return LogEntry(body, int64(payload["integratedTime"], "integratedTime"),
                        int64(payload["logIndex"], "logIndex"))
    except ValueError as exc:
        raise _bad(f"parsing Rekor SET payload: {exc}") from None


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            raise _bad(f'Missing "{".".join(path)}" field in the Rekor entry')
        value = value[key]
    return value


def _single_pem_der(pem: bytes, what: str) -> bytes:
    from trustcopy.errors import SignatureError
    from trustcopy.signature.sigstore_keys import pem_blocks

    try:
        blocks = pem_blocks(pem, what)
    except SignatureError as exc:
        raise _bad(exc.message) from None
    if len(blocks) != 1:
        raise _bad(f"{what} is not exactly one PEM block")
    return blocks[0][1]


def check_entry_kind(body: Any, kind: str) -> dict[str, Any]:
    """The ``spec`` of a logged entry of ``kind`` at version 0.0.1.

    Raises:
        SignatureVerificationError: another kind or version (reason ``REKOR_SET_INVALID``).
    """
    if not isinstance(body, dict):
        raise _bad("the Rekor entry body is not a JSON object")
    if body.get("kind") != kind:
        raise _bad(f"unsupported Rekor entry kind {str(body.get('kind'))[:40]!r} (expected {kind!r})")
    if body.get("apiVersion") is None:
        raise _bad("missing Rekor SET Payload API version")
    if body["apiVersion"] != HASHEDREKORD_VERSION:
        raise _bad(f"unsupported Rekor SET Payload {kind} version {str(body['apiVersion'])[:40]!r}")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise _bad(f"the {kind} entry has no spec object")
    return spec


def match_hashedrekord(body: Any, key_or_cert_der: bytes, signature: bytes, payload: bytes) -> None:
    """Step 4 for cosign attachments: the logged entry must be this very signature.

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``, naming what differs.
    """
    spec = check_entry_kind(body, "hashedrekord")
    try:
        logged_key = b64(_get(spec, "signature", "publicKey", "content"), "signature.publicKey.content")
        logged_sig = b64(_get(spec, "signature", "content"), "signature.content")
    except ValueError as exc:
        raise _bad(f"the hashedrekord entry: {exc}") from None
    if _single_pem_der(logged_key, "publicKey in Rekor SET") != key_or_cert_der:
        raise _bad("publicKey in Rekor SET does not match")
    if logged_sig != signature:
        raise _bad("signature in Rekor SET does not match")
    algorithm = _get(spec, "data", "hash", "algorithm")
    if algorithm != "sha256":
        raise _bad(f'Unexpected "data.hash.algorithm" value {str(algorithm)[:40]!r}')
    value = _get(spec, "data", "hash", "value")
    # Go's hex.DecodeString: hex digits only (bytes.fromhex would also skip whitespace).
    logged_hash = bytes.fromhex(value) if isinstance(value, str) and _hex().fullmatch(value) else None
    if logged_hash is None:
        raise _bad('Invalid "data.hash.value" field in hashedrekord')
    if logged_hash != hashlib.sha256(payload).digest():
        raise _bad("payload in Rekor SET does not match")


def verify_cosign_set(rekor_keys: tuple[Any, ...], set_annotation: str, key_or_cert_der: bytes,
                      signature: bytes, payload: bytes) -> int:
    """Verify a cosign ``dev.sigstore.cosign/bundle`` annotation for this signature.

    Args:
        rekor_keys: the policy's Rekor keys.
        set_annotation: the annotation's value (untrusted).
        key_or_cert_der: DER of the public key (SPKI) or certificate that must be logged.
        signature: the signature bytes that must be logged.
        payload: the signed payload whose SHA-256 must be logged.

    Returns:
        The entry's integrated time (Unix seconds).

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``.
    """
    try:
        parsed = exact(strict_json(set_annotation, "Rekor SET"), ("SignedEntryTimestamp", "Payload"), "Rekor SET")
        set_signature = b64(parsed["SignedEntryTimestamp"], "SignedEntryTimestamp")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"invalid Rekor SET: {exc}") from None
    canonical = verify_set_signature(rekor_keys, set_signature, parsed["Payload"])
    entry = parse_set_payload(canonical)
    match_hashedrekord(entry.body, key_or_cert_der, signature, payload)
    return entry.integrated_time
