"""Detecting, removing and adding compression while streaming, with bounded memory.

Used by the copy pipeline (layers compressed, decompressed or recompressed for a
destination) and by the archive transports (compressed archives, compressed layers
inside archives). It sits low in the layer contract so that both can use it.

Invariants:
- A stream's compression is decided by its magic bytes, never by a media type or a
  file name alone (those are claims by whoever made the data).
- Every wrapper is pull-based: one ``read`` pulls at most one chunk from below, so
  memory stays constant whatever the size of the data. zstd windows and xz
  dictionaries are capped (:data:`MAX_ZSTD_WINDOW`, :data:`MAX_XZ_MEMORY`), so a
  hostile header cannot make a decompressor allocate gigabytes.
- Corrupt, truncated or trailing-garbage compressed data raises
  :class:`CorruptDataError` naming the stream, never returns short data silently.
  Go's readers (and so skopeo) refuse the same corrupt and trailing data (xz stream
  padding, groups of four NUL bytes, is not garbage: both skip it), but deliberately
  not all truncations: containers/image's gzip (pgzip) and xz readers end some streams
  cut short without an error (part of the data, or all of it without the gzip trailer
  or the xz index); trustcopy refuses them (tests/unit/copy/test_copy_decisions_goracle.py).
- Heavy or optional modules (``zstandard``, ``isal``, ``bz2``, ``lzma``) are imported
  only when a stream needs them, so commands that never compress do not pay for them.

gzip output uses ISA-L (the ``isal`` package) when it is installed: a valid gzip
stream, produced 10 to 40 times faster than zlib at comparable ratios. Without an
explicit level the ISA-L level 2 is used; an explicit ``--dest-compress-level`` 1-9 is
mapped onto ISA-L's 1-3 (1-3 → 1, 4-6 → 2, 7-9 → 3) and 0 stores (zlib level 0).
"""

from __future__ import annotations

import enum
import zlib
from typing import Any, Protocol

from trustcopy.errors import TransportError

CHUNK = 1 << 20

#: Largest zstd window a decompressor accepts (zstd's own default limit, 2^27). Go's zstd
#: reader, as containers/image uses it, accepts up to 512 MiB: frames made with ``zstd --long=28``
#: or ``--long=29`` copy with skopeo and are refused here (each such window would be held per
#: layer, several layers at once).
MAX_ZSTD_WINDOW = 1 << 27
#: Largest dictionary an xz decoder may allocate.
MAX_XZ_MEMORY = 128 << 20


class CorruptDataError(TransportError):
    """Compressed data that does not decompress: corrupt, truncated, or followed by garbage."""

    default_code = "corrupt-compressed-data"


class Algorithm(enum.Enum):
    """Compression algorithms containers/image recognises."""

    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"
    BZIP2 = "bzip2"
    XZ = "xz"


_MAGIC: tuple[tuple[bytes, Algorithm], ...] = (
    (b"\x1f\x8b\x08", Algorithm.GZIP),
    (b"\x28\xb5\x2f\xfd", Algorithm.ZSTD),
    (b"BZh", Algorithm.BZIP2),
    (b"\xfd7zXZ\x00", Algorithm.XZ),
)
PEEK_SIZE = 6
_XZ_PADDING = b"\x00" * 4

#: Algorithms trustcopy can write (``--dest-compress-format``).
WRITABLE = (Algorithm.GZIP, Algorithm.ZSTD)


def detect(prefix: bytes) -> Algorithm:
    """The compression of a stream starting with ``prefix`` (at least 6 bytes if available)."""
    for magic, algo in _MAGIC:
        if prefix.startswith(magic):
            return algo
    return Algorithm.NONE


def algorithm_by_name(name: str) -> Algorithm:
    """``gzip`` / ``zstd`` as ``--dest-compress-format`` takes them.

    Raises:
        ValueError: a name trustcopy cannot write (the message lists the valid ones).
    """
    for algo in WRITABLE:
        if algo.value == name:
            return algo
    raise ValueError(f"unsupported compression format {name!r}; use one of: gzip, zstd")


class Readable(Protocol):
    """Anything with ``read(n)``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; b"" at EOF."""


class PeekableStream:
    """Re-emits a peeked prefix before the rest of the stream."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._head = b""
        while len(self._head) < PEEK_SIZE:
            chunk = stream.read(PEEK_SIZE - len(self._head))
            if not chunk:
                break
            self._head += chunk
        self.prefix = self._head

    @property
    def algorithm(self) -> Algorithm:
        """The compression the peeked prefix shows."""
        return detect(self.prefix)

    def read(self, size: int = -1, /) -> bytes:
        """Read, starting with the peeked bytes."""
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                if size < 0:
                    return head + self._stream.read()
                rest = self._stream.read(size - len(head)) if size > len(head) else b""
                return head + rest
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._stream.read(size)

    def close(self) -> None:
        """Close the wrapped stream, if it can be closed."""
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def _gzip_decompressobj() -> Any:
    try:
        from isal import isal_zlib

        return isal_zlib.decompressobj(31)
    except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
        return zlib.decompressobj(31)


def _new_decompressor(algorithm: Algorithm) -> Any:
    """A fresh single-member decompressor (``decompress(data, max_length)``, ``eof``, ``unused_data``)."""
    if algorithm is Algorithm.GZIP:
        return _gzip_decompressobj()
    if algorithm is Algorithm.BZIP2:
        import bz2

        return bz2.BZ2Decompressor()
    if algorithm is Algorithm.XZ:
        import lzma

        return lzma.LZMADecompressor(memlimit=MAX_XZ_MEMORY)
    raise ValueError(f"{algorithm} has no incremental decompressor here")


class _ZstdFrames:
    """Follows zstd frame and block headers in the compressed bytes (without decoding them),
    so that a stream cut inside a frame is noticed: the zstandard binding's readers end
    such a stream silently."""

    _SKIPPABLE = 0x184D2A50

    def __init__(self) -> None:
        self._buf = b""
        self._need = 4  # bytes of the next structure to look at
        self._state = "magic"
        self._checksum = 0
        self.frames = 0

    @property
    def between_frames(self) -> bool:
        """True when every frame seen so far is complete."""
        return self._state == "magic" and not self._buf

    def feed(self, data: bytes) -> None:
        """Account for the next compressed bytes.

        Skippable frames (up to 4 GiB each) and block payloads are counted, never kept, and
        headers are read by offset: buffering a skippable frame held all of it in memory, and
        slicing the buffer once per structure made a chunk of empty blocks cost quadratic time.

        Raises:
            ValueError: something that is not a zstd frame where one must start.
        """
        pos, end = 0, len(data)
        while pos < end:
            if self._state in ("skip", "payload"):
                take = min(self._need, end - pos)
                pos += take
                self._need -= take
                if self._need:
                    return
                if self._state == "skip":
                    self._state, self._need = "magic", 4
                else:
                    self._after_block()
                continue
            want = self._need - len(self._buf)
            if end - pos < want:
                self._buf += data[pos:]
                return
            head = self._buf + data[pos:pos + want] if self._buf else data[pos:pos + want]
            pos += want
            self._buf = b""
            self._header(head)

    def _header(self, head: bytes) -> None:
        """The next header (``self._need`` bytes of it) in state ``self._state``."""
        state = self._state
        if state == "magic":
            magic = int.from_bytes(head, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = "fhd", 1
            elif magic & 0xFFFFFFF0 == self._SKIPPABLE:
                self._state, self._need = "skip-size", 4
            else:
                raise ValueError("not a zstd frame")
        elif state == "skip-size":
            self._state, self._need = "skip", int.from_bytes(head, "little")
            if self._need == 0:
                self._state, self._need = "magic", 4
        elif state == "fhd":
            fhd = head[0]
            fcs_flag, single, self._checksum, did_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
            fcs = (1 if single else 0) if fcs_flag == 0 else (2, 4, 8)[fcs_flag - 1]
            rest = (0 if single else 1) + (0, 1, 2, 4)[did_flag] + fcs
            self._state, self._need = ("frame-header", rest) if rest else ("block", 3)
        elif state == "frame-header":
            self._state, self._need = "block", 3
        elif state == "block":
            header = int.from_bytes(head, "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            if kind == 3:
                raise ValueError("reserved zstd block type")
            payload = 1 if kind == 1 else size
            self._last = bool(last)
            if payload:
                self._state, self._need = "payload", payload
            else:
                self._after_block()
        elif state == "checksum":
            self.frames += 1
            self._state, self._need = "magic", 4

    def _after_block(self) -> None:
        if not self._last:
            self._state, self._need = "block", 3
        elif self._checksum:
            self._state, self._need = "checksum", 4
        else:
            self.frames += 1
            self._state, self._need = "magic", 4


class _Tracked:
    """The compressed input, shown to a zstd frame tracker on its way to the decoder."""

    def __init__(self, stream: Readable, frames: _ZstdFrames, owner: DecompressingStream) -> None:
        self._stream, self._frames, self._owner = stream, frames, owner

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        if data:
            self._owner.bytes_in += len(data)
            try:
                self._frames.feed(data)
            except ValueError as exc:
                raise self._owner.corrupt(f"is not valid ({exc})", exc) from exc
        return data


class DecompressingStream:
    """Pull-based decompression of one stream, with concatenated members as Go reads them.

    gzip, zstd, bzip2 and xz allow several members/frames one after the other; they
    decompress to the concatenation. Anything else after a member is an error, as is
    an end of input inside a member, or no member at all. One ``read`` returns at most
    :data:`CHUNK` bytes whatever the compression ratio, so a "bomb" costs time
    proportional to its output, never memory.

    Args:
        stream: the compressed bytes (untrusted).
        algorithm: as :func:`detect` found it.
        what: names the stream in errors.
    """

    def __init__(self, stream: Readable, algorithm: Algorithm, *, what: str) -> None:
        if algorithm is Algorithm.NONE:
            raise ValueError("nothing to decompress")
        self._stream = stream
        self._algorithm = algorithm
        self._what = what
        self._magic = next(m for m, a in _MAGIC if a is algorithm)
        self._dec: Any = None  # None between members
        self._members = 0
        self._pending = b""  # input not yet given to a decompressor
        self._eof = False
        #: compressed bytes consumed so far
        self.bytes_in = 0
        self._zstd: Any = None
        if algorithm is Algorithm.ZSTD:
            import zstandard

            self._frames = _ZstdFrames()
            self._zstd = zstandard.ZstdDecompressor(max_window_size=MAX_ZSTD_WINDOW).stream_reader(
                _Tracked(stream, self._frames, self),  # type: ignore[arg-type]
                read_size=CHUNK, read_across_frames=True, closefd=False)

    def corrupt(self, why: str, exc: BaseException | None = None) -> CorruptDataError:
        """The error for bad input (names the stream)."""
        err = CorruptDataError(f"{self._what}: {self._algorithm.value} data {why}", context={"what": self._what})
        err.__cause__ = exc
        return err

    def _read_zstd(self, size: int) -> bytes:
        try:
            out: bytes = self._zstd.read(size)
        except CorruptDataError:
            raise
        except Exception as exc:
            if "too much memory" in str(exc):  # a window (or single-segment size) above the cap
                raise self.corrupt(f"is corrupt: a frame declares a window needing more memory than the "
                                   f"{MAX_ZSTD_WINDOW >> 20} MiB accepted ({exc})", exc) from exc
            raise self.corrupt(f"is corrupt ({exc})", exc) from exc
        if not out:
            self._eof = True
            if self.bytes_in == 0:
                raise self.corrupt("is empty")
            if not self._frames.between_frames or self._frames.frames == 0:
                raise self.corrupt("ends early (truncated)")
        return out

    def _fill(self) -> bool:
        chunk = self._stream.read(CHUNK)
        if not chunk:
            return False
        self.bytes_in += len(chunk)
        self._pending += chunk
        return True

    def _step(self, size: int) -> bytes:
        """At most ``size`` more bytes of output (b"" only at the clean end)."""
        while True:
            if self._dec is None:
                while len(self._pending) < len(self._magic) and self._fill():
                    pass
                if self._algorithm is Algorithm.XZ and self._members and self._pending.startswith(_XZ_PADDING):
                    # xz stream padding: groups of four NUL bytes after a stream (the xz file
                    # format, section 2.2), which Go's xz reader, and so skopeo, skips.
                    self._pending = self._pending[len(_XZ_PADDING):]
                    continue
                if not self._pending:
                    if self._members == 0:
                        raise self.corrupt("is empty")
                    self._eof = True
                    return b""
                if not self._pending.startswith(self._magic):
                    what = "is not valid" if self._members == 0 else "is followed by data that is not another member"
                    raise self.corrupt(what)
                self._dec = _new_decompressor(self._algorithm)
            # More input only when the decompressor has used what it was given: bz2 and lzma
            # keep unused input inside (zlib hands it back as unconsumed_tail), so feeding
            # them on every read would pull the whole compressed stream into memory.
            if not self._pending and self._dec_needs_input() and not self._fill():
                raise self.corrupt("ends early (truncated)")
            data, self._pending = self._pending, b""
            try:
                out = self._dec.decompress(data, size)
            except Exception as exc:
                raise self.corrupt(f"is corrupt ({exc})", exc) from exc
            tail = getattr(self._dec, "unconsumed_tail", b"")
            if tail:
                self._pending = tail + self._pending
            if self._dec.eof:
                self._pending = self._dec.unused_data + self._pending
                self._dec = None
                self._members += 1
            if out:
                return bytes(out)

    def _dec_needs_input(self) -> bool:
        needs = getattr(self._dec, "needs_input", None)
        if needs is not None:
            return bool(needs)
        return not getattr(self._dec, "unconsumed_tail", b"")

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` decompressed bytes (at most :data:`CHUNK` when ``size`` is negative)."""
        if self._eof:
            return b""
        n = CHUNK if size < 0 else min(size, CHUNK)
        if n == 0:
            return b""
        if self._zstd is not None:
            return self._read_zstd(n)
        return self._step(n)

    def readinto(self, buffer: Any) -> int:
        """``readinto`` for shutil-style consumers."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the wrapped stream, if it can be closed."""
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def isal_level(level: int | None) -> int | None:
    """The ISA-L level for a gzip level (None = default), or None when zlib must be used."""
    if level is None:
        return 2
    if level <= 0:
        return None
    return 1 if level <= 3 else 2 if level <= 6 else 3


def _gzip_compressobj(level: int | None) -> Any:
    ilevel = isal_level(level)
    if ilevel is not None:
        try:
            from isal import isal_zlib

            return isal_zlib.compressobj(ilevel, isal_zlib.DEFLATED, 31)
        except ImportError:  # pragma: no cover - isal is a dependency
            pass
    return zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)


class CompressingStream:
    """Pull-based compression of a stream with gzip or zstd.

    Args:
        stream: the bytes to compress.
        algorithm: GZIP or ZSTD.
        level: gzip 0-9 (see the module docstring) or zstd 1-22; None for the default
            (ISA-L level 2 for gzip; level 3 for zstd, as containers/image).
    """

    def __init__(self, stream: Readable, algorithm: Algorithm = Algorithm.GZIP, level: int | None = None,
                 chunk_size: int = 256 << 10) -> None:
        self._stream = stream
        self._chunk = chunk_size
        self._buffer = b""
        self._eof = False
        if algorithm is Algorithm.GZIP:
            self._compressor = _gzip_compressobj(level)
        elif algorithm is Algorithm.ZSTD:
            import zstandard

            zstd = zstandard.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
            self._compressor = zstd.compressobj()
        else:
            raise ValueError(f"compressing with {algorithm.value} is not supported")

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` compressed bytes; b"" only at the end.

        Returns what one step of the compressor produced rather than filling ``size``:
        fewer copies, and memory stays at about one input chunk per stream (a copy runs
        several of these at once). A negative ``size`` reads everything.
        """
        if size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while part := self.read(self._chunk):
                parts.append(part)
            return b"".join(parts)
        while not self._buffer and not self._eof:
            data = self._stream.read(self._chunk)
            if data:
                self._buffer = self._compressor.compress(data)
            else:
                self._buffer = self._compressor.flush()
                self._eof = True
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def close(self) -> None:
        """Close the wrapped stream, if it can be closed."""
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def validate_level(algorithm: Algorithm, level: int) -> None:
    """Refuse a level the algorithm does not have.

    Raises:
        ValueError: naming the valid range.
    """
    lo, hi = (0, 9) if algorithm is Algorithm.GZIP else (1, 22)
    if not lo <= level <= hi:
        raise ValueError(f"compression level {level} is out of range for {algorithm.value} ({lo}-{hi})")
