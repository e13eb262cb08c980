"""Lookaside signature stores: ``signature-N`` files beside a registry, read over file/http(s), written to file.

Layout (containers/image docs/signature-protocols.md, kept byte-compatible with skopeo)::

    BASE/REPOSITORY-PATH@ALGO=HEX/signature-N        N = 1, 2, …

``BASE`` is the store's URL from registries.d (stores/registries_d.py), ``REPOSITORY-PATH``
the image's repository *without* the registry host (``docker.io/library/busybox`` →
``library/busybox``: two registries with the same repository path share files in one
store, as in containers/image; ``lookaside where`` warns about it), and ``ALGO=HEX`` the
manifest digest with ``=`` instead of ``:``. For http(s) stores the URL requested is Go's
``url.URL.String()`` of that path, as containers/image builds it: the base path is decoded
and the whole path re-escaped (``%2F`` becomes ``/``, ``!`` becomes ``%21``).

Reading (:func:`read_signatures`)
    ``signature-1``, ``signature-2`` … until the first missing one: a missing file, or
    HTTP 404. Every other outcome (403, 500, a redirect to plain HTTP, a TLS or network
    failure, an unreadable file) is an error naming the URL and the index, never "no
    signatures". A transient failure (a connection dropped or refused, a timeout, a body
    cut short, 408/429/5xx) is retried ``HTTPOptions.retry_times`` times with backoff
    (``Retry-After`` honoured): the registry's client passes ``--retry-times``, as a
    registry GET is retried; only the last failure is reported. At most
    :data:`MAX_LOOKASIDE_SIGNATURES` signatures of at most ``limits.MAX_SIGNATURE_BODY``
    bytes each (a ``Content-Encoding`` is undone in bounded steps, so a compressed body
    cannot inflate past that); an HTTP body must also arrive within a deadline (a server
    trickling bytes forever is cut). Neither limit is retried. A ``text/html`` answer is logged
    as a warning naming the URL (it is most likely an error page; the blob is then kept
    as an unknown-format signature, which no requirement accepts). A ``file://``
    signature must be a regular file whose real path lies inside the store (a FIFO, a
    device, or a symlink out of the store is refused). Each blob is parsed once, with
    :func:`~trustcopy.signature.formats.stored_signature`, and returned typed.

Writing (:func:`write_signatures`, :func:`delete_signatures`)
    ``file://`` only (containers/image refuses http(s) with the same hint: configure a
    ``lookaside-staging``). ``signature-1..N`` are rewritten and ``signature-N+1`` … are
    removed up to the first missing one; each file is written atomically (temporary file
    in the same directory, then rename), so a reader never sees a half-written
    signature. New directories are 0755 and files 0644 whatever the umask, so that
    other users (a web server publishing the store) can read them. A symlink leading
    out of the store is refused here too. Writing an empty list changes nothing (as
    containers/image: the store keeps signatures another copy may need).

WARNING: signatures read here are untrusted; only the policy engine decides what they
prove. ``location`` on each signature is for traces and errors only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import stat
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

from trustcopy import httpretry, limits
from trustcopy.digest import Digest
from trustcopy.errors import (
    ConfigError,
    LimitExceededError,
    NetworkError,
    SignatureError,
    TransportError,
    TrustcopyError,
)
from trustcopy.fsutil import fsync_dir, write_file_atomic
from trustcopy.lazy import dataclass
from trustcopy.redact import redact_url, register_url_secrets
from trustcopy.signature.formats import Signature, signature_to_blob, stored_signature

if TYPE_CHECKING:
    import ssl

    import httpx

log = logging.getLogger("trustcopy.stores")

#: containers/image ``maxLookasideSignatures``: more means a broken or hostile server.
MAX_LOOKASIDE_SIGNATURES = 128
SUPPORTED_SCHEMES = ("file", "http", "https")
WRITE_HINT = "configure a lookaside-staging: file:///… location in registries.d for writing"


def _has_bad_escape(text: str) -> bool:
    """Whether a ``%`` in ``text`` does not start an escape (Go's url.Parse refuses such a URL)."""
    import re

    return "%" in text and re.search(r"%(?![0-9A-Fa-f]{2})", text) is not None


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#: ASCII characters Go's url.Parse accepts in a host (its shouldEscape(c, encodeHost) is false).
_GO_HOST_CHARS = frozenset(_ALNUM + "-_.~!$&'()*+,;=:[]<>\"%")
#: What Go's url.URL.EscapedPath leaves unescaped besides letters, digits and "-_.~" (shouldEscape, encodePath).
_GO_PATH_SAFE = "$&+,/:;=@"
#: Characters Go's url.Parse accepts in userinfo (its validUserinfo).
_GO_USERINFO_CHARS = frozenset(_ALNUM + "-._:~!$&'()*+,;=%@")


def _shown_url(url: str) -> str:
    """``url`` for messages: credentials masked, control characters and leading spaces escaped
    (urlsplit, under redact_url, would silently drop them)."""
    stripped = url.lstrip(" ")
    visible = "%20" * (len(url) - len(stripped)) + "".join(
        f"%{ord(c):02X}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in stripped)
    return redact_url(visible)


def _raw_netloc(url: str) -> str:
    """The authority of ``url`` as urlsplit delimits it ("scheme://AUTHORITY/..."), for a URL
    urlsplit itself refuses."""
    _, colon, rest = url.partition(":")
    if not colon or not rest.startswith("//"):
        return ""
    rest = rest[2:]
    return rest[:min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))]


def _go_valid_optional_port(colon_port: str) -> bool:
    return colon_port == "" or (colon_port.startswith(":") and all(c in "0123456789" for c in colon_port[1:]))


def _go_url_problem(url: str, netloc: str) -> str | None:
    """Why Go's url.Parse refuses ``url`` (containers/image: "Invalid signature storage URL"), or None.

    Only what Python's urlsplit lets through: urlsplit silently drops control characters
    and a leading space (so the store would be another path than the one written), and
    does not check the authority's characters or port.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "invalid control character in URL"
    if url.startswith(" "):
        return "a URL cannot start with a space"
    userinfo, at, host = netloc.rpartition("@")
    if at and any(c not in _GO_USERINFO_CHARS for c in userinfo):
        return "invalid userinfo"
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            return "missing ']' in host"
        if not _go_valid_optional_port(host[close + 1:]):
            return f"invalid port {host[close + 1:]!r} after host"
    elif ":" in host and not _go_valid_optional_port(host[host.rfind(":"):]):
        return f"invalid port {host[host.rfind(':'):]!r} after host"
    bad = next((c for c in host if c.isascii() and c not in _GO_HOST_CHARS), None)
    if bad is not None:
        return f"invalid character {bad!r} in host name"
    import re

    escape = re.search(r"%[0-7][0-9A-Fa-f]", host.replace("%25", ""))
    if escape is not None:  # a host's escapes may only encode non-ASCII bytes (or "%25")
        return f"invalid URL escape {escape.group()!r} in host name"
    return None


@dataclass(frozen=True)
class LookasideLocation:
    """Where one repository's signatures live in one store.

    Args:
        base_url: the store's top-level URL, as configured (``file:///var/lib/containers/sigstore``).
        repository_path: the repository path without the registry host (``library/busybox``).
        origin: where ``base_url`` comes from, for messages (``lookaside of docker:
            "example.com" in /etc/containers/registries.d/x.yaml``).

    Raises:
        ConfigError: ``base_url`` is not a usable URL (code ``lookaside-url-invalid``),
            naming ``origin``.
        ValueError: ``repository_path`` is not a clean relative path (API misuse).
    """

    base_url: str
    repository_path: str
    origin: str = ""

    def __post_init__(self) -> None:
        if (not self.repository_path or posixpath.normpath(self.repository_path) != self.repository_path
                or self.repository_path.startswith("/")):
            raise ValueError(f"unexpected path elements in repository path {self.repository_path!r}")
        origin = f" ({self.origin})" if self.origin else ""
        try:
            parts = urlsplit(self.base_url)
        except ValueError as exc:
            # Go's reason first: which URLs urlsplit refuses differs between Python patch
            # releases (3.11.2 refuses "https://[::1]x/x", which 3.11.7 splits).
            problem = _go_url_problem(self.base_url, _raw_netloc(self.base_url))
            raise self._bad(f"invalid lookaside URL {redact_url(self.base_url)!r}{origin}: {problem or exc}") from None
        problem = _go_url_problem(self.base_url, parts.netloc)
        if problem is not None:  # as containers/image, which cannot parse it
            raise self._bad(f"invalid lookaside URL {_shown_url(self.base_url)!r}{origin}: {problem}")
        if _has_bad_escape(parts.netloc + parts.path + parts.fragment):  # the query aside, as in Go
            # As Go's url.Parse refuses it: "%zz" would otherwise name a file skopeo never reads.
            raise self._bad(f"invalid lookaside URL {redact_url(self.base_url)!r}{origin}: "
                            "invalid URL escape ('%' not followed by two hex digits)")
        if parts.scheme not in SUPPORTED_SCHEMES:
            raise self._bad(
                f"unsupported scheme in lookaside URL {redact_url(self.base_url)!r}{origin}: "
                f"use file://, http:// or https://"
            )
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise self._bad(
                    f"lookaside URL {redact_url(self.base_url)!r}{origin} is not an absolute file URL "
                    f"(file:///absolute/path; the host part must be empty)"
                )
            if "\0" in unquote(parts.path):  # "%00": no file can have that name (os.lstat: ValueError)
                raise self._bad(f"lookaside URL {redact_url(self.base_url)!r}{origin} names a path with a NUL "
                                "byte (%00)")
        elif not parts.hostname:
            raise self._bad(f"lookaside URL {redact_url(self.base_url)!r}{origin} has no host")
        elif not parts.netloc.rpartition("@")[2].isascii() or "%" in parts.netloc.rpartition("@")[2]:
            # NOTE(go-diff): Go's url.Parse takes a non-ASCII (or %-escaped) host, but then
            # writes it %-escaped and its resolver looks the raw bytes up, which fails; we
            # would have contacted the IDNA form instead. Refused here, naming the remedy.
            raise self._bad(f"lookaside URL {redact_url(self.base_url)!r}{origin} has a non-ASCII host name, "
                            "which containers/image cannot reach: write it in its ASCII (xn--…) form")

    def _bad(self, message: str) -> ConfigError:
        return ConfigError(message, code="lookaside-url-invalid",
                           context={"url": _shown_url(self.base_url), "origin": self.origin})

    @property
    def scheme(self) -> str:
        """``file``, ``http`` or ``https``."""
        return urlsplit(self.base_url).scheme

    @property
    def store_root(self) -> str:
        """The local directory of a ``file://`` store (symlinks must not lead out of it).

        Raises:
            ValueError: the store is not ``file://`` (API misuse).
        """
        if self.scheme != "file":
            raise ValueError(f"{redact_url(self.base_url)} is not a file:// store")
        return unquote(urlsplit(self.base_url).path)

    def _with_path_suffix(self, suffix: str) -> str:
        parts = urlsplit(self.base_url)
        path = parts.path + suffix
        if parts.scheme != "file":
            # As Go's url.URL.String() after containers/image appends to the decoded Path: the
            # base's escapes are decoded and the whole path re-escaped ("a%2Fb" → "a/b",
            # "%41" → "A", "!" → "%21"), so that we request the very URL skopeo requests.
            path = quote(unquote_to_bytes(path), safe=_GO_PATH_SAFE)
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))

    @property
    def repository_url(self) -> str:
        """``BASE/REPOSITORY-PATH`` (as containers/image, the base path is not cleaned)."""
        return self._with_path_suffix("/" + self.repository_path)

    def signature_url(self, digest: Digest, n: int) -> str:
        """The URL of ``signature-n`` (``n`` from 1) for the manifest ``digest``."""
        if n < 1:
            raise ValueError("signatures are numbered from 1")
        return self._with_path_suffix(f"/{self.repository_path}@{digest.algorithm}={digest.hex}/signature-{n}")

    def signature_dir(self, digest: Digest) -> str:
        """The local directory holding ``digest``'s signatures (``file://`` stores only)."""
        return f"{self.store_root}/{self.repository_path}@{digest.algorithm}={digest.hex}"

    def signature_path(self, digest: Digest, n: int) -> str:
        """The local path of ``signature-n`` (``file://`` stores only)."""
        return f"{self.signature_dir(digest)}/signature-{n}"

    def to_json(self) -> dict[str, str]:
        """The location as a JSON object (credentials in the URL masked)."""
        return {"url": redact_url(self.base_url), "repositoryURL": redact_url(self.repository_url),
                "origin": self.origin}


@dataclass(frozen=True)
class HTTPOptions:
    """How to reach an http(s) lookaside: containers/image uses the registry's TLS settings.

    ``ssl_context`` (e.g. the registry's, with its certs.d CAs and client certificate)
    wins over ``verify``/``ca_file``/``cert_file``/``key_file``.
    """

    verify: bool = True
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    ssl_context: ssl.SSLContext | None = None
    #: Seconds a connect or a read may stall.
    timeout: float = 30.0
    #: Seconds one signature's whole answer may take (a body that never ends is cut).
    deadline: float = 120.0
    max_redirects: int = 10
    #: How many times a transient failure of one GET is retried (RegistryClient passes --retry-times).
    retry_times: int = 0
    #: Seconds before the first retry; each later one waits ``retry_growth`` times longer (at most 60 s).
    retry_delay: float = 1.0
    retry_growth: float = 2.0

    def new_client(self) -> httpx.Client:
        """An httpx client with these settings (the caller closes it)."""
        import httpx

        from trustcopy.keepalive import StrayBytesGuard
        from trustcopy.proxies import routing_transport

        context = self.context()
        # A connection that received more than it was answered is never reused (keepalive.py).
        transport = routing_transport(lambda proxy: StrayBytesGuard(httpx.HTTPTransport(verify=context, proxy=proxy)))
        return httpx.Client(transport=transport, timeout=httpx.Timeout(self.timeout), follow_redirects=False)

    def context(self) -> ssl.SSLContext:
        """The TLS context: ``ssl_context``, else the system store (+ ``ca_file``) and client certificate.

        Raises:
            ConfigError: the CA bundle or the client certificate cannot be loaded.
        """
        if self.ssl_context is not None:
            return self.ssl_context
        import ssl  # here: `lookaside where` and file: stores never touch TLS (start-up, issue 14)

        try:
            ctx = ssl.create_default_context()
            if self.ca_file:
                ctx.load_verify_locations(cafile=self.ca_file)
            if not self.verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(f for f in (self.ca_file, self.cert_file, self.key_file) if f)
            raise ConfigError(f"cannot load the TLS files for a lookaside ({files}): {exc}",
                              code="config-unreadable") from None
        return ctx


# -- reading ---------------------------------------------------------------------------------


def read_signatures(
    location: LookasideLocation,
    digest: Digest,
    *,
    http: HTTPOptions | None = None,
    client: httpx.Client | None = None,
) -> list[Signature]:
    """All signatures of the manifest ``digest`` in a store, in order.

    Args:
        location: the store and repository (from registries.d).
        digest: the manifest digest (of the instance, for a manifest list's instances).
        http: TLS and timeout settings for http(s) stores (defaults when None).
        client: an httpx client to reuse for http(s) (its TLS settings are then the
            caller's; ``http`` still sets the timeout, the deadline, retries and redirects).

    Returns:
        The typed signatures; a blob of unknown format is an ``UnknownSignature``.

    Raises:
        TransportError: a signature could not be read (code ``lookaside-http``,
            ``lookaside-unreadable``, ``lookaside-outside-store``, ``insecure-redirect``,
            ``too-many-redirects``), naming the URL and the index.
        NetworkError: connection, TLS or timeout failure, naming the URL.
        LimitExceededError: 128 signatures or more, a signature over 4 MiB, a body over
            its deadline, or a file that is not a regular file.
    """
    options = http or HTTPOptions()
    own_client: httpx.Client | None = None
    if location.scheme != "file" and client is None:
        own_client = client = options.new_client()
    try:
        out: list[Signature] = []
        for n in range(1, MAX_LOOKASIDE_SIGNATURES + 1):
            url = location.signature_url(digest, n)
            if location.scheme == "file":
                blob = _read_file(location, digest, n, url)
            else:
                assert client is not None
                blob = _read_http(client, options, url, n)
            if blob is None:
                return out
            out.append(stored_signature(blob, redact_url(url)))
        # As containers/image's appendSignaturesFromLookaside: having read signature-128, it
        # refuses without asking for more (so at most 127 signatures are usable).
        raise LimitExceededError(
            f"lookaside {redact_url(location.repository_url)} has {MAX_LOOKASIDE_SIGNATURES} or more signatures for "
            f"{digest}: assuming a broken or hostile server",
            code="lookaside-too-many-signatures",
            context={"url": redact_url(location.signature_url(digest, MAX_LOOKASIDE_SIGNATURES)),
                     "limit": MAX_LOOKASIDE_SIGNATURES},
        )
    finally:
        if own_client is not None:
            own_client.close()


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _read_file(location: LookasideLocation, digest: Digest, n: int, url: str) -> bytes | None:
    path = location.signature_path(digest, n)
    context = {"url": url, "index": n}
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TransportError(f"cannot read lookaside signature signature-{n} at {url}: {exc.strerror}",
                             code="lookaside-unreadable", context=context) from None
    real = os.path.realpath(path)
    root = os.path.realpath(location.store_root)
    if not _within(real, root):
        raise TransportError(
            f"lookaside signature signature-{n} at {url} leads out of the store {root} (to {real})",
            code="lookaside-outside-store", context={**context, "target": real},
        )
    try:
        return limits.read_file_at_most(real, limits.MAX_SIGNATURE_BODY, f"lookaside signature {url}")
    except FileNotFoundError:
        return None  # a dangling symlink inside the store: missing, as containers/image sees it
    except LimitExceededError as exc:
        exc.context.update(context)
        raise
    except OSError as exc:
        raise TransportError(f"cannot read lookaside signature signature-{n} at {url}: {exc.strerror}",
                             code="lookaside-unreadable", context=context) from None


def _network_error(exc: Exception, what: str) -> NetworkError:
    """httpx / ssl exceptions → NetworkError.

    ``context["retryable"]`` says whether the same GET may succeed when sent again
    (:func:`trustcopy.httpretry.is_retryable_exception`, as for a registry request).
    """
    import httpx

    reason = str(exc) or type(exc).__name__
    if httpretry.is_tls_verification(exc):
        return NetworkError(f"{what}: TLS certificate verification failed: {reason}", code="tls-verification",
                            context={"retryable": False})
    if httpretry.is_tls_failure(exc):
        return NetworkError(f"{what}: TLS handshake failed: {reason}", code="tls-handshake",
                            context={"retryable": False})
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"{what}: timed out ({type(exc).__name__})", code="network-timeout",
                            context={"retryable": True})
    return NetworkError(f"{what}: {reason}", context={"retryable": httpretry.is_retryable_exception(exc)})


class _Transient(Exception):
    """One GET failed in a way that may pass when sent again; ``error`` is what to report if not."""

    def __init__(self, error: TransportError, answer: httpx.Response | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.answer = answer  # an HTTP answer may say when to come back (Retry-After)


_REDIRECTS = (301, 302, 303, 307, 308)


def _read_http(client: httpx.Client, options: HTTPOptions, url: str, n: int) -> bytes | None:
    """``signature-n`` over http(s), None for a 404; transient failures retried (see the module docstring)."""
    delay = options.retry_delay
    for attempt in range(1, max(0, options.retry_times) + 2):
        try:
            return _read_http_once(client, options, url, n)
        except _Transient as failed:
            if attempt > options.retry_times:
                raise failed.error from None
            wait = delay if failed.answer is None else httpretry.retry_after(failed.answer, delay)
            wait = min(wait, httpretry.MAX_RETRY_DELAY)
            log.warning("%s; retrying in %.1fs (%d/%d)", failed.error.message, wait, attempt, options.retry_times)
            time.sleep(wait)
            delay = min(delay * options.retry_growth, httpretry.MAX_RETRY_DELAY)
    raise AssertionError("unreachable")  # pragma: no cover


def _read_http_once(client: httpx.Client, options: HTTPOptions, url: str, n: int) -> bytes | None:
    import httpx

    shown = redact_url(url)
    what = f"reading lookaside signature signature-{n} from {shown}"
    context = {"url": shown, "index": n}
    current = url
    for _ in range(options.max_redirects + 1):
        try:
            # Redirects are ours to follow (never HTTPS → HTTP), even with a caller's client.
            # Our timeout, not the client's: a shared pool's is only a fallback (the registry's
            # client sets one per request), and the registry's timeout must bound a stalled store too.
            with client.stream("GET", current, headers={"Accept-Encoding": "identity"},
                               follow_redirects=False, timeout=httpx.Timeout(options.timeout)) as resp:
                if resp.status_code in _REDIRECTS and "location" in resp.headers:
                    target = urljoin(current, resp.headers["location"])
                    if urlsplit(current).scheme == "https" and urlsplit(target).scheme != "https":
                        raise TransportError(f"{what}: refusing a redirect from HTTPS to {redact_url(target)}",
                                             code="insecure-redirect", context=context)
                    register_url_secrets(target)  # user:pass@ or a signed query: masked wherever echoed
                    current = target
                    continue
                if resp.status_code == 404:
                    return None
                if resp.status_code != 200:
                    error = TransportError(f"{what}: status {resp.status_code} ({resp.reason_phrase})",
                                           code="lookaside-http", context={**context, "status": resp.status_code})
                    if resp.status_code in httpretry.RETRYABLE_STATUSES:
                        raise _Transient(error, resp)
                    raise error
                content_type = resp.headers.get("content-type", "")
                if content_type.split(";", 1)[0].strip().lower() == "text/html":
                    log.warning("lookaside signature %s has Content-Type %r, unexpected for a signature",
                                shown, content_type)
                return _read_body(resp, options, shown, context)
        except (httpx.HTTPError, OSError) as exc:
            error = _network_error(exc, what)
            if error.context.get("retryable"):
                raise _Transient(error) from exc
            raise error from exc
    raise TransportError(f"{what}: more than {options.max_redirects} redirects", code="too-many-redirects",
                         context=context)


def _read_body(resp: httpx.Response, options: HTTPOptions, shown: str, context: dict[str, Any]) -> bytes:
    deadline = time.monotonic() + options.deadline
    declared = resp.headers.get("content-length")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a traceback, not an error).
    if (declared is not None and declared.isascii() and declared.isdigit()
            and int(declared[:20]) > limits.MAX_SIGNATURE_BODY):
        raise LimitExceededError(
            f"lookaside signature {shown} is larger than the {limits.MAX_SIGNATURE_BODY} bytes accepted",
            context={**context, "limit": limits.MAX_SIGNATURE_BODY},
        )
    chunks: list[bytes] = []
    total = 0
    # Never httpx's iter_bytes: it inflates each network chunk whole ("gzip, gzip": 64 KiB
    # becomes 64 GiB before the cap below could look); decode_content yields bounded steps.
    encodings = resp.headers.get_list("content-encoding", split_commas=True)
    for chunk in limits.decode_content(resp.iter_raw(), encodings, f"lookaside signature {shown}"):
        total += len(chunk)
        if total > limits.MAX_SIGNATURE_BODY:
            raise LimitExceededError(
                f"lookaside signature {shown} is larger than the {limits.MAX_SIGNATURE_BODY} bytes accepted",
                context={**context, "limit": limits.MAX_SIGNATURE_BODY},
            )
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise LimitExceededError(
                f"lookaside signature {shown} did not arrive within {options.deadline:g}s; cut off",
                code="lookaside-body-deadline", context={**context, "deadline": options.deadline},
            )
    return b"".join(chunks)


# -- writing -------------------------------------------------------------------------------------


def _writable(location: LookasideLocation, verb: str) -> None:
    if location.scheme != "file":
        raise SignatureError(
            f"{verb} a {location.scheme} lookaside {redact_url(location.base_url)} directly is not supported"
            + (f" ({location.origin})" if location.origin else ""),
            code="lookaside-not-writable", hint=WRITE_HINT,
            context={"url": redact_url(location.base_url), "origin": location.origin},
        )


def _check_inside(location: LookasideLocation, directory: str) -> None:
    """Refuse to write through a symlink that leads out of the store."""
    root = os.path.realpath(location.store_root)
    real = os.path.realpath(directory)
    if _within(os.path.normpath(location.store_root), os.path.normpath(directory)):
        return  # an ancestor of a store root that does not exist yet: nothing below it to follow
    if not _within(real, root):
        raise SignatureError(
            f"lookaside directory {directory} leads out of the store {root} (to {real}); not writing there",
            code="lookaside-outside-store", context={"path": directory, "target": real},
        )


def _nearest_existing(path: str) -> str:
    """``path`` or its closest existing ancestor (checked before anything is created under it)."""
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _makedirs(path: str) -> None:
    """``mkdir -p`` with mode 0755 for every directory created (whatever the umask)."""
    missing: list[str] = []
    current = path
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue
        os.chmod(directory, 0o755)  # noqa: S103 (a store is published: others must read it, as c/i makes it)


def writable_problem(location: LookasideLocation) -> str | None:
    """Why signatures cannot be written to ``location``, or None when they probably can.

    Checked before a copy pushes anything, so that an unusable store fails the copy while
    the destination is untouched: an http(s) store (with containers/image's hint), a
    store directory (or its nearest existing ancestor) that is not a writable directory,
    or one that leads out of the store through a symlink. Writing can still fail later
    (a full disk); this only catches what is wrong before we start.
    """
    if location.scheme != "file":
        origin = f" ({location.origin})" if location.origin else ""
        return (f"writing to a {location.scheme} lookaside {redact_url(location.base_url)}{origin} directly is not "
                f"supported; {WRITE_HINT}")
    directory = os.path.dirname(location.signature_dir(Digest.from_bytes(b"")))
    existing = _nearest_existing(directory)
    try:
        _check_inside(location, existing)
    except SignatureError as exc:
        return exc.message
    if not os.path.isdir(existing):
        return f"cannot write signatures under {directory}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write signatures under {directory}: {existing} is not writable"
    return None


def write_signatures(location: LookasideLocation, digest: Digest, signatures: Sequence[Signature]) -> list[bytes]:
    """Store ``signatures`` as ``signature-1..N`` of ``digest``, removing later ones.

    Args:
        location: the store for writing (``lookaside-staging``, else ``lookaside``).
        digest: the manifest digest the signatures are for.
        signatures: typed signatures, stored with ``signature_to_blob``.

    Returns:
        The signature files the digest had before, in order: what :func:`restore_signatures`
        puts back when the copy that wrote these fails (its manifest never arrived).

    Raises:
        SignatureError: the store is not ``file://`` (code ``lookaside-not-writable``),
            a directory leads out of the store, or writing failed (``lookaside-unwritable``).
    """
    if not signatures:
        return []
    return _write_blobs(location, digest, [signature_to_blob(sig) for sig in signatures])


def restore_signatures(location: LookasideLocation, digest: Digest, blobs: Sequence[bytes]) -> None:
    """Put back the signature files ``write_signatures`` replaced (none: remove what it wrote).

    Raises:
        SignatureError: as :func:`write_signatures`.
    """
    if blobs:
        _write_blobs(location, digest, list(blobs))
    else:
        delete_signatures(location, digest)


def _write_blobs(location: LookasideLocation, digest: Digest, blobs: list[bytes]) -> list[bytes]:
    _writable(location, "writing to")
    directory = location.signature_dir(digest)
    try:
        _check_inside(location, _nearest_existing(directory))
        _makedirs(directory)
        _check_inside(location, directory)
        before = _read_existing(location, digest)
        for n, blob in enumerate(blobs, 1):
            write_file_atomic(location.signature_path(digest, n), blob, 0o644)
        _remove_from(location, digest, len(blobs) + 1)
        fsync_dir(directory)
        return before
    except OSError as exc:
        # The file at fault (a rename names its target second): "signature-1 is a directory".
        culprit = os.fsdecode(exc.filename2 or exc.filename or directory)
        at = "" if culprit == directory else f" ({culprit})"
        raise SignatureError(
            f"cannot write signatures to the lookaside {directory}{at}: {exc.strerror or exc}",
            code="lookaside-unwritable", context={"path": directory, "file": culprit},
        ) from None


def _read_existing(location: LookasideLocation, digest: Digest) -> list[bytes]:
    """The regular ``signature-1…`` files of ``digest``, up to the first missing (or odd) one."""
    blobs: list[bytes] = []
    for n in range(1, limits.MAX_DIR_SIGNATURES + 1):
        path = location.signature_path(digest, n)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                break
            blobs.append(limits.read_file_at_most(path, limits.MAX_SIGNATURE_BODY, path))
        except (OSError, TrustcopyError):
            break
    return blobs


def _remove_from(location: LookasideLocation, digest: Digest, first: int) -> int:
    """Remove ``signature-first`` … up to the first missing one; returns how many were removed."""
    removed = 0
    n = first
    while True:
        try:
            os.unlink(location.signature_path(digest, n))
        except FileNotFoundError:
            return removed
        removed += 1
        n += 1


def delete_signatures(location: LookasideLocation, digest: Digest) -> int:
    """Remove all signatures of ``digest`` from a ``file://`` store (``delete docker://…``).

    The ``@ALGO=HEX`` directory is removed too when that leaves it empty.

    Returns:
        How many signature files were removed.

    Raises:
        SignatureError: the store is not ``file://`` (as containers/image, which then
            fails the delete), a directory leads out of the store, or removal failed.
    """
    _writable(location, "deleting from")
    directory = location.signature_dir(digest)
    try:
        if not os.path.lexists(directory):
            return 0
        _check_inside(location, directory)
        removed = _remove_from(location, digest, 1)
        with contextlib.suppress(OSError):
            os.rmdir(directory)
        return removed
    except OSError as exc:
        raise SignatureError(
            f"cannot delete signatures from the lookaside {directory}: {exc.strerror or exc}",
            code="lookaside-unwritable", context={"path": directory},
        ) from None
