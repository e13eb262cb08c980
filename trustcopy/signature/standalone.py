"""``standalone-sign`` and ``standalone-verify``: signing and checking a signature as local files.

containers/image keeps these checks in its library (``signature.SignDockerManifest`` and
``signature.VerifyDockerManifestSignature``); so do we, and the CLI only reads the files
and prints. The identity rule here is not a policy ``signedIdentity``: the claimed and the
expected reference must normalize to the same name (c/i's standalone rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from trustcopy.errors import InvalidReferenceError, SignatureError, SignatureVerificationError
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.signature.verified import VerifiedSignature

#: ``KEY-FINGERPRINTS`` value that trusts every key of the public key file.
ANY_FINGERPRINT = "any"


def standalone_sign(manifest: bytes, docker_reference: str, fingerprint: str, *,
                    passphrase: str | None = None, gnupg_home: str | None = None) -> bytes:
    """Sign ``manifest`` claiming ``docker_reference`` exactly as the user wrote it.

    skopeo writes the reference verbatim (``testing/manifest:latest`` stays short); it
    only checks that it parses as a docker reference.

    Raises:
        SignatureError: the reference does not parse (code ``invalid-reference``), or gpg
            cannot sign.
    """
    from trustcopy.reference import parse_normalized_named
    from trustcopy.signature.simple import sign_simple_signing

    try:
        parse_normalized_named(docker_reference)
    except InvalidReferenceError as exc:
        raise SignatureError(f"invalid docker reference {docker_reference!r}: {exc.message}",
                             code="invalid-reference") from exc
    return sign_simple_signing(manifest, docker_reference, fingerprint, passphrase=passphrase,
                               gnupg_home=gnupg_home)


def standalone_verify(manifest: bytes, expected_reference: str, fingerprints: Sequence[str], signature: bytes,
                      *, public_keys: bytes | None = None, gnupg_home: str | None = None) -> VerifiedSignature:
    """Verify a simple-signing signature for ``manifest`` by one of ``fingerprints``.

    Args:
        fingerprints: the accepted signers, or ``["any"]`` (then ``public_keys`` is required
            and every key in it is accepted).
        public_keys: the keys to trust; None exports exactly ``fingerprints`` from the
            user's keyring into a private one, so no other key of the user's can vouch.

    Raises:
        SignatureVerificationError: the first failed step (crypto, key, digest, identity).
        SignatureError: the keys cannot be read or imported.
        ManifestError: the manifest's digest cannot be computed (as c/i, which returns
            ``manifest.MatchesDigest``'s error).
        ValueError: ``any`` without ``public_keys`` (a usage error for the CLI to report).
    """
    from trustcopy.signature import gpg
    from trustcopy.signature.formats import SimpleSigning
    from trustcopy.signature.simple import verify_simple_signing

    use_any = list(fingerprints) == [ANY_FINGERPRINT]
    if use_any and public_keys is None:
        raise ValueError("Cannot use any fingerprint without a public key file")
    check_reference = _reference_check(expected_reference)
    try:
        if public_keys is None:
            public_keys = gpg.export_public_keys([f for f in fingerprints if f], gnupg_home=gnupg_home)
        keyring = gpg.GPGKeyring([public_keys])
    except SignatureError as exc:
        raise _with_claimed_signer(exc, signature) from exc
    with keyring:
        return verify_simple_signing(
            SimpleSigning(signature),
            keyring,
            validate_signed_docker_reference=check_reference,
            validate_signed_docker_manifest_digest=_digest_check(manifest),
            accepted_fingerprints=keyring.fingerprints if use_any else fingerprints,
        )


def claim_clause(signer: str) -> str:
    """The words added to a ``no-public-keys`` error naming the signer the signature claims (``context["claim"]``)."""
    return f"; unverified, the signature claims to be signed by {signer}"


def _with_claimed_signer(exc: SignatureError, signature: bytes) -> SignatureError:
    """``exc``, naming who the signature claims as signer when no expected key could be loaded.

    Without any key there is nothing to verify with, yet the signer a signature names is what
    tells the user whether KEY-FINGERPRINTS or the keyring is wrong (skopeo, which verifies
    with the whole keyring first, names it too). gpg reads it without checking it, hence
    "claims"; a blob that is no signed message adds nothing.
    """
    from trustcopy.signature import gpg

    if exc.code != "no-public-keys":
        return exc
    signer = gpg.claimed_signer(signature)
    if signer is None:
        return exc
    clause = claim_clause(signer)
    new = exc.rewrapped(message=exc.message + clause)
    new.context["claim"] = clause
    return new


def _reference_check(expected_text: str) -> Callable[[str], None]:
    """c/i's standalone identity rule: both references normalize to the same string."""
    from trustcopy.reference import parse_normalized_named

    try:
        expected = parse_normalized_named(expected_text)
    except (InvalidReferenceError, ValueError) as exc:
        raise SignatureError(f"invalid docker reference {expected_text!r}: {exc}", code="invalid-reference") from exc

    def check(signed_text: str) -> None:
        try:
            signed = parse_normalized_named(signed_text)
        except (InvalidReferenceError, ValueError):
            raise SignatureVerificationError(f"Invalid docker reference {signed_text!r} in signature",
                                             reason=Reason.IDENTITY_MISMATCH) from None
        if str(signed) != str(expected):
            raise SignatureVerificationError(f"Docker reference {signed_text!r} does not match {expected_text!r}",
                                             reason=Reason.IDENTITY_MISMATCH)

    return check


def _digest_check(manifest: bytes) -> Callable[[Digest], None]:
    """The claimed digest must be the manifest's sha256 digest (schema1 signatures stripped).

    As containers/image's ``manifest.MatchesDigest`` (5.23 and newest): a claim of the
    manifest's digest in another algorithm (sha512) does not match.
    """
    from trustcopy.manifest.digest import manifest_digest

    def check(signed_digest: Digest) -> None:
        if manifest_digest(manifest) != signed_digest:
            raise SignatureVerificationError(f"Signature for docker digest {signed_digest} does not match",
                                             reason=Reason.DIGEST_MISMATCH)

    return check
