"""UnparsedImage: what the policy engine sees of an image before anything is parsed.

It holds the reference, the manifest bytes as the source returned them, and the
signatures (typed: the transport parsed each blob once, verifying nothing); it parses
nothing of the manifest beyond computing its digest. The copy
pipeline hands it to the policy engine *before* it parses the manifest or fetches any
blob, so a rejected image costs one manifest read and no layer traffic.

Invariant: when an instance digest is given (an image inside a manifest list), the
manifest bytes are verified against it before anyone sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ManifestError
from trustcopy.transports.base import ImageReference, ImageSource

if TYPE_CHECKING:
    from trustcopy.signature.formats import Signature


class UnparsedImage:
    """A source image (or one instance of a list), with cached manifest and signatures.

    Args:
        source: an open ImageSource; the caller keeps ownership and closes it.
        instance_digest: selects an instance of the source's manifest list.
        manifest_list: for an instance, the UnparsedImage of the list it was chosen from
            (its signatures explain a rejection: cosign signs only the list unless told
            ``--recursive``, while the policy judges each instance). Never used to accept.
    """

    def __init__(self, source: ImageSource, instance_digest: Digest | None = None, *,
                 manifest_list: UnparsedImage | None = None) -> None:
        self.source = source
        self.instance_digest = instance_digest
        self.manifest_list = manifest_list if instance_digest is not None else None
        self._manifest: tuple[bytes, str] | None = None
        self._signatures: list[Signature] | None = None
        self._digest: Digest | None = None

    @property
    def reference(self) -> ImageReference:
        """The reference the user named (policy scopes and identities derive from it)."""
        return self.source.reference

    def manifest(self) -> tuple[bytes, str]:
        """Manifest bytes and MIME type ("" when unknown), read once."""
        if self._manifest is None:
            from trustcopy.manifest.digest import matches_digest

            raw, mime = self.source.get_manifest(self.instance_digest)
            if self.instance_digest is not None and not matches_digest(raw, self.instance_digest):
                raise DigestMismatchError(
                    f"{self.reference}: manifest of instance {self.instance_digest} does not match its digest",
                    context={"expected": str(self.instance_digest)},
                )
            self._manifest = (raw, mime)
        return self._manifest

    def manifest_digest(self) -> Digest:
        """The digest a signature must name: the instance digest, or the computed one."""
        if self._digest is None:
            if self.instance_digest is not None:
                self._digest = self.instance_digest
            else:
                from trustcopy.manifest.digest import manifest_digest

                raw = self.manifest()[0]
                try:
                    self._digest = manifest_digest(raw)
                except ManifestError as exc:
                    raise exc.rewrapped(f"{self.reference}: {exc.message}") from exc
        return self._digest

    def signature_search(self) -> str:
        """Where the source looked for this image's signatures, in words ("" if it cannot say)."""
        return self.source.signature_search(self.instance_digest)

    def signatures(self) -> list[Signature]:
        """The source's signatures, read (and parsed, by the transport) once."""
        if self._signatures is None:
            self._signatures = list(self.source.get_signatures(self.instance_digest))
        return self._signatures
