"""Strict policy.json parsing: every malformed policy is refused with its JSON path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from policy_corpus import MALFORMED, VALID

from trustcopy.errors import PolicyError
from trustcopy.policy import (
    ExactReference,
    InsecureAcceptAnything,
    MatchRepository,
    Policy,
    PolicySpecError,
    Reject,
    SignedBy,
    load_policy,
    parse_policy,
)

CI_FIXTURE = Path("/usr/share/gocode/src/github.com/containers/image/signature/fixtures/policy.json")


@pytest.mark.parametrize(("name", "text", "path", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_policy_is_refused_with_json_path(name: str, text: str, path: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy(text.encode(), source="/etc/containers/policy.json")
    message = str(exc.value)
    assert message.startswith('invalid policy in "/etc/containers/policy.json": ')
    if path != "(top level)" or "at (top level)" in message:
        assert f"at {path}: " in message
        assert exc.value.context["path"] == path
    assert fragment in message
    assert exc.value.code == "policy-invalid"


def test_enough_malformed_vectors() -> None:
    assert len(MALFORMED) >= 40
    assert len({m[0] for m in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_policies_parse_and_round_trip(name: str) -> None:
    policy = parse_policy(VALID[name])
    again = parse_policy(json.dumps(policy.to_json()))
    assert again == policy


def test_error_context_has_json_pointer() -> None:
    text = next(m[1] for m in MALFORMED if m[0] == "key-path-number")
    with pytest.raises(PolicyError) as exc:
        parse_policy(text)
    assert exc.value.context["pointer"] == "/transports/docker/example.com~1x/1/keyPath"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'\xef\xbb\xbf{"default":[{"type":"reject"}]}', "byte-order mark"),
        (b'{"default":[{"type":"reject"}],"transports":{"dir":{"/\xff":[]}}}', "not valid UTF-8"),
        (b"", "line 1 column 1"),
        (b'{"default":[{"type":"reject"}],"transports":{"dir":{"/\\ud800":[{"type":"reject"}]}}}', "lone surrogate"),
        (b"[" * 100000, "invalid policy"),
    ],
    ids=["bom", "invalid-utf8", "empty-file", "lone-surrogate", "deep-nesting"],
)
def test_undecodable_policy_is_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment):
        parse_policy(data)


def test_unreadable_policy_file_is_an_error_not_acceptance(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy") as exc:
        load_policy(tmp_path / "missing.json")
    assert str(tmp_path / "missing.json") in str(exc.value)
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path)  # a directory


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_policy_without_read_permission_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(VALID["accept-anything"])
    path.chmod(0)
    with pytest.raises(PolicyError, match="Permission denied"):
        load_policy(path)


def test_fifo_policy_without_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    """A pipe is accepted (``--policy <(…)``), but one nobody writes to reads as empty: refused."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError):
        load_policy(fifo)


def test_device_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a regular file"):
        load_policy("/dev/zero")


def test_oversized_policy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (4 * 1024 * 1024 + 1))
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(path)


def test_load_policy_records_source(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(VALID["signed-by-path"])
    assert load_policy(path).source == str(path)


def test_missing_signed_identity_defaults_to_match_repo_digest_or_exact() -> None:
    req = parse_policy(VALID["signed-by-path"]).transports["docker"].scopes["quay.io/ns"][0]
    assert isinstance(req, SignedBy)
    assert req.signed_identity.type_name == "matchRepoDigestOrExact"
    assert req.key_path == "/k.gpg"


def test_key_data_is_decoded_like_go() -> None:
    # Go's []byte JSON decoding is standard base64 with padding and ignores CR/LF.
    text = '{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"YWJj\\r\\nZGVm"}]}'
    req = parse_policy(text).default[0]
    assert isinstance(req, SignedBy)
    assert req.key_data == b"abcdef"
    for bad in ("YWJjZA", "YWJj ZGVm", "YWJj_-Vm"):
        with pytest.raises(PolicyError, match=r"default\[0\]\.keyData: invalid base64"):
            parse_policy(text.replace("YWJj\\r\\nZGVm", bad))


def test_ci_fixture_policy_differences_are_only_the_documented_ones() -> None:
    """c/i's own fixture parses once the two documented strictness differences are removed."""
    if not CI_FIXTURE.exists():
        pytest.skip("containers/image sources not installed")
    data = json.loads(CI_FIXTURE.read_text())
    with pytest.raises(PolicyError, match=r"keyType: keyType .signedByGPGKeys. is not implemented"):
        parse_policy(json.dumps(data))
    text = json.dumps(data)
    for kind in ("signedByGPGKeys", "X509Certificates", "signedByX509CAs"):
        text = text.replace(f'"{kind}"', '"GPGKeys"')
    data = json.loads(text)
    with pytest.raises(PolicyError, match=r'transports.docker\["bogus/key-data-example"\]: .*fully expanded'):
        parse_policy(json.dumps(data))
    for short in ("bogus/key-data-example", "bogus/signed-identity-example"):
        del data["transports"]["docker"][short]
    policy = parse_policy(json.dumps(data))
    assert len(policy.transports["docker"].scopes["example.com/hardened"]) == 3
    assert "*.redhat.com" in policy.transports["docker"].scopes


def test_python_api_uses_the_same_validation() -> None:
    with pytest.raises(PolicySpecError) as exc:
        Policy(default=())
    assert exc.value.path == ("default",)
    with pytest.raises(PolicySpecError) as exc:
        Policy(default=(Reject(),), transports={"docker": {"busybox": (Reject(),)}})
    assert exc.value.path == ("transports", "docker", "busybox")
    with pytest.raises(PolicySpecError):
        Policy(default=(Reject(),), transports={"dir": {"/x": ()}})
    with pytest.raises(PolicySpecError):
        SignedBy(key_path="/a", key_data=b"x")
    with pytest.raises(PolicySpecError):
        SignedBy(key_type="signedByGPGKeys", key_path="/a")
    with pytest.raises(PolicySpecError):
        Policy(default=("reject",))  # type: ignore[arg-type]
    with pytest.raises(PolicySpecError):
        SignedBy(key_path="/a", signed_identity="matchExact")  # type: ignore[arg-type]


def test_policy_is_immutable() -> None:
    policy = Policy(
        default=(Reject(),),
        transports={"docker": {"quay.io": (SignedBy(key_paths=("/a",), signed_identity=MatchRepository()),)}},
    )
    with pytest.raises(TypeError):
        policy.transports["dir"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.transports["docker"].scopes["x.io"] = (Reject(),)  # type: ignore[index]
    req = policy.transports["docker"].scopes["quay.io"][0]
    assert isinstance(req, SignedBy)
    assert req.key_paths == ("/a",)


def test_to_json_matches_policy_json_field_names() -> None:
    req = SignedBy(key_data=b"abc", signed_identity=ExactReference("quay.io/a/b:1"))
    assert req.to_json() == {
        "type": "signedBy",
        "keyType": "GPGKeys",
        "keyData": "YWJj",
        "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/a/b:1"},
    }
    assert InsecureAcceptAnything().to_json() == {"type": "insecureAcceptAnything"}
