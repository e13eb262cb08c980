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


def _copy(tool: str, policy: Path, src: str, dest: str, proxy: str,
          **variables: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "", **variables}
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


@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
def test_all_proxy_is_ignored_as_go_ignores_it(plain_registry: RegistryServer, tmp_path: Path,
                                               insecure_policy: Path, tool: str) -> None:
    """``ALL_PROXY=socks5://…`` (an ssh tunnel on a developer's machine) is not for registries:
    httpx alone would send requests there (and, without socksio, fail to start)."""
    push_image(plain_registry.host, "proxy/app:1", IMAGE, fast_sys())
    dead = f"127.0.0.1:{free_port()}"
    done = _copy(tool, insecure_policy, f"docker://registry.test:{plain_registry.port}/proxy/app:1",
                 f"dir:{tmp_path}/out", f"http://{plain_registry.host}", ALL_PROXY=f"socks5://{dead}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == IMAGE.manifest


@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
def test_no_proxy_sends_a_registry_direct(plain_registry: RegistryServer, tmp_path: Path,
                                          insecure_policy: Path, tool: str) -> None:
    """``registry.test`` resolves nowhere: reached through the proxy it works; listed in NO_PROXY
    (a parent domain, with or without the port) it is dialled directly, and the copy fails naming
    the host; an entry whose port differs does not apply."""
    push_image(plain_registry.host, "proxy/app:1", IMAGE, fast_sys())
    for no_proxy in (f"registry.test:{plain_registry.port}", ".test", "example.com,*.test"):
        done = _copy(tool, insecure_policy, f"docker://app.registry.test:{plain_registry.port}/proxy/app:1",
                     f"dir:{tmp_path}/out", f"http://{plain_registry.host}", NO_PROXY=no_proxy)
        assert done.returncode != 0, no_proxy
        assert "app.registry.test" in done.stderr, done.stderr
    done = _copy(tool, insecure_policy, f"docker://app.registry.test:{plain_registry.port}/proxy/app:1",
                 f"dir:{tmp_path}/out", f"http://{plain_registry.host}", NO_PROXY="registry.test:1")
    assert done.returncode == 0, done.stderr
