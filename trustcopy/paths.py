"""Default locations of configuration files, found the way containers/image finds them.

Policy (containers/image ``signature.DefaultPolicy``, skopeo 1.9.3 and newest alike; the
order issue 3 and containers-policy.json(5) state):

1. ``--policy`` (handled by the caller) wins.
2. Otherwise ``$HOME/.config/containers/policy.json`` if it exists, else
   ``/etc/containers/policy.json``.

No policy found is an error, never acceptance. A candidate that exists but cannot be
examined (e.g. permission denied on its directory) is an error too, rather than silently
falling through to a more permissive system-wide policy (containers/image falls through).

``$XDG_CONFIG_HOME`` does not move the user's policy (it does move ``auth.json``:
:func:`user_config_dir`), and neither ``$CONTAINERS_POLICY_JSON`` nor
``/usr/share/containers/policy.json`` is read: those exist only in an unmerged
containers/image pull request (#711), so a user's file there would be one skopeo and podman
never read. Deliberate difference: a relative ``$HOME`` is ignored (containers/image would
resolve it against the current directory, which lets whoever controls that directory choose
the policy).
"""

from __future__ import annotations

import errno
import os

from trustcopy.errors import PolicyError

SYSTEM_POLICY_PATHS = ("/etc/containers/policy.json",)


def home_dir() -> str | None:
    """containers' ``homedir.Get``: ``$HOME``, else the account's home directory (None if neither is absolute)."""
    home = os.environ.get("HOME", "")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (KeyError, ImportError):
            return None
    return home if os.path.isabs(home) else None


def user_config_dir() -> str | None:
    """``$XDG_CONFIG_HOME/containers`` or ``$HOME/.config/containers`` (None without a home).

    Where ``auth.json`` is looked for (containers-auth.json(5)); not the policy's directory.
    """
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "containers")
    home = home_dir()
    return os.path.join(home, ".config", "containers") if home else None


def policy_search_paths() -> list[str]:
    """The candidate policy files, most preferred first."""
    home = home_dir()
    user = [os.path.join(home, ".config", "containers", "policy.json")] if home else []
    return user + list(SYSTEM_POLICY_PATHS)


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise PolicyError(
            f"cannot examine policy file {path!r}: {exc.strerror}", context={"file": path}
        ) from None
    return True


def default_policy_path() -> str:
    """The policy file to use when ``--policy`` is not given.

    Raises:
        PolicyError: no policy file exists at any default location, or one cannot be examined.
    """
    candidates = policy_search_paths()
    for path in candidates:
        if _exists(path):
            return path
    raise PolicyError(
        "no policy.json file found at any of the following: " + ", ".join(repr(p) for p in candidates),
        code="policy-not-found",
        context={"searched": candidates},
        hint="use --policy FILE, or --insecure-policy to accept everything",
    )
