"""Sigstore keys: cosign's encrypted private-key format, public keys, and raw sign/verify.

The private key file format is cosign's (and containers/image's, skopeo's):

    -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----      (or the older ENCRYPTED COSIGN PRIVATE KEY)
    base64 of {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":B64},
               "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
    -----END …-----

where key = scrypt(passphrase, salt, N, r, p, 32) and the ciphertext is NaCl secretbox
(XSalsa20-Poly1305, PyNaCl) of a PKCS#8 DER private key.

Invariants:
- We write N=2^16, r=8, p=1 (go-securesystemslib's current parameters) and read only
  N of 2^15, 2^16 or 2^17 with r=8, p=1: other parameters are refused *before* scrypt
  runs, so a hostile file cannot make us spend gigabytes of memory.
- A wrong passphrase is a clear error (code ``sigstore-key-passphrase``), never a crash;
  the passphrase appears in no message.
- Signatures follow cosign: ECDSA (any NIST curve) with SHA-256 in ASN.1 DER,
  RSA PKCS#1 v1.5 with SHA-256, Ed25519 over the message itself. Other key types are
  refused when a key is loaded (code ``key-invalid``), not when a signature is checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from typing import Any

from trustcopy.errors import LimitExceededError, SignatureError
from trustcopy.gojson import go_marshal
from trustcopy.lazy import dataclass

SIGSTORE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
PRIVATE_PEM_TYPES = (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE)
#: scrypt parameters written (N, r, p) and those accepted when reading.
SCRYPT_WRITE = (1 << 16, 8, 1)
SCRYPT_ACCEPTED_N = frozenset({1 << 15, 1 << 16, 1 << 17})
_SALT_SIZE = 32
_NONCE_SIZE = 24
_KEY_SIZE = 32
#: scrypt needs 128·N·r bytes; 2^17·8·128 = 128 MiB, plus headroom for OpenSSL's accounting.
_SCRYPT_MAXMEM = 256 << 20
_MAX_KEY_BODY = 64 * 1024  # an encrypted PKCS#8 key is a few KiB even for RSA-4096
_MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class KeyPair:
    """A freshly generated key pair, as the bytes of its two files."""

    public_pem: bytes
    private_pem: bytes


def _error(message: str, code: str = "sigstore-key-invalid") -> SignatureError:
    return SignatureError(message, code=code)


def go_b64decode(value: str) -> bytes:
    """Go's ``base64.StdEncoding`` decoding: padded standard alphabet, CR and LF ignored.

    Raises:
        ValueError: anything else (binascii.Error is a ValueError).
    """
    text = value.replace("\r", "").replace("\n", "")
    # Python would ignore excess padding ("YQ===") and data after it; Go refuses both.
    pad = text.find("=")
    if len(text) % 4 or (pad != -1 and (pad < len(text) - 2 or text[pad:] not in ("=", "=="))):
        raise ValueError("illegal base64 data")
    return base64.b64decode(text, validate=True)


def pem_blocks(data: bytes, what: str) -> list[tuple[str, bytes]]:
    """The (type, DER body) of every PEM block in ``data``, in order; text outside blocks is ignored.

    Raises:
        SignatureError: a block is not terminated, its types differ, or its body is not base64.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise _error(f"{what} is not PEM text") from None
    blocks: list[tuple[str, bytes]] = []
    lines = iter(text.splitlines())
    for line in lines:
        stripped = line.strip()
        if not (stripped.startswith("-----BEGIN ") and stripped.endswith("-----")):
            continue
        kind = stripped[len("-----BEGIN "):-5]
        body: list[str] = []
        for raw in lines:
            inner = raw.strip()
            if inner == f"-----END {kind}-----":
                break
            if inner.startswith("-----"):
                raise _error(f"{what}: PEM block {kind!r} is not terminated correctly")
            if ":" in inner:  # RFC 1421 headers (Proc-Type …): not used by any format we read
                raise _error(f"{what}: PEM block {kind!r} has headers")
            body.append(inner)
        else:
            raise _error(f"{what}: PEM block {kind!r} has no END line")
        try:
            blocks.append((kind, base64.b64decode("".join(body), validate=True)))
        except (binascii.Error, ValueError):
            raise _error(f"{what}: PEM block {kind!r} is not valid base64") from None
    return blocks


def _pem(kind: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n").encode("ascii")


def _scrypt(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=_KEY_SIZE)


def encrypt_private_key(pkcs8_der: bytes, passphrase: bytes, *, pem_type: str = SIGSTORE_PEM_TYPE) -> bytes:
    """Encrypt a PKCS#8 DER key into cosign's PEM format (see the module docstring).

    Args:
        pkcs8_der: the private key.
        passphrase: may be empty (cosign allows it).
        pem_type: the PEM block type to write.

    Returns:
        The PEM file contents.
    """
    from nacl.secret import SecretBox

    salt, nonce = os.urandom(_SALT_SIZE), os.urandom(_NONCE_SIZE)
    n, r, p = SCRYPT_WRITE
    key = _scrypt(passphrase, salt, n, r, p)
    ciphertext = SecretBox(key).encrypt(pkcs8_der, nonce).ciphertext
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731 - Go marshals []byte as base64
    body = go_marshal({
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
        "ciphertext": b64(ciphertext),
    })
    return _pem(pem_type, body)


def _field(data: Any, key: str, kind: type, what: str) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _error(f"{what}: field {key!r} is missing or not a {kind.__name__}")
    return value


def _b64_field(data: Any, key: str, what: str) -> bytes:
    try:
        return base64.b64decode(_field(data, key, str, what), validate=True)
    except (binascii.Error, ValueError):
        raise _error(f"{what}: field {key!r} is not valid base64") from None


def decrypt_private_key(pem_data: bytes, passphrase: bytes, name: str) -> bytes:
    """Decrypt a cosign private key file; the PKCS#8 DER key.

    Raises:
        SignatureError: code ``sigstore-key-passphrase`` for a wrong passphrase;
            ``sigstore-key-invalid`` for anything malformed or unsupported.
    """
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    from trustcopy.limits import load_json

    blocks = pem_blocks(pem_data, name)
    if len(blocks) != 1 or blocks[0][0] not in PRIVATE_PEM_TYPES:
        found = ", ".join(kind for kind, _ in blocks) or "no PEM block"
        raise _error(f"{name} is not a sigstore private key (expected one {SIGSTORE_PEM_TYPE} block, found {found})")
    body = blocks[0][1]
    if len(body) > _MAX_KEY_BODY:
        raise _error(f"{name}: the encrypted key is {len(body)} bytes, more than {_MAX_KEY_BODY}")
    try:
        data = load_json(body, name)
    except (ValueError, UnicodeDecodeError, LimitExceededError):
        raise _error(f"{name}: the encrypted key is not JSON") from None
    kdf, cipher = _field(data, "kdf", dict, name), _field(data, "cipher", dict, name)
    params = _field(kdf, "params", dict, f"{name} kdf")
    if _field(kdf, "name", str, f"{name} kdf") != "scrypt":
        raise _error(f"{name}: unsupported key derivation {kdf['name']!r} (only scrypt)")
    n, r, p = (_field(params, k, int, f"{name} kdf params") for k in ("N", "r", "p"))
    if n not in SCRYPT_ACCEPTED_N or (r, p) != (8, 1):
        raise _error(f"{name}: unsupported scrypt parameters N={n}, r={r}, p={p} "
                     "(N must be 2^15, 2^16 or 2^17 with r=8, p=1)")
    if _field(cipher, "name", str, f"{name} cipher") != "nacl/secretbox":
        raise _error(f"{name}: unsupported cipher {cipher['name']!r} (only nacl/secretbox)")
    salt = _b64_field(kdf, "salt", f"{name} kdf")
    nonce = _b64_field(cipher, "nonce", f"{name} cipher")
    ciphertext = _b64_field(data, "ciphertext", name)
    if len(nonce) != _NONCE_SIZE:
        raise _error(f"{name}: the nonce is {len(nonce)} bytes, not {_NONCE_SIZE}")
    key = _scrypt(passphrase, salt, n, r, p)
    try:
        return SecretBox(key).decrypt(ciphertext, nonce)
    except CryptoError:
        raise SignatureError(f"cannot decrypt the private key {name}: wrong passphrase (or a corrupted file)",
                             code="sigstore-key-passphrase") from None


def check_key_type(key: Any, name: str, *, private: bool = False) -> None:
    """Refuse keys cosign cannot sign or verify with (and RSA keys under 2048 bits).

    Raises:
        SignatureError: code ``key-invalid``.
    """
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    ok: tuple[type, ...] = ((ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey) if private
                            else (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey))
    if not isinstance(key, ok):
        raise SignatureError(f"{name}: unsupported key type {type(key).__name__.lstrip('_')} "
                             "(ECDSA, RSA or Ed25519 keys only)", code="key-invalid")
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and not isinstance(
            key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1):
        raise SignatureError(f"{name}: unsupported elliptic curve {key.curve.name}", code="key-invalid")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        raise SignatureError(f"{name}: RSA key of {key.key_size} bits is too small", code="key-invalid")


def load_private_key(pem_data: bytes, passphrase: bytes, name: str) -> Any:
    """Decrypt and parse a cosign private key; an ECDSA, RSA or Ed25519 key object.

    Raises:
        SignatureError: see :func:`decrypt_private_key` and :func:`check_key_type`.
    """
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    der = decrypt_private_key(pem_data, passphrase, name)
    try:
        key = load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise _error(f"{name}: the decrypted key is not a PKCS#8 private key") from None
    check_key_type(key, name, private=True)
    return key


def load_public_key(pem_data: bytes, name: str) -> Any:
    """Parse one PEM ``PUBLIC KEY`` (or PKCS#1 ``RSA PUBLIC KEY``) block; the key object.

    Raises:
        SignatureError: code ``key-invalid``: not exactly one PEM block, not a public
            key, or a key type cosign does not use.
    """
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        blocks = pem_blocks(pem_data, name)
    except SignatureError as exc:
        raise SignatureError(exc.message, code="key-invalid") from None
    if len(blocks) != 1:
        raise SignatureError(f"{name} is not a PEM public key: found {len(blocks)} PEM blocks, expected 1",
                             code="key-invalid")
    kind, der = blocks[0]
    # sigstore's cryptoutils.UnmarshalPEMToPublicKey, which containers/image loads keys with,
    # knows these two types only: an "EC PUBLIC KEY" file makes it refuse every signature.
    if kind not in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        raise SignatureError(f"{name} is not a PEM public key: unknown Public key PEM file type {kind!r} "
                             "(expected 'PUBLIC KEY' or 'RSA PUBLIC KEY')", code="key-invalid")
    try:
        if kind == "RSA PUBLIC KEY":
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            key = load_pem_public_key(pem_data)
        else:
            key = load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{name} is not a PEM public key: {exc}", code="key-invalid") from None
    check_key_type(key, name)
    return key


def public_key_der(key: Any) -> bytes:
    """The SubjectPublicKeyInfo DER of a public (or private) key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def public_key_pem(key: Any) -> bytes:
    """PEM ``PUBLIC KEY`` of a key, as cosign's MarshalPublicKeyToPEM writes it."""
    return _pem("PUBLIC KEY", public_key_der(key))


def key_fingerprint(key: Any) -> str:
    """Upper-case hex SHA-256 of the key's SubjectPublicKeyInfo: how traces name a sigstore key."""
    return hashlib.sha256(public_key_der(key)).hexdigest().upper()


def generate_key_pair(passphrase: bytes) -> KeyPair:
    """A new ECDSA P-256 key pair (what cosign's specification requires every verifier to support)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return KeyPair(public_key_pem(key), encrypt_private_key(der, passphrase))


def key_pair_paths(prefix: str) -> tuple[str, str]:
    """``PREFIX.private`` and ``PREFIX.pub``, neither of which may exist yet.

    Raises:
        SignatureError: code ``sigstore-key-exists``, with skopeo's message.
    """
    from trustcopy.fsutil import reclaim_abandoned_staging

    private_path, public_path = prefix + ".private", prefix + ".pub"
    for path in (public_path, private_path):
        reclaim_abandoned_staging(path)  # what a killed write_key_pair left, also when this run refuses
    for path in (public_path, private_path):
        if os.path.lexists(path):
            raise SignatureError(f'Refusing to overwrite existing "{path}"', code="sigstore-key-exists")
    return private_path, public_path


def _link_new(staged: str, path: str, mode: int) -> None:
    """Give the written file ``staged`` the new name ``path``; FileExistsError if it exists.

    A filesystem without hard links (vfat, some FUSE) gets a copy written in place instead,
    created exclusively as skopeo creates it.
    """
    import errno

    try:
        os.link(staged, path)
        return
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
    with open(staged, "rb") as src:
        data = src.read()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_key_pair(prefix: str, passphrase: bytes) -> tuple[str, str]:
    """Generate a key pair into ``PREFIX.private`` (mode 0600) and ``PREFIX.pub`` (0644).

    Neither file may exist already (as skopeo). Each key is written whole into a locked
    staging file beside its name (:func:`~trustcopy.fsutil.make_staging_file`, reclaimed by a
    later run if a ``kill -9`` leaves one) and only then hard-linked to its name, which fails if
    the name exists (as ``O_EXCL`` would): no reader ever sees half a key, and a killed run
    leaves no key (or, killed between the two links, the whole private key alone, from which
    the public key can be derived). If linking the public key fails, the private key just
    linked is removed again: no half pair is left behind.

    Returns:
        The paths of the private and the public key.

    Raises:
        SignatureError: code ``sigstore-key-exists`` (refusing to overwrite) or
            ``file-unwritable``.
    """
    from trustcopy.fsutil import Staging, current_umask, make_staging_file

    umask = current_umask()  # the modes os.open would give the files
    private_path, public_path = key_pair_paths(prefix)
    pair = generate_key_pair(passphrase)
    staged: list[Staging] = []
    linked: list[str] = []
    current = private_path
    try:
        for path, data, mode in ((private_path, pair.private_pem, 0o600), (public_path, pair.public_pem, 0o644)):
            current = path
            staging, fd = make_staging_file(path)
            staged.append(staging)
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode & ~umask)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # a full disk seen now, not after a "written" pair was reported
        for path, staging, mode in zip((private_path, public_path), staged, (0o600, 0o644), strict=True):
            current = path
            try:
                _link_new(staging.path, path, mode & ~umask)
            except FileExistsError:  # created since key_pair_paths looked: skopeo's O_EXCL refuses it too
                raise SignatureError(f'Refusing to overwrite existing "{path}"', code="sigstore-key-exists") from None
            linked.append(path)
    except (OSError, SignatureError) as exc:
        for path in linked:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if isinstance(exc, SignatureError):
            raise
        # (a failed write names no file: the one being written is named, not exc.filename)
        what = "private" if current == private_path else "public"
        raise SignatureError(f'Error writing {what} key to "{current}": {exc.strerror or exc}',
                             code="file-unwritable") from exc
    finally:
        for staging in staged:
            with contextlib.suppress(OSError):
                os.unlink(staging.path)
            staging.release()
    return private_path, public_path


def sign_message(private_key: Any, message: bytes) -> bytes:
    """Sign ``message`` as cosign does for this key type (see the module docstring)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(message)  # type: ignore[no-any-return]  # Ed25519


def verify_message(public_key: Any, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with ``public_key`` (cosign's algorithms)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True

