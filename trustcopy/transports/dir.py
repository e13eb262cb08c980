"""``dir:PATH``: an image as plain files, in skopeo's on-disk format.

Layout (``Directory Transport Version: 1.1``, or ``1.2`` when a non-sha256 digest is used)::

    PATH/version                 "Directory Transport Version: 1.1\\n" (or 1.2)
    PATH/manifest.json           the top-level manifest
    PATH/<id>                    each blob, named by its digest's ``<id>``
    PATH/signature-N             signatures of the top-level manifest, N = 1, 2, …
    PATH/<id>.manifest.json      instance manifests of a list (by instance digest)
    PATH/<id>.signature-N        signatures of such an instance

where ``<id>`` is the bare hex of a sha256 digest and ``ALG-HEX`` (e.g. ``sha512-…``) of any
other, as current containers/image names them; a directory using such names is version 1.2.

Invariants:
- The destination writes into a hidden staging directory beside PATH and swaps it in
  at commit; until then PATH is untouched, and an aborted copy removes the staging.
- An existing, non-empty PATH is replaced only if its ``version`` file proves it is an
  image directory (as containers/image), never an arbitrary directory of the user's.
- A ``version`` newer than 1.2 is refused, as a source and as a destination to replace:
  its files may be named in ways this code does not know.
- As containers/image: a PATH that is a symlink to a directory is written where it leads;
  modes are its modes (directory 0755, version/manifests/signatures 0644, both less the
  umask; blobs 0644; an existing directory keeps its mode).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, ManifestError, TransportError
from trustcopy.fsutil import (
    current_umask,
    fsync_dir,
    is_staging_name,
    make_staging_dir,
    open_regular_file,
    parent_namespaces,
    remove_tree,
    replace_contents,
    replace_directory,
    resolve_path_to_fully_explicit,
    stages_inside,
    validate_path_scope,
    write_file_atomic,
)
from trustcopy.lazy import dataclass
from trustcopy.transports.base import ImageDestination, ImageReference, ImageSource, ImageTransport
from trustcopy.transports.localblobs import StagingBlobWriter, open_inside
from trustcopy.transports.stubs import AlwaysSupportsManifestLists, AlwaysSupportsSignatures
from trustcopy.types import BlobInfo, LayerCompression, SystemContext

if TYPE_CHECKING:
    from trustcopy.signature.formats import Signature

VERSION_PREFIX = "Directory Transport Version: "
#: The version written for sha256-only images (and the one skopeo 1.9 writes and requires).
VERSION = VERSION_PREFIX + "1.1\n"
#: The version written when any blob, instance manifest or signature uses another digest algorithm.
VERSION_1_2 = VERSION_PREFIX + "1.2\n"
MAX_SUPPORTED_VERSION = (1, 2)
#: Go's %d as fmt prints it (no "+", no leading zeros, no "-0"): containers/image's parseVersion
#: scans with Sscanf and then requires the text to be exactly what it would print.
_GO_PRINTED_INT = r"(0|-?[1-9][0-9]*)"
_VERSION_PATTERN = re.escape(VERSION_PREFIX) + _GO_PRINTED_INT + r"\." + _GO_PRINTED_INT + "\n"  # compiled on first use
_INT64 = 2**63


def parse_version(content: bytes) -> tuple[int, int] | None:
    """``(major, minor)`` of a ``version`` file's exact content, or None if it is not one.

    As containers/image's parseVersion: exactly ``Directory Transport Version: M.N\\n`` with
    M and N as Go prints integers (within int64); nothing before, after or in between.
    """
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        return None
    m = re.fullmatch(_VERSION_PATTERN, text)
    if m is None:
        return None
    if len(m.group(1)) > 20 or len(m.group(2)) > 20:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if not (-_INT64 <= major < _INT64 and -_INT64 <= minor < _INT64):
        return None
    return major, minor


def _unsupported_version(ref: object, path: str, content: bytes) -> TransportError:
    return TransportError(
        f"{ref}: unsupported directory transport version {content.decode('ascii', 'replace')!r} at {path}",
        code="dir-version-unsupported",
        hint="the directory was written by a newer tool; use a newer version of trustcopy",
    )


class DirTransport(ImageTransport):
    """The ``dir:`` transport."""

    name = "dir"
    syntax = "dir:PATH"

    def parse_reference(self, reference: str) -> DirReference:
        """Any path; a missing final component is allowed if its parent exists.

        NOTE(go-diff): an empty path is refused; containers/image resolves ``dir:`` to the
        working directory (as it does ``oci::NAME`` and ``docker-archive::NAME``). A name
        typed without its path is a mistake far more often than a wish to use ``.``.
        """
        return DirReference(path=reference, resolved=resolve_path_to_fully_explicit(reference))

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Absolute, canonical, not "/" (see fsutil.validate_path_scope)."""
        validate_path_scope(scope)


TRANSPORT = DirTransport()


@dataclass(frozen=True, repr=False)
class DirReference(ImageReference):
    """A directory path, as given and as resolved (for policy scopes)."""

    path: str
    resolved: str

    @property
    def transport(self) -> DirTransport:
        """The ``dir:`` transport."""
        return TRANSPORT

    def string_within_transport(self) -> str:
        """The path as the user gave it."""
        return self.path

    def docker_reference(self) -> None:
        """A directory has no Docker identity."""
        return

    def policy_configuration_identity(self) -> str:
        """The resolved absolute path."""
        return self.resolved

    def policy_configuration_namespaces(self) -> list[str]:
        """Each parent directory, most specific first, excluding "/"."""
        return parent_namespaces(self.resolved, include_self=False)

    def new_image_source(self, sys: SystemContext) -> DirImageSource:
        """Open the directory for reading."""
        return DirImageSource(self)

    def new_image_destination(self, sys: SystemContext) -> DirImageDestination:
        """Open the directory for writing (staged until commit)."""
        return DirImageDestination(self, sys)

    def delete_image(self, sys: SystemContext) -> None:
        """Refused, as in containers/image: remove the directory yourself."""
        raise TransportError("deleting images is not implemented for dir: images; remove the directory")


def _digest_id(digest: Digest) -> str:
    """``HEX`` for sha256 (the historical name), ``ALG-HEX`` otherwise (containers/image's layerPath).

    Digest validates the algorithm and the hex, so the name never contains a separator.
    """
    return digest.hex if digest.algorithm == "sha256" else f"{digest.algorithm}-{digest.hex}"


def _blob_name(digest: Digest) -> str:
    return _digest_id(digest)


def _manifest_name(instance: Digest | None) -> str:
    return "manifest.json" if instance is None else f"{_digest_id(instance)}.manifest.json"


def _signature_name(index: int, instance: Digest | None) -> str:
    return f"signature-{index + 1}" if instance is None else f"{_digest_id(instance)}.signature-{index + 1}"


def _fd_identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _directory_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the directory ``path`` names now, or None: a replaced image directory has another."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class DirImageSource(ImageSource):
    """Reads a ``dir:`` image. Nothing here trusts file sizes or types, nor symlinks leading out of it."""

    def __init__(self, ref: DirReference) -> None:
        self.reference = ref
        self._path = ref.path
        if not os.path.isdir(self._path):
            raise ImageNotFoundError(
                f"{ref}: directory {self._path} does not exist", context={"path": self._path}
            )
        # The directory stays open while it is read: its inode cannot be freed and given to the
        # directory a concurrent copy swaps in, so "replaced while read" (get_blob) is told apart
        # from a missing blob even when a file system reuses inode numbers at once.
        try:
            self._held: int | None = os.open(self._path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            self._held = None  # (unreadable: open_inside reports it when a file is read)
        self._identity = _directory_identity(self._path) if self._held is None else _fd_identity(self._held)
        try:
            self._check_version()
        except BaseException:
            self.close()
            raise

    def _check_version(self) -> None:
        """A missing ``version`` is accepted (as containers/image); an invalid or newer one is not."""
        path = os.path.join(self._path, "version")
        try:
            f = open_inside(path, self._path, "version file", self.reference)
        except ImageNotFoundError:
            return  # missing, or a dangling symlink: os.IsNotExist in containers/image
        with f:
            content = limits.read_at_most(f, 4096, path)
        parsed = parse_version(content)
        if parsed is None:
            raise TransportError(
                f"{self.reference}: invalid version file content: {content[:100].decode('ascii', 'replace')!r}",
                code="dir-version-invalid",
            )
        if parsed > MAX_SUPPORTED_VERSION:
            raise _unsupported_version(self.reference, self._path, content)

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """Read manifest.json (or an instance's), bounded; guess its type from content."""
        from trustcopy.manifest.mediatypes import guess_mime_type

        path = os.path.join(self._path, _manifest_name(instance_digest))
        with open_inside(path, self._path, "manifest", self.reference) as f:
            data = limits.read_at_most(f, limits.MAX_MANIFEST_BODY, path)
        return data, guess_mime_type(data)

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """Open PATH/<hex>; its size is what the file system says."""
        path = os.path.join(self._path, _blob_name(info.digest))
        try:
            f = open_inside(path, self._path, f"blob {info.digest}", self.reference, digest=info.digest,
                            size=info.size)
        except ImageNotFoundError as exc:
            if _directory_identity(self._path) == self._identity:
                raise
            # A copy into this directory swapped its new image in (fsutil.replace_directory) while we
            # read the old one: say so, rather than leave "blob not found" in an intact image unexplained.
            raise ImageNotFoundError(f"{exc} (the directory was replaced by another image while it was read)",
                                     context=exc.context,
                                     hint="a concurrent copy wrote to it; run the command again") from exc
        return f, os.fstat(f.fileno()).st_size

    @property
    def has_thread_safe_get_blob(self) -> bool:
        """Each call opens its own file."""
        return True

    def close(self) -> None:
        """Let go of the directory held open since the source was opened."""
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def signature_search(self, instance_digest: Digest | None = None) -> str:
        """The signature files read: they are read from ``signature-1`` until one is missing.

        A requirement finds none of *its* kind also when files of another kind exist (a
        sigstoreSigned requirement and only a GPG ``signature-1``): then the missing file is
        the one to name, not ``signature-1``, which is there (an air-gapped transfer that lost
        ``signature-2`` said "looked for the file …/signature-1"). Local stats only.
        """
        first = os.path.join(self._path, _signature_name(0, instance_digest))
        present = 0
        while present < limits.MAX_DIR_SIGNATURES and os.path.exists(
                os.path.join(self._path, _signature_name(present, instance_digest))):
            present += 1
        if present == 0:
            return f"looked for the file {first}"
        missing = os.path.join(self._path, _signature_name(present, instance_digest))
        return f"read {present} signature file(s) from {first} on; the next, {missing}, does not exist"

    def get_signatures(self, instance_digest: Digest | None = None) -> list[Signature]:
        """signature-1 … until the first missing file (bounded count and size), each parsed once."""
        from trustcopy.signature.formats import stored_signature  # only when signatures are read

        sigs: list[Signature] = []
        for i in range(limits.MAX_DIR_SIGNATURES + 1):
            path = os.path.join(self._path, _signature_name(i, instance_digest))
            try:
                f = open_inside(path, self._path, "signature", self.reference)
            except ImageNotFoundError:
                # Missing, or a dangling symlink: the end, as c/i's os.IsNotExist check sees it.
                return sigs
            with f:
                if i == limits.MAX_DIR_SIGNATURES:
                    break
                blob = limits.read_at_most(f, limits.MAX_SIGNATURE_BODY, path)
            sigs.append(stored_signature(blob, f"{self.reference}/{os.path.basename(path)}"))
        raise TransportError(
            f"{self.reference}: more than {limits.MAX_DIR_SIGNATURES} signatures", code="limit-exceeded"
        )


class DirImageDestination(AlwaysSupportsSignatures, AlwaysSupportsManifestLists, StagingBlobWriter,
                          ImageDestination):
    """Writes a ``dir:`` image into a staging directory, swapped in at commit."""

    def __init__(self, ref: DirReference, sys: SystemContext | None = None) -> None:
        self.reference = ref
        # containers/image writes through a symlink to a directory (it checks with Stat and
        # writes PATH/<file>): the image goes where the link leads. So we stage beside that
        # directory and swap it there; the link itself stays as the user made it.
        self._target = destination_target(ref.path)
        self._compression = LayerCompression.PRESERVE
        if sys is not None and sys.dest_compress:
            self._compression = LayerCompression.COMPRESS
        elif sys is not None and sys.dest_decompress:
            self._compression = LayerCompression.DECOMPRESS
        self._check_target()
        umask = current_umask()
        #: containers/image writes version, manifests and signatures 0644 less the umask
        #: (os.WriteFile) and fchmods blobs to 0644 (localblobs.store_blob does the same).
        self._file_mode = 0o644 & ~umask
        #: It empties an existing directory in place, keeping its mode, and makes a new one
        #: 0755 less the umask (MkdirAll). NOTE(go-diff): we replace the directory by a new one,
        #: so its mode is copied, but not its owner, group or ACL (a user cannot chown).
        try:
            # Always with the owner's rwx: containers/image could not write into a directory
            # without them (it refuses), and copied as it is, the mode would make the new image
            # one that no later copy (nor a failed commit's clean-up) can empty again.
            self._dir_mode = stat.S_IMODE(os.stat(self._target).st_mode) | stat.S_IRWXU
        except FileNotFoundError:
            self._dir_mode = 0o755 & ~umask
        # A mount point (or another filesystem) cannot be swapped: stage inside, replace contents.
        self._inside = stages_inside(self._target)
        self._stage = make_staging_dir(self._target, inside=self._inside)
        self._staging = self._stage.path
        self._committed = False
        self._closed = False
        #: A blob, instance manifest or signature named with a non-sha256 digest: version 1.2.
        self._uses_non_sha256 = False

    def _note_digest(self, digest: Digest | None) -> None:
        if digest is not None and digest.algorithm != "sha256":
            self._uses_non_sha256 = True

    def _check_target(self) -> None:
        _check_destination(self.reference, self._target)

    @property
    def has_thread_safe_put_blob(self) -> bool:
        """Each blob goes to its own temporary file."""
        return True

    def _staged_blob_path(self, digest: Digest) -> str:
        """``STAGING/HEX``, skopeo's dir: blob name."""
        return os.path.join(self._staging, _blob_name(digest))

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """As the source has them, unless --dest-compress / --dest-decompress (skopeo's dir-only flags)."""
        return self._compression

    def _blob_stored(self, info: BlobInfo) -> None:
        """Only whether its digest makes this a version 1.2 directory: staging becomes the image."""
        self._note_digest(info.digest)

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """Reuse a blob already staged in this copy (e.g. a layer used twice)."""
        path = os.path.join(self._staging, _blob_name(info.digest))
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        return BlobInfo(digest=info.digest, size=size, media_type=info.media_type)

    def _write_staged(self, name: str, data: bytes) -> None:
        """Write ``name`` in staging; a full disk (any OSError) is this destination's TransportError.

        Raises:
            TransportError: ``destination-unwritable``, naming the file (not a bare OSError,
                which a ``sync`` could not attribute to one image).
        """
        path = os.path.join(self._staging, name)
        try:
            # Temporary in the staging directory itself (ours, reclaimed whole): a staging file
            # beside ``path`` would rescan the directory, every blob in it, for each manifest
            # and signature written (quadratic in a list's instances).
            write_file_atomic(path, data, self._file_mode, temp_dir=self._staging)
        except OSError as exc:
            raise TransportError(f"{self.reference}: cannot write {path}: {exc.strerror or exc}",
                                 code="destination-unwritable", context={"path": path}) from exc

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Write (instance) manifest into staging."""
        self._note_digest(instance_digest)
        self._write_staged(_manifest_name(instance_digest), manifest)

    def put_signatures(self, signatures: Sequence[Signature], instance_digest: Digest | None = None) -> None:
        """signature-1 … signature-N in storage form, replacing any staged earlier."""
        from trustcopy.signature.formats import signature_to_blob

        self._note_digest(instance_digest)
        for i, sig in enumerate(signatures):
            self._write_staged(_signature_name(i, instance_digest), signature_to_blob(sig))
        i = len(signatures)
        while True:
            stale = os.path.join(self._staging, _signature_name(i, instance_digest))
            if not os.path.exists(stale):
                break
            os.unlink(stale)
            i += 1

    def commit(self, toplevel_manifest: bytes) -> None:
        """Write ``version`` (1.2 if a non-sha256 name was used) and swap the staging directory in at PATH."""
        if self._committed:
            raise RuntimeError("commit() called twice")
        if not os.path.exists(os.path.join(self._staging, "manifest.json")):
            raise ManifestError(f"{self.reference}: internal error: committing without a manifest")
        version = VERSION_1_2 if self._uses_non_sha256 else VERSION
        self._write_staged("version", version.encode())
        if not self._inside:
            os.chmod(self._staging, self._dir_mode)  # mkdtemp makes 0700; c/image's mode (see __init__)
        fsync_dir(self._staging)
        try:
            self._check_target()  # it may have changed since we opened it
            if self._inside:
                replace_contents(self._staging, self._target, last="manifest.json")
            else:
                replace_directory(self._staging, self._target)
            self._stage.release()
        except OSError as exc:
            raise TransportError(
                f"{self.reference}: cannot move the new image into place: {exc.strerror}",
                code="destination-unwritable",
            ) from exc
        fsync_dir(self._target if self._inside else os.path.dirname(os.path.abspath(self._target)))
        self._committed = True

    def close(self) -> None:
        """Remove staging unless committed: an aborted copy leaves PATH as it was."""
        if self._closed:
            return
        self._closed = True
        if not self._committed:
            remove_tree(self._staging)
        self._stage.release()


def destination_target(path: str) -> str:
    """Where a ``dir:`` destination at ``path`` writes: its absolute path, or, for a symlink to a
    directory, where the link leads (containers/image writes through it; see DirImageDestination)."""
    target = os.path.abspath(path)  # "DIR/." and "DIR/" name DIR, which is renamed as a whole
    if os.path.islink(target) and os.path.isdir(target):
        target = os.path.realpath(target)
    return target


def check_destination(ref: DirReference) -> None:
    """Whether a copy to ``ref`` could write there, asked without writing anything (``sync --dry-run``).

    Raises:
        TransportError: what opening or committing the destination would raise for what is at
            its path now (not a directory, a directory that is not an image, a newer version).
    """
    _check_destination(ref, destination_target(ref.path))


def _check_destination(reference: object, t: str) -> None:
    """Refuse a destination path ``t`` that is not absent, empty (but for staging) or an image directory.

    Raises:
        TransportError: ``destination-not-a-directory``, ``destination-not-image-dir``,
            ``dir-version-unsupported``.
    """
    if not os.path.lexists(t):
        return
    if not os.path.isdir(t) or os.path.islink(t):
        raise TransportError(
            f"{reference}: {t} exists and is not a directory", code="destination-not-a-directory"
        )
    if all(is_staging_name(name) for name in os.listdir(t)):
        return  # empty, but for hidden staging (ours, or one a killed copy left)
    version = os.path.join(t, "version")
    try:
        with open_regular_file(version, "version file") as f:
            content = limits.read_at_most(f, 4096, version)
    except (ImageNotFoundError, TransportError):
        content = b""
    parsed = parse_version(content)
    if parsed is not None and parsed > MAX_SUPPORTED_VERSION:
        raise _unsupported_version(reference, t, content)
    if parsed is None:
        raise TransportError(
            f"{reference}: {t} is not empty and not a containers image directory, "
            "refusing to overwrite it",
            code="destination-not-image-dir",
            hint="choose an empty or new directory",
        )
