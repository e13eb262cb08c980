"""Shared test configuration.

Markers name the real tools a test needs (``registry``, ``gpg``, ``skopeo``, ``daemon``).
A missing tool skips the test locally, but under ``CI=1`` it fails: CI must never pass
by silently skipping the interop and integration tests. Beyond tools, ``ci_skips`` makes
*any* skip fail under ``CI=1`` unless its commented allow-list names the test.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

pytest_plugins = ["ci_skips", "registry_fixtures", "gpghelpers", "pytester"]

# Property tests (hypothesis): the same examples on every run by default, so that CI is
# deterministic and a failure reproduces; HYPOTHESIS_PROFILE=explore draws new ones (and
# keeps failures in .hypothesis/ to replay them).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("default", derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The ``daemon`` tests run against podman's Docker-compatible API (tests/integration/daemon_fixtures.py).
_TOOLS = {"registry": "docker-registry", "gpg": "gpg", "skopeo": "skopeo", "daemon": "podman", "goracle": "go"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (locally) or fail (CI=1) a test whose real tool is missing."""
    in_ci = os.environ.get("CI") == "1"
    for marker, binary in _TOOLS.items():
        if item.get_closest_marker(marker) is not None and shutil.which(binary) is None:
            if in_ci:
                pytest.fail(f"{binary} is required under CI=1 but not installed")
            pytest.skip(f"{binary} not installed")


@dataclass
class CliResult:
    """Outcome of an in-process CLI run."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsysbinary: pytest.CaptureFixture[bytes]) -> Callable[..., CliResult]:
    """Run ``trustcopy ARGS`` in-process; returns exit code and decoded output."""
    from trustcopy.cli.main import main

    def _run(*args: str) -> CliResult:
        capsysbinary.readouterr()
        code = main(list(args))
        out, err = capsysbinary.readouterr()
        return CliResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    return _run


@pytest.fixture
def insecure_policy(tmp_path: Path) -> Path:
    """A policy file accepting anything (for tests about copying, not about policy)."""
    p = tmp_path / "insecure-policy.json"
    p.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return p


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """``tmp_path`` holding a cosign key pair made by ``generate-sigstore-key``: key.private,
    key.pub, and its passphrase in ``pass``."""
    from trustcopy.cli.main import main

    (tmp_path / "pass").write_text("pw\n")
    assert main(["generate-sigstore-key", "--output-prefix", str(tmp_path / "key"), "--passphrase-file",
                 str(tmp_path / "pass")]) == 0
    return tmp_path


@pytest.fixture
def fake_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-fake`` (get/store/erase/list; tests/fixtures/credhelper) on PATH;
    returns the JSON file it keeps its credentials in."""
    state = tmp_path / "helper-state.json"
    monkeypatch.setenv("FAKE_HELPER_STATE", str(state))
    monkeypatch.setenv("PATH", f"{ROOT / 'tests' / 'fixtures' / 'credhelper'}:{os.environ['PATH']}")
    return state
