"""``oci:PATH[:REF|:@N]``: an OCI image layout directory, possibly holding many images.

Layout: ``PATH/oci-layout`` (``{"imageLayoutVersion": "1.0.0"}``), ``PATH/index.json``
(one descriptor per image; ``org.opencontainers.image.ref.name`` names it) and
``PATH/blobs/ALG/HEX``.

Invariants:
- index.json is the commit point: it is rewritten atomically (temp + rename) under an
  exclusive lock on PATH, re-read at commit so that a concurrent writer's entries survive,
  and only after every blob is in place. Other images in the layout are never touched.
- New blobs are staged in a hidden sibling directory and moved into ``blobs/`` at commit;
  a failed copy removes them. A new layout appears at PATH in one rename.
- Manifests read from a source are verified against the descriptor that names them.
- With a shared blob directory (``SystemContext.oci_shared_blob_dirs``: skopeo's
  ``--src-shared-blob-dir``/``--dest-shared-blob-dir``/``--shared-blob-dir``), every blob,
  manifests included, is ``DIR/ALG/HEX`` instead; a destination moves its staged blobs
  there at commit, before the index names them.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

from trustcopy import gojson, limits
from trustcopy.digest import Digest
from trustcopy.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    InvalidReferenceError,
    LimitExceededError,
    ManifestError,
    TransportError,
)
from trustcopy.fsutil import (
    copy_file_atomic,
    current_umask,
    fsync_dir,
    make_staging_dir,
    parent_namespaces,
    remove_tree,
    resolve_path_to_fully_explicit,
    stages_inside,
    validate_path_scope,
    write_file_atomic,
)
from trustcopy.gojson import go_marshal
from trustcopy.lazy import dataclass
from trustcopy.manifest import _gojson, _goview
from trustcopy.transports.base import ImageDestination, ImageReference, ImageSource, ImageTransport
from trustcopy.transports.localblobs import StagingBlobWriter, open_inside
from trustcopy.transports.oci_index import parse_index
from trustcopy.transports.stubs import AlwaysSupportsManifestLists, NoSignatures, NoSourceSignatures
from trustcopy.types import BlobInfo, LayerCompression, SystemContext

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
#: Byte for byte what containers/image writes (its oci_dest.go), so layouts written by
#: either tool differ in nothing but what the images make them differ in.
OCI_LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'
_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_IMAGE_TYPES = (_OCI_MANIFEST, _OCI_INDEX, _DOCKER_V2S2, _DOCKER_LIST)

# The image-name grammar of containers/image's oci/internal (a superset of tags).
_SEP = r"(?:[-._:@+]|--)"
_ALNUM = r"[A-Za-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_REF_NAME = rf"{_COMPONENT}(?:/{_COMPONENT})*"  # compiled on first use (re's cache)


class OCILayoutTransport(ImageTransport):
    """The ``oci:`` transport."""

    name = "oci"
    syntax = "oci:PATH[:REF|:@INDEX]"

    def parse_reference(self, reference: str) -> OCIReference:
        """Split ``PATH[:REF]`` at the first colon; ``@N`` selects a source by position."""
        path, resolved, image, index = parse_path_and_image(reference, "oci")
        return OCIReference(path=path, resolved=resolved, image=image, source_index=index)

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Absolute, canonical directory path; not "/"."""
        validate_path_scope(scope)


TRANSPORT = OCILayoutTransport()


#: Go's Atoi on 64-bit platforms: an optional sign and ASCII digits (compiled on first use), within int64.
_GO_INT = r"[+-]?[0-9]+"
_INT64_MAX = 2**63 - 1


def parse_source_index(text: str) -> int:
    """The ``N`` of ``:@N`` as containers/image reads it (Go ``strconv.Atoi``), or -1 if invalid.

    As Go: an optional sign, then ASCII digits only (no Unicode digits, spaces or ``_``),
    within int64; ``+5`` is 5 and ``-0`` is 0. A negative value is returned as -1 too:
    every caller refuses it. Shared by oci:, oci-archive: and docker-archive:.
    """
    if re.fullmatch(_GO_INT, text) is None:
        return -1
    negative = text[0] == "-"
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > len(str(_INT64_MAX)):  # before int(): Python refuses over 4300 digits
        return -1
    value = int(digits)
    if value > _INT64_MAX or (negative and value != 0):
        return -1
    return value


def parse_path_and_image(reference: str, transport: str) -> tuple[str, str, str, int]:
    """``PATH[:REF|:@N]`` → (path, resolved path, image name, source index or -1), for oci: and oci-archive:.

    Checked in the newest containers/image's order (ParseReferenceIntoElements, then
    newReference): the index, then the path, then the image name, so that a name with
    several faults is refused for the same one.

    NOTE(go-diff): ``oci:PATH:@N`` selects an image by position as the newest
    containers/image does; 5.23 (skopeo 1.9.3) refuses ``@N`` as an invalid image name.
    ``oci-archive:PATH:@N`` is trustcopy's own: every containers/image refuses it (its
    oci-archive has no index), trustcopy reads it as ``oci:`` does. Neither changes the
    policy identity (the resolved path), which never contains the image's name or position.

    NOTE(go-diff): an empty PATH is refused; containers/image resolves it to the working
    directory (see fsutil.resolve_path_to_fully_explicit).

    Raises:
        InvalidReferenceError: an invalid index, path or image name.
    """
    path, _, image = reference.partition(":")
    index = -1
    if image.startswith("@"):
        num = image[1:]
        index = parse_source_index(num)
        if index < 0:
            raise InvalidReferenceError(
                f"invalid {transport}: reference {reference!r}: source index @{num} is not a non-negative integer",
                code="invalid-oci-reference",
            )
        image = ""
    resolved = resolve_path_to_fully_explicit(path)
    if image and not re.fullmatch(_REF_NAME, image):
        raise InvalidReferenceError(
            f"invalid {transport}: reference {reference!r}: invalid image name {image!r}",
            code="invalid-oci-reference",
        )
    return path, resolved, image, index


@dataclass(frozen=True, repr=False)
class PathAndImageReference(ImageReference):
    """``PATH[:REF|:@N]`` of an OCI layout (``oci:``) or of a tar of one (``oci-archive:``).

    As in containers/image, the image name is *not* part of the policy identity: ``oci:x``
    and ``oci:x:name`` (and ``oci:x:@0``) may be the same image, so a scope naming a tag
    could be bypassed by naming the image another way. The identity is the resolved path.
    """

    path: str
    resolved: str
    image: str = ""
    source_index: int = -1

    def string_within_transport(self) -> str:
        """``PATH:REF`` or ``PATH:@N``, as containers/image prints it."""
        if self.source_index >= 0:
            return f"{self.path}:@{self.source_index}"
        return f"{self.path}:{self.image}"

    def docker_reference(self) -> None:
        """An OCI layout entry has no Docker identity."""
        return

    def policy_configuration_identity(self) -> str:
        """The resolved layout directory (or archive file)."""
        return self.resolved

    def policy_configuration_namespaces(self) -> list[str]:
        """The path and each parent directory, most specific first, excluding "/"."""
        return parent_namespaces(self.resolved, include_self=True)

    def check_destination(self) -> None:
        """A destination names an image by name or not at all, never by position.

        Raises:
            InvalidReferenceError: the reference has ``:@N``.
        """
        if self.source_index >= 0:
            raise InvalidReferenceError(
                f"{self}: a destination reference must not contain a source index @{self.source_index}",
                code="invalid-oci-reference",
            )


@dataclass(frozen=True, repr=False)
class OCIReference(PathAndImageReference):
    """A layout directory plus an image name, a position, or neither (the only image)."""

    @property
    def transport(self) -> OCILayoutTransport:
        """The ``oci:`` transport."""
        return TRANSPORT

    def new_image_source(self, sys: SystemContext) -> OCIImageSource:
        """Open the layout and select the image."""
        return OCIImageSource(self, sys)

    def new_image_destination(self, sys: SystemContext) -> OCIImageDestination:
        """Open (or prepare to create) the layout for adding one image."""
        self.check_destination()
        return OCIImageDestination(self, sys)

    def blob_path(self, digest: Digest, root: str | None = None) -> str:
        """``blobs/ALG/HEX`` under ``root`` (the layout by default)."""
        return os.path.join(root or self.path, "blobs", digest.algorithm, digest.hex)

    def delete_image(self, sys: SystemContext) -> None:
        """Remove this image's index entry and the blobs no other entry uses (containers/image's DeleteImage).

        As containers/image: the entry is chosen as a source chooses it (name, ``@N`` or the
        only one); every entry of index.json is walked (nested indices included) to count
        which blobs it uses, and only blobs whose every use belongs to the deleted entry are
        removed, from the layout's own ``blobs/`` only (a shared blob directory's users are
        unknown, so it is never pruned; manifests are read from it when it is given).

        Unlike containers/image, the whole operation holds the layout's lock (the one commits
        take), every manifest read is verified against its digest (a tampered blob must not
        decide what is deleted), and index.json is rewritten (atomically) *before* any blob is
        removed: an interruption leaves unreferenced blobs, never an index naming missing ones.

        Raises:
            ImageNotFoundError: no layout, or no such image.
            ManifestError: an entry (or a nested one) with a media type that is neither an OCI
                manifest nor an OCI index; a nested manifest or index that Go cannot decode or
                reads ambiguously (see _BlobUseCounter); a blob to delete named by an invalid digest.
            DigestMismatchError: a manifest blob that does not match its digest.
        """
        if not os.path.isdir(self.path):  # a symlink to a layout deletes in it, as containers/image
            raise ImageNotFoundError(f"{self}: layout directory {self.path} does not exist")
        shared = sys.oci_shared_blob_dirs[0] if sys.oci_shared_blob_dirs else None
        with _locked(self.path, str(self)):
            index = _read_index(self.path, str(self))
            manifests = index["manifests"]
            chosen = choose_descriptor(manifests, self.image, self.source_index, str(self))
            position = next(i for i, d in enumerate(manifests) if d is chosen)
            counter = _BlobUseCounter(self, shared)
            used_by_image: dict[str, int] = {}
            counter.count_descriptor(used_by_image, chosen)
            used_by_all: dict[str, int] = {}
            for desc in manifests:
                counter.count_descriptor(used_by_all, desc)
            doomed = [_doomed_digest(d, str(self)) for d, n in used_by_all.items()
                      if n - used_by_image.get(d, 0) == 0]
            out = dict(index)
            out["manifests"] = manifests[:position] + manifests[position + 1:]
            index_path = os.path.join(self.path, "index.json")
            mode = os.stat(index_path).st_mode & 0o777
            # json.Encoder.Encode, as containers/image's saveJSON: a trailing newline.
            write_file_atomic(index_path, go_marshal(out) + b"\n", mode)
            fsync_dir(self.path)
            for digest in sorted(doomed, key=str):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.blob_path(digest))  # never the shared directory: see above


#: Descriptors visited while counting blob uses for a delete (nested indices may repeat entries).
_MAX_DELETE_DESCRIPTORS = 1_000_000
#: Index-in-index depth followed while counting (each level is a distinct, verified blob).
_MAX_DELETE_NESTING = 32


class _BlobUseCounter:
    """containers/image's countBlobsForDescriptor: how often each blob is used by a descriptor.

    Counts are keyed by the digest *string*, as Go's ``map[digest.Digest]int``: a config or
    layer digest is counted as written (Go validates it only when it deletes that blob),
    while a descriptor of index.json or of a nested index must be a valid digest (Go's
    blobPath checks it before anything else).

    Nested manifests and indices are read as the newest containers/image reads them
    (``json.NewDecoder(f).Decode`` into image-spec's ``Manifest``/``Index``): keys in any
    letter case, ``null`` as the zero value, bytes after the value ignored, and a value of
    the wrong type anywhere in a known field an error. Reading them with plain JSON
    missed ``"Layers"``/``"Config"``/``"Manifests"`` (which Go reads), so a blob another
    image used was counted unused and deleted.

    Fail closed: whatever Go cannot decode, or whose repeated keys make Go's reading differ
    from their last occurrences (``manifest-ambiguous``/``oci-index-ambiguous``), or which
    does not match its digest, refuses the whole delete before anything changes: counting
    on a guess could delete a blob another image uses. containers/image fails too where
    it cannot decode, also before changing anything (it counts first); where a blob to
    delete has an invalid digest it fails only after deleting others (_doomed_digest).

    NOTE(go-diff): this is the newest containers/image's delete, with image-spec 1.1's
    fields (a wrongly typed ``artifactType``, or an index's ``subject``, fails to decode);
    5.23 (skopeo 1.9.3) has no oci: delete at all and refuses every one.
    """

    def __init__(self, ref: OCIReference, shared: str | None) -> None:
        self._ref = ref
        self._shared = shared
        self._visited = 0
        self._manifests: dict[Digest, list[str]] = {}
        self._indices: dict[Digest, list[dict[str, Any]]] = {}

    def _read_blob(self, digest: Digest) -> tuple[bytes, str]:
        """The blob ``digest`` (bounded, verified) and its path."""
        root = self._shared if self._shared is not None else self._ref.path
        if self._shared is not None:
            path = os.path.join(self._shared, digest.algorithm, digest.hex)
        else:
            path = self._ref.blob_path(digest)
        with open_inside(path, root, f"manifest {digest}", self._ref, digest=digest) as f:
            raw = limits.read_at_most(f, limits.MAX_MANIFEST_BODY, path)
        actual = Digest.from_bytes(raw, digest.algorithm)
        if actual != digest:
            raise DigestMismatchError(
                f"{self._ref}: manifest {digest} does not match its blob (digest {actual})",
                context={"expected": str(digest), "actual": str(actual)},
            )
        return raw, path

    def _manifest_digests(self, digest: Digest) -> list[str]:
        """The config digest, then each layer's, of the OCI manifest ``digest``, as Go decodes it."""
        if digest in self._manifests:
            return self._manifests[digest]
        raw, path = self._read_blob(digest)
        limits.check_json_depth(raw, path)
        try:
            value = gojson.loads_first(raw)
        except ValueError as exc:
            raise ManifestError(f"{self._ref}: manifest {digest} ({path}) is not valid JSON: {exc}") from exc
        try:
            go = _gojson.decode(value, _goview.SPECS[_OCI_MANIFEST], {})
            if isinstance(value, gojson.GoObject):
                _goview.check(value, _OCI_MANIFEST)
        except _gojson.GoTypeError as exc:
            raise ManifestError(f"{self._ref}: manifest {digest} ({path}): {exc.path or 'the manifest'}: "
                                f"{exc.problem}", context={"field": exc.path}) from exc
        except ManifestError as exc:
            raise ManifestError(f"{self._ref}: manifest {digest} ({path}): {exc}", code=exc.code,
                                context=exc.context) from exc
        if not isinstance(go, dict):  # a null document: Go's zero Manifest
            go = {}
        config = go.get("config") or {}
        out = [config.get("digest", "")] + [layer.get("digest", "") for layer in go.get("layers") or []]
        self._manifests[digest] = out
        return out

    def _index_entries(self, digest: Digest) -> list[dict[str, Any]]:
        """The descriptors of the nested OCI index ``digest``, read as index.json is (Go's Index)."""
        if digest not in self._indices:
            raw, path = self._read_blob(digest)
            self._indices[digest] = parse_index(raw, path, f"{self._ref}: index {digest}")["manifests"]
        return self._indices[digest]

    def _count(self, dest: dict[str, int], value: str) -> None:
        self._visited += 1
        if self._visited > _MAX_DELETE_DESCRIPTORS:
            raise TransportError(f"{self._ref}: more than {_MAX_DELETE_DESCRIPTORS} descriptors",
                                 code="limit-exceeded")
        dest[value] = dest.get(value, 0) + 1

    def count_descriptor(self, dest: dict[str, int], desc: dict[str, Any], where: str = "index.json",
                         depth: int = 0) -> None:
        """Count ``desc`` itself and, for a manifest its config and layers, for an index its entries."""
        if depth > _MAX_DELETE_NESTING:
            raise ManifestError(f"{self._ref}: indices nested more than {_MAX_DELETE_NESTING} deep")
        digest = _descriptor_digest(desc, f"{self._ref}: {where}")
        self._count(dest, str(digest))
        media_type = desc.get("mediaType")
        if media_type == _OCI_MANIFEST:
            for used in self._manifest_digests(digest):
                self._count(dest, used)
        elif media_type == _OCI_INDEX:
            for i, entry in enumerate(self._index_entries(digest)):
                self.count_descriptor(dest, entry, f"{digest} manifests[{i}]", depth + 1)
        else:
            raise ManifestError(f"{self._ref}: unsupported mediaType in index: {media_type!r}",
                                code="manifest-unsupported")


def _doomed_digest(text: str, what: str) -> Digest:
    """A config or layer digest that a delete would remove, which must be valid.

    containers/image counts such digests as written and fails only when it comes to delete
    an invalid one (after deleting others, and before rewriting index.json); trustcopy
    refuses before changing anything.

    Raises:
        ManifestError: ``text`` is not a valid digest.
    """
    try:
        return Digest.parse(text)
    except ValueError as exc:
        raise ManifestError(f"{what}: the image uses blob {text!r}, which is not a valid digest: {exc}",
                            context={"digest": text}) from exc


def _read_index(layout: str, what: str) -> dict[str, Any]:
    path = os.path.join(layout, "index.json")
    with open_inside(path, layout, "index.json", what) as f:
        raw = limits.read_at_most(f, limits.MAX_OCI_INDEX, path)
    return parse_index(raw, path, what)


def _descriptor_digest(desc: dict[str, Any], where: str) -> Digest:
    try:
        return Digest.parse(desc.get("digest", ""))
    except (ValueError, TypeError) as exc:  # TypeError: not a string (a number, null …)
        raise ManifestError(f"{where}: {exc}", code="oci-index-invalid") from exc


def _ref_name(desc: dict[str, Any]) -> str | None:
    ann = desc.get("annotations") or {}
    name = ann.get(REF_NAME_ANNOTATION)
    return name if isinstance(name, str) else None


class IndexedImageSource(NoSourceSignatures, ImageSource):
    """What an OCI layout in a directory and one inside a tar read alike.

    index.json → the descriptor chosen by name, position or uniqueness → manifest blobs,
    each verified against its digest (and the descriptor's size) before it is returned.
    Subclasses say how a blob's bytes are read (:meth:`_manifest_bytes`, bounded).
    """

    reference: PathAndImageReference

    def _use_index(self, index: dict[str, Any]) -> None:
        """Keep the parsed index.json and choose this reference's descriptor in it."""
        ref = self.reference
        self._index = index
        self._descriptor = choose_descriptor(index["manifests"], ref.image, ref.source_index, str(ref))
        self._digest = _descriptor_digest(self._descriptor, f"{ref}: index.json")
        size = self._descriptor.get("size")
        if isinstance(size, int) and size < 0:
            # containers/image reads a negative size (and never checks it); the chosen entry's
            # size is checked against its blob here, which no negative size can match: say why.
            raise ManifestError(f"{ref}: index.json: the chosen entry's size {size} is negative",
                                code="oci-index-invalid", context={"field": "size"})

    @abc.abstractmethod
    def _manifest_bytes(self, digest: Digest) -> bytes:
        """The blob ``digest``, at most MAX_MANIFEST_BODY bytes (unverified)."""

    def _read_manifest_blob(self, digest: Digest, size: int | None) -> bytes:
        data = self._manifest_bytes(digest)
        actual = Digest.from_bytes(data, digest.algorithm)
        if actual == digest and size is not None and size != len(data):
            raise DigestMismatchError(
                f"{self.reference}: index.json: the chosen entry's size is {size}, its manifest {digest} "
                f"has {len(data)} bytes",
                code="size-mismatch", context={"field": "size", "expected": size, "actual": len(data)},
            )
        if actual != digest:
            raise DigestMismatchError(
                f"{self.reference}: manifest {digest} does not match its blob (digest {actual}, {len(data)} bytes)",
                context={"expected": str(digest), "actual": str(actual)},
            )
        return data

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """Read and verify the manifest blob; type from the descriptor, else guessed."""
        from trustcopy.manifest.mediatypes import guess_mime_type

        if instance_digest is None:
            size = self._descriptor.get("size")
            data = self._read_manifest_blob(self._digest, size if isinstance(size, int) else None)
            mime = self._descriptor.get("mediaType") or ""
        else:
            data = self._read_manifest_blob(instance_digest, None)
            mime = ""
            for desc in self._index["manifests"]:
                if desc.get("digest") == str(instance_digest):
                    mime = desc.get("mediaType") or ""
                    break
        if not isinstance(mime, str) or not mime:
            mime = guess_mime_type(data)
        return data, mime


class OCIImageSource(IndexedImageSource):
    """Reads one image (or index) of a layout directory."""

    reference: OCIReference

    def __init__(self, ref: OCIReference, sys: SystemContext) -> None:
        self.reference = ref
        self._sys = sys
        if not os.path.isdir(ref.path):
            raise ImageNotFoundError(f"{ref}: layout directory {ref.path} does not exist")
        self._use_index(_read_index(ref.path, str(ref)))

    def _blob_path(self, digest: Digest) -> tuple[str, str]:
        """``ALG/HEX`` in the first shared blob directory that has it (``--src-shared-blob-dir``,
        ``--shared-blob-dir``: manifests and configs live there too), else in ``blobs/``; with
        the directory it must stay inside (symlinks leading out of it are refused)."""
        for shared in self._sys.oci_shared_blob_dirs:
            candidate = os.path.join(shared, digest.algorithm, digest.hex)
            if os.path.exists(candidate):
                return candidate, shared
        return self.reference.blob_path(digest), self.reference.path

    def _manifest_bytes(self, digest: Digest) -> bytes:
        path, root = self._blob_path(digest)
        with open_inside(path, root, f"manifest {digest}", self.reference, digest=digest) as f:
            return limits.read_at_most(f, limits.MAX_MANIFEST_BODY, path)

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """Open ``blobs/ALG/HEX`` (or a shared blob directory's); foreign layers must be present locally."""
        path, root = self._blob_path(info.digest)
        if info.urls and not os.path.exists(path):
            raise TransportError(
                f"{self.reference}: blob {info.digest} is a foreign layer not present in the layout; "
                "fetching foreign layer URLs is not supported",
                code="foreign-layer-missing",
            )
        f = open_inside(path, root, f"blob {info.digest}", self.reference, digest=info.digest, size=info.size)
        return f, os.fstat(f.fileno()).st_size


def choose_descriptor(manifests: list[dict[str, Any]], image: str, source_index: int, what: str) -> dict[str, Any]:
    """The index entry named ``image``, at ``source_index``, or the only one (containers/image rules).

    Raises:
        ImageNotFoundError / ManifestError / TransportError: as the module docstring says.
    """
    if source_index >= 0:
        if source_index >= len(manifests):
            raise ImageNotFoundError(
                f"{what}: index {source_index} is too large, only {len(manifests)} entries available"
            )
        return manifests[source_index]
    if image:
        unsupported = []
        for desc in manifests:
            if _ref_name(desc) == image:
                if desc.get("mediaType") in _IMAGE_TYPES:
                    return desc
                unsupported.append(str(desc.get("mediaType")))
        if unsupported:
            raise ManifestError(
                f"{what}: reference {image!r} matches unsupported manifest MIME types {unsupported}",
                code="manifest-unsupported",
            )
        names = sorted(n for n in (_ref_name(d) for d in manifests) if n)
        raise ImageNotFoundError(
            f"{what}: no image named {image!r} in the layout",
            hint=("names present: " + ", ".join(names)) if names else "the layout has no named images",
            context={"absent_from_index": True},  # (newer skopeo exits 2 for it: cli/main.py)
        )
    if len(manifests) != 1:
        raise TransportError(
            f"{what}: the layout holds {len(manifests)} images, choose one with :NAME or :@INDEX",
            code="oci-ambiguous-image",
        )
    return manifests[0]


@contextlib.contextmanager
def _locked(path: str, what: str | None = None) -> Iterator[None]:
    """Hold ``flock`` on the layout directory; with ``what``, a directory that cannot be opened
    (EACCES) is a TransportError naming it (else the caller wraps the OSError itself)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if what is None:
            raise
        raise TransportError(f"{what}: cannot open the layout {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class OCIFormatDestination(ImageDestination):
    """What an OCI layout destination accepts, in a directory or a tar alike."""

    def _init_oci_format(self, sys: SystemContext) -> None:
        self._compress = (LayerCompression.PRESERVE if sys.extra.get("oci_accept_uncompressed_layers")
                          else LayerCompression.COMPRESS)

    def supported_manifest_mime_types(self) -> list[str]:
        """OCI only: Docker schema2 sources are converted."""
        return [_OCI_MANIFEST, _OCI_INDEX]

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """Compress uncompressed layers, as skopeo does for oci: (unless told to accept them)."""
        return self._compress

    @property
    def accepts_foreign_layer_urls(self) -> bool:
        """Foreign layers keep their URLs in OCI manifests."""
        return True


class OCIImageDestination(NoSignatures, AlwaysSupportsManifestLists, StagingBlobWriter, OCIFormatDestination):
    """Adds one image to a (new or existing) layout; see the module invariants."""

    reference: OCIReference

    def __init__(self, ref: OCIReference, sys: SystemContext) -> None:
        self.reference = ref
        self._init_no_signatures(f"{ref}: pushing signatures for OCI images is not supported")
        self._target = os.path.abspath(ref.path)  # "DIR/." and "DIR/" name DIR, which is renamed as a whole
        if os.path.islink(self._target) and os.path.isdir(self._target):
            # containers/image writes through a symlink to a layout (ref.dir, opened as given): the
            # image goes where the link leads, staged beside that directory (as dir: does).
            self._target = os.path.realpath(self._target)
        self._exists = os.path.lexists(self._target)
        if self._exists and (not os.path.isdir(self._target) or os.path.islink(self._target)):
            raise TransportError(f"{ref}: {self._target} exists and is not a directory",
                                 code="destination-not-a-directory")
        if self._exists and os.path.exists(os.path.join(self._target, "index.json")):
            _read_index(self._target, str(ref))  # refuse a corrupt layout before copying anything
        # An existing layout on another filesystem than its parent (a mount point) stages inside
        # itself, as containers/image writes its temporary files there: its blobs move in by rename.
        self._stage = make_staging_dir(self._target, inside=self._exists and stages_inside(self._target))
        self._staging = self._stage.path
        self._pending: dict[Digest, str] = {}  # staged blobs (written) by digest
        self._manifest: tuple[Digest, bytes] | None = None
        #: ``--dest-shared-blob-dir``: every blob (manifests too) goes there, not into blobs/.
        self._shared = os.path.abspath(sys.oci_shared_blob_dirs[0]) if sys.oci_shared_blob_dirs else None
        self._init_oci_format(sys)
        self._committed = False
        self._closed = False
        self._reused: set[Digest] = set()  # reused from blobs/ without a hard link held (_hold_reused)

    def _final_blob_path(self, digest: Digest) -> str:
        """Where a blob lives once committed: the shared blob directory's ``ALG/HEX``, or blobs/."""
        if self._shared is not None:
            return os.path.join(self._shared, digest.algorithm, digest.hex)
        return self.reference.blob_path(digest, self._target)

    def _existing_blob(self, digest: Digest) -> str | None:
        if digest in self._pending:
            return self._pending[digest]
        if self._exists or self._shared is not None:
            path = self._final_blob_path(digest)
            if os.path.isfile(path) and not os.path.islink(path):
                return path
        return None

    def _staged_blob_path(self, digest: Digest) -> str:
        """``STAGING/blobs/ALG/HEX``: moved into the layout's blobs/ at commit."""
        return self.reference.blob_path(digest, self._staging)

    def _blob_stored(self, info: BlobInfo) -> None:
        self._pending[info.digest] = self._staged_blob_path(info.digest)

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """A blob already in the layout (or staged) is not copied again.

        A blob reused from the layout's own ``blobs/`` is held (:meth:`_hold_reused`): a
        concurrent ``delete`` of the image that alone used it (until our commit) removes it,
        and the image committed here would name a missing blob.
        """
        path = self._existing_blob(info.digest)
        if path is None:
            return None
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None  # removed meanwhile (a concurrent delete): copy it
        if info.size >= 0 and size != info.size:
            return None
        if info.digest not in self._pending and self._shared is None and not self._hold_reused(info.digest, path):
            return None
        return BlobInfo(digest=info.digest, size=size, media_type=info.media_type)

    def _hold_reused(self, digest: Digest, path: str) -> bool:
        """Keep the layout's blob ``path`` for our commit; False if it is gone (copy it instead).

        A hard link in staging is a staged blob like any other: commit puts it back if a
        ``delete`` removed the original meanwhile (the delete and our commit hold the same
        lock, so the index never names a blob that is missing). Where no link can be made
        (``fs.protected_hardlinks``, a filesystem without links), commit checks under that
        lock that the blob is still there (:meth:`_check_reused`). containers/image holds
        nothing: its commit can name a blob a concurrent delete removed.
        """
        staged = self._staged_blob_path(digest)
        try:
            os.makedirs(os.path.dirname(staged), exist_ok=True)
            os.link(path, staged, follow_symlinks=False)
        except FileExistsError:
            pass  # already staged under that name: it is ours
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not os.path.lexists(path):
                return False
            self._reused.add(digest)
            return True
        self._pending[digest] = staged
        return True

    def _check_reused(self) -> None:
        """Under the layout's lock: every reused blob we could not hold is still in ``blobs/``.

        Raises:
            TransportError: one was removed meanwhile (a concurrent ``delete``); nothing is committed.
        """
        for digest in sorted(self._reused - self._pending.keys(), key=str):
            path = self._final_blob_path(digest)
            if not os.path.isfile(path):
                raise TransportError(
                    f"{self.reference}: blob {digest}, already in the layout when this copy began, was removed "
                    f"meanwhile (a concurrent delete?); the image was not added", code="transport",
                    context={"path": path}, hint="copy the image again",
                )

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Store the manifest as a blob; the top-level one is indexed at commit."""
        digest = instance_digest
        if digest is None:
            from trustcopy.manifest.digest import manifest_digest

            digest = manifest_digest(manifest)
        path = self.reference.blob_path(digest, self._staging)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # The temporary file goes in our own staging directory (reclaimed with it): a locked
            # staging file beside ``path`` would scan blobs/sha256 for abandoned ones on every
            # manifest, quadratic in the instances of a `copy --all` (2,000: 4 s of 35).
            write_file_atomic(path, manifest, temp_dir=self._staging)
        except OSError as exc:  # a full disk: this destination's error, naming the file (not a traceback)
            raise TransportError(f"{self.reference}: cannot write manifest {digest} in {self._staging}: "
                                 f"{exc.strerror or exc}", code="destination-unwritable",
                                 context={"path": path}) from exc
        self._pending[digest] = path
        if instance_digest is None:
            self._manifest = (digest, manifest)

    def commit(self, toplevel_manifest: bytes) -> None:
        """Move staged blobs into place, then rewrite index.json atomically."""
        if self._committed:
            raise RuntimeError("commit() called twice")
        if self._manifest is None:
            raise ManifestError(f"{self.reference}: internal error: committing without a manifest")
        try:
            if not os.path.lexists(self._target):
                try:
                    self._commit_new()
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    self._commit_existing()  # another copy made the layout meanwhile: add to it
            else:
                self._commit_existing()
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise TransportError(
                f"{self.reference}: cannot write the layout {self._target}{where}: {exc.strerror or exc}",
                code="destination-unwritable", context={"path": self._target},
            ) from exc
        self._committed = True

    def _descriptor(self) -> dict[str, Any]:
        from trustcopy.manifest.mediatypes import guess_mime_type

        assert self._manifest is not None
        digest, raw = self._manifest
        desc: dict[str, Any] = {"mediaType": guess_mime_type(raw), "digest": str(digest), "size": len(raw)}
        if self.reference.image:
            desc["annotations"] = {REF_NAME_ANNOTATION: self.reference.image}
        return desc

    def _updated_index(self, index: dict[str, Any]) -> dict[str, Any]:
        """containers/image's addManifest: the name moves to the new entry; same digest replaces."""
        desc = self._descriptor()
        manifests: list[dict[str, Any]] = [dict(d) for d in index.get("manifests", [])]
        name = self.reference.image
        if name:
            for entry in manifests:
                if _ref_name(entry) == name:
                    ann = {k: v for k, v in (entry.get("annotations") or {}).items() if k != REF_NAME_ANNOTATION}
                    if ann:
                        entry["annotations"] = ann
                    else:
                        entry.pop("annotations", None)
                    break
        for i, entry in enumerate(manifests):
            if entry.get("digest") == desc["digest"] and not _ref_name(entry):
                manifests[i] = desc
                break
        else:
            manifests.append(desc)
        out = dict(index)
        out["manifests"] = manifests
        return out

    def _move_pending_blobs(self) -> None:
        """Move the staged blobs to their final place (blobs/, or the shared blob directory),
        before any index names them.

        A blob already there is kept when it is a regular file of the staged blob's size (a
        concurrent copy put it there: same digest, same bytes). Anything else there (a
        truncated file, a symlink, a directory) is what :meth:`try_reusing_blob` refused, which
        is why the blob was copied: the verified copy replaces it, or the image committed
        here would name a blob that cannot be read. Across filesystems (a shared blob
        directory elsewhere), a blob is copied through a temporary beside its final name
        (:func:`~trustcopy.fsutil.copy_file_atomic`), so no reader ever sees part of one.
        """
        directories = set()
        for digest, staged in self._pending.items():
            final = self._final_blob_path(digest)
            directories.add(os.path.dirname(final))
            os.makedirs(os.path.dirname(final), mode=0o755, exist_ok=True)
            if not _holds_blob_like(final, staged):
                if os.path.isdir(final) and not os.path.islink(final):
                    import shutil  # here: shutil imports bz2 and lzma, which reading a layout never needs

                    shutil.rmtree(final)  # no blob; os.replace cannot put a file over a directory
                try:
                    os.replace(staged, final)  # over a symlink: replaces the link, never its target
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    copy_file_atomic(staged, final)
            else:
                # A concurrent copy put it there first. Drop ours now: a new layout is its staging
                # directory renamed, which must not carry a second copy of a shared blob in blobs/.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged)
        self._pending.clear()
        for directory in directories:
            fsync_dir(directory)

    def _commit_new(self) -> None:
        self._check_reused()  # the layout this copy began with was removed as a whole meanwhile
        if self._shared is not None:  # else the blobs move in with the staging directory
            self._move_pending_blobs()
            staged_blobs = os.path.join(self._staging, "blobs")
            for algorithm in os.listdir(staged_blobs) if os.path.isdir(staged_blobs) else ():
                with contextlib.suppress(OSError):  # emptied: the layout keeps an empty blobs/, as skopeo's
                    os.rmdir(os.path.join(staged_blobs, algorithm))
        index = self._updated_index({"schemaVersion": 2, "manifests": []})
        # containers/image: MkdirAll(0755) and WriteFile(0644), both less the umask (a private
        # layout under umask 077 stays private); our staging directory was made 0700.
        umask = current_umask()
        write_file_atomic(os.path.join(self._staging, "oci-layout"), OCI_LAYOUT_CONTENT, 0o644 & ~umask)
        write_file_atomic(os.path.join(self._staging, "index.json"), go_marshal(index), 0o644 & ~umask)
        os.chmod(self._staging, 0o755 & ~umask)
        for root, dirs, _files in os.walk(self._staging):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755 & ~umask)
        fsync_dir(self._staging)
        os.rename(self._staging, self._target)
        self._stage.release()  # that lock is now on the layout, which commits of others lock too
        fsync_dir(os.path.dirname(os.path.abspath(self._target)))

    def _commit_existing(self) -> None:
        with _locked(self._target):
            index_path = os.path.join(self._target, "index.json")
            if os.path.exists(index_path):
                index = _read_index(self._target, str(self.reference))  # re-read: others may have written
            else:
                index = {"schemaVersion": 2, "manifests": []}
            self._check_reused()
            new_index = go_marshal(self._updated_index(index))
            if len(new_index) > limits.MAX_OCI_INDEX:
                # Never write a layout that trustcopy (copy, inspect, delete) could not read again.
                raise LimitExceededError(
                    f"{self.reference}: adding this image would make {index_path} {len(new_index)} bytes, more than "
                    f"the {limits.MAX_OCI_INDEX} bytes trustcopy reads; the layout was left as it was",
                    context={"file": index_path}, hint="copy into another layout, or delete images from this one")
            self._move_pending_blobs()
            layout = os.path.join(self._target, "oci-layout")
            # Temporaries in staging: an interrupted write leaves nothing in the layout itself.
            umask = current_umask()
            if not os.path.exists(layout):
                write_file_atomic(layout, OCI_LAYOUT_CONTENT, 0o644 & ~umask, temp_dir=self._staging)
            try:  # c/i rewrites index.json in place: its mode stays
                mode = stat.S_IMODE(os.stat(index_path).st_mode)
            except FileNotFoundError:
                mode = 0o644 & ~umask
            write_file_atomic(index_path, new_index, mode, temp_dir=self._staging)
            fsync_dir(self._target)

    def close(self) -> None:
        """Remove staging; an uncommitted copy leaves the layout as it was."""
        if self._closed:
            return
        self._closed = True
        if os.path.isdir(self._staging):
            remove_tree(self._staging)
        self._stage.release()


def _holds_blob_like(final: str, staged: str) -> bool:
    """Whether ``final`` is a regular file (not a symlink) of ``staged``'s size."""
    try:
        found = os.lstat(final)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size == os.stat(staged).st_size
