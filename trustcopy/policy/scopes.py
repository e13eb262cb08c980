"""Which requirements apply to an image: scope lookup, and scope validation.

Lookup follows containers/image's ``requirementsForImageRef`` exactly: within the
image's transport, the reference's policy identity first, then each of its namespaces
(most specific first, as the transport lists them), then the transport default ``""``;
if none exists (or the transport has no section), the global ``default``. Only the most
specific match applies: more general ones are *overridden*, never merged.

Validation defers to the transport (``ImageTransport.validate_policy_configuration_scope``).
Some names have no transport object: ``atomic`` (no longer a transport, still accepted in
policies) is checked with the ``docker`` rules; ``containers-storage`` and ``sif``, which
skopeo has and trustcopy does not, are checked with containers/image's rules for them
(:class:`ForeignScopeRules`), so a policy skopeo refuses is refused here too; any other
name is accepted unchecked, like containers/image does for names it does not know. ``policy
lint`` warns about every transport this build lacks (such scopes can never be used here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from trustcopy.lazy import dataclass
from trustcopy.policy.model import PathPart, Policy, Requirement

if TYPE_CHECKING:
    from trustcopy.transports.base import ImageReference, ImageTransport

#: Transports whose scopes follow another transport's rules, without a transport object.
SCOPE_RULES_ALIASES = {"atomic": "docker"}


class ScopeRules(Protocol):
    """What checking ``transports.<name>`` keys needs: a transport, or :class:`ForeignScopeRules`."""

    def validate_policy_configuration_scope(self, scope: str) -> None: ...

    def policy_configuration_scope_warning(self, scope: str) -> str | None: ...


class ForeignScopeRules:
    """containers/image's scope rules for a transport skopeo has and this build does not.

    A policy shared with skopeo (``/etc/containers/policy.json``) may hold
    ``containers-storage`` or ``sif`` scopes; skopeo refuses the whole file when one of them
    is malformed, and so does trustcopy, with a message naming the rule.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """sif: a canonical absolute path (sif/transport.go); containers-storage: storage/storage_transport.go.

        Raises:
            ValueError: the rule broken.
        """
        if self.name == "sif":
            from trustcopy.fsutil import validate_path_scope

            validate_path_scope(scope)
        else:
            _validate_storage_scope(scope)

    def policy_configuration_scope_warning(self, scope: str) -> str | None:
        """None: what could never match is for ``policy lint`` to say (it warns about the transport)."""
        return None


_FOREIGN = ("containers-storage", "sif")


def _validate_storage_scope(scope: str) -> None:
    """``[GRAPHROOT]`` or ``[DRIVER@GRAPHROOT]``, then nothing, a name, ``name@ID|digest`` or ``name@digest@ID``."""
    import posixpath

    from trustcopy.digest import Digest

    where = f"invalid containers-storage scope {scope!r}"
    close = scope.find("]")
    if not scope.startswith("[") or close < 1:
        raise ValueError(f"{where}: it must start with the store, [GRAPHROOT] or [DRIVER@GRAPHROOT]")
    store, rest = scope[1:close], scope[close + 1:]
    driver, at, root = store.partition("@")
    if not at:
        driver, root = "", store
    if not root or (at and not driver):
        raise ValueError(f"{where}: the store must be [GRAPHROOT] or [DRIVER@GRAPHROOT], both parts non-empty")
    if not posixpath.isabs(root):
        raise ValueError(f"{where}: the store's graph root {root!r} is not an absolute path")
    if not rest:
        return
    fields = rest.split("@", 2)

    def image_id(text: str) -> None:
        try:
            Digest.parse("sha256:" + text)
        except ValueError:
            raise ValueError(f"{where}: {text!r} is not an image ID (64 lower-case hex digits)") from None

    def digest(text: str) -> None:
        try:
            Digest.parse(text)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    if len(fields) == 2:
        try:
            image_id(fields[1])
        except ValueError:
            try:
                digest(fields[1])
            except ValueError:
                raise ValueError(f"{where}: {fields[1]!r} is neither an image ID nor a digest") from None
    elif len(fields) == 3:
        digest(fields[1])
        image_id(fields[2])

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"  # compiled on first use (re's cache)


def format_path(parts: Sequence[PathPart]) -> str:
    """``transports.docker["example.com/x"][1].keyPath`` style, for messages."""
    out = ""
    for i, part in enumerate(parts):
        is_scope = i == 2 and parts[0] == "transports"  # always ["…"], even "" or a plain word
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(_IDENT, part) and not is_scope:
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(top level)"


def json_pointer(parts: Sequence[PathPart]) -> str:
    """RFC 6901 pointer (``/transports/docker/example.com~1x/1/keyPath``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def scope_label(transport: str | None, scope: str | None) -> str:
    """How traces name a scope: ``transports.docker["docker.io/library"]`` or ``default``."""
    if transport is None or scope is None:
        return "default"
    return format_path(("transports", transport, scope))


#: Finds a transport by name (the transport table's ``get_transport``), or None when unknown.
TransportLookup = Callable[[str], "ImageTransport | None"]


def default_transport_lookup(name: str) -> ImageTransport | None:
    """The transport table of this build (transports/alltransports.py)."""
    from trustcopy.transports.alltransports import get_transport

    return get_transport(name)


def transport_for_scopes(name: str, lookup: TransportLookup | None = None) -> ScopeRules | None:
    """The transport (or foreign rules) that validate ``transports.<name>`` keys (None: unchecked)."""
    transport = (lookup or default_transport_lookup)(SCOPE_RULES_ALIASES.get(name, name))
    if transport is None and name in _FOREIGN:
        return ForeignScopeRules(name)
    return transport


def validate_scope(transport_name: str, scope: str, lookup: TransportLookup | None = None) -> None:
    """Check one non-empty key of ``transports.<transport_name>``.

    Raises:
        ValueError: the transport refuses the scope (the message says why).
    """
    if scope == "":
        return
    transport = transport_for_scopes(transport_name, lookup)
    if transport is None:
        return
    transport.validate_policy_configuration_scope(scope)


def validate_scopes(policy: Policy, lookup: TransportLookup | None = None) -> None:
    """Check every scope of ``policy`` with its transport's rules.

    Raises:
        PolicySpecError: the first scope a transport refuses, located at
            ``transports.<name>["<scope>"]``.
    """
    from trustcopy.policy.model import PolicySpecError

    for name, scopes in policy.transports.items():
        transport = transport_for_scopes(name, lookup)
        if transport is None:
            continue
        for scope in scopes:
            if scope == "":
                continue
            try:
                transport.validate_policy_configuration_scope(scope)
            except ValueError as exc:
                raise PolicySpecError(str(exc), ("transports", name, scope)) from None


@dataclass(frozen=True)
class ScopeMatch:
    """The outcome of scope lookup for one reference.

    Attributes:
        transport: the image's transport name.
        identity: the reference's policy identity ("" when it has none).
        scope: the matched scope string, or None for the global default.
        kind: ``identity``, ``namespace``, ``transport-default`` or ``global-default``.
        requirements: the requirement list that applies.
        overridden: labels of more general sections that also exist and were ignored.
        tried: every scope string looked up, in order (for explanations).
        section_scopes: the scopes of the policy's section for this transport, or None when
            the policy has no such section (to explain a fall-through to the global default).
    """

    transport: str
    identity: str
    scope: str | None
    kind: str
    requirements: tuple[Requirement, ...]
    overridden: tuple[str, ...]
    tried: tuple[str, ...]
    section_scopes: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """``transports.docker["…"]`` or ``default``."""
        return scope_label(self.transport if self.scope is not None else None, self.scope)


def requirements_for(policy: Policy, ref: ImageReference) -> ScopeMatch:
    """Select the requirements that apply to ``ref`` (most specific scope wins).

    Args:
        policy: the loaded policy.
        ref: the image reference (its transport name, identity and namespaces are used).

    Returns:
        The match, including which more general sections it overrode.
    """
    name = ref.transport.name
    identity = ref.policy_configuration_identity()
    candidates: list[tuple[str, str]] = [(identity, "identity")]
    candidates += [(ns, "namespace") for ns in ref.policy_configuration_namespaces()]
    candidates.append(("", "transport-default"))
    # Once each: oci:/oci-archive: namespaces start with the identity itself (as in c/i).
    tried = tuple(dict.fromkeys(c for c, _ in candidates))
    scopes = policy.transports.get(name)
    section = tuple(scopes) if scopes is not None else None
    if scopes is not None:
        for i, (candidate, kind) in enumerate(candidates):
            reqs = scopes.get(candidate)
            if reqs is None:
                continue
            later = [
                scope_label(name, c) for c, _ in candidates[i + 1 :] if c != candidate and scopes.get(c) is not None
            ]
            overridden = (*dict.fromkeys(later), "default")
            found = "transport-default" if candidate == "" else kind
            return ScopeMatch(name, identity, candidate, found, reqs, overridden, tried, section)
    return ScopeMatch(name, identity, None, "global-default", policy.default, (), tried, section)
