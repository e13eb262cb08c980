"""A kept-alive connection that received bytes nobody asked for is closed, not reused.

Why: a registry or a proxy that sends more than the ``Content-Length`` it announced (or a
second answer nobody asked for) leaves those bytes in h11's receive buffer, and httpcore
then reads them as the answer to the *next* request sent on that connection: a blob GET
was answered by the stray bytes of a manifest response, the copy failed with a size
mismatch, and every later request on the connection was out of step. Go's transport drops
such a connection ("Unsolicited response received on idle HTTP channel"), so skopeo's next
request goes out on a fresh one. httpcore already drops an idle connection whose socket is
readable when it is next taken from the pool (bytes arriving after the answer); this module
covers the bytes that arrived together with the answer and sit in h11's buffer.

How: the answer's stream is wrapped; when it is closed after the whole answer was read, and
h11 holds bytes past its end, h11 is told the connection failed (``send_failed``, public h11
API), and httpcore closes the connection instead of returning it to the pool. Reaching the
h11 state walks httpcore's private attributes: where they are missing (HTTP/2, another
httpcore) nothing is done, and tests/unit/core/test_keepalive.py fails if the walk no
longer finds them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import h11
import httpx

from trustcopy.redact import redact_url

log = logging.getLogger("trustcopy.docker")


class StrayBytesGuard(httpx.BaseTransport):
    """Wraps a transport (a connection pool) so that no answer's extra bytes reach the next request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The inner transport's answer, its stream checked for stray bytes when closed."""
        response = self._inner.handle_request(request)
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _GuardedStream(response.stream, request)
        return response

    def close(self) -> None:
        """Close the inner transport (its connections)."""
        self._inner.close()


class _GuardedStream(httpx.SyncByteStream):
    """An answer's body; on close, a connection holding bytes past the answer is given up."""

    def __init__(self, inner: httpx.SyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        """Close the body; first mark its connection failed if bytes follow the answer."""
        state = h11_state(self._inner)
        if state is not None and state.their_state is h11.DONE and state.trailing_data[0]:
            log.debug("%s %s: the answer was followed by %d bytes nobody asked for; not reusing the connection",
                      self._request.method, redact_url(str(self._request.url)),
                      len(state.trailing_data[0]))
            state.send_failed()
        self._inner.close()


def h11_state(stream: object) -> h11.Connection | None:
    """The h11 state of the HTTP/1.1 connection an httpx answer stream reads from (None if not found).

    httpx's ResponseStream → httpcore's PoolByteStream → HTTP11ConnectionByteStream → its
    HTTP11Connection, whose ``_h11_state`` is the h11 connection.
    """
    pool_stream = getattr(stream, "_httpcore_stream", None)
    connection_stream = getattr(pool_stream, "_stream", None)
    connection = getattr(connection_stream, "_connection", None)
    state = getattr(connection, "_h11_state", None)
    return state if isinstance(state, h11.Connection) else None
