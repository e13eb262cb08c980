"""list-tags, delete and inspect against a real registry, compared with skopeo where it runs."""

from __future__ import annotations

import json
import subprocess

import pytest
from imagefactory import Layer, example_image, make_image, make_tar
from registry_fixtures import RegistryServer, docker_ref, fast_sys, push_image

from trustcopy.errors import ImageNotFoundError

pytestmark = pytest.mark.registry


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)


def test_list_tags_output(run_cli, plain_registry: RegistryServer) -> None:  # type: ignore[no-untyped-def]
    for tag in ("1.0", "2.0", "latest"):
        push_image(plain_registry.host, f"team/app:{tag}", example_image(), fast_sys())
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/team/app")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Repository"] == f"{plain_registry.host}/team/app"
    assert sorted(doc["Tags"]) == ["1.0", "2.0", "latest"]
    assert r.stdout.startswith('{\n    "Repository": ')


@pytest.mark.skopeo
def test_list_tags_matches_skopeo_byte_for_byte(run_cli, plain_registry: RegistryServer) -> None:  # type: ignore[no-untyped-def]
    for tag in ("b", "a"):
        push_image(plain_registry.host, f"app:{tag}", example_image(), fast_sys())
    ours = run_cli("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/app")
    theirs = _skopeo("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/app")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize(("arg", "message"), [
    ("docker://{host}/app:1.0", "No tag or digest allowed"),
    ("oci:/tmp/x", "Unsupported transport 'oci' for tag listing"),
    ("nocolon", "does not specify a transport"),
])
def test_list_tags_refusals(run_cli, plain_registry: RegistryServer, arg: str, message: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("list-tags", "--tls-verify=false", arg.format(host=plain_registry.host))
    assert r.exit_code == 1 and message in r.stderr  # skopeo's status for each
    theirs = _skopeo("list-tags", "--tls-verify=false", arg.format(host=plain_registry.host))
    assert theirs.returncode == 1 and message in theirs.stderr


def test_list_tags_of_missing_repository(run_cli, plain_registry: RegistryServer) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/nope")
    assert r.exit_code == 1
    assert "error[image-not-found]: Error listing repository tags" in r.stderr


def test_delete_by_tag_resolves_the_digest(run_cli, plain_registry: RegistryServer) -> None:  # type: ignore[no-untyped-def]
    image = make_image([Layer(make_tar([("d", b"delete me")]))])
    push_image(plain_registry.host, "app:gone", image, fast_sys())
    r = run_cli("delete", "--tls-verify=false", f"docker://{plain_registry.host}/app:gone")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    with docker_ref(plain_registry.host, f"app@{image.digest}").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()
    r = run_cli("delete", "--tls-verify=false", f"docker://{plain_registry.host}/app:gone")
    assert r.exit_code == 1 and "unable to delete" in r.stderr


def test_delete_refused_by_registry_is_readable(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    from registry_fixtures import Fault, FaultProxy, running

    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    rule = lambda m, p, h: Fault(status=405) if m == "DELETE" else None  # noqa: E731
    with running(FaultProxy(plain_registry.port, rule)) as proxy:
        r = run_cli("delete", "--tls-verify=false", f"docker://{proxy.host}/app:1")
    assert r.exit_code == 1 and "error[registry-http]" in r.stderr and "deleting" in r.stderr
