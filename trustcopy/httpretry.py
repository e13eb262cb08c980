"""Whether a failed HTTP request is worth sending again, and when: one answer for every HTTP reader.

The registry client and the lookaside store reader (a signature store is read with the
registry's settings) must agree on what is transient: a dropped or refused connection, a
timeout, a body cut short, 408/429/5xx; and on what is not: a TLS failure or an answer
that breaks HTTP itself fails the same way every time. ``Retry-After`` is untrusted
server text, parsed here once (a superscript digit or a 20-digit year once crashed it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

#: Statuses worth retrying: the server (or a proxy in front of it) is overloaded or restarting.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: The longest wait before a retry, whatever the backoff or ``Retry-After`` asks for.
MAX_RETRY_DELAY = 60.0


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (loops and very long chains cut)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and all(cur is not e for e in out) and len(out) < 20:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def is_tls_verification(exc: BaseException) -> bool:
    """The server's certificate was refused."""
    import ssl  # here: a command that reads only file: stores never loads TLS (start-up, issue 14)

    return any(isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e)
               for e in exception_chain(exc))


def is_tls_failure(exc: BaseException) -> bool:
    """Any TLS handshake/protocol failure (not worth retrying: it will fail the same way)."""
    import ssl

    return any(isinstance(e, ssl.SSLError) or "[SSL:" in str(e) for e in exception_chain(exc))


def is_malformed_http(exc: BaseException) -> bool:
    """The server's answer broke HTTP/1.1 itself (h11 refused it): garbage in a header,
    a header block over httpcore's size cap. Sending the request again gets the same answer.

    A connection closed early is also an httpx ``RemoteProtocolError`` and stays retryable:
    httpcore raises it itself before any answer, and h11 raises it (with "closed
    connection" in its text, the only mark h11 gives) for a body cut short.
    """
    return any(type(e).__module__.split(".")[0] == "h11" and type(e).__name__ == "RemoteProtocolError"
               and "closed connection" not in str(e) for e in exception_chain(exc))


def is_retryable_exception(exc: BaseException) -> bool:
    """Whether a failed request may succeed when simply sent again."""
    import httpx

    if is_tls_failure(exc) or is_malformed_http(exc):
        return False
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.DecodingError | httpx.TooManyRedirects):
        return False
    return isinstance(exc, httpx.TransportError | OSError)


def retry_after(response: httpx.Response, fallback: float) -> float:
    """Seconds a ``Retry-After`` header asks for (number or HTTP date), else ``fallback``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return fallback
    if value.isascii() and value.isdigit():  # (str.isdigit alone takes "²", which int() refuses)
        return float(int(value[:6]))
    import email.utils  # only for an HTTP-date Retry-After: email is costly to import

    try:  # (a year of 20 digits overflows a C long in the parser)
        delta = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError, OSError, IndexError):
        return fallback
    return delta if delta > 0 else fallback
