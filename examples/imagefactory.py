"""Deterministic synthetic container images, for the demo, the tests and the benchmarks.

Everything is reproducible byte for byte: tar entries have fixed owners, modes and
mtimes; gzip headers carry no name or time; configs carry a fixed creation date. The
same arguments therefore always give the same digests, which is what lets tests
compare trustcopy and skopeo results and lets a reviewer rebuild the example image.

Usage as a script:  python examples/imagefactory.py oci:/tmp/layout:tag
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field

CREATED = "2024-01-01T00:00:00Z"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_tar(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A reproducible tar of (path, content) regular files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1704067200
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """Reproducible gzip (no file name, mtime 0)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass
class Layer:
    """A layer: its uncompressed tar, and the bytes stored (compressed or not)."""

    tar: bytes
    compressed: bool = True

    @property
    def blob(self) -> bytes:
        """The stored bytes."""
        return gzip_bytes(self.tar) if self.compressed else self.tar

    @property
    def diff_id(self) -> str:
        """Digest of the uncompressed tar (rootfs.diff_ids)."""
        return sha256(self.tar)


@dataclass
class Image:
    """An image ready to be written: manifest, config, blobs."""

    manifest: bytes
    config: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The manifest digest."""
        return sha256(self.manifest)


def make_image(
    layers: list[Layer],
    *,
    docker: bool = False,
    arch: str = "amd64",
    os_name: str = "linux",
    variant: str | None = None,
    labels: dict[str, str] | None = None,
    env: list[str] | None = None,
) -> Image:
    """Build an OCI (or Docker schema2) image from layers."""
    config_obj: dict[str, object] = {
        "created": CREATED,
        "architecture": arch,
        "os": os_name,
        "config": {"Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"], "Labels": labels or {"org.example.demo": "trustcopy"}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"layer {i}"} for i in range(len(layers))],
    }
    if variant:
        config_obj["variant"] = variant
    config = _dumps(config_obj)
    blobs = {sha256(config): config}
    layer_descs = []
    for layer in layers:
        blob = layer.blob
        blobs[sha256(blob)] = blob
        if docker:
            mt = DOCKER_LAYER_GZIP if layer.compressed else "application/vnd.docker.image.rootfs.diff.tar"
        else:
            mt = OCI_LAYER_GZIP if layer.compressed else OCI_LAYER
        layer_descs.append({"mediaType": mt, "digest": sha256(blob), "size": len(blob)})
    manifest_obj = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": sha256(config),
                   "size": len(config)},
        "layers": layer_descs,
    }
    return Image(manifest=_dumps(manifest_obj), config=config, blobs=blobs)


def example_image() -> Image:
    """The small image the README's demo copies."""
    return make_image([
        Layer(make_tar([("hello.txt", b"Hello from trustcopy!\n")])),
        Layer(make_tar([("etc/motd", b"This image was built by examples/imagefactory.py\n")])),
    ])


def random_layer(size: int, seed: int) -> Layer:
    """An incompressible layer of about ``size`` bytes, deterministic for ``seed``."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha512(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return Layer(make_tar([(f"data-{seed}.bin", bytes(out[:size]))]))


def write_dir(image: Image, path: str) -> None:
    """Write ``image`` in skopeo's dir: format."""
    os.makedirs(path, exist_ok=True)
    for digest, data in image.blobs.items():
        with open(os.path.join(path, digest.split(":", 1)[1]), "wb") as f:
            f.write(data)
    with open(os.path.join(path, "manifest.json"), "wb") as f:
        f.write(image.manifest)
    with open(os.path.join(path, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")


def write_oci(images: dict[str, Image], path: str, index_entries: list[dict[str, object]] | None = None) -> None:
    """Write images into a new OCI layout, each named by its key (ref.name)."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    manifests = []
    for name, image in images.items():
        for digest, data in {**image.blobs, image.digest: image.manifest}.items():
            with open(os.path.join(path, "blobs", "sha256", digest.split(":", 1)[1]), "wb") as f:
                f.write(data)
        mt = json.loads(image.manifest).get("mediaType", OCI_MANIFEST)
        desc: dict[str, object] = {"mediaType": mt, "digest": image.digest, "size": len(image.manifest)}
        if name:
            desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        manifests.append(desc)
    manifests.extend(index_entries or [])
    with open(os.path.join(path, "oci-layout"), "wb") as f:
        f.write(b'{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "wb") as f:
        f.write(_dumps({"schemaVersion": 2, "manifests": manifests}))


def make_index(images: list[tuple[Image, dict[str, str]]], *, docker: bool = False) -> tuple[bytes, dict[str, bytes]]:
    """A manifest list / OCI index over images with platforms; returns (bytes, all blobs incl. manifests)."""
    entries = []
    blobs: dict[str, bytes] = {}
    for image, plat in images:
        entries.append({"mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST, "digest": image.digest,
                        "size": len(image.manifest), "platform": plat})
        blobs.update(image.blobs)
        blobs[image.digest] = image.manifest
    index = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX, "manifests": entries}
    return _dumps(index), blobs


def main(argv: list[str]) -> int:
    """Write the example image to ``oci:PATH:TAG`` or ``dir:PATH``."""
    if len(argv) != 1 or not argv[0].startswith(("oci:", "dir:")):
        print("usage: imagefactory.py oci:PATH[:TAG] | dir:PATH", file=sys.stderr)
        return 2
    transport, _, rest = argv[0].partition(":")
    image = example_image()
    if transport == "dir":
        write_dir(image, rest)
    else:
        path, _, tag = rest.partition(":")
        write_oci({tag: image}, path)
    print(f"wrote {argv[0]} ({image.digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
