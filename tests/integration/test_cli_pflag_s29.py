"""Command lines written for skopeo parse the same here (trustcopy/cli/pflag.py).

Found by a differential review against skopeo 1.9.3 (session 29): click kept the ``=`` of
``-f=VALUE`` (``inspect -f='{{.Os}}'`` printed ``=linux`` and exited 0; ``standalone-sign
-o=out.sig`` wrote ``=out.sig``), refused ``--flag=true``/``=false`` on every boolean flag,
read ``--tls-verify=fAlse`` as false, and refused ``--retry-times 0x10`` and ``-1``. The
expected behaviour is pflag's (``parseSingleShortArg``, ``BoolVar``'s ``NoOptDefVal``,
``strconv.ParseBool``, ``strconv.ParseInt(s, 0, 64)``), checked against skopeo itself
where it is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from imagefactory import example_image, write_oci

from trustcopy.cli.pflag import GO_FALSE, GO_TRUE, PflagCommand, PflagGroup, parse_go_bool, parse_go_int


@pytest.fixture
def layout(tmp_path: Path) -> str:
    path = tmp_path / "layout"
    write_oci({"v1": example_image()}, str(path))
    return f"oci:{path}:v1"


def test_short_option_with_equals_drops_the_equals(run_cli: Callable[..., Any], layout: str) -> None:
    r = run_cli("inspect", "-f={{.Os}}", layout)
    assert (r.exit_code, r.stdout) == (0, "linux\n"), r.stderr
    # Attached without "=", and after a boolean in one cluster, as pflag reads them too.
    assert run_cli("inspect", "-f{{.Os}}", layout).stdout == "linux\n"
    assert run_cli("inspect", "-nf={{.Os}}", layout).stdout == "linux\n"
    assert run_cli("inspect", "-n=true", "-f", "{{.Architecture}}", layout).stdout == "amd64\n"


def test_copy_format_and_quiet_written_the_pflag_way(run_cli: Callable[..., Any], layout: str, tmp_path: Path,
                                                     insecure_policy: Path) -> None:
    r = run_cli("--policy", str(insecure_policy), "copy", "-q=true", "-f=v2s2", layout, f"dir:{tmp_path / 'out'}")
    assert (r.exit_code, r.stdout) == (0, ""), r.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"


@pytest.mark.parametrize(("args", "raw"), [
    (["inspect", "--raw=true"], True),
    (["inspect", "--raw=True"], True),
    (["inspect", "--raw=1"], True),
    (["inspect", "--raw=false"], False),
    (["inspect", "--raw=F"], False),
    (["--debug=false", "inspect", "--raw"], True),
    (["inspect", "--no-tags=true", "--raw=0"], False),
])
def test_boolean_flags_take_an_attached_value(run_cli: Callable[..., Any], layout: str, args: list[str],
                                              raw: bool) -> None:
    r = run_cli(*args, layout)
    assert r.exit_code == 0, r.stderr
    assert ("Digest" not in json.loads(r.stdout)) is raw  # raw: the manifest itself; else inspect's report


def test_boolean_flags_with_equals_false_are_off(run_cli: Callable[..., Any], layout: str, tmp_path: Path,
                                                 insecure_policy: Path) -> None:
    """``--insecure-policy=false`` leaves the policy in force; ``=true`` sets it aside."""
    reject = tmp_path / "reject.json"
    reject.write_text('{"default": [{"type": "reject"}]}')
    off = run_cli("--policy", str(reject), "--insecure-policy=false", "copy", "-q", layout, f"dir:{tmp_path / 'a'}")
    assert off.exit_code == 1 and "rejected" in off.stderr.lower()
    on = run_cli("--policy", str(reject), "--insecure-policy=true", "copy", "--quiet=true",
                 "--remove-signatures=false", layout, f"dir:{tmp_path / 'b'}")
    assert on.exit_code == 0, on.stderr


@pytest.mark.parametrize("value", ["fAlse", "yes", "no", " true", "true ", "2", ""])
def test_boolean_values_skopeo_refuses_are_usage_errors(run_cli: Callable[..., Any], layout: str, value: str) -> None:
    for args in (["inspect", f"--raw={value}"], ["inspect", f"-n={value}"] if value else ["inspect", "-n=x"]):
        r = run_cli(*args, layout)
        assert r.exit_code == 2, (args, r.stdout)
        assert "invalid argument" in r.stderr and r.stdout == ""


def test_a_boolean_flag_never_takes_the_next_argument(run_cli: Callable[..., Any], layout: str) -> None:
    """``--raw false`` is ``--raw`` and a second positional argument, as in pflag."""
    r = run_cli("inspect", "--raw", "false", layout)
    assert r.exit_code == 2 and "Got unexpected extra argument" in r.stderr


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("0", 0), ("-1", -1), ("+7", 7), ("0x10", 16), ("0X1f", 31), ("017", 15), ("0o17", 15),
    ("0b101", 5), ("1_000", 1000), ("0x_10", 16), ("0_17", 15), ("-0x10", -16), ("9223372036854775807", (1 << 63) - 1),
    ("-9223372036854775808", -(1 << 63)),
])
def test_integers_as_strconv_parseint_base_0(text: str, value: int) -> None:
    assert parse_go_int(text, "--retry-times") == value


@pytest.mark.parametrize("text", ["", "-", "0x", "abc", "1.5", "1e3", "_1", "1__0", "1_", "0x_", "08", "0b2",
                                  "9223372036854775808", " 3", "٣"])
def test_integers_strconv_refuses(text: str) -> None:
    with pytest.raises(click.BadOptionUsage, match="--retry-times"):
        parse_go_int(text, "--retry-times")


def test_retry_times_as_skopeo_reads_it(run_cli: Callable[..., Any], layout: str) -> None:
    for value in ("-1", "0x10", "017", "1000"):
        r = run_cli("inspect", "--retry-times", value, "--raw", layout)
        assert r.exit_code == 0, (value, r.stderr)
    bad = run_cli("inspect", "--retry-times", "lots", "--raw", layout)
    assert bad.exit_code == 2 and '"lots"' in bad.stderr


def test_go_bool_spellings_are_strconvs() -> None:
    assert {v: parse_go_bool(v, "--x") for v in GO_TRUE} == dict.fromkeys(GO_TRUE, True)
    assert {v: parse_go_bool(v, "--x") for v in GO_FALSE} == dict.fromkeys(GO_FALSE, False)


def _walk(command: click.Command, ctx: click.Context) -> list[click.Command]:
    found = [command]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _walk(sub, click.Context(sub, parent=ctx, info_name=name))
    return found


def test_every_command_parses_the_pflag_way() -> None:
    from trustcopy.cli.app import cli

    commands = _walk(cli, click.Context(cli, info_name="trustcopy"))
    assert len(commands) > 15
    odd = [c.name for c in commands if not isinstance(c, PflagCommand | PflagGroup)]
    assert odd == []


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")  # ./run installs it
@pytest.mark.parametrize("args", [
    ["inspect", "-f={{.Os}}"], ["inspect", "--raw=false", "-f", "{{.Os}}"], ["inspect", "-n=true", "-f", "{{.Os}}"],
    ["inspect", "--raw=fAlse"], ["inspect", "-n=maybe"], ["inspect", "--retry-times", "0x2", "-f", "{{.Os}}"],
])
def test_skopeo_reads_these_command_lines_the_same(run_cli: Callable[..., Any], layout: str, args: list[str]) -> None:
    theirs = subprocess.run(["skopeo", *args, layout], capture_output=True, text=True, check=False)
    ours = run_cli(*args, layout)
    assert (ours.exit_code == 0) == (theirs.returncode == 0), (theirs.stderr, ours.stderr)
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("path", [[], ["inspect"], ["policy", "lint"], ["copy"]])
def test_help_subcommand_as_skopeos(run_cli: Callable[..., Any], path: list[str]) -> None:
    """cobra's ``skopeo help inspect``: the command's help, exit 0 (found missing in session 29)."""
    ours = run_cli("help", *path)
    assert ours.exit_code == 0, ours.stderr
    assert ours.stdout == run_cli(*path, "--help").stdout


def test_help_of_an_unknown_command_is_a_usage_error(run_cli: Callable[..., Any]) -> None:
    r = run_cli("help", "nope")
    assert r.exit_code == 2 and "unknown help topic 'nope'" in r.stderr
