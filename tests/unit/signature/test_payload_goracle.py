"""Signature payloads and stored signature blobs against containers/image's own parsers, on generated inputs.

The Go oracle (tests/goracle/signature) runs c/image's strict payload parsers
(``untrustedSignature`` and the sigstore payload, through ``json.Unmarshal`` as the verifiers
call them) and internal/signature's ``FromBlob`` on what hypothesis generates here: payloads
assembled from their parts and from near misses (missing, extra, duplicated, null and
mistyped members, every spelling of a JSON number as a timestamp, escapes, invalid UTF-8,
trailing data), and blobs with every kind of envelope. trustcopy must accept exactly what
c/image accepts, extract the same fields, and refuse the rest for the same kind of reason.

Known differences, each narrow and cited where trustcopy documents it:

- the manifest digest must parse (``digest.Parse``), as the newest c/image requires in the
  parser itself (5.23 leaves it to the verifier's digest check); trustcopy/signature/payload.py;
- the signed reference must parse as a Docker reference (trustcopy/signature/payload.py: only
  the rejection reason changes, since every identity rule parses it);
- a sigstore chunk with a duplicated key is refused (Go lets the last one win):
  trustcopy/signature/formats.py, ``_sigstore_members`` and ``_no_duplicates``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.formats import SigstoreSignature, SimpleSigning, signature_from_blob
from trustcopy.signature.payload import SIGNATURE_TYPE, parse_payload_of_type
from trustcopy.signature.sigstore import SIGNATURE_TYPE as COSIGN_TYPE

pytestmark = pytest.mark.goracle

HEX = "0123456789abcdef"
D0 = "sha256:" + "0" * 64


oracle = oracle_fixture("signature", "containers/image's signature package")


# -- JSON text with duplicates, raw numbers and raw bytes ------------------------------------------


class Raw:
    """A JSON fragment written as is (a number's spelling, invalid bytes, a broken token)."""

    def __init__(self, text: bytes) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text!r})"


class Obj(list[tuple[Any, Any]]):
    """A JSON object as (key, value) pairs, so that duplicates can be written."""


def render(value: Any, space: bytes = b"") -> bytes:
    """JSON bytes of ``value`` (Obj, list, str, int, bool, None or Raw)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        return b"{" + space + b",".join(render(k, space) + b":" + space + render(v, space) for k, v in value) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(render(v, space) for v in value) + b"]"
    return json.dumps(value).encode()


def _has_duplicates(data: bytes) -> bool:
    """Whether some JSON object in ``data`` repeats a key (or two top-level keys name one Go field)."""
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        keys = ["".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in k) for k, _ in pairs]  # as Go reads them
        found = found or len(set(keys)) != len(keys)
        return dict(zip(keys, (v for _, v in pairs), strict=True))

    try:
        document = json.loads(data.decode("utf-8", errors="surrogateescape"), object_pairs_hook=hook)
    except ValueError:
        return False
    if isinstance(document, dict):  # the sigstore chunk's fields, as Go matches them
        fields = [k.replace("\u017f", "s").replace("\u212a", "k").lower() for k in document]
        found = found or len(set(fields)) != len(fields)
    return found


# -- payload strategies ---------------------------------------------------------------------------

digest_texts = st.one_of(
    st.builds(lambda h: "sha256:" + h, st.text(alphabet=HEX, min_size=64, max_size=64)),
    st.sampled_from([D0, "sha512:" + "b" * 128, "sha384:" + "c" * 96, "sha256:" + "a" * 63, "sha256:" + "A" * 64,
                     "md5:" + "d" * 32, "sha256:", "", "sha256", ":" + "0" * 64, "sha256+b64:abc",
                     "SHA256:" + "0" * 64]),
)
reference_texts = st.sampled_from([
    "docker.io/library/busybox:latest", "busybox", "example.com/ns/app@" + D0, "localhost:5000/a/b:c",
    "Busybox", "", "a//b", "example.com/app:", "registry:65536/x", "quay.io/x/y:1.0", "x" * 300,
])
number_texts = st.one_of(
    st.sampled_from(["0", "-0", "1", "-1", "1.5", "1.0", "1e3", "1E+2", "1e-2", "-1.5e1", "0.0", "1700000000",
                     "9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                     "-9223372036854775809", "1e308", "1e309", "-1e400", "2e18", "1.0000000000000002",
                     "00", "01", "1.", ".5", "+1", "0x10", "NaN", "Infinity", "-", "1e", "9" * 400]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
plain_strings = st.text(max_size=8)
# Strings as raw JSON bytes: escapes Python and Go decode differently unless handled
# (lone surrogates), and invalid UTF-8, which Go's decoder turns into U+FFFD.
raw_strings = st.sampled_from([
    b'"\\ud800"', b'"a\\udc00b"', b'"\\ud83d\\ude00"', b'"\xff"', b'"a\xc3"', b'"\xed\xa0\x80"', b'"\xe2\x82A"',
    b'"\\u0000"', b'"tab\\there"', b'"\x01"', b'"\\x"', b'"unterminated', b"'single'",
]).map(Raw)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | plain_strings | number_texts.map(lambda t: Raw(t.encode())) | raw_strings,
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(st.tuples(st.sampled_from(["a", "b", "creator"]), inner), max_size=3).map(Obj),
    max_leaves=6,
)


def _member(draw: st.DrawFn, key: str, good: Any) -> list[tuple[Any, Any]]:
    """``key: good`` usually; sometimes missing, doubled, null, mistyped, or under another name."""
    choice = draw(st.integers(0, 12))
    if choice == 0:
        return []
    if choice == 1:
        return [(key, good), (key, good)]
    if choice == 2:
        return [(key, None)]
    if choice == 3:
        return [(key, draw(json_values))]
    if choice == 4:
        return [(draw(st.sampled_from([key.upper(), key.capitalize(), key + " ", ""])), good)]
    if choice == 5:
        return [(Raw(b'"' + "".join(f"\\u{ord(c):04x}" for c in key).encode() + b'"'), good)]  # escaped key
    return [(key, good)]


@st.composite
def payloads(draw: st.DrawFn, signature_type: str) -> bytes:
    """A payload document built from its parts, sometimes bent out of shape."""
    image = Obj(_member(draw, "docker-manifest-digest", draw(digest_texts)))
    identity = Obj(_member(draw, "docker-reference", draw(reference_texts)))
    sig_type = draw(st.sampled_from([signature_type, signature_type, SIGNATURE_TYPE, COSIGN_TYPE,
                                     signature_type.upper(), ""]))
    critical_members = [*_member(draw, "type", sig_type), *_member(draw, "image", image),
                        *_member(draw, "identity", identity)]
    if draw(st.integers(0, 9)) == 0:
        critical_members.append((draw(st.sampled_from(["extra", "optional", "Type"])), draw(json_values)))
    critical_members = draw(st.permutations(critical_members))
    optional_members: list[tuple[Any, Any]] = []
    if draw(st.booleans()):
        optional_members.append(("creator", draw(st.one_of(plain_strings, raw_strings, json_values))))
    if draw(st.booleans()):
        optional_members.append(("timestamp", Raw(draw(number_texts).encode())
                                 if draw(st.integers(0, 4)) else draw(json_values)))
    optional_members += draw(st.lists(st.tuples(st.sampled_from(["x", "annotations", "creator", "timestamp"]),
                                                json_values), max_size=2))
    optional: Any = Obj(draw(st.permutations(optional_members)))
    if draw(st.integers(0, 9)) == 0:
        optional = draw(st.sampled_from([None, [], "x", Raw(b"1")]))
    top = [*_member(draw, "critical", Obj(critical_members)), *_member(draw, "optional", optional)]
    if draw(st.integers(0, 9)) == 0:
        top.append(("extra", draw(json_values)))
    text = render(Obj(draw(st.permutations(top))), draw(st.sampled_from([b"", b" ", b"\n\t"])))
    tail = draw(st.sampled_from([b"", b"", b"", b" \n", b"x", b"{}", b"\x00", b"]"]))
    return text + tail


# -- comparing ------------------------------------------------------------------------------------


def _go_class(message: str) -> str:
    """The kind of fault a c/image parser error names."""
    lowered = message.lower()
    if "duplicate key" in lowered:
        return "duplicate"
    if "unknown key" in lowered:
        return "unknown-key"
    if "missing in a json object" in lowered:
        return "missing"
    if "not is not an integer" in lowered or "not an integer" in lowered:
        return "timestamp"
    if "unrecognized signature type" in lowered:
        return "type"
    return "json"  # syntax, or a value of the wrong JSON type


def _our_class(message: str) -> str:
    if "duplicate key" in message:
        return "duplicate"
    if "unknown key" in message:
        return "unknown-key"
    if "missing" in message and "key" in message:
        return "missing"
    if "optional.timestamp is not an integer" in message:
        return "timestamp"
    if "Unrecognized signature type" in message:
        return "type"
    if "docker-manifest-digest value" in message:
        return "digest"
    if "Invalid docker reference" in message:
        return "reference"
    return "json"


def _valid_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"), parse_constant=lambda name: 1 / 0)
    except (ValueError, ZeroDivisionError):
        return False
    return True


def _compare_payload(oracle: Oracle, op: str, data: bytes) -> None:
    signature_type = SIGNATURE_TYPE if op == "simple" else COSIGN_TYPE
    go = oracle.ask({"op": op, "data": base64.b64encode(data).decode()})
    try:
        ours = parse_payload_of_type(data, signature_type, null_optional=op == "sigstore")
    except SignatureVerificationError as exc:
        assert exc.code == "signature-payload-invalid"
        mine = _our_class(exc.message)
        if "error" not in go:
            # Known differences (trustcopy/signature/payload.py): an unparsable digest (the
            # newest c/image refuses it in this parser too), an unparsable reference.
            if mine == "digest":
                assert not go["digest_parses"], f"{data!r}: c/image's digest.Parse accepts {go['digest']!r}"
            else:
                assert mine == "reference" and not go["reference_parses"], (
                    f"{data!r}: c/image accepts it ({go}), we refuse: {exc.message}")
            return
        theirs = _go_class(go["error"])
        if mine == "digest":
            # We got past the type and the image: the newest c/image checks the digest right
            # there, before the identity that 5.23 went on to refuse.
            return
        if mine == "reference":
            pytest.fail(f"{data!r}: c/image refuses it ({go['error']}), we find only the reference wrong")
        if _valid_json(data) and mine != "json" and theirs != "json":
            assert mine == theirs, f"{data!r}: c/image says {go['error']!r}, we {exc.message!r}"
        return
    assert "error" not in go, f"{data!r}: we accept it ({ours}), c/image refuses: {go['error']}"
    assert go["digest_parses"] and go["reference_parses"]
    theirs_fields = (go["digest"], go["reference"], go.get("creator"), go.get("timestamp"))
    mine_fields = (str(ours.untrusted_docker_manifest_digest), ours.untrusted_docker_reference,
                   ours.untrusted_creator_id, ours.untrusted_timestamp)
    assert mine_fields == theirs_fields, repr(data)


def _good(optional: bytes, *, digest: str = D0, reference: str = "busybox", type_: str = SIGNATURE_TYPE) -> bytes:
    return (b'{"critical":{"type":"' + type_.encode() + b'","image":{"docker-manifest-digest":"' + digest.encode()
            + b'"},"identity":{"docker-reference":"' + reference.encode() + b'"}},"optional":' + optional + b"}")


@given(payloads(SIGNATURE_TYPE))
@example(_good(b'{"creator":"x","timestamp":1700000000}'))
@example(_good(b'{"timestamp":1e3}'))
@example(_good(b'{"timestamp":1.5}'))
@example(_good(b'{"timestamp":9223372036854775807}'))
@example(_good(b'{"timestamp":-9223372036854775808}'))
@example(_good(b'{"timestamp":9007199254740993}'))
@example(_good(b'{"timestamp":1e400}'))
@example(_good(b'{"timestamp":null,"creator":null}'))
@example(_good(b'{"creator":"a\xffb"}'))  # invalid UTF-8 in a string: Go reads U+FFFD
@example(_good(b'{"creator":"\xed\xa0\x80\xe2\x82A"}'))
@example(_good(b'{"x":"\xff"}'))
@example(_good(b'{"a\xff":1,"a\xfe":2}'))  # one key for Go (both read as "a\ufffd"): a duplicate
@example(_good(b'{"\\ud800":1,"\\udbff":2}'))
@example(_good(b'{"x":1e400}'))
@example(_good(b"null"))
@example(_good(b"{}", digest="sha256:" + "A" * 64))
@example(_good(b"{}", reference="Busybox"))
@example(b'{"critical":{"type":"atomic container signature","image":{},"identity":{}},"optional":{}}')
@example(b'{"optional":{"creator":1,"creator":"x"},"critical":{}}')
def test_simple_payload_agrees_with_containers_image(oracle: Oracle, data: bytes) -> None:
    _compare_payload(oracle, "simple", data)


@given(payloads(COSIGN_TYPE))
@example(_good(b"null", type_=COSIGN_TYPE))
@example(_good(b" null", type_=COSIGN_TYPE))
@example(_good(b'{"creator":"c\xff","timestamp":2}', type_=COSIGN_TYPE))
@example(_good(b"{}", type_=SIGNATURE_TYPE))
def test_sigstore_payload_agrees_with_containers_image(oracle: Oracle, data: bytes) -> None:
    _compare_payload(oracle, "sigstore", data)


# -- signature blobs ------------------------------------------------------------------------------

b64_texts = st.one_of(
    st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from(["YWJj", "YWJ", "YQ==", "YQ=", "YQ===", "YQ==YQ==", "YW\nJj", "YW\rJj", "YW Jj", "Y-_j",
                     "YWJj\n", "=", "", "YR==", "\u00e9"]),
)
annotation_maps = st.one_of(
    st.lists(st.tuples(st.sampled_from(["dev.cosignproject.cosign/signature", "k", "K", "\u212a", "a\\ud800"]),
                       st.one_of(plain_strings, st.none(), raw_strings, json_values)), max_size=3).map(Obj),
    json_values,
)
field_names = {"mimeType": ["mimeType", "mimetype", "MIMETYPE", "MimeType"],
               "payload": ["payload", "Payload", "PAYLOAD"],
               # Go matches field names case-insensitively, folding "\u017f" (long s) onto "s"
               "annotations": ["annotations", "Annotations", "annotation\u017f", "ANNOTATIONS"]}


@st.composite
def sigstore_chunks(draw: st.DrawFn) -> bytes:
    members: list[tuple[Any, Any]] = []
    for field, names in field_names.items():
        good = {"mimeType": draw(st.sampled_from(["application/vnd.dev.cosign.simplesigning.v1+json", "", "x"])),
                "payload": draw(b64_texts), "annotations": draw(annotation_maps)}[field]
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            name = draw(st.sampled_from(names))
            value = good if draw(st.integers(0, 5)) else draw(json_values)
            members.append((name, value))
    if draw(st.booleans()):
        members.append((draw(st.sampled_from(["extra", "x", "mime_type"])), draw(json_values)))
    chunk = render(Obj(draw(st.permutations(members))))
    return chunk if draw(st.integers(0, 9)) else draw(st.sampled_from([b"[]", b"null", b"", b"{", b'"x"', b"{} x"]))


@st.composite
def blobs(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=8))
    if kind == 1:
        first = draw(st.sampled_from([0xA0, 0xA3, 0xC8, 0x90, 0x92, 0x93, 0x3D, 0xC4, 0x88, 0x8B, 0xC2, 0xC3, 0x8C,
                                      0x7B, 0x2D]))
        return bytes([first]) + draw(st.binary(max_size=8))
    name = draw(st.sampled_from([b"sigstore-json", b"sigstore-json", b"simple-signing", b"other", b"",
                                 b"sigstore-json ", b"SIGSTORE-JSON", b"a\x7fb", b"\x1fx", b"caf\xc3\xa9"]))
    newline = draw(st.sampled_from([b"\n", b"\n", b"\n", b"", b"\r\n"]))
    return b"\x00" + name + newline + draw(sigstore_chunks())


def _compare_blob(oracle: Oracle, blob: bytes) -> None:
    go = oracle.ask({"op": "blob", "data": base64.b64encode(blob).decode()})
    try:
        sig = signature_from_blob(blob)
    except SignatureVerificationError as exc:
        if "error" not in go:
            # Known difference (trustcopy/signature/formats.py): a duplicated key, or two keys
            # naming one field, which Go silently resolves to the last value, is refused.
            assert _has_duplicates(blob.partition(b"\n")[2]), f"{blob!r}: c/image reads it as {go}, we refuse: {exc}"
        return
    assert "error" not in go, f"{blob!r}: we read it as {sig}, c/image refuses: {go['error']}"
    payload = base64.b64decode(go.get("payload") or "")
    if isinstance(sig, SimpleSigning):
        assert (go["format"], payload) == ("simple-signing", sig.untrusted_blob), repr(blob)
        return
    assert isinstance(sig, SigstoreSignature)
    ours = ("sigstore-json", sig.untrusted_mime_type, sig.untrusted_payload, dict(sig.untrusted_annotations))
    assert ours == (go["format"], go.get("mime", ""), payload, go.get("annotations") or {}), repr(blob)


@given(blobs())
@example(b"\x00sigstore-json\n" + b'{"mimeType":"m","payload":"YWJj","annotations":{"k":"v"}}')
@example(b"\x00sigstore-json\n" + b'{"MIMETYPE":"m","PAYLOAD":"YW\\nJj","Annotations":{"k":null}}')
@example(b"\x00sigstore-json\n" + b'{"mimeType":"m\xff","annotations":{"k\xfe":"v\xff"}}')  # invalid UTF-8
@example(b"\x00sigstore-json\n" + b'{"annotations":{"a\xff":"1","a\xfe":"2"}}')  # one key for Go: last wins
@example(b"\x00sigstore-json\n" + b'{"payload":"YQ==="}')
@example(b"\x00sigstore-json\n" + b'{"payload":null,"mimeType":null,"annotations":null}')
@example(b"\x00sigstore-json\n" + b'{"x":1e400}')
@example(b"\x00sigstore-json\nnull")  # Go: every member zero (was refused)
@example(b"\x00sigstore-json\n" + b'{"payload":[97,98,null,255]}')  # Go's []byte from an array (was refused)
@example(b"\x00sigstore-json\n" + b'{"payload":[256]}')
@example(b"\x00sigstore-json\n" + b'{"payload":[-0]}')
@example(b"\x00sigstore-json\n" + b'{"payload":[1.0]}')
@example(b"\x00sigstore-json\n" + b'{"payload":["a"]}')
@example(b"\x00sigstore-json\n null ")
@example(b"\x00sigstore-json\n[]")
@example(b"\x00simple-signing\n\x88abc")
@example(b"\x00sigstore-json")
@example(b"\x3d\x00")
def test_signature_blob_agrees_with_containers_image(oracle: Oracle, blob: bytes) -> None:
    _compare_blob(oracle, blob)


def test_fixed_vectors() -> None:
    """The payloads and blobs c/image accepts that trustcopy used to refuse, without the oracle."""
    digest = D0
    payload = parse_payload_of_type(_good(b'{"creator":"a\xffb\xe2\x82A"}'), SIGNATURE_TYPE, null_optional=False)
    assert payload.untrusted_creator_id == "a\ufffdb\ufffd\ufffdA"
    assert str(payload.untrusted_docker_manifest_digest) == digest
    for keys in (b'{"a\xff":1,"a\xfe":2}', b'{"\\ud800":1,"\\udbff":2}'):
        with pytest.raises(SignatureVerificationError, match="duplicate key"):
            parse_payload_of_type(_good(keys), SIGNATURE_TYPE, null_optional=False)
    empty = signature_from_blob(b"\x00sigstore-json\nnull")
    assert isinstance(empty, SigstoreSignature)
    assert (empty.untrusted_mime_type, empty.untrusted_payload, dict(empty.untrusted_annotations)) == ("", b"", {})
    array = signature_from_blob(b'\x00sigstore-json\n{"payload":[97,98,null]}')
    assert isinstance(array, SigstoreSignature) and array.untrusted_payload == b"ab\x00"
    sig = signature_from_blob(b'\x00sigstore-json\n{"mimeType":"m\xff","annotations":{"k\xfe":"v"}}')
    assert isinstance(sig, SigstoreSignature)
    assert (sig.untrusted_mime_type, dict(sig.untrusted_annotations)) == ("m\ufffd", {"k\ufffd": "v"})
