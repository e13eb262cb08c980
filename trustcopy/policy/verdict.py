"""Verdict: the explainable outcome of evaluating a policy for one image. No rendering here.

A verdict records which scope matched (and which more general sections it overrode), each
requirement's outcome, and each signature's outcome (format, key, identity claimed versus
expected, reason). Every outcome has a stable upper-case reason code (docs/policy.md).
:meth:`Verdict.to_json` is the documented, versioned machine form used by
``trustcopy policy explain --output json``; cli/ renders the text form.

Invariant: ``allowed`` is computed here, once, from the requirement results: True only if
there is at least one requirement, all of them allowed the image, and (with
``require_signed``) at least one of those verified a signature.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trustcopy.errors import PolicyRejected
from trustcopy.lazy import dataclass
from trustcopy.policy.model import SigResult
from trustcopy.policy.scopes import format_path
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.policy.scopes import ScopeMatch

#: Bumped when a field of the JSON form changes meaning or disappears (additions keep it).
VERDICT_SCHEMA_VERSION = 1
#: How many of a transport's scopes a fall-through to the global default lists.
_SHOWN_SCOPES = 8


@dataclass(frozen=True)
class SignatureResult:
    """One signature, as one requirement judged it (``index`` is 1-based, like signature-N files)."""

    index: int
    status: str
    reason: Reason | None
    message: str
    format: str = "unknown"
    key_fingerprint: str | None = None
    claimed_identity: str | None = None
    claimed_digest: str | None = None
    expected_identity: str | None = None
    verified: bool = False
    #: Where the transport found the signature ("" when unknown).
    location: str = ""

    def to_json(self) -> dict[str, Any]:
        """Machine form (camelCase keys)."""
        return {
            "index": self.index,
            "format": self.format,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "keyFingerprint": self.key_fingerprint,
            "claimedIdentity": self.claimed_identity,
            "claimedDigest": self.claimed_digest,
            "expectedIdentity": self.expected_identity,
            "verified": self.verified,
            "location": self.location,
        }


def signature_results(results: Sequence[SigResult]) -> tuple[SignatureResult, ...]:
    """Trace entries from a requirement's per-signature results."""
    out = []
    for position, result in enumerate(results, start=1):
        info = result.info
        verified = result.signature is not None and result.status.value == "accepted"
        out.append(
            SignatureResult(
                index=info.index if info else position,
                status=result.status.value,
                reason=result.reason,
                message=result.message,
                format=info.format if info else "unknown",
                key_fingerprint=(result.signature.key_fingerprint if verified and result.signature
                                 else info.key_fingerprint if info else None),
                claimed_identity=info.claimed_identity if info else None,
                claimed_digest=info.claimed_digest if info else None,
                expected_identity=info.expected_identity if info else None,
                verified=verified,
                location=info.location if info else "",
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class RequirementResult:
    """One requirement of the matched scope and what it decided."""

    index: int
    type: str
    description: str
    allowed: bool
    reason: Reason
    message: str
    verifies_signatures: bool = False
    signatures: tuple[SignatureResult, ...] = ()
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        """Machine form."""
        return {
            "index": self.index,
            "path": self.path,
            "type": self.type,
            "description": self.description,
            "allowed": self.allowed,
            "reason": self.reason,
            "message": self.message,
            "verifiesSignatures": self.verifies_signatures,
            "signatures": [s.to_json() for s in self.signatures],
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome for one image; build it with :meth:`build`."""

    image: str
    allowed: bool
    reason: Reason
    message: str
    transport: str
    identity: str
    scope: str | None
    scope_kind: str
    scope_label: str
    overridden: tuple[str, ...]
    tried: tuple[str, ...]
    requirements: tuple[RequirementResult, ...]
    require_signed: bool
    signature_verified: bool
    failed_requirement: int | None = None
    #: The scopes of the policy's section for this transport (None: no such section).
    section_scopes: tuple[str, ...] | None = None

    @classmethod
    def build(
        cls, *, image: str, scope: ScopeMatch, requirements: tuple[RequirementResult, ...], require_signed: bool
    ) -> Verdict:
        """Decide and record: the single place where ``allowed`` is computed."""
        base = ("transports", scope.transport, scope.scope) if scope.scope is not None else ("default",)
        requirements = tuple(
            replace(r, path=format_path((*base, r.index))) for r in requirements
        )
        verified = any(r.allowed and r.verifies_signatures for r in requirements)
        failed = next((r for r in requirements if r.allowed is not True), None)
        allowed = False
        failed_index = None
        if not requirements:
            reason, message = Reason.EMPTY_REQUIREMENTS, "List of verification policy requirements must not be empty"
        elif failed is not None:
            reason, message, failed_index = failed.reason, failed.message, failed.index
        elif require_signed and not verified:
            reason = Reason.REQUIRE_SIGNED
            message = f"No signature verification policy found for image {scope.transport}:{scope.identity}"
        else:
            allowed = True
            reason = Reason.ALLOWED
            message = "; ".join(f"{r.path}: {r.message}" for r in requirements)
        return cls(
            image=image, allowed=allowed, reason=reason, message=message, transport=scope.transport,
            identity=scope.identity, scope=scope.scope, scope_kind=scope.kind, scope_label=scope.label,
            overridden=scope.overridden, tried=scope.tried, requirements=requirements,
            require_signed=require_signed, signature_verified=verified, failed_requirement=failed_index,
            section_scopes=scope.section_scopes,
        )

    def summary(self) -> str:
        """One line for errors and logs: the c/i-style message plus scope, requirement and reason."""
        where = [f"scope {self.scope_label}{self._why_scope()}"]
        if self.failed_requirement is not None:
            req = self.requirements[self.failed_requirement]
            where.append(f"requirement {req.path}: {req.description}")
        where.append(f"reason {self.reason}")
        return f"{self.message} ({'; '.join(where)})"

    def _why_scope(self) -> str:
        """Why this scope applies, when that is the likely mistake: a fall-through to the
        global default (a scope typo, a transport missing from the policy) or a more specific
        scope that shadows a broader one."""
        if self.scope is None:
            if self.section_scopes is None:
                return f" (the policy has no transports.{self.transport} section)"
            shown = ", ".join(json.dumps(s) for s in self.section_scopes[:_SHOWN_SCOPES])
            more = f", and {len(self.section_scopes) - _SHOWN_SCOPES} more" if len(
                self.section_scopes) > _SHOWN_SCOPES else ""
            what = self.identity or "this image"
            return (f" (no scope of transports.{self.transport} matches {what} or its namespaces, "
                    f"nor is there a \"\" scope; its scopes: {shown or 'none'}{more})")
        shadowed = [label for label in self.overridden if label != "default"]
        if shadowed:
            return f" (most specific match for {self.identity}; overrides {', '.join(shadowed)})"
        return ""

    def rejection(self, where: str = "") -> PolicyRejected:
        """The error a refused copy raises: skopeo's "Source image rejected: …", this trace attached.

        Args:
            where: appended to the message (e.g. which instance of a list was refused).
        """
        return PolicyRejected(
            f"Source image rejected: {self.summary()}{where}",
            verdict=self,
            context={"image": self.image, "scope": self.scope_label, "reason": self.reason},
        )

    def to_json(self) -> dict[str, Any]:
        """The documented machine form (docs/policy.md, "Verdict JSON")."""
        return {
            "schemaVersion": VERDICT_SCHEMA_VERSION,
            "image": self.image,
            "allowed": self.allowed,
            "reason": self.reason,
            "message": self.message,
            "requireSigned": self.require_signed,
            "signatureVerified": self.signature_verified,
            "scope": {
                "transport": self.transport,
                "identity": self.identity,
                "matched": self.scope,
                "kind": self.scope_kind,
                "label": self.scope_label,
                "overridden": list(self.overridden),
                "tried": list(self.tried),
            },
            "failedRequirement": self.failed_requirement,
            "requirements": [r.to_json() for r in self.requirements],
        }
