"""The ``docker://`` transport: a Registry HTTP API V2 client on httpx.

Modules: reference.py (parsing, policy scopes), challenge.py + auth.py (WWW-Authenticate,
credentials, tokens), authfile.py (containers-auth.json), certs.py (TLS), errors.py (the
one place mapping httpx/registry failures), client.py (ping, retries, redirects),
blobreader.py (resumable downloads), session.py (RegistrySession: pings, TLS contexts,
connection pools and mount candidates shared by one command, passed down in
``SystemContext.registry_session``), source.py and destination.py (the
ImageSource/ImageDestination).

Start-up: ``import httpx`` also imports httpx's own command-line client (rich, pygments:
about 50 ms) unless ``httpx._main`` is already in ``sys.modules``. We never use that CLI,
so a placeholder is registered here, before any module of this package imports httpx;
it changes nothing if httpx was imported earlier.
"""

from __future__ import annotations

import sys
import types

if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    _placeholder = types.ModuleType("httpx._main")

    def _no_cli() -> None:
        """httpx's CLI is not available inside trustcopy."""
        raise SystemExit("the httpx command-line client is not available in this process")

    _placeholder.main = _no_cli  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = _placeholder
