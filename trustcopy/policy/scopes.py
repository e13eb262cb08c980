"""Which requirements apply to an image: scope lookup, and scope validation.

Lookup follows containers/image's ``requirementsForImageRef`` exactly: within the
image's transport, the reference's policy identity first, then each of its namespaces
(most specific first, as the transport lists them), then the transport default ``""``;
if none exists (or the transport has no section), the global ``default``. Only the most
specific match applies: more general ones are *overridden*, never merged.

Validation defers to the transport (``ImageTransport.validate_policy_configuration_scope``).
Two cases have no transport object: ``atomic`` (no longer a transport, still accepted in
policies) is checked with the ``docker`` rules; a transport this build does not have is
accepted unchecked, like containers/image does for names it does not know, and
``policy lint`` warns about it (such scopes can never be used here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from trustcopy.lazy import dataclass
from trustcopy.policy.model import PathPart, Policy, Requirement

if TYPE_CHECKING:
    from trustcopy.transports.base import ImageReference, ImageTransport

#: Transports whose scopes follow another transport's rules, without a transport object.
SCOPE_RULES_ALIASES = {"atomic": "docker"}

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


def transport_for_scopes(name: str, lookup: TransportLookup | None = None) -> ImageTransport | None:
    """The transport whose rules validate ``transports.<name>`` keys (None: unchecked)."""
    return (lookup or default_transport_lookup)(SCOPE_RULES_ALIASES.get(name, name))


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
    """

    transport: str
    identity: str
    scope: str | None
    kind: str
    requirements: tuple[Requirement, ...]
    overridden: tuple[str, ...]
    tried: tuple[str, ...]

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
    tried = tuple(c for c, _ in candidates)
    scopes = policy.transports.get(name)
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
            return ScopeMatch(name, identity, candidate, found, reqs, overridden, tried)
    return ScopeMatch(name, identity, None, "global-default", policy.default, (), tried)
