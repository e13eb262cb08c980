"""The copy pipeline with real dir:/oci: transports and a stand-in policy gate."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from imagefactory import (
    Layer,
    example_image,
    make_image,
    make_index,
    make_tar,
    random_layer,
    write_dir,
    write_oci,
)

from trustcopy.copy.options import FORMATS, CopyOptions, ImageListSelection
from trustcopy.copy.pipeline import copy_image
from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ManifestError, PolicyRejected, SignatureError
from trustcopy.image.unparsed import UnparsedImage
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext


class _Verdict:
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def rejection(self, where: str = "") -> PolicyRejected:
        return PolicyRejected(f"Source image rejected: Running image is rejected by policy.{where}")


class AcceptAll:
    """Policy stand-in that records what it was asked about."""

    def __init__(self) -> None:
        self.checked: list[UnparsedImage] = []

    def evaluate(self, unparsed: UnparsedImage) -> _Verdict:
        self.checked.append(unparsed)
        return _Verdict(True)


class RejectAll:
    def evaluate(self, unparsed: UnparsedImage) -> _Verdict:
        return _Verdict(False)


def _copy(src: str, dest: str, policy: object | None = None, **kw: object) -> object:
    return copy_image(policy or AcceptAll(), parse_image_name(dest), parse_image_name(src), CopyOptions(**kw))  # type: ignore[arg-type]


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_oci_to_dir_to_oci_keeps_the_digest(tmp_path: Path) -> None:
    image = example_image()
    write_oci({"1.0": image}, str(tmp_path / "src"))
    r1 = _copy(f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/d")
    r2 = _copy(f"dir:{tmp_path}/d", f"oci:{tmp_path}/back:copy")
    assert str(r1.digest) == str(r2.digest) == image.digest  # type: ignore[attr-defined]
    assert (tmp_path / "d" / "manifest.json").read_bytes() == image.manifest
    for digest, data in image.blobs.items():
        assert (tmp_path / "d" / digest.split(":")[1]).read_bytes() == data
        assert (tmp_path / "back" / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == data


def test_rejected_image_never_touches_a_blob_nor_the_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Policy before parsing: a forbidding source whose get_blob fails the test."""
    from trustcopy.transports.dir import DirImageSource

    write_dir(example_image(), str(tmp_path / "src"))

    def forbidden(*_a: object, **_k: object) -> object:
        raise AssertionError("a blob was read before the policy allowed the image")

    monkeypatch.setattr(DirImageSource, "get_blob", forbidden)
    with pytest.raises(PolicyRejected, match="Source image rejected"):
        _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/dest", RejectAll())
    assert not (tmp_path / "dest").exists()
    assert sorted(os.listdir(tmp_path)) == ["src"]


def test_corrupt_blob_fails_naming_it_and_leaves_destination_untouched(tmp_path: Path) -> None:
    image = example_image()
    write_dir(image, str(tmp_path / "src"))
    layer_digest = json.loads(image.manifest)["layers"][1]["digest"]
    blob = tmp_path / "src" / layer_digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    # An existing layout with another image must be left byte-identical.
    write_oci({"other": make_image([Layer(make_tar([("o", b"o")]))])}, str(tmp_path / "dest"))
    before = _tree(tmp_path / "dest")
    with pytest.raises(DigestMismatchError, match=layer_digest):
        _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/dest:new")
    assert _tree(tmp_path / "dest") == before
    with pytest.raises(DigestMismatchError):
        _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/fresh")
    assert not (tmp_path / "fresh").exists()
    assert sorted(os.listdir(tmp_path)) == ["dest", "src"]


def test_truncated_blob_fails(tmp_path: Path) -> None:
    image = example_image()
    write_dir(image, str(tmp_path / "src"))
    layer_digest = json.loads(image.manifest)["layers"][0]["digest"]
    blob = tmp_path / "src" / layer_digest.split(":")[1]
    blob.write_bytes(blob.read_bytes()[:-3])
    with pytest.raises(DigestMismatchError, match="size"):
        _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/dest")
    assert not (tmp_path / "dest").exists()


def test_schema2_is_converted_for_oci_and_back(tmp_path: Path) -> None:
    image = make_image([Layer(make_tar([("a", b"a")]))], docker=True)
    write_dir(image, str(tmp_path / "src"))
    r = _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/lay:x")
    assert r.media_type == FORMATS["oci"]  # type: ignore[attr-defined]
    written = json.loads(r.manifest)  # type: ignore[attr-defined]
    assert written["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert written["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    # schema2 → OCI rewrites the config as Go's OCI struct (as skopeo does); it must be stored.
    from trustcopy.manifest.ociconfig import oci_config_from_docker

    new_config = written["config"]["digest"]
    assert new_config == str(Digest.from_bytes(oci_config_from_docker(image.config)))
    stored = (tmp_path / "lay" / "blobs" / "sha256" / new_config.split(":")[1]).read_bytes()
    assert str(Digest.from_bytes(stored)) == new_config
    back = _copy(f"oci:{tmp_path}/lay:x", f"dir:{tmp_path}/back", force_manifest_type=FORMATS["v2s2"])
    back_json = json.loads(back.manifest)  # type: ignore[attr-defined]
    assert back_json["mediaType"] == FORMATS["v2s2"]
    assert back_json["config"]["digest"] == new_config
    assert [d["digest"] for d in back_json["layers"]] == [d["digest"] for d in json.loads(image.manifest)["layers"]]


def test_schema2_to_oci_stores_the_rewritten_config(tmp_path: Path) -> None:
    """A Docker config with Docker-only fields is rewritten, and the new blob is stored."""
    image = make_image([Layer(make_tar([("a", b"a")]))], docker=True)
    config = json.loads(image.config)
    config["container_config"] = {"Hostname": "builder"}
    config["docker_version"] = "24.0.0"
    cfg_bytes = json.dumps(config).encode()
    manifest = json.loads(image.manifest)
    manifest["config"].update(digest=str(Digest.from_bytes(cfg_bytes)), size=len(cfg_bytes))
    image.blobs = {k: v for k, v in image.blobs.items() if v != image.config}
    image.blobs[str(Digest.from_bytes(cfg_bytes))] = cfg_bytes
    image.manifest, image.config = json.dumps(manifest).encode(), cfg_bytes
    write_dir(image, str(tmp_path / "src"))
    r = _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/lay:x")
    new_digest = json.loads(r.manifest)["config"]["digest"]  # type: ignore[attr-defined]
    assert new_digest != str(Digest.from_bytes(cfg_bytes))
    stored = json.loads((tmp_path / "lay" / "blobs" / "sha256" / new_digest.split(":")[1]).read_bytes())
    assert "container_config" not in stored and "docker_version" not in stored
    assert not (tmp_path / "lay" / "blobs" / "sha256" / Digest.from_bytes(cfg_bytes).hex).exists()


def test_signatures_are_carried_to_dir(tmp_path: Path) -> None:
    write_dir(example_image(), str(tmp_path / "src"))
    (tmp_path / "src" / "signature-1").write_bytes(b"opaque signature blob")
    _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/dest")
    assert (tmp_path / "dest" / "signature-1").read_bytes() == b"opaque signature blob"
    _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/nosig", remove_signatures=True)
    assert not (tmp_path / "nosig" / "signature-1").exists()


def test_signatures_cannot_go_to_oci_without_remove_signatures(tmp_path: Path) -> None:
    write_dir(example_image(), str(tmp_path / "src"))
    (tmp_path / "src" / "signature-1").write_bytes(b"sig")
    with pytest.raises(SignatureError, match="signatures") as info:
        _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/lay:x")
    assert "--remove-signatures" in (info.value.hint or "")
    assert not (tmp_path / "lay").exists()
    _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/lay:x", remove_signatures=True)
    assert (tmp_path / "lay" / "index.json").exists()


def test_conversion_that_would_invalidate_signatures_is_refused(tmp_path: Path) -> None:
    write_dir(make_image([Layer(make_tar([("a", b"a")]))], docker=True), str(tmp_path / "src"))
    (tmp_path / "src" / "signature-1").write_bytes(b"sig")
    with pytest.raises(ManifestError, match="invalidate the signatures"):
        _copy(f"dir:{tmp_path}/src", f"dir:{tmp_path}/dest", force_manifest_type=FORMATS["oci"])
    assert not (tmp_path / "dest").exists()


def test_uncompressed_layers_are_compressed_for_oci(tmp_path: Path) -> None:
    image = make_image([Layer(make_tar([("a", b"a" * 1000)]), compressed=False)])
    write_dir(image, str(tmp_path / "src"))
    r = _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/lay:x")
    layer = json.loads(r.manifest)["layers"][0]  # type: ignore[attr-defined]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    stored = (tmp_path / "lay" / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
    assert stored[:2] == b"\x1f\x8b"
    assert str(Digest.from_bytes(stored)) == layer["digest"]
    assert layer["size"] == len(stored)
    kept = _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/raw:x",
                 dest_ctx=SystemContext(extra={"oci_accept_uncompressed_layers": True}))
    assert kept.manifest == image.manifest  # type: ignore[attr-defined]


def test_corrupt_layer_compressed_on_the_way_to_oci_fails_naming_it(tmp_path: Path) -> None:
    """The destination stores the gzip of the layer, named by a digest computed while writing.

    Only the digest of the *source* bytes, checked while they stream into the compressor,
    can catch a corrupt source here: the destination has nothing to compare with.
    """
    image = make_image([Layer(make_tar([("a", b"a" * 100_000)]), compressed=False),
                        Layer(make_tar([("b", b"b" * 1000)]), compressed=False)])
    write_dir(image, str(tmp_path / "src"))
    layer_digest = json.loads(image.manifest)["layers"][0]["digest"]
    # Intact, this image takes the compressing path: the layer is stored gzip-compressed.
    good = _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/good:x")
    stored = json.loads(good.manifest)["layers"][0]  # type: ignore[attr-defined]
    assert stored["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert stored["digest"] != layer_digest
    shutil.rmtree(tmp_path / "good")

    blob = tmp_path / "src" / layer_digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, still an uncompressed tar by its first bytes
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match=f"blob {layer_digest}: digest mismatch"):
        _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/new:x")
    assert not (tmp_path / "new").exists()
    # Into an existing layout holding another image: left byte-identical.
    write_oci({"other": make_image([Layer(make_tar([("o", b"o")]))])}, str(tmp_path / "dest"))
    before = _tree(tmp_path / "dest")
    with pytest.raises(DigestMismatchError, match=f"blob {layer_digest}: digest mismatch"):
        _copy(f"dir:{tmp_path}/src", f"oci:{tmp_path}/dest:new")
    assert _tree(tmp_path / "dest") == before
    assert sorted(os.listdir(tmp_path)) == ["dest", "src"]  # no staging left behind


def _list_source(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    amd = make_image([Layer(make_tar([("amd", b"amd64")]))], arch="amd64")
    arm = make_image([Layer(make_tar([("arm", b"arm64")]))], arch="arm64", variant="v8")
    index, blobs = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                               (arm, {"architecture": "arm64", "os": "linux", "variant": "v8"})])
    path = tmp_path / "multi"
    os.makedirs(path / "blobs" / "sha256")
    for d, data in {**blobs, "sha256:" + Digest.from_bytes(index).hex: index}.items():
        (path / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
    (path / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": str(Digest.from_bytes(index)),
        "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    return path, {"amd": amd, "arm": arm, "index": index}


def test_list_copies_the_instance_for_the_overridden_platform(tmp_path: Path) -> None:
    path, imgs = _list_source(tmp_path)
    policy = AcceptAll()
    r = _copy(f"oci:{path}:multi", f"dir:{tmp_path}/one", policy,
              source_ctx=SystemContext(override_arch="arm64"))
    assert r.manifest == imgs["arm"].manifest  # type: ignore[attr-defined]
    assert len(policy.checked) == 1 and str(policy.checked[0].instance_digest) == imgs["arm"].digest  # type: ignore[attr-defined]


def test_list_all_copies_every_instance_and_the_list(tmp_path: Path) -> None:
    path, imgs = _list_source(tmp_path)
    policy = AcceptAll()
    r = _copy(f"oci:{path}:multi", f"dir:{tmp_path}/all", policy, image_list_selection=ImageListSelection.ALL)
    assert r.manifest == imgs["index"]  # type: ignore[attr-defined]
    assert len(policy.checked) == 2
    for key in ("amd", "arm"):
        hexd = imgs[key].digest.split(":")[1]  # type: ignore[attr-defined]
        assert (tmp_path / "all" / f"{hexd}.manifest.json").read_bytes() == imgs[key].manifest  # type: ignore[attr-defined]


def test_list_without_matching_platform_names_what_exists(tmp_path: Path) -> None:
    path, _ = _list_source(tmp_path)
    with pytest.raises(ManifestError) as info:
        _copy(f"oci:{path}:multi", f"dir:{tmp_path}/none", source_ctx=SystemContext(override_arch="s390x"))
    assert "s390x" in str(info.value)
    assert not (tmp_path / "none").exists()


def test_many_layers_copied_concurrently_in_order(tmp_path: Path) -> None:
    layers = [random_layer(50_000, seed) for seed in range(12)]
    image = make_image(layers)
    write_oci({"big": image}, str(tmp_path / "src"))
    r = _copy(f"oci:{tmp_path}/src:big", f"dir:{tmp_path}/d", max_parallel=4)
    assert r.manifest == image.manifest  # type: ignore[attr-defined]


def test_second_copy_into_layout_skips_existing_blobs(tmp_path: Path) -> None:
    image = example_image()
    write_oci({"1": image}, str(tmp_path / "src"))
    events: list[object] = []
    _copy(f"oci:{tmp_path}/src:1", f"oci:{tmp_path}/dst:a")
    _copy(f"oci:{tmp_path}/src:1", f"oci:{tmp_path}/dst:b", progress=events.append)
    # (The outcome is the events'; skopeo's plain lines, as CopyOptions.report's, name no outcome.)
    assert sum(getattr(e, "outcome", "") == "skipped: already exists" for e in events) == len(image.blobs)


def test_config_that_is_also_a_layer_is_kept_as_the_config(tmp_path: Path) -> None:
    """The config goes into the layers' pool unless a layer has its digest: then the layer
    may be recompressed, and the config must still be stored byte for byte."""
    image = make_image([Layer(make_tar([("a", b"a")]))])
    doc = json.loads(image.manifest)
    doc["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                          "digest": doc["config"]["digest"], "size": doc["config"]["size"]})
    manifest = json.dumps(doc).encode()
    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_bytes(manifest)
    (src / "version").write_text("Directory Transport Version: 1.1\n")
    for digest, data in image.blobs.items():
        (src / digest.split(":")[1]).write_bytes(data)
    r = _copy(f"dir:{src}", f"oci:{tmp_path}/lay:x")
    out = json.loads(r.manifest)  # type: ignore[attr-defined]
    assert out["config"] == doc["config"]
    blobs = tmp_path / "lay" / "blobs" / "sha256"
    assert (blobs / doc["config"]["digest"].split(":")[1]).read_bytes() == image.config
    compressed = out["layers"][1]
    assert compressed["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert (blobs / compressed["digest"].split(":")[1]).read_bytes()[:2] == b"\x1f\x8b"
