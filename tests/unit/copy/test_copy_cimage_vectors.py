"""containers/image copy-pipeline decision vectors, restated for trustcopy.

Sources (read, not copied): containers/image copy/manifest_test.go —
TestDetermineManifestConversion (the main table, the cannotModifyManifestReason and
forceManifestMIMEType loops, the encrypted / zstd restriction table, the Xz table),
TestIsMultiImage, TestDetermineManifestListConversion — as in the newest
containers/image (container-libs image/copy). Where trustcopy deliberately differs the
vector asserts trustcopy's (fail-closed) answer and says so:
- trustcopy never writes schema1, so a plan that would convert to it fails later;
- a forced --format the destination does not list is refused up front (containers/image
  tries it and lets the destination reject the manifest after the blobs were written);
- no fallback candidates are tried after a destination rejects a manifest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer, make_image, make_index, make_tar, write_dir

from trustcopy.copy.multiple import _list_type_for
from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.copy.pipeline import copy_image
from trustcopy.copy.single import choose_manifest_type
from trustcopy.errors import EncryptionError, ManifestError, UsageError
from trustcopy.manifest import mediatypes as mt
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

OCI, S2, S1S, S1 = mt.OCI_MANIFEST, mt.DOCKER_V2S2, mt.DOCKER_V2S1_SIGNED, mt.DOCKER_V2S1
S1S2OCI = [OCI, S2, S1S, S1]
S1OCI = [OCI, S1S, S1]
S1S2 = [S2, S1S, S1]
ONLY_S1 = [S1S, S1]

# TestDetermineManifestConversion, main table: (case, source type, destination types, preferred type).
# The "special" cases use a list MIME type as an image type no destination lists.
MAIN_TABLE: list[tuple[str, str, list[str] | None, str]] = [
    ("s1→anything", S1S, None, S1S),
    ("s2→anything", S2, None, S2),
    ("s1→s1s2", S1S, S1S2, S1S),
    ("s2→s1s2", S2, S1S2, S2),
    ("s1→s1", S1S, ONLY_S1, S1S),
    ("s2→s1", S2, ONLY_S1, S1S),  # preferred s1 signed (trustcopy's conversion then refuses schema1)
    ("s2→OCI", S2, [OCI], OCI),
    ("special→s2", mt.DOCKER_V2_LIST, S1S2OCI, S2),  # schema2 preferred over the destination's first (OCI)
    ("special→s1", mt.DOCKER_V2_LIST, S1OCI, S1S),  # then signed schema1, before OCI
    ("special→OCI", mt.DOCKER_V2_LIST, [OCI, "other options", "with lower priority"], OCI),
]


@pytest.mark.parametrize(("case", "source", "dest", "expected"), MAIN_TABLE, ids=[c[0] for c in MAIN_TABLE])
def test_determine_manifest_conversion_main_table(case: str, source: str, dest: list[str] | None,
                                                  expected: str) -> None:
    assert choose_manifest_type(source, dest, None, what="d") == expected


@pytest.mark.parametrize(("case", "source", "dest", "expected"), MAIN_TABLE, ids=[c[0] for c in MAIN_TABLE])
def test_determine_manifest_conversion_forced_oci(case: str, source: str, dest: list[str] | None,
                                                  expected: str) -> None:
    # The forceManifestMIMEType loop: always OCI. Deliberate difference: a destination that
    # does not list OCI is refused before anything is written, instead of being tried.
    if dest is None or OCI in dest:
        assert choose_manifest_type(source, dest, OCI, what="d") == OCI
    else:
        with pytest.raises(ManifestError) as info:
            choose_manifest_type(source, dest, OCI, what="d")
        assert info.value.code == "manifest-type-unsupported"


def test_text_plain_schema1_is_normalized_before_choosing() -> None:
    # "text→s1s2" / "text→s1": text/plain is schema1 (signed), kept where the destination takes it.
    assert mt.normalize_mime_type("text/plain") == S1S
    assert choose_manifest_type(mt.normalize_mime_type("text/plain"), S1S2, None, what="d") == S1S
    assert choose_manifest_type(mt.normalize_mime_type("text/plain"), ONLY_S1, None, what="d") == S1S


@pytest.mark.parametrize(("mime", "expected"), [
    (mt.DOCKER_V2_LIST, True), (S2, False), (OCI, False), (mt.OCI_INDEX, True),
])
def test_is_multi_image(mime: str, expected: bool) -> None:  # TestIsMultiImage
    assert mt.is_list(mime) is expected


class _Dest:
    """Just enough of an ImageDestination for _list_type_for."""

    def __init__(self, supported: list[str] | None) -> None:
        self._supported = supported
        self.reference = "fake:"

    def supported_manifest_mime_types(self) -> list[str] | None:
        return self._supported


L_S1S2OCI = [mt.OCI_INDEX, OCI, mt.DOCKER_V2_LIST, S2, S1S, S1]
L_S1S2 = [mt.DOCKER_V2_LIST, S2, S1S, S1]
L_ONLY_OCI = [mt.OCI_INDEX, OCI]


# TestDetermineManifestListConversion: (case, source list type, destination types, selected type).
@pytest.mark.parametrize(("source", "dest", "expected"), [
    pytest.param(mt.DOCKER_V2_LIST, None, mt.DOCKER_V2_LIST, id="s2→anything"),
    pytest.param(mt.OCI_INDEX, None, mt.OCI_INDEX, id="OCI→anything"),
    pytest.param(mt.DOCKER_V2_LIST, L_S1S2OCI, mt.DOCKER_V2_LIST, id="s2→s1s2OCI"),
    pytest.param(mt.OCI_INDEX, L_S1S2OCI, mt.OCI_INDEX, id="OCI→s1s2OCI"),
    pytest.param(mt.DOCKER_V2_LIST, L_S1S2, mt.DOCKER_V2_LIST, id="s2→s1s2"),
    pytest.param(mt.OCI_INDEX, L_ONLY_OCI, mt.OCI_INDEX, id="OCI→OCI"),
    pytest.param("unrecognized", L_S1S2OCI, mt.OCI_INDEX, id="special→OCI"),
    pytest.param("unrecognized", L_S1S2, mt.DOCKER_V2_LIST, id="special→s2"),
    pytest.param(mt.DOCKER_V2_LIST, L_ONLY_OCI, mt.OCI_INDEX, id="s2list→OCI-only"),
])
def test_determine_list_conversion(source: str, dest: list[str] | None, expected: str) -> None:
    assert _list_type_for(source, _Dest(dest), None) == expected  # type: ignore[arg-type]
    # With a forced (image) type the list type follows it, whatever the destination lists
    # (copyMultipleImages maps schema1/schema2 to a Docker list, OCI to an OCI index).
    assert _list_type_for(source, _Dest(dest), OCI) == mt.OCI_INDEX  # type: ignore[arg-type]
    for forced in (S2, S1S, S1):
        assert _list_type_for(source, _Dest(dest), forced) == mt.DOCKER_V2_LIST  # type: ignore[arg-type]


def test_determine_list_conversion_without_list_types() -> None:
    with pytest.raises(ManifestError) as info:
        _list_type_for(mt.OCI_INDEX, _Dest(ONLY_S1), None)  # type: ignore[arg-type]
    assert info.value.code == "manifest-list-unsupported"


# --- The encrypted / zstd restriction table, through the real pipeline ------------------------

TARS = [make_tar([("a.txt", b"a" * 5000)])]


def _copy(src: str, dest: str, ctx: dict[str, Any] | None = None, **options: Any) -> Any:
    return copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest),
                      parse_image_name(src), CopyOptions(dest_ctx=SystemContext(**(ctx or {})), **options))


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, str]:
    write_dir(make_image([Layer(t) for t in TARS], docker=True), str(tmp_path / "s2"))
    write_dir(make_image([Layer(t) for t in TARS]), str(tmp_path / "oci"))
    return {"s2": f"dir:{tmp_path}/s2", "oci": f"dir:{tmp_path}/oci"}


ZSTD = {"compression_format": "zstd"}
# (case, source, destination kind, copy options, expected manifest type or None = refused)
ZSTD_TABLE: list[tuple[str, str, str, dict[str, Any], str | None]] = [
    ("OCI→anything", "oci", "dir", {}, OCI),
    ("s2→anything", "s2", "dir", {}, OCI),
    ("OCI→s2 (schema2-only destination)", "oci", "docker-archive", {}, None),
    ("s2→s2 (schema2-only destination)", "s2", "docker-archive", {}, None),
    ("OCI cannotModifyManifestReason", "oci", "dir", {"preserve_digests": True}, OCI),
    ("s2 cannotModifyManifestReason", "s2", "dir", {"preserve_digests": True}, S2),
    # No OCI candidate is an error even when the manifest may not change.
    ("s2 cannotModifyManifestReason, schema2-only destination", "s2", "docker-archive",
     {"preserve_digests": True}, None),
    ("OCI→OCI forced", "oci", "dir", {"force_manifest_type": OCI}, OCI),
    ("s2→OCI forced", "s2", "dir", {"force_manifest_type": OCI}, OCI),
    ("OCI→s2 forced", "oci", "dir", {"force_manifest_type": S2}, None),
    ("s2→s2 forced", "s2", "dir", {"force_manifest_type": S2}, None),
]


@pytest.mark.parametrize(("case", "source", "kind", "options", "expected"), ZSTD_TABLE,
                         ids=[c[0] for c in ZSTD_TABLE])
@pytest.mark.parametrize("dest_compress", [False, True])
def test_zstd_restricts_the_manifest_to_oci(tmp_path: Path, sources: dict[str, str], case: str, source: str,
                                            kind: str, options: dict[str, Any], expected: str | None,
                                            dest_compress: bool) -> None:
    out = tmp_path / "out"
    dest = f"dir:{out}" if kind == "dir" else f"docker-archive:{out}:a/b:c"
    ctx = {**ZSTD, "dest_compress": dest_compress} if kind == "dir" else ZSTD
    if expected is None:
        with pytest.raises(ManifestError) as info:
            _copy(sources[source], dest, ctx, **options)
        assert info.value.code == "manifest-layer-compression-unsupported"
        assert not out.exists()
        return
    result = _copy(sources[source], dest, ctx, **options)
    assert result.media_type == expected
    assert json.loads((out / "manifest.json").read_bytes()).get("mediaType") == expected


@pytest.mark.parametrize("algorithm", ["xz", "bzip2", "zstd:chunked"])
def test_compression_no_manifest_supports_is_refused(tmp_path: Path, sources: dict[str, str], algorithm: str) -> None:
    # The Xz table: every case fails (trustcopy: before anything is opened for writing).
    with pytest.raises(UsageError) as info:
        _copy(sources["s2"], f"dir:{tmp_path}/out", {"compression_format": algorithm})
    assert info.value.code == "invalid-compression"
    assert not (tmp_path / "out").exists()


def _schema1_dir(path: Path) -> None:
    import gzip
    import hashlib

    path.mkdir()
    blob = gzip.compress(TARS[0], mtime=0)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    (path / digest[7:]).write_bytes(blob)
    v1 = json.dumps({"id": "a" * 64, "created": "2020-01-01T00:00:00Z", "architecture": "amd64", "os": "linux"})
    (path / "manifest.json").write_text(json.dumps({
        "schemaVersion": 1, "name": "x/y", "tag": "latest", "architecture": "amd64",
        "fsLayers": [{"blobSum": digest}], "history": [{"v1Compatibility": v1}]}, indent=3))
    (path / "version").write_text("Directory Transport Version: 1.1\n")


@pytest.mark.parametrize("dest_compress", [False, True])
def test_zstd_from_schema1_converts_to_oci(tmp_path: Path, dest_compress: bool) -> None:
    # containers/image plans schema1 → OCI for zstd ("s1→anything" under the zstd restriction),
    # and so does trustcopy now that it converts schema1 (trustcopy/manifest/schema1convert.py).
    import gzip
    import hashlib

    import zstandard

    _schema1_dir(tmp_path / "s1")
    result = _copy(f"dir:{tmp_path}/s1", f"dir:{tmp_path}/out", {**ZSTD, "dest_compress": dest_compress})
    doc = json.loads(result.manifest)
    assert result.media_type == OCI and doc["mediaType"] == OCI
    # dir: recompresses only with --dest-compress; otherwise the layer keeps its gzip bytes.
    compression = "zstd" if dest_compress else "gzip"
    assert [la["mediaType"] for la in doc["layers"]] == [f"application/vnd.oci.image.layer.v1.tar+{compression}"]
    blob = (tmp_path / "out" / doc["layers"][0]["digest"][7:]).read_bytes()
    unpack = zstandard.ZstdDecompressor().decompressobj().decompress if dest_compress else gzip.decompress
    assert unpack(blob) == TARS[0]
    config = json.loads((tmp_path / "out" / doc["config"]["digest"][7:]).read_bytes())
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(TARS[0]).hexdigest()]
    # Without zstd the schema1 image is copied unchanged (main table "s1→anything").
    result = _copy(f"dir:{tmp_path}/s1", f"dir:{tmp_path}/plain")
    assert result.manifest == (tmp_path / "s1" / "manifest.json").read_bytes()


@pytest.fixture
def encryption(tmp_path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from trustcopy import ocicrypt

    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "k.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return ocicrypt.EncryptionConfig(recipients=(ocicrypt.load_encryption_key(f"jwe:{public}"),))


# The "encrypted" restriction: (case, source, destination kind, options, expected type or None).
ENCRYPTED_TABLE: list[tuple[str, str, str, dict[str, Any], str | None]] = [
    ("OCI→anything", "oci", "dir", {}, OCI),
    ("s2→anything", "s2", "dir", {}, OCI),
    ("OCI→s2 (schema2-only destination)", "oci", "docker-archive", {}, None),
    ("s2→s2 (schema2-only destination)", "s2", "docker-archive", {}, None),
    ("OCI→OCI forced", "oci", "dir", {"force_manifest_type": OCI}, OCI),
    ("s2→OCI forced", "s2", "dir", {"force_manifest_type": OCI}, OCI),
    ("OCI→s2 forced", "oci", "dir", {"force_manifest_type": S2}, None),
    ("s2→s2 forced", "s2", "dir", {"force_manifest_type": S2}, None),
]


@pytest.mark.parametrize(("case", "source", "kind", "options", "expected"), ENCRYPTED_TABLE,
                         ids=[c[0] for c in ENCRYPTED_TABLE])
def test_encryption_restricts_the_manifest_to_oci(tmp_path: Path, sources: dict[str, str], encryption: Any,
                                                  case: str, source: str, kind: str, options: dict[str, Any],
                                                  expected: str | None) -> None:
    out = tmp_path / "out"
    dest = f"dir:{out}" if kind == "dir" else f"docker-archive:{out}:a/b:c"
    if expected is None:
        with pytest.raises(EncryptionError) as info:
            _copy(sources[source], dest, encryption=encryption, **options)
        assert info.value.code == "encryption-needs-oci"
        assert not out.exists()
        return
    result = _copy(sources[source], dest, encryption=encryption, **options)
    assert result.media_type == expected
    layer = json.loads((out / "manifest.json").read_bytes())["layers"][0]
    assert layer["mediaType"].endswith("+encrypted")


def test_encrypted_source_without_keys_cannot_become_schema2(tmp_path: Path, sources: dict[str, str],
                                                            encryption: Any) -> None:
    # requiresOCIEncryption also holds for an encrypted source copied without decryption keys.
    _copy(sources["s2"], f"oci:{tmp_path}/enc:t", encryption=encryption)
    for dest, options in ((f"docker-archive:{tmp_path}/out.tar:a/b:c", {}),
                          (f"dir:{tmp_path}/out", {"force_manifest_type": S2})):
        with pytest.raises(ManifestError):
            _copy(f"oci:{tmp_path}/enc:t", dest, **options)
    assert not os.path.exists(tmp_path / "out.tar") and not (tmp_path / "out").exists()
    assert _copy(f"oci:{tmp_path}/enc:t", f"dir:{tmp_path}/kept").media_type == OCI  # "OCI→anything"


# --- copyMultipleImages: cannotModifyManifestListReason --------------------------------------

def test_list_conversion_refused_before_any_instance_is_copied(tmp_path: Path) -> None:
    # copyMultipleImages: a list that must be converted (Docker list → oci:, which takes
    # only an OCI index) while it may not change fails before the first instance.
    amd = make_image([Layer(make_tar([("amd", b"amd64")]))], arch="amd64", docker=True)
    arm = make_image([Layer(make_tar([("arm", b"arm64")]))], arch="arm64", docker=True)
    index, blobs = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                               (arm, {"architecture": "arm64", "os": "linux"})], docker=True)
    src = tmp_path / "list"
    src.mkdir()
    for d, data in blobs.items():
        name = f"{d.split(':')[1]}.manifest.json" if d in (amd.digest, arm.digest) else d.split(":")[1]
        (src / name).write_bytes(data)
    (src / "manifest.json").write_bytes(index)
    (src / "version").write_text("Directory Transport Version: 1.1\n")
    with pytest.raises(ManifestError) as info:
        _copy(f"dir:{src}", f"oci:{tmp_path}/out:t", image_list_selection=ImageListSelection.ALL,
              preserve_digests=True)
    assert info.value.code == "manifest-conversion-refused"
    assert "manifest list" in info.value.message and "--preserve-digests" in info.value.message
    assert not (tmp_path / "out").exists()
    # Allowed to change, the list becomes an OCI index.
    result = _copy(f"dir:{src}", f"oci:{tmp_path}/ok:t", image_list_selection=ImageListSelection.ALL)
    assert result.media_type == mt.OCI_INDEX
