"""Manifest format conversion, as containers/image (and so skopeo) converts.

Supported: Docker schema2 ⇄ OCI image manifests, and Docker list ⇄ OCI index. Schema1
is never produced from another format; a schema1 source is converted by
:mod:`trustcopy.manifest.schema1convert` once its layers are copied (building a schema2
config from v1Compatibility needs the layers' diff IDs), not here.

Invariants (containers/image 5.23 ``internal/image``):
- Layer media types map one to one (gzip ⇄ gzip, uncompressed ⇄ uncompressed,
  Docker foreign ⇄ OCI non-distributable), URLs are kept; zstd layers have no schema2
  form, so an OCI manifest with one cannot become schema2. As the newest containers/image,
  a schema2 manifest may carry the off-spec ``…rootfs.diff.tar.zstd`` layer type, which
  becomes OCI ``tar+zstd`` (one way only).
- OCI → schema2 keeps the config bytes (only its media type changes) and drops every
  annotation. An OCI *artifact* (config not ``application/vnd.oci.image.config.v1+json``)
  is not an image and is refused.
- schema2 → OCI *rewrites the config* (see :mod:`trustcopy.manifest.ociconfig`); only
  :func:`convert_image` given the config bytes produces skopeo's exact manifest and the
  new config blob the destination must receive.
"""

from __future__ import annotations

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ManifestError
from trustcopy.lazy import dataclass
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.lists import DockerManifestList, ManifestList, OCIIndex, host_platform
from trustcopy.manifest.model import Descriptor, ImageManifest, OCIManifest, Platform, Schema2Manifest
from trustcopy.manifest.ociconfig import oci_config_from_docker
from trustcopy.manifest.schema1 import Schema1Manifest

_UNSUPPORTED = "manifest-conversion-unsupported"

_SCHEMA2_TO_OCI = {
    mt.DOCKER_FOREIGN_LAYER: mt.OCI_NONDISTRIBUTABLE_LAYER,
    mt.DOCKER_FOREIGN_LAYER_GZIP: mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP,
    mt.DOCKER_LAYER: mt.OCI_LAYER,
    mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP,
}
_OCI_TO_SCHEMA2 = {oci: docker for docker, oci in _SCHEMA2_TO_OCI.items()}
# Added after the inversion: the newest containers/image reads a schema2 zstd layer (a type
# outside the Docker spec) into OCI ``tar+zstd``, but never writes one (OCI zstd → schema2 is
# still refused). 5.23 refuses the schema2 manifest outright.
_SCHEMA2_TO_OCI[mt.DOCKER_LAYER_ZSTD] = mt.OCI_LAYER_ZSTD
_ZSTD_LAYERS = frozenset({mt.OCI_LAYER_ZSTD, mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD})

# (compression, foreign) → layer media type, per manifest format. None = not representable.
_LAYER_TYPES: dict[str, dict[tuple[str | None, bool], str | None]] = {
    mt.DOCKER_V2S2: {
        (None, False): mt.DOCKER_LAYER, ("gzip", False): mt.DOCKER_LAYER_GZIP, ("zstd", False): None,
        (None, True): mt.DOCKER_FOREIGN_LAYER, ("gzip", True): mt.DOCKER_FOREIGN_LAYER_GZIP, ("zstd", True): None,
    },
    mt.OCI_MANIFEST: {
        (None, False): mt.OCI_LAYER, ("gzip", False): mt.OCI_LAYER_GZIP, ("zstd", False): mt.OCI_LAYER_ZSTD,
        (None, True): mt.OCI_NONDISTRIBUTABLE_LAYER, ("gzip", True): mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP,
        ("zstd", True): mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD,
    },
}


def layer_media_type_for(target_manifest_type: str, compression: str | None, foreign: bool = False) -> str:
    """The layer media type for ``compression`` (``"gzip"``, ``"zstd"`` or None) in a format.

    Args:
        target_manifest_type: ``DOCKER_V2S2`` or ``OCI_MANIFEST``.
        foreign: a Docker foreign / OCI non-distributable layer.

    Raises:
        ManifestError: the format cannot express it (zstd in schema2; other formats).
        ValueError: ``compression`` is not one of the three values.
    """
    if compression not in (None, "gzip", "zstd"):
        raise ValueError(f"unknown compression {compression!r}")
    table = _LAYER_TYPES.get(target_manifest_type)
    if table is None:
        raise ManifestError(f"layer media types of {target_manifest_type} manifests are not supported",
                            code=_UNSUPPORTED)
    result = table[(compression, foreign)]
    if result is None:
        raise ManifestError(f"{compression} compression is not supported for {target_manifest_type} layers",
                            code="manifest-layer-compression-unsupported")
    return result


def layer_compression(media_type: str) -> tuple[str | None, bool]:
    """(compression, foreign) of a known schema2/OCI layer type; the inverse of :func:`layer_media_type_for`.

    Raises:
        ManifestError: ``media_type`` is not a layer type we know.
    """
    for table in _LAYER_TYPES.values():
        for key, value in table.items():
            if value == media_type:
                return key
    raise ManifestError(f"unknown layer media type {media_type!r}", code="manifest-unsupported")


def can_change_layer_compression(manifest: ImageManifest, media_type: str | None) -> bool:
    """Whether a copy may change the compression of ``manifest``'s layer of ``media_type``
    (containers/image's CanChangeLayerCompression, asked of the *source* manifest).

    Not for an OCI manifest whose config is not an image config (an artifact: its layers
    are whatever the artifact says, not tar streams to recompress), nor for a layer type
    the manifest's own format does not list (an OCI type in a schema2 manifest, or the
    reverse, or an unknown one); always for schema1, which names no types.
    """
    if manifest.media_type in (mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED):
        return True
    is_artifact = manifest.config is None or manifest.config.media_type != mt.OCI_CONFIG
    if manifest.media_type == mt.OCI_MANIFEST and is_artifact:
        return False
    table = _LAYER_TYPES.get(manifest.media_type)
    return table is not None and media_type is not None and media_type in table.values()


@dataclass(frozen=True)
class Conversion:
    """A converted manifest and, when the conversion rewrote it, the new config blob."""

    manifest: ImageManifest
    config_blob: bytes | None = None


def _schema2_to_oci(m: Schema2Manifest, config_blob: bytes | None) -> Conversion:
    """Go convertToManifestOCI1 (config rewritten only when its bytes are given)."""
    layers = []
    for i, layer in enumerate(m.layers):
        new_type = _SCHEMA2_TO_OCI.get(layer.media_type)
        if new_type is None:
            raise ManifestError(f"layers[{i}] ({layer.digest}): unknown media type during manifest conversion: "
                                f"{layer.media_type!r}", code=_UNSUPPORTED)
        layers.append(Descriptor(new_type, layer.digest, layer.size, urls=layer.urls))
    new_config = None
    if config_blob is None:
        config = Descriptor(mt.OCI_CONFIG, m.config.digest, m.config.size)
    else:
        actual = Digest.from_bytes(config_blob, m.config.digest.algorithm)
        if actual != m.config.digest:
            raise DigestMismatchError(f"config blob has digest {actual}, the manifest expects {m.config.digest}")
        new_config = oci_config_from_docker(config_blob)
        config = Descriptor(mt.OCI_CONFIG, Digest.from_bytes(new_config), len(new_config))
    return Conversion(OCIManifest.from_components(config, layers), new_config)


def _oci_to_schema2(m: OCIManifest) -> Schema2Manifest:
    """Go convertToManifestSchema2: images only, no zstd, annotations dropped."""
    if m.config.media_type != mt.OCI_CONFIG:
        raise ManifestError(f"unsupported image-specific operation on artifact with type {m.config.media_type!r}: "
                            "an OCI artifact cannot be converted to a Docker image", code=_UNSUPPORTED)
    layers = []
    for i, layer in enumerate(m.layers):
        if layer.media_type in _ZSTD_LAYERS:
            raise ManifestError(f"layers[{i}] ({layer.digest}): {layer.media_type!r}: zstd compression is not "
                                "officially supported for docker images", code="manifest-layer-compression-unsupported",
                                hint="keep the OCI format (--format oci), or recompress with gzip")
        new_type = _OCI_TO_SCHEMA2.get(layer.media_type)
        if new_type is None:
            raise ManifestError(f"layers[{i}] ({layer.digest}): unknown media type during manifest conversion: "
                                f"{layer.media_type!r}", code=_UNSUPPORTED)
        layers.append(Descriptor(new_type, layer.digest, layer.size, urls=layer.urls))
    config = Descriptor(mt.DOCKER_CONFIG, m.config.digest, m.config.size, urls=m.config.urls)
    return Schema2Manifest.from_components(config, layers)


def convert_image(m: ImageManifest, target_media_type: str, config_blob: bytes | None) -> Conversion:
    """Convert ``m`` to ``target_media_type`` exactly as skopeo would.

    Args:
        config_blob: the source's config bytes; needed for schema2 → OCI, whose config
            is rewritten (without it, the original config is kept, relabelled as an
            OCI config: a valid image, but not byte-identical to skopeo's).

    Returns:
        The new manifest (``raw`` holds its bytes), plus the new config blob the
        destination must store when it changed.

    Raises:
        ManifestError: ``manifest-conversion-unsupported`` (schema1, lists, artifacts,
            unknown layer types, schema1 targets) or ``manifest-layer-compression-unsupported``.
        DigestMismatchError: ``config_blob`` is not the config ``m`` names.
    """
    if isinstance(m, Schema1Manifest) or not isinstance(m, Schema2Manifest | OCIManifest):
        raise ManifestError(f"converting a {m.media_type} manifest is not supported here", code=_UNSUPPORTED,
                            hint="a schema1 image is converted while it is copied (trustcopy.manifest.schema1convert)")
    if target_media_type == m.media_type:
        return Conversion(m)
    if target_media_type == mt.OCI_MANIFEST and isinstance(m, Schema2Manifest):
        return _schema2_to_oci(m, config_blob)
    if target_media_type == mt.DOCKER_V2S2 and isinstance(m, OCIManifest):
        return Conversion(_oci_to_schema2(m))
    if target_media_type in (mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED):
        why = "trustcopy does not write schema1 manifests"
    elif mt.is_list(target_media_type):
        why = "it is a list type"
    else:
        why = "it is not a manifest type trustcopy knows"
    raise ManifestError(f"cannot convert a {m.media_type} manifest to {target_media_type}: {why}", code=_UNSUPPORTED)


def convert_manifest(m: ImageManifest, target_media_type: str, *, config_blob: bytes | None = None) -> ImageManifest:
    """:func:`convert_image`, returning only the manifest.

    WARNING: for schema2 → OCI pass ``config_blob`` *and* store
    ``convert_image(...).config_blob`` at the destination, or the result differs from
    skopeo's (see :func:`convert_image`).
    """
    return convert_image(m, target_media_type, config_blob).manifest


def convert_list(lst: ManifestList, target_media_type: str) -> ManifestList:
    """Convert a Docker list ⇄ OCI index (Go ``ConvertToMIMEType``).

    Docker → OCI drops the Docker-only ``features``; OCI → Docker drops annotations and
    gives entries without platform this machine's OS/architecture, as Go does.

    Raises:
        ManifestError: ``target_media_type`` is not a list type.
    """
    if target_media_type == lst.media_type:
        return lst.clone()
    if target_media_type == mt.OCI_INDEX and isinstance(lst, DockerManifestList):
        entries = []
        for d in lst.manifests:
            p = d.platform or Platform("", "")
            plat = Platform(p.architecture, p.os, p.variant, p.os_version, p.os_features)
            entries.append(Descriptor(d.media_type, d.digest, d.size, urls=d.urls, platform=plat))
        return OCIIndex.from_components(tuple(entries))
    if target_media_type == mt.DOCKER_V2_LIST and isinstance(lst, OCIIndex):
        entries = []
        for d in lst.manifests:
            p = d.platform or host_platform()
            plat = Platform(p.architecture, p.os, p.variant, p.os_version, p.os_features)
            entries.append(Descriptor(d.media_type, d.digest, d.size, urls=d.urls, platform=plat))
        return DockerManifestList.from_components(tuple(entries))
    raise ManifestError(f"cannot convert a {lst.media_type} list to {target_media_type}, which is not a list type",
                        code=_UNSUPPORTED)
