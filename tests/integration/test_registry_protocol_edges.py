"""Registry HTTP API V2 edge cases that real registries and the proxies in front of them produce.

Each test drives the CLI against Debian's docker-registry (registry_fixtures.py), with its token
issuer where tokens matter, and a scripted or fault-injecting proxy for what a real registry never
does by itself (a redirect to a blob store whose signed URL expired, a 404 after a 200):

- a bearer token the registry stops accepting in the middle of a copy (it expired early by the
  registry's clock, or was revoked) is replaced, also when it was refused on a streamed upload,
  which the client cannot send again; a registry refusing every new token ends bounded;
- a 401 from a redirect target (another origin) is never taken for the registry's: its
  challenge never gets our credentials, and the error names the target, not our credentials;
- a cross-repository mount the token server does not grant (no pull on the source
  repository) ends in a plain upload;
- manifest PUT answers that vary across registries (202, no or another Docker-Content-Digest);
- a blob that HEAD says exists but GET does not find fails naming the blob, without looping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import make_image, random_layer, write_oci
from registry_fixtures import (
    USERS,
    Fault,
    FaultProxy,
    RegistryServer,
    TokenRegistry,
    docker_ref,
    fast_sys,
    pull_blob,
    push_image,
    running,
)
from scripted_proxy import Answer, ScriptedProxy, Seen

pytestmark = pytest.mark.registry

ALICE = f"alice:{USERS['alice']}"
BOB = f"bob:{USERS['bob']}"
SECRET_FORMS = (USERS["alice"], USERS["bob"], "YWxpY2U6", "Ym9iOm", "Bearer ey")


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRET_FORMS:
            assert secret not in text, f"{secret[:6]}… leaked"


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error[")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def image_layout(tmp_path: Path) -> tuple[Any, str]:
    """An image with one 3 MiB layer (streamed, not monolithic) in an OCI layout."""
    image = make_image([random_layer(3 << 20, 71)])
    write_oci({"t": image}, f"{tmp_path}/src")
    return image, f"oci:{tmp_path}/src:t"


def _push(run_cli: Callable[..., Any], policy: Path, source: str, dest: str, *flags: str) -> Any:
    return run_cli("--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", "--retry-delay", "10ms",
                   *flags, source, dest)


def _first(pred: Callable[[str, str], bool], fault: Fault) -> Callable[[str, str, dict[str, str]], Fault | None]:
    """A FaultProxy rule applying ``fault`` to the first request matching ``pred`` only."""
    used: list[bool] = []

    def rule(method: str, path: str, headers: dict[str, str]) -> Fault | None:
        if not used and pred(method, path):
            used.append(True)
            return fault
        return None
    return rule


# -- 1. a bearer token expiring in the middle of a copy ---------------------------------------------------------

#: The registry accepts each token this long; the token server says 300 s (the client's clock
#: cannot know). Requests held longer than this by the proxy reach the registry expired.
VALIDITY = 2.0
HELD = 3.0


@pytest.fixture
def expiring(token_registry: TokenRegistry) -> Iterator[tuple[TokenRegistry, FaultProxy]]:
    """The token registry with short-lived tokens, behind a FaultProxy (``.rule`` holds requests)."""
    token_registry.issuer.registry_validity = VALIDITY
    with running(FaultProxy(token_registry.registry.port)) as proxy:
        yield token_registry, proxy


@pytest.mark.parametrize("held", ["blob-patch", "manifest-put"])
def test_a_token_expiring_mid_copy_is_replaced_and_the_copy_completes(
        run_cli: Any, expiring: tuple[TokenRegistry, FaultProxy], image_layout: tuple[Any, str],
        insecure_policy: Path, held: str) -> None:
    """The streamed PATCH cannot be sent again: its 401 drops the token and the blob is copied again
    (before the fix the copy failed "authentication required", telling the user to check valid
    credentials); the manifest PUT is bytes: the client fetches a new token and sends it again."""
    registry, proxy = expiring
    image, source = image_layout
    if held == "blob-patch":
        proxy.rule = _first(lambda m, p: m == "PATCH", Fault(delay=HELD))
    else:
        proxy.rule = _first(lambda m, p: m == "PUT" and "/manifests/" in p, Fault(delay=HELD))
    before = registry.issuer.issued_tokens()
    r = _push(run_cli, insecure_policy, source, f"docker://{proxy.host}/app:1", f"--dest-creds={ALICE}")
    assert r.exit_code == 0, r.stderr
    _no_secret(r.stdout, r.stderr)
    assert registry.issuer.issued_tokens() - before == 2  # the first token, and one to replace it
    if held == "blob-patch":
        assert proxy.count("PATCH", "/blobs/uploads/") == 2
    else:
        assert proxy.count("PUT", "/manifests/1") == 2
    digest, data = max(image.blobs.items(), key=lambda kv: len(kv[1]))  # the layer
    with docker_ref(registry.host, "app:1").new_image_source(fast_sys(docker_username="alice",
                                                                      docker_password=USERS["alice"])) as src:
        assert src.get_manifest()[0] == image.manifest
        assert pull_blob(src, digest, len(data)) == data


def test_a_registry_refusing_every_new_token_mid_upload_ends_bounded(
        run_cli: Any, expiring: tuple[TokenRegistry, FaultProxy], image_layout: tuple[Any, str],
        insecure_policy: Path) -> None:
    """Every PATCH arrives with an expired token: the blob is copied again --retry-times times,
    each with a new token, then the copy fails naming the blob; nothing is tagged."""
    _, proxy = expiring
    _, source = image_layout
    proxy.rule = lambda m, p, h: Fault(delay=HELD) if m == "PATCH" else None
    start = time.monotonic()
    r = _push(run_cli, insecure_policy, source, f"docker://{proxy.host}/app:1", f"--dest-creds={ALICE}",
              "--retry-times", "1")
    assert r.exit_code == 1
    line = _one_error_line(r.stderr)
    assert line.startswith("error[registry-auth]: uploading blob sha256:") and "/app" in line
    assert "expired or revoked" in r.stderr  # the hint says why, not "check the credentials"
    assert proxy.count("PATCH", "/blobs/uploads/") == 2  # the first try and one more
    assert proxy.count("PUT", "/manifests/") == 0
    assert time.monotonic() - start < 3 * HELD + 5
    _no_secret(r.stdout, r.stderr)


def test_a_registry_refusing_every_token_at_once_fails_without_looping(
        run_cli: Any, token_registry: TokenRegistry, image_layout: tuple[Any, str], insecure_policy: Path) -> None:
    """Tokens that are expired when issued: each request fetches one new token once, then fails."""
    token_registry.issuer.registry_validity = -5.0
    _, source = image_layout
    r = _push(run_cli, insecure_policy, source, f"docker://{token_registry.host}/app:1", f"--dest-creds={ALICE}")
    assert r.exit_code == 1
    assert _one_error_line(r.stderr).startswith("error[registry-auth]: ")
    assert token_registry.issuer.issued_tokens() <= 4
    _no_secret(r.stdout, r.stderr)


# -- 2. a 401 from a redirect target (an expired signed URL) --------------------------------------------------


class _Redirecting:
    """A registry whose blob GETs redirect to a "blob store" on another origin that answers 401
    with a Bearer challenge naming a third server as its token realm."""

    def __init__(self, registry: RegistryServer) -> None:
        self.realm = ScriptedProxy(None, answer=lambda s: Answer(200, {"Content-Type": "application/json"},
                                                                 b'{"token":"store-token"}')).start()
        challenge = f'Bearer realm="http://{self.realm.host}/token",service="store"'
        self.store = ScriptedProxy(None, answer=lambda s: Answer(
            401, {"WWW-Authenticate": challenge, "Content-Type": "text/plain"}, b"signature expired")).start()
        self.front = ScriptedProxy(registry.port, answer=self._script).start()

    def _script(self, seen: Seen) -> Answer | None:
        if seen.method == "GET" and "/blobs/sha256:" in seen.path:
            return Answer(307, {"Location": f"http://{self.store.host}/signed{seen.path}?X-Signature=abc"})
        return None

    def stop(self) -> None:
        for server in (self.front, self.store, self.realm):
            server.stop()


@pytest.fixture
def redirecting(plain_registry: RegistryServer) -> Iterator[_Redirecting]:
    """See _Redirecting; the registry holds app:1."""
    push_image(plain_registry.host, "app:1", make_image([random_layer(4096, 72)]), fast_sys())
    servers = _Redirecting(plain_registry)
    try:
        yield servers
    finally:
        servers.stop()


def test_a_401_from_a_redirect_target_never_sends_credentials_to_its_realm(
        run_cli: Any, redirecting: _Redirecting, tmp_path: Path, insecure_policy: Path) -> None:
    """Before the fix, the open registry's client adopted the blob store's challenge as the
    registry's own and sent alice's Basic credentials to the realm the store named."""
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms",
                f"--src-creds={ALICE}", f"docker://{redirecting.front.host}/app:1", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert redirecting.realm.requests() == []  # no token request, so no credential, reached the store's realm
    for seen in redirecting.store.requests():
        assert "authorization" not in seen.headers
    for seen in redirecting.front.requests("/blobs/"):  # nor did the store's token reach the registry
        assert "store-token" not in seen.headers.get("authorization", "")
    line = _one_error_line(r.stderr)
    assert line.startswith("error[registry-auth]: ") and "reading blob sha256:" in line
    # The error names the target that refused (its signature query left out), not our credentials.
    assert f"answered by http://{redirecting.store.host}/signed/v2/app/blobs/sha256:" in line
    assert "X-Signature" not in r.stderr and "check the credentials" not in r.stderr
    _no_secret(r.stdout, r.stderr)


def test_a_401_from_a_redirect_target_asks_the_registry_once_more(
        run_cli: Any, redirecting: _Redirecting, tmp_path: Path, insecure_policy: Path) -> None:
    """An expired signed URL: the registry is asked again (it may sign a new one), once per request."""
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms",
                f"docker://{redirecting.front.host}/app:1", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    gets = redirecting.front.requests("/blobs/sha256:")
    per_blob: dict[str, int] = {}
    for seen in gets:
        per_blob[seen.path] = per_blob.get(seen.path, 0) + 1
    assert per_blob and all(n == 2 for n in per_blob.values()), per_blob
    assert len(redirecting.store.requests()) == len(gets)


# -- 3. a mount whose source repository the token server does not grant ---------------------------------------


def test_a_mount_refused_by_the_token_server_ends_in_a_plain_upload(
        run_cli: Any, token_registry: TokenRegistry, insecure_policy: Path) -> None:
    """bob may read team/src; alice may push to team/dst but gets nothing on team/src: the mount
    POST is refused (401 insufficient_scope), the blob is uploaded instead, the copy succeeds."""
    image = make_image([random_layer(2 << 20, 73)])
    push_image(token_registry.host, "team/src:1", image, fast_sys(docker_username="bob",
                                                                  docker_password=USERS["bob"]))
    token_registry.issuer.refused.add(("alice", "team/src"))
    with running(FaultProxy(token_registry.registry.port)) as proxy:
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false",
                    "--dest-tls-verify=false", "--retry-delay", "10ms", f"--src-creds={BOB}", f"--dest-creds={ALICE}",
                    f"docker://{proxy.host}/team/src:1", f"docker://{proxy.host}/team/dst:1")
        assert r.exit_code == 0, r.stderr
        mounts = [p for m, p, _ in proxy.seen if m == "POST" and "mount=" in p]
        assert mounts  # the mount was tried (the copy saw the blobs in team/src) ...
        uploads = [p for m, p, _ in proxy.seen if m == "POST" and p.startswith("/v2/team/dst/blobs/uploads/")
                   and "mount=" not in p]
        assert uploads  # ... and refused, so they were uploaded
    asked = [sorted(req.scopes) for req in token_registry.issuer.requests if req.authenticated_user == "alice"]
    assert ["repository:team/dst:pull,push", "repository:team/src:pull"] in asked
    with docker_ref(token_registry.host, "team/dst:1").new_image_source(
            fast_sys(docker_username="alice", docker_password=USERS["alice"])) as src:
        assert src.get_manifest()[0] == image.manifest
        for digest, data in image.blobs.items():
            assert pull_blob(src, digest, len(data)) == data
    _no_secret(r.stdout, r.stderr)


# -- 5. manifest PUT answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [
    Fault(headers={"Docker-Content-Digest": "sha256:" + "0" * 64}),
    Fault(headers={"Location": "/v2/elsewhere/manifests/sha256:" + "1" * 64}),
], ids=["another-digest", "odd-location"])
def test_manifest_put_answers_that_vary_across_registries(
        run_cli: Any, fault_proxy: FaultProxy, plain_registry: RegistryServer, image_layout: tuple[Any, str],
        insecure_policy: Path, fault: Fault, caplog: pytest.LogCaptureFixture) -> None:
    """As containers/image (which reads neither): the PUT succeeded whatever the answer's
    Docker-Content-Digest or Location say; another digest is worth a warning, nothing more."""
    image, source = image_layout
    fault_proxy.rule = lambda m, p, h: fault if m == "PUT" and "/manifests/" in p else None
    with caplog.at_level(logging.WARNING, logger="trustcopy.docker"):
        r = _push(run_cli, insecure_policy, source, f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    warned = [rec.getMessage() for rec in caplog.records if "reports digest" in rec.getMessage()]
    assert len(warned) == ("Docker-Content-Digest" in fault.headers)
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


@pytest.mark.parametrize("status", [200, 202, 204])
def test_manifest_put_accepted_with_another_success_status(
        run_cli: Any, plain_registry: RegistryServer, image_layout: tuple[Any, str], insecure_policy: Path,
        status: int) -> None:
    """A registry (or proxy) answering 200/202/204 instead of 201, without Docker-Content-Digest."""
    _, source = image_layout

    def script(seen: Seen) -> Answer | None:
        if seen.method == "PUT" and "/manifests/" in seen.path:
            return Answer(status)
        return None

    with running(ScriptedProxy(plain_registry.port, answer=script)) as proxy:
        r = _push(run_cli, insecure_policy, source, f"docker://{proxy.host}/app:1")
        assert r.exit_code == 0, r.stderr
        assert len(proxy.requests("/manifests/1")) >= 1


# -- 6. HEAD says the blob is there, GET does not find it (eventual consistency) ----------------------------------


def test_a_blob_found_by_head_but_not_by_get_fails_naming_it_without_looping(
        run_cli: Any, plain_registry: RegistryServer, tmp_path: Path, insecure_policy: Path) -> None:
    image = make_image([random_layer(4096, 74)])
    push_image(plain_registry.host, "app:1", image, fast_sys())
    layer = max(image.blobs.items(), key=lambda kv: len(kv[1]))[0]

    def script(seen: Seen) -> Answer | None:
        if seen.method == "GET" and seen.path == f"/v2/app/blobs/{layer}":
            return Answer(404, {"Content-Type": "application/json"},
                          b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}')
        return None

    with running(ScriptedProxy(plain_registry.port, answer=script)) as proxy:
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--retry-delay", "10ms",
                    f"docker://{proxy.host}/app:1", f"dir:{tmp_path}/out")
        assert r.exit_code == 1
        line = _one_error_line(r.stderr)
        assert line.startswith("error[image-not-found]: ") and layer in line
        assert len([s for s in proxy.requests(layer) if s.method == "GET"]) == 1
    assert not (tmp_path / "out").exists()
