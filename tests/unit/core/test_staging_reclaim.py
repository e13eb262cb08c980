"""Staging left by a copy that was killed is removed by the next copy; a live copy's never is.

The lock that tells the two apart is the kernel's (``flock``), so the tests that matter use
a second process: one that holds a staging entry, then dies by SIGKILL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trustcopy import fsutil
from trustcopy.fsutil import STAGING_PREFIX, make_staging_dir, make_staging_file, reclaim_abandoned_staging

HOLDER = textwrap.dedent("""
    import sys, time
    from trustcopy.fsutil import make_staging_dir, make_staging_file
    if sys.argv[2] == "dir":
        staging = make_staging_dir(sys.argv[1])
        open(staging.path + "/blob", "wb").write(b"x" * 1000)
    else:
        staging, fd = make_staging_file(sys.argv[1])
    print(staging.path, flush=True)
    time.sleep(120)
""")


def _hold_in_another_process(target: Path, kind: str) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), kind], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, "the holder process did not make its staging entry"
    return proc, Path(line)


def _entries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_a_live_copys_staging_stays_and_a_killed_ones_goes(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "image"
    proc, staged = _hold_in_another_process(target, kind)
    try:
        assert staged.parent == tmp_path and staged.name.startswith(f"{STAGING_PREFIX}image-")
        assert reclaim_abandoned_staging(str(target)) == []
        assert staged.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert staged.exists(), "SIGKILL cleans nothing up: the entry is still there"
    assert reclaim_abandoned_staging(str(target)) == [str(staged)]
    assert _entries(tmp_path) == []


def test_a_new_staging_entry_reclaims_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "out.tar"
    abandoned = tmp_path / f"{STAGING_PREFIX}out.tar-abc_1234"
    (abandoned / "blobs" / "sha256").mkdir(parents=True)
    (abandoned / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"data")
    caplog.set_level(logging.INFO, logger="trustcopy.fsutil")
    staging, fd = make_staging_file(str(target))
    try:
        assert _entries(tmp_path) == [os.path.basename(staging.path)]
        assert str(abandoned) in caplog.text and "interrupted copy" in caplog.text
        os.write(fd, b"archive")
    finally:
        os.close(fd)
        staging.release()
    assert Path(staging.path).read_bytes() == b"archive"


def test_held_entries_are_locked_until_release(tmp_path: Path) -> None:
    staging = make_staging_dir(str(tmp_path / "image"))
    other = os.open(staging.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        staging.release()
        staging.release()  # idempotent
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free now
    finally:
        os.close(other)


def test_only_this_targets_own_entries_are_touched(tmp_path: Path) -> None:
    target = tmp_path / "image"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    kept = {
        "image": "dir",  # the destination itself
        f"{STAGING_PREFIX}image-abcd1234.old": "dir",  # a two-rename swap's previous image
        f"{STAGING_PREFIX}image-2-abcd1234": "dir",  # the staging of "image-2"
        f"{STAGING_PREFIX}imagex-abcd1234": "dir",
        f"{STAGING_PREFIX}image-abcd123": "dir",  # not tempfile's 8 characters
        f"{STAGING_PREFIX}image-ABCD1234": "dir",
        f"{STAGING_PREFIX}image-link0000": "symlink",  # never followed, never removed
        f"{STAGING_PREFIX}image-fifo0000": "fifo",
        "outside": "dir",
    }
    for name, kind in kept.items():
        path = tmp_path / name
        if kind == "dir" and not path.exists():
            path.mkdir()
        elif kind == "symlink":
            path.symlink_to(outside)
        elif kind == "fifo":
            os.mkfifo(path)
    removed = [tmp_path / f"{STAGING_PREFIX}image-q_7zk0ab", tmp_path / f"{STAGING_PREFIX}image-file0000"]
    removed[0].mkdir()
    removed[1].write_bytes(b"partial archive")
    assert sorted(reclaim_abandoned_staging(str(target))) == sorted(map(str, removed))
    assert _entries(tmp_path) == sorted(kept)
    assert (outside / "keep").read_text() == "keep"


def test_a_creator_that_loses_its_fresh_entry_to_a_reclaim_takes_another(tmp_path: Path) -> None:
    """The moment between making an entry and locking it: another process's reclaim may win it."""
    made: list[str] = []
    reclaimer_fds: list[int] = []

    def make(prefix: str, parent: str) -> str:
        path = os.path.join(parent, f"{prefix}{len(made):08d}")
        os.mkdir(path)
        made.append(path)
        if len(made) == 1:  # the reclaim locks it first, and will remove it
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_EX)
            reclaimer_fds.append(fd)
        elif len(made) == 2:  # the reclaim locked and removed it already
            os.rmdir(path)
        return path

    try:
        staging = fsutil._create_staging(str(tmp_path / "image"), make, directory=True)
    finally:
        for fd in reclaimer_fds:
            os.close(fd)
    assert staging.path == made[2]
    staging.release()


def test_an_unwritable_parent_is_a_clear_error(tmp_path: Path) -> None:
    from trustcopy.errors import TransportError

    with pytest.raises(TransportError, match="cannot create a staging directory in"):
        make_staging_dir(str(tmp_path / "missing" / "image"))


def test_write_file_atomic_beside_its_file_reclaims_what_a_killed_writer_left(tmp_path: Path) -> None:
    """A signature store or a ``--digestfile`` directory: the temporary beside the file is a
    locked staging file, so the next write of that file removes a dead writer's, never a live one's."""
    target = tmp_path / "signature-1"
    dead, dead_staged = _hold_in_another_process(target, "file")
    dead.send_signal(signal.SIGKILL)
    dead.wait(30)
    live, live_staged = _hold_in_another_process(target, "file")
    try:
        fsutil.write_file_atomic(str(target), b"signature", 0o640)
        assert target.read_bytes() == b"signature"
        assert target.stat().st_mode & 0o777 == 0o640
        assert not dead_staged.exists()
        assert _entries(tmp_path) == sorted(["signature-1", live_staged.name])
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(30)
    fsutil.write_file_atomic(str(target), b"again")
    assert _entries(tmp_path) == ["signature-1"]


def test_the_spool_goes_where_big_temporary_files_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Large temporary files (``--dest-precompute-digests``, ``tarball:-``): --tmpdir
    (SystemContext.tmp_dir), else $TMPDIR, else /var/tmp, as containers/image."""
    import tempfile

    from trustcopy.fsutil import big_files_dir

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.delenv("TMPDIR", raising=False)
    assert big_files_dir() == "/var/tmp"
    monkeypatch.setenv("TMPDIR", str(tmp_path / "env"))
    assert big_files_dir() == str(tmp_path / "env")
    assert big_files_dir(str(tmp_path / "flag")) == str(tmp_path / "flag")
