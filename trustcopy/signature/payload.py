"""The simple-signing payload ("atomic container signature", man containers-signature).

What a GPG simple signature signs is this JSON document::

    {"critical": {"identity": {"docker-reference": "docker.io/library/busybox:latest"},
                  "image": {"docker-manifest-digest": "sha256:…"},
                  "type": "atomic container signature"},
     "optional": {"creator": "trustcopy 0.1.0", "timestamp": 1700000000}}

Invariants:
- :func:`build_simple_payload` writes the bytes containers/image writes (Go marshals its
  maps with sorted keys, compactly); a test pins them against a c/i fixture.
- :func:`parse_simple_payload` follows c/i's ``untrustedSignature.UnmarshalJSON``:
  exactly ``critical`` and ``optional`` at the top; in ``critical`` exactly ``type``,
  ``image`` and ``identity``, each with exactly its one member; no duplicated key in any
  of these objects nor in ``optional``; wrong JSON types refused; unknown ``optional``
  members ignored (their contents are never looked at); ``optional.timestamp`` must be
  an integral number. Strings and keys decode as Go decodes them (a lone surrogate escape,
  and each byte of invalid UTF-8 inside a string, reads as U+FFFD; keys are compared so
  decoded), so that a creator string stays printable. The digest is validated here; the reference must at least parse
  as a Docker reference (the caller's identity rules decide whether it is acceptable).
  c/i leaves the reference's syntax to those rules; refusing it here changes only the
  rejection reason (INVALID_PAYLOAD), never the outcome, since every rule parses it.
- Everything parsed is *untrusted*: the only caller that may act on it is the verify
  code, after the cryptographic check (signature/simple.py).
"""

from __future__ import annotations

import math
from typing import Any

from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, SignatureError, SignatureVerificationError
from trustcopy.gojson import go_marshal, go_string
from trustcopy.lazy import dataclass
from trustcopy.limits import load_json
from trustcopy.reasons import Reason

SIGNATURE_TYPE = "atomic container signature"
#: The largest payload we parse; c/i reads signatures of at most 4 MiB, so no more can be signed.
MAX_PAYLOAD_SIZE = 4 << 20


@dataclass(frozen=True)
class UntrustedSimplePayload:
    """A parsed payload whose signature may or may not have been checked.

    WARNING: nothing here may drive a security decision unless it came out of a
    successful cryptographic verification (see signature/simple.py).
    """

    untrusted_docker_manifest_digest: Digest
    untrusted_docker_reference: str
    untrusted_creator_id: str | None = None
    untrusted_timestamp: int | None = None


def build_simple_payload(
    manifest_digest: Digest,
    docker_reference: str,
    *,
    creator: str | None,
    timestamp: int | None,
    signature_type: str = SIGNATURE_TYPE,
) -> bytes:
    """The payload bytes to sign, shaped exactly as c/i's ``MarshalJSON`` shapes them.

    Args:
        manifest_digest: digest of the manifest being signed.
        docker_reference: the identity claimed, normally the fully expanded reference.
        creator: ``optional.creator`` (e.g. ``"trustcopy 0.1.0"``), omitted when None.
        timestamp: ``optional.timestamp`` in Unix seconds, omitted when None.
        signature_type: ``critical.type``; cosign's payload differs only there.

    Returns:
        Compact JSON with Go's sorted map keys.

    Raises:
        SignatureError: the reference is empty (c/i refuses it too).
    """
    if not docker_reference:
        raise SignatureError("cannot sign an empty docker reference", code="signature-create")
    # Go marshals map[string]any with sorted keys; these dicts are written in that order.
    optional: dict[str, Any] = {}
    if creator is not None:
        optional["creator"] = creator
    if timestamp is not None:
        optional["timestamp"] = int(timestamp)
    return go_marshal(
        {
            "critical": {
                "identity": {"docker-reference": docker_reference},
                "image": {"docker-manifest-digest": str(manifest_digest)},
                "type": signature_type,
            },
            "optional": optional,
        }
    )


class _Invalid(Exception):
    """Internal: one parse failure, turned into SignatureVerificationError at the boundary."""


class _Object(list[tuple[str, Any]]):
    """A JSON object kept as its (key, value) pairs, so duplicates stay visible."""


def _reject_constant(name: str) -> Any:
    """Refuse NaN/Infinity, which Python's json accepts and Go's does not."""
    raise _Invalid(f"invalid JSON number {name}")


def _parse_number(text: str) -> float | int:
    """Decode a JSON number as Go would (float64 range) but keep integers exact."""
    # Go decodes JSON numbers into float64 and fails when they overflow it.
    value = float(text)
    if math.isinf(value):
        raise _Invalid(f"JSON number {text[:40]} is out of range")
    return int(text) if text.lstrip("-").isdigit() else value


def _fields(value: Any, where: str, *, exact: tuple[str, ...] | None) -> dict[str, Any]:
    """The members of a JSON object; refuse duplicates and, with ``exact``, other or missing keys."""
    if not isinstance(value, _Object):
        raise _Invalid(f"{where}: JSON object expected, got {_json_type(value)}")
    out: dict[str, Any] = {}
    for raw_key, item in value:
        key = go_string(raw_key)  # Go compares keys as decoded: "a\xff" and "a\xfe" are one key
        if key in out:
            raise _Invalid(f"{where}: duplicate key {key!r}")
        if exact is not None and key not in exact:
            raise _Invalid(f"{where}: unknown key {key!r}")
        out[key] = item
    for key in exact or ():
        if key not in out:
            raise _Invalid(f"{where}: key {key!r} missing")
    return out


def _string(value: Any, where: str) -> str:
    """A JSON string member (null reads as "" like Go's decoder; lone surrogate escapes as U+FFFD)."""
    # Go's decoder leaves a string unchanged (empty) when it meets JSON null.
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{where}: string expected, got {_json_type(value)}")
    return go_string(value)


def _json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Object):
        return "object"
    return "array"


def _timestamp(value: Any) -> int:
    """``optional.timestamp``: a number with an exact int64 value (c/i's rule)."""
    if value is None:  # Go: null leaves the float64 at 0
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"optional.timestamp: number expected, got {_json_type(value)}")
    as_float = float(value)  # c/i decodes into float64, then requires an exact int64
    if not (-(2.0**63) <= as_float < 2.0**63) or as_float != math.floor(as_float):
        raise _Invalid("Field optional.timestamp is not an integer")
    return int(as_float)


def _decode(data: bytes) -> Any:
    """Bounded, strict JSON decoding that keeps objects as pair lists."""
    if len(data) > MAX_PAYLOAD_SIZE:
        raise _Invalid(f"payload of {len(data)} bytes is larger than {MAX_PAYLOAD_SIZE}")
    try:
        # Go's decoder reads each invalid UTF-8 byte inside a string as U+FFFD (outside one it
        # is a syntax error); surrogateescape keeps such bytes as lone surrogates, which
        # go_string then replaces, so that both programs accept the same payloads.
        text = data.decode("utf-8", errors="surrogateescape")
        return load_json(
            text, "signature payload", object_pairs_hook=_Object, parse_constant=_reject_constant,
            parse_float=_parse_number, parse_int=_parse_number,
        )
    except _Invalid:
        raise
    except (UnicodeDecodeError, ValueError, LimitExceededError) as exc:
        raise _Invalid(f"invalid JSON: {exc}") from None


def _parse(data: bytes, signature_type: str = SIGNATURE_TYPE, *, null_optional: bool = False) -> UntrustedSimplePayload:
    """Every rule of the module docstring, in c/i's order; raises _Invalid.

    ``null_optional``: ``"optional": null`` reads as an empty object (cosign writes it;
    c/i accepts it for sigstore payloads only).
    """
    top = _fields(_decode(data), "signature", exact=("critical", "optional"))
    no_optional = null_optional and top["optional"] is None
    optional = {} if no_optional else _fields(top["optional"], "optional", exact=None)
    creator = _string(optional["creator"], "optional.creator") if "creator" in optional else None
    timestamp = _timestamp(optional["timestamp"]) if "timestamp" in optional else None

    critical = _fields(top["critical"], "critical", exact=("type", "image", "identity"))
    sig_type = _string(critical["type"], "critical.type")
    if sig_type != signature_type:
        raise _Invalid(f"Unrecognized signature type {sig_type[:100]!r}")
    image = _fields(critical["image"], "critical.image", exact=("docker-manifest-digest",))
    digest_text = _string(image["docker-manifest-digest"], "critical.image.docker-manifest-digest")
    try:
        digest = Digest.parse(digest_text)
    except ValueError as exc:
        raise _Invalid(f"invalid docker-manifest-digest value {digest_text[:100]!r}: {exc}") from None
    identity = _fields(critical["identity"], "critical.identity", exact=("docker-reference",))
    reference = _string(identity["docker-reference"], "critical.identity.docker-reference")
    _check_reference(reference)
    return UntrustedSimplePayload(digest, reference, creator, timestamp)


def _check_reference(reference: str) -> None:
    """The claimed reference must parse as a (normalized) Docker reference."""
    from trustcopy.errors import InvalidReferenceError
    from trustcopy.reference import parse_normalized_named

    try:
        parse_normalized_named(reference)
    except (InvalidReferenceError, ValueError) as exc:
        raise _Invalid(f"Invalid docker reference {reference[:300]!r} in signature: {exc}") from None


def parse_simple_payload(data: bytes) -> UntrustedSimplePayload:
    """Strictly parse payload bytes (see the module docstring for every rule).

    WARNING: call this only on bytes returned by a successful cryptographic
    verification; the result is still untrusted until digest and identity are checked.

    Args:
        data: the signed payload.

    Returns:
        The untrusted fields.

    Raises:
        SignatureVerificationError: reason ``INVALID_PAYLOAD``, naming the broken rule.
    """
    return parse_payload_of_type(data, SIGNATURE_TYPE, null_optional=False)


def parse_payload_of_type(data: bytes, signature_type: str, *, null_optional: bool) -> UntrustedSimplePayload:
    """:func:`parse_simple_payload` for another ``critical.type`` (cosign's payload has the same shape).

    Raises:
        SignatureVerificationError: reason ``INVALID_PAYLOAD``, naming the broken rule.
    """
    try:
        return _parse(data, signature_type, null_optional=null_optional)
    except _Invalid as exc:
        raise SignatureVerificationError(
            f"invalid signature payload: {exc}", reason=Reason.INVALID_PAYLOAD, code="signature-payload-invalid"
        ) from None
