"""docs/ARCHITECTURE.md lists every module with its docstring's first line: the list cannot drift."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _listed() -> dict[str, str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    start = text.index("```\n", text.index("## Modules (one line each")) + 4
    block = text[start:text.index("```", start)]
    return {line[:45].strip(): line[45:] for line in block.splitlines() if line.strip()}


def _modules() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "trustcopy").rglob("*.py")):
        doc = (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
        if doc:  # package __init__ files without a docstring are not listed
            out[path.relative_to(ROOT / "trustcopy").as_posix()] = doc.splitlines()[0]
    return out


def test_every_module_is_listed_with_its_docstring() -> None:
    assert _listed() == _modules()
