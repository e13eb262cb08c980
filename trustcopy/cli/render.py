"""Rendering of errors and copy progress for the terminal.

Errors: plain text on stderr, one line per error plus an optional hint, so CI logs stay
greppable. Kept free of heavy imports: it runs on every failing command.

Progress (:class:`ProgressRenderer`) follows skopeo: when stdout is a terminal, one live
line per blob with a bar, size and speed (rich), and a summary line at the end; when it
is not (CI logs, pipes), skopeo 1.9.3's plain lines (``Copying blob sha256:…`` for each
layer in the manifest's order, ``Copying config sha256:…``, ``Writing manifest to image
destination``, ``Storing signatures``: trustcopy.copy.progress.plain_line), each written
whole under one lock, and nothing that redraws. ``--quiet`` builds no renderer at all. Statuses of long waits
(retries, a daemon preparing an image) are logged with ``--debug`` only.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

import click

from trustcopy.errors import TrustcopyError


def render_error(exc: TrustcopyError) -> None:
    """Print ``error[code]: message`` and the hint on stderr (every known secret masked: redact.scrub)."""
    from trustcopy.redact import scrub

    click.echo(scrub(exc.diagnostics()), err=True)


class ProgressRenderer:
    """A progress sink for CopyOptions.progress; use it as a context manager around the copy.

    Args:
        debug: show status events (long waits) as debug log lines.
        live: force live (terminal) or plain rendering; None decides by ``isatty``.
    """

    def __init__(self, *, debug: bool = False, live: bool | None = None) -> None:
        self._debug = debug
        self._live = sys.stdout.isatty() if live is None else live
        self._lock = threading.Lock()
        self._progress: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}
        self._started = time.monotonic()
        self._blobs = 0
        self._bytes = 0

    def __enter__(self) -> ProgressRenderer:
        if self._live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=40), DownloadColumn(binary_units=True),
                TransferSpeedColumn(), TextColumn("{task.fields[outcome]}"),
                console=Console(file=sys.stdout), transient=False, refresh_per_second=8)
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
            if exc is None and self._blobs:
                elapsed = max(time.monotonic() - self._started, 1e-6)
                click.echo(f"Copied {self._blobs} blob{'s' if self._blobs != 1 else ''} "
                           f"({_size(self._bytes)}) in {elapsed:.1f}s ({_size(self._bytes / elapsed)}/s)")

    def __call__(self, event: object) -> None:
        """Render one event (see trustcopy.copy.progress)."""
        from trustcopy.copy.progress import BlobDone, BlobProgress, BlobStarted, Message, Status, plain_line

        with self._lock:
            if isinstance(event, Status):
                if self._debug:
                    logging.getLogger("trustcopy.progress").debug("%s", event.text)
                return
            if isinstance(event, BlobDone):
                self._blobs += 1
                self._bytes += event.bytes_read
            if self._progress is None:
                line = plain_line(event)  # type: ignore[arg-type]
                if line is not None:
                    click.echo(line)
                return
            if isinstance(event, Message):
                self._progress.console.print(event.text, markup=False, highlight=False)
            elif isinstance(event, BlobStarted):
                total = event.info.size if event.info.size >= 0 else None
                self._tasks[(event.kind, str(event.info.digest))] = self._progress.add_task(
                    f"Copying {event.kind} {event.info.digest.hex[:12]}", total=total, outcome="")
            elif isinstance(event, BlobProgress):
                task = self._tasks.get((event.kind, str(event.info.digest)))
                if task is not None:
                    self._progress.update(task, completed=event.done)
            elif isinstance(event, BlobDone):
                key = (event.kind, str(event.info.digest))
                task = self._tasks.get(key)
                if task is None:
                    task = self._progress.add_task(f"Copying {event.kind} {event.info.digest.hex[:12]}",
                                                   total=event.info.size if event.info.size > 0 else 1, outcome="")
                total = event.bytes_read or (event.info.size if event.info.size > 0 else 1)
                self._progress.update(task, total=total, completed=total, outcome=event.outcome)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"
