"""The OCI image config containers/image writes when it converts a Docker schema2 image.

Converting schema2 → OCI, containers/image does not relabel the config blob: it
decodes it into the OCI ``imgspecv1.Image`` struct and encodes that again, which
drops Docker-only fields (``container_config``, ``docker_version``, ``Hostname`` …),
re-formats times and sorts label keys. The result is a *new* blob with a new digest,
and the converted manifest points at it. :func:`oci_config_from_docker` reproduces
those bytes exactly (image-spec 1.1.0-rc2 field set, as built into skopeo 1.9.3),
including Go's decoding rules: case-insensitive keys, repeated keys merging into
objects, and failing where a field has the wrong JSON type.

The reverse direction (OCI → schema2) keeps the config bytes unchanged.
"""

from __future__ import annotations

from typing import Any

from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson

_EMPTY_STRUCT: tuple[str, dict[str, str]] = ("struct", {})
_IMAGE_CONFIG = ("struct", {
    "User": "string", "ExposedPorts": ("map", _EMPTY_STRUCT), "Env": ("list", "string"),
    "Entrypoint": ("list", "string"), "Cmd": ("list", "string"), "Volumes": ("map", _EMPTY_STRUCT),
    "WorkingDir": "string", "Labels": ("map", "string"), "StopSignal": "string", "ArgsEscaped": "bool",
})
_HISTORY = ("struct", {
    "created": "time", "created_by": "string", "author": "string", "comment": "string", "empty_layer": "bool",
})
_IMAGE = ("struct", {
    "created": "time", "author": "string", "architecture": "string", "variant": "string", "os": "string",
    "os.version": "string", "os.features": ("list", "string"), "config": _IMAGE_CONFIG,
    "rootfs": ("struct", {"type": "string", "diff_ids": ("list", "string")}), "history": ("list", _HISTORY),
})
#: imgspecv1.Image as containers/image 5.23 decodes it (trustcopy.image.sourced's inspect reads it too).
OCI_IMAGE_SPEC = _IMAGE


def _omit_empty(source: dict[str, Any], out: dict[str, Any], *names: str) -> None:
    """Copy ``names`` from ``source`` unless empty (Go ``omitempty``); maps get sorted keys."""
    for name in names:
        value = source.get(name)
        if value:
            out[name] = _gojson.sorted_map(value) if isinstance(value, dict) else value


def _image_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Go ``ImageConfig`` fields in order, omitempty applied."""
    out: dict[str, Any] = {}
    _omit_empty(cfg, out, "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
                "StopSignal", "ArgsEscaped")
    return out


def _history(entry: dict[str, Any]) -> dict[str, Any]:
    """Go ``History`` fields in order, omitempty applied."""
    out: dict[str, Any] = {}
    _omit_empty(entry, out, "created", "created_by", "author", "comment", "empty_layer")
    return out


def oci_config_from_docker(config: bytes) -> bytes:
    """The OCI config bytes containers/image derives from a Docker schema2 config.

    Raises:
        ManifestError: ``image-config-invalid`` where Go's json.Unmarshal into the OCI image
            struct fails (not JSON, wrong field types, unparseable times).
    """
    try:
        decoded = _gojson.decode(_gojson.loads(config), _IMAGE, {}, "config")
    except ValueError as exc:  # GoTypeError included
        raise ManifestError(f"converting the image config to OCI: {exc}", code="image-config-invalid") from exc
    image: dict[str, Any] = decoded or {}
    out: dict[str, Any] = {}
    _omit_empty(image, out, "created", "author")
    out["architecture"] = image.get("architecture", "")
    _omit_empty(image, out, "variant")
    out["os"] = image.get("os", "")
    _omit_empty(image, out, "os.version", "os.features")
    out["config"] = _image_config(image.get("config") or {})
    rootfs = image.get("rootfs") or {}
    out["rootfs"] = {"type": rootfs.get("type", ""), "diff_ids": rootfs.get("diff_ids")}
    if image.get("history"):
        out["history"] = [_history(h) for h in image["history"]]
    return _gojson.marshal(out)
