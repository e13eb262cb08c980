"""The proxy variables, as skopeo (Go) applies them: to every registry but this machine's own.

A CI runner often has ``HTTP_PROXY``/``HTTPS_PROXY`` for the outside world and a registry
on ``localhost:5000`` that the proxy cannot reach. The "proxy" here is either a closed port
(a request sent to it fails) or the test registry itself: Docker Distribution serves a
proxy-style request (``GET http://registry.test:PORT/v2/…``) like any other, so a name that
resolves nowhere still reaches it, through the proxy only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar
from registry_fixtures import RegistryServer, fast_sys, free_port, push_image

pytestmark = pytest.mark.registry

IMAGE = make_image([Layer(make_tar([("proxied.txt", b"through the proxy, or not\n")]))])


def _copy(tool: str, policy: Path, src: str, dest: str, proxy: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": ""}
    command = ([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "--retry-times", "0"]
               if tool == "trustcopy" else ["skopeo", "copy", "--policy", str(policy)])
    return subprocess.run([*command, "-q", "--src-tls-verify=false", src, dest], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
def test_this_machines_registry_is_reached_directly(plain_registry: RegistryServer, tmp_path: Path,
                                                    insecure_policy: Path, host: str, tool: str) -> None:
    push_image(plain_registry.host, "proxy/app:1", IMAGE, fast_sys())
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: a request sent there fails
    done = _copy(tool, insecure_policy, f"docker://{host}:{plain_registry.port}/proxy/app:1", f"dir:{tmp_path}/out",
                 dead_proxy)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == IMAGE.manifest


@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
def test_other_registries_are_reached_through_the_proxy(plain_registry: RegistryServer, tmp_path: Path,
                                                        insecure_policy: Path, tool: str) -> None:
    push_image(plain_registry.host, "proxy/app:1", IMAGE, fast_sys())
    done = _copy(tool, insecure_policy, f"docker://registry.test:{plain_registry.port}/proxy/app:1",
                 f"dir:{tmp_path}/out", f"http://{plain_registry.host}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == IMAGE.manifest
