"""``trustcopy help [COMMAND …]``: a command's help, as cobra's ``skopeo help inspect`` prints it."""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options
from trustcopy.cli.pflag import PflagCommand


@click.command("help", cls=PflagCommand, short_help="Help about any command.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("command", nargs=-1)
@add_global_options
@click.pass_context
def help_cmd(ctx: click.Context, command: tuple[str, ...], **_global: Any) -> None:
    """Help about any command (``trustcopy help inspect``, as ``skopeo help inspect``)."""
    target_ctx = ctx.parent or ctx
    target: click.Command = target_ctx.command
    for name in command:
        sub = target.get_command(target_ctx, name) if isinstance(target, click.Group) else None
        if sub is None:
            raise click.UsageError(f"unknown help topic {name!r}; run 'trustcopy --help' for the commands")
        target_ctx = click.Context(sub, parent=target_ctx, info_name=name)
        target = sub
    click.echo(target.get_help(target_ctx))
