"""Registry error answers against containers/image itself: body → errors → error class.

The Go oracle (tests/goracle/dockerclient) runs containers/image's ``handleErrorResponse`` and
``registryHTTPResponseToError`` (docker/distribution_error.go, errors.go) on a response built
from a status, headers and a body that hypothesis generates: Distribution's
``{"errors": [{"code", "message", "detail"}]}`` with Go's case-folded keys, ``null`` and wrongly
typed values, unknown codes, the legacy ``{"details": ...}`` form, and bodies that are no JSON
at all. trustcopy must read the same errors from the body (transports/docker/errors.py
``parse_error_body``), and so classify the answer the same way (response_error).

WWW-Authenticate parsing and token answers are compared in test_auth_goracle.py; this module
only uses a challenge's ``error`` as handleErrorResponse does.

Known differences, each narrow below:
- the newest containers/image reads an OAuth ``error`` of the challenge only on a 401 (5.23: on
  every 4xx) and reports the *first* error only (5.23: all of them, joined); trustcopy follows
  the newest for the message and names every error;
- trustcopy keeps the first 10 errors of a body (errors.py ``parse_error_body``);
- an ``invalid_token`` challenge on a 403 makes it ``registry-auth`` (test_docker_errors.py
  "invalid-token-on-403"): c/image has no error classes, it decides nothing there.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from goracle import Obj, Oracle, dump, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.errors import ImageNotFoundError, RegistryAuthError, RegistryHTTPError
from trustcopy.transports.docker.errors import MAX_ERRORS, clean_text, parse_error_body, response_error

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("dockerclient", "containers/image's docker package (registry error answers)")

#: Codes that change trustcopy's classification (errors.py); any other code is "UNKNOWN" to it.
CLASSIFYING = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", "DENIED",
                         "UNAUTHORIZED", "MANIFEST_INVALID", "TAG_INVALID", "MANIFEST_BLOB_UNKNOWN",
                         "MANIFEST_UNVERIFIED", "NAME_INVALID", "SIZE_INVALID", "DIGEST_INVALID", "UNSUPPORTED",
                         "TOOMANYREQUESTS"})
NOT_FOUND = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
REJECTED = {"MANIFEST_INVALID", "TAG_INVALID", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNVERIFIED", "NAME_INVALID",
            "SIZE_INVALID", "DIGEST_INVALID"}



codes: st.SearchStrategy[Any] = st.sampled_from(
    ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "DENIED", "UNAUTHORIZED", "MANIFEST_INVALID", "TAG_INVALID",
     "UNSUPPORTED", "TOOMANYREQUESTS", "UNKNOWN", "NOT_FOUND", "denied", " DENIED", "", None, 5, True, [], {}])
messages: st.SearchStrategy[Any] = st.sampled_from(
    ["manifest unknown", "requested access to the resource is denied", "Not Found", "", "x\u00e9\x1by", None, 3,
     ["m"], "Invalid JSON syntax"])
details: st.SearchStrategy[Any] = st.sampled_from([None, "d", 0, Obj([("Name", "app")]), [], False])
code_keys = st.sampled_from(["code", "code", "Code", "CODE", "cOdE", "cod"])
message_keys = st.sampled_from(["message", "message", "Message", "MESSAGE", "me\u017f\u017fage", "msg"])
detail_keys = st.sampled_from(["detail", "Detail", "details"])
errors_keys = st.sampled_from(["errors", "errors", "errors", "Errors", "ERRORS", "error\u017f", "error"])
details_keys = st.sampled_from(["details", "Details", "detail"])


@st.composite
def items(draw: st.DrawFn) -> Any:
    """One entry of ``errors``: usually an object, sometimes not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, "DENIED", 5, [], True]))
    pairs = Obj()
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            pairs.append((draw(code_keys), draw(codes)))
        elif kind == 1:
            pairs.append((draw(message_keys), draw(messages)))
        else:
            pairs.append((draw(detail_keys), draw(details)))
    return pairs


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A registry's error body: Distribution's shape, its variations, and garbage."""
    if draw(st.integers(0, 10)) == 0:
        return draw(st.sampled_from([b"", b"null", b"[]", b"{}", b"<html>Not Found</html>", b"{invalid json}",
                                     b'\xef\xbb\xbf{"errors":[{"code":"DENIED"}]}', b'{"errors":[{"code":"DENIED"}]} x',
                                     b'{"errors":[{"code":"DENIED","message":NaN}]}', b"404 page not found\n"]))
    doc = Obj()
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 3)) == 0:
            doc.append((draw(details_keys), draw(st.sampled_from(["storage full", "", None, 5, ["x"]]))))
        elif draw(st.integers(0, 6)) == 0:
            doc.append((draw(errors_keys), draw(st.sampled_from([None, "DENIED", 5, Obj([("code", "DENIED")])]))))
        else:
            doc.append((draw(errors_keys), draw(st.lists(items(), max_size=3))))
    return dump(doc).encode()


challenges = st.sampled_from([None, 'Bearer realm="r",error="invalid_token"',
                              'Bearer realm="r",error="insufficient_scope",error_description="no push"',
                              'Bearer realm="r",error="invalid_request"', 'Basic realm="r"'])
statuses = st.sampled_from([400, 401, 403, 404, 405, 409, 429, 500, 502, 503])


def _ask(oracle: Oracle, status: int, body: bytes, challenge: str | None = None) -> dict[str, Any]:
    headers = [["WWW-Authenticate", challenge]] if challenge else []
    answer: dict[str, Any] = oracle.ask({"status": status, "headers": headers,
                                         "body": base64.b64encode(body).decode()})
    return answer


def _same_errors(body: bytes, go: dict[str, Any]) -> None:
    """trustcopy's parse_error_body reads the errors c/image reads from a 4xx body (no challenge)."""
    ours = parse_error_body(body)
    theirs = go.get("errors") or [] if go["kind"] == "errors" else []
    assert len(ours) == min(len(theirs), MAX_ERRORS), f"{body!r}: c/image {theirs}, trustcopy {ours}"
    for mine, their in zip(ours, theirs, strict=False):
        if their["code"] == "UNKNOWN":
            assert mine.code not in CLASSIFYING, f"{body!r}: c/image UNKNOWN, trustcopy {mine.code!r}"
        else:
            assert mine.code == their["code"], f"{body!r}: c/image {their}, trustcopy {mine}"
        if mine.message:
            assert mine.message == clean_text(their["message"]), f"{body!r}: c/image {their}, trustcopy {mine}"


@given(bodies())
# Old behaviour in brackets (Python's json, keys as written, entries read one by one):
@example(b'{"Errors":[{"Code":"DENIED","Message":"no"}]}')  # [no errors: keys folded only by Go]
@example(b'{"errors":[{"code":"DENIED","message":5}]}')  # [DENIED; Go cannot read the body]
@example(b'{"errors":[{"code":5,"message":"m"}]}')  # [an error "m"]
@example(b'{"errors":["DENIED",{"code":"DENIED"}]}')  # [DENIED from the second entry]
@example(b'{"errors":[{"code":" DENIED"}]}')  # [DENIED once stripped; Go: UNKNOWN]
@example(b'{"errors":[null,{"code":"NAME_UNKNOWN"}]}') # [one error: the null entry skipped]
@example(b'{"errors":[{"code":null,"message":null}]}')
@example(b'{"details":"storage full","errors":[{"code":"DENIED"}]}')  # [DENIED; Go: the legacy form wins]
@example(b'{"errors":[{"code":"DENIED"}],"errors":[]}')
@example(b'{"errors":[{"code":"MANIFEST_UNKNOWN"}],"details":5}')
@example(b'\xef\xbb\xbf{"errors":[{"code":"DENIED"}]}')
@example(b'{"errors":[{"code":"DENIED","message":"\\ud800"}]}')  # [a lone surrogate in the message]
def test_error_body_is_read_as_containers_image_reads_it(oracle: Oracle, body: bytes) -> None:
    _same_errors(body, _ask(oracle, 400, body))


def _expected_code(status: int, challenge: str | None, go: dict[str, Any]) -> str:
    """trustcopy's error code for c/image's reading of the answer (errors.py's table, fed c/image's errors)."""
    body_codes = {e["code"] for e in go.get("errors") or []} if 400 <= status < 500 else set()
    oauth = None
    if challenge and status in (401, 403):
        oauth = next((e for e in ("invalid_token", "insufficient_scope") if e in challenge), None)
        # c/image puts the challenge's error first; the rest is the body's.
        if oauth is not None and go.get("errors"):
            body_codes = {e["code"] for e in go["errors"][1:]}
    if status == 401 or "UNAUTHORIZED" in body_codes or oauth == "invalid_token":
        return "registry-auth"  # (a 403 with invalid_token: known difference, see the module docstring)
    if status == 403 or "DENIED" in body_codes:
        return "registry-denied"
    if status == 404 or body_codes & NOT_FOUND:
        return "image-not-found"
    if status == 429:
        return "too-many-requests"
    if body_codes & REJECTED or ("UNSUPPORTED" in body_codes and "Invalid JSON syntax" in go["message"]):
        return "manifest-rejected"
    return "registry-http"


@given(statuses, bodies(), challenges)
@example(401, b'{"errors":[{"code":"UNKNOWN","message":"m"}]}', 'Bearer realm="r",error="invalid_token"')
@example(404, b'{"Errors":[{"Code":"DENIED"}]}', None)
@example(400, b'{"errors":[{"code":"DENIED","message":["x"]}]}', None)
@example(400, b'{"details":"d","errors":[{"code":"MANIFEST_INVALID"}]}', None)
@example(503, b'{"errors":[{"code":"DENIED"}]}', None)
def test_error_class_agrees_with_containers_image(oracle: Oracle, status: int, body: bytes,
                                                  challenge: str | None) -> None:
    go = _ask(oracle, status, body, challenge)
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    response = httpx.Response(status, headers=headers, content=body, request=httpx.Request("GET", "https://r/v2/x"))
    err = response_error(response, body, "W")
    assert err.code == _expected_code(status, challenge, go), f"{status} {body!r} {challenge!r}: c/image {go}"
    expected_type = {"registry-auth": RegistryAuthError, "registry-denied": RegistryAuthError,
                     "image-not-found": ImageNotFoundError}.get(err.code, RegistryHTTPError)
    assert isinstance(err, expected_type)
    if status >= 500:
        assert go["kind"] == "unexpected-status" and err.transient
        return
    # The newest c/image reports the first error: on a 401 the challenge's, whose description we show.
    if status == 401 and challenge and "no push" in challenge:
        # (5.23's message joins every error; the newest keeps this first one, as trustcopy does)
        assert go["errors"][0] == {"code": "DENIED", "message": "no push", "detail": False}
        assert err.message.startswith("W: denied: no push")
