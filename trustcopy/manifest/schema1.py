"""Docker schema1 manifests (signed and unsigned): read (never re-encoded).

Schema1 is deprecated; trustcopy reads it (to copy such images, to compute digests, to
inspect them). Converting it to schema2/OCI, and rewriting one whose layers or embedded
name a copy changed (signed by a throw-away key, as containers/image does), is
:mod:`trustcopy.manifest.schema1convert`'s and :mod:`trustcopy.manifest.schema1sign`'s work.

Invariants (those of containers/image's ``Schema1FromManifest``):
- ``fsLayers`` and ``history`` have the same, non-zero length; every history entry's
  ``v1Compatibility`` is a JSON object Go can decode, with a 64-hex ``id``.
- IDs form a parent chain ending at a base without parent; an ID may only repeat in
  consecutive entries, and such repeats are collapsed (the older entry is kept).
- ``layers`` is base first and keeps empty ("throwaway") layers, flagged in
  ``empty_layers``; digests may repeat and repeats are meaningful.
"""

from __future__ import annotations

import json
import re
from typing import Any

from trustcopy.digest import Digest
from trustcopy.lazy import dataclass
from trustcopy.manifest import _fields as f
from trustcopy.manifest import _gojson
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.model import Descriptor, ImageManifest

_TOP_KEYS = frozenset({"schemaVersion", "name", "tag", "architecture", "fsLayers", "history", "signatures"})
_V1_COMPATIBILITY = ("struct", {
    "id": "string", "parent": "string", "comment": "string", "created": "time",
    "container_config": ("struct", {"Cmd": ("list", "string")}), "author": "string", "throwaway": "bool",
})
_V1_ID = r"[a-f0-9]{64}"  # compiled on first use (re's cache)


@dataclass(frozen=True)
class Schema1Manifest(ImageManifest):
    """A Docker schema1 manifest. ``fs_layers`` and ``history`` are in document order
    (newest first) after collapsing repeated IDs; ``history`` holds the raw
    ``v1Compatibility`` strings (``history[0]`` is the image's config).
    """

    name: str = ""
    tag: str = ""
    architecture: str = ""
    fs_layers: tuple[Digest, ...] = ()
    history: tuple[str, ...] = ()
    #: Aligned with ``layers`` (base first): True for "throwaway" layers.
    empty_layers: tuple[bool, ...] = ()

    @property
    def signed(self) -> bool:
        """Whether this was read as the signed (``+prettyjws``) variant."""
        return self.media_type == mt.DOCKER_V2S1_SIGNED

    def serialize(self) -> bytes:
        """The original bytes: schema1 manifests are never re-encoded (see module doc)."""
        return self.raw


def _v1_compat(text: str, path: str) -> dict[str, Any]:
    """Decode one v1Compatibility string as Go's Schema1V1Compatibility."""
    try:
        value = _gojson.loads(text.encode("utf-8"))
    except ValueError as exc:
        f.fail(path, f"parsing v2s1 history entry: {exc}")
    try:
        decoded = _gojson.decode(value, _V1_COMPATIBILITY, {}, path)
    except _gojson.GoTypeError as exc:
        f.fail(exc.path, f"parsing v2s1 history entry: {exc.problem}")
    return decoded if isinstance(decoded, dict) else {}


def parse_schema1(o: _gojson.GoObject, raw: bytes, media_type: str) -> Schema1Manifest:
    """Validate and model a schema1 document (``o`` is its decoded top-level object).

    Raises:
        ManifestError: naming the field or history entry at fault.
    """
    f.obj(o, "", _TOP_KEYS)
    f.schema_version(o, 1)
    f.unambiguous(o, mt.DOCKER_V2S1_SIGNED, frozenset({"fsLayers", "history"}))
    fs_layers: list[Digest] = []
    for i, item in enumerate(f.array(o, "fsLayers", "", required=True)):
        fs_layers.append(f.digest(f.obj(item, f"fsLayers[{i}]", frozenset({"blobSum"})), "blobSum", f"fsLayers[{i}]"))
    history: list[str] = []
    for i, item in enumerate(f.array(o, "history", "", required=True)):
        entry = f.obj(item, f"history[{i}]", frozenset({"v1Compatibility"}))
        text = f.string(entry, "v1Compatibility", f"history[{i}]", required=True)
        assert text is not None
        history.append(text)
    if len(fs_layers) != len(history):
        f.fail("history", f"length of history ({len(history)}) not equal to number of layers ({len(fs_layers)})")
    if not fs_layers:
        f.fail("fsLayers", "no FSLayers in manifest")
    compat = [_v1_compat(h, f"history[{i}].v1Compatibility") for i, h in enumerate(history)]
    _check_ids(compat)
    # Collapse consecutive repeats, keeping the older entry (as Go's fixManifestLayers does).
    for i in range(len(compat) - 2, -1, -1):
        if compat[i].get("id") == compat[i + 1].get("id"):
            del fs_layers[i], history[i], compat[i]
        elif (compat[i].get("parent") or "") != compat[i + 1].get("id"):
            f.fail(f"history[{i}].v1Compatibility",
                   f"invalid parent ID: expected {compat[i + 1].get('id')}, got {compat[i].get('parent') or ''}")
    layers = tuple(Descriptor("", d, -1) for d in reversed(fs_layers))
    empty = tuple(bool(c.get("throwaway")) for c in reversed(compat))
    return Schema1Manifest(
        media_type=media_type, raw=raw, config=None, layers=layers,
        name=f.string(o, "name", "") or "", tag=f.string(o, "tag", "") or "",
        architecture=f.string(o, "architecture", "") or "",
        fs_layers=tuple(fs_layers), history=tuple(history), empty_layers=empty,
    )


def _check_ids(compat: list[dict[str, Any]]) -> None:
    """IDs are 64-hex, the base has no parent, and IDs repeat only consecutively."""
    for i, c in enumerate(compat):
        if not re.fullmatch(_V1_ID, c.get("id") or ""):
            f.fail(f"history[{i}].v1Compatibility.id", f"image ID {json.dumps(c.get('id') or '')} is invalid")
    if compat[-1].get("parent"):
        f.fail(f"history[{len(compat) - 1}].v1Compatibility.parent", "invalid parent ID in the base layer of the image")
    seen: set[str] = set()
    last = None
    for i, c in enumerate(compat):
        ident = c["id"]
        if ident != last and ident in seen:
            f.fail(f"history[{i}].v1Compatibility.id", f"ID {ident} appears multiple times in manifest")
        last = ident
        seen.add(ident)
