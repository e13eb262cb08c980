"""Image: a parsed image built from an UnparsedImage, for inspect and conversions.

It reads the config blob (bounded, digest-verified) and produces the data of
``skopeo inspect`` (``ImageInspectInfo``) and of ``skopeo inspect --config`` (the OCI
config view), with Go's field order and formatting so that scripts comparing outputs
keep working.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trustcopy import limits
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import ManifestError
from trustcopy.limits import load_json

if TYPE_CHECKING:
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.manifest.parse import Descriptor, ImageManifest
    from trustcopy.transports.base import ImageSource


_RFC3339 = r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"  # compiled on first use


def go_time(value: Any) -> str | None:
    """Re-format an RFC 3339 timestamp as Go's time.Time JSON marshalling does.

    Go prints RFC3339Nano: fractional seconds without trailing zeros, "Z" for a
    zero offset. Unparseable values are refused, as Go's Unmarshal refuses them.
    """
    if value is None:
        return None
    m = re.fullmatch(_RFC3339, value) if isinstance(value, str) else None
    if m is None:
        raise ManifestError(f"invalid timestamp {value!r} in image config", code="image-config-invalid")
    main, frac, zone = m.group(1), (m.group(2) or "")[:9].rstrip("0"), m.group(3)
    if zone in ("z", "+00:00"):
        zone = "Z"
    return main + (f".{frac}" if frac else "") + zone


def _omit_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {}, False)}


def oci_config_view(config: dict[str, Any]) -> dict[str, Any]:
    """The config as Go's ``v1.Image`` marshals it (``skopeo inspect --config``)."""
    cfg = config.get("config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    image_config = _omit_empty({
        "User": cfg.get("User"),
        "ExposedPorts": {k: {} for k in sorted(cfg.get("ExposedPorts") or {})} or None,
        "Env": cfg.get("Env"),
        "Entrypoint": cfg.get("Entrypoint"),
        "Cmd": cfg.get("Cmd"),
        "Volumes": {k: {} for k in sorted(cfg.get("Volumes") or {})} or None,
        "WorkingDir": cfg.get("WorkingDir"),
        "Labels": dict(sorted((cfg.get("Labels") or {}).items())) or None,
        "StopSignal": cfg.get("StopSignal"),
        "ArgsEscaped": cfg.get("ArgsEscaped"),
    })
    rootfs = config.get("rootfs") or {}
    history = [
        _omit_empty({
            "created": go_time(h.get("created")),
            "created_by": h.get("created_by"),
            "author": h.get("author"),
            "comment": h.get("comment"),
            "empty_layer": h.get("empty_layer"),
        })
        for h in (config.get("history") or [])
        if isinstance(h, dict)
    ]
    out: dict[str, Any] = {}
    if config.get("created") is not None:
        out["created"] = go_time(config.get("created"))
    if config.get("author"):
        out["author"] = config["author"]
    out["architecture"] = config.get("architecture") or ""
    out["os"] = config.get("os") or ""
    if config.get("os.version"):
        out["os.version"] = config["os.version"]
    if config.get("os.features"):
        out["os.features"] = config["os.features"]
    if config.get("variant"):
        out["variant"] = config["variant"]
    out["config"] = image_config
    out["rootfs"] = {"type": rootfs.get("type") or "", "diff_ids": rootfs.get("diff_ids")}
    if history:
        out["history"] = history
    return out


def read_config_blob(source: ImageSource, desc: Descriptor, what: str) -> bytes:
    """Read a config blob into memory: bounded, and verified against its descriptor."""
    stream, _size = source.get_blob(desc.blob_info())
    try:
        reader = DigestingReader(stream, desc.digest, expected_size=desc.size, what=f"{what}: config {desc.digest}")
        data = limits.read_at_most(reader, limits.MAX_CONFIG_BODY, f"{what}: config {desc.digest}")
        reader.read()  # reach EOF so the digest is verified
    finally:
        stream.close()
    return data


class Image:
    """A source image whose manifest was parsed (after the policy allowed it, for copies)."""

    def __init__(self, unparsed: UnparsedImage) -> None:
        from trustcopy.manifest.mediatypes import guess_mime_type, is_list
        from trustcopy.manifest.parse import parse_manifest

        self.unparsed = unparsed
        raw, mime = unparsed.manifest()
        mime = mime or guess_mime_type(raw)
        if is_list(mime):
            raise ManifestError(f"{unparsed.reference}: internal error: Image built from a manifest list")
        self.manifest: ImageManifest = parse_manifest(raw, mime, source=str(unparsed.reference))  # type: ignore[assignment]
        self._config: bytes | None = None

    def config_blob(self) -> bytes:
        """The raw config (schema1: synthesized from the newest v1Compatibility entry)."""
        if self._config is not None:
            return self._config
        desc = self.manifest.config
        if desc is None:
            history = getattr(self.manifest, "history", None) or []
            if not history:
                raise ManifestError(f"{self.unparsed.reference}: schema1 manifest without history")
            self._config = history[0].encode() if isinstance(history[0], str) else bytes(history[0])
            return self._config
        self._config = read_config_blob(self.unparsed.source, desc, str(self.unparsed.reference))
        return self._config

    def config_json(self) -> dict[str, Any]:
        """The config parsed as a JSON object."""
        try:
            value = load_json(self.config_blob(), f"{self.unparsed.reference}: image config")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{self.unparsed.reference}: image config is not valid JSON: {exc}",
                                code="image-config-invalid") from exc
        if not isinstance(value, dict):
            raise ManifestError(f"{self.unparsed.reference}: image config is not a JSON object",
                                code="image-config-invalid")
        return value

    def inspect(self, digest: Digest) -> dict[str, Any]:
        """``skopeo inspect`` output data (field order as skopeo's inspect.Output).

        containers/image decodes the config with Go's json.Unmarshal into typed structs
        (schema1/schema2: ``Schema2V1Image``/``Schema2Image``; OCI: ``imgspecv1.Image`` and then
        ``Schema2V1Image`` too, for ``docker_version``): keys match case-insensitively, the last
        repeat wins, and a value of the wrong JSON type anywhere in those structs fails inspect.
        An OCI manifest whose config is not an image config is a non-image artifact: refused.
        """
        from trustcopy.manifest import _gojson
        from trustcopy.manifest.mediatypes import OCI_CONFIG, OCI_MANIFEST, guess_mime_type

        raw, mime = self.unparsed.manifest()
        mime = mime or guess_mime_type(raw)
        desc = self.manifest.config
        if mime == OCI_MANIFEST and desc is not None and desc.media_type != OCI_CONFIG:
            raise ManifestError(f"{self.unparsed.reference}: unsupported image-specific operation on artifact with "
                                f"type {desc.media_type!r}", code="manifest-unsupported")
        blob = self.config_blob()
        what = f"{self.unparsed.reference}: image config"
        try:
            value = _gojson.loads(blob)
            docker = _gojson.decode(value, _SCHEMA2_IMAGE if desc is not None else _SCHEMA2_V1_IMAGE, {}, "") or {}
            for struct in (docker.get("config"), docker.get("container_config")):
                _check_strslices(struct)
            if mime == OCI_MANIFEST:
                from trustcopy.manifest.ociconfig import OCI_IMAGE_SPEC

                image = _gojson.decode(value, OCI_IMAGE_SPEC, {}, "") or {}
                created = image.get("created")
                cfg = image.get("config") or {}
            else:
                image = docker
                created = _last_time(value) or _GO_ZERO_TIME  # time.Time, not a pointer
                cfg = docker.get("config") or {}
        except ValueError as exc:  # GoTypeError included
            raise ManifestError(f"{what} does not decode: {exc}", code="image-config-invalid") from exc
        out: dict[str, Any] = {}
        named = self.unparsed.reference.docker_reference()
        if named is not None:
            out["Name"] = named.name
        tag = getattr(self.manifest, "tag", None)
        if tag:
            out["Tag"] = tag
        out["Digest"] = str(digest)
        out["RepoTags"] = []
        out["Created"] = created
        out["DockerVersion"] = docker.get("docker_version") or ""
        labels = cfg.get("Labels")
        out["Labels"] = _gojson.sorted_map(labels) if labels is not None else None
        out["Architecture"] = image.get("architecture") or ""
        out["Os"] = image.get("os") or ""
        layers = self.manifest.layer_infos()
        out["Layers"] = [str(layer.digest) for layer in layers]
        out["LayersData"] = [
            {
                "MIMEType": layer.media_type or "",
                "Digest": str(layer.digest),
                "Size": layer.size,
                "Annotations": dict(sorted(layer.annotations.items())) if layer.annotations else None,
            }
            for layer in layers
        ]
        out["Env"] = cfg.get("Env")
        return out


_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
#: docker's strslice.StrSlice (Cmd, Entrypoint, Shell): a JSON string or a list of strings.
_STRSLICE = "any"
_HEALTH = ("ptr", ("struct", {"Test": ("list", "string"), "StartPeriod": "int", "Interval": "int", "Timeout": "int",
                              "Retries": "int"}))
_PORTS: tuple[str, Any] = ("map", ("struct", {}))
#: containers/image's manifest.Schema2Config, field by field, with Go's types.
_SCHEMA2_CONFIG = ("struct", {
    "Hostname": "string", "Domainname": "string", "User": "string", "AttachStdin": "bool", "AttachStdout": "bool",
    "AttachStderr": "bool", "ExposedPorts": _PORTS, "Tty": "bool", "OpenStdin": "bool", "StdinOnce": "bool",
    "Env": ("list", "string"), "Cmd": _STRSLICE, "Healthcheck": _HEALTH, "ArgsEscaped": "bool", "Image": "string",
    "Volumes": _PORTS, "WorkingDir": "string", "Entrypoint": _STRSLICE, "NetworkDisabled": "bool",
    "MacAddress": "string", "OnBuild": ("list", "string"), "Labels": ("map", "string"), "StopSignal": "string",
    "StopTimeout": ("ptr", "int"), "Shell": _STRSLICE,
})
#: manifest.Schema2V1Image (schema1's v1Compatibility; embedded in Schema2Image).
_SCHEMA2_V1_FIELDS: dict[str, Any] = {
    "id": "string", "parent": "string", "comment": "string", "created": "time", "container": "string",
    "container_config": _SCHEMA2_CONFIG, "docker_version": "string", "author": "string",
    "config": ("ptr", _SCHEMA2_CONFIG), "architecture": "string", "variant": "string", "os": "string", "Size": "int",
}
_SCHEMA2_V1_IMAGE = ("struct", _SCHEMA2_V1_FIELDS)
#: manifest.Schema2Image.
_SCHEMA2_IMAGE = ("struct", {
    **_SCHEMA2_V1_FIELDS,
    "rootfs": ("ptr", ("struct", {"type": "string", "diff_ids": ("list", "string")})),
    "history": ("list", ("struct", {"created": "time", "author": "string", "created_by": "string",
                                    "comment": "string", "empty_layer": "bool"})),
    "os.version": "string", "os.features": ("list", "string"),
})


def _check_strslices(struct: Any) -> None:
    """StrSlice's UnmarshalJSON: a list of strings (null elements are ""), else a string, else an error."""
    if not isinstance(struct, dict):
        return
    for name in ("Cmd", "Entrypoint", "Shell"):
        value = struct.get(name)
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
            continue
        from trustcopy.manifest._gojson import GoTypeError

        raise GoTypeError(name, "cannot unmarshal into a string or a list of strings")


def _last_time(value: Any) -> str | None:
    """A non-pointer time.Time ``created``: Go's UnmarshalJSON ignores null, so the last non-null key wins."""
    from trustcopy.manifest import _gojson

    if not isinstance(value, _gojson.GoObject):
        return None
    found: str | None = None
    for key, v in value.pairs:  # Go matches each key on its own, exactly or case-folded
        if _gojson.fold(key) == _gojson.fold("created") and isinstance(v, str):
            found = _gojson.reformat_time(v, "created")
    return found


def oci_config_newest(image: dict[str, Any]) -> dict[str, Any]:
    """The newest image-spec ``v1.Image`` as Go marshals it, from a value Go-decoded with ``OCI_IMAGE_SPEC``.

    Field order and omissions are the newest image-spec's (``Platform`` embedded, so ``variant``
    follows ``os.features``; ``config`` is ``omitzero``: dropped only when every field is Go's zero
    value, so an empty but present list keeps it), as ``trustcopy inspect --config`` prints them.
    """
    from trustcopy.manifest import _gojson

    out: dict[str, Any] = {}
    if image.get("created") is not None:
        out["created"] = image["created"]
    if image.get("author"):
        out["author"] = image["author"]
    out["architecture"] = image.get("architecture", "")
    out["os"] = image.get("os", "")
    for name in ("os.version", "os.features", "variant"):
        if image.get(name):
            out[name] = image[name]
    cfg: dict[str, Any] = image.get("config") or {}
    if any(value not in (None, "", False) for value in cfg.values()):
        out["config"] = {name: _gojson.sorted_map(value) if isinstance(value, dict) else value
                         for name in ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                                      "Labels", "StopSignal", "ArgsEscaped") if (value := cfg.get(name))}
    rootfs: dict[str, Any] = image.get("rootfs") or {}
    out["rootfs"] = {"type": rootfs.get("type", ""), "diff_ids": rootfs.get("diff_ids")}
    if image.get("history"):
        out["history"] = [{name: h[name] for name in ("created", "created_by", "author", "comment", "empty_layer")
                           if h.get(name)} for h in image["history"]]
    return out


#: What containers/image's Schema1V1Compatibility reads of each history entry, besides ``id``/``parent``.
_SCHEMA1_HISTORY = ("struct", {"comment": "string", "container_config": ("struct", {"Cmd": ("list", "string")}),
                               "author": "string", "throwaway": "bool"})
#: Keys containers/image's ToSchema2Config drops from the newest v1Compatibility entry (exact, case-sensitive).
_SCHEMA1_DROPPED = ("id", "parent", "parent_id", "layer_id", "throwaway", "Size")


def schema1_oci_config(history: tuple[str, ...], what: str) -> dict[str, Any]:
    """``OCIConfig()`` of a schema1 image: the OCI ``v1.Image`` Go decodes from the converted config.

    containers/image converts the image to schema2 first (``ToSchema2Config`` with no diff IDs): the
    newest v1Compatibility entry, decoded as ``Schema2V1Image`` (and re-encoded from that struct when
    its ``docker_version`` is older than 1.8.3), goes through a Go map of raw values (the last copy
    of each exact key wins; ``id``, ``parent``, ``Size``… dropped), gains ``rootfs`` (type "layers",
    an empty diff ID per non-throwaway layer) and a ``history`` built from every entry (base first),
    and is written back with sorted keys, which is the order the OCI decoding then sees them in.

    Raises:
        ManifestError: ``image-config-invalid`` where one of Go's decodings fails.
    """
    from trustcopy.manifest import _gojson
    from trustcopy.manifest.ociconfig import OCI_IMAGE_SPEC

    try:
        value = _gojson.loads(history[0].encode("utf-8", "surrogatepass"))
        s1 = _gojson.decode(value, _SCHEMA2_V1_IMAGE, {}, "") or {}
        for struct in (s1.get("config"), s1.get("container_config")):
            _check_strslices(struct)
        created = _last_time(value) or _GO_ZERO_TIME
        entries: list[dict[str, Any]] = []
        for text in reversed(history):
            entry = _gojson.loads(text.encode("utf-8", "surrogatepass"))
            compat = _gojson.decode(entry, _SCHEMA1_HISTORY, {}, "") or {}
            converted = {"created": _last_time(entry) or _GO_ZERO_TIME, "author": compat.get("author") or "",
                         "created_by": " ".join((compat.get("container_config") or {}).get("Cmd") or []),
                         "comment": compat.get("comment") or "", "empty_layer": bool(compat.get("throwaway"))}
            entries.append(converted)
        version = s1.get("docker_version") or ""
        raw: dict[str, Any] = {}
        if version and _docker_version_less(version, "1.8.3"):
            raw = _schema2_v1_reencoded(s1, created)
        elif isinstance(value, _gojson.GoObject):
            raw = dict(value.pairs)  # a Go map: the last copy of each key wins
        for key in _SCHEMA1_DROPPED:
            raw.pop(key, None)
        diff_ids = ["" for entry in entries if not entry["empty_layer"]]
        raw["rootfs"] = _go_object([("type", "layers")] + ([("diff_ids", diff_ids)] if diff_ids else []))
        raw["history"] = [_go_object([(k, v) for k, v in entry.items() if v or k == "created"]) for entry in entries]
        image = _gojson.decode(_go_object(sorted(raw.items())), OCI_IMAGE_SPEC, {}, "") or {}
    except ValueError as exc:  # GoTypeError included
        raise ManifestError(f"{what}: converting the schema1 history to an image config: {exc}",
                            code="image-config-invalid") from exc
    return image


def _go_object(pairs: list[tuple[str, Any]]) -> Any:
    """A GoObject holding ``pairs`` in this order (what Go's decoder would see)."""
    from trustcopy.manifest import _gojson

    obj = _gojson.GoObject(pairs)
    obj.pairs = pairs
    return obj


def _schema2_v1_reencoded(s1: dict[str, Any], created: str) -> dict[str, Any]:
    """The members of ``json.Marshal(Schema2V1Image)`` that the OCI decoding reads (tags and omitempty as Go's)."""
    out: dict[str, Any] = {"created": created}
    for name in ("author", "architecture", "variant", "os"):
        if s1.get(name):
            out[name] = s1[name]
    cfg = s1.get("config")
    if cfg is not None:  # *Schema2Config: User, Env, Cmd, Volumes, WorkingDir, Entrypoint, Labels always written
        written: list[tuple[str, Any]] = [("User", cfg.get("User", ""))]
        if cfg.get("ExposedPorts"):
            written.append(("ExposedPorts", _go_object([(k, _go_object([])) for k in sorted(cfg["ExposedPorts"])])))
        written += [("Env", cfg.get("Env")), ("Cmd", _strslice(cfg.get("Cmd"))),
                    ("Volumes", _go_map(cfg.get("Volumes"), lambda _v: _go_object([]))),
                    ("WorkingDir", cfg.get("WorkingDir", "")), ("Entrypoint", _strslice(cfg.get("Entrypoint"))),
                    ("Labels", _go_map(cfg.get("Labels"), lambda v: v))]
        if cfg.get("StopSignal"):
            written.append(("StopSignal", cfg["StopSignal"]))
        if cfg.get("ArgsEscaped"):
            written.append(("ArgsEscaped", True))
        out["config"] = _go_object(written)
    return out


def _go_map(value: dict[str, Any] | None, element: Any) -> Any:
    """A Go map as json.Marshal writes it (sorted keys; nil is null)."""
    return None if value is None else _go_object([(k, element(v)) for k, v in sorted(value.items())])


def _strslice(value: Any) -> list[str] | None:
    """docker's StrSlice as decoded: a string is a one-element list; null elements are ""."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [v or "" for v in value]


def _docker_version_less(version: str, other: str) -> bool:
    """docker's ``versions.LessThan``: dot-separated parts compared as ``strconv.Atoi`` reads them (0 if not)."""
    mine, theirs = version.split("."), other.split(".")
    for i in range(max(len(mine), len(theirs))):
        a = _atoi(mine[i]) if i < len(mine) else 0
        b = _atoi(theirs[i]) if i < len(theirs) else 0
        if a != b:
            return a < b
    return False


def _atoi(text: str) -> int:
    """Go's ``strconv.Atoi`` value, ignoring its error: 0 unless [+-]digits; out of range clamps to int64."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not all("0" <= c <= "9" for c in digits):
        return 0
    n = int(text)
    return max(-(1 << 63), min(n, (1 << 63) - 1))
