"""An archive file with a member of 9 GiB, kept sparse: indexed and read by offset without
reading the hole (the index must find every member after it at its exact offset)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from trustcopy.transports.archivereader import open_archive_file
from trustcopy.transports.tario import END_OF_ARCHIVE, member_header, padding

GIB = 1 << 30


def _sparse_archive(path: Path, size: int) -> None:
    """manifest.json, a ``size``-byte layer (a hole ending in b"END"), then config.json."""
    with open(path, "wb") as f:
        f.write(member_header("manifest.json", 2) + b"[]" + bytes(padding(2)))
        f.write(member_header("a" * 64 + ".tar", size))
        f.seek(size - 3, os.SEEK_CUR)  # the hole: never written
        f.write(b"END" + bytes(padding(size)))
        f.write(member_header("config.json", 2) + b"{}" + bytes(padding(2)) + END_OF_ARCHIVE)


def test_a_sparse_9_gib_member_is_indexed_and_read_by_offset(tmp_path: Path) -> None:
    path = tmp_path / "big.tar"
    size = 9 * GIB + 5  # beyond the 8 GiB - 1 a ustar size field holds, and not block-aligned
    _sparse_archive(path, size)
    assert path.stat().st_blocks * 512 < 64 << 20  # still sparse: nothing below wrote the hole
    started = time.monotonic()
    archive = open_archive_file(str(path), "docker-archive:big.tar")
    try:
        layer = archive.lookup("a" * 64 + ".tar")
        config = archive.lookup("config.json")
        assert layer.size == size
        assert config.offset == layer.offset + size + padding(size) + 512
        with archive.open_member(config) as stream:
            assert stream.read() == b"{}"
        with archive.open_member(layer) as stream:
            assert stream.read(4) == bytes(4)  # the hole reads as zeros
    finally:
        archive.close()
    assert time.monotonic() - started < 10
    assert path.stat().st_blocks * 512 < 64 << 20
