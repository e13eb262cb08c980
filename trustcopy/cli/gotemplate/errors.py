"""The two failures of a --format template: the user's error (TemplateError), a function's (GoError)."""

from __future__ import annotations

from trustcopy.errors import TrustcopyError


class TemplateError(TrustcopyError):
    """A --format template that cannot be parsed or executed (exit 1, as skopeo)."""

    default_code = "template-invalid"


class GoError(Exception):
    """An error a template function returns (Go: ``error calling NAME: …``); the executor names the call."""
