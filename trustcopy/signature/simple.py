"""Verify and create simple-signing (GPG) signatures of container images.

Verification follows containers/image's ``verifyAndExtractSignature`` step by step, and
only returns a :class:`~trustcopy.signature.verified.VerifiedSignature` when all pass:

1. crypto: the mechanism checks the OpenPGP message (one good, unexpired signature);
2. key identity: the signer must be an accepted key; a signature by a subkey counts as
   its primary key when the primary is accepted (newest c/i behaviour);
3. payload: the signed bytes are parsed strictly (signature/payload.py);
4. manifest digest: the caller's callback checks the claimed digest;
5. identity: the caller's callback checks the claimed docker reference.

The callbacks raise to reject; they are separate keyword arguments with distinct names
so that they cannot be swapped by accident (c/i's signatureAcceptanceRules).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from trustcopy import __version__
from trustcopy.digest import Digest
from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.reasons import Reason
from trustcopy.signature.formats import SimpleSigning
from trustcopy.signature.mechanism import SigningMechanism
from trustcopy.signature.payload import build_simple_payload, parse_simple_payload
from trustcopy.signature.verified import VerifiedSignature, _issue

#: ``optional.creator`` of signatures we make (c/i writes "atomic VERSION").
CREATOR = f"trustcopy {__version__}"


def verify_simple_signing(
    sig: SimpleSigning,
    keyring: SigningMechanism,
    *,
    validate_signed_docker_reference: Callable[[str], None],
    validate_signed_docker_manifest_digest: Callable[[Digest], None],
    accepted_fingerprints: Collection[str] | None = None,
) -> VerifiedSignature:
    """Verify one simple-signing signature; return what it proves or raise.

    Args:
        sig: the untrusted signature.
        keyring: the mechanism holding exactly the trusted keys (a GPGKeyring).
        validate_signed_docker_reference: raises (SignatureVerificationError with
            reason IDENTITY_MISMATCH, or any SignatureError) if the claimed reference is
            not acceptable.
        validate_signed_docker_manifest_digest: raises (reason DIGEST_MISMATCH) if the
            claimed digest does not match the image's manifest.
        accepted_fingerprints: the fingerprints allowed to sign; defaults to every
            primary key of ``keyring`` (the ``signedBy`` case). ``standalone-verify``
            passes the user's list. Compared as exact strings (upper-case hex).

    Returns:
        The VerifiedSignature (digest, reference, accepted fingerprint, timestamp, creator).

    Raises:
        SignatureVerificationError: the first failed step, with its ``reason``.
    """
    if not isinstance(sig, SimpleSigning):
        raise TypeError(f"verify_simple_signing needs a SimpleSigning, not {type(sig).__name__}")
    accepted = frozenset(keyring.fingerprints if accepted_fingerprints is None else accepted_fingerprints)
    # 1. crypto
    message = keyring.verify_message(sig.untrusted_blob)
    # 2. key identity: the signing (sub)key itself, else its primary key
    if message.signing_key_fingerprint in accepted:
        fingerprint = message.signing_key_fingerprint
    elif message.primary_key_fingerprint in accepted:
        fingerprint = message.primary_key_fingerprint
    else:
        who = message.signing_key_fingerprint
        if message.primary_key_fingerprint != who:
            who = f"{who} of {message.primary_key_fingerprint}"
        raise SignatureVerificationError(
            f"signature by key {who} is not accepted", reason=Reason.UNTRUSTED_KEY,
            context={"key_fingerprint": message.primary_key_fingerprint,
                     "signing_key_fingerprint": message.signing_key_fingerprint},
        )
    try:
        # 3. payload (only now, after the crypto and the key check, is it looked at)
        payload = parse_simple_payload(message.payload)
        # 4. manifest digest, 5. identity (c/i's order)
        validate_signed_docker_manifest_digest(payload.untrusted_docker_manifest_digest)
        validate_signed_docker_reference(payload.untrusted_docker_reference)
    except SignatureError as exc:
        exc.context.setdefault("key_fingerprint", fingerprint)  # the trace names the (valid) signer
        raise
    return _issue(
        docker_manifest_digest=payload.untrusted_docker_manifest_digest,
        docker_reference=payload.untrusted_docker_reference,
        key_fingerprint=fingerprint,
        timestamp=payload.untrusted_timestamp,
        creator=payload.untrusted_creator_id,
    )


def sign_simple_signing(
    manifest: bytes,
    docker_reference: str,
    fingerprint: str,
    *,
    passphrase: str | None = None,
    gnupg_home: str | None = None,
) -> bytes:
    """Sign ``manifest`` as ``docker_reference`` with the user's GPG key.

    The payload claims the manifest's digest (schema1 signatures stripped, as c/i) and
    ``docker_reference`` verbatim: ``copy --sign-by`` passes the destination's fully
    expanded name, ``standalone-sign`` the text the user typed (both as skopeo does).

    Args:
        manifest: the manifest bytes exactly as stored at the destination.
        docker_reference: the identity to claim, exactly as it will appear in the payload.
        fingerprint: the signing key in the user's keyring.
        passphrase: the key's passphrase, if it has one (never logged).
        gnupg_home: the GNUPGHOME to use; None means $GNUPGHOME or ~/.gnupg.

    Returns:
        The signature blob (a raw OpenPGP message, as stored for simple signing).

    Raises:
        SignatureError: the key cannot sign (see :func:`trustcopy.signature.gpg.sign`).
        ManifestError: the manifest digest cannot be computed.
    """
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.signature import gpg

    payload = build_simple_payload(
        manifest_digest(manifest), docker_reference, creator=CREATOR, timestamp=int(time.time())
    )
    return gpg.sign(payload, fingerprint, gnupg_home=gnupg_home, passphrase=passphrase)
