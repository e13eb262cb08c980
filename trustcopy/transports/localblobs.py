"""Writing a blob stream into a local staging directory, verified before it is named.

Shared by the file-based destinations (dir:, oci:, archives). The bytes go to a unique
temporary file; only when the digest (and size) check passed is the file renamed to
its content-addressed name, so a name in staging always means verified content.
"""

from __future__ import annotations

import abc
import contextlib
import io
import os
from collections.abc import Callable
from typing import Any, BinaryIO

from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import TransportError
from trustcopy.fsutil import open_regular_file
from trustcopy.types import BlobInfo

_COPY_CHUNK = 1 << 20


def _opened_path(f: BinaryIO, path: str) -> str:
    """Where the file ``f`` really is: the kernel's name for the descriptor (no race with a
    symlink swapped after the open), else ``realpath`` of the name it was opened by."""
    try:
        return os.readlink(f"/proc/self/fd/{f.fileno()}")
    except OSError:
        return os.path.realpath(path)


class _NamedReadErrors(io.RawIOBase):
    """A file whose read failures (EIO of a failing disk, ESTALE, …) are TransportErrors naming it.

    Why: a bare OSError from deep inside a copy names no file (``read(2)`` has no path), ends a
    CLI command with a traceback and cannot be attributed by ``sync`` to the image it belongs
    to. It stays a file: ``fileno`` (``fstat``, ``pread`` by others), ``seek`` and ``tell`` are
    the wrapped file's.
    """

    def __init__(self, raw: Any, path: str, what: str, owner: object) -> None:
        super().__init__()
        self._raw = raw
        self._where = (path, what, owner)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def readinto(self, buffer: Any, /) -> int | None:
        try:
            return self._raw.readinto(buffer)  # type: ignore[no-any-return]
        except OSError as exc:
            raise read_failure(*self._where, exc) from exc

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def read_failure(path: str, what: str, owner: object, exc: OSError) -> TransportError:
    """The error for a local source file that cannot be read (``file-unreadable``), naming it."""
    return TransportError(f"{owner}: cannot read {what} {path}: {exc.strerror or exc}", code="file-unreadable",
                          context={"path": path})


def reading_named(f: BinaryIO, path: str, what: str, owner: object) -> BinaryIO:
    """``f`` (a buffered file just opened for reading, nothing read yet) as a file whose read
    errors are TransportErrors naming ``path`` (:class:`_NamedReadErrors`)."""
    raw = f.detach() if isinstance(f, io.BufferedReader) else f
    return io.BufferedReader(_NamedReadErrors(raw, path, what, owner))  # type: ignore[return-value]


def open_inside(path: str, root: str, what: str, owner: object, *, digest: Digest | None = None,
                size: int = -1) -> BinaryIO:
    """Open a file of an image directory (``dir:``, ``oci:``) for reading, refusing what would let
    a hostile directory read a file of the user's elsewhere.

    The directory is untrusted: a manifest, index or signature that is a symlink to a file of
    the user's (``/etc/passwd``, a private key) would otherwise be read and copied to the
    destination. Such files, not named by their content, must really be inside ``root``.
    A content-addressed file (``digest`` given: a blob, a manifest by digest) may lead out
    of it, as layouts built with symlinks into a cache do (Bazel's, skopeo follows them), but
    only if its whole content matches ``digest`` (and ``size``) *before* any byte is handed
    on: a registry destination would otherwise receive the first bytes of that file before
    the digest check at the end of the stream fails. Symlinks inside ``root`` are followed;
    FIFOs, devices and directories are refused (:func:`~trustcopy.fsutil.open_regular_file`).

    Raises:
        ImageNotFoundError / TransportError: missing, not a regular file, or outside ``root``
            without matching ``digest`` (code ``archive-unsafe-link``, naming the file and
            where it leads).
    """
    f = reading_named(open_regular_file(path, what), path, what, owner)
    try:
        real = _opened_path(f, path)
        top = os.path.realpath(root)
        if real != top and not real.startswith(top.rstrip("/") + "/"):
            if digest is None or not _content_matches(f, digest, size):
                why = "" if digest is None else " and its content is not " + str(digest)
                raise TransportError(
                    f"{owner}: {what} {path} leads out of {root} (to {real}){why}; refusing to read it",
                    code="archive-unsafe-link",
                    context={"path": path},
                    hint="files of an image directory must stay inside it; only a blob whose content matches "
                         "its digest may be a symlink to elsewhere",
                )
            f.seek(0)
    except BaseException:
        f.close()
        raise
    return f


def _content_matches(f: BinaryIO, digest: Digest, size: int) -> bool:
    """Whether all of ``f`` hashes to ``digest`` (and is ``size`` bytes, when known); reads it once."""
    hasher, total = digest.hasher(), 0
    while chunk := f.read(_COPY_CHUNK):
        total += len(chunk)
        if 0 <= size < total:
            return False
        hasher.update(chunk)
    return (size < 0 or total == size) and hasher.hexdigest() == digest.encoded


def store_blob(
    stream: BinaryIO,
    staging_dir: str,
    final_path: Callable[[Digest], str],
    *,
    expected: Digest | None,
    expected_size: int = -1,
    media_type: str | None = None,
) -> BlobInfo:
    """Stream into staging, verify, then rename to ``final_path(digest)``.

    Args:
        stream: the (untrusted) bytes.
        staging_dir: where the temporary file is created (same filesystem as the final path).
        final_path: maps the verified digest to the blob's path.
        expected: the digest the bytes must have, or None to compute it (new blobs,
            e.g. freshly compressed layers).
        expected_size: the size they must have, -1 when unknown.

    Returns:
        The stored blob's digest and size.

    Raises:
        DigestMismatchError: the bytes do not match ``expected``/``expected_size``.
        TransportError: the staging directory cannot be written (``destination-unwritable``:
            a full disk, a quota, EIO), naming it. The stream's own failures propagate as they are.
    """
    what = f"blob {expected}" if expected is not None else "new blob"
    reader: DigestingReader
    if (isinstance(stream, DigestingReader) and expected is not None and stream.expected == expected
            and stream.bytes_read == 0):
        reader = stream  # the copy pipeline already verifies these bytes: hashing twice only costs CPU
        if expected_size >= 0 and reader.expected_size is None:
            reader.expected_size = expected_size
    else:
        reader = DigestingReader(stream, expected, expected_size=expected_size, what=what)
    # Why the writes are told apart from the reads: a full disk (ENOSPC) is the destination's
    # failure, reported as such (a TransportError naming the directory, which a ``sync`` records
    # for that image and goes on), while the reader's errors keep their own kind.
    import tempfile  # here: a command that only reads a layout never loads it (start-up, issue 14)

    try:
        fd, tmp = tempfile.mkstemp(prefix=".put-", dir=staging_dir)
    except OSError as exc:
        raise _unwritable(staging_dir, what, exc) from exc
    try:
        out = os.fdopen(fd, "wb")
        try:
            while chunk := reader.read(_COPY_CHUNK):
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _unwritable(staging_dir, what, exc) from exc
            digest = reader.verify()
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _unwritable(staging_dir, what, exc) from exc
        finally:
            # Not ``with``: after a failed write, close() flushes the rest again and its OSError
            # would replace the error above. The file is discarded then; after fsync, close writes nothing.
            with contextlib.suppress(OSError):
                out.close()
        final = final_path(digest)
        try:
            os.chmod(tmp, 0o644)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)
        except OSError as exc:
            raise _unwritable(staging_dir, what, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return BlobInfo(digest=digest, size=reader.bytes_read, media_type=media_type)


def _unwritable(staging_dir: str, what: str, exc: OSError) -> TransportError:
    return TransportError(f"cannot write {what} in {staging_dir}: {exc.strerror or exc}",
                          code="destination-unwritable", context={"path": staging_dir})


class StagingBlobWriter(abc.ABC):
    """Destination mixin: ``put_blob``/``put_new_blob`` into ``self._staging``, verified before named.

    The file destinations differ only in where a verified blob lives (``dir:`` names it by
    its hex digest, ``oci:`` under ``blobs/ALG/HEX``) and in what they remember about it.
    """

    _staging: str

    @abc.abstractmethod
    def _staged_blob_path(self, digest: Digest) -> str:
        """Where the verified blob with ``digest`` goes inside the staging directory."""

    @abc.abstractmethod
    def _blob_stored(self, info: BlobInfo) -> None:
        """A blob was verified and named: remember what commit needs (if anything)."""

    def put_blob(self, stream: BinaryIO, info: BlobInfo, *, is_config: bool = False) -> BlobInfo:
        """Stream into staging, verify digest (and size when known), then name it."""
        return self._store(stream, info.digest, info.size, info.media_type)

    def put_new_blob(self, stream: BinaryIO, *, media_type: str | None = None, is_config: bool = False) -> BlobInfo:
        """Store bytes whose digest is computed while writing (e.g. just compressed): one pass."""
        return self._store(stream, None, -1, media_type)

    def _store(self, stream: BinaryIO, digest: Digest | None, size: int, media_type: str | None) -> BlobInfo:
        stored = store_blob(stream, self._staging, self._staged_blob_path, expected=digest, expected_size=size,
                            media_type=media_type)
        self._blob_stored(stored)
        return stored
