"""The newest containers/image certificate vectors: fulcio_cert_test.go and pki_cert_test.go.

Restated (material generated here with ``cryptography``, as the Go tests generate theirs):
TestFulcioIssuerInCertificate (v1/v2 issuer extensions, duplicates, invalid ASN.1, trailing
data), the table of TestFulcioTrustRootVerifyFulcioCertificateAtTime (critical extensions,
issuer and e-mail matching) and the table of TestPKIVerify (hostnames, e-mails, an otherName-only
critical SAN). Go's ``asn1.Unmarshal`` rules for the v2 issuer string (minimal DER lengths,
PrintableString and IA5String character sets) are pinned here too.

Known narrow differences (both sides reject; the case says so): cryptography refuses to parse
the Go test's malformed otherName SAN at all, so that certificate is CERTIFICATE_INVALID where
c/i's Fulcio path reaches the e-mail check; T61/BMP issuer strings, which Go reads, are refused.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from sigstore_material import (
    CERT_ANN,
    CHAIN_ANN,
    MIME,
    NOW,
    SET_ANN,
    SIG_ANN,
    FakeImage,
    cert_pem,
    cosign_payload,
    der_utf8,
    ec_key,
    envelope,
    hashedrekord,
    make_cert,
    make_set,
    pub_pem,
    sign,
)

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.policy.context import PolicyContext
from trustcopy.policy.parse import parse_policy
from trustcopy.signature.sigstore_x509 import (
    OID_ISSUER_V1,
    OID_ISSUER_V2,
    FulcioRoot,
    PKIRoot,
    fulcio_issuer,
    parse_certificates,
    verify_fulcio,
    verify_pki,
)

GITHUB = "https://github.com/login/oauth"
TEST_USER = "test-user@example.com"
MYHOST = "myhost.example.com"
V1 = x509.ObjectIdentifier(OID_ISSUER_V1)
V2 = x509.ObjectIdentifier(OID_ISSUER_V2)
PLACEHOLDER = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.9")  # same encoded length as V1 and V2
SAN = x509.ObjectIdentifier("2.5.29.17")


# --- DER helpers (to write what cryptography's builder refuses to write) ---------------------

def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        rest = part
        chunk = [rest & 0x7F]
        rest >>= 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, body)


def _resigned_with_oid_swapped(cert: x509.Certificate, signer: ec.EllipticCurvePrivateKey,
                               old: x509.ObjectIdentifier, new: x509.ObjectIdentifier) -> x509.Certificate:
    """``cert`` with extension ``old`` renamed to ``new`` (making a duplicate), signed again by ``signer``."""
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_oid(old.dotted_string)) == 1
    tbs = tbs.replace(_oid(old.dotted_string), _oid(new.dotted_string))
    algorithm = _tlv(0x30, _oid("1.2.840.10045.4.3.2"))  # ecdsa-with-SHA256
    der = _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signer.sign(tbs, ec.ECDSA(hashes.SHA256()))))
    return x509.load_der_x509_certificate(der)


def _pem(cert: x509.Certificate) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert.public_bytes(Encoding.DER)) + \
        b"-----END CERTIFICATE-----\n"


# --- certificates as the Go tests make them ---------------------------------------------------

CA_KEY = ec_key()
CA_NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "root CA")])
CA = (x509.CertificateBuilder().subject_name(CA_NAME).issuer_name(CA_NAME).public_key(CA_KEY.public_key())
      .serial_number(1).not_valid_before(NOW - datetime.timedelta(minutes=1))
      .not_valid_after(NOW + datetime.timedelta(hours=1))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(CA_KEY, hashes.SHA256()))


def leaf(*, extensions: Sequence[tuple[x509.ObjectIdentifier, bytes, bool]] = (), emails: Sequence[str] = (TEST_USER,),
         dns: Sequence[str] = (), san: x509.SubjectAlternativeName | None = None, san_critical: bool = False,
         self_signed: bool = False) -> x509.Certificate:
    """c/i's testLeafContents: CN=leaf, valid a minute ago to an hour on, issued by CA (or itself)."""
    key = ec_key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "leaf")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name if self_signed else CA_NAME)
               .public_key(key.public_key()).serial_number(2)
               .not_valid_before(NOW - datetime.timedelta(minutes=1))
               .not_valid_after(NOW + datetime.timedelta(hours=1)))
    names: list[x509.GeneralName] = [x509.RFC822Name(e) for e in emails] + [x509.DNSName(d) for d in dns]
    if san is None and names:
        san = x509.SubjectAlternativeName(names)
    if san is not None:
        builder = builder.add_extension(san, critical=san_critical)
    for oid, value, critical in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=critical)
    return builder.sign(key if self_signed else CA_KEY, hashes.SHA256())


def parsed(cert: x509.Certificate) -> Any:
    [cert] = parse_certificates(_pem(cert), "the signature's certificate", limit=1)
    return cert


# --- TestFulcioIssuerInCertificate -----------------------------------------------------------

ISSUER_CASES: dict[str, tuple[list[tuple[x509.ObjectIdentifier, bytes, bool]], str | None, str]] = {
    # name: (extensions, expected issuer or None, error fragment)
    "missing-issuer": ([], None, "Fulcio certificate is missing the issuer extension"),
    "completely-invalid-v2-not-a-string": ([(V2, bytes([0x02, 0x01, 0x01]), False)], None, "invalid OIDC issuer"),
    "completely-invalid-v2-trailing-data": ([(V2, der_utf8("https://") + der_utf8("example.com"), False)], None,
                                            "trailing data"),
    "one-valid-v1": ([(V1, GITHUB.encode(), False)], GITHUB, ""),
    "one-valid-v2": ([(V2, der_utf8(GITHUB), False)], GITHUB, ""),
    "inconsistent-v1-and-v2": ([(V1, GITHUB.encode(), False), (V2, der_utf8("this does not match"), False)], None,
                               "inconsistent OIDC issuer extension values"),
    "both-v1-and-v2": ([(V1, GITHUB.encode(), False), (V2, der_utf8(GITHUB), False)], GITHUB, ""),
    # Go's asn1.Unmarshal into a string, beyond the Go table:
    "v2-printable-string": ([(V2, b"\x13\x13https://example.com", False)], "https://example.com", ""),
    "v2-printable-string-with-at-sign": ([(V2, b"\x13\x03a@b", False)], None, "PrintableString contains invalid"),
    "v2-printable-string-with-asterisk-and-ampersand": ([(V2, b"\x13\x03*&a", False)], "*&a", ""),
    "v2-ia5-string": ([(V2, b"\x16\x03a@b", False)], "a@b", ""),
    "v2-ia5-string-not-ascii": ([(V2, b"\x16\x02" + "é".encode(), False)], None, "IA5String contains invalid"),
    "v2-utf8-string-invalid-utf8": ([(V2, b"\x0c\x02\xff\xfe", False)], None, "invalid OIDC issuer"),
    "v2-non-minimal-length": ([(V2, b"\x0c\x81\x03abc", False)], None, "non-minimal ASN.1 length"),
    "v2-length-with-leading-zero": ([(V2, b"\x0c\x82\x00\x80" + b"a" * 128, False)], None, "leading zeros"),
    "v2-long-form-length": ([(V2, b"\x0c\x81\x80" + b"a" * 128, False)], "a" * 128, ""),
    "v2-truncated": ([(V2, b"\x0c\x05abc", False)], None, "truncated"),
    "v2-indefinite-length": ([(V2, b"\x0c\x80abc\x00\x00", False)], None, "invalid ASN.1 length"),
    # Go reads these string types too; refused here (rejects more: Fulcio writes UTF8String).
    "v2-t61-string-refused-unlike-go": ([(V2, b"\x14\x03abc", False)], None, "not an ASN.1 string"),
    "v2-bmp-string-refused-unlike-go": ([(V2, b"\x1e\x06" + "abc".encode("utf-16-be"), False)], None,
                                        "not an ASN.1 string"),
}


@pytest.mark.parametrize("name", list(ISSUER_CASES), ids=list(ISSUER_CASES))
def test_fulcio_issuer_in_certificate(name: str) -> None:
    extensions, expected, fragment = ISSUER_CASES[name]
    cert = parsed(leaf(extensions=extensions, self_signed=True))
    if expected is not None:
        assert fulcio_issuer(cert) == expected
        return
    with pytest.raises(SignatureVerificationError) as exc:
        fulcio_issuer(cert)
    assert exc.value.reason == "CERTIFICATE_IDENTITY_MISMATCH"
    assert fragment in exc.value.message


@pytest.mark.parametrize("oid", [V1, V2], ids=["v1", "v2"])
def test_duplicate_issuer_extension_is_a_certificate_parse_error(oid: x509.ObjectIdentifier) -> None:
    # "Duplicate issuer v1/v2 extension": Go's x509 parser refuses the certificate ("duplicate").
    value = GITHUB.encode() if oid == V1 else der_utf8(GITHUB)
    base = leaf(extensions=[(oid, value, False), (PLACEHOLDER, value, False)], self_signed=True)
    signer_key = ec_key()  # the signature is not checked when parsing
    duplicated = _resigned_with_oid_swapped(base, signer_key, PLACEHOLDER, oid)
    with pytest.raises(SignatureError) as exc:
        parse_certificates(_pem(duplicated), "the signature's certificate", limit=1)
    assert exc.value.code == "certificate-invalid"
    assert "Duplicate" in exc.value.message


# --- TestFulcioTrustRootVerifyFulcioCertificateAtTime (generated-certificate table) ----------

FULCIO_ROOT = FulcioRoot((CA,), GITHUB, TEST_USER)
ISSUER_EXT = (V1, GITHUB.encode(), False)
UNHANDLED = (x509.ObjectIdentifier("2.99999.99998.99997.99996"), b"whatever", True)
OTHER_NAME_SAN = x509.SubjectAlternativeName([x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x0c\x01x")])

FULCIO_CASES: dict[str, tuple[dict[str, Any], str | None, str]] = {
    # name: (leaf arguments, reason or None, message fragment)
    "well-formed-othername-in-critical-san": (
        {"extensions": [ISSUER_EXT], "san": OTHER_NAME_SAN, "san_critical": True},
        "CERTIFICATE_IDENTITY_MISMATCH", f"Required email '{TEST_USER}' not found"),
    "unhandled-critical-extension": ({"extensions": [ISSUER_EXT, UNHANDLED]}, "CERTIFICATE_INVALID",
                                     "unhandled critical extension"),
    "missing-issuer": ({}, "CERTIFICATE_IDENTITY_MISMATCH", "Fulcio certificate is missing the issuer extension"),
    "issuer-mismatch": ({"extensions": [(V1, b"this does not match", False)]}, "CERTIFICATE_IDENTITY_MISMATCH",
                        "Unexpected Fulcio OIDC issuer"),
    "missing-subject-email": ({"extensions": [ISSUER_EXT], "emails": ()}, "CERTIFICATE_IDENTITY_MISMATCH",
                              f"Required email '{TEST_USER}' not found"),
    "multiple-emails-one-matches": ({"extensions": [ISSUER_EXT],
                                     "emails": ("a@example.com", TEST_USER, "c@example.com")}, None, ""),
    "email-mismatch": ({"extensions": [ISSUER_EXT], "emails": ("a@example.com",)}, "CERTIFICATE_IDENTITY_MISMATCH",
                       f"Required email '{TEST_USER}' not found"),
    "multiple-emails-no-matches": ({"extensions": [ISSUER_EXT],
                                    "emails": ("a@example.com", "b@example.com", "c@example.com")},
                                   "CERTIFICATE_IDENTITY_MISMATCH", f"Required email '{TEST_USER}' not found"),
}


def _check(verify: Callable[[Any], Any], cert: x509.Certificate, reason: str | None, fragment: str) -> None:
    if reason is None:
        trusted = verify(parsed(cert))
        assert trusted.public_key() == cert.public_key()  # assertPublicKeyMatchesCert
        return
    with pytest.raises(SignatureVerificationError) as exc:
        verify(parsed(cert))
    assert exc.value.reason == reason, exc.value.message
    assert fragment in exc.value.message


@pytest.mark.parametrize("name", list(FULCIO_CASES), ids=list(FULCIO_CASES))
def test_fulcio_certificate_at_time(name: str) -> None:
    kwargs, reason, fragment = FULCIO_CASES[name]
    _check(lambda c: verify_fulcio(FULCIO_ROOT, int(NOW.timestamp()), c, []), leaf(**kwargs), reason, fragment)


def test_fulcio_go_tests_malformed_othername_refused_when_parsed() -> None:
    # "OtherName in SAN" writes a primitive [0] holding the bytes "otherName" (not a valid
    # OtherName). Go skips SAN entries it does not read; cryptography refuses to parse them,
    # so the certificate is invalid here (c/i: the e-mail check fails). Both reject.
    raw = bytes([0x30, 11, 0x80, 9]) + b"otherName"
    cert = leaf(extensions=[ISSUER_EXT, (SAN, raw, True)], emails=())
    with pytest.raises(SignatureError) as exc:
        parse_certificates(_pem(cert), "the signature's certificate", limit=1)
    assert exc.value.code == "certificate-invalid"


# --- TestPKIVerify (generated-certificate table) ---------------------------------------------

PKI_ROOT = PKIRoot((CA,), (), TEST_USER, MYHOST)
PKI_CASES: dict[str, tuple[dict[str, Any], str | None, str]] = {
    # c/i's PKI path does not forgive a critical SAN Go could not read (its Fulcio path does).
    "othername-in-critical-san": ({"san": OTHER_NAME_SAN, "san_critical": True}, "CERTIFICATE_INVALID",
                                  "unhandled critical extension"),
    "unhandled-critical-extension": ({"dns": (MYHOST,), "extensions": [UNHANDLED]}, "CERTIFICATE_INVALID",
                                     "unhandled critical extension"),
    "missing-subject-hostname": ({}, "CERTIFICATE_IDENTITY_MISMATCH", "Unexpected subject hostname"),
    "multiple-hostnames-one-matches": ({"dns": ("a.example.com", MYHOST, "c.example.com")}, None, ""),
    "hostname-mismatch": ({"dns": ("this-does-not-match.example.com",)}, "CERTIFICATE_IDENTITY_MISMATCH",
                          "Unexpected subject hostname"),
    "multiple-hostnames-no-matches": ({"dns": ("a.example.com", "b.example.com", "c.example.com")},
                                      "CERTIFICATE_IDENTITY_MISMATCH", "Unexpected subject hostname"),
    "missing-subject-email": ({"dns": (MYHOST,), "emails": ()}, "CERTIFICATE_IDENTITY_MISMATCH",
                              f"Required email '{TEST_USER}' not found"),
    "multiple-emails-one-matches": ({"dns": (MYHOST,), "emails": ("a@example.com", TEST_USER, "c@example.com")},
                                    None, ""),
    "email-mismatch": ({"dns": (MYHOST,), "emails": ("a@example.com",)}, "CERTIFICATE_IDENTITY_MISMATCH",
                       f"Required email '{TEST_USER}' not found"),
    "multiple-emails-no-matches": ({"dns": (MYHOST,), "emails": ("a@example.com", "b@example.com", "c@example.com")},
                                   "CERTIFICATE_IDENTITY_MISMATCH", f"Required email '{TEST_USER}' not found"),
    # A critical SAN with a name Go reads is handled (and matched) as usual.
    "critical-san-with-dns-and-email": ({"dns": (MYHOST,), "san_critical": True}, None, ""),
}


@pytest.mark.parametrize("name", list(PKI_CASES), ids=list(PKI_CASES))
def test_pki_verify(name: str) -> None:
    kwargs, reason, fragment = PKI_CASES[name]
    _check(lambda c: verify_pki(PKI_ROOT, c, []), leaf(**kwargs), reason, fragment)


# --- the duplicate-extension certificate inside a policy evaluation ------------------------

def test_signature_with_duplicate_extension_certificate_is_rejected_and_the_next_one_judged() -> None:
    # c/i rejects that one signature (its certificate does not parse) and goes on to the next;
    # before the fix, cryptography's DuplicateExtension escaped the evaluation.
    root = make_cert("fulcio-root", None, ca=True)
    inter = make_cert("fulcio-intermediate", root, ca=True, path_length=0)
    rekor = ec_key()
    payload = cosign_payload()

    def blob(duplicate: bool) -> bytes:
        good = make_cert("", inter, ca=False, email=TEST_USER, oidc_issuer=GITHUB)
        cert = good.cert
        if duplicate:
            base = make_cert("", inter, ca=False, email=TEST_USER, oidc_issuer=GITHUB, key=good.key)
            builder = (x509.CertificateBuilder().subject_name(base.cert.subject).issuer_name(base.cert.issuer)
                       .public_key(good.key.public_key()).serial_number(3)
                       .not_valid_before(base.cert.not_valid_before_utc).not_valid_after(base.cert.not_valid_after_utc))
            for ext in base.cert.extensions:
                builder = builder.add_extension(ext.value, ext.critical)
            builder = builder.add_extension(x509.UnrecognizedExtension(PLACEHOLDER, b"https://other"), critical=False)
            cert = _resigned_with_oid_swapped(builder.sign(inter.key, hashes.SHA256()), inter.key, PLACEHOLDER, V1)
        signature = sign(good.key, payload)
        leaf_pem = _pem(cert)
        annotations = {SIG_ANN: base64.b64encode(signature).decode(), CERT_ANN: leaf_pem.decode(),
                       CHAIN_ANN: cert_pem(inter.cert, root.cert).decode(),
                       SET_ANN: make_set(rekor, hashedrekord(leaf_pem, signature, payload), int(NOW.timestamp()))}
        return envelope(MIME, payload, annotations)

    requirement = {"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
                   "fulcio": {"caData": base64.b64encode(cert_pem(root.cert)).decode(), "oidcIssuer": GITHUB,
                              "subjectEmail": TEST_USER},
                   "rekorPublicKeyData": base64.b64encode(pub_pem(rekor)).decode()}
    policy = parse_policy(json.dumps({"default": [requirement]}).encode())
    with PolicyContext(policy) as pc:
        alone = pc.evaluate(FakeImage("quay.io/ns/app:1", [blob(True)]))  # type: ignore[arg-type]
        assert not alone.allowed
        assert alone.reason == "CERTIFICATE_INVALID"
        assert "Duplicate" in alone.message
        both = pc.evaluate(FakeImage("quay.io/ns/app:1", [blob(True), blob(False)]))  # type: ignore[arg-type]
        assert both.allowed, both.message
