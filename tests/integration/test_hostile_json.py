"""JSON nested 100,000 levels deep, wherever trustcopy reads JSON from a local image or policy.

Python's parser would exhaust the interpreter's recursion limit and print a traceback;
every reader goes through limits.load_json / the manifest decoder, which refuse anything
nested more than limits.MAX_JSON_DEPTH levels with one ``error[...]`` line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_dir, write_oci

DEEP = b"[" * 100_000


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error["), stderr
    assert "Traceback" not in stderr and "RecursionError" not in stderr
    return lines[0]


def test_oci_index_nested_100000_deep_is_a_clean_error(tmp_path: Path, insecure_policy: Path,
                                                       run_cli: Callable[..., Any]) -> None:
    layout = tmp_path / "layout"
    write_oci({"1": example_image()}, str(layout))
    (layout / "index.json").write_bytes(DEEP)
    for args in (["copy", f"oci:{layout}:1", f"dir:{tmp_path}/out"], ["inspect", f"oci:{layout}:1"]):
        r = run_cli("--policy", str(insecure_policy), *args)
        assert r.exit_code == 1
        line = _one_error_line(r.stderr)
        assert "index.json" in line and "nested" in line
    assert not (tmp_path / "out").exists()


def test_dir_manifest_nested_100000_deep_is_a_clean_error(tmp_path: Path, insecure_policy: Path,
                                                          run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "src"
    write_dir(example_image(), str(src))
    (src / "manifest.json").write_bytes(DEEP)
    r = run_cli("--policy", str(insecure_policy), "copy", f"dir:{src}", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "nested" in _one_error_line(r.stderr)
    assert not (tmp_path / "out").exists()


def test_deep_sigstore_signature_is_rejected_with_its_reason(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "src"
    write_dir(example_image(), str(src))
    (src / "signature-1").write_bytes(b"\x00sigstore-json\n" + DEEP)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "sigstoreSigned", "keyData": "bm9uc2Vuc2U="}]}))
    r = run_cli("--policy", str(policy), "policy", "explain", "-o", "json", f"dir:{src}")
    assert r.exit_code == 1, r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["reason"] == "UNSUPPORTED_FORMAT"
    assert "nested more than 200 levels deep" in verdict["message"]
    assert verdict["requirements"][0]["signatures"][0]["location"].endswith("signature-1")


@pytest.mark.parametrize("where", ["policy", "config"])
def test_deep_json_elsewhere_is_a_clean_error(tmp_path: Path, insecure_policy: Path, run_cli: Callable[..., Any],
                                              where: str) -> None:
    src = tmp_path / "src"
    image = example_image()
    write_dir(image, str(src))
    policy = insecure_policy
    if where == "policy":
        policy = tmp_path / "deep-policy.json"
        policy.write_bytes(b'{"default":' + DEEP)
        r = run_cli("--policy", str(policy), "copy", f"dir:{src}", f"dir:{tmp_path}/out")
    else:  # the config blob, read by inspect (its digest no longer matches: that is checked first)
        config_digest = json.loads(image.manifest)["config"]["digest"]
        (src / config_digest.split(":")[1]).write_bytes(DEEP)
        r = run_cli("--policy", str(policy), "inspect", f"dir:{src}")
    assert r.exit_code in (1, 2)
    _one_error_line(r.stderr)
