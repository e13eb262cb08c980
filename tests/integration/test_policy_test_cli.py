"""``trustcopy policy test FILE``: cases pass and fail as the verdicts say; the file format is strict.

Every malformed file is refused before any case runs, with exit 2 and a message naming
the file, the case and the key. Signed cases use ``dir:`` images signed by real gpg.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import example_image, write_dir
from registry_fixtures import RegistryServer, fast_sys, push_image

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
IDENTITY = "registry.example.com/app:1"


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """An accepted image (``ok``) and a rejected one (``bad``) under the ``policy`` fixture."""
    out = {"ok": tmp_path / "ok", "bad": tmp_path / "bad"}
    for path in out.values():
        write_dir(example_image(), str(path))
    return out


@pytest.fixture
def policy(tmp_path: Path, images: dict[str, Path]) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}],
                                "transports": {"dir": {str(images["ok"]): [{"type": "insecureAcceptAnything"}]}}}))
    return path


def _cases(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_all_cases_pass_exit_0(tmp_path: Path, images: dict[str, Path], policy: Path,
                               run_cli: Callable[..., Any]) -> None:
    cases = _cases(tmp_path, f"""
cases:
  - name: the release is accepted
    image: dir:{images['ok']}
    expect: accepted
    reason: ALLOWED
  - image: dir:{images['bad']}
    expect: rejected
    reason: SCOPE_REJECT
""")
    r = run_cli("policy", "test", str(cases), "--policy", str(policy))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        f"PASS  the release is accepted [dir:{images['ok']}]: accepted (ALLOWED)",
        f"PASS  dir:{images['bad']}: rejected (SCOPE_REJECT)",
        f"2 cases: 2 passed, 0 failed, 0 errors (policy {policy})",
    ]


def test_a_wrong_verdict_fails_with_the_trace_exit_1(tmp_path: Path, images: dict[str, Path], policy: Path,
                                                     run_cli: Callable[..., Any]) -> None:
    cases = _cases(tmp_path, f"""
cases:
  - {{name: wrongly expected, image: "dir:{images['bad']}", expect: accepted}}
  - {{name: right verdict wrong reason, image: "dir:{images['bad']}", expect: rejected, reason: NO_SIGNATURES}}
  - {{name: fine, image: "dir:{images['ok']}", expect: accepted}}
""")
    r = run_cli("--policy", str(policy), "policy", "test", str(cases))
    assert r.exit_code == 1
    out = r.stdout
    assert f"FAIL  wrongly expected [dir:{images['bad']}]: expected accepted, got rejected (SCOPE_REJECT)" in out
    assert "FAIL  right verdict wrong reason" in out
    assert "expected rejected (NO_SIGNATURES), got rejected (SCOPE_REJECT)" in out
    assert f"      REJECTED dir:{images['bad']}" in out  # the trace, indented under the failure
    assert "FAIL default[0]: reject" in out
    assert "PASS  fine" in out
    assert out.rstrip().endswith(f"3 cases: 1 passed, 2 failed, 0 errors (policy {policy})")


def test_an_unreadable_image_is_an_error_not_a_rejection(tmp_path: Path, policy: Path,
                                                         run_cli: Callable[..., Any]) -> None:
    cases = _cases(tmp_path, f"cases:\n  - {{image: 'dir:{tmp_path}/missing', expect: rejected}}\n")
    r = run_cli("--policy", str(policy), "policy", "test", str(cases))
    assert r.exit_code == 1
    assert f"ERROR dir:{tmp_path}/missing: expected rejected, but: error[image-not-found]" in r.stdout


def test_junit_output(tmp_path: Path, images: dict[str, Path], policy: Path, run_cli: Callable[..., Any]) -> None:
    cases = _cases(tmp_path, f"""
cases:
  - {{name: a, image: "dir:{images['ok']}", expect: accepted}}
  - {{name: b, image: "dir:{images['ok']}", expect: rejected}}
  - {{name: c, image: "dir:{tmp_path}/missing", expect: rejected}}
""")
    r = run_cli("--policy", str(policy), "policy", "test", "-o", "junit", str(cases))
    assert r.exit_code == 1
    root = ET.fromstring(r.stdout.encode())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == f"trustcopy policy test {cases}"
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    assert by_name["a"].find("failure") is None and by_name["a"].find("error") is None
    failure = by_name["b"].find("failure")
    assert failure is not None and failure.get("type") == "unexpected-verdict"
    assert "expected rejected, got accepted (ALLOWED)" in (failure.get("message") or "")
    assert "ACCEPTED" in (failure.text or "")
    error = by_name["c"].find("error")
    assert error is not None and error.get("type") == "image-not-found"


@pytest.mark.gpg
def test_signed_cases_and_manifest_lists(tmp_path: Path, example_home: GPGHome, run_cli: Callable[..., Any]) -> None:
    from test_evaluation_agrees import AMD64, _write_list

    one = tmp_path / "one-instance-signed"
    _write_list(one, example_home, per_instance={AMD64.digest}, list_level=False)
    policy = tmp_path / "signed.json"
    policy.write_text(json.dumps({"default": [{
        "type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEYS_EXAMPLE / "public-key.asc"),
        "signedIdentity": {"type": "exactReference", "dockerReference": IDENTITY}}]}))
    cases = _cases(tmp_path, f"""
cases:
  - {{name: amd64 instance is signed, image: "dir:{one}", expect: accepted}}
  - {{name: not every instance is signed, image: "dir:{one}", multi-arch: all, expect: rejected,
      reason: NO_SIGNATURES}}
""")
    r = run_cli("--policy", str(policy), "--override-arch", "amd64", "policy", "test", str(cases))
    assert r.exit_code == 0, r.stdout + r.stderr


@pytest.mark.registry
def test_registry_case_with_its_registries_d(tmp_path: Path, plain_registry: RegistryServer,
                                             run_cli: Callable[..., Any]) -> None:
    """A registry image, unsigned: signedBy rejects it (NO_SIGNATURES); the case's registries.d is accepted."""
    push_image(plain_registry.host, "team/app:1", example_image(), fast_sys())
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "default.yaml").write_text(f"default-docker:\n  lookaside: file://{tmp_path}/sigs\n")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        f"{plain_registry.host}/team": [{"type": "signedBy", "keyType": "GPGKeys",
                                         "keyPath": str(KEYS_EXAMPLE / "public-key.asc")}]}}}))
    cases = _cases(tmp_path, f"""
cases:
  - image: docker://{plain_registry.host}/team/app:1
    registries.d: {regd}
    expect: rejected
    reason: NO_SIGNATURES
  - image: docker://{plain_registry.host}/elsewhere/app:1
    expect: rejected
    reason: SCOPE_REJECT
""")
    r = run_cli("--policy", str(policy), "policy", "test", "--tls-verify=false", str(cases))
    assert r.exit_code == 1  # the second image does not exist: an error, not a rejection
    lines = r.stdout.splitlines()
    assert lines[0].startswith("PASS ")
    assert lines[1].startswith("ERROR") and "error[image-not-found]" in lines[1]


# --- the format is strict ----------------------------------------------------------------------

BAD_FILES = {
    "not-a-mapping": ("- image: dir:/x\n", "must be a mapping with a `cases:` list"),
    "unknown-top-key": ("cases: [{image: 'dir:/x', expect: accepted}]\npolicy: p.json\n",
                        "top level: unknown key 'policy'"),
    "no-cases": ("cases: []\n", "cases: must be a non-empty list of cases"),
    "case-not-mapping": ("cases: [dir:/x]\n", "cases[0]: must be a mapping"),
    "unknown-case-key": ("cases: [{image: 'dir:/x', expect: accepted, expected: rejected}]\n",
                         "cases[0]: unknown key 'expected'; did you mean \"expect\"?"),
    "typo-registries-d": ("cases: [{image: 'dir:/x', expect: accepted, registries_d: /tmp}]\n",
                          "unknown key 'registries_d'; did you mean \"registries.d\"?"),
    "missing-image": ("cases: [{expect: accepted}]\n", "cases[0]: `image` is required"),
    "missing-expect": ("cases: [{image: 'dir:/x'}]\n", "`expect` is required"),
    "expect-bool": ("cases: [{image: 'dir:/x', expect: yes}]\n", "`expect` must be a non-empty string, not a boolean"),
    "expect-unknown": ("cases: [{image: 'dir:/x', expect: denied}]\n", "`expect` must be accepted or rejected"),
    "image-number": ("cases: [{image: 5, expect: accepted}]\n", "`image` must be a non-empty string, not a number"),
    "image-bad": ("cases: [{image: 'nosuch:x', expect: accepted}]\n", "cases[0]: `image`:"),
    "reason-unknown": ("cases: [{name: n, image: 'dir:/x', expect: rejected, reason: NO_SIGNATURE}]\n",
                       "cases[0] ('n'): `reason`: unknown reason code 'NO_SIGNATURE'; did you mean \"NO_SIGNATURES\"?"),
    "reason-contradicts-accepted": ("cases: [{image: 'dir:/x', expect: accepted, reason: SCOPE_REJECT}]\n",
                                    "contradicts `expect: accepted`"),
    "reason-contradicts-rejected": ("cases: [{image: 'dir:/x', expect: rejected, reason: ALLOWED}]\n",
                                    "`reason` ALLOWED contradicts `expect: rejected`"),
    "multi-arch-bad": ("cases: [{image: 'dir:/x', expect: accepted, multi-arch: index-only}]\n",
                       "`multi-arch` must be system or all"),
    "registries-d-missing": ("cases: [{image: 'dir:/x', expect: accepted, registries.d: /nonexistent/regd}]\n",
                             "`registries.d`: /nonexistent/regd is not a directory"),
    "duplicate-name": ("cases: [{name: a, image: 'dir:/x', expect: accepted}, {name: a, image: 'dir:/y', "
                       "expect: accepted}]\n", "cases[1]: duplicate name 'a' (also cases[0])"),
    "duplicate-yaml-key": ("cases:\n  - image: dir:/x\n    image: dir:/y\n    expect: accepted\n",
                           "duplicate key 'image'"),
    "invalid-yaml": ("cases: [\n", "invalid YAML"),
    "two-documents": ("cases: []\n---\ncases: []\n", "invalid YAML"),
    "recursive-alias": ("cases: &a [*a]\n", "recursive YAML alias"),
    "alias-bomb": ("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                   "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                   "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\ncases: [*e]\n",
                   "expands to more than 100000 nodes"),
    "not-utf8": (b"cases: [{image: 'dir:/\xff', expect: accepted}]\n", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_malformed_case_files_are_refused_naming_file_and_key(case: str, tmp_path: Path, policy: Path,
                                                              run_cli: Callable[..., Any]) -> None:
    content, fragment = BAD_FILES[case]
    path = tmp_path / "cases.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = run_cli("--policy", str(policy), "policy", "test", str(path))
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.stdout == ""  # nothing ran
    assert r.stderr.startswith(f"error[policy-tests-invalid]: {path}: "), r.stderr
    assert fragment in r.stderr


def test_oversized_and_missing_files(tmp_path: Path, policy: Path, run_cli: Callable[..., Any]) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    r = run_cli("--policy", str(policy), "policy", "test", str(big))
    assert r.exit_code == 2 and "error[limit-exceeded]" in r.stderr
    r = run_cli("--policy", str(policy), "policy", "test", str(tmp_path / "none.yaml"))
    assert r.exit_code == 2 and "error[config-unreadable]" in r.stderr and "none.yaml" in r.stderr


def test_policy_and_flag_errors_exit_2(tmp_path: Path, images: dict[str, Path], run_cli: Callable[..., Any]) -> None:
    cases = _cases(tmp_path, f"cases: [{{image: 'dir:{images['ok']}', expect: accepted}}]\n")
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"default": []}')
    r = run_cli("--policy", str(malformed), "policy", "test", str(cases))
    assert r.exit_code == 2 and "error[policy-invalid]" in r.stderr
    r = run_cli("--insecure-policy", "policy", "test", str(cases))
    assert r.exit_code == 2 and "--insecure-policy makes every case accepted" in r.stderr
