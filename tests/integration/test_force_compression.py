"""``copy --dest-force-compress-format`` against a real registry that already holds the layers gzip-compressed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from imagefactory import make_image, random_layer, write_oci
from registry_fixtures import RegistryServer, docker_ref, fast_sys, pull_blob

pytestmark = pytest.mark.registry


def _manifest(host: str, tag: str) -> dict[str, Any]:
    with docker_ref(host, f"app:{tag}").new_image_source(fast_sys()) as src:
        return json.loads(src.get_manifest()[0])  # type: ignore[no-any-return]


def test_zstd_is_forced_over_gzip_layers_the_registry_already_holds(  # type: ignore[no-untyped-def]
        run_cli, plain_registry: RegistryServer, tmp_path: Path, insecure_policy: Path) -> None:
    tars = [random_layer(200_000, 61), random_layer(100_000, 62)]
    image = make_image(tars)
    write_oci({"t": image}, str(tmp_path / "src"))
    host = plain_registry.host

    def copy(tag: str, *flags: str):  # type: ignore[no-untyped-def]
        return run_cli("--policy", str(insecure_policy), "copy", "--dest-tls-verify=false", *flags,
                       f"oci:{tmp_path}/src:t", f"docker://{host}/app:{tag}")

    assert copy("gz").exit_code == 0
    plain = copy("plain", "--dest-compress-format", "zstd")
    assert plain.exit_code == 0, plain.stderr
    forced = copy("forced", "--dest-compress-format", "zstd", "--dest-force-compress-format")
    assert forced.exit_code == 0, forced.stderr

    gz_layers = _manifest(host, "plain")["layers"]
    # skopeo's rule without the flag: reused as held (the source's gzip blobs; skopeo's plain
    # output, and so trustcopy's, names no "skipped" outcome)
    assert [la["digest"] for la in gz_layers] == [la["digest"] for la in json.loads(image.manifest)["layers"]]
    layers = _manifest(host, "forced")["layers"]
    assert [la["mediaType"] for la in gz_layers] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
    assert [la["mediaType"] for la in layers] == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    with docker_ref(host, "app:forced").new_image_source(fast_sys()) as src:
        for layer, original in zip(layers, tars, strict=True):
            data = pull_blob(src, layer["digest"], layer["size"])
            assert zstandard.ZstdDecompressor().decompressobj().decompress(data) == original.tar


def test_force_without_a_format_is_a_usage_error(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 insecure_policy: Path) -> None:
    write_oci({"t": make_image([random_layer(1000, 63)])}, str(tmp_path / "src"))
    r = run_cli("--policy", str(insecure_policy), "copy", "--dest-force-compress-format",
                f"oci:{tmp_path}/src:t", f"oci:{tmp_path}/out:t")
    assert r.exit_code == 2
    assert "--dest-force-compress-format needs --dest-compress-format" in r.stderr
    assert not (tmp_path / "out").exists()


def test_zstd_image_pushed_as_schema2_never_reuses_the_zstd_blobs(  # type: ignore[no-untyped-def]
        run_cli, plain_registry: RegistryServer, tmp_path: Path, insecure_policy: Path) -> None:
    """--format v2s2 from zstd layers: gzip layers, even though the repository holds the zstd ones."""
    tars = [random_layer(150_000, 64)]
    write_oci({"t": make_image(tars)}, str(tmp_path / "src"))
    host = plain_registry.host
    base = ("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false")
    assert run_cli(*base, "--dest-compress-format", "zstd", f"oci:{tmp_path}/src:t",
                   f"docker://{host}/app:zstd").exit_code == 0
    assert _manifest(host, "zstd")["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    r = run_cli(*base, "--src-tls-verify=false", "--format", "v2s2", f"docker://{host}/app:zstd",
                f"docker://{host}/app:v2s2")
    assert r.exit_code == 0, r.stderr
    manifest = _manifest(host, "v2s2")
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    with docker_ref(host, "app:v2s2").new_image_source(fast_sys()) as src:
        assert gzip.decompress(pull_blob(src, layer["digest"], layer["size"])) == tars[0].tar
