"""The one place that turns httpx exceptions and registry error responses into our errors.

Everything the docker transport raises is a :class:`~trustcopy.errors.TrustcopyError`;
nothing from httpx escapes: RegistryClient (client.py), the one place that sends
requests, turns exceptions into errors with :func:`network_error` / :func:`invalid_url_error`
and unexpected answers with :func:`error_for` (``from exc``); the readers of bodies and
blobs (client.py, blobreader.py) do the same for failures while reading. The most
specific class wins:

=====================================  ===========================================
what happened                          raised
=====================================  ===========================================
TLS certificate verification failed    NetworkError, code ``tls-verification``
other TLS handshake failure            NetworkError, code ``tls-handshake``
connect/read/write timed out           NetworkError, code ``network-timeout``
an answer that is not valid HTTP       RegistryError, code ``registry`` (not retried)
any other connection problem           NetworkError, code ``network``
401, or an ``invalid_token`` challenge RegistryAuthError, code ``registry-auth``
403 / ``DENIED`` / insufficient scope  RegistryAuthError, code ``registry-denied``
404 with ``*_UNKNOWN`` (or any 404     ImageNotFoundError, code ``image-not-found``
for a manifest or blob)
429                                    RegistryHTTPError(429), ``too-many-requests``
``MANIFEST_INVALID``/``TAG_INVALID``…  RegistryHTTPError, code ``manifest-rejected``
anything else                          RegistryHTTPError(status), ``registry-http``
=====================================  ===========================================

Retrying: whether a whole operation is worth repeating (a blob copy, copy/blobs.py) is
:attr:`TrustcopyError.transient` (network failures other than TLS ones; HTTP 408, 429
and 5xx). ``context["retryable"]`` is narrower: set on network errors (True when sending
the request again may help, False for a malformed answer) and on 408/429/5xx answers, it
is read only by ``RegistryClient.get_whole``, which fetches a small body (a manifest, a
page of tags) again when the answer was cut short.

WARNING: a registry's error body is untrusted text. It is read with a size cap, stripped
of control characters, shortened, and passed through :func:`trustcopy.redact.redact_text`
before it reaches a message: a hostile registry must not be able to forge terminal
output or make us echo a token.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from trustcopy.errors import (
    ImageNotFoundError,
    NetworkError,
    RegistryAuthError,
    RegistryError,
    RegistryHTTPError,
    TrustcopyError,
)
from trustcopy.httpretry import (
    RETRYABLE_STATUSES,
    is_malformed_http,
    is_retryable_exception,
    is_tls_failure,
    is_tls_verification,
)
from trustcopy.lazy import dataclass
from trustcopy.redact import known_secrets, redact_text, redact_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

#: Longest piece of registry-provided text we quote in a message.
MAX_QUOTED = 300

_NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"})
_DENIED_CODES = frozenset({"DENIED"})
_UNAUTHORIZED_CODES = frozenset({"UNAUTHORIZED"})
_MANIFEST_REJECTED_CODES = frozenset(
    {"MANIFEST_INVALID", "TAG_INVALID", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNVERIFIED", "NAME_INVALID",
     "SIZE_INVALID", "DIGEST_INVALID"}
)
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+"  # compiled on first use (re's cache)

#: copy and sync have no --tls-verify/--cert-dir: each side has its own (--src-..., --dest-...).
_SIDE_FLAGS = "with copy and sync, the --src- or --dest- form"
TLS_HINT = (
    "add the registry's CA certificate to the system trust store or to a --cert-dir directory "
    f"(or /etc/containers/certs.d/HOST:PORT/ca.crt); --tls-verify=false disables verification ({_SIDE_FLAGS} of each)"
)


class RefusedTokenError(RegistryAuthError):
    """The registry refused a cached bearer token (expired early, revoked) on a streamed request.

    The client cannot send a streamed body again, so it drops the token and reports this
    error as transient: the blob copy is started again (copy/blobs.py), and its first,
    replayable request fetches a new token. A registry that refuses the new token on that
    request fails it with an ordinary (not transient) RegistryAuthError; one that accepts it
    there but refuses it on the streamed request again raises this again, at most
    ``--retry-times`` times (copy/blobs.py's retries of a blob): bounded either way.
    """

    @property
    def transient(self) -> bool:
        """A new token may be accepted (see the class docstring)."""
        return True


@dataclass(frozen=True)
class DistributionError:
    """One entry of a registry's ``{"errors": [...]}`` body (already sanitized)."""

    code: str
    message: str

    def __str__(self) -> str:
        if self.message:
            return f"{self.code.lower().replace('_', ' ')}: {self.message}" if self.code else self.message
        return self.code.lower().replace("_", " ")


def clean_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Untrusted text made safe to print: no control characters, no credentials, bounded.

    Besides ``secrets``, every secret the command registered (redact.py: a pre-signed URL's
    signature a redirect carried) is masked here, *before* the text is cut to MAX_QUOTED: a
    secret the cut ends inside no longer matches at the CLI's output and its head was printed.
    """
    if not text.isprintable():  # (every character _CONTROL matches is unprintable: most text skips the regex)
        text = re.sub(_CONTROL, " ", text)
    text = text.strip()
    known = known_secrets()
    # Longest first: a shorter secret inside a longer one must not leave the longer one's rest.
    text = redact_text(text, tuple(sorted({*secrets, *known}, key=len, reverse=True)) if known else secrets)
    if len(text) > MAX_QUOTED:
        text = text[:MAX_QUOTED] + "…"
    return text


#: Go's struct of one Distribution error (errcode.Error: code, message, detail), and of the body.
_ERROR_SPEC = ("struct", {"code": "string", "message": "string", "detail": "any"})
_ERRORS_SPEC = ("struct", {"errors": ("list", _ERROR_SPEC)})
_DETAILS_SPEC = ("struct", {"details": "string"})
#: At most this many entries of ``errors`` are quoted (a hostile body may hold millions).
MAX_ERRORS = 10


def parse_error_body(body: bytes, secrets: tuple[str, ...] = ()) -> list[DistributionError]:
    """The Distribution ``errors`` of a response body; [] when it has none or is not JSON.

    Read as containers/image reads it (parseHTTPErrorResponse, with Go's encoding/json): keys
    in any letter case, the last of a repeated key winning, ``null`` as nothing, and a value of
    the wrong type anywhere (a numeric ``code``, an entry that is not an object) making the
    whole body unreadable, not only that entry. The legacy ``{"details": "..."}`` form wins
    when present, as there. ``detail`` is not quoted: it is free-form and may be large;
    ``message`` is what registries put for humans.
    """
    from trustcopy.gojson import GoObject, go_string, loads
    from trustcopy.manifest._gojson import decode

    try:
        doc = loads(body)
    except ValueError:  # not JSON to Go (TooDeepError included: nested beyond what we walk)
        return []
    if not isinstance(doc, GoObject):
        return []
    try:
        details = decode(doc, _DETAILS_SPEC).get("details", "")
    except ValueError:  # GoTypeError: c/image's Unmarshal of the legacy form failed
        details = ""
    if details:
        return [DistributionError(code="", message=clean_text(go_string(details), secrets))]
    try:
        entries = decode(doc, _ERRORS_SPEC).get("errors") or []
    except ValueError:
        return []
    out: list[DistributionError] = []
    for item in entries[:MAX_ERRORS]:
        code, message = item.get("code") or "", item.get("message") or ""
        if code and not (len(code) <= 64 and code.isascii() and code.replace("_", "").isalnum()):
            code = "UNKNOWN"  # what c/image makes of any code it does not know (" DENIED" too)
        out.append(DistributionError(code=code,
                                     message=clean_text(go_string(message), secrets) if message else ""))
    return out


def _challenge_error(response: httpx.Response) -> tuple[str, str] | None:
    """The RFC 6750 ``error`` and ``error_description`` of a Bearer challenge, if any.

    As containers/image (handleErrorResponse), a challenge naming ``invalid_token`` or
    ``insufficient_scope`` wins over an earlier one naming any other error.
    """
    from trustcopy.transports.docker.challenge import parse_challenges

    first: tuple[str, str] | None = None
    for challenge in parse_challenges(response.headers.get_list("www-authenticate")):
        error = challenge.params.get("error") if challenge.scheme == "bearer" else None
        if not error:
            continue
        found = (error, challenge.params.get("error_description", ""))
        if error in _OAUTH_MESSAGES:
            return found
        first = first or found
    return first


#: RFC 6750 errors containers/image reports instead of the body of a 401, with its
#: errcode text: (code, the code's default message when the challenge has no description).
_OAUTH_MESSAGES = {
    "invalid_token": ("unauthorized", "authentication required"),
    "insufficient_scope": ("denied", "requested access to the resource is denied"),
}


def _oauth_detail(error: str, description: str, secrets: tuple[str, ...]) -> str:
    """As containers/image words a 401's Bearer ``error``: ``denied: DESCRIPTION``, or the default text."""
    code, default = _OAUTH_MESSAGES[error]
    description = clean_text(description, secrets)
    return f"{code}: {description}" if description else default


def response_error(
    response: httpx.Response,
    body: bytes,
    what: str,
    *,
    secrets: tuple[str, ...] = (),
) -> TrustcopyError:
    """The error for a registry response with an unexpected status.

    Args:
        response: the response (its body already read into ``body``, bounded).
        body: at most limits.MAX_ERROR_BODY bytes of the response body.
        what: what we were doing, e.g. ``reading manifest 1.0 in reg/app`` (no secrets).
        secrets: strings to mask if the registry echoes them back.

    Returns:
        The most specific RegistryError (or ImageNotFoundError) for the status and body.
    """
    status = response.status_code
    errs = parse_error_body(body, secrets)
    # As containers/image (and the distribution spec: "callers should primarily decide
    # based on HTTP StatusCode"), only a 4xx body's error codes classify the failure: a
    # 5xx stays a (retryable) server failure whatever its body claims.
    codes = {e.code for e in errs} if 400 <= status < 500 else set()
    oauth_found = _challenge_error(response) if status in (401, 403) else None
    oauth = oauth_found[0] if oauth_found else None
    if status == 401 and oauth_found is not None and oauth in _OAUTH_MESSAGES:
        # containers/image reports the challenge's error, not the body's (handleErrorResponse).
        detail = _oauth_detail(oauth_found[0], oauth_found[1], secrets)
    elif errs:
        detail = "; ".join(str(e) for e in errs)
    elif status == 401:
        detail = "authentication required"  # containers/image: ErrorCodeUnauthorized for a non-JSON 401
    else:
        detail = _plain_detail(response, body, secrets)
    message = f"{what}: {detail}" if detail else f"{what}: HTTP {status}"
    url = redact_url(str(response.request.url)) if _has_request(response) else None
    context: dict[str, object] = {"status": status, "url": url}
    registry_codes = sorted({e.code for e in errs if e.code})
    if registry_codes:
        context["registry_codes"] = registry_codes
    if "retry-after" in response.headers and status in RETRYABLE_STATUSES:
        # For callers retrying a whole step (a monolithic upload's POST+PUT): the wait the registry asked for.
        from trustcopy.httpretry import retry_after

        context["retry_after"] = retry_after(response, 0.0)
    if status == 401 or codes & _UNAUTHORIZED_CODES or oauth == "invalid_token":
        return RegistryAuthError(
            message, code="registry-auth", context=context,
            hint="check the credentials (--creds, --authfile, `trustcopy login`) for this registry",
        )
    if status == 403 or codes & _DENIED_CODES or oauth == "insufficient_scope":
        return RegistryAuthError(
            message, code="registry-denied", context=context,
            hint="the credentials were accepted but do not grant this access to the repository",
        )
    if status == 404 or codes & _NOT_FOUND_CODES:
        return ImageNotFoundError(message, context=context)
    if status in RETRYABLE_STATUSES:
        # Copying the whole blob again may succeed (the transport retried the request).
        context["retryable"] = True
    if status == 429:
        return RegistryHTTPError(message, status=status, code="too-many-requests", context=context,
                                 hint="the registry is rate-limiting; retry later or raise --retry-times")
    if codes & _MANIFEST_REJECTED_CODES or ("UNSUPPORTED" in codes and "Invalid JSON syntax" in detail):
        # (UNSUPPORTED "Invalid JSON syntax": AWS ECR refusing a manifest, as containers/image's
        # isManifestInvalidError recognises it.)
        return RegistryHTTPError(message, status=status, code="manifest-rejected", context=context)
    return RegistryHTTPError(message, status=status, context=context)


def body_chunks(response: httpx.Response, what: str) -> Iterator[bytes]:
    """A response's body, its ``Content-Encoding`` undone in bounded steps (limits.decode_content).

    Never use httpx's ``iter_bytes``/``read`` on an untrusted response: they inflate a whole
    network chunk at once, and "gzip, gzip" makes 64 KiB into 64 GiB.
    """
    from trustcopy import limits

    if response.is_stream_consumed:
        # Already read to its end: an answer without a body (a HEAD, Content-Length: 0) that
        # the client consumed so that its connection goes back to the pool (client.py).
        try:
            return iter([response.content])
        except Exception:  # noqa: BLE001 (httpx.ResponseNotRead: consumed by iteration, nothing left)
            return iter(())
    return limits.decode_content(response.iter_raw(), response.headers.get_list("content-encoding",
                                                                                split_commas=True), what)


def read_body(response: httpx.Response, limit: int, what: str, *, secrets: tuple[str, ...] = ()) -> bytes:
    """Read a whole untrusted body (at most ``limit`` bytes once decoded) and close the response.

    A ``Content-Length`` above the limit is refused before anything is read.

    Raises:
        LimitExceededError: the body is larger than ``limit``.
        NetworkError: the connection failed while reading.
        TransportError: the body's Content-Encoding is corrupt.
    """
    import httpx

    from trustcopy import limits
    from trustcopy.errors import LimitExceededError

    label = f"{what}: the response"
    try:
        announced = response.headers.get("content-length", "").strip()
        if (announced.isdigit() and int(announced[:20]) > limit
                and not response.headers.get("content-encoding", "").strip(", \t")):
            raise LimitExceededError(f"{label} is larger than the {limit} bytes accepted "
                                     f"(Content-Length: {announced[:20]})", context={"what": what, "limit": limit})
        return limits.read_iter_at_most(body_chunks(response, what), limit, label)
    except (httpx.HTTPError, OSError) as exc:
        raise network_error(exc, what, secrets=secrets) from exc
    finally:
        response.close()


def error_for(response: httpx.Response, what: str, *, secrets: tuple[str, ...] = ()) -> TrustcopyError:
    """The error for an unexpected response: its body read bounded (unreadable → ignored), closed."""
    try:
        from trustcopy import limits

        body = read_body(response, limits.MAX_ERROR_BODY, what, secrets=secrets)
    except TrustcopyError:
        body = b""
    return response_error(response, body, what, secrets=secrets)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 (raises RuntimeError when a response was built by hand)
    except RuntimeError:
        return False
    return True


#: How much of a non-JSON error body is cleaned (masked) before its start is quoted.
_SNIPPET_WINDOW = 64 * 1024


def _plain_detail(response: httpx.Response, body: bytes, secrets: tuple[str, ...]) -> str:
    """Status line plus the start of a non-JSON body (as c/image: shortened)."""
    reason = clean_text(response.reason_phrase or "", secrets)  # the server's text, as the body's
    text = f"{response.status_code} {reason}".strip()
    # Masked before it is cut to 80 characters: a window of 200 bytes ended inside a long secret
    # (a pre-signed URL's security token) quoted early in the body, and the cut-off head, no longer
    # matching the secret, was printed. The window holds any secret starting in the first 80.
    snippet = clean_text(body[:_SNIPPET_WINDOW].decode("utf-8", errors="replace"), secrets) if body else ""
    if snippet and response.headers.get("content-type", "").startswith(("text/plain", "application/json")):
        text += f" ({snippet[:80]})"
    return f"unexpected HTTP status {text}"


#: OpenSSL's names for alerts a server sends about the client certificate it required (none sent,
#: or one it does not accept: unknown issuer, expired, wrong usage).
_CLIENT_CERT_ALERTS = ("ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED", "ALERT_UNKNOWN_CA",
                       "ALERT_CERTIFICATE_UNKNOWN", "ALERT_UNSUPPORTED_CERTIFICATE", "ALERT_CERTIFICATE_EXPIRED",
                       "ALERT_CERTIFICATE_REVOKED")
CLIENT_CERT_HINT = ("the registry refused our client certificate (or wants one): put a NAME.cert and NAME.key "
                    f"pair it accepts in a --cert-dir directory (or /etc/containers/certs.d/HOST:PORT/; {_SIDE_FLAGS})")


def network_error(exc: Exception, what: str, *, secrets: tuple[str, ...] = ()) -> RegistryError:
    """The NetworkError for an httpx (or socket/ssl) exception raised while ``what``.

    The exception text is sanitized (it never contains our credentials: those live in
    headers, and httpx does not quote headers in exception messages, but a proxy or a
    URL could).
    """
    import httpx

    text = str(exc) or type(exc).__name__
    if "Illegal header value" in text or "Illegal header name" in text:
        # h11 quotes the refused header (an Authorization value among them): never its text.
        text = "a request header value the HTTP library refused (a control character in a credential?)"
    reason = clean_text(text, secrets)
    if is_tls_verification(exc):
        return NetworkError(f"{what}: TLS certificate verification failed: {reason}", code="tls-verification",
                            hint=TLS_HINT)
    if is_tls_failure(exc):
        hint = TLS_HINT
        if "WRONG_VERSION_NUMBER" in reason or "wrong version number" in reason:
            hint = f"the server does not speak HTTPS; for a plain-HTTP registry use --tls-verify=false ({_SIDE_FLAGS})"
        elif any(alert in reason for alert in _CLIENT_CERT_ALERTS):
            # The registry's alert about the certificate *we* sent (or did not send): adding CAs
            # or turning verification off on our side cannot help.
            hint = CLIENT_CERT_HINT
        return NetworkError(f"{what}: TLS handshake failed: {reason}", code="tls-handshake", hint=hint)
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"{what}: timed out ({type(exc).__name__})", code="network-timeout",
                            hint="the registry stopped responding; check the network or retry",
                            context={"retryable": True})
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return RegistryError(f"{what}: {reason}", code="registry")
    if is_malformed_http(exc):
        return RegistryError(f"{what}: the server's answer is not valid HTTP ({reason})", code="registry",
                             context={"retryable": False})
    return NetworkError(f"{what}: {reason}", context={"retryable": is_retryable_exception(exc)})


def invalid_url_error(exc: Exception, what: str) -> RegistryError:
    """The error for ``httpx.InvalidURL`` escaping a request.

    httpx builds the follow-up request of every redirect, even one it will not follow, and
    raises InvalidURL (not an HTTPError) for a ``Location`` like ``data:x`` or ``mailto:x``.
    """
    return RegistryError(f"{what}: the registry answered with an invalid URL ({clean_text(str(exc))})",
                         code="registry", context={"retryable": False})
