"""RegistrySession and its blob locations, without a registry."""

from __future__ import annotations

import json

import pytest

from trustcopy.transports.docker import session as session_module
from trustcopy.transports.docker.session import BlobLocations, RegistrySession, session_from
from trustcopy.types import SystemContext

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def test_candidates_are_most_recent_first_and_exclude_the_destination() -> None:
    loc = BlobLocations()
    loc.record("reg", "a", D1)
    loc.record("reg", "b", D1)
    loc.record("other-reg", "c", D1)
    loc.record("reg", "a", D1)  # seen again: first again
    assert loc.candidates("reg", D1, "dest") == ["a", "b"]
    assert loc.candidates("reg", D1, "a") == ["b"]
    assert loc.candidates("reg", D2, "dest") == []


def test_locations_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_LOCATION_DIGESTS", 3)
    monkeypatch.setattr(session_module, "MAX_REPOSITORIES_PER_DIGEST", 2)
    loc = BlobLocations()
    for i in range(5):
        loc.record("reg", f"r{i}", D1)
        loc.record("reg", "x", f"sha256:{i:064d}")
    assert len(loc) == 3
    assert loc.candidates("reg", D1, "") == ["r4", "r3"]
    assert loc.candidates("reg", f"sha256:{0:064d}", "") == []  # the oldest digest was dropped


def test_manifest_blobs_are_recorded_but_not_foreign_layers_nor_junk() -> None:
    loc = BlobLocations()
    manifest = {"config": {"digest": D1}, "layers": [{"digest": D2}, {"digest": "sha256:" + "3" * 64,
                                                                        "urls": ["https://x"]}, "junk", {"digest": 5}]}
    loc.record_manifest_blobs("reg", "app", json.dumps(manifest).encode())
    assert len(loc) == 2
    for body in (b"not json", b"[" * 100_000, b"[]", b'{"layers": "x"}'):
        loc.record_manifest_blobs("reg", "app", body)
    assert len(loc) == 2


def test_a_closed_session_opens_no_pool_and_closing_twice_is_harmless() -> None:
    s = RegistrySession()
    key, ctx = s.tls(None, False)
    pool = s.http_client(key, ctx)
    assert s.http_client(key, ctx) is pool
    s.close()
    s.close()
    assert pool.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        s.http_client(key, ctx)
    assert "closed" in repr(s)


def test_one_pool_per_registry_host_and_tls_setting() -> None:
    """httpcore scans a whole pool per request: each registry of a sync gets its own (session.py)."""
    s = RegistrySession()
    key, ctx = s.tls(None, False)
    src, dest = s.http_client(key, ctx, "src.example:5000"), s.http_client(key, ctx, "dest.example")
    assert src is not dest
    assert s.http_client(key, ctx, "src.example:5000") is src
    verified_key, verified_ctx = s.tls(None, True)
    assert s.http_client(verified_key, verified_ctx, "src.example:5000") is not src
    s.close()
    assert src.is_closed and dest.is_closed


def test_pools_store_no_cookie() -> None:
    s = RegistrySession()
    pool = s.http_client(*s.tls(None, False), "reg.example")
    pool.cookies.set("sticky", "secret-node-7", domain="reg.example")
    assert not pool.cookies and not list(pool.cookies.jar)
    s.close()


def test_session_from_a_system_context() -> None:
    s = RegistrySession()
    assert session_from(SystemContext(registry_session=s)) is s
    assert session_from(SystemContext()) is None
    assert session_from(SystemContext(registry_session="not a session")) is None
    assert session_from(None) is None
    assert "registry_session" not in repr(SystemContext(registry_session=s))


@pytest.mark.parametrize(("streams", "size"), [(None, 512 << 10), (12, 256 << 10), (48, 64 << 10)])
def test_pools_read_the_socket_in_large_pieces(monkeypatch: pytest.MonkeyPatch, streams: int | None,
                                               size: int) -> None:
    """A blob body is read 512 KiB at a time by a copy's 6 streams, less for more (session.py: measured)."""
    import http.server
    import threading

    from httpcore._backends.sync import SyncStream
    from httpcore._sync.http11 import HTTP11Connection

    monkeypatch.setattr(HTTP11Connection, "READ_NUM_BYTES", 64 << 10)  # as httpcore ships it
    body = b"x" * (1 << 20)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    asked: list[int] = []
    real_read = SyncStream.read

    def read(self: SyncStream, max_bytes: int, timeout: float | None = None) -> bytes:
        asked.append(max_bytes)
        return real_read(self, max_bytes, timeout)

    monkeypatch.setattr(SyncStream, "read", read)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    s = RegistrySession()
    if streams is not None:
        s.expect_blob_streams(streams)
    try:
        pool = s.http_client(*s.tls(None, False), f"127.0.0.1:{server.server_port}")
        response = pool.get(f"http://127.0.0.1:{server.server_port}/blob")
        assert response.content == body
    finally:
        s.close()
        server.shutdown()
        server.server_close()
    assert asked and set(asked) == {size}


def test_socket_read_size_shares_a_budget_between_streams() -> None:
    sizes = {n: session_module.socket_read_size(n) for n in (0, 1, 6, 7, 12, 24, 48, 64, 1000)}
    assert sizes == {0: 512 << 10, 1: 512 << 10, 6: 512 << 10, 7: 384 << 10, 12: 256 << 10, 24: 128 << 10,
                     48: 64 << 10, 64: 64 << 10, 1000: 64 << 10}
    assert all(n * size <= session_module.SOCKET_READ_BUDGET for n, size in sizes.items() if 1 <= n <= 48)


def test_a_session_told_of_more_streams_after_its_first_pool_reads_less_at_once() -> None:
    """Its pools read the session's size at each read; httpcore's class attribute is never set.

    (It was: HTTP11Connection.READ_NUM_BYTES, process-wide, also for a library caller's own
    httpx clients and for every other session.)
    """
    from httpcore._sync.http11 import HTTP11Connection

    shipped = HTTP11Connection.READ_NUM_BYTES
    s = RegistrySession()
    try:
        pool = s.http_client(*s.tls(None, False), "127.0.0.1:1")
        transport = pool._transport._inner  # StrayBytesGuard around the HTTPTransport (no proxy set)
        backend = transport._pool._network_backend
        assert s.read_size() == 512 << 10
        s.expect_blob_streams(48)
        assert s.read_size() == 64 << 10
        assert backend.__class__.__name__ == "Backend"
        assert HTTP11Connection.READ_NUM_BYTES == shipped == 64 << 10
    finally:
        s.close()


@pytest.mark.parametrize(("parallel_images", "size"), [(8, 64 << 10), (1, 512 << 10), (2, 256 << 10), (16, 64 << 10)])
def test_sync_sizes_socket_reads_for_all_its_streams(parallel_images: int, size: int) -> None:
    """sync runs parallel_images x max(1, 48 // parallel_images) (at most --max-parallel) blob streams."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.sync.run import SyncOptions, _Run

    s = RegistrySession()
    ctx = SystemContext(registry_session=s)
    options = SyncOptions(source_kind="docker", destination_kind="docker", parallel_images=parallel_images,
                          copy=CopyOptions(source_ctx=ctx, dest_ctx=ctx))
    _Run(object(), options, ctx, ctx)  # type: ignore[arg-type]
    assert s._read_size == size
