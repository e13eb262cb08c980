"""Docker schema2 manifests with zstd layers (``…rootfs.diff.tar.zstd``), as the newest containers/image.

The type is outside the Docker schema2 spec, but some images carry it. Since September 2025
containers/image accepts it in a schema2 manifest, converts it to OCI ``tar+zstd``, never
recompresses it (the schema2 compression tables do not list it, so a copy keeps the blob as
it is), and still refuses to turn an OCI zstd layer into schema2 ("not officially
supported"). 5.23 refuses such manifests; trustcopy follows the newest
(trustcopy/manifest/mediatypes.py, DOCKER_LAYER_ZSTD).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import can_change_layer_compression, convert_image
from trustcopy.manifest.model import BlobInfo, Schema2Manifest
from trustcopy.manifest.parse import parse_manifest
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

ZSTD_S2 = "application/vnd.docker.image.rootfs.diff.tar.zstd"  # spelled out: the test must not trust the constant


def _schema2(layers: list[tuple[str, bytes]], config: bytes) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_V2S2,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": len(config), "digest": str(Digest.from_bytes(config))},
        "layers": [{"mediaType": t, "size": len(b), "digest": str(Digest.from_bytes(b))} for t, b in layers],
    }


CONFIG = json.dumps({"architecture": "arm64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "d" * 64, "sha256:" + "e" * 64]}}).encode()
LAYERS = [(ZSTD_S2, b"zstd layer bytes"), (mt.DOCKER_LAYER_GZIP, b"gzip layer bytes")]


def test_the_constant_is_the_type_containers_image_reads() -> None:
    assert getattr(mt, "DOCKER_LAYER_ZSTD", None) == ZSTD_S2
    assert ZSTD_S2 in mt.SCHEMA2_ACCEPTED_LAYER_TYPES


def test_schema2_with_a_zstd_layer_parses() -> None:
    m = parse_manifest(json.dumps(_schema2(LAYERS, CONFIG)).encode())
    assert isinstance(m, Schema2Manifest)
    assert [d.media_type for d in m.layers] == [ZSTD_S2, mt.DOCKER_LAYER_GZIP]


def test_a_near_miss_of_the_zstd_type_is_still_refused() -> None:
    for near in ("application/vnd.docker.image.rootfs.diff.tar+zstd", "application/vnd.docker.image.rootfs.diff.zstd",
                 "application/vnd.docker.image.rootfs.foreign.diff.tar.zstd"):
        with pytest.raises(ManifestError, match="unsupported docker v2s2 media type"):
            parse_manifest(json.dumps(_schema2([(near, b"x")], CONFIG)).encode())


def test_conversion_to_oci_makes_it_a_tar_zstd_layer() -> None:
    m = parse_manifest(json.dumps(_schema2(LAYERS, CONFIG)).encode())
    assert isinstance(m, Schema2Manifest)
    out = convert_image(m, mt.OCI_MANIFEST, CONFIG).manifest
    assert [(d.media_type, d.digest, d.size) for d in out.layers] == [
        (mt.OCI_LAYER_ZSTD, m.layers[0].digest, m.layers[0].size),
        (mt.OCI_LAYER_GZIP, m.layers[1].digest, m.layers[1].size),
    ]


def test_oci_zstd_still_cannot_become_schema2() -> None:
    m = parse_manifest(json.dumps(_schema2(LAYERS, CONFIG)).encode())
    assert isinstance(m, Schema2Manifest)
    oci = convert_image(m, mt.OCI_MANIFEST, CONFIG).manifest
    with pytest.raises(ManifestError) as info:
        convert_image(oci, mt.DOCKER_V2S2, None)
    assert info.value.code == "manifest-layer-compression-unsupported"
    assert "not officially supported for docker images" in info.value.message


def test_its_compression_is_never_changed_and_an_update_keeps_the_type() -> None:
    m = parse_manifest(json.dumps(_schema2(LAYERS, CONFIG)).encode())
    assert isinstance(m, Schema2Manifest)
    assert not can_change_layer_compression(m, ZSTD_S2)
    assert can_change_layer_compression(m, mt.DOCKER_LAYER_GZIP)
    kept = m.with_layer_infos([BlobInfo(digest=d.digest, size=d.size) for d in m.layers])
    assert [d.media_type for d in kept.layers] == [ZSTD_S2, mt.DOCKER_LAYER_GZIP]


def _dir_image(path: Path) -> tuple[bytes, bytes]:
    """A dir: image with one real zstd layer typed as a schema2 zstd layer; returns (tar, zstd blob)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"zstd in schema2\n" * 50
        info = tarfile.TarInfo("etc/zs")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    tar = buf.getvalue()
    blob = zstandard.ZstdCompressor().compress(tar)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}
                        ).encode()
    path.mkdir()
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    (path / "manifest.json").write_text(json.dumps(_schema2([(ZSTD_S2, blob)], config)))
    (path / hashlib.sha256(config).hexdigest()).write_bytes(config)
    (path / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    return tar, blob


def _copy(src: str, dest: str) -> None:
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest), parse_image_name(src),
               CopyOptions(dest_ctx=SystemContext()))


def test_copy_to_oci_converts_and_keeps_the_zstd_blob(tmp_path: Path) -> None:
    _tar, blob = _dir_image(tmp_path / "src")
    _copy(f"dir:{tmp_path / 'src'}", f"oci:{tmp_path / 'out'}:v1")
    index = json.loads((tmp_path / "out" / "index.json").read_bytes())
    desc = index["manifests"][0]
    manifest = json.loads((tmp_path / "out" / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert [(layer["mediaType"], layer["digest"]) for layer in manifest["layers"]] == [
        (mt.OCI_LAYER_ZSTD, "sha256:" + hashlib.sha256(blob).hexdigest())]


def test_copy_to_dir_keeps_the_schema2_manifest_as_it_is(tmp_path: Path) -> None:
    _dir_image(tmp_path / "src")
    _copy(f"dir:{tmp_path / 'src'}", f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").read_bytes() == (tmp_path / "src" / "manifest.json").read_bytes()
