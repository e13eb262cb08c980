"""Replacing a directory in one step (dir: commits): the target is never missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy import fsutil


def _tree(path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in path.iterdir()}


def test_exchange_swaps_two_directories(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("A")
    (b / "y").write_text("B")
    assert fsutil._renameat2_exchange(str(a), str(b))  # Linux: the kernel supports it
    assert _tree(a) == {"y": "B"} and _tree(b) == {"x": "A"}


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replace_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(fsutil, "_renameat2_exchange", lambda a, b: False)
    staged, target = tmp_path / "staged", tmp_path / "target"
    staged.mkdir()
    target.mkdir()
    (staged / "new").write_text("new")
    (target / "old").write_text("old")
    fsutil.replace_directory(str(staged), str(target))
    assert _tree(target) == {"new": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_replace_directory_into_nothing(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "f").write_text("1")
    fsutil.replace_directory(str(staged), str(tmp_path / "t"))
    assert _tree(tmp_path / "t") == {"f": "1"} and not staged.exists()
