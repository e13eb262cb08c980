"""``oci-archive:PATH[:REF|:@N]``: a tar of an OCI image layout.

Reading: the archive is never unpacked (containers/image untars it to a temporary
directory first). An uncompressed archive is read in place through an index of member
offsets; a compressed one by streaming passes. Image selection, manifest verification
and media types follow ``oci:`` exactly (:mod:`.oci_layout`), with the same member-name
rules as every archive (:mod:`.archivereader`).

Writing: streamed into a staging file beside PATH — ``oci-layout`` and directory entries
first, blobs as they arrive, ``index.json`` last — and renamed over PATH at commit, so a
failed copy leaves nothing and an existing archive is replaced only by a complete one
(containers/image overwrites it, as it does not add to existing oci-archives either).
A layer compressed on the way has no known size; its header is fixed up in place, so no
layer is spooled (unless PATH ends in ``.tar.gz``/``.tar.zst``, whose stream cannot seek).

Policy identity: the resolved archive path; namespaces: it and its parent directories.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any, BinaryIO

from trustcopy import limits
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import (
    ImageNotFoundError,
    ManifestError,
    TransportError,
)
from trustcopy.fsutil import validate_path_scope
from trustcopy.gojson import go_marshal
from trustcopy.lazy import dataclass
from trustcopy.transports.archivereader import ArchiveReader, open_archive_file
from trustcopy.transports.archivewriter import ArchiveOutput, TarWriter
from trustcopy.transports.base import ImageTransport
from trustcopy.transports.oci_layout import (
    OCI_LAYOUT_CONTENT,
    REF_NAME_ANNOTATION,
    IndexedImageSource,
    OCIFormatDestination,
    PathAndImageReference,
    parse_index,
    parse_path_and_image,
)
from trustcopy.transports.stubs import AlwaysSupportsManifestLists, NoSignatures
from trustcopy.types import BlobInfo, SystemContext


class OCIArchiveTransport(ImageTransport):
    """The ``oci-archive:`` transport."""

    name = "oci-archive"
    syntax = "oci-archive:PATH[:REF|:@INDEX]"

    def parse_reference(self, reference: str) -> OCIArchiveReference:
        """Split ``PATH[:REF]`` at the first colon, as ``oci:``."""
        path, resolved, image, index = parse_path_and_image(reference, "oci-archive")
        return OCIArchiveReference(path=path, resolved=resolved, image=image, source_index=index)

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Absolute, canonical path; not "/"."""
        validate_path_scope(scope)


TRANSPORT = OCIArchiveTransport()


@dataclass(frozen=True, repr=False)
class OCIArchiveReference(PathAndImageReference):
    """An archive file plus an image name, a position, or neither (the only image)."""

    @property
    def transport(self) -> OCIArchiveTransport:
        """The ``oci-archive:`` transport."""
        return TRANSPORT

    def new_image_source(self, sys: SystemContext) -> OCIArchiveSource:
        """Open the archive in place (a pipe is spooled to --tmpdir first)."""
        return OCIArchiveSource(self, tmp_dir=sys.tmp_dir)

    def new_image_destination(self, sys: SystemContext) -> OCIArchiveDestination:
        """Prepare a new archive (staged until commit)."""
        self.check_destination()
        return OCIArchiveDestination(self, sys)

    def delete_image(self, sys: SystemContext) -> None:
        """Refused, as in containers/image."""
        raise TransportError("deleting images is not implemented for oci-archive: images")


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


class OCIArchiveSource(IndexedImageSource):
    """One image (or index) of an OCI layout inside a tar, read without unpacking."""

    reference: OCIArchiveReference

    def __init__(self, ref: OCIArchiveReference, *, tmp_dir: str | None = None) -> None:
        self.reference = ref
        what = str(ref)
        self._archive: ArchiveReader = open_archive_file(ref.path, what, tmp_dir=tmp_dir)
        try:
            try:
                raw = self._archive.read_member("index.json", limits.MAX_OCI_INDEX)
            except ImageNotFoundError as exc:
                raise ManifestError(f"{what}: the archive has no index.json: not an OCI layout",
                                    code="oci-index-invalid") from exc
            self._use_index(parse_index(raw, f"{ref.path}/index.json", what))
        except BaseException:
            self._archive.close()
            raise

    def _manifest_bytes(self, digest: Digest) -> bytes:
        return self._archive.read_member(_blob_name(digest), limits.MAX_MANIFEST_BODY)

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """The blob's member, streamed from the archive."""
        try:
            member = self._archive.lookup(_blob_name(info.digest))
        except ImageNotFoundError:
            if info.urls:
                raise TransportError(f"{self.reference}: blob {info.digest} is a foreign layer not present in the "
                                     "archive; fetching foreign layer URLs is not supported",
                                     code="foreign-layer-missing") from None
            raise
        return self._archive.open_member(member), member.size

    @property
    def has_thread_safe_get_blob(self) -> bool:
        """In place: yes; a compressed archive: one member at a time."""
        return self._archive.thread_safe

    def preferred_blob_order(self, infos: Any) -> list[int]:
        """Archive order (one pass for compressed archives)."""
        def key(i: int) -> int:
            member = self._archive.members.get(_blob_name(infos[i].digest))
            return member.offset if member is not None else -1

        return sorted(range(len(infos)), key=key)

    def close(self) -> None:
        """Close the archive."""
        self._archive.close()


class OCIArchiveDestination(NoSignatures, AlwaysSupportsManifestLists, OCIFormatDestination):
    """Streams one image (or a list with its instances) into a new OCI archive."""

    reference: OCIArchiveReference

    def __init__(self, ref: OCIArchiveReference, sys: SystemContext) -> None:
        self.reference = ref
        self._init_no_signatures(f"{ref}: pushing signatures for OCI images is not supported")
        self._blobs: dict[Digest, int] = {}
        self._dirs: set[str] = set()
        self._manifest: tuple[Digest, bytes] | None = None
        self._init_oci_format(sys)
        self._committed = self._closed = False
        self._output = ArchiveOutput(ref.path, str(ref), refuse_non_empty=False)
        try:
            seekable = self._output.file if self._output.seekable else None
            self._tar = TarWriter(self._output.stream, seekable_file=seekable, spool_dir=self._output.spool_dir,
                                  what=str(ref), target=ref.path)
            self._tar.add_bytes("oci-layout", OCI_LAYOUT_CONTENT)
            self._tar.add_dir("blobs")
        except BaseException:
            self._output.close()  # even on SIGTERM/Ctrl-C here: no staging file left behind
            raise

    @property
    def has_thread_safe_put_blob(self) -> bool:
        """One tar stream: one blob at a time."""
        return False

    def _dir_for(self, algorithm: str) -> None:
        name = f"blobs/{algorithm}"
        if name not in self._dirs:
            self._tar.add_dir(name)
            self._dirs.add(name)

    def put_blob(self, stream: BinaryIO, info: BlobInfo, *, is_config: bool = False) -> BlobInfo:
        """Stream the blob into the archive, verifying digest and size."""
        self._dir_for(info.digest.algorithm)
        reader = DigestingReader(stream, info.digest, expected_size=info.size, what=f"{self.reference}: blob "
                                 f"{info.digest}")
        if info.size >= 0:
            self._tar.add_stream(_blob_name(info.digest), reader, info.size)
            size = info.size
        else:
            size = self._tar.add_stream_unknown_size(reader, lambda: _blob_name(info.digest))
        reader.verify()
        self._blobs[info.digest] = size
        return BlobInfo(digest=info.digest, size=size, media_type=info.media_type)

    def put_new_blob(self, stream: BinaryIO, *, media_type: str | None = None, is_config: bool = False) -> BlobInfo:
        """A blob whose digest is learnt while it is written (compressed now): named afterwards."""
        reader = DigestingReader(stream, None, what=f"{self.reference}: new blob")
        self._dir_for("sha256")

        def name() -> str | None:
            digest = reader.verify()
            return None if digest in self._blobs else _blob_name(digest)  # the same bytes twice: keep one

        size = self._tar.add_stream_unknown_size(reader, name)
        digest = reader.verify()
        self._blobs[digest] = size
        return BlobInfo(digest=digest, size=size, media_type=media_type)

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """A blob already written to this archive is not written twice."""
        size = self._blobs.get(info.digest)
        if size is None or (info.size >= 0 and size != info.size):
            return None
        return dataclasses.replace(info, size=size)

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Store the manifest as a blob; the top-level one is indexed at commit."""
        digest = instance_digest
        if digest is None:
            from trustcopy.manifest.digest import manifest_digest

            digest = manifest_digest(manifest)
        if digest not in self._blobs:
            self._dir_for(digest.algorithm)
            self._tar.add_stream(_blob_name(digest), io.BytesIO(manifest), len(manifest))
            self._blobs[digest] = len(manifest)
        if instance_digest is None:
            self._manifest = (digest, manifest)

    def commit(self, toplevel_manifest: bytes) -> None:
        """index.json last, then the end of the archive; rename it into place."""
        from trustcopy.manifest.mediatypes import guess_mime_type

        if self._committed:
            raise RuntimeError("commit() called twice")
        if self._manifest is None:
            raise ManifestError(f"{self.reference}: internal error: committing without a manifest")
        digest, raw = self._manifest
        desc: dict[str, Any] = {"mediaType": guess_mime_type(raw), "digest": str(digest), "size": len(raw)}
        if self.reference.image:
            desc["annotations"] = {REF_NAME_ANNOTATION: self.reference.image}
        self._tar.add_bytes("index.json", go_marshal({"schemaVersion": 2, "manifests": [desc]}))
        self._tar.finish()
        self._output.commit()
        self._committed = True

    def close(self) -> None:
        """Remove the staging file unless committed."""
        if not self._closed:
            self._closed = True
            self._output.close()
