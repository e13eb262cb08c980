"""``signedIdentity`` matchers: is the identity a signature claims acceptable for this image?

Semantics are containers/image's ``policy_reference_match.go`` (see man
containers-policy.json): every matcher parses the claimed identity with the Docker
normalization rules, and answers with a :class:`~trustcopy.policy.model.Match` that says
why. Invariants:

- An unparseable identity, on either side, never matches.
- ``matchExact``, ``matchRepoDigestOrExact``, ``matchRepository`` and ``remapIdentity``
  need the image's Docker reference; images without one (``dir:``, ``oci:`` …) never
  match them, with a reason that says to use ``exactReference``/``exactRepository``.
- A name-only identity (no tag, no digest) never matches where a tag or digest is needed:
  no default ``:latest`` is added on either side.
- ``remapIdentity`` matches its prefix only at a ``/`` boundary of the repository name
  (``example.com/ns`` does not cover ``example.com/nsx``), and the rewritten reference
  must be in canonical form.
"""

from __future__ import annotations

import abc
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar

from trustcopy.errors import InvalidReferenceError
from trustcopy.lazy import dataclass
from trustcopy.policy.model import Match, PolicySpecError

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.transports.base import ImageReference

# The path part of a remapIdentity prefix ("-+" rather than Go's "-*": same language, but
# no exponential backtracking in Python's engine on hostile input).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"  # compiled on first use (re's cache)


def parse_identity(text: str) -> DockerReference:
    """Parse an identity string with Docker normalization (``busybox`` → ``docker.io/library/busybox``).

    Raises:
        InvalidReferenceError: not a valid reference.
    """
    from trustcopy.reference import parse_normalized_named

    if not isinstance(text, str):
        raise InvalidReferenceError(f"identity must be a string, not {type(text).__name__}")
    return parse_normalized_named(text)


def _image_identity(matcher: IdentityMatcher, image: ImageReference) -> DockerReference | Match:
    ref = image.docker_reference()
    if ref is None:
        return Match(
            False,
            f"Docker reference match attempted on image {image} with no known Docker reference identity; "
            f"{matcher.type_name} needs one (use exactReference or exactRepository for this transport)",
        )
    return ref


def _nothing_expected(matcher: IdentityMatcher) -> str:
    """``expected`` of a rule comparing with the image's own Docker reference, for an image without one.

    (A ``dir:`` or ``oci:`` image: every claim is refused, and the trace said "exactly None".)
    """
    return f"nothing: the image has no Docker reference ({matcher.type_name})"


def _signed_identity(signed: str) -> DockerReference | Match:
    try:
        return parse_identity(signed)
    except InvalidReferenceError as exc:
        return Match(False, f"signed identity {signed!r} is not a valid Docker reference: {exc.message}")


def exact_match(intended: DockerReference, signed: DockerReference) -> Match:
    """Both references carry a tag or digest, and are equal once normalized."""
    if intended.is_name_only:
        return Match(False, f"expected identity {intended} has neither a tag nor a digest")
    if signed.is_name_only:
        return Match(False, f"signed identity {signed} has neither a tag nor a digest")
    if str(signed) != str(intended):
        return Match(False, f"signed identity {signed} is not {intended}")
    return Match(True, f"signed identity {signed} is exactly {intended}")


def repository_match(intended: DockerReference, signed: DockerReference) -> Match:
    """Same repository (tags and digests ignored on both sides)."""
    if signed.name != intended.name:
        return Match(False, f"signed identity {signed} is not in repository {intended.name}")
    return Match(True, f"signed identity {signed} is in repository {intended.name}")


def repo_digest_or_exact_match(intended: DockerReference, signed: DockerReference) -> Match:
    """A tagged image needs the exact identity; a digest-only image any tag of its repository.

    The digest itself is not compared here: the image's manifest was already checked
    against the reference's digest, and the signature's digest against the manifest.
    """
    if signed.is_name_only:
        return Match(False, f"signed identity {signed} has neither a tag nor a digest")
    if intended.tag is not None:  # includes tag+digest: both must match exactly
        return exact_match(intended, signed)
    if intended.digest is not None:
        return repository_match(intended, signed)
    return Match(False, f"image identity {intended} has neither a tag nor a digest")


class IdentityMatcher(abc.ABC):
    """A ``signedIdentity`` rule (c/i's ``PolicyReferenceMatch``)."""

    type_name: ClassVar[str] = ""
    #: Whether the rule compares against the image's own Docker reference.
    needs_docker_identity: ClassVar[bool] = True

    @abc.abstractmethod
    def matches(self, image: ImageReference, signed: str) -> Match:
        """Is ``signed`` (the identity a signature claims) acceptable for ``image``?"""

    @abc.abstractmethod
    def expected(self, image: ImageReference) -> str:
        """What identities this rule accepts for ``image``, in words (for traces)."""

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name}


@dataclass(frozen=True)
class MatchExact(IdentityMatcher):
    """The signed identity must equal the image's identity (tag or digest included)."""

    type_name: ClassVar[str] = "matchExact"

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring."""
        intended = _image_identity(self, image)
        if isinstance(intended, Match):
            return intended
        parsed = _signed_identity(signed)
        return parsed if isinstance(parsed, Match) else exact_match(intended, parsed)

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        ref = image.docker_reference()
        return _nothing_expected(self) if ref is None else f"exactly {ref} (matchExact)"


@dataclass(frozen=True)
class MatchRepoDigestOrExact(IdentityMatcher):
    """The default: exact for tagged images, same repository for digest references."""

    type_name: ClassVar[str] = "matchRepoDigestOrExact"

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring."""
        intended = _image_identity(self, image)
        if isinstance(intended, Match):
            return intended
        parsed = _signed_identity(signed)
        return parsed if isinstance(parsed, Match) else repo_digest_or_exact_match(intended, parsed)

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        ref = image.docker_reference()
        if ref is None:
            return _nothing_expected(self)
        if ref.tag is None and ref.digest is not None:
            return f"any tag of {ref.name} (matchRepoDigestOrExact, digest reference)"
        return f"exactly {ref} (matchRepoDigestOrExact)"


@dataclass(frozen=True)
class MatchRepository(IdentityMatcher):
    """The signed identity must be in the image's repository (any tag)."""

    type_name: ClassVar[str] = "matchRepository"

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring."""
        intended = _image_identity(self, image)
        if isinstance(intended, Match):
            return intended
        parsed = _signed_identity(signed)
        return parsed if isinstance(parsed, Match) else repository_match(intended, parsed)

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        ref = image.docker_reference()
        return _nothing_expected(self) if ref is None else f"any identity in repository {ref.name} (matchRepository)"


@dataclass(frozen=True)
class ExactReference(IdentityMatcher):
    """The signed identity must equal a fixed reference (useful for local mirrors)."""

    type_name: ClassVar[str] = "exactReference"
    needs_docker_identity: ClassVar[bool] = False
    docker_reference: str
    _parsed: DockerReference = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.docker_reference, str):
            raise PolicySpecError("expected a string", ("dockerReference",))
        try:
            parsed = parse_identity(self.docker_reference)
        except InvalidReferenceError as exc:
            raise PolicySpecError(
                f"invalid format of dockerReference {self.docker_reference!r}: {exc.message}", ("dockerReference",)
            ) from None
        if parsed.is_name_only:
            raise PolicySpecError(
                f"dockerReference {self.docker_reference!r} contains neither a tag nor a digest", ("dockerReference",)
            )
        object.__setattr__(self, "_parsed", parsed)

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring; the image's own reference is not consulted."""
        parsed = _signed_identity(signed)
        return parsed if isinstance(parsed, Match) else exact_match(self._parsed, parsed)

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        return f"exactly {self._parsed} (exactReference)"

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name, "dockerReference": self.docker_reference}


@dataclass(frozen=True)
class ExactRepository(IdentityMatcher):
    """The signed identity must be in a fixed repository (any tag)."""

    type_name: ClassVar[str] = "exactRepository"
    needs_docker_identity: ClassVar[bool] = False
    docker_repository: str
    _parsed: DockerReference = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.docker_repository, str):
            raise PolicySpecError("expected a string", ("dockerRepository",))
        try:
            parsed = parse_identity(self.docker_repository)
        except InvalidReferenceError as exc:
            raise PolicySpecError(
                f"invalid format of dockerRepository {self.docker_repository!r}: {exc.message}",
                ("dockerRepository",),
            ) from None
        object.__setattr__(self, "_parsed", parsed)

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring; the image's own reference is not consulted."""
        parsed = _signed_identity(signed)
        return parsed if isinstance(parsed, Match) else repository_match(self._parsed, parsed)

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        return f"any identity in repository {self._parsed.name} (exactRepository)"

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name, "dockerRepository": self.docker_repository}


def validate_remap_prefix(value: object, field_name: str) -> str:
    """A remapIdentity prefix: ``host[:port]``, or a name starting with one.

    Stricter than containers/image, which accepts ``shortname`` and ``ns/shortname``
    (they can never match a normalized name): the first component must be a registry host.

    Raises:
        PolicySpecError: naming ``field_name``.
    """
    from trustcopy.reference import is_valid_domain, split_docker_domain

    if not isinstance(value, str):
        raise PolicySpecError("expected a string", (field_name,))
    host, slash, path = value.partition("/")
    if not is_valid_domain(host) or (slash and not re.fullmatch(_PATH_RE, path)):
        raise PolicySpecError(
            f"prefix {value!r} is not valid: use host[:port], a namespace or a repository in the fully expanded "
            "form (e.g. docker.io/library, not library), without tag or digest",
            (field_name,),
        )
    if split_docker_domain(host + "/x/y")[0] != host:
        # Stricter than c/i: a first component that normalization would not keep as the
        # registry host ("busybox/x", "registry", "index.docker.io") can never match.
        raise PolicySpecError(
            f"prefix {value!r} is not in the fully expanded form: {host!r} is not a registry host name "
            '(a host needs a "." or ":", or is "localhost"); e.g. use docker.io/library, not library',
            (field_name,),
        )
    return value


@dataclass(frozen=True)
class RemapIdentity(IdentityMatcher):
    """Rewrite ``prefix`` to ``signed_prefix`` in the image identity, then matchRepoDigestOrExact.

    An image outside ``prefix`` is compared unchanged.
    """

    type_name: ClassVar[str] = "remapIdentity"
    prefix: str
    signed_prefix: str

    def __post_init__(self) -> None:
        validate_remap_prefix(self.prefix, "prefix")
        validate_remap_prefix(self.signed_prefix, "signedPrefix")

    def applies_to(self, ref: DockerReference) -> bool:
        """Whether ``ref``'s repository name is ``prefix`` or below it (at a ``/`` boundary)."""
        name = ref.name
        if len(name) == len(self.prefix):
            return name == self.prefix
        return len(name) > len(self.prefix) and name.startswith(self.prefix) and name[len(self.prefix)] == "/"

    def remap(self, ref: DockerReference) -> DockerReference:
        """``ref`` with ``prefix`` replaced, or ``ref`` itself when the prefix does not apply.

        Raises:
            InvalidReferenceError: the rewritten string is not a canonical reference.
        """
        from trustcopy.reference import parse_named

        if not self.applies_to(ref):
            return ref
        text = str(ref)
        return parse_named(self.signed_prefix + text[len(self.prefix) :])

    def matches(self, image: ImageReference, signed: str) -> Match:
        """See class docstring."""
        intended = _image_identity(self, image)
        if isinstance(intended, Match):
            return intended
        parsed = _signed_identity(signed)
        if isinstance(parsed, Match):
            return parsed
        try:
            remapped = self.remap(intended)
        except InvalidReferenceError as exc:
            return Match(
                False, f"remapping {intended} from {self.prefix} to {self.signed_prefix} failed: {exc.message}"
            )
        result = repo_digest_or_exact_match(remapped, parsed)
        if remapped is not intended:
            return Match(result.ok, f"{intended} remapped to {remapped}: {result.reason}")
        # Not covered: say so, a prefix that misses the image is the usual remapIdentity mistake.
        return Match(result.ok, f"prefix {self.prefix} does not cover {intended.name}, so {intended} is not "
                                f"remapped: {result.reason}")

    def expected(self, image: ImageReference) -> str:
        """See IdentityMatcher."""
        ref = image.docker_reference()
        if ref is None:
            return "nothing: the image has no Docker reference (remapIdentity)"
        try:
            remapped = self.remap(ref)
        except InvalidReferenceError:
            return f"nothing: {ref} cannot be remapped (remapIdentity)"
        if remapped is ref:
            return f"{ref} (remapIdentity: prefix {self.prefix} does not cover it, so matchRepoDigestOrExact)"
        return f"{remapped} (remapIdentity {self.prefix} -> {self.signed_prefix}, then matchRepoDigestOrExact)"

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name, "prefix": self.prefix, "signedPrefix": self.signed_prefix}


#: policy.json ``type`` → matcher class.
IDENTITY_TYPES: dict[str, type[IdentityMatcher]] = {
    cls.type_name: cls
    for cls in (MatchExact, MatchRepoDigestOrExact, MatchRepository, ExactReference, ExactRepository, RemapIdentity)
}
