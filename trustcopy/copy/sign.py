"""Signatures created while copying (``copy --sign-by``), and the passphrase file.

The pipeline calls :func:`create_signatures` with the manifest exactly as it will be
stored at the destination (after any conversion), so the signed digest is the digest
that destination serves. The returned signatures go next to the ones copied from the
source; the destination writes them in its storage form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustcopy.errors import UsageError

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature

#: A passphrase file is read up to its first line; refuse absurd sizes instead of reading them.
_MAX_PASSPHRASE_LINE = 64 * 1024


def create_signatures(
    manifest: bytes,
    identity: DockerReference | None,
    *,
    sign_by: str | None,
    passphrase: str | None,
    gnupg_home: str | None = None,
) -> list[Signature]:
    """Sign the destination manifest with GPG when ``sign_by`` is set.

    Args:
        manifest: the manifest bytes as written to the destination.
        identity: the reference to claim (``--sign-identity``, else the destination's
            Docker reference); required when signing.
        sign_by: the GPG key fingerprint, or None for no new signature.
        passphrase: that key's passphrase (from ``--sign-passphrase-file``), if any.
        gnupg_home: GNUPGHOME holding the key; None means $GNUPGHOME or ~/.gnupg.

    Returns:
        Zero or one signatures, ready for the destination's put_signatures.

    Raises:
        UsageError: signing was requested but there is no identity to claim.
        SignatureError: gpg could not sign.
    """
    if not sign_by:
        return []
    if identity is None:
        raise UsageError(
            "cannot determine the identity to sign: the destination has no Docker reference",
            code="sign-identity-required",
            hint="give --sign-identity REFERENCE",
        )
    from trustcopy.signature.formats import SimpleSigning
    from trustcopy.signature.simple import sign_simple_signing

    blob = sign_simple_signing(manifest, str(identity), sign_by, passphrase=passphrase, gnupg_home=gnupg_home)
    return [SimpleSigning(blob)]


def read_passphrase_file(path: str) -> str:
    """The passphrase in ``path``: its first line without the newline, as skopeo reads it.

    Only a trailing ``\\n`` is removed (a ``\\r`` stays, as in skopeo). FIFOs such as
    ``--passphrase-file <(pass show key)`` work; the passphrase is never logged.

    Raises:
        UsageError: the file cannot be read or its first line is unreasonably long.
    """
    try:
        with open(path, "rb") as f:
            line = f.readline(_MAX_PASSPHRASE_LINE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the passphrase file {path}: {exc.strerror}", code="passphrase-file") from exc
    if len(line) > _MAX_PASSPHRASE_LINE:
        raise UsageError(f"the first line of the passphrase file {path} is too long", code="passphrase-file")
    if line.endswith(b"\n"):
        line = line[:-1]
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the passphrase in {path} is not valid UTF-8", code="passphrase-file") from None
