"""Where the default policy comes from; no policy found is an error, never acceptance."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy import paths
from trustcopy.errors import PolicyError
from trustcopy.paths import default_policy_path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake HOME and fake system paths, all initially without a policy."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv(paths.POLICY_ENV, raising=False)
    system = (str(tmp_path / "etc" / "policy.json"), str(tmp_path / "usr" / "policy.json"))
    monkeypatch.setattr(paths, "SYSTEM_POLICY_PATHS", system)
    return tmp_path


def _write(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"default":[{"type":"reject"}]}')
    return str(path)


def test_no_policy_anywhere_is_an_error(env: Path) -> None:
    with pytest.raises(PolicyError, match=r"no policy\.json file found") as exc:
        default_policy_path()
    assert exc.value.code == "policy-not-found"
    assert str(env / "home" / ".config" / "containers" / "policy.json") in str(exc.value)
    assert "--insecure-policy" in (exc.value.hint or "")


def test_user_policy_wins_over_system(env: Path) -> None:
    _write(env / "etc" / "policy.json")
    user = _write(env / "home" / ".config" / "containers" / "policy.json")
    assert default_policy_path() == user


def test_system_policies_in_order(env: Path) -> None:
    usr = _write(env / "usr" / "policy.json")
    assert default_policy_path() == usr
    etc = _write(env / "etc" / "policy.json")
    assert default_policy_path() == etc


def test_xdg_config_home_replaces_dot_config(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(env / "home" / ".config" / "containers" / "policy.json")
    xdg = _write(env / "xdg" / "containers" / "policy.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env / "xdg"))
    assert default_policy_path() == xdg


def test_relative_xdg_config_home_is_ignored(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise whoever controls the current directory would choose the policy.
    monkeypatch.chdir(env)
    _write(env / "rel" / "containers" / "policy.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", "rel")
    with pytest.raises(PolicyError):
        default_policy_path()


def test_environment_override_is_used_even_if_missing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(env / "etc" / "policy.json")
    monkeypatch.setenv(paths.POLICY_ENV, str(env / "missing.json"))
    assert default_policy_path() == str(env / "missing.json")  # loading it then fails loudly


def test_empty_environment_override_is_ignored(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = _write(env / "etc" / "policy.json")
    monkeypatch.setenv(paths.POLICY_ENV, "")
    assert default_policy_path() == etc


def test_dangling_user_symlink_falls_through(env: Path) -> None:
    link = env / "home" / ".config" / "containers" / "policy.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(env / "nowhere.json")
    etc = _write(env / "etc" / "policy.json")
    assert default_policy_path() == etc


def test_unexaminable_user_policy_is_an_error_not_a_fallback(env: Path) -> None:
    # A file where a directory is expected is fine (ENOTDIR, "does not exist")…
    (env / "home" / ".config").write_text("not a directory")
    etc = _write(env / "etc" / "policy.json")
    assert default_policy_path() == etc


def test_examine_error_raises(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(paths.os, "stat", denied)
    with pytest.raises(PolicyError, match="cannot examine policy file"):
        default_policy_path()
