"""Adversarial inputs found by review that the hostile-archive fixtures did not cover.

Each test builds its hostile input in tmp (raw tar bytes where ``tarfile`` would refuse to
write them) and checks: a named ``error[code]``, no traceback-style exception, and nothing
at the destination.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from trustcopy.copy.pipeline import copy_image
from trustcopy.errors import TrustcopyError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.tario import ArchiveFormatError, scan

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "archives"))
from hostile import CONFIG_NAME, IMAGE, LAYER, LAYER_NAME, _manifest
from imagefactory import example_image, write_dir, write_oci

END = bytes(1024)


def _header(name: bytes, size: int = 0, *, typeflag: bytes = b"0", size_field: bytes | None = None) -> bytes:
    b = bytearray(512)
    b[0:len(name)] = name
    b[100:108] = b"0000644\x00"
    b[108:116] = b"0000000\x00"
    b[116:124] = b"0000000\x00"
    b[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    b[136:148] = b"00000000000\x00"
    b[148:156] = b" " * 8
    b[156:157] = typeflag
    b[257:265] = b"ustar\x0000"
    b[148:156] = b"%06o\x00 " % sum(b)
    return bytes(b)


def _member(name: bytes, data: bytes) -> bytes:
    return _header(name, len(data)) + data + bytes(-len(data) % 512)


def _pax(records: dict[bytes, bytes]) -> bytes:
    body = b""
    for key, value in records.items():
        rec = b" " + key + b"=" + value + b"\n"
        n = len(rec)
        while len(str(n).encode()) + len(rec) != n:
            n = len(str(n).encode()) + len(rec)
        body += str(n).encode() + rec
    return _header(b"PaxHeader", len(body), typeflag=b"x") + body + bytes(-len(body) % 512)


def _image_members() -> bytes:
    manifest = _manifest()
    return (_member(LAYER_NAME.encode(), LAYER.tar) + _member(CONFIG_NAME.encode(), IMAGE.config)
            + _member(b"manifest.json", manifest))


def _copy(src: str, dest: str) -> None:
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest), parse_image_name(src))


def _fails(src: str, dest: Path, code: str) -> TrustcopyError:
    with pytest.raises(TrustcopyError) as info:
        _copy(src, f"oci:{dest}:t")
    assert info.value.code == code, info.value.message
    assert not dest.exists()
    return info.value


# -- tar headers ------------------------------------------------------------------------


@pytest.mark.parametrize("field", [b"-0000000001\x00", b"-0000001000\x00", b"+0000000000\x00", b"0_00000000\x00\x00",
                                   b"0000 000001\x00"], ids=repr)
def test_a_size_field_that_is_not_plain_octal_is_refused(field: bytes) -> None:
    """Python's int() takes a sign, '_' and blanks; a negative size desynchronised the scan (it
    read the rest of the file as one skip, then parsed data as headers). Go refuses them all."""
    raw = _header(b"junk", size_field=field) + _image_members() + END
    with pytest.raises(ArchiveFormatError, match="invalid numeric field"):
        list(scan(io.BytesIO(raw), "a.tar"))


def test_a_negative_size_archive_fails_the_copy_at_once(tmp_path: Path) -> None:
    archive = tmp_path / "neg.tar"
    archive.write_bytes(_header(LAYER_NAME.encode(), size_field=b"-0000001000\x00")
                        + _member(CONFIG_NAME.encode(), IMAGE.config) + _member(b"manifest.json", _manifest()) + END)
    err = _fails(f"docker-archive:{archive}", tmp_path / "out", "archive-invalid")
    assert "invalid numeric field" in err.message


def test_base256_sizes_beyond_int64_are_refused() -> None:
    raw = _header(b"junk", size_field=b"\x80" + b"\xff" * 11) + END
    with pytest.raises(ArchiveFormatError, match="out of range"):
        list(scan(io.BytesIO(raw), "a.tar"))


# (b"+1" and leading zeros are decimal to Go's ParseInt: accepted, see test_large_sizes_s26_unit.py)
@pytest.mark.parametrize("size", [b"-1", b" 1", b"1_0", b"1e3", b"9" * 30, b""], ids=repr)
def test_a_pax_size_must_be_plain_decimal(size: bytes) -> None:
    raw = _pax({b"size": size}) + _member(b"junk", b"") + END
    with pytest.raises(ArchiveFormatError, match="invalid PAX size"):
        list(scan(io.BytesIO(raw), "a.tar"))


@pytest.mark.parametrize("records", [
    {b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0", b"GNU.sparse.name": b"manifest.json"},
    {b"GNU.sparse.size": b"100", b"GNU.sparse.numblocks": b"1", b"GNU.sparse.offset": b"0"},
], ids=["pax-1.0", "pax-0.x"])
def test_pax_sparse_members_are_refused_like_old_gnu_ones(tmp_path: Path, records: dict[bytes, bytes]) -> None:
    """Go expands them (and GNU.sparse.name renames the member: here to a second manifest.json);
    reading their raw data as a plain file would see another archive than skopeo does."""
    archive = tmp_path / "sparse.tar"
    archive.write_bytes(_pax(records) + _member(b"GNUSparseFile.0/manifest.json", b"1\n0\n100\n")
                        + _image_members() + END)
    err = _fails(f"docker-archive:{archive}", tmp_path / "out", "archive-invalid")
    assert "sparse" in err.message


# -- OCI index.json ---------------------------------------------------------------------


def _layout(tmp_path: Path) -> Path:
    layout = tmp_path / "layout"
    write_oci({"t": example_image()}, str(layout))
    return layout


def _set_descriptor(layout: Path, **fields: object) -> None:
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0].update(fields)
    (layout / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("digest", [12, None, ["sha256:x"], {"a": 1}], ids=repr)
def test_a_descriptor_digest_that_is_not_a_string_is_an_index_error_not_a_crash(tmp_path: Path,
                                                                                 digest: object) -> None:
    layout = _layout(tmp_path)
    _set_descriptor(layout, digest=digest)
    _fails(f"oci:{layout}:t", tmp_path / "out", "oci-index-invalid")


@pytest.mark.parametrize("size", ["141", -1, 1.5, True], ids=repr)
def test_a_descriptor_size_that_is_not_a_non_negative_integer_is_refused(tmp_path: Path, size: object) -> None:
    layout = _layout(tmp_path)
    _set_descriptor(layout, size=size)
    _fails(f"oci:{layout}:t", tmp_path / "out", "oci-index-invalid")


def test_oci_archive_with_a_non_string_digest_fails_cleanly(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    _set_descriptor(layout, digest=5)
    archive = b""
    for path in sorted(p for p in layout.rglob("*") if p.is_file()):
        archive += _member(str(path.relative_to(layout)).encode(), path.read_bytes())
    (tmp_path / "a.tar").write_bytes(archive + END)
    _fails(f"oci-archive:{tmp_path / 'a.tar'}", tmp_path / "out", "oci-index-invalid")


# -- symlinks leading out of dir: and oci: images ---------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the user's that a hostile image directory points at."""
    path = tmp_path / "home" / "secret"
    path.parent.mkdir()
    path.write_bytes(b"private key material\n")
    return path


def test_a_dir_blob_symlinked_outside_is_refused_before_a_byte_is_read_unless_its_content_matches(
        tmp_path: Path, secret: Path) -> None:
    """Before: the outside file was streamed to the destination, and a registry would have
    received its first bytes before the digest check at the end failed. Now a blob leading
    out of the image is hashed whole first: another content is refused before anything is
    handed on; the content its digest names (which whoever wrote the manifest knew) is copied,
    as layouts made of symlinks into a cache need."""
    image = tmp_path / "image"
    write_dir(example_image(), str(image))
    manifest = json.loads((image / "manifest.json").read_text())
    layer_hex = manifest["layers"][0]["digest"].split(":")[1]
    (image / layer_hex).unlink()
    (image / layer_hex).symlink_to(secret)  # the manifest claims the real layer; the link reads a secret
    err = _fails(f"dir:{image}", tmp_path / "out", "archive-unsafe-link")
    assert layer_hex in err.message and str(secret) in err.message and "content is not" in err.message

    cache = tmp_path / "cache"
    write_dir(example_image(), str(cache))
    (image / layer_hex).unlink()
    (image / layer_hex).symlink_to(cache / layer_hex)  # a genuine blob in a cache outside the image
    _copy(f"dir:{image}", f"oci:{tmp_path / 'ok'}:t")
    assert (tmp_path / "ok" / "blobs" / "sha256" / layer_hex).read_bytes() == (cache / layer_hex).read_bytes()


def test_a_dir_manifest_symlinked_outside_is_refused(tmp_path: Path, secret: Path) -> None:
    image = tmp_path / "image"
    write_dir(example_image(), str(image))
    (image / "manifest.json").unlink()
    (image / "manifest.json").symlink_to(secret)
    err = _fails(f"dir:{image}", tmp_path / "out", "archive-unsafe-link")
    assert "manifest.json" in err.message


def test_symlinks_inside_the_image_directory_are_still_followed(tmp_path: Path) -> None:
    image = tmp_path / "image"
    write_dir(example_image(), str(image))
    manifest = json.loads((image / "manifest.json").read_text())
    blob = image / manifest["layers"][0]["digest"].split(":")[1]
    os.rename(blob, image / "real-blob")
    blob.symlink_to("real-blob")
    _copy(f"dir:{image}", f"oci:{tmp_path / 'out'}:t")
    assert (tmp_path / "out" / "index.json").exists()
    # and through a symlinked path to the image itself
    (tmp_path / "alias").symlink_to(image)
    _copy(f"dir:{tmp_path / 'alias'}", f"oci:{tmp_path / 'out2'}:t")
    assert (tmp_path / "out2" / "index.json").exists()


@pytest.mark.parametrize("what", ["index", "manifest", "layer", "blobs-dir"])
def test_oci_files_symlinked_outside_the_layout_are_refused(tmp_path: Path, secret: Path, what: str) -> None:
    layout = _layout(tmp_path)
    index = json.loads((layout / "index.json").read_text())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_hex).read_text())
    if what == "index":
        target = layout / "index.json"
    elif what == "manifest":
        target = layout / "blobs" / "sha256" / manifest_hex
    elif what == "layer":
        target = layout / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    else:
        elsewhere = tmp_path / "elsewhere"
        os.rename(layout / "blobs", elsewhere)
        (layout / "blobs").symlink_to(elsewhere)
        target = None
    if target is not None:
        target.unlink()
        target.symlink_to(secret)
    if what == "blobs-dir":  # genuine blobs elsewhere (a cache): each is checked whole, then copied
        _copy(f"oci:{layout}:t", f"oci:{tmp_path / 'out'}:t")
        assert (tmp_path / "out" / "index.json").exists()
        return
    err = _fails(f"oci:{layout}:t", tmp_path / "out", "archive-unsafe-link")
    assert "leads out of" in err.message
