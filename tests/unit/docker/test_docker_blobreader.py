"""Blob download resume: Content-Range checks a real registry never gets wrong."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from trustcopy.errors import NetworkError
from trustcopy.transports.docker.auth import Credentials
from trustcopy.transports.docker.blobreader import BlobReader, parse_content_range
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.types import SystemContext

REG = "https://reg.example"
PATH = "/v2/app/blobs/sha256:" + "a" * 64
DATA = bytes(range(256)) * 64  # 16 KiB


class _Dropping(httpx.SyncByteStream):
    """Yields ``data[:cut]`` and then fails like a reset connection."""

    def __init__(self, data: bytes, cut: int) -> None:
        self._data, self._cut = data, cut

    def __iter__(self) -> Iterator[bytes]:
        yield self._data[: self._cut]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


CONTENT_RANGES = [
    ("bytes 0-9/10", (0, 9, 10)),
    ("bytes 5-9/*", (5, 9, -1)),
    (" bytes 1-1/2 ", (1, 1, 2)),
]


@pytest.mark.parametrize(("value", "expected"), CONTENT_RANGES)
def test_content_range_parsing(value: str, expected: tuple[int, int, int]) -> None:
    assert parse_content_range(value) == expected


@pytest.mark.parametrize("value", ["bytes 9-0/10", "bytes 0-10/10", "items 0-1/2", "bytes 0-1/2, bytes 3-4/5",
                                   "bytes -1-2/3", "bytes 0-1/2junk", "bytes 0-1", ""])
def test_invalid_content_ranges(value: str) -> None:
    with pytest.raises(ValueError):
        parse_content_range(value)


def _serve(router: respx.MockRouter, second: httpx.Response) -> respx.Route:
    router.get(f"{REG}/v2/").respond(200)
    calls = {"n": 0}

    def blob(req: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(200, stream=_Dropping(DATA, 5000), headers={"Content-Length": str(len(DATA))})
        return second

    return router.get(f"{REG}{PATH}").mock(side_effect=blob)


def _read_all(router: respx.MockRouter) -> bytes:
    client = RegistryClient(SystemContext(docker_retry_delay=0.0), "reg.example", "app", "pull",
                            credentials=Credentials())
    response = client.send("GET", PATH, what="blob")
    reader = BlobReader(client, PATH, response, "blob", len(DATA))
    out = bytearray()
    while chunk := reader.read(1000):
        out += chunk
    return bytes(out)


def test_resume_with_valid_206() -> None:
    with respx.mock() as router:
        route = _serve(router, httpx.Response(206, content=DATA[5000:],
                                              headers={"Content-Range": f"bytes 5000-{len(DATA) - 1}/{len(DATA)}"}))
        assert _read_all(router) == DATA
        assert route.calls[1].request.headers["Range"] == "bytes=5000-"


def test_resume_when_range_is_ignored_skips_the_prefix() -> None:
    with respx.mock() as router:
        _serve(router, httpx.Response(200, content=DATA))
        assert _read_all(router) == DATA


@pytest.mark.parametrize("content_range", [
    "bytes 0-16383/16384",  # starts at the wrong offset: would duplicate bytes
    "bytes 5000-9999/16384",  # stops early
    "bytes 5000-16383/99999",  # the blob changed size
    "garbage",
])
def test_resume_refuses_a_bad_content_range(content_range: str) -> None:
    with respx.mock() as router:
        _serve(router, httpx.Response(206, content=DATA[5000:], headers={"Content-Range": content_range}))
        with pytest.raises(NetworkError, match="cannot resume"):
            _read_all(router)


def test_resume_refused_by_registry() -> None:
    with respx.mock() as router:
        _serve(router, httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "gone"}]}))
        with pytest.raises(NetworkError, match="resuming failed"):
            _read_all(router)
