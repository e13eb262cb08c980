"""Detecting and changing layer compression while streaming.

Layers are detected by magic bytes, never by media type alone (a media type is a claim
by the source). Compression runs as a pull-based stream wrapper so memory stays
constant: each ``read`` pulls at most one chunk from the source.
"""

from __future__ import annotations

import enum
import zlib
from typing import Protocol


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


def detect(prefix: bytes) -> Algorithm:
    """The compression of a stream starting with ``prefix`` (at least 6 bytes if available)."""
    for magic, algo in _MAGIC:
        if prefix.startswith(magic):
            return algo
    return Algorithm.NONE


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class PeekableStream:
    """Re-emits a peeked prefix before the rest of the stream."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self._head = b""
        while len(self._head) < PEEK_SIZE:
            chunk = stream.read(PEEK_SIZE - len(self._head))
            if not chunk:
                break
            self._head += chunk
        self.prefix = self._head

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


class GzipCompressingStream:
    """Pull-based gzip compression of a stream (level 6 by default, like Go's gzip)."""

    def __init__(self, stream: _Readable, level: int = 6, chunk_size: int = 1 << 20) -> None:
        self._stream = stream
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._chunk = chunk_size
        self._buffer = b""
        self._eof = False

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` compressed bytes (all when negative)."""
        while not self._eof and (size < 0 or len(self._buffer) < size):
            data = self._stream.read(self._chunk)
            if data:
                self._buffer += self._compressor.compress(data)
            else:
                self._buffer += self._compressor.flush()
                self._eof = True
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out
