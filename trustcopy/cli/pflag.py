"""Command lines parsed as skopeo's parser (spf13/pflag) parses them, on top of click.

Scripts written for skopeo must keep working, and click differs from pflag in three ways
that change what a command does, not only its messages:

- a boolean flag takes an attached value: ``--all=true``, ``--remove-signatures=false``,
  ``-q=true`` (click refused every one: "does not take a value");
- a short option's attached value may be written ``-f=VALUE``: pflag drops the ``=``;
  click kept it, so ``inspect -f='{{.Digest}}'`` printed ``=sha256:…`` and exited 0, and
  ``standalone-sign -o=out.sig`` wrote a file named ``=out.sig``;
- boolean values are ``strconv.ParseBool``'s, exactly: ``1 t T TRUE true True`` and
  ``0 f F FALSE false False``. Anything else (``fAlse``, `` false``) is refused, never
  read as false: a value skopeo refuses must not turn TLS verification off.

``--flag VALUE`` stays two arguments for a boolean flag (``VALUE`` is positional), as in
pflag. Every trustcopy command and group is built on :class:`PflagCommand` or
:class:`PflagGroup`; a test walks the command tree to keep it so.
"""

from __future__ import annotations

from typing import Any

import click

#: strconv.ParseBool's spellings.
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(value: str, flag: str) -> bool:
    """``strconv.ParseBool``, with pflag's complaint naming the flag.

    Raises:
        click.BadOptionUsage: any other spelling.
    """
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise click.BadOptionUsage(flag, f'invalid argument "{value}" for "{flag}" flag: '
                                     "use true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)")


def _underscores_ok(number: str) -> bool:
    """Go's ``underscoreOK``: an underscore only between digits (a base prefix counts as one)."""
    saw, i = "^", 0
    hexadecimal = False
    if len(number) >= 2 and number[0] == "0" and number[1].lower() in "box":
        saw, i, hexadecimal = "0", 2, number[1].lower() == "x"
    for char in number[i:]:
        if (char.isdigit() and char.isascii()) or (hexadecimal and char.lower() in "abcdef"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def parse_go_int(text: str, flag: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``, as pflag's ``IntVar`` reads numbers.

    A sign, base prefixes ``0x``, ``0o``, ``0b``, a leading ``0`` for octal, and
    underscores between digits. Python's ``int(text, 0)`` refuses ``017`` (Go: 15) and
    accepts spaces and non-ASCII digits (Go does not).

    Raises:
        click.BadOptionUsage: not an integer, or outside 64 bits.
    """
    body = text[1:] if text[:1] in ("+", "-") else text
    digits = body.replace("_", "")
    base = 10
    if digits[:2].lower() in ("0x", "0o", "0b"):
        base, digits = {"x": 16, "o": 8, "b": 2}[digits[1].lower()], digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base, digits = 8, digits[1:]
    try:
        if not (digits.isascii() and digits.isalnum() and _underscores_ok(body)):
            raise ValueError(text)
        value = int(digits, base) * (-1 if text[:1] == "-" else 1)
    except ValueError:
        raise click.BadOptionUsage(flag, f'invalid argument "{text}" for "{flag}" flag: not an integer') from None
    if not -(1 << 63) <= value < (1 << 63):
        raise click.BadOptionUsage(flag, f'invalid argument "{text}" for "{flag}" flag: value out of range')
    return value


def _bool_flag(option: Any) -> bool:
    """A click ``is_flag`` boolean whose presence means true (not ``--no-x``, not a counter)."""
    obj = option.obj
    return (not option.takes_value and option.action == "store_const" and option.const is True
            and isinstance(obj, click.Option) and obj.is_bool_flag)


def _store(option: Any, value: bool, state: Any) -> None:
    state.opts[option.dest] = value
    state.order.append(option.obj)


def install(parser: Any) -> None:
    """Give one click parser pflag's rules (see the module docstring)."""
    match_long, match_short = parser._match_long_opt, parser._match_short_opt

    def match_long_opt(opt: str, explicit_value: str | None, state: Any) -> None:
        option = parser._long_opt.get(opt)
        if option is None:
            if not opt.startswith("--"):
                # click tries every argument as a long option first, and its NoSuchOption
                # runs difflib over all option names before click falls back to the short
                # options: ``-q`` cost an import and a fuzzy search in every copy.
                raise click.NoSuchOption(opt, ctx=parser.ctx)
        elif getattr(option.obj, "pflag_optional_bool", False) and explicit_value is None:
            explicit_value = "true"
        elif explicit_value is not None and _bool_flag(option):
            _store(option, parse_go_bool(explicit_value, opt), state)
            return
        match_long(opt, explicit_value, state)

    def match_short_opt(arg: str, state: Any) -> None:
        prefix, i = arg[0], 1
        while i < len(arg):
            option = parser._short_opt.get(prefix + arg[i])
            rest = arg[i + 1:]
            if option is None:
                match_short(prefix + arg[i:], state)  # click's own error for an unknown letter
                return
            if option.takes_value:
                match_short(prefix + arg[i] + (rest[1:] if len(rest) > 1 and rest[0] == "=" else rest), state)
                return
            if len(rest) > 1 and rest[0] == "=" and _bool_flag(option):
                _store(option, parse_go_bool(rest[1:], prefix + arg[i]), state)
                return
            match_short(prefix + arg[i], state)
            i += 1

    parser._match_long_opt = match_long_opt
    parser._match_short_opt = match_short_opt


class PflagCommand(click.Command):
    """A click command whose options parse as pflag's (module docstring)."""

    def make_parser(self, ctx: click.Context) -> Any:
        """click's parser, with pflag's rules installed."""
        parser = super().make_parser(ctx)
        install(parser)
        return parser


class PflagGroup(click.Group):
    """A click group whose own options parse as pflag's, and whose subcommands are :class:`PflagCommand`."""

    command_class = PflagCommand

    def make_parser(self, ctx: click.Context) -> Any:
        """click's parser, with pflag's rules installed."""
        parser = super().make_parser(ctx)
        install(parser)
        return parser


PflagGroup.group_class = PflagGroup
