"""Under ``CI=1`` a skipped test is a failed test, unless this file's allow-list names it.

A skip that nobody reads is how a broken module hides: a guard such as ``importorskip``
turns an ImportError into a quiet "s", and CI stays green. So under ``CI=1`` every skip
(a ``skip``/``skipif``, an ``importorskip`` at module level, an ``xfail``) is reported
as a failure with its reason, except the few listed below, each with the reason the
skip is harmless there. Locally (no ``CI=1``) skips stay skips.

Loaded by ``tests/conftest.py`` (``pytest_plugins``); tested by
``tests/unit/core/test_ci_skips.py``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Generator
from typing import Any

import pytest

#: Test ids (fnmatch patterns) allowed to skip under CI=1 → why that is harmless. Keep it short.
ALLOWED_TEST_IDS: dict[str, str] = {
    # CI runs as root, and root reads a file with mode 000: the EACCES path cannot happen
    # there. The test runs (and must pass) for any other user.
    "tests/unit/policy/test_policy_parse.py::test_policy_without_read_permission_is_an_error":
        "root can read anything",
}

#: Markers whose tests may skip under CI=1 → why.
ALLOWED_MARKERS: dict[str, str] = {
    # No test uses it yet: the docker-daemon transport's tests come with their own issue,
    # and will run against podman's Docker-compatible socket (./run installs podman).
    "daemon": "no Docker engine on CI machines until the docker-daemon tests use podman's socket",
    # A container with IPv6 switched off has no ::1: nothing can listen there, and no package
    # installs it. Wherever ::1 exists (this machine) the tests run and must pass.
    "ipv6": "no IPv6 loopback on this machine (registries on [::1] cannot be started)",
}


def in_ci() -> bool:
    """Whether skips must fail (``CI=1``)."""
    return os.environ.get("CI") == "1"


def allowed_reason(nodeid: str, markers: set[str]) -> str | None:
    """Why ``nodeid`` (carrying ``markers``) may skip under CI=1, or None when it may not."""
    for pattern, why in ALLOWED_TEST_IDS.items():
        if fnmatch.fnmatchcase(nodeid, pattern) or fnmatch.fnmatchcase(nodeid.split("[", 1)[0], pattern):
            return why
    for marker in sorted(markers & ALLOWED_MARKERS.keys()):
        return ALLOWED_MARKERS[marker]
    return None


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail is not None:
        return f"expected failure (xfail): {wasxfail or 'no reason given'}"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, reason = longrepr
        return f"{str(reason).removeprefix('Skipped: ')} ({path}:{line})"
    return str(longrepr)


def _fail(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{what} skipped under CI=1: {_skip_reason(report)}\n"
        "CI must run every test: install what it needs (./run does), or add it to the commented "
        "allow-list in tests/ci_skips.py if the skip is harmless there"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    """Turn a test's skip into a failure under CI=1 unless it is allow-listed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and in_ci()):
        return
    if allowed_reason(item.nodeid, {m.name for m in item.iter_markers()}) is None:
        _fail(report, f"test {item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """Turn a module-level skip (``importorskip``, ``allow_module_level``) into a failure under CI=1."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if not (report.skipped and in_ci()):
        return
    if allowed_reason(collector.nodeid, {m.name for m in collector.iter_markers()}) is None:
        _fail(report, f"module {collector.nodeid}")
