"""The docker:// transport against a hostile or broken registry, and against credential leaks.

Each test names the attack. The fake registry below is a small ``http.server`` on
127.0.0.1 whose every answer the test chooses (endless bodies, lying ``Content-Length``,
decompression bombs, redirect loops, endless ``Link`` pagination, garbage from the token
server …). Each test asserts what the user sees: a non-zero exit, one ``error[code]:`` line
naming the reference or URL at fault, no credential anywhere in the output or the log, and
(where a server could make us read forever) bounded time and bytes.

Tests that need the real ``docker-registry`` are marked ``registry``; the others only need
loopback sockets.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import resource
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_image, random_layer
from registry_fixtures import free_port, isolate_credentials, serve_in_thread, stop_server

#: Credentials the tests hand to trustcopy; none may ever be printed or logged.
USER = "hostile-user"
PASSWORD = "Pa55-w0rd-n3ver-pr1nted"
REGISTRY_TOKEN = "registry-t0ken-n3ver-pr1nted"
IDENTITY_TOKEN = "identity-t0ken-n3ver-pr1nted"
ISSUED_TOKEN = "issued-bearer-t0ken-n3ver-pr1nted"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, REGISTRY_TOKEN, IDENTITY_TOKEN, ISSUED_TOKEN, BASIC)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


# -- the hostile registry ----------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    """Dispatches every request to the route the test installed (see HostileRegistry)."""

    protocol_version = "HTTP/1.1"
    #: Headers and body go out in separate writes: with Nagle's algorithm the body would wait
    #: for the client's delayed ACK (40 ms a response). Real registries (Go) set TCP_NODELAY.
    disable_nagle_algorithm = True
    registry: HostileRegistry

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              *, length: int | None = None) -> None:
        """Answer with ``body``; ``length`` overrides (lies about) the Content-Length."""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self.wfile.flush()
        if length is not None and length != len(body):
            self.close_connection = True

    def stream(self, status: int, chunk: bytes, headers: dict[str, str] | None = None, *,
               limit: int = 1 << 31, pause: float = 0.0) -> None:
        """A body without Content-Length that does not end (until ``limit`` bytes or a hang-up)."""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            while sent < limit:
                self.wfile.write(chunk)
                sent += len(chunk)
                with self.registry.lock:
                    self.registry.sent += len(chunk)
                if pause:
                    time.sleep(pause)
        except OSError:
            pass

    def error_json(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        """A Distribution error body."""
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.reply(status, body, {"Content-Type": "application/json", **(headers or {})})

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        reg = self.registry
        with reg.lock:
            reg.seen.append((self.command, self.path, dict(self.headers.items()), body))
        route = reg.routes.get(path)
        if route is None:
            for prefix, fn in sorted(reg.routes.items(), key=lambda kv: -len(kv[0])):
                if prefix.endswith("*") and path.startswith(prefix[:-1]):
                    route = fn
                    break
        if route is not None:
            route(self)
        elif path == "/v2/":
            self.reply(200, b"{}", {"Content-Type": "application/json"})
        else:
            self.error_json(404, "NAME_UNKNOWN", "no such thing")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def handle(self) -> None:
        """A client hanging up mid-answer is part of every test here."""
        with contextlib.suppress(OSError):
            super().handle()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


Route = Callable[[Handler], None]


class HostileRegistry:
    """A fake registry on 127.0.0.1: ``routes[path]`` (or ``routes["prefix*"]``) answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.sent = 0
        self.lock = threading.Lock()
        handler = type("BoundHandler", (Handler,), {"registry": self})
        self._server = serve_in_thread(self.port, handler)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def serve_image(self, image: Any, repo: str = "app", tag: str = "1") -> None:
        """Answer the manifest and blobs of ``image`` honestly."""
        def manifest(h: Handler) -> None:
            h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST})

        def blob(h: Handler) -> None:
            digest = h.path.split("?", 1)[0].rsplit("/", 1)[1]
            if digest in image.blobs:
                h.reply(200, image.blobs[digest], {"Content-Type": "application/octet-stream"})
            else:
                h.error_json(404, "BLOB_UNKNOWN", "unknown blob")

        self.routes[f"/v2/{repo}/manifests/{tag}"] = manifest
        self.routes[f"/v2/{repo}/blobs/*"] = blob

    def requests(self, path_contains: str = "") -> list[tuple[str, str, dict[str, str], bytes]]:
        """The requests seen so far whose path contains the text."""
        with self.lock:
            return [r for r in self.seen if path_contains in r[1]]

    def stop(self) -> None:
        """Shut the server down."""
        stop_server(self._server)


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    """A HostileRegistry, stopped after the test."""
    reg = HostileRegistry()
    try:
        yield reg
    finally:
        reg.stop()


# -- helpers -------------------------------------------------------------------------------------


def assert_no_secret(*texts: str) -> None:
    """No credential the tests use appears in any of ``texts``."""
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"credential {secret[:6]}… leaked in: {text[:2000]}"


def one_error_line(stderr: str) -> str:
    """The ``error[…]`` line of a failed command (exactly one)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error[")]
    assert len(lines) == 1, stderr
    return lines[0]


def run_debug(*args: str, timeout: float = 60, memory: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m trustcopy --debug ARGS`` in a child (optionally with an address-space cap)."""
    def cap() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "trustcopy", "--debug", *args], capture_output=True, text=True,
                          check=False, timeout=timeout, preexec_fn=cap)


def inspect_raw(run_cli: Any, host: str, ref: str = "app:1", *extra: str) -> Any:
    """``trustcopy inspect --raw`` of ``docker://HOST/REF`` over plain HTTP, retries fast."""
    return run_cli("inspect", "--raw", "--tls-verify=false", "--retry-times=1", *extra, f"docker://{host}/{ref}")


def gzip_bomb(expanded: int, wbits: int = 31) -> bytes:
    """A gzip (or, with wbits=15, zlib) stream without a trailer expanding to ``expanded`` zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    mib = bytes(1 << 20)
    head = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * (expanded // (1 << 20) - 1)


def gzip(data: bytes) -> bytes:
    """A complete gzip stream of ``data``."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the developer's own auth files."""
    isolate_credentials(monkeypatch, tmp_path, proxies=False)


# -- bodies: huge, endless, lying, compressed ------------------------------------------------------


def test_endless_manifest_body_is_cut_at_the_manifest_limit(run_cli: Any, hostile: HostileRegistry) -> None:
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.stream(200, b"{" * 65536, {"Content-Type": OCI_MANIFEST})
    start = time.monotonic()
    r = inspect_raw(run_cli, hostile.host)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[limit-exceeded]:") and "manifest 1 in" in line and "app" in line
    assert time.monotonic() - start < 20
    assert hostile.sent < 64 << 20


def test_manifest_announcing_a_huge_content_length_is_refused(run_cli: Any, hostile: HostileRegistry) -> None:
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(200, b"{}", {"Content-Type": OCI_MANIFEST},
                                                              length=10 << 30)
    start = time.monotonic()
    r = inspect_raw(run_cli, hostile.host)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[limit-exceeded]:") and f"manifest 1 in {hostile.host}/app" in line
    assert "Content-Length" in line  # refused from the header, before reading
    assert time.monotonic() - start < 20


def test_manifest_shorter_than_its_content_length_fails_naming_it(run_cli: Any, hostile: HostileRegistry) -> None:
    manifest = example_image().manifest
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(200, manifest[:50], {"Content-Type": OCI_MANIFEST},
                                                              length=len(manifest))
    r = inspect_raw(run_cli, hostile.host)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert "manifest 1 in" in line and "app" in line
    assert manifest[:50].decode() not in r.stdout


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip", "deflate, gzip"])
def test_manifest_decompression_bomb_is_bounded(hostile: HostileRegistry, encoding: str) -> None:
    inner = gzip_bomb(3 << 30, 15 if encoding.startswith("deflate") else 31)  # 3 GiB of zeros in 3 MiB
    body = gzip(inner) if "," in encoding else inner
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(
        200, body, {"Content-Type": OCI_MANIFEST, "Content-Encoding": encoding})
    r = run_debug("inspect", "--raw", "--tls-verify=false", f"docker://{hostile.host}/app:1", memory=1536 << 20)
    assert r.returncode == 1, r.stderr[-3000:]
    assert "MemoryError" not in r.stderr
    line = one_error_line(r.stderr)
    assert line.startswith("error[limit-exceeded]:") and "manifest 1 in" in line


def test_error_body_decompression_bomb_is_bounded(hostile: HostileRegistry) -> None:
    body = gzip(gzip_bomb(3 << 30))
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(
        404, body, {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"})
    r = run_debug("inspect", "--raw", "--tls-verify=false", f"docker://{hostile.host}/app:1", memory=1536 << 20)
    assert r.returncode == 1, r.stderr[-3000:]
    assert "MemoryError" not in r.stderr
    line = one_error_line(r.stderr)
    assert line.startswith("error[image-not-found]:") and "manifest 1 in" in line  # the 404, its body ignored


def test_blob_decompression_bomb_is_bounded(hostile: HostileRegistry, tmp_path: Path,
                                            insecure_policy: Path) -> None:
    image = example_image()
    hostile.serve_image(image)
    bomb = gzip(gzip_bomb(3 << 30))
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    honest = hostile.routes["/v2/app/blobs/*"]

    def blob(h: Handler) -> None:
        if layer in h.path:
            h.stream(200, bomb, {"Content-Encoding": "gzip, gzip"}, limit=len(bomb))  # no Content-Length
        else:
            honest(h)

    hostile.routes["/v2/app/blobs/*"] = blob
    dest = tmp_path / "dest"
    dest.mkdir()
    r = run_debug("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                  f"docker://{hostile.host}/app:1", f"dir:{dest}/out", memory=1536 << 20)
    assert r.returncode == 1, r.stderr[-3000:]
    assert "MemoryError" not in r.stderr
    assert layer in one_error_line(r.stderr)
    assert list(dest.iterdir()) == []


def test_ping_error_body_decompression_bomb_is_bounded(hostile: HostileRegistry) -> None:
    body = gzip(gzip_bomb(3 << 30))
    hostile.routes["/v2/"] = lambda h: h.reply(500, body, {"Content-Encoding": "gzip, gzip"})
    r = run_debug("inspect", "--raw", "--tls-verify=false", "--retry-times=0", f"docker://{hostile.host}/app:1",
                  memory=1536 << 20)
    assert r.returncode == 1
    assert "MemoryError" not in r.stderr
    # The request that needed the ping names the image, then the ping's own failure.
    assert one_error_line(r.stderr).startswith(
        f"error[registry-http]: reading manifest 1 in {hostile.host}/app: pinging container registry {hostile.host}:")


def test_endless_blob_stops_at_the_manifest_size(hostile: HostileRegistry, tmp_path: Path,
                                                 insecure_policy: Path, run_cli: Any) -> None:
    image = example_image()
    hostile.serve_image(image)
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    honest = hostile.routes["/v2/app/blobs/*"]
    hostile.routes["/v2/app/blobs/*"] = lambda h: h.stream(200, bytes(65536)) if layer in h.path else honest(h)
    dest = tmp_path / "dest"
    dest.mkdir()
    start = time.monotonic()
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                f"docker://{hostile.host}/app:1", f"dir:{dest}/out")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[size-mismatch]:") and layer in line
    assert time.monotonic() - start < 20 and hostile.sent < 64 << 20
    assert list(dest.iterdir()) == []


def test_blob_bytes_not_matching_the_digest_leave_nothing(hostile: HostileRegistry, tmp_path: Path,
                                                          insecure_policy: Path, run_cli: Any) -> None:
    image = example_image()
    hostile.serve_image(image)
    layer = json.loads(image.manifest)["layers"][1]["digest"]
    honest = hostile.routes["/v2/app/blobs/*"]
    forged = bytes(b ^ 1 for b in image.blobs[layer])
    hostile.routes["/v2/app/blobs/*"] = lambda h: h.reply(200, forged) if layer in h.path else honest(h)
    dest = tmp_path / "dest"
    dest.mkdir()
    for target in (f"dir:{dest}/out", f"oci:{dest}/layout:1"):
        r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                    f"docker://{hostile.host}/app:1", target)
        assert r.exit_code == 1
        line = one_error_line(r.stderr)
        assert line.startswith("error[digest-mismatch]:") and layer in line
        assert list(dest.iterdir()) == []


def test_blob_shorter_than_its_content_length_fails_after_bounded_resumes(
        hostile: HostileRegistry, tmp_path: Path, insecure_policy: Path, run_cli: Any) -> None:
    image = make_image([random_layer(200_000, 3)])
    hostile.serve_image(image)
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    data = image.blobs[layer]
    honest = hostile.routes["/v2/app/blobs/*"]
    hostile.routes["/v2/app/blobs/*"] = lambda h: h.reply(200, data[:1000], length=len(data)) \
        if layer in h.path else honest(h)
    dest = tmp_path / "dest"
    dest.mkdir()
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=2",
                "--retry-delay=0.01s", f"docker://{hostile.host}/app:1", f"dir:{dest}/out")
    assert r.exit_code == 1
    assert layer in one_error_line(r.stderr)
    assert len(hostile.requests(layer)) <= 4
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("body", [b"[" * (4 << 20 - 16), b'{"a":' * 200_000 + b"1" + b"}" * 200_000],
                         ids=["deep-array", "deep-object"])
def test_deeply_nested_manifest_is_a_clean_error(run_cli: Any, hostile: HostileRegistry, tmp_path: Path,
                                                 insecure_policy: Path, body: bytes) -> None:
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(200, body, {"Content-Type": OCI_MANIFEST})
    r = run_cli("inspect", "--tls-verify=false", f"docker://{hostile.host}/app:1")
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr
    assert f"{hostile.host}/app" in one_error_line(r.stderr)
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false",
                f"docker://{hostile.host}/app:1", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert f"{hostile.host}/app" in one_error_line(r.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("digest", ["sha256:../../../../tmp/escape", "sha256/../../x:" + "a" * 64,
                                    "../" + "a" * 64])
def test_layer_digest_with_path_escape_is_refused(run_cli: Any, hostile: HostileRegistry, tmp_path: Path,
                                                  insecure_policy: Path, digest: str) -> None:
    image = example_image()
    doc = json.loads(image.manifest)
    doc["layers"][0]["digest"] = digest
    manifest = json.dumps(doc).encode()
    hostile.serve_image(image)
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(200, manifest, {"Content-Type": OCI_MANIFEST})
    dest = tmp_path / "dest"
    dest.mkdir()
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false",
                f"docker://{hostile.host}/app:1", f"dir:{dest}/out")
    assert r.exit_code == 1
    assert f"{hostile.host}/app" in one_error_line(r.stderr)
    assert list(dest.iterdir()) == []
    assert not hostile.requests("/blobs/")


def test_manifest_not_matching_the_requested_digest_is_refused(run_cli: Any, hostile: HostileRegistry) -> None:
    image = example_image()
    other = make_image([random_layer(100, 1)])
    hostile.routes[f"/v2/app/manifests/{image.digest}"] = lambda h: h.reply(200, other.manifest,
                                                                          {"Content-Type": OCI_MANIFEST})
    r = run_cli("inspect", "--raw", "--tls-verify=false", f"docker://{hostile.host}/app@{image.digest}")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[digest-mismatch]:") and image.digest in line
    assert r.stdout == ""


# -- redirects ---------------------------------------------------------------------------------------


def test_redirect_loop_ends_with_a_clear_error(run_cli: Any, hostile: HostileRegistry) -> None:
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(302, headers={"Location": "/v2/app/manifests/1"})
    r = inspect_raw(run_cli, hostile.host)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[too-many-redirects]:") and "manifest 1 in" in line
    assert len(hostile.requests("/manifests/")) <= 12


def test_redirect_ping_pong_between_two_hosts_ends(run_cli: Any, hostile: HostileRegistry) -> None:
    other = HostileRegistry()
    try:
        other.routes["/bounce"] = lambda h: h.reply(307, headers={"Location": f"http://{hostile.host}/v2/app/"
                                                                              "manifests/1"})
        hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(307, headers={"Location": f"http://{other.host}"
                                                                                             "/bounce"})
        r = inspect_raw(run_cli, hostile.host)
        assert r.exit_code == 1
        assert one_error_line(r.stderr).startswith("error[too-many-redirects]:")
        assert len(other.requests()) <= 6
    finally:
        other.stop()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/plain,{}",
                                      "gopher://127.0.0.1:70/", "mailto:x", "http://[::1", "http://127.0.0.1:99999/x"])
def test_redirect_to_another_scheme_or_a_broken_url_is_refused(run_cli: Any, hostile: HostileRegistry,
                                                               location: str) -> None:
    hostile.routes["/v2/app/manifests/1"] = lambda h: h.reply(302, headers={"Location": location})
    r = inspect_raw(run_cli, hostile.host)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert "manifest 1 in" in line and "Traceback" not in r.stderr
    assert "root:" not in r.stdout + r.stderr


def test_redirect_to_another_host_carries_no_credentials(run_cli: Any, hostile: HostileRegistry, tmp_path: Path,
                                                        insecure_policy: Path) -> None:
    image = example_image()
    store = HostileRegistry()
    try:
        store.serve_image(image, repo="store")

        def basic_only(route: Route) -> Route:
            def answer(h: Handler) -> None:
                if h.headers.get("Authorization") != f"Basic {BASIC}":
                    h.error_json(401, "UNAUTHORIZED", "authentication required",
                                 {"WWW-Authenticate": 'Basic realm="hostile"'})
                else:
                    route(h)
            return answer

        hostile.routes["/v2/"] = basic_only(lambda h: h.reply(200, b"{}"))
        hostile.routes["/v2/app/manifests/1"] = basic_only(lambda h: h.reply(200, image.manifest,
                                                                             {"Content-Type": OCI_MANIFEST}))
        hostile.routes["/v2/app/blobs/*"] = basic_only(lambda h: h.reply(
            307, headers={"Location": f"http://{store.host}/v2/store/blobs/{h.path.rsplit('/', 1)[1]}"}))
        r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false",
                    f"--src-creds={USER}:{PASSWORD}", f"docker://{hostile.host}/app:1", f"dir:{tmp_path}/out")
        assert r.exit_code == 0, r.stderr
        assert store.requests("/blobs/")
        for _m, _p, headers, _b in store.requests():
            assert "Authorization" not in headers and "authorization" not in headers
        assert_no_secret(json.dumps(store.seen, default=str))
    finally:
        store.stop()


# -- list-tags pagination ------------------------------------------------------------------------------


def _tags_page(tags: list[str], link: str | None) -> Route:
    def answer(h: Handler) -> None:
        headers = {"Content-Type": "application/json"}
        if link is not None:
            headers["Link"] = link
        h.reply(200, json.dumps({"name": "app", "tags": tags}).encode(), headers)
    return answer


def test_link_pointing_back_to_itself_ends(run_cli: Any, hostile: HostileRegistry) -> None:
    hostile.routes["/v2/app/tags/list"] = _tags_page(["a"], '</v2/app/tags/list>; rel="next"')
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{hostile.host}/app")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert "listing tags of" in line and "app" in line and "loop" in line
    assert len(hostile.requests("/tags/list")) <= 3


def test_endless_distinct_link_pages_end_in_bounded_time(run_cli: Any, hostile: HostileRegistry) -> None:
    def page(h: Handler) -> None:
        n = int(h.path.partition("last=")[2] or 0)
        _tags_page([f"t{n}"], f'</v2/app/tags/list?n=1&last={n + 1}>; rel="next"')(h)

    hostile.routes["/v2/app/tags/list"] = page
    start = time.monotonic()
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{hostile.host}/app")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith(f"error[limit-exceeded]: Error listing repository tags: listing tags of {hostile.host}/app")
    assert "pages" in line
    assert time.monotonic() - start < 30


def test_pages_of_huge_tags_are_bounded_in_total(run_cli: Any, hostile: HostileRegistry) -> None:
    # ~8 MiB pages of valid 128-character tags (one 8 MiB tag would be refused as an invalid tag).
    big = ["x" * 118 + f"{i:010d}" for i in range((8 << 20) // 131)]

    def page(h: Handler) -> None:
        n = int(h.path.partition("last=")[2] or 0)
        _tags_page(big, f'</v2/app/tags/list?last={n + 1}>; rel="next"')(h)

    hostile.routes["/v2/app/tags/list"] = page
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{hostile.host}/app")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[limit-exceeded]:") and "all pages together" in line
    # 32 MiB over all pages: the fifth 8 MiB page is cut.
    assert len(hostile.requests("/tags/list")) <= 5


@pytest.mark.parametrize("size", [90_000, 200_000], ids=["longer-than-a-url", "larger-than-a-header-block"])
def test_huge_link_target_is_a_clean_error_without_retries(run_cli: Any, hostile: HostileRegistry,
                                                           size: int) -> None:
    hostile.routes["/v2/app/tags/list"] = _tags_page(["a"], "</v2/app/tags/list?last=" + "x" * size + '>; rel="next"')
    start = time.monotonic()
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{hostile.host}/app")
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr
    line = one_error_line(r.stderr)
    assert line.startswith(f"error[registry]: Error listing repository tags: listing tags of {hostile.host}/app: ")
    assert len(hostile.requests("/tags/list")) == 1  # nothing followed, nothing retried
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("target", ["http://{other}/v2/app/tags/list?last=a", "https://{host}/v2/app/tags/list?last=a",
                                    "//{other}/v2/app/tags/list?last=a"])
def test_link_to_another_origin_is_followed_on_the_registry_only(run_cli: Any, hostile: HostileRegistry,
                                                                  target: str) -> None:
    # As containers/image: the Link's path and query, asked of the registry itself (a TLS-terminating
    # proxy writes http:// or its internal name there); the other origin never gets a request.
    other = HostileRegistry()
    try:
        link = "<" + target.format(other=other.host, host=hostile.host) + '>; rel="next"'

        def pages(h: Any) -> None:
            if "last=a" in h.path:
                _tags_page(["b"], None)(h)
            else:
                _tags_page(["a"], link)(h)

        hostile.routes["/v2/app/tags/list"] = pages
        r = run_cli("list-tags", "--tls-verify=false", f"--creds={USER}:{PASSWORD}", f"docker://{hostile.host}/app")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["Tags"] == ["a", "b"]
        assert other.requests() == []
        assert_no_secret(r.stdout, r.stderr)
    finally:
        other.stop()


@pytest.mark.parametrize("body", [b"not json", b"[" * 100_000, b'{"tags": "a"}', b'{"tags": [1, 2]}',
                                  b'{"tags": [' + b'"t",' * 10 + b"]"], ids=["text", "deep", "str", "ints", "broken"])
def test_garbage_tag_list_is_a_clean_error(run_cli: Any, hostile: HostileRegistry, body: bytes) -> None:
    hostile.routes["/v2/app/tags/list"] = lambda h: h.reply(200, body, {"Content-Type": "application/json"})
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{hostile.host}/app")
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr
    # skopeo 1.9.3 words it "Error listing repository tags: <cause>"; the cause names the repository.
    assert one_error_line(r.stderr).startswith(
        f"error[registry]: Error listing repository tags: listing tags of {hostile.host}/app: ")


# -- token servers and challenges ------------------------------------------------------------------------


def bearer_registry(reg: HostileRegistry, token_route: Route, realm: str | None = None) -> None:
    """/v2/ and everything else asks for a bearer token from ``/token`` on the same server."""
    challenge = f'Bearer realm="{realm or f"http://{reg.host}/token"}",service="hostile"'

    def protected(h: Handler) -> None:
        if h.headers.get("Authorization", "").startswith("Bearer ") and \
                h.headers["Authorization"][7:] == ISSUED_TOKEN and h.path.split("?")[0] != "/v2/":
            h.reply(200, example_image().manifest, {"Content-Type": OCI_MANIFEST})
        else:
            h.error_json(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})

    reg.routes["/v2/"] = protected
    reg.routes["/v2/app/*"] = protected
    reg.routes["/token"] = token_route


@pytest.mark.parametrize("answer", [
    b"<html>not json</html>",
    b"[" * 200_000,
    b'{"token": ""}',
    b'{"token": 42}',
    b'{"token": "has spaces and \\n newline"}',
    b'{"token": "ok", "expires_in": 1' + b"0" * 400 + b"}",
    b'{"token": "ok", "expires_in": "forever"}',
    b'{"nothing": true}',
    b"null",
], ids=["html", "deep", "empty", "number", "spaces", "huge-int-expiry", "string-expiry", "no-token", "null"])
def test_garbage_from_the_token_server_is_a_clean_error(run_cli: Any, hostile: HostileRegistry,
                                                        answer: bytes) -> None:
    bearer_registry(hostile, lambda h: h.reply(200, answer, {"Content-Type": "application/json"}))
    r = inspect_raw(run_cli, hostile.host, "app:1", f"--creds={USER}:{PASSWORD}")
    assert r.exit_code == 1, r.stdout
    assert "Traceback" not in r.stderr
    line = one_error_line(r.stderr)
    assert line.startswith(("error[registry-token]:", "error[registry-auth]:")), line
    assert "token" in line and f"{hostile.host}/token" in line
    assert_no_secret(r.stdout, r.stderr)


def test_huge_token_answer_is_cut(run_cli: Any, hostile: HostileRegistry) -> None:
    bearer_registry(hostile, lambda h: h.stream(200, b'{"token": "' + b"a" * 65536))
    r = inspect_raw(run_cli, hostile.host, "app:1", f"--creds={USER}:{PASSWORD}")
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert line.startswith("error[limit-exceeded]:") and f"{hostile.host}/token" in line
    assert hostile.sent < 16 << 20


def test_never_expiring_token_that_the_registry_refuses_is_fetched_again_once(run_cli: Any,
                                                                                hostile: HostileRegistry) -> None:
    answer = json.dumps({"token": "refused-" + ISSUED_TOKEN[::-1], "expires_in": 1 << 62}).encode()
    bearer_registry(hostile, lambda h: h.reply(200, answer, {"Content-Type": "application/json"}))
    r = inspect_raw(run_cli, hostile.host, "app:1", f"--creds={USER}:{PASSWORD}")
    assert r.exit_code == 1
    assert one_error_line(r.stderr).startswith("error[registry-auth]:")
    assert len(hostile.requests("/token")) <= 4
    assert len(hostile.requests("/manifests/")) <= 3


@pytest.mark.parametrize(("header", "code"), [
    ('Bearer realm="http://127.0.0.1:1/token', "registry-token"),
    ("Bearer realm=", "registry-token"),
    ('Bearer realm="file:///etc/passwd",service="x"', "registry-token"),
    ('Bearer realm="ftp://127.0.0.1/token"', "registry-token"),
    ('Bearer realm="http://[::1/token"', "registry-token"),
    ("Bearer " + "," * 60_000, "registry-token"),
    ('Bearer realm="' + "\\" * 30_000 + '"', "registry-token"),
    ("\x00\x01garbage", "registry"),  # not even valid HTTP: h11 refuses the header line
    ('Negotiate abc==, Bearer realm="relative/path"', "registry-token"),
], ids=["unterminated", "empty", "file", "ftp", "bad-ipv6", "commas", "backslashes", "binary", "relative"])
def test_malformed_challenge_is_a_clean_error(run_cli: Any, hostile: HostileRegistry, header: str,
                                              code: str) -> None:
    def challenge(h: Handler) -> None:
        h.error_json(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": header})

    hostile.routes["/v2/"] = challenge
    hostile.routes["/v2/app/*"] = challenge
    start = time.monotonic()
    r = inspect_raw(run_cli, hostile.host, "app:1", f"--creds={USER}:{PASSWORD}")
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr
    line = one_error_line(r.stderr)
    assert line.startswith(f"error[{code}]:"), line
    assert len(line) < 1000  # the hostile header is not echoed whole
    assert time.monotonic() - start < 10
    assert_no_secret(r.stdout, r.stderr)
    assert "root:" not in r.stdout


# -- bytes nobody asked for on a kept-alive connection ------------------------------------------------

#: A whole second answer, sent right after the manifest's announced Content-Length.
STRAY_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"


def test_bytes_after_an_answer_never_answer_the_next_request(hostile: HostileRegistry, tmp_path: Path,
                                                             insecure_policy: Path, run_cli: Any) -> None:
    """The manifest answer is followed, in the same write, by a second answer nobody asked for.

    httpcore kept those bytes and read them as the answer to the next request on the
    connection (a blob GET: "the registry sends 5 bytes, the manifest says …"); Go's
    transport drops such a connection. The copy must go on over a fresh connection.
    """
    image = example_image()
    hostile.serve_image(image)

    def manifest(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", OCI_MANIFEST)
        h.send_header("Content-Length", str(len(image.manifest)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(image.manifest + STRAY_ANSWER)
            h.wfile.flush()

    hostile.routes["/v2/app/manifests/1"] = manifest
    dest = tmp_path / "out"
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                f"docker://{hostile.host}/app:1", f"dir:{dest}")
    assert r.exit_code == 0, r.stderr
    assert (dest / "manifest.json").read_bytes() == image.manifest
    for digest, blob in image.blobs.items():
        assert (dest / digest.removeprefix("sha256:")).read_bytes() == blob

