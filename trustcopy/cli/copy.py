"""``trustcopy copy SRC DST``: flags → CopyOptions → copy_image()."""

from __future__ import annotations

import contextlib
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
    from trustcopy.cli.docker_options import copy_docker_options

    return copy_docker_options(func)


@click.command("copy", cls=PflagCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source_image", metavar="SOURCE-IMAGE")
@click.argument("destination_image", metavar="DESTINATION-IMAGE")
@click.option("-q", "--quiet", is_flag=True, help="Suppress output information when copying images.")
@click.option("-f", "--format", "format_", metavar="MANIFEST-TYPE", type=click.Choice(["oci", "v2s2", "v2s1"]),
              help="Manifest type to use in the destination (default: the source's, with fallbacks).")
@click.option("--digestfile", metavar="PATH", help="Write the digest of the copied image to PATH.")
@click.option("--remove-signatures", is_flag=True, help="Do not copy signatures from SOURCE-IMAGE.")
@click.option("--sign-by", metavar="FINGERPRINT", help="Sign the image using a GPG key with FINGERPRINT.")
@click.option("--sign-identity", metavar="REFERENCE",
              help="Identity of the signed image (a fully specified docker reference); "
                   "defaults to the destination's reference.")
@click.option("--sign-passphrase-file", metavar="PATH", help="Read the signing key's passphrase from PATH.")
@click.option("--sign-by-sigstore", metavar="PARAM-FILE",
              help="Sign the image with a sigstore key or a Fulcio certificate, and maybe log it in Rekor, as the "
                   "containers-sigstore-signing-params.yaml file at PARAM-FILE says.")
@click.option("--sign-by-sigstore-private-key", metavar="PATH",
              help="Sign the image using a sigstore private key at PATH.")
@click.option("--sigstore-bundle", is_flag=True,
              help="With --sign-by-sigstore-private-key, write a Sigstore bundle (cosign v3; an OCI 1.1 referrer "
                   "in a registry) instead of a cosign attachment signature.")
@click.option("-a", "--all", "all_", is_flag=True, help="Copy all images if SOURCE-IMAGE is a list.")
@click.option("--multi-arch", type=click.Choice(["system", "all", "index-only"]), default=None,
              help="How to handle multi-architecture images (system, all, or index-only).")
@click.option("--preserve-digests", is_flag=True, help="Fail rather than change the digest of images or lists.")
@click.option("--skip-identical/--no-skip-identical", default=True, show_default=True,
              help="When the destination registry already holds this exact manifest under the destination "
                   "tag (one HEAD), write nothing (the policy is still checked). --no-skip-identical checks "
                   "and uploads every blob and the manifest again, as skopeo does.")
@click.option("--dest-oci-accept-uncompressed-layers", is_flag=True,
              help="Allow uncompressed layers when writing an oci: image (default: compress them).")
@click.option("--src-shared-blob-dir", metavar="DIR", help="Directory of blobs shared across OCI layouts (source).")
@click.option("--dest-shared-blob-dir", metavar="DIR", help="Directory of blobs shared across OCI layouts (dest).")
@click.option("--max-parallel", type=click.IntRange(1, 64), default=6, show_default=True,
              help="Blobs copied at the same time.")
@click.option("--image-parallel-copies", type=click.IntRange(0, 64), default=0, metavar="N",
              help="Layers copied at the same time (skopeo's spelling of --max-parallel; 0: the default).")
@click.option("--additional-tag", multiple=True, metavar="NAME:TAG",
              help="Additional tags for the image, comma-separated or repeated (docker-archive destinations only).")
@click.option("--dest-compress", is_flag=True,
              help="Compress layers when writing dir:; for docker-archive: keep layers compressed inside the "
                   "archive (small-disk mode: nothing is decompressed or spooled).")
@click.option("--dest-decompress", is_flag=True, help="Decompress layers when writing dir:.")
@click.option("--dest-compress-format", type=click.Choice(["gzip", "zstd"]), default=None, metavar="FORMAT",
              help="Compression for layers the destination compresses: gzip or zstd.")
@click.option("--dest-compress-level", type=int, default=None, metavar="LEVEL",
              help="Compression level (gzip 0-9, zstd 1-22).")
@click.option("--dest-force-compress-format", is_flag=True,
              help="Use only --dest-compress-format for the layers: never reuse a layer the destination holds "
                   "in another compression; refuse when one cannot be recompressed.")
@click.option("--dest-precompute-digests", is_flag=True,
              help="Compute the digest of a layer (re)compressed on the way before uploading it, so that one "
                   "the registry already has is not uploaded again (docker:// destinations).")
@click.option("--encryption-key", multiple=True, metavar="jwe:PATH",
              help="Encrypt layers for the RSA or EC public key at PATH (repeat or comma-separate for several "
                   "recipients); the manifest becomes OCI.")
@click.option("--encrypt-layer", multiple=True, metavar="INDEX",
              help="Encrypt only this layer (0 the first, -1 the last; repeatable or comma-separated; default: "
                   "every layer).")
@click.option("--decryption-key", multiple=True, metavar="PATH[:PASSWORD]",
              help="Decrypt the source's encrypted layers with the RSA or EC private key at PATH (repeatable or "
                   "comma-separated).")
@_docker_options
@add_global_options
@click.pass_context
def copy_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Copy SOURCE-IMAGE to DESTINATION-IMAGE, if the trust policy allows it.

    Both are "transport:details" names, e.g. oci:/srv/layout:1.0, dir:/tmp/img,
    docker://quay.io/org/app:1.0.
    """
    opts = global_options(ctx, kwargs)
    from trustcopy.copy.options import CopyOptions, ImageListSelection, manifest_type_for_format
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.errors import UsageError
    from trustcopy.transports.alltransports import parse_image_name

    refuse_unsupported(**{"--format v2s1 (writing schema1 manifests)": kwargs["format_"] == "v2s1"})
    encryption_keys = _slice_values(kwargs["encryption_key"])
    decryption_keys_given = _slice_values(kwargs["decryption_key"])
    encrypt_layers = _int_slice_values(kwargs["encrypt_layer"], "--encrypt-layer")
    if encrypt_layers and not encryption_keys:
        raise UsageError("--encrypt-layer requires --encryption-key")
    encryption, decryption_keys = None, ()
    if encryption_keys or decryption_keys_given:
        from trustcopy import ocicrypt

        if encryption_keys:
            encryption = ocicrypt.EncryptionConfig(
                recipients=tuple(ocicrypt.load_encryption_key(k) for k in encryption_keys),
                layers=tuple(encrypt_layers) or None)
        decryption_keys = tuple(ocicrypt.load_decryption_key(k) for k in decryption_keys_given)
    src_ref = parse_image_name(kwargs["source_image"])
    dest_ref = parse_image_name(kwargs["destination_image"])
    if kwargs["additional_tag"] and dest_ref.transport.name != "docker-archive":
        raise UsageError("--additional-tag can only be used with docker-archive: destinations")
    if kwargs["dest_compress"] and kwargs["dest_decompress"]:
        raise UsageError("--dest-compress and --dest-decompress cannot be used together")
    if kwargs["dest_force_compress_format"] and not kwargs["dest_compress_format"]:
        raise UsageError("--dest-force-compress-format needs --dest-compress-format (which compression to force)")

    if kwargs["all_"] and kwargs["multi_arch"] not in (None, "all"):
        raise UsageError("--all and --multi-arch cannot be combined with different values")
    selection = ImageListSelection(kwargs["multi_arch"] or ("all" if kwargs["all_"] else "system"))

    src_ctx = opts.system_context()
    dest_ctx = opts.system_context()
    if kwargs["src_shared_blob_dir"]:
        src_ctx.oci_shared_blob_dirs = (kwargs["src_shared_blob_dir"],)
    if kwargs["dest_shared_blob_dir"]:
        dest_ctx.oci_shared_blob_dirs = (kwargs["dest_shared_blob_dir"],)
    if kwargs["dest_oci_accept_uncompressed_layers"]:
        dest_ctx.extra["oci_accept_uncompressed_layers"] = True
    dest_ctx.dest_compress = kwargs["dest_compress"]
    dest_ctx.dest_decompress = kwargs["dest_decompress"]
    dest_ctx.compression_format = kwargs["dest_compress_format"]
    dest_ctx.compression_level = kwargs["dest_compress_level"]
    dest_ctx.force_compression_format = kwargs["dest_force_compress_format"]
    dest_ctx.docker_precompute_digests = kwargs["dest_precompute_digests"]
    if kwargs["additional_tag"]:
        dest_ctx.docker_archive_additional_tags = tuple(
            _additional_tag(t) for t in _slice_values(kwargs["additional_tag"]))
    from trustcopy.cli.docker_options import apply_copy_docker_options

    src_ctx, dest_ctx = apply_copy_docker_options(src_ctx, dest_ctx, kwargs)

    sign_identity = None
    if kwargs["sign_identity"]:
        from trustcopy.reference import parse_named

        sign_identity = parse_named(kwargs["sign_identity"])
    passphrase = signing_passphrase(kwargs)
    if kwargs["sign_identity"] and not (kwargs["sign_by"] or kwargs["sign_by_sigstore_private_key"]
                                        or kwargs["sign_by_sigstore"]):
        raise UsageError("--sign-identity requires --sign-by, --sign-by-sigstore or --sign-by-sigstore-private-key")
    param_signer = sigstore_param_signer(kwargs)

    quiet = kwargs["quiet"]
    renderer = None
    if not quiet:
        from trustcopy.cli.render import ProgressRenderer

        renderer = ProgressRenderer(debug=opts.debug)
    options = CopyOptions(
        remove_signatures=kwargs["remove_signatures"],
        sign_by=kwargs["sign_by"],
        sign_passphrase=passphrase,
        sign_identity=sign_identity,
        sign_by_sigstore_private_key=kwargs["sign_by_sigstore_private_key"],
        sigstore_bundle=kwargs["sigstore_bundle"],
        sign_by_sigstore=param_signer,
        force_manifest_type=manifest_type_for_format(kwargs["format_"]) if kwargs["format_"] else None,
        image_list_selection=selection,
        max_parallel=kwargs["image_parallel_copies"] or kwargs["max_parallel"],
        source_ctx=src_ctx,
        dest_ctx=dest_ctx,
        progress=renderer,
        preserve_digests=kwargs["preserve_digests"],
        skip_identical=kwargs["skip_identical"],
        encryption=encryption,
        decryption_keys=decryption_keys,
    )
    from trustcopy.transports.docker.session import session_from

    session = session_from(src_ctx)
    if session is not None:  # registry reads are sized for that many streams (memory)
        session.expect_blob_streams(options.max_parallel)
    if kwargs["digestfile"]:
        _check_digestfile(kwargs["digestfile"])
    with contextlib.ExitStack() as stack:
        policy = stack.enter_context(open_policy_context(opts))
        if renderer is not None:
            stack.enter_context(renderer)
        result = copy_image(policy, dest_ref, src_ref, options)
    if kwargs["digestfile"]:
        from trustcopy.fsutil import write_user_file

        try:
            write_user_file(kwargs["digestfile"], str(result.digest).encode())
        except OSError as exc:
            from trustcopy.errors import TransportError

            raise TransportError(f"cannot write digest file {kwargs['digestfile']}: {exc.strerror or exc}",
                                 code="file-unwritable", context={"path": kwargs["digestfile"]}) from exc


def _check_digestfile(path: str) -> None:
    """Refuse a ``--digestfile`` that can never be written before anything is copied (skopeo
    finds out after copying; the exit status is the same, 1).

    Raises:
        TransportError: ``file-unwritable``: it is a directory, or its directory does not exist.
    """
    from trustcopy.errors import TransportError
    from trustcopy.fsutil import user_file_problem

    problem = user_file_problem(path)
    if problem is not None:
        raise TransportError(f"cannot write digest file {path}: {problem}", code="file-unwritable",
                             context={"path": path})


def _slice_values(given: tuple[str, ...]) -> list[str]:
    """The values of a repeated option skopeo declares as a pflag StringSlice.

    pflag reads each occurrence as one line of CSV: ``--additional-tag a:1,b:2`` is two
    values, a quoted value may hold a comma (``--decryption-key '"/k,1.pem"'``), and an
    empty occurrence adds nothing.
    """
    out: list[str] = []
    for text in given:
        if text:
            import csv  # (only when the option is given: start-up)

            out.extend(next(csv.reader([text])))
    return out


def _int_slice_values(given: tuple[str, ...], option: str) -> list[int]:
    """The values of a repeated pflag IntSlice option: comma-separated decimal integers.

    Raises:
        UsageError: a value is not an integer (pflag: strconv.Atoi), an empty one included.
    """
    from trustcopy.errors import UsageError

    out: list[int] = []
    for text in given:
        for part in text.split(","):
            digits = part[1:] if part[:1] in ("+", "-") else part
            if not (digits.isascii() and digits.isdigit()):
                raise UsageError(f"invalid argument {text!r} for {option}: {part!r} is not an integer")
            out.append(int(part))
    return out


def _additional_tag(text: str) -> Any:
    """A NAME:TAG for --additional-tag (skopeo requires the tag)."""
    from trustcopy.errors import InvalidReferenceError, UsageError
    from trustcopy.reference import parse_normalized_named

    try:
        ref = parse_normalized_named(text)
    except InvalidReferenceError as exc:
        raise UsageError(f"--additional-tag {text!r}: {exc.message}") from exc
    if ref.tag is None or ref.digest is not None:
        raise UsageError(f"additional tag {text!r} is not a tagged reference")
    return ref
