"""More containers/image copy vectors, restated: signing identities, instance choice, blob reuse.

Each table cites the Go test (and case) it restates. Sources: containers/image copy/sign_test.go
(TestCreateSignatures), copy/multiple_test.go (prepareInstanceCopies), copy/single_test.go and
copy/blob_test.go (updatedBlobInfoFromReuse / updatedBlobInfoFromUpload, computeDiffID),
copy/digesting_reader_test.go, internal/pkg/platform/platform_matcher_test.go (WantedPlatforms),
internal/manifest/list_test.go (TestChooseInstance) and oci_index_test.go
(TestOCI1IndexChooseInstanceByCompression), and copy/single.go's skip-identical rule
(compareImageDestinationManifestEqual and the conditions that guard it). Where 5.23 and the
current containers/image differ (the zstd instance preference), these follow the current one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from imagefactory import Layer, example_image, make_image, make_index, make_tar, write_dir, write_oci

from trustcopy.copy.evaluate import wanted_platform
from trustcopy.copy.options import FORMATS, CopyOptions, ImageListSelection
from trustcopy.copy.pipeline import copy_image
from trustcopy.copy.progress import BlobDone, BlobStarted
from trustcopy.copy.single import new_signatures
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import DigestMismatchError, ManifestError, SignatureError, TrustcopyError, UsageError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.lists import ZSTD_INSTANCE_ANNOTATION, wanted_variants
from trustcopy.manifest.parse import parse_manifest_list
from trustcopy.reference import parse_named
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext


class _Allowed:
    allowed = True


class _AcceptAll:
    """A policy stand-in that allows everything (these tests are about copying)."""

    def evaluate(self, unparsed: object) -> _Allowed:
        return _Allowed()


def _copy(src: str, dest: str, **kw: Any) -> Any:
    return copy_image(_AcceptAll(), parse_image_name(dest), parse_image_name(src), CopyOptions(**kw))  # type: ignore[arg-type]


# --- copy/sign_test.go TestCreateSignatures ---------------------------------------------------

class _StubSigner:
    """As the Go test's stubSignerImpl: records what would be signed instead of signing."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[bytes, str]] = []

    def __call__(self, manifest: bytes, identity: str, key: str, *, passphrase: str | None = None,
                 gnupg_home: str | None = None) -> bytes:
        if self.fail:
            raise SignatureError("fails")
        self.calls.append((manifest, identity))
        return b"\x88stub"


@pytest.fixture
def stub_signer(monkeypatch: pytest.MonkeyPatch) -> _StubSigner:
    stub = _StubSigner()
    monkeypatch.setattr("trustcopy.signature.simple.sign_simple_signing", stub)
    # The stub has no key to check before copying (copy/pipeline.py checks a real one first).
    monkeypatch.setattr("trustcopy.signature.gpg.check_signing_key", lambda *_a, **_k: None)
    return stub


KEY = "F" * 40
MANIFEST = b"Something"

# (Go case name, destination, --sign-identity, signers, signed identity or None for an error,
#  or "" for "no signature, no error")
CREATE_SIGNATURES = [
    ("signing fails", "docker://busybox", None, "failing-gpg", None),
    ("second signing fails", "docker://busybox", None, "gpg+failing-sigstore", None),
    ("not a full reference", "docker://busybox", "myregistry.io/myrepo", "gpg", None),
    ("dir: with no identity specified, but no signing request", "dir:/tmp/trustcopy-sign-vector", None, "none", ""),
    ("dir: with no identity specified", "dir:/tmp/trustcopy-sign-vector", None, "gpg", None),
    ("dir: with overridden identity", "dir:/tmp/trustcopy-sign-vector", "myregistry.io/myrepo:mytag", "gpg",
     "myregistry.io/myrepo:mytag"),
    ("docker:// without overriding the identity", "docker://busybox", None, "gpg",
     "docker.io/library/busybox:latest"),
    ("docker:// with overridden identity", "docker://busybox", "myregistry.io/myrepo:mytag", "gpg",
     "myregistry.io/myrepo:mytag"),
    # Not in the Go table, same rule (reference.IsNameOnly is false for a digest reference):
    ("digest identity", "dir:/tmp/trustcopy-sign-vector", "myregistry.io/myrepo@sha256:" + "a" * 64, "gpg",
     "myregistry.io/myrepo@sha256:" + "a" * 64),
]


@pytest.mark.parametrize(("name", "dest", "identity", "signers", "expected"), CREATE_SIGNATURES,
                         ids=[c[0] for c in CREATE_SIGNATURES])
def test_create_signatures_identity_rules(stub_signer: _StubSigner, tmp_path: Path, name: str, dest: str,
                                          identity: str | None, signers: str, expected: str | None) -> None:
    stub_signer.fail = signers == "failing-gpg"
    options = CopyOptions(
        sign_by=KEY if signers != "none" else None,
        sign_identity=parse_named(identity) if identity else None,
        sign_by_sigstore_private_key=str(tmp_path / "missing.key") if "sigstore" in signers else None,
        # (the sigstore signer then fails: no passphrase; skopeo allows one passphrase for one signer)
    )
    destination = SimpleNamespace(reference=parse_image_name(dest))
    if expected is None:
        with pytest.raises(TrustcopyError) as info:
            new_signatures(MANIFEST, destination, options)  # type: ignore[arg-type]
        if name == "not a full reference":
            assert isinstance(info.value, UsageError) and info.value.code == "sign-identity-required"
            assert "fully specified" in str(info.value) and stub_signer.calls == []
        if name == "dir: with no identity specified":
            assert isinstance(info.value, UsageError) and info.value.code == "sign-identity-required"
        return
    sigs = new_signatures(MANIFEST, destination, options)  # type: ignore[arg-type]
    if expected == "":
        assert sigs == [] and stub_signer.calls == []
        return
    assert len(sigs) == 1
    assert stub_signer.calls == [(MANIFEST, expected)]


def _list_layout(tmp_path: Path) -> Path:
    amd = make_image([Layer(make_tar([("amd", b"amd64")]))], arch="amd64")
    arm = make_image([Layer(make_tar([("arm", b"arm64")]))], arch="arm64", variant="v8")
    index, blobs = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                               (arm, {"architecture": "arm64", "os": "linux", "variant": "v8"})])
    path = tmp_path / "multi"
    os.makedirs(path / "blobs" / "sha256")
    for d, data in {**blobs, str(Digest.from_bytes(index)): index}.items():
        (path / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": mt.OCI_INDEX, "digest": str(Digest.from_bytes(index)), "size": len(index),
        "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    return path


@pytest.mark.parametrize("selection", [ImageListSelection.SYSTEM, ImageListSelection.ALL])
@pytest.mark.parametrize("signer", ["gpg", "sigstore"])
def test_name_only_sign_identity_is_refused_before_anything_is_written(
        stub_signer: _StubSigner, tmp_path: Path, selection: ImageListSelection, signer: str) -> None:
    # TestCreateSignatures "not a full reference", through the pipeline: skopeo 1.9.3 refuses it
    # too, but only after writing the manifest; trustcopy refuses before the first blob.
    src = _list_layout(tmp_path)
    kw: dict[str, Any] = {"sign_by": KEY} if signer == "gpg" else {
        "sign_by_sigstore_private_key": str(tmp_path / "k.key"), "sign_passphrase": "x"}
    with pytest.raises(UsageError) as info:
        _copy(f"oci:{src}:multi", f"dir:{tmp_path / 'out'}", image_list_selection=selection,
              source_ctx=SystemContext(override_arch="amd64", override_os="linux"),
              sign_identity=parse_named("myregistry.io/myrepo"), **kw)
    assert info.value.code == "sign-identity-required"
    assert not (tmp_path / "out").exists()
    assert stub_signer.calls == []


def test_missing_identity_is_refused_before_anything_is_written(stub_signer: _StubSigner, tmp_path: Path) -> None:
    # TestCreateSignatures "dir: with no identity specified", through the pipeline.
    write_oci({"1": example_image()}, str(tmp_path / "src"))
    with pytest.raises(UsageError) as info:
        _copy(f"oci:{tmp_path / 'src'}:1", f"dir:{tmp_path / 'out'}", sign_by=KEY)
    assert info.value.code == "sign-identity-required"
    assert not (tmp_path / "out").exists()


def test_signing_with_an_identity_signs_the_manifest_as_written(stub_signer: _StubSigner, tmp_path: Path) -> None:
    # TestCreateSignatures "dir: with overridden identity", through the pipeline.
    write_oci({"1": example_image()}, str(tmp_path / "src"))
    r = _copy(f"oci:{tmp_path / 'src'}:1", f"dir:{tmp_path / 'out'}", sign_by=KEY,
              sign_identity=parse_named("myregistry.io/myrepo:mytag"))
    assert stub_signer.calls == [(r.manifest, "myregistry.io/myrepo:mytag")]
    assert (tmp_path / "out" / "signature-1").read_bytes() == b"\x88stub"


# --- copy/multiple_test.go TestPrepareCopyInstancesforInstanceCopyCopy --------------------------

def test_copy_all_copies_every_instance_in_list_order(tmp_path: Path) -> None:
    # "Test CopyAllImages": every instance, in the list's order.
    src = _list_layout(tmp_path)
    lines: list[str] = []
    _copy(f"oci:{src}:multi", f"dir:{tmp_path / 'out'}", image_list_selection=ImageListSelection.ALL,
          report=lines.append)
    index = json.loads((src / "blobs" / "sha256" / json.loads((src / "index.json").read_text())
                        ["manifests"][0]["digest"].split(":")[1]).read_text())
    digests = [m["digest"] for m in index["manifests"]]
    copying = [line for line in lines if line.startswith("Copying image ")]
    assert copying == [f"Copying image {d} ({i}/2)" for i, d in enumerate(digests, start=1)]


@pytest.mark.parametrize("selection", [ImageListSelection.SYSTEM, ImageListSelection.ALL, None])
def test_forced_compression_without_a_format_is_refused(tmp_path: Path, selection: ImageListSelection | None) -> None:
    # "ForceCompressionFormat: true" without a compression format: "cannot use
    # ForceCompressionFormat with undefined default compression format" (shouldRequireCompressionFormatMatch,
    # checked for a single image and for each instance alike).
    if selection is None:
        write_oci({"1": example_image()}, str(tmp_path / "src"))
        src = f"oci:{tmp_path / 'src'}:1"
    else:
        src = f"oci:{_list_layout(tmp_path)}:multi"
    with pytest.raises(UsageError) as info:
        _copy(src, f"dir:{tmp_path / 'out'}", image_list_selection=selection or ImageListSelection.SYSTEM,
              source_ctx=SystemContext(override_arch="amd64", override_os="linux"),
              dest_ctx=SystemContext(force_compression_format=True))
    assert info.value.code == "invalid-compression"
    assert not (tmp_path / "out").exists()


# --- internal/pkg/platform TestWantedPlatforms ---------------------------------------------------

WANTED_PLATFORMS = [
    # (case, override arch, os, variant, wanted variants in order)
    ("X86_64 does not have variants", "amd64", "linux", None, [""]),
    ("ARM with variant", "arm", "linux", "v6", ["v6", "v5", ""]),
    ("ARM without variant", "arm", "linux", None, ["", "v8", "v7", "v6", "v5"]),
    ("ARM64 has a base variant", "arm64", "linux", None, ["", "v8"]),
    ("Custom (completely unrecognized data)", "armel", "freeBSD", "custom", ["custom", ""]),
]


@pytest.mark.parametrize(("case", "arch", "os_name", "variant", "expected"), WANTED_PLATFORMS,
                         ids=[c[0] for c in WANTED_PLATFORMS])
def test_wanted_platforms(case: str, arch: str, os_name: str, variant: str | None, expected: list[str]) -> None:
    ctx = SystemContext(override_arch=arch, override_os=os_name, override_variant=variant)
    wanted_os, wanted_arch, wanted_variant = wanted_platform(ctx)
    assert (wanted_os, wanted_arch) == (os_name, arch)  # OSChoice kept as given ("freeBSD")
    assert wanted_variants(wanted_arch, wanted_variant) == expected


def test_an_overridden_arch_never_autodetects_a_variant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # WantedPlatforms: a variant is auto-detected only for the default architecture, even when
    # ArchitectureChoice equals the host's.
    import platform

    from trustcopy import hostplatform

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nCPU architecture: 7\n")
    monkeypatch.setattr(hostplatform, "CPUINFO", str(cpuinfo))
    monkeypatch.setattr(platform, "machine", lambda: "armv7l")
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    assert wanted_platform(None)[1:] == ("arm", "v7")
    assert wanted_platform(SystemContext(override_arch="arm"))[1:] == ("arm", None)
    assert wanted_platform(SystemContext(override_arch="arm", override_variant="v6"))[1:] == ("arm", "v6")
    assert wanted_platform(SystemContext(override_variant="v6"))[1:] == ("arm", "v6")


# --- internal/manifest oci_index_test.go TestOCI1IndexChooseInstanceByCompression -------------------

def _d(label: str) -> str:
    return "sha256:" + (label * 64)[:64]


def _list(entries: list[tuple[str, dict[str, str] | None, bool]], *, docker: bool = False) -> bytes:
    manifests = []
    for label, plat, zstd in entries:
        entry: dict[str, Any] = {"mediaType": mt.DOCKER_V2S2 if docker else mt.OCI_MANIFEST, "digest": _d(label),
                                 "size": 758}
        if plat is not None:
            entry["platform"] = plat
        if zstd:
            entry["annotations"] = {ZSTD_INSTANCE_ANNOTATION: "true"}
        manifests.append(entry)
    doc: dict[str, Any] = {"schemaVersion": 2, "manifests": manifests}
    if docker:
        doc["mediaType"] = mt.DOCKER_V2_LIST
    return json.dumps(doc).encode()


def _p(arch: str, variant: str | None = None) -> dict[str, str]:
    return {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}


# The shape of containers/image's testdata lists (labels stand for their digests).
ZSTD_SELECTION = _list([("a", _p("amd64"), False), ("b", _p("amd64"), True), ("c", _p("arm64"), False),
                        ("d", _p("arm64"), False), ("e", _p("s390x"), False), ("0", _p("amd64"), True)])
OCI_VARIANTS = _list([("5", _p("amd64"), False), ("e", _p("arm", "v7"), False), ("d", _p("arm", "v6"), False),
                      ("f", _p("arm", "v6"), True), ("b", _p("arm", "unrecognized-present"), False),
                      ("c", _p("arm"), False)])
ZSTD_SELECTION2 = _list([("a", _p("amd64"), False), ("b", _p("amd64"), False), ("c", _p("amd64"), True),
                         ("1", _p("arm64"), True), ("7", None, False), ("2", None, True), ("4", None, False),
                         ("6", _p("arm64"), False), ("d", _p("amd64"), False), ("e", _p("amd64"), True)])

CHOOSE_BY_COMPRESSION = [
    # (list, arch, variant, prefer gzip, chosen label)
    ("zstd-selection", ZSTD_SELECTION, "amd64", None, False, "b"),  # out of gzip and zstd: the first zstd
    ("zstd-selection", ZSTD_SELECTION, "arm64", None, False, "c"),  # several gzip: the first one
    ("zstd-selection", ZSTD_SELECTION, "s390x", None, False, "e"),
    ("zstd-selection", ZSTD_SELECTION, "amd64", None, True, "a"),  # prefer gzip: the first gzip
    ("zstd-selection", ZSTD_SELECTION, "arm64", None, True, "c"),
    ("zstd-selection", ZSTD_SELECTION, "s390x", None, True, "e"),
    ("ocilist-variants", OCI_VARIANTS, "amd64", None, False, "5"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "v7", False, "e"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "v6", False, "f"),  # zstd v6 over gzip v6
    ("ocilist-variants", OCI_VARIANTS, "arm", "v5", False, "c"),
    ("ocilist-variants", OCI_VARIANTS, "arm", None, False, "c"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "unrecognized-present", False, "b"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "unrecognized-not-present", False, "c"),
    ("ocilist-variants", OCI_VARIANTS, "amd64", None, True, "5"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "v7", True, "e"),  # platform first: v7 gzip, not v6
    ("ocilist-variants", OCI_VARIANTS, "arm", "v6", True, "d"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "v5", True, "c"),
    ("ocilist-variants", OCI_VARIANTS, "arm", None, True, "c"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "unrecognized-present", True, "b"),
    ("ocilist-variants", OCI_VARIANTS, "arm", "unrecognized-not-present", True, "c"),
    ("zstd-selection2", ZSTD_SELECTION2, "amd64", None, False, "c"),  # the first zstd of many
    ("zstd-selection2", ZSTD_SELECTION2, "amd64", None, True, "a"),
    ("zstd-selection2", ZSTD_SELECTION2, "arm64", None, True, "6"),  # the first gzip after a zstd
    ("zstd-selection2", ZSTD_SELECTION2, "arm64", None, False, "1"),
    ("zstd-selection2", ZSTD_SELECTION2, "matchesImageWithNoPlatform", None, False, "2"),  # first zstd w/o platform
    ("zstd-selection2", ZSTD_SELECTION2, "matchesImageWithNoPlatform", None, True, "7"),  # first gzip w/o platform
]


@pytest.mark.parametrize(("name", "raw", "arch", "variant", "prefer_gzip", "expected"), CHOOSE_BY_COMPRESSION,
                         ids=[f"{c[0]}-{c[2]}-{c[3] or 'none'}-{'gzip' if c[4] else 'default'}"
                              for c in CHOOSE_BY_COMPRESSION])
def test_choose_instance_by_compression(name: str, raw: bytes, arch: str, variant: str | None, prefer_gzip: bool,
                                        expected: str) -> None:
    chosen = parse_manifest_list(raw).choose_instance("linux", arch, variant, prefer_gzip=prefer_gzip)
    assert str(chosen.digest) == _d(expected)


@pytest.mark.parametrize("raw", [ZSTD_SELECTION, OCI_VARIANTS], ids=["zstd-selection", "ocilist-variants"])
@pytest.mark.parametrize("prefer_gzip", [False, True])
def test_choose_instance_by_compression_unmatched(raw: bytes, prefer_gzip: bool) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest_list(raw).choose_instance("linux", "unmatched", prefer_gzip=prefer_gzip)
    assert info.value.code == "manifest-platform-not-found"


def test_the_default_choice_is_the_current_containers_image_one() -> None:
    # ChooseInstance (PreferGzipInstances undefined) prefers the zstd instance, as
    # ChooseInstanceByCompression(OptionalBoolFalse) does.
    assert str(parse_manifest_list(ZSTD_SELECTION).choose_instance("linux", "amd64").digest) == _d("b")


def test_docker_lists_ignore_the_zstd_annotation() -> None:
    # Schema2List.ChooseInstanceByCompression is ChooseInstance: document order only (its
    # entries carry no annotations).
    raw = json.loads(_list([("a", _p("amd64"), False), ("b", _p("amd64"), False)], docker=True))
    raw["manifests"][1]["annotations"] = {ZSTD_INSTANCE_ANNOTATION: "true"}
    lst = parse_manifest_list(json.dumps(raw).encode())
    assert str(lst.choose_instance("linux", "amd64").digest) == _d("a")


# --- copy/digesting_reader_test.go ------------------------------------------------------------------

@pytest.mark.parametrize("text", ["abc", "crc32:", "crc32:012345678", "sha256:", "sha256:0", "sha256:01"])
def test_new_digesting_reader_refuses_invalid_digests(text: str) -> None:
    # TestNewDigestingReader: a DigestingReader takes a Digest, which cannot hold these.
    with pytest.raises(ValueError):
        Digest.parse(text)


DIGESTING = [
    (b"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (bytes(65537), "sha256:3266304f31be278d06c3bd3eb9aa3e00c59bedec0a890de466568b0b90b0e01f"),
]


def _read_all(reader: DigestingReader, chunk: int = 4096) -> bytes:
    return b"".join(iter(lambda: reader.read(chunk), b""))


@pytest.mark.parametrize(("data", "digest"), DIGESTING, ids=["empty", "abc", "65537-zeros"])
def test_digesting_reader_read(data: bytes, digest: str) -> None:
    # TestDigestingReaderRead: valid input.
    reader = DigestingReader(io.BytesIO(data), Digest.parse(digest))
    assert _read_all(reader) == data
    assert reader.bytes_read == len(data) and str(reader.verify()) == digest
    # Modified input (one byte appended): fails, at EOF at the latest.
    reader = DigestingReader(io.BytesIO(data + b"x"), Digest.parse(digest))
    with pytest.raises(DigestMismatchError):
        _read_all(reader)
    # The same with the size known: fails as soon as the extra byte arrives.
    reader = DigestingReader(io.BytesIO(data + b"x"), Digest.parse(digest), expected_size=len(data))
    with pytest.raises(DigestMismatchError) as info:
        _read_all(reader)
    assert info.value.code == "size-mismatch"
    # Truncated input: reading less than everything is neither a failure nor a success ...
    if data:
        reader = DigestingReader(io.BytesIO(data), Digest.parse(digest))
        assert reader.read(len(data) - 1) == data[:-1]
        # ... and a stream that ends there fails.
        reader = DigestingReader(io.BytesIO(data[:-1]), Digest.parse(digest), expected_size=len(data))
        with pytest.raises(DigestMismatchError):
            _read_all(reader)


# --- copy/single_test.go TestComputeDiffID ------------------------------------------------------------

HELLO_DIFF_ID = "sha256:185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969"


@pytest.mark.parametrize("algorithm", ["none", "gzip", "zstd"])
def test_diff_id_is_the_digest_of_the_uncompressed_stream(algorithm: str) -> None:
    # "Hello" uncompressed / gzip / zstd with the matching decompressor all give the same diff ID;
    # without a decompressor the compressed bytes' own digest (computed here for our own bytes).
    from trustcopy.compression import Algorithm, CompressingStream, DecompressingStream

    data = b"Hello"
    if algorithm != "none":
        compressing = CompressingStream(io.BytesIO(b"Hello"), Algorithm(algorithm))
        data = b"".join(iter(lambda: compressing.read(4096), b""))
        assert data != b"Hello"
    raw = DigestingReader(io.BytesIO(data), None)
    assert str(Digest.from_bytes(_read_all(raw))) == "sha256:" + hashlib.sha256(data).hexdigest()
    stream: Any = io.BytesIO(data)
    if algorithm != "none":
        stream = DecompressingStream(stream, Algorithm(algorithm), what="Hello")
    diff = DigestingReader(stream, None)
    _read_all(diff)
    assert str(diff.verify()) == HELLO_DIFF_ID


def test_diff_id_of_an_empty_gzip_stream_fails() -> None:
    # "Error initializing decompression": an empty stream is no gzip stream.
    from trustcopy.compression import Algorithm, DecompressingStream

    with pytest.raises(TrustcopyError):
        stream = DecompressingStream(io.BytesIO(b""), Algorithm.GZIP, what="empty")
        b"".join(iter(lambda: stream.read(4096), b""))


# --- copy/single_test.go TestUpdatedBlobInfoFromReuse, blob_test.go TestUpdatedBlobInfoFromUpload -----

def _annotated_image(tmp_path: Path, *, compressed: bool) -> tuple[Path, bytes]:
    """A dir: image whose only layer carries an annotation."""
    img = make_image([Layer(make_tar([("a", b"hello")]), compressed=compressed)])
    doc = json.loads(img.manifest)
    doc["layers"][0]["annotations"] = {"test-annotation-2": "two"}
    manifest = json.dumps(doc).encode()
    src = tmp_path / "src"
    write_dir(img, str(src))
    (src / "manifest.json").write_bytes(manifest)
    return src, manifest


def test_straightforward_reuse_keeps_the_layer_as_described(tmp_path: Path) -> None:
    # "A straightforward reuse without substitution": digest, size, annotations and media type
    # are the source's; the manifest is unchanged; the blob is reported as skipped, never read.
    src, manifest = _annotated_image(tmp_path, compressed=True)
    _copy(f"dir:{src}", f"oci:{tmp_path / 'lay'}:a")
    events: list[object] = []
    r = _copy(f"dir:{src}", f"oci:{tmp_path / 'lay'}:b", progress=events.append)
    assert r.manifest == manifest
    layer = json.loads(manifest)["layers"][0]
    done = [e for e in events if isinstance(e, BlobDone) and str(e.info.digest) == layer["digest"]]
    assert [e.outcome for e in done] == ["skipped: already exists"]
    assert not any(isinstance(e, BlobStarted) and str(e.info.digest) == layer["digest"] for e in events)


def test_straightforward_upload_keeps_the_layer_as_described(tmp_path: Path) -> None:
    # "A straightforward upload with a known size": the annotations stay.
    src, manifest = _annotated_image(tmp_path, compressed=True)
    r = _copy(f"dir:{src}", f"oci:{tmp_path / 'lay'}:a")
    assert r.manifest == manifest
    assert json.loads(r.manifest)["layers"][0]["annotations"] == {"test-annotation-2": "two"}


def test_a_layer_compressed_on_the_way_loses_its_annotations(tmp_path: Path) -> None:
    # "Upload determining the digest/size": the uploaded digest and size replace the source's.
    # The source's annotations go with them: containers/image's compression step resets
    # the blob info ("FIXME? Should we preserve more data"), and skopeo 1.9.3 writes
    # {"mediaType": "…tar+gzip", "digest", "size"} for such a layer (checked with dir: → oci:).
    src, manifest = _annotated_image(tmp_path, compressed=False)
    r = _copy(f"dir:{src}", f"oci:{tmp_path / 'lay'}:a")
    layer = json.loads(r.manifest)["layers"][0]
    before = json.loads(manifest)["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert layer["digest"] != before["digest"] and "annotations" not in layer
    blob = (tmp_path / "lay" / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
    assert len(blob) == layer["size"] and gzip.decompress(blob) == (src / before["digest"].split(":")[1]).read_bytes()


# --- copy/single.go compareImageDestinationManifestEqual and its guards ---------------------------------

@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> dict[str, Digest | None]:
    """Make dir: destinations claim to hold a manifest (as a registry answers a HEAD).

    Only docker:// knows what it holds; a dir: destination that skipped has nothing staged,
    so its commit is left out then (a registry's commit after a skip writes nothing either).
    """
    from trustcopy.transports.dir import DirImageDestination

    state: dict[str, Digest | None] = {"digest": None}
    real_commit = DirImageDestination.commit

    def commit(self: DirImageDestination, manifest: bytes) -> None:
        if os.path.exists(os.path.join(self._staging, "manifest.json")):
            real_commit(self, manifest)

    monkeypatch.setattr(DirImageDestination, "held_manifest_digest", lambda self: state["digest"])
    monkeypatch.setattr(DirImageDestination, "commit", commit)
    return state


def _signed_dir(tmp_path: Path) -> tuple[Path, bytes]:
    image = example_image()
    src = tmp_path / "src"
    write_dir(image, str(src))
    (src / "signature-1").write_bytes(b"\x88not-verified-here")
    return src, image.manifest


SKIP_IDENTICAL = [
    # (case, what the destination holds, extra options, source with signatures, skipped)
    ("same manifest digest", "same", {}, False, True),
    ("different manifest digest", "other", {}, False, False),
    ("nothing held", None, {}, False, False),
    ("source has signatures (shouldUpdateSigs)", "same", {}, True, False),
    ("signatures removed", "same", {"remove_signatures": True}, True, True),
    ("signing requested (shouldUpdateSigs)", "same", {"sign_by": KEY,
                                                      "sign_identity": "registry.example/a:b"}, False, False),
    ("manifest conversion pending", "same", {"force_manifest_type": FORMATS["v2s2"]}, False, False),
    ("compression format match required", "same", {"dest_ctx": SystemContext(
        compression_format="zstd", force_compression_format=True)}, False, False),
    ("skip disabled (OptimizeDestinationImageAlreadyExists false)", "same", {"skip_identical": False}, False, False),
]


@pytest.mark.parametrize(("case", "holds", "extra", "signed", "skipped"), SKIP_IDENTICAL,
                         ids=[c[0] for c in SKIP_IDENTICAL])
def test_skip_identical_decision(held: dict[str, Digest | None], stub_signer: _StubSigner, tmp_path: Path,
                                 case: str, holds: str | None, extra: dict[str, Any], signed: bool,
                                 skipped: bool) -> None:
    if signed:
        src, manifest = _signed_dir(tmp_path)
        src_name = f"dir:{src}"
    else:
        image = example_image()
        write_oci({"1": image}, str(tmp_path / "src"))
        src_name, manifest = f"oci:{tmp_path / 'src'}:1", image.manifest
    held["digest"] = {"same": Digest.from_bytes(manifest), "other": Digest.from_bytes(b"other"), None: None}[holds]
    kw = dict(extra)
    if "sign_identity" in kw:
        kw["sign_identity"] = parse_named(kw["sign_identity"])
    lines: list[str] = []
    r = _copy(src_name, f"dir:{tmp_path / 'out'}", report=lines.append, **kw)
    assert ("Skipping: image already present at destination" in lines) is skipped
    if skipped:
        # The result is the source's manifest and digest; no blob was copied or written.
        assert r.manifest == manifest and r.digest == Digest.from_bytes(manifest)
        assert not any(line.startswith("Copying ") for line in lines)
        assert not (tmp_path / "out" / "manifest.json").exists()
    else:
        assert (tmp_path / "out" / "manifest.json").exists()


def test_skip_identical_for_a_list_skips_every_instance(held: dict[str, Digest | None], tmp_path: Path) -> None:
    # containers/image compares each instance (targetInstance) and writes the list again;
    # trustcopy compares the list itself: a destination holding this very list holds every
    # instance, so nothing at all is written.
    src = _list_layout(tmp_path)
    index_digest = json.loads((src / "index.json").read_text())["manifests"][0]["digest"]
    held["digest"] = Digest.parse(index_digest)
    lines: list[str] = []
    r = _copy(f"oci:{src}:multi", f"dir:{tmp_path / 'out'}", image_list_selection=ImageListSelection.ALL,
              report=lines.append)
    assert str(r.digest) == index_digest
    assert "Skipping: image already present at destination" in lines
    assert not any(line.startswith("Copying ") for line in lines)
