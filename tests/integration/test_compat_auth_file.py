"""``login``/``logout --compat-auth-file`` and ``$DOCKER_CONFIG`` (newer skopeo): Docker's file stays Docker's."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from registry_fixtures import USERS, RegistryServer

from trustcopy.errors import ConfigError
from trustcopy.transports.docker import authfile
from trustcopy.types import SystemContext

USER, PASSWORD = "alice", USERS["alice"]


def _login(run_cli: Any, host: str, *flags: str) -> Any:
    return run_cli("login", "--tls-verify=false", "-u", USER, "-p", PASSWORD, *flags, host)


@pytest.mark.registry
def test_login_and_logout_keep_dockers_other_fields(run_cli: Any, htpasswd_registry: RegistryServer,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    docker_fields = {"credsStore": "desktop", "experimental": "enabled", "proxies": {"default": {"httpProxy": "x"}},
                     "auths": {"other.example.com": {"auth": base64.b64encode(b"u:p").decode()}}}
    config.write_text(json.dumps(docker_fields))
    host = htpasswd_registry.host
    r = _login(run_cli, host, "--compat-auth-file", str(config), "-v")
    assert r.exit_code == 0, r.stderr
    assert f"Used:  {config}\n" in r.stdout  # two spaces, as skopeo's Println("Used: ", desc)
    doc = json.loads(config.read_text())
    # every field Docker wrote is kept; only auths gained the entry (keys sorted, as Go writes maps)
    assert {k: v for k, v in doc.items() if k != "auths"} == {k: v for k, v in docker_fields.items() if k != "auths"}
    assert list(doc["auths"]) == sorted(["other.example.com", host])
    assert doc["auths"][host] == {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    assert not config.read_bytes().endswith(b"\n")  # Go's MarshalIndent
    r = run_cli("logout", "--compat-auth-file", str(config), host)
    assert r.exit_code == 0 and f"Removed login credentials for {host}" in r.stdout
    doc = json.loads(config.read_text())
    assert list(doc["auths"]) == ["other.example.com"] and doc["credsStore"] == "desktop"


@pytest.mark.registry
def test_docker_config_variable_makes_login_write_dockers_file(run_cli: Any, htpasswd_registry: RegistryServer,
                                                                tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    r = _login(run_cli, htpasswd_registry.host)
    assert r.exit_code == 0, r.stderr
    assert htpasswd_registry.host in json.loads((tmp_path / "dc" / "config.json").read_text())["auths"]
    assert not (tmp_path / "run" / "containers" / "auth.json").exists()


def test_docker_io_is_recorded_under_dockers_key(tmp_path: Path) -> None:
    sys = SystemContext(docker_compat_auth_file=str(tmp_path / "config.json"))
    authfile.set_credentials(sys, "docker.io", "u", "p")
    assert list(json.loads((tmp_path / "config.json").read_text())["auths"]) == ["https://index.docker.io/v1/"]
    # ... which reads back for docker.io, and logout removes it
    assert authfile.find_in_file(authfile.AuthPath(str(tmp_path / "config.json")), "docker.io") is not None
    assert authfile.remove_credentials(sys, "docker.io")
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == {}


def test_namespaced_keys_are_refused_in_dockers_format(tmp_path: Path) -> None:
    sys = SystemContext(docker_compat_auth_file=str(tmp_path / "config.json"))
    with pytest.raises(ConfigError, match=r"Credentials cannot be recorded in Docker-compatible format with "
                                          r"namespaced key 'quay\.io/team'"):
        authfile.set_credentials(sys, "quay.io/team", "u", "p")
    assert not (tmp_path / "config.json").exists()


def test_logout_needs_the_compat_file_to_exist(run_cli: Any, tmp_path: Path) -> None:
    r = run_cli("logout", "--compat-auth-file", str(tmp_path / "nope.json"), "example.com")
    assert r.exit_code != 0 and f"credential file is not accessible: {tmp_path}/nope.json" in r.stderr
