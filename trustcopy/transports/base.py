"""The transport interfaces: a Python port of containers/image ``types.go``.

A *transport* (``dir``, ``oci``, ``docker`` …) parses the part after ``transport:`` into
an :class:`ImageReference`. A reference knows its policy identity and scopes (the only
things the policy engine sees of it) and opens an :class:`ImageSource` or an
:class:`ImageDestination`.

Invariants every implementation keeps:

- References are immutable values; parsing and validation happen in ``parse_reference``.
- Sources and destinations are context managers. A destination that is closed without
  :meth:`ImageDestination.commit` leaves its target exactly as it was before it was
  opened: partial writes live in temporaries beside the target and are removed.
- ``put_blob`` verifies the digest of what it stored and raises
  :class:`~trustcopy.errors.DigestMismatchError` before anything becomes visible.
- A transport never looks at the policy; the copy pipeline gates on it.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Self

from trustcopy.digest import Digest
from trustcopy.types import BlobInfo, LayerCompression, SystemContext

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature


class ImageTransport(abc.ABC):
    """A top-level way to refer to image storage, selected by its ``name:`` prefix."""

    #: Unique name, the prefix before ``:`` in ``transport:reference``.
    name: str = ""
    #: One line for ``--help``: the syntax after the prefix.
    syntax: str = ""

    @abc.abstractmethod
    def parse_reference(self, reference: str) -> ImageReference:
        """Parse the part after ``name:``.

        Raises:
            InvalidReferenceError: naming the reference and the rule broken.
        """

    @abc.abstractmethod
    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Check a key of ``transports.<name>`` in policy.json.

        Raises:
            ValueError: with the reason the scope is invalid.
        """

    def policy_configuration_scope_warning(self, scope: str) -> str | None:
        """A scope that is valid but can never match an image: why (for a warning), else None."""
        return None


class ImageReference(abc.ABC):
    """An immutable reference to an image location within a transport."""

    @property
    @abc.abstractmethod
    def transport(self) -> ImageTransport:
        """The transport this reference belongs to."""

    @abc.abstractmethod
    def string_within_transport(self) -> str:
        """The reference without the ``transport:`` prefix; re-parses to an equal reference."""

    @abc.abstractmethod
    def docker_reference(self) -> DockerReference | None:
        """The Docker reference associated with this image, if any.

        This is what ``signedIdentity`` matchers compare against; transports with no
        such notion (``dir:``) return ``None``.
        """

    @abc.abstractmethod
    def policy_configuration_identity(self) -> str:
        """The most specific scope string for policy lookup ("" if unsupported)."""

    @abc.abstractmethod
    def policy_configuration_namespaces(self) -> list[str]:
        """More general scopes to try, most specific first (excluding the identity)."""

    @abc.abstractmethod
    def new_image_source(self, sys: SystemContext) -> ImageSource:
        """Open the image for reading. The caller closes it."""

    @abc.abstractmethod
    def new_image_destination(self, sys: SystemContext) -> ImageDestination:
        """Open the location for writing. The caller commits and closes it."""

    def delete_image(self, sys: SystemContext) -> None:
        """Delete the image, where the transport supports it."""
        from trustcopy.errors import TransportError

        raise TransportError(f"deleting images is not supported by the {self.transport.name}: transport")

    def __str__(self) -> str:
        return f"{self.transport.name}:{self.string_within_transport()}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class _Closing(AbstractContextManager["_Closing"]):
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release resources; see subclasses for what else close() guarantees."""


class ImageSource(_Closing):
    """Reads one image or one manifest list, possibly remotely (slow)."""

    reference: ImageReference

    @abc.abstractmethod
    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """Return the manifest bytes and its MIME type ("" when unknown).

        With ``instance_digest``, return that instance of the top-level manifest list
        (the caller verifies the bytes against the digest).
        """

    @abc.abstractmethod
    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """Open a blob; return a stream and its size (-1 if unknown).

        The stream is *unverified*: the caller wraps it in DigestingReader and
        must close it.
        """

    @abc.abstractmethod
    def get_signatures(self, instance_digest: Digest | None = None) -> list[Signature]:
        """The image's signatures, each parsed once (signature/formats.stored_signature).

        A blob no verifier understands comes back as an UnknownSignature, so that a
        copy can carry it; transports without signatures mix in NoSourceSignatures.
        """

    def signature_search(self, instance_digest: Digest | None = None) -> str:
        """Where :meth:`get_signatures` looks, as a clause ("looked in …"; "" when the transport cannot say).

        Called only after ``get_signatures`` found none, for the "no signature exists"
        rejection: a CI user whose signatures are elsewhere (another lookaside store, a
        missing registries.d section) needs the place that was searched, not just "none".
        Must not do network I/O beyond what ``get_signatures`` already did.
        """
        return ""

    def layer_infos_for_copy(self, instance_digest: Digest | None = None) -> list[BlobInfo] | None:
        """Updated layer infos, or ``None`` when the manifest's own are right."""
        return None

    @property
    def has_thread_safe_get_blob(self) -> bool:
        """Whether ``get_blob`` may be called from several threads at once."""
        return True

    def preferred_blob_order(self, infos: Sequence[BlobInfo]) -> list[int]:
        """Indices of ``infos`` in the order this source serves them best.

        A source reading a compressed archive or a daemon's stream front to back
        answers with archive order, so that one pass serves every layer.
        """
        return list(range(len(infos)))


class ImageDestination(_Closing):
    """Writes one image (or a list with its instances); visible only after commit()."""

    reference: ImageReference

    def supported_manifest_mime_types(self) -> Sequence[str] | None:
        """The manifest types this destination stores, preferred first; None = any."""
        return None

    @abc.abstractmethod
    def supports_signatures(self) -> str | None:
        """``None`` when signatures can be stored, else the reason they cannot.

        Declared by mixing in stubs.NoSignatures or stubs.AlwaysSupportsSignatures, or
        answered by the destination when it depends on configuration (``docker://``: the
        registry's signature API, or a writable registries.d store). The copy asks before
        it writes anything, so a "no" leaves the destination untouched.
        """

    def supports_signature_formats(self, formats: Collection[str]) -> str | None:
        """``None`` when signatures of these formats (``Signature.format_id``) can be stored, else why not.

        Most destinations store every format in one place, so the default is
        :meth:`supports_signatures` (for a non-empty set). ``docker://`` overrides it:
        sigstore signatures go to registry attachments, which registries.d enables
        separately from the simple-signing store. The copy asks with the formats it
        carries and creates, before it writes anything.
        """
        return self.supports_signatures() if formats else None

    def held_manifest_digest(self) -> Digest | None:
        """The digest of the top-level manifest already stored where this destination writes, if cheap to learn.

        None means absent *or unknown*, and unknown always means "write it". The copy asks
        only when writing would leave exactly that manifest there (no conversion, no
        signature to add), so that an image the destination already holds costs one
        request instead of one per blob and a manifest ``PUT`` (containers/image's
        ``OptimizeDestinationImageAlreadyExists``). The answer is the destination's claim,
        never checked against bytes: it may only ever be used to write *less*.
        """
        return None

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """Whether layers should be compressed, decompressed, or kept."""
        return LayerCompression.PRESERVE

    @property
    def accepts_foreign_layer_urls(self) -> bool:
        """Whether foreign (URL-referenced) layers may be left as references."""
        return False

    @property
    def must_match_runtime_os(self) -> bool:
        """Whether only images for the running OS can be stored (docker-daemon)."""
        return False

    @property
    def has_thread_safe_put_blob(self) -> bool:
        """Whether ``put_blob`` may be called from several threads at once."""
        return True

    @property
    def precompute_digests(self) -> str | None:
        """The directory to spool a blob (re)compressed on the way in, to learn its digest first
        so that one already stored is not written again (skopeo's ``--dest-precompute-digests``);
        None: blobs stream straight to the destination."""
        return None

    @property
    @abc.abstractmethod
    def supports_manifest_lists(self) -> bool:
        """Whether a manifest list (with all its instances) can be stored.

        Declared by mixing in stubs.NoManifestLists or stubs.AlwaysSupportsManifestLists.
        """

    @abc.abstractmethod
    def put_blob(self, stream: BinaryIO, info: BlobInfo, *, is_config: bool = False) -> BlobInfo:
        """Store a blob, verifying it against ``info.digest`` (and size when known).

        Nothing may become visible before :meth:`commit`. Returns the stored blob's
        info (digest and size as actually written).

        Raises:
            DigestMismatchError: the stream's bytes do not match ``info``.
        """

    def put_new_blob(self, stream: BinaryIO, *, media_type: str | None = None, is_config: bool = False) -> BlobInfo:
        """Store a blob whose digest is not known yet (e.g. a layer compressed now).

        The default spools to a temporary file (computing the digest), then calls
        :meth:`put_blob`; destinations that can compute digests while writing
        override it to avoid the extra pass.
        """
        import shutil
        import tempfile

        from trustcopy.digest import DigestingReader

        reader = DigestingReader(stream, None, what="new blob")
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(reader, spool, 1 << 20)  # type: ignore[misc]
            digest = reader.verify()
            spool.seek(0)
            return self.put_blob(
                spool,  # type: ignore[arg-type]
                BlobInfo(digest=digest, size=reader.bytes_read, media_type=media_type),
                is_config=is_config,
            )

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """If the destination already has the blob, return its info; else None."""
        return None

    def blob_copy_ended(self, info: BlobInfo) -> None:
        """The copy of ``info`` ended (stored, stored under another digest, or failed).

        Why: a destination may reserve a blob in :meth:`try_reusing_blob` for the copy
        that follows (a registry session's upload claim); that copy does not always end
        in ``put_blob`` (a recompressed layer goes to ``put_new_blob``; a source can fail
        first), and a reservation kept until ``close`` holds up everyone else waiting for it.
        """

    @abc.abstractmethod
    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Store a manifest (an instance of a list when ``instance_digest`` is set)."""

    @abc.abstractmethod
    def put_signatures(self, signatures: Sequence[Signature], instance_digest: Digest | None = None) -> None:
        """Store these signatures (replacing any written before for the same image).

        Raises:
            SignatureError: code ``signatures-unsupported`` with supports_signatures()'s
                reason, for a non-empty list where signatures cannot be stored.
        """

    @abc.abstractmethod
    def commit(self, toplevel_manifest: bytes) -> None:
        """Make everything written visible, atomically where the medium allows."""
