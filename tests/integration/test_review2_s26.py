"""Review of session 26's later commits (library API, CLI logging, pools' read size, the demo).

Each test names its input, the old behaviour and the new:

- a CLI warning is printed once on stderr, also when the process's logging already prints
  to stderr (a sitecustomize's ``logging.basicConfig()``, an in-process earlier ``--debug``);
- a pool reached through an HTTPS proxy (TLS in TLS) keeps the session's read size;
- the demo's private keyring works, and is removed, with a deep or spaced ``$TMPDIR``.
"""

from __future__ import annotations

import http.server
import os
import select
import shutil
import socket
import socketserver
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_fixtures import QuietHangups, QuietHTTPServer, TLSMaterial, make_tls_material

ROOT = Path(__file__).resolve().parents[2]

# -- warnings printed once -------------------------------------------------------------------

_WARNING = "this scope never matches any image"  # policy/parse.py: a docker scope that is no host


def _cli_env(tmp_path: Path, site: str | None) -> dict[str, str]:
    (tmp_path / "policy.json").write_text('{"default": [{"type": "reject"}], '
                                          '"transports": {"docker": {"busybox": [{"type": "reject"}]}}}')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "sitecustomize.py").write_text(site)
        env["PYTHONPATH"] = str(tmp_path / "site")
    return env


def _args(tmp_path: Path) -> list[str]:
    return ["--policy", str(tmp_path / "policy.json"), "policy", "explain", f"dir:{tmp_path / 'none'}"]


@pytest.mark.parametrize("site", [None, "import logging\nlogging.basicConfig()\n"])
def test_a_cli_warning_is_printed_once_whatever_logging_the_process_has(tmp_path: Path, site: str | None) -> None:
    """input: a warning (a policy scope that never matches) in ``trustcopy policy explain``, with a sitecustomize
    that calls ``logging.basicConfig()`` (a common site hook).
    old: printed twice: by the root handler (``WARNING:trustcopy.docker:…``) and by the CLI's own handler.
    new: once (the CLI's handler leaves a record to a handler already printing it on stderr)."""
    done = subprocess.run([sys.executable, "-m", "trustcopy", *_args(tmp_path)], env=_cli_env(tmp_path, site),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert done.stderr.count(_WARNING) == 1, done.stderr


def test_in_process_main_after_a_debug_command_prints_a_warning_once(tmp_path: Path) -> None:
    """input: ``main([--debug, policy explain …])`` then ``main([policy explain …])`` in one process.
    old: the second command printed the warning twice (the first's ``basicConfig`` root handler, and the CLI's).
    new: once per command."""
    script = textwrap.dedent(f"""
        import sys
        from trustcopy.cli.main import main
        for debug in (True, False):
            print("=== next", file=sys.stderr, flush=True)
            try:
                main((["--debug"] if debug else []) + {_args(tmp_path)!r})
            except (SystemExit, Exception):  # --debug raises the error on (its traceback)
                pass
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_cli_env(tmp_path, None), capture_output=True,
                          text=True, timeout=60, check=False)
    runs = done.stderr.split("=== next")[1:]
    assert [run.count(_WARNING) for run in runs] == [1, 1], done.stderr


# -- TLS in TLS through an HTTPS proxy -----------------------------------------------------


class _Tunnel(QuietHangups, socketserver.ThreadingTCPServer):
    """An HTTPS proxy: TLS to the client, CONNECT answered by a tunnel to ``target`` (whatever is asked)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, material: TLSMaterial, target: tuple[str, int]) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(material.server_cert, material.server_key)
        self.target = target
        self.connects: list[str] = []
        super().__init__(("127.0.0.1", 0), _TunnelHandler)


class _TunnelHandler(socketserver.BaseRequestHandler):
    server: _Tunnel

    def handle(self) -> None:
        conn = self.server.context.wrap_socket(self.request, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        self.server.connects.append(head.split(b"\r\n", 1)[0].decode())
        upstream = socket.create_connection(self.server.target)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        conn.setblocking(False)
        try:
            while True:
                ready, _, _ = select.select([conn, upstream], [], [], 10)
                if not ready:
                    return
                for src, dst in ((conn, upstream), (upstream, conn)):
                    if src in ready or (src is conn and conn.pending()):
                        try:
                            data = src.recv(1 << 16)
                        except ssl.SSLWantReadError:
                            continue
                        if not data:
                            return
                        dst.setblocking(True)
                        dst.sendall(data)
                        if dst is conn:
                            conn.setblocking(False)
        finally:
            upstream.close()
            conn.close()


@pytest.fixture
def tls_in_tls(tmp_path: Path) -> Iterator[tuple[TLSMaterial, _Tunnel, bytes]]:
    """A TLS server for registry.test and an HTTPS proxy tunnelling every CONNECT to it."""
    material = make_tls_material(tmp_path / "tls", ips=("127.0.0.1",), dns=("registry.test",))
    body = os.urandom(3 << 20)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    origin = QuietHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(material.server_cert, material.server_key)
    origin.socket = context.wrap_socket(origin.socket, server_side=True)
    proxy = _Tunnel(material, origin.server_address[:2])  # type: ignore[arg-type]
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
               for s in (origin, proxy)]
    for t in threads:
        t.start()
    try:
        yield material, proxy, body
    finally:
        for s in (origin, proxy):
            s.shutdown()
            s.server_close()


def test_a_pool_behind_an_https_proxy_reads_the_sessions_size_inside_the_tunnel(
        tls_in_tls: tuple[TLSMaterial, _Tunnel, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """input: HTTPS_PROXY=https://proxy, a registry over https (TLS inside the proxy's TLS, httpcore's
    TLSinTLSStream made by start_tls on the wrapped stream).
    old/new: the body arrives whole and every read inside the tunnel asks for the session's size
    (the wrapper survives start_tls), not httpcore's 64 KiB."""
    import httpcore._sync.connection as connection
    from httpcore._backends.sync import TLSinTLSStream

    from trustcopy.transports.docker.session import RegistrySession

    material, proxy, body = tls_in_tls
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(material.ca_cert, certs / "ca.crt")
    for name in list(os.environ):
        if "proxy" in name.lower():
            monkeypatch.delenv(name)
    monkeypatch.setenv("HTTPS_PROXY", f"https://127.0.0.1:{proxy.server_address[1]}")
    # httpx hands the proxy connection httpcore's default (certifi) context: trust the test CA there.
    proxy_context = ssl.create_default_context(cafile=str(material.ca_cert))
    monkeypatch.setattr(connection, "default_ssl_context", lambda: proxy_context)
    asked: list[int] = []
    real_read = TLSinTLSStream.read

    def read(self: TLSinTLSStream, max_bytes: int, timeout: float | None = None) -> bytes:
        asked.append(max_bytes)
        return real_read(self, max_bytes, timeout)

    monkeypatch.setattr(TLSinTLSStream, "read", read)
    s = RegistrySession()
    try:
        pool = s.http_client(*s.tls(str(certs), True), "registry.test")
        response = pool.get("https://registry.test/blob")
        assert response.status_code == 200
        assert response.content == body
    finally:
        s.close()
    assert proxy.connects == ["CONNECT registry.test:443 HTTP/1.1"]
    assert asked and set(asked) == {s.read_size()} and s.read_size() == 512 << 10


# -- the demo's keyring ----------------------------------------------------------------------


@pytest.fixture
def demo_tree(tmp_path: Path) -> Path:
    """scripts/demo.sh with the checkout's demo inputs, so that out/demo lands in tmp_path."""
    from test_docs_claims3_s26 import make_demo_tree

    return make_demo_tree(tmp_path)


def test_demo_runs_with_a_deep_tmpdir_and_removes_its_keyring(demo_tree: Path) -> None:
    """input: ``scripts/demo.sh`` with TMPDIR a deep directory whose name has spaces (90 bytes).
    old: the keyring went under $TMPDIR, gpg-agent's socket path passed 107 bytes, and the import
    failed ("No agent running"): the very failure the short keyring path was for.
    new: the keyring goes to /tmp when $TMPDIR is too deep for the socket; the demo passes, and
    nothing of the keyring is left behind."""
    deep = demo_tree / "tmp dir"
    deep = deep / ("d" * max(1, 90 - len(str(deep)) - 1))
    deep.mkdir(parents=True)
    assert len(str(deep)) >= 90
    before = set(os.listdir("/tmp"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(deep)}
    done = subprocess.run(["bash", str(demo_tree / "scripts" / "demo.sh")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo finished" in done.stdout
    assert os.listdir(deep) == []
    assert not {n for n in set(os.listdir("/tmp")) - before if n.startswith("trustcopy-demo-gpg.")}


def test_demo_removes_its_keyring_when_a_step_fails(tmp_path: Path) -> None:
    """input: the demo with TMPDIR a directory whose name has a space, and step 3's policy missing.
    old/new: the demo fails at step 3, and its keyring (and agent) is gone from $TMPDIR all the same."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "demo.sh", tmp_path / "scripts" / "demo.sh")
    for name in ("examples", "keys-example"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "policies").mkdir()  # no demo-build.json: step 3 fails
    spaced = tmp_path / "t d"
    spaced.mkdir()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(spaced)}
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "demo.sh")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "=== 3/6" in done.stdout and "=== 4/6" not in done.stdout, done.stdout + done.stderr
    assert "key " in done.stdout  # the keyring was made in $TMPDIR
    assert os.listdir(spaced) == []
