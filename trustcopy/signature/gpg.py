"""The GPG mechanism: python-gnupg driving the real ``gpg``, in homes that trust nothing else.

This is the only module that imports python-gnupg.

Verification (:class:`GPGKeyring`):
- Keys come only from the caller (the policy's keyPath/keyPaths/keyData, or
  ``--public-key-file``). They are imported once into a private GNUPGHOME (mode 0700,
  removed on close or at exit); the user's keyring, agent, key servers and gpg.conf are
  never consulted (``--homedir``, ``--no-options``, ``--no-autostart``,
  ``--no-auto-key-retrieve``). Every ``verify`` reuses the imported keys: N signatures
  cost N gpg runs and one import per key set (:class:`KeyringCache`).
- The decision is made from gpg's ``--status-fd`` lines, never from its exit status nor
  python-gnupg's ``valid``: gpg exits 0 for a signature by an expired or revoked key
  and for an unsigned literal message (see :func:`judge_status`). Human-readable log
  output goes to /dev/null, so only status lines reach the parser (gpg percent-escapes
  any attacker-supplied text in them).
- Exactly one message per blob: a second message hidden after the first one's compressed
  stream (which gpg silently ignores) is refused before gpg runs.
- Decompressed output is capped with ``--max-output`` (a small signature may inflate).

NOTE(go-diff): containers/image has two mechanisms: gpgme (skopeo's, driving gpg as we do)
and a pure-Go one (build tag ``containers_image_openpgp``, x/crypto/openpgp). Where they differ
we side with gpg(me): (1) a signature by an *expired key* is refused (EXPKEYSIG); the openpgp
mechanism never looks at key expiry and accepts it. (2) The 16-bit hash tag of a signature
packet, which nothing signs, is not checked by gpg; the openpgp mechanism refuses a signature
whose tag was altered ("hash tag doesn't match"), we accept it (the payload is still verified).
(3) A GOODSIG key ID that is not the VALIDSIG key (an altered, unsigned issuer subpacket) is
refused here (:func:`_check_good`); the openpgp mechanism accepts it. (4) A cleartext-signed
message (``-----BEGIN PGP SIGNED MESSAGE-----``) is verified like a binary one, as gpgme and
sequoia verify it (the newest containers/image pins that in its tests; Fedora signs so); the
openpgp mechanism refuses it. More than one signature packet is refused in either form (the
newest containers-signature(5) forbids it). tests/integration/test_policy_evaluation_goracle.py
holds (1)-(3) against the openpgp mechanism; tests/unit/signature/test_gpg_newest_cleartext.py (4).

Signing (:func:`sign`) uses the user's GNUPGHOME (or gpg's default home), selects the key
with ``--local-user`` (``--default-key`` silently falls back to another key), always in
batch mode with loopback pinentry: a missing passphrase fails, it never prompts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import gnupg

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.limits import MAX_KEY_FILE, MAX_SIGNATURE_BODY
from trustcopy.reasons import Reason
from trustcopy.signature.formats import data_hidden_after_compressed_message, starts_like_a_message
from trustcopy.signature.mechanism import VerifiedMessage
from trustcopy.signature.payload import MAX_PAYLOAD_SIZE

_VERIFY_OPTIONS = [
    "--no-options", "--no-autostart", "--trust-model", "always", "--no-auto-key-retrieve",
    "--no-auto-check-trustdb", "--logger-file", os.devnull, "--max-output", str(MAX_PAYLOAD_SIZE),
]


@functools.cache
def _key_id() -> re.Pattern[str]:
    """A key ID or fingerprint as gpg accepts one (compiled on first use, start-up: issue 14)."""
    return re.compile(r"(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})")


@functools.cache
def _fingerprint() -> re.Pattern[str]:
    """A full fingerprint as gpg prints one (v4 or v5)."""
    return re.compile(r"(?:[0-9A-F]{40}|[0-9A-F]{64})")


_RESULTS = frozenset({"GOODSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "BADSIG", "ERRSIG"})
_ENCRYPTION = frozenset({
    "ENC_TO", "BEGIN_DECRYPTION", "END_DECRYPTION", "DECRYPTION_FAILED", "DECRYPTION_OKAY",
    "DECRYPTION_INFO", "DECRYPTION_KEY", "DECRYPTION_COMPLIANCE_MODE", "NO_SECKEY", "SESSION_KEY",
    "NEED_PASSPHRASE", "NEED_PASSPHRASE_SYM", "NEED_PASSPHRASE_PIN", "MISSING_PASSPHRASE",
    "BAD_PASSPHRASE", "GOODMDC", "BADMDC",
})
# Everything else (ERROR, FAILURE, NODATA, UNEXPECTED, KEYEXPIRED, KEYREVOKED, TRUST_NEVER,
# or any status a future gpg adds) rejects: unknown means "not understood", not "fine".
_BENIGN = frozenset({
    "NEWSIG", "KEY_CONSIDERED", "SIG_ID", "GOODSIG", "VALIDSIG", "PLAINTEXT", "PLAINTEXT_LENGTH",
    "TRUST_UNDEFINED", "TRUST_MARGINAL", "TRUST_FULLY", "TRUST_ULTIMATE", "NOTATION_NAME",
    "NOTATION_FLAGS", "NOTATION_DATA", "POLICY_URL", "VERIFICATION_COMPLIANCE_MODE", "PROGRESS",
})
_EXPIRY = {"EXPSIG": "the signature has expired", "EXPKEYSIG": "the signing key has expired",
           "KEYEXPIRED": "the signing key has expired", "SIGEXPIRED": "the signature has expired"}

Status = tuple[str, str]


def _reject(message: str, reason: Reason, **context: str) -> SignatureVerificationError:
    """A verification error with a stable reason and trace context."""
    return SignatureVerificationError(message, reason=reason, context=context)


def judge_status(statuses: Sequence[Status], returncode: int | None, payload_size: int) -> tuple[str, str]:
    """Decide from gpg's status lines whether exactly one good signature was checked.

    Pure function (unit-tested with recorded gpg output). Every count is exact, every
    failure status rejects and every unknown status rejects, so no extra line can hide a
    failure gpg reported.

    Returns:
        (signing-key fingerprint, primary-key fingerprint), both upper-case hex.

    Raises:
        SignatureVerificationError: with reason NOT_SIGNED, MULTIPLE_SIGNATURES,
            UNKNOWN_KEY, EXPIRED or INVALID_SIGNATURE.
    """
    keywords = [k for k, _ in statuses]
    if any(k in _ENCRYPTION for k in keywords):
        raise _reject("the message is encrypted; a signature must be a signed, unencrypted message", Reason.NOT_SIGNED)
    results = [(k, v) for k, v in statuses if k in _RESULTS]
    if len(results) > 1 or keywords.count("NEWSIG") > 1:
        raise _reject(f"the message carries {max(len(results), keywords.count('NEWSIG'))} signatures; "
                      "exactly one is required", Reason.MULTIPLE_SIGNATURES)
    plaintexts = keywords.count("PLAINTEXT")
    if plaintexts > 1:
        raise _reject(f"the message holds {plaintexts} literal data packets; exactly one is required",
                      Reason.INVALID_SIGNATURE)
    if not results:
        if plaintexts == 1:
            raise _reject("the message is not signed (literal data only)", Reason.NOT_SIGNED)
        raise _reject("not an OpenPGP signed message", Reason.INVALID_SIGNATURE)
    kind, value = results[0]
    key_id = value.split(" ", 1)[0]
    signer = _signer_name(kind, value, statuses)
    if kind == "ERRSIG":
        if "NO_PUBKEY" in keywords:
            # Unchecked (no key): the fingerprint and key ID are what the signature claims.
            raise _reject(f"the signature claims to be signed by {signer}, which is not among the trusted keys",
                          Reason.UNKNOWN_KEY, key_id=key_id)
        raise _reject(f"gpg could not check the signature by key ID {key_id} (ERRSIG {value})",
                      Reason.INVALID_SIGNATURE, key_id=key_id)
    if kind == "BADSIG":
        raise _reject(f"bad signature by key ID {key_id}: the signed data or the signature was altered",
                      Reason.INVALID_SIGNATURE, key_id=key_id)
    if kind in _EXPIRY:
        raise _reject(f"{_EXPIRY[kind]} ({signer})", Reason.EXPIRED, key_id=key_id)
    if kind == "REVKEYSIG":
        raise _reject(f"the signing key has been revoked ({signer})", Reason.INVALID_SIGNATURE, key_id=key_id)
    for keyword in keywords:  # kind == GOODSIG from here on
        if keyword in _EXPIRY:
            raise _reject(f"{_EXPIRY[keyword]} (key ID {key_id})", Reason.EXPIRED, key_id=key_id)
        if keyword not in _BENIGN:
            raise _reject(f"gpg reported {keyword} while verifying; refusing the signature", Reason.INVALID_SIGNATURE)
    return _check_good(statuses, key_id, returncode, payload_size)


def _signer_name(kind: str, value: str, statuses: Sequence[Status]) -> str:
    """``key FINGERPRINT (key ID …)`` when gpg reported the full fingerprint, else ``key ID …``.

    A key ID alone cannot be searched for reliably (and skopeo's message names the
    fingerprint): ERRSIG carries the issuer fingerprint as its 7th field (gpg 2.2.7+, "-"
    when the signature has none); for a checked signature, VALIDSIG names the signing key.
    Only shown, never trusted: an unknown key's fingerprint is what the signature claims.
    """
    key_id = value.split(" ", 1)[0]
    fingerprint = ""
    if kind == "ERRSIG":
        fields = value.split()
        fingerprint = fields[6].upper() if len(fields) > 6 else ""
    else:
        valid = [v.split() for k, v in statuses if k == "VALIDSIG"]
        fingerprint = valid[0][0].upper() if len(valid) == 1 and valid[0] else ""
    if _fingerprint().fullmatch(fingerprint) and fingerprint.endswith(key_id.upper()) and fingerprint != key_id.upper():
        return f"key {fingerprint} (key ID {key_id})"
    if _fingerprint().fullmatch(key_id.upper()):
        return f"key {key_id.upper()}"
    return f"key ID {key_id}"


def _check_good(statuses: Sequence[Status], key_id: str, returncode: int | None, size: int) -> tuple[str, str]:
    """The checks that remain once gpg said GOODSIG: one VALIDSIG, sane key, data, exit 0."""
    validsigs = [v.split() for k, v in statuses if k == "VALIDSIG"]
    if len(validsigs) != 1 or len(validsigs[0]) < 10:
        raise _reject("gpg did not report exactly one complete VALIDSIG", Reason.INVALID_SIGNATURE)
    fields = validsigs[0]
    signing, sig_class, primary = fields[0], fields[8], fields[9]
    if not (_fingerprint().fullmatch(signing) and _fingerprint().fullmatch(primary)):
        raise _reject("gpg reported a malformed fingerprint", Reason.INVALID_SIGNATURE)
    if not (signing.endswith(key_id) or signing.startswith(key_id)):
        raise _reject("GOODSIG and VALIDSIG name different keys", Reason.INVALID_SIGNATURE)
    if sig_class not in ("00", "01"):  # binary or text document signature
        raise _reject(f"unexpected OpenPGP signature class 0x{sig_class}", Reason.INVALID_SIGNATURE)
    if "PLAINTEXT" not in (k for k, _ in statuses):
        raise _reject("the signed message has no literal data", Reason.INVALID_SIGNATURE)
    lengths = [v for k, v in statuses if k == "PLAINTEXT_LENGTH"]
    if lengths and lengths[0].strip() != str(size):
        raise _reject("gpg's output does not match the signed literal data length", Reason.INVALID_SIGNATURE)
    if returncode != 0:
        raise _reject(f"gpg exited with status {returncode}", Reason.INVALID_SIGNATURE)
    return signing, primary


def _recording(base: type) -> type:
    """A python-gnupg result class that also keeps every status line, in order."""

    class Recording(base):  # type: ignore[misc, valid-type]
        """Keeps every status line; verify statuses are judged by us alone."""

        def __init__(self, gpg: Any) -> None:
            super().__init__(gpg)
            self.status_lines: list[Status] = []

        def handle_status(self, key: str, value: str) -> None:
            """Record the line (then let python-gnupg parse it, except for verification)."""
            self.status_lines.append((key, value))
            if base is not gnupg.Crypt:  # our own judge reads verify statuses; skip its parser
                super().handle_status(key, value)

    return Recording


def _new_gpg(home: str | None, options: list[str]) -> Any:
    """A python-gnupg handle on ``home`` that records status lines."""
    binary = shutil.which("gpg")
    if binary is None:
        raise SignatureError("gpg is not installed (needed for GPG signatures)", code="gpg-missing",
                             hint="install GnuPG 2.2 or later")
    try:
        gpg = _tracked_gpg_class()(gpgbinary=binary, gnupghome=home, options=options)
    except (OSError, ValueError) as exc:
        raise SignatureError(f"cannot run gpg: {exc}", code="gpg-failed") from exc
    gpg.result_map = {**gpg.result_map, "crypt": _recording(gnupg.Crypt), "sign": _recording(gnupg.Sign)}
    return gpg


#: The gpg processes started on each home, so that removing the home ends them first.
_CHILDREN: dict[str, weakref.WeakSet[Any]] = {}


@functools.cache
def _tracked_gpg_class() -> type:
    """python-gnupg's GPG, remembering the gpg processes it starts (per home)."""

    class TrackedGPG(gnupg.GPG):  # type: ignore[misc]
        def _open_subprocess(self, args: Any, passphrase: bool = False) -> Any:
            process = super()._open_subprocess(args, passphrase)
            _CHILDREN.setdefault(str(self.gnupghome), weakref.WeakSet()).add(process)
            return process

    return TrackedGPG


def _remove_home(home: str) -> None:
    """Delete a private home (finalizer; also runs at interpreter exit, SIGTERM included).

    A gpg still running on it (the command was stopped mid-verification) is ended first: it
    would otherwise outlive us and recreate files in the home just removed.
    """
    for process in list(_CHILDREN.pop(home, ())):
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(Exception):
                process.wait(timeout=2)
    shutil.rmtree(home, ignore_errors=True)


class GPGKeyring:
    """A private GNUPGHOME holding exactly the given public keys; verifies signed messages.

    Args:
        key_material: keyrings or exported keys, binary or ASCII-armored, one blob each.

    Raises:
        SignatureError: gpg is missing, or the material holds no public key at all.
    """

    def __init__(self, key_material: Sequence[bytes]) -> None:
        if isinstance(key_material, bytes | str):
            raise TypeError("key_material is a sequence of byte strings")
        self._home = tempfile.mkdtemp(prefix="trustcopy-gpg-")
        self._finalizer = weakref.finalize(self, _remove_home, self._home)
        try:
            os.chmod(self._home, 0o700)
            self._gpg = _new_gpg(self._home, _VERIFY_OPTIONS)
            for blob in key_material:
                if not isinstance(blob, bytes):
                    raise TypeError("each key blob must be bytes")
                if len(blob) > MAX_KEY_FILE:
                    raise SignatureError(f"public key data of {len(blob)} bytes exceeds {MAX_KEY_FILE}",
                                         code="key-invalid")
                self._gpg.import_keys(blob)  # garbage imports nothing; the listing below decides
            self._primary_of: dict[str, str] = {}
            for key in self._gpg.list_keys():
                primary = key["fingerprint"]
                self._primary_of[primary] = primary
                for sub in key.get("subkeys", []):
                    if sub[2]:
                        self._primary_of[sub[2]] = primary
            self._fingerprints = frozenset(self._primary_of.values())
            if not self._fingerprints:
                raise SignatureError("no public keys could be imported from the key data", code="no-public-keys")
        except (OSError, ValueError) as exc:
            self.close()
            raise SignatureError(f"cannot import the public keys: {exc}", code="key-invalid") from exc
        except BaseException:
            self.close()
            raise

    @property
    def fingerprints(self) -> frozenset[str]:
        """Upper-case hex fingerprints of the primary keys in this keyring."""
        return self._fingerprints

    @property
    def home(self) -> str:
        """The private GNUPGHOME (for diagnostics and tests)."""
        return self._home

    @property
    def closed(self) -> bool:
        """True once the private home has been removed."""
        return not self._finalizer.alive

    def verify_message(self, message: bytes) -> VerifiedMessage:
        """Verify a signed OpenPGP message; see :class:`SigningMechanism`.

        Raises:
            SignatureVerificationError: any rejection, with a stable ``reason``.
            RuntimeError: the keyring was closed.
        """
        if self.closed:
            raise RuntimeError("GPGKeyring is closed")
        if len(message) > MAX_SIGNATURE_BODY:
            raise _reject(f"signature of {len(message)} bytes exceeds {MAX_SIGNATURE_BODY}", Reason.INVALID_SIGNATURE)
        hidden = data_hidden_after_compressed_message(message, MAX_PAYLOAD_SIZE + (1 << 16))
        try:
            result = self._gpg.decrypt(bytes(message))
        except (OSError, ValueError) as exc:
            raise _reject(f"gpg could not process the signature: {exc}", Reason.INVALID_SIGNATURE) from exc
        payload = bytes(result.data or b"")
        # gpg's verdict first: a damaged blob often ends its deflate stream early, leaving
        # "hidden" bytes, and gpg then says why (BADSIG: altered) better than they can.
        signing, primary = judge_status(result.status_lines, result.returncode, len(payload))
        if hidden:  # gpg verified the first message and ignored these bytes; one blob is exactly one message
            if starts_like_a_message(hidden):
                raise _reject(f"a second signed message ({len(hidden)} bytes) follows the first inside its "
                              "compressed packet", Reason.MULTIPLE_SIGNATURES)
            raise _reject(f"{len(hidden)} bytes follow the signed message inside its compressed packet",
                          Reason.INVALID_SIGNATURE)
        if self._primary_of.get(signing) != primary or primary not in self._fingerprints:
            raise _reject(f"signature by key {signing}, which is not one of the trusted keys", Reason.UNTRUSTED_KEY,
                          key_fingerprint=signing)
        return VerifiedMessage(payload, signing, primary)

    def verify(self, message: bytes) -> tuple[bytes, str]:
        """Verify and return (payload, primary-key fingerprint of the signer)."""
        verified = self.verify_message(message)
        return verified.payload, verified.primary_key_fingerprint

    def close(self) -> None:
        """Remove the private home; idempotent."""
        self._finalizer()

    def __enter__(self) -> GPGKeyring:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self._home
        return f"GPGKeyring({sorted(self._fingerprints) if hasattr(self, '_fingerprints') else []}, {state})"


class KeyringCache:
    """One GPGKeyring per distinct key set, for the life of a policy evaluation.

    Verifying many signatures against the same keys imports them once. Closing the
    cache (``with`` exit, ``close()``, or interpreter exit) removes every home; close it
    only after the verifications using its keyrings have finished. ``get`` is thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keyrings: dict[tuple[str, ...], GPGKeyring] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._keyrings)

    def get(self, key_material: Sequence[bytes]) -> GPGKeyring:
        """The keyring for this key set (same blobs in any order or repetition → same keyring)."""
        cache_key = tuple(sorted({hashlib.sha256(blob).hexdigest() for blob in key_material}))
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError("KeyringCache is closed")
            keyring = self._keyrings.get(cache_key)
            if keyring is None or keyring.closed:
                keyring = GPGKeyring(list(key_material))
                self._keyrings[cache_key] = keyring
            return keyring

    def close(self) -> None:
        """Close every keyring; idempotent."""
        with self._lock:
            self._finalizer()

    def __len__(self) -> int:
        return len(self._keyrings)

    def __enter__(self) -> KeyringCache:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _close_all(keyrings: dict[tuple[str, ...], GPGKeyring]) -> None:
    """Close every keyring of a cache (finalizer)."""
    for keyring in keyrings.values():
        keyring.close()
    keyrings.clear()


def claimed_signer(message: bytes) -> str | None:
    """Who ``message`` says signed it, *unverified*: ``key FINGERPRINT (key ID …)``, ``key ID …`` or None.

    For error messages only, when verification cannot even start (none of the expected keys
    exists): gpg reads the issuer from the signature packet without checking anything, so
    the answer is a claim, never a fact. gpg runs in an empty private home (no key can
    match: ERRSIG + NO_PUBKEY); anything else (not a signed message, several signatures,
    gpg missing or failing) is None, so no signer is ever invented.
    """
    if not isinstance(message, bytes) or len(message) > MAX_SIGNATURE_BODY:
        return None
    home = tempfile.mkdtemp(prefix="trustcopy-gpg-")
    try:
        os.chmod(home, 0o700)
        result = _new_gpg(home, _VERIFY_OPTIONS).decrypt(bytes(message))
        statuses: list[Status] = list(result.status_lines)
    except (OSError, ValueError, SignatureError):
        return None
    finally:
        _remove_home(home)
    keywords = [k for k, _ in statuses]
    results = [(k, v) for k, v in statuses if k in _RESULTS]
    if len(results) != 1 or results[0][0] != "ERRSIG" or "NO_PUBKEY" not in keywords:
        return None
    key_id = results[0][1].split(" ", 1)[0]
    if not _key_id().fullmatch(key_id):
        return None
    return _signer_name("ERRSIG", results[0][1], statuses)


def _check_key_id(key: str) -> str:
    """Accept only hex key IDs/fingerprints, so nothing else reaches gpg's argv."""
    if not isinstance(key, str) or not _key_id().fullmatch(key):
        raise SignatureError(
            f"invalid key fingerprint {str(key)[:80]!r}: expected 40 or 64 hex digits (or a 16-digit key ID)",
            code="invalid-fingerprint",
            hint="`gpg --list-keys --with-colons USER-ID` prints a key's fingerprint (its fpr line); a user ID "
                 "or e-mail address, which skopeo hands to gpg, is not taken",
        )
    return key


def _describe_home(home: str | None) -> str:
    """Name the GnuPG home for messages."""
    return home or os.environ.get("GNUPGHOME") or "the default GnuPG home (~/.gnupg)"


def sign(payload: bytes, fingerprint: str, *, gnupg_home: str | None = None, passphrase: str | None = None) -> bytes:
    """Make a binary, non-detached OpenPGP signed message of ``payload`` with the user's key.

    Args:
        payload: the bytes to sign.
        fingerprint: the secret key to use (hex fingerprint or 16-digit key ID).
        gnupg_home: the GNUPGHOME holding it; None means $GNUPGHOME or ~/.gnupg.
        passphrase: the key's passphrase, sent through loopback pinentry on a pipe;
            None or "" mean "no passphrase" (as skopeo). Never logged or shown.

    Returns:
        The signature blob.

    Raises:
        SignatureError: no such secret key, wrong or missing passphrase, gpg failure.
    """
    key = _check_key_id(fingerprint)
    if passphrase and ("\n" in passphrase or "\r" in passphrase):
        raise SignatureError("invalid passphrase: must not contain a line break", code="signature-create")
    gpg = _new_gpg(gnupg_home, [])
    where = _describe_home(gnupg_home)
    found = [_secret_key(gpg, key, where)]
    allowed = {found[0]["fingerprint"], *(sub[2] for sub in found[0].get("subkeys", []) if sub[2])}
    # python-gnupg writes the passphrase as latin-1; this round-trip makes it send UTF-8 bytes.
    wire = passphrase.encode("utf-8").decode("latin-1") if passphrase else None
    try:
        result = gpg.sign(payload, keyid=None, passphrase=wire, clearsign=False, detach=False, binary=True,
                          extra_args=["--local-user", key, "--pinentry-mode", "loopback", "--no-armor",
                                      "--no-textmode"])
    except (OSError, ValueError) as exc:
        raise SignatureError(f"signing with key {key} failed: {exc}", code="signature-create") from exc
    created = [v.split() for k, v in result.status_lines if k == "SIG_CREATED"]
    if result.returncode != 0 or len(created) != 1 or not result.data:
        reason, hint = _sign_failure(result, found[0], wire is None)
        raise SignatureError(f"signing with key {key} from {where} failed: {reason}", code="signature-create",
                             hint=hint)
    if created[0][0] != "S" or created[0][-1] not in allowed:
        raise SignatureError(f"gpg signed with an unexpected key or mode ({' '.join(created[0])})",
                             code="signature-create")
    return bytes(result.data)


def _secret_key(gpg: Any, key: str, where: str) -> dict[str, Any]:
    """The one secret key ``key`` names in the home ``gpg`` uses (its listing).

    Raises:
        SignatureError: none or several (``signing-key-missing``).
    """
    found = gpg.list_keys(secret=True, keys=[key])
    if len(found) != 1:
        problem = "no secret key" if not found else "more than one secret key"
        raise SignatureError(f"{problem} for {key} in {where}", code="signing-key-missing",
                             hint="`gpg --list-secret-keys --with-colons` lists the secret keys there (fpr lines); "
                                  "set GNUPGHOME to the home that holds the key" if not found else
                                  "name the key by its full 40- or 64-digit fingerprint")
    listed: dict[str, Any] = found[0]
    return listed


def check_signing_key(fingerprint: str, *, gnupg_home: str | None = None) -> None:
    """Refuse, before anything is copied, a ``--sign-by`` key that cannot sign at all.

    Why: the signature is made after the image is written; in a registry the manifest PUT has
    moved the tag by then, so a key that is missing, named by a user ID, expired or revoked
    left the tag on an unsigned image (skopeo 1.9.3 does the same). Only what needs no
    signing is checked: a wrong passphrase is still found when signing (a test signature
    would cost a second touch of a hardware key).

    Raises:
        SignatureError: ``invalid-fingerprint``, ``signing-key-missing``, or
            ``signature-create`` for a key gpg would not sign with (expired, revoked, no signing
            subkey that is current and has its secret part here: _signing_key_problem).
    """
    key = _check_key_id(fingerprint)
    where = _describe_home(gnupg_home)
    listed = _secret_key(_new_gpg(gnupg_home, []), key, where)
    problem = _signing_key_problem(listed)
    if problem is not None:
        raise SignatureError(f"signing with key {key} from {where} failed: {problem[0]}", code="signature-create",
                             hint=problem[1])


def _signing_key_problem(listed: dict[str, Any]) -> tuple[str, str] | None:
    """Why gpg will not sign with the key ``listed`` describes (its secret-key listing), and a hint; None if it can.

    gpg signs with the key's newest usable signing key: the primary key when it may sign,
    or a signing subkey (also when ``--local-user`` names another subkey by its key ID).
    The whole key is unusable when its primary key expired or was revoked; otherwise one
    signing (sub)key that is neither expired nor revoked, and whose secret part is in the
    home (not a ``#`` stub: an offline primary key), is enough. The checks stop there: an
    ``i``nvalid or otherwise odd key is left for gpg to judge when signing.
    """
    validity = listed.get("trust")
    if validity == "e":
        return (f"the key has expired{_on_date(listed.get('expires'))}",
                "extend it (gpg --quick-set-expire FINGERPRINT 1y), then publish the updated public key, "
                "or sign with a current key")
    if validity == "r":
        return "the key has been revoked", "sign with another key; a revoked key cannot be used again"
    subkeys = [sub for sub in (listed.get("subkey_info") or {}).values() if isinstance(sub, dict)]
    # "cap": the key's own usage in lower case (the primary's upper-case letters are the whole key's).
    signing = [k for k in (listed, *subkeys) if "s" in str(k.get("cap") or "")]
    if any(k.get("trust") not in ("e", "r") and k.get("token") != "#" for k in signing):
        return None
    add = "add a signing subkey (gpg --quick-add-key FINGERPRINT ed25519 sign) and publish the updated public key"
    if not signing:
        return "the key has no key or subkey that may sign", f"{add}, or sign with another key"
    expired = sorted((k for k in signing if k.get("trust") == "e"), key=lambda k: str(k.get("expires") or ""))
    if expired:
        return (f"its signing subkey {expired[-1].get('keyid')} has expired{_on_date(expired[-1].get('expires'))}",
                "extend it (gpg --quick-set-expire FINGERPRINT 1y SUBKEY-FINGERPRINT), then publish the updated "
                f"public key; or {add}")
    revoked = [k for k in signing if k.get("trust") == "r"]
    if revoked:
        return f"its signing subkey {revoked[-1].get('keyid')} has been revoked", add
    return (f"the secret part of its signing key {signing[-1].get('keyid')} is not in this GnuPG home (a stub)",
            "import that secret key or subkey here (gpg --import), or set GNUPGHOME to the home that holds it")


def _sign_failure(result: Any, listed: dict[str, Any], no_passphrase: bool) -> tuple[str, str | None]:
    """The most specific reason gpg gave for a failed signing (never the passphrase), and a hint.

    Why the key listing: gpg reports an expired or revoked secret key only as ``INV_SGNR 9``
    ("Unusable secret key"), the same as a key that cannot sign, while its listing's
    validity field says which (``e``, ``r``). The passphrase hint is given only when gpg
    asked for one: for an expired key it sent users looking for a passphrase problem.
    """
    keywords = {k for k, _ in result.status_lines}
    asked = bool(keywords & {"NEED_PASSPHRASE", "MISSING_PASSPHRASE", "BAD_PASSPHRASE"})
    hint = ("give the key's passphrase with --sign-passphrase-file (copy, sync) or --passphrase-file "
            "(standalone-sign)") if no_passphrase and asked else None
    if "BAD_PASSPHRASE" in keywords:
        return "bad passphrase", hint
    if hint is not None:
        return "the key needs a passphrase, and none was given", hint
    if keywords & {"INV_SGNR", "KEYEXPIRED", "KEYREVOKED"} and (problem := _signing_key_problem(listed)) is not None:
        return problem
    if "KEYEXPIRED" in keywords or ("INV_SGNR" in keywords and listed.get("trust") == "e"):
        return f"the key has expired{_on_date(listed.get('expires'))}", (
            "extend it (gpg --quick-set-expire FINGERPRINT 1y), then publish the updated public key, "
            "or sign with a current key")
    if "KEYREVOKED" in keywords or ("INV_SGNR" in keywords and listed.get("trust") == "r"):
        return "the key has been revoked", "sign with another key; a revoked key cannot be used again"
    if "INV_SGNR" in keywords:
        return "the key cannot sign", hint
    lines = [ln for ln in (result.stderr or "").splitlines() if ln.startswith("gpg: ")]
    return (lines[-1][5:] if lines else f"gpg exited with status {result.returncode}"), hint


def _on_date(expires: Any) -> str:
    """`` on YYYY-MM-DD`` for gpg's expiry field (seconds since the epoch), or "" when absent."""
    import datetime

    try:
        when = datetime.datetime.fromtimestamp(int(expires), datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return f" on {when:%Y-%m-%d}"


def export_public_keys(fingerprints: Sequence[str], *, gnupg_home: str | None = None) -> bytes:
    """Export the named public keys (with their subkeys) from the user's keyring.

    Used by ``standalone-verify`` without ``--public-key-file``: only these keys then go
    into a private GPGKeyring, so the rest of the user's keyring can never vouch.

    Raises:
        SignatureError: a malformed fingerprint, or none of the keys exists there.
    """
    keys = [_check_key_id(fpr) for fpr in fingerprints]
    gpg = _new_gpg(gnupg_home, ["--no-autostart"])
    data = gpg.export_keys(keys, armor=False) if keys else b""
    if not data:
        raise SignatureError(f"none of the keys {', '.join(keys)} is in {_describe_home(gnupg_home)}",
                             code="no-public-keys")
    return bytes(data)
