"""Hostile compressed data: bounded memory and time whatever a stream declares, named errors, nothing committed.

What the copy pipeline decompresses (layers recompressed or decompressed for a destination,
compressed archives, compressed archive members, tarball: layers) is untrusted: a digest that
verifies says only that the bytes are the ones the manifest names, not that they decompress.
Streams are generated lazily here (never a gigabyte in memory or on disk).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import random
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
import zstandard
from imagefactory import Layer, make_image, make_tar, write_oci

from trustcopy.compression import (
    CHUNK,
    MAX_ZSTD_WINDOW,
    Algorithm,
    CorruptDataError,
    DecompressingStream,
    PeekableStream,
)
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.errors import TrustcopyError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)


def _zstd_block(last: bool, kind: int, size: int) -> bytes:
    """A zstd block header (RFC 8878 3.1.1.2): last-block bit, type (0 raw, 1 RLE), size."""
    return (int(last) | kind << 1 | size << 3).to_bytes(3, "little")


def _skippable(size: int, nibble: int = 0) -> bytes:
    """The header of a skippable frame of ``size`` bytes (its content follows)."""
    return struct.pack("<II", 0x184D2A50 | nibble, size)


def _read_all(stream: DecompressingStream, n: int = -1) -> bytes:
    return b"".join(iter(lambda: stream.read(n), b""))


class _Lazy:
    """A stream made of pieces, each either bytes or a count of zero bytes produced on demand."""

    def __init__(self, *pieces: bytes | int) -> None:
        self._pieces = list(pieces)
        self.handed_out = 0

    def read(self, size: int = -1, /) -> bytes:
        while self._pieces:
            piece = self._pieces[0]
            if isinstance(piece, int):
                n = min(piece, size if size > 0 else CHUNK)
                if piece - n:
                    self._pieces[0] = piece - n
                else:
                    self._pieces.pop(0)
                if n:
                    self.handed_out += n
                    return bytes(n)
                continue
            out = piece if size < 0 else piece[:size]
            rest = piece[len(out):]
            if rest:
                self._pieces[0] = rest
            else:
                self._pieces.pop(0)
            self.handed_out += len(out)
            return out
        return b""


# -- zstd: declared window sizes ----------------------------------------------------------------

def _frame_declaring(window_descriptor: int) -> bytes:
    """A frame whose header declares a window (descriptor: exponent << 3 | mantissa), holding 1000 times "a"."""
    return ZSTD_MAGIC + bytes([0x00, window_descriptor]) + _zstd_block(True, 1, 1000) + b"a"


@pytest.mark.parametrize(("frame", "what"), [
    (_frame_declaring(21 << 3), "2 GiB window"),
    (_frame_declaring(0xFF), "the largest window the format can declare (about 3.75 TiB)"),
    (_frame_declaring(18 << 3), "256 MiB window (klauspost's default limit is 512 MiB; ours is zstd's own)"),
    (ZSTD_MAGIC + bytes([0xE0]) + (1 << 62).to_bytes(8, "little") + _zstd_block(True, 1, 1000) + b"a",
     "single-segment frame whose content size (and so window) is 2^62"),
], ids=["2GiB", "max", "256MiB", "single-segment-2^62"])
def test_a_frame_declaring_a_huge_window_is_refused_by_name_without_allocating_it(frame: bytes, what: str) -> None:
    stream = DecompressingStream(io.BytesIO(frame), Algorithm.ZSTD, what="layer sha256:abc")
    with pytest.raises(CorruptDataError) as info:
        _read_all(stream)
    assert info.value.code == "corrupt-compressed-data", what
    assert "layer sha256:abc" in info.value.message
    assert "memory" in info.value.message, info.value.message


def test_a_frame_declaring_the_largest_window_accepted_decompresses() -> None:
    """The cap is inclusive: 2^27 (zstd's own default limit) still decodes."""
    assert MAX_ZSTD_WINDOW == 1 << 27
    stream = DecompressingStream(io.BytesIO(_frame_declaring(17 << 3)), Algorithm.ZSTD, what="t")
    assert _read_all(stream) == b"a" * 1000


# -- zstd: skippable frames and tiny blocks -------------------------------------------------------

def test_a_huge_skippable_frame_is_skipped_without_being_kept() -> None:
    """Go's zstd reader (and so skopeo) skips skippable frames; here 96 MiB of one never sit in memory.

    The frame tracker used to buffer a skippable frame's content whole, growing the buffer
    one chunk at a time (memory of the frame's size, quadratic copying).
    """
    size = 96 << 20
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(b"payload")
    source = _Lazy(frame, _skippable(size, 0xF), size, _skippable(0), frame)
    tracemalloc.start()
    try:
        out = _read_all(DecompressingStream(source, Algorithm.ZSTD, what="t"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == b"payload" * 2
    assert source.handed_out == 2 * len(frame) + size + 16
    assert peak < 8 * CHUNK, f"{peak >> 20} MiB held for a skippable frame"


@pytest.mark.parametrize("cut", [1, 3, 4, 7])
def test_a_skippable_frame_cut_short_is_truncated(cut: int) -> None:
    frame = zstandard.ZstdCompressor().compress(b"x") + _skippable(6) + b"abcdef"
    with pytest.raises(CorruptDataError, match="ends early"):
        _read_all(DecompressingStream(io.BytesIO(frame[:-cut]), Algorithm.ZSTD, what="t"))


def _empty_raw_blocks(count: int) -> bytes:
    return ZSTD_MAGIC + b"\x00\x00" + _zstd_block(False, 0, 0) * count + _zstd_block(True, 0, 0)


def _best_of_three(data: bytes) -> float:
    """The least CPU time (this thread's) of three decodings: a busy machine stretches wall time."""
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        assert _read_all(DecompressingStream(io.BytesIO(data), Algorithm.ZSTD, what="t")) == b""
        best = min(best, time.thread_time() - start)
    return best


def test_a_chunk_of_empty_blocks_costs_linear_time() -> None:
    """A frame of 3-byte empty raw blocks is valid zstd (Go decodes it to nothing).

    The tracker sliced its buffer once per block header: a 1 MiB chunk of them cost seconds
    (quadratic in the chunk), 4 times the blocks cost 16 times as much.
    """
    small, large = _empty_raw_blocks(CHUNK // 12), _empty_raw_blocks(CHUNK // 3 - 4)
    t_small, t_large = _best_of_three(small), _best_of_three(large)
    assert t_large < 8 * t_small + 0.05, (t_small, t_large)


# -- bzip2 / xz: input pulled only as the decompressor needs it --------------------------------

class _Pieces:
    """Hands out a byte string at most ``step`` bytes per read (as a socket or a pipe does)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._pos = data, step, 0

    def read(self, size: int = -1, /) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


@pytest.fixture(scope="module")
def incompressible() -> bytes:
    return random.Random(7).randbytes(3 << 20)


@pytest.mark.parametrize("algo", [Algorithm.BZIP2, Algorithm.XZ], ids=lambda a: a.value)
def test_input_is_pulled_as_the_decompressor_needs_it(algo: Algorithm, incompressible: bytes) -> None:
    """bz2 and lzma keep input they were given inside them (zlib hands it back).

    The stream fed them another chunk on every read, so reading a layer or a compressed
    archive in small reads (tar headers, 512 bytes) pulled the whole compressed stream into
    memory; the input pulled must stay near what the output needs.
    """
    blob = bz2.compress(incompressible, 1) if algo is Algorithm.BZIP2 else lzma.compress(incompressible, preset=0)
    stream = DecompressingStream(_Pieces(blob, 64 << 10), algo, what="t")
    out = 0
    while out < (256 << 10):
        out += len(stream.read(4096))
    assert stream.bytes_in < (1 << 20), f"{stream.bytes_in >> 10} KiB pulled for {out >> 10} KiB of output"
    assert hashlib.sha256(incompressible[:out] + _read_all(stream)).digest() == hashlib.sha256(incompressible).digest()


# -- bombs ---------------------------------------------------------------------------------------

def _gzip_bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed a piece at a time."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = bytes(CHUNK)
    parts = [comp.compress(piece) for _ in range(size // CHUNK)]
    return b"".join(parts) + comp.flush()


@pytest.mark.parametrize("algo", [Algorithm.GZIP, Algorithm.BZIP2, Algorithm.XZ, Algorithm.ZSTD],
                         ids=lambda a: a.value)
def test_a_bomb_streams_in_bounded_memory(algo: Algorithm) -> None:
    """256 MiB of output from a few hundred KiB (bzip2: a few dozen bytes) never accumulates."""
    size = 256 << 20
    if algo is Algorithm.GZIP:
        blob = _gzip_bomb(size)
    elif algo is Algorithm.BZIP2:
        blob = bz2.compress(bytes(size // 16)) * 16  # bzip2 caps each stream's ratio; 16 members
    elif algo is Algorithm.XZ:
        blob = lzma.compress(bytes(size // 16)) * 16
    else:  # RLE blocks of 128 KiB: 4 bytes each
        blob = ZSTD_MAGIC + b"\x00\x58" + (_zstd_block(False, 1, 1 << 17) + b"\x00") * (size >> 17)
        blob += _zstd_block(True, 0, 0)
    assert len(blob) < size // 256
    tracemalloc.start()
    try:
        stream = DecompressingStream(io.BytesIO(blob), algo, what="t")
        total = 0
        while chunk := stream.read(CHUNK):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 16 * CHUNK + len(blob), f"{peak >> 20} MiB held"  # (xz: its 8 MiB dictionary)


# -- detection at the edges, and damage inside a digest that verifies (through the copy) --------

def _allow() -> PolicyContext:
    return PolicyContext(insecure_accept_anything_policy())


class _RawLayer(Layer):
    """A layer whose stored bytes are given as they are (perhaps damaged, perhaps not compressed at all)."""

    def __init__(self, stored: bytes, tar: bytes = b"") -> None:
        super().__init__(tar or stored)
        self._stored = stored

    @property
    def blob(self) -> bytes:  # type: ignore[override]
        return self._stored


def _layout(root: Path, stored: bytes) -> Path:
    write_oci({"x": make_image([_RawLayer(stored)])}, str(root / "src"))
    return root / "src"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


TAR = make_tar([("f.txt", b"hello " * 2000)])
_ZSTD = zstandard.ZstdCompressor(write_checksum=True).compress(TAR)
DAMAGED = {
    "gzip-crc": _flip(gzip.compress(TAR, mtime=0), -8),
    "gzip-length": _flip(gzip.compress(TAR, mtime=0), -1),
    "gzip-trailing-garbage": gzip.compress(TAR, mtime=0) + b"garbage",
    "gzip-member-then-nul-bytes": gzip.compress(TAR, mtime=0) + bytes(8),
    "gzip-truncated": gzip.compress(TAR, mtime=0)[:-4],
    "zstd-checksum": _flip(_ZSTD, -1),
    "zstd-trailing-garbage": _ZSTD + b"garbage",
    "zstd-cut-inside-a-skippable-frame": _ZSTD + _skippable(100) + b"s" * 10,
    "bzip2-trailing-garbage": bz2.compress(TAR) + b"garbage",
    "xz-truncated": lzma.compress(TAR)[:-12],
    "exactly-the-gzip-magic": b"\x1f\x8b\x08",
    "exactly-the-zstd-magic": ZSTD_MAGIC,
}
DESTINATIONS = {
    # recompressed into the other algorithm (a layer already in the wanted one is kept as it is)
    "oci-recompressed": ("oci:{out}:x", {"compression_format": "zstd"}),
    "docker-archive-decompressed": ("docker-archive:{out}", {}),
}


@pytest.mark.parametrize("dest_kind", sorted(DESTINATIONS))
@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_a_layer_that_verifies_but_does_not_decompress_fails_the_copy_and_leaves_nothing(
        tmp_path: Path, damage: str, dest_kind: str) -> None:
    stored = DAMAGED[damage]
    src = _layout(tmp_path, stored)
    digest = "sha256:" + hashlib.sha256(stored).hexdigest()
    template, ctx = DESTINATIONS[dest_kind]
    if ctx and stored.startswith(ZSTD_MAGIC):
        ctx = {"compression_format": "gzip"}
    out = tmp_path / "out" / "image"
    (tmp_path / "out").mkdir()
    with pytest.raises(TrustcopyError) as info:
        copy_image(_allow(), parse_image_name(template.format(out=out)), parse_image_name(f"oci:{src}:x"),
                   CopyOptions(dest_ctx=SystemContext(**ctx)))  # type: ignore[arg-type]
    assert info.value.code == "corrupt-compressed-data", info.value.message
    assert digest in info.value.message
    assert list((tmp_path / "out").iterdir()) == []  # nothing committed, no staging left


@pytest.mark.parametrize("stored", [b"", b"\x1f", b"\x1f\x8b", b"\x28\xb5\x2f", b"BZ", b"\xfd7zXZ"],
                         ids=["empty", "gzip-1", "gzip-2", "zstd-3", "bzip2-2", "xz-5"])
def test_a_layer_shorter_than_a_magic_is_uncompressed_data(tmp_path: Path, stored: bytes) -> None:
    """As containers/image's DetectCompression: a prefix of a magic is no compression, so it is compressed as is."""
    src = _layout(tmp_path, stored)
    copy_image(_allow(), parse_image_name(f"oci:{tmp_path / 'out'}:x"), parse_image_name(f"oci:{src}:x"),
               CopyOptions(dest_ctx=SystemContext(compression_format="zstd")))
    index = json.loads((tmp_path / "out" / "index.json").read_bytes())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((tmp_path / "out" / "blobs" / "sha256" / manifest_digest).read_bytes())
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    data = (tmp_path / "out" / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
    peeked = PeekableStream(io.BytesIO(data))
    assert peeked.algorithm is Algorithm.ZSTD
    assert _read_all(DecompressingStream(peeked, Algorithm.ZSTD, what="t")) == stored
