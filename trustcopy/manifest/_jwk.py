"""The checks docker/libtrust makes on a schema1 signature's embedded public key.

libtrust refuses to parse a pretty-JWS manifest whose ``header.jwk`` it cannot load,
and then containers/image cannot compute the manifest's digest. To give the same
answer we repeat those checks (no signature is verified): key type, curve and
coordinate lengths for EC, modulus and exponent for RSA, and — when a ``kid`` is
present — that it equals libtrust's key ID (SHA-256 of the PKIX DER, 240 bits, base32
in groups of four).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# Curve name → (cryptography class name, coordinate size). cryptography is imported only
# when a signed schema1 manifest is actually checked: it costs start-up time otherwise.
_CURVES: dict[str, tuple[str, int]] = {
    "P-256": ("SECP256R1", 32),
    "P-384": ("SECP384R1", 48),
    "P-521": ("SECP521R1", 66),
}
_RSA_OID = bytes.fromhex("06092a864886f70d010101")


def _string(jwk: dict[str, Any], key: str) -> str:
    """libtrust's stringFromMap: present and a string."""
    if key not in jwk:
        raise ValueError(f"{key!r} value not specified")
    value = jwk[key]
    if isinstance(value, str):
        return value
    raise ValueError(f"{key!r} value must be a string")


def jose_b64decode(text: str) -> bytes:
    """libtrust's joseBase64UrlDecode: URL alphabet, padding optional, spaces and newlines ignored.

    Raises:
        ValueError: not valid base64url.
    """
    text = text.replace("\n", "").replace(" ", "")
    if len(text) % 4 == 1:
        raise ValueError("illegal base64url string")
    text += "=" * (-len(text) % 4)
    text = text.replace("\r", "")  # Go's decoder skips CR as well
    if "+" in text or "/" in text:
        raise ValueError("illegal base64url data")
    try:
        return base64.b64decode(text, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"illegal base64url data: {exc}") from exc


def key_id(der: bytes) -> str:
    """libtrust's key ID for a public key's PKIX DER encoding."""
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV."""
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def _der_int(value: int) -> bytes:
    """A non-negative DER INTEGER (minimal, with a sign byte when needed)."""
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _ec_der(curve_name: str, x: int, y: int) -> bytes:
    """PKIX DER as Go's x509 writes it, or b"" where Go fails (point not on the curve)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    curve: ec.EllipticCurve = getattr(ec, curve_name)()
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    except ValueError:
        return b""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rsa_der(n: int, e: int) -> bytes:
    """PKIX DER of an RSA key, without the sanity checks Go's x509 does not make either."""
    algorithm = _der(0x30, _RSA_OID + b"\x05\x00")
    return _der(0x30, algorithm + _der(0x03, b"\x00" + _der(0x30, _der_int(n) + _der_int(e))))


def _as_object(jwk: Any) -> dict[str, Any]:
    """The JWK as a JSON object, or the error libtrust reports."""
    if isinstance(jwk, dict):
        return jwk
    raise ValueError("decoding JWK Public Key JSON data: not an object")


def check_jwk(jwk: Any) -> None:
    """Raise ValueError where libtrust's UnmarshalPublicKeyJWK would fail for ``jwk``."""
    if jwk is None:  # libtrust decodes JSON null into an empty map
        raise ValueError("JWK Public Key type: 'kty' value not specified")
    jwk = _as_object(jwk)
    kty = _string(jwk, "kty")
    if kty == "EC":
        crv = _string(jwk, "crv")
        if crv not in _CURVES:
            raise ValueError(f"JWK EC Public Key curve identifier not supported: {crv!r}")
        curve, size = _CURVES[crv]
        coords = []
        for name in ("x", "y"):
            raw = jose_b64decode(_string(jwk, name))
            if len(raw) != size:
                raise ValueError(f"JWK EC Public Key {name}-coordinate: invalid number of octets: "
                                 f"got {len(raw)}, should be {size}")
            coords.append(int.from_bytes(raw, "big"))
        der = b"" if "kid" not in jwk else _ec_der(curve, coords[0], coords[1])
    elif kty == "RSA":
        n = int.from_bytes(jose_b64decode(_string(jwk, "n")), "big")
        e_raw = jose_b64decode(_string(jwk, "e"))
        if len(e_raw) > 4:
            raise ValueError("JWK RSA Public Key exponent: too long")
        der = _rsa_der(n, int.from_bytes(e_raw, "big"))
    else:
        raise ValueError(f"JWK Public Key type not supported: {kty!r}")
    if "kid" in jwk and _string(jwk, "kid") != (key_id(der) if der else ""):
        raise ValueError(f"JWK {kty} Public Key ID does not match: {jwk['kid']}")
    if kty == "RSA" and "d" in jwk:
        raise ValueError("JWK RSA Public Key cannot contain private exponent")
