"""trustcopy's manifest list rewriting against containers/image on generated lists and indexes.

A ``--all`` copy rewrites the source list: each instance's new digest, size and media type
(``UpdateInstances``), then a conversion between Docker list and OCI index when the
destination needs one (``ConvertToMIMEType``), and the result is written only if its
encoding differs from the original list's (copyMultipleImages). Hypothesis assembles lists
from the formats' pieces (platforms with and without variant, os.version, os.features,
features; URLs, annotations, data, artifactType, subject; duplicate instances) and near
misses (nulls, case-shifted and repeated keys, wrong types, many entries), and the Go oracle
(tests/goracle/manifest, op ``listcopy``) runs containers/image 5.23's steps on each;
trustcopy's ``ManifestList.with_instances`` / ``convert_list`` / ``copy.multiple.rewritten_list``
must produce the same bytes and the same decision.

What only the newest containers/image does (instance choice by compression with
prefer-gzip, the zstd mark that ``EditInstances`` adds) has plain vector tests at the end,
restating the behaviour of its internal/manifest tests in our own lists.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trustcopy.copy.multiple import rewritten_list, wrote_zstd_layers
from trustcopy.copy.single import CopyResult
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import convert_list
from trustcopy.manifest.lists import ZSTD_INSTANCE_ANNOTATION, DockerManifestList, ManifestList, OCIIndex
from trustcopy.manifest.model import Descriptor
from trustcopy.manifest.parse import parse_manifest

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("manifest", "containers/image's manifest package")

ZSTD = ZSTD_INSTANCE_ANNOTATION
LIST_TYPES = [mt.DOCKER_V2_LIST, mt.OCI_INDEX]
#: Conversion targets: the list types, the image types (refused: not a list type), and others.
TARGETS = [*LIST_TYPES, mt.DOCKER_V2S2, mt.OCI_MANIFEST, mt.DOCKER_V2S1, mt.DOCKER_V2S1_SIGNED,
           "application/json", "text/plain", mt.DOCKER_V2_LIST.upper()]
HEX = "0123456789abcdef"
#: A key written with this prefix is emitted without it: a repeated key.
DUP = "__dup__"


def _encode(body: Any) -> bytes:
    return json.dumps(body).replace(f'"{DUP}', '"').encode()


def _ask(oracle: Oracle, blob: bytes, mime: str, **more: Any) -> Any:
    return oracle.ask({"op": "listcopy", "blob": base64.b64encode(blob).decode("ascii"), "mime": mime, **more})


# --- pieces -------------------------------------------------------------------------------

digests = st.one_of(st.builds(lambda c: "sha256:" + c * 64, st.sampled_from(HEX[:6])),  # repeats
                    st.builds(lambda h: "sha512:" + h * 2, st.text(alphabet=HEX, min_size=64, max_size=64)))
JUNK = st.sampled_from([None, 1, "", "x", [], {}, ["x"], {"a": 1}, True])


@st.composite
def bent(draw: st.DrawFn, o: dict[str, Any]) -> dict[str, Any]:
    """``o``, sometimes with a field nulled, re-typed, case-shifted, repeated or dropped."""
    how = draw(st.integers(0, 14))
    if not o or how > 5:
        return o
    o = dict(o)
    key = draw(st.sampled_from(sorted(o)))
    if how == 0:
        o[key] = None
    elif how == 1:
        o[key] = draw(JUNK)
    elif how == 2:
        o[key[0].upper() + key[1:]] = o.pop(key)
    elif how == 3:
        o = {DUP + key: draw(st.one_of(JUNK, st.just(o[key]))), **o}
    elif how == 4:
        o[DUP + key] = draw(st.one_of(JUNK, st.just(o[key])))
    else:
        del o[key]
    return o


@st.composite
def platforms(draw: st.DrawFn, noisy: bool) -> dict[str, Any]:
    p: dict[str, Any] = {"architecture": draw(st.sampled_from(["amd64", "arm", "arm64", "s390x", ""])),
                         "os": draw(st.sampled_from(["linux", "windows", ""]))}
    if draw(st.booleans()):
        p["variant"] = draw(st.sampled_from(["v7", "v8", ""]))
    if draw(st.integers(0, 3)) == 0:
        p["os.version"] = draw(st.sampled_from(["10.0.17763.1", ""]))
    if draw(st.integers(0, 3)) == 0:
        p["os.features"] = draw(st.sampled_from([["win32k"], [], ["b", "a"]]))
    if draw(st.integers(0, 3)) == 0:
        p["features"] = draw(st.sampled_from([["sse4"], []]))
    return draw(bent(p)) if noisy else p


@st.composite
def entries(draw: st.DrawFn, noisy: bool) -> dict[str, Any]:
    e: dict[str, Any] = {"mediaType": draw(st.sampled_from([mt.OCI_MANIFEST, mt.DOCKER_V2S2, mt.OCI_INDEX, "x/y"])),
                         "digest": draw(digests), "size": draw(st.sampled_from([0, 1, 527, (1 << 63) - 1]))}
    if draw(st.integers(0, 4)) != 0:
        e["platform"] = draw(platforms(noisy))
    if draw(st.integers(0, 3)) == 0:
        e["urls"] = draw(st.sampled_from([[], ["https://example.com/m"]]))
    if draw(st.integers(0, 2)) == 0:
        e["annotations"] = draw(st.sampled_from([{}, {ZSTD: "true"}, {ZSTD: "false"}, {"b": "1", "a": "2"}]))
    if draw(st.integers(0, 6)) == 0:
        e["artifactType"] = "application/vnd.example+json"
    if draw(st.integers(0, 6)) == 0:
        e["data"] = "e30="
    return draw(bent(e)) if noisy else e


@st.composite
def lists(draw: st.DrawFn) -> tuple[bytes, str]:
    """A Docker list or OCI index (sometimes bent), and the type to parse it as."""
    noisy = draw(st.integers(0, 2)) == 0
    mime = draw(st.sampled_from(LIST_TYPES))
    body: dict[str, Any] = {"schemaVersion": 2}
    if mime == mt.DOCKER_V2_LIST or draw(st.booleans()):
        body["mediaType"] = mime
    body["manifests"] = draw(st.lists(entries(noisy), max_size=5))
    if mime == mt.OCI_INDEX:
        if draw(st.integers(0, 3)) == 0:
            body["annotations"] = draw(st.sampled_from([{}, {"org.opencontainers.image.ref.name": "x"}]))
        if draw(st.integers(0, 6)) == 0:
            body["artifactType"] = "application/vnd.example+json"
        if draw(st.integers(0, 6)) == 0:
            body["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "f" * 64, "size": 3}
    if noisy:
        body = draw(bent(body))
    return _encode(body), mime


def _parsed(blob: bytes, mime: str) -> ManifestList | None:
    """trustcopy's list, or None when trustcopy refuses it (parsing is compared in test_manifest_goracle.py)."""
    try:
        parsed = parse_manifest(blob, mime)
    except ManifestError:
        return None
    assert isinstance(parsed, ManifestList)
    return parsed


def _as_523(lst: ManifestList) -> ManifestList:
    """``lst`` without what 5.23's structs cannot hold.

    Known difference (OCIIndex docstring, trustcopy/manifest/lists.py): trustcopy clones an
    index keeping image-spec 1.1's fields (top-level ``artifactType`` and ``subject``,
    entries' ``data`` and ``artifactType``), as the newest containers/image does; 5.23's
    ``OCI1IndexFromComponents`` drops them.
    """
    if not isinstance(lst, OCIIndex):
        return lst
    manifests = tuple(dataclasses.replace(d, data=None, artifact_type=None) for d in lst.manifests)
    return dataclasses.replace(lst, artifact_type=None, subject=None, manifests=manifests)


def _new_values(lst: ManifestList, seed: int) -> dict[Digest, tuple[Digest, int, str]]:
    """New (digest, size, media type) for every distinct instance, as a copy of each would give."""
    out: dict[Digest, tuple[Digest, int, str]] = {}
    for i, d in enumerate(dict.fromkeys(lst.instances())):
        which = (seed + i) % 4
        new_digest = d if which == 0 else Digest("sha256", f"{(seed + i) % 16:x}" * 64)
        size = lst.instance(d).size if which == 0 else 100 + seed + i
        media_type = lst.instance(d).media_type if which == 0 else (mt.OCI_MANIFEST if which % 2 else mt.DOCKER_V2S2)
        out[d] = (new_digest, size, media_type or mt.OCI_MANIFEST)
    return out


# --- UpdateInstances, ConvertToMIMEType, and the rewrite decision ---------------------------


@settings(max_examples=200)
@given(lists(), st.one_of(st.none(), st.sampled_from(TARGETS)), st.integers(0, 9))
@example((b'{"schemaVersion": 2, "mediaType": "' + mt.DOCKER_V2_LIST.encode() + b'", "manifests": [{"mediaType": "'
          + mt.DOCKER_V2S2.encode() + b'", "digest": "sha256:' + b"a" * 64 + b'", "size": 1, "platform": {'
          b'"architecture": "amd64", "os": "linux", "features": ["sse4"], "os.features": ["b", "a"]}}]}',
          mt.DOCKER_V2_LIST), mt.OCI_INDEX, 0)  # features dropped, os.features kept in order
@example((b'{"schemaVersion": 2, "manifests": [{"mediaType": "' + mt.OCI_MANIFEST.encode() + b'", "digest": "sha256:'
          + b"a" * 64 + b'", "size": 1, "annotations": {"' + ZSTD.encode() + b'": "true"}, "urls": ["u"]}],'
          b' "annotations": {"k": "v"}}', mt.OCI_INDEX), mt.DOCKER_V2_LIST, 0)  # no platform: the host's
@example((b'{"schemaVersion": 2, "manifests": [{"mediaType": "x/y", "digest": "sha256:' + b"a" * 64
          + b'", "size": 1}, {"mediaType": "x/y", "digest": "sha256:' + b"a" * 64 + b'", "size": 1}]}',
          mt.OCI_INDEX), None, 1)  # a repeated instance: both entries updated
@example((b'{"schemaVersion": 2, "manifests": [{"mediaType": "x/y", "digest": "sha256:' + b"a" * 64
          + b'", "size": 1, "platform": {"architecture": "amd64", "os": "linux", "variant": ""}}]}',
          mt.OCI_INDEX), mt.OCI_INDEX, 0)  # an unchanged list keeps its bytes (variant "" is re-encoded away)
@example((b'{"schemaVersion": 2, "manifests": [{"mediaType": "x/y", "digest": "sha256:' + b"0" * 64
          + b'", "size": 0, "data": "e30=", "artifactType": "a/b"}], "artifactType": "a/b"}', mt.OCI_INDEX), None, 0)
@example((b'{"schemaVersion": 2, "manifests": [], "artifactType": "a/b"}', mt.OCI_INDEX), mt.OCI_MANIFEST, 0)
def test_list_rewrite_agrees_with_containers_image(oracle: Oracle, case: tuple[bytes, str], target: str | None,
                                                   seed: int) -> None:
    blob, mime = case
    lst = _parsed(blob, mime)
    if lst is None:
        return
    new = _new_values(lst, seed)
    go = _ask(oracle, blob, mime, target=target or "",
              listUpdates=[{"digest": str(new[d][0]), "size": new[d][1], "mediaType": new[d][2]}
                           for d in lst.instances()])
    assert "error" not in go and "updateError" not in go, go
    base = _as_523(lst)
    updated = base.with_instances(new)
    if target is not None and target != updated.media_type:
        try:
            updated = convert_list(updated, target)
        except ManifestError as exc:
            assert "convertError" in go, f"{blob!r} → {target}: c/image converts, we refuse: {exc.message}"
            assert exc.code == "manifest-conversion-unsupported"
            return
    assert "convertError" not in go, f"{blob!r} → {target}: we convert, c/image refuses: {go['convertError']}"
    assert updated.media_type == go["mime"]
    assert updated.serialize() == base64.b64decode(go["updated"]), blob
    # The decision copyMultipleImages makes: write new bytes only when they differ from the original's.
    go_changed = go["updated"] != go["serialized"]
    ours = rewritten_list(lst, new, target if target in LIST_TYPES else lst.media_type)
    if base != lst:
        # Known difference (_as_523): 5.23's clone loses entries' data and artifactType (so
        # it rewrites such an index), its parser the top-level artifactType and subject; the
        # newest containers/image (and we) keep them all, and they cannot decide: the list
        # without them is rewritten exactly when the list with them is.
        stripped = rewritten_list(base, new, target if target in LIST_TYPES else lst.media_type)
        assert (ours is not None) == (stripped is not None)
        return
    assert (ours is not None) == go_changed, blob
    if ours is not None:
        assert ours == base64.b64decode(go["updated"])


@settings(max_examples=100)
@given(lists(), st.integers(0, 9), st.sampled_from(["size", "type"]))
def test_invalid_updates_are_refused_as_containers_image_refuses(oracle: Oracle, case: tuple[bytes, str],
                                                                 seed: int, bad: str) -> None:
    blob, mime = case
    lst = _parsed(blob, mime)
    if lst is None or not lst.manifests:
        return
    new = _new_values(lst, seed)
    victim = lst.instances()[seed % len(lst.manifests)]
    d, size, media_type = new[victim]
    new[victim] = (d, -1, media_type) if bad == "size" else (d, size, "")
    go = _ask(oracle, blob, mime, listUpdates=[{"digest": str(new[x][0]), "size": new[x][1], "mediaType": new[x][2]}
                                               for x in lst.instances()])
    assert "updateError" in go, go
    with pytest.raises(ValueError, match="invalid update"):
        lst.with_instances(new)


@given(lists(), st.one_of(st.integers(0, 4), st.just(-1)))
def test_instance_lookup_agrees_with_containers_image(oracle: Oracle, case: tuple[bytes, str], which: int) -> None:
    blob, mime = case
    lst = _parsed(blob, mime)
    if lst is None:
        return
    known = lst.instances()
    wanted = str(known[which % len(known)]) if known and which >= 0 else "sha256:" + "9" * 64
    go = oracle.ask({"op": "instance", "blob": base64.b64encode(blob).decode("ascii"), "mime": mime,
                     "expected": wanted})
    try:
        d = lst.instance(Digest.parse(wanted))
    except ManifestError as exc:
        assert "instanceError" in go and exc.code == "manifest-instance-unknown", go
        return
    assert go["listUpdate"] == {"digest": str(d.digest), "size": d.size, "mediaType": d.media_type}


def test_many_entries_are_rewritten_like_containers_image(oracle: Oracle) -> None:
    body = {"schemaVersion": 2, "mediaType": mt.DOCKER_V2_LIST, "manifests": [
        {"mediaType": mt.DOCKER_V2S2, "digest": f"sha256:{i:064x}", "size": i,
         "platform": {"architecture": "amd64", "os": "linux", "variant": f"v{i}"}} for i in range(3000)]}
    blob = json.dumps(body).encode()
    lst = _parsed(blob, mt.DOCKER_V2_LIST)
    assert lst is not None
    new = {d: (Digest("sha256", f"{i + 1:064x}"), 7, mt.OCI_MANIFEST) for i, d in enumerate(lst.instances())}
    go = _ask(oracle, blob, mt.DOCKER_V2_LIST, target=mt.OCI_INDEX,
              listUpdates=[{"digest": str(v[0]), "size": v[1], "mediaType": v[2]} for v in new.values()])
    assert rewritten_list(lst, new, mt.OCI_INDEX) == base64.b64decode(go["updated"])


def test_annotations_and_artifact_types_are_dropped_not_refused_by_a_docker_list(oracle: Oracle) -> None:
    # Neither c/image (5.23 nor newest) refuses an index whose annotations, artifactType,
    # subject or entries' data a Docker list cannot hold: the conversion drops them.
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "artifactType": "a/b", "annotations": {"k": "v"},
            "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": 1,
                           "artifactType": "c/d", "data": "e30=", "annotations": {ZSTD: "true"},
                           "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}]}
    blob = json.dumps(body).encode()
    lst = _parsed(blob, mt.OCI_INDEX)
    assert lst is not None
    go = _ask(oracle, blob, mt.OCI_INDEX, target=mt.DOCKER_V2_LIST)
    converted = convert_list(lst, mt.DOCKER_V2_LIST)
    assert isinstance(converted, DockerManifestList)
    assert converted.serialize() == base64.b64decode(go["updated"])
    assert b"annotations" not in converted.serialize() and b"c/d" not in converted.serialize()


# --- newest containers/image only: choice by compression, and the zstd mark ----------------


def _entry(c: str, arch: str | None, *, zstd: bool = False, variant: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + c * 64, "size": 1}
    if arch is not None:
        e["platform"] = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
    if zstd:
        e["annotations"] = {ZSTD: "true"}
    return e


def _index(*manifests: dict[str, Any]) -> OCIIndex:
    lst = parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                     "manifests": list(manifests)}).encode(), mt.OCI_INDEX)
    assert isinstance(lst, OCIIndex)
    return lst


# Our own lists, with the cases of c/image's ChooseInstanceByCompression test: gzip and zstd
# variants of one platform, several gzip ones, platform-less entries of both kinds.
MIXED = _index(_entry("a", "amd64"), _entry("b", "amd64", zstd=True), _entry("c", "arm64"), _entry("d", "arm64"),
               _entry("e", "s390x"), _entry("1", "ppc64le", zstd=True), _entry("2", "ppc64le"),
               _entry("3", "ppc64le", zstd=True))
PLATFORMLESS = _index(_entry("4", None, zstd=True), _entry("5", None), _entry("6", None, zstd=True),
                      _entry("7", "arm", variant="v6", zstd=True), _entry("8", "arm", variant="v6"))


@pytest.mark.parametrize(("lst", "arch", "variant", "prefer_gzip", "expected"), [
    (MIXED, "amd64", None, False, "b"),  # gzip first, zstd second: the zstd one
    (MIXED, "amd64", None, True, "a"),
    (MIXED, "arm64", None, False, "c"),  # only gzip: the first
    (MIXED, "arm64", None, True, "c"),
    (MIXED, "s390x", None, True, "e"),
    (MIXED, "ppc64le", None, False, "1"),  # the first zstd even after a gzip one
    (MIXED, "ppc64le", None, True, "2"),  # the gzip one even when a zstd one comes first
    (PLATFORMLESS, "s390x", None, False, "4"),  # no platform matches: the first platform-less zstd
    (PLATFORMLESS, "s390x", None, True, "5"),
    (PLATFORMLESS, "arm", "v7", False, "7"),  # a compatible variant beats any platform-less entry
    (PLATFORMLESS, "arm", "v7", True, "8"),
])
def test_choice_by_compression_follows_newest_containers_image(lst: OCIIndex, arch: str, variant: str | None,
                                                               prefer_gzip: bool, expected: str) -> None:
    chosen = lst.choose_instance("linux", arch, variant, prefer_gzip=prefer_gzip)
    assert chosen.digest == Digest("sha256", expected * 64)


def test_no_match_is_an_error_whatever_the_preference() -> None:
    for prefer_gzip in (False, True):
        with pytest.raises(ManifestError) as caught:
            MIXED.choose_instance("linux", "riscv64", prefer_gzip=prefer_gzip)
        assert caught.value.code == "manifest-platform-not-found"


def test_a_docker_list_ignores_the_compression_preference() -> None:
    docker = convert_list(MIXED, mt.DOCKER_V2_LIST)
    assert docker.choose_instance("linux", "amd64", prefer_gzip=False).digest == Digest("sha256", "a" * 64)


A, B, C = (Digest("sha256", c * 64) for c in "abc")


def test_zstd_mark_is_added_to_updated_index_entries_keeping_others_and_order() -> None:
    lst = _index({**_entry("a", "amd64"), "annotations": {"x": "1", ZSTD: "false"}}, _entry("b", "arm64"),
                 _entry("a", "s390x"))
    new = lst.with_instances({A: (C, 9, mt.OCI_MANIFEST), B: (B, 1, mt.OCI_MANIFEST)}, zstd={A})
    assert [d.digest for d in new.manifests] == [C, B, C]  # no re-sorting for the mark (only for added entries)
    assert dict(new.manifests[0].annotations or {}) == {"x": "1", ZSTD: "true"}
    assert new.manifests[1].annotations is None
    assert dict(new.manifests[2].annotations or {}) == {ZSTD: "true"}  # both entries of a repeated instance


def test_zstd_mark_has_no_place_in_a_docker_list() -> None:
    docker = convert_list(_index(_entry("a", "amd64")), mt.DOCKER_V2_LIST)
    assert docker.with_instances({A: (A, 1, mt.OCI_MANIFEST)}, zstd={A}).serialize() == docker.clone().serialize()


def test_an_index_whose_zstd_instance_is_copied_unchanged_is_rewritten_with_the_mark() -> None:
    lst = _index(_entry("a", "amd64"))
    same = {A: (A, 1, mt.OCI_MANIFEST)}
    assert rewritten_list(lst, same, mt.OCI_INDEX) is None
    marked = rewritten_list(lst, same, mt.OCI_INDEX, zstd={A})
    assert marked is not None and ZSTD.encode() in marked
    already = _index(_entry("a", "amd64", zstd=True))  # already marked: nothing changes
    assert rewritten_list(already, same, mt.OCI_INDEX, zstd={A}) is None
    # Converted to a Docker list, the mark goes with the other annotations.
    assert rewritten_list(lst, same, mt.DOCKER_V2_LIST, zstd={A}) == \
        rewritten_list(lst, same, mt.DOCKER_V2_LIST)


def _image(layer_types: list[str], config_type: str = mt.OCI_CONFIG) -> Any:
    body = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": "sha256:" + "c" * 64, "size": 2},
            "layers": [{"mediaType": t, "digest": f"sha256:{i:064x}", "size": 3} for i, t in enumerate(layer_types)]}
    raw = json.dumps(body).encode()
    return parse_manifest(raw, mt.OCI_MANIFEST), CopyResult(raw, mt.OCI_MANIFEST, Digest.from_bytes(raw))


def test_which_copies_count_as_zstd() -> None:
    src, same = _image([mt.OCI_LAYER_GZIP, mt.OCI_LAYER_ZSTD])
    assert wrote_zstd_layers(src, same)  # a kept zstd layer counts, as c/image's copy reports it
    gzip_src, gzip_same = _image([mt.OCI_LAYER_GZIP])
    assert not wrote_zstd_layers(gzip_src, gzip_same)
    _, recompressed = _image([mt.OCI_LAYER_ZSTD])
    assert wrote_zstd_layers(gzip_src, recompressed)  # --dest-compress-format zstd
    _, encrypted = _image([mt.OCI_LAYER_ZSTD + "+encrypted"])
    assert wrote_zstd_layers(gzip_src, encrypted)  # compressed, then encrypted
    artifact, artifact_same = _image([mt.OCI_LAYER_ZSTD], config_type="application/vnd.example.config+json")
    assert not wrote_zstd_layers(artifact, artifact_same)  # an artifact's layers are opaque
    kept_encrypted, kept = _image([mt.OCI_LAYER_ZSTD + "+encrypted"])
    assert not wrote_zstd_layers(kept_encrypted, kept)
    docker = CopyResult(b"{}", mt.DOCKER_V2S2, Digest.from_bytes(b"{}"))
    assert not wrote_zstd_layers(src, docker)
    assert not wrote_zstd_layers(None, same)


def test_descriptor_annotations_stay_immutable_after_marking() -> None:
    lst = _index(_entry("a", "amd64"))
    new = lst.with_instances({A: (A, 1, mt.OCI_MANIFEST)}, zstd={A})
    entry: Descriptor = new.manifests[0]
    with pytest.raises(TypeError):
        entry.annotations[ZSTD] = "false"  # type: ignore[index]


def _index_layout(tmp_path: Path, zstd_annotated: bool) -> tuple[str, bytes]:
    """An OCI layout ``src`` whose tag ``t`` is an index over one image with a zstd layer."""
    import zstandard
    from imagefactory import make_image, make_index, random_layer
    from registry_signing import write_oci_list

    layer = random_layer(2000, seed=7)
    image = make_image([layer])
    manifest = json.loads(image.manifest)
    blob = zstandard.ZstdCompressor().compress(layer.tar)
    digest = str(Digest.from_bytes(blob))
    del image.blobs[manifest["layers"][0]["digest"]]
    image.blobs[digest] = blob
    manifest["layers"][0] = {"mediaType": mt.OCI_LAYER_ZSTD, "digest": digest, "size": len(blob)}
    image.manifest = json.dumps(manifest).encode()
    index, blobs = make_index([(image, {"architecture": "amd64", "os": "linux"})])
    if zstd_annotated:
        body = json.loads(index)
        body["manifests"][0]["annotations"] = {ZSTD: "true"}
        index = json.dumps(body).encode()
    write_oci_list(tmp_path / "src", "t", index, blobs)
    return f"oci:{tmp_path / 'src'}:t", index


def _written_index(path: Path) -> bytes:
    top = json.loads((path / "index.json").read_bytes())["manifests"][0]
    return (path / "blobs" / "sha256" / top["digest"].split(":", 1)[1]).read_bytes()


def test_copy_all_marks_zstd_instances_of_an_oci_index(run_cli: Any, tmp_path: Path, insecure_policy: Path) -> None:
    """As the newest containers/image: a copied instance with zstd layers gets the mark; the
    list then changes, which --preserve-digests refuses to do, so there it is not added."""
    src, index = _index_layout(tmp_path, zstd_annotated=False)
    base = ("--policy", str(insecure_policy), "copy", "--all")
    assert run_cli(*base, src, f"oci:{tmp_path / 'marked'}:t").exit_code == 0
    marked = json.loads(_written_index(tmp_path / "marked"))
    assert marked["manifests"][0]["annotations"] == {ZSTD: "true"}
    assert marked["manifests"][0]["digest"] == json.loads(index)["manifests"][0]["digest"]
    assert run_cli(*base, "--preserve-digests", src, f"oci:{tmp_path / 'kept'}:t").exit_code == 0
    assert _written_index(tmp_path / "kept") == index
    # Already marked: nothing to change, the original bytes are written.
    src2, index2 = _index_layout(tmp_path / "two", zstd_annotated=True)
    assert run_cli(*base, src2, f"oci:{tmp_path / 'same'}:t").exit_code == 0
    assert _written_index(tmp_path / "same") == index2
