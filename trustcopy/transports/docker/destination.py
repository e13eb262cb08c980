"""Writing images to a registry: blob reuse and mounts, uploads, manifests last.

Invariants:
- A blob this process saw in another repository of the same registry is mounted
  (``POST …/uploads/?mount=&from=``) straight away: one round trip per blob, where
  containers/image spends two (``HEAD`` here, then the mount). A mount the registry
  declines (``202``: it opened an upload instead) is cancelled and costs nothing else.
  A repository is mounted into at most once per blob and session (under the session's
  upload claim; a mount rewrites the repository's link, which another image's manifest
  PUT may be reading: see :meth:`DockerImageDestination.try_reusing_blob`).
  Otherwise blobs already in the repository are detected with ``HEAD`` and not uploaded.
- Uploads: a blob of known size up to MONOLITHIC_MAX is read into memory and sent with
  ``POST`` + ``PUT ?digest=`` (the pair is retried as a whole); larger or unknown-size
  blobs stream in one ``PATCH`` (as containers/image sends them; ``upload_chunk_size``
  splits them, for proxies that limit request sizes) with constant memory, and
  the final ``PUT ?digest=`` happens only after the source stream reached EOF and its
  DigestingReader accepted the bytes. The registry verifies the digest again.
- A manifest is PUT only after every blob it names is known to be in the repository
  (uploaded, reused or mounted by this destination, or confirmed with ``HEAD``): a
  failed push never leaves a tag pointing at a partial image. List instances are PUT by
  digest at once (no tag moves); the top-level manifest, which goes to the tag (or to
  the digest the reference names), is checked by ``put_manifest`` but PUT by
  :meth:`commit`, last, after the signatures are stored.
- A tag never moves to an image whose signatures were not stored: ``put_signatures``
  only checks and records them, and :meth:`commit` writes them, then PUTs the top-level
  manifest (containers/image PUTs it first, so a failure or kill in between left the
  tag on an unsigned image, which a later sync skipped as identical). A copy failing
  before commit leaves no signature behind; one failing while writing them leaves the
  tag as it was, and what was written names a digest nothing points to (harmless: the
  next copy rewrites it). The registry's signature API keeps signatures on an image the
  registry must know: for it the top-level manifest is first PUT by digest (no tag
  moves), then the signatures, then the tag. Simple-signing ones go to the
  registry's signature API, or else to the registries.d write store of the reference
  pushed to (signatures.py; ``file://`` only). Sigstore ones never go there: as
  containers/image, they become registry attachments (``sha256-HEX.sig``), and Sigstore
  bundles OCI 1.1 referrers (attachments.py), only when registries.d sets
  ``use-sigstore-attachments: true`` for the reference. Whether the destination can take
  what a copy carries and creates is checked by :meth:`supports_signature_formats`,
  which the copy asks before pushing anything.
- Pushing to a registry that registries.conf blocks is refused before anything is sent;
  registries.conf's ``insecure`` for the destination applies (client.py).
- Nothing else is staged: pushed blobs (and instances) of an aborted copy stay
  unreferenced (registries garbage-collect them).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, BinaryIO

from trustcopy import limits
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import ManifestError, NetworkError, RegistryHTTPError, TrustcopyError
from trustcopy.transports.base import ImageDestination
from trustcopy.transports.docker.blobreader import content_encoded, declared_length
from trustcopy.transports.docker.challenge import Scope, repository_scope
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.transports.stubs import AlwaysSupportsManifestLists
from trustcopy.types import BlobInfo, LayerCompression, SystemContext

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature, SigstoreSignature
    from trustcopy.transports.docker.reference import DockerImageReference
    from trustcopy.transports.docker.uploads import Uploader

log = logging.getLogger("trustcopy.docker")

#: Blobs of at most this size are uploaded from memory in one PUT (and can be retried).
MONOLITHIC_MAX = 1 << 20
#: Default bytes per PATCH of a streamed upload: None sends the whole blob in one PATCH,
#: which spares the registry a resumed upload per chunk (about 4% of a 300 MB push).
DEFAULT_CHUNK_SIZE: int | None = None

#: What to do when sigstore signatures cannot be stored in a registry.
SIGSTORE_HINT = "set use-sigstore-attachments: true for the destination in registries.d (docs/registries.md)"

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
)


class DockerImageDestination(AlwaysSupportsManifestLists, ImageDestination):
    """A repository in a registry, opened for pushing one image (or a list).

    Attributes (for code that writes more of the same image, e.g. sigstore attachments):
        reference: the reference pushed to (pushes are never rewritten by registries.conf).
        client: the RegistryClient of the registry (its ``session`` and ``config`` too).
        registry_config: registries.d and registries.conf of the session (regconfig.py).

    Raises:
        TransportError: registries.conf blocks the registry (``registry-blocked``).
        ConfigError: registries.conf, registries.d or a certificate directory is invalid.
    """

    reference: DockerImageReference

    def __init__(self, reference: DockerImageReference, sys: SystemContext | None) -> None:
        self.reference = reference
        self._ref = reference.ref
        self._client = RegistryClient(sys, self._ref.domain, self._ref.path, "pull,push")
        self.registry_config = self._client.config
        #: Signatures recorded by put_signatures, written by commit: (instance digest or None, signatures).
        self._pending_signatures: list[tuple[Digest | None, list[Signature]]] = []
        self._toplevel_digest: Digest | None = None
        #: The top-level manifest checked by put_manifest and PUT by commit: (bytes, tail, digest, type).
        self._pending_manifest: tuple[bytes, str, Digest, str] | None = None
        #: (media type, size) of each manifest pushed, by digest: the subject of a bundle referrer.
        self._manifest_info: dict[str, tuple[str, int]] = {}
        self._precompute = sys is not None and sys.docker_precompute_digests
        self._tmp_dir = sys.tmp_dir if sys is not None else None
        size = (sys.docker_upload_chunk_size if sys is not None else None) or DEFAULT_CHUNK_SIZE
        self._chunk_size = max(1, size) if size else None
        self._uploader: Uploader | None = None
        self._present: set[str] = set()
        #: (registry, repository, digest) this destination claimed for upload (RegistrySession.uploads).
        self._claims: set[tuple[str, str, str]] = set()
        self._manifests: set[str] = set()
        self._lock = threading.Lock()
        self._committed = False

    def __repr__(self) -> str:
        return f"<DockerImageDestination {self._ref}>"

    @property
    def _uploads(self) -> Uploader:
        """The upload machinery, made when a blob is first sent (an image already there sends none)."""
        if self._uploader is None:
            from trustcopy.transports.docker.uploads import Uploader

            with self._lock:  # blob threads may get here together
                if self._uploader is None:
                    self._uploader = Uploader(self._client, self._chunk_size)
        return self._uploader

    @property
    def client(self) -> RegistryClient:
        """The registry client (pings, auth, the session and its configuration)."""
        return self._client

    # -- properties ----------------------------------------------------------------

    def supported_manifest_mime_types(self) -> Sequence[str]:
        """Every type a registry stores (OCI and Docker first)."""
        return MANIFEST_TYPES

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """Registries serve compressed layers."""
        return LayerCompression.COMPRESS

    @property
    def accepts_foreign_layer_urls(self) -> bool:
        """Foreign layers stay references (as containers/image)."""
        return True

    @property
    def precompute_digests(self) -> str | None:
        """``--dest-precompute-digests`` (containers/image ``DockerRegistryPushPrecomputeDigests``):
        spooled where containers/image puts big temporary files (``--tmpdir``, ``$TMPDIR``, ``/var/tmp``)."""
        if not self._precompute:
            return None
        from trustcopy.fsutil import big_files_dir

        return big_files_dir(self._tmp_dir)

    def held_manifest_digest(self) -> Digest | None:
        """One ``HEAD`` of the tag (or digest) being pushed: the digest the registry says it holds there.

        A push without a tag (``@@unknown-digest@@``) has nothing to ask about. A failed
        check is "unknown" (the copy then writes as usual, and meets the same failure
        where it matters): it never refuses a copy a registry would take.
        """
        if self.reference.is_unknown_digest:
            return None
        from trustcopy.transports.docker.probe import head_manifest_with

        try:
            head = head_manifest_with(self._client, self._ref)
        except TrustcopyError as exc:
            log.debug("checking whether %s already holds the manifest failed: %s", self.reference, exc)
            return None
        return head.digest if head is not None else None

    # -- blob reuse ----------------------------------------------------------------

    def _mark(self, digest: Digest | str) -> None:
        with self._lock:
            self._present.add(str(digest))
        self._client.session.locations.record(self._client.host, self._client.path, str(digest))

    def _blob_exists(self, repo: str, digest: Digest | str, extra: tuple[Scope, ...] = ()) -> tuple[bool, int]:
        what = f"checking whether blob {digest} exists in {self._ref.domain}/{repo}"
        response = self._client.send("HEAD", f"/v2/{repo}/blobs/{digest}", what=what, extra_scopes=extra)
        if response.status_code == 200:
            # A content-encoded answer's length counts the encoded bytes: not the blob's size.
            size = "" if content_encoded(response) else response.headers.get("content-length", "")
            response.close()
            return True, declared_length(size)
        if response.status_code == 404:
            response.close()
            return False, -1
        raise self._client.error_for(response, what)

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """The blob's info if it could be mounted or the repository has it; else None.

        Mounts happen under the session's claim of (registry, repository, digest), and
        never into a repository the session already put the blob in: Docker Distribution
        rewrites the repository's link to the blob in place on every mount, and a manifest
        PUT of another image of the same ``sync`` that reads the link meanwhile is refused
        ("digest invalid", "blob unknown"). So two images with a shared layer (two tags of
        one image) mount it once; the second finds it with ``HEAD``.

        Raises:
            RegistryError: the existence check in this repository failed (not a mount).
        """
        key = (self._client.host, self._client.path, str(info.digest))
        while True:
            with self._lock:
                held = key in self._claims  # ours already (a retry, or a second look before put_blob)
            # Otherwise claim it, waiting while another destination of the session mounts or uploads it.
            if held or self._client.session.uploads.claim(key):
                with self._lock:
                    self._claims.add(key)
                claimed = True
            else:
                claimed = False
            try:
                if claimed and not self._client.session.locations.holds(*key):
                    mounted = self._mount_from_candidates(info)
                    if mounted is not None:
                        self._release_claim(info.digest)
                        return mounted
                exists, size = self._blob_exists(self._client.path, info.digest)
            except BaseException:
                self._release_claim(info.digest)
                raise
            if exists and self._plausible(info, size):
                self._release_claim(info.digest)
                self._mark(info.digest)
                return BlobInfo(digest=info.digest, size=size if size >= 0 else info.size, media_type=info.media_type)
            if claimed:  # ours to upload: put_blob (or close) releases the claim
                return None

    def _mount_from_candidates(self, info: BlobInfo) -> BlobInfo | None:
        """Mount the blob from a repository the session saw it in; its info, or None if none would."""
        for repo in self._client.session.locations.candidates(self._client.host, str(info.digest),
                                                               self._client.path):
            extra = (repository_scope(repo, "pull"),)
            try:
                if not self._mount(repo, info.digest, extra):
                    continue
            except TrustcopyError as exc:  # a failed mount only costs us the upload
                log.debug("mounting %s from %s failed: %s", info.digest, repo, exc)
                continue
            log.debug("mounted %s from %s", info.digest, repo)
            size = info.size
            if size < 0:  # a schema1 source names no sizes; the manifest we write needs one
                exists, size = self._blob_exists(self._client.path, info.digest)
                if not exists:
                    continue
            self._mark(info.digest)
            return BlobInfo(digest=info.digest, size=size if size >= 0 else info.size, media_type=info.media_type)
        return None

    def blob_copy_ended(self, info: BlobInfo) -> None:
        """End this destination's claim on ``info`` (taken by try_reusing_blob), however its copy ended."""
        self._release_claim(info.digest)

    def _release_claim(self, digest: Digest | str) -> None:
        key = (self._client.host, self._client.path, str(digest))
        with self._lock:
            held = key in self._claims
            self._claims.discard(key)
        if held:
            self._client.session.uploads.release(key)

    def _plausible(self, info: BlobInfo, size: int) -> bool:
        """A registry claiming another size for the same digest is not trusted to have it."""
        if info.size >= 0 and size >= 0 and size != info.size:
            log.warning("%s reports %d bytes for blob %s, the manifest says %d; uploading it again",
                        self._ref.domain, size, info.digest, info.size)
            return False
        return True

    def _mount(self, repo: str, digest: Digest, extra: tuple[Scope, ...]) -> bool:
        what = f"mounting {digest} from {self._ref.domain}/{repo} to {self._ref.name}"
        target = self._client.url(f"/v2/{self._client.path}/blobs/uploads/").copy_merge_params(
            {"mount": str(digest), "from": repo})
        response = self._client.send("POST", target, what=what, extra_scopes=extra)
        if response.status_code == 201:
            response.close()
            return True
        if response.status_code == 202:  # the registry started an ordinary upload instead
            location = response.headers.get("location")
            response.close()
            if location:
                self._uploads.cancel(response.request.url.join(location))
            return False
        raise self._client.error_for(response, what)

    # -- uploads -------------------------------------------------------------------

    def put_blob(self, stream: BinaryIO, info: BlobInfo, *, is_config: bool = False) -> BlobInfo:
        """Upload a blob (see the module docstring); return its digest and size.

        Raises:
            DigestMismatchError: the stream does not match ``info`` (nothing is committed).
            NetworkError / RegistryError.
        """
        try:
            return self._put_blob(stream, info)
        finally:
            self._release_claim(info.digest)

    def _put_blob(self, stream: BinaryIO, info: BlobInfo) -> BlobInfo:
        what = f"uploading blob {info.digest} to {self._ref.name}"
        reader: DigestingReader
        if isinstance(stream, DigestingReader) and stream.expected == info.digest:
            reader = stream  # already verifying at EOF; hashing twice would only cost CPU
        else:
            reader = DigestingReader(stream, info.digest, expected_size=info.size, what=what)
        if 0 <= info.size <= MONOLITHIC_MAX:
            data = limits.read_at_most(reader, MONOLITHIC_MAX, what)  # EOF: verified here
            self._uploads.monolithic(data, info.digest, what)
            size = len(data)
        else:
            size = self._uploads.streaming(reader, info.size, lambda: info.digest, what)
        self._mark(info.digest)
        return BlobInfo(digest=info.digest, size=size, media_type=info.media_type)

    def put_new_blob(self, stream: BinaryIO, *, media_type: str | None = None, is_config: bool = False) -> BlobInfo:
        """Upload a blob whose digest is computed while it streams (no spooling)."""
        reader = DigestingReader(stream, None, what=f"new blob for {self._ref.name}")
        size = self._uploads.streaming(reader, -1, reader.verify, f"uploading a new blob to {self._ref.name}")
        self._mark(reader.digest)
        return BlobInfo(digest=reader.digest, size=size, media_type=media_type)

    # -- manifests -----------------------------------------------------------------

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Check a manifest; PUT it by ``instance_digest`` now, or record the top-level one for :meth:`commit`.

        The top-level manifest moves the tag, so it is PUT only after the signatures are
        stored (see the module docstring): a copy failing in between (or killed) leaves
        the tag where it was. Everything that can refuse it before then is checked here.

        Raises:
            ManifestError: the bytes do not match the digest they are to be stored under,
                or a blob they name is not in the repository.
            RegistryError: the registry refused an instance (``manifest-rejected`` for invalid ones).
        """
        from trustcopy.manifest.digest import manifest_digest, matches_digest
        from trustcopy.manifest.mediatypes import guess_mime_type

        digest = manifest_digest(manifest)
        if instance_digest is not None:
            if not matches_digest(manifest, instance_digest):
                raise ManifestError(f"{self.reference}: the instance manifest does not match {instance_digest}")
            tail = str(instance_digest)
        elif self._ref.digest is not None:
            if not matches_digest(manifest, self._ref.digest):
                raise ManifestError(f"{self.reference}: the manifest's digest {digest} does not match the reference",
                                    code="destination-digest-mismatch")
            tail = str(self._ref.digest)
        elif self.reference.is_unknown_digest:
            tail = str(digest)
        else:
            tail = str(self._ref.tag)
        self._ensure_blobs_present(manifest)
        mime = guess_mime_type(manifest) or "application/vnd.oci.image.manifest.v1+json"
        with self._lock:
            self._manifest_info[str(digest)] = (mime, len(manifest))
            if instance_digest is None:
                self._toplevel_digest = digest
                self._pending_manifest = (manifest, tail, digest, mime)
                return
        self._send_manifest(manifest, tail, digest, mime)

    def _send_manifest(self, manifest: bytes, tail: str, digest: Digest, mime: str) -> None:
        """PUT ``manifest`` to ``/v2/PATH/manifests/TAIL``, accepting a PUT whose answer was lost.

        Raises:
            RegistryError / NetworkError: the registry refused (``manifest-rejected`` for invalid ones).
        """
        what = f"uploading manifest {tail} to {self._ref.name}"
        headers = {"Content-Type": mime}
        echoed: str | None = str(digest)
        try:
            response = self._client.send("PUT", f"/v2/{self._client.path}/manifests/{tail}", what=what,
                                         content=manifest, headers=headers)
            self._client.check(response, what, ok=(200, 201, 202, 204))
            response.close()
            echoed = response.headers.get("docker-content-digest")
        except (NetworkError, RegistryHTTPError) as exc:
            # The registry may have stored the manifest (and moved the tag) with its answer
            # lost on the way: failing then would leave a tag behind a "failed" copy. If the
            # tag now names exactly these bytes, the PUT happened; otherwise report the failure.
            if not exc.context.get("retryable") or not self._manifest_is(tail, digest, mime):
                raise
            log.warning("%s; but the registry holds the manifest now", exc.message)
        if echoed and echoed != str(digest):
            log.warning("%s: the registry reports digest %s, expected %s", what, echoed[:80], digest)
        with self._lock:
            self._manifests.add(str(digest))

    def _manifest_is(self, tail: str, digest: Digest, mime: str) -> bool:
        """Whether ``/v2/PATH/manifests/TAIL`` is the manifest with ``digest`` (False when unsure)."""
        what = f"checking manifest {tail} in {self._ref.name}"
        try:
            response = self._client.send("HEAD", f"/v2/{self._client.path}/manifests/{tail}", what=what,
                                         headers={"Accept": mime})
        except TrustcopyError:
            return False
        response.close()
        return response.status_code == 200 and response.headers.get("docker-content-digest") == str(digest)

    def _ensure_blobs_present(self, manifest: bytes) -> None:
        """Refuse to PUT a manifest naming a blob the repository does not have."""
        try:
            doc = json.loads(manifest)
        except (ValueError, RecursionError):
            return  # the registry will refuse it with a readable error
        if not isinstance(doc, dict) or isinstance(doc.get("manifests"), list):
            return  # lists: the registry checks that their instances exist
        needed = [str(d) for d in _blob_digests(doc)]
        with self._lock:
            unknown = [d for d in needed if d not in self._present]
        for digest in unknown:
            exists, _ = self._blob_exists(self._client.path, digest)
            if not exists:
                raise ManifestError(
                    f"{self.reference}: refusing to push the manifest: blob {digest} is not in the repository",
                    code="manifest-blob-missing",
                )
            self._mark(digest)

    # -- signatures ------------------------------------------------------------------

    def _signature_reference(self) -> DockerReference:
        """The reference whose registries.d write store takes the signatures (the one pushed to).

        A push without a tag (``@@unknown-digest@@``) is looked up by its repository, as
        containers/image's identity for it is the repository name.
        """
        return self._ref

    def supports_signatures(self) -> str | None:
        """None when simple-signing signatures can be stored: the signature API, or a writable ``file://`` store.

        containers/image always says yes (a built-in default store exists when registries.d
        names none) and fails when writing to an http(s) store; we say no here instead,
        before anything is pushed, with its hint (configure a ``lookaside-staging``).
        Sigstore signatures are answered by :meth:`supports_signature_formats`.

        Raises:
            RegistryError / NetworkError: the registry cannot be pinged.
            ConfigError: the store's URL is unusable.
        """
        from trustcopy.transports.docker.signatures import write_problem

        problem = write_problem(self._client, self._signature_reference())
        return None if problem is None else f"{self._ref.domain}: {problem}"

    def supports_signature_formats(self, formats: Collection[str]) -> str | None:
        """None when signatures of every format in ``formats`` can be stored here.

        Sigstore signatures need ``use-sigstore-attachments: true`` in registries.d for the
        reference pushed to (as containers/image, which refuses to write them otherwise;
        they never go to a lookaside store); the other formats need :meth:`supports_signatures`.

        Raises:
            RegistryError / NetworkError / ConfigError: as :meth:`supports_signatures`.
        """
        from trustcopy.signature.formats import SIGSTORE_FORMAT

        if SIGSTORE_FORMAT in formats and (problem := self._sigstore_problem()) is not None:
            return problem
        if set(formats) - {SIGSTORE_FORMAT}:
            return self.supports_signatures()
        return None

    def _sigstore_problem(self) -> str | None:
        """Why sigstore signatures cannot be stored for the reference pushed to, or None."""
        if self.registry_config.use_sigstore_attachments(self._signature_reference()):
            return None
        return (f"{self._ref.domain}: sigstore signatures are stored in a registry only as attachments and "
                f"referrers, and registries.d does not set use-sigstore-attachments: true for {self._ref.name} "
                "(they never go to a lookaside store)")

    def put_signatures(self, signatures: Sequence[Signature], instance_digest: Digest | None = None) -> None:
        """Record the signatures of the top-level image (after its put_manifest) or of an instance.

        They are written by :meth:`commit`, after the instances and before the top-level
        manifest (see the module docstring):
        simple-signing ones replace what the lookaside store held for that digest; sigstore
        ones are added to the attachments (bundles to the referrers).

        Raises:
            SignatureError: sigstore signatures without ``use-sigstore-attachments`` (the
                copy asked :meth:`supports_signature_formats` before pushing anything).
            RuntimeError: the top-level manifest was not put first (API misuse).
        """
        from trustcopy.errors import SignatureError
        from trustcopy.signature.formats import SigstoreSignature

        if instance_digest is None and self._toplevel_digest is None:
            raise RuntimeError("put_signatures() before put_manifest(): the manifest digest is unknown")
        if any(isinstance(sig, SigstoreSignature) for sig in signatures) \
                and (problem := self._sigstore_problem()) is not None:
            raise SignatureError(problem, code="signatures-unsupported", hint=SIGSTORE_HINT)
        if signatures:
            self._pending_signatures.append((instance_digest, list(signatures)))

    def commit(self, toplevel_manifest: bytes) -> None:
        """Write the recorded signatures, then PUT the top-level manifest (which moves the tag).

        For each image, sigstore signatures first (attachments, then bundle referrers), then
        the others, as containers/image writes them. containers/image PUTs the manifest
        first, so a failure in between leaves the tag on an image without its signatures;
        here the tag moves last. When the manifest PUT (or a later signature write) fails, a
        lookaside store gets back the signature files it held for those digests before this
        copy: an image already published under the same digest (another tag, an earlier push)
        keeps its signatures. The
        registry's signature API (OpenShift) stores signatures on an image it must already
        know: for it the manifest is first PUT by digest, which moves no tag.

        Raises:
            SignatureError / RegistryError: a signature could not be stored; the top-level
                manifest was not PUT, so the tag is as it was.
            RegistryError / NetworkError: the top-level manifest PUT failed.
        """
        if self._committed:
            raise RuntimeError("commit() called twice")
        self._committed = True
        pending = self._pending_manifest
        undo: list[Callable[[], None]] = []
        try:
            self._write_pending_signatures(pending, undo)
        except TrustcopyError as exc:
            _restore(undo)
            if pending is None:
                raise
            tagged = self._ref.digest is None and not self.reference.is_unknown_digest
            left = (f"the tag {self._ref.name}:{pending[1]} was left as it was" if tagged
                    else f"the manifest {pending[2]} was not pushed")
            raise exc.rewrapped(f"{exc.message} (so {left}: the manifest is pushed only after its "
                                "signatures are stored)") from exc
        if pending is not None:
            manifest, tail, digest, mime = pending
            with self._lock:
                sent = str(digest) in self._manifests  # the signature API's by-digest PUT
            if tail != str(digest) or not sent:
                try:
                    self._send_manifest(manifest, tail, digest, mime)
                except BaseException:
                    _restore(undo)  # a failed copy leaves the store's signatures as they were
                    raise

    def _write_pending_signatures(self, pending: tuple[bytes, str, Digest, str] | None,
                                  undo: list[Callable[[], None]]) -> None:
        """Write what put_signatures recorded (the top-level manifest is not PUT yet); ``undo``
        collects what puts a lookaside store's previous signatures back."""
        if not self._pending_signatures:
            return
        from trustcopy.signature.formats import SigstoreSignature
        from trustcopy.transports.docker.signatures import write_signatures

        for instance_digest, signatures in self._pending_signatures:
            digest = instance_digest or self._toplevel_digest
            assert digest is not None  # put_signatures checked it
            sigstore = [sig for sig in signatures if isinstance(sig, SigstoreSignature)]
            if sigstore:
                self._write_sigstore(digest, sigstore)
            others = [sig for sig in signatures if not isinstance(sig, SigstoreSignature)]
            if others:
                if instance_digest is None and pending is not None and self._api_needs_image():
                    manifest, _, top, mime = pending
                    self._send_manifest(manifest, str(top), top, mime)  # by digest: no tag moves
                restore = write_signatures(self._client, self._signature_reference(), digest, others)
                if restore is not None:
                    undo.append(restore)

    def _api_needs_image(self) -> bool:
        """Whether signatures go to the registry's signature API (which needs the image stored first)."""
        self._client.ensure_ping()
        return self._client.supports_signatures_extension

    def _write_sigstore(self, digest: Digest, signatures: list[SigstoreSignature]) -> None:
        """Attachments for cosign signatures, referrers for bundles (attachments.py)."""
        from trustcopy.stores.attachments import Descriptor
        from trustcopy.transports.docker.attachments import is_bundle, write_attachments, write_bundle

        ref = self._signature_reference()
        plain = [sig for sig in signatures if not is_bundle(sig)]
        if plain:
            write_attachments(self._client, ref, digest, plain, self._put_small_blob)
        bundles = [sig for sig in signatures if is_bundle(sig)]
        if bundles:
            info = self._manifest_info.get(str(digest))
            if info is None:  # an instance pushed by another copy: its type and size are needed
                raise RuntimeError(f"no manifest {digest} was pushed by this destination")
            subject = Descriptor(info[0], digest, info[1])
            for sig in bundles:
                write_bundle(self._client, ref, subject, sig.untrusted_payload, self._put_small_blob)

    def _put_small_blob(self, data: bytes, media_type: str) -> None:
        """Upload a signature-sized blob unless the repository has it (one HEAD, then one upload)."""
        digest = Digest.from_bytes(data)
        with self._lock:
            known = str(digest) in self._present
        if not known and not self._blob_exists(self._client.path, digest)[0]:
            self._uploads.monolithic(data, digest, f"uploading {media_type} blob {digest} to {self._ref.name}")
        self._mark(digest)

    def close(self) -> None:
        """Release blob claims never used (a copy that failed first), then close the connection pool."""
        with self._lock:
            claims, self._claims = self._claims, set()
        for key in claims:
            self._client.session.uploads.release(key)
        self._client.close()


def _blob_digests(doc: dict[str, object]) -> list[str]:
    """Config and (non-foreign) layer digests of an image manifest, schema1 included."""
    out: list[str] = []
    config = doc.get("config")
    if isinstance(config, dict) and isinstance(config.get("digest"), str):
        out.append(config["digest"])
    layers = doc.get("layers")
    for layer in layers if isinstance(layers, list) else ():
        if isinstance(layer, dict) and isinstance(layer.get("digest"), str) and not layer.get("urls"):
            out.append(layer["digest"])
    fs_layers = doc.get("fsLayers")
    for layer in fs_layers if isinstance(fs_layers, list) else ():
        if isinstance(layer, dict) and isinstance(layer.get("blobSum"), str):
            out.append(layer["blobSum"])
    return list(dict.fromkeys(out))


def _restore(undo: list[Callable[[], None]]) -> None:
    """Put a lookaside store's signatures back as they were before this copy (best effort, logged)."""
    for restore in reversed(undo):
        try:
            restore()
        except TrustcopyError as exc:
            log.warning("could not restore the previous lookaside signatures: %s", exc.message)
