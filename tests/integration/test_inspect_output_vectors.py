"""``inspect`` output bytes as the newest skopeo prints them (default JSON, --config, --format).

Expectations are restated from the newest skopeo's sources: cmd/skopeo/inspect.go (Output
struct, ``manifestDigestFromManifest``), its vendored containers/image (``Schema2.Inspect``,
``Schema1.Inspect``: ``Created`` is a pointer to a non-pointer time, so an absent
``created`` prints Go's zero time), image-spec's ``v1.Image`` (``config`` is
``omitzero``; ``variant`` after ``os``), containers/common's report package (``json``,
``join``, ``index`` functions) and Go's encoding/json (U+2028/U+2029 always escaped).
Where skopeo 1.9.3 agrees with the newest, the test also compares with the installed
skopeo byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

HAVE_SKOPEO = shutil.which("skopeo") is not None
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifest" / "go-manifest"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("f")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return out.getvalue()


def _dir_image(path: Path, config: dict[str, Any], *, oci: bool = False,
               annotations: dict[str, str] | None = None) -> str:
    """A ``dir:`` image with this config; returns its manifest digest."""
    cfg = json.dumps(config).encode()
    layer = _layer()
    layer_desc: dict[str, Any] = {"mediaType": "application/vnd.oci.image.layer.v1.tar" if oci
                                  else "application/vnd.docker.image.rootfs.diff.tar",
                                  "digest": _sha(layer), "size": len(layer)}
    if annotations:
        layer_desc["annotations"] = annotations
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json" if oci
        else "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
                   else "application/vnd.docker.container.image.v1+json", "digest": _sha(cfg), "size": len(cfg)},
        "layers": [layer_desc],
    }, indent=3).encode()
    path.mkdir(parents=True)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    (path / "manifest.json").write_bytes(manifest)
    for blob in (cfg, layer):
        (path / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    return _sha(manifest)


def _skopeo(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["skopeo", *args], capture_output=True, check=False)


def _without_layers_data(text: str) -> str:
    """Our output minus LayersData (skopeo 1.9.3 prints it for docker:// only; newest always)."""
    data = json.loads(text)
    data.pop("LayersData")
    out = json.dumps(data, indent=4, ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        out = out.replace(raw, esc)
    return out + "\n"


FULL = {"created": "2020-01-02T03:04:05.123456780Z", "docker_version": "20.10.1", "architecture": "arm64",
        "variant": "v8", "os": "linux", "author": "me",
        "config": {"Env": ["A=1", "B=<&>"], "Labels": {"z": "1", "a": "<x>", "é": "u\u2028"}},
        "rootfs": {"type": "layers", "diff_ids": []}}
BARE = {"architecture": "amd64", "os": "linux"}


def test_default_json_bytes(run_cli: Any, tmp_path: Path) -> None:
    # inspect.Output field order; Go sorts Labels; &<> and U+2028 escaped as \u00xx / \u2028;
    # schema2 layer descriptors carry no annotations in Go (Schema2Descriptor): "Annotations": null
    digest = _dir_image(tmp_path / "img", FULL, annotations={"b": "2", "a": "1"})
    layer = _sha(_layer())
    r = run_cli("inspect", f"dir:{tmp_path}/img")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "{\n"
        f'    "Digest": "{digest}",\n'
        '    "RepoTags": [],\n'
        '    "Created": "2020-01-02T03:04:05.12345678Z",\n'
        '    "DockerVersion": "20.10.1",\n'
        '    "Labels": {\n'
        '        "a": "\\u003cx\\u003e",\n'
        '        "z": "1",\n'
        '        "é": "u\\u2028"\n'
        "    },\n"
        '    "Architecture": "arm64",\n'
        '    "Os": "linux",\n'
        '    "Layers": [\n'
        f'        "{layer}"\n'
        "    ],\n"
        '    "LayersData": [\n'
        "        {\n"
        '            "MIMEType": "application/vnd.docker.image.rootfs.diff.tar",\n'
        f'            "Digest": "{layer}",\n'
        '            "Size": 10240,\n'
        '            "Annotations": null\n'
        "        }\n"
        "    ],\n"
        '    "Env": [\n'
        '        "A=1",\n'
        '        "B=\\u003c\\u0026\\u003e"\n'
        "    ]\n"
        "}\n")
    if HAVE_SKOPEO:
        theirs = _skopeo("inspect", f"dir:{tmp_path}/img")
        assert theirs.stdout.decode() == _without_layers_data(r.stdout)


@pytest.mark.parametrize(("oci", "created"), [(False, "0001-01-01T00:00:00Z"), (True, None)])
def test_absent_created(run_cli: Any, tmp_path: Path, oci: bool, created: str | None) -> None:
    # Schema2.Inspect: Created = &s2.Created (zero time); OCI1.Inspect: v1.Created (nil pointer)
    _dir_image(tmp_path / "img", BARE, oci=oci)
    r = run_cli("inspect", f"dir:{tmp_path}/img")
    data = json.loads(r.stdout)
    assert data["Created"] == created and data["Labels"] is None and data["Env"] is None
    r = run_cli("inspect", "--format", "{{.Created}}", f"dir:{tmp_path}/img")
    assert r.stdout == ("0001-01-01 00:00:00 +0000 UTC\n" if created else "<nil>\n")
    if HAVE_SKOPEO:
        for args in ([], ["--format", "{{.Created}}"]):
            theirs = _skopeo("inspect", *args, f"dir:{tmp_path}/img").stdout.decode()
            ours = run_cli("inspect", *args, f"dir:{tmp_path}/img").stdout
            assert theirs == (_without_layers_data(ours) if not args else ours)


def test_config_json_newest_shape(run_cli: Any, tmp_path: Path) -> None:
    # image-spec v1.Image (newest): Platform embedded (variant after os), "config" omitzero
    _dir_image(tmp_path / "full", FULL)
    r = run_cli("inspect", "--config", f"dir:{tmp_path}/full")
    assert list(json.loads(r.stdout)) == ["created", "author", "architecture", "os", "variant", "config", "rootfs"]
    assert '"é": "u\\u2028"' in r.stdout and '"B=\\u003c\\u0026\\u003e"' in r.stdout
    _dir_image(tmp_path / "bare", BARE)
    r = run_cli("inspect", "--config", f"dir:{tmp_path}/bare")
    assert r.stdout == '{\n    "architecture": "amd64",\n    "os": "linux",\n    "rootfs": {\n' \
                       '        "type": "",\n        "diff_ids": null\n    }\n}\n'
    # an empty (non-nil) list is not Go's zero value: "config" stays, with Env omitted (omitempty)
    _dir_image(tmp_path / "empty", {**BARE, "config": {"Env": [], "Labels": None}})
    assert json.loads(run_cli("inspect", "--config", f"dir:{tmp_path}/empty").stdout)["config"] == {}


@pytest.mark.parametrize(("template", "expected"), [
    ("{{json .Labels}}", '{"a":"<x>","z":"1","é":"u\\u2028"}'),  # report's json: no HTML escaping, U+2028 still
    ("{{json .Created}}", '"2020-01-02T03:04:05.12345678Z"'),
    ('{{join .Env ","}}', "A=1,B=<&>"),
    ('{{index .Labels "a"}}', "<x>"),
    ('{{index .Labels "missing"}}', ""),  # a missing key is the zero value, not <nil>
    ("{{.Labels}}", "map[a:<x> z:1 é:u\u2028]"),
    ("{{range .LayersData}}{{.MIMEType}} {{.Size}} {{index .Annotations \"b\"}}{{end}}",
     "application/vnd.oci.image.layer.v1.tar 10240 2"),
    ("{{.Name}}|{{.Tag}}|{{.RepoTags}}", "||[]"),
])
def test_format_functions(run_cli: Any, tmp_path: Path, template: str, expected: str) -> None:
    _dir_image(tmp_path / "img", FULL, oci=True, annotations={"b": "2"})
    r = run_cli("inspect", "--format", template, f"dir:{tmp_path}/img")
    assert (r.exit_code, r.stdout) == (0, expected + "\n"), r.stderr


def test_format_json_dot_is_compact(run_cli: Any, tmp_path: Path) -> None:
    # report.IsJSON matches "json" and "{{json}}"/"{{json.}}" only: "{{json .}}" is the json function
    digest = _dir_image(tmp_path / "img", BARE)
    r = run_cli("inspect", "--format", "{{json .}}", f"dir:{tmp_path}/img")
    assert r.stdout.startswith('{"Digest":"' + digest + '","RepoTags":[],"Created":"0001-01-01T00:00:00Z",')
    assert r.stdout.endswith(',"Env":null}\n')
    for form in ("json", " {{ json }} ", "{{json.}}"):
        assert run_cli("inspect", "--format", form, f"dir:{tmp_path}/img").stdout.startswith("{\n    \"Digest\"")


@pytest.mark.parametrize("oci", [False, True])
def test_missing_fields_under_config_format(run_cli: Any, tmp_path: Path, oci: bool) -> None:
    # a nil slice prints [] under a template (RootFS.DiffIDs), a missing map key is ""
    _dir_image(tmp_path / "img", BARE, oci=oci)
    for template, expected in (("{{.RootFS}}", "{ []}"), ('{{index .Config.Labels "x"}}', ""),
                               ("{{.Config.Env}} {{.History}}", "[] []")):
        r = run_cli("inspect", "--config", "--format", template, f"dir:{tmp_path}/img")
        assert (r.exit_code, r.stdout) == (0, expected + "\n"), r.stderr
        if HAVE_SKOPEO:
            assert _skopeo("inspect", "--config", "--format", template, f"dir:{tmp_path}/img").stdout.decode() == \
                r.stdout


def test_schema1_digest_ignores_signatures_for_every_algorithm(run_cli: Any, tmp_path: Path) -> None:
    # manifest.DigestWithAlgorithm strips the JWS signatures whatever the algorithm
    from trustcopy.manifest.digest import jws_payload

    raw = (FIXTURES / "v2s1.manifest.json").read_bytes()
    img = tmp_path / "s1"
    img.mkdir()
    (img / "version").write_text("Directory Transport Version: 1.1\n")
    (img / "manifest.json").write_bytes(raw)
    payload = jws_payload(raw)
    r = run_cli("inspect", "--manifest-digest", "sha512", "--format", "{{.Digest}}", f"dir:{img}")
    assert r.stdout == "sha512:" + hashlib.sha512(payload).hexdigest() + "\n", r.stderr
    r = run_cli("inspect", f"dir:{img}")
    assert json.loads(r.stdout)["Digest"] == _sha(payload)
    assert run_cli("manifest-digest", str(img / "manifest.json")).stdout == _sha(payload) + "\n"
    if HAVE_SKOPEO:
        assert _skopeo("manifest-digest", str(img / "manifest.json")).stdout.decode() == _sha(payload) + "\n"
        theirs = json.loads(_skopeo("inspect", f"dir:{img}").stdout)
        ours = json.loads(r.stdout)
        ours.pop("LayersData")
        assert theirs == ours


def test_list_digest_is_the_lists_with_and_without_override(run_cli: Any, tmp_path: Path) -> None:
    # inspect.go: Digest hashes the top-level manifest; other fields come from the chosen instance
    lay = tmp_path / "lay"
    (lay / "blobs" / "sha256").mkdir(parents=True)

    def put(data: bytes) -> str:
        (lay / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()).write_bytes(data)
        return _sha(data)

    descs = []
    for arch in ("amd64", "arm64"):
        _dir_image(tmp_path / arch, {**BARE, "architecture": arch}, oci=True)
        for blob in (tmp_path / arch).iterdir():
            if blob.name not in ("version", "manifest.json"):
                put(blob.read_bytes())
        manifest = (tmp_path / arch / "manifest.json").read_bytes()
        descs.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
                      "size": len(manifest), "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": descs}).encode()
    (lay / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(index), "size": len(index),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
    template = "{{.Digest}} {{.Architecture}} {{.Created}}"
    for override, arch in (([], "amd64"), (["--override-arch", "arm64"], "arm64")):
        r = run_cli(*override, "inspect", "--format", template, f"oci:{lay}:t")
        assert r.stdout == f"{_sha(index)} {arch} <nil>\n", r.stderr
        if HAVE_SKOPEO:
            assert _skopeo(*override, "inspect", "--format", template, f"oci:{lay}:t").stdout.decode() == r.stdout


def test_oci_layer_annotations_sorted(run_cli: Any, tmp_path: Path) -> None:
    # OCI descriptors keep annotations (imgInspectLayersFromLayerInfos); Go sorts the map's keys
    _dir_image(tmp_path / "img", BARE, oci=True, annotations={"b": "2", "a": "1"})
    r = run_cli("inspect", f"dir:{tmp_path}/img")
    assert '"Annotations": {\n                "a": "1",\n                "b": "2"\n            }\n' in r.stdout
