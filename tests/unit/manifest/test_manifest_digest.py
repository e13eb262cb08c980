"""Manifest digests: plain hashes, signed schema1 (JWS) stripping, MatchesDigest, skopeo parity.

Vectors: containers/image manifest_test.go (TestDigest, TestMatchesDigest) and
fixtures_info_test.go; JWS edge cases whose outcome was checked against libtrust
(containers/image 5.23 built with Go 1.19) and, in the ``skopeo`` tests below, against
``skopeo manifest-digest`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest._jwk import key_id
from trustcopy.manifest.digest import manifest_digest, matches_digest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest" / "go-manifest"
V2S2_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
V2S1_DIGEST = "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000"
EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(("name", "expected"), [
    ("v2s2.manifest.json", V2S2_DIGEST),
    ("v2s1.manifest.json", V2S1_DIGEST),
    ("v2s1-unsigned.manifest.json", V2S1_DIGEST),
])
def test_go_digest_vectors(name: str, expected: str) -> None:
    assert str(manifest_digest(fixture(name))) == expected


def test_signed_and_unsigned_schema1_share_a_digest_because_signatures_are_stripped() -> None:
    assert manifest_digest(fixture("v2s1.manifest.json")) == manifest_digest(fixture("v2s1-unsigned.manifest.json"))
    assert Digest.from_bytes(fixture("v2s1.manifest.json")) != manifest_digest(fixture("v2s1.manifest.json"))


def test_empty_input_is_hashed_as_is() -> None:
    assert str(manifest_digest(b"")) == EMPTY_DIGEST


def test_unparseable_signature_block_has_no_digest() -> None:
    with pytest.raises(ManifestError) as info:
        manifest_digest(fixture("v2s1-invalid-signatures.manifest.json"))
    assert info.value.code == "manifest-signature-format"
    assert "signatures" in str(info.value)


def test_other_algorithms_hash_the_same_payload() -> None:
    raw = fixture("v2s1.manifest.json")
    payload = fixture("v2s1-unsigned.manifest.json").rstrip()
    assert manifest_digest(raw, "sha512") == Digest.from_bytes(payload, "sha512")
    with pytest.raises(ValueError, match="unsupported"):
        manifest_digest(raw, "md5")


@pytest.mark.parametrize(("name", "expected", "result"), [
    ("v2s2.manifest.json", V2S2_DIGEST, True),
    ("v2s1.manifest.json", V2S1_DIGEST, True),
    ("v2s2.manifest.json", V2S1_DIGEST, False),
    ("v2s1.manifest.json", V2S2_DIGEST, False),
    ("v2s2.manifest.json", "md5:2872f31c5c1f62a694fbd20c1e85257c", False),
    ("v2s2.manifest.json", V2S2_DIGEST + "abc", False),
    ("v2s2.manifest.json", V2S2_DIGEST[:20], False),
    ("v2s2.manifest.json", "", False),
], ids=["s2", "s1", "switched-s2", "switched-s1", "md5", "too-long", "truncated", "empty"])
def test_go_matches_digest_vectors(name: str, expected: str, result: bool) -> None:
    assert matches_digest(fixture(name), expected) is result
    if result:
        assert matches_digest(fixture(name), Digest.parse(expected)) is True


def test_matches_digest_with_sha512_uses_that_algorithm() -> None:
    raw = fixture("v2s2.manifest.json")
    assert matches_digest(raw, Digest.from_bytes(raw, "sha512")) is True


def test_signed_manifest_with_broken_signatures_matches_nothing_even_its_own_hash() -> None:
    raw = fixture("v2s1-invalid-signatures.manifest.json")
    with pytest.raises(ManifestError):
        matches_digest(raw, Digest.from_bytes(raw))
    with pytest.raises(ManifestError):
        matches_digest(raw, "md5:2872f31c5c1f62a694fbd20c1e85257c")


def test_empty_manifest_matches_empty_digest() -> None:
    assert matches_digest(b"", EMPTY_DIGEST) is True


# --- Pretty-JWS vectors, built from the unsigned fixture ---------------------------------

UNSIGNED = fixture("v2s1-unsigned.manifest.json").rstrip()
BODY = UNSIGNED[:-1].rstrip()  # everything before the closing brace
TAIL = UNSIGNED[len(BODY):]  # "\n}"
PAYLOAD_DIGEST = Digest.from_bytes(UNSIGNED)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def protected(**fields: Any) -> str:
    return b64(json.dumps(fields).encode())


GOOD = protected(formatLength=len(BODY), formatTail=b64(TAIL), time="2016-04-18T20:54:42Z")


def ec_jwk(curve: ec.EllipticCurve | None = None, crv: str = "P-256", size: int = 32,
           kid: str | None = "auto") -> dict[str, Any]:
    key = ec.derive_private_key(0x5EED, curve or ec.SECP256R1()).public_key()
    numbers = key.public_numbers()
    jwk: dict[str, Any] = {"crv": crv, "kty": "EC", "x": b64(numbers.x.to_bytes(size, "big")),
                           "y": b64(numbers.y.to_bytes(size, "big"))}
    if kid == "auto":
        jwk["kid"] = key_id(key.public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo))
    elif kid is not None:
        jwk["kid"] = kid
    return jwk


def rsa_jwk(*, private_exponent: bool = False) -> dict[str, Any]:
    key = rsa.generate_private_key(65537, 1024).public_key()
    n = key.public_numbers().n
    jwk: dict[str, Any] = {"kty": "RSA", "n": b64(n.to_bytes((n.bit_length() + 7) // 8, "big")), "e": "AQAB",
                           "kid": key_id(key.public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))}
    if private_exponent:
        jwk["d"] = "AQAB"
    return jwk


_NO_JWK = object()


def sig(prot: str = GOOD, jwk: Any = _NO_JWK, **extra: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "ES256"}
    if jwk is not _NO_JWK:
        header["jwk"] = jwk
    return {"header": header, "signature": "AAAA", "protected": prot, **extra}


def jws(signatures: Any) -> bytes:
    return BODY + b',\n   "signatures": ' + json.dumps(signatures).encode() + b"\n}"


OK, ERROR = "payload", "error"
JWS_VECTORS: list[tuple[str, Callable[[], bytes], str]] = [
    ("ec-p256-with-kid", lambda: jws([sig(jwk=ec_jwk())]), OK),
    ("ec-without-kid", lambda: jws([sig(jwk=ec_jwk(kid=None))]), OK),
    ("ec-wrong-kid", lambda: jws([sig(jwk=ec_jwk(kid="AAAA:BBBB"))]), ERROR),
    ("ec-kid-null", lambda: jws([sig(jwk={**ec_jwk(kid=None), "kid": None})]), ERROR),
    ("ec-p384", lambda: jws([sig(jwk=ec_jwk(ec.SECP384R1(), "P-384", 48))]), OK),
    ("ec-p521", lambda: jws([sig(jwk=ec_jwk(ec.SECP521R1(), "P-521", 66))]), OK),
    ("ec-coordinates-wrong-length-for-curve", lambda: jws([sig(jwk=ec_jwk(ec.SECP521R1(), "P-384", 66))]), ERROR),
    ("ec-off-curve-point-with-empty-kid-like-libtrust",
     lambda: jws([sig(jwk={**ec_jwk(kid=None), "x": b64(b"\x01" * 32), "kid": ""})]), OK),
    ("rsa-with-kid", lambda: jws([sig(jwk=rsa_jwk())]), OK),
    ("rsa-with-private-exponent", lambda: jws([sig(jwk=rsa_jwk(private_exponent=True))]), ERROR),
    ("jwk-null", lambda: jws([sig(jwk=None)]), ERROR),
    ("jwk-absent", lambda: jws([sig()]), OK),
    ("jwk-unsupported-kty", lambda: jws([sig(jwk={"kty": "oct"})]), ERROR),
    ("jwk-not-an-object", lambda: jws([sig(jwk=[])]), ERROR),
    ("no-signatures-means-empty-payload", lambda: jws([]), EMPTY_DIGEST),
    ("two-consistent-signatures", lambda: jws([sig(), sig()]), OK),
    ("conflicting-format-length", lambda: jws([sig(), sig(protected(formatLength=len(BODY) + 1,
                                                                  formatTail=b64(TAIL)))]), ERROR),
    ("zero-length-first-then-real-length", lambda: jws([sig(protected(formatLength=0, formatTail="")), sig()]), OK),
    ("conflicting-format-tail", lambda: jws([sig(), sig(protected(formatLength=len(BODY), formatTail="eA"))]), ERROR),
    ("fractional-format-length-truncates",
     lambda: jws([sig(protected(formatLength=len(BODY) + 0.7, formatTail=b64(TAIL)))]), OK),
    ("format-length-as-string", lambda: jws([sig(protected(formatLength=str(len(BODY)), formatTail=b64(TAIL)))]),
     ERROR),
    ("format-length-missing", lambda: jws([sig(protected(formatTail=b64(TAIL)))]), ERROR),
    ("format-length-beyond-end", lambda: jws([sig(protected(formatLength=10**9, formatTail=b64(TAIL)))]), ERROR),
    ("format-tail-missing", lambda: jws([sig(protected(formatLength=len(BODY)))]), ERROR),
    ("format-tail-padded", lambda: jws([sig(protected(formatLength=len(BODY), formatTail=b64(TAIL) + "="))]), OK),
    ("format-tail-with-spaces-and-newlines",
     lambda: jws([sig(protected(formatLength=len(BODY), formatTail="C n\n0"))]), OK),
    ("format-tail-standard-alphabet", lambda: jws([sig(protected(formatLength=len(BODY), formatTail="+/"))]), ERROR),
    ("format-tail-bad-length", lambda: jws([sig(protected(formatLength=len(BODY), formatTail="C"))]), ERROR),
    ("protected-not-base64", lambda: jws([sig("!!!!")]), ERROR),
    ("protected-null", lambda: jws([sig(b64(b"null"))]), ERROR),
    ("protected-missing", lambda: jws([{"header": {}, "signature": "AAAA"}]), ERROR),
    ("protected-number-out-of-range",
     lambda: jws([sig(b64(b'{"formatLength":5,"formatTail":"","x":1e400}'))]), ERROR),
    ("x5c-not-a-list", lambda: jws([sig(header={"x5c": "x"})]), ERROR),
    ("field-names-case-insensitive", lambda: jws([{"Header": {}, "PROTECTED": GOOD}]), OK),
    ("signature-not-an-object", lambda: jws([5]), ERROR),
    ("signatures-not-a-list", lambda: jws({"a": 1}), ERROR),
    ("signatures-key-in-other-case-is-not-found-by-libtrust",
     lambda: BODY + b',"Signatures": []}', ERROR),
]


def _expected_digest(kind: str, raw: bytes) -> str:
    if kind == OK:
        return str(PAYLOAD_DIGEST)
    return kind


@pytest.mark.parametrize(("build", "kind"), [(b, k) for _, b, k in JWS_VECTORS], ids=[i for i, _, _ in JWS_VECTORS])
def test_jws_payload_stripping_matches_libtrust(build: Callable[[], bytes], kind: str) -> None:
    raw = build()
    if kind == ERROR:
        with pytest.raises(ManifestError) as info:
            manifest_digest(raw)
        assert info.value.code == "manifest-signature-format"
    else:
        assert str(manifest_digest(raw)) == _expected_digest(kind, raw)


def test_null_signatures_make_an_unsigned_manifest_hashed_whole() -> None:
    raw = BODY + b',"signatures": null}'
    assert manifest_digest(raw) == Digest.from_bytes(raw)


def test_tampering_with_the_payload_changes_the_digest() -> None:
    raw = fixture("v2s1.manifest.json").replace(b'"tag": "latest"', b'"tag": "latesT"')
    assert manifest_digest(raw) != Digest.parse(V2S1_DIGEST)


def test_signature_block_changes_do_not_change_the_digest() -> None:
    raw = fixture("v2s1.manifest.json").replace(b'"alg": "ES256"', b'"alg": "ES384"')
    assert str(manifest_digest(raw)) == V2S1_DIGEST


# --- The real skopeo ------------------------------------------------------------------------

def _skopeo_digest(path: Path) -> str:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    done = subprocess.run([skopeo, "manifest-digest", str(path)], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ERROR


def _ours(raw: bytes) -> str:
    try:
        return str(manifest_digest(raw))
    except ManifestError:
        return ERROR


@pytest.mark.skopeo
@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_fixture_digest_equals_skopeo_manifest_digest(name: str) -> None:
    assert _ours(fixture(name)) == _skopeo_digest(FIXTURES / name)


@pytest.mark.skopeo
@pytest.mark.parametrize("build", [b for _, b, _ in JWS_VECTORS], ids=[i for i, _, _ in JWS_VECTORS])
def test_jws_vector_digest_equals_skopeo_manifest_digest(build: Callable[[], bytes], tmp_path: Path) -> None:
    raw = build()
    path = tmp_path / "manifest.json"
    path.write_bytes(raw)
    assert _ours(raw) == _skopeo_digest(path)


def test_payload_digest_is_sha256_of_unsigned_bytes() -> None:
    assert PAYLOAD_DIGEST.hex == hashlib.sha256(UNSIGNED).hexdigest()
    assert str(PAYLOAD_DIGEST) == V2S1_DIGEST


@pytest.mark.parametrize("depth", [250, 100_000])
def test_absurdly_nested_json_gets_no_digest_rather_than_a_guess(depth: int) -> None:
    """Go would still decide signed-or-not; we refuse instead of risking a different answer."""
    raw = b'{"schemaVersion":1,"signatures":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ManifestError, match="nested"):
        manifest_digest(raw)


def test_non_json_bytes_are_hashed_as_they_are() -> None:
    assert manifest_digest(b"\x00not json{") == Digest.from_bytes(b"\x00not json{")
