"""Hostile files a user's input may be, planted for tests of every reader of key, credential and config files.

Each kind is something a reader must refuse cleanly and quickly, never hang on or read
whole: a FIFO nobody writes, a 10 GB sparse file, a symbolic link loop, a directory,
binary garbage, 100,000 levels of JSON nesting, a NUL byte, an empty file, a dangling link.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The kinds every reader is tested with; "missing" plants nothing.
KINDS = ("fifo", "sparse-10g", "loop", "directory", "garbage", "deep-json", "nul", "empty", "dangling", "missing")


def make_hostile(path: Path, kind: str) -> Path:
    """Plant one hostile input of ``kind`` (one of :data:`KINDS`) at ``path``; return ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "sparse-10g":
        with open(path, "wb") as f:
            f.truncate(10 << 30)
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 16 + b"\x00\xff\xfe")
    elif kind == "deep-json":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "nul":
        path.write_bytes(b'{"auths": {}}\x00')
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif kind != "missing":
        raise ValueError(f"unknown hostile kind {kind!r}")
    return path
