"""Certificate chains and host names as Go's crypto/x509 judges them for containers/image.

newest containers/image verifies a sigstore ``pki`` or ``fulcio`` certificate with Go's
``Certificate.Verify`` and ``VerifyHostname``. Three places where trustcopy accepted what
Go refuses (found by a conformance review, session 29):

- a root's basicConstraints path length: Go's ``isValid`` checks ``MaxPathLen`` for every
  CA on the chain, the root included (``TooManyIntermediates``);
- issuer keys Go cannot verify with: DSA and Ed448 ("algorithm unimplemented"), RSA under
  1024 bits (Go 1.24 and later, which newest containers/image is built with);
- a DNS SAN ending in a dot: Go treats it as an invalid pattern, matched exactly only.

The expected answers below are Go's (``crypto/x509/verify.go``), cited per case.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sigstore_material import (
    CERT_ANN,
    EMAIL,
    MIME,
    NOW,
    SIG_ANN,
    FakeImage,
    cert_pem,
    cosign_payload,
    envelope,
    make_cert,
    sign,
)
from test_sigstore_verify import evaluate

from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.sigstore_x509 import check_hostname, verify_chain


def _ca(name: str, key: Any, issuer: tuple[x509.Certificate, Any] | None, *, path_length: int | None = None,
        digest: hashes.HashAlgorithm | None = None) -> tuple[x509.Certificate, Any]:
    """A CA certificate for ``key``, self-signed when ``issuer`` is None (any key type)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=10)).not_valid_after(NOW + datetime.timedelta(days=10))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                              critical=True))
    signing_digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else (
        digest or hashes.SHA256())
    return builder.sign(issuer_key, signing_digest), key


def _leaf(issuer: tuple[x509.Certificate, Any], *, dns: tuple[str, ...] = (),
          ips: tuple[str, ...] = ()) -> x509.Certificate:
    issuer_cert, issuer_key = issuer
    names: list[x509.GeneralName] = [x509.RFC822Name(EMAIL)]
    names += [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    signing_digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else (
        hashes.SHA256())
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")]))
            .issuer_name(issuer_cert.subject).public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=True)
            .sign(issuer_key, signing_digest))


def _ec() -> Any:
    return ec.generate_private_key(ec.SECP256R1())


#: A 512-bit RSA key (``openssl genrsa 512``): cryptography refuses to generate one, Go 1.24+ to verify with one.
RSA_512 = b"""-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAo/dhrtEJTksyvAKv
HxPJ+wJ3THgAFSp5LKtjfTvC3mQnb3Lmb7dLm53ZCmaHJTGqUtWLC33SzMNdcU8G
wh7E1wIDAQABAkBIzW+O+nvCSrtVJW/yQYweKqMjzehjfX9eKR88nMtSiLmNiF24
6/FmtZfI0t30oCmVAkQ6ZYo7jysN80GMEnAJAiEA2JYS5EqpF+4vd1qHo4w9+/ne
SaTfbRgb66p8ctnOqq0CIQDBzfKeCy0Pk0sv4WCnp8iUezCNRh9j6Py49yURa1XC
EwIhAJ8G0ig9iZrAkKmaFy3Gs1xoQwbfwA1iPl3zeBz8P/qhAiAtNxlVmhHnQlwW
TaS5OMHpMlx/eU61hpP/q1lwmPQnFQIgE/gr989ixwwX0dDb5tlZe5BtDIcg83ur
ruHx+RIY0B4=
-----END PRIVATE KEY-----
"""


# --- path length of the root ----------------------------------------------------------------


def test_a_roots_path_length_zero_refuses_an_intermediate_below_it() -> None:
    """Go: ``len(currentChain)-1 > MaxPathLen`` is checked for ``rootCertificate`` too."""
    root = _ca("root pathlen 0", _ec(), None, path_length=0)
    inter = _ca("intermediate", _ec(), root)
    leaf = _leaf(inter)
    with pytest.raises(SignatureVerificationError, match="root certificate allows 0 intermediates below it, "
                                                        "the chain has 1"):
        verify_chain(leaf, [inter[0]], (root[0],), NOW)
    # The same root signing the leaf directly: no intermediate, so path length 0 is respected.
    assert verify_chain(_leaf(root), [], (root[0],), NOW)[-1] is root[0]


def test_a_roots_path_length_one_allows_one_intermediate_and_refuses_two() -> None:
    root = _ca("root pathlen 1", _ec(), None, path_length=1)
    upper = _ca("upper", _ec(), root)
    lower = _ca("lower", _ec(), upper)
    assert len(verify_chain(_leaf(upper), [upper[0]], (root[0],), NOW)) == 3
    with pytest.raises(SignatureVerificationError, match="allows 1 intermediates below it, the chain has 2"):
        verify_chain(_leaf(lower), [upper[0], lower[0]], (root[0],), NOW)


def test_a_root_path_length_reaches_the_policy_verdict() -> None:
    """Through the policy engine: a pki root with path length 0 above the chain's intermediate."""
    root = make_cert("pki-root", None, ca=True, path_length=0)
    inter = make_cert("pki-intermediate", root, ca=True)
    leaf = make_cert("signer", inter, ca=False, email=EMAIL)
    payload = cosign_payload()
    annotations = {SIG_ANN: base64.b64encode(sign(leaf.key, payload)).decode(), CERT_ANN: cert_pem(leaf.cert).decode()}
    spec = {"caRootsData": base64.b64encode(cert_pem(root.cert)).decode(),
            "caIntermediatesData": base64.b64encode(cert_pem(inter.cert)).decode(), "subjectEmail": EMAIL}
    requirement = {"type": "sigstoreSigned", "pki": spec, "signedIdentity": {"type": "matchRepository"}}
    verdict = evaluate(requirement, FakeImage("quay.io/ns/app:1", [envelope(MIME, payload, annotations)]))
    assert verdict.reason == "CERTIFICATE_INVALID"
    assert "allows 0 intermediates" in verdict.message


# --- issuer key algorithms --------------------------------------------------------------------


@pytest.mark.parametrize(("key", "named"), [
    (lambda: dsa.generate_private_key(2048), "a DSA key"),
    (ed448.Ed448PrivateKey.generate, "an Ed448 key"),
    (lambda: load_pem_private_key(RSA_512, None), "an RSA key of 512 bits"),
], ids=["dsa", "ed448", "rsa-512"])
def test_an_issuer_key_go_cannot_verify_with_makes_no_link(key: Any, named: str) -> None:
    """Go's ``checkSignature`` has no DSA or Ed448; Go 1.24+ refuses RSA keys under 1024 bits.

    Whether the key is the root's or an intermediate's, the chain is refused, and the
    message says why. No warning reaches the user's terminal (cryptography warns when a
    DSA key is loaded).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        odd = key()
    root = _ca("odd root", odd, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SignatureVerificationError, match=f"the root certificate has {named}, which cannot verify"):
            verify_chain(_leaf(root), [], (root[0],), NOW)
    good_root = _ca("good root", _ec(), None)
    odd_intermediate = _ca("odd intermediate", odd, good_root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SignatureVerificationError,
                           match=f"intermediate certificate 'CN=odd intermediate' has {named}"):
            verify_chain(_leaf(odd_intermediate), [odd_intermediate[0]], (good_root[0],), NOW)


@pytest.mark.parametrize("key", [
    lambda: rsa.generate_private_key(65537, 1024),
    lambda: rsa.generate_private_key(65537, 2048),
    lambda: ec.generate_private_key(ec.SECP384R1()),
    lambda: ec.generate_private_key(ec.SECP521R1()),
    ed25519.Ed25519PrivateKey.generate,
], ids=["rsa-1024", "rsa-2048", "p384", "p521", "ed25519"])
def test_issuer_keys_go_verifies_with_still_link(key: Any) -> None:
    root = _ca("root", key(), None)
    leaf = _leaf(root)
    assert verify_chain(leaf, [], (root[0],), NOW) == [leaf, root[0]]


# --- host names (Go's VerifyHostname) -------------------------------------------------------


@pytest.mark.parametrize(("sans", "wanted", "matches"), [
    # Exact and case-insensitive (ASCII) matches.
    ({"dns": ("build.example.com",)}, "build.example.com", True),
    ({"dns": ("Build.Example.COM",)}, "build.example.com", True),
    ({"dns": ("build.example.com",)}, "BUILD.example.com", True),
    # The wanted name's trailing dot is trimmed; a SAN's is not (an invalid pattern: exact only).
    ({"dns": ("build.example.com",)}, "build.example.com.", True),
    ({"dns": ("build.example.com.",)}, "build.example.com", False),
    ({"dns": ("build.example.com.",)}, "build.example.com.", True),
    # Wildcards: the whole leftmost label, exactly one label.
    ({"dns": ("*.example.com",)}, "build.example.com", True),
    ({"dns": ("*.example.com",)}, "a.build.example.com", False),
    ({"dns": ("*.example.com",)}, "example.com", False),
    ({"dns": ("b*.example.com",)}, "build.example.com", False),
    ({"dns": ("*.example.com",)}, "*.example.com", True),  # an invalid host name: exact match
    ({"dns": ("*",)}, "build", False),  # a bare wildcard: Go 1.20+ refuses it (Go 1.19 still matched)
    # A wanted name that is no valid host name only matches exactly.
    ({"dns": ("*.example.com",)}, "bad_name!.example.com", False),
    ({"dns": ("bad_name!.example.com",)}, "bad_name!.example.com", True),
    ({"dns": ("build.example.com",)}, "", False),
    # IP addresses: SANs of type IP only, Go's IP.Equal (IPv4 equals its IPv4-mapped form).
    ({"ips": ("192.0.2.7",)}, "192.0.2.7", True),
    ({"ips": ("192.0.2.7",)}, "[192.0.2.7]", True),
    ({"ips": ("192.0.2.7",)}, "::ffff:192.0.2.7", True),
    ({"ips": ("::ffff:192.0.2.7",)}, "192.0.2.7", True),
    ({"ips": ("2001:db8::1",)}, "[2001:db8::1]", True),
    ({"ips": ("2001:db8::1",)}, "[2001:db8::1", False),
    ({"ips": ("192.0.2.7",)}, "192.0.2.8", False),
    ({"dns": ("192.0.2.7",)}, "192.0.2.7", False),
])
def test_subject_hostname_follows_go(sans: dict[str, tuple[str, ...]], wanted: str, matches: bool) -> None:
    root = _ca("root", _ec(), None)
    leaf = _leaf(root, **sans)
    if matches:
        check_hostname(leaf, wanted)
    else:
        with pytest.raises(SignatureVerificationError, match="Unexpected subject hostname"):
            check_hostname(leaf, wanted)
