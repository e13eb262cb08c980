"""What each side of a sync already holds: the digest of a manifest, at the cost of one ``HEAD`` (or a file read).

Used only to decide that an image need not be copied (sync/run.py): every answer here
may be None ("unknown"), and unknown always means "copy it" (after the policy). Nothing
here reads a blob, and a registry is never sent a ``GET`` except for
:func:`chosen_instance`, which reads a manifest list to learn which instance a copy
without ``--all`` would take.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from trustcopy import limits
from trustcopy.sync.plan import DestinationKind, WorkItem
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.transports.base import ImageReference


def destination_digest(item: WorkItem, ctx: SystemContext, *, push: bool) -> Digest | None:
    """The digest of the manifest the destination holds for ``item``, or None (absent or unknown).

    Args:
        push: ask a registry for a ``pull,push`` token (the copy that may follow reuses it).

    Raises:
        TrustcopyError: the registry failed other than by not having the image.
    """
    if item.kind is DestinationKind.DIR:
        return _dir_digest(item.target, require_version=True)[0]
    from trustcopy.transports.docker.probe import head_manifest
    from trustcopy.transports.docker.reference import DockerImageReference

    ref = item.destination_reference()
    assert isinstance(ref, DockerImageReference)
    head = head_manifest(ref, ctx, actions="pull,push" if push else "pull")
    return head.digest if head is not None else None


def source_head(source: ImageReference, ctx: SystemContext) -> tuple[Digest | None, str]:
    """The digest and media type of the source's top-level manifest ("" type when unknown).

    A registry image named by digest costs nothing; by tag, one ``HEAD``. A ``dir:``
    image is read from disk.

    Raises:
        TrustcopyError: the registry failed (a missing image is ``(None, "")``).
    """
    if source.transport.name == "dir":
        return _dir_digest(source.string_within_transport(), require_version=False)
    from trustcopy.transports.docker.probe import head_manifest
    from trustcopy.transports.docker.reference import DockerImageReference

    if not isinstance(source, DockerImageReference):
        return None, ""
    if source.ref.digest is not None:
        return source.ref.digest, ""
    head = head_manifest(source, ctx)
    return (head.digest, head.media_type) if head is not None else (None, "")


def chosen_instance(source: ImageReference, ctx: SystemContext) -> Digest | None:
    """The instance of the source's manifest list a copy for this platform would take (one ``GET``).

    Raises:
        TrustcopyError: reading or parsing the list failed.
    """
    from trustcopy.copy.evaluate import choose_instance
    from trustcopy.manifest.mediatypes import guess_mime_type, is_list
    from trustcopy.manifest.parse import parse_manifest

    with source.new_image_source(ctx) as src:
        raw, mime = src.get_manifest()
        mime = mime or guess_mime_type(raw)
        if not is_list(mime):
            return None
        manifest_list = parse_manifest(raw, mime, source=str(source))
        return choose_instance(manifest_list, ctx, str(source))  # type: ignore[arg-type]


def _dir_digest(path: str, *, require_version: bool) -> tuple[Digest | None, str]:
    """The digest and type of ``PATH/manifest.json``; (None, "") when there is no readable image there.

    ``require_version``: only a directory whose ``version`` file says it is an image
    counts (a destination that is anything else is not "identical", and the copy refuses it).
    """
    from trustcopy.errors import TrustcopyError
    from trustcopy.fsutil import open_regular_file
    from trustcopy.manifest.digest import manifest_digest
    from trustcopy.manifest.mediatypes import guess_mime_type
    from trustcopy.transports.dir import VERSION

    try:
        if require_version:
            with open_regular_file(os.path.join(path, "version"), "version file") as f:
                if limits.read_at_most(f, 4096, path) != VERSION.encode():
                    return None, ""
        manifest = os.path.join(path, "manifest.json")
        with open_regular_file(manifest, "manifest") as f:
            raw = limits.read_at_most(f, limits.MAX_MANIFEST_BODY, manifest)
        return manifest_digest(raw), guess_mime_type(raw)
    except (TrustcopyError, OSError):
        return None, ""
