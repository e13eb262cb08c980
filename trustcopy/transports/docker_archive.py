"""``docker-archive:PATH[:NAME[:TAG]|:@N]``: the ``docker save`` format (see :mod:`.dockertar`).

Reading: an uncompressed archive is read in place by member offsets; a compressed one
(``.tar.gz``, ``.tar.zst``, or anything whose bytes say so) by streaming passes, never
decompressed to disk. ``NAME:TAG`` selects an image by a (normalized) RepoTag, ``@N`` by
position; with neither, the archive must hold exactly one image.

Writing: Docker schema2 only, into a staging file beside PATH that is renamed over it at
commit (nothing is visible before). An existing non-empty file is refused, as in
containers/image. A path ending in ``.tar.gz``/``.tgz``/``.tar.zst`` is written as one
compressed stream. Several images go into one archive with ``--additional-tag`` (more
tags for the same image) or, from Python, with :class:`DockerArchiveWriter`.

Layers are stored uncompressed by default, as skopeo stores them. A layer decompressed on
the way has no known size before it ends; instead of spooling it to /var/tmp (as
containers/image does) it streams straight into the archive and its header is fixed up
afterwards. **Small-disk mode** (``--dest-compress``, i.e. ``SystemContext.dest_compress``)
keeps layers compressed inside the archive (``docker load`` and ``podman load`` accept
that; the config's diff IDs stay those of the uncompressed layers): the archive is much
smaller and no layer is ever decompressed or spooled, whatever the output (compressed
archive, pipe). Without it, only a compressed archive or a pipe ever spools a layer
whose size is unknown, into the staging directory.

Policy: as in containers/image, the only scope is the default ``""`` (a file name says
nothing trustworthy about the image in it).
"""

from __future__ import annotations

from dataclasses import field

from trustcopy.errors import InvalidReferenceError, TransportError
from trustcopy.fsutil import resolve_path_to_fully_explicit
from trustcopy.lazy import dataclass
from trustcopy.reference import DockerReference
from trustcopy.transports.archivereader import open_archive_file
from trustcopy.transports.archivewriter import ArchiveOutput, TarWriter
from trustcopy.transports.base import ImageReference, ImageTransport
from trustcopy.transports.dockertar import DockerTarDestination, DockerTarSource, DockerTarWriter
from trustcopy.types import SystemContext


def parse_tagged(text: str, what: str) -> DockerReference:
    """A NAME[:TAG] as docker-archive takes it: normalized, ``:latest`` added, no digest.

    Raises:
        InvalidReferenceError: not a reference, or one with a digest.
    """
    from trustcopy.reference import parse_normalized_named

    try:
        ref = parse_normalized_named(text).tag_name_only()
    except InvalidReferenceError as exc:
        raise InvalidReferenceError(f"{what}: invalid reference {text!r}: {exc.message}", code=exc.code) from exc
    if ref.digest is not None:
        raise InvalidReferenceError(f"{what}: docker-archive doesn't support digest references: {text}",
                                    code="invalid-archive-reference")
    return ref


class DockerArchiveTransport(ImageTransport):
    """The ``docker-archive:`` transport."""

    name = "docker-archive"
    syntax = "docker-archive:PATH[:NAME[:TAG]|:@INDEX]"

    def parse_reference(self, reference: str) -> DockerArchiveReference:
        """``PATH`` (no colon in it), then optionally ``:NAME[:TAG]`` or ``:@N``."""
        if not reference:
            raise InvalidReferenceError("docker-archive reference isn't of the form <path>[:<reference>]",
                                        code="invalid-archive-reference")
        path, sep, rest = reference.partition(":")
        tag: DockerReference | None = None
        index = -1
        if sep and rest.startswith("@"):
            from trustcopy.transports.oci_layout import parse_source_index

            num = rest[1:]
            index = parse_source_index(num)
            if index < 0:
                raise InvalidReferenceError(f"invalid source index @{num}: must be a non-negative integer",
                                            code="invalid-archive-reference")
        elif sep:
            # As containers/image: after a ":" comes a reference or "@N"; "PATH:" names neither.
            tag = parse_tagged(rest, f"docker-archive:{reference}")
        if not path:  # NOTE(go-diff): containers/image takes "" (as dir: does, see DirTransport.parse_reference)
            raise InvalidReferenceError("docker-archive: empty path", code="invalid-path")
        return DockerArchiveReference(path=path, tag=tag, source_index=index)

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Only "" is a valid scope (containers/image)."""
        raise ValueError('docker-archive: does not support any scopes except the default "" one')


TRANSPORT = DockerArchiveTransport()


@dataclass(frozen=True, repr=False)
class DockerArchiveReference(ImageReference):
    """An archive path, plus a tag, a position, or neither; maybe bound to a shared writer."""

    path: str
    tag: DockerReference | None = None
    source_index: int = -1
    writer: DockerArchiveWriter | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.tag is not None and self.source_index >= 0:
            raise InvalidReferenceError("docker-archive: cannot use both a tag and a source index",
                                        code="invalid-archive-reference")

    @property
    def transport(self) -> DockerArchiveTransport:
        """The ``docker-archive:`` transport."""
        return TRANSPORT

    def string_within_transport(self) -> str:
        """``PATH``, ``PATH:NAME:TAG`` or ``PATH:@N``."""
        if self.tag is not None:
            return f"{self.path}:{self.tag}"
        if self.source_index >= 0:
            return f"{self.path}:@{self.source_index}"
        return self.path

    def docker_reference(self) -> DockerReference | None:
        """The tag the user named, if any."""
        return self.tag

    def policy_configuration_identity(self) -> str:
        """"": the default scope only (see the module docstring)."""
        return ""

    def policy_configuration_namespaces(self) -> list[str]:
        """None."""
        return []

    def new_image_source(self, sys: SystemContext) -> DockerArchiveSource:
        """Open the archive (in place, or by passes when compressed; a pipe is spooled to --tmpdir first)."""
        return DockerArchiveSource(self, tmp_dir=sys.tmp_dir)

    def new_image_destination(self, sys: SystemContext) -> DockerArchiveDestination:
        """Prepare to write the archive (staged until commit)."""
        if self.source_index >= 0:
            raise InvalidReferenceError(f"{self}: a destination must not contain a manifest index "
                                        f"@{self.source_index}", code="invalid-archive-reference")
        return DockerArchiveDestination(self, sys)

    def delete_image(self, sys: SystemContext) -> None:
        """Refused, as in containers/image."""
        raise TransportError("deleting images is not implemented for docker-archive: images")


def list_archive_tags(ref: DockerArchiveReference) -> list[str]:
    """``list-tags docker-archive:PATH``: each image's RepoTags, ``@N`` for an untagged one
    (:func:`~trustcopy.transports.dockertar.list_repo_tags`); a NAME or index in ``ref`` is ignored.

    Raises:
        ImageNotFoundError / TransportError: the file is missing or unreadable.
        ArchiveFormatError / ManifestError: not a docker-archive, or an invalid manifest.json.
    """
    from trustcopy.transports.dockertar import list_repo_tags, read_tar_manifest

    what = str(ref)
    archive = open_archive_file(ref.path, what)
    try:
        return list_repo_tags(read_tar_manifest(archive, what), what)
    finally:
        archive.close()


class DockerArchiveSource(DockerTarSource):
    """One image of a docker-archive file."""

    def __init__(self, ref: DockerArchiveReference, *, tmp_dir: str | None = None) -> None:
        self.reference = ref
        resolve_path_to_fully_explicit(ref.path)
        self._archive = open_archive_file(ref.path, str(ref), measure_compressed=True, tmp_dir=tmp_dir)
        try:
            self._load(ref.tag, ref.source_index)
        except BaseException:
            self._archive.close()
            raise


class DockerArchiveWriter:
    """One archive file receiving several images (containers/image ``archive.Writer``).

    Usage::

        with DockerArchiveWriter("/tmp/all.tar") as writer:
            copy_image(policy, writer.new_reference("example.com/a:1"), src_a)
            copy_image(policy, writer.new_reference("example.com/b:1"), src_b)
            writer.commit()

    The file appears at ``path`` only at :meth:`commit`; leaving the ``with`` block
    without it removes everything written. An image whose copy failed is rolled back.
    """

    def __init__(self, path: str, sys: SystemContext | None = None) -> None:
        self.path = path
        self.sys = sys or SystemContext()
        self._committed = self._closed = False
        self.images = 0
        self._output = ArchiveOutput(path, f"docker-archive:{path}", refuse_non_empty=True)
        try:
            seekable = self._output.file if self._output.seekable else None
            tar = TarWriter(self._output.stream, seekable_file=seekable, spool_dir=self._output.spool_dir,
                            what=f"docker-archive:{path}", target=path)
            self.docker = DockerTarWriter(tar)
        except BaseException:
            self._output.close()  # even on SIGTERM/Ctrl-C here: no staging file left behind
            raise

    def new_reference(self, tag: str | DockerReference | None = None) -> DockerArchiveReference:
        """A destination reference adding an image (tagged ``tag``, if given) to this archive."""
        if isinstance(tag, str):
            tag = parse_tagged(tag, f"docker-archive:{self.path}")
        return DockerArchiveReference(path=self.path, tag=tag, writer=self)

    def commit(self) -> None:
        """Write manifest.json and repositories, end the archive and move it into place."""
        if self._committed:
            raise RuntimeError("commit() called twice")
        if self.images == 0:
            raise TransportError(f"docker-archive:{self.path}: no image was written", code="archive-empty")
        self.docker.finish()
        self._output.commit()
        self._committed = True

    def close(self) -> None:
        """Remove the staging file unless committed."""
        if not self._closed:
            self._closed = True
            self._output.close()

    def __enter__(self) -> DockerArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DockerArchiveDestination(DockerTarDestination):
    """Writes one image into a (new or shared) docker archive; see the module docstring."""

    reference: DockerArchiveReference

    def __init__(self, ref: DockerArchiveReference, sys: SystemContext) -> None:
        own = ref.writer is None
        writer = ref.writer or DockerArchiveWriter(ref.path, sys)
        try:
            tags = [ref.tag] if ref.tag is not None else []
            tags += [t for t in sys.docker_archive_additional_tags if t not in tags]
            super().__init__(ref, writer, own=own, tags=tags, keep_compressed=sys.dest_compress)
        except BaseException:
            if own:
                writer.close()
            raise
