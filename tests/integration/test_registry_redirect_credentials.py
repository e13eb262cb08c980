"""Credentials go to the registry's origin only: a redirect elsewhere gets no Authorization.

A registry may redirect a blob ``GET`` to a blob store. "Elsewhere" is anything whose
scheme, host *or* port differs from the registry's (RFC 6454 origin): each of the three
gets its own test, for Basic credentials (htpasswd) and for a Bearer token (token auth),
so that a check ignoring any one of them fails here. A redirect to the same origin is
signed (the control: it shows this test would see credentials if they were sent).

The registry (real docker-registry) sits behind a ScriptedProxy that speaks HTTP and
HTTPS on one port; ``--src-tls-verify=false`` makes the client ping HTTPS first, so the
registry's origin is ``https://127.0.0.1:PORT``. The proxy answers blob GETs with 307 to
a blob store (the proxy itself, or a second one on another port) that serves the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, example_image
from registry_fixtures import USERS, TLSMaterial, fast_sys, make_tls_material, push_image, running
from scripted_proxy import Answer, ScriptedProxy, Seen

pytestmark = pytest.mark.registry

REPO = "team/app"


def _blob_store(image: Image) -> Callable[[Seen], Answer | None]:
    """Serve ``/blobstore/DIGEST`` from the image's blobs."""

    def answer(seen: Seen) -> Answer | None:
        if seen.method in ("GET", "HEAD") and seen.path.startswith("/blobstore/"):
            digest = seen.path.removeprefix("/blobstore/").split("?", 1)[0]
            if digest in image.blobs:
                return Answer(200, {"Content-Type": "application/octet-stream"}, image.blobs[digest])
            return Answer(404)
        return None

    return answer


@dataclass
class Redirected:
    """What one copy through a redirecting registry showed."""

    registry: list[Seen]  # requests that reached the registry origin (manifests, pings)
    store: list[Seen]  # blob requests at the redirect target
    exit_code: int
    stderr: str


@pytest.fixture(params=["basic", "bearer"])
def auth_registry(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """(scheme, registry) for htpasswd (Basic) and token (Bearer) auth."""
    if request.param == "basic":
        reg = request.getfixturevalue("htpasswd_registry")
        yield "basic", reg
    else:
        yield "bearer", request.getfixturevalue("token_registry").registry


@pytest.fixture
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    """A certificate for 127.0.0.1 and localhost (the client does not verify it here)."""
    return make_tls_material(tmp_path_factory.mktemp("redirect-tls"))


def _copy_through_redirect(run_cli: Callable[..., Any], registry: Any, tls: TLSMaterial, tmp_path: Path,
                           insecure_policy: Path, target: str) -> Redirected:
    """Push an image, then pull it through a proxy redirecting blob GETs to ``target``."""
    image = example_image()
    push_image(registry.host, f"{REPO}:1", image,
               fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    store_answer = _blob_store(image)
    other_port = ScriptedProxy(None, tls=tls, answer=store_answer)
    holder: dict[str, ScriptedProxy] = {}

    def registry_answer(seen: Seen) -> Answer | None:
        if seen.method == "GET" and seen.path.startswith(f"/v2/{REPO}/blobs/"):
            digest = seen.path.rsplit("/", 1)[1]
            base = target.format(proxy=holder["proxy"].port, store=other_port.port)
            return Answer(307, {"Location": f"{base}/blobstore/{digest}"})
        return store_answer(seen)

    with running(other_port), running(ScriptedProxy(registry.port, tls=tls, answer=registry_answer)) as proxy:
        holder["proxy"] = proxy
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false",
                    "--src-creds", f"alice:{USERS['alice']}", f"docker://{proxy.host}/{REPO}:1",
                    f"dir:{tmp_path}/out")
        store = proxy.requests("/blobstore/") + other_port.requests("/blobstore/")
        registry_seen = [s for s in proxy.requests("/v2/") if s.scheme == "https"]
    if r.exit_code == 0:
        for digest, data in image.blobs.items():
            assert (tmp_path / "out" / digest.split(":")[1]).read_bytes() == data
        assert json.loads((tmp_path / "out" / "manifest.json").read_bytes()) == json.loads(image.manifest)
    return Redirected(registry_seen, store, r.exit_code, r.stderr)


def _assert_registry_got_credentials(result: Redirected, scheme: str) -> None:
    """The registry origin itself was sent the credentials (so they were there to leak)."""
    manifests = [s for s in result.registry if "/manifests/" in s.path]
    assert manifests, "the copy never asked the registry origin for the manifest"
    assert all(s.headers.get("authorization", "").lower().startswith(scheme) for s in manifests), \
        [s.headers.get("authorization", "")[:10] for s in manifests]


#: How the redirect target differs from the registry origin https://127.0.0.1:PROXY.
ELSEWHERE = {
    "other-port": "https://127.0.0.1:{store}",
    "other-scheme": "http://127.0.0.1:{proxy}",
    "other-host": "https://localhost:{proxy}",
}


@pytest.mark.parametrize("target", list(ELSEWHERE.values()), ids=list(ELSEWHERE))
def test_redirect_to_another_origin_gets_no_credentials(run_cli, auth_registry: tuple[str, Any],  # type: ignore[no-untyped-def]
                                                        tls: TLSMaterial, tmp_path: Path, insecure_policy: Path,
                                                        target: str) -> None:
    scheme, registry = auth_registry
    result = _copy_through_redirect(run_cli, registry, tls, tmp_path, insecure_policy, target)
    assert result.exit_code == 0, result.stderr
    _assert_registry_got_credentials(result, scheme)
    # Every blob (the config and two layers) was fetched from the redirect target ...
    assert len({s.path for s in result.store}) == 3, [s.path for s in result.store]
    expected_scheme = target.split(":", 1)[0]
    assert {s.scheme for s in result.store} == {expected_scheme}
    if "localhost" in target:
        assert all(s.headers["host"].startswith("localhost:") for s in result.store)
    # ... and none of those requests carried anything of the credentials.
    for seen in result.store:
        assert "authorization" not in seen.headers, (seen.path, seen.headers["authorization"][:10])
        for value in seen.headers.values():
            assert USERS["alice"] not in value
            assert not value.lower().startswith(("basic ", "bearer "))


def test_redirect_to_the_same_origin_is_signed(run_cli, auth_registry: tuple[str, Any],  # type: ignore[no-untyped-def]
                                               tls: TLSMaterial, tmp_path: Path, insecure_policy: Path) -> None:
    """The control: the same redirect, to the registry's own origin, carries the credentials."""
    scheme, registry = auth_registry
    result = _copy_through_redirect(run_cli, registry, tls, tmp_path, insecure_policy, "https://127.0.0.1:{proxy}")
    assert result.exit_code == 0, result.stderr
    _assert_registry_got_credentials(result, scheme)
    assert len({s.path for s in result.store}) == 3
    assert all(s.scheme == "https" for s in result.store)
    assert all(s.headers.get("authorization", "").lower().startswith(scheme) for s in result.store)
