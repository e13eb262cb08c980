"""Default locations of configuration files, found the way containers/image finds them.

Policy (newest containers/image, ``signature.DefaultPolicy`` with ``configfile``):

1. ``--policy`` (handled by the caller) wins.
2. ``$CONTAINERS_POLICY_JSON``, when set and not empty: that file, which must exist.
3. Otherwise the first that exists of ``$XDG_CONFIG_HOME/containers/policy.json`` (or
   ``$HOME/.config/containers/policy.json``), ``/etc/containers/policy.json`` and
   ``/usr/share/containers/policy.json``.

No policy found is an error, never acceptance. A candidate that exists but cannot be
examined (e.g. permission denied on its directory) is an error too, rather than silently
falling through to a more permissive system-wide policy.

Deliberate difference: an empty or relative ``$XDG_CONFIG_HOME`` is ignored (the XDG
specification says to), where containers/image would resolve ``containers/policy.json``
against the current directory, which lets whoever controls that directory choose the
policy.
"""

from __future__ import annotations

import errno
import os

from trustcopy.errors import PolicyError

POLICY_ENV = "CONTAINERS_POLICY_JSON"
SYSTEM_POLICY_PATHS = ("/etc/containers/policy.json", "/usr/share/containers/policy.json")


def user_config_dir() -> str | None:
    """``$XDG_CONFIG_HOME/containers`` or ``$HOME/.config/containers`` (None without a home)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "containers")
    home = os.path.expanduser("~")
    if not home or home == "~" or not os.path.isabs(home):
        return None
    return os.path.join(home, ".config", "containers")


def policy_search_paths() -> list[str]:
    """The candidate policy files, most preferred first (without the environment override)."""
    user = user_config_dir()
    return ([os.path.join(user, "policy.json")] if user else []) + list(SYSTEM_POLICY_PATHS)


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

    Returns:
        A path; for ``$CONTAINERS_POLICY_JSON`` it is returned even if missing, so that
        loading it fails loudly instead of falling back.

    Raises:
        PolicyError: no policy file exists at any default location, or one cannot be examined.
    """
    override = os.environ.get(POLICY_ENV, "")
    if override:
        return override
    candidates = policy_search_paths()
    for path in candidates:
        if _exists(path):
            return path
    raise PolicyError(
        "no policy.json file found at any of the following: " + ", ".join(repr(p) for p in candidates),
        code="policy-not-found",
        context={"searched": candidates},
        hint=f"use --policy FILE, set ${POLICY_ENV}, or --insecure-policy to accept everything",
    )
