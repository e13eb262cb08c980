"""Adversarial review of session 26's _DiffIDTap (the diff ID computed while a schema1 layer streams)."""

from __future__ import annotations

import gzip
import hashlib
import io
import threading

import pytest

from trustcopy.compression import CorruptDataError
from trustcopy.copy.blobs import _DiffIDTap, _ReadAhead


def _diff_id(tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(tar).hexdigest()


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in ("blob-diff-id", "blob-read-ahead")}


def test_a_read_of_zero_bytes_is_not_the_end_of_the_layer() -> None:
    # io's contract: read(0) returns b"" without being the end of the stream. Old: the tap took
    # that b"" for the end, its thread hashed nothing more, and the layer got a wrong diff ID.
    tar = b"layer bytes " * 5000
    tap = _DiffIDTap(io.BytesIO(gzip.compress(tar, mtime=0)), "test layer")
    try:
        assert tap.read(0) == b""
        assert str(tap.result()) == _diff_id(tar)
    finally:
        tap.close()


@pytest.mark.parametrize("read_ahead", [False, True])
def test_a_reader_stopping_early_still_gets_the_whole_layers_diff_id(read_ahead: bool) -> None:
    tar = bytes(range(256)) * 20_000  # several chunks of the tap's queue
    before = _threads()
    tap = _DiffIDTap(io.BytesIO(gzip.compress(tar, mtime=0)), "test layer")
    ahead = _ReadAhead(tap) if read_ahead else None  # type: ignore[arg-type]
    reader = ahead if ahead is not None else tap
    assert reader.read(1000)  # the destination stops here (it had the blob, or failed)
    try:
        if ahead is not None:
            while ahead.read(1 << 20):
                pass
        assert str(tap.result()) == _diff_id(tar)
    finally:
        if ahead is not None:
            ahead.stop()
            ahead.join()
        tap.close()
    assert _threads() <= before


def test_an_abandoned_tap_ends_its_thread_with_a_full_queue() -> None:
    before = _threads()
    tap = _DiffIDTap(io.BytesIO(gzip.compress(b"x" * 10_000_000, mtime=0)), "test layer", depth=1)
    for _ in range(3):
        tap.read(4096)
    tap.close()
    assert _threads() <= before


def test_corrupt_compressed_data_fails_the_reader_and_the_result() -> None:
    data = gzip.compress(b"y" * 200_000, mtime=0)
    data = data[:40] + bytes(b ^ 0xFF for b in data[40:80]) + data[80:]
    tap = _DiffIDTap(io.BytesIO(data), "test layer")
    try:
        with pytest.raises(CorruptDataError):
            while tap.read(1024):
                pass
            tap.result()
    finally:
        tap.close()
