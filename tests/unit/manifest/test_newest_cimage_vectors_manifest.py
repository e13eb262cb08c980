"""Vectors of the newest containers/image manifest tests that no other trustcopy test restated.

Sources (containers/container-libs ``image/``): internal/manifest/manifest_test.go
(TestDigestWithAlgorithm, TestMIMETypeSupportsCompressionAlgorithm), manifest/docker_schema1_test.go
(TestSchema1UpdateLayerInfos), manifest/docker_schema2_test.go (TestSchema2CanChangeLayerCompression)
and manifest/oci_test.go (TestOCI1CanChangeLayerCompression). The fixtures are the project's own
copies in tests/fixtures/manifest/go-manifest (the same files as containers/image 5.23's).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import can_change_layer_compression, layer_media_type_for
from trustcopy.manifest.digest import manifest_digest
from trustcopy.manifest.parse import Schema1Manifest, parse_image_manifest
from trustcopy.types import BlobInfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest" / "go-manifest"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- internal/manifest TestDigestWithAlgorithm ---------------------------------------------------
# The sha512 column: a signed schema1 manifest is hashed without its signatures with any algorithm.
SHA512_V2S2 = ("sha512:50763a72163eef344fc0b58ec5a2676ceeddfa46b547475013778f3de5c0c1a75e18c947db36483e4622c1d"
               "46a908aa26649e6b0ac22514b8100889f74ed2b8c")
SHA512_V2S1 = ("sha512:987d6df9aca32adc296bd0698cc7407f12605b4d5e8f0de2ca5d0c43f22d894082e96fb0a02c0f659db3bb8"
               "314912dd0a1fcb5cb421c04cd5cb468ad3829d9f7")
SHA512_EMPTY = ("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2"
                "877eec2f63b931bd47417a81a538327af927da3e")


@pytest.mark.parametrize(("name", "sha256", "sha512"), [
    ("v2s2.manifest.json", "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55", SHA512_V2S2),
    ("v2s1.manifest.json", "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000", SHA512_V2S1),
    ("v2s1-unsigned.manifest.json", "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000",
     SHA512_V2S1),
    ("", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", SHA512_EMPTY),
])
def test_digest_with_algorithm(name: str, sha256: str, sha512: str) -> None:
    raw = fixture(name) if name else b""
    assert str(manifest_digest(raw, "sha256")) == sha256
    assert str(manifest_digest(raw, "sha512")) == sha512


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_digest_with_algorithm_of_broken_signatures_fails(algorithm: str) -> None:
    with pytest.raises(ManifestError):
        manifest_digest(fixture("v2s1-invalid-signatures.manifest.json"), algorithm)


# --- internal/manifest TestMIMETypeSupportsCompressionAlgorithm ----------------------------------
# gzip: every format; zstd (and zstd:chunked): only OCI; bzip2 and xz: none. trustcopy's
# layer_media_type_for is the question "can a layer of this format carry this compression".
@pytest.mark.parametrize("manifest_type", [mt.DOCKER_V2S2, mt.OCI_MANIFEST])
def test_gzip_is_supported_by_every_writable_format(manifest_type: str) -> None:
    assert layer_media_type_for(manifest_type, "gzip") in (mt.DOCKER_LAYER_GZIP, mt.OCI_LAYER_GZIP)


def test_zstd_is_supported_only_by_oci() -> None:
    assert layer_media_type_for(mt.OCI_MANIFEST, "zstd") == mt.OCI_LAYER_ZSTD
    with pytest.raises(ManifestError) as info:
        layer_media_type_for(mt.DOCKER_V2S2, "zstd")
    assert info.value.code == "manifest-layer-compression-unsupported"


@pytest.mark.parametrize("manifest_type", [mt.DOCKER_V2S2, mt.OCI_MANIFEST])
@pytest.mark.parametrize("algorithm", ["bzip2", "xz"])
def test_bzip2_and_xz_are_supported_by_no_format(manifest_type: str, algorithm: str) -> None:
    with pytest.raises(ValueError, match=algorithm):
        layer_media_type_for(manifest_type, algorithm)


@pytest.mark.parametrize("manifest_type", [mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED])
def test_schema1_layer_types_are_never_written(manifest_type: str) -> None:
    # NOTE(go-diff): Go says gzip is fine for schema1 (it names no layer types); trustcopy never
    # writes schema1 (trustcopy/manifest/schema1.py module doc), so it has no layer type to give.
    with pytest.raises(ManifestError):
        layer_media_type_for(manifest_type, "gzip")


# --- manifest/docker_schema1_test.go TestSchema1UpdateLayerInfos (newest) -------------------------
def _schema1() -> Schema1Manifest:
    m = parse_image_manifest(fixture("v2s1.manifest.json"))
    assert isinstance(m, Schema1Manifest) and len(m.layers) == 3
    return m


SIZES = (32654, 16724, 73109)
SAME_DIGEST = Digest.parse("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
ZSTD_DIGESTS = tuple(Digest.parse(d) for d in (
    "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
    "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
    "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
))


@pytest.mark.parametrize("infos", [
    # "gzip → zstd": zstd is not supported for docker images (Go: an error).
    [BlobInfo(d, s, mt.OCI_LAYER_ZSTD) for d, s in zip(ZSTD_DIGESTS, SIZES, strict=True)],
    # "uncompressed → gzip encrypted" (Go: an error; encryption is not supported).
    [BlobInfo(Digest.parse("sha256:" + c * 64), s, mt.OCI_LAYER_GZIP + "+encrypted",
              annotations={"org.opencontainers.image.enc.keys.jwe": "k"})
     for c, s in zip("abc", SIZES, strict=True)],
    # "gzip → uncompressed" / "uncompressed → gzip" with unchanged digests: Go succeeds with no change.
    [BlobInfo(SAME_DIGEST, s) for s in SIZES],
], ids=["zstd", "encrypted", "unchanged"])
def test_schema1_update_layer_infos(infos: list[BlobInfo]) -> None:
    # NOTE(go-diff): Go refuses the zstd and encryption rows as we do; for the no-change rows it
    # re-signs an identical manifest with a throw-away key. trustcopy never edits schema1
    # (trustcopy/manifest/schema1.py module doc): the copy keeps the original bytes instead.
    m = _schema1()
    with pytest.raises(ManifestError) as info:
        m.with_layer_infos(infos)
    assert info.value.code == "manifest-update-unsupported"
    assert m.serialize() == fixture("v2s1.manifest.json")


# --- TestSchema2CanChangeLayerCompression / TestOCI1CanChangeLayerCompression -------------------
UNKNOWN_TYPE = "a completely unknown and quite possibly invalid MIME type"


def test_schema2_can_change_layer_compression() -> None:
    m = parse_image_manifest(fixture("v2s2.manifest.json"))
    assert can_change_layer_compression(m, mt.DOCKER_LAYER_GZIP) is True
    assert can_change_layer_compression(m, UNKNOWN_TYPE) is False


def test_oci_can_change_layer_compression() -> None:
    m = parse_image_manifest(fixture("ociv1.manifest.json"))
    assert can_change_layer_compression(m, mt.OCI_LAYER_GZIP) is True
    assert can_change_layer_compression(m, UNKNOWN_TYPE) is False
    # Go's just-enough artifact has "digest": "" (a zero-byte config); trustcopy refuses invalid
    # digests in manifests (docs/ARCHITECTURE.md, "Differences from containers/image"), so the
    # artifact is restated with the empty blob's digest.
    with pytest.raises(ManifestError, match=r"config\.digest"):
        parse_image_manifest(fixture("ociv1.artifact.json"))
    artifact = parse_image_manifest(json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.custom.artifact.config.v1+json",
                   "digest": str(Digest.from_bytes(b"")), "size": 0},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": str(SAME_DIGEST), "size": 1}],
    }).encode())
    assert can_change_layer_compression(artifact, mt.OCI_LAYER_GZIP) is False
