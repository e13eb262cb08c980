"""Conversions compared byte for byte with what the real skopeo writes.

Each case builds a ``dir:`` image from a containers/image fixture used as a template
(layer blobs are generated, the config is go-image/schema2-config.json), runs
``skopeo --insecure-policy copy --format oci|v2s2 dir:A dir:B``, and compares skopeo's
manifest (and, for schema2 → OCI, the rewritten config blob) with
:func:`~trustcopy.manifest.convert.convert_image`. Lists go through ``--all`` and are
rebuilt with ``with_instances`` + ``convert_list``, as the copy pipeline does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import convert_image, convert_list
from trustcopy.manifest.digest import manifest_digest
from trustcopy.manifest.lists import ListUpdate
from trustcopy.manifest.parse import parse_image_manifest, parse_manifest_list

pytestmark = pytest.mark.skopeo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest"
CONFIG = (FIXTURES / "go-image" / "schema2-config.json").read_bytes()
FORMATS = {"oci": mt.OCI_MANIFEST, "v2s2": mt.DOCKER_V2S2}


def _put(directory: Path, data: bytes) -> str:
    digest = Digest.from_bytes(data)
    (directory / digest.hex).write_bytes(data)
    return str(digest)


def _new_dir(directory: Path) -> Path:
    directory.mkdir()
    (directory / "version").write_text("Directory Transport Version: 1.1\n")
    return directory


def _image(directory: Path, template: str, salt: str) -> bytes:
    """Instantiate ``template`` with real blobs in ``directory``; returns the manifest bytes."""
    doc: dict[str, Any] = json.loads((FIXTURES / template).read_bytes())
    doc["config"]["digest"] = _put(directory, CONFIG)
    doc["config"]["size"] = len(CONFIG)
    for i, layer in enumerate(doc["layers"]):
        blob = f"{salt} layer {i}".encode()
        layer["digest"] = _put(directory, blob)
        layer["size"] = len(blob)
    if doc["layers"]:
        doc["layers"][-1]["urls"] = ["https://example.com/blob?a=1&b=<2>"]
    return json.dumps(doc, indent=3).encode()  # deliberately not Go's encoding


def _skopeo_copy(src: Path, dst: Path, fmt: str, *, all_images: bool = False) -> bool:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    argv = [skopeo, "--insecure-policy", "copy", "-q", "--format", fmt, *(["--all"] if all_images else []),
            f"dir:{src}", f"dir:{dst}"]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


SINGLE = [
    ("go-image/schema2.json", "oci"),
    ("go-image/schema2-all-media-types.json", "oci"),
    ("go-manifest/v2s2.manifest.json", "oci"),
    ("go-manifest/v2s2.uncompressed.manifest.json", "oci"),
    ("go-manifest/v2s2.nondistributable.manifest.json", "oci"),
    ("go-manifest/v2s2.nondistributable.gzip.manifest.json", "oci"),
    ("go-image/oci1.json", "v2s2"),
    ("go-manifest/ociv1.manifest.json", "v2s2"),
    ("go-manifest/ociv1nomime.manifest.json", "v2s2"),
    ("go-manifest/ociv1.uncompressed.manifest.json", "v2s2"),
    ("go-manifest/ociv1.nondistributable.manifest.json", "v2s2"),
    ("go-manifest/ociv1.nondistributable.gzip.manifest.json", "v2s2"),
    ("go-image/oci1.json", "oci"),
    ("go-manifest/ociv1.zstd.manifest.json", "v2s2"),
    ("go-image/oci1-all-media-types.json", "v2s2"),
    ("go-image/oci1-artifact.json", "v2s2"),
    ("go-image/oci1-invalid-media-type.json", "v2s2"),
]


@pytest.mark.parametrize(("template", "fmt"), SINGLE, ids=[f"{t.split('/')[1]}-to-{f}" for t, f in SINGLE])
def test_single_image_conversion_is_byte_identical_to_skopeo(template: str, fmt: str, tmp_path: Path) -> None:
    src = _new_dir(tmp_path / "src")
    raw = _image(src, template, "single")
    (src / "manifest.json").write_bytes(raw)
    dst = tmp_path / "dst"
    skopeo_ok = _skopeo_copy(src, dst, fmt)

    m = parse_image_manifest(raw)
    try:
        result = convert_image(m, FORMATS[fmt], CONFIG)
    except ManifestError:
        assert not skopeo_ok, "skopeo converted what trustcopy refused"
        return
    assert skopeo_ok, "trustcopy converted what skopeo refused"
    assert (dst / "manifest.json").read_bytes() == result.manifest.raw
    assert result.manifest.config is not None
    written_config = (dst / result.manifest.config.digest.hex).read_bytes()
    assert written_config == (result.config_blob if result.config_blob is not None else CONFIG)


LISTS = [
    ("go-image/schema2list.json", "go-image/schema2.json", "oci"),
    ("go-manifest/v2list.manifest.json", "go-image/schema2.json", "oci"),
    ("go-image/oci1index.json", "go-image/oci1.json", "v2s2"),
    ("go-manifest/ociv1.image.index.json", "go-manifest/ociv1.manifest.json", "v2s2"),
]


@pytest.mark.parametrize(("list_template", "image_template", "fmt"), LISTS,
                         ids=[f"{t.split('/')[1]}-to-{f}" for t, _, f in LISTS])
def test_list_conversion_with_all_is_byte_identical_to_skopeo(list_template: str, image_template: str, fmt: str,
                                                               tmp_path: Path) -> None:
    src = _new_dir(tmp_path / "src")
    doc: dict[str, Any] = json.loads((FIXTURES / list_template).read_bytes())
    doc["manifests"] = doc["manifests"][:3]
    if list_template.endswith("oci1index.json"):
        doc["manifests"].append({k: v for k, v in doc["manifests"][0].items() if k != "platform"})
    for i, entry in enumerate(doc["manifests"]):
        instance = _image(src, image_template, f"instance {i}")
        digest = Digest.from_bytes(instance)
        (src / f"{digest.hex}.manifest.json").write_bytes(instance)
        entry.update(mediaType=mt.guess_mime_type(instance), digest=str(digest), size=len(instance))
    raw = json.dumps(doc, indent=2).encode()
    (src / "manifest.json").write_bytes(raw)
    dst = tmp_path / "dst"
    assert _skopeo_copy(src, dst, fmt, all_images=True)

    lst = parse_manifest_list(raw)
    updates: dict[Digest, ListUpdate] = {}
    for d in lst.instances():
        m = parse_image_manifest((src / f"{d.hex}.manifest.json").read_bytes())
        converted = convert_image(m, FORMATS[fmt], CONFIG).manifest
        new = manifest_digest(converted.raw)
        assert (dst / f"{new.hex}.manifest.json").read_bytes() == converted.raw
        updates[d] = ListUpdate(new, len(converted.raw), converted.media_type)
    target = mt.OCI_INDEX if fmt == "oci" else mt.DOCKER_V2_LIST
    ours = convert_list(lst.with_instances(updates), target)
    assert (dst / "manifest.json").read_bytes() == ours.raw
