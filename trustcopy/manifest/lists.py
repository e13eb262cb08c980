"""Manifest lists: Docker schema2 lists and OCI image indexes.

Invariants:
- A list value is immutable; :meth:`ManifestList.with_instances` and conversions return
  new values whose ``raw`` is their serialization, encoded as containers/image encodes it.
- Instance selection follows containers/image 5.23 (``internal/pkg/platform``): the
  wanted variant is tried first, then the less capable variants known to be compatible
  (only ``arm`` and ``arm64`` have such a table there), then an entry without variant.
  Without a wanted variant, an entry without variant wins over any variant. An OCI
  index entry without a platform matches last. Between entries equally good for the
  platform, an OCI entry marked as zstd-compressed wins unless gzip is preferred, then
  document order decides (current containers/image's ``instanceCandidate``).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import field
from typing import NamedTuple, TypeVar

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.lazy import dataclass
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest._gojson import marshal, sorted_map
from trustcopy.manifest.model import Descriptor, Platform, _frozen_map

#: Marks an OCI index entry as the zstd-compressed variant of an image (containers/image's
#: OCI1InstanceAnnotationCompressionZSTD, written by ``podman manifest push --add-compression``).
ZSTD_INSTANCE_ANNOTATION = "io.github.containers.compression.zstd"

#: Known variants per architecture, most capable first (containers/image's table).
COMPATIBLE_VARIANTS: dict[str, tuple[str, ...]] = {"arm": ("v8", "v7", "v6", "v5"), "arm64": ("v8",)}

L = TypeVar("L", bound="ManifestList")


class ListUpdate(NamedTuple):
    """New digest, size and type of one instance after it was copied (Go ``ListUpdate``)."""

    digest: Digest
    size: int
    media_type: str


def wanted_variants(arch: str, variant: str | None) -> list[str]:
    """Variants to try, in order, for ``arch``/``variant`` ("" means "no variant")."""
    order = COMPATIBLE_VARIANTS.get(arch, ())
    if variant:
        variants = list(order[order.index(variant):]) if variant in order else [variant]
        return [*variants, ""]
    return ["", *order]


@dataclass(frozen=True)
class ManifestList(abc.ABC):
    """What both list formats offer. ``manifests`` keeps document order."""

    media_type: str
    raw: bytes = field(repr=False)
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] | None = None

    _what = "manifest list"

    def __post_init__(self) -> None:
        """Normalize to immutable containers."""
        object.__setattr__(self, "manifests", tuple(self.manifests))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))

    @abc.abstractmethod
    def serialize(self) -> bytes:
        """The list encoded as containers/image encodes it."""

    def instances(self) -> list[Digest]:
        """Digests of the listed manifests, in order (may repeat)."""
        return [d.digest for d in self.manifests]

    def instance(self, digest: Digest) -> Descriptor:
        """The first entry for ``digest``.

        Raises:
            ManifestError: the list has no such entry.
        """
        for d in self.manifests:
            if d.digest == digest:
                return d
        raise ManifestError(f"{digest} is not an instance of this {self._what}", code="manifest-instance-unknown")

    def choose_instance(self, os: str, arch: str, variant: str | None = None, *,
                        prefer_gzip: bool = False) -> Descriptor:
        """The entry to use on ``os``/``arch``/``variant`` (see module doc for the order).

        Args:
            os, arch, variant: Go names (``linux``, ``arm64``, ``v8``); the caller resolves
                defaults and overrides, and auto-detects a variant only for the host arch.
            prefer_gzip: between OCI entries equally good for the platform, prefer one
                not marked as zstd-compressed (containers/image's PreferGzipInstances);
                by default a marked one wins, as in current containers/image.

        Raises:
            ManifestError: nothing matches; the message lists what the list offers.
        """
        wanted = wanted_variants(arch, variant)
        best: tuple[int, bool, int] | None = None
        chosen: Descriptor | None = None
        for position, d in enumerate(self.manifests):
            p = d.platform
            if p is None:
                if not self._platformless_matches:
                    continue
                rank = len(wanted)  # after every platform that matches (Go: math.MaxInt)
            else:
                if p.os != os or p.architecture != arch or (p.variant or "") not in wanted:
                    continue
                rank = wanted.index(p.variant or "")
            # As containers/image's instanceCandidate.isPreferredOver: platform first, then
            # the compression preference, then document order.
            key = (rank, self._is_zstd(d) == prefer_gzip, position)
            if best is None or key < best:
                best, chosen = key, d
        if chosen is not None:
            return chosen
        offered = ", ".join(str(d.platform) for d in self.manifests if d.platform is not None) or "nothing"
        raise ManifestError(
            f'no image found in {self._what} for architecture {arch}, variant "{wanted[0]}", OS {os}; '
            f"it offers: {offered}",
            code="manifest-platform-not-found",
            hint="choose another platform with --override-os/--override-arch/--override-variant, or copy --all",
        )

    #: Whether an entry without a platform matches any platform, after every entry with one.
    _platformless_matches = False

    def _is_zstd(self, d: Descriptor) -> bool:
        """Whether the entry is marked as a zstd-compressed variant of another (OCI only)."""
        return False

    def clone(self: L) -> L:
        """The list as containers/image's ``Clone`` rebuilds it (re-encoded)."""
        return _rebuilt(self)

    def with_instances(self: L, updates: Mapping[Digest, ListUpdate | tuple[Digest, int, str]], *,
                       zstd: Collection[Digest] = ()) -> L:
        """A clone with the entries for each key of ``updates`` replaced (digest, size, type).

        Args:
            zstd: keys of ``updates`` whose new instance has zstd-compressed layers: an OCI
                index marks those entries with ``io.github.containers.compression.zstd:
                "true"`` (newest containers/image's ``ListEdit.UpdateCompressionAlgorithms``;
                5.23 has no such mark). Other annotations are kept, the order is not changed;
                a Docker list has no place for the mark and ignores it.

        Raises:
            ValueError: an update names an instance the list does not have, a negative
                size or an empty media type (callers' bugs, not bad input).
        """
        unknown = (set(updates) | set(zstd)) - set(self.instances())
        if unknown:
            raise ValueError(f"updates for instances not in the list: {sorted(map(str, unknown))}")
        base = self.clone()
        entries = []
        for d in base.manifests:
            if d.digest not in updates:
                entries.append(d)
                continue
            new = ListUpdate(*updates[d.digest])
            if new.size < 0 or not new.media_type:
                raise ValueError(f"invalid update for {d.digest}: {new}")
            changes: dict[str, object] = {"digest": new.digest, "size": new.size, "media_type": new.media_type}
            if d.digest in zstd and self._marks_zstd:
                changes["annotations"] = {**(d.annotations or {}), ZSTD_INSTANCE_ANNOTATION: "true"}
            entries.append(dataclasses.replace(d, **changes))  # type: ignore[arg-type]
        return _rebuilt(base, manifests=tuple(entries))

    #: Whether entries can carry the zstd mark (annotations): OCI indexes only.
    _marks_zstd = False


def _rebuilt(lst: L, **changes: object) -> L:
    """A copy with ``changes`` applied and ``raw`` set to its serialization."""
    draft = dataclasses.replace(lst, raw=b"", **changes)  # type: ignore[arg-type]
    return dataclasses.replace(draft, raw=draft.serialize())


@dataclass(frozen=True)
class DockerManifestList(ManifestList):
    """A Docker manifest list (``application/vnd.docker.distribution.manifest.list.v2+json``).

    Every entry has a platform; entries carry no annotations.
    """

    def serialize(self) -> bytes:
        """Go ``json.Marshal(manifest.Schema2List)``."""
        entries = []
        for d in self.manifests:
            entry = d.to_schema2_json()
            entry["platform"] = (d.platform or Platform("", "")).to_json(docker=True)
            entries.append(entry)
        return marshal({"schemaVersion": 2, "mediaType": self.media_type, "manifests": entries})

    @classmethod
    def from_components(cls, manifests: tuple[Descriptor, ...]) -> DockerManifestList:
        """A new Docker list of ``manifests`` (Go ``Schema2ListFromComponents``)."""
        return _rebuilt(cls(mt.DOCKER_V2_LIST, b"", manifests))


@dataclass(frozen=True)
class OCIIndex(ManifestList):
    """An OCI image index. Entries may lack a platform; the first such entry is the
    fallback when no platform matches (as in containers/image).

    ``artifact_type`` and ``subject`` are image-spec 1.1's top-level fields. Cloning and
    re-encoding keep every field, entries' ``data`` and ``artifactType`` included, as
    current containers/image does (``OCI1IndexPublicClone``; 5.23 dropped them).
    """

    artifact_type: str | None = None
    subject: Descriptor | None = None

    _what = "image index"

    def serialize(self) -> bytes:
        """Go ``json.Marshal(imgspecv1.Index)`` (mediaType always set, as Go's reader presets it)."""
        out: dict[str, object] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [d.to_oci_json() for d in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_oci_json()
        if self.annotations:
            out["annotations"] = sorted_map(dict(self.annotations))
        return marshal(out)

    _platformless_matches = True
    _marks_zstd = True

    def _is_zstd(self, d: Descriptor) -> bool:
        """Whether the entry carries ``io.github.containers.compression.zstd: "true"``."""
        return (d.annotations or {}).get(ZSTD_INSTANCE_ANNOTATION) == "true"

    @classmethod
    def from_components(cls, manifests: tuple[Descriptor, ...],
                        annotations: Mapping[str, str] | None = None) -> OCIIndex:
        """A new OCI index (Go ``OCI1IndexFromComponents``)."""
        return _rebuilt(cls(mt.OCI_INDEX, b"", manifests, annotations))


def host_platform() -> Platform:
    """This machine as Go's runtime.GOOS/GOARCH name it (used where Go uses them)."""
    from trustcopy import hostplatform

    return Platform(architecture=hostplatform.go_arch(), os=hostplatform.go_os())
