"""Encryption composes with the compression step (trustcopy.copy.blobs): decrypt → (de/re)compress → encrypt.

As containers/image: a layer being encrypted first gets the compression the destination
asks for (the same rules as any layer), and its descriptor then names the encrypted blob
(digest, size, ``…+encrypted`` media type of the new compression, annotations over the
bytes encrypted); a decrypted layer gets the destination's compression step too. Diff IDs
never change, nothing at the destination is reused for a transformed layer, and a layer
that fails its HMAC fails the copy with that reason even when its plaintext is not valid
compressed data. The skopeo side of all this is tests/integration/test_encryption_skopeo.py.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from imagefactory import Layer, make_image, make_tar, write_dir, write_oci

from trustcopy import ocicrypt
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.copy.progress import BlobDone
from trustcopy.errors import DigestMismatchError
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

KEYS = Path(__file__).resolve().parents[2] / "fixtures" / "ocicrypt"
RAW = Layer(make_tar([("raw.txt", b"uncompressed\n" * 500)]), compressed=False)
GZ = Layer(make_tar([("gz.txt", b"gzipped\n" * 500)]))
IMAGE = make_image([RAW, GZ], docker=True)
DOCKER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def _copy(src: str, dest: str, *, encrypt: bool = False, decrypt: bool = False,
          events: list[Any] | None = None, **ctx: Any) -> None:
    encryption = ocicrypt.EncryptionConfig(recipients=(ocicrypt.load_encryption_key(f"jwe:{KEYS}/rsa.pub"),))
    keys = (ocicrypt.load_decryption_key(str(KEYS / "rsa.pem")),)
    options = CopyOptions(dest_ctx=SystemContext(**ctx), encryption=encryption if encrypt else None,
                          decryption_keys=keys if decrypt else (),
                          progress=events.append if events is not None else None)
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(dest), parse_image_name(src),
               options)


def _dir(path: Path) -> tuple[dict[str, Any], list[bytes]]:
    manifest = json.loads((path / "manifest.json").read_bytes())
    return manifest, [(path / layer["digest"].split(":")[1]).read_bytes() for layer in manifest["layers"]]


def _plain(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    write_dir(IMAGE, str(tmp_path / "src"))
    return tmp_path / "src"


# (case, destination flags, the two encrypted media types, the two decrypted ones)
CASES = [
    ("dir keeps compression", {}, [f"{OCI_TAR}+encrypted", f"{OCI_TAR}+gzip+encrypted"]),
    ("dir --dest-compress", {"dest_compress": True}, [f"{OCI_TAR}+gzip+encrypted"] * 2),
    ("dir --dest-compress-format zstd", {"dest_compress": True, "compression_format": "zstd"},
     [f"{OCI_TAR}+zstd+encrypted"] * 2),
    ("dir --dest-decompress", {"dest_decompress": True}, [f"{OCI_TAR}+encrypted"] * 2),
]


@pytest.mark.parametrize(("flags", "types"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_encrypted_layers_get_the_destination_compression_first(tmp_path: Path, source: Path,
                                                                 flags: dict[str, Any], types: list[str]) -> None:
    _copy(f"dir:{source}", f"dir:{tmp_path}/enc", encrypt=True, **flags)
    manifest, blobs = _dir(tmp_path / "enc")
    assert [layer["mediaType"] for layer in manifest["layers"]] == types
    key = (ocicrypt.load_decryption_key(str(KEYS / "rsa.pem")),)
    for layer, blob, original in zip(manifest["layers"], blobs, (RAW, GZ), strict=True):
        assert (_sha(blob), len(blob)) == (layer["digest"], layer["size"])  # the descriptor names the encrypted blob
        opened = ocicrypt.LayerDecryption.open(layer["annotations"], key, "layer")
        stream = opened.stream(io.BytesIO(blob))
        plain = b"".join(iter(functools.partial(stream.read, 1 << 16), b""))
        assert opened.sealed_digest == _sha(plain)  # sealed over the bytes actually encrypted
        assert _sha(_plain(plain)) == original.diff_id
    config = (tmp_path / "enc" / manifest["config"]["digest"].split(":")[1]).read_bytes()
    assert json.loads(config)["rootfs"]["diff_ids"] == [RAW.diff_id, GZ.diff_id]

    _copy(f"dir:{tmp_path}/enc", f"dir:{tmp_path}/back", decrypt=True)  # dir: keeps what it gets
    back, plain_blobs = _dir(tmp_path / "back")
    assert [layer["mediaType"] for layer in back["layers"]] == [t.removesuffix("+encrypted") for t in types]
    assert [_sha(_plain(b)) for b in plain_blobs] == [RAW.diff_id, GZ.diff_id]
    assert [(_sha(b), len(b)) for b in plain_blobs] == [(la["digest"], la["size"]) for la in back["layers"]]
    assert all(not any(k.startswith("org.opencontainers.image.enc") for k in la.get("annotations") or {})
               for la in back["layers"])


@pytest.mark.parametrize(("flags", "types", "tars"), [
    ({"dest_decompress": True}, [OCI_TAR] * 2, True),
    ({"dest_compress": True, "compression_format": "zstd"}, [f"{OCI_TAR}+zstd"] * 2, False),
], ids=["decompress", "zstd"])
def test_decrypted_layers_get_the_destination_compression(tmp_path: Path, source: Path, flags: dict[str, Any],
                                                          types: list[str], tars: bool) -> None:
    _copy(f"dir:{source}", f"oci:{tmp_path}/enc:img", encrypt=True)
    _copy(f"oci:{tmp_path}/enc:img", f"dir:{tmp_path}/back", decrypt=True, **flags)
    manifest, blobs = _dir(tmp_path / "back")
    assert [layer["mediaType"] for layer in manifest["layers"]] == types
    assert [_sha(_plain(b)) for b in blobs] == [RAW.diff_id, GZ.diff_id]
    if tars:
        assert blobs == [RAW.tar, GZ.tar]


def test_nothing_at_the_destination_stands_for_a_transformed_layer(tmp_path: Path) -> None:
    write_oci({"plain": make_image([RAW, GZ])}, str(tmp_path / "lay"))
    events: list[Any] = []
    _copy(f"oci:{tmp_path}/lay:plain", f"oci:{tmp_path}/lay:enc", encrypt=True, events=events)
    layers = [e for e in events if isinstance(e, BlobDone) and e.kind == "blob"]
    assert [e.outcome for e in layers].count("done (encrypted)") == 1  # the gzip layer, as stored
    assert [e.outcome for e in layers].count("done (compressed, encrypted)") == 1  # oci: compresses the tar
    index = json.loads((tmp_path / "lay" / "index.json").read_text())
    digest = next(m["digest"] for m in index["manifests"]
                  if m["annotations"]["org.opencontainers.image.ref.name"] == "enc")
    manifest = json.loads((tmp_path / "lay" / "blobs" / "sha256" / digest.split(":")[1]).read_text())
    assert all(la["mediaType"].endswith("+gzip+encrypted") for la in manifest["layers"])
    assert not {la["digest"] for la in manifest["layers"]} & {_sha(RAW.blob), _sha(GZ.blob)}
    # Decrypting into the same layout, which holds the plaintext blobs: read and decrypted all the same.
    events.clear()
    _copy(f"oci:{tmp_path}/lay:enc", f"oci:{tmp_path}/lay:back", decrypt=True, events=events)
    outcomes = [e.outcome for e in events if isinstance(e, BlobDone) and e.kind == "blob"]
    assert outcomes == ["done (decrypted)"] * 2


def test_an_altered_layer_fails_its_hmac_even_when_its_plaintext_does_not_decompress(tmp_path: Path,
                                                                                       source: Path) -> None:
    _copy(f"dir:{source}", f"dir:{tmp_path}/enc", encrypt=True, dest_compress=True)
    manifest, blobs = _dir(tmp_path / "enc")
    altered = bytearray(blobs[1])
    altered[len(altered) // 2] ^= 0xFF  # deflate data, once decrypted: not valid any more
    (tmp_path / "enc" / _sha(bytes(altered)).split(":")[1]).write_bytes(bytes(altered))
    manifest["layers"][1].update(digest=_sha(bytes(altered)))  # the source's digest check passes
    (tmp_path / "enc" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DigestMismatchError) as info:
        _copy(f"dir:{tmp_path}/enc", f"dir:{tmp_path}/out", decrypt=True, dest_decompress=True)
    assert info.value.code == "layer-decryption-failed" and "fails its HMAC" in info.value.message
    assert not (tmp_path / "out").exists()


def test_forced_compression_applies_to_layers_being_encrypted(tmp_path: Path) -> None:
    """--dest-force-compress-format with --encryption-key: the layers are recompressed, then encrypted."""
    write_oci({"x": make_image([RAW, GZ])}, str(tmp_path / "src"))
    _copy(f"oci:{tmp_path}/src:x", f"oci:{tmp_path}/enc:x", encrypt=True, compression_format="zstd",
          force_compression_format=True)
    index = json.loads((tmp_path / "enc" / "index.json").read_bytes())
    blobs = tmp_path / "enc" / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    assert [layer["mediaType"] for layer in manifest["layers"]] == [f"{OCI_TAR}+zstd+encrypted"] * 2
