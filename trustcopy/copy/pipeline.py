"""copy_image(): gate on the policy, open the destination, copy, commit, or leave no trace.

Invariants:
- Every image that will be copied (the image, or each chosen instance of a list) passes
  the policy, through the one evaluation step ``copy/evaluate.py`` that ``policy explain``
  and ``verify`` use too, *before* the destination is opened: a rejected copy creates nothing there,
  not even a staging directory, and fetches no blob.
- The destination becomes visible only through ``commit()``, called once, after the
  manifest and signatures were written; any exception before it closes the
  destination uncommitted, which removes everything it staged.
"""

from __future__ import annotations

import contextlib

import trustcopy.liblog  # noqa: F401 (a NullHandler: the library prints nothing on its own)
from trustcopy.copy.evaluate import (
    PolicyEvaluator,
    VerdictGate,
    evaluate_plan,
    plan_images,
    rejection_without_reading,
)
from trustcopy.copy.options import CopyOptions, ImageListSelection
from trustcopy.copy.single import CopyResult, copy_single_image, signing_identity
from trustcopy.fsutil import deferred_signals
from trustcopy.transports.base import ImageDestination, ImageReference
from trustcopy.types import SystemContext


def copy_image(
    policy: PolicyEvaluator,
    dest_ref: ImageReference,
    src_ref: ImageReference,
    options: CopyOptions | None = None,
) -> CopyResult:
    """Copy the image ``src_ref`` names to ``dest_ref``, if ``policy`` allows it.

    Args:
        policy: usually a :class:`trustcopy.policy.PolicyContext`; anything with
            ``evaluate(unparsed)`` returning a verdict (``allowed``, ``rejection()``).
        dest_ref: where to write (argument order as containers/image's copy.Image).
        src_ref: what to read.
        options: see :class:`CopyOptions`.

    Returns:
        The manifest as written at the destination.

    Raises:
        PolicyRejected: the policy refused the image (or one planned instance of a list);
            nothing was written.
        TrustcopyError: any other failure; the destination is as it was before.
    """
    options = options or CopyOptions()
    src_ctx = options.source_ctx or SystemContext()
    dest_ctx = options.dest_ctx or SystemContext()
    # A scope whose every requirement is ``reject`` refuses from the reference alone: no request
    # to the source (a CI gate's default reject costs no registry round trip, nor its retries),
    # the same verdict evaluate_plan would reach (copy/evaluate.py; sync does the same).
    refused = rejection_without_reading(policy, src_ref)
    if refused is not None:
        raise refused
    with src_ref.new_image_source(src_ctx) as src:
        # The one evaluation step (copy/evaluate.py), shared with explain and verify:
        # every policy decision is made before the destination exists.
        plan = plan_images(src, options)
        evaluation = evaluate_plan(policy, plan)
        evaluation.raise_if_rejected()
        gate = VerdictGate(policy, evaluation)
        with contextlib.ExitStack() as stack:
            # No interruption between creating the staging area and registering its cleanup.
            with deferred_signals():
                dest = dest_ref.new_image_destination(dest_ctx)
                stack.enter_context(dest)
            if options.sign_by_sigstore_private_key:
                _check_sigstore_signer(dest, options)
            if options.sign_by:
                _check_gpg_signer(dest, options)
            if plan.manifest_list is None or options.image_list_selection is ImageListSelection.SYSTEM:
                result = copy_single_image(gate, src, dest, plan.images[0], options)
            else:
                from trustcopy.copy.multiple import copy_all  # lists only

                result = copy_all(gate, src, dest, plan.toplevel, plan.manifest_list, list(plan.images), options)
            dest.commit(result.manifest)
    return result


def _check_gpg_signer(dest: ImageDestination, options: CopyOptions) -> None:
    """Check the ``--sign-by`` key before anything is written (gpg.check_signing_key says why).

    The identity is checked first, as for sigstore, so that a missing identity keeps its own error.

    Raises:
        UsageError: no identity to sign. SignatureError: the key cannot sign.
    """
    signing_identity(dest, options)
    options.check_gpg_signing_key()


def _check_sigstore_signer(dest: ImageDestination, options: CopyOptions) -> None:
    """Read and decrypt ``--sign-by-sigstore-private-key`` before anything is written.

    The key was otherwise first read when the manifest was signed, after the blobs were
    pushed and (in a registry) the manifest tagged: a key file that is unreadable, a pipe
    nobody writes, or a wrong passphrase left an unsigned image at the destination.
    containers/image makes its signer before copying; the identity is checked first, as
    copy_single_image checks it, so that a missing identity keeps its own error.

    Raises:
        UsageError: no identity to sign, or no passphrase.
        SignatureError / LimitExceededError: the key cannot be read or decrypted.
    """
    signing_identity(dest, options)
    options.sigstore_private_key()
