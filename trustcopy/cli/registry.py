"""``list-tags``, ``delete``, ``login`` and ``logout``, with skopeo's arguments and output.

- ``list-tags docker://REPO`` prints ``{"Repository": NAME, "Tags": [...]}`` (Go's
  4-space MarshalIndent), following ``Link`` pagination; ``list-tags docker-archive:PATH``
  prints ``{"Tags": [...]}``: every image's RepoTags, ``@N`` for an untagged one.
- ``delete docker://REF`` resolves a tag to its manifest digest and deletes that.
- ``login REGISTRY`` verifies the credentials against the registry *before* writing them
  to the auth file (0600); ``logout REGISTRY`` / ``logout --all`` remove them.

Errors are raised as TrustcopyError (cli/main.py prints them); passwords are never echoed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, cast

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options
from trustcopy.cli.docker_options import (
    OptionalBoolOption,
    apply_image_docker_options,
    image_docker_options,
    shared_blob_dir_option,
)
from trustcopy.cli.pflag import PflagCommand
from trustcopy.errors import (
    ImageNotFoundError,
    InvalidReferenceError,
    RegistryAuthError,
    TransportError,
    TrustcopyError,
    UsageError,
)

_CTX = {"help_option_names": ["-h", "--help"]}
log = logging.getLogger("trustcopy.cli")


@click.command("list-tags", cls=PflagCommand, context_settings=_CTX)
@click.argument("source_image", metavar="SOURCE-IMAGE")
@image_docker_options
@add_global_options
@click.pass_context
def list_tags_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Return the list of tags from the transport/repository SOURCE-IMAGE (docker://REPO, docker-archive:PATH)."""
    opts = global_options(ctx, kwargs)
    from trustcopy.reference import parse_normalized_named
    from trustcopy.transports.docker.client import RegistryClient
    from trustcopy.transports.docker.source import list_tags

    name = kwargs["source_image"]
    transport, sep, rest = name.partition(":")
    if not sep:  # exit status 1, as skopeo's: a refused name, not a misused command line
        raise InvalidReferenceError(f'Invalid "{name}": does not specify a transport')
    if transport == "docker-archive":
        from trustcopy.transports.alltransports import parse_image_name
        from trustcopy.transports.docker_archive import DockerArchiveReference, list_archive_tags

        archive = cast(DockerArchiveReference, parse_image_name(name))  # the docker-archive transport's
        echo_json({"Tags": list_archive_tags(archive) or None})  # Go prints an empty list as null
        return
    if transport != "docker":
        raise InvalidReferenceError(f"Unsupported transport '{transport}' for tag listing. "
                                    "Only supported: docker, docker-archive", code="unsupported-transport")
    if not rest.startswith("//"):
        raise InvalidReferenceError(f"docker: image reference {rest} does not start with //")
    ref = parse_normalized_named(rest[2:])
    if not ref.is_name_only:
        raise InvalidReferenceError("No tag or digest allowed in reference", context={"reference": name})
    sys_ctx = apply_image_docker_options(opts.system_context(), kwargs)
    client = RegistryClient(sys_ctx, ref.domain, ref.path, "pull")
    try:
        tags = list_tags(client, ref.name)
    except TrustcopyError as exc:
        raise exc.rewrapped(f"Error listing repository tags: {exc.message}") from exc
    finally:
        client.close()
    echo_json({"Repository": ref.name, "Tags": tags})


@click.command("delete", cls=PflagCommand, context_settings=_CTX)
@click.argument("image_name", metavar="IMAGE-NAME")
@shared_blob_dir_option
@image_docker_options
@add_global_options
@click.pass_context
def delete_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Delete image IMAGE-NAME (e.g. docker://registry.example.com/example/pause:latest)."""
    opts = global_options(ctx, kwargs)
    from trustcopy.transports.alltransports import parse_image_name

    ref = parse_image_name(kwargs["image_name"])
    sys_ctx = apply_image_docker_options(opts.system_context(), kwargs)
    try:
        ref.delete_image(sys_ctx)
    except ImageNotFoundError as exc:
        if ref.transport.name != "docker":
            raise
        # containers/image's deleteImage reports a missing manifest as a plain error, so newer
        # skopeo exits 1 here, not 2 as for other missing images (main.is_not_found_image_error).
        raise TransportError(exc.message, code=exc.code, context=exc.context, hint=exc.hint) from exc


def _registry_key(arg: str) -> tuple[str, str]:
    """``[http(s)://]host[:port][/repo]`` → (auth-file key, registry host) as containers/common."""
    from urllib.parse import urlsplit

    from trustcopy.reference import parse_normalized_named

    key = arg
    if arg.startswith(("https://", "http://")):  # Go's url.Parse(arg).Host: no path, no user info
        key = urlsplit(arg).netloc.rpartition("@")[2]
    if not key:
        raise UsageError(f"invalid registry {arg!r}")
    registry = key.split("/", 1)[0]
    if key != registry:
        # A malformed key is a malformed reference (exit 1, as skopeo and as an upper-case
        # repository already was here), not a misused command line.
        ref = parse_normalized_named(key)
        if not ref.is_name_only:
            raise InvalidReferenceError(f'reference "{ref}" contains tag or digest', context={"reference": key})
        if ref.domain != registry:
            raise InvalidReferenceError(f'"{key}" does not start with a registry host', context={"reference": key})
    return key, registry


def _login_context(opts: Any, kwargs: dict[str, Any]) -> Any:
    import os

    sys_ctx = opts.system_context()
    # containers/common's systemContextWithOptions, in its order and words.
    authfile, compat = kwargs.get("authfile"), kwargs.get("compat_auth_file")
    docker_default = os.path.join(os.path.expanduser("~"), ".docker", "config.json")
    if authfile and compat:
        raise UsageError("options for paths to the credential file and to the Docker-compatible credential file "
                         "can not be set simultaneously")
    if authfile:
        if authfile == docker_default:
            log.warning("saving credentials to ~/.docker/config.json, but not using Docker-compatible file format")
        sys_ctx.auth_file = authfile
    elif compat:
        sys_ctx.docker_compat_auth_file = compat
    elif os.environ.get("REGISTRY_AUTH_FILE"):
        sys_ctx.auth_file = os.environ["REGISTRY_AUTH_FILE"]
        if sys_ctx.auth_file == docker_default:
            log.warning("$REGISTRY_AUTH_FILE points to ~/.docker/config.json, but the file format is not fully "
                        "compatible; use the Docker-compatible file path option instead")
    elif os.environ.get("DOCKER_CONFIG"):
        # As newer skopeo: with $DOCKER_CONFIG set, login/logout update Docker's own file there.
        sys_ctx.docker_compat_auth_file = os.path.join(os.environ["DOCKER_CONFIG"], "config.json")
    if kwargs.get("cert_dir"):
        sys_ctx.docker_cert_path = kwargs["cert_dir"]
    if kwargs.get("tls_verify") is not None:
        sys_ctx.docker_tls_verify = kwargs["tls_verify"]
        sys_ctx.docker_tls_verify_explicit = True
    return sys_ctx


def _credential_helpers(sys_ctx: Any, *, writing: bool = False) -> tuple[str, ...]:
    """registries.conf's ``credential-helpers``: where login stores, logout erases, lookups read.

    ``--compat-auth-file`` writes only that file: Docker knows nothing of registries.conf's
    helpers (containers/image's prepareForEdit).
    """
    if writing and sys_ctx.docker_compat_auth_file:
        return ()
    from trustcopy.sysregistries import load_registries_conf

    return load_registries_conf(sys_ctx.registries_conf).credential_helpers


def check_auth(sys_ctx: Any, registry: str, username: str, password: str) -> None:
    """``GET /v2/`` with these credentials (through the token realm if the registry has one).

    Raises:
        RegistryAuthError: the registry (or its token server) refuses them.
        RegistryError / NetworkError: the registry cannot be reached.
    """
    from trustcopy.transports.docker.auth import Credentials
    from trustcopy.transports.docker.client import RegistryClient

    client = RegistryClient(sys_ctx, registry, "", "", credentials=Credentials(username, password))
    try:
        what = f"authenticating to {registry}"
        response = client.send("GET", "/v2/", what=what)
        client.check(response, what)
        response.close()
    finally:
        client.close()


class _PromptError(UsageError):
    """A prompt that cannot be answered, reported with skopeo's exit status (1)."""

    exit_status = 1


def _prompt_username(text: str) -> str:
    """Read the user name as containers/common: a whole line from stdin, a terminal or not.

    Raises:
        _PromptError: stdin ended before a line did (Go's ``ReadString('\\n')`` fails on EOF).
    """
    click.echo(text, nl=False)
    line = sys.stdin.readline()
    if not line.endswith("\n"):
        raise _PromptError("getting username and password: reading username: EOF",
                           hint="pass the user name with --username")
    return line


def _prompt_password() -> str:
    """Read the password from the terminal without echo; never from a pipe or a file.

    containers/common reads it with ``term.ReadPassword``, which fails when stdin is not a
    terminal: a password piped in without ``--password-stdin`` is refused, not read.

    Raises:
        _PromptError: stdin is not a terminal.
    """
    if not sys.stdin.isatty():
        click.echo("Password: ", nl=False)
        raise _PromptError("getting username and password: reading password: standard input is not a terminal",
                           hint="use --password-stdin to read the password from a pipe")
    import getpass

    return getpass.getpass("Password: ", stream=sys.stdout)


def _read_password_stdin() -> str:
    """Every line of stdin joined without its line ending, as Go's ``bufio.Scanner`` (ScanLines).

    Each line loses its ``\\n`` and then one ``\\r``; nothing else is stripped, so a password
    ending in a space or holding a lone ``\\r`` is kept as given (text-mode stdin would turn
    that ``\\r`` into a line break).
    """
    raw = sys.stdin.buffer.read().decode() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    lines = raw.split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line[:-1] if line.endswith("\r") else line for line in lines)


@click.command("login", cls=PflagCommand, context_settings=_CTX)
@click.argument("registry", metavar="REGISTRY")
@click.option("--authfile", metavar="PATH", default=None,
              help="Path of the authentication file ($REGISTRY_AUTH_FILE overrides the default).")
@click.option("--compat-auth-file", metavar="PATH", default=None,
              help="Update the Docker-compatible config.json at PATH instead of the auth file.")
@click.option("--cert-dir", metavar="PATH", default=None, help="Use certificates at PATH to access the registry.")
@click.option("--get-login", is_flag=True, help="Return the current login user for the registry.")
@click.option("-p", "--password", default=None, help="Password for registry.")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin.")
@click.option("--tls-verify", "tls_verify", cls=OptionalBoolOption,
              help="Require HTTPS and verify certificates when accessing the registry.")
@click.option("-u", "--username", default=None, help="Username for registry.")
@click.option("-v", "--verbose", is_flag=True, help="Write more detailed information to stdout.")
@add_global_options
@click.pass_context
def login_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Login to a container registry on a specified server (credentials are checked first)."""
    opts = global_options(ctx, kwargs)
    from trustcopy.transports.docker.authfile import get_credentials, primary_auth_file, store_credentials

    key, registry = _registry_key(kwargs["registry"])
    sys_ctx = _login_context(opts, kwargs)
    helpers = _credential_helpers(sys_ctx)
    existing = get_credentials(sys_ctx, key, helpers)
    if kwargs["get_login"]:
        if not existing.username:
            raise RegistryAuthError(f"not logged into {key}", code="not-logged-in")
        click.echo(existing.username)
        return
    if existing.identity_token:
        raise UsageError("currently logged in, auth file contains an Identity token")
    password = kwargs["password"]
    username = kwargs["username"]
    if kwargs["password_stdin"]:
        if password:
            raise UsageError("can't specify both --password-stdin and --password")
        if not username:
            raise UsageError("must provide --username with --password-stdin")
        password = _read_password_stdin()
    if not username and not password and existing.username and existing.password:
        click.echo(f"Authenticating with existing credentials for {key}")
        try:
            check_auth(sys_ctx, registry, existing.username, existing.password)
        except RegistryAuthError:
            click.echo("Existing credentials are invalid, please enter valid username and password")
        else:
            click.echo(f"Existing credentials are valid. Already logged in to {registry}")
            return
    if not username:
        prompt = f"Username ({existing.username}): " if existing.username else "Username: "
        username = _prompt_username(prompt).strip() or existing.username
    if not password:
        password = _prompt_password()
    try:
        check_auth(sys_ctx, registry, username, password)
    except RegistryAuthError as exc:
        raise RegistryAuthError(f'logging into "{key}": invalid username/password', code="registry-auth",
                                context=exc.context) from exc
    except TrustcopyError as exc:
        raise exc.rewrapped(f'authenticating creds for "{key}": {exc.message}') from exc
    path = store_credentials(sys_ctx, key, username, password, _credential_helpers(sys_ctx, writing=True))
    if kwargs["verbose"]:
        # Two spaces, as skopeo: containers/common prints it with Println("Used: ", desc).
        click.echo(f"Used:  {path or primary_auth_file(sys_ctx)}")
    click.echo("Login Succeeded!")


@click.command("logout", cls=PflagCommand, context_settings=_CTX)
@click.argument("registry", metavar="REGISTRY", required=False)
@click.option("-a", "--all", "all_", is_flag=True,
              help="Remove the cached credentials for all registries in the auth file.")
@click.option("--authfile", metavar="PATH", default=None,
              help="Path of the authentication file ($REGISTRY_AUTH_FILE overrides the default).")
@click.option("--compat-auth-file", metavar="PATH", default=None,
              help="Update the Docker-compatible config.json at PATH instead of the auth file.")
@click.option("--tls-verify", "tls_verify", cls=OptionalBoolOption,
              help="Require HTTPS and verify certificates when accessing the registry.")
@add_global_options
@click.pass_context
def logout_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Logout of a container registry on a specified server (or --all)."""
    opts = global_options(ctx, kwargs)
    import os

    from trustcopy.transports.docker.authfile import erase_all_credentials, erase_credentials, get_credentials

    for given in (kwargs["authfile"], kwargs["compat_auth_file"]):
        if given:
            try:  # as containers/common's CheckAuthFile: the reason is os.Stat's (a loop is not "missing")
                os.stat(given)
            except OSError as exc:
                raise UsageError(f"credential file is not accessible: {given}: {exc.strerror or exc}") from None
    sys_ctx = _login_context(opts, kwargs)
    if kwargs["all_"]:
        if kwargs["registry"]:
            raise UsageError("--all takes no arguments")
        erase_all_credentials(sys_ctx, _credential_helpers(sys_ctx, writing=True))
        click.echo("Removed login credentials for all registries")
        return
    if not kwargs["registry"]:
        raise UsageError("please provide a registry to log out from")
    key, registry = _registry_key(kwargs["registry"])
    helpers = _credential_helpers(sys_ctx)
    if erase_credentials(sys_ctx, key, _credential_helpers(sys_ctx, writing=True)):
        click.echo(f"Removed login credentials for {key}")
        return
    # As containers/common's Logout: credentials still found for the key (another file, a
    # parent key, a helper) that the registry accepts were made by another tool.
    existing = get_credentials(sys_ctx, key, helpers)
    if existing.username and existing.password:
        try:
            check_auth(sys_ctx, registry, existing.username, existing.password)
        except TrustcopyError:
            pass
        else:
            click.echo(f"Not logged into {key} with current tool. Existing credentials were established via "
                       "docker login. Please use docker logout instead.")
            return
    raise RegistryAuthError(f"not logged into {key}", code="not-logged-in")
