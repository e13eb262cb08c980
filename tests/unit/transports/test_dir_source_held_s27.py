"""A ``dir:`` source holds its directory open while it reads it.

A copy into a ``dir:`` swaps a complete new directory in and removes the old one. A reader
that meets a missing blob tells "replaced while read" from "blob missing" by comparing the
directory the path names now with the one it opened. Compared by inode number alone, a file
system that reuses the freed inode for the next swapped-in directory made the two look the
same (the concurrent readers/writers test failed so, under load): held open, the old
directory's inode cannot be reused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from imagefactory import example_image, write_dir

from trustcopy.errors import ImageNotFoundError
from trustcopy.manifest.parse import parse_image_manifest
from trustcopy.transports.alltransports import parse_image_name


def _held_dirs() -> set[str]:
    return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.isdir(f"/proc/self/fd/{fd}")}


def test_the_directory_is_held_until_the_source_closes(tmp_path: Path) -> None:
    image = example_image()
    write_dir(image, str(tmp_path / "img"))
    with parse_image_name(f"dir:{tmp_path / 'img'}").new_image_source(None):
        assert str(tmp_path / "img") in _held_dirs()
    assert str(tmp_path / "img") not in _held_dirs()


def test_a_directory_replaced_while_read_is_named_so(tmp_path: Path) -> None:
    image = example_image()
    write_dir(image, str(tmp_path / "img"))
    write_dir(image, str(tmp_path / "new"))
    with parse_image_name(f"dir:{tmp_path / 'img'}").new_image_source(None) as src:
        raw, _ = src.get_manifest()
        shutil.rmtree(tmp_path / "img")
        os.rename(tmp_path / "new", tmp_path / "img")
        for name in os.listdir(tmp_path / "img"):
            if name not in ("manifest.json", "version"):
                os.unlink(tmp_path / "img" / name)  # the new image's blobs differ: none is there
        layer = parse_image_manifest(raw).layer_infos()[0]
        with pytest.raises(ImageNotFoundError, match="replaced by another image while it was read"):
            src.get_blob(layer)


def test_an_invalid_version_file_leaves_nothing_open(tmp_path: Path) -> None:
    image = example_image()
    write_dir(image, str(tmp_path / "img"))
    (tmp_path / "img" / "version").write_text("Directory Transport Version: 9.9\n")
    before = _held_dirs()
    with pytest.raises(Exception, match="version"):
        parse_image_name(f"dir:{tmp_path / 'img'}").new_image_source(None)
    assert _held_dirs() == before
