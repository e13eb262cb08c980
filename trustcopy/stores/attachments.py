"""Sigstore attachments (``sha256-HEX.sig``) and OCI 1.1 referrers: pure functions over bytes.

Registry transports call these with bytes they fetched and callables that fetch more;
nothing here speaks HTTP, so every rule is testable with recorded data.

Cosign attachments (containers/image's tag scheme, read and written identically):

- the signatures of manifest ``sha256:HEX`` live in an OCI image manifest tagged
  ``sha256-HEX.sig`` in the same (physical) repository, one layer per signature: the
  layer's media type is the signature's MIME type, its blob the payload, its
  annotations the signature's annotations;
- reading: the manifest must be an OCI image manifest; every layer (at most
  :data:`MAX_ATTACHMENT_LAYERS`) is fetched with at most :data:`MAX_SIGNATURE_BODY`
  bytes and checked against its digest; every layer becomes a SigstoreSignature (the
  policy evaluates the simple-signing ones and counts the others);
- writing: new signatures are appended to what is there, skipping any whose media
  type, size, digest and annotations equal an existing layer's (c/i's de-duplication);
  the config's ``rootfs.diff_ids`` grows with the layers. As containers/image
  (``putSignaturesToSigstoreAttachments``), an existing manifest is re-encoded from Go's
  ``imgspecv1.Manifest`` (its subject, annotations, artifactType and the layers' urls,
  data and platform kept; the config descriptor replaced) and an existing config from
  Go's ``imgspecv1.Image`` (image-spec 1.1: unknown fields dropped, times re-formatted,
  ``rootfs.type`` left as it was), so that the bytes pushed are the bytes c/i pushes.

Sigstore bundles as OCI 1.1 referrers (cosign v3): ``GET /v2/NAME/referrers/DIGEST``
(or, without that API, the index tagged ``sha256-HEX``) lists referrer manifests;
those whose ``artifactType`` is the bundle media type hold the bundle as their one
layer. Pages are followed at most :data:`MAX_REFERRER_PAGES` times and at most
:data:`MAX_REFERRERS` entries are considered: a registry that pages forever fails.

Invariant: every failure raises SignatureError (code ``attachment-invalid``) naming the
place (tag, layer index, referrer digest); nothing is ever guessed or skipped silently.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, ManifestError, SignatureError
from trustcopy.gojson import go_marshal, sorted_map
from trustcopy.limits import MAX_CONFIG_BODY, MAX_SIGNATURE_BODY
from trustcopy.manifest import _gojson
from trustcopy.manifest.model import Descriptor as ManifestDescriptor
from trustcopy.manifest.model import OCIManifest, rebuilt
from trustcopy.manifest.parse import parse_image_manifest
from trustcopy.signature.formats import SigstoreSignature

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
BUNDLE_ARTIFACT_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MAX_ATTACHMENT_LAYERS = 256
MAX_REFERRERS = 256
MAX_REFERRER_PAGES = 16
_EMPTY_JSON = b"{}"


def _bad(message: str) -> SignatureError:
    return SignatureError(message, code="attachment-invalid")


def attachment_tag(manifest_digest: Digest) -> str:
    """The tag holding cosign attachments for a manifest: ``sha256-HEX.sig``."""
    return f"{manifest_digest.algorithm}-{manifest_digest.hex}.sig"


def referrers_fallback_tag(manifest_digest: Digest) -> str:
    """The OCI referrers tag-scheme fallback: ``sha256-HEX`` (no ``.sig``)."""
    return f"{manifest_digest.algorithm}-{manifest_digest.hex}"


#: Error codes Go's docker/distribution ``errcode`` package knows (containers/image parses
#: with it); any other code string becomes ``UNKNOWN`` there, and so here.
_KNOWN_ERROR_CODES = frozenset({
    "UNKNOWN", "UNSUPPORTED", "UNAUTHORIZED", "DENIED", "UNAVAILABLE", "TOOMANYREQUESTS",
    "DIGEST_INVALID", "SIZE_INVALID", "NAME_INVALID", "TAG_INVALID", "NAME_UNKNOWN", "MANIFEST_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN",
    "BLOB_UPLOAD_INVALID", "PAGINATION_NUMBER_INVALID", "RANGE_INVALID",
})


def attachment_not_found(status: int, errors: Iterable[tuple[str, str]]) -> bool:
    """Whether a failed attachment-manifest fetch means "there are none" (containers/image's rules).

    As containers/image's ``isManifestUnknownError``, only the first error of the body counts.

    Args:
        status: the HTTP status.
        errors: the (code, message) pairs of a Distribution error body; empty if none parsed.

    Returns:
        True for MANIFEST_UNKNOWN; an UNKNOWN error (or a code Go's errcode does not know,
        which it reads as UNKNOWN: Harbor's ``NOT_FOUND``) whose message says "not found"
        (registry.redhat.io, Harbor); or a 404 without an error body. Any other failure
        must fail the read.
    """
    parsed = list(errors)
    if not parsed:
        return status == 404
    code, message = parsed[0]
    if code == "MANIFEST_UNKNOWN":
        return True
    return (code == "UNKNOWN" or code not in _KNOWN_ERROR_CODES) and "not found" in message.lower()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (the members attachments use; others are dropped when rewritten)."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = field(default=None, hash=False)
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Go's field order: mediaType, digest, size, annotations, artifactType (empty ones omitted)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations:
            out["annotations"] = sorted_map(dict(self.annotations))
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _bad(f"{where}: descriptor object expected")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    annotations, artifact_type = value.get("annotations"), value.get("artifactType")
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise _bad(f"{where}: mediaType and digest must be strings")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _bad(f"{where}: size must be a non-negative integer")
    if annotations is not None and (not isinstance(annotations, dict) or not all(
            isinstance(v, str) for v in annotations.values())):
        raise _bad(f"{where}: annotations must map strings to strings")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _bad(f"{where}: artifactType must be a string")
    try:
        parsed = Digest.parse(digest)
    except ValueError as exc:
        raise _bad(f"{where}: invalid digest {digest[:100]!r}: {exc}") from None
    frozen = None if annotations is None else types.MappingProxyType(dict(annotations))
    return Descriptor(media_type, parsed, size, frozen, artifact_type)


def _json_object(raw: bytes, where: str) -> dict[str, Any]:
    from trustcopy.limits import load_json

    try:
        value = load_json(raw, where)
    except (ValueError, UnicodeDecodeError, LimitExceededError) as exc:
        raise _bad(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _bad(f"{where}: JSON object expected")
    return value


@dataclass(frozen=True)
class AttachmentManifest:
    """A parsed ``sha256-HEX.sig`` manifest.

    ``model`` is the same document as Go's ``manifest.OCI1`` holds it (every image-spec
    1.1 field), which is what an update re-encodes.
    """

    config: Descriptor
    layers: tuple[Descriptor, ...]
    model: OCIManifest


def parse_attachment_manifest(raw: bytes, media_type: str | None, where: str) -> AttachmentManifest:
    """Parse an attachment manifest as containers/image requires it (an OCI image manifest).

    Args:
        raw: the manifest bytes (the caller bounded them at MAX_MANIFEST_BODY).
        media_type: the Content-Type the registry sent.
        where: ``registry/repo:sha256-….sig``, for errors and signature locations.

    Raises:
        SignatureError: another media type, malformed JSON, more than
            :data:`MAX_ATTACHMENT_LAYERS` layers, or a document Go's ``OCI1FromManifest``
            refuses (wrong JSON types; ``manifests``, ``fsLayers`` or ``history`` present:
            ``ValidateUnambiguousManifestFormat``).
    """
    if media_type != OCI_MANIFEST:
        raise _bad(f"unexpected MIME type for sigstore attachment manifest {where}: {media_type!r}")
    data = _json_object(raw, where)
    if data.get("schemaVersion") != 2 or data.get("mediaType", OCI_MANIFEST) != OCI_MANIFEST:
        raise _bad(f"{where} is not an OCI image manifest (schemaVersion 2)")
    layers = data.get("layers")
    if layers is None:
        layers = []
    if not isinstance(layers, list):
        raise _bad(f"{where}: layers must be a list")
    if len(layers) > MAX_ATTACHMENT_LAYERS:
        raise _bad(f"{where} lists {len(layers)} layers, more than {MAX_ATTACHMENT_LAYERS}")
    config = _descriptor(data.get("config"), f"{where} config")
    parsed = tuple(_descriptor(layer, f"{where} layer {i}") for i, layer in enumerate(layers))
    # Go's view of the same bytes (its type errors and ambiguity rules, every 1.1 field).
    # Go reads an absent or null "layers" as no layers; the model parser requires the field.
    go_raw = raw if isinstance(data.get("layers"), list) else go_marshal({**data, "layers": []})
    try:
        model = parse_image_manifest(go_raw, OCI_MANIFEST)
    except (ManifestError, LimitExceededError) as exc:
        raise _bad(f"parsing manifest {where}: {exc.message}") from None
    if not isinstance(model, OCIManifest):  # pragma: no cover - parse_image_manifest honours the type
        raise _bad(f"{where} is not an OCI image manifest")
    return AttachmentManifest(config, parsed, model)


#: fetch(descriptor, limit) → the blob's bytes, at most ``limit`` of them (the caller's
#: transport raises LimitExceededError beyond); the digest is checked here.
BlobFetcher = Callable[[Descriptor, int], bytes]


def fetch_verified(fetch: BlobFetcher, desc: Descriptor, limit: int, where: str) -> bytes:
    """A small blob, bounded by ``limit`` and checked against its digest and size.

    Raises:
        SignatureError: too large (declared or actual), or its bytes do not match.
    """
    if desc.size > limit:
        raise _bad(f"{where}: blob {desc.digest} of {desc.size} bytes is larger than {limit}")
    try:
        data = fetch(desc, limit)
    except LimitExceededError as exc:
        raise _bad(f"{where}: {exc.message}") from None
    if len(data) > limit:
        raise _bad(f"{where}: blob {desc.digest} is larger than {limit} bytes")
    if len(data) != desc.size or Digest.from_bytes(data, desc.digest.algorithm) != desc.digest:
        raise _bad(f"{where}: digest mismatch, expected {desc.digest}, got {Digest.from_bytes(data)}")
    return data


def read_attachment_signatures(manifest: AttachmentManifest, fetch: BlobFetcher, where: str) -> list[SigstoreSignature]:
    """Every layer of an attachment manifest as a signature (c/i keeps non-signatures too).

    Returns:
        Signatures in layer order; ``location`` is ``WHERE layer N`` (0-based, as the manifest).

    Raises:
        SignatureError: a layer is too large or does not match its digest.
    """
    out = []
    for index, layer in enumerate(manifest.layers):
        place = f"{where} layer {index}"
        payload = fetch_verified(fetch, layer, MAX_SIGNATURE_BODY, place)
        out.append(SigstoreSignature(layer.media_type, payload, dict(layer.annotations or {}), location=place))
    return out


@dataclass(frozen=True)
class AttachmentUpdate:
    """What to upload for new signatures: blobs first, then the config, then the manifest (tagged)."""

    blobs: tuple[tuple[Descriptor, bytes], ...]
    config: bytes
    manifest: bytes
    added: int


def _matches(layer: Descriptor | ManifestDescriptor, sig: SigstoreSignature) -> bool:
    """containers/image's ``layerMatchesSigstoreSignature`` (digest compared as sha256, as there)."""
    return (layer.media_type == sig.untrusted_mime_type and layer.size == len(sig.untrusted_payload)
            and str(layer.digest) == str(Digest.from_bytes(sig.untrusted_payload))
            and dict(layer.annotations or {}) == dict(sig.untrusted_annotations))


#: Go's ``imgspecv1.Image`` as image-spec 1.1.1 (current containers/image) declares it:
#: the decoding types, then the encoding order (``Platform`` is embedded after ``author``).
_IMAGE_CONFIG_SPEC: _gojson.Spec = ("struct", {
    "User": "string", "ExposedPorts": ("map", ("struct", {})), "Env": ("list", "string"),
    "Entrypoint": ("list", "string"), "Cmd": ("list", "string"), "Volumes": ("map", ("struct", {})),
    "WorkingDir": "string", "Labels": ("map", "string"), "StopSignal": "string", "ArgsEscaped": "bool",
})
_HISTORY_SPEC: _gojson.Spec = ("struct", {
    "created": "time", "created_by": "string", "author": "string", "comment": "string", "empty_layer": "bool",
})
_IMAGE_SPEC: _gojson.Spec = ("struct", {
    "created": "time", "author": "string", "architecture": "string", "os": "string", "os.version": "string",
    "os.features": ("list", "string"), "variant": "string", "config": _IMAGE_CONFIG_SPEC,
    "rootfs": ("struct", {"type": "string", "diff_ids": ("list", "string")}), "history": ("list", _HISTORY_SPEC),
})


def _omitempty(source: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``names`` of a decoded Go struct in order, empty ones omitted; maps in Go's key order."""
    return {name: sorted_map(source[name]) if isinstance(source[name], dict) else source[name]
            for name in names if source.get(name)}


def attachment_config(existing: bytes | None, new_diff_ids: Sequence[str], where: str) -> bytes:
    """The attachment config containers/image writes: Go's ``imgspecv1.Image`` with ``new_diff_ids`` appended.

    Args:
        existing: the current config blob, or None for a new attachment (then
            ``rootfs.type`` is ``layers`` and everything else is Go's zero value).
        new_diff_ids: the digests of the layers added, in order.
        where: for errors.

    Raises:
        SignatureError: ``existing`` is not JSON or Go's ``json.Unmarshal`` into the struct
            fails (a field of the wrong type, an invalid time).
    """
    image: dict[str, Any]
    if existing is None:
        image = {"rootfs": {"type": "layers"}}
    else:
        try:
            image = _gojson.decode(_gojson.loads(existing), _IMAGE_SPEC, {}, "") or {}
        except (ValueError, LimitExceededError) as exc:  # GoTypeError included
            raise _bad(f"parsing sigstore attachment config {where}: {exc}") from None
    rootfs = image.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids")
    if new_diff_ids:
        diff_ids = [*(diff_ids or []), *new_diff_ids]
    out: dict[str, Any] = _omitempty(image, ("created", "author"))
    out["architecture"] = image.get("architecture", "")
    out["os"] = image.get("os", "")
    out.update(_omitempty(image, ("os.version", "os.features", "variant")))
    out["config"] = _omitempty(image.get("config") or {}, ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd",
                                                         "Volumes", "WorkingDir", "Labels", "StopSignal",
                                                         "ArgsEscaped"))
    out["rootfs"] = {"type": rootfs.get("type", ""), "diff_ids": diff_ids}
    if image.get("history"):
        out["history"] = [_omitempty(h, ("created", "created_by", "author", "comment", "empty_layer"))
                          for h in image["history"]]
    return go_marshal(out)


def build_attachment_update(existing: AttachmentManifest | None, existing_config: bytes | None,
                            signatures: Sequence[SigstoreSignature], where: str) -> AttachmentUpdate:
    """The attachment manifest with ``signatures`` appended (duplicates skipped), as c/i builds it.

    containers/image's ``putSignaturesToSigstoreAttachments``: a new manifest is
    ``OCI1FromComponents`` (schemaVersion, mediaType, config, layers); an existing one is
    re-encoded with its other fields kept and its config descriptor replaced by the new
    config's (media type, digest, size only). New layers carry the signature's MIME type
    and annotations. The config and manifest are written even when nothing was added.

    Args:
        existing: the current manifest, or None when the tag does not exist yet.
        existing_config: its config blob (fetched with :func:`fetch_verified`, MAX_CONFIG_BODY).
        signatures: the signatures to store, in order.
        where: for errors.

    Returns:
        The blobs to upload, and the new config and manifest bytes (Go's field order).

    Raises:
        SignatureError: the existing config is malformed, or too many layers would result.
    """
    if existing is not None and (existing_config is None or len(existing_config) > MAX_CONFIG_BODY):
        raise _bad(f"{where}: the existing attachment config is missing or too large")
    layers: list[ManifestDescriptor] = [] if existing is None else list(existing.model.layers)
    blobs: list[tuple[Descriptor, bytes]] = []
    for sig in signatures:
        if any(_matches(layer, sig) for layer in layers):
            continue
        annotations = dict(sig.untrusted_annotations) or None
        desc = Descriptor(sig.untrusted_mime_type, Digest.from_bytes(sig.untrusted_payload),
                          len(sig.untrusted_payload), annotations)
        layers.append(ManifestDescriptor(desc.media_type, desc.digest, desc.size, annotations=annotations))
        blobs.append((desc, sig.untrusted_payload))
    if len(layers) > MAX_ATTACHMENT_LAYERS:
        raise _bad(f"{where} would hold {len(layers)} signatures, more than {MAX_ATTACHMENT_LAYERS}")
    config_bytes = attachment_config(None if existing is None else existing_config,
                                     [str(desc.digest) for desc, _ in blobs], f"{where} config")
    config_desc = ManifestDescriptor(OCI_CONFIG, Digest.from_bytes(config_bytes), len(config_bytes))
    if existing is None:
        manifest = OCIManifest.from_components(config_desc, layers)
    else:
        manifest = rebuilt(existing.model, config=config_desc, layers=tuple(layers))
    return AttachmentUpdate(tuple(blobs), config_bytes, manifest.raw, len(blobs))


# --- OCI 1.1 referrers: Sigstore bundles ------------------------------------------------

#: fetch_page(url_or_None) → (index bytes, next page URL or None). None fetches the first page.
PageFetcher = Callable[[str | None], tuple[bytes, str | None]]


def parse_referrers_index(raw: bytes, where: str) -> list[Descriptor]:
    """The entries of a referrers index (API response or fallback-tag index).

    Raises:
        SignatureError: not an OCI index, or more than :data:`MAX_REFERRERS` entries.
    """
    data = _json_object(raw, where)
    if data.get("schemaVersion") != 2 or data.get("mediaType", OCI_INDEX) != OCI_INDEX:
        raise _bad(f"{where} is not an OCI image index")
    manifests = data.get("manifests") or []
    if not isinstance(manifests, list):
        raise _bad(f"{where}: manifests must be a list")
    if len(manifests) > MAX_REFERRERS:
        raise _bad(f"{where} lists {len(manifests)} referrers, more than {MAX_REFERRERS}")
    return [_descriptor(m, f"{where} manifests[{i}]") for i, m in enumerate(manifests)]


def collect_referrers(fetch_page: PageFetcher, where: str) -> list[Descriptor]:
    """All referrers, following ``Link: rel=next`` pages (bounded), in order.

    Raises:
        SignatureError: more than :data:`MAX_REFERRER_PAGES` pages or :data:`MAX_REFERRERS` entries,
            or a page that repeats an earlier page's URL.
    """
    out: list[Descriptor] = []
    seen: set[str] = set()
    url: str | None = None
    for page in range(MAX_REFERRER_PAGES):
        raw, next_url = fetch_page(url)
        out.extend(parse_referrers_index(raw, f"{where} (page {page + 1})"))
        if len(out) > MAX_REFERRERS:
            raise _bad(f"{where} lists more than {MAX_REFERRERS} referrers")
        if next_url is None:
            return out
        if next_url in seen:
            raise _bad(f"{where}: the referrers pages loop (page {next_url!r} again)")
        seen.add(next_url)
        url = next_url
    raise _bad(f"{where}: more than {MAX_REFERRER_PAGES} pages of referrers")


def bundle_referrers(entries: Iterable[Descriptor]) -> list[Descriptor]:
    """The entries whose artifactType is a Sigstore bundle v0.3 (others are not ours to judge)."""
    return [e for e in entries if e.artifact_type == BUNDLE_ARTIFACT_TYPE and e.media_type == OCI_MANIFEST]


def read_bundle_referrer(raw: bytes, entry: Descriptor, fetch: BlobFetcher, where: str) -> SigstoreSignature:
    """The bundle a referrer manifest holds, as a signature for the policy.

    Args:
        raw: the referrer manifest bytes, as fetched by ``entry.digest``.
        entry: its entry in the referrers index.
        fetch: fetches the bundle blob.
        where: ``registry/repo``, for locations and errors.

    Raises:
        SignatureError: the manifest does not match its digest, is not a bundle artifact
            with exactly one layer, or the bundle blob is too large or corrupt.
    """
    place = f"{where} referrer {entry.digest}"
    if Digest.from_bytes(raw, entry.digest.algorithm) != entry.digest:
        raise _bad(f"{place}: the manifest does not match its digest")
    data = _json_object(raw, place)
    if data.get("artifactType") != BUNDLE_ARTIFACT_TYPE or data.get("mediaType", OCI_MANIFEST) != OCI_MANIFEST:
        raise _bad(f"{place} is not a Sigstore bundle artifact manifest")
    layers = data.get("layers")
    if not isinstance(layers, list) or len(layers) != 1:
        raise _bad(f"{place} must have exactly one layer (the bundle)")
    layer = _descriptor(layers[0], f"{place} layer 0")
    if layer.media_type != BUNDLE_ARTIFACT_TYPE:
        raise _bad(f"{place}: the layer's media type is {layer.media_type!r}, not the bundle's")
    bundle = fetch_verified(fetch, layer, MAX_SIGNATURE_BODY, place)
    return SigstoreSignature(BUNDLE_ARTIFACT_TYPE, bundle, {}, location=place)


@dataclass(frozen=True)
class ReferrerUpload:
    """What to upload for one bundle: the empty config and bundle blobs, then the manifest (by digest)."""

    blobs: tuple[tuple[Descriptor, bytes], ...]
    manifest: bytes
    manifest_descriptor: Descriptor


def build_bundle_referrer(bundle: bytes, subject: Descriptor, created: str | None = None) -> ReferrerUpload:
    """An OCI 1.1 artifact manifest for ``bundle`` whose subject is the signed image (cosign's BUNDLE_SPEC).

    Args:
        bundle: the Sigstore bundle bytes.
        subject: the signed manifest's descriptor (media type, digest, size).
        created: an RFC 3339 time for ``org.opencontainers.image.created``, if wanted.
    """
    empty = Descriptor(OCI_EMPTY, Digest.from_bytes(_EMPTY_JSON), len(_EMPTY_JSON))
    layer = Descriptor(BUNDLE_ARTIFACT_TYPE, Digest.from_bytes(bundle), len(bundle))
    annotations = {"dev.sigstore.bundle.content": "dsse-envelope",
                   "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}
    if created:
        annotations["org.opencontainers.image.created"] = created
    manifest = go_marshal({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_ARTIFACT_TYPE,
        "config": empty.to_json(), "layers": [layer.to_json()],
        "subject": {"mediaType": subject.media_type, "digest": str(subject.digest), "size": subject.size},
        "annotations": sorted_map(annotations),
    })
    desc = Descriptor(OCI_MANIFEST, Digest.from_bytes(manifest), len(manifest), annotations, BUNDLE_ARTIFACT_TYPE)
    return ReferrerUpload(((empty, _EMPTY_JSON), (layer, bundle)), manifest, desc)


def updated_fallback_index(existing: bytes | None, entry: Descriptor, where: str) -> bytes:
    """The ``sha256-HEX`` fallback index with ``entry`` added (kept once), for registries without the API.

    Raises:
        SignatureError: the existing index is malformed or would exceed :data:`MAX_REFERRERS`.
    """
    entries = [] if existing is None else parse_referrers_index(existing, where)
    if not any(e.digest == entry.digest for e in entries):
        entries.append(entry)
    if len(entries) > MAX_REFERRERS:
        raise _bad(f"{where} would list more than {MAX_REFERRERS} referrers")
    return go_marshal({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [e.to_json() for e in entries]})
