"""CopyOptions: everything a copy may be asked to do, as one plain value.

The CLI builds one from flags; Python callers build one directly. Fields default to
skopeo's behaviour. Validation that needs no I/O happens in ``__post_init__`` so a
bad combination fails before any source is opened.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from trustcopy.errors import UsageError
from trustcopy.lazy import dataclass
from trustcopy.types import LayerCompression

if TYPE_CHECKING:
    from trustcopy.compression import Algorithm
    from trustcopy.copy.progress import ProgressEvent
    from trustcopy.copy.sigstore_params import PreparedSigner
    from trustcopy.ocicrypt import EncryptionConfig
    from trustcopy.reference import DockerReference
    from trustcopy.types import SystemContext


class ImageListSelection(enum.Enum):
    """What to copy when the source is a manifest list (skopeo --multi-arch)."""

    SYSTEM = "system"  #: the one instance matching the (overridden) platform
    ALL = "all"  #: every instance and the list itself
    INDEX_ONLY = "index-only"  #: the list alone (refused: needs every instance present)


#: --format values → manifest MIME types.
FORMATS: dict[str, str] = {
    "oci": "application/vnd.oci.image.manifest.v1+json",
    "v2s2": "application/vnd.docker.distribution.manifest.v2+json",
    "v2s1": "application/vnd.docker.distribution.manifest.v1+prettyjws",
}


@dataclass
class CopyOptions:
    """Options of one copy (see ``trustcopy copy --help`` for the user-facing names).

    Attributes:
        remove_signatures: do not copy the source's signatures.
        sign_by: GPG fingerprint to sign the written manifest with.
        sign_passphrase: passphrase for that key (never logged).
        sign_identity: the identity to claim in new signatures; defaults to the
            destination's Docker reference.
        sign_by_sigstore_private_key: a cosign private key file to sign with (its
            passphrase is ``sign_passphrase``).
        sigstore_bundle: with a sigstore key, write a Sigstore bundle (cosign v3) instead
            of a cosign attachment signature.
        sign_by_sigstore: what ``--sign-by-sigstore PARAM-FILE`` set up (a key, or a Fulcio
            certificate, and maybe a Rekor): trustcopy.copy.sigstore_params.prepare_signer.
        force_manifest_type: a MIME type from FORMATS, or None to keep the source's.
        image_list_selection: manifest list handling.
        max_parallel: upper bound on concurrent blob copies.
        source_ctx / dest_ctx: transport settings for each side.
        report: receives one human-readable progress line at a time (None: silent);
            the lines are :func:`trustcopy.copy.progress.plain_line` of each event.
        progress: receives every progress event (copy.progress), for live displays.
        preserve_digests: refuse any change that would alter the manifest digest.
        skip_identical: when the copy would write the source's manifest unchanged and no
            signature, ask the destination which manifest it holds there first; the same
            digest ends the copy after the policy check, with nothing written
            (containers/image's ``OptimizeDestinationImageAlreadyExists``).
        encryption: encrypt layers for these recipients (``--encryption-key``,
            ``--encrypt-layer``; trustcopy.ocicrypt); the manifest becomes OCI.
        decryption_keys: private keys (``--decryption-key``) that decrypt the source's
            encrypted layers; encrypted layers no key opens fail the copy.
    """

    remove_signatures: bool = False
    sign_by: str | None = None
    sign_passphrase: str | None = field(default=None, repr=False)
    sign_identity: DockerReference | None = None
    sign_by_sigstore_private_key: str | None = None
    sigstore_bundle: bool = False
    sign_by_sigstore: PreparedSigner | None = field(default=None, repr=False)
    force_manifest_type: str | None = None
    image_list_selection: ImageListSelection = ImageListSelection.SYSTEM
    max_parallel: int = 6
    source_ctx: SystemContext | None = None
    dest_ctx: SystemContext | None = None
    report: Callable[[str], None] | None = None
    progress: Callable[[ProgressEvent], None] | None = None
    preserve_digests: bool = False
    skip_identical: bool = True
    encryption: EncryptionConfig | None = None
    decryption_keys: tuple[Any, ...] = ()
    #: The decrypted key, once read, with the (path, passphrase) it was read from (an init field,
    #: so that dataclasses.replace, as sync uses for each image, carries it instead of decrypting
    #: the key again; a replace that names another key or passphrase reads that one).
    _sigstore_key: Any = field(default=None, repr=False, compare=False)
    _sigstore_key_from: tuple[str | None, str | None] | None = field(default=None, repr=False, compare=False)
    #: The ``sign_by`` key already checked (carried by replace as the key above; another key is checked again).
    _gpg_key_checked: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_parallel < 1:
            raise UsageError(f"the number of parallel copies must be at least 1, got {self.max_parallel}")
        if self.force_manifest_type is not None and self.force_manifest_type not in FORMATS.values():
            raise UsageError(f"unsupported manifest type {self.force_manifest_type!r}")
        if self.sigstore_bundle and not self.sign_by_sigstore_private_key:
            raise UsageError("--sigstore-bundle requires --sign-by-sigstore-private-key")
        if self.sign_by and self.sign_by_sigstore_private_key and self.sign_passphrase is not None:
            raise UsageError("Only one of --sign-by and --sign-by-sigstore-private-key can be used with "
                             "--sign-passphrase-file")
        if self.preserve_digests and self.encryption is not None:
            raise UsageError("--preserve-digests cannot be combined with --encryption-key: encrypting changes "
                             "the digest")
        # (--preserve-digests with --format is judged per image, as in skopeo: refused before
        # anything is written only when that image would have to be converted.)

    def sigstore_private_key(self) -> Any:
        """The ``sign_by_sigstore_private_key`` key, read and decrypted once for every image these options copy.

        The key is checked before anything is written (copy_image), then used for each
        signature: decrypting it again costs a scrypt run (about 0.1 s) per image of a sync.

        Raises:
            UsageError / SignatureError / LimitExceededError: as
                :func:`trustcopy.copy.sign.load_sigstore_private_key`.
        """
        source = (self.sign_by_sigstore_private_key, self.sign_passphrase)
        if self._sigstore_key is None or self._sigstore_key_from != source:
            from trustcopy.copy.sign import load_sigstore_private_key

            self._sigstore_key = load_sigstore_private_key(self.sign_by_sigstore_private_key or "",
                                                           self.sign_passphrase)
            self._sigstore_key_from = source
        return self._sigstore_key

    def check_gpg_signing_key(self) -> None:
        """Check the ``sign_by`` key once for every image these options copy (before anything is written).

        Raises:
            SignatureError: as :func:`trustcopy.signature.gpg.check_signing_key`.
        """
        if self.sign_by and self._gpg_key_checked != self.sign_by:
            from trustcopy.signature import gpg

            gpg.check_signing_key(self.sign_by)
            self._gpg_key_checked = self.sign_by

    @property
    def signs(self) -> bool:
        """Whether new signatures are made (any of --sign-by, --sign-by-sigstore-private-key, --sign-by-sigstore)."""
        return bool(self.sign_by or self.sign_by_sigstore_private_key or self.sign_by_sigstore)

    @property
    def signs_sigstore(self) -> bool:
        """Whether new sigstore signatures are made."""
        return bool(self.sign_by_sigstore_private_key or self.sign_by_sigstore)

    def say(self, message: str) -> None:
        """Report a step of the copy if someone listens (a quiet copy makes no event at all)."""
        if self.progress is None and self.report is None:
            return
        from trustcopy.copy.progress import Message

        self.emit(Message(message))

    def emit(self, event: ProgressEvent) -> None:
        """Send a progress event to ``progress``, and its plain line to ``report``."""
        if self.progress is not None:
            self.progress(event)
        if self.report is not None:
            from trustcopy.copy.progress import plain_line

            line = plain_line(event)
            if line is not None:
                self.report(line)


def manifest_type_for_format(name: str) -> str:
    """Map a ``--format`` value to a MIME type.

    Raises:
        UsageError: an unknown format name.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(
            f"unknown format {name!r}; valid formats: oci, v2s2" , code="invalid-format"
        ) from None


@dataclass(frozen=True)
class CompressionPlan:
    """What may happen to layer compression in one copy (containers/image's blob pipeline).

    Attributes:
        desired: what the destination wants (compress, decompress, or keep).
        algorithm: ``--dest-compress-format`` (None: gzip when compressing, and already
            compressed layers are kept as they are).
        level: ``--dest-compress-level``.
        manifest_type: the manifest type being written, for the new layers' media types.
        force: ``--dest-force-compress-format``: ``algorithm`` is the only acceptable
            compression for a layer the destination holds (containers/image's
            RequiredCompression for blob reuse).
        rewrite / rewrite_to: layer media types (zstd, going into a schema2 manifest) that
            must be recompressed to ``rewrite_to`` whatever ``desired`` says, and whose blobs
            at the destination are never reused.
        unchangeable: layer media types whose compression the source manifest does not let
            a copy change (an artifact's layers, another format's layer types:
            manifest.convert.can_change_layer_compression); such layers keep their bytes.
    """

    desired: LayerCompression = LayerCompression.PRESERVE
    algorithm: Algorithm | None = None
    level: int | None = None
    manifest_type: str = ""
    force: bool = False
    rewrite: frozenset[str] = frozenset()
    rewrite_to: Algorithm | None = None
    unchangeable: frozenset[str] = frozenset()

    def may_reuse(self, media_type: str | None) -> bool:
        """Whether a destination blob stored as ``media_type`` may stand for a layer.

        Why by media type: a blob found at the destination is not read, so its declared
        type is all there is; an uncompressed or unknown type never matches a forced
        format (containers/image: an unknown compression cannot satisfy a requirement).
        """
        if media_type in self.rewrite:
            return False
        if not self.force or self.algorithm is None:
            return True
        from trustcopy.errors import ManifestError
        from trustcopy.manifest.convert import layer_compression  # only under --dest-force-compress-format

        try:
            compression, _ = layer_compression(media_type or "")
        except ManifestError:
            return False
        return compression == self.algorithm.value

    def target_for(self, media_type: str | None, detected: Algorithm) -> Algorithm | None:
        """:meth:`target` for a layer of ``media_type``, honouring ``unchangeable`` and ``rewrite``."""
        if media_type in self.unchangeable:
            return None
        if self.rewrite_to is not None and media_type in self.rewrite:
            return None if detected is self.rewrite_to else self.rewrite_to
        return self.target(detected)

    def rewrites(self, media_type: str | None) -> bool:
        """Whether a layer of ``media_type`` must be recompressed whatever ``desired`` says."""
        return self.rewrite_to is not None and media_type in self.rewrite

    def target(self, detected: Algorithm) -> Algorithm | None:
        """The compression a layer stored with ``detected`` should get, or None to keep it."""
        from trustcopy.compression import Algorithm  # (a copy that moves no blob never loads it)

        if self.desired is LayerCompression.DECOMPRESS and detected is not Algorithm.NONE:
            return Algorithm.NONE
        if self.desired is LayerCompression.COMPRESS:
            if detected is Algorithm.NONE:
                return self.algorithm or Algorithm.GZIP
            if self.algorithm is not None and self.algorithm is not detected:
                return self.algorithm
        return None
