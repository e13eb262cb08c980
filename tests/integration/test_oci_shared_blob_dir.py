"""OCI layouts whose blobs live in a shared directory (``--dest-shared-blob-dir``,
``--src-shared-blob-dir``, ``inspect --shared-blob-dir``), side by side with skopeo 1.9.3.

containers/image keeps every blob of such a layout (manifests and configs too) in
``DIR/ALG/HEX``; the layout holds only ``oci-layout``, ``index.json`` and an empty ``blobs/``.
Each tool must read what the other wrote.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, write_oci

pytestmark = pytest.mark.skopeo

IMAGES = {"one": example_image(), "two": make_image([Layer(make_tar([("two.txt", b"second image\n")]))])}


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    return subprocess.run([*command, "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    write_oci(IMAGES, str(tmp_path / "src"))
    return tmp_path / "src"


def _blobs(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("writer", "reader"), [("trustcopy", "skopeo"), ("skopeo", "trustcopy"),
                                                ("trustcopy", "trustcopy")])
def test_a_shared_blob_layout_written_by_one_tool_is_read_by_the_other(source: Path, tmp_path: Path, writer: str,
                                                                        reader: str) -> None:
    layout, shared = tmp_path / "layout", tmp_path / "shared"
    shared.mkdir()
    for name in IMAGES:
        done = _run(writer, "copy", "-q", "--dest-shared-blob-dir", str(shared), f"oci:{source}:{name}",
                    f"oci:{layout}:{name}")
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in layout.iterdir()) == ["blobs", "index.json", "oci-layout"]
    assert _blobs(layout / "blobs") == set()
    expected = {d.split(":")[1] for image in IMAGES.values() for d in (image.digest, *image.blobs)}
    assert expected <= _blobs(shared)
    for name, image in IMAGES.items():
        raw = _run(reader, "inspect", "--raw", "--shared-blob-dir", str(shared), f"oci:{layout}:{name}")
        assert raw.returncode == 0, raw.stderr
        assert raw.stdout.encode() == image.manifest
        out = tmp_path / f"out-{name}"
        done = _run(reader, "copy", "-q", "--src-shared-blob-dir", str(shared), f"oci:{layout}:{name}", f"dir:{out}")
        assert done.returncode == 0, done.stderr
        assert (out / "manifest.json").read_bytes() == image.manifest


def test_without_the_shared_directory_the_layout_has_no_image(source: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    done = _run("trustcopy", "copy", "-q", "--dest-shared-blob-dir", str(shared), f"oci:{source}:one",
                f"oci:{tmp_path}/layout:one")
    assert done.returncode == 0, done.stderr
    missing = _run("trustcopy", "inspect", f"oci:{tmp_path}/layout:one")
    assert missing.returncode == 1 and "error[image-not-found]" in missing.stderr


def test_a_refused_copy_puts_nothing_in_the_shared_directory(source: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    policy = tmp_path / "reject.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}]}))
    done = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "-q",
                           "--dest-shared-blob-dir", str(shared), f"oci:{source}:one", f"oci:{tmp_path}/layout:one"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert list(shared.iterdir()) == [] and not (tmp_path / "layout").exists()


def test_blobs_cross_to_a_shared_directory_on_another_filesystem(source: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename into the shared directory that fails with EXDEV copies the blob through a
    temporary beside its final name instead (the library, in this process)."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.transports import oci_layout
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import SystemContext

    shared = tmp_path / "shared"
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if dst.startswith(str(shared)) and not src.startswith(str(shared)):  # from the layout's staging
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(oci_layout.os, "replace", replace)
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(f"oci:{tmp_path}/layout:one"),
               parse_image_name(f"oci:{source}:one"),
               CopyOptions(dest_ctx=SystemContext(oci_shared_blob_dirs=(str(shared),))))
    monkeypatch.undo()
    names = sorted(p.name for p in (shared / "sha256").iterdir())
    assert IMAGES["one"].digest.split(":")[1] in names and not [n for n in names if n.startswith(".")]
    assert (shared / "sha256" / IMAGES["one"].digest.split(":")[1]).read_bytes() == IMAGES["one"].manifest
