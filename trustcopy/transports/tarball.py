"""``tarball:PATH[:PATH…]``: root-filesystem tarballs as a one-layer-per-file image (source only).

Each file (optionally gzip- or zstd-compressed; ``-`` reads standard input) becomes a
layer; the config and manifest are built as containers/image's ``tarball`` transport
builds them, byte for byte, so skopeo and trustcopy give the same config digest for the
same files: an OCI config with ``created`` = the newest file's modification time (now,
for stdin), this machine's architecture and OS, the layers' diff IDs, and one history
entry per layer (``/bin/sh -c #(nop) ADD file:<diff ID hex> in /``, comment
``imported from tarball``); an OCI manifest without ``mediaType``.

Differences from containers/image: a zstd-compressed file becomes a ``tar+zstd`` layer
with the diff ID of its content (containers/image treats it as an uncompressed tar and
produces an image whose diff ID is wrong); bzip2/xz files are refused. Standard input
is spooled to a temporary file (containers/image holds it in memory): the layer must be
read twice, once for its digests and once to copy it.

Policy: the only scope is the default ``""`` (a file name says nothing about its content).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import shutil
import sys
import tempfile
from typing import BinaryIO

from trustcopy import hostplatform
from trustcopy.compression import CHUNK, Algorithm, DecompressingStream, PeekableStream
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, InvalidReferenceError, ManifestError, TransportError
from trustcopy.fsutil import big_files_dir, open_regular_file
from trustcopy.gojson import go_marshal
from trustcopy.lazy import dataclass
from trustcopy.transports.base import ImageDestination, ImageReference, ImageSource, ImageTransport
from trustcopy.transports.stubs import NoSourceSignatures
from trustcopy.types import BlobInfo, SystemContext

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_LAYER_TYPES = {
    Algorithm.NONE: "application/vnd.oci.image.layer.v1.tar",
    Algorithm.GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
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
            if name != "-" and not os.path.exists(name):
                raise InvalidReferenceError(f"tarball:{reference}: error opening {name!r}: no such file",
                                            code="invalid-path")
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

    def new_image_destination(self, sys: SystemContext) -> ImageDestination:
        """Refused: tarball: is a source only."""
        raise TransportError('"tarball:" locations can only be read from, not written to',
                             code="destination-unsupported")


def go_time(ns: int) -> str:
    """A UTC time as Go's time.Time marshals (RFC 3339 with trimmed nanoseconds)."""
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.datetime.fromtimestamp(secs, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    return stamp + "Z"


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
                    self._spool = tempfile.TemporaryFile(dir=big_files_dir(sys.tmp_dir))  # noqa: SIM115 - closed in close()
                    shutil.copyfileobj(sys_stdin(), self._spool, CHUNK)
                    self._spool.seek(0)
                    blob, size, diff_id, algo = _measure(self._spool, f"{ref}: standard input")
                    mtime = datetime.datetime.now(datetime.UTC).timestamp()
                    layers.append(_Layer(name, blob, size, diff_id, _LAYER_TYPES[algo], int(mtime * 1e9)))
                    continue
                with open_regular_file(name, "tarball") as f:
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
                return open_regular_file(layer.path, "tarball"), layer.size
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
