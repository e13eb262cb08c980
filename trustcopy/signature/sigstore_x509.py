"""Certificates for sigstore: Fulcio (keyless) and private-PKI trust roots, and chain checks.

Chain building follows Go's ``x509.Certificate.Verify`` as containers/image uses it,
with hard bounds because every certificate but the roots comes from the signature:

1. at most :data:`MAX_UNTRUSTED_CERTS` certificates are parsed from a signature, and a
   chain has at most :data:`MAX_CHAIN_DEPTH` certificates; at most
   :data:`MAX_SIGNATURE_CHECKS` issuer signatures are checked per verification, so a
   looping or 100-deep chain fails fast;
2. each link: the issuer's subject equals the child's issuer and the issuer's key
   verifies the child's signature; a certificate already on the path is never reused;
3. every certificate on the path (root included) is valid at the verification time
   (for Fulcio: the Rekor SET's integrated time; for PKI: now);
4. every non-root CA certificate has basicConstraints CA=true and, if it has key usage,
   keyCertSign; every CA on the path, the root included, has its path length respected
   (Go checks a root's ``MaxPathLen`` too);
5. an issuer's key must be one Go can verify a certificate with: RSA of at least 1024
   bits (Go 1.24 refuses smaller ones, and newest containers/image is built with a later
   Go), ECDSA or Ed25519. DSA and Ed448 issuers, which ``cryptography`` would verify, make
   no link: Go answers "algorithm unimplemented";
6. extended key usage: a certificate with an EKU extension must allow code signing
   (or any usage), as Go checks along the chain;
7. unknown critical extensions are refused (Fulcio's critical SAN without e-mail
   names is handled by us), and so is any name-constraints extension: we do not
   evaluate them, so we do not trust chains that rely on them.

WARNING: this is no general-purpose path validator; it answers exactly "does this leaf
chain to one of the policy's roots for code signing at this time".
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import field
from typing import Any

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
#: Fulcio's OIDC issuer extensions: v1 holds the raw string, v2 a DER UTF8String.
OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
MAX_UNTRUSTED_CERTS = 16
MAX_CHAIN_DEPTH = 10
MAX_SIGNATURE_CHECKS = 100
_MAX_ROOTS = 1000


def _bad(message: str) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=Reason.CERTIFICATE_INVALID, code="certificate-invalid")


def _subject_bad(message: str) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=Reason.CERTIFICATE_IDENTITY_MISMATCH,
                                      code="certificate-identity-mismatch")


def parse_certificates(pem: bytes, what: str, *, limit: int) -> list[Any]:
    """Every ``CERTIFICATE`` PEM block of ``pem`` (at most ``limit``).

    Raises:
        SignatureError: not PEM, another block type, too many, or a certificate that
            does not parse (code ``certificate-invalid``).
    """
    from cryptography import x509

    from trustcopy.signature.sigstore_keys import pem_blocks

    blocks = pem_blocks(pem, what)
    if len(blocks) > limit:
        raise SignatureError(f"{what} holds {len(blocks)} certificates, more than {limit}", code="certificate-invalid")
    certs = []
    for kind, der in blocks:
        if kind != "CERTIFICATE":
            raise SignatureError(f"{what}: unexpected PEM block {kind!r}", code="certificate-invalid")
        try:
            cert = x509.load_der_x509_certificate(der)
            # Duplicate (Go: "certificate contains duplicate extensions") or malformed extensions
            # fail here, not later; two of cryptography's errors for them are no ValueError.
            _ = cert.extensions
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            raise SignatureError(f"{what}: invalid certificate: {exc}", code="certificate-invalid") from None
        certs.append(cert)
    return certs


def load_der_certificates(ders: tuple[bytes, ...]) -> list[Any]:
    """Certificates given as DER (a Sigstore bundle's), leaf first.

    Raises:
        SignatureVerificationError: reason ``CERTIFICATE_INVALID``.
    """
    from cryptography import x509

    if not 0 < len(ders) <= MAX_UNTRUSTED_CERTS:
        raise _bad(f"the bundle holds {len(ders)} certificates, expected 1 to {MAX_UNTRUSTED_CERTS}")
    certs = []
    for der in ders:
        try:
            cert = x509.load_der_x509_certificate(der)
            _ = cert.extensions
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            raise _bad(f"invalid certificate in the bundle: {exc}") from None
        certs.append(cert)
    return certs


def load_roots(pem: bytes, what: str) -> tuple[Any, ...]:
    """Trusted CA certificates from the policy (at least one).

    Raises:
        SignatureError: code ``certificate-invalid``.
    """
    roots = parse_certificates(pem, what, limit=_MAX_ROOTS)
    if not roots:
        raise SignatureError(f"{what} holds no certificates", code="certificate-invalid")
    return tuple(roots)


@dataclass(frozen=True)
class FulcioRoot:
    """A policy's ``fulcio`` section, parsed."""

    roots: tuple[Any, ...] = field(repr=False)
    oidc_issuer: str
    subject_email: str


@dataclass(frozen=True)
class PKIRoot:
    """A policy's ``pki`` section, parsed."""

    roots: tuple[Any, ...] = field(repr=False)
    intermediates: tuple[Any, ...] = field(repr=False)
    subject_email: str | None
    subject_hostname: str | None


_HANDLED_CRITICAL = {
    "2.5.29.15", "2.5.29.19", "2.5.29.37", "2.5.29.17",  # keyUsage, basicConstraints, EKU, SAN
    "2.5.29.32", "2.5.29.36", "2.5.29.54", "2.5.29.33",  # policies, policy constraints, inhibitAny, mappings
}
_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
_ANY_EKU = "2.5.29.37.0"


def _ext(cert: Any, oid: str) -> Any:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return None


def _check_extensions(cert: Any, where: str) -> None:
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if oid == "2.5.29.30":
            raise _bad(f"{where} has a name-constraints extension, which trustcopy does not evaluate")
        if ext.critical and oid not in _HANDLED_CRITICAL:
            raise _bad(f"{where} has an unhandled critical extension {oid}")
    eku = _ext(cert, "2.5.29.37")
    if eku is not None:
        usages = {u.dotted_string for u in eku}
        if not usages & {_CODE_SIGNING, _ANY_EKU}:
            raise _bad(f"{where} does not allow code signing (extended key usage)")


def _valid_at(cert: Any, when: datetime.datetime, where: str) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise _bad(f"{where} is not valid at {when.isoformat()} (valid from {cert.not_valid_before_utc.isoformat()} "
                   f"to {cert.not_valid_after_utc.isoformat()})")


#: The smallest RSA issuer key Go (1.24 and later) verifies a signature with.
MIN_RSA_ISSUER_BITS = 1024


_RSA_KEY, _EC_KEY, _ED25519_KEY = "1.2.840.113549.1.1.1", "1.2.840.10045.2.1", "1.3.101.112"
_KEY_ALGORITHMS = {"1.2.840.10040.4.1": "a DSA key", "1.3.101.113": "an Ed448 key",
                   "1.2.840.113549.1.1.10": "an RSA-PSS key"}


def _unusable_issuer_key(issuer: Any) -> str:
    """What makes ``issuer``'s key one Go's ``checkSignature`` cannot use (item 5), or ``""``.

    Asked before the signature check, from the key's algorithm identifier: ``cryptography``
    would verify with a DSA key, and print a deprecation warning on the user's terminal
    when the key is merely loaded.
    """
    algorithm = issuer.public_key_algorithm_oid.dotted_string
    if algorithm in (_EC_KEY, _ED25519_KEY):
        return ""
    if algorithm != _RSA_KEY:
        return _KEY_ALGORITHMS.get(algorithm, f"a key of algorithm {algorithm}")
    try:
        bits = issuer.public_key().key_size
    except (ValueError, TypeError):
        return "an RSA key that does not parse"
    return "" if bits >= MIN_RSA_ISSUER_BITS else f"an RSA key of {bits} bits"


def _issued_by(child: Any, issuer: Any) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature or unsupported algorithm: no link
        return False
    return True


def _check_path_length(cert: Any, below: int, where: str) -> None:
    """Any CA on the path, root included (``below``: intermediates under it): Go's ``TooManyIntermediates``."""
    constraints = _ext(cert, "2.5.29.19")
    if constraints is not None and constraints.path_length is not None and below > constraints.path_length:
        raise _bad(f"{where} allows {constraints.path_length} intermediates below it, the chain has {below}")


def _check_ca(cert: Any, below: int, where: str) -> None:
    """A non-root issuer: CA, path length, key usage (``below``: intermediates under it)."""
    constraints = _ext(cert, "2.5.29.19")
    if constraints is None or not constraints.ca:
        raise _bad(f"{where} is not a CA certificate, so it may not issue certificates")
    _check_path_length(cert, below, where)
    usage = _ext(cert, "2.5.29.15")
    if usage is not None and not usage.key_cert_sign:
        raise _bad(f"{where} may not sign certificates (key usage)")


def verify_chain(leaf: Any, intermediates: list[Any], roots: tuple[Any, ...], when: datetime.datetime) -> list[Any]:
    """Find a chain from ``leaf`` to one of ``roots`` valid at ``when`` (see the module docstring).

    Returns:
        The chain, leaf first, root last.

    Raises:
        SignatureVerificationError: reason ``CERTIFICATE_INVALID``, saying why no chain exists.
    """
    _valid_at(leaf, when, "the signing certificate")
    _check_extensions(leaf, "the signing certificate")
    budget = [MAX_SIGNATURE_CHECKS]
    failures: list[str] = []
    root_ids = {id(r) for r in roots}

    def extend(path: list[Any]) -> list[Any] | None:
        current = path[-1]
        for candidate in (*roots, *intermediates):
            if any(candidate is p or candidate == p for p in path) or candidate.subject != current.issuer:
                continue
            if budget[0] <= 0:
                raise _bad(f"certificate chain search gave up after {MAX_SIGNATURE_CHECKS} signature checks")
            budget[0] -= 1
            is_root = id(candidate) in root_ids
            name = candidate.subject.rfc4514_string()
            where = "the root certificate" if is_root else f"intermediate certificate {name!r}"
            unusable = _unusable_issuer_key(candidate)
            if unusable:
                failures.append(f"{where} has {unusable}, which cannot verify certificates")
                continue
            if not _issued_by(current, candidate):
                continue
            try:
                _valid_at(candidate, when, where)
                _check_extensions(candidate, where)
                if is_root:
                    _check_path_length(candidate, len(path) - 1, where)
                else:
                    _check_ca(candidate, len(path) - 1, where)
            except SignatureVerificationError as exc:
                failures.append(exc.message)
                continue
            if is_root:
                return [*path, candidate]
            if len(path) + 1 >= MAX_CHAIN_DEPTH:
                failures.append(f"the certificate chain is longer than {MAX_CHAIN_DEPTH} certificates")
                continue
            found = extend([*path, candidate])
            if found is not None:
                return found
        return None

    chain = extend([leaf])
    if chain is None:
        detail = f": {failures[0]}" if failures else ""
        raise _bad(f"the signing certificate does not chain to a trusted root{detail}")
    return chain


def _printable(char: int) -> bool:
    """Go's ``asn1.isPrintable`` as ``parsePrintableString`` calls it (``*`` and ``&`` allowed)."""
    return chr(char).isascii() and (chr(char).isalnum() or chr(char) in " '()+,-./:=?*&")


def _der_string(value: bytes) -> str:
    """A DER UTF8String/PrintableString/IA5String with nothing after it (Go asn1.Unmarshal into string).

    As Go: lengths must be minimal (DER), a PrintableString holds only its character set
    (plus ``*`` and ``&``), an IA5String only ASCII, a UTF8String valid UTF-8. Go also reads
    T61String, NumericString, GeneralString and BMPString into a string; those are refused
    here (Fulcio writes a UTF8String; refusing them rejects more, never accepts more).
    """
    if len(value) < 2 or value[0] not in (0x0C, 0x13, 0x16):
        raise ValueError("not an ASN.1 string")
    length, pos = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(value) < 2 + count:
            raise ValueError("invalid ASN.1 length")
        if value[2] == 0:
            raise ValueError("superfluous leading zeros in ASN.1 length")
        length, pos = int.from_bytes(value[2:2 + count], "big"), 2 + count
        if length < 0x80:
            raise ValueError("non-minimal ASN.1 length")
    if len(value) != pos + length:
        raise ValueError("trailing data" if len(value) > pos + length else "truncated")
    body = value[pos:]
    if value[0] == 0x13 and not all(_printable(c) for c in body):
        raise ValueError("PrintableString contains invalid character")
    if value[0] == 0x16 and not body.isascii():
        raise ValueError("IA5String contains invalid character")
    return body.decode("utf-8")


def fulcio_issuer(cert: Any) -> str:
    """The OIDC issuer Fulcio recorded (v1 and v2 extensions must agree when both exist).

    Raises:
        SignatureVerificationError: reason ``CERTIFICATE_IDENTITY_MISMATCH``.
    """
    v1, v2 = _ext(cert, OID_ISSUER_V1), _ext(cert, OID_ISSUER_V2)
    issuer1 = issuer2 = None
    try:
        if v1 is not None:
            issuer1 = v1.value.decode("utf-8")
        if v2 is not None:
            issuer2 = _der_string(v2.value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _subject_bad(f"invalid OIDC issuer extension in the Fulcio certificate: {exc}") from None
    if issuer1 is not None and issuer2 is not None and issuer1 != issuer2:
        raise _subject_bad(f"inconsistent OIDC issuer extension values: v1 {issuer1!r}, v2 {issuer2!r}")
    issuer = issuer1 if issuer1 is not None else issuer2
    if issuer is None:
        raise _subject_bad("Fulcio certificate is missing the issuer extension")
    return issuer


def _san(cert: Any) -> Any:
    return _ext(cert, "2.5.29.17")


def emails(cert: Any) -> list[str]:
    """The certificate's e-mail SANs."""
    from cryptography import x509

    san = _san(cert)
    return [] if san is None else list(san.get_values_for_type(x509.RFC822Name))


def check_email(cert: Any, wanted: str) -> None:
    """The wanted e-mail must be among the SANs (exact match, as containers/image)."""
    found = emails(cert)
    if wanted not in found:
        raise _subject_bad(f"Required email {wanted!r} not found (got {found!r}; the policy's subjectEmail)")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _valid_hostname(host: str, *, pattern: bool) -> bool:
    """Go's ``validHostname``: non-empty labels of letters, digits, ``_`` and inner ``-``."""
    if not pattern:
        host = host.removesuffix(".")
    if not host or host == "*":
        return False
    for i, part in enumerate(host.split(".")):
        if not part:
            return False
        if pattern and i == 0 and part == "*":
            continue
        if not all(c.isascii() and (c.isalnum() or c == "_" or (c == "-" and j)) for j, c in enumerate(part)):
            return False
    return True


def _match_hostnames(pattern: str, host: str) -> bool:
    """Go's ``matchHostnames``: label by label, a leftmost ``*`` label matching any one label."""
    pattern_parts = pattern.translate(_ASCII_LOWER).split(".")
    host_parts = host.removesuffix(".").translate(_ASCII_LOWER).split(".")
    if not pattern or not host.removesuffix(".") or len(pattern_parts) != len(host_parts):
        return False
    return all((i == 0 and part == "*") or part == host_parts[i] for i, part in enumerate(pattern_parts))


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's ``net.ParseIP`` (no IPv6 zone; leading zeros refused as by Python)."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ip16(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """The 16-byte form Go's ``IP.Equal`` compares (an IPv4 address as IPv4-mapped IPv6)."""
    return ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed


def check_hostname(cert: Any, wanted: str) -> None:
    """Go's ``Certificate.VerifyHostname``, which containers/image calls for ``subjectHostname``.

    As Go: a bracketed or bare IP address matches an equal IP SAN (IPv4 equal to its
    IPv4-mapped IPv6 form); otherwise DNS SANs match case-insensitively (ASCII only),
    with wildcard and trailing-dot handling only when both the wanted name and the SAN
    are valid host names, and exact matching otherwise. No fallback to the subject's CN.
    """
    from cryptography import x509

    san = _san(cert)
    dns = [] if san is None else list(san.get_values_for_type(x509.DNSName))
    candidate_ip = wanted[1:-1] if len(wanted) >= 3 and wanted[0] == "[" and wanted[-1] == "]" else wanted
    ip = _parse_ip(candidate_ip)
    if ip is not None:
        ips = [] if san is None else san.get_values_for_type(x509.IPAddress)
        if any(_ip16(ip) == _ip16(other) for other in ips):
            return
    else:
        name = wanted.translate(_ASCII_LOWER)
        valid_name = _valid_hostname(name, pattern=False)
        for pattern in dns:
            if valid_name and _valid_hostname(pattern, pattern=True):
                if _match_hostnames(pattern, name):
                    return
            elif pattern not in ("", ".") and name not in ("", ".") and pattern.translate(_ASCII_LOWER) == name:
                return
    raise _subject_bad(f"Unexpected subject hostname: certificate is valid for {dns!r}, not {wanted!r} "
                       "(the policy's subjectHostname)")


def attached_certificates(cert_pem: bytes, chain_pem: bytes | None) -> tuple[Any, list[Any]]:
    """The leaf and untrusted intermediates of a cosign attachment's annotations.

    Like containers/image, the chain annotation's last certificate is its root, which is
    never trusted from there; the others are candidate intermediates.

    Raises:
        SignatureVerificationError: reason ``CERTIFICATE_INVALID``.
    """
    try:
        leaves = parse_certificates(cert_pem, "the signature's certificate", limit=1)
        chain = [] if not chain_pem else parse_certificates(chain_pem, "the signature's certificate chain",
                                                             limit=MAX_UNTRUSTED_CERTS)
    except SignatureError as exc:
        raise _bad(exc.message) from None
    if not leaves:
        raise _bad("no certificate found in signature certificate data")
    return leaves[0], chain[:-1]


def verify_fulcio(root: FulcioRoot, when: int, leaf: Any, intermediates: list[Any]) -> Any:
    """Check a Fulcio certificate at the Rekor-proven time ``when``; the (now trusted) leaf.

    Raises:
        SignatureVerificationError: ``CERTIFICATE_INVALID`` (chain, validity, usage) or
            ``CERTIFICATE_IDENTITY_MISMATCH`` (issuer, e-mail).
    """
    at = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
    verify_chain(leaf, intermediates, root.roots, at)
    issuer = fulcio_issuer(leaf)
    if issuer != root.oidc_issuer:
        raise _subject_bad(f"Unexpected Fulcio OIDC issuer {issuer!r}: the policy's oidcIssuer is {root.oidc_issuer!r}")
    check_email(leaf, root.subject_email)
    return leaf


def _check_pki_san(leaf: Any) -> None:
    """Go's x509 leaves a critical SAN holding no DNS, e-mail, IP or URI name "unhandled".

    containers/image's PKI verification then fails as for any unhandled critical extension
    (its Fulcio verification forgives the SAN, as :func:`verify_chain` does for both), so a
    PKI leaf whose critical SAN holds only, say, an otherName is CERTIFICATE_INVALID, not a
    subject mismatch.
    """
    from cryptography import x509

    try:
        san = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.17"))
    except x509.ExtensionNotFound:
        return
    kinds = (x509.DNSName, x509.RFC822Name, x509.IPAddress, x509.UniformResourceIdentifier)
    if san.critical and not any(isinstance(name, kinds) for name in san.value):
        raise _bad("the signing certificate has an unhandled critical extension 2.5.29.17 "
                   "(a subject alternative name without DNS, e-mail, IP or URI names)")


def verify_pki(root: PKIRoot, leaf: Any, intermediates: list[Any], now: datetime.datetime | None = None) -> Any:
    """Check a certificate from a private PKI (at the current time); the (now trusted) leaf.

    Raises:
        SignatureVerificationError: as :func:`verify_fulcio`, with the hostname checked too.
    """
    _check_pki_san(leaf)
    verify_chain(leaf, [*root.intermediates, *intermediates], root.roots, now or datetime.datetime.now(datetime.UTC))
    if root.subject_email is not None:
        check_email(leaf, root.subject_email)
    if root.subject_hostname is not None:
        check_hostname(leaf, root.subject_hostname)
    return leaf


def certificate_der(cert: Any) -> bytes:
    """DER of a certificate (for matching against a Rekor entry)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)  # type: ignore[no-any-return]


def certificate_fingerprint(cert: Any) -> str:
    """Upper-case hex SHA-256 of a certificate: how traces name the signing certificate."""
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex().upper()  # type: ignore[no-any-return]
