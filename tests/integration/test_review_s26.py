"""Adversarial review of session 26's changes: what a skeptical maintainer found, each a failing test first.

- A docker destination's upload claim (try_reusing_blob) must end with the blob's copy, whatever
  became of it: a recompressed layer is stored under another digest (put_new_blob), and a source
  that fails before put_blob never reaches it. A claim kept until the destination closes makes
  every other destination of the session (``sync``: one per image) wait for that whole image, and
  two images sharing two layers, each holding one claim the other waits for, never finish.
"""

from __future__ import annotations

import gzip
import io
import threading
from typing import Any, BinaryIO

import pytest
from registry_fixtures import RegistryServer, fast_sys

from trustcopy.compression import Algorithm
from trustcopy.copy.blobs import copy_blob
from trustcopy.copy.options import CompressionPlan
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError
from trustcopy.manifest import mediatypes as mt
from trustcopy.transports.docker.reference import TRANSPORT
from trustcopy.transports.docker.session import RegistrySession
from trustcopy.types import BlobInfo, LayerCompression

pytestmark = pytest.mark.registry


class _Source:
    """A source of one blob (or of none: ``missing``), as copy_blob reads it."""

    reference = "test-source"

    def __init__(self, data: bytes, *, missing: bool = False) -> None:
        self.data, self.missing = data, missing

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        if self.missing:
            raise ImageNotFoundError(f"blob {info.digest} not found")
        return io.BytesIO(self.data), len(self.data)


def _quiet(event: Any) -> None:
    """Progress goes nowhere."""


def _claim_ends(session: RegistrySession, registry: RegistryServer, info: BlobInfo) -> bool:
    """Whether another destination of the session can look for ``info`` at once (no claim left held)."""
    other = TRANSPORT.parse_reference(f"//{registry.host}/review/app:b").new_image_destination(
        fast_sys(registry_session=session))
    done = threading.Event()

    def look() -> None:
        other.try_reusing_blob(info)
        done.set()

    worker = threading.Thread(target=look, daemon=True)
    worker.start()
    finished = done.wait(10)
    if finished:
        other.close()
    # (else the look ends once the test closes the first destination; its client is left to the collector)
    return finished


@pytest.mark.parametrize("how", ["recompressed", "source-fails"])
def test_upload_claim_ends_with_the_blob_copy(plain_registry: RegistryServer, how: str) -> None:
    session = RegistrySession()
    layer = gzip.compress(b"review layer " * 1000, mtime=0)
    info = BlobInfo(digest=Digest.from_bytes(layer), size=len(layer), media_type=mt.DOCKER_LAYER_GZIP)
    dest = TRANSPORT.parse_reference(f"//{plain_registry.host}/review/app:a").new_image_destination(
        fast_sys(registry_session=session))
    try:
        if how == "recompressed":  # --dest-compress-format zstd: stored under a new digest
            plan = CompressionPlan(desired=LayerCompression.COMPRESS, algorithm=Algorithm.ZSTD,
                                   manifest_type=mt.OCI_MANIFEST)
            copied = copy_blob(_Source(layer), dest, info, is_config=False, can_modify=True, say=_quiet, plan=plan)
            assert copied.info.digest != info.digest
        else:
            with pytest.raises(ImageNotFoundError):
                copy_blob(_Source(layer, missing=True), dest, info, is_config=False, can_modify=True, say=_quiet)
        # Old: the claim on the source digest stayed until dest.close(): the other destination waited.
        assert _claim_ends(session, plain_registry, info)
    finally:
        dest.close()
        session.close()

