"""skopeo reads what trustcopy writes, and trustcopy reads what skopeo writes.

Where no conversion happens, manifest digests must be identical; where both tools
convert (--format), the converted manifests must be byte-identical too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, write_dir, write_oci

pytestmark = pytest.mark.skopeo


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r


SOURCES = {
    "oci-single": lambda p: (write_oci({"t": example_image()}, str(p / "src")), f"oci:{p}/src:t")[1],
    "dir-v2s2": lambda p: (write_dir(make_image([Layer(make_tar([("f", b"x")]))], docker=True), str(p / "src")),
                           f"dir:{p}/src")[1],
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("dest_kind", ["dir", "oci"])
def test_skopeo_reads_what_trustcopy_writes(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                           source: str, dest_kind: str) -> None:
    src = SOURCES[source](tmp_path)
    dest = f"dir:{tmp_path}/tc" if dest_kind == "dir" else f"oci:{tmp_path}/tc:x"
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", src, dest)
    assert r.exit_code == 0, r.stderr
    ours = json.loads(run_cli("inspect", dest).stdout)["Digest"]
    theirs = json.loads(skopeo("inspect", dest).stdout)["Digest"]
    assert ours == theirs
    skopeo("--insecure-policy", "copy", "-q", dest, f"dir:{tmp_path}/back")  # skopeo verifies every blob


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("dest_kind", ["dir", "oci"])
def test_trustcopy_reads_what_skopeo_writes(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                           source: str, dest_kind: str) -> None:
    src = SOURCES[source](tmp_path)
    dest = f"dir:{tmp_path}/sk" if dest_kind == "dir" else f"oci:{tmp_path}/sk:x"
    skopeo("--insecure-policy", "copy", "-q", src, dest)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", dest, f"dir:{tmp_path}/tc")
    assert r.exit_code == 0, r.stderr
    assert json.loads(run_cli("inspect", f"dir:{tmp_path}/tc").stdout)["Digest"] == \
        json.loads(skopeo("inspect", dest).stdout)["Digest"]


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_conversions_are_byte_identical_to_skopeo(run_cli, tmp_path: Path, insecure_policy: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    docker = fmt == "oci"  # convert away from the source's format
    write_dir(make_image([Layer(make_tar([("f", b"y")])), Layer(make_tar([("g", b"z")]))], docker=docker),
              str(tmp_path / "src"))
    skopeo("--insecure-policy", "copy", "-q", "--format", fmt, f"dir:{tmp_path}/src", f"dir:{tmp_path}/sk")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--format", fmt, f"dir:{tmp_path}/src",
                f"dir:{tmp_path}/tc")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "tc" / "manifest.json").read_bytes() == (tmp_path / "sk" / "manifest.json").read_bytes()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("source", list(SOURCES))
def test_oci_layouts_are_byte_identical_to_skopeos(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                                 source: str) -> None:
    """Same image in, same layout out: oci-layout, index.json and every blob, byte for byte."""
    src = SOURCES[source](tmp_path)
    skopeo("--insecure-policy", "copy", "-q", src, f"oci:{tmp_path}/sk:x")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", src, f"oci:{tmp_path}/tc:x")
    assert r.exit_code == 0, r.stderr
    ours, theirs = _tree(tmp_path / "tc"), _tree(tmp_path / "sk")
    assert ours == theirs
    assert ours["oci-layout"] == b'{"imageLayoutVersion": "1.0.0"}'


def test_inspect_matches_skopeo_except_layersdata(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_oci({"t": example_image()}, str(tmp_path / "lay"))
    r = run_cli("inspect", f"oci:{tmp_path}/lay:t")
    assert r.exit_code == 0, r.stderr
    ours = json.loads(r.stdout)
    theirs = json.loads(skopeo("inspect", f"oci:{tmp_path}/lay:t").stdout)
    ours.pop("LayersData")  # skopeo 1.9.3 predates LayersData
    theirs.pop("LayersData", None)
    assert ours == theirs
    r = run_cli("inspect", "--config", f"oci:{tmp_path}/lay:t")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == skopeo("inspect", "--config", f"oci:{tmp_path}/lay:t").stdout


def test_oci_layout_shared_by_both_tools(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    """Each tool adds an image to a layout the other created; both images stay readable."""
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    skopeo("--insecure-policy", "copy", "-q", f"oci:{tmp_path}/src:t", f"oci:{tmp_path}/shared:by-skopeo")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{tmp_path}/src:t",
                f"oci:{tmp_path}/shared:by-trustcopy")
    assert r.exit_code == 0, r.stderr
    for name in ("by-skopeo", "by-trustcopy"):
        skopeo("inspect", f"oci:{tmp_path}/shared:{name}")
        assert run_cli("inspect", f"oci:{tmp_path}/shared:{name}").exit_code == 0


# Formats whose output Debian's skopeo 1.9.3 and the newest skopeo agree on (1.9.3 has no
# LayersData and no json function; trustcopy follows the newest there).
FORMATS = [
    "{{.Digest}}", "Name: {{.Name}} Digest: {{.Digest}}", "{{.Created}}", "{{.Labels}}",
    "{{.Labels.missing}}", "{{.Architecture}}/{{.Os}}", "{{range .Layers}}{{.}}\\n{{end}}", "{{.Env}}",
    "{{len .Layers}}", "{{if .Labels}}labels{{else}}none{{end}}", "{{.RepoTags}}", "{{.Tag}}|{{.Name}}|",
]
CONFIG_FORMATS = ["{{.OS}} {{.Architecture}} {{.Config.Env}} {{.Config.Cmd}}", "{{.RootFS}}", "{{.Created}}",
                  "{{range .History}}{{.CreatedBy}};{{end}}", "{{.Config.Labels}}"]


@pytest.mark.parametrize(("config", "template"), [(False, f) for f in FORMATS] + [(True, f) for f in CONFIG_FORMATS])
def test_inspect_format_matches_skopeo(run_cli, tmp_path: Path, config: bool, template: str) -> None:  # type: ignore[no-untyped-def]
    write_oci({"t": make_image([Layer(make_tar([("f", b"x")]))], labels={"z": "1", "a": "2"})}, str(tmp_path / "l"))
    flags = ["--config"] if config else []
    ref = f"oci:{tmp_path}/l:t"
    r = run_cli("inspect", *flags, "--format", template, ref)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == skopeo("inspect", *flags, "--format", template, ref).stdout


@pytest.mark.parametrize("template", ["{{.Nope}}", "{{foo}}", "{{if .Os}}"])
def test_inspect_format_errors_exit_like_skopeo(run_cli, tmp_path: Path, template: str) -> None:  # type: ignore[no-untyped-def]
    write_oci({"t": example_image()}, str(tmp_path / "l"))
    theirs = subprocess.run(["skopeo", "inspect", "--format", template, f"oci:{tmp_path}/l:t"],
                            capture_output=True, text=True, check=False)
    r = run_cli("inspect", "--format", template, f"oci:{tmp_path}/l:t")
    assert (r.exit_code, theirs.returncode) == (1, 1)
    assert r.stdout == "" and "template: skopeo inspect" in r.stderr


def test_inspect_raw_with_format_is_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_oci({"t": example_image()}, str(tmp_path / "l"))
    r = run_cli("inspect", "--raw", "--format", "{{.Digest}}", f"oci:{tmp_path}/l:t")
    assert r.exit_code == 1 and "raw output does not support format option" in r.stderr
