"""What happens to one layer's compression in a copy, against containers/image's pipeline.

hypothesis draws a source manifest type, a layer media type, the layer's bytes (plain, gzip,
zstd, bzip2, xz), what the destination wants (``DesiredLayerCompression``), the requested
algorithm (``--dest-compress-format``) and whether the manifest may change; the Go oracle
(tests/goracle/layercompression) runs 5.23's blobPipelineDetectCompressionStep and
blobPipelineCompressionStep on them, and trustcopy's ``compression_step`` (copy/blobs.py,
with ``PeekableStream``'s detection) must make the same decision: preserve, compress to X,
decompress, or recompress to X.

Known difference, encoded narrowly: a zstd target for a Docker schema2 layer is refused by
trustcopy at once (layer_media_type_for: schema2 cannot name it); containers/image decides
to recompress and fails only when it writes the manifest.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.compression import Algorithm, CompressingStream, PeekableStream
from trustcopy.copy.blobs import compression_step
from trustcopy.copy.options import CompressionPlan
from trustcopy.errors import ManifestError
from trustcopy.types import LayerCompression

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("layercompression", "containers/image's copy blobPipelineCompressionStep")

OCI = "application/vnd.oci.image.manifest.v1+json"
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_LAYERS = ["application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
              "application/vnd.oci.image.layer.v1.tar+zstd",
              "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
              "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "application/vnd.example.squashfs"]
SCHEMA2_LAYERS = ["application/vnd.docker.image.rootfs.diff.tar.gzip",
                  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                  "application/vnd.docker.image.rootfs.diff.tar", "application/vnd.example.squashfs"]
DESIRED = {LayerCompression.PRESERVE: 0, LayerCompression.DECOMPRESS: 1, LayerCompression.COMPRESS: 2}
PAYLOAD = b"layer bytes " * 8


def _manifest(manifest_type: str) -> str:
    config = "application/vnd.oci.image.config.v1+json" if manifest_type == OCI else \
        "application/vnd.docker.container.image.v1+json"
    return json.dumps({"schemaVersion": 2, "mediaType": manifest_type,
                       "config": {"mediaType": config, "digest": "sha256:" + "0" * 64, "size": 1}, "layers": []})


def _data(algorithm: Algorithm) -> bytes:
    if algorithm is Algorithm.GZIP:
        return gzip.compress(PAYLOAD)
    if algorithm is Algorithm.BZIP2:
        return bz2.compress(PAYLOAD)
    if algorithm is Algorithm.XZ:
        return lzma.compress(PAYLOAD)
    if algorithm is Algorithm.ZSTD:
        return CompressingStream(io.BytesIO(PAYLOAD), Algorithm.ZSTD, None).read()
    return PAYLOAD


def _go_kind(go: dict[str, object]) -> tuple[str, str]:
    if go["operation"] == DESIRED[LayerCompression.COMPRESS]:
        return "compress", str(go["uploaded"])
    if go["operation"] == DESIRED[LayerCompression.DECOMPRESS]:
        return "decompress", ""
    return ("recompress", str(go["uploaded"])) if go["changed"] else ("preserve", "")


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, Algorithm, LayerCompression, Algorithm | None, bool]:
    manifest_type = draw(st.sampled_from([OCI, SCHEMA2]))
    layer = draw(st.sampled_from(OCI_LAYERS if manifest_type == OCI else SCHEMA2_LAYERS))
    return (manifest_type, layer, draw(st.sampled_from(list(Algorithm))), draw(st.sampled_from(list(DESIRED))),
            draw(st.sampled_from([None, Algorithm.GZIP, Algorithm.ZSTD])), draw(st.booleans()))


def _check(oracle: Oracle, manifest_type: str, layer: str, data_algorithm: Algorithm,
           desired: LayerCompression, algorithm: Algorithm | None, can_modify: bool) -> None:
    data = _data(data_algorithm)
    go = oracle.ask({"manifest": _manifest(manifest_type), "mime": manifest_type, "desired": DESIRED[desired],
                     "format": algorithm.value if algorithm else "", "canModify": can_modify, "mediaType": layer,
                     "data": base64.b64encode(data).decode()})
    assert "error" not in go, go
    detected = PeekableStream(io.BytesIO(data)).algorithm
    assert (detected.value if detected is not Algorithm.NONE else "") == str(go["detected"]).lower()  # Go: "Xz"
    plan = CompressionPlan(desired=desired, algorithm=algorithm, manifest_type=manifest_type)
    theirs = _go_kind(go)
    what = f"{layer} ({data_algorithm.value}) in {manifest_type}, {desired}, {algorithm}, can_modify={can_modify}"
    # copy_blob's gate: only a layer whose manifest may change, and only if the destination asks.
    if not can_modify or desired is LayerCompression.PRESERVE:
        assert theirs == ("preserve", ""), what
        return
    try:
        step = compression_step(plan, layer, detected)
    except ManifestError as exc:
        # Known difference (module docstring): zstd cannot be named in schema2.
        assert exc.code == "manifest-layer-compression-unsupported", what
        assert manifest_type == SCHEMA2 and theirs[1] == "zstd", what
        return
    if step is None:
        ours = ("preserve", "")
    elif step[0] is Algorithm.NONE:
        ours = ("decompress", "")
    else:
        ours = ("compress" if detected is Algorithm.NONE else "recompress", step[0].value)
    assert ours == theirs, what


@given(cases())
@example((OCI, OCI_LAYERS[0], Algorithm.NONE, LayerCompression.COMPRESS, None, True))  # gzip by default
@example((OCI, OCI_LAYERS[1], Algorithm.GZIP, LayerCompression.COMPRESS, Algorithm.ZSTD, True))  # recompress
@example((OCI, OCI_LAYERS[1], Algorithm.GZIP, LayerCompression.COMPRESS, Algorithm.GZIP, True))  # same: keep
@example((OCI, OCI_LAYERS[1], Algorithm.XZ, LayerCompression.COMPRESS, None, True))  # compressed, no format: keep
@example((OCI, OCI_LAYERS[1], Algorithm.BZIP2, LayerCompression.COMPRESS, Algorithm.GZIP, True))
@example((OCI, OCI_LAYERS[1], Algorithm.ZSTD, LayerCompression.DECOMPRESS, None, True))
@example((OCI, OCI_LAYERS[4], Algorithm.GZIP, LayerCompression.DECOMPRESS, None, True))  # encrypted: keep
@example((OCI, OCI_LAYERS[5], Algorithm.NONE, LayerCompression.COMPRESS, None, True))  # unknown type: keep
@example((SCHEMA2, SCHEMA2_LAYERS[2], Algorithm.NONE, LayerCompression.COMPRESS, Algorithm.ZSTD, True))
@example((SCHEMA2, SCHEMA2_LAYERS[0], Algorithm.GZIP, LayerCompression.DECOMPRESS, None, False))
def test_layer_compression_agrees_with_containers_image(
        oracle: Oracle, case: tuple[str, str, Algorithm, LayerCompression, Algorithm | None, bool]) -> None:
    _check(oracle, *case)
