"""The sigstore private key file: a pipe is read once and kept, a regular file is read each time."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from trustcopy.copy.sign import private_key_file


def test_a_regular_key_file_rotated_in_place_is_read_again(tmp_path: Path) -> None:
    key = tmp_path / "key.private"
    key.write_bytes(b"first")
    assert private_key_file(str(key)) == b"first"
    key.write_bytes(b"second")
    assert private_key_file(str(key)) == b"second"


def test_a_piped_key_is_read_once_for_every_signature_even_from_threads(tmp_path: Path) -> None:
    fifo = tmp_path / "key.pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(b"piped key")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    got: list[bytes] = []
    readers = [threading.Thread(target=lambda: got.append(private_key_file(str(fifo)))) for _ in range(4)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(10)
    writer.join(5)
    assert got == [b"piped key"] * 4
