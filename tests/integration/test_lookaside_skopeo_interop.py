"""The lookaside layout is skopeo 1.9.3's, both ways, on a real registry and one registries.d directory.

- skopeo ``copy --sign-by`` to ``docker://`` writes its signature into the ``*-staging``
  store; the path our registries.d + lookaside code computes for that reference and
  digest is exactly the file skopeo wrote, and our reader returns that signature
  (verified with the signer's key for that digest and identity).
- our writer stores a signature for another image pushed by skopeo; ``skopeo copy
  --policy`` (signedBy) accepts the image with it, and rejects it before it is written.

Both are run with the current keys (``lookaside``/``lookaside-staging``) and the legacy
ones (``sigstore``/``sigstore-staging``). Phase 1 has no docker:// signature support in
trustcopy itself, so skopeo pushes the images.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Layer, example_image, make_image, make_tar, write_oci
from registry_fixtures import RegistryServer

from trustcopy.digest import Digest
from trustcopy.reference import parse_named
from trustcopy.signature.formats import SimpleSigning
from trustcopy.signature.gpg import GPGKeyring
from trustcopy.signature.simple import sign_simple_signing, verify_simple_signing
from trustcopy.stores.lookaside import read_signatures, write_signatures
from trustcopy.stores.registries_d import load_registries_d

pytestmark = [pytest.mark.registry, pytest.mark.skopeo, pytest.mark.gpg]

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
KEYS = {"current": ("lookaside", "lookaside-staging"), "legacy": ("sigstore", "sigstore-staging")}


def skopeo(home: GPGHome, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], env=home.env, capture_output=True, text=True, timeout=120, check=False)


def setup_registries_d(tmp_path: Path, host: str, keys: tuple[str, str]) -> tuple[Path, Path]:
    """A registries.d directory whose section for ``host`` reads and writes the store ``tmp/store``."""
    store = tmp_path / "store"
    regd = tmp_path / "registries.d"
    regd.mkdir()
    read_key, write_key = keys
    (regd / "interop.yaml").write_text(
        f'docker:\n  "{host}":\n    {read_key}: file://{store}\n    {write_key}: file://{store}\n'
        # another section and an unknown key, as a shared file would have them
        '  "other.example":\n    lookaside: https://sigs.other.example\n    podman-only-key: true\n'
    )
    return regd, store


def files_under(path: Path) -> list[str]:
    return sorted(str(Path(root) / name) for root, _, names in os.walk(path) for name in names)


@pytest.mark.parametrize("keys", list(KEYS.values()), ids=list(KEYS))
def test_skopeo_signature_is_where_we_compute_and_we_read_it(
        plain_registry: RegistryServer, example_home: GPGHome, tmp_path: Path, keys: tuple[str, str]) -> None:
    host = plain_registry.host
    regd, store = setup_registries_d(tmp_path, host, keys)
    write_oci({"t": example_image()}, str(tmp_path / "src"))
    digestfile = tmp_path / "digest"
    r = skopeo(example_home, "--insecure-policy", "--registries.d", str(regd), "copy", "-q", "--sign-by", FPR,
               "--dest-tls-verify=false", "--digestfile", str(digestfile), f"oci:{tmp_path}/src:t",
               f"docker://{host}/ns/app:1")
    assert r.returncode == 0, r.stderr
    digest = Digest.parse(digestfile.read_text().strip())

    config = load_registries_d(str(regd), report_warnings=False)
    assert [w.key for w in config.warnings] == ['docker."other.example".podman-only-key']
    image = parse_named(f"{host}/ns/app:1")
    write_choice = config.lookaside_choice(image, write=True)
    assert write_choice.key == keys[1]
    # exactly one file in the store, at the path we compute (host left out, as skopeo does)
    assert files_under(store) == [write_choice.location.signature_path(digest, 1)]
    assert write_choice.location.signature_path(digest, 1) == f"{store}/ns/app@sha256={digest.hex}/signature-1"

    sigs = read_signatures(config.lookaside(image, write=False), digest)
    assert len(sigs) == 1 and isinstance(sigs[0], SimpleSigning)

    def same_digest(d: Digest) -> None:
        assert d == digest

    def same_identity(name: str) -> None:
        assert name == f"{host}/ns/app:1"

    with GPGKeyring([(KEYS_EXAMPLE / "pubring.gpg").read_bytes()]) as keyring:
        verified = verify_simple_signing(sigs[0], keyring, validate_signed_docker_reference=same_identity,
                                         validate_signed_docker_manifest_digest=same_digest)
    assert verified.key_fingerprint == FPR


@pytest.mark.parametrize("keys", list(KEYS.values()), ids=list(KEYS))
def test_skopeo_accepts_the_signature_our_writer_placed(
        plain_registry: RegistryServer, example_home: GPGHome, tmp_path: Path, keys: tuple[str, str]) -> None:
    host = plain_registry.host
    regd, store = setup_registries_d(tmp_path, host, keys)
    image = make_image([Layer(make_tar([("f", b"lookaside interop")]))])
    write_oci({"t": image}, str(tmp_path / "src"))
    digestfile = tmp_path / "digest"
    pushed = skopeo(example_home, "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "--digestfile",
                    str(digestfile), f"oci:{tmp_path}/src:t", f"docker://{host}/ns/other:1")
    assert pushed.returncode == 0, pushed.stderr
    digest = Digest.parse(digestfile.read_text().strip())
    manifest = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/ns/other:1"],
                              capture_output=True, check=True, timeout=60).stdout
    assert Digest.from_bytes(manifest) == digest

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {host: [{"type": "signedBy", "keyType": "GPGKeys",
                                          "keyPath": str(KEYS_EXAMPLE / "pubring.gpg")}]}},
    }))

    def pull(out: str) -> subprocess.CompletedProcess[str]:
        return skopeo(example_home, "--policy", str(policy), "--registries.d", str(regd), "copy", "-q",
                      "--src-tls-verify=false", f"docker://{host}/ns/other:1", f"dir:{tmp_path}/{out}")

    refused = pull("before")
    assert refused.returncode != 0 and "signature" in refused.stderr.lower()

    config = load_registries_d(str(regd), report_warnings=False)
    location = config.lookaside(parse_named(f"{host}/ns/other:1"), write=True)
    blob = sign_simple_signing(manifest, f"{host}/ns/other:1", FPR, gnupg_home=example_home.path)
    write_signatures(location, digest, [SimpleSigning(blob)])
    assert files_under(store) == [f"{store}/ns/other@sha256={digest.hex}/signature-1"]

    accepted = pull("after")
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / "after" / "manifest.json").read_bytes() == manifest
