"""parse_manifest: every Go fixture, Go-identical re-encoding, and malformed vectors naming their field."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.parse import (
    DockerManifestList,
    ImageManifest,
    OCIIndex,
    OCIManifest,
    Schema1Manifest,
    Schema2Manifest,
    parse_image_manifest,
    parse_manifest,
    parse_manifest_list,
)
from trustcopy.types import BlobInfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# Outcome of parse_manifest(fixture) with the type sniffed from its bytes.
FIXTURE_OUTCOMES: list[tuple[str, type | tuple[str, str]]] = [
    ("go-manifest/non-json.manifest.json", ("manifest-invalid", "not valid JSON")),
    ("go-manifest/ociv1.artifact.json", ("manifest-invalid", "config.digest: invalid digest \"\"")),
    ("go-manifest/ociv1.image.index.json", OCIIndex),
    ("go-manifest/ociv1.invalid.mediatype.manifest.json", OCIManifest),
    ("go-manifest/ociv1.manifest.json", OCIManifest),
    ("go-manifest/ociv1.nondistributable.gzip.manifest.json", OCIManifest),
    ("go-manifest/ociv1.nondistributable.manifest.json", OCIManifest),
    ("go-manifest/ociv1.nondistributable.zstd.manifest.json", OCIManifest),
    ("go-manifest/ociv1.uncompressed.manifest.json", OCIManifest),
    ("go-manifest/ociv1.zstd.manifest.json", OCIManifest),
    ("go-manifest/ociv1nomime.artifact.json", ("manifest-invalid", "config.digest")),
    ("go-manifest/ociv1nomime.image.index.json", OCIIndex),
    ("go-manifest/ociv1nomime.manifest.json", OCIManifest),
    ("go-manifest/schema2-to-schema1-by-docker.json", Schema1Manifest),
    ("go-manifest/unknown-version.manifest.json", ("manifest-unsupported", "unrecognized manifest format")),
    ("go-manifest/v2list.manifest.json", DockerManifestList),
    ("go-manifest/v2s1-invalid-signatures.manifest.json", ("manifest-invalid", "fsLayers: no FSLayers")),
    ("go-manifest/v2s1-unsigned.manifest.json", Schema1Manifest),
    ("go-manifest/v2s1.manifest.json", Schema1Manifest),
    ("go-manifest/v2s2.manifest.json", Schema2Manifest),
    ("go-manifest/v2s2.nondistributable.gzip.manifest.json", Schema2Manifest),
    ("go-manifest/v2s2.nondistributable.manifest.json", Schema2Manifest),
    ("go-manifest/v2s2.uncompressed.manifest.json", Schema2Manifest),
    ("go-manifest/v2s2nomime.manifest.json", ("manifest-invalid", "mediaType: missing required field")),
    # 5.23 refused its schema2 zstd layer; the newest c/image reads it (test_manifest_newest_schema2_zstd.py).
    ("go-image/oci1-all-media-types-to-schema2.json", Schema2Manifest),
    ("go-image/oci1-all-media-types.json", OCIManifest),
    ("go-image/oci1-artifact.json", OCIManifest),
    ("go-image/oci1-config.json", ("manifest-unsupported", "unrecognized")),
    ("go-image/oci1-invalid-media-type.json", OCIManifest),
    ("go-image/oci1-to-schema2.json", Schema2Manifest),
    ("go-image/oci1.json", OCIManifest),
    ("go-image/oci1index.json", OCIIndex),
    ("go-image/schema1.json", Schema1Manifest),
    ("go-image/schema2-all-media-types-to-oci1.json", OCIManifest),
    ("go-image/schema2-all-media-types.json", Schema2Manifest),
    ("go-image/schema2-config.json", ("manifest-unsupported", "unrecognized")),
    # Its only oddity (a schema2 zstd layer) is valid in the newest c/image, which changed the fixture.
    ("go-image/schema2-invalid-media-type.json", Schema2Manifest),
    ("go-image/schema2-to-oci1.json", OCIManifest),
    ("go-image/schema2.json", Schema2Manifest),
    ("go-image/schema2list-variants.json", DockerManifestList),
    ("go-image/schema2list.json", DockerManifestList),
]


def test_outcome_table_covers_every_fixture() -> None:
    on_disk = {f"{d.name}/{p.name}" for d in FIXTURES.iterdir() if d.is_dir() for p in d.iterdir()}
    assert on_disk == {name for name, _ in FIXTURE_OUTCOMES}


@pytest.mark.parametrize(("name", "outcome"), FIXTURE_OUTCOMES, ids=[n for n, _ in FIXTURE_OUTCOMES])
def test_every_fixture_parses_or_fails_as_expected(name: str, outcome: Any) -> None:
    raw = read(name)
    if isinstance(outcome, tuple):
        with pytest.raises(ManifestError) as info:
            parse_manifest(raw)
        assert info.value.code == outcome[0]
        assert outcome[1] in str(info.value)
        return
    parsed = parse_manifest(raw)
    assert type(parsed) is outcome
    assert parsed.raw == raw
    assert parsed.media_type == mt.guess_mime_type(raw)


# sha256 of what containers/image's Serialize() writes for the parsed fixture (Go 1.19 json.Marshal).
GO_SERIALIZE_SHA256 = [
    ("go-manifest/ociv1.image.index.json", "575deb68c3d771b70eaf6a66385512973780719212c2b3c595619c7d71df1d3e"),
    ("go-manifest/ociv1.invalid.mediatype.manifest.json",
     "ca686b13a56e0ab55b7b9e2023e2da885018514dc17817965010e04f6f4afc22"),
    ("go-manifest/ociv1.manifest.json", "a08254f32e310bbed74d348a001774af321619c64411fd0f2b2979ac1d64fcdd"),
    ("go-manifest/ociv1.nondistributable.gzip.manifest.json",
     "fb28de3cd23800e04be6829a9e5020fb83394fc08467de8d9e7ab8eef647044e"),
    ("go-manifest/ociv1.nondistributable.manifest.json",
     "f47ad9c007cb89b8f55e6a56aa4429df29fd34da5ef830b94a8e0ae7ea230512"),
    ("go-manifest/ociv1.nondistributable.zstd.manifest.json",
     "782ff6e6a9cd6853a52b6f2529a2901f0b56d4fc33a509f94c8766bf1cd56856"),
    ("go-manifest/ociv1.uncompressed.manifest.json",
     "4706a786d8f656f63ca68317ed9204f8145c0b84ce7243cdf9dd133859388f17"),
    ("go-manifest/ociv1.zstd.manifest.json", "5b3596af841f80fb87563e25bc6f623489c506ee8b28807789dfcde1d33a39e0"),
    ("go-manifest/ociv1nomime.image.index.json", "575deb68c3d771b70eaf6a66385512973780719212c2b3c595619c7d71df1d3e"),
    ("go-manifest/ociv1nomime.manifest.json", "4850751306fdbbfd1a253ed953006821ea0331b1de6fb7f7166545e176596296"),
    ("go-manifest/v2list.manifest.json", "2fbc5d277a981ca48d1a83d852ca21452304f9e31b9034582eb09e8688f0d109"),
    ("go-manifest/v2s2.manifest.json", "a9ebee73d6b910df0660738d1cdf439bac19b9c4232e41265eaeee7da8b2cacc"),
    ("go-manifest/v2s2.nondistributable.gzip.manifest.json",
     "f7103673de0fea732db59430c841e39c3c8c6f9e75d528fb8e6b08bf7ef430b7"),
    ("go-manifest/v2s2.nondistributable.manifest.json",
     "5717d3d3d8f0bce904c7fc8ab0d4c2311566f5f608122040d66400e597172b4f"),
    ("go-manifest/v2s2.uncompressed.manifest.json", "182101137acba65f7d2326fc54758351a45c1980167859574390404d8e5edb4e"),
    ("go-image/oci1-all-media-types.json", "9330204755b6b752f3fa1147ab4b075519d84d0341b19b67a4a26adf60126891"),
    ("go-image/oci1-artifact.json", "ea0e19b3e20f5249e5929cb9f8a5d354f6e2388fb91ca20a9027c5cc6b3e8b61"),
    ("go-image/oci1-invalid-media-type.json", "f6ca198353146bc00438fbedebf51d31984f9a55aa0197abaee43f729dfc76f5"),
    ("go-image/oci1-to-schema2.json", "c8bfde4200f2ae834a37f6ddc2a32fb07cd5702289e24686c505bcb2b376780b"),
    ("go-image/oci1.json", "c59c491fd61e31dec5c0156e55d37101ab24e1906503eeb2390c5440141c7abf"),
    ("go-image/oci1index.json", "575deb68c3d771b70eaf6a66385512973780719212c2b3c595619c7d71df1d3e"),
    ("go-image/schema2-all-media-types-to-oci1.json",
     "a6de1fe9d18c5123366808c443867da114ef73045f702ef8545a9180e420c7b4"),
    ("go-image/schema2-all-media-types.json", "ff0042a9aa49457ec9795f5cc803033b507efa077ada24e46d40c179d740484c"),
    ("go-image/schema2-to-oci1.json", "b94a07f8be8d1b5f71392e96bfc7b9e92227fc6ee3e23ac3657dfaf26b91e256"),
    ("go-image/schema2.json", "0d2c7910febe3e5b8fbafba6bac8a762cb2a715a69e1c7fef977d004010cbc43"),
    ("go-image/schema2list-variants.json", "fefdc08d27a377702616e2b844f7c2de8b7075e8de930a594aaea183d09dbe87"),
    ("go-image/schema2list.json", "5669356b676f4257e4cd380f9417244119b33e17fb4f49272f3fa99ea5b529f5"),
]


@pytest.mark.parametrize(("name", "sha"), GO_SERIALIZE_SHA256, ids=[n for n, _ in GO_SERIALIZE_SHA256])
def test_serialize_reencodes_exactly_like_go(name: str, sha: str) -> None:
    assert hashlib.sha256(parse_manifest(read(name)).serialize()).hexdigest() == sha


def test_schema2_accessors() -> None:
    m = parse_image_manifest(read("go-manifest/v2s2.manifest.json"))
    assert isinstance(m, Schema2Manifest)
    assert m.config is not None
    assert m.config.blob_info() == BlobInfo(
        Digest.parse("sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"), 7023, mt.DOCKER_CONFIG)
    assert [(str(i.digest), i.size, i.media_type) for i in m.layer_infos()] == [
        ("sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f", 32654, mt.DOCKER_LAYER_GZIP),
        ("sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b", 16724, mt.DOCKER_LAYER_GZIP),
        ("sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736", 73109, mt.DOCKER_LAYER_GZIP),
    ]
    assert m.annotations is None


def test_oci_accessors_keep_urls_and_annotations() -> None:
    m = parse_image_manifest(read("go-image/oci1.json"))
    assert isinstance(m, OCIManifest)
    assert m.config.annotations == {"test-annotation-1": "one"}
    infos = m.layer_infos()
    assert infos[2].urls == ("https://layer.url",)
    assert infos[3].annotations == {"test-annotation-2": "two"}
    assert m.has_media_type_field
    assert not parse_image_manifest(read("go-manifest/ociv1nomime.manifest.json")).has_media_type_field  # type: ignore[attr-defined]


def test_parsed_values_are_immutable() -> None:
    m = parse_image_manifest(read("go-image/oci1.json"))
    with pytest.raises(AttributeError):
        m.layers = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.config.annotations["x"] = "y"  # type: ignore[index,union-attr]


# --- Malformed vectors: each names its field --------------------------------------------

OCI_DOC = json.loads(read("go-manifest/ociv1.manifest.json"))
S2_DOC = json.loads(read("go-manifest/v2s2.manifest.json"))
LIST_DOC = json.loads(read("go-manifest/v2list.manifest.json"))
INDEX_DOC = json.loads(read("go-manifest/ociv1.image.index.json"))


def mutated(doc: dict[str, Any], path: str, value: Any) -> bytes:
    """``doc`` with the value at dotted ``path`` (list indexes as numbers) set, or deleted for ...."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target: Any = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return json.dumps(out).encode()


BAD = "sha256:" + "0" * 63
MALFORMED: list[tuple[str, dict[str, Any], str, str, Any, str, str]] = [
    # id, doc, type, path, value, code, expected message fragment
    ("layer-digest-short", OCI_DOC, mt.OCI_MANIFEST, "layers.2.digest", "sha256:abc", "manifest-invalid",
     'manifest: layers[2].digest: invalid digest "sha256:abc"'),
    ("layer-digest-uppercase", OCI_DOC, mt.OCI_MANIFEST, "layers.0.digest", "sha256:" + "A" * 64, "manifest-invalid",
     "layers[0].digest: invalid digest"),
    ("layer-digest-unknown-algorithm", OCI_DOC, mt.OCI_MANIFEST, "layers.0.digest", "md5:" + "0" * 32,
     "manifest-invalid", "layers[0].digest: invalid digest"),
    ("layer-digest-wrong-length", OCI_DOC, mt.OCI_MANIFEST, "layers.1.digest", BAD, "manifest-invalid",
     "layers[1].digest"),
    ("layer-digest-number", OCI_DOC, mt.OCI_MANIFEST, "layers.1.digest", 5, "manifest-invalid",
     "layers[1].digest: expected a string"),
    ("config-missing", OCI_DOC, mt.OCI_MANIFEST, "config", ..., "manifest-invalid", "config: missing required field"),
    ("config-not-object", OCI_DOC, mt.OCI_MANIFEST, "config", [], "manifest-invalid", "config: expected a JSON object"),
    ("config-digest-missing", OCI_DOC, mt.OCI_MANIFEST, "config.digest", ..., "manifest-invalid",
     "config.digest: missing required field"),
    ("layers-missing", OCI_DOC, mt.OCI_MANIFEST, "layers", ..., "manifest-invalid", "layers: missing required field"),
    ("layers-not-array", OCI_DOC, mt.OCI_MANIFEST, "layers", {}, "manifest-invalid", "layers: expected an array"),
    ("layer-not-object", OCI_DOC, mt.OCI_MANIFEST, "layers.1", "x", "manifest-invalid", "layers[1]: expected a JSON"),
    ("layer-size-negative", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", -1, "manifest-invalid",
     "layers[1].size: -1 is out of range"),
    ("layer-size-fraction", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", 1.5, "manifest-invalid",
     "layers[1].size: expected an integer"),
    ("layer-size-string", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", "12", "manifest-invalid",
     "layers[1].size: expected an integer"),
    ("layer-size-bool", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", True, "manifest-invalid", "layers[1].size"),
    ("layer-size-over-int64", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", 1 << 63, "manifest-invalid",
     "layers[1].size"),
    ("layer-size-missing", OCI_DOC, mt.OCI_MANIFEST, "layers.1.size", ..., "manifest-invalid",
     "layers[1].size: missing required field"),
    ("layer-media-type-missing", OCI_DOC, mt.OCI_MANIFEST, "layers.0.mediaType", ..., "manifest-invalid",
     "layers[0].mediaType: missing required field"),
    ("layer-urls-not-list", OCI_DOC, mt.OCI_MANIFEST, "layers.0.urls", "http://x", "manifest-invalid",
     "layers[0].urls: expected an array"),
    ("layer-url-not-string", OCI_DOC, mt.OCI_MANIFEST, "layers.0.urls", [1], "manifest-invalid", "layers[0].urls[0]"),
    ("layer-annotation-not-string", OCI_DOC, mt.OCI_MANIFEST, "layers.0.annotations", {"k": 1}, "manifest-invalid",
     "layers[0].annotations.k: expected a string"),
    ("layer-data-not-base64", OCI_DOC, mt.OCI_MANIFEST, "layers.0.data", "!!", "manifest-invalid",
     "layers[0].data: invalid base64"),
    ("annotations-not-object", OCI_DOC, mt.OCI_MANIFEST, "annotations", ["a"], "manifest-invalid",
     "annotations: expected an object"),
    ("subject-invalid", OCI_DOC, mt.OCI_MANIFEST, "subject", {"mediaType": "x", "size": 1}, "manifest-invalid",
     "subject.digest: missing required field"),
    ("schema-version-missing", OCI_DOC, mt.OCI_MANIFEST, "schemaVersion", ..., "manifest-invalid",
     "schemaVersion: missing required field"),
    ("schema-version-1", OCI_DOC, mt.OCI_MANIFEST, "schemaVersion", 1, "manifest-invalid",
     "schemaVersion: expected 2, got 1"),
    ("schema-version-string", OCI_DOC, mt.OCI_MANIFEST, "schemaVersion", "2", "manifest-invalid",
     "schemaVersion: expected an integer"),
    ("schema-version-float", OCI_DOC, mt.OCI_MANIFEST, "schemaVersion", 2.0, "manifest-invalid",
     "schemaVersion: expected an integer"),
    ("oci-media-type-says-index", OCI_DOC, mt.OCI_MANIFEST, "mediaType", mt.OCI_INDEX, "manifest-type-mismatch",
     "mediaType: 'application/vnd.oci.image.index.v1+json' does not match"),
    ("oci-media-type-not-string", OCI_DOC, mt.OCI_MANIFEST, "mediaType", 7, "manifest-invalid",
     "mediaType: expected a string"),
    ("oci-manifest-that-is-also-an-index", OCI_DOC, mt.OCI_MANIFEST, "manifests", [], "manifest-ambiguous",
     'unexpected fields ["manifests"]'),
    ("oci-manifest-with-case-variant-manifests", OCI_DOC, mt.OCI_MANIFEST, "MANIFESTS", [], "manifest-ambiguous",
     'unexpected fields ["manifests"]'),
    ("oci-manifest-with-schema1-fields", OCI_DOC, mt.OCI_MANIFEST, "fsLayers", [], "manifest-ambiguous",
     '["fsLayers"]'),
    ("case-variant-of-layers", OCI_DOC, mt.OCI_MANIFEST, "Layers", [], "manifest-invalid",
     'Layers: key differs from "layers" only in letter case'),
    ("case-variant-inside-descriptor", OCI_DOC, mt.OCI_MANIFEST, "layers.0.Digest", BAD, "manifest-invalid",
     'layers[0].Digest: key differs from "digest"'),
    ("schema2-media-type-missing", S2_DOC, mt.DOCKER_V2S2, "mediaType", ..., "manifest-invalid",
     "mediaType: missing required field"),
    ("schema2-media-type-says-oci", S2_DOC, mt.DOCKER_V2S2, "mediaType", mt.OCI_MANIFEST, "manifest-type-mismatch",
     "mediaType"),
    ("schema2-layer-type-unsupported", S2_DOC, mt.DOCKER_V2S2, "layers.1.mediaType", mt.OCI_LAYER_GZIP,
     "manifest-unsupported", "layers[1].mediaType: unsupported docker v2s2 media type"),
    ("schema2-config-size-missing", S2_DOC, mt.DOCKER_V2S2, "config.size", ..., "manifest-invalid",
     "config.size: missing required field"),
    ("schema2-that-is-also-a-list", S2_DOC, mt.DOCKER_V2S2, "manifests", [{}], "manifest-ambiguous", "manifests"),
    ("list-platform-missing", LIST_DOC, mt.DOCKER_V2_LIST, "manifests.1.platform", ..., "manifest-invalid",
     "manifests[1].platform: missing required field"),
    ("list-platform-os-missing", LIST_DOC, mt.DOCKER_V2_LIST, "manifests.1.platform.os", ..., "manifest-invalid",
     "manifests[1].platform.os: missing required field"),
    ("list-platform-features-not-list", LIST_DOC, mt.DOCKER_V2_LIST, "manifests.1.platform.features", "sse",
     "manifest-invalid", "manifests[1].platform.features"),
    ("list-entry-digest-invalid", LIST_DOC, mt.DOCKER_V2_LIST, "manifests.4.digest", "sha256:", "manifest-invalid",
     "manifests[4].digest: invalid digest"),
    ("list-media-type-missing", LIST_DOC, mt.DOCKER_V2_LIST, "mediaType", ..., "manifest-invalid", "mediaType"),
    ("list-that-is-also-an-image", LIST_DOC, mt.DOCKER_V2_LIST, "layers", [], "manifest-ambiguous", '["layers"]'),
    ("index-media-type-says-docker-list", INDEX_DOC, mt.OCI_INDEX, "mediaType", mt.DOCKER_V2_LIST,
     "manifest-type-mismatch", "mediaType"),
    ("index-manifests-missing", INDEX_DOC, mt.OCI_INDEX, "manifests", ..., "manifest-invalid",
     "manifests: missing required field"),
    ("index-platform-architecture-not-string", INDEX_DOC, mt.OCI_INDEX, "manifests.0.platform.architecture", 5,
     "manifest-invalid", "manifests[0].platform.architecture: expected a string"),
    ("index-that-is-also-an-image", INDEX_DOC, mt.OCI_INDEX, "config", {}, "manifest-ambiguous", '["config"]'),
]


@pytest.mark.parametrize(
    ("doc", "media_type", "path", "value", "code", "fragment"),
    [v[1:] for v in MALFORMED], ids=[v[0] for v in MALFORMED],
)
def test_malformed_manifest_error_names_the_field(doc: dict[str, Any], media_type: str, path: str, value: Any,
                                                  code: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(mutated(doc, path, value), media_type)
    assert info.value.code == code
    assert fragment in str(info.value)
    assert str(info.value).startswith("manifest: ")


@pytest.mark.parametrize(("name", "media_type", "fields"), [
    ("go-manifest/v2s2.manifest.json", mt.DOCKER_V2S2, ["fsLayers", "history", "manifests"]),
    ("go-manifest/ociv1.manifest.json", mt.OCI_MANIFEST, ["fsLayers", "history", "manifests"]),
    ("go-manifest/v2list.manifest.json", mt.DOCKER_V2_LIST, ["config", "fsLayers", "history", "layers"]),
    ("go-manifest/ociv1.image.index.json", mt.OCI_INDEX, ["config", "fsLayers", "history", "layers"]),
    ("go-manifest/schema2-to-schema1-by-docker.json", mt.DOCKER_V2S1_SIGNED, ["config", "layers", "manifests"]),
])
def test_go_valid_manifest_with_extra_fields_is_rejected(name: str, media_type: str, fields: list[str]) -> None:
    raw = read(name)
    end = raw.rindex(b"}")
    for field in fields:
        with pytest.raises(ManifestError, match="rejecting ambiguous manifest") as info:
            parse_manifest(raw[:end] + f',"{field}":[]'.encode() + raw[end:], media_type)
        assert info.value.code == "manifest-ambiguous"


def test_null_ambiguous_field_counts_as_absent_like_go() -> None:
    raw = read("go-manifest/v2s2.manifest.json")
    end = raw.rindex(b"}")
    with_null = raw[:end] + b',"manifests":null' + raw[end:]
    m = parse_manifest(with_null)
    plain = parse_manifest(raw)
    assert isinstance(m, Schema2Manifest)
    assert (m.media_type, m.config, m.layers) == (plain.media_type, plain.config, plain.layers)
    assert m.raw == with_null  # the bytes are kept as given: the digest is of what the source sent
    with pytest.raises(ManifestError, match="rejecting ambiguous manifest"):
        parse_manifest(raw[:end] + b',"manifests":[]' + raw[end:])


@pytest.mark.parametrize(("media_type", "fixtures"), [
    (mt.DOCKER_V2S1_SIGNED, ["v2s2.manifest.json", "v2list.manifest.json", "ociv1.manifest.json",
                             "ociv1.image.index.json"]),
    (mt.DOCKER_V2S2, ["schema2-to-schema1-by-docker.json", "v2list.manifest.json", "ociv1.manifest.json",
                      "ociv1.image.index.json"]),
    (mt.OCI_MANIFEST, ["schema2-to-schema1-by-docker.json", "v2s2.manifest.json", "v2list.manifest.json",
                       "ociv1.image.index.json"]),
    (mt.DOCKER_V2_LIST, ["schema2-to-schema1-by-docker.json", "v2s2.manifest.json", "ociv1.manifest.json",
                         "ociv1.image.index.json"]),
    (mt.OCI_INDEX, ["schema2-to-schema1-by-docker.json", "v2s2.manifest.json", "ociv1.manifest.json",
                    "v2list.manifest.json"]),
])
def test_go_schema_mismatch_is_rejected(media_type: str, fixtures: list[str]) -> None:
    for name in fixtures:
        with pytest.raises(ManifestError):
            parse_manifest(read(f"go-manifest/{name}"), media_type)


def test_duplicate_keys_are_accepted_and_the_last_wins_like_go() -> None:
    raw = read("go-manifest/v2s2.manifest.json")
    end = raw.rindex(b"}")
    doubled = raw[:end] + b',"config":' + json.dumps(S2_DOC["layers"][0]).encode() + raw[end:]
    m = parse_image_manifest(doubled)
    assert m.config is not None
    assert m.config.digest == m.layers[0].digest


def test_unknown_fields_are_ignored() -> None:
    m = parse_image_manifest(mutated(OCI_DOC, "layers.0.x-custom", {"anything": [1, 2]}))
    assert "x-custom" not in m.serialize().decode()


@pytest.mark.parametrize(("declared", "expected"), [
    (mt.DOCKER_V2S2 + "; charset=utf-8", Schema2Manifest),
    (" " + mt.DOCKER_V2S2, Schema2Manifest),
    ("", Schema2Manifest),
    (None, Schema2Manifest),
])
def test_declared_type_variants(declared: str | None, expected: type) -> None:
    assert type(parse_manifest(read("go-manifest/v2s2.manifest.json"), declared)) is expected


def test_application_json_means_schema1_like_go() -> None:
    m = parse_manifest(read("go-manifest/v2s1-unsigned.manifest.json"), "application/json")
    assert isinstance(m, Schema1Manifest)
    assert m.media_type == mt.DOCKER_V2S1_SIGNED
    with pytest.raises(ManifestError, match="schemaVersion: expected 1"):
        parse_manifest(read("go-manifest/v2s2.manifest.json"), "application/json")


@pytest.mark.parametrize("declared", ["text/plain", "application/vnd.oci.image.config.v1+json", "x"])
def test_unsupported_declared_type_is_refused(declared: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(read("go-manifest/v2s2.manifest.json"), declared)
    assert info.value.code == "manifest-unsupported"
    assert info.value.hint is not None


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"str"', b"5"])
def test_top_level_must_be_an_object(raw: bytes) -> None:
    with pytest.raises(ManifestError, match="expected a JSON object"):
        parse_manifest(raw, mt.OCI_MANIFEST)


def test_oversized_manifest_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = read("go-manifest/v2s2.manifest.json")
    monkeypatch.setattr(limits, "MAX_MANIFEST_BODY", len(raw) - 1)
    with pytest.raises(LimitExceededError):
        parse_manifest(raw)
    monkeypatch.setattr(limits, "MAX_MANIFEST_BODY", len(raw))
    assert parse_manifest(raw)


def test_default_limit_is_four_mib() -> None:
    with pytest.raises(LimitExceededError):
        parse_manifest(b" " * (4 * 1024 * 1024 + 1))


def test_non_bytes_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_manifest("{}")  # type: ignore[arg-type]


def test_parse_image_manifest_and_parse_manifest_list_check_the_kind() -> None:
    with pytest.raises(ManifestError) as info:
        parse_image_manifest(read("go-manifest/v2list.manifest.json"))
    assert info.value.code == "manifest-is-list"
    with pytest.raises(ManifestError) as info:
        parse_manifest_list(read("go-manifest/v2s2.manifest.json"))
    assert info.value.code == "manifest-not-list"
    assert isinstance(parse_manifest_list(read("go-manifest/v2list.manifest.json")), DockerManifestList)


# --- with_layer_infos (Go UpdateLayerInfos) ---------------------------------------------

def _new_infos(m: ImageManifest, media_type: str | None = None) -> list[BlobInfo]:
    return [BlobInfo(Digest.from_bytes(str(i).encode()), 100 + i, media_type) for i in range(len(m.layers))]


def test_schema2_with_layer_infos_keeps_types_unless_given() -> None:
    m = parse_image_manifest(read("go-manifest/v2s2.manifest.json"))
    updated = m.with_layer_infos(_new_infos(m))
    assert [layer.media_type for layer in updated.layers] == [mt.DOCKER_LAYER_GZIP] * 3
    assert [layer.size for layer in updated.layers] == [100, 101, 102]
    assert updated.raw == updated.serialize()
    assert updated.config == m.config
    assert m.layers[0].size == 32654  # the original is untouched
    uncompressed = m.with_layer_infos(_new_infos(m, mt.DOCKER_LAYER))
    assert {layer.media_type for layer in uncompressed.layers} == {mt.DOCKER_LAYER}
    assert parse_image_manifest(uncompressed.raw) == uncompressed


def test_schema2_with_layer_infos_refuses_types_schema2_cannot_hold() -> None:
    m = parse_image_manifest(read("go-manifest/v2s2.manifest.json"))
    with pytest.raises(ManifestError, match=r"layers\[0\].*cannot be used in a Docker schema2"):
        m.with_layer_infos(_new_infos(m, mt.OCI_LAYER_ZSTD))


def test_oci_with_layer_infos_takes_urls_and_annotations_from_infos() -> None:
    m = parse_image_manifest(read("go-image/oci1.json"))
    infos = m.layer_infos()
    infos[0] = BlobInfo(infos[0].digest, infos[0].size, mt.OCI_LAYER_ZSTD, annotations={"a": "b"})
    updated = m.with_layers(infos)
    assert updated.layers[0].media_type == mt.OCI_LAYER_ZSTD
    assert updated.layers[0].annotations == {"a": "b"}
    assert updated.layers[2].urls == ("https://layer.url",)
    assert updated.annotations == m.annotations
    assert parse_image_manifest(updated.raw) == updated


def test_with_layer_infos_refuses_count_change_and_unknown_size() -> None:
    m = parse_image_manifest(read("go-manifest/v2s2.manifest.json"))
    with pytest.raises(ManifestError, match="layer count changed from 3 to 2"):
        m.with_layer_infos(_new_infos(m)[:2])
    with pytest.raises(ManifestError, match="no known size"):
        m.with_layer_infos([BlobInfo(i.digest) for i in m.layer_infos()])


def test_sniffed_config_type_is_not_parsed_as_anything() -> None:
    raw = b'{"schemaVersion":2,"manifests":[{}],"config":{"mediaType":"application/x-custom"}}'
    assert mt.guess_mime_type(raw) == "application/x-custom"
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw)
    assert info.value.code == "manifest-unsupported"


@pytest.mark.parametrize("depth", [250, 100_000])
def test_absurdly_nested_manifest_is_refused_without_crashing(depth: int) -> None:
    raw = b'{"schemaVersion":2,"x":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ManifestError, match="nested") as info:
        parse_manifest(raw, mt.OCI_MANIFEST)
    assert info.value.code == "manifest-invalid"
    assert mt.guess_mime_type(raw) == ""


@pytest.mark.parametrize(("raw", "error"), [(b"[" * 5000, "ManifestError"), (b"{}", "ManifestError"),
                                            (b" " * (8 << 20), "LimitExceededError")])
def test_errors_name_the_source(raw: bytes, error: str) -> None:
    """A copy reads manifests from several places; the error says which one was bad."""
    with pytest.raises((ManifestError, LimitExceededError)) as info:
        parse_manifest(raw, "application/vnd.oci.image.manifest.v1+json", source="docker://reg.example/app:1")
    assert type(info.value).__name__ == error
    assert str(info.value).startswith("docker://reg.example/app:1: ")
    with pytest.raises((ManifestError, LimitExceededError)) as plain:
        parse_manifest(raw, "application/vnd.oci.image.manifest.v1+json")
    assert not str(plain.value).startswith("docker://")
