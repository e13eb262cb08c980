"""Signature blob envelopes (c/i internal/signature FromBlob/Blob) and OpenPGP framing checks."""

from __future__ import annotations

import base64
import bz2
import json
import zlib
from pathlib import Path

import pytest

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.signature.formats import (
    SigstoreSignature,
    SimpleSigning,
    data_hidden_after_compressed_message,
    signature_from_blob,
    signature_to_blob,
    starts_like_a_message,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "signature"
SIGSTORE_JSON = (
    b'{"mimeType":"application/vnd.dev.cosign.simplesigning.v1+json","payload":"cGF5bG9hZA==",'
    b'"annotations":{"a":"1","b":"2"}}'
)


@pytest.mark.parametrize("first", [0xA0, 0xA1, 0xA2, 0xA3, 0xC8, 0x90, 0x91, 0x92, 0x3D, 0xC4, 0x88, 0x89, 0x8A,
                                   0x8B, 0xC2], ids=lambda b: f"{b:#04x}")
def test_openpgp_first_bytes_are_simple_signing(first: int) -> None:
    blob = bytes([first]) + b"rest"
    sig = signature_from_blob(blob)
    assert sig == SimpleSigning(blob)
    assert sig.format_id == "simple-signing"


def test_c_image_fixture_is_simple_signing_and_round_trips() -> None:
    blob = (FIXTURES / "image.signature").read_bytes()
    sig = signature_from_blob(blob)
    assert isinstance(sig, SimpleSigning)
    assert signature_to_blob(sig) == blob  # no envelope for simple signing (old dir: stores)


def test_enveloped_simple_signing_is_unwrapped() -> None:
    assert signature_from_blob(b"\x00simple-signing\n\xa3abc") == SimpleSigning(b"\xa3abc")


def test_sigstore_envelope_parses_and_round_trips_byte_exact() -> None:
    blob = b"\x00sigstore-json\n" + SIGSTORE_JSON
    sig = signature_from_blob(blob)
    assert isinstance(sig, SigstoreSignature)
    assert sig.untrusted_mime_type == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert sig.untrusted_payload == b"payload"
    assert dict(sig.untrusted_annotations) == {"a": "1", "b": "2"}
    assert signature_to_blob(sig) == blob


def test_sigstore_annotations_are_read_only_and_unknown_ones_kept() -> None:
    sig = SigstoreSignature("m", b"p", {"dev.example/unknown": "kept"})
    with pytest.raises(TypeError):
        sig.untrusted_annotations["x"] = "y"  # type: ignore[index]
    assert b"dev.example/unknown" in signature_to_blob(sig)


def test_sigstore_missing_members_are_go_zero_values() -> None:
    sig = signature_from_blob(b"\x00sigstore-json\n{}")
    assert sig == SigstoreSignature("", b"", {})


UNSUPPORTED = {
    "empty": b"",
    "text": b"hello",
    "armored-openpgp": b"-----BEGIN PGP MESSAGE-----\n",
    "json": b'{"critical": {}}',
    "old-format-one-pass-0x93-not-in-c-image-list": b"\x93abc",
    "envelope-without-newline": b"\x00sigstore-json",
    "envelope-control-byte": b"\x00sig\x01store\n{}",
    "envelope-non-ascii": b"\x00sig\xc3\xa9\n{}",
    "envelope-unknown-format": b"\x00x509\n{}",
    "sigstore-not-json": b"\x00sigstore-json\n{",
    "sigstore-not-object": b"\x00sigstore-json\n[]",
    "sigstore-bad-base64": b'\x00sigstore-json\n{"payload": "***"}',
    "sigstore-payload-not-string": b'\x00sigstore-json\n{"payload": 1}',
    "sigstore-annotation-not-string": b'\x00sigstore-json\n{"annotations": {"a": 1}}',
    "sigstore-duplicate-member": b'\x00sigstore-json\n{"payload": "", "payload": "cA=="}',
}


@pytest.mark.parametrize("name", list(UNSUPPORTED), ids=list(UNSUPPORTED))
def test_unrecognized_blob_refused(name: str) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        signature_from_blob(UNSUPPORTED[name])
    assert info.value.reason == "UNSUPPORTED_FORMAT"
    assert isinstance(info.value, SignatureError)


def test_to_blob_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError):
        signature_to_blob(b"raw")  # type: ignore[arg-type]


def test_signature_types_validate_their_fields() -> None:
    with pytest.raises(TypeError):
        SimpleSigning("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SigstoreSignature("m", b"p", {"a": 1})  # type: ignore[dict-item]


# --- data hidden after a compressed message (gpg ignores it) --------------------------------------


def _compressed(algorithm: int, inner: bytes, trailing: bytes = b"") -> bytes:
    if algorithm == 1:
        c = zlib.compressobj(wbits=-15)
        data = c.compress(inner) + c.flush()
    elif algorithm == 2:
        data = zlib.compress(inner)
    else:
        data = bz2.compress(inner)
    return b"\xa3" + bytes([algorithm]) + data + trailing


@pytest.mark.parametrize("algorithm", [1, 2, 3], ids=["zip", "zlib", "bzip2"])
def test_trailing_data_after_compressed_stream_is_found(algorithm: int) -> None:
    assert data_hidden_after_compressed_message(_compressed(algorithm, b"inner"), 1 << 20) == b""
    assert data_hidden_after_compressed_message(_compressed(algorithm, b"inner", b"\xa3second"), 1 << 20) == (
        b"\xa3second"
    )


def test_c_image_double_signature_hides_a_second_message() -> None:
    single = (FIXTURES / "image.signature").read_bytes()
    assert data_hidden_after_compressed_message(single, 1 << 20) == b""
    assert data_hidden_after_compressed_message((FIXTURES / "double.signature").read_bytes(), 1 << 20) == single


def test_new_format_partial_lengths_are_reassembled() -> None:
    c = zlib.compressobj(wbits=-15)
    body = b"\x01" + c.compress(b"x" * 100) + c.flush() + b"TRAIL"
    # first chunk as a 2-byte partial length (0xE1 = 2 bytes), rest as a one-octet length
    blob = b"\xc8" + b"\xe1" + body[:2] + bytes([len(body) - 2]) + body[2:]
    assert data_hidden_after_compressed_message(blob, 1 << 20) == b"TRAIL"


@pytest.mark.parametrize("blob", [b"", b"\x00", b"\xa3", b"\xa3\x01garbage", b"\xa3\x07xx", b"\xa0\x05ab",
                                  b"\xc8\xff\x00"], ids=repr)
def test_malformed_or_uncompressed_messages_are_left_to_gpg(blob: bytes) -> None:
    assert data_hidden_after_compressed_message(blob, 1 << 20) == b""


def test_decompression_is_bounded() -> None:
    bomb = _compressed(1, b"a" * (8 << 20), b"\xa3tail")
    assert data_hidden_after_compressed_message(bomb, 1 << 20) == b""  # gave up at the cap; gpg's cap rejects


@pytest.mark.parametrize(("data", "expected"), [
    ((FIXTURES / "image.signature").read_bytes(), True),  # what double.signature hides
    (b"\xa3\x01rest", True),  # old format, compressed data, indeterminate length
    (b"\x88\x03abc", True),  # old format, signature, 1-octet length that fits
    (b"\x88\x05abc", False),  # ... that does not
    (b"\x90\x00\x02ab", True),  # old format, one-pass signature, 2-octet length
    (b"\xcb\x03abc", True),  # new format, literal data
    (b"\xcb\x05abc", False),
    (b"\xcb\xc0\x00" + b"x" * 192, True),  # two-octet length 192
    (b"\xcb\xff\x00\x00\x00\x02ab", True),  # five-octet length
    (b"\xcb\xe1ab", True),  # partial body: a 2-byte first chunk
    (b"\xcb\xe2ab", False),
    (b"\x99\x00\x01a", False),  # old format tag 6: a public key, not a message
    (b"\xff\x12\x34", False),  # new format tag 63
    (b"\x7f\x01\x02", False),  # no packet tag bit: the leftover of a damaged deflate stream
    (b"", False),
], ids=repr)
def test_what_looks_like_a_second_message(data: bytes, expected: bool) -> None:
    assert starts_like_a_message(data) is expected


def test_sigstore_payload_base64_is_standard_padding() -> None:
    sig = SigstoreSignature("m", b"\xff\xfe", {})
    chunk = signature_to_blob(sig).split(b"\n", 1)[1]
    assert json.loads(chunk)["payload"] == base64.b64encode(b"\xff\xfe").decode()
