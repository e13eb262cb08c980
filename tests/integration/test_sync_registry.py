"""``trustcopy sync`` against real registries: policy halves, nothing partial, a second run that costs HEADs.

The registries are Debian's docker-registry on 127.0.0.1 (registry_fixtures.py); a
FaultProxy in front of each records every request, so a test can assert exactly what a
run asked of each side (no GET of a manifest or a blob on a second run; one HEAD per side
for an identical image; nothing at all for an image the policy refuses by scope).
"""

from __future__ import annotations

import http.server
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer, make_image, make_tar
from registry_fixtures import FaultProxy, RegistryServer, fast_sys, free_port, push_image, running, serve_in_thread
from registry_fixtures import stop_server as stop_http_server
from sync_output import outcomes

pytestmark = [pytest.mark.registry]

def catalog(reg: RegistryServer) -> list[str]:
    with urllib.request.urlopen(f"{reg.url}/v2/_catalog?n=1000", timeout=10) as resp:
        return sorted(json.load(resp)["repositories"])


def manifest_digest(reg: RegistryServer, name: str, tag: str) -> str | None:
    req = urllib.request.Request(f"{reg.url}/v2/{name}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers["Docker-Content-Digest"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def small_image(n: int) -> Any:
    return make_image([Layer(make_tar([(f"file-{n}.txt", f"image {n}\n".encode())]))])


def requests(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in proxy.seen]


def gets_of_content(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [(m, p) for m, p in requests(proxy) if m == "GET" and ("/manifests/" in p or "/blobs/" in p)]


@pytest.fixture
def src_proxy(plain_registry: RegistryServer) -> Iterator[FaultProxy]:
    with running(FaultProxy(plain_registry.port)) as proxy:
        yield proxy


@pytest.fixture
def dest_proxy(second_plain_registry: RegistryServer) -> Iterator[FaultProxy]:
    with running(FaultProxy(second_plain_registry.port)) as proxy:
        yield proxy


def write_policy(tmp_path: Path, policy: dict[str, Any]) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return path


TLS = ("--src-tls-verify=false", "--dest-tls-verify=false")


def test_thirty_repositories_half_refused_then_a_second_run_costs_one_head_per_side(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, second_plain_registry: RegistryServer,
        src_proxy: FaultProxy, dest_proxy: FaultProxy) -> None:
    for i in range(30):
        push_image(plain_registry.host, f"team/r{i:02d}:1.{i}", small_image(i), fast_sys())
    accepted = [i for i in range(30) if i % 2 == 0]
    scopes = {f"{src_proxy.host}/team/r{i:02d}": [{"type": "insecureAcceptAnything" if i in accepted else "reject"}]
              for i in range(30)}
    policy = write_policy(tmp_path, {"default": [{"type": "reject"}], "transports": {"docker": scopes}})
    yaml = tmp_path / "mirror.yaml"
    yaml.write_text(f"{src_proxy.host}:\n  images:\n" + "".join(f"    team/r{i:02d}: []\n" for i in range(30)))
    args = ("--policy", str(policy), "sync", "--src", "yaml", "--dest", "docker", *TLS, "--keep-going",
            "--parallel-images", "4", str(yaml), f"{dest_proxy.host}/mirror")

    first = run_cli(*args)
    assert first.exit_code == 1, first.stderr
    got = outcomes(first.stdout)
    assert len(got["COPIED"]) == 15 and len(got["REJECTED"]) == 15 and "FAILED" not in got
    assert "sync of 30 images: 15 copied, 0 skipped (identical), 15 rejected by policy, 0 failed" in first.stderr
    # The right half arrived, byte for byte; nothing of the other half exists at the destination.
    assert catalog(second_plain_registry) == [f"mirror/r{i:02d}" for i in accepted]
    for i in accepted:
        assert manifest_digest(second_plain_registry, f"mirror/r{i:02d}", f"1.{i}") == \
            manifest_digest(plain_registry, f"team/r{i:02d}", f"1.{i}")
    refused = [f"/r{i:02d}/" for i in range(30) if i not in accepted]
    assert not [p for _, p in requests(dest_proxy) + requests(src_proxy) if any(r in p for r in refused)
                and "/tags/list" not in p], "a repository the policy refuses was contacted"
    # One session: each registry pinged once, despite four images at a time.
    assert dest_proxy.count("GET", "/v2/") - dest_proxy.count("GET", "/v2/mirror") == 1

    src_proxy.seen.clear()
    dest_proxy.seen.clear()
    second = run_cli(*args)
    assert second.exit_code == 1
    got = outcomes(second.stdout)
    assert len(got["SKIPPED"]) == 15 and len(got["REJECTED"]) == 15 and "COPIED" not in got
    assert all(line.endswith("(identical)") for line in got["SKIPPED"])
    assert gets_of_content(src_proxy) == [] and gets_of_content(dest_proxy) == []
    assert [m for m, _ in requests(dest_proxy) if m not in ("GET", "HEAD")] == []  # nothing written
    for proxy in (src_proxy, dest_proxy):
        heads = [p for m, p in requests(proxy) if m == "HEAD"]
        assert len(heads) == 15 and all("/manifests/" in p for p in heads)


def test_signed_and_unsigned_images_under_a_signed_by_policy(
        run_cli: Any, tmp_path: Path, second_plain_registry: RegistryServer, dest_proxy: FaultProxy,
        example_home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """30 dir: images, half signed with the keys-example key; the policy accepts only those."""
    from gpghelpers import KEYS_EXAMPLE
    from imagefactory import write_dir

    from trustcopy.copy.options import CopyOptions
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.reference import parse_named
    from trustcopy.transports.alltransports import parse_image_name

    monkeypatch.setenv("GNUPGHOME", example_home.path)
    fpr = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
    identity = "registry.example.com/mirror/app:1"
    src = tmp_path / "images"
    unsigned = tmp_path / "unsigned"
    signed = set()
    src.mkdir()
    with PolicyContext(insecure_accept_anything_policy()) as anything:
        for i in range(30):
            write_dir(small_image(i), str(unsigned / f"app{i:02d}:1"))
            if i % 3 == 0 or (i % 3 == 1 and i < 15):  # 15 of the 30, not simply every other one
                signed.add(i)
                copy_image(anything, parse_image_name(f"dir:{src}/app{i:02d}:1"),
                           parse_image_name(f"dir:{unsigned}/app{i:02d}:1"),
                           CopyOptions(sign_by=fpr, sign_identity=parse_named(identity)))
            else:
                (unsigned / f"app{i:02d}:1").rename(src / f"app{i:02d}:1")
    assert len(signed) == 15
    policy = write_policy(tmp_path, {"default": [{"type": "reject"}], "transports": {"dir": {"": [{
        "type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEYS_EXAMPLE / "pubring.gpg"),
        "signedIdentity": {"type": "exactReference", "dockerReference": identity}}]}}})
    args = ("--policy", str(policy), "sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false",
            "--remove-signatures", "--keep-going", str(src), f"{dest_proxy.host}/mirror")
    first = run_cli(*args)
    got = outcomes(first.stdout)
    assert first.exit_code == 1 and len(got["COPIED"]) == 15 and len(got["REJECTED"]) == 15, first.stderr
    assert catalog(second_plain_registry) == sorted(f"mirror/app{i:02d}" for i in signed)
    for line in got["REJECTED"]:
        assert "error[policy-rejected]" in line
    dest_proxy.seen.clear()
    second = run_cli(*args)
    got = outcomes(second.stdout)
    assert len(got["SKIPPED"]) == 15 and len(got["REJECTED"]) == 15
    assert gets_of_content(dest_proxy) == []
    assert {m for m, _ in requests(dest_proxy)} <= {"HEAD", "GET"}
    assert len([p for m, p in requests(dest_proxy) if m == "HEAD"]) == 30  # one per image: 15 found, 15 not


def test_tokens_and_pings_are_shared_by_the_images_of_a_sync(run_cli: Any, token_registry: Any,
                                                              tmp_path: Path) -> None:
    from registry_fixtures import USERS

    creds = f"alice:{USERS['alice']}"
    for i in range(8):
        push_image(token_registry.host, f"team/app:v{i}", small_image(i),
                   fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    before = token_registry.issuer.issued_tokens()
    r = run_cli("--insecure-policy", "sync", "--src", "docker", "--dest", "docker", *TLS, "--src-creds", creds,
                "--dest-creds", creds, "--parallel-images", "4", f"{token_registry.host}/team/app",
                f"{token_registry.host}/mirror")
    assert r.exit_code == 0, r.stderr
    assert len(outcomes(r.stdout)["COPIED"]) == 8
    asked = token_registry.issuer.requests[before:]
    # One token per distinct scope set (listing, reading, pushing with a mount), not one per image.
    assert len(asked) <= 4, [t.scopes for t in asked]
    assert len({tuple(t.scopes) for t in asked}) == len(asked)
    assert USERS["alice"] not in r.stdout + r.stderr


class _EndlessTags(http.server.BaseHTTPRequestHandler):
    """A registry whose tag list for ``endless`` never ends (a new page, a new Link, forever)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == "/v2/":
            body = b"{}"
            link = None
        elif self.path.startswith("/v2/endless/tags/list"):
            n = int(self.path.partition("last=")[2] or 0)
            body = json.dumps({"name": "endless", "tags": [f"t{n}"]}).encode()
            link = f'</v2/endless/tags/list?n=1&last={n + 1}>; rel="next"'
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if link:
            self.send_header("Link", link)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_bad_entries_are_reported_each_for_itself_and_keep_going_copies_the_rest(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, second_plain_registry: RegistryServer) -> None:
    push_image(plain_registry.host, "team/good:1", small_image(1), fast_sys())
    endless = serve_in_thread(free_port(), _EndlessTags)
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    try:
        yaml = tmp_path / "bad.yaml"
        yaml.write_text(f"""\
{plain_registry.host}:
  tls-verify: false
  images:
    team/good: ["1"]
    team/missing: []
  images-by-tag-regex:
    team/good: "(unclosed"
  images-by-semver:
    team/good: ">= one.two"
  typo-images: {{}}
{nobody}:
  tls-verify: false
  images:
    any/thing: []
127.0.0.1:{endless.server_address[1]}:
  tls-verify: false
  images:
    endless: []
""")
        base = ("--insecure-policy", "sync", "--retry-times", "0", "--src", "yaml", "--dest", "docker",
                "--dest-tls-verify=false", str(yaml), f"{second_plain_registry.host}/mirror")
        start = time.monotonic()
        r = run_cli(*base, "--keep-going")
        assert time.monotonic() - start < 60
        got = outcomes(r.stdout)
        assert r.exit_code == 1
        assert [line.split(" -> ")[0] for line in got["COPIED"]] == [f"docker://{plain_registry.host}/team/good:1"]
        failed = "\n".join(got["FAILED"])
        assert len(got["FAILED"]) == 5, failed
        assert "team/good (images-by-tag-regex): error[sync-regex-invalid]" in failed
        assert "team/good (images-by-semver): error[semver-constraint-invalid]" in failed
        assert "team/missing (images): error[image-not-found]" in failed
        assert f"{nobody}/any/thing (images): error[network" in failed
        assert "endless (images): error[limit-exceeded]" in failed and "pages" in failed
        assert "'typo-images'" in r.stderr and "warning:" in r.stderr
        assert "1 copied, 0 skipped (identical), 0 rejected by policy, 5 failed" in r.stderr

        # Without --keep-going a bad entry stops the sync before anything is copied.
        r = run_cli(*base[:-1], f"{second_plain_registry.host}/strict")
        got = outcomes(r.stdout)
        assert r.exit_code == 1 and "COPIED" not in got and len(got["NOT ATTEMPTED"]) == 1
        assert "strict/" not in " ".join(catalog(second_plain_registry))
    finally:
        stop_http_server(endless)


def test_without_keep_going_the_first_rejection_stops_the_rest(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, second_plain_registry: RegistryServer) -> None:
    for i in range(6):
        push_image(plain_registry.host, f"lib/app:{i}", small_image(i), fast_sys())
    policy = write_policy(tmp_path, {"default": [{"type": "insecureAcceptAnything"}], "transports": {
        "docker": {f"{plain_registry.host}/lib/app:3": [{"type": "reject"}]}}})
    r = run_cli("--policy", str(policy), "sync", "--src", "yaml", "--dest", "docker", *TLS, "--parallel-images", "1",
                str(_yaml(tmp_path, plain_registry, "lib/app", [str(i) for i in range(6)])),
                f"{second_plain_registry.host}/m")
    got = outcomes(r.stdout)
    assert r.exit_code == 1
    assert [line.split(" ")[0].rsplit(":", 1)[1] for line in got["COPIED"]] == ["0", "1", "2"]
    assert len(got["REJECTED"]) == 1 and len(got["NOT ATTEMPTED"]) == 2
    assert "--keep-going goes on" in r.stderr


def _yaml(tmp_path: Path, reg: RegistryServer, repo: str, tags: list[str]) -> Path:
    path = tmp_path / "one.yaml"
    path.write_text(f"{reg.host}:\n  tls-verify: false\n  images:\n    {repo}: {json.dumps(tags)}\n")
    return path


def test_dry_run_judges_and_writes_nothing(run_cli: Any, tmp_path: Path, plain_registry: RegistryServer,
                                           dest_proxy: FaultProxy) -> None:
    for i in range(3):
        push_image(plain_registry.host, f"lib/app:{i}", small_image(i), fast_sys())
    policy = write_policy(tmp_path, {"default": [{"type": "insecureAcceptAnything"}], "transports": {
        "docker": {f"{plain_registry.host}/lib/app:1": [{"type": "reject"}]}}})
    digests = tmp_path / "digests"
    r = run_cli("--policy", str(policy), "sync", "--dry-run", "--keep-going", "--digestfile", str(digests), "--src",
                "docker", "--dest", "docker", *TLS, f"{plain_registry.host}/lib/app", f"{dest_proxy.host}/m")
    got = outcomes(r.stdout)
    assert r.exit_code == 1 and len(got["WOULD COPY"]) == 2 and len(got["REJECTED"]) == 1
    assert "dry run: sync of 3 images: 2 would copy" in r.stderr
    assert {m for m, _ in requests(dest_proxy)} <= {"GET", "HEAD"}
    assert not digests.exists()  # as skopeo: no digest file in a dry run


def test_dir_destination_second_run_skips_and_a_moved_tag_is_copied_again(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, src_proxy: FaultProxy) -> None:
    for i in range(3):
        push_image(plain_registry.host, f"lib/app:{i}", small_image(i), fast_sys())
    out = tmp_path / "usb"
    digests = tmp_path / "digests"
    args = ("--insecure-policy", "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false",
            "--digestfile", str(digests), f"{src_proxy.host}/lib/app", str(out))
    r = run_cli(*args)
    assert r.exit_code == 0 and len(outcomes(r.stdout)["COPIED"]) == 3, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["app:0", "app:1", "app:2"]
    lines = digests.read_text().splitlines()
    assert len(lines) == 3 and all(re.fullmatch(rf"sha256:[0-9a-f]{{64}} dir:{out}/app:\d", line) for line in lines)

    src_proxy.seen.clear()
    r = run_cli(*args)
    assert r.exit_code == 0 and len(outcomes(r.stdout)["SKIPPED"]) == 3
    assert gets_of_content(src_proxy) == []
    assert digests.read_text().splitlines() == lines  # identical images are at the destination too

    push_image(plain_registry.host, "lib/app:1", small_image(99), fast_sys())  # the tag moves
    r = run_cli(*args)
    got = outcomes(r.stdout)
    assert len(got["SKIPPED"]) == 2 and len(got["COPIED"]) == 1 and "app:1" in got["COPIED"][0]
    assert (out / "app:1" / "manifest.json").read_bytes() == small_image(99).manifest


def test_shards_split_the_work_without_overlap(run_cli: Any, tmp_path: Path, plain_registry: RegistryServer,
                                               second_plain_registry: RegistryServer) -> None:
    for i in range(12):
        push_image(plain_registry.host, f"lib/app:{i}", small_image(i), fast_sys())
    done: list[str] = []
    for index in range(3):
        r = run_cli("--insecure-policy", "sync", "--src", "docker", "--dest", "docker", *TLS, "--shard",
                    f"{index}/3", f"{plain_registry.host}/lib/app", f"{second_plain_registry.host}/m")
        assert r.exit_code == 0, r.stderr
        done += outcomes(r.stdout).get("COPIED", [])
    assert len(done) == 12 and len({line.split(" -> ")[1] for line in done}) == 12


def test_usage_errors_exit_2(run_cli: Any, tmp_path: Path) -> None:
    for args, text in [(("--src", "docker", "a", "b"), "destination transport must be specified"),
                       (("--src", "oci", "--dest", "dir", "a", "b"), "'oci' is not a valid source transport"),
                       (("--src", "dir", "--dest", "dir", str(tmp_path), "b"), "rsync"),
                       (("--src", "yaml", "--dest", "dir", "--shard", "3/3", "a", "b"), "counts from 0"),
                       (("--src", "yaml", "--dest", "docker", "a", "docker://reg.example.com/x"),
                        "must not name the transport")]:
        r = run_cli("--insecure-policy", "sync", *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert text in r.stderr


def _push_list(run_cli: Any, tmp_path: Path, host: str) -> tuple[Any, Any, bytes]:
    """An OCI index of an amd64 and an arm64 image, pushed (with --all) as HOST/lib/multi:1."""
    from imagefactory import make_index

    amd64 = make_image([Layer(make_tar([("amd64.txt", b"amd64\n")]))], arch="amd64")
    arm64 = make_image([Layer(make_tar([("arm64.txt", b"arm64\n")]))], arch="arm64")
    index, blobs = make_index([(amd64, {"os": "linux", "architecture": "amd64"}),
                               (arm64, {"os": "linux", "architecture": "arm64"})])
    path = tmp_path / "list"
    path.mkdir()
    for digest, data in blobs.items():
        name = f"{digest.split(':')[1]}.manifest.json" if digest in (amd64.digest, arm64.digest) else digest[7:]
        (path / name).write_bytes(data)
    (path / "manifest.json").write_bytes(index)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    r = run_cli("--insecure-policy", "copy", "-q", "--all", "--dest-tls-verify=false", f"dir:{path}",
                f"docker://{host}/lib/multi:1")
    assert r.exit_code == 0, r.stderr
    return amd64, arm64, index


@pytest.mark.parametrize("all_instances", [False, True], ids=["platform-instance", "all"])
def test_manifest_list_source_is_recognised_as_identical(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, second_plain_registry: RegistryServer,
        src_proxy: FaultProxy, all_instances: bool) -> None:
    amd64, _, _ = _push_list(run_cli, tmp_path, plain_registry.host)
    flags = ["--all"] if all_instances else []
    args = ("--insecure-policy", "--override-arch", "amd64", "--override-os", "linux", "sync", *flags, "--src",
            "docker", "--dest", "docker", *TLS, f"{src_proxy.host}/lib/multi:1", f"{second_plain_registry.host}/m")
    r = run_cli(*args)
    assert r.exit_code == 0 and len(outcomes(r.stdout)["COPIED"]) == 1, r.stderr
    if not all_instances:  # the platform's instance is written under the tag
        assert manifest_digest(second_plain_registry, "m/multi", "1") == amd64.digest
    src_proxy.seen.clear()
    r = run_cli(*args)
    assert r.exit_code == 0 and len(outcomes(r.stdout)["SKIPPED"]) == 1, r.stdout + r.stderr
    manifest_gets = [p for m, p in gets_of_content(src_proxy)]
    # Without --all the list is read once to learn the instance a copy would take; never a blob.
    assert manifest_gets == ([] if all_instances else ["/v2/lib/multi/manifests/1"])


def test_command_timeout_ends_a_sync_and_leaves_nothing_partial(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer, src_proxy: FaultProxy) -> None:
    from registry_fixtures import Fault

    for i in range(3):
        push_image(plain_registry.host, f"lib/app:{i}", small_image(i), fast_sys())
    src_proxy.rule = lambda m, p, h: Fault(stall=30) if m == "GET" and "/blobs/" in p else None
    out = tmp_path / "usb"
    start = time.monotonic()
    r = run_cli("--insecure-policy", "--command-timeout", "3s", "sync", "--src", "docker", "--dest", "dir",
                "--src-tls-verify=false", f"{src_proxy.host}/lib/app", str(out))
    assert r.exit_code == 1
    assert "error[command-timeout]" in r.stderr or "command-timeout" in r.stdout
    assert time.monotonic() - start < 15
    deadline = time.monotonic() + 15  # images still running end by the same deadline and clean up
    while time.monotonic() < deadline and out.exists() and any(out.iterdir()):
        time.sleep(0.2)
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_yaml_credentials_are_used_and_never_printed(run_cli: Any, tmp_path: Path, htpasswd_registry: RegistryServer,
                                                     second_plain_registry: RegistryServer) -> None:
    from registry_fixtures import USERS

    push_image(htpasswd_registry.host, "lib/app:1", small_image(1),
               fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    wrong = "Wr0ng-pa55word-n3ver-pr1nted"
    for password, code in ((USERS["alice"], 0), (wrong, 1)):
        yaml = tmp_path / "creds.yaml"
        yaml.write_text(f"{htpasswd_registry.host}:\n  tls-verify: false\n  credentials:\n    username: alice\n"
                        f"    password: {json.dumps(password)}\n  images:\n    lib/app: []\n")
        r = run_cli("--insecure-policy", "sync", "--retry-times", "0", "--src", "yaml", "--dest", "docker",
                    "--dest-tls-verify=false", str(yaml), f"{second_plain_registry.host}/m")
        assert r.exit_code == code, r.stdout + r.stderr
        assert password not in r.stdout + r.stderr
        if code:
            assert "error[registry-auth]" in outcomes(r.stdout)["FAILED"][0]


def test_a_registry_that_is_down_is_pinged_once_for_all_its_images(run_cli: Any, tmp_path: Path,
                                                                    second_plain_registry: RegistryServer) -> None:
    """Concurrent images share the session's ping, and its failure: not one ping (with retries) each."""
    import socket
    import threading

    accepted = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(1)
            time.sleep(0.3)  # slow enough that every image is waiting for this ping
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.getsockname()[1]}"
        yaml = tmp_path / "down.yaml"
        yaml.write_text(f"{host}:\n  tls-verify: false\n  images:\n    app: [a, b, c, d, e, f]\n")
        r = run_cli("--insecure-policy", "sync", "--retry-times", "0", "--keep-going", "--src", "yaml", "--dest",
                    "docker", "--dest-tls-verify=false", str(yaml), f"{second_plain_registry.host}/m")
        got = outcomes(r.stdout)
        assert r.exit_code == 1 and len(got["FAILED"]) == 6
        assert len(accepted) <= 2, accepted  # one HTTPS and one plain-HTTP attempt, for six images
    finally:
        stop.set()
        thread.join(5)
        server.close()
