"""Registry authentication: challenges, credentials, bearer tokens, and the httpx.Auth hook.

How a request gets its ``Authorization`` header (as containers/image does it):

1. The client pings ``/v2/`` once and keeps the ``WWW-Authenticate`` challenges.
2. ``Basic``: the username and password go to the registry itself.
3. ``Bearer``: a token is requested from the challenge's ``realm`` with its ``service`` and
   one ``scope`` per repository the request touches (``repository:NAME:pull,push``, plus
   ``repository:OTHER:pull`` for a cross-repository mount), with Basic credentials if we
   have them, anonymously otherwise, or by an OAuth2 refresh-token grant for an
   ``identitytoken`` from auth.json. Tokens are cached per scope set until shortly before
   they expire; the client drops a cached token and asks again when the registry answers
   401 (expired or revoked), and widens the scope on ``error="insufficient_scope"``.
4. ``--registry-token`` is sent as the bearer token as is, never exchanged.

Invariants:

- Credentials and tokens are only ever placed in request headers (never URLs), only for
  the registry's exact origin (scheme, host, port) and for the token realm; a redirect
  to a blob store or any other origin carries no ``Authorization`` (RegistryAuth checks
  the origin of every request it signs).
- Basic credentials are not sent to a token realm over plain HTTP unless the registry is
  itself plain HTTP (the user turned TLS off) or the realm is on the loopback interface.
- ``repr``/``str`` of every object here masks secrets; logs name URLs via redact_url.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import httpx

from trustcopy import limits
from trustcopy.errors import RegistryAuthError
from trustcopy.gojson import GoObject, loads
from trustcopy.lazy import dataclass
from trustcopy.redact import redact_url, register_secret, register_url_secrets
from trustcopy.transports.docker.challenge import Challenge, Scope
from trustcopy.transports.docker.credentials import Credentials, go_field

if TYPE_CHECKING:
    from trustcopy.transports.docker.session import TokenCache

# Credentials and go_field live in transports/docker/credentials.py, so that what only reads
# auth files (``logout``, ``login --get-login``) does not import httpx (start-up, issue 14);
# they are re-exported here, where callers have always imported them from.

log = logging.getLogger("trustcopy.docker")

#: Tokens claiming a shorter life are treated as living this long (as containers/image).
MIN_TOKEN_LIFETIME = 60.0
#: Stop using a token this long before it expires, so it does not expire in flight.
TOKEN_EXPIRY_MARGIN = 10.0


@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic() deadline

    def __repr__(self) -> str:  # a bearer token is a credential
        return f"_Token(value='***', expires={self.expires!r})"


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


_TOKEN_FIELDS = ("token", "access_token", "expires_in", "issued_at", "refresh_token")


def _parse_token_response(body: bytes, what: str) -> _Token:
    """A token server's answer, decoded as containers/image decodes it into its bearerToken.

    NOTE(go-diff): containers/image accepts an empty token (and sends ``Bearer `` with nothing
    after it) or one with characters a header cannot carry; we refuse the answer. And it refuses
    an answer whose ``issued_at`` is not an RFC 3339 time, which we never read (see below).
    """
    try:
        answer = loads(body)
    except ValueError as exc:  # (TooDeepError included)
        raise RegistryAuthError(f"{what}: the token server's answer is not JSON", code="registry-token") from exc
    if not isinstance(answer, GoObject):
        raise RegistryAuthError(f"{what}: the token server's answer is not a JSON object", code="registry-token")
    doc: dict[str, Any] = {}
    for key, value in answer.pairs:  # later keys win; null leaves a field as it was (Go)
        name = go_field(key, _TOKEN_FIELDS)
        if name is None or value is None:
            continue
        # A value of the wrong type fails the answer even when a later key replaces it (Go).
        if name in ("token", "access_token") and not isinstance(value, str):
            raise RegistryAuthError(f"{what}: the token server's {name} is not a string", code="registry-token")
        # As containers/image (Go ``int``): an integer literal within int64, or the answer is refused.
        if name == "expires_in" and (not isinstance(value, int) or isinstance(value, bool)
                                     or not _INT64_MIN <= value <= _INT64_MAX):
            raise RegistryAuthError(f"{what}: the token server's expires_in is not an integer",
                                    code="registry-token")
        doc[name] = value
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token or any(not (33 <= ord(c) < 127) for c in token):
        raise RegistryAuthError(f"{what}: the token server returned no usable token", code="registry-token")
    register_secret(token)
    refresh = doc.get("refresh_token")
    if isinstance(refresh, str):
        register_secret(refresh)
    lifetime = float(doc.get("expires_in", 0))
    # issued_at is ignored on purpose: a skewed clock on either side must not make every
    # token look expired (or immortal); our own monotonic clock measures the lifetime.
    lifetime = max(lifetime, MIN_TOKEN_LIFETIME)
    return _Token(token, time.monotonic() + lifetime - min(TOKEN_EXPIRY_MARGIN, lifetime / 4))


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AuthSession:
    """Per-registry authentication state shared by all threads of one client.

    ``origin`` (``(scheme, host, port)``) and ``challenges`` are set by the client's ping.

    Args:
        credentials: what the user gave or auth.json held (may be anonymous).
        registry_token: ``--registry-token``: used as the bearer token verbatim.
        send: sends a token request (retried like any other, never given registry auth).
        fetch: sends a token request and reads its whole answer (at most the given number of
            bytes, named by the given text), sending it again when the answer is cut short or
            stalls (the client's ``read_whole``); without it, ``send`` and one bounded read.
        tokens: the token cache to use (the RegistrySession's, shared by the clients of
            one command); a private one when None. Its keys hold the origin, realm,
            service, credentials and scopes, so only identical token requests share.
    """

    def __init__(
        self,
        credentials: Credentials,
        registry_token: str | None,
        send: Callable[[httpx.Request], httpx.Response],
        *,
        tokens: TokenCache | None = None,
        fetch: Callable[[httpx.Request, int, str], tuple[httpx.Response, bytes]] | None = None,
    ) -> None:
        from trustcopy.transports.docker.session import TokenCache

        self.credentials = credentials
        self.registry_token = registry_token or None
        register_secret(self.registry_token)
        self._send = send
        self._fetch = fetch
        self.origin: tuple[str, str, int | None] | None = None
        self.challenges: list[Challenge] = []
        self._tokens = tokens if tokens is not None else TokenCache()

    def __repr__(self) -> str:
        return f"<AuthSession {self.credentials!r} registry_token={'***' if self.registry_token else None}>"

    def secrets(self) -> tuple[str, ...]:
        """Every secret this session knows (its cache's tokens too), for masking echoed text."""
        extra = (self.registry_token,) if self.registry_token else ()
        return self.credentials.secrets() + extra + self._tokens.values()

    def set_challenges(self, origin: tuple[str, str, int | None], challenges: list[Challenge]) -> None:
        """Record what the ping learned."""
        self.origin = origin
        self.challenges = challenges

    def bearer_challenge(self) -> Challenge | None:
        """The first Bearer challenge of the ping, if any."""
        return next((c for c in self.challenges if c.scheme == "bearer"), None)

    def token_server(self) -> str:
        """The bearer challenge's token realm for messages (redacted, no query), or ""."""
        challenge = self.bearer_challenge()
        realm = challenge.params.get("realm", "") if challenge is not None else ""
        try:
            url = httpx.URL(realm)
        except (httpx.InvalidURL, TypeError):
            return ""
        return redact_url(str(url.copy_with(query=None, fragment=None))) if url.host else ""

    def uses_refreshable_tokens(self) -> bool:
        """Whether a 401 may be cured by fetching a fresh token."""
        return self.registry_token is None and self.bearer_challenge() is not None

    def invalidate(self, scopes: tuple[Scope, ...]) -> None:
        """Forget the cached token for ``scopes`` (after the registry refused it)."""
        challenge = self.bearer_challenge()
        if challenge is not None:
            self._tokens.invalidate(self._token_key(challenge, scopes))

    def _token_key(self, challenge: Challenge, scopes: tuple[Scope, ...]) -> tuple[object, ...]:
        """What makes two token requests the same request (see TokenCache)."""
        return (self.origin, challenge.params.get("realm", ""), challenge.params.get("service", ""),
                self.credentials, _scope_key(scopes))

    def authorization(self, scopes: tuple[Scope, ...]) -> str | None:
        """The ``Authorization`` header value for a request needing ``scopes``, or None.

        Raises:
            RegistryAuthError: the token server refused or answered nonsense.
            NetworkError: the token server could not be reached.
        """
        for challenge in self.challenges:
            if challenge.scheme == "basic":
                if self.credentials.username or self.credentials.password:
                    raw = f"{self.credentials.username}:{self.credentials.password}".encode()
                    return "Basic " + base64.b64encode(raw).decode("ascii")
                return None
            if challenge.scheme == "bearer":
                if self.registry_token:
                    return f"Bearer {self.registry_token}"
                return f"Bearer {self._token_for(challenge, scopes)}"
        if self.challenges:
            log.debug("no supported auth scheme among %s; sending the request unauthenticated",
                      ", ".join(c.scheme for c in self.challenges))
        return None

    def _token_for(self, challenge: Challenge, scopes: tuple[Scope, ...]) -> str:
        def fetch() -> tuple[str, float]:
            tok = self._fetch_token(challenge, scopes)
            return tok.value, tok.expires

        # One token request per key, however many threads (or clients of the session) need it.
        return self._tokens.get(self._token_key(challenge, scopes), fetch)

    def _fetch_token(self, challenge: Challenge, scopes: tuple[Scope, ...]) -> _Token:
        realm = challenge.params.get("realm", "")
        what = "requesting a bearer token"
        try:
            url = httpx.URL(realm)
        except (httpx.InvalidURL, TypeError) as exc:
            raise RegistryAuthError(f"{what}: the registry's token realm is not a URL", code="registry-token") from exc
        if not realm:
            raise RegistryAuthError(f"{what}: the registry's bearer challenge names no token realm",
                                    code="registry-token")
        if url.scheme not in ("https", "http") or not url.host:
            shown = redact_url(realm)
            shown = shown if len(shown) <= 200 else shown[:200] + "…"
            raise RegistryAuthError(f"{what}: unsupported token realm {shown!r}", code="registry-token")
        # Every later error names the token server: it, not the registry, is at fault.
        what = token_request_what(url)
        if url.userinfo or url.query:  # the realm's own ``user:pass@`` or ``?token=``: masked wherever echoed
            register_url_secrets(realm)
        creds = self.credentials
        plain_ok = url.scheme == "https" or (self.origin is not None and self.origin[0] == "http") or _is_loopback(
            url.host
        )
        if not creds.anonymous and not plain_ok:
            raise RegistryAuthError(
                f"{what}: refusing to send credentials to the plain-HTTP token realm {redact_url(realm)}",
                code="registry-token",
                hint="the registry is reached over HTTPS but asks for credentials over HTTP",
            )
        service = challenge.params.get("service", "")
        scope_params = [("scope", str(s)) for s in scopes]
        headers: dict[str, str] = {}  # the User-Agent is the session's (--user-agent-prefix)
        if creds.identity_token:
            form = [("grant_type", "refresh_token"), ("refresh_token", creds.identity_token),
                    ("client_id", "trustcopy")]
            if service:
                form.append(("service", service))
            form.extend(scope_params)
            from urllib.parse import urlencode

            request = httpx.Request(
                "POST", url, content=urlencode(form).encode(),
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            params: list[tuple[str, str | int | float | bool | None]] = []
            if creds.username:
                params.append(("account", creds.username))
            if service:
                params.append(("service", service))
            params.extend(scope_params)
            if creds.username and creds.password:  # as c/image: a username alone sends no Basic
                raw = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
                # The user's credentials win over a realm's own "user:pass@", as in Go (an explicit
                # Authorization header); httpx would replace the header with the URL's userinfo.
                url = url.copy_with(username=None, password=None)
            request = httpx.Request("GET", url.copy_merge_params(params), headers=headers)
        log.debug("%s %s", request.method, redact_url(str(request.url)))
        if self._fetch is not None:
            # A token answer cut short or stalled mid-body is asked for again like a manifest
            # (before, the cut escaped as the registry request's failure, naming only the registry).
            response, body = self._fetch(request, limits.MAX_AUTH_TOKEN_BODY, what)
        else:
            response = self._send(request)
            try:
                body = _read_bounded(response, limits.MAX_AUTH_TOKEN_BODY,
                                     f"token response from {redact_url(realm)}")
            finally:
                response.close()
        if response.status_code != 200:
            from trustcopy.transports.docker.errors import response_error

            err = response_error(response, body, what, secrets=self.credentials.secrets())
            if response.status_code == 401:
                raise RegistryAuthError(
                    f"{what}: invalid username/password", code="registry-auth", context=err.context,
                    hint="check the credentials (--creds, --authfile, `trustcopy login`) for this registry",
                ) from None
            raise err
        return _parse_token_response(body, what)


def token_request_what(url: httpx.URL) -> str:
    """``requesting a bearer token from SCHEME://HOST/PATH`` (no query: it carries the scopes)."""
    return f"requesting a bearer token from {redact_url(str(url.copy_with(query=None, fragment=None)))}"


def _scope_key(scopes: tuple[Scope, ...]) -> tuple[str, ...]:
    return tuple(sorted({str(s) for s in scopes}))


def _read_bounded(response: httpx.Response, limit: int, what: str) -> bytes:
    """A token server's answer, bounded even when content-encoded (a gzip bomb)."""
    from trustcopy.transports.docker.errors import body_chunks

    return limits.read_iter_at_most(body_chunks(response, what), limit, what)


class RegistryAuth(httpx.Auth):
    """Adds the registry's ``Authorization`` header for one request's scopes.

    Only requests to the registry's own origin are signed; anything else (a redirect to a
    blob store, an external layer URL) goes out without credentials. The retry after a
    401 happens in the client, which reads error bodies with a size cap; this flow never
    yields a request twice, so httpx never reads an unbounded 401 body on our behalf.
    """

    def __init__(self, session: AuthSession, scopes: tuple[Scope, ...]) -> None:
        self._session = session
        self._scopes = scopes

    def __repr__(self) -> str:
        return f"<RegistryAuth scopes={[str(s) for s in self._scopes]}>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` if it goes to the registry origin; send it once."""
        origin = self._session.origin
        if origin is not None and (request.url.scheme, request.url.host, request.url.port) == origin:
            value = self._session.authorization(self._scopes)
            if value is not None:
                request.headers["Authorization"] = value
        else:
            request.headers.pop("Authorization", None)
        yield request
