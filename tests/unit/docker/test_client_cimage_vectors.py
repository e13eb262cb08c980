"""containers/image's registry-client test vectors, restated for trustcopy.

Each table cites the Go test (image/docker/*_test.go, pkg/tlsclientconfig, internal/iolimits
in containers/container-libs) whose cases it restates. Where trustcopy differs on purpose,
the case says so and asserts trustcopy's own answer.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from trustcopy.errors import (
    ConfigError,
    ImageNotFoundError,
    LimitExceededError,
    NetworkError,
    RegistryAuthError,
    RegistryError,
    RegistryHTTPError,
)
from trustcopy.manifest.mediatypes import simplify_content_type
from trustcopy.transports.docker import blobreader
from trustcopy.transports.docker.auth import MIN_TOKEN_LIFETIME, Credentials, _parse_token_response
from trustcopy.transports.docker.blobreader import BlobReader, parse_content_range
from trustcopy.transports.docker.certs import cert_dir_for, ssl_context
from trustcopy.transports.docker.challenge import Scope, parse_challenge_header
from trustcopy.transports.docker.client import RegistryClient, _insufficient_scope, parse_registry_warning
from trustcopy.transports.docker.errors import read_body, response_error
from trustcopy.transports.docker.source import _content_length, list_tags
from trustcopy.types import SystemContext

REG = "https://reg.example"


def _raw_response(raw: bytes, url: str = f"{REG}/v2/app/manifests/latest") -> tuple[httpx.Response, bytes]:
    """An httpx response from the HTTP/1.1 text of a Go test (status line, headers, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    _, status, reason = status_line.split(b" ", 2)
    headers = [tuple(line.split(b": ", 1)) for line in lines]
    response = httpx.Response(int(status), headers=headers, content=body, request=httpx.Request("GET", url),
                              extensions={"reason_phrase": reason})
    return response, body


def _error(raw: bytes, what: str = "W") -> object:
    response, body = _raw_response(raw)
    return response_error(response, body, what)


# -- wwwauthenticate_test.go: TestParseValueAndParams ------------------------------------------------------------

PARSE_VALUE_AND_PARAMS = [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
     'scope="repository:library/busybox:pull"',
     "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull"}),
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
     'scope="repository:library/busybox:pull,push"',
     "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull,push"}),
    ('Bearer realm="http://127.0.0.1:5000/openshift/token"', "bearer",
     {"realm": "http://127.0.0.1:5000/openshift/token"}),
    # distribution_error_test.go's challenges are folded over lines: skipSpace skips CR and LF too.
    ('Bearer realm="example.io",\nerror="invalid_token",\nerror_description="The access token expired"', "bearer",
     {"realm": "example.io", "error": "invalid_token", "error_description": "The access token expired"}),
    ('Bearer realm="example.io",\r\n error="insufficient_scope"', "bearer",
     {"realm": "example.io", "error": "insufficient_scope"}),
]


@pytest.mark.parametrize(("header", "scheme", "params"), PARSE_VALUE_AND_PARAMS)
def test_parse_value_and_params(header: str, scheme: str, params: dict[str, str]) -> None:
    [challenge] = parse_challenge_header(header)
    assert (challenge.scheme, challenge.params) == (scheme, params)


# -- docker_client_test.go: TestNeedsRetry* (needsRetryWithUpdatedScope) -------------------------------------------

_SUSE = 'Bearer realm="https://registry.suse.com/auth",service="SUSE Linux Docker Registry",'
NEEDS_RETRY = [
    ("OnInsuficientScope", _SUSE + 'scope="registry:catalog:*",error="insufficient_scope"',
     Scope("registry", "catalog", "*")),
    ("NoRetryWhenNoAuthHeader", None, None),
    ("NoRetryWhenNoBearerAuthHeader",
     'OAuth2 realm="https://registry.suse.com/auth",service="SUSE Linux Docker Registry",scope="registry:catalog:*"',
     None),
    ("NoRetryWhenNoErrorInBearer", _SUSE + 'scope="registry:catalog:*"', None),
    ("NoRetryWhenInvalidErrorInBearer", _SUSE + 'scope="registry:catalog:*,error="random_error"', None),
    ("NoRetryWhenInvalidScope", _SUSE + 'scope="foo:bar",error="insufficient_scope"', None),
]


@pytest.mark.parametrize(("header", "expected"), [c[1:] for c in NEEDS_RETRY], ids=[c[0] for c in NEEDS_RETRY])
def test_needs_retry_with_updated_scope(header: str | None, expected: Scope | None) -> None:
    headers = {"WWW-Authenticate": header} if header else {}
    assert _insufficient_scope(httpx.Response(401, headers=headers)) == expected


def test_insufficient_scope_retry_widens_the_token_request() -> None:
    # TestNeedsRetryOnInsuficientScope, end to end: the retry asks for the scope the challenge named.
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/t"'})
        token = router.get("https://auth.example/t").respond(200, json={"token": "tok", "expires_in": 300})
        calls = {"n": 0}

        def catalog(request: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            if calls["n"] == 1:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/t",'
                                                    'scope="registry:catalog:*",error="insufficient_scope"'})
            return httpx.Response(200, json={})

        router.get(f"{REG}/v2/_catalog").mock(side_effect=catalog)
        client = RegistryClient(SystemContext(), "reg.example", "app", "pull", credentials=Credentials("u", "p"))
        try:
            response = client.send("GET", "/v2/_catalog", what="catalog")
            assert response.status_code == 200
        finally:
            client.close()
        last = token.calls[-1].request.url.params.get_list("scope")
        assert "registry:catalog:*" in last and "repository:app:pull" in last


# -- docker_client_test.go: TestBearerTokenReadFromHTTPResponseBody(IssuedAtZero) ------------------------------------
# Deliberate difference: issued_at is ignored (our monotonic clock measures the lifetime), so
# a 2018 issued_at does not make the token expired on arrival; the 60 s minimum is kept.

TOKEN_BODIES = [
    ("token", b'{"token":"IAmAToken","expires_in":100,"issued_at":"2018-01-01T10:00:02+00:00"}', 100),
    ("access_token", b'{"access_token":"IAmAToken","expires_in":100,"issued_at":"2018-01-01T10:00:02+00:00"}', 100),
    ("small expiry", b'{"token":"IAmAToken","expires_in":1,"issued_at":"2018-01-01T10:00:02+00:00"}',
     MIN_TOKEN_LIFETIME),
    ("issued_at zero", b'{"token":"IAmAToken","expires_in":100,"issued_at":"0001-01-01T00:00:00Z"}', 100),
]


@pytest.mark.parametrize(("body", "lifetime"), [c[1:] for c in TOKEN_BODIES], ids=[c[0] for c in TOKEN_BODIES])
def test_bearer_token_from_response_body(body: bytes, lifetime: float) -> None:
    before = time.monotonic()
    token = _parse_token_response(body, "requesting a token")
    assert token.value == "IAmAToken"
    # Used until shortly (at most a quarter of its life, at most 10 s) before it expires.
    assert before + lifetime * 0.75 <= token.expires <= time.monotonic() + lifetime


def test_bearer_token_invalid_json() -> None:
    with pytest.raises(RegistryAuthError, match="not JSON"):
        _parse_token_response(b"IAmNotJson", "requesting a token")


# -- docker_client_test.go: TestDockerCertDir --------------------------------------------------------------------
# (RootForImplicitAbsolutePaths has no trustcopy equivalent; the default per-host lookup is in test_docker_certs.py.)

HOST = "thishostdefinitelydoesnotexist:5000"
CERT_DIRS = [
    ("full path", SystemContext(docker_cert_path="/this/is/not/the/default/full/path"),
     "/this/is/not/the/default/full/path"),
    ("per-host dir", SystemContext(docker_per_host_cert_dir="/this/is/not/the/default/certs.d"),
     f"/this/is/not/the/default/certs.d/{HOST}"),
    ("both", SystemContext(docker_cert_path="/this/is/not/the/default/full/path",
                           docker_per_host_cert_dir="/this/is/not/the/default/certs.d"),
     "/this/is/not/the/default/full/path"),
    ("no expansion, full path", SystemContext(docker_cert_path="$HOME"), "$HOME"),
    ("no expansion, per-host dir", SystemContext(docker_per_host_cert_dir="$HOME"), f"$HOME/{HOST}"),
]


@pytest.mark.parametrize(("sys", "expected"), [c[1:] for c in CERT_DIRS], ids=[c[0] for c in CERT_DIRS])
def test_docker_cert_dir(sys: SystemContext, expected: str) -> None:
    assert cert_dir_for(sys, HOST) == expected


def test_docker_cert_dir_without_overrides_uses_the_last_existing_default(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/containers/certs.d/HOST
    found = cert_dir_for(SystemContext(), HOST)
    assert found is None or found in (f"/etc/containers/certs.d/{HOST}", f"/etc/docker/certs.d/{HOST}")
    (tmp_path / ".config/containers/certs.d" / HOST).mkdir(parents=True)
    assert cert_dir_for(None, HOST) == str(tmp_path / ".config/containers/certs.d" / HOST)


# -- docker_client_test.go: TestParseRegistryWarningHeader -------------------------------------------------------
# Deliberate difference: a text that is not UTF-8 is decoded with U+FFFD (Go keeps the raw bytes).

WARNINGS = [
    (b"completely invalid", ""),
    (b'299 - "trivial"', "trivial"),
    (b'100 - "not-299"', ""),
    (b'299 localhost "warn-agent set"', ""),
    (b'299 - "no-terminating-quote', ""),
    (b'299 - "\x01 control"', ""),
    (b'299 - "\\\x01 escaped control"', ""),
    (b'299 - "e\\scaped"', "escaped"),
    (b'299 - "non-UTF8 \xa1\xa2"', "non-UTF8 \ufffd\ufffd"),
    (b'299 - "non-UTF8 escaped \\\xa1\\\xa2"', "non-UTF8 escaped \ufffd\ufffd"),
    ('299 - "UTF8 žluťoučký"'.encode(), "UTF8 žluťoučký"),
    (b'299 - "UTF8 \\\xc5\\\xbe' + "luťoučký\"".encode(), "UTF8 žluťoučký"),
    (b'299 - "unterminated', ""),
    (b'299 - "warning" "some-date"', ""),
    # (ours) a lone opening quote, and a value ending in an escape
    (b'299 - "', ""),
    (b'299 - "\\"', ""),
]


@pytest.mark.parametrize(("header", "expected"), WARNINGS)
def test_parse_registry_warning_header(header: bytes, expected: str) -> None:
    assert parse_registry_warning(header) == expected


def test_registry_warnings_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    # logResponseWarnings: each valid text once per client; invalid ones only at debug level.
    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)
        router.get(f"{REG}/v2/app/tags/list").respond(200, json={"tags": []}, headers=[
            ("Warning", '299 - "this repository is deprecated"'), ("Warning", '199 - "ignored"')])
        client = RegistryClient(SystemContext(), "reg.example", "app", "pull", credentials=Credentials())
        try:
            with caplog.at_level(logging.WARNING, logger="trustcopy.docker"):
                list_tags(client, "reg.example/app")
                list_tags(client, "reg.example/app")
        finally:
            client.close()
    warned = [r.getMessage() for r in caplog.records if "warning from registry" in r.getMessage()]
    assert len(warned) == 1 and "this repository is deprecated" in warned[0]
    assert "ignored" not in caplog.text


# -- docker_client_test.go: TestGetBlobSize ------------------------------------------------------------------------
# A missing or unusable Content-Length is an unknown size (-1), as GetBlob treats getBlobSize's errors.

BLOB_SIZES = [([], -1), (["0"], 0), (["1"], 1), (["0777"], 777), (["x"], -1), (["1", "2"], -1), ([""], -1),
              (["-1"], -1)]


@pytest.mark.parametrize(("values", "expected"), BLOB_SIZES)
def test_get_blob_size(values: list[str], expected: int) -> None:
    response = httpx.Response(200, headers=[("Content-Length", v) for v in values])
    assert _content_length(response) == expected


# -- docker_client_test.go: TestIsManifestUnknownError ---------------------------------------------------------------

MANIFEST_UNKNOWN = [
    ("docker.io when a tag in an existing repo is not found",
     b'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nDocker-Distribution-Api-Version: registry/2.0\r\n'
     b'\r\n{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"this-does-not-exist"}}]}'
     b"\n"),
    ("registry.redhat.io/v2/this-does-not-exist/manifests/latest",
     b'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nServer: Apache\r\n\r\n'
     b'{"errors": [{"code": "404", "message": "Not Found"}]}\r\n'),
    ("registry.redhat.io sigstore attachment",
     b"HTTP/1.1 404 Not Found\r\nAccept-Ranges: bytes\r\nServer: AkamaiNetStorage\r\nX-Docker-Size: -1\r\n\r\n"
     b"Not found\r\n"),
    ("Harbor v2.10.2",
     b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\nServer: nginx\r\n\r\n"
     b'{"errors":[{"code":"NOT_FOUND","message":"artifact test/alpine:sha256-443205b0cfcc78444321d56a2fe273f06e27b2c7'
     b'2b5058f8d7e975997d45b015.sig not found"}]}\n'),
]


@pytest.mark.parametrize("raw", [c[1] for c in MANIFEST_UNKNOWN], ids=[c[0] for c in MANIFEST_UNKNOWN])
def test_is_manifest_unknown_error(raw: bytes) -> None:
    assert isinstance(_error(raw), ImageNotFoundError)


# -- errors_test.go: TestRegistryHTTPResponseToError ----------------------------------------------------------------
# Deliberate differences in wording: a registry's own code is shown as it is ("not found: …"
# where c/image says "unknown: …"), a non-JSON body is summarised by its status line.

HTTP_RESPONSE_TO_ERROR = [
    ("HTTP status out of registry error range",
     b"HTTP/1.1 333 HTTP status out of range\r\nHeader1: Value1\r\n\r\nBody of the request\r\n",
     RegistryHTTPError, "registry-http", "unexpected HTTP status 333 HTTP status out of range"),
    ("HTTP body not in expected format",
     b"HTTP/1.1 400 I don't like this request\r\nHeader1: Value1\r\n\r\n<html><body>JSON? What JSON?</body></html>\r\n",
     RegistryHTTPError, "registry-http", "unexpected HTTP status 400 I don't like this request"),
    ("401 body not in expected format",
     b"HTTP/1.1 401 I don't like this request\r\nHeader1: Value1\r\n\r\n<html><body>JSON? What JSON?</body></html>\r\n",
     RegistryAuthError, "registry-auth", "authentication required"),
    ("docker.io when an image is not found",
     b'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWww-Authenticate: Bearer '
     b'realm="https://auth.docker.io/token",service="registry.docker.io",'
     b'scope="repository:library/this-does-not-exist:pull",error="insufficient_scope"\r\n\r\n'
     b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository",'
     b'"Class":"","Name":"library/this-does-not-exist","Action":"pull"}]}]}\n',
     RegistryAuthError, "registry-auth", "requested access to the resource is denied"),
    ("docker.io when a tag is not found", MANIFEST_UNKNOWN[0][1], ImageNotFoundError, "image-not-found",
     "manifest unknown: manifest unknown"),
    ("public.ecr.aws does not implement tag list",
     b'HTTP/1.1 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\n\r\n'
     b'{"errors":[{"code":"NOT_FOUND","message":"404 page not found"}]}\r\n',
     ImageNotFoundError, "image-not-found", "not found: 404 page not found"),
    ("registry.redhat.io invalid code value", MANIFEST_UNKNOWN[1][1], ImageNotFoundError, "image-not-found",
     "404: Not Found"),
    ("registry.redhat.io out-of-protocol response", MANIFEST_UNKNOWN[2][1], ImageNotFoundError, "image-not-found",
     "unexpected HTTP status 404 Not Found"),
    ("Harbor v2.10.2 manifest not found", MANIFEST_UNKNOWN[3][1], ImageNotFoundError, "image-not-found",
     "not found: artifact test/alpine:sha256-443205b0cfcc78444321d56a2fe273f06e27b2c72b5058f8d7e975997d45b015.sig "
     "not found"),
]


@pytest.mark.parametrize(("raw", "cls", "code", "detail"), [c[1:] for c in HTTP_RESPONSE_TO_ERROR],
                         ids=[c[0] for c in HTTP_RESPONSE_TO_ERROR])
def test_registry_http_response_to_error(raw: bytes, cls: type, code: str, detail: str) -> None:
    err = _error(raw, "reading manifest latest in reg.example/app")
    assert type(err) is cls
    assert err.code == code  # type: ignore[attr-defined]
    assert err.message == f"reading manifest latest in reg.example/app: {detail}"  # type: ignore[attr-defined]


# -- distribution_error_test.go: TestHandleErrorResponse* ----------------------------------------------------------

_UNKNOWN_BODY = b'{"errors":[{"code":"UNKNOWN","message":"some unknown error"}]}'
HANDLE_ERROR_RESPONSE = [
    ("401InvalidTokenChallenge", 401, 'Bearer realm="example.io",\nerror="invalid_token",\n'
     'error_description="The access token expired"', _UNKNOWN_BODY, "registry-auth",
     "unauthorized: The access token expired"),
    ("401InsufficientScopeChallenge", 401, 'Bearer realm="example.io",\nerror="insufficient_scope",\n'
     'error_description="Insufficient permission"', _UNKNOWN_BODY, "registry-auth", "denied: Insufficient permission"),
    ("401InvalidTokenWithoutDescription", 401, 'Bearer realm="example.io",\nerror="invalid_token"', _UNKNOWN_BODY,
     "registry-auth", "authentication required"),
    ("401UnexpectedChallenge", 401, 'Bearer realm="example.io",\nerror="invalid_request",\n'
     'error_description="The request is missing a required parameter"', _UNKNOWN_BODY, "registry-auth",
     "unknown: some unknown error"),
    # (ours: an insufficient_scope challenge on a 403 makes it registry-denied; the body is the message)
    ("403InsufficientScopeChallenge", 403, 'Bearer realm="example.io",\nerror="insufficient_scope",\n'
     'error_description="Insufficient permission"', _UNKNOWN_BODY, "registry-denied", "unknown: some unknown error"),
    ("401ValidBody", 401, None, b'{"errors":[{"code":"UNAUTHORIZED","message":"action requires authentication"}]}',
     "registry-auth", "unauthorized: action requires authentication"),
    ("401WithInvalidBody", 401, None, b"{invalid json}", "registry-auth", "authentication required"),
    ("ExpectedStatusCode400ValidBody", 400, None,
     b'{"errors":[{"code":"DIGEST_INVALID","message":"provided digest does not match"}]}', "manifest-rejected",
     "digest invalid: provided digest does not match"),
    ("ExpectedStatusCode404EmptyErrorSlice", 404, None, b'{"randomkey": "randomvalue"}', "image-not-found",
     "unexpected HTTP status 404 Not Found"),
    ("ExpectedStatusCode404InvalidBody", 404, None, b"{invalid json}", "image-not-found",
     "unexpected HTTP status 404 Not Found"),
    ("UnexpectedStatusCode501", 501, None, b'{"Error Encountered" : "Function not implemented."}', "registry-http",
     "unexpected HTTP status 501 Not Implemented"),
    # parseHTTPErrorResponse's legacy {"details": …} form
    ("legacy details on 401", 401, None, b'{"details": "bad credentials"}', "registry-auth", "bad credentials"),
    ("legacy details on 429", 429, None, b'{"details": "slow down"}', "too-many-requests", "slow down"),
]


@pytest.mark.parametrize(("status", "challenge", "body", "code", "detail"), [c[1:] for c in HANDLE_ERROR_RESPONSE],
                         ids=[c[0] for c in HANDLE_ERROR_RESPONSE])
def test_handle_error_response(status: int, challenge: str | None, body: bytes, code: str, detail: str) -> None:
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    response = httpx.Response(status, headers=headers, content=body, request=httpx.Request("GET", f"{REG}/v2/x"))
    err = response_error(response, body, "W")
    assert err.code == code
    assert err.message == f"W: {detail}"


def test_challenge_description_is_sanitized_and_masked() -> None:
    secret = "s3cr3t-passw0rd"
    challenge = f'Bearer realm="r",error="invalid_token",error_description="bad \\u001b[31m {secret}"'
    response = httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=httpx.Request("GET", REG))
    err = response_error(response, b"", "W", secrets=(secret,))
    assert err.message.startswith("W: unauthorized: bad")
    assert secret not in err.message and "\x1b" not in err.message


@pytest.mark.parametrize("code", ["MANIFEST_UNKNOWN", "UNAUTHORIZED", "DENIED", "MANIFEST_INVALID"])
def test_a_5xx_is_a_server_failure_whatever_its_body_says(code: str) -> None:
    # registryHTTPResponseToError parses bodies of 4xx answers only; a 5xx is UnexpectedHTTPStatusError.
    body = json.dumps({"errors": [{"code": code, "message": "m"}]}).encode()
    err = response_error(httpx.Response(503, content=body, request=httpx.Request("GET", REG)), body, "W")
    assert type(err) is RegistryHTTPError and err.code == "registry-http"
    assert err.transient and err.context["retryable"] is True


# -- docker_image_dest_test.go: TestIsManifestInvalidError (and isManifestInvalidError's ECR case) ------------------

MANIFEST_INVALID = [
    ("docker/distribution 2.1.1 tag mismatch",
     b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
     b'{"errors":[{"code":"TAG_INVALID","message":"manifest tag did not match URI"}]}\n', "manifest-rejected"),
    ("AWS ECR OCI manifest without mediaType",
     b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n\r\n"
     b'{"errors":[{"code":"UNSUPPORTED","message":"Invalid parameter at \'imageManifest\' failed to satisfy '
     b'constraint: \'Invalid JSON syntax\'"}]}\n', "manifest-rejected"),
    ("other UNSUPPORTED",
     b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n\r\n"
     b'{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}\n', "registry-http"),
]


@pytest.mark.parametrize(("raw", "code"), [c[1:] for c in MANIFEST_INVALID], ids=[c[0] for c in MANIFEST_INVALID])
def test_is_manifest_invalid_error(raw: bytes, code: str) -> None:
    err = _error(raw)
    assert isinstance(err, RegistryHTTPError) and err.code == code


# -- docker_image_src_test.go: TestSimplifyContentType -------------------------------------------------------------

SIMPLIFY = [
    ("", ""),
    ("application/json", "application/json"),
    ("application/json;charset=utf-8", "application/json"),
    ("application/json; charset=utf-8", "application/json"),
    ("application/json ; charset=utf-8", "application/json"),
    ("application/json\t;\tcharset=utf-8", "application/json"),
    ("application/json    ;charset=utf-8", "application/json"),
    ('application/json; charset="utf-8"', "application/json"),
    ("completely invalid", ""),
]


@pytest.mark.parametrize(("value", "expected"), SIMPLIFY)
def test_simplify_content_type(value: str, expected: str) -> None:
    assert simplify_content_type(value) == expected


# -- body_reader_test.go: TestParseContentRange (and TestParseDecimalInString's numbers) ----------------------------

CONTENT_RANGES = [
    ("bytes 0-0/1", (0, 0, 1)),
    ("bytes 010-020/030", (10, 20, 30)),
    ("bytes 1000-1010/*", (1000, 1010, -1)),
    ("bytes 0700-0700/0701", (700, 700, 701)),  # not octal
]


@pytest.mark.parametrize(("value", "expected"), CONTENT_RANGES)
def test_parse_content_range(value: str, expected: tuple[int, int, int]) -> None:
    assert parse_content_range(value) == expected


@pytest.mark.parametrize("value", [
    "", "notbytes 1-2/3", "bytes ", "bytes x-2/3", "bytes 1*2/3", "bytes 1", "bytes 1-", "bytes 1-x/3", "bytes 1-2",
    "bytes 1-2@3", "bytes 1-2/", "bytes 1-2/*a", "bytes 1-2/3a",
    # parseDecimalInString: negative, not digits, overflowing int64
    "bytes -1-2/3", "bytes xA-2/3", "bytes &-2/3",
    "bytes 0-999999999999999999999999999999999999999999999999999999999999999999/*",
    "bytes 0-9223372036854775808/*",
    # (ours) only ASCII digits are digits
    "bytes \u0663-4/5",
])
def test_parse_content_range_invalid(value: str) -> None:
    with pytest.raises(ValueError):
        parse_content_range(value)


DATA = bytes(range(256)) * 64  # 16 KiB
BLOB = "/v2/app/blobs/sha256:" + "a" * 64


class _Dropping(httpx.SyncByteStream):
    """Yields ``data`` and then fails like a reset connection."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        raise httpx.ReadError("connection reset by peer")


def _dropping_blob(router: respx.MockRouter, step: int, content_ranges: list[list[str]] | None = None) -> None:
    """A blob whose every answer drops after ``step`` bytes; 206 answers carry ``content_ranges`` if given."""
    router.get(f"{REG}/v2/").respond(200)

    def blob(request: httpx.Request) -> httpx.Response:
        start = int(request.headers.get("Range", "bytes=0-")[6:-1])
        if start == 0:
            return httpx.Response(200, stream=_Dropping(DATA[:step]), headers={"Content-Length": str(len(DATA))})
        ranges = content_ranges.pop(0) if content_ranges else [f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"]
        return httpx.Response(206, stream=_Dropping(DATA[start:start + step]),
                              headers=[("Content-Range", r) for r in ranges])

    router.get(f"{REG}{BLOB}").mock(side_effect=blob)


def _read(retry_times: int) -> bytes:
    client = RegistryClient(SystemContext(docker_retry_delay=0.0, retry_times=retry_times), "reg.example", "app",
                            "pull", credentials=Credentials())
    try:
        reader = BlobReader(client, BLOB, client.send("GET", BLOB, what="blob"), "blob", len(DATA))
        return reader.read()
    finally:
        client.close()


@pytest.mark.parametrize("ranges", [[], ["bytes 1000-16383/16384", "bytes 1000-16383/16384"]],
                         ids=["no Content-Range", "two Content-Range values"])
def test_resume_needs_exactly_one_content_range(ranges: list[str]) -> None:
    # TestParseContentRange: a missing or ambiguous header is an error, never guessed at.
    with respx.mock() as router:
        _dropping_blob(router, 1000, content_ranges=[ranges])
        with pytest.raises(NetworkError, match="cannot resume"):
            _read(retry_times=3)


# -- body_reader_test.go: TestBodyReaderErrorIfNotReconnecting -------------------------------------------------------
# Deliberate difference: trustcopy allows ``--retry-times`` resumes in a row without 1 MiB of
# progress (c/image allows one within a minute); progress, and (as c/image) a minute since
# the previous resume, start a new count.

def test_resumes_without_progress_are_bounded() -> None:
    # "Little progress, after little time, second retry": no reconnection (with --retry-times 1).
    with respx.mock() as router:
        _dropping_blob(router, 1000)
        with pytest.raises(NetworkError, match="after 2000 bytes"):
            _read(retry_times=1)


def test_a_minute_since_the_last_resume_allows_another(monkeypatch: pytest.MonkeyPatch) -> None:
    # "Little progress, after a long time, second retry": reconnect.
    clock = {"now": 1000.0}

    def monotonic() -> float:
        clock["now"] += blobreader.RESUME_INTERVAL  # every failure comes a minute after the previous one
        return clock["now"]

    monkeypatch.setattr(blobreader.time, "monotonic", monotonic)
    monkeypatch.setattr(blobreader.time, "sleep", lambda _s: None)
    with respx.mock() as router:
        _dropping_blob(router, 1000)
        assert _read(retry_times=1) == DATA


def test_progress_allows_another_resume() -> None:
    # "A lot of progress, after little time, second retry": reconnect.
    step = blobreader.RESUME_PROGRESS
    big = bytes(range(256)) * (3 * step // 256)
    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)

        def blob(request: httpx.Request) -> httpx.Response:
            start = int(request.headers.get("Range", "bytes=0-")[6:-1])
            headers = {"Content-Range": f"bytes {start}-{len(big) - 1}/{len(big)}"} if start else {}
            return httpx.Response(206 if start else 200, stream=_Dropping(big[start:start + step])
                                  if start + step < len(big) else httpx.ByteStream(big[start:]), headers=headers)

        router.get(f"{REG}{BLOB}").mock(side_effect=blob)
        client = RegistryClient(SystemContext(docker_retry_delay=0.0, retry_times=1), "reg.example", "app", "pull",
                                credentials=Credentials())
        try:
            reader = BlobReader(client, BLOB, client.send("GET", BLOB, what="blob"), "blob", len(big))
            assert reader.read() == big
        finally:
            client.close()


# -- docker_image.go GetRepositoryTags (no Go test; its tag checks) ------------------------------------------------

@pytest.mark.parametrize(("tags", "expected"), [
    (["a", None, "", "b"], ["a", "b"]),  # Sonatype Nexus 3.58 lists nulls
    (["a", "sha256:" + "0" * 64], ["a"]),  # some JFrog Artifactory versions list digests
])
def test_tag_list_skips_what_containers_image_skips(tags: list[str | None], expected: list[str]) -> None:
    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)
        router.get(f"{REG}/v2/app/tags/list").respond(200, json={"name": "app", "tags": tags})
        client = RegistryClient(SystemContext(), "reg.example", "app", "pull", credentials=Credentials())
        try:
            assert list_tags(client, "reg.example/app") == expected
        finally:
            client.close()


@pytest.mark.parametrize("tag", ["has space", "-leading-dash", "x" * 129, "a/b", "bad\x1b[31m"])
def test_tag_list_with_an_invalid_tag_fails(tag: str) -> None:
    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)
        router.get(f"{REG}/v2/app/tags/list").respond(200, json={"tags": ["ok", tag]})
        client = RegistryClient(SystemContext(), "reg.example", "app", "pull", credentials=Credentials())
        try:
            with pytest.raises(RegistryError, match="invalid tag") as info:
                list_tags(client, "reg.example/app")
        finally:
            client.close()
    assert "\x1b" not in info.value.message


# -- internal/iolimits: TestReadAtMost (errors.read_body, which reads every registry body) -------------------------

MIN_READ = 512  # bytes.MinRead


@pytest.mark.parametrize(("size", "limit", "ok"), [
    (0, 0, True), (0, 1, True), (1, 0, False), (1, 1, True),
    (MIN_READ * 5 - 1, MIN_READ * 5, True), (MIN_READ * 5, MIN_READ * 5, True), (MIN_READ * 5 + 1, MIN_READ * 5, False),
])
@pytest.mark.parametrize("announced", [True, False], ids=["Content-Length", "streamed"])
def test_read_at_most(size: int, limit: int, ok: bool, announced: bool) -> None:
    data = os.urandom(size)
    if announced:
        response = httpx.Response(200, content=data)
    else:
        response = httpx.Response(200, stream=httpx.ByteStream(data))
        response.headers.pop("content-length", None)
    if ok:
        assert read_body(response, limit, "reading") == data
    else:
        with pytest.raises(LimitExceededError):
            read_body(response, limit, "reading")


# -- pkg/tlsclientconfig: TestSetupCertificates (the cases test_docker_certs.py does not restate) -------------------
# Debian's copy of testdata drops the dangling symlinks, so they are recreated here.

def test_dangling_ca_certificate_is_skipped(tmp_path: Path) -> None:
    # "Unreadable CA certificate" (unreadable-ca/unreadable.crt -> /this/does/not/exist): no error.
    (tmp_path / "unreadable.crt").symlink_to("/this/does/not/exist")
    assert ssl_context(str(tmp_path), True) is not None


@pytest.mark.parametrize(("dangling", "real"), [("client-cert-1.cert", "client-cert-1.key"),
                                                ("client-cert-1.key", "client-cert-1.cert")],
                         ids=["unreadable-cert", "unreadable-key"])
def test_dangling_half_of_a_client_pair_is_an_error(tmp_path: Path, dangling: str, real: str) -> None:
    full = Path("/usr/share/gocode/src/github.com/containers/image/pkg/tlsclientconfig/testdata/full")
    if not full.is_dir():
        pytest.skip("containers/image test data is not installed")
    (tmp_path / dangling).symlink_to("/this/does/not/exist")
    (tmp_path / real).symlink_to(full / real)
    # c/i: LoadX509KeyPair's ENOENT; the dangling name is listed, so it is read and named
    with pytest.raises(ConfigError, match=rf"{dangling}: No such file or directory"):
        ssl_context(str(tmp_path), True)


def test_directory_that_is_not_a_directory_is_an_error() -> None:
    # "Other error reading the directory"
    with pytest.raises(ConfigError):
        ssl_context("/dev/null/is/not/a/directory", True)


def test_unreadable_directory_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Directory not accessible": no error, nothing loaded (EACCES simulated: the suite runs as root).
    import errno

    from trustcopy.transports.docker import certs

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.cert").write_text("never read")
    real = os.scandir

    def scandir(path: str) -> object:
        if str(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(certs.os, "scandir", scandir)
    assert ssl_context(str(locked), True) is not None
