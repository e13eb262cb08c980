"""Reading images from a registry: mirrors, manifests, blobs, signatures, tags; deleting images.

Invariants:
- A pull goes where registries.conf says (regconfig.py, sysregistries/): the mirrors that
  apply, in order, then the primary location, each at its rewritten *physical*
  reference with its own ``insecure``; blocked endpoints are left out, and when all are
  blocked the pull is refused naming the rule. With mirrors, each endpoint is tried by
  fetching the top-level manifest; the first that answers serves everything else (blobs,
  instances, signatures), as containers/image does; when all fail, the primary's error
  is raised with the mirrors' failures in its message. Credentials given on the command
  line (``--creds``, ``--registry-token``) are not sent to a mirror on another host.
- The reference the user wrote (``self.reference``) stays the *logical* one: the policy
  and signature identities use it; only this module talks to the physical endpoint.
- Manifests are requested with the full Accept list, read with the 4 MiB cap, and when
  the reference (or the instance) names a digest, the bytes are checked against it
  before anyone sees them (DigestMismatchError otherwise). A manifest (or tag list page)
  whose body is cut short is requested again, ``--retry-times`` times; the check applies
  to the bytes of the last answer.
- The top-level manifest is fetched once and cached, so that the manifest the policy
  evaluated, the one whose signatures were read and the one copied are the same bytes
  even while someone moves the tag.
- Signatures (signatures.py) are read for the physical reference: from the registry's
  signature API when it has one, else from the lookaside store registries.d names for
  that reference (a mirror's own store), each typed with its URL as ``location``; then,
  only where registries.d sets ``use-sigstore-attachments: true`` for that reference, its
  sigstore attachments (``sha256-HEX.sig``) and Sigstore bundle referrers (attachments.py),
  located by tag and layer index or by referrer digest.
- Blob streams are unverified (the pipeline wraps them in DigestingReader); they resume
  after a dropped connection (blobreader.py). External layer URLs are fetched without
  credentials.
- Only TrustcopyError subclasses escape: RegistryClient turns httpx exceptions and error
  answers into them (errors.py), and this module raises nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from typing import TYPE_CHECKING, BinaryIO

import httpx

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    RegistryError,
    RegistryHTTPError,
    SignatureError,
    TransportError,
    TrustcopyError,
)
from trustcopy.manifest.mediatypes import manifest_accept_header, simplify_content_type
from trustcopy.redact import redact_url
from trustcopy.transports.base import ImageSource
from trustcopy.transports.docker.blobreader import BlobReader, content_encoded, declared_length
from trustcopy.transports.docker.client import RESENT_AFTER_LOSS, RegistryClient
from trustcopy.transports.docker.session import RegistrySession, session_from
from trustcopy.types import BlobInfo, SystemContext

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature
    from trustcopy.sysregistries import PullSource
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
    """An image (or manifest list) in a registry, opened for reading (possibly through a mirror).

    Attributes (for code that reads more of the same image, e.g. sigstore attachments):
        reference: the logical reference the user named (policy, identities).
        physical_reference: the reference actually pulled from (a mirror's, or the rewritten primary).
        client: the RegistryClient of that endpoint (its ``session`` and ``config`` too).
        registry_config: registries.d and registries.conf of the session (regconfig.py).

    Raises:
        TransportError: the reference has no tag or digest, or registries.conf blocks every
            endpoint (``registry-blocked``).
        TrustcopyError: with mirrors, every endpoint failed to serve the manifest (the
            primary's error, the mirrors' named in its message).
        ConfigError: registries.conf, registries.d or a certificate directory is invalid.
    """

    def __init__(self, reference: DockerImageReference, sys: SystemContext | None) -> None:
        self.reference = reference
        self._logical = reference.ref
        if reference.is_unknown_digest:
            raise TransportError(f"{reference}: cannot read an image without a tag or digest",
                                 code="invalid-reference")
        sys = sys or SystemContext()
        self._toplevel: tuple[bytes, str] | None = None
        self._lock = threading.Lock()
        session = session_from(sys)
        self._own_session: RegistrySession | None = None
        if session is None:  # nobody handed one down: a private one, closed with this source
            session = self._own_session = RegistrySession()
        try:
            self.registry_config = session.registry_config(sys)
            sources = self.registry_config.pull_plan(self._logical).allowed_sources()
            self._client, self._ref = self._open(sys, session, sources)
        except BaseException:
            if self._own_session is not None:
                self._own_session.close()
            raise

    def _open(self, sys: SystemContext, session: RegistrySession,
              sources: list[PullSource]) -> tuple[RegistryClient, DockerReference]:
        """The client and physical reference of the first endpoint that serves the manifest."""
        if len(sources) == 1:  # no mirror: nothing to try, the manifest is read when asked for
            only = sources[0]
            ref = only.reference
            self._check_lookaside(ref)
            client = RegistryClient(self._endpoint_sys(sys, ref), ref.domain, ref.path, "pull", session=session,
                                    insecure=only.endpoint.insecure)
            return client, ref
        failures: list[tuple[DockerReference, TrustcopyError]] = []
        for source in sources:
            ref = source.reference
            log.debug("trying to access %s%s", ref, " (mirror)" if source.mirror else "")
            try:
                self._check_lookaside(ref)
                client = RegistryClient(self._endpoint_sys(sys, ref), ref.domain, ref.path, "pull",
                                        session=session, insecure=source.endpoint.insecure)
            except TrustcopyError as exc:
                failures.append((ref, exc))
                continue
            try:
                tail = str(ref.digest) if ref.digest is not None else str(ref.tag)
                self._toplevel = self._fetch_with(client, ref, tail, ref.digest)
            except TrustcopyError as exc:
                log.debug("accessing %s failed: %s", ref, exc)
                client.close()
                failures.append((ref, exc))
                continue
            return client, ref
        primary_ref, primary = failures[-1]
        mirrors = "; ".join(f"[{ref}: {exc.message}]" for ref, exc in failures[:-1])
        raise primary.rewrapped(f"(mirrors also failed: {mirrors}): {primary_ref}: {primary.message}") from primary

    def _check_lookaside(self, physical: DockerReference) -> None:
        """Refuse an endpoint whose registries.d lookaside URL is unusable, before any request.

        containers/image works out the lookaside store when it opens an endpoint, so every
        command that reads an image (``inspect`` and ``copy`` alike) fails on a bad URL, and
        a mirror with one is skipped like an unreachable mirror.

        Raises:
            ConfigError: the URL is unusable (code ``lookaside-url-invalid``), naming the file.
        """
        self.registry_config.lookaside(physical, write=False)

    def _endpoint_sys(self, sys: SystemContext, physical: DockerReference) -> SystemContext:
        """``sys`` for one endpoint: credentials from the command line are for the logical registry only.

        As containers/image: ``--creds``/``--username`` and ``--registry-token`` do not
        name a registry, so a mirror on another host must not receive them (it gets its
        own from the auth files). ``--no-creds`` stays anonymous everywhere.
        """
        if physical.domain == self._logical.domain:
            return sys
        return dataclasses.replace(sys, docker_username=None, docker_password=None, docker_bearer_token=None)

    def __repr__(self) -> str:
        if self._ref != self._logical:
            return f"<DockerImageSource {self._logical} via {self._ref}>"
        return f"<DockerImageSource {self._ref}>"

    @property
    def client(self) -> RegistryClient:
        """The registry client of the endpoint pulled from (shared with e.g. a tag listing)."""
        return self._client

    @property
    def physical_reference(self) -> DockerReference:
        """The reference actually pulled from (a mirror's, or the primary's after ``location`` rewriting)."""
        return self._ref

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
        return self._fetch_with(self._client, self._ref, tail, expected)

    @staticmethod
    def _fetch_with(client: RegistryClient, ref: DockerReference, tail: str,
                    expected: Digest | None) -> tuple[bytes, str]:
        body, mime = fetch_manifest(client, ref.name, tail, expected)
        client.session.locations.record_manifest_blobs(client.host, client.path, body)
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
        """The image's (or the instance's) signatures: the signature API or the lookaside (signatures.py),
        then, when registries.d sets ``use-sigstore-attachments`` for the physical reference,
        its cosign attachments and Sigstore bundle referrers (attachments.py), as c/i appends them.

        Looked up for the physical reference and the manifest digest: the instance's, the
        reference's (sha256), or the digest of the top-level manifest as read.

        Raises:
            RegistryError / NetworkError / TransportError / LimitExceededError / ConfigError:
                the signatures could not be read (never "no signatures" for a failure).
            SignatureError: code ``attachment-invalid``: an attachment, referrer or layer is
                malformed, too large or does not match its digest.
        """
        from trustcopy.transports.docker.signatures import read_signatures

        digest = self.manifest_digest(instance_digest)
        signatures = list(read_signatures(self._client, self._ref, digest))
        if self.registry_config.use_sigstore_attachments(self._ref):
            from trustcopy.transports.docker.attachments import read_sigstore_signatures

            signatures.extend(read_sigstore_signatures(self._client, self._ref, digest))
        else:
            log.debug("not looking for sigstore attachments of %s: disabled by registries.d", self._ref)
        return signatures

    def signature_search(self, instance_digest: Digest | None = None) -> str:
        """Where :meth:`get_signatures` looked: the signature API or the lookaside URL of
        ``signature-1`` and the registries.d entry that chose it, and whether sigstore
        attachments were read (and if not, why). No request is made."""
        from trustcopy.redact import redact_url

        digest = self.manifest_digest(instance_digest)
        if self._client.supports_signatures_extension:
            from trustcopy.transports.docker.signatures import extension_path

            url = redact_url(str(self._client.url(extension_path(self._client.path, digest))))
            where = f"looked in the registry's signature API {url}"
        else:
            location = self.registry_config.lookaside(self._ref, write=False)
            url = redact_url(location.signature_url(digest, 1))
            where = (f"looked in lookaside {url} (store from {location.origin}; "
                     f"`trustcopy lookaside where docker://{self._ref.name}` explains the choice)")
        choice = self.registry_config.registries_d.attachments_choice(self._ref)
        if choice.value:
            where += f" and the sigstore attachments of {self._ref.name}"
        elif choice.section is not None:  # a section turned them off: name it, not "no section"
            where += (f"; sigstore attachments not read: use-sigstore-attachments is false in "
                      f"{choice.section.label} of {choice.section.file}")
        else:
            where += (f"; sigstore attachments not read: no registries.d section sets use-sigstore-attachments "
                      f"for {self._ref.name}")
        return where

    def manifest_digest(self, instance_digest: Digest | None = None) -> Digest:
        """The digest signatures are stored under (c/i ``manifestDigest``)."""
        if instance_digest is not None:
            return instance_digest
        if self._ref.digest is not None and self._ref.digest.algorithm == "sha256":
            return self._ref.digest
        from trustcopy.manifest.digest import manifest_digest

        return manifest_digest(self.get_manifest()[0])

    def close(self) -> None:
        """Close the connection pool (and this source's private session, if it made one)."""
        self._client.close()
        if self._own_session is not None:
            self._own_session.close()


def _content_length(response: httpx.Response) -> int:
    """The blob's size the answer announces, or -1: none, or the size of a content-encoded body
    (a CDN gzipping a layer anyway; BlobReader decodes it, the digest is checked on the decoded
    bytes). As containers/image, whose Go transport decodes such a body and drops its length."""
    if content_encoded(response):
        return -1
    return declared_length(response.headers.get("content-length", ""))


def link_next(link_header: str) -> str | None:
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


def _valid_tags(page: list[str | None], what: str) -> list[str]:
    """A page's tags, checked as containers/image (GetRepositoryTags) checks them.

    ``null`` and empty entries (Sonatype Nexus 3.58) and digests (some JFrog Artifactory
    versions) are skipped; any other string that is not a valid tag fails the listing.

    Raises:
        RegistryError: the registry listed an invalid tag.
    """
    from trustcopy.reference import is_valid_tag

    out: list[str] = []
    for tag in page:
        if tag is not None and is_valid_tag(tag):
            out.append(tag)
            continue
        if not tag:
            log.debug("%s: ignoring an empty tag", what)
            continue
        try:
            Digest.parse(tag)
        except ValueError:
            from trustcopy.transports.docker.errors import clean_text

            raise RegistryError(f"{what}: the registry returned an invalid tag {clean_text(tag)[:140]!r}") from None
        log.debug("%s: ignoring a tag that is a digest", what)
    return out


def list_tags(client: RegistryClient, name: str) -> list[str]:
    """All tags of the client's repository, following ``Link`` pagination.

    Everything is bounded in total, not per page: at most MAX_TAG_PAGES round trips and
    limits.MAX_TAG_LIST_BODY bytes over all pages together (a registry sending page after
    page of 8 MiB tags must not fill the memory), MAX_TAGS tags, and a ``Link`` target is
    followed once, by its path and query on the registry (as containers/image), never elsewhere.

    Raises:
        ImageNotFoundError: the repository does not exist.
        RegistryError: a page is malformed, or the Links loop.
        LimitExceededError: too many pages, tags or bytes.
    """
    from trustcopy.errors import LimitExceededError

    what = f"listing tags of {name}"
    tags: list[str] = []
    target = f"/v2/{client.path}/tags/list"
    seen: set[str] = {target}
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
        link = link_next(response.headers.get("link", ""))
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise RegistryError(f"{what}: the registry's answer is not JSON") from None
        page = doc.get("tags") if isinstance(doc, dict) else None
        if page is not None and (not isinstance(page, list)
                                 or not all(t is None or isinstance(t, str) for t in page)):
            raise RegistryError(f"{what}: the registry's tag list is malformed")
        tags.extend(_valid_tags(page or [], what))
        if len(tags) > MAX_TAGS:
            raise LimitExceededError(f"{what}: more than {MAX_TAGS} tags",
                                     context={"what": what, "limit": MAX_TAGS})
        if not link:
            return tags
        try:
            nxt = url.join(link)
        except httpx.InvalidURL:
            raise RegistryError(f"{what}: the registry's Link header names an invalid URL") from None
        # As containers/image: only the Link's path and query are followed, always on the
        # registry itself. A TLS-terminating proxy may write an http:// or internal host name
        # there; no request ever leaves the registry (nor do its credentials).
        nxt_path = nxt.raw_path.decode("ascii")
        if not nxt_path.startswith("/"):
            # An opaque URL (``x:https://elsewhere/...``) has no path on the registry; sent
            # as it stands it would be an absolute URL to another origin.
            raise RegistryError(f"{what}: the registry's Link header names an invalid URL")
        if nxt_path in seen:
            raise RegistryError(f"{what}: the registry's pagination loops")
        seen.add(nxt_path)
        target = nxt_path
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
    """Delete the manifest the reference names (a tag is resolved to its digest first), and its signatures.

    As containers/image, the image's signatures are then removed from the lookaside store
    registries.d names for writing. That store must be ``file://`` (an http(s) store
    cannot be written): unlike containers/image, which deletes the manifest and then
    fails, this is checked first, so a refused delete changes nothing.

    Raises:
        ImageNotFoundError: nothing to delete.
        RegistryHTTPError: the registry refuses (e.g. 405 when deletion is disabled).
        SignatureError: the signature store cannot be written (``lookaside-not-writable``,
            before anything is deleted), or removing the signatures failed.
    """
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.transports.docker.signatures import delete_signatures

    ref = reference.ref
    # docker/distribution wants "pull" to read and "delete" to delete; quay wants "push";
    # both accept "*" (as containers/image does).
    client = RegistryClient(sys, ref.domain, ref.path, "*")
    try:
        store = client.config.lookaside(ref, write=True)
        if store.scheme != "file":
            from trustcopy.stores.lookaside import WRITE_HINT

            raise SignatureError(
                f"refusing to delete {ref}: its signatures could not be removed from the {store.scheme} lookaside "
                f"{redact_url(store.base_url)} ({store.origin})",
                code="lookaside-not-writable", hint=WRITE_HINT,
                context={"url": redact_url(store.base_url), "origin": store.origin},
            )
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
        # A 404 to a DELETE sent again after the first one's answer was lost on its way back:
        # that first DELETE reached the registry and deleted the manifest (not "image not found").
        deleted_unanswered = response.status_code == 404 and bool(response.extensions.get(RESENT_AFTER_LOSS))
        if deleted_unanswered:
            log.debug("%s: the answer to the DELETE was lost and the manifest is gone now", what)
        try:
            client.check(response, what, ok=(202, 200, 404) if deleted_unanswered else (202, 200))
        except RegistryHTTPError as exc:
            if exc.status != 405:
                raise
            # Distribution answers 405 UNSUPPORTED when deletes are off (the default): say so,
            # with the status skopeo prints, instead of only "the operation is unsupported".
            raise RegistryHTTPError(
                f"{exc.message} (HTTP 405 Method Not Allowed: the registry does not allow deleting images)",
                status=405, code=exc.code, context=exc.context,
                hint="the registry has deletes disabled; Distribution enables them with storage.delete.enabled: "
                     "true (REGISTRY_STORAGE_DELETE_ENABLED=true)",
            ) from exc
        response.close()
        removed = delete_signatures(client, ref, digest)
        log.debug("%s: removed %d signature(s) from %s", what, removed, redact_url(store.repository_url))
    finally:
        client.close()
