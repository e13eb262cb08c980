"""containers-sigstore-signing-params.yaml(5), as containers/image's NewSignerFromParameterFile reads it."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from trustcopy.copy.sigstore_params import load_signing_params
from trustcopy.errors import SignatureError
from trustcopy.signature.sigstore_services import rekor_set, token_subject


def _params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_private_key_and_rekor(tmp_path: Path) -> None:
    path = _params(tmp_path, "privateKeyFile: /keys/k.private\nprivateKeyPassphraseFile: /keys/pass\n"
                             "rekorURL: https://rekor.example.com\n")
    params = load_signing_params(str(path))
    assert (params.private_key_file, params.private_key_passphrase_file, params.fulcio, params.rekor_url) == (
        "/keys/k.private", "/keys/pass", None, "https://rekor.example.com")


def test_fulcio_static_token(tmp_path: Path) -> None:
    path = _params(tmp_path, "fulcio:\n  fulcioURL: https://fulcio.example.com\n  oidcMode: staticToken\n"
                             "  oidcIDToken: a.b.c\n")
    params = load_signing_params(str(path))
    assert params.fulcio is not None and params.fulcio.oidc_id_token == "a.b.c"
    assert "a.b.c" not in repr(params)  # the token is a credential


@pytest.mark.parametrize(("text", "message"), [
    # containers/image's own checks (pkg/cli/sigstore, signature/sigstore NewSigner), in its words
    ("rekorURL: https://rekor.example.com\n",
     "no private key source provided (neither a private key nor Fulcio) when preparing to create sigstore signatures"),
    ("", "no private key source provided"),
    ("privateKeyFile: /k\nfulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: staticToken\n  oidcIDToken: t\n",
     "multiple private key sources specified when preparing to create sigstore signatures"),
    ("fulcio:\n  oidcMode: staticToken\n  oidcIDToken: t\n", "missing fulcioURL"),
    ("fulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: staticToken\n", "missing oidcToken"),
    ("fulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: deviceGrant\n", "missing oidcIssuerURL"),
    ("fulcio:\n  fulcioURL: https://f.example.com\n  oidcIssuerURL: https://i.example.com\n", "missing oidcMode"),
    ("fulcio:\n  fulcioURL: https://f.example.com\n  oidcIssuerURL: https://i.example.com\n  oidcMode: magic\n",
     "unknown oidcMode value 'magic'"),
    # yaml.v4 KnownFields: unknown keys refuse the file, at every level
    ("privateKeyFile: /k\nprivateKeyPassword: x\n", "unknown field privateKeyPassword"),
    ("fulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: staticToken\n  oidcIDToken: t\n  token: t\n",
     "unknown field fulcio.token"),
    ("privateKeyFile: /k\nprivateKeyFile: /j\n", "duplicate"),
    ("privateKeyFile: [1]\n", "privateKeyFile must be a string"),
    ("- privateKeyFile\n", "must be a mapping"),
    ("privateKeyFile: /k\nrekorURL: rekor.example.com\n", "an http(s) URL with a host is needed"),
    ("privateKeyFile: /k\nrekorURL: https://user:secret@rekor.example.com\n", "credentials inside the URL"),
    ("privateKeyPassphraseFile: /p\nfulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: staticToken\n"
     "  oidcIDToken: t\n", "privateKeyPassphraseFile is set without privateKeyFile"),
])
def test_refused(tmp_path: Path, text: str, message: str) -> None:
    path = _params(tmp_path, text)
    with pytest.raises(SignatureError) as exc:
        load_signing_params(str(path))
    assert exc.value.code == "sigstore-params-invalid"
    assert message in exc.value.message and str(path) in exc.value.message
    assert "secret" not in exc.value.message


@pytest.mark.parametrize("mode", ["deviceGrant", "interactive"])
def test_browser_flows_are_refused_by_name(tmp_path: Path, mode: str) -> None:
    path = _params(tmp_path, f"fulcio:\n  fulcioURL: https://f.example.com\n  oidcMode: {mode}\n"
                             "  oidcIssuerURL: https://oauth2.example.com\n  oidcClientID: sigstore\n")
    with pytest.raises(SignatureError, match=f"oidcMode {mode} needs a person at a browser") as exc:
        load_signing_params(str(path))
    assert exc.value.code == "sigstore-signing-unsupported" and "staticToken" in (exc.value.hint or "")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match=r"reading .*/nope.yaml: No such file or directory"):
        load_signing_params(str(tmp_path / "nope.yaml"))


def test_a_pipe_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import threading

    def feed() -> None:
        with open(fifo, "w") as f:
            f.write("privateKeyFile: /k\n")

    thread = threading.Thread(target=feed)
    thread.start()
    assert load_signing_params(str(fifo)).private_key_file == "/k"
    thread.join()


def _jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.sig"


@pytest.mark.parametrize(("claims", "subject"), [
    # sigstore's subjectFromClaims: a verified email wins, else sub
    ({"email": "a@example.com", "email_verified": True, "sub": "1"}, "a@example.com"),
    ({"sub": "repo:org/app:ref:refs/heads/main"}, "repo:org/app:ref:refs/heads/main"),
    ({"email": "", "sub": "x"}, "x"),
])
def test_token_subject(claims: dict[str, object], subject: str) -> None:
    assert token_subject(_jwt(claims)) == subject


@pytest.mark.parametrize(("token", "message"), [
    (_jwt({"email": "a@example.com", "email_verified": False}), "not verified by the identity provider"),
    (_jwt({"email": "a@example.com"}), "not verified"),
    (_jwt({"iss": "x"}), "names no subject"),
    ("not-a-jwt", "is not a JWT"),
    ("a.!!!.c", "unreadable payload"),
])
def test_token_subject_refusals(token: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message) as exc:
        token_subject(token)
    assert exc.value.code == "sigstore-token-invalid"


def test_rekor_set_is_written_as_containers_image_writes_it() -> None:
    entry = {"body": base64.b64encode(b'{"kind":"hashedrekord"}').decode(), "integratedTime": 1700000000,
             "logID": "c0ffee", "logIndex": 42, "verification": {"signedEntryTimestamp": "AQID"}}
    out = rekor_set(json.dumps({"24296fb24b8ad77a": entry}).encode())
    # Go: json.Marshal of map[string]any → sorted keys, compact; []byte → base64
    assert out == ('{"Payload":{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIn0=","integratedTime":1700000000,'
                   '"logID":"c0ffee","logIndex":42},"SignedEntryTimestamp":"AQID"}')


@pytest.mark.parametrize("answer", [
    b"[]", b"{}", b'{"a":{},"b":{}}', b'{"a":{"body":"x"}}', b"not json",
    b'{"a":{"body":"eA==","integratedTime":"1","logID":"l","logIndex":1,"verification":{"signedEntryTimestamp":"AQ=="}}}',
    b'{"a":{"body":"***","integratedTime":1,"logID":"l","logIndex":1,"verification":{"signedEntryTimestamp":"AQ=="}}}',
])
def test_malformed_rekor_answers_are_refused(answer: bytes) -> None:
    with pytest.raises(SignatureError) as exc:
        rekor_set(answer)
    assert exc.value.code == "sigstore-service"
