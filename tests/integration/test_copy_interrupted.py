"""A copy killed at any moment leaves the destination as it was (or complete)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import make_image, random_layer, write_oci

from trustcopy.digest import Digest

pytestmark = pytest.mark.slow


def _verify_complete_dir(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_bytes())
    for desc in [manifest["config"], *manifest["layers"]]:
        data = (path / desc["digest"].split(":")[1]).read_bytes()
        assert str(Digest.from_bytes(data)) == desc["digest"]


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4, 0.8])
def test_sigkill_mid_copy_leaves_no_partial_destination(tmp_path: Path, insecure_policy: Path, delay: float) -> None:
    image = make_image([random_layer(8_000_000, seed) for seed in range(6)])
    write_oci({"big": image}, str(tmp_path / "src"))
    dest = tmp_path / "dest"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "copy", "-q",
         f"oci:{tmp_path}/src:big", f"dir:{dest}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if dest.exists():
        _verify_complete_dir(dest)  # the copy finished before the kill: it must be whole
    else:
        leftovers = [p for p in os.listdir(tmp_path) if p not in ("src", "insecure-policy.json")]
        assert all(p.startswith(".trustcopy-staging-") for p in leftovers)


def test_sigterm_cleans_up_staging(tmp_path: Path, insecure_policy: Path) -> None:
    image = make_image([random_layer(20_000_000, seed) for seed in range(4)])
    write_oci({"big": image}, str(tmp_path / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "copy", "-q",
         f"oci:{tmp_path}/src:big", f"oci:{tmp_path}/dest:x"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(p.startswith(".trustcopy-staging-") for p in os.listdir(tmp_path)):
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    if rc == 0:
        pytest.skip("the copy finished before SIGTERM arrived")
    assert not (tmp_path / "dest").exists()
    assert sorted(os.listdir(tmp_path)) == ["insecure-policy.json", "src"]
