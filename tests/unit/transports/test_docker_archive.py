"""docker-archive: references and scopes, reading in place and compressed, writing (plain, compressed,
small-disk, several images), and what is left on disk when a copy fails."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, InvalidReferenceError, TransportError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.docker_archive import TRANSPORT, DockerArchiveWriter
from trustcopy.types import SystemContext


def _allow() -> PolicyContext:
    """The real engine with an accept-anything policy (these tests are about copying, not policy)."""
    return PolicyContext(insecure_accept_anything_policy())


def _copy(src: str, dest: str, **ctx: object) -> object:
    return copy_image(_allow(), parse_image_name(dest), parse_image_name(src),
                      CopyOptions(dest_ctx=SystemContext(**ctx)))  # type: ignore[arg-type]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An OCI layout with gzip layers (one of 300 KiB, so decompression streams for real)."""
    image = make_image([Layer(make_tar([("a.txt", b"a")])), random_layer(300_000, 1),
                        Layer(make_tar([("text.txt", b"compressible line\n" * 40_000)]))])
    write_oci({"img": image}, str(tmp_path / "layout"))
    return tmp_path / "layout"


@pytest.mark.parametrize(("text", "tag", "index"), [
    ("/x/a.tar", None, -1),
    ("/x/a.tar:busybox", "docker.io/library/busybox:latest", -1),
    ("/x/a.tar:example.com/app:1.0", "example.com/app:1.0", -1),
    ("/x/a.tar:@0", None, 0),
    ("/x/a.tar:@3", None, 3),
], ids=str)
def test_reference_grammar(text: str, tag: str | None, index: int) -> None:
    ref = TRANSPORT.parse_reference(text)
    assert (str(ref.tag) if ref.tag else None, ref.source_index) == (tag, index)
    assert TRANSPORT.parse_reference(ref.string_within_transport()) == ref


@pytest.mark.parametrize("bad", ["", "/x/a.tar:@-1", "/x/a.tar:@x", "/x/a.tar:UPPER/x:1",
                                 "/x/a.tar:busybox@sha256:" + "a" * 64], ids=repr)
def test_invalid_references(bad: str) -> None:
    with pytest.raises(InvalidReferenceError):
        TRANSPORT.parse_reference(bad)


def test_only_the_default_scope() -> None:
    ref = TRANSPORT.parse_reference("/x/a.tar:example.com/app:1")
    assert ref.policy_configuration_identity() == ""
    assert ref.policy_configuration_namespaces() == []
    with pytest.raises(ValueError, match="default"):
        TRANSPORT.validate_policy_configuration_scope("/x/a.tar")


def _read(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_write_then_read_keeps_config_and_diff_ids(tmp_path: Path, layout: Path) -> None:
    out = tmp_path / "a.tar"
    _copy(f"oci:{layout}:img", f"docker-archive:{out}:example.com/app:1")
    members = _members(out)
    names = list(members)
    assert names[-2:] == ["manifest.json", "repositories"]
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]
        for path, diff_id in zip(manifest[0]["Layers"], config["rootfs"]["diff_ids"], strict=True):
            assert path == diff_id.split(":")[1] + ".tar"  # uncompressed, named by diff ID
    assert manifest[0]["RepoTags"] == ["example.com/app:1"]
    src = parse_image_name(f"docker-archive:{out}").new_image_source(SystemContext())
    with src:
        raw, _ = src.get_manifest()
    assert [layer["digest"] for layer in json.loads(raw)["layers"]] == config["rootfs"]["diff_ids"]
    assert sorted(os.listdir(tmp_path)) == ["a.tar", "layout"]  # no staging, no spool


def test_small_disk_mode_keeps_layers_compressed(tmp_path: Path, layout: Path) -> None:
    plain, small = tmp_path / "plain.tar", tmp_path / "small.tar"
    _copy(f"oci:{layout}:img", f"docker-archive:{plain}")
    _copy(f"oci:{layout}:img", f"docker-archive:{small}", dest_compress=True)
    assert small.stat().st_size < plain.stat().st_size / 2
    with tarfile.open(small) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        for path in manifest[0]["Layers"]:
            assert tar.extractfile(path).read(2) == b"\x1f\x8b"  # type: ignore[union-attr]
    # read back: the same image (the archive source decompresses and checks diff IDs)
    copies = []
    for archive in (plain, small):
        dest = tmp_path / f"dir-{archive.stem}"
        _copy(f"docker-archive:{archive}", f"dir:{dest}")
        copies.append(json.loads((dest / "manifest.json").read_bytes()))
    assert copies[0] == copies[1]


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar.zst"])
def test_compressed_archive_is_one_stream_and_reads_back(tmp_path: Path, layout: Path, suffix: str) -> None:
    out = tmp_path / f"a{suffix}"
    _copy(f"oci:{layout}:img", f"docker-archive:{out}:example.com/app:1")
    raw = out.read_bytes()
    assert raw[:2] == b"\x1f\x8b" if "gz" in suffix else raw[:4] == b"\x28\xb5\x2f\xfd"
    if "gz" in suffix:
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=out.open("rb"))) as tar:  # gzip -t and tar agree
            assert tar.getnames()[-1] == "repositories"
    _copy(f"docker-archive:{out}:example.com/app:1", f"dir:{tmp_path / 'back'}")
    assert sorted(os.listdir(tmp_path)) == ["a" + suffix, "back", "layout"]


def test_existing_non_empty_archive_is_refused(tmp_path: Path, layout: Path) -> None:
    out = tmp_path / "a.tar"
    out.write_bytes(b"precious")
    with pytest.raises(TransportError) as info:
        _copy(f"oci:{layout}:img", f"docker-archive:{out}")
    assert info.value.code == "archive-exists"
    assert out.read_bytes() == b"precious"


def test_an_empty_file_is_replaced(tmp_path: Path, layout: Path) -> None:
    out = tmp_path / "a.tar"
    out.touch()
    _copy(f"oci:{layout}:img", f"docker-archive:{out}")
    assert out.stat().st_size > 0


def test_additional_tags_and_selection_by_tag_or_index(tmp_path: Path, layout: Path) -> None:
    from trustcopy.reference import parse_normalized_named

    out = tmp_path / "a.tar"
    _copy(f"oci:{layout}:img", f"docker-archive:{out}:example.com/app:1",
          docker_archive_additional_tags=(parse_normalized_named("example.com/app:2"),))
    repositories = json.loads(_read(out, "repositories"))
    assert set(repositories["example.com/app"]) == {"1", "2"}
    for spec in (":example.com/app:2", ":@0", ""):
        with parse_image_name(f"docker-archive:{out}{spec}").new_image_source(SystemContext()) as src:
            src.get_manifest()
    with pytest.raises(ImageNotFoundError) as info:
        parse_image_name(f"docker-archive:{out}:example.com/app:3").new_image_source(SystemContext())
    assert info.value.hint == "tags present: example.com/app:1, example.com/app:2"


def test_several_images_into_one_archive_and_a_failed_one_rolled_back(tmp_path: Path, layout: Path) -> None:
    other = make_image([Layer(make_tar([("b.txt", b"b")]))])
    write_oci({"other": other}, str(tmp_path / "other"))
    broken = tmp_path / "broken"
    write_oci({"x": make_image([random_layer(100_000, 9)])}, str(broken))
    blob = next(p for p in (broken / "blobs" / "sha256").iterdir() if p.stat().st_size > 50_000)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")  # corrupt the big layer
    out = tmp_path / "multi.tar"
    with DockerArchiveWriter(str(out)) as writer:
        copy_image(_allow(), writer.new_reference("example.com/a:1"), parse_image_name(f"oci:{layout}:img"))
        with pytest.raises(DigestMismatchError):
            copy_image(_allow(), writer.new_reference("example.com/broken:1"), parse_image_name(f"oci:{broken}:x"))
        copy_image(_allow(), writer.new_reference("example.com/b:1"), parse_image_name(f"oci:{tmp_path}/other:other"))
        assert not out.exists()  # nothing visible before commit
        writer.commit()
    items = json.loads(_read(out, "manifest.json"))
    assert [i["RepoTags"] for i in items] == [["example.com/a:1"], ["example.com/b:1"]]
    for tag in ("example.com/a:1", "example.com/b:1"):
        _copy(f"docker-archive:{out}:{tag}", f"dir:{tmp_path / tag.replace('/', '_')}")
    with pytest.raises(TransportError, match="2 images"):
        parse_image_name(f"docker-archive:{out}").new_image_source(SystemContext())


def test_failed_copy_leaves_nothing(tmp_path: Path, layout: Path) -> None:
    blob = max((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    for dest in ("a.tar", "a.tar.gz", "small.tar"):
        with pytest.raises(DigestMismatchError):
            _copy(f"oci:{layout}:img", f"docker-archive:{tmp_path / dest}", dest_compress=dest == "small.tar")
    assert sorted(os.listdir(tmp_path)) == ["layout"]


def test_writing_to_a_pipe(tmp_path: Path, layout: Path) -> None:
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    _copy(f"oci:{layout}:img", f"docker-archive:{fifo}:example.com/app:1")
    reader.join(10)
    (tmp_path / "copy.tar").write_bytes(got[0])
    _copy(f"docker-archive:{tmp_path / 'copy.tar'}", f"dir:{tmp_path / 'back'}")


def test_compressed_archive_with_big_layers_is_read_in_two_passes(tmp_path: Path) -> None:
    from trustcopy.types import BlobInfo

    image = make_image([random_layer(5_000_000, 11), Layer(make_tar([("b", b"b" * 6_000_000)]))])
    write_oci({"img": image}, str(tmp_path / "layout"))
    out = tmp_path / "big.tar.gz"
    _copy(f"oci:{tmp_path / 'layout'}:img", f"docker-archive:{out}")
    with parse_image_name(f"docker-archive:{out}").new_image_source(SystemContext()) as src:
        manifest = json.loads(src.get_manifest()[0])
        from trustcopy.digest import Digest

        infos = [BlobInfo(Digest.parse(layer["digest"]), layer["size"]) for layer in manifest["layers"]]
        for i in src.preferred_blob_order(infos):
            stream, _ = src.get_blob(infos[i])
            while stream.read(1 << 20):
                pass
        assert src._archive.passes == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["twice.tar", "twice.tar.zst"])
def test_the_same_image_twice_into_one_archive_is_stored_once(tmp_path: Path, layout: Path, name: str) -> None:
    from trustcopy.transports.archivereader import open_archive_file

    out = tmp_path / name
    with DockerArchiveWriter(str(out)) as writer:
        for tag in ("example.com/a:1", "example.com/a:2"):
            copy_image(_allow(), writer.new_reference(tag), parse_image_name(f"oci:{layout}:img"))
        writer.commit()
    archive = open_archive_file(str(out), "t")  # refuses duplicate members
    items = json.loads(archive.read_member("manifest.json", 1 << 20))
    archive.close()
    assert [i["RepoTags"] for i in items] == [["example.com/a:1", "example.com/a:2"]]
