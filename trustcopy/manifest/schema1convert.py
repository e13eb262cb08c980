"""Docker schema1 images converted to schema2/OCI, and rewritten, as containers/image does it.

Converted: to schema2 or OCI; rewritten: a schema1 manifest whose layers a copy changed.

Why this exists: skopeo converts a schema1 image whenever the destination (``oci:``,
``docker-archive:``, ``--format v2s2|oci``) cannot store schema1, and rewrites a schema1
manifest whose layers it (de/re)compressed. Doing the same, byte for byte, keeps the
written manifest and config digests identical to skopeo's.

Invariants (containers/image ``internal/image/docker_schema1.go`` and
``manifest/docker_schema1.go``, newest where it differs from 5.23):
- The schema2 config is ``ToSchema2Config``: the newest ``v1Compatibility`` entry, checked by
  decoding it as ``Schema2V1Image``, goes through a Go ``map[string]*json.RawMessage`` (each
  member's value kept as its own JSON text, compacted with Go's HTML escaping; the last copy
  of an exact key wins; ``id``, ``parent``, ``parent_id``, ``layer_id``, ``throwaway`` and
  ``Size`` dropped), gains ``rootfs`` (the diff IDs of the non-throwaway layers, base first)
  and ``history`` (one entry per history item, base first), and is written with sorted keys.
  An entry whose ``docker_version`` is older than 1.8.3 is first re-encoded from the struct
  (so only the struct's fields survive; the newest struct's ``Healthcheck.StartInterval``
  included, which 5.23 lacks).
- Throwaway ("empty") layers are copied like any other layer (skopeo stores their blobs
  too) but are left out of the converted manifest; their diff IDs are not used.
- A converted layer is described as gzip whatever its bytes (containers/image's choice),
  with the source's digest and the size stored at the destination, unless the copy changed
  its bytes: then its new digest, size and media type.
- Converting drops the schema1 JWS signatures (a schema2/OCI manifest has none). A schema1
  manifest rewritten for its destination (changed layers, or the destination's repository
  path and tag as its ``name``/``tag``: :func:`updated_schema1`) is containers/image's payload
  (``json.Marshal`` of the struct), which the copy signs by a throw-away key
  (:mod:`trustcopy.manifest.schema1sign`); its digest is the payload's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson, dockerconfig
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.model import Descriptor, ImageManifest, Schema2Manifest
from trustcopy.manifest.schema1 import Schema1Manifest
from trustcopy.types import BlobInfo

_INVALID = "schema1-conversion-invalid"
#: Keys ToSchema2Config drops from the newest v1Compatibility entry (exact, case-sensitive).
_DROPPED = frozenset({"id", "parent", "parent_id", "layer_id", "throwaway", "Size"})
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
#: The layer type containers/image gives every converted schema1 layer (and, as
#: ``fakeSchema1MIMEType``, uses to decide a schema1 layer's compression changes).
LAYER_TYPE = mt.DOCKER_LAYER_GZIP

# The newest manifest.Schema2V1Image: Schema2HealthConfig has StartInterval (5.23 has not).
_HEALTH = ("ptr", ("struct", {"Test": ("list", "string"), "StartPeriod": "int", "StartInterval": "int",
                              "Interval": "int", "Timeout": "int", "Retries": "int"}))
_CONFIG = ("struct", {**dockerconfig.SCHEMA2_CONFIG[1], "Healthcheck": _HEALTH})
_V1_IMAGE = ("struct", {**dockerconfig.SCHEMA2_V1_IMAGE[1], "container_config": _CONFIG, "config": ("ptr", _CONFIG)})
#: manifest.Schema1V1Compatibility (what each history entry contributes to ``history``).
_COMPAT = ("struct", {"comment": "string", "container_config": ("struct", {"Cmd": ("list", "string")}),
                      "author": "string", "throwaway": "bool"})
#: A JSON string, or a run of JSON whitespace (compiled on first use, by re's cache).
_STRING_OR_SPACE = r'"(?:[^"\\]|\\.)*"|[ \t\n\r]+'
_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _fail(what: str, why: str, exc: BaseException | None = None) -> ManifestError:
    err = ManifestError(f"{what}: converting the schema1 manifest: {why}", code=_INVALID)
    err.__cause__ = exc
    return err


def _compact(raw: str) -> str:
    """Go's ``compact`` of a json.RawMessage being marshalled: whitespace outside strings
    removed, ``<``, ``>``, ``&``, U+2028 and U+2029 inside strings escaped; nothing else changes."""
    def one(m: re.Match[str]) -> str:
        text = m.group(0)
        return text.translate(_HTML) if text[0] == '"' else ""
    return re.sub(_STRING_OR_SPACE, one, raw)


def _raw_members(text: str, what: str) -> dict[str, str]:
    """A JSON object's members as Go's ``map[string]*json.RawMessage``: unescaped key → value text.

    The last copy of a key wins; keys are as Go decodes them (lone surrogates → U+FFFD).
    """
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    out: dict[str, str] = {}
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    try:
        if text[pos:pos + 1] != "{":
            raise ValueError("not a JSON object")
        pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text[pos:pos + 1] == "}":
            return out
        while True:
            if text[pos:pos + 1] != '"':
                raise ValueError(f"expected a key at {pos}")
            key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            pos = ws.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos:pos + 1] != ":":
                raise ValueError(f"expected ':' at {pos}")
            start = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
            _value, end = decoder.raw_decode(text, start)
            out[_go_key(key)] = text[start:end]
            pos = ws.match(text, end).end()  # type: ignore[union-attr]
            if text[pos:pos + 1] == "}":
                return out
            if text[pos:pos + 1] != ",":
                raise ValueError(f"expected ',' or '}}' at {pos}")
            pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    except ValueError as exc:
        raise _fail(what, f"history[0].v1Compatibility: re-decoding compat image config: {exc}", exc) from exc


def _go_key(key: str) -> str:
    """A key as Go decodes it: each lone surrogate (from a ``\\ud800`` escape) is U+FFFD."""
    from trustcopy.gojson import go_string

    return go_string(key)


def _last_time(value: Any) -> str:
    """A non-pointer ``time.Time`` field ``created``: Go's UnmarshalJSON ignores null, so the
    last non-null (exact or case-folded) key wins; the zero time when there is none."""
    found = _GO_ZERO_TIME
    if isinstance(value, _gojson.GoObject):
        for key, v in value.pairs:
            if _gojson.fold(key) == "created" and isinstance(v, str):
                found = _gojson.reformat_time(v, "created")
    return found


def strslice(value: Any) -> list[str] | None:
    """docker's StrSlice as decoded: a string is a one-element list; null elements are ""."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [v or "" for v in value]


def _sorted(mapping: dict[str, Any] | None, element: Any = None) -> dict[str, Any] | None:
    if mapping is None:
        return None
    return {k: (mapping[k] if element is None else element) for k in sorted(mapping)}


def _marshal_config(c: dict[str, Any]) -> dict[str, Any]:
    """``json.Marshal(manifest.Schema2Config)``, field by field (tags and omitempty as Go's)."""
    out: dict[str, Any] = {
        "Hostname": c.get("Hostname", ""), "Domainname": c.get("Domainname", ""), "User": c.get("User", ""),
        "AttachStdin": c.get("AttachStdin", False), "AttachStdout": c.get("AttachStdout", False),
        "AttachStderr": c.get("AttachStderr", False),
    }
    if c.get("ExposedPorts"):
        out["ExposedPorts"] = _sorted(c["ExposedPorts"], {})
    out.update({"Tty": c.get("Tty", False), "OpenStdin": c.get("OpenStdin", False),
                "StdinOnce": c.get("StdinOnce", False), "Env": c.get("Env"), "Cmd": strslice(c.get("Cmd"))})
    health = c.get("Healthcheck")
    if health is not None:
        h: dict[str, Any] = {}
        if health.get("Test"):
            h["Test"] = health["Test"]
        for name in ("StartPeriod", "StartInterval", "Interval", "Timeout", "Retries"):
            if health.get(name):
                h[name] = health[name]
        out["Healthcheck"] = h
    if c.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    volumes = c.get("Volumes")
    out.update({"Image": c.get("Image", ""), "Volumes": None if volumes is None else _sorted(volumes, {}),
                "WorkingDir": c.get("WorkingDir", ""), "Entrypoint": strslice(c.get("Entrypoint"))})
    if c.get("NetworkDisabled"):
        out["NetworkDisabled"] = True
    if c.get("MacAddress"):
        out["MacAddress"] = c["MacAddress"]
    out.update({"OnBuild": c.get("OnBuild"), "Labels": _sorted(c.get("Labels"))})
    if c.get("StopSignal"):
        out["StopSignal"] = c["StopSignal"]
    if c.get("StopTimeout") is not None:
        out["StopTimeout"] = c["StopTimeout"]
    shell = strslice(c.get("Shell"))
    if shell:
        out["Shell"] = shell
    return out


def _marshal_v1_image(s1: dict[str, Any], created: str) -> dict[str, Any]:
    """``json.Marshal(manifest.Schema2V1Image)`` (the re-encoding of pre-1.8.3 entries)."""
    out: dict[str, Any] = {}
    for name in ("id", "parent", "comment"):
        if s1.get(name):
            out[name] = s1[name]
    out["created"] = created
    if s1.get("container"):
        out["container"] = s1["container"]
    out["container_config"] = _marshal_config(s1.get("container_config") or {})
    for name in ("docker_version", "author"):
        if s1.get(name):
            out[name] = s1[name]
    if s1.get("config") is not None:
        out["config"] = _marshal_config(s1["config"])
    for name in ("architecture", "variant", "os", "Size"):
        if s1.get(name):
            out[name] = s1[name]
    return out


def docker_version_less(version: str, other: str) -> bool:
    """docker's ``versions.LessThan``: dot-separated parts compared as ``strconv.Atoi`` reads them (0 if not)."""
    mine, theirs = version.split("."), other.split(".")
    for i in range(max(len(mine), len(theirs))):
        a = _atoi(mine[i]) if i < len(mine) else 0
        b = _atoi(theirs[i]) if i < len(theirs) else 0
        if a != b:
            return a < b
    return False


def _atoi(text: str) -> int:
    """Go's ``strconv.Atoi`` value, its error ignored: 0 unless [+-]digits; out of range clamps to int64."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not all("0" <= c <= "9" for c in digits):
        return 0
    significant = digits.lstrip("0") or "0"
    if len(significant) > 19:  # beyond int64 (and int() refuses more than 4300 digits)
        return -(1 << 63) if text.startswith("-") else (1 << 63) - 1
    n = -int(significant) if text.startswith("-") else int(significant)
    return max(-(1 << 63), min(n, (1 << 63) - 1))


def to_schema2_config(m: Schema1Manifest, diff_ids: Sequence[str], *, what: str = "schema1 image") -> bytes:
    """Go ``Schema1.ToSchema2Config(diffIDs)``: the schema2 config blob (see module doc).

    Args:
        diff_ids: one per non-throwaway layer, base first (not checked, as in Go).

    Raises:
        ManifestError: ``schema1-conversion-invalid`` where one of Go's decodings or encodings fails.
    """
    if not m.history:
        raise _fail(what, "image has no layers")
    newest = m.history[0]
    try:
        value = _gojson.loads(newest.encode("utf-8"))
        s1 = _gojson.decode(value, _V1_IMAGE, {}, "history[0].v1Compatibility")
        if not isinstance(s1, dict):
            raise _gojson.GoTypeError("history[0].v1Compatibility", "not a JSON object")
        for name in ("config", "container_config"):
            problem = dockerconfig.strslice_problem(s1.get(name))
            if problem is not None:
                raise _gojson.GoTypeError(f"history[0].v1Compatibility.{name}.{problem}",
                                          "cannot unmarshal into a string or a list of strings")
        created = _last_time(value)
        history: list[dict[str, Any]] = []
        for i in range(len(m.history) - 1, -1, -1):
            where = f"history[{i}].v1Compatibility"
            entry = _gojson.loads(m.history[i].encode("utf-8"))
            compat = _gojson.decode(entry, _COMPAT, {}, where) or {}
            item: dict[str, Any] = {"created": _last_time(entry)}
            for key, got in (("author", compat.get("author")),
                             ("created_by", " ".join((compat.get("container_config") or {}).get("Cmd") or [])),
                             ("comment", compat.get("comment")), ("empty_layer", bool(compat.get("throwaway")))):
                if got:
                    item[key] = got
            history.append(item)
    except ValueError as exc:  # GoTypeError included
        raise _fail(what, f"decoding configuration: {exc}", exc) from exc
    version = s1.get("docker_version") or ""
    if version and docker_version_less(version, "1.8.3"):
        text = _gojson.marshal(_marshal_v1_image(s1, created)).decode("utf-8")
    else:
        text = newest
    members = _raw_members(text, what)
    for key in _DROPPED:
        members.pop(key, None)
    rootfs: dict[str, Any] = {"type": "layers"}
    if diff_ids:
        rootfs["diff_ids"] = [str(d) for d in diff_ids]
    members["rootfs"] = _gojson.marshal(rootfs).decode("utf-8")
    members["history"] = _gojson.marshal(history).decode("utf-8")
    parts = [_gojson.marshal(key).decode("utf-8") + ":" + _compact(members[key]) for key in sorted(members)]
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def check_convertible(m: Schema1Manifest, *, what: str) -> None:
    """Fail now, before anything is copied, where the conversion would fail once the diff IDs are known.

    Raises:
        ManifestError: ``schema1-conversion-invalid``.
    """
    placeholder = "sha256:" + "0" * 64
    to_schema2_config(m, [placeholder] * m.empty_layers.count(False), what=what)


def convert_schema1(m: Schema1Manifest, target: str, stored: Sequence[BlobInfo], changed: Sequence[bool],
                    diff_ids: Sequence[Digest | None], *, what: str = "schema1 image",
                    ) -> tuple[ImageManifest, bytes | None]:
    """Convert ``m`` to ``target`` once its layers are copied (Go ``convertToManifestSchema2`` /
    ``convertToManifestOCI1`` followed by the layer update).

    Args:
        stored: each layer as stored at the destination, base first, throwaway ones included.
        changed: whether the copy changed each layer's bytes (then ``stored`` names its new
            digest, size and media type).
        diff_ids: each layer's diff ID, base first (those of throwaway layers are not used).

    Returns:
        The new manifest and the config blob the destination must store (its new config).

    Raises:
        ManifestError: ``schema1-conversion-invalid`` (a diff ID missing, a bad history entry),
            ``manifest-conversion-unsupported`` (a target that is not schema2 or OCI).
    """
    from trustcopy.manifest.convert import convert_image

    n = len(m.layers)
    if not (len(stored) == len(changed) == len(diff_ids) == n):
        raise _fail(what, f"internal error: {len(stored)} layers copied, {len(diff_ids)} diff IDs, "
                          f"{n} layers in the manifest")
    if target not in (mt.DOCKER_V2S2, mt.OCI_MANIFEST):
        raise ManifestError(f"cannot convert a {m.media_type} manifest to {target}",
                            code="manifest-conversion-unsupported")
    kept = [i for i in range(n) if not m.empty_layers[i]]
    missing = [i for i in kept if diff_ids[i] is None]
    if missing:
        raise _fail(what, f"layer {m.layers[missing[0]].digest}: its diff ID is unknown")
    config = to_schema2_config(m, [str(diff_ids[i]) for i in kept], what=what)
    descriptor = Descriptor(mt.DOCKER_CONFIG, Digest.from_bytes(config), len(config))
    layers = [Descriptor(LAYER_TYPE, stored[i].digest if changed[i] else m.layers[i].digest, stored[i].size)
              for i in kept]
    # A changed layer's media type is already the target format's (the copy chose it).
    new_types = [stored[i].media_type if changed[i] else None for i in kept]
    result: ImageManifest = Schema2Manifest.from_components(descriptor, layers)
    new_config: bytes | None = config
    if target == mt.OCI_MANIFEST:
        conversion = convert_image(result, mt.OCI_MANIFEST, config)
        result, new_config = conversion.manifest, conversion.config_blob
    if any(changed):
        result = result.with_layer_infos([BlobInfo(digest=d.digest, size=d.size, media_type=t or d.media_type)
                                          for d, t in zip(result.layers, new_types, strict=True)])
    elif not layers and target == mt.DOCKER_V2S2:  # Go: a nil slice of layers, never updated
        result = _with_raw(result, result.raw.replace(b'"layers":[]', b'"layers":null'))
    return result, new_config


def _with_raw(m: ImageManifest, raw: bytes) -> ImageManifest:
    import dataclasses

    return dataclasses.replace(m, raw=raw)


def updated_schema1(m: Schema1Manifest, stored: Sequence[BlobInfo], *, what: str = "schema1 image",
                    embedded: tuple[str, str] | None = None) -> bytes:
    """The schema1 manifest with its layers replaced by ``stored`` (base first, throwaway ones
    included): Go ``UpdateLayerInfos`` then ``json.Marshal``, unsigned (the payload
    :func:`trustcopy.manifest.schema1sign.add_dummy_signature` signs; see module doc).

    Args:
        embedded: the destination's repository path (without registry) and tag, which replace
            ``name`` and ``tag`` (containers/image's ``EmbeddedDockerReference`` update).

    Raises:
        ManifestError: ``manifest-layer-compression-unsupported`` for a zstd layer, which
            schema1 cannot name (as the newest containers/image).
    """
    if len(stored) != len(m.layers):
        raise _fail(what, f"layer count changed from {len(m.layers)} to {len(stored)}")
    for info in stored:
        if info.media_type in (mt.DOCKER_LAYER_ZSTD, mt.OCI_LAYER_ZSTD):
            raise ManifestError(f"{what}: preparing updated manifest, layer {info.digest}: zstd compression "
                                "is not supported in a schema1 manifest", code="manifest-layer-compression-unsupported")
    name, tag = embedded if embedded is not None else (m.name, m.tag)
    doc = {"name": name, "tag": tag, "architecture": m.architecture,
           "fsLayers": [{"blobSum": str(info.digest)} for info in reversed(stored)],
           "history": [{"v1Compatibility": h} for h in m.history], "schemaVersion": 1}
    return _gojson.marshal(doc)
