"""The verify report's machine forms, without images: JUnit well-formedness, the schema, exit statuses.

The reports built from real evaluations are validated in tests/integration/test_verify_cli.py;
here the schema itself is checked (valid, in sync with the reason codes, and able to refuse),
and the JUnit writer is fed hostile text.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest

from trustcopy.copy.junit import JUnitCase, Outcome, junit_xml, xml_safe
from trustcopy.copy.verify import ImageResult, Status, VerifyReport, failed_report, load_verify_schema
from trustcopy.errors import ImageNotFoundError, PolicyError, TransportError
from trustcopy.reasons import Reason


def test_schema_is_valid_and_lists_every_reason_code() -> None:
    schema = load_verify_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["reason"]["enum"] == [r.value for r in Reason]


def _error_report() -> dict[str, Any]:
    return failed_report(["dir:/a", "docker://x/y:1"], PolicyError("no policy", code="policy-not-found"),
                         policy="/etc/p.json").to_json()


def test_a_failed_run_is_schema_valid_and_fails_closed() -> None:
    doc = _error_report()
    jsonschema.Draft202012Validator(load_verify_schema()).validate(doc)
    assert doc["allowed"] is False and doc["exitStatus"] == 2
    assert [i["status"] for i in doc["images"]] == ["error", "error"]
    assert doc["error"] == {"code": "policy-not-found", "message": "no policy", "hint": None}


@pytest.mark.parametrize(("path", "value"), [
    (("images", 0, "status"), "accepted"),  # an accepted image needs a digest, a verdict, no error
    (("images", 0, "allowed"), True),
    (("exitStatus",), 3),
    (("summary", "skipped"), 0),
    (("images", 0, "error", "code"), "Not_A_Code"),
    (("images", 0, "reason"), "MAYBE"),
])
def test_schema_refuses_inconsistent_reports(path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(_error_report())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(load_verify_schema()).validate(doc)


def test_exit_status_error_wins_over_rejection() -> None:
    error = ImageResult("dir:/b", Status.ERROR, error=ImageNotFoundError("gone"))
    rejected = ImageResult("dir:/a", Status.REJECTED)
    assert VerifyReport((rejected,), None).exit_status == 1
    assert VerifyReport((rejected, error), None).exit_status == 2
    assert VerifyReport((), None, error=TransportError("x")).exit_status == 2
    assert VerifyReport((), None).allowed is False  # nothing judged is never "allowed"


def test_digestfile_lists_only_accepted_images_in_order() -> None:
    accepted = [ImageResult(f"n{i}", Status.ACCEPTED, verified_reference=f"r/{i}@sha256:{i}") for i in range(2)]
    report = VerifyReport((accepted[1], ImageResult("x", Status.REJECTED), accepted[0]), None)
    assert report.digestfile_text() == "r/1@sha256:1\nr/0@sha256:0\n"


def test_junit_is_well_formed_whatever_the_messages_hold() -> None:
    hostile = "bell\x07 nul\x00 esc\x1b lone\ud800 <tag> & \"quote\" ]]> \ufffe end"
    xml = junit_xml(hostile, [
        JUnitCase(hostile, "c", Outcome.FAILURE, 0.5, message=hostile, type="T", text=hostile),
        JUnitCase("ok", "c", Outcome.PASSED, system_out=hostile),
        JUnitCase("err", "c", Outcome.ERROR, message="m", type="image-not-found"),
    ], properties={"policy": hostile}, timestamp="2024-01-01T00:00:00+00:00")
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == xml_safe(hostile)
    assert "\\u0007" in (failure.text or "") and "\\ud800" in (failure.text or "") and "<tag> &" in (failure.text or "")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')


def test_xml_safe_keeps_ordinary_text() -> None:
    text = "tab\tnewline\ncarriage\r ünïcödé 😀"
    assert xml_safe(text) == text
