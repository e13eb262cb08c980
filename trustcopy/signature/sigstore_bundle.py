"""Sigstore bundles (cosign v3): a DSSE-signed in-toto statement naming the image digest.

Cosign v3 signs an image by putting a Sigstore bundle (media type
``application/vnd.dev.sigstore.bundle.v0.3+json``) next to it as an OCI 1.1 referrer.
The bundle holds a DSSE envelope whose payload is an in-toto statement::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"digest": {"sha256": "<manifest digest hex>"}}],
     "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}}

and verification material: a public-key hint (key-signed), or a certificate (Fulcio,
PKI), plus transparency-log entries. Transports hand a bundle to the policy as a
SigstoreSignature whose MIME type is the bundle media type and whose payload is the
bundle JSON (the same seam as cosign attachments; ``dir:`` stores it in the
``sigstore-json`` envelope).

Verification (same trust roots as attachments; signature/sigstore.py):

1. parse the bundle strictly (unknown members refused, as protojson does; at most
   :data:`MAX_BUNDLE` bytes); only a DSSE envelope with one signature over an in-toto
   payload is an image signature;
2. candidate keys: the policy keys (``keys``), or the bundle's certificate checked like an
   attachment's (``fulcio`` at the log's integrated time, ``pki`` now);
3. with Rekor keys, a log entry's inclusion promise (SET) must verify and its ``dsse``
   0.0.1 body must log this signature, this key or certificate and this payload;
4. the DSSE signature over PAE(payloadType, payload) must verify with a candidate key;
5. the statement: exactly one subject with a sha256 digest, predicate type cosign's
   signing predicate; the digest goes to the digest callback;
6. identity: a subject ``name`` (trustcopy writes the signed reference there) goes to
   the identity callback like a payload's ``docker-reference``; without one, the
   ``validate_unsigned_identity`` callback decides (docs/policy.md, "Sigstore bundles"),
   and without that callback the bundle is rejected: fail closed.

Not supported (rejected with a reason): message-signature bundles, Rekor v2 entries
(no inclusion promise), RFC 3161 timestamps as the source of time for Fulcio.
sigstore-python is not used: its ``Bundle`` refuses key-signed bundles and its verifier
requires a full Sigstore trusted root (CT logs, SCTs), which a containers-policy.json does
not provide; see docs/policy.md.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trustcopy.errors import SignatureVerificationError
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.signature.formats import SigstoreSignature
    from trustcopy.signature.sigstore import SigstoreTrustRoot
    from trustcopy.signature.verified import VerifiedSignature

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
_ACCEPTED_MEDIA_TYPES = (BUNDLE_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3")
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
MAX_BUNDLE = 4 << 20
MAX_TLOG_ENTRIES = 16


def _bad(message: str) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=Reason.BUNDLE_INVALID, code="bundle-invalid")


def _members(value: Any, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what}: JSON object expected")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _bad(f"{what}: unknown member {unknown[0]!r}")
    return value


def _b64(value: Any, what: str) -> bytes:
    from trustcopy.signature.sigstore_rekor import b64

    try:
        return b64(value, what)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the envelope's signature signs."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class ParsedBundle:
    """The parts of an (untrusted) bundle that verification uses."""

    payload_type: str
    payload: bytes
    signature: bytes
    certificates: tuple[bytes, ...]  # DER, leaf first; empty for key-signed bundles
    tlog_entries: tuple[dict[str, Any], ...]


def parse_bundle(data: bytes) -> ParsedBundle:
    """Step 1: the bundle, strictly.

    Raises:
        SignatureVerificationError: reason ``BUNDLE_INVALID``.
    """
    from trustcopy.signature.sigstore_rekor import strict_json

    if len(data) > MAX_BUNDLE:
        raise _bad(f"the bundle is {len(data)} bytes, more than {MAX_BUNDLE}")
    try:
        top = strict_json(data, "Sigstore bundle")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"the bundle is not valid JSON: {exc}") from None
    top = _members(top, ("mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"), "bundle")
    if top.get("mediaType") not in _ACCEPTED_MEDIA_TYPES:
        raise _bad(f"unsupported bundle media type {str(top.get('mediaType'))[:80]!r}")
    if "messageSignature" in top or "dsseEnvelope" not in top:
        raise _bad("the bundle holds no DSSE envelope (a message signature is not a cosign image signature)")
    envelope = _members(top["dsseEnvelope"], ("payload", "payloadType", "signatures"), "dsseEnvelope")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _bad("the DSSE envelope must hold exactly one signature")
    signature = _members(signatures[0], ("sig", "keyid"), "dsseEnvelope.signatures[0]")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise _bad("dsseEnvelope.payloadType: string expected")
    material = _members(top.get("verificationMaterial"),
                        ("publicKey", "certificate", "x509CertificateChain", "tlogEntries",
                         "timestampVerificationData"), "verificationMaterial")
    certificates: list[bytes] = []
    if "certificate" in material:
        cert = _members(material["certificate"], ("rawBytes",), "verificationMaterial.certificate")
        certificates.append(_b64(cert.get("rawBytes"), "certificate.rawBytes"))
    if "x509CertificateChain" in material:
        chain = _members(material["x509CertificateChain"], ("certificates",), "x509CertificateChain")
        entries = chain.get("certificates")
        if not isinstance(entries, list) or not 0 < len(entries) <= 16 or certificates:
            raise _bad("x509CertificateChain must list 1 to 16 certificates, and come without a certificate")
        for i, entry in enumerate(entries):
            certificates.append(_b64(_members(entry, ("rawBytes",), f"certificates[{i}]").get("rawBytes"),
                                     f"certificates[{i}].rawBytes"))
    if certificates and "publicKey" in material:
        raise _bad("verificationMaterial has both a public key and a certificate")
    entries = material.get("tlogEntries", [])
    if not isinstance(entries, list) or len(entries) > MAX_TLOG_ENTRIES:
        raise _bad(f"tlogEntries must be a list of at most {MAX_TLOG_ENTRIES} entries")
    return ParsedBundle(payload_type, _b64(envelope.get("payload"), "dsseEnvelope.payload"),
                        _b64(signature.get("sig"), "dsseEnvelope.signatures[0].sig"),
                        tuple(certificates), tuple(e if isinstance(e, dict) else {} for e in entries))


def _int(value: Any, what: str) -> int:
    """A protojson int64: a decimal string or a JSON integer."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{what}: integer expected")
    return value


def _verify_tlog(rekor_keys: tuple[Any, ...], parsed: ParsedBundle, key_or_cert_der: bytes) -> int:
    """Step 3: one log entry whose SET verifies and whose dsse body logs this signature; its time.

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``.
    """
    from trustcopy.signature.sigstore_rekor import (
        check_entry_kind,
        parse_set_payload,
        verify_set_signature,
    )

    failures: list[str] = []
    for i, entry in enumerate(parsed.tlog_entries):
        try:
            promise = entry.get("inclusionPromise")
            if not isinstance(promise, dict):
                raise SignatureVerificationError("no inclusion promise (SET); Rekor v2 entries are not supported",
                                                 reason=Reason.REKOR_SET_INVALID)
            log_id = entry.get("logId")
            key_id = _b64(log_id.get("keyId") if isinstance(log_id, dict) else None, "logId.keyId")
            set_payload = {"body": entry.get("canonicalizedBody"), "integratedTime": _int(entry.get("integratedTime"),
                           "integratedTime"), "logIndex": _int(entry.get("logIndex"), "logIndex"),
                           "logID": key_id.hex()}
            set_sig = _b64(promise.get("signedEntryTimestamp"), "inclusionPromise.signedEntryTimestamp")
            logged = parse_set_payload(verify_set_signature(rekor_keys, set_sig, set_payload))
            spec = check_entry_kind(logged.body, "dsse")
            _match_dsse_entry(spec, parsed, key_or_cert_der)
            return logged.integrated_time
        except SignatureVerificationError as exc:
            failures.append(f"entry {i}: {exc.message}")
    detail = "; ".join(failures) if failures else "the bundle has no transparency-log entries"
    raise SignatureVerificationError(f"no Rekor entry of the bundle is valid for this signature: {detail}",
                                     reason=Reason.REKOR_SET_INVALID)


def _logged_keys(rekor_keys: tuple[Any, ...], parsed: ParsedBundle, keys: list[Any]) -> list[Any]:
    """With a ``keys`` root and Rekor: the one policy key a valid log entry logs this signature under.

    Raises:
        SignatureVerificationError: reason ``REKOR_SET_INVALID``, with each key's failure.
    """
    from trustcopy.signature.sigstore_keys import public_key_der

    failures = []
    for key in keys:
        try:
            _verify_tlog(rekor_keys, parsed, public_key_der(key))
        except SignatureVerificationError as exc:
            failures.append(exc.message)
            continue
        return [key]
    raise SignatureVerificationError(f"No public key verified against the bundle's Rekor entries: "
                                     f"{', '.join(failures)}", reason=Reason.REKOR_SET_INVALID)


def _match_dsse_entry(spec: dict[str, Any], parsed: ParsedBundle, key_or_cert_der: bytes) -> None:
    from trustcopy.signature.sigstore_rekor import _single_pem_der

    def bad(message: str) -> SignatureVerificationError:
        return SignatureVerificationError(message, reason=Reason.REKOR_SET_INVALID)

    digest = spec.get("payloadHash")
    if not isinstance(digest, dict) or digest.get("algorithm") != "sha256" or not isinstance(digest.get("value"), str):
        raise bad("the dsse entry has no sha256 payloadHash")
    if digest["value"].lower() != hashlib.sha256(parsed.payload).hexdigest():
        raise bad("payload in Rekor entry does not match")
    logged = spec.get("signatures")
    if not isinstance(logged, list):
        raise bad("the dsse entry lists no signatures")
    for item in logged:
        if not isinstance(item, dict) or not isinstance(item.get("signature"), str):
            continue
        try:
            same_sig = base64.b64decode(item["signature"], validate=True) == parsed.signature
            verifier = base64.b64decode(item.get("verifier") or "", validate=True)
        except ValueError:
            continue
        if same_sig and _single_pem_der(verifier, "verifier in Rekor entry") == key_or_cert_der:
            return
    raise bad("signature or key in Rekor entry does not match")


def _statement(payload: bytes) -> tuple[Digest, str | None]:
    """Step 5: the statement's one subject: its digest and, if any, its name."""
    from trustcopy.digest import Digest
    from trustcopy.signature.sigstore_rekor import strict_json

    try:
        statement = strict_json(payload, "in-toto statement")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"the in-toto statement is not valid JSON: {exc}") from None
    statement = _members(statement, ("_type", "subject", "predicateType", "predicate"), "statement")
    if statement.get("_type") != STATEMENT_TYPE:
        raise _bad(f"unsupported statement type {str(statement.get('_type'))[:80]!r}")
    if statement.get("predicateType") != COSIGN_SIGN_PREDICATE:
        raise _bad(f"predicate type {str(statement.get('predicateType'))[:80]!r} is not a cosign image signature")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise _bad("the statement must name exactly one subject")
    subject = _members(subjects[0], ("name", "digest", "uri", "annotations"), "subject[0]")
    digests = subject.get("digest")
    if not isinstance(digests, dict) or not isinstance(digests.get("sha256"), str):
        raise _bad("the statement's subject has no sha256 digest")
    try:
        digest = Digest.parse("sha256:" + digests["sha256"])
    except ValueError as exc:
        raise _bad(f"invalid subject digest: {exc}") from None
    name = subject.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad("subject[0].name: string expected")
    return digest, name or None


def verify_bundle(
    sig: SigstoreSignature,
    root: SigstoreTrustRoot,
    *,
    validate_signed_docker_reference: Callable[[str], None],
    validate_signed_docker_manifest_digest: Callable[[Digest], None],
    validate_unsigned_identity: Callable[[], None] | None = None,
) -> VerifiedSignature:
    """Verify a Sigstore bundle (see the module docstring for the steps).

    Raises:
        SignatureVerificationError: with the reason code of the first failed step.
    """
    from trustcopy.signature.sigstore import (
        describe_keys,
        run_callback,
        trusted_leaf,
        verify_with_keys,
        with_signer,
    )
    from trustcopy.signature.sigstore_keys import key_fingerprint
    from trustcopy.signature.sigstore_x509 import load_der_certificates
    from trustcopy.signature.verified import _issue

    parsed = parse_bundle(sig.untrusted_payload)
    if parsed.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _bad(f"unsupported DSSE payload type {parsed.payload_type[:80]!r}")
    if root.kind == "keys":
        keys = list(root.public_keys)
        if root.rekor_keys:
            keys = _logged_keys(root.rekor_keys, parsed, keys)
    else:
        if not parsed.certificates:
            raise SignatureVerificationError("the bundle carries no certificate", reason=Reason.CERTIFICATE_INVALID)
        leaf, *intermediates = load_der_certificates(parsed.certificates)
        when = _verify_tlog(root.rekor_keys, parsed, parsed.certificates[0]) if root.kind == "fulcio" else None
        keys = [trusted_leaf(root, when, leaf, intermediates).public_key()]
    key = verify_with_keys(keys, parsed.signature, pae(parsed.payload_type, parsed.payload), describe_keys(root))
    fingerprint = key_fingerprint(key)
    try:
        digest, name = _statement(parsed.payload)
    except SignatureVerificationError as exc:
        raise with_signer(exc, fingerprint) from exc
    run_callback(validate_signed_docker_manifest_digest, digest, fingerprint)
    if name is not None:
        run_callback(validate_signed_docker_reference, name, fingerprint)
    elif validate_unsigned_identity is None:
        raise SignatureVerificationError("the Sigstore bundle signs no image name", reason=Reason.IDENTITY_NOT_SIGNED,
                                         context={"key_fingerprint": fingerprint})
    else:
        run_callback(lambda _: validate_unsigned_identity(), None, fingerprint)
    return _issue(docker_manifest_digest=digest, docker_reference=name or "", key_fingerprint=fingerprint,
                  timestamp=None, creator=None)


def build_bundle(private_key: Any, manifest_digest: Digest, docker_reference: str | None) -> bytes:
    """A key-signed bundle for ``manifest_digest`` (no log entry: trustcopy does not upload to Rekor).

    Args:
        private_key: the signing key (from a cosign key file).
        manifest_digest: the sha256 digest of the manifest as stored at the destination.
        docker_reference: the identity to name as the statement's subject (trustcopy
            writes it so that every ``signedIdentity`` form can apply); None to name none,
            as cosign does.

    Returns:
        The bundle JSON (compact, protojson's member names).
    """
    from trustcopy.gojson import go_marshal
    from trustcopy.signature.sigstore_keys import public_key_der, sign_message

    if manifest_digest.algorithm != "sha256":
        raise ValueError("Sigstore bundles are written for sha256 digests only")
    subject: dict[str, Any] = {"name": docker_reference} if docker_reference else {}
    subject["digest"] = {"sha256": manifest_digest.hex}
    statement = go_marshal({"_type": STATEMENT_TYPE, "subject": [subject],
                            "predicateType": COSIGN_SIGN_PREDICATE, "predicate": {}})
    signature = sign_message(private_key, pae(IN_TOTO_PAYLOAD_TYPE, statement))
    hint = base64.b64encode(hashlib.sha256(public_key_der(private_key)).digest()).decode("ascii")
    return go_marshal({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}},
        "dsseEnvelope": {"payload": base64.b64encode(statement).decode("ascii"), "payloadType": IN_TOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": base64.b64encode(signature).decode("ascii")}]},
    })
