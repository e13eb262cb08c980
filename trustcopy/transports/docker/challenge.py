"""``WWW-Authenticate`` challenges (RFC 7235) and token scopes.

Each header value is read as containers/image reads it (docker/wwwauthenticate.go,
parseValueAndParams): a scheme token right at the start, then ``key=value`` parameters
separated by commas, a value a token or a quoted string with backslash escapes; parsing
stops at the first thing that does not fit (whitespace around ``=``, an empty value, an
unquoted ``/`` or ``:``, an unterminated quote) and keeps what came before. Scheme and
parameter names are lower-cased. The scan is single and left to right (no regular
expressions, no backtracking), so a hostile header costs linear time.

Two differences, each marked NOTE(go-diff) below: a parameter given twice keeps its first
value, and further challenges in the same header value (RFC 7235's ``Bearer realm="a",
Basic realm="b"``) are also returned, after every header's first challenge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from trustcopy.lazy import dataclass

# RFC 7230 token characters (containers/image's isToken octets).
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: lower-case scheme and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


# Whitespace between tokens: containers/image's skipSpace also skips CR and LF (a value
# folded over several lines, as http.Header may hold it).
_WS = " \t\r\n"


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _token(s: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(s) and s[i] in _TOKEN_CHARS:
        i += 1
    return s[start:i], i


def _token_or_quoted(s: str, i: int) -> tuple[str, int]:
    """A token or a quoted-string at ``s[i]``; ``""`` when there is none or the quote never ends."""
    if i >= len(s) or s[i] != '"':
        return _token(s, i)
    out: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        if c != "\\":
            out.append(c)
        i += 1
    return "", len(s)


def _token68_end(s: str, i: int) -> int:
    """The end of RFC 7235's token68 (``abc/+==``) at ``s[i]``, or ``i`` when there is none."""
    j = i
    while j < len(s) and (s[j] in _TOKEN_CHARS or s[j] == "/"):
        j += 1
    if j == i:
        return i
    while j < len(s) and s[j] == "=":
        j += 1
    return j


def _one_challenge(s: str, i: int) -> tuple[Challenge | None, int | None]:
    """The challenge at ``s[i]`` (containers/image parseValueAndParams), and where a further
    challenge of the same value may start: after a comma, a name not followed by ``=``, or
    the comma after a token68 (None when parsing stopped for any other reason)."""
    scheme, i = _token(s, i)
    if not scheme:
        return None, None
    params: dict[str, str] = {}
    result = Challenge(scheme.lower(), params)
    first = True
    while True:  # c/image treats the space after the scheme as a comma
        start = _skip_ws(s, i)
        if first:
            # "Negotiate abc==, Bearer ...": c/image stops at the token68 with no parameters;
            # a comma after it may start another challenge.
            end = _skip_ws(s, _token68_end(s, start))
            if end < len(s) and s[end] == ",":  # "Negotiate, Basic ..." too: a scheme alone
                return result, end + 1
            if end > start and end >= len(s):
                return result, None
        key, i = _token(s, start)
        if not key:
            return result, None
        if i >= len(s) or s[i] != "=":
            return result, (None if first else start)
        value, i = _token_or_quoted(s, i + 1)
        if not value:
            return result, None
        # NOTE(go-diff): containers/image keeps the last of a repeated parameter; we keep the
        # first, so text appended to a header (an echoed error_description) cannot move the realm.
        params.setdefault(key.lower(), value)
        i = _skip_ws(s, i)
        if i >= len(s) or s[i] != ",":
            return result, None
        i += 1
        first = False


def _starts_challenge(s: str, i: int) -> bool:
    """Whether ``s[i:]`` is ``scheme`` then the end, a comma, or whitespace and a token68 or parameter."""
    _, j = _token(s, i)
    if j >= len(s) or s[j] == ",":
        return True
    if s[j] not in _WS:
        return False
    k = _skip_ws(s, j)
    return k >= len(s) or s[k] == "," or s[k] in _TOKEN_CHARS or s[k] == "/"


def _split_header(header: str) -> tuple[Challenge | None, list[Challenge]]:
    """The challenge containers/image reads from one header value, and the further ones."""
    first, more = _one_challenge(header, 0)
    extra: list[Challenge] = []
    # NOTE(go-diff): containers/image reads one challenge per header value (its parser says so);
    # RFC 7235 allows several, and we keep the others for when none of the first ones fits.
    while more is not None:
        more = _skip_ws(header, more)
        if not _starts_challenge(header, more):
            break
        challenge, more = _one_challenge(header, more)
        if challenge is None:
            break
        extra.append(challenge)
    return first, extra


def parse_challenge_header(header: str) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value into its challenges: containers/image's, then any
    further ones in the same value (see the module docstring)."""
    first, extra = _split_header(header)
    return ([first] if first is not None else []) + extra


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """All challenges of all ``WWW-Authenticate`` header values: first the one containers/image
    reads from each value, in order (so the scheme chosen is the one it chooses whenever it
    finds one), then the further challenges of each value."""
    firsts: list[Challenge] = []
    extras: list[Challenge] = []
    for h in headers:
        first, extra = _split_header(h)
        if first is not None:
            firsts.append(first)
        extras.extend(extra)
    return firsts + extras


@dataclass(frozen=True, order=True)
class Scope:
    """A token scope ``TYPE:NAME:ACTIONS`` (e.g. ``repository:app:pull,push``)."""

    resource_type: str
    name: str
    actions: str

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """Parse a server-provided scope; None when it does not have three parts."""
        head, sep, actions = text.rpartition(":")
        rtype, sep2, name = head.partition(":")
        if not (sep and sep2 and rtype and name and actions):
            return None
        return cls(rtype, name, actions)

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{self.actions}"


def repository_scope(path: str, actions: str) -> Scope:
    """The scope for repository ``path`` (without the registry host)."""
    return Scope("repository", path, actions)
