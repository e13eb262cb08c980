"""The two failures of a --format template: the user's error (TemplateError), a function's (GoError).

Also the bounds a template runs within (see the package docstring): Go has none and would take
the memory or the time; trustcopy fails with a TemplateError naming the bound instead.
"""

from __future__ import annotations

from trustcopy.errors import TrustcopyError

#: The longest text a template may build, as one value or as its whole output (characters).
MAX_TEXT = 64 * 1024 * 1024
#: The most parts ``split`` may cut a text into (a list of a million short strings is some 60 MB).
MAX_SPLIT_PARTS = 1_000_000
#: The deepest nesting of parentheses, {{if}}/{{with}}/{{range}} and {{block}} the parser accepts.
MAX_NESTING = 100
#: The deepest chain of {{template}} calls (Go: 100,000).
MAX_TEMPLATE_DEPTH = 100
#: The most actions, text pieces and range iterations one run executes.
MAX_STEPS = 10_000_000


class TemplateError(TrustcopyError):
    """A --format template that cannot be parsed or executed (exit 1, as skopeo)."""

    default_code = "template-invalid"


class GoError(Exception):
    """An error a template function returns (Go: ``error calling NAME: …``); the executor names the call."""


def check_text_size(size: int) -> None:
    """Refuse (before building it) a text longer than MAX_TEXT: Go would allocate it, or run out of memory."""
    if size > MAX_TEXT:
        raise GoError(f"the result would be {size} characters long, more than trustcopy's limit of {MAX_TEXT}")
