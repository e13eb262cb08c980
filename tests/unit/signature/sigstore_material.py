"""Sigstore test material made here with ``cryptography``: keys, CAs, Fulcio/PKI leaves, Rekor SETs.

Everything is built independently of trustcopy's own builders: payloads are written as
literal JSON, SET payloads are canonicalized with ``json.dumps(sort_keys=True)`` (equal to
RFC 8785 for the ASCII strings and integers a Rekor payload holds), so a bug in
trustcopy's builders or canonicalizer cannot hide in a matching bug here. No network.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trustcopy.digest import Digest
from trustcopy.image.unparsed import UnparsedImage  # noqa: F401 - documents what FakeImage stands for
from trustcopy.signature.formats import Signature, stored_signature

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}'
DIGEST = Digest.from_bytes(MANIFEST)
ISSUER = "https://oidc.example.com"
EMAIL = "signer@example.com"
MIME = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANN = "dev.cosignproject.cosign/signature"
SET_ANN = "dev.sigstore.cosign/bundle"
CERT_ANN = "dev.sigstore.cosign/certificate"
CHAIN_ANN = "dev.sigstore.cosign/chain"


def ec_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def pub_pem(key: Any) -> bytes:
    """PEM SubjectPublicKeyInfo of a (private or public) key."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_der(key: Any) -> bytes:
    """DER SubjectPublicKeyInfo."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(*certs: x509.Certificate) -> bytes:
    """Concatenated PEM certificates."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def der_utf8(text: str) -> bytes:
    """A DER UTF8String (Fulcio's issuer v2 extension value)."""
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


@dataclass
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def make_cert(
    name: str,
    issuer: Issued | None,
    *,
    ca: bool,
    path_length: int | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    email: str | None = None,
    dns: Sequence[str] = (),
    oidc_issuer: str | None = None,
    oidc_issuer_v2: str | None = None,
    code_signing: bool = True,
    key: ec.EllipticCurvePrivateKey | None = None,
    issuer_name: str | None = None,
) -> Issued:
    """A certificate: a self-signed root when ``issuer`` is None, else signed by ``issuer``."""
    key = key or ec_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)] if name else [])  # Fulcio leaves: empty
    issuer_subject = (issuer.cert.subject if issuer else subject) if issuer_name is None else x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(days=10 if ca else 1))
               .not_valid_after(not_after or NOW + datetime.timedelta(days=10 if ca else 1)))
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                                    critical=True)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                        critical=True)
        usage = ExtendedKeyUsageOID.CODE_SIGNING if code_signing else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    names: list[x509.GeneralName] = [x509.RFC822Name(email)] if email else []
    names += [x509.DNSName(d) for d in dns]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=True)
    if oidc_issuer is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"),
                                                                   oidc_issuer.encode()), critical=False)
    if oidc_issuer_v2 is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"),
                                                                   der_utf8(oidc_issuer_v2)), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def cosign_payload(digest: Digest = DIGEST, reference: str = "quay.io/ns/app", optional: str = "null") -> bytes:
    """A cosign payload as cosign writes it, as literal JSON."""
    return (b'{"critical":{"identity":{"docker-reference":"' + reference.encode() + b'"},"image":'
            b'{"docker-manifest-digest":"' + str(digest).encode() + b'"},"type":"cosign container image signature"},'
            b'"optional":' + optional.encode() + b"}")


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 / SHA-256, DER."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def hashedrekord(key_or_cert_pem: bytes, signature: bytes, payload: bytes, *, version: str = "0.0.1",
                 kind: str = "hashedrekord") -> dict[str, Any]:
    """A Rekor hashedrekord entry body."""
    return {"apiVersion": version, "kind": kind, "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
        "signature": {"content": base64.b64encode(signature).decode(),
                      "publicKey": {"content": base64.b64encode(key_or_cert_pem).decode()}}}}


def set_payload(body: dict[str, Any], integrated_time: int, log_index: int = 7) -> dict[str, Any]:
    """The SET payload (what the log signs, canonicalized)."""
    return {"body": base64.b64encode(json.dumps(body).encode()).decode(), "integratedTime": integrated_time,
            "logIndex": log_index, "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}


def canonical(value: Any) -> bytes:
    """JCS for ASCII strings and integers (the test's independent canonicalizer)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def make_set(rekor_key: ec.EllipticCurvePrivateKey, body: dict[str, Any], integrated_time: int) -> str:
    """The ``dev.sigstore.cosign/bundle`` annotation value."""
    payload = set_payload(body, integrated_time)
    return json.dumps({"SignedEntryTimestamp": base64.b64encode(sign(rekor_key, canonical(payload))).decode(),
                       "Payload": payload})


def envelope(mime: str, payload: bytes, annotations: dict[str, str]) -> bytes:
    """A ``dir:`` signature-N blob in containers/image's sigstore-json envelope."""
    chunk = json.dumps({"mimeType": mime, "payload": base64.b64encode(payload).decode(), "annotations": annotations})
    return b"\x00sigstore-json\n" + chunk.encode()


class FakeImage:
    """An UnparsedImage stand-in for ``docker://ref`` with chosen manifest and signature blobs."""

    #: Not an instance of a manifest list (UnparsedImage's attributes for instances).
    instance_digest: Digest | None = None
    manifest_list: Any = None

    def __init__(self, ref: str, signatures: Sequence[bytes], manifest: bytes = MANIFEST) -> None:
        from trustcopy.transports.docker.reference import TRANSPORT

        self.reference = TRANSPORT.parse_reference("//" + ref)
        self._signatures = list(signatures)
        self._manifest = manifest

    def manifest(self) -> tuple[bytes, str]:
        """The manifest bytes."""
        return self._manifest, "application/vnd.oci.image.manifest.v1+json"

    def manifest_digest(self) -> Digest:
        """sha256 of the manifest."""
        return Digest.from_bytes(self._manifest)

    def signatures(self) -> list[Signature]:
        """The blobs as a transport parses them."""
        return [stored_signature(b, f"test/signature-{i}") for i, b in enumerate(self._signatures, start=1)]

    def signature_search(self) -> str:
        """Where the fake source "looked" (for the no-signature message)."""
        return "looked in test/signature-1"
