"""``copy --dest-precompute-digests``: a layer compressed on the way is not uploaded again.

A ``dir:`` image with an uncompressed layer, pushed to a registry: the layer is gzipped on the
way, so its digest is unknown before the upload and the usual existence check cannot skip it.
With the flag, the compressed layer is spooled first (an unnamed temporary file), its digest
checked, and the upload made only when the registry lacks it. The requests are counted by
the project's fault proxy (which forwards everything here), side by side with skopeo.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, write_dir
from registry_fixtures import FaultProxy, RegistryServer

pytestmark = pytest.mark.registry

IMAGE = make_image([Layer(make_tar([("big.txt", b"compressible line\n" * 20_000)]), compressed=False)])


@pytest.fixture
def proxy(plain_registry: RegistryServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(plain_registry.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _push(tool: str, policy: Path, src: Path, dest: str, *flags: str,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = ([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "--no-skip-identical"]
               if tool == "trustcopy" else ["skopeo", "--policy", str(policy), "copy"])
    return subprocess.run([*command, "--dest-tls-verify=false", *flags, f"dir:{src}", dest], capture_output=True,
                          text=True, timeout=120, check=False, env=env)


@pytest.mark.parametrize("tool", ["trustcopy", pytest.param("skopeo", marks=pytest.mark.skopeo)])
def test_a_second_push_uploads_no_layer(proxy: FaultProxy, tmp_path: Path, insecure_policy: Path, tool: str) -> None:
    write_dir(IMAGE, str(tmp_path / "src"))
    dest = f"docker://{proxy.host}/precompute/{tool}:1"
    first = _push(tool, insecure_policy, tmp_path / "src", dest, "--dest-precompute-digests")
    assert first.returncode == 0, first.stderr
    uploads = proxy.count("POST", "/blobs/uploads/")
    assert uploads == 2  # the config and the compressed layer
    second = _push(tool, insecure_policy, tmp_path / "src", dest, "--dest-precompute-digests")
    assert second.returncode == 0, second.stderr
    assert proxy.count("POST", "/blobs/uploads/") == uploads, "the second push uploaded a blob"


def test_without_the_flag_the_compressed_layer_is_uploaded_again(proxy: FaultProxy, tmp_path: Path,
                                                                  insecure_policy: Path) -> None:
    write_dir(IMAGE, str(tmp_path / "src"))
    dest = f"docker://{proxy.host}/precompute/streamed:1"
    for _ in range(2):
        done = _push("trustcopy", insecure_policy, tmp_path / "src", dest)
        assert done.returncode == 0, done.stderr
    assert proxy.count("POST", "/blobs/uploads/") == 3  # config once, the layer twice


def test_an_unwritable_temporary_directory_is_a_clear_error(proxy: FaultProxy, tmp_path: Path,
                                                            insecure_policy: Path) -> None:
    write_dir(IMAGE, str(tmp_path / "src"))
    env = {**os.environ, "TMPDIR": str(tmp_path / "missing")}
    done = _push("trustcopy", insecure_policy, tmp_path / "src", f"docker://{proxy.host}/precompute/tmp:1",
                 "--dest-precompute-digests", env=env)
    assert done.returncode == 1
    assert "error[destination-unwritable]" in done.stderr and str(tmp_path / "missing") in done.stderr
    assert proxy.count("PUT", "/manifests/") == 0

