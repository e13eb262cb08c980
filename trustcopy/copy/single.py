"""Copying one image (not a list): gate → blobs → manifest → signatures.

Invariants:
- The policy check happens first, on the UnparsedImage, before the manifest is parsed
  or any blob is touched (a test uses a source whose get_blob raises).
- Existing signatures survive only if the manifest bytes survive: any conversion or
  layer change with signatures to carry is refused unless --remove-signatures.
- The destination sees blobs, then the manifest, then signatures; the caller commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from trustcopy.copy.options import FORMATS, CompressionPlan, CopyOptions
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, SignatureError, UsageError
from trustcopy.image.unparsed import UnparsedImage
from trustcopy.lazy import dataclass
from trustcopy.transports.base import ImageDestination, ImageSource
from trustcopy.types import BlobInfo, LayerCompression

if TYPE_CHECKING:
    from trustcopy.copy.blobs import LayerTransform
    from trustcopy.manifest.parse import ImageManifest
    from trustcopy.manifest.schema1 import Schema1Manifest
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature


class PolicyGate(Protocol):
    """What the pipeline needs of a policy: allow (return) or refuse (raise PolicyRejected)."""

    def check(self, unparsed: UnparsedImage) -> object:
        """Return a verdict when the image is allowed; raise PolicyRejected otherwise."""


@dataclass(frozen=True)
class CopyResult:
    """What was written: the manifest as stored at the destination, its type and digest.

    One type for a single image, a list and the whole copy (copy.pipeline returns it):
    each level hands its result up unchanged.
    """

    manifest: bytes
    media_type: str
    digest: Digest


_SIGNED_FORMATS_NOTE = "converting the manifest would invalidate the signatures being copied"


def choose_manifest_type(
    source_type: str, supported: Sequence[str] | None, forced: str | None, *, what: str
) -> str:
    """Pick the destination manifest type, as containers/image's determineManifestConversion.

    Keep the source's type when the destination takes it (and no --format forces
    another); otherwise the destination's first supported type. An empty ``supported``
    means "anything", as None (containers/image tests ``len(...) == 0``).

    Raises:
        ManifestError: the destination cannot store the forced type.
    """
    from trustcopy.manifest.mediatypes import IMAGE_TYPES

    supported = supported or None
    if forced is not None:
        if supported is not None and forced not in supported:
            raise ManifestError(
                f"{what} does not support manifest type {forced}; it supports {', '.join(supported)}",
                code="manifest-type-unsupported",
            )
        return forced
    if supported is None or source_type in supported:
        return source_type
    # As containers/image's preferredManifestMIMETypes: schema2 (then signed schema1) before
    # the destination's own order (TestDetermineManifestConversion "special→s2"/"special→s1").
    # Deliberately the first type trustcopy can write (containers/image takes the first
    # candidate, fails to convert to a type it does not know, and stops there).
    for candidate in [t for t in (FORMATS["v2s2"], FORMATS["v2s1"]) if t in supported] + list(supported):
        if candidate in IMAGE_TYPES:
            return candidate
    raise ManifestError(
        f"{what} supports no image manifest type trustcopy can produce", code="manifest-type-unsupported"
    )


def plan_manifest_type(
    source_type: str, supported: Sequence[str] | None, forced: str | None, *,
    cannot_modify: str | None, zstd: bool, encrypt: bool, what: str,
) -> str:
    """The manifest type a copy writes, decided before anything is written.

    containers/image's determineManifestConversion, as the newest containers/image has it:
    an explicitly requested zstd (``requestedCompressionFormat``) or encryption
    (``requiresOCIEncryption``) restricts every candidate to OCI, an empty destination list
    included, and no OCI candidate left is an error even when the manifest may not change.
    (containers/image 5.23 knows nothing of zstd there, and keeps the unfiltered destination
    types as candidates, or fails with "no candidate MIME types" for a schema2 image to an
    unrestricted destination.)

    Deliberate differences (fail-closed; tests/unit/copy/test_copy_decisions_goracle.py):
    - a manifest that may not change (``cannot_modify``) but would need converting, because
      the destination does not list its type or --format names another, is refused here;
      containers/image keeps the source type, ignoring --format, and "hopes for the best";
    - a --format the destination does not list, or a destination listing no type trustcopy
      can write, is refused (:func:`choose_manifest_type`).

    Raises:
        ManifestError: ``manifest-type-unsupported``, ``manifest-layer-compression-unsupported``,
            ``manifest-conversion-refused``.
        EncryptionError: ``encryption-needs-oci``.
    """
    from trustcopy.manifest.mediatypes import OCI_MANIFEST

    supported = supported or None  # empty: anything, as containers/image
    target = choose_manifest_type(source_type, supported, forced, what=what)
    if zstd:
        # Restricted to OCI; none left (--format v2s2, a schema2-only destination) fails even
        # when the manifest may not change; otherwise an image that may not change keeps its
        # type, and any other becomes OCI (a schema1 source then fails in the conversion
        # rather than silently ignoring the request).
        candidates = [forced] if forced is not None else supported
        if candidates is not None and OCI_MANIFEST not in candidates:
            raise ManifestError(f"{what}: zstd-compressed layers need an OCI manifest, and only "
                                f"{', '.join(candidates)} may be written there",
                                code="manifest-layer-compression-unsupported",
                                hint="use --dest-compress-format gzip, or an OCI destination / --format oci")
        if cannot_modify is None:
            target = OCI_MANIFEST
    if encrypt and target != OCI_MANIFEST:
        if forced is not None or (supported is not None and OCI_MANIFEST not in supported):
            from trustcopy.errors import EncryptionError

            raise EncryptionError(f"{what}: encrypted layers need an OCI manifest, which this "
                                  f"destination cannot store as {target}", code="encryption-needs-oci",
                                  hint="use an OCI-capable destination (dir:, oci:, a registry), without --format v2s2")
        target = OCI_MANIFEST  # as containers/image: encryption converts to OCI
    if target != source_type and cannot_modify:
        raise ManifestError(
            f"{what} needs the manifest converted from {source_type} to {target}, "
            f"which is not allowed: {cannot_modify}",
            code="manifest-conversion-refused",
            hint="use --remove-signatures to drop the signatures" if cannot_modify == _SIGNED_FORMATS_NOTE else None,
        )
    return target


def _plan_type(manifest_type: str) -> str:
    """The manifest type whose layer media types a compression plan uses: schema1 has none, and
    its layers are (de/re)compressed as schema2 ones (containers/image's fakeSchema1MIMEType)."""
    from trustcopy.manifest.mediatypes import DOCKER_V2S1, DOCKER_V2S1_SIGNED, DOCKER_V2S2

    return DOCKER_V2S2 if manifest_type in (DOCKER_V2S1, DOCKER_V2S1_SIGNED) else manifest_type


def _layer_changed(before: BlobInfo, after: BlobInfo) -> bool:
    return before.digest != after.digest or before.media_type != after.media_type


def copy_single_image(
    policy: PolicyGate,
    src: ImageSource,
    dest: ImageDestination,
    unparsed: UnparsedImage,
    options: CopyOptions,
    *,
    target_instance: bool = False,
) -> CopyResult:
    """Copy one image from ``src`` to ``dest`` (without committing).

    Args:
        unparsed: the image (the source's top level, or one instance of its list).
        target_instance: write the manifest as an instance of a list being copied
            (keyed by its own digest) rather than as the top-level manifest.

    Raises:
        PolicyRejected: the policy refused the image (nothing was written).
        ManifestError / SignatureError / TransportError / DigestMismatchError.
    """
    from trustcopy.image.sourced import read_config_blob
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.manifest.mediatypes import (
        DOCKER_CONFIG,
        DOCKER_V2S1,
        DOCKER_V2S1_SIGNED,
        DOCKER_V2S2,
        OCI_CONFIG,
        OCI_MANIFEST,
        guess_mime_type,
        is_list,
    )
    from trustcopy.manifest.parse import parse_manifest

    # Please keep the policy check BEFORE reading anything else about the image.
    policy.check(unparsed)

    raw, mime = unparsed.manifest()
    mime = mime or guess_mime_type(raw)
    if is_list(mime):
        raise ManifestError(f"{src.reference}: a manifest list inside a manifest list is not supported")

    # skopeo 1.9.3's lines (containers/image 5.23's sourceSignatures): none with --remove-signatures.
    if not options.remove_signatures:
        options.say("Getting image source signatures")
    sigs = [] if options.remove_signatures else unparsed.signatures()
    if sigs:
        options.say("Checking if image destination supports signatures")
    wants_new_sigs = options.signs
    if sigs or wants_new_sigs:
        check_signatures_storable(dest, sigs, options)
    if wants_new_sigs:
        signing_identity(dest, options)  # refused before anything is written, not after the manifest

    cannot_modify: str | None = None
    dest_named = dest.reference.docker_reference()
    dest_digest = dest_named.digest if dest_named is not None and not target_instance else None
    if dest_digest is not None:
        if unparsed.manifest_digest() != dest_digest:
            raise ManifestError(
                f"the digest of the source manifest ({unparsed.manifest_digest()}) would not match "
                f"the destination reference {dest.reference}",
                code="destination-digest-mismatch",
            )
        cannot_modify = "the destination is referenced by digest"
    elif sigs:
        cannot_modify = _SIGNED_FORMATS_NOTE
    elif options.preserve_digests:
        cannot_modify = "--preserve-digests was given"

    manifest: ImageManifest = parse_manifest(raw, mime, source=str(src.reference))  # type: ignore[assignment]
    schema1 = manifest.media_type in (DOCKER_V2S1, DOCKER_V2S1_SIGNED)
    # (Decided before the manifest type, as containers/image does: a refusal names the reference.)
    embedded = _embedded_reference_update(manifest, dest, cannot_modify) if schema1 else None  # type: ignore[arg-type]
    plan = compression_plan(dest, options, _plan_type(manifest.media_type), manifest)
    target_type = plan_manifest_type(
        manifest.media_type,
        dest.supported_manifest_mime_types(),
        options.force_manifest_type,
        cannot_modify=cannot_modify,
        zstd=plan.algorithm is not None and plan.algorithm.value == "zstd",
        encrypt=options.encryption is not None,
        what=str(dest.reference),
    )
    if target_type != manifest.media_type:
        plan = compression_plan(dest, options, _plan_type(target_type), manifest)
    # A schema1 image becoming schema2/OCI needs its layers' diff IDs (computed while copying).
    schema1_converts = schema1 and target_type in (DOCKER_V2S2, OCI_MANIFEST)
    if schema1 and (options.encryption is not None or options.decryption_keys):
        raise ManifestError(f"{src.reference}: encrypting or decrypting the layers of a schema1 image is not "
                            "supported", code="manifest-conversion-unsupported",
                            hint="copy it to an OCI image first, then encrypt that copy")
    crypt_manifest, transforms_for = _layer_crypto(manifest, src, dest, options, cannot_modify, sigs)

    # Convert a first time before copying anything, so an impossible conversion (zstd
    # layers to schema2, schema1 sources …) fails fast, and so that we learn whether the
    # conversion rewrites the config (schema2 → OCI does, exactly as skopeo).
    config_bytes: bytes | None = None
    new_config: bytes | None = None
    converted: ImageManifest = crypt_manifest
    if target_type == DOCKER_V2S2 and manifest.media_type == OCI_MANIFEST and cannot_modify is None \
            and options.encryption is None and not options.decryption_keys:
        crypt_manifest, plan = _zstd_layers_for_schema2(crypt_manifest, plan)
    if schema1_converts:
        from trustcopy.manifest.schema1convert import check_convertible

        check_convertible(manifest, what=str(src.reference))  # type: ignore[arg-type]
    elif target_type != manifest.media_type:
        from trustcopy.manifest.convert import convert_image  # only when converting: start-up time

        if manifest.config is not None and target_type == OCI_MANIFEST:
            config_bytes = read_config_blob(src, manifest.config, str(src.reference))
        conversion = convert_image(crypt_manifest, target_type, config_bytes)
        new_config, converted = conversion.config_blob, conversion.manifest
    transforms = transforms_for(converted)

    if plan.force:
        _check_forced_compression(converted, plan, cannot_modify, dest)
    if (options.skip_identical and not target_instance and not sigs and not wants_new_sigs
            and target_type == manifest.media_type and not any(transforms) and not plan.force
            and embedded is None):
        held = already_held(dest, raw)
        if held is not None:
            options.say("Skipping: image already present at destination")
            return CopyResult(manifest=raw, media_type=mime, digest=held)

    from trustcopy.copy.blobs import BlobRetry, copy_blobs  # (not for an image the destination holds)

    layers = manifest.layer_infos()
    if schema1:
        # Schema1 names no layer types: containers/image decides a layer's compression as if
        # it were a schema2 gzip layer (fakeSchema1MIMEType), and so do we.
        from trustcopy.manifest.schema1convert import LAYER_TYPE

        layers = [dataclasses.replace(info, media_type=LAYER_TYPE) for info in layers]
    config = manifest.config.blob_info() if manifest.config is not None and new_config is None else None
    from trustcopy.copy.progress import ManifestOrder

    listened = options.progress is not None or options.report is not None
    copied_layers, _ = copy_blobs(
        src, dest, layers, config,
        can_modify=cannot_modify is None,
        max_parallel=options.max_parallel,
        # skopeo's "Copying blob" lines, in the manifest's order
        say=ManifestOrder(layers, config, options.emit) if listened else options.emit,
        retry=BlobRetry.for_destination(options.dest_ctx),
        plan=plan,
        transforms=transforms,
        diff_ids=schema1_converts,
    )
    if schema1_converts:
        from trustcopy.manifest.schema1convert import convert_schema1

        converted, new_config = convert_schema1(
            manifest, target_type, [c.info for c in copied_layers],  # type: ignore[arg-type]
            [c.compressed for c in copied_layers], [c.diff_id for c in copied_layers], what=str(src.reference))
    if new_config is not None:
        _put_new_config(dest, new_config, options, DOCKER_CONFIG if target_type == DOCKER_V2S2 else OCI_CONFIG)

    layers_changed = any(_layer_changed(b, a.info) for b, a in zip(layers, copied_layers, strict=True))
    if schema1_converts:
        out, out_type = converted.raw, target_type
    elif schema1 and (layers_changed or embedded is not None):
        from trustcopy.manifest.schema1convert import updated_schema1
        from trustcopy.manifest.schema1sign import add_dummy_signature

        # containers/image's Serialize: the new payload signed by a throw-away key (a registry
        # refuses an unsigned schema1 manifest); its digest is the payload's.
        stored = [c.info for c in copied_layers] if layers_changed else layers
        out = add_dummy_signature(updated_schema1(manifest, stored, what=str(src.reference),  # type: ignore[arg-type]
                                                  embedded=embedded))
        out_type = DOCKER_V2S1_SIGNED
    elif not layers_changed and target_type == manifest.media_type:
        out, out_type = raw, mime
    else:
        updated = converted
        if layers_changed:
            # Changed layers carry media types of the target format; the others keep the
            # converted manifest's own descriptors.
            infos = [c.info if c.compressed else base
                     for c, base in zip(copied_layers, converted.layer_infos(), strict=True)]
            updated = converted.with_layer_infos(infos)
        out, out_type = updated.serialize(), target_type
    digest = manifest_digest(out)

    options.say("Writing manifest to image destination")
    dest.put_manifest(out, digest if target_instance else None)

    new_sigs = new_signatures(out, dest, options) if wants_new_sigs else []
    options.say("Storing signatures")  # (skopeo 1.9.3 says so also when there are none)
    if sigs or new_sigs:
        dest.put_signatures([*sigs, *new_sigs], digest if target_instance else None)
    return CopyResult(manifest=out, media_type=out_type, digest=digest)


def _embedded_reference_update(manifest: Schema1Manifest, dest: ImageDestination,
                               cannot_modify: str | None) -> tuple[str, str] | None:
    """The repository path and tag a schema1 manifest must name at ``dest``, when they are not
    its own ``name`` and ``tag`` (containers/image's ``updateEmbeddedDockerReference``).

    Why: older registries refuse a schema1 manifest naming another repository, so a copy to
    another name rewrites it (and re-signs it). Only a destination with a Docker reference
    cares (``docker:``, and ``docker-archive:``/``docker-daemon:`` with a name, where the
    schema1 image is converted anyway); the path is the reference's without its registry, the
    tag "" for an untagged reference.

    Raises:
        ManifestError: ``manifest-conversion-refused`` when the manifest would change but may not.
    """
    named = dest.reference.docker_reference()
    if named is None:
        return None
    wanted = (named.path, named.tag or "")
    if wanted == (manifest.name, manifest.tag):
        return None
    if cannot_modify is not None:
        raise ManifestError(f"copying a schema1 image with an embedded Docker reference to {dest.reference} "
                            f"(Docker reference {named}) would change the manifest, which we cannot do: "
                            f"{cannot_modify}", code="manifest-conversion-refused")
    return wanted


def _layer_crypto(manifest: ImageManifest, src: ImageSource, dest: ImageDestination, options: CopyOptions,
                  cannot_modify: str | None, sigs: list[Any],
                  ) -> tuple[ImageManifest, Callable[[ImageManifest], list[LayerTransform | None]]]:
    """Which layers ``--encryption-key``/``--decryption-key`` change, decided before anything is copied.

    Returns the manifest to convert (encrypted layers that will be decrypted already
    described by their plaintext media type; their digest and size are those of the
    decrypted bytes once copied) and a function that, given the manifest in the target
    format, gives each layer's transform (None: copied as it is).
    A transformed layer still gets the destination's compression step, between decryption
    and encryption (trustcopy.copy.blobs.copy_blob), as in containers/image.

    Raises:
        EncryptionError: a layer no key opens, an --encrypt-layer index out of range, or
            signatures or a digest that encryption would invalidate.
    """
    from dataclasses import replace

    from trustcopy.errors import EncryptionError

    layers = manifest.layer_infos()
    decrypt: dict[int, Any] = {}
    encrypt: set[int] = set()
    if options.decryption_keys or options.encryption is not None:
        from trustcopy.ocicrypt import LayerDecryption, is_encrypted

        if options.decryption_keys:
            for i, layer in enumerate(layers):
                if is_encrypted(layer.media_type):
                    decrypt[i] = LayerDecryption.open(layer.annotations, options.decryption_keys,
                                                      f"{src.reference}: layer {layer.digest}")
        if options.encryption is not None:
            encrypt = options.encryption.chosen(len(layers), str(src.reference))
            already = [layers[i].digest for i in sorted(encrypt) if is_encrypted(layers[i].media_type)]
            if already:
                raise EncryptionError(f"{src.reference}: layer {already[0]} is already encrypted (re-encrypting "
                                      "is not supported: decrypt in one copy, encrypt in another)",
                                      code="encryption-layer-encrypted")
    if (decrypt or encrypt) and cannot_modify:
        raise EncryptionError(f"{dest.reference}: cannot {'encrypt' if encrypt else 'decrypt'} layers: "
                              f"{cannot_modify}", code="encryption-refused",
                              hint="use --remove-signatures to drop the signatures" if sigs else None)
    plain = manifest
    if decrypt:
        from trustcopy.ocicrypt import decrypted_media_type, without_encryption_annotations

        # (The digest sealed in a layer's key is not that of its plaintext when containers/image
        # compressed the layer before encrypting it: copy_blob names the plaintext by its bytes.)
        infos = [replace(layer, media_type=decrypted_media_type(layer.media_type or ""),
                         annotations=without_encryption_annotations(layer.annotations))
                 if i in decrypt else layer for i, layer in enumerate(layers)]
        plain = manifest.with_layer_infos(infos)

    def transforms(target: ImageManifest) -> list[LayerTransform | None]:
        out: list[LayerTransform | None] = [None] * len(layers)
        if not (decrypt or encrypt):
            return out
        from trustcopy.copy.blobs import LayerTransform
        from trustcopy.ocicrypt import LayerEncryption

        # The target's (plaintext) media type holds while the copy keeps a layer's
        # compression; the blob pipeline renames a layer it (de/re)compresses, and adds
        # "+encrypted" to one it encrypts, once the bytes are known.
        targets = target.layer_infos()
        for i in range(len(layers)):
            media_type = targets[i].media_type or ""
            if i in encrypt:
                out[i] = LayerTransform(media_type, encryption=LayerEncryption.new(
                    options.encryption.recipients))  # type: ignore[union-attr]
            elif i in decrypt:
                out[i] = LayerTransform(media_type, decryption=decrypt[i])
        return out

    return plain, transforms


def already_held(dest: ImageDestination, raw: bytes) -> Digest | None:
    """The digest of ``raw`` when the destination says it already holds exactly that manifest.

    Why skipping then writes the same thing a copy would: without a conversion, a copy
    writes the source's manifest unchanged whenever every blob it names is already at the
    destination (blobs found there are reused as they are, never recompressed), and a
    registry stores a manifest only once all its blobs are there (a list: once all its
    instances are). The policy has already allowed the image; nothing is signed, so
    nothing new would be written at all.

    A signed schema1 manifest is never skipped: its digest leaves out its signatures, so
    the destination may hold other bytes under the same digest. The newest containers/image
    compares the whole manifest bytes (container-libs 4a479f3606); a digest of the bytes
    as they are is what we can compare here, and for every other manifest that digest is
    the one ``held`` names.
    """
    from trustcopy.digest import Digest
    from trustcopy.manifest.digest import manifest_digest, matches_digest

    held = dest.held_manifest_digest()
    if held is None or not matches_digest(raw, held):
        return None
    digest = manifest_digest(raw)
    if digest != Digest.from_bytes(raw, digest.algorithm):
        return None  # a signed schema1 manifest (see above)
    return digest


def _put_new_config(dest: ImageDestination, config: bytes, options: CopyOptions, media_type: str) -> None:
    """Store a config the conversion wrote (unless the destination already has it)."""
    import io

    from trustcopy.copy.progress import BlobAnnounced, BlobDone

    info = BlobInfo(digest=Digest.from_bytes(config), size=len(config), media_type=media_type)
    options.emit(BlobAnnounced("config", info))  # skopeo names the config it writes, after the layers
    if dest.try_reusing_blob(info) is not None:
        options.emit(BlobDone("config", info, "skipped: already exists", info))
        return
    dest.put_blob(io.BytesIO(config), info, is_config=True)  # type: ignore[arg-type]
    options.emit(BlobDone("config", info, "done (converted)", info, len(config)))


def _zstd_layers_for_schema2(manifest: ImageManifest, plan: CompressionPlan) -> tuple[ImageManifest, CompressionPlan]:
    """Let an OCI image with zstd layers become schema2: those layers get a compression schema2 has.

    Schema2 has no zstd media type, so containers/image first edits such layers as the copy
    will store them and converts afterwards (``layerEditsOfOCIOnlyFeatures``): a
    docker-archive: destination, which decompresses, then gets plain layers. trustcopy does
    the same, and goes one step further where containers/image would fail: a destination
    that keeps layers as they are (docker-daemon:, dir:) gets them uncompressed, one that
    compresses (``--format v2s2`` to a registry) gets them gzip-compressed. The blobs the
    destination may hold in zstd are never reused for these layers, so a manifest can never
    name a zstd blob with a gzip media type.
    """
    from trustcopy.compression import Algorithm
    from trustcopy.manifest.convert import layer_compression, layer_media_type_for
    from trustcopy.manifest.mediatypes import OCI_MANIFEST

    target = plan.target(Algorithm.ZSTD)
    if target is None:
        target = Algorithm.GZIP if plan.desired is LayerCompression.COMPRESS else Algorithm.NONE
    if target not in (Algorithm.GZIP, Algorithm.NONE):
        return manifest, plan
    infos: list[BlobInfo] = []
    rewritten: set[str] = set()
    for info in manifest.layer_infos():
        try:
            compression, foreign = layer_compression(info.media_type or "")
        except ManifestError:
            compression, foreign = None, False
        if compression != "zstd":
            infos.append(info)
            continue
        rewritten.add(info.media_type or "")
        new_type = layer_media_type_for(OCI_MANIFEST, None if target is Algorithm.NONE else "gzip", foreign)
        infos.append(BlobInfo(digest=info.digest, size=info.size, media_type=new_type, urls=info.urls,
                              annotations=info.annotations))
    if not rewritten:
        return manifest, plan
    return manifest.with_layer_infos(infos), dataclasses.replace(plan, rewrite=frozenset(rewritten), rewrite_to=target)


def _check_forced_compression(manifest: ImageManifest, plan: CompressionPlan, cannot_modify: str | None,
                              dest: ImageDestination) -> None:
    """Refuse, before anything is written, a forced compression some layer could not get.

    A destination that compresses layers recompresses each one stored otherwise (encrypted
    or decrypted layers too: the compression step sits between decryption and encryption),
    unless the image may not change (signatures kept, a digest reference, --preserve-digests):
    containers/image then copies the layer as it is, and the image silently breaks the
    promise of --dest-force-compress-format. Destinations that keep or remove compression
    (dir: without --dest-compress, docker-archive:) are left to their own rule, as in skopeo.
    """
    if plan.desired is not LayerCompression.COMPRESS or cannot_modify is None:
        return
    for index, layer in enumerate(manifest.layer_infos()):
        if plan.may_reuse(layer.media_type):
            continue
        raise UsageError(
            f"{dest.reference}: --dest-force-compress-format {plan.algorithm.value if plan.algorithm else ''}: "
            f"layer {index} ({layer.digest}, {layer.media_type}) cannot be recompressed: {cannot_modify}",
            code="compression-refused",
            hint="use --remove-signatures to drop the signatures" if cannot_modify == _SIGNED_FORMATS_NOTE else None)


def check_forced_compression_format(options: CopyOptions) -> None:
    """Refuse ``force_compression_format`` without a ``compression_format`` to force.

    As containers/image's shouldRequireCompressionFormatMatch (the CLI refuses the flag
    combination itself; this guards library callers, who would otherwise get no forcing).

    Raises:
        UsageError: ``invalid-compression``.
    """
    ctx = options.dest_ctx
    if ctx is not None and ctx.force_compression_format and ctx.compression_format is None:
        raise UsageError("cannot force a layer compression format without naming one",
                         code="invalid-compression",
                         hint="give --dest-compress-format with --dest-force-compress-format")


def compression_plan(dest: ImageDestination, options: CopyOptions, manifest_type: str,
                     source: ImageManifest | None = None) -> CompressionPlan:
    """What may happen to layer compression, from the destination and --dest-compress-* flags.

    ``source``: the manifest copied, whose layers of types it does not let a copy change
    keep their bytes (CompressionPlan.unchangeable).

    Raises:
        UsageError: an unknown --dest-compress-format or a level out of range.
    """
    ctx = options.dest_ctx
    check_forced_compression_format(options)
    algorithm = level = None
    if ctx is not None and ctx.compression_format is not None:
        from trustcopy.compression import algorithm_by_name

        try:
            algorithm = algorithm_by_name(ctx.compression_format)
        except ValueError as exc:
            raise UsageError(f"--dest-compress-format: {exc}", code="invalid-compression") from exc
    if ctx is not None and ctx.compression_level is not None:
        from trustcopy.compression import Algorithm, validate_level

        level = ctx.compression_level
        try:
            validate_level(algorithm or Algorithm.GZIP, level)
        except ValueError as exc:
            raise UsageError(f"--dest-compress-level: {exc}", code="invalid-compression") from exc
    unchangeable: frozenset[str] = frozenset()
    if source is not None:
        from trustcopy.manifest.convert import can_change_layer_compression

        unchangeable = frozenset(d.media_type for d in source.layers
                                 if d.media_type and not can_change_layer_compression(source, d.media_type))
    return CompressionPlan(desired=dest.desired_layer_compression, algorithm=algorithm, level=level,
                           manifest_type=manifest_type,
                           force=ctx is not None and ctx.force_compression_format and algorithm is not None,
                           unchangeable=unchangeable)


def check_signatures_storable(dest: ImageDestination, carried: Sequence[Signature], options: CopyOptions) -> None:
    """Refuse, before anything is written, signatures the destination cannot store.

    ``carried`` are the source's signatures being copied; the formats ``--sign-by`` and
    ``--sign-by-sigstore-private-key`` would create are asked about too (``docker://``
    stores sigstore signatures only with ``use-sigstore-attachments``).

    Raises:
        SignatureError: ``signatures-unsupported`` (carried ones, or new GPG ones), or
            ``sigstore-signing-unsupported`` (new sigstore ones), with the destination's reason.
    """
    from trustcopy.signature.formats import SIGSTORE_FORMAT, SIMPLE_SIGNING_FORMAT

    def unsupported(reason: str) -> str:
        # Transports' reasons already name the destination ("oci-archive:x.tar: pushing
        # signatures …"): name it once.
        prefix = f"{dest.reference}: "
        return f"cannot copy signatures to {dest.reference}: {reason.removeprefix(prefix)}"

    carried_formats = {sig.format_id for sig in carried}
    if carried_formats and (reason := dest.supports_signature_formats(carried_formats)) is not None:
        # Archives and layouts hold no signatures: an air-gap transfer that must keep them
        # goes through dir:, which stores them as signature-N files.
        keep = "" if dest.reference.transport.name in ("docker", "dir") else \
            ", or copy to dir: (which keeps signatures) to carry them"
        # With --sign-by too, --remove-signatures alone would only fail on the new signature.
        hint = (f"copy to dir: or a registry to sign (this destination holds no signatures){keep}"
                if options.signs else f"use --remove-signatures to copy the image without its signatures{keep}")
        raise SignatureError(unsupported(reason), code="signatures-unsupported", hint=hint)
    if options.sign_by and (reason := dest.supports_signature_formats({SIMPLE_SIGNING_FORMAT})) is not None:
        raise SignatureError(unsupported(reason), code="signatures-unsupported",
                             hint="sign into dir: or a registry; this destination holds no signatures")
    if options.signs_sigstore and (reason := dest.supports_signature_formats({SIGSTORE_FORMAT})) is not None:
        raise SignatureError(f"cannot store sigstore signatures in {dest.reference}: {reason}",
                             code="sigstore-signing-unsupported",
                             hint="set use-sigstore-attachments: true for the destination in registries.d "
                                  "(docs/registries.md)" if dest.reference.transport.name == "docker" else None)


def signing_identity(dest: ImageDestination, options: CopyOptions) -> DockerReference:
    """The identity new signatures claim: ``--sign-identity``, else the destination's Docker reference.

    As containers/image's createSignatures: an explicit identity must be fully specified
    (a tag or a digest), for every kind of signature; the destination's own reference is
    taken as it is, except that sigstore signatures (``--sign-by-sigstore*``) refuse a
    name-only one too, as containers/image's sigstore signer does.

    Raises:
        UsageError: ``sign-identity-required``: no identity, or a name-only one.
    """
    explicit = options.sign_identity
    identity = explicit or dest.reference.docker_reference()
    if identity is None:
        raise UsageError(
            f"cannot determine the canonical Docker reference for destination {dest.reference}",
            code="sign-identity-required",
            hint="pass --sign-identity with the fully specified reference the signature should claim",
        )
    if identity.is_name_only and (explicit is not None or options.signs_sigstore):
        raise UsageError(
            f"sign identity must be a fully specified reference (with a tag or a digest): {identity}",
            code="sign-identity-required",
            hint=f"e.g. --sign-identity {identity}:latest" if explicit is not None else
            "pass --sign-identity with the fully specified reference the signature should claim",
        )
    return identity


def new_signatures(manifest: bytes, dest: ImageDestination, options: CopyOptions) -> list[Signature]:
    """Sign the manifest (or manifest list) as written, claiming --sign-identity or the destination's name.

    As containers/image: a GPG signature (``--sign-by``) first, then a sigstore one
    (``--sign-by-sigstore-private-key``) when both are asked for.
    """
    if not options.signs:  # as createSignatures: no signer, no identity needed (dir: has none)
        return []
    from trustcopy.copy.progress import Status

    identity = signing_identity(dest, options)
    out: list[Signature] = []
    if options.sign_by:
        from trustcopy.copy.sign import create_signatures

        options.say("Signing manifest using simple signing")  # skopeo 1.9.3's words
        options.emit(Status(f"signing with GPG key {options.sign_by}"))  # (shown with --debug)
        out += create_signatures(manifest, identity, sign_by=options.sign_by, passphrase=options.sign_passphrase)
    if options.sign_by_sigstore_private_key:
        from trustcopy.copy.sign import create_sigstore_signatures

        what = "a Sigstore bundle" if options.sigstore_bundle else "a sigstore signature"
        options.say(f"Signing manifest using {what}")  # skopeo 1.9.3's words (a bundle: trustcopy's own)
        options.emit(Status(f"signing with sigstore key {options.sign_by_sigstore_private_key}"))
        out += create_sigstore_signatures(manifest, identity, key=options.sigstore_private_key(),
                                          bundle=options.sigstore_bundle)
    if options.sign_by_sigstore is not None:
        from trustcopy.copy.sign import create_param_file_signatures

        signer = options.sign_by_sigstore
        # skopeo 1.9.3's words for a sigstore signature (skopeo 1.11+, which has this option,
        # prints "Creating signature: Signing image using a sigstore signature").
        options.say("Signing manifest using a sigstore signature")
        rekor = f", logged in Rekor at {signer.rekor_url}" if signer.rekor_url else ""
        options.emit(Status(f"signing with {signer.describe}{rekor}"))  # (shown with --debug)
        out += create_param_file_signatures(manifest, identity, signer)
    return out
