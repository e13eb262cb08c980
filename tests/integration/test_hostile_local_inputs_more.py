"""More hostile local inputs: image-directory members, user-named output files, NUL bytes in names, deep trees.

tests/integration/test_hostile_key_inputs.py covers key, credential and certificate files; this
file covers what it leaves: every member of a ``dir:`` / ``oci:`` image as a FIFO nobody writes,
a character device, a directory, a symlink loop or an 8 GiB sparse file; ``--digestfile`` and
``standalone-sign -o`` given a pipe (``>(cmd)``, ``/dev/stdout``: must work, as in skopeo), a
FIFO nobody reads (must fail in seconds: skopeo waits for ever) or a directory (refused before
anything is copied); file names holding a NUL byte in JSON / YAML / TOML configuration (a
``ValueError`` traceback before); and a ``sync --src dir`` tree nested deeper than Python's
recursion limit. Each case runs the CLI in a subprocess with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_files import make_hostile
from imagefactory import example_image, write_dir, write_oci

IMAGE = example_image()
MANIFEST = json.loads(IMAGE.manifest)
LAYER_HEX = MANIFEST["layers"][0]["digest"].split(":")[1]
CONFIG_HEX = MANIFEST["config"]["digest"].split(":")[1]
#: A FIFO waits at most limits.FIFO_WRITER_WAIT_SECONDS (5 s) for its other end; the rest is instant.
QUICK = 15.0


def trustcopy(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
              stdin: int | None = subprocess.DEVNULL) -> tuple[int, str, str, float]:
    """Run the CLI; (exit status, stdout, stderr, seconds)."""
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "trustcopy", *args], env=env, capture_output=True, text=True,
                       timeout=timeout, check=False, stdin=stdin)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - started


def plant(path: Path, kind: str) -> None:
    """Replace ``path`` (if any) by a hostile ``kind``: hostile_files' kinds, plus a character device."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    if kind == "chardev":
        path.symlink_to("/dev/zero")
    elif kind == "sparse-8g":
        with open(path, "wb") as f:
            f.truncate(8 << 30)
    else:
        make_hostile(path, kind)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    return path


# -- 1. members of an image directory or layout --------------------------------------------------------------------

def _manifest_hex(layout: Path) -> str:
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"].split(":")[1])


MEMBERS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "dir manifest.json": ("dir", lambda d: d / "manifest.json"),
    "dir version": ("dir", lambda d: d / "version"),
    "dir signature-1": ("dir", lambda d: d / "signature-1"),
    "dir layer": ("dir", lambda d: d / LAYER_HEX),
    "dir config": ("dir", lambda d: d / CONFIG_HEX),
    "oci index.json": ("oci", lambda d: d / "index.json"),
    "oci manifest": ("oci", lambda d: d / "blobs" / "sha256" / _manifest_hex(d)),
    "oci layer": ("oci", lambda d: d / "blobs" / "sha256" / LAYER_HEX),
}
MEMBER_KINDS = ["fifo", "chardev", "directory", "loop", "sparse-8g"]


@pytest.mark.parametrize("kind", MEMBER_KINDS)
@pytest.mark.parametrize("member", list(MEMBERS))
def test_hostile_image_member_fails_quickly_naming_it(tmp_path: Path, policy: Path, member: str, kind: str) -> None:
    transport, where = MEMBERS[member]
    source = tmp_path / "src"
    if transport == "dir":
        write_dir(IMAGE, str(source))
        reference = f"dir:{source}"
    else:
        write_oci({"1": IMAGE}, str(source))
        reference = f"oci:{source}:1"
    target = where(source)
    plant(target, kind)
    dest = tmp_path / "dest"
    status, _out, err, seconds = trustcopy("--policy", str(policy), "copy", reference, f"dir:{dest}")
    assert status == 1 and seconds < QUICK, err[-800:]
    assert "Traceback" not in err and "error[" in err and target.name in err, err[-800:]
    if kind in ("fifo", "chardev", "directory"):
        assert "not-a-regular-file" in err, err[-800:]
    elif kind == "sparse-8g":  # refused by size (metadata) or by the descriptor's size (a blob)
        assert "larger than" in err or "size-mismatch" in err, err[-800:]
    assert not dest.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".trustcopy-staging")]


@pytest.mark.parametrize("kind", ["fifo", "chardev", "directory", "sparse-8g"])
def test_hostile_index_of_an_existing_oci_destination_leaves_it_alone(tmp_path: Path, policy: Path,
                                                                      kind: str) -> None:
    source, layout = tmp_path / "src", tmp_path / "layout"
    write_dir(IMAGE, str(source))
    write_oci({"1": IMAGE}, str(layout))
    plant(layout / "index.json", kind)
    before = os.lstat(layout / "index.json")
    status, _out, err, seconds = trustcopy("--policy", str(policy), "copy", f"dir:{source}", f"oci:{layout}:2")
    assert status == 1 and seconds < QUICK and "Traceback" not in err and "index.json" in err, err[-800:]
    after = os.lstat(layout / "index.json")
    assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size)


# -- 2. --digestfile and standalone-sign -o: user-named outputs -----------------------------------------------------

def _source(tmp_path: Path) -> str:
    source = tmp_path / "src"
    write_dir(IMAGE, str(source))
    return f"dir:{source}"


def _digest_of(dest: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256((dest / "manifest.json").read_bytes()).hexdigest()


def test_digestfile_process_substitution_works_as_in_skopeo(tmp_path: Path, policy: Path) -> None:
    # It used to fail after copying: a staging file cannot be made in /dev/fd, nor renamed over it.
    got, dest = tmp_path / "got", tmp_path / "dest"
    script = (f'"$0" -m trustcopy --policy {policy} copy -q --digestfile >(cat > {got}) {_source(tmp_path)} '
              f"dir:{dest}; status=$?; wait; exit $status")
    r = subprocess.run(["bash", "-c", script, sys.executable], capture_output=True, text=True, timeout=60,
                       check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while got.read_text() == "" and time.monotonic() < deadline:  # cat may finish after bash
        time.sleep(0.05)
    assert got.read_text() == _digest_of(dest)


@pytest.mark.parametrize("via", ["/dev/stdout", "a symlink to /proc/self/fd/1"])
def test_digestfile_to_stdout_writes_into_the_pipe_and_replaces_nothing(tmp_path: Path, policy: Path,
                                                                        via: str) -> None:
    # It used to rename a regular file over the name: /dev/stdout itself, for root.
    if via == "/dev/stdout":
        path = Path("/dev/stdout")
    else:
        path = tmp_path / "stdout"
        path.symlink_to("/proc/self/fd/1")
    link_before = os.readlink(path)
    dest = tmp_path / "dest"
    status, out, err, _ = trustcopy("--policy", str(policy), "copy", "-q", "--digestfile", str(path),
                                    _source(tmp_path), f"dir:{dest}")
    assert status == 0, err
    assert out == _digest_of(dest)
    assert path.is_symlink() and os.readlink(path) == link_before


def test_digestfile_fifo_with_a_reader_gets_the_digest(tmp_path: Path, policy: Path) -> None:
    fifo, dest = make_hostile(tmp_path / "digest", "fifo"), tmp_path / "dest"
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    status, _out, err, _ = trustcopy("--policy", str(policy), "copy", "-q", "--digestfile", str(fifo),
                                     _source(tmp_path), f"dir:{dest}")
    reader.join(10)
    assert status == 0, err
    assert got == [_digest_of(dest)]
    assert fifo.is_fifo()


def test_digestfile_fifo_nobody_reads_fails_in_seconds(tmp_path: Path, policy: Path) -> None:
    # skopeo's os.WriteFile blocks for ever in open(2).
    fifo = make_hostile(tmp_path / "digest", "fifo")
    status, _out, err, seconds = trustcopy("--policy", str(policy), "copy", "-q", "--digestfile", str(fifo),
                                           _source(tmp_path), f"dir:{tmp_path / 'dest'}")
    assert status == 1 and seconds < QUICK, err
    assert "error[file-unwritable]" in err and str(fifo) in err and "no process opened the pipe" in err
    assert fifo.is_fifo()


@pytest.mark.parametrize("kind", ["directory", "loop", "missing-parent"])
def test_unwritable_digestfile_is_refused_before_anything_is_copied(tmp_path: Path, policy: Path,
                                                                    kind: str) -> None:
    path = tmp_path / "nowhere" / "digest" if kind == "missing-parent" else make_hostile(tmp_path / "digest", kind)
    dest = tmp_path / "dest"
    status, _out, err, _ = trustcopy("--policy", str(policy), "copy", "--digestfile", str(path),
                                     _source(tmp_path), f"dir:{dest}")
    assert status == 1 and "error[file-unwritable]: cannot write digest file" in err and str(path) in err, err
    assert "Copying" not in err and not dest.exists()


def test_sync_refuses_a_directory_digestfile_before_starting(tmp_path: Path, policy: Path) -> None:
    images = tmp_path / "images"
    write_dir(IMAGE, str(images / "app"))
    digestfile = make_hostile(tmp_path / "digests", "directory")
    status, _out, err, seconds = trustcopy("--policy", str(policy), "sync", "--retry-times=0", "--src", "dir",
                                           "--dest", "docker", "--digestfile", str(digestfile), str(images),
                                           "127.0.0.1:9/mirror")
    assert status == 1 and seconds < QUICK and f"cannot write digest file {digestfile}" in err, err
    assert "127.0.0.1:9" not in err  # refused before any registry was contacted


@pytest.fixture
def gpg_signer(new_home: Callable[[], Any]) -> tuple[Any, str]:
    """A throw-away GnuPG home holding one signing key, and its fingerprint."""
    home = new_home()
    return home, home.gen_key("Hostile Outputs <hostile@example.com>")


@pytest.mark.gpg
def test_standalone_sign_output_fifo_nobody_reads_fails_in_seconds(tmp_path: Path,
                                                                  gpg_signer: tuple[Any, str]) -> None:
    home, fingerprint = gpg_signer
    env = home.env
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(IMAGE.manifest)
    fifo = make_hostile(tmp_path / "sig", "fifo")
    status, _out, err, seconds = trustcopy("standalone-sign", "-o", str(fifo), str(manifest), "example.com/a:1",
                                           fingerprint, env=env)
    assert status == 1 and seconds < QUICK, err
    assert "error[file-unwritable]" in err and str(fifo) in err and "Traceback" not in err
    # ... and a reader on the other end gets the signature
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    status, _out, err, _ = trustcopy("standalone-sign", "-o", str(fifo), str(manifest), "example.com/a:1",
                                     fingerprint, env=env)
    reader.join(10)
    assert status == 0, err
    assert len(got) == 1
    (tmp_path / "received").write_bytes(got[0])
    (tmp_path / "key.gpg").write_bytes(home.export(fingerprint))
    status, out, err, _ = trustcopy("standalone-verify", "--public-key-file", str(tmp_path / "key.gpg"),
                                    str(manifest), "example.com/a:1", fingerprint, str(tmp_path / "received"))
    assert status == 0 and fingerprint in out, out + err


# -- 3. NUL bytes in file names read from configuration -------------------------------------------------------------

@pytest.mark.parametrize("field", ["keyPath", "keyPaths"])
def test_policy_lint_key_path_with_a_nul_byte(tmp_path: Path, field: str) -> None:
    policy = tmp_path / "policy.json"
    path = "/etc/a\u0000b"
    requirement = {"type": "signedBy", "keyType": "GPGKeys", field: path if field == "keyPath" else [path]}
    policy.write_text(json.dumps({"default": [requirement]}))
    status, out, err, seconds = trustcopy("policy", "lint", "--policy", str(policy))
    assert status == 0 and "Traceback" not in out + err and seconds < QUICK, err[-800:]  # a warning, as a missing key
    assert "key-file-unreadable" in out + err and "NUL byte" in out + err


def test_sigstore_key_path_with_a_nul_byte_rejects_the_image(tmp_path: Path, keys: Path) -> None:
    open_policy = tmp_path / "open.json"
    open_policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    signed = tmp_path / "signed"
    status, _out, err, _ = trustcopy("--policy", str(open_policy), "copy", "--sign-by-sigstore-private-key",
                                     str(keys / "key.private"), "--sign-passphrase-file", str(keys / "pass"),
                                     "--sign-identity", "example.com/a:1", _source(tmp_path), f"dir:{signed}")
    assert status == 0, err
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "sigstoreSigned", "keyPath": "/etc/a\u0000b",
                                               "signedIdentity": {"type": "matchRepository"}}]}))
    dest = tmp_path / "dest"
    status, _out, err, _ = trustcopy("--policy", str(policy), "copy", f"dir:{signed}", f"dir:{dest}")
    assert status == 1 and "Traceback" not in err and "KEY_LOAD_FAILED" in err and "NUL byte" in err, err[-800:]
    assert not dest.exists()


@pytest.mark.parametrize("where", ["credHelpers", "registries.conf"])
def test_credential_helper_name_with_a_nul_byte_is_a_config_error(tmp_path: Path, where: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG")}
    env.update(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path / "run"))
    auth, conf = tmp_path / "auth.json", tmp_path / "registries.conf"
    auth.write_text(json.dumps({"auths": {}, "credHelpers": {"127.0.0.1:9": "x\u0000y"}} if where == "credHelpers"
                               else {"auths": {}}))
    conf.write_text('credential-helpers = ["x\\u0000y"]\n' if where == "registries.conf" else "")
    for command in (["login", "--get-login", "--authfile", str(auth), "127.0.0.1:9"],
                    ["logout", "--authfile", str(auth), "127.0.0.1:9"]):
        status, _out, err, seconds = trustcopy("--registries-conf", str(conf), *command, env=env)
        assert status == 1 and seconds < QUICK, err
        assert "Traceback" not in err and "invalid credential helper name 'x\\x00y'" in err, err[-800:]


@pytest.mark.parametrize("key", ["privateKeyFile", "privateKeyPassphraseFile"])
def test_sigstore_parameter_file_path_with_a_nul_byte(tmp_path: Path, policy: Path, keys: Path, key: str) -> None:
    values = {"privateKeyFile": str(keys / "key.private"), "privateKeyPassphraseFile": str(keys / "pass")}
    values[key] = "/etc/a\\0b"  # a YAML double-quoted escape
    params = tmp_path / "params.yaml"
    params.write_text("".join(f'{k}: "{v}"\n' for k, v in values.items()))
    dest = tmp_path / "dest"
    status, _out, err, _ = trustcopy("--policy", str(policy), "copy", "--sign-by-sigstore", str(params),
                                     "--sign-identity", "example.com/a:1", _source(tmp_path), f"dir:{dest}")
    assert status == 1 and "Traceback" not in err, err[-800:]
    assert "error[sigstore-params-invalid]" in err and f"{key} contains a NUL byte" in err
    assert not dest.exists()


def test_sync_yaml_cert_dir_with_a_nul_byte(tmp_path: Path, policy: Path) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text('127.0.0.1:9:\n  cert-dir: "/etc/a\\0b"\n  images:\n    app: ["1"]\n')
    status, _out, err, _ = trustcopy("--policy", str(policy), "sync", "--retry-times=0", "--src", "yaml",
                                     "--dest", "dir", str(config), str(tmp_path / "out"))
    assert status == 1 and "Traceback" not in err, err[-800:]
    assert "cert-dir contains a NUL byte" in err and str(config) in err


def test_file_lookaside_with_an_escaped_nul_byte_is_a_config_error() -> None:
    from trustcopy.errors import ConfigError
    from trustcopy.stores.lookaside import LookasideLocation

    with pytest.raises(ConfigError) as info:
        LookasideLocation("file:///var/lib/a%00b", "library/app", origin="registries.d/x.yaml")
    assert info.value.code == "lookaside-url-invalid"
    assert "NUL byte" in info.value.message and "registries.d/x.yaml" in info.value.message


# -- 4. a source tree deeper than the recursion limit ---------------------------------------------------------------

def test_sync_from_a_directory_nested_deeper_than_the_recursion_limit(tmp_path: Path, policy: Path) -> None:
    # os.walk recursed once per level: a RecursionError traceback at about 1000 levels.
    top = tmp_path / "tree"
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir("tree", dir_fd=fd)
        current = os.open("tree", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        for _ in range(sys.getrecursionlimit() + 200):  # relative steps: no path grows past PATH_MAX
            os.mkdir("d", dir_fd=current)
            deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = deeper
        os.close(current)
    finally:
        os.close(fd)
    try:
        write_dir(IMAGE, str(top / "app"))  # one image beside the deep branch ("app" < "d": found first)
        status, out, err, seconds = trustcopy("--policy", str(policy), "sync", "--dry-run", "--retry-times=0",
                                              "--src", "dir", "--dest", "docker", str(top), "127.0.0.1:9/mirror",
                                              timeout=120)
    finally:
        # shutil.rmtree recurses once per level too: pytest's clean-up of old temporary
        # directories would end a later session with a RecursionError. rm(1) does not recurse.
        subprocess.run(["rm", "-rf", str(top)], check=True)
    assert "Traceback" not in err and "RecursionError" not in err, err[-800:]
    # The whole tree was walked and its one image planned (the registry there is unreachable).
    assert status == 1 and seconds < 60, err[-800:]
    assert "sync of 1 images" in err and "-> docker://127.0.0.1:9/mirror/app:latest" in out + err, err[-800:]
