"""Adversarial registry faults: odd Retry-After values, answers lost after the registry acted.

A real docker-registry behind the loopback FaultProxy (registry_fixtures.py). Each test
names the fault and asserts what the user sees: success with every blob verified, or
one ``error[code]`` line, exit 1, no traceback, nothing committed at the destination.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from imagefactory import example_image, make_image, random_layer, write_oci
from registry_fixtures import Fault, FaultProxy, RegistryServer, docker_ref, fast_sys, push_image

from trustcopy.errors import ImageNotFoundError
from trustcopy.transports.docker.client import retry_after

pytestmark = pytest.mark.registry

Pred = Callable[[str, str, dict[str, str]], bool]


def once(pred: Pred, fault: Fault, times: int = 1) -> Callable[[str, str, dict[str, str]], Fault | None]:
    """A rule applying ``fault`` to the first ``times`` requests ``pred`` matches."""
    seen = itertools.count()
    lock = threading.Lock()

    def rule(method: str, path: str, headers: dict[str, str]) -> Fault | None:
        if not pred(method, path, headers):
            return None
        with lock:
            return fault if next(seen) < times else None

    return rule


def is_manifest_get(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "GET" and "/manifests/" in p


def is_manifest_put(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "PUT" and "/manifests/" in p


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error[")]


def tags_of(host: str, repo: str) -> list[str]:
    from trustcopy.transports.docker.client import RegistryClient
    from trustcopy.transports.docker.source import list_tags

    client = RegistryClient(fast_sys(), host, repo, "pull")
    try:
        return list_tags(client, f"{host}/{repo}")
    except ImageNotFoundError:
        return []
    finally:
        client.close()


# -- Retry-After values a registry should never send ------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1 Jan 99999999999999999999 0:0:0", "-5", "Fri, 31 Dec 1 00:00:00 GMT"])
def test_odd_retry_after_falls_back_to_the_backoff(value: str) -> None:
    """str.isdigit() takes "²" (int() refuses it), a 20-digit year overflows the date parser."""
    request = httpx.Request("GET", "http://127.0.0.1/v2/")
    response = httpx.Response(429, headers={"Retry-After": value.encode()}, request=request)
    assert retry_after(response, 0.25) == 0.25


def test_429_with_a_superscript_retry_after_is_retried_not_a_traceback(run_cli: Any, fault_proxy: FaultProxy,
                                                                        plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    # Latin-1 0xB2 on the wire: httpx decodes it as "²".
    fault_proxy.rule = once(is_manifest_get, Fault(status=429, headers={"Retry-After": "²"}))
    r = run_cli("inspect", "--raw", "--tls-verify=false", "--retry-times=1", "--retry-delay=10ms",
                f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout.encode() == image.manifest
    assert fault_proxy.count("GET", "/manifests/") == 2


# -- the manifest PUT's answer is lost after the registry stored it -------------------------------


def _push(run_cli: Any, policy: Path, tmp_path: Path, image: Any, dest: str, *flags: str) -> Any:
    write_oci({"t": image}, f"{tmp_path}/src")
    return run_cli("--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", "--retry-delay", "10ms",
                   *flags, f"oci:{tmp_path}/src:t", dest)


def test_lost_answers_to_the_manifest_put_do_not_fail_a_copy_whose_tag_is_set(
        run_cli: Any, fault_proxy: FaultProxy, plain_registry: RegistryServer, tmp_path: Path,
        insecure_policy: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Before: every PUT stored the manifest and moved the tag, the answers were lost, and
    the copy failed with error[network] while the tag was there: a "failed" copy that
    committed. Now the tag is checked (HEAD, Docker-Content-Digest) and the copy succeeds."""
    fault_proxy.rule = lambda m, p, h: Fault(lose_answer=True) if is_manifest_put(m, p, h) else None
    image = make_image([random_layer(2 << 20, 71)])
    r = _push(run_cli, insecure_policy, tmp_path, image, f"docker://{fault_proxy.host}/app:1", "--retry-times=1")
    assert r.exit_code == 0, r.stderr
    assert fault_proxy.count("PUT", "/manifests/") == 2
    assert fault_proxy.count("HEAD", "/manifests/1") >= 1
    assert "the registry holds the manifest now" in caplog.text
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


@pytest.mark.parametrize("status", [503, 502])
def test_a_manifest_put_the_registry_never_saw_still_fails_and_leaves_no_tag(
        run_cli: Any, fault_proxy: FaultProxy, plain_registry: RegistryServer, tmp_path: Path,
        insecure_policy: Path, status: int) -> None:
    """The check after a failed PUT must not turn a real failure into a success."""
    fault = Fault(status=status)  # answered by the proxy: the registry never sees the PUT
    fault_proxy.rule = lambda m, p, h: fault if is_manifest_put(m, p, h) else None
    r = _push(run_cli, insecure_policy, tmp_path, make_image([random_layer(2 << 20, 72)]),
              f"docker://{fault_proxy.host}/app:1", "--retry-times=1")
    assert r.exit_code == 1
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error[registry-http]:") and "injected fault" in lines[0]
    assert "Traceback" not in r.stderr
    assert tags_of(plain_registry.host, "app") == []


def test_a_different_manifest_under_the_tag_is_not_taken_for_ours(
        run_cli: Any, fault_proxy: FaultProxy, plain_registry: RegistryServer, tmp_path: Path,
        insecure_policy: Path) -> None:
    """The tag already names another image and our PUT's answer is lost without the registry
    acting: the check sees the other digest, and the copy fails."""
    other = example_image()
    push_image(plain_registry.host, "app:1", other, fast_sys())
    fault_proxy.rule = lambda m, p, h: Fault(status=503) if is_manifest_put(m, p, h) else None
    r = _push(run_cli, insecure_policy, tmp_path, make_image([random_layer(2 << 20, 73)]),
              f"docker://{fault_proxy.host}/app:1", "--retry-times=0")
    assert r.exit_code == 1 and len(error_lines(r.stderr)) == 1
    assert fault_proxy.count("HEAD", "/manifests/1") >= 1
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == other.manifest
