"""``copy --sign-by-sigstore PARAM-FILE``: a key or a Fulcio certificate, logged in Rekor, judged by sigstoreSigned.

Fulcio and Rekor are tests/integration/sigstore_services_fake.py (real cryptography,
their protocol, on loopback); the signatures are judged by trustcopy's own verifier.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_oci
from sigstore_services_fake import EMAIL, OIDC_ISSUER, SigstoreServices, make_token

from trustcopy.cli.main import main
from trustcopy.signature import sigstore_services

IDENTITY = "registry.example.com/team/app:1.0"


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[SigstoreServices]:
    monkeypatch.setattr(sigstore_services, "RETRY_DELAY", 0.01)
    fake = SigstoreServices().start()
    try:
        yield fake
    finally:
        fake.stop()



def _params(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def _policy(tmp_path: Path, requirement: dict[str, Any]) -> Path:
    req = {"type": "sigstoreSigned", **requirement,
           "signedIdentity": {"type": "exactReference", "dockerReference": IDENTITY}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "dir": {"": [req]}, "oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    return path


def _sign(tmp_path: Path, params: Path, dest: str = "signed") -> int:
    write_oci({"1.0": example_image()}, str(tmp_path / "src"))
    return main(["--insecure-policy", "copy", "-q", "--sign-by-sigstore", str(params), "--sign-identity", IDENTITY,
                 f"oci:{tmp_path}/src:1.0", f"dir:{tmp_path}/{dest}"])


def _verify(tmp_path: Path, requirement: dict[str, Any], name: str) -> int:
    return main(["--policy", str(_policy(tmp_path, requirement)), "copy", "-q", f"dir:{tmp_path}/signed",
                 f"dir:{tmp_path}/{name}"])


def _annotations(tmp_path: Path) -> dict[str, str]:
    blob = (tmp_path / "signed" / "signature-1").read_bytes()
    assert blob.startswith(b"\x00sigstore-json\n")
    return json.loads(blob.split(b"\n", 1)[1])["annotations"]  # type: ignore[no-any-return]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_key_and_rekor(keys: Path, services: SigstoreServices) -> None:
    params = _params(keys, {"privateKeyFile": str(keys / "key.private"),
                            "privateKeyPassphraseFile": str(keys / "pass"), "rekorURL": services.url})
    assert _sign(keys, params) == 0
    assert services.count("POST", "/api/v1/log/entries") == 1 and services.count("POST", "/api/v1/signingCert") == 0
    assert sorted(_annotations(keys)) == ["dev.cosignproject.cosign/signature", "dev.sigstore.cosign/bundle"]
    rekor_pub = _write(keys / "rekor.pub", services.rekor_public_pem())
    assert _verify(keys, {"keyPath": str(keys / "key.pub"), "rekorPublicKeyPath": rekor_pub}, "ok") == 0
    # the SET is really checked: another Rekor key refuses the signature
    other = SigstoreServices()
    wrong = _write(keys / "other-rekor.pub", other.rekor_public_pem())
    assert _verify(keys, {"keyPath": str(keys / "key.pub"), "rekorPublicKeyPath": wrong}, "refused") == 1
    assert not (keys / "refused").exists()


def test_key_without_rekor_is_a_plain_key_signature(keys: Path, services: SigstoreServices) -> None:
    params = _params(keys, {"privateKeyFile": str(keys / "key.private"),
                            "privateKeyPassphraseFile": str(keys / "pass")})
    assert _sign(keys, params) == 0
    assert list(_annotations(keys)) == ["dev.cosignproject.cosign/signature"] and not services.requests
    assert _verify(keys, {"keyPath": str(keys / "key.pub")}, "ok") == 0


def test_fulcio_static_token_and_rekor(tmp_path: Path, services: SigstoreServices) -> None:
    params = _params(tmp_path, {"fulcio": {"fulcioURL": services.url, "oidcMode": "staticToken",
                                           "oidcIDToken": services.token}, "rekorURL": services.url})
    assert _sign(tmp_path, params) == 0
    annotations = _annotations(tmp_path)
    assert "BEGIN CERTIFICATE" in annotations["dev.sigstore.cosign/certificate"]
    assert annotations["dev.sigstore.cosign/chain"].count("BEGIN CERTIFICATE") == 2
    [(_m, _p, headers, body)] = [r for r in services.requests if r[1] == "/api/v1/signingCert"]
    assert headers["Authorization"] == f"Bearer {services.token}"
    assert list(json.loads(body)) == ["publicKey", "signedEmailAddress"]  # Fulcio's v1 request, Go's field order
    # Rekor was told the certificate signed, not a bare key
    [(_m, _p, _h, entry)] = [r for r in services.requests if r[:2] == ("POST", "/api/v1/log/entries")]
    told = base64.b64decode(json.loads(entry)["spec"]["signature"]["publicKey"]["content"])
    assert told.startswith(b"-----BEGIN CERTIFICATE-----") and told.strip() == \
        annotations["dev.sigstore.cosign/certificate"].encode().strip()
    ca = _write(tmp_path / "root.pem", services.root_pem())
    rekor_pub = _write(tmp_path / "rekor.pub", services.rekor_public_pem())
    fulcio = {"caPath": ca, "oidcIssuer": OIDC_ISSUER, "subjectEmail": EMAIL}
    assert _verify(tmp_path, {"fulcio": fulcio, "rekorPublicKeyPath": rekor_pub}, "ok") == 0
    assert _verify(tmp_path, {"fulcio": {**fulcio, "subjectEmail": "someone-else@example.com"},
                              "rekorPublicKeyPath": rekor_pub}, "refused") == 1
    assert not (tmp_path / "refused").exists()


def test_a_refused_token_fails_before_anything_is_written(tmp_path: Path, services: SigstoreServices,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    token = make_token({"iss": OIDC_ISSUER, "email": EMAIL, "email_verified": True})  # not the one Fulcio knows
    params = _params(tmp_path, {"fulcio": {"fulcioURL": services.url, "oidcMode": "staticToken",
                                           "oidcIDToken": token}})
    assert _sign(tmp_path, params) == 1
    err = capsys.readouterr().err
    assert "error[sigstore-service]" in err and "answered HTTP 401" in err
    assert token not in err  # the token is a credential
    assert not (tmp_path / "signed").exists()


def test_a_certificate_for_another_key_is_refused(tmp_path: Path, services: SigstoreServices,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    services.certify_other_key = True
    params = _params(tmp_path, {"fulcio": {"fulcioURL": services.url, "oidcMode": "staticToken",
                                           "oidcIDToken": services.token}})
    assert _sign(tmp_path, params) == 1
    assert "Fulcio certified another key than the one sent" in capsys.readouterr().err
    assert not (tmp_path / "signed").exists()


def test_rekor_down_fails_the_copy_and_leaves_nothing(keys: Path, services: SigstoreServices,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    services.failures = 100
    params = _params(keys, {"privateKeyFile": str(keys / "key.private"),
                            "privateKeyPassphraseFile": str(keys / "pass"), "rekorURL": services.url})
    assert _sign(keys, params) == 1
    assert "uploading the signature to Rekor" in capsys.readouterr().err
    assert services.count("POST", "/api/v1/log/entries") == sigstore_services.ATTEMPTS
    assert not (keys / "signed").exists()


def test_passing_503s_are_retried(keys: Path, services: SigstoreServices) -> None:
    services.failures = 2
    params = _params(keys, {"privateKeyFile": str(keys / "key.private"),
                            "privateKeyPassphraseFile": str(keys / "pass"), "rekorURL": services.url})
    assert _sign(keys, params) == 0
    assert services.count("POST", "/api/v1/log/entries") == 3


def test_an_entry_already_logged_is_fetched(services: SigstoreServices, keys: Path) -> None:
    """Rekor's 409 (cosign's and containers/image's conflict path): the existing entry's SET is used."""
    pem = (keys / "key.pub").read_bytes()
    first = sigstore_services.upload_to_rekor(services.url, pem, b"sig", b"payload")
    again = sigstore_services.upload_to_rekor(services.url, pem, b"sig", b"payload")
    assert first == again
    assert services.count("GET", "/api/v1/log/entries/") == 1


def test_the_param_file_must_be_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = _params(tmp_path, {"privateKeyFile": "/k", "privateKeyPasswordFile": "/p"})
    assert _sign(tmp_path, params) == 1
    err = capsys.readouterr().err
    assert "error[sigstore-params-invalid]" in err and "unknown field privateKeyPasswordFile" in err
    assert not (tmp_path / "signed").exists()
