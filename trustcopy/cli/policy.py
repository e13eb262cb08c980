"""``trustcopy policy lint``, ``trustcopy policy explain`` and ``trustcopy policy test``.

``lint`` exits 0 when clean, 1 with errors (with ``--strict``, also with warnings).
``explain`` exits 0 when the image is accepted, 1 when rejected, 2 on any other error
(unreadable policy, bad image name, unreachable source). Both print text by default and
the documented JSON with ``--output json`` (docs/policy.md).
``test`` runs a YAML file of cases (trustcopy.copy.policytest) and exits 0 only if every
case passes, 1 if one fails or cannot be evaluated, 2 when the file, the policy or the
flags are invalid (nothing ran).
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options
from trustcopy.cli.pflag import PflagGroup

_OUTPUT = click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
                       help="Output format.")


@click.group("policy", cls=PflagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@add_global_options
@click.pass_context
def policy_group(ctx: click.Context, **kwargs: Any) -> None:
    """Check a trust policy, explain its decision for an image, or test it against expected verdicts."""
    global_options(ctx, kwargs)


def _policy_path(opts: Any) -> str:
    from trustcopy.paths import default_policy_path

    return str(opts.policy or default_policy_path())


@policy_group.command("lint")
@click.option("--strict", is_flag=True, help="Count warnings as errors (exit 1).")
@_OUTPUT
@add_global_options
@click.pass_context
def lint_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Validate a policy (--policy FILE, else the default policy) and warn about likely mistakes."""
    opts = global_options(ctx, kwargs)
    from trustcopy.policy.lint import lint_policy_file

    report = lint_policy_file(_policy_path(opts))
    if kwargs["output"] == "json":
        echo_json(report.to_json())
    else:
        _render_lint(report)
    ctx.exit(report.exit_status(strict=kwargs["strict"]))


def _render_lint(report: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    for finding in report.findings:
        style = "bold red" if finding.severity == "error" else "yellow"
        code = escape(f"[{finding.code}]")
        out.print(f"[{style}]{finding.severity}[/][dim]{code}[/] {escape(finding.path)}: {escape(finding.message)}")
    summary = f"{report.source}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    out.print(f"[bold green]{escape(summary)}[/]" if not report.findings else escape(summary))


@policy_group.command("explain")
@click.argument("image_name", metavar="IMAGE-NAME")
@click.option("-a", "--all", "all_", is_flag=True,
              help="For a manifest list, judge every instance (as copy --all would copy them).")
@click.option("--multi-arch", type=click.Choice(["system", "all"]), default=None,
              help="For a manifest list: judge the instance for this platform (system, the default) or all.")
@_OUTPUT
@add_global_options
@click.pass_context
def explain_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Evaluate the policy for IMAGE-NAME without copying it, and show why it is accepted or rejected.

    On a manifest list the instances a copy would take are judged, exactly as copy judges them.
    """
    opts = global_options(ctx, kwargs)
    from trustcopy.errors import TrustcopyError

    try:
        evaluation = _evaluate(opts, kwargs)
    except TrustcopyError as exc:
        raise exc.rewrapped(exit_status=2) from exc  # 1 is reserved for "evaluated and rejected"
    if kwargs["output"] == "json":
        echo_json(evaluation.to_json())
    else:
        _render_evaluation(evaluation)
    ctx.exit(0 if evaluation.allowed else 1)


def _render_evaluation(evaluation: Any) -> None:
    """The human trace (trustcopy.copy.trace): one block per judged image."""
    from rich.console import Console

    from trustcopy.copy.trace import evaluation_trace

    print_trace(Console(highlight=False, soft_wrap=True), evaluation_trace(evaluation))


def print_trace(out: Any, lines: Any) -> None:
    """Print trace lines on a rich console, the marks coloured (green good, red bad)."""
    from rich.markup import escape

    for line in lines:
        if line.good is None:
            out.print(escape(str(line)))
            continue
        style = "bold green" if line.good else "bold red"
        if line.mark in ("ok  ", "FAIL"):
            style = style.removeprefix("bold ")
        out.print(f"{escape(line.indent)}[{style}]{escape(line.mark)}[/] {escape(line.text)}")


def _evaluate(opts: Any, kwargs: dict[str, Any]) -> Any:
    from trustcopy.copy.evaluate import evaluate_image
    from trustcopy.copy.options import CopyOptions, ImageListSelection
    from trustcopy.errors import UsageError
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy, load_policy
    from trustcopy.transports.alltransports import parse_image_name

    if opts.insecure_policy and opts.require_signed:
        raise UsageError("--insecure-policy and --require-signed are mutually exclusive")
    if kwargs["all_"] and kwargs["multi_arch"] not in (None, "all"):
        raise UsageError("--all and --multi-arch cannot be combined with different values")
    selection = ImageListSelection(kwargs["multi_arch"] or ("all" if kwargs["all_"] else "system"))
    policy = insecure_accept_anything_policy() if opts.insecure_policy else load_policy(_policy_path(opts))
    ref = parse_image_name(kwargs["image_name"])
    options = CopyOptions(image_list_selection=selection, source_ctx=opts.system_context())
    with PolicyContext(policy, require_signed=opts.require_signed) as pc:
        return evaluate_image(pc, ref, options)


def _docker_options(func: Any) -> Any:
    from trustcopy.cli.docker_options import image_docker_options

    return image_docker_options(func)


@policy_group.command("test")
@click.argument("cases_file", metavar="FILE")
@click.option("-o", "--output", type=click.Choice(["text", "junit"]), default="text", show_default=True,
              help="Output format: one line per case (traces of failures), or JUnit XML.")
@_docker_options
@add_global_options
@click.pass_context
def test_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Run the YAML test cases in FILE against the policy (--policy FILE, else the default policy).

    Each case names an image and the expected verdict (accepted or rejected), optionally
    the expected reason code, a registries.d directory and --multi-arch. Failures show the
    trace. Exit status: 0 all cases pass, 1 a case fails or cannot be evaluated, 2 the
    file, the policy or the flags are invalid.
    """
    opts = global_options(ctx, kwargs)
    from trustcopy.cli.docker_options import apply_image_docker_options
    from trustcopy.copy.policytest import load_policy_tests, run_policy_tests
    from trustcopy.errors import TrustcopyError, UsageError

    try:
        if opts.insecure_policy:
            raise UsageError("--insecure-policy makes every case accepted; policy test needs the policy under test",
                             hint="give the policy with --policy FILE")
        source_ctx = apply_image_docker_options(opts.system_context(), kwargs)
        suite = load_policy_tests(kwargs["cases_file"])
        report = run_policy_tests(suite, _policy_path(opts), require_signed=opts.require_signed,
                                  source_ctx=source_ctx)
    except TrustcopyError as exc:
        raise exc.rewrapped(exit_status=2) from exc  # 1 is reserved for "a case failed"
    if kwargs["output"] == "junit":
        import sys

        sys.stdout.buffer.write(report.to_junit())
        sys.stdout.flush()
    else:
        _render_policy_tests(report)
    ctx.exit(report.exit_status)


def _render_policy_tests(report: Any) -> None:
    """One line per case; a failing or erroring case is followed by its trace."""
    from rich.console import Console
    from rich.markup import escape

    from trustcopy.copy.policytest import CaseStatus
    from trustcopy.copy.trace import TraceLine, evaluation_trace

    out = Console(highlight=False, soft_wrap=True)
    marks = {CaseStatus.PASSED: ("PASS ", "bold green"), CaseStatus.FAILED: ("FAIL ", "bold red"),
             CaseStatus.ERROR: ("ERROR", "bold red")}
    for result in report.results:
        mark, style = marks[result.status]
        out.print(f"[{style}]{mark}[/] {escape(result.line())}")
        if result.status is CaseStatus.PASSED:
            continue
        if result.evaluation is not None:
            print_trace(out, evaluation_trace(result.evaluation, "      "))
        elif result.error is not None and result.error.hint:
            print_trace(out, [TraceLine("      ", "", f"hint: {result.error.hint}")])
    style = "bold green" if report.exit_status == 0 else "bold red"
    out.print(f"[{style}]{escape(report.summary())}[/]")
