"""Hostile compressed layers through the real CLI process: its peak memory stays modest.

The unit tests (tests/unit/core/test_decompression_hostile.py) bound what the decompressing
streams hold; here the whole command runs in its own process, so its peak RSS (the rusage
of that one process, see ``_MEASURE``) covers everything a copy allocates: a zstd frame
declaring a window of gigabytes, and a gzip bomb recompressed to zstd on the way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import zstandard
from imagefactory import Layer, make_image, write_oci

ZSTD_MAGIC = (0xFD2FB528).to_bytes(4, "little")
#: About four times what these copies need (25-30 MiB), far below the gigabytes the inputs ask for.
MODEST_RSS_MIB = 96


class _Stored(Layer):
    """A layer stored as the given bytes, with the diff ID of ``tar_digest``."""

    def __init__(self, stored: bytes, tar_digest: str) -> None:
        super().__init__(b"")
        self._stored, self._tar_digest = stored, tar_digest

    @property
    def blob(self) -> bytes:  # type: ignore[override]
        return self._stored

    @property
    def diff_id(self) -> str:  # type: ignore[override]
        return self._tar_digest


#: Runs the command given as arguments in a child of its own and prints the child's exit code and
#: peak RSS (KiB). The extra hop matters: a process started from pytest (vfork, or fork) records
#: the pytest worker's own resident set as its high-water mark when it execs, so measuring it
#: directly measured the test run; a child forked from this small process starts from its size.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _trustcopy(*args: str) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS (MiB) of one CLI run."""
    r = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "trustcopy", "--insecure-policy",
                        *args], capture_output=True, check=True, timeout=300)
    code, peak_kib = r.stdout.split()[-2:]
    return int(code), r.stderr.decode(errors="replace"), int(peak_kib) // 1024


def _layer_blob(root: Path, tag: str) -> tuple[dict[str, object], Path]:
    index = json.loads((root / "index.json").read_bytes())
    (entry,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag]
    blobs = root / "blobs" / "sha256"
    manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_bytes())
    (layer,) = manifest["layers"]
    return layer, blobs / layer["digest"].split(":")[1]


@pytest.mark.parametrize("descriptor", [21 << 3, 0xFF], ids=["2GiB-window", "largest-window"])
def test_a_zstd_layer_declaring_a_huge_window_fails_named_in_bounded_memory(tmp_path: Path,
                                                                             descriptor: int) -> None:
    frame = ZSTD_MAGIC + bytes([0x00, descriptor]) + (1 | 1 << 1 | 1000 << 3).to_bytes(3, "little") + b"a"
    write_oci({"x": make_image([_Stored(frame, "sha256:" + hashlib.sha256(b"a" * 1000).hexdigest())])},
              str(tmp_path / "src"))
    code, err, peak = _trustcopy("copy", "--dest-compress-format", "gzip", f"oci:{tmp_path / 'src'}:x",
                                 f"oci:{tmp_path / 'out'}:x")
    assert code != 0
    assert "sha256:" + hashlib.sha256(frame).hexdigest() in err
    assert "zstd data is corrupt" in err and "memory" in err, err
    assert not (tmp_path / "out").exists()
    assert peak < MODEST_RSS_MIB, f"peak RSS {peak} MiB"


def test_a_gzip_bomb_recompressed_to_zstd_streams_in_bounded_memory(tmp_path: Path) -> None:
    """768 MiB of zeros from under 1 MiB of gzip: the copy succeeds, never holding the output, diff ID kept."""
    size, piece = 768 << 20, bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(comp.compress(piece) for _ in range(size >> 20)) + comp.flush()
    plain = hashlib.sha256()
    for _ in range(size >> 20):
        plain.update(piece)
    diff_id = "sha256:" + plain.hexdigest()
    write_oci({"x": make_image([_Stored(bomb, diff_id)])}, str(tmp_path / "src"))
    code, err, peak = _trustcopy("copy", "--dest-compress-format", "zstd", f"oci:{tmp_path / 'src'}:x",
                                 f"oci:{tmp_path / 'out'}:x")
    assert code == 0, err
    assert peak < MODEST_RSS_MIB, f"peak RSS {peak} MiB"
    layer, path = _layer_blob(tmp_path / "out", "x")
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert path.stat().st_size < 1 << 20
    out = hashlib.sha256()
    with path.open("rb") as f, zstandard.ZstdDecompressor().stream_reader(f) as reader:
        while chunk := reader.read(1 << 20):
            out.update(chunk)
    assert "sha256:" + out.hexdigest() == diff_id
