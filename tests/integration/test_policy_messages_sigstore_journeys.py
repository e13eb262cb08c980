"""What a CI gate's user reads when a sigstore signature decides: each message names the facts needed.

Continues test_policy_messages_journeys.py (GPG ``signedBy``) for ``sigstoreSigned``, for
``standalone-verify`` and for ``policy lint``, end to end through the CLI: a real registry
with a signature written by ``copy --sign-by-sigstore-private-key`` (the key made by
``generate-sigstore-key``), and ``dir:`` images whose sigstore signatures, certificates
and Rekor SETs the test makes itself (tests/unit/signature/sigstore_material.py). Each test
asserts the facts a message must name (the key fingerprints and files, the certificate's
subject and issuer, the trusted roots and their file, the policy field at fault, the
expected and found values), never the exact sentence.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_dir
from registry_fixtures import RegistryServer
from registry_sigstore import Site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "signature"))
from sigstore_material import (
    CERT_ANN,
    CHAIN_ANN,
    MIME,
    NOW,
    SET_ANN,
    SIG_ANN,
    Issued,
    cert_pem,
    cosign_payload,
    ec_key,
    envelope,
    hashedrekord,
    make_cert,
    make_set,
    pub_der,
    pub_pem,
    sign,
)

from trustcopy.digest import Digest

REF = "quay.io/ns/app:1"
ISSUER = "https://issuer.example.com"
EMAIL = "release-bot@example.com"


def fingerprint(key: Any) -> str:
    """How trustcopy names a sigstore key: SHA-256 of its SubjectPublicKeyInfo, upper-case hex (made here)."""
    import hashlib

    return hashlib.sha256(pub_der(key)).hexdigest().upper()


class Lab:
    """``dir:`` images of example_image() with chosen sigstore signatures, policies, and the CLI."""

    def __init__(self, tmp: Path, run_cli: Callable[..., Any]) -> None:
        self.tmp = tmp
        self.run_cli = run_cli
        self.image = example_image()
        self.digest = Digest.from_bytes(self.image.manifest)
        self.payload = cosign_payload(self.digest, REF)
        self.count = 0

    def key_file(self, key: Any, name: str) -> Path:
        path = self.tmp / name
        path.write_bytes(pub_pem(key))
        return path

    def signed(self, annotations: dict[str, str], payload: bytes | None = None, mime: str = MIME) -> Path:
        """A new ``dir:`` image carrying one sigstore signature with ``annotations``."""
        self.count += 1
        path = self.tmp / f"img{self.count}"
        write_dir(self.image, str(path))
        (path / "signature-1").write_bytes(envelope(mime, self.payload if payload is None else payload, annotations))
        return path

    def by_key(self, key: Any, payload: bytes | None = None, **extra: str) -> Path:
        data = self.payload if payload is None else payload
        return self.signed({SIG_ANN: base64.b64encode(sign(key, data)).decode(), **extra}, data)

    def keyless(self, leaf: Issued, chain: list[Any], rekor: Any | None) -> Path:
        """A cosign keyless-style signature: certificate, chain and (with ``rekor``) a SET logging it."""
        signature = sign(leaf.key, self.payload)
        ann = {SIG_ANN: base64.b64encode(signature).decode(), CERT_ANN: cert_pem(leaf.cert).decode(),
               CHAIN_ANN: cert_pem(*chain).decode()}
        if rekor is not None:
            body = hashedrekord(cert_pem(leaf.cert), signature, self.payload)
            ann[SET_ANN] = make_set(rekor, body, int(NOW.timestamp()))
        return self.signed(ann)

    def policy(self, requirement: dict[str, Any]) -> Path:
        self.count += 1
        requirement.setdefault("signedIdentity", {"type": "exactReference", "dockerReference": REF})
        path = self.tmp / f"policy{self.count}.json"
        path.write_text(json.dumps({"default": [requirement]}))
        return path

    def verify(self, image: Path, policy: Path, *, accepted: bool = False) -> tuple[str, str]:
        """``verify dir:IMAGE``; (its stdout line, stderr); the exit code must say accepted/rejected."""
        r = self.run_cli("--policy", str(policy), "verify", f"dir:{image}")
        assert r.exit_code == (0 if accepted else 1), r.stdout + r.stderr
        assert r.stdout.startswith("ACCEPTED " if accepted else "REJECTED "), r.stdout
        return r.stdout, r.stderr


@pytest.fixture
def lab(tmp_path: Path, run_cli: Callable[..., Any]) -> Lab:
    return Lab(tmp_path, run_cli)


def test_accepted_names_the_requirement_signature_and_key_file(lab: Lab) -> None:
    key = ec_key()
    path = lab.key_file(key, "release.pub")
    policy = lab.policy({"type": "sigstoreSigned", "keyPath": str(path)})
    image = lab.by_key(key)
    out, err = lab.verify(image, policy, accepted=True)
    assert f"ACCEPTED dir:{image} {lab.digest}" == out.strip()  # stdout keeps its documented form
    why = next(line for line in err.splitlines() if line.startswith("why "))
    assert "was accepted" in why and "default[0]" in why and "signature 1" in why
    assert f"{fingerprint(key)} (from {path})" in why and REF in why
    r = lab.run_cli("--policy", str(policy), "verify", "-o", "json", f"dir:{image}")
    assert f"(from {path})" in json.loads(r.stdout)["images"][0]["message"]
    r = lab.run_cli("--policy", str(policy), "verify", "-o", "junit", f"dir:{image}")
    assert r.exit_code == 0 and f"(from {path})" in r.stdout


def test_accept_anything_says_so_on_an_accepted_image(lab: Lab) -> None:
    policy = lab.tmp / "open.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    _out, err = lab.verify(lab.by_key(ec_key()), policy, accepted=True)
    assert "was accepted" in err and "insecureAcceptAnything" in err


def test_wrong_keys_are_named_by_fingerprint_and_source(lab: Lab) -> None:
    signer, other, third = ec_key(), ec_key(), ec_key()
    image = lab.by_key(signer)
    one, two = lab.key_file(other, "other.pub"), lab.key_file(third, "third.pub")
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"keyPath": str(one)}, [f"{fingerprint(other)} (from {one})"]),
        ({"keyPaths": [str(one), str(two)]},
         [f"{fingerprint(other)} (from {one})", f"{fingerprint(third)} (from {two})", "any of the 2 trusted keys"]),
        ({"keyData": base64.b64encode(pub_pem(other)).decode()}, [f"{fingerprint(other)} (from keyData)"]),
        ({"keyDatas": [base64.b64encode(pub_pem(k)).decode() for k in (other, third)]},
         [f"{fingerprint(other)} (from keyDatas[0])", f"{fingerprint(third)} (from keyDatas[1])"]),
    ]
    for keys, facts in cases:
        out, _err = lab.verify(image, lab.policy({"type": "sigstoreSigned", **keys}))
        assert "INVALID_SIGNATURE" in out and "trusted: " in out and "another private key" in out, out
        assert f"signature 1 at dir:{image}/signature-1" in out
        for fact in facts:
            assert fact in out, (fact, out)
        assert fingerprint(signer) not in out  # never claimed: a sigstore signature does not name its key


def test_copy_rejection_names_scope_requirement_and_trusted_key(lab: Lab) -> None:
    other = ec_key()
    path = lab.key_file(other, "other.pub")
    image = lab.by_key(ec_key())
    r = lab.run_cli("--policy", str(lab.policy({"type": "sigstoreSigned", "keyPath": str(path)})), "copy", "-q",
                    f"dir:{image}", f"dir:{lab.tmp / 'out'}")
    assert r.exit_code == 1
    assert r.stderr.startswith("error[policy-rejected]: Source image rejected: "), r.stderr
    assert "the policy has no transports.dir section" in r.stderr
    assert f"sigstoreSigned (keys: {path}" in r.stderr and "reason INVALID_SIGNATURE" in r.stderr
    assert f"{fingerprint(other)} (from {path})" in r.stderr
    assert not (lab.tmp / "out").exists()


def test_keyless_signature_under_a_key_requirement_says_what_it_carries(lab: Lab) -> None:
    root = make_cert("fulcio root", None, ca=True)
    leaf = make_cert("", root, ca=False, email=EMAIL, oidc_issuer=ISSUER)
    path = lab.key_file(ec_key(), "k.pub")
    out, _err = lab.verify(lab.keyless(leaf, [root.cert], None), lab.policy({"type": "sigstoreSigned",
                                                                              "keyPath": str(path)}))
    assert "INVALID_SIGNATURE" in out and EMAIL in out and ISSUER in out
    assert "fulcio or pki" in out


def test_rekor_set_missing_or_for_another_signature(lab: Lab) -> None:
    key, rekor = ec_key(), ec_key()
    path, rekor_path = lab.key_file(key, "k.pub"), lab.key_file(rekor, "rekor.pub")
    policy = lab.policy({"type": "sigstoreSigned", "keyPath": str(path), "rekorPublicKeyPath": str(rekor_path)})
    out, _ = lab.verify(lab.by_key(key), policy)
    assert "REKOR_SET_INVALID" in out and "missing dev.sigstore.cosign/bundle" in out
    assert f"rekorPublicKeyPath {rekor_path}" in out and "transparency log" in out
    other_payload = cosign_payload(lab.digest, "quay.io/ns/app:2")
    foreign = make_set(rekor, hashedrekord(pub_pem(key), sign(key, other_payload), other_payload),
                       int(NOW.timestamp()))
    out, _ = lab.verify(lab.by_key(key, **{SET_ANN: foreign}), policy)
    assert "REKOR_SET_INVALID" in out and "does not match" in out and "another signature" in out
    own = lab.payload
    unlogged = make_set(ec_key(), hashedrekord(pub_pem(key), sign(key, own), own), int(NOW.timestamp()))
    out, _ = lab.verify(lab.by_key(key, **{SET_ANN: unlogged}), policy)
    assert "REKOR_SET_INVALID" in out and f"Rekor key(s) of rekorPublicKeyPath {rekor_path}" in out


def test_fulcio_mismatches_name_expected_and_found(lab: Lab) -> None:
    rekor = ec_key()
    rekor_path = lab.key_file(rekor, "rekor.pub")
    root = make_cert("fulcio root", None, ca=True)
    inter = make_cert("fulcio intermediate", root, ca=True, path_length=0)
    other_root = make_cert("another ca", None, ca=True)
    (lab.tmp / "fulcio.pem").write_bytes(cert_pem(root.cert))
    (lab.tmp / "other.pem").write_bytes(cert_pem(other_root.cert))
    leaf = make_cert("", inter, ca=False, email=EMAIL, oidc_issuer=ISSUER)
    image = lab.keyless(leaf, [inter.cert, root.cert], rekor)

    def fulcio(ca: str = "fulcio.pem", issuer: str = ISSUER, email: str = EMAIL) -> Path:
        return lab.policy({"type": "sigstoreSigned", "rekorPublicKeyPath": str(rekor_path),
                           "fulcio": {"caPath": str(lab.tmp / ca), "oidcIssuer": issuer, "subjectEmail": email}})

    _out, err = lab.verify(image, fulcio(), accepted=True)
    assert EMAIL in err and ISSUER in err  # the accepted line names the certificate
    out, _ = lab.verify(image, fulcio(ca="other.pem"))
    assert "CERTIFICATE_INVALID" in out and "does not chain to a trusted root" in out
    assert "CN=fulcio intermediate" in out and "CN=another ca" in out and f"caPath {lab.tmp / 'other.pem'}" in out
    out, _ = lab.verify(image, fulcio(issuer="https://accounts.example.org"))
    assert "CERTIFICATE_IDENTITY_MISMATCH" in out and "https://accounts.example.org" in out and ISSUER in out
    assert "oidcIssuer" in out
    out, _ = lab.verify(image, fulcio(email="human@example.com"))
    assert "CERTIFICATE_IDENTITY_MISMATCH" in out and "human@example.com" in out and EMAIL in out
    assert "subjectEmail" in out
    out, _ = lab.verify(lab.keyless(leaf, [inter.cert, root.cert], None), fulcio())
    assert "REKOR_SET_INVALID" in out and "missing" in out and "drop the rekorPublicKey" not in out
    out, _ = lab.verify(lab.by_key(ec_key()), fulcio())
    assert "CERTIFICATE_INVALID" in out and "dev.sigstore.cosign/certificate" in out and "made with a key" in out


def test_pki_mismatches_name_expected_and_found(lab: Lab) -> None:
    root = make_cert("corp root", None, ca=True)
    other_root = make_cert("another ca", None, ca=True)
    (lab.tmp / "corp.pem").write_bytes(cert_pem(root.cert))
    (lab.tmp / "other.pem").write_bytes(cert_pem(other_root.cert))
    leaf = make_cert("", root, ca=False, email="ci@corp.example", dns=["ci.corp.example"])
    image = lab.keyless(leaf, [root.cert], None)

    def pki(ca: str = "corp.pem", **subject: str) -> Path:
        return lab.policy({"type": "sigstoreSigned", "pki": {"caRootsPath": str(lab.tmp / ca), **subject}})

    _out, err = lab.verify(image, pki(subjectEmail="ci@corp.example", subjectHostname="ci.corp.example"),
                           accepted=True)
    assert "ci@corp.example" in err and "CN=corp root" in err
    out, _ = lab.verify(image, pki(ca="other.pem", subjectEmail="ci@corp.example"))
    assert "CERTIFICATE_INVALID" in out and "CN=corp root" in out and "CN=another ca" in out
    assert f"caRootsPath {lab.tmp / 'other.pem'}" in out
    out, _ = lab.verify(image, pki(subjectEmail="ops@corp.example"))
    assert "CERTIFICATE_IDENTITY_MISMATCH" in out and "ops@corp.example" in out and "ci@corp.example" in out
    assert "subjectEmail" in out
    out, _ = lab.verify(image, pki(subjectHostname="build.corp.example"))
    assert "CERTIFICATE_IDENTITY_MISMATCH" in out and "build.corp.example" in out and "ci.corp.example" in out
    assert "subjectHostname" in out


def test_payload_for_another_digest_or_identity(lab: Lab) -> None:
    key = ec_key()
    policy = lab.policy({"type": "sigstoreSigned", "keyPath": str(lab.key_file(key, "k.pub"))})
    elsewhere = Digest.from_bytes(b"another manifest")
    out, _ = lab.verify(lab.by_key(key, cosign_payload(elsewhere, REF)), policy)
    assert "DIGEST_MISMATCH" in out and str(elsewhere) in out and str(lab.digest) in out
    out, _ = lab.verify(lab.by_key(key, cosign_payload(lab.digest, "quay.io/ns/app")), policy)
    assert "IDENTITY_MISMATCH" in out and '"quay.io/ns/app"' in out and f"expected exactly {REF}" in out
    # The hint for cosign's repository-only claim; under exactReference its repository form (a dir:
    # image has no name of its own for matchRepository to compare).
    assert '"exactRepository", "dockerRepository": "quay.io/ns/app"' in out
    out, _ = lab.verify(lab.by_key(key, cosign_payload(lab.digest, "quay.io/other/app:1")), policy)
    assert "IDENTITY_MISMATCH" in out and "quay.io/other/app:1" in out and f"expected exactly {REF}" in out


def test_attachment_that_is_not_a_signature_names_its_type(lab: Lab) -> None:
    attestation = "application/vnd.dev.cosign.attestation.v1+json"
    image = lab.signed({}, b"{}", mime=attestation)
    out, _ = lab.verify(image, lab.policy({"type": "sigstoreSigned", "keyPath": str(lab.key_file(ec_key(), "k"))}))
    assert "NO_SIGNATURES" in out and attestation in out and f"dir:{image}/signature-1" in out
    assert MIME in out  # what a signature would have been


def test_signed_base_layer_says_it_is_not_implemented(lab: Lab) -> None:
    policy = lab.tmp / "base.json"
    policy.write_text(json.dumps({"default": [{"type": "signedBaseLayer",
                                               "baseLayerIdentity": {"type": "matchRepository"}}]}))
    out, _ = lab.verify(lab.by_key(ec_key()), policy)
    assert "NOT_IMPLEMENTED" in out and "signedBaseLayer" in out


@pytest.mark.registry
def test_registry_attachment_by_another_key_names_the_trusted_key(
        tmp_path: Path, plain_registry: RegistryServer, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    site = Site(tmp_path, plain_registry.host, run_cli)
    assert site.sign_push(example_image(), "team/app:1").exit_code == 0
    r = site.verify("team/app:1")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert f"(from {site.public_key})" in r.stderr
    other = ec_key()
    (tmp_path / "other.pub").write_bytes(pub_pem(other))
    wrong = site.policy({"type": "sigstoreSigned", "keyPath": str(tmp_path / "other.pub"),
                         "signedIdentity": {"type": "matchRepository"}}, name="wrong.json")
    r = site.verify("team/app:1", policy=wrong)
    assert r.exit_code == 1
    assert f"{fingerprint(other)} (from {tmp_path / 'other.pub'})" in r.stdout
    assert f"{site.host}/team/app:sha256-" in r.stdout  # the attachment the signature came from
    assert f'transports.docker["{site.host}"]' in r.stderr


@pytest.mark.gpg
def test_standalone_verify_names_expected_keys_files_and_digests(tmp_path: Path, example_home: Any,
                                                                 run_cli: Callable[..., Any],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from registry_signing import FPR, PUBRING

    monkeypatch.setenv("GNUPGHOME", example_home.path)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(example_image().manifest)
    sig = tmp_path / "sig"
    r = run_cli("standalone-sign", str(manifest), REF, FPR, "-o", str(sig))
    assert r.exit_code == 0, r.stderr
    other = "0123456789ABCDEF0123456789ABCDEF01234567"
    several = f"{other},ABCDEF0123456789ABCDEF0123456789ABCDEF01"
    r = run_cli("standalone-verify", str(manifest), REF, several, str(sig))
    # none of them is in the user's keyring: the expected keys and the keyring are named
    assert r.exit_code == 1 and other in r.stderr and str(example_home.path) in r.stderr, r.stderr
    ring = tmp_path / "ring.gpg"
    ring.write_bytes(PUBRING.read_bytes())
    r = run_cli("standalone-verify", "--public-key-file", str(ring), str(manifest), REF, other, str(sig))
    assert r.exit_code == 1 and FPR in r.stderr and other in r.stderr and str(ring) in r.stderr
    r = run_cli("standalone-verify", "--public-key-file", str(ring), str(manifest), REF, "any", str(sig))
    assert r.exit_code == 0 and FPR in r.stdout
    bad = tmp_path / "bad.sig"
    bad.write_bytes(b"garbage")
    r = run_cli("standalone-verify", str(manifest), REF, FPR, str(bad))
    assert r.exit_code == 1 and str(bad) in r.stderr
    changed = tmp_path / "changed.json"
    changed.write_bytes(example_image().manifest + b"\n")
    r = run_cli("standalone-verify", str(changed), REF, FPR, str(sig))
    assert r.exit_code == 1
    assert str(Digest.from_bytes(example_image().manifest)) in r.stderr  # claimed
    assert str(Digest.from_bytes(changed.read_bytes())) in r.stderr and str(changed) in r.stderr  # found


def test_lint_points_at_the_other_signature_kind(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    from registry_signing import PUBRING

    pem = tmp_path / "cosign.pub"
    pem.write_bytes(pub_pem(ec_key()))
    cases = [({"type": "sigstoreSigned", "keyPath": str(PUBRING), "signedIdentity": {"type": "matchRepository"}},
              "signedBy"),
             ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(pem)}, "sigstoreSigned")]
    for requirement, fix in cases:
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                      "transports": {"docker": {"quay.io/ns": [requirement]}}}))
        r = run_cli("policy", "lint", "--policy", str(policy))
        assert "warning[" in r.stdout + r.stderr, r.stdout + r.stderr
        text = r.stdout + r.stderr
        assert 'transports.docker["quay.io/ns"][0].keyPath' in text and fix in text, text
