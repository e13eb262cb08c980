"""Faults on the signature paths: lookaside GETs, the registry signature API, sigstore attachments.

The image lives in a real docker-registry; signatures are read and written through
loopback servers that inject faults for chosen requests:

- an http:// lookaside served by :class:`FaultyStore` (files from a directory, with a
  script of faults per request: 5xx/429 bursts, a dropped connection, a body cut short
  or announced longer than it is, a flipped byte, a stall, a body over the size limit);
- the signature API (``X-Registry-Supports-Signatures``) and sigstore attachments
  behind the registry's :class:`~registry_fixtures.FaultProxy` / ``ScriptedProxy``.

What must hold, for every path: a transient fault (one dropped connection, a burst
shorter than ``--retry-times``, a stall shorter than the timeout) changes nothing in the
outcome; a permanent or malicious one makes a copy whose policy requires signatures
fail closed (exit 1, a message naming the URL and the reason, nothing at the
destination), never "no signatures, accept". Only a lookaside 404 means "no
signatures" (containers/image). With ``insecureAcceptAnything`` the copy still reads
the source's signatures to carry them (containers/image's copy.go), so a store that
cannot be read fails it too, unless ``--remove-signatures``.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gpghelpers import GPGHome
from imagefactory import example_image, write_oci
from registry_fixtures import Fault as ProxyFault
from registry_fixtures import (
    FaultProxy,
    RegistryServer,
    _require_registry,
    docker_ref,
    fast_sys,
    free_port,
    push_image,
    running,
    serve_in_thread,
    stop_server,
)
from registry_signing import FPR, PUBRING
from registry_sigstore import Site, get_blob, get_manifest
from scripted_proxy import ScriptedProxy
from test_registry_signature_api import SignatureAPI

from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, NetworkError
from trustcopy.limits import MAX_SIGNATURE_LIST_BODY
from trustcopy.signature.simple import sign_simple_signing
from trustcopy.stores.lookaside import LookasideLocation, read_signatures

pytestmark = [pytest.mark.registry, pytest.mark.gpg]

IMAGE = example_image()
HEX = Digest.parse(IMAGE.digest).hex


# -- a lookaside store with faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What :class:`FaultyStore` does to one GET instead of serving the file."""

    status: int | None = None  # answer this status (with a small JSON body)
    headers: dict[str, str] = field(default_factory=dict)  # with these headers (Retry-After)
    drop: bool = False  # close the connection without answering
    cut_at: int | None = None  # announce the whole file, send this many bytes, close
    lie_length: int | None = None  # announce this Content-Length, send the file, close
    flip_at: int | None = None  # invert the byte at this offset
    stall: float | None = None  # send the headers and one byte, then wait this long
    endless: bool = False  # a chunked body that never ends
    body: bytes | None = None  # serve these bytes (with ``headers``) instead of the file


Script = Callable[[str, int], "Fault | None"]


@dataclass
class FaultyStore:
    """Serves ``root`` over plain HTTP on 127.0.0.1; ``script(path, n)`` (n: this path's n-th GET, from 1)."""

    root: Path
    script: Script = lambda path, n: None
    port: int = field(default_factory=free_port)
    requests: list[str] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gets(self, name: str) -> int:
        """How many GETs asked for a path ending in ``name``."""
        with self._lock:
            return sum(1 for p in self.requests if p.endswith(name))

    def start(self) -> FaultyStore:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _close(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self) -> None:
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                with outer._lock:
                    outer.requests.append(path)
                    n = outer._counts[path] = outer._counts.get(path, 0) + 1
                fault = outer.script(path, n) or Fault()
                if fault.drop:
                    self._close()
                    return
                if fault.status is not None:
                    body = b'{"error":"injected fault"}'
                    self.send_response(fault.status)
                    for k, v in fault.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if fault.endless:
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\xa3" * (1 << 16)
                    with contextlib.suppress(OSError):
                        while True:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    return
                file = outer.root / path.lstrip("/")
                if fault.body is not None:
                    self.send_response(200)
                    for k, v in fault.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        self.wfile.write(fault.body)
                    return
                if not file.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = file.read_bytes()
                if fault.flip_at is not None:
                    data = data[:fault.flip_at] + bytes([data[fault.flip_at] ^ 0xFF]) + data[fault.flip_at + 1:]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(fault.lie_length if fault.lie_length is not None
                                                       else len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    if fault.cut_at is not None:
                        self.wfile.write(data[:fault.cut_at])
                        self._close()
                        return
                    if fault.stall is not None:
                        self.wfile.write(data[:1])
                        self.wfile.flush()
                        time.sleep(fault.stall)
                        data = data[1:]
                    self.wfile.write(data)
                    if fault.lie_length is not None:
                        self._close()

            def handle(self) -> None:
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve_in_thread(self.port, Handler)
        return self

    def stop(self) -> None:
        stop_server(self._server)


def first(name: str, fault: Fault, times: int = 1) -> Script:
    """A script: ``fault`` for the first ``times`` GETs of a path ending in ``name``."""
    return lambda path, n: fault if path.endswith(name) and n <= times else None


def always(name: str, fault: Fault) -> Script:
    """A script: ``fault`` for every GET of a path ending in ``name``."""
    return lambda path, n: fault if path.endswith(name) else None


# -- the world of one test ------------------------------------------------------------------------------------------


@dataclass
class World:
    """A registry holding ``ns/app:1`` (IMAGE), its signature in an http lookaside, and the CLI."""

    tmp: Path
    host: str
    store: FaultyStore
    run_cli: Callable[..., Any]
    regd: Path = field(init=False)
    conf: Path = field(init=False)

    def __post_init__(self) -> None:
        self.regd = self.tmp / "registries.d"
        self.regd.mkdir(exist_ok=True)
        self.conf = self.tmp / "registries.conf"
        self.conf.write_text("")
        self.registries_d({"lookaside": f"{self.store.url}/sigs", "lookaside-staging": f"file://{self.tmp}/staging"})

    def registries_d(self, section: dict[str, Any]) -> None:
        (self.regd / "test.yaml").write_text(json.dumps({
            "docker": {self.host: section},
            "default-docker": {"lookaside": f"file://{self.tmp}/default-store"}}))

    @property
    def sigfile(self) -> Path:
        return self.store.root / "sigs" / "ns" / f"app@sha256={HEX}" / "signature-1"

    def policy(self, kind: str = "signed") -> Path:
        req: dict[str, Any] = ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(PUBRING)}
                               if kind == "signed" else {"type": "insecureAcceptAnything"})
        path = self.tmp / f"policy-{kind}.json"
        path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
            "docker": {self.host: [req]}, "dir": {"": [{"type": "insecureAcceptAnything"}]}}}))
        return path

    def pull(self, *extra: str, policy: str = "signed", out: str = "out") -> Any:
        """``copy --retry-delay 10ms [EXTRA] docker://HOST/ns/app:1 dir:TMP/OUT``."""
        return self.run_cli("--policy", str(self.policy(policy)), "--registries.d", str(self.regd),
                            "--registries-conf", str(self.conf), "copy", "-q", "--src-tls-verify=false",
                            "--retry-delay", "10ms", *extra, f"docker://{self.host}/ns/app:1",
                            f"dir:{self.tmp}/{out}")


@pytest.fixture
def world(tmp_path: Path, plain_registry: RegistryServer, example_home: GPGHome, run_cli: Any,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    push_image(plain_registry.host, "ns/app:1", IMAGE, fast_sys())
    root = tmp_path / "www"
    store = FaultyStore(root).start()
    try:
        w = World(tmp_path, plain_registry.host, store, run_cli)
        w.sigfile.parent.mkdir(parents=True)
        w.sigfile.write_bytes(sign_simple_signing(IMAGE.manifest, f"{w.host}/ns/app:1", FPR,
                                                  gnupg_home=example_home.path))
        yield w
    finally:
        store.stop()


def accepted(world: World, r: Any, out: str = "out") -> None:
    assert r.exit_code == 0, r.stderr
    assert (world.tmp / out / "manifest.json").read_bytes() == IMAGE.manifest
    assert (world.tmp / out / "signature-1").read_bytes() == world.sigfile.read_bytes()


def refused(world: World, r: Any, *needles: str, out: str = "out") -> None:
    assert r.exit_code != 0, r.stdout + r.stderr
    assert not (world.tmp / out).exists()
    url = f"{world.store.url}/sigs/ns/app@sha256={HEX}/signature-1"
    for needle in (url, *needles):
        assert needle in r.stderr, r.stderr


# -- 1. an http(s) lookaside ---------------------------------------------------------------------------------------


def test_without_faults_the_signed_image_is_accepted(world: World) -> None:
    accepted(world, world.pull())
    assert world.store.gets("signature-1") == 1 and world.store.gets("signature-2") == 1


@pytest.mark.parametrize("fault", [
    Fault(drop=True),
    Fault(status=503),
    Fault(status=502),
    Fault(status=429, headers={"Retry-After": "0"}),
    # Untrusted Retry-After text falls back to the backoff (a superscript digit crashed once).
    Fault(status=429, headers={"Retry-After": "\u00b2"}),
    Fault(status=503, headers={"Retry-After": "Fri, 31 Dec 99999999999999999999 23:59:59 GMT"}),
    Fault(cut_at=10),
    Fault(lie_length=100_000),
    Fault(stall=1.0),
], ids=["dropped", "503", "502", "429", "429-superscript", "503-year-overflow", "cut-short", "lying-length", "stall"])
def test_a_transient_lookaside_fault_is_survived(world: World, fault: Fault) -> None:
    world.store.script = first("signature-1", fault, times=2)
    accepted(world, world.pull("--retry-times", "3"))
    expected = 1 if fault.stall else 3
    assert world.store.gets("signature-1") == expected


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault(drop=True), "Server disconnected without sending a response"),
    (Fault(status=503), "status 503 (Service Unavailable)"),
    (Fault(cut_at=10), "peer closed connection without sending complete message body"),
], ids=["dropped", "503", "cut-short"])
def test_a_lookaside_fault_that_outlasts_the_retries_fails_closed(world: World, fault: Fault, reason: str) -> None:
    world.store.script = always("signature-1", fault)
    refused(world, world.pull("--retry-times", "2"), reason)
    assert world.store.gets("signature-1") == 3
    assert world.store.gets("signature-2") == 0


def test_retry_times_zero_fails_at_the_first_fault(world: World) -> None:
    world.store.script = first("signature-1", Fault(status=503))
    refused(world, world.pull("--retry-times", "0"), "status 503")
    assert world.store.gets("signature-1") == 1


@pytest.mark.parametrize("status", [400, 401, 403, 410])
def test_a_refusal_is_not_retried_and_fails_closed(world: World, status: int) -> None:
    world.store.script = always("signature-1", Fault(status=status))
    refused(world, world.pull("--retry-times", "3"), f"status {status}")
    assert world.store.gets("signature-1") == 1


def test_a_failure_after_a_good_signature_still_fails_closed(world: World) -> None:
    """signature-1 verifies, but signature-2 could not be read: the image is refused, not accepted on the first."""
    world.store.script = always("signature-2", Fault(status=500))
    r = world.pull("--retry-times", "1")
    assert r.exit_code == 1 and not (world.tmp / "out").exists()
    assert f"{world.store.url}/sigs/ns/app@sha256={HEX}/signature-2: status 500" in r.stderr


def test_a_flipped_byte_is_a_rejected_signature_naming_its_url(world: World) -> None:
    world.store.script = always("signature-1", Fault(flip_at=200))
    r = world.pull()
    refused(world, r, "signature 1")
    assert world.store.gets("signature-1") == 1  # read fine: the bytes are wrong, not the transfer


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault(endless=True), "is larger than the 4194304 bytes accepted"),
    (Fault(lie_length=(4 << 20) + 1), "is larger than the 4194304 bytes accepted"),
], ids=["endless", "announced-too-large"])
def test_a_body_over_the_limit_fails_closed_and_is_not_retried(world: World, fault: Fault, reason: str) -> None:
    world.store.script = always("signature-1", fault)
    start = time.monotonic()
    refused(world, world.pull("--retry-times", "3"), reason)
    assert world.store.gets("signature-1") == 1
    assert time.monotonic() - start < 30


def test_a_stall_past_the_timeout_fails_naming_the_url(world: World, plain_registry: RegistryServer) -> None:
    """With a short per-request timeout (a library user's docker_timeout): every attempt times out, then an error."""
    world.store.script = always("signature-1", Fault(stall=30))
    sys_ctx = fast_sys(docker_timeout=0.5, retry_times=1, registries_d=str(world.regd),
                       registries_conf=str(world.conf))
    start = time.monotonic()
    with docker_ref(world.host, "ns/app:1").new_image_source(sys_ctx) as src, \
            pytest.raises(NetworkError) as exc:
        src.get_signatures()
    assert time.monotonic() - start < 20
    assert exc.value.code == "network-timeout"
    assert f"{world.store.url}/sigs/ns/app@sha256={HEX}/signature-1" in exc.value.message
    assert world.store.gets("signature-1") == 2


def test_a_stall_forever_is_cut_by_the_command_timeout_and_nothing_is_written(world: World) -> None:
    world.store.script = always("signature-1", Fault(stall=60))
    start = time.monotonic()
    r = world.pull("--command-timeout", "2s")
    assert r.exit_code != 0 and not (world.tmp / "out").exists()
    assert "command-timeout" in r.stderr
    assert time.monotonic() - start < 30


def test_a_404_means_no_signatures_which_the_policy_rejects(world: World) -> None:
    world.sigfile.unlink()
    r = world.pull()
    assert r.exit_code == 1 and not (world.tmp / "out").exists()
    assert "NO_SIGNATURES" in r.stdout + r.stderr or "no signature" in (r.stdout + r.stderr).lower()
    accepted_unsigned = world.pull(policy="accept", out="plain")
    assert accepted_unsigned.exit_code == 0, accepted_unsigned.stderr
    assert not (world.tmp / "plain" / "signature-1").exists()


def test_insecure_accept_anything_still_fails_when_signatures_cannot_be_read(world: World) -> None:
    """As containers/image's copy: the source's signatures are read to be carried, and a failure fails the copy."""
    world.store.script = always("signature-1", Fault(status=500))
    refused(world, world.pull("--retry-times", "1", policy="accept"), "status 500")
    # --remove-signatures reads none (nor does containers/image), so the copy goes through
    before = world.store.gets("signature-1")
    r = world.pull("--remove-signatures", policy="accept", out="bare")
    assert r.exit_code == 0, r.stderr
    assert (world.tmp / "bare" / "manifest.json").read_bytes() == IMAGE.manifest
    assert not (world.tmp / "bare" / "signature-1").exists()
    assert world.store.gets("signature-1") == before


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip"])
def test_a_compressed_signature_cannot_inflate_past_the_limit(world: World, encoding: str) -> None:
    """A Content-Encoding is undone in bounded steps: 256 MiB of zeros in a few KiB never sit in memory at once."""
    import gzip
    import tracemalloc

    bomb = gzip.compress(bytes(256 << 20), 1)
    if "," in encoding:
        bomb = gzip.compress(bomb)
    world.store.script = always("signature-1", Fault(body=bomb, headers={"Content-Encoding": encoding}))
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as exc:
            read_signatures(LookasideLocation(f"{world.store.url}/sigs", "ns/app"), Digest.parse(IMAGE.digest))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "is larger than the 4194304 bytes accepted" in exc.value.message
    assert f"{world.store.url}/sigs/ns/app@sha256={HEX}/signature-1" in exc.value.message
    assert peak < 48 << 20


def test_a_compressed_signature_within_the_limit_is_read_as_its_bytes(world: World) -> None:
    """As Go's transport: a gzip answer is the signature it decodes to (and verifies as such)."""
    import gzip

    world.store.script = always("signature-1", Fault(body=gzip.compress(world.sigfile.read_bytes()),
                                                     headers={"Content-Encoding": "gzip"}))
    accepted(world, world.pull())


# -- 2. the registry's signature API (X-Registry-Supports-Signatures) ---------------------------------------------


@dataclass
class APIWorld:
    """A registry advertising the signature API, OpenShift's recorded handler (test_registry_signature_api)
    answering ``/extensions/…`` in a ScriptedProxy, and a FaultProxy in front of both: what trustcopy talks to."""

    tmp: Path
    faults: FaultProxy
    api: SignatureAPI
    registry: RegistryServer
    gpg: GPGHome
    run_cli: Callable[..., Any]

    @property
    def host(self) -> str:
        return str(self.faults.host)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}/extensions/v2/ns/app/signatures/{IMAGE.digest}"

    def cli(self, *args: str, policy: str = "signed") -> Any:
        regd = self.tmp / "registries.d"
        regd.mkdir(exist_ok=True)
        (regd / "test.yaml").write_text(json.dumps({"default-docker": {
            "lookaside": f"file://{self.tmp}/default-store", "lookaside-staging": f"file://{self.tmp}/default-store"}}))
        (self.tmp / "registries.conf").write_text("")
        req: dict[str, Any] = ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(PUBRING)}
                               if policy == "signed" else {"type": "insecureAcceptAnything"})
        path = self.tmp / f"policy-{policy}.json"
        path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                                    "transports": {"docker": {self.host: [req]}}}))
        return self.run_cli("--policy", str(path), "--registries.d", str(regd), "--registries-conf",
                            str(self.tmp / "registries.conf"), *args)

    def pull(self, *extra: str, out: str = "out") -> Any:
        return self.cli("copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms", *extra,
                        f"docker://{self.host}/ns/app:1", f"dir:{self.tmp}/{out}")

    def sign_push(self, *extra: str) -> Any:
        src = self.tmp / "src"
        if not src.exists():
            write_oci({"t": IMAGE}, str(src))
        return self.cli("copy", "-q", "--dest-tls-verify=false", "--retry-delay", "10ms", "--sign-by", FPR, *extra,
                        f"oci:{src}:t", f"docker://{self.host}/ns/app:1", policy="accept")

    def stored(self) -> list[bytes]:
        return [bytes(e["content"]) for e in self.api.store.get(("ns/app", IMAGE.digest), [])]


def is_api(method: str) -> Callable[[str, str, dict[str, str]], bool]:
    return lambda m, p, h: m == method and p.startswith("/extensions/v2/")


def fault_for(pred: Callable[[str, str, dict[str, str]], bool], fault: Any, times: int | None = None) -> Any:
    """A FaultProxy rule: ``fault`` for the first ``times`` matching requests (every one when None)."""
    count = [0]
    lock = threading.Lock()

    def rule(m: str, p: str, h: dict[str, str]) -> Any:
        if not pred(m, p, h):
            return None
        with lock:
            count[0] += 1
            return fault if times is None or count[0] <= times else None

    return rule


@pytest.fixture
def api_world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, example_home: GPGHome, run_cli: Any,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[APIWorld]:
    _require_registry()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("GNUPGHOME", example_home.path)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    registry = RegistryServer(tmp_path_factory.mktemp("registry-api"),
                              headers={"X-Registry-Supports-Signatures": ["1"]})
    api = SignatureAPI()
    with running(registry), running(ScriptedProxy(registry.port, answer=api)) as scripted, \
            running(FaultProxy(scripted.port)) as faults:
        yield APIWorld(tmp_path, faults, api, registry, example_home, run_cli)


def signed_in_the_api(w: APIWorld) -> bytes:
    push_image(w.host, "ns/app:1", IMAGE, fast_sys())
    blob = sign_simple_signing(IMAGE.manifest, f"{w.host}/ns/app:1", FPR, gnupg_home=w.gpg.path)
    w.api.store[("ns/app", IMAGE.digest)] = [
        {"schemaVersion": 2, "name": f"{IMAGE.digest}@{'1' * 32}", "type": "atomic", "content": blob}]
    return blob


@pytest.mark.parametrize("fault", [
    {"status": 503}, {"status": 429, "headers": {"Retry-After": "0"}}, {"drop_after": 20}, {"lose_answer": True},
    {"stall": 1.0},
], ids=["503", "429", "cut-short", "lost-answer", "stall"])
def test_a_transient_fault_reading_the_signature_api_is_survived(api_world: APIWorld, fault: dict[str, Any]) -> None:
    blob = signed_in_the_api(api_world)
    api_world.faults.rule = fault_for(is_api("GET"), ProxyFault(**fault), times=2)
    r = api_world.pull("--retry-times", "3")
    assert r.exit_code == 0, r.stderr
    assert (api_world.tmp / "out" / "signature-1").read_bytes() == blob
    assert api_world.faults.count("GET", "/extensions/v2/") == (1 if "stall" in fault else 3)


@pytest.mark.parametrize(("fault", "reason"), [
    ({"status": 503}, "injected fault"),
    ({"drop_after": 20}, "peer closed connection without sending complete message body"),
], ids=["503", "cut-short"])
def test_a_signature_api_fault_outlasting_the_retries_fails_closed(api_world: APIWorld, fault: dict[str, Any],
                                                                   reason: str) -> None:
    signed_in_the_api(api_world)
    api_world.faults.rule = fault_for(is_api("GET"), ProxyFault(**fault))
    r = api_world.pull("--retry-times", "2")
    assert r.exit_code == 1 and not (api_world.tmp / "out").exists()
    assert api_world.api_url in r.stderr and reason in r.stderr, r.stderr
    assert api_world.faults.count("GET", "/extensions/v2/") == 3


@pytest.mark.parametrize("where", ["key", "content"])
def test_a_flipped_byte_in_the_signature_list_fails_closed(api_world: APIWorld, where: str) -> None:
    """A flipped byte in a key hides the list (Go's decoder ignores an unknown key: no signatures, rejected);
    one in the base64 content makes the list malformed (an error naming the API's URL). Never accepted."""
    signed_in_the_api(api_world)
    body = httpx.get(api_world.api_url).content
    offset = 5 if where == "key" else body.index(b'"content":"') + 40
    api_world.faults.rule = fault_for(is_api("GET"), ProxyFault(flip_at=offset))
    r = api_world.pull()
    assert r.exit_code == 1 and not (api_world.tmp / "out").exists(), r.stderr
    if where == "key":
        assert "reason NO_SIGNATURES" in r.stderr, r.stderr
    else:
        assert api_world.api_url in r.stderr and "the signature list is malformed" in r.stderr, r.stderr


def test_an_oversized_signature_list_fails_closed(api_world: APIWorld) -> None:
    signed_in_the_api(api_world)
    entry = {"schemaVersion": 2, "name": "x", "type": "atomic", "content": "A" * MAX_SIGNATURE_LIST_BODY}
    api_world.api.raw[("ns/app", IMAGE.digest)] = json.dumps({"signatures": [entry]}).encode()
    r = api_world.pull("--retry-times", "3")
    assert r.exit_code == 1 and not (api_world.tmp / "out").exists()
    assert api_world.api_url in r.stderr and "larger than" in r.stderr, r.stderr
    assert api_world.faults.count("GET", "/extensions/v2/") == 1  # a limit is not retried


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 500}, {"drop_after": 0}, {"lose_answer": True}],
                         ids=["503", "500", "dropped", "lost-answer"])
def test_a_transient_fault_writing_to_the_signature_api_stores_the_signature_once(
        api_world: APIWorld, fault: dict[str, Any]) -> None:
    api_world.faults.rule = fault_for(is_api("PUT"), ProxyFault(**fault), times=1)
    r = api_world.sign_push("--retry-times", "3")
    assert r.exit_code == 0, r.stderr
    [blob] = api_world.stored()
    r = api_world.pull()
    assert r.exit_code == 0, r.stderr
    assert (api_world.tmp / "out" / "signature-1").read_bytes() == blob


def test_a_signature_api_that_keeps_failing_writes_fails_the_copy_naming_the_url(api_world: APIWorld) -> None:
    api_world.faults.rule = fault_for(is_api("PUT"), ProxyFault(status=503))
    r = api_world.sign_push("--retry-times", "2")
    assert r.exit_code == 1
    assert "signature API" in r.stderr and "injected fault" in r.stderr, r.stderr
    assert api_world.stored() == []
    assert api_world.faults.count("PUT", "/extensions/v2/") == 3


# -- 3. sigstore attachments in the registry (use-sigstore-attachments) -------------------------------------------


@dataclass
class SigWorld:
    """A Site (registry_sigstore) whose host is a FaultProxy in front of the registry; ``team/app:1`` signed."""

    site: Site
    faults: FaultProxy
    registry: RegistryServer
    layer: str = ""  # the attachment layer's digest
    config: str = ""  # the attachment config's digest

    @property
    def tag(self) -> str:
        return f"sha256-{HEX}.sig"

    def pull(self, *extra: str, out: str = "out") -> Any:
        return self.site.run("copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms", *extra,
                             f"docker://{self.site.host}/team/app:1", f"dir:{self.site.tmp}/{out}",
                             policy=self.site.policy())

    def faults_free_get(self, what: str) -> bytes:
        """The bytes of the attachment manifest (a tag) or a blob (a digest), straight from the registry."""
        return get_blob(self.registry.host, "team/app", what) if what.startswith("sha256:") else \
            get_manifest(self.registry.host, "team/app", what).content

    def attachment_layers(self, repo: str = "team/app") -> list[dict[str, Any]] | None:
        r = get_manifest(self.registry.host, repo, self.tag)
        return None if r.status_code == 404 else list(r.json()["layers"])


@pytest.fixture
def sig_world(tmp_path: Path, plain_registry: RegistryServer, fault_proxy: Any, run_cli: Any,
              monkeypatch: pytest.MonkeyPatch) -> SigWorld:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return SigWorld(Site(tmp_path, fault_proxy.host, run_cli), fault_proxy, plain_registry)


def signed(w: SigWorld) -> SigWorld:
    r = w.site.sign_push(IMAGE, "team/app:1")
    assert r.exit_code == 0, r.stderr
    [layer] = w.attachment_layers() or []
    w.layer = layer["digest"]
    w.config = get_manifest(w.registry.host, "team/app", w.tag).json()["config"]["digest"]
    with w.faults._lock:
        w.faults.seen.clear()  # count only what the test itself causes
    return w


def sig_accepted(w: SigWorld, r: Any, out: str = "out") -> None:
    assert r.exit_code == 0, r.stderr
    assert (w.site.tmp / out / "manifest.json").read_bytes() == IMAGE.manifest
    assert (w.site.tmp / out / "signature-1").read_bytes().startswith(b"\x00sigstore-json\n")


def sig_refused(w: SigWorld, r: Any, *needles: str, out: str = "out") -> None:
    assert r.exit_code == 1, r.stdout + r.stderr
    assert not (w.site.tmp / out).exists()
    for needle in needles:
        assert needle in r.stderr, r.stderr


def is_sig_manifest(method: str) -> Callable[[str, str, dict[str, str]], bool]:
    return lambda m, p, h: m == method and p.endswith(f"/manifests/sha256-{HEX}.sig")


def is_blob(digest: str) -> Callable[[str, str, dict[str, str]], bool]:
    return lambda m, p, h: m == "GET" and p.endswith(f"/blobs/{digest}")


TRANSIENT = {"503": {"status": 503}, "429": {"status": 429, "headers": {"Retry-After": "0"}},
             "cut-short": {"drop_after": 20}, "lost-answer": {"lose_answer": True}, "stall": {"stall": 1.0}}


@pytest.mark.parametrize("what", ["manifest", "layer", "config-unused"])
@pytest.mark.parametrize("kind", list(TRANSIENT))
def test_a_transient_fault_reading_attachments_is_survived(sig_world: SigWorld, what: str, kind: str) -> None:
    w = signed(sig_world)
    pred = {"manifest": is_sig_manifest("GET"), "layer": is_blob(w.layer), "config-unused": is_blob(w.config)}[what]
    w.faults.rule = fault_for(pred, ProxyFault(**TRANSIENT[kind]), times=2)
    sig_accepted(w, w.pull("--retry-times", "3"))
    seen = w.faults.count("GET", f"/manifests/{w.tag}") if what == "manifest" else \
        w.faults.count("GET", f"/blobs/{w.layer if what == 'layer' else w.config}")
    if what == "config-unused":
        assert seen == 0  # reading attachments never needs their config
    else:
        assert seen == (1 if kind == "stall" else 3)


@pytest.mark.parametrize(("what", "fault", "reason"), [
    ("manifest", {"status": 503}, "injected fault"),
    ("manifest", {"drop_after": 20}, "peer closed connection without sending complete message body"),
    ("layer", {"status": 503}, "injected fault"),
    ("layer", {"drop_after": 20}, "peer closed connection without sending complete message body"),
    ("fallback", {"status": 503}, "injected fault"),
], ids=["manifest-503", "manifest-cut", "layer-503", "layer-cut", "referrers-fallback-503"])
def test_an_attachment_fault_outlasting_the_retries_fails_closed(sig_world: SigWorld, what: str,
                                                                 fault: dict[str, Any], reason: str) -> None:
    w = signed(sig_world)
    preds = {"manifest": is_sig_manifest("GET"), "layer": is_blob(w.layer),
             "fallback": lambda m, p, h: m == "GET" and p.endswith(f"/manifests/sha256-{HEX}")}
    w.faults.rule = fault_for(preds[what], ProxyFault(**fault))
    r = w.pull("--retry-times", "2")
    where = {"manifest": w.tag, "layer": w.layer, "fallback": f"sha256-{HEX}"}[what]
    sig_refused(w, r, reason, where)
    # and with a policy that accepts anything, the signatures are still read to be carried: the copy fails too
    r = w.site.run("copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms", "--retry-times", "0",
                   f"docker://{w.site.host}/team/app:1", f"dir:{w.site.tmp}/carried")
    sig_refused(w, r, reason, out="carried")


@pytest.mark.parametrize("what", ["manifest", "layer"])
def test_a_flipped_byte_in_an_attachment_fails_closed(sig_world: SigWorld, what: str) -> None:
    w = signed(sig_world)
    pred = is_sig_manifest("GET") if what == "manifest" else is_blob(w.layer)
    size = len(w.faults_free_get(w.tag if what == "manifest" else w.layer))
    for offset in (3, size // 2, size - 2):
        w.faults.rule = fault_for(pred, ProxyFault(flip_at=offset))
        r = w.pull(out=f"out-{offset}")
        sig_refused(w, r, out=f"out-{offset}")
        assert w.site.host in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["503", "429", "lost-answer"])
def test_a_transient_fault_on_the_attachment_manifest_put_is_survived(sig_world: SigWorld, kind: str) -> None:
    w = sig_world
    w.faults.rule = fault_for(is_sig_manifest("PUT"), ProxyFault(**TRANSIENT[kind]), times=1)
    r = w.site.sign_push(IMAGE, "team/app:1", "--retry-times", "3", "--retry-delay", "10ms")
    assert r.exit_code == 0, r.stderr
    assert len(w.attachment_layers() or []) == 1
    assert w.faults.count("PUT", f"/manifests/{w.tag}") == 2
    w.faults.rule = lambda m, p, h: None
    sig_accepted(w, w.pull())


def test_a_transient_fault_reading_the_existing_attachments_before_writing_keeps_them(sig_world: SigWorld) -> None:
    """Signing again reads the existing sha256-HEX.sig to append to it: a body cut short is read again,
    never taken as "no attachments" (which would overwrite the first signature)."""
    w = signed(sig_world)
    w.faults.rule = fault_for(is_sig_manifest("GET"), ProxyFault(drop_after=20), times=1)
    r = w.site.sign_push(IMAGE, "team/app:1", "--retry-times", "3", "--retry-delay", "10ms")
    assert r.exit_code == 0, r.stderr
    layers = w.attachment_layers() or []
    assert len(layers) == 2 and layers[0]["digest"] == w.layer


def test_existing_attachments_that_cannot_be_read_are_never_overwritten(sig_world: SigWorld) -> None:
    w = signed(sig_world)
    w.faults.rule = fault_for(is_sig_manifest("GET"), ProxyFault(status=503))
    r = w.site.sign_push(IMAGE, "team/app:1", "--retry-times", "1", "--retry-delay", "10ms")
    assert r.exit_code == 1 and "injected fault" in r.stderr and w.tag in r.stderr, r.stderr
    assert [layer["digest"] for layer in w.attachment_layers() or []] == [w.layer]
    assert w.faults.count("PUT", f"/manifests/{w.tag}") == 0


def test_a_failed_attachment_manifest_put_leaves_no_attachment_and_a_rerun_completes(sig_world: SigWorld) -> None:
    """The layers went up, the manifest did not: no sha256-HEX.sig tag (orphan blobs are harmless), exit 1
    naming the tag; the image's own tag is not written either (it moves only after its signatures are
    stored; containers/image pushes it first and leaves it unsigned)."""
    w = sig_world
    w.faults.rule = fault_for(is_sig_manifest("PUT"), ProxyFault(status=503))
    r = w.site.sign_push(IMAGE, "team/app:1", "--retry-times", "2", "--retry-delay", "10ms")
    assert r.exit_code == 1
    assert "uploading sigstore attachments" in r.stderr and w.tag in r.stderr and "injected fault" in r.stderr
    assert w.attachment_layers() is None
    assert w.faults.count("PUT", f"/manifests/{w.tag}") == 3
    assert "was left as it was" in r.stderr, r.stderr
    assert get_manifest(w.registry.host, "team/app", "1").status_code == 404
    w.faults.rule = lambda m, p, h: None
    r = w.site.sign_push(IMAGE, "team/app:1")
    assert r.exit_code == 0, r.stderr
    assert len(w.attachment_layers() or []) == 1
    sig_accepted(w, w.pull())


def test_a_503_burst_on_the_attachment_blob_uploads_is_survived(sig_world: SigWorld) -> None:
    """Faults on every upload start once the attachment is looked up (so: the attachment's layer and config)."""
    w = sig_world
    pushed = [False]
    left = [2]
    lock = threading.Lock()

    def rule(m: str, p: str, h: dict[str, str]) -> Any:
        with lock:
            if is_sig_manifest("GET")(m, p, h):
                pushed[0] = True
            if pushed[0] and m == "POST" and "/blobs/uploads/" in p and left[0] > 0:
                left[0] -= 1
                return ProxyFault(status=503)
        return None

    w.faults.rule = rule
    r = w.site.sign_push(IMAGE, "team/app:1", "--retry-times", "3", "--retry-delay", "10ms")
    assert r.exit_code == 0, r.stderr
    assert left[0] == 0
    w.faults.rule = lambda m, p, h: None
    sig_accepted(w, w.pull())

