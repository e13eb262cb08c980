"""Layer compression choices in the copy pipeline: --dest-compress / --dest-decompress /
--dest-compress-format / --dest-compress-level, with containers/image's rules; diff IDs never change."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
import zstandard
from imagefactory import Layer, make_image, make_tar, write_dir, write_oci

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.errors import ManifestError, UsageError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

TARS = [make_tar([("a.txt", b"a" * 5000)]), make_tar([("b.txt", b"b" * 7000)])]


def _allow() -> PolicyContext:
    """The real engine with an accept-anything policy (these tests are about copying, not policy)."""
    return PolicyContext(insecure_accept_anything_policy())


def _copy(src: str, dest: str, **ctx: object) -> None:
    copy_image(_allow(), parse_image_name(dest), parse_image_name(src),
               CopyOptions(dest_ctx=SystemContext(**ctx)))  # type: ignore[arg-type]


def _dir_layers(path: Path) -> list[tuple[str, bytes]]:
    manifest = json.loads((path / "manifest.json").read_bytes())
    return [(layer["mediaType"], (path / layer["digest"].split(":")[1]).read_bytes()) for layer in manifest["layers"]]


def _diff_ids(path: Path) -> list[str]:
    manifest = json.loads((path / "manifest.json").read_bytes())
    return json.loads((path / manifest["config"]["digest"].split(":")[1]).read_bytes())["rootfs"]["diff_ids"]


@pytest.fixture
def gz_dir(tmp_path: Path) -> Path:
    write_dir(make_image([Layer(t) for t in TARS], docker=True), str(tmp_path / "gz"))
    return tmp_path / "gz"


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    write_dir(make_image([Layer(t, compressed=False) for t in TARS], docker=True), str(tmp_path / "plain"))
    return tmp_path / "plain"


def test_dir_keeps_compression_by_default(tmp_path: Path, gz_dir: Path) -> None:
    _copy(f"dir:{gz_dir}", f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").read_bytes() == (gz_dir / "manifest.json").read_bytes()


def test_dest_decompress(tmp_path: Path, gz_dir: Path) -> None:
    _copy(f"dir:{gz_dir}", f"dir:{tmp_path / 'out'}", dest_decompress=True)
    layers = _dir_layers(tmp_path / "out")
    assert [t for t, _ in layers] == ["application/vnd.docker.image.rootfs.diff.tar"] * 2
    assert [data for _, data in layers] == TARS
    assert _diff_ids(tmp_path / "out") == _diff_ids(gz_dir)


@pytest.mark.parametrize("level", [None, 1, 9])
def test_dest_compress_gzip(tmp_path: Path, plain_dir: Path, level: int | None) -> None:
    _copy(f"dir:{plain_dir}", f"dir:{tmp_path / 'out'}", dest_compress=True, compression_level=level)
    layers = _dir_layers(tmp_path / "out")
    assert [t for t, _ in layers] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"] * 2
    assert [gzip.decompress(data) for _, data in layers] == TARS
    assert _diff_ids(tmp_path / "out") == _diff_ids(plain_dir)


def test_zstd_needs_an_oci_manifest_and_gets_one(tmp_path: Path, gz_dir: Path) -> None:
    _copy(f"dir:{gz_dir}", f"dir:{tmp_path / 'out'}", dest_compress=True, compression_format="zstd")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    layers = _dir_layers(tmp_path / "out")
    assert [t for t, _ in layers] == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    assert [zstandard.ZstdDecompressor().decompressobj().decompress(d) for _, d in layers] == TARS
    assert _diff_ids(tmp_path / "out") == _diff_ids(gz_dir)


def test_zstd_into_a_schema2_only_destination_is_refused(tmp_path: Path, gz_dir: Path) -> None:
    with pytest.raises(ManifestError) as info:
        _copy(f"dir:{gz_dir}", f"docker-archive:{tmp_path / 'a.tar'}", dest_compress=True, compression_format="zstd")
    assert info.value.code == "manifest-layer-compression-unsupported"
    assert not (tmp_path / "a.tar").exists()


def test_oci_recompresses_gzip_to_zstd_only_when_asked(tmp_path: Path) -> None:
    write_oci({"x": make_image([Layer(t) for t in TARS])}, str(tmp_path / "layout"))
    _copy(f"oci:{tmp_path / 'layout'}:x", f"oci:{tmp_path / 'keep'}:x")
    _copy(f"oci:{tmp_path / 'layout'}:x", f"oci:{tmp_path / 'zstd'}:x", compression_format="zstd")

    def layer_types(layout: Path) -> list[str]:
        index = json.loads((layout / "index.json").read_bytes())
        digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((layout / "blobs" / "sha256" / digest).read_bytes())
        return [layer["mediaType"] for layer in manifest["layers"]]

    assert layer_types(tmp_path / "keep") == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
    assert layer_types(tmp_path / "zstd") == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2


@pytest.mark.parametrize(("fmt", "level"), [("bzip2", None), ("gzip", 10), ("zstd", 0)])
def test_bad_format_or_level_is_a_usage_error(tmp_path: Path, plain_dir: Path, fmt: str, level: int | None) -> None:
    with pytest.raises(UsageError):
        _copy(f"dir:{plain_dir}", f"dir:{tmp_path / 'out'}", dest_compress=True, compression_format=fmt,
              compression_level=level)
    assert not (tmp_path / "out").exists()


def test_preserve_digests_forbids_changing_compression(tmp_path: Path, gz_dir: Path) -> None:
    copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'out'}"), parse_image_name(f"dir:{gz_dir}"),
               CopyOptions(dest_ctx=SystemContext(dest_decompress=True), preserve_digests=True))
    assert (tmp_path / "out" / "manifest.json").read_bytes() == (gz_dir / "manifest.json").read_bytes()


# -- --dest-force-compress-format (containers/image's ForceCompressionFormat) ----------------------


def _layer_types(layout: Path, tag: str) -> list[str]:
    index = json.loads((layout / "index.json").read_bytes())
    [desc] = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag]
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    return [layer["mediaType"] for layer in manifest["layers"]]


def test_a_layer_held_in_another_compression_is_reused_unless_forced(tmp_path: Path) -> None:
    """The layout already holds the gzip layers: reused as they are, unless zstd is forced."""
    write_oci({"x": make_image([Layer(t) for t in TARS])}, str(tmp_path / "src"))
    out = tmp_path / "out"
    _copy(f"oci:{tmp_path / 'src'}:x", f"oci:{out}:gz")
    _copy(f"oci:{tmp_path / 'src'}:x", f"oci:{out}:plain", compression_format="zstd")
    _copy(f"oci:{tmp_path / 'src'}:x", f"oci:{out}:forced", compression_format="zstd", force_compression_format=True)
    assert _layer_types(out, "plain") == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
    assert _layer_types(out, "forced") == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    # The forced copy really holds zstd data for the same diff IDs.
    index = json.loads((out / "index.json").read_bytes())
    [desc] = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "forced"]
    manifest = json.loads((out / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    data = [(out / "blobs" / "sha256" / la["digest"].split(":")[1]).read_bytes() for la in manifest["layers"]]
    assert [zstandard.ZstdDecompressor().decompressobj().decompress(d) for d in data] == TARS


def test_forcing_the_compression_the_layers_have_reuses_them(tmp_path: Path) -> None:
    write_oci({"x": make_image([Layer(t) for t in TARS])}, str(tmp_path / "src"))
    out = tmp_path / "out"
    _copy(f"oci:{tmp_path / 'src'}:x", f"oci:{out}:a")
    _copy(f"oci:{tmp_path / 'src'}:x", f"oci:{out}:b", compression_format="gzip", force_compression_format=True)
    index = json.loads((out / "index.json").read_bytes())
    assert len({m["digest"] for m in index["manifests"]}) == 1  # the same manifest: nothing recompressed


def test_forced_compression_that_the_image_cannot_get_is_refused_before_writing(tmp_path: Path) -> None:
    write_oci({"x": make_image([Layer(t) for t in TARS])}, str(tmp_path / "src"))
    with pytest.raises(UsageError, match=r"layer 0 \(sha256:[0-9a-f]{64}, application/vnd.oci.image.layer.v1.tar"
                                         r"\+gzip\) cannot be recompressed: --preserve-digests was given") as exc:
        copy_image(_allow(), parse_image_name(f"oci:{tmp_path / 'out'}:x"),
                   parse_image_name(f"oci:{tmp_path / 'src'}:x"),
                   CopyOptions(dest_ctx=SystemContext(compression_format="zstd", force_compression_format=True),
                               preserve_digests=True))
    assert exc.value.code == "compression-refused"
    assert not (tmp_path / "out").exists()


def test_dir_without_dest_compress_keeps_its_own_rule_when_forced(tmp_path: Path, gz_dir: Path) -> None:
    """As skopeo: dir: keeps layers as they are unless --dest-compress; forcing only governs reuse."""
    _copy(f"dir:{gz_dir}", f"dir:{tmp_path / 'out'}", compression_format="zstd", force_compression_format=True)
    assert [data for _, data in _dir_layers(tmp_path / "out")] == [data for _, data in _dir_layers(gz_dir)]


# -- zstd layers into a schema2 manifest (containers/image's layerEditsOfOCIOnlyFeatures) ---------


@pytest.fixture
def zstd_layout(tmp_path: Path) -> Path:
    """An OCI image whose layers are zstd-compressed (made by trustcopy itself from a gzip one)."""
    write_oci({"x": make_image([Layer(t) for t in TARS])}, str(tmp_path / "gz"))
    _copy(f"oci:{tmp_path / 'gz'}:x", f"oci:{tmp_path / 'zstd'}:x", compression_format="zstd")
    assert _layer_types(tmp_path / "zstd", "x") == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    return tmp_path / "zstd"


def test_zstd_layers_into_a_docker_archive_are_stored_uncompressed(tmp_path: Path, zstd_layout: Path) -> None:
    """docker-archive: decompresses, so the schema2 conversion works (newer skopeo; 1.9.3 fails)."""
    import tarfile

    _copy(f"oci:{zstd_layout}:x", f"docker-archive:{tmp_path / 'out.tar'}")
    with tarfile.open(tmp_path / "out.tar") as tar:
        [entry] = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layers = [tar.extractfile(name).read() for name in entry["Layers"]]  # type: ignore[union-attr]
    assert layers == TARS


def test_zstd_layers_into_schema2_dir_are_decompressed(tmp_path: Path, zstd_layout: Path) -> None:
    copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'out'}"), parse_image_name(f"oci:{zstd_layout}:x"),
               CopyOptions(force_manifest_type="application/vnd.docker.distribution.manifest.v2+json"))
    layers = _dir_layers(tmp_path / "out")
    assert [t for t, _ in layers] == ["application/vnd.docker.image.rootfs.diff.tar"] * 2
    assert [data for _, data in layers] == TARS
    assert _diff_ids(tmp_path / "out") == [f"sha256:{hashlib.sha256(t).hexdigest()}" for t in TARS]


def test_zstd_layers_that_may_not_change_still_cannot_become_schema2(tmp_path: Path, zstd_layout: Path) -> None:
    with pytest.raises(ManifestError, match=r"converted from .* which is not allowed: --preserve-digests was given"):
        copy_image(_allow(), parse_image_name(f"docker-archive:{tmp_path / 'out.tar'}"),
                   parse_image_name(f"oci:{zstd_layout}:x"), CopyOptions(preserve_digests=True))
    assert not (tmp_path / "out.tar").exists()


def test_preserve_digests_with_the_format_the_image_already_has(tmp_path: Path, gz_dir: Path) -> None:
    """As skopeo: --format with --preserve-digests is refused only when a conversion is needed."""
    v2s2 = "application/vnd.docker.distribution.manifest.v2+json"
    copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'same'}"), parse_image_name(f"dir:{gz_dir}"),
               CopyOptions(force_manifest_type=v2s2, preserve_digests=True))
    assert (tmp_path / "same" / "manifest.json").read_bytes() == (gz_dir / "manifest.json").read_bytes()
    with pytest.raises(ManifestError, match=r"which is not allowed: --preserve-digests was given"):
        copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'oci'}"), parse_image_name(f"dir:{gz_dir}"),
                   CopyOptions(force_manifest_type="application/vnd.oci.image.manifest.v1+json",
                               preserve_digests=True))
    assert not (tmp_path / "oci").exists()
