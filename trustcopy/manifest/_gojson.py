"""Read and write JSON the way Go's ``encoding/json`` does, for manifest work.

containers/image decides what a manifest *is* (GuessMIMEType), whether it parses and
what a conversion writes with Go's ``json.Unmarshal``/``json.Marshal``. Where Python's
``json`` module behaves differently, the same bytes would get a different answer from
trustcopy than from skopeo. This module closes the gaps that matter:

- Input is UTF-8 only (no BOM sniffing); each invalid byte inside a string becomes
  U+FFFD, as does a lone UTF-16 surrogate escape. ``NaN``/``Infinity`` are refused.
- Objects remember their key/value pairs in document order (:class:`GoObject`), because
  Go matches a struct field by *case-insensitive* key and lets the last match win,
  and because a repeated struct/map key *merges* into what was decoded before.
- :func:`decode` replays Go's decoding into a struct described by a small spec
  (``"string"``, ``"int"``, ``("list", spec)``, ``("struct", {...})`` …), including
  its type errors, so that "Go would fail to unmarshal this" is answered exactly.
- :func:`marshal` writes compact JSON with Go's string escaping (``\\u0008`` rather than
  ``\\b``; ``<``, ``>``, ``&``, U+2028, U+2029 escaped). Callers build dicts in Go struct
  field order and apply ``omitempty`` themselves.

Known, accepted differences: nesting deeper than :data:`MAX_DEPTH` is refused with
:class:`TooDeepError` (Go allows 10000 levels; Python's recursive parser would overflow
first); Go parses RFC 3339 times from the raw token, so a time written with ``\\u``
escapes fails in Go but is accepted here.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from trustcopy.gojson import (  # noqa: F401 - re-exported: manifest code reads Go JSON through this module
    GoObject,
    TooDeepError,
    field,
    fold,
    go_marshal,
    loads,
)

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def case_variants(obj: GoObject, names: frozenset[str]) -> list[tuple[str, str]]:
    """Keys that are not ``names`` themselves but that Go would read as one of them."""
    folded = {fold(n): n for n in names}
    return [(k, folded[fold(k)]) for k, _ in obj.pairs if k not in names and fold(k) in folded]


class GoTypeError(ValueError):
    """Go's json.Unmarshal would report an UnmarshalTypeError (or a field's own error) at ``path``."""

    def __init__(self, path: str, problem: str) -> None:
        """Record where (``path``) and what (``problem``) went wrong."""
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


Spec = Any  # str | tuple[str, Spec] | tuple[str, dict[str, Spec]]


def decode(value: Any, spec: Spec, current: Any = None, path: str = "") -> Any:
    """Decode ``value`` into a Go value of type ``spec``, starting from ``current``.

    Specs: ``"string"``, ``"bool"``, ``"int"`` (int64), ``"bytes"`` (base64 string),
    ``"time"`` (RFC 3339 string, returned re-formatted as Go marshals it), ``"any"``,
    ``("list", elem)``, ``("map", elem)`` (string keys), ``("struct", {name: spec})``,
    ``("ptr", spec)`` (a pointer: null sets it to None, a value merges into what it points to).
    A struct decodes to a dict keyed by the Go names; null leaves scalars and structs
    unchanged and sets lists, maps, byte slices, pointers and interfaces to None, like Go.

    Raises:
        GoTypeError: naming ``path``, where Go's Unmarshal would fail.
    """
    kind = spec if isinstance(spec, str) else spec[0]
    if value is None:
        return current if kind in ("string", "bool", "int", "struct") else None
    if kind == "string":
        if isinstance(value, str):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and _INT64_MIN <= value <= _INT64_MAX:
            return value
    elif kind == "bytes":
        if isinstance(value, str):
            try:
                return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise GoTypeError(path, "illegal base64 data") from exc
    elif kind == "time":
        if isinstance(value, str):
            return reformat_time(value, path)
    elif kind == "any":
        _check_numbers(value, path)
        return value
    elif kind == "list":
        if isinstance(value, list):
            return _decode_list(value, spec[1], current, path)
    elif kind == "map":
        if isinstance(value, GoObject):
            # Go decodes into the map already there, in place (a map is a reference): copying
            # it for each repeat of the key made a big map followed by many ``{}`` quadratic.
            out = current if isinstance(current, GoMap) else GoMap(current or {})
            for k, v in value.pairs:
                out[k] = decode(v, spec[1], zero(spec[1]), f"{path}.{k}" if path else k)
            return out
    elif kind == "struct":
        if isinstance(value, GoObject):
            return _decode_struct(value, spec[1], current, path)
    elif kind == "ptr":  # a pointer: null makes it nil (above); a value decodes into what it points to
        return decode(value, spec[1], current, path)
    else:  # pragma: no cover - programming error in a spec
        raise ValueError(f"unknown spec {spec!r}")
    raise GoTypeError(path, f"cannot unmarshal {_json_kind(value)} into a Go {kind}")


class GoMap(dict[str, Any]):
    """A decoded Go map: decoding a repeated key merges into it *in place*, as Go's map (a reference) does.

    Only maps :func:`decode` made itself are reused that way; a plain dict passed in as
    ``current`` is copied first, so a caller's dict is never changed.
    """


class GoSlice(list[Any]):
    """A decoded Go slice: its elements, plus the whole backing array (``cap`` long) they live in.

    Go decodes a JSON array into the slice already there (a repeated or case-folded key): element
    ``i`` is decoded *onto* what the backing array holds at ``i``, so a struct element merges and a
    null element keeps the earlier value; a shorter array truncates the length but keeps the
    backing array, whose elements the next longer array then reuses.
    """

    backing: list[Any]


def _decode_list(value: list[Any], elem: Spec, current: Any, path: str) -> GoSlice:
    """Go's ``decodeState.array`` into the slice ``current`` (growth as reflect's: cap*1.5, at least 4)."""
    out = GoSlice()
    if not value:  # Go allocates a new, empty slice
        out.backing = []
        return out
    if isinstance(current, GoSlice):
        # Decoded in place, as Go does: copying the backing array for each repeat of the key
        # made a long array followed by many short ones quadratic. The slice ``current``
        # itself (its visible elements) is never changed, only the backing it hands on.
        backing = current.backing
    else:
        backing = list(current) if isinstance(current, list) else []
    for i, v in enumerate(value):
        if i >= len(backing):  # grow: the first ``i`` elements are copied, the rest are zero
            backing = backing[:i] + [zero(elem)] * (max(len(backing) + len(backing) // 2, 4) - i)
        backing[i] = decode(v, elem, backing[i], f"{path}[{i}]")
    out.extend(backing[:len(value)])
    out.backing = backing
    return out


def zero(spec: Spec) -> Any:
    """Go's zero value for ``spec`` (what a null list/map element decodes to)."""
    kind = spec if isinstance(spec, str) else spec[0]
    return {"string": "", "bool": False, "int": 0, "struct": {}}.get(kind)


def _decode_struct(value: GoObject, fields: dict[str, Spec], current: Any, path: str) -> dict[str, Any]:
    """Decode an object into a struct: fold-matched keys, in order, merging repeats."""
    out: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    by_fold = folded_fields(fields)
    for key, v in value.pairs:
        name = key if key in fields else by_fold.get(fold(key))
        if name is None:
            continue
        sub = f"{path}.{name}" if path else name
        out[name] = decode(v, fields[name], out.get(name), sub)
    return out


_FOLDED: dict[int, tuple[dict[str, Spec], dict[str, str]]] = {}


def folded_fields(fields: dict[str, Spec]) -> dict[str, str]:
    """``{fold(name): name}`` for a struct spec's fields, computed once per spec (specs are
    module constants): folding every field name again for each of a million small objects
    was most of the decoding time of a hostile 4 MiB document."""
    cached = _FOLDED.get(id(fields))
    if cached is not None and cached[0] is fields:
        return cached[1]
    by_fold = {fold(n): n for n in fields}
    if len(_FOLDED) < 256:  # the spec keeps its id valid while it is held here
        _FOLDED[id(fields)] = (fields, by_fold)
    return by_fold


def _check_numbers(value: Any, path: str) -> None:
    """Go decodes numbers into interface{} as float64: out-of-range literals fail."""
    if isinstance(value, float) and not math.isfinite(value):
        raise GoTypeError(path, "number out of range")
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError as exc:
            raise GoTypeError(path, "number out of range") from exc
    elif isinstance(value, GoObject):
        for k, v in value.pairs:
            _check_numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_numbers(v, f"{path}[{i}]")


def _json_kind(value: Any) -> str:
    """JSON type of ``value`` as Go's errors name it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# Go 1.19 time.Parse(RFC3339) as used by time.Time.UnmarshalJSON: two-digit month, day,
# minute and second; one- or two-digit hour; optional "." or "," fraction of any length
# (only 9 digits kept); "Z" or ±hh:mm.
#: Compiled on first use (re's cache): most commands read no time at all.
_TIME = r"(\d{4})-(\d\d)-(\d\d)T(\d\d?):(\d\d):(\d\d)(?:[.,](\d+))?(?:(Z)|([+-])([+-]?\d+):([+-]?\d+))"


def _days_in(month: int, year: int) -> int:
    """Days in ``month`` of ``year`` (proleptic Gregorian, year 0 is leap, as in Go)."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def reformat_time(text: str, path: str = "") -> str:
    """Parse an RFC 3339 time as Go 1.19 does and return Go's RFC3339Nano rendering.

    Raises:
        GoTypeError: Go's parser (or MarshalJSON's year check) would refuse it.
    """
    m = re.fullmatch(_TIME, text, re.ASCII)
    if m is None or (m.group(9) and (len(m.group(10)) != 2 or len(m.group(11)) != 2)):
        raise GoTypeError(path, f"{text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    if not (1 <= month <= 12 and hour < 24 and minute < 60 and sec < 60 and 1 <= day <= _days_in(month, year)):
        raise GoTypeError(path, f"{text!r} is out of range")
    frac = (m.group(7) or "")[:9].ljust(9, "0").rstrip("0")
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}"
    if frac:
        out += "." + frac
    if m.group(8):
        return out + "Z"
    offset = int(m.group(10)) * 60 + int(m.group(11))
    if m.group(9) == "-":
        offset = -offset
    if offset == 0:
        return out + "Z"
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return out + f"{sign}{offset // 60:02d}:{offset % 60:02d}"


marshal = go_marshal  # the one Go-compatible encoder lives in trustcopy/gojson.py


def sorted_map(mapping: dict[str, Any]) -> dict[str, Any]:
    """A copy with keys in Go's map marshalling order (byte-wise, which is code-point order)."""
    return {k: mapping[k] for k in sorted(mapping)}
