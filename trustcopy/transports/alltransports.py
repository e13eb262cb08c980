"""The table of transports and the parser for ``transport:reference`` names.

Transports are imported lazily, by name, so that ``trustcopy --version`` does not pay
for httpx or gpg. Adding a transport is one line in :data:`_TRANSPORTS`. Every entry is a
module of this package: the table is declared, never discovered (a test imports each).
"""

from __future__ import annotations

import importlib

from trustcopy.errors import InvalidReferenceError
from trustcopy.transports.base import ImageReference, ImageTransport

# name → (module, attribute, one-line syntax for --help)
_TRANSPORTS: dict[str, tuple[str, str, str]] = {
    "dir": ("trustcopy.transports.dir", "TRANSPORT", "dir:PATH"),
    "oci": ("trustcopy.transports.oci_layout", "TRANSPORT", "oci:PATH[:REF|:@INDEX]"),
    "oci-archive": ("trustcopy.transports.oci_archive", "TRANSPORT", "oci-archive:PATH[:REF|:@INDEX]"),
    "docker": ("trustcopy.transports.docker.reference", "TRANSPORT", "docker://NAME[:TAG|@DIGEST]"),
    "docker-archive": (
        "trustcopy.transports.docker_archive",
        "TRANSPORT",
        "docker-archive:PATH[:NAME[:TAG]|:@INDEX]",
    ),
    "docker-daemon": (
        "trustcopy.transports.docker_daemon",
        "TRANSPORT",
        "docker-daemon:NAME:TAG|docker-daemon:sha256:ID",
    ),
    "tarball": ("trustcopy.transports.tarball", "TRANSPORT", "tarball:PATH[:PATH...]"),
}

_loaded: dict[str, ImageTransport] = {}


def known_transport_names() -> list[str]:
    """Names of every transport, sorted."""
    return sorted(_TRANSPORTS)


def transport_syntax_lines() -> list[str]:
    """``name: syntax`` lines for ``--help``."""
    return [_TRANSPORTS[n][2] for n in known_transport_names()]


def get_transport(name: str) -> ImageTransport | None:
    """The transport called ``name``, or None when unknown or not built in."""
    if name in _loaded:
        return _loaded[name]
    entry = _TRANSPORTS.get(name)
    if entry is None:
        return None
    module = importlib.import_module(entry[0])
    transport: ImageTransport = getattr(module, entry[1])
    _loaded[name] = transport
    return transport


#: The longest image name a message quotes in full (the context keeps all of it): a
#: 100,000-character name must not become a 100,000-character error line.
_SHOWN_MAX = 300


def parse_image_name(image_name: str) -> ImageReference:
    """Parse ``transport:reference`` as skopeo's ``alltransports.ParseImageName``.

    Args:
        image_name: e.g. ``dir:/tmp/x``, ``oci:layout:tag``, ``docker://busybox``.

    Returns:
        The transport's reference.

    Raises:
        InvalidReferenceError: no ``:``, an unknown transport, or a reference the
            transport refuses (the message names the input and the rule broken).
    """
    name, sep, rest = image_name.partition(":")
    shown = image_name if len(image_name) <= _SHOWN_MAX else image_name[:_SHOWN_MAX] + "..."
    if not sep:
        raise InvalidReferenceError(
            f'invalid image name "{shown}", expected colon-separated transport:reference',
            context={"reference": image_name},
            hint="known transports: " + ", ".join(known_transport_names()),
        )
    transport = get_transport(name)
    if transport is None:
        raise InvalidReferenceError(
            f'invalid image name "{shown}", unknown transport "{name[:_SHOWN_MAX]}"',
            code="unknown-transport",
            context={"reference": image_name},
            hint="known transports: " + ", ".join(known_transport_names()),
        )
    try:
        return transport.parse_reference(rest)
    except InvalidReferenceError as exc:
        if image_name in exc.message:
            raise
        raise InvalidReferenceError(
            f'invalid image name "{shown}": {exc.message}',
            code=exc.code,
            context={"reference": image_name, **exc.context},
            hint=exc.hint,
        ) from exc
