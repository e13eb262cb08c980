"""How local transports store and read images, against containers/image's own test vectors.

Each case cites the Go test (and case) it restates: directory/*_test.go, oci/layout/*_test.go,
oci/archive/*_test.go, docker/archive/*_test.go, docker/internal/tarfile/src_test.go and
pkg/compression/compression_test.go, as in the newest containers/image (container-libs).
The vectors are restated here; Debian's containers/image 5.23 fixtures are read in place
where they exist (a test needing one is skipped if that package is not installed).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from trustcopy import compression
from trustcopy.digest import Digest
from trustcopy.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    ManifestError,
    TransportError,
    TrustcopyError,
)
from trustcopy.signature.formats import SimpleSigning
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.dir import TRANSPORT as DIR
from trustcopy.transports.dir import parse_version
from trustcopy.transports.oci_layout import TRANSPORT as OCI
from trustcopy.transports.oci_layout import choose_descriptor, parse_index
from trustcopy.types import BlobInfo, LayerCompression, SystemContext

SYS = SystemContext()
GOCODE = Path("/usr/share/gocode/src/github.com/containers/image")
REF_NAME = "org.opencontainers.image.ref.name"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _fixture(rel: str) -> Path:
    path = GOCODE / rel
    if not path.exists():
        pytest.skip(f"containers/image fixtures not installed ({path})")
    return path


def _sha512(data: bytes) -> Digest:
    return Digest.parse("sha512:" + hashlib.sha512(data).hexdigest())


class _FailingReader(io.RawIOBase):
    """directory_test.go / oci_dest_test.go readerFromFunc: one chunk of 0xAA, then an error."""

    def __init__(self, check: Path) -> None:
        self._first = True
        self._check = check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        assert not os.path.lexists(self._check)  # never visible under its name while streaming
        if self._first:
            self._first = False
            buffer[:] = b"\xaa" * len(buffer)
            return len(buffer)
        raise OSError("Simulated digest error")


# --- directory -------------------------------------------------------------------------------


def test_dir_get_put_manifest(tmp_path: Path) -> None:
    """directory_test.go TestGetPutManifest: the list as manifest.json, the instance by digest, MIME ""."""
    man, lst = b"test-manifest", b"test-manifest-list"
    md = Digest.from_bytes(man)
    ref = DIR.parse_reference(str(tmp_path / "d"))
    with ref.new_image_destination(SYS) as dest:
        dest.put_manifest(man, md)
        dest.put_manifest(lst)
        dest.commit(lst)
    src = ref.new_image_source(SYS)
    assert src.get_manifest() == (lst, "")
    assert src.get_manifest(md) == (man, "")
    assert (tmp_path / "d" / f"{md.hex}.manifest.json").read_bytes() == man


def test_dir_get_put_blob_computed_digest_and_reference(tmp_path: Path) -> None:
    """directory_test.go TestGetPutBlob (unknown digest: computed, sha256), TestDestinationReference,
    TestSourceReference; the destination preserves compression by default."""
    ref = DIR.parse_reference(str(tmp_path / "d"))
    with ref.new_image_destination(SYS) as dest:
        assert dest.reference.string_within_transport() == str(tmp_path / "d")
        assert dest.desired_layer_compression is LayerCompression.PRESERVE
        info = dest.put_new_blob(io.BytesIO(b"test-blob"))
        assert (info.digest, info.size) == (Digest.from_bytes(b"test-blob"), 9)
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    src = ref.new_image_source(SYS)
    assert src.reference.string_within_transport() == str(tmp_path / "d")
    f, size = src.get_blob(BlobInfo(digest=info.digest, size=9))
    with f:
        assert (f.read(), size) == (b"test-blob", 9)


def test_dir_put_blob_failing_stream_leaves_no_blob(tmp_path: Path) -> None:
    """directory_test.go TestPutBlobDigestFailure: the error surfaces; no file ever has the blob's name."""
    digest = Digest.parse("sha256:" + "a" * 64)
    ref = DIR.parse_reference(str(tmp_path / "d"))
    dest = ref.new_image_destination(SYS)
    with dest:
        staged = Path(dest._staging) / digest.hex
        with pytest.raises(OSError, match="Simulated digest error"):
            dest.put_blob(io.BufferedReader(_FailingReader(staged)), BlobInfo(digest=digest, size=-1))
        assert not staged.exists()
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    assert not (tmp_path / "d" / digest.hex).exists()


def test_dir_get_put_signatures(tmp_path: Path) -> None:
    """directory_test.go TestGetPutSignatures: top-level and per-instance signatures round-trip."""
    man, lst = b"test-manifest", b"test-manifest-list"
    md = Digest.from_bytes(man)
    sigs = [SimpleSigning(b"\xa3sig1"), SimpleSigning(b"\xa3sig2")]
    list_sigs = [SimpleSigning(b"\xa3sig3"), SimpleSigning(b"\xa3sig4")]
    ref = DIR.parse_reference(str(tmp_path / "d"))
    with ref.new_image_destination(SYS) as dest:
        dest.put_manifest(man, md)
        dest.put_manifest(lst)
        dest.put_signatures(sigs, md)
        dest.put_signatures(list_sigs)
        dest.commit(lst)
    src = ref.new_image_source(SYS)
    assert src.get_signatures() == list_sigs
    assert src.get_signatures(md) == sigs
    assert (tmp_path / "d" / f"{md.hex}.signature-2").read_bytes() == b"\xa3sig2"


def test_dir_sha512_names(tmp_path: Path) -> None:
    """directory_transport_test.go TestReferenceManifestPath / LayerPath / SignaturePath:
    sha256 names are the bare hex, any other algorithm ``ALG-HEX``; read back under the same names."""
    blob, man = b"a sha512 blob", b"an instance manifest"
    bd, md = _sha512(blob), _sha512(man)
    ref = DIR.parse_reference(str(tmp_path / "d"))
    with ref.new_image_destination(SYS) as dest:
        dest.put_blob(io.BytesIO(blob), BlobInfo(digest=bd, size=len(blob)))
        assert dest.try_reusing_blob(BlobInfo(digest=bd, size=-1)) is not None
        dest.put_manifest(man, md)
        dest.put_signatures([SimpleSigning(b"\xa3s")] * 10, md)
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    d = tmp_path / "d"
    assert (d / f"sha512-{bd.hex}").read_bytes() == blob
    assert (d / f"sha512-{md.hex}.manifest.json").read_bytes() == man
    assert (d / f"sha512-{md.hex}.signature-1").exists()
    assert (d / f"sha512-{md.hex}.signature-10").exists()
    assert not (d / bd.hex).exists()
    src = ref.new_image_source(SYS)
    f, size = src.get_blob(BlobInfo(digest=bd, size=-1))
    with f:
        assert (f.read(), size) == (blob, len(blob))
    assert src.get_manifest(md)[0] == man
    assert len(src.get_signatures(md)) == 10


_PUTS = {
    "blob": lambda dest, d, data: dest.put_blob(io.BytesIO(data), BlobInfo(digest=d, size=len(data))),
    "manifest": lambda dest, d, data: dest.put_manifest(data, d),
    "signature": lambda dest, d, data: dest.put_signatures([SimpleSigning(b"\xa3" + data)], d),
}


@pytest.mark.parametrize("kind", sorted(_PUTS))
@pytest.mark.parametrize(("algorithms", "version"), [
    (["sha256"], "1.1"),  # "SHA256 only gets version 1.1"
    (["sha512"], "1.2"),  # "SHA512 only gets version 1.2"
    (["sha256", "sha512"], "1.2"),  # "Mixed SHA256 and SHA512 gets version 1.2"
], ids=["sha256", "sha512", "mixed"])
def test_dir_version_assignment(tmp_path: Path, kind: str, algorithms: list[str], version: str) -> None:
    """directory_dest_test.go TestVersionAssignment (blob / manifest / signature x algorithms)."""
    ref = DIR.parse_reference(str(tmp_path / "d"))
    with ref.new_image_destination(SYS) as dest:
        for i, algo in enumerate(algorithms):
            data = f"test-{kind}-{algo}-{i}".encode()
            digest = Digest.from_bytes(data) if algo == "sha256" else _sha512(data)
            _PUTS[kind](dest, digest, data)
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    assert (tmp_path / "d" / "version").read_text() == f"Directory Transport Version: {version}\n"


@pytest.mark.parametrize(("text", "expected"), [
    # version_test.go TestParseVersion
    ("Directory Transport Version: 1.1\n", (1, 1)),
    ("Directory Transport Version: 1.2\n", (1, 2)),
    ("Invalid prefix 1.1\n", None),
    ("Directory Transport Version: 1.1", None),
    ("Directory Transport Version: abc\n", None),
    # parseVersion's strict re-print check (Sscanf %d, then must equal what %d prints)
    ("Directory Transport Version: 2.0\n", (2, 0)),
    ("Directory Transport Version: 01.1\n", None),
    ("Directory Transport Version: +1.1\n", None),
    ("Directory Transport Version:  1.1\n", None),
    ("Directory Transport Version: 1.1\n\n", None),
    ("Directory Transport Version: 1.1 \n", None),
    ("Directory Transport Version: -0.1\n", None),
    ("Directory Transport Version: 99999999999999999999.1\n", None),  # overflows Go's int
], ids=repr)
def test_dir_parse_version(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_version(text.encode()) == expected


@pytest.mark.parametrize(("version", "outcome"), [
    ("Directory Transport Version: 1.1\n", "replaced"),
    ("Directory Transport Version: 1.2\n", "replaced"),
    ("Directory Transport Version: 1.3\n", "dir-version-unsupported"),  # TestVersionComparison: 1.3 > 1.2
    ("Directory Transport Version: 2.0\n", "dir-version-unsupported"),  # 2.0 > 1.2
    ("Directory Transport Version: 1.1", "destination-not-image-dir"),  # unparseable: not ours
    ("something else\n", "destination-not-image-dir"),
], ids=repr)
def test_dir_existing_directory_rules(tmp_path: Path, version: str, outcome: str) -> None:
    """directory_dest.go newImageDestination: a non-empty directory is replaced only if its version
    parses; a newer version than 1.2 is UnsupportedVersionError, anything else ErrNotContainerImageDir."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "version").write_text(version)
    (d / "old").write_bytes(b"old")
    ref = DIR.parse_reference(str(d))
    if outcome != "replaced":
        with pytest.raises(TransportError) as exc:
            ref.new_image_destination(SYS)
        assert exc.value.code == outcome
        assert (d / "old").read_bytes() == b"old"
        return
    with ref.new_image_destination(SYS) as dest:
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    assert sorted(os.listdir(d)) == ["manifest.json", "version"]


@pytest.mark.parametrize(("version", "code"), [
    (None, None),  # no version file: accepted
    ("Directory Transport Version: 1.1\n", None),
    ("Directory Transport Version: 1.2\n", None),
    ("Directory Transport Version: 1.3\n", "dir-version-unsupported"),
    ("Directory Transport Version: 2.0\n", "dir-version-unsupported"),
    ("Directory Transport Version: abc\n", "dir-version-invalid"),
    ("", "dir-version-invalid"),
], ids=repr)
def test_dir_source_checks_version(tmp_path: Path, version: str | None, code: str | None) -> None:
    """directory_src.go newImageSource: a missing version file is fine, an invalid or newer one is refused."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "manifest.json").write_bytes(b"{}")
    if version is not None:
        (d / "version").write_text(version)
    ref = DIR.parse_reference(str(d))
    if code is None:
        assert ref.new_image_source(SYS).get_manifest()[0] == b"{}"
    else:
        with pytest.raises(TransportError) as exc:
            ref.new_image_source(SYS)
        assert exc.value.code == code


def test_dir_delete_is_refused(tmp_path: Path) -> None:
    """directory_transport_test.go TestReferenceDeleteImage."""
    with pytest.raises(TransportError):
        DIR.parse_reference(str(tmp_path)).delete_image(SYS)


# --- oci: reading ----------------------------------------------------------------------------

_NAME_LOOKUPS = {  # oci/layout/fixtures/name_lookups, restated
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {"mediaType": mt, "digest": "sha256:" + c * 64, "size": size, "annotations": {REF_NAME: name}}
        for mt, c, size, name in [
            (OCI_INDEX, "a", 1, "a"),
            (OCI_MANIFEST, "b", 2, "b"),
            ("application/vnd.docker.distribution.manifest.list.v2+json", "c", 3, "c"),
            ("application/vnd.docker.distribution.manifest.v2+json", "d", 4, "d"),
            ("x-completely-unknown", "e", 6, "invalid-mime"),
        ]
    ],
}


@pytest.mark.parametrize(("image", "position", "error"), [
    ("a", 0, None),
    ("b", 1, None),
    ("c", 2, None),
    ("d", 3, None),
    ("this-does-not-exist", None, ImageNotFoundError),  # "No entry found"
    ("invalid-mime", None, ManifestError),  # "Entries with invalid MIME types found"
])
def test_oci_get_manifest_descriptor_name_lookups(image: str, position: int | None, error: type | None) -> None:
    """oci_transport_test.go TestGetManifestDescriptor, fixtures/name_lookups cases."""
    manifests = _NAME_LOOKUPS["manifests"]
    assert isinstance(manifests, list)
    if error is None:
        assert position is not None
        assert choose_descriptor(manifests, image, -1, "t") == manifests[position]
    else:
        with pytest.raises(error):
            choose_descriptor(manifests, image, -1, "t")


def test_oci_get_manifest_descriptor_fixtures(tmp_path: Path) -> None:
    """oci_transport_test.go TestGetManifestDescriptor: index missing; the only manifest; an ambiguous
    directory (ErrMoreThanOneImage); @0 of two; @6 out of bounds with containers/image's message."""
    with pytest.raises(ImageNotFoundError):
        OCI.parse_reference(str(tmp_path)).new_image_source(SYS)
    one = _fixture("oci/layout/fixtures/manifest/index.json")
    two = _fixture("oci/layout/fixtures/two_images_manifest/index.json")
    m1 = parse_index(one.read_bytes(), str(one), "t")["manifests"]
    assert choose_descriptor(m1, "", -1, "t") == {
        "mediaType": OCI_MANIFEST,
        "digest": "sha256:84afb6189c4d69f2d040c5f1dc4e0a16fed9b539ce9cfb4ac2526ae4e0576cc0",
        "size": 496,
        "annotations": {REF_NAME: "v0.1.1"},
        "platform": {"architecture": "amd64", "os": "linux"},
    }
    m2 = parse_index(two.read_bytes(), str(two), "t")["manifests"]
    with pytest.raises(TransportError) as exc:
        choose_descriptor(m2, "", -1, "t")
    assert exc.value.code == "oci-ambiguous-image"
    first = choose_descriptor(m2, "", 0, "t")
    assert (first["digest"], first["size"], first["platform"]) == (
        "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f", 7143,
        {"architecture": "ppc64le", "os": "linux"})
    with pytest.raises(ImageNotFoundError, match="index 6 is too large, only 2 entries available"):
        choose_descriptor(m2, "", 6, "t")


# --- oci: writing ----------------------------------------------------------------------------

_TEMP_OCI_INDEX = {  # oci_transport_test.go refToTempOCI's index.json, restated
    "schemaVersion": 2,
    "manifests": [{
        "mediaType": OCI_MANIFEST, "size": 7143,
        "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
        "platform": {"architecture": "ppc64le", "os": "linux"},
        "annotations": {REF_NAME: "imageValue"},
    }],
}


def _put_manifest(layout: Path, name: str, manifest: bytes) -> None:
    with OCI.parse_reference(f"{layout}:{name}").new_image_destination(SYS) as dest:
        dest.put_manifest(manifest)
        dest.commit(manifest)
    assert (layout / "blobs" / "sha256" / hashlib.sha256(manifest).hexdigest()).read_bytes() == manifest


@pytest.mark.parametrize(("puts", "names"), [
    # TestPutManifestAppendsToExistingManifest: a new name is appended
    (["new-image"], ["imageValue", "new-image"]),
    # TestPutManifestTwice: the name moves to the new entry, the second put replaces it
    (["imageValue", "imageValue"], [None, "imageValue"]),
    # TestPutTwoDifferentTags: the same manifest under another name is a third entry
    (["imageValue", "zomg"], [None, "imageValue", "zomg"]),
], ids=["appends", "twice", "two-tags"])
def test_oci_put_manifest_index_updates(tmp_path: Path, puts: list[str], names: list[str | None]) -> None:
    """oci_dest_test.go: how PutManifest + Commit update an existing index.json."""
    manifest = _fixture("internal/image/fixtures/oci1.json").read_bytes()
    layout = tmp_path / "l"
    layout.mkdir()
    (layout / "index.json").write_text(json.dumps(_TEMP_OCI_INDEX))
    for name in puts:
        _put_manifest(layout, name, manifest)
    index = json.loads((layout / "index.json").read_text())
    assert [(m.get("annotations") or {}).get(REF_NAME) for m in index["manifests"]] == names
    assert index["manifests"][0]["digest"] == _TEMP_OCI_INDEX["manifests"][0]["digest"]  # type: ignore[index]


def test_oci_put_blob_failing_stream_leaves_no_blob(tmp_path: Path) -> None:
    """oci_dest_test.go TestPutBlobDigestFailure."""
    digest = Digest.parse("sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f")
    layout = tmp_path / "l"
    ref = OCI.parse_reference(str(layout))
    with ref.new_image_destination(SYS) as dest:
        staged = Path(dest._staging) / "blobs" / "sha256" / digest.hex
        with pytest.raises(OSError, match="Simulated digest error"):
            dest.put_blob(io.BufferedReader(_FailingReader(staged)), BlobInfo(digest=digest, size=-1))
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    assert not (layout / "blobs" / "sha256" / digest.hex).exists()


def test_oci_put_the_same_blob_twice(tmp_path: Path) -> None:
    """oci_dest_test.go TestPutblobFromLocalFile: storing a blob that is already there must not fail."""
    layout = tmp_path / "l"
    with OCI.parse_reference(str(layout)).new_image_destination(SYS) as dest:
        for _ in range(2):
            info = dest.put_blob(io.BytesIO(b"same"), BlobInfo(digest=Digest.from_bytes(b"same"), size=4))
            assert info.size == 4
        dest.put_manifest(b"{}")
        dest.commit(b"{}")
    assert (layout / "blobs" / "sha256" / Digest.from_bytes(b"same").hex).read_bytes() == b"same"


# --- oci: delete (oci_delete_test.go) --------------------------------------------------------


class _Layout:
    """A layout built blob by blob, so each oci_delete_test.go fixture's shape can be restated."""

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        self.shared = shared
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes, *, shared: bool = False) -> dict[str, Any]:
        digest = Digest.from_bytes(data)
        base = self.shared if shared and self.shared is not None else self.root / "blobs"
        (base / "sha256").mkdir(parents=True, exist_ok=True)
        (base / "sha256" / digest.hex).write_bytes(data)
        return {"digest": str(digest), "size": len(data)}

    def manifest(self, config: bytes, layers: list[bytes], *, shared: bool = False,
                 shared_config: bool = False) -> dict[str, Any]:
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **self.blob(config, shared=shared_config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **self.blob(layer)}
                           for layer in layers]}
        return {"mediaType": OCI_MANIFEST, **self.blob(json.dumps(body).encode(), shared=shared)}

    def index(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return {"mediaType": OCI_INDEX, **self.blob(json.dumps(body).encode())}

    def write_index(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        manifests = [{**d, "annotations": {REF_NAME: name}} for name, d in entries]
        (self.root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))

    def blobs(self) -> set[str]:
        return set(os.listdir(self.root / "blobs" / "sha256"))

    def names(self) -> list[str | None]:
        index = json.loads((self.root / "index.json").read_text())
        return [(m.get("annotations") or {}).get(REF_NAME) for m in index["manifests"]]

    def delete(self, name: str, sys: SystemContext = SYS) -> None:
        OCI.parse_reference(f"{self.root}:{name}").delete_image(sys)


def _multiple_images(root: Path) -> tuple[_Layout, dict[str, dict[str, Any]]]:
    """delete_image_multiple_images' shape: 7 references, 19 blobs (see its info.txt)."""
    lay = _Layout(root)
    m = {
        "m1": lay.manifest(b"c1", [b"l1"]),             # 3.17.5: all its own
        "m2": lay.manifest(b"c2", [b"l2"]),             # 3.18 and 3, and inside index i1
        "m3": lay.manifest(b"c2", [b"l3"]),             # 1.0.0: config shared with m2
        "m4": lay.manifest(b"c4", [b"l4"]),             # inside i1 only
        "m5": lay.manifest(b"c5", [b"l5"]),             # inside i2 only
        "m6": lay.manifest(b"c6", [b"l6"]),             # inside i2 only
    }
    m["i1"] = lay.index([m["m2"], m["m4"]])            # latest and 3.18.3
    m["i2"] = lay.index([m["m5"], m["m6"]])            # 3.16.7
    lay.write_index([("latest", m["i1"]), ("3.18.3", m["i1"]), ("3", m["m2"]), ("3.18", m["m2"]),
                     ("3.17.5", m["m1"]), ("3.16.7", m["i2"]), ("1.0.0", m["m3"])])
    assert len(lay.blobs()) == 19
    return lay, m


def _hex(*data: bytes) -> set[str]:
    return {hashlib.sha256(d).hexdigest() for d in data}


@pytest.mark.parametrize(("name", "remaining", "gone", "kept"), [
    # TestReferenceDeleteImage_multipleImages
    ("3.17.5", 16, ["m1", b"c1", b"l1"], []),
    # TestReferenceDeleteImage_multipleImages_blobsUsedByOtherImages
    ("1.0.0", 17, ["m3", b"l3"], [b"c2"]),
    # TestReferenceDeleteImage_multipleImages_nestedIndexImage
    ("3.16.7", 12, ["i2", "m5", "m6", b"c5", b"l5", b"c6", b"l6"], []),
    # TestReferenceDeleteImage_multipleImages_nestedIndexImage_refWithSameContent
    ("3.18.3", 19, [], ["i1", "m2", "m4"]),
])
def test_oci_delete_multiple_images(tmp_path: Path, name: str, remaining: int, gone: list[Any],
                                    kept: list[Any]) -> None:
    lay, m = _multiple_images(tmp_path / "l")
    lay.delete(name)

    def hex_of(x: Any) -> str:
        return Digest.parse(m[x]["digest"]).hex if isinstance(x, str) else hashlib.sha256(x).hexdigest()

    assert len(lay.blobs()) == remaining
    assert not {hex_of(x) for x in gone} & lay.blobs()
    assert {hex_of(x) for x in kept} <= lay.blobs()
    assert len(lay.names()) == 6
    assert name not in lay.names()


@pytest.mark.parametrize("name", ["does-not-exist", ""], ids=repr)
def test_oci_delete_multiple_images_refused(tmp_path: Path, name: str) -> None:
    """TestReferenceDeleteImage_multipleImages_imageDoesNotExist / _emptyImageName: nothing changes."""
    lay, _ = _multiple_images(tmp_path / "l")
    before = (lay.root / "index.json").read_bytes()
    with pytest.raises(TrustcopyError):
        lay.delete(name)
    assert (lay.root / "index.json").read_bytes() == before
    assert len(lay.blobs()) == 19


@pytest.mark.parametrize("name", ["latest", ""], ids=repr)
def test_oci_delete_only_one_image(tmp_path: Path, name: str) -> None:
    """TestReferenceDeleteImage_onlyOneImage / _emptyImageName: every blob goes, the index is empty."""
    lay = _Layout(tmp_path / "l")
    lay.write_index([("latest", lay.manifest(b"c", [b"l"]))])
    lay.delete(name)
    assert lay.blobs() == set()
    assert lay.names() == []
    assert (lay.root / "index.json").read_bytes().endswith(b"\n")  # saveJSON's json.Encoder


def test_oci_delete_shared_blob_dir(tmp_path: Path) -> None:
    """TestReferenceDeleteImage_sharedBlobDir: local blobs go, the shared directory is never pruned."""
    shared = tmp_path / "l" / "shared_blobs"
    lay = _Layout(tmp_path / "l", shared)
    lay.write_index([("latest", lay.manifest(b"c", [b"l"], shared=True, shared_config=True))])
    assert len(lay.blobs()) == 1
    lay.delete("latest", SystemContext(oci_shared_blob_dirs=(str(shared),)))
    assert lay.blobs() == set()
    assert len(os.listdir(shared / "sha256")) == 2
    assert lay.names() == []


def test_oci_delete_two_identical_references(tmp_path: Path) -> None:
    """TestReferenceDeleteImage_multipleImages_twoIdenticalReferences: only the first entry named 1.0.0."""
    lay = _Layout(tmp_path / "l")
    first = lay.manifest(b"ca", [b"la"])
    second = lay.manifest(b"cb", [b"lb"])
    lay.write_index([("1.0.0", first), ("1.0.0", second)])
    lay.delete("1.0.0")
    assert lay.blobs() == _hex(b"cb", b"lb") | {Digest.parse(second["digest"]).hex}
    assert lay.names() == ["1.0.0"]


def test_oci_delete_refuses_unsupported_entries_before_changing_anything(tmp_path: Path) -> None:
    """oci_delete.go countBlobsForDescriptor: an entry that is neither an OCI manifest nor index is an error;
    it is found while counting, so nothing has been deleted or rewritten."""
    lay = _Layout(tmp_path / "l")
    lay.write_index([("a", lay.manifest(b"c", [b"l"])),
                     ("b", {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                            **lay.blob(b"docker")})])
    before = (lay.root / "index.json").read_bytes()
    with pytest.raises(ManifestError, match="unsupported mediaType"):
        lay.delete("a")
    assert (lay.root / "index.json").read_bytes() == before
    assert len(lay.blobs()) == 4


def test_oci_delete_refuses_a_tampered_manifest(tmp_path: Path) -> None:
    """Deliberately stricter than containers/image: a manifest blob not matching its digest decides nothing."""
    lay = _Layout(tmp_path / "l")
    desc = lay.manifest(b"c", [b"l"])
    lay.write_index([("a", desc)])
    path = lay.root / "blobs" / "sha256" / Digest.parse(desc["digest"]).hex
    path.write_bytes(json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + "0" * 64}}).encode())
    with pytest.raises(DigestMismatchError):
        lay.delete("a")
    assert len(lay.blobs()) == 3


# --- docker-archive, oci-archive -------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ":emptyimage:latest", ":@0"])
def test_docker_archive_almostempty_fixture(suffix: str) -> None:
    """docker/archive transport_test.go TestReferenceNewImage / TestReferenceNewImageSource."""
    tar = _fixture("docker/archive/fixtures/almostempty.tar")
    src = parse_image_name(f"docker-archive:{tar}{suffix}").new_image_source(SYS)
    try:
        raw, mime = src.get_manifest()
        assert mime == "application/vnd.docker.distribution.manifest.v2+json"
        config = json.loads(raw)["config"]
        f, _ = src.get_blob(BlobInfo(digest=Digest.parse(config["digest"]), size=config["size"]))
        with f:
            assert len(f.read()) == config["size"]
    finally:
        src.close()


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
@pytest.mark.parametrize("suffix", ["", ":some-reference", ":@0"])
def test_archive_delete_is_refused_and_the_file_kept(tmp_path: Path, transport: str, suffix: str) -> None:
    """docker/archive and oci/archive transport_test.go TestReferenceDeleteImage."""
    f = tmp_path / "file.tar"
    f.write_bytes(b"nonempty")
    with pytest.raises(TransportError):
        parse_image_name(f"{transport}:{f}{suffix}").delete_image(SYS)
    assert f.read_bytes() == b"nonempty"


@pytest.mark.parametrize(("config", "ok"), [
    (b"{}", False),  # no RootFS entry: can fail, must not crash
    (b'{"rootfs":{}}', True),  # useless no-layer configuration
], ids=repr)
def test_docker_archive_prepare_layer_data(tmp_path: Path, config: bytes, ok: bool) -> None:
    """docker/internal/tarfile src_test.go TestSourcePrepareLayerData: a config-only archive."""
    digest = Digest.from_bytes(config)
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as t:
        for name, data in [(f"{digest.hex}.json", config),
                           ("manifest.json", json.dumps([{"Config": f"{digest.hex}.json", "RepoTags": None,
                                                          "Layers": []}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    ref = parse_image_name(f"docker-archive:{path}")
    if not ok:
        with pytest.raises(TrustcopyError):
            src = ref.new_image_source(SYS)
            src.get_manifest()
            src.get_blob(BlobInfo(digest=digest, size=-1))
        return
    src = ref.new_image_source(SYS)
    try:
        f, size = src.get_blob(BlobInfo(digest=digest, size=-1))
        with f:
            assert (f.read(), size) == (config, len(config))
    finally:
        src.close()


def test_oci_archive_not_found_names_the_path(tmp_path: Path) -> None:
    """oci/archive oci_src_test.go TestNewImageSourceNotFound: ArchiveFileNotFoundError with the path."""
    path = tmp_path / "foo.ociarchive"
    with pytest.raises(ImageNotFoundError) as exc:
        parse_image_name(f"oci-archive:{path}").new_image_source(SYS)
    assert str(path) in str(exc.value)


def test_oci_archive_headers_do_not_expose_the_local_account(tmp_path: Path) -> None:
    """oci/archive oci_dest_test.go TestTarDirectory: uid/gid 0, no user or group names."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy

    src = tmp_path / "s"
    lay = _Layout(src)
    lay.write_index([("img", lay.manifest(b"{}", [b"layer"]))])
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(f"oci-archive:{tmp_path}/x.tar"),
               parse_image_name(f"oci:{src}:img"), CopyOptions())
    with tarfile.open(tmp_path / "x.tar") as t:
        members = t.getmembers()
    assert members
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}


# --- pkg/compression -------------------------------------------------------------------------

_HELLO = ["Hello.uncompressed", "Hello.gz", "Hello.bz2", "Hello.xz", "Hello.zst"]


def _hello(name: str) -> bytes:
    if name == "Hello.zst":  # not among Debian's 5.23 fixtures: made here
        import zstandard

        return zstandard.ZstdCompressor().compress(b"Hello")
    return _fixture(f"pkg/compression/fixtures/{name}").read_bytes()


@pytest.mark.parametrize("name", _HELLO)
def test_detect_compression_preserves_and_decompresses(name: str) -> None:
    """compression_test.go TestDetectCompression / TestAutoDecompress: the stream is preserved,
    the right decompressor chosen, and the result is "Hello"."""
    raw = _hello(name)
    assert compression.PeekableStream(io.BytesIO(raw)).read() == raw
    peek = compression.PeekableStream(io.BytesIO(raw))
    expected = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}.get(name.rsplit(".", 1)[1], "none")
    assert peek.algorithm.value == expected
    if peek.algorithm is compression.Algorithm.NONE:
        assert peek.read() == b"Hello"
    else:
        out = compression.DecompressingStream(peek, peek.algorithm, what=name)
        assert b"".join(iter(lambda: out.read(2), b"")) == b"Hello"


def test_detect_compression_empty_and_broken_input() -> None:
    """compression_test.go: empty input is uncompressed and empty; a lone xz header is an error
    (Go fails when creating the decompressor, here on the first read: no data is returned either way);
    a read error surfaces."""
    empty = compression.PeekableStream(io.BytesIO(b""))
    assert (empty.algorithm, empty.read()) == (compression.Algorithm.NONE, b"")
    header = compression.PeekableStream(io.BytesIO(bytes([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])))
    assert header.algorithm is compression.Algorithm.XZ
    with pytest.raises(compression.CorruptDataError):
        compression.DecompressingStream(header, header.algorithm, what="x").read()

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError("Expected error reading input in DetectCompression")

    with pytest.raises(OSError, match="Expected error"):
        compression.PeekableStream(Broken())
