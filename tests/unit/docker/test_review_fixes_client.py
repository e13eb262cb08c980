"""Review findings in the registry client, each pinned by the test that showed it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from trustcopy.errors import ConfigError, RegistryError
from trustcopy.transports.docker import authfile
from trustcopy.transports.docker.auth import Credentials
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.transports.docker.source import list_tags
from trustcopy.types import SystemContext

REG = "https://reg.example"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as r:
        yield r


def _client() -> RegistryClient:
    return RegistryClient(SystemContext(docker_retry_delay=0.01), "reg.example", "team/app", "pull",
                          credentials=Credentials("alice", "pw"))


@pytest.mark.parametrize("link", [
    "x:https://evil.example/v2/team/app/tags/list?last=a",
    "http:evil.example/v2/team/app/tags/list",
])
def test_an_opaque_link_never_sends_a_request_elsewhere(router: respx.MockRouter, link: str) -> None:
    # An opaque URL's "path" was the whole absolute URL of another origin, and was sent as it stood.
    router.get(f"{REG}/v2/").respond(200)
    router.get(f"{REG}/v2/team/app/tags/list").respond(
        200, json={"tags": ["a"]}, headers={"Link": f'<{link}>; rel="next"'})
    evil = router.route(host="evil.example").respond(200, json={"tags": ["b"]})
    with pytest.raises(RegistryError, match="Link header names an invalid URL"):
        list_tags(_client(), "reg.example/team/app")
    assert not evil.called


@pytest.mark.parametrize("compat", [False, True])
def test_a_number_beyond_a_double_in_the_auth_file_is_a_named_error(tmp_path: Path, compat: bool) -> None:
    # Another tool's field holding 1e400 decodes as infinity; writing the file back raised a
    # bare ValueError (a traceback from login/logout). The file is left as it was.
    path = tmp_path / "auth.json"
    original = b'{"auths":{"x.io":{"auth":"eDp5"}},"other":1e400}'
    path.write_bytes(original)
    sys = SystemContext(docker_compat_auth_file=str(path)) if compat else SystemContext(auth_file=str(path))
    with pytest.raises(ConfigError, match="number too large") as info:
        authfile.remove_credentials(sys, "x.io")
    assert str(path) in info.value.message
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["auth.json"]


@pytest.mark.parametrize("never_sent", [httpx.ConnectTimeout("connect timed out"), httpx.PoolTimeout("no connection"),
                                        httpx.ConnectError("refused")], ids=type)
def test_a_resend_after_a_request_that_never_went_out_is_not_marked_as_lost(
        router: respx.MockRouter, never_sent: Exception) -> None:
    # A DELETE answered 404 after such a resend must stay "not found" (source.delete_image reads
    # a 404 as "deleted" only when an earlier attempt may have reached the registry).
    from trustcopy.transports.docker.client import RESENT_AFTER_LOSS

    router.get(f"{REG}/v2/").respond(200)
    router.delete(f"{REG}/v2/team/app/manifests/sha256:{'a' * 64}").mock(
        side_effect=[never_sent, httpx.Response(404)])
    response = _client().send("DELETE", f"/v2/team/app/manifests/sha256:{'a' * 64}", what="deleting")
    assert response.status_code == 404
    assert not response.extensions.get(RESENT_AFTER_LOSS)


def test_a_resend_after_a_read_failure_is_marked_as_lost(router: respx.MockRouter) -> None:
    from trustcopy.transports.docker.client import RESENT_AFTER_LOSS

    router.get(f"{REG}/v2/").respond(200)
    router.delete(f"{REG}/v2/team/app/manifests/sha256:{'a' * 64}").mock(
        side_effect=[httpx.ReadError("connection reset"), httpx.Response(404)])
    response = _client().send("DELETE", f"/v2/team/app/manifests/sha256:{'a' * 64}", what="deleting")
    assert response.extensions.get(RESENT_AFTER_LOSS)


def test_a_failed_ping_names_the_request_that_needed_it(router: respx.MockRouter) -> None:
    # It named only the registry: "pinging container registry reg.example: …", whatever image was asked for.
    router.get(f"{REG}/v2/").respond(503, text="down")
    client = RegistryClient(SystemContext(docker_retry_delay=0.01, retry_times=0), "reg.example", "team/app",
                            "pull", credentials=Credentials("alice", "pw"))
    with pytest.raises(RegistryError) as info:
        client.send("GET", "/v2/team/app/manifests/1", what="reading manifest 1 in reg.example/team/app")
    assert info.value.message.startswith(
        "reading manifest 1 in reg.example/team/app: pinging container registry reg.example: ")
    with pytest.raises(RegistryError) as again:  # login's own request to /v2/ is the ping: named once
        client.send("GET", "/v2/", what="authenticating to reg.example")
    assert again.value.message.startswith("pinging container registry reg.example: ")
