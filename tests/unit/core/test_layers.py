"""The layer contract (pyproject.toml ``[tool.importlinter]``) holds, and it can fail.

The contract fixes the order of the floors (cli → copy → policy → image → transports →
signature → manifest → types → reference … → errors), counting function-local imports too.
The second test plants an upward import in a copy of the package, to prove the check bites.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_layer_contract_is_kept() -> None:
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "1 kept, 0 broken" in r.stdout


def test_an_upward_function_local_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "trustcopy", tmp_path / "trustcopy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "trustcopy" / "manifest" / "model.py"
    upward = "\n\ndef _upward() -> None:\n    from trustcopy.transports import base  # noqa\n"
    model.write_text(model.read_text() + upward)
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "trustcopy.manifest.model -> trustcopy.transports.base" in r.stdout
