"""http(s):// lookaside stores served by a loopback static server this test starts.

The store is written by our file:// writer and served as plain files; faults (403/500,
HTML error pages, endless or trickling bodies, redirects, TLS) are injected per file name.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from registry_fixtures import free_port, make_tls_material, serve_in_thread, stop_server

from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, NetworkError, TransportError
from trustcopy.signature.formats import SimpleSigning, UnknownSignature
from trustcopy.stores.lookaside import (
    MAX_LOOKASIDE_SIGNATURES,
    HTTPOptions,
    LookasideLocation,
    read_signatures,
    write_signatures,
)

DIGEST = Digest.parse("sha256:" + "ab" * 32)
SIGDIR = f"ns/app@sha256={'ab' * 32}"


def sig(n: int) -> SimpleSigning:
    return SimpleSigning(bytes([0xA3]) + f"signature {n}".encode())


@dataclass
class Fault:
    status: int | None = None
    content_type: str | None = None
    endless: bool = False
    trickle: float | None = None
    content_length: int | None = None
    redirect: str | None = None


@dataclass
class StaticServer:
    """Serves ``root`` over HTTP(S) on 127.0.0.1, with per-file-name faults."""

    root: Path
    tls: ssl.SSLContext | None = None
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _server: Any = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> StaticServer:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                outer.requests.append(path)
                fault = outer.faults.get(path.rsplit("/", 1)[-1]) or outer.faults.get(path)
                if fault is not None and fault.redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", fault.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault is not None and fault.status is not None:
                    body = b"<html>denied</html>"
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                file = outer.root / path.lstrip("/")
                if fault is not None and (fault.endless or fault.trickle):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\xa3" * (1 << 16) if fault.endless else b"\xa3"
                    with contextlib.suppress(OSError):
                        while True:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                            if fault.trickle:
                                time.sleep(fault.trickle)
                    return
                if not file.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", (fault.content_type if fault and fault.content_type
                                                  else "application/octet-stream"))
                length = fault.content_length if fault and fault.content_length else len(data)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def handle(self) -> None:
                with contextlib.suppress(ConnectionResetError, BrokenPipeError, ssl.SSLError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve_in_thread(self.port, Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        return self

    def stop(self) -> None:
        stop_server(self._server)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[StaticServer, LookasideLocation]]:
    root = tmp_path / "www"
    root.mkdir()
    server = StaticServer(root).start()
    try:
        yield server, LookasideLocation(f"{server.url}/sigs", "ns/app", "lookaside of default-docker in test.yaml")
    finally:
        server.stop()


def publish(server: StaticServer, *sigs: SimpleSigning) -> None:
    write_signatures(LookasideLocation(f"file://{server.root}/sigs", "ns/app"), DIGEST, list(sigs))


def test_reads_what_the_file_writer_published(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    publish(server, sig(1), sig(2))
    got = read_signatures(remote, DIGEST)
    assert got == [sig(1), sig(2)]
    assert got[0].location == f"{server.url}/sigs/{SIGDIR}/signature-1"
    assert server.requests == [f"/sigs/{SIGDIR}/signature-{n}" for n in (1, 2, 3)]  # 404 on 3 ends the list


def test_proxy_variables_do_not_apply_to_a_lookaside_on_this_machine(
        served: tuple[StaticServer, LookasideLocation], monkeypatch: pytest.MonkeyPatch) -> None:
    """As Go does for localhost and loopback (trustcopy.proxies); the proxy here is a closed port."""
    server, remote = served
    publish(server, sig(1))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert read_signatures(remote, DIGEST) == [sig(1)]


def test_no_signatures_is_one_404(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    assert read_signatures(remote, DIGEST) == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [403, 500, 401, 502, 410])
def test_any_status_but_200_and_404_fails_naming_url_and_index(
        served: tuple[StaticServer, LookasideLocation], status: int) -> None:
    server, remote = served
    publish(server, sig(1), sig(2))
    server.faults["signature-2"] = Fault(status=status)
    with pytest.raises(TransportError) as exc:
        read_signatures(remote, DIGEST)
    assert exc.value.code == "lookaside-http"
    assert f"signature-2 from {server.url}/sigs/{SIGDIR}/signature-2: status {status}" in exc.value.message
    assert exc.value.context["status"] == status and exc.value.context["index"] == 2


def test_html_answer_is_warned_about_naming_the_url(served: tuple[StaticServer, LookasideLocation],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    server, remote = served
    publish(server, sig(1))
    server.faults["signature-1"] = Fault(content_type="text/html; charset=utf-8")
    with caplog.at_level(logging.WARNING, logger="trustcopy.stores"):
        got = read_signatures(remote, DIGEST)
    assert got == [sig(1)]
    assert f"{server.url}/sigs/{SIGDIR}/signature-1" in caplog.text and "text/html" in caplog.text


def test_html_error_page_served_as_200_is_an_unknown_signature(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    (server.root / "sigs" / SIGDIR).mkdir(parents=True)
    (server.root / "sigs" / SIGDIR / "signature-1").write_bytes(b"<!doctype html><p>Sign in</p>")
    server.faults["signature-1"] = Fault(content_type="text/html")
    [got] = read_signatures(remote, DIGEST)
    assert isinstance(got, UnknownSignature)


def test_endless_body_is_cut_at_the_size_cap(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    server.faults["signature-1"] = Fault(endless=True)
    start = time.monotonic()
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(remote, DIGEST)
    assert time.monotonic() - start < 30
    assert "signature-1" in exc.value.message and "larger than" in exc.value.message


def test_trickling_body_is_cut_at_the_deadline(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    server.faults["signature-1"] = Fault(trickle=0.05)
    start = time.monotonic()
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(remote, DIGEST, http=HTTPOptions(deadline=1.0, timeout=5.0))
    assert time.monotonic() - start < 10
    assert exc.value.code == "lookaside-body-deadline" and "signature-1" in exc.value.message


def test_declared_oversize_is_refused_before_reading(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    publish(server, sig(1))
    server.faults["signature-1"] = Fault(content_length=(4 << 20) + 1)
    with pytest.raises(LimitExceededError, match="larger than the 4194304 bytes"):
        read_signatures(remote, DIGEST)


def test_more_than_128_signatures_over_http_fail(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    publish(server, *[sig(n) for n in range(1, MAX_LOOKASIDE_SIGNATURES + 2)])
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(remote, DIGEST)
    assert exc.value.code == "lookaside-too-many-signatures"


def test_redirects_are_followed_within_http(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    publish(server, sig(1))
    moved = server.root / "moved"
    moved.mkdir()
    (server.root / "sigs" / SIGDIR / "signature-1").rename(moved / "s1")
    server.faults["signature-1"] = Fault(redirect="/moved/s1")
    assert read_signatures(remote, DIGEST) == [sig(1)]


def test_redirect_loop_fails(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    server.faults["signature-1"] = Fault(redirect=f"/sigs/{SIGDIR}/signature-1")
    with pytest.raises(TransportError) as exc:
        read_signatures(remote, DIGEST, http=HTTPOptions(max_redirects=3))
    assert exc.value.code == "too-many-redirects"


def test_connection_refused_is_a_network_error_naming_the_url() -> None:
    remote = LookasideLocation(f"http://127.0.0.1:{free_port()}/sigs", "ns/app")
    with pytest.raises(NetworkError) as exc:
        read_signatures(remote, DIGEST)
    assert "signature-1" in exc.value.message and "127.0.0.1" in exc.value.message


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        remote = LookasideLocation(f"http://127.0.0.1:{listener.getsockname()[1]}/sigs", "ns/app")
        with pytest.raises(NetworkError) as exc:
            read_signatures(remote, DIGEST, http=HTTPOptions(timeout=0.5))
        assert exc.value.code == "network-timeout"
    finally:
        listener.close()


def test_a_callers_client_is_used_and_left_open(served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote = served
    publish(server, sig(1))
    with httpx.Client() as client:
        assert read_signatures(remote, DIGEST, client=client) == [sig(1)]
        assert not client.is_closed


# -- https -------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_served(tmp_path: Path) -> Iterator[tuple[StaticServer, LookasideLocation, Path]]:
    material = make_tls_material(tmp_path / "tls")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(material.server_cert, material.server_key)
    root = tmp_path / "www-tls"
    root.mkdir()
    server = StaticServer(root, tls=ctx).start()
    try:
        yield server, LookasideLocation(f"{server.url}/sigs", "ns/app"), material.ca_cert
    finally:
        server.stop()


def test_https_with_the_callers_ca(tls_served: tuple[StaticServer, LookasideLocation, Path]) -> None:
    server, remote, ca = tls_served
    publish(server, sig(1))
    assert read_signatures(remote, DIGEST, http=HTTPOptions(ca_file=str(ca))) == [sig(1)]
    ctx = ssl.create_default_context(cafile=str(ca))
    assert read_signatures(remote, DIGEST, http=HTTPOptions(ssl_context=ctx)) == [sig(1)]
    assert read_signatures(remote, DIGEST, http=HTTPOptions(verify=False)) == [sig(1)]


def test_https_with_an_unknown_ca_fails_never_means_no_signatures(
        tls_served: tuple[StaticServer, LookasideLocation, Path]) -> None:
    server, remote, _ = tls_served
    publish(server, sig(1))
    with pytest.raises(NetworkError) as exc:
        read_signatures(remote, DIGEST)
    assert exc.value.code == "tls-verification"
    assert f"signature-1 from {server.url}/sigs/{SIGDIR}/signature-1" in exc.value.message


def test_redirect_from_https_to_http_is_refused(tls_served: tuple[StaticServer, LookasideLocation, Path],
                                                served: tuple[StaticServer, LookasideLocation]) -> None:
    server, remote, ca = tls_served
    plain, _ = served
    publish(plain, sig(1))
    server.faults["signature-1"] = Fault(redirect=f"{plain.url}/sigs/{SIGDIR}/signature-1")
    with pytest.raises(TransportError) as exc:
        read_signatures(remote, DIGEST, http=HTTPOptions(ca_file=str(ca)))
    assert exc.value.code == "insecure-redirect"
    # also with a caller's client that would follow redirects itself
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), follow_redirects=True) as client, \
            pytest.raises(TransportError, match="refusing a redirect from HTTPS"):
        read_signatures(remote, DIGEST, client=client)
    assert plain.requests == []
