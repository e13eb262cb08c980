"""``tarball:PATH[:PATH…]``: root-filesystem tarballs as a one-layer-per-file image (source only).

Each file (optionally gzip- or zstd-compressed; ``-`` reads standard input) becomes a
layer; the config and manifest are built as containers/image's ``tarball`` transport
builds them, byte for byte, so skopeo and trustcopy give the same config digest for the
same files: an OCI config with ``created`` = the newest file's modification time (now,
for stdin) in local time as Go writes it (``+02:00``, or ``Z`` where the zone is UTC: Go's
``time.Local``, from ``$TZ`` or /etc/localtime, so skopeo on the same machine writes the same
bytes), this machine's architecture and OS, the layers' diff IDs, and one history
entry per layer (``/bin/sh -c #(nop) ADD file:<diff ID hex> in /``, comment
``imported from tarball``); an OCI manifest without ``mediaType``.

Differences from containers/image 5.23 (each a NOTE(go-diff) below): a zstd-compressed
file becomes a ``tar+zstd`` layer with the diff ID of its content, as in the newest
containers/image (5.23 treats it as an uncompressed tar, so its diff ID is wrong); a file
starting with gzip's magic that is not gzip is refused, as in the newest (5.23 takes it as
an uncompressed tar); bzip2/xz files are refused (the newest labels them ``tar+gzip``, an
image nothing can read; 5.23 takes them as uncompressed tars); only regular files are read
(containers/image reads a device such as /dev/zero until it ends, and blocks on a FIFO).
Standard input is spooled to a temporary file (containers/image holds it in memory): the
layer must be read twice, once for its digests and once to copy it.

Policy: the only scope is the default ``""`` (a file name says nothing about its content).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import stat
import sys
import tempfile
import time
from typing import BinaryIO

from trustcopy import hostplatform
from trustcopy.compression import CHUNK, Algorithm, DecompressingStream, PeekableStream
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, InvalidReferenceError, ManifestError, TransportError
from trustcopy.fsutil import big_files_dir, open_regular_file
from trustcopy.gojson import go_marshal
from trustcopy.lazy import dataclass
from trustcopy.transports.base import ImageDestination, ImageReference, ImageSource, ImageTransport
from trustcopy.transports.localblobs import reading_named
from trustcopy.transports.stubs import NoSourceSignatures
from trustcopy.types import BlobInfo, SystemContext

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_LAYER_TYPES = {
    Algorithm.NONE: "application/vnd.oci.image.layer.v1.tar",
    Algorithm.GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
    # NOTE(go-diff): as the newest containers/image; 5.23 knows no zstd here and labels the
    # file an uncompressed tar whose diff ID is the compressed file's digest.
    Algorithm.ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
}


class TarballTransport(ImageTransport):
    """The ``tarball:`` transport."""

    name = "tarball"
    syntax = "tarball:PATH[:PATH...]"

    def parse_reference(self, reference: str) -> TarballReference:
        """Colon-separated file names; each must exist (``-`` is standard input)."""
        names = tuple(reference.split(":"))
        for name in names:
            if not name:
                raise InvalidReferenceError(f"tarball:{reference}: empty file name", code="invalid-path")
            if name != "-":
                _check_openable(reference, name)
        # NOTE(go-diff): containers/image reads standard input once per "-" and keeps the last
        # reading (empty), so a second "-" silently empties every stdin layer; refused here.
        if names.count("-") > 1:
            raise InvalidReferenceError(f"tarball:{reference}: standard input can be used only once",
                                        code="invalid-path")
        return TarballReference(names)

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Only "" is a valid scope (containers/image)."""
        raise ValueError('tarball: does not support any scopes except the default "" one')


TRANSPORT = TarballTransport()


def _check_openable(reference: str, name: str) -> None:
    """Refuse the name as containers/image's ParseReference does: a file it cannot open.

    containers/image opens (and closes) each file while parsing, so a file that exists but
    cannot be read (EACCES) is an invalid name, not a failure of the copy. Regular files
    and directories are opened here too (without blocking: ``O_NONBLOCK``); a FIFO or
    device is only looked up, since opening a FIFO would release (and then break) a writer
    waiting on it; the source refuses it (NOTE(go-diff): containers/image blocks in open
    until a writer comes).
    """
    def refuse(why: str) -> InvalidReferenceError:
        return InvalidReferenceError(f"tarball:{reference}: error opening {name!r}: {why}", code="invalid-path")

    try:
        st = os.stat(name)
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            os.close(os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY))
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from exc
    except ValueError as exc:  # an embedded NUL (Go: "invalid argument")
        raise refuse("invalid argument") from exc


@dataclass(frozen=True, repr=False)
class TarballReference(ImageReference):
    """The files that become the layers, in order."""

    filenames: tuple[str, ...]

    @property
    def transport(self) -> TarballTransport:
        """The ``tarball:`` transport."""
        return TRANSPORT

    def string_within_transport(self) -> str:
        """The file names joined by ``:``."""
        return ":".join(self.filenames)

    def docker_reference(self) -> None:
        """No Docker identity."""
        return

    def policy_configuration_identity(self) -> str:
        """"": the default scope only."""
        return ""

    def policy_configuration_namespaces(self) -> list[str]:
        """None."""
        return []

    def new_image_source(self, sys: SystemContext) -> TarballSource:
        """Read every file once (digests, diff IDs), build the config and manifest."""
        return TarballSource(self, sys)

    # NOTE(go-diff): no delete_image (the base refuses): containers/image's DeleteImage
    # removes the layer files themselves, the user's inputs rather than an image.

    def new_image_destination(self, sys: SystemContext) -> ImageDestination:
        """Refused: tarball: is a source only."""
        raise TransportError('"tarball:" locations can only be read from, not written to',
                             code="destination-unsupported")


def go_time(ns: int) -> str:
    """A time (ns since the epoch) as Go's time.Time marshals a local time (RFC 3339, trimmed nanoseconds).

    containers/image's times come from ``os.Stat``/``time.Now``, which are in Go's
    ``time.Local``: the clock time and offset of this machine's zone at that instant,
    ``Z`` when the offset is zero. An offset with seconds (local mean time, before a zone's
    first transition) shifts the clock time by all of it, while the suffix shows hours and
    minutes only (Go's integer division, towards zero).

    Raises:
        ManifestError: a year outside [0, 9999], which Go refuses to marshal (it fails
            to build the config then) and Python's datetime cannot hold.
    """
    secs, frac = divmod(ns, 1_000_000_000)
    try:
        offset = 0 if _go_local_is_utc() else time.localtime(secs).tm_gmtoff
        local = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs + offset)
    except (OverflowError, OSError, ValueError) as exc:
        raise ManifestError(f"time {ns} ns after the epoch: year outside of range [0,9999]",
                            code="image-config-invalid") from exc
    stamp = (f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
             f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}")
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    if offset == 0:
        return stamp + "Z"
    minutes = abs(offset) // 60  # Go: offset / 60, towards zero, so -30 s is "+00:00"
    return stamp + ("-" if minutes and offset < 0 else "+") + f"{minutes // 60:02d}:{minutes % 60:02d}"


#: Where Go looks up a $TZ zone name (time.platformZoneSources on Unix).
_GO_ZONE_SOURCES = ("/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/")


def _go_local_is_utc() -> bool:
    """Whether Go's time.Local is UTC where the C library's local time is not necessarily.

    Go reads $TZ only as a zone file (a name under /usr/share/zoneinfo or an absolute
    path) and falls back to UTC for anything else; the C library also takes POSIX rules
    such as ``JST-9`` or ``CET-1CEST,M3.5.0,M10.5.0/3``. Unset and empty $TZ, and
    loadable zone files, mean the same local time in both.
    """
    tz = os.environ.get("TZ")
    if not tz:
        return tz == ""
    tz = tz.removeprefix(":")
    if not tz or tz == "UTC":
        return True
    for path in [tz] if tz.startswith("/") else [base + tz for base in _GO_ZONE_SOURCES]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except (OSError, ValueError):
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, 4) == b"TZif":
                return False
        except OSError:
            continue
        finally:
            os.close(fd)
    return True


@dataclass
class _Layer:
    path: str
    blob: Digest
    size: int
    diff_id: Digest
    media_type: str
    mtime_ns: int


def _measure(f: BinaryIO, what: str) -> tuple[Digest, int, Digest, Algorithm]:
    """Blob digest and size, diff ID, and compression of a layer file (one read)."""
    blob_hash = hashlib.sha256()
    size = 0

    class _Tee:
        def read(self, n: int = -1, /) -> bytes:
            nonlocal size
            data = f.read(n)
            blob_hash.update(data)
            size += len(data)
            return data

    peek = PeekableStream(_Tee())
    # Compression by magic prefix, as the newest containers/image detects it: a file that
    # starts like gzip (or zstd) but does not decompress is refused, where 5.23 (which asks
    # pgzip for a whole gzip header and knows no zstd) takes it as an uncompressed tar.
    # NOTE(go-diff): bzip2 and xz are refused; the newest decompresses them but labels the
    # layer tar+gzip (its "historical" default), an image no consumer can read, and 5.23
    # takes them as uncompressed tars (diff ID = the compressed file's digest).
    algo = peek.algorithm
    if algo not in _LAYER_TYPES:
        raise ManifestError(f"{what}: {algo.value}-compressed tarballs are not supported (use gzip or zstd)",
                            code="manifest-layer-compression-unsupported")
    diff_hash = blob_hash if algo is Algorithm.NONE else hashlib.sha256()
    stream: object = peek if algo is Algorithm.NONE else DecompressingStream(peek, algo, what=what)
    while data := stream.read(CHUNK):  # type: ignore[attr-defined]
        if diff_hash is not blob_hash:
            diff_hash.update(data)
    blob = Digest("sha256", blob_hash.hexdigest())
    return blob, size, Digest("sha256", diff_hash.hexdigest()) if diff_hash is not blob_hash else blob, algo


def _spool_stdin(what: str, directory: str) -> BinaryIO:
    """Standard input in an unnamed temporary file in ``directory`` (``--tmpdir``), at its start.

    Raises:
        TransportError: the file cannot be made or written (``spool-failed``, a full disk:
            naming the directory), or standard input cannot be read (``file-unreadable``).
    """
    def failed(exc: OSError) -> TransportError:
        return TransportError(f"{what}: cannot keep a copy of standard input in {directory}: "
                              f"{exc.strerror or exc}", code="spool-failed", context={"directory": directory},
                              hint="--tmpdir (or TMPDIR) chooses another directory")

    try:
        spool = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - returned, or closed below
    except OSError as exc:
        raise failed(exc) from exc
    try:
        stdin = sys_stdin()
        while True:
            try:
                data = stdin.read(CHUNK)
            except OSError as exc:
                raise TransportError(f"{what}: cannot read standard input: {exc.strerror or exc}",
                                     code="file-unreadable") from exc
            if not data:
                break
            try:
                spool.write(data)
            except OSError as exc:
                raise failed(exc) from exc
        try:
            spool.flush()
        except OSError as exc:
            raise failed(exc) from exc
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


class TarballSource(NoSourceSignatures, ImageSource):
    """The image built from the files (see the module docstring)."""

    reference: TarballReference

    def __init__(self, ref: TarballReference, sys: SystemContext) -> None:
        self.reference = ref
        self._spool: BinaryIO | None = None
        layers: list[_Layer] = []
        try:
            for name in ref.filenames:
                if name == "-":
                    self._spool = _spool_stdin(str(ref), big_files_dir(sys.tmp_dir))
                    blob, size, diff_id, algo = _measure(self._spool, f"{ref}: standard input")
                    layers.append(_Layer(name, blob, size, diff_id, _LAYER_TYPES[algo], time.time_ns()))
                    continue
                # NOTE(go-diff): regular files only; containers/image reads whatever opens
                # (/dev/zero forever; a FIFO blocks in open until a writer comes).
                with reading_named(open_regular_file(name, "tarball"), name, "tarball", ref) as f:
                    blob, size, diff_id, algo = _measure(f, f"{ref}: {name}")
                    mtime_ns = os.fstat(f.fileno()).st_mtime_ns
                layers.append(_Layer(name, blob, size, diff_id, _LAYER_TYPES[algo], mtime_ns))
        except BaseException:
            self.close()
            raise
        self._layers = layers
        created = go_time(max(layer.mtime_ns for layer in layers))
        config = {
            "created": created,
            "architecture": hostplatform.go_arch(),
            "os": hostplatform.go_os(),
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
            "history": [{"created": go_time(layer.mtime_ns),
                         "created_by": f"/bin/sh -c #(nop) ADD file:{layer.diff_id.hex} in /",
                         "comment": "imported from tarball"} for layer in layers],
        }
        self._config = go_marshal(config)
        self._config_digest = Digest.from_bytes(self._config)
        self._manifest = go_marshal({
            "schemaVersion": 2,
            "config": {"mediaType": _OCI_CONFIG, "digest": str(self._config_digest), "size": len(self._config)},
            "layers": [{"mediaType": layer.media_type, "digest": str(layer.blob), "size": layer.size}
                       for layer in layers],
        })

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """The built OCI manifest."""
        if instance_digest is not None:
            raise ManifestError('manifest lists are not supported by the "tarball" transport')
        return self._manifest, _OCI_MANIFEST

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """The config, or a file (verified by the caller against the digest measured at open)."""
        if info.digest == self._config_digest:
            return io.BytesIO(self._config), len(self._config)
        for layer in self._layers:
            if layer.blob == info.digest:
                if layer.path == "-":
                    assert self._spool is not None
                    self._spool.seek(0)
                    data = os.dup(self._spool.fileno())
                    return os.fdopen(data, "rb"), layer.size
                return reading_named(open_regular_file(layer.path, "tarball"), layer.path, "tarball",
                                     self.reference), layer.size
        raise ImageNotFoundError(f"{self.reference}: no blob with digest {info.digest}")

    @property
    def has_thread_safe_get_blob(self) -> bool:
        """Standard input is one spool file: one reader at a time."""
        return "-" not in self.reference.filenames

    def close(self) -> None:
        """Remove the standard-input spool."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def sys_stdin() -> BinaryIO:
    """Standard input as bytes (a function, so tests can replace it)."""
    return sys.stdin.buffer
