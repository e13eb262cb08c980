"""The one evaluation step: which images a copy would take, and the policy's verdict on each.

``copy``, ``policy explain``, ``verify`` and ``sync`` all call :func:`plan_images` and
:func:`evaluate_plan` (or :func:`evaluate_image`, which opens the source itself), so they
can never disagree about what is accepted: on a manifest list every one of them judges
the instances a copy would take (the one chosen for the platform, or all of them with
``--all``/``--multi-arch all``), never the list alone, exactly as containers/image's copy
checks each instance it copies.

Invariants:
- Evaluation reads manifests and signatures only, never a blob.
- A verdict is computed once per planned image; the copy gate reuses it.
- An evaluation is ``allowed`` only when there is at least one planned image and every
  one of them is allowed (fail closed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.digest import Digest
from trustcopy.errors import ManifestError, PolicyRejected, UsageError
from trustcopy.image.unparsed import UnparsedImage
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason
from trustcopy.transports.base import ImageReference, ImageSource
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.manifest.lists import ManifestList


class VerdictLike(Protocol):
    """What the pipeline needs of a verdict: the decision and, when refused, the error."""

    @property
    def allowed(self) -> bool:
        """Whether the image may be used."""

    def rejection(self, where: str = "") -> PolicyRejected:
        """The error to raise for a refused image (``where`` is appended to its message)."""


class PolicyEvaluator(Protocol):
    """What the pipeline needs of a policy (a PolicyContext, or a test double)."""

    def evaluate(self, unparsed: UnparsedImage) -> VerdictLike:
        """Judge one image; never raises for a plain rejection."""


@dataclass(frozen=True)
class Plan:
    """The images a copy of ``toplevel`` would take.

    ``manifest_list`` is None for a single image; then ``images`` is ``[toplevel]``.
    ``platforms`` holds each planned instance's platform (``os/arch[/variant]``), or None.
    """

    toplevel: UnparsedImage
    manifest_list: ManifestList | None
    images: tuple[UnparsedImage, ...]
    platforms: tuple[str | None, ...]
    selection: ImageListSelection

    @property
    def is_list(self) -> bool:
        """Whether the source names a manifest list (an OCI index or a Docker list)."""
        return self.manifest_list is not None


@dataclass(frozen=True)
class PlannedVerdict:
    """One planned image and the policy's verdict on it."""

    image: UnparsedImage
    instance_digest: Digest | None
    platform: str | None
    verdict: Any


@dataclass(frozen=True)
class Evaluation:
    """The verdicts on every image a copy would take, in plan order."""

    image: str
    digest: Digest
    media_type: str
    is_list: bool
    verdicts: tuple[PlannedVerdict, ...]

    @property
    def allowed(self) -> bool:
        """True only if something was planned and the policy allowed all of it."""
        return bool(self.verdicts) and all(v.verdict.allowed for v in self.verdicts)

    @property
    def first_rejected(self) -> PlannedVerdict | None:
        """The first planned image the policy refused, if any."""
        return next((v for v in self.verdicts if not v.verdict.allowed), None)

    def raise_if_rejected(self) -> None:
        """Raise the first refusal's PolicyRejected (naming the instance on a list).

        Raises:
            PolicyRejected: some planned image is not allowed.
        """
        refused = self.first_rejected
        if refused is None:
            return
        where = ""
        if refused.instance_digest is not None:
            platform = f" ({refused.platform})" if refused.platform else ""
            where = f" [instance {refused.instance_digest}{platform} of manifest list {self.image}]"
        raise refused.verdict.rejection(where)

    def to_json(self) -> dict[str, Any]:
        """The machine form (docs/policy.md, "Verdict JSON").

        A single image gives its verdict's JSON, plus ``digest``. A manifest list gives
        the list's digest, the overall decision, and one verdict per planned instance.
        """
        if not self.is_list:
            only = self.verdicts[0]
            return {**only.verdict.to_json(), "digest": str(self.digest)}
        refused = self.first_rejected
        return {
            "schemaVersion": self.verdicts[0].verdict.to_json()["schemaVersion"] if self.verdicts else 1,
            "image": self.image,
            "digest": str(self.digest),
            "manifestList": True,
            "allowed": self.allowed,
            "reason": Reason.ALLOWED if refused is None else refused.verdict.reason,
            "message": ("every planned instance is allowed" if refused is None
                        else f"instance {refused.instance_digest}: {refused.verdict.message}"),
            "instances": [
                {**v.verdict.to_json(), "instanceDigest": str(v.instance_digest), "platform": v.platform}
                for v in self.verdicts
            ],
        }


def plan_images(source: ImageSource, options: CopyOptions) -> Plan:
    """Read the top-level manifest and name the images a copy would take.

    Raises:
        ManifestError: the list is malformed or has no instance for the platform.
        UsageError: ``index-only`` (refused: it would write a list without its images).
    """
    from trustcopy.manifest.mediatypes import guess_mime_type, is_list

    toplevel = UnparsedImage(source)
    raw, mime = toplevel.manifest()
    selection = options.image_list_selection
    if not is_list(mime or guess_mime_type(raw)):
        return Plan(toplevel, None, (toplevel,), (None,), selection)

    from trustcopy.manifest.parse import parse_manifest

    manifest_list: ManifestList = parse_manifest(raw, mime, source=str(toplevel.reference))  # type: ignore[assignment]
    if selection is ImageListSelection.INDEX_ONLY:
        raise UsageError("--multi-arch index-only is not supported: it would write a list without its images",
                         code="unsupported-option")
    if selection is ImageListSelection.SYSTEM:
        chosen = [choose_instance(manifest_list, options.source_ctx, str(source.reference))]
    else:
        chosen = [d.digest for d in manifest_list.manifests]
    platforms = {d.digest: (str(d.platform) if d.platform is not None else None) for d in manifest_list.manifests}
    images = tuple(UnparsedImage(source, digest, manifest_list=toplevel) for digest in chosen)
    return Plan(toplevel, manifest_list, images, tuple(platforms.get(d) for d in chosen), selection)


def evaluate_plan(policy: PolicyEvaluator, plan: Plan) -> Evaluation:
    """The policy's verdict on each planned image (manifests and signatures only).

    Raises:
        TrustcopyError: reading a manifest or signatures failed (nothing is accepted).
    """
    verdicts = tuple(
        PlannedVerdict(image, image.instance_digest, platform, policy.evaluate(image))
        for image, platform in zip(plan.images, plan.platforms, strict=True)
    )
    raw, mime = plan.toplevel.manifest()
    from trustcopy.manifest.mediatypes import guess_mime_type, is_list

    for planned in verdicts:
        # copy cannot take a list inside a list (copy/single.py, as containers/image): an
        # instance the policy accepts must not be reported accepted by verify either.
        if planned.instance_digest is not None and planned.verdict.allowed:
            inner_raw, inner_mime = planned.image.manifest()
            if is_list(inner_mime or guess_mime_type(inner_raw)):
                raise ManifestError(
                    f"{plan.toplevel.reference}: a manifest list inside a manifest list is not supported")

    return Evaluation(image=str(plan.toplevel.reference), digest=plan.toplevel.manifest_digest(),
                      media_type=mime or guess_mime_type(raw), is_list=plan.is_list, verdicts=verdicts)


def evaluate_image(policy: PolicyEvaluator, reference: ImageReference,
                   options: CopyOptions | None = None) -> Evaluation:
    """Open ``reference``, plan as a copy would, and judge every planned image.

    This is what ``policy explain`` and ``verify`` call; ``copy`` calls the two steps
    itself because it keeps the source open for the copy.

    Raises:
        TrustcopyError: the source cannot be read; ManifestError / UsageError from planning.
    """
    options = options or CopyOptions()
    with reference.new_image_source(options.source_ctx or SystemContext()) as source:
        return evaluate_plan(policy, plan_images(source, options))


def rejection_without_reading(policy: PolicyEvaluator, reference: ImageReference) -> PolicyRejected | None:
    """The policy's refusal of ``reference`` when it needs nothing of the image to refuse, else None.

    That is the case when every requirement of the scope matching the reference is
    ``reject``: such a requirement looks at the reference only, so the verdict is the one
    :func:`evaluate_plan` would reach for the image (and for every instance of a list,
    which share the reference), computed by the same ``policy.evaluate`` without reading
    a manifest or a signature. ``sync`` uses this so that a repository the policy refuses
    costs no request at all, run after run.

    Returns None for any other policy (an evaluator that is not a PolicyContext included):
    the caller then evaluates as usual.
    """
    from trustcopy.policy.context import PolicyContext
    from trustcopy.policy.requirements import Reject
    from trustcopy.policy.scopes import requirements_for

    if not isinstance(policy, PolicyContext):
        return None
    requirements = requirements_for(policy.policy, reference).requirements
    if not requirements or not all(type(r) is Reject for r in requirements):
        return None
    verdict = policy.evaluate(UnparsedImage(_ReferenceOnlySource(reference)))
    if verdict.allowed:  # cannot happen for reject-only scopes; never let it through unread
        return None
    return verdict.rejection()


class _ReferenceOnlySource(ImageSource):
    """A source that has a reference and nothing else: reading from it is a bug (RuntimeError)."""

    def __init__(self, reference: ImageReference) -> None:
        self.reference = reference

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """Never read: see rejection_without_reading."""
        raise RuntimeError("internal error: a reference-only evaluation read a manifest")

    def get_blob(self, info: Any) -> Any:
        """Never read: see rejection_without_reading."""
        raise RuntimeError("internal error: a reference-only evaluation read a blob")

    def get_signatures(self, instance_digest: Digest | None = None) -> list[Any]:
        """Never read: see rejection_without_reading."""
        raise RuntimeError("internal error: a reference-only evaluation read signatures")


class VerdictGate:
    """The copy's policy gate: answers from the evaluation already made, never twice.

    ``copy_single_image`` checks its image again right before copying (defence in depth:
    the check sits next to the code it protects); this answers from the plan's verdicts,
    and evaluates only an image the plan did not contain.
    """

    def __init__(self, policy: PolicyEvaluator, evaluation: Evaluation) -> None:
        self._policy = policy
        self._verdicts: dict[int, Any] = {id(v.image): v.verdict for v in evaluation.verdicts}

    def check(self, unparsed: UnparsedImage) -> object:
        """Return the verdict when allowed.

        Raises:
            PolicyRejected: the policy refused the image.
        """
        verdict = self._verdicts.get(id(unparsed))
        if verdict is None:
            verdict = self._policy.evaluate(unparsed)
            self._verdicts[id(unparsed)] = verdict
        if not verdict.allowed:
            raise verdict.rejection()
        return verdict


def choose_instance(manifest_list: ManifestList, ctx: SystemContext | None, what: str) -> Digest:
    """The digest of the instance for the wanted platform.

    Raises:
        ManifestError: no instance matches (the message lists what the list offers).
    """
    os_name, arch, variant = wanted_platform(ctx)
    try:
        return manifest_list.choose_instance(os_name, arch, variant).digest
    except ManifestError as exc:
        raise ManifestError(f"{what}: {exc.message}", code=exc.code, hint=exc.hint) from exc


def wanted_platform(ctx: SystemContext | None) -> tuple[str, str, str | None]:
    """(os, arch, variant) to choose instances for, as containers/image's WantedPlatforms.

    Overrides first, else this machine; the CPU variant is detected only when the
    architecture is not overridden (even an override naming the host's own architecture
    gets no detected variant, so that ``--override-variant ""`` stays possible).
    """
    from trustcopy import hostplatform

    arch = hostplatform.go_arch()
    os_name = hostplatform.go_os()
    variant: str | None = None
    if ctx is not None and ctx.override_arch:
        arch = ctx.override_arch
    else:
        variant = hostplatform.cpu_variant(os_name, arch) or None
    if ctx is not None:
        if ctx.override_os:
            os_name = ctx.override_os
        if ctx.override_variant:
            variant = ctx.override_variant
    return os_name, arch, variant
