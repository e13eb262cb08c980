"""trustcopy.keepalive: bytes past an answer never become the answer to the next request.

A raw loopback server answers the first request on each connection with "ok" followed by a
second, unasked answer ("EVIL"), and any later request on that connection with "same".
Through StrayBytesGuard every request after such an answer must go out on a new connection
(and get "ok"); the registry session's pools and the lookaside store's client are built on it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from trustcopy.keepalive import StrayBytesGuard, h11_state


def _answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    """``(base URL, connections accepted)``; the first answer on a connection carries stray bytes."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            first = True
            while _read_request(conn):
                if first:
                    conn.sendall(_answer(b"ok") + _answer(b"EVIL"))
                    first = False
                else:
                    conn.sendall(_answer(b"same"))

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_the_next_request_goes_out_on_a_new_connection(server: tuple[str, list[int]]) -> None:
    url, accepted = server
    with httpx.Client(transport=StrayBytesGuard(httpx.HTTPTransport())) as client:
        assert client.get(f"{url}/a").content == b"ok"
        second = client.get(f"{url}/b")
        third = client.get(f"{url}/c")
    assert second.content == b"ok"  # the first answer of a new connection, not "EVIL"
    assert third.content == b"ok"
    assert len(accepted) == 3


def test_a_clean_connection_is_reused() -> None:
    """No stray bytes: the guard changes nothing (one connection for many requests)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(1)
        with conn:
            while _read_request(conn):
                conn.sendall(_answer(b"fine"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with httpx.Client(transport=StrayBytesGuard(httpx.HTTPTransport())) as client:
            for _ in range(3):
                with client.stream("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/") as resp:
                    assert h11_state(resp.stream._stream._inner) is not None  # type: ignore[attr-defined]
                    assert resp.read() == b"fine"
        assert len(accepted) == 1
    finally:
        listener.close()
        thread.join(timeout=5)
