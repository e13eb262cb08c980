"""copy and policy explain judge a manifest list through one evaluation step, so they agree.

A two-platform image is written as a ``dir:`` list (the one local transport that stores
per-instance signatures: ``HEX.signature-N`` beside ``signature-N`` for the list), signed
with the keys-example key either per instance or only at the list level, and judged by a
``signedBy`` policy. containers/image checks each instance's own signatures, so a list-level
signature alone never lets an instance through: both commands must say so, for the
platform's instance and for ``--all``. An ``oci:`` layout (no signatures at all) is judged
the same way by both.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Layer, make_image, make_index, make_tar, write_oci

from trustcopy.signature.standalone import standalone_sign

pytestmark = pytest.mark.gpg

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
IDENTITY = "registry.example.com/app:1"
AMD64 = make_image([Layer(make_tar([("amd64.txt", b"amd64\n")]))], arch="amd64")
ARM64 = make_image([Layer(make_tar([("arm64.txt", b"arm64\n")]))], arch="arm64")
INDEX, BLOBS = make_index([(AMD64, {"os": "linux", "architecture": "amd64"}),
                           (ARM64, {"os": "linux", "architecture": "arm64"})])


def _write_list(path: Path, home: GPGHome, *, per_instance: set[str], list_level: bool) -> None:
    path.mkdir()
    for digest, data in BLOBS.items():
        if digest in (AMD64.digest, ARM64.digest):
            (path / f"{digest.split(':')[1]}.manifest.json").write_bytes(data)
        else:
            (path / digest.split(":")[1]).write_bytes(data)
    (path / "manifest.json").write_bytes(INDEX)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    for image in (AMD64, ARM64):
        if image.digest in per_instance:
            sig = standalone_sign(image.manifest, IDENTITY, FPR, gnupg_home=home.path)
            (path / f"{image.digest.split(':')[1]}.signature-1").write_bytes(sig)
    if list_level:
        (path / "signature-1").write_bytes(standalone_sign(INDEX, IDENTITY, FPR, gnupg_home=home.path))


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{
        "type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEYS_EXAMPLE / "public-key.asc"),
        "signedIdentity": {"type": "exactReference", "dockerReference": IDENTITY},
    }]}))
    return p


CASES = {
    # name: (instances signed, list signed, flags, expected allowed)
    "every-instance-signed-system": ({"amd64", "arm64"}, False, [], True),
    "every-instance-signed-all": ({"amd64", "arm64"}, False, ["--all"], True),
    "list-only-signed-system": (set(), True, [], False),
    "list-only-signed-all": (set(), True, ["--all"], False),
    "one-instance-signed-system": ({"amd64"}, False, ["--override-arch", "amd64"], True),
    "one-instance-signed-other-platform": ({"amd64"}, False, ["--override-arch", "arm64"], False),
    "one-instance-signed-all": ({"amd64"}, False, ["--all"], False),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_copy_and_explain_agree_on_a_signed_list(case: str, tmp_path: Path, policy: Path, example_home: GPGHome,
                                                 run_cli: Callable[..., Any]) -> None:
    signed, list_level, flags, allowed = CASES[case]
    digests = {"amd64": AMD64.digest, "arm64": ARM64.digest}
    src = tmp_path / "src"
    _write_list(src, example_home, per_instance={digests[a] for a in signed}, list_level=list_level)
    global_flags = [f for f in flags if f != "--all"]
    copy_flags = ["--all"] if "--all" in flags else []

    explained = run_cli("--policy", str(policy), *global_flags, "policy", "explain", *copy_flags, "--output", "json",
                        f"dir:{src}")
    copied = run_cli("--policy", str(policy), *global_flags, "copy", *copy_flags, f"dir:{src}",
                     f"dir:{tmp_path}/dest")
    report = json.loads(explained.stdout)
    assert report["manifestList"] is True
    assert report["allowed"] is allowed
    assert explained.exit_code == (0 if allowed else 1), explained.stderr
    assert copied.exit_code == (0 if allowed else 1), copied.stderr
    judged = {i["instanceDigest"] for i in report["instances"]}
    if "--all" in flags:
        assert judged == {AMD64.digest, ARM64.digest}
    else:
        assert len(judged) == 1
    if not allowed:
        assert "error[policy-rejected]" in copied.stderr
        refused = next(i for i in report["instances"] if not i["allowed"])
        assert refused["instanceDigest"] in copied.stderr  # copy names the same refused instance
        assert not os.path.exists(tmp_path / "dest")


def test_oci_layout_list_has_no_signatures_for_either(tmp_path: Path, policy: Path,
                                                      run_cli: Callable[..., Any]) -> None:
    layout = tmp_path / "layout"
    write_oci({}, str(layout), index_entries=[])
    for digest, data in BLOBS.items():
        (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    index_digest = "sha256:" + hashlib.sha256(INDEX).hexdigest()
    (layout / "blobs" / "sha256" / index_digest.split(":")[1]).write_bytes(INDEX)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": len(INDEX),
        "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    for flags in ([], ["--all"]):
        explained = run_cli("--policy", str(policy), "policy", "explain", *flags, "-o", "json", f"oci:{layout}:multi")
        copied = run_cli("--policy", str(policy), "copy", *flags, f"oci:{layout}:multi", f"dir:{tmp_path}/d")
        report = json.loads(explained.stdout)
        assert explained.exit_code == copied.exit_code == 1
        assert {i["reason"] for i in report["instances"]} == {"NO_SIGNATURES"}
        assert "A signature was required, but no signature exists" in copied.stderr
