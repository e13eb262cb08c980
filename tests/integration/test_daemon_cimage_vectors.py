"""docker-daemon: conformance with the newest containers/image (docker/daemon/client.go, daemon_dest.go,
daemon_src.go and their tests), restated here; skopeo 1.9.3 and podman's Docker API as witnesses.

Covered: host parsing (``unix://`` paths taken verbatim, ``tcp://HOST:PORT/PREFIX``, no scheme refused,
credentials refused and never printed), TLS for ``tcp://`` (on and verified by default, ``--*-cert-dir``
needs ca.pem, cert.pem and key.pem, ignored for ``unix://``), API version negotiation (``/_ping``,
versioned paths), ``docker save`` naming the image as containers/image does (the familiar name), the
load answer read as a JSON stream (errors reported, unreadable answers never reported as done), and an
aborted copy loading nothing.
"""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from daemon_fixtures import Podman, podman_service
from imagefactory import example_image, write_oci
from registry_fixtures import QuietHangups

from trustcopy.errors import ConfigError, TransportError
from trustcopy.transports.docker_daemon import daemon_tls_context, parse_daemon_host
from trustcopy.types import SystemContext

pytestmark = [pytest.mark.daemon]

CONFIG = json.loads(example_image().manifest)["config"]["digest"]


# -- a scripted engine on a unix socket or on loopback TCP (optionally TLS) ----------------------------


def _read_chunked(rfile: Any) -> None:
    while True:
        size = int(rfile.readline().strip() or b"0", 16)
        if size == 0:
            rfile.readline()
            return
        rfile.read(size)
        rfile.readline()


class _Engine(http.server.BaseHTTPRequestHandler):
    """Answers /_ping, /images/load and /images/NAME/json; records every request path."""

    protocol_version = "HTTP/1.1"
    api_version: ClassVar[str | None] = "1.41"
    load_answer: ClassVar[bytes] = b'{"stream":"Loaded image: example.com/x:1"}\n'
    inspect_answer: ClassVar[dict[str, Any] | None] = None  # None: {"Id": CONFIG}
    paths: ClassVar[list[str]]
    peer_certs: ClassVar[list[bool]]

    def log_message(self, *args: object) -> None:
        return

    def address_string(self) -> str:
        return "engine"

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if type(self).api_version is not None:
            self.send_header("Api-Version", type(self).api_version or "")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> None:
        type(self).paths.append(self.path.split("?", 1)[0])
        getpeercert = getattr(self.connection, "getpeercert", None)
        type(self).peer_certs.append(bool(getpeercert and getpeercert()))

    def do_POST(self) -> None:
        self._record()
        _read_chunked(self.rfile)
        self._answer(200, type(self).load_answer)

    def do_GET(self) -> None:
        self._record()
        if self.path.split("?", 1)[0].endswith("/_ping"):
            self._answer(200, b"OK")
        elif self.path.endswith("/json"):
            self._answer(200, json.dumps(type(self).inspect_answer or {"Id": CONFIG}).encode())
        else:
            self._answer(404, b'{"message":"no such image"}')


class _UnixServer(QuietHangups, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _port(server: Any) -> int:
    return int(server.server_address[1])


def _engine_class(**attrs: Any) -> type[_Engine]:
    return type("Engine", (_Engine,), {"paths": [], "peer_certs": [], **attrs})


@pytest.fixture
def unix_engine(tmp_path: Path) -> Iterator[tuple[str, type[_Engine]]]:
    handler = _engine_class()
    server = _UnixServer(str(tmp_path / "engine.sock"), handler)
    for _ in _serve(server):
        yield f"unix://{tmp_path / 'engine.sock'}", handler


@pytest.fixture
def layout(tmp_path: Path) -> str:
    write_oci({"x": example_image()}, str(tmp_path / "layout"))
    return f"oci:{tmp_path / 'layout'}:x"


def _copy_to(run_cli, policy: Path, src: str, host: str, *extra: str, dest: str = "example.com/x:1"):  # type: ignore[no-untyped-def]
    return run_cli("--policy", str(policy), "copy", "-q", "--dest-daemon-host", host, *extra, src,
                   f"docker-daemon:{dest}")


# -- certificates (openssl(1)): a CA, a server certificate for 127.0.0.1, a client certificate ------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("daemon-certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("cert", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}-key.pem" if name == "server" else "key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    client = d / "client"
    client.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (client / name).write_bytes((d / name).read_bytes())
    return d


def _tls_engine(certs: Path, *, require_client_cert: bool = False) -> tuple[socketserver.BaseServer, type[_Engine]]:
    handler = _engine_class()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "server.pem", certs / "server-key.pem")
    ctx.load_verify_locations(certs / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    server = _TCPServer(("127.0.0.1", 0), handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server, handler


# -- host parsing (client.go: dockerclient.ParseHostURL and the scheme switch) -----------------------


@pytest.mark.parametrize(("host", "scheme", "address", "base"), [
    ("unix:///var/run/docker.sock", "unix", "/var/run/docker.sock", ""),
    ("unix://relative/dir/engine.sock", "unix", "relative/dir/engine.sock", ""),  # verbatim, not host + path
    ("unix://engine.sock", "unix", "engine.sock", ""),
    ("tcp://127.0.0.1:2376", "tcp", "127.0.0.1:2376", ""),
    ("tcp://127.0.0.1:2376/prefix", "tcp", "127.0.0.1:2376", "/prefix"),
    ("http://127.0.0.1:2376", "http", "127.0.0.1:2376", ""),
    ("https://[::1]:2376", "https", "[::1]:2376", ""),
])
def test_host_parsing(host: str, scheme: str, address: str, base: str) -> None:
    parsed = parse_daemon_host(host, "t")
    assert (parsed.scheme, parsed.address, parsed.base_path) == (scheme, address, base)


@pytest.mark.parametrize("host", ["", "/var/run/docker.sock", "unix://", "tcp://", "ssh://h", "npipe:////./pipe/x",
                                  "tcp://h:notaport", "tcp://:2376"])
def test_unusable_hosts_are_refused(host: str) -> None:
    with pytest.raises(TransportError) as info:
        parse_daemon_host(host, "t")
    assert info.value.code == "daemon-host-invalid"


def test_credentials_in_a_host_are_refused_and_never_printed(run_cli, tmp_path: Path, layout: str,  # type: ignore[no-untyped-def]
                                                            insecure_policy: Path) -> None:
    for host in ("tcp://user:s3cr3t-pw@127.0.0.1:9", "http://user:s3cr3t-pw@127.0.0.1:9"):
        r = _copy_to(run_cli, insecure_policy, layout, host)
        assert r.exit_code == 1
        assert "error[daemon-host-invalid]" in r.stderr, r.stderr
        assert "s3cr3t-pw" not in r.stderr + r.stdout


# -- TLS (client.go tlsConfig; client_test.go TestTlsConfig*, TestSkipTLSVerifyOnly) -----------------


def test_tls_settings_from_a_cert_dir(certs: Path) -> None:
    ctx = daemon_tls_context(SystemContext(docker_cert_path=str(certs / "client"), docker_tls_verify=False), "t")
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert any(dict(x[0] for x in c["subject"]).get("commonName") == "test CA" for c in ctx.get_ca_certs())


def test_tls_is_verified_unless_turned_off() -> None:
    ctx = daemon_tls_context(SystemContext(), "t")
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    ctx = daemon_tls_context(SystemContext(docker_tls_verify=False), "t")
    assert ctx.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(("present", "message"), [
    ((), "could not read CA certificate"),
    (("ca.pem",), "client certificate"),
    (("ca.pem", "cert.pem"), "client certificate"),
    (("ca.pem", "key.pem"), "client certificate"),
])
def test_an_incomplete_cert_dir_is_an_error(certs: Path, tmp_path: Path, present: tuple[str, ...],
                                            message: str) -> None:
    d = tmp_path / "partial"
    d.mkdir()
    for name in present:
        (d / name).write_bytes((certs / "client" / name).read_bytes())
    with pytest.raises(ConfigError, match=message) as info:
        daemon_tls_context(SystemContext(docker_cert_path=str(d), docker_tls_verify=False), "t")
    assert info.value.code == "daemon-tls-config"


def test_a_missing_cert_dir_fails_for_tcp_like_skopeo(run_cli, tmp_path: Path, layout: str,  # type: ignore[no-untyped-def]
                                                      insecure_policy: Path) -> None:
    args = ["--dest-daemon-host", "tcp://127.0.0.1:9", "--dest-cert-dir", str(tmp_path / "none")]
    sk = subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", *args, layout, "docker-daemon:example.com/x:1"],
                        capture_output=True, text=True, timeout=120, check=False)
    assert sk.returncode != 0 and "could not read CA certificate" in sk.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *args, layout, "docker-daemon:example.com/x:1")
    assert r.exit_code == 1 and "error[daemon-tls-config]" in r.stderr, r.stderr


def test_tcp_is_tls_verified_by_default(run_cli, certs: Path, layout: str, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    server, handler = _tls_engine(certs)
    for _ in _serve(server):
        host = f"tcp://127.0.0.1:{_port(server)}"
        r = _copy_to(run_cli, insecure_policy, layout, host)
        assert r.exit_code == 1, r.stdout
        assert "daemon-unreachable" in r.stderr and "CERTIFICATE_VERIFY_FAILED" in r.stderr, r.stderr
        assert handler.paths == []
        r = _copy_to(run_cli, insecure_policy, layout, host, "--dest-tls-verify=false")
        assert r.exit_code == 0, r.stderr
        assert handler.peer_certs and not any(handler.peer_certs)


def test_tcp_with_a_cert_dir_verifies_and_presents_the_client_cert(run_cli, certs: Path, layout: str,  # type: ignore[no-untyped-def]
                                                                    insecure_policy: Path) -> None:
    server, handler = _tls_engine(certs, require_client_cert=True)
    for _ in _serve(server):
        port = _port(server)
        r = _copy_to(run_cli, insecure_policy, layout, f"tcp://127.0.0.1:{port}/base", "--dest-cert-dir",
                     str(certs / "client"))
        assert r.exit_code == 0, r.stderr
        assert all(handler.peer_certs)
        assert handler.paths[0] == "/base/_ping"
        assert handler.paths[1:] == ["/base/v1.41/images/load", "/base/v1.41/images/example.com%2Fx%3A1/json"]


def test_tcp_never_falls_back_to_plain_http(run_cli, layout: str, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    handler = _engine_class()
    server = _TCPServer(("127.0.0.1", 0), handler)
    for _ in _serve(server):
        port = _port(server)
        r = _copy_to(run_cli, insecure_policy, layout, f"tcp://127.0.0.1:{port}", "--dest-tls-verify=false")
        assert r.exit_code == 1
        assert handler.paths == []
        # http:// is the explicit plain-TCP form (client_test.go TestSpecifyPlainHTTPViaHostScheme)
        r = _copy_to(run_cli, insecure_policy, layout, f"http://127.0.0.1:{port}")
        assert r.exit_code == 0, r.stderr
        assert handler.paths[0] == "/_ping" and handler.paths[1] == "/v1.41/images/load"


# -- API version negotiation (client.go WithAPIVersionNegotiation) -----------------------------------


@pytest.mark.parametrize(("announced", "used"), [("1.41", "v1.41"), ("1.30", "v1.30"), ("1.99", "v1.51"),
                                                 (None, "v1.24"), ("not-a-version", "v1.24")])
def test_api_version_is_negotiated(run_cli, unix_engine: tuple[str, type[_Engine]], layout: str,  # type: ignore[no-untyped-def]
                                   insecure_policy: Path, announced: str | None, used: str) -> None:
    host, handler = unix_engine
    handler.api_version = announced
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 0, r.stderr
    assert handler.paths == ["/_ping", f"/{used}/images/load", f"/{used}/images/example.com%2Fx%3A1/json"]


# -- the load's answer (daemon_dest.go imageLoad) ----------------------------------------------------


@pytest.mark.parametrize(("answer", "code", "shown"), [
    (b'{"stream":"Loaded"}{"errorDetail":{"message":"layer broken"},"error":"layer broken"}', "daemon-error",
     "layer broken"),  # concatenated, no newline: still read
    (b'{"stream":"Loaded"}\n{"errorDetail":{"message":"disk full"}}\n', "daemon-error", "disk full"),
    (b'{"error":"only the short form"}\n', "daemon-error", "only the short form"),
    (b"Loaded image: example.com/x:1\n", "daemon-load-unverified", "load progress"),  # not JSON
    (b'{"stream":"Loaded"}\n{"stream":', "daemon-load-unverified", "load progress"),  # cut short
    (b"[1]", "daemon-load-unverified", "load progress"),
])
def test_a_load_answer_with_an_error_or_unreadable_fails(run_cli, unix_engine: tuple[str, type[_Engine]],  # type: ignore[no-untyped-def]
                                                         layout: str, insecure_policy: Path, answer: bytes,
                                                         code: str, shown: str) -> None:
    host, handler = unix_engine
    handler.load_answer = answer
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 1
    assert f"error[{code}]" in r.stderr and shown in r.stderr, r.stderr


@pytest.mark.parametrize("answer", [b"", b'{"stream":"Loaded image: example.com/x:1"}\r\n', b"  \n"])
def test_a_load_answer_without_an_error_succeeds(run_cli, unix_engine: tuple[str, type[_Engine]],  # type: ignore[no-untyped-def]
                                                 layout: str, insecure_policy: Path, answer: bytes) -> None:
    host, handler = unix_engine
    handler.load_answer = answer
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 0, r.stderr


def _containerd_inspect(diff_ids: list[str], arch: str = "amd64") -> dict[str, Any]:
    """What Docker's containerd image store reports: the image named by a manifest digest it made."""
    return {"Id": "sha256:" + "d" * 64, "RootFS": {"Type": "layers", "Layers": diff_ids}, "Architecture": arch,
            "Os": "linux"}


def test_a_containerd_image_store_is_recognised_by_layers(run_cli, unix_engine: tuple[str, type[_Engine]],  # type: ignore[no-untyped-def]
                                                          layout: str, insecure_policy: Path) -> None:
    """Docker's containerd store names the loaded image by a manifest digest: layers, arch and OS decide."""
    host, handler = unix_engine
    config = json.loads(example_image().config)
    handler.inspect_answer = _containerd_inspect(config["rootfs"]["diff_ids"])
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("inspect", [
    _containerd_inspect(["sha256:" + "e" * 64]),  # an older image under that name
    {"Id": "sha256:" + "d" * 64},  # no layers reported
], ids=["other-layers", "no-layers"])
def test_another_image_under_the_name_is_not_taken_for_the_loaded_one(
        run_cli, unix_engine: tuple[str, type[_Engine]], layout: str, insecure_policy: Path,  # type: ignore[no-untyped-def]
        inspect: dict[str, Any]) -> None:
    host, handler = unix_engine
    handler.inspect_answer = inspect
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 1 and "error[daemon-load-unverified]" in r.stderr


def test_the_architecture_must_match_too(run_cli, unix_engine: tuple[str, type[_Engine]],  # type: ignore[no-untyped-def]
                                         layout: str, insecure_policy: Path) -> None:
    host, handler = unix_engine
    handler.inspect_answer = _containerd_inspect(json.loads(example_image().config)["rootfs"]["diff_ids"], "arm64")
    r = _copy_to(run_cli, insecure_policy, layout, host)
    assert r.exit_code == 1 and "error[daemon-load-unverified]" in r.stderr


# -- against podman, beside skopeo ------------------------------------------------------------------


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    yield from podman_service()


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, check=False,
                          timeout=120)


@pytest.mark.skopeo
def test_save_names_the_image_as_skopeo_does(run_cli, podman: Podman, layout: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                              insecure_policy: Path) -> None:
    """containers/image asks the engine for the familiar name; podman resolves ``short:1`` to localhost/."""
    archive = tmp_path / "a.tar"
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", layout,
                   f"docker-archive:{archive}:localhost/cimage-short:1").exit_code == 0
    podman.cli("load", "-q", "-i", str(archive))
    sk = _skopeo("copy", "-q", "--src-daemon-host", podman.host, "docker-daemon:cimage-short:1",
                 f"dir:{tmp_path / 'sk'}")
    assert sk.returncode == 0, sk.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-daemon-host", podman.host,
                "docker-daemon:cimage-short:1", f"dir:{tmp_path / 'tc'}")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "tc" / "manifest.json").exists()
    assert json.loads((tmp_path / "tc" / "manifest.json").read_bytes())["config"]["digest"] == CONFIG


@pytest.mark.skopeo
def test_a_relative_unix_socket_path_like_skopeo(run_cli, podman: Podman, layout: str,  # type: ignore[no-untyped-def]
                                                 insecure_policy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(podman.socket.parent.parent)
    host = f"unix://{podman.socket.parent.name}/{podman.socket.name}"
    sk = _skopeo("copy", "-q", "--dest-daemon-host", host, layout, "docker-daemon:example.com/cimage-rel/sk:1")
    assert sk.returncode == 0, sk.stderr
    r = _copy_to(run_cli, insecure_policy, layout, host, dest="example.com/cimage-rel/tc:1")
    assert r.exit_code == 0, r.stderr
    assert podman.image_id("example.com/cimage-rel/tc:1") == CONFIG == podman.image_id("example.com/cimage-rel/sk:1")


def test_a_cert_dir_is_not_used_for_a_unix_socket(run_cli, podman: Podman, layout: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                  insecure_policy: Path) -> None:
    r = _copy_to(run_cli, insecure_policy, layout, podman.host, "--dest-cert-dir", str(tmp_path / "none"),
                 dest="example.com/cimage-certdir:1")
    assert r.exit_code == 0, r.stderr
    assert podman.image_id("example.com/cimage-certdir:1") == CONFIG


def test_a_failed_copy_loads_nothing(run_cli, podman: Podman, tmp_path: Path,  # type: ignore[no-untyped-def]
                                     insecure_policy: Path) -> None:
    """Close without commit cuts the upload short: the engine loads nothing, nothing is reported done."""
    write_oci({"x": example_image()}, str(tmp_path / "layout"))
    manifest = json.loads(example_image().manifest)
    blob = tmp_path / "layout" / "blobs" / "sha256" / manifest["layers"][-1]["digest"].split(":", 1)[1]
    data = bytearray(blob.read_bytes())
    data[-10] ^= 0xFF  # same size, wrong digest: found only once the layer was streamed
    blob.write_bytes(bytes(data))
    r = _copy_to(run_cli, insecure_policy, f"oci:{tmp_path / 'layout'}:x", podman.host,
                 dest="example.com/cimage-aborted:1")
    assert r.exit_code == 1
    assert "Writing manifest" not in r.stdout
    assert podman.image_id("example.com/cimage-aborted:1") is None


def test_ping_to_a_vanished_socket_is_named(run_cli, tmp_path: Path, layout: str, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    sock = tmp_path / "gone.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()  # the path exists, nobody listens
    r = _copy_to(run_cli, insecure_policy, layout, f"unix://{sock}")
    assert r.exit_code == 1
    assert "error[daemon-unreachable]" in r.stderr and "gone.sock" in r.stderr, r.stderr
