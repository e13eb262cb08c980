"""``standalone-sign``, ``standalone-verify`` and ``generate-sigstore-key``: skopeo's commands, same arguments.

Both exit 0 on success and 1 on any failure, including a wrong argument count or an
unknown flag (skopeo exits 1 there too, not click's 2). ``standalone-verify`` prints
``Signature verified using fingerprint X, digest Y`` exactly as newest skopeo does.

Without ``--public-key-file``, ``standalone-verify`` uses the user's keyring as skopeo
does, but only the public keys named in KEY-FINGERPRINTS are exported from it into a
private keyring, so no other key of the user's can vouch for anything.
"""

from __future__ import annotations

from typing import Any

import click

from trustcopy.cli.common import add_global_options, global_options
from trustcopy.cli.pflag import PflagCommand
from trustcopy.errors import UsageError

_SIGN_USAGE = "Usage: trustcopy standalone-sign manifest docker-reference key-fingerprint -o signature"
_VERIFY_USAGE = "Usage: trustcopy standalone-verify manifest docker-reference key-fingerprint signature"
_CONTEXT = {"help_option_names": ["-h", "--help"]}


class _ArgumentError(UsageError):
    """A usage mistake reported with skopeo's exit status (1)."""

    exit_status = 1


class _SkopeoStatusCommand(PflagCommand):
    """A click command whose usage errors exit 1, as skopeo's do.

    Not only click's parse errors: a usage error raised while the command runs (an
    unreadable ``--passphrase-file``, ``--insecure-policy`` with ``--require-signed``)
    exited 2, though these pages promise, as skopeo does, 1 on every failure.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _ArgumentError(exc.format_message()) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if exc.exit_status == 1:
                raise
            raise exc.rewrapped(exit_status=1) from exc


def _read(path: str, limit: int, prefix: str) -> bytes:
    from trustcopy.errors import SignatureError
    from trustcopy.limits import read_file_at_most

    try:  # a pipe too (``<(curl …)``), as skopeo reads these files
        return read_file_at_most(path, limit, path, allow_fifo=True)
    except OSError as exc:
        raise SignatureError(f"{prefix} {path}: {exc.strerror}", code="file-unreadable") from exc


@click.command("standalone-sign", cls=_SkopeoStatusCommand, context_settings=_CONTEXT)
@click.argument("args", nargs=-1, metavar="MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT")
@click.option("-o", "--output", metavar="SIGNATURE", default=None, help="output the signature to SIGNATURE")
@click.option("--passphrase-file", metavar="PATH", default=None,
              help="file that contains a passphrase for the KEY-FINGERPRINT key")
@add_global_options
@click.pass_context
def standalone_sign_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Create a signature using local files."""
    global_options(ctx, kwargs)
    from trustcopy.copy.sign import read_passphrase_file
    from trustcopy.errors import SignatureError
    from trustcopy.limits import MAX_MANIFEST_BODY
    from trustcopy.signature.standalone import standalone_sign

    args, output = kwargs["args"], kwargs["output"]
    if len(args) != 3 or not output:
        raise _ArgumentError(_SIGN_USAGE)
    manifest_path, reference_text, fingerprint = args
    manifest = _read(manifest_path, MAX_MANIFEST_BODY, "Error reading")
    passphrase = read_passphrase_file(kwargs["passphrase_file"]) if kwargs["passphrase_file"] else None
    try:
        signature = standalone_sign(manifest, reference_text, fingerprint, passphrase=passphrase)
    except SignatureError as exc:
        raise SignatureError(f"Error creating signature: {exc.message}", code=exc.code, hint=exc.hint) from exc
    _write_output(output, signature)


def _write_output(output: str, data: bytes) -> None:
    """Write the signature to ``output`` so that a failure (a full disk) leaves the file as it was.

    :func:`~trustcopy.fsutil.write_user_file`: a regular file is replaced atomically (skopeo's
    ``os.WriteFile`` truncates it first, so a failed write there loses the previous signature);
    a device or pipe (``-o /dev/stdout``, ``-o >(cmd)``) is written directly, and a pipe that
    nobody reads fails in seconds instead of hanging.

    Raises:
        SignatureError: ``file-unwritable``, naming ``output``.
    """
    from trustcopy.errors import SignatureError
    from trustcopy.fsutil import write_user_file

    try:
        write_user_file(output, data)
    except OSError as exc:
        raise SignatureError(f"Error writing signature to {output}: {exc.strerror or exc}",
                             code="file-unwritable") from exc


@click.command("standalone-verify", cls=_SkopeoStatusCommand, context_settings=_CONTEXT)
@click.argument("args", nargs=-1, metavar="MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE")
@click.option("--public-key-file", metavar="PATH", default=None,
              help="File containing public keys. If not specified, will use local GPG keys.")
@add_global_options
@click.pass_context
def standalone_verify_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Verify a signature using local files.

    KEY-FINGERPRINTS can be a comma separated list of fingerprints, or "any" if you
    trust all the keys in the public key file.
    """
    global_options(ctx, kwargs)
    from trustcopy.errors import SignatureError, SignatureVerificationError
    from trustcopy.limits import MAX_KEY_FILE, MAX_MANIFEST_BODY, MAX_SIGNATURE_BODY
    from trustcopy.signature.standalone import ANY_FINGERPRINT, standalone_verify

    args, key_file = kwargs["args"], kwargs["public_key_file"]
    if len(args) != 4:
        raise _ArgumentError(_VERIFY_USAGE)
    manifest_path, expected_reference, fingerprint_list, signature_path = args
    fingerprints = fingerprint_list.split(",")
    if not any(fingerprints):  # skopeo fails too (no key matches ""), naming only the signer
        raise _ArgumentError("KEY-FINGERPRINTS is empty: give one or more comma-separated fingerprints, or "
                             f"{ANY_FINGERPRINT} with --public-key-file")
    if fingerprints == [ANY_FINGERPRINT] and not key_file:
        raise _ArgumentError("Cannot use any fingerprint without a public key file")
    manifest = _read(manifest_path, MAX_MANIFEST_BODY, "Error reading manifest from")
    signature = _read(signature_path, MAX_SIGNATURE_BODY, "Error reading signature from")
    key_material = _read(key_file, MAX_KEY_FILE, "Error reading public keys from") if key_file else None
    try:
        verified = standalone_verify(manifest, expected_reference, fingerprints, signature, public_keys=key_material)
    except SignatureVerificationError as exc:
        hint = exc.hint
        if exc.reason == "UNTRUSTED_KEY" and fingerprint_list != fingerprint_list.upper():
            hint = "fingerprints are compared as upper-case hex; write them in upper case"
        elif exc.reason == "UNTRUSTED_KEY" and any(f != f.strip() for f in fingerprints):
            hint = "fingerprints are compared exactly, and KEY-FINGERPRINTS holds a space: write FPR1,FPR2"
        detail = _verify_failure_detail(str(exc.reason), fingerprint_list, key_file, signature_path,
                                        manifest_path, manifest)
        raise SignatureVerificationError(f"Error verifying signature: {exc.message}{detail}", reason=exc.reason,
                                         code=exc.code, hint=hint) from exc
    except SignatureError as exc:
        where = f" (public key file {key_file})" if key_file and exc.code == "no-public-keys" else ""
        claim = str(exc.context.get("claim", ""))  # the signer the signature names comes last
        head = exc.message.removesuffix(claim) if claim else exc.message
        raise SignatureError(f"Error verifying signature: {head}{where}{claim}", code=exc.code,
                             hint=exc.hint) from exc
    click.echo(f"Signature verified using fingerprint {verified.key_fingerprint}, "
               f"digest {verified.docker_manifest_digest}")


def _verify_failure_detail(reason: str, fingerprint_list: str, key_file: str | None, signature_path: str,
                           manifest_path: str, manifest: bytes) -> str:
    """What a ``standalone-verify`` rejection adds to the verifier's sentence, so it alone shows the fix.

    skopeo names the expected fingerprints for a wrong signer; we do too, and the key file
    they were looked up in; a signature that is not one names its file; a digest mismatch
    names the manifest's real digest (skopeo names only the claimed one).
    """
    from trustcopy.errors import ManifestError
    from trustcopy.manifest.digest import manifest_digest

    if reason in ("UNKNOWN_KEY", "UNTRUSTED_KEY"):
        source = f"the public key file {key_file}" if key_file else "the local GPG keyring"
        if fingerprint_list == "any":
            return f"; expected any key of {source}"
        return f"; expected fingerprint {fingerprint_list} (looked up in {source})"
    if reason == "DIGEST_MISMATCH":
        try:
            return f"; the manifest {manifest_path} has digest {manifest_digest(manifest)}"
        except ManifestError:
            return ""
    if reason in ("INVALID_SIGNATURE", "MULTIPLE_SIGNATURES", "NOT_SIGNED", "INVALID_PAYLOAD"):
        return f" (signature file {signature_path})"
    return ""


def prompt_passphrase(key_file: str, *, confirm: bool) -> str:
    """Read a passphrase from the terminal without echo (skopeo's prompt); twice with ``confirm``.

    Raises:
        UsageError: standard input is not a terminal, or the two entries differ.
    """
    import getpass
    import sys

    if not sys.stdin.isatty():
        raise _ArgumentError(f"Cannot prompt for a passphrase for key {key_file}, standard input is not a TTY",
                             hint="use --passphrase-file (or --sign-passphrase-file for copy)")
    passphrase = getpass.getpass(f"Passphrase for key {key_file}: ", stream=sys.stdout)
    if confirm and getpass.getpass(f"Repeat the passphrase for key {key_file}: ", stream=sys.stdout) != passphrase:
        raise _ArgumentError("the passphrases do not match; no key was written")
    from trustcopy.redact import register_secret

    register_secret(passphrase)
    return passphrase


@click.command("generate-sigstore-key", cls=_SkopeoStatusCommand, context_settings=_CONTEXT)
@click.option("--output-prefix", metavar="PREFIX", default="", help="Write the keys to PREFIX.pub and PREFIX.private")
@click.option("--passphrase-file", metavar="PATH", default="", help="Read a passphrase for the private key from PATH")
@click.argument("args", nargs=-1, metavar="")
@add_global_options
@click.pass_context
def generate_sigstore_key_cmd(ctx: click.Context, **kwargs: Any) -> None:
    """Generate a sigstore public/private key pair.

    The private key is encrypted with a passphrase (cosign's format); without
    --passphrase-file, it is asked for twice on the terminal and never echoed.
    """
    global_options(ctx, kwargs)
    from trustcopy.copy.sign import read_passphrase_file
    from trustcopy.signature.sigstore_keys import key_pair_paths, write_key_pair

    prefix = kwargs["output_prefix"]
    if kwargs["args"] or not prefix:
        raise _ArgumentError("Usage: generate-sigstore-key --output-prefix PREFIX")
    key_pair_paths(prefix)  # refuse to overwrite before asking for a passphrase
    if kwargs["passphrase_file"]:
        passphrase = read_passphrase_file(kwargs["passphrase_file"])
    else:
        passphrase = prompt_passphrase(prefix + ".private", confirm=True)
    private_path, public_path = write_key_pair(prefix, passphrase.encode("utf-8"))
    click.echo(f'Key written to "{private_path}" and "{public_path}"')
