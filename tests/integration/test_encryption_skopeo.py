"""copy --encryption-key / --decryption-key against skopeo 1.9.3, both ways, locally and through a registry.

What one tool encrypts the other decrypts, for RSA and EC recipients, and the decrypted
image is the plaintext image exactly (same files, byte for byte); ``--encrypt-layer``
picks the same layers as skopeo. Refusals leave nothing at the destination.
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
