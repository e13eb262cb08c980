"""Audit of issue 13 (session 27): `sync` YAML selectors against the newest skopeo, and `verify --digestfile`.

What this file adds to the existing verify/sync/policy-test suites:

- ``images-by-semver``: the newest skopeo links Masterminds/semver v3.5, which refuses a
  constraint longer than 512 bytes, one with more than 32 ``||`` groups, and a version
  longer than 256 bytes (``MaxConstraintLen``, ``MaxConstraintGroups``, ``MaxVersionLen``).
  trustcopy accepted up to 4096 bytes and any number of groups. The vectors below were
  checked against a Go program linking Masterminds v3.5.0 (skopeo's vendored copy).
- ``images-by-tag-regex``: Go's regexp is RE2's syntax except ``\\C`` (any byte), which
  google-re2 accepts and Go refuses; trustcopy now refuses it as skopeo does (vectors
  checked against Go's regexp.Compile).
- ``verify --digestfile``: one line per accepted image even when a local path holds a
  newline (a raw newline split the entry into a digest-less first line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_dir
from registry_fixtures import RegistryServer, fast_sys, push_image
from sync_output import outcomes

from trustcopy.errors import ConfigError
from trustcopy.sync.config import SelectorKind, check_pattern
from trustcopy.sync.semver import parse_constraint, parse_version

# --- images-by-semver: Masterminds v3.5 limits (what the newest skopeo links) -----------------

#: (constraint, Masterminds v3.5.0 NewConstraint accepts it)
SEMVER_LIMITS = [
    (">= 1.0.0" + " " * 504, True),             # 512 bytes
    (">= 1.0.0" + " " * 505, False),            # 513 bytes: ErrConstraintTooLong
    (" || ".join(["1.0.0"] * 32), True),        # 32 groups
    (" || ".join(["1.0.0"] * 33), False),       # 33 groups: ErrTooManyConstraintGroups
    ("1.2.3-" + "a" * 250, True),               # its version is 256 bytes
    ("1.2.3-" + "a" * 251, False),              # 257 bytes: ErrVersionTooLong, "constraint parser error"
    (">= 1.2.3-" + "a" * 252, False),
]


@pytest.mark.parametrize(("constraint", "accepted"), SEMVER_LIMITS,
                         ids=[f"{len(c)}-bytes-{c.count('||') + 1}-groups" for c, _ in SEMVER_LIMITS])
def test_semver_constraints_are_bounded_as_masterminds_3_5(constraint: str, accepted: bool) -> None:
    if accepted:
        assert parse_constraint(constraint).groups
        return
    with pytest.raises(ConfigError) as info:
        parse_constraint(constraint)
    assert info.value.code == "semver-constraint-invalid"


def test_versions_longer_than_256_bytes_are_no_versions() -> None:
    assert parse_version("1.2.3-" + "a" * 250) is not None
    assert parse_version("1.2.3-" + "a" * 251) is None
    # A 512-byte constraint of 2 groups still checks normally.
    c = parse_constraint(">= 2.0.0" + " " * 490 + " || 1.0.0")
    assert c.check_tag("v2.1") and c.check_tag("1.0.0") and not c.check_tag("1.5.0")


# --- images-by-tag-regex: Go's regexp refuses \C ----------------------------------------------

#: (pattern, Go's regexp.Compile accepts it)
GO_REGEX = [
    (r"a\C", False),
    (r"\C*", False),
    (r"(?i)\C", False),
    (r"\Qa\E\C", False),
    (r"\\\C", False),      # an escaped backslash, then \C
    (r"\\C", True),        # an escaped backslash, then C
    (r"\Q\C\E", True),     # literal text
    (r"\Q\C", True),       # \Q runs to the end
    (r"^v1\.\d+$", True),
]


@pytest.mark.parametrize(("pattern", "accepted"), GO_REGEX, ids=[p for p, _ in GO_REGEX])
def test_tag_regex_syntax_is_gos(pattern: str, accepted: bool) -> None:
    error = check_pattern(SelectorKind.TAG_REGEX, pattern)
    if accepted:
        assert error is None
    else:
        assert error is not None and error.code == "sync-regex-invalid"
        assert repr(pattern) in error.message and "\\C" in error.message


@pytest.mark.registry
def test_bad_selectors_are_reported_each_for_its_entry_and_the_rest_goes_on(
        run_cli: Any, tmp_path: Path, plain_registry: RegistryServer) -> None:
    push_image(plain_registry.host, "audit13/app:v1.2.0", example_image(), fast_sys())
    push_image(plain_registry.host, "audit13/app2:v1.3.0", example_image(), fast_sys())
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    long_constraint = ">= 1.0.0" + " " * 505  # 513 bytes
    yaml = tmp_path / "sync.yaml"
    yaml.write_text(f"""\
{plain_registry.host}:
  tls-verify: false
  images-by-tag-regex:
    audit13/app: 'v1\\C'
    audit13/app2: '^v1'
  images-by-semver:
    audit13/app: "{long_constraint}"
    audit13/app2: ">= 1.0"
""")
    dest = tmp_path / "out"
    r = run_cli("--policy", str(policy), "sync", "--src", "yaml", "--dest", "dir", "--dry-run", "--keep-going",
                str(yaml), str(dest))
    got = outcomes(r.stdout)
    assert r.exit_code == 1, r.stdout + r.stderr
    failed = "\n".join(got["FAILED"])
    assert len(got["FAILED"]) == 2, failed
    assert "audit13/app (images-by-tag-regex): error[sync-regex-invalid]" in failed
    assert "audit13/app (images-by-semver): error[semver-constraint-invalid]" in failed and "512 bytes" in failed
    assert [line.split(" -> ")[0] for line in got["WOULD COPY"]] == [
        f"docker://{plain_registry.host}/audit13/app2:v1.3.0"]
    assert not dest.exists()


# --- verify --digestfile: one line per accepted image ------------------------------------------


def test_digestfile_keeps_one_line_per_image_when_a_path_holds_a_newline(
        run_cli: Any, tmp_path: Path) -> None:
    odd = tmp_path / "x\ny"
    plain = tmp_path / "plain"
    write_dir(example_image(), str(odd))
    write_dir(example_image(), str(plain))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    digestfile = tmp_path / "verified.txt"
    r = run_cli("--policy", str(policy), "verify", "--digestfile", str(digestfile), "-o", "json",
                f"dir:{odd}", f"dir:{plain}")
    assert r.exit_code == 0, r.stderr
    lines = digestfile.read_text().splitlines()
    report = json.loads(r.stdout)
    digest = report["images"][0]["digest"]
    assert lines == [f"dir:{tmp_path}/x\\x0ay@{digest}", f"dir:{plain}@{digest}"]
    assert [i["verifiedReference"] for i in report["images"]] == lines
