"""Whether Go reads a manifest with repeated keys the way trustcopy's readers do.

trustcopy's readers (``_fields``) see the *last* occurrence of a repeated key. Go's
``json.Unmarshal`` does more with the earlier ones (checked against containers/image's
``FromBlob``/``ListFromBlob`` by tests/unit/manifest/test_manifest_goracle.py):

- every occurrence must fit the field's type: ``{"layers": 2, "layers": []}`` fails in Go;
- a repeated object (struct, map, pointer) is decoded *into* what the earlier occurrence
  left, so fields only the earlier one has survive (``annotations`` merge, a ``config``
  keeps the earlier ``urls``);
- a repeated array is decoded into the earlier slice element by element (and may even
  bring back elements of an occurrence before that, from the slice's spare capacity).

A manifest Go cannot read is refused (``manifest-invalid``). One whose repeated keys make
Go's reading differ from the last-wins one, or that repeats a non-empty array with
different contents, is refused as ambiguous: two readers would see two manifests. A key
repeated with the same value, or overridden entirely, keeps being accepted, as in Go.
"""

from __future__ import annotations

from typing import Any

from trustcopy.manifest import _fields as f
from trustcopy.manifest import _gojson
from trustcopy.manifest import mediatypes as mt

_STRINGS = ("list", "string")
_PLATFORM = ("struct", {"architecture": "string", "os": "string", "os.version": "string",
                        "os.features": _STRINGS, "variant": "string"})
_DOCKER_PLATFORM = ("struct", {**_PLATFORM[1], "features": _STRINGS})
_OCI_DESCRIPTOR = ("struct", {
    "mediaType": "string", "digest": "string", "size": "int", "urls": _STRINGS, "annotations": ("map", "string"),
    "data": "bytes", "platform": ("ptr", _PLATFORM), "artifactType": "string",
})
_SCHEMA2_DESCRIPTOR = ("struct", {"mediaType": "string", "size": "int", "digest": "string", "urls": _STRINGS})

#: The Go structs containers/image decodes each manifest type into (image-spec 1.1 fields
#: included, as the newest containers/image reads them).
SPECS: dict[str, Any] = {
    mt.DOCKER_V2S2: ("struct", {"schemaVersion": "int", "mediaType": "string", "config": _SCHEMA2_DESCRIPTOR,
                                "layers": ("list", _SCHEMA2_DESCRIPTOR)}),
    mt.OCI_MANIFEST: ("struct", {"schemaVersion": "int", "mediaType": "string", "artifactType": "string",
                                 "config": _OCI_DESCRIPTOR, "layers": ("list", _OCI_DESCRIPTOR),
                                 "subject": ("ptr", _OCI_DESCRIPTOR), "annotations": ("map", "string")}),
    mt.DOCKER_V2_LIST: ("struct", {"schemaVersion": "int", "mediaType": "string", "manifests": (
        "list", ("struct", {**_SCHEMA2_DESCRIPTOR[1], "platform": _DOCKER_PLATFORM}))}),
    mt.OCI_INDEX: ("struct", {"schemaVersion": "int", "mediaType": "string", "artifactType": "string",
                              "manifests": ("list", _OCI_DESCRIPTOR), "subject": ("ptr", _OCI_DESCRIPTOR),
                              "annotations": ("map", "string")}),
    mt.DOCKER_V2S1: ("struct", {"name": "string", "tag": "string", "architecture": "string",
                                "fsLayers": ("list", ("struct", {"blobSum": "string"})),
                                "history": ("list", ("struct", {"v1Compatibility": "string"})),
                                "schemaVersion": "int"}),
}
SPECS[mt.DOCKER_V2S1_SIGNED] = SPECS[mt.DOCKER_V2S1]


def identical(a: Any, b: Any) -> bool:
    """Same JSON, key order and repeats included (``1`` is not ``1.0`` nor ``true``)."""
    if isinstance(a, _gojson.GoObject) and isinstance(b, _gojson.GoObject):
        return len(a.pairs) == len(b.pairs) and all(
            ka == kb and identical(va, vb) for (ka, va), (kb, vb) in zip(a.pairs, b.pairs, strict=True))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def last_wins(value: Any) -> Any:
    """``value`` with every object reduced to the last occurrence of each key."""
    if isinstance(value, _gojson.GoObject):
        kept = {k: last_wins(v) for k, v in value.pairs}
        out = _gojson.GoObject(kept)
        out.pairs = list(kept.items())
        return out
    if isinstance(value, list):
        return [last_wins(v) for v in value]
    return value


def _repeated_arrays(value: Any, spec: Any, path: str) -> None:
    """Refuse an array field repeated with different contents after a non-empty one."""
    kind = spec if isinstance(spec, str) else spec[0]
    if kind == "ptr":
        _repeated_arrays(value, spec[1], path)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _repeated_arrays(item, spec[1], f"{path}[{i}]")
    elif kind == "map" and isinstance(value, _gojson.GoObject):
        for key, item in value.pairs:
            _repeated_arrays(item, spec[1], f.join(path, key))
    elif kind == "struct" and isinstance(value, _gojson.GoObject):
        fields = spec[1]
        by_fold = {_gojson.fold(n): n for n in fields}
        seen: dict[str, list[Any]] = {}
        for key, item in value.pairs:
            name = key if key in fields else by_fold.get(_gojson.fold(key))
            if name is not None:
                seen.setdefault(name, []).append(item)
        for name, items in seen.items():
            sub = fields[name]
            if (sub if isinstance(sub, str) else sub[0]) == "list" and len(items) > 1 and any(
                    isinstance(v, list) and v and not identical(v, items[-1]) for v in items[:-1]):
                f.fail(f.join(path, name), "repeated with different arrays, which Go merges element by element; "
                                           "the manifest is ambiguous", code="manifest-ambiguous")
            for item in items:
                _repeated_arrays(item, sub, f.join(path, name))


def check(value: _gojson.GoObject, media_type: str) -> None:
    """Refuse ``value`` (parsed as ``media_type``) where Go's reading is not trustcopy's.

    Raises:
        ManifestError: ``manifest-invalid`` where Go's Unmarshal fails (an earlier occurrence
            of a repeated key has the wrong type), ``manifest-ambiguous`` where repeated keys
            make Go see something else than the last occurrences.
    """
    if not any(len(o.pairs) != len(o) for o in objects(value)):
        return  # no repeated key anywhere: the typed readers already read it as Go does
    spec = SPECS[media_type]
    try:
        go = _gojson.decode(value, spec, {})
    except _gojson.GoTypeError as exc:
        f.fail(exc.path, f"a repeated key's earlier value cannot be read by Go: {exc.problem}")
    _repeated_arrays(value, spec, "")
    last = _gojson.decode(last_wins(value), spec, {})
    if go != last:
        where = next((k for k in spec[1] if go.get(k) != last.get(k)), "")
        f.fail(where, "repeated keys whose values Go merges into a different reading than the last one; "
                      "the manifest is ambiguous", code="manifest-ambiguous")


def objects(value: Any) -> list[_gojson.GoObject]:
    """Every object in ``value``, itself included."""
    out: list[_gojson.GoObject] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _gojson.GoObject):
            out.append(item)
            stack.extend(v for _, v in item.pairs)
        elif isinstance(item, list):
            stack.extend(item)
    return out
