"""Manifest and blob media types, and sniffing a manifest's type from its bytes.

Invariants:
- :func:`guess_mime_type` answers exactly what containers/image's
  ``manifest.GuessMIMEType`` answers for the same bytes (including ``""`` for "not a
  manifest we know"). Manifest digests depend on it: a signed schema1 manifest is
  hashed without its signatures, and only this function decides what is "signed".
  It uses Go's JSON decoding rules (case-insensitive field names, last duplicate
  wins, a wrongly typed field makes the whole probe fail → ``""``).
- Constants are the literal strings of the Docker distribution and OCI image specs.
"""

from __future__ import annotations

from typing import Any

from trustcopy.manifest import _gojson

DOCKER_V2S1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_V2S1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_V2_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#: Not in the Docker schema2 spec, but some images use it. The newest containers/image (since
#: September 2025) accepts it in schema2 manifests and converts it to OCI ``tar+zstd``; it never
#: produces it, and 5.23 refuses such manifests ("unsupported docker v2s2 media type").
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDISTRIBUTABLE_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDISTRIBUTABLE_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_NONDISTRIBUTABLE_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#: Image-spec 1.1's "empty" config/layer (``{}``); containers/image 5.23 predates it.
OCI_EMPTY_JSON = "application/vnd.oci.empty.v1+json"

#: The Accept list containers/image sends for a manifest, in its order of preference.
DEFAULT_REQUEST_TYPES: tuple[str, ...] = (
    OCI_MANIFEST,
    DOCKER_V2S2,
    DOCKER_V2S1_SIGNED,
    DOCKER_V2S1,
    DOCKER_V2_LIST,
    OCI_INDEX,
)
#: Manifest types trustcopy parses (images and lists).
SUPPORTED_TYPES: frozenset[str] = frozenset(DEFAULT_REQUEST_TYPES)
LIST_TYPES: frozenset[str] = frozenset({DOCKER_V2_LIST, OCI_INDEX})
IMAGE_TYPES: frozenset[str] = SUPPORTED_TYPES - LIST_TYPES

#: Layer types schema2 manifests may use (containers/image's SupportedSchema2MediaType,
#: which, oddly but harmlessly, also admits the manifest and config types). NOTE(go-diff):
#: DOCKER_LAYER_ZSTD as the newest containers/image; 5.23 refuses it.
SCHEMA2_ACCEPTED_LAYER_TYPES: frozenset[str] = frozenset({
    DOCKER_V2_LIST, DOCKER_V2S1, DOCKER_V2S1_SIGNED, DOCKER_CONFIG, DOCKER_FOREIGN_LAYER,
    DOCKER_FOREIGN_LAYER_GZIP, DOCKER_LAYER_GZIP, DOCKER_V2S2, DOCKER_LAYER, DOCKER_LAYER_ZSTD,
})


def manifest_accept_header() -> str:
    """The ``Accept`` header of a manifest request: every type we read, in containers/image's order."""
    return ", ".join(DEFAULT_REQUEST_TYPES)


def simplify_content_type(value: str | None) -> str:
    """The media type of a ``Content-Type`` header (``type/subtype; charset=…`` → ``type/subtype``); "" for junk."""
    if not value:
        return ""
    mime = value.split(";", 1)[0].strip().lower()
    return mime if "/" in mime and " " not in mime else ""


def is_list(media_type: str | None) -> bool:
    """True for the two manifest-list types (Go ``MIMETypeIsMultiImage``)."""
    return media_type in LIST_TYPES


def normalize_mime_type(media_type: str | None) -> str:
    """The effective manifest type of a type a server returned (Go ``NormalizedMIMEType``).

    Known manifest types map to themselves. Everything else, including ``""`` and
    ``application/json``, maps to signed schema1: old registries and some CDNs serve
    schema1 manifests with such types, and containers/image reads them that way.
    """
    if media_type in SUPPORTED_TYPES:
        return media_type  # type: ignore[return-value]
    return DOCKER_V2S1_SIGNED


_META = ("struct", {"mediaType": "string", "schemaVersion": "int", "signatures": "any"})
_CONFIG = ("struct", {"config": ("struct", {"mediaType": "string"})})
_PLATFORM = ("struct", {
    "architecture": "string", "os": "string", "os.version": "string",
    "os.features": ("list", "string"), "variant": "string",
})
_OCI_DESCRIPTOR = ("struct", {
    "mediaType": "string", "digest": "string", "size": "int", "urls": ("list", "string"),
    "annotations": ("map", "string"), "data": "bytes", "platform": _PLATFORM, "artifactType": "string",
})
_INDEX = ("struct", {"manifests": ("list", _OCI_DESCRIPTOR)})


def _go_unmarshal(value: Any, spec: Any) -> dict[str, Any] | None:
    """Go's Unmarshal of ``value`` into a struct; None where Go returns an error."""
    try:
        decoded = _gojson.decode(value, spec, {})
    except _gojson.GoTypeError:
        return None
    return decoded if isinstance(decoded, dict) else {}


def guess_mime_type(data: bytes) -> str:
    """The manifest type of ``data``, or ``""`` when it is not one we recognize.

    Mirrors Go ``manifest.GuessMIMEType`` (containers/image 5.23) step by step: a known
    top-level ``mediaType`` wins; otherwise ``schemaVersion`` 1 is schema1 (signed
    iff a non-null ``signatures`` field exists), and ``schemaVersion`` 2 is sniffed
    from ``config.mediaType`` and ``manifests`` (OCI documents before image-spec 1.0.2
    carry no ``mediaType``). Any JSON that Go would fail to decode into the probing
    structs (wrong field types included) yields ``""``.

    Note: the answer for a ``schemaVersion`` 2 document with ``manifests`` *and* an
    unknown ``config.mediaType`` is that config type (a containers/image quirk, kept).
    """
    try:
        value = _gojson.loads(bytes(data))
    except ValueError:
        return ""
    return guess_from_json(value)


def guess_from_json(value: Any) -> str:
    """:func:`guess_mime_type` for an already decoded document (from ``_gojson.loads``)."""
    meta = _go_unmarshal(value, _META)
    if meta is None:
        return ""
    media_type = meta.get("mediaType") or ""
    if media_type in (DOCKER_V2S2, DOCKER_V2_LIST, OCI_MANIFEST, OCI_INDEX):
        return media_type
    version = meta.get("schemaVersion") or 0
    if version == 1:
        return DOCKER_V2S1_SIGNED if meta.get("signatures") is not None else DOCKER_V2S1
    if version != 2:
        return ""
    probe = _go_unmarshal(value, _CONFIG)
    if probe is None:
        return ""
    config_type = (probe.get("config") or {}).get("mediaType") or ""
    if config_type == OCI_CONFIG:
        return OCI_MANIFEST
    if config_type == DOCKER_CONFIG:
        return DOCKER_V2S2
    index = _go_unmarshal(value, _INDEX)
    if index is None:
        return ""
    if index.get("manifests"):
        return config_type or OCI_INDEX
    return OCI_MANIFEST
