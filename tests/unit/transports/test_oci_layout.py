"""oci: transport: reference grammar, image selection, index.json updates, atomicity."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, write_oci

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, InvalidReferenceError, TransportError
from trustcopy.fsutil import STAGING_PREFIX
from trustcopy.transports.oci_layout import TRANSPORT
from trustcopy.types import BlobInfo, SystemContext

SYS = SystemContext()


@pytest.mark.parametrize(
    ("text", "image", "index"),
    [
        ("/x/layout", "", -1),
        ("/x/layout:", "", -1),
        ("/x/layout:latest", "latest", -1),
        ("/x/layout:v1.0.2-rc1", "v1.0.2-rc1", -1),
        ("/x/layout:example.com/app:1", "example.com/app:1", -1),
        ("/x/layout:@0", "", 0),
        ("/x/layout:@12", "", 12),
    ],
    ids=str,
)
def test_reference_grammar(tmp_path: Path, text: str, image: str, index: int) -> None:
    (tmp_path / "x").mkdir()
    ref = TRANSPORT.parse_reference(str(tmp_path) + text)
    assert ref.image == image
    assert ref.source_index == index
    assert TRANSPORT.parse_reference(ref.string_within_transport()) == ref


@pytest.mark.parametrize("bad", [":bad name", ":@-1", ":@x", ":-lead", ":trail-", ":a//b"], ids=lambda v: v)
def test_invalid_references_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidReferenceError):
        TRANSPORT.parse_reference(str(tmp_path / "layout") + bad)


def test_identity_ignores_the_image_name(tmp_path: Path) -> None:
    """A scope naming a tag could be bypassed with :@0, so the tag is not part of the identity."""
    a = TRANSPORT.parse_reference(f"{tmp_path}/layout:prod")
    b = TRANSPORT.parse_reference(f"{tmp_path}/layout:@0")
    assert a.policy_configuration_identity() == b.policy_configuration_identity() == f"{tmp_path}/layout"
    assert a.policy_configuration_namespaces()[0] == f"{tmp_path}/layout"
    assert "/" not in a.policy_configuration_namespaces()


def _layout(tmp_path: Path, names: list[str]) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "layout"
    images = {n: make_image([Layer(make_tar([(f"{n}.txt", n.encode())]))]) for n in names}
    write_oci(images, str(path))  # type: ignore[arg-type]
    return path, images  # type: ignore[return-value]


def test_source_selects_by_name_index_or_uniqueness(tmp_path: Path) -> None:
    path, images = _layout(tmp_path, ["a", "b"])
    for spec, name in ((":a", "a"), (":b", "b"), (":@1", "b")):
        src = TRANSPORT.parse_reference(f"{path}{spec}").new_image_source(SYS)
        raw, mime = src.get_manifest()
        assert raw == images[name].manifest  # type: ignore[attr-defined]
        assert mime == "application/vnd.oci.image.manifest.v1+json"


def test_source_with_several_images_needs_a_choice(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a", "b"])
    with pytest.raises(TransportError, match="choose one"):
        TRANSPORT.parse_reference(str(path)).new_image_source(SYS)


def test_missing_name_lists_the_names_present(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a", "b"])
    with pytest.raises(ImageNotFoundError) as info:
        TRANSPORT.parse_reference(f"{path}:c").new_image_source(SYS)
    assert "a, b" in (info.value.hint or "")


def test_index_out_of_range(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a"])
    with pytest.raises(ImageNotFoundError, match="too large"):
        TRANSPORT.parse_reference(f"{path}:@3").new_image_source(SYS)


def test_tampered_manifest_blob_is_detected(tmp_path: Path) -> None:
    path, images = _layout(tmp_path, ["a"])
    digest = images["a"].digest  # type: ignore[attr-defined]
    blob = path / "blobs" / "sha256" / digest.split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":2 '))
    src = TRANSPORT.parse_reference(f"{path}:a").new_image_source(SYS)
    with pytest.raises(DigestMismatchError):
        src.get_manifest()


def test_corrupt_index_json_is_refused(tmp_path: Path) -> None:
    from trustcopy.errors import ManifestError

    path, _ = _layout(tmp_path, ["a"])
    (path / "index.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"index\.json"):
        TRANSPORT.parse_reference(f"{path}:a").new_image_source(SYS)
    with pytest.raises(ManifestError, match=r"index\.json"):
        TRANSPORT.parse_reference(f"{path}:b").new_image_destination(SYS)


def _write(dest: object, image: object) -> None:
    for digest, data in image.blobs.items():  # type: ignore[attr-defined]
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.parse(digest), size=len(data)))  # type: ignore[attr-defined]
    dest.put_manifest(image.manifest)  # type: ignore[attr-defined]


def test_new_layout_appears_only_at_commit(tmp_path: Path) -> None:
    target = tmp_path / "new"
    image = example_image()
    dest = TRANSPORT.parse_reference(f"{target}:1.0").new_image_destination(SYS)
    with dest:
        _write(dest, image)
        assert not target.exists()
        dest.commit(image.manifest)
    index = json.loads((target / "index.json").read_bytes())
    assert index == {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.digest,
            "size": len(image.manifest),
            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        }],
    }
    assert (target / "oci-layout").read_bytes() == b'{"imageLayoutVersion": "1.0.0"}'  # as c/image
    assert sorted(os.listdir(tmp_path)) == ["new"]


def test_two_copies_creating_one_layout_at_once_both_land(tmp_path: Path) -> None:
    """Both found no layout when they started; the second to commit adds to the first's."""
    target = tmp_path / "new"
    image = example_image()
    first = TRANSPORT.parse_reference(f"{target}:a").new_image_destination(SYS)
    second = TRANSPORT.parse_reference(f"{target}:b").new_image_destination(SYS)
    with first, second:
        _write(first, image)
        _write(second, image)
        # The second commit checks for the layout just before the first one's rename lands.
        real_rename = os.rename
        interleaved: list[bool] = []

        def first_lands_meanwhile(src: str, dst: str) -> None:
            if not interleaved:  # (the first copy's own rename is the real one)
                interleaved.append(True)
                first.commit(image.manifest)
            real_rename(src, dst)

        oci_module = sys.modules[type(second).__module__]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(oci_module.os, "rename", first_lands_meanwhile)
            second.commit(image.manifest)
    names = [m["annotations"]["org.opencontainers.image.ref.name"]
             for m in json.loads((target / "index.json").read_bytes())["manifests"]]
    assert names == ["a", "b"]
    assert sorted(os.listdir(tmp_path)) == ["new"]


def test_a_commit_failing_at_the_index_leaves_no_temporary_in_the_layout(tmp_path: Path) -> None:
    """index.json's temporary is made in staging, which goes with the destination (or a later reclaim)."""
    path, _ = _layout(tmp_path, ["a"])
    index_before = (path / "index.json").read_bytes()
    image = example_image()
    dest = TRANSPORT.parse_reference(f"{path}:b").new_image_destination(SYS)
    real_replace = os.replace

    def no_space_for_the_index(src: str, dst: str) -> None:
        if dst.endswith("index.json"):
            assert os.path.basename(os.path.dirname(src)).startswith(STAGING_PREFIX)  # the temporary's home
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    with dest:
        _write(dest, image)
        with pytest.MonkeyPatch.context() as patch, pytest.raises(TransportError, match="No space left"):
            patch.setattr(os, "replace", no_space_for_the_index)
            dest.commit(image.manifest)
    assert (path / "index.json").read_bytes() == index_before
    assert not [p.name for p in path.iterdir() if p.name.startswith(".")]
    assert sorted(os.listdir(tmp_path)) == ["layout"]


def test_adding_an_image_keeps_the_others(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a", "b"])
    before = json.loads((path / "index.json").read_bytes())["manifests"]
    image = example_image()
    dest = TRANSPORT.parse_reference(f"{path}:c").new_image_destination(SYS)
    with dest:
        _write(dest, image)
        dest.commit(image.manifest)
    after = json.loads((path / "index.json").read_bytes())["manifests"]
    assert after[:2] == before
    assert after[2]["annotations"] == {"org.opencontainers.image.ref.name": "c"}


def test_retagging_moves_the_name_and_keeps_the_old_image(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a"])
    image = example_image()
    dest = TRANSPORT.parse_reference(f"{path}:a").new_image_destination(SYS)
    with dest:
        _write(dest, image)
        dest.commit(image.manifest)
    manifests = json.loads((path / "index.json").read_bytes())["manifests"]
    assert len(manifests) == 2
    assert "annotations" not in manifests[0]
    assert manifests[1]["digest"] == image.digest


def test_aborted_add_leaves_layout_byte_identical(tmp_path: Path) -> None:
    path, _ = _layout(tmp_path, ["a"])
    snapshot = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    dest = TRANSPORT.parse_reference(f"{path}:b").new_image_destination(SYS)
    with dest:
        data = b"never committed"
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == snapshot
    assert sorted(os.listdir(tmp_path)) == ["layout"]


def test_destination_refuses_source_index(tmp_path: Path) -> None:
    with pytest.raises(InvalidReferenceError, match="source index"):
        TRANSPORT.parse_reference(f"{tmp_path}/l:@0").new_image_destination(SYS)


def test_oci_destination_refuses_signatures(tmp_path: Path) -> None:
    from trustcopy.errors import SignatureError

    dest = TRANSPORT.parse_reference(f"{tmp_path}/l:x").new_image_destination(SYS)
    with dest:
        assert dest.supports_signatures() is not None
        with pytest.raises(SignatureError, match="not supported"):
            dest.put_signatures([b"sig"])
