"""``copy`` to a registry that already holds the exact manifest: one ``HEAD``, nothing written.

Every test counts what reaches a real registry through the project's proxy: the point of
the feature is what is *not* sent, and that the policy still decides first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_index, make_tar, write_oci
from registry_fixtures import Fault, FaultProxy, RegistryServer, docker_ref, fast_sys, running
from registry_signing import write_oci_list

pytestmark = pytest.mark.registry

NOTLS = ("--src-tls-verify=false", "--dest-tls-verify=false")
SKIPPED = "Skipping: image already present at destination"


def _copy(run_cli, policy: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("--policy", str(policy), "copy", *NOTLS, *args)


def _push(run_cli, policy: Path, tmp_path: Path, dest: str):  # type: ignore[no-untyped-def]
    r = _copy(run_cli, policy, f"oci:{tmp_path}/src:t", dest)
    assert r.exit_code == 0, r.stderr


def _writes(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in proxy.seen if m in ("PUT", "POST", "PATCH", "DELETE")]


def test_identical_push_costs_a_ping_and_one_head(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path, insecure_policy: Path) -> None:
    image = example_image()
    write_oci({"t": image}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:t")
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--digestfile", str(tmp_path / "digest"), f"oci:{tmp_path}/src:t",
                  f"docker://{proxy.host}/app:t")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED in r.stdout
        assert [(m, p) for m, p, _ in proxy.seen] == [("GET", "/v2/"), ("HEAD", "/v2/app/manifests/t")]
    assert (tmp_path / "digest").read_text() == image.digest


def test_no_skip_identical_checks_every_blob_and_puts_the_manifest(  # type: ignore[no-untyped-def]
        run_cli, plain_registry: RegistryServer, tmp_path: Path, insecure_policy: Path) -> None:
    image = example_image()
    write_oci({"t": image}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:n")
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--no-skip-identical", f"oci:{tmp_path}/src:t",
                  f"docker://{proxy.host}/app:n")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED not in r.stdout
        assert proxy.count("HEAD", "/manifests/") == 0
        assert proxy.count("HEAD", "/blobs/") == len(image.blobs)
        assert _writes(proxy) == [("PUT", "/v2/app/manifests/n")]


def test_another_image_under_the_tag_is_copied(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                               tmp_path: Path, insecure_policy: Path) -> None:
    old, new = example_image(), make_image([Layer(make_tar([("new.txt", b"a newer build\n")]))])
    write_oci({"old": old, "new": new}, str(tmp_path / "src"))
    ref = f"docker://{plain_registry.host}/app:latest"
    assert _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:old", ref).exit_code == 0
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:new", f"docker://{proxy.host}/app:latest")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED not in r.stdout
        assert proxy.count("HEAD", "/manifests/latest") == 1
        assert ("PUT", "/v2/app/manifests/latest") in _writes(proxy)
    with docker_ref(plain_registry.host, "app:latest").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == new.manifest


def test_a_new_tag_for_the_same_image_is_written(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path, insecure_policy: Path) -> None:
    """The tag is what is asked about: the manifest existing under another tag is no reason to skip."""
    image = example_image()
    write_oci({"t": image}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:1")
    r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", f"docker://{plain_registry.host}/app:2")
    assert r.exit_code == 0, r.stderr
    assert SKIPPED not in r.stdout
    with docker_ref(plain_registry.host, "app:2").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


def test_the_policy_still_refuses_an_identical_image(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path, insecure_policy: Path) -> None:
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:t")
    reject = tmp_path / "reject.json"
    reject.write_text(json.dumps({"default": [{"type": "reject"}]}))
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, reject, f"oci:{tmp_path}/src:t", f"docker://{proxy.host}/app:t")
        assert r.exit_code == 1
        assert "error[policy-rejected]" in r.stderr and SKIPPED not in r.stdout
        assert proxy.seen == []  # judged before the destination is even opened


def test_a_failing_head_means_copy_as_usual(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                            tmp_path: Path, insecure_policy: Path) -> None:
    """A registry refusing the manifest HEAD (here: 403) is not taken as "identical", nor as a failure."""
    image = example_image()
    write_oci({"t": image}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:t")

    def refuse_manifest_head(method: str, path: str, headers: object) -> Fault | None:
        return Fault(status=403) if method == "HEAD" and "/manifests/" in path else None

    with running(FaultProxy(plain_registry.port, refuse_manifest_head)) as proxy:
        r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", f"docker://{proxy.host}/app:t")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED not in r.stdout
        assert proxy.count("HEAD", "/blobs/") == len(image.blobs)
        assert ("PUT", "/v2/app/manifests/t") in _writes(proxy)


def test_a_conversion_is_never_skipped(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                       tmp_path: Path, insecure_policy: Path) -> None:
    """--format to another type writes another manifest: the HEAD is not even asked."""
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    _push(run_cli, insecure_policy, tmp_path, f"docker://{plain_registry.host}/app:t")
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--format", "v2s2", f"oci:{tmp_path}/src:t", f"docker://{proxy.host}/app:t")
        assert r.exit_code == 0, r.stderr
        assert proxy.count("HEAD", "/manifests/") == 0
        assert ("PUT", "/v2/app/manifests/t") in _writes(proxy)


AMD64 = make_image([Layer(make_tar([("amd64.txt", b"amd64\n")]))], arch="amd64")
ARM64 = make_image([Layer(make_tar([("arm64.txt", b"arm64\n")]))], arch="arm64")
INDEX, INDEX_BLOBS = make_index([(AMD64, {"os": "linux", "architecture": "amd64"}),
                                 (ARM64, {"os": "linux", "architecture": "arm64"})])


def test_a_list_the_registry_holds_is_skipped_with_all(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path, insecure_policy: Path) -> None:
    digest = write_oci_list(tmp_path / "list", "t", INDEX, INDEX_BLOBS)
    source = f"oci:{tmp_path}/list:t"
    r = _copy(run_cli, insecure_policy, "--all", source, f"docker://{plain_registry.host}/multi:1")
    assert r.exit_code == 0, r.stderr
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--all", "--digestfile", str(tmp_path / "digest"), source,
                  f"docker://{proxy.host}/multi:1")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED in r.stdout
        assert [(m, p) for m, p, _ in proxy.seen] == [("GET", "/v2/"), ("HEAD", "/v2/multi/manifests/1")]
    assert (tmp_path / "digest").read_text() == digest
    # A conversion of the list (and of its instances) is another list: copied, not skipped.
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, "--all", "--format", "v2s2", source, f"docker://{proxy.host}/multi:1")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED not in r.stdout and proxy.count("HEAD", "/manifests/") == 0
        assert ("PUT", "/v2/multi/manifests/1") in _writes(proxy)


def test_the_platforms_instance_of_a_list_is_skipped_by_its_own_digest(  # type: ignore[no-untyped-def]
        run_cli, plain_registry: RegistryServer, tmp_path: Path, insecure_policy: Path) -> None:
    """Without --all the destination gets one instance: that is the manifest asked about."""
    write_oci_list(tmp_path / "list", "t", INDEX, INDEX_BLOBS)
    source = f"oci:{tmp_path}/list:t"
    platform = ("--override-os", "linux", "--override-arch", "arm64")
    r = run_cli("--policy", str(insecure_policy), *platform, "copy", *NOTLS, source,
                f"docker://{plain_registry.host}/one:1")
    assert r.exit_code == 0, r.stderr
    with docker_ref(plain_registry.host, "one:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == ARM64.manifest
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = run_cli("--policy", str(insecure_policy), *platform, "copy", *NOTLS, source,
                    f"docker://{proxy.host}/one:1")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED in r.stdout and _writes(proxy) == []
        assert not any("/blobs/" in p for _, p, _ in proxy.seen)


def test_a_push_without_a_tag_asks_nothing(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                           tmp_path: Path, insecure_policy: Path) -> None:
    """``@@unknown-digest@@`` names no manifest to ask about: every push writes the manifest by its digest."""
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    dest = f"docker://{plain_registry.host}/untagged@@unknown-digest@@"
    _push(run_cli, insecure_policy, tmp_path, dest)
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = _copy(run_cli, insecure_policy, f"oci:{tmp_path}/src:t", f"docker://{proxy.host}/untagged@@unknown-digest@@")
        assert r.exit_code == 0, r.stderr
        assert SKIPPED not in r.stdout and proxy.count("HEAD", "/manifests/") == 0
        assert ("PUT", f"/v2/untagged/manifests/{example_image().digest}") in _writes(proxy)
