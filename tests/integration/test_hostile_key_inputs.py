"""Hostile key, credential and certificate input files, end to end through the CLI.

Each input a user (or an attacker who can plant files) controls — auth files in every place they
are looked up, credential helpers, key and CA files named by a policy, signing keys, passphrase and
parameter files, certs.d directories — is replaced by a FIFO nobody writes, a 10 GB sparse file, a
symlink loop, a directory, garbage, and so on. The command must fail (or, where containers/image
goes on, go on) with an error naming the file, quickly, without a traceback, without reading the
sparse file, without printing a secret, and without writing anything at the destination.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_files import make_hostile
from imagefactory import Layer, make_image, make_tar, write_dir
from registry_fixtures import USERS, RegistryServer, fast_sys, push_image

ROOT = Path(__file__).resolve().parents[2]
SIG_FIXTURES = ROOT / "tests" / "fixtures" / "signature"
IMAGE = make_image([Layer(make_tar([("hostile-inputs.txt", b"hostile key inputs\n")]))])
PASSWORD = USERS["alice"]
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
PASSPHRASE = "Pa55-Never-Sh0wn-phrase"
SECRETS = (PASSWORD, BASIC, PASSPHRASE)
HOSTILE = ["fifo", "sparse-10g", "loop", "directory", "garbage"]
#: Every command here must end well before this; a FIFO waits at most 5 s for a writer.
QUICK = 20.0


def trustcopy(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str, float]:
    """Run the CLI; (exit status, stdout+stderr, seconds). stdin is /dev/null: nothing may prompt."""
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "trustcopy", *args], env=env, capture_output=True, text=True,
                       timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr, time.monotonic() - started


def assert_clean_failure(status: int, output: str, seconds: float, *named: str) -> None:
    assert status != 0, output
    assert seconds < QUICK, f"took {seconds:.1f}s: {output[-500:]}"
    assert "Traceback" not in output, output[-3000:]
    assert "error[" in output, output[-1000:]
    for name in named:
        assert name in output, output[-1000:]
    for secret in SECRETS:
        assert secret not in output, output[-1000:]


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """No ambient credentials: a private HOME, runtime dir and config dir."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    for name in ("home", "run", "config"):
        (tmp_path / name).mkdir()
    env.update(HOME=str(tmp_path / "home"), XDG_RUNTIME_DIR=str(tmp_path / "run"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


@pytest.fixture
def auth_registry(htpasswd_registry: RegistryServer) -> RegistryServer:
    push_image(htpasswd_registry.host, "hostile/app:1", IMAGE,
               fast_sys(docker_username="alice", docker_password=PASSWORD))
    return htpasswd_registry


# -- 1. auth files, wherever they are looked up -------------------------------------------------------------------

AUTH_PLACES: dict[str, Callable[[Path, dict[str, str]], tuple[Path, list[str]]]] = {
    "--authfile": lambda t, env: (t / "auth.json", ["--authfile", str(t / "auth.json")]),
    "$REGISTRY_AUTH_FILE": lambda t, env: (env.__setitem__("REGISTRY_AUTH_FILE", str(t / "auth.json"))
                                           or t / "auth.json", []),
    "$XDG_RUNTIME_DIR": lambda t, env: (t / "run" / "containers" / "auth.json", []),
    "$DOCKER_CONFIG": lambda t, env: (env.__setitem__("DOCKER_CONFIG", str(t / "dc"))
                                      or t / "dc" / "config.json", []),
    "~/.docker": lambda t, env: (t / "home" / ".docker" / "config.json", []),
}


@pytest.mark.registry
@pytest.mark.parametrize("kind", [*HOSTILE, "deep-json", "nul", "empty"])
@pytest.mark.parametrize("place", list(AUTH_PLACES))
def test_hostile_auth_file_is_a_clean_error_naming_it(auth_registry: RegistryServer, clean_env: dict[str, str],
                                                      tmp_path: Path, place: str, kind: str) -> None:
    path, flags = AUTH_PLACES[place](tmp_path, clean_env)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_hostile(path, kind)
    status, output, seconds = trustcopy("--debug", "inspect", "--raw", "--tls-verify=false", *flags,
                                        f"docker://{auth_registry.host}/hostile/app:1", env=clean_env)
    assert status != 0 and seconds < QUICK, output[-500:]
    assert str(path) in output and "error[config-invalid]" in output, output[-1000:]
    for secret in SECRETS:
        assert secret not in output


@pytest.mark.registry
@pytest.mark.parametrize("kind", ["fifo", "sparse-10g", "loop", "directory", "garbage"])
@pytest.mark.parametrize("command", ["login", "logout", "login --compat-auth-file"])
def test_login_and_logout_refuse_a_hostile_auth_file_and_leave_it(auth_registry: RegistryServer,
                                                                  clean_env: dict[str, str], tmp_path: Path,
                                                                  command: str, kind: str) -> None:
    path = make_hostile(tmp_path / "auth.json", kind)
    before = os.lstat(path)
    flag = "--compat-auth-file" if "compat" in command else "--authfile"
    extra = ["-u", "alice", "--password-stdin"] if command.startswith("login") else []
    args = [command.split(maxsplit=1)[0], "--tls-verify=false", flag, str(path), *extra, auth_registry.host]
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "trustcopy", "--debug", *args], env=clean_env, input=PASSWORD,
                       capture_output=True, text=True, timeout=120, check=False)
    output = r.stdout + r.stderr
    assert r.returncode != 0 and time.monotonic() - started < QUICK, output[-500:]
    assert str(path) in output, output[-500:]
    assert PASSWORD not in output and BASIC not in output
    after = os.lstat(path)  # not replaced by a regular file holding the password
    assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size)


def test_logout_names_the_real_reason_an_auth_file_is_not_accessible(clean_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    path = make_hostile(tmp_path / "auth.json", "loop")
    status, output, _seconds = trustcopy("logout", "--authfile", str(path), "example.com", env=clean_env)
    assert status != 0 and "Too many levels of symbolic links" in output and "does not exist" not in output


# -- 1b. credential helpers --------------------------------------------------------------------------------------

HELPERS = {
    # prints without end: refused at 1 MiB, at once (it used to be read for the whole timeout: ~20 GB)
    "endless": ("#!/bin/sh\nexec cat /dev/zero\n", "printed more than"),
    "garbage": ("#!/bin/sh\nexec head -c 4000 /dev/urandom\n", "malformed output"),
    # 600 KB of brackets: under the output cap, so the JSON depth bound is what refuses it
    "nested": (f"#!{sys.executable}\nprint('{{\"Username\":' + '[' * 300000 + ']' * 300000 + '}}')\n",
               "malformed output"),
    "secret-in-wrong-shape": ("#!/bin/sh\necho '" + json.dumps({"Username": {"u": PASSWORD}, "Secret": PASSWORD})
                              + "'\n", "malformed output"),
    "echoes-and-fails": (f"#!/bin/sh\necho 'bad secret {PASSWORD}' >&2; echo '{PASSWORD}'; exit 3\n",
                         "failed (exit status 3)"),
    "not-executable": ("#!/bin/sh\necho '{}'\n", "Permission denied"),
}


def _helper_env(clean_env: dict[str, str], tmp_path: Path, name: str, script: str, host: str) -> tuple[dict[str, str],
                                                                                                       Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    helper = bindir / f"docker-credential-{name}"
    helper.write_text(script)
    helper.chmod(0o644 if name == "not-executable" else 0o755)
    auth = tmp_path / "helper-auth.json"
    auth.write_text(json.dumps({"auths": {}, "credHelpers": {host: name}}))
    return {**clean_env, "PATH": f"{bindir}:{clean_env['PATH']}"}, auth


@pytest.mark.registry
@pytest.mark.parametrize("name", list(HELPERS))
def test_hostile_credential_helper_is_a_clean_bounded_error(auth_registry: RegistryServer,
                                                            clean_env: dict[str, str], tmp_path: Path,
                                                            name: str) -> None:
    script, expected = HELPERS[name]
    env, auth = _helper_env(clean_env, tmp_path, name, script, auth_registry.host)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    status, output, seconds = trustcopy("inspect", "--raw", "--tls-verify=false", "--authfile", str(auth),
                                        f"docker://{auth_registry.host}/hostile/app:1", env=env)
    assert_clean_failure(status, output, seconds, f"docker-credential-{name}", expected)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak == before or peak < 400 * 1024, f"a child used {peak // 1024} MiB"


@pytest.mark.registry
def test_helper_leaving_a_child_holding_its_pipes_still_answers(auth_registry: RegistryServer,
                                                               clean_env: dict[str, str], tmp_path: Path) -> None:
    # The helper answers and exits; a daemon it started keeps stdout open. Waiting for EOF
    # (as subprocess.run does) took the whole 30 s timeout and then failed.
    script = (f"#!/bin/sh\n(exec sleep 60 < /dev/null) &\necho $! > {tmp_path}/daemon.pid\n"
              f"echo '{{\"Username\":\"alice\",\"Secret\":\"{PASSWORD}\"}}'\n")
    env, auth = _helper_env(clean_env, tmp_path, "forks", script, auth_registry.host)
    try:
        status, output, seconds = trustcopy("inspect", "--raw", "--tls-verify=false", "--authfile", str(auth),
                                            f"docker://{auth_registry.host}/hostile/app:1", env=env)
    finally:
        pid = int((tmp_path / "daemon.pid").read_text())
        os.kill(pid, 9)
    assert status == 0 and seconds < 10, output[-500:]
    assert output.encode().startswith(IMAGE.manifest) and PASSWORD not in output


def test_helper_that_never_answers_times_out(run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
                                            clean_env: dict[str, str], tmp_path: Path) -> None:
    from trustcopy.transports.docker import authfile

    env, auth = _helper_env(clean_env, tmp_path, "silent", "#!/bin/sh\nexec sleep 60\n", "127.0.0.1:9")
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setattr(authfile, "_CRED_HELPER_TIMEOUT", 1.5)
    started = time.monotonic()
    result = run_cli("inspect", "--raw", "--tls-verify=false", "--retry-times=0", "--authfile", str(auth),
                     "docker://127.0.0.1:9/hostile/app:1")
    assert result.exit_code != 0 and time.monotonic() - started < 10
    assert "docker-credential-silent did not answer in time" in result.stderr


# -- 2. key files named by the policy ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signed_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sigstore-signed dir: image (signed by the CLI), a GPG-signed one (the signature fixtures), a key pair."""
    root = tmp_path_factory.mktemp("signed")
    write_dir(IMAGE, str(root / "plain"))
    (root / "pass").write_text(PASSPHRASE + "\n")
    (root / "open.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    status, output, _ = trustcopy("generate-sigstore-key", "--output-prefix", str(root / "k"),
                                  "--passphrase-file", str(root / "pass"))
    assert status == 0, output
    status, output, _ = trustcopy("--policy", str(root / "open.json"), "copy", "--sign-by-sigstore-private-key",
                                  str(root / "k.private"), "--sign-passphrase-file", str(root / "pass"),
                                  "--sign-identity", "example.com/hostile/app:1", f"dir:{root / 'plain'}",
                                  f"dir:{root / 'sigstore'}")
    assert status == 0, output
    gpg = root / "gpg"
    gpg.mkdir()
    shutil.copy(SIG_FIXTURES / "image.manifest.json", gpg / "manifest.json")
    shutil.copy(SIG_FIXTURES / "image.signature", gpg / "signature-1")
    (gpg / "version").write_text("Directory Transport Version: 1.1\n")
    return {"root": root, "sigstore": root / "sigstore", "gpg": gpg, "pub": root / "k.pub",
            "private": root / "k.private", "pass": root / "pass", "open": root / "open.json"}


KEY_FIELDS: dict[str, Callable[[str, dict[str, Path]], tuple[str, dict[str, Any]]]] = {
    "signedBy.keyPath": lambda p, s: ("gpg", {"type": "signedBy", "keyType": "GPGKeys", "keyPath": p}),
    "signedBy.keyPaths": lambda p, s: ("gpg", {"type": "signedBy", "keyType": "GPGKeys",
                                               "keyPaths": [str(SIG_FIXTURES / "public-key.gpg"), p]}),
    "sigstoreSigned.keyPath": lambda p, s: ("sigstore", {"type": "sigstoreSigned", "keyPath": p}),
    "sigstoreSigned.keyPaths": lambda p, s: ("sigstore", {"type": "sigstoreSigned", "keyPaths": [str(s["pub"]), p]}),
    "rekorPublicKeyPath": lambda p, s: ("sigstore", {"type": "sigstoreSigned", "keyPath": str(s["pub"]),
                                                     "rekorPublicKeyPath": p}),
    "fulcio.caPath": lambda p, s: ("sigstore", {"type": "sigstoreSigned", "rekorPublicKeyPath": str(s["pub"]),
                                                "fulcio": {"caPath": p, "oidcIssuer": "https://issuer.example",
                                                           "subjectEmail": "a@example.com"}}),
    "pki.caRootsPath": lambda p, s: ("sigstore", {"type": "sigstoreSigned",
                                                  "pki": {"caRootsPath": p, "subjectEmail": "a@example.com"}}),
}


@pytest.mark.gpg
@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", list(KEY_FIELDS))
def test_hostile_policy_key_file_rejects_the_image_naming_it(signed_images: dict[str, Path], tmp_path: Path,
                                                            field: str, kind: str) -> None:
    path = make_hostile(tmp_path / "key", kind)
    source, requirement = KEY_FIELDS[field](str(path), signed_images)
    if requirement["type"] == "sigstoreSigned":
        requirement["signedIdentity"] = {"type": "matchRepository"}
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [requirement]}))
    dest = tmp_path / "dest"
    status, output, seconds = trustcopy("--policy", str(policy), "copy", f"dir:{signed_images[source]}",
                                        f"dir:{dest}")
    if field == "signedBy.keyPaths" and kind == "garbage":
        # As containers/image: a readable file without keys adds none; the other file's key is
        # used, and this image (a dir: copy of a docker-identity signature) is refused for its identity.
        assert_clean_failure(status, output, seconds, "error[policy-rejected]", "IDENTITY_MISMATCH")
    else:
        assert_clean_failure(status, output, seconds, "error[policy-rejected]", str(path), "KEY_LOAD_FAILED")
    assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".trustcopy-staging")]
    status, output, seconds = trustcopy("policy", "lint", "--policy", str(policy))
    assert seconds < QUICK and "Traceback" not in output and str(path) in output, output


# -- 3. signing inputs --------------------------------------------------------------------------------------------

@pytest.fixture
def attachment_registry(plain_registry: RegistryServer, tmp_path: Path) -> tuple[RegistryServer, Path]:
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    return plain_registry, regd


@pytest.mark.registry
@pytest.mark.parametrize("kind", [*HOSTILE, "public-key", "wrong-passphrase"])
def test_bad_sigstore_private_key_fails_before_anything_is_pushed(attachment_registry: tuple[RegistryServer, Path],
                                                                  signed_images: dict[str, Path], tmp_path: Path,
                                                                  kind: str) -> None:
    registry, regd = attachment_registry
    passphrase = signed_images["pass"]
    if kind == "public-key":
        key = signed_images["pub"]
    elif kind == "wrong-passphrase":
        key = signed_images["private"]
        passphrase = tmp_path / "wrong"
        passphrase.write_text("not-it\n")
    else:
        key = make_hostile(tmp_path / "k.private", kind)
    repo = f"signing/{kind}"
    source = f"dir:{signed_images['root'] / 'plain'}"
    status, output, seconds = trustcopy("--debug", "--policy", str(signed_images["open"]), "--registries.d", str(regd),
                                        "copy", "--dest-tls-verify=false", "--sign-by-sigstore-private-key", str(key),
                                        "--sign-passphrase-file", str(passphrase), source,
                                        f"docker://{registry.host}/{repo}:1")
    assert status != 0 and seconds < QUICK, output[-800:]
    assert str(key) in output and PASSPHRASE not in output, output[-800:]
    # Nothing pushed: the key is read and decrypted before the destination is written (the
    # unsigned manifest used to be tagged first).
    status, listing, _ = trustcopy("list-tags", "--tls-verify=false", f"docker://{registry.host}/{repo}")
    assert status != 0 or json.loads(listing).get("Tags") in (None, []), listing
    assert "Copying blob" not in output


@pytest.mark.parametrize("kind", ["fifo", "directory", "loop"])
def test_hostile_passphrase_file_never_hangs(signed_images: dict[str, Path], tmp_path: Path, kind: str) -> None:
    passphrase = make_hostile(tmp_path / "pass", kind)
    dest = tmp_path / "dest"
    status, output, seconds = trustcopy("--policy", str(signed_images["open"]), "copy",
                                        "--sign-by-sigstore-private-key", str(signed_images["private"]),
                                        "--sign-passphrase-file", str(passphrase), "--sign-identity",
                                        "example.com/a:1", f"dir:{signed_images['root'] / 'plain'}", f"dir:{dest}")
    assert_clean_failure(status, output, seconds, "error[passphrase-file]", str(passphrase))
    assert not dest.exists()


def test_passphrase_pipe_whose_writer_comes_late_still_works(signed_images: dict[str, Path], tmp_path: Path) -> None:
    fifo = make_hostile(tmp_path / "pass", "fifo")

    def writer() -> None:
        time.sleep(1)
        with open(fifo, "w") as f:
            f.write(PASSPHRASE + "\n")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    dest = tmp_path / "dest"
    status, output, _ = trustcopy("--policy", str(signed_images["open"]), "copy", "-q",
                                  "--sign-by-sigstore-private-key", str(signed_images["private"]),
                                  "--sign-passphrase-file", str(fifo), "--sign-identity", "example.com/a:1",
                                  f"dir:{signed_images['root'] / 'plain'}", f"dir:{dest}")
    thread.join(10)
    assert status == 0, output
    assert (dest / "signature-1").is_file()


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_sigstore_parameter_file(signed_images: dict[str, Path], tmp_path: Path, kind: str) -> None:
    params = make_hostile(tmp_path / "params.yaml", kind)
    dest = tmp_path / "dest"
    status, output, seconds = trustcopy("--policy", str(signed_images["open"]), "copy", "--sign-by-sigstore",
                                        str(params), "--sign-identity", "example.com/a:1",
                                        f"dir:{signed_images['root'] / 'plain'}", f"dir:{dest}")
    assert_clean_failure(status, output, seconds, str(params))
    assert not dest.exists()


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_parameter_file_private_key(signed_images: dict[str, Path], tmp_path: Path, kind: str) -> None:
    key = make_hostile(tmp_path / "k.private", kind)
    params = tmp_path / "params.yaml"
    params.write_text(f"privateKeyFile: {key}\nprivateKeyPassphraseFile: {signed_images['pass']}\n")
    dest = tmp_path / "dest"
    status, output, seconds = trustcopy("--policy", str(signed_images["open"]), "copy", "--sign-by-sigstore",
                                        str(params), "--sign-identity", "example.com/a:1",
                                        f"dir:{signed_images['root'] / 'plain'}", f"dir:{dest}")
    assert_clean_failure(status, output, seconds, str(key))
    assert not dest.exists()


@pytest.mark.gpg
@pytest.mark.parametrize("kind", HOSTILE)
def test_standalone_verify_with_a_hostile_public_key_file(tmp_path: Path, kind: str) -> None:
    keys = make_hostile(tmp_path / "keys.gpg", kind)
    status, output, seconds = trustcopy("standalone-verify", "--public-key-file", str(keys),
                                        str(SIG_FIXTURES / "image.manifest.json"), "testing/manifest:latest", "any",
                                        str(SIG_FIXTURES / "image.signature"))
    assert status == 1 and seconds < QUICK and "Traceback" not in output and str(keys) in output, output


@pytest.mark.parametrize("planted", ["pub-symlink", "private-symlink", "private-dangling", "pub-fifo"])
def test_generate_sigstore_key_never_writes_through_a_planted_path(tmp_path: Path, planted: str) -> None:
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    prefix = tmp_path / "out"
    target = Path(f"{prefix}.pub" if planted.startswith("pub") else f"{prefix}.private")
    if planted.endswith("fifo"):
        os.mkfifo(target)
    elif planted.endswith("dangling"):
        target.symlink_to(tmp_path / "created-through-the-link")
    else:
        target.symlink_to(victim)
    (tmp_path / "pass").write_text("x\n")
    status, output, seconds = trustcopy("generate-sigstore-key", "--output-prefix", str(prefix),
                                        "--passphrase-file", str(tmp_path / "pass"))
    assert status == 1 and seconds < QUICK and "Refusing to overwrite" in output and str(target) in output, output
    assert victim.read_text() == "do not touch\n"
    assert not (tmp_path / "created-through-the-link").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["victim", "pass", target.name])


def test_generate_sigstore_key_passphrase_fifo_never_hangs(tmp_path: Path) -> None:
    fifo = make_hostile(tmp_path / "pass", "fifo")
    status, output, seconds = trustcopy("generate-sigstore-key", "--output-prefix", str(tmp_path / "k"),
                                        "--passphrase-file", str(fifo))
    assert_clean_failure(status, output, seconds, str(fifo))
    assert not list(tmp_path.glob("k.*"))


# -- 4. certs.d ---------------------------------------------------------------------------------------------------

@pytest.fixture
def tls_host(tls_registry: RegistryServer) -> Iterator[tuple[RegistryServer, bytes]]:
    push_image(tls_registry.host, "hostile/app:1", IMAGE, fast_sys(docker_tls_verify=False))
    assert tls_registry.tls is not None
    yield tls_registry, Path(tls_registry.tls.ca_cert).read_bytes()


def _encrypted_client_pair(directory: Path) -> tuple[bytes, bytes]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", str(directory / "enc.key"),
                    "-out", str(directory / "enc.cert"), "-days", "1", "-subj", "/CN=client",
                    "-passout", f"pass:{PASSPHRASE}"], check=True, capture_output=True)
    cert, key = (directory / "enc.cert").read_bytes(), (directory / "enc.key").read_bytes()
    (directory / "enc.cert").unlink()
    (directory / "enc.key").unlink()
    return cert, key


# (files besides ca.crt, expected error fragment or None when the registry must be read)
CERT_DIRS: dict[str, tuple[dict[str, str], str | None]] = {
    "crt-fifo": ({"extra.crt": "fifo"}, "extra.crt is not a regular file"),
    "crt-sparse": ({"extra.crt": "sparse-10g"}, "extra.crt is larger than"),
    "crt-loop": ({"extra.crt": "loop"}, "extra.crt: Too many levels of symbolic links"),
    "crt-directory": ({"extra.crt": "directory"}, "extra.crt is not a regular file"),
    "crt-garbage": ({"extra.crt": "garbage"}, "cannot load CA certificate"),
    "crt-dangling": ({"extra.crt": "dangling"}, None),  # c/i warns and goes on
    "cert-without-key": ({"client.cert": "CA"}, "missing key client.key"),
    "key-without-cert": ({"client.key": "garbage"}, "missing client certificate client.cert"),
    "key-fifo": ({"client.cert": "CA", "client.key": "fifo"}, "client.key is not a regular file"),
    "key-loop": ({"client.cert": "CA", "client.key": "loop"}, "client.key: Too many levels of symbolic links"),
    "cert-dangling": ({"client.cert": "dangling", "client.key": "garbage"}, "client.cert: No such file"),
    "key-sparse": ({"client.cert": "CA", "client.key": "sparse-10g"}, "client.key is larger than"),
    "key-encrypted": ({"client.cert": "ENC", "client.key": "ENC"}, "client.key is encrypted"),
}


@pytest.mark.registry
@pytest.mark.parametrize("where", ["--cert-dir", "~/.config/containers/certs.d"])
@pytest.mark.parametrize("case", list(CERT_DIRS))
def test_hostile_certs_d_entries(tls_host: tuple[RegistryServer, bytes], clean_env: dict[str, str], tmp_path: Path,
                                 case: str, where: str) -> None:
    registry, ca = tls_host
    files, expected = CERT_DIRS[case]
    if where == "--cert-dir":
        cert_dir, flags = tmp_path / "certs", ["--cert-dir", str(tmp_path / "certs")]
    else:
        cert_dir, flags = tmp_path / "home" / ".config" / "containers" / "certs.d" / registry.host, []
    cert_dir.mkdir(parents=True)
    (cert_dir / "ca.crt").write_bytes(ca)
    encrypted = _encrypted_client_pair(tmp_path) if "ENC" in files.values() else (b"", b"")
    for name, kind in files.items():
        if kind == "CA":
            (cert_dir / name).write_bytes(ca)
        elif kind == "ENC":
            (cert_dir / name).write_bytes(encrypted[0] if name.endswith(".cert") else encrypted[1])
        else:
            make_hostile(cert_dir / name, kind)
    status, output, seconds = trustcopy("inspect", "--raw", "--retry-times=0", *flags,
                                        f"docker://{registry.host}/hostile/app:1", env=clean_env)
    if expected is None:
        assert status == 0 and seconds < QUICK, output[-800:]
        assert "extra.crt" in output  # the warning naming the dangling link
        return
    assert_clean_failure(status, output, seconds, expected)
    assert "pass phrase" not in output.lower()  # OpenSSL never prompted
