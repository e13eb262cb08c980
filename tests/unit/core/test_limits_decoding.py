"""limits.decode_content: HTTP Content-Encoding undone in bounded steps (decompression bombs)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import pytest

from trustcopy import limits
from trustcopy.errors import LimitExceededError, TransportError

DATA = b"".join(b"line %d of a manifest-sized body\n" % i for i in range(5000))


def _compress(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


def _gzip(data: bytes) -> bytes:
    return _compress(data, 31)


def _pieces(data: bytes, size: int = 1000) -> Iterable[bytes]:
    """The body as a network delivers it: in arbitrary pieces."""
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(("encoding", "body"), [
    (["gzip"], _gzip(DATA)),
    (["x-gzip"], _gzip(DATA)),
    (["deflate"], _compress(DATA, 15)),  # zlib-wrapped, as the RFC says
    (["deflate"], _compress(DATA, -15)),  # raw deflate, as some servers send it
    (["gzip", "gzip"], _gzip(_gzip(DATA))),
    (["deflate", "gzip"], _gzip(_compress(DATA, 15))),
    (["identity"], DATA),
    (["br"], DATA),  # unknown encodings are left alone (as httpx), the bytes are checked as they came
    ([], DATA),
], ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "gzip-gzip", "deflate-gzip", "identity", "unknown", "none"])
def test_encodings_are_undone_in_order(encoding: list[str], body: bytes) -> None:
    assert b"".join(limits.decode_content(_pieces(body), encoding, "test body")) == DATA


def test_every_step_is_bounded_so_a_bomb_stops_at_the_callers_cap() -> None:
    inner = _gzip(bytes(64 << 20))  # 64 MiB of zeros in about 64 KiB
    bomb = _gzip(inner)  # and that in a few hundred bytes
    produced = 0
    for chunk in limits.decode_content([bomb], ["gzip", "gzip"], "bomb"):
        assert len(chunk) <= limits.MAX_DECODE_STEP
        produced += len(chunk)
        if produced > 4 * limits.MiB:
            break
    with pytest.raises(LimitExceededError, match="bomb"):
        limits.read_iter_at_most(limits.decode_content([bomb], ["gzip", "gzip"], "bomb"), 4 * limits.MiB, "bomb")


def test_corrupt_gzip_is_a_content_decoding_error_naming_the_body() -> None:
    body = bytearray(_gzip(DATA))
    body[40:60] = bytes(20)
    with pytest.raises(TransportError, match="manifest 1 in reg/app: the body is not valid gzip") as info:
        b"".join(limits.decode_content(_pieces(bytes(body)), ["gzip"], "manifest 1 in reg/app"))
    assert info.value.code == "content-decoding"


def test_plain_bytes_labelled_gzip_are_refused() -> None:
    with pytest.raises(TransportError) as info:
        b"".join(limits.decode_content([b'{"schemaVersion": 2}'], ["gzip"], "manifest"))
    assert info.value.code == "content-decoding"


def test_more_encodings_than_any_server_applies_are_refused() -> None:
    with pytest.raises(LimitExceededError, match="more than 2 content encodings"):
        limits.decode_content([b""], ["gzip", "gzip", "gzip"], "body")
