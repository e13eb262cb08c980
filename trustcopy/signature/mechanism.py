"""The SigningMechanism Protocol: what signature verification needs from an OpenPGP engine.

The verify code (signature/simple.py) and the policy engine depend on this Protocol,
never on python-gnupg: ``signature/gpg.py`` is the one module that imports it, and its
:class:`~trustcopy.signature.gpg.GPGKeyring` is the implementation. Keeping the seam
this narrow lets tests substitute a fake mechanism and keeps the trust decision
(``simple.py``) apart from the crypto plumbing.

Invariants every implementation keeps:
- ``fingerprints`` are upper-case hex fingerprints of the *primary* keys the mechanism
  was built from, and nothing else (no user keyring, no key server).
- ``verify_message`` returns only after a cryptographically valid, unexpired,
  unrevoked, single signature by one of those keys; otherwise it raises
  :class:`~trustcopy.errors.SignatureVerificationError` with a stable ``reason``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from trustcopy.lazy import dataclass


@dataclass(frozen=True)
class VerifiedMessage:
    """The content of a message whose OpenPGP signature checked out.

    Attributes:
        payload: the signed bytes (still untrusted *content*: nobody has looked at it).
        signing_key_fingerprint: the key that made the signature (may be a subkey).
        primary_key_fingerprint: the primary key owning that key (equal when no subkey).
    """

    payload: bytes
    signing_key_fingerprint: str
    primary_key_fingerprint: str


@runtime_checkable
class SigningMechanism(Protocol):
    """A verifier bound to a fixed set of trusted public keys."""

    @property
    def fingerprints(self) -> frozenset[str]:
        """Primary-key fingerprints (upper-case hex) this mechanism trusts."""
        ...

    def verify_message(self, message: bytes) -> VerifiedMessage:
        """Check the single signature of an OpenPGP signed message and return its content.

        Raises:
            SignatureVerificationError: unsigned, encrypted, bad, expired, revoked,
                unknown-key or multiple signatures.
        """
        ...

    def verify(self, message: bytes) -> tuple[bytes, str]:
        """Like :meth:`verify_message`; returns (payload, primary-key fingerprint)."""
        ...

    def close(self) -> None:
        """Release the mechanism's resources (its private key store)."""
        ...
