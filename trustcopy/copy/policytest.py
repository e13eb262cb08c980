"""``policy test``: a YAML file of cases run against a policy, so a policy change is tested like code.

The file (docs/commands/policy.md, "policy test")::

    cases:
      - name: the signed release is accepted      # optional; defaults to the image
        image: dir:images/release                  # required: transport:reference
        expect: accepted                           # required: accepted | rejected
        reason: ALLOWED                            # optional: the verdict's reason code
        registries.d: ci/registries.d              # optional: a registries.d directory for this case
        multi-arch: all                            # optional: system (default) | all, as copy --multi-arch

This is trustcopy's own format, so it is strict: an unknown key, a wrong type, an
unknown reason code or ``expect`` value, a malformed image name, a duplicate ``name``, a
missing ``registries.d`` directory are all errors naming the file and the case (and
the key), found before any case runs. The YAML is read with the same bounded loader as
registries.d (size cap, safe loader, no duplicate keys, alias expansion bounded).
Relative paths (in image names and ``registries.d``) are relative to the current
directory, as on the command line.

Each case is judged by :func:`trustcopy.copy.evaluate.evaluate_image`, the one
evaluation step of ``copy`` and ``verify``. A case *passes* when the verdict is the
expected one (and, when given, its reason code is ``reason``: the top-level ``reason`` of
the verdict JSON). A case whose image cannot be evaluated is an *error*, never a pass,
even when it expected a rejection: "could not read it" is not "the policy refused it".
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from typing import Any

from trustcopy.copy.evaluate import Evaluation, evaluate_image
from trustcopy.copy.junit import JUnitCase, Outcome, junit_xml
from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.copy.trace import evaluation_trace, trace_text
from trustcopy.copy.verify import evaluation_outcome
from trustcopy.errors import ConfigError, TrustcopyError
from trustcopy.lazy import dataclass
from trustcopy.limits import MiB
from trustcopy.reasons import Reason
from trustcopy.types import SystemContext

#: A cases file larger than this is refused before it is parsed.
MAX_CASES_FILE = 4 * MiB
_CODE = "policy-tests-invalid"
CASE_KEYS = ("name", "image", "expect", "reason", "registries.d", "multi-arch")
TOP_KEYS = ("cases",)
EXPECT_VALUES = ("accepted", "rejected")
MULTI_ARCH_VALUES = ("system", "all")


@dataclass(frozen=True)
class PolicyCase:
    """One case of a cases file (``index`` is its 0-based position under ``cases``)."""

    index: int
    name: str
    image: str
    expect_allowed: bool
    reason: Reason | None = None
    registries_d: str | None = None
    selection: ImageListSelection = ImageListSelection.SYSTEM

    @property
    def expected(self) -> str:
        """``accepted`` or ``rejected``, plus the expected reason code when given."""
        text = "accepted" if self.expect_allowed else "rejected"
        return f"{text} ({self.reason})" if self.reason else text


@dataclass(frozen=True)
class PolicyTestSuite:
    """The cases of one file, in file order."""

    file: str
    cases: tuple[PolicyCase, ...]


def load_policy_tests(path: str) -> PolicyTestSuite:
    """Read and validate a cases file; nothing runs until all of it is valid.

    Raises:
        ConfigError: ``config-unreadable`` (cannot read it) or ``policy-tests-invalid``
            (anything wrong in it), naming the file, the case and the key.
        LimitExceededError: the file is larger than MAX_CASES_FILE.
    """
    from trustcopy.limits import read_file_at_most
    from trustcopy.stores.registries_d import load_yaml

    try:
        data = read_file_at_most(path, MAX_CASES_FILE, path, allow_fifo=True)
    except OSError as exc:
        raise ConfigError(f"cannot read policy test cases {path}: {exc.strerror}", code="config-unreadable",
                          context={"file": path}) from exc
    try:
        doc = load_yaml(path, data)
    except ConfigError as exc:  # the loader speaks of registries.d; these are our cases
        raise ConfigError(exc.message, code=_CODE, context=exc.context) from exc
    return PolicyTestSuite(path, _parse_document(path, doc))


def _invalid(file: str, where: str, message: str, **context: Any) -> ConfigError:
    return ConfigError(f"{file}: {where}: {message}" if where else f"{file}: {message}", code=_CODE,
                       context={"file": file, **context})


def _unknown_key(file: str, where: str, key: Any, known: tuple[str, ...]) -> ConfigError:
    import difflib  # here and below: only a mistyped file needs it (start-up, issue 14)

    near = difflib.get_close_matches(str(key), known, n=1)
    hint = f'; did you mean "{near[0]}"?' if near else f" (known keys: {', '.join(known)})"
    return _invalid(file, where, f"unknown key {str(key)!r}{hint}", key=str(key))


def _parse_document(file: str, doc: Any) -> tuple[PolicyCase, ...]:
    if not isinstance(doc, Mapping):
        raise _invalid(file, "", "must be a mapping with a `cases:` list")
    for key in doc:
        if key not in TOP_KEYS:
            raise _unknown_key(file, "top level", key, TOP_KEYS)
    raw_cases = doc.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise _invalid(file, "cases", "must be a non-empty list of cases")
    cases = [_parse_case(file, i, raw) for i, raw in enumerate(raw_cases)]
    seen: dict[str, int] = {}
    for case, raw in zip(cases, raw_cases, strict=True):
        if "name" not in raw:
            continue
        if case.name in seen:
            first = seen[case.name]
            raise _invalid(file, f"cases[{case.index}]", f"duplicate name {case.name!r} (also cases[{first}])",
                           key="name")
        seen[case.name] = case.index
    return tuple(cases)


def _parse_case(file: str, index: int, raw: Any) -> PolicyCase:
    from trustcopy.transports.alltransports import parse_image_name

    where = f"cases[{index}]"
    if not isinstance(raw, Mapping):
        raise _invalid(file, where, "must be a mapping (image, expect, …)")
    if isinstance(raw.get("name"), str):
        where += f" ({raw['name']!r})"
    for key in raw:
        if key not in CASE_KEYS:
            raise _unknown_key(file, where, key, CASE_KEYS)

    def text(key: str, *, required: bool = False) -> str | None:
        value = raw.get(key)
        if value is None:
            if required:
                raise _invalid(file, where, f"`{key}` is required", key=key)
            return None
        if not isinstance(value, str) or not value:
            raise _invalid(file, where, f"`{key}` must be a non-empty string, not {_kind(value)}", key=key)
        return value

    image = text("image", required=True)
    assert image is not None
    try:
        parse_image_name(image)
    except TrustcopyError as exc:
        raise _invalid(file, where, f"`image`: {exc.message}", key="image") from exc
    expect = text("expect", required=True)
    if expect not in EXPECT_VALUES:
        raise _invalid(file, where, f"`expect` must be accepted or rejected, not {expect!r}", key="expect")
    reason = None
    if (code := text("reason")) is not None:
        try:
            reason = Reason(code)
        except ValueError:
            import difflib

            near = difflib.get_close_matches(code.upper(), [r.value for r in Reason], n=1)
            hint = f'; did you mean "{near[0]}"?' if near else " (docs/policy.md lists the codes)"
            raise _invalid(file, where, f"`reason`: unknown reason code {code!r}{hint}", key="reason") from None
        if expect == "accepted" and reason is not Reason.ALLOWED:
            raise _invalid(file, where, f"`reason` {code} contradicts `expect: accepted` (an accepted verdict's "
                           "reason is ALLOWED)", key="reason")
        if expect == "rejected" and reason is Reason.ALLOWED:
            raise _invalid(file, where, "`reason` ALLOWED contradicts `expect: rejected`", key="reason")
    registries_d = text("registries.d")
    if registries_d is not None and not os.path.isdir(registries_d):
        raise _invalid(file, where, f"`registries.d`: {registries_d} is not a directory "
                       f"(relative paths are relative to the current directory, {os.getcwd()})", key="registries.d")
    multi_arch = text("multi-arch") or "system"
    if multi_arch not in MULTI_ARCH_VALUES:
        raise _invalid(file, where, f"`multi-arch` must be system or all, not {multi_arch!r}", key="multi-arch")
    return PolicyCase(index=index, name=text("name") or image, image=image, expect_allowed=expect == "accepted",
                      reason=reason, registries_d=registries_d, selection=ImageListSelection(multi_arch))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if value == "":
        return "an empty string"
    return type(value).__name__


class CaseStatus(StrEnum):
    """The outcome of one case."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class CaseResult:
    """One case and what happened: the evaluation (or the error) and, when failed, why."""

    case: PolicyCase
    status: CaseStatus
    evaluation: Evaluation | None = None
    error: TrustcopyError | None = None
    seconds: float = 0.0

    @property
    def got(self) -> str:
        """What the policy said: ``accepted (ALLOWED)``, ``rejected (NO_SIGNATURES)``, or the error."""
        if self.evaluation is None:
            assert self.error is not None
            return f"error[{self.error.code}]"
        reason, _ = evaluation_outcome(self.evaluation)
        return f"{'accepted' if self.evaluation.allowed else 'rejected'} ({reason})"

    def line(self) -> str:
        """The text after the status word in the one line per case."""
        head = f"{self.case.name}" if self.case.name == self.case.image else f"{self.case.name} [{self.case.image}]"
        if self.status is CaseStatus.ERROR:
            assert self.error is not None
            return f"{head}: expected {self.case.expected}, but: error[{self.error.code}]: {self.error.message}"
        if self.status is CaseStatus.FAILED:
            return f"{head}: expected {self.case.expected}, got {self.got}"
        return f"{head}: {self.got}"

    def trace(self) -> str:
        """The full trace of the evaluation (an error: its diagnostics)."""
        if self.evaluation is not None:
            return trace_text(evaluation_trace(self.evaluation))
        assert self.error is not None
        return self.error.diagnostics() + "\n"

    def junit_case(self, classname: str) -> JUnitCase:
        """This case as a JUnit test case."""
        if self.status is CaseStatus.PASSED:
            return JUnitCase(self.case.name, classname, Outcome.PASSED, self.seconds, system_out=self.trace())
        outcome = Outcome.FAILURE if self.status is CaseStatus.FAILED else Outcome.ERROR
        kind = self.error.code if self.error is not None else "unexpected-verdict"
        return JUnitCase(self.case.name, classname, outcome, self.seconds, message=self.line(), type=kind,
                         text=self.trace())


@dataclass(frozen=True)
class PolicyTestReport:
    """The results of one cases file against one policy."""

    suite: PolicyTestSuite
    policy: str
    results: tuple[CaseResult, ...]

    def count(self, status: CaseStatus) -> int:
        """How many cases ended with ``status``."""
        return sum(1 for r in self.results if r.status is status)

    @property
    def exit_status(self) -> int:
        """0 only if every case passed; 1 otherwise."""
        return 0 if all(r.status is CaseStatus.PASSED for r in self.results) else 1

    def summary(self) -> str:
        """``4 cases: 3 passed, 1 failed, 0 errors (policy FILE)``."""
        n = len(self.results)
        return (f"{n} case{'s' if n != 1 else ''}: {self.count(CaseStatus.PASSED)} passed, "
                f"{self.count(CaseStatus.FAILED)} failed, {self.count(CaseStatus.ERROR)} error"
                f"{'s' if self.count(CaseStatus.ERROR) != 1 else ''} (policy {self.policy})")

    def to_junit(self) -> bytes:
        """JUnit XML: one test case per case, the cases file as the class name."""
        cases = [r.junit_case(self.suite.file) for r in self.results]
        return junit_xml(f"trustcopy policy test {self.suite.file}", cases, properties={"policy": self.policy})


def run_policy_tests(suite: PolicyTestSuite, policy_path: str, *, require_signed: bool = False,
                     source_ctx: SystemContext | None = None) -> PolicyTestReport:
    """Judge every case with the policy; a case's error never stops the others.

    Args:
        suite: the loaded cases.
        policy_path: the policy under test.
        require_signed: as the global ``--require-signed``.
        source_ctx: registry settings; a case's ``registries.d`` replaces its ``registries_d``.

    Raises:
        PolicyError: the policy cannot be loaded (no case can run).
    """
    from trustcopy.policy import PolicyContext, load_policy

    policy = load_policy(policy_path)
    base = source_ctx or SystemContext()
    results = []
    with PolicyContext(policy, require_signed=require_signed) as pc:
        for case in suite.cases:
            ctx = replace(base, registries_d=case.registries_d) if case.registries_d else base
            results.append(_run_case(pc, case, CopyOptions(image_list_selection=case.selection, source_ctx=ctx)))
    return PolicyTestReport(suite, policy_path, tuple(results))


def _run_case(pc: Any, case: PolicyCase, options: CopyOptions) -> CaseResult:
    from trustcopy.transports.alltransports import parse_image_name

    t0 = time.monotonic()
    try:
        evaluation = evaluate_image(pc, parse_image_name(case.image), options)
    except TrustcopyError as exc:
        return CaseResult(case, CaseStatus.ERROR, error=exc, seconds=time.monotonic() - t0)
    seconds = time.monotonic() - t0
    reason, _ = evaluation_outcome(evaluation)
    ok = evaluation.allowed == case.expect_allowed and (case.reason is None or case.reason == reason)
    return CaseResult(case, CaseStatus.PASSED if ok else CaseStatus.FAILED, evaluation, seconds=seconds)
