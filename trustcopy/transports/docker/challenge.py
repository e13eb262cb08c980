"""``WWW-Authenticate`` challenges (RFC 7235) and token scopes.

The parser is a single left-to-right scan (no regular expressions, no backtracking), so a
hostile header costs linear time. It accepts several challenges in one header, quoted
values with backslash escapes (commas and quotes inside them), case-insensitive scheme
and parameter names; a malformed remainder ends parsing and what came before is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from trustcopy.lazy import dataclass

# RFC 7230 token characters.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68_EXTRA = frozenset("/+=")  # token68 adds these (e.g. "Negotiate abc/+=")


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


def _token(s: str, i: int, extra: frozenset[str] = frozenset()) -> tuple[str, int]:
    start = i
    while i < len(s) and (s[i] in _TOKEN_CHARS or s[i] in extra):
        i += 1
    return s[start:i], i


def _quoted(s: str, i: int) -> tuple[str | None, int]:
    """Parse a quoted-string starting at ``s[i] == '"'``; None if unterminated."""
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
        out.append(c)
        i += 1
    return None, i


def parse_challenge_header(header: str) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value into its challenges (RFC 7235).

    Handles several challenges in one header (``Bearer realm="a",service="b", Basic
    realm="c"``), quoted values with backslash escapes and commas inside them,
    case-insensitive scheme and parameter names. A malformed remainder ends parsing:
    what was parsed before it is kept. The first occurrence of a parameter wins.
    """
    out: list[Challenge] = []
    s = header
    i = 0
    while i < len(s):
        i = _skip_ws(s, i)
        while i < len(s) and (s[i] == "," or s[i] in _WS):
            i += 1
        scheme, i = _token(s, i)
        if not scheme:
            break
        params: dict[str, str] = {}
        i = _skip_ws(s, i)
        # token68 form: "Scheme abc123==" (no key=value); skip it.
        save = i
        t68, j = _token(s, i, _TOKEN68_EXTRA)
        k = _skip_ws(s, j)
        if t68 and (k >= len(s) or s[k] == ",") and ("=" not in t68.rstrip("=") and t68.endswith("=")):
            out.append(Challenge(scheme.lower(), params))
            i = k
            continue
        i = save
        while i < len(s):
            start = i
            key, i = _token(s, i)
            i = _skip_ws(s, i)
            if not key or i >= len(s) or s[i] != "=":
                i = start  # not a parameter: the next challenge starts here
                break
            i = _skip_ws(s, i + 1)
            value: str | None
            if i < len(s) and s[i] == '"':
                value, i = _quoted(s, i)
                if value is None:
                    out.append(Challenge(scheme.lower(), params))
                    return out
            else:
                value, i = _token(s, i, frozenset("/:"))
            params.setdefault(key.lower(), value)
            i = _skip_ws(s, i)
            if i < len(s) and s[i] == ",":
                i = _skip_ws(s, i + 1)
                continue
            break
        out.append(Challenge(scheme.lower(), params))
        if i < len(s) and s[i] != "," and s[i] not in _WS and s[i] not in _TOKEN_CHARS:
            break  # garbage
    return out


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """All challenges of all ``WWW-Authenticate`` header values, in order."""
    out: list[Challenge] = []
    for h in headers:
        out.extend(parse_challenge_header(h))
    return out


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
