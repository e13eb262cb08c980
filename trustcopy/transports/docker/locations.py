"""Where this process has seen blobs: candidates for cross-repository mounts.

containers/image keeps a persistent "blob info cache"; we keep a small in-process one,
which is enough for the case that matters, copying between repositories of the same
registry: the source records the blobs its manifests name, and the destination, when a
blob is to be copied, asks the registry to mount it from a recorded repository
(``POST /v2/DEST/blobs/uploads/?mount=DIGEST&from=SRC``).

Recorded locations are only hints: the registry checks that the source repository holds
the blob (and that we may pull it) before it mounts anything, and addresses blobs by
digest; a declined mount falls back to the ordinary upload. The cache is bounded.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

_MAX_DIGESTS = 10_000
_MAX_REPOS_PER_DIGEST = 8

_lock = threading.Lock()
_known: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()


def record(registry: str, repository: str, digest: str) -> None:
    """Remember that ``registry`` has ``digest`` in ``repository`` (most recent first)."""
    with _lock:
        repos = _known.pop(digest, [])
        entry = (registry, repository)
        if entry in repos:
            repos.remove(entry)
        repos.insert(0, entry)
        del repos[_MAX_REPOS_PER_DIGEST:]
        _known[digest] = repos
        while len(_known) > _MAX_DIGESTS:
            _known.popitem(last=False)


def candidates(registry: str, digest: str, exclude_repository: str) -> list[str]:
    """Repositories of ``registry`` recorded to hold ``digest``, other than the given one."""
    with _lock:
        repos = list(_known.get(digest, ()))
    return [repo for reg, repo in repos if reg == registry and repo != exclude_repository]


def record_manifest_blobs(registry: str, repository: str, manifest: bytes) -> None:
    """Record the config and layer digests an image manifest names (lists name none)."""
    try:
        doc = json.loads(manifest)
    except (ValueError, RecursionError):
        return
    if not isinstance(doc, dict):
        return
    found: list[object] = []
    config = doc.get("config")
    if isinstance(config, dict):
        found.append(config.get("digest"))
    layers = doc.get("layers")
    for layer in layers if isinstance(layers, list) else ():
        if isinstance(layer, dict) and not layer.get("urls"):
            found.append(layer.get("digest"))
    fs_layers = doc.get("fsLayers")
    for layer in fs_layers if isinstance(fs_layers, list) else ():
        if isinstance(layer, dict):
            found.append(layer.get("blobSum"))
    for digest in found:
        if isinstance(digest, str) and ":" in digest and len(digest) < 200:
            record(registry, repository, digest)


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _known.clear()
