"""Registry faults a copy did not survive well (found by a fault review, session 29).

Each against the real registry behind the project's fault proxy:

- ``--command-timeout`` overrun by a minute: an upload answered 429 ``Retry-After: 1000``
  slept 60 s in a blob worker, past the deadline, and the process waited for it;
- a body that sends a little and stalls, on every resume: the read timeout (60 s) always
  came a full RESUME_INTERVAL (60 s) after the previous resume, which reset the count of
  resumes in a row, so the download was resumed forever;
- a TLS handshake that never completes took 60 s per attempt (containers/image: 10 s);
- a 429's ``Retry-After`` on a streamed upload's PATCH was ignored when the blob was sent again;
- an unparsable redirect ``Location`` was retried as a network error.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import make_image, random_layer, write_oci
from registry_fixtures import Fault, FaultProxy, RegistryServer, docker_ref, fast_sys, pull_blob, push_image

from trustcopy.errors import NetworkError, RegistryError
from trustcopy.transports.docker import blobreader, client

pytestmark = pytest.mark.registry


def _is_blob_get(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "GET" and "/blobs/sha256:" in p


@pytest.fixture
def pushed(plain_registry: RegistryServer) -> tuple[str, bytes]:
    """The layer (digest, bytes) of a one-layer image pushed as app:1."""
    image = make_image([random_layer(2 << 20, 29)])
    push_image(plain_registry.host, "app:1", image, fast_sys())
    return max(image.blobs.items(), key=lambda kv: len(kv[1]))  # type: ignore[attr-defined,no-any-return]


def test_a_body_that_stalls_on_every_resume_ends(fault_proxy: FaultProxy, pushed: tuple[str, bytes],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's 60 s read timeout and 60 s RESUME_INTERVAL, scaled down: a stall always ends
    after the interval. Only progress may reset the count after a stall."""
    monkeypatch.setattr(blobreader, "RESUME_INTERVAL", 0.1)
    fault_proxy.rule = lambda m, p, h: Fault(stall=3.0) if _is_blob_get(m, p, h) else None
    digest, data = pushed
    start = time.monotonic()
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(docker_timeout=0.3, retry_times=2)) as src, \
            pytest.raises(NetworkError, match="ReadTimeout"):
        pull_blob(src, digest, len(data))
    assert fault_proxy.count("GET", "/blobs/sha256:") == 3  # the first GET and retry_times resumes
    assert time.monotonic() - start < 3.0


def test_a_slow_link_that_makes_progress_between_stalls_still_completes(
        fault_proxy: FaultProxy, pushed: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress still resets the count: stalls on the first GET and on two resumes, each after
    more than RESUME_PROGRESS bytes, with retry_times=1."""
    monkeypatch.setattr(blobreader, "RESUME_PROGRESS", 1000)
    gets = iter(range(100))
    lock = threading.Lock()

    def rule(m: str, p: str, h: dict[str, str]) -> Fault | None:
        if not _is_blob_get(m, p, h):
            return None
        with lock:
            n = next(gets)
        return Fault(drop_after=400_000) if n < 3 else None

    fault_proxy.rule = rule
    digest, data = pushed
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(retry_times=1)) as src:
        assert pull_blob(src, digest, len(data)) == data
    assert fault_proxy.count("GET", "/blobs/sha256:") == 4


@pytest.fixture
def layout(tmp_path: Path) -> str:
    write_oci({"t": make_image([random_layer(300_000, 31), random_layer(200_000, 32)])}, str(tmp_path / "src"))
    return f"oci:{tmp_path / 'src'}:t"


def test_command_timeout_ends_the_process_despite_a_long_retry_after(
        fault_proxy: FaultProxy, layout: str, insecure_policy: Path) -> None:
    """Every upload answered 429 ``Retry-After: 1000``: the process ends at the deadline (it took
    66 s with a 5 s timeout: a blob worker slept a minute and the exit waited for it)."""
    fault_proxy.rule = lambda m, p, h: Fault(status=429, headers={"Retry-After": "1000"}) if m == "POST" else None
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "--command-timeout",
                           "2s", "copy", "-q", "--dest-tls-verify=false", layout, f"docker://{fault_proxy.host}/app:9"],
                          capture_output=True, text=True, check=False, timeout=60)
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    assert "error[command-timeout]" in done.stderr
    assert elapsed < 15, elapsed  # 2 s, the blob workers' grace, Python's start-up
    # No retry starts once the deadline has passed.
    after = done.stderr.split("error[command-timeout]")[1]
    assert "retrying" not in after and "again in" not in after


def test_retry_after_on_a_streamed_uploads_patch_is_honoured(run_cli: Callable[..., Any], fault_proxy: FaultProxy,
                                                             plain_registry: RegistryServer, tmp_path: Path,
                                                             insecure_policy: Path) -> None:
    fired = threading.Event()

    def rule(m: str, p: str, h: dict[str, str]) -> Fault | None:
        if m == "PATCH" and not fired.is_set():
            fired.set()
            return Fault(status=429, headers={"Retry-After": "2"})
        return None

    fault_proxy.rule = rule
    write_oci({"t": make_image([random_layer(3 << 20, 33)])}, str(tmp_path / "src"))
    start = time.monotonic()
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false", "--retry-delay", "10ms",
                f"oci:{tmp_path}/src:t", f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    assert time.monotonic() - start >= 1.9
    assert fault_proxy.count("PATCH", "/uploads/") == 2


def test_an_unparsable_redirect_is_not_retried(fault_proxy: FaultProxy, pushed: tuple[str, bytes]) -> None:
    fault_proxy.rule = lambda m, p, h: (Fault(status=302, headers={"Location": "http://[::1"})
                                        if _is_blob_get(m, p, h) else None)
    digest, data = pushed
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(RegistryError, match="the registry answered with an invalid URL") as info:
        pull_blob(src, digest, len(data))
    assert info.value.code == "registry"
    assert fault_proxy.count("GET", "/blobs/sha256:") == 1


@pytest.fixture
def silent_tls_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers (a ClientHello stays unanswered)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_stalled_tls_handshake_is_bounded_by_the_connect_timeout(silent_tls_server: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """containers/image: a 10 s TLS handshake timeout (CONNECT_TIMEOUT here), not the 60 s of a read."""
    assert client.CONNECT_TIMEOUT == 10.0
    monkeypatch.setattr(client, "CONNECT_TIMEOUT", 0.5)
    start = time.monotonic()
    ref = docker_ref(f"127.0.0.1:{silent_tls_server}", "app:1")
    with ref.new_image_source(fast_sys(docker_tls_verify=True, docker_timeout=30.0, retry_times=0)) as src, \
            pytest.raises(NetworkError, match="ConnectTimeout"):
        src.get_manifest()
    assert time.monotonic() - start < 5.0
