"""Reading images from a registry: manifests, blobs, tags; deleting images.

Invariants:
- Manifests are requested with the full Accept list, read with the 4 MiB cap, and when
  the reference (or the instance) names a digest, the bytes are checked against it
  before anyone sees them (DigestMismatchError otherwise). A manifest (or tag list page)
  whose body is cut short is requested again, ``--retry-times`` times; the check applies
  to the bytes of the last answer.
- The top-level manifest is fetched once and cached, so that the manifest the policy
  evaluated, the one whose signatures were read and the one copied are the same bytes
  even while someone moves the tag.
- Blob streams are unverified (the pipeline wraps them in DigestingReader); they resume
  after a dropped connection (blobreader.py). External layer URLs are fetched without
  credentials.
- Public functions wrap ``_do_*`` workers; only TrustcopyError subclasses escape.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, BinaryIO

import httpx

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, RegistryError, TransportError
from trustcopy.redact import redact_url
from trustcopy.transports.base import ImageSource
from trustcopy.transports.docker.blobreader import BlobReader
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.types import BlobInfo, SystemContext

if TYPE_CHECKING:
    from trustcopy.signature.formats import Signature
    from trustcopy.transports.docker.reference import DockerImageReference

log = logging.getLogger("trustcopy.docker")

#: Most pages of a tag list we follow (``Link: <…>; rel="next"``). Each page is a round
#: trip; registries that paginate at all hand out 50 to 1000 tags a page, so this is 100,000
#: tags or more, while an endless chain of one-tag pages ends within seconds on loopback
#: (and within minutes against a distant registry). containers/image follows any number.
MAX_TAG_PAGES = 2_000
#: Most tags we collect in total.
MAX_TAGS = 1_000_000
_GENERIC_TYPES = frozenset({"", "text/plain", "application/json", "application/octet-stream"})


def simplify_content_type(value: str | None) -> str:
    """``type/subtype; charset=…`` → ``type/subtype`` (lower-case); "" for junk."""
    if not value:
        return ""
    mime = value.split(";", 1)[0].strip().lower()
    return mime if "/" in mime and " " not in mime else ""


def manifest_accept_header() -> str:
    """The Accept list for manifests (every type we can read, as containers/image asks)."""
    from trustcopy.manifest.mediatypes import DEFAULT_REQUEST_TYPES

    return ", ".join(DEFAULT_REQUEST_TYPES)


def fetch_manifest(client: RegistryClient, name: str, tag_or_digest: str,
                   expected: Digest | None) -> tuple[bytes, str]:
    """GET a manifest; verify it against ``expected``; return bytes and MIME type.

    Raises:
        ImageNotFoundError: the registry does not have it.
        DigestMismatchError: the bytes do not match ``expected``.
        LimitExceededError / RegistryError.
    """
    what = f"reading manifest {tag_or_digest} in {name}"
    # A body cut short is fetched again (get_whole); the digest check below sees the final bytes.
    response, body = client.get_whole(f"/v2/{client.path}/manifests/{tag_or_digest}", limits.MAX_MANIFEST_BODY,
                                      what, headers={"Accept": manifest_accept_header()})
    mime = simplify_content_type(response.headers.get("content-type"))
    if expected is not None:
        from trustcopy.errors import ManifestError
        from trustcopy.manifest.digest import manifest_digest, matches_digest

        try:
            matches = matches_digest(body, expected)
        except ManifestError as exc:
            raise exc.rewrapped(f"{what}: {exc.message}") from exc
        if not matches:
            raise DigestMismatchError(
                f"{what}: the registry returned a manifest with digest {manifest_digest(body)}, not {expected}",
                context={"reference": name, "expected": str(expected)},
            )
    if mime in _GENERIC_TYPES:
        from trustcopy.manifest.mediatypes import guess_mime_type

        mime = guess_mime_type(body) or mime
    log.debug("%s: %d bytes, %s", what, len(body), mime)
    return body, mime


class DockerImageSource(ImageSource):
    """An image (or manifest list) in a registry, opened for reading."""

    def __init__(self, reference: DockerImageReference, sys: SystemContext | None) -> None:
        self.reference = reference
        self._ref = reference.ref
        if getattr(reference, "is_unknown_digest", False):
            raise TransportError(f"{reference}: cannot read an image without a tag or digest",
                                 code="invalid-reference")
        self._client = RegistryClient(sys, self._ref.domain, self._ref.path, "pull")
        self._toplevel: tuple[bytes, str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<DockerImageSource {self._ref}>"

    @property
    def client(self) -> RegistryClient:
        """The registry client (shared with e.g. a tag listing)."""
        return self._client

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """The top-level manifest (cached), or the instance ``instance_digest`` (verified)."""
        if instance_digest is not None:
            return self._fetch(str(instance_digest), instance_digest)
        with self._lock:
            if self._toplevel is None:
                tail = str(self._ref.digest) if self._ref.digest is not None else str(self._ref.tag)
                self._toplevel = self._fetch(tail, self._ref.digest)
            return self._toplevel

    def _fetch(self, tail: str, expected: Digest | None) -> tuple[bytes, str]:
        body, mime = fetch_manifest(self._client, self._ref.name, tail, expected)
        self._client.session.locations.record_manifest_blobs(self._client.host, self._client.path, body)
        return body, mime

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """Open a blob stream (unverified; see the module docstring) and its size or -1.

        Raises:
            ImageNotFoundError: the registry does not have the blob.
            DigestMismatchError: the registry announces a size other than the manifest's.
            NetworkError / RegistryError.
        """
        if info.urls:
            external = self._external_blob(info)
            if external is not None:
                return external
        what = f"reading blob {info.digest} from {self._ref.name}"
        path = f"/v2/{self._client.path}/blobs/{info.digest}"
        response = self._client.send("GET", path, what=what, headers={"Accept-Encoding": "identity"})
        self._client.check(response, what)
        size = _content_length(response)
        if info.size >= 0 and size >= 0 and size != info.size:
            response.close()
            raise DigestMismatchError(f"{what}: the registry sends {size} bytes, the manifest says {info.size}",
                                      code="size-mismatch", context={"expected_size": info.size, "size": size})
        self._client.session.locations.record(self._client.host, self._client.path, str(info.digest))
        reader = BlobReader(self._client, path, response, what, info.size if info.size >= 0 else size)
        return reader, size  # type: ignore[return-value]

    def _external_blob(self, info: BlobInfo) -> tuple[BinaryIO, int] | None:
        """Try a foreign layer's URLs, without credentials; None if none is usable."""
        last_error: Exception | None = None
        for url in info.urls:
            if not url.startswith(("https://", "http://")):
                continue
            what = f"reading external blob {info.digest} from {redact_url(url)}"
            try:
                response = self._client.send("GET", httpx.URL(url), what=what, authenticate=False)
                self._client.check(response, what)
            except (RegistryError, ImageNotFoundError) as exc:
                log.debug("%s failed: %s", what, exc)
                last_error = exc
                continue
            except httpx.InvalidURL:
                continue
            size = _content_length(response)
            # Third-party URLs get no Range resume: they are outside the registry's contract.
            reader = BlobReader(self._client, "", response, what, info.size, resumable=False)
            return reader, size  # type: ignore[return-value]
        if last_error is not None:
            raise last_error
        return None

    def get_signatures(self, instance_digest: Digest | None = None) -> list[Signature]:
        """No signatures yet: lookaside and sigstore attachments are a later issue."""
        return []

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _content_length(response: httpx.Response) -> int:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() and len(value) < 19 else -1


def _link_next(link_header: str) -> str | None:
    """The target of ``rel="next"`` in a Link header, if any."""
    for part in link_header.split(","):
        url_part, _, params = part.partition(";")
        url_part = url_part.strip()
        if not (url_part.startswith("<") and url_part.endswith(">")):
            continue
        rels = [p.strip() for p in params.split(";")]
        if any(r.replace(" ", "").lower() in ('rel="next"', "rel=next") for r in rels):
            return url_part[1:-1]
    return None


def list_tags(client: RegistryClient, name: str) -> list[str]:
    """All tags of the client's repository, following ``Link`` pagination.

    Everything is bounded in total, not per page: at most MAX_TAG_PAGES round trips and
    limits.MAX_TAG_LIST_BODY bytes over all pages together (a registry sending page after
    page of 8 MiB tags must not fill the memory), MAX_TAGS tags, and a ``Link`` target is
    followed only within the same origin and only once.

    Raises:
        ImageNotFoundError: the repository does not exist.
        RegistryError: a page is malformed, or a Link points to another origin or loops.
        LimitExceededError: too many pages, tags or bytes.
    """
    from trustcopy.errors import LimitExceededError

    what = f"listing tags of {name}"
    tags: list[str] = []
    target: str | httpx.URL = f"/v2/{client.path}/tags/list"
    seen: set[str] = set()
    budget = limits.MAX_TAG_LIST_BODY
    for _page in range(MAX_TAG_PAGES):
        try:
            response, body = client.get_whole(target, budget, what)
        except LimitExceededError as exc:
            raise LimitExceededError(
                f"{what}: the registry's tag list is larger than the {limits.MAX_TAG_LIST_BODY} bytes accepted "
                f"(all pages together)", context={"what": what, "limit": limits.MAX_TAG_LIST_BODY}) from exc
        budget -= len(body)
        url = response.request.url
        link = _link_next(response.headers.get("link", ""))
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise RegistryError(f"{what}: the registry's answer is not JSON") from None
        page = doc.get("tags") if isinstance(doc, dict) else None
        if page is not None and (not isinstance(page, list) or not all(isinstance(t, str) for t in page)):
            raise RegistryError(f"{what}: the registry's tag list is malformed")
        tags.extend(page or [])
        if len(tags) > MAX_TAGS:
            raise LimitExceededError(f"{what}: more than {MAX_TAGS} tags",
                                     context={"what": what, "limit": MAX_TAGS})
        if not link:
            return tags
        try:
            nxt = url.join(link)
        except httpx.InvalidURL:
            raise RegistryError(f"{what}: the registry's Link header names an invalid URL") from None
        if (nxt.scheme, nxt.host, nxt.port) != (url.scheme, url.host, url.port):
            raise RegistryError(f"{what}: the registry paginates to another host ({redact_url(str(nxt))})")
        if str(nxt) in seen:
            raise RegistryError(f"{what}: the registry's pagination loops")
        seen.add(str(nxt))
        target = nxt
    raise LimitExceededError(f"{what}: more than {MAX_TAG_PAGES} pages", context={"what": what, "limit": MAX_TAG_PAGES})


def repository_tags(reference: DockerImageReference, sys: SystemContext | None) -> list[str]:
    """The tags of the reference's repository (skopeo inspect's RepoTags, list-tags)."""
    ref = reference.ref
    client = RegistryClient(sys, ref.domain, ref.path, "pull")
    try:
        return list_tags(client, ref.name)
    finally:
        client.close()


def delete_image(reference: DockerImageReference, sys: SystemContext | None) -> None:
    """Delete the manifest the reference names (a tag is resolved to its digest first).

    Raises:
        ImageNotFoundError: nothing to delete.
        RegistryHTTPError: the registry refuses (e.g. 405 when deletion is disabled).
    """
    from trustcopy.manifest.digest import manifest_digest

    ref = reference.ref
    # docker/distribution wants "pull" to read and "delete" to delete; quay wants "push";
    # both accept "*" (as containers/image does).
    client = RegistryClient(sys, ref.domain, ref.path, "*")
    try:
        tail = str(ref.digest) if ref.digest is not None else str(ref.tag)
        try:
            body, _ = fetch_manifest(client, ref.name, tail, ref.digest)
        except ImageNotFoundError as exc:
            raise ImageNotFoundError(
                f"unable to delete {ref}: the image may not exist or is not stored with a v2 schema in a v2 registry",
                context=exc.context,
            ) from exc
        digest = ref.digest or manifest_digest(body)
        what = f"deleting {ref.name}@{digest}"
        response = client.send("DELETE", f"/v2/{client.path}/manifests/{digest}", what=what,
                               headers={"Accept": manifest_accept_header()})
        client.check(response, what, ok=(202, 200))
        response.close()
    finally:
        client.close()
