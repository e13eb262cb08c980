"""Encrypted layers (trustcopy.ocicrypt): skopeo's own output decrypts, ours round-trips, tampering fails;
the digest sealed in the key is that of the bytes encrypted, and is never what a decryption trusts.

The vector in tests/fixtures/ocicrypt was written by skopeo 1.9.3 (containers/ocicrypt) for
an RSA and an EC key; tests/integration/test_encryption_skopeo.py checks the other direction
(skopeo decrypting what trustcopy encrypted).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from trustcopy import ocicrypt
from trustcopy.errors import DigestMismatchError, EncryptionError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocicrypt"
VECTOR = json.loads((FIXTURES / "skopeo-1.9.3-layer.json").read_text())


def _read_all(stream: Any) -> bytes:
    out = b""
    while chunk := stream.read(1000):
        out += chunk
    return out


@pytest.mark.parametrize("key", ["rsa.pem", "ec.pem"])
def test_a_layer_skopeo_encrypted_decrypts_with_either_recipient(key: str) -> None:
    layer = VECTOR["encrypted"]
    opened = ocicrypt.LayerDecryption.open(layer["annotations"], (ocicrypt.load_decryption_key(str(FIXTURES / key)),),
                                           "layer")
    assert opened.sealed_digest == VECTOR["plaintext"]["digest"]
    plain = _read_all(opened.stream(io.BytesIO((FIXTURES / "skopeo-1.9.3-layer.enc").read_bytes())))
    assert plain == (FIXTURES / "skopeo-1.9.3-layer.plain").read_bytes()
    assert ocicrypt.decrypted_media_type(layer["mediaType"]) == VECTOR["plaintext"]["mediaType"]


def _keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Fresh RSA and EC (every JWE curve) key pairs, PEM files."""
    out = {}
    for name, key in [("rsa", rsa.generate_private_key(65537, 2048)), ("p256", ec.generate_private_key(ec.SECP256R1())),
                      ("p384", ec.generate_private_key(ec.SECP384R1())),
                      ("p521", ec.generate_private_key(ec.SECP521R1()))]:
        private = tmp_path / f"{name}.pem"
        public = tmp_path / f"{name}.pub"
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
        out[name] = (private, public)
    return out


def _encrypt(data: bytes, recipients: tuple[ocicrypt.Recipient, ...]) -> tuple[bytes, dict[str, str]]:
    layer = ocicrypt.LayerEncryption.new(recipients)
    stream = layer.stream(io.BytesIO(data))
    ciphertext = _read_all(stream)
    return ciphertext, layer.annotations(stream)


def test_round_trip_for_several_recipients_each_opening_it_alone(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    data = b"layer bytes " * 5000
    recipients = tuple(ocicrypt.load_encryption_key(f"jwe:{public}") for _, public in keys.values())
    ciphertext, annotations = _encrypt(data, recipients)
    assert len(ciphertext) == len(data) and ciphertext != data  # CTR: same length, other bytes
    public = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_PUBOPTS]))
    assert public["cipher"] == "AES_256_CTR_HMAC_SHA256" and public["cipheroptions"] == {}
    jwe = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_JWE]))
    assert [r["header"]["alg"] for r in jwe["recipients"]] == ["RSA-OAEP"] + ["ECDH-ES+A256KW"] * 3
    for private, _ in keys.values():
        opened = ocicrypt.LayerDecryption.open(annotations, (ocicrypt.load_decryption_key(str(private)),), "x")
        assert _read_all(opened.stream(io.BytesIO(ciphertext))) == data


def test_two_encryptions_of_one_layer_share_no_key_or_bytes(tmp_path: Path) -> None:
    _, public = _keys(tmp_path)["p256"]
    recipient = (ocicrypt.load_encryption_key(f"jwe:{public}"),)
    first, second = _encrypt(b"same" * 100, recipient), _encrypt(b"same" * 100, recipient)
    assert first[0] != second[0]
    assert first[1][ocicrypt.ANNOTATION_JWE] != second[1][ocicrypt.ANNOTATION_JWE]


def test_a_key_that_is_not_a_recipient_opens_nothing(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    _, annotations = _encrypt(b"x" * 100, (ocicrypt.load_encryption_key(f"jwe:{keys['rsa'][1]}"),))
    others = tuple(ocicrypt.load_decryption_key(str(private)) for name, (private, _) in keys.items() if name != "rsa")
    with pytest.raises(EncryptionError) as info:
        ocicrypt.LayerDecryption.open(annotations, others, "oci:x:1: layer sha256:abc")
    assert info.value.code == "decryption-no-key"
    assert info.value.message == "oci:x:1: layer sha256:abc: none of the --decryption-key keys can open this layer"


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


def test_altered_ciphertext_fails_at_its_end_with_the_hmac(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)["rsa"]
    ciphertext, annotations = _encrypt(b"y" * 10_000, (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    opened = ocicrypt.LayerDecryption.open(annotations, (ocicrypt.load_decryption_key(str(private)),), "L")
    with pytest.raises(DigestMismatchError) as info:
        _read_all(opened.stream(io.BytesIO(_flip(ciphertext, 5000))))
    assert info.value.code == "layer-decryption-failed" and "fails its HMAC" in info.value.message


def test_a_forged_hmac_or_wrapped_key_is_refused(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)["p256"]
    key = (ocicrypt.load_decryption_key(str(private)),)
    ciphertext, annotations = _encrypt(b"z" * 1000, (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    pub = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_PUBOPTS]))
    pub["hmac"] = base64.b64encode(bytes(32)).decode()
    forged = {**annotations, ocicrypt.ANNOTATION_PUBOPTS: base64.b64encode(json.dumps(pub).encode()).decode()}
    with pytest.raises(DigestMismatchError, match="fails its HMAC"):
        _read_all(ocicrypt.LayerDecryption.open(forged, key, "L").stream(io.BytesIO(ciphertext)))
    jwe = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_JWE]))
    jwe["ciphertext"] = jwe["ciphertext"][:-2] + ("A" if jwe["ciphertext"][-2] != "A" else "B") + jwe["ciphertext"][-1]
    altered = {**annotations, ocicrypt.ANNOTATION_JWE: base64.b64encode(json.dumps(jwe).encode()).decode()}
    with pytest.raises(EncryptionError) as info:
        ocicrypt.LayerDecryption.open(altered, key, "L")
    assert info.value.code == "encryption-metadata-invalid" and "fails authentication" in info.value.message


@pytest.mark.parametrize(("annotations", "code"), [
    ({}, "decryption-no-key"),
    ({"org.opencontainers.image.enc.keys.pgp": "abc"}, "decryption-no-key"),
    ({ocicrypt.ANNOTATION_JWE: "not base64!"}, "encryption-metadata-invalid"),
    ({ocicrypt.ANNOTATION_JWE: base64.b64encode(b"[1]").decode()}, "encryption-metadata-invalid"),
])
def test_malformed_encryption_annotations(tmp_path: Path, annotations: dict[str, str], code: str) -> None:
    private, _ = _keys(tmp_path)["rsa"]
    with pytest.raises(EncryptionError) as info:
        ocicrypt.LayerDecryption.open(annotations, (ocicrypt.load_decryption_key(str(private)),), "L")
    assert info.value.code == code


def test_password_protected_private_keys(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "locked.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"s3cret")))
    assert ocicrypt.load_decryption_key(f"{path}:s3cret").private_numbers() == key.private_numbers()
    with pytest.raises(EncryptionError, match="password-protected: give PATH:PASSWORD"):
        ocicrypt.load_decryption_key(str(path))
    with pytest.raises(EncryptionError, match="the password is wrong"):
        ocicrypt.load_decryption_key(f"{path}:nope")


@pytest.mark.parametrize(("content", "spec", "code"), [
    (b"not a key", "jwe:{p}", "encryption-key-invalid"),
    (None, "jwe:{p}", "encryption-key-invalid"),  # missing file
    (b"x", "pkcs7:{p}", "encryption-key-unsupported"),
    (b"x", "{p}", "encryption-key-invalid"),
])
def test_bad_encryption_keys(tmp_path: Path, content: bytes | None, spec: str, code: str) -> None:
    path = tmp_path / "key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EncryptionError) as info:
        ocicrypt.load_encryption_key(spec.format(p=path))
    assert info.value.code == code


def test_a_public_key_is_not_a_decryption_key() -> None:
    with pytest.raises(EncryptionError) as info:
        ocicrypt.load_decryption_key(str(FIXTURES / "rsa.pub"))
    assert info.value.code == "decryption-key-invalid" and "no RSA or EC private key" in info.value.message


def test_encrypt_layer_indices_count_from_either_end() -> None:
    config = ocicrypt.EncryptionConfig(recipients=(), layers=(0, -1))
    assert config.chosen(3, "img") == {0, 2}
    assert ocicrypt.EncryptionConfig(recipients=()).chosen(3, "img") == {0, 1, 2}
    with pytest.raises(EncryptionError) as info:
        ocicrypt.EncryptionConfig(recipients=(), layers=(3,)).chosen(3, "img")
    assert info.value.code == "encryption-layer-out-of-range"
    assert info.value.message == "img: --encrypt-layer 3 is out of range (3 layers)"


def test_deeply_nested_annotations_are_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    from trustcopy.errors import LimitExceededError

    private, public = _keys(tmp_path)["rsa"]
    _, real = _encrypt(b"x", (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    deep = base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    for hostile in ({ocicrypt.ANNOTATION_JWE: deep}, {**real, ocicrypt.ANNOTATION_PUBOPTS: deep}):
        with pytest.raises(LimitExceededError, match="nested more than"):
            ocicrypt.LayerDecryption.open(hostile, (ocicrypt.load_decryption_key(str(private)),), "L")


def test_the_sealed_digest_is_of_the_bytes_encrypted(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)["p256"]
    data = b"compressed on the way " * 300
    ciphertext, annotations = _encrypt(data, (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    opened = ocicrypt.LayerDecryption.open(annotations, (ocicrypt.load_decryption_key(str(private)),), "L")
    assert opened.sealed_digest == "sha256:" + hashlib.sha256(data).hexdigest()
    stream = opened.stream(io.BytesIO(ciphertext))
    assert _read_all(stream) == data and stream.plaintext_digest == opened.sealed_digest


def test_annotations_of_a_partly_read_layer_are_refused(tmp_path: Path) -> None:
    _, public = _keys(tmp_path)["rsa"]
    layer = ocicrypt.LayerEncryption.new((ocicrypt.load_encryption_key(f"jwe:{public}"),))
    stream = layer.stream(io.BytesIO(b"x" * 5000))
    stream.read(100)
    with pytest.raises(RuntimeError, match="whole stream"):
        layer.annotations(stream)


def _reseal(annotations: dict[str, str], private: Path, public: Path, **changes: object) -> dict[str, str]:
    """``annotations`` with the private options rewrapped after ``changes`` (as another tool could write them)."""
    key = ocicrypt.load_decryption_key(str(private))
    jwe = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_JWE]))
    options = json.loads(ocicrypt._unwrap_one(jwe, (key,), "L") or b"")
    options.update(changes)
    wrapped = ocicrypt._wrap(json.dumps(options).encode(), (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    return {**annotations, ocicrypt.ANNOTATION_JWE: wrapped}


def test_a_layer_containers_image_compressed_before_encrypting_decrypts(tmp_path: Path) -> None:
    # containers/image seals the digest of the blob it read (an uncompressed tar) even when it
    # gzip-compressed that blob before encrypting it: the digest is not the plaintext's.
    private, public = _keys(tmp_path)["rsa"]
    data = b"gzip bytes " * 400
    ciphertext, annotations = _encrypt(data, (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    other = "sha256:" + hashlib.sha256(b"the uncompressed tar").hexdigest()
    opened = ocicrypt.LayerDecryption.open(_reseal(annotations, private, public, digest=other),
                                           (ocicrypt.load_decryption_key(str(private)),), "L")
    assert opened.sealed_digest == other
    stream = opened.stream(io.BytesIO(ciphertext))
    assert _read_all(stream) == data
    assert stream.plaintext_digest == "sha256:" + hashlib.sha256(data).hexdigest()  # what names the layer


def test_a_layer_without_an_hmac_is_refused(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)["rsa"]
    _, annotations = _encrypt(b"w" * 100, (ocicrypt.load_encryption_key(f"jwe:{public}"),))
    pub = json.loads(base64.b64decode(annotations[ocicrypt.ANNOTATION_PUBOPTS]))
    del pub["hmac"]
    for hostile in ({k: v for k, v in annotations.items() if k != ocicrypt.ANNOTATION_PUBOPTS},
                    {**annotations, ocicrypt.ANNOTATION_PUBOPTS: base64.b64encode(json.dumps(pub).encode()).decode()}):
        with pytest.raises(EncryptionError) as info:
            ocicrypt.LayerDecryption.open(hostile, (ocicrypt.load_decryption_key(str(private)),), "L")
        assert info.value.code == "encryption-metadata-invalid" and "no HMAC" in info.value.message
