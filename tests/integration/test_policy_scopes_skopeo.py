"""A policy with containers-storage or sif scopes loads in trustcopy exactly when it loads in skopeo.

Both tools get the same policy (the vectors of tests/unit/policy/test_foreign_scopes.py, which
are containers/image's) and the same copy; skopeo refuses a malformed scope with "Error
loading trust policy", trustcopy with error[policy-invalid] naming it; a well-formed one
lets the copy through in both.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from imagefactory import example_image, write_oci
from unit.policy.test_foreign_scopes import SIF_INVALID, SIF_VALID, STORAGE_INVALID, STORAGE_VALID

pytestmark = pytest.mark.skopeo

CASES = ([("containers-storage", s) for s in STORAGE_VALID + STORAGE_INVALID]
         + [("sif", s) for s in SIF_VALID + SIF_INVALID])


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scopes") / "layout"
    write_oci({"t": example_image()}, str(path))
    return path


@pytest.mark.parametrize(("transport", "scope"), CASES)
def test_loads_exactly_when_skopeo_loads_it(run_cli, tmp_path: Path, layout: Path,  # type: ignore[no-untyped-def]
                                            transport: str, scope: str) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                                  "transports": {transport: {scope: [{"type": "reject"}]}}}))
    theirs = subprocess.run(["skopeo", "--policy", str(policy), "copy", "-q", f"oci:{layout}:t",
                             f"dir:{tmp_path}/sk"], capture_output=True, text=True, check=False)
    ours = run_cli("--policy", str(policy), "copy", "-q", f"oci:{layout}:t", f"dir:{tmp_path}/tc")
    assert (ours.exit_code == 0) == (theirs.returncode == 0), (ours.stderr, theirs.stderr)
    if theirs.returncode:
        assert "Error loading trust policy" in theirs.stderr
        assert ours.stderr.startswith("error[policy-invalid]: ")
        assert json.dumps(scope) in ours.stderr
