"""``oci:PATH:NAME`` delete: which blobs stay, against containers/image's reading of nested manifests.

containers/image's oci: delete (the newest's oci/layout/oci_delete.go; 5.23 has none) counts,
for every entry of index.json, the blob of the entry, and for an OCI manifest its config
and layer digests, for an OCI index each of its entries in turn; a blob goes when all its
uses belong to the deleted entry. It reads the nested manifests and indices with
``json.NewDecoder(f).Decode`` into image-spec's ``Manifest``/``Index``, so that a key in
another letter case (``"Layers"``), ``null``, bytes after the value or a wrongly typed
field mean what they mean to Go. trustcopy read them with plain JSON, and so counted no
use for a layer named under ``"Layers"``, deleting a blob another image used.

Here hypothesis builds layouts whose manifests and nested indices vary in those ways; the
ocilayout oracle decodes each blob as Go does (its ``decode-manifest``/``decode-index`` ops;
no c/image 5.23 code deletes), the counting is the newest source's, restated in
:func:`_go_delete`, and trustcopy's ``delete_image`` must leave the same blobs and entries,
or fail where Go fails, changing nothing. Where trustcopy refuses what Go reads, it is
deliberate and narrow (see ``_BlobUseCounter`` in trustcopy/transports/oci_layout.py):
repeated keys read ambiguously, an invalid digest of a blob the delete would remove (Go
fails there too, after deleting others), and image-spec 1.1 fields (``artifactType``,
``subject``) that the newest c/image decodes and 5.23's image-spec does not have.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, TrustcopyError
from trustcopy.transports.oci_layout import OCI_LAYOUT_CONTENT, REF_NAME_ANNOTATION, TRANSPORT
from trustcopy.types import SystemContext

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("ocilayout", "image-spec decoding of nested manifests and indices (json.NewDecoder)")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
#: The blobs manifests use (config and layers): every one exists in the layout.
POOL = [f"blob {i}".encode() for i in range(5)]
POOL_DIGESTS = ["sha256:" + hashlib.sha256(b).hexdigest() for b in POOL]


class Obj:
    """A JSON object written with its pairs as given: repeated keys and any letter case stay."""

    def __init__(self, *pairs: tuple[str, Any]) -> None:
        self.pairs = list(pairs)


def dump(value: Any) -> str:
    if isinstance(value, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def key(draw: st.DrawFn, name: str) -> str:
    """``name`` mostly as written, sometimes in another letter case Go still matches."""
    return draw(st.sampled_from([name, name, name, name.capitalize(), name.upper()]))


@st.composite
def descriptors(draw: st.DrawFn, digests: list[str]) -> Any:
    """A config or layer descriptor naming one of ``digests`` (or a broken digest), or null."""
    if draw(st.integers(0, 12)) == 0:
        return None
    pairs: list[tuple[str, Any]] = [(key(draw, "mediaType"), "application/vnd.oci.image.layer.v1.tar")]
    digest = draw(st.sampled_from(digests) | st.sampled_from(["", "sha256:zz", 7]) if draw(st.integers(0, 15)) == 0
                  else st.sampled_from(digests))
    if digest != "":
        pairs.append((key(draw, "digest"), digest))
    pairs.append((key(draw, "size"), draw(st.sampled_from([1, 1, 1, -1, "1", 1.5]) if draw(st.integers(0, 10)) == 0
                                          else st.just(1))))
    if draw(st.integers(0, 10)) == 0:
        pairs.append(("annotations", Obj(("a", draw(st.sampled_from(["x", 1, None]))))))
    return Obj(*pairs)


@st.composite
def manifest_docs(draw: st.DrawFn) -> bytes:
    """An OCI manifest as Go might meet it: key cases, nulls, repeats, wrong types, trailing bytes."""
    pairs: list[tuple[str, Any]] = [("schemaVersion", 2), ("mediaType", OCI_MANIFEST)]
    if draw(st.integers(0, 8)):
        pairs.append((key(draw, "config"), draw(descriptors(POOL_DIGESTS))))
    layers = draw(st.sampled_from([None, "absent"]) if draw(st.integers(0, 8)) == 0
                  else st.lists(descriptors(POOL_DIGESTS), max_size=3))
    if layers != "absent":
        pairs.append((key(draw, "layers"), layers))
    if draw(st.integers(0, 6)) == 0:  # a repeated key: the same, or another value
        name, value = draw(st.sampled_from(pairs[2:] or pairs))
        again = value if draw(st.booleans()) else draw(st.lists(descriptors(POOL_DIGESTS), max_size=2))
        pairs.append((key(draw, name), again))
    if draw(st.integers(0, 10)) == 0:
        pairs.append(("artifactType", draw(st.sampled_from(["application/x", 1]))))
    text = dump(Obj(*pairs)) if draw(st.integers(0, 30)) else "null"
    return (text + draw(st.sampled_from(["", "", "", "\n", " trailing", "{}"]))).encode()


@st.composite
def index_docs(draw: st.DrawFn, manifests: list[str]) -> bytes:
    """A nested OCI index of some of ``manifests`` (digests of manifest blobs)."""
    entries = []
    for digest in draw(st.lists(st.sampled_from(manifests), min_size=1, max_size=3)):
        media_type = OCI_MANIFEST if draw(st.integers(0, 15)) else DOCKER_MANIFEST
        entries.append(Obj((key(draw, "mediaType"), media_type), (key(draw, "digest"), digest),
                           (key(draw, "size"), 1)))
    text = dump(Obj(("schemaVersion", 2), (key(draw, "manifests"), entries)))
    return (text + draw(st.sampled_from(["", "", " trailing"]))).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[str, bytes]], int]:
    """Manifest blobs, index.json entries ((mediaType, blob) each) and which entry to delete."""
    manifests = draw(st.lists(manifest_docs(), min_size=1, max_size=3))
    entries: list[tuple[str, bytes]] = [(OCI_MANIFEST, m) for m in manifests]
    if draw(st.booleans()):
        entries.append((OCI_INDEX, draw(index_docs([_digest(m) for m in manifests]))))
    entries = draw(st.lists(st.sampled_from(entries), min_size=1, max_size=4))
    return manifests, entries, draw(st.integers(0, len(entries) - 1))


def _write(root: Path, blobs: list[bytes], entries: list[tuple[str, bytes]]) -> None:
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_bytes(OCI_LAYOUT_CONTENT)
    for blob in [*POOL, *blobs, *(b for _, b in entries)]:
        (root / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": mt, "digest": _digest(blob), "size": len(blob), "annotations": {REF_NAME_ANNOTATION: f"i{n}"}}
        for n, (mt, blob) in enumerate(entries)]}
    (root / "index.json").write_text(json.dumps(index))


def _state(root: Path) -> tuple[bytes, set[str]]:
    return (root / "index.json").read_bytes(), set(os.listdir(root / "blobs" / "sha256"))


class GoFailed(Exception):
    """containers/image's delete fails here."""


def _valid(text: str) -> bool:
    try:
        Digest.parse(text)
    except ValueError:
        return False
    return True


def _go_delete(oracle: Oracle, blobs: dict[str, bytes], entries: list[tuple[str, str]], chosen: int) -> set[str]:
    """The digests the newest containers/image's DeleteImage removes (restated from oci_delete.go).

    ``entries`` are index.json's (mediaType, digest); ``blobs`` the layout's blobs by digest,
    decoded by the oracle as Go does.
    """
    def count(dest: dict[str, int], media_type: str, digest: str) -> None:
        if not _valid(digest):  # blobPath validates before anything is counted
            raise GoFailed(f"invalid digest {digest!r}")
        dest[digest] = dest.get(digest, 0) + 1
        if media_type not in (OCI_MANIFEST, OCI_INDEX):
            raise GoFailed(f"unsupported mediaType {media_type!r}")
        if digest not in blobs:
            raise GoFailed(f"missing {digest}")
        op = "decode-manifest" if media_type == OCI_MANIFEST else "decode-index"
        go = oracle.ask({"op": op, "blob_b64": base64.b64encode(blobs[digest]).decode()})
        if "error" in go:
            assert go["class"] == "decode", go
            raise GoFailed(go["error"])
        if media_type == OCI_MANIFEST:
            for used in go["digests"]:
                dest[used] = dest.get(used, 0) + 1
        else:
            for entry in go["entries"]:
                count(dest, entry["mediaType"], entry["digest"])

    by_image: dict[str, int] = {}
    count(by_image, *entries[chosen])
    by_all: dict[str, int] = {}
    for entry in entries:
        count(by_all, *entry)
    doomed = {d for d, n in by_all.items() if n - by_image.get(d, 0) == 0}
    if not all(_valid(d) for d in doomed):  # deleteBlobs: blobPath fails on it
        raise GoFailed("a blob to delete has an invalid digest")
    return doomed


def _allowed_refusal(exc: TrustcopyError, blobs: dict[str, bytes]) -> bool:
    """Where trustcopy refuses what containers/image reads, deliberately (see the module doc)."""
    if exc.code in ("manifest-ambiguous", "oci-index-ambiguous"):
        return True
    if exc.code == "manifest-invalid" and exc.context.get("field") == "artifactType":
        # image-spec 1.1's Manifest.ArtifactType: decoded by the newest c/image, absent in 5.23's.
        return any(b'"artifactType":1' in b for b in blobs.values())
    return False


def _check(oracle: Oracle, tmp: Path, manifests: list[bytes], entries: list[tuple[str, bytes]], chosen: int) -> None:
    root = tmp / "layout"
    _write(root, manifests, entries)
    blobs = {_digest(b): b for b in [*POOL, *manifests] + [b for _, b in entries]}
    before = _state(root)
    try:
        expected: set[str] | None = _go_delete(oracle, blobs, [(mt, _digest(b)) for mt, b in entries], chosen)
    except GoFailed:
        expected = None
    try:
        TRANSPORT.parse_reference(f"{root}:i{chosen}").delete_image(SystemContext())
    except TrustcopyError as exc:
        assert _state(root) == before, "a refused delete must change nothing"
        assert expected is None or _allowed_refusal(exc, blobs), (exc, expected)
        return
    assert expected is not None, "trustcopy deleted where containers/image fails"
    index, remaining = _state(root)
    assert remaining == before[1] - {d.partition(":")[2] for d in expected}
    names = [m["annotations"][REF_NAME_ANNOTATION] for m in json.loads(index)["manifests"]]
    assert names == [f"i{n}" for n in range(len(entries)) if n != chosen]


def _m(*pairs: tuple[str, Any], tail: str = "") -> bytes:
    return (dump(Obj(("schemaVersion", 2), ("mediaType", OCI_MANIFEST), *pairs)) + tail).encode()


def _d(digest: str, name: str = "digest") -> Obj:
    return Obj(("mediaType", "application/vnd.oci.image.layer.v1.tar"), (name, digest), ("size", 1))


P0, P1, P2, P3 = POOL_DIGESTS[:4]
# Each found by this test's first version against plain-JSON reading, or a boundary of the new one.
#: "Layers" (Go reads it): the layer another image uses was deleted with the plain-JSON reading.
CASE_LAYERS = ([_m(("config", _d(P0)), ("Layers", [_d(P1)])), _m(("config", _d(P2)), ("layers", [_d(P1)]))],
               [(OCI_MANIFEST, 0), (OCI_MANIFEST, 1)], 1)
#: "Config" and "Digest" in another case.
CASE_CONFIG = ([_m(("Config", _d(P0, "Digest")), ("layers", [])), _m(("config", _d(P0)), ("layers", [_d(P1)]))],
               [(OCI_MANIFEST, 0), (OCI_MANIFEST, 1)], 1)
#: Bytes after the manifest, which Go's Decoder never reads.
CASE_TRAILING = ([_m(("config", _d(P0)), ("layers", [_d(P1)]), tail=" trailing")], [(OCI_MANIFEST, 0)], 0)
#: A wrongly typed size in another image: Go cannot decode it and fails.
CASE_TYPE = ([_m(("config", _d(P0)), ("layers", [Obj(("digest", P1), ("size", "1"))])),
              _m(("config", _d(P2)), ("layers", [_d(P3)]))], [(OCI_MANIFEST, 0), (OCI_MANIFEST, 1)], 1)
#: An invalid layer digest in another image: counted, never deleted; Go deletes the rest.
CASE_BAD_OTHER = ([_m(("config", _d(P0)), ("layers", [_d("sha256:zz")])), _m(("config", _d(P2)), ("layers", []))],
                  [(OCI_MANIFEST, 0), (OCI_MANIFEST, 1)], 1)
#: ... in the deleted image itself: Go fails when it comes to delete it.
CASE_BAD_OWN = (CASE_BAD_OTHER[0], CASE_BAD_OTHER[1], 0)
#: A null manifest (Go's zero Manifest: config digest "", which Go cannot delete) deleted, or another's.
CASE_NULL = ([b"null", _m(("config", _d(P0)), ("layers", []))], [(OCI_MANIFEST, 0), (OCI_MANIFEST, 1)], 0)
CASE_NULL_OTHER = (CASE_NULL[0], CASE_NULL[1], 1)


def _nested(manifest_digests: list[str], key: str = "manifests") -> bytes:
    return dump(Obj(("schemaVersion", 2), (key, [Obj(("mediaType", OCI_MANIFEST), ("digest", d), ("size", 1))
                                                 for d in manifest_digests]))).encode()


_SHARED = [_m(("config", _d(P0)), ("layers", [_d(P1)])), _m(("config", _d(P2)), ("layers", [_d(P1)]))]
#: A nested index under "Manifests": its manifest's blobs are used; they were deleted before.
CASE_NESTED = (_SHARED, [(OCI_INDEX, _nested([_digest(_SHARED[0])], "Manifests")), (OCI_MANIFEST, 1)], 1)


def _as_example(case: tuple[list[bytes], list[tuple[str, Any]], int]) -> Any:
    manifests, entries, chosen = case
    resolved = [(mt, manifests[b] if isinstance(b, int) else b) for mt, b in entries]
    return example((manifests, resolved, chosen))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@_as_example(CASE_LAYERS)
@_as_example(CASE_CONFIG)
@_as_example(CASE_TRAILING)
@_as_example(CASE_TYPE)
@_as_example(CASE_BAD_OTHER)
@_as_example(CASE_BAD_OWN)
@_as_example(CASE_NULL)
@_as_example(CASE_NULL_OTHER)
@_as_example(CASE_NESTED)
@given(layouts())
def test_delete_keeps_what_go_counts_as_used(oracle: Oracle, tmp_path_factory: pytest.TempPathFactory,
                                             case: tuple[list[bytes], list[tuple[str, bytes]], int]) -> None:
    _check(oracle, tmp_path_factory.mktemp("del"), *case)


# --- vectors: what each case above must do (they fail with the plain-JSON reading) ----------------


def _run(tmp_path: Path, case: tuple[list[bytes], list[tuple[str, Any]], int]) -> Path:
    manifests, entries, chosen = case
    root = tmp_path / "layout"
    _write(root, manifests, [(mt, manifests[b] if isinstance(b, int) else b) for mt, b in entries])
    TRANSPORT.parse_reference(f"{root}:i{chosen}").delete_image(SystemContext())
    return root


def _hex(digest: str) -> str:
    return digest.partition(":")[2]


@pytest.mark.parametrize("case", [CASE_LAYERS, CASE_NESTED], ids=["Layers", "nested Manifests"])
def test_a_layer_another_image_reads_under_another_key_case_stays(tmp_path: Path, case: Any) -> None:
    _, blobs = _state(_run(tmp_path, case))
    assert _hex(P1) in blobs


def test_config_and_digest_in_another_key_case_count(tmp_path: Path) -> None:
    _, blobs = _state(_run(tmp_path, CASE_CONFIG))
    assert _hex(P0) in blobs  # used by i0 under "Config"/"Digest"
    assert _hex(P1) not in blobs


def test_bytes_after_the_manifest_are_ignored_as_go_does(tmp_path: Path) -> None:
    _, blobs = _state(_run(tmp_path, CASE_TRAILING))
    assert not {_hex(P0), _hex(P1)} & blobs


@pytest.mark.parametrize(("case", "match"), [
    (CASE_TYPE, "layers\\[0\\].size"),
    (CASE_BAD_OWN, "not a valid digest"),
    (CASE_NULL, "not a valid digest"),
], ids=["wrong type", "invalid own digest", "null manifest"])
def test_what_go_cannot_read_or_delete_refuses_changing_nothing(tmp_path: Path, case: Any, match: str) -> None:
    manifests, entries, chosen = case
    root = tmp_path / "layout"
    _write(root, manifests, [(mt, manifests[b]) for mt, b in entries])
    before = _state(root)
    with pytest.raises(ManifestError, match=match):
        TRANSPORT.parse_reference(f"{root}:i{chosen}").delete_image(SystemContext())
    assert _state(root) == before


def test_an_invalid_digest_in_another_image_does_not_stop_the_delete(tmp_path: Path) -> None:
    index, blobs = _state(_run(tmp_path, CASE_BAD_OTHER))
    assert _hex(P2) not in blobs and _hex(P0) in blobs
    assert len(json.loads(index)["manifests"]) == 1


def test_layers_repeated_with_other_contents_refuse_as_ambiguous(tmp_path: Path) -> None:
    """Go would merge the two arrays; counting on either reading is a guess: refused, nothing changed."""
    manifests = [_m(("config", _d(P0)), ("layers", [_d(P1)]), ("layers", [_d(P2), _d(P3)])),
                 _m(("config", _d(P2)), ("layers", []))]
    root = tmp_path / "layout"
    _write(root, manifests, [(OCI_MANIFEST, manifests[0]), (OCI_MANIFEST, manifests[1])])
    before = _state(root)
    with pytest.raises(ManifestError) as info:
        TRANSPORT.parse_reference(f"{root}:i1").delete_image(SystemContext())
    assert info.value.code == "manifest-ambiguous"
    assert _state(root) == before
