"""policy lint: schema and parser agree on every test policy; semantic warnings; examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from policy_corpus import MALFORMED, SCHEMA_BLIND, VALID, VALID_WITH_WARNINGS

from trustcopy.policy.lint import lint_policy_bytes, lint_policy_file, load_schema

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "policies").glob("*.json"))
EXAMPLES = [p for p in EXAMPLES if p.name != "policy.schema.json"]
KEY = ROOT / "keys-example" / "pubring.gpg"


def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_copies_are_identical() -> None:
    shipped = ROOT / "trustcopy" / "data" / "policy.schema.json"
    assert (ROOT / "policies" / "policy.schema.json").read_bytes() == shipped.read_bytes()
    assert load_schema() == json.loads(shipped.read_text())


@pytest.mark.parametrize("name", sorted(VALID))
def test_schema_accepts_every_valid_policy(name: str) -> None:
    assert list(_validator().iter_errors(json.loads(VALID[name]))) == []


@pytest.mark.parametrize(("name", "text"), [(m[0], m[1]) for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_schema_refuses_every_malformed_policy_it_can_see(name: str, text: str) -> None:
    try:
        document = json.loads(text)
    except ValueError:
        assert name in SCHEMA_BLIND
        return
    detected = bool(list(_validator().iter_errors(document)))
    assert detected is (name not in SCHEMA_BLIND)


@pytest.mark.gpg
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_policies_are_clean_with_real_keys(example: Path) -> None:
    """With the key files present (gpg reads them), a shipped example has no finding at all."""
    text = example.read_text()
    for path in set(_key_paths(json.loads(text))):
        text = text.replace(json.dumps(path), json.dumps(str(KEY)))
    report = lint_policy_bytes(text.encode(), str(example))
    assert report.findings == [], [f.to_json() for f in report.findings]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_policies_only_miss_their_keys_as_shipped(example: Path) -> None:
    report = lint_policy_file(str(example))
    assert report.errors == []
    allowed = {"key-file-missing"}
    if example.name.startswith("demo-"):
        allowed.add("relative-key-path")  # the demo runs from the repository root on purpose
    assert {f.code for f in report.warnings} <= allowed


def _key_paths(node: object) -> list[str]:
    if isinstance(node, dict):
        out = [node["keyPath"]] if "keyPath" in node else []
        out += list(node.get("keyPaths", []))
        for value in node.values():
            out += _key_paths(value)
        return out
    if isinstance(node, list):
        return [p for item in node for p in _key_paths(item)]
    return []


def _codes(text: str) -> set[str]:
    return {f.code for f in lint_policy_bytes(text.encode(), "p.json").findings}


def _policy(transports: dict[str, object], default: object = None) -> str:
    return json.dumps({"default": default or [{"type": "reject"}], "transports": transports})


def test_clean_policy_has_no_findings() -> None:
    assert _codes(_policy({"docker": {"quay.io": [{"type": "signedBy", "keyType": "GPGKeys",
                                                   "keyPath": str(KEY)}]}})) == set()


def test_default_accepting_anything_warns() -> None:
    assert "default-accepts-anything" in _codes(_policy({}, [{"type": "insecureAcceptAnything"}]))


def test_reject_mixed_with_others_warns() -> None:
    text = _policy({"docker": {"quay.io": [{"type": "reject"}, {"type": "insecureAcceptAnything"}]}})
    assert "reject-mixed" in _codes(text)


def test_missing_and_relative_key_files_warn(tmp_path: Path) -> None:
    text = _policy({"docker": {"quay.io": [{"type": "signedBy", "keyType": "GPGKeys",
                                            "keyPaths": [str(tmp_path / "nope.gpg"), "rel.gpg"]}]}})
    codes = _codes(text)
    assert {"key-file-missing", "relative-key-path"} <= codes


@pytest.mark.gpg
def test_key_file_without_keys_warns(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gpg"
    bogus.write_bytes(b"hello, I am not a key")
    text = _policy({"docker": {"quay.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(bogus)}]}})
    assert "no-public-keys" in _codes(text)
    text = _policy({"docker": {"quay.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8="}]}})
    assert "no-public-keys" in _codes(text)


def test_oci_tag_scope_can_never_match() -> None:
    report = lint_policy_bytes(_policy({"oci": {"/srv/layout:v1": [{"type": "reject"}]}}).encode(), "p")
    (finding,) = report.findings
    assert finding.code == "scope-never-matches"
    assert finding.path == 'transports.oci["/srv/layout:v1"]'
    assert "'/srv/layout'" in finding.message


def test_symlinked_dir_scope_can_never_match(tmp_path: Path) -> None:
    real = tmp_path.resolve() / "real"
    real.mkdir()
    (tmp_path.resolve() / "link").symlink_to(real)
    codes = _codes(_policy({"dir": {str(tmp_path.resolve() / "link"): [{"type": "reject"}]}}))
    assert "scope-never-matches" in codes


def test_docker_identity_matchers_on_dir_warn() -> None:
    text = _policy({"dir": {"/builds": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEY)}]}})
    assert "identity-needs-docker-reference" in _codes(text)


def test_unknown_transport_warns() -> None:
    assert "unknown-transport" in _codes(_policy({"containers-storage": {"": [{"type": "reject"}]}}))
    assert "unknown-transport" in _codes(_policy({"atomic": {"": [{"type": "reject"}]}}))


def test_always_rejecting_requirements_warn() -> None:
    text = _policy({"docker": {"quay.io": [{"type": "signedBaseLayer",
                                            "baseLayerIdentity": {"type": "matchRepository"}}]}})
    assert "always-rejects" in _codes(text)


def test_remap_prefix_outside_scope_warns() -> None:
    remap = {"type": "remapIdentity", "prefix": "other.example.com", "signedPrefix": "vendor.example.com"}
    text = _policy({"docker": {"mirror.example.com/v": [{"type": "signedBy", "keyType": "GPGKeys",
                                                         "keyPath": str(KEY), "signedIdentity": remap}]}})
    assert "remap-prefix-outside-scope" in _codes(text)
    remap["prefix"] = "mirror.example.com"
    text = _policy({"docker": {"mirror.example.com/v": [{"type": "signedBy", "keyType": "GPGKeys",
                                                         "keyPath": str(KEY), "signedIdentity": remap}]}})
    assert "remap-prefix-outside-scope" not in _codes(text)


@pytest.mark.parametrize(("name", "text", "path"), [(m[0], m[1], m[2]) for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_lint_reports_parser_error_with_path(name: str, text: str, path: str) -> None:
    report = lint_policy_bytes(text.encode(), "p.json")
    parse = [f for f in report.errors if f.code == "parse"]
    assert len(parse) == 1
    assert parse[0].path == path or path == "(top level)"
    assert report.exit_status(strict=False) == 1


@pytest.mark.parametrize(("name", "text", "code", "path", "fragment"), VALID_WITH_WARNINGS,
                         ids=[v[0] for v in VALID_WITH_WARNINGS])
def test_lint_warns_about_what_loads_but_never_works(name: str, text: str, code: str, path: str,
                                                     fragment: str) -> None:
    report = lint_policy_bytes(text.encode(), "p.json")
    assert report.errors == []
    assert list(_validator().iter_errors(json.loads(text))) == []  # the schema agrees it loads
    [finding] = [f for f in report.warnings if f.code == code]
    assert finding.path == path
    assert fragment in finding.message
    assert report.exit_status(strict=False) == 0
    assert report.exit_status(strict=True) == 1


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    report = lint_policy_file(str(tmp_path / "missing.json"))
    assert [f.code for f in report.errors] == ["unreadable"]


def test_strict_turns_warnings_into_failure() -> None:
    report = lint_policy_bytes(_policy({}, [{"type": "insecureAcceptAnything"}]).encode(), "p")
    assert report.exit_status(strict=False) == 0
    assert report.exit_status(strict=True) == 1
