"""Review of the user-named output files (write_user_file, user_file_problem), the iterative
``sync --src dir`` walk, the always-installed masking exception hooks and the bz2/xz input pacing.

Each test names what it found (or guards against) in a comment; the write tests use real files,
pipes and a real unprivileged user where permissions matter (no monkeypatched EACCES).
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import signal
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trustcopy.compression import Algorithm, CorruptDataError, DecompressingStream
from trustcopy.errors import TransportError
from trustcopy.fsutil import user_file_problem, write_user_file
from trustcopy.sync.plan import _image_dirs

# -- write_user_file: atomic where the file is an ordinary file ---------------------------------------------------


@pytest.fixture
def shm_file() -> Iterator[Path]:
    """A regular file in /dev/shm (a tmpfs: staging files and renames work there as anywhere)."""
    if not os.access("/dev/shm", os.W_OK):  # pragma: no cover - every Linux CI image has it
        pytest.fail("/dev/shm is not writable here")
    path = Path("/dev/shm") / f"trustcopy-review-s25-{os.getpid()}"
    path.write_bytes(b"old digest\n")
    yield path
    path.unlink(missing_ok=True)


def test_regular_file_in_dev_shm_is_replaced_atomically(shm_file: Path) -> None:
    # Found: every regular file below /dev was written in place (O_TRUNC then write), so a
    # --digestfile in /dev/shm lost the atomic replacement: a reader holding the old file saw it
    # truncated and rewritten. /dev/stdout (a link into /proc) is what must be written in place.
    with open(shm_file, "rb") as reader:
        write_user_file(str(shm_file), b"new digest\n")
        assert reader.read() == b"old digest\n"  # the old file, untouched: replaced, not rewritten
    assert shm_file.read_bytes() == b"new digest\n"
    assert not [p for p in os.listdir("/dev/shm") if p.startswith(".trustcopy-staging-")]


def test_regular_file_reached_through_proc_fd_is_written_in_place(tmp_path: Path) -> None:
    # The case the in-place rule is for: /dev/stdout redirected to a file (``> out``). Replacing
    # the file would leave the shell's descriptor on the unlinked old one.
    out = tmp_path / "out"
    script = ("import sys; from trustcopy.fsutil import write_user_file; "
              "print('before', flush=True); write_user_file('/dev/stdout', b'digest\\n')")
    with open(out, "wb") as f:
        r = subprocess.run([sys.executable, "-c", script], stdout=f, stderr=subprocess.PIPE, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"digest\n"  # O_TRUNC through the link, as os.WriteFile (skopeo)


def test_parent_reached_through_a_symlink_to_proc_is_written_in_place(tmp_path: Path) -> None:
    fds = tmp_path / "fds"
    fds.symlink_to("/proc/self/fd")
    r, w = os.pipe()
    try:
        write_user_file(str(fds / str(w)), b"through a pipe\n")
        assert os.read(r, 100) == b"through a pipe\n"
    finally:
        os.close(r)
        os.close(w)


def _write_as_user(path: Path) -> int:
    """write_user_file(path) in a forked child running as an unprivileged user (root ignores
    file modes): 0 written, 3 PermissionError, 4 anything else."""
    import select  # noqa: F401 - what the write imports lazily, loaded before the child drops root
    import time  # noqa: F401

    import trustcopy.limits  # noqa: F401

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 4
        try:
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            write_user_file(str(path), b"new\n")
            status = 0
        except PermissionError:
            status = 3
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged user may reach and write (pytest's own tmp is private to root)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="trustcopy-review-s25-", dir="/tmp"))
    base.chmod(0o755)
    d = base / "shared"
    d.mkdir()
    d.chmod(0o777)
    yield d
    shutil.rmtree(base)


def test_read_only_existing_file_is_refused_as_skopeo_refuses_it(shared_dir: Path) -> None:
    # Found: a file the user made read-only (0444) was replaced through a staging file and a
    # rename (the directory is writable), where skopeo's os.WriteFile, cp and a shell's ">"
    # fail with EACCES: the user's protection was silently defeated.
    target = shared_dir / "digest"
    target.write_bytes(b"protected\n")
    if os.getuid() == 0:
        os.chown(target, 65534, 65534)  # the user's own file, made read-only
    target.chmod(0o444)
    assert _write_as_user(target) == 3
    assert target.read_bytes() == b"protected\n"
    assert [p.name for p in shared_dir.iterdir()] == ["digest"]  # no staging file left behind


def test_writable_file_in_an_unwritable_directory_is_written_in_place(shared_dir: Path) -> None:
    target = shared_dir / "digest"
    target.write_bytes(b"old\n")
    target.chmod(0o666)
    shared_dir.chmod(0o755)  # (owned by root here: the user may not add a staging file)
    assert _write_as_user(target) == 0
    assert target.read_bytes() == b"new\n"


def test_dev_full_is_a_named_os_error() -> None:
    with pytest.raises(OSError) as info:
        write_user_file("/dev/full", b"x\n")
    assert info.value.errno == 28  # ENOSPC, which the callers name


def test_pipe_whose_reader_went_away_is_an_os_error_not_a_signal(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(r)
    try:
        with pytest.raises(BrokenPipeError):
            write_user_file(f"/proc/self/fd/{w}", b"x\n")
    finally:
        os.close(w)


# -- user_file_problem: only what the kernel would refuse ---------------------------------------------------------


def test_parent_through_a_symlink_then_dotdot_is_resolved_as_the_kernel_does(tmp_path: Path) -> None:
    # Found: the path was normalised lexically (os.path.abspath) before the checks, so
    # ``link/../sub/file`` looked for ./sub where the kernel (and skopeo) use <target's parent>/sub:
    # a writable --digestfile was refused before the copy, and the reverse passed the check.
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "real" / "sub").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(tmp_path / "real" / "deep")
    path = str(tmp_path / "work" / "link" / ".." / "sub" / "digest")
    assert user_file_problem(path) is None
    write_user_file(path, b"d\n")
    assert (tmp_path / "real" / "sub" / "digest").read_bytes() == b"d\n"
    # ... and one whose real parent is missing is refused, though the lexical one exists.
    (tmp_path / "work" / "sub2").mkdir()
    assert "does not exist" in str(user_file_problem(str(tmp_path / "work" / "link" / ".." / "sub2" / "digest")))


@pytest.mark.parametrize("case", ["symlink-to-dir-then-file", "dangling-link-target-dir-exists", "relative"])
def test_paths_skopeo_accepts_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    (tmp_path / "real").mkdir()
    monkeypatch.chdir(tmp_path)
    if case == "symlink-to-dir-then-file":
        (tmp_path / "link").symlink_to(tmp_path / "real")
        path, lands = str(tmp_path / "link" / "digest"), tmp_path / "real" / "digest"
    elif case == "dangling-link-target-dir-exists":
        (tmp_path / "digest").symlink_to(tmp_path / "real" / "new")
        path, lands = str(tmp_path / "digest"), tmp_path / "real" / "new"
    else:
        path, lands = "real/digest", tmp_path / "real" / "digest"
    assert user_file_problem(path) is None
    write_user_file(path, b"d\n")
    assert lands.read_bytes() == b"d\n"


@pytest.mark.parametrize("case", ["directory", "through-a-file", "loop", "missing-parent"])
def test_paths_that_cannot_be_written_are_named(tmp_path: Path, case: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    path = {"directory": tmp_path, "through-a-file": tmp_path / "file" / "digest", "loop": tmp_path / "loop",
            "missing-parent": tmp_path / "none" / "digest"}[case]
    assert user_file_problem(str(path))


# -- sync --src dir: the iterative walk finds what os.walk found, in the same order -------------------------------


def _os_walk_reference(base: str) -> list[str]:
    """What the replaced code found (os.walk, sorted, pruned below an image)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        if "manifest.json" in filenames:
            found.append(dirpath)
            dirnames.clear()
    return found


def test_iterative_walk_matches_os_walk_on_a_tricky_tree(tmp_path: Path) -> None:
    def image(d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").write_text("{}")

    for name in ["b/app", "a/z", "a/B", "a/b/inner", "c", "Z", "é", "a/b/inner/below"]:
        image(tmp_path / name)
    (tmp_path / "d" / "manifest.json").mkdir(parents=True)  # a directory named manifest.json
    image(tmp_path / "d" / "manifest.json" / "img")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "manifest.json").symlink_to(tmp_path / "c" / "manifest.json")  # a link to a file: an image
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "manifest.json").symlink_to(tmp_path / "nowhere")  # dangling: as os.walk, an image
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "loop").symlink_to(tmp_path / "g")  # a loop: never followed
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "manifest.json").symlink_to(tmp_path / "a")  # a link to a directory: not an image
    (tmp_path / "linked").symlink_to(tmp_path / "b")  # a link to a directory of images: not followed

    def fail(exc: OSError) -> None:
        raise exc

    assert list(_image_dirs(str(tmp_path), fail)) == _os_walk_reference(str(tmp_path))


def test_iterative_walk_reports_an_unreadable_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "img").mkdir(parents=True)
    (tmp_path / "b" / "img" / "manifest.json").write_text("{}")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:  # root reads every directory: EACCES simulated for one
        if str(path) == str(tmp_path / "a"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    seen: list[OSError] = []
    assert list(_image_dirs(str(tmp_path), seen.append)) == [str(tmp_path / "b" / "img")]
    assert [e.filename for e in seen] == [str(tmp_path / "a")]
    from trustcopy.sync.plan import dir_entries
    from trustcopy.types import SystemContext

    (entry,) = dir_entries(str(tmp_path), SystemContext())
    with pytest.raises(TransportError, match=f"{tmp_path / 'a'}: Permission denied"):
        entry.resolve()


# -- the masking exception hooks and an in-process host --------------------------------------------------------------


def test_main_keeps_a_host_programs_own_exception_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found: main() (the in-process entry: "code that goes on afterwards calls main") replaced
    # sys.excepthook and threading.excepthook on every call, for the rest of the host's life:
    # a host's own hooks (error reporting, pytest's thread-exception capture) were lost.
    from trustcopy.cli.main import main

    def host_hook(*args: Any) -> None:
        pass

    def host_thread_hook(args: Any) -> None:
        pass

    monkeypatch.setattr(sys, "excepthook", host_hook)
    monkeypatch.setattr(threading, "excepthook", host_thread_hook)
    assert main(["policy", "--help"]) == 0
    assert sys.excepthook is host_hook and threading.excepthook is host_thread_hook


def test_the_process_entry_point_masks_with_default_hooks(tmp_path: Path) -> None:
    # The console script starts with Python's own hooks: both are replaced by masking ones.
    script = ("import sys, threading\nfrom trustcopy.cli.main import main\nmain(['policy', '--help'])\n"
              "print(getattr(sys.excepthook, '_trustcopy_scrubbing', False), "
              "threading.excepthook is not threading.__excepthook__)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "True True"


def test_thread_hook_ignores_system_exit_and_survives_a_closed_stderr() -> None:
    script = ("import sys, threading\nfrom trustcopy.cli.main import _install_scrubbing_excepthook\n"
              "_install_scrubbing_excepthook()\n"
              "def exits(): raise SystemExit(3)\n"
              "t = threading.Thread(target=exits); t.start(); t.join()\n"
              "print('after SystemExit', flush=True)\n"
              "def boom(): raise KeyboardInterrupt\n"
              "t = threading.Thread(target=boom, name='kb'); t.start(); t.join()\n"
              "sys.stderr.close()\n"
              "t = threading.Thread(target=boom); t.start(); t.join()\n"
              "print('alive', flush=True)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "after SystemExit\nalive\n"
    assert "SystemExit" not in r.stderr
    assert "Exception in thread kb" in r.stderr and "KeyboardInterrupt" in r.stderr


# -- decompression: input taken only when needed, never a loop without progress -------------------------------------


class _Trickle(io.RawIOBase):
    """A stream answering at most ``step`` bytes per read (a slow registry)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


COMPRESSORS = {Algorithm.BZIP2: bz2.compress, Algorithm.XZ: lzma.compress, Algorithm.GZIP: _gzip}


@pytest.fixture
def alarm() -> Iterator[None]:
    """A hang (a loop that takes no input and yields no output) fails instead of blocking the suite."""
    def timeout(*_: object) -> None:
        raise TimeoutError("decompression made no progress")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _drain(stream: DecompressingStream, size: int) -> bytes:
    out = bytearray()
    while chunk := stream.read(size):
        assert len(chunk) <= size
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("algorithm", list(COMPRESSORS))
def test_members_read_in_tiny_pieces_and_tiny_outputs(alarm: None, algorithm: Algorithm) -> None:
    payload = bytes(range(256)) * 40 + b"\0" * 5000
    blob = COMPRESSORS[algorithm](payload) + COMPRESSORS[algorithm](b"second member")
    for step, size in [(1, 1), (1, 7), (3, 4096), (4096, 1), (len(blob), 3)]:
        stream = DecompressingStream(_Trickle(blob, step), algorithm, what="layer")
        assert _drain(stream, size) == payload + b"second member", (step, size)


@pytest.mark.parametrize("algorithm", list(COMPRESSORS))
def test_every_truncation_is_named(alarm: None, algorithm: Algorithm) -> None:
    blob = COMPRESSORS[algorithm](bytes(range(256)) * 8)
    for cut in range(1, len(blob)):
        stream = DecompressingStream(_Trickle(blob[:cut], 5), algorithm, what="layer")
        with pytest.raises(CorruptDataError, match="layer"):
            _drain(stream, 17)
