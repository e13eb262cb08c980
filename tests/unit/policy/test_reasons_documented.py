"""The reason codes (trustcopy.reasons.Reason) and docs/policy.md's table list the same codes."""

from __future__ import annotations

import re
from pathlib import Path

from trustcopy.reasons import Reason

DOC = Path(__file__).resolve().parents[3] / "docs" / "policy.md"


def _documented() -> set[str]:
    text = DOC.read_text()
    table = text[text.index("## Reason codes"):]
    table = table[: table.index("\n## ", 1)]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.M))


def test_every_reason_is_documented_and_every_documented_code_exists() -> None:
    assert _documented() == {r.value for r in Reason}


def test_reasons_are_their_own_json_form() -> None:
    import json

    assert json.dumps({"reason": Reason.DIGEST_MISMATCH}) == '{"reason": "DIGEST_MISMATCH"}'
    assert f"{Reason.NO_SIGNATURES}" == "NO_SIGNATURES"
