"""A blob download that survives a dropped connection by resuming with ``Range``.

The stream is *unverified*: the copy pipeline wraps it in DigestingReader, so whatever
path the bytes took (resumed, skipped, redirected to a blob store), a single wrong byte
fails the blob before anything is named by its digest.

Resume rules (after a read error, a reset, a truncated body or a stall mid-body):
- ``GET`` the blob again through the registry (fresh redirect, fresh auth) with
  ``Range: bytes=N-`` where N is the number of bytes received so far;
- ``206`` must carry ``Content-Range: bytes N-LAST/TOTAL`` starting exactly at N and
  running to the end (an invalid Content-Range is never stitched in);
- ``200`` (the server ignores Range) is accepted by discarding the first N bytes;
- at most ``retry_times`` resumes in a row without 1 MiB of progress between them, so a
  server that keeps failing ends the copy instead of looping; as containers/image
  (bodyReader), a resume a minute or more after the previous one starts a new count (a
  slow link dropping now and then is not a server failing in a loop), unless the body
  stalled: a read timeout always comes a minute after the previous resume, so only 1 MiB
  of progress resets the count after one;
- never after :meth:`BlobReader.close`: the copy closes the stream to end a read blocked in
  its read-ahead thread (a destination that failed, Ctrl-C, ``--command-timeout``); the
  read that fails then is that ending, not a lost connection.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from trustcopy.errors import NetworkError, TrustcopyError
from trustcopy.transports.docker.errors import body_chunks, network_error

if TYPE_CHECKING:
    from trustcopy.transports.docker.client import RegistryClient

log = logging.getLogger("trustcopy.docker")

#: Progress that resets the count of resumes in a row.
RESUME_PROGRESS = 1 << 20
#: Time since the previous resume that resets the count of resumes in a row (containers/image:
#: bodyReaderMSSinceLastRetry).
RESUME_INTERVAL = 60.0
# ASCII digits only (``\d`` would take any Unicode digit); compiled on first use (re's cache).
_CONTENT_RANGE = r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)"
_INT64_MAX = (1 << 63) - 1
_RESUMABLE = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, ConnectionError)


def parse_content_range(value: str) -> tuple[int, int, int]:
    """``bytes FIRST-LAST/TOTAL`` → (first, last, total or -1).

    Raises:
        ValueError: anything else (several values, other units, trailing text).
    """
    m = re.fullmatch(_CONTENT_RANGE, value.strip())
    if m is None:
        raise ValueError(f"invalid Content-Range {value[:80]!r}")
    first, last = int(m.group(1)), int(m.group(2))
    total = -1 if m.group(3) == "*" else int(m.group(3))
    if max(first, last, total) > _INT64_MAX:  # containers/image: strconv.ParseInt(…, 64) fails
        raise ValueError(f"out-of-range Content-Range {value[:80]!r}")
    if last < first or (total != -1 and last >= total):
        raise ValueError(f"inconsistent Content-Range {value[:80]!r}")
    return first, last, total


def declared_length(value: str) -> int:
    """A Content-Length value as Go's net/http takes it (``ParseUint(…, 10, 63)``), or -1.

    ASCII digits only (``str.isdigit`` also takes "٣" and "²", and int() refuses the
    latter), any up to 2**63 - 1: a length of 19 digits is still a size, not "unknown".
    """
    value = value.strip(" \t")
    significant = value.lstrip("0") or "0"
    if not value or not (value.isascii() and value.isdigit()) or len(significant) > 19:
        return -1
    size = int(significant)
    return size if size <= _INT64_MAX else -1


def content_encoded(response: httpx.Response) -> bool:
    """Whether the answer's body is content-encoded: its Content-Length then counts the encoded
    bytes, not the blob's (Go's transport drops that header when it decodes a body itself)."""
    return response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")


class BlobReader:
    """``read(n)`` over a blob response, resuming as the module docstring says.

    Args:
        client: the registry client (auth, retries) to resume through.
        path: the blob's registry path (``/v2/NAME/blobs/DIGEST``).
        response: the open 200 response of the first GET.
        what: names the blob in errors (no secrets).
        size: the expected size, or -1.
        resumable: False to fail on the first dropped connection.
    """

    def __init__(
        self,
        client: RegistryClient,
        path: str,
        response: httpx.Response,
        what: str,
        size: int,
        *,
        resumable: bool = True,
    ) -> None:
        self._client = client
        self._resumable = resumable
        self._path = path
        self._response: httpx.Response | None = response
        self._what = what
        self._size = size
        # A server that compressed the transfer: we decode, but cannot resume by offset.
        self._decoding = content_encoded(response)
        self._iter: Iterator[bytes] = body_chunks(response, what) if self._decoding else response.iter_raw()
        self._buf = b""
        self._pos = 0
        self.received = 0
        self._resumes_in_a_row = 0
        self._last_resume_at = 0
        self._last_resume_time: float | None = None
        self._eof = False
        self._closed = False  # by the caller (close()): a failing read is then no cause to resume

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all remaining when negative); b"" at the end."""
        if size is None or size < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        if self._pos < len(self._buf):
            out = self._buf[self._pos : self._pos + size]
            self._pos += len(out)
            return out
        chunk = self._next_chunk()
        if len(chunk) <= size:
            return chunk
        self._buf, self._pos = chunk, size
        return chunk[:size]

    def _next_chunk(self) -> bytes:
        while not self._eof:
            if self._closed:  # (httpx would raise its StreamClosed, a RuntimeError, for the closed response)
                raise NetworkError(f"{self._what}: the download was stopped after {self.received} bytes")
            try:
                chunk = next(self._iter, b"")
            except _RESUMABLE as exc:
                if self._closed:
                    raise NetworkError(f"{self._what}: the download was stopped after {self.received} bytes") from exc
                self._resume(exc)
                continue
            except (httpx.HTTPError, OSError) as exc:
                raise network_error(exc, self._what, secrets=self._client.auth.secrets()) from exc
            if chunk:
                self.received += len(chunk)
                return chunk
            self._eof = True
            self._release()
        return b""

    def _resume(self, exc: Exception) -> None:
        secrets = self._client.auth.secrets()
        if self._size >= 0 and self.received == self._size:
            log.debug("%s: connection lost after the last byte; finishing", self._what)
            self._eof = True
            self._release()
            return
        now = time.monotonic()
        # A stall ends in the read timeout, never sooner than RESUME_INTERVAL after the previous
        # resume (both 60 s): only progress resets the count after one, or a server that sends a
        # few bytes and stalls would be resumed forever (containers/image has no read timeout).
        stalled = isinstance(exc, httpx.ReadTimeout)
        if self.received - self._last_resume_at >= RESUME_PROGRESS or (
                not stalled and self._last_resume_time is not None
                and now - self._last_resume_time >= RESUME_INTERVAL):
            self._resumes_in_a_row = 0
        if not self._resumable or self._decoding or self._resumes_in_a_row >= self._client.retry_times:
            raise network_error(exc, f"{self._what} (after {self.received} bytes)", secrets=secrets) from exc
        self._resumes_in_a_row += 1
        self._last_resume_at = self.received
        self._last_resume_time = now
        self._release()
        log.warning("%s: connection lost after %d bytes (%s); resuming", self._what, self.received,
                    type(exc).__name__)
        time.sleep(min(self._client.retry_delay, 5.0))
        if self._closed:  # stopped during the pause: no new request
            raise NetworkError(f"{self._what}: the download was stopped after {self.received} bytes") from exc
        try:
            response = self._client.send(
                "GET", self._path, what=self._what,
                headers={"Range": f"bytes={self.received}-", "Accept-Encoding": "identity"},
            )
        except TrustcopyError as failed:
            raise NetworkError(f"{self._what}: connection lost after {self.received} bytes and resuming failed: "
                               f"{failed.message}", code=failed.code) from exc
        self._response = response
        if self._closed:  # stopped while the request was under way (close() found no response to release)
            self._release()
            raise NetworkError(f"{self._what}: the download was stopped after {self.received} bytes") from exc
        if response.status_code == 206:
            self._accept_partial(response, exc)
        elif response.status_code == 200:
            self._skip_prefix(response, exc)
        else:
            err = self._client.error_for(response, self._what)
            raise NetworkError(f"{self._what}: connection lost after {self.received} bytes and resuming failed: "
                               f"{err.message}", code=err.code) from exc

    def _accept_partial(self, response: httpx.Response, cause: Exception) -> None:
        values = response.headers.get_list("content-range")
        try:
            if len(values) != 1:
                raise ValueError(f"{len(values)} Content-Range headers")
            first, last, total = parse_content_range(values[0])
            if first != self.received or (total != -1 and last + 1 != total):
                raise ValueError(f"range {first}-{last}/{total} does not continue at {self.received}")
            if self._size >= 0 and total not in (-1, self._size):
                raise ValueError(f"the blob now has {total} bytes instead of {self._size}")
            if content_encoded(response):
                raise ValueError("the resumed response is content-encoded")
        except ValueError as err:
            self._release()
            raise NetworkError(f"{self._what}: cannot resume after {self.received} bytes: {err}") from cause
        self._iter = response.iter_raw()
        log.debug("%s: resumed at byte %d", self._what, self.received)

    def _skip_prefix(self, response: httpx.Response, cause: Exception) -> None:
        """The server ignored Range: read past what we already have."""
        self._decoding = content_encoded(response)
        self._iter = body_chunks(response, self._what) if self._decoding else response.iter_raw()
        remaining = self.received
        while remaining > 0:
            try:
                chunk = next(self._iter, b"")
            except (httpx.HTTPError, OSError) as exc:
                raise network_error(exc, self._what, secrets=self._client.auth.secrets()) from exc
            if not chunk:
                self._release()
                raise NetworkError(f"{self._what}: the blob became shorter while resuming") from cause
            if len(chunk) > remaining:
                self._iter = _prepend(chunk[remaining:], self._iter)
                break
            remaining -= len(chunk)
        log.debug("%s: server ignored Range; skipped %d bytes", self._what, self.received)

    def close(self) -> None:
        """Stop the download for good: release the connection, and resume no more."""
        self._closed = True
        self._release()

    def _release(self) -> None:
        """Release the current connection (a resume may open another)."""
        if self._response is not None:
            self._response.close()
            self._response = None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
