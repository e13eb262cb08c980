"""The human trace of an evaluation: why each judged image was accepted or rejected.

One plain-text rendering serves every place a person reads a verdict: ``policy explain``
(text output), ``verify`` (the trace of a rejected image), ``policy test`` (a failing
case), and the JUnit reports (failure bodies). Keeping it here, in the library, means
those four can never describe the same verdict differently; cli/ only adds colour.

Each line is a :class:`TraceLine`: an indent, an optional *mark* (``ACCEPTED``,
``REJECTED``, ``ok``, ``FAIL``) that a terminal may colour, and the rest of the text.
``str(line)`` is the plain form. Nothing here imports a terminal library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trustcopy.lazy import dataclass

if TYPE_CHECKING:
    from trustcopy.copy.evaluate import Evaluation

#: Marks a renderer may style: the good ones green, the bad ones red.
GOOD_MARKS = frozenset({"ACCEPTED", "ok  "})
BAD_MARKS = frozenset({"REJECTED", "FAIL"})


@dataclass(frozen=True)
class TraceLine:
    """One line of a trace: ``indent`` + ``mark`` + a space + ``text`` (no space without a mark)."""

    indent: str
    mark: str
    text: str

    @property
    def good(self) -> bool | None:
        """True for a good mark, False for a bad one, None for no mark."""
        if self.mark in GOOD_MARKS:
            return True
        if self.mark in BAD_MARKS:
            return False
        return None

    def __str__(self) -> str:
        return f"{self.indent}{self.mark} {self.text}" if self.mark else f"{self.indent}{self.text}"


def evaluation_trace(evaluation: Evaluation, indent: str = "") -> list[TraceLine]:
    """The trace of one evaluation: one block per judged image (one, or each planned instance of a list)."""
    if not evaluation.is_list:
        return verdict_trace(evaluation.verdicts[0].verdict, indent)
    count = len(evaluation.verdicts)
    lines = [TraceLine(indent, "ACCEPTED" if evaluation.allowed else "REJECTED",
                       f"{evaluation.image} (manifest list {evaluation.digest}; {count} "
                       f"instance{'s' if count != 1 else ''} judged, as copy would take them)")]
    for planned in evaluation.verdicts:
        platform = f" ({planned.platform})" if planned.platform else ""
        lines.append(TraceLine(indent, "", f"instance {planned.instance_digest}{platform}:"))
        lines.extend(verdict_trace(planned.verdict, indent + "  "))
    return lines


def verdict_trace(verdict: Any, indent: str = "") -> list[TraceLine]:
    """One verdict: outcome, scope, each requirement and each signature."""
    lines = [
        TraceLine(indent, "ACCEPTED" if verdict.allowed else "REJECTED", verdict.image),
        TraceLine(indent, "", f"  scope:   {verdict.scope_label} ({verdict.scope_kind}; identity "
                              f"{verdict.identity!r})"),
    ]
    if verdict.overridden:
        lines.append(TraceLine(indent, "", f"  overrides: {', '.join(verdict.overridden)}"))
    if verdict.require_signed:
        satisfied = "satisfied" if verdict.signature_verified else "not satisfied"
        lines.append(TraceLine(indent, "", f"  --require-signed: {satisfied}"))
    lines.append(TraceLine(indent, "", f"  reason:  {verdict.reason}: {verdict.message}"))
    for req in verdict.requirements:
        lines.append(TraceLine(indent + "  ", "ok  " if req.allowed else "FAIL", f"{req.path}: {req.description}"))
        # The deciding requirement's reason is the verdict's, printed just above: not again
        # (a one-requirement rejection printed the same long sentence twice here).
        same = (req.reason, req.message) == (verdict.reason, verdict.message)
        lines.append(TraceLine(indent, "", "         (the reason above)" if same else
                               f"         {req.reason}: {req.message}"))
        for sig in req.signatures:
            lines.extend(_signature_lines(sig, indent))
    return lines


def _signature_lines(sig: Any, indent: str) -> list[TraceLine]:
    facts = [f"signature {sig.index} ({sig.format}) {sig.status} {sig.reason}"]
    if sig.location:
        facts.append(f"at {sig.location}")
    if sig.key_fingerprint:
        facts.append(f"key {sig.key_fingerprint}")
    if sig.claimed_identity:
        facts.append(f"claims {sig.claimed_identity!r}")
    if sig.expected_identity:
        facts.append(f"expected {sig.expected_identity}")
    lines = [TraceLine(indent, "", f"           - {'; '.join(facts)}")]
    if sig.status != "accepted" and sig.message:
        lines.append(TraceLine(indent, "", f"             {sig.message}"))
    return lines


def trace_text(lines: list[TraceLine]) -> str:
    """The plain text of a trace, one line each, newline-terminated."""
    return "".join(f"{line}\n" for line in lines)
