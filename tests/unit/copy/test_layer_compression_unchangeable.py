"""Layers whose compression the *source* manifest does not let a copy change keep their bytes.

containers/image asks the source manifest (CanChangeLayerCompression) before compressing or
decompressing a layer: an OCI artifact (a config that is not an image config) has layers that
are not tar streams to recompress, and a layer type of the other format (an OCI type in a
schema2 manifest) cannot be rewritten in it. Found by tests/unit/copy/test_layer_compression_goracle.py:
trustcopy gzipped an artifact's uncompressed layer for a destination that wants compression.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from trustcopy.compression import Algorithm
from trustcopy.copy.blobs import compression_step
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.single import compression_plan
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.convert import can_change_layer_compression
from trustcopy.manifest.parse import parse_manifest
from trustcopy.types import LayerCompression

D = "sha256:" + "a" * 64


def _manifest(media_type: str, config_type: str, layer_type: str) -> Any:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                           "config": {"mediaType": config_type, "digest": D, "size": 2},
                           "layers": [{"mediaType": layer_type, "digest": D, "size": 3}]}
    return parse_manifest(json.dumps(doc).encode(), media_type)


@pytest.mark.parametrize(("media_type", "config_type", "layer_type", "changeable"), [
    (mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER, True),
    (mt.OCI_MANIFEST, "application/vnd.example.artifact.config+json", mt.OCI_LAYER, False),  # an artifact
    (mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.DOCKER_LAYER_GZIP, False),  # the other format's type
    (mt.OCI_MANIFEST, mt.OCI_CONFIG, "application/x-unknown", False),
    (mt.DOCKER_V2S2, mt.DOCKER_CONFIG, mt.DOCKER_LAYER, True),
    (mt.DOCKER_V2S2, mt.DOCKER_CONFIG, mt.DOCKER_FOREIGN_LAYER, True),
    # (A schema2 manifest naming an OCI layer type never gets here: parsing refuses it.)
])
def test_what_the_source_manifest_lets_a_copy_change(media_type: str, config_type: str, layer_type: str,
                                                      changeable: bool) -> None:
    manifest = _manifest(media_type, config_type, layer_type)
    assert can_change_layer_compression(manifest, layer_type) is changeable
    dest = SimpleNamespace(desired_layer_compression=LayerCompression.COMPRESS)
    plan = compression_plan(dest, CopyOptions(), media_type, manifest)  # type: ignore[arg-type]
    step = compression_step(plan, layer_type, Algorithm.NONE)
    if changeable:
        assert step is not None and step[0] is Algorithm.GZIP
    else:
        assert step is None  # the layer's bytes and media type are kept
