"""skopeo's inspect ``Output`` and the OCI ``v1.Image`` config as the Go structs a template sees.

Why: a template reaches Go field names (``.Os``, ``.Config.Env``), Go types (``%T`` says
``int64``) and Go's zero values (a field the JSON leaves out prints ``[]`` or ``""``, not
``<no value>``); these builders turn the JSON-shaped data into those values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trustcopy.cli.gotemplate.gotime import GoTime
from trustcopy.cli.gotemplate.values import Digest, Int64, Map, NilList, NilMap, Slice, Struct

_CONFIG_FIELDS = {"os": "OS", "os.version": "OSVersion", "os.features": "OSFeatures", "rootfs": "RootFS",
                  "diff_ids": "DiffIDs", "created_by": "CreatedBy", "empty_layer": "EmptyLayer"}


def inspect_value(data: Mapping[str, Any]) -> Struct:
    """skopeo's inspect ``Output`` as a template sees it: Go field names, types and nil forms."""
    zero: dict[str, Any] = {"Name": "", "Tag": "", "Digest": "", "RepoTags": None, "Created": None,
                            "DockerVersion": "", "Labels": None, "Architecture": "", "Os": "", "Layers": None,
                            "LayersData": None, "Env": None}
    out = Struct("inspect.Output", {k: data.get(k, v) for k, v in zero.items()}, omit_empty=("Name", "Tag"))
    out["Digest"] = Digest(out["Digest"] or "")
    out["Created"] = GoTime(out["Created"] if isinstance(out["Created"], str) else None)
    for name in ("RepoTags", "Layers", "Env", "LayersData"):
        out[name] = NilList() if out[name] is None else Slice(out[name])
    out["Labels"] = NilMap() if out["Labels"] is None else Map(out["Labels"])
    out["LayersData"].type_name = "[]types.ImageInspectLayer"
    for n, layer in enumerate(out["LayersData"]):
        annotations = layer.get("Annotations")
        out["LayersData"][n] = Struct("types.ImageInspectLayer", {
            **layer, "Digest": Digest(layer.get("Digest") or ""), "Size": Int64(layer.get("Size") or 0),
            "Annotations": NilMap() if annotations is None else Map(annotations)})
    return out


# The zero values of v1.Image's fields (Go prints an absent slice as [], a string as "").
_CONFIG_STRUCT: dict[str, Callable[[], Any]] = {
    "User": str, "ExposedPorts": NilMap, "Env": NilList, "Entrypoint": NilList, "Cmd": NilList, "Volumes": NilMap,
    "WorkingDir": str, "Labels": NilMap, "StopSignal": str, "ArgsEscaped": bool,
}
def _nil_list(type_name: str) -> Callable[[], NilList]:
    """A nil slice of a given Go type (``%T`` of an absent ``.RootFS.DiffIDs`` says ``[]digest.Digest``)."""

    def make() -> NilList:
        nil = NilList()
        nil.type_name = type_name
        return nil

    return make


_ROOTFS_STRUCT: dict[str, Callable[[], Any]] = {"Type": str, "DiffIDs": _nil_list("[]digest.Digest")}
_HISTORY_STRUCT: dict[str, Callable[[], Any]] = {
    "Created": lambda: None, "CreatedBy": str, "Author": str, "Comment": str, "EmptyLayer": bool,
}
_IMAGE_FIELDS: dict[str, Callable[[], Any]] = {
    "Created": lambda: None, "Author": str, "Architecture": str, "Variant": str, "OS": str, "OSVersion": str,
    "OSFeatures": NilList, "Config": lambda: _struct("v1.ImageConfig", {}, _CONFIG_STRUCT),
    "RootFS": lambda: _struct("v1.RootFS", {}, _ROOTFS_STRUCT), "History": _nil_list("[]v1.History"),
}


# The structs' JSON tags (what ``{{json .}}`` writes): a key other than the field name, and omitempty.
_JSON_KEYS = {name: key for key, name in _CONFIG_FIELDS.items()} | {
    "Created": "created", "Author": "author", "Architecture": "architecture", "Variant": "variant",
    "Config": "config", "History": "history", "Type": "type", "Comment": "comment"}
_OMIT_EMPTY: dict[str, tuple[str, ...]] = {
    "v1.Image": ("Created", "Author", "Variant", "OSVersion", "OSFeatures", "Config", "History"),
    "v1.ImageConfig": tuple(_CONFIG_STRUCT), "v1.RootFS": (), "v1.History": tuple(_HISTORY_STRUCT)}


def _struct(type_name: str, value: Mapping[str, Any], fields: Mapping[str, Callable[[], Any]]) -> Struct:
    names = {} if type_name == "v1.ImageConfig" else {f: _JSON_KEYS[f] for f in fields}
    out = Struct(type_name, {name: make() for name, make in fields.items()}, omit_empty=_OMIT_EMPTY[type_name],
                 json_names=names)
    for key, item in value.items():
        name = _CONFIG_FIELDS.get(key, key[:1].upper() + key[1:])
        if name == "Config" and isinstance(item, Mapping):
            out[name] = _struct("v1.ImageConfig", item, _CONFIG_STRUCT)
        elif name == "RootFS" and isinstance(item, Mapping):
            out[name] = _struct("v1.RootFS", item, _ROOTFS_STRUCT)
        elif name == "Created" and isinstance(item, str):
            out[name] = GoTime(item)
        elif name == "History" and isinstance(item, list):
            out[name] = Slice(_struct("v1.History", h, _HISTORY_STRUCT) if isinstance(h, Mapping) else h for h in item)
            out[name].type_name = "[]v1.History"
        elif name == "DiffIDs" and isinstance(item, list):
            out[name] = Slice(Digest(d) if isinstance(d, str) else d for d in item)
            out[name].type_name = "[]digest.Digest"
        elif isinstance(item, list):
            out[name] = Slice(item)
        elif isinstance(item, Mapping) and name in ("Labels", "ExposedPorts", "Volumes"):
            if name == "Labels":
                out[name] = Map(item)
            else:  # map[string]struct{}: each value an empty struct (prints {}, not map[])
                out[name] = Map({k: Struct("struct {}") for k in item})
                out[name].type_name = "map[string]struct {}"
        elif item is None and name in fields:
            out[name] = fields[name]()  # JSON null leaves Go's zero value (a nil slice prints [])
        else:
            out[name] = item
    return out


def config_value(value: Any) -> Any:
    """An OCI image config (JSON keys) as the ``v1.Image`` struct a Go template sees."""
    return _struct("v1.Image", value, _IMAGE_FIELDS) if isinstance(value, Mapping) else value
