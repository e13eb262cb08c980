"""Encrypted OCI layers, as containers/ocicrypt writes and reads them (``copy --encryption-key``).

A layer is encrypted with a fresh 256-bit key and nonce (AES-256-CTR) and authenticated with
an HMAC-SHA256 over the ciphertext under the same key. Its descriptor then carries:

- media type ``<the layer's type>+encrypted``, digest and size of the ciphertext, where the
  layer's type is the one of the bytes encrypted: the copy first gives a layer the
  compression the destination wants (trustcopy.copy.blobs), then encrypts it, as
  containers/image does (an uncompressed layer pushed to a registry becomes
  ``tar+gzip+encrypted``);
- ``org.opencontainers.image.enc.pubopts``: base64 of ``{"cipher": "AES_256_CTR_HMAC_SHA256",
  "hmac": …, "cipheroptions": {}}`` (public: the HMAC);
- ``org.opencontainers.image.enc.keys.jwe``: base64 of a JWE (JSON serialization) whose
  payload is the private options ``{"symkey": …, "digest": <digest of the bytes encrypted>,
  "cipheroptions": {"nonce": …}}``, with one recipient per ``jwe:`` key: RSA keys get
  RSA-OAEP (SHA-1, as go-jose), EC keys ECDH-ES+A256KW; the content is A256GCM. Several
  JWEs may be listed, comma-separated.

Only the JWE key protocol is built (``pgp:``, ``pkcs7:``, ``pkcs11:`` and ``provider:``
are refused by name). Decryption trusts nothing it has not authenticated: the private
options come out of AES-GCM, and the plaintext is released to a destination only as it
streams, which fails at the end unless the HMAC matches (a layer without one is refused, as
ocicrypt fails it), so a destination (which commits only a blob that ended cleanly) never
keeps a tampered layer. The ``digest`` of the private options is not checked: containers/image
seals the digest of the blob it read even when it compressed that blob before encrypting it,
and ocicrypt never checks it either (:class:`LayerDecryption`); trustcopy seals the digest of
the bytes it encrypts.

Interoperability with skopeo 1.9.3 (containers/ocicrypt) is tested both ways in
tests/integration/test_encryption_skopeo.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import TYPE_CHECKING, Any

from trustcopy.errors import DigestMismatchError, EncryptionError
from trustcopy.lazy import dataclass
from trustcopy.limits import load_json

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ENCRYPTED_SUFFIX = "+encrypted"
ANNOTATION_JWE = "org.opencontainers.image.enc.keys.jwe"
ANNOTATION_PUBOPTS = "org.opencontainers.image.enc.pubopts"
_ANNOTATION_PREFIX = "org.opencontainers.image.enc."
CIPHER = "AES_256_CTR_HMAC_SHA256"
#: Key protocols ``--encryption-key`` knows of; only ``jwe`` is built.
_PROTOCOLS = ("jwe", "pgp", "pkcs7", "pkcs11", "provider")
_MAX_KEY_FILE = 1 << 20
_MAX_JWE = 1 << 20
_CURVES = {"P-256": 32, "P-384": 48, "P-521": 66}


def is_encrypted(media_type: str | None) -> bool:
    """Whether a layer media type names an encrypted layer."""
    return bool(media_type) and media_type.endswith(ENCRYPTED_SUFFIX)  # type: ignore[union-attr]


def decrypted_media_type(media_type: str) -> str:
    """``…+gzip+encrypted`` → ``…+gzip``."""
    return media_type[: -len(ENCRYPTED_SUFFIX)] if is_encrypted(media_type) else media_type


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise EncryptionError(f"{what} is not a base64url string", code="encryption-metadata-invalid")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise EncryptionError(f"{what} is not valid base64url", code="encryption-metadata-invalid") from None


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise EncryptionError(f"{what} is not a base64 string", code="encryption-metadata-invalid")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise EncryptionError(f"{what} is not valid base64", code="encryption-metadata-invalid") from None


# -- keys -------------------------------------------------------------------------------


def _read_key_file(path: str, what: str) -> bytes:
    from trustcopy.limits import read_file_at_most

    try:
        return read_file_at_most(path, _MAX_KEY_FILE, f"{what} {path}", allow_fifo=True)
    except OSError as exc:
        raise EncryptionError(f"cannot read the {what} {path}: {exc.strerror or exc}",
                              code="encryption-key-invalid") from None


@dataclass(frozen=True)
class Recipient:
    """One ``--encryption-key jwe:PATH``: a public RSA or EC key."""

    path: str
    key: Any  # cryptography's RSAPublicKey or EllipticCurvePublicKey


def load_encryption_key(spec: str) -> Recipient:
    """Parse ``jwe:PATH`` (a PEM or DER public key, or a certificate holding one).

    Raises:
        EncryptionError: another protocol, an unreadable file, or not an RSA/EC public key.
    """
    protocol, sep, path = spec.partition(":")
    if not sep or protocol not in _PROTOCOLS:
        raise EncryptionError(f"--encryption-key {spec!r}: expected PROTOCOL:PATH with PROTOCOL one of "
                              f"{', '.join(_PROTOCOLS)}", code="encryption-key-invalid")
    if protocol != "jwe":
        raise EncryptionError(f"--encryption-key {protocol}:…: the {protocol} key protocol is not supported; use jwe:",
                              code="encryption-key-unsupported",
                              hint="jwe:PATH takes an RSA or EC public key in PEM or DER")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    data = _read_key_file(path, "encryption key")
    key: Any = None
    for load in (serialization.load_pem_public_key, serialization.load_der_public_key,
                 lambda d: x509.load_pem_x509_certificate(d).public_key(),
                 lambda d: x509.load_der_x509_certificate(d).public_key()):
        try:
            key = load(data)
            break
        except (ValueError, TypeError):
            continue
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise EncryptionError(f"--encryption-key {spec!r}: {path} holds no RSA or EC public key (PEM or DER)",
                              code="encryption-key-invalid")
    if isinstance(key, ec.EllipticCurvePublicKey) and _curve_name(key) is None:
        raise EncryptionError(f"--encryption-key {spec!r}: the EC curve {key.curve.name} is not one JWE names "
                              "(P-256, P-384, P-521)", code="encryption-key-invalid")
    return Recipient(path=path, key=key)


def load_decryption_key(spec: str) -> Any:
    """Parse ``PATH[:PASSWORD]``: a PEM or DER RSA or EC private key, possibly password-protected.

    Raises:
        EncryptionError: unreadable, a wrong or missing password, or not an RSA/EC private key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    path, password = spec, None
    if not os.path.exists(spec) and ":" in spec:
        path, _, pw = spec.rpartition(":")
        password = pw.encode()
        from trustcopy.redact import register_secret

        register_secret(pw)
    data = _read_key_file(path, "decryption key")
    key: Any = None
    failure = "it holds no RSA or EC private key (PEM or DER); only JWE keys are supported"
    for load in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            key = load(data, password)
            break
        except TypeError:  # a password for an unencrypted key, or none for an encrypted one
            failure = "it is password-protected: give PATH:PASSWORD" if password is None else \
                "the password was given for a key that has none"
        except ValueError as exc:
            if password is not None and "password" in str(exc).lower():
                failure = "the password is wrong"
                break
            continue
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise EncryptionError(f"--decryption-key {path}: {failure}", code="decryption-key-invalid")
    return key


def _curve_name(key: Any) -> str | None:
    return {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name)


# -- JWE (the private options, wrapped for each recipient) -------------------------------


def _concat_kdf(shared: bytes, algorithm: str, bits: int) -> bytes:
    """RFC 7518 4.6.2 with empty PartyUInfo/PartyVInfo, one round (a 256-bit key)."""
    other = (len(algorithm).to_bytes(4, "big") + algorithm.encode() + bytes(4) + bytes(4)
             + bits.to_bytes(4, "big"))
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + other).digest()[: bits // 8]


def _wrap(payload: bytes, recipients: Iterable[Recipient]) -> str:
    """A JWE (general JSON serialization, A256GCM) of ``payload`` for ``recipients``; base64 for the annotation."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    cek, iv = os.urandom(32), os.urandom(12)
    protected = _b64u(b'{"enc":"A256GCM"}')
    entries: list[dict[str, Any]] = []
    for r in recipients:
        if isinstance(r.key, ec.EllipticCurvePublicKey):
            curve = _curve_name(r.key)
            size = _CURVES[curve]  # type: ignore[index]
            ephemeral = ec.generate_private_key(r.key.curve)
            kek = _concat_kdf(ephemeral.exchange(ec.ECDH(), r.key), "ECDH-ES+A256KW", 256)
            numbers = ephemeral.public_key().public_numbers()
            epk = {"kty": "EC", "crv": curve, "x": _b64u(numbers.x.to_bytes(size, "big")),
                   "y": _b64u(numbers.y.to_bytes(size, "big"))}
            entries.append({"header": {"alg": "ECDH-ES+A256KW", "epk": epk},
                            "encrypted_key": _b64u(aes_key_wrap(kek, cek))})
        else:
            oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - RSA-OAEP is SHA-1 by definition (RFC 7518)
            entries.append({"header": {"alg": "RSA-OAEP"}, "encrypted_key": _b64u(r.key.encrypt(cek, oaep))})
    sealed = AESGCM(cek).encrypt(iv, payload, protected.encode())
    jwe = {"protected": protected, "recipients": entries, "iv": _b64u(iv),
           "ciphertext": _b64u(sealed[:-16]), "tag": _b64u(sealed[-16:])}
    return base64.b64encode(json.dumps(jwe, separators=(",", ":")).encode()).decode()


def _unwrap_one(jwe: Mapping[str, Any], keys: Iterable[Any], what: str) -> bytes | None:
    """The payload of one JWE if one of ``keys`` opens it, else None."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

    protected_b64 = jwe.get("protected", "")
    try:
        protected = load_json(_unb64u(protected_b64, f"{what}: the JWE header"), what) if protected_b64 else {}
    except ValueError:
        raise EncryptionError(f"{what}: the JWE's protected header is not JSON",
                              code="encryption-metadata-invalid") from None
    shared = {**(protected if isinstance(protected, dict) else {}), **(jwe.get("unprotected") or {})}
    if shared.get("enc") not in ("A256GCM", "A192GCM", "A128GCM"):
        raise EncryptionError(f"{what}: unsupported JWE content encryption {shared.get('enc')!r}",
                              code="encryption-metadata-invalid")
    entries = jwe.get("recipients")
    if not isinstance(entries, list):
        entries = [{"header": jwe.get("header") or {}, "encrypted_key": jwe.get("encrypted_key", "")}]
    iv = _unb64u(jwe.get("iv"), f"{what}: the JWE iv")
    sealed = (_unb64u(jwe.get("ciphertext"), f"{what}: the JWE ciphertext")
              + _unb64u(jwe.get("tag"), f"{what}: the JWE tag"))
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        header = {**shared, **(entry.get("header") or {})}
        alg = header.get("alg")
        wrapped = _unb64u(entry.get("encrypted_key", ""), f"{what}: a JWE encrypted_key")
        for key in keys:
            cek: bytes | None = None
            try:
                if alg in ("RSA-OAEP", "RSA-OAEP-256") and isinstance(key, rsa.RSAPrivateKey):
                    digest = hashes.SHA1() if alg == "RSA-OAEP" else hashes.SHA256()  # noqa: S303 - as RFC 7518 defines it
                    cek = key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None))
                elif alg == "ECDH-ES+A256KW" and isinstance(key, ec.EllipticCurvePrivateKey):
                    epk = header.get("epk") or {}
                    if epk.get("crv") != _curve_name(key):
                        continue
                    public = ec.EllipticCurvePublicNumbers(
                        int.from_bytes(_unb64u(epk.get("x"), f"{what}: epk.x"), "big"),
                        int.from_bytes(_unb64u(epk.get("y"), f"{what}: epk.y"), "big"), key.curve).public_key()
                    cek = aes_key_unwrap(_concat_kdf(key.exchange(ec.ECDH(), public), alg, 256), wrapped)
            except (ValueError, InvalidUnwrap):
                continue  # not this key's
            if cek is None:
                continue
            try:
                return AESGCM(cek).decrypt(iv, sealed, str(protected_b64).encode())
            except (InvalidTag, ValueError):
                raise EncryptionError(f"{what}: the wrapped layer key fails authentication (altered)",
                                      code="encryption-metadata-invalid") from None
    return None


# -- layers --------------------------------------------------------------------------------


class _Encrypting:
    """Reads plaintext from ``source``, returns ciphertext; HMAC over what it returned, and the
    digest of what it encrypted (the ``digest`` a decrypting reader checks the plaintext against)."""

    def __init__(self, source: Any, key: bytes, nonce: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._source = source
        self._cipher = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
        self.mac = hmac.new(key, digestmod=hashlib.sha256)
        self._plain = hashlib.sha256()
        self.ended = False

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if not data:
            self.ended = True
            return b""
        self._plain.update(data)
        out = self._cipher.update(data)
        self.mac.update(out)
        return out

    @property
    def plaintext_digest(self) -> str:
        """``sha256:…`` of the bytes encrypted so far (all of them once ``ended``)."""
        return f"sha256:{self._plain.hexdigest()}"


@dataclass(frozen=True)
class LayerEncryption:
    """One layer being encrypted: its key material, and what to write in its descriptor.

    What is encrypted is whatever the stream is given, typically a layer the copy has just
    (re)compressed: the annotations describe those bytes (their digest and HMAC), never
    the source's blob.
    """

    recipients: tuple[Recipient, ...]
    key: bytes
    nonce: bytes

    @classmethod
    def new(cls, recipients: tuple[Recipient, ...]) -> LayerEncryption:
        """A fresh key and nonce, for one layer only."""
        return cls(recipients, os.urandom(32), os.urandom(16))

    def stream(self, plaintext: Any) -> _Encrypting:
        """The ciphertext of ``plaintext``, read as it is read."""
        return _Encrypting(plaintext, self.key, self.nonce)

    def annotations(self, stream: _Encrypting) -> dict[str, str]:
        """The descriptor's two annotations, once ``stream`` has been read to its end.

        Raises:
            RuntimeError: ``stream`` was not read to its end (its digest and HMAC would
                describe part of the layer).
        """
        if not stream.ended:
            raise RuntimeError("the encrypted layer's annotations need the whole stream read")
        private = json.dumps({"symkey": base64.b64encode(self.key).decode(), "digest": stream.plaintext_digest,
                              "cipheroptions": {"nonce": base64.b64encode(self.nonce).decode()}},
                             separators=(",", ":")).encode()
        public = json.dumps({"cipher": CIPHER, "hmac": base64.b64encode(stream.mac.digest()).decode(),
                             "cipheroptions": {}}, separators=(",", ":")).encode()
        return {ANNOTATION_JWE: _wrap(private, self.recipients),
                ANNOTATION_PUBOPTS: base64.b64encode(public).decode()}


class _Decrypting:
    """Reads ciphertext from ``source``, returns plaintext; at the end, the HMAC must match.

    ``plaintext_digest`` is the digest of what it returned, once it ended.
    """

    def __init__(self, source: Any, layer: LayerDecryption) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._source = source
        self._layer = layer
        self._cipher = Cipher(algorithms.AES(layer.key), modes.CTR(layer.nonce)).decryptor()
        self._mac = hmac.new(layer.key, digestmod=hashlib.sha256)
        self._digest = hashlib.sha256()
        self.plaintext_digest: str | None = None

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if data:
            self._mac.update(data)
            out = self._cipher.update(data)
            self._digest.update(out)
            return out
        if self.plaintext_digest is None:
            if not hmac.compare_digest(self._mac.digest(), self._layer.hmac):
                raise DigestMismatchError(f"{self._layer.what}: the encrypted layer fails its HMAC: it was altered",
                                          code="layer-decryption-failed")
            self.plaintext_digest = f"sha256:{self._digest.hexdigest()}"
        return b""


@dataclass(frozen=True)
class LayerDecryption:
    """One encrypted layer a key opened: its key, nonce and HMAC.

    Attributes:
        sealed_digest: the ``digest`` of the private options, or None. WARNING: not a
            check on the plaintext, and never used to name it: containers/image seals
            the digest of the source blob it read, even when it (re)compressed that
            blob before encrypting it (so most layers pushed encrypted by skopeo or
            podman carry the digest of an uncompressed tar they no longer contain),
            and anyone may wrap options for a public key. A decrypted layer's digest
            is that of the bytes the decryption produced; the HMAC authenticates them.
    """

    what: str
    key: bytes
    nonce: bytes
    hmac: bytes
    sealed_digest: str | None = None

    @classmethod
    def open(cls, annotations: Mapping[str, str] | None, keys: tuple[Any, ...], what: str) -> LayerDecryption:
        """Unwrap the layer key from its descriptor's annotations with one of ``keys``.

        Raises:
            EncryptionError: no wrapped key, none that ``keys`` open, or malformed options.
        """
        from trustcopy.digest import Digest

        annotations = annotations or {}
        wrapped = annotations.get(ANNOTATION_JWE)
        if not wrapped:
            others = sorted(k.removeprefix(_ANNOTATION_PREFIX + "keys.") for k in annotations
                            if k.startswith(_ANNOTATION_PREFIX + "keys."))
            raise EncryptionError(f"{what}: the layer has no JWE-wrapped key"
                                  + (f" (only {', '.join(others)}, which are not supported)" if others else ""),
                                  code="decryption-no-key")
        if len(wrapped) > _MAX_JWE:
            raise EncryptionError(f"{what}: the wrapped keys are over {_MAX_JWE} bytes",
                                  code="encryption-metadata-invalid")
        payload = None
        for item in wrapped.split(","):
            try:
                jwe = load_json(_unb64(item, f"{what}: a wrapped key"), f"{what}: a wrapped key")
            except ValueError:
                jwe = None
            if not isinstance(jwe, dict):
                raise EncryptionError(f"{what}: a wrapped key is not a JWE", code="encryption-metadata-invalid")
            payload = _unwrap_one(jwe, keys, what)
            if payload is not None:
                break
        if payload is None:
            raise EncryptionError(f"{what}: none of the --decryption-key keys can open this layer",
                                  code="decryption-no-key")
        try:
            private = load_json(payload, f"{what}: the private options")
            key = _unb64(private["symkey"], f"{what}: symkey")
            nonce = _unb64((private.get("cipheroptions") or {})["nonce"], f"{what}: nonce")
            digest = str(Digest.parse(private["digest"])) if private.get("digest") else None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EncryptionError(f"{what}: the layer's private options are malformed",
                                  code="encryption-metadata-invalid") from None
        mac = b""
        if ANNOTATION_PUBOPTS in annotations:
            try:
                public = load_json(_unb64(annotations[ANNOTATION_PUBOPTS], f"{what}: pubopts"), f"{what}: pubopts")
                cipher = public.get("cipher", CIPHER)
                mac = _unb64(public["hmac"], f"{what}: hmac") if public.get("hmac") else b""
            except (ValueError, KeyError, AttributeError):
                raise EncryptionError(f"{what}: the layer's public options are malformed",
                                      code="encryption-metadata-invalid") from None
            if cipher != CIPHER:
                raise EncryptionError(f"{what}: layer cipher {cipher!r} is not supported (only {CIPHER})",
                                      code="encryption-metadata-invalid")
        if not mac:  # (ocicrypt, too, fails a layer without one at its end)
            raise EncryptionError(f"{what}: the layer has no HMAC ({ANNOTATION_PUBOPTS}): it cannot be authenticated",
                                  code="encryption-metadata-invalid")
        if len(key) != 32 or len(nonce) != 16:
            raise EncryptionError(f"{what}: the layer key or nonce has the wrong length",
                                  code="encryption-metadata-invalid")
        return cls(what=what, key=key, nonce=nonce, hmac=mac, sealed_digest=digest)

    def stream(self, ciphertext: Any) -> _Decrypting:
        """The plaintext of ``ciphertext``; its end raises DigestMismatchError unless its HMAC matches."""
        return _Decrypting(ciphertext, self)


def without_encryption_annotations(annotations: Mapping[str, str] | None) -> dict[str, str] | None:
    """A decrypted layer's annotations: the others, as they were."""
    kept = {k: v for k, v in (annotations or {}).items() if not k.startswith(_ANNOTATION_PREFIX)}
    return kept or None


@dataclass(frozen=True)
class EncryptionConfig:
    """``--encryption-key`` recipients and ``--encrypt-layer`` indices (None: every layer)."""

    recipients: tuple[Recipient, ...]
    layers: tuple[int, ...] | None = None

    def chosen(self, count: int, what: str) -> set[int]:
        """The layer positions to encrypt among ``count`` (negative indices count from the end).

        Raises:
            EncryptionError: an index outside the image's layers.
        """
        if self.layers is None:
            return set(range(count))
        out = set()
        for index in self.layers:
            position = index + count if index < 0 else index
            if not 0 <= position < count:
                raise EncryptionError(f"{what}: --encrypt-layer {index} is out of range ({count} layers)",
                                      code="encryption-layer-out-of-range")
            out.add(position)
        return out
