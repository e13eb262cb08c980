"""``trustcopy standalone-sign`` / ``standalone-verify``: skopeo's arguments, output and exit statuses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from gpghelpers import FIXTURES, INFO, KEYS_EXAMPLE, GPGHome

from trustcopy import __version__

pytestmark = pytest.mark.gpg

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
PUBRING = str(KEYS_EXAMPLE / "pubring.gpg")
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                                  "digest": "sha256:" + "c" * 64}, "layers": []}).encode()
CI_FPR = INFO.TEST_KEY_FINGERPRINT
CI_DIGEST = INFO.TEST_IMAGE_MANIFEST_DIGEST


@pytest.fixture
def signed(example_home: GPGHome, tmp_path: Path, run_cli: Callable[..., object],
           monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """manifest.json and its signature, made with ``trustcopy standalone-sign``."""
    monkeypatch.setenv("GNUPGHOME", example_home.path)
    manifest, sig = tmp_path / "manifest.json", tmp_path / "manifest.sig"
    manifest.write_bytes(MANIFEST)
    result = run_cli("standalone-sign", str(manifest), "busybox:latest", FPR, "-o", str(sig))
    assert result.exit_code == 0, result.stderr
    return manifest, sig


def digest_of(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_sign_then_verify_prints_skopeo_line(signed: tuple[Path, Path], run_cli: Callable[..., object]) -> None:
    manifest, sig = signed
    result = run_cli("standalone-verify", "--public-key-file", PUBRING, str(manifest),
                     "docker.io/library/busybox:latest", FPR, str(sig))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Signature verified using fingerprint {FPR}, digest {digest_of(MANIFEST)}\n"


def test_signed_payload_claims_the_reference_as_given(signed: tuple[Path, Path], example_home: GPGHome) -> None:
    _, sig = signed  # signed as "busybox:latest": skopeo writes the reference verbatim, not normalized
    payload = json.loads(example_home.run("--decrypt", data=sig.read_bytes()).stdout)
    assert payload["critical"] == {"identity": {"docker-reference": "busybox:latest"},
                                   "image": {"docker-manifest-digest": digest_of(MANIFEST)},
                                   "type": "atomic container signature"}
    assert payload["optional"]["creator"] == f"trustcopy {__version__}"
    assert isinstance(payload["optional"]["timestamp"], int)


@pytest.mark.parametrize("fingerprints", [FPR, f"DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF,{FPR}", "any"],
                         ids=["one", "comma-list", "any"])
def test_verify_fingerprint_forms(signed: tuple[Path, Path], run_cli: Callable[..., object], fingerprints: str) -> None:
    manifest, sig = signed
    result = run_cli("standalone-verify", str(manifest), "busybox:latest", fingerprints, str(sig),
                     "--public-key-file", str(KEYS_EXAMPLE / "public-key.asc"))
    assert result.exit_code == 0, result.stderr


def test_verify_without_key_file_uses_only_named_local_keys(signed: tuple[Path, Path],
                                                            run_cli: Callable[..., object]) -> None:
    manifest, sig = signed  # GNUPGHOME is the example home
    assert run_cli("standalone-verify", str(manifest), "busybox:latest", FPR, str(sig)).exit_code == 0
    other = run_cli("standalone-verify", str(manifest), "busybox:latest", "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF",
                    str(sig))
    assert other.exit_code == 1


def test_any_without_key_file_refused(signed: tuple[Path, Path], run_cli: Callable[..., object]) -> None:
    manifest, sig = signed
    result = run_cli("standalone-verify", str(manifest), "busybox", "any", str(sig))
    assert result.exit_code == 1
    assert "Cannot use any fingerprint without a public key file" in result.stderr


def test_signature_by_key_not_listed_rejected(signed: tuple[Path, Path], run_cli: Callable[..., object]) -> None:
    manifest, sig = signed
    result = run_cli("standalone-verify", "--public-key-file", PUBRING, str(manifest), "busybox:latest",
                     "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF", str(sig))
    assert result.exit_code == 1
    assert "Error verifying signature" in result.stderr and "not accepted" in result.stderr


def test_lower_case_fingerprint_gets_a_hint(signed: tuple[Path, Path], run_cli: Callable[..., object]) -> None:
    manifest, sig = signed
    result = run_cli("standalone-verify", "--public-key-file", PUBRING, str(manifest), "busybox:latest",
                     FPR.lower(), str(sig))
    assert result.exit_code == 1
    assert "upper-case" in result.stderr


@pytest.mark.parametrize("reference", ["busybox:other", "busybox", "quay.io/library/busybox:latest"])
def test_signature_for_other_identity_rejected(signed: tuple[Path, Path], run_cli: Callable[..., object],
                                               reference: str) -> None:
    manifest, sig = signed  # signed as busybox:latest
    result = run_cli("standalone-verify", "--public-key-file", PUBRING, str(manifest), reference, FPR, str(sig))
    assert result.exit_code == 1
    assert "does not match" in result.stderr


def test_signature_for_modified_manifest_rejected(signed: tuple[Path, Path], run_cli: Callable[..., object],
                                                  tmp_path: Path) -> None:
    _, sig = signed
    modified = tmp_path / "modified.json"
    modified.write_bytes(MANIFEST + b"\n")
    result = run_cli("standalone-verify", "--public-key-file", PUBRING, str(modified), "busybox:latest", FPR,
                     str(sig))
    assert result.exit_code == 1
    assert "does not match" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["standalone-verify", "a", "b"], "Usage: trustcopy standalone-verify"),
        (["standalone-verify", "a", "b", "c", "d", "e"], "Usage: trustcopy standalone-verify"),
        (["standalone-verify", "--bogus", "a", "b", "c", "d"], "--bogus"),
        (["standalone-sign", "a", "b", "c"], "Usage: trustcopy standalone-sign"),
        (["standalone-sign", "-o", "x", "a", "b"], "Usage: trustcopy standalone-sign"),
        (["standalone-verify", "/nonexistent/m", "busybox", FPR, "/nonexistent/s"],
         "Error reading manifest from /nonexistent/m"),
    ],
    ids=["verify-too-few", "verify-too-many", "unknown-flag", "sign-no-output", "sign-too-few", "missing-manifest"],
)
def test_usage_and_read_errors_exit_1_like_skopeo(run_cli: Callable[..., object], args: list[str],
                                                  message: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_sign_with_unknown_key_fails(example_home: GPGHome, tmp_path: Path, run_cli: Callable[..., object],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNUPGHOME", example_home.path)
    (tmp_path / "m").write_bytes(MANIFEST)
    result = run_cli("standalone-sign", str(tmp_path / "m"), "busybox", "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF",
                     "-o", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert "Error creating signature" in result.stderr
    assert not (tmp_path / "s").exists()


def test_sign_with_passphrase_file(tmp_path: Path, run_cli: Callable[..., object],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = GPGHome()
    try:
        fpr = home.gen_key("Protected", passphrase="s3cret")
        subprocess.run(["gpgconf", "--homedir", home.path, "--kill", "gpg-agent"], check=False)
        monkeypatch.setenv("GNUPGHOME", home.path)
        (tmp_path / "m").write_bytes(MANIFEST)
        (tmp_path / "pass").write_text("s3cret\n")
        result = run_cli("standalone-sign", "--passphrase-file", str(tmp_path / "pass"), str(tmp_path / "m"),
                         "busybox", fpr, "-o", str(tmp_path / "s"))
        assert result.exit_code == 0, result.stderr
        (tmp_path / "k").write_bytes(home.export(fpr))
        assert run_cli("standalone-verify", "--public-key-file", str(tmp_path / "k"), str(tmp_path / "m"),
                       "busybox", fpr, str(tmp_path / "s")).exit_code == 0
    finally:
        home.close()


@pytest.mark.parametrize(
    ("signature", "reference", "key", "fingerprint", "ok"),
    [
        ("image.signature", "testing/manifest", "public-key.gpg", CI_FPR, True),
        ("image.signature", "docker.io/testing/manifest", "public-key.gpg", CI_FPR, True),
        ("no-optional-fields.signature", "testing/manifest", "public-key.gpg", CI_FPR, True),
        ("subkey.signature", "testing/manifest:latest", "public-key-with-subkey.gpg",
         INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_SUBKEY, True),
        ("subkey.signature", "testing/manifest:latest", "public-key-with-subkey.gpg",
         INFO.TEST_KEY_FINGERPRINT_SUBKEY_WITH_SUBKEY, True),
        ("subkey-revoked.signature", "testing/manifest:latest", "public-key-with-revoked-subkey.gpg",
         INFO.TEST_KEY_FINGERPRINT_PRIMARY_WITH_REVOKED_SUBKEY, False),
        ("unknown-key.signature", "testing/manifest", "public-key.gpg", CI_FPR, False),
        ("image.signature", "testing/manifest", "public-key.gpg", INFO.TEST_OTHER_FINGERPRINT_1, False),
        ("image.signature", "testing/other", "public-key.gpg", CI_FPR, False),
        ("invalid-reference.signature", "testing/manifest", "public-key.gpg", CI_FPR, False),
        ("invalid-blob.signature", "testing/manifest", "public-key.gpg", CI_FPR, False),
        ("expired.signature", "testing/manifest", "public-key.gpg", CI_FPR, False),
        ("double.signature", "testing/manifest", "public-key.gpg", CI_FPR, False),
    ],
    ids=["image", "image-expanded-ref", "no-optional", "subkey-as-primary", "subkey-listed-itself",
         "revoked-subkey", "unknown-key", "other-fingerprint", "other-ref", "invalid-ref", "invalid-blob", "expired",
         "double"],
)
def test_c_image_fixtures_through_the_cli(run_cli: Callable[..., object], signature: str, reference: str,
                                          key: str, fingerprint: str, ok: bool) -> None:
    result = run_cli("standalone-verify", "--public-key-file", str(FIXTURES / key),
                     str(FIXTURES / "image.manifest.json"), reference, fingerprint, str(FIXTURES / signature))
    if ok:
        assert result.stdout == f"Signature verified using fingerprint {fingerprint}, digest {CI_DIGEST}\n"
    else:
        assert result.exit_code == 1 and result.stdout == ""
