"""Registry responses and httpx exceptions → our error classes (most specific wins)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from trustcopy.errors import ImageNotFoundError, NetworkError, RegistryAuthError, RegistryError, RegistryHTTPError
from trustcopy.transports.docker.errors import (
    is_retryable_exception,
    network_error,
    parse_error_body,
    response_error,
)


def _resp(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", "https://reg.example/v2/app/manifests/1.0?token=SECRETQUERY")
    return httpx.Response(status, content=body, headers=headers or {}, request=request)


def _body(*errs: tuple[str, str]) -> bytes:
    import json

    return json.dumps({"errors": [{"code": c, "message": m, "detail": {"x": "y"}} for c, m in errs]}).encode()


MAPPING = [
    ("manifest-unknown", 404, _body(("MANIFEST_UNKNOWN", "manifest unknown")), {}, ImageNotFoundError,
     "image-not-found"),
    ("name-unknown", 404, _body(("NAME_UNKNOWN", "repository name not known to registry")), {},
     ImageNotFoundError, "image-not-found"),
    ("plain-404", 404, b"<html>not found</html>", {}, ImageNotFoundError, "image-not-found"),
    ("unauthorized", 401, _body(("UNAUTHORIZED", "authentication required")), {}, RegistryAuthError,
     "registry-auth"),
    ("401-no-body", 401, b"", {}, RegistryAuthError, "registry-auth"),
    ("denied", 403, _body(("DENIED", "requested access to the resource is denied")), {}, RegistryAuthError,
     "registry-denied"),
    ("insufficient-scope", 401, b"", {"WWW-Authenticate": 'Bearer realm="r",error="insufficient_scope"'},
     RegistryAuthError, "registry-auth"),
    ("invalid-token-on-403", 403, b"", {"WWW-Authenticate": 'Bearer realm="r",error="invalid_token"'},
     RegistryAuthError, "registry-auth"),
    ("rate-limited", 429, _body(("TOOMANYREQUESTS", "slow down")), {}, RegistryHTTPError, "too-many-requests"),
    ("manifest-invalid", 400, _body(("MANIFEST_INVALID", "manifest invalid")), {}, RegistryHTTPError,
     "manifest-rejected"),
    ("tag-invalid", 400, _body(("TAG_INVALID", "manifest tag did not match URI")), {}, RegistryHTTPError,
     "manifest-rejected"),
    ("blob-unknown-in-manifest", 400, _body(("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")), {},
     RegistryHTTPError, "manifest-rejected"),
    ("unsupported", 405, _body(("UNSUPPORTED", "The operation is unsupported.")), {}, RegistryHTTPError,
     "registry-http"),
    ("server-error-html", 502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}, RegistryHTTPError,
     "registry-http"),
    ("legacy-details", 500, b'{"details": "storage is full"}', {}, RegistryHTTPError, "registry-http"),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "code"), [m[1:] for m in MAPPING],
                         ids=[m[0] for m in MAPPING])
def test_response_mapping(status: int, body: bytes, headers: dict[str, str], cls: type, code: str) -> None:
    err = response_error(_resp(status, body, headers), body, "reading manifest 1.0 in reg.example/app")
    assert type(err) is cls
    assert err.code == code
    assert str(err).startswith("reading manifest 1.0 in reg.example/app: ")
    assert "SECRETQUERY" not in str(err) and "SECRETQUERY" not in repr(err.context)
    if isinstance(err, RegistryHTTPError):
        assert err.status == status


def test_distribution_messages_are_readable() -> None:
    body = _body(("MANIFEST_UNKNOWN", "manifest unknown"), ("NAME_UNKNOWN", "repo gone"))
    err = response_error(_resp(404, body), body, "reading manifest")
    assert str(err) == "reading manifest: manifest unknown: manifest unknown; name unknown: repo gone"
    assert err.context["registry_codes"] == ["MANIFEST_UNKNOWN", "NAME_UNKNOWN"]


def test_hostile_error_body_is_sanitized() -> None:
    evil = "\x1b[2J\x1b[31mFAKE PROMPT\r\nBearer eyJhbGciOi.secret.token " + "A" * 5000
    body = _body(("DENIED", evil))
    err = response_error(_resp(403, body), body, "pushing", secrets=("hunter2",))
    text = str(err)
    assert "\x1b" not in text and "\r" not in text and "\n" not in text
    assert "eyJhbGciOi" not in text
    assert len(text) < 700


def test_echoed_secret_is_masked() -> None:
    body = _body(("UNAUTHORIZED", "password hunter2 is wrong"))
    err = response_error(_resp(401, body), body, "login", secrets=("hunter2",))
    assert "hunter2" not in str(err)


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"errors": "x"}', b'{"errors": [1, null]}',
                                  b"\xff\xfe", b'{"errors": [{"code": 5, "message": ["x"]}]}'])
def test_malformed_bodies_never_crash(body: bytes) -> None:
    parse_error_body(body)
    err = response_error(_resp(500, body), body, "x")
    assert isinstance(err, RegistryHTTPError)


def test_network_errors() -> None:
    req = httpx.Request("GET", "https://reg.example/v2/")
    refused = httpx.ConnectError("[Errno 111] Connection refused", request=req)
    err = network_error(refused, "pinging container registry reg.example")
    assert type(err) is NetworkError and err.code == "network"
    assert is_retryable_exception(refused)

    timeout = httpx.ReadTimeout("timed out", request=req)
    err = network_error(timeout, "reading blob")
    assert err.code == "network-timeout"
    assert is_retryable_exception(timeout)

    try:
        try:
            raise ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
        except ssl.SSLError as inner:
            raise httpx.ConnectError(str(inner), request=req) from inner
    except httpx.ConnectError as exc:
        err = network_error(exc, "pinging")
        assert err.code == "tls-verification"
        assert err.hint and "--cert-dir" in err.hint
        assert not is_retryable_exception(exc)

    wrong = httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", request=req)
    err = network_error(wrong, "pinging")
    assert err.code == "tls-handshake"
    assert err.hint and "--tls-verify=false" in err.hint
    assert not is_retryable_exception(wrong)

    bad_scheme = httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.", request=req)
    assert type(network_error(bad_scheme, "x")) is RegistryError
    assert not is_retryable_exception(bad_scheme)


def test_deeply_nested_error_body_is_not_a_crash() -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    assert parse_error_body(body) == []
    assert isinstance(response_error(_resp(500, body), body, "x"), RegistryHTTPError)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_error_for_an_answer_already_read_to_its_end(method: str) -> None:
    """The client reads bodiless answers (HEAD, Content-Length: 0) to keep the connection; mapping one
    afterwards must not trip over httpx's StreamConsumed (a RuntimeError, not an httpx error)."""
    from trustcopy.transports.docker.errors import error_for

    def stream() -> httpx.Response:
        request = httpx.Request(method, "https://reg.example/extensions/v2/ns/app/signatures/sha256:x")
        return httpx.Response(404, stream=httpx.ByteStream(b""), headers={"Content-Length": "0"}, request=request)

    response = stream()
    response.read()
    err = error_for(response, "reading signatures")
    assert isinstance(err, ImageNotFoundError)
    assert err.message == "reading signatures: unexpected HTTP status 404 Not Found"
    consumed = stream()
    for _ in consumed.iter_raw():
        pass
    assert isinstance(error_for(consumed, "reading signatures"), ImageNotFoundError)
