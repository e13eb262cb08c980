"""Archives across tools: every archive one tool writes, the other reads, with the same image content
(config digest and diff IDs). Written once, parametrized over the writer and the reader."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci

pytestmark = pytest.mark.skopeo

TOOLS = ["skopeo", "trustcopy"]
#: name → (destination suffix after the path, extra copy flags)
FORMATS = {
    "docker-archive": ("a.tar", "docker-archive:{path}:example.com/app:1", []),
    "docker-archive-small-disk": ("small.tar", "docker-archive:{path}:example.com/app:1", ["--dest-compress"]),
    "docker-archive-zst": ("a.tar.zst", "docker-archive:{path}:example.com/app:1", []),
    "oci-archive": ("o.tar", "oci-archive:{path}:app", []),
}


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    r = subprocess.run([*cmd, "--insecure-policy", *args], capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 0, f"{tool} {' '.join(args)}: {r.stderr}"
    return r


def _content(tool: str, ref: str) -> tuple[str, list[str]]:
    manifest = json.loads(_run(tool, "inspect", "--raw", ref).stdout)
    config = json.loads(_run(tool, "inspect", "--config", ref).stdout)
    return manifest["config"]["digest"], config["rootfs"]["diff_ids"]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "layout"
    image = make_image([Layer(make_tar([("etc/motd", b"hello\n" * 500)])), random_layer(5_000_000, 5),
                        Layer(make_tar([("plain.txt", b"p" * 4000)]), compressed=False)])
    write_oci({"img": image}, str(path))
    return path


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("reader", TOOLS)
@pytest.mark.parametrize("writer", TOOLS)
def test_reader_sees_what_writer_wrote(tmp_path: Path, layout: Path, writer: str, reader: str, fmt: str) -> None:
    name, pattern, flags = FORMATS[fmt]
    path = tmp_path / name
    dest = pattern.format(path=path)
    _run(writer, "copy", "-q", *flags, f"oci:{layout}:img", dest)
    source_config, source_diff_ids = _content("trustcopy", f"oci:{layout}:img")
    config, diff_ids = _content(reader, dest)
    assert diff_ids == source_diff_ids
    if fmt.startswith("docker-archive"):
        assert config == source_config  # schema2 keeps the config bytes; OCI targets rewrite it (same for both)
    else:
        assert config == _content("skopeo", dest)[0]
    _run(reader, "copy", "-q", dest, f"dir:{tmp_path / 'back'}")  # every blob read and verified


def test_both_tools_generate_the_same_manifest_for_a_docker_archive(tmp_path: Path, layout: Path) -> None:
    path = tmp_path / "a.tar"
    _run("skopeo", "copy", "-q", f"oci:{layout}:img", f"docker-archive:{path}:example.com/app:1")
    ours = _run("trustcopy", "inspect", "--raw", f"docker-archive:{path}").stdout
    assert ours.strip() == _run("skopeo", "inspect", "--raw", f"docker-archive:{path}").stdout.strip()


@pytest.mark.parametrize("suffix", ["", ":example.com/app:1", ":" + "r" * 120 + "/app:1"])
def test_docker_archives_are_byte_identical_to_skopeos(tmp_path: Path, layout: Path, suffix: str) -> None:
    """Same image in, same archive out: every header (devmajor/devminor included) and every byte."""
    for tool in TOOLS:
        _run(tool, "copy", "-q", f"oci:{layout}:img", f"docker-archive:{tmp_path / tool}.tar{suffix}")
    assert (tmp_path / "trustcopy.tar").read_bytes() == (tmp_path / "skopeo.tar").read_bytes()


@pytest.mark.parametrize("compress", [False, True])
def test_tarball_images_are_byte_identical(tmp_path: Path, compress: bool) -> None:
    import gzip

    data = make_tar([("bin/sh", b"#!" * 100), ("etc/os-release", b"ID=test\n")])
    path = tmp_path / ("root.tar.gz" if compress else "root.tar")
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    assert _run("trustcopy", "inspect", "--raw", f"tarball:{path}").stdout == \
        _run("skopeo", "inspect", "--raw", f"tarball:{path}").stdout
    assert _run("trustcopy", "inspect", "--config", "--raw", f"tarball:{path}").stdout == \
        _run("skopeo", "inspect", "--config", "--raw", f"tarball:{path}").stdout
    # The printed config: newer skopeo (image-spec 1.1.1) drops an all-empty "config", 1.9.3 prints {}.
    ours = json.loads(_run("trustcopy", "inspect", "--config", f"tarball:{path}").stdout)
    theirs = json.loads(_run("skopeo", "inspect", "--config", f"tarball:{path}").stdout)
    assert theirs.pop("config") == {} and "config" not in ours
    assert ours == theirs


def test_skopeo_reads_trustcopy_gzip_archives_like_any_gzip_archive(tmp_path: Path, layout: Path) -> None:
    """skopeo 1.9.3 fails on every gzip-compressed docker archive (even gzip(1)'s): same failure for ours."""
    ours = tmp_path / "ours.tar.gz"
    _run("trustcopy", "copy", "-q", f"oci:{layout}:img", f"docker-archive:{ours}")
    plain = tmp_path / "plain.tar"
    _run("trustcopy", "copy", "-q", f"oci:{layout}:img", f"docker-archive:{plain}")
    subprocess.run(["gzip", "-k", str(plain)], check=True)
    results: list[int] = []
    for archive in (ours, tmp_path / "plain.tar.gz"):
        r = subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], capture_output=True, check=False)
        results.append(r.returncode)
    assert results[0] == results[1]
    reader: Callable[..., object] = _run
    reader("trustcopy", "copy", "-q", f"docker-archive:{ours}", f"dir:{tmp_path / 'back'}")
