"""JSON as Go's ``encoding/json`` writes and reads it: the one encoder, and the decoder's rules.

Writing. Manifests, index.json files and signature payloads are hashed, so the exact
bytes matter: producing what containers/image produces keeps digests identical to
skopeo's for the same logical content. Go's Marshal is compact, keeps struct-field order
(we keep dict insertion order, so callers build dicts in Go's field order and apply
``omitempty`` themselves), sorts map keys, writes non-ASCII as UTF-8, spells control
characters ``\\u0008``/``\\u000c`` (not ``\\b``/``\\f``), and escapes ``<``, ``>``, ``&``,
U+2028 and U+2029.

Reading. Every file containers/image reads with ``json.Unmarshal`` (manifests, signature
payloads and envelopes, auth.json, token answers) must get the same answer here, and
Python's ``json`` differs: :func:`loads` takes UTF-8 only (no BOM), turns each invalid
byte inside a string and each lone surrogate escape into U+FFFD, refuses NaN/Infinity,
and keeps every object's key/value pairs in order (:class:`GoObject`), since Go matches
a struct field by a *folded* key (:func:`fold`, :func:`field`) and lets the last match win.
manifest/_gojson.py builds Go's struct decoding on these.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from trustcopy import limits

# Python's escape sequences; matching whole sequences keeps "\\\\b" (a backslash, then b) intact.
_ESCAPE = r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})'  # compiled on first use (re's cache)
_GO_FOR_PY = {"b": "\\u0008", "f": "\\u000c"}
_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _go_escape(m: re.Match[str]) -> str:
    return _GO_FOR_PY.get(m.group(1), m.group(0))


def go_marshal(value: Any) -> bytes:
    """Serialize like Go's json.Marshal of the equivalent struct (see module doc)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return re.sub(_ESCAPE, _go_escape, text).translate(_HTML).encode("utf-8")


def sorted_map(mapping: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy with keys sorted (code-point order), as Go marshals a ``map[string]…``."""
    if mapping is None:
        return None
    return {k: mapping[k] for k in sorted(mapping)}


def _go_replace(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: one U+FFFD per invalid byte, like Go's utf8.DecodeRune loop."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd", exc.start + 1


codecs.register_error("trustcopy-go-replace", _go_replace)


class GoObject(dict[str, Any]):
    """A decoded JSON object: a last-wins dict plus its pairs in document order.

    ``__slots__``: untrusted documents at the size cap hold over a million objects; without
    it each carries an attribute dict too (a 4 MiB manifest of ``{}`` took 700 MB, now 200).
    """

    __slots__ = ("pairs",)
    pairs: list[tuple[str, Any]]


def _object_hook(pairs: list[tuple[str, Any]]) -> GoObject:
    """Build a GoObject from the decoder's pairs."""
    obj = GoObject(pairs)
    obj.pairs = pairs
    return obj


def _parse_int(text: str) -> int | float:
    """An integer literal; one too long for Python's int() is out of range for Go as well
    (where Go decodes it at all), so it becomes ±inf, which every typed decode refuses."""
    if len(text) > 4000:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def _refuse_constant(name: str) -> Any:
    """Refuse NaN/Infinity, which Go's decoder does not accept."""
    raise ValueError(f"invalid JSON value {name}")


_SURROGATE = "[\ud800-\udfff]"  # compiled on first use (re's cache)


def _fix_surrogates(value: Any) -> Any:
    """Replace lone surrogates (from ``\\ud800``-style escapes) with U+FFFD, as Go does."""
    if isinstance(value, str):
        return re.sub(_SURROGATE, "\ufffd", value)
    if isinstance(value, GoObject):
        pairs = [(_fix_surrogates(k), _fix_surrogates(v)) for k, v in value.pairs]
        return _object_hook(pairs)
    if isinstance(value, list):
        return [_fix_surrogates(v) for v in value]
    return value


def loads(data: bytes) -> Any:
    """Parse ``data`` as Go's json.Unmarshal would see it (objects are :class:`GoObject`).

    Raises:
        ValueError: the bytes are not valid JSON for Go (message says where).
    """
    if limits.json_depth_exceeds(data):
        raise TooDeepError(f"JSON nested more than {limits.MAX_JSON_DEPTH} levels deep")
    text = data.decode("utf-8", errors="trustcopy-go-replace")
    value = json.loads(text, object_pairs_hook=_object_hook, parse_constant=_refuse_constant,
                       parse_int=_parse_int)
    if "\\u" in text or "\\U" in text:
        value = _fix_surrogates(value)
    return value


def loads_first(data: bytes) -> Any:
    """The first JSON value of ``data``, as Go's ``json.NewDecoder(r).Decode`` reads it.

    containers/image reads some files (an OCI layout's index.json) with a Decoder, which
    skips leading whitespace, decodes one value and never looks at what follows it: a
    file with bytes after its value is read as the value alone. Otherwise as :func:`loads`
    (same depth bound, same U+FFFD replacements).

    Raises:
        ValueError: no JSON value at the start of ``data`` (an empty file is one).
    """
    if limits.json_depth_exceeds(data):
        raise TooDeepError(f"JSON nested more than {limits.MAX_JSON_DEPTH} levels deep")
    text = data.decode("utf-8", errors="trustcopy-go-replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))  # Go's JSON whitespace only
    decoder = json.JSONDecoder(object_pairs_hook=_object_hook, parse_constant=_refuse_constant,
                               parse_int=_parse_int)
    value, _end = decoder.raw_decode(text, start)
    if "\\u" in text or "\\U" in text:
        value = _fix_surrogates(value)
    return value


class TooDeepError(ValueError):
    """Valid JSON we refuse to walk (limits.MAX_JSON_DEPTH; Go allows 10000 levels): callers
    must not treat it as "not JSON"."""


#: Non-ASCII runes that Go's field-name folding turns into an ASCII letter. Go 1.21+ folds
#: each rune as ``unicode.ToUpper(unicode.ToLower(r))`` (dotted and dotless I reach "I");
#: Go 1.19, which Debian's skopeo 1.9.3 is built with, folded only the Kelvin sign and the
#: long s. We follow the newest.
_FOLD_TO_ASCII = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


def fold(key: str) -> str:
    """The key as Go's struct-field matching compares it: ASCII case ignored, plus the runes above."""
    if key.isascii():
        return key.lower()
    return "".join(_FOLD_TO_ASCII.get(c, c.lower() if c.isascii() else c) for c in key)


def go_string(value: str) -> str:
    """A string as Go's decoder returns it: each lone surrogate (from a ``\\ud800`` escape,
    or an invalid byte kept by ``surrogateescape``) becomes U+FFFD, so it stays printable
    and re-marshalable."""
    if value.isascii():
        return value
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)


def field(obj: GoObject, name: str) -> tuple[bool, Any]:
    """Go's view of struct field ``name`` in ``obj``: (present, value of the last match)."""
    want = fold(name)
    for key, value in reversed(obj.pairs):
        if key == name or fold(key) == want:
            return True, value
    return False, None
