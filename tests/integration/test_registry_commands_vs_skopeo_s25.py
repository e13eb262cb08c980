"""``login``, ``logout``, ``delete`` and ``list-tags`` run side by side with skopeo 1.9.3 on the
same inputs, against real registries (TLS + htpasswd; plain HTTP; deletes disabled).

Each case compares what scripts see: the exit status (0 or not; where trustcopy's status
differs, docs/from-skopeo.md documents it), the stdout bytes, and the effect on the registry,
the auth file and the lookaside store. Each tool writes its own auth file / repository, so
one tool's run never prepares the other's. stderr cannot be byte-equal (skopeo's is a logrus
line); where it matters the test checks that ours keeps skopeo's words.

Not repeated here (covered elsewhere): list-tags pagination, empty and missing repositories
and docker-archive: listing (test_docker_archive_list_tags_skopeo.py, test_list_tags_archive.py),
the basic login/logout flow in-process (test_registry_auth.py), Docker's config.json
(test_compat_auth_file.py), credential helpers and the lookaside delete of a signed image
(test_registry_credential_helpers.py, test_registry_signatures.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from imagefactory import Layer, example_image, make_image, make_index, make_tar
from registry_fixtures import _HTPASSWD, USERS, RegistryServer, fast_sys, make_tls_material, push_image, running

pytestmark = [pytest.mark.registry, pytest.mark.skopeo]

TOOLS = ("skopeo", "trustcopy")
PASSWORD = USERS["alice"]
OCI_ACCEPT = ("application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,"
              "application/vnd.docker.distribution.manifest.v2+json")


@dataclass
class Secure:
    """A TLS registry with htpasswd auth, and a --cert-dir holding its CA."""

    registry: RegistryServer
    certs: Path

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.registry.host


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    work = tmp_path_factory.mktemp("s25-secure")
    (work / "htpasswd").write_text(_HTPASSWD)
    tls = make_tls_material(work / "tls")
    certs = work / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(tls.ca_cert.read_bytes())
    auth = {"htpasswd": {"realm": "basic-realm", "path": str(work / "htpasswd")}}
    with running(RegistryServer(work / "registry", tls=tls, auth=auth)) as reg:
        yield Secure(reg, certs)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment of its own: HOME and XDG_RUNTIME_DIR in tmp_path, no auth file variables."""
    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir(mode=0o700)
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def _run(tool: str, args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    # stdin is a pipe (never a terminal), as in CI
    return subprocess.run([*command, *args], capture_output=True, text=True, input=stdin, env=env, timeout=60,
                          check=False)


def _both(args: list[str], env: dict[str, str], tmp: Path, stdin: str = "",
          ) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each tool's run; ``{AF}`` in an argument becomes that tool's own file tmp/TOOL.json."""
    return {tool: _run(tool, [a.replace("{AF}", str(tmp / f"{tool}.json")) for a in args], env, stdin)
            for tool in TOOLS}


def _same(runs: dict[str, subprocess.CompletedProcess[str]], *, ok: bool) -> str:
    """Both succeeded (or both failed), with the same stdout; returns it."""
    ours, theirs = runs["trustcopy"], runs["skopeo"]
    assert (ours.returncode == 0, theirs.returncode == 0) == (ok, ok), (ours.stderr, theirs.stderr)
    assert ours.stdout == theirs.stdout, (ours.stdout, theirs.stdout)
    return ours.stdout


def _auth_files(tmp: Path) -> tuple[bytes | None, bytes | None]:
    """(trustcopy's, skopeo's) auth file bytes, None where there is none."""
    files = [tmp / f"{tool}.json" for tool in ("trustcopy", "skopeo")]
    return files[0].read_bytes() if files[0].exists() else None, files[1].read_bytes() if files[1].exists() else None


# -- login -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spelling", "key"), [
    ("{host}", "{host}"),
    ("https://{host}", "{host}"),  # a URL: only its host:port is the key
    ("https://{host}/ns/other", "{host}"),  # a URL's path is dropped too
    ("{host}/ns/repo", "{host}/ns/repo"),  # a repository-scoped login (containers/common ≥ 0.50)
])
def test_login_writes_the_same_auth_file(secure: Secure, home: dict[str, str], tmp_path: Path,
                                         spelling: str, key: str) -> None:
    arg, key = spelling.format(host=secure.host), key.format(host=secure.host)
    runs = _both(["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}", arg],
                 home, tmp_path)
    assert _same(runs, ok=True) == "Login Succeeded!\n"
    ours, theirs = _auth_files(tmp_path)
    assert ours == theirs and ours is not None
    assert list(json.loads(ours)["auths"]) == [key]
    assert stat.S_IMODE((tmp_path / "trustcopy.json").stat().st_mode) == 0o600
    # --get-login reads it back, for the key and for a repository below a host key
    below = f"{secure.host}/ns/repo/deeper" if "/" in key else f"{secure.host}/any/repo"
    for query in (key, below):
        assert _same(_both(["login", "--get-login", "--authfile", "{AF}", query], home, tmp_path), ok=True) == "alice\n"


def test_a_refused_or_unverifiable_login_writes_nothing(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    wrong = _both(["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", USERS["bob"], "--authfile", "{AF}",
                   secure.host], home, tmp_path)
    assert _same(wrong, ok=False) == ""
    assert f'logging into "{secure.host}": invalid username/password' in wrong["trustcopy"].stderr
    # The test CA is unknown without --cert-dir (and with --tls-verify=true): nothing is sent, nothing written.
    for extra in ([], ["--tls-verify=true"], ["--cert-dir", str(tmp_path / "no-such-dir")]):
        runs = _both(["login", *extra, "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}", secure.host],
                     home, tmp_path)
        assert _same(runs, ok=False) == ""
        assert f'authenticating creds for "{secure.host}": pinging container registry' in runs["trustcopy"].stderr
    assert _auth_files(tmp_path) == (None, None)
    # --tls-verify=false accepts the certificate, as skopeo
    runs = _both(["login", "--tls-verify=false", "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}", secure.host],
                 home, tmp_path)
    assert _same(runs, ok=True) == "Login Succeeded!\n"
    ours, theirs = _auth_files(tmp_path)
    assert ours == theirs is not None
    assert PASSWORD not in wrong["trustcopy"].stderr + runs["trustcopy"].stderr


def test_get_login_when_not_logged_in(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    for authfile in ("{AF}", str(tmp_path / "missing.json")):
        runs = _both(["login", "--get-login", "--authfile", authfile, secure.host], home, tmp_path)
        assert _same(runs, ok=False) == ""
        assert f"not logged into {secure.host}" in runs["trustcopy"].stderr
    _same(_both(["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}",
                 f"{secure.host}/ns/repo"], home, tmp_path), ok=True)
    # a repository-scoped login is not a login to its registry, nor to a sibling namespace
    for other in (secure.host, f"{secure.host}/ns", f"{secure.host}/ns/other", "other.example.com"):
        runs = _both(["login", "--get-login", "--authfile", "{AF}", other], home, tmp_path)
        assert _same(runs, ok=False) == "", other


@pytest.mark.parametrize(("stdin", "ok"), [
    (PASSWORD, True),  # no line ending at all
    (PASSWORD + "\n", True),
    (PASSWORD + "\n\n\n", True),  # empty lines add nothing
    (PASSWORD + "\r\n", True),  # one CR before the LF is part of the line ending
    (PASSWORD[:4] + "\n" + PASSWORD[4:] + "\n", True),  # lines are joined without their endings
    (PASSWORD + "\r\r\n", False),  # only one CR is: the password ends in CR
    (PASSWORD + " \n", False),  # spaces are kept
], ids=["bare", "lf", "lf-lf-lf", "crlf", "two-lines", "cr-crlf", "trailing-space"])
def test_password_stdin_line_endings(secure: Secure, home: dict[str, str], tmp_path: Path, stdin: str,
                                     ok: bool) -> None:
    runs = _both(["login", "--cert-dir", str(secure.certs), "-u", "alice", "--password-stdin", "--authfile", "{AF}",
                  secure.host], home, tmp_path, stdin=stdin)
    assert _same(runs, ok=ok) == ("Login Succeeded!\n" if ok else "")
    ours, theirs = _auth_files(tmp_path)
    assert ours == theirs and (ours is not None) == ok


@pytest.mark.parametrize(("args", "stdin", "out", "ok", "words"), [
    # -u without -p: the password prompt needs a terminal; a pipe is refused, never read
    (["-u", "alice"], PASSWORD + "\n", "Password: ", False, "reading password"),
    # --password-stdin on an empty stdin: no password, so the prompt, refused as well
    (["-u", "alice", "--password-stdin"], "", "Password: ", False, "reading password"),
    # the user name is read from a pipe, but only a whole line
    ([], "alice", "Username: ", False, "reading username: EOF"),
    ([], "", "Username: ", False, "reading username: EOF"),
    (["-p", PASSWORD], "  alice  \n", "Username: Login Succeeded!\n", True, ""),
], ids=["no-password", "empty-password-stdin", "username-without-newline", "no-username", "username-from-pipe"])
def test_prompts_without_a_terminal(secure: Secure, home: dict[str, str], tmp_path: Path, args: list[str],
                                    stdin: str, out: str, ok: bool, words: str) -> None:
    runs = _both(["login", "--cert-dir", str(secure.certs), *args, "--authfile", "{AF}", secure.host],
                 home, tmp_path, stdin=stdin)
    assert _same(runs, ok=ok) == out
    ours = runs["trustcopy"]
    assert ours.returncode == (0 if ok else 1)  # skopeo's status: not a usage error
    assert f"getting username and password: {words}" in ours.stderr if words else ours.stderr == ""
    assert PASSWORD not in ours.stdout + ours.stderr
    theirs_file, ours_file = _auth_files(tmp_path)[1], _auth_files(tmp_path)[0]
    assert ours_file == theirs_file and (ours_file is not None) == ok


def test_existing_credentials_are_reused(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    login = ["login", "--cert-dir", str(secure.certs), "--authfile", "{AF}", secure.host]
    _same(_both([*login[:3], "-u", "alice", "-p", PASSWORD, *login[3:]], home, tmp_path), ok=True)
    before = _auth_files(tmp_path)
    out = _same(_both(login, home, tmp_path), ok=True)
    assert out == (f"Authenticating with existing credentials for {secure.host}\n"
                   f"Existing credentials are valid. Already logged in to {secure.host}\n")
    assert _auth_files(tmp_path) == before


@pytest.mark.parametrize("key", ["{host}/ns/repo:tag", "{host}/ns/repo@sha256:" + "a" * 64, "{host}/ns/Repo"])
@pytest.mark.parametrize("command", ["login", "logout"])
def test_a_key_that_is_not_a_repository_is_refused_as_skopeo(secure: Secure, home: dict[str, str], tmp_path: Path,
                                                              key: str, command: str) -> None:
    key = key.format(host=secure.host)
    for tool in TOOLS:
        (tmp_path / f"{tool}.json").write_text('{"auths": {}}')
    options = ["-u", "alice", "-p", PASSWORD, "--cert-dir", str(secure.certs)] if command == "login" else []
    runs = _both([command, *options, "--authfile", "{AF}", key], home, tmp_path)
    assert _same(runs, ok=False) == ""
    assert runs["trustcopy"].returncode == 1  # a malformed reference, as skopeo: not a usage error
    if "Repo" not in key:
        assert f'reference "{key}" contains tag or digest' in runs["trustcopy"].stderr
    assert _auth_files(tmp_path) == (b'{"auths": {}}', b'{"auths": {}}')


def test_auth_file_from_the_environment_and_the_default(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    login = ["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", PASSWORD, secure.host]
    for tool in TOOLS:  # $REGISTRY_AUTH_FILE
        env = {**home, "REGISTRY_AUTH_FILE": str(tmp_path / f"{tool}.json")}
        assert _run(tool, login, env).stdout == "Login Succeeded!\n"
    ours, theirs = _auth_files(tmp_path)
    assert ours == theirs is not None
    for tool in TOOLS:  # --authfile wins over it
        env = {**home, "REGISTRY_AUTH_FILE": str(tmp_path / f"{tool}.json")}
        r = _run(tool, [*login[:-1], "--authfile", str(tmp_path / f"{tool}-flag.json"), secure.host], env)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"{tool}-flag.json").read_bytes() == ours
    default = Path(home["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"  # neither: ${XDG_RUNTIME_DIR}/containers
    written = {}
    for tool in TOOLS:
        assert _run(tool, login, home).returncode == 0
        written[tool] = default.read_bytes()
        default.unlink()
    assert written["trustcopy"] == written["skopeo"] == ours
    # -v names the file written, in skopeo's spelling (two spaces)
    runs = {tool: _run(tool, ["login", "-v", *login[1:], "--authfile", str(tmp_path / f"{tool}-v.json")], home)
            for tool in TOOLS}
    for tool, r in runs.items():
        assert r.stdout == f"Used:  {tmp_path / f'{tool}-v.json'}\nLogin Succeeded!\n", (tool, r.stdout)


# -- logout ------------------------------------------------------------------------------------------


def test_logout_of_namespaced_and_url_keys_and_all(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    login = ["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}"]
    for arg in (secure.host, f"{secure.host}/ns/repo", f"{secure.host}/ns/other"):
        _same(_both([*login, arg], home, tmp_path), ok=True)
    steps: list[tuple[str, bool, str]] = [
        (f"{secure.host}/ns", False, ""),  # not a key of its own: nothing removed
        (f"{secure.host}/ns/repo", True, f"Removed login credentials for {secure.host}/ns/repo\n"),
        (f"{secure.host}/ns/repo", False, ""),  # twice
        (f"https://{secure.host}", True, f"Removed login credentials for {secure.host}\n"),  # a URL: its host
        (secure.host, False, ""),
    ]
    for arg, ok, out in steps:
        runs = _both(["logout", "--authfile", "{AF}", arg], home, tmp_path)
        assert _same(runs, ok=ok) == out, arg
        if not ok:
            assert f"not logged into {arg}" in runs["trustcopy"].stderr
        ours, theirs = _auth_files(tmp_path)
        assert ours == theirs, arg
    assert list(json.loads(ours or b"")["auths"]) == [f"{secure.host}/ns/other"]
    runs = _both(["logout", "--authfile", "{AF}", "--all"], home, tmp_path)
    assert _same(runs, ok=True) == "Removed login credentials for all registries\n"
    ours, theirs = _auth_files(tmp_path)
    assert ours == theirs and json.loads(ours or b"") == {"auths": {}}
    # the default file, never written: not logged in / --all succeeds
    runs = _both(["logout", secure.host], home, tmp_path)
    assert _same(runs, ok=False) == ""
    runs = _both(["logout", "--all"], home, tmp_path)
    assert _same(runs, ok=True) == "Removed login credentials for all registries\n"


def test_logout_with_a_missing_auth_file(home: dict[str, str], tmp_path: Path) -> None:
    for args in (["127.0.0.1:5000"], ["--all"]):
        runs = _both(["logout", "--authfile", "{AF}", *args], home, tmp_path)
        assert _same(runs, ok=False) == ""
        # skopeo exits 1; an option naming a file that is not there is a usage error here (exit 2,
        # docs/from-skopeo.md "Usage errors exit 2"), with stat's reason as skopeo's
        assert (runs["trustcopy"].returncode, runs["skopeo"].returncode) == (2, 1)
        assert "No such file or directory" in runs["trustcopy"].stderr
        assert _auth_files(tmp_path) == (None, None)


def test_logout_of_a_key_covered_by_its_registrys_login(home: dict[str, str], tmp_path: Path,
                                                        htpasswd_registry: RegistryServer) -> None:
    host = htpasswd_registry.host
    _same(_both(["login", "--tls-verify=false", "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}", host],
                home, tmp_path), ok=True)
    before = _auth_files(tmp_path)
    # The registry accepts the credentials found for the key (its host's): made "via docker login", exit 0.
    runs = _both(["logout", "--tls-verify=false", "--authfile", "{AF}", f"{host}/ns/repo"], home, tmp_path)
    assert _same(runs, ok=True) == (f"Not logged into {host}/ns/repo with current tool. Existing credentials were "
                                    "established via docker login. Please use docker logout instead.\n")
    # Without --tls-verify=false they cannot be checked (HTTPS to a plain registry): not logged in.
    runs = _both(["logout", "--authfile", "{AF}", f"{host}/ns/repo"], home, tmp_path)
    assert _same(runs, ok=False) == ""
    assert f"not logged into {host}/ns/repo" in runs["trustcopy"].stderr
    assert _auth_files(tmp_path) == before


# -- list-tags with the credentials login wrote ------------------------------------------------------


def test_list_tags_with_logged_in_credentials_over_tls(secure: Secure, home: dict[str, str], tmp_path: Path) -> None:
    creds = fast_sys(docker_username="alice", docker_password=PASSWORD)
    for tag in ("v10", "v9", "latest", "1.0-rc"):
        push_image(secure.host, f"s25/app:{tag}", example_image(), creds)
    ref = f"docker://{secure.host}/s25/app"
    anonymous = _both(["list-tags", "--cert-dir", str(secure.certs), "--authfile", "{AF}", ref], home, tmp_path)
    assert _same(anonymous, ok=False) == ""
    assert "Error listing repository tags" in anonymous["trustcopy"].stderr
    _same(_both(["login", "--cert-dir", str(secure.certs), "-u", "alice", "-p", PASSWORD, "--authfile", "{AF}",
                 f"{secure.host}/s25/app"], home, tmp_path), ok=True)
    out = _same(_both(["list-tags", "--cert-dir", str(secure.certs), "--authfile", "{AF}", ref], home, tmp_path),
                ok=True)
    assert out.startswith(f'{{\n    "Repository": "{secure.host}/s25/app",\n    "Tags": [\n        "')
    assert sorted(json.loads(out)["Tags"]) == ["1.0-rc", "latest", "v10", "v9"]
    missing = _both(["list-tags", "--cert-dir", str(secure.certs), "--authfile", "{AF}", f"{ref}-none"],
                    home, tmp_path)
    assert _same(missing, ok=False) == ""
    assert {r.returncode for r in missing.values()} == {1}


# -- delete ------------------------------------------------------------------------------------------


def _push_index(url: str, name: str, tag: str, index: bytes) -> None:
    r = httpx.put(f"{url}/v2/{name}/manifests/{tag}", content=index,
                  headers={"Content-Type": json.loads(index)["mediaType"]})
    assert r.status_code == 201, r.text


def _status(url: str, name: str, ref: str) -> int:
    return httpx.head(f"{url}/v2/{name}/manifests/{ref}", headers={"Accept": OCI_ACCEPT}).status_code


def _delete_both(host: str, name: str, env: dict[str, str], *extra: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """``delete`` by each tool of ``docker://HOST/TOOL/NAME`` (each tool its own repository)."""
    return {tool: _run(tool, ["delete", "--tls-verify=false", *extra, f"docker://{host}/{tool}/{name}"], env)
            for tool in TOOLS}


def test_delete_by_tag_by_digest_and_twice(plain_registry: RegistryServer, home: dict[str, str]) -> None:
    host, url = plain_registry.host, plain_registry.url
    image = example_image()
    for tool in TOOLS:
        for tag in ("1", "2"):
            push_image(host, f"{tool}/app:{tag}", image, fast_sys())
        push_image(host, f"{tool}/byd:1", image, fast_sys())
    assert _same(_delete_both(host, "app:1", home), ok=True) == ""
    for tool in TOOLS:  # the manifest went, so every tag naming it
        assert [_status(url, f"{tool}/app", r) for r in ("1", "2", image.digest)] == [404, 404, 404]
    for again in ("app:1", "app:2", f"app@{image.digest}", "app", "nothing:1"):  # "app": :latest
        runs = _delete_both(host, again, home)
        assert _same(runs, ok=False) == "", again
        assert runs["trustcopy"].returncode == 1  # as skopeo (a missing image elsewhere exits 2)
        assert "Image may not exist or is not stored with a v2 Schema" in runs["skopeo"].stderr
        assert "the image may not exist or is not stored with a v2 schema" in runs["trustcopy"].stderr
    assert _same(_delete_both(host, f"byd@{image.digest}", home), ok=True) == ""
    assert [_status(url, f"{tool}/byd", "1") for tool in TOOLS] == [404, 404]


def test_delete_of_a_manifest_list_keeps_its_instances(plain_registry: RegistryServer, home: dict[str, str]) -> None:
    host, url = plain_registry.host, plain_registry.url
    amd = make_image([Layer(make_tar([("a", b"amd64")]))])
    arm = make_image([Layer(make_tar([("b", b"arm64")]))], arch="arm64")
    index, _ = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                           (arm, {"architecture": "arm64", "os": "linux"})])
    index_digest = "sha256:" + hashlib.sha256(index).hexdigest()
    for tool in TOOLS:
        push_image(host, f"{tool}/multi:amd", amd, fast_sys())
        push_image(host, f"{tool}/multi:arm", arm, fast_sys())
        _push_index(url, f"{tool}/multi", "list", index)
    assert _same(_delete_both(host, "multi:list", home), ok=True) == ""
    for tool in TOOLS:
        assert [_status(url, f"{tool}/multi", r) for r in ("list", index_digest, amd.digest, arm.digest, "amd")] \
            == [404, 404, 200, 200, 200], tool
    assert _same(_delete_both(host, f"multi@{index_digest}", home), ok=False) == ""
    assert _same(_delete_both(host, f"multi@{amd.digest}", home), ok=True) == ""
    assert [_status(url, f"{tool}/multi", "amd") for tool in TOOLS] == [404, 404]
    # a tag and a digest together: refused by both before anything is asked
    runs = _delete_both(host, f"multi:arm@{arm.digest}", home)
    assert _same(runs, ok=False) == ""
    assert "Docker references with both a tag and digest are currently not supported" in runs["trustcopy"].stderr
    assert [_status(url, f"{tool}/multi", "arm") for tool in TOOLS] == [200, 200]


def test_delete_on_a_registry_with_deletes_disabled(tmp_path_factory: pytest.TempPathFactory,
                                                    home: dict[str, str]) -> None:
    server = RegistryServer(tmp_path_factory.mktemp("s25-nodelete"))
    config = json.loads(server.config_path.read_text())
    config["storage"]["delete"]["enabled"] = False  # Distribution's default: DELETE is 405 UNSUPPORTED
    server.config_path.write_text(json.dumps(config))
    image = example_image()
    with running(server):
        for tool in TOOLS:
            push_image(server.host, f"{tool}/app:1", image, fast_sys())
        runs = _delete_both(server.host, "app:1", home)
        assert _same(runs, ok=False) == ""
        assert "405 Method Not Allowed" in runs["skopeo"].stderr
        ours = runs["trustcopy"].stderr
        assert ours.startswith("error[registry-http]: deleting ") and "405 Method Not Allowed" in ours
        assert "does not allow deleting" in ours and "REGISTRY_STORAGE_DELETE_ENABLED" in ours
        assert [_status(server.url, f"{tool}/app", "1") for tool in TOOLS] == [200, 200]
        # a tag that does not exist is still "may not exist", not the 405
        runs = _delete_both(server.host, "app:none", home)
        assert _same(runs, ok=False) == "" and "405" not in runs["trustcopy"].stderr


def _store_tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _store_dirs(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def test_delete_removes_the_same_lookaside_files_and_keeps_sigstore_attachments(
        plain_registry: RegistryServer, home: dict[str, str], tmp_path: Path) -> None:
    host, url = plain_registry.host, plain_registry.url
    image = example_image()
    amd = make_image([Layer(make_tar([("a", b"amd64")]))])
    index, _ = make_index([(amd, {"architecture": "amd64", "os": "linux"})])
    index_digest = "sha256:" + hashlib.sha256(index).hexdigest()
    attachment = make_image([Layer(make_tar([("sig", b"not a real signature")]))])
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    for tool in TOOLS:
        (registries_d / f"{tool}.yaml").write_text(
            f"docker:\n  {host}/{tool}:\n    lookaside: file://{tmp_path}/store-{tool}\n"
            "    use-sigstore-attachments: true\n")
        push_image(host, f"{tool}/app:1", image, fast_sys())
        push_image(host, f"{tool}/app:{image.digest.replace(':', '-')}.sig", attachment, fast_sys())
        push_image(host, f"{tool}/multi:amd", amd, fast_sys())
        _push_index(url, f"{tool}/multi", "list", index)
        # signature-1, -2 and, after a gap, -4 of the image; the list's and its instance's own
        for repo, digest, numbers in (("app", image.digest, (1, 2, 4)), ("multi", index_digest, (1,)),
                                      ("multi", amd.digest, (1, 2))):
            directory = tmp_path / f"store-{tool}" / tool / f"{repo}@{digest.replace(':', '=')}"
            directory.mkdir(parents=True, exist_ok=True)
            for n in numbers:
                (directory / f"signature-{n}").write_bytes(f"{repo} {n}".encode())
    for name in ("app:1", "multi:list"):
        assert _same(_delete_both(host, name, home, "--registries.d", str(registries_d)), ok=True) == "", name
        left = {tool: [p.split("/", 1)[1] for p in _store_tree(tmp_path / f"store-{tool}")] for tool in TOOLS}
        assert left["trustcopy"] == left["skopeo"], name
    app_dir = f"app@{image.digest.replace(':', '=')}"
    # signatures up to the first missing one (as containers/image); the instance's are not the list's
    assert left["trustcopy"] == [f"{app_dir}/signature-4", f"multi@{amd.digest.replace(':', '=')}/signature-1",
                                 f"multi@{amd.digest.replace(':', '=')}/signature-2"]
    # documented (docs/registries.md): an emptied signature directory is removed; skopeo leaves it
    list_dir = f"multi@{index_digest.replace(':', '=')}"
    assert f"skopeo/{list_dir}" in _store_dirs(tmp_path / "store-skopeo")
    assert f"trustcopy/{list_dir}" not in _store_dirs(tmp_path / "store-trustcopy")
    # neither tool deletes the sigstore attachment (nor does the newest containers/image)
    for tool in TOOLS:
        assert _status(url, f"{tool}/app", f"{image.digest.replace(':', '-')}.sig") == 200
