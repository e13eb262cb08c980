"""Strict readers for manifest JSON, with the failing field named in every error.

Each reader takes the decoded value and a *path* (``layers[2].digest``) and either
returns a typed Python value or raises :class:`ManifestError` whose message reads
``manifest: <path>: <what is wrong>``. JSON null counts as absent, as in Go.

Two rules keep us from reading a manifest differently than skopeo does:
- Keys are exact. A key that Go would also map onto a known field because it differs
  only in letter case (``"Layers"``, ``"LAYERS"``) is refused: Go would read it,
  possibly instead of the real one, and two readers disagreeing is an attack surface.
- Repeated keys are read as their last occurrence; :mod:`._goview` then refuses the
  documents where Go would read the earlier occurrences into something else (or fail
  on them), so the two readings agree wherever a manifest is accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NoReturn

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson
from trustcopy.manifest.model import Descriptor, Platform

_INT64_MAX = (1 << 63) - 1


def join(path: str, key: str) -> str:
    """``path.key`` (or just ``key`` at the top level)."""
    return f"{path}.{key}" if path else key


def fail(path: str, problem: str, *, code: str = "manifest-invalid") -> NoReturn:
    """Raise the ManifestError for ``problem`` at ``path``."""
    where = f"{path}: " if path else ""
    raise ManifestError(f"manifest: {where}{problem}", code=code, context={"field": path})


def kind(value: Any) -> str:
    """JSON type name of ``value`` for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def obj(value: Any, path: str, names: frozenset[str]) -> _gojson.GoObject:
    """``value`` as a JSON object whose keys are not case variants of ``names``."""
    if not isinstance(value, _gojson.GoObject):
        fail(path, f"expected a JSON object, got {kind(value)}")
    for key, name in _gojson.case_variants(value, names):
        fail(join(path, key), f'key differs from "{name}" only in letter case; Go would read it as that '
                              "field, so the manifest is ambiguous")
    return value


def get(o: _gojson.GoObject, key: str, path: str, *, required: bool) -> Any:
    """The value at ``key`` (None when absent or null); required fields must be present."""
    value = o.get(key)
    if value is None and required:
        fail(join(path, key), "missing required field")
    return value


def string(o: _gojson.GoObject, key: str, path: str, *, required: bool = False) -> str | None:
    """A string field."""
    value = get(o, key, path, required=required)
    if value is not None and not isinstance(value, str):
        fail(join(path, key), f"expected a string, got {kind(value)}")
    return value


def integer(o: _gojson.GoObject, key: str, path: str, *, required: bool = False, minimum: int = 0) -> int | None:
    """An integer field (a JSON number without fraction or exponent, within int64)."""
    value = get(o, key, path, required=required)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        fail(join(path, key), f"expected an integer, got {kind(value)} {json.dumps(value)}")
    if not minimum <= value <= _INT64_MAX:
        fail(join(path, key), f"{value} is out of range")
    return value


def digest(o: _gojson.GoObject, key: str, path: str) -> Digest:
    """A required, valid digest field."""
    text = string(o, key, path, required=True)
    assert text is not None
    try:
        return Digest.parse(text)
    except ValueError as exc:
        detail = str(exc).split(f"{text!r}: ", 1)[-1]
        fail(join(path, key), f"invalid digest {json.dumps(text)}: {detail}")


def string_list(o: _gojson.GoObject, key: str, path: str) -> tuple[str, ...]:
    """An optional array of strings."""
    value = get(o, key, path, required=False)
    if value is None:
        return ()
    if not isinstance(value, list):
        fail(join(path, key), f"expected an array of strings, got {kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            fail(f"{join(path, key)}[{i}]", f"expected a string, got {kind(item)}")
    return tuple(value)


def string_map(o: _gojson.GoObject, key: str, path: str) -> dict[str, str] | None:
    """An optional object of string values (annotations)."""
    value = get(o, key, path, required=False)
    if value is None:
        return None
    if not isinstance(value, _gojson.GoObject):
        fail(join(path, key), f"expected an object of strings, got {kind(value)}")
    for k, v in value.items():
        if not isinstance(v, str):
            fail(join(join(path, key), k), f"expected a string, got {kind(v)}")
    return dict(value)


def array(o: _gojson.GoObject, key: str, path: str, *, required: bool) -> list[Any]:
    """An array field (``[]`` when optional and absent)."""
    value = get(o, key, path, required=required)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(join(path, key), f"expected an array, got {kind(value)}")
    return value


def schema_version(o: _gojson.GoObject, expected: int) -> None:
    """``schemaVersion`` must be present and equal ``expected``."""
    version = integer(o, "schemaVersion", "", required=True)
    if version != expected:
        fail("schemaVersion", f"expected {expected}, got {version}")


_AMBIGUITY_FIELDS = ("config", "fsLayers", "history", "layers", "manifests")


def unambiguous(o: _gojson.GoObject, media_type: str, allowed: frozenset[str]) -> None:
    """Refuse a document that also looks like another manifest kind.

    Same rule as Go's validateUnambiguousManifestFormat: a field counts when Go's
    case-insensitive decoding finds it with a non-null value.
    """
    unexpected = [name for name in _AMBIGUITY_FIELDS
                  if name not in allowed and _gojson.field(o, name)[1] is not None]
    if unexpected:
        fail("", f"rejecting ambiguous manifest, unexpected fields {json.dumps(unexpected)} in supposedly "
                 f"{media_type}", code="manifest-ambiguous")


_PLATFORM_KEYS = frozenset({"architecture", "os", "os.version", "os.features", "variant"})
_DOCKER_PLATFORM_KEYS = _PLATFORM_KEYS | {"features"}


def platform(value: Any, path: str, *, docker: bool) -> Platform:
    """A platform object (``features`` only in Docker lists)."""
    o = obj(value, path, _DOCKER_PLATFORM_KEYS if docker else _PLATFORM_KEYS)
    arch = string(o, "architecture", path, required=True)
    os_name = string(o, "os", path, required=True)
    assert arch is not None and os_name is not None
    return Platform(
        architecture=arch,
        os=os_name,
        variant=string(o, "variant", path) or None,
        os_version=string(o, "os.version", path) or None,
        os_features=string_list(o, "os.features", path),
        features=string_list(o, "features", path) if docker else (),
    )


_OCI_KEYS = frozenset({"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"})
_SCHEMA2_KEYS = frozenset({"mediaType", "size", "digest", "urls"})


def oci_descriptor(value: Any, path: str) -> Descriptor:
    """An OCI descriptor (image-spec 1.1.0-rc2 fields)."""
    o = obj(value, path, _OCI_KEYS)
    media_type = string(o, "mediaType", path, required=True)
    assert media_type is not None
    data = string(o, "data", path)
    raw_data = None
    if data is not None:
        try:
            raw_data = base64.b64decode(data.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            fail(join(path, "data"), "invalid base64")
    plat = o.get("platform")
    return Descriptor(
        media_type=media_type,
        digest=digest(o, "digest", path),
        size=integer(o, "size", path, required=True),  # type: ignore[arg-type]
        urls=string_list(o, "urls", path),
        annotations=string_map(o, "annotations", path),
        platform=platform(plat, join(path, "platform"), docker=False) if plat is not None else None,
        artifact_type=string(o, "artifactType", path) or None,
        data=raw_data,
    )


def schema2_descriptor(value: Any, path: str, *, with_platform: bool = False) -> Descriptor:
    """A Docker schema2 descriptor; Docker list entries also carry a (required) platform."""
    o = obj(value, path, _SCHEMA2_KEYS | {"platform"} if with_platform else _SCHEMA2_KEYS)
    media_type = string(o, "mediaType", path, required=True)
    assert media_type is not None
    plat = None
    if with_platform:
        plat = platform(get(o, "platform", path, required=True), join(path, "platform"), docker=True)
    return Descriptor(
        media_type=media_type,
        digest=digest(o, "digest", path),
        size=integer(o, "size", path, required=True),  # type: ignore[arg-type]
        urls=string_list(o, "urls", path),
        platform=plat,
    )
