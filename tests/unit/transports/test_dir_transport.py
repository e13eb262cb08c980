"""dir: transport: references, scopes, staging and commit, hostile directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, InvalidReferenceError, TransportError
from trustcopy.signature.formats import SimpleSigning, UnknownSignature
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.dir import TRANSPORT, VERSION
from trustcopy.types import BlobInfo, SystemContext

SYS = SystemContext()


def test_reference_resolves_relative_paths_and_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    ref = TRANSPORT.parse_reference("link/img")
    assert ref.string_within_transport() == "link/img"
    assert ref.policy_configuration_identity() == str(real / "img")
    assert ref.docker_reference() is None
    assert str(ref) == "dir:link/img"


def test_namespaces_are_each_parent_most_specific_first(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    ref = TRANSPORT.parse_reference(str(tmp_path / "a" / "b"))
    ns = ref.policy_configuration_namespaces()
    assert ns[0] == str(tmp_path / "a")
    assert ns[-1] != "/" and "/" not in ns
    assert all(ns[i].startswith(ns[i + 1]) for i in range(len(ns) - 1))


def test_missing_parent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidReferenceError, match="parent directory"):
        parse_image_name(f"dir:{tmp_path}/missing/img")


@pytest.mark.parametrize(
    ("scope", "ok"),
    [
        ("/srv/images", True),
        ("/srv/images/app", True),
        ("relative/path", False),
        ("/", False),
        ("/srv/../etc", False),
        ("/srv/images/", False),
        ("/srv//images", False),
        ("/srv/./images", False),
    ],
    ids=str,
)
def test_scope_validation(scope: str, ok: bool) -> None:
    if ok:
        TRANSPORT.validate_policy_configuration_scope(scope)
    else:
        with pytest.raises(ValueError, match="scope"):
            TRANSPORT.validate_policy_configuration_scope(scope)


def test_uncommitted_destination_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "img"
    dest = TRANSPORT.parse_reference(str(target)).new_image_destination(SYS)
    data = b"layer bytes"
    info = BlobInfo(digest=Digest.from_bytes(data), size=len(data))
    import io

    dest.put_blob(io.BytesIO(data), info)
    dest.put_manifest(b"{}")
    dest.close()
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_blob_with_wrong_digest_is_never_named(tmp_path: Path) -> None:
    import io

    dest = TRANSPORT.parse_reference(str(tmp_path / "img")).new_image_destination(SYS)
    claimed = Digest.from_bytes(b"what the manifest says")
    with dest, pytest.raises(DigestMismatchError, match=str(claimed)):
        dest.put_blob(io.BytesIO(b"what the source sent"), BlobInfo(digest=claimed, size=-1))
    assert os.listdir(tmp_path) == []


def test_blob_with_wrong_size_is_refused(tmp_path: Path) -> None:
    import io

    data = b"0123456789"
    dest = TRANSPORT.parse_reference(str(tmp_path / "img")).new_image_destination(SYS)
    with dest, pytest.raises(DigestMismatchError, match="size"):
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=5))


def test_non_image_directory_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "precious.txt").write_text("do not delete")
    with pytest.raises(TransportError, match="not a containers image directory"):
        TRANSPORT.parse_reference(str(target)).new_image_destination(SYS)
    assert (target / "precious.txt").read_text() == "do not delete"


def test_wrong_version_file_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "img"
    target.mkdir()
    (target / "version").write_text("Directory Transport Version: 9.9\n")
    with pytest.raises(TransportError):
        TRANSPORT.parse_reference(str(target)).new_image_destination(SYS)


def test_existing_image_directory_replaced_only_at_commit(tmp_path: Path) -> None:
    import io

    target = tmp_path / "img"
    target.mkdir()
    (target / "version").write_text(VERSION)
    (target / "manifest.json").write_text("old")
    dest = TRANSPORT.parse_reference(str(target)).new_image_destination(SYS)
    with dest:
        data = b"new layer"
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
        dest.put_manifest(b'{"new": true}')
        dest.put_signatures([SimpleSigning(b"\x88sig-a"), UnknownSignature(b"sig-b", "kept as found")])
        assert (target / "manifest.json").read_text() == "old"
        dest.commit(b'{"new": true}')
    assert (target / "manifest.json").read_bytes() == b'{"new": true}'
    assert (target / "version").read_text() == VERSION
    assert (target / "signature-1").read_bytes() == b"\x88sig-a"
    assert (target / "signature-2").read_bytes() == b"sig-b"
    assert (target / Digest.from_bytes(b"new layer").hex).read_bytes() == b"new layer"
    assert sorted(os.listdir(tmp_path)) == ["img"]


@pytest.mark.parametrize("suffix", ["/.", "/"])
def test_an_existing_directory_named_with_a_trailing_dot_or_slash(tmp_path: Path, suffix: str) -> None:
    """``dir:out/.`` is ``dir:out`` (skopeo writes into it); the whole directory is swapped in."""
    target = tmp_path / "out"
    target.mkdir()
    dest = TRANSPORT.parse_reference(str(target) + suffix).new_image_destination(SYS)
    with dest:
        dest.put_manifest(b'{"m": 1}')
        dest.commit(b'{"m": 1}')
    assert (target / "manifest.json").read_bytes() == b'{"m": 1}'
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_source_refuses_fifo_blob(tmp_path: Path) -> None:
    d = tmp_path / "img"
    d.mkdir()
    digest = Digest.from_bytes(b"x")
    os.mkfifo(d / digest.hex)
    src = TRANSPORT.parse_reference(str(d)).new_image_source(SYS)
    with pytest.raises(TransportError, match="not a regular file"):
        src.get_blob(BlobInfo(digest=digest))


def test_source_reads_signatures_until_first_gap(tmp_path: Path) -> None:
    d = tmp_path / "img"
    d.mkdir()
    (d / "signature-1").write_bytes(b"\x88one")
    (d / "signature-2").write_bytes(b"two")
    (d / "signature-4").write_bytes(b"\x88unreachable")
    src = TRANSPORT.parse_reference(str(d)).new_image_source(SYS)
    sigs = src.get_signatures()
    # Each blob parsed once by the transport; one no verifier knows is kept as bytes, with why.
    assert sigs[0] == SimpleSigning(b"\x88one")
    assert sigs[0].location == f"dir:{d}/signature-1"
    assert isinstance(sigs[1], UnknownSignature)
    assert sigs[1].untrusted_blob == b"two"
    assert "unrecognized signature format" in sigs[1].reason
    assert len(sigs) == 2


def test_missing_source_directory_is_a_clear_error(tmp_path: Path) -> None:
    from trustcopy.errors import ImageNotFoundError

    with pytest.raises(ImageNotFoundError, match="does not exist"):
        TRANSPORT.parse_reference(str(tmp_path / "nothing")).new_image_source(SYS)
