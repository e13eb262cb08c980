"""``docker-daemon:NAME:TAG`` / ``docker-daemon:NAME@DIGEST`` / ``docker-daemon:sha256:ID``: a Docker
Engine (or podman's Docker-compatible service) over its API, with httpx.

The engine is found at ``--src-daemon-host``/``--dest-daemon-host``, else ``$DOCKER_HOST``
(skopeo ignores that variable; we honour it), else ``unix:///var/run/docker.sock``.
``unix://PATH`` connects to the socket (PATH verbatim, relative ones too); ``http://`` is
plain TCP; ``tcp://`` and ``https://`` use TLS (``--*-cert-dir`` holding ca.pem, cert.pem,
key.pem, all three required; ``--*-tls-verify=false`` to skip verification), as
containers/image. ``DOCKER_CERT_PATH``/``DOCKER_TLS_VERIFY`` are not read (neither does
containers/image): TLS is on for ``tcp://`` and verified unless the flag turns it off. The
API version is negotiated (``GET /_ping``) and every request is versioned (``/v1.NN/...``).

Source: ``GET /images/NAME/get`` (``docker save``; NAME as containers/image sends it: the
ID or the familiar name). The stream is read twice instead of
being copied to /var/tmp (containers/image spools it): a first pass indexes the archive
and keeps its small members, a second streams the layers in archive order. The daemon
exports the image twice; we write nothing to disk. Everything read is verified against
the digests of the first pass.

Destination: ``POST /images/load`` with the archive streamed as the request body while
the copy produces it (layers as the source has them: a daemon decompresses what it
loads). The copy is reported done only when the daemon answered 200 with a readable JSON
message stream holding no error *and* the image it now has under NAME:TAG (fully
qualified) is ours: our config digest as its ID, or (Docker's containerd image store,
which names images by a manifest it makes) our config's layers, architecture and OS.
Closing without commit aborts the upload mid-stream, so the daemon sees a truncated
archive and loads nothing.

Policy scopes (containers/image): a name has the scopes of ``docker:`` references; an ID
reference has only the default ``""``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import threading
import urllib.parse
from typing import Any

from trustcopy import limits
from trustcopy.compression import Algorithm, DecompressingStream, PeekableStream, Readable
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, InvalidReferenceError, TransportError, TrustcopyError
from trustcopy.lazy import dataclass
from trustcopy.reference import DockerReference
from trustcopy.transports.archivereader import SequentialArchive
from trustcopy.transports.archivewriter import TarWriter
from trustcopy.transports.base import ImageReference, ImageTransport
from trustcopy.transports.docker.reference import (
    docker_reference_identity,
    docker_reference_namespaces,
    docker_scope_problem,
)
from trustcopy.transports.dockertar import DockerTarDestination, DockerTarSource, DockerTarWriter
from trustcopy.types import LayerCompression, SystemContext

log = logging.getLogger("trustcopy.daemon")

DEFAULT_HOST = "unix:///var/run/docker.sock"


class DaemonError(TransportError):
    """The engine refused or failed a request (the message quotes its answer)."""

    default_code = "daemon-error"


class DockerDaemonTransport(ImageTransport):
    """The ``docker-daemon:`` transport."""

    name = "docker-daemon"
    syntax = "docker-daemon:NAME:TAG|docker-daemon:sha256:ID"

    def parse_reference(self, reference: str) -> DockerDaemonReference:
        """An image ID (``sha256:<64 hex>``) or a name with a tag or a digest."""
        from trustcopy.reference import parse_normalized_named

        if ":" in reference and "/" not in reference and reference.split(":", 1)[0].isalnum():
            try:
                digest = Digest.parse(reference)
            except ValueError:
                digest = None
            if digest is not None:
                if digest.algorithm != "sha256":
                    raise InvalidReferenceError(f"invalid docker-daemon: reference {reference}: only digest "
                                                "algorithm sha256 accepted", code="invalid-daemon-reference")
                return DockerDaemonReference(image_id=digest)
        ref = parse_normalized_named(reference)
        if ref.familiar_name() == "sha256":
            raise InvalidReferenceError(f"invalid docker-daemon: reference {reference}: the sha256 repository name "
                                        "is reserved for (non-shortened) digest references",
                                        code="invalid-daemon-reference")
        if ref.is_name_only:
            raise InvalidReferenceError(f"docker-daemon: reference {ref.familiar_string()} has neither a tag nor a "
                                        "digest", code="invalid-daemon-reference")
        if ref.tag is not None and ref.digest is not None:
            raise InvalidReferenceError("docker-daemon: references with both a tag and digest are currently not "
                                        "supported", code="invalid-daemon-reference")
        return DockerDaemonReference(ref=ref)

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Never an ``algo:digest`` value (IDs have only the "" scope); any other string, as c/i."""
        try:
            Digest.parse(scope)
        except ValueError:
            return
        raise ValueError(f"docker-daemon: can not use algo:digest value {scope} as a namespace")

    def policy_configuration_scope_warning(self, scope: str) -> str | None:
        """Why a name scope can never match (the docker: rules), or None."""
        return docker_scope_problem(scope)


TRANSPORT = DockerDaemonTransport()


@dataclass(frozen=True, repr=False)
class DockerDaemonReference(ImageReference):
    """A name (with tag or digest) or an image ID in the engine."""

    ref: DockerReference | None = None
    image_id: Digest | None = None

    @property
    def transport(self) -> DockerDaemonTransport:
        """The ``docker-daemon:`` transport."""
        return TRANSPORT

    def string_within_transport(self) -> str:
        """The ID, or the familiar name (as containers/image prints it)."""
        if self.image_id is not None:
            return str(self.image_id)
        assert self.ref is not None
        return self.ref.familiar_string()

    def docker_reference(self) -> DockerReference | None:
        """The name, or None for an ID."""
        return self.ref

    def policy_configuration_identity(self) -> str:
        """The ``docker:`` identity of the name; "" for an ID."""
        return "" if self.ref is None else docker_reference_identity(self.ref)

    def policy_configuration_namespaces(self) -> list[str]:
        """The ``docker:`` namespaces of the name; none for an ID."""
        return [] if self.ref is None else docker_reference_namespaces(self.ref)

    def new_image_source(self, sys: SystemContext) -> DaemonImageSource:
        """Ask the engine for the image (``docker save``)."""
        return DaemonImageSource(self, sys)

    def new_image_destination(self, sys: SystemContext) -> DaemonImageDestination:
        """Start a ``docker load`` that the copy feeds."""
        if self.ref is None or self.ref.tag is None:
            raise InvalidReferenceError(f"invalid destination docker-daemon:{self.string_within_transport()}: a "
                                        "destination must be a name:tag", code="invalid-daemon-reference")
        return DaemonImageDestination(self, sys)

    def delete_image(self, sys: SystemContext) -> None:
        """Refused, as in containers/image."""
        raise TransportError("deleting images is not implemented for docker-daemon: images")

    def api_name(self) -> str:
        """How ``docker save`` names the image: the ID, or the familiar name, as containers/image
        passes it (an engine with short-name resolution, e.g. podman, resolves it as for
        ``docker save NAME``)."""
        return self.string_within_transport()

    def loaded_name(self) -> str:
        """The fully qualified name a load tags (what is checked after ``docker load``)."""
        assert self.ref is not None
        return str(self.ref)


# -- the engine client ---------------------------------------------------------------

#: The newest Engine API version we ask for; a daemon that offers less gets its own (as Docker's
#: Go client negotiates: ``GET /_ping``, header ``API-Version``, the lower of the two).
MAX_API_VERSION = (1, 51)
#: What a daemon that does not announce its version is spoken to with (Docker's client does so).
FALLBACK_API_VERSION = (1, 24)


def daemon_host(sys: SystemContext) -> str:
    """--*-daemon-host, else $DOCKER_HOST, else the default socket."""
    return sys.docker_daemon_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def redact_host(host: str) -> str:
    """The host for messages: any ``user:password@`` replaced (never logged or printed)."""
    scheme, sep, rest = host.partition("://")
    if not sep or scheme == "unix":
        return host
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "REDACTED@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


@dataclass(frozen=True)
class DaemonHost:
    """A parsed daemon host: how to connect (``unix`` socket path, or TCP with/without TLS)."""

    scheme: str
    #: the socket path (unix) or HOST:PORT
    address: str
    #: a path prefix for every request (``tcp://HOST:PORT/PREFIX``), "" if none
    base_path: str = ""


def parse_daemon_host(host: str, what: str) -> DaemonHost:
    """Split a daemon host as Docker's client does (``PROTO://ADDRESS``).

    ``unix://PATH`` takes PATH verbatim (relative paths too); ``tcp://``, ``https://`` and
    ``http://`` take HOST:PORT and an optional path prefix. Credentials in the address are
    refused (Docker's client has no use for them; we would otherwise send them).
    """
    scheme, sep, address = host.partition("://")
    if not sep or not address:
        raise TransportError(f"{what}: unable to parse daemon host {redact_host(host)!r} (expected PROTO://ADDRESS: "
                             "unix://, tcp://, http:// or https://)", code="daemon-host-invalid")
    if scheme == "unix":
        return DaemonHost("unix", address)
    if scheme not in ("tcp", "http", "https"):
        raise TransportError(f"{what}: unsupported daemon host {redact_host(host)!r} (use unix://, tcp://, http:// "
                             "or https://)", code="daemon-host-invalid")
    parsed = urllib.parse.urlsplit("tcp://" + address)
    if "@" in parsed.netloc:
        raise TransportError(f"{what}: daemon host {redact_host(host)!r} carries credentials; they are not supported",
                             code="daemon-host-invalid")
    try:
        parsed.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        parsed = urllib.parse.urlsplit("tcp://")  # (no hostname: refused just below)
    if not parsed.hostname:
        raise TransportError(f"{what}: invalid daemon host {redact_host(host)!r}", code="daemon-host-invalid")
    return DaemonHost(scheme, parsed.netloc, parsed.path.rstrip("/"))


def daemon_tls_context(sys: SystemContext, what: str) -> Any:
    """The TLS settings for a ``tcp://``/``https://`` daemon (containers/image's tlsConfig).

    Verification is on unless ``--*-tls-verify=false``. With ``--*-cert-dir DIR`` the CA
    ``DIR/ca.pem`` is trusted in addition to the system store and ``DIR/cert.pem`` +
    ``DIR/key.pem`` are presented; all three must be readable, as in containers/image
    (a missing one is an error, never a silent fallback).
    """
    import ssl

    from trustcopy.errors import ConfigError

    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert_dir = sys.docker_cert_path
    if cert_dir:
        ca = os.path.join(cert_dir, "ca.pem")
        try:
            ctx.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{what}: could not read CA certificate {ca!r}: {exc}",
                              code="daemon-tls-config") from exc
        cert, key = os.path.join(cert_dir, "cert.pem"), os.path.join(cert_dir, "key.pem")
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{what}: could not load the client certificate {cert!r} and key {key!r}: "
                              f"{exc}",
                              code="daemon-tls-config") from exc
    if not sys.docker_tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def new_client(sys: SystemContext, what: str) -> Any:
    """An httpx.Client for the engine (see the module docstring for the schemes).

    Its base URL carries any ``tcp://HOST:PORT/PREFIX`` prefix; requests name unversioned
    paths, see :func:`api_prefix` for the version.
    """
    import httpx

    import trustcopy.transports.docker  # noqa: F401 - keeps httpx's own CLI out of start-up

    target = parse_daemon_host(daemon_host(sys), what)
    timeout = httpx.Timeout(sys.docker_timeout or 300.0, connect=30.0)
    if target.scheme == "unix":
        return httpx.Client(transport=httpx.HTTPTransport(uds=target.address), base_url="http://docker",
                            timeout=timeout)
    from trustcopy.proxies import routing_transport

    if target.scheme == "http":
        # The proxy variables apply to a daemon over TCP, as in Docker's Go client (trustcopy.proxies).
        return httpx.Client(transport=routing_transport(lambda proxy: httpx.HTTPTransport(proxy=proxy)),
                            base_url=f"http://{target.address}{target.base_path}", timeout=timeout)
    ctx = daemon_tls_context(sys, what)
    return httpx.Client(transport=routing_transport(lambda proxy: httpx.HTTPTransport(verify=ctx, proxy=proxy)),
                        base_url=f"https://{target.address}{target.base_path}", timeout=timeout)


def _api_version(header: str | None) -> tuple[int, int] | None:
    if header is None:
        return None
    m = re.fullmatch(r"\s*(\d{1,4})\.(\d{1,4})\s*", header)
    return (int(m.group(1)), int(m.group(2))) if m else None


def api_prefix(client: Any, sys: SystemContext, what: str) -> str:
    """Negotiate the API version (``GET /_ping``) and return the path prefix, e.g. ``/v1.41``.

    The lower of the daemon's ``API-Version`` and :data:`MAX_API_VERSION`; 1.24 when the
    daemon announces none. Unversioned requests are deprecated by Docker. A daemon that
    cannot be reached fails here; any other answer is left to the request that follows.
    """
    import httpx

    try:
        # Streamed and closed unread: only the headers matter, and a body may never end.
        with client.stream("GET", "/_ping") as response:
            pass
    except httpx.HTTPError as exc:
        raise _connect_error(exc, sys, what) from exc
    announced = _api_version(response.headers.get("API-Version"))
    version = min(announced or FALLBACK_API_VERSION, MAX_API_VERSION)
    log.debug("%s: daemon API version %s, using %d.%d", what, response.headers.get("API-Version"), *version)
    return f"/v{version[0]}.{version[1]}"


def _body(response: Any, what: str) -> Any:
    """The response's body chunks, its ``Content-Encoding`` undone in bounded steps.

    httpx's ``iter_bytes`` inflates a whole network read at once ("gzip, gzip": 64 KiB
    become 64 GiB before any limit looks at it); see ``docker.errors.body_chunks``.
    """
    from trustcopy.transports.docker.errors import body_chunks

    return body_chunks(response, what)


def _read_answer(response: Any, limit: int, what: str) -> bytes:
    """A whole (small) answer of the daemon, bounded once decoded; mid-body failures named."""
    import httpx

    try:
        return limits.read_iter_at_most(_body(response, what), limit, what)
    except httpx.HTTPError as exc:
        raise DaemonError(f"{what}: reading the daemon's answer failed: {exc}", code="daemon-stream-failed") from exc


def _error_message(body: bytes) -> str:
    try:
        value = limits.load_json(body, "daemon answer")
    except (ValueError, TrustcopyError):  # not JSON, or nested too deep: quoted as text
        return body.decode(errors="replace").strip()[:500]
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return value["message"]
    return body.decode(errors="replace").strip()[:500]


def _connect_error(exc: Exception, sys: SystemContext, what: str) -> TransportError:
    return TransportError(f"{what}: cannot talk to the daemon at {redact_host(daemon_host(sys))}: {exc}",
                          code="daemon-unreachable", hint="is the daemon running? (--src-daemon-host / "
                          "--dest-daemon-host, or DOCKER_HOST, name it)")


# -- source --------------------------------------------------------------------------


class _HTTPBody:
    """A streamed response body as a readable (content encodings undone in bounded steps).

    httpx failures (a body cut short, a read timeout) become DaemonError here, at the
    source: the first reads happen while peeking for compression, before any wrapper.
    """

    def __init__(self, response: Any, what: str) -> None:
        self._it = _body(response, what)
        self._what = what
        self._buf = b""

    def read(self, size: int = -1, /) -> bytes:
        import httpx

        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return b""
            except httpx.HTTPError as exc:
                raise DaemonError(f"{self._what}: the daemon's stream failed: {exc}",
                                  code="daemon-stream-failed") from exc
        if size < 0 or size >= len(self._buf):
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


class DaemonImageSource(DockerTarSource):
    """An image saved by the engine, read in two streaming passes (see the module docstring)."""

    reference: DockerDaemonReference

    def __init__(self, ref: DockerDaemonReference, sys: SystemContext) -> None:
        self.reference = ref
        self._sys = sys
        self._client = new_client(sys, str(ref))
        try:
            self._prefix = api_prefix(self._client, sys, str(ref))
            self._archive = SequentialArchive(self._save, str(ref), measure_compressed=True)
            self._load(None, -1)
        except BaseException:
            self._client.close()
            raise

    def _save(self) -> tuple[Readable, Any]:
        import httpx

        what = str(self.reference)
        url = f"{self._prefix}/images/{urllib.parse.quote(self.reference.api_name(), safe='')}/get"
        log.debug("%s: waiting for the daemon to export the image (GET %s)", what, url)
        try:
            response = self._client.send(self._client.build_request("GET", url), stream=True)
        except httpx.HTTPError as exc:
            raise _connect_error(exc, self._sys, what) from exc
        if response.status_code != 200:
            try:
                answer = _read_answer(response, limits.MAX_ERROR_BODY, f"{what}: daemon answer")
            finally:
                response.close()
            message = _error_message(answer)
            if response.status_code == 404:
                raise ImageNotFoundError(f"{what}: the daemon has no such image: {message}")
            raise DaemonError(f"{what}: the daemon refused to export the image (HTTP {response.status_code}): "
                              f"{message}")
        peeked = PeekableStream(_HTTPBody(response, what))
        stream: Readable = peeked
        algo = peeked.algorithm
        if algo is not Algorithm.NONE:
            stream = DecompressingStream(stream, algo, what=what)
        return stream, response.close

    def close(self) -> None:
        """End any pass and close the connection."""
        try:
            super().close()
        finally:
            self._client.close()


# -- destination ---------------------------------------------------------------------


_ABORT = object()


class _Upload:
    """The ``POST /images/load`` request, fed from a bounded queue by the copy thread."""

    def __init__(self, client: Any, prefix: str, what: str) -> None:
        self._client, self._prefix, self._what = client, prefix, what
        self._queue: queue.Queue[object] = queue.Queue(maxsize=16)
        self._buffer = bytearray()
        self.status: int | None = None
        self.body = b""
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="daemon-load", daemon=True)
        self._thread.start()

    def _chunks(self) -> Any:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item is _ABORT:
                raise TransportError(f"{self._what}: upload aborted")
            yield item

    def _run(self) -> None:
        try:
            log.debug("%s: POST %s/images/load", self._what, self._prefix)
            with self._client.stream("POST", f"{self._prefix}/images/load", params={"quiet": "1"},
                                     content=self._chunks(), headers={"Content-Type": "application/x-tar"}) as response:
                self.status = response.status_code
                self.body = limits.read_iter_at_most(_body(response, self._what), limits.MAX_ERROR_BODY,
                                                     f"{self._what}: daemon answer")
        except BaseException as exc:  # noqa: BLE001 - reported to the copy thread at commit
            self.error = exc
        finally:
            self._done.set()

    def write(self, data: bytes) -> int:
        """Buffer, and hand over 1 MiB pieces; fails fast once the request has ended."""
        self._buffer += data
        if len(self._buffer) >= 1 << 20:
            self.flush()
        return len(data)

    def flush(self) -> None:
        """Hand the buffered bytes to the request."""
        if not self._buffer:
            return
        chunk = bytes(self._buffer)
        self._buffer.clear()
        while True:
            if self._done.is_set():
                raise self._failure("the daemon stopped reading the image")
            try:
                self._queue.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def _failure(self, why: str) -> TransportError:
        if self.status == 200 and self.body:
            # Docker answers 200 at once and reports a load that fails mid-archive inside the
            # stream, then stops reading: quote that error, not only that the upload broke.
            with contextlib.suppress(TrustcopyError):
                for msg in _json_messages(self.body, self._what):
                    text = _load_error(msg, self._what)
                    if text is not None:
                        return DaemonError(f"{self._what}: the daemon failed to load the image: {text!r}")
        if self.error is not None and not isinstance(self.error, TransportError):
            return DaemonError(f"{self._what}: {why}: {self.error}", code="daemon-stream-failed")
        if self.status is not None and self.status != 200:
            return DaemonError(f"{self._what}: the daemon refused the image (HTTP {self.status}): "
                               f"{_error_message(self.body)}")
        return DaemonError(f"{self._what}: {why}", code="daemon-stream-failed")

    def finish(self) -> None:
        """End the body and wait for the answer; raise unless it says the image was loaded."""
        self.flush()
        while not self._done.is_set():
            try:
                self._queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._done.wait()
        self._thread.join()
        if self.error is not None or self.status != 200:
            raise self._failure("loading the image failed")
        for msg in _json_messages(self.body, self._what):
            text = _load_error(msg, self._what)
            if text is not None:
                raise DaemonError(f"{self._what}: the daemon failed to load the image: {text!r}")

    def abort(self) -> None:
        """Cut the upload short: the daemon sees a truncated archive."""
        if self._done.is_set():
            return
        with contextlib.suppress(queue.Full):
            while True:
                try:
                    self._queue.put_nowait(_ABORT)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()
        self._done.wait(timeout=30)


def _load_error(msg: dict[str, Any], what: str) -> str | None:
    """The error one load progress message reports, or None.

    containers/image decodes each message into ``{ErrorDetail *struct{Message string}}``
    (Go: keys matched in any letter case) and fails when the field is present and not null,
    even with no message; a value that is not an object fails its decoding. A key that
    differs only in case is therefore an error too (a repeated key is not resolved as Go
    would, last wins: any non-null occurrence fails, which refuses more, never less). A
    non-empty ``error`` string (Docker sets it beside ``errorDetail``) fails as well.
    """
    details = [v for k, v in msg.items() if k.lower() == "errordetail" and v is not None]
    error = msg.get("error")
    if not details:
        return str(error) if error else None
    for detail in details:
        if not isinstance(detail, dict):
            raise DaemonError(f"{what}: parsing the daemon's load progress: errorDetail is not an object: "
                              f"{json.dumps(detail)[:200]}", code="daemon-load-unverified")
    texts = [v for d in details for k, v in d.items() if k.casefold() == "message" and isinstance(v, str) and v]
    return texts[-1] if texts else str(error or "(no message)")


def _json_messages(body: bytes, what: str) -> list[dict[str, Any]]:
    """The JSON messages of a ``docker load`` answer (concatenated, with or without newlines).

    Anything that is not a sequence of JSON objects fails, as in containers/image: an answer
    we cannot read is not a load we can report done.
    """
    text = body.decode("utf-8", errors="replace")
    if limits.json_depth_exceeds(text):
        raise DaemonError(f"{what}: parsing the daemon's load progress: JSON nested more than "
                          f"{limits.MAX_JSON_DEPTH} levels deep", code="daemon-load-unverified")
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise DaemonError(f"{what}: parsing the daemon's load progress: {exc}",
                              code="daemon-load-unverified") from exc
        if not isinstance(value, dict):
            raise DaemonError(f"{what}: parsing the daemon's load progress: not a JSON object",
                              code="daemon-load-unverified")
        out.append(value)


class _DaemonLoad:
    """The writer side of a daemon destination (what DockerArchiveDestination needs of a writer)."""

    def __init__(self, ref: DockerDaemonReference, sys: SystemContext) -> None:
        from trustcopy.fsutil import big_files_dir

        self._ref, self._sys, self._what = ref, sys, str(ref)
        self._client = new_client(sys, self._what)
        try:
            self._prefix = api_prefix(self._client, sys, self._what)
        except BaseException:
            self._client.close()
            raise
        self._upload = _Upload(self._client, self._prefix, self._what)
        tar = TarWriter(self._upload, seekable_file=None, spool_dir=big_files_dir(sys.tmp_dir),
                        what=self._what)
        self.docker = DockerTarWriter(tar)
        self.images = 0
        self.config_digest: Digest | None = None
        self._committed = self._closed = False

    def commit(self) -> None:
        """Finish the archive, wait for the daemon, and check it has the image."""
        import httpx

        self.docker.finish()
        self._upload.finish()
        self._committed = True
        name = urllib.parse.quote(self._ref.loaded_name(), safe="")
        try:
            with self._client.stream("GET", f"{self._prefix}/images/{name}/json") as response:
                status = response.status_code
                # Only a 200's body is read (bounded: an image's inspect is a few KiB).
                body = _read_answer(response, limits.MAX_CONFIG_BODY, f"{self._what}: daemon image inspect") \
                    if status == 200 else b""
        except httpx.HTTPError as exc:
            raise _connect_error(exc, self._sys, self._what) from exc
        if status != 200:
            raise DaemonError(f"{self._what}: the daemon reported success but has no image {self._ref.loaded_name()} "
                              f"(HTTP {status})", code="daemon-load-unverified")
        try:
            inspect = limits.load_json(body, f"{self._what}: daemon image inspect")
        except ValueError:
            inspect = None
        image_id = inspect.get("Id") if isinstance(inspect, dict) else None
        if self.config_digest is not None and image_id != str(self.config_digest) \
                and not self._same_image_in_containerd_store(inspect):
            raise DaemonError(f"{self._what}: after loading, {self._ref.loaded_name()} is {image_id}, not the copied "
                              f"image {self.config_digest}", code="daemon-load-unverified")

    def _same_image_in_containerd_store(self, inspect: Any) -> bool:
        """Whether the daemon's image is the one loaded, when its ID is not the config digest.

        Docker's containerd image store (the default of new Docker installs) names an image
        by the digest of the manifest it made on load, not by its config: there the loaded
        image is recognised by what the config decides, its layers (diff IDs, in order),
        architecture and OS, all of which the daemon reports. An older image under the same
        name with other layers still fails the check.
        """
        import json

        config = self.docker.configs.get(self.config_digest) if self.config_digest is not None else None
        if config is None or not isinstance(inspect, dict):
            return False
        try:
            doc = json.loads(config)
        except ValueError:
            return False
        rootfs = inspect.get("RootFS")
        layers = rootfs.get("Layers") if isinstance(rootfs, dict) else None
        want = (doc.get("rootfs") or {}).get("diff_ids") if isinstance(doc, dict) else None
        if not isinstance(layers, list) or not isinstance(want, list) or layers != want:
            return False
        if inspect.get("Architecture") != doc.get("architecture") or inspect.get("Os") != doc.get("os"):
            return False
        log.debug("%s: the daemon names the image %s (a containerd image store); its layers, architecture and OS "
                  "are those of the copied image", self._what, inspect.get("Id"))
        return True

    def close(self) -> None:
        """Abort the upload unless committed; close the connection."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._committed:
                self._upload.abort()
        finally:
            self._client.close()


class DaemonImageDestination(DockerTarDestination):
    """``docker load`` of the copied image, streamed (see the module docstring)."""

    def __init__(self, ref: DockerDaemonReference, sys: SystemContext) -> None:
        self._load = _DaemonLoad(ref, sys)
        super().__init__(ref, self._load, own=True, tags=[ref.ref] if ref.ref is not None else [],
                         keep_compressed=False)

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """Layers as the source has them: the daemon decompresses what it loads."""
        return LayerCompression.PRESERVE

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Record the image; remember its config digest to check the daemon's result."""
        super().put_manifest(manifest, instance_digest)
        from trustcopy.transports.dockertar import check_schema2

        self._load.config_digest = check_schema2(manifest, str(self.reference))[0]
