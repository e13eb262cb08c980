"""`trustcopy copy` to and from real registries, and skopeo interop on the same registry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, random_layer, write_dir, write_oci
from registry_fixtures import USERS, FaultProxy, RegistryServer, TokenRegistry, docker_ref, fast_sys, running

from trustcopy.errors import ImageNotFoundError

pytestmark = pytest.mark.registry

NOTLS = ("--src-tls-verify=false", "--dest-tls-verify=false")


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r


def _copy(run_cli, policy: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("--policy", str(policy), "copy", *NOTLS, *args)


def test_push_pull_round_trip(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                              insecure_policy: Path) -> None:
    image = make_image([random_layer(2 << 20, 1), Layer(make_tar([("x", b"y")]))])
    write_oci({"1.0": image}, str(tmp_path / "src"))
    ref = f"docker://{plain_registry.host}/team/app:1.0"
    r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:1.0", ref)
    assert r.exit_code == 0, r.stderr
    r = _copy(run_cli, insecure_policy, ref, f"dir:{tmp_path}/out")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == image.manifest
    for digest, data in image.blobs.items():
        assert (tmp_path / "out" / digest.split(":")[1]).read_bytes() == data


def test_repeated_push_skips_every_blob(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                        insecure_policy: Path) -> None:
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    ref = f"docker://{plain_registry.host}/app:t"
    assert _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", ref).exit_code == 0
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--no-skip-identical", f"oci:{tmp_path}/src:t",
                  f"docker://{proxy.host}/app:t")
        assert r.exit_code == 0, r.stderr
        # Every blob was found there: none uploaded (the plain lines, skopeo's, name no outcome).
        assert proxy.count("POST", "/blobs/uploads/") == 0 and proxy.count("PUT", "/manifests/") == 1
    assert r.stdout.count("Copying ") == len(example_image().blobs)


def test_registry_to_registry_mount(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    insecure_policy: Path) -> None:
    image = make_image([random_layer(1 << 20, 9)])
    write_oci({"t": image}, str(tmp_path / "src"))
    r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", f"docker://{plain_registry.host}/a:1")
    assert r.exit_code == 0, r.stderr
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, f"docker://{proxy.host}/a:1", f"docker://{proxy.host}/b:1")
        assert r.exit_code == 0, r.stderr
        assert proxy.count("PATCH", "/uploads/") == 0
        assert sum(1 for m, p, _ in proxy.seen if m == "POST" and "mount=" in p) == len(image.blobs)
        # One request per blob: no HEAD in either repository before (or after) the mount,
        # and the source and the destination share one ping of the registry.
        assert proxy.count("HEAD", "/blobs/") == 0
        assert sum(1 for m, p, _ in proxy.seen if m == "GET" and p == "/v2/") == 1
    with docker_ref(plain_registry.host, "b:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


def test_registry_to_other_registry(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                    second_plain_registry: RegistryServer, tmp_path: Path,
                                    insecure_policy: Path) -> None:
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    a, b = f"docker://{plain_registry.host}/x:1", f"docker://{second_plain_registry.host}/y:2"
    assert _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", a).exit_code == 0
    r = _copy(run_cli, insecure_policy, a, b)
    assert r.exit_code == 0, r.stderr
    with docker_ref(second_plain_registry.host, "y:2").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == example_image().manifest


def test_corrupt_source_leaves_no_tag(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      insecure_policy: Path) -> None:
    image = make_image([random_layer(2 << 20, 4)])
    write_dir(image, str(tmp_path / "src"))
    layer = json.loads(image.manifest)["layers"][0]["digest"].split(":")[1]
    blob = tmp_path / "src" / layer
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    r = _copy(run_cli, insecure_policy, f"dir:{tmp_path}/src", f"docker://{plain_registry.host}/app:bad")
    assert r.exit_code == 1 and "digest" in r.stderr
    with docker_ref(plain_registry.host, "app:bad").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()


def test_corrupt_layer_compressed_on_the_way_leaves_no_manifest(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path, insecure_policy: Path) -> None:
    """The registry gets the gzip of the layer under a digest computed while uploading.

    The registry verifies that digest, which matches whatever was compressed: only the
    check of the source bytes while they stream into the compressor stops a corrupt layer.
    """
    image = make_image([Layer(random_layer(2 << 20, 7).tar, compressed=False), Layer(make_tar([("x", b"y")]))])
    write_dir(image, str(tmp_path / "src"))
    layer = json.loads(image.manifest)["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"  # so it is compressed on the way
    blob = tmp_path / "src" / layer["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    r = _copy(run_cli, insecure_policy, f"dir:{tmp_path}/src", f"docker://{plain_registry.host}/app:bad")
    assert r.exit_code == 1
    assert f"blob {layer['digest']}: digest mismatch" in r.stderr
    with docker_ref(plain_registry.host, "app:bad").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()
    tags = run_cli("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/app")
    assert tags.exit_code == 1 and "error[image-not-found]" in tags.stderr, tags.stdout  # no tag at all


def test_copy_with_token_auth_never_prints_the_password(run_cli, token_registry: TokenRegistry,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path, insecure_policy: Path) -> None:
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    dest = f"docker://{token_registry.host}/team/app:1"
    r = _copy(run_cli, insecure_policy, "--dest-creds", f"alice:{USERS['alice']}", f"oci:{tmp_path}/src:t", dest)
    assert r.exit_code == 0, r.stderr
    r = _copy(run_cli, insecure_policy, "--dest-creds", f"alice:{USERS['bob']}", f"oci:{tmp_path}/src:t", dest)
    assert r.exit_code == 1 and "registry-auth" in r.stderr
    for text in (r.stdout, r.stderr):
        assert USERS["alice"] not in text and USERS["bob"] not in text


def test_inspect_lists_repo_tags(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                 insecure_policy: Path) -> None:
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    for tag in ("1", "2"):
        assert _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t",
                     f"docker://{plain_registry.host}/app:{tag}").exit_code == 0
    r = run_cli("inspect", "--tls-verify=false", f"docker://{plain_registry.host}/app:1")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert sorted(doc["RepoTags"]) == ["1", "2"]
    assert doc["Digest"] == example_image().digest


@pytest.mark.skopeo
def test_skopeo_reads_what_trustcopy_pushes(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            insecure_policy: Path) -> None:
    image = make_image([random_layer(1 << 20, 2)])
    write_oci({"t": image}, str(tmp_path / "src"))
    ref = f"docker://{plain_registry.host}/ours:1"
    assert _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", ref).exit_code == 0
    inspected = json.loads(_skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert inspected["Digest"] == image.digest
    _skopeo("--insecure-policy", "copy", "-q", "--src-tls-verify=false", ref, f"dir:{tmp_path}/sk")
    assert (tmp_path / "sk" / "manifest.json").read_bytes() == image.manifest


@pytest.mark.skopeo
def test_trustcopy_reads_what_skopeo_pushes(run_cli, plain_registry: RegistryServer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            insecure_policy: Path) -> None:
    image = make_image([random_layer(1 << 20, 3)])
    write_oci({"t": image}, str(tmp_path / "src"))
    ref = f"docker://{plain_registry.host}/theirs:1"
    _skopeo("--insecure-policy", "copy", "-q", "--dest-tls-verify=false", f"oci:{tmp_path}/src:t", ref)
    r = _copy(run_cli, insecure_policy, ref, f"dir:{tmp_path}/tc")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "tc" / "manifest.json").read_bytes() == image.manifest
    ours = json.loads(run_cli("inspect", "--tls-verify=false", ref).stdout)
    theirs = json.loads(_skopeo("inspect", "--tls-verify=false", ref).stdout)
    for key in ("Name", "Digest", "RepoTags", "Architecture", "Os", "Layers"):
        assert ours[key] == theirs[key], key
