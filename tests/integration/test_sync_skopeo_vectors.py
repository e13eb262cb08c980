"""``trustcopy sync`` against the cases of skopeo's own sync tests, on local registries.

Each test names the skopeo test it restates (newest skopeo: integration/sync_test.go,
systemtest/080-sync.bats, cmd/skopeo/sync_test.go; and the option list of
docs/skopeo-sync.1.md). Those tests use registry.k8s.io and quay.io; here the same
situations are built on the local registries of registry_fixtures.py. Where skopeo 1.9.3
(installed) has the feature, it runs on the same input and the two must agree on what
scripts can see: which images land where, the exit status (zero or not), the file layout.

Deliberate differences (docs/commands/sync.md, "Differences from skopeo sync") are
asserted as trustcopy's behaviour, with the difference named in the test.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from imagefactory import DOCKER_LIST, OCI_INDEX, Layer, make_image, make_index, make_tar
from registry_fixtures import USERS, RegistryServer, fast_sys, push_image
from sync_output import outcomes

pytestmark = [pytest.mark.registry]

TLS_OFF = ("--src-tls-verify=false", "--dest-tls-verify=false")
def image(n: int, *, docker: bool = False, arch: str = "amd64") -> Any:
    return make_image([Layer(make_tar([(f"file-{n}.txt", f"vector image {n}\n".encode())]))], docker=docker,
                      arch=arch)


def image_dirs(root: Path) -> list[str]:
    """The image directories below ``root`` (relative), as skopeo's assertNumberOfManifestsInSubdirs walks them."""
    if not root.exists():
        return []
    return sorted(str(p.parent.relative_to(root)) for p in root.rglob("manifest.json"))


def tags(reg: RegistryServer, repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"{reg.url}/v2/{repo}/tags/list", timeout=10) as resp:
            return sorted(json.load(resp)["tags"] or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def catalog(reg: RegistryServer) -> list[str]:
    with urllib.request.urlopen(f"{reg.url}/v2/_catalog?n=1000", timeout=10) as resp:
        return sorted(json.load(resp)["repositories"])


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return path


def skopeo(policy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--policy", str(policy), "sync", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def both(run_cli: Any, policy: Path, tmp_path: Path, args: list[str],
         dest: str | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run skopeo then trustcopy; ``{tool}`` in an argument (and in ``dest``) becomes the tool's name."""
    theirs = skopeo(policy, *[a.replace("{tool}", "skopeo") for a in args])
    ours = run_cli("--policy", str(policy), "sync", *[a.replace("{tool}", "trustcopy") for a in args])
    return theirs, ours


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- integration/sync_test.go ---------------------------------------------------------------


@pytest.mark.skopeo
def test_docker_to_dir_tagged_scoped_and_not(run_cli: Any, tmp_path: Path, policy: Path,
                                             plain_registry: RegistryServer) -> None:
    """TestDocker2DirTagged, TestScoped: DIR/REGISTRY/NS/REPO:TAG with --scoped, DIR/REPO:TAG without;
    the image directory is what ``copy docker://… dir:…`` writes."""
    host = plain_registry.host
    push_image(host, "ns/app:1", image(1), fast_sys())
    for flags, want in (([], ["app:1"]), (["--scoped"], [f"{host}/ns/app:1"])):
        tag = "scoped" if flags else "base"
        theirs, ours = both(run_cli, policy, tmp_path, [*flags, "--src", "docker", "--dest", "dir",
                                                        "--src-tls-verify=false", f"{host}/ns/app:1",
                                                        str(tmp_path / f"{tag}-{{tool}}")])
        assert theirs.returncode == 0, theirs.stderr
        assert ours.exit_code == 0, ours.stderr
        assert image_dirs(tmp_path / f"{tag}-trustcopy") == image_dirs(tmp_path / f"{tag}-skopeo") == want
    r = run_cli("--policy", str(policy), "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                f"dir:{tmp_path / 'copied'}")
    assert r.exit_code == 0, r.stderr
    synced = tmp_path / "scoped-trustcopy" / host / "ns" / "app:1"
    assert sorted(p.name for p in synced.iterdir()) == sorted(p.name for p in (tmp_path / "copied").iterdir())
    for p in (tmp_path / "copied").iterdir():
        assert (synced / p.name).read_bytes() == p.read_bytes(), p.name


@pytest.mark.skopeo
def test_docker_repository_to_dir_copies_every_tag(run_cli: Any, tmp_path: Path, policy: Path,
                                                   plain_registry: RegistryServer) -> None:
    """TestDocker2DirUntagged: a repository without a tag is every tag it lists, under DIR/REGISTRY/NS/."""
    host = plain_registry.host
    for n, tag in enumerate(("1", "1.10", "latest", "v2")):
        push_image(host, f"ns/app:{tag}", image(n), fast_sys())
    theirs, ours = both(run_cli, policy, tmp_path, ["--scoped", "--src", "docker", "--dest", "dir",
                                                    "--src-tls-verify=false", f"{host}/ns/app",
                                                    str(tmp_path / "{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    want = [f"{host}/ns/app:{t}" for t in ("1", "1.10", "latest", "v2")]
    assert image_dirs(tmp_path / "trustcopy") == image_dirs(tmp_path / "skopeo") == want


def _push_docker_list(run_cli: Any, tmp_path: Path, policy: Path, host: str) -> tuple[Any, Any]:
    """A Docker schema2 list of an amd64 and an arm64 image at HOST/lib/multi:1."""
    amd64, arm64 = image(10, docker=True, arch="amd64"), image(11, docker=True, arch="arm64")
    index, blobs = make_index([(amd64, {"os": "linux", "architecture": "amd64"}),
                               (arm64, {"os": "linux", "architecture": "arm64"})], docker=True)
    path = tmp_path / "list"
    path.mkdir()
    for digest, data in blobs.items():
        name = f"{digest[7:]}.manifest.json" if digest in (amd64.digest, arm64.digest) else digest[7:]
        (path / name).write_bytes(data)
    (path / "manifest.json").write_bytes(index)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    r = run_cli("--policy", str(policy), "copy", "-q", "--all", "--dest-tls-verify=false", f"dir:{path}",
                f"docker://{host}/lib/multi:1")
    assert r.exit_code == 0, r.stderr
    return amd64, arm64


@pytest.mark.skopeo
def test_list_with_all_format_and_preserve_digests(run_cli: Any, tmp_path: Path, policy: Path,
                                                   plain_registry: RegistryServer) -> None:
    """TestDocker2DirTaggedAll, TestSyncManifestOutput, TestPreserveDigests (with sync, not copy).

    --all writes the list and every instance into the image directory; --format converts the
    list as well; --preserve-digests with a --format that changes the list fails.
    --format v2s1 is refused by trustcopy (it never writes schema1: a documented limit).
    """
    host = plain_registry.host
    amd64, arm64 = _push_docker_list(run_cli, tmp_path, policy, host)
    src = f"{host}/lib/multi:1"
    for fmt, mime in (("", DOCKER_LIST), ("oci", OCI_INDEX), ("v2s2", DOCKER_LIST)):
        flags = [f"--format={fmt}"] if fmt else []
        out = f"all-{fmt or 'as-is'}-{{tool}}"
        theirs, ours = both(run_cli, policy, tmp_path, ["--all", *flags, "--src", "docker", "--dest", "dir",
                                                        "--src-tls-verify=false", src, str(tmp_path / out)])
        assert theirs.returncode == 0, theirs.stderr
        assert ours.exit_code == 0, ours.stderr
        for tool in ("skopeo", "trustcopy"):
            top = json.loads((tmp_path / out.format(tool=tool) / "multi:1" / "manifest.json").read_bytes())
            assert top["mediaType"] == mime, (tool, fmt)
            assert len(top["manifests"]) == 2
    listing = sorted(p.name for p in (tmp_path / "all-as-is-trustcopy" / "multi:1").iterdir())
    assert f"{amd64.digest[7:]}.manifest.json" in listing and f"{arm64.digest[7:]}.manifest.json" in listing
    assert listing == sorted(p.name for p in (tmp_path / "all-as-is-skopeo" / "multi:1").iterdir())

    theirs, ours = both(run_cli, policy, tmp_path, ["--all", "--preserve-digests", "--format=oci", "--src",
                                                    "docker", "--dest", "dir", "--src-tls-verify=false", src,
                                                    str(tmp_path / "keep-{tool}")])
    assert theirs.returncode != 0 and "preserve digests" in theirs.stderr
    # as skopeo: refused because this list would have to be converted, before anything is written
    assert ours.exit_code == 1 and "which is not allowed: --preserve-digests was given" in ours.stderr
    assert image_dirs(tmp_path / "keep-trustcopy") == []

    r = run_cli("--policy", str(policy), "sync", "--all", "--preserve-digests", "--src", "docker", "--dest", "dir",
                "--src-tls-verify=false", src, str(tmp_path / "kept"))
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "kept" / "multi:1" / "manifest.json").read_bytes() == \
        (tmp_path / "list" / "manifest.json").read_bytes()

    r = run_cli("--policy", str(policy), "sync", "--format=v2s1", "--src", "docker", "--dest", "dir",
                "--src-tls-verify=false", src, str(tmp_path / "s1"))
    assert r.exit_code == 2 and not (tmp_path / "s1").exists()


@pytest.mark.skopeo
def test_yaml_untagged_to_registry_and_back_to_dir(run_cli: Any, tmp_path: Path, policy: Path,
                                                   plain_registry: RegistryServer,
                                                   second_plain_registry: RegistryServer) -> None:
    """TestYamlUntagged: ``images: {repo: []}`` is every tag, to a registry; a second YAML
    (``tls-verify: false``) brings them back to a directory with --scoped, one image directory per tag.

    skopeo's test pushes --scoped (its source registry has no port); a source ``HOST:PORT`` under a
    registry destination is no repository name, and both tools fail every image then.
    """
    src, mirror = plain_registry.host, second_plain_registry.host
    for n, tag in enumerate(("a", "b", "c")):
        push_image(src, f"ns/app:{tag}", image(n), fast_sys())
    y1 = write(tmp_path, "up.yaml", f"{src}:\n  tls-verify: false\n  images:\n    ns/app: []\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--scoped", "--src", "yaml", "--dest", "docker",
                                                    "--dest-tls-verify=false", y1, f"{mirror}/{{tool}}"])
    assert theirs.returncode != 0 and ours.exit_code == 1
    assert len(outcomes(ours.stdout)["FAILED"]) == 3 and "error[invalid-reference]" in ours.stdout
    assert catalog(second_plain_registry) == []

    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "yaml", "--dest", "docker", "--dest-tls-verify=false",
                                                    y1, f"{mirror}/{{tool}}/ns"])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert catalog(second_plain_registry) == ["skopeo/ns/app", "trustcopy/ns/app"]
    assert tags(second_plain_registry, "trustcopy/ns/app") == tags(second_plain_registry, "skopeo/ns/app") \
        == ["a", "b", "c"]
    y2 = write(tmp_path, "down.yaml", f"{mirror}:\n  tls-verify: false\n  images:\n    trustcopy/ns/app: []\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--scoped", "--src", "yaml", "--dest", "dir", y2,
                                                    str(tmp_path / "down-{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    want = [f"{mirror}/trustcopy/ns/app:{t}" for t in ("a", "b", "c")]
    assert image_dirs(tmp_path / "down-trustcopy") == image_dirs(tmp_path / "down-skopeo") == want


@pytest.mark.skopeo
def test_yaml_regex_digest_and_lists_to_dir(run_cli: Any, tmp_path: Path, policy: Path,
                                            plain_registry: RegistryServer,
                                            second_plain_registry: RegistryServer) -> None:
    """TestYamlRegex2Dir (``^[12]\\.0$`` keeps two tags), TestYamlDigest2Dir (a digest is one image,
    named REPO@DIGEST), TestYaml2Dir (several registries and repositories, listed tags)."""
    one, two = plain_registry.host, second_plain_registry.host
    for n, tag in enumerate(("1.0", "2.0", "3.0", "1.0.1", "21.0", "latest")):
        push_image(one, f"pause:{tag}", image(n), fast_sys())
    push_image(one, "coredns/coredns:v1.8.0", image(20), fast_sys())
    push_image(one, "coredns/coredns:v1.7.1", image(21), fast_sys())
    push_image(two, "quay/busybox:latest", image(30), fast_sys())
    pinned = image(3)  # pause:1.0.1, by digest
    cases = {
        "regex": (f"{one}:\n  tls-verify: false\n  images-by-tag-regex:\n    pause: ^[12]\\.0$  # regex\n",
                  [f"{one}/pause:1.0", f"{one}/pause:2.0"]),
        "digest": (f"{one}:\n  tls-verify: false\n  images:\n    pause:\n    - {pinned.digest}\n",
                   [f"{one}/pause@{pinned.digest}"]),
        "lists": (f"{one}:\n  tls-verify: false\n  images:\n    coredns/coredns:\n      - v1.8.0\n      - v1.7.1\n"
                  f"    pause:\n      - latest\n\n{two}:\n  tls-verify: false\n  images:\n    quay/busybox:\n"
                  f"      - latest",
                  [f"{one}/coredns/coredns:v1.7.1", f"{one}/coredns/coredns:v1.8.0", f"{one}/pause:latest",
                   f"{two}/quay/busybox:latest"]),
    }
    for name, (text, want) in cases.items():
        y = write(tmp_path, f"{name}.yaml", text)
        theirs, ours = both(run_cli, policy, tmp_path, ["--scoped", "--src", "yaml", "--dest", "dir", y,
                                                        str(tmp_path / f"{name}-{{tool}}")])
        assert theirs.returncode == 0, (name, theirs.stderr)
        assert ours.exit_code == 0, (name, ours.stderr)
        got = image_dirs(tmp_path / f"{name}-trustcopy")
        assert got == image_dirs(tmp_path / f"{name}-skopeo") == sorted(want), name
    digest_dir = tmp_path / "digest-trustcopy" / one / f"pause@{pinned.digest}"
    assert (digest_dir / "manifest.json").read_bytes() == pinned.manifest
    # Without --scoped: the last element, digest included.
    y = write(tmp_path, "digest.yaml", cases["digest"][0])
    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "yaml", "--dest", "dir", y, str(tmp_path / "b-{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0
    assert image_dirs(tmp_path / "b-trustcopy") == image_dirs(tmp_path / "b-skopeo") == [f"pause@{pinned.digest}"]


@pytest.mark.skopeo
def test_yaml_digest_to_registry_keeps_the_digest(run_cli: Any, tmp_path: Path, policy: Path,
                                                  plain_registry: RegistryServer,
                                                  second_plain_registry: RegistryServer) -> None:
    """A YAML digest to --dest docker: pushed by digest (no tag), as skopeo does."""
    pinned = image(5)
    push_image(plain_registry.host, "ns/app:1", pinned, fast_sys())
    y = write(tmp_path, "d.yaml", f"{plain_registry.host}:\n  tls-verify: false\n  images:\n"
                                  f"    ns/app: ['{pinned.digest}']\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "yaml", "--dest", "docker", "--dest-tls-verify=false",
                                                    y, f"{second_plain_registry.host}/{{tool}}"])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert catalog(second_plain_registry) == ["skopeo/app", "trustcopy/app"]
    assert outcomes(ours.stdout)["COPIED"][0].endswith(
        f"-> docker://{second_plain_registry.host}/trustcopy/app@{pinned.digest} {pinned.digest}")
    for tool in ("skopeo", "trustcopy"):
        req = urllib.request.Request(f"{second_plain_registry.url}/v2/{tool}/app/manifests/{pinned.digest}",
                                     method="HEAD", headers={"Accept": json.loads(pinned.manifest)["mediaType"]})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200


# TestSyncTLSPrecedence (cmd/skopeo/sync_test.go) and TestYamlTLSVerify: the YAML's tls-verify wins when
# present; when absent the command line's --src-tls-verify applies (newest skopeo; 1.9.3 reset it).
TLS_CASES = [
    ("--src-tls-verify=false", "", True),
    ("--src-tls-verify=true", "", False),
    ("", "", False),
    ("--src-tls-verify=false", "tls-verify: true", False),
    ("--src-tls-verify=true", "tls-verify: false", True),
    ("", "tls-verify: false", True),
    ("", "tls-verify: true", False),
]


@pytest.mark.parametrize(("cli", "yaml_line", "reaches_plain_http"), TLS_CASES)
def test_yaml_tls_verify_and_command_line_precedence(run_cli: Any, tmp_path: Path, policy: Path,
                                                     plain_registry: RegistryServer, cli: str, yaml_line: str,
                                                     reaches_plain_http: bool) -> None:
    push_image(plain_registry.host, "ns/app:latest", image(1), fast_sys())
    y = write(tmp_path, "tls.yaml", f"{plain_registry.host}:\n  {yaml_line}\n  images:\n    ns/app:\n      - latest\n")
    out = tmp_path / "out"
    r = run_cli("--policy", str(policy), "sync", "--retry-times", "0", *([cli] if cli else []), "--scoped", "--src",
                "yaml", "--dest", "dir", y, str(out))
    if reaches_plain_http:
        assert r.exit_code == 0, r.stderr
        assert image_dirs(out) == [f"{plain_registry.host}/ns/app:latest"]
    else:  # TLS verification on: a plain-HTTP registry is refused (skopeo: "HTTP response to HTTPS client")
        assert r.exit_code == 1
        assert "error[tls" in outcomes(r.stdout)["FAILED"][0]
        assert image_dirs(out) == []


@pytest.mark.skopeo
def test_yaml_tls_verify_explicit_agrees_with_skopeo(run_cli: Any, tmp_path: Path, policy: Path,
                                                     plain_registry: RegistryServer) -> None:
    """TestYamlTLSVerify, differentially, for the rows where 1.9.3 and the newest skopeo agree."""
    push_image(plain_registry.host, "ns/app:latest", image(1), fast_sys())
    for line, ok in (("tls-verify: false", True), ("tls-verify: true", False), ("", False)):
        y = write(tmp_path, "tls.yaml", f"{plain_registry.host}:\n  {line}\n  images:\n    ns/app:\n      - latest\n")
        theirs, ours = both(run_cli, policy, tmp_path, ["--retry-times", "0", "--scoped", "--src", "yaml", "--dest",
                                                        "dir", y, str(tmp_path / f"{bool(line)}{ok}-{{tool}}")])
        assert (theirs.returncode == 0) is ok, (line, theirs.stderr)
        assert (ours.exit_code == 0) is ok, (line, ours.stderr)


@pytest.mark.skopeo
def test_yaml_cert_dir(run_cli: Any, tmp_path: Path, policy: Path, tls_registry: RegistryServer) -> None:
    """``cert-dir`` of a YAML registry: its CA makes the registry trusted. Absent, trustcopy keeps
    --src-cert-dir (skopeo clears it: a documented difference)."""
    assert tls_registry.tls is not None
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(tls_registry.tls.ca_cert.read_bytes())
    push_image(tls_registry.host, "sec/app:1", image(7), fast_sys(docker_tls_verify=True,
                                                                  docker_cert_path=str(certs)))
    y = write(tmp_path, "c.yaml", f"{tls_registry.host}:\n  cert-dir: {certs}\n  images:\n    sec/app: ['1']\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "yaml", "--dest", "dir", y, str(tmp_path / "{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert image_dirs(tmp_path / "trustcopy") == image_dirs(tmp_path / "skopeo") == ["app:1"]

    y = write(tmp_path, "n.yaml", f"{tls_registry.host}:\n  images:\n    sec/app: ['1']\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--retry-times", "0", "--src", "yaml", "--dest", "dir", y,
                                                    str(tmp_path / "none-{tool}")])
    assert theirs.returncode != 0 and ours.exit_code == 1
    assert "error[tls-verification]" in ours.stdout
    r = run_cli("--policy", str(policy), "sync", "--src-cert-dir", str(certs), "--src", "yaml", "--dest", "dir", y,
                str(tmp_path / "cli"))
    assert r.exit_code == 0, r.stderr


def test_yaml_credentials_replace_the_command_lines(run_cli: Any, tmp_path: Path, policy: Path,
                                                    htpasswd_registry: RegistryServer) -> None:
    """``credentials`` of a YAML registry replace --src-creds; absent, --src-creds applies."""
    host = htpasswd_registry.host
    push_image(host, "lib/app:1", image(8), fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    good = f"alice:{USERS['alice']}"
    with_creds = write(tmp_path, "w.yaml", f"{host}:\n  tls-verify: false\n  credentials:\n    username: alice\n"
                                           f"    password: {json.dumps(USERS['alice'])}\n"
                                           "  images:\n    lib/app: ['1']\n")
    without = write(tmp_path, "wo.yaml", f"{host}:\n  tls-verify: false\n  images:\n    lib/app: ['1']\n")
    for n, (y, cli, ok) in enumerate(((with_creds, "alice:wrong-password", True), (without, good, True),
                                      (without, "alice:wrong-password", False))):
        r = run_cli("--policy", str(policy), "sync", "--retry-times", "0", "--src-creds", cli, "--src", "yaml",
                    "--dest", "dir", y, str(tmp_path / f"out{n}"))
        assert (r.exit_code == 0) is ok, (n, r.stdout + r.stderr)


@pytest.mark.skopeo
def test_docker_to_docker_and_dir_to_docker_round_trip(run_cli: Any, tmp_path: Path, policy: Path,
                                                       plain_registry: RegistryServer,
                                                       second_plain_registry: RegistryServer) -> None:
    """TestDocker2DockerTagged, TestDir2DockerTagged: --scoped dir → docker names the repository by the
    path below DIR; a directory named without a tag becomes ``:latest``."""
    push_image(plain_registry.host, "ns/app:1", image(9), fast_sys())
    r = run_cli("--policy", str(policy), "sync", "--src", "docker", "--dest", "docker", *TLS_OFF,
                f"{plain_registry.host}/ns/app:1", f"{second_plain_registry.host}/d2d")
    assert r.exit_code == 0, r.stderr
    assert tags(second_plain_registry, "d2d/app") == ["1"]

    tree = tmp_path / "tree"
    (tree / "example.com").mkdir(parents=True)
    r = run_cli("--policy", str(policy), "copy", "-q", "--src-tls-verify=false",
                f"docker://{plain_registry.host}/ns/app:1", f"dir:{tree / 'example.com' / 'pause'}")
    assert r.exit_code == 0, r.stderr
    theirs, ours = both(run_cli, policy, tmp_path, ["--scoped", "--dest-tls-verify=false", "--src", "dir", "--dest",
                                                    "docker", str(tree), f"{second_plain_registry.host}/{{tool}}"])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert tags(second_plain_registry, "trustcopy/example.com/pause") == \
        tags(second_plain_registry, "skopeo/example.com/pause") == ["latest"]


@pytest.mark.skopeo
def test_failures_and_exit_statuses(run_cli: Any, tmp_path: Path, policy: Path,
                                    plain_registry: RegistryServer, second_plain_registry: RegistryServer) -> None:
    """TestFailsWithDir2Dir, TestFailsNoSourceImages, TestFailsWithDockerSourceNotExisting,
    TestFailsWithDirSourceNotExisting, and a YAML that is missing or not YAML: skopeo fails each;
    trustcopy exits 1 (2 for the usage error, and for a missing image, as newest skopeo)."""
    host, mirror = plain_registry.host, second_plain_registry.host
    push_image(host, "ns/app:1", image(1), fast_sys())
    (tmp_path / "empty").mkdir()
    cases: list[tuple[list[str], int, str]] = [
        (["--scoped", "--src", "dir", "--dest", "dir", str(tmp_path / "d1"), str(tmp_path / "d2")], 2, "rsync"),
        (["--scoped", "--dest-tls-verify=false", "--src", "dir", "--dest", "docker", str(tmp_path / "empty"),
          mirror], 1, "no images to sync found"),
        (["--scoped", "--src-tls-verify=false", "--src", "docker", "--dest", "dir", f"{host}/imagedoesnotexist",
          str(tmp_path / "o1")], 1, "error[image-not-found]"),
        # MANIFEST_UNKNOWN stopping the sync: newest skopeo's 2 (isNotFoundImageError); 1.9.3 exits 1.
        (["--scoped", "--src-tls-verify=false", "--src", "docker", "--dest", "dir", f"{host}/imagedoesnotexist:thetag",
          str(tmp_path / "o2")], 2, "reading manifest"),
        (["--scoped", "--dest-tls-verify=false", "--src", "dir", "--dest", "docker", str(tmp_path / "missing"),
          mirror], 1, "missing"),
        (["--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", str(tmp_path / "missing.yaml"), mirror],
         1, "error[config-unreadable]"),
        (["--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", write(tmp_path, "bad.yaml", "a: [\n"),
          mirror], 1, "error[sync-yaml-invalid]"),
    ]
    for args, status, text in cases:
        theirs, ours = both(run_cli, policy, tmp_path, args)
        assert theirs.returncode != 0, (args, theirs.stderr)
        assert ours.exit_code == status, (args, ours.stdout + ours.stderr)
        assert text in ours.stdout + ours.stderr, (args, ours.stdout + ours.stderr)
    assert catalog(second_plain_registry) == []


# -- cmd/skopeo/sync_test.go ------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["a1"], ["a1", "a2", "a3"]], ids=["none", "one", "three"])
def test_exactly_two_arguments(run_cli: Any, args: list[str]) -> None:
    """TestSync: anything but SOURCE and DESTINATION is a usage error (trustcopy: status 2)."""
    r = run_cli("--insecure-policy", "sync", "--src", "docker", "--dest", "dir", *args)
    assert r.exit_code == 2


# -- systemtest/080-sync.bats -------------------------------------------------------------


@pytest.mark.skopeo
def test_dry_run_names_the_scoped_destination(run_cli: Any, tmp_path: Path, policy: Path,
                                              plain_registry: RegistryServer) -> None:
    """"sync: --dry-run": from docker://IMAGE to dir:DIR/IMAGE, one image, nothing written.
    (trustcopy: a WOULD COPY line instead of logrus' "Would have copied"; skopeo also creates
    the empty parent directories, trustcopy writes nothing.)"""
    host = plain_registry.host
    push_image(host, "libpod/busybox:latest", image(1), fast_sys())
    remote = f"{host}/libpod/busybox:latest"
    theirs, ours = both(run_cli, policy, tmp_path, ["--dry-run", "--src", "docker", "--dest", "dir", "--scoped",
                                                    "--src-tls-verify=false", remote, str(tmp_path / "{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert f'from="docker://{remote}" to="dir:{tmp_path}/skopeo/{remote}"' in theirs.stderr
    assert "Would have synced 1 images from 1 sources" in theirs.stderr
    [line] = outcomes(ours.stdout)["WOULD COPY"]
    assert line.startswith(f"docker://{remote} -> dir:{tmp_path}/trustcopy/{remote} sha256:")
    assert "dry run: sync of 1 images: 1 would copy" in ours.stderr
    assert not (tmp_path / "trustcopy").exists()


# -- docs/skopeo-sync.1.md options and the rest of the brief ---------------------------------


def test_append_suffix_and_digestfile(run_cli: Any, tmp_path: Path, policy: Path, plain_registry: RegistryServer,
                                      second_plain_registry: RegistryServer) -> None:
    """--append-suffix appends to every destination tag; --digestfile has one ``DIGEST TRANSPORT:NAME``
    line per image now at the destination (a second run, skipped as identical, writes the same lines)."""
    host, mirror = plain_registry.host, second_plain_registry.host
    imgs = {"1": image(1), "2": image(2)}
    for tag, img in imgs.items():
        push_image(host, f"ns/app:{tag}", img, fast_sys())
    digests = tmp_path / "digests"
    args = ("--policy", str(policy), "sync", "--append-suffix", "-mirror", "--digestfile", str(digests), "--src",
            "docker", "--dest", "docker", *TLS_OFF, f"{host}/ns/app", f"{mirror}/m")
    r = run_cli(*args)
    assert r.exit_code == 0, r.stderr
    assert tags(second_plain_registry, "m/app") == ["1-mirror", "2-mirror"]
    lines = digests.read_text().splitlines()
    assert sorted(lines) == sorted(f"{img.digest} docker://{mirror}/m/app:{tag}-mirror" for tag, img in imgs.items())
    r = run_cli(*args)
    assert r.exit_code == 0 and len(outcomes(r.stdout)["SKIPPED"]) == 2
    assert digests.read_text().splitlines() == lines

    out = tmp_path / "usb"
    r = run_cli("--policy", str(policy), "sync", "--append-suffix", "-x", "--digestfile", str(digests), "--src",
                "docker", "--dest", "dir", "--src-tls-verify=false", f"{host}/ns/app:1", str(out))
    assert r.exit_code == 0, r.stderr
    assert image_dirs(out) == ["app:1-x"]
    assert digests.read_text() == f"{imgs['1'].digest} dir:{out}/app:1-x\n"


def test_destination_names_are_those_the_transport_prints() -> None:
    """skopeo names destinations with transports.ImageName (Docker Hub names in their short form,
    ``docker://me/app:1``) in its log and digest file; trustcopy's report and digest file too,
    whether the image is copied or skipped as identical."""
    from trustcopy.sync.plan import DestinationKind, Entry, plan_items
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import SystemContext

    refs = [parse_image_name("docker://reg.example.com/ns/app:1")]
    entry = Entry("e", SystemContext(), lambda: refs)
    for destination, want in (("docker.io/me", "docker://me/app:1"), ("docker.io/library", "docker://app:1"),
                              ("127.0.0.1:5000/m", "docker://127.0.0.1:5000/m/app:1")):
        items, failures = plan_items([entry], [refs], DestinationKind.DOCKER, destination, scoped=False,
                                     append_suffix="", shard=None)
        assert not failures
        assert [i.destination for i in items] == [want]
        assert str(items[0].destination_reference()) == want


@pytest.mark.skopeo
def test_repository_without_tags_and_a_tag_that_disappeared(run_cli: Any, tmp_path: Path, policy: Path,
                                                            plain_registry: RegistryServer) -> None:
    """A repository without tags: --src docker fails ("No images to sync found"); in a YAML it is a
    warning and the rest is synced (status 0). A listed tag that is gone fails (status 1), with and
    without --keep-going; with it, the other images are synced."""
    host = plain_registry.host
    gone = image(4)
    push_image(host, "gone/x:1", gone, fast_sys())
    push_image(host, "solo:latest", image(5), fast_sys())
    push_image(host, "ns/app:1", image(6), fast_sys())
    req = urllib.request.Request(f"{plain_registry.url}/v2/gone/x/manifests/{gone.digest}", method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
    assert tags(plain_registry, "gone/x") == []

    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "docker", "--dest", "dir", "--src-tls-verify=false",
                                                    f"{host}/gone/x", str(tmp_path / "a-{tool}")])
    assert theirs.returncode != 0 and "No images to sync found" in theirs.stderr
    assert ours.exit_code == 1 and "error[sync-nothing-found]" in ours.stdout

    y = write(tmp_path, "y.yaml", f"{host}:\n  tls-verify: false\n  images:\n    gone/x: []\n    solo: []\n")
    theirs, ours = both(run_cli, policy, tmp_path, ["--src", "yaml", "--dest", "dir", y, str(tmp_path / "b-{tool}")])
    assert theirs.returncode == 0 and ours.exit_code == 0, theirs.stderr + ours.stderr
    assert image_dirs(tmp_path / "b-trustcopy") == image_dirs(tmp_path / "b-skopeo") == ["solo:latest"]
    assert "gone/x (images): no tags to sync found" in ours.stderr

    y = write(tmp_path, "v.yaml", f"{host}:\n  tls-verify: false\n  images:\n    ns/app: ['1', 'vanished']\n")
    for flags in ([], ["--keep-going"]):
        out = f"c{len(flags)}-{{tool}}"
        theirs, ours = both(run_cli, policy, tmp_path, [*flags, "--src", "yaml", "--dest", "dir", y,
                                                        str(tmp_path / out)])
        # Newest skopeo: 2 when the missing image stopped the sync (isNotFoundImageError); 1.9.3 and
        # --keep-going: 1.
        assert theirs.returncode != 0 and ours.exit_code == (1 if flags else 2)
        assert "error[image-not-found]" in outcomes(ours.stdout)["FAILED"][0]
        assert "app:1" in image_dirs(tmp_path / out.format(tool="trustcopy"))
