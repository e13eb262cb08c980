"""The only code that formats anything near a credential.

WARNING: never build an error message, a log line or a ``repr`` from a URL or a header
without passing it through this module. Registry URLs may carry ``user:pass@`` or
token query parameters; headers carry ``Authorization``.
"""

from __future__ import annotations

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
        if s:
            out = out.replace(s, MASK)
    return out


# "user:password@" at the start of something reference-like, unless what follows the "@"
# is a digest ("name:tag@sha256:…" is a valid reference, not credentials) or no host at
# all: nothing, or a number ("oci:layout:@0", an archive's ":@-1" typo: a source index),
# also when a message goes on after it ("docker-archive:a.tar:@3: invalid source index").
# A password holding "/" or "@" (base64 tokens, AWS keys) is taken up to the "@" that a host
# name follows (then "/", ":", the end, a space or a quote): a URL's path with an "@" in it
# ("…/app@sha256=…/signature-1", a lookaside store's) is no credentials.
_HOST = (r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
         r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?(?:[/:\s\"']|$)")
_USERINFO = (
    r"(?<![^\s\"'/=(])[^\s\"'/@:=\[\]]+:"
    r"(?:(?!//)[^\s\"']*@(?=" + _HOST + r")|[^\s\"'/@]*@)"
    r"(?![A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32})"
    r"(?!-?[0-9]*(?:$|[\s\"']|:(?:$|\s)))"
)


def mask_userinfo(text: str) -> str:
    """Mask ``user:password@`` in text quoting a malformed image reference or URL.

    Users paste ``https://user:token@registry/...`` into image names; the reference
    is refused, and the message saying so must not print the token. Every error message
    passes here, most without an ``@``: those skip the pattern (and its compilation).
    """
    if "@" not in text:
        return text
    pattern = re.compile(_USERINFO)  # re's cache: compiled once per process
    passwords: list[str] = []
    pieces: list[str] = []
    done = search_from = 0
    while (match := pattern.search(text, search_from)) is not None:
        if _in_local_reference(text, match.start()):
            # A path, not credentials; a later start may still be ("oci:https://user:token@host").
            search_from = match.start() + 1
            continue
        pieces += [text[done:match.start()], MASK + "@"]
        passwords.append(match.group(0)[:-1].partition(":")[2])
        done = search_from = match.end()
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


def _in_local_reference(text: str, at: int) -> bool:
    """Whether position ``at`` lies in a word that starts with a local transport's name.

    (Not when a URL follows the name, as in a mistyped ``oci:https://user:token@host/x``.)
    """
    # Any whitespace ends a word, as ``\s`` in _USERINFO does (a vertical tab, a no-break space):
    # a narrower set let "oci:/a\u00a0user:token@host" pass as one local word, unmasked.
    start = at
    while start > 0 and not (text[start - 1].isspace() or text[start - 1] in _WORD_STARTS):
        start -= 1
    return text.startswith(_LOCAL_PREFIXES, start) and "://" not in text[start:at]


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
