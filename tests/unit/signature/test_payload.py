"""Simple-signing payload: byte-exact building and strict parsing (c/i untrustedSignature vectors)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.payload import (
    MAX_PAYLOAD_SIZE,
    UntrustedSimplePayload,
    build_simple_payload,
    parse_simple_payload,
)

TEST_DIGEST = "sha256:" + "a" * 64
FIXTURE_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
# The payload c/i signed in tests/fixtures/signature/image.signature (gpg --decrypt output).
IMAGE_SIGNATURE_PAYLOAD = (
    b'{"critical":{"identity":{"docker-reference":"testing/manifest"},"image":{"docker-manifest-digest":'
    b'"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"},"type":"atomic container '
    b'signature"},"optional":{"creator":"atomic ","timestamp":1458239713}}'
)
# …and in no-optional-fields.signature.
NO_OPTIONAL_PAYLOAD = (
    b'{"critical":{"identity":{"docker-reference":"testing/manifest"},"image":{"docker-manifest-digest":'
    b'"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"},"type":"atomic container '
    b'signature"},"optional":{}}'
)


def valid_document() -> dict:
    return json.loads(build_simple_payload(Digest.parse(TEST_DIGEST), "docker.io/library/busybox:latest",
                                           creator="CREATOR", timestamp=1484683104))


# --- building -------------------------------------------------------------------------------------


def test_build_matches_c_image_bytes_of_image_signature() -> None:
    built = build_simple_payload(Digest.parse(FIXTURE_DIGEST), "testing/manifest", creator="atomic ",
                                 timestamp=1458239713)
    assert built == IMAGE_SIGNATURE_PAYLOAD


def test_build_without_optional_fields_matches_c_image() -> None:
    built = build_simple_payload(Digest.parse(FIXTURE_DIGEST), "testing/manifest", creator=None, timestamp=None)
    assert built == NO_OPTIONAL_PAYLOAD


def test_build_matches_c_image_marshal_vector() -> None:
    # c/i TestMarshalJSON: map keys sorted, compact, creator before timestamp.
    built = build_simple_payload(Digest.parse(TEST_DIGEST), "reference#@!", creator="CREATOR", timestamp=1484683104)
    assert built == (
        b'{"critical":{"identity":{"docker-reference":"reference#@!"},"image":{"docker-manifest-digest":"'
        + TEST_DIGEST.encode()
        + b'"},"type":"atomic container signature"},"optional":{"creator":"CREATOR","timestamp":1484683104}}'
    )


def test_build_refuses_empty_reference() -> None:
    with pytest.raises(Exception, match="empty docker reference"):
        build_simple_payload(Digest.parse(TEST_DIGEST), "", creator=None, timestamp=None)


def test_build_then_parse_round_trips() -> None:
    built = build_simple_payload(Digest.parse(TEST_DIGEST), "quay.io/a/b:1", creator="trustcopy 0.1.0", timestamp=5)
    assert parse_simple_payload(built) == UntrustedSimplePayload(Digest.parse(TEST_DIGEST), "quay.io/a/b:1",
                                                                 "trustcopy 0.1.0", 5)


# --- parsing: accepted ----------------------------------------------------------------------------


def test_parse_c_image_payload() -> None:
    parsed = parse_simple_payload(IMAGE_SIGNATURE_PAYLOAD)
    assert parsed == UntrustedSimplePayload(Digest.parse(FIXTURE_DIGEST), "testing/manifest", "atomic ", 1458239713)


def test_parse_without_optional_fields() -> None:
    parsed = parse_simple_payload(NO_OPTIONAL_PAYLOAD)
    assert parsed.untrusted_creator_id is None
    assert parsed.untrusted_timestamp is None


def _with(mutate: Callable[[dict], object]) -> bytes:
    doc = valid_document()
    mutate(doc)
    return json.dumps(doc).encode()


TOLERATED = {
    "unknown-optional-member": lambda d: d["optional"].update(unexpected=1),
    "unknown-optional-object-with-nested-duplicates-is-never-read": None,
    "timestamp-written-as-float": lambda d: d["optional"].update(timestamp=1484683104.0),
    "timestamp-exponent": lambda d: d["optional"].update(timestamp=1.484683104e9),
    "optional-empty": lambda d: d.update(optional={}),
}


@pytest.mark.parametrize("name", list(TOLERATED), ids=list(TOLERATED))
def test_optional_section_is_tolerant(name: str) -> None:
    if TOLERATED[name] is None:
        text = json.dumps(valid_document())
        data = text.replace('"optional": {', '"optional": {"x": {"a": 1, "a": 2}, ', 1).encode()
    else:
        data = _with(TOLERATED[name])
    parsed = parse_simple_payload(data)
    assert parsed.untrusted_docker_manifest_digest == Digest.parse(TEST_DIGEST)


def test_null_optional_values_decode_as_go_zero_values() -> None:
    parsed = parse_simple_payload(_with(lambda d: d["optional"].update(creator=None, timestamp=None)))
    assert (parsed.untrusted_creator_id, parsed.untrusted_timestamp) == ("", 0)


# --- parsing: refused (c/i TestUnmarshalJSON breakFns, plus duplicates and JSON edge cases) -------

REFUSED = {
    "not-json": b"&",
    "not-an-object": b"1",
    "array": b"[]",
    "trailing-data": json.dumps(valid_document()).encode() + b"{}",
    "invalid-utf8": json.dumps(valid_document()).encode().replace(b"busybox", b"busy\xffbox"),
    "nan-timestamp": json.dumps(valid_document()).encode().replace(b"1484683104", b"NaN"),
    "infinite-timestamp": json.dumps(valid_document()).encode().replace(b"1484683104", b"1e400"),
    "deep-nesting-in-optional": json.dumps(valid_document()).encode().replace(
        b'"optional": {', b'"optional": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b", ", 1),
    "missing-critical": _with(lambda d: d.pop("critical")),
    "missing-optional": _with(lambda d: d.pop("optional")),
    "extra-top-level": _with(lambda d: d.update(unexpected=1)),
    "critical-not-object": _with(lambda d: d.update(critical=1)),
    "optional-not-object": _with(lambda d: d.update(optional=1)),
    "optional-null": _with(lambda d: d.update(optional=None)),
    "missing-type": _with(lambda d: d["critical"].pop("type")),
    "missing-image": _with(lambda d: d["critical"].pop("image")),
    "missing-identity": _with(lambda d: d["critical"].pop("identity")),
    "extra-critical": _with(lambda d: d["critical"].update(unexpected=1)),
    "type-not-string": _with(lambda d: d["critical"].update(type=1)),
    "type-unexpected": _with(lambda d: d["critical"].update(type="unexpected")),
    "type-null": _with(lambda d: d["critical"].update(type=None)),
    "image-not-object": _with(lambda d: d["critical"].update(image=1)),
    "missing-digest": _with(lambda d: d["critical"]["image"].pop("docker-manifest-digest")),
    "extra-image": _with(lambda d: d["critical"]["image"].update(unexpected=1)),
    "digest-not-string": _with(lambda d: d["critical"]["image"].update({"docker-manifest-digest": 1})),
    "digest-path-traversal": _with(lambda d: d["critical"]["image"].update({"docker-manifest-digest":
                                                                            "sha256:../.."})),
    "digest-upper-case": _with(lambda d: d["critical"]["image"].update({"docker-manifest-digest":
                                                                        TEST_DIGEST.upper()})),
    "identity-not-object": _with(lambda d: d["critical"].update(identity=1)),
    "missing-reference": _with(lambda d: d["critical"]["identity"].pop("docker-reference")),
    "extra-identity": _with(lambda d: d["critical"]["identity"].update(unexpected=1)),
    "reference-not-string": _with(lambda d: d["critical"]["identity"].update({"docker-reference": 1})),
    # c/i leaves reference validity to the identity callback; we refuse it while parsing.
    "reference-invalid": _with(lambda d: d["critical"]["identity"].update({"docker-reference": "reference#@!"})),
    "reference-upper-case": _with(lambda d: d["critical"]["identity"].update({"docker-reference": "UPPERCASE"})),
    "reference-empty": _with(lambda d: d["critical"]["identity"].update({"docker-reference": ""})),
    "creator-not-string": _with(lambda d: d["optional"].update(creator=1)),
    "timestamp-string": _with(lambda d: d["optional"].update(timestamp="unexpected")),
    "timestamp-fractional": _with(lambda d: d["optional"].update(timestamp=0.5)),
    "timestamp-bool": _with(lambda d: d["optional"].update(timestamp=True)),
    "timestamp-beyond-int64": _with(lambda d: d["optional"].update(timestamp=2**63)),
    "too-large": b" " * (MAX_PAYLOAD_SIZE + 1),
}


def _dup(path: str) -> bytes:
    """Duplicate one member by text surgery (json.dumps cannot write duplicates)."""
    text = json.dumps(valid_document())
    needle = {"top": '"critical": ', "critical": '"type": ', "image": '"docker-manifest-digest": ',
              "identity": '"docker-reference": ', "optional": '"creator": '}[path]
    value = {"top": "{}", "critical": '"x"', "image": '"sha256:' + "b" * 64 + '"',
             "identity": '"docker.io/evil/image:latest"', "optional": '"x"'}[path]
    return text.replace(needle, f"{needle}{value}, {needle}", 1).encode()


REFUSED.update({f"duplicate-key-in-{p}": _dup(p) for p in ("top", "critical", "image", "identity", "optional")})


@pytest.mark.parametrize("name", list(REFUSED), ids=list(REFUSED))
def test_malformed_payload_refused(name: str) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        parse_simple_payload(REFUSED[name])
    assert info.value.reason == "INVALID_PAYLOAD"
    assert info.value.code == "signature-payload-invalid"


def test_duplicate_reference_cannot_smuggle_second_identity() -> None:
    with pytest.raises(SignatureVerificationError, match="duplicate key 'docker-reference'"):
        parse_simple_payload(_dup("identity"))


def test_error_message_bounds_attacker_text() -> None:
    long_type = "t" * 10_000
    with pytest.raises(SignatureVerificationError) as info:
        parse_simple_payload(_with(lambda d: d["critical"].update(type=long_type)))
    assert len(str(info.value)) < 400


def test_only_the_verify_function_parses_payloads() -> None:
    # A parsed payload must only ever come from a cryptographically verified message.
    package = Path(__file__).resolve().parents[3] / "trustcopy"
    callers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"\bparse_simple_payload\b", path.read_text(encoding="utf-8"))
    }
    assert callers <= {"signature/payload.py", "signature/simple.py"}, callers
