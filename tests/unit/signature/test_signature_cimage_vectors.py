"""containers/image's signature-format test vectors not already ported elsewhere.

Sources (Go tests of containers/image 5.23 under /usr/share/gocode and, where they differ,
the newest containers/image): ``signature/internal/json_test.go``,
``signature/simple_test.go``, ``signature/internal/sigstore_payload_test.go``,
``signature/internal/rekor_set_test.go``, ``signature/docker_test.go`` and
``internal/signature/*_test.go``. Vectors are restated here; c/i's fixtures are read in
place from Debian's golang-github-containers-image-dev. Where trustcopy deliberately
differs (always by refusing more), the case says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigstore_material import ec_key, pub_pem, sign

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, SignatureError, SignatureVerificationError, TrustcopyError
from trustcopy.signature.formats import (
    SigstoreSignature,
    SimpleSigning,
    signature_from_blob,
    signature_to_blob,
    stored_signature,
)
from trustcopy.signature.payload import build_simple_payload, parse_payload_of_type, parse_simple_payload
from trustcopy.signature.sigstore import SIGNATURE_ANNOTATION, load_public_keys, verify_sigstore
from trustcopy.signature.sigstore_rekor import match_hashedrekord

CI = Path("/usr/share/gocode/src/github.com/containers/image")
CI_FIXTURES = CI / "signature" / "fixtures"
CI_INTERNAL_TESTDATA = CI / "signature" / "internal" / "testdata"
OUR_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "signature"

TEST_DIGEST = "sha256:" + "a" * 64
COSIGN_TYPE = "cosign container image signature"
# signature/internal/fixtures_info_test.go
SIGSTORE_MANIFEST_DIGEST = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
SIGSTORE_REFERENCE = "192.168.64.2:5000/cosign-signed-single-sample"
# signature/fixtures_info_test.go
IMAGE_MANIFEST_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
IMAGE_REFERENCE = "testing/manifest"
KEY_FINGERPRINT = "08CD26E446E2E95249B7A405E932F44B23E8DD43"


def _payload(*, digest: str = TEST_DIGEST, reference: str = "busybox", sig_type: str = "atomic container signature",
             optional: str = "{}") -> bytes:
    """A payload written as literal JSON text (so that any member can be mangled)."""
    return (f'{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":'
            f'"{digest}"}},"type":"{sig_type}"}},"optional":{optional}}}').encode()


def _refused(data: bytes, parse: Callable[[bytes], Any] = parse_simple_payload) -> SignatureVerificationError:
    with pytest.raises(SignatureVerificationError) as info:
        parse(data)
    assert info.value.reason == "INVALID_PAYLOAD"
    return info.value


# --- signature/internal/json_test.go: TestParanoidUnmarshalJSONObject(ExactFields) ---------------
# The payload parser is c/i's ParanoidUnmarshalJSONObjectExactFields at every level; each of the
# Go table's failing inputs is placed at the top level and as the "critical.image" object.

PARANOID_FAILURES = {
    "empty-input": "",
    "entirely-invalid-json": "&",
    "not-an-object": "1",
    "invalid-key-json": "{&}",
    "key-not-a-string": "{1:1}",
    "invalid-value-json": '{"docker-manifest-digest":&}',
    "extra-data-after-object": '{"docker-manifest-digest":"' + TEST_DIGEST + '"}{}',
    "unknown-key": '{"docker-manifest-digest":"' + TEST_DIGEST + '","thisisunknown":1}',
    "duplicate-key": '{"docker-manifest-digest":"' + TEST_DIGEST + '","docker-manifest-digest":"' + TEST_DIGEST + '"}',
    "type-mismatch": '{"docker-manifest-digest":1}',
    "missing-key": "{}",
}


@pytest.mark.parametrize("name", list(PARANOID_FAILURES), ids=list(PARANOID_FAILURES))
def test_paranoid_object_failures_in_a_nested_object(name: str) -> None:
    image = PARANOID_FAILURES[name]
    data = _payload().replace(b'{"docker-manifest-digest":"' + TEST_DIGEST.encode() + b'"}', image.encode(), 1)
    assert data != _payload()
    _refused(data)


@pytest.mark.parametrize("text", ["", "&", "1", "{&}", "{1:1}", '{"critical":&}', "{}", "null", "[]", '""'],
                         ids=repr)
def test_paranoid_object_failures_at_the_top(text: str) -> None:
    _refused(text.encode())


def test_paranoid_extra_data_after_the_top_object_but_whitespace_is_fine() -> None:
    # dec.Token() must then return io.EOF; JSON whitespace is not data.
    assert parse_simple_payload(_payload() + b" \t\r\n").untrusted_docker_reference == "busybox"
    for trailer in (b"{}", b"\x00", b"1", b"x"):
        _refused(_payload() + trailer)


# --- signature/simple_test.go TestUnmarshalJSON (newest: digest.Parse) ----------------------------

DIGESTS = {
    # go-digest's Parse: a registered algorithm, its exact length, lower-case hex.
    "sha256": ("sha256:" + "a" * 64, True),
    "sha384": ("sha384:" + "a" * 96, True),
    "sha512": ("sha512:" + "a" * 128, True),
    "newest-break-fn-path-traversal": ("sha256:../..", False),
    "5.23-vector-digest!@#": ("digest!@#", False),  # c/i 5.23 accepted any string; newest parses it
    "short": ("sha256:" + "a" * 63, False),
    "long": ("sha256:" + "a" * 65, False),
    "upper-case-hex": ("sha256:" + "A" * 64, False),
    "unregistered-algorithm": ("md5:" + "a" * 32, False),
    "unknown-algorithm": ("foo:" + "a" * 64, False),
    "algorithm-with-encoding": ("sha256+b64:" + "a" * 64, False),
    "empty": ("", False),
    "algorithm-only": ("sha256:", False),
}


@pytest.mark.parametrize("name", list(DIGESTS), ids=list(DIGESTS))
def test_docker_manifest_digest_is_parsed(name: str) -> None:
    digest, ok = DIGESTS[name]
    if ok:
        assert parse_simple_payload(_payload(digest=digest)).untrusted_docker_manifest_digest == Digest.parse(digest)
    else:
        assert "docker-manifest-digest" in _refused(_payload(digest=digest)).message


TIMESTAMPS = {
    # Go decodes into float64, then requires float64(int64(t)) == t.
    "exponent": ("1e3", 1000),
    "negative-zero": ("-0", 0),
    "negative": ("-1", -1),
    "beyond-float64-precision-rounds-as-go": ("9007199254740993", 9007199254740992),
    "int64-min": ("-9223372036854775808", -(1 << 63)),
    "int64-max-rounds-to-2^63": ("9223372036854775807", None),
    "2^63": ("9223372036854775808", None),
    "1e19": ("1e19", None),
    "fraction": ("0.5", None),
    "float64-overflow": ("1e400", None),
}


@pytest.mark.parametrize("name", list(TIMESTAMPS), ids=list(TIMESTAMPS))
def test_optional_timestamp_numbers(name: str) -> None:
    text, expected = TIMESTAMPS[name]
    data = _payload(optional='{"timestamp":' + text + "}")
    if expected is None:
        _refused(data)
    else:
        assert parse_simple_payload(data).untrusted_timestamp == expected


def test_strings_decode_as_go_decodes_them() -> None:
    # Go's decoder turns each lone surrogate escape into U+FFFD and joins a valid pair.
    parsed = parse_simple_payload(_payload(optional='{"creator":"a\\ud800b\\udc00\\ud83d\\ude00"}'))
    assert parsed.untrusted_creator_id == "a\ufffdb\ufffd\U0001f600"
    parsed.untrusted_creator_id.encode("utf-8")  # printable: no lone surrogate survives
    # An escaped character in "type" still compares equal to the constant.
    assert parse_simple_payload(_payload(sig_type="atomic container signatur\\u0065")).untrusted_docker_reference
    # Keys are compared exactly (this is not a Go struct, there is no case folding).
    _refused(_payload().replace(b'"critical"', b'"Critical"'))


@pytest.mark.parametrize("where", ["critical", "image", "identity"])
def test_null_objects_are_refused(where: str) -> None:
    # json.RawMessage("null") is not an object for ParanoidUnmarshalJSONObject.
    data = {"critical": b'{"critical":null,"optional":{}}',
            "image": _payload().replace(b'{"docker-manifest-digest":"' + TEST_DIGEST.encode() + b'"}', b"null"),
            "identity": _payload().replace(b'{"docker-reference":"busybox"}', b"null")}[where]
    _refused(data)


def test_5_23_marshal_vectors_with_invalid_values_cannot_be_parsed_back() -> None:
    # TestMarshalJSON signs "digest!@#" / "reference#@!"; building takes a Digest, so only the
    # reference can be written, and trustcopy refuses an unparsable reference when parsing.
    # Deliberate: c/i leaves that to the identity rules, which all reject it anyway.
    built = build_simple_payload(Digest.parse(TEST_DIGEST), "reference#@!", creator=None, timestamp=None)
    assert built == _payload(reference="reference#@!")
    assert "Invalid docker reference" in _refused(built).message


# --- signature/internal/sigstore_payload_test.go -------------------------------------------------


@pytest.mark.parametrize(("creator", "timestamp", "optional"), [
    ("CREATOR", 1484683104, b'{"creator":"CREATOR","timestamp":1484683104}'),
    (None, None, b"{}"),
])
def test_untrusted_sigstore_payload_marshal_json(creator: str | None, timestamp: int | None, optional: bytes) -> None:
    built = build_simple_payload(Digest.parse(TEST_DIGEST), "reference#@!", creator=creator, timestamp=timestamp,
                                 signature_type=COSIGN_TYPE)
    assert built == _payload(reference="reference#@!", sig_type=COSIGN_TYPE, optional=optional.decode())


def _cosign(data: bytes) -> Any:
    return parse_payload_of_type(data, COSIGN_TYPE, null_optional=True)


def test_untrusted_sigstore_payload_unmarshal_cosign_written_payload() -> None:
    data = (b'{"critical":{"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-multi"},"image":'
            b'{"docker-manifest-digest":"sha256:43955d6857268cc948ae9b370b221091057de83c4962da0826f9a2bdc9bd6b44"},'
            b'"type":"cosign container image signature"},"optional":null}')
    parsed = _cosign(data)
    assert parsed.untrusted_docker_reference == "192.168.64.2:5000/cosign-signed-multi"
    assert str(parsed.untrusted_docker_manifest_digest) == (
        "sha256:43955d6857268cc948ae9b370b221091057de83c4962da0826f9a2bdc9bd6b44")
    assert (parsed.untrusted_creator_id, parsed.untrusted_timestamp) == (None, None)
    # …while a simple-signing payload may not have a null "optional".
    _refused(data.replace(COSIGN_TYPE.encode(), b"atomic container signature"))


def _mutated(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(_payload(sig_type=COSIGN_TYPE, optional='{"creator":"c","timestamp":1}'))
    mutate(doc)
    return json.dumps(doc).encode()


SIGSTORE_BREAK_FNS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing-critical": lambda v: v.pop("critical"),
    "missing-optional": lambda v: v.pop("optional"),
    "extra-top-level": lambda v: v.update(unexpected=1),
    "critical-not-object": lambda v: v.update(critical=1),
    "optional-not-object": lambda v: v.update(optional=1),
    "missing-type": lambda v: v["critical"].pop("type"),
    "missing-image": lambda v: v["critical"].pop("image"),
    "missing-identity": lambda v: v["critical"].pop("identity"),
    "extra-critical": lambda v: v["critical"].update(unexpected=1),
    "type-not-string": lambda v: v["critical"].update(type=1),
    "type-unexpected": lambda v: v["critical"].update(type="unexpected"),
    "type-simple-signing": lambda v: v["critical"].update(type="atomic container signature"),
    "image-not-object": lambda v: v["critical"].update(image=1),
    "missing-digest": lambda v: v["critical"]["image"].pop("docker-manifest-digest"),
    "extra-image": lambda v: v["critical"]["image"].update(unexpected=1),
    "digest-not-string": lambda v: v["critical"]["image"].update({"docker-manifest-digest": 1}),
    "digest-path-traversal": lambda v: v["critical"]["image"].update({"docker-manifest-digest": "sha256:../.."}),
    "identity-not-object": lambda v: v["critical"].update(identity=1),
    "missing-reference": lambda v: v["critical"]["identity"].pop("docker-reference"),
    "extra-identity": lambda v: v["critical"]["identity"].update(unexpected=1),
    "reference-not-string": lambda v: v["critical"]["identity"].update({"docker-reference": 1}),
    "creator-not-string": lambda v: v["optional"].update(creator=1),
    "timestamp-string": lambda v: v["optional"].update(timestamp="unexpected"),
    "timestamp-fractional": lambda v: v["optional"].update(timestamp=0.5),
}


@pytest.mark.parametrize("name", list(SIGSTORE_BREAK_FNS), ids=list(SIGSTORE_BREAK_FNS))
def test_untrusted_sigstore_payload_break_fns(name: str) -> None:
    _refused(_mutated(SIGSTORE_BREAK_FNS[name]), _cosign)


def test_untrusted_sigstore_payload_unknown_optional_member_ignored() -> None:
    parsed = _cosign(_mutated(lambda v: v["optional"].update(unexpected=1)))
    assert (parsed.untrusted_creator_id, parsed.untrusted_timestamp) == ("c", 1)


# TestVerifySigstorePayload, through verify_sigstore, with c/i's valid.signature and cosign.pub.


def _ci_sigstore() -> SigstoreSignature:
    sig = signature_from_blob((CI_INTERNAL_TESTDATA / "valid.signature").read_bytes())
    assert isinstance(sig, SigstoreSignature)
    return sig


class Recorder:
    """c/i's recordingRules: records what reached each callback; rejects unwanted values."""

    def __init__(self, reference: str = SIGSTORE_REFERENCE, digest: str = SIGSTORE_MANIFEST_DIGEST) -> None:
        self.wanted = (reference, digest)
        self.reference: str | None = None
        self.digest: str | None = None

    def check_reference(self, value: str) -> None:
        self.reference = value
        if value != self.wanted[0]:
            raise SignatureVerificationError("signedDockerReference mismatch", reason="IDENTITY_MISMATCH")

    def check_digest(self, value: Digest) -> None:
        self.digest = str(value)
        if str(value) != self.wanted[1]:
            raise SignatureVerificationError("signedDockerManifestDigest mismatch", reason="DIGEST_MISMATCH")


def _verify(sig: SigstoreSignature, keys: list[bytes], rec: Recorder) -> Any:
    root = load_public_keys(keys, [f"key-{i}" for i in range(len(keys))])
    return verify_sigstore(sig, root, validate_signed_docker_reference=rec.check_reference,
                           validate_signed_docker_manifest_digest=rec.check_digest)


def _with_signature(sig: SigstoreSignature, b64: str, payload: bytes | None = None) -> SigstoreSignature:
    return SigstoreSignature(sig.untrusted_mime_type, sig.untrusted_payload if payload is None else payload,
                             {**sig.untrusted_annotations, SIGNATURE_ANNOTATION: b64})


COSIGN_PUB = CI_INTERNAL_TESTDATA / "cosign.pub"


@pytest.mark.parametrize("order", ["single", "matching-first", "matching-second"])
def test_verify_sigstore_payload_success(order: str) -> None:
    ours, other = COSIGN_PUB.read_bytes(), pub_pem(ec_key())
    keys = {"single": [ours], "matching-first": [ours, other], "matching-second": [other, ours]}[order]
    rec = Recorder()
    verified = _verify(_ci_sigstore(), keys, rec)
    assert (verified.docker_reference, str(verified.docker_manifest_digest)) == (SIGSTORE_REFERENCE,
                                                                                 SIGSTORE_MANIFEST_DIGEST)
    assert (verified.creator, verified.timestamp) == (None, None)
    assert (rec.reference, rec.digest) == (SIGSTORE_REFERENCE, SIGSTORE_MANIFEST_DIGEST)


def _bad_b64(valid: str) -> dict[str, str]:
    return {"invalid-characters": "&", "extra-padding": valid + "=", "truncated": valid[:-1]}


@pytest.mark.parametrize("case", ["invalid-characters", "extra-padding", "truncated", "empty-signature",
                                  "garbage-signature", "doubled-signature", "nonmatching-key",
                                  "nonmatching-key-twice"])
def test_verify_sigstore_payload_signature_failures_reach_no_callback(case: str) -> None:
    sig = _ci_sigstore()
    valid = sig.untrusted_annotations[SIGNATURE_ANNOTATION]
    raw = base64.b64decode(valid)
    keys = [COSIGN_PUB.read_bytes()]
    if case in ("nonmatching-key", "nonmatching-key-twice"):
        other = pub_pem(ec_key())
        keys = [other] if case == "nonmatching-key" else [other, other]
    elif case in _bad_b64(valid):
        sig = _with_signature(sig, _bad_b64(valid)[case])
    else:
        mangled = {"empty-signature": b"", "garbage-signature": b"invalid signature", "doubled-signature": raw * 2}
        sig = _with_signature(sig, base64.b64encode(mangled[case]).decode())
    rec = Recorder()
    with pytest.raises(SignatureVerificationError) as info:
        _verify(sig, keys, rec)
    assert info.value.reason == "INVALID_SIGNATURE"
    assert (rec.reference, rec.digest) == (None, None)


def test_verify_sigstore_payload_without_keys_is_refused() -> None:
    with pytest.raises(SignatureError):
        load_public_keys([], [])


@pytest.mark.parametrize(("payload", "b64"), [
    # Valid signatures by cosign.pub's key over payloads that are not valid (the Go test's vectors).
    (b"&", "MEUCIARnnxZQPALBfqkB4aNAYXad79Qs6VehcrgIeZ8p7I2FAiEAzq2HXwXlz1iJeh+ucUR3L0zpjynQk6Rk0+/gXYp49RU="),
    (b"{}", "MEUCIQDkySOBGxastVP0+koTA33NH5hXjwosFau4rxTPN6g48QIgb7eWKkGqfEpHMM3aT4xiqyP/170jEkdFuciuwN4mux4="),
], ids=["not-json", "empty-object"])
def test_verify_sigstore_payload_signed_invalid_payload(payload: bytes, b64: str) -> None:
    rec = Recorder()
    with pytest.raises(SignatureVerificationError) as info:
        _verify(_with_signature(_ci_sigstore(), b64, payload), [COSIGN_PUB.read_bytes()], rec)
    assert info.value.reason == "INVALID_PAYLOAD"
    assert (rec.reference, rec.digest) == (None, None)


def test_verify_sigstore_payload_callback_order() -> None:
    rec = Recorder(digest="sha256:" + "b" * 64)
    with pytest.raises(SignatureVerificationError) as info:
        _verify(_ci_sigstore(), [COSIGN_PUB.read_bytes()], rec)
    assert info.value.reason == "DIGEST_MISMATCH"
    assert (rec.reference, rec.digest) == (None, SIGSTORE_MANIFEST_DIGEST)  # the digest is checked first

    rec = Recorder(reference="unexpected docker reference")
    with pytest.raises(SignatureVerificationError) as info:
        _verify(_ci_sigstore(), [COSIGN_PUB.read_bytes()], rec)
    assert info.value.reason == "IDENTITY_MISMATCH"
    assert (rec.reference, rec.digest) == (SIGSTORE_REFERENCE, SIGSTORE_MANIFEST_DIGEST)


# --- internal/signature/*_test.go: FromBlob / Blob -------------------------------------------------


def test_blob_simple_signing_c_image_testdata() -> None:
    # TestBlobSimpleSigning
    data = (CI / "internal" / "signature" / "testdata" / "simple.signature").read_bytes()
    sig = signature_from_blob(data)
    assert sig == SimpleSigning(data)
    assert signature_to_blob(sig) == data
    assert signature_from_blob(b"\x00simple-signing\n" + data) == SimpleSigning(data)


def test_blob_sigstore_round_trip() -> None:
    # TestBlobSigstore, TestSigstoreBlobChunk
    sig = SigstoreSignature("mime-type", b"payload", {"a": "b", "c": "d"})
    blob = signature_to_blob(sig)
    assert blob.startswith(b"\x00sigstore-json\n{")
    assert json.loads(blob.split(b"\n", 1)[1]) == {"mimeType": "mime-type", "payload": "cGF5bG9hZA==",
                                                   "annotations": {"a": "b", "c": "d"}}
    assert signature_from_blob(blob) == sig


def test_sigstore_from_blob_chunk() -> None:
    # TestSigstoreFromBlobChunk (note the space inside the JSON)
    blob = b'\x00sigstore-json\n{"mimeType":"mime-type","payload":"cGF5bG9hZA==", "annotations":{"a":"b","c":"d"}}'
    assert signature_from_blob(blob) == SigstoreSignature("mime-type", b"payload", {"a": "b", "c": "d"})
    with pytest.raises(SignatureVerificationError):
        signature_from_blob(b"\x00sigstore-json\n&")


@pytest.mark.parametrize("blob", [b"", b"\xffsimple-signing\nhello", b"\x00simple-signing", b"\x00format\xffname\ndata",
                                  b"\x00unknown-format\ndata"], ids=repr)
def test_from_blob_invalid(blob: bytes) -> None:
    # TestFromBlobInvalid
    with pytest.raises(SignatureVerificationError) as info:
        signature_from_blob(blob)
    assert info.value.reason == "UNSUPPORTED_FORMAT"


H = b"\x00sigstore-json\n"
# sigstoreFromBlobChunk is Go's json.Unmarshal into a struct: field names match in any letter
# case (encoding/json foldName, including the runes that fold onto ASCII letters), unknown
# members are ignored, []byte is standard base64 with CR/LF skipped, a null map value is "",
# and a lone surrogate escape reads as U+FFFD.
GO_UNMARSHAL = {
    "field-names-any-case": (b'{"MimeType":"m","PAYLOAD":"cA==","Annotations":{"a":"b"}}',
                             SigstoreSignature("m", b"p", {"a": "b"})),
    "long-s-folds-onto-s": ('{"annotation\u017f":{"a":"b"}}'.encode(), SigstoreSignature("", b"", {"a": "b"})),
    "dotted-capital-i-folds-onto-i": ('{"m\u0130meType":"x"}'.encode(), SigstoreSignature("x", b"", {})),
    "unknown-member-ignored": (b'{"x":1,"payload":"cA=="}', SigstoreSignature("", b"p", {})),
    "base64-with-newlines": (b'{"payload":"cG\\nE=\\r\\n"}', SigstoreSignature("", b"pa", {})),
    "null-members": (b'{"mimeType":null,"payload":null,"annotations":null}', SigstoreSignature("", b"", {})),
    "null-annotation-value": (b'{"annotations":{"a":null}}', SigstoreSignature("", b"", {"a": ""})),
    "lone-surrogates": (b'{"mimeType":"\\udc00","annotations":{"\\ud800k":"v\\ud800"}}',
                        SigstoreSignature("\ufffd", b"", {"\ufffdk": "v\ufffd"})),
}


@pytest.mark.parametrize("name", list(GO_UNMARSHAL), ids=list(GO_UNMARSHAL))
def test_sigstore_chunk_decodes_as_go_json_unmarshal(name: str) -> None:
    chunk, expected = GO_UNMARSHAL[name]
    sig = signature_from_blob(H + chunk)
    assert sig == expected
    assert dict(sig.untrusted_annotations) == dict(expected.untrusted_annotations)  # (not part of ==)
    # Re-storing writes what c/i's Blob writes: nothing is lost, nothing unencodable.
    assert signature_from_blob(signature_to_blob(sig)) == sig


@pytest.mark.parametrize("chunk", [
    b'{"payload":"cA==","PAYLOAD":"cQ=="}',  # Go: the last wins; deliberately refused
    b'{"annotations":{"a":"1","a":"2"}}',  # Go: the last wins; deliberately refused
    b'{"annotations":{"\\ud800":"1","\\udc00":"2"}}',  # two keys that Go reads as the same
    b'{"payload":"cG E="}',  # Go's base64 skips only CR and LF
    b'{"payload":"-_8="}',  # URL-safe alphabet
    b'{"payload":"cGE"}',  # padding required
    b'{"annotations":{"a":1}}',
    b'{"annotations":[]}',
    b'{"mimeType":"a"} {}',
], ids=repr)
def test_sigstore_chunks_refused(chunk: bytes) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        signature_from_blob(H + chunk)
    assert info.value.reason == "UNSUPPORTED_FORMAT"
    unknown = stored_signature(H + chunk)  # kept, and copied, byte for byte
    assert signature_to_blob(unknown) == H + chunk


# --- signature/internal/rekor_set_test.go: spec.data.hash.value ----------------------------------


def _hashedrekord(value: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    key = ec_key()
    payload = b"payload"
    sig = sign(key, payload)
    body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": value}},
        "signature": {"content": base64.b64encode(sig).decode(),
                      "publicKey": {"content": base64.b64encode(pub_pem(key)).decode()}}}}
    from trustcopy.signature.sigstore_keys import public_key_der

    return body, public_key_der(key.public_key()), sig, payload


def test_rekor_hash_value_must_be_plain_hex() -> None:
    digest = hashlib.sha256(b"payload").hexdigest()
    for ok in (digest, digest.upper()):  # Go's hex.DecodeString accepts both cases
        body, der, sig, payload = _hashedrekord(ok)
        match_hashedrekord(body, der, sig, payload)
    spaced = " ".join(digest[i:i + 2] for i in range(0, 64, 2))
    for bad in (digest[:-1], spaced, digest + " ", "", "zz" + digest[2:]):
        body, der, sig, payload = _hashedrekord(bad)
        with pytest.raises(SignatureVerificationError) as info:
            match_hashedrekord(body, der, sig, payload)
        assert info.value.reason == "REKOR_SET_INVALID"


# --- signature/docker_test.go: VerifyImageManifestSignatureUsingKeyIdentityList -----------------

needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")

STANDALONE = {
    # case: (signature fixture, manifest fixture, expected reference, fingerprints, reason or None)
    "success": ("image.signature", "image.manifest.json", IMAGE_REFERENCE, [KEY_FINGERPRINT], None),
    "other-canonicalization": ("image.signature", "image.manifest.json", "docker.io/" + IMAGE_REFERENCE,
                               [KEY_FINGERPRINT], None),
    "key-in-a-list": ("image.signature", "image.manifest.json", IMAGE_REFERENCE,
                      ["0123456789ABCDEF0123456789ABCDEF01234567", KEY_FINGERPRINT], None),
    "invalid-reference-on-input": ("image.signature", "image.manifest.json", "UPPERCASEISINVALID",
                                   [KEY_FINGERPRINT], "invalid-reference"),
    "error-computing-manifest-digest": ("image.signature", "v2s1-invalid-signatures.manifest.json",
                                        IMAGE_REFERENCE, [KEY_FINGERPRINT], "manifest"),
    "corrupt-signature": ("corrupt.signature", "image.manifest.json", IMAGE_REFERENCE, [KEY_FINGERPRINT],
                          "INVALID_SIGNATURE"),
    "fingerprint-mismatch": ("image.signature", "image.manifest.json", IMAGE_REFERENCE,
                             ["0123456789ABCDEF0123456789ABCDEF01234567"], "UNTRUSTED_KEY"),
    "invalid-reference-in-signature": ("invalid-reference.signature", "image.manifest.json", IMAGE_REFERENCE,
                                       [KEY_FINGERPRINT], "INVALID_PAYLOAD"),
    "reference-mismatch": ("image.signature", "image.manifest.json", "example.com/does-not/match",
                           [KEY_FINGERPRINT], "IDENTITY_MISMATCH"),
    "digest-mismatch": ("image.signature", None, IMAGE_REFERENCE, [KEY_FINGERPRINT], "DIGEST_MISMATCH"),
}


@needs_gpg
@pytest.mark.parametrize("case", list(STANDALONE), ids=list(STANDALONE))
def test_verify_image_manifest_signature_using_key_identity_list(case: str) -> None:
    from trustcopy.signature.standalone import standalone_verify

    sig_name, manifest_name, reference, fingerprints, reason = STANDALONE[case]
    signature = (OUR_FIXTURES / sig_name).read_bytes()
    manifest = b"unexpected manifest" if manifest_name is None else (CI_FIXTURES / manifest_name).read_bytes()
    keys = (OUR_FIXTURES / "public-key.gpg").read_bytes()  # the test key (c/i 5.23 ships another export)
    if reason is None:
        verified = standalone_verify(manifest, reference, fingerprints, signature, public_keys=keys)
        assert (verified.docker_reference, str(verified.docker_manifest_digest)) == (IMAGE_REFERENCE,
                                                                                     IMAGE_MANIFEST_DIGEST)
        assert verified.key_fingerprint == KEY_FINGERPRINT
        return
    with pytest.raises(TrustcopyError) as info:  # the class depends on the case, checked below
        standalone_verify(manifest, reference, fingerprints, signature, public_keys=keys)
    if reason == "manifest":  # c/i returns manifest.MatchesDigest's error as it is
        assert isinstance(info.value, ManifestError), info.value
        return
    assert isinstance(info.value, SignatureError), info.value
    if reason == "invalid-reference":
        assert info.value.code == "invalid-reference"
    else:
        assert isinstance(info.value, SignatureVerificationError)
        assert info.value.reason == reason, info.value.message
