"""A schema1 manifest signed as containers/image signs one it rewrote: by a throw-away key.

Why this exists: a docker/distribution registry refuses a schema1 manifest without a valid
JWS signature ("manifest invalid"), even under the nominally unsigned media type. So
whenever containers/image re-serializes a schema1 manifest (its layers changed, or its
embedded ``name``/``tag`` updated for the destination) it signs the new bytes with an
ECDSA P-256 key generated for that one manifest and then forgotten
(``manifest.AddDummyV2S1Signature``, docker/libtrust's ``JSONSignature``). The signature
proves nothing about who published the image (nobody holds the key); it only makes the
manifest acceptable. trustcopy does the same, with the ``cryptography`` package.

The format (libtrust's "pretty signature"), restated:
- The payload is the JSON object being signed. Its ``formatLength`` is the length up to and
  including its last non-whitespace byte before the closing ``}``; ``formatTail`` is the rest
  (``}`` and any whitespace). The payload must be an object whose last member is not
  followed by a comma, as Go's ``json.Unmarshal`` into a map reads it (:mod:`_gojson`: no
  ``NaN``, BOM or out-of-range number; invalid UTF-8 inside a string is signed as it is).
- The protected header is ``json.Marshal`` of ``{"formatLength", "formatTail" (base64url),
  "time" (UTC, RFC 3339, seconds)}``, keys sorted; the signed bytes are
  ``base64url(protected) + "." + base64url(payload)`` (base64url without padding throughout).
- The ES256 signature is ``r || s``, each 32 bytes big-endian, base64url.
- Each signature block is ``{"header": {"jwk": {crv, kid, kty, x, y}, "alg": "ES256"},
  "signature", "protected"}``; ``kid`` is libtrust's key ID (``_jwk.key_id``), ``x``/``y``
  the point's 32-byte coordinates.
- The output is the payload's first ``formatLength`` bytes, ``,``, the member
  ``"signatures": [...]`` and ``}``. A payload that starts with ``{`` and a newline is
  "indented": the indentation before its first key (whitespace, newlines included) is used
  for the new member and as both prefix and indent of ``json.MarshalIndent`` of the block
  list; otherwise everything is compact. The manifest's digest stays that of the payload (trustcopy.manifest.digest).
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from trustcopy.manifest import _gojson

_JSON_SPACE = b" \t\n\r"


def _b64url(data: bytes) -> str:
    """libtrust's joseBase64UrlEncode: URL alphabet, no padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _indent(payload: bytes) -> str:
    """libtrust's detectJSONIndent: what stands between ``{\\n`` and the first ``"``, or ""."""
    if len(payload) > 2 and payload[:2] == b"{\n":
        quote = payload.find(b'"', 1)
        if quote > 1:
            return payload[2:quote].decode("utf-8", "replace")
    return ""


def _marshal_indent(blocks: list[dict[str, Any]], indent: str) -> str:
    """Go's ``json.MarshalIndent(blocks, indent, indent)``: every line after the first is the
    prefix, then the indent once per level (both ``indent``, which may itself hold newlines).

    Why not ``json.dumps(indent=…)`` plus a replace: an indent such as ``"  \\n  "`` (a blank
    line before the first key) holds a newline, which the replace would prefix as well.
    json.dumps lays the structure out with tabs (its strings escape tabs and newlines), then
    each line gets its depth in ``indent``.
    """
    lines = json.dumps(blocks, indent="\t").split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        text = line.lstrip("\t")
        out.append(indent * (len(line) - len(text) + 1) + text)
    return "\n".join(out)


def _format_length(payload: bytes) -> int:
    """Where the kept part of the payload ends (see module doc).

    Raises:
        ValueError: the payload does not end with ``}``, or its last member ends with ``,``.
    """
    end = len(payload.rstrip(_JSON_SPACE))
    if end == 0 or payload[end - 1:end] != b"}":
        raise ValueError("schema1 signing: the payload is not a JSON object")
    length = len(payload[:end - 1].rstrip(_JSON_SPACE))
    if length == 0 or payload[length - 1:length] == b",":
        raise ValueError("schema1 signing: the payload is not a JSON object")
    return length


def add_dummy_signature(payload: bytes, *, now: datetime.datetime | None = None) -> bytes:
    """``payload`` (a schema1 manifest's JSON) with one JWS signature by a fresh throw-away key.

    Args:
        payload: the unsigned manifest, as json.Marshal wrote it (any JSON object works).
        now: the signing time (tests); the current time otherwise.

    Raises:
        ValueError: ``payload`` is not a JSON object (API misuse: callers pass their own bytes).
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from trustcopy.manifest._jwk import key_id

    # Go's json.Unmarshal into a map: NaN, a UTF-8 BOM and out-of-range numbers are refused,
    # invalid UTF-8 inside strings is not (Python's json module answers each the other way).
    try:
        decoded = _gojson.decode(_gojson.loads(payload), ("map", "any"), None, "payload")
    except ValueError as exc:  # (JSONDecodeError and GoTypeError included)
        raise ValueError(f"schema1 signing: the payload is not a JSON object: {exc}") from exc
    length = _format_length(payload) if isinstance(decoded, dict) else 0
    if not length:
        raise ValueError("schema1 signing: the payload is not a JSON object")
    when = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    protected = _b64url(json.dumps({"formatLength": length, "formatTail": _b64url(payload[length:]),
                                    "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
                                   separators=(",", ":")).encode("ascii"))
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(f"{protected}.{_b64url(payload)}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    public = key.public_key()
    numbers = public.public_numbers()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = {"crv": "P-256", "kid": key_id(spki), "kty": "EC",
           "x": _b64url(numbers.x.to_bytes(32, "big")), "y": _b64url(numbers.y.to_bytes(32, "big"))}
    blocks: list[dict[str, Any]] = [{"header": {"jwk": jwk, "alg": "ES256"},
                                     "signature": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
                                     "protected": protected}]
    indent = _indent(payload)
    if indent:
        member = f',\n{indent}"signatures": {_marshal_indent(blocks, indent)}\n'
    else:
        member = ',"signatures":' + json.dumps(blocks, separators=(",", ":"))
    return payload[:length] + member.encode("ascii") + b"}"
