"""Pipes the user names (``--policy <(gen)``, a named pipe): read to the end, bounded, and never a hang.

Opened without blocking, a named pipe whose writer has not started yet used to read as empty;
now the read waits for a writer (up to ``FIFO_WRITER_WAIT_SECONDS``) and, once one has the
pipe open, for its data (up to ``FIFO_STALL_SECONDS`` of silence), as a user starting the
writer beside trustcopy expects; it fails with a clear error when nothing comes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from trustcopy import limits
from trustcopy.errors import LimitExceededError


def _writer(fifo: Path, pieces: list[tuple[float, bytes]], *, hold: float = 0.0) -> threading.Thread:
    """Write ``pieces`` (delay before each, data) to ``fifo`` in a thread, then hold it open ``hold`` s.

    The writer opens without blocking and retries, so that a reader that gave up can never
    leave the thread stuck in open().
    """

    def run() -> None:
        time.sleep(pieces[0][0] if pieces else 0)
        deadline = time.monotonic() + 5
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader (yet)
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        try:
            os.set_blocking(fd, True)
            for i, (delay, data) in enumerate(pieces):
                if i:
                    time.sleep(delay)
                os.write(fd, data)
            time.sleep(hold)
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_a_writer_that_starts_late_is_waited_for(fifo: Path) -> None:
    writer = _writer(fifo, [(0.3, b'{"default": '), (0.2, b'[{"type": "reject"}]}')])
    data = limits.read_file_at_most(str(fifo), 1024, "policy", allow_fifo=True)
    writer.join(5)
    assert data == b'{"default": [{"type": "reject"}]}'


def test_a_writer_that_opens_the_pipe_and_writes_after_the_writer_wait_is_read(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator started beside trustcopy opens the pipe at once but may write late (a
    download): the writer wait only bounds how long the pipe stays without any writer."""
    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.3)

    def slow() -> None:
        fd = -1
        deadline = time.monotonic() + 5
        while fd < 0 and time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.01)
        if fd < 0:
            return
        time.sleep(0.8)
        os.set_blocking(fd, True)
        os.write(fd, b"late but there")
        os.close(fd)

    writer = threading.Thread(target=slow, daemon=True)
    writer.start()
    assert limits.read_file_at_most(str(fifo), 1024, "policy", allow_fifo=True) == b"late but there"
    writer.join(5)


def test_a_pipe_nobody_writes_to_fails_after_the_writer_wait_naming_it(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.3)
    start = time.monotonic()
    expected = r"policy file .*pipe is a pipe that no writer opened within 0\.3 seconds"
    with pytest.raises(LimitExceededError, match=expected) as info:
        limits.read_file_at_most(str(fifo), 1024, f"policy file {fifo}", allow_fifo=True)
    assert 0.25 < time.monotonic() - start < 5
    assert info.value.code == "pipe-stalled"


def test_a_writer_that_stalls_midway_fails_too(fifo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "FIFO_STALL_SECONDS", 0.3)
    writer = _writer(fifo, [(0.0, b'{"default": ')], hold=1.0)
    with pytest.raises(LimitExceededError, match=r"whose writer sent nothing for 0\.3 seconds") as info:
        limits.read_file_at_most(str(fifo), 1024, "policy", allow_fifo=True)
    assert info.value.code == "pipe-stalled"
    writer.join(5)


def test_a_pipe_is_still_bounded(fifo: Path) -> None:
    writer = _writer(fifo, [(0.1, b"x" * 5000)])
    with pytest.raises(LimitExceededError, match="larger than the 4096 bytes"):
        limits.read_file_at_most(str(fifo), 4096, "policy", allow_fifo=True)
    writer.join(5)


def test_a_writer_that_closes_without_writing_reads_as_empty(fifo: Path) -> None:
    writer = _writer(fifo, [(0.1, b"")])
    assert limits.read_file_at_most(str(fifo), 1024, "policy", allow_fifo=True) == b""
    writer.join(5)


def test_process_substitution_whose_writer_already_finished(tmp_path: Path) -> None:
    """``<(gen)``: an anonymous pipe, named by /proc/self/fd/N, often already written and closed."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"all of it")
    os.close(write_end)
    try:
        assert limits.read_file_at_most(f"/proc/self/fd/{read_end}", 1024, "policy", allow_fifo=True) == b"all of it"
    finally:
        os.close(read_end)


def test_without_allow_fifo_a_pipe_is_refused_at_once(fifo: Path) -> None:
    start = time.monotonic()
    with pytest.raises(LimitExceededError, match="not a regular file"):
        limits.read_file_at_most(str(fifo), 1024, "drop-in")
    assert time.monotonic() - start < 2
