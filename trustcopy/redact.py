"""The only code that formats anything near a credential.

WARNING: never build an error message, a log line or a ``repr`` from a URL or a header
without passing it through this module. Registry URLs may carry ``user:pass@`` or
token query parameters; headers carry ``Authorization``.
"""

from __future__ import annotations

import bisect
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_QUERY_KEYS = frozenset(
    {"token", "access_token", "refresh_token", "password", "secret", "signature", "sig", "x-amz-signature",
     "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential", "code",
     # signed blob-store redirects: Docker Hub's Cloudflare ``verify=``, CloudFront's Policy /
     # Key-Pair-Id, Akamai's ``hdnts``, and the generic names keys travel under
     "verify", "policy", "key-pair-id", "hdnts", "key", "apikey", "api_key", "auth", "jwt", "credential"}
)
MASK = "***"


def redact_url(url: str) -> str:
    """Drop userinfo and mask secret-looking query parameters of ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*:/"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# Patterns are compiled on first use (re's cache), not at import: most commands never
# redact anything, and start-up pays for every compile (issue 14).
_BEARER = r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask ``Bearer …``/``Basic …`` values and any of ``secrets`` in free text."""
    out = text
    # ASCII text without either word cannot match; other text goes to the pattern (its
    # case-insensitive matching folds some non-ASCII letters onto ASCII ones).
    if not text.isascii() or "bearer" in (lowered := text.lower()) or "basic" in lowered:
        out = re.sub(_BEARER, lambda m: f"{m.group(1)} {MASK}", text)
    for s in secrets:
        if len(s) >= MIN_SCRUBBED_SECRET:
            out = out.replace(s, MASK)
        elif s:
            # A short one only as a word of its own: "o" masked inside every "nope" a registry says
            # garbled the message and showed where the password's letters are.
            out = re.sub(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", MASK, out)
    return out


# "user:password@" at the start of something reference-like, unless what follows the "@"
# is a digest ("name:tag@sha256:…" is a valid reference, not credentials) or no host at
# all: nothing, or a number ("oci:layout:@0", an archive's ":@-1" typo: a source index),
# also when a message goes on after it ("docker-archive:a.tar:@3: invalid source index").
# A password holding "/" or "@" (base64 tokens, AWS keys) is taken up to the last "@" of the
# word that a host name follows (then "/", ":", the end, a space or a quote): a URL's path
# with an "@" in it ("…/app@sha256=…/signature-1", a lookaside store's) is no credentials.
#
# As one regular expression (the definition; tests/unit/core keeps it as the oracle):
#   (?<![^\s"'/=(])[^\s"'/@:=\[\]]+:(?:(?!//)[^\s"']*@(?=HOST)|[^\s"'/@]*@)(?!DIGEST)(?!NUMBER)
# It is not run as one: its backtracking took minutes on a 100 KB word of "/a:b@-" (every "/"
# a start, every "@" a backtrack). _userinfo_spans finds the same matches in linear time.
_HOST = (r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
         r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?(?:[/:\s\"']|$)")
_NOT_AFTER_AT = (r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32}"  # a digest
                 r"|-?[0-9]*(?:$|[\s\"']|:(?:$|\s))")  # a number (a source index), or nothing
_USER_STOPS = frozenset("/@:=[]")


def _userinfo_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each ``user:password@`` the comment above describes, left to right."""
    host, not_after_at = re.compile(_HOST), re.compile(_NOT_AFTER_AT)
    local = _LocalWords(text)
    spans: list[tuple[int, int]] = []
    for word in re.finditer(r"[^\s\"']+", text):
        w, base = word.group(0), word.start()
        if "@" not in w or ":" not in w:
            continue
        size = len(w)
        plain_ok = [False] * size  # an "@" after which no digest or number comes
        host_ok = [False] * size  # … and a host name does
        for k, char in enumerate(w):
            if char == "@" and not not_after_at.match(text, base + k + 1):
                plain_ok[k] = True
                host_ok[k] = host.match(text, base + k + 1) is not None
        last_host_at = [-1] * (size + 1)  # the last host "@" at or after each index
        next_stop = [size] * (size + 1)  # the first of "/@:=[]" at or after each index
        next_slash_or_at = [size] * (size + 1)
        for k in range(size - 1, -1, -1):
            last_host_at[k] = last_host_at[k + 1] if last_host_at[k + 1] >= 0 else (k if host_ok[k] else -1)
            next_stop[k] = k if w[k] in _USER_STOPS else next_stop[k + 1]
            next_slash_or_at[k] = k if w[k] in "/@" else next_slash_or_at[k + 1]
        allowed = 0  # matches do not overlap
        for p in range(size):
            if p < allowed or (p > 0 and w[p - 1] not in "/=("):
                continue
            colon = next_stop[p]
            if colon in (p, size) or w[colon] != ":":
                continue
            end = last_host_at[colon + 1] if not w.startswith("//", colon + 1) else -1
            if end < 0:
                k = next_slash_or_at[colon + 1]
                end = k if k < size and plain_ok[k] else -1
            if end < 0 or local(base + p):
                continue
            spans.append((base + p, base + end + 1))
            allowed = end + 1
    return spans


def mask_userinfo(text: str) -> str:
    """Mask ``user:password@`` in text quoting a malformed image reference or URL.

    Users paste ``https://user:token@registry/...`` into image names; the reference
    is refused, and the message saying so must not print the token. Every error message
    passes here, most without an ``@``: those skip the scan.
    """
    if "@" not in text:
        return text
    passwords: list[str] = []
    pieces: list[str] = []
    done = 0
    for start, end in _userinfo_spans(text):
        pieces += [text[done:start], MASK + "@"]
        passwords.append(text[start:end - 1].partition(":")[2])
        done = end
    out = "".join(pieces) + text[done:]
    # The same message may quote the password again on its own: a reference parser reads
    # "user:password@host/x" as name "user", tag "password", and may explain the tag.
    for password in passwords:
        if len(password) >= MIN_SCRUBBED_SECRET:
            out = out.replace(password, MASK)
    return out


# A local transport's reference is a path (and a tag): "oci:/srv/lay:v1@beta" is a layout and its
# tag, never pasted credentials, and masking it would hide the path an error is about.
_LOCAL_PREFIXES = ("dir:", "oci:", "oci-archive:", "docker-archive:", "tarball:")
_WORD_STARTS = " \t\n\r\"'(=,"


class _LocalWords:
    """Whether a position lies in a word that starts with a local transport's name.

    (Not when a URL follows the name, as in a mistyped ``oci:https://user:token@host/x``.)
    Any whitespace ends a word, as a regular expression's ``\\s`` does (a vertical tab, a
    no-break space): a narrower set let a local path, a no-break space and ``user:token@host``
    pass as one local word, unmasked. Word starts and "://" positions are found once, so asking
    about many positions stays linear.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0] + [i + 1 for i, c in enumerate(text) if c.isspace() or c in _WORD_STARTS]
        self._urls = [m.start() for m in re.finditer("://", text)]

    def __call__(self, at: int) -> bool:
        start = self._starts[bisect.bisect_right(self._starts, at) - 1]
        if not self._text.startswith(_LOCAL_PREFIXES, start):
            return False
        first_url = bisect.bisect_left(self._urls, start)
        return not (first_url < len(self._urls) and self._urls[first_url] + 3 <= at)


# -- secrets known to this command -------------------------------------------------------------
#
# A last line of defence at the CLI's output points (the error line, the ``--debug`` log and
# traceback): every password, token and passphrase the command was given or obtained is
# registered here, and :func:`scrub` masks it wherever it turns up, whatever path carried it
# there (a library's exception message chained under ours, an echoing server or proxy).
# ``trustcopy.cli.main.main`` starts each command with an empty set.

#: Shorter values are not masked in free text: "p" would mask every p of every message.
MIN_SCRUBBED_SECRET = 6
_KNOWN: set[str] = set()


def secret_forms(value: str) -> tuple[str, ...]:
    """``value`` and the encodings a server may echo it in (percent-encoded, form-encoded)."""
    from urllib.parse import quote, quote_plus

    if not value:
        return ()
    return tuple(dict.fromkeys((value, quote(value, safe=""), quote_plus(value))))


def basic_forms(username: str, password: str) -> tuple[str, ...]:
    """The ``Basic`` credential of ``username:password`` as it travels (base64, padded or not, url-safe)."""
    import base64

    if not (username or password):
        return ()
    raw = f"{username}:{password}".encode()
    std = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    return tuple(dict.fromkeys((std, std.rstrip("="), url, url.rstrip("="))))


def register_secret(*values: str | None) -> None:
    """Remember ``values`` (and their encoded forms) as secrets :func:`scrub` masks."""
    for value in values:
        if value:
            _KNOWN.update(v for v in secret_forms(value) if len(v) >= MIN_SCRUBBED_SECRET)


def register_basic(username: str | None, password: str | None) -> None:
    """Remember a username/password pair: the password and the Basic credential made of both."""
    register_secret(password)
    if password:
        _KNOWN.update(v for v in basic_forms(username or "", password) if len(v) >= MIN_SCRUBBED_SECRET)


def register_url_secrets(url: str) -> None:
    """Remember what :func:`redact_url` masks in ``url`` (its password, its secret query values).

    A pre-signed blob-store URL a registry redirects to carries its signature in the query;
    a store refusing it may echo the URL (a JSON error, a ``Warning`` header), and that echo
    must be masked like any credential of the command.
    """
    from urllib.parse import unquote, unquote_plus

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    if password:
        # Decoded, and as the URL spells it (``%2f`` in lower case is none of our encodings).
        register_secret(unquote(password))
        if len(password) >= MIN_SCRUBBED_SECRET:
            _KNOWN.add(password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_QUERY_KEYS:
            register_secret(value)
    # And each value as the URL itself spells it: an echo of the URL carries that text, which
    # neither the decoded value nor our (upper-case, all-escaping) re-encoding of it matches
    # when the URL escaped in lower case or left "/" or "=" raw.
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key).lower() in _SECRET_QUERY_KEYS and len(value) >= MIN_SCRUBBED_SECRET:
            _KNOWN.add(value)


def forget_secrets() -> None:
    """Start a new command: no secret known."""
    _KNOWN.clear()


def known_secrets() -> tuple[str, ...]:
    """The registered secrets, longest first (a secret containing another is masked whole)."""
    return tuple(sorted(_KNOWN, key=len, reverse=True))


def scrub(text: str, *, headers: bool = False) -> str:
    """``text`` made safe to print: every registered secret and ``user:pass@`` masked.

    ``headers``: ``Bearer …``/``Basic …`` values too (free text such as a traceback; error
    messages keep words like "basic authentication" as they are).
    """
    if not text:
        return text
    out = text
    for secret in known_secrets():
        out = out.replace(secret, MASK)
    if headers:
        out = redact_text(out)
    return mask_userinfo(out)
