"""The policy as typed, immutable values, and the result types its evaluation returns.

A :class:`Policy` is built either by ``policy/parse.py`` from policy.json or directly by
Python code; both go through the same validating constructors, so a ``Policy`` object
that exists is well-formed: a non-empty ``default``, non-empty requirement lists, and
scopes that their transport accepts. Constructors raise :class:`PolicySpecError` (a
``ValueError``) whose ``path`` says which field is wrong, relative to the object being
built; the parser prefixes it with the object's own location in the file.

Results say why (DESIGN rule 1): an identity check returns :class:`Match`, a signature
check a :class:`SigResult` (ACCEPTED / REJECTED / UNKNOWN plus a stable reason code), and
an image check an :class:`ImageResult`. Reason codes are members of
:class:`trustcopy.reasons.Reason`, each documented in docs/policy.md.
"""

from __future__ import annotations

import abc
import enum
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.signature.formats import Signature
    from trustcopy.signature.gpg import GPGKeyring
    from trustcopy.signature.sigstore import SigstoreTrustRoot
    from trustcopy.signature.verified import VerifiedSignature

PathPart = str | int


class PolicySpecError(ValueError):
    """A policy value is invalid; ``path`` locates it relative to the object being built.

    Raised by the validating constructors (API misuse for Python callers); the parser
    turns it into a :class:`~trustcopy.errors.PolicyError` naming file and JSON path.
    """

    def __init__(self, message: str, path: Sequence[PathPart] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path: tuple[PathPart, ...] = tuple(path)

    def under(self, *prefix: PathPart) -> PolicySpecError:
        """The same error, located below ``prefix``."""
        return PolicySpecError(self.message, (*prefix, *self.path))


class SigStatus(enum.Enum):
    """What one requirement says about one signature (c/i's ``signatureAcceptanceResult``)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    #: The requirement does not deal with signatures (insecureAcceptAnything, signedBaseLayer).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Match:
    """Whether a signed identity is acceptable for an image, and why (never a bare bool)."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        """Truthiness follows ``ok`` so that ``if matcher.matches(...)`` reads naturally."""
        return self.ok


@dataclass(frozen=True)
class SignatureInfo:
    """What we could tell about one signature, for the trace (untrusted unless accepted).

    ``claimed_identity`` and ``claimed_digest`` come from the signature payload; for a
    rejected signature they are what an unverified (possibly forged) payload *claims*.
    """

    index: int
    format: str = "unknown"
    key_fingerprint: str | None = None
    claimed_identity: str | None = None
    claimed_digest: str | None = None
    expected_identity: str | None = None
    #: Where the transport found it (``dir:/x/signature-2``, a lookaside URL …); "" if unknown.
    location: str = ""


@dataclass(frozen=True)
class SigResult:
    """One requirement's verdict on one signature.

    Consistent values: ACCEPTED carries ``signature``; REJECTED carries a reason code and
    message; UNKNOWN carries neither an error nor a signature. The policy context treats
    any other combination as an internal inconsistency and rejects (fail closed), so this
    class deliberately does not refuse to represent them.
    """

    status: SigStatus
    reason: Reason | None = None
    message: str = ""
    signature: VerifiedSignature | None = None
    info: SignatureInfo | None = None


@dataclass(frozen=True)
class ImageResult:
    """One requirement's verdict on the image, with the per-signature trace behind it."""

    allowed: bool
    reason: Reason
    message: str
    signatures: tuple[SigResult, ...] = ()


class EvalResources(Protocol):
    """Per-PolicyContext trust roots, one per requirement, built once and typed.

    Implemented by :class:`~trustcopy.policy.context.PolicyContext`; tests pass fakes.
    A requirement never loads keys itself: the context owns them (and removes temporary
    keyrings when it closes), so evaluating many images loads each key file once.
    """

    def gpg_keyring(self, requirement: Any) -> GPGKeyring:
        """A keyring holding exactly the keys a ``signedBy`` requirement names.

        Raises:
            KeyLoadError: a key file cannot be read or holds no public keys.
        """
        ...

    def sigstore_trust_root(self, requirement: Any) -> SigstoreTrustRoot:
        """The keys (later also Fulcio, Rekor and PKI roots) a ``sigstoreSigned`` requirement names.

        Raises:
            KeyLoadError: a key cannot be read or parsed.
        """
        ...


class KeyLoadError(Exception):
    """The keys a requirement names cannot be loaded; every signature is then rejected."""


class Requirement(abc.ABC):
    """One entry of a requirement list (c/i's ``PolicyRequirement``).

    Subclasses are frozen dataclasses; their constructors validate every field.
    """

    #: The JSON ``type`` value.
    type_name: ClassVar[str] = ""
    #: Whether this requirement verifies a signature over the whole image before allowing
    #: it (c/i's ``verifiesSignatures``); ``--require-signed`` needs at least one.
    verifies_signatures: ClassVar[bool] = False

    @abc.abstractmethod
    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Does this requirement allow the image? Never raises for a plain rejection."""

    @abc.abstractmethod
    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """Is this one signature accepted (for ``accepted_signatures``)?"""

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The policy.json form (parsing it yields an equal requirement)."""

    def describe(self) -> str:
        """A one-line summary for traces: the type and its key settings."""
        return self.type_name


def _freeze_requirements(reqs: object, path: tuple[PathPart, ...]) -> tuple[Requirement, ...]:
    if isinstance(reqs, (str, bytes)) or not isinstance(reqs, Sequence):
        raise PolicySpecError("a list of requirements is expected", path)
    out = tuple(reqs)
    if not out:
        raise PolicySpecError("the list of requirements must not be empty", path)
    for i, req in enumerate(out):
        if not isinstance(req, Requirement):
            raise PolicySpecError(f"not a policy requirement: {type(req).__name__}", (*path, i))
    return out


@dataclass(frozen=True)
class TransportScopes:
    """The scope → requirements map of one transport (``transports.<name>``).

    ``""`` is the transport default. Scopes are validated with the transport's own rules
    (see policy/scopes.py) when the Policy holding them is built.
    """

    scopes: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen: dict[str, tuple[Requirement, ...]] = {}
        for scope, reqs in dict(self.scopes).items():
            if not isinstance(scope, str):
                raise PolicySpecError(f"scope must be a string, not {type(scope).__name__}")
            frozen[scope] = _freeze_requirements(reqs, (scope,))
        object.__setattr__(self, "scopes", types.MappingProxyType(frozen))

    def __iter__(self) -> Iterator[str]:
        """Iterate over the scope strings."""
        return iter(self.scopes)

    def __len__(self) -> int:
        """Number of scopes."""
        return len(self.scopes)

    def get(self, scope: str) -> tuple[Requirement, ...] | None:
        """Requirements of exactly this scope, or None."""
        return self.scopes.get(scope)


@dataclass(frozen=True)
class Policy:
    """A whole policy.json: the global default and the per-transport scopes.

    Args:
        default: requirements used when no transport scope matches; must not be empty.
        transports: transport name → :class:`TransportScopes` (or a plain mapping of
            scope → requirement list, converted).
        source: where it was loaded from (for messages only; no effect on decisions).

    Raises:
        PolicySpecError: an empty list or a non-requirement.

    Scope strings are not checked here (building a policy value loads no transport):
    the parser checks each against its transport's rules (policy/scopes.py
    ``validate_scopes``, with the transport table passed in); Python callers building a
    Policy by hand may call ``validate_scopes`` themselves.
    """

    default: tuple[Requirement, ...]
    transports: Mapping[str, TransportScopes] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "default", _freeze_requirements(self.default, ("default",)))
        frozen: dict[str, TransportScopes] = {}
        for name, scopes in dict(self.transports).items():
            if not isinstance(name, str):
                raise PolicySpecError("transport names must be strings", ("transports",))
            try:
                ts = scopes if isinstance(scopes, TransportScopes) else TransportScopes(scopes)
            except PolicySpecError as exc:
                raise exc.under("transports", name) from None
            frozen[name] = ts
        object.__setattr__(self, "transports", types.MappingProxyType(frozen))

    def to_json(self) -> dict[str, Any]:
        """The policy.json form (parsing it yields an equal Policy)."""
        out: dict[str, Any] = {"default": [r.to_json() for r in self.default]}
        if self.transports:
            out["transports"] = {
                name: {scope: [r.to_json() for r in reqs] for scope, reqs in ts.scopes.items()}
                for name, ts in self.transports.items()
            }
        return out


def insecure_accept_anything_policy() -> Policy:
    """The policy ``--insecure-policy`` stands for: accept every image, trust no signature."""
    from trustcopy.policy.requirements import InsecureAcceptAnything

    return Policy(default=(InsecureAcceptAnything(),), source="--insecure-policy")
