"""The Registry HTTP API V2 client core: endpoint, TLS, ping, auth, retries, redirects.

One :class:`RegistryClient` serves one repository of one registry (with the scope
``repository:PATH:ACTIONS``); it is shared by all threads of a copy: one token cache
(locked per scope), and the connection pool of its RegistrySession (session.py: the
command's, from ``SystemContext.registry_session``, or a private one it closes itself).

Invariants:
- ``docker.io`` is served from ``registry-1.docker.io``. The scheme is HTTPS; plain HTTP
  is tried only when TLS verification is off for this registry (as containers/image:
  HTTPS first, HTTP if that fails): ``--tls-verify=false``, or registries.conf's
  ``insecure`` for the entry matching the repository (or the mirror's own ``insecure``,
  which the source passes), unless the user asked for verification explicitly.
- A repository whose registries.conf entry is ``blocked`` is refused before anything is
  sent (``registry-blocked``, naming the entry), as containers/image refuses it for
  every client: pulls, pushes, deletes, tag lists and logins.
- Only requests whose body can be sent again (none, or bytes) are retried: after
  connection errors and 408/429/5xx, ``retry_times`` times with exponential backoff
  from ``retry_delay`` (capped at 60 s), honouring ``Retry-After``; never past the
  command deadline. A 401 is retried once after dropping the cached token (or widening
  the scope on ``insufficient_scope``). A failed token exchange is the failure of the request
  that needed the token: its message names that request (so the image) and the token server;
  a token answer cut short or stalled mid-body is asked for again like any idempotent GET.
- Redirects are followed by hand (at most 10) for GET/HEAD (and 307/308 with a
  replayable body); an HTTPS → HTTP downgrade is refused while TLS is verified, and
  ``Authorization`` is only ever attached for the registry's own origin (RegistryAuth).
- Error bodies are read with limits.MAX_ERROR_BODY; nothing from httpx escapes (see
  errors.py).
- A successful ping is remembered in the session, per host and TLS settings: the
  source and the destination of a copy within one registry ping it once, not twice, and
  so do consecutive copies of one session. Failures are not remembered across clients.
  Nothing is kept in module globals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import httpx

from trustcopy.errors import (
    NetworkError,
    RegistryAuthError,
    RegistryError,
    RegistryHTTPError,
    TransportError,
    TrustcopyError,
)
from trustcopy.httpretry import MAX_RETRY_DELAY, RETRYABLE_STATUSES, retry_after
from trustcopy.redact import redact_url, register_url_secrets
from trustcopy.transports.docker import certs
from trustcopy.transports.docker.auth import (
    AuthSession,
    Credentials,
    RegistryAuth,
    token_request_what,
)
from trustcopy.transports.docker.challenge import Challenge, Scope, parse_challenges, repository_scope
from trustcopy.transports.docker.errors import (
    RefusedTokenError,
    error_for,
    invalid_url_error,
    is_retryable_exception,
    network_error,
    read_body,
)
from trustcopy.transports.docker.session import RegistrySession, session_from
from trustcopy.types import DEFAULT_RETRY_TIMES, SystemContext, retry_delay_of

if TYPE_CHECKING:
    from trustcopy.stores.lookaside import HTTPOptions
    from trustcopy.sysregistries import Registry
    from trustcopy.transports.docker.regconfig import RegistryConfig

log = logging.getLogger("trustcopy.docker")

DOCKER_HOSTNAME = "docker.io"
DOCKER_REGISTRY = "registry-1.docker.io"
DEFAULT_TIMEOUT = 60.0
#: Connecting, TLS handshake included: containers/image bounds the handshake at 10 s
#: (tlsclientconfig's TLSHandshakeTimeout); a server that accepts and never answers the
#: ClientHello cost 60 s per attempt under the general timeout.
CONNECT_TIMEOUT = 10.0
MAX_REDIRECTS = 10
#: Most distinct ``Warning`` texts one client logs (a hostile registry could send a new one per answer).
MAX_REGISTRY_WARNINGS = 16
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
#: Marks a response (its ``extensions``) whose 401 made the client drop a token it could not retry with.
_REFUSED_MARK = "trustcopy.refused_after_401"
#: Marks a 401 to a request sent with a bearer token fetched anew for it: the token server's URL.
_FRESH_TOKEN_REFUSED = "trustcopy.fresh_token_refused"  # noqa: S105 (a key, not a secret)
#: Marks a response to a request sent again after an earlier attempt's connection failed once the
#: request was out (not a refused connect): the registry may have acted on that attempt already.
RESENT_AFTER_LOSS = "trustcopy.resent_after_loss"

Content = bytes | Iterable[bytes] | None


class _Ping(NamedTuple):
    """What ``GET /v2/`` taught us about a registry."""

    scheme: str
    origin: tuple[str, str, int | None]
    challenges: tuple[Challenge, ...]
    signatures_extension: bool


def parse_registry_warning(header: bytes) -> str:
    """The text of a registry's ``Warning`` header value, or "" when it is not ``299 - "TEXT"``.

    As containers/image (parseRegistryWarningHeader): the distribution spec allows only
    warn-code 299, warn-agent ``-`` and no warn-date; quoted-pairs are unescaped byte by
    byte; control characters (but TAB) or an unescaped quote inside make the value invalid.
    """
    prefix, suffix = b'299 - "', b'"'
    if not header.startswith(prefix) or not header.endswith(suffix) or len(header) < len(prefix) + len(suffix):
        return ""
    out = bytearray()
    escaped = False
    for c in header[len(prefix):-len(suffix)]:
        if c == 0x7F or (c < 0x20 and c != 0x09):
            return ""
        if escaped:
            out.append(c)
            escaped = False
        elif c == 0x22:  # '"': the warn-text ended early (a warn-date follows, or garbage)
            return ""
        elif c == 0x5C:  # '\\'
            escaped = True
        else:
            out.append(c)
    if escaped:
        return ""
    return out.decode("utf-8", errors="replace")


def registry_host(domain: str) -> str:
    """The host[:port] to connect to for a reference's domain."""
    return DOCKER_REGISTRY if domain == DOCKER_HOSTNAME else domain


class RegistryClient:
    """Talks to one repository of one registry; see the module docstring.

    Args:
        sys: TLS, retry, timeout and credential settings.
        domain: the reference's domain (``docker.io``, ``reg:5000``).
        path: the repository path within the registry (``library/busybox``).
        actions: token actions for the repository (``pull``, ``pull,push``, ``*``).
        credentials: overrides the lookup from flags and auth files (login uses this).
        session: pings, TLS contexts, pools, blob locations and the registry configuration
            to share; default: the one ``sys.registry_session`` carries, else a private
            session closed by :meth:`close`.
        insecure: the endpoint's ``insecure`` (a pull source from registries.conf); None:
            the registries.conf entry matching ``domain/path`` decides.

    Raises:
        TransportError: registries.conf blocks the repository (code ``registry-blocked``).
        ConfigError: registries.d / registries.conf or a certificate directory is invalid.
    """

    def __init__(
        self,
        sys: SystemContext | None,
        domain: str,
        path: str,
        actions: str,
        *,
        credentials: Credentials | None = None,
        session: RegistrySession | None = None,
        insecure: bool | None = None,
    ) -> None:
        from trustcopy.transports.docker.authfile import credentials_for_reference

        sys = sys or SystemContext()
        self.domain = domain
        self.host = registry_host(domain)
        self.path = path
        # No repository (login's "GET /v2/"): the token is requested without a scope.
        self.scope: Scope | None = repository_scope(path, actions) if path else None
        self.retry_times = DEFAULT_RETRY_TIMES if sys.retry_times is None else max(0, sys.retry_times)
        self.retry_delay = retry_delay_of(sys.docker_retry_delay)
        self._retry_growth = 1.0 if sys.docker_retry_delay_fixed else 2.0
        self.timeout = sys.docker_timeout or DEFAULT_TIMEOUT
        self.upload_chunk_size = sys.docker_upload_chunk_size
        self._deadline = time.monotonic() + sys.command_timeout if sys.command_timeout else None
        self._timeout = httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout))
        shared = session or session_from(sys)
        self._own_session: RegistrySession | None = None
        if shared is None:  # nobody handed one down: a private session, closed with this client
            shared = self._own_session = RegistrySession()
        self.session = shared
        try:
            #: registries.d and registries.conf, read once per session (regconfig.py).
            self.config: RegistryConfig = self.session.registry_config(sys)
            #: The registries.conf entry for this repository (or host), if any.
            self.registry: Registry | None = self.config.find_registry(f"{domain}/{path}" if path else domain)
            if self.registry is not None and self.registry.blocked:
                raise TransportError(
                    f"accessing {domain}/{path or ''}: registry {self.registry.prefix} is blocked by "
                    f"{self.registry.describe()}",
                    code="registry-blocked",
                    context={"registry": domain, "file": self.registry.file, "prefix": self.registry.prefix},
                )
            if credentials is None:
                credentials = credentials_for_reference(sys, f"{domain}/{path}" if path else domain,
                                                        self.config.registries_conf.credential_helpers)
            skip_verify = self.registry.insecure if self.registry is not None else False
            if insecure is not None:
                skip_verify = insecure
            #: Whether TLS is verified (False also lets plain HTTP be tried): see the module docstring.
            self.verify = sys.docker_tls_verify and (sys.docker_tls_verify_explicit or not skip_verify)
            tls_key, context = self.session.tls(certs.cert_dir_for(sys, domain), self.verify)
        except BaseException:
            self.close()
            raise
        self._tls_context = context
        self._ping_key = (self.host, tls_key)
        self._http = self.session.http_client(tls_key, context, self.host)
        self.auth = AuthSession(credentials, sys.docker_bearer_token, self._send_token_request,
                                tokens=self.session.tokens, fetch=self._fetch_token_answer)
        self.scheme: str | None = None
        self.supports_signatures_extension = False
        self._ping_lock = threading.Lock()
        self._ping_error: TrustcopyError | None = None
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()  # (not _ping_lock: the ping's own answers are logged while it is held)

    def __repr__(self) -> str:
        return f"<RegistryClient {self.host}/{self.path} {self.scope.actions if self.scope else ''}>"

    # -- endpoint ------------------------------------------------------------------

    def base_url(self) -> str:
        """``scheme://host`` after the ping chose the scheme."""
        self.ensure_ping()
        return f"{self.scheme}://{self.host}"

    def url(self, path: str) -> httpx.URL:
        """Absolute URL for a path like ``/v2/NAME/manifests/REF``."""
        return httpx.URL(self.base_url() + path)

    def ensure_ping(self) -> None:
        """Learn scheme and auth challenges from ``GET /v2/`` (once; errors are sticky).

        Raises:
            RegistryError: neither HTTPS (nor, with TLS off, HTTP) answers like a registry.
        """
        if self.scheme is not None:
            return
        with self._ping_lock:
            if self.scheme is not None:
                return
            if self._ping_error is not None:
                raise self._ping_error
            try:  # the session's ping, or one ping shared by the clients asking at the same time
                self._adopt(self.session.shared_ping(self._ping_key, self._ping))
            except TrustcopyError as exc:
                self._ping_error = exc
                raise

    def _adopt(self, ping: _Ping) -> None:
        self.auth.set_challenges(ping.origin, list(ping.challenges))
        self.supports_signatures_extension = ping.signatures_extension
        self.scheme = ping.scheme
        self.session.remember_ping(self._ping_key, ping)

    def _ping(self) -> _Ping:
        if self.verify:
            return self._ping_round(["https"], retry=True)
        # With TLS off each round tries HTTPS then HTTP, and the pair is what is retried (as
        # containers/image's ping under skopeo's retry): retrying each scheme on its own would
        # make --retry-times N cost 2N retries (and twice the wait) on an unreachable registry.
        attempt, delay = 0, self.retry_delay
        while True:
            self._check_deadline(f"pinging container registry {self.host}")
            try:
                return self._ping_round(["https", "http"], retry=False)
            except TrustcopyError as exc:
                if not exc.transient or attempt >= self.retry_times:
                    raise
                attempt += 1
                asked = exc.context.get("retry_after")  # a 429/503's Retry-After, as _execute honours it
                wait = min(asked, MAX_RETRY_DELAY) if isinstance(asked, float) and asked > 0 else delay
                reason = f"HTTP {exc.status}" if isinstance(exc, RegistryHTTPError) else \
                    type(exc.__cause__ or exc).__name__
                self._backoff(wait, f"pinging container registry {self.host}", reason, attempt)
                delay = self.next_delay(delay)

    def _ping_round(self, schemes: list[str], *, retry: bool) -> _Ping:
        # As containers/image: when HTTP is tried after HTTPS, its error is the one reported
        # (HTTPS failing is expected of a plain-HTTP registry; why HTTP failed is the news).
        last_error: TrustcopyError | None = None
        for scheme in schemes:
            url = httpx.URL(f"{scheme}://{self.host}/v2/")
            what = f"pinging container registry {self.host}"
            try:
                response = self._execute("GET", url, what=what, scopes=None, retry=retry)
            except TrustcopyError as exc:
                log.debug("ping %s failed: %s", _Redacted(url), exc)
                last_error = exc
                continue
            try:
                if response.status_code not in (200, 401):
                    last_error = self.error_for(response, what)
                    continue
                challenges = parse_challenges(response.headers.get_list("www-authenticate"))
                log.debug("ping %s: %d, challenges %s", _Redacted(url), response.status_code,
                          [c.scheme for c in challenges])
                return _Ping(scheme, (url.scheme, url.host, url.port), tuple(challenges),
                             response.headers.get("x-registry-supports-signatures") == "1")
            finally:
                response.close()
        assert last_error is not None
        raise last_error

    # -- requests ------------------------------------------------------------------

    def send(
        self,
        method: str,
        target: str | httpx.URL,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        content: Content = None,
        extra_scopes: tuple[Scope, ...] = (),
        retry: bool = True,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send a request (authenticated unless told not to); return the open response.

        Args:
            target: a path (``/v2/...``) on the registry, or an absolute URL (an upload
                location or a ``Link``; credentials are attached only to the registry origin).
            what: what we are doing, for error messages (no secrets).
            content: bytes (retryable) or an iterator (streamed once, never retried).
            authenticate: False for URLs that must never see credentials (external
                layer URLs named by a manifest: CVE-2020-15157).

        Returns:
            The response; the caller must close it (``read_body`` and ``check`` do).

        Raises:
            NetworkError: connection failures after the retries.
            RegistryAuthError: the token exchange failed.
        """
        if isinstance(target, httpx.URL):
            url = target  # already parsed (an upload location, a Link): httpx parses a string char by char
        elif target.startswith("/"):
            try:
                url = self.url(target)
            except TrustcopyError as exc:
                # The ping (the first request to this registry) failed: say which request needed it,
                # and so which image, as skopeo's "initializing source docker://…: pinging …" does
                # (not for a request to /v2/ itself, login's: the ping is all it asks).
                if target == "/v2/":
                    raise
                raise exc.rewrapped(f"{what}: {exc.message}") from exc
        else:
            url = httpx.URL(target)
        scopes = tuple(s for s in (self.scope, *extra_scopes) if s is not None) if authenticate else None
        return self._execute(method, url, what=what, headers=headers, content=content, scopes=scopes, retry=retry)

    def _execute(
        self,
        method: str,
        url: httpx.URL,
        *,
        what: str,
        scopes: tuple[Scope, ...] | None,
        headers: dict[str, str] | None = None,
        content: Content = None,
        retry: bool = True,
    ) -> httpx.Response:
        replayable = content is None or isinstance(content, bytes)
        attempt, delay, refreshed, asked_again, lost = 0, self.retry_delay, False, False, False
        while True:
            self._check_deadline(what)
            try:
                response = self._send_following_redirects(method, url, headers, content, scopes, what)
            except TrustcopyError:
                raise
            except (httpx.HTTPError, OSError) as exc:
                if retry and replayable and attempt < self.retry_times and is_retryable_exception(exc):
                    # Only a request that may have gone out counts as lost (a connect that failed
                    # or timed out, or a pool that had no connection to give, sent nothing).
                    lost = lost or not isinstance(
                        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | ConnectionRefusedError)
                    attempt += 1
                    self._backoff(delay, what, f"{type(exc).__name__}", attempt)
                    delay = self.next_delay(delay)
                    continue
                raise network_error(exc, what, secrets=self.auth.secrets()) from exc
            if lost:
                response.extensions[RESENT_AFTER_LOSS] = True
            status = response.status_code
            if status == 401 and scopes is not None and not self._from_registry(response):
                # A redirect target (a blob store's signed URL that expired) refused: its challenges
                # and scopes say nothing about the registry's, and its realm must never see our
                # credentials. Asking the registry once more may get a fresh URL; nothing else changes.
                if replayable and not asked_again:  # its own budget: the registry's token may still expire
                    asked_again = True
                    log.debug("%s: 401 from the redirect target %s; asking the registry again", what,
                              _Redacted(response.request.url.copy_with(query=None)))
                    response.close()
                    continue
                return response
            if status == 401 and scopes is not None and replayable and not refreshed:
                refreshed = True
                wider = _insufficient_scope(response)
                if wider is not None and wider not in scopes:
                    log.debug("%s: retrying with the wider scope %s", what, wider)
                    response.close()
                    scopes = (*scopes, wider)
                    continue
                if self.auth.uses_refreshable_tokens():
                    log.debug("%s: 401, fetching a fresh token", what)
                    response.close()
                    self.auth.invalidate(scopes)
                    continue
                if not self.auth.challenges and self.auth.origin is not None:
                    # /v2/ was open, this repository is not: learn its challenge (c/image would fail).
                    late = parse_challenges(response.headers.get_list("www-authenticate"))
                    if late:
                        log.debug("%s: 401 with a challenge the ping did not send; authenticating", what)
                        response.close()
                        self.auth.challenges = late
                        continue
            if status == 401 and scopes is not None and refreshed and self.auth.uses_refreshable_tokens():
                # A token just fetched for this very request was refused: the token server's tokens are
                # not accepted here (no access for these credentials, or a registry that does not trust
                # that server). The error names the token server as well as the registry.
                response.extensions[_FRESH_TOKEN_REFUSED] = self.auth.token_server()
            if status == 401 and scopes is not None and not replayable and self.auth.uses_refreshable_tokens():
                # A streamed body cannot be sent again here: drop the token the registry refused
                # (it expired early, or was revoked) and say so (error_for: RefusedTokenError), so
                # the blob copy started again (copy/blobs.py) asks the token server anew.
                log.debug("%s: 401 on a streamed request; dropping the cached token", what)
                self.auth.invalidate(scopes)
                response.extensions[_REFUSED_MARK] = True
            if status in RETRYABLE_STATUSES and retry and replayable and attempt < self.retry_times:
                wait = min(retry_after(response, delay), MAX_RETRY_DELAY)
                response.close()
                attempt += 1
                self._backoff(wait, what, f"HTTP {status}", attempt)
                delay = self.next_delay(delay)
                continue
            return response

    def _send_following_redirects(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str] | None,
        content: Content,
        scopes: tuple[Scope, ...] | None,
        what: str,
    ) -> httpx.Response:
        replayable = content is None or isinstance(content, bytes)
        for _hop in range(MAX_REDIRECTS + 1):
            request = self._http.build_request(method, url, headers=headers, content=content,
                                               timeout=self._request_timeout(what))
            log.debug("%s %s", method, _Redacted(url))
            auth = RegistryAuth(self.auth, scopes) if scopes is not None else None
            try:
                response = self._http.send(request, auth=auth, stream=True, follow_redirects=False)
            except httpx.InvalidURL as exc:  # httpx parses every Location, even one not followed
                raise invalid_url_error(exc, what) from exc
            except httpx.RemoteProtocolError as exc:
                # A Location httpx cannot parse at all (a bad port, an unclosed "[") comes as a
                # protocol error, which would be retried: the same answer would come again.
                if str(exc).startswith("Invalid URL in location header"):
                    raise invalid_url_error(exc, what) from exc
                raise
            except TrustcopyError as exc:
                if auth is None:
                    raise
                # The token exchange (RegistryAuth) failed: its message names the token server;
                # say which request (and so which image) needed the token, as containers/image's
                # error chain does.
                raise exc.rewrapped(f"{what}: {exc.message}") from exc
            status = response.status_code
            log.debug("%s %s: %d", method, _Redacted(url), status)
            if "warning" in response.headers:
                self._log_warnings(response)
            location = response.headers.get("location")
            follow = status in _REDIRECTS and location and (
                method in ("GET", "HEAD") or (status in (307, 308) and replayable)
            )
            _finish_if_empty(method, response)
            if not follow:
                return response
            response.close()
            try:
                target = url.join(location)
            except httpx.InvalidURL as exc:
                raise RegistryError(f"{what}: the registry redirected to an invalid URL") from exc
            if target.scheme not in ("https", "http"):
                raise RegistryError(f"{what}: refusing a redirect to {target.scheme!r} URL")
            if url.scheme == "https" and target.scheme == "http" and self.verify:
                raise RegistryError(
                    f"{what}: refusing a redirect from HTTPS to plain HTTP ({redact_url(str(target))})",
                    code="insecure-redirect",
                )
            log.debug("%s: redirected to %s", what, _Redacted(target))
            if target.query or target.userinfo:
                # A pre-signed URL's signature, or a password in ``user:pass@``: masked
                # wherever an echo of it turns up (the store's error, a Warning header).
                register_url_secrets(str(target))
            if headers and (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
                # Whatever the caller put in headers was meant for the first origin only.
                headers = {k: v for k, v in headers.items() if k.lower() not in _ORIGIN_BOUND_HEADERS}
            if status == 303 and method not in ("GET", "HEAD"):
                method, content = "GET", None
            url = target
        raise RegistryError(f"{what}: more than {MAX_REDIRECTS} redirects", code="too-many-redirects")

    def _from_registry(self, response: httpx.Response) -> bool:
        """Whether ``response`` came from the registry's own origin (not from a redirect target)."""
        try:
            url = response.request.url
        except RuntimeError:  # a response built by hand (tests): nothing says it was redirected
            return True
        return self.auth.origin is None or (url.scheme, url.host, url.port) == self.auth.origin

    def _log_warnings(self, response: httpx.Response) -> None:
        """Log a registry's ``Warning: 299 - "TEXT"`` headers, each text once per client (as containers/image)."""
        from trustcopy.transports.docker.errors import clean_text

        for name, value in response.headers.raw:
            if name.lower() != b"warning":
                continue
            text = parse_registry_warning(value)
            if not text:
                log.debug("ignoring a malformed Warning header from %s", _Redacted(response.request.url))
                continue
            text = clean_text(text, self.auth.secrets())
            with self._warned_lock:
                if text in self._warned or len(self._warned) >= MAX_REGISTRY_WARNINGS:
                    continue
                self._warned.add(text)
            log.warning("warning from registry (first encountered at %s): %s", _Redacted(response.request.url), text)

    def _send_token_request(self, request: httpx.Request) -> httpx.Response:
        """Token requests: retried like registry requests, never given registry auth."""
        return self._execute(request.method, request.url, what=token_request_what(request.url), scopes=None,
                             headers=dict(request.headers), content=request.content or None)

    def _fetch_token_answer(self, request: httpx.Request, limit: int, what: str) -> tuple[httpx.Response, bytes]:
        """A token request's answer, read whole: sent again when cut short or stalled (read_whole)."""
        return self.read_whole(lambda: self._send_token_request(request), limit, what)

    def lookaside_http(self) -> tuple[HTTPOptions, httpx.Client]:
        """How to read an http(s) lookaside store for this registry: its TLS settings and pool.

        containers/image reads a lookaside with the registry's own HTTP client, so the
        registry's certs.d CAs, client certificate and ``insecure`` apply to the store too;
        and a transient failure of a signature GET is retried as a registry GET is
        (``--retry-times``, ``--retry-delay``), not reported as the copy's failure at once.
        """
        from trustcopy.stores.lookaside import HTTPOptions

        return HTTPOptions(verify=self.verify, ssl_context=self._tls_context, timeout=self.timeout,
                           retry_times=self.retry_times, retry_delay=self.retry_delay,
                           retry_growth=self._retry_growth), self._http

    # -- responses -----------------------------------------------------------------

    def read_body(self, response: httpx.Response, limit: int, what: str) -> bytes:
        """Read a whole (untrusted) body, at most ``limit`` bytes, and close the response.

        Raises:
            LimitExceededError / NetworkError.
        """
        # errors.read_body undoes Content-Encoding in bounded steps: httpx's own decoding
        # would inflate a "gzip, gzip" bomb chunk by chunk before any cap could look.
        return read_body(response, limit, what, secrets=self.auth.secrets())

    def get_whole(
        self, target: str | httpx.URL, limit: int, what: str, *, headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """GET a small body whole (a manifest, a page of tags), at most ``limit`` bytes.

        The request is idempotent, so a body cut short (the connection closed before the
        announced Content-Length, a read timeout) is fetched again like any other
        transient failure: ``retry_times`` times, with the same backoff. Whatever the
        caller verifies (a manifest's digest) it verifies on the body finally returned.

        Returns:
            The (closed) response, for its headers and URL, and the body.

        Raises:
            NetworkError: still cut short after the retries.
            LimitExceededError / RegistryError: as :meth:`read_body` and :meth:`check`.
        """
        return self.read_whole(lambda: self.check(self.send("GET", target, what=what, headers=headers), what),
                               limit, what)

    def read_whole(self, request: Callable[[], httpx.Response], limit: int,
                   what: str) -> tuple[httpx.Response, bytes]:
        """``request()``'s answer and its whole body (at most ``limit`` bytes), ``request()`` made
        again when the body is cut short (see :meth:`get_whole`, which is this for a GET whose
        answer must be 200; ``request`` decides what to do with other answers: raise).
        """
        attempt, delay = 0, self.retry_delay
        while True:
            response = request()
            try:
                return response, self.read_body(response, limit, what)
            except NetworkError as exc:
                if not exc.context.get("retryable") or attempt >= self.retry_times:
                    raise
                attempt += 1
                self._backoff(delay, what, "the answer was cut short", attempt)
                delay = self.next_delay(delay)

    def error_for(self, response: httpx.Response, what: str) -> TrustcopyError:
        """The error for an unexpected response (reads a bounded body, closes it).

        A 401/403 from a redirect target (another origin) names that target, and its hint does
        not send the user to check credentials that were never sent there. A 401 to a streamed
        request whose bearer token the client then dropped (_execute) is a RefusedTokenError:
        transient, so the blob is copied again with a new token.
        """
        err = error_for(response, what, secrets=self.auth.secrets())
        if response.status_code in (401, 403) and isinstance(err, RegistryAuthError) \
                and not self._from_registry(response):
            where = redact_url(str(response.request.url.copy_with(query=None)))
            return RegistryAuthError(
                f"{err.message} (answered by {where}, where the registry redirected)", code=err.code,
                context={**err.context, "redirected": True},
                hint="the registry's redirect target refused the request (a signed URL may have expired); "
                     "no credentials are sent there, so retrying later is the remedy, not other credentials")
        server = response.extensions.get(_FRESH_TOKEN_REFUSED)
        if server and type(err) is RegistryAuthError:
            return RegistryAuthError(
                f"{err.message} (the registry refused a new bearer token from {server})", code=err.code,
                context={**err.context, "token_server": server},
                hint="the registry refuses the token server's tokens for this request: they grant no such "
                     "access (log in, or check what the credentials may do), or the registry does not trust "
                     "that token server")
        if response.extensions.get(_REFUSED_MARK) and type(err) is RegistryAuthError:
            return RefusedTokenError(
                err.message, code=err.code, context=err.context,
                hint="the registry refused its own bearer token (expired or revoked) while a blob was sent; "
                     "a new token was asked for each time the blob was copied again")
        return err

    def check(self, response: httpx.Response, what: str, ok: Iterable[int] = (200,)) -> httpx.Response:
        """Return ``response`` if its status is in ``ok``; else close it and raise its error."""
        if response.status_code in tuple(ok):
            return response
        raise self.error_for(response, what)

    def iter_raw(self, response: httpx.Response, what: str) -> Iterator[bytes]:
        """A response's raw bytes; httpx errors become NetworkError."""
        try:
            yield from response.iter_raw()
        except (httpx.HTTPError, OSError) as exc:
            raise network_error(exc, what, secrets=self.auth.secrets()) from exc

    # -- timing --------------------------------------------------------------------

    def _check_deadline(self, what: str) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise NetworkError(f"{what}: --command-timeout reached", code="command-timeout")

    def _request_timeout(self, what: str) -> httpx.Timeout:
        if self._deadline is None:
            return self._timeout
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise NetworkError(f"{what}: --command-timeout reached", code="command-timeout")
        limit = min(self.timeout, remaining)
        return httpx.Timeout(limit, connect=min(CONNECT_TIMEOUT, limit))

    def next_delay(self, delay: float) -> float:
        """The wait before the retry after one that waited ``delay``: doubled, or fixed."""
        return min(delay * self._retry_growth, MAX_RETRY_DELAY)

    def _backoff(self, seconds: float, what: str, reason: str, attempt: int) -> None:
        seconds = self.until_deadline(seconds)
        log.warning("%s failed (%s); retrying in %.1fs (%d/%d)", what, reason, seconds, attempt, self.retry_times)
        time.sleep(seconds)

    def until_deadline(self, seconds: float) -> float:
        """``seconds``, cut to what is left of ``--command-timeout``: no retry waits past it."""
        if self._deadline is not None:
            seconds = min(seconds, max(0.0, self._deadline - time.monotonic()))
        return seconds

    def close(self) -> None:
        """Close the private session's pool, if this client made one (a shared session stays open)."""
        if self._own_session is not None:
            self._own_session.close()


class _Redacted:
    """A URL for a log line: redacted (redact_url) only if the line is written.

    Formatting the arguments of every ``log.debug`` call eagerly cost two URL
    redactions (a parse, a re-encode) per request while debug logging is off.
    """

    __slots__ = ("_url",)

    def __init__(self, url: httpx.URL | str) -> None:
        self._url = url

    def __str__(self) -> str:
        return redact_url(str(self._url))


def _finish_if_empty(method: str, response: httpx.Response) -> None:
    """Consume an answer that has no body (HEAD, ``Content-Length: 0``) right away.

    httpcore returns a connection to the pool only when the answer was read to its end; one
    closed unread (as callers close a 201, a 202 or a HEAD answer) closes the connection,
    and the next request opens a new one: a TCP connect, over HTTPS a full handshake, per
    request. Reading nothing costs nothing; a failure here shows again on the next use.
    """
    if method != "HEAD" and response.headers.get("content-length", "").strip() != "0":
        return
    try:
        response.read()
    except (httpx.HTTPError, OSError):
        response.close()


def _insufficient_scope(response: httpx.Response) -> Scope | None:
    for challenge in parse_challenges(response.headers.get_list("www-authenticate")):
        if challenge.scheme == "bearer" and challenge.params.get("error") == "insufficient_scope":
            scope = challenge.params.get("scope", "")
            parsed = Scope.parse(scope.split(" ")[0]) if scope else None
            if parsed is not None:
                return parsed
    return None
