"""``trustcopy policy lint`` and ``trustcopy policy explain``.

``lint`` exits 0 when clean, 1 with errors (with ``--strict``, also with warnings).
``explain`` exits 0 when the image is accepted, 1 when rejected, 2 on any other error
(unreadable policy, bad image name, unreachable source). Both print text by default and
the documented JSON with ``--output json`` (docs/policy.md).
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options

_OUTPUT = click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
                       help="Output format.")


@click.group("policy", context_settings={"help_option_names": ["-h", "--help"]})
@add_global_options
@click.pass_context
def policy_group(ctx: click.Context, **kwargs: Any) -> None:
    """Check a trust policy, or explain its decision for an image."""
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
    """The human trace: one block per judged image (one, or each planned instance of a list)."""
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    if not evaluation.is_list:
        _render_verdict(out, evaluation.verdicts[0].verdict, "")
        return
    head = "[bold green]ACCEPTED[/]" if evaluation.allowed else "[bold red]REJECTED[/]"
    count = len(evaluation.verdicts)
    out.print(f"{head} {escape(evaluation.image)} (manifest list {evaluation.digest}; "
              f"{count} instance{'s' if count != 1 else ''} judged, as copy would take them)")
    for planned in evaluation.verdicts:
        platform = f" ({planned.platform})" if planned.platform else ""
        out.print(f"instance {planned.instance_digest}{escape(platform)}:")
        _render_verdict(out, planned.verdict, "  ")


def _render_verdict(out: Any, verdict: Any, indent: str) -> None:
    """One verdict: outcome, scope, each requirement and each signature."""
    from rich.markup import escape

    head = "[bold green]ACCEPTED[/]" if verdict.allowed else "[bold red]REJECTED[/]"
    out.print(f"{indent}{head} {escape(verdict.image)}")
    out.print(f"{indent}  scope:   {escape(verdict.scope_label)} ({verdict.scope_kind}; identity "
              f"{escape(repr(verdict.identity))})")
    if verdict.overridden:
        out.print(f"{indent}  overrides: {escape(', '.join(verdict.overridden))}")
    if verdict.require_signed:
        out.print(f"{indent}  --require-signed: {'satisfied' if verdict.signature_verified else 'not satisfied'}")
    out.print(f"{indent}  reason:  {verdict.reason}: {escape(verdict.message)}")
    for req in verdict.requirements:
        mark = "[green]ok[/]  " if req.allowed else "[red]FAIL[/]"
        out.print(f"{indent}  {mark} {escape(req.path)}: {escape(req.description)}")
        out.print(f"{indent}         {req.reason}: {escape(req.message)}")
        for sig in req.signatures:
            facts = [f"signature {sig.index} ({sig.format}) {sig.status} {sig.reason}"]
            if sig.location:
                facts.append(f"at {sig.location}")
            if sig.key_fingerprint:
                facts.append(f"key {sig.key_fingerprint}")
            if sig.claimed_identity:
                facts.append(f"claims {sig.claimed_identity!r}")
            if sig.expected_identity:
                facts.append(f"expected {sig.expected_identity}")
            out.print(f"{indent}           - {escape('; '.join(facts))}")
            if sig.status != "accepted" and sig.message:
                out.print(f"{indent}             {escape(sig.message)}")


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
