"""registries.conf values: entries, prefix matching, rewriting, and where pulls and pushes go.

The semantics are containers/image ``pkg/sysregistriesv2`` (see the package docstring);
nothing here reads files (``load.py`` does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trustcopy.errors import ConfigError, InvalidReferenceError, TransportError
from trustcopy.lazy import dataclass
from trustcopy.reference import DockerReference, parse_named

log = logging.getLogger("trustcopy.config")

PULL_FROM_MIRROR_VALUES = ("all", "digest-only", "tag-only")


@dataclass(frozen=True)
class ConfigWarning:
    """Something in a configuration file we ignore, said once with the file and key.

    Shared by the configuration loaders (registries.conf here, registries.d in
    stores/registries_d.py) so that a CLI renders them alike.
    """

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"

    def to_json(self) -> dict[str, str]:
        """The warning as a JSON object (``lookaside where --output json``)."""
        return {"file": self.file, "key": self.key, "message": self.message}


def report(warnings: Sequence[ConfigWarning]) -> None:
    """Log each warning (what loaders do unless the caller renders them itself)."""
    for warning in warnings:
        log.warning("%s", warning)


@dataclass(frozen=True)
class Endpoint:
    """A location images are pulled from: a mirror, or a registry's primary location."""

    location: str
    insecure: bool = False
    #: "" (= all), "all", "digest-only" or "tag-only"; only mirrors have one.
    pull_from_mirror: str = ""


@dataclass(frozen=True)
class Registry:
    """One ``[[registry]]`` entry, normalized (prefix set, trailing slashes dropped)."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirrors: tuple[Endpoint, ...] = ()
    file: str = ""
    #: 1-based position among the ``[[registry]]`` tables of ``file`` (0: from the v1 format).
    entry: int = 0

    @property
    def label(self) -> str:
        """``[[registry]] #2 (prefix "example.com")``: the entry within its file."""
        where = f"[[registry]] #{self.entry}" if self.entry else "[registries] (version 1 format)"
        return f'{where} (prefix "{self.prefix}")'

    def describe(self) -> str:
        """``[[registry]] #2 (prefix "example.com") in FILE``, for messages."""
        return f"{self.label} in {self.file}"

    @property
    def endpoint(self) -> Endpoint:
        """The primary location as an endpoint."""
        return Endpoint(self.location, self.insecure)

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object."""
        return {
            "file": self.file, "entry": self.entry, "prefix": self.prefix, "location": self.location,
            "insecure": self.insecure, "blocked": self.blocked, "mirrorByDigestOnly": self.mirror_by_digest_only,
            "mirrors": [{"location": m.location, "insecure": m.insecure, "pullFromMirror": m.pull_from_mirror or "all"}
                        for m in self.mirrors],
        }


@dataclass(frozen=True)
class PullSource:
    """One place a pull may go: the rewritten (physical) reference and how to reach it."""

    reference: DockerReference
    endpoint: Endpoint
    mirror: bool
    #: The entry that blocks this physical reference, or None.
    blocked_by: Registry | None = None


@dataclass(frozen=True)
class PullPlan:
    """Where a pull of ``logical`` goes: mirrors that apply, in order, then the primary."""

    logical: DockerReference
    registry: Registry | None
    sources: tuple[PullSource, ...]

    @property
    def blocked_by(self) -> Registry | None:
        """The primary's blocking rule when *every* source is blocked (the pull cannot happen), else None."""
        return self.sources[-1].blocked_by if all(s.blocked_by is not None for s in self.sources) else None

    def allowed_sources(self) -> list[PullSource]:
        """The sources to try, in order; blocked ones left out.

        Raises:
            TransportError: every source is blocked (code ``registry-blocked``, naming the rule).
        """
        allowed = [s for s in self.sources if s.blocked_by is None]
        for skipped in self.sources:
            if skipped.blocked_by is not None and allowed:
                log.debug("not trying %s%s: blocked by %s", skipped.reference, " (mirror)" if skipped.mirror else "",
                          skipped.blocked_by.describe())
        if not allowed:
            rule = self.sources[-1].blocked_by
            assert rule is not None
            raise TransportError(
                f"pulling {self.logical} is blocked by {rule.describe()}",
                code="registry-blocked",
                context={"reference": str(self.logical), "file": rule.file, "prefix": rule.prefix},
            )
        return allowed


@dataclass(frozen=True)
class PushTarget:
    """Where a push of a logical reference goes (containers/image never rewrites pushes)."""

    reference: DockerReference
    insecure: bool
    registry: Registry | None

    @property
    def blocked_by(self) -> Registry | None:
        """The matching entry if it blocks the registry, else None."""
        return self.registry if self.registry is not None and self.registry.blocked else None

    def check_allowed(self) -> None:
        """Raise when the destination is blocked.

        Raises:
            TransportError: code ``registry-blocked``, naming the rule.
        """
        rule = self.blocked_by
        if rule is not None:
            raise TransportError(
                f"pushing to {self.reference} is blocked by {rule.describe()}",
                code="registry-blocked",
                context={"reference": str(self.reference), "file": rule.file, "prefix": rule.prefix},
            )


# -- prefix matching and rewriting (sysregistriesv2 refMatchingPrefix, rewriteReference) --


def ref_matching_prefix(ref: str, prefix: str) -> int:
    """Length of the match of ``prefix`` at the start of ``ref``, or -1.

    ``ref`` is a host, repository name or full reference string; the match must end at
    the end of ``ref`` or before ``:``, ``/`` or ``@``. A ``*.example.com`` prefix matches
    hosts under example.com (the returned length then covers the host). As in
    containers/image, ``example.com:5000`` matches the prefix ``example.com``.
    """
    if prefix.startswith("*."):
        index = ref.find(prefix[1:])
        if index == -1 or "/" in ref[:index]:
            return -1
        index += len(prefix) - 1
        if index == len(ref) or ref[index] in ":/@":
            return index
        return -1
    if len(ref) < len(prefix) or not ref.startswith(prefix):
        return -1
    if len(ref) == len(prefix) or ref[len(prefix)] in ":/@":
        return len(prefix)
    return -1


def rewrite_reference(ref: DockerReference, prefix: str, location: str, what: str) -> DockerReference:
    """``ref`` with ``prefix`` replaced by ``location`` (unchanged for an empty location).

    Raises:
        ConfigError: the prefix does not match, or the result is not a valid reference
            (``what`` names the entry in the message).
    """
    text = str(ref)
    length = ref_matching_prefix(text, prefix)
    if length == -1:
        raise ConfigError(f"{what}: prefix {prefix!r} does not match {text}", code="registries-conf-invalid")
    if not location:
        if not prefix.startswith("*."):
            raise ConfigError(f"{what}: an empty location needs a prefix in the format *.example.com, not {prefix!r}",
                              code="registries-conf-invalid")
        return ref
    rewritten = location + text[length:]
    try:
        return parse_named(rewritten)
    except InvalidReferenceError as exc:
        raise ConfigError(
            f"{what}: rewriting {text} to location {location!r} gives {rewritten!r}, not a valid reference: "
            f"{exc.message}",
            code="registries-conf-invalid",
        ) from None


# -- the loaded configuration ----------------------------------------------------------


@dataclass(frozen=True)
class RegistriesConf:
    """The merged registries.conf files: ``[[registry]]`` entries sorted by prefix."""

    registries: tuple[Registry, ...] = ()
    #: Files read, in order (main file first, if it existed).
    files: tuple[str, ...] = ()
    warnings: tuple[ConfigWarning, ...] = ()
    #: ``credential-helpers`` of the last file that sets it; empty: not set, or set to ``[]``
    #: (containers/image's default, ``["containers-auth.json"]``: the auth files only).
    credential_helpers: tuple[str, ...] = ()

    def find_registry(self, name: str) -> Registry | None:
        """The entry with the longest prefix matching ``name`` (first in prefix order on ties).

        As containers/image, an entry whose prefix is empty (``prefix = "/"`` trims to "") is never
        the answer: only a match longer than the best so far, starting from 0, counts.
        """
        best: Registry | None = None
        for reg in self.registries:
            if ref_matching_prefix(name, reg.prefix) != -1 and len(reg.prefix) > (len(best.prefix) if best else 0):
                best = reg
        return best

    def pull_plan(self, logical: DockerReference) -> PullPlan:
        """The ordered pull sources for ``logical`` (a reference with a tag or a digest).

        Raises:
            ConfigError: a location rewrites the reference into an invalid one.
        """
        registry = self.find_registry(logical.name)
        if registry is None:
            blocked = None
            return PullPlan(logical, None, (PullSource(logical, Endpoint(logical.name), False, blocked),))
        digested = logical.digest is not None
        endpoints: list[tuple[Endpoint, bool]] = []
        for mirror in registry.mirrors:
            if registry.mirror_by_digest_only or mirror.pull_from_mirror == "digest-only":
                wanted = digested
            elif mirror.pull_from_mirror == "tag-only":
                wanted = not digested
            else:
                wanted = True
            if wanted:
                endpoints.append((mirror, True))
        endpoints.append((registry.endpoint, False))
        sources = []
        for endpoint, is_mirror in endpoints:
            physical = rewrite_reference(logical, registry.prefix, endpoint.location, registry.describe())
            rule = self.find_registry(physical.name)
            blocked_by = rule if rule is not None and rule.blocked else None
            sources.append(PullSource(physical, endpoint, is_mirror, blocked_by))
        return PullPlan(logical, registry, tuple(sources))

    def push_target(self, logical: DockerReference) -> PushTarget:
        """Where a push of ``logical`` goes: itself, with the matching entry's ``insecure``."""
        registry = self.find_registry(logical.name)
        return PushTarget(logical, registry.insecure if registry is not None else False, registry)
