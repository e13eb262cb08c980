"""Basic and token auth against real registries; login/logout; credentials never printed."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from imagefactory import example_image, make_image, random_layer
from registry_fixtures import USERS, RegistryServer, TokenRegistry, docker_ref, fast_sys, pull_blob, push_image

from trustcopy.errors import RegistryAuthError
from trustcopy.transports.docker.session import RegistrySession

pytestmark = pytest.mark.registry

ALICE = ("alice", USERS["alice"])


def _no_secrets(*texts: str) -> None:
    for text in texts:
        for password in USERS.values():
            assert password not in text
        assert "Bearer ey" not in text  # a JWT never appears
        assert "YWxpY2U6" not in text  # base64 of "alice:"


@pytest.fixture
def authfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated auth file (REGISTRY_AUTH_FILE) and HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    path = tmp_path / "auth" / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    return path


def test_htpasswd_push_and_pull(htpasswd_registry: RegistryServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    image = example_image()
    user, password = ALICE
    push_image(htpasswd_registry.host, "team/app:1", image, fast_sys(docker_username=user, docker_password=password))
    with docker_ref(htpasswd_registry.host, "team/app:1").new_image_source(
            fast_sys(docker_username=user, docker_password=password)) as src:
        assert src.get_manifest()[0] == image.manifest
    _no_secrets(caplog.text)


def test_htpasswd_wrong_password(htpasswd_registry: RegistryServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sys_ctx = fast_sys(docker_username="alice", docker_password="wrong-" + USERS["bob"])
    with docker_ref(htpasswd_registry.host, "team/app:1").new_image_source(sys_ctx) as src, \
            pytest.raises(RegistryAuthError) as info:
        src.get_manifest()
    assert info.value.code == "registry-auth"
    _no_secrets(str(info.value), repr(info.value.context), str(info.value.hint), caplog.text)


def test_htpasswd_anonymous_is_refused(htpasswd_registry: RegistryServer) -> None:
    with docker_ref(htpasswd_registry.host, "team/app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(RegistryAuthError):
        src.get_manifest()


def test_token_flow_with_scopes_and_caching(token_registry: TokenRegistry,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    image = make_image([random_layer(2 << 20, 11)])
    user, password = ALICE
    push_image(token_registry.host, "team/app:1", image, fast_sys(docker_username=user, docker_password=password))
    pushes = [r for r in token_registry.issuer.requests if r.authenticated_user == "alice"]
    assert pushes and all(r.scopes == ["repository:team/app:pull,push"] for r in pushes)
    assert all(r.account == "alice" and r.service == "trustcopy-test-registry" for r in pushes)
    assert len(pushes) == 1  # one token, cached for the whole push
    # Anonymous pull: a token without credentials.
    before = token_registry.issuer.issued_tokens()
    with docker_ref(token_registry.host, "team/app:1").new_image_source(fast_sys()) as src:
        raw, _ = src.get_manifest()
        for digest, data in image.blobs.items():
            assert pull_blob(src, digest, len(data)) == data
    anonymous = token_registry.issuer.requests[before:]
    assert len(anonymous) == 1 and anonymous[0].authenticated_user is None and not anonymous[0].had_authorization
    assert anonymous[0].scopes == ["repository:team/app:pull"]
    assert raw == image.manifest
    _no_secrets(caplog.text)


def test_anonymous_push_is_denied(token_registry: TokenRegistry) -> None:
    with pytest.raises(RegistryAuthError):
        push_image(token_registry.host, "team/app:1", example_image(), fast_sys())


def test_rejected_token_is_refreshed(token_registry: TokenRegistry) -> None:
    user, password = ALICE
    push_image(token_registry.host, "app:1", example_image(), fast_sys(docker_username=user,
                                                                       docker_password=password))
    token_registry.issuer.bad_tokens = 1  # the registry will refuse the next token
    before = token_registry.issuer.issued_tokens()
    with docker_ref(token_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == example_image().manifest
    assert token_registry.issuer.issued_tokens() - before == 2


def test_mount_asks_for_the_source_scope(token_registry: TokenRegistry) -> None:
    user, password = ALICE
    creds = fast_sys(docker_username=user, docker_password=password, registry_session=RegistrySession())
    image = make_image([random_layer(1 << 20, 5)])
    push_image(token_registry.host, "src/app:1", image, creds)
    with docker_ref(token_registry.host, "src/app:1").new_image_source(creds) as src:
        src.get_manifest()
    before = len(token_registry.issuer.requests)
    push_image(token_registry.host, "dst/app:1", image, creds)
    scopes = [sorted(r.scopes) for r in token_registry.issuer.requests[before:]]
    assert ["repository:dst/app:pull,push", "repository:src/app:pull"] in scopes


def test_identity_token_from_auth_file(token_registry: TokenRegistry, authfile: Path) -> None:
    token_registry.issuer.refresh_tokens["refresh-abc"] = "alice"
    authfile.parent.mkdir(parents=True)
    # As Docker writes it: "auth" holds "user:" (an entry without it is ignored, as by containers/image).
    authfile.write_text(json.dumps({"auths": {token_registry.host: {"auth": base64.b64encode(b"alice:").decode(),
                                                                    "identitytoken": "refresh-abc"}}}))
    push_image(token_registry.host, "app:1", example_image(), fast_sys())
    assert token_registry.issuer.requests[-1].grant_type == "refresh_token"


def test_cli_login_verifies_then_writes_0600(run_cli, htpasswd_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                             authfile: Path) -> None:
    host = htpasswd_registry.host
    r = run_cli("login", "--tls-verify=false", "-u", "alice", "-p", "wrong", host)
    assert r.exit_code == 1 and "invalid username/password" in r.stderr
    assert not authfile.exists()
    r = run_cli("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"], host)
    assert r.exit_code == 0 and r.stdout == "Login Succeeded!\n"
    assert stat.S_IMODE(os.stat(authfile).st_mode) == 0o600
    assert host in json.loads(authfile.read_text())["auths"]
    r = run_cli("login", "--get-login", host)
    assert (r.exit_code, r.stdout) == (0, "alice\n")
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{host}/none")
    assert "registry-auth" not in r.stderr  # authenticated from the auth file: only "name unknown"
    r = run_cli("logout", host)
    assert (r.exit_code, r.stdout) == (0, f"Removed login credentials for {host}\n")
    r = run_cli("logout", host)
    assert r.exit_code == 1 and f"not logged into {host}" in r.stderr
    r = run_cli("logout", "--all")
    assert (r.exit_code, r.stdout) == (0, "Removed login credentials for all registries\n")
    _no_secrets(r.stdout, r.stderr)


def test_cli_login_makes_every_missing_directory_private(run_cli, htpasswd_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    """skopeo's os.MkdirAll(dir, 0700): the parents it creates are 0700 too, not only the last (session 29)."""
    target = tmp_path / "new" / "sub" / "auth.json"
    existing = stat.S_IMODE(os.stat(tmp_path).st_mode)
    r = run_cli("login", "--tls-verify=false", "--authfile", str(target), "-u", "alice", "-p", USERS["alice"],
                htpasswd_registry.host)
    assert r.exit_code == 0, r.stderr
    assert [stat.S_IMODE(os.stat(d).st_mode) for d in (tmp_path / "new", tmp_path / "new" / "sub")] == [0o700, 0o700]
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == existing  # an existing parent is left as it was
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_cli_login_password_stdin(run_cli, token_registry: TokenRegistry, authfile: Path,  # type: ignore[no-untyped-def]
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(USERS["bob"] + "\n"))
    r = run_cli("login", "--tls-verify=false", "-u", "bob", "--password-stdin", f"{token_registry.host}/team")
    assert r.exit_code == 0, r.stderr
    assert f"{token_registry.host}/team" in json.loads(authfile.read_text())["auths"]


@pytest.mark.parametrize("use_debug", [False, True])
def test_cli_never_prints_credentials(run_cli, token_registry: TokenRegistry, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      caplog: pytest.LogCaptureFixture, use_debug: bool) -> None:
    caplog.set_level(logging.DEBUG)
    push_image(token_registry.host, "team/app:1", example_image(),
               fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    debug = ["--debug"] if use_debug else []
    ref = f"docker://{token_registry.host}/team/app"
    good = run_cli(*debug, "list-tags", "--tls-verify=false", "--creds", f"alice:{USERS['alice']}", ref)
    assert good.exit_code == 0, good.stderr
    assert json.loads(good.stdout)["Tags"] == ["1"]
    _no_secrets(good.stdout, good.stderr)
    wrong = (*debug, "list-tags", "--tls-verify=false", "--creds", f"alice:{USERS['bob']}", ref)
    if use_debug:  # --debug re-raises the error (for its traceback) instead of printing one line
        with pytest.raises(RegistryAuthError) as info:
            run_cli(*wrong)
        assert info.value.code == "registry-auth"
        _no_secrets(str(info.value), repr(info.value.context), str(info.getrepr()))
    else:
        bad = run_cli(*wrong)
        assert bad.exit_code == 1
        assert "error[registry-auth]" in bad.stderr
        _no_secrets(bad.stdout, bad.stderr)
    assert any(r.authenticated_user == "alice" for r in token_registry.issuer.requests)  # the good login was real
    _no_secrets(caplog.text)
