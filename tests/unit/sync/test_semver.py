"""images-by-semver: Masterminds/semver v3's constraint grammar, checked with its own test tables.

The tables (semver_vectors.py) are Masterminds' constraints_test.go and version_test.go
data; the README examples below are the ones skopeo-sync users copy. A constraint is the
user's, a tag the registry's: both are parsed in linear time (RE2), so a hostile tag or
a pathological constraint costs microseconds.
"""

from __future__ import annotations

import time

import pytest
from semver_vectors import (
    COMPARE,
    CONSTRAINT_CHECK_SINGLE,
    CONSTRAINTS_CHECK,
    CONSTRAINTS_CHECK_INCLUDE_PRERELEASE,
    NEW_CONSTRAINT,
    NEW_VERSION_LOOSE,
    REWRITE_RANGE,
)

from trustcopy.errors import ConfigError
from trustcopy.sync.semver import _parse_one, _rewrite_ranges, parse_constraint, parse_version


@pytest.mark.parametrize(("version", "error"), NEW_VERSION_LOOSE, ids=[repr(v) for v, _ in NEW_VERSION_LOOSE])
def test_new_version_loose(version: str, error: bool) -> None:
    assert (parse_version(version) is None) == error


@pytest.mark.parametrize(("a", "b", "expected"), COMPARE, ids=[f"{a} vs {b}" for a, b, _ in COMPARE])
def test_compare(a: str, b: str, expected: int) -> None:
    va, vb = parse_version(a), parse_version(b)
    assert va is not None and vb is not None
    assert va.compare(vb) == expected
    assert vb.compare(va) == -expected


@pytest.mark.parametrize(("constraint", "version", "ok"), CONSTRAINT_CHECK_SINGLE,
                         ids=[f"{c!r} {v}" for c, v, _ in CONSTRAINT_CHECK_SINGLE])
def test_single_constraint_check(constraint: str, version: str, ok: bool) -> None:
    """Masterminds' TestConstraintCheck: one comparison, pre-releases allowed iff it names one."""
    c = _parse_one(constraint, constraint)
    v = parse_version(version)
    assert v is not None
    assert c.check(v, bool(c.con.pre)) is ok


@pytest.mark.parametrize(("constraint", "ors", "count", "error"), NEW_CONSTRAINT,
                         ids=[repr(c) for c, *_ in NEW_CONSTRAINT])
def test_new_constraint(constraint: str, ors: int, count: int, error: bool) -> None:
    if error:
        with pytest.raises(ConfigError) as info:
            parse_constraint(constraint)
        assert info.value.code == "semver-constraint-invalid"
        return
    parsed = parse_constraint(constraint)
    assert len(parsed.groups) == ors
    assert len(parsed.groups[0]) == count


@pytest.mark.parametrize(("constraint", "version", "ok"), CONSTRAINTS_CHECK,
                         ids=[f"{c!r} {v}" for c, v, _ in CONSTRAINTS_CHECK])
def test_constraints_check(constraint: str, version: str, ok: bool) -> None:
    v = parse_version(version)
    assert v is not None
    assert parse_constraint(constraint).check(v) is ok


@pytest.mark.parametrize(("constraint", "version", "ok"), CONSTRAINTS_CHECK_INCLUDE_PRERELEASE,
                         ids=[f"{c!r} {v}" for c, v, _ in CONSTRAINTS_CHECK_INCLUDE_PRERELEASE])
def test_constraints_check_include_prerelease(constraint: str, version: str, ok: bool) -> None:
    v = parse_version(version)
    assert v is not None
    assert parse_constraint(constraint).check(v, include_prerelease=True) is ok


@pytest.mark.parametrize(("given", "rewritten"), REWRITE_RANGE, ids=[g for g, _ in REWRITE_RANGE])
def test_rewrite_range(given: str, rewritten: str) -> None:
    assert _rewrite_ranges(given) == rewritten


# The README's equivalences ("X is equivalent to Y"): both sides agree on every probe.
README_EQUIVALENT = [
    ("1.2 - 1.4.5", ">= 1.2 <= 1.4.5"),
    ("2.3.4 - 4.5", ">= 2.3.4 <= 4.5"),
    ("1.2.x", ">= 1.2.0, < 1.3.0"),
    (">= 1.2.x", ">= 1.2.0"),
    ("<= 2.x", "< 3"),
    ("*", ">= 0.0.0"),
    ("~1.2.3", ">= 1.2.3, < 1.3.0"),
    ("~1", ">= 1, < 2"),
    ("~2.3", ">= 2.3, < 2.4"),
    ("~1.2.x", ">= 1.2.0, < 1.3.0"),
    ("~1.x", ">= 1, < 2"),
    ("^1.2.3", ">= 1.2.3, < 2.0.0"),
    ("^1.2.x", ">= 1.2.0, < 2.0.0"),
    ("^2.3", ">= 2.3, < 3"),
    ("^2.x", ">= 2.0.0, < 3"),
    ("^0.2.3", ">=0.2.3 <0.3.0"),
    ("^0.2", ">=0.2.0 <0.3.0"),
    ("^0.0.3", ">=0.0.3 <0.0.4"),
    ("^0.0", ">=0.0.0 <0.1.0"),
    ("^0", ">=0.0.0 <1.0.0"),
]
PROBES = [f"{a}.{b}.{c}" for a in range(5) for b in range(6) for c in range(7)]


@pytest.mark.parametrize(("short", "long"), README_EQUIVALENT, ids=[s for s, _ in README_EQUIVALENT])
def test_readme_equivalences(short: str, long: str) -> None:
    a, b = parse_constraint(short), parse_constraint(long)
    for probe in PROBES:
        v = parse_version(probe)
        assert v is not None
        assert a.check(v) == b.check(v), probe


def test_readme_examples() -> None:
    assert parse_constraint(">= 1.2.3").check_tag("1.3")
    c = parse_constraint(">= 1.2 < 3.0.0 || >= 4.2.3")
    assert [t for t in ("1.1", "1.2", "2.9.9", "3.0.0", "4.2.2", "4.2.3", "9") if c.check_tag(t)] == \
        ["1.2", "2.9.9", "4.2.3", "9"]
    # Pre-releases only match a range that names one.
    assert not parse_constraint(">=1.2.3").check_tag("1.2.4-beta")
    assert parse_constraint(">=1.2.3-0").check_tag("1.2.4-beta")
    # ASCII order: >=1.2.3-BETA admits 1.2.3-alpha.
    assert parse_constraint(">=1.2.3-BETA").check_tag("1.2.3-alpha")
    # "1.2-1.4.5" without spaces is 1.2.0 with pre-release 1.4.5, not a range.
    assert parse_constraint("1.2-1.4.5").check_tag("1.2.0-1.4.5")
    assert not parse_constraint("1.2-1.4.5").check_tag("1.3.0")


def test_tags_that_are_not_versions_never_match() -> None:
    c = parse_constraint("*")
    for tag in ("latest", "1.2.3_4", "stable-1.2", "1.2.3.4", "v", "", "1.2.3-", "1." + "9" * 30):
        assert not c.check_tag(tag), tag
    assert c.check_tag("v1") and c.check_tag("01.02.03")


@pytest.mark.parametrize("bad", ["foo", ">= bar", "1.2.3.4", "~> ", "", "   ", ">=1.2 |  <3", "1.2.3 -", "=<>1"])
def test_bad_constraints_name_the_constraint(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_constraint(bad)
    assert info.value.code == "semver-constraint-invalid"
    assert repr(bad) in info.value.message


def test_hostile_input_is_linear() -> None:
    """A constraint that backtracking engines take exponential time over, and a long tag."""
    start = time.monotonic()
    with pytest.raises(ConfigError):
        parse_constraint(">1  " * 127 + "!")  # 509 bytes: under Masterminds v3.5's 512-byte cap
    assert parse_version("1" + "-a" * 127) is not None  # 255 bytes: under its 256-byte version cap
    assert time.monotonic() - start < 2.0
