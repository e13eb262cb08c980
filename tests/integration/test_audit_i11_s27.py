"""Acceptance audit of issue 11 (sigstore), session 27: the gaps the existing suite left.

- skopeo 1.9.3 interop on the cosign attachment layout (Debian's skopeo cannot sign or verify
  sigstore, but its containers/image 5.23 reads and writes attachments with
  ``use-sigstore-attachments``): skopeo pulls what trustcopy signed into ``dir:``, trustcopy
  accepts skopeo's copy; both tools push the same signature to byte-identical attachment
  manifests, append a second one identically, and de-duplicate a repeated one identically.
- ``copy --sign-by-sigstore-private-key`` given a file that is not a usable cosign private key
  (through the CLI, not the loader alone): exit 1, the file named, nothing at the destination,
  and no scrypt work for a malformed envelope.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_oci
from registry_fixtures import RegistryServer
from registry_sigstore import COSIGN_MIME, OCI_MANIFEST, SIG_ANN, Site, get_blob, get_manifest, isolated_site, sig_tag

from trustcopy.digest import Digest

IDENTITY_REPO = "team/app"


@pytest.fixture
def site(tmp_path: Path, plain_registry: RegistryServer, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    return isolated_site(tmp_path, plain_registry.host, run_cli, monkeypatch)


def skopeo(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """skopeo 1.9.3 with the site's registries.d (use-sigstore-attachments for the registry)."""
    env = {**os.environ, "HOME": str(site.tmp), "XDG_RUNTIME_DIR": str(site.tmp)}
    env.pop("REGISTRY_AUTH_FILE", None)
    return subprocess.run(["skopeo", "--insecure-policy", "--registries.d", str(site.regd),
                           "--registries-conf", str(site.conf), *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def attachment_bytes(site: Site, repo: str, digest: str) -> bytes:
    r = get_manifest(site.host, repo, sig_tag(digest))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == OCI_MANIFEST
    return r.content


def dir_policy(site: Site, name: str = "dir-policy.json") -> Path:
    """sigstoreSigned by the site's key for ``dir:`` (the payload names HOST/team/app) and the registry."""
    req = {"type": "sigstoreSigned", "keyPath": str(site.public_key),
           "signedIdentity": {"type": "exactRepository", "dockerRepository": f"{site.host}/{IDENTITY_REPO}"}}
    path = site.tmp / name
    path.write_text(json.dumps({"default": [{"type": "reject"}],
                                "transports": {"dir": {"": [req]}, "docker": {site.host: [req]}}}))
    return path


def locations_accepted(site: Site, image: str, policy: Path) -> list[str]:
    """``verify --output json``: where each accepted signature was found (the verdict trace)."""
    v = site.run("verify", "--tls-verify=false", "--output", "json", image, policy=policy)
    assert v.exit_code == 0, v.stdout + v.stderr
    [verdict] = json.loads(v.stdout)["images"]
    return [sig["location"] for req in verdict["verdict"]["requirements"] for sig in req["signatures"]
            if sig["status"] == "accepted"]


@pytest.mark.registry
@pytest.mark.skopeo
def test_skopeo_and_trustcopy_agree_on_the_attachment_layout(site: Site) -> None:
    image = example_image()
    digest = str(Digest.from_bytes(image.manifest))
    assert site.sign_push(image, f"{IDENTITY_REPO}:1").exit_code == 0
    ours = json.loads(attachment_bytes(site, IDENTITY_REPO, digest))
    [layer] = ours["layers"]

    # skopeo reads trustcopy's attachment into dir: as c/i's sigstore-json envelope, byte for byte
    r = skopeo(site, "copy", "-q", "--src-tls-verify=false", f"docker://{site.host}/{IDENTITY_REPO}:1",
               f"dir:{site.tmp}/by-skopeo")
    assert r.returncode == 0, r.stderr
    blob = (site.tmp / "by-skopeo" / "signature-1").read_bytes()
    assert blob.startswith(b"\x00sigstore-json\n")
    chunk = json.loads(blob.split(b"\n", 1)[1])
    assert chunk["mimeType"] == COSIGN_MIME
    assert base64.b64decode(chunk["payload"]) == get_blob(site.host, IDENTITY_REPO, layer["digest"])
    assert chunk["annotations"] == layer["annotations"] and list(layer["annotations"]) == [SIG_ANN]
    assert not (site.tmp / "by-skopeo" / "signature-2").exists()
    # ... and trustcopy accepts what skopeo wrote, naming where it found the signature
    policy = dir_policy(site)
    assert locations_accepted(site, f"dir:{site.tmp}/by-skopeo", policy) == [f"dir:{site.tmp}/by-skopeo/signature-1"]

    # both tools push that dir: to a fresh repository: the same attachment manifest, byte for byte
    def push_both(source: str) -> tuple[bytes, bytes]:
        s = skopeo(site, "copy", "-q", "--dest-tls-verify=false", f"dir:{source}",
                   f"docker://{site.host}/by-skopeo/app:1")
        assert s.returncode == 0, s.stderr
        t = site.run("copy", "-q", "--dest-tls-verify=false", f"dir:{source}", f"docker://{site.host}/by-us/app:1")
        assert t.exit_code == 0, t.stderr
        return attachment_bytes(site, "by-skopeo/app", digest), attachment_bytes(site, "by-us/app", digest)

    theirs_1, ours_1 = push_both(str(site.tmp / "by-skopeo"))
    assert theirs_1 == ours_1
    assert len(json.loads(ours_1)["layers"]) == 1
    assert locations_accepted(site, f"docker://{site.host}/by-skopeo/app:1", policy) == [
        f"{site.host}/by-skopeo/app:{sig_tag(digest)} layer 0"]

    # a second signature (another key) appended by each tool: still identical, two layers, in order
    write_oci({"1.0": image}, str(site.tmp / "src2"))
    (site.tmp / "pass2").write_text("other\n")
    assert site.run("generate-sigstore-key", "--output-prefix", str(site.tmp / "key2"), "--passphrase-file",
                    str(site.tmp / "pass2")).exit_code == 0
    r2 = site.run("copy", "-q", "--sign-by-sigstore-private-key", str(site.tmp / "key2.private"),
                  "--sign-passphrase-file", str(site.tmp / "pass2"), "--sign-identity",
                  f"{site.host}/{IDENTITY_REPO}:1", f"oci:{site.tmp}/src2:1.0", f"dir:{site.tmp}/second")
    assert r2.exit_code == 0, r2.stderr
    theirs_2, ours_2 = push_both(str(site.tmp / "second"))
    assert theirs_2 == ours_2
    layers = json.loads(ours_2)["layers"]
    assert len(layers) == 2 and layers[0] == json.loads(ours_1)["layers"][0]

    # the same signature pushed again by each tool: de-duplicated the same way (nothing added)
    theirs_3, ours_3 = push_both(str(site.tmp / "second"))
    assert theirs_3 == ours_3 == ours_2


# -- a signing key that is not a usable cosign private key, through the CLI ----------------------------------


def _envelope(obj: Any, pem_type: str = "ENCRYPTED SIGSTORE PRIVATE KEY") -> bytes:
    body = base64.b64encode(json.dumps(obj).encode()).decode()
    return f"-----BEGIN {pem_type}-----\n{body}\n-----END {pem_type}-----\n".encode()


@pytest.fixture(scope="module")
def pair() -> Any:
    """One cosign key pair for the module (one scrypt run, not one per case)."""
    from trustcopy.signature.sigstore_keys import generate_key_pair

    return generate_key_pair(b"pw")


def _good_envelope(keys: Path) -> dict[str, Any]:
    text = (keys / "key.private").read_text().strip().splitlines()
    return dict(json.loads(base64.b64decode("".join(text[1:-1]))))


def _mutated(keys: Path, where: str, name: str, value: Any) -> bytes:
    data = _good_envelope(keys)
    target = data if where == "" else data[where] if where != "params" else data["kdf"]["params"]
    target[name] = value
    return _envelope(data)


BAD_KEYS: dict[str, Any] = {
    "public-key": lambda k: (k / "key.pub").read_bytes(),
    "unencrypted-pem-type": lambda k: b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
                                      b"-----END PRIVATE KEY-----\n",
    "certificate": lambda k: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    "mangled-base64": lambda k: b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n%%%%\n"
                                b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    "short-nonce": lambda k: _mutated(k, "cipher", "nonce", base64.b64encode(bytes(8)).decode()),
    "salt-not-base64": lambda k: _mutated(k, "kdf", "salt", "!!!"),
    "n-as-float": lambda k: _mutated(k, "params", "N", 65536.0),
    "n-two-to-the-60": lambda k: _mutated(k, "params", "N", 1 << 60),
    "r-as-bool": lambda k: _mutated(k, "params", "r", True),
    "other-cipher": lambda k: _mutated(k, "cipher", "name", "aes-gcm"),
    "no-ciphertext": lambda k: _envelope({kk: v for kk, v in _good_envelope(k).items() if kk != "ciphertext"}),
    "json-array": lambda k: _envelope([1, 2]),
}


@pytest.mark.parametrize("case", list(BAD_KEYS))
def test_an_unusable_private_key_fails_the_copy_naming_the_file_and_writes_nothing(
        tmp_path: Path, pair: Any, run_cli: Any, case: str) -> None:
    keys = tmp_path
    (keys / "key.private").write_bytes(pair.private_pem)
    (keys / "key.pub").write_bytes(pair.public_pem)
    (keys / "pass").write_text("pw\n")
    write_oci({"1.0": example_image()}, str(keys / "src"))
    bad = keys / "bad.private"
    bad.write_bytes(BAD_KEYS[case](keys))
    started = time.monotonic()
    r = run_cli("--insecure-policy", "copy", "-q", "--sign-by-sigstore-private-key", str(bad),
                "--sign-passphrase-file", str(keys / "pass"), "--sign-identity", "example.com/team/app:1",
                f"oci:{keys}/src:1.0", f"dir:{keys}/out")
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "error[sigstore-key-invalid]" in r.stderr, r.stderr
    assert str(bad) in r.stderr
    assert "Traceback" not in r.stderr
    assert not (keys / "out").exists()
    assert time.monotonic() - started < 2.0  # refused before any scrypt work of an absurd N
