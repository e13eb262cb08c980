"""The policy engine: containers-policy.json(5) semantics with explainable verdicts.

Typical use (this is what the copy pipeline does)::

    from trustcopy.policy import load_policy, PolicyContext

    policy = load_policy(path)                 # strict; PolicyError on any fault
    with PolicyContext(policy, require_signed=False) as pc:
        verdict = pc.evaluate(unparsed)        # Verdict; never raises for a plain rejection
        pc.check(unparsed)                     # Verdict if allowed, else raises PolicyRejected

Modules: model (Policy and result types), parse (policy.json → Policy), scopes (which
requirements apply), identity (signedIdentity matchers), requirements and
sigstore_requirement (requirement types), context (PolicyContext), verdict (the trace),
lint (``policy lint`` checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustcopy.lazy import lazy_getattr

if TYPE_CHECKING:
    from trustcopy.paths import default_policy_path
    from trustcopy.policy.context import PolicyContext
    from trustcopy.policy.identity import (
        ExactReference,
        ExactRepository,
        IdentityMatcher,
        MatchExact,
        MatchRepoDigestOrExact,
        MatchRepository,
        RemapIdentity,
    )
    from trustcopy.policy.model import (
        ImageResult,
        Match,
        Policy,
        PolicySpecError,
        Requirement,
        SigResult,
        SigStatus,
        TransportScopes,
        insecure_accept_anything_policy,
    )
    from trustcopy.policy.parse import load_policy, parse_policy
    from trustcopy.policy.requirements import InsecureAcceptAnything, Reject, SignedBaseLayer, SignedBy
    from trustcopy.policy.scopes import ScopeMatch, requirements_for
    from trustcopy.policy.sigstore_requirement import FulcioSpec, PKISpec, SigstoreSigned
    from trustcopy.policy.verdict import RequirementResult, SignatureResult, Verdict

# Names resolve on first use (PEP 562): a copy under a plain policy never loads the
# sigstore or lint modules, and every process pays for what it imports.
_EXPORTS: dict[str, str] = {
    "ExactReference": "trustcopy.policy.identity",
    "ExactRepository": "trustcopy.policy.identity",
    "FulcioSpec": "trustcopy.policy.sigstore_requirement",
    "IdentityMatcher": "trustcopy.policy.identity",
    "ImageResult": "trustcopy.policy.model",
    "InsecureAcceptAnything": "trustcopy.policy.requirements",
    "Match": "trustcopy.policy.model",
    "MatchExact": "trustcopy.policy.identity",
    "MatchRepoDigestOrExact": "trustcopy.policy.identity",
    "MatchRepository": "trustcopy.policy.identity",
    "PKISpec": "trustcopy.policy.sigstore_requirement",
    "Policy": "trustcopy.policy.model",
    "PolicyContext": "trustcopy.policy.context",
    "PolicySpecError": "trustcopy.policy.model",
    "Reject": "trustcopy.policy.requirements",
    "RemapIdentity": "trustcopy.policy.identity",
    "Requirement": "trustcopy.policy.model",
    "RequirementResult": "trustcopy.policy.verdict",
    "ScopeMatch": "trustcopy.policy.scopes",
    "SigResult": "trustcopy.policy.model",
    "SigStatus": "trustcopy.policy.model",
    "SignatureResult": "trustcopy.policy.verdict",
    "SignedBaseLayer": "trustcopy.policy.requirements",
    "SignedBy": "trustcopy.policy.requirements",
    "SigstoreSigned": "trustcopy.policy.sigstore_requirement",
    "TransportScopes": "trustcopy.policy.model",
    "Verdict": "trustcopy.policy.verdict",
    "default_policy_path": "trustcopy.paths",
    "insecure_accept_anything_policy": "trustcopy.policy.model",
    "load_policy": "trustcopy.policy.parse",
    "parse_policy": "trustcopy.policy.parse",
    "requirements_for": "trustcopy.policy.scopes",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


__all__ = [
    "ExactReference",
    "ExactRepository",
    "FulcioSpec",
    "IdentityMatcher",
    "ImageResult",
    "InsecureAcceptAnything",
    "Match",
    "MatchExact",
    "MatchRepoDigestOrExact",
    "MatchRepository",
    "PKISpec",
    "Policy",
    "PolicyContext",
    "PolicySpecError",
    "Reject",
    "RemapIdentity",
    "Requirement",
    "RequirementResult",
    "ScopeMatch",
    "SigResult",
    "SigStatus",
    "SignatureResult",
    "SignedBaseLayer",
    "SignedBy",
    "SigstoreSigned",
    "TransportScopes",
    "Verdict",
    "default_policy_path",
    "insecure_accept_anything_policy",
    "load_policy",
    "parse_policy",
    "requirements_for",
]
