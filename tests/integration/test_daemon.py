"""docker-daemon: against a real engine (podman's Docker API), with skopeo and podman as witnesses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_fixtures import Podman, podman_service
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci

pytestmark = [pytest.mark.daemon, pytest.mark.skopeo]


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    """A podman API service for this module (started once, stopped by PID)."""
    yield from podman_service()


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    # 5 MB: more than an archive pass keeps in memory, so the engine is asked for the image twice
    image = make_image([Layer(make_tar([("a.txt", b"a" * 3000)])), random_layer(5_000_000, 3),
                        Layer(make_tar([("plain.txt", b"p" * 5000)]), compressed=False)])
    write_oci({"img": image}, str(tmp_path / "layout"))
    return tmp_path / "layout"


def _config_digest(run_cli, ref: str) -> str:  # type: ignore[no-untyped-def]
    r = run_cli("inspect", "--raw", ref)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["config"]["digest"]  # type: ignore[no-any-return]


def _diff_ids(run_cli, ref: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = run_cli("inspect", "--config", ref)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["rootfs"]["diff_ids"]  # type: ignore[no-any-return]


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, check=False,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def test_load_then_save_round_trip(run_cli, podman: Podman, layout: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                   insecure_policy: Path) -> None:
    r = run_cli("--policy", str(insecure_policy), "copy", "--dest-daemon-host", podman.host, f"oci:{layout}:img",
                "docker-daemon:example.com/trustcopy/load:1")
    assert r.exit_code == 0, r.stderr
    config = _config_digest(run_cli, f"oci:{layout}:img")
    assert podman.image_id("example.com/trustcopy/load:1") == config
    out = tmp_path / "saved.tar"
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-daemon-host", podman.host,
                "docker-daemon:example.com/trustcopy/load:1", f"docker-archive:{out}")
    assert r.exit_code == 0, r.stderr
    assert _config_digest(run_cli, f"docker-archive:{out}") == config
    assert _diff_ids(run_cli, f"docker-archive:{out}") == _diff_ids(run_cli, f"oci:{layout}:img")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insecure-policy.json", "layout", "saved.tar"]  # no spool


def test_by_image_id(run_cli, podman: Podman, layout: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                     insecure_policy: Path) -> None:
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-daemon-host", podman.host,
                   f"oci:{layout}:img", "docker-daemon:example.com/trustcopy/byid:1").exit_code == 0
    image_id = podman.image_id("example.com/trustcopy/byid:1")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-daemon-host", podman.host,
                f"docker-daemon:{image_id}", f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 0, r.stderr


def test_skopeo_and_trustcopy_through_the_same_engine(run_cli, podman: Podman, layout: Path,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path, insecure_policy: Path) -> None:
    skopeo("copy", "-q", "--dest-daemon-host", podman.host, f"oci:{layout}:img", "docker-daemon:example.com/sk:1")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-daemon-host", podman.host,
                "--dest-daemon-host", podman.host, "docker-daemon:example.com/sk:1", "docker-daemon:example.com/tc:1")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--src-daemon-host", podman.host, "docker-daemon:example.com/tc:1",
           f"docker-archive:{tmp_path / 'sk.tar'}")
    assert podman.image_id("example.com/tc:1") == podman.image_id("example.com/sk:1")
    assert _diff_ids(run_cli, f"docker-archive:{tmp_path / 'sk.tar'}") == _diff_ids(run_cli, f"oci:{layout}:img")


@pytest.mark.parametrize(("name", "flags"), [("plain.tar", []), ("small.tar", ["--dest-compress"]),
                                             ("zst.tar.zst", [])])
def test_podman_loads_trustcopy_archives(run_cli, podman: Podman, layout: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                         insecure_policy: Path, name: str, flags: list[str]) -> None:
    out = tmp_path / name
    tag = f"example.com/podman-load/{name.split('.', maxsplit=1)[0]}:1"
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *flags, f"oci:{layout}:img",
                f"docker-archive:{out}:{tag}")
    assert r.exit_code == 0, r.stderr
    loaded = podman.cli("load", "-q", "-i", str(out))
    assert tag in loaded.stdout
    assert podman.image_id(tag) == _config_digest(run_cli, f"oci:{layout}:img")


def test_podman_and_skopeo_fail_on_every_gzip_archive_alike(run_cli, podman: Podman, layout: Path,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path, insecure_policy: Path) -> None:
    """Debian's podman 4.3.1 / skopeo 1.9.3 (containers/image 5.23) cannot read any gzip-compressed docker
    archive, not even one made by gzip(1): our .tar.gz is treated exactly like that one (and gzip -t passes)."""
    ours = tmp_path / "ours.tar.gz"
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{layout}:img",
                   f"docker-archive:{ours}:example.com/gz:1").exit_code == 0
    subprocess.run(["gzip", "-t", str(ours)], check=True)
    plain = tmp_path / "plain.tar"
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{layout}:img",
                   f"docker-archive:{plain}:example.com/gz:1").exit_code == 0
    subprocess.run(["gzip", "-k", str(plain)], check=True)
    reference = tmp_path / "plain.tar.gz"
    ours_result = podman.cli("load", "-q", "-i", str(ours), check=False).returncode
    ref_result = podman.cli("load", "-q", "-i", str(reference), check=False).returncode
    assert ours_result == ref_result
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", f"docker-archive:{ours}",
                   f"dir:{tmp_path / 'back'}").exit_code == 0


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_trustcopy_reads_what_podman_saves(run_cli, podman: Podman, layout: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           insecure_policy: Path, fmt: str) -> None:
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-daemon-host", podman.host,
                   f"oci:{layout}:img", "docker-daemon:example.com/trustcopy/save:1").exit_code == 0
    out = tmp_path / "saved.tar"
    podman.cli("save", "--format", fmt, "-o", str(out), "example.com/trustcopy/save:1")
    ref = f"{fmt}:{out}"
    assert _config_digest(run_cli, ref) == _config_digest(run_cli, f"oci:{layout}:img") or fmt == "oci-archive"
    assert _diff_ids(run_cli, ref) == _diff_ids(run_cli, f"oci:{layout}:img")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", ref, f"dir:{tmp_path / 'back'}")
    assert r.exit_code == 0, r.stderr
