"""A member reached through a directory link is not found, and the message says why (session 29).

Lookups follow a link only as the last part of a member's name (archivereader.lookup); an
oci-archive whose ``blobs`` is a link to ``real/blobs`` was refused with a bare "the archive
has no member 'blobs/sha256/…'", which reads like a truncated archive.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import BinaryIO

import pytest

from trustcopy.errors import ImageNotFoundError
from trustcopy.transports.archivereader import SeekableArchive


def _archive(tmp_path: Path, with_link: bool) -> BinaryIO:
    path = tmp_path / "x.tar"
    with tarfile.open(path, mode="w") as tar:
        data = b"blob"
        info = tarfile.TarInfo("real/blobs/sha256/abc")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        if with_link:
            link = tarfile.TarInfo("blobs")
            link.type, link.linkname = tarfile.SYMTYPE, "real/blobs"
            tar.addfile(link)
    return path.open("rb")


def test_a_directory_link_on_the_way_is_named(tmp_path: Path) -> None:
    archive = SeekableArchive(_archive(tmp_path, with_link=True), "oci-archive:x.tar")
    with pytest.raises(ImageNotFoundError, match=r"no member 'blobs/sha256/abc' \('blobs' is a link to 'real/blobs': "
                                                 r"links are followed only as the last part"):
        archive.lookup("blobs/sha256/abc")
    assert archive.lookup("real/blobs/sha256/abc").name == "real/blobs/sha256/abc"


def test_a_plainly_missing_member_says_only_that(tmp_path: Path) -> None:
    archive = SeekableArchive(_archive(tmp_path, with_link=False), "oci-archive:x.tar")
    with pytest.raises(ImageNotFoundError) as info:
        archive.lookup("blobs/sha256/abc")
    assert info.value.message == "oci-archive:x.tar: the archive has no member 'blobs/sha256/abc'"
