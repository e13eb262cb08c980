"""Reading members of an untrusted tar archive in place: seekable files by offset, compressed
archives (or a daemon's stream) by re-readable sequential passes. Nothing is extracted.

Two kinds of reader, one interface (:class:`ArchiveReader`):

- :class:`SeekableArchive` (an uncompressed regular file): one pass over the headers
  builds an index of member offsets; data is read with ``pread``, so any number of
  threads can stream different members at once.
- :class:`SequentialArchive` (a ``.tar.gz``/``.tar.zst``, or a stream a daemon sends):
  a first pass decompresses the whole archive once, indexing members, keeping small
  members (manifests, configs) in memory within a fixed budget, and, when asked,
  measuring compressed members' uncompressed digest and size. Later reads walk a
  second pass forward; a member behind the current position starts a new pass. No
  temporary copy of a file is ever made (containers/image decompresses such archives
  to /var/tmp first). Only a pipe, which cannot be read twice, is kept as it came in an
  unnamed temporary file (:func:`_spool_pipe`), then read like a file.

Invariants:
- Member names are cleaned and checked by :mod:`trustcopy.transports.tario`; a name
  used twice (other than for directories) makes the archive ambiguous and is refused.
- Lookups follow symlinks and hard links only to members inside the archive, at most
  :data:`MAX_LINK_HOPS` hops; anything but a regular file at the end is refused. Devices
  and FIFOs are indexed but never read.
- Every read is bounded: whole-member reads take a limit; a member stream ends at the
  member's size and fails on a truncated archive.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from trustcopy import limits
from trustcopy.compression import (
    PEEK_SIZE,
    Algorithm,
    CorruptDataError,
    DecompressingStream,
    PeekableStream,
    Readable,
    detect,
)
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, LimitExceededError, TransportError
from trustcopy.lazy import dataclass
from trustcopy.transports.tario import ArchiveFormatError, Member, MemberType, link_target, scan

#: Symlink/hard-link hops followed for one lookup.
MAX_LINK_HOPS = 8
#: Members a sequential pass keeps in memory: each at most this big …
SMALL_MEMBER = 4 << 20
#: … and all of them together at most this much.
SMALL_MEMBER_BUDGET = 16 << 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Uncompressed:
    """What a compressed member holds once decompressed."""

    algorithm: Algorithm
    digest: Digest
    size: int


class ArchiveReader(abc.ABC):
    """An archive opened for reading members by name."""

    what: str
    members: dict[str, Member]
    #: All members in archive order (for diagnostics and ordering reads).
    order: list[Member]

    def _index(self, members: list[Member]) -> None:
        self.order = members
        self.members = {}
        for m in members:
            prev = self.members.get(m.name)
            # NOTE(go-diff): containers/image's tarfile reader takes the *first* member of a name
            # (extracting takes the last): a name used twice is ambiguous, so it is refused.
            if prev is not None and not (prev.type is MemberType.DIR and m.type is MemberType.DIR):
                raise ArchiveFormatError(f"{self.what}: member {m.name!r} appears more than once",
                                         code="archive-duplicate-member")
            self.members[m.name] = m

    def _via_link(self, name: str) -> str:
        """Why a missing member may be missing: a directory above it is a link, which is never followed."""
        parts = name.split("/")
        for end in range(1, len(parts)):
            above = self.members.get("/".join(parts[:end]))
            if above is not None and above.type in (MemberType.SYMLINK, MemberType.HARDLINK):
                return (f" ({'/'.join(parts[:end])!r} is a link to {above.link!r}: links are followed only "
                        "as the last part of a member's name, never as a directory)")
        return ""

    def lookup(self, name: str, *, symlink_hops: int = MAX_LINK_HOPS, hard_links: bool = True) -> Member:
        """The regular file ``name`` (cleaned) refers to, following links inside the archive.

        Args:
            symlink_hops: symbolic links followed at most (docker archives: 1, as
                containers/image's tarfile reader follows one).
            hard_links: whether a hard link is followed to its target; if not, it is
                refused (containers/image's tarfile reader reads a hard link's own, empty,
                data instead).

        Raises:
            ImageNotFoundError: no such member.
            ArchiveFormatError: a link leaves the archive, loops or goes on longer than
                ``symlink_hops``, a hard link where they are not followed, or the member
                is not a regular file.
        """
        from trustcopy.transports.tario import clean_name

        current = clean_name(name, what=self.what)
        for hop in range(symlink_hops + 1):
            member = self.members.get(current)
            if member is None:
                raise ImageNotFoundError(f"{self.what}: the archive has no member {current!r}{self._via_link(current)}",
                                         code="archive-member-missing", context={"member": current})
            if member.type is MemberType.FILE:
                return member
            if member.type not in (MemberType.SYMLINK, MemberType.HARDLINK):
                raise ArchiveFormatError(f"{self.what}: member {member.name!r} is not a regular file",
                                         code="archive-not-a-file")
            target = link_target(member)
            if target is None:
                raise ArchiveFormatError(f"{self.what}: link {member.name!r} → {member.link!r} points outside "
                                         "the archive", code="archive-unsafe-link")
            if member.type is MemberType.HARDLINK and not hard_links:
                raise ArchiveFormatError(f"{self.what}: member {member.name!r} is a hard link to {member.link!r}, "
                                         "which is not followed here", code="archive-not-a-file")
            if hop == symlink_hops:
                break
            current = target
        raise ArchiveFormatError(f"{self.what}: too many links resolving {name!r} (at most {symlink_hops} "
                                 "followed)", code="archive-unsafe-link")

    def read_member(self, name: str, limit: int, *, symlink_hops: int = MAX_LINK_HOPS,
                    hard_links: bool = True) -> bytes:
        """The whole content of member ``name``, refusing more than ``limit`` bytes (links as :meth:`lookup`).

        Raises:
            LimitExceededError: the member is larger than ``limit``.
        """
        member = self.lookup(name, symlink_hops=symlink_hops, hard_links=hard_links)
        if member.size > limit:
            raise LimitExceededError(f"{self.what}: member {member.name!r} ({member.size} bytes) is larger "
                                     f"than the {limit} bytes accepted",
                                     context={"what": f"{self.what}/{member.name}", "limit": limit})
        stream = self.open_member(member)
        try:
            return limits.read_at_most(stream, limit, f"{self.what}/{member.name}")
        finally:
            stream.close()

    @abc.abstractmethod
    def open_member(self, member: Member) -> BinaryIO:
        """A stream of the member's bytes (exactly ``member.size`` of them)."""

    @property
    @abc.abstractmethod
    def thread_safe(self) -> bool:
        """Whether several members may be streamed at the same time."""

    def uncompressed(self, member: Member) -> Uncompressed | None:
        """For a compressed member: its uncompressed digest and size (None when not compressed).

        Reads the member once (decompressing it) unless a sequential pass measured it.
        """
        stream = self.open_member(member)
        try:
            return measure(stream, f"{self.what}/{member.name}")
        finally:
            stream.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release the archive."""


def measure(stream: Readable, what: str) -> Uncompressed | None:
    """Decompress ``stream`` once (if it is compressed), hashing and counting the output."""
    peeked = PeekableStream(stream)
    algo = peeked.algorithm
    if algo is Algorithm.NONE:
        return None
    dec = DecompressingStream(peeked, algo, what=what)
    h = hashlib.sha256()
    size = 0
    while chunk := dec.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return Uncompressed(algo, Digest("sha256", h.hexdigest()), size)


# -- seekable ------------------------------------------------------------------------


class _PreadStream(io.RawIOBase):
    """``size`` bytes from ``offset`` of a shared descriptor, by pread (no shared position)."""

    def __init__(self, fd: int, offset: int, size: int, what: str) -> None:
        super().__init__()
        self._fd, self._pos, self._left, self._what = fd, offset, size, what

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if size < 0 else min(size, self._left)
        try:
            data = os.pread(self._fd, min(n, 8 << 20), self._pos)
        except OSError as exc:  # EIO of a failing disk: this archive's error, named (not a traceback)
            raise TransportError(f"{self._what}: cannot read the archive: {exc.strerror or exc}",
                                 code="file-unreadable") from exc
        if not data:
            raise ArchiveFormatError(f"{self._what}: the archive is truncated", code="archive-truncated")
        self._pos += len(data)
        self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _FileSkipper:
    def __init__(self, f: BinaryIO, size: int, what: str) -> None:
        self._f, self._size, self._what = f, size, what

    def skip(self, counter: Any, n: int) -> None:
        if counter.offset + n > self._size:
            raise ArchiveFormatError(f"{self._what}: the archive is truncated", code="archive-truncated")
        self._f.seek(n, os.SEEK_CUR)
        counter.offset += n


class SeekableArchive(ArchiveReader):
    """An uncompressed archive file, indexed once and read by offset."""

    def __init__(self, f: BinaryIO, what: str) -> None:
        self.what = what
        self._f = f
        size = os.fstat(f.fileno()).st_size
        try:
            self._index(list(scan(f, what, seekable_skip=_FileSkipper(f, size, what))))
        except BaseException:
            f.close()
            raise

    @property
    def thread_safe(self) -> bool:
        """pread needs no shared position."""
        return True

    def open_member(self, member: Member) -> BinaryIO:
        """pread-backed stream of the member."""
        return _PreadStream(self._f.fileno(), member.offset, member.size, f"{self.what}/{member.name}")  # type: ignore[return-value]

    def close(self) -> None:
        """Close the file."""
        self._f.close()


# -- sequential ----------------------------------------------------------------------


Opener = Callable[[], Readable]


class _ScanWatcher:
    """During the first pass: keep small members, and measure compressed ones if asked."""

    def __init__(self, what: str, measure_compressed: bool) -> None:
        self._what = what
        self._measure = measure_compressed
        self.cached: dict[str, bytes] = {}
        self.budget = SMALL_MEMBER_BUDGET
        #: measured members: their uncompressed digest and size, or None when not compressed
        self.measured: dict[str, Uncompressed | None] = {}

    def visit(self, member: Member, data: Readable) -> None:
        what = f"{self._what}/{member.name}"
        # A member that looks compressed but does not decompress is not measured: it fails
        # only if an image uses it (measured again then), as it would in an uncompressed
        # archive; an archive that ends early (ArchiveFormatError) still fails the scan.
        if member.size <= min(SMALL_MEMBER, self.budget):
            self.budget -= member.size
            content = limits.read_at_most(data, member.size, what)
            self.cached[member.name] = content
            if self._measure:
                with contextlib.suppress(CorruptDataError):
                    self.measured[member.name] = measure(io.BytesIO(content), what)
        elif self._measure:
            with contextlib.suppress(CorruptDataError):
                self.measured[member.name] = measure(data, what)


class _Cursor:
    """A forward-only position in one pass over the (decompressed) archive."""

    def __init__(self, stream: Readable, closer: Callable[[], None]) -> None:
        self.stream, self.closer = stream, closer
        self.offset = 0
        self.owner: object | None = None

    def skip_to(self, offset: int, what: str) -> None:
        while self.offset < offset:
            chunk = self.stream.read(min(_CHUNK, offset - self.offset))
            if not chunk:
                raise ArchiveFormatError(f"{what}: the archive is truncated", code="archive-truncated")
            self.offset += len(chunk)


class _CursorStream(io.RawIOBase):
    def __init__(self, archive: SequentialArchive, cursor: _Cursor, member: Member) -> None:
        super().__init__()
        self._archive, self._cursor, self._left = archive, cursor, member.size
        self._what = f"{archive.what}/{member.name}"
        cursor.owner = self

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        if self._cursor.owner is not self:
            raise TransportError(f"{self._what}: internal error: the archive moved on to another member")
        n = self._left if size < 0 else min(size, self._left)
        data = self._cursor.stream.read(min(n, _CHUNK * 8))
        if not data:
            raise ArchiveFormatError(f"{self._what}: the archive is truncated", code="archive-truncated")
        self._cursor.offset += len(data)
        self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class SequentialArchive(ArchiveReader):
    """An archive read by passes over a stream that can be produced again (see module doc).

    Args:
        opener: returns a fresh stream of the *uncompressed* tar bytes each time it
            is called (e.g. open the file and decompress; or ask the daemon again).
        what: names the archive in errors.
        measure_compressed: during the first pass, decompress compressed members to
            learn their uncompressed digest and size (docker archives need them).
    """

    def __init__(self, opener: Callable[[], tuple[Readable, Callable[[], None]]], what: str, *,
                 measure_compressed: bool = False) -> None:
        self.what = what
        self._opener = opener
        self._lock = threading.Lock()
        self._cursor: _Cursor | None = None
        watcher = _ScanWatcher(what, measure_compressed)
        stream, closer = opener()
        try:
            self._index(list(scan(stream, what, watcher=watcher)))
        finally:
            closer()
        self._cached = watcher.cached
        self._measured = watcher.measured
        self.passes = 1

    @property
    def thread_safe(self) -> bool:
        """One pass serves one member at a time."""
        return False

    def cached(self, member: Member) -> bytes | None:
        """The member's bytes if the first pass kept them."""
        return self._cached.get(member.name)

    def open_member(self, member: Member) -> BinaryIO:
        """From memory if cached, else from the current pass (moving forward) or a new one."""
        data = self._cached.get(member.name)
        if data is not None:
            return io.BytesIO(data)
        with self._lock:
            cur = self._cursor
            if cur is None or cur.offset > member.offset:
                if cur is not None:
                    cur.closer()
                stream, closer = self._opener()
                self.passes += 1
                cur = self._cursor = _Cursor(stream, closer)
            cur.skip_to(member.offset, self.what)
            return _CursorStream(self, cur, member)  # type: ignore[return-value]

    def uncompressed(self, member: Member) -> Uncompressed | None:
        """Measured during the first pass (when asked; compressed or not); otherwise measured now."""
        if member.name in self._measured:
            return self._measured[member.name]
        return super().uncompressed(member)

    def close(self) -> None:
        """End the current pass."""
        if self._cursor is not None:
            with contextlib.suppress(Exception):
                self._cursor.closer()
            self._cursor = None


def open_archive_file(path: str, what: str, *, measure_compressed: bool = False,
                      tmp_dir: str | None = None) -> ArchiveReader:
    """Open an archive file: by offsets when uncompressed, by passes when compressed.

    A pipe (``docker save app | trustcopy copy docker-archive:/dev/stdin …``) is read to
    its end into an unnamed temporary file first (:func:`_spool_pipe`), then read like a file.

    Raises:
        ImageNotFoundError / TransportError: the file is missing, not a regular file or a
            pipe, or unreadable; a pipe that no writer opened, or whose writer went silent.
        ArchiveFormatError: not a tar archive we accept (corrupt, truncated, hostile).
    """
    from trustcopy.fsutil import open_regular_file
    from trustcopy.transports.localblobs import reading_named

    spool = _spool_pipe(path, what, tmp_dir)
    # Read errors of the file (EIO) name it, wherever a later read meets them (scan, members).
    f = spool if spool is not None else reading_named(open_regular_file(path, "archive"), path, "archive", what)
    try:
        head = f.read(PEEK_SIZE)
        f.seek(0)
    except OSError as exc:
        f.close()
        raise TransportError(f"{what}: cannot read {path}: {exc.strerror}", code="file-unreadable") from exc
    except BaseException:
        f.close()
        raise
    algo = detect(head)
    if algo is Algorithm.NONE:
        return SeekableArchive(f, what)
    if spool is not None:
        return _SpooledArchive(spool, algo, what, measure_compressed=measure_compressed)
    f.close()

    def opener() -> tuple[Readable, Callable[[], None]]:
        g = reading_named(open_regular_file(path, "archive"), path, "archive", what)
        return DecompressingStream(g, algo, what=what), g.close

    return SequentialArchive(opener, what, measure_compressed=measure_compressed)


class _SpooledArchive(SequentialArchive):
    """A compressed archive that came through a pipe: passes decompress the spooled bytes."""

    def __init__(self, spool: BinaryIO, algo: Algorithm, what: str, *, measure_compressed: bool) -> None:
        self._spool = spool
        fd, size = spool.fileno(), os.fstat(spool.fileno()).st_size

        def opener() -> tuple[Readable, Callable[[], None]]:
            return DecompressingStream(_PreadStream(fd, 0, size, what), algo, what=what), lambda: None

        try:
            super().__init__(opener, what, measure_compressed=measure_compressed)
        except BaseException:
            spool.close()
            raise

    def close(self) -> None:
        """End the current pass and drop the spooled copy."""
        super().close()
        self._spool.close()


#: Bytes read and dropped after a piped archive's end-of-archive marker (tar pads its
#: output to a 10 KiB record; ``docker save`` writes nothing more). A writer still sending
#: after that gets a closed pipe: the archive is complete, and a pipe that never ends must
#: not fill the disk.
MAX_PIPE_TRAILER = 1 << 20


class _TeeReader:
    """Reads a pipe's pieces, writing each to the spool as it passes."""

    def __init__(self, pieces: Iterator[bytes], spool: BinaryIO, directory: str, what: str) -> None:
        self._pieces, self._spool, self._directory, self._what = pieces, spool, directory, what
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        if not self._buffer:
            piece = next(self._pieces, b"")
            if not piece:
                return b""
            try:
                self._spool.write(piece)
            except OSError as exc:
                raise _spool_error(self._what, self._directory, exc) from exc
            self._buffer = piece
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
            return out
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _spool_error(what: str, directory: str, exc: OSError) -> TransportError:
    return TransportError(f"{what}: cannot keep a copy of the piped archive in {directory}: {exc.strerror}",
                          code="spool-failed", context={"directory": directory},
                          hint="--tmpdir (or TMPDIR) chooses another directory")


def _spool_pipe(path: str, what: str, tmp_dir: str | None) -> BinaryIO | None:
    """The archive a pipe at ``path`` carries, in an unnamed temporary file; None for anything but a pipe.

    The tar headers are checked as the bytes arrive (a pipe carrying anything else fails
    at its first block, not after filling the disk) and reading stops at the archive's
    end-of-archive marker plus :data:`MAX_PIPE_TRAILER`. The file lives in ``tmp_dir``
    (``--tmpdir``), else $TMPDIR, else /var/tmp, as containers/image spools such input;
    being unnamed, it disappears with the process, however the process ends. Waiting
    for a writer, and for a silent one, is bounded (:func:`trustcopy.limits.fifo_chunks`).
    """
    import stat
    import tempfile

    from trustcopy.fsutil import big_files_dir

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None  # open_regular_file reports it
    try:
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        is_pipe = False
    if not is_pipe:
        os.close(fd)
        return None
    directory = big_files_dir(tmp_dir)
    try:
        spool = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - returned, or closed below
    except OSError as exc:
        os.close(fd)
        raise _spool_error(what, directory, exc) from exc
    try:
        with contextlib.closing(limits.fifo_chunks(fd, f"{what}: archive {path}", piece=_CHUNK)) as pieces:
            tee = _TeeReader(pieces, spool, directory, what)
            peeked = PeekableStream(tee)
            algo = peeked.algorithm
            tar: Readable = peeked if algo is Algorithm.NONE else DecompressingStream(peeked, algo, what=what)
            for _member in scan(tar, what):
                pass  # headers checked as they arrive; the data only passes into the spool
            dropped = 0
            while dropped <= MAX_PIPE_TRAILER and (chunk := tar.read(_CHUNK)):
                dropped += len(chunk)
        try:
            spool.flush()
        except OSError as exc:  # the last buffered piece meets the full disk
            raise _spool_error(what, directory, exc) from exc
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise
