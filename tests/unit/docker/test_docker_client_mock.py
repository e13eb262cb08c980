"""Client faults a real docker-registry cannot produce (respx): redirects to other hosts,
hostile token servers, odd Retry-After values, oversized bodies, bad pagination.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from trustcopy.errors import LimitExceededError, NetworkError, RegistryAuthError, RegistryError, RegistryHTTPError
from trustcopy.transports.docker.auth import Credentials
from trustcopy.transports.docker.client import RegistryClient, retry_after
from trustcopy.transports.docker.source import list_tags
from trustcopy.types import SystemContext

REG = "https://reg.example"
REALM = "https://auth.example/token"
PASSWORD = "Pa55-w0rd-never-shown"
BEARER = f'Bearer realm="{REALM}",service="reg.example"'


def _sys(**kw: object) -> SystemContext:
    return SystemContext(docker_retry_delay=0.01, **kw)  # type: ignore[arg-type]


def _client(creds: Credentials | None = None, **kw: object) -> RegistryClient:
    return RegistryClient(_sys(**kw), "reg.example", "team/app", "pull",
                          credentials=creds if creds is not None else Credentials("alice", PASSWORD))


def _token_response(token: str, expires_in: int = 300) -> httpx.Response:
    return httpx.Response(200, json={"token": token, "expires_in": expires_in})


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as r:
        yield r


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_redirect_to_blob_store_carries_no_credentials(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).mock(return_value=_token_response("registry-token-1"))
    blob = router.get(f"{REG}/v2/team/app/blobs/sha256:abc").respond(
        307, headers={"Location": "https://storage.example/bucket/blob?X-Amz-Signature=sig"})
    store = router.get("https://storage.example/bucket/blob").respond(200, content=b"data")
    client = _client()
    resp = client.send("GET", "/v2/team/app/blobs/sha256:abc", what="blob")
    assert resp.read() == b"data"
    assert blob.calls.last.request.headers["Authorization"] == "Bearer registry-token-1"
    assert "authorization" not in store.calls.last.request.headers
    token_req = router.routes[1].calls.last.request
    assert token_req.headers["Authorization"] == _basic("alice", PASSWORD)
    assert "scope=repository%3Ateam%2Fapp%3Apull" in str(token_req.url)


def test_relative_redirect_on_same_origin_keeps_auth(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
    router.get(f"{REG}/v2/team/app/blobs/sha256:abc").respond(302, headers={"Location": "/mirror/abc"})
    target = router.get(f"{REG}/mirror/abc").respond(200, content=b"x")
    _client().send("GET", "/v2/team/app/blobs/sha256:abc", what="blob").read()
    assert target.calls.last.request.headers["Authorization"] == _basic("alice", PASSWORD)


def test_https_to_http_redirect_refused(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/team/app/blobs/sha256:abc").respond(302, headers={"Location": "http://evil.example/b"})
    with pytest.raises(RegistryError, match="HTTPS to plain HTTP") as info:
        _client().send("GET", "/v2/team/app/blobs/sha256:abc", what="blob")
    assert info.value.code == "insecure-redirect"


def test_redirect_loop_is_bounded(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/loop").respond(302, headers={"Location": "/loop"})
    with pytest.raises(RegistryError, match="redirects"):
        _client().send("GET", "/loop", what="loop")


def test_plain_http_realm_gets_no_credentials(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": 'Bearer realm="http://auth.example/t"'})
    token = router.get("http://auth.example/t").mock(return_value=_token_response("t"))
    with pytest.raises(RegistryAuthError, match="plain-HTTP token realm"):
        _client().send("GET", "/v2/team/app/tags/list", what="tags")
    assert not token.called
    # Anonymous requests may use it: there is nothing to leak.
    router.get(f"{REG}/v2/team/app/tags/list").respond(200, json={"tags": []})
    assert _client(Credentials()).send("GET", "/v2/team/app/tags/list", what="tags").status_code == 200


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"token": ""}', b'{"token": "a\\r\\nX-Injected: 1"}',
                                  b'{"token": 5}', b'{"expires_in": 100}'])
def test_hostile_token_responses(router: respx.MockRouter, body: bytes) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).respond(200, content=body)
    with pytest.raises(RegistryAuthError) as info:
        _client().send("GET", "/v2/team/app/tags/list", what="tags")
    assert info.value.code == "registry-token"


def test_oversized_token_response_refused(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).respond(200, content=b'{"token": "' + b"a" * (2 << 20) + b'"}')
    with pytest.raises(LimitExceededError):
        _client().send("GET", "/v2/team/app/tags/list", what="tags")


def test_token_server_rejects_password(router: respx.MockRouter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).respond(401, json={"details": f"bad password {PASSWORD}"})
    with pytest.raises(RegistryAuthError, match="invalid username/password") as info:
        _client().send("GET", "/v2/team/app/tags/list", what="tags")
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value.context)
    assert PASSWORD not in caplog.text


def test_token_cached_then_refreshed_on_401(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    issued = iter(["tok-1", "tok-2"])
    token = router.get(REALM).mock(side_effect=lambda req: _token_response(next(issued)))
    seen: list[str] = []

    def tags(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers.get("Authorization", ""))
        if len(seen) == 3:  # the registry revokes tok-1
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER + ',error="invalid_token"'})
        return httpx.Response(200, json={"tags": []})

    router.get(f"{REG}/v2/team/app/tags/list").mock(side_effect=tags)
    client = _client()
    for _ in range(3):
        client.send("GET", "/v2/team/app/tags/list", what="tags").close()
    assert seen == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert token.call_count == 2


def test_insufficient_scope_widens_the_token(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).mock(side_effect=lambda req: _token_response("t-" + "+".join(req.url.params.get_list("scope"))))

    def catalog(req: httpx.Request) -> httpx.Response:
        if "registry:catalog:*" not in req.headers["Authorization"]:
            return httpx.Response(401, headers={
                "WWW-Authenticate": BEARER + ',scope="registry:catalog:*",error="insufficient_scope"'})
        return httpx.Response(200, json={"repositories": []})

    router.get(f"{REG}/v2/_catalog").mock(side_effect=catalog)
    assert _client().send("GET", "/v2/_catalog", what="catalog").status_code == 200


def test_one_token_request_for_many_threads(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})

    def slow_token(req: httpx.Request) -> httpx.Response:
        time.sleep(0.2)
        return _token_response("shared")

    token = router.get(REALM).mock(side_effect=slow_token)
    router.get(f"{REG}/v2/team/app/tags/list").respond(200, json={"tags": []})
    client = _client()
    client.ensure_ping()
    threads = [threading.Thread(target=lambda: client.send("GET", "/v2/team/app/tags/list", what="t").close())
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert token.call_count == 1


def test_identity_token_uses_refresh_grant(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    token = router.post(REALM).respond(200, json={"access_token": "oauth-tok", "expires_in": 60})
    tags = router.get(f"{REG}/v2/team/app/tags/list").respond(200, json={"tags": []})
    _client(Credentials(identity_token="refresh-secret")).send("GET", "/v2/team/app/tags/list", what="t").close()
    form = dict(httpx.QueryParams(token.calls.last.request.content.decode()))
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "refresh-secret"
    assert tags.calls.last.request.headers["Authorization"] == "Bearer oauth-tok"


def test_registry_token_is_used_verbatim(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    token = router.get(REALM).respond(200, json={"token": "x"})
    tags = router.get(f"{REG}/v2/team/app/tags/list").respond(200, json={"tags": []})
    RegistryClient(_sys(docker_bearer_token="given-token"), "reg.example", "team/app", "pull").send(
        "GET", "/v2/team/app/tags/list", what="t").close()
    assert tags.calls.last.request.headers["Authorization"] == "Bearer given-token"
    assert not token.called


def test_retry_after_http_date_and_seconds() -> None:
    req = httpx.Request("GET", REG)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"}, request=req), 1.0) == 3.0
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < retry_after(httpx.Response(429, headers={"Retry-After": future}, request=req), 1.0) <= 31
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(httpx.Response(429, headers={"Retry-After": past}, request=req), 1.5) == 1.5
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"}, request=req), 2.0) == 2.0


def test_5xx_retries_exhausted_then_readable_error(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    route = router.get(f"{REG}/v2/team/app/tags/list").respond(503, json={"errors": [
        {"code": "UNAVAILABLE", "message": "maintenance"}]})
    client = _client(retry_times=2)
    with pytest.raises(RegistryHTTPError) as info:
        client.check(client.send("GET", "/v2/team/app/tags/list", what="listing tags"), "listing tags")
    assert info.value.status == 503 and "maintenance" in str(info.value)
    assert route.call_count == 3


@pytest.mark.parametrize(("fixed", "expected"), [(False, [0.25, 0.5, 1.0]), (True, [0.25, 0.25, 0.25])])
def test_retry_delay_doubles_unless_fixed(router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                                          fixed: bool, expected: list[float]) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    router.get(f"{REG}/v2/").respond(200)
    route = router.get(f"{REG}/v2/x").respond(503)
    client = RegistryClient(SystemContext(docker_retry_delay=0.25, docker_retry_delay_fixed=fixed, retry_times=3),
                            "reg.example", "team/app", "pull", credentials=Credentials())
    assert client.send("GET", "/v2/x", what="x").status_code == 503
    assert route.call_count == 4 and slept == expected


def test_no_retry_when_retry_times_is_zero(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    route = router.get(f"{REG}/v2/x").mock(side_effect=httpx.ConnectError("reset"))
    with pytest.raises(NetworkError):
        _client(retry_times=0).send("GET", "/v2/x", what="x")
    assert route.call_count == 1


def test_streamed_bodies_are_never_replayed(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    route = router.patch(f"{REG}/upload").respond(503)
    resp = _client().send("PATCH", f"{REG}/upload", what="upload", content=iter([b"abc"]))
    assert resp.status_code == 503 and route.call_count == 1


def test_endless_error_body_is_bounded(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)

    def huge(req: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=iter([b"x" * (1 << 20)] * 64))

    router.get(f"{REG}/v2/team/app/manifests/1").mock(side_effect=huge)
    client = _client(retry_times=0)
    with pytest.raises(RegistryHTTPError):
        client.check(client.send("GET", "/v2/team/app/manifests/1", what="m"), "m")


def test_pagination_to_another_host_stays_on_the_registry(router: respx.MockRouter) -> None:
    # As containers/image: only the Link's path and query are followed, on the registry.
    router.get(f"{REG}/v2/").respond(200)
    evil = router.get(url__startswith="https://evil.example/").respond(200, json={"tags": ["evil"]})

    def page(req: httpx.Request) -> httpx.Response:
        if req.url.params.get("last") is None:
            return httpx.Response(200, json={"tags": ["a"]},
                                  headers={"Link": '<https://evil.example/v2/team/app/tags/list?last=a>; rel="next"'})
        return httpx.Response(200, json={"tags": ["b"]})

    router.get(f"{REG}/v2/team/app/tags/list").mock(side_effect=page)
    assert list_tags(_client(), "reg.example/team/app") == ["a", "b"]
    assert not evil.called


def test_pagination_follows_relative_links(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)

    def page(req: httpx.Request) -> httpx.Response:
        last = req.url.params.get("last")
        if last is None:
            return httpx.Response(200, json={"tags": ["a", "b"]},
                                  headers={"Link": '</v2/team/app/tags/list?last=b&n=2>; rel="next"'})
        return httpx.Response(200, json={"name": "team/app", "tags": ["c"]})

    router.get(f"{REG}/v2/team/app/tags/list").mock(side_effect=page)
    assert list_tags(_client(), "reg.example/team/app") == ["a", "b", "c"]


@pytest.mark.parametrize("doc", [{"tags": "a"}, {"tags": [1]}, [1, 2]])
def test_malformed_tag_lists(router: respx.MockRouter, doc: object) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/team/app/tags/list").respond(200, content=json.dumps(doc).encode())
    if isinstance(doc, list):
        assert list_tags(_client(), "n") == []
    else:
        with pytest.raises(RegistryError, match="malformed"):
            list_tags(_client(), "n")


def test_command_deadline(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/x").respond(503)
    client = RegistryClient(SystemContext(command_timeout=0.3, docker_retry_delay=1.0, retry_times=10),
                            "reg.example", "team/app", "pull")
    start = time.monotonic()
    with pytest.raises(NetworkError, match="command-timeout"):
        client.send("GET", "/v2/x", what="x")
    assert time.monotonic() - start < 2


def test_docker_io_is_served_from_registry_1(router: respx.MockRouter) -> None:
    ping = router.get("https://registry-1.docker.io/v2/").respond(200)
    client = RegistryClient(_sys(docker_no_creds=True), "docker.io", "library/busybox", "pull")
    assert client.base_url() == "https://registry-1.docker.io"
    assert ping.called


def test_plain_http_only_without_tls_verification(router: respx.MockRouter) -> None:
    router.get("https://reg.example/v2/").mock(side_effect=httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] x"))
    http_ping = router.get("http://reg.example/v2/").respond(200)
    with pytest.raises(NetworkError):
        _client().ensure_ping()
    assert not http_ping.called
    client = _client(docker_tls_verify=False)
    assert client.base_url() == "http://reg.example"


def test_challenge_learned_after_an_open_ping(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(REALM).mock(return_value=_token_response("late-token"))

    def tags(req: httpx.Request) -> httpx.Response:
        if req.headers.get("Authorization") != "Bearer late-token":
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        return httpx.Response(200, json={"tags": ["x"]})

    router.get(f"{REG}/v2/team/app/tags/list").mock(side_effect=tags)
    assert list_tags(_client(), "reg.example/team/app") == ["x"]


def test_pagination_loop_detected(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/team/app/tags/list").respond(
        200, json={"tags": ["a"]}, headers={"Link": '</v2/team/app/tags/list?last=a>; rel="next"'})
    with pytest.raises(RegistryError, match="loops"):
        list_tags(_client(), "reg.example/team/app")


def test_upload_location_downgrade_refused(router: respx.MockRouter) -> None:
    import io

    from trustcopy.digest import Digest
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.transports.docker.destination import DockerImageDestination
    from trustcopy.types import BlobInfo

    router.get(f"{REG}/v2/").respond(200)
    router.post(f"{REG}/v2/team/app/blobs/uploads/").respond(
        202, headers={"Location": "http://reg.example/v2/team/app/blobs/uploads/u1"})
    plain = router.put(url__startswith="http://reg.example/").respond(201)
    dest = DockerImageDestination(parse_image_name("docker://reg.example/team/app:1"), _sys())  # type: ignore[arg-type]
    with pytest.raises(RegistryHTTPError, match="refusing the upload location"):
        dest.put_blob(io.BytesIO(b"data"), BlobInfo(digest=Digest.from_bytes(b"data"), size=4))
    assert not plain.called


# (NaN is not JSON to Go at all: tests/unit/docker/test_auth_goracle.py.)
@pytest.mark.parametrize("expires_in", [b"1e308", b"60.5", b'"60"', b"true", b"1" + b"0" * 30],
                         ids=["float-huge", "float", "string", "bool", "beyond-int64"])
def test_token_lifetime_that_is_not_an_int64_is_refused(router: respx.MockRouter, expires_in: bytes) -> None:
    # containers/image reads expires_in into a Go int: anything else fails the token request.
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    token = router.get(REALM).respond(200, content=b'{"token": "t", "expires_in": ' + expires_in + b"}")
    router.get(f"{REG}/v2/x").respond(200)
    with pytest.raises(RegistryAuthError, match=f"bearer token from {REALM}: .*expires_in is not an integer") as info:
        _client().send("GET", "/v2/x", what="x")
    assert info.value.code == "registry-token"
    assert token.call_count == 1


@pytest.mark.parametrize("expires_in", [b"null", b"-5", b"0", str(1 << 62).encode()])
def test_token_lifetime_null_negative_or_huge_is_kept_at_least_a_minute(router: respx.MockRouter,
                                                                        expires_in: bytes) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    token = router.get(REALM).respond(200, content=b'{"token": "t", "expires_in": ' + expires_in + b"}")
    router.get(f"{REG}/v2/x").respond(200)
    client = _client()
    for _ in range(3):
        client.send("GET", "/v2/x", what="x").close()
    assert token.call_count == 1


def test_deeply_nested_token_answer(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    router.get(REALM).respond(200, content=b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(RegistryAuthError):
        _client().send("GET", "/v2/x", what="x")


def test_deeply_nested_tag_list(router: respx.MockRouter) -> None:
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/team/app/tags/list").respond(200, content=b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(RegistryError, match="not JSON"):
        list_tags(_client(), "n")


def test_head_claiming_another_size_is_not_reuse(router: respx.MockRouter) -> None:
    from trustcopy.digest import Digest
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.transports.docker.destination import DockerImageDestination
    from trustcopy.types import BlobInfo

    router.get(f"{REG}/v2/").respond(200)
    digest = Digest.from_bytes(b"0123456789")
    router.head(f"{REG}/v2/team/app/blobs/{digest}").respond(200, headers={"Content-Length": "5"})
    dest = DockerImageDestination(parse_image_name("docker://reg.example/team/app:1"), _sys())  # type: ignore[arg-type]
    assert dest.try_reusing_blob(BlobInfo(digest=digest, size=10)) is None
    reused = dest.try_reusing_blob(BlobInfo(digest=digest))
    assert reused is not None and reused.size == 5


@pytest.mark.parametrize(("user", "password", "basic"), [("alice", PASSWORD, True), ("alice", "", False),
                                                          ("", PASSWORD, False)])
def test_token_request_sends_basic_only_with_both_username_and_password(
        router: respx.MockRouter, user: str, password: str, basic: bool) -> None:
    """As containers/image (getBearerToken): Basic to the token server only when both are set;
    ``account`` whenever there is a username."""
    router.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": BEARER})
    token = router.get(REALM).respond(200, json={"token": "t", "expires_in": 60})
    router.get(f"{REG}/v2/team/app/tags/list").respond(200, json={"tags": []})
    _client(Credentials(user, password)).send("GET", "/v2/team/app/tags/list", what="t").close()
    sent = token.calls.last.request
    assert ("authorization" in sent.headers) is basic
    if basic:
        assert sent.headers["authorization"] == _basic(user, password)
    assert sent.url.params.get("account") == (user or None)
