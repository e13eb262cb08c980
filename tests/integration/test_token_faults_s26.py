"""Faults of the token server, and a bearer token's life, against a registry that checks tokens.

The world (module scope, one per test worker): Debian's docker-registry with ``auth: token``
(it validates every JWT's signature, audience, expiry and access for real), the in-process
TokenIssuer of registry_fixtures.py that signs them, and in front of the issuer a scriptable
"token front" (the realm the registry names): it asks the issuer for the real answer and then
does what the cell says with it (drop the connection, answer 5xx/429, stall, cut or replace
the body, redirect). Each cell uses its own repository.

The matrix: faults of the token request, times the commands that need a token (pull, push, a
registry→registry copy within the registry that mounts (pull on one repository, push on
another), list-tags, delete, inspect, sync). A transient fault (a dropped or refused
connection, one 500/502/503, a 429 with Retry-After, a stall past the timeout, a body cut
short) costs a retry within --retry-times and changes nothing; a permanent one (a burst
longer than the retries, an answer that is not JSON or has wrong types, no token, bad
credentials, a token the registry refuses, nobody listening) is one ``error[code]`` line that
names the token server and the image, never a password nor a token, exit 1, and nothing
committed at the destination.

Then a token's life: a token that expires while a layer streams up or down is replaced for the
request after it (the layer is not sent again: containers/image would not either), OAuth2
refresh-token grants, ``issued_at``/``access_token``/huge tokens, a realm that redirects (on
the same origin Basic credentials follow; elsewhere they do not), anonymous tokens.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import io
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, Layer, make_image, make_tar, random_layer, write_oci
from registry_fixtures import (
    USERS,
    AnswerHandler,
    RegistryServer,
    TokenIssuer,
    _require_registry,
    fast_sys,
    push_image,
    registry_request,
    running,
    serve_in_thread,
    stop_server,
)

pytestmark = pytest.mark.registry

ALICE = f"alice:{USERS['alice']}"
SECRET_FORMS = (USERS["alice"], USERS["bob"], "YWxpY2U6", "Ym9iOm", "Bearer ey", "eyJ0eXAi")

#: A small config (monolithic upload), a layer over 1 MiB (streamed through a PATCH) and a small layer.
IMAGE: Image = make_image([random_layer((1 << 20) + 4096, 2661), Layer(make_tar([("etc/k26", b"k26\n" * 64)]))])
BIG = max(IMAGE.blobs, key=lambda d: len(IMAGE.blobs[d]))
#: The per-request timeout of the stall cells (the CLI has no flag for it: the module's default is patched).
TIMEOUT = 0.3
STALL = 1.0
TRANSIENT_FLAGS = ("--retry-times", "2", "--retry-delay", "10ms")
BURST_FLAGS = ("--retry-times", "1", "--retry-delay", "10ms")


# -- the token front ------------------------------------------------------------------------------------------


@dataclass
class TokenSeen:
    """One request the token front received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Act:
    """What the front does with one token request (all None: answer as the issuer does)."""

    status: int | None = None  # answer this status (with ``body``) instead of the issuer's
    body: bytes | None = None  # replace the issuer's body (a status of 200 unless ``status``)
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # rewrite the issuer's JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    cut: bool = False  # announce the whole body, send half, close
    stall_head: float | None = None  # wait this long before answering at all
    stall_body: float | None = None  # send the headers and half the body, then wait this long


Script = Callable[[TokenSeen, int], "Act | None"]


class TokenFront:
    """The realm the registry names (see the module docstring): ``script(seen, n)`` decides for
    the n-th token request (0-based) of the cell; ``seen`` records them all."""

    def __init__(self, issuer: TokenIssuer) -> None:
        from registry_fixtures import free_port

        self.issuer = issuer
        self.port = free_port()
        self.script: Script = lambda seen, n: None
        self.seen: list[TokenSeen] = []
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()
        self.script = lambda seen, n: None

    def count(self, path: str = "/token") -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.path == path)

    def start(self) -> TokenFront:
        front = self

        class Handler(AnswerHandler):
            def _answer(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = TokenSeen(self.command, parsed.path, urllib.parse.parse_qs(parsed.query),
                                 {k.lower(): v for k, v in self.headers.items()}, body)
                with front._lock:
                    front.seen.append(seen)
                    n = len(front.seen) - 1
                act = front.script(seen, n) or Act()
                if act.stall_head:
                    time.sleep(act.stall_head)
                if act.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                status, payload = front.issuer.handle(self.command, seen.query, self.headers, body)
                if act.transform is not None and status == 200:
                    payload = json.dumps(act.transform(json.loads(payload))).encode()
                if act.body is not None:
                    status, payload = act.status or 200, act.body
                elif act.status is not None:
                    status, payload = act.status, b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
                headers = {"Content-Type": "application/json", **act.headers}
                if act.cut or act.stall_body:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    if act.stall_body:
                        time.sleep(act.stall_body)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                self.send_answer(status, payload, headers)

            do_GET = do_POST = _answer

            def handle(self) -> None:
                # A client that gave up (a timeout) closed the connection under a stalled answer.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

        self._server = serve_in_thread(self.port, Handler)
        return self

    def stop(self) -> None:
        stop_server(self._server)
        self._server = None


@dataclass
class World:
    registry: RegistryServer
    issuer: TokenIssuer
    front: TokenFront

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The registry, the issuer and the front (see the module docstring); ``seed/app:1`` holds IMAGE."""
    _require_registry()
    work = tmp_path_factory.mktemp("registry-k26")
    issuer = TokenIssuer(work / "issuer")
    with running(issuer), running(TokenFront(issuer)) as front:
        auth = issuer.registry_auth_config()
        auth["token"]["realm"] = front.realm
        with running(RegistryServer(work, auth=auth)) as reg:
            w = World(reg, issuer, front)
            push_image(w.host, "seed/app:1", IMAGE, fast_sys(docker_username="alice", docker_password=USERS["alice"]))
            yield w


_names = itertools.count()


@dataclass
class Cell:
    """One cell: its repository, scratch directory and CLI."""

    world: World
    tmp: Path
    run_cli: Callable[..., Any]
    policy: Path
    repo: str = field(default_factory=lambda: f"k26/r{next(_names)}")

    @property
    def front(self) -> TokenFront:
        return self.world.front

    def cli(self, *args: str) -> Any:
        return self.run_cli("--policy", str(self.policy), *args)

    def seed(self) -> None:
        push_image(self.world.host, f"{self.repo}:1", IMAGE,
                   fast_sys(docker_username="alice", docker_password=USERS["alice"]))


@pytest.fixture
def cell(world: World, tmp_path: Path, run_cli: Any, insecure_policy: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Cell]:
    from trustcopy.transports.docker import client

    monkeypatch.setattr(client, "DEFAULT_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    world.front.reset()
    world.issuer.bad_tokens = 0
    world.issuer.expires_in = 300
    world.issuer.registry_validity = None
    try:
        yield Cell(world, tmp_path, run_cli, insecure_policy)
    finally:
        world.front.reset()
        world.issuer.bad_tokens = 0
        world.issuer.registry_validity = None
        if world.front._server is None:
            world.front.start()


# -- reading back ---------------------------------------------------------------------------------------------


def _direct(world: World, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A request straight to the registry with a token straight from the issuer (no front)."""
    repo = path.rsplit("/manifests/", 1)[0].rsplit("/blobs/", 1)[0]
    raw = base64.b64encode(ALICE.encode()).decode()
    query = {"scope": [f"repository:{repo}:pull"], "service": ["trustcopy-test-registry"]}
    _, answer = world.issuer.handle("GET", query, {"Authorization": f"Basic {raw}"}, b"")
    token = json.loads(answer)["token"]
    return registry_request(world.registry.url, path, method, token)


def assert_image_in_registry(world: World, repo: str) -> None:
    status, body = _direct(world, f"{repo}/manifests/1")
    assert status == 200 and body == IMAGE.manifest
    for digest, data in IMAGE.blobs.items():
        status, got = _direct(world, f"{repo}/blobs/{digest}")
        assert status == 200 and got == data


def assert_nothing_in_registry(world: World, repo: str) -> None:
    assert _direct(world, f"{repo}/manifests/1", "HEAD")[0] == 404
    assert _direct(world, f"{repo}/manifests/{IMAGE.digest}", "HEAD")[0] == 404


def assert_dir_image(path: Path) -> None:
    assert (path / "manifest.json").read_bytes() == IMAGE.manifest
    for digest in IMAGE.blobs:
        hexd = digest.split(":", 1)[1]
        assert hashlib.sha256((path / hexd).read_bytes()).hexdigest() == hexd


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRET_FORMS:
            assert secret not in text, f"{secret[:6]}… leaked"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error[")]


# -- commands ---------------------------------------------------------------------------------------------------

COMMANDS = ("pull", "push", "mount", "list-tags", "delete", "inspect", "sync")


def run(cell: Cell, command: str, flags: tuple[str, ...], creds: str | None = ALICE) -> Any:
    """Run ``command`` against the registry (``--*creds`` unless ``creds`` is None)."""
    c, host = cell, cell.world.host
    src = (f"--src-creds={creds}",) if creds else ()
    dst = (f"--dest-creds={creds}",) if creds else ()
    both = (f"--creds={creds}",) if creds else ()
    if command == "pull":
        return c.cli("copy", "-q", "--src-tls-verify=false", *src, *flags, f"docker://{host}/seed/app:1",
                     f"dir:{c.tmp}/out")
    if command == "push":
        write_oci({"t": IMAGE}, str(c.tmp / "src"))
        return c.cli("copy", "-q", "--dest-tls-verify=false", *dst, *flags, f"oci:{c.tmp}/src:t",
                     f"docker://{host}/{c.repo}:1")
    if command == "mount":
        return c.cli("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", *src, *dst, *flags,
                     f"docker://{host}/seed/app:1", f"docker://{host}/{c.repo}:1")
    if command == "list-tags":
        return c.cli("list-tags", "--tls-verify=false", *both, *flags, f"docker://{host}/seed/app")
    if command == "delete":
        return c.cli("delete", "--tls-verify=false", *both, *flags, f"docker://{host}/{c.repo}:1")
    if command == "inspect":
        return c.cli("inspect", "--tls-verify=false", *both, *flags, f"docker://{host}/seed/app:1")
    if command == "sync":
        return c.cli("sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", *src, *flags,
                     f"{host}/seed/app", f"{c.tmp}/out")
    raise AssertionError(command)


def assert_succeeded(cell: Cell, command: str, r: Any) -> None:
    assert r.exit_code == 0, r.stdout + r.stderr
    no_secret(r.stdout, r.stderr)
    w = cell.world
    if command == "pull":
        assert_dir_image(cell.tmp / "out")
    elif command in ("push", "mount"):
        assert_image_in_registry(w, cell.repo)
    elif command == "list-tags":
        assert json.loads(r.stdout)["Tags"] == ["1"]
    elif command == "delete":
        assert _direct(w, f"{cell.repo}/manifests/{IMAGE.digest}", "HEAD")[0] == 404
    elif command == "inspect":
        doc = json.loads(r.stdout)
        assert doc["Digest"] == IMAGE.digest and doc["RepoTags"] == ["1"]
    elif command == "sync":
        assert_dir_image(cell.tmp / "out" / "app:1")


def assert_failed_cleanly(cell: Cell, command: str, r: Any, code: str | None = None) -> str:
    """Exit 1, one error line naming the token server and the image, nothing committed; the line."""
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    no_secret(r.stdout, r.stderr)
    if command == "sync":
        failed = r.stderr.split("failed:\n", 1)[1]
        line = next(line for line in failed.splitlines() if "error[" in line)
    else:
        lines = error_lines(r.stderr)
        assert len(lines) == 1, r.stderr
        line = lines[0]
    assert code is None or f"error[{code}]" in line, line
    assert f"127.0.0.1:{cell.front.port}/token" in line, line  # the token server
    # (a registry→registry copy fails on its source's token first: the source is the image named)
    image = {"push": cell.repo, "delete": cell.repo}.get(command, "seed/app")
    assert image in line, line
    w = cell.world
    w.issuer.bad_tokens = 0  # (reading back takes tokens from the issuer)
    if command in ("pull", "sync"):
        assert not (cell.tmp / "out").exists() or not list((cell.tmp / "out").rglob("manifest.json"))
    elif command in ("push", "mount"):
        assert_nothing_in_registry(w, cell.repo)
    elif command == "delete":
        assert _direct(w, f"{cell.repo}/manifests/1")[1] == IMAGE.manifest
    return line


def first(act: Act, times: int = 1) -> Script:
    """``act`` for the first ``times`` token requests, then the issuer's answers."""
    return lambda seen, n: act if n < times else None


# -- the matrix -------------------------------------------------------------------------------------------------

TRANSIENT: dict[str, Act] = {
    "dropped": Act(drop=True),
    "500": Act(status=500),
    "502": Act(status=502),
    "503": Act(status=503),
    "stall-head": Act(stall_head=STALL),
    "stall-body": Act(stall_body=STALL),
    "cut": Act(cut=True),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_transient_token_fault_changes_nothing(cell: Cell, command: str, fault: str) -> None:
    cell.front.script = first(TRANSIENT[fault])
    if command == "delete":
        cell.seed()
    r = run(cell, command, TRANSIENT_FLAGS)
    assert_succeeded(cell, command, r)
    assert cell.front.count() >= 2


PERMANENT: dict[str, Act | str] = {
    "503-burst": Act(status=503),
    "dropped-always": Act(drop=True),
    "cut-always": Act(cut=True),
    "stall-always": Act(stall_head=STALL),
    "not-json": Act(body=b"<html>sign in</html>"),
    "wrong-type": Act(body=b'{"token": ["a"], "expires_in": 60}'),
    "no-token": Act(body=b'{"expires_in": 60}'),
    "refused": "refused",
    "bad-password": "bad-password",
    "rejected": "rejected",
}


@pytest.mark.parametrize("fault", list(PERMANENT))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_permanent_token_fault_fails_cleanly(cell: Cell, command: str, fault: str) -> None:
    act = PERMANENT[fault]
    creds = ALICE
    if command == "delete":
        cell.seed()
    if isinstance(act, Act):
        cell.front.script = lambda seen, n: act
    elif act == "refused":
        cell.front.stop()
    elif act == "bad-password":
        creds = "alice:" + USERS["bob"]
    elif act == "rejected":
        cell.world.issuer.bad_tokens = 1000
    r = run(cell, command, BURST_FLAGS, creds=creds)
    line = assert_failed_cleanly(cell, command, r)
    if fault == "rejected":  # the registry refused the tokens: it and the token server are named
        assert "authentication required (the registry refused a new bearer token from http://" in line
    else:  # the token server failed: named as the cause of the request that needed the token
        assert f"requesting a bearer token from http://127.0.0.1:{cell.front.port}/token: " in line


def test_a_429_on_the_token_request_waits_as_told(cell: Cell) -> None:
    cell.front.script = first(Act(status=429, headers={"Retry-After": "1"}))
    start = time.monotonic()
    r = run(cell, "pull", TRANSIENT_FLAGS)
    assert_succeeded(cell, "pull", r)
    assert time.monotonic() - start >= 1.0  # not the 10 ms of --retry-delay
    assert cell.front.count() == 2


def test_a_token_server_that_is_down_for_a_moment_is_waited_for(cell: Cell) -> None:
    """Connections refused (nobody listens) until the token server comes back within the retries."""
    cell.front.stop()
    timer = threading.Timer(0.4, cell.front.start)
    timer.start()
    try:
        r = run(cell, "push", ("--retry-times", "5", "--retry-delay", "100ms"))
    finally:
        timer.join()
    assert_succeeded(cell, "push", r)


def test_an_anonymous_token_survives_a_fault_and_carries_no_credentials(cell: Cell) -> None:
    cell.front.script = first(Act(status=503))
    r = run(cell, "pull", TRANSIENT_FLAGS, creds=None)
    assert_succeeded(cell, "pull", r)
    asked = cell.front.seen
    assert len(asked) == 2 and all("authorization" not in s.headers and "account" not in s.query for s in asked)
    assert all(s.query["scope"] == ["repository:seed/app:pull"] for s in asked)


def test_an_anonymous_push_is_refused_naming_the_repository(cell: Cell) -> None:
    r = run(cell, "push", TRANSIENT_FLAGS, creds=None)
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    line = error_lines(r.stderr)[0]
    assert line.startswith("error[registry-auth]:") and cell.repo in line
    assert "bearer token" in line and f"127.0.0.1:{cell.front.port}/token" in line  # (an anonymous token is refused)
    assert_nothing_in_registry(cell.world, cell.repo)


# -- a token's life -------------------------------------------------------------------------------------------


class _SlowStream(io.RawIOBase):
    """``data`` read once, pausing ``pause`` seconds half-way (a slow network under a long upload)."""

    def __init__(self, data: bytes, pause: float) -> None:
        self._data, self._pos, self._pause, self.ended = data, 0, pause, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        half = len(self._data) // 2
        if self._pos < half <= self._pos + len(b) and self._pause:
            time.sleep(self._pause)
            self._pause = 0
        n = min(len(b), len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        if n == 0:
            self.ended += 1
        return n


#: The registry accepts each token this long (its ``exp``); the token server says ``expires_in: 1``,
#: which the client, as containers/image, treats as 60 s: the token expires while it is believed valid.
VALIDITY = 2.0
PAST_VALIDITY = 3.5


def test_a_token_expiring_while_a_layer_streams_up_is_replaced_without_sending_the_layer_again(
        cell: Cell) -> None:
    """The PATCH started with a valid token streams for longer than the token lives; the PUT that
    ends the upload is refused, gets a new token and is sent again: the layer itself only once."""
    from registry_fixtures import docker_ref

    from trustcopy.digest import Digest
    from trustcopy.types import BlobInfo

    w = cell.world
    w.issuer.expires_in, w.issuer.registry_validity = 1, VALIDITY
    sys_ctx = fast_sys(docker_username="alice", docker_password=USERS["alice"])
    before = w.issuer.issued_tokens()
    streams = {d: _SlowStream(data, PAST_VALIDITY if d == BIG else 0) for d, data in IMAGE.blobs.items()}
    with docker_ref(w.host, f"{cell.repo}:1").new_image_destination(sys_ctx) as dest:
        for digest, stream in streams.items():
            dest.put_blob(io.BufferedReader(stream), BlobInfo(digest=Digest.parse(digest),
                                                              size=len(IMAGE.blobs[digest])))
        dest.put_manifest(IMAGE.manifest)
        dest.commit(IMAGE.manifest)
    assert streams[BIG].ended >= 1 and streams[BIG]._pos == len(IMAGE.blobs[BIG])  # read once, to its end
    # The first token and its replacement (more only when a busy machine lets a 1-2 s token expire again).
    assert w.issuer.issued_tokens() - before >= 2
    assert_image_in_registry(w, cell.repo)


def test_a_token_expiring_while_a_layer_streams_down_is_replaced_and_the_download_resumes(cell: Cell) -> None:
    """The layer GET (started with a valid token) stalls past the token's life, then the connection
    drops: the resumed GET (``Range``) is refused, gets a new token and goes on from where it was."""
    from registry_fixtures import Fault, FaultProxy, docker_ref, pull_blob

    w = cell.world
    w.issuer.expires_in, w.issuer.registry_validity = 1, VALIDITY
    used: list[bool] = []

    def rule(method: str, path: str, headers: dict[str, str]) -> Fault | None:
        if method == "GET" and path.endswith(f"/blobs/{BIG}") and not used:
            used.append(True)
            return Fault(stall=PAST_VALIDITY, drop_after=65536)
        return None

    with running(FaultProxy(w.registry.port, rule)) as proxy, docker_ref(proxy.host, "seed/app:1").new_image_source(
            fast_sys(docker_username="alice", docker_password=USERS["alice"])) as src:
        before = w.issuer.issued_tokens()
        assert pull_blob(src, BIG, len(IMAGE.blobs[BIG])) == IMAGE.blobs[BIG]
        gets = [h for m, p, h in proxy.seen if m == "GET" and p.endswith(f"/blobs/{BIG}")]
    # The first GET, the resume refused (its token expired), the resume with a new token: never from byte 0.
    assert len(gets) >= 3 and "Range" not in gets[0]
    assert all(h.get("Range") == f"bytes={1 + 65536}-" for h in gets[1:])
    assert w.issuer.issued_tokens() - before >= 2


@pytest.mark.parametrize("issued_at", ["2001-01-01T00:00:00Z", "2999-01-01T00:00:00Z"], ids=["past", "future"])
def test_issued_at_is_not_trusted_over_our_own_clock(cell: Cell, issued_at: str) -> None:
    """containers/image counts a token's life from ``issued_at``: one issued in the past is
    expired at once and fetched again for every request; we count from when it arrived
    (auth.py _parse_token_response: a skewed clock on either side must not matter)."""
    cell.front.script = lambda seen, n: Act(transform=lambda doc: {**doc, "issued_at": issued_at})
    r = run(cell, "pull", ())
    assert_succeeded(cell, "pull", r)
    assert cell.front.count() == 1


@pytest.mark.parametrize("shape", ["access_token", "token-empty", "both"])
def test_access_token_is_used_as_containers_image_uses_it(cell: Cell, shape: str) -> None:
    """``token`` wins; an empty or absent ``token`` leaves ``access_token`` (containers/image)."""
    def transform(doc: dict[str, Any]) -> dict[str, Any]:
        token = doc.pop("token")
        if shape == "access_token":
            return {**doc, "access_token": token}
        if shape == "token-empty":
            return {**doc, "token": "", "access_token": token}
        return {**doc, "token": token, "access_token": "not-" + token}
    cell.front.script = lambda seen, n: Act(transform=transform)
    r = run(cell, "push", ())
    assert_succeeded(cell, "push", r)


def _huge(issuer: TokenIssuer, pad: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Re-sign the issuer's token with a ``pad`` claim of ``pad`` bytes (a token of many groups)."""
    def transform(doc: dict[str, Any]) -> dict[str, Any]:
        payload = doc["token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["pad"] = "g" * pad
        return {**doc, "token": issuer._sign(claims, False)}
    return transform


def test_a_huge_token_the_registry_accepts_is_used(cell: Cell) -> None:
    """A 300 KiB token (within containers/image's 1 MiB token answer, and Go's 1 MiB of headers)."""
    cell.front.script = lambda seen, n: Act(transform=_huge(cell.world.issuer, 300 << 10))
    r = run(cell, "push", ())
    assert_succeeded(cell, "push", r)


# -- OAuth2 refresh tokens (identitytoken in auth.json) ---------------------------------------------------------

REFRESH = "k26-refresh-0123456789abcdef"


@pytest.fixture
def identity(cell: Cell) -> Iterator[Cell]:
    """``auth.json`` holding an identity token (as Docker writes it) for the registry."""
    cell.world.issuer.refresh_tokens[REFRESH] = "alice"
    path = cell.tmp / "auth.json"
    path.write_text(json.dumps({"auths": {cell.world.host: {"auth": base64.b64encode(b"alice:").decode(),
                                                            "identitytoken": REFRESH}}}))
    yield cell


def test_a_refresh_token_grant_survives_a_fault_and_is_never_in_a_url(identity: Cell) -> None:
    c = identity
    c.front.script = first(Act(drop=True))
    r = run(c, "push", (*TRANSIENT_FLAGS, "--dest-authfile", str(c.tmp / "auth.json")), creds=None)
    assert_succeeded(c, "push", r)
    assert REFRESH not in r.stderr
    posts = c.front.seen
    assert len(posts) == 2 and all(s.method == "POST" and REFRESH not in s.path for s in posts)
    form = urllib.parse.parse_qs(posts[-1].body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [REFRESH]
    assert form["scope"] == [f"repository:{c.repo}:pull,push"] and form["service"] == ["trustcopy-test-registry"]
    assert "authorization" not in posts[-1].headers


@pytest.mark.parametrize("status", [404, 405, 400])
def test_a_token_server_without_the_refresh_grant_fails_naming_it(identity: Cell, status: int) -> None:
    """As containers/image (getBearerTokenOAuth2): no fallback to a GET with Basic credentials
    (there are none: the identity token stands for them); the error names the token server."""
    c = identity
    c.front.script = lambda seen, n: Act(status=status, body=b'{"error":"unsupported_grant_type"}')
    r = run(c, "push", (*TRANSIENT_FLAGS, "--dest-authfile", str(c.tmp / "auth.json")), creds=None)
    assert_failed_cleanly(c, "push", r)
    assert REFRESH not in r.stdout + r.stderr
    # Never retried nor turned into a GET: one POST for the best-effort check of the destination's
    # manifest, then one per blob checked in parallel (each waiter asks again, as containers/image).
    assert {s.method for s in c.front.seen} == {"POST"} and len(c.front.seen) <= 1 + len(IMAGE.blobs)


# -- a realm that redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["same-origin", "other-host", "other-port"])
def test_a_realm_that_redirects(cell: Cell, where: str) -> None:
    """The token request follows the realm's redirect; Basic credentials follow only on the same
    origin (client.py _send_following_redirects: origin-bound headers), as Go's client drops
    ``Authorization`` for another host:port (net/http shouldCopyHeaderOnRedirect, Go 1.19 that
    skopeo 1.9.3 is built with). A push there gets an anonymous token and is refused, naming
    the token server."""
    other = TokenFront(cell.world.issuer).start()
    try:
        target = {"same-origin": f"http://127.0.0.1:{cell.front.port}/token2",
                  "other-host": f"http://localhost:{cell.front.port}/token2",
                  "other-port": f"http://127.0.0.1:{other.port}/token"}[where]

        def script(seen: TokenSeen, n: int) -> Act | None:
            if seen.path == "/token":
                return Act(status=307, body=b"", headers={"Location": target + "?" + urllib.parse.urlencode(
                    [(k, v) for k, vs in seen.query.items() for v in vs])})
            return None

        cell.front.script = script
        r = run(cell, "push", ())
        redirected = [s for s in (*cell.front.seen, *other.seen) if s.path == "/token2" or s in other.seen]
        assert redirected and len(cell.front.seen) + len(other.seen) == 2 * len(redirected)
        if where == "same-origin":
            assert_succeeded(cell, "push", r)
            assert all(s.headers.get("authorization", "").startswith("Basic ") for s in redirected)
        else:
            assert all("authorization" not in s.headers for s in redirected)
            line = assert_failed_cleanly(cell, "push", r)
            assert line.startswith("error[registry-auth]:")
    finally:
        other.stop()
