"""Where the default policy comes from; no policy found is an error, never acceptance."""

from __future__ import annotations

import os
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
    monkeypatch.setattr(paths, "SYSTEM_POLICY_PATHS", (str(tmp_path / "etc" / "policy.json"),))
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


def test_the_system_policy_when_the_user_has_none(env: Path) -> None:
    etc = _write(env / "etc" / "policy.json")
    assert default_policy_path() == etc
    assert paths.policy_search_paths() == [str(env / "home" / ".config" / "containers" / "policy.json"), etc]


def test_the_real_system_path_is_containers_policy_jsons() -> None:
    """containers-policy.json(5) and containers/image's ``systemDefaultPolicyPath``: one file."""
    assert paths.SYSTEM_POLICY_PATHS == ("/etc/containers/policy.json",)


def test_xdg_config_home_does_not_move_the_policy(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """containers/image reads ``homedir.Get()/.config/containers/policy.json``, whatever $XDG_CONFIG_HOME says.

    A reject-all policy in ~/.config must not lose to an accept-anything one under
    $XDG_CONFIG_HOME, which skopeo would never read.
    """
    user = _write(env / "home" / ".config" / "containers" / "policy.json")
    _write(env / "xdg" / "containers" / "policy.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env / "xdg"))
    assert default_policy_path() == user
    (env / "home" / ".config" / "containers" / "policy.json").unlink()
    etc = _write(env / "etc" / "policy.json")
    assert default_policy_path() == etc


@pytest.mark.parametrize("variable", ["CONTAINERS_POLICY_JSON"])
def test_no_environment_variable_chooses_the_policy(env: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """The variable of an unmerged containers/image pull request: skopeo ignores it, so must we."""
    etc = _write(env / "etc" / "policy.json")
    monkeypatch.setenv(variable, _write(env / "elsewhere.json"))
    assert default_policy_path() == etc


def test_relative_home_is_ignored(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise whoever controls the current directory would choose the policy.
    monkeypatch.chdir(env)
    _write(env / "rel" / ".config" / "containers" / "policy.json")
    monkeypatch.setenv("HOME", "rel")
    with pytest.raises(PolicyError):
        default_policy_path()


def test_empty_home_means_the_accounts_home(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """containers' homedir.Get: an empty $HOME falls back to the user database."""
    import pwd

    monkeypatch.setenv("HOME", "")
    account = pwd.getpwuid(os.getuid()).pw_dir
    assert paths.policy_search_paths()[0] == os.path.join(account, ".config", "containers", "policy.json")


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
