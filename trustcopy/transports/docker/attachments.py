"""Sigstore signatures in a registry: cosign attachments and OCI 1.1 referrers, over the wire.

The layouts and every parsing rule live in :mod:`trustcopy.stores.attachments` (pure
functions over bytes); this module only fetches and pushes what they name, with the
repository's :class:`~trustcopy.transports.docker.client.RegistryClient`.

Reading (for the *physical* reference pulled from, as containers/image; only when
registries.d sets ``use-sigstore-attachments: true`` for it, which the source checks):

1. cosign attachments: the manifest tagged ``sha256-HEX.sig``. "Not found" is decided by
   :func:`~trustcopy.stores.attachments.attachment_not_found` (``MANIFEST_UNKNOWN``, a bare
   404, the Harbor and Red Hat registry "not found" messages); any other failure fails the
   read, never "no signatures". It must be an OCI image manifest of at most 256 layers;
   each layer is fetched with at most 4 MiB and checked against its digest.
2. Sigstore bundles (cosign v3): ``GET /v2/NAME/referrers/DIGEST?artifactType=…``; a 404
   means the registry has no referrers API (OCI distribution-spec 1.1), and the fallback
   index tagged ``sha256-HEX`` is read instead (its absence: no referrers). Pages are
   followed within the registry's origin, at most 16 of them and 256 entries; the
   entries whose ``artifactType`` is the bundle's are fetched by digest and their one
   layer (the bundle, at most 4 MiB) checked against its digest.

Writing (the reference pushed to; only with ``use-sigstore-attachments: true``, which the
destination checks before anything is pushed):

- a cosign signature (any sigstore signature that is not a bundle) is appended to the
  ``sha256-HEX.sig`` manifest as containers/image appends it (its de-duplication: media
  type, size, digest and annotations; the existing manifest and config re-encoded as Go
  re-encodes them); blobs first, then the config, then the tag, even when nothing new
  was added (``putSignaturesToSigstoreAttachments`` always pushes both);
- a bundle becomes a referrer manifest whose ``subject`` is the signed manifest, pushed
  by digest; when the registry's answer has no ``OCI-Subject`` header (no referrers API)
  the ``sha256-HEX`` fallback index is read, extended and pushed, as the spec asks
  clients to (two writers racing on that tag can lose an entry: the spec's own caveat).

Invariants:
- Every signature read carries its ``location``: ``REGISTRY/REPO:sha256-HEX.sig layer N``
  (0-based, the manifest's order) or ``REGISTRY/REPO referrer sha256:…``.
- Everything read is bounded (manifests and index pages at 4 MiB, layers and bundles at
  4 MiB, configs at 4 MiB), and nothing is followed to another origin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import httpx

from trustcopy import limits
from trustcopy.errors import SignatureError, TrustcopyError
from trustcopy.redact import redact_url
from trustcopy.stores.attachments import (
    BUNDLE_ARTIFACT_TYPE,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    PageFetcher,
    attachment_not_found,
    attachment_tag,
    build_attachment_update,
    build_bundle_referrer,
    bundle_referrers,
    collect_referrers,
    fetch_verified,
    parse_attachment_manifest,
    parse_referrers_index,
    read_attachment_signatures,
    read_bundle_referrer,
    referrers_fallback_tag,
    updated_fallback_index,
)

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.transports.docker.client import RegistryClient

log = logging.getLogger("trustcopy.docker")

#: MIME types under which a Sigstore bundle is carried (cosign v3's, and the older spelling).
BUNDLE_MIME_TYPES = frozenset({BUNDLE_ARTIFACT_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3"})

#: put_blob(data, media_type): make the bytes a blob of the destination repository.
BlobPutter = Callable[[bytes, str], None]


def _bad(message: str) -> SignatureError:
    return SignatureError(message, code="attachment-invalid")


def is_bundle(sig: SigstoreSignature) -> bool:
    """Whether ``sig`` is a Sigstore bundle (stored as a referrer, not as an attachment layer)."""
    return sig.untrusted_mime_type in BUNDLE_MIME_TYPES


# -- fetching ---------------------------------------------------------------------------


def _optional_manifest(client: RegistryClient, tag: str, what: str) -> tuple[bytes, str] | None:
    """GET a manifest by tag (every type accepted, as c/i asks); None when the registry says it does not exist.

    The caller checks the MIME type, so that a tag holding something else fails with
    that reason rather than with whatever a registry does for an unacceptable type.

    Raises:
        RegistryError / NetworkError / LimitExceededError: any failure other than "not found"
            (:func:`~trustcopy.stores.attachments.attachment_not_found`).
    """
    from trustcopy.manifest.mediatypes import manifest_accept_header, simplify_content_type
    from trustcopy.transports.docker.errors import parse_error_body, read_body, response_error

    def request() -> httpx.Response:
        response = client.send("GET", f"/v2/{client.path}/manifests/{tag}", what=what,
                               headers={"Accept": manifest_accept_header()})
        if response.status_code == 200:
            return response
        try:
            body = read_body(response, limits.MAX_ERROR_BODY, what, secrets=client.auth.secrets())
        except TrustcopyError:
            body = b""
        errors = parse_error_body(body, client.auth.secrets())
        if attachment_not_found(response.status_code, [(e.code, e.message) for e in errors]):
            log.debug("%s: none (HTTP %d)", what, response.status_code)
            raise _Absent
        raise response_error(response, body, what, secrets=client.auth.secrets())

    try:
        # A body cut short is read again, as for every small GET: a transient fault must not
        # fail the read (nor, when signing, the append to what is there).
        response, body = client.read_whole(request, limits.MAX_MANIFEST_BODY, what)
    except _Absent:
        return None
    return body, simplify_content_type(response.headers.get("content-type"))


class _Absent(Exception):
    """The attachment manifest does not exist (raised inside :func:`_optional_manifest` only)."""


def _blob_fetcher(client: RegistryClient, where: str) -> Callable[[Descriptor, int], bytes]:
    """A fetcher for small blobs of the client's repository (the digest is checked by the caller)."""

    def fetch(desc: Descriptor, limit: int) -> bytes:
        # Errors name the blob and the place; LimitExceededError becomes attachment-invalid
        # in fetch_verified, which also checks the digest.
        return client.get_whole(f"/v2/{client.path}/blobs/{desc.digest}", limit,
                                f"reading {where}: blob {desc.digest}")[1]

    return fetch


# -- reading ----------------------------------------------------------------------------


def read_sigstore_signatures(client: RegistryClient, ref: DockerReference, digest: Digest) -> list[SigstoreSignature]:
    """The cosign attachments, then the Sigstore bundle referrers, of ``digest`` in ``ref``'s repository.

    Args:
        client: the client of the registry actually pulled from.
        ref: the physical reference (a mirror's, when the pull went through one).
        digest: the manifest digest (an instance's, for an instance of a list).

    Raises:
        SignatureError: code ``attachment-invalid``: a manifest, index or layer is malformed,
            too large, or does not match its digest (the message names where).
        RegistryError / NetworkError: the registry failed other than with "not found".
    """
    return [*read_attachments(client, ref, digest), *read_bundles(client, ref, digest)]


def read_attachments(client: RegistryClient, ref: DockerReference, digest: Digest) -> list[SigstoreSignature]:
    """Every layer of the ``sha256-HEX.sig`` manifest, as signatures (see the module docstring)."""
    tag = attachment_tag(digest)
    where = f"{ref.name}:{tag}"
    found = _optional_manifest(client, tag, f"reading sigstore attachments {where}")
    if found is None:
        return []
    raw, mime = found
    manifest = parse_attachment_manifest(raw, mime, where)
    log.debug("found a sigstore attachment manifest %s with %d layers", where, len(manifest.layers))
    return read_attachment_signatures(manifest, _blob_fetcher(client, where), where)


class _NoReferrersAPI(Exception):
    """The registry answered the referrers API with 404: it has none (use the fallback tag)."""


def read_bundles(client: RegistryClient, ref: DockerReference, digest: Digest) -> list[SigstoreSignature]:
    """The Sigstore bundles that refer to ``digest`` (referrers API, else the fallback tag)."""
    where = ref.name
    try:
        entries = collect_referrers(_page_fetcher(client, digest, f"{where} referrers of {digest}"),
                                    f"{where} referrers of {digest}")
    except _NoReferrersAPI:
        tag = referrers_fallback_tag(digest)
        found = _optional_manifest(client, tag, f"reading the referrers index {where}:{tag}")
        if found is None:
            return []
        raw, mime = found
        if mime != OCI_INDEX:
            raise _bad(f"{where}:{tag} (the referrers fallback tag) is not an OCI image index but {mime!r}") from None
        entries = parse_referrers_index(raw, f"{where}:{tag}")
    bundles = bundle_referrers(entries)
    log.debug("%s: %d referrer(s) of %s, %d bundle(s)", where, len(entries), digest, len(bundles))
    out = []
    fetch = _blob_fetcher(client, where)
    for entry in bundles:
        what = f"reading referrer {entry.digest} of {where}"
        _, raw_manifest = client.get_whole(f"/v2/{client.path}/manifests/{entry.digest}", limits.MAX_MANIFEST_BODY,
                                           what, headers={"Accept": OCI_MANIFEST})
        out.append(read_bundle_referrer(raw_manifest, entry, fetch, where))
    return out


def _page_fetcher(client: RegistryClient, digest: Digest, what: str) -> PageFetcher:
    """fetch_page for collect_referrers: the first page, then ``Link: rel=next`` pages of the same origin."""
    from trustcopy.transports.docker.source import link_next

    first = client.url(f"/v2/{client.path}/referrers/{digest}").copy_merge_params(
        {"artifactType": BUNDLE_ARTIFACT_TYPE})

    def fetch_page(url: str | None) -> tuple[bytes, str | None]:
        target = first if url is None else httpx.URL(url)
        response = client.send("GET", target, what=what, headers={"Accept": OCI_INDEX})
        if url is None and response.status_code == 404:
            response.close()
            log.debug("%s: the registry has no referrers API (404); using the fallback tag", what)
            raise _NoReferrersAPI
        client.check(response, what)
        body = client.read_body(response, limits.MAX_MANIFEST_BODY, what)
        link = link_next(response.headers.get("link", ""))
        if link is None:
            return body, None
        try:
            nxt = response.request.url.join(link)
        except httpx.InvalidURL:
            raise _bad(f"{what}: the registry's Link header names an invalid URL") from None
        here = response.request.url
        if (nxt.scheme, nxt.host, nxt.port) != (here.scheme, here.host, here.port):
            raise _bad(f"{what}: the registry pages to another origin ({redact_url(str(nxt))})")
        return body, str(nxt)

    return fetch_page


# -- writing ----------------------------------------------------------------------------


def write_attachments(client: RegistryClient, ref: DockerReference, digest: Digest,
                      signatures: Sequence[SigstoreSignature], put_blob: BlobPutter) -> int:
    """Append ``signatures`` to the ``sha256-HEX.sig`` manifest of ``digest`` (c/i's de-duplication).

    Returns:
        How many layers were added (0: everything was there already; the config and the
        manifest are pushed all the same, as containers/image pushes them).

    Raises:
        SignatureError: the existing attachment manifest or its config is malformed (it is
            never overwritten then), or more than 256 layers would result.
        RegistryError / NetworkError: reading or pushing failed.
    """
    tag = attachment_tag(digest)
    where = f"{ref.name}:{tag}"
    found = _optional_manifest(client, tag, f"reading sigstore attachments {where}")
    existing = existing_config = None
    if found is not None:
        existing = parse_attachment_manifest(found[0], found[1], where)
        existing_config = fetch_verified(_blob_fetcher(client, where), existing.config, limits.MAX_CONFIG_BODY,
                                         f"{where} config")
    update = build_attachment_update(existing, existing_config, signatures, where)
    # As containers/image: the config and the manifest are pushed even when every signature
    # was there already (an attachment another tool wrote is re-encoded then, as c/i does).
    for desc, data in update.blobs:
        put_blob(data, desc.media_type)
    put_blob(update.config, "application/vnd.oci.image.config.v1+json")
    _put_manifest(client, tag, update.manifest, OCI_MANIFEST, f"uploading sigstore attachments {where}")
    log.debug("added %d signature(s) to %s", update.added, where)
    return update.added


def write_bundle(client: RegistryClient, ref: DockerReference, subject: Descriptor, bundle: bytes,
                 put_blob: BlobPutter) -> Digest:
    """Push ``bundle`` as a referrer of ``subject`` (and the fallback index without a referrers API).

    Returns:
        The referrer manifest's digest.

    Raises:
        SignatureError: the existing fallback index is malformed or full.
        RegistryError / NetworkError: reading or pushing failed.
    """
    upload = build_bundle_referrer(bundle, subject)
    for desc, data in upload.blobs:
        put_blob(data, desc.media_type)
    referrer = upload.manifest_descriptor.digest
    response = _put_manifest(client, str(referrer), upload.manifest, OCI_MANIFEST,
                             f"uploading a Sigstore bundle referrer of {ref.name}@{subject.digest}")
    if response.headers.get("oci-subject") == str(subject.digest):
        log.debug("%s: the registry indexed referrer %s of %s", ref.name, referrer, subject.digest)
        return referrer
    tag = referrers_fallback_tag(subject.digest)
    where = f"{ref.name}:{tag}"
    found = _optional_manifest(client, tag, f"reading the referrers index {where}")
    if found is not None and found[1] != OCI_INDEX:
        raise _bad(f"{where} (the referrers fallback tag) is not an OCI image index but {found[1]!r}; "
                   "refusing to overwrite it")
    index = updated_fallback_index(None if found is None else found[0], upload.manifest_descriptor, where)
    if found is None or index != found[0]:
        _put_manifest(client, tag, index, OCI_INDEX, f"uploading the referrers index {where}")
    return referrer


def _put_manifest(client: RegistryClient, tail: str, body: bytes, media_type: str, what: str) -> httpx.Response:
    """PUT a manifest by tag or digest; the (closed) response, for its headers."""
    response = client.send("PUT", f"/v2/{client.path}/manifests/{tail}", what=what, content=body,
                           headers={"Content-Type": media_type})
    client.check(response, what, ok=(200, 201, 202, 204))
    response.close()
    return response
