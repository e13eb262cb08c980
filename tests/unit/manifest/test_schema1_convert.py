"""Schema1 images converted and updated as containers/image does (trustcopy/manifest/schema1convert.py),
and the copy pipeline around it (diff IDs computed while copying; bad input refused before anything
is written). Byte comparisons with skopeo itself are in tests/integration/test_conversions_vs_skopeo_s26.py;
generated histories against containers/image in test_schema1_convert_goracle.py.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.copy.blobs import _DiffIDTap
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, TransportError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.parse import parse_manifest
from trustcopy.manifest.schema1 import Schema1Manifest
from trustcopy.manifest.schema1convert import (
    LAYER_TYPE,
    convert_schema1,
    docker_version_less,
    to_schema2_config,
    updated_schema1,
)
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import BlobInfo, SystemContext

EMPTY_TAR_GZ = gzip.compress(b"\0" * 1024, mtime=0)
TAR = b"t" * 1500 + b"\0" * 548  # (the bytes need not be a tar: nothing looks inside)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(entries: list[dict[str, Any]], blobs: list[bytes]) -> bytes:
    """A schema1 manifest from v1Compatibility objects and blobs, both base first (IDs and parents added)."""
    ids = [hashlib.sha256(f"id{i}".encode()).hexdigest() for i in range(len(entries))]
    history = []
    for i, entry in enumerate(entries):
        v1 = {"id": ids[i], **({"parent": ids[i - 1]} if i else {}), **entry}
        history.append({"v1Compatibility": json.dumps(v1)})
    return json.dumps({"schemaVersion": 1, "name": "a/b", "tag": "1", "architecture": "amd64",
                       "fsLayers": [{"blobSum": _sha(b)} for b in reversed(blobs)],
                       "history": list(reversed(history))}, indent=3).encode()


def _parse(raw: bytes) -> Schema1Manifest:
    m = parse_manifest(raw, None, source="test")
    assert isinstance(m, Schema1Manifest)
    return m


LAYER = gzip.compress(TAR, mtime=0)
ENTRIES = [
    {"created": "2020-01-01T00:00:00Z", "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) ADD x"]}},
    {"created": "2020-01-02T00:00:00Z", "author": "me", "comment": "c", "throwaway": True,
     "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) ENV A=1"]},
     "architecture": "arm64", "os": "linux", "config": {"Env": ["A=1"]}, "Size": 7, "layer_id": "x",
     "parent_id": "y", "zzz": {"b": 1, "a": [1, 2]}},
]
BLOBS = [LAYER, EMPTY_TAR_GZ]


def test_config_keeps_the_newest_entry_drops_ids_and_adds_rootfs_and_history() -> None:
    m = _parse(_manifest(ENTRIES, BLOBS))
    assert m.empty_layers == (False, True)
    config = json.loads(to_schema2_config(m, [_sha(TAR)]))
    assert list(config) == sorted(config)
    assert {"id", "parent", "Size", "layer_id", "parent_id", "throwaway"}.isdisjoint(config)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [_sha(TAR)]}
    assert config["history"] == [
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD x"},
        {"created": "2020-01-02T00:00:00Z", "author": "me", "created_by": "/bin/sh -c #(nop) ENV A=1",
         "comment": "c", "empty_layer": True}]
    assert config["zzz"] == {"b": 1, "a": [1, 2]} and config["architecture"] == "arm64"


def test_config_keeps_raw_member_text_compacted_with_go_escaping() -> None:
    v1 = '{"id":"' + "a" * 64 + '", "n" : 1.50E+3 , "s": "<\\u00e9>\\/", "o": { "k" : [ 1 , 2 ] }}'
    raw = json.dumps({"schemaVersion": 1, "fsLayers": [{"blobSum": _sha(LAYER)}],
                      "history": [{"v1Compatibility": v1}]}).encode()
    out = to_schema2_config(_parse(raw), [_sha(TAR)])
    assert b'"n":1.50E+3' in out and b'"s":"\\u003c\\u00e9\\u003e\\/"' in out and b'"o":{"k":[1,2]}' in out


def test_config_without_non_empty_layers_has_no_diff_ids() -> None:
    m = _parse(_manifest([{"throwaway": True}], [EMPTY_TAR_GZ]))
    assert json.loads(to_schema2_config(m, []))["rootfs"] == {"type": "layers"}


def test_old_docker_versions_are_re_encoded_from_the_struct() -> None:
    entry = {"docker_version": "1.8.2", "unknown": 1, "config": {"Cmd": "sh", "Labels": {"b": "1", "a": "2"}}}
    config = to_schema2_config(_parse(_manifest([entry], [LAYER])), [_sha(TAR)])
    doc = json.loads(config)
    assert "unknown" not in doc  # only the struct's fields survive
    assert doc["config"]["Cmd"] == ["sh"] and list(doc["config"]["Labels"]) == ["a", "b"]
    assert doc["created"] == "0001-01-01T00:00:00Z" and doc["container_config"]["Env"] is None
    newer = json.loads(to_schema2_config(_parse(_manifest([{**entry, "docker_version": "1.8.3"}], [LAYER])),
                                         [_sha(TAR)]))
    assert newer["unknown"] == 1 and newer["config"]["Cmd"] == "sh"


@pytest.mark.parametrize(("version", "less"), [("1.8.2", True), ("1.8.3", False), ("1.10", False), ("0.9.9", True),
                                               ("abc", True), ("1.8.3.0", False), ("1.8.2.9", True), ("+1.9", False),
                                               ("1.8.3-rc1", True), ("99999999999999999999", False)])
def test_docker_version_less(version: str, less: bool) -> None:
    assert docker_version_less(version, "1.8.3") is less


def test_bad_config_types_are_named_errors() -> None:
    m = _parse(_manifest([{"config": {"Cmd": 5}}], [LAYER]))
    with pytest.raises(ManifestError) as info:
        to_schema2_config(m, [_sha(TAR)])
    assert info.value.code == "schema1-conversion-invalid" and "config.Cmd" in info.value.message


@pytest.mark.parametrize("target", [mt.DOCKER_V2S2, mt.OCI_MANIFEST])
def test_convert_lists_non_empty_layers_as_gzip_with_stored_sizes(target: str) -> None:
    m = _parse(_manifest(ENTRIES, BLOBS))
    stored = [BlobInfo(digest=Digest.parse(_sha(b)), size=len(b) + 1, media_type=LAYER_TYPE) for b in BLOBS]
    out, config = convert_schema1(m, target, stored, [False, False], [Digest.parse(_sha(TAR)), None])
    doc = json.loads(out.raw)
    assert out.media_type == target and config is not None
    assert doc["config"]["digest"] == _sha(config) and doc["config"]["size"] == len(config)
    gzip_type = LAYER_TYPE if target == mt.DOCKER_V2S2 else mt.OCI_LAYER_GZIP
    assert doc["layers"] == [{"mediaType": gzip_type, "size": len(LAYER) + 1, "digest": _sha(LAYER)}] or \
        doc["layers"] == [{"mediaType": gzip_type, "digest": _sha(LAYER), "size": len(LAYER) + 1}]
    if target == mt.OCI_MANIFEST:
        assert json.loads(config)["rootfs"]["diff_ids"] == [_sha(TAR)]


def test_convert_takes_changed_layers_from_the_copy() -> None:
    m = _parse(_manifest(ENTRIES, BLOBS))
    stored = [BlobInfo(digest=Digest.parse(_sha(TAR)), size=len(TAR), media_type=mt.OCI_LAYER),
              BlobInfo(digest=Digest.parse(_sha(b"\0" * 1024)), size=1024, media_type=mt.OCI_LAYER)]
    out, _config = convert_schema1(m, mt.OCI_MANIFEST, stored, [True, True], [Digest.parse(_sha(TAR)), None])
    layers = json.loads(out.raw)["layers"]
    assert [(la["mediaType"], la["digest"], la["size"]) for la in layers] == [(mt.OCI_LAYER, _sha(TAR), len(TAR))]


def test_convert_without_a_diff_id_fails() -> None:
    m = _parse(_manifest(ENTRIES, BLOBS))
    stored = [BlobInfo(digest=Digest.parse(_sha(b)), size=len(b)) for b in BLOBS]
    with pytest.raises(ManifestError) as info:
        convert_schema1(m, mt.DOCKER_V2S2, stored, [False, False], [None, None])
    assert info.value.code == "schema1-conversion-invalid"


def test_updated_schema1_is_the_unsigned_payload_with_new_blob_sums() -> None:
    m = _parse(_manifest(ENTRIES, BLOBS))
    new = [Digest.parse(_sha(TAR)), Digest.parse(_sha(b"\0" * 1024))]
    out = updated_schema1(m, [BlobInfo(digest=d, size=1) for d in new])
    doc = json.loads(out)
    assert list(doc) == ["name", "tag", "architecture", "fsLayers", "history", "schemaVersion"]
    assert [f["blobSum"] for f in doc["fsLayers"]] == [str(d) for d in reversed(new)]
    assert _parse(out).media_type == mt.DOCKER_V2S1
    with pytest.raises(ManifestError) as info:
        updated_schema1(m, [BlobInfo(digest=d, size=1, media_type=mt.OCI_LAYER_ZSTD) for d in new])
    assert info.value.code == "manifest-layer-compression-unsupported"


def test_bad_manifests_are_refused_when_parsed() -> None:
    raw = json.loads(_manifest(ENTRIES, BLOBS))
    raw["fsLayers"].pop()
    with pytest.raises(ManifestError):
        parse_manifest(json.dumps(raw).encode(), None, source="t")
    raw = json.loads(_manifest(ENTRIES, BLOBS))
    raw["history"][0]["v1Compatibility"] = "{not json"
    with pytest.raises(ManifestError):
        parse_manifest(json.dumps(raw).encode(), None, source="t")


# -- the diff ID tap ----------------------------------------------------------------------

# (mtime=0 and ids: xdist's workers must collect the same test names; a timestamp differed.)
@pytest.mark.parametrize("data", [TAR, gzip.compress(TAR, mtime=0),
                                  gzip.compress(TAR[:9], mtime=0) + gzip.compress(TAR[9:], mtime=0), b""],
                         ids=["uncompressed", "gzip", "gzip-two-members", "empty"])
def test_tap_passes_bytes_through_and_computes_the_diff_id(data: bytes) -> None:
    tap = _DiffIDTap(io.BytesIO(data), "blob")
    got = b""
    while chunk := tap.read(7):
        got += chunk
    assert got == data
    plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert str(tap.result()) == _sha(plain)


def test_tap_reads_what_the_copy_left() -> None:
    tap = _DiffIDTap(io.BytesIO(LAYER), "blob")
    tap.read(3)
    assert str(tap.result()) == _sha(TAR)


def _hostile_zstd() -> bytes:
    """A zstd frame declaring a 1 GiB window (a decompression "bomb" header) around 100 raw bytes."""
    return bytes.fromhex("28b52ffd") + bytes([0x00, 20 << 3]) + ((100 << 3) | 1).to_bytes(3, "little") + b"x" * 100


@pytest.mark.parametrize("data", [b"\x1f\x8b\x08\x00garbage-not-deflate" * 3, LAYER[:-6], _hostile_zstd()],
                         ids=["not-deflate", "truncated-gzip", "zstd-1gib-window"])
def test_tap_refuses_layers_whose_diff_id_cannot_be_computed(data: bytes) -> None:
    tap = _DiffIDTap(io.BytesIO(data), "blob X")
    with pytest.raises(TransportError) as info:
        while tap.read(1 << 20):
            pass
        tap.result()
    assert info.value.code == "corrupt-compressed-data" and "blob X" in info.value.message
    tap.close()


# -- copies -------------------------------------------------------------------------------

def _dir(path: Path, raw: bytes, blobs: list[bytes]) -> str:
    path.mkdir()
    for b in blobs:
        (path / hashlib.sha256(b).hexdigest()).write_bytes(b)
    (path / "manifest.json").write_bytes(raw)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    return f"dir:{path}"


def _copy(src: str, dest: str, ctx: dict[str, Any] | None = None, **options: Any) -> Any:
    return copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest),
                      parse_image_name(src), CopyOptions(dest_ctx=SystemContext(**(ctx or {})), **options))


def test_copy_to_oci_writes_the_converted_image_and_every_layer_blob(tmp_path: Path) -> None:
    src = _dir(tmp_path / "s", _manifest(ENTRIES, BLOBS), BLOBS)
    result = _copy(src, f"oci:{tmp_path}/o:x")
    doc = json.loads(result.manifest)
    assert result.media_type == mt.OCI_MANIFEST and "signatures" not in doc
    names = {p.name for p in (tmp_path / "o" / "blobs" / "sha256").iterdir()}
    assert hashlib.sha256(EMPTY_TAR_GZ).hexdigest() in names  # the throwaway layer's blob, as skopeo
    config = json.loads((tmp_path / "o" / "blobs" / "sha256" / doc["config"]["digest"][7:]).read_bytes())
    assert config["rootfs"]["diff_ids"] == [_sha(TAR)]


def test_copy_with_dest_decompress_rewrites_schema1_signed_by_a_throwaway_key(tmp_path: Path) -> None:
    from trustcopy.manifest.digest import jws_payload

    src = _dir(tmp_path / "s", _manifest(ENTRIES, BLOBS), BLOBS)
    result = _copy(src, f"dir:{tmp_path}/d", {"dest_decompress": True})
    assert result.media_type == mt.DOCKER_V2S1_SIGNED  # (test_schema1_sign.py verifies such signatures)
    assert (tmp_path / "d" / "manifest.json").read_bytes() == result.manifest
    m = _parse(result.manifest)
    payload = jws_payload(result.manifest)
    assert result.digest == Digest.from_bytes(payload)
    assert payload == updated_schema1(m, [BlobInfo(digest=Digest.parse(_sha(TAR)), size=1),
                                          BlobInfo(digest=Digest.parse(_sha(b"\0" * 1024)), size=1)])
    doc = json.loads(result.manifest)
    assert [f["blobSum"] for f in doc["fsLayers"]] == [_sha(b"\0" * 1024), _sha(TAR)]
    assert (tmp_path / "d" / hashlib.sha256(TAR).hexdigest()).read_bytes() == TAR


@pytest.mark.parametrize("why", ["config", "corrupt", "bomb"])
def test_bad_input_writes_nothing(tmp_path: Path, why: str) -> None:
    entries, blobs = [dict(e) for e in ENTRIES], list(BLOBS)
    if why == "config":
        entries[1]["config"] = {"Labels": {"a": 1}}
    elif why == "corrupt":
        blobs[0] = LAYER[:-6]
    else:
        blobs[0] = _hostile_zstd()
    src = _dir(tmp_path / "s", _manifest(entries, blobs), blobs)
    with pytest.raises((ManifestError, TransportError)) as info:
        _copy(src, f"oci:{tmp_path}/o:x")
    assert info.value.code == ("schema1-conversion-invalid" if why == "config" else "corrupt-compressed-data")
    assert not (tmp_path / "o").exists()


def test_preserve_digests_refuses_the_conversion(tmp_path: Path) -> None:
    src = _dir(tmp_path / "s", _manifest(ENTRIES, BLOBS), BLOBS)
    with pytest.raises(ManifestError) as info:
        _copy(src, f"oci:{tmp_path}/o:x", preserve_digests=True)
    assert info.value.code == "manifest-conversion-refused"
    assert not (tmp_path / "o").exists()


def test_each_layer_is_read_once_and_diff_ids_only_when_converting(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.copy import blobs
    from trustcopy.transports.dir import DirImageSource

    reads: list[str] = []
    original = DirImageSource.get_blob

    def counting(self: DirImageSource, info: BlobInfo) -> Any:
        reads.append(str(info.digest))
        return original(self, info)

    monkeypatch.setattr(DirImageSource, "get_blob", counting)
    src = _dir(tmp_path / "s", _manifest(ENTRIES, BLOBS), BLOBS)
    _copy(src, f"docker-archive:{tmp_path}/a.tar:x/y:1")  # (a destination that takes one blob at a time)
    assert sorted(reads) == sorted(_sha(b) for b in BLOBS)
    taps: list[object] = []
    real_tap = blobs._DiffIDTap

    def watched(*args: Any, **kwargs: Any) -> Any:
        taps.append(args)
        return real_tap(*args, **kwargs)

    monkeypatch.setattr(blobs, "_DiffIDTap", watched)
    _copy(src, f"dir:{tmp_path}/same")  # kept as schema1: no diff IDs computed
    assert taps == []
    _copy(src, f"oci:{tmp_path}/o:x")
    assert len(taps) == len(BLOBS)
