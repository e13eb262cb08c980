"""Real registries for the docker:// tests: plain HTTP, TLS, htpasswd, token auth, faults.

Each fixture starts Debian's ``docker-registry`` (Distribution 2.8) on 127.0.0.1 on a free
port with its own storage, and stops exactly the process it started (by PID). The token
issuer is a small HTTP server in this process that signs ES256 JWTs with a test key; the
registry is configured with ``auth: token`` and that key's certificate, so it validates
every token for real. The fault proxy sits in front of a registry and can answer 503/429,
drop a connection mid-body, stall, or flip a byte, for chosen requests.

Everything listens on 127.0.0.1 only. Test credentials are constants below; tests assert
they never appear in output.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"

#: htpasswd users (bcrypt, cost 5; generated once with the ``bcrypt`` package).
USERS = {"alice": "Al1ce-S3cret-pw!", "bob": "b0b-Other-pw#"}
_HTPASSWD = (
    "alice:$2a$05$H95xH6wDavhhPCyTDKF6B.on9Im734SY5umbHJWbIxfGqU84UNL3K\n"
    "bob:$2a$05$jqnsWTg8DFleWrTRLSbOx.MN/Cmej3Dx8jJ1XjzebMt6zKR1oJ.Fi\n"
)
TOKEN_SERVICE = "trustcopy-test-registry"
TOKEN_ISSUER = "trustcopy-test-issuer"
#: Distribution accepts a token this long after its ``exp`` claim (registry/auth/token Leeway).
_REGISTRY_TOKEN_LEEWAY = 60


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port free on ``address`` (127.0.0.1, or ::1) right now."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


# -- certificates -------------------------------------------------------------------


@dataclass
class TLSMaterial:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_material(directory: Path, *, ips: tuple[str, ...] = ("127.0.0.1",),
                       dns: tuple[str, ...] = ("localhost",)) -> TLSMaterial:
    """Generate a CA and a server certificate signed by it (EC P-256) for ``ips`` and ``dns`` names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trustcopy test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (ips or dns)[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            *(x509.DNSName(d) for d in dns), *(x509.IPAddress(ipaddress.ip_address(i)) for i in ips)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = TLSMaterial(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    out.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return out


# -- the registry process -----------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, so no registry is orphaned."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class RegistryServer:
    """One ``docker-registry serve`` process with its own config and storage."""

    def __init__(self, workdir: Path, *, tls: TLSMaterial | None = None, auth: dict[str, Any] | None = None,
                 headers: dict[str, list[str]] | None = None, listen: str = "127.0.0.1",
                 schema1: bool = False) -> None:
        self.workdir = workdir
        self.listen = listen  # 127.0.0.1, or ::1 for a registry reached as [::1]:PORT
        self.port = free_port(listen)
        self.tls = tls
        storage = workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        http_cfg: dict[str, Any] = {"addr": f"{self.host}", "secret": "trustcopy-test-secret"}
        if tls is not None:
            http_cfg["tls"] = {"certificate": str(tls.server_cert), "key": str(tls.server_key)}
        if headers:  # added to every answer (OpenShift's registry advertises X-Registry-Supports-Signatures so)
            http_cfg["headers"] = headers
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": http_cfg,
            "health": {"storagedriver": {"enabled": False}},
        }
        if auth is not None:
            config["auth"] = auth
        if schema1:  # accept (signed) schema1 manifests, as Distribution 2.x could
            config["compatibility"] = {"schema1": {"enabled": True}}
        self.config_path = workdir / "config.yml"
        # JSON is YAML: no PyYAML needed to write it.
        self.config_path.write_text(json.dumps(config))
        self.log_path = workdir / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (or ``[::1]:PORT``), as used in references."""
        return f"[{self.listen}]:{self.port}" if ":" in self.listen else f"{self.listen}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> RegistryServer:
        """Start the process and wait until /v2/ answers."""
        with open(self.log_path, "wb") as logf:
            # GOGC=400: the suite starts some 750 registries, and a test registry's garbage is small;
            # collecting less often cut their CPU time by a fifth (measured: 0.26 s to 0.20 s each).
            # The parent-death signal comes from setpriv (util-linux, in every Debian) where it can:
            # a preexec_fn makes Python fork() instead of vfork(), and forking a 300 MB pytest
            # worker cost ~80 ms of CPU each time (page-table copy, then a fault per page the
            # worker touches again), a minute of CPU over the suite's 750 registries.
            command = [REGISTRY_BINARY, "serve", str(self.config_path)]
            setpriv = shutil.which("setpriv")
            self.proc = subprocess.Popen([setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command,
                                         stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, "GOGC": "400"},
                                         preexec_fn=None if setpriv else _die_with_parent)  # noqa: PLW1509
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((self.listen, self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start in time")

    def stop(self) -> None:
        """Stop the process this object started (by PID)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


# -- token issuer -------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _libtrust_key_id(public_key: Any) -> str:
    """The key ID Distribution (libtrust) computes for a public key."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


class AnswerHandler(http.server.BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler for the tests' small fake servers, with one way to answer."""

    protocol_version = "HTTP/1.1"

    def send_answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """``status`` with ``headers``, a true Content-Length, and ``body`` (none for a HEAD)."""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


class QuietHangups:
    """Mixin for a test's socketserver: a client hanging up (or a registry killed under a proxy)
    is what fault tests do, so say nothing about it.

    socketserver prints such errors' tracebacks to sys.stderr, and the CLI runner of the test
    running at that moment captures sys.stderr: the traceback landed in the command's own output
    (a CI failure). Other errors still print.
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError | http.client.HTTPException):
            super().handle_error(request, client_address)  # type: ignore[misc]


class QuietHTTPServer(QuietHangups, http.server.ThreadingHTTPServer):
    """The threading HTTP server the tests start (see :class:`QuietHangups`)."""


def serve_in_thread(port: int, handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    """A threading HTTP server on 127.0.0.1:port, serving from a daemon thread."""
    server = QuietHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop_server(server: http.server.ThreadingHTTPServer | None) -> None:
    """Shut down a server started by :func:`serve_in_thread` (None is a no-op)."""
    if server is not None:
        server.shutdown()
        server.server_close()


@dataclass
class TokenRequest:
    """What the token server saw (for assertions; the password is only compared)."""

    method: str
    account: str | None
    authenticated_user: str | None
    scopes: list[str]
    service: str | None
    had_authorization: bool
    grant_type: str | None = None
    user_agent: str | None = None


@dataclass
class TokenIssuer:
    """A token server: ES256 JWTs for a Distribution registry configured with ``auth: token``."""

    workdir: Path
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    anonymous_pull: bool = True
    expires_in: int = 300
    #: Issue this many tokens signed with an untrusted key first (the registry rejects them).
    bad_tokens: int = 0
    #: identitytoken → user, for the OAuth2 refresh-token grant.
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    requests: list[TokenRequest] = field(default_factory=list)
    #: Seconds the registry accepts a token for (its ``exp`` claim is set so, counting the
    #: registry's 60 s leeway), whatever ``expires_in`` tells the client: a token that expires
    #: (clock skew, revocation) while the client still believes it valid. None: ``expires_in``.
    registry_validity: float | None = None
    #: (user, repository) pairs granted nothing, whatever is asked (None: anonymous).
    refused: set[tuple[str | None, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        self._bad_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trustcopy token signer")])
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(self._key, hashes.SHA256())
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle = self.workdir / "token-signer.crt"
        self.rootcertbundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.port = free_port()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def realm(self) -> str:
        """The token endpoint URL."""
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth_config(self) -> dict[str, Any]:
        """The ``auth:`` section for the registry."""
        return {"token": {"realm": self.realm, "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER,
                          "rootcertbundle": str(self.rootcertbundle)}}

    def issued_tokens(self) -> int:
        """How many token requests were answered."""
        with self._lock:
            return len(self.requests)

    def _sign(self, claims: dict[str, Any], bad: bool) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        key = self._bad_key if bad else self._key
        header = {"typ": "JWT", "alg": "ES256", "kid": _libtrust_key_id(key.public_key())}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) != 3 or parts[0] != "repository" or (user, parts[1]) in self.refused:
                    continue
                wanted = set(parts[2].split(","))
                allowed = {"pull", "push", "delete", "*"} if user else ({"pull"} if self.anonymous_pull else set())
                actions = sorted(wanted & allowed)
                if actions:
                    access.append({"type": "repository", "name": parts[1], "actions": actions})
        return access

    def handle(self, method: str, query: dict[str, list[str]], headers: Any, body: bytes) -> tuple[int, bytes]:
        """Answer one token request."""
        user: str | None = None
        auth = headers.get("Authorization")
        form = urllib.parse.parse_qs(body.decode()) if method == "POST" else {}
        params = form or query
        grant_type = (form.get("grant_type") or [None])[0]
        if auth and auth.startswith("Basic "):
            raw = base64.b64decode(auth[6:]).decode()
            name, _, password = raw.partition(":")
            if self.users.get(name) != password:
                return 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
            user = name
        elif grant_type == "refresh_token":
            user = self.refresh_tokens.get((form.get("refresh_token") or [""])[0])
            if user is None:
                return 401, b'{"error":"invalid_grant"}'
        scopes = params.get("scope", [])
        with self._lock:
            self.requests.append(TokenRequest(method, (params.get("account") or [None])[0], user, scopes,
                                              (params.get("service") or [None])[0], bool(auth), grant_type,
                                              headers.get("User-Agent")))
            bad = self.bad_tokens > 0
            if bad:
                self.bad_tokens -= 1
        now = int(time.time())
        exp = now + self.expires_in
        if self.registry_validity is not None:  # Distribution accepts a token until exp + 60 s
            exp = int(time.time() + self.registry_validity) - _REGISTRY_TOKEN_LEEWAY
        claims = {"iss": TOKEN_ISSUER, "sub": user or "", "aud": TOKEN_SERVICE, "exp": exp,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": self._grant(user, scopes)}
        token = self._sign(claims, bad)
        field_name = "access_token" if grant_type else "token"
        return 200, json.dumps({field_name: token, "expires_in": self.expires_in}).encode()

    def start(self) -> TokenIssuer:
        """Serve on 127.0.0.1 in a daemon thread."""
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = issuer.handle(self.command, urllib.parse.parse_qs(parsed.query), self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve_in_thread(self.port, Handler)
        return self

    def stop(self) -> None:
        """Shut the server down."""
        stop_server(self._server)
        self._server = None


# -- fault-injecting proxy ------------------------------------------------------------


@dataclass
class Fault:
    """What the proxy does to one request (see FaultProxy)."""

    status: int | None = None  # answer this status instead of forwarding
    headers: dict[str, str] = field(default_factory=dict)  # added to the answer (injected or forwarded)
    drop_after: int | None = None  # forward, but close after this many body bytes
    flip_at: int | None = None  # forward, with the byte at this offset inverted
    stall: float | None = None  # forward headers, then sleep this long before the body
    lose_answer: bool = False  # forward, let the registry act, then close without answering
    delay: float | None = None  # wait this long before forwarding (a slower network, for benchmarks)


FaultRule = Callable[[str, str, dict[str, str]], "Fault | None"]


def read_request_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """A proxied request's whole body, Content-Length or chunked (the test proxies forward it whole)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class FaultProxy:
    """An HTTP/1.1 reverse proxy on 127.0.0.1 in front of a plain-HTTP registry.

    ``rule(method, path, request_headers)`` returns a Fault or None for each request; the
    proxy records every request in ``seen`` as (method, path, headers).
    """

    def __init__(self, upstream_port: int, rule: FaultRule | None = None) -> None:
        self.upstream_port = upstream_port
        self.rule: FaultRule = rule or (lambda m, p, h: None)
        self.port = free_port()
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        #: TCP connections accepted (a TLS probe's included): how well clients reuse theirs.
        self.connections = 0
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    def count(self, method: str, path_contains: str) -> int:
        """How many requests matched."""
        with self._lock:
            return sum(1 for m, p, _ in self.seen if m == method and path_contains in p)

    def start(self) -> FaultProxy:
        """Serve in a daemon thread."""
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: with Nagle's algorithm every answer would
            # wait for the client's delayed ACK (40 ms). Registries (Go) set TCP_NODELAY.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                body = read_request_body(self)
                headers = dict(self.headers.items())
                with proxy._lock:
                    proxy.seen.append((self.command, self.path, headers))
                fault = proxy.rule(self.command, self.path, headers)
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status is not None:
                    payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
                    self.send_response(fault.status)
                    for k, v in fault.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":  # a HEAD answer has no body (HTTP; the client reuses the connection)
                        self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                # Every header line, repeated ones too (skopeo sends one Accept line per type).
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if fault is not None and fault.lose_answer:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                for k, v in fault.headers.items() if fault is not None else ():
                    self.send_header(k, v)
                # A HEAD answer has no body but announces the size of the GET's.
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault is not None and fault.flip_at is not None and fault.flip_at < len(data):
                    data = data[: fault.flip_at] + bytes([data[fault.flip_at] ^ 0xFF]) + data[fault.flip_at + 1:]
                if fault is not None and fault.stall is not None:
                    self.wfile.write(data[:1])
                    self.wfile.flush()
                    time.sleep(fault.stall)
                    data = data[1:]
                if fault is not None and fault.drop_after is not None:
                    self.wfile.write(data[: fault.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def handle(self) -> None:
                with proxy._lock:
                    proxy.connections += 1
                # A client probing for TLS (skopeo, trustcopy with --tls-verify=false) resets; a
                # registry killed under the proxy refuses, or cuts its answer short (IncompleteRead):
                # the client's connection closes unanswered, and the server (QuietHangups) says nothing.
                super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve_in_thread(self.port, Handler)
        return self

    def stop(self) -> None:
        """Shut the proxy down."""
        stop_server(self._server)
        self._server = None


# -- pytest fixtures --------------------------------------------------------------------


def _require_registry() -> None:
    if shutil.which("docker-registry") is None and not os.path.exists(REGISTRY_BINARY):
        if os.environ.get("CI") == "1":
            pytest.fail("docker-registry is required under CI=1 but not installed")
        pytest.skip("docker-registry not installed")


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    """Start a server object and always stop it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A plain-HTTP registry without auth (use --tls-verify=false)."""
    _require_registry()
    with running(RegistryServer(tmp_path_factory.mktemp("registry-plain"))) as reg:
        yield reg


@pytest.fixture
def second_plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Another plain-HTTP registry (registry-to-registry copies across hosts)."""
    _require_registry()
    with running(RegistryServer(tmp_path_factory.mktemp("registry-plain2"))) as reg:
        yield reg


@pytest.fixture
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An HTTPS registry whose certificate is signed by a test CA (``reg.tls.ca_cert``)."""
    _require_registry()
    work = tmp_path_factory.mktemp("registry-tls")
    with running(RegistryServer(work, tls=make_tls_material(work / "tls"))) as reg:
        yield reg


@pytest.fixture
def htpasswd_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A plain-HTTP registry with htpasswd basic auth for USERS."""
    _require_registry()
    work = tmp_path_factory.mktemp("registry-htpasswd")
    (work / "htpasswd").write_text(_HTPASSWD)
    auth = {"htpasswd": {"realm": "basic-realm", "path": str(work / "htpasswd")}}
    with running(RegistryServer(work, auth=auth)) as reg:
        yield reg


@dataclass
class TokenRegistry:
    """A registry with ``auth: token`` and its token issuer."""

    registry: RegistryServer
    issuer: TokenIssuer

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the registry."""
        return self.registry.host


@pytest.fixture
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """A plain-HTTP registry validating JWTs from an in-process token issuer."""
    _require_registry()
    work = tmp_path_factory.mktemp("registry-token")
    with running(TokenIssuer(work / "issuer")) as issuer, running(
        RegistryServer(work, auth=issuer.registry_auth_config())
    ) as reg:
        yield TokenRegistry(reg, issuer)


@pytest.fixture
def proxied(plain_registry: RegistryServer) -> Iterator[Any]:
    """A recording, scriptable proxy (scripted_proxy.ScriptedProxy) in front of ``plain_registry``."""
    from scripted_proxy import ScriptedProxy  # (it imports this module)

    proxy = ScriptedProxy(plain_registry.port)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(plain_registry: RegistryServer) -> Iterator[FaultProxy]:
    """A FaultProxy in front of ``plain_registry`` (set ``.rule`` in the test)."""
    with running(FaultProxy(plain_registry.port)) as proxy:
        yield proxy


# -- helpers for tests talking to the transport directly ----------------------------------


def docker_ref(host: str, name: str) -> Any:
    """``docker://HOST/NAME`` parsed by the real transport."""
    from trustcopy.transports.alltransports import parse_image_name

    return parse_image_name(f"docker://{host}/{name}")


def push_image(host: str, name: str, image: Any, sys_ctx: Any) -> None:
    """Push an imagefactory Image with the docker destination (blobs, then manifest)."""
    import io

    from trustcopy.digest import Digest
    from trustcopy.types import BlobInfo

    with docker_ref(host, name).new_image_destination(sys_ctx) as dest:
        for digest, data in image.blobs.items():
            info = BlobInfo(digest=Digest.parse(digest), size=len(data))
            if dest.try_reusing_blob(info) is None:
                dest.put_blob(io.BytesIO(data), info)
        dest.put_manifest(image.manifest)
        dest.commit(image.manifest)


def pull_blob(src: Any, digest: str, size: int = -1) -> bytes:
    """Read a whole blob through DigestingReader, as the copy pipeline does."""
    from trustcopy.digest import Digest, DigestingReader
    from trustcopy.types import BlobInfo

    info = BlobInfo(digest=Digest.parse(digest), size=size)
    stream, _ = src.get_blob(info)
    try:
        reader = DigestingReader(stream, info.digest, expected_size=size, what=digest)
        out = bytearray()
        while chunk := reader.read(1 << 16):
            out += chunk
        return bytes(out)
    finally:
        stream.close()


def fast_sys(**kwargs: Any) -> Any:
    """A SystemContext for a plain-HTTP test registry with quick retries."""
    from trustcopy.types import SystemContext

    base: dict[str, Any] = {"docker_tls_verify": False, "docker_retry_delay": 0.05, "docker_timeout": 10.0}
    base.update(kwargs)
    return SystemContext(**base)


# -- isolation from the developer's machine --------------------------------------------------------


def isolate_credentials(monkeypatch: Any, home: Path, *, proxies: bool = True) -> None:
    """Never read the developer's own auth files (nor, with ``proxies``, go through their proxy):
    the auth-file variables point into ``home``, where nothing exists."""
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(home / "no-auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / "no-docker"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "no-config"))
    if proxies:
        for name in list(os.environ):
            if "proxy" in name.lower():
                monkeypatch.delenv(name)


def assert_no_secret(*texts: str, secret: str) -> None:
    """None of ``texts`` (output, logs, files written) holds ``secret``."""
    for text in texts:
        assert secret not in text, f"secret leaked in: {text[:3000]}"


def files_text(directory: Path) -> str:
    """Everything under ``directory`` as text (reports and digest files written by a command)."""
    return "".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())


def registry_request(base_url: str, path: str, method: str = "GET", token: str | None = None) -> tuple[int, bytes]:
    """A request straight to a registry's ``/v2/PATH`` (reading back what a test's command wrote):
    status and body ("" for an error status), manifests asked for as OCI or schema2."""
    import urllib.error
    import urllib.request

    headers = {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                         "application/vnd.docker.distribution.manifest.v2+json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{base_url}/v2/{path}", method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
