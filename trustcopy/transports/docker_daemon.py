"""``docker-daemon:NAME:TAG`` / ``docker-daemon:NAME@DIGEST`` / ``docker-daemon:sha256:ID``: a Docker
Engine (or podman's Docker-compatible service) over its API, with httpx.

The engine is found at ``--src-daemon-host``/``--dest-daemon-host``, else ``$DOCKER_HOST``
(skopeo ignores that variable; we honour it), else ``unix:///var/run/docker.sock``.
``unix://`` connects to the socket; ``http://`` is plain TCP; ``tcp://`` and ``https://``
use TLS (``--*-cert-dir`` holding ca.pem, cert.pem, key.pem; ``--*-tls-verify=false`` to
skip verification), as containers/image.

Source: ``GET /images/NAME/get`` (``docker save``). The stream is read twice instead of
being copied to /var/tmp (containers/image spools it): a first pass indexes the archive
and keeps its small members, a second streams the layers in archive order. The daemon
exports the image twice; we write nothing to disk. Everything read is verified against
the digests of the first pass.

Destination: ``POST /images/load`` with the archive streamed as the request body while
the copy produces it (layers as the source has them: a daemon decompresses what it
loads). The copy is reported done only when the daemon answered 200 with no error in its
message stream *and* the image it now has under NAME:TAG has our config digest as its
ID. Closing without commit aborts the upload mid-stream, so the daemon sees a truncated
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
import threading
import urllib.parse
from typing import Any

from trustcopy import limits
from trustcopy.compression import Algorithm, DecompressingStream, PeekableStream, Readable
from trustcopy.digest import Digest
from trustcopy.errors import ImageNotFoundError, InvalidReferenceError, TransportError
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
        """How the engine API names the image (full name, or the ID)."""
        if self.image_id is not None:
            return str(self.image_id)
        assert self.ref is not None
        return str(self.ref)


# -- the engine client ---------------------------------------------------------------


def daemon_host(sys: SystemContext) -> str:
    """--*-daemon-host, else $DOCKER_HOST, else the default socket."""
    return sys.docker_daemon_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def new_client(sys: SystemContext, what: str) -> Any:
    """An httpx.Client for the engine (see the module docstring for the schemes)."""
    import httpx

    import trustcopy.transports.docker  # noqa: F401 - keeps httpx's own CLI out of start-up

    host = daemon_host(sys)
    parsed = urllib.parse.urlsplit(host)
    timeout = httpx.Timeout(sys.docker_timeout or 300.0, connect=30.0)
    if parsed.scheme == "unix":
        path = parsed.path or parsed.netloc
        if not path:
            raise TransportError(f"{what}: invalid daemon host {host!r}", code="daemon-host-invalid")
        return httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://docker", timeout=timeout)
    from trustcopy.proxies import routing_transport

    if parsed.scheme == "http":
        # The proxy variables apply to a daemon over TCP, as in Docker's Go client (trustcopy.proxies).
        return httpx.Client(transport=routing_transport(lambda proxy: httpx.HTTPTransport(proxy=proxy)),
                            base_url=f"http://{parsed.netloc}", timeout=timeout)
    if parsed.scheme in ("tcp", "https"):
        import ssl

        ctx = ssl.create_default_context()
        cert_dir = sys.docker_cert_path
        if cert_dir:
            ca = os.path.join(cert_dir, "ca.pem")
            if os.path.exists(ca):
                ctx.load_verify_locations(ca)
            cert, key = os.path.join(cert_dir, "cert.pem"), os.path.join(cert_dir, "key.pem")
            if os.path.exists(cert) and os.path.exists(key):
                ctx.load_cert_chain(cert, key)
        if not sys.docker_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return httpx.Client(transport=routing_transport(lambda proxy: httpx.HTTPTransport(verify=ctx, proxy=proxy)),
                            base_url=f"https://{parsed.netloc}", timeout=timeout)
    raise TransportError(f"{what}: unsupported daemon host {host!r} (use unix://, tcp://, http:// or https://)",
                         code="daemon-host-invalid")


def _error_message(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:500]
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return value["message"]
    return body.decode(errors="replace").strip()[:500]


def _connect_error(exc: Exception, sys: SystemContext, what: str) -> TransportError:
    return TransportError(f"{what}: cannot talk to the daemon at {daemon_host(sys)}: {exc}",
                          code="daemon-unreachable", hint="is the daemon running? (--src-daemon-host / "
                          "--dest-daemon-host, or DOCKER_HOST, name it)")


# -- source --------------------------------------------------------------------------


class _HTTPBody:
    """A streamed response body as a readable."""

    def __init__(self, response: Any) -> None:
        self._it = response.iter_bytes(1 << 20)
        self._buf = b""

    def read(self, size: int = -1, /) -> bytes:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return b""
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
            self._archive = SequentialArchive(self._save, str(ref), measure_compressed=True)
            self._load(None, -1)
        except BaseException:
            self._client.close()
            raise

    def _save(self) -> tuple[Readable, Any]:
        import httpx

        what = str(self.reference)
        url = f"/images/{urllib.parse.quote(self.reference.api_name(), safe='')}/get"
        log.debug("%s: waiting for the daemon to export the image (GET %s)", what, url)
        try:
            response = self._client.send(self._client.build_request("GET", url), stream=True)
        except httpx.HTTPError as exc:
            raise _connect_error(exc, self._sys, what) from exc
        if response.status_code != 200:
            answer = limits.read_iter_at_most(response.iter_bytes(), limits.MAX_ERROR_BODY, f"{what}: daemon answer")
            response.close()
            message = _error_message(answer)
            if response.status_code == 404:
                raise ImageNotFoundError(f"{what}: the daemon has no such image: {message}")
            raise DaemonError(f"{what}: the daemon refused to export the image (HTTP {response.status_code}): "
                              f"{message}")
        peeked = PeekableStream(_HTTPBody(response))
        stream: Readable = peeked
        algo = peeked.algorithm
        if algo is not Algorithm.NONE:
            stream = DecompressingStream(stream, algo, what=what)
        return _Wrapped(stream, what), response.close

    def close(self) -> None:
        """End any pass and close the connection."""
        try:
            super().close()
        finally:
            self._client.close()


class _Wrapped:
    """Turns httpx failures in the middle of a body into our errors."""

    def __init__(self, stream: Readable, what: str) -> None:
        self._stream, self._what = stream, what

    def read(self, size: int = -1, /) -> bytes:
        import httpx

        try:
            return self._stream.read(size)
        except httpx.HTTPError as exc:
            raise DaemonError(f"{self._what}: the daemon's stream failed: {exc}", code="daemon-stream-failed") from exc


# -- destination ---------------------------------------------------------------------


_ABORT = object()


class _Upload:
    """The ``POST /images/load`` request, fed from a bounded queue by the copy thread."""

    def __init__(self, client: Any, what: str) -> None:
        self._client, self._what = client, what
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
            log.debug("%s: POST /images/load", self._what)
            with self._client.stream("POST", "/images/load", params={"quiet": "1"}, content=self._chunks(),
                                     headers={"Content-Type": "application/x-tar"}) as response:
                self.status = response.status_code
                self.body = limits.read_iter_at_most(response.iter_bytes(), limits.MAX_ERROR_BODY,
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
        for line in self.body.splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and (msg.get("error") or msg.get("errorDetail")):
                detail = msg.get("error") or msg.get("errorDetail")
                raise DaemonError(f"{self._what}: the daemon failed to load the image: {detail}")

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


class _DaemonLoad:
    """The writer side of a daemon destination (what DockerArchiveDestination needs of a writer)."""

    def __init__(self, ref: DockerDaemonReference, sys: SystemContext) -> None:
        from trustcopy.fsutil import big_files_dir

        self._ref, self._sys, self._what = ref, sys, str(ref)
        self._client = new_client(sys, self._what)
        self._upload = _Upload(self._client, self._what)
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
        name = urllib.parse.quote(self._ref.api_name(), safe="")
        try:
            response = self._client.get(f"/images/{name}/json")
        except httpx.HTTPError as exc:
            raise _connect_error(exc, self._sys, self._what) from exc
        if response.status_code != 200:
            raise DaemonError(f"{self._what}: the daemon reported success but has no image {self._ref.api_name()} "
                              f"(HTTP {response.status_code})", code="daemon-load-unverified")
        try:
            image_id = response.json().get("Id")
        except ValueError:
            image_id = None
        if self.config_digest is not None and image_id != str(self.config_digest):
            raise DaemonError(f"{self._what}: after loading, {self._ref.api_name()} is {image_id}, not the copied "
                              f"image {self.config_digest}", code="daemon-load-unverified")

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
