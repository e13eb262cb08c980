"""The digest of a manifest, as registries, signatures and skopeo compute it.

For every format but signed schema1 this is the hash of the exact bytes. A signed
schema1 manifest ("pretty JWS") is hashed *without* its signatures: docker/libtrust
records in each signature's protected header how long the signed JSON was
(``formatLength``) and how it ended (``formatTail``); the payload is the first
``formatLength`` bytes plus that tail. Whether a manifest counts as signed schema1 is
decided by :func:`~trustcopy.manifest.mediatypes.guess_mime_type`, exactly as Go does.

WARNING: the JWS signatures themselves are *not* verified here (nor by skopeo): they
prove nothing about who published the image. Only the payload boundaries are read,
and a manifest whose signature block libtrust would refuse to parse has no digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

from trustcopy.digest import ALGORITHMS, CANONICAL, Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson
from trustcopy.manifest.mediatypes import DOCKER_V2S1_SIGNED, guess_from_json

_SIGNATURE = ("struct", {
    "header": ("struct", {"jwk": "any", "alg": "string", "x5c": ("list", "string")}),
    "signature": "string",
    "protected": "string",
})


_ABSENT = object()


def _fail(problem: str) -> ManifestError:
    """The error for a signature block libtrust cannot parse."""
    return ManifestError(f"manifest: signed schema1: {problem}", code="manifest-signature-format")


def _signatures(raw: bytes) -> list[dict[str, Any]]:
    """The decoded signature blocks (libtrust ParsePrettySignature's first steps)."""
    try:
        top = _gojson.loads(raw)
    except ValueError as exc:
        raise _fail(f"error unmarshalling content: {exc}") from exc
    if not isinstance(top, _gojson.GoObject):
        raise _fail("error unmarshalling content: not a JSON object")
    if "signatures" not in top:
        raise _fail('missing "signatures" key')
    try:
        blocks = _gojson.decode(top["signatures"], ("list", _SIGNATURE), None, "signatures")
    except _gojson.GoTypeError as exc:
        raise _fail(f"error unmarshalling signatures: {exc}") from exc
    return blocks or []


def jws_payload(raw: bytes) -> bytes:
    """The signed payload of a pretty-JWS schema1 manifest (its bytes without signatures).

    Raises:
        ManifestError: the signature block is malformed or inconsistent (as libtrust).
    """
    from trustcopy.manifest._jwk import check_jwk, jose_b64decode  # signed schema1 only

    format_length = 0
    format_tail = b""
    for i, block in enumerate(_signatures(raw)):
        try:
            protected = _gojson.loads(jose_b64decode(block.get("protected") or ""))
            header = _gojson.decode(protected, ("map", "any"), None, "protected") or {}
        except ValueError as exc:  # GoTypeError included
            raise _fail(f"signatures[{i}].protected: {exc}") from exc
        length = header.get("formatLength")
        if isinstance(length, bool) or not isinstance(length, int | float):
            raise _fail(f"signatures[{i}]: missing formatted length")
        tail_text = header.get("formatTail")
        if not isinstance(tail_text, str):
            raise _fail(f"signatures[{i}]: missing formatted tail")
        try:
            tail = jose_b64decode(tail_text)
        except ValueError as exc:
            raise _fail(f"signatures[{i}]: base64 decode error on tail: {exc}") from exc
        try:
            length = int(float(length))  # Go: float64 from JSON, then int()
        except (OverflowError, ValueError) as exc:
            raise _fail(f"signatures[{i}]: invalid format length") from exc
        if format_length == 0:
            format_length = length
        elif format_length != length:
            raise _fail("conflicting format length")
        if not format_tail:
            format_tail = tail
        elif format_tail != tail:
            raise _fail("conflicting format tail")
        jwk = (block.get("header") or {}).get("jwk", _ABSENT)
        if jwk is not _ABSENT:
            try:
                check_jwk(jwk)
            except ValueError as exc:
                raise _fail(f"signatures[{i}].header.jwk: error unmarshalling public key: {exc}") from exc
    if format_length > len(raw) or format_length < 0:
        raise _fail("invalid format length")
    return raw[:format_length] + format_tail


def manifest_digest(raw: bytes, algorithm: str = CANONICAL) -> Digest:
    """The digest naming ``raw`` (Go ``manifest.Digest``; see module doc).

    Args:
        raw: manifest bytes exactly as stored or received.
        algorithm: ``sha256`` (what containers/image uses) or another supported one.

    Raises:
        ManifestError: a signed schema1 manifest whose signature block cannot be parsed, or
            JSON nested too deeply to tell whether it is one.
        ValueError: ``algorithm`` is not supported.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    raw = bytes(raw)
    try:
        signed = guess_from_json(_gojson.loads(raw)) == DOCKER_V2S1_SIGNED
    except _gojson.TooDeepError as exc:
        raise ManifestError(f"manifest: {exc}; refusing to guess whether it is a signed schema1 manifest",
                            code="manifest-invalid") from exc
    except ValueError:
        signed = False  # not JSON at all: Go hashes such bytes as they are
    if signed:
        raw = jws_payload(raw)
    return Digest(algorithm, hashlib.new(algorithm, raw).hexdigest())


def matches_digest(raw: bytes, expected: Digest | str) -> bool:
    """Whether ``raw`` is the manifest ``expected`` names (Go ``manifest.MatchesDigest``).

    ``expected`` may be a string; one that is not a valid, supported digest never
    matches (as in Go, where an md5 or mangled digest compares unequal). Unlike
    containers/image (5.23 and the newest), which always hash with sha256, the hash used
    is the expected digest's own algorithm, so an image pulled by a sha512 digest
    reference can be verified. NOT for signatures: a signature's claimed digest must be
    the sha256 one, as c/image checks it (policy/requirements.validate_signed_digest).

    Raises:
        ManifestError: as :func:`manifest_digest` (a signed schema1 manifest whose
            signatures cannot be stripped matches nothing, and says why).
    """
    if isinstance(expected, str):
        try:
            expected = Digest.parse(expected)
        except ValueError:
            manifest_digest(raw)  # still refuse an unparseable signed schema1, as Go does
            return False
    return manifest_digest(raw, expected.algorithm) == expected
