"""copy_image(): gate on the policy, open the destination, copy, commit, or leave no trace.

Invariants:
- Every image that will be copied (the image, or each chosen instance of a list) passes
  the policy *before* the destination is opened: a rejected copy creates nothing there,
  not even a staging directory, and fetches no blob.
- The destination becomes visible only through ``commit()``, called once, after the
  manifest and signatures were written; any exception before it closes the
  destination uncommitted, which removes everything it staged.
"""

from __future__ import annotations

from dataclasses import dataclass

from trustcopy.copy.multiple import copy_all, plan_instances
from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.copy.single import PolicyGate, copy_single_image
from trustcopy.digest import Digest
from trustcopy.image.unparsed import UnparsedImage
from trustcopy.transports.base import ImageReference
from trustcopy.types import SystemContext


@dataclass(frozen=True)
class CopyResult:
    """What was written: the top-level manifest, its type and digest."""

    manifest: bytes
    media_type: str
    digest: Digest


class _OnceGate:
    """Evaluates the policy once per UnparsedImage, so the pre-check is not repeated."""

    def __init__(self, policy: PolicyGate) -> None:
        self._policy = policy
        self._verdicts: dict[int, object] = {}

    def check(self, unparsed: UnparsedImage) -> object:
        key = id(unparsed)
        if key not in self._verdicts:
            self._verdicts[key] = self._policy.check(unparsed)
        return self._verdicts[key]


def copy_image(
    policy: PolicyGate,
    dest_ref: ImageReference,
    src_ref: ImageReference,
    options: CopyOptions | None = None,
) -> CopyResult:
    """Copy the image ``src_ref`` names to ``dest_ref``, if ``policy`` allows it.

    Args:
        policy: usually a :class:`trustcopy.policy.PolicyContext`; anything with
            ``check(unparsed)`` that raises PolicyRejected to refuse.
        dest_ref: where to write (argument order as containers/image's copy.Image).
        src_ref: what to read.
        options: see :class:`CopyOptions`.

    Returns:
        The manifest as written at the destination.

    Raises:
        PolicyRejected: the policy refused the image; nothing was written.
        TrustcopyError: any other failure; the destination is as it was before.
    """
    from trustcopy.manifest.mediatypes import guess_mime_type, is_list

    options = options or CopyOptions()
    gate = _OnceGate(policy)
    src_ctx = options.source_ctx or SystemContext()
    dest_ctx = options.dest_ctx or SystemContext()
    with src_ref.new_image_source(src_ctx) as src:
        toplevel = UnparsedImage(src)
        raw, mime = toplevel.manifest()
        listed = is_list(mime or guess_mime_type(raw))
        if listed:
            manifest_list, instances = plan_instances(toplevel, options)
        else:
            instances = [toplevel]
        for unparsed in instances:
            gate.check(unparsed)  # all policy decisions before the destination exists
        with dest_ref.new_image_destination(dest_ctx) as dest:
            if not listed or options.image_list_selection is ImageListSelection.SYSTEM:
                result = copy_single_image(gate, src, dest, instances[0], options)
            else:
                result = copy_all(gate, src, dest, toplevel, manifest_list, instances, options)
            dest.commit(result.manifest)
    return CopyResult(manifest=result.manifest, media_type=result.media_type, digest=result.digest)
