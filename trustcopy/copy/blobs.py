"""Copying blobs: reuse what the destination has, stream the rest, verify everything.

Invariants:
- Source bytes are hashed while they stream (DigestingReader); a mismatch fails the
  blob before the destination names it, and the whole copy before commit.
- Memory per blob is one chunk, whatever its size.
- Compression changes only layers, only when the destination asks for it (and the
  manifest may change), and only by what the bytes are (magic numbers), not what the
  source claims; the rules are containers/image's (:class:`CompressionPlan`). Diff IDs
  never change: the config stays as it is.
- A layer being encrypted or decrypted (:class:`LayerTransform`) goes through the same
  compression step, between the two: decrypt → (de/re)compress → encrypt, as
  containers/image. An encrypted layer's descriptor (digest, size, ``…+encrypted`` media
  type of its new compression, the HMAC and plaintext digest in its annotations) describes
  the bytes actually encrypted. A decrypted layer reaches the destination only through a
  stream that fails at its end unless its HMAC matches, so a destination never commits it
  otherwise, and is named by the digest of those bytes (not the one sealed in its key).
  Nothing at the destination is reused for a layer being encrypted or decrypted.
- A blob whose writing failed transiently (a 503 or a dropped connection in the middle
  of a streamed upload, which the registry client cannot replay) is copied again from
  the start, ``BlobRetry.times`` times with backoff. Failures of the source are not: its
  transport already retried and resumed them. Bytes that do not match are never retried.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO

from trustcopy.compression import Algorithm, CompressingStream, CorruptDataError, DecompressingStream, PeekableStream
from trustcopy.copy.options import CompressionPlan
from trustcopy.copy.progress import BlobDone, BlobProgress, BlobStarted, ProgressSink, Status
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import ManifestError, TransportError, TrustcopyError
from trustcopy.lazy import dataclass
from trustcopy.transports.base import ImageDestination, ImageSource
from trustcopy.types import DEFAULT_RETRY_TIMES, BlobInfo, LayerCompression, SystemContext, retry_delay_of

if TYPE_CHECKING:
    from trustcopy.ocicrypt import LayerDecryption, LayerEncryption

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
            delay=retry_delay_of(ctx.docker_retry_delay),
            fixed=ctx.docker_retry_delay_fixed,
        )


NO_RETRY = BlobRetry()


def _mark_source(exc: TrustcopyError) -> None:
    exc.context.setdefault("side", "source")


def _new_media_type(media_type: str | None, manifest_type: str, target: Algorithm) -> str | None:
    """The media type of a layer that now has ``target`` compression, or None if we cannot tell."""
    from trustcopy.manifest.convert import layer_compression, layer_media_type_for

    if not media_type or not manifest_type:
        return None
    try:
        _, foreign = layer_compression(media_type)
    except ManifestError:
        return None
    name = None if target is Algorithm.NONE else target.value
    return layer_media_type_for(manifest_type, name, foreign)


def compression_step(plan: CompressionPlan, media_type: str | None,
                     detected: Algorithm) -> tuple[Algorithm, str] | None:
    """A layer's new compression and media type, or None to keep its bytes as they are.

    Pure (copy_blob calls it once the bytes' compression is ``detected``), so that it can
    be compared with containers/image's blobPipelineCompressionStep on its own
    (tests/unit/copy/test_layer_compression_goracle.py). None also when the layer's media
    type is one whose compression we cannot express (containers/image's
    CanChangeLayerCompression: unknown and encrypted types are left alone).
    """
    target = plan.target_for(media_type, detected)
    if target is None:
        return None
    new_type = _new_media_type(media_type, plan.manifest_type, target)
    return None if new_type is None else (target, new_type)


class _SourceStream:
    """The source's blob stream: stops once the copy was cancelled, marks its failures as
    the source's (see the module invariants), and reports how far it got."""

    def __init__(self, stream: BinaryIO, cancelled: threading.Event | None,
                 progress: Callable[[int], None] | None = None) -> None:
        self._stream, self._cancelled, self._progress = stream, cancelled, progress
        self.done = 0
        self._closed = False

    def read(self, size: int = -1, /) -> bytes:
        if self._cancelled is not None and self._cancelled.is_set():
            raise CopyCancelled
        try:
            data = self._stream.read(size)
        except TrustcopyError as exc:
            _mark_source(exc)
            raise
        # A read-ahead thread left blocked past close() (copy_blob waits for it only so long)
        # may still get bytes: the copy of this blob is over, and reported, by then.
        if data and self._progress is not None and not self._closed:
            self.done += len(data)
            self._progress(self.done)
        return data

    def close(self) -> None:
        self._closed = True
        self._stream.close()


class _ReadAhead:
    """Reads (and so verifies) the source in a helper thread, a few chunks ahead of the writer.

    Used when the destination takes one blob at a time (an archive, a daemon): the
    source side (download, digest) then runs on another core than the write side
    (decompression, diff ID, the archive). Memory: at most ``depth`` chunks.
    """

    _END = object()

    def __init__(self, stream: DigestingReader, depth: int = 4, chunk: int = 1 << 20) -> None:
        import queue

        self._stream, self._chunk = stream, chunk
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._buffer = b""
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="blob-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while True:
                # Sources hand out what the network gave (often 64 KiB): gather a whole chunk,
                # so that the writing side works on large pieces and the threads rarely meet.
                parts, size = [], 0
                while size < self._chunk:
                    data = self._stream.read(self._chunk - size)
                    if not data:
                        break
                    parts.append(data)
                    size += len(data)
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                if not self._put(data) or not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._put(exc)

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (one chunk when negative); raises what the source raised."""
        if not self._buffer and not self._done:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
            self._buffer = item  # type: ignore[assignment]
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def stop(self) -> None:
        """Tell the helper thread to stop (a blocked read ends when the caller closes the source)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the helper thread (at most ``timeout`` seconds; a daemon thread left behind
        only reads, and its stopped reader neither resumes nor queues anything more)."""
        self._thread.join(timeout)


@dataclass(frozen=True)
class CopiedBlob:
    """A blob as it now exists at the destination, and how it got there.

    ``diff_id``: the digest of the source layer's uncompressed bytes, when the copy was
    asked to compute it (a schema1 image being converted needs its layers' diff IDs).
    """

    info: BlobInfo
    reused: bool = False
    compressed: bool = False
    diff_id: Digest | None = None


class _DiffIDTap:
    """Passes a verified source stream through while a helper thread decompresses and hashes
    a copy of it: the layer's diff ID, computed as it streams (containers/image's
    diffIDComputationGoroutine). The layer is read once; memory is a few chunks.

    The compression is the bytes' own (magic numbers), whatever the layer claims; corrupt,
    truncated or hostile compressed data (a zstd window above the cap) fails the copy of
    this blob with the decompressor's CorruptDataError, raised by the next ``read`` and by
    :meth:`result`.
    """

    _END = b""

    def __init__(self, stream: Any, what: str, depth: int = 4) -> None:
        import queue

        self._stream, self._what = stream, what
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._ended = False
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._digest: Digest | None = None
        self._buffer = b""
        self._source_ended = False  # (the helper thread's view)
        self._thread = threading.Thread(target=self._run, name="blob-diff-id", daemon=True)
        self._thread.start()

    # -- the copying side
    def read(self, size: int = -1, /) -> bytes:
        """Read from the source, handing a copy to the diff ID thread."""
        if self._error is not None:
            raise self._error
        data = self._stream.read(size)
        if not self._ended and (data or size != 0):  # (read(0) returns b"" mid-stream: not the end)
            self._ended = not data
            self._put(data)
        return data

    def _put(self, item: bytes | None) -> None:
        import queue

        while self._error is None and not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        if self._error is not None and item is not None:
            raise self._error

    def result(self) -> Digest:
        """The diff ID, once the whole source was read (what the copy did not read is read here)."""
        while not self._ended:
            self.read(1 << 20)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest

    def close(self) -> None:
        """Stop the helper thread (an abandoned copy)."""
        self._stop.set()
        import queue

        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=5)

    # -- the helper thread
    def _next(self, size: int = -1, /) -> bytes:
        while not self._buffer:
            if self._source_ended:
                return b""
            if self._stop.is_set():
                raise CopyCancelled
            item = self._queue.get()
            if item is None:
                raise CopyCancelled
            if not item:
                self._source_ended = True
                return b""
            self._buffer = item
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def _run(self) -> None:
        import hashlib

        class _Reader:
            read = self._next

        try:
            peek = PeekableStream(_Reader())
            stream: Any = peek
            if peek.algorithm is not Algorithm.NONE:
                stream = DecompressingStream(peek, peek.algorithm, what=f"{self._what} (computing its diff ID)")
            hasher = hashlib.sha256()
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
            self._digest = Digest("sha256", hasher.hexdigest())
        except CopyCancelled:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the copying thread
            if isinstance(exc, TrustcopyError):
                _mark_source(exc)
            self._error = exc
            # Keep the copying side from blocking on a full queue.
            while True:
                try:
                    self._queue.get_nowait()
                except Exception:  # noqa: BLE001 - queue.Empty
                    return


@dataclass(frozen=True)
class LayerTransform:
    """A layer to encrypt or decrypt on the way (``copy --encryption-key``/``--decryption-key``).

    The layer then goes through containers/image's pipeline: decrypt → the compression step
    every layer gets (:class:`CompressionPlan`) → encrypt; so an uncompressed layer encrypted
    for a registry is stored as ``…tar+gzip+encrypted``, and ``--dest-compress-format zstd``
    gives ``…tar+zstd+encrypted``.

    Attributes:
        media_type: the layer's media type in the manifest being written when its
            compression does not change, without ``+encrypted`` (an encrypted layer gets the
            suffix once its bytes are known; a decrypted one is described by this type).
        encryption / decryption: exactly one of them (trustcopy.ocicrypt).
    """

    media_type: str
    encryption: LayerEncryption | None = None
    decryption: LayerDecryption | None = None


def _outcome(before: Algorithm, target: Algorithm | None, *, decrypted: bool, encrypted: bool) -> str:
    """The BlobDone outcome of a layer that was (de/re)compressed, decrypted or encrypted on the way."""
    steps = ["decrypted"] if decrypted else []
    if target is Algorithm.NONE:
        steps.append("decompressed")
    elif target is not None:
        steps.append("compressed" if before is Algorithm.NONE else f"recompressed, {target.value}")
    if encrypted:
        steps.append("encrypted")
    return f"done ({', '.join(steps)})" if steps else "done"


def copy_blob(
    src: ImageSource,
    dest: ImageDestination,
    info: BlobInfo,
    *,
    is_config: bool,
    can_modify: bool,
    say: ProgressSink,
    cancelled: threading.Event | None = None,
    plan: CompressionPlan | None = None,
    cpu_slots: threading.Semaphore | None = None,
    transform: LayerTransform | None = None,
    diff_id: bool = False,
) -> CopiedBlob:
    """Copy one blob, once; see the module invariants (copy_blobs adds the retries).

    The bytes go through: the source's digest check → decryption (``transform``) → the
    compression step (``plan``) → encryption (``transform``) → the destination.

    Args:
        info: the blob as the source manifest describes it.
        is_config: the image config (never recompressed).
        can_modify: whether the layer's representation may change (False when
            signatures must stay valid or the user asked to preserve digests).
        say: progress sink (events from copy.progress).
        plan: how layer compression may change (default: as the destination wants,
            gzip when compressing).
        cpu_slots: bounds how many blobs are (de)compressed or encrypted at once
            (CPU-bound work: more threads than cores only add memory).
        transform: decrypt this layer before its compression step, or encrypt it after.
        diff_id: also compute the layer's diff ID as it streams (CopiedBlob.diff_id). The
            layer is then always read, never reused from the destination (containers/image
            reuses one only when its blob-info cache knows the diff ID; trustcopy keeps none).

    Raises:
        DigestMismatchError: the source's bytes do not match ``info``, or (decrypting) the
            layer fails its HMAC.
        TransportError: reading or writing failed (``context["side"] == "source"`` when
            the source did).
    """
    kind = "config" if is_config else "blob"
    encryption = transform.encryption if transform is not None else None
    decryption = transform.decryption if transform is not None else None
    # What the source stage yields: the source blob, or (decrypting) its plaintext, whose
    # digest is known only once it was decrypted and authenticated. Nothing at the destination
    # is reused for a layer being transformed (as containers/image): not the ciphertext for
    # a layer being decrypted, not the plaintext for a layer being encrypted (an encrypted
    # image must not point at its plaintext).
    stored_as = info if decryption is None else _plaintext_info(info, transform)  # type: ignore[arg-type]
    if plan is None:
        plan = CompressionPlan(desired=dest.desired_layer_compression)
    if transform is None and not diff_id:
        # Under --dest-force-compress-format a blob the destination holds in another
        # compression is not reused: the layer is read and recompressed below.
        reusable = is_config or plan.may_reuse(stored_as.media_type)
        reused = dest.try_reusing_blob(stored_as) if reusable else None
        if reused is not None:
            say(BlobDone(kind, info, "skipped: already exists", reused))
            return CopiedBlob(info=replace(stored_as, size=reused.size if reused.size >= 0 else stored_as.size),
                              reused=True)

    say(BlobStarted(kind, info))
    try:
        raw_stream, size = src.get_blob(info)
    except BaseException as exc:
        dest.blob_copy_ended(info)  # (a claim try_reusing_blob took must not wait for dest.close)
        if isinstance(exc, TrustcopyError):
            _mark_source(exc)
        raise
    stream = _SourceStream(raw_stream, cancelled, lambda n: say(BlobProgress(kind, info, n)))
    ahead: _ReadAhead | None = None
    tap: _DiffIDTap | None = None
    try:
        expected_size = info.size if info.size >= 0 else size
        verified = DigestingReader(
            stream, info.digest, expected_size=expected_size, what=f"{src.reference}: blob {info.digest}"
        )
        source_stream: Any = verified
        if diff_id and transform is None and not is_config:
            source_stream = tap = _DiffIDTap(verified, f"{src.reference}: blob {info.digest}")
        if not dest.has_thread_safe_put_blob and not is_config:
            ahead = _ReadAhead(source_stream)
            source_stream = ahead
        # 1. Decrypt: the stream fails at its end unless the layer's HMAC matches.
        decrypting: Any = None
        if decryption is not None:
            decrypting = source_stream = decryption.stream(source_stream)
        # 2. The compression step, by the same rules as for any layer (by magic numbers).
        before, target = Algorithm.NONE, None
        media_type = stored_as.media_type if transform is None else transform.media_type
        annotations = stored_as.annotations
        if not is_config and can_modify and (plan.desired is not LayerCompression.PRESERVE
                                             or plan.rewrites(stored_as.media_type)):
            peek = PeekableStream(source_stream)
            source_stream = peek
            before = peek.algorithm
            step = compression_step(plan, stored_as.media_type, before)
            target, new_type = step if step is not None else (None, None)
            if target is not None and new_type is not None:
                if before is not Algorithm.NONE:
                    source_stream = DecompressingStream(peek, before, what=f"{src.reference}: blob {info.digest}")
                if target is not Algorithm.NONE:
                    source_stream = CompressingStream(source_stream, target, plan.level)
                media_type, annotations = new_type, None  # (compression annotations describe the old bytes)
            else:
                target = None
        # 3. Encrypt what the compression step produced.
        encrypting: Any = None
        if encryption is not None:
            from trustcopy.ocicrypt import ENCRYPTED_SUFFIX

            encrypting = source_stream = encryption.stream(source_stream)
            media_type = (media_type or "") + ENCRYPTED_SUFFIX
        if target is None and transform is None:
            stored = dest.put_blob(source_stream, stored_as, is_config=is_config)
            layer_diff_id = _diff_id_of(tap, ahead)
            verified.verify()
            say(BlobDone(kind, info, "done", stored, stream.done))
            return CopiedBlob(info=replace(stored_as, size=stored.size), diff_id=layer_diff_id)
        # New bytes: the destination learns their digest as it stores them (a decrypted
        # layer's too: the digest sealed in its key is not trusted to name it).
        already = False  # with --dest-precompute-digests: the destination had it
        with cpu_slots if cpu_slots is not None else contextlib.nullcontext():
            try:
                spool_dir = dest.precompute_digests
                if spool_dir is not None:
                    stored, already = _put_precomputed(dest, source_stream, media_type, spool_dir)
                else:
                    stored = dest.put_new_blob(source_stream, media_type=media_type, is_config=False)
            except CorruptDataError:
                # A digest mismatch, or an HMAC that fails, is the real fault: read to the end.
                _drain(decrypting if decrypting is not None else ahead if ahead is not None else verified)
                raise
        layer_diff_id = _diff_id_of(tap, ahead)
        verified.verify()
        if encrypting is not None:
            annotations = {**(annotations or {}), **encryption.annotations(encrypting)}  # type: ignore[union-attr]
        new_info = replace(stored_as, digest=stored.digest, size=stored.size, media_type=media_type,
                           annotations=annotations or None)
    finally:
        if ahead is not None:
            ahead.stop()
        stream.close()  # first: a read blocked in the helper thread ends with it
        if ahead is not None:
            # A read stalled in the socket may not end with the close: after a failure or an
            # interruption, wait no longer than the copy waits for any stalled worker.
            ahead.join(INTERRUPT_GRACE)
        if tap is not None:
            tap.close()
        # put_new_blob stores the layer under another digest: the claim on ``info`` ends here too.
        dest.blob_copy_ended(info)
    if already:
        say(BlobDone(kind, info, "skipped: already exists (digest precomputed)", new_info, stream.done))
        return CopiedBlob(info=new_info, reused=True, compressed=True, diff_id=layer_diff_id)
    outcome = _outcome(before, target, decrypted=decryption is not None, encrypted=encryption is not None)
    say(BlobDone(kind, info, outcome, new_info, stream.done))
    return CopiedBlob(info=new_info, compressed=True, diff_id=layer_diff_id)


def _diff_id_of(tap: _DiffIDTap | None, ahead: _ReadAhead | None) -> Digest | None:
    """The tapped layer's diff ID, once the source was read to its end (through the read-ahead
    thread when there is one: the tap has one reader at a time)."""
    if tap is None:
        return None
    if ahead is not None:
        _drain(ahead)
    return tap.result()


def _plaintext_info(info: BlobInfo, transform: LayerTransform) -> BlobInfo:
    """The descriptor of a layer once decrypted: the new media type, no enc annotations.

    Its digest stays the ciphertext's until the plaintext is stored (copy_blob replaces it).
    """
    from trustcopy.ocicrypt import without_encryption_annotations

    return replace(info, media_type=transform.media_type, annotations=without_encryption_annotations(info.annotations))


def _put_precomputed(dest: ImageDestination, data: BinaryIO, media_type: str | None,
                     directory: str) -> tuple[BlobInfo, bool]:
    """Spool a blob produced on the way to learn its digest; store it only if ``dest`` lacks it.

    Why: a layer compressed on the way (a ``dir:`` of uncompressed layers pushed again) has
    no digest until it is compressed, so the existence check that skips stored blobs cannot
    run before the upload; ``--dest-precompute-digests`` trades a temporary file for the
    upload, as skopeo's does. The file, in ``directory``, is unnamed (``O_TMPFILE`` where
    the system has it), so nothing is left behind, even by ``kill -9``. Returns the stored
    blob and whether it was there.

    Raises:
        TransportError: the temporary file cannot be made or written (``destination-unwritable``).
    """
    import tempfile

    what = f"{dest.reference}: new blob"
    try:
        spool = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise TransportError(f"{what}: cannot create a temporary file in {directory} to precompute its digest: "
                             f"{exc.strerror}", code="destination-unwritable") from exc
    with spool:
        reader = DigestingReader(data, None, what=what)
        while chunk := reader.read(1 << 20):
            try:  # only the spool's own failures (ENOSPC) are the destination side's
                spool.write(chunk)
            except OSError as exc:
                raise TransportError(f"{what}: cannot write the temporary file in {directory}: {exc.strerror}",
                                     code="destination-unwritable") from exc
        info = BlobInfo(digest=reader.verify(), size=spool.tell(), media_type=media_type)
        reused = dest.try_reusing_blob(info)
        if reused is not None:
            return BlobInfo(digest=info.digest, size=info.size, media_type=media_type), True
        spool.seek(0)
        return dest.put_blob(spool, info), False


def _drain(reader: Any) -> None:
    """Read the rest of a verified (or decrypted) stream (raising DigestMismatchError at its end if it is wrong)."""
    while reader.read(1 << 20):
        pass


def _with_retries(attempt: Callable[[], CopiedBlob], info: BlobInfo, retry: BlobRetry,
                  cancelled: threading.Event | None, say: ProgressSink | None = None) -> CopiedBlob:
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
            # A 429/503's Retry-After (up to a minute) is honoured here too: the registry asked
            # for less traffic, and the whole blob is about to be sent again.
            asked = exc.context.get("retry_after")
            wait = min(asked, MAX_BLOB_RETRY_DELAY) if isinstance(asked, float) and asked > delay else delay
            log.warning("%s; copying blob %s again in %.1fs (%d/%d)", exc.message, info.digest, wait, tries,
                        retry.times)
            if say is not None:
                say(Status(f"waiting {wait:.1f}s before copying blob {info.digest} again ({tries}/{retry.times})"))
            if cancelled is not None and cancelled.wait(wait):
                raise
            if cancelled is None:
                time.sleep(wait)
            delay = delay if retry.fixed else min(delay * 2, MAX_BLOB_RETRY_DELAY)


def copy_blobs(
    src: ImageSource,
    dest: ImageDestination,
    layers: Sequence[BlobInfo],
    config: BlobInfo | None,
    *,
    can_modify: bool,
    max_parallel: int,
    say: ProgressSink,
    retry: BlobRetry = NO_RETRY,
    plan: CompressionPlan | None = None,
    transforms: Sequence[LayerTransform | None] | None = None,
    diff_ids: bool = False,
) -> tuple[list[CopiedBlob], CopiedBlob | None]:
    """Copy layers and the config (concurrently when both ends allow it).

    The same digest appearing twice is copied once. The config goes into the same pool
    as the layers (a registry-to-registry copy then spends one round of requests, not
    two), unless its digest is also a layer's: that odd image gets the config copied
    after the layers. The first failure cancels what has not started and waits for
    what has, so the destination is not written to after this returns or raises.
    ``transforms`` (one per layer, or None) encrypts or decrypts layers; a layer to transform
    is its own job, even when its digest appears elsewhere unchanged. ``diff_ids``: compute
    each layer's diff ID while copying it (copy_blob), for a schema1 image being converted.
    """
    lock = threading.Lock()
    changes: Sequence[LayerTransform | None] = transforms or [None] * len(layers)

    def job_key(i: int) -> tuple[bool, object, int]:
        change = changes[i]
        return (False, layers[i].digest, 0 if change is None else id(change))

    def locked_say(event: object) -> None:
        with lock:
            say(event)  # type: ignore[arg-type]

    jobs: dict[tuple[bool, object, int], tuple[BlobInfo, LayerTransform | None]] = {}
    order = src.preferred_blob_order(layers) if layers else []
    for i in order:
        jobs.setdefault(job_key(i), (layers[i], changes[i]))
    config_later = config is not None and (False, config.digest, 0) in jobs
    if config is not None and not config_later:
        jobs[(True, config.digest, 0)] = (config, None)
    parallel = max_parallel if src.has_thread_safe_get_blob and dest.has_thread_safe_put_blob else 1
    cpu_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
    results: dict[tuple[bool, object, int], CopiedBlob] = {}
    if parallel <= 1 or len(jobs) <= 1:
        for key, (info, change) in jobs.items():
            results[key] = _with_retries(
                functools.partial(copy_blob, src, dest, info, is_config=key[0], can_modify=can_modify and not key[0],
                                  say=locked_say, plan=plan, transform=change,
                                  diff_id=diff_ids and not key[0]),
                info, retry, None, locked_say)
    else:
        import concurrent.futures  # only with two blobs or more (an image already there needs none)

        cancelled = threading.Event()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(parallel, len(jobs)),
                                                     thread_name_prefix="blob")
        futures: dict[concurrent.futures.Future[CopiedBlob], tuple[bool, object, int]] = {}
        try:
            futures = {
                pool.submit(_with_retries, functools.partial(
                    copy_blob, src, dest, info, is_config=key[0], can_modify=can_modify and not key[0],
                    say=locked_say, cancelled=cancelled, plan=plan, cpu_slots=cpu_slots, transform=change,
                    diff_id=diff_ids and not key[0]),
                    info, retry, cancelled, locked_say): key
                for key, (info, change) in jobs.items()
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
    copied_layers = [results[job_key(i)] for i in range(len(layers))]
    copied_config = None
    if config is not None:
        copied_config = (_with_retries(functools.partial(copy_blob, src, dest, config, is_config=True,
                                                         can_modify=False, say=locked_say), config, retry, None)
                         if config_later
                         else results[(True, config.digest, 0)])
    return copied_layers, copied_config
