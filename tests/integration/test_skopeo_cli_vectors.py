"""skopeo's own CLI tests, restated as conformance vectors for trustcopy.

Each test names the skopeo test it follows (systemtest/*.bats, integration/*_test.go,
cmd/skopeo/*_test.go of the newest skopeo). Where trustcopy deliberately differs
(docs/from-skopeo.md: usage errors exit 2, ``error[code]: message`` lines, sync's report),
the test asserts trustcopy's documented form and keeps skopeo's key wording.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_image, make_index, random_layer, write_dir, write_oci


def _copy(run_cli: Any, *args: str) -> Any:
    return run_cli("--insecure-policy", "copy", "-q", *args)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- cmd/skopeo/*_test.go: argument checking ------------------------------------------------


@pytest.mark.parametrize("args", [[], ["a1"], ["a1", "a2", "a3"]])
def test_copy_needs_exactly_two_arguments(run_cli: Any, args: list[str]) -> None:
    # cmd/skopeo/copy_test.go TestCopy ("Exactly two arguments expected"; click's usage error, exit 2)
    r = run_cli("--insecure-policy", "copy", *args)
    assert r.exit_code == 2 and "Usage:" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("args", [[], ["a1", "a2"]])
def test_list_tags_needs_exactly_one_argument(run_cli: Any, args: list[str]) -> None:
    # cmd/skopeo/list_tags_test.go TestListTags
    r = run_cli("list-tags", *args)
    assert r.exit_code == 2 and "Usage:" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("arg", ["oci://somedir", "dir:/somepath", "docker-archive-nonesuch:/tmp/dir",
                                 "docker://myhost.com:1000/nginx:foobar:foobar", "docker://somehost.com:5000/",
                                 "docker://myhost.com:1000/nginx:latest",
                                 "docker://myhost.com:1000/nginx@sha256:" + "a" * 64])
def test_list_tags_refuses_what_is_not_a_repository(run_cli: Any, arg: str) -> None:
    # cmd/skopeo/list_tags_test.go TestDockerRepositoryReferenceParser (the refused inputs)
    r = run_cli("list-tags", arg)
    assert r.exit_code == 1 and r.stderr.startswith("error[") and r.stdout == ""


@pytest.mark.parametrize("args", [[], ["a1", "a2"]])
def test_manifest_digest_arguments(run_cli: Any, args: list[str]) -> None:
    # cmd/skopeo/manifest_test.go TestManifestDigest (invalid command-line arguments: "Usage")
    r = run_cli("manifest-digest", *args)
    assert r.exit_code != 0 and "Usage" in r.stderr


def test_manifest_digest_errors_and_success(run_cli: Any, tmp_path: Path) -> None:
    # cmd/skopeo/manifest_test.go TestManifestDigest: error reading names the file; a
    # schema1 manifest whose signatures do not parse fails computing the digest; success
    # prints the digest and a newline.
    r = run_cli("manifest-digest", "/this/does/not/exist")
    assert r.exit_code == 1 and "/this/does/not/exist" in r.stderr
    bad = tmp_path / "v2s1-invalid.json"
    bad.write_text(json.dumps({"schemaVersion": 1, "name": "x", "tag": "y", "architecture": "amd64",
                               "fsLayers": [], "history": [], "signatures": 1}))
    r = run_cli("manifest-digest", str(bad))
    assert r.exit_code == 1 and r.stdout == ""
    image = example_image()
    (tmp_path / "m.json").write_bytes(image.manifest)
    r = run_cli("manifest-digest", str(tmp_path / "m.json"))
    assert (r.exit_code, r.stdout) == (0, image.digest + "\n")


@pytest.mark.parametrize("args", [[], ["--output-prefix", "foo", "a1"]])
def test_generate_sigstore_key_arguments(run_cli: Any, args: list[str]) -> None:
    # cmd/skopeo/generate_sigstore_key_test.go TestGenerateSigstoreKey (invalid arguments: "Usage")
    r = run_cli("generate-sigstore-key", *args)
    assert r.exit_code != 0 and "Usage" in r.stderr


@pytest.mark.parametrize("suffix", [".pub", ".private"])
def test_generate_sigstore_key_refuses_to_overwrite(run_cli: Any, tmp_path: Path, suffix: str) -> None:
    # cmd/skopeo/generate_sigstore_key_test.go TestGenerateSigstoreKey ("Refusing to overwrite")
    prefix = tmp_path / "prefix"
    Path(str(prefix) + suffix).write_bytes(b"")
    r = run_cli("generate-sigstore-key", "--output-prefix", str(prefix), "--passphrase-file", "/dev/null")
    assert r.exit_code == 1 and "Refusing to overwrite" in r.stderr
    assert Path(str(prefix) + suffix).read_bytes() == b""


@pytest.mark.parametrize("suffix", [".pub", ".private"])
def test_generate_sigstore_key_inaccessible_destination_is_named(run_cli: Any, tmp_path: Path, suffix: str) -> None:
    # cmd/skopeo/generate_sigstore_key_test.go TestGenerateSigstoreKey (symlink through a non-directory)
    (tmp_path / "nondirectory").write_bytes(b"")
    prefix = tmp_path / "prefix"
    os.symlink(tmp_path / "nondirectory" / "unaccessible", str(prefix) + suffix)
    r = run_cli("generate-sigstore-key", "--output-prefix", str(prefix), "--passphrase-file", "/dev/null")
    assert r.exit_code == 1 and str(prefix) + suffix in r.stderr


def test_generate_sigstore_key_passphrase_file_errors_and_success(run_cli: Any, tmp_path: Path) -> None:
    # cmd/skopeo/generate_sigstore_key_test.go TestGenerateSigstoreKey (error reading the
    # passphrase names the file; success names both files on stdout)
    r = run_cli("generate-sigstore-key", "--output-prefix", str(tmp_path / "prefix"),
                "--passphrase-file", str(tmp_path / "this-does-not-exist"))
    # (trustcopy: a passphrase file that cannot be read is a usage error, exit 2; skopeo 1)
    assert r.exit_code in (1, 2) and "this-does-not-exist" in r.stderr
    (tmp_path / "passphrase").write_text("some passphrase")
    r = run_cli("generate-sigstore-key", "--output-prefix", str(tmp_path / "prefix"),
                "--passphrase-file", str(tmp_path / "passphrase"))
    assert r.exit_code == 0, r.stderr
    for suffix in (".pub", ".private"):
        assert f"{tmp_path / 'prefix'}{suffix}" in r.stdout


@pytest.mark.parametrize("options", [
    ["--format", "invalid"],
    ["--format", ""],
    ["--sign-by", "gpgFingerprint", "--sign-by-sigstore-private-key", "k.private", "--sign-passphrase-file", "{pw}"],
    ["--sign-by", "gpgFingerprint", "--sign-passphrase-file", "/dev/null/this/does/not/exist"],
    ["--sign-by-sigstore", "/dev/null/this/does/not/exist"],
    ["--dest-creds", ""],
    ["--dest-password", "foo"],
    ["--dest-username", "bar"],
    ["--dest-username", "bar", "--dest-creds", "hello:world", "--dest-password", "foo"],
    ["--dest-username", "bar", "--dest-no-creds", "--dest-password", "foo"],
], ids=["format-invalid", "format-empty", "two-signers-one-passphrase", "passphrase-missing", "sigstore-params-missing",
        "empty-creds", "password-only", "username-only", "username-and-creds", "username-and-no-creds"])
def test_copy_option_refusals(run_cli: Any, tmp_path: Path, options: list[str]) -> None:
    # cmd/skopeo/utils_test.go TestSharedCopyOptionsCopyOptions, TestParseManifestFormat,
    # TestImageDestOptionsNewSystemContext, TestImageOptionsUsernamePassword: each is refused,
    # nothing is written.
    (tmp_path / "pw").write_text("pw\n")
    write_dir(example_image(), str(tmp_path / "src"))
    r = _copy(run_cli, *[o.format(pw=tmp_path / "pw") for o in options], f"dir:{tmp_path}/src", f"dir:{tmp_path}/out")
    assert r.exit_code in (1, 2) and r.stderr
    assert not (tmp_path / "out").exists()
    if "--sign-by-sigstore-private-key" in options:
        assert "Only one of --sign-by" in r.stderr and "can be used with --sign-passphrase-file" in r.stderr


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_copy_manifest_format(run_cli: Any, tmp_path: Path, fmt: str) -> None:
    # systemtest/020-copy.bats "copy: manifest format"; cmd/skopeo/utils_test.go TestParseManifestFormat
    write_oci({"latest": example_image()}, str(tmp_path / "lay"))
    r = _copy(run_cli, "--format", fmt, f"oci:{tmp_path}/lay:latest", f"dir:{tmp_path}/d")
    assert r.exit_code == 0, r.stderr
    want = "application/vnd.oci.image" if fmt == "oci" else "application/vnd.docker.distribution.manifest.v2"
    assert want in (tmp_path / "d" / "manifest.json").read_text()


@pytest.mark.parametrize("command", ["login", "logout"])
def test_login_logout_refuse_authfile_with_compat_auth_file(run_cli: Any, tmp_path: Path, command: str) -> None:
    # cmd/skopeo/login_test.go TestLogin, logout_test.go TestLogout (containers/common's wording)
    for name in ("auth.json", "config.json"):
        (tmp_path / name).write_text("{}")
    r = run_cli(command, "--authfile", str(tmp_path / "auth.json"), "--compat-auth-file",
                str(tmp_path / "config.json"), "example.com")
    assert r.exit_code != 0
    assert ("options for paths to the credential file and to the Docker-compatible credential file can not be set "
            "simultaneously") in r.stderr
    assert (tmp_path / "auth.json").read_text() == "{}" and (tmp_path / "config.json").read_text() == "{}"


# -- integration/*_test.go without a registry -----------------------------------------------


@pytest.mark.parametrize("args", [["inspect", "unknown"],
                                  ["--insecure-policy", "copy", "unknown:transport", "unknown:test"]])
def test_invalid_image_name(run_cli: Any, args: list[str]) -> None:
    # integration/check_test.go TestInspectFailsWhenReferenceIsInvalid,
    # integration/copy_test.go TestCopyFailsWhenReferenceIsInvalid (skopeo: "Invalid image name")
    r = run_cli(*args)
    assert r.exit_code == 1 and "invalid image name" in r.stderr.lower()


@pytest.mark.parametrize("command", [["inspect", "dir:/nonexistent"], ["copy", "dir:/nonexistent", "dir:/nonexistent2"],
                                     ["list-tags", "docker://example.com/x"], ["delete", "docker://example.com/x:1"]])
def test_insecure_policy_and_require_signed_conflict(run_cli: Any, command: list[str]) -> None:
    # integration/copy_test.go TestInsecurePolicyAndRequireSignedConflict: refused before the
    # command does anything (skopeo's globalOptions.before), for every command.
    r = run_cli("--insecure-policy", "--require-signed", *command)
    assert r.exit_code == 2
    assert "--insecure-policy and --require-signed are mutually exclusive" in r.stderr
    assert not Path("/nonexistent2").exists()


def test_require_signed_rejects_unsigned_dir_image(run_cli: Any, tmp_path: Path) -> None:
    # integration/copy_test.go TestRequireSignedAcceptsSignedImage (the unsigned half)
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--require-signed", "copy", f"dir:{tmp_path}/src", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "Source image rejected: No signature verification policy found for image" in r.stderr


def test_cert_path_is_an_unknown_flag(run_cli: Any) -> None:
    # integration/check_test.go TestCertDirInsteadOfCertPath
    r = run_cli("--tls-verify=false", "inspect", "docker://127.0.0.1:1/busybox:latest", "--cert-path=/")
    assert r.exit_code == 2 and "--cert-path" in r.stderr


@pytest.mark.parametrize("args", [
    ["inspect", "docker://registry-blocked.com/image:test"],
    ["delete", "docker://registry-blocked.com/image:test"],
    ["--insecure-policy", "copy", "dir:{src}", "docker://registry-blocked.com/image:test"],
], ids=["inspect", "delete", "copy-destination"])
def test_blocked_registry(run_cli: Any, tmp_path: Path, args: list[str]) -> None:
    # integration/blocked_test.go TestInspectBlocked, TestDeleteBlocked, TestCopyBlockedDestination
    # (skopeo: "registry registry-blocked.com is blocked in FILE"; trustcopy names the entry too)
    conf = tmp_path / "blocked-registries.conf"
    conf.write_text('[[registry]]\nlocation = "registry-blocked.com"\nblocked = true\n')
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--registries-conf", str(conf), *[a.format(src=tmp_path / "src") for a in args])
    assert r.exit_code == 1
    assert "error[registry-blocked]" in r.stderr and "registry-blocked.com" in r.stderr and "blocked" in r.stderr


# -- systemtest/010-inspect.bats, 020-copy.bats without a registry ------------------------


def test_inspect_dir_lists_every_layer_but_not_the_config(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/010-inspect.bats "inspect: basic" (local half)
    write_oci({"latest": example_image()}, str(tmp_path / "lay"))
    r = run_cli("--insecure-policy", "copy", f"oci:{tmp_path}/lay:latest", f"dir:{tmp_path}/d")
    assert "Getting image source signatures" in r.stdout and "Writing manifest to image destination" in r.stdout
    assert (tmp_path / "d" / "manifest.json").exists() and (tmp_path / "d" / "version").exists()
    info = json.loads(run_cli("inspect", f"dir:{tmp_path}/d").stdout)
    raw = json.loads(run_cli("inspect", "--raw", f"dir:{tmp_path}/d").stdout)
    shas = {p.name for p in (tmp_path / "d").iterdir() if len(p.name) == 64}
    assert {f"sha256:{s}" for s in shas} - {raw["config"]["digest"]} == set(info["Layers"])
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert info["Digest"].startswith("sha256:") and info["RepoTags"] == []
    r = run_cli("inspect", f"dir:{tmp_path}/d", "--format", "{{.Architecture}}")
    assert (r.exit_code, r.stdout) == (0, "amd64\n")  # 020-copy.bats "copy: sif image" (the inspect --format half)


def test_inspect_list_without_our_platform(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/010-inspect.bats "inspect: image manifest list w/ diff platform"
    image = example_image()
    index, blobs = make_index([(image, {"os": "amigaos", "architecture": "mc68000", "variant": "1000"})])
    lay = tmp_path / "lay"
    write_oci({"20210121": image}, str(lay))
    (lay / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    import hashlib

    for data in [index, *blobs.values()]:
        (lay / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()).write_bytes(data)
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + hashlib.sha256(index).hexdigest(),
        "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "20210121"}}]}))
    r = run_cli("--override-arch", "amd64", "inspect", f"oci:{lay}:20210121")
    # (skopeo: "no image found in manifest list for architecture \"amd64\", variant …"; an OCI index here)
    assert r.exit_code == 1 and "no image found in" in r.stderr and "for architecture" in r.stderr
    r = run_cli("inspect", "--raw", f"oci:{lay}:20210121")
    assert r.exit_code == 0
    platform = json.loads(r.stdout)["manifests"][0]["platform"]
    assert "-".join((platform["os"], platform["variant"], platform["architecture"])) == "amigaos-1000-mc68000"


def test_inspect_unknown_image_exits_2(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/010-inspect.bats "inspect: image unknown" (skopeo's isNotFoundImageError: an
    # oci: layout without the named image exits 2); a missing layout directory stays 1.
    write_oci({"latest": example_image()}, str(tmp_path / "lay"))
    r = run_cli("inspect", f"oci:{tmp_path}/lay:non-existing-tag")
    assert r.exit_code == 2 and "error[image-not-found]" in r.stderr
    r = run_cli("inspect", f"oci:{tmp_path}/nonesuch:latest")
    assert r.exit_code == 1


def test_oci_zstd(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/020-copy.bats "copy: oci, zstd"
    write_oci({"latest": example_image()}, str(tmp_path / "src"))
    r = _copy(run_cli, "--dest-compress-format=zstd", f"oci:{tmp_path}/src:latest", f"oci:{tmp_path}/dir:latest")
    assert r.exit_code == 0, r.stderr
    blobs = tmp_path / "dir" / "blobs" / "sha256"
    assert any(p.read_bytes()[:4] == b"\x28\xb5\x2f\xfd" for p in blobs.iterdir())
    instance = json.loads((tmp_path / "dir" / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((blobs / instance.split(":")[1]).read_text())
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"


def test_oci_with_and_without_tag(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/020-copy.bats "copy: oci w/ and w/o tags"
    write_dir(example_image(), str(tmp_path / "src"))
    assert _copy(run_cli, f"dir:{tmp_path}/src", f"oci:{tmp_path}/dir1").exit_code == 0
    assert _copy(run_cli, f"dir:{tmp_path}/src", f"oci:{tmp_path}/dir2:withtag").exit_code == 0
    one, two = _tree(tmp_path / "dir1"), _tree(tmp_path / "dir2")
    assert {k: v for k, v in one.items() if k != "index.json"} == {k: v for k, v in two.items() if k != "index.json"}
    assert b'"org.opencontainers.image.ref.name":"withtag"' in two["index.json"]


def test_shared_blob_directory(run_cli: Any, tmp_path: Path) -> None:
    # systemtest/020-copy.bats "copy: shared blob directory"
    write_dir(example_image(), str(tmp_path / "src"))
    shared = tmp_path / "shareddir"
    assert _copy(run_cli, "--dest-shared-blob-dir", str(shared), f"dir:{tmp_path}/src",
                 f"oci:{tmp_path}/dir1").exit_code == 0
    assert any(shared.iterdir())
    assert not any((tmp_path / "dir1" / "blobs").iterdir()) if (tmp_path / "dir1" / "blobs").exists() else True
    r = _copy(run_cli, "--src-shared-blob-dir", str(shared), f"oci:{tmp_path}/dir1", f"oci:{tmp_path}/dir2")
    assert r.exit_code == 0, r.stderr
    assert _tree(shared) == _tree(tmp_path / "dir2" / "blobs")


# -- with a registry -------------------------------------------------------------------------


@pytest.fixture
def busybox_dir(tmp_path: Path) -> Path:
    """A ``dir:`` image standing in for quay.io/libpod/busybox (schema2, as that image is)."""
    image = make_image([random_layer(2048, 7)], docker=True)
    write_dir(image, str(tmp_path / "busybox"))
    return tmp_path / "busybox"


@pytest.mark.registry
def test_dir_and_oci_round_trips(run_cli: Any, tmp_path: Path, plain_registry: Any, busybox_dir: Path) -> None:
    # systemtest/020-copy.bats "copy: dir, round trip", "copy: oci, round trip"
    local = f"docker://{plain_registry.host}/busybox:unsigned"
    assert _copy(run_cli, "--dest-tls-verify=false", f"dir:{busybox_dir}", local).exit_code == 0
    assert _copy(run_cli, "--src-tls-verify=false", local, f"dir:{tmp_path}/dir2").exit_code == 0
    assert _tree(busybox_dir) == _tree(tmp_path / "dir2")
    assert _copy(run_cli, f"dir:{busybox_dir}", f"oci:{tmp_path}/oci1:latest").exit_code == 0
    assert _copy(run_cli, "--dest-tls-verify=false", f"oci:{tmp_path}/oci1:latest", local).exit_code == 0
    assert _copy(run_cli, "--src-tls-verify=false", local, f"oci:{tmp_path}/oci2:latest").exit_code == 0
    assert _tree(tmp_path / "oci1") == _tree(tmp_path / "oci2")


@pytest.mark.registry
def test_delete_then_inspect_exits_2(run_cli: Any, plain_registry: Any, busybox_dir: Path) -> None:
    # systemtest/060-delete.bats "delete: remove image from registry"
    local = f"docker://{plain_registry.host}/busybox:unsigned"
    assert _copy(run_cli, "--dest-tls-verify=false", f"dir:{busybox_dir}", local).exit_code == 0
    r = run_cli("inspect", "--tls-verify=false", "--raw", local)
    assert "vnd.docker.distribution.manifest.v2+json" in r.stdout
    assert run_cli("delete", "--tls-verify=false", local).exit_code == 0
    r = run_cli("inspect", "--tls-verify=false", local)
    assert r.exit_code == 2 and "manifest unknown" in r.stderr
    # containers/image's deleteImage reports a missing image as a plain error: skopeo exits 1.
    r = run_cli("delete", "--tls-verify=false", local)
    assert r.exit_code == 1


@pytest.mark.registry
def test_tls_registry_with_cert_dir(run_cli: Any, tmp_path: Path, tls_registry: Any, busybox_dir: Path) -> None:
    # systemtest/030-local-registry-tls.bats "local registry, with cert"
    certs = tmp_path / "client-auth"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(tls_registry.tls.ca_cert.read_bytes())
    image = f"docker://{tls_registry.host}/busybox:unsigned"
    assert _copy(run_cli, "--dest-cert-dir", str(certs), f"dir:{busybox_dir}", image).exit_code == 0
    assert _copy(run_cli, "--src-cert-dir", str(certs), image, f"dir:{tmp_path}/extracted").exit_code == 0
    r = run_cli("inspect", "--cert-dir", str(certs), image)
    assert r.exit_code == 0 and f"{tls_registry.host}/busybox" in r.stdout
    assert run_cli("delete", "--cert-dir", str(certs), image).exit_code == 0


@pytest.mark.registry
def test_auth_credentials_on_command_line(run_cli: Any, tmp_path: Path, htpasswd_registry: Any,
                                          busybox_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # systemtest/040-local-registry-auth.bats "auth: credentials on command line",
    # "auth: copy with --src-creds and --dest-creds";
    # integration/check_test.go TestNeedAuthToPrivateRegistryV2WithoutDockerCfg,
    # TestCanAuthToPrivateRegistryV2WithoutDockerCfg
    from registry_fixtures import USERS

    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "no-auth.json"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    host = htpasswd_registry.host
    good = f"alice:{USERS['alice']}"
    for creds in ([], ["--creds=baduser:badpassword"], ["--creds=alice:badpassword"]):
        r = run_cli("inspect", "--tls-verify=false", *creds, f"docker://{host}/nonesuch")
        assert r.exit_code == 1 and "authentication required" in r.stderr, r.stderr
    r = run_cli("inspect", "--tls-verify=false", f"--creds={good}", f"docker://{host}/nonesuch")
    assert r.exit_code == 2 and "manifest unknown" in r.stderr
    assert _copy(run_cli, "--dest-tls-verify=false", f"--dcreds={good}", f"dir:{busybox_dir}",
                 f"docker://{host}/busybox:mine").exit_code == 0
    r = run_cli("inspect", "--tls-verify=false", f"--creds={good}", f"docker://{host}/busybox:mine")
    assert r.exit_code == 0 and f"{host}/busybox" in r.stdout
    assert _copy(run_cli, "--dest-tls-verify=false", f"--dest-creds={good}", f"dir:{busybox_dir}",
                 f"docker://{host}/busybox:mine2").exit_code == 0
    assert _copy(run_cli, "--src-tls-verify=false", f"--src-creds={good}", f"docker://{host}/busybox:mine2",
                 f"dir:{tmp_path}/dir1").exit_code == 0
    assert (tmp_path / "dir1" / "manifest.json").exists()
    assert USERS["alice"] not in r.stdout + r.stderr


@pytest.mark.registry
def test_auth_credentials_via_authfile(run_cli: Any, tmp_path: Path, htpasswd_registry: Any,
                                       busybox_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # systemtest/040-local-registry-auth.bats "auth: credentials via authfile";
    # integration/check_test.go TestLoginLogout, TestCopyWithLocalAuth
    from registry_fixtures import USERS

    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    host = htpasswd_registry.host
    auth = tmp_path / "test.auth"
    r = run_cli("login", "--tls-verify=false", "--authfile", str(auth), "-u", "alice", "-p", USERS["alice"], host)
    assert (r.exit_code, r.stdout) == (0, "Login Succeeded!\n"), r.stderr
    r = run_cli("login", "--tls-verify=false", "--authfile", str(auth), "--get-login", host)
    assert (r.exit_code, r.stdout) == (0, "alice\n")
    image = f"docker://{host}/busybox:mine"
    assert _copy(run_cli, "--dest-tls-verify=false", f"dir:{busybox_dir}", image).exit_code == 1
    assert _copy(run_cli, "--dest-tls-verify=false", "--authfile", str(auth), f"dir:{busybox_dir}",
                 image).exit_code == 0
    r = run_cli("inspect", "--tls-verify=false", image)
    assert r.exit_code == 1 and "authentication required" in r.stderr
    r = run_cli("inspect", "--tls-verify=false", "--authfile", str(auth), image)
    assert r.exit_code == 0 and f"{host}/busybox" in r.stdout
    r = run_cli("delete", "--tls-verify=false", image)
    assert r.exit_code == 1 and "authentication required" in r.stderr
    assert run_cli("delete", "--tls-verify=false", "--authfile", str(auth), image).exit_code == 0
    r = run_cli("logout", "--authfile", str(auth), host)
    assert (r.exit_code, r.stdout) == (0, f"Removed login credentials for {host}\n")


@pytest.mark.registry
def test_inspect_no_tags(run_cli: Any, plain_registry: Any, busybox_dir: Path) -> None:
    # systemtest/010-inspect.bats "inspect: don't list tags"
    image = f"docker://{plain_registry.host}/fedora:latest"
    assert _copy(run_cli, "--dest-tls-verify=false", f"dir:{busybox_dir}", image).exit_code == 0
    assert json.loads(run_cli("inspect", "--tls-verify=false", image).stdout)["RepoTags"] == ["latest"]
    r = run_cli("inspect", "--tls-verify=false", "--no-tags", image)
    assert r.exit_code == 0 and json.loads(r.stdout)["RepoTags"] == []


@pytest.mark.registry
def test_plain_http_registry_without_tls_verify_false(run_cli: Any, tmp_path: Path, plain_registry: Any) -> None:
    # integration/copy_test.go TestCopyNoPanicOnHTTPResponseWithoutTLSVerifyFalse
    # ("server gave HTTP response to HTTPS client" in containers/image; a clean one-line error here)
    r = _copy(run_cli, "--retry-times", "0", f"docker://{plain_registry.host}/foobar", f"dir:{tmp_path}/out")
    assert r.exit_code == 1 and r.stderr.startswith(("error[", "pinging")) and "Traceback" not in r.stderr


@pytest.mark.registry
def test_global_tls_verify_applies_unless_the_command_flag_says_otherwise(
        run_cli: Any, plain_registry: Any, busybox_dir: Path) -> None:
    # cmd/skopeo/utils_test.go TestTLSVerifyFlags: the global (deprecated) --tls-verify applies
    # when no --dest-tls-verify is given; the command's flag wins.
    image = f"docker://{plain_registry.host}/busybox:g"
    r = run_cli("--tls-verify=false", "--insecure-policy", "copy", "-q", f"dir:{busybox_dir}", image)
    assert r.exit_code == 0, r.stderr
    r = run_cli("--tls-verify=false", "--insecure-policy", "copy", "-q", "--retry-times", "0",
                "--dest-tls-verify=true", f"dir:{busybox_dir}", image)
    assert r.exit_code == 1


@pytest.mark.skopeo
def test_skopeo_available_for_differential_runs() -> None:
    # (keeps the differential helpers honest: skopeo 1.9.3 answers --version as 001-basic expects)
    out = subprocess.run(["skopeo", "--version"], capture_output=True, text=True, check=False).stdout
    assert "skopeo version" in out
