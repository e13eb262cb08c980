"""``trustcopy inspect`` and ``trustcopy manifest-digest``, with skopeo's output."""

from __future__ import annotations

import sys
from typing import Any

import click

from trustcopy.cli.common import add_global_options, echo_json, global_options
from trustcopy.cli.pflag import PflagCommand


def _docker_options(func: Any) -> Any:
    from trustcopy.cli.docker_options import image_docker_options, shared_blob_dir_option

    return shared_blob_dir_option(image_docker_options(func))


#: Lists inside lists followed by inspect (containers/image has no bound; a list naming itself would loop).
MAX_NESTED_LISTS = 8

@click.command("inspect", cls=PflagCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image_name", metavar="IMAGE-NAME")
@click.option("--raw", is_flag=True, help="Output the raw manifest or configuration.")
@click.option("--config", "config_", is_flag=True, help="Output the configuration.")
@click.option("-n", "--no-tags", is_flag=True, help="Do not list the repository's tags in the output.")
@click.option("-f", "--format", "format_", metavar="TEMPLATE",
              help="Format the output with a Go template, as skopeo (e.g. '{{.Digest}}'; 'json').")
@click.option("--manifest-digest", "digest_algorithm", type=click.Choice(["sha256", "sha512"]), default=None,
              help="Algorithm for the manifest digest (default sha256).")
@_docker_options
@add_global_options
@click.pass_context
def inspect_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Return low-level information about IMAGE-NAME (skopeo's JSON shape)."""
    opts = global_options(ctx, kwargs)
    from trustcopy.errors import TransportError
    from trustcopy.image.sourced import Image, oci_config_newest
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.manifest.mediatypes import guess_mime_type, is_list
    from trustcopy.transports.alltransports import parse_image_name

    if kwargs["format_"] and kwargs["raw"]:
        raise TransportError("raw output does not support format option", code="usage")  # skopeo exits 1
    ref = parse_image_name(kwargs["image_name"])
    sys_ctx = opts.system_context()
    from trustcopy.cli.docker_options import apply_image_docker_options

    sys_ctx = apply_image_docker_options(sys_ctx, kwargs)
    with ref.new_image_source(sys_ctx) as src:
        toplevel = UnparsedImage(src)
        raw, mime = toplevel.manifest()
        if kwargs["raw"] and not kwargs["config_"]:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            return
        unparsed = toplevel
        # A list's chosen instance may be a list again: containers/image's manifestInstanceFromBlob
        # recurses (skopeo inspect shows the image at the end); a bounded number of levels here.
        level_raw, level_mime = raw, mime
        for _level in range(MAX_NESTED_LISTS):
            if not is_list(level_mime or guess_mime_type(level_raw)):
                break
            from trustcopy.copy.evaluate import choose_instance
            from trustcopy.manifest.parse import parse_manifest

            listed = parse_manifest(level_raw, level_mime, source=str(ref))
            unparsed = UnparsedImage(src, choose_instance(listed, sys_ctx, str(ref)))  # type: ignore[arg-type]
            level_raw, level_mime = unparsed.manifest()
        else:
            from trustcopy.errors import ManifestError

            raise ManifestError(f"{ref}: manifest lists nested more than {MAX_NESTED_LISTS} deep")
        image = Image(unparsed)
        schema1 = image.manifest.config is None
        if kwargs["config_"] and kwargs["raw"]:
            # A schema1 image has no config blob: skopeo (ConfigBlob) prints nothing.
            sys.stdout.buffer.write(b"" if schema1 else image.config_blob())
            sys.stdout.flush()
            return
        if kwargs["config_"]:
            _output(oci_config_newest(image.oci_config()), kwargs["format_"], config=True)
            return
        config_desc = image.manifest.config
        # skopeo (newest) hashes with the config digest's algorithm unless --manifest-digest says otherwise.
        digest = _top_digest(raw, kwargs["digest_algorithm"] or (config_desc.digest.algorithm if config_desc else None))
        data = image.inspect(digest)
        if not kwargs["no_tags"] and ref.transport.name == "docker":
            from trustcopy.transports.docker.source import repository_tags

            data["RepoTags"] = repository_tags(ref, sys_ctx)  # type: ignore[arg-type]
    _output(data, kwargs["format_"], config=False)


def _output(data: Any, template: str | None, *, config: bool) -> None:
    """JSON as skopeo prints it, or the user's --format template over the same data."""
    if not template:
        echo_json(data)
        return
    from trustcopy.cli import gotemplate

    if gotemplate.is_json_format(template):
        echo_json(data)
        return
    value = gotemplate.config_value(data) if config else gotemplate.inspect_value(data)
    click.echo(gotemplate.render(template, value, "skopeo inspect"), nl=False)


def _top_digest(raw: bytes, algorithm: str | None) -> Any:
    """The manifest digest (signed schema1: without its signatures, whatever the algorithm)."""
    from trustcopy.digest import ALGORITHMS
    from trustcopy.errors import ManifestError
    from trustcopy.manifest.digest import manifest_digest

    algorithm = algorithm or "sha256"
    if algorithm not in ALGORITHMS:
        raise ManifestError(f'Error computing manifest digest: config digest algorithm "{algorithm}" is not available')
    return manifest_digest(raw, algorithm)


@click.command("manifest-digest", cls=PflagCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("manifest_path", metavar="MANIFEST")
@click.option("--manifest-digest", "digest_algorithm", type=click.Choice(["sha256", "sha512"]), default=None,
              help="Algorithm for the digest (default sha256).")
@add_global_options
@click.pass_context
def manifest_digest_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Compute the manifest digest of the MANIFEST file (as `skopeo manifest-digest`)."""
    global_options(ctx, kwargs)
    from trustcopy import limits
    from trustcopy.errors import TransportError

    path = kwargs["manifest_path"]
    try:
        raw = limits.read_file_at_most(path, limits.MAX_MANIFEST_BODY, path, allow_fifo=True)
    except OSError as exc:
        raise TransportError(f"cannot read manifest {path}: {exc.strerror}", context={"path": path}) from exc
    click.echo(str(_top_digest(raw, kwargs["digest_algorithm"])))
