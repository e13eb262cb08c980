"""Our tar reader/writer: member names that cannot escape, bounded headers, exact sizes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from trustcopy.transports.archivereader import open_archive_file
from trustcopy.transports.archivewriter import ArchiveOutput, TarWriter, compression_for_path
from trustcopy.transports.tario import (
    MAX_META_HEADER,
    ArchiveFormatError,
    MemberType,
    clean_name,
    member_header,
    scan,
)


@pytest.mark.parametrize(("raw", "clean"), [
    ("manifest.json", "manifest.json"), ("./manifest.json", "manifest.json"), ("a//b/", "a/b"),
    ("./a/./b", "a/b"), ("./", "."), ("blobs/sha256/ab", "blobs/sha256/ab"),
], ids=str)
def test_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_name(raw, what="t") == clean


@pytest.mark.parametrize("raw", ["../x", "a/../../x", "a/..", "/etc/passwd", "//x", "a\x00b", "", "./.."], ids=repr)
def test_unsafe_names_are_refused(raw: str) -> None:
    with pytest.raises(ArchiveFormatError) as info:
        clean_name(raw, what="t")
    assert info.value.code == "archive-unsafe-name"


def _scan(data: bytes) -> list[tuple[str, MemberType, int]]:
    return [(m.name, m.type, m.size) for m in scan(io.BytesIO(data), "t")]


def test_writer_output_reads_back_with_python_tarfile_and_ours() -> None:
    out = io.BytesIO()
    w = TarWriter(out, seekable_file=None, spool_dir="/tmp", what="t")
    long_name = "d/" + "x" * 150
    w.add_dir("blobs")
    w.add_bytes("a.txt", b"hello")
    w.add_bytes(long_name, b"long")
    w.add_symlink("l/layer.tar", "../a.txt")
    w.add_stream("s.bin", io.BytesIO(b"z" * 1000), 1000)
    w.finish()
    data = out.getvalue()
    assert _scan(data) == [("blobs", MemberType.DIR, 0), ("a.txt", MemberType.FILE, 5),
                           (long_name, MemberType.FILE, 4), ("l/layer.tar", MemberType.SYMLINK, 0),
                           ("s.bin", MemberType.FILE, 1000)]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["blobs", "a.txt", long_name, "l/layer.tar", "s.bin"]
        assert tar.extractfile("a.txt").read() == b"hello"  # type: ignore[union-attr]


def test_a_stream_shorter_or_longer_than_its_size_is_refused_and_rolled_back(tmp_path: Path) -> None:
    f = (tmp_path / "x.tar").open("w+b")
    w = TarWriter(f, seekable_file=f, spool_dir=str(tmp_path), what="t")
    w.add_bytes("a", b"1")
    mark = w.offset
    for stream in (io.BytesIO(b"short"), io.BytesIO(b"x" * 20)):
        with pytest.raises(Exception, match=r"more data|data ended"):
            w.add_stream("b", stream, 10)
        assert w.offset == mark
    w.finish()
    f.seek(0)
    assert _scan(f.read()) == [("a", MemberType.FILE, 1)]


def test_unknown_size_member_gets_its_header_fixed_in_place(tmp_path: Path) -> None:
    f = (tmp_path / "x.tar").open("w+b")
    w = TarWriter(f, seekable_file=f, spool_dir=str(tmp_path), what="t")
    size = w.add_stream_unknown_size(io.BytesIO(b"q" * 70000), lambda: "named-after.tar")
    w.finish()
    f.seek(0)
    assert size == 70000
    assert _scan(f.read()) == [("named-after.tar", MemberType.FILE, 70000)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar"]  # no spool file


def test_unknown_size_member_on_a_stream_is_spooled_beside_the_target(tmp_path: Path) -> None:
    out = io.BytesIO()
    w = TarWriter(out, seekable_file=None, spool_dir=str(tmp_path), what="t")
    w.add_stream_unknown_size(io.BytesIO(b"q" * 100), lambda: "n.tar")
    w.finish()
    assert _scan(out.getvalue()) == [("n.tar", MemberType.FILE, 100)]
    assert list(tmp_path.iterdir()) == []  # the spool is gone


def test_base256_sizes_are_read() -> None:
    header = bytearray(member_header("big", 0))
    size = 9 << 30  # beyond octal's 8 GiB
    field = bytearray(12)
    field[0] = 0x80
    field[4:] = size.to_bytes(8, "big")
    header[124:136] = field
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    members = scan(io.BytesIO(bytes(header)), "t")
    assert next(members).size == size


def test_bad_checksum_is_refused() -> None:
    header = bytearray(member_header("a", 0))
    header[0:1] = b"b"
    with pytest.raises(ArchiveFormatError, match="not a tar"):
        _scan(bytes(header))


def test_an_oversized_pax_header_is_refused_without_reading_it() -> None:
    header = bytearray(member_header("pax", MAX_META_HEADER + 1))
    header[156:157] = b"x"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    with pytest.raises(ArchiveFormatError) as info:
        _scan(bytes(header))
    assert info.value.code == "archive-header-too-large"


def test_gnu_sparse_members_are_refused() -> None:
    header = bytearray(member_header("sparse", 0))
    header[156:157] = b"S"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    with pytest.raises(ArchiveFormatError, match="sparse"):
        _scan(bytes(header))


def test_compressed_archive_is_read_by_passes_not_unpacked(tmp_path: Path) -> None:
    import gzip

    out = io.BytesIO()
    w = TarWriter(out, seekable_file=None, spool_dir=str(tmp_path), what="t")
    w.add_bytes("big", b"b" * (6 << 20))  # larger than what a pass keeps in memory
    w.add_bytes("small", b"s")
    w.finish()
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(out.getvalue()))
    archive = open_archive_file(str(path), "t")
    assert not archive.thread_safe
    assert archive.read_member("small", 10) == b"s"
    stream = archive.open_member(archive.lookup("big"))
    assert stream.read(4) == b"bbbb"
    assert archive.passes == 2  # the index pass, and one to stream the big member
    archive.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]


@pytest.mark.parametrize(("name", "algo"), [("x.tar", "none"), ("x.tar.gz", "gzip"), ("x.tgz", "gzip"),
                                            ("x.tar.zst", "zstd"), ("x.TAR.GZ", "gzip")])
def test_output_compression_follows_the_file_name(name: str, algo: str) -> None:
    assert compression_for_path(name).value == algo


def test_existing_non_empty_file_is_refused_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "x.tar"
    target.write_bytes(b"data")
    with pytest.raises(Exception, match="already exists") as info:
        ArchiveOutput(str(target), "t", refuse_non_empty=True)
    assert info.value.code == "archive-exists"  # type: ignore[attr-defined]
    assert target.read_bytes() == b"data"
    out = ArchiveOutput(str(target), "t", refuse_non_empty=False)
    out.close()
    assert target.read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar"]
