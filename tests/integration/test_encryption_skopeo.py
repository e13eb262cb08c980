"""copy --encryption-key / --decryption-key against skopeo 1.9.3, both ways, locally and through a registry.

What one tool encrypts the other decrypts, for RSA and EC recipients, and the decrypted
image is the plaintext image exactly (same files, byte for byte); ``--encrypt-layer``
picks the same layers as skopeo. Encryption composes with compression as in skopeo
(decrypt → the destination's compression step → encrypt): an uncompressed layer becomes
``tar+gzip+encrypted``, ``--dest-compress-format zstd`` gives ``tar+zstd+encrypted``, with
the same media types as skopeo 1.9.3 writes. Refusals leave nothing at the destination.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, write_oci
from registry_fixtures import RegistryServer

pytestmark = pytest.mark.skopeo

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "ocicrypt"
L1, L2 = Layer(make_tar([("a.txt", b"first\n" * 300)])), Layer(make_tar([("b.txt", b"second\n" * 300)]))
IMAGE = make_image([L1, L2, L1])  # the first layer twice: --encrypt-layer picks positions, not digests


def skopeo(*args: str) -> None:
    r = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 0, r.stderr


def _tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _layer_types(layout: Path) -> list[str]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text())
    return [layer["mediaType"] for layer in manifest["layers"]]


def _skopeo_encrypted(source: Path, tmp_path: Path) -> Path:
    """``source``'s image, encrypted by skopeo for the RSA test key, as the layout ``enc`` (image ``img``)."""
    skopeo("copy", "-q", "--encryption-key", f"jwe:{KEYS}/rsa.pub", f"oci:{source}:img", f"oci:{tmp_path}/enc:img")
    return tmp_path / "enc"


@pytest.fixture
def source(tmp_path: Path, run_cli, insecure_policy: Path) -> Path:  # type: ignore[no-untyped-def]
    write_oci({"img": IMAGE}, str(tmp_path / "src"))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{tmp_path}/src:img", f"dir:{tmp_path}/plain")
    assert r.exit_code == 0, r.stderr
    return tmp_path / "src"


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_skopeo_decrypts_what_trustcopy_encrypted(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                                  source: Path, key: str) -> None:
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--encryption-key", f"jwe:{KEYS}/rsa.pub",
                "--encryption-key", f"jwe:{KEYS}/ec.pub", f"oci:{source}:img", f"oci:{tmp_path}/enc:img")
    assert r.exit_code == 0, r.stderr
    assert all(t.endswith("+gzip+encrypted") for t in _layer_types(tmp_path / "enc"))
    skopeo("copy", "-q", "--decryption-key", f"{KEYS}/{key}.pem", f"oci:{tmp_path}/enc:img", f"dir:{tmp_path}/back")
    assert _tree(tmp_path / "back") == _tree(tmp_path / "plain")


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_trustcopy_decrypts_what_skopeo_encrypted(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                                  source: Path, key: str) -> None:
    skopeo("copy", "-q", "--encryption-key", f"jwe:{KEYS}/rsa.pub", "--encryption-key", f"jwe:{KEYS}/ec.pub",
           f"oci:{source}:img", f"oci:{tmp_path}/enc:img")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/{key}.pem",
                f"oci:{tmp_path}/enc:img", f"dir:{tmp_path}/back")
    assert r.exit_code == 0, r.stderr
    assert _tree(tmp_path / "back") == _tree(tmp_path / "plain")


def test_encrypt_layer_picks_the_positions_skopeo_picks(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                                        source: Path) -> None:
    flags = ["--encryption-key", f"jwe:{KEYS}/rsa.pub", "--encrypt-layer", "1", "--encrypt-layer", "-1"]
    skopeo("copy", "-q", *flags, f"oci:{source}:img", f"oci:{tmp_path}/sk:img")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *flags, f"oci:{source}:img", f"oci:{tmp_path}/tc:img")
    assert r.exit_code == 0, r.stderr
    assert _layer_types(tmp_path / "tc") == _layer_types(tmp_path / "sk")
    assert [t.endswith("+encrypted") for t in _layer_types(tmp_path / "tc")] == [False, True, True]
    skopeo("copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem", f"oci:{tmp_path}/tc:img", f"dir:{tmp_path}/back")
    assert _tree(tmp_path / "back") == _tree(tmp_path / "plain")


def test_comma_separated_encryption_flags_mean_what_they_mean_to_skopeo(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      insecure_policy: Path, source: Path) -> None:
    # skopeo declares these as pflag StringSlice/IntSlice: each occurrence is a comma-separated list.
    flags = ["--encryption-key", f"jwe:{KEYS}/rsa.pub,jwe:{KEYS}/ec.pub", "--encrypt-layer", "1,-1"]
    skopeo("copy", "-q", *flags, f"oci:{source}:img", f"oci:{tmp_path}/sk:img")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *flags, f"oci:{source}:img", f"oci:{tmp_path}/tc:img")
    assert r.exit_code == 0, r.stderr
    assert [t.endswith("+encrypted") for t in _layer_types(tmp_path / "tc")] == [False, True, True]
    assert _layer_types(tmp_path / "tc") == _layer_types(tmp_path / "sk")
    # One --decryption-key occurrence holding both keys: two keys, as in skopeo.
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem,{KEYS}/ec.pem",
                f"oci:{tmp_path}/tc:img", f"dir:{tmp_path}/back")
    assert r.exit_code == 0, r.stderr
    assert _tree(tmp_path / "back") == _tree(tmp_path / "plain")
    # A list naming a key that does not exist is refused by name (it was one path with a comma before).
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem,{KEYS}/none.pem",
                f"oci:{tmp_path}/tc:img", f"dir:{tmp_path}/back2")
    assert r.exit_code == 1 and f"cannot read the decryption key {KEYS}/none.pem" in r.stderr
    assert not (tmp_path / "back2").exists()


@pytest.mark.parametrize("value", ["x", "", "1,", "1.5", "٣", "--1"])
def test_an_encrypt_layer_that_is_not_an_integer_list_is_a_usage_error(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                       insecure_policy: Path, source: Path,
                                                                       value: str) -> None:
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--encryption-key", f"jwe:{KEYS}/rsa.pub",
                f"--encrypt-layer={value}", f"oci:{source}:img", f"oci:{tmp_path}/tc:img")
    assert r.exit_code == 2, r.stderr
    assert f"invalid argument {value!r} for --encrypt-layer" in r.stderr
    assert not (tmp_path / "tc").exists()


def test_through_a_registry_both_ways(run_cli, tmp_path: Path, insecure_policy: Path, source: Path,  # type: ignore[no-untyped-def]
                                      plain_registry: RegistryServer) -> None:
    reg = plain_registry.host
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false", "--encryption-key",
                f"jwe:{KEYS}/ec.pub", f"oci:{source}:img", f"docker://{reg}/enc/ours:1")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--src-tls-verify=false", "--decryption-key", f"{KEYS}/ec.pem",
           f"docker://{reg}/enc/ours:1", f"dir:{tmp_path}/by-skopeo")
    skopeo("copy", "-q", "--dest-tls-verify=false", "--encryption-key", f"jwe:{KEYS}/rsa.pub",
           f"oci:{source}:img", f"docker://{reg}/enc/theirs:1")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--decryption-key",
                f"{KEYS}/rsa.pem", f"docker://{reg}/enc/theirs:1", f"dir:{tmp_path}/by-trustcopy")
    assert r.exit_code == 0, r.stderr
    assert _tree(tmp_path / "by-skopeo") == _tree(tmp_path / "plain") == _tree(tmp_path / "by-trustcopy")


def test_without_a_key_encrypted_layers_are_copied_as_they_are(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               insecure_policy: Path, source: Path) -> None:
    _skopeo_encrypted(source, tmp_path)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{tmp_path}/enc:img", f"oci:{tmp_path}/copy:img")
    assert r.exit_code == 0, r.stderr
    assert _layer_types(tmp_path / "copy") == _layer_types(tmp_path / "enc")
    skopeo("copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem", f"oci:{tmp_path}/copy:img", f"dir:{tmp_path}/back")
    assert _tree(tmp_path / "back") == _tree(tmp_path / "plain")


def test_a_wrong_key_or_an_altered_layer_writes_nothing(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        insecure_policy: Path, source: Path) -> None:
    _skopeo_encrypted(source, tmp_path)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/ec.pem",
                f"oci:{tmp_path}/enc:img", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "error[decryption-no-key]" in r.stderr and "none of the --decryption-key keys" in r.stderr
    assert not (tmp_path / "out").exists()
    # Re-encrypt the first layer's ciphertext under a descriptor that matches it: the source
    # digest checks pass, only the HMAC (keyed by the wrapped key) can tell.
    layout = tmp_path / "enc"
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    layer = manifest["layers"][1]
    blob = bytearray((layout / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes())
    blob[10] ^= 1
    digest = hashlib.sha256(blob).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(bytes(blob))
    layer["digest"] = f"sha256:{digest}"
    new_manifest = json.dumps(manifest).encode()
    new_digest = hashlib.sha256(new_manifest).hexdigest()
    (layout / "blobs" / "sha256" / new_digest).write_bytes(new_manifest)
    index["manifests"][0].update(digest=f"sha256:{new_digest}", size=len(new_manifest))
    (layout / "index.json").write_text(json.dumps(index))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem",
                f"oci:{layout}:img", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "error[layer-decryption-failed]" in r.stderr and "fails its HMAC" in r.stderr
    assert not (tmp_path / "out").exists()


def test_refusals_name_the_reason_and_write_nothing(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                                    source: Path) -> None:
    enc = ["--encryption-key", f"jwe:{KEYS}/rsa.pub"]
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *enc, f"oci:{source}:img",
                f"docker-archive:{tmp_path}/a.tar")
    assert r.exit_code == 1 and "error[encryption-needs-oci]" in r.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *enc, "--encrypt-layer", "3", f"oci:{source}:img",
                f"oci:{tmp_path}/o:img")
    assert r.exit_code == 1 and "--encrypt-layer 3 is out of range (3 layers)" in r.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *enc, "--preserve-digests", f"oci:{source}:img",
                f"oci:{tmp_path}/o:img")
    assert r.exit_code == 2 and "--preserve-digests cannot be combined with --encryption-key" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insecure-policy.json", "plain", "src"]


def test_signatures_are_never_carried_onto_an_encrypted_manifest(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 insecure_policy: Path, source: Path) -> None:
    signed = tmp_path / "plain"
    (signed / "signature-1").write_bytes(b"\x00opaque signature bytes")
    enc = ["--encryption-key", f"jwe:{KEYS}/rsa.pub"]
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *enc, f"dir:{signed}", f"dir:{tmp_path}/o")
    assert r.exit_code == 1 and "error[encryption-refused]" in r.stderr and "--remove-signatures" in r.stderr
    assert not (tmp_path / "o").exists()
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *enc, "--remove-signatures", f"dir:{signed}",
                f"oci:{tmp_path}/o:img")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem", f"oci:{tmp_path}/o:img", f"dir:{tmp_path}/back")
    assert _tree(tmp_path / "back") == {k: v for k, v in _tree(signed).items() if k != "signature-1"}


def test_all_instances_of_a_list_are_encrypted_and_skopeo_decrypts_them(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                       insecure_policy: Path) -> None:
    from imagefactory import make_index, sha256

    images = [(make_image([Layer(make_tar([(f"{arch}.txt", arch.encode() * 100)]))], arch=arch),
               {"os": "linux", "architecture": arch}) for arch in ("amd64", "arm64")]
    index, blobs = make_index(images)
    layout = tmp_path / "multi"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    for digest, data in {**blobs, sha256(index): index}.items():
        (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256(index), "size": len(index),
        "annotations": {"org.opencontainers.image.ref.name": "m"}}]}))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--all", "--encryption-key", f"jwe:{KEYS}/ec.pub",
                f"oci:{layout}:m", f"oci:{tmp_path}/enc:m")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--all", "--decryption-key", f"{KEYS}/ec.pem", f"oci:{tmp_path}/enc:m",
           f"oci:{tmp_path}/back:m")
    for image, plat in images:
        arch = plat["architecture"]
        skopeo("copy", "-q", "--override-arch", arch, f"oci:{tmp_path}/back:m", f"dir:{tmp_path}/back-{arch}")
        skopeo("copy", "-q", "--override-arch", arch, f"oci:{layout}:m", f"dir:{tmp_path}/plain-{arch}")
        assert _tree(tmp_path / f"back-{arch}") == _tree(tmp_path / f"plain-{arch}")
        assert not (tmp_path / "enc" / "blobs" / "sha256" / image.digest.split(":")[1]).exists()  # all re-written


def test_an_encrypted_layer_is_not_encrypted_again(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   insecure_policy: Path, source: Path) -> None:
    _skopeo_encrypted(source, tmp_path)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--encryption-key", f"jwe:{KEYS}/ec.pub",
                f"oci:{tmp_path}/enc:img", f"oci:{tmp_path}/twice:img")
    assert r.exit_code == 1
    assert "error[encryption-layer-encrypted]" in r.stderr and "is already encrypted" in r.stderr
    assert not (tmp_path / "twice").exists()


def test_decrypting_into_a_docker_archive_converts_to_schema2(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              insecure_policy: Path, source: Path) -> None:
    _skopeo_encrypted(source, tmp_path)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem",
                f"oci:{tmp_path}/enc:img", f"docker-archive:{tmp_path}/a.tar:example.com/app:1")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", f"docker-archive:{tmp_path}/a.tar", f"dir:{tmp_path}/back")  # skopeo verifies every layer
    skopeo("copy", "-q", f"dir:{tmp_path}/plain", f"docker-archive:{tmp_path}/b.tar:example.com/app:1")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


# --- Encryption after the compression step ---------------------------------------------------

RAW, GZ = (Layer(make_tar([("raw.txt", b"uncompressed\n" * 400)]), compressed=False),
           Layer(make_tar([("gz.txt", b"gzipped\n" * 400)])))
MIXED = make_image([RAW, GZ])  # an uncompressed layer, then a gzip one
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def _manifest(layout: Path) -> dict:  # type: ignore[type-arg]
    index = json.loads((layout / "index.json").read_text())
    return json.loads((layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text())


def _uncompressed(data: bytes) -> bytes:
    import gzip

    import zstandard

    if data[:3] == b"\x1f\x8b\x08":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _check_decrypted_dir(path: Path, types: list[str]) -> None:
    """A decrypted ``dir:`` image: layers of ``types`` whose contents are MIXED's diff IDs, MIXED's config."""
    manifest = json.loads((path / "manifest.json").read_text())
    assert [layer["mediaType"] for layer in manifest["layers"]] == types
    assert (path / manifest["config"]["digest"].split(":")[1]).read_bytes() == MIXED.config  # diff IDs unchanged
    for layer, diff_id in zip(manifest["layers"], (RAW.diff_id, GZ.diff_id), strict=True):
        blob = (path / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"] and len(blob) == layer["size"]
        assert "sha256:" + hashlib.sha256(_uncompressed(blob)).hexdigest() == diff_id


def _check_encrypted_layout(layout: Path, decrypted: Path) -> None:
    """Each encrypted descriptor names its blob (digest, size), and seals the digest of the bytes it encrypts
    (those skopeo decrypted into ``decrypted``)."""
    from trustcopy import ocicrypt

    key = ocicrypt.load_decryption_key(str(KEYS / "rsa.pem"))
    plain = json.loads((decrypted / "manifest.json").read_text())["layers"]
    for layer, clear in zip(_manifest(layout)["layers"], plain, strict=True):
        blob = (layout / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
        assert len(blob) == layer["size"] == clear["size"]  # (AES-CTR keeps the size)
        opened = ocicrypt.LayerDecryption.open(layer["annotations"], (key,), "layer")
        assert opened.sealed_digest == clear["digest"]
        assert layer["mediaType"] == clear["mediaType"] + "+encrypted"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    write_oci({"img": MIXED}, str(tmp_path / "mixed"))
    return tmp_path / "mixed"


@pytest.mark.parametrize(("flags", "algorithm"), [([], "gzip"), (["--dest-compress-format", "zstd"], "zstd")],
                         ids=["default-gzip", "zstd"])
def test_layers_are_compressed_then_encrypted_as_skopeo_does(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                             insecure_policy: Path, mixed: Path, flags: list[str],
                                                             algorithm: str) -> None:
    enc = ["--encryption-key", f"jwe:{KEYS}/rsa.pub", "--encryption-key", f"jwe:{KEYS}/ec.pub"]
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *flags, *enc, f"oci:{mixed}:img",
                f"oci:{tmp_path}/tc:img")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", *flags, *enc, f"oci:{mixed}:img", f"oci:{tmp_path}/sk:img")
    expected = [f"{OCI_TAR}+{algorithm}+encrypted"] * 2  # the uncompressed layer too (oci: compresses)
    assert _layer_types(tmp_path / "tc") == _layer_types(tmp_path / "sk") == expected
    # skopeo decrypts ours, we decrypt skopeo's and our own; every layer holds the plaintext tar.
    # (skopeo seals the digest of the uncompressed tar it read in the key of the layer it compressed:
    # trustcopy must decrypt that all the same, naming the layer by the bytes it decrypts.)
    skopeo("copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem", f"oci:{tmp_path}/tc:img", f"dir:{tmp_path}/by-sk")
    for name, key in (("sk", "ec"), ("tc", "ec")):
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/{key}.pem",
                    f"oci:{tmp_path}/{name}:img", f"dir:{tmp_path}/by-tc-{name}")
        assert r.exit_code == 0, r.stderr
    for out in ("by-sk", "by-tc-sk", "by-tc-tc"):
        _check_decrypted_dir(tmp_path / out, [f"{OCI_TAR}+{algorithm}"] * 2)
    _check_encrypted_layout(tmp_path / "tc", tmp_path / "by-sk")
    if algorithm == "gzip":  # the gzip layer was encrypted as it was stored: it decrypts to the source's blob
        assert (tmp_path / "by-sk" / hashlib.sha256(GZ.blob).hexdigest()).read_bytes() == GZ.blob


def test_an_uncompressed_layer_pushed_encrypted_is_gzip_encrypted(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                  insecure_policy: Path, mixed: Path,
                                                                  plain_registry: RegistryServer) -> None:
    reg = plain_registry.host
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false", "--encryption-key",
                f"jwe:{KEYS}/rsa.pub", "--encrypt-layer", "0", f"oci:{mixed}:img", f"docker://{reg}/enc/raw:1")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{reg}/enc/raw:1", f"oci:{tmp_path}/pulled:img")
    assert _layer_types(tmp_path / "pulled") == [f"{OCI_TAR}+gzip+encrypted", f"{OCI_TAR}+gzip"]
    skopeo("copy", "-q", "--src-tls-verify=false", "--decryption-key", f"{KEYS}/rsa.pem",
           f"docker://{reg}/enc/raw:1", f"dir:{tmp_path}/back")
    _check_decrypted_dir(tmp_path / "back", [f"{OCI_TAR}+gzip"] * 2)
    # Decrypted registry to registry, recompressed on the way (the layer left unencrypted is one the
    # registry holds: reused as it is, as any layer without --dest-force-compress-format); skopeo reads it.
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                "--decryption-key", f"{KEYS}/rsa.pem", "--dest-compress-format", "zstd",
                f"docker://{reg}/enc/raw:1", f"docker://{reg}/dec/raw:1")
    assert r.exit_code == 0, r.stderr
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{reg}/dec/raw:1", f"dir:{tmp_path}/dec")
    _check_decrypted_dir(tmp_path / "dec", [f"{OCI_TAR}+zstd", f"{OCI_TAR}+gzip"])


def test_a_decrypted_layer_gets_the_destination_compression(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            insecure_policy: Path, mixed: Path) -> None:
    skopeo("copy", "-q", "--encryption-key", f"jwe:{KEYS}/rsa.pub", f"oci:{mixed}:img", f"oci:{tmp_path}/enc:img")
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem",
                "--dest-decompress", f"oci:{tmp_path}/enc:img", f"dir:{tmp_path}/raw")
    assert r.exit_code == 0, r.stderr
    _check_decrypted_dir(tmp_path / "raw", [OCI_TAR] * 2)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--decryption-key", f"{KEYS}/rsa.pem",
                "--dest-compress-format", "zstd", f"oci:{tmp_path}/enc:img", f"oci:{tmp_path}/zst:img")
    assert r.exit_code == 0, r.stderr
    assert _layer_types(tmp_path / "zst") == [f"{OCI_TAR}+zstd"] * 2
    skopeo("copy", "-q", f"oci:{tmp_path}/zst:img", f"dir:{tmp_path}/zst-dir")  # skopeo reads it
    _check_decrypted_dir(tmp_path / "zst-dir", [f"{OCI_TAR}+zstd"] * 2)
