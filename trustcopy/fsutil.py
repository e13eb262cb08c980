"""Filesystem helpers that keep destinations consistent.

Invariants:
- Nothing a destination writes is visible under its final name before commit. Writers
  stage into a hidden sibling directory (same filesystem, so renames are atomic) and
  move things into place last.
- Paths are resolved the way containers/image's ``explicitfilepath`` does, so that
  policy scopes see absolute, symlink-free paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from typing import BinaryIO

from trustcopy.errors import InvalidReferenceError, TransportError

STAGING_PREFIX = ".trustcopy-staging-"


def _resolve_existing(path: str, shown: str, what: str = "") -> str:
    """containers/image's resolveExistingPathToFullyExplicit: clean lexically, then resolve links.

    The path must exist (after the lexical clean, as Go's ``filepath.Abs``): a dangling or
    looping symbolic link has no resolved form, and a non-strict resolution would name the
    link's missing target, a place the image is not written to. NOTE(go-diff): unlike Go's EvalSymlinks, a
    /proc "magic" link the kernel can open (``/dev/stdin`` to a pipe, whose text is
    ``pipe:[N]``) is kept: archives are read from pipes.
    """
    absolute = os.path.abspath(path)
    try:
        os.stat(absolute)
    except OSError as exc:
        raise InvalidReferenceError(f"cannot resolve path {shown!r}: {what}{exc.strerror}",
                                    code="invalid-path") from exc
    return os.path.realpath(absolute)


def resolve_path_to_fully_explicit(path: str) -> str:
    """Absolute, symlink-free form of ``path`` (which may not exist yet), as containers/image's explicitfilepath.

    A missing path is allowed only when its parent exists, like containers/image;
    this keeps a typo in a parent from silently creating a tree elsewhere. As there, the
    parent is the text before the last ``/``, cleaned lexically before it is resolved.

    Raises:
        InvalidReferenceError: the path (or, for a new path, its parent) cannot be resolved.
    """
    if not path:
        raise InvalidReferenceError("empty path", code="invalid-path")
    try:
        os.lstat(path)
    except FileNotFoundError:
        cut = path.rfind("/") + 1
        parent, name = path[:cut], path[cut:]
        resolved_parent = _resolve_existing(parent, path, f"parent directory {parent or '.'!r}: ")
        if name in (".", ".."):
            raise InvalidReferenceError(f"cannot resolve path {path!r}", code="invalid-path") from None
        return os.path.join(resolved_parent, name) if name else resolved_parent
    except OSError as exc:
        raise InvalidReferenceError(f"cannot resolve path {path!r}: {exc.strerror}", code="invalid-path") from exc
    except ValueError as exc:  # a NUL byte: the kernel's EINVAL, as containers/image gets it
        raise InvalidReferenceError(f"cannot resolve path {path!r}: invalid argument", code="invalid-path") from exc
    return _resolve_existing(path, path)


def parent_namespaces(resolved: str, *, include_self: bool) -> list[str]:
    """Each parent directory of an absolute path, most specific first, never "/"."""
    out: list[str] = []
    cur = resolved
    if include_self and cur != "/":
        out.append(cur)
    while True:
        idx = cur.rfind("/")
        if idx <= 0:
            break
        cur = cur[:idx]
        out.append(cur)
    return out


def validate_path_scope(scope: str) -> None:
    """Policy scope rule shared by path-based transports (dir:, oci:, archives).

    Raises:
        ValueError: not absolute, "/" (use "" instead), or not in canonical form.
    """
    if not scope.startswith("/"):
        raise ValueError(f"invalid scope {scope!r}: must be an absolute path")
    if scope == "/":
        raise ValueError('invalid scope "/": use the transport default scope "" instead')
    cleaned = os.path.normpath(scope)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned != scope:
        raise ValueError(f"invalid scope {scope!r}: not in canonical form, perhaps {cleaned!r}")


class Staging:
    """A staging directory or file, and the lock that tells other processes it is in use.

    Why: a copy ended by ``kill -9`` (or a power cut) cannot remove its staging, and an
    image's worth of hidden data would stay beside the destination for good. So each
    staging entry is held with an exclusive ``flock`` for as long as its copy may use it,
    and the next copy to the same destination removes the entries nobody holds (the
    kernel drops a dead process's locks). Release only once the entry is gone or renamed
    into place, never before: an unlocked staging entry is garbage to every other process.
    """

    __slots__ = ("_lock_fd", "path")

    def __init__(self, path: str, lock_fd: int | None) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def release(self) -> None:
        """Drop the lock (idempotent); after a commit it is the destination's inode that was locked."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)


#: tempfile's random part of a name: 8 characters of this alphabet.
_TEMP_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_TEMP_NAME_LENGTH = 8


def _try_lock(path: str, *, directory: bool) -> int | None:
    """An fd on ``path`` holding an exclusive flock, or None when another open file holds it.

    Raises:
        OSError: ``path`` cannot be opened, or the filesystem cannot lock (``ENOLCK``,
            ``EOPNOTSUPP``, NFS without write access, …).
    """
    import fcntl

    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _staging_names(target: str, inside: bool = False) -> tuple[str, str]:
    """(directory, name prefix) of ``target``'s staging entries: beside it, or ``inside`` it."""
    absolute = os.path.abspath(target)
    parent = absolute if inside else (os.path.dirname(absolute) or ".")
    base = os.path.basename(absolute) or "image"
    return parent, f"{STAGING_PREFIX}{base}-"


def stages_inside(target: str) -> bool:
    """Whether ``target`` is a directory on another filesystem than its parent directory.

    A mount point (``docker run -v "$PWD/out:/out"``, then ``dir:/out``) or a btrfs
    subvolume: staging beside it could not be renamed into it (``EXDEV``), nor renamed
    over it (``EBUSY``), and its parent may even be read-only. Such a destination stages
    in a hidden directory inside itself, and its contents are replaced at commit.
    """
    absolute = os.path.abspath(target)
    try:
        st = os.stat(absolute)
        if not stat.S_ISDIR(st.st_mode):
            return False
        return st.st_dev != os.stat(os.path.dirname(absolute) or ".").st_dev
    except OSError:
        return False


def is_staging_name(name: str) -> bool:
    """A hidden staging entry: not part of the image in a directory that stages inside itself."""
    return name.startswith(STAGING_PREFIX)


def reclaim_abandoned_staging(target: str, *, inside: bool = False) -> list[str]:
    """Remove the staging entries beside ``target`` that no running copy holds; return their paths.

    Best effort, and careful: only entries named exactly as this module names ``target``'s
    (prefix and tempfile's 8 random characters), owned by this user, a directory or a
    regular file (never a symlink), and whose lock this process could take: a live copy
    holds its own, and a creator that loses its fresh entry to us takes another
    (:func:`_create_staging`). Anything that fails is left where it is.
    """
    parent, prefix = _staging_names(target, inside)
    removed: list[str] = []
    try:
        with os.scandir(parent) as entries:
            candidates = [e.path for e in entries
                          if e.name.startswith(prefix) and len(e.name) == len(prefix) + _TEMP_NAME_LENGTH
                          and set(e.name[len(prefix):]) <= _TEMP_NAME_CHARS]
    except OSError:
        return removed
    uid = os.geteuid()
    for path in candidates:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            is_dir = stat.S_ISDIR(st.st_mode)
            if st.st_uid != uid or not (is_dir or stat.S_ISREG(st.st_mode)):
                continue
            fd = _try_lock(path, directory=is_dir)
            if fd is None:
                continue  # a running copy's
            try:
                held, now = os.fstat(fd), os.lstat(path)
                if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
                    continue  # renamed or replaced meanwhile: not the entry we locked
                if is_dir:
                    import shutil

                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                removed.append(path)
            finally:
                os.close(fd)
    if removed:
        import logging

        logging.getLogger("trustcopy.fsutil").info(
            "removed %s, left beside %s by an interrupted copy", ", ".join(removed), target)
    return removed


def _still_named(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open on ``fd`` (not removed or replaced since it was opened)."""
    try:
        held, now = os.fstat(fd), os.lstat(path)
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _create_staging(target: str, make: Callable[[str, str], str], *, directory: bool,
                    inside: bool = False) -> Staging:
    """Reclaim abandoned entries, then make and lock a fresh one (see :class:`Staging`)."""
    reclaim_abandoned_staging(target, inside=inside)
    parent, prefix = _staging_names(target, inside)
    while True:
        path = make(prefix, parent)
        try:
            fd = _try_lock(path, directory=directory)
        except FileNotFoundError:
            continue  # a concurrent reclaim locked and removed it first
        except OSError:
            return Staging(path, None)  # no locks here (nor for anyone who would reclaim it)
        if fd is not None:
            if _still_named(fd, path):
                return Staging(path, fd)
            # We opened it just before a concurrent reclaim unlinked it, and locked it once that
            # reclaim let go: the lock is on an inode no name leads to any more. Take a new name.
            os.close(fd)
            continue
        # Another process's reclaim locked it between its creation and our lock: it is
        # removing it. Take a new name.


def make_staging_dir(target: str, *, inside: bool = False) -> Staging:
    """Create a hidden, locked staging directory beside ``target``, or ``inside`` it (same filesystem)."""
    import tempfile  # (here, as shutil below: a command that writes nothing never loads them, issue 14)

    try:
        return _create_staging(target, lambda prefix, parent: tempfile.mkdtemp(prefix=prefix, dir=parent),
                               directory=True, inside=inside)
    except OSError as exc:
        parent = _staging_names(target, inside)[0]
        raise TransportError(
            f"cannot create a staging directory in {parent}: {exc.strerror}", code="destination-unwritable"
        ) from exc


def make_staging_file(target: str) -> tuple[Staging, int]:
    """Create a hidden, locked staging file beside ``target``; return it and a read-write fd on it."""
    import tempfile

    fds: list[int] = []

    def make(prefix: str, parent: str) -> str:
        fd, path = tempfile.mkstemp(prefix=prefix, dir=parent)
        fds.append(fd)
        return path

    try:
        staging = _create_staging(target, make, directory=False)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    for fd in fds[:-1]:
        os.close(fd)  # entries lost to a concurrent reclaim
    return staging, fds[-1]


def remove_tree(path: str) -> None:
    """Remove a tree we created; never follow symlinks out of it."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            import shutil

            shutil.rmtree(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2_exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2). False when unsupported."""
    import ctypes  # only on this path: ctypes costs start-up time every copy would pay

    try:
        # The running program's own symbols include libc's; no ldconfig lookup needed.
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP if hasattr(errno, "ENOTSUP") else errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), a)


def replace_directory(staged: str, target: str) -> None:
    """Put the directory ``staged`` at ``target``, replacing an existing directory.

    Uses an atomic exchange where the kernel offers it, so that ``target`` is never
    missing; otherwise two renames with the smallest possible gap.
    """
    if not os.path.lexists(target):
        try:
            os.rename(staged, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # Another copy put its image there meanwhile: replace it, as if it had been there.
    if _renameat2_exchange(staged, target):
        remove_tree(staged)  # now holds the old content
        return
    old = staged + ".old"
    os.rename(target, old)
    try:
        os.rename(staged, target)
    except OSError:
        os.rename(old, target)
        raise
    remove_tree(old)


def replace_contents(staged: str, target: str, *, last: str) -> None:
    """Replace the image in directory ``target`` with the one in ``staged``, a staging directory inside it.

    For a destination that cannot be swapped as a whole (:func:`stages_inside`). Not
    atomic, so ordered for an interruption: ``last`` (the entry that makes the image
    readable, a manifest) is removed first and put in place last, so an interrupted
    replacement is an unreadable directory, never a mix of two images; entries of both
    images (``version``) are replaced in one rename each, never missing. Other staging
    entries are left to their owners.
    """
    incoming = set(os.listdir(staged))
    remove_tree(os.path.join(target, last))
    for name in os.listdir(target):
        if name not in incoming and not is_staging_name(name):
            remove_tree(os.path.join(target, name))
    for name in sorted(incoming - {last}):
        destination = os.path.join(target, name)
        if os.path.isdir(destination) and not os.path.islink(destination):
            remove_tree(destination)  # a directory cannot be renamed over
        os.replace(os.path.join(staged, name), destination)
    if last in incoming:
        os.replace(os.path.join(staged, last), os.path.join(target, last))
    os.rmdir(staged)


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``os.umask`` sets it
    while reading, a race with threads creating files). Files renamed into place are created
    0600 by tempfile; their final mode must still honour the umask, as containers/image's do."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file_atomic(path: str, data: bytes, mode: int = 0o644, *, temp_dir: str | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename.

    The temporary is made in ``temp_dir`` (a staging directory: what a ``kill -9`` leaves
    there is reclaimed with it) or, by default or when that directory turns out to be on
    another filesystem, beside ``path`` as a locked staging file (:class:`Staging`), so
    that one left by a ``kill -9`` (in a signature store, beside a ``--digestfile``) is
    removed by the next write of the same file.
    """
    _replace_atomically(path, lambda f: f.write(data), mode, temp_dir)


def copy_file_atomic(source: str, path: str, mode: int = 0o644) -> None:
    """Copy the file ``source`` to ``path`` (another filesystem, say) as :func:`write_file_atomic`
    writes: streamed into a locked staging file beside ``path``, renamed over it once flushed,
    so that no reader ever sees part of it."""
    import shutil

    with open(source, "rb") as src:
        _replace_atomically(path, lambda f: shutil.copyfileobj(src, f, 1 << 20), mode, None)


def _replace_atomically(path: str, write: Callable[[BinaryIO], object], mode: int, temp_dir: str | None) -> None:
    staging: Staging | None = None
    if temp_dir is not None:
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=temp_dir)
    else:
        staging, fd = make_staging_file(path)
        tmp = staging.path
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if temp_dir is None or exc.errno != errno.EXDEV:
            raise
        _replace_atomically(path, write, mode, None)  # the staging directory is on another filesystem
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if staging is not None:
            staging.release()


def names_a_device_or_proc_file(path: str) -> bool:
    """Whether ``path`` leads through ``/proc`` (``/dev/stdout``, ``/dev/fd/63`` of ``>(cmd)``,
    ``/proc/self/fd/1``): a descriptor's link, which must be written in place.

    No staging file can be made beside such a name, and replacing what it leads to (a file the
    shell opened for ``> out``) would leave the descriptor on the unlinked old file. A plain
    regular file elsewhere in ``/dev`` (``/dev/shm``, a tmpfs) is replaced atomically as anywhere.
    Symlinks are followed as the kernel follows them (``link/..`` is the target's parent).
    """
    special = "/proc/"
    current = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    for _ in range(40):  # the kernel's limit on links followed
        parent = os.path.realpath(os.path.dirname(current))
        if (parent + "/").startswith(special):
            return True
        try:
            target = os.readlink(os.path.join(parent, os.path.basename(current)))
        except OSError:
            return False
        current = target if os.path.isabs(target) else os.path.join(parent, target)
    return False


def open_for_writing_in_place(path: str, *, truncate: bool, fifo: bool) -> int:
    """A non-blocking descriptor open for writing on the existing ``path`` (a pipe, a device).

    A named pipe with no reader yet fails ``open`` (``ENXIO``) and is retried until one comes,
    at most :data:`~trustcopy.limits.FIFO_WRITER_WAIT_SECONDS`; a blocking ``open`` (skopeo's)
    would wait for ever for a reader that never comes.

    Raises:
        OSError: cannot open; ``TimeoutError`` when no reader came.
    """
    import time

    from trustcopy.limits import FIFO_WRITER_WAIT_SECONDS

    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
    deadline = time.monotonic() + FIFO_WRITER_WAIT_SECONDS
    while True:
        try:
            return os.open(path, flags)
        except OSError as exc:
            if exc.errno != errno.ENXIO or not fifo:
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, f"no process opened the pipe for reading within "
                                                    f"{FIFO_WRITER_WAIT_SECONDS:g} seconds") from None
            time.sleep(0.05)


def _write_in_place(path: str, data: bytes, *, truncate: bool, fifo: bool) -> None:
    """Write ``data`` into the existing ``path`` (a pipe, a device, ``/dev/stdout``) through one open.

    A named pipe is opened without blocking: with no reader yet, ``open`` fails (``ENXIO``)
    and is retried until one comes, at most :data:`~trustcopy.limits.FIFO_WRITER_WAIT_SECONDS`;
    a reader that stops reading gets :data:`~trustcopy.limits.FIFO_STALL_SECONDS`. So a pipe
    that nobody reads fails in seconds, where ``os.WriteFile`` (skopeo) waits for ever.

    Raises:
        OSError: cannot open or write; ``TimeoutError`` when no reader came or it stalled.
    """
    import select

    from trustcopy.limits import FIFO_STALL_SECONDS

    fd = open_for_writing_in_place(path, truncate=truncate, fifo=fifo)
    try:
        view = memoryview(data)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                if not poller.poll(int(FIFO_STALL_SECONDS * 1000)):
                    raise TimeoutError(errno.ETIMEDOUT, f"the reader of the pipe took nothing for "
                                                        f"{FIFO_STALL_SECONDS:g} seconds") from None
    finally:
        os.close(fd)


def write_user_file(path: str, data: bytes) -> None:
    """Write an output file the user named (``--digestfile``, ``standalone-sign -o``) as skopeo
    writes it, but never leaving half a file.

    A regular file (or a new one) is replaced atomically (:func:`write_file_atomic`), through a
    symlink to where it leads, keeping its mode (``/dev/shm`` too); an existing file whose directory
    we may not write (no staging file fits there) is written in place, and one the user may not
    write is refused (as skopeo refuses it). A pipe or device (``>(cmd)``, a ``mkfifo`` a reader
    waits on, ``/dev/stdout``, ``/dev/null``) and anything reached through ``/proc`` (a descriptor's
    link) is written directly (:func:`_write_in_place`, bounded for a pipe nobody reads):
    replacing it would break the user's pipe or redirection.

    Raises:
        OSError: cannot be written (callers name ``path`` in their own error); ``TimeoutError``
            for a pipe that nobody reads.
    """
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and (not stat.S_ISREG(st.st_mode) or names_a_device_or_proc_file(path)):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        _write_in_place(path, data, truncate=stat.S_ISREG(st.st_mode), fifo=stat.S_ISFIFO(st.st_mode))
        return
    if st is not None:
        # A file the user made read-only is refused as os.WriteFile (skopeo), cp and ">" refuse
        # it (a rename in its writable directory would replace it all the same): the kernel is
        # asked by an open for writing that changes nothing (no O_TRUNC), so the error is its own.
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC))
    try:
        write_file_atomic(os.path.realpath(path), data, 0o644 if st is None else stat.S_IMODE(st.st_mode))
    except PermissionError:
        if st is None:
            raise
        _write_in_place(path, data, truncate=True, fifo=False)


def user_file_problem(path: str) -> str | None:
    """Why :func:`write_user_file` cannot write ``path`` at all, found before any work is done.

    A ``--digestfile`` that is a directory, or in a directory that does not exist, is refused
    before the copy (skopeo finds out after copying, and exits non-zero with the image copied);
    only what is certain now is reported: permissions and space may change until the write.
    """
    # The path as given, never normalised first: the kernel resolves ``link/..`` to the
    # link target's parent, where os.path.abspath would drop both.
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            return f"{path} is a directory"
    except FileNotFoundError:
        # A new file, or a dangling symlink: created where it leads, as skopeo does, so it is
        # the link target's directory that must exist (else the image is copied, then the
        # write fails).
        if os.path.islink(path):
            target = os.readlink(path)
            return user_file_problem(os.path.join(os.path.dirname(path), target))
    except OSError as exc:
        return exc.strerror or str(exc)  # a symlink loop, a path through a file
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        shown = parent if os.path.isabs(parent) else os.path.join(os.getcwd(), parent)
        return f"{shown} is not a directory" if os.path.lexists(parent) else f"its directory {shown} does not exist"
    return None


def big_files_dir(explicit: str | None = None) -> str:
    """Where a large temporary file goes: ``explicit`` (``--tmpdir``), else ``$TMPDIR``, else
    ``/var/tmp``, as containers/image chooses (``/tmp`` is often a small tmpfs); a system
    without ``/var/tmp`` (a minimal container) gets Python's usual temporary directory."""
    import tempfile

    chosen = explicit or tempfile.tempdir or os.environ.get("TMPDIR")
    if chosen:
        return chosen
    return "/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()


def fsync_dir(path: str) -> None:
    """Flush a directory entry so a rename survives a crash (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_regular_file(path: str, what: str) -> BinaryIO:
    """Open an existing file for reading, refusing FIFOs, devices and directories.

    Raises:
        TransportError: missing, not a regular file, or unreadable.
    """
    from trustcopy.errors import ImageNotFoundError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError as exc:
        raise ImageNotFoundError(f"{what} not found: {path}", context={"path": path}) from exc
    except OSError as exc:
        raise TransportError(f"cannot open {what} {path}: {exc.strerror}", context={"path": path}) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TransportError(
                f"{what} {path} is not a regular file", code="not-a-regular-file", context={"path": path}
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (main thread only; elsewhere a no-op).

    Creating a destination makes its staging directory or file; until the caller has
    registered it for cleanup (``ExitStack.enter_context``), an interruption would leave
    it behind. A signal arriving meanwhile is recorded, not lost: when the block ends the
    previous handler runs for it (KeyboardInterrupt, the CLI's termination), or, if the
    disposition was the default, the signal is sent again so the process ends as it would
    have. Handlers are swapped rather than masked because Python runs them in the main
    thread whichever thread the kernel delivers to.
    """
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def record(signum: int, _frame: object) -> None:
        pending.append(signum)

    # A handler installed outside Python (an embedding program's; getsignal answers None)
    # cannot be put back by signal.signal: such a signal is left alone, not deferred (it was
    # replaced, and restoring None raised TypeError, leaving ``record`` swallowing it for good).
    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not None}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(pending):
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
