"""Copying a manifest list: choose one instance, or copy every instance and the list.

Which instances are copied is planned by ``copy/evaluate.py`` (the one evaluation step):
with ``--multi-arch system`` (the default) one instance, chosen for the (overridden)
platform, is copied as a plain image. With ``all`` every instance goes through
:func:`copy_single_image` (so each passes the policy gate, as in containers/image) and
the list is rewritten for any instance whose manifest changed (and, in an OCI index
that may change, to mark instances with zstd layers, as the newest containers/image
does), converted to the list type the destination takes, and written last. With ``--sign-by`` or
``--sign-by-sigstore-private-key`` every instance and the list are signed (as
containers/image's copyMultipleImages and skopeo 1.9.3 do), all claiming the same identity.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.single import (
    CopyResult,
    PolicyGate,
    already_held,
    check_forced_compression_format,
    check_signatures_storable,
    copy_single_image,
    new_signatures,
    signing_identity,
)
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.image.unparsed import UnparsedImage
from trustcopy.transports.base import ImageDestination, ImageSource

if TYPE_CHECKING:
    from trustcopy.manifest.model import ImageManifest
    from trustcopy.manifest.parse import ManifestList

def copy_all(
    policy: PolicyGate,
    src: ImageSource,
    dest: ImageDestination,
    toplevel: UnparsedImage,
    manifest_list: ManifestList,
    instances: list[UnparsedImage],
    options: CopyOptions,
) -> CopyResult:
    """Copy every instance (already planned), then the list, rewritten if needed."""
    from trustcopy.manifest.digest import manifest_digest

    if not dest.supports_manifest_lists:
        raise ManifestError(f"{dest.reference} cannot store manifest lists; copy one instance instead",
                            code="manifest-list-unsupported")
    check_forced_compression_format(options)  # before a skip, as before the first instance
    # skopeo 1.9.3's lines (containers/image 5.23's sourceSignatures for the list).
    if not options.remove_signatures:
        options.say("Getting image list signatures")
    list_sigs = [] if options.remove_signatures else toplevel.signatures()
    if list_sigs:
        options.say("Checking if image list destination supports signatures")
    signing = options.signs
    # The instances' signatures too (read once, cached): a refusal must come before the
    # first instance is pushed, not between two of them.
    carried = [] if options.remove_signatures else [*list_sigs, *(s for i in instances for s in i.signatures())]
    if carried or signing:
        check_signatures_storable(dest, carried, options)
    if signing:
        signing_identity(dest, options)  # refused before the first instance is written

    # As containers/image's copyMultipleImages: why the list may not change, decided (and a
    # needed list conversion refused) before the first instance is written.
    cannot_modify: str | None = None
    if list_sigs:
        cannot_modify = "it would invalidate the list's signatures"
    dest_named = dest.reference.docker_reference()
    dest_digest = dest_named.digest if dest_named is not None else None
    if dest_digest is not None:
        if toplevel.manifest_digest() != dest_digest:
            raise ManifestError(
                f"the digest of the source manifest list ({toplevel.manifest_digest()}) would not match "
                f"the destination reference {dest.reference}", code="destination-digest-mismatch")
        cannot_modify = "the destination is referenced by digest"
    if options.preserve_digests:
        cannot_modify = "--preserve-digests was given"
    list_type = _list_type_for(manifest_list.media_type, dest, options.force_manifest_type)
    if list_type != manifest_list.media_type and cannot_modify is not None:
        raise ManifestError(
            f"{dest.reference} needs the manifest list converted from {manifest_list.media_type} to {list_type}, "
            f"which is not allowed: {cannot_modify}", code="manifest-conversion-refused",
            hint="use --remove-signatures to drop the signatures" if list_sigs else None)
    dest_ctx = options.dest_ctx
    if (options.skip_identical and not carried and not signing and options.force_manifest_type is None
            and list_type == manifest_list.media_type
            and (dest_ctx is None or (dest_ctx.compression_format is None and dest_ctx.compression_level is None))):
        # No instance can change (no conversion, no recompression of a blob found there,
        # nothing to sign): when the destination holds this very list, a copy would write
        # nothing new. Every instance was judged by the policy before the destination opened.
        raw = toplevel.manifest()[0]
        held = already_held(dest, raw)
        if held is not None:
            options.say("Skipping: image already present at destination")
            return CopyResult(manifest=raw, media_type=list_type, digest=held)

    updates: dict[Digest, CopyResult] = {}
    instances_by_digest = {i.instance_digest: i for i in instances}
    options.say(f"Copying {len(instances)} of {len(manifest_list.manifests)} images in list")
    for i, instance in enumerate(instances, start=1):
        assert instance.instance_digest is not None
        options.say(f"Copying image {instance.instance_digest} ({i}/{len(instances)})")
        result = copy_single_image(policy, src, dest, instance, options, target_instance=True)
        updates[instance.instance_digest] = result

    # As newest containers/image: an OCI index marks each instance whose layers are now
    # zstd-compressed, unless the list may not change (then the mark is not added, so a
    # signed index or --preserve-digests copy keeps its bytes).
    zstd = set() if cannot_modify is not None else {d for d, r in updates.items() if wrote_zstd_layers(
        _parsed(instances_by_digest[d]), r)}
    out = rewritten_list(manifest_list, {d: (r.digest, len(r.manifest), r.media_type) for d, r in updates.items()},
                         list_type, zstd=zstd)
    if out is not None and cannot_modify is not None:
        raise ManifestError(
            f"{dest.reference}: the manifest list must change, which is not allowed: {cannot_modify}",
            code="manifest-conversion-refused",
            hint="use --remove-signatures to drop the signatures" if list_sigs else None,
        )
    if out is None:
        out = toplevel.manifest()[0]
    options.say("Writing manifest list to image destination")
    dest.put_manifest(out, None)
    # As skopeo (containers/image copyMultipleImages): each instance was signed by
    # copy_single_image, and the list is signed as written, with the same identity.
    new_sigs = new_signatures(out, dest, options) if signing else []
    options.say("Storing list signatures")  # (skopeo 1.9.3 says so also when there are none)
    if list_sigs or new_sigs:
        dest.put_signatures([*list_sigs, *new_sigs], None)
    return CopyResult(manifest=out, media_type=list_type, digest=manifest_digest(out))


def rewritten_list(manifest_list: ManifestList, updates: Mapping[Digest, tuple[Digest, int, str]],
                   list_type: str, *, zstd: Collection[Digest] = ()) -> bytes | None:
    """The list to write after its instances were copied, or None to write the original bytes.

    As containers/image's copyMultipleImages: the updated list (converted to ``list_type``
    if that differs) is compared with the original list re-encoded; only a difference
    makes a new list, otherwise the original bytes (and digest) are kept. ``zstd``: see
    :meth:`ManifestList.with_instances`.
    """
    from trustcopy.manifest.convert import convert_list

    new_list = manifest_list.with_instances(updates, zstd=zstd)
    if list_type != new_list.media_type:
        new_list = convert_list(new_list, list_type)
    new = new_list.serialize()
    return new if new != manifest_list.clone().serialize() else None


def wrote_zstd_layers(source: ImageManifest | None, result: CopyResult) -> bool:
    """Whether the instance copied from ``source`` as ``result`` has zstd-compressed layers.

    What newest containers/image records as the copy's compression algorithms (and marks in
    an OCI index): the compression of each written layer whose compression the source
    manifest lets a copy change (``can_change_layer_compression``); an artifact's layers
    and layers kept encrypted count as unknown, as there. NOTE(go-diff): containers/image
    learns the compression of a layer it keeps from the bytes, we from the media type; and
    it counts a layer decrypted on the way by its decrypted bytes, which we do not.
    """
    from trustcopy.manifest.convert import can_change_layer_compression
    from trustcopy.manifest.mediatypes import OCI_LAYER_ZSTD, OCI_MANIFEST, OCI_NONDISTRIBUTABLE_LAYER_ZSTD
    from trustcopy.manifest.model import ImageManifest
    from trustcopy.manifest.parse import parse_manifest

    if source is None or result.media_type != OCI_MANIFEST:
        return False
    written = parse_manifest(result.manifest, result.media_type)
    if not isinstance(written, ImageManifest):
        return False
    zstd_types = (OCI_LAYER_ZSTD, OCI_NONDISTRIBUTABLE_LAYER_ZSTD)
    return any(
        can_change_layer_compression(source, s.media_type)
        and (w.media_type or "").removesuffix("+encrypted") in zstd_types
        for s, w in zip(source.layer_infos(), written.layer_infos(), strict=False))


def _parsed(instance: UnparsedImage) -> ImageManifest | None:
    """The instance's source manifest, parsed (it was read, judged and copied already); None for a list."""
    from trustcopy.manifest.model import ImageManifest
    from trustcopy.manifest.parse import parse_manifest

    raw, mime = instance.manifest()
    parsed = parse_manifest(raw, mime, source=str(instance.source.reference))
    return parsed if isinstance(parsed, ImageManifest) else None


def _list_type_for(source_type: str, dest: ImageDestination, forced: str | None) -> str:
    """The list type to write: follows --format, else the source's if the destination takes it."""
    from trustcopy.manifest.mediatypes import (
        DOCKER_V2_LIST,
        DOCKER_V2S1,
        DOCKER_V2S1_SIGNED,
        DOCKER_V2S2,
        OCI_INDEX,
        OCI_MANIFEST,
    )

    if forced == OCI_MANIFEST:
        return OCI_INDEX
    if forced in (DOCKER_V2S2, DOCKER_V2S1, DOCKER_V2S1_SIGNED):
        return DOCKER_V2_LIST
    supported = dest.supported_manifest_mime_types()
    if supported is None or source_type in supported:
        return source_type
    for candidate in (OCI_INDEX, DOCKER_V2_LIST):
        if candidate in supported:
            return candidate
    raise ManifestError(f"{dest.reference} supports no manifest list type", code="manifest-list-unsupported")
