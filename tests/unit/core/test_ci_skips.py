"""tests/ci_skips.py: under CI=1 every skip fails unless allow-listed; locally skips stay skips.

Each case runs a small suite in a fresh directory (pytester) with only the ci_skips
plugin loaded, so what is checked is the hook itself, not this project's tests.
"""

from __future__ import annotations

import pytest
from ci_skips import ALLOWED_MARKERS, ALLOWED_TEST_IDS, allowed_reason

SUITE = {
    "test_plain_skip": """
import pytest

def test_skips():
    pytest.skip("tool missing")

def test_passes():
    pass
""",
    "test_skipif": """
import pytest

@pytest.mark.skipif(True, reason="module not landed")
def test_guarded():
    pass
""",
    "test_module_importorskip": """
import pytest
pytest.importorskip("no_such_module_for_ci_skips")

def test_never_collected():
    pass
""",
    "test_xfail": """
import pytest

@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert False
""",
    "test_allowed_marker": """
import pytest

@pytest.mark.daemon
def test_needs_engine():
    pytest.skip("no Docker engine on this machine")
""",
}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A directory holding SUITE and a conftest loading only the plugin under test."""
    pytester.makeconftest('pytest_plugins = ["ci_skips"]\n')
    pytester.makeini("[pytest]\nmarkers =\n    daemon: needs a Docker engine\n")
    pytester.makepyfile(**SUITE)
    return pytester


def test_locally_skips_stay_skips(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == 0


def test_under_ci_every_skip_fails_except_the_allow_listed(suite: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    result = suite.runpytest("-p", "no:cacheprovider", "-rA", "--continue-on-collection-errors")
    # The plain skip and the xfail fail; skipif (decided at setup) and the module-level
    # importorskip (at collection, which alone stops a normal run) are errors; the
    # daemon-marked skip is on the allow-list.
    result.assert_outcomes(passed=1, failed=2, skipped=1, errors=2)
    assert result.ret != 0
    text = result.stdout.str()
    assert "skipped under CI=1: tool missing" in text
    assert "skipped under CI=1: module not landed" in text
    assert "expected failure (xfail): known bug" in text
    assert "module test_module_importorskip.py skipped under CI=1" in text
    assert "no_such_module_for_ci_skips" in text


def test_allow_list_entries_each_say_why() -> None:
    assert len(ALLOWED_TEST_IDS) + len(ALLOWED_MARKERS) <= 5, "the allow-list must stay short"
    for why in [*ALLOWED_TEST_IDS.values(), *ALLOWED_MARKERS.values()]:
        assert len(why) > 10


def test_allow_list_matching() -> None:
    listed = next(iter(ALLOWED_TEST_IDS))
    assert allowed_reason(listed, set()) == ALLOWED_TEST_IDS[listed]
    assert allowed_reason(listed + "[param]", set()) == ALLOWED_TEST_IDS[listed]
    assert allowed_reason(listed + "_and_more", set()) is None
    assert allowed_reason("tests/unit/x.py::test_y", {"daemon"}) == ALLOWED_MARKERS["daemon"]
    assert allowed_reason("tests/unit/x.py::test_y", {"gpg", "registry"}) is None
