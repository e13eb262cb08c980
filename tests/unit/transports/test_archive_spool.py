"""A piped archive's spool: what the user sees when it cannot be kept, and what a device gets."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from trustcopy.errors import TransportError
from trustcopy.transports.archivereader import open_archive_file
from trustcopy.transports.tario import END_OF_ARCHIVE, member_header, padding


def _archive() -> bytes:
    data = b"[]"
    return member_header("manifest.json", len(data)) + data + bytes(padding(len(data))) + END_OF_ARCHIVE


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    def run() -> None:
        try:
            with open(fifo, "wb") as f:
                f.write(data)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class _FullDisk:
    """A temporary file on a disk with no room left."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_full_disk_names_the_directory_and_the_way_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    real = tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda **kw: _FullDisk(real(**kw)))
    writer = _feed(fifo, _archive())
    with pytest.raises(TransportError) as info:
        open_archive_file(str(fifo), "docker-archive:fifo", tmp_dir=str(tmp_path))
    writer.join(5)
    assert info.value.code == "spool-failed"
    assert info.value.message == (f"docker-archive:fifo: cannot keep a copy of the piped archive in {tmp_path}: "
                                  "No space left on device")
    assert info.value.hint is not None and "--tmpdir" in info.value.hint


def test_a_missing_temporary_directory_is_named(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(TransportError, match=r"cannot keep a copy of the piped archive in .*/gone: No such file"):
        open_archive_file(str(fifo), "docker-archive:fifo", tmp_dir=str(tmp_path / "gone"))


def test_a_piped_archive_reads_like_the_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = _feed(fifo, _archive())
    archive = open_archive_file(str(fifo), "docker-archive:fifo", tmp_dir=str(tmp_path))
    writer.join(5)
    try:
        assert archive.read_member("manifest.json", 100) == b"[]"
    finally:
        archive.close()
    assert sorted(os.listdir(tmp_path)) == ["fifo"]


def test_a_device_is_still_refused() -> None:
    with pytest.raises(TransportError, match="/dev/zero is not a regular file"):
        open_archive_file("/dev/zero", "docker-archive:/dev/zero")
