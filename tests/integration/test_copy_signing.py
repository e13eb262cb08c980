"""copy --sign-by, signedBy policies through copy, and skopeo interop on whole images.

Both directions: an image trustcopy signs on copy is accepted by `skopeo copy --policy`
with a signedBy policy, and an image skopeo signs on copy is accepted by trustcopy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Layer, example_image, make_image, make_tar, write_dir, write_oci

pytestmark = [pytest.mark.gpg]

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
IDENTITY = "registry.example.com/team/app:1.0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def home(example_home: GPGHome) -> GPGHome:
    """The keys-example key, under the name these tests use."""
    return example_home


def tool(name: str, home: GPGHome, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo"] if name == "skopeo" else [sys.executable, "-m", "trustcopy"]
    env = {**home.env, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def signed_by_policy(tmp_path: Path, identity: dict[str, str] | None = None) -> Path:
    req: dict[str, object] = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEYS_EXAMPLE / "pubring.gpg")}
    req["signedIdentity"] = identity or {"type": "exactReference", "dockerReference": IDENTITY}
    path = tmp_path / "signed-policy.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"dir": {"": [req]}}}))
    return path


def insecure(tmp_path: Path) -> Path:
    path = tmp_path / "insecure.json"
    path.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return path


@pytest.mark.skopeo
@pytest.mark.parametrize(("signer", "verifier"), [("trustcopy", "skopeo"), ("skopeo", "trustcopy"),
                                                  ("trustcopy", "trustcopy")])
def test_signed_copy_accepted_by_the_other_tool(home: GPGHome, tmp_path: Path, signer: str, verifier: str) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    r = tool(signer, home, "--policy", str(insecure(tmp_path)), "copy", "-q", "--sign-by", FPR,
             "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/signed")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "signed" / "signature-1").exists()
    v = tool(verifier, home, "--policy", str(signed_by_policy(tmp_path)), "copy", "-q",
             f"dir:{tmp_path}/signed", f"dir:{tmp_path}/verified")
    assert v.returncode == 0, v.stderr
    assert (tmp_path / "verified" / "signature-1").read_bytes() == (tmp_path / "signed" / "signature-1").read_bytes()


@pytest.mark.skopeo
@pytest.mark.parametrize("verifier", ["skopeo", "trustcopy"])
def test_wrong_identity_rejected_by_both(home: GPGHome, tmp_path: Path, verifier: str) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    r = tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "-q", "--sign-by", FPR,
             "--sign-identity", "registry.example.com/team/other:1.0", f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/s")
    assert r.returncode == 0, r.stderr
    v = tool(verifier, home, "--policy", str(signed_by_policy(tmp_path)), "copy", "-q",
             f"dir:{tmp_path}/s", f"dir:{tmp_path}/out")
    assert v.returncode != 0
    if verifier == "trustcopy":  # (skopeo leaves an empty destination directory behind; we do not)
        assert not (tmp_path / "out").exists()
        assert "IDENTITY_MISMATCH" in v.stderr and "Source image rejected" in v.stderr


def test_signature_for_modified_manifest_rejected(home: GPGHome, tmp_path: Path) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    assert tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "-q", "--sign-by", FPR,
                "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/s").returncode == 0
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b" ")  # same image, different digest
    v = tool("trustcopy", home, "--policy", str(signed_by_policy(tmp_path)), "copy", "-q",
             f"dir:{tmp_path}/s", f"dir:{tmp_path}/out")
    assert v.returncode == 1
    assert "DIGEST_MISMATCH" in v.stderr
    assert not (tmp_path / "out").exists()


def test_sign_after_conversion_signs_the_written_manifest(home: GPGHome, tmp_path: Path) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    r = tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "-q", "--format", "v2s2",
             "--sign-by", FPR, "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/s")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "s" / "manifest.json").read_bytes())["mediaType"].endswith("manifest.v2+json")
    v = tool("trustcopy", home, "--policy", str(signed_by_policy(tmp_path)), "copy", "-q",
             f"dir:{tmp_path}/s", f"dir:{tmp_path}/out")
    assert v.returncode == 0, v.stderr


def test_existing_signatures_are_kept_and_new_one_appended(home: GPGHome, tmp_path: Path) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    pol = str(insecure(tmp_path))
    assert tool("trustcopy", home, "--policy", pol, "copy", "-q", "--sign-by", FPR, "--sign-identity", IDENTITY,
                f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/one").returncode == 0
    r = tool("trustcopy", home, "--policy", pol, "copy", "-q", "--sign-by", FPR, "--sign-identity",
             "registry.example.com/team/app:1.1", f"dir:{tmp_path}/one", f"dir:{tmp_path}/two")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "two" / "signature-1").read_bytes() == (tmp_path / "one" / "signature-1").read_bytes()
    assert (tmp_path / "two" / "signature-2").exists()
    assert not (tmp_path / "two" / "signature-3").exists()


def test_signing_to_dir_needs_an_identity(home: GPGHome, tmp_path: Path) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    r = tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "--sign-by", FPR,
             f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/s")
    assert r.returncode == 2
    assert "sign-identity" in r.stderr
    assert not (tmp_path / "s").exists()


def test_signing_into_oci_is_refused_before_writing(home: GPGHome, tmp_path: Path) -> None:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    r = tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "--sign-by", FPR,
             "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"oci:{tmp_path}/dst:x")
    assert r.returncode == 1
    assert "error[signatures-unsupported]" in r.stderr
    assert not (tmp_path / "dst").exists()


def test_unknown_signing_key_fails_and_leaves_nothing(home: GPGHome, tmp_path: Path) -> None:
    write_dir(make_image([Layer(make_tar([("a", b"a")]))]), str(tmp_path / "src"))
    r = tool("trustcopy", home, "--policy", str(insecure(tmp_path)), "copy", "--sign-by", "0" * 40,
             "--sign-identity", IDENTITY, f"dir:{tmp_path}/src", f"dir:{tmp_path}/s")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s").exists()
    assert sorted(os.listdir(tmp_path)) == ["insecure.json", "src"]


def test_passphrase_file_signing(tmp_path: Path) -> None:
    h = GPGHome()
    try:
        fpr = h.gen_key("Copy passphrase key", passphrase="correct horse")
        (tmp_path / "pass").write_text("correct horse\n")
        (tmp_path / "wrong").write_text("battery staple\n")
        write_oci({"1.0": example_image()}, str(tmp_path / "src"))
        pol = str(insecure(tmp_path))
        bad = tool("trustcopy", h, "--policy", pol, "copy", "-q", "--sign-by", fpr, "--sign-passphrase-file",
                   str(tmp_path / "wrong"), "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/b")
        assert bad.returncode == 1 and "battery" not in bad.stderr
        assert not (tmp_path / "b").exists()
        ok = tool("trustcopy", h, "--policy", pol, "copy", "-q", "--sign-by", fpr, "--sign-passphrase-file",
                  str(tmp_path / "pass"), "--sign-identity", IDENTITY, f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/g")
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "g" / "signature-1").exists()
    finally:
        h.close()
