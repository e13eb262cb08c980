"""Archives read from a pipe: ``docker save app | trustcopy copy docker-archive:/dev/stdin …``.

skopeo 1.9.3 fails on every one of these (containers/image opens the path again after
peeking at it, or lstat()s ``/proc/PID/fd/pipe:[…]``); trustcopy keeps the piped bytes in
an unnamed temporary file under --tmpdir, checking the tar headers as they arrive, and then
reads it like a file. What a pipe carries that is not an archive fails at once, without
filling the disk, and nothing is left in the temporary directory, whatever happens.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci


def _trustcopy(*args: str, stdin: bytes | None = None, feed: object = None,
               tmpdir: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with ``stdin`` (bytes) or ``feed`` (a callable writing to the pipe) on a real pipe."""
    cmd = [sys.executable, "-m", "trustcopy", "--insecure-policy"]
    if tmpdir is not None:
        cmd += ["--tmpdir", str(tmpdir)]
    proc = subprocess.Popen([*cmd, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pipe, proc.stdin = proc.stdin, None  # ours to write and close; communicate() leaves it alone
    assert pipe is not None

    def write() -> None:
        try:
            if callable(feed):
                feed(pipe)
            elif stdin is not None:
                pipe.write(stdin)
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                pipe.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    out, err = proc.communicate(timeout=120)
    writer.join(10)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _ok(r: subprocess.CompletedProcess[bytes]) -> None:
    assert r.returncode == 0, r.stderr.decode()


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipes")
    image = make_image([Layer(make_tar([("etc/motd", b"hello\n" * 500)])), random_layer(3_000_000, 9)])
    write_oci({"img": image}, str(root / "layout"))
    made = {"docker": root / "a.tar", "oci": root / "o.tar"}
    _ok(_trustcopy("copy", "-q", f"oci:{root}/layout:img", f"docker-archive:{made['docker']}:example.com/app:1"))
    _ok(_trustcopy("copy", "-q", f"oci:{root}/layout:img", f"oci-archive:{made['oci']}:app"))
    return made


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["docker", "oci"])
@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
def test_an_archive_on_standard_input_copies_like_the_file(tmp_path: Path, archives: dict[str, Path],
                                                          kind: str, compress: str | None) -> None:
    transport = "docker-archive" if kind == "docker" else "oci-archive"
    data = archives[kind].read_bytes()
    if compress == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compress == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    spool = tmp_path / "spool"
    spool.mkdir()
    _ok(_trustcopy("copy", "-q", f"{transport}:{archives[kind]}", f"dir:{tmp_path}/from-file"))
    _ok(_trustcopy("copy", "-q", f"{transport}:/dev/stdin", f"dir:{tmp_path}/from-pipe", stdin=data, tmpdir=spool))
    assert _tree(tmp_path / "from-pipe") == _tree(tmp_path / "from-file")
    assert os.listdir(spool) == []  # the copy was unnamed: nothing to clean up, even after kill -9


def test_a_named_pipe_whose_writer_starts_late(tmp_path: Path, archives: dict[str, Path]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def late_writer() -> None:
        time.sleep(0.5)
        with open(fifo, "wb") as f:
            f.write(archives["docker"].read_bytes())

    threading.Thread(target=late_writer, daemon=True).start()
    r = _trustcopy("inspect", "--raw", f"docker-archive:{fifo}")
    _ok(r)
    expected = _trustcopy("inspect", "--raw", f"docker-archive:{archives['docker']}")
    assert r.stdout == expected.stdout


def _endless(byte: bytes) -> object:
    def feed(pipe: object) -> None:
        block = byte * (1 << 16)
        deadline = time.monotonic() + 60  # never reached when trustcopy stops reading early
        while time.monotonic() < deadline:
            pipe.write(block)  # type: ignore[attr-defined]
    return feed


@pytest.mark.parametrize(("feed", "message"), [
    (_endless(b"\0"), "has no manifest.json"),  # an empty archive (its end marker), then more zeros
    (_endless(b"x"), "not a tar archive"),
])
def test_an_endless_pipe_of_non_archive_fails_at_once(tmp_path: Path, feed: object, message: str) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    started = time.monotonic()
    r = _trustcopy("copy", "-q", "docker-archive:/dev/stdin", f"dir:{tmp_path}/out", feed=feed, tmpdir=spool)
    assert r.returncode == 1
    assert message in r.stderr.decode()
    assert time.monotonic() - started < 30  # it stopped reading: the writer would go on for 60 s
    assert os.listdir(spool) == []
    assert not (tmp_path / "out").exists()


def test_a_truncated_piped_archive_names_the_fault(tmp_path: Path, archives: dict[str, Path]) -> None:
    r = _trustcopy("copy", "-q", "docker-archive:/dev/stdin", f"dir:{tmp_path}/out",
                   stdin=archives["docker"].read_bytes()[:5000])
    assert r.returncode == 1
    assert "error[archive-truncated]: docker-archive:/dev/stdin: the archive is truncated" in r.stderr.decode()
    assert not (tmp_path / "out").exists()
