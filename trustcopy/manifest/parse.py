"""Bytes → frozen manifest values: the one strict way in.

:func:`parse_manifest` accepts what containers/image accepts for the same bytes and
type, and refuses in addition what it would only trip over later (invalid digests,
missing sizes, negative sizes, wrong JSON types) or what it reads ambiguously:

- ``schemaVersion`` must be 1 (schema1) or 2 (everything else).
- ``mediaType`` must agree with the type we parse as: required and exact for Docker
  schema2 images and lists; absent or exact for OCI manifests and indexes. A document
  that also carries another kind's essential fields (``manifests`` in an image,
  ``layers`` in an index …) is refused, as Go's validateUnambiguousManifestFormat does.
- Keys that differ from a known field only by letter case are refused (Go would read
  them as that field). Repeated keys are accepted where Go reads the document as the
  last occurrences say (the same value again, or a later value that overrides all of
  an earlier one); refusing them would reject manifests skopeo accepts. Where Go would
  fail on an earlier occurrence, or merge it into a different reading, the manifest is
  refused (:mod:`._goview`).
- Bodies over :data:`trustcopy.limits.MAX_MANIFEST_BODY` are refused before parsing.

Unknown fields are ignored, as the OCI and Docker specs require.
"""

from __future__ import annotations

from trustcopy import limits
from trustcopy.errors import LimitExceededError, ManifestError
from trustcopy.manifest import _fields as f
from trustcopy.manifest import _gojson, _goview
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.lists import DockerManifestList, ListUpdate, ManifestList, OCIIndex
from trustcopy.manifest.model import Descriptor, ImageManifest, OCIManifest, Platform, Schema2Manifest
from trustcopy.manifest.schema1 import Schema1Manifest, parse_schema1

__all__ = [
    "Descriptor",
    "DockerManifestList",
    "ImageManifest",
    "ListUpdate",
    "ManifestList",
    "OCIIndex",
    "OCIManifest",
    "Platform",
    "Schema1Manifest",
    "Schema2Manifest",
    "parse_image_manifest",
    "parse_manifest",
    "parse_manifest_list",
]

_SCHEMA2_KEYS = frozenset({"schemaVersion", "mediaType", "config", "layers"})
_OCI_KEYS = frozenset({"schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"})
_DOCKER_LIST_KEYS = frozenset({"schemaVersion", "mediaType", "manifests"})
_OCI_INDEX_KEYS = frozenset({"schemaVersion", "mediaType", "artifactType", "manifests", "subject", "annotations"})


def _declared_type(media_type: str) -> str:
    """The manifest type to parse as, for a type a transport reported.

    Parameters (``; charset=utf-8``) are dropped. ``application/json`` means signed
    schema1, as in containers/image (old registries serve schema1 that way).
    """
    base = media_type.split(";", 1)[0].strip()
    if base in mt.SUPPORTED_TYPES:
        return base
    if base == "application/json":
        return mt.DOCKER_V2S1_SIGNED
    raise ManifestError(
        f"manifest: unsupported manifest type {base!r}",
        code="manifest-unsupported",
        hint="supported types: " + ", ".join(mt.DEFAULT_REQUEST_TYPES),
    )


def _media_type_field(o: _gojson.GoObject, expected: str, *, required: bool) -> bool:
    """Check ``mediaType`` against ``expected``; return whether the field is present."""
    value = f.string(o, "mediaType", "", required=required)
    if value is not None and value != expected:
        f.fail("mediaType", f"{value!r} does not match the manifest type {expected!r}", code="manifest-type-mismatch")
    return value is not None


def _layers(o: _gojson.GoObject, *, oci: bool) -> tuple[Descriptor, ...]:
    """The ``layers`` array as descriptors (schema2 types checked as Go checks them)."""
    items = f.array(o, "layers", "", required=True)
    if oci:
        return tuple(f.oci_descriptor(item, f"layers[{i}]") for i, item in enumerate(items))
    layers = tuple(f.schema2_descriptor(item, f"layers[{i}]") for i, item in enumerate(items))
    for i, layer in enumerate(layers):
        if layer.media_type not in mt.SCHEMA2_ACCEPTED_LAYER_TYPES:
            f.fail(f"layers[{i}].mediaType", f"unsupported docker v2s2 media type: {layer.media_type!r}",
                   code="manifest-unsupported")
    return layers


def _schema2(o: _gojson.GoObject, raw: bytes) -> Schema2Manifest:
    """Validate and model a Docker schema2 manifest."""
    f.obj(o, "", _SCHEMA2_KEYS)
    f.schema_version(o, 2)
    _media_type_field(o, mt.DOCKER_V2S2, required=True)
    f.unambiguous(o, mt.DOCKER_V2S2, frozenset({"config", "layers"}))
    config = f.schema2_descriptor(f.get(o, "config", "", required=True), "config")
    return Schema2Manifest(mt.DOCKER_V2S2, raw, config, _layers(o, oci=False))


def _oci(o: _gojson.GoObject, raw: bytes) -> OCIManifest:
    """Validate and model an OCI image manifest."""
    f.obj(o, "", _OCI_KEYS)
    f.schema_version(o, 2)
    present = _media_type_field(o, mt.OCI_MANIFEST, required=False)
    f.unambiguous(o, mt.OCI_MANIFEST, frozenset({"config", "layers"}))
    config = f.oci_descriptor(f.get(o, "config", "", required=True), "config")
    subject = o.get("subject")
    return OCIManifest(
        mt.OCI_MANIFEST, raw, config, _layers(o, oci=True),
        annotations=f.string_map(o, "annotations", ""),
        subject=f.oci_descriptor(subject, "subject") if subject is not None else None,
        has_media_type_field=present,
        artifact_type=f.string(o, "artifactType", "") or None,
    )


def _docker_list(o: _gojson.GoObject, raw: bytes) -> DockerManifestList:
    """Validate and model a Docker manifest list."""
    f.obj(o, "", _DOCKER_LIST_KEYS)
    f.schema_version(o, 2)
    _media_type_field(o, mt.DOCKER_V2_LIST, required=True)
    f.unambiguous(o, mt.DOCKER_V2_LIST, frozenset({"manifests"}))
    items = f.array(o, "manifests", "", required=True)
    entries = tuple(f.schema2_descriptor(item, f"manifests[{i}]", with_platform=True) for i, item in enumerate(items))
    return DockerManifestList(mt.DOCKER_V2_LIST, raw, entries)


def _oci_index(o: _gojson.GoObject, raw: bytes) -> OCIIndex:
    """Validate and model an OCI image index."""
    f.obj(o, "", _OCI_INDEX_KEYS)
    f.schema_version(o, 2)
    _media_type_field(o, mt.OCI_INDEX, required=False)
    f.unambiguous(o, mt.OCI_INDEX, frozenset({"manifests"}))
    items = f.array(o, "manifests", "", required=True)
    entries = tuple(f.oci_descriptor(item, f"manifests[{i}]") for i, item in enumerate(items))
    subject = o.get("subject")
    return OCIIndex(mt.OCI_INDEX, raw, entries, f.string_map(o, "annotations", ""),
                    artifact_type=f.string(o, "artifactType", "") or None,
                    subject=f.oci_descriptor(subject, "subject") if subject is not None else None)


def parse_manifest(raw: bytes, media_type: str | None = None, *,
                   source: str | None = None) -> ImageManifest | ManifestList:
    """Parse and validate a manifest or manifest list.

    Args:
        raw: the manifest bytes, exactly as received (kept in the result's ``raw``).
        media_type: the type the source reported; None or ``""`` to sniff it with
            :func:`~trustcopy.manifest.mediatypes.guess_mime_type`.
        source: the image the bytes came from; errors then start with it, so that a
            user learns which of a copy's references served the bad manifest.

    Returns:
        A :class:`Schema2Manifest`, :class:`OCIManifest`, :class:`Schema1Manifest`,
        :class:`DockerManifestList` or :class:`OCIIndex`.

    Raises:
        LimitExceededError: ``raw`` is larger than ``MAX_MANIFEST_BODY``.
        ManifestError: ``manifest-unsupported`` for a type we do not handle (or cannot
            recognize), ``manifest-invalid``/``manifest-ambiguous``/``manifest-type-mismatch``
            for bad content; the message names the field, e.g. ``manifest: layers[2].digest: …``.
    """
    try:
        return _parse(raw, media_type)
    except (ManifestError, LimitExceededError) as exc:
        if not source:
            raise
        raise exc.rewrapped(f"{source}: {exc.message}") from exc


def _parse(raw: bytes, media_type: str | None) -> ImageManifest | ManifestList:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"manifest must be bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > limits.MAX_MANIFEST_BODY:
        raise LimitExceededError(
            f"manifest is {len(raw)} bytes, more than the {limits.MAX_MANIFEST_BODY} we accept",
            context={"size": len(raw), "limit": limits.MAX_MANIFEST_BODY},
        )
    kind = _declared_type(media_type) if media_type else mt.guess_mime_type(raw)
    try:
        value = _gojson.loads(raw)
    except _gojson.TooDeepError as exc:
        f.fail("", str(exc))
    except ValueError as exc:
        f.fail("", f"not valid JSON: {exc}")
    if kind not in mt.SUPPORTED_TYPES:  # "" or, for odd documents, a config type (a GuessMIMEType quirk)
        raise ManifestError("manifest: unrecognized manifest format (no known mediaType or schemaVersion)",
                            code="manifest-unsupported",
                            hint="supported types: " + ", ".join(mt.DEFAULT_REQUEST_TYPES))
    if not isinstance(value, _gojson.GoObject):
        f.fail("", f"expected a JSON object, got {f.kind(value)}")
    parsed: ImageManifest | ManifestList
    if kind in (mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED):
        parsed = parse_schema1(value, raw, kind)
    elif kind == mt.DOCKER_V2S2:
        parsed = _schema2(value, raw)
    elif kind == mt.OCI_MANIFEST:
        parsed = _oci(value, raw)
    elif kind == mt.DOCKER_V2_LIST:
        parsed = _docker_list(value, raw)
    else:
        parsed = _oci_index(value, raw)
    _goview.check(value, kind)  # repeated keys: Go must read what we read
    return parsed


def parse_image_manifest(raw: bytes, media_type: str | None = None) -> ImageManifest:
    """:func:`parse_manifest` for callers that need a single image.

    Raises:
        ManifestError: ``manifest-is-list`` when ``raw`` is a list, else as parse_manifest.
    """
    parsed = parse_manifest(raw, media_type)
    if isinstance(parsed, ManifestList):
        raise ManifestError(f"expected a single image manifest, got a {parsed.media_type} list",
                            code="manifest-is-list")
    return parsed


def parse_manifest_list(raw: bytes, media_type: str | None = None) -> ManifestList:
    """:func:`parse_manifest` for callers that need a list.

    Raises:
        ManifestError: ``manifest-not-list`` when ``raw`` is a single image, else as parse_manifest.
    """
    parsed = parse_manifest(raw, media_type)
    if not isinstance(parsed, ManifestList):
        raise ManifestError(f"expected a manifest list, got a {parsed.media_type} image manifest",
                            code="manifest-not-list")
    return parsed
