"""oci-archive (read in place, written by streaming) and tarball (an image from root-fs tarballs)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from imagefactory import Layer, make_image, make_tar, write_oci

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.digest import Digest
from trustcopy.errors import InvalidReferenceError, ManifestError, TransportError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports import tarball
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.oci_archive import TRANSPORT as OCI_ARCHIVE
from trustcopy.transports.tarball import TRANSPORT as TARBALL
from trustcopy.types import BlobInfo, SystemContext


def _allow() -> PolicyContext:
    """The real engine with an accept-anything policy (these tests are about copying, not policy)."""
    return PolicyContext(insecure_accept_anything_policy())


def _copy(src: str, dest: str) -> object:
    return copy_image(_allow(), parse_image_name(dest), parse_image_name(src), CopyOptions())


def _layout(tmp_path: Path) -> Path:
    images = {n: make_image([Layer(make_tar([(f"{n}.txt", n.encode() * 1000)]), compressed=False)])
              for n in ("a", "b")}
    write_oci(images, str(tmp_path / "layout"))  # type: ignore[arg-type]
    return tmp_path / "layout"


def test_oci_archive_scopes_are_the_path_and_its_parents(tmp_path: Path) -> None:
    ref = OCI_ARCHIVE.parse_reference(f"{tmp_path}/x.tar:app")
    assert ref.policy_configuration_identity() == f"{tmp_path}/x.tar"
    assert ref.policy_configuration_namespaces()[:2] == [f"{tmp_path}/x.tar", str(tmp_path)]
    with pytest.raises(ValueError, match="canonical"):
        OCI_ARCHIVE.validate_policy_configuration_scope(f"{tmp_path}//x.tar")


def test_oci_archive_round_trip_compresses_and_selects(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    out = tmp_path / "x.tar"
    _copy(f"oci:{layout}:a", f"oci-archive:{out}:first")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert names[0] == "oci-layout" and names[-1] == "index.json"
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "first"}
    src = parse_image_name(f"oci-archive:{out}:first").new_image_source(SystemContext())
    with src:
        manifest = json.loads(src.get_manifest()[0])
    assert manifest["layers"][0]["mediaType"].endswith("+gzip")  # oci destinations compress
    _copy(f"oci-archive:{out}", f"dir:{tmp_path / 'back'}")
    assert sorted(os.listdir(tmp_path)) == ["back", "layout", "x.tar"]


def test_oci_archive_replaces_an_existing_archive_only_on_success(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    out = tmp_path / "x.tar"
    _copy(f"oci:{layout}:a", f"oci-archive:{out}")
    before = out.read_bytes()
    with pytest.raises(TransportError):
        _copy(f"oci:{layout}", f"oci-archive:{out}")  # two images: ambiguous source, fails at open
    assert out.read_bytes() == before
    _copy(f"oci:{layout}:b", f"oci-archive:{out}")
    assert out.read_bytes() != before


def test_compressed_oci_archive_reads_without_unpacking(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    out = tmp_path / "x.tar.zst"
    _copy(f"oci:{layout}:a", f"oci-archive:{out}")
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    _copy(f"oci-archive:{out}", f"dir:{tmp_path / 'back'}")
    assert sorted(os.listdir(tmp_path)) == ["back", "layout", "x.tar.zst"]


def test_oci_archive_manifest_is_verified(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    out = tmp_path / "x.tar"
    _copy(f"oci:{layout}:a", f"oci-archive:{out}")
    raw = out.read_bytes()
    index = json.loads(raw[raw.index(b'{"schemaVersion":2,"manifests"'):].split(b"\0")[0])
    digest = index["manifests"][0]["digest"].encode()
    tampered = raw.replace(b'"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"',
                           b'"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+jsoN"', 1)
    assert tampered != raw and digest
    out.write_bytes(tampered)
    with pytest.raises(Exception, match="does not match"):
        parse_image_name(f"oci-archive:{out}").new_image_source(SystemContext()).get_manifest()


# -- tarball ----------------------------------------------------------------------


def _rootfs(tmp_path: Path, compress: str | None = None) -> Path:
    data = make_tar([("etc/hostname", b"box\n"), ("bin/true", b"#!/bin/sh\n")])
    path = tmp_path / ("root.tar" + {"gzip": ".gz", "zstd": ".zst", None: ""}[compress])
    if compress == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compress == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    os.utime(path, ns=(1_700_000_000_123_450_000, 1_700_000_000_123_450_000))
    return path


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC (times are written in the local zone, as Go's time.Local)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
def test_tarball_builds_config_and_manifest_as_containers_image(tmp_path: Path, compress: str | None,
                                                                utc: None) -> None:
    path = _rootfs(tmp_path, compress)
    with parse_image_name(f"tarball:{path}").new_image_source(SystemContext()) as src:
        raw, mime = src.get_manifest()
        manifest = json.loads(raw)
        config_info = manifest["config"]
        stream, _ = src.get_blob(BlobInfo(digest=Digest.parse(config_info["digest"])))
        config = json.loads(stream.read())
    assert mime == "application/vnd.oci.image.manifest.v1+json" and "mediaType" not in manifest
    assert manifest["layers"][0]["mediaType"] == {None: "application/vnd.oci.image.layer.v1.tar",
                                                  "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
                                                  "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}[compress]
    tar = make_tar([("etc/hostname", b"box\n"), ("bin/true", b"#!/bin/sh\n")])
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert config["created"] == "2023-11-14T22:13:20.12345Z"
    assert config["history"] == [{"created": "2023-11-14T22:13:20.12345Z",
                                  "created_by": f"/bin/sh -c #(nop) ADD file:{diff_id[7:]} in /",
                                  "comment": "imported from tarball"}]
    assert list(config) == ["created", "architecture", "os", "config", "rootfs", "history"]


def test_tarball_scope_and_destination(tmp_path: Path) -> None:
    path = _rootfs(tmp_path)
    ref = TARBALL.parse_reference(str(path))
    assert ref.policy_configuration_identity() == "" and ref.policy_configuration_namespaces() == []
    with pytest.raises(ValueError):
        TARBALL.validate_policy_configuration_scope(str(path))
    with pytest.raises(TransportError, match="only be read"):
        ref.new_image_destination(SystemContext())
    with pytest.raises(InvalidReferenceError):
        TARBALL.parse_reference(str(tmp_path / "missing.tar"))


def test_tarball_from_stdin_is_spooled_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _rootfs(tmp_path, "gzip").read_bytes()
    monkeypatch.setattr(tarball, "sys_stdin", lambda: io.BytesIO(data))
    spool = tmp_path / "spool"
    spool.mkdir()
    src = parse_image_name("tarball:-").new_image_source(SystemContext(tmp_dir=str(spool)))
    with src:
        _copy_with(src, tmp_path / "out")
    assert os.listdir(spool) == []


def _copy_with(src: object, dest: Path) -> None:
    import trustcopy.copy.pipeline as pipeline

    class _Ref:
        """The source's own reference (its transport and names, which the policy reads), opening ``source``."""

        def __init__(self, source: object) -> None:
            self._source = source

        def __getattr__(self, name: str) -> object:
            return getattr(self._source.reference, name)  # type: ignore[attr-defined]

        def new_image_source(self, sys: SystemContext) -> object:
            class _NoClose:
                def __init__(self, inner: object) -> None:
                    self._inner = inner

                def __enter__(self) -> object:
                    return self._inner

                def __exit__(self, *a: object) -> None:
                    return None

            return _NoClose(self._source)

    pipeline.copy_image(_allow(), parse_image_name(f"dir:{dest}"), _Ref(src), CopyOptions())  # type: ignore[arg-type]
    assert (dest / "manifest.json").exists()


def test_tarball_refuses_bzip2(tmp_path: Path) -> None:
    import bz2

    path = tmp_path / "root.tar.bz2"
    path.write_bytes(bz2.compress(make_tar([("a", b"a")])))
    with pytest.raises(ManifestError, match="bzip2"):
        parse_image_name(f"tarball:{path}").new_image_source(SystemContext())
