"""Progress of a copy as data: events the pipeline emits and the CLI renders.

The library never prints. A caller passes ``CopyOptions.progress`` (a callable taking
:data:`ProgressEvent`) and decides what to show: the CLI draws live bars on a terminal,
prints skopeo's plain lines elsewhere, and nothing with ``--quiet``
(:mod:`trustcopy.cli.render`). :func:`plain_line` gives each event's one-line text, the
form non-terminal output and ``CopyOptions.report`` use.

Events of one blob come in order (started, progress…, done) from the thread copying it;
events of different blobs interleave. A sink must be cheap and thread-safe.

The plain lines are skopeo 1.9.3's (containers/image 5.23 writing to a stream that is not
a terminal): ``Copying blob sha256:<hex>`` once per layer of the manifest, in the
manifest's order, then ``Copying config sha256:<hex>``, with no outcome (skopeo's
"done" and "skipped: already exists" belong to its terminal bars). Blobs are copied
concurrently and finish in any order, so those lines come from :class:`BlobAnnounced`
events, which :class:`ManifestOrder` releases in the manifest's order as each blob
starts; the per-blob events stay for live displays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from trustcopy.lazy import dataclass
from trustcopy.types import BlobInfo


@dataclass(frozen=True)
class Message:
    """A step of the copy ("Getting image source signatures", "Writing manifest …")."""

    text: str


@dataclass(frozen=True)
class BlobStarted:
    """A blob (``kind`` "blob" or "config") starts copying; ``info.size`` is -1 when unknown."""

    kind: str
    info: BlobInfo


@dataclass(frozen=True)
class BlobProgress:
    """``done`` bytes of the blob were read from the source so far."""

    kind: str
    info: BlobInfo
    done: int


@dataclass(frozen=True)
class BlobDone:
    """A blob finished: ``outcome`` is "done", "skipped: already exists", "done (compressed)" …

    ``stored`` is the blob as the destination has it (digest and size may differ from
    ``info`` when it was compressed or decompressed on the way).
    """

    kind: str
    info: BlobInfo
    outcome: str
    stored: BlobInfo | None = None
    bytes_read: int = 0


@dataclass(frozen=True)
class BlobAnnounced:
    """skopeo's ``Copying blob …``/``Copying config …`` line for one entry of the manifest.

    One per layer entry (a digest listed twice is announced twice, though copied once),
    in the manifest's order, each once its blob and every earlier one have started (or
    were found at the destination); the config's after every layer's. ``info`` is the
    blob as the source manifest names it (the converted config when a conversion wrote
    one). Live displays ignore it: they draw the per-blob events.
    """

    kind: str
    info: BlobInfo


@dataclass(frozen=True)
class Status:
    """Something slow is happening (a retry's wait, a daemon preparing an image); shown with --debug."""

    text: str


ProgressEvent = Message | BlobStarted | BlobProgress | BlobDone | BlobAnnounced | Status
ProgressSink = Callable[[ProgressEvent], None]


def plain_line(event: ProgressEvent) -> str | None:
    """The event as one line of skopeo's non-terminal output, or None for events with no line.

    ``Copying blob sha256:<hex>`` (skopeo prints full digests, and no outcome, when not on
    a terminal) for :class:`BlobAnnounced`; a message's text; the per-blob events and
    statuses have no plain line.
    """
    if isinstance(event, Message):
        return event.text
    if isinstance(event, BlobAnnounced):
        return f"Copying {event.kind} {event.info.digest}"
    return None


class ManifestOrder:
    """A sink passing every event on, and adding :class:`BlobAnnounced` events in the manifest's order.

    Why: containers/image announces each layer as its copy starts, in the manifest's order
    (it starts them in that order), and the config once the layers are copied. trustcopy
    starts blobs in the source's preferred order (an archive's member order), copies the
    config alongside the layers and a repeated digest once, so the started events alone
    would print skopeo's lines in another order, and one line short.

    Args:
        layers: the manifest's layers, in its order.
        config: the config blob copied with them, or None (none, or one the conversion writes).
        sink: where every event goes.
    """

    def __init__(self, layers: Sequence[BlobInfo], config: BlobInfo | None, sink: ProgressSink) -> None:
        self._pending: list[tuple[str, BlobInfo]] = [("blob", info) for info in layers]
        if config is not None:
            self._pending.append(("config", config))
        self._started: set[tuple[str, str]] = set()
        self._next = 0
        self._sink = sink
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        """Pass ``event`` on; a blob that starts (or is found at the destination) may release announcements."""
        with self._lock:
            self._sink(event)
            if isinstance(event, BlobStarted | BlobDone):
                self._started.add((event.kind, str(event.info.digest)))
                while self._next < len(self._pending):
                    kind, info = self._pending[self._next]
                    if (kind, str(info.digest)) not in self._started:
                        break
                    self._next += 1
                    self._sink(BlobAnnounced(kind, info))
