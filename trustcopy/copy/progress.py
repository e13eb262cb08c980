"""Progress of a copy as data: events the pipeline emits and the CLI renders.

The library never prints. A caller passes ``CopyOptions.progress`` (a callable taking
:data:`ProgressEvent`) and decides what to show: the CLI draws live bars on a terminal,
prints skopeo's plain lines elsewhere, and nothing with ``--quiet``
(:mod:`trustcopy.cli.render`). :func:`plain_line` gives each event's one-line text, the
form non-terminal output and ``CopyOptions.report`` use.

Events of one blob come in order (started, progress…, done) from the thread copying it;
events of different blobs interleave. A sink must be cheap and thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable

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
class Status:
    """Something slow is happening (a retry's wait, a daemon preparing an image); shown with --debug."""

    text: str


ProgressEvent = Message | BlobStarted | BlobProgress | BlobDone | Status
ProgressSink = Callable[[ProgressEvent], None]


def plain_line(event: ProgressEvent) -> str | None:
    """The event as one line of skopeo's non-terminal output, or None for events with no line.

    ``Copying blob sha256:<hex> done`` (skopeo prints full digests when not on a
    terminal); progress events and statuses have no plain line.
    """
    if isinstance(event, Message):
        return event.text
    if isinstance(event, BlobDone):
        return f"Copying {event.kind} {event.info.digest} {event.outcome}"
    return None
