"""Cosign's encrypted private-key format, checked against an independent implementation written here.

The independent side follows the published format only (PEM type, JSON members, scrypt,
NaCl secretbox, PKCS#8): it uses hashlib and PyNaCl directly, never trustcopy's code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from nacl.secret import SecretBox

from trustcopy.cli.main import main
from trustcopy.errors import SignatureError
from trustcopy.signature.sigstore_keys import (
    decrypt_private_key,
    encrypt_private_key,
    load_private_key,
    load_public_key,
    sign_message,
    verify_message,
)


def independent_encrypt(der: bytes, passphrase: bytes, *, n: int = 1 << 15, pem_type: str = "ENCRYPTED COSIGN "
                        "PRIVATE KEY", r: int = 8, p: int = 1) -> bytes:
    """The published cosign format, written from its description."""
    salt, nonce = os.urandom(32), os.urandom(24)
    key = hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=1 << 30, dklen=32)
    box = SecretBox(key).encrypt(der, nonce).ciphertext
    body = json.dumps({"kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p},
                               "salt": base64.b64encode(salt).decode()},
                       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
                       "ciphertext": base64.b64encode(box).decode()}).encode()
    b64 = base64.encodebytes(body).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {pem_type}-----\n" + "\n".join(lines) + f"\n-----END {pem_type}-----\n".encode().decode()


def independent_decrypt(pem: bytes, passphrase: bytes) -> bytes:
    """Decrypt with the published format only."""
    text = pem.decode()
    body = base64.b64decode("".join(line for line in text.splitlines() if not line.startswith("-----")))
    data = json.loads(body)
    params = data["kdf"]["params"]
    key = hashlib.scrypt(passphrase, salt=base64.b64decode(data["kdf"]["salt"]), n=params["N"], r=params["r"],
                         p=params["p"], maxmem=1 << 30, dklen=32)
    return SecretBox(key).decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["cipher"]["nonce"]))


def pkcs8(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("n", [1 << 15, 1 << 16, 1 << 17], ids=["2^15", "2^16", "2^17"])
@pytest.mark.parametrize("pem_type", ["ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY"])
def test_independently_written_key_loads(n: int, pem_type: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = independent_encrypt(pkcs8(key), b"pass", n=n, pem_type=pem_type).encode()
    loaded = load_private_key(pem, b"pass", "k.private")
    assert loaded.private_numbers() == key.private_numbers()


def test_trustcopy_written_key_decrypts_independently_with_the_written_parameters() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_private_key(pkcs8(key), b"s3cret")
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = json.loads(base64.b64decode(b"".join(pem.splitlines()[1:-1])))
    assert body["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert list(body) == ["kdf", "cipher", "ciphertext"] and body["cipher"]["name"] == "nacl/secretbox"
    assert independent_decrypt(pem, b"s3cret") == pkcs8(key)


def test_empty_passphrase_works_as_in_cosign() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    assert load_private_key(encrypt_private_key(pkcs8(key), b""), b"", "k").private_numbers() == key.private_numbers()


def test_wrong_passphrase_is_a_clear_error() -> None:
    pem = encrypt_private_key(pkcs8(ec.generate_private_key(ec.SECP256R1())), b"right")
    with pytest.raises(SignatureError) as exc:
        load_private_key(pem, b"wrong", "/keys/k.private")
    assert exc.value.code == "sigstore-key-passphrase"
    assert "wrong passphrase" in exc.value.message and "/keys/k.private" in exc.value.message
    assert "wrong" not in exc.value.message.replace("wrong passphrase", "")


@pytest.mark.parametrize(("n", "r", "p"), [(1 << 20, 8, 1), (1 << 14, 8, 1), (1 << 16, 16, 1), (1 << 16, 8, 4)])
def test_other_scrypt_parameters_refused_before_any_work(n: int, r: int, p: int) -> None:
    body = json.dumps({"kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": "AAAA"},
                       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(bytes(24)).decode()},
                       "ciphertext": "AAAA"}).encode()
    pem = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + base64.b64encode(body) + \
        b"\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    start = time.monotonic()
    with pytest.raises(SignatureError, match="unsupported scrypt parameters"):
        decrypt_private_key(pem, b"x", "k")
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize("pem", [
    b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!notbase64\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n",
    b"no pem at all",
    b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
], ids=["mangled-base64", "not-a-private-key", "unterminated", "not-pem", "not-json"])
def test_malformed_private_key_files(pem: bytes) -> None:
    with pytest.raises(SignatureError) as exc:
        load_private_key(pem, b"x", "k.private")
    assert exc.value.code == "sigstore-key-invalid"


@pytest.mark.parametrize("make", [
    lambda: ec.generate_private_key(ec.SECP256R1()),
    lambda: ec.generate_private_key(ec.SECP384R1()),
    lambda: rsa.generate_private_key(65537, 2048),
    ed25519.Ed25519PrivateKey.generate,
], ids=["p256", "p384", "rsa2048", "ed25519"])
def test_key_types_cosign_supports_sign_and_verify(make: Any) -> None:
    key = make()
    loaded = load_private_key(encrypt_private_key(pkcs8(key), b"p"), b"p", "k")
    sig = sign_message(loaded, b"payload")
    public = load_public_key(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo), "k.pub")
    assert verify_message(public, sig, b"payload")
    assert not verify_message(public, sig, b"other payload")


def test_ecdsa_signature_verifies_with_openssl(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "payload").write_bytes(b"the payload")
    (tmp_path / "sig").write_bytes(sign_message(key, b"the payload"))
    (tmp_path / "k.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "k.pub"), "-signature",
                          str(tmp_path / "sig"), str(tmp_path / "payload")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "Verified OK" in out.stdout


@pytest.mark.parametrize(("pem", "fragment"), [
    (lambda: ec.generate_private_key(ec.SECP192R1()).public_key(), "unsupported elliptic curve"),
    (lambda: rsa.generate_private_key(65537, 1024).public_key(), "too small"),
    (lambda: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM file type 'CERTIFICATE'"),
    (lambda: b"-----BEGIN PUBLIC KEY-----\nAA!A\n-----END PUBLIC KEY-----\n", "base64"),
    (lambda: b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
    # A valid P-256 key under the label sigstore's UnmarshalPEMToPublicKey does not know (so
    # containers/image refuses the key file, and with it every signature).
    (lambda: ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ).replace(b"PUBLIC KEY", b"EC PUBLIC KEY"),
     "unknown Public key PEM file type 'EC PUBLIC KEY'"),
], ids=["p192", "rsa1024", "certificate", "mangled-base64", "not-a-key", "ec-public-key-label"])
def test_public_keys_the_policy_does_not_allow(pem: Any, fragment: str) -> None:
    value = pem()
    if not isinstance(value, bytes):
        value = value.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(SignatureError, match=fragment) as exc:
        load_public_key(value, "k.pub")
    assert exc.value.code == "key-invalid"


# --- generate-sigstore-key ---------------------------------------------------------------


def test_generate_sigstore_key_with_passphrase_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pass").write_text("correct horse\n")
    prefix = str(tmp_path / "k")
    assert main(["generate-sigstore-key", "--output-prefix", prefix, "--passphrase-file", str(tmp_path / "pass")]) == 0
    assert capsys.readouterr().out == f'Key written to "{prefix}.private" and "{prefix}.pub"\n'
    assert (tmp_path / "k.private").stat().st_mode & 0o777 == 0o600
    der = independent_decrypt((tmp_path / "k.private").read_bytes(), b"correct horse")
    private = serialization.load_der_private_key(der, None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"
    public = serialization.load_pem_public_key((tmp_path / "k.pub").read_bytes())
    assert public.public_numbers() == private.public_key().public_numbers()  # type: ignore[union-attr]
    sig = private.sign(b"x", ec.ECDSA(hashes.SHA256()))
    assert verify_message(load_public_key((tmp_path / "k.pub").read_bytes(), "k.pub"), sig, b"x")


def test_generate_sigstore_key_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pass").write_text("p\n")
    (tmp_path / "k.pub").write_text("existing")
    status = main(["generate-sigstore-key", "--output-prefix", str(tmp_path / "k"), "--passphrase-file",
                   str(tmp_path / "pass")])
    assert status == 1
    assert f'Refusing to overwrite existing "{tmp_path}/k.pub"' in capsys.readouterr().err
    assert not (tmp_path / "k.private").exists() and (tmp_path / "k.pub").read_text() == "existing"


def test_generate_sigstore_key_usage_and_no_tty(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["generate-sigstore-key"]) == 1
    assert "Usage: generate-sigstore-key --output-prefix PREFIX" in capsys.readouterr().err
    assert main(["generate-sigstore-key", "--output-prefix", str(tmp_path / "k"), "extra"]) == 1
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest with the monkeypatch
    assert main(["generate-sigstore-key", "--output-prefix", str(tmp_path / "k")]) != 0
    assert "standard input is not a TTY" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _run_on_a_terminal(args: list[str], answers: list[bytes]) -> tuple[int, bytes]:
    """Run trustcopy on a pseudo-terminal, typing ``answers`` at each prompt; (status, screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(sys.executable, [sys.executable, "-m", "trustcopy", *args])
    screen = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        # Answer each prompt once, when it is the last thing on the screen: not when getpass's own
        # newline follows it (rstrip would hide that), or the answer lands between two prompts,
        # where echo is back on and the next prompt's TCSAFLUSH discards it.
        prompts = screen.count(b": ")
        if pending and screen.endswith(b": ") and prompts > len(answers) - len(pending):
            os.write(fd, pending.pop(0))
    else:  # pragma: no cover - a hung child fails the test instead of hanging it
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen


def test_generate_sigstore_key_prompts_twice_without_echo(tmp_path: Path) -> None:
    status, screen = _run_on_a_terminal(["generate-sigstore-key", "--output-prefix", str(tmp_path / "k")],
                                        [b"typed-secret\n", b"typed-secret\n"])
    assert status == 0, screen
    assert b"Passphrase for key" in screen and b"Repeat the passphrase" in screen
    assert b"typed-secret" not in screen
    assert independent_decrypt((tmp_path / "k.private").read_bytes(), b"typed-secret")


def test_generate_sigstore_key_mismatched_passphrases_write_nothing(tmp_path: Path) -> None:
    status, screen = _run_on_a_terminal(["generate-sigstore-key", "--output-prefix", str(tmp_path / "k")],
                                        [b"one\n", b"two\n"])
    assert status == 1, screen
    assert b"do not match" in screen
    assert not list(tmp_path.iterdir())
