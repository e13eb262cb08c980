"""A real Docker-API engine for the docker-daemon tests: Debian's podman serving the compat API.

``podman system service --time 0 unix://DIR/podman.sock`` with its own ``--root`` and
``--runroot`` in a temporary directory and the ``vfs`` storage driver runs without any
container; it is started once per test session (per xdist worker) and stopped by its PID.
As an ordinary user podman runs rootless: it needs ``newuidmap``/``newgidmap`` (Debian's
``uidmap``, which ./run installs) for the user's /etc/subuid and /etc/subgid ranges, and it
starts a "pause" process (holding its user namespace) whose PID it keeps in ``--tmpdir``;
the fixture stops that process too, and removes the storage from inside the namespace
(files owned by sub-IDs cannot be removed from outside it).
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


def _global_options(base: Path) -> list[str]:
    """podman's options naming the storage and temporary directories under ``base``."""
    return ["--root", str(base / "root"), "--runroot", str(base / "runroot"), "--storage-driver", "vfs",
            "--tmpdir", str(base / "tmp")]


def _rootless_hint() -> str:
    """What an ordinary user needs for rootless podman (empty for root), added to a start failure."""
    if os.geteuid() == 0:
        return ""
    return ("\n(running as a non-root user, podman is rootless: it needs newuidmap and newgidmap (Debian "
            "package uidmap; `./run test` run once as root installs it) and ranges for this user in "
            "/etc/subuid and /etc/subgid (useradd adds them))")


def start_podman(base: Path) -> Podman:
    """Start the service in ``base`` and wait until it answers."""
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "podman.sock"
    log = (base / "podman.log").open("wb")
    proc = subprocess.Popen(
        [PODMAN, *_global_options(base), "system", "service", "--time", "0", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop_rootless_pause(base)
            raise RuntimeError(f"podman system service exited: {(base / 'podman.log').read_text()[-2000:]}"
                               f"{_rootless_hint()}")
        if sock.exists() and _ping(sock):
            return Podman(base, sock, proc)
        time.sleep(0.1)
    stop_podman(proc)
    stop_rootless_pause(base)
    raise RuntimeError(f"podman system service did not start within 30s{_rootless_hint()}")


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
            remove_rootless_storage(base)
            stop_rootless_pause(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def remove_rootless_storage(base: Path) -> None:
    """Remove ``base``'s storage from inside the rootless user namespace (a no-op as root).

    Rootless, a loaded image's files belong to the user's sub-IDs: outside the namespace
    the user cannot delete them, and ``shutil.rmtree`` would leave them in /tmp.
    """
    if os.geteuid() == 0:
        return
    subprocess.run([PODMAN, *_global_options(base), "unshare", "rm", "-rf", str(base / "root"),
                    str(base / "runroot")], capture_output=True, timeout=120, check=False)


def stop_rootless_pause(base: Path) -> None:
    """Stop the pause process rootless podman started for ``base`` (its PID is in ``--tmpdir``).

    It runs in a session of its own, outside the service's process group, and would
    otherwise outlive the test session. Only the PID podman recorded under ``base`` is
    signalled, and only when that process is podman's.
    """
    try:
        pid = int((base / "tmp" / "pause.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except (OSError, ValueError):
        return
    if Path(command.decode(errors="replace")).name != "podman":
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie waiting for its parent counts as stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
