"""Adversarial credential-leak scenarios: hostile servers and proxies echoing what we sent.

Each test gives trustcopy a credential, lets a server (or proxy) echo it back in a form
the specific masking did not know (the bare base64 of ``user:password``, a proxy's 407
reason phrase chained under our error in a ``--debug`` traceback, a percent-encoded
password …) and asserts that nothing reaches stdout, stderr or the log.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from registry_fixtures import AnswerHandler, free_port, isolate_credentials, serve_in_thread, stop_server

from trustcopy import redact
from trustcopy.transports.docker.auth import Credentials

USER = "leak-user"
PASSWORD = "Hunter2-n3ver/sh0wn+&"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
PROXY_PASSWORD = "Pr0xy-pa55-never-shown"
SECRETS = (PASSWORD, quote(PASSWORD, safe=""), BASIC, BASIC.rstrip("="), PROXY_PASSWORD,
           base64.b64encode(f"pu:{PROXY_PASSWORD}".encode()).decode())


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret[:6]}… leaked in: {text[:3000]}"


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_credentials(monkeypatch, tmp_path)


def _echoing_registry(mode: str) -> tuple[Any, str]:
    """A Basic-auth registry answering every authenticated request with what it was sent."""
    port = free_port()

    class Handler(AnswerHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            if not auth:
                self.send_answer(401, b"{}", {"WWW-Authenticate": 'Basic realm="r"'})
                return
            raw = auth.partition(" ")[2]
            decoded = base64.b64decode(raw).decode()
            echo = f"you sent {raw} ({raw.rstrip('=')}), that is {decoded}, escaped {quote(decoded, safe='')}"
            if mode == "body":
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": echo}]}).encode()
                self.send_answer(401, body, {"Content-Type": "application/json"})
            elif mode == "plain":
                self.send_answer(400, echo.encode(), {"Content-Type": "text/plain"})
            else:  # a Warning header on a 404
                body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}'
                self.send_answer(404, body, {"Content-Type": "application/json", "Warning": f'299 - "{echo}"'})

        do_HEAD = do_GET

    return serve_in_thread(port, Handler), f"127.0.0.1:{port}"


@pytest.mark.parametrize("mode", ["body", "plain", "warning"])
@pytest.mark.parametrize("debug", [False, True])
def test_registry_echoing_the_bare_basic_credential(mode: str, debug: bool, tmp_path: Path) -> None:
    """The base64 of user:password without its ``Basic`` prefix was quoted as is."""
    server, host = _echoing_registry(mode)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "trustcopy", *(["--debug"] if debug else []), "inspect", "--raw",
             "--tls-verify=false", "--retry-times=0", "--creds", f"{USER}:{PASSWORD}", f"docker://{host}/app:1"],
            capture_output=True, text=True, check=False, timeout=60)
    finally:
        stop_server(server)
    assert r.returncode != 0
    assert "error[" in r.stderr
    assert_no_secret(r.stdout, r.stderr)


def test_credentials_secrets_cover_the_encoded_forms() -> None:
    secrets = Credentials(username=USER, password=PASSWORD).secrets()
    for form in (PASSWORD, quote(PASSWORD, safe=""), BASIC, BASIC.rstrip("=")):
        assert form in secrets


@pytest.fixture
def echoing_proxy() -> Iterator[int]:
    """A proxy refusing every CONNECT with a 407 whose reason phrase echoes Proxy-Authorization."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536).decode(errors="replace")
                value = next((line.partition(":")[2].strip() for line in data.split("\r\n")
                              if line.lower().startswith("proxy-authorization")), "none")
                bare = value.partition(" ")[2]
                body = f"bad {value}".encode()
                conn.sendall(f"HTTP/1.1 407 Bad {bare} {value}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        sock.close()
        thread.join(5)


@pytest.mark.parametrize("debug", [False, True])
def test_proxy_echoing_its_credentials_in_a_debug_traceback(echoing_proxy: int, debug: bool) -> None:
    """--debug printed httpcore's ProxyError (the proxy's 407 reason phrase) chained under ours."""
    env = {k: v for k, v in __import__("os").environ.items() if "proxy" not in k.lower()}
    env["HTTPS_PROXY"] = f"http://pu:{PROXY_PASSWORD}@127.0.0.1:{echoing_proxy}"
    r = subprocess.run(
        [sys.executable, "-m", "trustcopy", *(["--debug"] if debug else []), "inspect", "--raw",
         "--retry-times=0", "docker://registry.example.invalid/app:1"],
        capture_output=True, text=True, check=False, timeout=60, env=env)
    assert r.returncode != 0
    assert "error[network]" in r.stderr
    if debug:
        assert "Traceback" in r.stderr  # the traceback is still shown, masked
    assert_no_secret(r.stdout, r.stderr)


def test_scrub_masks_registered_secrets_and_headers() -> None:
    redact.forget_secrets()
    try:
        redact.register_basic(USER, PASSWORD)
        text = f"x {PASSWORD} {BASIC} {quote(PASSWORD, safe='')} Bearer abc.def https://u:pw@h/x"
        assert_no_secret(redact.scrub(text, headers=True))
        assert "Bearer ***" in redact.scrub(text, headers=True)
        assert "***@h/x" in redact.scrub(text)
        redact.register_secret("p")  # too short to mask in free text
        assert redact.scrub("a plain p") == "a plain p"
    finally:
        redact.forget_secrets()


def test_registered_secret_is_masked_in_any_error_line(run_cli: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever path quotes a known secret in an error, the error line the CLI prints masks it."""
    from trustcopy.errors import TransportError

    def leaky(*_args: Any, **_kwargs: Any) -> Any:
        raise TransportError(f"a library quoted {PASSWORD} and {BASIC}")

    monkeypatch.setattr("trustcopy.transports.docker.source.DockerImageSource.__init__", leaky)
    r = run_cli("inspect", "--raw", "--creds", f"{USER}:{PASSWORD}", "docker://registry.example.invalid/app:1")
    assert r.exit_code == 1
    assert "a library quoted ***" in r.stderr
    assert_no_secret(r.stdout, r.stderr)


def test_sigstore_service_error_masks_a_secret_cut_by_the_length_limit() -> None:
    from trustcopy.signature.sigstore_services import _service_error

    token = "eyJ" + "t0ken-part-" * 5
    body = ("x" * 290 + token).encode()
    err = _service_error("asking Fulcio", "https://fulcio.example/api", 401, body, (token,))
    assert token[:10] not in str(err)
