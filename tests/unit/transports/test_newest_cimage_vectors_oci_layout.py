"""oci/layout oci_src_test.go TestGetBlobForRemoteLayers (newest containers/image), restated.

Go's ``oci:`` source fetches a layer that lists ``urls`` from the first http(s) URL that answers,
whether or not the blob is in the layout. trustcopy deliberately never fetches: a layout is a
local source, and letting a manifest in it make the copy contact arbitrary hosts is not
something a policy-gated copy should do (docs/ARCHITECTURE.md, "Differences from
containers/image"; error code ``foreign-layer-missing`` in docs/errors.md). A foreign layer
present in the layout is read from it; an absent one is refused naming the blob, with no
connection attempted.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import TransportError
from trustcopy.manifest import mediatypes as mt
from trustcopy.transports.oci_layout import TRANSPORT as OCI
from trustcopy.types import BlobInfo, SystemContext

LAYER = b"Hello world\n"
URLS = ("brokenurl", "http://127.0.0.1:9/layer")  # Go's table: an unusable URL, then a server's


def _write_blob(layout: Path, data: bytes) -> Digest:
    d = Digest.from_bytes(data)
    path = layout / "blobs" / d.algorithm / d.hex
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return d


def _layout(tmp_path: Path, *, layer_present: bool) -> tuple[Path, Digest]:
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = _write_blob(layout, b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    layer = Digest.from_bytes(LAYER)
    if layer_present:
        _write_blob(layout, LAYER)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config), "size": 80},
        "layers": [{"mediaType": mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP, "digest": str(layer), "size": len(LAYER),
                    "urls": list(URLS)}],
    }).encode()
    m = _write_blob(layout, manifest)
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": str(m), "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    (layout / "index.json").write_text(json.dumps(index))
    return layout, layer


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError(f"an oci: source opened a connection: {args!r}")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_foreign_layer_present_in_the_layout_is_read_from_it(tmp_path: Path, no_network: None) -> None:
    layout, layer = _layout(tmp_path, layer_present=True)
    src = OCI.parse_reference(f"{layout}:latest").new_image_source(SystemContext())
    f, size = src.get_blob(BlobInfo(layer, len(LAYER), mt.OCI_NONDISTRIBUTABLE_LAYER_GZIP, urls=URLS))
    with f:
        assert (f.read(), size) == (LAYER, len(LAYER))


def test_foreign_layer_absent_from_the_layout_is_refused_without_fetching(tmp_path: Path, no_network: None) -> None:
    # NOTE(go-diff): Go fetches the layer from its URLs (TestGetBlobForRemoteLayers); we refuse.
    layout, layer = _layout(tmp_path, layer_present=False)
    src = OCI.parse_reference(f"{layout}:latest").new_image_source(SystemContext())
    with pytest.raises(TransportError) as info:
        src.get_blob(BlobInfo(layer, -1, urls=URLS))
    assert info.value.code == "foreign-layer-missing"
    assert str(layer) in info.value.message
