"""Writing a tar archive as one stream: into a staging file renamed at commit, optionally
compressed as a whole, or into a pipe or a daemon's request body.

containers/image must know a member's size before writing its header, so it spools every
layer of unknown size (a layer it decompresses on the way) to /var/tmp first. Here a
seekable, uncompressed output needs no spool at all: the header is written with a
placeholder, the data streams straight into the archive, and the header (size, and a
name that depends on the digest just computed) is rewritten in place afterwards. Only
outputs that cannot seek back (a compressed archive, a pipe, a daemon) spool such a
member, into the staging directory (never /var/tmp), and only when its size is unknown;
the spool holds it zstd-compressed, never as an uncompressed copy.

Invariants:
- Nothing appears at the target path before :meth:`ArchiveOutput.commit`, which
  renames the finished staging file over it (same directory, so the rename is atomic).
  Closing without commit removes the staging file.
- A member whose data fails (short, long, digest mismatch, source error) is rolled back
  on seekable outputs (the file is truncated to where the member began), so a
  multi-image archive stays valid; on other outputs the writer is marked broken and
  refuses to commit.
- Every member's size is checked against what was written: a tar header never lies.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from trustcopy.compression import CHUNK, Algorithm, Readable
from trustcopy.errors import TransportError
from trustcopy.fsutil import (
    STAGING_PREFIX,
    Staging,
    current_umask,
    fsync_dir,
    make_staging_file,
    names_a_device_or_proc_file,
    open_for_writing_in_place,
)
from trustcopy.transports.tario import (
    END_OF_ARCHIVE,
    MemberType,
    fixed_file_header,
    member_header,
    padding,
)


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def compression_for_path(path: str) -> Algorithm:
    """The whole-archive compression a destination file name asks for (``.tar.gz``, ``.tgz``,
    ``.tar.zst``, ``.tzst``), or NONE."""
    lower = path.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        return Algorithm.GZIP
    if lower.endswith((".tar.zst", ".tzst", ".tar.zstd")):
        return Algorithm.ZSTD
    return Algorithm.NONE


class _CompressedFile:
    """Writes through gzip or zstd into a file (not seekable)."""

    def __init__(self, f: BinaryIO, algorithm: Algorithm, level: int | None) -> None:
        from trustcopy.compression import _gzip_compressobj

        self._f = f
        if algorithm is Algorithm.GZIP:
            self._c: Any = _gzip_compressobj(level)
        else:
            import zstandard

            zstd = zstandard.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
            self._c = zstd.compressobj()

    def write(self, data: bytes) -> int:
        out = self._c.compress(data)
        if out:
            self._f.write(out)
        return len(data)

    def finish(self) -> None:
        self._f.write(self._c.flush())


class ArchiveOutput:
    """Where an archive goes: a staging file beside ``path`` (renamed over it at commit), or,
    when ``path`` is a FIFO or a character device, that stream directly.

    Args:
        path: the destination the user named.
        what: names the destination in errors (the reference).
        refuse_non_empty: refuse an existing non-empty regular file (docker-archive
            does not modify archives); otherwise it is replaced at commit (oci-archive).
        compression: whole-archive compression; None = by file name.
    """

    def __init__(self, path: str, what: str, *, refuse_non_empty: bool,
                 compression: Algorithm | None = None) -> None:
        self.path, self.what = path, what
        self._refuse_non_empty = refuse_non_empty
        self.compression = compression_for_path(path) if compression is None else compression
        self._staging: str | None = None
        self._stage: Staging | None = None
        self._committed = self._closed = False
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise TransportError(f"{what}: cannot use {path}: {exc.strerror}", code="destination-unwritable") from exc
        # ``> image.tar`` and ``docker-archive:/dev/stdout``: a regular file reached through a
        # descriptor's link is written into, as skopeo writes it (no staging file fits beside
        # /dev/stdout, and replacing the file would leave the shell's descriptor on the old one).
        through_descriptor = st is not None and stat.S_ISREG(st.st_mode) and names_a_device_or_proc_file(path)
        if through_descriptor and refuse_non_empty and st is not None and st.st_size:
            raise self._exists_error()
        if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or through_descriptor):
            try:
                # A pipe nobody reads fails in seconds (skopeo's open blocks for ever); then the
                # descriptor blocks again, as the stream's writes expect.
                fd = open_for_writing_in_place(path, truncate=through_descriptor, fifo=stat.S_ISFIFO(st.st_mode))
                os.set_blocking(fd, True)
                self._raw: BinaryIO = os.fdopen(fd, "wb")
            except OSError as exc:
                raise TransportError(f"{what}: cannot open {path}: {exc.strerror}",
                                     code="destination-unwritable") from exc
            self.spool_dir = tempfile.gettempdir()
        else:
            self._check_target()
            parent = os.path.dirname(os.path.abspath(path))
            try:
                self._stage, fd = make_staging_file(path)
                self._staging = self._stage.path
            except OSError as exc:
                raise TransportError(f"{what}: cannot create a staging file in {parent}: {exc.strerror}",
                                     code="destination-unwritable") from exc
            try:
                self._raw = os.fdopen(fd, "w+b")
            except BaseException:
                os.close(fd)
                self._discard()
                raise
            self.spool_dir = parent
        self._compressed: _CompressedFile | None = None
        try:
            if self.compression is not Algorithm.NONE:
                self._compressed = _CompressedFile(self._raw, self.compression, None)
        except BaseException:
            self.close()
            raise

    def _discard(self) -> None:
        if self._staging is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._staging)
        self._release()

    def _release(self) -> None:
        if self._stage is not None:
            self._stage.release()

    def _check_target(self) -> os.stat_result | None:
        """Refuse what must not be replaced; the target's lstat (None: there is none)."""
        path = self.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            raise TransportError(f"{self.what}: {path} is a directory", code="destination-not-a-file")
        if stat.S_ISLNK(st.st_mode):
            # NOTE(go-diff): containers/image opens PATH with O_CREATE and so writes where a link leads
            # (creating a dangling link's target; oci-archive: truncating any file it names). We stage
            # beside PATH and rename over it, which would replace the link itself; following it in
            # user space would bypass the kernel's protected_symlinks in a shared /tmp. So: refused.
            raise TransportError(f"{self.what}: {path} is a symbolic link; an archive is not written through one",
                                 code="destination-not-a-file", hint="name the file the link leads to")
        if not stat.S_ISREG(st.st_mode):
            raise TransportError(f"{self.what}: {path} exists and is not a regular file",
                                 code="destination-not-a-file")
        if self._refuse_non_empty and st.st_size:
            raise self._exists_error()
        return st

    def _exists_error(self) -> TransportError:
        """A non-empty archive where docker-archive would write (containers/image refuses to modify one)."""
        return TransportError(f"{self.what}: {self.path} already exists and is not empty; docker-archive does not "
                              "modify existing archives", code="archive-exists",
                              hint="remove it first, or choose another path")

    @property
    def seekable(self) -> bool:
        """Whether headers can be rewritten in place (an uncompressed staging file)."""
        return self._staging is not None and self._compressed is None

    @property
    def stream(self) -> _Writable:
        """What the tar bytes are written to."""
        return self._compressed if self._compressed is not None else self._raw

    @property
    def file(self) -> BinaryIO:
        """The underlying file (for in-place rewrites; only when :attr:`seekable`)."""
        return self._raw

    def commit(self) -> None:
        """Finish the stream, then rename the staging file over the target."""
        if self._committed:
            raise RuntimeError("commit() called twice")
        try:
            if self._compressed is not None:
                self._compressed.finish()
            self._raw.flush()
            if self._staging is not None:
                os.fsync(self._raw.fileno())
                self._raw.close()
                st = self._check_target()  # it may have appeared since we opened it
                # skopeo writes into the file it opens (O_CREATE, 0644): a new archive is 0644 less the
                # umask, an existing one keeps its mode (never widen a file the user made private).
                os.chmod(self._staging, stat.S_IMODE(st.st_mode) if st is not None else 0o644 & ~current_umask())
                os.replace(self._staging, self.path)
                self._release()
                fsync_dir(os.path.dirname(os.path.abspath(self.path)))
            else:
                self._raw.close()
        except OSError as exc:
            hint = None
            if exc.errno in (errno.EBUSY, errno.EXDEV):  # the staging file cannot be renamed over PATH
                hint = (f"{self.path} is a mount point (a bind-mounted file?): the archive is renamed into place "
                        "when complete, so mount the directory that holds it instead")
            raise TransportError(f"{self.what}: cannot write {self.path}: {exc.strerror}",
                                 code="destination-unwritable", hint=hint) from exc
        self._committed = True

    def close(self) -> None:
        """Without commit: remove the staging file (a pipe just ends, incomplete)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._raw.close()
        if not self._committed:
            self._discard()
        self._release()


class TarWriter:
    """A tar stream being written member by member (see the module invariants).

    Args:
        out: where the bytes go.
        seekable_file: the file behind ``out`` when headers may be rewritten in place.
        spool_dir: where a member of unknown size is spooled when ``out`` cannot seek.
        what: names the destination in errors.
        target: the file the archive becomes, named when writing fails (a full disk).
    """

    def __init__(self, out: _Writable, *, seekable_file: BinaryIO | None, spool_dir: str, what: str,
                 target: str | None = None) -> None:
        self._out = out
        self._file = seekable_file
        self._spool_dir = spool_dir
        self.what = what
        self._target = target
        self.offset = 0
        self.broken: str | None = None
        self.closed = False

    def _write(self, data: bytes) -> None:
        try:
            self._out.write(data)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self.offset += len(data)

    def _unwritable(self, exc: OSError) -> TransportError:
        """A write that failed (ENOSPC, EDQUOT, EIO): the destination's error, naming the file.

        The writer is broken from then on, seekable or not: the bytes of a failed buffered
        write are neither on disk nor dropped (a truncate would flush them again), so nothing
        may be added and the archive is never committed; closing the output removes it.
        """
        why = exc.strerror or str(exc)
        self.broken = f"writing failed: {why}"
        where = self._target if self._target is not None else "the archive"
        return TransportError(f"{self.what}: cannot write {where}: {why}", code="destination-unwritable",
                              context={"path": where})

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("the archive was already finished")
        if self.broken is not None:
            raise TransportError(f"{self.what}: the archive cannot be continued: {self.broken}",
                                 code="archive-write-failed")

    def checkpoint(self) -> int:
        """An offset :meth:`rollback` can return to (seekable outputs only)."""
        return self.offset

    def rollback(self, offset: int, why: str) -> None:
        """Forget everything written after ``offset``; on outputs that cannot, mark the writer broken."""
        if self.offset == offset or self.broken is not None:
            return  # (a broken writer is never committed: nothing to undo)
        if self._file is None:
            self.broken = why
            return
        try:
            self._file.flush()
            self._file.truncate(offset)
            self._file.seek(offset)
        except OSError as exc:
            self._unwritable(exc)  # broken now; the error being handled propagates, not this one
            return
        self.offset = offset

    def add_bytes(self, name: str, data: bytes) -> None:
        """A regular file with ``data``."""
        self._check()
        self._write(member_header(name, len(data)) + data + bytes(padding(len(data))))

    def add_dir(self, name: str) -> None:
        """A directory entry."""
        self._check()
        self._write(member_header(name, 0, MemberType.DIR))

    def add_symlink(self, name: str, target: str) -> None:
        """A symbolic link (docker save's legacy ``<id>/layer.tar`` entries)."""
        self._check()
        self._write(member_header(name, 0, MemberType.SYMLINK, target))

    def add_stream(self, name: str, stream: Readable, size: int) -> None:
        """A regular file of exactly ``size`` bytes read from ``stream``.

        Raises:
            TransportError: the stream ended early or had more bytes than ``size``
                (anything the stream itself raises propagates); the member is rolled back.
        """
        self._check()
        start = self.offset
        try:
            self._write(member_header(name, size))
            left = size
            while left:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise TransportError(f"{self.what}: {name}: the data ended after {size - left} of "
                                         f"{size} bytes", code="size-mismatch")
                self._write(chunk)
                left -= len(chunk)
            if stream.read(1):
                raise TransportError(f"{self.what}: {name}: more data than the {size} bytes expected",
                                     code="size-mismatch")
            self._write(bytes(padding(size)))
        except BaseException as exc:
            self.rollback(start, f"writing {name} failed: {exc}")
            raise

    def add_stream_unknown_size(self, stream: Readable, name_for: Callable[[], str | None]) -> int:
        """A regular file whose size (and name) are known only after ``stream`` ended.

        ``name_for`` is called after the last byte was read (e.g. to name the member by
        the digest just computed); the name must fit a ustar header (100 ASCII bytes).
        When it returns None (the archive already has those bytes) the member is dropped.

        Returns:
            The member's size.
        """
        self._check()
        if self._file is None:
            return self._spooled(stream, name_for)
        start = self.offset
        try:
            self._write(fixed_file_header("incomplete", 0))  # rewritten below
            size = 0
            while chunk := stream.read(CHUNK):
                self._write(chunk)
                size += len(chunk)
            name = name_for()
            if name is None:
                self.rollback(start, "duplicate member")
                return size
            self._write(bytes(padding(size)))
            try:
                self._file.flush()
                os.pwrite(self._file.fileno(), fixed_file_header(name, size), start)
            except OSError as exc:
                raise self._unwritable(exc) from exc
        except BaseException as exc:
            self.rollback(start, f"writing a member failed: {exc}")
            raise
        return size

    def _spooled(self, stream: Readable, name_for: Callable[[], str | None]) -> int:
        """Spool ``stream`` (its size is needed before its header), then add it.

        The spool holds the data zstd-compressed (fast level): such a member is almost always
        a layer decompressed on the way, and the issue asks for a compressed archive written
        without an uncompressed copy on disk (an 8 MiB layer spooled as-is next to a 10 KiB
        archive, before). The spool is our own unnamed file, read back once.
        """
        import zstandard

        try:
            spool = tempfile.TemporaryFile(prefix=f"{STAGING_PREFIX}spool-", dir=self._spool_dir)  # noqa: SIM115
        except OSError as exc:
            raise self._spool_failed(exc) from exc
        packer = zstandard.ZstdCompressor(level=1).compressobj()
        # Not ``with spool``: after a failed write (a full disk) closing flushes the rest of the
        # buffer, fails again, and that bare OSError would replace the named error.
        failed = True
        try:
            size = 0
            while chunk := stream.read(CHUNK):  # (the stream's own errors are not the spool's)
                size += len(chunk)
                try:
                    spool.write(packer.compress(chunk))
                except OSError as exc:
                    raise self._spool_failed(exc) from exc
            try:
                spool.write(packer.flush())
                spool.flush()
            except OSError as exc:
                raise self._spool_failed(exc) from exc
            spool.seek(0)
            name = name_for()
            if name is not None:
                self.add_stream(name, zstandard.ZstdDecompressor().stream_reader(spool, closefd=False), size)
            failed = False
        finally:
            try:
                spool.close()  # an unnamed file: nothing is left behind either way
            except OSError as exc:
                if not failed:
                    raise self._spool_failed(exc) from exc
        return size

    def _spool_failed(self, exc: OSError) -> TransportError:
        return TransportError(f"{self.what}: cannot write a temporary copy of a layer in {self._spool_dir}: "
                              f"{exc.strerror or exc}", code="destination-unwritable",
                              context={"path": self._spool_dir},
                              hint=None if self._target is not None else "--tmpdir (or TMPDIR) chooses another one")

    def finish(self) -> None:
        """Write the end-of-archive marker."""
        self._check()
        self._write(END_OF_ARCHIVE)
        self.closed = True
