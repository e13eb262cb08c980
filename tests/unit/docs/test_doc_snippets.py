"""The documentation's examples are real: commands parse, policies load, YAML is valid, links resolve.

- Every ``trustcopy …`` command in a ```` ```sh ```` block of docs/ and README.md, and in the
  CI jobs of docs/ci.md (``run:``/``script:``), parses with the CLI (options, arguments,
  choices), without running it. Shell variables become placeholders.
- Every policy (a ```` ```json ```` block with ``"default"``) in the guide and cookbook
  loads with the strict parser.
- The ``policy test`` example in docs/commands/policy.md loads with the strict cases loader.
- Every relative link between the pages points to an existing file and heading.

Running the examples is tested too: tests/integration/test_docs_run.py.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from trustcopy.cli.app import cli

ROOT = Path(__file__).resolve().parents[3]
DOCS = sorted([*(ROOT / "docs").rglob("*.md"), ROOT / "README.md", ROOT / "policies" / "README.md"])
_OPERATORS = {";", "&&", "||", "|", "(", ")", ">", ">>", "<", "&", "2>", "2>&1"}
_COMMAND_START = {";", "&&", "||", "|", "(", "then", "if", "do", "!", "else"}


def fenced_blocks(page: Path, language: str) -> Iterator[str]:
    """The contents of the page's ```` ```LANGUAGE ```` blocks."""
    text = page.read_text()
    for match in re.finditer(rf"^```{language}\n(.*?)^```", text, re.M | re.S):
        yield match.group(1)


def _placeholders(text: str) -> str:
    """Shell and CI expressions → placeholder words, so the rest can be split like a shell would."""
    text = re.sub(r"\$\{\{[^}]*\}\}", "x", text)  # GitHub expressions
    text = re.sub(r"\$\([^)]*\)", "x", text)  # command substitutions
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "x", text)


def trustcopy_commands(script: str) -> list[list[str]]:
    """Every ``trustcopy`` invocation in a shell script, as argv without the program name."""
    lines: list[str] = []
    pending = ""
    heredoc: str | None = None
    for raw in script.splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if (m := re.search(r"<<-?\s*'?([A-Z]+)'?", line)) is not None:
            heredoc = m.group(1)
        lines.append(line)
    out: list[list[str]] = []
    for line in lines:
        lexer = shlex.shlex(_placeholders(line), posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "trustcopy" and (i == 0 or tokens[i - 1] in _COMMAND_START):
                argv = []
                for word in tokens[i + 1:]:
                    if word in _OPERATORS or word.startswith((">", "<", "|", ";", "&")):
                        break
                    argv.append(word)
                out.append(argv)
    return out


def parse_only(argv: list[str]) -> click.Context:
    """Parse ``trustcopy ARGV`` down to the leaf command, running nothing.

    Raises:
        click.UsageError: an unknown option, a bad choice, a missing argument …
    """
    ctx = cli.make_context("trustcopy", list(argv))
    group: click.Group = cli
    args = [*ctx._protected_args, *ctx.args]
    while True:
        name, cmd, rest = group.resolve_command(ctx, args)
        assert cmd is not None and name is not None
        ctx = cmd.make_context(name, rest, parent=ctx)
        if not isinstance(cmd, click.Group):
            return ctx
        group = cmd
        args = [*ctx._protected_args, *ctx.args]


def _sh_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in DOCS:
        for block in fenced_blocks(page, "sh"):
            found.extend((page.relative_to(ROOT).as_posix(), argv) for argv in trustcopy_commands(block))
    return found


SH_COMMANDS = _sh_commands()


def test_the_docs_have_commands_to_check() -> None:
    pages = {page for page, _ in SH_COMMANDS}
    assert {"docs/guide.md", "docs/promotion.md", "docs/cookbook.md", "docs/commands/verify.md",
            "docs/commands/policy.md", "README.md"} <= pages
    assert len(SH_COMMANDS) > 30


@pytest.mark.parametrize(("page", "argv"), SH_COMMANDS, ids=[f"{p}:{' '.join(a[:2])}" for p, a in SH_COMMANDS])
def test_shell_examples_parse(page: str, argv: list[str]) -> None:
    try:
        parse_only(argv)
    except click.exceptions.Exit as exit_:  # --version, --help: parsed, and they stop there
        assert exit_.exit_code == 0
    except click.UsageError as exc:
        pytest.fail(f"{page}: `trustcopy {shlex.join(argv)}` does not parse: {exc.format_message()}")


def test_a_broken_example_is_caught() -> None:
    with pytest.raises(click.UsageError):
        parse_only(["verify", "--output", "xml", "docker://x/y:1"])
    with pytest.raises(click.UsageError):
        parse_only(["policy", "test", "--bogus", "f.yaml"])
    assert trustcopy_commands('echo "$P" | trustcopy login -u "$U" --password-stdin reg > log\n'
                              "if trustcopy verify \\\n  dir:/x; then exit 1; fi\n") == [
        ["login", "-u", "x", "--password-stdin", "reg"], ["verify", "dir:/x"]]


# --- the CI page ----------------------------------------------------------------------------


def _ci_scripts() -> dict[str, list[str]]:
    """Job kind → the shell scripts of docs/ci.md's YAML blocks."""
    scripts: dict[str, list[str]] = {"github": [], "gitlab": []}
    for block in fenced_blocks(ROOT / "docs" / "ci.md", "yaml"):
        doc = yaml.safe_load(block)
        assert isinstance(doc, dict)
        if "jobs" in doc:
            for job in doc["jobs"].values():
                scripts["github"].extend(step["run"] for step in job["steps"] if "run" in step)
        else:
            for job in doc.values():
                for key in ("before_script", "script"):
                    scripts["gitlab"].extend(job.get(key, []))
    return scripts


def test_ci_jobs_are_valid_yaml_and_their_commands_parse() -> None:
    scripts = _ci_scripts()
    for kind, runs in scripts.items():
        commands = [argv for script in runs for argv in trustcopy_commands(script)]
        names = [" ".join(a for a in argv if not a.startswith("-"))[:13] for argv in commands]
        assert any(argv[0] == "verify" for argv in commands), kind
        assert any(n.startswith("policy test") for n in names), kind
        assert any(argv[0] == "login" for argv in commands), kind
        for argv in commands:
            ctx = parse_only(argv)
            if argv[0] == "verify":
                assert ctx.params["output"] == "junit" and ctx.params["digestfile"] == "verified.txt", kind


def ci_verify_command(kind: str) -> list[str]:
    """The verify command of one CI job (tests/integration/test_docs_run.py runs it)."""
    for script in _ci_scripts()[kind]:
        for argv in trustcopy_commands(script):
            if argv and argv[0] == "verify":
                return argv
    raise AssertionError(f"no verify command in the {kind} job")


# --- policies and cases ---------------------------------------------------------------------


def _policies() -> list[tuple[str, str]]:
    out = []
    for name in ("guide.md", "cookbook.md"):
        for block in fenced_blocks(ROOT / "docs" / name, "json"):
            if '"default"' in block:
                out.append((name, block))
    return out


def test_documented_policies_load() -> None:
    from trustcopy.policy.parse import parse_policy

    policies = _policies()
    assert len(policies) >= 6
    for name, block in policies:
        parse_policy(block, source=f"docs/{name}")


def test_policy_test_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.copy.policytest import load_policy_tests

    block = next(b for b in fenced_blocks(ROOT / "docs" / "commands" / "policy.md", "yaml") if "cases:" in b)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ci" / "registries.d").mkdir(parents=True)
    (tmp_path / "testdata").mkdir()  # dir: and oci: names need an existing parent directory
    (tmp_path / "policy-tests.yaml").write_text(block)
    suite = load_policy_tests("policy-tests.yaml")
    assert [c.expected for c in suite.cases] == ["accepted", "rejected (NO_SIGNATURES)", "rejected", "accepted"]


# --- links ----------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def _links() -> list[tuple[Path, str]]:
    out = []
    for page in DOCS:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if not re.match(r"[a-z]+:", target):
                out.append((page, target))
    return out


def test_relative_links_resolve() -> None:
    links = _links()
    assert len(links) > 40
    broken: list[Any] = []
    for page, target in links:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append((page.relative_to(ROOT).as_posix(), target, "no such file"))
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append((page.relative_to(ROOT).as_posix(), target, "no such heading"))
    assert broken == []
