"""policy lint reads every key file a policy names as verification reads it, and never hangs on one.

sigstoreSigned keys (keyPath/keyPaths/keyData/keyDatas), Rekor keys (rekorPublicKeyPath(s)/Data(s)),
Fulcio CAs (caPath/caData) and PKI roots/intermediates (caRootsPath/Data, caIntermediatesPath/Data)
are parsed as PolicyContext parses them: a file that is not what the field needs gets a warning
naming the field, and the same file makes evaluation reject (cross-checked below). Hostile files
(a FIFO nobody writes, a 10 GB sparse file, a symlink loop, a directory) are refused by type or
size without being read: lint finishes at once.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_files import make_hostile

from trustcopy.policy.context import PolicyContext
from trustcopy.policy.lint import lint_policy_bytes
from trustcopy.policy.model import KeyLoadError
from trustcopy.policy.parse import parse_policy


def _pem_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def _ec_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate(key: Any) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lint test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM)


@pytest.fixture(scope="module")
def material() -> dict[str, bytes]:
    """Good and wrong contents: an ECDSA public key, an Ed25519 one, a CA certificate, a private key."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    ec = _ec_key()
    return {
        "ec-public": _pem_public(ec),
        "ed25519-public": _pem_public(ed25519.Ed25519PrivateKey.generate()),
        "certificate": _certificate(ec),
        "private": ec.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        "garbage": bytes(range(256)) * 4,
        "empty": b"",
    }


# (field as lint names it, what it needs, policy requirement using PATH, or DATA as base64)
FIELDS: list[tuple[str, str, Callable[[str], dict[str, Any]]]] = [
    ("keyPath", "key", lambda p: {"keyPath": p}),
    ("keyPaths[1]", "key", lambda p: {"keyPaths": ["GOOD_KEY", p]}),
    ("rekorPublicKeyPath", "rekor", lambda p: {"keyPath": "GOOD_KEY", "rekorPublicKeyPath": p}),
    ("rekorPublicKeyPaths[0]", "rekor", lambda p: {"keyPath": "GOOD_KEY", "rekorPublicKeyPaths": [p]}),
    ("fulcio.caPath", "certs", lambda p: {"fulcio": {"caPath": p, "oidcIssuer": "https://issuer.example",
                                                     "subjectEmail": "a@example.com"},
                                          "rekorPublicKeyPath": "GOOD_KEY"}),
    ("pki.caRootsPath", "certs", lambda p: {"pki": {"caRootsPath": p, "subjectEmail": "a@example.com"}}),
    ("pki.caIntermediatesPath", "certs", lambda p: {"pki": {"caRootsPath": "GOOD_CA", "caIntermediatesPath": p,
                                                            "subjectEmail": "a@example.com"}}),
]
DATA_FIELDS: list[tuple[str, str, Callable[[str], dict[str, Any]]]] = [
    ("keyData", "key", lambda d: {"keyData": d}),
    ("keyDatas[0]", "key", lambda d: {"keyDatas": [d]}),
    ("rekorPublicKeyData", "rekor", lambda d: {"keyPath": "GOOD_KEY", "rekorPublicKeyData": d}),
    ("rekorPublicKeyDatas[0]", "rekor", lambda d: {"keyPath": "GOOD_KEY", "rekorPublicKeyDatas": [d]}),
    ("fulcio.caData", "certs", lambda d: {"fulcio": {"caData": d, "oidcIssuer": "https://issuer.example",
                                                     "subjectEmail": "a@example.com"},
                                          "rekorPublicKeyPath": "GOOD_KEY"}),
    ("pki.caRootsData", "certs", lambda d: {"pki": {"caRootsData": d, "subjectEmail": "a@example.com"}}),
    ("pki.caIntermediatesData", "certs", lambda d: {"pki": {"caRootsPath": "GOOD_CA", "caIntermediatesData": d,
                                                            "subjectEmail": "a@example.com"}}),
]
GOOD = {"key": "ec-public", "rekor": "ec-public", "certs": "certificate"}
# Contents each kind must refuse: a certificate is no key, a key is no certificate, Rekor is ECDSA only.
WRONG = {"key": ["certificate", "private", "garbage", "empty"],
         "rekor": ["ed25519-public", "certificate", "garbage"],
         "certs": ["ec-public", "private", "garbage", "empty"]}


def _policy_text(tmp_path: Path, material: dict[str, bytes], requirement: dict[str, Any]) -> str:
    good_key, good_ca = tmp_path / "good.pub", tmp_path / "good-ca.pem"
    good_key.write_bytes(material["ec-public"])
    good_ca.write_bytes(material["certificate"])
    text = json.dumps({"default": [{"type": "sigstoreSigned", **requirement,
                                    "signedIdentity": {"type": "matchRepository"}}]})
    return text.replace('"GOOD_KEY"', json.dumps(str(good_key))).replace('"GOOD_CA"', json.dumps(str(good_ca)))


def _findings(text: str) -> dict[str, list[tuple[str, str]]]:
    """Lint findings by field path (``default[0].`` stripped): [(code, message)]."""
    report = lint_policy_bytes(text.encode(), "policy.json")
    assert report.errors == [], [f.to_json() for f in report.errors]
    out: dict[str, list[tuple[str, str]]] = {}
    for f in report.findings:
        out.setdefault(f.path.removeprefix("default[0]."), []).append((f.code, f.message))
    return out


def _evaluation_rejects(text: str) -> str:
    """The KeyLoadError evaluation raises building this policy's trust root (it must raise)."""
    policy = parse_policy(text)
    with PolicyContext(policy) as pc, pytest.raises(KeyLoadError) as info:
        pc.sigstore_trust_root(policy.default[0])  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.parametrize(("field", "kind", "make"), FIELDS, ids=[f[0] for f in FIELDS])
def test_good_files_have_no_findings(tmp_path: Path, material: dict[str, bytes], field: str, kind: str,
                                     make: Callable[[str], dict[str, Any]]) -> None:
    path = tmp_path / "under-test.pem"
    path.write_bytes(material[GOOD[kind]])
    text = _policy_text(tmp_path, material, make(str(path)))
    assert _findings(text) == {}
    with PolicyContext(parse_policy(text)) as pc:
        assert pc.sigstore_trust_root(parse_policy(text).default[0]) is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "kind", "make"), FIELDS, ids=[f[0] for f in FIELDS])
def test_wrong_contents_warn_naming_the_field_as_evaluation_rejects(
        tmp_path: Path, material: dict[str, bytes], field: str, kind: str,
        make: Callable[[str], dict[str, Any]]) -> None:
    for wrong in WRONG[kind]:
        path = tmp_path / f"{wrong}.pem"
        path.write_bytes(material[wrong])
        text = _policy_text(tmp_path, material, make(str(path)))
        findings = _findings(text)
        assert list(findings) == [field], (wrong, findings)
        [(code, message)] = findings[field]
        assert code == "key-invalid", (wrong, message)
        assert str(path) in message
        assert str(path) in _evaluation_rejects(text)


@pytest.mark.parametrize(("field", "kind", "make"), DATA_FIELDS, ids=[f[0] for f in DATA_FIELDS])
def test_inline_data_is_parsed_too(tmp_path: Path, material: dict[str, bytes], field: str, kind: str,
                                   make: Callable[[str], dict[str, Any]]) -> None:
    good = base64.b64encode(material[GOOD[kind]]).decode()
    assert _findings(_policy_text(tmp_path, material, make(good))) == {}
    wrong = material[WRONG[kind][0]]
    text = _policy_text(tmp_path, material, make(base64.b64encode(wrong).decode()))
    findings = _findings(text)
    assert [code for code, _ in findings.get(field, [])] == ["key-invalid"], findings
    _evaluation_rejects(text)


@pytest.mark.parametrize("hostile", ["fifo", "sparse-10g", "loop", "directory", "missing"])
@pytest.mark.parametrize(("field", "kind", "make"), FIELDS, ids=[f[0] for f in FIELDS])
def test_hostile_key_files_never_hang_and_are_named(tmp_path: Path, material: dict[str, bytes], hostile: str,
                                                    field: str, kind: str,
                                                    make: Callable[[str], dict[str, Any]]) -> None:
    path = make_hostile(tmp_path / f"hostile-{hostile}", hostile)
    text = _policy_text(tmp_path, material, make(str(path)))
    started = time.monotonic()
    findings = _findings(text)
    assert time.monotonic() - started < 3  # a FIFO is refused without waiting for a writer
    assert list(findings) == [field], findings
    [(code, message)] = findings[field]
    assert code == ("key-file-missing" if hostile == "missing" else "key-file-unreadable")
    assert str(path) in message
    if hostile == "loop":
        assert "symbolic links" in message  # not "does not exist": the file is there, it cannot be read
    assert str(path) in _evaluation_rejects(text)


@pytest.mark.gpg
@pytest.mark.parametrize("hostile", ["fifo", "sparse-10g", "loop", "directory"])
def test_hostile_gpg_key_files_never_hang(tmp_path: Path, hostile: str) -> None:
    path = make_hostile(tmp_path / f"hostile-{hostile}", hostile)
    text = json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [str(path)]}]})
    started = time.monotonic()
    findings = _findings(text)
    assert time.monotonic() - started < 3
    assert [code for code, _ in findings["keyPaths[0]"]] == ["key-file-unreadable"]
    assert str(path) in findings["keyPaths[0]"][0][1]


def test_relative_path_is_still_parsed(tmp_path: Path, material: dict[str, bytes],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cert-not-key.pem").write_bytes(material["certificate"])
    findings = _findings(_policy_text(tmp_path, material, {"keyPath": "cert-not-key.pem"}))
    assert sorted(code for code, _ in findings["keyPath"]) == ["key-invalid", "relative-key-path"]


def test_private_key_material_is_never_quoted(tmp_path: Path, material: dict[str, bytes]) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(material["private"])
    report = lint_policy_bytes(_policy_text(tmp_path, material, {"keyPath": str(path)}).encode(), "p.json")
    body = b"".join(material["private"].splitlines()[1:-1]).decode()
    text = json.dumps(report.to_json())
    assert report.warnings and body[:40] not in text and body[-40:] not in text
