"""Acceptance audit of issue 3 (policy engine), session 27: the gaps it found.

- Base64 ``[]byte`` members (``keyData`` and every sigstore ``…Data``/``…Datas``): Go's
  ``encoding/json`` decodes them with ``base64.StdEncoding`` (CR/LF ignored), which refuses
  padding that does not end a 4-character quantum (``YWJj=``, ``AAAA====``); Python's
  ``b64decode`` accepted those, so trustcopy loaded policies containers/image refuses. The
  vectors below were checked against Go 1.x ``json.Unmarshal`` into ``[]byte`` (accept or refuse).
- ``policy explain``'s ``scope.tried`` listed the layout directory twice for ``oci:`` and
  ``oci-archive:`` (containers/image's namespaces of those start with the identity itself).
- The JSON Schema agreed with the parser on ``dir``/``oci`` scopes, but accepted what the
  parser refuses for ``oci-archive`` (relative or non-canonical paths), ``tarball`` and
  ``docker-archive`` (only ``""``) and ``docker-daemon`` (an ``algo:digest`` value).
- docs/policy.md's scope table said ``busybox`` scopes are refused; they load with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from imagefactory import example_image, write_oci

from trustcopy.errors import PolicyError
from trustcopy.policy.lint import lint_policy_bytes, load_schema
from trustcopy.policy.parse import parse_policy

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4

#: (keyData text, whether Go's json.Unmarshal into []byte accepts it).
BASE64_VECTORS = [
    ("YWJj", True), ("YWJjZA==", True), ("YWJjZGU=", True), ("YQ==\n", True), ("YWJjZA=\n=", True),
    ("\r\nYW\r\nJj\r\n", True), ("YR==", True),  # non-zero trailing bits: Go's StdEncoding is not Strict
    ("YWJj=", False), ("YWJj==", False), ("AAAA====", False), ("YWJjZA===", False), ("YQ==YQ==", False),
    ("YQ=", False), ("YQ", False), ("=", False), ("A===", False), ("Y Q==", False), ("YQ-_", False),
]


def _signed_by_data(data: str) -> str:
    return json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": data}]})


@pytest.mark.parametrize(("text", "go_accepts"), BASE64_VECTORS, ids=[repr(v[0]) for v in BASE64_VECTORS])
def test_key_data_base64_is_read_as_go_reads_it(text: str, go_accepts: bool) -> None:
    document = _signed_by_data(text)
    if go_accepts:
        parse_policy(document, source="p.json")
        return
    with pytest.raises(PolicyError, match=r"at default\[0\]\.keyData: invalid base64 data"):
        parse_policy(document, source="p.json")


@pytest.mark.parametrize("member", ["keyDatas", "rekorPublicKeyDatas"])
def test_sigstore_base64_lists_refuse_misplaced_padding_naming_the_entry(member: str) -> None:
    req: dict[str, Any] = {"type": "sigstoreSigned", "keyData": "YWJj"}
    if member == "keyDatas":
        req = {"type": "sigstoreSigned", "keyDatas": ["YWJj", "YWJj="]}
    else:
        req[member] = ["YWJj", "AAAA===="]
    with pytest.raises(PolicyError, match=rf"at default\[0\]\.{member}\[1\]: invalid base64 data"):
        parse_policy(json.dumps({"default": [req]}), source="p.json")


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    write_oci({"v1": example_image()}, str(tmp_path / "src"))
    return tmp_path / "src"


def test_copy_with_misplaced_base64_padding_is_refused_and_writes_nothing(
    tmp_path: Path, layout: Path, run_cli: Callable[..., Any]
) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}], "transports": {
        "oci": {"": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "YWJj="}]}}}))
    dest = tmp_path / "dest"
    res = run_cli("--policy", str(policy), "copy", f"oci:{layout}:v1", f"dir:{dest}")
    assert res.exit_code == 1
    assert 'transports.oci[""][0].keyData: invalid base64 data' in res.stderr
    assert not dest.exists()
    lint = run_cli("policy", "lint", "--policy", str(policy))
    assert lint.exit_code == 1 and "keyData" in lint.stdout
    explain = run_cli("--policy", str(policy), "policy", "explain", f"oci:{layout}:v1")
    assert explain.exit_code == 2 and "invalid base64 data" in explain.stderr


@pytest.mark.parametrize("transport", ["oci", "oci-archive"])
def test_explain_tries_each_scope_once(tmp_path: Path, layout: Path, run_cli: Callable[..., Any],
                                       transport: str) -> None:
    image = f"oci:{layout}:v1"
    if transport == "oci-archive":
        archive = tmp_path / "a.tar"
        assert run_cli("--insecure-policy", "copy", image, f"oci-archive:{archive}:v1").exit_code == 0
        image, identity = f"oci-archive:{archive}:v1", str(archive)
    else:
        identity = str(layout)
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                  "transports": {transport: {identity: [{"type": "insecureAcceptAnything"}]}}}))
    res = run_cli("--policy", str(policy), "policy", "explain", "-o", "json", image)
    assert res.exit_code == 0, res.stderr
    scope = json.loads(res.stdout)["scope"]
    assert scope["matched"] == identity and scope["kind"] == "identity"
    parents = [str(p) for p in Path(identity).parents if str(p) != "/"]
    assert scope["tried"] == [identity, *parents, ""]


#: Scopes the parser refuses (containers/image's rules for these transports) and the schema must too.
SCOPE_FAULTS = [
    ("oci-archive", "relative/a.tar"), ("oci-archive", "/tmp/../a.tar"), ("oci-archive", "/"),
    ("oci-archive", "/tmp/a.tar/"), ("tarball", "/tmp/a.tar"), ("docker-archive", "/tmp/a.tar"),
    ("docker-archive", "example.com/app:1"), ("docker-daemon", DIGEST),
]
#: Scopes both accept.
SCOPE_FINE = [
    ("oci-archive", "/tmp/a.tar"), ("oci-archive", "/tmp/a.tar:tag"), ("oci-archive", ""), ("tarball", ""),
    ("docker-archive", ""), ("docker-daemon", "example.com/app:1"), ("docker-daemon", "sha256:short"),
]


def _scoped(transport: str, scope: str) -> str:
    return json.dumps({"default": [{"type": "reject"}], "transports": {transport: {scope: [{"type": "reject"}]}}})


@pytest.mark.parametrize(("transport", "scope"), SCOPE_FAULTS)
def test_schema_and_parser_both_refuse_the_scope(transport: str, scope: str) -> None:
    document = _scoped(transport, scope)
    with pytest.raises(PolicyError, match=r"at transports"):
        parse_policy(document, source="p.json")
    assert list(jsonschema.Draft202012Validator(load_schema()).iter_errors(json.loads(document)))
    codes = {(f.code, f.severity) for f in lint_policy_bytes(document.encode(), "p.json").findings}
    assert ("schema", "error") in codes and ("parse", "error") in codes


@pytest.mark.parametrize(("transport", "scope"), SCOPE_FINE)
def test_schema_and_parser_both_accept_the_scope(transport: str, scope: str) -> None:
    document = _scoped(transport, scope)
    parse_policy(document, source="p.json")
    assert not list(jsonschema.Draft202012Validator(load_schema()).iter_errors(json.loads(document)))


def test_docs_do_not_claim_short_docker_scopes_are_refused() -> None:
    # They load (as in containers/image) and never match; lint warns (test_policy_lint.py).
    parse_policy(_scoped("docker", "busybox"), source="p.json", quiet=True)
    rows = [line for line in (ROOT / "docs" / "policy.md").read_text().splitlines() if line.startswith("| `docker` |")]
    assert rows and all("are refused" not in row for row in rows)
    assert any("never match" in row for row in rows)
