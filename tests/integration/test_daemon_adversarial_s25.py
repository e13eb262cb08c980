"""docker-daemon: a hostile or broken engine fails the copy cleanly, naming the daemon and the image.

A scripted engine on a unix socket (the streaming code is exercised, not a MockTransport) sends
what a compromised or broken daemon could: hostile ``docker save`` archives (the corpus of
tests/fixtures/archives), decompression bombs in ``Content-Encoding``, bodies cut short or
stalled, load answers that report an error inside a 200 stream, JSON nested 100,000 deep,
endless answers. Each must end in a TrustcopyError (never a traceback), in bounded time and
memory, with nothing written at the destination; a failed copy never completes the upload.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socketserver
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from imagefactory import example_image, write_oci

from trustcopy.errors import TrustcopyError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "archives"))
import contextlib

from hostile import EXPECTED_CODES as HOSTILE_SAVE  # the daemon source fails as a docker-archive: file
from hostile import HOSTILE, valid
from registry_fixtures import QuietHangups

CONFIG = json.loads(example_image().manifest)["config"]["digest"]

Script = Callable[["_Engine"], None]


# -- the scripted engine ------------------------------------------------------------------------------


class _Engine(http.server.BaseHTTPRequestHandler):
    """Routes /_ping, /images/NAME/get, /images/load and /images/NAME/json to per-test scripts."""

    protocol_version = "HTTP/1.1"
    scripts: ClassVar[dict[str, Script]]
    #: every request: (method, path, headers)
    requests: ClassVar[list[tuple[str, str, dict[str, str]]]]
    #: for each upload: the bytes received and whether the chunked body ended with its last chunk
    uploads: ClassVar[list[tuple[int, bool]]]
    save_body: ClassVar[bytes] = b""

    def log_message(self, *args: object) -> None:
        return

    def address_string(self) -> str:
        return "engine"

    def handle(self) -> None:
        """A client that hangs up on a bomb or a stall is expected: not a server traceback."""
        with contextlib.suppress(OSError, ValueError):
            super().handle()

    def answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(body)

    def read_upload(self, limit: int | None = None) -> int:
        """Consume the chunked request body (up to ``limit``); record it."""
        total, complete = 0, False
        try:
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    complete = True
                    break
                got = self.rfile.read(size)
                self.rfile.readline()
                total += len(got)
                if len(got) < size or (limit is not None and total >= limit):
                    break
        except (OSError, ValueError):
            pass
        type(self).uploads.append((total, complete))
        return total

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        type(self).requests.append((method, self.path, dict(self.headers.items())))
        if path.endswith("/_ping"):
            key = "ping"
        elif method == "POST" and path.endswith("/images/load"):
            key = "load"
        elif path.endswith("/get"):
            key = "get"
        elif path.endswith("/json"):
            key = "inspect"
        else:
            self.answer(404, b'{"message":"page not found"}')
            return
        type(self).scripts[key](self)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")


def _ping(h: _Engine) -> None:
    h.answer(200, b"OK")


def _save(h: _Engine) -> None:
    h.answer(200, type(h).save_body, Content_Type="application/x-tar")


def _load_ok(h: _Engine) -> None:
    h.read_upload()
    h.answer(200, b'{"stream":"Loaded image: example.com/x:1\\n"}\n')


def _inspect_ok(h: _Engine) -> None:
    h.answer(200, json.dumps({"Id": CONFIG}).encode())


class _Server(QuietHangups, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[str, type[_Engine]]]:
    handler: type[_Engine] = type("Engine", (_Engine,), {  # type: ignore[assignment]
        "scripts": {"ping": _ping, "get": _save, "load": _load_ok, "inspect": _inspect_ok},
        "requests": [], "uploads": []})
    sock = tmp_path / "engine.sock"
    server = _Server(str(sock), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def layout(tmp_path: Path) -> str:
    write_oci({"x": example_image()}, str(tmp_path / "layout"))
    return f"oci:{tmp_path / 'layout'}:x"


def _copy(src: str, dest: str, *, src_host: str | None = None, dest_host: str | None = None,
          timeout: float | None = None) -> None:
    """copy_image with an accept-anything policy (these tests are about the daemon, not policy)."""
    from trustcopy.copy.pipeline import CopyOptions, copy_image

    options = CopyOptions(source_ctx=SystemContext(docker_daemon_host=src_host, docker_timeout=timeout),
                          dest_ctx=SystemContext(docker_daemon_host=dest_host, docker_timeout=timeout))
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest), parse_image_name(src),
               options)


def _bomb(inner: bytes, mib: int) -> bytes:
    """gzip of ``inner`` followed by ``mib`` MiB of zeros (built fast, from repeated input)."""
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [c.compress(inner)]
    zeros = b"\0" * (1 << 20)
    parts.extend(c.compress(zeros) for _ in range(mib))
    parts.append(c.flush())
    return b"".join(parts)


class _Memory:
    """Peak Python memory (MiB) allocated over a block (tracemalloc: per block, unlike the process's
    high-water mark, which an earlier test may already have raised): a bomb must never be held.

    ``seconds`` is the process's CPU time over the block, not wall time: bounded work is the
    point, and on a machine busy with other tests (a parallel suite) the wall time of the
    member flood doubled past its bound while its CPU time did not change.
    """

    def __enter__(self) -> _Memory:
        tracemalloc.start()
        self._start = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.grown_mib = tracemalloc.get_traced_memory()[1] / (1 << 20)
        tracemalloc.stop()
        self.seconds = time.process_time() - self._start


# -- docker save: hostile archives ---------------------------------------------------------------------



def test_every_hostile_archive_is_tried_through_the_daemon() -> None:
    assert set(HOSTILE_SAVE) == set(HOSTILE)


def test_the_valid_archive_copies_from_the_engine(engine: tuple[str, type[_Engine]], tmp_path: Path) -> None:
    host, handler = engine
    handler.save_body = valid(tmp_path).read_bytes()
    _copy("docker-daemon:example.com/hostile:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("mode", sorted(HOSTILE), ids=str)
def test_a_hostile_save_archive_fails_cleanly(engine: tuple[str, type[_Engine]], tmp_path: Path, mode: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    host, handler = engine
    if mode == "member-flood":
        # The daemon path refuses a flood as the archive reader does; the real 100,000-member
        # bound and its memory are tested on docker-archive: files (test_archive_hostile). Under
        # tracemalloc, parsing 100,000 headers cost 16-39 s of CPU, the suite's longest test.
        from trustcopy.transports import tario

        monkeypatch.setattr(tario, "MAX_MEMBERS", 1000)
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    handler.save_body = HOSTILE[mode](fixtures).read_bytes()
    out = tmp_path / "out"
    with _Memory() as mem, pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/hostile:1", f"dir:{out}", src_host=host)
    assert info.value.code == HOSTILE_SAVE[mode], info.value.message
    assert "example.com/hostile:1" in info.value.message
    assert not out.exists()
    assert not (fixtures.parent / "escaped").exists() and not Path("/tmp/trustcopy-absolute-escape").exists()
    assert mem.seconds < 30 and mem.grown_mib < 64


# -- docker save: HTTP-level attacks ---------------------------------------------------------------------


def test_a_content_encoding_bomb_on_the_save_body_is_never_inflated_at_once(
        engine: tuple[str, type[_Engine]], tmp_path: Path) -> None:
    """``Content-Encoding: gzip, gzip``: one 64 KiB network read would inflate to 512 MiB in httpx."""
    host, handler = engine
    body = gzip.compress(_bomb(b"", 512), 9)

    def save(h: _Engine) -> None:
        h.answer(200, body, Content_Encoding="gzip, gzip", Content_Type="application/x-tar")

    handler.scripts["get"] = save
    with _Memory() as mem, pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert "example.com/x:1" in info.value.message
    assert mem.grown_mib < 128, mem.grown_mib


def test_a_content_encoding_bomb_in_an_error_answer_is_bounded(engine: tuple[str, type[_Engine]],
                                                               tmp_path: Path) -> None:
    host, handler = engine
    body = gzip.compress(_bomb(b'{"message":"', 512), 9)

    def save(h: _Engine) -> None:
        h.answer(500, body, Content_Encoding="gzip, gzip")

    handler.scripts["get"] = save
    with _Memory() as mem, pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert info.value.code == "limit-exceeded", info.value.message
    assert mem.grown_mib < 128, mem.grown_mib


def test_a_ping_answer_that_never_ends_is_bounded(engine: tuple[str, type[_Engine]], tmp_path: Path) -> None:
    """The body of /_ping is never needed; a daemon streaming one forever must not fill memory."""
    host, handler = engine

    def ping(h: _Engine) -> None:
        h.send_response(200)
        h.send_header("Api-Version", "1.41")
        h.send_header("Content-Length", str(1 << 40))
        h.end_headers()
        chunk = b"O" * (1 << 20)
        h.close_connection = True
        try:
            for _ in range(256):  # 256 MiB, then hang up (the old client read it all, then failed)
                h.wfile.write(chunk)
        except OSError:
            return

    handler.scripts["ping"] = ping
    with _Memory() as mem, pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert "example.com/x:1" in info.value.message
    assert mem.grown_mib < 128, mem.grown_mib


@pytest.mark.parametrize("cut", [300, 5000], ids=["in-the-first-read", "mid-member"])
def test_a_save_body_cut_short_is_named(engine: tuple[str, type[_Engine]], tmp_path: Path, cut: int) -> None:
    """Content-Length promises the whole archive; the daemon closes after ``cut`` bytes."""
    host, handler = engine
    whole = valid(tmp_path).read_bytes()

    def save(h: _Engine) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Content-Length", str(len(whole)))
        h.end_headers()
        h.wfile.write(whole[:cut])
        h.wfile.flush()
        h.close_connection = True

    handler.scripts["get"] = save
    with pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/hostile:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert info.value.code in ("daemon-stream-failed", "archive-truncated"), info.value.message
    assert "example.com/hostile:1" in info.value.message
    assert not (tmp_path / "out").exists()


def test_a_daemon_that_stalls_after_the_headers_times_out_named(engine: tuple[str, type[_Engine]],
                                                               tmp_path: Path) -> None:
    host, handler = engine
    release = threading.Event()

    def save(h: _Engine) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b"\0" * 10)
        h.wfile.flush()
        release.wait(30)

    handler.scripts["get"] = save
    start = time.monotonic()
    try:
        with pytest.raises(TrustcopyError) as info:
            _copy("docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}", src_host=host, timeout=1.0)
    finally:
        release.set()
    assert time.monotonic() - start < 15
    assert info.value.code == "daemon-stream-failed", info.value.message
    assert "example.com/x:1" in info.value.message


def test_a_deeply_nested_error_answer_is_not_a_crash(engine: tuple[str, type[_Engine]], tmp_path: Path) -> None:
    host, handler = engine

    def save(h: _Engine) -> None:
        h.answer(500, b"[" * 100_000)

    handler.scripts["get"] = save
    with pytest.raises(TrustcopyError) as info:
        _copy("docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}", src_host=host)
    assert info.value.code == "daemon-error", info.value.message
    assert "HTTP 500" in info.value.message


# -- docker load: answers ---------------------------------------------------------------------------------


def _answer_load(body: bytes, *, status: int = 200, **headers: str) -> Script:
    def load(h: _Engine) -> None:
        h.read_upload()
        h.answer(status, body, **headers)
    return load


@pytest.mark.parametrize("answer", [
    b'{"errorDetail":{}}\n',  # an error without a message is still an error (c/i: errorDetail present)
    b'{"ErrorDetail":{"message":"disk full"}}\n',  # Go matches JSON keys without regard to case
    b'{"errorDetail":0}\n',  # not an object: c/i cannot decode the message
    b'{"errorDetail":[]}\n',
], ids=["empty-detail", "key-case", "number", "array"])
def test_an_error_in_the_load_stream_is_never_taken_for_success(engine: tuple[str, type[_Engine]], layout: str,
                                                              answer: bytes) -> None:
    host, handler = engine
    handler.scripts["load"] = _answer_load(answer)
    with pytest.raises(TrustcopyError) as info:
        _copy(layout, "docker-daemon:example.com/x:1", dest_host=host)
    assert info.value.code in ("daemon-error", "daemon-load-unverified"), info.value.message
    assert "example.com/x:1" in info.value.message


def test_a_null_error_detail_is_no_error(engine: tuple[str, type[_Engine]], layout: str) -> None:
    """``"errorDetail": null`` is how Go encodes "no error" (a nil pointer): the load succeeded."""
    host, handler = engine
    handler.scripts["load"] = _answer_load(b'{"errorDetail":null,"stream":"Loaded image: example.com/x:1"}\n')
    _copy(layout, "docker-daemon:example.com/x:1", dest_host=host)
    assert handler.uploads and handler.uploads[0][1]


def test_an_error_answered_before_the_upload_ends_is_named(engine: tuple[str, type[_Engine]],
                                                         tmp_path: Path) -> None:
    """Docker answers a load that fails mid-archive at once (200, then the error in the stream) and stops
    reading: the copy must quote the daemon's error, not only "the daemon stopped reading"."""
    from imagefactory import make_image, random_layer

    host, handler = engine
    write_oci({"big": make_image([random_layer(24 << 20, 1)])}, str(tmp_path / "big"))

    def load(h: _Engine) -> None:
        h.read_upload(limit=1 << 20)
        h.answer(200, b'{"errorDetail":{"message":"archive/tar: invalid tar header"},'
                      b'"error":"archive/tar: invalid tar header"}\n')
        h.close_connection = True

    handler.scripts["load"] = load
    with pytest.raises(TrustcopyError) as info:
        _copy(f"oci:{tmp_path / 'big'}:big", "docker-daemon:example.com/x:1", dest_host=host)
    assert info.value.code == "daemon-error", info.value.message
    assert "invalid tar header" in info.value.message and "example.com/x:1" in info.value.message


@pytest.mark.parametrize("route", ["load", "inspect"])
def test_deeply_nested_answers_are_refused_not_a_crash(engine: tuple[str, type[_Engine]], layout: str,
                                                     route: str) -> None:
    host, handler = engine
    deep = b"[" * 100_000 + b"]" * 100_000
    if route == "load":
        handler.scripts["load"] = _answer_load(deep)
    else:
        handler.scripts["inspect"] = lambda h: h.answer(200, deep)
    with pytest.raises(TrustcopyError) as info:
        _copy(layout, "docker-daemon:example.com/x:1", dest_host=host)
    assert info.value.code in ("daemon-load-unverified", "limit-exceeded"), info.value.message
    assert "example.com/x:1" in info.value.message


@pytest.mark.parametrize("route", ["load", "inspect"])
def test_bombs_in_the_answers_after_a_load_are_bounded(engine: tuple[str, type[_Engine]], layout: str,
                                                      route: str) -> None:
    host, handler = engine
    body = gzip.compress(_bomb(b'{"stream":"', 512), 9)
    if route == "load":
        handler.scripts["load"] = _answer_load(body, Content_Encoding="gzip, gzip")
    else:
        handler.scripts["inspect"] = lambda h: h.answer(200, body, Content_Encoding="gzip, gzip")
    with _Memory() as mem, pytest.raises(TrustcopyError) as info:
        _copy(layout, "docker-daemon:example.com/x:1", dest_host=host)
    assert "example.com/x:1" in info.value.message
    assert mem.grown_mib < 128, mem.grown_mib


def test_a_daemon_that_stops_reading_the_upload_times_out_named(engine: tuple[str, type[_Engine]],
                                                              tmp_path: Path) -> None:
    from imagefactory import make_image, random_layer

    host, handler = engine
    write_oci({"big": make_image([random_layer(24 << 20, 2)])}, str(tmp_path / "big"))
    release = threading.Event()

    def load(h: _Engine) -> None:
        h.rfile.readline()  # then nothing: the socket buffers fill and the client blocks
        release.wait(60)

    handler.scripts["load"] = load
    start = time.monotonic()
    try:
        with pytest.raises(TrustcopyError) as info:
            _copy(f"oci:{tmp_path / 'big'}:big", "docker-daemon:example.com/x:1", dest_host=host, timeout=1.0)
    finally:
        release.set()
    assert time.monotonic() - start < 40
    assert info.value.code == "daemon-stream-failed", info.value.message
    assert "example.com/x:1" in info.value.message


def test_a_layer_failing_verification_never_completes_the_upload(engine: tuple[str, type[_Engine]],
                                                                tmp_path: Path) -> None:
    """c/image streams into /images/load while reading; a failed copy must cut the body short (no
    last chunk), so the daemon sees a truncated archive and loads nothing."""
    from imagefactory import make_image, random_layer

    host, handler = engine
    image = make_image([random_layer(3 << 20, 3)])
    write_oci({"x": image}, str(tmp_path / "bad"))
    layer_digest = json.loads(image.manifest)["layers"][0]["digest"]
    blob = tmp_path / "bad" / "blobs" / "sha256" / layer_digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0xFF  # the very end of the layer: everything before it is already uploaded
    blob.write_bytes(bytes(data))
    with pytest.raises(TrustcopyError) as info:
        _copy(f"oci:{tmp_path / 'bad'}:x", "docker-daemon:example.com/x:1", dest_host=host)
    assert info.value.code == "digest-mismatch", info.value.message
    deadline = time.monotonic() + 10
    while not handler.uploads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handler.uploads, "the upload never reached the daemon"
    received, complete = handler.uploads[0]
    assert not complete and received > 0
    assert not [r for r in handler.requests if r[1].split("?")[0].endswith("/json")]


def test_credentials_are_never_sent_to_a_daemon(engine: tuple[str, type[_Engine]], layout: str, tmp_path: Path,
                                              run_cli, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    host, handler = engine
    secret = "s3cr3t-daemon-pw"
    auth = tmp_path / "auth.json"
    import base64

    token = base64.b64encode(f"user:{secret}".encode()).decode()
    auth.write_text(json.dumps({"auths": {"example.com": {"auth": token}, "docker.io": {"auth": token}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-creds", f"user:{secret}",
                "--dest-daemon-host", host, layout, "docker-daemon:example.com/x:1")
    assert r.exit_code == 0, r.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-creds", f"user:{secret}",
                "--src-daemon-host", host, "docker-daemon:example.com/x:1", f"dir:{tmp_path / 'never'}")
    assert r.exit_code == 1  # the engine has nothing to save
    assert len(handler.requests) >= 4
    for _method, _path, headers in handler.requests:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert "authorization" not in lowered and "x-registry-auth" not in lowered
        assert secret not in json.dumps(headers) and token not in json.dumps(headers)
