"""An index whose chosen instance is an index again (found in session 29).

``inspect`` said "internal error: Image built from a manifest list" where skopeo shows the
image at the end (containers/image's manifestInstanceFromBlob recurses); ``verify`` reported
ACCEPTED what ``copy`` refuses ("a manifest list inside a manifest list is not supported",
as containers/image's copy). verify promises the verdict copy would reach.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_index, write_oci

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
PLATFORM = {"architecture": "amd64", "os": "linux"}


@pytest.fixture
def nested(tmp_path: Path) -> str:
    """oci:LAYOUT:two → index → index → the example image."""
    image = example_image()
    inner, blobs = make_index([(image, PLATFORM)])
    inner_digest = "sha256:" + hashlib.sha256(inner).hexdigest()
    outer = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": inner_digest, "size": len(inner), "platform": PLATFORM}]}).encode()
    outer_digest = "sha256:" + hashlib.sha256(outer).hexdigest()
    layout = tmp_path / "layout"
    write_oci({}, str(layout), [{"mediaType": OCI_INDEX, "digest": outer_digest, "size": len(outer),
                                 "annotations": {"org.opencontainers.image.ref.name": "two"}}])
    for digest, data in {**blobs, inner_digest: inner, outer_digest: outer}.items():
        (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return f"oci:{layout}:two"


def test_inspect_follows_nested_lists(run_cli: Callable[..., Any], nested: str) -> None:
    r = run_cli("inspect", nested)
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["Architecture"] == "amd64" and data["Os"] == "linux"
    if shutil.which("skopeo"):  # ./run installs it
        theirs = json.loads(subprocess.run(["skopeo", "inspect", nested], capture_output=True, text=True,
                                           check=True).stdout)
        data.pop("LayersData", None)
        assert data == theirs


def test_verify_gives_copys_answer_for_a_nested_list(run_cli: Callable[..., Any], nested: str, tmp_path: Path,
                                                     insecure_policy: Path) -> None:
    copied = run_cli("--policy", str(insecure_policy), "copy", "-q", nested, f"dir:{tmp_path / 'out'}")
    assert copied.exit_code == 1 and "a manifest list inside a manifest list is not supported" in copied.stderr
    assert not (tmp_path / "out").exists()
    verified = run_cli("--policy", str(insecure_policy), "verify", nested)
    assert verified.exit_code == 2, verified.stdout + verified.stderr
    assert "a manifest list inside a manifest list is not supported" in verified.stdout + verified.stderr
    assert "ACCEPTED" not in verified.stdout
