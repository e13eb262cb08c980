"""Strict policy.json parsing: every malformed policy is refused with its JSON path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from policy_corpus import MALFORMED, VALID, VALID_WITH_WARNINGS

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
from trustcopy.policy.scopes import validate_scopes

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


@pytest.mark.parametrize(("name", "text", "code", "path", "fragment"), VALID_WITH_WARNINGS,
                         ids=[v[0] for v in VALID_WITH_WARNINGS])
def test_policies_containers_image_loads_load_with_a_warning(name: str, text: str, code: str, path: str,
                                                             fragment: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="trustcopy.policy"):
        policy = parse_policy(text, source="/etc/containers/policy.json")
    records = [r for r in caplog.records if r.name == "trustcopy.policy"]
    assert parse_policy(json.dumps(policy.to_json())) == policy
    if code != "scope-never-matches":
        assert records == []
    else:  # logged when loading, naming the file and the scope
        [record] = records
        assert '"/etc/containers/policy.json"' in record.getMessage()
        assert f"at {path}: " in record.getMessage()
        assert fragment in record.getMessage()
        assert "never matches" in record.getMessage()


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
        (b"", "the file is empty"),
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


def test_fifo_policy_without_writer_is_refused_without_blocking_for_ever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipe is accepted (``--policy <(…)``); one nobody opens for writing fails after the writer wait."""
    from trustcopy import limits

    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.2)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError, match=r'cannot read policy ".*fifo": .* pipe that no writer opened'):
        load_policy(fifo)


@pytest.mark.parametrize("text", ["", " \n\t\r\n"])
def test_an_empty_policy_file_says_so(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    with pytest.raises(PolicyError, match=r'invalid policy in ".*policy\.json": the file is empty$'):
        load_policy(path)


def test_device_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a regular file"):
        load_policy("/dev/zero")


def test_oversized_policy_is_refused_naming_the_cap(tmp_path: Path) -> None:
    from trustcopy.limits import MAX_POLICY_FILE

    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: no 64 MiB written
        f.truncate(MAX_POLICY_FILE + 1)
    with pytest.raises(PolicyError, match=f"larger than the {MAX_POLICY_FILE} bytes accepted") as exc:
        load_policy(path)
    assert str(path) in exc.value.message


def test_policy_with_100000_scopes_loads_and_matches(tmp_path: Path) -> None:
    """containers/image has no size cap; a 5 MB policy is far below ours (bench/bench_policy.py times it)."""
    scopes = {f"registry{i % 97}.example.com/team{i}/app": [{"type": "insecureAcceptAnything"}] for i in range(100_000)}
    scopes["registry5.example.com/team5/app"] = [{"type": "reject"}]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": scopes}}))
    assert path.stat().st_size > 4 * 1024 * 1024  # the old cap refused this
    policy = load_policy(path)
    assert len(policy.transports["docker"]) == 100_000
    from trustcopy.policy.scopes import requirements_for
    from trustcopy.transports.alltransports import parse_image_name

    match = requirements_for(policy, parse_image_name("docker://registry5.example.com/team5/app:1"))
    assert match.scope == "registry5.example.com/team5/app"
    assert match.requirements[0].type_name == "reject"


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_policy_is_a_clear_error(tmp_path: Path, opener: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(opener * 100_000)
    with pytest.raises(PolicyError, match="nested more than 200 levels deep") as exc:
        load_policy(path)
    assert str(path) in exc.value.message


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


def test_containers_image_sample_policy_loads_whole(caplog: pytest.LogCaptureFixture) -> None:
    """c/i's own signature/fixtures/policy.json (Debian golang-github-containers-image-dev) loads as in c/i."""
    assert CI_FIXTURE.exists(), "./run installs golang-github-containers-image-dev"
    with caplog.at_level("WARNING", logger="trustcopy.policy"):
        policy = parse_policy(CI_FIXTURE.read_bytes(), source=str(CI_FIXTURE))
    docker = policy.transports["docker"].scopes
    assert len(docker["example.com/hardened"]) == 3
    assert {r.key_type for r in docker["example.com/hardened-x509"]} == {"X509Certificates", "signedByX509CAs"}
    assert "*.redhat.com" in docker
    # The two short scopes load, and never match: the load says so for each.
    warned = " ".join(r.getMessage() for r in caplog.records if r.name == "trustcopy.policy")
    assert 'transports.docker["bogus/key-data-example"]' in warned
    assert 'transports.docker["bogus/signed-identity-example"]' in warned


def test_python_api_uses_the_same_validation() -> None:
    with pytest.raises(PolicySpecError) as exc:
        Policy(default=())
    assert exc.value.path == ("default",)
    # Scopes are checked by the parser (with the transport table), or on request: building a
    # Policy value loads no transport.
    unchecked = Policy(default=(Reject(),), transports={"dir": {"relative/dir": (Reject(),)}})
    with pytest.raises(PolicySpecError) as exc:
        validate_scopes(unchecked)
    assert exc.value.path == ("transports", "dir", "relative/dir")
    with pytest.raises(PolicySpecError):
        Policy(default=(Reject(),), transports={"dir": {"/x": ()}})
    with pytest.raises(PolicySpecError):
        SignedBy(key_path="/a", key_data=b"x")
    with pytest.raises(PolicySpecError):
        SignedBy(key_type="PGP", key_path="/a")
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
