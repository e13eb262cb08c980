"""trustcopy.compression: detection by magic, strict and bounded decompression, compression."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest
import zstandard

from trustcopy.compression import (
    CHUNK,
    Algorithm,
    CompressingStream,
    CorruptDataError,
    DecompressingStream,
    algorithm_by_name,
    detect,
    validate_level,
)

DATA = bytes(range(256)) * 4000 + b"tail"
COMPRESS = {
    Algorithm.GZIP: gzip.compress,
    Algorithm.ZSTD: zstandard.ZstdCompressor(write_checksum=True).compress,
    Algorithm.BZIP2: bz2.compress,
    Algorithm.XZ: lzma.compress,
}


def _all(stream: DecompressingStream, n: int = -1) -> bytes:
    out = []
    while chunk := stream.read(n):
        out.append(chunk)
    return b"".join(out)


@pytest.mark.parametrize("algo", list(COMPRESS), ids=lambda a: a.value)
def test_round_trip_and_concatenated_members(algo: Algorithm) -> None:
    blob = COMPRESS[algo](DATA)
    assert detect(blob[:6]) is algo
    assert _all(DecompressingStream(io.BytesIO(blob), algo, what="t")) == DATA
    assert _all(DecompressingStream(io.BytesIO(blob + blob), algo, what="t"), 777) == DATA + DATA


@pytest.mark.parametrize("algo", list(COMPRESS), ids=lambda a: a.value)
@pytest.mark.parametrize("damage", ["truncated", "trailing-garbage", "empty", "cut-in-half"])
def test_damaged_input_is_an_error_never_short_data(algo: Algorithm, damage: str) -> None:
    blob = COMPRESS[algo](DATA)
    bad = {"truncated": blob[:-3], "trailing-garbage": blob + b"junk!!", "empty": b"",
           "cut-in-half": blob[: len(blob) // 2]}[damage]
    with pytest.raises(CorruptDataError) as info:
        _all(DecompressingStream(io.BytesIO(bad), algo, what="layer X"))
    assert "layer X" in info.value.message
    assert info.value.code == "corrupt-compressed-data"


@pytest.mark.parametrize("algo", [Algorithm.GZIP, Algorithm.ZSTD], ids=lambda a: a.value)
def test_a_bomb_is_read_in_bounded_pieces(algo: Algorithm) -> None:
    bomb = COMPRESS[algo](bytes(64 << 20))
    stream = DecompressingStream(io.BytesIO(bomb), algo, what="t")
    total = 0
    while chunk := stream.read(-1):
        assert len(chunk) <= CHUNK
        total += len(chunk)
    assert total == 64 << 20


@pytest.mark.parametrize("algo", [Algorithm.GZIP, Algorithm.ZSTD], ids=lambda a: a.value)
@pytest.mark.parametrize("level", [None, 1, 9])
def test_compressing_stream_output_is_valid(algo: Algorithm, level: int | None) -> None:
    out = CompressingStream(io.BytesIO(DATA), algo, level).read()
    assert detect(out[:6]) is algo
    zstd = zstandard.ZstdDecompressor().decompressobj()
    plain = gzip.decompress(out) if algo is Algorithm.GZIP else zstd.decompress(out)
    assert plain == DATA


def test_names_and_levels_are_validated() -> None:
    assert algorithm_by_name("zstd") is Algorithm.ZSTD
    with pytest.raises(ValueError, match="gzip, zstd"):
        algorithm_by_name("bzip2")
    validate_level(Algorithm.GZIP, 9)
    with pytest.raises(ValueError, match="0-9"):
        validate_level(Algorithm.GZIP, 10)
    with pytest.raises(ValueError, match="1-22"):
        validate_level(Algorithm.ZSTD, 0)
