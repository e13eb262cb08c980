"""Semantic-version constraints exactly as Masterminds/semver v3 checks them (``images-by-semver``).

skopeo sync keeps the tags of a repository that parse as versions (``semver.NewVersion``,
which coerces ``1``, ``v1.2`` and leading zeros) and satisfy a constraint
(``semver.NewConstraint(...).Check``). This module ports that grammar and those checks;
the vectors in tests/unit/sync/test_semver.py are Masterminds' own test tables and the
examples of its README.

The grammar, in short (README of Masterminds/semver v3):

- comparisons ``=`` (or none), ``!=``, ``>``, ``<``, ``>=`` (``=>``), ``<=`` (``=<``);
- AND: constraints separated by spaces or commas (``>= 1.2, < 3.0.0``); OR: ``||``;
- hyphen ranges ``1.2 - 1.4.5`` (spaces around the hyphen are required);
- wildcards ``x``, ``X``, ``*`` in any part (``1.2.x``, ``>= 2.x``, ``*``);
- tilde ``~1.2.3`` (patch range; ``~>`` too) and caret ``^1.2.3`` (major range; minor
  range below 1.0.0);
- pre-release versions (``1.2.3-beta.1``) match only a group of ANDs that names a
  pre-release itself (``>= 1.2.3-0``).

Invariants:
- The regular expressions are Masterminds' own, run by RE2 (Go's ``regexp`` is RE2):
  the same matches, and linear time on any input (a constraint is user input, a tag is
  the registry's).
- Parsing never accepts what Masterminds refuses; an error names the constraint.
- Numbers are unsigned 64-bit, as in Go: a larger part is not a version.
"""

from __future__ import annotations

import functools
from typing import Any

from trustcopy.errors import ConfigError
from trustcopy.lazy import dataclass

_MAX_UINT64 = (1 << 64) - 1
_NUM = frozenset("0123456789")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
#: Longest constraint accepted, in bytes (Masterminds v3.5 ``MaxConstraintLen``, what the newest skopeo links).
MAX_CONSTRAINT_LENGTH = 512
#: Most ``||`` groups in one constraint (Masterminds v3.5 ``MaxConstraintGroups``).
MAX_CONSTRAINT_GROUPS = 32
#: Longest version, in bytes, tag or constraint part (Masterminds v3.5 ``MaxVersionLen``).
MAX_VERSION_LENGTH = 256

# Masterminds/semver v3, constraints.go and version.go (verbatim).
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_LOOSE_VERSION = (r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
                  r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                  r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")


def compile_re2(pattern: str) -> Any:
    """Compile ``pattern`` with RE2 (Go's regexp syntax and semantics), without RE2's stderr log.

    Raises:
        re2.error: the pattern is not valid RE2 syntax.
    """
    import re2  # google-re2: imported only when a sync uses regexes or semver (start-up time)

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options=options)


@functools.cache
def _patterns() -> dict[str, Any]:
    """Masterminds' expressions, compiled on first use."""
    return {
        "constraint": compile_re2(rf"^\s*({_OPS})\s*({_CV})\s*$"),
        "range": compile_re2(rf"\s*({_CV})\s+-\s+({_CV})\s*"),
        "find": compile_re2(rf"({_OPS})\s*({_CV})"),
        "valid": compile_re2(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$"),
        "loose": compile_re2(rf"^{_LOOSE_VERSION}$"),
    }


def _uint64(text: str) -> int | None:
    """Go's strconv.ParseUint(text, 10, 64), or None where it fails."""
    if not text or not set(text) <= _NUM:
        return None
    value = int(text)
    return value if value <= _MAX_UINT64 else None


@dataclass(frozen=True)
class Version:
    """A parsed version: numbers, pre-release and build metadata (Masterminds ``Version``)."""

    major: int
    minor: int
    patch: int
    pre: str = ""
    metadata: str = ""
    original: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += f"-{self.pre}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text

    def compare(self, other: Version) -> int:
        """-1, 0 or 1, by semver precedence (metadata ignored; a pre-release sorts first)."""
        for mine, theirs in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if mine != theirs:
                return -1 if mine < theirs else 1
        if not self.pre and not other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_prerelease(self.pre, other.pre)


def _compare_prerelease(mine: str, theirs: str) -> int:
    a, b = mine.split("."), theirs.split(".")
    for i in range(max(len(a), len(b))):
        d = _compare_pre_part(a[i] if i < len(a) else "", b[i] if i < len(b) else "")
        if d:
            return d
    return 0


def _compare_pre_part(s: str, o: str) -> int:
    if s == o:
        return 0
    if not s:
        return -1
    if not o:
        return 1
    oi, si = _uint64(o), _uint64(s)
    if oi is None and si is None:
        return 1 if s > o else -1
    if oi is None:
        return -1
    if si is None:
        return 1
    return 1 if si > oi else -1


def _valid_prerelease(pre: str) -> bool:
    for part in pre.split("."):
        if not part:
            return False
        if set(part) <= _NUM:
            if len(part) > 1 and part[0] == "0":
                return False
        elif not set(part) <= _ALLOWED:
            return False
    return True


def _valid_metadata(meta: str) -> bool:
    return all(part and set(part) <= _ALLOWED for part in meta.split("."))


def parse_version(text: str) -> Version | None:
    """``semver.NewVersion`` (coercing): the version ``text`` names, or None when it is none.

    Accepts ``v1``, ``1.2``, ``01.2.3`` (leading zeros coerced), pre-releases and metadata.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_VERSION_LENGTH:
        return None
    m = _patterns()["loose"].search(text)
    if m is None:
        return None
    major = _uint64(m.group(1))
    minor = _uint64(m.group(2)[1:]) if m.group(2) else 0
    patch = _uint64(m.group(3)[1:]) if m.group(3) else 0
    pre, meta = m.group(5) or "", m.group(8) or ""
    if major is None or minor is None or patch is None:
        return None
    if pre and not _valid_prerelease(pre):
        return None
    if meta and not _valid_metadata(meta):
        return None
    return Version(major, minor, patch, pre, meta, text)


@dataclass(frozen=True)
class _Constraint:
    """One comparison: the operator, its version, and which parts were wildcards (or absent)."""

    op: str
    con: Version
    orig: str
    dirty: bool = False
    minor_dirty: bool = False
    patch_dirty: bool = False

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.pre and not include_pre:
            return False
        return _CHECKS[self.op](self, v)


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


def _constraint_error(text: str, constraint: str) -> ConfigError:
    return ConfigError(f"improper semver constraint {text!r} (in {constraint!r})", code="semver-constraint-invalid",
                       hint="see Masterminds/semver: e.g. \">= 1.2, < 2\", \"~1.2\", \"^1.2.3\", \"1.2.x\", "
                            "\"1.0 - 2.0\"; combine with \"||\"")


def _parse_one(text: str, constraint: str) -> _Constraint:
    if not text:  # Masterminds' special case: the empty constraint is ">= 0.0.0"
        return _Constraint("", Version(0, 0, 0), "", dirty=True)
    m = _patterns()["constraint"].search(text)
    if m is None:
        raise _constraint_error(text, constraint)
    op, orig = m.group(1) or "", m.group(2) or ""
    major, minor, patch, pre = m.group(3) or "", m.group(4) or "", m.group(5) or "", m.group(6) or ""
    minor_dirty = patch_dirty = dirty = False
    version_text = orig
    if _is_x(major) or not major:
        version_text, dirty = f"0.0.0{pre}", True
    elif _is_x(minor[1:]) or not minor:
        version_text, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
    elif _is_x(patch[1:]) or not patch:
        version_text, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
    con = parse_version(version_text)
    if con is None:
        raise ConfigError(f"semver constraint {constraint!r}: cannot parse the version in {text!r}",
                          code="semver-constraint-invalid")
    return _Constraint(op, con, orig, dirty, minor_dirty, patch_dirty)


def _rewrite_ranges(text: str) -> str:
    """``1.2 - 1.4.5`` → ``>= 1.2, <= 1.4.5 `` (Masterminds' rewriteRange, replacement for replacement)."""
    out = text
    for m in _patterns()["range"].finditer(text):
        out = out.replace(m.group(0), f">= {m.group(1)}, <= {m.group(11)} ", 1)
    return out


@dataclass(frozen=True)
class Constraints:
    """Groups of ANDed comparisons, ORed together (Masterminds ``Constraints``)."""

    text: str
    groups: tuple[tuple[_Constraint, ...], ...]
    contains_pre: tuple[bool, ...]

    def check(self, version: Version, *, include_prerelease: bool = False) -> bool:
        """Whether ``version`` satisfies some group (skopeo never sets ``include_prerelease``)."""
        for group, has_pre in zip(self.groups, self.contains_pre, strict=True):
            if all(c.check(version, include_prerelease or has_pre) for c in group):
                return True
        return False

    def check_tag(self, tag: str) -> bool:
        """Whether a tag is a version satisfying the constraint (a tag that is no version: False)."""
        version = parse_version(tag)
        return version is not None and self.check(version)


def parse_constraint(text: str) -> Constraints:
    """``semver.NewConstraint``: parse a constraint string.

    Raises:
        ConfigError: ``semver-constraint-invalid``, naming the part Masterminds refuses.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONSTRAINT_LENGTH:
        raise ConfigError(f"semver constraint longer than {MAX_CONSTRAINT_LENGTH} bytes",
                          code="semver-constraint-invalid")
    rewritten = _rewrite_ranges(text)
    ors = rewritten.split("||")
    if len(ors) > MAX_CONSTRAINT_GROUPS:
        raise ConfigError(f"semver constraint {text!r}: more than {MAX_CONSTRAINT_GROUPS} groups joined by \"||\"",
                          code="semver-constraint-invalid")
    groups: list[tuple[_Constraint, ...]] = []
    has_pre: list[bool] = []
    for part in ors:
        if _patterns()["valid"].search(part) is None:
            raise _constraint_error(part, text)
        found = [m.group(0) for m in _patterns()["find"].finditer(part)] or [part]
        parsed = tuple(_parse_one(s, text) for s in found)
        groups.append(parsed)
        has_pre.append(any(c.con.pre for c in parsed))
    return Constraints(text, tuple(groups), tuple(has_pre))


# -- the comparisons (Masterminds constraintNotEqual … constraintCaret) ------------------------


def _not_equal(c: _Constraint, v: Version) -> bool:
    if c.dirty:
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return _compare_prerelease(v.pre, c.con.pre) != 0
            return False
    return v.compare(c.con) != 0


def _greater_than(c: _Constraint, v: Version) -> bool:
    if not c.dirty:
        return v.compare(c.con) == 1
    if v.major > c.con.major:
        return True
    if v.major < c.con.major or c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) == 1


def _less_than(c: _Constraint, v: Version) -> bool:
    return v.compare(c.con) < 0


def _greater_equal(c: _Constraint, v: Version) -> bool:
    return v.compare(c.con) >= 0


def _less_equal(c: _Constraint, v: Version) -> bool:
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(c: _Constraint, v: Version) -> bool:
    if v.compare(c.con) < 0:
        return False
    if c.con.major == 0 and c.con.minor == 0 and c.con.patch == 0 and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != c.con.major:
        return False
    return not (v.minor != c.con.minor and not c.minor_dirty)


def _tilde_or_equal(c: _Constraint, v: Version) -> bool:
    if c.dirty:
        return _tilde(c, v)
    return v.compare(c.con) == 0


def _caret(c: _Constraint, v: Version) -> bool:
    if v.compare(c.con) < 0:
        return False
    if c.con.major > 0 or c.minor_dirty:
        return v.major == c.con.major
    if v.major > 0:
        return False
    if c.con.minor > 0 or c.patch_dirty:
        return v.minor == c.con.minor
    if v.minor > 0:
        return False
    return c.con.patch == v.patch


_CHECKS = {
    "": _tilde_or_equal, "=": _tilde_or_equal, "!=": _not_equal, ">": _greater_than, "<": _less_than,
    ">=": _greater_equal, "=>": _greater_equal, "<=": _less_equal, "=<": _less_equal,
    "~": _tilde, "~>": _tilde, "^": _caret,
}
