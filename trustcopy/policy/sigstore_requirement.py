"""The ``sigstoreSigned`` requirement: parsing, validation, and wiring to the verifier.

Fields and combination rules follow the newest containers-policy.json(5): exactly one of
``keyPath``, ``keyPaths``, ``keyData``, ``keyDatas``, ``fulcio`` and ``pki``; at most one
Rekor key source, required with ``fulcio`` and refused with ``pki``.

The cryptographic verification belongs to ``trustcopy.signature.sigstore``: this module
asks the policy context for the requirement's trust root (built once per context) and
calls ``verify_sigstore(sig, trust_root, validate_signed_docker_reference=…,
validate_signed_docker_manifest_digest=…, validate_unsigned_identity=…)``, which returns
a VerifiedSignature or raises. The third callback decides whether a Sigstore bundle that
signs only a digest is acceptable under this requirement's ``signedIdentity``.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar

from trustcopy.lazy import dataclass
from trustcopy.policy.identity import ExactReference, IdentityMatcher, MatchRepoDigestOrExact
from trustcopy.policy.model import (
    EvalResources,
    ImageResult,
    KeyLoadError,
    PolicySpecError,
    Requirement,
    SigResult,
    SigStatus,
)
from trustcopy.policy.requirements import (
    NO_SIGNATURE_MESSAGE,
    SignatureCheck,
    check_data,
    check_identity,
    check_list,
    check_path,
    check_paths,
    count_given,
    indexed_signatures,
    no_signature_message,
    summarize,
)
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.signature.formats import Signature, SigstoreSignature
    from trustcopy.signature.sigstore import SigstoreTrustRoot

#: The MIME type of a cosign signature attachment; other sigstore attachments are skipped.
SIGSTORE_SIGNATURE_MIME_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
#: What this requirement verifies: cosign attachments and Sigstore bundles (cosign v3).
SIGNATURE_MIME_TYPES = (SIGSTORE_SIGNATURE_MIME_TYPE, "application/vnd.dev.sigstore.bundle.v0.3+json",
                        "application/vnd.dev.sigstore.bundle+json;version=0.3")
#: How many trusted keys (and key or Rekor key files) a rejection lists; the rest are counted.
_SHOWN_KEYS = 8
#: How many of an attached certificate's names a message shows, and how much of each.
_SHOWN_NAMES = 4
_NAME_CHARS = 100


def check_datas(value: object, name: str) -> tuple[bytes, ...]:
    """A non-empty list of non-empty byte strings."""
    return check_list(value, name, check_data, "byte strings", empty="contains no entries")


def _check_text(value: object, name: str, *, required: bool) -> None:
    if value is None:
        if required:
            raise PolicySpecError(f"{name} not specified", (name,))
        return
    if not isinstance(value, str):
        raise PolicySpecError("expected a string", (name,))
    if not value:
        raise PolicySpecError("must not be empty", (name,))


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _b64_list(datas: tuple[bytes, ...] | None) -> list[str | None] | None:
    return None if datas is None else [_b64(d) for d in datas]


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class FulcioSpec:
    """Trust a Fulcio-issued certificate for one OIDC issuer and e-mail subject."""

    ca_path: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    oidc_issuer: str | None = None
    subject_email: str | None = None

    def __post_init__(self) -> None:
        given = count_given(self.ca_path, self.ca_data)
        if given == 2:
            raise PolicySpecError("caPath and caData cannot be used simultaneously")
        if given == 0:
            raise PolicySpecError("at least one of caPath and caData must be specified")
        if self.ca_path is not None:
            check_path(self.ca_path, "caPath")
        if self.ca_data is not None:
            object.__setattr__(self, "ca_data", check_data(self.ca_data, "caData"))
        _check_text(self.oidc_issuer, "oidcIssuer", required=True)
        _check_text(self.subject_email, "subjectEmail", required=True)

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return _compact({"caPath": self.ca_path, "caData": _b64(self.ca_data),
                         "oidcIssuer": self.oidc_issuer, "subjectEmail": self.subject_email})


@dataclass(frozen=True)
class PKISpec:
    """Trust a certificate chaining to private CA roots, for an e-mail and/or hostname subject."""

    ca_roots_path: str | None = None
    ca_roots_data: bytes | None = field(default=None, repr=False)
    ca_intermediates_path: str | None = None
    ca_intermediates_data: bytes | None = field(default=None, repr=False)
    subject_email: str | None = None
    subject_hostname: str | None = None

    def __post_init__(self) -> None:
        given = count_given(self.ca_roots_path, self.ca_roots_data)
        if given == 2:
            raise PolicySpecError("caRootsPath and caRootsData cannot be used simultaneously")
        if given == 0:
            raise PolicySpecError("at least one of caRootsPath and caRootsData must be specified")
        if count_given(self.ca_intermediates_path, self.ca_intermediates_data) == 2:
            raise PolicySpecError("caIntermediatesPath and caIntermediatesData cannot be used simultaneously")
        for name, value in (("caRootsPath", self.ca_roots_path), ("caIntermediatesPath", self.ca_intermediates_path)):
            if value is not None:
                check_path(value, name)
        for attr, name in (("ca_roots_data", "caRootsData"), ("ca_intermediates_data", "caIntermediatesData")):
            if getattr(self, attr) is not None:
                object.__setattr__(self, attr, check_data(getattr(self, attr), name))
        if self.subject_email is None and self.subject_hostname is None:
            raise PolicySpecError("at least one of subjectEmail, subjectHostname must be specified")
        _check_text(self.subject_email, "subjectEmail", required=False)
        _check_text(self.subject_hostname, "subjectHostname", required=False)

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return _compact({
            "caRootsPath": self.ca_roots_path, "caRootsData": _b64(self.ca_roots_data),
            "caIntermediatesPath": self.ca_intermediates_path,
            "caIntermediatesData": _b64(self.ca_intermediates_data),
            "subjectEmail": self.subject_email, "subjectHostname": self.subject_hostname,
        })


@dataclass(frozen=True)
class SigstoreSigned(Requirement):
    """A sigstore (cosign) signature by a trusted key or certificate, for an accepted identity."""

    type_name: ClassVar[str] = "sigstoreSigned"
    verifies_signatures: ClassVar[bool] = True
    key_path: str | None = None
    key_paths: tuple[str, ...] | None = None
    key_data: bytes | None = field(default=None, repr=False)
    key_datas: tuple[bytes, ...] | None = field(default=None, repr=False)
    fulcio: FulcioSpec | None = None
    pki: PKISpec | None = None
    rekor_public_key_path: str | None = None
    rekor_public_key_paths: tuple[str, ...] | None = None
    rekor_public_key_data: bytes | None = field(default=None, repr=False)
    rekor_public_key_datas: tuple[bytes, ...] | None = field(default=None, repr=False)
    signed_identity: IdentityMatcher = field(default_factory=MatchRepoDigestOrExact)

    def __post_init__(self) -> None:
        keys = count_given(self.key_path, self.key_paths, self.key_data, self.key_datas, self.fulcio, self.pki)
        if keys != 1:
            raise PolicySpecError(
                "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
            )
        rekor = count_given(self.rekor_public_key_path, self.rekor_public_key_paths,
                            self.rekor_public_key_data, self.rekor_public_key_datas)
        if rekor > 1:
            raise PolicySpecError("at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData "
                                  "and rekorPublicKeyDatas can be used simultaneously")
        if self.fulcio is not None and rekor == 0:
            raise PolicySpecError("at least one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData "
                                  "and rekorPublicKeyDatas must be specified if fulcio is used")
        if self.pki is not None and rekor > 0:
            raise PolicySpecError("rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and "
                                  "rekorPublicKeyDatas are not supported for pki")
        for attr, name in (("key_path", "keyPath"), ("rekor_public_key_path", "rekorPublicKeyPath")):
            if getattr(self, attr) is not None:
                check_path(getattr(self, attr), name)
        for attr, name in (("key_paths", "keyPaths"), ("rekor_public_key_paths", "rekorPublicKeyPaths")):
            if getattr(self, attr) is not None:
                object.__setattr__(self, attr, check_paths(getattr(self, attr), name))
        for attr, name in (("key_data", "keyData"), ("rekor_public_key_data", "rekorPublicKeyData")):
            if getattr(self, attr) is not None:
                object.__setattr__(self, attr, check_data(getattr(self, attr), name))
        for attr, name in (("key_datas", "keyDatas"), ("rekor_public_key_datas", "rekorPublicKeyDatas")):
            if getattr(self, attr) is not None:
                object.__setattr__(self, attr, check_datas(getattr(self, attr), name))
        if self.fulcio is not None and not isinstance(self.fulcio, FulcioSpec):
            raise PolicySpecError("expected a fulcio object", ("fulcio",))
        if self.pki is not None and not isinstance(self.pki, PKISpec):
            raise PolicySpecError("expected a pki object", ("pki",))
        check_identity(self.signed_identity, "signedIdentity")

    def key_sources(self) -> list[str]:
        """Human names of the trust root (paths, "keyData", "fulcio", "pki")."""
        if self.key_path is not None:
            return [self.key_path]
        if self.key_paths is not None:
            return list(self.key_paths)
        if self.key_data is not None or self.key_datas is not None:
            return ["keyData" if self.key_data is not None else "keyDatas"]
        return ["fulcio" if self.fulcio is not None else "pki"]

    def describe(self) -> str:
        """Type, trust root and identity rule."""
        return (f"sigstoreSigned (keys: {', '.join(self.key_sources())}; "
                f"signedIdentity: {self.signed_identity.type_name})")

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return _compact({
            "type": self.type_name, "keyPath": self.key_path,
            "keyPaths": None if self.key_paths is None else list(self.key_paths),
            "keyData": _b64(self.key_data), "keyDatas": _b64_list(self.key_datas),
            "fulcio": None if self.fulcio is None else self.fulcio.to_json(),
            "pki": None if self.pki is None else self.pki.to_json(),
            "rekorPublicKeyPath": self.rekor_public_key_path,
            "rekorPublicKeyPaths": None if self.rekor_public_key_paths is None else list(self.rekor_public_key_paths),
            "rekorPublicKeyData": _b64(self.rekor_public_key_data),
            "rekorPublicKeyDatas": _b64_list(self.rekor_public_key_datas),
            "signedIdentity": self.signed_identity.to_json(),
        })

    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """Rejected, as in containers/image (which does not implement this for sigstore)."""
        message = "isSignatureAuthorAccepted is not implemented for sigstore"
        return SigResult(SigStatus.REJECTED, Reason.NOT_IMPLEMENTED, message)

    def verify(self, image: UnparsedImage, sig: SigstoreSignature, index: int, env: EvalResources) -> SigResult:
        """Verify one sigstore signature with the trust root built once per policy context."""
        from trustcopy.signature import sigstore

        check = SignatureCheck(self.signed_identity, image, index, sig)
        try:
            trust_root = env.sigstore_trust_root(self)
        except KeyLoadError as exc:
            return SigResult(SigStatus.REJECTED, Reason.KEY_LOAD_FAILED, str(exc), info=check.info())
        result = check.run(functools.partial(sigstore.verify_sigstore, sig, trust_root,
                                             validate_unsigned_identity=functools.partial(self._unsigned, image)))
        return self._explained(self._with_repository_hint(result), sig, trust_root)

    def _explained(self, result: SigResult, sig: SigstoreSignature, root: SigstoreTrustRoot) -> SigResult:
        """Add what a CI log needs to the verifier's (containers/image-worded) sentence.

        Which key or certificate accepted a signature; for a rejection, the trusted keys
        (fingerprints and files) or roots (subjects and file) it was checked against, the
        signature's own certificate, and what a missing or mismatched Rekor SET means.
        Decoration only: reason codes and the leading sentence stay as they are.
        """
        extra = ""
        cert = _attached_certificate(sig)
        if result.status is SigStatus.ACCEPTED and result.signature is not None:
            fpr = result.signature.key_fingerprint
            source = (self._key_source(root, fpr) if root.kind == "keys"
                      else f"of the {cert} under the {root.kind} requirement's roots" if cert else "")
            if source:
                return dataclasses.replace(result, message=result.message.replace(
                    f"signed by key {fpr}", f"signed by key {fpr} ({source})", 1))
            return result
        message = result.message or ""
        if result.reason is Reason.INVALID_SIGNATURE and "does not verify with" in message and root.kind == "keys":
            extra = f"; trusted: {self._trusted_keys(root)}"
            if cert:
                extra += (f"; the signature carries a {cert}: it was made keyless (Fulcio) or with a PKI "
                          "certificate, which only a fulcio or pki requirement verifies")
            else:
                extra += ("; sigstore signatures do not name their key: it was made with another private key, "
                          "or the signature or its payload was altered")
        elif result.reason is Reason.CERTIFICATE_INVALID and "does not chain to a trusted root" in message:
            extra = f"; {cert or 'the certificate'}; trusted roots: {self._trusted_roots(root)}"
        elif result.reason is Reason.CERTIFICATE_INVALID and "certificate annotation" in message:
            extra = (f"; {self.key_sources()[0]} verifies only signatures that carry a certificate: this one was "
                     "made with a key, which keyPath/keyPaths/keyData verify")
        elif result.reason is Reason.REKOR_SET_INVALID:
            if message.startswith("missing "):
                extra = (f"; this requirement ({self._rekor_source()}) needs the Rekor SET cosign attaches when it "
                         "uploads the signature to a transparency log: sign with the upload on"
                         + ("" if self.fulcio is not None else ", or drop the rekorPublicKey field to trust the key "
                            "without a log entry"))
            elif root.kind == "keys" and "publicKey in Rekor SET does not match" in message and not (
                    "signature in Rekor SET" in message or "payload in Rekor SET" in message):
                # The SET logs a key, and it is none of the trusted ones: the usual cause is a
                # signature made (and uploaded) with another key, not a copied SET.
                extra = (f"; the SET logs a public key that is not one of the trusted keys: the signature was "
                         f"made with another key (or carries another signature's SET); trusted: "
                         f"{self._trusted_keys(root)}")
            elif "does not match" in message:
                extra = ("; the SET records another signature, key or payload than this signature's "
                         "(a SET copied from another signature, or a signature re-made after the upload)")
            elif "verification of Rekor SET failed" in message:
                extra = f"; the SET was not signed by the Rekor key(s) of {self._rekor_source()}"
        elif result.reason is Reason.CERTIFICATE_IDENTITY_MISMATCH and cert:
            extra = f"; {cert}"
        if not extra:
            return result
        return dataclasses.replace(result, message=message + extra)

    def _key_source(self, root: SigstoreTrustRoot, fingerprint: str) -> str:
        from trustcopy.signature.sigstore_keys import key_fingerprint

        for key, name in zip(root.public_keys, root.key_names, strict=False):
            if key_fingerprint(key) == fingerprint:
                return f"from {name}"
        return ""

    def _trusted_keys(self, root: SigstoreTrustRoot) -> str:
        from trustcopy.signature.sigstore_keys import key_fingerprint

        # Every key is counted, even with fewer names than keys (a root built through the API).
        fallback = ", ".join(self.key_sources()[:_SHOWN_KEYS])
        names = [*root.key_names[:len(root.public_keys)]]
        names += [fallback] * (len(root.public_keys) - len(names))
        shown = ", ".join(f"{key_fingerprint(k)} (from {n})"
                          for k, n in zip(root.public_keys[:_SHOWN_KEYS], names, strict=False))
        more = len(root.public_keys) - _SHOWN_KEYS
        return shown + (f" and {more} more" if more > 0 else "")

    def _trusted_roots(self, root: SigstoreTrustRoot) -> str:
        certs = root.fulcio.roots if root.fulcio is not None else root.pki.roots if root.pki is not None else ()
        if self.fulcio is not None:
            where = f"caPath {self.fulcio.ca_path}" if self.fulcio.ca_path else "fulcio.caData"
        elif self.pki is not None:
            where = f"caRootsPath {self.pki.ca_roots_path}" if self.pki.ca_roots_path else "pki.caRootsData"
        else:
            where = "?"
        shown = ", ".join(repr(c.subject.rfc4514_string()) for c in certs[:4])
        more = f" and {len(certs) - 4} more" if len(certs) > 4 else ""
        return f"{shown}{more} (from {where})"

    def _rekor_source(self) -> str:
        if self.rekor_public_key_path is not None:
            return f"rekorPublicKeyPath {self.rekor_public_key_path}"
        if self.rekor_public_key_paths is not None:
            paths = self.rekor_public_key_paths
            more = f" and {len(paths) - _SHOWN_KEYS} more" if len(paths) > _SHOWN_KEYS else ""
            return f"rekorPublicKeyPaths {', '.join(paths[:_SHOWN_KEYS])}{more}"
        return "rekorPublicKeyData" if self.rekor_public_key_data is not None else "rekorPublicKeyDatas"

    def _unsigned(self, image: UnparsedImage) -> None:
        """The identity rule for a Sigstore bundle naming only a digest (docs/policy.md, "Sigstore bundles").

        Only ``matchRepository`` accepts it (for an image that has a Docker reference):
        the exact forms need a signed name, and a digest-only statement has none.

        Raises:
            SignatureVerificationError: reason ``IDENTITY_NOT_SIGNED``.
        """
        from trustcopy.errors import SignatureVerificationError
        from trustcopy.policy.identity import MatchRepository

        if isinstance(self.signed_identity, MatchRepository) and image.reference.docker_reference() is not None:
            return
        raise SignatureVerificationError(
            f"the Sigstore bundle signs only the manifest digest, no image name, so signedIdentity "
            f"{self.signed_identity.type_name} cannot be satisfied; expected "
            f"{self.signed_identity.expected(image.reference)}; "
            '"signedIdentity": {"type": "matchRepository"} accepts digest-only signatures',
            reason=Reason.IDENTITY_NOT_SIGNED,
        )

    def _with_repository_hint(self, result: SigResult) -> SigResult:
        """Cosign signs only the repository: say so when an exact identity rule rejected such a claim."""
        from trustcopy.errors import InvalidReferenceError
        from trustcopy.reference import parse_normalized_named

        claimed = result.info.claimed_identity if result.info else None
        if result.reason is not Reason.IDENTITY_MISMATCH or not claimed or self.signed_identity.type_name not in (
                "matchRepoDigestOrExact", "matchExact", "remapIdentity", "exactReference"):
            return result
        try:
            ref = parse_normalized_named(claimed)
        except (InvalidReferenceError, ValueError):
            return result
        if not ref.is_name_only:
            return result
        # exactReference pins a name whatever the image is called (a mirror, a dir:): its
        # repository-only counterpart is exactRepository; matchRepository would compare the
        # image's own name instead.
        use = ('{"type": "matchRepository"}' if not isinstance(self.signed_identity, ExactReference) else
               json.dumps({"type": "exactRepository",
                           "dockerRepository": parse_normalized_named(self.signed_identity.docker_reference).name}))
        hint = (f" (the signature names only a repository, as cosign writes it; {self.signed_identity.type_name} "
                f'needs a tag or digest: use "signedIdentity": {use} for cosign signatures)')
        return dataclasses.replace(result, message=result.message + hint)

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Allowed when at least one sigstore signature attachment is accepted."""
        from trustcopy.signature.formats import SigstoreSignature

        parsed = indexed_signatures(image)
        if isinstance(parsed, ImageResult):
            return parsed
        results: list[SigResult] = []
        other_formats = 0
        skipped: list[str] = []
        for index, sig in parsed:
            if not isinstance(sig, SigstoreSignature):
                other_formats += 1
            elif sig.untrusted_mime_type not in SIGNATURE_MIME_TYPES:
                where = f" at {sig.location}" if sig.location else ""
                skipped.append(f"{index}{where}: {sig.untrusted_mime_type[:100]!r}")
            else:
                results.append(self.verify(image, sig, index, env))
        none_message = NO_SIGNATURE_MESSAGE
        if other_formats or skipped:
            # Name each skipped attachment's type: an attestation or SBOM where a signature
            # was expected is the usual cause (cosign attest instead of cosign sign).
            none_message += (f" ({other_formats} non-sigstore signatures, "
                             f"{len(skipped)} sigstore non-signature attachments)")
            if skipped:
                none_message += (f" (not signatures: {'; '.join(skipped[:4])}{' …' if len(skipped) > 4 else ''}; "
                                 f"only {SIGSTORE_SIGNATURE_MIME_TYPE} and Sigstore bundles are signatures)")
        if not results:
            none_message = no_signature_message(image, none_message) + _only_the_list_is_signed(image)
        return summarize(results, none_message)


def _attached_certificate(sig: SigstoreSignature) -> str:
    """``certificate for EMAILS/HOSTS (OIDC issuer I) issued by 'DN'`` of a cosign attachment, or "".

    Read from the (untrusted) annotation only to name it in a message; a certificate that
    does not parse is named by nothing.
    """
    from trustcopy.errors import SignatureError
    from trustcopy.signature.sigstore_x509 import CERTIFICATE_ANNOTATION, OID_ISSUER_V1, OID_ISSUER_V2, emails

    pem = sig.untrusted_annotations.get(CERTIFICATE_ANNOTATION) if sig.untrusted_annotations else None
    if not pem:
        return ""
    try:
        from cryptography import x509

        from trustcopy.signature.sigstore_x509 import attached_certificates, fulcio_issuer

        leaf, _ = attached_certificates(pem.encode("utf-8"), None)
        san = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.17")).value if any(
            e.oid.dotted_string == "2.5.29.17" for e in leaf.extensions) else None
        names = emails(leaf) + ([] if san is None else list(san.get_values_for_type(x509.DNSName)))
        has_issuer = any(e.oid.dotted_string in (OID_ISSUER_V1, OID_ISSUER_V2) for e in leaf.extensions)
        issuer = f", OIDC issuer {_shown(fulcio_issuer(leaf))}" if has_issuer else ""
        # Untrusted text: each name quoted (repr escapes newlines and terminal escapes, which
        # would otherwise forge lines in a CI log), a few names shown, each clipped.
        shown = ", ".join(_shown(n) for n in names[:_SHOWN_NAMES])
        if len(names) > _SHOWN_NAMES:
            shown += f" and {len(names) - _SHOWN_NAMES} more"
        return (f"certificate for {shown or 'no e-mail or host name'}{issuer}, issued by "
                f"{_shown(leaf.issuer.rfc4514_string())}")
    except (SignatureError, ValueError, UnicodeError):
        return ""


def _shown(text: str) -> str:
    """Untrusted text for a message: quoted with repr (control characters escaped), clipped."""
    return repr(text[:_NAME_CHARS] + ("…" if len(text) > _NAME_CHARS else ""))


def _only_the_list_is_signed(image: UnparsedImage) -> str:
    """The explanation for an unsigned instance of a list that carries sigstore signatures, or "".

    containers/image (and so trustcopy) checks the policy for each instance it copies;
    cosign signs only the list unless given ``--recursive``. The list's signatures are
    read here only to say so: they are never verified, and never accept anything.
    """
    import logging

    from trustcopy.errors import TrustcopyError
    from trustcopy.signature.formats import SigstoreSignature

    parent = image.manifest_list
    if image.instance_digest is None or parent is None:
        return ""
    try:
        count = sum(1 for sig in parent.signatures()
                    if isinstance(sig, SigstoreSignature) and sig.untrusted_mime_type in SIGNATURE_MIME_TYPES)
        digest = parent.manifest_digest()
    except TrustcopyError as exc:  # only an explanation is lost: the instance is rejected anyway
        logging.getLogger("trustcopy.policy").debug("reading the signatures of the manifest list failed: %s", exc)
        return ""
    if not count:
        return ""
    return (f"; only its manifest list {digest} carries sigstore signatures ({count}): the policy is checked "
            "for each instance, as containers/image does, so signatures on the list alone (cosign sign "
            "without --recursive) do not cover its images; sign every instance (cosign sign --recursive)")
