"""Sigstore (cosign) signatures: the trust root a ``sigstoreSigned`` requirement names, and verification.

The policy engine calls :func:`verify_sigstore` for each sigstore signature (a cosign
attachment layer, or a Sigstore bundle), with a :class:`SigstoreTrustRoot` it built once
per PolicyContext and requirement (policy/context.py), and the same two callbacks the
simple-signing verifier takes. It returns a VerifiedSignature or raises
SignatureVerificationError with a reason code; nothing else accepts a signature.

Verification of a cosign attachment (containers/image ``prSigstoreSigned.isSignatureAccepted``):

1. the ``dev.cosignproject.cosign/signature`` annotation must exist;
2. the signing key is determined by the trust root:
   - ``keys`` without Rekor: each policy key is a candidate;
   - ``keys`` with Rekor: the SET (``dev.sigstore.cosign/bundle``) must log this
     signature and payload under one of the policy keys: that key is the candidate;
   - ``fulcio``: the SET must log this signature under the attached certificate; the
     certificate must chain to the Fulcio CA *at the SET's integrated time*, with the
     policy's OIDC issuer and e-mail;
   - ``pki``: the attached certificate must chain to the policy's roots now, with the
     policy's e-mail and/or hostname;
3. the signature must verify over the payload with a candidate key;
4. the payload is parsed strictly (c/i's rules; ``optional`` may be null);
5. the signed manifest digest, then the signed identity, go to the callbacks.

Sigstore bundles (cosign v3) are verified by signature/sigstore_bundle.py with the same
trust roots; see docs/policy.md for the identity rule applied to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.signature.sigstore_x509 import FulcioRoot, PKIRoot
    from trustcopy.signature.verified import VerifiedSignature

#: Whether :func:`verify_sigstore` can accept anything (``policy lint`` warns while not).
VERIFICATION_IMPLEMENTED = True

SIGNATURE_MIME_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
#: Media types of a Sigstore bundle stored as a signature (cosign v3, OCI referrers).
BUNDLE_MIME_TYPES = ("application/vnd.dev.sigstore.bundle.v0.3+json",
                     "application/vnd.dev.sigstore.bundle+json;version=0.3")


@dataclass(frozen=True)
class SigstoreTrustRoot:
    """What a ``sigstoreSigned`` requirement trusts, loaded once per policy context.

    Attributes:
        kind: ``keys``, ``fulcio`` or ``pki`` (which of the policy's trust roots is used).
        public_keys: the parsed public keys (``keys``): any one of them suffices.
        rekor_keys: the Rekor log keys (ECDSA); required for ``fulcio``, optional for
            ``keys``, absent for ``pki``.
        fulcio / pki: the parsed certificate trust roots.
    """

    kind: str
    public_keys: tuple[Any, ...] = field(default=(), repr=False)
    rekor_keys: tuple[Any, ...] = field(default=(), repr=False)
    fulcio: FulcioRoot | None = None
    pki: PKIRoot | None = None
    #: Where each of ``public_keys`` came from (its file, or ``keyDatas[i]``), for messages.
    key_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        consistent = {
            "keys": bool(self.public_keys) and self.fulcio is None and self.pki is None,
            "fulcio": self.fulcio is not None and bool(self.rekor_keys) and not self.public_keys and self.pki is None,
            "pki": self.pki is not None and not self.rekor_keys and not self.public_keys and self.fulcio is None,
        }
        if not consistent.get(self.kind, False):
            raise ValueError(f"inconsistent sigstore trust root of kind {self.kind!r}")


def load_public_keys(materials: list[bytes], names: list[str],
                     rekor: tuple[Any, ...] = ()) -> SigstoreTrustRoot:
    """Parse PEM public keys (``keyPath(s)`` / ``keyData(s)``) into a trust root.

    Args:
        materials: the key file contents, in policy order.
        names: where each came from, for errors.
        rekor: Rekor keys (from :func:`~trustcopy.signature.sigstore_rekor.load_rekor_keys`), if any.

    Raises:
        SignatureError: code ``key-invalid``, naming the key that is not a usable PEM public key.
    """
    from trustcopy.signature.sigstore_keys import load_public_key

    keys = tuple(load_public_key(material, name) for material, name in zip(materials, names, strict=True))
    if not keys:
        raise SignatureError("no public keys given", code="key-invalid")
    return SigstoreTrustRoot("keys", keys, rekor, key_names=tuple(names))


def _reject(message: str, reason: Reason = Reason.INVALID_SIGNATURE) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=reason)


def decode_signature(value: str) -> bytes:
    """The raw signature from its base64 annotation.

    Raises:
        SignatureVerificationError: reason ``INVALID_SIGNATURE``.
    """
    from trustcopy.signature.sigstore_keys import go_b64decode

    try:
        return go_b64decode(value)
    except ValueError:
        raise _reject("the signature annotation is not valid base64") from None


def trusted_leaf(root: SigstoreTrustRoot, when: int | None, leaf: Any, intermediates: list[Any]) -> Any:
    """The trusted leaf certificate for a ``fulcio`` (at ``when``) or ``pki`` root.

    Raises:
        SignatureVerificationError: CERTIFICATE_INVALID / CERTIFICATE_IDENTITY_MISMATCH.
    """
    from trustcopy.signature.sigstore_keys import check_key_type
    from trustcopy.signature.sigstore_x509 import verify_fulcio, verify_pki

    if root.fulcio is not None and when is not None:
        verify_fulcio(root.fulcio, when, leaf, intermediates)
    elif root.pki is not None:
        verify_pki(root.pki, leaf, intermediates)
    else:  # pragma: no cover - callers verify the SET first, and only call this for certificate roots
        raise _reject("internal error: no certificate trust root or time", Reason.INTERNAL_INCONSISTENCY)
    try:
        check_key_type(leaf.public_key(), "the signing certificate's key")
    except SignatureError as exc:
        raise _reject(exc.message, Reason.CERTIFICATE_INVALID) from None
    return leaf


def _candidate_keys(sig: SigstoreSignature, root: SigstoreTrustRoot, signature: bytes) -> list[Any]:
    """Step 2 of the module docstring: the keys that may have made this signature."""
    from trustcopy.signature.sigstore_keys import public_key_der
    from trustcopy.signature.sigstore_rekor import SET_ANNOTATION, verify_cosign_set
    from trustcopy.signature.sigstore_x509 import (
        CERTIFICATE_ANNOTATION,
        CHAIN_ANNOTATION,
        attached_certificates,
        certificate_der,
    )

    annotations = sig.untrusted_annotations
    payload = sig.untrusted_payload
    if root.kind == "keys":
        if not root.rekor_keys:
            return list(root.public_keys)
        if SET_ANNOTATION not in annotations:
            raise _reject(f"missing {SET_ANNOTATION} annotation", Reason.REKOR_SET_INVALID)
        failures = []
        for key in root.public_keys:
            try:
                verify_cosign_set(root.rekor_keys, annotations[SET_ANNOTATION], public_key_der(key), signature, payload)
            except SignatureVerificationError as exc:
                failures.append(exc.message)
                continue
            return [key]  # the SET logs one key: the others either differ or are duplicates
        raise _reject(f"No public key verified against the RekorSET: {', '.join(failures)}", Reason.REKOR_SET_INVALID)
    cert = annotations.get(CERTIFICATE_ANNOTATION)
    if cert is None:
        raise _reject(f"missing {CERTIFICATE_ANNOTATION} annotation", Reason.CERTIFICATE_INVALID)
    chain = annotations.get(CHAIN_ANNOTATION)
    leaf, intermediates = attached_certificates(cert.encode("utf-8"), None if chain is None else chain.encode("utf-8"))
    when = None
    if root.kind == "fulcio":
        if SET_ANNOTATION not in annotations:
            raise _reject(f"missing {SET_ANNOTATION} annotation", Reason.REKOR_SET_INVALID)
        when = verify_cosign_set(root.rekor_keys, annotations[SET_ANNOTATION], certificate_der(leaf), signature,
                                 payload)
    return [trusted_leaf(root, when, leaf, intermediates).public_key()]


def verify_with_keys(keys: list[Any], signature: bytes, message: bytes, which: str) -> Any:
    """Step 3: the first candidate key that verifies ``signature`` over ``message``.

    Raises:
        SignatureVerificationError: reason ``INVALID_SIGNATURE``.
    """
    from trustcopy.signature.sigstore_keys import verify_message

    for key in keys:
        if verify_message(key, signature, message):
            return key
    raise _reject(f"cryptographic signature verification failed: the signature does not verify with {which}")


def describe_keys(root: SigstoreTrustRoot) -> str:
    """How a rejection names the keys a signature was checked against."""
    if root.kind != "keys":
        return "the signing certificate's key"
    return "the trusted key" if len(root.public_keys) == 1 else f"any of the {len(root.public_keys)} trusted keys"


def run_callback(callback: Callable[[Any], None], value: Any, fingerprint: str) -> None:
    """Call an identity/digest callback; its rejection names the (verified) signing key."""
    try:
        callback(value)
    except SignatureError as exc:
        raise with_signer(exc, fingerprint) from exc


def with_signer(exc: SignatureError, fingerprint: str) -> SignatureError:
    """A copy of ``exc`` whose context names the signing key (the crypto held; the trace shows who signed)."""
    context = {**exc.context, "key_fingerprint": fingerprint}
    if isinstance(exc, SignatureVerificationError):
        return SignatureVerificationError(exc.message, reason=exc.reason, code=exc.code, context=context,
                                          hint=exc.hint)
    return SignatureError(exc.message, code=exc.code, context=context, hint=exc.hint)


def verify_sigstore(
    sig: SigstoreSignature,
    trust_root: SigstoreTrustRoot,
    *,
    validate_signed_docker_reference: Callable[[str], None],
    validate_signed_docker_manifest_digest: Callable[[Digest], None],
    validate_unsigned_identity: Callable[[], None] | None = None,
) -> VerifiedSignature:
    """Verify one sigstore signature; return what it proves or raise.

    Args:
        sig: the untrusted signature (attachment layer or bundle).
        trust_root: the requirement's trust root.
        validate_signed_docker_reference: raises unless the signed identity is acceptable.
        validate_signed_docker_manifest_digest: raises unless the signed digest is the image's.
        validate_unsigned_identity: for a bundle that names only a digest: raises unless the
            requirement's identity rule accepts that; None rejects such bundles.

    Returns:
        The verified facts.

    Raises:
        SignatureVerificationError: with the reason code of the first failed step.
    """
    from trustcopy.signature.payload import parse_payload_of_type
    from trustcopy.signature.sigstore_keys import key_fingerprint
    from trustcopy.signature.verified import _issue

    if sig.untrusted_mime_type in BUNDLE_MIME_TYPES:
        from trustcopy.signature.sigstore_bundle import verify_bundle

        return verify_bundle(sig, trust_root, validate_signed_docker_reference=validate_signed_docker_reference,
                             validate_signed_docker_manifest_digest=validate_signed_docker_manifest_digest,
                             validate_unsigned_identity=validate_unsigned_identity)
    b64_signature = sig.untrusted_annotations.get(SIGNATURE_ANNOTATION)
    if b64_signature is None:
        raise _reject(f"missing {SIGNATURE_ANNOTATION} annotation")
    signature = decode_signature(b64_signature)
    key = verify_with_keys(_candidate_keys(sig, trust_root, signature), signature, sig.untrusted_payload,
                           describe_keys(trust_root))
    fingerprint = key_fingerprint(key)
    try:
        payload = parse_payload_of_type(sig.untrusted_payload, SIGNATURE_TYPE, null_optional=True)
    except SignatureVerificationError as exc:
        raise with_signer(exc, fingerprint) from exc
    run_callback(validate_signed_docker_manifest_digest, payload.untrusted_docker_manifest_digest, fingerprint)
    run_callback(validate_signed_docker_reference, payload.untrusted_docker_reference, fingerprint)
    return _issue(
        docker_manifest_digest=payload.untrusted_docker_manifest_digest,
        docker_reference=payload.untrusted_docker_reference,
        key_fingerprint=fingerprint,
        timestamp=payload.untrusted_timestamp,
        creator=payload.untrusted_creator_id,
    )
