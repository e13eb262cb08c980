"""Which requests the proxy variables apply to.

httpx reads ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY`` as Go's net/http does, but Go
also never proxies ``localhost`` or a loopback address, whatever the variables say. A CI
runner typically has both a proxy for the outside and a registry on ``localhost:5000``
that the proxy cannot reach: skopeo talks to that registry directly, and so must we.
"""

from __future__ import annotations

#: httpx URL patterns (any scheme, any port) of the hosts every client reaches directly.
#: Other 127.0.0.0/8 addresses cannot be written as a pattern; they follow the variables.
NEVER_PROXIED = ("all://localhost", "all://127.0.0.1", "all://[::1]")


def direct_mounts() -> dict[str, None]:
    """``httpx.Client(mounts=...)``: ``None`` is the client's own (direct) transport for these hosts."""
    return dict.fromkeys(NEVER_PROXIED)
