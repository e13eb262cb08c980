"""Rendering of errors (and, later, verdicts and progress) for the terminal.

Plain text on stderr, one line per error plus an optional hint, so CI logs stay
greppable. Kept free of heavy imports: it runs on every failing command.
"""

from __future__ import annotations

import click

from trustcopy.errors import TrustcopyError


def render_error(exc: TrustcopyError) -> None:
    """Print ``error[code]: message`` and the hint on stderr."""
    click.echo(exc.diagnostics(), err=True)
