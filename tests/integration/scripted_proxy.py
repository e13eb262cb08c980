"""A reverse proxy the test scripts: answer some requests itself, hold a body mid-way.

``ScriptedProxy`` sits in front of a real (plain-HTTP) docker-registry on 127.0.0.1 and
forwards what the script does not answer. It serves plain HTTP and, given TLS material,
HTTPS *on the same port* (it looks at the first byte of each connection), so a redirect
can change only the scheme; it tells the registry the scheme (``X-Forwarded-Proto``), so
the registry's own URLs keep it. It records every request with the scheme it came in on.

Two scripts the tests use:
- ``answer(seen) -> Answer | None``: reply without the registry (a redirect, a blob store);
- ``Hold``: forward a matching response, but stop after ``after`` body bytes until the
  test sets ``release`` (``reached`` says the client is now provably mid-body).

Everything listens on 127.0.0.1 only; ``stop`` releases any hold and shuts the server down.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registry_fixtures import QuietHTTPServer, TLSMaterial, free_port, read_request_body


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it (header names lower-cased)."""

    scheme: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Answer:
    """A reply the proxy sends itself."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Hold:
    """Forward the first response matching ``matches(method, path)``; pause it after ``after`` body bytes."""

    matches: Callable[[str, str], bool]
    after: int
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    used: bool = False


class _Server(QuietHTTPServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Peek at the first byte: 0x16 starts a TLS handshake (HTTPS), anything else is HTTP."""
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":
            if self.ssl_context is None:
                return  # a TLS probe at a plain-HTTP port: close, as a plain server's garbage answer would end it
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            try:
                super().finish_request(request, client_address)
            finally:
                with contextlib.suppress(OSError):
                    request.close()
            return
        super().finish_request(request, client_address)


class ScriptedProxy:
    """See the module docstring.

    Args:
        upstream_port: the plain-HTTP registry to forward to (None: answer everything or 502).
        tls: serve HTTPS too, with this certificate.
        answer: the script (None: forward everything).
        hold: pause one forwarded response mid-body.
    """

    def __init__(self, upstream_port: int | None, *, tls: TLSMaterial | None = None,
                 answer: Callable[[Seen], Answer | None] | None = None, hold: Hold | None = None) -> None:
        self.upstream_port = upstream_port
        self.tls = tls
        self.answer = answer or (lambda seen: None)
        self.hold = hold
        self.port = free_port()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def requests(self, path_contains: str = "") -> list[Seen]:
        """The requests seen so far whose path contains ``path_contains``."""
        with self._lock:
            return [s for s in self.seen if path_contains in s.path]

    def _take_hold(self, method: str, path: str) -> Hold | None:
        with self._lock:
            hold = self.hold
            if hold is None or hold.used or not hold.matches(method, path):
                return None
            hold.used = True
            return hold

    def start(self) -> ScriptedProxy:
        """Serve in daemon threads."""
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, length: str | None = None
                      ) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()

            def _handle(self) -> None:
                body = read_request_body(self)
                scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
                seen = Seen(scheme, self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with proxy._lock:
                    proxy.seen.append(seen)
                answer = proxy.answer(seen)
                if answer is None and proxy.upstream_port is None:
                    answer = Answer(502, body=b"no upstream")
                if answer is not None:
                    self._send(answer.status, list(answer.headers.items()), answer.body)
                    if self.command != "HEAD":
                        self.wfile.write(answer.body)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "x-forwarded-proto"):
                        conn.putheader(k, v)
                # As a TLS-terminating proxy says it: the registry then builds https:// Locations.
                conn.putheader("X-Forwarded-Proto", scheme)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                head_length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self._send(resp.status, resp.getheaders(), data, head_length)
                if self.command == "HEAD":
                    return
                hold = proxy._take_hold(self.command, self.path)
                if hold is not None and hold.after < len(data):
                    self.wfile.write(data[:hold.after])
                    self.wfile.flush()
                    hold.reached.set()
                    hold.release.wait(120)
                    data = data[hold.after:]
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def handle(self) -> None:
                # A client that gives up (killed, or probing for TLS) resets the connection.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError, ssl.SSLError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls.server_cert), str(self.tls.server_key))
            server.ssl_context = context
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        """Release any hold and shut the server down."""
        if self.hold is not None:
            self.hold.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
