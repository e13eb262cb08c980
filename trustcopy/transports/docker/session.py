"""RegistrySession: what the registry work of one command shares, in one object you pass down.

A session holds, for every source, destination and tag listing opened with it:

- the pings: what ``GET /v2/`` taught about a registry (scheme, auth challenges), so that
  the source and the destination of a copy within one registry ping it once;
- the TLS contexts, one per (certificate directory, verification) setting: building one
  that verifies loads the whole system trust store;
- the HTTP connection pools, one ``httpx.Client`` per TLS context and registry host, so
  that consecutive requests (and consecutive copies) reuse their connections. One pool per
  host, not one for all: httpcore scans every connection of a pool, for every queued
  request, each time a request starts or ends (and checks each idle one with a ``select``),
  so a pool holding both ends of a sync costs several times the CPU of two pools holding
  one end each (profiled: a third of a 30-image sync's CPU went to those scans with one
  pool, a sixth with two);
- the blob locations: where blobs were seen, candidates for cross-repository mounts
  (containers/image keeps these in its BlobInfoCache, handed down the same way);
- the registry configuration (regconfig.py): registries.d and registries.conf, read
  once per (registries.d, registries.conf) setting instead of once per image.
- the bearer tokens, per registry origin, token realm and service, credentials and
  scopes: the images of one ``sync`` in one repository ask the token server once, not
  once per image (containers/image keeps a token cache per image source/destination).

The CLI creates one per command (cli/common.py) and closes it when the command ends. A
library user may create one and hand it to many copies through
``SystemContext(registry_session=…)`` (``with RegistrySession() as session: …``): pings,
pools and locations then carry over from one copy to the next, and nothing is shared
with another session. A source or destination opened without a session makes a private
one and closes it with itself.

Invariants:
- No module-level state: two sessions share nothing (not even a TLS context).
- Thread-safe: the blob threads of a copy, and the concurrent images of a ``sync``
  (``--parallel-images``), use one session at once. Concurrent clients of one registry
  share one ping (and its outcome, even a failure), and ask the token server once per token.
- A token is shared only between requests made with the same credentials to the same
  registry origin and realm, for the same scopes: what the token server would have
  answered each of them anyway.
- Closing the session closes every pool it opened; a closed session refuses to open new
  ones (RuntimeError: that is API misuse, not a registry failure).
- Cookies are never stored or sent (as containers/image, whose HTTP client has no cookie
  jar): a shared pool must not carry one registry's state into another copy.
- Creating a session imports nothing heavy: httpx is imported when the first pool opens.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

    import httpx

    from trustcopy.transports.docker.regconfig import RegistryConfig

#: Most blob digests whose locations a session remembers, and repositories per digest.
MAX_LOCATION_DIGESTS = 10_000
MAX_REPOSITORIES_PER_DIGEST = 8


class BlobLocations:
    """Where blobs were seen: candidates for cross-repository mounts (bounded, most recent first).

    The source records the blobs its manifests name, the destination the blobs it
    uploaded or found; when a blob is to be copied, the destination asks the registry to
    mount it from a recorded repository (``POST /v2/DEST/blobs/uploads/?mount=D&from=SRC``).
    Recorded locations are only hints: the registry checks that the source repository
    holds the blob (and that we may pull it) before it mounts anything; a declined mount
    falls back to the ordinary upload.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()

    def record(self, registry: str, repository: str, digest: str) -> None:
        """Remember that ``registry`` has ``digest`` in ``repository``."""
        with self._lock:
            repos = self._known.pop(digest, [])
            entry = (registry, repository)
            if entry in repos:
                repos.remove(entry)
            repos.insert(0, entry)
            del repos[MAX_REPOSITORIES_PER_DIGEST:]
            self._known[digest] = repos
            while len(self._known) > MAX_LOCATION_DIGESTS:
                self._known.popitem(last=False)

    def candidates(self, registry: str, digest: str, exclude_repository: str) -> list[str]:
        """Repositories of ``registry`` recorded to hold ``digest``, other than the given one."""
        with self._lock:
            repos = list(self._known.get(digest, ()))
        return [repo for reg, repo in repos if reg == registry and repo != exclude_repository]

    def holds(self, registry: str, repository: str, digest: str) -> bool:
        """Whether ``digest`` was recorded in ``repository`` of ``registry`` (a hint, as every location)."""
        with self._lock:
            return (registry, repository) in self._known.get(digest, ())

    def record_manifest_blobs(self, registry: str, repository: str, manifest: bytes) -> None:
        """Record the config and layer digests an image manifest names (lists name none)."""
        import json

        try:
            doc = json.loads(manifest)
        except (ValueError, RecursionError):
            return
        if not isinstance(doc, dict):
            return
        found: list[object] = []
        config = doc.get("config")
        if isinstance(config, dict):
            found.append(config.get("digest"))
        layers = doc.get("layers")
        for layer in layers if isinstance(layers, list) else ():
            if isinstance(layer, dict) and not layer.get("urls"):
                found.append(layer.get("digest"))
        fs_layers = doc.get("fsLayers")
        for layer in fs_layers if isinstance(fs_layers, list) else ():
            if isinstance(layer, dict):
                found.append(layer.get("blobSum"))
        for digest in found:
            if isinstance(digest, str) and ":" in digest and len(digest) < 200:
                self.record(registry, repository, digest)

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)


class _Flight:
    """A ping in progress: waiters block on ``done``, then read ``error`` (None: look again)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class TokenCache:
    """Bearer tokens by key (registry origin, realm, service, credentials, scopes), until they expire.

    Keys are opaque to the cache (auth.py builds them); values are ``(token, expires)``
    with ``expires`` on the ``time.monotonic`` clock. One token request per key runs at a
    time, however many threads want that token.
    """

    #: Most tokens kept (a sync of many repositories asks one token per repository).
    MAX_TOKENS = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple[Any, ...], tuple[str, float]] = OrderedDict()
        self._key_locks: dict[tuple[Any, ...], threading.Lock] = {}

    def __repr__(self) -> str:
        with self._lock:
            return f"<TokenCache {len(self._tokens)} tokens>"

    def get(self, key: tuple[Any, ...], fetch: Any) -> str:
        """The unexpired token for ``key``, or the one ``fetch()`` returns (``(token, expires)``)."""
        import time

        with self._lock:
            found = self._tokens.get(key)
            if found is not None and found[1] > time.monotonic():
                return found[0]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                found = self._tokens.get(key)
                if found is not None and found[1] > time.monotonic():
                    return found[0]
            token, expires = fetch()
            with self._lock:
                self._tokens[key] = (token, expires)
                self._tokens.move_to_end(key)
                while len(self._tokens) > self.MAX_TOKENS:
                    old, _ = self._tokens.popitem(last=False)
                    self._key_locks.pop(old, None)
            return str(token)

    def invalidate(self, key: tuple[Any, ...]) -> None:
        """Forget the token for ``key`` (the registry refused it)."""
        with self._lock:
            self._tokens.pop(key, None)

    def values(self) -> tuple[str, ...]:
        """Every token held (for masking echoed text)."""
        with self._lock:
            return tuple(token for token, _ in self._tokens.values())


class BlobUploads:
    """Who is uploading which blob to which repository, so one session uploads it once.

    Two images of one ``sync`` often share layers and go to the same repository at the
    same time. Uploading the same blob twice concurrently wastes the bandwidth and, on
    Docker Distribution, can leave the repository without the blob's link (its manifest
    PUT then fails with "blob unknown"). So a destination *claims* (registry, repository,
    digest) before it checks for the blob and uploads it; another destination of the
    session waits for the claim to end, then checks again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[tuple[str, str, str], threading.Event] = {}

    def claim(self, key: tuple[str, str, str]) -> bool:
        """Claim ``key``: True at once if nobody holds it; else wait until released, then False."""
        with self._lock:
            done = self._claims.get(key)
            if done is None:
                self._claims[key] = threading.Event()
                return True
        done.wait()
        return False

    def release(self, key: tuple[str, str, str]) -> None:
        """End a claim (uploaded, found, or failed): waiters look for the blob again."""
        with self._lock:
            done = self._claims.pop(key, None)
        if done is not None:
            done.set()


#: Sent with every request (registries log it; some rate-limit by it); ``--user-agent-prefix``
#: puts the user's text before it, as skopeo does ("PREFIX skopeo/VERSION").
USER_AGENT = "trustcopy (+containers/image compatible)"


class RegistrySession:
    """Pings, TLS contexts, connection pools and blob locations of one command (see the module docstring).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, user_agent_prefix: str | None = None) -> None:
        """``user_agent_prefix``: the global ``--user-agent-prefix``, put before trustcopy's own User-Agent."""
        self.user_agent = f"{user_agent_prefix} {USER_AGENT}" if user_agent_prefix else USER_AGENT
        self._lock = threading.Lock()
        self._pings: dict[tuple[Any, ...], Any] = {}
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._clients: dict[tuple[Any, ...], httpx.Client] = {}
        self._configs: dict[tuple[str | None, str | None], RegistryConfig] = {}
        self._config_lock = threading.Lock()
        self._flights: dict[tuple[Any, ...], _Flight] = {}
        self._closed = False
        self.locations = BlobLocations()
        self.uploads = BlobUploads()
        self.tokens = TokenCache()
        self._read_size = socket_read_size(DEFAULT_BLOB_STREAMS)

    def __repr__(self) -> str:
        with self._lock:
            return (f"<RegistrySession {len(self._pings)} pings, {len(self._clients)} pools"
                    f"{', closed' if self._closed else ''}>")

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def expect_blob_streams(self, streams: int) -> None:
        """Say how many blob bodies the command may stream at once (sets :func:`socket_read_size`).

        ``copy`` streams ``--max-parallel`` blobs (the default, 6, is assumed); ``sync``
        up to ``--parallel-images`` times that per image. Memory grows with streams x read
        size, so more streams read smaller pieces.
        """
        with self._lock:
            self._read_size = socket_read_size(streams)  # the session's pools read it per read

    # -- pings -----------------------------------------------------------------------

    def ping(self, key: tuple[Any, ...]) -> Any:
        """The remembered ping for ``key`` (host and TLS settings), or None."""
        with self._lock:
            return self._pings.get(key)

    def shared_ping(self, key: tuple[Any, ...], ping: Callable[[], Any]) -> Any:
        """The remembered ping for ``key``, else the outcome of ``ping()``, run once for concurrent callers.

        Callers that arrive while a ping of ``key`` is in flight wait for it and share its
        outcome, success or failure: a registry that is down costs the images of a sync
        one ping (and its retries), not one each in turn. A failure is not remembered
        after that: the next caller pings again.

        Raises:
            TrustcopyError: the ping failed (a waiter gets a copy of the in-flight ping's error).
        """
        from trustcopy.errors import TrustcopyError

        while True:
            with self._lock:
                known = self._pings.get(key)
                if known is not None:
                    return known
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
            if not leader:
                flight.done.wait()
                if isinstance(flight.error, TrustcopyError):
                    raise flight.error.rewrapped()
                continue  # the leader succeeded (remembered now) or was interrupted: look again
            try:
                result = ping()
            except TrustcopyError as exc:
                flight.error = exc
                raise
            else:
                self.remember_ping(key, result)
                return result
            finally:
                with self._lock:
                    self._flights.pop(key, None)
                flight.done.set()

    def remember_ping(self, key: tuple[Any, ...], ping: Any) -> None:
        """Remember a successful ping (failures are not remembered: the next client tries again)."""
        with self._lock:
            self._pings[key] = ping

    # -- registries.d and registries.conf ---------------------------------------------

    def registry_config(self, sys: object) -> RegistryConfig:
        """The registries.d and registries.conf configuration ``sys`` selects, read once per session.

        ``sys`` is a SystemContext (its ``registries_d`` and ``registries_conf``); each
        setting is loaded the first time it is asked for (warnings are logged then) and
        kept for the life of the session.

        Raises:
            ConfigError / LimitExceededError: a configuration file is missing (when named),
                unreadable or invalid (not cached: every caller sees the error).
        """
        key = (getattr(sys, "registries_d", None), getattr(sys, "registries_conf", None))
        with self._config_lock:  # one thread loads; the others wait for its result
            config = self._configs.get(key)
            if config is None:
                from trustcopy.transports.docker.regconfig import load_registry_config

                config = self._configs[key] = load_registry_config(*key)
            return config

    # -- TLS and pools ---------------------------------------------------------------

    def tls(self, cert_dir: str | None, verify: bool) -> tuple[tuple[Any, ...], ssl.SSLContext]:
        """The TLS context for a certificate directory and verification setting, and its key.

        Built once per session and setting; a changed directory (files added, replaced)
        gets a new one.

        Raises:
            ConfigError: the directory holds an unpaired or unparsable certificate or key.
        """
        from trustcopy.transports.docker import certs

        key = certs.settings_key(cert_dir, verify)
        with self._lock:
            context = self._contexts.get(key)
        if context is None:
            context = certs.build_context(key)
            with self._lock:
                context = self._contexts.setdefault(key, context)
        return key, context

    def http_client(self, key: tuple[Any, ...], context: ssl.SSLContext, host: str = "") -> httpx.Client:
        """The connection pool for one TLS setting (``key`` and ``context`` from :meth:`tls`) and host.

        Args:
            host: the registry (``host[:port]``) the pool is for: each gets its own (see
                the module docstring). Redirects to a blob store go through the registry's.

        Raises:
            RuntimeError: the session is closed.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("this RegistrySession is closed")
            client = self._clients.get((key, host))
            if client is None:
                client = self._clients[(key, host)] = _new_http_client(context, self.read_size, self.user_agent)
            return client

    def read_size(self) -> int:
        """Bytes the session's pools ask of the socket per read (:meth:`expect_blob_streams`)."""
        return self._read_size

    def close(self) -> None:
        """Close every connection pool; the session cannot open new ones afterwards."""
        with self._lock:
            self._closed = True
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()


def _new_http_client(context: ssl.SSLContext, read_size: Callable[[], int], user_agent: str) -> httpx.Client:
    """One pool: requests carry their own timeouts, redirects are followed by hand, no cookies.

    ``read_size``: the bytes to ask of the socket per read, asked at each read.
    """
    import httpx

    from trustcopy.keepalive import StrayBytesGuard
    from trustcopy.proxies import routing_transport

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0)

    def transport(proxy: Any) -> httpx.BaseTransport:
        inner = httpx.HTTPTransport(verify=context, limits=limits, proxy=proxy)
        _read_in_pieces(inner, read_size)
        return StrayBytesGuard(inner)

    return httpx.Client(
        # The proxy variables apply as Go applies them (trustcopy.proxies), to each request;
        # a connection that received more than it was answered is never reused (keepalive.py).
        transport=routing_transport(transport),
        timeout=httpx.Timeout(60.0),  # a fallback only: every request carries the client's own timeout
        follow_redirects=False,
        # Accept-Encoding: only what Go's transport asks for (gzip), not httpx's default, which
        # names zstd (and br) whenever their modules are installed: limits.decode_content undoes
        # gzip and deflate only, so a CDN answering a manifest in zstd handed over the compressed
        # bytes as the manifest. Blob GETs and resumes ask for identity themselves.
        headers={"User-Agent": user_agent, "Docker-Distribution-API-Version": "registry/2.0",
                 "Accept-Encoding": "gzip"},
        cookies=_no_cookie_jar(),
    )


#: httpcore's own read size, and the smallest we ask for.
MIN_SOCKET_READ = 64 << 10
#: The largest read size (measured below: larger pieces stop paying).
MAX_SOCKET_READ = 512 << 10
#: What the reads of all blob streams of a session may ask for together.
SOCKET_READ_BUDGET = 3 << 20
#: Blob streams a session expects unless told otherwise (``copy --max-parallel``'s default).
DEFAULT_BLOB_STREAMS = 6


def socket_read_size(streams: int) -> int:
    """Bytes asked of the socket per read of an HTTP/1.1 answer when ``streams`` bodies are read at once.

    Every piece of a blob body goes through httpcore, h11, httpx, the digest and the file
    write once, in Python: httpcore's 64 KiB pieces made that per-piece work most of a
    pull's CPU. Measured on a 10 x 20 MB pull from a loopback registry (2 cores, 6
    streams, Debian's Python 3.11): 64 KiB 0.98-1.03 s wall and 1.1 s CPU, 34 MB peak;
    256 KiB 0.66-0.82 s, 0.78-0.86 s, 41 MB; 384 KiB 0.66 s, 0.72 s, 46 MB; 512 KiB
    0.56-0.62 s, 0.62 s, 51 MB; 1 MiB 73 MB. Peak memory grows by about 7 times the read
    size per stream (each piece sits in the socket buffer, h11's buffer and the extracted
    body at once), so the size is :data:`SOCKET_READ_BUDGET` shared by the streams:
    ``copy`` (6) reads 512 KiB, ``copy --max-parallel 12`` 256 KiB, a ``sync`` of 8
    images x 6 blobs 64 KiB; at most about 21 MB more than a copy of small blobs. A
    ``recv`` returns what has arrived, never waiting to fill the size: small answers are
    unaffected.
    """
    size = SOCKET_READ_BUDGET // max(1, streams)
    return max(MIN_SOCKET_READ, min(MAX_SOCKET_READ, size - size % MIN_SOCKET_READ))


def _read_in_pieces(transport: Any, read_size: Callable[[], int]) -> None:
    """Have one pool's connections read ``read_size()`` bytes per ``recv`` (never less than httpcore asks).

    httpcore has no per-pool setting for this. Its class attribute
    (``HTTP11Connection.READ_NUM_BYTES``) was set instead: a process-wide change that a
    library caller's own httpx clients, and every other session, then read with. The pool's
    network backend is wrapped instead, so that only this pool's streams read larger pieces.
    Reaching the backend walks httpx's private ``_pool``: where it is missing (another httpx),
    reads stay httpcore's size, and test_docker_session.py fails.
    """
    pool = getattr(transport, "_pool", None)
    found = getattr(pool, "_network_backend", None)
    if pool is None or found is None:
        return
    backend: Any = found
    from httpcore import NetworkBackend, NetworkStream

    class Stream(NetworkStream):
        """A connection's socket, read ``read_size()`` bytes at a time."""

        def __init__(self, inner: NetworkStream) -> None:
            self.inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self.inner.read(max(max_bytes, read_size()), timeout)

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self.inner.write(buffer, timeout)

        def close(self) -> None:
            self.inner.close()

        def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                      timeout: float | None = None) -> NetworkStream:
            return Stream(self.inner.start_tls(ssl_context, server_hostname, timeout))

        def get_extra_info(self, info: str) -> Any:
            return self.inner.get_extra_info(info)

    class Backend(NetworkBackend):
        """The pool's own backend, its streams wrapped."""

        def connect_tcp(self, *args: Any, **kwargs: Any) -> NetworkStream:
            return Stream(backend.connect_tcp(*args, **kwargs))

        def connect_unix_socket(self, *args: Any, **kwargs: Any) -> NetworkStream:
            return Stream(backend.connect_unix_socket(*args, **kwargs))

        def sleep(self, seconds: float) -> None:
            backend.sleep(seconds)

    pool._network_backend = Backend()


def _no_cookie_jar() -> Any:
    """A cookie jar that never stores a cookie (so never sends one).

    httpx hands every response to its jar; the standard jar, even with a policy refusing
    everything, first rebuilds the response headers as an ``email.message.Message`` to
    look for ``Set-Cookie``: tens of microseconds per request, for nothing.
    """
    import http.cookiejar

    class NoCookieJar(http.cookiejar.CookieJar):
        """Refuses every cookie before reading any header."""

        def extract_cookies(self, response: Any, request: Any) -> None:
            """Store nothing."""

        def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
            """Store nothing (cookies set by hand included)."""

    return NoCookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def session_from(sys: object) -> RegistrySession | None:
    """The session a SystemContext carries (``registry_session``), if it is one."""
    session = getattr(sys, "registry_session", None)
    return session if isinstance(session, RegistrySession) else None
