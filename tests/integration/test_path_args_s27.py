"""Every file-path argument of every command against hostile files, table-driven.

The tables are checked against the click tree (:func:`test_every_path_option_is_in_a_table`): an
option or argument whose name says it names a file or directory, in any command, must be listed
here, so a new one cannot escape the sweep.

Inputs (``--policy``, auth files, key/passphrase/parameter files, registries.d/.conf, cert
dirs, shared blob dirs, manifests, signatures, sync YAML, policy test cases, source image
paths, and the environment variables naming files) are each given: a FIFO nobody writes,
``/dev/zero``, ``/dev/urandom``, a directory, a dangling symlink, a symlink loop, a file we may
not read (EACCES, for real: the command runs with the effective uid of the unprivileged
``nobody`` when the suite runs as root), a 100 MB sparse file and an empty file. Outputs
(``--digestfile``, the auth file ``logout`` rewrites, ``generate-sigstore-key``'s files,
``dir:``/``oci:``/archive destinations) are given: a FIFO nobody reads, a directory, a symlink
to an unrelated file, ``/dev/full``, a read-only directory and a symlink loop.

Expected: within seconds (a 10 s alarm turns a hang into a failure), without reading a big file
(peak RSS), without a traceback; a failure exits non-zero with ``error[…]`` naming the path at
fault and writes nothing at the destination. Where containers/image treats a path as absent
(a dangling ``--cert-dir``, auth file or ``$DOCKER_CONFIG``) or accepts the content (any bytes
for ``manifest-digest``, a ``tarball:`` layer), the table says so and the command must go on as
skopeo does. Everything runs in-process (``trustcopy.cli.main.main``), FIFO waits shortened.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_dir, write_oci

from trustcopy import limits

IMAGE = example_image()
#: A registry nobody listens on: commands that get past their files fail fast with "Connection refused".
REG = "docker://127.0.0.1:9/hostile/app:1"
ALARM_SECONDS = 10.0
QUICK = 5.0
#: Peak-RSS growth allowed for one command: a 100 MB file read whole would exceed it.
RSS_GROWTH_KIB = 48 * 1024
UNPRIVILEGED = "nobody"  # (every Debian has it; a test machine needs no extra user)

FILE_KINDS = ["fifo", "dev-zero", "dev-urandom", "directory", "dangling", "loop", "eacces", "sparse-100m", "empty"]
DIR_KINDS = ["fifo", "dev-zero", "regular-file", "dangling", "loop", "eacces-dir"]
OUT_KINDS = ["fifo", "directory", "outside-symlink", "dev-full", "read-only-dir", "loop"]


class Hang(BaseException):
    """Raised by the alarm inside a command that did not finish (not an Exception: nothing catches it)."""


# -- the world every command runs in -------------------------------------------------------------------------------

@dataclass
class World:
    """Read-only inputs shared by every case (world-readable, so the unprivileged user reads them too)."""

    root: Path
    policy: Path
    src: Path  # dir: image
    oci: Path  # oci: layout with image "1"
    archive: Path  # docker-archive
    key: Path  # cosign private key, passphrase in ``passphrase``
    passphrase: Path
    manifest: Path


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from trustcopy.cli.main import main

    root = Path(tempfile.mkdtemp(prefix="tc-paths-", dir="/tmp"))
    try:
        w = World(root, root / "policy.json", root / "src", root / "oci", root / "src.tar", root / "key.private",
                  root / "pass", root / "src" / "manifest.json")
        w.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        write_dir(IMAGE, str(w.src))
        write_oci({"1": IMAGE}, str(w.oci))
        w.passphrase.write_text("pw\n")
        with _quiet():
            assert main(["generate-sigstore-key", "--output-prefix", str(root / "key"), "--passphrase-file",
                         str(w.passphrase)]) == 0
            assert main(["--policy", str(w.policy), "copy", "-q", f"dir:{w.src}", f"docker-archive:{w.archive}"]) == 0
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield w
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


@dataclass
class Case:
    """One command's scratch directory: the hostile path ``h``, the destination, a private HOME."""

    dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def dest(self) -> Path:
        return self.dir / "dest"


@pytest.fixture
def case() -> Iterator[Case]:
    d = Path(tempfile.mkdtemp(prefix="tc-case-", dir="/tmp"))
    d.chmod(0o1777)  # the unprivileged user makes its destination here
    for name in ("home", "run", "config"):
        (d / name).mkdir(mode=0o777)
        (d / name).chmod(0o777)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d / "home"),
           "XDG_RUNTIME_DIR": str(d / "run"), "XDG_CONFIG_HOME": str(d / "config"), "TMPDIR": str(d)}
    try:
        yield Case(d, env)
    finally:
        for p in d.rglob("*"):  # a mode-000 directory would stop rmtree
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    p.chmod(0o755)
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class Outcome:
    status: int | None
    out: str
    err: str
    seconds: float
    rss_growth_kib: int


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the command after ``seconds``; pytest-timeout's own alarm is put back."""

    def fire(_signum: int, _frame: Any) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, fire)
    saved = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if saved[0]:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, saved[0] - (time.monotonic() - started)), saved[1])


@contextlib.contextmanager
def _effective_user(name: str | None) -> Iterator[None]:
    """Run as ``name``'s uid (files it may not read give a real EACCES); the real uid stays root."""
    if name is None or os.geteuid() != 0:
        yield
        return
    uid = pwd.getpwnam(name).pw_uid
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)


def run_cli(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str], *,
            as_user: str | None = None) -> Outcome:
    """``trustcopy ARGV`` in-process with exactly ``env``, bounded by the alarm."""
    from trustcopy.cli.main import main

    saved_env, saved_tempdir = dict(os.environ), tempfile.tempdir
    os.environ.clear()
    os.environ.update(env)
    capsys.readouterr()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    status: int | None
    try:
        with _alarm(ALARM_SECONDS), _effective_user(as_user):
            try:
                status = main(argv)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except Hang:
                status = None
            except ImportError as exc:  # a module first imported while unprivileged: the harness's fault
                raise AssertionError(f"harness: {exc} (warm-up missed it)") from exc
    finally:
        seconds = time.monotonic() - started
        os.environ.clear()
        os.environ.update(saved_env)
        tempfile.tempdir = saved_tempdir  # --tmpdir sets it process-wide
    out, err = capsys.readouterr()
    return Outcome(status, out, err, seconds,
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before)


@pytest.fixture(autouse=True)
def short_pipe_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.01)


# -- hostile things ------------------------------------------------------------------------------------------------

def plant(path: Path, kind: str) -> Path:
    """Put a hostile ``kind`` at ``path``; returns ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev-urandom":
        path.symlink_to("/dev/urandom")
    elif kind == "dev-full":
        path.symlink_to("/dev/full")
    elif kind == "directory":
        path.mkdir()
        (path / "unrelated").write_text("unrelated\n")
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "eacces":
        path.write_text("{}\n")
        path.chmod(0)
    elif kind == "eacces-dir":
        path.mkdir()
        (path / "config.json").write_text("{}\n")
        path.chmod(0)
    elif kind == "sparse-100m":
        with open(path, "wb") as f:
            f.truncate(100 << 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "regular-file":
        path.write_bytes(bytes(range(256)) * 4)
    else:
        raise ValueError(kind)
    return path


# -- inputs --------------------------------------------------------------------------------------------------------

Build = Callable[[World, Case, str], list[str]]


@dataclass(frozen=True)
class Input:
    """One path argument: how to run a command with ``h`` there, and where c/image goes on.

    ``absent``: kinds containers/image treats as "no such file" and goes on with (then this
    command fails at the closed registry port, or succeeds offline). ``accepted``: kinds whose
    content is valid for this argument (skopeo accepts it too).
    """

    build: Build
    directory: bool = False
    env: str | None = None  # the variable that names the path, when it is not an argument
    absent: frozenset[str] = frozenset()
    accepted: frozenset[str] = frozenset()
    #: what the command says once it went on past an absent path
    went_on: str = "Connection refused"
    #: the hostile kinds tried (default: FILE_KINDS, or DIR_KINDS for a directory)
    kinds: tuple[str, ...] | None = None


def _p(w: World) -> list[str]:
    return ["--policy", str(w.policy)]


def _copy_local(w: World, c: Case, *extra: str) -> list[str]:
    return [*_p(w), "copy", "-q", *extra, f"dir:{w.src}", f"dir:{c.dest}"]


def _copy_from_registry(w: World, c: Case, *extra: str) -> list[str]:
    return [*_p(w), "copy", "-q", "--retry-times=0", *extra, REG, f"dir:{c.dest}"]


_SIGN_KEY = "0123456789ABCDEF0123456789ABCDEF01234567"
#: containers/image's SetupCertificates skips a directory it may not read (os.IsPermission) or that is missing.
_CERT_DIR_ABSENT = frozenset({"dangling", "eacces-dir"})
#: A missing auth file holds no credentials (readJSONFile), as does one in $DOCKER_CONFIG.
_AUTH_ABSENT = frozenset({"dangling"})
#: An empty passphrase, manifest or signature is content (then refused for what it is, as by skopeo).
_EMPTY_IS_CONTENT = frozenset({"empty"})

INPUTS: dict[str, Input] = {
    # global options (and their environment variables)
    "--policy": Input(lambda w, c, h: ["--policy", h, "copy", "-q", f"dir:{w.src}", f"dir:{c.dest}"]),
    "policy lint --policy": Input(lambda w, c, h: ["policy", "lint", "--policy", h]),
    "policy explain --policy": Input(lambda w, c, h: ["--policy", h, "policy", "explain", f"dir:{w.src}"]),
    "--registries.d": Input(lambda w, c, h: [*_p(w), "--registries.d", h, "lookaside", "where",
                                             "docker://example.com/a:1"], directory=True),
    "--registries-conf": Input(lambda w, c, h: [*_p(w), "--registries-conf", h, "inspect", "--retry-times=0", REG],
                               accepted=frozenset({"empty"})),
    "$CONTAINERS_REGISTRIES_CONF": Input(lambda w, c, h: [*_p(w), "inspect", "--retry-times=0", REG],
                                         env="CONTAINERS_REGISTRIES_CONF", accepted=frozenset({"empty"})),
    "--tmpdir": Input(lambda w, c, h: [*_p(w), "--tmpdir", h, "copy", "-q", f"docker-archive:{w.archive}",
                                       f"dir:{c.dest}"], directory=True,
                      accepted=frozenset({"eacces-dir"})),  # a seekable archive needs no temporary file
    # credentials
    "copy --authfile": Input(lambda w, c, h: _copy_from_registry(w, c, "--authfile", h), absent=_AUTH_ABSENT),
    "copy --src-authfile": Input(lambda w, c, h: _copy_from_registry(w, c, "--src-authfile", h),
                                 absent=_AUTH_ABSENT),
    "copy --dest-authfile": Input(lambda w, c, h: [*_p(w), "copy", "-q", "--retry-times=0", "--dest-authfile", h,
                                                   f"dir:{w.src}", REG], absent=_AUTH_ABSENT),
    "$REGISTRY_AUTH_FILE": Input(lambda w, c, h: _copy_from_registry(w, c), env="REGISTRY_AUTH_FILE",
                                 absent=_AUTH_ABSENT),
    # NOTE(go-diff) in authfile._read_bytes: a default location we may not read is skipped.
    "$DOCKER_CONFIG": Input(lambda w, c, h: _copy_from_registry(w, c), env="DOCKER_CONFIG", directory=True,
                            absent=frozenset({"dangling", "eacces-dir"})),
    "inspect --authfile": Input(lambda w, c, h: [*_p(w), "inspect", "--retry-times=0", "--authfile", h, REG],
                                absent=_AUTH_ABSENT),
    "list-tags --authfile": Input(lambda w, c, h: [*_p(w), "list-tags", "--retry-times=0", "--authfile", h,
                                                   "docker://127.0.0.1:9/hostile/app"], absent=_AUTH_ABSENT),
    "delete --authfile": Input(lambda w, c, h: [*_p(w), "delete", "--retry-times=0", "--authfile", h, REG],
                               absent=_AUTH_ABSENT),
    "verify --authfile": Input(lambda w, c, h: [*_p(w), "verify", "--retry-times=0", "--authfile", h, REG],
                               absent=_AUTH_ABSENT),
    "policy test --authfile": Input(lambda w, c, h: [*_p(w), "policy", "test", "--retry-times=0", "--authfile", h,
                                                     str(plant_cases(c))], absent=_AUTH_ABSENT),
    "login --get-login --authfile": Input(lambda w, c, h: ["login", "--get-login", "--authfile", h, "example.com"],
                                          absent=_AUTH_ABSENT, went_on="not logged into example.com"),
    "logout --authfile": Input(lambda w, c, h: ["logout", "--authfile", h, "example.com"]),
    "logout --compat-auth-file": Input(lambda w, c, h: ["logout", "--compat-auth-file", h, "example.com"]),
    # certificates
    "copy --src-cert-dir": Input(lambda w, c, h: _copy_from_registry(w, c, "--src-cert-dir", h), directory=True,
                                 absent=_CERT_DIR_ABSENT),
    "copy --dest-cert-dir": Input(lambda w, c, h: [*_p(w), "copy", "-q", "--retry-times=0", "--dest-cert-dir", h,
                                                   f"dir:{w.src}", REG], directory=True, absent=_CERT_DIR_ABSENT),
    "inspect --cert-dir": Input(lambda w, c, h: [*_p(w), "inspect", "--retry-times=0", "--cert-dir", h, REG],
                                directory=True, absent=_CERT_DIR_ABSENT),
    # signing and encryption
    "copy --sign-by-sigstore-private-key": Input(
        lambda w, c, h: _copy_local(w, c, "--sign-by-sigstore-private-key", h, "--sign-passphrase-file",
                                    str(w.passphrase), "--sign-identity", "example.com/a:1")),
    "copy --sign-passphrase-file": Input(
        lambda w, c, h: _copy_local(w, c, "--sign-by-sigstore-private-key", str(w.key), "--sign-passphrase-file", h,
                                    "--sign-identity", "example.com/a:1"), accepted=_EMPTY_IS_CONTENT),
    "sync --sign-passphrase-file": Input(
        lambda w, c, h: [*_p(w), "sync", "--src", "dir", "--dest", "docker", "--sign-by-sigstore-private-key",
                         str(w.key), "--sign-passphrase-file", h, str(w.src), "127.0.0.1:9/hostile"],
        accepted=_EMPTY_IS_CONTENT),
    "copy --sign-by-sigstore": Input(lambda w, c, h: _copy_local(w, c, "--sign-by-sigstore", h)),
    "copy --encryption-key": Input(lambda w, c, h: [*_p(w), "copy", "-q", "--encryption-key", f"jwe:{h}",
                                                    f"dir:{w.src}", f"oci:{c.dest}:1"]),
    "copy --decryption-key": Input(lambda w, c, h: _copy_local(w, c, "--decryption-key", h)),
    "standalone-sign MANIFEST": Input(lambda w, c, h: ["standalone-sign", "-o", str(c.dest), h, "example.com/a:1",
                                                       _SIGN_KEY], accepted=_EMPTY_IS_CONTENT),
    "standalone-sign --passphrase-file": Input(lambda w, c, h: ["standalone-sign", "-o", str(c.dest),
                                                                "--passphrase-file", h, str(w.manifest),
                                                                "example.com/a:1", _SIGN_KEY],
                                              accepted=_EMPTY_IS_CONTENT),
    "standalone-verify MANIFEST": Input(lambda w, c, h: ["standalone-verify", "--public-key-file",
                                                         str(w.root / "key.pub"), h, "example.com/a:1", "any",
                                                         str(w.manifest)], accepted=_EMPTY_IS_CONTENT),
    "standalone-verify SIGNATURE": Input(lambda w, c, h: ["standalone-verify", "--public-key-file",
                                                          str(w.root / "key.pub"), str(w.manifest),
                                                          "example.com/a:1", "any", h], accepted=_EMPTY_IS_CONTENT),
    "standalone-verify --public-key-file": Input(lambda w, c, h: ["standalone-verify", "--public-key-file", h,
                                                                  str(w.manifest), "example.com/a:1", "any",
                                                                  str(w.manifest)], accepted=_EMPTY_IS_CONTENT),
    "generate-sigstore-key --passphrase-file": Input(
        lambda w, c, h: ["generate-sigstore-key", "--output-prefix", str(c.dest), "--passphrase-file", h],
        accepted=frozenset({"empty"})),  # an empty passphrase, as skopeo's ReadPassphraseFile gives it
    # local images and files named as arguments
    "manifest-digest MANIFEST": Input(lambda w, c, h: ["manifest-digest", h],
                                      accepted=frozenset({"empty"})),  # skopeo digests any bytes
    "copy --src-shared-blob-dir": Input(lambda w, c, h: [*_p(w), "copy", "-q", "--src-shared-blob-dir", h,
                                                         f"oci:{w.oci}:1", f"dir:{c.dest}"], directory=True,
                                        # oci_layout._blob_path: a blob not in the shared directory is read from blobs/
                                        accepted=frozenset(DIR_KINDS)),
    "inspect --shared-blob-dir": Input(lambda w, c, h: [*_p(w), "inspect", "--shared-blob-dir", h,
                                                        f"oci:{w.oci}:1"], directory=True,
                                       accepted=frozenset(DIR_KINDS)),
    "copy --dest-shared-blob-dir": Input(lambda w, c, h: [*_p(w), "copy", "-q", "--dest-shared-blob-dir", h,
                                                          f"dir:{w.src}", f"oci:{c.dest}:1"], directory=True),
    "copy dir:SOURCE": Input(lambda w, c, h: [*_p(w), "copy", "-q", f"dir:{h}", f"dir:{c.dest}"], directory=True),
    "copy oci:SOURCE": Input(lambda w, c, h: [*_p(w), "copy", "-q", f"oci:{h}:1", f"dir:{c.dest}"], directory=True),
    "copy docker-archive:SOURCE": Input(lambda w, c, h: [*_p(w), "copy", "-q", f"docker-archive:{h}",
                                                         f"dir:{c.dest}"]),
    "copy oci-archive:SOURCE": Input(lambda w, c, h: [*_p(w), "copy", "-q", f"oci-archive:{h}", f"dir:{c.dest}"]),
    # Any file is a layer (so a 100 MB one is copied, streamed: not repeated here, tests of tarball: do).
    "copy tarball:SOURCE": Input(lambda w, c, h: [*_p(w), "copy", "-q", f"tarball:{h}", f"dir:{c.dest}"],
                                 accepted=frozenset({"empty"}),
                                 kinds=tuple(k for k in FILE_KINDS if k != "sparse-100m")),
    "inspect oci:IMAGE": Input(lambda w, c, h: [*_p(w), "inspect", f"oci:{h}:1"], directory=True),
    "list-tags docker-archive:SOURCE": Input(lambda w, c, h: [*_p(w), "list-tags", f"docker-archive:{h}"]),
    "delete oci:IMAGE": Input(lambda w, c, h: [*_p(w), "delete", f"oci:{h}:1"], directory=True),
    "verify dir:IMAGE": Input(lambda w, c, h: [*_p(w), "verify", f"dir:{h}"], directory=True),
    "sync --src yaml SOURCE": Input(lambda w, c, h: [*_p(w), "sync", "--src", "yaml", "--dest", "dir", h,
                                                     str(c.dest)],
                                    accepted=frozenset({"empty"})),  # no registries: nothing to do, as skopeo
    "sync --src dir SOURCE": Input(lambda w, c, h: [*_p(w), "sync", "--src", "dir", "--dest", "docker", h,
                                                    "127.0.0.1:9/hostile"], directory=True),
    "policy test CASES": Input(lambda w, c, h: [*_p(w), "policy", "test", h]),
}


def plant_cases(c: Case) -> Path:
    """A policy-test file whose one case needs the registry (so the auth file is read)."""
    path = c.dir / "cases.yaml"
    path.write_text(f"cases:\n  - image: {REG}\n    expect: accepted\n")
    return path


def _named(outcome: Outcome, path: str) -> bool:
    text = outcome.out + outcome.err
    return path in text or repr(path) in text


def _check_common(outcome: Outcome, what: str) -> None:
    text = outcome.out + outcome.err
    assert outcome.status is not None, f"{what}: hung for {ALARM_SECONDS:g} s"
    assert outcome.seconds < QUICK, f"{what}: took {outcome.seconds:.1f} s: {text[-600:]}"
    assert "Traceback" not in text, f"{what}: {text[-2000:]}"
    assert outcome.rss_growth_kib < RSS_GROWTH_KIB, f"{what}: peak RSS grew by {outcome.rss_growth_kib} KiB"


def _warm_up(name: str, world: World, tmp: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    """Run the command once as root on a readable file first: every module it imports is then loaded
    (the unprivileged uid cannot read this interpreter's standard library under /root)."""
    spec = INPUTS[name]
    warm = tmp / "warm"
    warm.mkdir()
    h = warm / "h"
    if spec.directory:
        h.mkdir()
    else:
        h.write_text("{}\n")
    warm_case = Case(warm, env)
    argv = spec.build(world, warm_case, str(h))
    warm_env = dict(env)
    if spec.env:
        warm_env[spec.env] = str(h)
    run_cli(argv, warm_env, capsys)
    run_cli(["--policy", "/nonexistent/policy.json", "copy", "dir:/nonexistent", "dir:/nonexistent2"], env, capsys)


INPUT_CASES = [(name, kind) for name, spec in INPUTS.items()
               for kind in (spec.kinds or (DIR_KINDS if spec.directory else FILE_KINDS))]


@pytest.mark.parametrize(("name", "kind"), INPUT_CASES, ids=[f"{n} = {k}" for n, k in INPUT_CASES])
def test_hostile_input(world: World, case: Case, capsys: pytest.CaptureFixture[str], name: str, kind: str) -> None:
    spec = INPUTS[name]
    h = plant(case.dir / "h", kind)
    env = dict(case.env)
    if spec.env:
        env[spec.env] = str(h)
    as_user = None
    if kind.startswith("eacces") and os.geteuid() == 0:
        _warm_up(name, world, case.dir, capsys, case.env)
        as_user = UNPRIVILEGED
    outcome = run_cli(spec.build(world, case, str(h)), env, capsys, as_user=as_user)
    what = f"{name} = {kind}"
    _check_common(outcome, what)
    text = outcome.out + outcome.err
    if kind in spec.accepted:
        return  # valid content: whatever the command does next, it did it quickly and cleanly
    assert outcome.status != 0, f"{what}: exited 0: {text[-600:]}"
    if kind in spec.absent:
        assert not _named(outcome, str(h)) or "warning" in text.lower(), f"{what}: {text[-600:]}"
        assert spec.went_on in text, f"{what}: did not go on as without the file: {text[-600:]}"
    else:
        assert "error[" in text and _named(outcome, str(h)), f"{what}: the path is not named: {text[-800:]}"
    assert not case.dest.exists() and not case.dest.with_suffix(".private").exists(), f"{what}: destination written"
    assert not [p.name for p in case.dir.iterdir() if p.name.startswith(".trustcopy-staging")], what


# -- outputs -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """One output path: the command, where ``h`` goes (``planted``: PREFIX.private for key files),
    and what skopeo does with a symlink to an unrelated file there (``follows``: writes through it)."""

    build: Build
    planted: Callable[[Path], Path] = lambda h: h
    follows_symlink: bool = False
    #: kinds after which success is right (an existing empty directory takes an OCI layout, as skopeo)
    accepted: frozenset[str] = frozenset()


OUTPUTS: dict[str, Output] = {
    # fsutil.write_user_file: os.WriteFile in skopeo, which follows a symlink
    "copy --digestfile": Output(lambda w, c, h: _copy_local(w, c, "--digestfile", h), follows_symlink=True),
    "verify --digestfile": Output(lambda w, c, h: [*_p(w), "verify", "--digestfile", h, f"dir:{w.src}"],
                                  follows_symlink=True),
    "sync --digestfile": Output(lambda w, c, h: [*_p(w), "sync", "--src", "yaml", "--dest", "dir", "--digestfile", h,
                                                 str(_empty_yaml(c)), str(c.dest)], follows_symlink=True,
                                accepted=frozenset({"dev-full"})),  # no image, no digest: nothing to write
    # c/image modifyJSON: ioutils.AtomicWriteFile replaces the symlink itself
    "logout --authfile": Output(lambda w, c, h: ["logout", "--authfile", h, "example.com"]),
    "generate-sigstore-key --output-prefix": Output(
        lambda w, c, h: ["generate-sigstore-key", "--output-prefix", str(Path(h).with_suffix("")),
                         "--passphrase-file", str(w.passphrase)], planted=lambda h: h.with_suffix(".private")),
    "copy dir:DEST": Output(lambda w, c, h: [*_p(w), "copy", "-q", f"dir:{w.src}", f"dir:{h}"]),
    "copy oci:DEST": Output(lambda w, c, h: [*_p(w), "copy", "-q", f"dir:{w.src}", f"oci:{h}:1"],
                            accepted=frozenset({"directory"})),
    "copy docker-archive:DEST": Output(lambda w, c, h: [*_p(w), "copy", "-q", f"dir:{w.src}", f"docker-archive:{h}"]),
    "copy oci-archive:DEST": Output(lambda w, c, h: [*_p(w), "copy", "-q", f"dir:{w.src}", f"oci-archive:{h}"]),
}

def _empty_yaml(c: Case) -> Path:
    """A sync YAML naming no registry: the sync succeeds at once and writes its (empty) digest file."""
    path = c.dir / "sync.yaml"
    path.write_text("{}\n")
    path.chmod(0o644)
    return path


VICTIM = b'{"auths": {"example.com": {"auth": "dTpw"}}}\n'


@pytest.mark.parametrize("kind", OUT_KINDS)
@pytest.mark.parametrize("name", list(OUTPUTS))
def test_hostile_output(world: World, case: Case, capsys: pytest.CaptureFixture[str], name: str, kind: str) -> None:
    spec = OUTPUTS[name]
    victim = case.dir / "victim"
    victim.write_bytes(VICTIM)
    victim.chmod(0o644)
    where = case.dir
    as_user = None
    if kind == "read-only-dir":
        where = case.dir / "ro"
        where.mkdir(mode=0o555)
        where.chmod(0o555)
        if os.geteuid() == 0:
            as_user = UNPRIVILEGED
    h = where / "h"
    target = spec.planted(h)
    if kind == "outside-symlink":
        target.symlink_to(victim)
    elif kind == "directory":
        target.mkdir()
        if name != "copy oci:DEST":
            (target / "unrelated").write_text("unrelated\n")
    elif kind != "read-only-dir":
        plant(target, {"dev-full": "dev-full"}.get(kind, kind))
    if as_user:
        warm = case.dir / "warm"
        warm.mkdir()
        run_cli(spec.build(world, Case(warm, case.env), str(warm / "h")), case.env, capsys)
    before = os.lstat(target) if os.path.lexists(target) else None
    outcome = run_cli(spec.build(world, case, str(h)), case.env, capsys, as_user=as_user)
    what = f"{name} = {kind}"
    _check_common(outcome, what)
    text = outcome.out + outcome.err
    if kind == "outside-symlink" and spec.follows_symlink:
        # skopeo's os.WriteFile writes where the link leads; so does trustcopy (the user's choice of file).
        assert outcome.status == 0, f"{what}: {text[-600:]}"
        assert target.is_symlink() and victim.read_bytes() != VICTIM, what
        return
    if kind == "outside-symlink" and name == "logout --authfile":
        # as c/image's AtomicWriteFile: the link is replaced by the rewritten file, its target untouched
        assert outcome.status == 0, f"{what}: {text[-600:]}"
        assert not target.is_symlink() and victim.read_bytes() == VICTIM, what
        return
    assert victim.read_bytes() == VICTIM, f"{what}: an unrelated file was overwritten"
    if kind in spec.accepted:
        assert outcome.status == 0, f"{what}: {text[-600:]}"
        return
    assert outcome.status != 0, f"{what}: exited 0: {text[-600:]}"
    shown = str(where) if kind == "read-only-dir" else str(target)
    assert "error[" in text and (shown in text or str(h) in text), f"{what}: the path is not named: {text[-800:]}"
    if before is not None:  # what was there is left as it was
        after = os.lstat(target)
        assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size), what
    leftovers = [p.name for p in [*case.dir.iterdir(), *(where.iterdir() if where != case.dir else [])]
                 if p.name.startswith(".trustcopy-staging") or p.name.endswith(".pub")]
    assert not leftovers, f"{what}: left {leftovers}"
    if kind == "read-only-dir":
        assert list(where.iterdir()) == [], f"{what}: wrote into the read-only directory"


# -- the tables cover every path option of the click tree ------------------------------------------------------------

#: Option/argument names that name a file or directory, by what the name says.
_PATHY = ("file", "dir", "path", "policy", "registries", "key", "output", "digestfile", "tmpdir", "prefix",
          "manifest", "signature", "cases")
#: Names matching those words that are not paths (a fingerprint list, an output format, a boolean).
_NOT_PATHS = {"--insecure-policy", "--user-agent-prefix", "--dest-oci-accept-uncompressed-layers",
              "--sign-by", "--sign-identity", "--encrypt-layer", "--manifest-digest", "--remove-signatures",
              "--preserve-digests", "--dest-precompute-digests", "--require-signed"}
#: Path options covered through the same reader as a listed one (same function, same code path).
_SAME_READER = {
    "--compat-auth-file": "logout --compat-auth-file",
    "--authfile": "copy --authfile",
    "--cert-dir": "inspect --cert-dir",
    "--shared-blob-dir": "inspect --shared-blob-dir",
    "--passphrase-file": "standalone-sign --passphrase-file",
    "--public-key-file": "standalone-verify --public-key-file",
    "--output-prefix": "generate-sigstore-key --output-prefix",
    "--sign-by-sigstore-private-key": "copy --sign-by-sigstore-private-key",
    "--sign-by-sigstore": "copy --sign-by-sigstore",
    "--sign-passphrase-file": "copy --sign-passphrase-file",
    "--src-authfile": "copy --src-authfile",
    "--dest-authfile": "copy --dest-authfile",
    "--src-cert-dir": "copy --src-cert-dir",
    "--dest-cert-dir": "copy --dest-cert-dir",
    "--src-shared-blob-dir": "copy --src-shared-blob-dir",
    "--dest-shared-blob-dir": "copy --dest-shared-blob-dir",
    "--encryption-key": "copy --encryption-key",
    "--decryption-key": "copy --decryption-key",
    "--digestfile": "copy --digestfile",
    "--output": "copy --digestfile",  # standalone-sign -o: the same fsutil.write_user_file
    "--policy": "--policy",
    "--registries.d": "--registries.d",
    "--registries-conf": "--registries-conf",
    "--tmpdir": "--tmpdir",
    "manifest_path": "manifest-digest MANIFEST",
    "cases_file": "policy test CASES",
}


def test_every_path_option_is_in_a_table() -> None:
    import click

    from trustcopy.cli.app import cli

    ctx = click.Context(cli)
    listed = set(INPUTS) | set(OUTPUTS)
    missing: list[str] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        for param in cmd.params:
            opt = max(param.opts, key=len)
            if isinstance(param.type, click.Choice) or getattr(param, "is_flag", False):
                continue  # a format or a boolean
            words = (opt + " " + (param.name or "")).lower()
            if opt in _NOT_PATHS or not any(w in words for w in _PATHY):
                continue
            covered = _SAME_READER.get(opt) or _SAME_READER.get(param.name or "")
            if covered is None or covered not in listed:
                missing.append(f"{' '.join(path)} {opt}")
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                got = cmd.get_command(ctx, sub)
                assert got is not None
                walk(got, [*path, sub])

    walk(cli, [])
    assert not missing, f"path options not in INPUTS/OUTPUTS: {sorted(set(missing))}"


def test_sparse_input_is_refused_by_its_size_not_read(world: World, case: Case,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # The RSS bound above would let a 40 MB read through; a 4 GiB sparse --policy shows no read at all.
    h = case.dir / "big.json"
    with open(h, "wb") as f:
        f.truncate(4 << 30)
    outcome = run_cli(["--policy", str(h), "copy", f"dir:{world.src}", f"dir:{case.dest}"], case.env, capsys)
    _check_common(outcome, "4 GiB --policy")
    assert outcome.status == 1 and "larger than" in outcome.err and str(h) in outcome.err

