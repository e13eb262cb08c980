"""Image: a parsed image built from an UnparsedImage, for inspect and conversions.

It reads the config blob (bounded, digest-verified) and produces the data of
``skopeo inspect`` (``ImageInspectInfo``) and of ``skopeo inspect --config`` (``OCIConfig()``,
printed in the newest image-spec's layout), decoding the config with Go's rules and printing
Go's field order and formatting, so that scripts comparing outputs keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trustcopy import limits
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import ManifestError

if TYPE_CHECKING:
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.manifest.parse import Descriptor, ImageManifest
    from trustcopy.transports.base import ImageSource


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

    def oci_config(self) -> dict[str, Any]:
        """``OCIConfig()`` (``skopeo inspect --config``): the config Go-decoded into image-spec's ``v1.Image``.

        For schema2 and OCI alike containers/image only ``json.Unmarshal``s the blob into ``v1.Image``:
        Docker-only fields (``container_config``, ``docker_version``, ``Healthcheck``, ``OnBuild``,
        ``Shell``…) vanish, keys match case-insensitively, the last repeat wins (merging into what
        was decoded before), and a value of the wrong type (a string ``Cmd``) fails. A schema1 image is
        converted first (:func:`schema1_oci_config`). An OCI manifest whose config is not an image
        config is a non-image artifact: refused before its blob is read. Print the result with
        :func:`oci_config_newest`. NOTE(go-diff): a config nested deeper than ``limits.MAX_JSON_DEPTH``
        is refused even where the depth is in a field ``v1.Image`` ignores (Go allows 10000 levels).

        Raises:
            ManifestError: ``manifest-unsupported`` for an artifact, ``image-config-invalid`` where
                Go's decoding fails.
        """
        from trustcopy.manifest import _gojson
        from trustcopy.manifest.ociconfig import OCI_IMAGE_SPEC

        what = f"{self.unparsed.reference}: image config"
        if self.manifest.config is None:
            history: tuple[str, ...] = self.manifest.history  # type: ignore[attr-defined]
            return schema1_oci_config(history, str(self.unparsed.reference))
        self._refuse_artifact()
        try:
            return _gojson.decode(_gojson.loads(self.config_blob()), OCI_IMAGE_SPEC, {}, "") or {}
        except ValueError as exc:  # GoTypeError and TooDeepError included
            raise ManifestError(f"{what} does not decode: {exc}", code="image-config-invalid") from exc

    def _refuse_artifact(self) -> None:
        """containers/image's image-specific operations refuse an OCI manifest whose config is not an image's."""
        from trustcopy.manifest.mediatypes import OCI_CONFIG, OCI_MANIFEST, guess_mime_type

        raw, mime = self.unparsed.manifest()
        mime = mime or guess_mime_type(raw)
        desc = self.manifest.config
        if mime == OCI_MANIFEST and desc is not None and desc.media_type != OCI_CONFIG:
            raise ManifestError(f"{self.unparsed.reference}: unsupported image-specific operation on artifact with "
                                f"type {desc.media_type!r}", code="manifest-unsupported")

    def inspect(self, digest: Digest) -> dict[str, Any]:
        """``skopeo inspect`` output data (field order as skopeo's inspect.Output).

        containers/image decodes the config with Go's json.Unmarshal into typed structs
        (schema1/schema2: ``Schema2V1Image``/``Schema2Image``; OCI: ``imgspecv1.Image`` and then
        ``Schema2V1Image`` too, for ``docker_version``): keys match case-insensitively, the last
        repeat wins, and a value of the wrong JSON type anywhere in those structs fails inspect.
        An OCI manifest whose config is not an image config is a non-image artifact: refused.
        """
        from trustcopy.manifest import _gojson, dockerconfig
        from trustcopy.manifest.mediatypes import OCI_MANIFEST, guess_mime_type

        raw, mime = self.unparsed.manifest()
        mime = mime or guess_mime_type(raw)
        desc = self.manifest.config
        self._refuse_artifact()
        blob = self.config_blob()
        what = f"{self.unparsed.reference}: image config"
        try:
            value = _gojson.loads(blob)
            spec = dockerconfig.SCHEMA2_IMAGE if desc is not None else dockerconfig.SCHEMA2_V1_IMAGE
            docker = _gojson.decode(value, spec, {}, "") or {}
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
def _check_strslices(struct: Any) -> None:
    """StrSlice's UnmarshalJSON on the decoded struct: a type error where it would fail."""
    from trustcopy.manifest._gojson import GoTypeError
    from trustcopy.manifest.dockerconfig import strslice_problem

    name = strslice_problem(struct)
    if name is not None:
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
    # A null scalar leaves Go's zero value (decode gives None for a field never set): "".
    out["architecture"] = image.get("architecture") or ""
    out["os"] = image.get("os") or ""
    for name in ("os.version", "os.features", "variant"):
        if image.get(name):
            out[name] = image[name]
    cfg: dict[str, Any] = image.get("config") or {}
    if any(value not in (None, "", False) for value in cfg.values()):
        out["config"] = {name: _gojson.sorted_map(value) if isinstance(value, dict) else value
                         for name in ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                                      "Labels", "StopSignal", "ArgsEscaped") if (value := cfg.get(name))}
    rootfs: dict[str, Any] = image.get("rootfs") or {}
    out["rootfs"] = {"type": rootfs.get("type") or "", "diff_ids": rootfs.get("diff_ids")}
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
    from trustcopy.manifest import _gojson, dockerconfig
    from trustcopy.manifest.ociconfig import OCI_IMAGE_SPEC
    from trustcopy.manifest.schema1convert import docker_version_less

    try:
        value = _gojson.loads(history[0].encode("utf-8", "surrogatepass"))
        s1 = _gojson.decode(value, dockerconfig.SCHEMA2_V1_IMAGE, {}, "") or {}
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
        if version and docker_version_less(version, "1.8.3"):
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
    from trustcopy.manifest.schema1convert import strslice

    out: dict[str, Any] = {"created": created}
    for name in ("author", "architecture", "variant", "os"):
        if s1.get(name):
            out[name] = s1[name]
    cfg = s1.get("config")
    if cfg is not None:  # *Schema2Config: User, Env, Cmd, Volumes, WorkingDir, Entrypoint, Labels always written
        written: list[tuple[str, Any]] = [("User", cfg.get("User", ""))]
        if cfg.get("ExposedPorts"):
            written.append(("ExposedPorts", _go_object([(k, _go_object([])) for k in sorted(cfg["ExposedPorts"])])))
        written += [("Env", cfg.get("Env")), ("Cmd", strslice(cfg.get("Cmd"))),
                    ("Volumes", _go_map(cfg.get("Volumes"), lambda _v: _go_object([]))),
                    ("WorkingDir", cfg.get("WorkingDir", "")), ("Entrypoint", strslice(cfg.get("Entrypoint"))),
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
