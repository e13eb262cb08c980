"""index.json read as containers/image reads it (trustcopy/transports/oci_index.py), without Go.

Each vector restates a behaviour of c/image's ``json.NewDecoder(f).Decode(&imgspecv1.Index{})``
that plain Python JSON got wrong (test_oci_layout_goracle.py compares generated files with
the real decoder), plus the bounds a hostile index.json meets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from trustcopy import limits
from trustcopy.errors import LimitExceededError, ManifestError
from trustcopy.transports.oci_layout import OCI_LAYOUT_CONTENT, TRANSPORT, parse_index
from trustcopy.types import SystemContext

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","layers":[]}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OTHER = "sha256:" + "1" * 64
REF = "org.opencontainers.image.ref.name"


def _parse(text: bytes) -> dict[str, object]:
    return parse_index(text, "index.json", "oci:t")


@pytest.mark.parametrize(("text", "digests"), [
    (b'{"Manifests":[{"digest":"d1"}]}', ["d1"]),  # any letter case
    (b'{"manife\xc5\xbfts":[{"digest":"d1"}]}', ["d1"]),  # the long s folds to s in Go
    (b'{"manifests":[{"digest":"d1"}],"MANIFESTS":[{"digest":"d1"}]}', ["d1"]),  # the same array again
    (b'{"manifests":null}', []),
    (b"null", []),
    (b'{"manifests":[null]}', [None]),  # a zero descriptor
    (b'{"manifests":[{"digest":"d1"}]} and then anything', ["d1"]),  # the Decoder reads one value
    (b' \n{"manifests":[{"digest":"d1","size":-7}]}', ["d1"]),  # a negative size is read
    (b'{"manifests":[{"digest":"d\xff"}]}', ["d\ufffd"]),  # invalid UTF-8 reads as U+FFFD
    (b'{"manifests":[{"Digest":"d1","digest":"d2"}]}', ["d2"]),  # the last match wins
])
def test_what_go_reads(text: bytes, digests: list[str | None]) -> None:
    assert [d.get("digest") for d in _parse(text)["manifests"]] == digests  # type: ignore[attr-defined]


def test_known_fields_get_canonical_names_and_unknown_fields_stay() -> None:
    index = _parse(b'{"Manifests":[{"x-a":1,"MediaType":"m","digest":"d","Annotations":{"k":null},'
                   b'"data":"YQ\\u003d\\u003d","size":null}],"x-top":[true]}')
    assert index == {"manifests": [{"x-a": 1, "mediaType": "m", "digest": "d", "annotations": {"k": ""},
                                    "data": "YQ=="}], "x-top": [True]}


@pytest.mark.parametrize(("text", "field"), [
    (b'{"manifests":[{"digest":"d","annotations":{"' + REF.encode() + b'":5}}]}', "manifests[0].annotations."),
    (b'{"manifests":[{"digest":"d","mediaType":5}]}', "manifests[0].mediaType"),
    (b'{"manifests":[{"digest":"d","size":1.0}]}', "manifests[0].size"),
    (b'{"manifests":[{"digest":"d","size":9223372036854775808}]}', "manifests[0].size"),
    (b'{"manifests":[{"digest":"d","data":"!!"}]}', "manifests[0].data"),
    (b'{"manifests":[],"subject":5}', "subject"),  # newest c/image only (NOTE(go-diff) in oci_index)
    (b'{"manifests":{}}', "manifests"),
    (b"[]", ""),
])
def test_what_go_cannot_read_is_refused_naming_the_field(text: bytes, field: str) -> None:
    with pytest.raises(ManifestError) as exc:
        _parse(text)
    assert exc.value.code == "oci-index-invalid"
    assert str(exc.value.context["field"]).startswith(field)


@pytest.mark.parametrize("text", [b"", b"  ", b"\xef\xbb\xbf{}", b'{"manifests":[]', b"NaN"])
def test_no_json_value_is_refused(text: bytes) -> None:
    with pytest.raises(ManifestError) as exc:
        _parse(text)
    assert exc.value.code == "oci-index-invalid"


@pytest.mark.parametrize("text", [
    b'{"manifests":[{"digest":"x","mediaType":"a"}],"Manifests":[{"digest":"y"}]}',  # Go: y with mediaType a
    b'{"manifests":[{"digest":"x","annotations":{"a":"1"},"annotations":{"b":"2"}}]}',  # Go merges the maps
    b'{"manifests":[{"digest":"x","platform":{"os":"linux"},"platform":{"architecture":"arm"}}]}',
])
def test_repeats_go_merges_are_ambiguous(text: bytes) -> None:
    with pytest.raises(ManifestError) as exc:
        _parse(text)
    assert exc.value.code == "oci-index-ambiguous"


def test_deeply_nested_index_fails_closed() -> None:
    text = b'{"manifests":[],"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(LimitExceededError):
        _parse(text)


def _layout(tmp_path: Path, index: bytes) -> Path:
    layout = tmp_path / "layout"
    blob = layout / "blobs" / "sha256" / DIGEST.removeprefix("sha256:")
    blob.parent.mkdir(parents=True)
    blob.write_bytes(MANIFEST)
    (layout / "oci-layout").write_bytes(OCI_LAYOUT_CONTENT)
    (layout / "index.json").write_bytes(index)
    return layout


def test_source_chooses_by_a_case_folded_name_and_ignores_others_negative_sizes(tmp_path: Path) -> None:
    index = json.dumps({"Manifests": [
        {"digest": OTHER, "size": -1, "annotations": {REF: "b"}},
        {"MediaType": OCI_MANIFEST, "Digest": DIGEST, "Size": len(MANIFEST), "Annotations": {REF: "a"}}]})
    layout = _layout(tmp_path, index.encode())
    with TRANSPORT.parse_reference(f"{layout}:a").new_image_source(SystemContext()) as src:
        assert src.get_manifest() == (MANIFEST, OCI_MANIFEST)


def test_source_refuses_a_huge_index(tmp_path: Path) -> None:
    layout = _layout(tmp_path, b'{"manifests":[]' + b" " * limits.MAX_OCI_INDEX + b"}")
    with pytest.raises(LimitExceededError):
        TRANSPORT.parse_reference(str(layout)).new_image_source(SystemContext())


def test_destination_rewrites_a_case_folded_index_with_one_canonical_key(tmp_path: Path) -> None:
    """Before, "manifests" was added beside "Manifests": Go then read only the later key."""
    layout = _layout(tmp_path, b'{"schemaVersion":2,"Manifests":[{"digest":"' + OTHER.encode()
                     + b'","size":3,"Annotations":{"' + REF.encode() + b'":"a","k":"v"},"x-keep":1}]}')
    with TRANSPORT.parse_reference(f"{layout}:a").new_image_destination(SystemContext()) as dest:
        dest.put_manifest(MANIFEST)
        dest.commit(MANIFEST)
    written = json.loads((layout / "index.json").read_bytes())
    assert written == {"schemaVersion": 2, "manifests": [
        {"digest": OTHER, "size": 3, "annotations": {"k": "v"}, "x-keep": 1},  # the name moved to the new image
        {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": len(MANIFEST), "annotations": {REF: "a"}}]}


def test_destination_refuses_an_ambiguous_index_before_writing(tmp_path: Path) -> None:
    text = b'{"manifests":[{"digest":"x","annotations":{"a":"1"},"annotations":{"b":"2"}}]}'
    layout = _layout(tmp_path, text)
    with pytest.raises(ManifestError) as exc:
        TRANSPORT.parse_reference(f"{layout}:a").new_image_destination(SystemContext())
    assert exc.value.code == "oci-index-ambiguous"
    assert (layout / "index.json").read_bytes() == text
