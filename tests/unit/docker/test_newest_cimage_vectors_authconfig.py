"""pkg/docker/config config_test.go TestSetCredentialsInteroperability (newest containers/image).

``login --compat-auth-file`` must write what ``docker pull`` reads: Docker looks the credentials up
under the reference's domain, or its hard-coded ``https://index.docker.io/v1/`` for docker.io, and
expects a base64 ``auth`` of ``user:password`` there; logout must remove exactly that entry and
leave every other field of Docker's file alone. Docker's reading (configfile.GetAuthConfig of a
file store) is restated here as a plain lookup of the file's ``auths`` map.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.errors import ConfigError
from trustcopy.reference import parse_normalized_named
from trustcopy.transports.docker import authfile
from trustcopy.types import SystemContext

USER, PASSWORD = "some-user", "some-password"
OTHER_CONTENTS = {"auths": {"unmodified-domain.example": {"identitytoken": "identity"}},
                  "psFormat": "psFormatValue",
                  "credHelpers": {"helper-domain.example": "helper-name"}}


def docker_config_key(repo: str) -> str:
    """The key docker pull (command.RetrieveAuthTokenFromImage) uses for ``repo``."""
    domain = parse_normalized_named(repo).domain
    return "https://index.docker.io/v1/" if domain in ("docker.io", "index.docker.io") else domain


def docker_get_auth(path: Path, key: str) -> dict[str, Any]:
    """What Docker finds under ``key``: {} when nothing, else the entry's decoded username/password."""
    if not path.exists():
        return {}
    entry = (json.loads(path.read_text()).get("auths") or {}).get(key)
    if entry is None:
        return {}
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return {"username": user, "password": password}


@pytest.mark.parametrize(("login_key", "query_repo", "other_contents"), [
    ("example.com", "example.com/ns/repo", False),
    ("example.com:8000", "example.com:8000/ns/repo", False),
    ("docker.io", "docker.io/library/busybox", False),
    ("docker.io", "docker.io/notlibrary/busybox", False),
    ("example.com", "example.com/ns/repo", True),
])
def test_set_credentials_interoperability(tmp_path: Path, login_key: str, query_repo: str,
                                          other_contents: bool) -> None:
    path = tmp_path / "config.json"
    sys = SystemContext(docker_compat_auth_file=str(path))
    key = docker_config_key(query_repo)
    if other_contents:
        path.write_text(json.dumps(OTHER_CONTENTS))
    assert docker_get_auth(path, key) == {}

    authfile.set_credentials(sys, login_key, USER, PASSWORD)
    assert docker_get_auth(path, key) == {"username": USER, "password": PASSWORD}

    assert authfile.remove_credentials(sys, login_key) is True
    assert docker_get_auth(path, key) == {}
    if other_contents:
        doc = json.loads(path.read_text())
        assert doc["auths"] == {"unmodified-domain.example": {"identitytoken": "identity"}}
        assert doc["psFormat"] == "psFormatValue"
        assert doc["credHelpers"] == {"helper-domain.example": "helper-name"}


@pytest.mark.parametrize("login_key", ["example.com/ns", "example.com:8000/ns"])
def test_set_credentials_interoperability_namespaced_key_is_refused(tmp_path: Path, login_key: str) -> None:
    path = tmp_path / "config.json"
    with pytest.raises(ConfigError, match="namespaced key"):
        authfile.set_credentials(SystemContext(docker_compat_auth_file=str(path)), login_key, USER, PASSWORD)
    assert not path.exists()
