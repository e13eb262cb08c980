"""Frozen values for manifests: platforms, descriptors, and the two single-image formats.

Invariants:
- Every value is immutable; "updating" returns a new object whose ``raw`` is the new
  serialized bytes. A parsed manifest keeps the exact bytes it was parsed from in
  ``raw`` (those are what digests and signatures cover); ``serialize()`` re-encodes
  the model the way containers/image's ``json.Marshal`` of its Go struct would, so a
  manifest built here has the bytes skopeo would write.
- Digests are :class:`~trustcopy.digest.Digest` values, so they are valid by construction.
- ``media_type == ""`` on a descriptor means "unknown" (schema1 layers); its
  :meth:`Descriptor.blob_info` then reports ``media_type=None``.
"""

from __future__ import annotations

import abc
import base64
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import field
from types import MappingProxyType
from typing import Any, TypeVar

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.lazy import dataclass
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest._gojson import marshal, sorted_map
from trustcopy.types import BlobInfo


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """Annotations as a read-only copy; empty maps become None (Go omits them either way)."""
    if not value:
        return None
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Platform:
    """The platform a list entry is for. ``features`` exists only in Docker lists."""

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def to_json(self, *, docker: bool = False) -> dict[str, Any]:
        """Go field order and omitempty of Schema2PlatformSpec / imgspecv1.Platform."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if docker and self.features:
            out["features"] = list(self.features)
        return out

    def __str__(self) -> str:
        """``os/arch[/variant]``, for messages."""
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a manifest says about a blob or a child manifest."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = None
    #: OCI embedded content (``data``, base64 in JSON); kept only so re-encoding is faithful.
    data: bytes | None = None

    def __post_init__(self) -> None:
        """Normalize to immutable containers."""
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))

    def blob_info(self) -> BlobInfo:
        """The BlobInfo the copy pipeline and transports work with."""
        return BlobInfo(
            digest=self.digest,
            size=self.size,
            media_type=self.media_type or None,
            urls=self.urls,
            annotations=self.annotations,
        )

    def to_schema2_json(self) -> dict[str, Any]:
        """Go ``Schema2Descriptor``: mediaType, size, digest, urls (note: size before digest)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "size": self.size, "digest": str(self.digest)}
        if self.urls:
            out["urls"] = list(self.urls)
        return out

    def to_oci_json(self) -> dict[str, Any]:
        """Go ``imgspecv1.Descriptor`` (image-spec 1.1.0-rc2) field order and omitempty."""
        out: dict[str, Any] = {}
        if self.media_type:
            out["mediaType"] = self.media_type
        out["digest"] = str(self.digest)
        out["size"] = self.size
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = sorted_map(dict(self.annotations))
        if self.data:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


M = TypeVar("M", bound="ImageManifest")


def rebuilt(manifest: M, **changes: Any) -> M:
    """A copy with ``changes`` applied and ``raw`` set to its own serialization."""
    draft = dataclasses.replace(manifest, raw=b"", **changes)
    return dataclasses.replace(draft, raw=draft.serialize())


@dataclass(frozen=True)
class ImageManifest(abc.ABC):
    """What every single-image manifest offers (schema1, schema2, OCI).

    ``config`` is None for schema1 (its config is embedded in ``history``).
    ``layers`` are base layer first. They may repeat a digest; repeats are meaningful.
    """

    media_type: str
    raw: bytes = field(repr=False)
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        """Normalize to immutable containers."""
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))

    def layer_infos(self) -> list[BlobInfo]:
        """The layers as BlobInfos, base first (Go ``LayerInfos``)."""
        return [layer.blob_info() for layer in self.layers]

    @abc.abstractmethod
    def serialize(self) -> bytes:
        """The manifest encoded as containers/image encodes it (see module doc)."""

    def with_layer_infos(self: M, infos: Sequence[BlobInfo]) -> M:
        """A copy whose layers are ``infos`` (same count, same order; Go ``UpdateLayerInfos``).

        A layer keeps its media type unless its BlobInfo names a new one (the copy
        pipeline does, after compressing). URLs (and, for OCI, annotations) are taken
        from ``infos``, as Go does.

        Raises:
            ManifestError: the count differs, a size is unknown, or the new media type
                is not valid in this format.
        """
        raise ManifestError(f"cannot update the layers of a {self.media_type} manifest",
                            code="manifest-update-unsupported")

    def with_layers(self: M, infos: Sequence[BlobInfo]) -> M:
        """Alias of :meth:`with_layer_infos`."""
        return self.with_layer_infos(infos)

    def _checked_infos(self, infos: Sequence[BlobInfo]) -> list[BlobInfo]:
        """``infos`` if they can replace the layers (same count, known sizes)."""
        if len(infos) != len(self.layers):
            raise ManifestError(
                f"preparing updated manifest: layer count changed from {len(self.layers)} to {len(infos)}",
                code="manifest-update-invalid",
            )
        for i, info in enumerate(infos):
            if info.size < 0:
                raise ManifestError(f"preparing updated manifest: layers[{i}] ({info.digest}) has no known size",
                                    code="manifest-update-invalid")
        return list(infos)


@dataclass(frozen=True)
class Schema2Manifest(ImageManifest):
    """A Docker image manifest, schema 2 (``application/vnd.docker.distribution.manifest.v2+json``)."""

    config: Descriptor

    def serialize(self) -> bytes:
        """Go ``json.Marshal(manifest.Schema2)``."""
        return marshal({
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_schema2_json(),
            "layers": [layer.to_schema2_json() for layer in self.layers],
        })

    def with_layer_infos(self, infos: Sequence[BlobInfo]) -> Schema2Manifest:
        """See :meth:`ImageManifest.with_layer_infos`."""
        layers = []
        for i, (old, info) in enumerate(zip(self.layers, self._checked_infos(infos), strict=True)):
            media_type = info.media_type or old.media_type
            if media_type not in mt.SCHEMA2_ACCEPTED_LAYER_TYPES:
                raise ManifestError(
                    f"preparing updated manifest: layers[{i}] ({info.digest}): media type {media_type!r} "
                    "cannot be used in a Docker schema2 manifest",
                    code="manifest-update-invalid",
                )
            layers.append(Descriptor(media_type, info.digest, info.size, urls=info.urls))
        return rebuilt(self, layers=tuple(layers))

    @classmethod
    def from_components(cls, config: Descriptor, layers: Sequence[Descriptor]) -> Schema2Manifest:
        """A new schema2 manifest (Go ``Schema2FromComponents``)."""
        return rebuilt(cls(mt.DOCKER_V2S2, b"", config, tuple(layers)))


@dataclass(frozen=True)
class OCIManifest(ImageManifest):
    """An OCI image manifest (``application/vnd.oci.image.manifest.v1+json``).

    ``has_media_type_field`` records whether the document carries ``mediaType``
    (image-spec < 1.0.2 documents do not); Go keeps that absence when re-encoding.
    ``artifact_type`` is image-spec 1.1's top-level ``artifactType``: kept when the
    manifest is re-encoded, as current containers/image does (5.23 dropped it).
    """

    config: Descriptor
    subject: Descriptor | None = None
    has_media_type_field: bool = True
    artifact_type: str | None = None

    def serialize(self) -> bytes:
        """Go ``json.Marshal(imgspecv1.Manifest)`` (image-spec 1.1 field set and order)."""
        out: dict[str, Any] = {"schemaVersion": 2}
        if self.has_media_type_field:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_oci_json()
        out["layers"] = [layer.to_oci_json() for layer in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_oci_json()
        if self.annotations:
            out["annotations"] = sorted_map(dict(self.annotations))
        return marshal(out)

    def with_layer_infos(self, infos: Sequence[BlobInfo]) -> OCIManifest:
        """See :meth:`ImageManifest.with_layer_infos`."""
        layers = tuple(
            Descriptor(info.media_type or old.media_type, info.digest, info.size,
                       urls=info.urls, annotations=info.annotations)
            for old, info in zip(self.layers, self._checked_infos(infos), strict=True)
        )
        return rebuilt(self, layers=layers)

    @classmethod
    def from_components(cls, config: Descriptor, layers: Sequence[Descriptor]) -> OCIManifest:
        """A new OCI manifest (Go ``OCI1FromComponents``): no annotations, no subject."""
        return rebuilt(cls(mt.OCI_MANIFEST, b"", config, tuple(layers)))
