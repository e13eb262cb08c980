"""Local disk failures in the middle of a write (ENOSPC, EDQUOT, EIO, EROFS, EACCES) and EIO
while reading a local source, through the CLI: a named error, exit status 1, no traceback,
the destination as it was, no staging left.

Faults are injected in-process at one moment of the run: the Nth write, file fsync, rename
or file creation below a directory (or the Nth read of a file below it). Each test sweeps N
from the first such operation to the last (the run that meets no fault must succeed), so
every write point of a destination is hit once, first write and last fsync alike. Files are
wrapped at ``io.open`` (``open``, ``os.fdopen`` and ``tempfile`` go through it) with a
``FileIO`` whose ``write``/``readinto`` fail on cue; ``os.fsync``, ``os.replace``,
``os.rename``, ``os.open``, ``os.pread`` and ``os.pwrite`` are replaced for the run.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, Layer, make_image, make_tar, write_dir, write_oci

#: The errno a run's fault raises, by N (every kind of full or failing disk gets its turn).
ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES)


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class Fault:
    """Fail the ``nth`` operation of kind ``op`` on a path below ``below``."""

    def __init__(self, below: Path, op: str, nth: int, err: int | None = None) -> None:
        self.below, self.op, self.nth = str(below), op, nth
        self.err = err if err is not None else ERRNOS[nth % len(ERRNOS)]
        self.count = 0
        self.hit: list[str] = []

    def matches(self, path: str) -> bool:
        return path == self.below or path.startswith(self.below + "/")

    def due(self, op: str, path: str) -> bool:
        if op != self.op or not self.matches(path):
            return False
        self.count += 1
        if self.count != self.nth:
            return False
        self.hit.append(path)
        return True

    def error(self) -> OSError:
        return OSError(self.err, os.strerror(self.err))


def inject(mp: pytest.MonkeyPatch, fault: Fault) -> None:
    real_open, real_os_open = io.open, os.open
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename
    real_pread, real_pwrite, real_write = os.pread, os.pwrite, os.write

    class Faulty(io.FileIO):
        def write(self, b: Any, /) -> int:
            if fault.due("write", _fd_path(self.fileno())):
                raise fault.error()
            return super().write(b)

        def readinto(self, b: Any, /) -> int | None:
            if fault.due("read", _fd_path(self.fileno())):
                raise fault.error()
            return super().readinto(b)

    def fopen(file: Any, mode: str = "r", buffering: int = -1, encoding: Any = None, errors: Any = None,
              newline: Any = None, closefd: bool = True, opener: Any = None) -> Any:
        f = real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        try:
            fd = f.fileno()
        except (OSError, ValueError, AttributeError):
            return f
        if not fault.matches(_fd_path(fd)) or not closefd:
            return f
        writing = any(c in mode for c in "wax+")
        dup = os.dup(fd)
        f.close()
        raw = Faulty(dup, "r+" if "+" in mode else "w" if writing else "r")
        if buffering == 0:
            return raw
        buf: Any = (io.BufferedRandom(raw) if "+" in mode else io.BufferedWriter(raw) if writing
                    else io.BufferedReader(raw))
        return buf if "b" in mode else io.TextIOWrapper(buf, encoding=encoding, errors=errors, newline=newline)

    def os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: Any = None) -> int:
        if flags & os.O_CREAT and fault.due("create", os.path.abspath(os.fspath(path))):
            raise fault.error()
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    def fsync(fd: int) -> None:
        import stat

        if stat.S_ISREG(os.fstat(fd).st_mode) and fault.due("fsync", _fd_path(fd)):
            raise fault.error()  # (a directory's fsync is best effort by design: fsutil.fsync_dir)
        real_fsync(fd)

    def replace(a: Any, b: Any, **kw: Any) -> None:
        if fault.due("rename", os.path.abspath(os.fspath(b))):
            raise fault.error()
        real_replace(a, b, **kw)

    def rename(a: Any, b: Any, **kw: Any) -> None:
        if fault.due("rename", os.path.abspath(os.fspath(b))):
            raise fault.error()
        real_rename(a, b, **kw)

    def pread(fd: int, n: int, offset: int) -> bytes:
        if fault.due("read", _fd_path(fd)):
            raise fault.error()
        return real_pread(fd, n, offset)

    def pwrite(fd: int, data: Any, offset: int) -> int:
        if fault.due("write", _fd_path(fd)):
            raise fault.error()
        return real_pwrite(fd, data, offset)

    def write(fd: int, data: Any) -> int:
        if fault.due("write", _fd_path(fd)):
            raise fault.error()
        return real_write(fd, data)

    for module, name, value in ((io, "open", fopen), (builtins, "open", fopen), (os, "open", os_open),
                                (os, "fsync", fsync), (os, "replace", replace), (os, "rename", rename),
                                (os, "pread", pread), (os, "pwrite", pwrite), (os, "write", write)):
        mp.setattr(module, name, value)


def sweep(monkeypatch: pytest.MonkeyPatch, below: Path, op: str, run: Callable[[Fault], None],
          *, limit: int = 40, err: int | None = None, prepare: Callable[[], None] | None = None) -> int:
    """``run`` with the 1st, 2nd, … operation failing until a run meets no fault; how many did.
    ``prepare`` (re)makes the scene before each run, without faults."""
    for n in range(1, limit):
        fault = Fault(below, op, n, err)
        if prepare is not None:
            prepare()
        with monkeypatch.context() as m:
            inject(m, fault)
            run(fault)
        if not fault.hit:
            return n - 1
    raise AssertionError(f"more than {limit} {op} operations below {below}")


def image(salt: str) -> Image:
    return make_image([Layer(make_tar([("a.txt", f"hello {salt}\n".encode() * 4000)])),
                       Layer(make_tar([("b.txt", salt.encode() * 10)]))])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def hidden(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(".*")]


def assert_named_failure(r: Any, code: str, names: str, fault: Fault) -> None:
    assert r.exit_code == 1, (fault.hit, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert f"error[{code}]" in r.stderr and names in r.stderr, (fault.hit, r.stderr)
    assert os.strerror(fault.err) in r.stderr, r.stderr


# -- destinations --------------------------------------------------------------------


def _new_blobs_are_complete(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """What a failed ``oci:`` commit may leave: verified blobs under ``blobs/`` (unreferenced,
    as the architecture notes allow), each complete; everything else as it was."""
    for name, data in after.items():
        if name in before:
            assert data == before[name], name
        else:
            assert "/blobs/sha256/" in "/" + name and hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    assert set(before) <= set(after)


DESTINATIONS = ["oci-new", "oci-existing", "oci-archive", "oci-archive-gz", "docker-archive"]


@pytest.mark.parametrize("op", ["write", "fsync", "rename", "create"])
@pytest.mark.parametrize("kind", DESTINATIONS)
def test_a_failing_disk_at_any_write_of_a_destination_is_a_named_error_and_changes_nothing(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, monkeypatch: pytest.MonkeyPatch,
        kind: str, op: str) -> None:
    src = tmp_path / "src"
    write_dir(image("new"), str(src))
    old = tmp_path / "old"
    write_dir(image("old"), str(old))
    out = tmp_path / "out"
    ref = {"oci-new": f"oci:{out}/lay:t", "oci-existing": f"oci:{out}/lay:t",
           "oci-archive": f"oci-archive:{out}/a.tar:t", "oci-archive-gz": f"oci-archive:{out}/a.tar.gz:t",
           "docker-archive": f"docker-archive:{out}/a.tar:x/y:t"}[kind]

    before: dict[str, bytes] = {}

    def prepare() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        if kind == "oci-existing":
            write_oci({"old": image("old")}, str(out / "lay"))
        elif kind.startswith("oci-archive"):  # an archive there already: replaced only at commit
            assert run_cli("--policy", str(insecure_policy), "copy", f"dir:{old}", ref).exit_code == 0
        before.clear()
        before.update(snapshot(out))

    def run(fault: Fault) -> None:
        r = run_cli("--policy", str(insecure_policy), "copy", f"dir:{src}", ref)
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            return
        assert_named_failure(r, "destination-unwritable", str(out), fault)
        after = snapshot(out)
        if kind == "oci-existing":
            _new_blobs_are_complete(before, after)
        else:
            assert after == before
        assert hidden(out) == []

    assert sweep(monkeypatch, out, op, run, prepare=prepare) >= 1


def test_a_full_disk_while_spooling_a_layer_for_a_stream_names_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer of unknown size for an output that cannot seek (a daemon's load stream, a
    compressed archive) is spooled first: a full disk there is the destination's error."""
    from trustcopy.errors import TransportError
    from trustcopy.transports.archivewriter import TarWriter

    spool = tmp_path / "spool"
    spool.mkdir()
    sink = io.BytesIO()
    monkeypatch.setattr(tempfile, "_O_TMPFILE_WORKS", False)  # (a failed O_TMPFILE open is retried without)
    for op in ("create", "write"):
        tar = TarWriter(sink, seekable_file=None, spool_dir=str(spool), what="docker-daemon:x/y:t")
        with monkeypatch.context() as m:
            fault = Fault(spool, op, 1, errno.ENOSPC)
            inject(m, fault)
            with pytest.raises(TransportError) as caught:
                tar.add_stream_unknown_size(io.BytesIO(b"x" * 100_000), lambda: "layer.tar")
        assert fault.hit
        assert caught.value.code == "destination-unwritable" and str(spool) in caught.value.message
        assert "No space left on device" in caught.value.message
    assert list(spool.iterdir()) == []


# -- sources -------------------------------------------------------------------------


SOURCES = ["dir", "oci", "oci-archive", "docker-archive", "docker-archive-gz", "tarball"]


@pytest.mark.parametrize("kind", SOURCES)
def test_eio_reading_any_file_of_a_local_source_is_a_named_error(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    import gzip

    built = tmp_path / "built"
    write_dir(image("src"), str(built))
    base = tmp_path / "src"
    base.mkdir()
    if kind == "dir":
        shutil.copytree(built, base / "d")
        ref = f"dir:{base}/d"
    elif kind == "oci":
        write_oci({"t": image("src")}, str(base / "lay"))
        ref = f"oci:{base}/lay:t"
    elif kind == "oci-archive":
        ref = f"oci-archive:{base}/a.tar:t"
        assert run_cli("--policy", str(insecure_policy), "copy", f"dir:{built}", ref).exit_code == 0
    elif kind.startswith("docker-archive"):
        ref = f"docker-archive:{base}/a.tar"
        assert run_cli("--policy", str(insecure_policy), "copy", f"dir:{built}", f"{ref}:x/y:t").exit_code == 0
        if kind.endswith("gz"):
            (base / "a.tar.gz").write_bytes(gzip.compress((base / "a.tar").read_bytes()))
            (base / "a.tar").unlink()
            ref += ".gz"
    else:
        (base / "l.tar").write_bytes(make_tar([("c.txt", b"x" * 300_000)]))
        ref = f"tarball:{base}/l.tar"
    out = tmp_path / "out"

    def run(fault: Fault) -> None:
        r = run_cli("--policy", str(insecure_policy), "copy", ref, f"dir:{out}")
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            return
        assert_named_failure(r, "file-unreadable", str(base), fault)
        assert not out.exists() and hidden(tmp_path) == []

    assert sweep(monkeypatch, base, "read", run, err=errno.EIO) >= 1


def test_a_full_disk_while_keeping_standard_input_for_tarball_names_the_tmpdir(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.transports import tarball

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "_O_TMPFILE_WORKS", False)  # (a failed O_TMPFILE open is retried without)
    monkeypatch.setattr(tarball, "sys_stdin", lambda: io.BytesIO(make_tar([("c.txt", b"x" * 300_000)])))

    def run(fault: Fault) -> None:
        r = run_cli("--policy", str(insecure_policy), "copy", "--tmpdir", str(spool), "tarball:-",
                    f"dir:{tmp_path}/out")
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            shutil.rmtree(tmp_path / "out")
            return
        assert_named_failure(r, "spool-failed", str(spool), fault)
        assert not (tmp_path / "out").exists()

    for op in ("create", "write"):
        assert sweep(monkeypatch, spool, op, run) >= 1
    assert list(spool.iterdir()) == []


# -- single files ---------------------------------------------------------------------


@pytest.mark.parametrize("op", ["write", "fsync", "rename", "create"])
def test_standalone_sign_output_keeps_the_previous_signature_on_a_failing_disk(
        run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    """skopeo truncates ``-o FILE`` first (``os.WriteFile``): a full disk there loses the old
    signature. trustcopy replaces it only once the new one is written."""
    from trustcopy.signature import standalone

    monkeypatch.setattr(standalone, "standalone_sign", lambda *_a, **_k: b"new signature " * 1000)
    (tmp_path / "m.json").write_bytes(b"{}")
    outdir = tmp_path / "sigs"
    outdir.mkdir()
    output = outdir / "sig"
    output.write_bytes(b"old signature")
    output.chmod(0o600)

    def run(fault: Fault) -> None:
        r = run_cli("standalone-sign", "-o", str(output), str(tmp_path / "m.json"), "example.com/a:1", "FPR")
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            assert output.read_bytes() == b"new signature " * 1000 and output.stat().st_mode & 0o777 == 0o600
            return
        assert_named_failure(r, "file-unwritable", str(output), fault)
        assert output.read_bytes() == b"old signature" and hidden(outdir) == []

    assert sweep(monkeypatch, outdir, op, run, prepare=lambda: output.write_bytes(b"old signature") and None) >= 1


@pytest.mark.parametrize("op", ["write", "fsync", "create"])
def test_generate_sigstore_key_names_the_key_file_it_could_not_write_and_leaves_none(
        run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    (tmp_path / "pass").write_text("pw\n")
    keys = tmp_path / "keys"
    keys.mkdir()

    def run(fault: Fault) -> None:
        r = run_cli("generate-sigstore-key", "--output-prefix", str(keys / "k"), "--passphrase-file",
                    str(tmp_path / "pass"))
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            for p in keys.iterdir():
                p.unlink()
            return
        failed = keys / ("k.private" if fault.nth == 1 else "k.pub")  # written in this order
        assert_named_failure(r, "file-unwritable", f'"{failed}"', fault)
        assert "None" not in r.stderr and list(keys.iterdir()) == []

    assert sweep(monkeypatch, keys, op, run) == 2


@pytest.mark.parametrize("op", ["write", "fsync", "rename", "create"])
def test_logout_keeps_the_auth_file_on_a_failing_disk(
        run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    import base64
    import json

    conf = tmp_path / "conf"
    conf.mkdir()
    auth = conf / "auth.json"
    token = base64.b64encode(b"u:p").decode()
    content = json.dumps({"auths": {"a.example": {"auth": token}, "b.example": {"auth": token}}}).encode()

    def run(fault: Fault) -> None:
        r = run_cli("logout", "--authfile", str(auth), "a.example")
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            assert "a.example" not in auth.read_text()
            return
        assert_named_failure(r, "file-unwritable", str(auth), fault)
        assert auth.read_bytes() == content and hidden(conf) == []

    assert sweep(monkeypatch, conf, op, run, prepare=lambda: auth.write_bytes(content) and None) >= 1


@pytest.mark.parametrize("op", ["write", "fsync", "rename", "create"])
def test_digestfile_on_a_failing_disk_is_named_and_keeps_the_previous_one(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    src = tmp_path / "src"
    write_dir(image("d"), str(src))
    where = tmp_path / "digests"
    where.mkdir()
    digestfile = where / "digest"
    digestfile.write_bytes(b"sha256:old")

    def run(fault: Fault) -> None:
        r = run_cli("--policy", str(insecure_policy), "copy", "--digestfile", str(digestfile), f"dir:{src}",
                    f"oci:{tmp_path}/out:t")
        if not fault.hit:
            assert r.exit_code == 0, r.stderr
            return
        assert r.exit_code == 1 and "Traceback" not in r.stderr and str(digestfile) in r.stderr, r.stderr
        assert digestfile.read_bytes() == b"sha256:old" and hidden(where) == []

    assert sweep(monkeypatch, where, op, run,
                 prepare=lambda: shutil.rmtree(tmp_path / "out", ignore_errors=True)) >= 1


def test_lookaside_file_store_write_failure_is_named_and_leaves_no_staging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.digest import Digest
    from trustcopy.errors import SignatureError
    from trustcopy.signature.formats import UnknownSignature
    from trustcopy.stores.lookaside import LookasideLocation, write_signatures

    store = tmp_path / "store"
    store.mkdir()
    location = LookasideLocation(f"file://{store}", "team/app")
    digest = Digest.from_bytes(b"manifest")
    signatures = [UnknownSignature(b"sig one", "test"), UnknownSignature(b"sig two", "test")]

    for op in ("write", "fsync", "rename", "create"):
        def run(fault: Fault) -> None:
            try:
                write_signatures(location, digest, signatures)
            except SignatureError as exc:
                assert fault.hit and exc.code == "lookaside-unwritable"
                assert str(store) in exc.message and os.strerror(fault.err) in exc.message
            else:
                assert not fault.hit
            assert hidden(store) == []

        assert sweep(monkeypatch, store, op, run) >= 1
