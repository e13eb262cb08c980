"""Running a sync: resolve the source, then judge and copy each image, concurrently, in one session.

Per image (``_sync_one``):

1. If every requirement of the policy scope matching the source is ``reject``, the image
   is **rejected** from its reference alone (copy/evaluate.py), with no request at all.
2. With ``skip_identical`` (the default): ``HEAD`` the destination (``dir:``: read its
   ``manifest.json``); if it holds a manifest, ``HEAD`` the source and compare digests.
   Equal → **skipped**, at one ``HEAD`` per side and no ``GET`` (for a list copied
   without ``--all``, the list is read once to learn which instance a copy would take).
3. Otherwise ``copy_image`` (or, with ``--dry-run``, ``evaluate_image``): the one
   evaluation step of ``copy``, then the copy. **rejected** (PolicyRejected) or
   **copied**, or **failed**.

Why skipping an identical image never lets one past the policy
    The policy guards what is *written* to the destination. A skipped image writes
    nothing: the destination holds exactly the bytes it held before the sync (the digest
    names them), put there by an earlier sync that evaluated them, or by someone else; this
    sync neither adds nor vouches for them. It reports them as "skipped (identical)",
    never as accepted, and every image that is copied is judged first, fail closed, as
    ``copy`` judges it. The digests compared are the registries' claims (``HEAD`` carries
    no bytes to check): a registry lying about them can only make sync write *less*. Run
    ``trustcopy verify`` on the destination to re-judge what is there, or
    ``--no-skip-identical`` to judge (and copy) every image again. Signatures are not
    compared: an identical image does not get new signatures from ``--sign-by``.

Session and concurrency
    One RegistrySession (pings, TLS contexts, connection pools, tokens, mount candidates)
    serves every source and destination of the run: the caller's (carried in the contexts),
    or one made here and closed at the end. ``parallel_images`` images run at once; each
    copies at most ``max(1, 48 // parallel_images)`` blobs at a time (or fewer, as asked),
    so that all of them fit the session's pool of 64 connections per registry without
    waiting for a free connection.

Failures
    An entry or image failure (a TrustcopyError, or an OSError no transport wrapped: a
    full disk) is recorded and, with ``keep_going``, the rest goes on;
    without it, no new image starts after the first rejection or failure (those running
    finish: nothing is ever left half written), and a failed entry stops the sync before
    anything is copied. An interruption (Ctrl-C, SIGTERM, ``--command-timeout``) starts
    nothing new, waits briefly for running images, and propagates.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.errors import PolicyRejected, TrustcopyError, UsageError
from trustcopy.lazy import dataclass
from trustcopy.sync.plan import (
    DestinationKind,
    Entry,
    EntryFailure,
    Shard,
    SourceKind,
    WorkItem,
    dir_entries,
    docker_entries,
    plan_items,
    yaml_entries,
)
from trustcopy.sync.report import ImageResult, Outcome, SyncReport
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.copy.evaluate import PolicyEvaluator
    from trustcopy.digest import Digest
    from trustcopy.transports.base import ImageReference

log = logging.getLogger("trustcopy.sync")

#: Blobs in flight across all images of a sync (the session's pool holds 64 connections).
MAX_BLOBS_IN_FLIGHT = 48
MAX_PARALLEL_IMAGES = 32
#: After an interruption, how long to wait for running images before propagating it.
INTERRUPT_GRACE = 2.0


@dataclass
class SyncOptions:
    """What ``trustcopy sync`` may be asked to do (see docs/commands/sync.md for each flag).

    ``copy`` is the template of every image's copy: signing, format, ``--all``,
    ``--preserve-digests``, ``--remove-signatures``, blob parallelism, and the base source and
    destination contexts (a ``--src yaml`` registry overrides TLS, certificates and
    credentials of its own images).
    """

    source_kind: SourceKind
    destination_kind: DestinationKind
    scoped: bool = False
    append_suffix: str = ""
    dry_run: bool = False
    keep_going: bool = False
    parallel_images: int = 8
    shard: Shard | None = None
    skip_identical: bool = True
    copy: CopyOptions = field(default_factory=CopyOptions)
    #: Called in the caller's thread with each image's result as it is known.
    on_result: Callable[[ImageResult], None] | None = None
    #: Called with each warning (an unknown YAML key …) when it is found; None logs it.
    on_warning: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self.source_kind = SourceKind(self.source_kind)
        self.destination_kind = DestinationKind(self.destination_kind)
        if not 1 <= self.parallel_images <= MAX_PARALLEL_IMAGES:
            raise UsageError(f"--parallel-images must be between 1 and {MAX_PARALLEL_IMAGES}, "
                             f"got {self.parallel_images}")
        if self.source_kind is SourceKind.DIR and self.destination_kind is DestinationKind.DIR:
            raise UsageError("sync from 'dir' to 'dir' is not implemented; consider using rsync instead")


def sync(policy: PolicyEvaluator, source: str, destination: str, options: SyncOptions) -> SyncReport:
    """Sync every image ``source`` names to ``destination``, each only if ``policy`` allows it.

    Args:
        policy: a PolicyContext (or anything with ``evaluate(unparsed)``), shared by all images.
        source: a repository or image (``--src docker``), a directory (``dir``) or a YAML file.
        destination: a registry and namespace (``--dest docker``) or a directory (``dir``).

    Returns:
        The report; :attr:`SyncReport.exit_status` says whether everything succeeded.

    Raises:
        UsageError / ConfigError / InvalidReferenceError / TransportError: the source as a
            whole cannot be read (a YAML that is not YAML, a missing directory). Failures of
            single entries and images are in the report instead.
        SignatureError / UsageError / LimitExceededError: the ``--sign-by-sigstore-private-key``
            key cannot be read or decrypted, or the ``--sign-by`` key cannot sign (before any
            image is copied).
    """
    from trustcopy.transports.docker.session import RegistrySession, session_from

    copy = options.copy
    if copy.sign_by_sigstore_private_key:
        # Read and decrypted once, before any image (as skopeo makes its signers first): a bad
        # key or passphrase fails the sync before anything is written, and no image pays for it.
        copy.sigstore_private_key()
    # The --sign-by key too (missing, a user ID, expired, revoked): once, before any image.
    copy.check_gpg_signing_key()
    src_ctx, dest_ctx = copy.source_ctx or SystemContext(), copy.dest_ctx or SystemContext()
    own_session = None
    if session_from(src_ctx) is None or session_from(dest_ctx) is None:
        own_session = RegistrySession()
        src_ctx = dataclasses.replace(src_ctx, registry_session=session_from(src_ctx) or own_session)
        dest_ctx = dataclasses.replace(dest_ctx, registry_session=session_from(dest_ctx) or own_session)
    try:
        return _Run(policy, options, src_ctx, dest_ctx).run(source, destination)
    finally:
        if own_session is not None:
            own_session.close()


class _Run:
    """One sync run: its options, contexts, deadline and stop flag."""

    def __init__(self, policy: PolicyEvaluator, options: SyncOptions, src_ctx: SystemContext,
                 dest_ctx: SystemContext) -> None:
        self.policy, self.options = policy, options
        self.src_ctx, self.dest_ctx = src_ctx, dest_ctx
        timeout = src_ctx.command_timeout or dest_ctx.command_timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.report = SyncReport(dry_run=options.dry_run)
        per_image = max(1, MAX_BLOBS_IN_FLIGHT // options.parallel_images)
        self.max_parallel = min(options.copy.max_parallel, per_image)
        from trustcopy.transports.docker.session import session_from

        for ctx in (src_ctx, dest_ctx):  # smaller socket reads for more streams (memory)
            session = session_from(ctx)
            if session is not None:
                session.expect_blob_streams(options.parallel_images * self.max_parallel)

    # -- the source -------------------------------------------------------------------------

    def _entries(self, source: str) -> tuple[list[Entry], list[EntryFailure]]:
        """The source's entries (and, for a YAML, its problems as failures)."""
        kind = self.options.source_kind
        if kind is SourceKind.DOCKER:
            return docker_entries(source, self.src_ctx), []
        if kind is SourceKind.DIR:
            return dir_entries(source, self.src_ctx), []
        return yaml_entries(source, self.src_ctx, self._warn)

    def _warn(self, message: str) -> None:
        with self.lock:
            self.report.warnings.append(message)
        if self.options.on_warning is not None:
            self.options.on_warning(message)
        else:
            log.warning("%s", message)

    def run(self, source: str, destination: str) -> SyncReport:
        """Resolve the entries (concurrently), plan the destinations, then sync every image."""
        entries, failures = self._entries(source)
        # Not a ``with`` block: its exit waits for every running image, which an interruption must not.
        pool = concurrent.futures.ThreadPoolExecutor(self.options.parallel_images, thread_name_prefix="sync")
        resolved = self._wait_all(pool, [pool.submit(_resolve, e) for e in entries])
        items, more = plan_items(entries, resolved, self.options.destination_kind, destination,
                                 scoped=self.options.scoped, append_suffix=self.options.append_suffix,
                                 shard=self.options.shard)
        failures += more
        for failure in failures:
            self._record(ImageResult(failure.label, failure.source or failure.label, None, Outcome.FAILED,
                                     error=failure.error))
        if failures and not self.options.keep_going:
            self.stop.set()  # a bad entry stops the sync before anything is copied
        after = self._signing_order(pool, items)
        done = [threading.Event() for _ in items]
        self._wait_all(pool, [pool.submit(self._sync_in_turn, item, done[k], done[after[k]] if after[k] >= 0 else None)
                              for k, item in enumerate(items)], record=True)
        pool.shutdown(wait=True)
        return self.report

    def _signing_order(self, pool: concurrent.futures.ThreadPoolExecutor, items: list[WorkItem]) -> list[int]:
        """For each image, the earlier image it must wait for (-1: none).

        A sync that signs into a registry runs the images whose source manifest is the same
        (several tags of one image) one after the other, in source order, as skopeo's sequential
        sync does: their signatures go to the same places (a lookaside ``@sha256=…`` directory,
        whose set a copy replaces; a ``sha256-….sig`` attachment, read, extended and written
        back), and copies of them at once lost signatures, or signed each instance of a list for
        a different tag. Images with different manifests still run in parallel. It costs one
        ``HEAD`` per source image (none for one named by digest).
        """
        from trustcopy.sync.probe import source_head

        if not self.options.copy.signs or self.options.dry_run or self.options.destination_kind is not \
                DestinationKind.DOCKER or len(items) < 2:
            return [-1] * len(items)

        def digest_of(item: WorkItem) -> str | None:
            if self.stop.is_set():
                return None
            try:
                return str(source_head(item.source, item.source_ctx)[0] or "") or None
            except TrustcopyError:
                return None  # the copy will meet the failure and report it

        digests = self._wait_all(pool, [pool.submit(digest_of, item) for item in items])
        last: dict[str, int] = {}
        after = []
        for k, digest in enumerate(digests):
            after.append(last.get(digest, -1) if digest is not None else -1)
            if digest is not None:
                last[digest] = k
        return after

    def _sync_in_turn(self, item: WorkItem, done: threading.Event, previous: threading.Event | None) -> ImageResult:
        """:meth:`_sync_one`, after the image it must follow (:meth:`_signing_order`) has finished.

        No deadlock: the pool takes images in submission order, so the earlier image is
        running or finished by the time this one waits for it.
        """
        try:
            if previous is not None:
                previous.wait()
            return self._sync_one(item)
        finally:
            done.set()

    def _wait_all(self, pool: concurrent.futures.ThreadPoolExecutor, futures: list[concurrent.futures.Future[Any]],
                  *, record: bool = False) -> list[Any]:
        """Results in submission order; records image results as they complete. Interruptions propagate."""
        try:
            if record:
                results: dict[int, ImageResult] = {}
                index = {f: i for i, f in enumerate(futures)}
                for future in concurrent.futures.as_completed(futures):
                    result: ImageResult = future.result()
                    results[index[future]] = result
                    if self.options.on_result is not None:
                        self.options.on_result(result)
                self.report.results.extend(results[i] for i in range(len(futures)))
                return [results[i] for i in range(len(futures))]
            return [f.result() for f in futures]
        except BaseException:
            self.stop.set()
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures, timeout=INTERRUPT_GRACE)
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def _record(self, result: ImageResult) -> None:
        self.report.results.append(result)
        if self.options.on_result is not None:
            self.options.on_result(result)

    # -- one image --------------------------------------------------------------------------

    def _contexts(self, item: WorkItem) -> tuple[SystemContext, SystemContext]:
        """The image's source and destination contexts, bounded by the run's deadline."""
        src, dest = item.source_ctx, self.dest_ctx
        if self.deadline is not None:  # every request of this image ends by the run's deadline
            left = max(0.001, self.deadline - time.monotonic())
            src, dest = dataclasses.replace(src, command_timeout=left), dataclasses.replace(dest, command_timeout=left)
        return src, dest

    def _sync_one(self, item: WorkItem) -> ImageResult:
        """One image, as the module docstring numbers the steps; never raises a TrustcopyError or an OSError."""
        start = time.monotonic()
        source = str(item.source)

        def result(outcome: Outcome, digest: Digest | None = None, error: TrustcopyError | None = None,
                   destination: str = item.destination) -> ImageResult:
            if outcome in (Outcome.REJECTED, Outcome.FAILED) and not self.options.keep_going:
                self.stop.set()
            return ImageResult(item.entry, source, destination, outcome, digest, error, time.monotonic() - start)

        if self.stop.is_set():
            return result(Outcome.NOT_ATTEMPTED)
        src_ctx, dest_ctx = self._contexts(item)
        try:
            from trustcopy.copy.evaluate import rejection_without_reading

            refused = rejection_without_reading(self.policy, item.source)
            if refused is not None:
                return result(Outcome.REJECTED, error=refused)
            if self.options.skip_identical:
                same = self._identical(item, src_ctx, dest_ctx)
                if same is not None:
                    return result(Outcome.SKIPPED, same)
            # skip_identical=False: step 2 asked already (or was told not to).
            copy = dataclasses.replace(self.options.copy, source_ctx=src_ctx, dest_ctx=dest_ctx,
                                       max_parallel=self.max_parallel, report=None, skip_identical=False)
            if self.options.dry_run:
                from trustcopy.copy.evaluate import evaluate_image

                evaluation = evaluate_image(self.policy, item.source, copy)
                evaluation.raise_if_rejected()
                if item.kind is DestinationKind.DIR and os.path.lexists(item.target):
                    # What the copy would refuse at its destination (a file, a directory that is not an
                    # image) is a failure a dry run predicts; skopeo's dry run refuses it too.
                    from trustcopy.transports.dir import DirReference, check_destination

                    dir_ref = item.destination_reference()
                    assert isinstance(dir_ref, DirReference)
                    check_destination(dir_ref)
                return result(Outcome.WOULD_COPY, evaluation.digest)
            if item.kind is DestinationKind.DIR:
                _make_parent(item.target)
            dest_ref = item.destination_reference()
            from trustcopy.copy.pipeline import copy_image

            copied = copy_image(self.policy, dest_ref, item.source, copy)
            return result(Outcome.COPIED, copied.digest, destination=str(dest_ref))
        except PolicyRejected as exc:
            return result(Outcome.REJECTED, error=exc)
        except TrustcopyError as exc:
            return result(Outcome.FAILED, error=exc)
        except OSError as exc:
            # A local file the transports did not wrap (a full disk, EIO): this image's failure.
            # Raised on, it would end the whole run, --keep-going or not, and lose the report.
            return result(Outcome.FAILED, error=_os_failure(exc))

    def _identical(self, item: WorkItem, src_ctx: SystemContext, dest_ctx: SystemContext) -> Digest | None:
        """The digest both sides hold, when the destination already has what a copy would write."""
        from trustcopy.sync.probe import destination_digest, source_head

        held = destination_digest(item, dest_ctx, push=not self.options.dry_run)
        if held is None:
            return None
        digest, media_type = source_head(item.source, src_ctx)
        if digest is not None and digest == held:
            return held
        if self.options.copy.image_list_selection is ImageListSelection.SYSTEM and _is_list(media_type):
            from trustcopy.sync.probe import chosen_instance

            if chosen_instance(item.source, src_ctx) == held:
                return held
        return None


def _resolve(entry: Entry) -> list[ImageReference] | TrustcopyError:
    try:
        return entry.resolve()
    except TrustcopyError as exc:
        return exc


def _os_failure(exc: OSError) -> TrustcopyError:
    """An OSError of one image as a TransportError naming the file (when the error does)."""
    from trustcopy.errors import TransportError

    where = f"{exc.filename}: " if exc.filename else ""
    return TransportError(f"{where}{exc.strerror or exc}", code="transport")


def _is_list(media_type: str) -> bool:
    from trustcopy.manifest.mediatypes import is_list

    return bool(media_type) and is_list(media_type)


def _make_parent(target: str) -> None:
    """Create the parent directories of a ``dir:`` destination (skopeo creates the whole path).

    Raises:
        TransportError: they cannot be created.
    """
    from trustcopy.errors import TransportError

    parent = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise TransportError(f"cannot create {parent}: {exc.strerror or exc}", code="destination-unwritable") from exc
