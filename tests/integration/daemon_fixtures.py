"""A real Docker-API engine for the docker-daemon tests: Debian's podman serving the compat API.

``podman system service --time 0 unix://DIR/podman.sock`` with its own ``--root`` and
``--runroot`` in a temporary directory and the ``vfs`` storage driver runs as root without
any container; it is started once per test session (per xdist worker) and stopped by its PID.
Its API is Docker's (``/images/NAME/get``, ``/images/load``), so trustcopy's docker-daemon
transport, skopeo's ``--src-daemon-host``/``--dest-daemon-host`` and ``podman --url`` all
talk to the same engine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PODMAN = shutil.which("podman") or "/usr/bin/podman"


@dataclass
class Podman:
    """A running podman API service."""

    root: Path
    socket: Path
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        """The --*-daemon-host / DOCKER_HOST value."""
        return f"unix://{self.socket}"

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``podman --url HOST ARGS`` (the remote client, talking to this service)."""
        r = subprocess.run([PODMAN, "--url", self.host, *args], capture_output=True, text=True, timeout=timeout,
                           check=False)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def image_id(self, name: str) -> str | None:
        """The engine's ID for ``name`` (our config digest), or None."""
        r = self.cli("image", "inspect", "--format", "{{.Id}}", name, check=False)
        return "sha256:" + r.stdout.strip() if r.returncode == 0 else None


def _ping(sock: Path) -> bool:
    """``GET /_ping`` over the socket answers 200."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            status = s.recv(64).split(b"\r\n", 1)[0]
            return b" 200" in status
    except OSError:
        return False


def start_podman(base: Path) -> Podman:
    """Start the service in ``base`` and wait until it answers."""
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "podman.sock"
    log = (base / "podman.log").open("wb")
    proc = subprocess.Popen(
        [PODMAN, "--root", str(base / "root"), "--runroot", str(base / "runroot"), "--storage-driver", "vfs",
         "--tmpdir", str(base / "tmp"), "system", "service", "--time", "0", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"podman system service exited: {(base / 'podman.log').read_text()[-2000:]}")
        if sock.exists() and _ping(sock):
            return Podman(base, sock, proc)
        time.sleep(0.1)
    stop_podman(proc)
    raise RuntimeError("podman system service did not start within 30s")


def stop_podman(proc: subprocess.Popen[bytes]) -> None:
    """Stop exactly the service we started (its process group: podman's own children)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def podman_service() -> Iterator[Podman]:
    """Start a service for a fixture, stop it and remove its storage afterwards.

    Its directory is short and under /tmp: podman refuses a runroot longer than 50
    characters, and a unix socket path must fit 108 bytes.
    """
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="tcpod-", dir="/tmp"))
    try:
        service = start_podman(base)
        try:
            yield service
        finally:
            stop_podman(service.process)
    finally:
        shutil.rmtree(base, ignore_errors=True)
