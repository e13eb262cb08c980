"""Every error code used in the code is documented in docs/errors.md (codes are API)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_LITERAL = re.compile(r'(?:code=|default_code = |_UNSUPPORTED = )"([a-z0-9-]+)"')
_REFERENCE = re.compile(r'"(reference-[a-z-]+)"')


def _codes_in_code() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "trustcopy").rglob("*.py"):
        text = path.read_text()
        codes.update(_LITERAL.findall(text))
        if path.name == "reference.py":
            codes.update(_REFERENCE.findall(text))
    return codes


def test_every_error_code_is_documented() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"`([a-z0-9-]+)`", doc))
    codes = _codes_in_code()
    assert len(codes) > 40
    assert sorted(codes - documented) == []


def test_error_classes_render_one_line_with_code() -> None:
    from trustcopy.errors import RegistryHTTPError, TrustcopyError

    err = RegistryHTTPError("registry said no", status=418, hint="try again later")
    assert isinstance(err, TrustcopyError)
    assert err.diagnostics() == "error[registry-http]: registry said no\n  hint: try again later"
    assert str(err) == "registry said no"
