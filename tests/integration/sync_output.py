"""Reading ``trustcopy sync``'s per-image report lines in tests."""

from __future__ import annotations

import re

_LINE = re.compile(r"^(COPIED|SKIPPED|WOULD COPY|REJECTED|FAILED|NOT ATTEMPTED)\s+(.*)$")


def outcomes(stdout: str) -> dict[str, list[str]]:
    """Outcome → the lines' text (``SOURCE -> DESTINATION …`` or ``ENTRY: error…``); any other line fails."""
    out: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        m = _LINE.match(line)
        assert m, f"unexpected output line: {line!r}"
        out.setdefault(m.group(1), []).append(m.group(2))
    return out
