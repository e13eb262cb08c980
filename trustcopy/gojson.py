"""JSON bytes as Go's ``encoding/json`` Marshal writes them.

Manifests, index.json files and signature payloads are hashed, so the exact bytes
matter: producing what containers/image produces keeps digests identical to skopeo's
for the same logical content. Go's Marshal is compact, keeps struct-field order (we
keep dict insertion order, so callers build dicts in Go's field order and apply
``omitempty`` themselves), sorts map keys, writes non-ASCII as UTF-8, spells control
characters ``\\u0008``/``\\u000c`` (not ``\\b``/``\\f``), and escapes ``<``, ``>``, ``&``,
U+2028 and U+2029. This is the one encoder; manifest/_gojson.py re-exports it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Python's escape sequences; matching whole sequences keeps "\\\\b" (a backslash, then b) intact.
_ESCAPE = r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})'  # compiled on first use (re's cache)
_GO_FOR_PY = {"b": "\\u0008", "f": "\\u000c"}
_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _go_escape(m: re.Match[str]) -> str:
    return _GO_FOR_PY.get(m.group(1), m.group(0))


def go_marshal(value: Any) -> bytes:
    """Serialize like Go's json.Marshal of the equivalent struct (see module doc)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return re.sub(_ESCAPE, _go_escape, text).translate(_HTML).encode("utf-8")


def sorted_map(mapping: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy with keys sorted (code-point order), as Go marshals a ``map[string]…``."""
    if mapping is None:
        return None
    return {k: mapping[k] for k in sorted(mapping)}
