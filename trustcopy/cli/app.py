"""The ``trustcopy`` click group: global options and the table of commands.

Imported by :func:`trustcopy.cli.main.main` only when a command runs (``--version`` alone
needs no click at all, issue 14). Each command's module is imported only when that
command is used or ``--help`` lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trustcopy import __version__
from trustcopy.cli.common import GLOBAL_OPTION_NAMES, GlobalOptions, add_global_options
from trustcopy.cli.docker_options import OptionalBoolOption
from trustcopy.cli.pflag import PflagGroup

F = TypeVar("F", bound=Callable[..., Any])

# command name → (module, attribute); imported when the command runs or --help lists it.
_COMMANDS: dict[str, tuple[str, str]] = {
    "copy": ("trustcopy.cli.copy", "copy_cmd"),
    "inspect": ("trustcopy.cli.inspect", "inspect_cmd"),
    "manifest-digest": ("trustcopy.cli.inspect", "manifest_digest_cmd"),
    "standalone-sign": ("trustcopy.cli.signing", "standalone_sign_cmd"),
    "standalone-verify": ("trustcopy.cli.signing", "standalone_verify_cmd"),
    "generate-sigstore-key": ("trustcopy.cli.signing", "generate_sigstore_key_cmd"),
    "list-tags": ("trustcopy.cli.registry", "list_tags_cmd"),
    "delete": ("trustcopy.cli.registry", "delete_cmd"),
    "login": ("trustcopy.cli.registry", "login_cmd"),
    "logout": ("trustcopy.cli.registry", "logout_cmd"),
    "verify": ("trustcopy.cli.verify", "verify_cmd"),
    "sync": ("trustcopy.cli.sync", "sync_cmd"),
    "policy": ("trustcopy.cli.policy", "policy_group"),
    "lookaside": ("trustcopy.cli.lookaside", "lookaside_group"),
    "help": ("trustcopy.cli.helpcmd", "help_cmd"),
}


class _LazyGroup(PflagGroup):
    """Imports a command's module only when that command is used or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        import importlib

        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        cmd: click.Command = getattr(importlib.import_module(entry[0]), entry[1])
        return cmd

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from trustcopy.transports.alltransports import transport_syntax_lines

        formatter.write_paragraph()
        formatter.write_text('IMAGE-NAME uses a "transport:details" format. Supported transports:')
        with formatter.indentation():
            for line in transport_syntax_lines():
                formatter.write_text(line)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"trustcopy version {__version__}")
    ctx.exit(0)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
    help="Print the version and exit.",
)
@add_global_options
@click.option("--tls-verify", "global_tls_verify", cls=OptionalBoolOption, hidden=True,
              help="Deprecated: set this on the specific command.")
@click.pass_context
def cli(ctx: click.Context, **kwargs: Any) -> None:
    """Copy, sign and verify container images; nothing passes that the trust policy does not allow."""
    opts = ctx.ensure_object(GlobalOptions)
    opts.update({k: v for k, v in kwargs.items() if k in GLOBAL_OPTION_NAMES and k != "global_tls_verify"})
    if kwargs.get("global_tls_verify") is not None:
        # skopeo's hidden global --tls-verify (globalOptions.before warns the same way); a
        # command's own --tls-verify/--src-tls-verify/--dest-tls-verify wins over it.
        import logging

        logging.getLogger("trustcopy.cli").warning(
            "'--tls-verify' is deprecated, please set this on the specific subcommand")
        opts.global_tls_verify = bool(kwargs["global_tls_verify"])
