"""Media type constants, GuessMIMEType parity, normalization.

Vectors: the GuessMIMEType table of containers/image's manifest_test.go (fixtures in
tests/fixtures/manifest/go-manifest), plus Go decoding quirks whose expected answers
were produced by containers/image 5.23's GuessMIMEType built with Go 1.19.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy.manifest import mediatypes as mt

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest" / "go-manifest"

GO_GUESS_TABLE = [
    ("v2s2.manifest.json", mt.DOCKER_V2S2),
    ("v2list.manifest.json", mt.DOCKER_V2_LIST),
    ("v2s1.manifest.json", mt.DOCKER_V2S1_SIGNED),
    ("v2s1-unsigned.manifest.json", mt.DOCKER_V2S1),
    ("v2s1-invalid-signatures.manifest.json", mt.DOCKER_V2S1_SIGNED),
    ("v2s2nomime.manifest.json", mt.DOCKER_V2S2),
    ("unknown-version.manifest.json", ""),
    ("non-json.manifest.json", ""),
    ("ociv1.manifest.json", mt.OCI_MANIFEST),
    ("ociv1.artifact.json", mt.OCI_MANIFEST),
    ("ociv1.image.index.json", mt.OCI_INDEX),
    ("ociv1nomime.manifest.json", mt.OCI_MANIFEST),
    ("ociv1nomime.artifact.json", mt.OCI_MANIFEST),
    ("ociv1nomime.image.index.json", mt.OCI_INDEX),
]


@pytest.mark.parametrize(("name", "expected"), GO_GUESS_TABLE, ids=[n for n, _ in GO_GUESS_TABLE])
def test_guess_mime_type_go_table(name: str, expected: str) -> None:
    assert mt.guess_mime_type((FIXTURES / name).read_bytes()) == expected


S1, S1S, S2, OCI, IDX = mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED, mt.DOCKER_V2S2, mt.OCI_MANIFEST, mt.OCI_INDEX
GO_QUIRKS = [
    ("null-signatures-is-unsigned", b'{"schemaVersion":1,"signatures":null}', S1),
    ("signatures-key-matched-case-insensitively", b'{"schemaVersion":1,"Signatures":[]}', S1S),
    ("last-duplicate-wins", b'{"schemaVersion":1,"signatures":[],"signatures":null}', S1),
    ("field-names-case-insensitive",
     b'{"SCHEMAVERSION":2,"config":{"MEDIATYPE":"application/vnd.oci.image.config.v1+json"}}', OCI),
    ("kelvin-sign-folds-to-k-but-not-c",
     b'{"schemaVersion":2,"\xe2\x84\xaaonfig":{"mediaType":"application/vnd.docker.container.image.v1+json"}}', OCI),
    ("later-case-variant-wins",
     b'{"mediaType":"application/vnd.oci.image.index.v1+json","MediaType":"application/vnd.docker.distribution.manifest.v2+json"}',
     S2),
    ("version-2.0-is-not-an-int", b'{"schemaVersion":2.0}', ""),
    ("version-as-string", b'{"schemaVersion":"2"}', ""),
    ("version-exponent", b'{"schemaVersion":1e0}', ""),
    ("version-overflows-int64", b'{"schemaVersion":9223372036854775808}', ""),
    ("media-type-wrong-type", b'{"mediaType":5,"schemaVersion":2}', ""),
    ("array", b"[]", ""),
    ("null", b"null", ""),
    ("string", b'"x"', ""),
    ("empty", b"", ""),
    ("truncated", b"{", ""),
    ("trailing-garbage", b'{"schemaVersion":1} x', ""),
    ("utf8-bom-refused", b'\xef\xbb\xbf{"schemaVersion":1}', ""),
    ("nan-refused", b'{"schemaVersion":1,"signatures":NaN}', ""),
    ("number-overflowing-float64", b'{"schemaVersion":1,"signatures":1e400}', ""),
    ("descriptor-size-float", b'{"schemaVersion":2,"manifests":[{"size":1.5}]}', ""),
    ("descriptor-data-not-base64", b'{"schemaVersion":2,"manifests":[{"data":"!!"}]}', ""),
    ("platform-features-not-list", b'{"schemaVersion":2,"manifests":[{"platform":{"os.features":"x"}}]}', ""),
    ("index-with-custom-config-type-returns-config-type",
     b'{"schemaVersion":2,"manifests":[{}],"config":{"mediaType":"application/x-custom"}}', "application/x-custom"),
    ("empty-manifests-is-oci-manifest", b'{"schemaVersion":2,"manifests":[]}', OCI),
    ("null-manifests-is-oci-manifest", b'{"schemaVersion":2,"manifests":null}', OCI),
    ("null-config", b'{"schemaVersion":2,"config":null}', OCI),
    ("config-array", b'{"schemaVersion":2,"config":[]}', ""),
    ("media-type-beats-config-type",
     b'{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json"},'
     b'"mediaType":"application/vnd.oci.image.manifest.v1+json"}', OCI),
    ("schema1-media-type-is-not-trusted",
     b'{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"}', OCI),
    ("known-media-type-beats-version",
     b'{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}', S2),
    ("unknown-version", b'{"schemaVersion":3}', ""),
    ("invalid-utf8-in-string-is-tolerated", b'{"schemaVersion":1,"name":"\xff"}', S1),
    ("huge-integer-in-ignored-field", b'{"schemaVersion":1,"x":' + b"1" * 5000 + b',"signatures":[]}', S1S),
    ("huge-integer-version", b'{"schemaVersion":' + b"1" * 5000 + b"}", ""),
    ("deep-nesting-in-ignored-field-within-limit",
     b'{"schemaVersion":1,"x":' + b"[" * 150 + b"]" * 150 + b"}", S1),
]


@pytest.mark.parametrize(("data", "expected"), [(d, e) for _, d, e in GO_QUIRKS], ids=[i for i, _, _ in GO_QUIRKS])
def test_guess_mime_type_go_decoding_quirks(data: bytes, expected: str) -> None:
    assert mt.guess_mime_type(data) == expected


def test_default_request_types_order_matches_containers_image() -> None:
    assert mt.DEFAULT_REQUEST_TYPES == (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    )
    assert frozenset(mt.DEFAULT_REQUEST_TYPES) == mt.SUPPORTED_TYPES


@pytest.mark.parametrize(("media_type", "expected"), [
    (mt.DOCKER_V2_LIST, True), (mt.OCI_INDEX, True), (mt.DOCKER_V2S1, False), (mt.DOCKER_V2S1_SIGNED, False),
    (mt.DOCKER_V2S2, False), (mt.OCI_MANIFEST, False), ("", False), (None, False),
])
def test_is_list(media_type: str | None, expected: bool) -> None:
    assert mt.is_list(media_type) is expected


@pytest.mark.parametrize("media_type", sorted(mt.SUPPORTED_TYPES))
def test_normalize_keeps_known_types(media_type: str) -> None:
    assert mt.normalize_mime_type(media_type) == media_type


@pytest.mark.parametrize("media_type", ["application/json", "text/plain", "not at all a valid MIME type", "", None])
def test_normalize_maps_everything_else_to_signed_schema1(media_type: str | None) -> None:
    assert mt.normalize_mime_type(media_type) == mt.DOCKER_V2S1_SIGNED


def test_layer_type_constants_are_the_spec_strings() -> None:
    assert mt.DOCKER_LAYER == "application/vnd.docker.image.rootfs.diff.tar"
    assert mt.DOCKER_LAYER_GZIP == mt.DOCKER_LAYER + ".gzip"
    assert mt.DOCKER_FOREIGN_LAYER_GZIP == mt.DOCKER_FOREIGN_LAYER + ".gzip"
    assert mt.OCI_LAYER_GZIP == mt.OCI_LAYER + "+gzip"
    assert mt.OCI_LAYER_ZSTD == mt.OCI_LAYER + "+zstd"
    assert mt.OCI_NONDISTRIBUTABLE_LAYER_ZSTD == mt.OCI_NONDISTRIBUTABLE_LAYER + "+zstd"
    assert mt.OCI_EMPTY_JSON == "application/vnd.oci.empty.v1+json"
