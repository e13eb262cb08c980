"""A ``--sign-by`` key that cannot sign is refused before anything is written.

Found on a newcomer's journey (session 26): the GPG signature was made after the manifest PUT,
so a missing key, a user ID for a fingerprint or an expired key exited 1 with the registry's tag
already moved to the unsigned image (skopeo 1.9.3 does the same). The sigstore key was
already checked first (copy/pipeline.py); the GPG key now is too, once per copy or sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image, write_oci
from registry_fixtures import RegistryServer, registry_request

pytestmark = [pytest.mark.gpg, pytest.mark.registry]


def _policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    return policy


@pytest.mark.parametrize("key", ["missing", "user-id", "expired", "revoked"])
def test_a_key_that_cannot_sign_moves_no_tag(key: str, new_home: Callable[[], GPGHome], tmp_path: Path,
                                             plain_registry: RegistryServer, run_cli: Callable[..., object],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    home = new_home()
    if key == "missing":
        fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
    elif key == "user-id":
        fpr = "ci@example.com"
    elif key == "expired":
        fpr = home.gen_key("Expired", expire="1y", faked_time="20200101T000000")
    else:
        fpr = home.gen_key("Revoked")
        home.revoke(fpr)
    monkeypatch.setenv("GNUPGHOME", home.path)
    write_oci({"app": example_image()}, str(tmp_path / "layout"))
    repo = f"precheck/{key}"
    result = run_cli("--policy", str(_policy(tmp_path)), "copy", "--dest-tls-verify=false", "--sign-by", fpr,
                     f"oci:{tmp_path / 'layout'}:app", f"docker://{plain_registry.host}/{repo}:1")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    expected = {"missing": "error[signing-key-missing]", "user-id": "error[invalid-fingerprint]",
                "expired": "the key has expired", "revoked": "the key has been revoked"}[key]
    assert expected in result.stderr  # type: ignore[attr-defined]
    assert registry_request(plain_registry.url, f"{repo}/manifests/1", "HEAD")[0] == 404
    assert "Writing manifest" not in result.stdout  # type: ignore[attr-defined]


def test_sync_checks_the_key_once_before_any_image(new_home: Callable[[], GPGHome], tmp_path: Path,
                                                   plain_registry: RegistryServer, run_cli: Callable[..., object],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNUPGHOME", new_home().path)
    write_oci({"a": example_image(), "b": example_image()}, str(tmp_path / "layout"))
    result = run_cli("--policy", str(_policy(tmp_path)), "sync", "--src", "dir", "--dest", "docker",
                     "--dest-tls-verify=false", "--sign-by", "0123456789ABCDEF0123456789ABCDEF01234567",
                     str(tmp_path / "layout"), f"{plain_registry.host}/precheck-sync")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "error[signing-key-missing]" in result.stderr  # type: ignore[attr-defined]
    assert registry_request(plain_registry.url, "precheck-sync/layout/tags/list")[0] == 404
