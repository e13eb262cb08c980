"""policy lint (session 26): a JSON error reported once; the cosign identity warning.

1. A document that is not JSON by the parser's rules (``NaN``/``Infinity``, a lone surrogate
   escape, a duplicated key, a byte-order mark) is one ``parse`` error: the JSON Schema must
   not judge the value Python's lenient reader made of it and report the same fault again.
2. ``sigstoreSigned`` without ``signedIdentity`` keeps ``matchRepoDigestOrExact``; cosign's
   signatures name only the repository, so wherever registry images are judged by tag they are
   rejected (docs/policy.md, "sigstoreSigned"): lint warns, and names the fix.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trustcopy.policy.lint import lint_policy_bytes

R = [{"type": "reject"}]


def _pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


PEM = _pem()
SIGSTORE = {"type": "sigstoreSigned", "keyData": base64.b64encode(PEM).decode()}


def _codes(text: str | bytes) -> list[tuple[str, str]]:
    data = text.encode() if isinstance(text, str) else text
    return [(f.code, f.path) for f in lint_policy_bytes(data, "p.json").findings]


@pytest.mark.parametrize(("text", "path"), [
    ('{"default": NaN}', "(top level)"),
    ('{"default": [{"type": "reject"}], "transports": {"docker": {"example.com/a": '
     '[{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "signedIdentity": Infinity}]}}}', "(top level)"),
    ('{"default": -Infinity}', "(top level)"),
    ('{"default": [{"type": "\\ud800"}]}', "default[0].type"),
    ('{"default": [{"type": "reject"}], "transports": {"docker": {"example.com/a": [{"type": "reject"}], '
     '"example.com/a": [{"type": "bogus"}]}}}', 'transports.docker["example.com/a"]'),
    ('\ufeff{"default": []}', "(top level)"),
])
def test_a_json_fault_is_one_parse_error_never_also_a_schema_error(text: str, path: str) -> None:
    """Before: ``NaN`` was also ``schema: nan is not of type 'array'``, and so on for each row."""
    assert _codes(text) == [("parse", path)]


def test_the_cli_prints_a_json_fault_once_and_exits_1(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{"default": NaN}')
    result = run_cli("policy", "lint", "--policy", str(policy))
    assert result.exit_code == 1
    assert result.stdout.count("NaN") == 1 and "schema" not in result.stdout, result.stdout
    assert "1 error(s), 0 warning(s)" in result.stdout


def test_valid_json_still_gets_schema_errors() -> None:
    """Only JSON faults silence the schema: a well-formed policy of the wrong shape keeps both findings."""
    assert [c for c, _ in _codes('{"default": []}')] == ["parse", "schema"]


def _policy(**sections: object) -> bytes:
    return json.dumps({"default": R, **sections}).encode()


def _cosign(text: bytes) -> list[str]:
    return [f.path for f in lint_policy_bytes(text, "p.json").findings if f.code == "identity-rejects-cosign"]


@pytest.mark.parametrize(("policy", "paths"), [
    (_policy(transports={"docker": {"example.com/app": [SIGSTORE]}}), ['transports.docker["example.com/app"][0]']),
    (_policy(transports={"docker": {"": [SIGSTORE]}}), ['transports.docker[""][0]']),
    (_policy(transports={"docker": {"example.com/app:1.0": [SIGSTORE]}}),
     ['transports.docker["example.com/app:1.0"][0]']),
    (_policy(transports={"docker": {"*.example.com": [SIGSTORE]}}),
     ['transports.docker["*.example.com"][0]']),
    (json.dumps({"default": [SIGSTORE]}).encode(), ["default[0]"]),
    (json.dumps({"default": [SIGSTORE], "transports": {"docker": {"example.com/app": R}}}).encode(), ["default[0]"]),
])
def test_default_identity_under_sigstore_signed_warns_where_registry_images_are_judged(
        policy: bytes, paths: list[str]) -> None:
    report = lint_policy_bytes(policy, "p.json")
    assert report.errors == []
    assert _cosign(policy) == paths
    finding = next(f for f in report.findings if f.code == "identity-rejects-cosign")
    assert finding.severity == "warning"
    for words in ("matchRepoDigestOrExact", "cosign", "only the repository", "rejected",
                  '"signedIdentity": {"type": "matchRepository"}', "exactRepository"):
        assert words in finding.message, finding.message
    assert report.exit_status(strict=False) == 0 and report.exit_status(strict=True) == 1


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("policy", [
    # the author chose the identity rule: nothing to guess
    _policy(transports={"docker": {"example.com/app": [SIGSTORE | {"signedIdentity": {
        "type": "matchRepoDigestOrExact"}}]}}),
    _policy(transports={"docker": {"example.com/app": [SIGSTORE | {"signedIdentity": {"type": "matchRepository"}}]}}),
    # a digest scope: images are named by digest there, and the default accepts a repository claim
    _policy(transports={"docker": {f"example.com/app@{DIGEST}": [SIGSTORE]}}),
    # transports whose images carry no cosign attachments: dir:/oci: already get identity-needs-docker-reference
    _policy(transports={"docker-daemon": {"": [SIGSTORE]}}),
    _policy(transports={"docker-archive": {"": [SIGSTORE]}}),
    # the global default never judges a docker image when the docker transport has its own default
    json.dumps({"default": [SIGSTORE], "transports": {"docker": {"": R}}}).encode(),
    # no atomic transport in this build (unknown-transport says so)
    _policy(transports={"atomic": {"example.com/app": [SIGSTORE]}}),
    # GPG simple signing names the tag (skopeo and trustcopy sign so)
    _policy(transports={"docker": {"example.com/app": [
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}]}}),
])
def test_no_cosign_warning_where_the_default_identity_cannot_meet_cosign_signatures(policy: bytes) -> None:
    assert _cosign(policy) == []


def test_the_cli_prints_the_cosign_warning_in_the_lint_format(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    policy = tmp_path / "p.json"
    policy.write_bytes(_policy(transports={"docker": {"example.com/app": [SIGSTORE]}}))
    result = run_cli("policy", "lint", "--policy", str(policy))
    assert result.exit_code == 0, result.stdout
    line = next(ln for ln in result.stdout.splitlines() if "identity-rejects-cosign" in ln)
    assert line.startswith('warning[identity-rejects-cosign] transports.docker["example.com/app"][0]: ')


def test_a_default_that_also_rejects_is_not_said_to_accept_anything() -> None:
    """Before: ``[insecureAcceptAnything, reject]`` got default-accepts-anything *and* reject-mixed (it rejects all)."""
    mixed = json.dumps({"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]}).encode()
    assert [c for c, _ in _codes(mixed)] == ["reject-mixed"]
    alone = json.dumps({"default": [{"type": "insecureAcceptAnything"}]}).encode()
    assert [c for c, _ in _codes(alone)] == ["default-accepts-anything"]


def test_a_scope_that_never_matches_is_reported_once_by_lint_but_still_logged_by_other_commands(
        tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """Lint's finding is the report; the load-time log line would say the same thing a second time."""
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                  "transports": {"docker": {"Foo/Bar": [{"type": "insecureAcceptAnything"}]}}}))
    result = run_cli("policy", "lint", "--policy", str(policy))
    assert result.exit_code == 0
    assert (result.stdout + result.stderr).count("this scope never matches any image") == 1
    assert "warning[scope-never-matches]" in result.stdout
    import subprocess
    import sys

    other = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy",
                            f"oci:{tmp_path}/missing:t", f"dir:{tmp_path / 'out'}"],
                           capture_output=True, text=True, check=False)
    assert other.returncode == 1
    assert other.stderr.count("this scope never matches any image") == 1, other.stderr
