"""``trustcopy sync --src docker|dir|yaml --dest docker|dir SOURCE DESTINATION``: flags → SyncOptions → sync().

The library (trustcopy/sync/) does the work; this module parses the flags, prints one
line per image on stdout as each finishes, warnings and the summary on stderr, writes
the digest file, and sets the exit status: 0 when every image was copied or skipped as
identical (or, with ``--dry-run``, would be copied), 1 otherwise, 2 for usage errors.
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import (
    add_global_options,
    global_options,
    open_policy_context,
    refuse_unsupported,
    signing_passphrase,
    sigstore_param_signer,
)
from trustcopy.cli.pflag import PflagCommand


def _docker_options(func: Any) -> Any:
    from trustcopy.cli.docker_options import sync_docker_options

    return sync_docker_options(func)


@click.command("sync", cls=PflagCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="SOURCE")
@click.argument("destination", metavar="DESTINATION")
@click.option("-s", "--src", "src", metavar="TRANSPORT", help="SOURCE transport: docker, dir or yaml.")
@click.option("-d", "--dest", "dest", metavar="TRANSPORT", help="DESTINATION transport: docker or dir.")
@click.option("-a", "--all", "all_", is_flag=True, help="Copy all images if a source image is a list.")
@click.option("--scoped", is_flag=True,
              help="Name images at DESTINATION with the full source name (registry and path), not its last part.")
@click.option("--append-suffix", metavar="SUFFIX", default="", help="String to append to DESTINATION tags.")
@click.option("-f", "--format", "format_", metavar="MANIFEST-TYPE", type=click.Choice(["oci", "v2s2", "v2s1"]),
              help="Manifest type to write (default: the source's, with fallbacks).")
@click.option("--remove-signatures", is_flag=True, help="Do not copy signatures from the source images.")
@click.option("--sign-by", metavar="FINGERPRINT", help="Sign each copied image with the GPG key FINGERPRINT.")
@click.option("--sign-by-sigstore", metavar="PARAM-FILE",
              help="Sign each copied image with a sigstore key or a Fulcio certificate, and maybe log it in Rekor, "
                   "as the containers-sigstore-signing-params.yaml file at PARAM-FILE says.")
@click.option("--sign-by-sigstore-private-key", metavar="PATH", help="Sign each copied image with a sigstore key.")
@click.option("--sign-passphrase-file", metavar="PATH", help="Read the signing key's passphrase from PATH.")
@click.option("--preserve-digests", is_flag=True, help="Fail rather than change the digest of an image or list.")
@click.option("--dry-run", is_flag=True, help="Judge and report, without copying anything.")
@click.option("--keep-going", is_flag=True, help="Do not stop at the first image that fails or is rejected.")
@click.option("--digestfile", metavar="PATH",
              help="Write DIGEST DESTINATION of each image now at the destination to PATH.")
@click.option("--parallel-images", type=click.IntRange(1, 32), default=8, show_default=True, metavar="N",
              help="Images copied at the same time (they share connections, tokens and pings).")
@click.option("--shard", metavar="INDEX/COUNT",
              help="Copy only the INDEX-th (from 0) of COUNT slices of the images (CI matrix, Indexed Job).")
@click.option("--skip-identical/--no-skip-identical", default=True, show_default=True,
              help="Skip an image the destination already holds with the same digest (one HEAD per side).")
@_docker_options
@add_global_options
@click.pass_context
def sync_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Copy every image SOURCE names to DESTINATION, each only if the trust policy allows it.

    SOURCE is a repository or image (--src docker), a directory of images (--src dir) or
    a YAML file of registries and images (--src yaml); DESTINATION is a registry and
    namespace (--dest docker) or a directory (--dest dir). Exit status: 0 every image
    copied or already identical, 1 any image rejected or failed, 2 usage errors.
    """
    opts = global_options(ctx, kwargs, accepts_registries_d=True)
    from trustcopy.errors import UsageError
    from trustcopy.sync import Shard, SyncOptions, sync

    src, dest = kwargs["src"], kwargs["dest"]
    if not src:
        raise UsageError("a source transport must be specified (--src docker, dir or yaml)")
    if src not in ("docker", "dir", "yaml"):
        raise UsageError(f"{src!r} is not a valid source transport (docker, dir or yaml)")
    if not dest:
        raise UsageError("a destination transport must be specified (--dest docker or dir)")
    if dest not in ("docker", "dir"):
        raise UsageError(f"{dest!r} is not a valid destination transport (docker or dir)")
    for kind, value, what in ((src, kwargs["source"], "SOURCE"), (dest, kwargs["destination"], "DESTINATION")):
        if kind == "docker" and value.startswith(("docker://", "docker:")):
            raise UsageError(f"{what} {value!r} must not name the transport: --src/--dest say it",
                             hint=f"write {value.split(':', 1)[1].lstrip('/')!r}")
    refuse_unsupported(**{"--format v2s1 (writing schema1 manifests)": kwargs["format_"] == "v2s1"})
    if kwargs["digestfile"] and not kwargs["dry_run"]:
        from trustcopy.fsutil import user_file_problem

        problem = user_file_problem(kwargs["digestfile"])  # refused before any image is copied
        if problem is not None:
            from trustcopy.errors import TransportError

            raise TransportError(f"cannot write digest file {kwargs['digestfile']}: {problem}",
                                 code="file-unwritable", context={"path": kwargs["digestfile"]})
    options = SyncOptions(
        source_kind=src, destination_kind=dest, scoped=kwargs["scoped"], append_suffix=kwargs["append_suffix"],
        dry_run=kwargs["dry_run"], keep_going=kwargs["keep_going"], parallel_images=kwargs["parallel_images"],
        shard=Shard.parse(kwargs["shard"]) if kwargs["shard"] else None, skip_identical=kwargs["skip_identical"],
        copy=_copy_options(opts, kwargs), on_result=_print_result, on_warning=_print_warning,
    )
    with open_policy_context(opts) as policy:
        report = sync(policy, kwargs["source"], kwargs["destination"], options)
    if kwargs["digestfile"] and not options.dry_run:
        report.write_digestfile(kwargs["digestfile"])
    click.echo(_scrub(report.summary()), err=True)
    ctx.exit(_exit_status(report, keep_going=kwargs["keep_going"]))


def _exit_status(report: Any, *, keep_going: bool) -> int:
    """The report's status, and newest skopeo's 2 when the failure that stopped the sync is an
    image that does not exist (its sync returns that error, which main maps to 2); with
    ``--keep-going`` skopeo returns a summary error instead, so 1."""
    from trustcopy.cli.main import is_not_found_image_error
    from trustcopy.sync.report import Outcome

    status: int = report.exit_status
    if status == 1 and not keep_going:
        stopper = next((r for r in report.results if r.outcome in (Outcome.FAILED, Outcome.REJECTED)), None)
        if stopper is not None and stopper.error is not None and is_not_found_image_error(stopper.error):
            return 2
    return status


def _copy_options(opts: Any, kwargs: dict[str, Any]) -> Any:
    """What every image's copy does: signing, format, instances, and the two sides' registry settings."""
    from trustcopy.cli.docker_options import apply_copy_docker_options
    from trustcopy.copy.options import CopyOptions, ImageListSelection, manifest_type_for_format

    passphrase = signing_passphrase(kwargs)
    src_ctx, dest_ctx = apply_copy_docker_options(opts.system_context(), opts.system_context(), kwargs)
    return CopyOptions(
        remove_signatures=kwargs["remove_signatures"],
        sign_by=kwargs["sign_by"],
        sign_passphrase=passphrase,
        sign_by_sigstore_private_key=kwargs["sign_by_sigstore_private_key"],
        sign_by_sigstore=sigstore_param_signer(kwargs),
        force_manifest_type=manifest_type_for_format(kwargs["format_"]) if kwargs["format_"] else None,
        image_list_selection=ImageListSelection.ALL if kwargs["all_"] else ImageListSelection.SYSTEM,
        source_ctx=src_ctx,
        dest_ctx=dest_ctx,
        preserve_digests=kwargs["preserve_digests"],
    )


def _scrub(text: str) -> str:
    """``text`` with every known secret and ``user:pass@`` masked (redact.scrub), as error lines are.

    A YAML registry key or a SOURCE written ``user:token@registry`` is the label of its
    images' lines and of the summary; an error chained from a library may quote a secret.
    """
    from trustcopy.redact import scrub

    return scrub(text)


def _print_result(result: Any) -> None:
    """One line per image on stdout: the outcome, source → destination, the digest or the error."""
    click.echo(_scrub(f"{result.outcome.upper():<13} {result.line()}"))


def _print_warning(message: str) -> None:
    click.echo(_scrub(f"warning: {message}"), err=True)
