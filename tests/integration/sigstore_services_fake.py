"""A loopback Fulcio and Rekor for ``copy --sign-by-sigstore`` tests.

No Fulcio or Rekor can run here, so this server speaks their protocol as the public
instances do, with real cryptography: Fulcio checks the bearer token and the proof of key
possession, then issues a leaf certificate (email SAN, OIDC issuer extension) under a test
root and intermediate; Rekor logs ``hashedrekord`` entries, answers a repeated entry with
409 and its Location, and signs each entry's SET with a test key. What trustcopy writes is
then judged by trustcopy's verifier, whose rules are tested against containers/image's
own fixtures elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from registry_fixtures import QuietHTTPServer, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "signature"))
from sigstore_material import Issued, canonical, cert_pem, ec_key, make_cert, pub_pem, sign

OIDC_ISSUER = "https://issuer.example.com"
EMAIL = "release-bot@example.com"


def make_token(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT (the fake Fulcio compares it as a whole; real Fulcio verifies it)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@dataclass
class SigstoreServices:
    """Fulcio at ``/api/v1/signingCert``, Rekor at ``/api/v1/log/entries`` on one port."""

    token: str = field(default_factory=lambda: make_token({"iss": OIDC_ISSUER, "email": EMAIL,
                                                           "email_verified": True, "sub": "1234"}))
    #: answer this many requests (Fulcio and Rekor alike) with 503 first
    failures: int = 0
    #: certify this key instead of the one sent (a hostile Fulcio)
    certify_other_key: bool = False
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = make_cert("fake fulcio root", None, ca=True)
        self.intermediate = make_cert("fake fulcio intermediate", self.root, ca=True, path_length=0)
        self.rekor_key = ec_key()
        self.port = free_port()
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rekor_public_pem(self) -> bytes:
        return pub_pem(self.rekor_key)

    def root_pem(self) -> bytes:
        return cert_pem(self.root.cert)

    # -- Fulcio ------------------------------------------------------------------------------

    def _signing_cert(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            # echoes what it was sent, as a careless server might: the client must not print it
            presented = headers.get("Authorization", "").removeprefix("Bearer ")
            return 401, {}, json.dumps({"code": 16, "message": f"invalid token {presented}"}).encode()
        request = json.loads(body)
        public_der = base64.b64decode(request["publicKey"]["content"])
        assert request["publicKey"]["algorithm"] == "ecdsa"
        key = serialization.load_der_public_key(public_der)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        claims = json.loads(base64.urlsafe_b64decode(self.token.split(".")[1] + "=="))
        try:  # the proof of possession: the subject, signed with the key to certify
            key.verify(base64.b64decode(request["signedEmailAddress"]), claims["email"].encode(),
                       ec.ECDSA(hashes.SHA256()))
        except Exception:  # any failure is a refusal
            return 400, {}, b'{"code":3,"message":"proof of possession failed"}'
        subject_key = ec_key() if self.certify_other_key else None
        leaf = make_cert("", self.intermediate, ca=False, email=claims["email"], oidc_issuer=claims["iss"],
                         key=subject_key)
        if subject_key is None:  # make_cert signs a key it made; re-issue it for the client's key
            leaf = _reissue(leaf, key, self.intermediate)
        chain = cert_pem(leaf.cert) + cert_pem(self.intermediate.cert) + cert_pem(self.root.cert)
        return 201, {"Content-Type": "application/pem-certificate-chain"}, chain

    # -- Rekor -------------------------------------------------------------------------------

    def _entry(self, body_doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = canonical(body_doc)
        uuid = hashlib.sha256(body).hexdigest()
        with self._lock:
            if uuid in self.entries:
                return uuid, self.entries[uuid]
            payload = {"body": base64.b64encode(body).decode(), "integratedTime": int(time.time()),
                       "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
                       "logIndex": len(self.entries) + 100}
            entry = {**payload, "verification": {
                "signedEntryTimestamp": base64.b64encode(sign(self.rekor_key, canonical(payload))).decode()}}
            self.entries[uuid] = entry
            return uuid, entry

    def _log(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "GET":
            uuid = path.rsplit("/", 1)[1]
            with self._lock:
                entry = self.entries.get(uuid)
            if entry is None:
                return 404, {}, b'{"code":404,"message":"not found"}'
            return 200, {"Content-Type": "application/json"}, json.dumps({uuid: entry}).encode()
        doc = json.loads(body)
        assert doc["kind"] == "hashedrekord" and doc["apiVersion"] == "0.0.1"
        with self._lock:
            known = hashlib.sha256(canonical(doc)).hexdigest() in self.entries
        uuid, entry = self._entry(doc)
        if known:
            return 409, {"Location": f"/api/v1/log/entries/{uuid}", "Content-Type": "application/json"}, \
                b'{"code":409,"message":"an equivalent entry already exists in the transparency log"}'
        return 201, {"Content-Type": "application/json", "Location": f"/api/v1/log/entries/{uuid}"}, \
            json.dumps({uuid: entry}).encode()

    # -- the server --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append((method, path, headers, body))
            if self.failures > 0:
                self.failures -= 1
                return 503, {}, b"unavailable"
        if method == "POST" and path == "/api/v1/signingCert":
            return self._signing_cert(headers, body)
        if path.startswith("/api/v1/log/entries"):
            return self._log(method, path, body)
        return 404, {}, b"no such endpoint"

    def start(self) -> SigstoreServices:
        services = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers, out = services.handle(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _do

            def log_message(self, *args: Any) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _h, _b in self.requests if m == method and p.startswith(path))


def _reissue(issued: Issued, key: ec.EllipticCurvePublicKey, issuer: Issued) -> Issued:
    """``issued``'s certificate, for ``key`` instead of its own (same subject and extensions)."""
    cert = issued.cert
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer).public_key(key)
               .serial_number(cert.serial_number).not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), issued.key)
