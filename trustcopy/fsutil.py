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
import shutil
import stat
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from trustcopy.errors import InvalidReferenceError, TransportError

STAGING_PREFIX = ".trustcopy-staging-"


def resolve_path_to_fully_explicit(path: str) -> str:
    """Absolute, symlink-free form of ``path`` (which may not exist yet).

    A missing path is allowed only when its parent exists, like containers/image;
    this keeps a typo in a parent from silently creating a tree elsewhere.

    Raises:
        InvalidReferenceError: the path (or, for a new path, its parent) cannot be resolved.
    """
    if not path:
        raise InvalidReferenceError("empty path", code="invalid-path")
    try:
        os.lstat(path)
    except FileNotFoundError:
        parent, name = os.path.split(path)
        if name in ("", ".", ".."):
            raise InvalidReferenceError(f"cannot resolve path {path!r}", code="invalid-path") from None
        parent = parent or "."
        if not os.path.isdir(parent):
            raise InvalidReferenceError(
                f"cannot resolve path {path!r}: parent directory {parent!r} does not exist",
                code="invalid-path",
            ) from None
        return os.path.join(os.path.realpath(os.path.abspath(parent)), name)
    except OSError as exc:
        raise InvalidReferenceError(f"cannot resolve path {path!r}: {exc.strerror}", code="invalid-path") from exc
    return os.path.realpath(os.path.abspath(path))


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


def make_staging_dir(target: str) -> str:
    """Create a hidden staging directory beside ``target`` (same filesystem)."""
    parent = os.path.dirname(os.path.abspath(target)) or "."
    base = os.path.basename(os.path.abspath(target)) or "image"
    try:
        return tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{base}-", dir=parent)
    except OSError as exc:
        raise TransportError(
            f"cannot create a staging directory in {parent}: {exc.strerror}", code="destination-unwritable"
        ) from exc


def remove_tree(path: str) -> None:
    """Remove a tree we created; never follow symlinks out of it."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
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
        os.rename(staged, target)
        return
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


def write_file_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temporary in the same directory and rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def is_dir_empty(path: str) -> bool:
    """True when ``path`` is a directory with no entries."""
    with os.scandir(path) as it:
        return next(it, None) is None


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

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
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
