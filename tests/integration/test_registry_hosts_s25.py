"""Registries reached by unusual host names, end to end, side by side with skopeo 1.9.3.

Host spellings: a bracketed IPv6 literal (``[::1]:PORT``), ``localhost:PORT`` next to
``127.0.0.1:PORT`` (the same server, but distinct registries for credentials, policy scopes,
registries.conf and registries.d, as in containers/image), an upper-case host
(``LOCALHOST:PORT``: a host because of its ``:``, compared case-sensitively everywhere), a
default port spelled out (``127.0.0.1:443`` is not ``127.0.0.1``), a trailing dot and
internationalized names (refused by the reference grammar; punycode is an ordinary name).

skopeo 1.9.3 (and containers/image up to its newest release) refuses ``[::1]:PORT/app`` as
an image name; trustcopy accepts it (docs/from-skopeo.md, "bracketed IPv6 registry hosts are
accepted"), so the IPv6 cases check that skopeo refuses the name and that trustcopy applies
containers/image's rules (which match strings, not addresses) to it: auth file keys byte for
byte as skopeo's ``login`` writes them (skopeo accepts an IPv6 login key), certs.d directory
``[::1]:PORT``, registries.conf entries, registries.d sections and policy scopes. The
IPv6 registries listen on ``[::1]``: the machine running these tests needs IPv6 loopback.

Every other case runs both tools on the same input and compares exit status, stdout and
the files written (auth files, ``dir:`` contents). A registry that both tools write into gets
one repository per tool, so one tool's run never prepares the other's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, example_image, write_dir
from registry_fixtures import (
    _HTPASSWD,
    USERS,
    RegistryServer,
    TLSMaterial,
    fast_sys,
    make_tls_material,
    push_image,
    running,
)

pytestmark = [pytest.mark.registry, pytest.mark.skopeo]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# Without IPv6 loopback (a container with IPv6 switched off) nothing can listen on [::1]: the
# tests named test_ipv6_* skip there (the ``ipv6`` marker may skip under CI=1) and run here.

TOOLS = ("skopeo", "trustcopy")
PASSWORD = USERS["alice"]


# -- registries on [::1] -------------------------------------------------------------------------


def ipv6_registry(workdir: Path, **kwargs: Any) -> RegistryServer:
    """The fixtures' registry, listening on ``[::1]`` instead of 127.0.0.1."""
    return RegistryServer(workdir, listen="::1", **kwargs)


def _ipv6_tls_material(directory: Path) -> TLSMaterial:
    """A CA and a server certificate whose only name is the IP address ::1."""
    return make_tls_material(directory, ips=("::1",), dns=())


@dataclass
class Registries:
    """The module's registries; each holds ``app:1`` (the example image) unless said otherwise."""

    v4: RegistryServer  # plain HTTP on 127.0.0.1 (also reached as localhost)
    v4_auth: RegistryServer  # plain HTTP + htpasswd on 127.0.0.1, empty
    v6: RegistryServer  # plain HTTP on [::1] (these three: None without IPv6 loopback)
    v6_tls: RegistryServer  # HTTPS on [::1], certificate for IP ::1
    v6_auth: RegistryServer  # plain HTTP + htpasswd on [::1], empty
    ca_cert: bytes
    image: Image
    source: Path  # dir: copy of the image


def _trustcopy(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustcopy", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def regs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registries]:
    work = tmp_path_factory.mktemp("s25-hosts")
    (work / "htpasswd").write_text(_HTPASSWD)
    auth = {"htpasswd": {"realm": "basic-realm", "path": str(work / "htpasswd")}}
    tls = _ipv6_tls_material(work / "tls")
    image = example_image()
    write_dir(image, str(work / "src"))
    env = {"PATH": os.environ["PATH"], "HOME": str(work)}
    with contextlib.ExitStack() as stack:
        v4 = stack.enter_context(running(RegistryServer(work / "v4")))
        v4a = stack.enter_context(running(RegistryServer(work / "v4a", auth=auth)))
        v6 = v6t = v6a = None
        if _has_ipv6_loopback():
            v6 = stack.enter_context(running(ipv6_registry(work / "v6")))
            v6t = stack.enter_context(running(ipv6_registry(work / "v6t", tls=tls)))
            v6a = stack.enter_context(running(ipv6_registry(work / "v6a", auth=auth)))
        for server in (v4, v6, v6t):
            if server is None:
                continue
            done = _trustcopy(["copy", "--dest-tls-verify=false", f"dir:{work}/src", f"docker://{server.host}/app:1"],
                              env)
            assert done.returncode == 0, done.stderr
        yield Registries(v4, v4a, v6, v6t, v6a, tls.ca_cert.read_bytes(), image, work / "src")  # type: ignore[arg-type]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment of its own: HOME and XDG_RUNTIME_DIR in tmp_path, no auth file variables."""
    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir(mode=0o700)
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def _both(args: list[str], env: dict[str, str], tmp: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Both tools at once; ``{T}`` in an argument becomes that tool's own name (tmp/TOOL, repo-TOOL)."""
    procs = {}
    for tool in TOOLS:
        command = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
        argv = [*command, *(a.replace("{T}", tool).replace("{D}", str(tmp / tool)) for a in args)]
        procs[tool] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                       text=True, env=env)
    out = {}
    for tool, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=60)
        out[tool] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def _same(runs: dict[str, subprocess.CompletedProcess[str]], *, ok: bool, stdout: bool = True) -> None:
    """Both succeeded (or both failed); with ``stdout``, with the same stdout."""
    ours, theirs = runs["trustcopy"], runs["skopeo"]
    assert (ours.returncode == 0, theirs.returncode == 0) == (ok, ok), (ours.stderr, theirs.stderr)
    if stdout:
        assert ours.stdout == theirs.stdout, (ours.stdout, theirs.stdout)


def _dir_files(path: Path) -> dict[str, bytes]:
    """A dir: image's files by name (blobs, manifest, signatures, version)."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.exists() else {}


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _policy(tmp: Path, docker: dict[str, Any]) -> str:
    return _write(tmp / "policy.json", json.dumps(
        {"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": docker}}))


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# -- IPv6 (trustcopy only: skopeo refuses the name) ---------------------------------------------------


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_name_is_refused_by_skopeo_and_served_by_trustcopy(regs: Registries, home: dict[str, str],
                                                               tmp_path: Path) -> None:
    h = regs.v6.host
    runs = _both(["copy", "--src-tls-verify=false", f"docker://{h}/app:1", "dir:{D}"], home, tmp_path)
    assert runs["skopeo"].returncode != 0 and "invalid reference format" in runs["skopeo"].stderr
    assert runs["trustcopy"].returncode == 0, runs["trustcopy"].stderr
    assert _dir_files(tmp_path / "trustcopy")["manifest.json"] == regs.image.manifest
    # plain HTTP only with --tls-verify=false: no silent fallback
    refused = _trustcopy(["copy", f"dir:{regs.source}", f"docker://{h}/app:2"], home)
    assert refused.returncode != 0 and "error[tls-handshake]" in refused.stderr and f"registry {h}" in refused.stderr
    assert _trustcopy(["copy", "--dest-tls-verify=false", f"dir:{regs.source}", f"docker://{h}/gone:1"],
                      home).returncode == 0
    tags = _trustcopy(["list-tags", "--tls-verify=false", f"docker://{h}/gone"], home)
    assert json.loads(tags.stdout) == {"Repository": f"{h}/gone", "Tags": ["1"]}
    name = _trustcopy(["inspect", "--tls-verify=false", "--format", "{{.Name}} {{.Digest}}",
                       f"docker://{h}/gone:1"], home)
    assert name.stdout == f"{h}/gone {regs.image.digest}\n"
    assert _trustcopy(["delete", "--tls-verify=false", f"docker://{h}/gone:1"], home).returncode == 0
    tags = _trustcopy(["list-tags", "--tls-verify=false", f"docker://{h}/gone"], home)
    assert json.loads(tags.stdout)["Tags"] == []


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_tls_with_cert_dir_and_certs_d_named_host_port(regs: Registries, home: dict[str, str],
                                                          tmp_path: Path) -> None:
    h, ref = regs.v6_tls.host, f"docker://{regs.v6_tls.host}/app:1"
    unknown = _trustcopy(["copy", ref, f"dir:{tmp_path}/none"], home)
    assert unknown.returncode != 0 and "error[tls-verification]" in unknown.stderr
    certs = tmp_path / "certs"
    _write(certs / "ca.crt", regs.ca_cert.decode())
    by_flag = _trustcopy(["copy", "--src-cert-dir", str(certs), ref, f"dir:{tmp_path}/flag"], home)
    assert by_flag.returncode == 0, by_flag.stderr
    # certs.d directories are named host[:port] as in the reference: "[::1]:PORT", brackets kept
    certs_d = Path(home["HOME"]) / ".config" / "containers" / "certs.d"
    _write(certs_d / f"::1:{regs.v6_tls.port}" / "ca.crt", regs.ca_cert.decode())
    assert _trustcopy(["copy", ref, f"dir:{tmp_path}/unbracketed"], home).returncode != 0
    _write(certs_d / h / "ca.crt", regs.ca_cert.decode())
    by_dir = _trustcopy(["copy", ref, f"dir:{tmp_path}/certsd"], home)
    assert by_dir.returncode == 0, by_dir.stderr
    assert _dir_files(tmp_path / "certsd") == _dir_files(tmp_path / "flag") == _dir_files(regs.source)


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
@pytest.mark.parametrize("spelling", ["{h}", "http://{h}", "[0:0::1]:{port}"])
def test_ipv6_login_writes_skopeos_bytes_and_the_key_is_used(regs: Registries, home: dict[str, str],
                                                             tmp_path: Path, spelling: str) -> None:
    h = regs.v6_auth.host
    arg = spelling.format(h=h, port=regs.v6_auth.port)
    key = arg.removeprefix("http://")
    runs = _both(["login", "--tls-verify=false", "-u", "alice", "-p", PASSWORD, "--authfile", "{D}.json", arg],
                 home, tmp_path)
    _same(runs, ok=True)
    ours, theirs = (tmp_path / "trustcopy.json").read_bytes(), (tmp_path / "skopeo.json").read_bytes()
    assert ours == theirs and list(json.loads(ours)["auths"]) == [key]
    _same(_both(["login", "--get-login", "--authfile", "{D}.json", arg], home, tmp_path), ok=True)
    # keys are strings: "[0:0::1]:PORT" is not "[::1]:PORT" although both name one address
    other = f"[::1]:{regs.v6_auth.port}" if key != h else f"[0:0::1]:{regs.v6_auth.port}"
    _same(_both(["login", "--get-login", "--authfile", "{D}.json", other], home, tmp_path), ok=False)
    push = _trustcopy(["copy", "--authfile", f"{tmp_path}/trustcopy.json", "--dest-tls-verify=false",
                       f"dir:{regs.source}", f"docker://{key}/login{len(spelling)}:1"], home)
    assert push.returncode == 0, push.stderr
    runs = _both(["logout", "--authfile", "{D}.json", arg], home, tmp_path)
    _same(runs, ok=True)
    assert runs["trustcopy"].stdout == f"Removed login credentials for {key}\n"
    assert (tmp_path / "trustcopy.json").read_bytes() == (tmp_path / "skopeo.json").read_bytes()


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_repository_scoped_credentials(regs: Registries, home: dict[str, str], tmp_path: Path) -> None:
    h = regs.v6_auth.host
    scoped = {f"{h}/scoped": {"auth": _basic("alice", PASSWORD)}}
    authfile = _write(tmp_path / "auth.json", json.dumps({"auths": scoped}))
    ok = _trustcopy(["copy", "--authfile", authfile, "--dest-tls-verify=false", f"dir:{regs.source}",
                     f"docker://{h}/scoped:1"], home)
    assert ok.returncode == 0, ok.stderr
    refused = _trustcopy(["copy", "--authfile", authfile, "--dest-tls-verify=false", f"dir:{regs.source}",
                          f"docker://{h}/elsewhere:1"], home)
    assert refused.returncode != 0 and "error[registry-auth]" in refused.stderr
    assert PASSWORD not in refused.stderr + ok.stderr


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_registries_conf_insecure_location_and_mirror(regs: Registries, home: dict[str, str],
                                                          tmp_path: Path) -> None:
    h = regs.v6.host
    conf = _write(tmp_path / "insecure.conf", f'[[registry]]\nlocation = "{h}"\ninsecure = true\n')
    push = _trustcopy(["--registries-conf", conf, "copy", f"dir:{regs.source}", f"docker://{h}/conf:1"], home)
    assert push.returncode == 0, push.stderr
    pull = _trustcopy(["--registries-conf", conf, "copy", f"docker://{h}/conf:1", f"dir:{tmp_path}/pulled"], home)
    assert pull.returncode == 0, pull.stderr
    # An IPv6 mirror in front of a dead primary; the policy judges the logical name, the
    # signatures come from the lookaside section of the mirror's (physical) name.
    conf = _write(tmp_path / "mirror.conf",
                  f'[[registry]]\nprefix = "mirrored.example/app"\nlocation = "[::1]:1/app"\n'
                  f'[[registry.mirror]]\nlocation = "{h}/app"\ninsecure = true\n')
    stores = {}
    for name in ("physical", "logical"):
        sig = tmp_path / "sig" / name / f"app@{regs.image.digest.replace(':', '=')}" / "signature-1"
        _write(sig, "")
        sig.write_bytes(b"\xa3" + name.encode())
        stores[name] = f"file://{tmp_path}/sig/{name}"
    regd = tmp_path / "registries.d"
    _write(regd / "s.yaml", json.dumps({"docker": {f"{h}/app": {"lookaside": stores["physical"]},
                                                   "mirrored.example/app": {"lookaside": stores["logical"]}}}))
    mirrored = _trustcopy(["--registries-conf", conf, "--registries.d", str(regd), "copy",
                           "docker://mirrored.example/app:1", f"dir:{tmp_path}/mirrored"], home)
    assert mirrored.returncode == 0, mirrored.stderr
    assert _dir_files(tmp_path / "mirrored")["signature-1"] == b"\xa3physical"
    for scope, rejected in ((f"{h}/app", False), ("mirrored.example/app", True)):
        policy = _policy(tmp_path, {scope: [{"type": "reject"}]})
        run = _trustcopy(["--registries-conf", conf, "--policy", policy, "copy", "docker://mirrored.example/app:1",
                          f"dir:{tmp_path}/p"], home)
        assert (run.returncode != 0) == rejected, (scope, run.stderr)


@pytest.mark.ipv6
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
@pytest.mark.parametrize(("section", "expected"), [
    ("{h}/app", "repo"), ("{h}", "host"), ("[::1]", "default"), ("[0:0::1]:{port}/app", "default"),
    ("*.1", "default"),  # an IPv6 literal has no wildcard parents (c/i: no "." after stripping at the first ":")
])
def test_ipv6_registries_d_section_and_policy_scope(regs: Registries, home: dict[str, str], tmp_path: Path,
                                                   section: str, expected: str) -> None:
    h, port = regs.v6.host, regs.v6.port
    key = section.format(h=h, port=port)
    stores = {}
    for name in ("repo", "host", "default"):
        sig = tmp_path / "sig" / name / f"app@{regs.image.digest.replace(':', '=')}" / "signature-1"
        _write(sig, "")
        sig.write_bytes(b"\xa3" + name.encode())
        stores[name] = f"file://{tmp_path}/sig/{name}"
    # the section names the store it should select; one that never matches leaves the default
    docker = {key: {"lookaside": stores["repo" if expected == "default" else expected]}}
    regd = tmp_path / "registries.d"
    _write(regd / "s.yaml", json.dumps({"default-docker": {"lookaside": stores["default"]}, "docker": docker}))
    run = _trustcopy(["--registries.d", str(regd), "copy", "--src-tls-verify=false", f"docker://{h}/app:1",
                      f"dir:{tmp_path}/out"], home)
    assert run.returncode == 0, run.stderr
    assert _dir_files(tmp_path / "out")["signature-1"] == b"\xa3" + expected.encode()
    policy = _policy(tmp_path, {key: [{"type": "reject"}]})
    judged = _trustcopy(["--policy", policy, "copy", "--src-tls-verify=false", f"docker://{h}/app:1",
                         f"dir:{tmp_path}/judged"], home)
    assert (judged.returncode != 0) == (expected != "default"), judged.stderr
    if expected != "default":
        assert f'transports.docker["{key}"]' in judged.stderr and "SCOPE_REJECT" in judged.stderr


# -- IPv4 spellings, side by side with skopeo ---------------------------------------------------------


@pytest.mark.parametrize(("host", "section"), [
    ("localhost:{p}", "localhost"), ("LOCALHOST:{p}", "LOCALHOST"), ("127.0.0.1:{p}", "ip"),
    ("Localhost:{p}", "default"),  # no section for this spelling: hosts are compared case-sensitively
])
def test_host_spellings_pull_the_same_files_and_pick_the_same_lookaside(
        regs: Registries, home: dict[str, str], tmp_path: Path, host: str, section: str) -> None:
    p = regs.v4.port
    stores = {}
    for name in ("localhost", "LOCALHOST", "ip", "default", "noport"):
        sig = tmp_path / "sig" / name / f"app@{regs.image.digest.replace(':', '=')}" / "signature-1"
        _write(sig, "")
        sig.write_bytes(b"\xa3" + name.encode() * 2)
        stores[name] = f"file://{tmp_path}/sig/{name}"
    regd = tmp_path / "registries.d"
    _write(regd / "s.yaml", json.dumps({"default-docker": {"lookaside": stores["default"]}, "docker": {
        f"localhost:{p}": {"lookaside": stores["localhost"]}, f"LOCALHOST:{p}/app": {"lookaside": stores["LOCALHOST"]},
        f"127.0.0.1:{p}/app": {"lookaside": stores["ip"]}, "127.0.0.1": {"lookaside": stores["noport"]}}}))
    ref = f"docker://{host.format(p=p)}/app:1"
    runs = _both(["--registries.d", str(regd), "copy", "--src-tls-verify=false", ref, "dir:{D}"], home, tmp_path)
    _same(runs, ok=True, stdout=False)  # progress lines differ (documented)
    ours, theirs = _dir_files(tmp_path / "trustcopy"), _dir_files(tmp_path / "skopeo")
    assert ours == theirs
    assert ours["signature-1"] == b"\xa3" + section.encode() * 2
    inspect = _both(["inspect", "--tls-verify=false", "--format", "{{.Name}} {{.Digest}}", ref], home, tmp_path)
    _same(inspect, ok=True)


@pytest.mark.parametrize(("scope", "ref", "rejected"), [
    ("localhost:{p}", "127.0.0.1:{p}", False),
    ("localhost:{p}", "localhost:{p}", True),
    ("127.0.0.1:{p}/app", "localhost:{p}", False),
    ("LOCALHOST:{p}/app", "localhost:{p}", False),
    ("LOCALHOST:{p}/app", "LOCALHOST:{p}", True),
    ("*.0.0.1", "127.0.0.1:{p}", True),  # an IPv4 address has "*." parents, port stripped, as in c/i
    ("*.1", "127.0.0.1:{p}", True),
    ("127.0.0.1", "127.0.0.1:{p}", False),
])
def test_policy_scopes_by_host_spelling_agree(regs: Registries, home: dict[str, str], tmp_path: Path,
                                              scope: str, ref: str, rejected: bool) -> None:
    p = regs.v4.port
    policy = _policy(tmp_path, {scope.format(p=p): [{"type": "reject"}]})
    runs = _both(["--policy", policy, "copy", "--src-tls-verify=false", f"docker://{ref.format(p=p)}/app:1",
                  "dir:{D}"], home, tmp_path)
    _same(runs, ok=not rejected, stdout=False)
    if rejected:
        assert "Source image rejected" in runs["trustcopy"].stderr
        assert (tmp_path / "trustcopy").exists() is False  # nothing opened at the destination
    else:
        assert _dir_files(tmp_path / "trustcopy") == _dir_files(tmp_path / "skopeo") != {}


@pytest.mark.parametrize(("login_as", "copy_as", "ok"), [
    ("localhost:{p}", "localhost:{p}", True),
    ("localhost:{p}", "127.0.0.1:{p}", False),
    ("127.0.0.1:{p}", "localhost:{p}", False),
    ("LOCALHOST:{p}", "LOCALHOST:{p}", True),
    ("LOCALHOST:{p}", "localhost:{p}", False),
    ("127.0.0.1", "127.0.0.1:{p}", False),  # a key without the port is another registry
])
def test_credentials_belong_to_the_host_as_spelled(regs: Registries, home: dict[str, str], tmp_path: Path,
                                                   login_as: str, copy_as: str, ok: bool) -> None:
    p = regs.v4_auth.port
    login_key, copy_host = login_as.format(p=p), copy_as.format(p=p)
    if login_key == "127.0.0.1":  # nothing listens there: write the key as login would
        for tool in TOOLS:
            _write(tmp_path / f"{tool}.json", json.dumps({"auths": {login_key: {"auth": _basic("alice", PASSWORD)}}}))
    else:
        login = _both(["login", "--tls-verify=false", "-u", "alice", "-p", PASSWORD, "--authfile", "{D}.json",
                       login_key], home, tmp_path)
        _same(login, ok=True)
        assert (tmp_path / "trustcopy.json").read_bytes() == (tmp_path / "skopeo.json").read_bytes()
        assert list(json.loads((tmp_path / "trustcopy.json").read_bytes())["auths"]) == [login_key]
    get = _both(["login", "--get-login", "--authfile", "{D}.json", copy_host], home, tmp_path)
    _same(get, ok=login_key == copy_host)
    push = _both(["copy", "--authfile", "{D}.json", "--dest-tls-verify=false", f"dir:{regs.source}",
                  f"docker://{copy_host}/cred-{{T}}-{len(login_as)}{len(copy_as)}:1"], home, tmp_path)
    _same(push, ok=ok, stdout=False)
    assert PASSWORD not in push["trustcopy"].stderr


def _rewrite_443(tmp: Path, p: int, extra: str = "") -> str:
    return _write(tmp / "registries.conf",
                  f'[[registry]]\nprefix = "127.0.0.1:443"\nlocation = "127.0.0.1:{p}"\ninsecure = true\n{extra}')


@pytest.mark.parametrize(("conf", "ref", "ok"), [
    # an entry for "127.0.0.1" also matches "127.0.0.1:PORT" (c/i refMatchingPrefix: ":" ends a match)
    ('[[registry]]\nlocation = "127.0.0.1"\nblocked = true\n', "127.0.0.1:{p}/app:1", False),
    ('[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n', "127.0.0.1:{p}/app:1", True),
    ('[[registry]]\nlocation = "localhost:{p}"\ninsecure = true\n', "127.0.0.1:{p}/app:1", False),
    ('[[registry]]\nlocation = "localhost:{p}"\ninsecure = true\n', "localhost:{p}/app:1", True),
    ('[[registry]]\nlocation = "LOCALHOST:{p}"\ninsecure = true\n', "localhost:{p}/app:1", False),
    ('[[registry]]\nlocation = "LOCALHOST:{p}"\ninsecure = true\n', "LOCALHOST:{p}/app:1", True),
    # the default port spelled out is a name of its own, rewritten to the test registry
    ('[[registry]]\nprefix = "127.0.0.1:443"\nlocation = "127.0.0.1:{p}"\ninsecure = true\n', "127.0.0.1:443/app:1",
     True),
    ('[[registry]]\nprefix = "127.0.0.1:443"\nlocation = "127.0.0.1:1"\n'
     '[[registry.mirror]]\nlocation = "localhost:{p}"\ninsecure = true\n', "127.0.0.1:443/app:1", True),
    # punycode is an ordinary name (upper case too); no DNS: rewritten to the test registry
    ('[[registry]]\nprefix = "xn--bcher-kva.example"\nlocation = "127.0.0.1:{p}"\ninsecure = true\n',
     "xn--bcher-kva.example/app:1", True),
    ('[[registry]]\nprefix = "XN--BCHER-KVA.EXAMPLE"\nlocation = "127.0.0.1:{p}"\ninsecure = true\n',
     "XN--BCHER-KVA.EXAMPLE/app:1", True),
])
def test_registries_conf_entries_by_host_spelling_agree(regs: Registries, home: dict[str, str], tmp_path: Path,
                                                        conf: str, ref: str, ok: bool) -> None:
    p = regs.v4.port
    path = _write(tmp_path / "registries.conf", conf.replace("{p}", str(p)))
    runs = _both(["--registries-conf", path, "copy", "--retry-times", "0", f"docker://{ref.format(p=p)}",
                  "dir:{D}"], home, tmp_path)
    _same(runs, ok=ok, stdout=False)
    if ok:
        assert _dir_files(tmp_path / "trustcopy") == _dir_files(tmp_path / "skopeo") == _dir_files(regs.source)


@pytest.mark.parametrize(("scope", "rejected"), [
    ("127.0.0.1:443/app", True), ("127.0.0.1:443", True),
    ("127.0.0.1", False),  # the port is part of the scope; ":443" is not the same as no port
    ("127.0.0.1:{p}", False),  # the physical location is not judged, the name written is
])
def test_policy_judges_the_spelled_default_port(regs: Registries, home: dict[str, str], tmp_path: Path,
                                               scope: str, rejected: bool) -> None:
    p = regs.v4.port
    conf = _rewrite_443(tmp_path, p)
    policy = _policy(tmp_path, {scope.format(p=p): [{"type": "reject"}]})
    runs = _both(["--registries-conf", conf, "--policy", policy, "copy", "docker://127.0.0.1:443/app:1", "dir:{D}"],
                 home, tmp_path)
    _same(runs, ok=not rejected, stdout=False)


@pytest.mark.parametrize("name", [
    "localhost.:{p}/app:1", "127.0.0.1.:{p}/app:1", "example.com./app:1",  # a trailing dot is not in the grammar
    "b\u00fccher.example/app:1",  # IDN must be written in punycode
    "-leading.example/app:1", "[::1%lo]:{p}/app:1",
])
def test_host_names_outside_the_grammar_are_refused_before_any_network(regs: Registries, home: dict[str, str],
                                                                       tmp_path: Path, name: str) -> None:
    ref = f"docker://{name.format(p=regs.v4.port)}"
    runs = _both(["copy", "--src-tls-verify=false", ref, "dir:{D}"], home, tmp_path)
    _same(runs, ok=False)
    assert "invalid reference format" in runs["skopeo"].stderr
    assert "error[invalid-reference]" in runs["trustcopy"].stderr
    assert not (tmp_path / "trustcopy").exists()


def test_list_tags_inspect_delete_by_upper_case_host(regs: Registries, home: dict[str, str], tmp_path: Path) -> None:
    p = regs.v4.port
    for tool in TOOLS:  # one repository per tool, pushed under two tags
        for tag in ("a", "B"):
            push_image(regs.v4.host, f"up-{tool}:{tag}", regs.image, fast_sys())
    repo = f"docker://LOCALHOST:{p}/up-{{T}}"
    tags = _both(["list-tags", "--tls-verify=false", repo], home, tmp_path)
    _same(tags, ok=True, stdout=False)
    for tool in TOOLS:
        listed = json.loads(tags[tool].stdout)
        assert listed["Repository"] == f"LOCALHOST:{p}/up-{tool}" and sorted(listed["Tags"]) == ["B", "a"]
    _same(_both(["inspect", "--tls-verify=false", "--format", "{{.Digest}} {{.RepoTags}}", f"{repo}:B"],
                home, tmp_path), ok=True)
    _same(_both(["delete", "--tls-verify=false", f"{repo}:B"], home, tmp_path), ok=True)
    after = _both(["list-tags", "--tls-verify=false", repo], home, tmp_path)
    for tool in TOOLS:
        assert json.loads(after[tool].stdout)["Tags"] == []  # both tags named the deleted manifest
