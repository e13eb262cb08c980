"""Archive and layout destinations next to skopeo 1.9.3: file modes under a umask, images with
repeated and empty layers under several tags, a full disk while spooling, and a `kill -9` over an
archive that already exists."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci

from trustcopy.errors import TransportError
from trustcopy.transports import archivewriter
from trustcopy.transports.archivewriter import TarWriter

TRUSTCOPY = [sys.executable, "-m", "trustcopy", "--insecure-policy"]
SKOPEO = ["skopeo", "--insecure-policy"]


def _copy(tool: list[str], *args: str, umask: int | None = None) -> None:
    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    r = subprocess.run([*tool, "copy", "-q", *args], capture_output=True, text=True, check=False, timeout=120,
                       preexec_fn=set_umask)
    assert r.returncode == 0, f"{tool[0]} copy {args}: {r.stderr}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Layers A, B, A again, Docker's 1024-byte empty layer, B again."""
    a = Layer(make_tar([("a.txt", b"a" * 3000)]))
    b = Layer(make_tar([("b.txt", b"b" * 3000)]))
    empty = Layer(b"\0" * 1024)
    path = tmp_path_factory.mktemp("src") / "layout"
    write_oci({"img": make_image([a, b, a, empty, b])}, str(path))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skopeo
def test_new_archives_and_layouts_honour_the_umask_as_skopeos_do(tmp_path: Path, source: Path) -> None:
    """Under umask 077 skopeo writes private files (0600, directories 0700); a copy must never
    publish as 0644 an image the user meant to keep private."""
    modes: dict[str, dict[str, int]] = {}
    for name, tool in (("skopeo", SKOPEO), ("trustcopy", TRUSTCOPY)):
        out = tmp_path / name
        out.mkdir()
        _copy(tool, f"oci:{source}:img", f"docker-archive:{out}/a.tar:example.com:5000/app:1", umask=0o077)
        _copy(tool, f"oci:{source}:img", f"oci-archive:{out}/o.tar:x", umask=0o077)
        _copy(tool, f"oci:{source}:img", f"oci:{out}/lay:x", umask=0o077)
        modes[name] = {p: _mode(out / p) for p in
                       ("a.tar", "o.tar", "lay", "lay/blobs", "lay/blobs/sha256", "lay/index.json", "lay/oci-layout")}
    assert modes["trustcopy"] == modes["skopeo"]
    assert modes["trustcopy"]["a.tar"] == 0o600 and modes["trustcopy"]["lay"] == 0o700


@pytest.mark.skopeo
def test_a_replaced_archive_or_index_keeps_its_mode_as_skopeos_does(tmp_path: Path, source: Path) -> None:
    """skopeo writes into the file it finds (an empty docker-archive, an oci-archive, a layout's
    index.json): the file keeps its mode. Renaming a new file over it must keep it too."""
    modes: dict[str, dict[str, int]] = {}
    for name, tool in (("skopeo", SKOPEO), ("trustcopy", TRUSTCOPY)):
        out = tmp_path / name
        out.mkdir()
        (out / "empty.tar").write_bytes(b"")
        (out / "empty.tar").chmod(0o600)
        (out / "old.tar").write_bytes(b"an old archive")
        (out / "old.tar").chmod(0o640)
        _copy(tool, f"oci:{source}:img", f"oci:{out}/lay:first")
        (out / "lay" / "index.json").chmod(0o640)
        _copy(tool, f"oci:{source}:img", f"docker-archive:{out}/empty.tar")
        _copy(tool, f"oci:{source}:img", f"oci-archive:{out}/old.tar:x")
        _copy(tool, f"oci:{source}:img", f"oci:{out}/lay:second")
        modes[name] = {p: _mode(out / p) for p in ("empty.tar", "old.tar", "lay/index.json")}
        names = [m["annotations"]["org.opencontainers.image.ref.name"]
                 for m in json.loads((out / "lay" / "index.json").read_bytes())["manifests"]]
        assert sorted(names) == ["first", "second"]
    assert modes["trustcopy"] == modes["skopeo"] == {"empty.tar": 0o600, "old.tar": 0o640, "lay/index.json": 0o640}


@pytest.mark.skopeo
def test_repeated_and_empty_layers_under_several_tags_match_skopeo_byte_for_byte(tmp_path: Path,
                                                                                 source: Path) -> None:
    tags = ["--additional-tag", "localhost:5000/b:2", "--additional-tag", "b:3",
            "--additional-tag", "docker.io/library/b:3"]
    for name, tool in (("skopeo", SKOPEO), ("trustcopy", TRUSTCOPY)):
        _copy(tool, *tags, f"oci:{source}:img", f"docker-archive:{tmp_path}/{name}.tar:example.com:5000/ns/app:1")
    ours = (tmp_path / "trustcopy.tar").read_bytes()
    assert ours == (tmp_path / "skopeo.tar").read_bytes()
    # and skopeo reads every tag of it back, with every layer
    for tag in ("example.com:5000/ns/app:1", "localhost:5000/b:2", "b:3"):
        _copy(SKOPEO, f"docker-archive:{tmp_path}/trustcopy.tar:{tag}", f"dir:{tmp_path}/back-{tag.replace('/', '_')}")
    manifest = json.loads((tmp_path / "back-b:3" / "manifest.json").read_bytes())
    assert len(manifest["layers"]) == 5 and len({layer["digest"] for layer in manifest["layers"]}) == 3


def _dev_full_spool(*_args: object, **_kwargs: object) -> io.BufferedRandom:
    """A spool file on a full disk: writes fail with ENOSPC, and so does the flush at close."""
    return open("/dev/full", "w+b")


def test_a_full_disk_while_spooling_a_layer_is_a_named_error(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A compressed archive or a pipe spools a layer of unknown size; on a full disk (seen at
    `docker-archive:/small-tmpfs/a.tar.gz`) closing the half-written spool failed again and a bare
    OSError traceback replaced the error naming the destination."""
    monkeypatch.setattr(archivewriter.tempfile, "TemporaryFile", _dev_full_spool)
    writer = TarWriter(io.BytesIO(), seekable_file=None, spool_dir=str(tmp_path), what="docker-archive:x.tar.gz")

    class Small:
        """Reads in small pieces, so the spool buffers some before the disk is found full."""

        def __init__(self) -> None:
            self._data = io.BytesIO(os.urandom(200_000))

        def read(self, n: int = -1) -> bytes:
            return self._data.read(min(n, 1000) if n > 0 else 1000)

    with pytest.raises(TransportError) as info:
        writer.add_stream_unknown_size(Small(), lambda: "layer.tar")
    assert info.value.code == "destination-unwritable"
    assert str(tmp_path) in info.value.message and "docker-archive:x.tar.gz" in info.value.message


@pytest.mark.slow
def test_sigkill_over_an_existing_archive_leaves_it_untouched(tmp_path: Path) -> None:
    """oci-archive replaces PATH (as skopeo does), but only at commit: a copy killed mid-way
    leaves the old archive byte for byte, and the next copy removes the staging file."""
    big = tmp_path / "big"
    write_oci({"big": make_image([random_layer(15_000_000, seed) for seed in range(3)])}, str(big))
    small = tmp_path / "small"
    write_oci({"s": make_image([Layer(make_tar([("f", b"x")]))])}, str(small))
    out = tmp_path / "out"
    out.mkdir()
    _copy(TRUSTCOPY, f"oci:{small}:s", f"oci-archive:{out}/o.tar:x")
    before = (out / "o.tar").read_bytes()
    proc = subprocess.Popen([*TRUSTCOPY, "copy", "-q", f"oci:{big}:big", f"oci-archive:{out}/o.tar:x"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    staging: list[str] = []
    while time.monotonic() < deadline and not any(
            (out / p).stat().st_size > 5_000_000 for p in staging if (out / p).exists()):
        staging = [p for p in os.listdir(out) if p.startswith(".trustcopy-staging-")]
        time.sleep(0.01)
    assert proc.poll() is None, "the copy ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert staging, "the copy never started writing its staging file"
    assert (out / "o.tar").read_bytes() == before
    assert all(p == "o.tar" or p.startswith(".trustcopy-staging-") for p in os.listdir(out))
    _copy(TRUSTCOPY, f"oci:{small}:s", f"oci-archive:{out}/o.tar:y")
    assert os.listdir(out) == ["o.tar"]
    assert (out / "o.tar").read_bytes() != before  # replaced: a new ref name
