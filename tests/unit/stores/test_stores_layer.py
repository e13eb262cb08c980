"""The stores floor sits below transports and above sysregistries; the contract bites if either is crossed.

Phase 2 calls stores/ from the docker transport, never the other way: a store that
imported the transport would drag httpx clients and sessions into configuration code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.parametrize(("module", "upward", "edge"), [
    ("stores/lookaside.py", "from trustcopy.transports.docker import reference", "trustcopy.stores.lookaside -> "
                                                                                 "trustcopy.transports"),
    ("sysregistries/model.py", "from trustcopy.stores import where",
     "trustcopy.sysregistries.model -> trustcopy.stores.where"),
], ids=["stores-imports-transports", "sysregistries-imports-stores"])
def test_upward_import_from_the_new_floors_breaks_the_contract(tmp_path: Path, module: str, upward: str,
                                                                edge: str) -> None:
    shutil.copytree(ROOT / "trustcopy", tmp_path / "trustcopy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "trustcopy" / module
    target.write_text(target.read_text() + f"\n\ndef _upward() -> None:\n    {upward}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode != 0
    assert edge in r.stdout
