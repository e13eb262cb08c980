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
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar

from trustcopy.lazy import dataclass
from trustcopy.policy.identity import IdentityMatcher, MatchRepoDigestOrExact
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

#: The MIME type of a cosign signature attachment; other sigstore attachments are skipped.
SIGSTORE_SIGNATURE_MIME_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
#: What this requirement verifies: cosign attachments and Sigstore bundles (cosign v3).
SIGNATURE_MIME_TYPES = (SIGSTORE_SIGNATURE_MIME_TYPE, "application/vnd.dev.sigstore.bundle.v0.3+json",
                        "application/vnd.dev.sigstore.bundle+json;version=0.3")


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
        return self._with_repository_hint(result)

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
                "matchRepoDigestOrExact", "matchExact", "remapIdentity"):
            return result
        try:
            ref = parse_normalized_named(claimed)
        except (InvalidReferenceError, ValueError):
            return result
        if not ref.is_name_only:
            return result
        hint = (f" (the signature names only a repository, as cosign writes it; {self.signed_identity.type_name} "
                'needs a tag or digest: use "signedIdentity": {"type": "matchRepository"} for cosign signatures)')
        return dataclasses.replace(result, message=result.message + hint)

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Allowed when at least one sigstore signature attachment is accepted."""
        from trustcopy.signature.formats import SigstoreSignature

        parsed = indexed_signatures(image)
        if isinstance(parsed, ImageResult):
            return parsed
        results: list[SigResult] = []
        other_formats = non_attachments = 0
        for index, sig in parsed:
            if not isinstance(sig, SigstoreSignature):
                other_formats += 1
            elif sig.untrusted_mime_type not in SIGNATURE_MIME_TYPES:
                non_attachments += 1
            else:
                results.append(self.verify(image, sig, index, env))
        none_message = NO_SIGNATURE_MESSAGE
        if other_formats or non_attachments:
            none_message += (f" ({other_formats} non-sigstore signatures, "
                             f"{non_attachments} sigstore non-signature attachments)")
        if not results:
            none_message = no_signature_message(image, none_message) + _only_the_list_is_signed(image)
        return summarize(results, none_message)


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
