"""Copying blobs: reuse what the destination has, stream the rest, verify everything.

Invariants:
- Source bytes are hashed while they stream (DigestingReader); a mismatch fails the
  blob before the destination names it, and the whole copy before commit.
- Memory per blob is one chunk, whatever its size.
- Compression changes only layers, only when the destination asks for it, and only
  by what the bytes are (magic numbers), not what the source claims.
- A blob whose writing failed transiently (a 503 or a dropped connection in the middle
  of a streamed upload, which the registry client cannot replay) is copied again from
  the start, ``BlobRetry.times`` times with backoff. Failures of the source are not: its
  transport already retried and resumed them. Bytes that do not match are never retried.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

from trustcopy.copy.compression import Algorithm, GzipCompressingStream, PeekableStream, detect
from trustcopy.digest import DigestingReader
from trustcopy.errors import TrustcopyError
from trustcopy.transports.base import ImageDestination, ImageSource
from trustcopy.types import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_TIMES, BlobInfo, LayerCompression, SystemContext

# Media types of uncompressed layers and what they become when gzip-compressed.
_GZIP_OF = {
    "application/vnd.oci.image.layer.v1.tar": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar":
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


log = logging.getLogger("trustcopy.copy")

#: Longest wait between two attempts at one blob.
MAX_BLOB_RETRY_DELAY = 60.0
#: After an interruption (Ctrl-C, SIGTERM, --command-timeout), how long to wait for blob
#: workers to notice the cancellation. A worker stuck in a stalled network read only sees
#: it when the read returns (up to the read timeout): the interruption must not wait that long.
INTERRUPT_GRACE = 2.0


class CopyCancelled(Exception):
    """Raised inside a worker when another blob failed or the user interrupted."""


@dataclass(frozen=True)
class BlobRetry:
    """How often, and after how long, a blob whose writing failed transiently is copied again."""

    times: int = 0
    delay: float = 1.0
    #: Wait ``delay`` every time instead of doubling it (--retry-delay).
    fixed: bool = False

    @classmethod
    def for_destination(cls, ctx: SystemContext | None) -> BlobRetry:
        """The destination's --retry-times and --retry-delay (or their defaults)."""
        ctx = ctx or SystemContext()
        return cls(
            times=DEFAULT_RETRY_TIMES if ctx.retry_times is None else max(0, ctx.retry_times),
            delay=DEFAULT_RETRY_DELAY if ctx.docker_retry_delay is None else max(0.0, ctx.docker_retry_delay),
            fixed=ctx.docker_retry_delay_fixed,
        )


NO_RETRY = BlobRetry()


def _mark_source(exc: TrustcopyError) -> None:
    exc.context.setdefault("side", "source")


class _SourceStream:
    """The source's blob stream: stops once the copy was cancelled, and marks its failures
    as the source's (see the module invariants)."""

    def __init__(self, stream: BinaryIO, cancelled: threading.Event | None) -> None:
        self._stream, self._cancelled = stream, cancelled

    def read(self, size: int = -1, /) -> bytes:
        if self._cancelled is not None and self._cancelled.is_set():
            raise CopyCancelled
        try:
            return self._stream.read(size)
        except TrustcopyError as exc:
            _mark_source(exc)
            raise

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True)
class CopiedBlob:
    """A blob as it now exists at the destination, and how it got there."""

    info: BlobInfo
    reused: bool = False
    compressed: bool = False


def _short(info: BlobInfo) -> str:
    return info.digest.hex[:12]


def copy_blob(
    src: ImageSource,
    dest: ImageDestination,
    info: BlobInfo,
    *,
    is_config: bool,
    can_modify: bool,
    say: Callable[[str], None],
    cancelled: threading.Event | None = None,
) -> CopiedBlob:
    """Copy one blob, once; see the module invariants (copy_blobs adds the retries).

    Args:
        info: the blob as the source manifest describes it.
        is_config: the image config (never recompressed).
        can_modify: whether the layer's representation may change (False when
            signatures must stay valid or the user asked to preserve digests).
        say: progress sink.

    Raises:
        DigestMismatchError: the source's bytes do not match ``info``.
        TransportError: reading or writing failed (``context["side"] == "source"`` when
            the source did).
    """
    kind = "config" if is_config else "blob"
    reused = dest.try_reusing_blob(info)
    if reused is not None:
        say(f"Copying {kind} {_short(info)} skipped: already exists")
        return CopiedBlob(info=replace(info, size=reused.size if reused.size >= 0 else info.size), reused=True)

    try:
        raw_stream, size = src.get_blob(info)
    except TrustcopyError as exc:
        _mark_source(exc)
        raise
    stream = _SourceStream(raw_stream, cancelled)
    try:
        expected_size = info.size if info.size >= 0 else size
        verified = DigestingReader(
            stream, info.digest, expected_size=expected_size, what=f"{src.reference}: blob {info.digest}"
        )
        want_gzip = (
            not is_config
            and can_modify
            and dest.desired_layer_compression is LayerCompression.COMPRESS
            and info.media_type in _GZIP_OF
        )
        if want_gzip:
            peek = PeekableStream(verified)
            if detect(peek.prefix) is Algorithm.NONE:
                new_type = _GZIP_OF[info.media_type or ""]
                stored = dest.put_new_blob(
                    GzipCompressingStream(peek),  # type: ignore[arg-type]
                    media_type=new_type,
                    is_config=False,
                )
                verified.verify()
                say(f"Copying {kind} {_short(info)} done (compressed)")
                return CopiedBlob(
                    info=replace(info, digest=stored.digest, size=stored.size, media_type=new_type), compressed=True
                )
            source_stream: PeekableStream | DigestingReader = peek
        else:
            source_stream = verified
        stored = dest.put_blob(source_stream, info, is_config=is_config)  # type: ignore[arg-type]
        verified.verify()
    finally:
        stream.close()
    say(f"Copying {kind} {_short(info)} done")
    return CopiedBlob(info=replace(info, size=stored.size))


def _with_retries(attempt: Callable[[], CopiedBlob], info: BlobInfo, retry: BlobRetry,
                  cancelled: threading.Event | None) -> CopiedBlob:
    """Run ``attempt`` again after transient failures of the destination (module invariants)."""
    tries, delay = 0, retry.delay
    while True:
        try:
            return attempt()
        except TrustcopyError as exc:
            if (not exc.transient or exc.context.get("side") == "source" or tries >= retry.times
                    or (cancelled is not None and cancelled.is_set())):
                raise
            tries += 1
            log.warning("%s; copying blob %s again in %.1fs (%d/%d)", exc.message, info.digest, delay, tries,
                        retry.times)
            if cancelled is not None and cancelled.wait(delay):
                raise
            if cancelled is None:
                time.sleep(delay)
            delay = delay if retry.fixed else min(delay * 2, MAX_BLOB_RETRY_DELAY)


def copy_blobs(
    src: ImageSource,
    dest: ImageDestination,
    layers: Sequence[BlobInfo],
    config: BlobInfo | None,
    *,
    can_modify: bool,
    max_parallel: int,
    say: Callable[[str], None],
    retry: BlobRetry = NO_RETRY,
) -> tuple[list[CopiedBlob], CopiedBlob | None]:
    """Copy layers and the config (concurrently when both ends allow it).

    The same digest appearing twice is copied once. The config goes into the same pool
    as the layers (a registry-to-registry copy then spends one round of requests, not
    two), unless its digest is also a layer's: that odd image gets the config copied
    after the layers. The first failure cancels what has not started and waits for
    what has, so the destination is not written to after this returns or raises.
    """
    lock = threading.Lock()

    def locked_say(msg: str) -> None:
        with lock:
            say(msg)

    jobs: dict[tuple[bool, object], BlobInfo] = {}
    for layer in layers:
        jobs.setdefault((False, layer.digest), layer)
    config_later = config is not None and (False, config.digest) in jobs
    if config is not None and not config_later:
        jobs[(True, config.digest)] = config
    parallel = max_parallel if src.has_thread_safe_get_blob and dest.has_thread_safe_put_blob else 1
    results: dict[tuple[bool, object], CopiedBlob] = {}
    if parallel <= 1 or len(jobs) <= 1:
        for key, info in jobs.items():
            results[key] = _with_retries(
                functools.partial(copy_blob, src, dest, info, is_config=key[0], can_modify=can_modify and not key[0],
                                  say=locked_say), info, retry, None)
    else:
        cancelled = threading.Event()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(parallel, len(jobs)),
                                                     thread_name_prefix="blob")
        futures: dict[concurrent.futures.Future[CopiedBlob], tuple[bool, object]] = {}
        try:
            futures = {
                pool.submit(_with_retries, functools.partial(
                    copy_blob, src, dest, info, is_config=key[0], can_modify=can_modify and not key[0],
                    say=locked_say, cancelled=cancelled), info, retry, cancelled): key
                for key, info in jobs.items()
            }
            for fut in concurrent.futures.as_completed(futures):
                results[futures[fut]] = fut.result()
        except Exception:
            cancelled.set()  # running workers stop at their next read
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        except BaseException:
            # An interruption: give workers a moment, then stop waiting for one stalled in a
            # read. It writes only into staging (a temporary file that staging's removal
            # deletes), and the CLI ends the process once the destination is cleaned up.
            cancelled.set()
            concurrent.futures.wait(futures, timeout=INTERRUPT_GRACE)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
    copied_layers = [results[(False, layer.digest)] for layer in layers]
    copied_config = None
    if config is not None:
        copied_config = (_with_retries(functools.partial(copy_blob, src, dest, config, is_config=True,
                                                         can_modify=False, say=say), config, retry, None)
                         if config_later
                         else results[(True, config.digest)])
    return copied_layers, copied_config
