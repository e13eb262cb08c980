"""containers/image manifest test vectors not covered by the other test files.

Each table cites the Go test (``manifest/`` and ``internal/manifest`` of
containers/image; 5.23 unless "newest", i.e. the current main branch, which wins where
they differ). Go's ``updatedMIMEType`` (a compression operation applied to a layer
type) is, in trustcopy, ``layer_media_type_for(format, compression, foreign)`` with
``foreign`` from ``layer_compression(original type)``: :func:`updated_type` composes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import _fields, _gojson
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import convert_image, layer_compression, layer_media_type_for
from trustcopy.manifest.ociconfig import oci_config_from_docker
from trustcopy.manifest.parse import (
    DockerManifestList,
    OCIIndex,
    OCIManifest,
    Schema1Manifest,
    Schema2Manifest,
    parse_image_manifest,
    parse_manifest,
)
from trustcopy.types import BlobInfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest"

# imgspecv1 constants with no trustcopy equivalent (not layer types).
OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def updated_type(manifest_type: str, original: str, compression: str | None) -> str:
    """Go updatedMIMEType(<manifest_type>CompressionMIMETypeSets, original, {Compress|Decompress})."""
    _, foreign = layer_compression(original)
    return layer_media_type_for(manifest_type, compression, foreign)


S2, OCI = mt.DOCKER_V2S2, mt.OCI_MANIFEST

# --- common_test.go TestUpdatedMIMEType ---------------------------------------------------

# decompressSuccess / compressGzipSuccess / compressZstdSuccess (compression None = Decompress).
UPDATED_MIME_TYPE_SUCCESS = [
    (S2, mt.DOCKER_LAYER, None, mt.DOCKER_LAYER),
    (S2, mt.DOCKER_FOREIGN_LAYER_GZIP, None, mt.DOCKER_FOREIGN_LAYER),
    (S2, mt.DOCKER_LAYER_GZIP, None, mt.DOCKER_LAYER),
    (S2, mt.DOCKER_FOREIGN_LAYER, None, mt.DOCKER_FOREIGN_LAYER),
    (OCI, mt.OCI_LAYER, None, mt.OCI_LAYER),
    (OCI, mt.OCI_LAYER_GZIP, None, mt.OCI_LAYER),
    (OCI, mt.OCI_LAYER_ZSTD, None, mt.OCI_LAYER),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER, None, mt.OCI_NONDISTRIBUTABLE_LAYER),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP, None, mt.OCI_NONDISTRIBUTABLE_LAYER),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD, None, mt.OCI_NONDISTRIBUTABLE_LAYER),
    (S2, mt.DOCKER_LAYER_GZIP, "gzip", mt.DOCKER_LAYER_GZIP),
    (S2, mt.DOCKER_LAYER, "gzip", mt.DOCKER_LAYER_GZIP),
    (S2, mt.DOCKER_FOREIGN_LAYER, "gzip", mt.DOCKER_FOREIGN_LAYER_GZIP),
    (S2, mt.DOCKER_FOREIGN_LAYER_GZIP, "gzip", mt.DOCKER_FOREIGN_LAYER_GZIP),
    (OCI, mt.OCI_LAYER, "gzip", mt.OCI_LAYER_GZIP),
    (OCI, mt.OCI_LAYER_GZIP, "gzip", mt.OCI_LAYER_GZIP),
    (OCI, mt.OCI_LAYER_ZSTD, "gzip", mt.OCI_LAYER_GZIP),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER, "gzip", mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP, "gzip", mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD, "gzip", mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP),
    (OCI, mt.OCI_LAYER, "zstd", mt.OCI_LAYER_ZSTD),
    (OCI, mt.OCI_LAYER_GZIP, "zstd", mt.OCI_LAYER_ZSTD),
    (OCI, mt.OCI_LAYER_ZSTD, "zstd", mt.OCI_LAYER_ZSTD),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER, "zstd", mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP, "zstd", mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD),
    (OCI, mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD, "zstd", mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD),
]


@pytest.mark.parametrize(("fmt", "original", "compression", "expected"), UPDATED_MIME_TYPE_SUCCESS)
def test_go_updated_mime_type_success(fmt: str, original: str, compression: str | None, expected: str) -> None:
    assert updated_type(fmt, original, compression) == expected


# decompressFailure / compressGzipFailure / compressZstdFailure: types that are not layers.
NOT_LAYERS = [
    (S2, mt.DOCKER_V2S1), (S2, mt.DOCKER_V2S1_SIGNED), (S2, mt.DOCKER_V2S2), (S2, mt.DOCKER_CONFIG),
    (S2, mt.DOCKER_V2_LIST), (OCI, OCI_DESCRIPTOR), (OCI, OCI_LAYOUT_HEADER), (OCI, mt.OCI_MANIFEST),
    (OCI, mt.OCI_INDEX), (OCI, mt.OCI_CONFIG),
    # TestSchema2CanChangeLayerCompression / TestOCI1CanChangeLayerCompression: unknown types are left alone.
    (S2, "a completely unknown and quite possibly invalid MIME type"),
    (OCI, "a completely unknown and quite possibly invalid MIME type"),
    # TestCompressionVariantMIMEType "" / "unknown" rows.
    (OCI, ""), (OCI, "unknown"),
]


@pytest.mark.parametrize(("fmt", "original"), NOT_LAYERS)
@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_go_updated_mime_type_refuses_non_layer_types(fmt: str, original: str, compression: str | None) -> None:
    with pytest.raises(ManifestError) as info:
        updated_type(fmt, original, compression)
    assert info.value.code == "manifest-unsupported"


# compressZstdFailure, schema2 layer rows: recognized, but zstd has no schema2 form.
@pytest.mark.parametrize("original", [mt.DOCKER_LAYER, mt.DOCKER_LAYER_GZIP, mt.DOCKER_FOREIGN_LAYER,
                                      mt.DOCKER_FOREIGN_LAYER_GZIP])
def test_go_updated_mime_type_schema2_zstd_is_a_compression_incompatibility(original: str) -> None:
    with pytest.raises(ManifestError) as info:
        updated_type(S2, original, "zstd")
    assert info.value.code == "manifest-layer-compression-unsupported"  # ManifestLayerCompressionIncompatibilityError


# --- docker_schema2_test.go TestSupportedSchema2MediaType ----------------------------------

@pytest.mark.parametrize(("media_type", "ok"), [
    (mt.DOCKER_V2S2, True), (mt.DOCKER_CONFIG, True), (mt.DOCKER_LAYER_GZIP, True), (mt.DOCKER_LAYER, True),
    (mt.DOCKER_V2_LIST, True), (mt.DOCKER_FOREIGN_LAYER, True), (mt.DOCKER_FOREIGN_LAYER_GZIP, True),
    ("application/vnd.docker.image.rootfs.foreign.diff.unknown", False),
])
def test_go_supported_schema2_media_type(media_type: str, ok: bool) -> None:
    doc = json.loads(read("go-manifest/v2s2.manifest.json"))
    doc["layers"][0]["mediaType"] = media_type
    raw = json.dumps(doc).encode()
    assert (media_type in mt.SCHEMA2_ACCEPTED_LAYER_TYPES) is ok
    if ok:
        assert parse_image_manifest(raw).layers[0].media_type == media_type
    else:
        with pytest.raises(ManifestError, match=r"layers\[0\]\.mediaType: unsupported docker v2s2 media type"):
            parse_manifest(raw)


# --- TestSchema2UpdateLayerInfos / TestOCI1UpdateLayerInfos (newest; 5.23 TestUpdateLayerInfos*) ----

GZ1 = ("sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f", 32654)
GZ2 = ("sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b", 16724)
GZ3 = ("sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736", 73109)
UPDATE_LAYER_INFOS = [
    # name, source, per-layer (digest, size, compression), expected fixture ("" = must fail)
    ("s2 gzip → zstd", "v2s2.manifest.json", [(*GZ1, "zstd"), (*GZ2, "zstd"), (*GZ3, "zstd")], ""),
    ("s2 invalid compression algorithm", "v2s2.manifest.json", [(*GZ1, "gzip"), (*GZ2, "gzip"), (*GZ3, "zstd")],
     ""),
    ("s2 nondistributable → gzip", "v2s2.nondistributable.manifest.json", [(*GZ1, "gzip")],
     "v2s2.nondistributable.gzip.manifest.json"),
    ("s2 nondistributable gzip → uncompressed", "v2s2.nondistributable.gzip.manifest.json", [(*GZ1, None)],
     "v2s2.nondistributable.manifest.json"),
    ("oci gzip → zstd", "ociv1.manifest.json", [(*GZ1, "zstd"), (*GZ2, "zstd"), (*GZ3, "zstd")],
     "ociv1.zstd.manifest.json"),
    ("oci zstd → gzip", "ociv1.zstd.manifest.json", [(*GZ1, "gzip"), (*GZ2, "gzip"), (*GZ3, "gzip")],
     "ociv1.manifest.json"),
    ("oci zstd → uncompressed", "ociv1.zstd.manifest.json", [(*GZ1, None), (*GZ2, None), (*GZ3, None)],
     "ociv1.uncompressed.manifest.json"),
    ("oci gzip → uncompressed", "ociv1.manifest.json", [(*GZ1, None), (*GZ2, None), (*GZ3, None)],
     "ociv1.uncompressed.manifest.json"),
    ("oci nondistributable → gzip", "ociv1.nondistributable.manifest.json", [(*GZ1, "gzip")],
     "ociv1.nondistributable.gzip.manifest.json"),
    ("oci nondistributable → zstd", "ociv1.nondistributable.manifest.json", [(*GZ1, "zstd")],
     "ociv1.nondistributable.zstd.manifest.json"),
    ("oci nondistributable gzip → uncompressed", "ociv1.nondistributable.gzip.manifest.json", [(*GZ1, None)],
     "ociv1.nondistributable.manifest.json"),
]


@pytest.mark.parametrize(("source", "updates", "expected"), [c[1:] for c in UPDATE_LAYER_INFOS],
                         ids=[c[0] for c in UPDATE_LAYER_INFOS])
def test_go_update_layer_infos(source: str, updates: list[tuple[str, int, str | None]], expected: str) -> None:
    m = parse_image_manifest(read(f"go-manifest/{source}"))

    def apply() -> bytes:
        infos = [BlobInfo(Digest.parse(d), size, updated_type(m.media_type, old.media_type, compression))
                 for (d, size, compression), old in zip(updates, m.layers, strict=True)]
        return m.with_layer_infos(infos).serialize()

    if not expected:
        with pytest.raises(ManifestError):
            apply()
        return
    # Go compares Serialize() of the updated manifest with Serialize() of the parsed expected fixture.
    assert apply() == parse_image_manifest(read(f"go-manifest/{expected}")).serialize()


# --- internal/manifest/common_test.go TestValidateUnambiguousManifestFormat ----------------

AMBIGUITY_FIELDS = ["config", "fsLayers", "history", "layers", "manifests"]


@pytest.mark.parametrize("field", AMBIGUITY_FIELDS)
def test_go_validate_unambiguous_each_field(field: str) -> None:
    o = _gojson.loads(f'{{"{field}":[]}}'.encode())
    _fields.unambiguous(o, "text/plain", frozenset({field}))  # allowed by its own bit
    with pytest.raises(ManifestError, match="rejecting ambiguous manifest") as info:
        _fields.unambiguous(o, "text/plain", frozenset(AMBIGUITY_FIELDS) - {field})  # rejected by all others
    assert info.value.code == "manifest-ambiguous"


def test_go_validate_unambiguous_empty_object() -> None:
    o = _gojson.loads(b"{}")
    _fields.unambiguous(o, "text/plain", frozenset(AMBIGUITY_FIELDS))
    _fields.unambiguous(o, "text/plain", frozenset())


# --- docker_schema1_test.go -----------------------------------------------------------------

def test_go_schema1_from_manifest_rejects_schema_version_2() -> None:
    # TestSchema1FromManifest: "Invalid manifest version is rejected".
    doc = json.loads(read("go-manifest/schema2-to-schema1-by-docker.json"))
    doc["schemaVersion"] = 2
    with pytest.raises(ManifestError, match="schemaVersion: expected 1, got 2"):
        parse_manifest(json.dumps(doc).encode(), mt.DOCKER_V2S1_SIGNED)


BLOB = "sha256:e623934bca8d1a74f51014256445937714481e49343a31bda2bc5f534748184d"
V1_ID = "3e49094c0233214ab73f8e5c204af8a14cfc6f0403384553c17fbac2e9d38345"


def _schema1(fs_layers: list[str], history: list[str]) -> bytes:
    return json.dumps({"schemaVersion": 1, "name": "n", "tag": "t", "architecture": "amd64",
                       "fsLayers": [{"blobSum": b} for b in fs_layers],
                       "history": [{"v1Compatibility": h} for h in history]}).encode()


@pytest.mark.parametrize(("fs_layers", "history", "fragment"), [
    # TestSchema1Initialize: "Layer and history length mismatch"
    ([BLOB, BLOB], [json.dumps({"id": V1_ID})], "length of history (1) not equal to number of layers (2)"),
    # "No layers/history"
    ([], [], "no FSLayers in manifest"),
    # "Invalid history JSON"
    ([BLOB], ["-"], "history[0].v1Compatibility: parsing v2s1 history entry"),
], ids=["length-mismatch", "no-layers", "invalid-history-json"])
def test_go_schema1_initialize_errors(fs_layers: list[str], history: list[str], fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(_schema1(fs_layers, history), mt.DOCKER_V2S1)
    assert fragment in str(info.value)


def test_go_schema1_initialize_valid_single_layer() -> None:
    m = parse_manifest(_schema1([BLOB], [json.dumps({"id": V1_ID, "throwaway": True})]), mt.DOCKER_V2S1)
    assert isinstance(m, Schema1Manifest)
    assert [str(d.digest) for d in m.layers] == [BLOB]
    assert m.empty_layers == (True,)


# --- newest "everything" fixtures: every known field survives parse → re-encode -----------
# (manifest/oci_test.go TestOCI1Clone, docker_schema2_test.go TestSchema2Clone,
#  internal/manifest/oci_index_test.go TestOCI1IndexCloneInternal,
#  docker_schema2_list_test.go TestSchema2ListCloneInternal; fixtures *.everything.json.)

A, B, C = ("sha256:" + c * 64 for c in "abc")
OCI_PLATFORM = {"architecture": "a", "os": "b", "os.version": "c", "os.features": ["d"], "variant": "e"}
OCI_EVERYTHING = {
    "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": "application/vnd.example.artifact",
    "config": {"mediaType": "application/vnd.example.artifact-config", "digest": A, "size": 1,
               "urls": ["https://mirror.example.net/config"], "annotations": {"config": "1"}, "data": "YQ=="},
    "layers": [{"mediaType": "application/vnd.example.artifact-layer", "digest": B, "size": 2,
                "urls": ["https://mirror.example.net/layer"], "annotations": {"layer": "2"}, "data": "YmM="}],
    "subject": {"mediaType": mt.OCI_MANIFEST, "digest": C, "size": 3, "urls": ["https://mirror.example.net/subject"],
                "annotations": {"subject": "3"}, "data": "ZGVm", "platform": OCI_PLATFORM,
                "artifactType": "application/vnd.example.subject"},
    "annotations": {"top": "0"},
}
S2_EVERYTHING = {
    "schemaVersion": 2, "mediaType": mt.DOCKER_V2S2,
    "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1, "digest": A, "urls": ["https://mirror.example.net/config"]},
    "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": 2, "digest": B, "urls": ["https://mirror.example.net/layer"]}],
}
INDEX_EVERYTHING = {
    "schemaVersion": 2, "mediaType": mt.OCI_INDEX, "artifactType": "application/vnd.example.top-artifact",
    "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": A, "size": 1, "urls": ["https://mirror.example.net/manifest"],
                   "annotations": {"manifest": "1"}, "data": "YQ==",
                   "platform": {"architecture": "A", "os": "B", "os.version": "C", "os.features": ["D"],
                                "variant": "E"},
                   "artifactType": "application/vnd.example.sub-artifact"}],
    "subject": {"mediaType": mt.OCI_MANIFEST, "digest": B, "size": 2, "urls": ["https://mirror.example.net/subject"],
                "annotations": {"subject": "2"}, "data": "YmM=", "platform": OCI_PLATFORM,
                "artifactType": "application/vnd.example.subject"},
    "annotations": {"top": "0"},
}
LIST_EVERYTHING = {
    "schemaVersion": 2, "mediaType": mt.DOCKER_V2_LIST,
    "manifests": [{"mediaType": mt.DOCKER_V2S2, "size": 1, "digest": A, "urls": ["https://mirror.example.net/manifest"],
                   "platform": {**OCI_PLATFORM, "features": ["f"]}}],
}


@pytest.mark.parametrize(("doc", "kind"), [
    (OCI_EVERYTHING, OCIManifest), (S2_EVERYTHING, Schema2Manifest), (INDEX_EVERYTHING, OCIIndex),
    (LIST_EVERYTHING, DockerManifestList),
], ids=["ociv1.everything", "v2s2.everything", "oci1.index.everything", "v2list.everything"])
def test_go_everything_fixtures_keep_every_field(doc: dict[str, Any], kind: type) -> None:
    raw = json.dumps(doc, indent=4).encode()
    parsed = parse_manifest(raw)
    assert type(parsed) is kind
    assert json.loads(parsed.serialize()) == doc
    # Go's field order: struct order (descriptor: mediaType, digest, size for OCI; mediaType, size, digest for Docker).
    assert parsed.serialize() == json.dumps(doc, separators=(",", ":")).encode()
    clone = parsed.clone() if isinstance(parsed, OCIIndex | DockerManifestList) else parsed
    assert json.loads(clone.serialize()) == doc


def test_oci_artifact_type_survives_a_layer_update() -> None:
    m = parse_image_manifest(json.dumps(OCI_EVERYTHING).encode())
    assert isinstance(m, OCIManifest) and m.artifact_type == "application/vnd.example.artifact"
    updated = m.with_layer_infos([BlobInfo(Digest.parse(C), 5, "application/vnd.example.artifact-layer")])
    assert json.loads(updated.serialize())["artifactType"] == "application/vnd.example.artifact"
    assert json.loads(updated.serialize())["subject"] == OCI_EVERYTHING["subject"]


def test_index_subject_and_artifact_type_survive_instance_updates() -> None:
    lst = parse_manifest(json.dumps(INDEX_EVERYTHING).encode())
    assert isinstance(lst, OCIIndex)
    new = lst.with_instances({Digest.parse(A): (Digest.parse(C), 9, mt.OCI_MANIFEST)})
    out = json.loads(new.serialize())
    assert out["artifactType"] == INDEX_EVERYTHING["artifactType"]
    assert out["subject"] == INDEX_EVERYTHING["subject"]
    assert out["manifests"][0] == {**INDEX_EVERYTHING["manifests"][0], "digest": C, "size": 9}


# --- internal/image conversion tests (newest) ---------------------------------------------

# TestConvertToManifestOCI: JSON of internal/image/fixtures/schema2-to-oci1-config.json, canonicalized
# (sorted keys, compact) and hashed.
NEWEST_SCHEMA2_TO_OCI1_CONFIG_CANONICAL_SHA256 = "fec841cadd0a90b693cef34012e221ca0741049bb9b4c63accb7cdd7d31bfe77"


def test_go_schema2_to_oci_config_matches_newest_fixture() -> None:
    blob = oci_config_from_docker(read("go-image/schema2-config.json"))
    canonical = json.dumps(json.loads(blob), sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == NEWEST_SCHEMA2_TO_OCI1_CONFIG_CANONICAL_SHA256


def test_go_convert_schema2_to_oci_with_annotations() -> None:
    # TestConvertSchema2ToManifestOCIWithAnnotations: layer edits applied to the converted OCI
    # manifest keep URLs and annotations schema2 cannot hold.
    m = parse_image_manifest(read("go-image/schema2.json"))
    overwrites = [
        BlobInfo(Digest.parse("sha256:6a5a5368e0c2d3e5909184fa28ddfd56072e7ff3ee9a945876f7eee5896ef5bb"), 51354364,
                 mt.OCI_LAYER_GZIP),
        BlobInfo(Digest.parse("sha256:1bbf5d58d24c47512e234a5623474acf65ae00d4d1414272a893204f44cc680c"), 150,
                 mt.OCI_LAYER_GZIP),
        BlobInfo(Digest.parse("sha256:8f5dc8a4b12c307ac84de90cdd9a7f3915d1be04c9388868ca118831099c67a9"), 11739507,
                 mt.OCI_LAYER_GZIP, urls=("https://layer.url",)),
        BlobInfo(Digest.parse("sha256:bbd6b22eb11afce63cc76f6bc41042d99f10d6024c96b655dafba930b8d25909"), 8841833,
                 mt.OCI_LAYER_GZIP, annotations={"test-annotation-2": "two"}),
        BlobInfo(Digest.parse("sha256:960e52ecf8200cbd84e70eb2ad8678f4367e50d14357021872c10fa3fc5935fa"), 291,
                 mt.OCI_LAYER_GZIP),
    ]
    converted = convert_image(m, mt.OCI_MANIFEST, read("go-image/schema2-config.json")).manifest
    assert converted.with_layer_infos(overwrites).layer_infos() == overwrites
    # "Doing this with schema2 should fail": schema2 has no place for OCI types (Go drops them; we refuse).
    with pytest.raises(ManifestError, match="cannot be used in a Docker schema2 manifest"):
        m.with_layer_infos(overwrites)
