"""JSON bytes as Go's ``encoding/json`` writes them.

Manifests, index.json files and signature payloads are hashed, so the exact bytes
matter: producing what containers/image produces keeps digests identical to skopeo's
for the same logical content. Go's Marshal is compact, keeps struct-field order (we
keep dict insertion order, so callers build dicts in Go's field order), sorts map keys,
writes non-ASCII as UTF-8, and escapes ``<``, ``>``, ``&``, U+2028 and U+2029.
"""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TABLE = str.maketrans(_ESCAPES)


def go_marshal(value: Any) -> bytes:
    """Serialize like Go's json.Marshal of the equivalent struct (see module doc)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.translate(_TABLE).encode("utf-8")


def sorted_map(mapping: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy with keys sorted, as Go marshals a ``map[string]…``."""
    if mapping is None:
        return None
    return {k: mapping[k] for k in sorted(mapping)}
