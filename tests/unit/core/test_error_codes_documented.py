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


def test_rewrapped_error_is_a_new_error_of_the_same_kind() -> None:
    """Callers add context by raising a copy ``from`` the original, which stays unchanged."""
    from trustcopy.errors import RegistryHTTPError, SignatureVerificationError

    original = SignatureVerificationError("bad digest", reason="DIGEST_MISMATCH", code="signature-rejected",
                                          hint="h", context={"k": "v"})
    new = original.rewrapped("image x: bad digest", exit_status=2)
    assert type(new) is SignatureVerificationError
    assert (new.reason, new.code, new.hint, new.context, new.exit_status) == ("DIGEST_MISMATCH",
                                                                          "signature-rejected", "h", {"k": "v"}, 2)
    assert str(new) == new.message == "image x: bad digest"
    assert (str(original), original.exit_status) == ("bad digest", 1)
    assert new.context is not original.context
    http = RegistryHTTPError("boom", status=503).rewrapped("listing: boom")
    assert http.status == 503 and str(http) == "listing: boom"
