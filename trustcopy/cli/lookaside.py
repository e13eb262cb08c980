"""``trustcopy lookaside where``: which registries.d and registries.conf entries place an image's signatures.

The command only parses arguments, loads the two configurations and calls
:func:`trustcopy.stores.where.where`; it reads no store and contacts no registry.
Configuration warnings (unknown keys) and shared-path warnings go to stderr as
``warning: …`` lines with text output, and into ``"warnings"`` with ``--output json``.
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options
from trustcopy.cli.pflag import PflagGroup

_OUTPUT = click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
                       help="Output format.")


@click.group("lookaside", cls=PflagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@add_global_options
@click.pass_context
def lookaside_group(ctx: click.Context, **kwargs: Any) -> None:
    """Lookaside signature stores (registries.d): where signatures of registry images live."""
    global_options(ctx, kwargs)


@lookaside_group.command("where")
@click.argument("image", metavar="IMAGE")
@_OUTPUT
@add_global_options
@click.pass_context
def where_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Show where signatures of IMAGE (docker://NAME[:TAG|@DIGEST] or NAME) are read and written."""
    opts = global_options(ctx, kwargs)
    from trustcopy.stores.registries_d import load_registries_d
    from trustcopy.stores.where import where
    from trustcopy.sysregistries import load_registries_conf

    ref = _parse_image(kwargs["image"])
    registries_d = load_registries_d(opts.registries_d, report_warnings=False)
    registries_conf = load_registries_conf(opts.registries_conf, report_warnings=False)
    result = where(ref, registries_d, registries_conf)
    if kwargs["output"] == "json":
        echo_json(result.to_json())
        return
    _render(result)


def _parse_image(text: str) -> Any:
    from trustcopy.errors import InvalidReferenceError, UsageError
    from trustcopy.reference import parse_normalized_named

    name = text
    if text.startswith("docker://"):
        name = text[len("docker://"):]
    elif text.startswith("docker:"):
        raise InvalidReferenceError(f"docker: image reference {text[7:]} does not start with //",
                                    hint=f"write docker://{text[7:]}")
    ref = parse_normalized_named(name)
    if ref.tag is not None and ref.digest is not None:
        raise UsageError(f"{text}: a reference with both a tag and a digest is not supported (as docker://)")
    return ref.tag_name_only()


def _render(result: Any) -> None:
    echo = click.echo
    echo(f"image: {result.reference}")
    d = result.registries_d
    echo(f"registries.d: {d.directory or '(no directory)'} ({len(d.files)} file(s))")
    conf = result.registries_conf
    echo(f"registries.conf: {', '.join(conf.files) or '(no file)'}")
    echo(f"  entry: {result.registry.describe() if result.registry is not None else '(none matches)'}")
    echo("read (pull sources in order):")
    for i, place in enumerate(result.reads, 1):
        src = place.source
        kind = "mirror" if src.mirror else "primary"
        flags = ", insecure" if src.endpoint.insecure else ""
        echo(f"  {i}. {src.reference} ({kind}{flags})")
        if src.blocked_by is not None:
            echo(f"     BLOCKED by {src.blocked_by.describe()}")
        _render_choice(result, place.lookaside, src.reference, place.attachments)
    push = result.push
    echo(f"write: {push.reference}{' (insecure)' if push.insecure else ''}")
    if push.blocked_by is not None:
        echo(f"     BLOCKED by {push.blocked_by.describe()}")
    _render_choice(result, result.write, push.reference, result.write_attachments)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for message in result.sharing:
        click.echo(f"warning: {message}", err=True)


def _render_choice(result: Any, choice: Any, ref: Any, attachments: Any) -> None:
    from trustcopy.redact import redact_url

    echo = click.echo
    if choice.section is not None:
        echo(f"     lookaside: {redact_url(choice.location.base_url)}  ({choice.key} of {choice.section.label} in "
             f"{choice.section.file})")
    else:
        echo(f"     lookaside: {redact_url(choice.location.base_url)}  (built-in default)")
    if choice.matched:
        echo(f"     sections matched: {'; '.join(choice.matched)}")
    echo(f"     signatures: {result.signature_url(choice, ref)}")
    source = f"{attachments.section.label} in {attachments.section.file}" if attachments.section else "default"
    echo(f"     sigstore attachments: {'yes' if attachments.value else 'no'} ({source})")
