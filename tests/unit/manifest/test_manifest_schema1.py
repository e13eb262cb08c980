"""Schema1 manifests: LayerInfos order and empty layers, Go's validation, read-only-ness.

Vectors: containers/image docker_schema1_test.go (TestSchema1LayerInfos and the
initialize/fixManifestLayers cases); crafted history chains whose outcome was checked
against containers/image 5.23's Schema1FromManifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.parse import Schema1Manifest, parse_manifest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest" / "go-manifest"
EMPTY = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"


def load(name: str) -> Schema1Manifest:
    m = parse_manifest((FIXTURES / name).read_bytes())
    assert isinstance(m, Schema1Manifest)
    return m


def test_go_layer_infos_are_base_first_and_flag_throwaway_layers() -> None:
    m = load("schema2-to-schema1-by-docker.json")
    expected = [
        ("sha256:6a5a5368e0c2d3e5909184fa28ddfd56072e7ff3ee9a945876f7eee5896ef5bb", False),
        (EMPTY, True), (EMPTY, True), (EMPTY, True),
        ("sha256:1bbf5d58d24c47512e234a5623474acf65ae00d4d1414272a893204f44cc680c", False),
        (EMPTY, True),
        ("sha256:8f5dc8a4b12c307ac84de90cdd9a7f3915d1be04c9388868ca118831099c67a9", False),
        (EMPTY, True), (EMPTY, True), (EMPTY, True), (EMPTY, True),
        ("sha256:bbd6b22eb11afce63cc76f6bc41042d99f10d6024c96b655dafba930b8d25909", False),
        ("sha256:960e52ecf8200cbd84e70eb2ad8678f4367e50d14357021872c10fa3fc5935fa", False),
        (EMPTY, True), (EMPTY, True),
    ]
    assert [(str(i.digest), e) for i, e in zip(m.layer_infos(), m.empty_layers, strict=True)] == expected
    assert all(i.size == -1 and i.media_type is None for i in m.layer_infos())
    assert m.config is None


def test_schema1_fields() -> None:
    m = load("v2s1.manifest.json")
    assert (m.name, m.tag, m.architecture) == ("mitr/busybox", "latest", "amd64")
    assert m.signed and m.media_type == mt.DOCKER_V2S1_SIGNED
    assert not load("v2s1-unsigned.manifest.json").signed
    assert len(m.history) == len(m.fs_layers) == 3
    assert json.loads(m.history[0])["id"].startswith("f1b5eb0a")  # newest first, as in the document
    assert [str(d) for d in reversed(m.fs_layers)] == [str(i.digest) for i in m.layer_infos()]


def test_schema1_is_read_only() -> None:
    m = load("v2s1.manifest.json")
    assert m.serialize() == m.raw
    with pytest.raises(ManifestError) as info:
        m.with_layer_infos(m.layer_infos())
    assert info.value.code == "manifest-update-unsupported"


def _id(c: str) -> str:
    return c * 64


def doc(entries: list[tuple[str, Any]], **top: Any) -> bytes:
    """A schema1 document: entries are (blob hex char, v1Compatibility dict or raw string), newest first."""
    d: dict[str, Any] = {
        "schemaVersion": 1, "name": "n", "tag": "t", "architecture": "amd64",
        "fsLayers": [{"blobSum": "sha256:" + b * 64} for b, _ in entries],
        "history": [{"v1Compatibility": c if isinstance(c, str) else json.dumps(c)} for _, c in entries],
    }
    d.update(top)
    return json.dumps(d).encode()


def parse1(raw: bytes) -> Schema1Manifest:
    m = parse_manifest(raw, mt.DOCKER_V2S1)
    assert isinstance(m, Schema1Manifest)
    return m


def test_consecutive_duplicate_ids_collapse_keeping_the_older_entry() -> None:
    m = parse1(doc([
        ("a", {"id": _id("1"), "parent": _id("2")}),
        ("b", {"id": _id("2"), "parent": _id("3"), "throwaway": True}),
        ("c", {"id": _id("2"), "parent": _id("3")}),
        ("d", {"id": _id("3")}),
    ]))
    assert [str(i.digest)[7] for i in m.layer_infos()] == ["d", "c", "a"]
    assert m.empty_layers == (False, False, False)
    assert len(m.history) == 3


def test_all_entries_with_one_id_collapse_to_the_base() -> None:
    m = parse1(doc([("a", {"id": _id("1")}), ("b", {"id": _id("1")}), ("c", {"id": _id("1")})]))
    assert [str(i.digest)[7] for i in m.layer_infos()] == ["c"]


def test_null_created_and_case_variant_v1_keys_are_accepted_like_go() -> None:
    m = parse1(doc([("a", {"id": _id("1"), "created": None})]))
    assert [str(i.digest) for i in m.layer_infos()] == ["sha256:" + "a" * 64]
    assert m.empty_layers == (False,)
    # Go's encoding/json matches keys case-insensitively: "ID" and "Parent" are the id and
    # parent, so these chains are checked (and collapsed) exactly like lower-case ones.
    m = parse1(doc([("a", {"ID": _id("1"), "Parent": _id("2")}), ("b", {"Id": _id("2")})]))
    assert [str(i.digest)[7] for i in m.layer_infos()] == ["b", "a"]
    m = parse1(doc([("a", {"ID": _id("1")}), ("b", {"id": _id("1")})]))
    assert [str(i.digest)[7] for i in m.layer_infos()] == ["b"]  # the same ID twice: one layer
    with pytest.raises(ManifestError, match="invalid parent ID"):
        parse1(doc([("a", {"ID": _id("1"), "PARENT": _id("3")}), ("b", {"iD": _id("2")})]))


SCHEMA1_ERRORS = [
    ("non-consecutive-duplicate-id",
     doc([("a", {"id": _id("1"), "parent": _id("2")}), ("b", {"id": _id("2"), "parent": _id("1")}),
          ("d", {"id": _id("1")})]), "history[2].v1Compatibility.id: ID 1111"),
    ("broken-parent-chain", doc([("a", {"id": _id("1"), "parent": _id("3")}), ("d", {"id": _id("2")})]),
     "history[0].v1Compatibility: invalid parent ID"),
    ("base-has-parent", doc([("a", {"id": _id("1"), "parent": _id("2")}), ("d", {"id": _id("2"), "parent": _id("9")})]),
     "history[1].v1Compatibility.parent: invalid parent ID in the base layer"),
    ("id-not-hex", doc([("a", {"id": "xyz"})]), 'history[0].v1Compatibility.id: image ID "xyz" is invalid'),
    ("id-missing", doc([("a", "null")]), 'image ID "" is invalid'),
    ("created-not-rfc3339", doc([("a", {"id": _id("1"), "created": "yesterday"})]),
     "history[0].v1Compatibility.created: parsing v2s1 history entry: 'yesterday' is not an RFC 3339 time"),
    ("throwaway-not-bool", doc([("a", {"id": _id("1"), "throwaway": "yes"})]), "v1Compatibility.throwaway"),
    ("cmd-not-list", doc([("a", {"id": _id("1"), "container_config": {"Cmd": "x"}})]), "container_config.Cmd"),
    ("history-not-json", doc([("a", "-")]), "history[0].v1Compatibility: parsing v2s1 history entry"),
    ("history-entry-array", doc([("a", "[]")]), "cannot unmarshal array"),
    ("length-mismatch", doc([("a", {"id": _id("1")})], history=[]),
     "history: length of history (0) not equal to number of layers (1)"),
    ("no-layers", doc([]), "fsLayers: no FSLayers in manifest"),
    ("blob-sum-invalid", doc([("a", {"id": _id("1")})], fsLayers=[{"blobSum": "sha256:x"}]),
     "fsLayers[0].blobSum: invalid digest"),
    ("fs-layers-not-array", doc([("a", {"id": _id("1")})], fsLayers={}), "fsLayers: expected an array"),
    ("v1-compatibility-not-string", doc([("a", {"id": _id("1")})], history=[{"v1Compatibility": {}}]),
     "history[0].v1Compatibility: expected a string"),
    ("schema-version-2", doc([("a", {"id": _id("1")})], schemaVersion=2), "schemaVersion: expected 1, got 2"),
    ("ambiguous-with-layers", doc([("a", {"id": _id("1")})], layers=[]), "rejecting ambiguous manifest"),
    ("case-variant-fslayers", doc([("a", {"id": _id("1")})], FSLayers=[]), 'FSLayers: key differs from "fsLayers"'),
]


@pytest.mark.parametrize(("raw", "fragment"), [(r, f) for _, r, f in SCHEMA1_ERRORS],
                         ids=[i for i, _, _ in SCHEMA1_ERRORS])
def test_invalid_schema1_is_refused_naming_the_field(raw: bytes, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse1(raw)
    assert fragment in str(info.value)
