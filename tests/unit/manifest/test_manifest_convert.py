"""Format conversion: Go's expected fixtures, refusals, layer type tables, list conversion.

Vectors: containers/image internal/image tests (TestConvertToManifestOCI*,
TestConvertToManifestSchema2*: ``*-to-*.json`` are Go's expected results, compared as
JSON the way Go's tests compare them) and list_test.go; list conversion bytes were
produced by containers/image 5.23. Byte-for-byte parity with skopeo itself is in
test_manifest_skopeo_convert.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import (
    convert_image,
    convert_list,
    convert_manifest,
    layer_compression,
    layer_media_type_for,
)
from trustcopy.manifest.lists import host_platform
from trustcopy.manifest.parse import (
    ImageManifest,
    OCIIndex,
    OCIManifest,
    Schema2Manifest,
    parse_image_manifest,
    parse_manifest,
    parse_manifest_list,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest"
CONFIG = (FIXTURES / "go-image" / "schema2-config.json").read_bytes()
OCI_CONFIG_DIGEST = "sha256:f15ba60ec257ee2cf4fddfb9451bb86ba2668450e88d402f5ecc7ea6ce1b661a"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def image(name: str) -> ImageManifest:
    return parse_image_manifest(read(name))


def as_json(raw: bytes) -> Any:
    return json.loads(raw)


@pytest.mark.parametrize(("source", "expected"), [
    ("go-image/schema2.json", "go-image/schema2-to-oci1.json"),
    ("go-image/schema2-all-media-types.json", "go-image/schema2-all-media-types-to-oci1.json"),
])
def test_go_schema2_to_oci_fixtures(source: str, expected: str) -> None:
    result = convert_image(image(source), mt.OCI_MANIFEST, CONFIG)
    assert isinstance(result.manifest, OCIManifest)
    assert as_json(result.manifest.raw) == as_json(read(expected))
    assert result.config_blob is not None
    assert str(Digest.from_bytes(result.config_blob)) == OCI_CONFIG_DIGEST
    assert len(result.config_blob) == 4670
    assert result.manifest.raw == result.manifest.serialize()


def test_schema2_to_oci_drops_docker_only_config_fields() -> None:
    blob = convert_image(image("go-image/schema2.json"), mt.OCI_MANIFEST, CONFIG).config_blob
    assert blob is not None
    assert b"container_config" in CONFIG and b"container_config" not in blob
    assert json.loads(blob)["rootfs"]["type"] == "layers"


@pytest.mark.parametrize(("source", "expected"), [
    ("go-image/oci1.json", "go-image/oci1-to-schema2.json"),
    ("go-manifest/ociv1.nondistributable.manifest.json", None),
])
def test_go_oci_to_schema2_fixtures_keep_the_config_blob(source: str, expected: str | None) -> None:
    m = image(source)
    result = convert_image(m, mt.DOCKER_V2S2, None)
    assert isinstance(result.manifest, Schema2Manifest)
    assert result.config_blob is None
    assert result.manifest.config.digest == m.config.digest  # type: ignore[union-attr]
    assert result.manifest.config.media_type == mt.DOCKER_CONFIG  # type: ignore[union-attr]
    if expected is not None:
        assert as_json(result.manifest.raw) == as_json(read(expected))
    assert b"annotations" not in result.manifest.raw


def test_oci_all_media_types_without_zstd_match_go_fixture() -> None:
    doc = json.loads(read("go-image/oci1-all-media-types.json"))
    del doc["layers"][1]  # the zstd layer, which schema2 cannot express
    expected = json.loads(read("go-image/oci1-all-media-types-to-schema2.json"))
    del expected["layers"][1]
    result = convert_manifest(parse_image_manifest(json.dumps(doc).encode()), mt.DOCKER_V2S2)
    assert as_json(result.raw) == expected


@pytest.mark.parametrize(("source", "index"), [
    ("go-image/oci1-all-media-types.json", 1),
    ("go-manifest/ociv1.zstd.manifest.json", 0),
    ("go-manifest/ociv1.nondistributable.zstd.manifest.json", 0),
])
def test_zstd_layer_cannot_become_schema2_and_the_error_names_it(source: str, index: int) -> None:
    with pytest.raises(ManifestError) as info:
        convert_image(image(source), mt.DOCKER_V2S2, None)
    assert info.value.code == "manifest-layer-compression-unsupported"
    assert f"layers[{index}]" in str(info.value)
    assert "zstd compression is not officially supported for docker images" in str(info.value)


def test_oci_artifact_is_not_converted_to_a_docker_image() -> None:
    with pytest.raises(ManifestError, match="artifact") as info:
        convert_image(image("go-image/oci1-artifact.json"), mt.DOCKER_V2S2, None)
    assert info.value.code == "manifest-conversion-unsupported"


@pytest.mark.parametrize(("source", "target"), [
    ("go-image/oci1-invalid-media-type.json", mt.DOCKER_V2S2),
    ("go-manifest/ociv1.invalid.mediatype.manifest.json", mt.DOCKER_V2S2),
])
def test_unknown_layer_type_is_not_converted(source: str, target: str) -> None:
    with pytest.raises(ManifestError, match=r"layers\[0\].*unknown media type during manifest conversion"):
        convert_image(image(source), target, None)


def test_schema2_layer_with_config_type_is_not_converted() -> None:
    doc = json.loads(read("go-manifest/v2s2.manifest.json"))
    doc["layers"][2]["mediaType"] = mt.DOCKER_CONFIG  # accepted by schema2 parsing (as in Go), but not a layer
    with pytest.raises(ManifestError, match=r"layers\[2\]"):
        convert_image(parse_image_manifest(json.dumps(doc).encode()), mt.OCI_MANIFEST, None)


@pytest.mark.parametrize("target", [mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED, mt.OCI_INDEX, mt.DOCKER_V2_LIST,
                                    "text/plain"])
def test_unsupported_targets(target: str) -> None:
    with pytest.raises(ManifestError) as info:
        convert_image(image("go-image/schema2.json"), target, CONFIG)
    assert info.value.code == "manifest-conversion-unsupported"


def test_schema1_source_is_not_converted() -> None:
    with pytest.raises(ManifestError) as info:
        convert_manifest(image("go-manifest/v2s1.manifest.json"), mt.OCI_MANIFEST)
    assert info.value.code == "manifest-conversion-unsupported"
    assert info.value.hint


def test_converting_to_the_same_type_returns_the_manifest_unchanged() -> None:
    m = image("go-image/oci1.json")
    assert convert_manifest(m, mt.OCI_MANIFEST) is m
    assert convert_image(m, mt.OCI_MANIFEST, None).config_blob is None


def test_config_blob_must_be_the_one_the_manifest_names() -> None:
    with pytest.raises(DigestMismatchError):
        convert_image(image("go-image/schema2.json"), mt.OCI_MANIFEST, CONFIG + b" ")


def test_without_config_blob_schema2_to_oci_keeps_the_config_relabelled() -> None:
    m = image("go-image/schema2.json")
    out = convert_manifest(m, mt.OCI_MANIFEST)
    assert isinstance(out, OCIManifest)
    assert (out.config.digest, out.config.size, out.config.media_type) == (m.config.digest, m.config.size,  # type: ignore[union-attr]
                                                                           mt.OCI_CONFIG)


def test_round_trip_oci_schema2_oci_preserves_layers_and_urls() -> None:
    m = image("go-image/oci1.json")
    back = convert_manifest(convert_manifest(m, mt.DOCKER_V2S2), mt.OCI_MANIFEST)
    assert [(layer.digest, layer.size, layer.urls) for layer in back.layers] == \
           [(layer.digest, layer.size, layer.urls) for layer in m.layers]


# --- Layer media types --------------------------------------------------------------------

LAYER_TABLE = [
    (mt.DOCKER_V2S2, None, False, mt.DOCKER_LAYER),
    (mt.DOCKER_V2S2, "gzip", False, mt.DOCKER_LAYER_GZIP),
    (mt.DOCKER_V2S2, None, True, mt.DOCKER_FOREIGN_LAYER),
    (mt.DOCKER_V2S2, "gzip", True, mt.DOCKER_FOREIGN_LAYER_GZIP),
    (mt.OCI_MANIFEST, None, False, mt.OCI_LAYER),
    (mt.OCI_MANIFEST, "gzip", False, mt.OCI_LAYER_GZIP),
    (mt.OCI_MANIFEST, "zstd", False, mt.OCI_LAYER_ZSTD),
    (mt.OCI_MANIFEST, None, True, mt.OCI_NONDISTRIBUTABLE_LAYER),
    (mt.OCI_MANIFEST, "gzip", True, mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP),
    (mt.OCI_MANIFEST, "zstd", True, mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD),
]


@pytest.mark.parametrize(("target", "compression", "foreign", "expected"), LAYER_TABLE)
def test_layer_media_type_for(target: str, compression: str | None, foreign: bool, expected: str) -> None:
    assert layer_media_type_for(target, compression, foreign) == expected
    assert layer_compression(expected) == (compression, foreign)


@pytest.mark.parametrize("foreign", [False, True])
def test_zstd_is_not_representable_in_schema2(foreign: bool) -> None:
    with pytest.raises(ManifestError) as info:
        layer_media_type_for(mt.DOCKER_V2S2, "zstd", foreign)
    assert info.value.code == "manifest-layer-compression-unsupported"


def test_layer_media_type_for_refuses_other_formats_and_compressions() -> None:
    with pytest.raises(ManifestError):
        layer_media_type_for(mt.DOCKER_V2S1, "gzip")
    with pytest.raises(ValueError, match="unknown compression"):
        layer_media_type_for(mt.OCI_MANIFEST, "bzip2")
    with pytest.raises(ManifestError):
        layer_compression("application/octet-stream")


# --- Lists --------------------------------------------------------------------------------

# sha256 of containers/image's Clone().ConvertToMIMEType(target).Serialize() for each fixture.
GO_LIST_CONVERSIONS = [
    ("go-manifest/v2list.manifest.json", mt.OCI_INDEX,
     "62aa7569c9b9bd0938c052ab5c3a427666421a1c30a568e191702d8aca29d688"),
    ("go-manifest/v2list.manifest.json", mt.DOCKER_V2_LIST,
     "2fbc5d277a981ca48d1a83d852ca21452304f9e31b9034582eb09e8688f0d109"),
    ("go-image/schema2list.json", mt.OCI_INDEX, "9b19bc721302128ac3270e7f9b00538b0d2c34cfe3b6865bc61fd831f6d54b2b"),
    ("go-image/schema2list-variants.json", mt.OCI_INDEX,
     "82b789a6cb9263d2b6f06afb60dfd947faec15cb3f2bca72fbffdef7e759650d"),
    ("go-image/oci1index.json", mt.OCI_INDEX, "575deb68c3d771b70eaf6a66385512973780719212c2b3c595619c7d71df1d3e"),
    ("go-image/oci1index.json", mt.DOCKER_V2_LIST, "d663b83b49da97aca9760488938f16436431738d4fe1eb6c8b22cf79108d0b59"),
    ("go-manifest/ociv1.image.index.json", mt.DOCKER_V2_LIST,
     "d663b83b49da97aca9760488938f16436431738d4fe1eb6c8b22cf79108d0b59"),
]


@pytest.mark.parametrize(("name", "target", "sha"), GO_LIST_CONVERSIONS,
                         ids=[f"{n.split('/')[1]}-to-{t.split('.')[-2]}" for n, t, _ in GO_LIST_CONVERSIONS])
def test_go_list_conversions(name: str, target: str, sha: str) -> None:
    out = convert_list(parse_manifest_list(read(name)), target)
    assert out.media_type == target
    assert hashlib.sha256(out.raw).hexdigest() == sha
    assert parse_manifest_list(out.raw, target) == out


@pytest.mark.parametrize("name", ["go-image/oci1index.json", "go-manifest/v2list.manifest.json"])
def test_go_list_round_trips_lose_nothing_but_docker_features_and_annotations(name: str) -> None:
    lst = parse_manifest_list(read(name))
    index = convert_list(lst, mt.OCI_INDEX)
    docker = convert_list(lst, mt.DOCKER_V2_LIST)
    assert convert_list(docker, mt.OCI_INDEX).raw == convert_list(convert_list(index, mt.DOCKER_V2_LIST),
                                                                  mt.OCI_INDEX).raw
    assert convert_list(index, mt.DOCKER_V2_LIST).raw == convert_list(convert_list(docker, mt.OCI_INDEX),
                                                                      mt.DOCKER_V2_LIST).raw


def test_index_entry_without_platform_gets_this_machine_in_a_docker_list() -> None:
    raw = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "1" * 64, "size": 1}]}).encode()
    out = convert_list(parse_manifest_list(raw), mt.DOCKER_V2_LIST)
    host = host_platform()
    assert out.manifests[0].platform is not None
    assert (out.manifests[0].platform.os, out.manifests[0].platform.architecture) == (host.os, host.architecture)


def test_list_cannot_become_an_image_type() -> None:
    with pytest.raises(ManifestError) as info:
        convert_list(parse_manifest_list(read("go-image/oci1index.json")), mt.OCI_MANIFEST)
    assert info.value.code == "manifest-conversion-unsupported"


def test_convert_image_refuses_a_list() -> None:
    lst = parse_manifest(read("go-image/oci1index.json"))
    assert isinstance(lst, OCIIndex)
    with pytest.raises(ManifestError):
        convert_image(lst, mt.DOCKER_V2S2, None)  # type: ignore[arg-type]
