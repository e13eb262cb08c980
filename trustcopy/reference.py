"""Docker image names: the docker/distribution reference grammar and its normalization.

A reference is ``name[:tag][@digest]``; the name is an optional registry host followed by
``/``-separated path components. Users type *familiar* names (``busybox``); policies,
signatures and registries need the *normalized* name (``docker.io/library/busybox``).
Turning one into the other the same way as skopeo matters for security: a signature claims
an identity as a string, and the policy compares normalized names, so two spellings of one
image must parse to equal objects and different images must never collide.

Grammar (newest ``github.com/distribution/reference``)::

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [ domain "/" ] path
    domain         := host [ ":" port ]          host := domain-name | "[" IPv6 "]"
    domain-name    := component ( "." component )*   component := /[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?/
    path           := path-component ( "/" path-component )*
    path-component := /[a-z0-9]+/ ( separator /[a-z0-9]+/ )*   separator := "." | "_" | "__" | "-"+
    tag            := /[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}/
    digest         := algorithm ":" hex (at least 32 digits; then validated by Digest.parse)

Invariants:

- Every :class:`DockerReference` is normalized: ``domain`` is a real registry host (never
  empty, never ``index.docker.io``), Docker Hub paths have a namespace (``library/x``), and
  ``parse_normalized_named(str(r)) == r`` and ``parse_named(str(r)) == r`` hold.
- The normalized name (``domain/path``) is at most :data:`NAME_TOTAL_LENGTH_MAX` characters.
- Regular expressions are applied with ``fullmatch`` only (``$`` would accept a trailing
  newline), are ASCII-only (``\\w`` is spelled out), and have no nested ambiguous
  repetition, so untrusted input cannot make them backtrack exponentially.

Where containers/image (what skopeo uses) and the newest distribution/reference differ, we
follow the newest distribution/reference, except for the length rule (see
:data:`NAME_TOTAL_LENGTH_MAX`); each difference is marked ``NOTE(go-diff)``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import NoReturn

from trustcopy.digest import Digest
from trustcopy.errors import InvalidReferenceError
from trustcopy.lazy import dataclass

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "LEGACY_DEFAULT_DOMAIN",
    "NAME_TOTAL_LENGTH_MAX",
    "OFFICIAL_REPO_PREFIX",
    "DockerReference",
    "docker_reference_identity",
    "docker_reference_namespaces",
    "is_full_identifier",
    "is_valid_domain",
    "is_valid_tag",
    "parse_named",
    "parse_normalized_named",
    "split_docker_domain",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
#: Longest normalized name (``domain/path``) we accept.
#: NOTE(go-diff): containers/image (skopeo, up to its newest release) limits the whole name,
#: domain included; the newest distribution/reference limits only the path. We keep the
#: stricter containers/image rule so that we never sign or accept a name skopeo rejects.
NAME_TOTAL_LENGTH_MAX = 255

# Grammar pieces. The separator is "-+" (not Go's older "-*", which describes the same
# language): "-*" lets [a-z0-9]+ repeat ambiguously, and Python's backtracking engine would
# take exponential time on inputs such as "aaaa…a!" (Go's RE2 engine does not backtrack).
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# NOTE(go-diff): bracketed IPv6 hosts come from the newest distribution/reference; the
# containers/image copy on disk (5.23) has no IPv6 alternative. Zone ids ("%eth0") and
# IPv4-mapped forms ("::1.2.3.4") are deliberately not matched.
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"

_REFERENCE = rf"(?P<name>(?:{_DOMAIN}/)?{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
_NAME = rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH})"
_IDENTIFIER = r"[a-f0-9]{64}"


@functools.cache
def _re(pattern: str) -> re.Pattern[str]:
    """The compiled grammar pattern, built the first time a command parses a name.

    Compiling the grammar at import cost every process several milliseconds, also the
    many commands that never parse a docker reference (issue 14).
    """
    return re.compile(pattern)

# Rules quoted in error messages (one place, so messages stay consistent).
_NAME_RULE = (
    'a name is an optional registry host ("example.com", "localhost:5000", "[::1]:5000") and "/", '
    'then "/"-separated path components of lower-case letters and digits joined by ".", "_", "__" or "-"'
)
_TAG_RULE = 'a tag is 1-128 letters, digits, "_", "." or "-", and does not start with "." or "-"'
_DIGEST_RULE = 'a digest is "algorithm:hex" with at least 32 hex digits, e.g. "sha256:<64 hex digits>"'
_MESSAGE_INPUT_MAX = 300


def _quote(text: str) -> str:
    """Quote untrusted text for a one-line message, capped in length.

    Everything outside printable ASCII is escaped: control characters cannot break the
    line, and look-alike letters (Cyrillic U+0430 for "a") or bidi overrides show up as
    ``\\uXXXX``.
    """
    if len(text) > _MESSAGE_INPUT_MAX:
        text = text[:_MESSAGE_INPUT_MAX] + "..."
    return json.dumps(text).replace("\x7f", "\\u007f")


_CREDENTIALS_RULE = ("invalid reference format: it holds a user name and password before the registry host; "
                     "give credentials with --creds or an auth file (login), not in the image name")


def _holds_credentials(s: str) -> bool:
    """``user:password@host/…`` pasted as a reference (a malformed digest after the "@" is not).

    Its parts must never be quoted: the grammar reads it as name ``user``, tag ``password``
    (or, with a "/" in the password, a repository holding the rest of it), and an error
    explaining that part would print the secret.
    """
    from trustcopy.redact import mask_userinfo

    # A registry host after an "@" (a password may hold "@" too): followed by "/", or alone but
    # dotted ("user:pw@quay.io").
    hosts = (re.match(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?/", after)
             or re.fullmatch(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?", after)
             for after in s.split("@")[1:])
    return any(hosts) and mask_userinfo(s) != s


def _fail(s: str, rule: str, code: str, hint: str | None = None) -> NoReturn:
    """Raise the one error type every malformed input gets, naming the input and the rule."""
    if "@" in s and _holds_credentials(s):
        rule, code, hint = _CREDENTIALS_RULE, "invalid-reference", None
    raise InvalidReferenceError(
        f"invalid reference {_quote(s)}: {rule}", code=code, context={"reference": s}, hint=hint
    )


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` is a valid tag (what :meth:`DockerReference.with_tag` accepts)."""
    return _re(_TAG).fullmatch(tag) is not None


def is_valid_domain(domain: str) -> bool:
    """True when ``domain`` is a registry host with an optional port (``reg.io``, ``[::1]:5000``).

    Policy remapping prefixes and registries.conf-style lists validate hosts with this.
    """
    return _re(_DOMAIN).fullmatch(domain) is not None


def is_full_identifier(text: str) -> bool:
    """True when ``text`` is a 64-hex image ID, which is never accepted as a repository name."""
    return _re(_IDENTIFIER).fullmatch(text) is not None


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split a familiar name into (registry domain, remainder), applying Docker Hub defaults.

    The first ``/``-separated component is a registry host iff it contains ``.`` or ``:``,
    or is ``localhost``; otherwise the name is on Docker Hub.
    ``index.docker.io`` becomes ``docker.io``; a single component on Docker Hub gets
    ``library/``. The remainder keeps any ``:tag``/``@digest``; nothing is validated here.

    As containers/image (newest included) and unlike the newest distribution/reference,
    an upper-case first component is *not* a host: "Docker/docker" is a Docker Hub name
    and is then rejected as not lower-case. Policy scopes and signed identities must
    mean what they mean to skopeo.

    Returns:
        ``(domain, remainder)``, e.g. ``("docker.io", "library/busybox:1")``.
    """
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == "localhost" or "." in first or ":" in first:
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


@dataclass(frozen=True)
class DockerReference:
    """A normalized, validated Docker reference: ``domain/path[:tag][@digest]``.

    Go's Named / NamedTagged / Canonical interfaces collapse into one value type; ask
    ``tag``/``digest``/``is_name_only`` instead of type-switching. Equality is exact field
    equality, which is what policy matching needs once both sides are normalized.

    Raises:
        ValueError: on construction with fields that are invalid or not normalized
            (API misuse; untrusted strings go through :func:`parse_normalized_named`).
        TypeError: ``digest`` is not a :class:`~trustcopy.digest.Digest`.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.domain, str) or _re(_DOMAIN).fullmatch(self.domain) is None:
            raise ValueError(f"invalid registry domain {self.domain!r}")
        if not isinstance(self.path, str) or _re(_PATH).fullmatch(self.path) is None:
            raise ValueError(f"invalid repository path {self.path!r}")
        if split_docker_domain(self.name) != (self.domain, self.path):
            # e.g. ("docker.io", "busybox"), ("index.docker.io", …) or ("example", "x"),
            # whose string form would parse back to a different reference.
            raise ValueError(f"{self.name!r} is not normalized; use parse_normalized_named()")
        if len(self.name) > NAME_TOTAL_LENGTH_MAX:
            raise ValueError(f"repository name longer than {NAME_TOTAL_LENGTH_MAX} characters: {self.name!r}")
        if self.tag is not None and (not isinstance(self.tag, str) or _re(_TAG).fullmatch(self.tag) is None):
            raise ValueError(f"invalid tag {self.tag!r}")
        if self.digest is not None and not isinstance(self.digest, Digest):
            raise TypeError(f"digest must be a Digest, not {type(self.digest).__name__}")

    @property
    def name(self) -> str:
        """The normalized repository name, ``domain/path`` (Go ``Named.Name()``)."""
        return f"{self.domain}/{self.path}"

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest

    def __str__(self) -> str:
        """The full normalized form ``name[:tag][@digest]`` (Go ``String()``)."""
        return self.name + self._suffix()

    def familiar_name(self) -> str:
        """The name as Docker's UI shows it: no ``docker.io/``, no ``library/`` for one component.

        For display only: it usually parses back to this reference, but not always
        (``docker.io/library/<64 hex>`` displays as an image ID, which is refused), so
        never store or compare familiar forms.
        """
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            short = self.path[len(OFFICIAL_REPO_PREFIX) :]
            if "/" not in short:
                return short
        return self.path

    def familiar_string(self) -> str:
        """:meth:`familiar_name` plus ``:tag``/``@digest``, for messages users recognise."""
        return self.familiar_name() + self._suffix()

    @property
    def is_name_only(self) -> bool:
        """True without tag and digest: such a reference names a repository, not an image."""
        return self.tag is None and self.digest is None

    def with_tag(self, tag: str) -> DockerReference:
        """This reference with ``tag`` set (any digest is kept, as Go ``WithTag`` does).

        Raises:
            InvalidReferenceError: ``tag`` breaks the tag grammar (code ``reference-tag-invalid``).
        """
        if not isinstance(tag, str) or _re(_TAG).fullmatch(tag) is None:
            raise InvalidReferenceError(
                f"invalid tag {_quote(str(tag))} for {_quote(str(self))}: {_TAG_RULE}",
                code="reference-tag-invalid",
                context={"reference": str(self), "tag": str(tag)},
            )
        return dataclasses.replace(self, tag=tag)

    def with_digest(self, digest: Digest) -> DockerReference:
        """This reference with ``digest`` set (any tag is kept, as Go ``WithDigest`` does).

        Raises:
            TypeError: ``digest`` is not a :class:`~trustcopy.digest.Digest` (always valid).
        """
        if not isinstance(digest, Digest):
            raise TypeError(f"digest must be a Digest, not {type(digest).__name__}")
        return dataclasses.replace(self, digest=digest)

    def trim_named(self) -> DockerReference:
        """Only the repository: tag and digest dropped (Go ``TrimNamed``)."""
        return dataclasses.replace(self, tag=None, digest=None)

    def tag_name_only(self) -> DockerReference:
        """Add ``:latest`` to a name-only reference, else return it unchanged (Go ``TagNameOnly``)."""
        return dataclasses.replace(self, tag=DEFAULT_TAG) if self.is_name_only else self


# -- policy scopes (containers/image docker/policyconfiguration) ---------------------------
#
# The docker transport's policy scopes and registries.d's section lookup use the same keys,
# so both call these (transports/docker/reference.py, stores/registries_d.py): written once.


def docker_reference_identity(ref: DockerReference) -> str:
    """The policy identity of a reference with exactly one of tag and digest.

    ``domain/path:tag`` or ``domain/path@digest`` (c/i ``PolicyConfigurationIdentity``):
    the most specific policy scope and registries.d section key.

    Raises:
        ValueError: the reference has both or neither (callers never build such).
    """
    if ref.tag is not None and ref.digest is not None:
        raise ValueError(f"unexpected Docker reference {ref.familiar_string()} with both a tag and a digest")
    if ref.tag is not None:
        return f"{ref.name}:{ref.tag}"
    if ref.digest is not None:
        return f"{ref.name}@{ref.digest}"
    raise ValueError(f"internal inconsistency: Docker reference {ref.familiar_string()} has neither a tag nor a digest")


def docker_reference_namespaces(ref: DockerReference) -> list[str]:
    """The broader scopes of ``ref``, most specific first (c/i ``PolicyConfigurationNamespaces``).

    The repository, each parent namespace, ``host[:port]``, then the ``*.domain`` wildcards
    of the host with its port stripped (none for a bracketed IPv6 host).
    """
    out: list[str] = []
    name = ref.name
    while True:
        out.append(name)
        slash = name.rfind("/")
        if slash == -1:
            break
        name = name[:slash]
    if name.startswith("["):  # an IPv6 literal has no parent domains
        return out
    host = name.partition(":")[0]
    while "." in host:
        host = host.split(".", 1)[1]
        out.append("*." + host)
    return out


def _explain_format_error(s: str, full: str) -> str:
    """Say which part of a reference that failed the grammar is at fault.

    Go only reports "invalid reference format"; we keep that class (code
    ``invalid-reference``) but name the part. ``full`` is the normalized ``domain/remainder``
    form; tag and digest are the same suffix in ``s`` and ``full``, so names are shown
    as the user typed them.
    """
    head, at, digest = full.partition("@")
    colon = head.rfind(":")
    if colon > head.rfind("/"):
        name, tag = head[:colon], head[colon + 1 :]
    else:
        name, tag = head, None
    suffix = full[len(name) :]
    user_name = s[: len(s) - len(suffix)] if suffix and s.endswith(suffix) else s
    if _re(_NAME).fullmatch(name) is None:
        return f"invalid reference format: repository name {_quote(user_name)} is malformed; {_NAME_RULE}"
    if tag is not None and _re(_TAG).fullmatch(tag) is None:
        return f"invalid reference format: tag {_quote(tag)} is malformed; {_TAG_RULE}"
    if at and _re(_DIGEST).fullmatch(digest) is None:
        return f"invalid reference format: digest {_quote(digest)} is malformed; {_DIGEST_RULE}"
    return "invalid reference format"


def _split_name(name: str) -> tuple[str | None, str]:
    """The ``domain`` and ``path`` groups of ``_NAME.fullmatch(name)``, for a name that matched ``_REFERENCE``.

    Without compiling ``_NAME`` (issue 14; _DOMAIN and _PATH are compiled anyway): _DOMAIN
    cannot match "/", so the pattern's optional ``domain/`` can only be the whole first
    component, taken when that component is a domain and the rest a path.
    """
    first, slash, rest = name.partition("/")
    if slash and _re(_DOMAIN).fullmatch(first) and _re(_PATH).fullmatch(rest):
        return first, rest
    return None, name


def _parse_full(s: str, full: str) -> DockerReference:
    """Go ``Parse`` on the normalized string ``full``; errors name the user's input ``s``."""
    match = _re(_REFERENCE).fullmatch(full)
    if match is None:
        lowered = full.lower()
        if lowered != full and _re(_REFERENCE).fullmatch(lowered) is not None:
            _fail(s, "repository name must be lowercase", "reference-name-uppercase")
        _fail(s, _explain_format_error(s, full), "invalid-reference")
    name = match["name"]
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        _fail(
            s,
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters "
            f"(the normalized name, registry host included, has {len(name)})",
            "reference-name-too-long",
        )
    domain, path = _split_name(name)
    if domain is None or (domain, path) != split_docker_domain(name):
        # NOTE(go-diff): e.g. "foo_bar.com/app": the split takes "foo_bar.com" as the host,
        # the host grammar refuses it, and Go then returns a reference with an *empty*
        # domain. A reference naming no registry is ambiguous, so we reject it.
        host = full.partition("/")[0]
        _fail(s, f"invalid reference format: {_quote(host)} is not a valid registry host name", "invalid-reference")
    digest = None
    if match["digest"] is not None:
        try:
            digest = Digest.parse(match["digest"])
        except ValueError as exc:
            _fail(s, str(exc), "reference-digest-invalid")
    return DockerReference(domain, path, match["tag"], digest)


def parse_normalized_named(s: str) -> DockerReference:
    """Parse what a user types (``busybox``, ``quay.io/a/b:1@sha256:…``) into its normalized form.

    Checks run in Go ``ParseNormalizedNamed``'s order, so each input fails with the same
    class of error as in skopeo: 64-hex ID, lower-case repository, grammar, length, digest.

    Args:
        s: the reference; familiar forms are expanded (``busybox`` → ``docker.io/library/busybox``).

    Returns:
        The normalized reference, keeping the tag and/or digest given (none are added).

    Raises:
        InvalidReferenceError: ``s`` is not a valid reference; ``code`` is one of
            ``invalid-reference``, ``reference-hex-identifier``, ``reference-name-uppercase``,
            ``reference-name-too-long``, ``reference-digest-invalid``.
        TypeError: ``s`` is not a string.
    """
    if not isinstance(s, str):
        raise TypeError(f"reference must be a string, not {type(s).__name__}")
    if s == "":
        _fail(s, "invalid reference format: the reference is empty", "invalid-reference")
    if is_full_identifier(s):
        _fail(
            s,
            "invalid repository name, cannot specify 64-byte hexadecimal strings",
            "reference-hex-identifier",
            hint="an image ID is not a repository name; to use it as one, prefix the registry, e.g. docker.io/<id>",
        )
    domain, remainder = split_docker_domain(s)
    repository = remainder.partition(":")[0]
    if repository.lower() != repository:
        _fail(
            s,
            f"repository name {_quote(repository)} must be lowercase",
            "reference-name-uppercase",
            hint="only the registry host and the tag may contain upper-case letters",
        )
    return _parse_full(s, f"{domain}/{remainder}")


def split_reference(s: str) -> tuple[str, str, str | None, str | None]:
    """Go ``reference.Parse``: the parts of ``s`` as written, nothing normalized or added.

    For rules about how a name is *written* (registries.conf short-name aliases): ``busybox``
    has no domain, ``library/busybox`` has the "domain" ``library``, as in Go.

    Returns:
        ``(domain or "", path, tag or None, digest or None)``.

    Raises:
        InvalidReferenceError: as :func:`parse_normalized_named` (without its 64-hex rule).
    """
    match = _re(_REFERENCE).fullmatch(s)
    if match is None:
        if s == "":
            _fail(s, "invalid reference format: the reference is empty", "invalid-reference")
        if _re(_REFERENCE).fullmatch(s.lower()) is not None:
            _fail(s, "repository name must be lowercase", "reference-name-uppercase")
        _fail(s, _explain_format_error(s, s), "invalid-reference")
    name = match["name"]
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        _fail(s, f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters",
              "reference-name-too-long")
    if match["digest"] is not None:
        try:
            Digest.parse(match["digest"])
        except ValueError as exc:
            _fail(s, str(exc), "reference-digest-invalid")
    domain, path = _split_name(name)
    return domain or "", path, match["tag"], match["digest"]


def parse_named(s: str) -> DockerReference:
    """Parse a reference that must already be in normalized form (Go ``ParseNamed``).

    Used where a string is compared with normalized references, e.g. a signing identity:
    accepting ``busybox`` there would silently mean ``docker.io/library/busybox``.

    Returns:
        The reference; ``str(result) == s``.

    Raises:
        InvalidReferenceError: ``s`` is invalid (see :func:`parse_normalized_named`) or not
            canonical (code ``reference-not-canonical``, the hint gives the canonical form).
        TypeError: ``s`` is not a string.
    """
    ref = parse_normalized_named(s)
    if str(ref) != s:
        _fail(
            s,
            f"repository name must be canonical (fully expanded: {_quote(str(ref))})",
            "reference-not-canonical",
            hint=f"write it as {ref}",
        )
    return ref
