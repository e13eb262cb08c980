"""A systematic registry fault matrix: request kind, fault and command.

One real docker-registry per test worker (module scope: each cell gets its own repository),
a FaultProxy in front of it for each cell (registry_fixtures.py), and the CLI run in-process.
The rows are the request kinds a command sends (ping, manifest GET by tag and by digest,
blob HEAD, blob GET of the config and of a layer, upload POST/PATCH/PUT, mount POST, manifest
PUT, tags list, DELETE); the columns the faults: an answer lost after the registry acted
(for a GET: a connection dropped before any answer), a body cut short under a full
Content-Length, one 500/502/503, 429 with ``Retry-After`` in seconds and as an HTTP date,
a stall past the per-request timeout, the registry killed (SIGKILL) and restarted; and,
for the failing side, a 503 burst longer than ``--retry-times``, a stall that never ends,
a flipped byte.

What each cell asserts: a transient fault changes nothing (exit 0, the result read back and
every blob checked against its digest); a permanent one is one ``error[code]`` line naming
the reference, exit 1, no traceback, nothing committed at the destination (no ``dir:``
directory, no tag, the image still there after a failed delete), and never a wait beyond the
configured timeouts. Already covered elsewhere, so not repeated here: Range resumption details
(test_registry_faults.py), lost manifest-PUT answers (test_registry_faults_adversarial.py),
signature paths (test_signature_fetch_faults.py), sync's per-image isolation
(test_sync_faults_more.py), a kill mid-blob (test_registry_killed.py).
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, Layer, make_image, make_tar, random_layer, write_oci
from registry_fixtures import (
    Fault,
    FaultProxy,
    RegistryServer,
    _require_registry,
    fast_sys,
    push_image,
    registry_request,
    running,
)

pytestmark = pytest.mark.registry

#: A small config (monolithic upload), a layer over 1 MiB (streamed through a PATCH) and a small layer.
IMAGE: Image = make_image([random_layer((1 << 20) + 4096, 2601), Layer(make_tar([("etc/s26", b"s26\n" * 64)]))])
CONFIG = str(json.loads(IMAGE.manifest)["config"]["digest"])
BIG = max(IMAGE.blobs, key=lambda d: len(IMAGE.blobs[d]))
#: The per-request timeout the stall cells use (the CLI has no flag for it; a library user sets docker_timeout).
TIMEOUT = 0.3
STALL = 1.5
TRANSIENT_FLAGS = ("--retry-times", "2", "--retry-delay", "10ms")
KILL_FLAGS = ("--retry-times", "100", "--retry-delay", "100ms")  # 10 s for the restart
BURST_FLAGS = ("--retry-times", "1", "--retry-delay", "10ms")

Pred = Callable[[str, str, dict[str, str]], bool]

KINDS: dict[str, Pred] = {
    "ping": lambda m, p, h: m == "GET" and p == "/v2/",
    "manifest-get": lambda m, p, h: m == "GET" and "/manifests/" in p,
    "manifest-head": lambda m, p, h: m == "HEAD" and "/manifests/" in p,
    "blob-head": lambda m, p, h: m == "HEAD" and "/blobs/sha256:" in p,
    "config-get": lambda m, p, h: m == "GET" and p.endswith(f"/blobs/{CONFIG}"),
    "layer-get": lambda m, p, h: m == "GET" and p.endswith(f"/blobs/{BIG}"),
    "upload-post": lambda m, p, h: m == "POST" and "/blobs/uploads/" in p and "mount=" not in p,
    "patch": lambda m, p, h: m == "PATCH",
    "upload-put": lambda m, p, h: m == "PUT" and "/blobs/uploads/" in p,
    "mount-post": lambda m, p, h: m == "POST" and "mount=" in p,
    "manifest-put": lambda m, p, h: m == "PUT" and "/manifests/" in p,
    "tags-list": lambda m, p, h: m == "GET" and "/tags/list" in p,
    "delete": lambda m, p, h: m == "DELETE" and "/manifests/" in p,
}

#: Which request kinds each command sends (the rows of its part of the matrix).
COMMAND_KINDS: dict[str, tuple[str, ...]] = {
    "pull": ("ping", "manifest-get", "config-get", "layer-get"),
    "pull-digest": ("manifest-get", "layer-get"),
    "push": ("ping", "blob-head", "upload-post", "patch", "upload-put", "manifest-put"),
    "copy-r2r": ("manifest-get", "mount-post", "manifest-put"),
    "inspect": ("manifest-get", "config-get", "tags-list"),
    "list-tags": ("ping", "tags-list"),
    "delete": ("manifest-get", "delete"),
    "sync": ("tags-list", "manifest-get", "layer-get"),
}

#: Kinds whose answer has a body a fault can cut, stall or flip.
BODY_KINDS = frozenset({"manifest-get", "config-get", "layer-get", "tags-list"})


def _transient_faults(kind: str) -> list[str]:
    out = ["lost", "500", "502", "503", "kill"]
    if kind in BODY_KINDS:
        out += ["cut", "stall"]
    return out


TRANSIENT_CELLS = [(cmd, kind, fault) for cmd, kinds in COMMAND_KINDS.items() for kind in kinds
                   for fault in _transient_faults(kind)]
BURST_CELLS = [(cmd, kind) for cmd, kinds in COMMAND_KINDS.items() for kind in kinds]
#: 429 cells wait a real second each: one row per command.
RATE_LIMIT_CELLS = [("pull", "manifest-get"), ("push", "upload-post"), ("delete", "delete")]


# -- the world ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One registry for the module's cells (each uses its own repository)."""
    _require_registry()
    with running(RegistryServer(tmp_path_factory.mktemp("registry-s26"))) as reg:
        yield reg


_names = itertools.count()


@dataclass
class Cell:
    """One cell's repository, proxy, rule state and CLI."""

    reg: RegistryServer
    proxy: FaultProxy
    tmp: Path
    run_cli: Callable[..., Any]
    policy: Path
    repo: str = field(default_factory=lambda: f"s26/r{next(_names)}")
    restarts: list[threading.Thread] = field(default_factory=list)
    over: threading.Event = field(default_factory=threading.Event)
    hits: int = 0

    @property
    def name(self) -> str:
        """``PROXY/REPO`` as the user writes it."""
        return f"{self.proxy.host}/{self.repo}"

    def seed(self, repo: str | None = None) -> None:
        push_image(self.reg.host, f"{repo or self.repo}:1", IMAGE, fast_sys())

    def apply(self, kind: str, fault: Fault | str, times: int | None = 1) -> None:
        """Apply ``fault`` to the first ``times`` requests of ``kind`` (None: all of them)."""
        pred = KINDS[kind]
        lock = threading.Lock()

        def rule(method: str, path: str, headers: dict[str, str]) -> Fault | None:
            if not pred(method, path, headers):
                return None
            with lock:
                self.hits += 1
                if times is not None and self.hits > times:
                    return None
            if fault == "kill":
                self._kill()
                return None  # forwarded to a dead registry: the connection closes without an answer
            if fault == "429-date":  # computed now: the date must lie ahead of this very answer
                return Fault(status=429, headers={"Retry-After": email.utils.formatdate(time.time() + 2,
                                                                                         usegmt=True)})
            assert isinstance(fault, Fault)
            return fault

        self.proxy.rule = rule

    def _kill(self) -> None:
        """SIGKILL the registry now; start it again on the same port a moment later."""
        proc = self.reg.proc
        assert proc is not None
        proc.kill()
        proc.wait(10)
        self.reg.proc = None

        def restart() -> None:
            time.sleep(0.3)
            self.reg.start()
            # The registry's PR_SET_PDEATHSIG fires when the thread that started it ends:
            # this thread lives until the cell is over (the fixture then restarts it for good).
            self.over.wait(60)

        thread = threading.Thread(target=restart, daemon=True)
        thread.start()
        self.restarts.append(thread)

    def cli(self, *args: str) -> Any:
        return self.run_cli("--policy", str(self.policy), *args)


@pytest.fixture
def cell(registry: RegistryServer, tmp_path: Path, run_cli: Any, insecure_policy: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Cell]:
    from trustcopy.transports.docker import client

    monkeypatch.setattr(client, "DEFAULT_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    with running(FaultProxy(registry.port)) as proxy:
        c = Cell(registry, proxy, tmp_path, run_cli, insecure_policy)
        try:
            yield c
        finally:
            c.over.set()
            for thread in c.restarts:
                thread.join(30)
            if c.restarts:  # started by a thread that ended: start it again from this one
                registry.stop()
                registry.start()


# -- reading back -------------------------------------------------------------------------------------------------


def _direct(reg: RegistryServer, path: str, method: str = "GET") -> tuple[int, bytes]:
    return registry_request(reg.url, path, method)


def assert_image_in_registry(reg: RegistryServer, repo: str) -> None:
    """The tag names IMAGE, and every blob reads back with its digest."""
    status, body = _direct(reg, f"{repo}/manifests/1")
    assert status == 200 and body == IMAGE.manifest
    for digest, data in IMAGE.blobs.items():
        status, got = _direct(reg, f"{repo}/blobs/{digest}")
        assert status == 200 and "sha256:" + hashlib.sha256(got).hexdigest() == digest and got == data


def assert_nothing_in_registry(reg: RegistryServer, repo: str) -> None:
    """No tag and no manifest of IMAGE in ``repo``."""
    assert _direct(reg, f"{repo}/manifests/1", "HEAD")[0] == 404
    assert _direct(reg, f"{repo}/manifests/{IMAGE.digest}", "HEAD")[0] == 404
    status, body = _direct(reg, f"{repo}/tags/list")
    assert status == 404 or not json.loads(body).get("tags")


def assert_dir_image(path: Path) -> None:
    """A complete ``dir:`` copy of IMAGE, every blob checked."""
    assert (path / "manifest.json").read_bytes() == IMAGE.manifest
    for digest in IMAGE.blobs:
        hexd = digest.split(":", 1)[1]
        assert hashlib.sha256((path / hexd).read_bytes()).hexdigest() == hexd


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error[")]


# -- running one command ------------------------------------------------------------------------------------------


def run(cell: Cell, command: str, flags: tuple[str, ...]) -> Any:
    """Seed what ``command`` needs, run it through the proxy; returns the CLI result."""
    c = cell
    if command in ("pull", "pull-digest", "inspect", "list-tags", "delete", "sync"):
        c.seed()
    if command == "pull":
        return c.cli("copy", "-q", "--src-tls-verify=false", *flags, f"docker://{c.name}:1", f"dir:{c.tmp}/out")
    if command == "pull-digest":
        return c.cli("copy", "-q", "--src-tls-verify=false", *flags, f"docker://{c.name}@{IMAGE.digest}",
                     f"dir:{c.tmp}/out")
    if command == "push":
        write_oci({"t": IMAGE}, str(c.tmp / "src"))
        return c.cli("copy", "-q", "--dest-tls-verify=false", *flags, f"oci:{c.tmp}/src:t", f"docker://{c.name}:1")
    if command == "copy-r2r":
        c.seed(f"{c.repo}-src")
        return c.cli("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", *flags,
                     f"docker://{c.name}-src:1", f"docker://{c.name}:1")
    if command == "inspect":
        return c.cli("inspect", "--tls-verify=false", *flags, f"docker://{c.name}:1")
    if command == "list-tags":
        return c.cli("list-tags", "--tls-verify=false", *flags, f"docker://{c.name}")
    if command == "delete":
        return c.cli("delete", "--tls-verify=false", *flags, f"docker://{c.name}:1")
    if command == "sync":
        return c.cli("sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", *flags, c.name,
                     f"{c.tmp}/out")
    raise AssertionError(command)


def assert_succeeded(cell: Cell, command: str, r: Any) -> None:
    """The command did its whole job, as without the fault."""
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    c = cell
    if command in ("pull", "pull-digest"):
        assert_dir_image(c.tmp / "out")
    elif command in ("push", "copy-r2r"):
        assert_image_in_registry(c.reg, c.repo)
    elif command == "inspect":
        doc = json.loads(r.stdout)
        assert doc["Digest"] == IMAGE.digest and doc["RepoTags"] == ["1"]
        assert doc["Layers"] == [layer["digest"] for layer in json.loads(IMAGE.manifest)["layers"]]
    elif command == "list-tags":
        assert json.loads(r.stdout)["Tags"] == ["1"]
    elif command == "delete":
        assert _direct(c.reg, f"{c.repo}/manifests/{IMAGE.digest}", "HEAD")[0] == 404
    elif command == "sync":
        assert_dir_image(c.tmp / "out" / "r{}:1".format(c.repo.rsplit("/r", 1)[1]))
    else:
        raise AssertionError(command)


def assert_failed_cleanly(cell: Cell, command: str, r: Any, code: str | None = None, *,
                          names: str | None = None) -> None:
    """Exit 1, one error line naming the reference (or ``names``) and ``code``, nothing committed."""
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = error_lines(r.stderr)
    if command == "sync":
        failed = r.stderr.split("failed:\n", 1)[1]
        assert cell.repo in failed and (code is None or f"error[{code}]" in failed), r.stderr
    else:
        assert len(lines) == 1, r.stderr
        assert (names or cell.repo) in lines[0], lines[0]
        assert code is None or lines[0].startswith(f"error[{code}]:"), lines[0]
    c = cell
    if command in ("pull", "pull-digest", "sync"):
        assert not (c.tmp / "out").exists() or not list((c.tmp / "out").rglob("manifest.json"))
        assert not (c.tmp / "out").exists() or not list((c.tmp / "out").rglob(".*"))
    elif command in ("push", "copy-r2r"):
        assert_nothing_in_registry(c.reg, c.repo)
    elif command == "delete":
        assert _direct(c.reg, f"{c.repo}/manifests/1")[1] == IMAGE.manifest


def fault_of(name: str) -> Fault | str:
    return {
        "lost": Fault(lose_answer=True),
        "500": Fault(status=500),
        "502": Fault(status=502),
        "503": Fault(status=503),
        "cut": Fault(drop_after=10),
        "stall": Fault(stall=STALL),
        "kill": "kill",
        "429-seconds": Fault(status=429, headers={"Retry-After": "1"}),
        "429-date": "429-date",
    }[name]


# -- the matrix ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "kind", "fault"), TRANSIENT_CELLS)
def test_a_transient_fault_changes_nothing(cell: Cell, command: str, kind: str, fault: str) -> None:
    cell.apply(kind, fault_of(fault))
    start = time.monotonic()
    r = run(cell, command, KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS)
    assert_succeeded(cell, command, r)
    assert cell.hits >= 1, f"the command sent no {kind} request"
    assert time.monotonic() - start < 15


@pytest.mark.parametrize(("command", "kind"), RATE_LIMIT_CELLS)
@pytest.mark.parametrize("form", ["429-seconds", "429-date"])
def test_429_waits_as_told_and_retries(cell: Cell, command: str, kind: str, form: str) -> None:
    cell.apply(kind, fault_of(form))
    start = time.monotonic()
    r = run(cell, command, TRANSIENT_FLAGS)
    waited = time.monotonic() - start
    assert_succeeded(cell, command, r)
    assert cell.hits >= 2
    assert 0.9 <= waited < 10


@pytest.mark.parametrize(("command", "kind"), [c for c in BURST_CELLS if c[1] != "mount-post"])
def test_a_503_burst_longer_than_the_retries_fails_cleanly(cell: Cell, command: str, kind: str) -> None:
    cell.apply(kind, Fault(status=503), times=None)
    start = time.monotonic()
    r = run(cell, command, BURST_FLAGS)
    # The ping is per registry, not per image: its error names the registry (as containers/image's does).
    assert_failed_cleanly(cell, command, r, names=f"pinging container registry {cell.proxy.host}"
                          if kind == "ping" else None)
    assert "injected fault" in r.stderr or "503 Service Unavailable" in r.stderr  # (a HEAD answer has no body)
    assert time.monotonic() - start < 15


def test_a_mount_that_keeps_failing_costs_only_the_upload(cell: Cell) -> None:
    """A mount is an optimisation (destination.py): its failure falls back to uploading the blob."""
    cell.apply("mount-post", Fault(status=503), times=None)
    r = run(cell, "copy-r2r", BURST_FLAGS)
    assert_succeeded(cell, "copy-r2r", r)
    assert cell.hits >= len(IMAGE.blobs)
    assert cell.proxy.count("PUT", "/blobs/uploads/") >= len(IMAGE.blobs)


def test_a_delete_whose_answer_is_lost_succeeds_once_the_manifest_is_gone(cell: Cell) -> None:
    """Before: the DELETE deleted, its answer was lost, the DELETE sent again got 404, and the
    command failed with error[image-not-found] although it had deleted the image."""
    cell.apply("delete", Fault(lose_answer=True))
    r = run(cell, "delete", TRANSIENT_FLAGS)
    assert_succeeded(cell, "delete", r)
    assert cell.proxy.count("DELETE", "/manifests/") == 2


def test_a_delete_of_a_manifest_gone_without_a_lost_answer_still_fails(cell: Cell) -> None:
    """Only an answer lost in transit makes a 404 a success: a registry answering 404 to the
    first DELETE (the manifest went away since it was read) is still reported."""
    cell.apply("delete", Fault(status=404), times=None)
    r = run(cell, "delete", TRANSIENT_FLAGS)
    assert_failed_cleanly(cell, "delete", r, "image-not-found")
    assert cell.proxy.count("DELETE", "/manifests/") == 1


#: One row per command (each of the body kinds is in it once at least).
STALL_CELLS = [("pull", "layer-get"), ("pull-digest", "manifest-get"), ("inspect", "config-get"),
               ("list-tags", "tags-list"), ("sync", "manifest-get"), ("copy-r2r", "manifest-get")]


@pytest.mark.parametrize(("command", "kind"), STALL_CELLS)
def test_a_stall_that_never_ends_is_a_timeout_not_a_hang(cell: Cell, command: str, kind: str) -> None:
    cell.apply(kind, Fault(stall=STALL), times=None)
    start = time.monotonic()
    r = run(cell, command, BURST_FLAGS)
    assert_failed_cleanly(cell, command, r, "network-timeout")
    # Two attempts, each cut at the timeout (plus the copy's own retry of a layer): never the stall's length each.
    assert time.monotonic() - start < 4 * STALL


FLIP_CELLS = [("pull", "config-get", "digest-mismatch"), ("pull", "layer-get", "digest-mismatch"),
              ("pull-digest", "manifest-get", "digest-mismatch"), ("inspect", "config-get", "digest-mismatch"),
              ("sync", "layer-get", "digest-mismatch"), ("delete", "manifest-get", None)]


@pytest.mark.parametrize(("command", "kind", "code"), FLIP_CELLS)
def test_a_flipped_byte_is_never_accepted(cell: Cell, command: str, kind: str, code: str | None) -> None:
    cell.apply(kind, Fault(flip_at=5), times=None)
    r = run(cell, command, BURST_FLAGS)
    assert_failed_cleanly(cell, command, r, code)


@pytest.mark.parametrize("form", ["429-seconds", "429-date"])
def test_a_monolithic_upload_waits_as_a_429_tells_it(cell: Cell, form: str) -> None:
    """Before: a small blob's POST+PUT pair, retried as a whole (uploads.py), slept its own
    backoff (here 10 ms) and ignored the registry's Retry-After, which a single request honours."""
    import io

    from registry_fixtures import docker_ref

    from trustcopy.digest import Digest
    from trustcopy.types import BlobInfo

    cell.apply("upload-post", fault_of(form))
    data = b"s26 small blob\n" * 64
    start = time.monotonic()
    with docker_ref(cell.proxy.host, f"{cell.repo}:1").new_image_destination(
            fast_sys(docker_retry_delay=0.01, retry_times=2)) as dest:
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
    assert time.monotonic() - start >= 0.9
    assert cell.proxy.count("POST", "/blobs/uploads/") == 2
    assert _direct(cell.reg, f"{cell.repo}/blobs/{Digest.from_bytes(data)}")[1] == data
