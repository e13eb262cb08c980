"""``list-tags docker-archive:PATH``, side by side with skopeo 1.9.3 on the same archives.

skopeo lists every image's RepoTags as written in manifest.json (``@N`` for an untagged
image) and prints ``{"Tags": [...]}``; a RepoTags entry that is not a tagged reference fails
the command. The archives are written by trustcopy, then their manifest.json rewritten.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, write_oci

pytestmark = pytest.mark.skopeo

DIGEST_ONLY = "example.com/x@sha256:" + "a" * 64


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive of one image tagged example.com/a:1, example.com/b:2 and busybox."""
    tmp = tmp_path_factory.mktemp("list-tags")
    write_oci({"img": example_image(), "other": make_image([Layer(make_tar([("o", b"other")]))])}, str(tmp / "oci"))
    out = tmp / "two.tar"
    done = _run("trustcopy", "--insecure-policy", "copy", "-q", f"oci:{tmp / 'oci'}:img",
                f"docker-archive:{out}:example.com/a:1", "--additional-tag", "example.com/b:2",
                "--additional-tag", "busybox:latest")
    assert done.returncode == 0, done.stderr
    return out


def _with_manifest(source: Path, target: Path, edit: Any, *, compress: bool = False) -> Path:
    """A copy of ``source`` whose manifest.json is ``edit(items)``."""
    buffer = io.BytesIO()
    with tarfile.open(source) as tar_in, tarfile.open(fileobj=buffer, mode="w") as tar_out:
        for member in tar_in.getmembers():
            data = tar_in.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name == "manifest.json":
                data = json.dumps(edit(json.loads(data or b"[]"))).encode()
                member.size = len(data)
            tar_out.addfile(member, io.BytesIO(data) if data is not None else None)
    target.write_bytes(gzip.compress(buffer.getvalue()) if compress else buffer.getvalue())
    return target


def _items(tags: list[list[str] | None]) -> Any:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for t in tags:
            item = dict(items[0], RepoTags=t)
            if t is None:
                del item["RepoTags"]
            out.append(item)
        return out
    return edit


CASES = {
    "one image, three tags": None,
    "several images, untagged ones and a tag repeated": _items([["example.com/a:1", "example.com/b:2"], [], None,
                                                                ["example.com/a:1", "c:3"]]),
    "no image": _items([]),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
def test_archive_tags_as_skopeo_prints_them(archive: Path, tmp_path: Path, case: str, compress: bool) -> None:
    """skopeo 1.9.3 cannot read a gzip docker-archive ("unexpected EOF"): for one, trustcopy's
    answer is compared with skopeo's on the same archive uncompressed."""
    edit = CASES[case] or (lambda items: items)
    plain = _with_manifest(archive, tmp_path / "edited.tar", edit)
    path = _with_manifest(archive, tmp_path / "edited.tar.gz", edit, compress=True) if compress else plain
    ours = _run("trustcopy", "list-tags", f"docker-archive:{path}")
    theirs = _run("skopeo", "list-tags", f"docker-archive:{plain}")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    if case == "one image, three tags":
        assert json.loads(ours.stdout) == {"Tags": ["example.com/a:1", "example.com/b:2",
                                                    "docker.io/library/busybox:latest"]}


def test_a_name_after_the_path_is_ignored(archive: Path) -> None:
    ours = _run("trustcopy", "list-tags", f"docker-archive:{archive}:example.com/b:2")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == _run("trustcopy", "list-tags", f"docker-archive:{archive}").stdout


@pytest.mark.parametrize("bad", ["UPPER/x:1", "example.com/notag", DIGEST_ONLY])
def test_a_repo_tag_that_is_not_a_tagged_reference_fails_both(archive: Path, tmp_path: Path, bad: str) -> None:
    path = _with_manifest(archive, tmp_path / "bad.tar", _items([["example.com/a:1", bad]]))
    ours, theirs = (_run(tool, "list-tags", f"docker-archive:{path}") for tool in ("trustcopy", "skopeo"))
    assert (ours.returncode, theirs.returncode) == (1, 1), (ours.stderr, theirs.stderr)
    assert "error[archive-manifest-invalid]" in ours.stderr and repr(bad) in ours.stderr
    assert ours.stdout == ""


@pytest.mark.parametrize("name", ["missing.tar", "not-an-archive.txt"])
def test_a_missing_or_foreign_file_fails_both(tmp_path: Path, name: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello\n" * 100)
    ours, theirs = (_run(tool, "list-tags", f"docker-archive:{tmp_path / name}") for tool in ("trustcopy", "skopeo"))
    assert (ours.returncode, theirs.returncode) == (1, 1), (ours.stderr, theirs.stderr)
    assert ours.stderr.startswith("error[") and ours.stdout == ""
