"""``kill -9`` of trustcopy itself at random points of its run, for every kind of destination.

The promises under test: nothing is committed at a destination until every blob has been
verified, nothing is ever half written there, and whatever a ``kill -9`` leaves behind is
hidden staging that the next run of the same command removes. For each kind below, the
command is run once whole to measure it, then started again and again and killed with
SIGKILL after a delay spread over that run time (a fixed list of seeds: the test is
deterministic in its choice of points, if not in where the scheduler lands them). After
each kill:

- the destination is exactly its previous state, or a complete image that skopeo 1.9.3
  reads (``skopeo inspect``, then ``skopeo copy`` into a directory, which checks every
  blob's digest); a layout's other image is intact;
- nothing but staging entries (``.trustcopy-staging-*``) is left beside the destination,
  and in a layout no file that its index does not reach once the next run is done;
- an auth file is always whole JSON, old or new; a key pair is never half there;
- a rerun of the same command succeeds and removes what the killed run left.

Timed kills land where the scheduler puts them; a second sweep pins each kill to a
filesystem step instead: the command runs under a launcher that counts its
filesystem-changing calls (open for writing, fdopen for writing, rename, link, unlink,
mkdir, rmdir, fsync, chmod) in every thread and SIGKILLs itself just before the Nth, so a point between two
renames of a commit is hit every time, not by luck.

``KILL9_POINTS`` (environment) sets the number of points per kind (default 2 for the step sweep,
one for the timed one: the committed run); ``KILL9_ALL_STEPS=1`` kills at every step of the step sweep (hunting).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Layer, make_image, make_tar, random_layer, write_dir, write_oci
from registry_fixtures import USERS, RegistryServer, _require_registry, running

from trustcopy.fsutil import STAGING_PREFIX

pytestmark = [pytest.mark.registry, pytest.mark.skopeo, pytest.mark.gpg]

ROOT = Path(__file__).resolve().parents[2]
FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
POINTS = int(os.environ.get("KILL9_POINTS", "2"))
#: Seeds of the kill points: the first POINTS of them (the committed run), or more for a hunt.
SEEDS = [11, 29, *range(1000, 1000 + max(0, POINTS - 2))][:POINTS]


# -- what each kind runs and checks ---------------------------------------------------------------


@dataclasses.dataclass
class Kind:
    """One destination kind: how to (re)set its previous state, the command, and the invariant."""

    name: str
    #: (re)create the previous state of the destination under ``out`` (an empty directory).
    setup: Callable[[Path], None]
    #: the trustcopy arguments (after the global options) writing into ``out``.
    args: Callable[[Path], list[str]]
    #: assert the destination is its previous state or whole; ``final`` after a completed run.
    check: Callable[[Path, bool], None]
    stdin: bytes | None = None
    #: names in ``out`` that belong to the destination (everything else must be staging).
    owned: tuple[str, ...] = ()
    #: a command that refuses to run twice (``generate-sigstore-key``, a new docker-archive, as
    #: skopeo): (what it wrote, the rerun's error code); once that is there (whole, as ``check``
    #: proved), a rerun must refuse with that code.
    once: tuple[str, bytes] | None = None


@dataclasses.dataclass
class World:
    """What the kinds share: the source images, a registry, a GnuPG home, a policy."""

    tmp: Path
    registry: RegistryServer
    home: GPGHome
    policy: Path
    #: a registry with htpasswd auth (login)
    auth_registry: RegistryServer
    #: the manifest a whole copy of the source into dir: writes, its digest, and the old image's
    src_manifest: bytes = b""
    src_digest: str = ""
    old_digest: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**self.home.env, "PYTHONPATH": str(ROOT)}


def _skopeo(world: World, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False,
                          env=world.env)
    if check:
        assert done.returncode == 0, f"skopeo {' '.join(args)}: {done.stderr}"
    return done


def _skopeo_reads(world: World, ref: str, *, tls: bool = False) -> str:
    """``skopeo inspect`` then a whole ``skopeo copy`` of ``ref`` (every blob digest-checked); its digest."""
    flags = ["--tls-verify=false"] if tls else []
    digest = _skopeo(world, "inspect", *flags, "--format", "{{.Digest}}", ref).stdout.strip()
    target = world.tmp / "skopeo-read"
    shutil.rmtree(target, ignore_errors=True)
    src_flags = ["--src-tls-verify=false"] if tls else []
    _skopeo(world, "--policy", str(world.policy), "copy", "-q", *src_flags, ref, f"dir:{target}")
    shutil.rmtree(target)
    return digest


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _oci_reachable(layout: Path) -> set[str]:
    """Every blob file name (``sha256/HEX``) the layout's index reaches."""
    seen: set[str] = set()
    stack = list(json.loads((layout / "index.json").read_bytes())["manifests"])
    while stack:
        desc = stack.pop()
        algo, _, hex_ = desc["digest"].partition(":")
        name = f"{algo}/{hex_}"
        if name in seen:
            continue
        seen.add(name)
        if desc.get("mediaType", "").endswith(("manifest.v1+json", "index.v1+json")):
            doc = json.loads((layout / "blobs" / name).read_bytes())
            stack += doc.get("manifests", []) + doc.get("layers", []) + ([doc["config"]] if "config" in doc else [])
    return seen


def _oci_blob_files(layout: Path) -> set[str]:
    return {str(p.relative_to(layout / "blobs")) for p in (layout / "blobs").rglob("*") if p.is_file()}


def _staging_only(names: list[str]) -> bool:
    return all(name.startswith(STAGING_PREFIX) for name in names)


# -- the kinds ----------------------------------------------------------------------------------------


def _kinds(world: World) -> dict[str, Kind]:
    src = f"oci:{world.tmp}/src:big"
    policy = ["--policy", str(world.policy)]
    host = world.registry.host
    old_dir = world.tmp / "old-dir"
    kinds: list[Kind] = []

    def copy_to(dest: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
        return lambda out: [*policy, "copy", "-q", *extra, src, dest(out)]

    # dir: new
    def check_dir_new(out: Path, final: bool) -> None:
        if final or (out / "image").exists():
            _skopeo_reads(world, f"dir:{out}/image")
            assert (out / "image" / "manifest.json").read_bytes() == world.src_manifest

    kinds.append(Kind("dir-new", lambda out: None, copy_to(lambda out: f"dir:{out}/image"), check_dir_new,
                      owned=("image",)))

    # dir: replacing an existing image
    def setup_dir_old(out: Path) -> None:
        shutil.copytree(old_dir, out / "image")

    def check_dir_replace(out: Path, final: bool) -> None:
        if not final and _tree(out / "image") == _tree(old_dir):
            return
        _skopeo_reads(world, f"dir:{out}/image")
        fresh = _tree(out / "image")
        assert fresh["manifest.json"] == world.src_manifest
        # exactly the new image: no file of the old one left in it
        assert not set(fresh) - set(_tree(world.tmp / "ref-dir")), sorted(fresh)

    kinds.append(Kind("dir-replace", setup_dir_old, copy_to(lambda out: f"dir:{out}/image"), check_dir_replace,
                      owned=("image",)))

    # oci: adding to a layout holding another image
    def setup_layout(out: Path) -> None:
        shutil.copytree(world.tmp / "other-layout", out / "layout")

    def check_layout(out: Path, final: bool) -> None:
        layout = out / "layout"
        _skopeo_reads(world, f"oci:{layout}:other")
        index = json.loads((layout / "index.json").read_bytes())
        tags = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
        assert sorted(tags, key=str) == (["other", "x"] if final or "x" in tags else ["other"])
        if "x" in tags:
            _skopeo_reads(world, f"oci:{layout}:x")
        if final:
            # A blob the killed run moved in before its index was written is referenced now.
            assert _oci_blob_files(layout) == _oci_reachable(layout)

    kinds.append(Kind("oci-add", setup_layout, copy_to(lambda out: f"oci:{out}/layout:x"), check_layout,
                      owned=("layout",)))

    # archives, new files
    def check_archive(ref: Callable[[Path], str], name: str) -> Callable[[Path, bool], None]:
        def check(out: Path, final: bool) -> None:
            if final or (out / name).exists():
                _skopeo_reads(world, ref(out))
        return check

    kinds.append(Kind("oci-archive", lambda out: None, copy_to(lambda out: f"oci-archive:{out}/a.tar:x"),
                      check_archive(lambda out: f"oci-archive:{out}/a.tar:x", "a.tar"), owned=("a.tar",)))
    kinds.append(Kind("docker-archive", lambda out: None, copy_to(lambda out: f"docker-archive:{out}/d.tar:app:1"),
                      check_archive(lambda out: f"docker-archive:{out}/d.tar", "d.tar"), owned=("d.tar",),
                      once=("d.tar", b"archive-exists")))

    # docker://, replacing a tag that holds another image
    def registry_ref(out: Path) -> str:
        return f"docker://{host}/{out.name}/app:1"

    def setup_registry(out: Path) -> None:
        _skopeo(world, "--policy", str(world.policy), "copy", "-q", "--dest-tls-verify=false",
                f"dir:{old_dir}", registry_ref(out))

    def check_registry(out: Path, final: bool) -> None:
        digest = _skopeo_reads(world, registry_ref(out), tls=True)
        assert digest == world.src_digest or (not final and digest == world.old_digest), digest

    kinds.append(Kind("docker", setup_registry,
                      lambda out: [*policy, "copy", "-q", "--dest-tls-verify=false", src, registry_ref(out)],
                      check_registry))

    # sync from the registry to a directory
    sync_repo = f"{host}/syncsrc/app"

    def check_sync(out: Path, final: bool) -> None:
        image = out / "sync" / host / "syncsrc" / "app:1"
        for parent in (out / "sync", out / "sync" / host, out / "sync" / host / "syncsrc"):
            names = os.listdir(parent) if parent.exists() else []
            assert _staging_only([n for n in names if n not in (host, "syncsrc", "app:1")]), names
        if final or image.exists():
            _skopeo_reads(world, f"dir:{image}")

    kinds.append(Kind("sync-dir", lambda out: (out / "sync").mkdir(),
                      lambda out: [*policy, "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false",
                                   "--scoped", sync_repo, f"{out}/sync"],
                      check_sync, owned=("sync",)))

    # copy --sign-by into dir:
    def check_signed_dir(out: Path, final: bool) -> None:
        if final or (out / "image").exists():
            _skopeo_reads(world, f"dir:{out}/image")
            sig = out / "image" / "signature-1"
            assert sig.exists(), "a committed signed image without its signature"
            _verify_signature(world, sig.read_bytes(), "registry.example.com/app:1")

    kinds.append(Kind("dir-signed", lambda out: None,
                      lambda out: [*policy, "copy", "-q", "--sign-by", FPR, "--sign-identity",
                                   "registry.example.com/app:1", src, f"dir:{out}/image"],
                      check_signed_dir, owned=("image",)))

    # copy --sign-by into a registry, signatures in a file lookaside
    def registries_d(out: Path) -> Path:
        return out.parent / f"{out.name}-registries.d"

    def setup_lookaside(out: Path) -> None:
        (out / "store").mkdir()
        conf = registries_d(out)
        shutil.rmtree(conf, ignore_errors=True)
        conf.mkdir()
        (conf / "d.yaml").write_text(f"docker:\n  {host}:\n    lookaside-staging: file://{out}/store\n")

    def check_lookaside(out: Path, final: bool) -> None:
        ref = f"docker://{host}/{out.name}/signed:1"
        done = _skopeo(world, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", ref, check=False)
        if not final and done.returncode != 0:
            assert "manifest unknown" in done.stderr, done.stderr
            return
        _skopeo_reads(world, ref, tls=True)
        sigs = sorted((out / "store").rglob("signature-*"))
        if final:
            assert len(sigs) == 1, sigs
        for sig in sigs:
            _verify_signature(world, sig.read_bytes(), f"{host}/{out.name}/signed:1")

    kinds.append(Kind("docker-signed", setup_lookaside,
                      lambda out: [*policy, "--registries.d", str(registries_d(out)), "copy", "-q",
                                   "--dest-tls-verify=false", "--sign-by", FPR, src,
                                   f"docker://{host}/{out.name}/signed:1"],
                      check_lookaside, owned=("store",)))

    # login writing an auth file that holds another entry
    def setup_auth(out: Path) -> None:
        (out / "auth.json").write_text(json.dumps({"auths": {"other.example": {"auth": "b3RoZXI6cHc="}}}, indent=1))

    def check_auth(out: Path, final: bool) -> None:
        doc = json.loads((out / "auth.json").read_bytes())  # never half JSON
        assert "other.example" in doc["auths"]
        if final:
            assert world.auth_registry.host in doc["auths"]

    user, password = next(iter(USERS.items()))
    kinds.append(Kind("login", setup_auth,
                      lambda out: ["login", "--tls-verify=false", "--authfile", f"{out}/auth.json", "--username", user,
                                   "--password-stdin", world.auth_registry.host],
                      check_auth, stdin=password.encode(), owned=("auth.json",)))

    # standalone-sign -o, replacing an older signature file
    def setup_sign(out: Path) -> None:
        (out / "sig").write_bytes(b"an older signature")

    def check_sign(out: Path, final: bool) -> None:
        data = (out / "sig").read_bytes()
        if not final and data == b"an older signature":
            return
        _verify_signature(world, data, "registry.example.com/app:1", old_dir / "manifest.json")

    kinds.append(Kind("standalone-sign", setup_sign,
                      lambda out: ["standalone-sign", "-o", f"{out}/sig", f"{old_dir}/manifest.json",
                                   "registry.example.com/app:1", FPR],
                      check_sign, owned=("sig",)))

    # generate-sigstore-key
    def setup_key(out: Path) -> None:
        (out.parent / f"{out.name}-pass").write_text("pw\n")

    def check_key(out: Path, final: bool) -> None:
        present = sorted(n for n in os.listdir(out) if not n.startswith(STAGING_PREFIX))
        if not final and not present:
            return
        from trustcopy.signature.sigstore_keys import SIGSTORE_PEM_TYPE, load_public_key, pem_blocks

        # Killed between the two links (write_key_pair): the whole private key alone, never a part of one.
        if final or present != ["key.private"]:
            assert present == ["key.private", "key.pub"], f"half a key pair: {present}"
            load_public_key((out / "key.pub").read_bytes(), "key.pub")
        # (one whole PEM block; decrypting it, scrypt, would cost a second a check)
        [(pem_type, body)] = pem_blocks((out / "key.private").read_bytes(), "key.private")
        assert pem_type == SIGSTORE_PEM_TYPE and json.loads(body)["ciphertext"]

    kinds.append(Kind("generate-sigstore-key", setup_key,
                      lambda out: ["generate-sigstore-key", "--output-prefix", f"{out}/key",
                                   "--passphrase-file", str(out.parent / f"{out.name}-pass")],
                      check_key, owned=("key.private", "key.pub"), once=("key.private", b"sigstore-key-exists")))
    return {k.name: k for k in kinds}


def _verify_signature(world: World, blob: bytes, identity: str, manifest: Path | None = None) -> None:
    """The signature file is a whole, good signature of ``manifest`` (skopeo's standalone-verify)."""
    path = world.tmp / "verify-sig"
    path.write_bytes(blob)
    _skopeo(world, "standalone-verify", str(manifest or world.tmp / "ref-dir" / "manifest.json"), identity, FPR,
            str(path))


# -- the world -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, example_home: GPGHome) -> Iterator[World]:
    _require_registry()
    tmp = tmp_path_factory.mktemp("kill9")
    big = make_image([random_layer(2_000_000, seed) for seed in (1, 2, 3)])
    write_oci({"big": big}, str(tmp / "src"))
    old = make_image([Layer(make_tar([("old", b"the previous image")]))])
    write_dir(old, str(tmp / "old-dir"))
    write_oci({"other": make_image([Layer(make_tar([("o", b"other")]))])}, str(tmp / "other-layout"))
    policy = tmp / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    from registry_fixtures import _HTPASSWD

    with running(RegistryServer(tmp_path_factory.mktemp("kill9-registry"))) as registry:
        auth_work = tmp_path_factory.mktemp("kill9-auth-registry")
        (auth_work / "htpasswd").write_text(_HTPASSWD)
        with running(RegistryServer(auth_work, auth={"htpasswd": {"realm": "r", "path": str(auth_work / "htpasswd")}})
                     ) as auth_registry:
            w = World(tmp, registry, example_home, policy, auth_registry)
            # A reference copy of the source into dir: (what a whole copy writes) and the digests.
            _skopeo(w, "--policy", str(policy), "copy", "-q", f"oci:{tmp}/src:big", f"dir:{tmp}/ref-dir")
            w.src_manifest = (tmp / "ref-dir" / "manifest.json").read_bytes()
            w.src_digest = "sha256:" + hashlib.sha256(w.src_manifest).hexdigest()
            old_manifest = (tmp / "old-dir" / "manifest.json").read_bytes()
            w.old_digest = "sha256:" + hashlib.sha256(old_manifest).hexdigest()
            _skopeo(w, "--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", f"oci:{tmp}/src:big",
                    f"docker://{registry.host}/syncsrc/app:1")
            yield w


# -- the sweep -----------------------------------------------------------------------------------------


#: Runs trustcopy with its filesystem-changing calls counted; with KILL9_STEP=N it SIGKILLs itself
#: just before the Nth (a kill pinned to a commit step, which a timer hits only by luck); the
#: count goes to KILL9_COUNT at exit. Calls of every thread count, under a lock.
LAUNCHER = r"""
import os, shutil, signal, sys, threading
step, count_file, lock, n = int(os.environ.get("KILL9_STEP", "0")), os.environ.get("KILL9_COUNT"), threading.Lock(), [0]
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC
def hook(name, test=None):
    real = getattr(os, name)
    def wrapped(*args, **kwargs):
        if test is None or test(*args, **kwargs):
            with lock:
                n[0] += 1
                if n[0] == step:
                    os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, wrapped)
for name in ("replace", "rename", "link", "unlink", "rmdir", "mkdir", "fsync", "fchmod", "chmod", "ftruncate"):
    hook(name)
hook("open", lambda path, flags, *a, **k: bool(flags & WRITE))
hook("fdopen", lambda fd, mode="r", *a, **k: "r" not in mode or "+" in mode)  # created, nothing written yet
def record():
    if count_file:
        with open(count_file, "w") as f:
            f.write(str(n[0]))
real_exit = os._exit
def exiting(code):
    record()
    real_exit(code)
os._exit = exiting
import atexit
atexit.register(record)
from trustcopy.cli.main import entrypoint
sys.argv[0] = "trustcopy"
entrypoint()
"""


def _run(world: World, kind: Kind, out: Path, step: int | None = None,
         count: Path | None = None) -> subprocess.Popen[bytes]:
    env = world.env
    cmd = [sys.executable, "-m", "trustcopy"]
    if step is not None or count is not None:
        cmd = [sys.executable, "-c", LAUNCHER]
        env = {**env, "KILL9_STEP": str(step or 0), "KILL9_COUNT": str(count or "")}
    return subprocess.Popen([*cmd, *kind.args(out)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _whole_run(world: World, kind: Kind, out: Path) -> float:
    start = time.monotonic()
    proc = _run(world, kind, out)
    _, err = proc.communicate(kind.stdin, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, f"{kind.name}: {err.decode(errors='replace')}"
    return elapsed


def _fresh(world: World, kind: Kind, label: str) -> Path:
    out = world.tmp / "runs" / f"{kind.name}-{label}"
    out.mkdir(parents=True)
    kind.setup(out)
    return out


def _leftovers(kind: Kind, out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out) if n not in kind.owned)


def _count_steps(world: World, kind: Kind) -> int:
    """How many filesystem-changing calls a whole run of ``kind`` makes (LAUNCHER)."""
    count = world.tmp / f"count-{kind.name}"
    proc = _run(world, kind, _fresh(world, kind, "count"), count=count)
    _, err = proc.communicate(kind.stdin, timeout=120)
    assert proc.returncode == 0, f"{kind.name}: {err.decode(errors='replace')}"
    return int(count.read_text())


def sweep(world: World, kind: Kind, seeds: list[int], *, steps: bool = False) -> list[tuple[float, list[str]]]:
    """Kill ``kind``'s command at each seed's point (a delay, or with ``steps`` a filesystem step);
    return (point, leftovers) per point."""
    total = _count_steps(world, kind) if steps else _whole_run(world, kind, _fresh(world, kind, "measure"))
    assert total > 0, f"{kind.name}: no filesystem step counted"
    points: list[tuple[float, list[str]]] = []
    chosen = [(seed, float(random.Random(seed).randint(1, int(total))) if steps
               else random.Random(seed).uniform(0.0, 1.1 * total)) for seed in seeds]
    if steps and os.environ.get("KILL9_ALL_STEPS"):  # hunting: every step, once
        chosen = [(0, float(step)) for step in range(1, int(total) + 1)]
    for seed, point in chosen:
        out = _fresh(world, kind, f"{'n' if steps else 's'}{seed}-{point:.3f}")
        proc = _run(world, kind, out, step=int(point) if steps else None)
        if kind.stdin is not None and proc.stdin is not None:
            proc.stdin.write(kind.stdin)
            proc.stdin.close()
        if not steps:
            time.sleep(point)
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        left = _leftovers(kind, out)
        what = f"step {int(point)} of {int(total)}" if steps else f"after {point:.3f}s of {total:.3f}s"
        context = f"{kind.name}, seed {seed}, killed {what} (rc {proc.returncode})"
        assert _staging_only(left), f"{context}: left {left}"
        try:
            kind.check(out, proc.returncode == 0)
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from exc
        done_already = kind.once is not None and (out / kind.once[0]).exists()
        again = _run(world, kind, out)
        _, err = again.communicate(kind.stdin, timeout=120)
        if done_already:
            assert kind.once is not None and again.returncode == 1 and kind.once[1] in err, f"{context}: {err!r}"
        else:
            assert again.returncode == 0, f"{context}: the rerun failed: {err.decode(errors='replace')}"
        kind.check(out, not done_already)
        assert _leftovers(kind, out) == [], f"{context}: the rerun left {_leftovers(kind, out)} (killed run: {left})"
        points.append((point, left))
    return points


KIND_NAMES = ["dir-new", "dir-replace", "oci-add", "oci-archive", "docker-archive", "docker", "sync-dir",
              "dir-signed", "docker-signed", "login", "standalone-sign", "generate-sigstore-key"]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_kill9_at_random_points_leaves_old_or_whole_and_a_rerun_cleans_up(world: World, name: str) -> None:
    kind = _kinds(world)[name]
    sweep(world, kind, SEEDS[:max(1, POINTS - 1)])  # (one point by default: the step sweep is the thorough one)


@pytest.mark.parametrize("name", [n for n in KIND_NAMES if n != "docker"])  # (a push writes no local file)
def test_kill9_at_filesystem_steps_leaves_old_or_whole_and_a_rerun_cleans_up(world: World, name: str) -> None:
    kind = _kinds(world)[name]
    sweep(world, kind, SEEDS, steps=True)


def test_key_pair_on_a_filesystem_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_key_pair links each staged key to its name; where links are refused (vfat, some FUSE:
    EPERM) it writes the key in place, exclusively, as before: still a whole pair, no staging left."""
    import errno

    from trustcopy.signature.sigstore_keys import load_private_key, load_public_key, write_key_pair

    def no_links(src: str, dst: str) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    private, public = write_key_pair(str(tmp_path / "key"), b"pw")
    assert sorted(os.listdir(tmp_path)) == ["key.private", "key.pub"]
    assert os.stat(private).st_mode & 0o777 == 0o600
    load_private_key(Path(private).read_bytes(), b"pw", private)
    load_public_key(Path(public).read_bytes(), public)
