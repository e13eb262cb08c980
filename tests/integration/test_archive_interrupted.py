"""An archive copy killed or terminated mid-way leaves no archive (SIGKILL: at most a hidden staging file,
which the next copy to that archive removes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import make_image, random_layer, write_oci

pytestmark = pytest.mark.slow

DESTS = {"docker-archive": "docker-archive:{d}/out.tar", "docker-archive-gz": "docker-archive:{d}/out.tar.gz",
         "oci-archive": "oci-archive:{d}/out.tar:x"}


def _start(tmp_path: Path, policy: Path, dest: str) -> subprocess.Popen[bytes]:
    if not (tmp_path / "src").exists():
        write_oci({"big": make_image([random_layer(15_000_000, seed) for seed in range(4)])}, str(tmp_path / "src"))
    return subprocess.Popen([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "-q",
                             f"oci:{tmp_path}/src:big", dest.format(d=tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_staging(tmp_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(p.startswith(".trustcopy-staging-") for p in os.listdir(tmp_path)):
        time.sleep(0.01)


@pytest.mark.parametrize("kind", list(DESTS))
def test_sigterm_removes_the_staging_archive(tmp_path: Path, insecure_policy: Path, kind: str) -> None:
    # The copy is stopped (SIGSTOP) while its staging file exists, so that SIGTERM lands mid-copy
    # however fast the machine: it is delivered on SIGCONT. (It was a skip when the copy won the
    # race, and a skip fails the suite under CI=1.) A copy done before the stop is tried again.
    for _ in range(3):
        proc = _start(tmp_path, insecure_policy, DESTS[kind])
        _wait_for_staging(tmp_path)
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGCONT)
        rc = proc.wait(timeout=30)
        if rc != 0:
            break
        for name in os.listdir(tmp_path):
            if name not in ("src", "insecure-policy.json"):
                os.unlink(tmp_path / name)
    assert rc != 0, "the copy finished before SIGTERM three times"
    assert sorted(os.listdir(tmp_path)) == ["insecure-policy.json", "src"]


@pytest.mark.parametrize("kind", list(DESTS))
def test_sigkill_leaves_at_most_a_hidden_staging_file(tmp_path: Path, insecure_policy: Path, kind: str) -> None:
    proc = _start(tmp_path, insecure_policy, DESTS[kind])
    _wait_for_staging(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = [p for p in os.listdir(tmp_path) if p not in ("src", "insecure-policy.json")]
    assert all(p.startswith(".trustcopy-staging-") for p in leftovers), leftovers
    # The next copy to the same archive removes what the killed one left, and writes it whole.
    again = _start(tmp_path, insecure_policy, DESTS[kind])
    assert again.wait(timeout=120) == 0
    archive = "out.tar.gz" if kind.endswith("-gz") else "out.tar"
    assert sorted(os.listdir(tmp_path)) == sorted([archive, "insecure-policy.json", "src"])
