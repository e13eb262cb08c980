"""Signatures created while copying, and the passphrase file.

``--sign-by`` (GPG), ``--sign-by-sigstore-private-key`` and ``--sign-by-sigstore`` (a
parameter file: a key or a Fulcio certificate, maybe Rekor).

The pipeline calls :func:`create_signatures` with the manifest exactly as it will be
stored at the destination (after any conversion), so the signed digest is the digest
that destination serves. The returned signatures go next to the ones copied from the
source; the destination writes them in its storage form.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from trustcopy.errors import UsageError

if TYPE_CHECKING:
    from trustcopy.copy.sigstore_params import PreparedSigner
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


def create_sigstore_signatures(
    manifest: bytes,
    identity: DockerReference | None,
    *,
    key: Any,
    bundle: bool = False,
) -> list[Signature]:
    """Sign the destination manifest with a cosign private key (``--sign-by-sigstore-private-key``).

    The cosign attachment payload is built exactly as containers/image builds it
    (``critical`` identity/image/type, ``optional`` creator and timestamp, Go's key
    order), signed as cosign signs with that key type, and carried as a SigstoreSignature
    (``dir:`` stores it as signature-N in the ``sigstore-json`` envelope). With ``bundle``,
    a Sigstore bundle (cosign v3's form: DSSE over an in-toto statement naming the digest
    and, unlike cosign, the identity) is created instead.

    Args:
        manifest: the manifest bytes as written to the destination.
        identity: the reference to claim; it must have a tag or a digest (as in c/i).
        key: the private key (:func:`load_sigstore_private_key`, once per copy: CopyOptions.sigstore_private_key).
        bundle: create a Sigstore bundle instead of a cosign attachment.

    Returns:
        One signature.

    Raises:
        UsageError: no identity, or a name-only identity.
        SignatureError: the key cannot be used.
    """
    import base64
    import time

    from trustcopy import __version__
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.signature.payload import build_simple_payload
    from trustcopy.signature.sigstore import SIGNATURE_ANNOTATION, SIGNATURE_MIME_TYPE, SIGNATURE_TYPE
    from trustcopy.signature.sigstore_bundle import BUNDLE_MEDIA_TYPE, build_bundle
    from trustcopy.signature.sigstore_keys import sign_message

    if identity is None:
        raise UsageError("cannot determine the identity to sign: the destination has no Docker reference",
                         code="sign-identity-required", hint="give --sign-identity REFERENCE")
    if identity.is_name_only:
        raise UsageError(f"reference {identity} can't be signed, it has neither a tag nor a digest",
                         code="sign-identity-required")
    digest = manifest_digest(manifest)
    if bundle:
        return [SigstoreSignature(BUNDLE_MEDIA_TYPE, build_bundle(key, digest, str(identity)), {})]
    payload = build_simple_payload(digest, str(identity), creator=f"trustcopy {__version__}",
                                   timestamp=int(time.time()), signature_type=SIGNATURE_TYPE)
    signature = base64.b64encode(sign_message(key, payload)).decode("ascii")
    return [SigstoreSignature(SIGNATURE_MIME_TYPE, payload, {SIGNATURE_ANNOTATION: signature})]


def load_sigstore_private_key(private_key_path: str, passphrase: str | None) -> Any:
    """Read and decrypt ``--sign-by-sigstore-private-key``: the key object.

    copy_image calls it (through CopyOptions.sigstore_private_key) before anything is
    written, as containers/image makes its signer first: an unreadable key, a pipe nobody
    writes or a wrong passphrase then fails the copy before a blob is pushed or a manifest
    tagged, not after.

    Raises:
        UsageError: no passphrase.
        SignatureError: the key cannot be read (code ``sigstore-key-invalid``) or decrypted.
        LimitExceededError: it is too large, not a regular file, or a pipe without a writer.
    """
    from trustcopy.errors import SignatureError
    from trustcopy.signature.sigstore_keys import load_private_key

    if passphrase is None:
        raise UsageError(f"no passphrase for the sigstore private key {private_key_path}",
                         code="passphrase-file", hint="give --sign-passphrase-file, or run on a terminal")
    try:
        pem = private_key_file(private_key_path)
    except OSError as exc:
        raise SignatureError(f"cannot read the sigstore private key {private_key_path}: {exc.strerror or exc}",
                             code="sigstore-key-invalid") from exc
    return load_private_key(pem, passphrase.encode("utf-8"), private_key_path)


def create_param_file_signatures(manifest: bytes, identity: DockerReference, signer: PreparedSigner) -> list[Signature]:
    """Sign with what ``--sign-by-sigstore`` set up: a cosign attachment signature, with
    Fulcio's certificate and chain, and Rekor's SET when the parameter file names a Rekor.

    The annotations are containers/image's (signature, certificate, chain, bundle), so
    the signature verifies where skopeo's would: a policy with ``fulcio`` and/or
    ``rekorPublicKeyPath`` accepts it.

    Raises:
        UsageError: a name-only identity.
        SignatureError: Rekor refuses the entry or cannot be reached (nothing is stored then).
    """
    import base64
    import time

    from trustcopy import __version__
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.signature.payload import build_simple_payload
    from trustcopy.signature.sigstore import SIGNATURE_ANNOTATION, SIGNATURE_MIME_TYPE, SIGNATURE_TYPE
    from trustcopy.signature.sigstore_keys import sign_message
    from trustcopy.signature.sigstore_rekor import SET_ANNOTATION
    from trustcopy.signature.sigstore_x509 import CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION

    if identity.is_name_only:
        raise UsageError(f"reference {identity} can't be signed, it has neither a tag nor a digest",
                         code="sign-identity-required")
    payload = build_simple_payload(manifest_digest(manifest), str(identity), creator=f"trustcopy {__version__}",
                                   timestamp=int(time.time()), signature_type=SIGNATURE_TYPE)
    raw = sign_message(signer.key, payload)
    annotations = {SIGNATURE_ANNOTATION: base64.b64encode(raw).decode("ascii")}
    if signer.certificate:
        annotations[CERTIFICATE_ANNOTATION] = signer.certificate.decode("ascii")
    if signer.chain:
        annotations[CHAIN_ANNOTATION] = signer.chain.decode("ascii")
    if signer.rekor_url:
        from trustcopy.signature.sigstore_services import upload_to_rekor

        annotations[SET_ANNOTATION] = upload_to_rekor(signer.rekor_url, signer.key_or_cert_pem, raw, payload)
    return [SigstoreSignature(SIGNATURE_MIME_TYPE, payload, annotations)]


#: What pipes named as private keys held, by (path, device, inode): read once, used for every manifest.
_PIPED_KEYS: dict[tuple[str, int, int], bytes] = {}
_PIPED_KEYS_LOCK = threading.Lock()


def private_key_file(path: str) -> bytes:
    """The key file's bytes; a pipe's are read once per process and kept.

    ``--sign-by-sigstore-private-key <(vault read …)`` keeps the key off the disk; a pipe
    can be read only once, and a copy with ``--all``, or a sync (from several threads),
    signs many manifests. A regular file is read each time, so that a process that signs
    for long (a library user) sees a key rotated in place.

    Raises:
        OSError: the file cannot be read.
        LimitExceededError: it is over MAX_KEY_FILE, or a device.
    """
    import os
    import stat

    from trustcopy.limits import MAX_KEY_FILE, read_file_at_most

    what = f"sigstore private key {path}"
    st = os.stat(path)
    if not stat.S_ISFIFO(st.st_mode):
        return read_file_at_most(path, MAX_KEY_FILE, what)
    key = (path, st.st_dev, st.st_ino)
    with _PIPED_KEYS_LOCK:  # held while reading: a second reader would find the pipe drained
        if key not in _PIPED_KEYS:
            _PIPED_KEYS[key] = read_file_at_most(path, MAX_KEY_FILE, what, allow_fifo=True)
        return _PIPED_KEYS[key]


def read_passphrase_file(path: str) -> str:
    """The passphrase in ``path``: its first line without the newline, as skopeo reads it.

    Only a trailing ``\\n`` is removed (a ``\\r`` stays, as in skopeo). FIFOs such as
    ``--passphrase-file <(pass show key)`` work; the passphrase is never logged.

    Raises:
        UsageError: the file cannot be read or its first line is unreasonably long.
    """
    from trustcopy.errors import LimitExceededError

    try:
        line = _first_line(path, _MAX_PASSPHRASE_LINE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the passphrase file {path}: {exc.strerror}", code="passphrase-file") from exc
    except LimitExceededError as exc:  # a pipe nobody writes (or whose writer went silent)
        raise UsageError(f"cannot read the passphrase file {path}: {exc.message}", code="passphrase-file") from exc
    if len(line) > _MAX_PASSPHRASE_LINE:
        raise UsageError(f"the first line of the passphrase file {path} is too long", code="passphrase-file")
    if line.endswith(b"\n"):
        line = line[:-1]
    try:
        passphrase = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the passphrase in {path} is not valid UTF-8", code="passphrase-file") from None
    from trustcopy.redact import register_secret

    register_secret(passphrase)
    return passphrase


def _first_line(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``path``'s first line (with its newline, if within the limit).

    Opened without blocking: ``open()`` of a named pipe that no process writes waits for
    ever, and ``--passphrase-file <(pass show key)`` must keep working. A pipe is read as
    limits.fifo_chunks reads one (a writer that never comes fails after a few seconds);
    anything else is read as a normal file (a directory fails with EISDIR).

    Raises:
        OSError: the file cannot be opened or read.
        LimitExceededError: a pipe without a writer, or whose writer went silent.
    """
    import contextlib
    import os
    import stat

    from trustcopy.limits import fifo_chunks

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    if stat.S_ISFIFO(os.fstat(fd).st_mode):
        line = b""
        with contextlib.closing(fifo_chunks(fd, f"the passphrase file {path}")) as pieces:  # closes fd
            for piece in pieces:
                line += piece
                if b"\n" in line or len(line) >= limit:
                    break
        end = line.find(b"\n")
        return line[: end + 1] if end >= 0 else line[:limit]
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        return f.readline(limit)
