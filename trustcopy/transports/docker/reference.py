"""The ``docker:`` transport's references: ``docker://NAME[:TAG|@DIGEST]``, and its policy scopes.

Parsing follows newest containers/image ``docker_transport.go``: the ``//`` prefix is
required; names are normalized (``busybox`` → ``docker.io/library/busybox``); a name
without tag or digest gets ``:latest``; a reference with both a tag and a digest is
refused; ``NAME@@unknown-digest@@`` names a push target without a tag.

Policy scopes (``docker/policyconfiguration``): the identity is the full normalized
reference (``docker.io/library/busybox:latest``); the namespaces are the repository, each
parent namespace, the ``host[:port]``, then ``*.example.com``-style wildcards of the host
(port stripped), most specific first. Both rules live in :mod:`trustcopy.reference`
(:func:`~trustcopy.reference.docker_reference_identity`,
:func:`~trustcopy.reference.docker_reference_namespaces`), shared with registries.d's
section lookup.

Scope validation accepts any string, as containers/image does (its sample policy.json has
``bogus/key-data-example``). A scope that no identity or namespace list can contain
(``busybox``, ``library/busybox``: scopes are fully expanded) silently never matches there;
here :func:`docker_scope_problem` names why, loading a policy logs it as a warning and
``policy lint`` reports it, with the expanded form as a hint. The same rules apply to
``atomic`` scopes (policy/scopes.py).

Registry access lives in ``source.py``/``destination.py``, imported only when an image is
opened, so that parsing a reference never loads httpx.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from trustcopy.errors import InvalidReferenceError
from trustcopy.lazy import dataclass
from trustcopy.reference import (
    DEFAULT_DOMAIN,
    DockerReference,
    docker_reference_identity,
    docker_reference_namespaces,
    is_valid_domain,
    parse_named,
    parse_normalized_named,
    split_docker_domain,
)
from trustcopy.transports.base import ImageReference, ImageTransport
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.transports.base import ImageDestination, ImageSource

#: Appended to a name-only reference to push without a tag (c/i ``UnknownDigestSuffix``).
UNKNOWN_DIGEST_SUFFIX = "@@unknown-digest@@"

_DOMAIN_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _expanded_hint(scope: str) -> str:
    try:
        return f"; perhaps {str(parse_normalized_named(scope))!r}"
    except (InvalidReferenceError, TypeError):
        return ""


def _validate_wildcard(scope: str) -> None:
    domain = scope[2:]
    labels = domain.split(".")
    if (
        not domain
        or not is_valid_domain(domain)
        or any(not label or not set(label) <= _DOMAIN_LABEL_CHARS for label in labels)
    ):
        raise ValueError(
            f"invalid scope {scope!r}: a wildcard must be \"*.\" followed by a domain name without port or path, "
            "e.g. \"*.example.com\""
        )


@functools.cache
def _plain_repository_scope() -> re.Pattern[str]:
    """The common scope shape, ``host.domain[:port]/path/components``, which always can match.

    Compiled on first use (start-up time); docker.io names are left to the full check,
    because their canonical form adds ``library/``.
    """
    label = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    return re.compile(rf"(?!(?:index\.)?docker\.io[:/]){label}(?:\.{label})+(?::[0-9]+)?(?:/{component})+")


def docker_scope_problem(scope: str) -> str | None:
    """Why a ``docker`` (or ``atomic``) scope can never match an image, or None when it can."""
    if len(scope) <= 255 and _plain_repository_scope().fullmatch(scope):
        return None  # the usual case, without parsing a reference (policies may have 100,000 scopes)
    try:
        check_docker_scope(scope)
    except ValueError as exc:
        return str(exc)
    return None


def check_docker_scope(scope: str) -> None:
    """Check that a ``docker`` (or ``atomic``) scope can match; see the module docstring.

    Raises:
        ValueError: the scope can never be an identity or namespace of a reference.
    """
    if not isinstance(scope, str):
        raise TypeError(f"invalid scope {scope!r}: must be a string")
    if scope.startswith("*."):
        _validate_wildcard(scope)
        return
    if "*" in scope:
        raise ValueError(f"invalid scope {scope!r}: \"*\" is only allowed as a leading \"*.\" (e.g. \"*.example.com\")")
    if "/" not in scope:
        if is_valid_domain(scope) and split_docker_domain(scope + "/x/y")[0] == scope:
            return
        raise ValueError(
            f"invalid scope {scope!r}: not a registry host (a host needs a \".\" or \":\", or is \"localhost\"), "
            f"and scopes must use the fully expanded form{_expanded_hint(scope)}"
        )
    last = scope.rsplit("/", 1)[1]
    if "@" in scope or ":" in last:
        try:
            ref = parse_named(scope)
        except InvalidReferenceError as exc:
            raise ValueError(f"invalid scope {scope!r}: {exc.message}{_expanded_hint(scope)}") from None
        if ref.tag is not None and ref.digest is not None:
            raise ValueError(f"invalid scope {scope!r}: a reference with both a tag and a digest never matches")
        return
    try:
        parse_named(scope)
        return
    except InvalidReferenceError:
        pass
    try:  # a namespace that is not itself a canonical repository name, e.g. docker.io/library
        ref = parse_normalized_named(scope + "/x")
    except InvalidReferenceError as exc:
        raise ValueError(f"invalid scope {scope!r}: {exc.message}") from None
    if ref.name != scope + "/x":
        raise ValueError(
            f"invalid scope {scope!r}: not in the fully expanded form{_expanded_hint(scope)}"
        )


class DockerTransport(ImageTransport):
    """The ``docker:`` transport (a registry speaking the Docker Registry HTTP API V2)."""

    name = "docker"
    syntax = "docker://NAME[:TAG|@DIGEST]"

    def parse_reference(self, reference: str) -> DockerImageReference:
        """Parse ``//NAME[:TAG|@DIGEST]`` (the part after ``docker:``).

        Raises:
            InvalidReferenceError: no ``//``, an invalid name, or both tag and digest.
        """
        if not reference.startswith("//"):
            raise InvalidReferenceError(
                f"docker: image reference {reference} does not start with //",
                hint=f"write docker://{reference}",
            )
        rest = reference[2:]
        unknown_digest = rest.endswith(UNKNOWN_DIGEST_SUFFIX)
        if unknown_digest:
            rest = rest[: -len(UNKNOWN_DIGEST_SUFFIX)]
        ref = parse_normalized_named(rest)
        if unknown_digest:
            if not ref.is_name_only:
                raise InvalidReferenceError(
                    f"docker: image reference {ref}{UNKNOWN_DIGEST_SUFFIX} has unknown digest set "
                    "but it contains either a tag or digest"
                )
            return new_reference(ref, unknown_digest=True)
        return new_reference(ref.tag_name_only())

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Any string, as containers/image: see :meth:`policy_configuration_scope_warning`."""

    def policy_configuration_scope_warning(self, scope: str) -> str | None:
        """Why the scope can never match (it is not fully expanded, say), or None."""
        return docker_scope_problem(scope)


TRANSPORT = DockerTransport()


def new_reference(ref: DockerReference, *, unknown_digest: bool = False) -> DockerImageReference:
    """A docker: reference for ``ref`` (which needs a tag or digest, unless ``unknown_digest``).

    Raises:
        InvalidReferenceError: both tag and digest, or the wrong tag/digest presence.
    """
    if ref.is_name_only and not unknown_digest:
        raise InvalidReferenceError(f"Docker reference {ref.familiar_string()} has neither a tag nor a digest")
    if not ref.is_name_only and unknown_digest:
        raise InvalidReferenceError(
            f"Docker reference {ref.familiar_string()} is for an unknown digest case but has a tag or digest"
        )
    if ref.tag is not None and ref.digest is not None:
        raise InvalidReferenceError("Docker references with both a tag and digest are currently not supported")
    return DockerImageReference(ref, unknown_digest)


@dataclass(frozen=True, repr=False)
class DockerImageReference(ImageReference):
    """An image in a registry: a normalized reference (tag or digest, never both)."""

    ref: DockerReference
    is_unknown_digest: bool = False

    @property
    def transport(self) -> DockerTransport:
        """The ``docker:`` transport."""
        return TRANSPORT

    def string_within_transport(self) -> str:
        """``//`` + the familiar form (``//busybox:latest``), re-parsable."""
        text = "//" + self.ref.familiar_string()
        return text + UNKNOWN_DIGEST_SUFFIX if self.is_unknown_digest else text

    def docker_reference(self) -> DockerReference:
        """The normalized reference as the user named it (before any mirror or redirect)."""
        return self.ref

    def policy_configuration_identity(self) -> str:
        """``domain/path:tag`` or ``domain/path@digest`` (the name alone for unknown-digest pushes)."""
        if self.is_unknown_digest:
            return self.ref.name
        return docker_reference_identity(self.ref)

    def policy_configuration_namespaces(self) -> list[str]:
        """Repository, namespaces, host, wildcards; see the module docstring."""
        namespaces = docker_reference_namespaces(self.ref)
        if self.is_unknown_digest and namespaces and namespaces[0] == self.ref.name:
            return namespaces[1:]
        return namespaces

    @property
    def is_docker_hub(self) -> bool:
        """Whether the image is on Docker Hub."""
        return self.ref.domain == DEFAULT_DOMAIN

    def new_image_source(self, sys: SystemContext) -> ImageSource:
        """Open the image in the registry for reading."""
        from trustcopy.transports.docker.source import DockerImageSource

        return DockerImageSource(self, sys)

    def new_image_destination(self, sys: SystemContext) -> ImageDestination:
        """Open the repository for writing this image."""
        from trustcopy.transports.docker.destination import DockerImageDestination

        return DockerImageDestination(self, sys)

    def delete_image(self, sys: SystemContext) -> None:
        """Delete the image's manifest from the registry, then its signatures from the ``file://`` lookaside.

        See source.delete_image: the registries.d write store for this reference must be
        ``file://`` (checked before anything is deleted).
        """
        from trustcopy.transports.docker.source import delete_image

        delete_image(self, sys)
