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
@_OUTPUT
@add_global_options
@click.pass_context
def explain_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Evaluate the policy for IMAGE-NAME without copying it, and show why it is accepted or rejected."""
    opts = global_options(ctx, kwargs)
    from trustcopy.errors import TrustcopyError

    try:
        verdict = _evaluate(opts, kwargs["image_name"])
    except TrustcopyError as exc:
        exc.exit_status = 2  # 1 is reserved for "evaluated and rejected"
        raise
    if kwargs["output"] == "json":
        echo_json(verdict.to_json())
    else:
        _render_verdict(verdict)
    ctx.exit(0 if verdict.allowed else 1)


def _render_verdict(verdict: Any) -> None:
    """The human trace: outcome, scope, each requirement and each signature."""
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    head = "[bold green]ACCEPTED[/]" if verdict.allowed else "[bold red]REJECTED[/]"
    out.print(f"{head} {escape(verdict.image)}")
    out.print(f"  scope:   {escape(verdict.scope_label)} ({verdict.scope_kind}; identity "
              f"{escape(repr(verdict.identity))})")
    if verdict.overridden:
        out.print(f"  overrides: {escape(', '.join(verdict.overridden))}")
    if verdict.require_signed:
        out.print(f"  --require-signed: {'satisfied' if verdict.signature_verified else 'not satisfied'}")
    out.print(f"  reason:  {verdict.reason}: {escape(verdict.message)}")
    for req in verdict.requirements:
        mark = "[green]ok[/]  " if req.allowed else "[red]FAIL[/]"
        out.print(f"  {mark} {escape(req.path)}: {escape(req.description)}")
        out.print(f"         {req.reason}: {escape(req.message)}")
        for sig in req.signatures:
            facts = [f"signature {sig.index} ({sig.format}) {sig.status} {sig.reason}"]
            if sig.key_fingerprint:
                facts.append(f"key {sig.key_fingerprint}")
            if sig.claimed_identity:
                facts.append(f"claims {sig.claimed_identity!r}")
            if sig.expected_identity:
                facts.append(f"expected {sig.expected_identity}")
            out.print(f"           - {escape('; '.join(facts))}")
            if sig.status != "accepted" and sig.message:
                out.print(f"             {escape(sig.message)}")


def _evaluate(opts: Any, image_name: str) -> Any:
    from trustcopy.errors import UsageError
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy, load_policy
    from trustcopy.transports.alltransports import parse_image_name

    if opts.insecure_policy and opts.require_signed:
        raise UsageError("--insecure-policy and --require-signed are mutually exclusive")
    policy = insecure_accept_anything_policy() if opts.insecure_policy else load_policy(_policy_path(opts))
    ref = parse_image_name(image_name)
    source = ref.new_image_source(opts.system_context())
    with PolicyContext(policy, require_signed=opts.require_signed) as pc, source:
        return pc.evaluate(UnparsedImage(source))
