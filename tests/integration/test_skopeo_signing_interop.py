"""Simple signing interop, both ways: every (signer, verifier) pair of {skopeo, trustcopy}.

Both programs run as subprocesses with the same GNUPGHOME (holding the keys-example
secret key, or a passphrase-protected key), so this is exactly what a user sees. The
signed payloads are also compared byte for byte: with the same manifest and an already
expanded reference, the ``critical`` section must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpghelpers import FIXTURES, KEYS_EXAMPLE, GPGHome

pytestmark = [pytest.mark.skopeo, pytest.mark.gpg]

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
REFERENCE = "docker.io/library/busybox:latest"
MANIFEST = (FIXTURES / "image.manifest.json").read_bytes()
MANIFEST_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
TOOLS = ["skopeo", "trustcopy"]


def command(tool: str) -> list[str]:
    return ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]


def run(tool: str, home: GPGHome, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**home.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                    os.environ.get("PYTHONPATH")]))}
    return subprocess.run([*command(tool), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def home(example_home: GPGHome) -> GPGHome:
    """The keys-example key, under the name these tests use."""
    return example_home


@pytest.fixture(scope="module")
def protected() -> Iterator[tuple[GPGHome, str]]:
    """A home with a passphrase-protected key (slow to generate, so shared)."""
    h = GPGHome()
    try:
        yield h, h.gen_key("Protected interop key", passphrase="interop pass")
    finally:
        h.close()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_bytes(MANIFEST)
    return path


def sign_with(tool: str, home: GPGHome, manifest: Path, out: Path, reference: str = REFERENCE,
              fingerprint: str = FPR, *extra: str) -> None:
    result = run(tool, home, "standalone-sign", *extra, str(manifest), reference, fingerprint, "-o", str(out))
    assert result.returncode == 0, f"{tool} standalone-sign failed: {result.stderr}"


def verify_with(tool: str, home: GPGHome, manifest: Path, sig: Path, reference: str = REFERENCE,
                fingerprint: str = FPR) -> subprocess.CompletedProcess[str]:
    return run(tool, home, "standalone-verify", str(manifest), reference, fingerprint, str(sig))


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_signature_verifies_across_tools(home: GPGHome, manifest: Path, tmp_path: Path, signer: str,
                                         verifier: str) -> None:
    sig = tmp_path / f"by-{signer}.sig"
    sign_with(signer, home, manifest, sig)
    result = verify_with(verifier, home, manifest, sig, reference="busybox:latest")  # familiar form
    assert result.returncode == 0, f"{verifier} rejected {signer}'s signature: {result.stderr}"
    assert MANIFEST_DIGEST in result.stdout
    if verifier == "trustcopy":
        assert result.stdout == f"Signature verified using fingerprint {FPR}, digest {MANIFEST_DIGEST}\n"


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_signature_for_other_identity_rejected_by_both(home: GPGHome, manifest: Path, tmp_path: Path, signer: str,
                                                       verifier: str) -> None:
    sig = tmp_path / "sig"
    sign_with(signer, home, manifest, sig)
    result = verify_with(verifier, home, manifest, sig, reference="docker.io/library/busybox:evil")
    assert result.returncode == 1
    assert result.stdout == ""


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_signature_for_modified_manifest_rejected_by_both(home: GPGHome, manifest: Path, tmp_path: Path,
                                                          signer: str, verifier: str) -> None:
    sig = tmp_path / "sig"
    sign_with(signer, home, manifest, sig)
    manifest.write_bytes(MANIFEST.replace(b'"schemaVersion": 2', b'"schemaVersion":2'))
    assert manifest.read_bytes() != MANIFEST
    assert verify_with(verifier, home, manifest, sig).returncode == 1


@pytest.mark.parametrize("reference", [REFERENCE, "testing/manifest:latest", "busybox"],
                         ids=["expanded", "short-with-tag", "short-no-tag"])
def test_critical_payload_bytes_match_skopeo(home: GPGHome, manifest: Path, tmp_path: Path, reference: str) -> None:
    """skopeo writes the reference exactly as typed (no normalization); so must we."""
    payloads = {}
    for tool in TOOLS:
        sig = tmp_path / f"{tool}.sig"
        sign_with(tool, home, manifest, sig, reference)
        payloads[tool] = home.run("--decrypt", data=sig.read_bytes()).stdout
    critical = {tool: data.split(b',"optional":')[0] for tool, data in payloads.items()}
    assert critical["trustcopy"] == critical["skopeo"]
    assert json.loads(payloads["trustcopy"])["critical"]["identity"]["docker-reference"] == reference
    optional = {tool: json.loads(data)["optional"] for tool, data in payloads.items()}
    assert sorted(optional["trustcopy"]) == sorted(optional["skopeo"]) == ["creator", "timestamp"]


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_passphrase_file_signing_interop(protected: tuple[GPGHome, str], tmp_path: Path, manifest: Path,
                                         signer: str, verifier: str) -> None:
    home, fpr = protected
    subprocess.run(["gpgconf", "--homedir", home.path, "--kill", "gpg-agent"], check=False)  # no cached passphrase
    passfile = tmp_path / "pass"
    passfile.write_text("interop pass\n")
    sig = tmp_path / "sig"
    sign_with(signer, home, manifest, sig, REFERENCE, fpr, "--passphrase-file", str(passfile))
    result = verify_with(verifier, home, manifest, sig, fingerprint=fpr)
    assert result.returncode == 0, result.stderr


def test_skopeo_signature_verifies_with_public_key_file_only(home: GPGHome, manifest: Path, tmp_path: Path) -> None:
    sig = tmp_path / "sig"
    sign_with("skopeo", home, manifest, sig)
    empty = GPGHome()  # a user keyring without the key: only --public-key-file can vouch
    try:
        result = run("trustcopy", empty, "standalone-verify", "--public-key-file", str(KEYS_EXAMPLE / "pubring.gpg"),
                     str(manifest), REFERENCE, "any", str(sig))
        assert result.returncode == 0, result.stderr
        assert FPR in result.stdout
    finally:
        empty.close()


# -- containers/image's dir-img-* fixtures (signature/fixtures), judged by both tools -----------------------------

CI_SIGNATURE_FIXTURES = Path("/usr/share/gocode/src/github.com/containers/image/signature/fixtures")
CI_KEY = "1D8230F6CDB6A06716E414C1DB72F2188BB46CC8"  # public-key.gpg


@pytest.fixture(scope="module")
def fixtures_home() -> Iterator[GPGHome]:
    h = GPGHome()
    try:
        h.run("--import", str(CI_SIGNATURE_FIXTURES / "public-key.gpg"))
        yield h
    finally:
        h.close()


def _ci_cases() -> list[tuple[str, str, str, bool]]:
    """(image dir, signature, reference, accepted): policy_eval_signedby_test.go's images."""
    accepted = {("dir-img-valid", "signature-1"), ("dir-img-valid-2", "signature-1"),
                ("dir-img-valid-2", "signature-2"), ("dir-img-mixed", "signature-2")}
    cases = []
    for image, signatures in (("dir-img-valid", 1), ("dir-img-valid-2", 2), ("dir-img-mixed", 2),
                              ("dir-img-modified-manifest", 1), ("dir-img-manifest-digest-error", 1),
                              ("dir-img-no-manifest", 1)):
        for n in range(1, signatures + 1):
            cases.append((image, f"signature-{n}", "testing/manifest:latest", (image, f"signature-{n}") in accepted))
            cases.append((image, f"signature-{n}", "testing/manifest:notlatest", False))
    return cases


@pytest.mark.parametrize(("image", "signature", "reference", "accepted"), _ci_cases())
def test_containers_image_dir_img_fixtures_judged_alike(fixtures_home: GPGHome, image: str, signature: str,
                                                        reference: str, accepted: bool) -> None:
    assert CI_SIGNATURE_FIXTURES.is_dir(), "./run installs golang-github-containers-image-dev"
    directory = CI_SIGNATURE_FIXTURES / image
    status = {tool: run(tool, fixtures_home, "standalone-verify", str(directory / "manifest.json"), reference, CI_KEY,
                        str(directory / signature)).returncode for tool in TOOLS}
    assert status == dict.fromkeys(TOOLS, 0 if accepted else 1)


@pytest.mark.parametrize("tool", TOOLS)
def test_manifest_and_signature_through_pipes(home: GPGHome, manifest: Path, tmp_path: Path, tool: str) -> None:
    """``standalone-verify <(curl …/manifest) REF FPR <(curl …/sig)``: skopeo reads pipes, so must we."""
    sig = tmp_path / "sig"
    sign_with(tool, home, manifest, sig)
    env = {**home.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tool_cmd = " ".join(command(tool))
    script = (f'{tool_cmd} standalone-verify <(cat "$1") {REFERENCE} {FPR} <(cat "$2") && '
              f'{tool_cmd} standalone-sign <(cat "$1") {REFERENCE} {FPR} -o "$3"')
    result = subprocess.run(["bash", "-c", script, "-", str(manifest), str(sig), str(tmp_path / "again")],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Signature verified") and f"digest {MANIFEST_DIGEST}" in result.stdout
    assert verify_with("skopeo", home, manifest, tmp_path / "again").returncode == 0
