"""The outcome of a sync: one result per image (or failed entry), a summary, and the digest file.

Outcomes, and what each promises:

- ``copied``: the policy accepted the image (every planned instance) and the destination
  committed it; ``digest`` is the manifest as written.
- ``skipped``: the destination already held exactly the manifest the source names
  (``digest``); nothing was written and the policy was not consulted (sync/run.py says
  why that is safe). It is *not* a statement that the policy accepts the image.
- ``would copy`` (``--dry-run``): the policy accepts it; nothing was written.
- ``rejected``: the policy refused it; nothing was written (``error`` is the PolicyRejected).
- ``failed``: anything else went wrong, for the image or for a whole entry (a bad regex,
  a missing repository); nothing of it is visible at the destination.
- ``not attempted``: without ``--keep-going``, what was left when the first rejection or
  failure stopped the sync.

A sync succeeded (exit status 0) only when every result is copied, skipped or would copy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING

from trustcopy.lazy import dataclass

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.errors import TrustcopyError


class Outcome(StrEnum):
    """What happened to one image (see the module docstring)."""

    COPIED = "copied"
    SKIPPED = "skipped"
    WOULD_COPY = "would copy"
    REJECTED = "rejected"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


#: Outcomes that count as success.
SUCCESS = frozenset({Outcome.COPIED, Outcome.SKIPPED, Outcome.WOULD_COPY})


@dataclass(frozen=True)
class ImageResult:
    """One image's outcome (or a failed entry's, with ``source`` naming the entry)."""

    entry: str
    source: str
    destination: str | None
    outcome: Outcome
    digest: Digest | None = None
    error: TrustcopyError | None = None
    seconds: float = 0.0

    def line(self) -> str:
        """``SOURCE -> DESTINATION`` plus the digest or the error, for the one line per image."""
        text = self.source if self.destination is None else f"{self.source} -> {self.destination}"
        if self.error is not None:
            return f"{text}: error[{self.error.code}]: {self.error.message}"
        if self.digest is not None:
            suffix = " (identical)" if self.outcome is Outcome.SKIPPED else ""
            return f"{text} {self.digest}{suffix}"
        return text


@dataclass
class SyncReport:
    """Every result, in plan order, and the warnings met on the way."""

    results: list[ImageResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Whether every image was copied, skipped as identical, or (dry run) would be copied."""
        return all(r.outcome in SUCCESS for r in self.results)

    @property
    def exit_status(self) -> int:
        """0 when :attr:`ok`, else 1."""
        return 0 if self.ok else 1

    def count(self, outcome: Outcome) -> int:
        """How many results have ``outcome``."""
        return sum(1 for r in self.results if r.outcome is outcome)

    def summary(self) -> str:
        """One line of counts, then the rejected and failed images (the ones to act on)."""
        counts = Counter(r.outcome for r in self.results)
        first = Outcome.WOULD_COPY if self.dry_run else Outcome.COPIED
        parts = [f"{counts[first]} {first}", f"{counts[Outcome.SKIPPED]} skipped (identical)",
                 f"{counts[Outcome.REJECTED]} rejected by policy", f"{counts[Outcome.FAILED]} failed"]
        if counts[Outcome.NOT_ATTEMPTED]:
            parts.append(f"{counts[Outcome.NOT_ATTEMPTED]} not attempted (stopped at the first failure; "
                         "--keep-going goes on)")
        lines = [f"{'dry run: ' if self.dry_run else ''}sync of {len(self.results)} images: " + ", ".join(parts)]
        for outcome, title in ((Outcome.REJECTED, "rejected by policy"), (Outcome.FAILED, "failed")):
            bad = [r for r in self.results if r.outcome is outcome]
            if bad:
                lines.append(f"{title}:")
                lines.extend(f"  {r.line()}" for r in bad)
        return "\n".join(lines)

    def digest_lines(self) -> list[str]:
        """``DIGEST DESTINATION`` for each image now at the destination (copied or identical), as skopeo writes."""
        return [f"{r.digest} {r.destination}" for r in self.results
                if r.outcome in (Outcome.COPIED, Outcome.SKIPPED) and r.digest is not None]

    def write_digestfile(self, path: str) -> None:
        """Write :meth:`digest_lines` to ``path`` (replaced atomically; empty when nothing arrived).

        Raises:
            TransportError: the file cannot be written.
        """
        from trustcopy.errors import TransportError
        from trustcopy.fsutil import write_user_file

        text = "".join(f"{line}\n" for line in self.digest_lines())
        try:
            write_user_file(path, text.encode())
        except OSError as exc:
            raise TransportError(f"cannot write digest file {path}: {exc.strerror or exc}",
                                 code="file-unwritable") from exc
