"""copy --sign-by-sigstore-private-key into dir:, verified by openssl and by a sigstoreSigned policy.

Registries (attachments, referrers) are tested in test_registry_sigstore.py; here only the
refusal without ``use-sigstore-attachments``, before anything is pushed.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from imagefactory import example_image, write_oci

from trustcopy.cli.main import main
from trustcopy.digest import Digest

IDENTITY = "registry.example.com/team/app:1.0"
MIME = "application/vnd.dev.cosign.simplesigning.v1+json"



def policy(tmp_path: Path, identity: dict[str, str]) -> Path:
    req = {"type": "sigstoreSigned", "keyPath": str(tmp_path / "key.pub"), "signedIdentity": identity}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"dir": {"": [req]},
                                "oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    return path


def sign_copy(tmp_path: Path, *extra: str) -> int:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    return main(["--policy", str(policy(tmp_path, {"type": "matchExact"})), "copy", "-q",
                 "--sign-by-sigstore-private-key", str(tmp_path / "key.private"),
                 "--sign-passphrase-file", str(tmp_path / "pass"), "--sign-identity", IDENTITY, *extra,
                 f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/signed"])


def test_signed_copy_has_the_cosign_layout_and_verifies_with_openssl(keys: Path) -> None:
    assert sign_copy(keys) == 0
    blob = (keys / "signed" / "signature-1").read_bytes()
    assert blob.startswith(b"\x00sigstore-json\n")
    chunk = json.loads(blob.split(b"\n", 1)[1])
    assert list(chunk) == ["mimeType", "payload", "annotations"] and chunk["mimeType"] == MIME
    payload = base64.b64decode(chunk["payload"])
    manifest = (keys / "signed" / "manifest.json").read_bytes()
    digest = Digest.from_bytes(manifest)
    # c/i's payload: Go's sorted keys, compact, critical then optional (creator, timestamp)
    prefix = ('{"critical":{"identity":{"docker-reference":"' + IDENTITY + '"},"image":{"docker-manifest-digest":"'
              + str(digest) + '"},"type":"cosign container image signature"},"optional":{"creator":"trustcopy ')
    assert payload.decode().startswith(prefix)
    assert json.loads(payload)["optional"]["timestamp"] > 0
    assert list(chunk["annotations"]) == ["dev.cosignproject.cosign/signature"]
    (keys / "payload").write_bytes(payload)
    (keys / "sig").write_bytes(base64.b64decode(chunk["annotations"]["dev.cosignproject.cosign/signature"]))
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(keys / "key.pub"), "-signature",
                          str(keys / "sig"), str(keys / "payload")], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "Verified OK" in out.stdout


@pytest.mark.parametrize("bundle", [False, True], ids=["attachment", "bundle"])
def test_signed_copy_is_accepted_by_a_sigstore_policy(keys: Path, bundle: bool) -> None:
    assert sign_copy(keys, *(["--sigstore-bundle"] if bundle else [])) == 0
    pol = policy(keys, {"type": "exactReference", "dockerReference": IDENTITY})
    assert main(["--policy", str(pol), "copy", "-q", f"dir:{keys}/signed", f"dir:{keys}/again"]) == 0
    other = policy(keys, {"type": "exactReference", "dockerReference": "registry.example.com/team/app:2.0"})
    assert main(["--policy", str(other), "copy", "-q", f"dir:{keys}/signed", f"dir:{keys}/refused"]) == 1
    assert not (keys / "refused").exists()


def test_bundle_written_by_copy_is_a_dsse_statement_naming_the_digest(keys: Path) -> None:
    assert sign_copy(keys, "--sigstore-bundle") == 0
    chunk = json.loads((keys / "signed" / "signature-1").read_bytes().split(b"\n", 1)[1])
    assert chunk["mimeType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    bundle = json.loads(base64.b64decode(chunk["payload"]))
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert "publicKey" in bundle["verificationMaterial"]
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    digest = Digest.from_bytes((keys / "signed" / "manifest.json").read_bytes())
    assert statement["subject"] == [{"name": IDENTITY, "digest": {"sha256": digest.hex}}]
    assert statement["predicateType"] == "https://sigstore.dev/cosign/sign/v1"


def test_wrong_passphrase_fails_and_writes_nothing(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (keys / "pass").write_text("not it\n")
    assert sign_copy(keys) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    assert not (keys / "signed").exists()


@pytest.mark.registry
def test_sigstore_signing_to_a_registry_without_attachments_is_refused_with_the_reason(
        keys: Path, capsys: pytest.CaptureFixture[str], plain_registry: Any) -> None:
    write_oci({"1.0": example_image()}, str(keys / "src"))
    (keys / "registries.d").mkdir()  # no use-sigstore-attachments anywhere
    status = main(["--policy", str(policy(keys, {"type": "matchExact"})), "--registries.d", str(keys / "registries.d"),
                   "copy", "-q", "--dest-tls-verify=false",
                   "--sign-by-sigstore-private-key", str(keys / "key.private"), "--sign-passphrase-file",
                   str(keys / "pass"), f"oci:{keys}/src:1.0", f"docker://{plain_registry.host}/team/app:1"])
    assert status == 1
    err = capsys.readouterr().err
    assert "error[sigstore-signing-unsupported]" in err and "use-sigstore-attachments: true" in err
    assert httpx.get(f"http://{plain_registry.host}/v2/_catalog").json()["repositories"] == []


def test_sigstore_bundle_flag_needs_a_sigstore_key(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_oci({"1.0": example_image()}, str(keys / "src"))
    status = main(["--policy", str(policy(keys, {"type": "matchExact"})), "copy", "--sigstore-bundle",
                   f"oci:{keys}/src:1.0", f"dir:{keys}/x"])
    assert status == 2
    assert "--sigstore-bundle requires --sign-by-sigstore-private-key" in capsys.readouterr().err


def test_a_private_key_from_a_pipe_signs_every_manifest_of_an_all_copy(keys: Path) -> None:
    """``--sign-by-sigstore-private-key <(vault read …)`` keeps the key off the disk; a pipe
    is read once, and ``--all`` signs the list and each instance with what was read."""
    import os
    import threading

    from imagefactory import Layer, make_image, make_index, make_tar

    images = [(make_image([Layer(make_tar([(f"{arch}.txt", arch.encode())]))], arch=arch),
               {"os": "linux", "architecture": arch}) for arch in ("amd64", "arm64")]
    index, blobs = make_index(images)
    layout = keys / "multi"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    for digest, data in {**blobs, str(Digest.from_bytes(index)): index}.items():
        (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": str(Digest.from_bytes(index)),
        "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]}))
    fifo = keys / "key.pipe"
    os.mkfifo(fifo)
    key = (keys / "key.private").read_bytes()

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(key)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert main(["--policy", str(policy(keys, {"type": "matchExact"})), "copy", "-q", "--all",
                 "--sign-by-sigstore-private-key", str(fifo), "--sign-passphrase-file", str(keys / "pass"),
                 "--sign-identity", IDENTITY, f"oci:{layout}:1.0", f"dir:{keys}/signed"]) == 0
    writer.join(5)
    signed = sorted(p.name for p in (keys / "signed").iterdir() if "signature" in p.name)
    assert len(signed) == 3  # the list, and each instance
    pol = policy(keys, {"type": "exactReference", "dockerReference": IDENTITY})
    assert main(["--policy", str(pol), "copy", "-q", "--all", f"dir:{keys}/signed", f"dir:{keys}/again"]) == 0
