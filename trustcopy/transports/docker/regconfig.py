"""registries.d and registries.conf as the docker transport uses them, loaded once per session.

containers/image reads both configurations for every image it opens; we read them once
per :class:`~trustcopy.transports.docker.session.RegistrySession` (one per CLI command,
or what a library user hands down in ``SystemContext.registry_session``) and keep the
result here, a frozen value every source, destination and client of the session asks:

- registries.conf (``SystemContext.registries_conf``, else ``$CONTAINERS_REGISTRIES_CONF``,
  else the usual files): where a pull goes (mirrors, then the primary, each with its
  rewritten *physical* reference), where a push goes (the logical reference itself),
  which registries are ``insecure`` or ``blocked``;
- registries.d (``SystemContext.registries_d``, else the usual directories): which
  lookaside store holds the signatures of a (physical) reference, for reading and for
  writing, and whether sigstore attachments are used.

Invariants:
- Loading reports configuration warnings once (they are logged when the session loads
  the files, not per image), and a configuration error is raised to every caller that
  asks (nothing broken is cached).
- Nothing here talks to a registry or reads a signature store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustcopy.lazy import dataclass

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.stores.lookaside import LookasideLocation
    from trustcopy.stores.registries_d import RegistriesD
    from trustcopy.sysregistries import PullPlan, PushTarget, RegistriesConf, Registry


@dataclass(frozen=True)
class RegistryConfig:
    """The registries.d and registries.conf configuration of one session (see the module docstring)."""

    registries_d: RegistriesD
    registries_conf: RegistriesConf

    def lookaside(self, ref: DockerReference, *, write: bool) -> LookasideLocation:
        """The store for ``ref``'s signatures, for reading or writing (registries.d).

        Raises:
            ConfigError: the URL chosen is unusable (code ``lookaside-url-invalid``).
        """
        return self.registries_d.lookaside(ref, write=write)

    def use_sigstore_attachments(self, ref: DockerReference) -> bool:
        """Whether sigstore signatures of ``ref`` are read and written as registry attachments."""
        return self.registries_d.use_sigstore_attachments(ref)

    def pull_plan(self, ref: DockerReference) -> PullPlan:
        """Where a pull of the logical ``ref`` goes: mirrors that apply, in order, then the primary.

        Raises:
            ConfigError: a location rewrites ``ref`` into an invalid reference.
        """
        return self.registries_conf.pull_plan(ref)

    def push_target(self, ref: DockerReference) -> PushTarget:
        """Where a push of the logical ``ref`` goes (itself: pushes are never rewritten)."""
        return self.registries_conf.push_target(ref)

    def find_registry(self, name: str) -> Registry | None:
        """The registries.conf entry for a repository name or host, if any."""
        return self.registries_conf.find_registry(name)


def load_registry_config(registries_d: str | None, registries_conf: str | None) -> RegistryConfig:
    """Read both configurations (warnings are logged once, here).

    Args:
        registries_d: ``--registries.d DIR``, or None for the default directories.
        registries_conf: ``--registries-conf FILE``, or None for the environment and defaults.

    Raises:
        ConfigError / LimitExceededError: a file is missing (when named), unreadable or invalid.
    """
    from trustcopy.stores.registries_d import load_registries_d
    from trustcopy.sysregistries import load_registries_conf

    return RegistryConfig(load_registries_d(registries_d), load_registries_conf(registries_conf))
