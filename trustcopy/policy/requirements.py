"""The requirement types and how each one evaluates an image or a signature.

Each requirement answers two questions (containers/image ``PolicyRequirement``):
``is_image_allowed`` (may this image be used at all?) and ``is_signature_accepted`` (is
this one signature by a trusted author?). Both return result objects carrying a stable
reason code; neither raises for a plain rejection. Errors reading the image itself
(a registry going away mid-evaluation) propagate: nothing is accepted on an exception.

``signedBy`` keeps containers/image's order: crypto → key identity → manifest digest →
signed identity (the first two in signature/simple.py, the last two through the callbacks
given to it). Only simple-signing signatures are considered by ``signedBy``; only
sigstore ones by ``sigstoreSigned`` (policy/sigstore_requirement.py).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from trustcopy.errors import SignatureError, SignatureVerificationError
from trustcopy.lazy import dataclass
from trustcopy.policy.identity import IdentityMatcher, MatchRepoDigestOrExact
from trustcopy.policy.model import (
    EvalResources,
    ImageResult,
    KeyLoadError,
    PolicySpecError,
    Requirement,
    SignatureInfo,
    SigResult,
    SigStatus,
)
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.signature.formats import Signature, SigstoreSignature, SimpleSigning
    from trustcopy.signature.verified import VerifiedSignature

#: keyType values containers/image recognizes; only GPGKeys is implemented anywhere.
KNOWN_KEY_TYPES = ("GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs")
NO_SIGNATURE_MESSAGE = "A signature was required, but no signature exists"
#: How many trusted fingerprints an "unknown key" rejection lists.
_SHOWN_KEYS = 8


@dataclass(frozen=True)
class InsecureAcceptAnything(Requirement):
    """Accepts every image; never makes a signature accepted."""

    type_name: ClassVar[str] = "insecureAcceptAnything"

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Always allowed, without looking at the image."""
        return ImageResult(True, Reason.ACCEPT_ANYTHING, "insecureAcceptAnything allows any image")

    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """No opinion: this requirement does not deal with signatures."""
        return SigResult(SigStatus.UNKNOWN)

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name}


@dataclass(frozen=True)
class Reject(Requirement):
    """Rejects every image and every signature."""

    type_name: ClassVar[str] = "reject"

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Never allowed."""
        return ImageResult(False, Reason.SCOPE_REJECT, f"Running image {image.reference} is rejected by policy.")

    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """Never accepted."""
        return SigResult(
            SigStatus.REJECTED, Reason.SCOPE_REJECT,
            f"Any signatures for image {image.reference} are rejected by policy.",
        )

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name}


T = TypeVar("T")


def check_path(value: object, name: str) -> str:
    """A non-empty path string."""
    if not isinstance(value, str):
        raise PolicySpecError("expected a string", (name,))
    if not value:
        raise PolicySpecError("must not be empty", (name,))
    return value


def check_list(value: object, name: str, item: Callable[[object, str], T], what: str,
               empty: str = "must not be an empty list") -> tuple[T, ...]:
    """A non-empty list whose items each pass ``item``; errors name the failing index."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise PolicySpecError(f"expected a list of {what}", (name,))
    if not value:
        raise PolicySpecError(empty, (name,))
    out: list[T] = []
    for i, entry in enumerate(value):
        try:
            out.append(item(entry, name))
        except PolicySpecError as exc:
            raise PolicySpecError(exc.message, (name, i)) from None
    return tuple(out)


def check_paths(value: object, name: str) -> tuple[str, ...]:
    """A non-empty list of non-empty path strings."""
    return check_list(value, name, check_path, "strings")


def check_data(value: object, name: str) -> bytes:
    """Non-empty bytes (key material given inline)."""
    if not isinstance(value, (bytes, bytearray)):
        raise PolicySpecError("expected bytes", (name,))
    if not value:
        raise PolicySpecError("must not be empty", (name,))
    return bytes(value)


def check_identity(value: object, name: str) -> IdentityMatcher:
    """An identity matcher object."""
    if not isinstance(value, IdentityMatcher):
        raise PolicySpecError(f"expected a signedIdentity matcher, not {type(value).__name__}", (name,))
    return value


def count_given(*values: object) -> int:
    """How many of ``values`` are set (not None)."""
    return sum(v is not None for v in values)


@dataclass(frozen=True)
class SignedBy(Requirement):
    """A simple-signing signature by one of the named GPG keys, for an accepted identity.

    Exactly one of ``key_path``, ``key_paths`` and ``key_data`` is given. Only
    ``key_type="GPGKeys"`` is implemented; the other values containers/image knows load
    (its sample policy.json uses them) and reject every signature with its message,
    ``Unimplemented "keyType" value "…"``, as containers/image does. ``policy lint`` warns.
    """

    type_name: ClassVar[str] = "signedBy"
    verifies_signatures: ClassVar[bool] = True
    key_type: str = "GPGKeys"
    key_path: str | None = None
    key_paths: tuple[str, ...] | None = None
    key_data: bytes | None = field(default=None, repr=False)
    signed_identity: IdentityMatcher = field(default_factory=MatchRepoDigestOrExact)
    #: Only ``sigstoreSigned`` has ``keyDatas``; the key loader reads both kinds alike.
    key_datas: ClassVar[None] = None

    def __post_init__(self) -> None:
        if not isinstance(self.key_type, str) or self.key_type not in KNOWN_KEY_TYPES:
            raise PolicySpecError(f"unrecognized keyType value {self.key_type!r} (use \"GPGKeys\")", ("keyType",))
        given = count_given(self.key_path, self.key_paths, self.key_data)
        if given != 1:
            which = "none of them present" if given == 0 else "more than one present"
            raise PolicySpecError(f"exactly one of keyPath, keyPaths and keyData must be specified, {which}")
        if self.key_path is not None:
            check_path(self.key_path, "keyPath")
        if self.key_paths is not None:
            object.__setattr__(self, "key_paths", check_paths(self.key_paths, "keyPaths"))
        if self.key_data is not None:
            object.__setattr__(self, "key_data", check_data(self.key_data, "keyData"))
        check_identity(self.signed_identity, "signedIdentity")

    def key_sources(self) -> list[str]:
        """Human names of where the keys come from (paths, or "keyData")."""
        if self.key_path is not None:
            return [self.key_path]
        if self.key_paths is not None:
            return list(self.key_paths)
        return ["keyData"]

    def describe(self) -> str:
        """Type, key sources and identity rule."""
        key_type = "" if self.key_type == "GPGKeys" else f"keyType: {self.key_type}; "
        return (f"signedBy ({key_type}keys: {', '.join(self.key_sources())}; "
                f"signedIdentity: {self.signed_identity.type_name})")

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        out: dict[str, Any] = {"type": self.type_name, "keyType": self.key_type}
        if self.key_path is not None:
            out["keyPath"] = self.key_path
        if self.key_paths is not None:
            out["keyPaths"] = list(self.key_paths)
        if self.key_data is not None:
            out["keyData"] = base64.b64encode(self.key_data).decode("ascii")
        out["signedIdentity"] = self.signed_identity.to_json()
        return out

    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """Verify one signature (index 1 in the trace); only simple signing can be accepted."""
        from trustcopy.signature.formats import SimpleSigning

        if not isinstance(sig, SimpleSigning):
            check = SignatureCheck(self.signed_identity, image, 1, sig)
            message = f"signedBy accepts only simple signing, not {sig.format_id}"
            return SigResult(SigStatus.REJECTED, Reason.UNSUPPORTED_FORMAT, message, info=check.info())
        return self.verify_simple(image, sig, 1, env)

    def verify_simple(self, image: UnparsedImage, sig: SimpleSigning, index: int, env: EvalResources) -> SigResult:
        """Verify a parsed simple-signing signature (``sig``), recording what it claimed."""
        from trustcopy.signature.simple import verify_simple_signing

        check = SignatureCheck(self.signed_identity, image, index, sig)
        if self.key_type != "GPGKeys":  # c/i: checked first, for every signature
            return SigResult(SigStatus.REJECTED, Reason.NOT_IMPLEMENTED,
                             f'Unimplemented "keyType" value "{self.key_type}"', info=check.info())
        try:
            keyring = env.gpg_keyring(self)
        except KeyLoadError as exc:
            return SigResult(SigStatus.REJECTED, Reason.KEY_LOAD_FAILED, str(exc), info=check.info())
        if not keyring.fingerprints:
            return SigResult(SigStatus.REJECTED, Reason.KEY_LOAD_FAILED, "No public keys imported", info=check.info())
        result = check.run(functools.partial(verify_simple_signing, sig, keyring))
        if result.reason is Reason.UNKNOWN_KEY:
            # Which keys *were* trusted: the usual fix is a keyPath naming the wrong file.
            trusted = ", ".join(sorted(keyring.fingerprints)[:_SHOWN_KEYS])
            more = f" and {len(keyring.fingerprints) - _SHOWN_KEYS} more" if len(
                keyring.fingerprints) > _SHOWN_KEYS else ""
            sources = self.key_sources()
            files = ", ".join(sources[:_SHOWN_KEYS]) + (
                f" and {len(sources) - _SHOWN_KEYS} more" if len(sources) > _SHOWN_KEYS else "")
            result = dataclasses.replace(result, message=f"{result.message}; trusted: {trusted}{more} (from {files})")
        return result

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Allowed when at least one simple-signing signature is accepted."""
        from trustcopy.signature.formats import SimpleSigning

        parsed = indexed_signatures(image)
        if isinstance(parsed, ImageResult):
            return parsed
        results = [
            self.verify_simple(image, sig, index, env)
            for index, sig in parsed
            if isinstance(sig, SimpleSigning)
        ]
        others = len(parsed) - len(results)
        none_message = NO_SIGNATURE_MESSAGE
        if others:
            none_message += f" ({others} sigstore signatures, which only sigstoreSigned verifies)"
        return summarize(results, none_message if results else no_signature_message(image, none_message))


def validate_signed_digest(image: UnparsedImage, digest: Digest) -> None:
    """The callback both signature kinds use: the signed digest must match the manifest.

    Only the manifest's sha256 digest matches: containers/image (5.23 and the newest)
    compares the claim with ``manifest.Digest``, always sha256, so a signature claiming the
    manifest's sha512 digest is rejected there, and so it is here (skopeo and podman would
    refuse the image we let through otherwise).

    A manifest whose digest cannot be computed (a signed schema1 manifest with malformed
    signatures) matches no signature: this signature is rejected, as containers/image's
    ``sarRejected`` for "Error computing manifest digest". Errors *reading* the manifest
    still propagate (see the module docstring).

    Raises:
        SignatureVerificationError: reason DIGEST_MISMATCH, naming both digests.
    """
    from trustcopy.errors import ManifestError
    from trustcopy.manifest.digest import manifest_digest

    raw, _mime = image.manifest()
    try:
        matches = manifest_digest(raw) == digest
    except ManifestError as exc:
        raise SignatureVerificationError(
            f"Signature for digest {digest} cannot be checked: the digest of the manifest of "
            f"{image.reference} cannot be computed: {exc.message}",
            reason=Reason.DIGEST_MISMATCH,
            context={"claimed_digest": str(digest)},
        ) from None
    if not matches:
        raise SignatureVerificationError(
            f"Signature for digest {digest} does not match: the manifest of {image.reference} "
            f"has digest {image.manifest_digest()}",
            reason=Reason.DIGEST_MISMATCH,
            context={"claimed_digest": str(digest)},
        )


class SignatureCheck:
    """One signature's checks for a signature-verifying requirement, and what its trace records.

    ``signedBy`` and ``sigstoreSigned`` hand :meth:`validate_digest` and
    :meth:`validate_identity` to their verifier as its two callbacks; both record what
    the (still untrusted) payload claimed, so that a rejection's trace shows it.
    """

    def __init__(self, identity: IdentityMatcher, image: UnparsedImage, index: int, sig: Signature) -> None:
        self._identity = identity
        self._image = image
        self._index = index
        self._sig = sig
        self.expected = identity.expected(image.reference)
        self.claims: dict[str, str] = {}

    def info(self, fingerprint: str | None = None) -> SignatureInfo:
        """The trace facts known so far."""
        return SignatureInfo(self._index, self._sig.format_id, fingerprint, self.claims.get("identity"),
                             self.claims.get("digest"), self.expected, self._sig.location)

    def validate_digest(self, digest: Digest) -> None:
        """The verifier's digest callback: the signed digest must be the image's manifest's."""
        self.claims["digest"] = str(digest)
        validate_signed_digest(self._image, digest)

    def validate_identity(self, signed: str) -> None:
        """The verifier's identity callback: the signedIdentity rule must accept the claim."""
        self.claims["identity"] = signed
        match = self._identity.matches(self._image.reference, signed)
        if not match.ok:
            raise SignatureVerificationError(
                f"Signature for identity {json.dumps(signed)} is not accepted: {match.reason}; "
                f"expected {self.expected}",
                reason=Reason.IDENTITY_MISMATCH,
                context={"claimed_identity": signed, "expected_identity": self.expected},
            )

    def run(self, verify: Callable[..., VerifiedSignature | None]) -> SigResult:
        """Call a verifier with this check's two callbacks; its outcome as a result (never raises)."""
        try:
            verified = verify(validate_signed_docker_reference=self.validate_identity,
                              validate_signed_docker_manifest_digest=self.validate_digest)
        except SignatureError as exc:
            return self.rejected(exc)
        return self.accepted(verified)

    def rejected(self, exc: SignatureError) -> SigResult:
        """The result for a failed verification (the signer is named when the crypto held)."""
        value = exc.context.get("key_fingerprint") or exc.context.get("fingerprint")
        fingerprint = value if isinstance(value, str) else None
        reason = exc.reason if isinstance(exc, SignatureVerificationError) else Reason.INVALID_SIGNATURE
        return SigResult(SigStatus.REJECTED, reason, exc.message, info=self.info(fingerprint))

    def accepted(self, verified: VerifiedSignature | None) -> SigResult:
        """The result for a verifier that returned; one that returned nothing is inconsistent."""
        if verified is None:  # a verifier must return the verified object or raise
            return SigResult(SigStatus.REJECTED, Reason.INTERNAL_INCONSISTENCY,
                             "internal error: verification succeeded but returned no data", info=self.info())
        return SigResult(
            SigStatus.ACCEPTED,
            Reason.SIGNATURE_VERIFIED,
            f"signed by key {verified.key_fingerprint} for {verified.docker_reference}",
            signature=verified,
            info=self.info(verified.key_fingerprint),
        )


def indexed_signatures(image: UnparsedImage) -> list[tuple[int, SimpleSigning | SigstoreSignature]] | ImageResult:
    """The image's signatures with their 1-based indexes, or the rejection for an unreadable one.

    One blob no verifier understands makes the image rejected, as in containers/image,
    where it fails reading the image's signatures altogether: a valid signature next to
    garbage is not enough.
    """
    from trustcopy.signature.formats import UnknownSignature

    out: list[tuple[int, SimpleSigning | SigstoreSignature]] = []
    for index, sig in enumerate(image.signatures(), start=1):
        if isinstance(sig, UnknownSignature):
            info = SignatureInfo(index, sig.format_id, location=sig.location)
            result = SigResult(SigStatus.REJECTED, Reason.UNSUPPORTED_FORMAT, sig.reason, info=info)
            where = f" ({sig.location})" if sig.location else ""
            return ImageResult(False, Reason.UNSUPPORTED_FORMAT,
                               f"signature {index}{where} cannot be parsed: {sig.reason}", (result,))
        out.append((index, sig))
    return out


def no_signature_message(image: UnparsedImage, base: str) -> str:
    """``base`` (c/i's "no signature exists" sentence), then the digest and where the source looked.

    An unsigned image is the commonest CI rejection, and its usual cause is not the image
    but the configuration: a registries.d section that sends the lookup to another store,
    signatures made for another digest (a tag moved after signing). Naming the manifest
    digest and the place searched makes that visible. Decoration only: a failure to work
    it out leaves ``base`` alone.
    """
    from trustcopy.errors import TrustcopyError

    try:
        digest = image.manifest_digest()
        where = image.signature_search()
    except TrustcopyError:
        return base
    return f"{base} for manifest {digest}" + (f"; {where}" if where else "")


def summarize(results: Sequence[SigResult], none_message: str) -> ImageResult:
    """Combine per-signature results: one accepted signature is enough (c/i wording)."""
    for result in results:
        if result.status is SigStatus.ACCEPTED and result.signature is not None:
            index = result.info.index if result.info else "?"
            message = f"signature {index} accepted: {result.message}"
            return ImageResult(True, Reason.SIGNATURE_VERIFIED, message, tuple(results))
    if not results:
        return ImageResult(False, Reason.NO_SIGNATURES, none_message)
    reasons = [_failure(r) for r in results]
    codes = {code for code, _ in reasons}
    if len(results) == 1:
        info = results[0].info
        where = f" (signature {info.index} at {info.location})" if info is not None and info.location else ""
        return ImageResult(False, reasons[0][0], reasons[0][1] + where, tuple(results))
    code = codes.pop() if len(codes) == 1 else Reason.SIGNATURES_REJECTED
    text = "; ".join(f"signature {_index(r)}: {msg}{_at(r)}" for r, (_, msg) in zip(results, reasons, strict=True))
    return ImageResult(False, code, f"None of the signatures were accepted, reasons: {text}", tuple(results))


def _index(result: SigResult) -> str:
    return str(result.info.index) if result.info is not None else "?"


def _at(result: SigResult) -> str:
    """`` (at LOCATION)``: where the transport found the signature (a lookaside URL, a file), if known."""
    return f" (at {result.info.location})" if result.info is not None and result.info.location else ""


def _failure(result: SigResult) -> tuple[Reason, str]:
    if result.status is SigStatus.REJECTED:
        return result.reason or Reason.INVALID_SIGNATURE, result.message or "signature rejected"
    # ACCEPTED without a payload, or UNKNOWN: impossible for a signature-verifying requirement.
    return (Reason.INTERNAL_INCONSISTENCY,
            f"Internal error: Unexpected signature verification result {result.status.value!r}")


@dataclass(frozen=True)
class SignedBaseLayer(Requirement):
    """Parsed for compatibility; like containers/image, it rejects every image."""

    type_name: ClassVar[str] = "signedBaseLayer"
    base_layer_identity: IdentityMatcher = field(default_factory=MatchRepoDigestOrExact)

    def __post_init__(self) -> None:
        check_identity(self.base_layer_identity, "baseLayerIdentity")

    def is_image_allowed(self, image: UnparsedImage, env: EvalResources) -> ImageResult:
        """Never allowed: not implemented in containers/image either."""
        return ImageResult(
            False, Reason.NOT_IMPLEMENTED, "signedBaseLayer not implemented yet! (containers/image rejects it too)"
        )

    def is_signature_accepted(self, image: UnparsedImage, sig: Signature, env: EvalResources) -> SigResult:
        """No opinion on signatures."""
        return SigResult(SigStatus.UNKNOWN)

    def to_json(self) -> dict[str, Any]:
        """The policy.json form."""
        return {"type": self.type_name, "baseLayerIdentity": self.base_layer_identity.to_json()}
