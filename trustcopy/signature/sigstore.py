"""Sigstore (cosign) signatures: the trust root a ``sigstoreSigned`` requirement names, and verification.

The policy engine calls :func:`verify_sigstore` for each sigstore signature attachment,
with a :class:`SigstoreTrustRoot` it built once per PolicyContext and requirement
(policy/context.py), and the same two callbacks the simple-signing verifier takes.

Verification itself (cosign payload, public keys, Fulcio certificates, Rekor SETs, PKI)
is the sigstore issue's work. Until it lands this module answers every signature with
``NOT_IMPLEMENTED``: a policy that asks for sigstore signatures never lets an image
through unverified, and the trace says exactly why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.signature.verified import VerifiedSignature

#: Whether :func:`verify_sigstore` can accept anything yet (``policy lint`` warns while not).
VERIFICATION_IMPLEMENTED = False


@dataclass(frozen=True)
class SigstoreTrustRoot:
    """What a ``sigstoreSigned`` requirement trusts, loaded once per policy context.

    Attributes:
        kind: ``keys``, ``fulcio`` or ``pki`` (which of the policy's trust roots is used).
        public_keys: the parsed public keys (``keys``): any one of them suffices.
    """

    kind: str
    public_keys: tuple[Any, ...] = field(default=(), repr=False)


def load_public_keys(materials: list[bytes], names: list[str]) -> SigstoreTrustRoot:
    """Parse PEM public keys (``keyPath(s)`` / ``keyData(s)``) into a trust root.

    Args:
        materials: the key file contents, in policy order.
        names: where each came from, for errors.

    Raises:
        SignatureError: code ``key-invalid``, naming the key that is not a PEM public key.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys: list[Any] = []
    for material, name in zip(materials, names, strict=True):
        try:
            keys.append(load_pem_public_key(material))
        except (ValueError, TypeError) as exc:
            raise SignatureError(f"{name} is not a PEM public key: {exc}", code="key-invalid") from None
    return SigstoreTrustRoot("keys", tuple(keys))


def verify_sigstore(
    sig: SigstoreSignature,
    trust_root: SigstoreTrustRoot,
    *,
    validate_signed_docker_reference: Callable[[str], None],
    validate_signed_docker_manifest_digest: Callable[[Digest], None],
) -> VerifiedSignature:
    """Verify one sigstore signature; return what it proves or raise.

    Raises:
        SignatureVerificationError: reason ``NOT_IMPLEMENTED`` (until the sigstore issue).
    """
    raise SignatureVerificationError(
        "sigstore signature verification is not implemented in this version of trustcopy",
        reason=Reason.NOT_IMPLEMENTED,
    )
