"""Registry flags as skopeo spells them, and the SystemContext they produce.

``copy`` gets prefixed sets (``--src-creds``, ``--dest-tls-verify`` …, plus the shared
``--authfile``, ``--retry-times`` and the deprecated, hidden ``--tls-verify``);
``inspect``, ``list-tags`` and ``delete`` get the unprefixed set (``--creds``,
``--tls-verify`` …).

``--*tls-verify`` is skopeo's optional boolean: ``--tls-verify`` alone means true,
``--tls-verify=false`` false, and ``--tls-verify false`` is *not* a value (``false``
stays a positional argument), exactly as pflag parses it.

Rules checked (skopeo's): ``--creds`` with ``--no-creds``, ``--username`` with
``--no-creds``, ``--creds`` with ``--username`` are refused; ``--username`` and
``--password`` come together; ``--creds`` must not be empty nor start with ``:``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from trustcopy.cli.common import parse_duration
from trustcopy.cli.pflag import GO_FALSE, GO_TRUE, parse_go_int
from trustcopy.errors import UsageError
from trustcopy.types import SystemContext

F = TypeVar("F", bound=Callable[..., Any])

def _parse_bool(_ctx: click.Context, param: click.Parameter, value: str | None) -> bool | None:
    """``strconv.ParseBool``, exactly (:mod:`trustcopy.cli.pflag`): ``=fAlse`` is refused, not false."""
    if value is None:
        return None
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    flag = param.opts[0] if param.opts else param.name
    raise click.BadParameter(f"invalid boolean {value!r} (use {flag}=true or {flag}=false)")


class OptionalBoolOption(click.Option):
    """``--flag`` = true, ``--flag=VALUE`` = VALUE, never consuming the next argument.

    click would take ``--flag docker://x`` as ``--flag=docker://x``; pflag does not. The
    parser of every trustcopy command (:func:`trustcopy.cli.pflag.install`) reads a bare
    option marked ``pflag_optional_bool`` as ``--flag=true`` before click looks for a value.
    """

    pflag_optional_bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", None)
        kwargs.setdefault("metavar", "[=BOOL]")
        kwargs.setdefault("callback", _parse_bool)
        super().__init__(*args, **kwargs)


def _docker_flag_options(prefix: str, hidden_creds_alias: str | None, *,
                         daemon_host: bool = True) -> list[Callable[[F], F]]:
    """click options for one image (``prefix`` is "" or "src-"/"dest-"); ``daemon_host``: with --*daemon-host."""
    p = prefix
    dest = p.replace("-", "_")
    opts: list[Callable[[F], F]] = [
        click.option(f"--{p}creds", f"{dest}creds", metavar="USERNAME[:PASSWORD]", default=None,
                     help="Use USERNAME[:PASSWORD] for accessing the registry."),
        click.option(f"--{p}username", f"{dest}username", default=None, help="Username for accessing the registry."),
        click.option(f"--{p}password", f"{dest}password", default=None, help="Password for accessing the registry."),
        click.option(f"--{p}registry-token", f"{dest}registry_token", default=None,
                     help="Provide a Bearer token for accessing the registry."),
        click.option(f"--{p}cert-dir", f"{dest}cert_dir", metavar="PATH", default=None,
                     help="Use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry or daemon."),
        click.option(f"--{p}tls-verify", f"{dest}tls_verify", cls=OptionalBoolOption,
                     help="Require HTTPS and verify certificates when talking to the registry or daemon "
                          f"(--{p}tls-verify=false to disable)."),
        click.option(f"--{p}no-creds", f"{dest}no_creds", is_flag=True, default=False,
                     help="Access the registry anonymously."),
    ]
    if daemon_host:
        opts.append(click.option(f"--{p}daemon-host", f"{dest}daemon_host", metavar="HOST", default=None,
                                 help="Use docker daemon host at HOST (docker-daemon: only)."))
    if hidden_creds_alias:  # skopeo's old spelling (--screds/--dcreds), kept working but not shown
        opts.append(click.option(f"--{hidden_creds_alias}", f"{dest}creds_alias", default=None, hidden=True))
    if prefix:
        opts.insert(0, click.option(f"--{p}authfile", f"{dest}authfile", metavar="PATH", default=None,
                                    help="Path of the authentication file (overrides --authfile)."))
    return opts


def _retry_times(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """pflag's ``IntVar`` (``0x10``, ``017``, ``-1``); a negative count means no retries, as in skopeo."""
    if value is None:
        return None
    return max(0, parse_go_int(value, "--retry-times"))


def _shared_options(with_deprecated_tls_verify: bool) -> list[Callable[[F], F]]:
    opts: list[Callable[[F], F]] = [
        click.option("--authfile", "authfile", metavar="PATH", default=None,
                     help="Path of the authentication file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json "
                          "($REGISTRY_AUTH_FILE overrides it)."),
        click.option("--retry-times", "retry_times", metavar="INTEGER", default=None, callback=_retry_times,
                     help="The number of times to retry failed registry requests (default 3)."),
        click.option("--retry-delay", "retry_delay", metavar="DURATION", default=None, callback=parse_duration,
                     help="Fixed delay between retries (e.g. 2s). Default: exponential backoff from 1s."),
    ]
    if with_deprecated_tls_verify:
        opts.append(click.option("--tls-verify", "tls_verify", cls=OptionalBoolOption, hidden=True,
                                 help="Deprecated: use --src-tls-verify and --dest-tls-verify."))
    return opts


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def copy_docker_options(func: F) -> F:
    """Decorate ``copy`` with the shared, ``--src-*`` and ``--dest-*`` registry flags."""
    return _apply(func, [*_shared_options(True), *_docker_flag_options("src-", "screds"),
                         *_docker_flag_options("dest-", "dcreds")])


def sync_docker_options(func: F) -> F:
    """Decorate ``sync`` with the shared, ``--src-*`` and ``--dest-*`` registry flags (no daemon: sync has none)."""
    return _apply(func, [*_shared_options(True), *_docker_flag_options("src-", "screds", daemon_host=False),
                         *_docker_flag_options("dest-", "dcreds", daemon_host=False)])


def image_docker_options(func: F) -> F:
    """Decorate ``inspect``/``list-tags``/``delete`` with the unprefixed registry flags."""
    return _apply(func, [*_shared_options(False), *_docker_flag_options("", None)])


def shared_blob_dir_option(func: F) -> F:
    """``--shared-blob-dir DIR`` of ``inspect`` and ``delete`` (oci: layouts whose blobs live in DIR)."""
    return click.option("--shared-blob-dir", "shared_blob_dir", metavar="DIRECTORY", default=None,
                        help="DIRECTORY to use to share blobs across OCI repositories.")(func)


def parse_creds(text: str) -> tuple[str, str]:
    """``USER[:PASSWORD]`` → (user, password) as skopeo splits it.

    Raises:
        UsageError: empty, or an empty user name.
    """
    if not text:
        raise UsageError("credentials can't be empty")
    user, sep, password = text.partition(":")
    if sep and not user:
        raise UsageError("username can't be empty")
    return user, password


def docker_system_context(base: SystemContext, values: dict[str, Any], prefix: str) -> SystemContext:
    """A copy of ``base`` with the registry flags of one image applied.

    Args:
        base: the context the global flags produced (not modified).
        values: the command's keyword arguments (click's parameter names).
        prefix: ``"src"``, ``"dest"`` or ``""`` (inspect, list-tags, delete).

    Raises:
        UsageError: a combination skopeo refuses (see the module docstring).
    """
    p = f"{prefix}_" if prefix else ""

    def get(name: str) -> Any:
        """The value of this image's flag ``name`` (prefix applied)."""
        return values.get(f"{p}{name}")

    sys = dataclasses.replace(base, extra=dict(base.extra))
    creds = get("creds") if get("creds") is not None else get("creds_alias")
    username, password, no_creds = get("username"), get("password"), bool(get("no_creds"))
    flag = f"--{prefix}-" if prefix else "--"
    if creds is not None and no_creds:
        raise UsageError(f"{flag}creds and {flag}no-creds cannot be specified at the same time")
    if username is not None and no_creds:
        raise UsageError(f"{flag}username and {flag}no-creds cannot be specified at the same time")
    if creds is not None and username is not None:
        raise UsageError(f"{flag}creds and {flag}username cannot be specified at the same time")
    if (username is None) != (password is None):
        missing = "password" if username is not None else "username"
        given = "username" if username is not None else "password"
        raise UsageError(f"{flag}{missing} must be specified when {flag}{given} is specified")
    if creds is not None:
        sys.docker_username, sys.docker_password = parse_creds(creds)
    elif username is not None:
        sys.docker_username, sys.docker_password = username, password
    if no_creds:
        sys.docker_no_creds = True
        sys.docker_username = sys.docker_password = None
    if get("registry_token") is not None:
        token = get("registry_token")
        if not token.isprintable() or token != token.strip():
            # It travels as a header value: a line break (``"$(cat file)"`` of a two-line file)
            # would make the HTTP library refuse it, quoting the value in its error.
            raise UsageError(f"{flag}registry-token holds a line break, a control character or surrounding "
                             "spaces; give the token alone")
        sys.docker_bearer_token = token
    if sys.docker_password or sys.docker_bearer_token:  # (a local copy never loads trustcopy.redact)
        from trustcopy.redact import register_basic, register_secret

        register_basic(sys.docker_username, sys.docker_password)
        register_secret(sys.docker_bearer_token)
    authfile = get("authfile") if prefix else None
    sys.auth_file = authfile or values.get("authfile") or os.environ.get("REGISTRY_AUTH_FILE") or base.auth_file
    if get("cert_dir"):
        sys.docker_cert_path = get("cert_dir")
    if get("daemon_host"):
        sys.docker_daemon_host = get("daemon_host")
    deprecated = values.get("tls_verify") if prefix else None
    verify = get("tls_verify")
    if verify is None:
        verify = deprecated
    if verify is not None:  # given by the user: wins over registries.conf's insecure, as in skopeo
        sys.docker_tls_verify = bool(verify)
        sys.docker_tls_verify_explicit = True
    if values.get("retry_times") is not None:
        sys.retry_times = values["retry_times"]
    if values.get("retry_delay") is not None:
        sys.docker_retry_delay = values["retry_delay"]
        sys.docker_retry_delay_fixed = True
    return sys


def apply_copy_docker_options(
    src: SystemContext, dest: SystemContext, values: dict[str, Any]
) -> tuple[SystemContext, SystemContext]:
    """The source and destination contexts for ``copy``."""
    if values.get("tls_verify") is not None:
        import logging

        logging.getLogger("trustcopy.cli").warning(
            "'--tls-verify' is deprecated, instead use: --src-tls-verify, --dest-tls-verify")
    return docker_system_context(src, values, "src"), docker_system_context(dest, values, "dest")


def apply_image_docker_options(base: SystemContext, values: dict[str, Any]) -> SystemContext:
    """The context for ``inspect``/``list-tags``/``delete`` (and their ``--shared-blob-dir``)."""
    sys = docker_system_context(base, values, "")
    if values.get("shared_blob_dir"):
        sys.oci_shared_blob_dirs = (values["shared_blob_dir"],)
    return sys
