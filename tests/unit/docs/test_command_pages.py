"""docs/commands/ agrees with the CLI: every registered command has a page, and every option is on both.

The options are read from each command's own ``--help`` text (and checked against click's
parameters, so a parser slip cannot make the comparison vacuous). A page lists a command's
options in tables whose first column is ``option``, under a heading ``trustcopy CMD [SUB]``;
the global options are listed once, in docs/commands/README.md, and must be exactly the
root command's. A new command (``sync`` …) fails ``test_every_registered_command_has_a_page``
until its page exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from trustcopy.cli.app import _COMMANDS, cli

ROOT = Path(__file__).resolve().parents[3]
PAGES = ROOT / "docs" / "commands"
HELP_NAMES = {"-h", "--help"}
#: Options of the root command that subcommands do not inherit (login has its own -v, --verbose).
ROOT_ONLY = {"-v", "--version"}
_OPTION = re.compile(r"(?<![\w\[=|-])(--?[A-Za-z0-9][\w.-]*)")
_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")


def _leaf_paths() -> list[tuple[str, ...]]:
    """Every command path: ("copy",), ("policy",), ("policy", "lint"), …"""
    ctx = click.Context(cli, info_name="trustcopy")
    out: list[tuple[str, ...]] = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        out.append((name,))
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, info_name=name, parent=ctx)
            out.extend((name, sub) for sub in cmd.list_commands(sub_ctx))
    return out


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="trustcopy")
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(ctx, name)
        assert found is not None
        ctx = click.Context(found, info_name=name, parent=ctx)
        cmd = found
    return cmd


def help_options(path: tuple[str, ...]) -> set[str]:
    """The option names ``trustcopy PATH --help`` shows, parsed from its text."""
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="trustcopy")
    assert result.exit_code == 0, result.output
    names: set[str] = set()
    in_options = False
    for line in result.output.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            in_options = line == "Options:"
            continue
        if in_options and re.match(r"^  -", line):
            spec = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            names.update(_OPTION.findall(spec))
    return names - HELP_NAMES


def click_options(path: tuple[str, ...]) -> set[str]:
    """The same, from click's parameters (the guard against a help-parsing slip)."""
    cmd = _command(path)
    names: set[str] = set()
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names - HELP_NAMES


def page_sections(page: Path) -> dict[str, set[str]]:
    """``trustcopy …`` heading → option names in that section's ``| option |`` tables.

    A section runs from a ``trustcopy CMD`` heading to the next such heading; cells are
    split on unescaped ``|`` (``oci\\|v2s2`` stays in one cell).
    """
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    in_table = False
    in_fence = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(2)
            if title.startswith("trustcopy"):  # a command's section runs to the next command heading
                current = sections.setdefault(title, set())
            in_table = False
            continue
        if line.startswith("| option |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and current is not None and not line.startswith("|---"):
            first = re.split(r"(?<!\\)\|", line)[1]
            for token in re.findall(r"`([^`]+)`", first):
                match = re.match(r"--?[A-Za-z0-9][\w.-]*", token)
                if match and token.startswith("-"):
                    current.add(match.group())
    return sections


def global_options() -> set[str]:
    return help_options(())


def test_help_parsing_agrees_with_click() -> None:
    for path in [(), *_leaf_paths()]:
        assert help_options(path) == click_options(path), path


def test_every_registered_command_has_a_page() -> None:
    missing = [name for name in _COMMANDS if not (PAGES / f"{name}.md").is_file()]
    assert not missing, (
        f"no page in docs/commands/ for: {', '.join(missing)}. Every registered command needs "
        f"docs/commands/<command>.md listing its options (a new command such as `sync` needs its page, with a "
        f"`# trustcopy <command>` heading and an `| option | meaning |` table, and a row in docs/commands/README.md)"
    )
    index = (PAGES / "README.md").read_text()
    unlisted = [name for name in _COMMANDS if f"({name}.md)" not in index]
    assert not unlisted, f"docs/commands/README.md does not link the page of: {', '.join(unlisted)}"


def test_global_options_page_matches_the_root_help() -> None:
    documented = page_sections(PAGES / "README.md")
    # README lists the global options under "Global options", not under a command heading.
    text = (PAGES / "README.md").read_text()
    block = text.split("## Global options", 1)[1].split("\n## ", 1)[0]
    rows = {m.group() for line in block.splitlines() if line.startswith("| `")
            for token in re.findall(r"`([^`]+)`", re.split(r"(?<!\\)\|", line)[1])
            if (m := re.match(r"--?[A-Za-z0-9][\w.-]*", token))}
    assert rows == global_options(), (rows ^ global_options())
    assert documented == {}  # the index page documents no command's own options


@pytest.mark.parametrize("path", _leaf_paths(), ids=" ".join)
def test_page_lists_exactly_the_commands_options(path: tuple[str, ...]) -> None:
    page = PAGES / f"{path[0]}.md"
    assert page.is_file(), f"docs/commands/{path[0]}.md is missing (every registered command needs a page)"
    title = "trustcopy " + " ".join(path)
    sections = page_sections(page)
    assert title in sections, f"{page.relative_to(ROOT)} has no heading '{title}'"
    shown = help_options(path)
    inherited = global_options() - ROOT_ONLY
    assert inherited <= shown, f"{title} does not take the global options"
    own = shown - inherited
    documented = sections[title]
    assert documented == own, (
        f"{page.relative_to(ROOT)}, section '{title}': only in --help: {sorted(own - documented)}; "
        f"only in the page: {sorted(documented - own)}"
    )


def test_the_comparison_can_fail(tmp_path: Path) -> None:
    """A page missing an option, or listing one the CLI lacks, is seen."""
    page = tmp_path / "verify.md"
    text = (PAGES / "verify.md").read_text()
    page.write_text(text.replace("| `--digestfile PATH` |", "| `--digest-file PATH` |"))
    sections = page_sections(page)
    own = help_options(("verify",)) - global_options()
    assert sections["trustcopy verify"] ^ own == {"--digestfile", "--digest-file"}
