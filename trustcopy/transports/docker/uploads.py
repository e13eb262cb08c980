"""Blob uploads to a registry: monolithic (small, retryable) and chunked (streamed).

Invariants:
- A small blob is held in memory and sent as ``POST`` + ``PUT ?digest=`` with the bytes;
  a transient failure repeats the pair (a failed ``PUT`` may have spent the session).
- A large (or unknown-size) blob streams through one ``PATCH`` (or several of
  ``chunk_size`` when that is set) with a bounded read-ahead; the stream is never replayed, so a failed ``PATCH`` fails
  the blob. The final ``PUT ?digest=`` is sent only after the source reached EOF and
  its DigestingReader accepted the bytes.
- Upload locations must not downgrade HTTPS to HTTP while TLS is verified.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, NetworkError, RegistryHTTPError, TrustcopyError
from trustcopy.httpretry import MAX_RETRY_DELAY
from trustcopy.redact import redact_url, register_url_secrets
from trustcopy.transports.docker.client import RegistryClient

log = logging.getLogger("trustcopy.docker")

T = TypeVar("T")

_READ_AHEAD_SIZE = 256 << 10
_NO_LIMIT = 1 << 62


class Uploader:
    """Uploads blobs into the client's repository.

    Args:
        client: the destination's registry client (scope ``pull,push``).
        chunk_size: bytes per ``PATCH``; None for the whole blob in one.
    """

    def __init__(self, client: RegistryClient, chunk_size: int | None) -> None:
        self._client = client
        self.chunk_size = chunk_size

    def cancel(self, location: httpx.URL) -> None:
        """Best-effort ``DELETE`` of an upload session we will not use."""
        try:
            self._client.send("DELETE", location, what="cancelling an upload", retry=False).close()
        except TrustcopyError as exc:
            log.debug("cancelling upload %s failed: %s", redact_url(str(location)), exc)

    def start(self, what: str, *, retry: bool = True) -> httpx.URL:
        """``POST …/blobs/uploads/``: a new session's location."""
        response = self._client.send("POST", f"/v2/{self._client.path}/blobs/uploads/", what=what, retry=retry)
        self._client.check(response, what, ok=(202,))
        response.close()
        return self.location(response, what)

    def location(self, response: httpx.Response, what: str) -> httpx.URL:
        """The next upload URL; never a downgrade from HTTPS while TLS is verified."""
        location = response.headers.get("location")
        if not location:
            raise RegistryHTTPError(f"{what}: the registry sent no upload location", status=response.status_code)
        try:
            target = response.request.url.join(location)
        except httpx.InvalidURL as exc:
            raise RegistryHTTPError(f"{what}: invalid upload location", status=response.status_code) from exc
        if target.scheme not in ("https", "http") or (
                self._client.verify and response.request.url.scheme == "https" and target.scheme != "https"):
            raise RegistryHTTPError(f"{what}: refusing the upload location {redact_url(str(target))}",
                                    status=response.status_code, code="insecure-redirect")
        if target.query or target.userinfo:  # a session token or user:pass@: masked wherever echoed
            register_url_secrets(str(target))
        return target

    def monolithic(self, data: bytes, digest: Digest, what: str) -> None:
        """POST + ``PUT ?digest=`` with the bytes; the pair is retried as a whole."""
        self._retrying(what, lambda: self._monolithic_once(data, digest, what))

    def _monolithic_once(self, data: bytes, digest: Digest, what: str) -> None:
        location = self.start(what, retry=False).copy_set_param("digest", str(digest))
        response = self._client.send("PUT", location, what=what, content=data, retry=False,
                                     headers={"Content-Type": "application/octet-stream"})
        self._client.check(response, what, ok=(201,))
        response.close()

    def streaming(self, reader: DigestingReader, size: int, final_digest: Callable[[], Digest], what: str) -> int:
        """POST, PATCH chunks from ``reader``, then PUT with ``final_digest()`` (called after EOF)."""
        location = self.start(what)
        ahead = _ReadAhead(reader)
        try:
            return self._send_chunks(ahead, location, size, final_digest, what)
        finally:
            ahead.close()

    def _send_chunks(self, ahead: _ReadAhead, location: httpx.URL, size: int, final_digest: Callable[[], Digest],
                     what: str) -> int:
        source = _Source(ahead)
        offset = 0
        while not source.eof:
            limit = self.chunk_size or _NO_LIMIT
            want = limit if size < 0 else min(limit, size - offset)
            if want <= 0 or not source.peek():
                break
            headers = {"Content-Type": "application/octet-stream"}
            if size >= 0:
                headers["Content-Length"] = str(want)
                headers["Content-Range"] = f"{offset}-{offset + want - 1}"
            response = self._client.send("PATCH", location, what=what, content=source.chunk(want), headers=headers,
                                         retry=False)
            self._client.check(response, what, ok=(202, 204))
            response.close()
            location = self.location(response, what)
            offset += source.last_sent
            if size >= 0 and source.last_sent != want:
                raise DigestMismatchError(f"{what}: the source ended after {offset} of {size} bytes",
                                          code="size-mismatch")
        if source.peek():  # must be EOF now (the DigestingReader verified when it reached it)
            raise DigestMismatchError(f"{what}: more than the expected {size} bytes", code="size-mismatch")
        digest = final_digest()
        target = location.copy_set_param("digest", str(digest))
        try:
            response = self._client.send("PUT", target, what=what, headers={"Content-Type": "application/octet-stream"})
            self._client.check(response, what, ok=(201,))
            response.close()
        except (NetworkError, RegistryHTTPError, ImageNotFoundError):
            # The PUT may have succeeded with its answer lost (a retry then finds no
            # session): the bytes were all sent, so ask whether the blob is there now.
            if not self._exists(digest):
                raise
            log.debug("%s: the final PUT failed but the blob is in the repository", what)
        return offset

    def _exists(self, digest: Digest) -> bool:
        try:
            response = self._client.send("HEAD", f"/v2/{self._client.path}/blobs/{digest}", what="checking a blob")
        except TrustcopyError:
            return False
        response.close()
        return response.status_code == 200

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a replayable upload step), retrying transient failures with backoff."""
        delay = self._client.retry_delay
        for attempt in range(self._client.retry_times + 1):
            try:
                return fn()
            except (NetworkError, RegistryHTTPError) as exc:
                if not exc.transient or attempt >= self._client.retry_times:
                    raise
                # A 429/503's Retry-After is honoured here as the client honours it per request.
                asked = exc.context.get("retry_after")
                wait = min(asked, MAX_RETRY_DELAY) if isinstance(asked, float) and asked > 0 else delay
                wait = self._client.until_deadline(wait)
                log.warning("%s failed (%s); retrying in %.1fs", what, exc.message, wait)
                time.sleep(wait)
                delay = self._client.next_delay(delay)
        raise AssertionError("unreachable")


class _ReadAhead:
    """Reads (and so hashes) the next pieces in a thread while the current one is sent.

    Reading a local blob and hashing it cost about as much CPU time as sending it; both
    release the GIL, so overlapping them makes a single large upload ~15% faster. At
    most ``depth`` pieces of _READ_AHEAD_SIZE wait in the queue (bounded memory). An
    exception in the reader (a digest mismatch at EOF) is re-raised by ``read``.
    """

    def __init__(self, reader: DigestingReader, depth: int = 4) -> None:
        self._reader = reader
        self._queue: queue.Queue[tuple[bytes, BaseException | None]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="trustcopy-upload-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._reader.read(_READ_AHEAD_SIZE)
                self._put((data, None))
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer thread)
            self._put((b"", exc))

    def _put(self, item: tuple[bytes, BaseException | None]) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1, /) -> bytes:
        """The next piece (its size is the read-ahead's, not ``size``); b"" at EOF."""
        if self._done:
            return b""
        data, error = self._queue.get()
        if error is not None:
            self._done = True
            raise error
        if not data:
            self._done = True
        return data

    def close(self) -> None:
        """Stop the reader thread and wait for it (it never outlives the upload)."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


class _Source:
    """Cuts a stream into PATCH bodies without copying more than one read at a time."""

    def __init__(self, reader: _ReadAhead | DigestingReader) -> None:
        self._reader = reader
        self._pending = b""
        self.eof = False
        self.last_sent = 0

    def peek(self) -> bool:
        """Whether at least one more byte is available (reads ahead once)."""
        if not self._pending and not self.eof:
            self._pending = self._reader.read(_READ_AHEAD_SIZE)
            self.eof = not self._pending
        return bool(self._pending)

    def chunk(self, limit: int) -> Iterator[bytes]:
        """Yield up to ``limit`` bytes; ``last_sent`` counts them."""
        self.last_sent = 0
        while self.last_sent < limit:
            if not self.peek():
                return
            piece = self._pending[: limit - self.last_sent]
            self._pending = self._pending[len(piece):]
            self.last_sent += len(piece)
            yield piece
