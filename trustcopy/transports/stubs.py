"""Capability mixins: what a source or destination can do, declared where it is defined.

containers/image composes every transport from small "stubs" (``NoSignatures``,
``NoPutBlobPartial`` …) so that a capability is stated, not discovered. We do the same:
:class:`~trustcopy.transports.base.ImageDestination` leaves signature storage and manifest
lists abstract, and each destination mixes in exactly one answer for each. Nothing in the
copy pipeline probes a transport with ``getattr`` or ``hasattr``.

A "no" carries its reason, written by the transport, because the error a user sees names
the destination that refused and why (``NoSignatures("oci:/x: pushing signatures for OCI
images is not supported")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.signature.formats import Signature
    from trustcopy.transports.base import ImageReference


class NoSignatures:
    """Destination mixin: signatures cannot be stored here.

    Call :meth:`_init_no_signatures` from ``__init__`` with the reason users will read.
    """

    _no_signatures_reason: str = "this destination cannot store signatures"

    def _init_no_signatures(self, reason: str) -> None:
        self._no_signatures_reason = reason

    def supports_signatures(self) -> str | None:
        """The reason signatures cannot be stored (never None)."""
        return self._no_signatures_reason

    def put_signatures(self, signatures: Sequence[Signature], instance_digest: Digest | None = None) -> None:
        """Accept an empty list; refuse anything else with the transport's reason."""
        if not signatures:
            return
        from trustcopy.errors import SignatureError

        raise SignatureError(self._no_signatures_reason, code="signatures-unsupported")


class AlwaysSupportsSignatures:
    """Destination mixin: signatures can always be stored (the class implements put_signatures)."""

    def supports_signatures(self) -> str | None:
        """None: no reason to refuse."""
        return None


class NoSourceSignatures:
    """Source mixin: this transport has no place for signatures, so an image has none."""

    reference: ImageReference

    def get_signatures(self, instance_digest: Digest | None = None) -> list[Signature]:
        """Always empty."""
        return []

    def signature_search(self, instance_digest: Digest | None = None) -> str:
        """Say that this transport has no place for signatures (so none can ever be found)."""
        return (f"{self.reference.transport.name}: images cannot carry GPG or sigstore signatures "
                "(keep signed images in a registry or in dir:)")


class NoManifestLists:
    """Destination mixin: only single images can be stored (copy one instance instead)."""

    @property
    def supports_manifest_lists(self) -> bool:
        """False."""
        return False


class AlwaysSupportsManifestLists:
    """Destination mixin: a manifest list and all its instances can be stored."""

    @property
    def supports_manifest_lists(self) -> bool:
        """True."""
        return True
