"""VerifiedSignature: what a signature proves, once every check has passed.

Invariants:
- A :class:`VerifiedSignature` exists only if a verify function (signature/simple.py,
  signature/sigstore.py) accepted the signature: crypto, signer key, manifest digest and
  claimed identity. There is no ``verified: bool`` anywhere; code that holds one of
  these objects may rely on it.
- Constructing one directly (or through ``dataclasses.replace``) raises ``TypeError``:
  only :func:`_issue` builds instances, bypassing ``__init__``. ``_issue`` is reserved
  for the verify functions; a unit test checks that no other module calls it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from trustcopy.digest import Digest
from trustcopy.lazy import dataclass


@dataclass(frozen=True, init=False)
class VerifiedSignature:
    """The facts a verified signature vouches for.

    Attributes:
        docker_manifest_digest: the manifest digest the signer signed (and that matched).
        docker_reference: the identity the signer claimed, verbatim from the payload
            (accepted by the caller's identity rule).
        key_fingerprint: upper-case hex fingerprint of the accepted key that signed;
            when a subkey signed, its primary key's (unless the subkey itself was the
            accepted fingerprint, as c/i does for an explicitly listed subkey).
        timestamp: the signer's claimed signing time (Unix seconds); informational only.
        creator: the signer's claimed software; informational only.
    """

    docker_manifest_digest: Digest
    docker_reference: str
    key_fingerprint: str
    timestamp: int | None
    creator: str | None

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("VerifiedSignature is created only by the signature verify functions")


def _issue(
    *,
    docker_manifest_digest: Digest,
    docker_reference: str,
    key_fingerprint: str,
    timestamp: int | None,
    creator: str | None,
) -> VerifiedSignature:
    """Create a VerifiedSignature; for the verify functions only (see module docstring)."""
    values = {
        "docker_manifest_digest": docker_manifest_digest,
        "docker_reference": docker_reference,
        "key_fingerprint": key_fingerprint,
        "timestamp": timestamp,
        "creator": creator,
    }
    if {f.name for f in fields(VerifiedSignature)} != set(values):  # pragma: no cover - keeps the two in sync
        raise RuntimeError("VerifiedSignature fields and _issue are out of sync")
    obj = object.__new__(VerifiedSignature)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj
