"""Memory bounds behind bench/bench_memory.py's figures, asserted structurally (nothing timed).

The benchmark measured every scenario of issue 14 under 60 MB (session 26). What keeps a
1 GB layer to a few MB is that each stage holds a bounded number of chunks; what keeps a
20 MB config from costing 20 MB is that it is refused after c/image's 4 MiB limit. These
tests pin both, so a later change that buffers a blob or reads an oversized config whole
fails here rather than only in a benchmark nobody ran.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from pathlib import Path

import pytest

from trustcopy import limits
from trustcopy.copy.blobs import _ReadAhead
from trustcopy.errors import TrustcopyError


class _EndlessSource:
    """A source that never ends and counts the bytes taken from it."""

    def __init__(self, piece: int) -> None:
        self.piece = piece
        self.taken = 0
        self.lock = threading.Lock()

    def read(self, size: int = -1, /) -> bytes:
        n = self.piece if size < 0 else min(size, self.piece)
        with self.lock:
            self.taken += n
        return b"\0" * n


def test_read_ahead_holds_at_most_its_depth_when_the_writer_stalls() -> None:
    """A stalled destination (a slow disk, a daemon not reading) must not make the reader buffer the blob."""
    chunk, depth = 1 << 16, 4
    source = _EndlessSource(chunk // 4)
    ahead = _ReadAhead(source, depth=depth, chunk=chunk)  # type: ignore[arg-type]
    try:
        assert len(ahead.read()) == chunk
        deadline = time.monotonic() + 2
        previous = -1
        while time.monotonic() < deadline and source.taken != previous:  # until the helper blocks
            previous = source.taken
            time.sleep(0.2)
        # The queue's chunks, the one the helper is gathering, and the one handed out.
        assert source.taken <= (depth + 2) * chunk, source.taken
    finally:
        ahead.stop()
        ahead.join()


def _layout_with_config(root: Path, config: bytes) -> Path:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                           "layers": []}).encode()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "img"}}]}))
    return root


def test_a_config_over_the_limit_is_refused_after_reading_at_most_the_limit(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20 MB config (many history entries) costs at most c/image's 4 MiB (+1 byte) of reading, then fails."""
    from trustcopy.image.sourced import Image
    from trustcopy.image.unparsed import UnparsedImage
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import SystemContext

    entry = {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) " + "x" * 160}
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "history": [entry] * 110_000}).encode()
    assert len(config) > 5 * limits.MAX_CONFIG_BODY
    layout = _layout_with_config(tmp_path / "layout", config)
    taken = 0
    original = limits.read_at_most

    def counting(stream: io.RawIOBase, limit: int, what: str) -> bytes:
        class Counting:
            def read(self, size: int = -1, /) -> bytes:
                nonlocal taken
                data = stream.read(size)
                taken += len(data)
                return data

        return original(Counting(), limit, what)  # type: ignore[arg-type]

    monkeypatch.setattr(limits, "read_at_most", counting)
    ref = parse_image_name(f"oci:{layout}:img")
    with ref.new_image_source(SystemContext()) as src:
        image = Image(UnparsedImage(src))
        with pytest.raises(TrustcopyError, match="larger than the 4194304 bytes accepted"):
            image.config_blob()
    assert 0 < taken <= limits.MAX_CONFIG_BODY + (1 << 20), taken
