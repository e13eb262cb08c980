"""The registry dies (``kill -9``) in the middle of a blob and comes back: the copy survives.

A registry restarted by its supervisor after a crash is an everyday fault: the connection
carrying a blob is cut, new connections are refused for a moment, then the same registry
(same storage, same upload-state secret) answers again. With ``--retry-times``, a copy must
resume a download with a Range request, or send an upload again, and finish with an image
whose every blob was verified, exactly as if nothing had happened.

The kill must land mid-blob, so the copy is not raced but frozen: when the blob is under
way (bytes in the staging file, or in the registry's upload), the test stops trustcopy
(SIGSTOP), kills the registry, waits, starts it again on the same port, and lets trustcopy
go on (SIGCONT). The blob is much larger than what the loopback socket buffers can hold, so
the cut is certain to fall inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from imagefactory import Image, Layer, make_image, make_tar, random_layer, write_oci
from registry_fixtures import RegistryServer, fast_sys, push_image

pytestmark = pytest.mark.registry

#: Large enough that the blob cannot sit whole in the socket buffers when the registry dies.
BIG = 48_000_000
#: The copy is frozen once this many bytes of the blob have gone through.
UNDER_WAY = 2 << 20


def _image() -> tuple[Image, str]:
    image = make_image([random_layer(BIG, 17), Layer(make_tar([("etc/x", b"x")]))])
    big = max(image.blobs, key=lambda d: len(image.blobs[d]))
    return image, big


def _largest_file(root: Path, pattern: str) -> int:
    sizes = [p.stat().st_size for p in root.glob(pattern) if p.is_file()]
    return max(sizes, default=0)


def _copy_through_a_crash(registry: RegistryServer, args: list[str], under_way: Callable[[], bool]) -> str:
    """Run ``trustcopy copy ARGS``; kill and restart the registry once ``under_way()``; its stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "trustcopy", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not under_way():
            assert proc.poll() is None, f"the copy ended before the blob was under way: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the blob never got under way"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            assert registry.proc is not None
            registry.proc.kill()
            registry.proc.wait(10)
            registry.proc = None
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        # Down for a moment: the copy meets refused connections before the registry is back.
        time.sleep(0.7)
        registry.start()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    text = err.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


def test_a_download_cut_by_a_registry_crash_resumes(plain_registry: RegistryServer, tmp_path: Path,
                                                     insecure_policy: Path) -> None:
    image, big = _image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    out = tmp_path / "out"
    out.mkdir()
    err = _copy_through_a_crash(
        plain_registry,
        ["--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times", "5",
         "--retry-delay", "0.3s", f"docker://{plain_registry.host}/app:1", f"dir:{out}/image"],
        lambda: _largest_file(out, "**/*") > UNDER_WAY,
    )
    # It resumed where the cut fell (a Range request), not from the first byte.
    assert "resuming" in err, err
    blob = (out / "image" / big.split(":", 1)[1]).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == big.split(":", 1)[1]
    assert sorted(p.name for p in (out / "image").iterdir()) == sorted(
        [d.split(":", 1)[1] for d in image.blobs] + ["manifest.json", "version"])


def test_an_upload_cut_by_a_registry_crash_is_sent_again(plain_registry: RegistryServer, tmp_path: Path,
                                                         insecure_policy: Path) -> None:
    image, big = _image()
    write_oci({"app": image}, str(tmp_path / "layout"))
    storage = plain_registry.workdir / "storage"
    err = _copy_through_a_crash(
        plain_registry,
        ["--policy", str(insecure_policy), "copy", "--dest-tls-verify=false", "--retry-times", "5",
         "--retry-delay", "0.3s", f"oci:{tmp_path}/layout:app", f"docker://{plain_registry.host}/crash:1"],
        lambda: _largest_file(storage, "docker/registry/v2/repositories/crash/_uploads/*/data") > UNDER_WAY,
    )
    assert f"copying blob {big} again" in err, err
    # The registry holds the whole image under the tag: skopeo (another client) reads it back
    # and checks every blob against its digest.
    back = tmp_path / "back"
    subprocess.run(["skopeo", "--policy", str(insecure_policy), "copy", "--src-tls-verify=false",
                    f"docker://{plain_registry.host}/crash:1", f"dir:{back}"], check=True, capture_output=True)
    manifest = json.loads((back / "manifest.json").read_bytes())
    layers = {d for d in image.blobs if d != manifest["config"]["digest"]}
    assert {layer["digest"] for layer in manifest["layers"]} == layers
    assert hashlib.sha256((back / big.split(":", 1)[1]).read_bytes()).hexdigest() == big.split(":", 1)[1]
