"""``trustcopy verify [--policy FILE] IMAGE...``: the CI gate, flags → verify_images() → one report.

The report is built by :mod:`trustcopy.copy.verify`; this module parses the flags and
prints. Exit status: 0 every image accepted, 1 some image rejected, 2 anything that could
not be evaluated (usage, policy, configuration, an unreachable or missing image, the
digest file). With ``--output json`` or ``--output junit`` the document is printed even
then, so that a CI job always has a report to show.
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options
from trustcopy.cli.pflag import PflagCommand


def _docker_options(func: Any) -> Any:
    from trustcopy.cli.docker_options import image_docker_options

    return image_docker_options(func)


@click.command("verify", cls=PflagCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image_names", metavar="IMAGE-NAME...", nargs=-1, required=True)
@click.option("-a", "--all", "all_", is_flag=True,
              help="For a manifest list, verify every instance (as copy --all would copy them).")
@click.option("--multi-arch", type=click.Choice(["system", "all"]), default=None,
              help="For a manifest list: verify the instance for this platform (system, the default) or all.")
@click.option("-o", "--output", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="Output format: one line per image, the JSON report, or JUnit XML.")
@click.option("--digestfile", metavar="PATH",
              help="Write NAME@DIGEST of each accepted image to PATH (replaced atomically on every run).")
@_docker_options
@add_global_options
@click.pass_context
def verify_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Evaluate the trust policy for each IMAGE-NAME as copy would, without copying anything.

    Reads manifests and signatures only, never a layer. Prints one verdict line per image
    with the digest that was verified. Exit status: 0 all accepted, 1 one rejected, 2 an
    image could not be evaluated (or a usage, policy or configuration error).
    """
    # --registries.d and --registries-conf go into the SystemContext: the docker:// transport
    # reads signatures from the lookaside they name (through mirrors, if any).
    opts = global_options(ctx, kwargs, reports_errors=True)
    from trustcopy.copy.verify import failed_report, verify_images
    from trustcopy.errors import TrustcopyError

    names = list(kwargs["image_names"])
    output = kwargs["output"]
    usage_error = None
    try:
        options = _copy_options(opts, kwargs)
    except TrustcopyError as exc:
        usage_error = exc
        report = failed_report(names, exc, policy=opts.policy, insecure_policy=opts.insecure_policy,
                               require_signed=opts.require_signed)
    else:
        report = verify_images(names, policy_path=opts.policy, insecure_policy=opts.insecure_policy,
                               require_signed=opts.require_signed, options=options)
    if kwargs["digestfile"]:  # replaced on every run, so an earlier run's list never survives this one
        report = report.with_digestfile(kwargs["digestfile"])
    if usage_error is not None and output == "text":
        raise usage_error.rewrapped(exit_status=2) from usage_error
    _print(report, output)
    ctx.exit(report.exit_status)


def _copy_options(opts: Any, kwargs: dict[str, Any]) -> Any:
    """Instance selection and registry settings, exactly as copy would build them for its source."""
    from trustcopy.cli.docker_options import apply_image_docker_options
    from trustcopy.copy.options import CopyOptions, ImageListSelection
    from trustcopy.errors import UsageError

    if kwargs["all_"] and kwargs["multi_arch"] not in (None, "all"):
        raise UsageError("--all and --multi-arch cannot be combined with different values")
    selection = ImageListSelection(kwargs["multi_arch"] or ("all" if kwargs["all_"] else "system"))
    source_ctx = apply_image_docker_options(opts.system_context(), kwargs)
    return CopyOptions(image_list_selection=selection, source_ctx=source_ctx)


def _print(report: Any, output: str) -> None:
    """The document on stdout; errors and the summary on stderr (the traces too, for text)."""
    import sys

    if output == "text":
        _print_text(report)
        return
    from trustcopy.redact import scrub

    if output == "json":
        echo_json(_scrubbed(report.to_json()))
    else:
        sys.stdout.buffer.write(report.to_junit())  # (junit_xml masks every known secret)
        sys.stdout.flush()
    for image in report.images:
        if image.error is not None and image.error is not report.error:
            click.echo(scrub(f"{image.name}: {image.error.diagnostics()}"), err=True)
    if report.error is not None:
        click.echo(scrub(report.error.diagnostics()), err=True)
    click.echo(report.summary(), err=True)


def _scrubbed(value: Any) -> Any:
    """A JSON value with every string's known secrets masked (redact.scrub), as the error line is."""
    from trustcopy.redact import scrub

    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def _print_text(report: Any) -> None:
    """One line per image on stdout; the trace of each rejected image and each error on stderr."""
    from rich.console import Console
    from rich.markup import escape

    from trustcopy.cli.policy import print_trace
    from trustcopy.copy.trace import evaluation_trace
    from trustcopy.copy.verify import Status
    from trustcopy.redact import scrub

    out = Console(highlight=False, soft_wrap=True)
    err = Console(highlight=False, soft_wrap=True, stderr=True)
    styles = {Status.ACCEPTED: "bold green", Status.REJECTED: "bold red", Status.ERROR: "bold red"}
    for image in report.images:
        out.print(f"[{styles[image.status]}]{image.status.upper():<8}[/] {escape(scrub(image.line()))}")
    for image in report.images:
        if image.status is Status.ACCEPTED:
            # One line naming the requirement, signature and key (or insecureAcceptAnything)
            # that let the image through: a CI log must show why a gate passed, too.
            _reason, message = image.outcome()
            err.print(escape(scrub(f"why {image.name} was accepted: {message}")))
        elif image.status is Status.REJECTED:
            err.print(f"why {escape(image.name)} was rejected:")
            print_trace(err, evaluation_trace(image.evaluation, "  "))
        elif image.status is Status.ERROR and image.error is not report.error:
            err.print(escape(scrub(f"{image.name}: {image.error.diagnostics()}")))
    if report.error is not None:
        err.print(escape(scrub(report.error.diagnostics())))
    err.print(escape(report.summary()))
