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


# -- a destination that stages inside itself (a mount point: fsutil.stages_inside) ------------------


def _image_dir(path: Path, files: dict[str, str]) -> None:
    path.mkdir(exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)


def test_replace_contents_puts_the_new_image_in_place_of_the_old(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _image_dir(target, {"version": "v", "manifest.json": "old", "oldblob": "o", "shared": "old shared"})
    other = target / f"{fsutil.STAGING_PREFIX}out-other123"  # another copy's staging: not ours to touch
    other.mkdir()
    staged = target / f"{fsutil.STAGING_PREFIX}out-ours1234"
    _image_dir(staged, {"version": "v", "manifest.json": "new", "newblob": "n", "shared": "new shared"})
    fsutil.replace_contents(str(staged), str(target), last="manifest.json")
    assert {p.name: p.read_text() for p in target.iterdir() if p.is_file()} == {
        "version": "v", "manifest.json": "new", "newblob": "n", "shared": "new shared"}
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == [other.name]


def test_an_interrupted_replace_contents_leaves_no_readable_mix(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest goes first and comes back last: a failure in between leaves no manifest at all."""
    target = tmp_path / "out"
    _image_dir(target, {"version": "v", "manifest.json": "old", "oldblob": "o"})
    staged = target / f"{fsutil.STAGING_PREFIX}out-ours1234"
    _image_dir(staged, {"version": "v", "manifest.json": "new", "newblob": "n"})
    real_replace = fsutil.os.replace

    def failing(src: str, dst: str) -> None:
        if dst.endswith("manifest.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", failing)
    with pytest.raises(OSError):
        fsutil.replace_contents(str(staged), str(target), last="manifest.json")
    assert not (target / "manifest.json").exists()
    assert (target / "version").read_text() == "v"  # still an image directory: the next copy may overwrite it


def test_stages_inside_only_a_directory_on_another_filesystem(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    assert not fsutil.stages_inside(str(tmp_path / "dir"))  # same filesystem as its parent
    assert not fsutil.stages_inside(str(tmp_path / "file"))
    assert not fsutil.stages_inside(str(tmp_path / "missing"))
    assert fsutil.stages_inside("/proc")  # procfs, mounted on the root filesystem's /proc


def test_staging_inside_is_made_and_reclaimed_inside(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    abandoned = target / f"{fsutil.STAGING_PREFIX}out-abcd1234"
    abandoned.mkdir()
    staging = fsutil.make_staging_dir(str(target), inside=True)
    try:
        assert Path(staging.path).parent == target
        assert sorted(p.name for p in target.iterdir()) == [Path(staging.path).name]  # the abandoned one is gone
    finally:
        staging.release()


def test_replace_directory_when_another_copy_lands_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target was missing when checked, and another copy's image is there at the rename: last one wins."""
    staged, target = tmp_path / "staged", tmp_path / "target"
    _image_dir(staged, {"manifest.json": "ours"})
    _image_dir(target, {"manifest.json": "theirs"})
    monkeypatch.setattr(fsutil.os.path, "lexists", lambda path: False)
    fsutil.replace_directory(str(staged), str(target))
    assert (target / "manifest.json").read_text() == "ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_write_file_atomic_in_a_staging_directory_and_across_filesystems(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    staging, target = tmp_path / "staging", tmp_path / "layout"
    staging.mkdir()
    target.mkdir()
    fsutil.write_file_atomic(str(target / "index.json"), b"one", temp_dir=str(staging))
    assert (target / "index.json").read_bytes() == b"one" and not list(staging.iterdir())
    real_replace = fsutil.os.replace

    def other_filesystem(src: str, dst: str) -> None:
        if src.startswith(str(staging)):
            raise OSError(18, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", other_filesystem)
    fsutil.write_file_atomic(str(target / "index.json"), b"two", temp_dir=str(staging))
    assert (target / "index.json").read_bytes() == b"two"
    assert not list(staging.iterdir()) and sorted(p.name for p in target.iterdir()) == ["index.json"]
