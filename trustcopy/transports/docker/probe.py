"""What a registry holds under a tag or digest, learned with one ``HEAD``: the manifest's digest and type.

``sync`` asks this of both sides before copying an image: when the destination already
holds exactly the manifest the source names, the image is not copied (and costs no
``GET`` of any manifest or blob). See trustcopy/sync/run.py for why that never lets an
image past the policy.

Invariants:
- One ``HEAD /v2/NAME/manifests/REF`` with the full manifest Accept list (so the
  registry answers for the manifest a ``GET`` would return, not a converted one); no body
  is read.
- "Not there" (404, ``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``) is None; any other failure
  raises, as the request would have for a copy.
- A missing or malformed ``Docker-Content-Digest`` is an unknown digest (``digest`` is
  None): the caller must then copy, never assume the image is there.
- The digest is the registry's claim, never checked against bytes (there are none): it
  may only ever be used to decide *not* to write something.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError
from trustcopy.lazy import dataclass
from trustcopy.manifest.mediatypes import manifest_accept_header, simplify_content_type
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.transports.docker.reference import DockerImageReference
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference


@dataclass(frozen=True)
class ManifestHead:
    """What ``HEAD`` told about a manifest: its digest (None if the registry did not say) and type."""

    digest: Digest | None
    media_type: str


def head_manifest(reference: DockerImageReference, sys: SystemContext | None, *,
                  actions: str = "pull") -> ManifestHead | None:
    """``HEAD`` the manifest ``reference`` names; None when the registry does not have it.

    Args:
        reference: a tagged or digested reference.
        sys: the side's settings; its ``registry_session`` is used (pings, pools, tokens).
        actions: token actions to ask for (``pull,push`` on a destination, so that the copy
            that may follow reuses the token).

    Raises:
        RegistryError: the registry refused or failed (auth, network, 5xx after retries).
    """
    ref = reference.ref
    client = RegistryClient(sys, ref.domain, ref.path, actions)
    try:
        return head_manifest_with(client, ref)
    finally:
        client.close()


def head_manifest_with(client: RegistryClient, ref: DockerReference) -> ManifestHead | None:
    """:func:`head_manifest` through an open client (a destination's own: its ping and token).

    Raises:
        RegistryError: the registry refused or failed (auth, network, 5xx after retries).
    """
    tail = str(ref.digest) if ref.digest is not None else str(ref.tag)
    what = f"checking manifest {tail} in {ref.name}"
    response = client.send("HEAD", f"/v2/{client.path}/manifests/{tail}", what=what,
                           headers={"Accept": manifest_accept_header()})
    if response.status_code == 404:
        response.close()
        return None
    try:
        client.check(response, what)
    except ImageNotFoundError:
        return None
    response.close()
    header = response.headers.get("docker-content-digest", "")
    try:
        digest: Digest | None = Digest.parse(header.strip()) if header else None
    except ValueError:
        digest = None
    if ref.digest is not None and digest is not None and digest != ref.digest:
        digest = None  # a registry contradicting the digest we asked for is not believed
    return ManifestHead(digest, simplify_content_type(response.headers.get("content-type")))
