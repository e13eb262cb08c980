"""An air-gapped transfer, as an operator meets it: what the messages say when signed images
meet an archive, and how a download into an archive stops when the user or the clock says so.

- A signed image copied into an archive or a layout is refused naming the destination once,
  and the hint says how to carry the signatures (``dir:``), not only how to drop them.
- Ctrl-C during a stalled download into an archive (the read-ahead thread blocked in the
  socket) exits 130 ``interrupted`` as documented (click's Abort made it 1 ``Aborted!``),
  promptly, and sends no ``Range`` request to "resume" the download it was told to stop; an
  expired ``--command-timeout`` likewise logs no "connection lost … resuming".
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_image, random_layer, write_dir
from registry_fixtures import Fault, FaultProxy, RegistryServer, fast_sys, push_image

#: How long the proxy holds a blob's body after its first byte: far longer than the tests wait.
STALL = 30.0


@pytest.mark.parametrize("dest", ["oci-archive:{d}/out.tar:app", "docker-archive:{d}/out.tar", "oci:{d}/layout:app"])
def test_signed_image_into_an_archive_names_it_once_and_points_to_dir(
        tmp_path: Path, run_cli: Any, insecure_policy: Path, dest: str) -> None:
    write_dir(example_image(), str(tmp_path / "img"))
    (tmp_path / "img" / "signature-1").write_bytes(b"a carried signature")
    dest_name = dest.format(d=tmp_path)
    result = run_cli("--policy", str(insecure_policy), "copy", "-q", f"dir:{tmp_path}/img", dest_name)
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[signatures-unsupported]: cannot copy signatures to "), result.stderr
    assert first.count(dest_name) == 1, first
    assert "--remove-signatures" in result.stderr and "copy to dir:" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img", "insecure-policy.json"]


def test_signed_image_into_a_registry_gets_no_dir_hint(tmp_path: Path, run_cli: Any, insecure_policy: Path,
                                                       plain_registry: RegistryServer) -> None:
    """The dir: advice is for archives and layouts; a registry's own reason keeps its own hint."""
    write_dir(example_image(), str(tmp_path / "img"))
    (tmp_path / "img" / "signature-1").write_bytes(b"a carried signature")
    rd = tmp_path / "registries.d"
    rd.mkdir()
    host = plain_registry.host
    (rd / "r.yaml").write_text(f"docker:\n  {host}:\n    lookaside: https://sigs.example.com/\n")
    result = run_cli("--policy", str(insecure_policy), "--registries.d", str(rd), "copy", "-q",
                     "--dest-tls-verify=false", f"dir:{tmp_path}/img", f"docker://{host}/app:1")
    assert result.exit_code == 1, result.stderr
    assert "signatures-unsupported" in result.stderr and "copy to dir:" not in result.stderr, result.stderr


def _stalled_copy(tmp_path: Path, policy: Path, proxy: FaultProxy, registry_host: str,
                  *extra: str) -> subprocess.Popen[str]:
    image = make_image([random_layer(3 << 20, 26)])
    push_image(registry_host, "big:1", image, fast_sys())
    proxy.rule = lambda m, p, h: Fault(stall=STALL) if m == "GET" and "/blobs/sha256:" in p else None
    return subprocess.Popen(
        [sys.executable, "-m", "trustcopy", "--policy", str(policy), *extra, "copy",
         "--src-tls-verify=false", f"docker://{proxy.host}/big:1", f"oci-archive:{tmp_path}/out.tar:big"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_blob_get(proxy: FaultProxy) -> None:
    deadline = time.monotonic() + 20
    while proxy.count("GET", "/blobs/sha256:") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proxy.count("GET", "/blobs/sha256:") == 1
    time.sleep(0.5)  # the first byte arrived; the read-ahead thread now waits in the socket


def test_ctrl_c_during_a_stalled_download_exits_130_at_once(tmp_path: Path, insecure_policy: Path,
                                                             plain_registry: RegistryServer,
                                                             fault_proxy: FaultProxy) -> None:
    proc = _stalled_copy(tmp_path, insecure_policy, fault_proxy, plain_registry.host)
    try:
        _wait_for_blob_get(fault_proxy)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=STALL + 30)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Aborted!" not in err, err
    assert "resuming" not in err, err
    assert [h.get("Range") for m, p, h in fault_proxy.seen if m == "GET" and "/blobs/" in p] == [None]
    assert took < 10, f"{took:.1f} s after Ctrl-C"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insecure-policy.json"]


def test_command_timeout_during_a_stalled_download_is_no_lost_connection(
        tmp_path: Path, insecure_policy: Path, plain_registry: RegistryServer, fault_proxy: FaultProxy) -> None:
    proc = _stalled_copy(tmp_path, insecure_policy, fault_proxy, plain_registry.host,
                         "--command-timeout", "3s")
    try:
        _, err = proc.communicate(timeout=STALL + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "error[command-timeout]" in err, err
    assert "connection lost" not in err, err
    assert [h.get("Range") for m, p, h in fault_proxy.seen if m == "GET" and "/blobs/" in p] == [None]
