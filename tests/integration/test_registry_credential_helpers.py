"""registries.conf ``credential-helpers``: trustcopy asks the helpers skopeo asks, in its order.

A fake ``docker-credential-fake`` on PATH knows alice's password for the htpasswd registry;
no auth file has it. With ``credential-helpers = ["fake"]`` both tools read the image; with
the default list (the auth files only) both are refused. The helper's answer never shows in
the output. ``login`` stores in the helper and ``logout`` erases from it, as skopeo's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar
from registry_fixtures import USERS, RegistryServer, fast_sys, push_image

pytestmark = pytest.mark.registry

IMAGE = make_image([Layer(make_tar([("helped.txt", b"credentials from a helper\n")]))])


def _env(tmp_path: Path, helpers: str) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    helper = bindir / "docker-credential-fake"
    helper.write_text("#!/bin/sh\nread host\ncase \"$host\" in 127.0.0.1:*) "
                      f"echo '{{\"Username\":\"alice\",\"Secret\":\"{USERS['alice']}\"}}'; exit 0;; esac\n"
                      "echo 'credentials not found in native keychain'; exit 1\n")
    helper.chmod(0o755)
    conf = tmp_path / "registries.conf"
    conf.write_text(f"credential-helpers = {helpers}\n" if helpers else "")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_CONFIG_HOME")}
    (tmp_path / "run").mkdir(exist_ok=True)
    env.update(PATH=f"{bindir}:{os.environ['PATH']}", HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "run"))
    return env


def _inspect(tool: str, host: str, conf: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # --registries-conf: skopeo 1.9.3 does not read $CONTAINERS_REGISTRIES_CONF.
    command = [sys.executable, "-m", "trustcopy"] if tool == "trustcopy" else ["skopeo"]
    return subprocess.run([*command, "--registries-conf", str(conf), "inspect", "--raw", "--tls-verify=false",
                           f"docker://{host}/helped/app:1"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
@pytest.mark.parametrize(("helpers", "readable"), [('["fake"]', True), ('["containers-auth.json", "fake"]', True),
                                                   ("", False), ('["containers-auth.json"]', False)])
def test_the_listed_helpers_are_asked(htpasswd_registry: RegistryServer, tmp_path: Path, tool: str, helpers: str,
                                      readable: bool) -> None:
    push_image(htpasswd_registry.host, "helped/app:1", IMAGE,
               fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    env = _env(tmp_path, helpers)
    done = _inspect(tool, htpasswd_registry.host, tmp_path / "registries.conf", env)
    assert (done.returncode == 0) is readable, done.stderr
    if readable:
        assert done.stdout.encode() == IMAGE.manifest
    assert USERS["alice"] not in done.stdout + done.stderr


FAKE_HELPER_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "credhelper"


@pytest.mark.parametrize("tool", ["trustcopy", "skopeo"])
def test_login_stores_in_the_helper_and_logout_erases_it(htpasswd_registry: RegistryServer, tmp_path: Path,
                                                         tool: str) -> None:
    host = htpasswd_registry.host
    push_image(host, "helped/app:1", IMAGE, fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    env = _env(tmp_path, '["fake"]')
    state = tmp_path / "helper-state.json"
    env.update(PATH=f"{FAKE_HELPER_DIR}:{env['PATH']}", FAKE_HELPER_STATE=str(state))
    conf = tmp_path / "registries.conf"
    command = [sys.executable, "-m", "trustcopy"] if tool == "trustcopy" else ["skopeo"]
    login = subprocess.run([*command, "--registries-conf", str(conf), "login", "--tls-verify=false", "--username",
                            "alice", "--password-stdin", host], input=USERS["alice"], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert json.loads(state.read_text()) == {host: {"Username": "alice", "Secret": USERS["alice"]}}
    assert not (tmp_path / "run" / "containers" / "auth.json").exists()
    # Either tool reads what the other's login stored.
    for reader in ("trustcopy", "skopeo"):
        assert _inspect(reader, host, conf, env).returncode == 0
    logout = subprocess.run([*command, "--registries-conf", str(conf), "logout", host], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert logout.returncode == 0, logout.stderr
    assert json.loads(state.read_text()) == {}
    assert _inspect("trustcopy", host, conf, env).returncode == 1

