"""PolicyContext: evaluate a policy for images, with per-context caches.

Usage (the copy pipeline's contract)::

    with PolicyContext(policy, require_signed=False) as pc:
        verdict = pc.evaluate(unparsed)   # Verdict; never raises for a plain rejection
        pc.check(unparsed)                # Verdict if allowed, else raises PolicyRejected

Invariants:
- Fail closed: ``allowed`` is True only when every requirement of the matched scope
  allowed the image (and, with ``require_signed``, one of them verified a signature).
  An exception during evaluation propagates; it is never turned into acceptance.
- Trust roots (GPG keyrings in ephemeral GNUPGHOMEs holding only the policy's keys,
  sigstore public keys) are built once per requirement and live exactly as long as the
  context; ``close()`` removes them. Nothing is global.
- ``accepted_signatures`` follows containers/image's ``GetSignaturesWithAcceptedAuthor``:
  a signature counts only if some requirement accepted it and none rejected it, and any
  inconsistent answer (UNKNOWN with an error, ACCEPTED without a payload, two different
  payloads) rejects it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import trustcopy.liblog  # noqa: F401 (a NullHandler: the library prints nothing on its own)
from trustcopy.errors import LimitExceededError, SignatureError
from trustcopy.limits import MAX_KEY_FILE, read_file_at_most
from trustcopy.policy.model import KeyLoadError, Policy, Requirement, SigStatus
from trustcopy.policy.scopes import requirements_for
from trustcopy.policy.verdict import RequirementResult, Verdict, signature_results

if TYPE_CHECKING:
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.policy.requirements import SignedBy
    from trustcopy.policy.sigstore_requirement import SigstoreSigned
    from trustcopy.signature.formats import Signature
    from trustcopy.signature.gpg import GPGKeyring, KeyringCache
    from trustcopy.signature.sigstore import SigstoreTrustRoot
    from trustcopy.signature.verified import VerifiedSignature

_Root = TypeVar("_Root")


def load_key_material(requirement: SignedBy | SigstoreSigned) -> list[bytes]:
    """The key bytes a ``signedBy`` or key-based ``sigstoreSigned`` requirement names (bounded).

    Raises:
        KeyLoadError: a key file is missing, unreadable, not regular, or too large.
    """
    if requirement.key_data is not None:
        return [requirement.key_data]
    if requirement.key_datas is not None:
        return list(requirement.key_datas)
    paths = [requirement.key_path] if requirement.key_path is not None else list(requirement.key_paths or ())
    out: list[bytes] = []
    for path in paths:
        try:
            out.append(read_file_at_most(path, MAX_KEY_FILE, f"key file {path}"))
        except LimitExceededError as exc:
            raise KeyLoadError(f"cannot read key file {path!r}: {exc.message}") from None
        except OSError as exc:
            raise KeyLoadError(f"cannot read key file {path!r}: {exc.strerror or exc}") from None
    return out


def _key_names(requirement: SignedBy | SigstoreSigned, count: int) -> list[str]:
    """How errors name each key of a requirement: its path, or its place in the policy."""
    if requirement.key_path is not None or requirement.key_paths is not None:
        return requirement.key_sources()
    if count == 1 and requirement.key_data is not None:
        return ["keyData"]
    return [f"keyDatas[{i}]" for i in range(count)]


class PolicyContext:
    """A policy plus the caches needed to evaluate it; use as a context manager.

    Args:
        policy: the loaded policy.
        require_signed: refuse images whose matched requirements verify no signature
            (skopeo's ``--require-signed``), even if the policy would allow them.
    """

    def __init__(self, policy: Policy, *, require_signed: bool = False) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"PolicyContext needs a Policy, not {type(policy).__name__}")
        self.policy = policy
        self.require_signed = bool(require_signed)
        # Trust roots by (kind, requirement): a built root, or the KeyLoadError building it
        # raised (cached too: every signature checked with that requirement fails the same way).
        self._roots: dict[tuple[str, Requirement], object] = {}
        self._cache: KeyringCache | None = None
        self._lock = threading.Lock()  # copies may evaluate instances from several threads
        self._closed = False

    def __enter__(self) -> PolicyContext:
        """Enter: the context is usable until exit."""
        self._check_open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Exit: remove every temporary keyring."""
        self.close()

    def close(self) -> None:
        """Release keyrings and temporary GNUPGHOMEs; the context cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        self._roots.clear()
        cache, self._cache = self._cache, None
        if cache is not None:
            cache.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("PolicyContext used after close()")

    # EvalResources: trust roots, typed, one per requirement and context -------------

    def gpg_keyring(self, requirement: SignedBy) -> GPGKeyring:
        """The keyring for a ``signedBy`` requirement, built once per context.

        Raises:
            KeyLoadError: the keys cannot be read or imported (cached: every signature
                evaluated with this requirement is rejected the same way).
        """
        return self._trust_root("gpg", requirement, self._build_keyring)

    def sigstore_trust_root(self, requirement: SigstoreSigned) -> SigstoreTrustRoot:
        """The trust root of a ``sigstoreSigned`` requirement, built once per context.

        Raises:
            KeyLoadError: a key cannot be read or is not a public key (cached).
        """
        return self._trust_root("sigstore", requirement, self._build_sigstore_root)

    def _trust_root(self, kind: str, requirement: Requirement, build: Callable[[Any], _Root]) -> _Root:
        self._check_open()
        key = (kind, requirement)
        with self._lock:
            if key not in self._roots:
                try:
                    self._roots[key] = build(requirement)
                except KeyLoadError as exc:
                    self._roots[key] = exc
            root = self._roots[key]
        if isinstance(root, KeyLoadError):
            raise root
        return cast("_Root", root)

    def _build_keyring(self, requirement: SignedBy) -> GPGKeyring:
        material = load_key_material(requirement)
        if self._cache is None:
            from trustcopy.signature.gpg import KeyringCache

            self._cache = KeyringCache()
        try:
            return self._cache.get(material)
        except SignatureError as exc:
            detail = "No public keys imported" if exc.code == "no-public-keys" else exc.message
            raise KeyLoadError(f"cannot import the keys of {requirement.describe()}: {detail}") from None

    def _build_sigstore_root(self, requirement: SigstoreSigned) -> SigstoreTrustRoot:
        """Keys, Rekor keys, Fulcio or PKI roots of a ``sigstoreSigned`` requirement, parsed once."""
        from trustcopy.signature.sigstore import SigstoreTrustRoot, load_public_keys
        from trustcopy.signature.sigstore_rekor import load_rekor_keys
        from trustcopy.signature.sigstore_x509 import FulcioRoot, PKIRoot, load_roots

        def read(path: str | None, data: bytes | None, what: str) -> bytes | None:
            if data is not None:
                return bytes(data)
            if path is None:
                return None
            try:
                return read_file_at_most(path, MAX_KEY_FILE, f"{what} {path}")
            except LimitExceededError as exc:
                raise KeyLoadError(f"cannot read {what} {path!r}: {exc.message}") from None
            except OSError as exc:
                raise KeyLoadError(f"cannot read {what} {path!r}: {exc.strerror or exc}") from None

        try:
            rekor_paths = ([requirement.rekor_public_key_path] if requirement.rekor_public_key_path is not None
                           else list(requirement.rekor_public_key_paths or ()))
            rekor_datas = ([requirement.rekor_public_key_data] if requirement.rekor_public_key_data is not None
                           else list(requirement.rekor_public_key_datas or ()))
            rekor_material = [read(p, None, "Rekor public key file") or b"" for p in rekor_paths] + rekor_datas
            rekor_names = rekor_paths or [f"rekorPublicKeyData[{i}]" for i in range(len(rekor_datas))]
            rekor = load_rekor_keys(rekor_material, rekor_names)
            if (fspec := requirement.fulcio) is not None:
                if fspec.oidc_issuer is None or fspec.subject_email is None:  # FulcioSpec refuses this
                    raise KeyLoadError("fulcio: oidcIssuer and subjectEmail are required")
                ca = read(fspec.ca_path, fspec.ca_data, "Fulcio CA file") or b""
                fulcio = FulcioRoot(load_roots(ca, fspec.ca_path or "fulcio caData"), fspec.oidc_issuer,
                                    fspec.subject_email)
                return SigstoreTrustRoot("fulcio", rekor_keys=rekor, fulcio=fulcio)
            if (pspec := requirement.pki) is not None:
                roots = read(pspec.ca_roots_path, pspec.ca_roots_data, "PKI CA roots file") or b""
                inter = read(pspec.ca_intermediates_path, pspec.ca_intermediates_data, "PKI intermediates file")
                pki = PKIRoot(load_roots(roots, pspec.ca_roots_path or "pki caRootsData"),
                              () if inter is None else load_roots(inter, pspec.ca_intermediates_path
                                                                  or "pki caIntermediatesData"),
                              pspec.subject_email, pspec.subject_hostname)
                return SigstoreTrustRoot("pki", pki=pki)
            material = load_key_material(requirement)
            return load_public_keys(material, _key_names(requirement, len(material)), rekor)
        except SignatureError as exc:
            raise KeyLoadError(f"cannot load the keys of {requirement.describe()}: {exc.message}") from None

    # Evaluation --------------------------------------------------------------------

    def evaluate(self, image: UnparsedImage) -> Verdict:
        """Evaluate the policy for ``image`` and explain the outcome.

        Every requirement of the matched scope is evaluated (for a complete trace); the
        image is allowed only if all of them allow it.

        Returns:
            The verdict; ``verdict.allowed`` says whether the image may be used.

        Raises:
            TrustcopyError: reading the image (manifest, signatures) failed; nothing is
                accepted in that case.
        """
        self._check_open()
        match = requirements_for(self.policy, image.reference)
        results: list[RequirementResult] = []
        for index, req in enumerate(match.requirements):
            outcome = req.is_image_allowed(image, self)
            results.append(
                RequirementResult(
                    index=index,
                    type=req.type_name,
                    description=req.describe(),
                    allowed=outcome.allowed is True,
                    reason=outcome.reason,
                    message=outcome.message,
                    verifies_signatures=req.verifies_signatures,
                    signatures=signature_results(outcome.signatures),
                )
            )
        return Verdict.build(
            image=str(image.reference),
            scope=match,
            requirements=tuple(results),
            require_signed=self.require_signed,
        )

    def check(self, image: UnparsedImage) -> Verdict:
        """Like :meth:`evaluate`, but a rejection raises.

        Raises:
            PolicyRejected: "Source image rejected: …", with the verdict attached.
        """
        verdict = self.evaluate(image)
        if not verdict.allowed:
            raise verdict.rejection()
        return verdict

    def accepted_signatures(self, image: UnparsedImage) -> list[VerifiedSignature]:
        """The simple-signing signatures whose author the policy accepts (may be empty).

        WARNING: an accepted signature does not mean the image is allowed; use
        :meth:`check` for that.

        A blob of no known format (UnknownSignature) is skipped, as c/image's lookaside
        reading (which takes every blob for simple signing) rejects it alone; c/image's
        ``dir:`` reading fails the whole call instead (NOTE(go-diff); only the image-level
        :meth:`evaluate` rejects the image for it, as both do).
        """
        from trustcopy.signature.formats import SimpleSigning

        self._check_open()
        reqs = requirements_for(self.policy, image.reference).requirements
        accepted: list[VerifiedSignature] = []
        for sig in image.signatures():
            if not isinstance(sig, SimpleSigning):
                continue
            verified = self._accepted_by_all(image, sig, reqs)
            if verified is not None:
                accepted.append(verified)
        return accepted

    def _accepted_by_all(self, image: UnparsedImage, sig: Signature, reqs: tuple[Requirement, ...]) -> Any:
        accepted: Any = None
        for req in reqs:
            result = req.is_signature_accepted(image, sig, self)
            if result.status is SigStatus.ACCEPTED:
                if result.signature is None:
                    return None  # inconsistent: accepted without a payload
                if accepted is not None and _fields(accepted) != _fields(result.signature):
                    return None  # inconsistent: two different payloads
                accepted = accepted or result.signature
            elif result.status is SigStatus.REJECTED:
                return None
            elif result.status is SigStatus.UNKNOWN:
                if result.reason or result.message or result.signature is not None:
                    return None  # inconsistent: UNKNOWN with an error or a payload
            else:  # pragma: no cover - enum is closed; fail closed anyway
                return None
        return accepted  # None also for an (impossible) empty list


def _fields(sig: Any) -> tuple[Any, ...]:
    return (str(sig.docker_manifest_digest), sig.docker_reference, sig.key_fingerprint, sig.timestamp, sig.creator)

