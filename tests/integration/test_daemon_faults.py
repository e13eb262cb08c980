"""A daemon that fails: trustcopy never reports a copy done unless the engine has the image.

Faults a real engine cannot be made to produce on demand come from a small fake engine on a
unix socket (MockTransport would bypass the streaming code): it answers errors, closes the
connection in the middle of the upload or of ``docker save``, claims success without
loading, or loads another image.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagefactory import example_image, write_oci
from registry_fixtures import QuietHangups

CONFIG = json.loads(example_image().manifest)["config"]["digest"]


def _read_chunked(rfile: object, limit: int | None = None) -> int:
    """Consume a chunked request body (up to ``limit`` bytes); return how much was read."""
    total = 0
    while True:
        size = int(rfile.readline().strip() or b"0", 16)  # type: ignore[attr-defined]
        if size == 0:
            rfile.readline()  # type: ignore[attr-defined]
            return total
        rfile.read(size)  # type: ignore[attr-defined]
        rfile.readline()  # type: ignore[attr-defined]
        total += size
        if limit is not None and total >= limit:
            return total


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = ""

    def log_message(self, *args: object) -> None:
        return

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        mode = type(self).mode
        if mode == "close-early":
            _read_chunked(self.rfile, limit=1000)
            self.connection.close()
            return
        _read_chunked(self.rfile)
        if mode == "load-error":
            self._answer(500, b'{"message":"no space left on device"}')
        elif mode == "error-in-stream":
            self._answer(200, b'{"errorDetail":{"message":"layer broken"},"error":"layer broken"}\n')
        else:
            self._answer(200, b'{"stream":"Loaded image: example.com/x:1"}\n')

    def do_GET(self) -> None:
        mode = type(self).mode
        if self.path.endswith("/json"):
            if mode == "not-loaded":
                self._answer(404, b'{"message":"no such image"}')
            else:
                self._answer(200, json.dumps({"Id": "sha256:" + "0" * 64}).encode())
        elif mode == "save-error":
            self._answer(500, b'{"message":"export failed"}')
        elif mode == "save-truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.end_headers()
            self.wfile.write(b"\0" * 100 + b"x" * 400)  # not even one whole header
            self.connection.close()
        else:
            self._answer(404, b'{"message":"no such image: x"}')


class _Server(QuietHangups, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"mode": ""})
    sock = tmp_path / "fake.sock"
    server = _Server(str(sock), handler)

    class _Addr(handler):  # type: ignore[valid-type, misc]
        def address_string(self) -> str:
            return "fake"

    server.RequestHandlerClass = _Addr
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("mode", "code"), [
    ("load-error", "daemon-error"),
    ("close-early", "daemon-stream-failed"),
    ("error-in-stream", "daemon-error"),
    ("not-loaded", "daemon-load-unverified"),
    ("wrong-image", "daemon-load-unverified"),
])
def test_a_load_that_did_not_happen_is_never_reported_done(run_cli, fake_daemon: tuple[str, type[_Handler]],  # type: ignore[no-untyped-def]
                                                          tmp_path: Path, insecure_policy: Path, mode: str,
                                                          code: str) -> None:
    host, handler = fake_daemon
    handler.mode = mode
    write_oci({"x": example_image()}, str(tmp_path / "layout"))
    r = run_cli("--policy", str(insecure_policy), "copy", "--dest-daemon-host", host, f"oci:{tmp_path}/layout:x",
                "docker-daemon:example.com/x:1")
    assert r.exit_code == 1
    assert f"error[{code}]" in r.stderr, r.stderr
    assert "Writing manifest" in r.stdout or mode == "close-early"


@pytest.mark.parametrize(("mode", "code"), [("save-error", "daemon-error"), ("save-truncated", "archive-truncated"),
                                            ("", "image-not-found")])
def test_a_failed_save_fails_cleanly(run_cli, fake_daemon: tuple[str, type[_Handler]], tmp_path: Path,  # type: ignore[no-untyped-def]
                                     insecure_policy: Path, mode: str, code: str) -> None:
    host, handler = fake_daemon
    handler.mode = mode
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-daemon-host", host, "docker-daemon:example.com/x:1",
                f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 1
    assert f"error[{code}]" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_an_unreachable_daemon_is_named(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-daemon-host", f"unix://{tmp_path}/none.sock",
                "docker-daemon:example.com/x:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 1
    assert "error[daemon-unreachable]" in r.stderr and "none.sock" in r.stderr
