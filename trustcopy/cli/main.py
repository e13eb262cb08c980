"""The ``trustcopy`` command: global options, command registration, error rendering.

The CLI only parses arguments and calls the library. This module is the one place that
catches :class:`~trustcopy.errors.TrustcopyError`: it prints ``error[code]: message``
(plus a hint) on stderr as one line and exits with the error's status (1, or 2 for
usage). ``--debug`` re-raises so the traceback shows. Heavy imports (httpx, rich, gpg)
happen inside commands so that ``trustcopy --version`` stays fast.

Global options are accepted before the command (``trustcopy --policy P copy …``, as
skopeo) and after it (``trustcopy copy --policy P …``); a value given after the command
wins.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from trustcopy import __version__
from trustcopy.cli.common import GLOBAL_OPTION_NAMES, GlobalOptions, add_global_options
from trustcopy.errors import TrustcopyError

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
    "policy": ("trustcopy.cli.policy", "policy_group"),
    "lookaside": ("trustcopy.cli.lookaside", "lookaside_group"),
}


class _LazyGroup(click.Group):
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
@click.pass_context
def cli(ctx: click.Context, **kwargs: Any) -> None:
    """Copy, sign and verify container images; nothing passes that the trust policy does not allow."""
    opts = ctx.ensure_object(GlobalOptions)
    opts.update({k: v for k, v in kwargs.items() if k in GLOBAL_OPTION_NAMES})


def _handle(exc: TrustcopyError, debug: bool) -> int:
    from trustcopy.cli.render import render_error

    render_error(exc)
    if debug:
        raise exc
    return exc.exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (tests call this in-process).

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when None.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    previous = _install_sigterm_handler()
    try:
        return _run(args, debug)
    finally:
        import signal

        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            signal.setitimer(signal.ITIMER_REAL, 0)  # cancel a --command-timeout alarm


def _run(args: list[str], debug: bool) -> int:
    try:
        rv = cli.main(args=args, prog_name="trustcopy", standalone_mode=False)
    except TrustcopyError as exc:
        return _handle(exc, debug)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except _Terminated:
        click.echo("terminated", err=True)
        return 143
    except BrokenPipeError:
        return 1
    return rv if isinstance(rv, int) else 0


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that destinations clean up their staging."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def _install_sigterm_handler() -> Any:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def entrypoint() -> None:
    """Console-script entry point.

    After an interruption (130, 143) the destination has already been cleaned up; a blob
    worker may still sit in a stalled network read, which interpreter shutdown would wait
    for (up to the read timeout). The process ends at once instead.
    """
    status = main()
    if status in (130, 143):
        import os
        import threading

        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entrypoint()
