"""An OCI layout's ``index.json``, read as containers/image reads it.

containers/image decodes index.json with Go's ``json.NewDecoder(f).Decode`` into the
image-spec ``Index`` struct (the newest c/image: image-spec 1.1, with ``artifactType`` and
``subject``). Reading it with plain Python JSON chose other images, or refused layouts Go
reads, in these ways, each now read as Go reads it:

- keys match struct fields in any letter case (Go's folding, :func:`trustcopy.gojson.fold`):
  ``"Manifests"``, ``"MediaType"``, ``"Annotations"`` count, the last occurrence winning;
- a value of the wrong type anywhere in a known field (a number as an annotation value or
  a ``mediaType``, a fraction or an out-of-int64 ``size``, bad base64 in ``data``) makes
  the whole file unreadable, also in entries nobody chose;
- ``null`` gives the zero value: a ``null`` file or ``"manifests": null`` is an empty
  index, a ``null`` entry an empty descriptor, ``null`` annotation values ``""``;
- invalid UTF-8 inside strings reads as U+FFFD; bytes after the first JSON value are
  never looked at;
- a negative ``size`` is read (only the chosen entry's size is checked, against its blob).

Repeated keys follow :mod:`trustcopy.manifest._goview`: Go decodes a repeated object or
array *into* the earlier one (annotations merge, array elements merge one by one); an
index.json whose reading that way differs from reading each key's last occurrence is
refused as ambiguous (``oci-index-ambiguous``), one Go cannot read as invalid.

NOTE(go-diff): as the newest containers/image (image-spec 1.1.1), ``subject`` and
``artifactType`` of the index are read, so a wrongly typed one is refused; 5.23 (skopeo
1.9.3) has no such fields and ignores them. Key folding is the newest Go's (dotted and
dotless I match ``i``; Go 1.19 matched only the Kelvin sign and the long s beyond ASCII).
Nesting deeper than limits.MAX_JSON_DEPTH is refused (``limit-exceeded``), also in bytes
after the value, which Go would not look at: fail closed.

Unknown fields of the index and of its entries are kept (a destination rewrites them as
they were, c/image drops them: docs/ARCHITECTURE.md); known fields get their canonical
names and Go's values, so a rewritten index.json reads the same to both tools.
"""

from __future__ import annotations

import base64
from typing import Any

from trustcopy import gojson, limits
from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson, _goview
from trustcopy.manifest import mediatypes as mt

#: imgspecv1.Index and its Descriptor, as the newest containers/image decodes them.
_INDEX: Any = _goview.SPECS[mt.OCI_INDEX]
_DESCRIPTOR: Any = _INDEX[1]["manifests"][1]


def parse_index(raw: bytes, path: str, what: str) -> dict[str, Any]:
    """index.json as containers/image reads it, plus the unknown fields it ignores.

    Returns a dict whose ``manifests`` is always a list of descriptor dicts. Known fields
    carry their canonical names and Go's values (``data`` as base64 text); a known field
    that Go reads as its zero value because it is ``null`` is left out.

    Raises:
        LimitExceededError: nested more than limits.MAX_JSON_DEPTH levels.
        ManifestError: ``oci-index-invalid`` where Go's decoder fails (naming the field),
            ``oci-index-ambiguous`` where repeated keys make Go read something else than
            their last occurrences.
    """
    limits.check_json_depth(raw, path)
    try:
        value = gojson.loads_first(raw)
    except ValueError as exc:
        raise ManifestError(f"{what}: {path} is not valid JSON: {exc}", code="oci-index-invalid") from exc
    try:
        go = _gojson.decode(value, _INDEX, {})
    except _gojson.GoTypeError as exc:
        raise ManifestError(f"{what}: {path}: {exc.path or 'the index'}: {exc.problem}",
                            code="oci-index-invalid", context={"field": exc.path}) from exc
    if isinstance(value, gojson.GoObject):
        _refuse_ambiguous(value, path, what)
    else:  # null: Go leaves the Index at its zero value
        value = _object([])
    index = _with_unknown_fields(value, go, _INDEX[1])
    raw_manifests = _last_field(value, "manifests", _INDEX[1])
    entries = go.get("manifests") or []
    index["manifests"] = [
        _with_unknown_fields(item if isinstance(item, gojson.GoObject) else _object([]), entry, _DESCRIPTOR[1])
        for item, entry in zip(raw_manifests if isinstance(raw_manifests, list) else [], entries, strict=True)
    ]
    return index


def _object(pairs: list[tuple[str, Any]]) -> gojson.GoObject:
    obj = gojson.GoObject(pairs)
    obj.pairs = pairs
    return obj


def _field_name(key: str, fields: dict[str, Any]) -> str | None:
    """The struct field Go decodes ``key`` into (exact name first, then folded), or None."""
    if key in fields:
        return key
    return _gojson.folded_fields(fields).get(gojson.fold(key))  # field names fold apart: one match at most


def _last_field(value: gojson.GoObject, name: str, fields: dict[str, Any]) -> Any:
    """The last occurrence of struct field ``name`` in ``value`` (in any letter case)."""
    for key, item in reversed(value.pairs):
        if _field_name(key, fields) == name:
            return item
    return None


def _go_value(value: Any, spec: Any) -> Any:
    """A decoded Go value as JSON again: ``[]byte`` fields back to base64 (as Go marshals them)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    kind = spec if isinstance(spec, str) else spec[0]
    if kind == "ptr":
        return _go_value(value, spec[1])
    if kind == "struct" and isinstance(value, dict):
        return {k: _go_value(v, spec[1][k]) for k, v in value.items() if v is not None}
    return value


def _with_unknown_fields(raw: gojson.GoObject, go: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Go's decoded struct ``go`` plus the keys of ``raw`` it ignores, in document order."""
    out: dict[str, Any] = {}
    for key, _item in raw.pairs:
        name = _field_name(key, fields)
        if name is None:
            out[key] = raw[key]  # the last occurrence
        elif name not in out and go.get(name) is not None:
            out[name] = _go_value(go[name], fields[name])
    return out


def _refuse_ambiguous(value: gojson.GoObject, path: str, what: str) -> None:
    """Refuse repeated keys that Go merges into another reading than their last occurrence.

    Raises:
        ManifestError: ``oci-index-ambiguous``, naming the field.
    """
    if not any(_has_repeats(o) for o in _goview.objects(value)):
        return  # nothing repeated, in any letter case: the decoded value is Go's reading
    where = _repeated_lists(value, _INDEX, "")
    if where is None:
        go = _gojson.decode(value, _INDEX, {})
        last = _gojson.decode(_goview.last_wins(value), _INDEX, {})
        if go == last:
            return
        where = next((k for k in _INDEX[1] if go.get(k) != last.get(k)), "")
    raise ManifestError(f"{what}: {path}: {where or 'the index'}: repeated keys that Go merges into another "
                        "reading than their last occurrence; the index is ambiguous",
                        code="oci-index-ambiguous", context={"field": where})


def _has_repeats(obj: gojson.GoObject) -> bool:
    return len({gojson.fold(k) for k, _ in obj.pairs}) != len(obj.pairs)








def _repeated_lists(value: Any, spec: Any, path: str) -> str | None:
    """Where an array field repeats (in any letter case) after a different, non-empty one.

    Go decodes the later array into the earlier one element by element, which
    :func:`trustcopy.manifest._gojson.decode` does not replay: such a file is ambiguous.
    """
    kind = spec if isinstance(spec, str) else spec[0]
    if kind == "ptr":
        return _repeated_lists(value, spec[1], path)
    if kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _repeated_lists(item, spec[1], f"{path}[{i}]")) is not None:
                return found
    elif kind == "map" and isinstance(value, gojson.GoObject):
        for key, item in value.pairs:
            if (found := _repeated_lists(item, spec[1], f"{path}.{key}")) is not None:
                return found
    elif kind == "struct" and isinstance(value, gojson.GoObject):
        fields = spec[1]
        seen: dict[str, list[Any]] = {}
        for key, item in value.pairs:
            name = _field_name(key, fields)
            if name is not None:
                seen.setdefault(name, []).append(item)
        for name, items in seen.items():
            sub = fields[name]
            where = f"{path}.{name}" if path else name
            if (sub if isinstance(sub, str) else sub[0]) == "list" and any(
                    isinstance(v, list) and v and not _goview.identical(v, items[-1]) for v in items[:-1]):
                return where
            for item in items:
                if (found := _repeated_lists(item, sub, where)) is not None:
                    return found
    return None
