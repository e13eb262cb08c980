"""TLS settings for a registry: the system trust store plus containers-certs.d directories.

A certificate directory (``--cert-dir DIR``, or the first existing one of
``~/.config/containers/certs.d/HOST:PORT``, ``/etc/containers/certs.d/HOST:PORT``,
``/etc/docker/certs.d/HOST:PORT``) may hold:

- ``*.crt``: CA certificates trusted *in addition to* the system store;
- ``NAME.cert`` + ``NAME.key``: a client certificate and its key (each needs the other).

Invariants:
- Verification is on (hostname and chain) unless the user turned it off for this
  registry; even then, client certificates from the directory are presented.
- A broken directory (unpaired key, unparsable PEM) is a ConfigError naming the file:
  silently ignoring it would fall back to weaker settings than the user configured.
- Nothing is cached here: a RegistrySession (session.py) builds a context once per
  (directory, verify, directory contents) and shares it between all threads and clients
  of the session (building one that verifies loads the whole system store).
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable

from trustcopy import limits
from trustcopy.errors import ConfigError, LimitExceededError
from trustcopy.types import SystemContext

log = logging.getLogger("trustcopy.docker")


def _per_host_bases() -> list[str]:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return [
        os.path.join(home, ".config", "containers", "certs.d"),
        "/etc/containers/certs.d",
        "/etc/docker/certs.d",
    ]


def cert_dir_for(sys: SystemContext | None, host_port: str) -> str | None:
    """The certificate directory for ``host_port`` (the name as in the image reference).

    ``--cert-dir`` wins; then ``sys.docker_per_host_cert_dir/HOST:PORT``; then the first
    existing per-host directory. Returns None when there is none.
    """
    if sys is not None and sys.docker_cert_path:
        return sys.docker_cert_path
    if sys is not None and sys.docker_per_host_cert_dir:
        return os.path.join(sys.docker_per_host_cert_dir, host_port)
    for base in _per_host_bases():
        candidate = os.path.join(base, host_port)
        try:
            os.stat(candidate)
        except PermissionError:
            log.debug("cannot access %s; skipping it", candidate)
            continue
        except OSError:
            continue
        return candidate
    return None


def _dir_fingerprint(cert_dir: str | None) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the directory's relevant files (cache key)."""
    if cert_dir is None:
        return ()
    try:
        entries = sorted(os.scandir(cert_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return ()
    except PermissionError:
        log.debug("cannot read certificate directory %s; skipping it", cert_dir)
        return ()
    except OSError as exc:
        raise ConfigError(f"cannot read certificate directory {cert_dir}: {exc.strerror}") from exc
    out = []
    for e in entries:
        if e.name.endswith((".crt", ".cert", ".key")):
            try:
                st = e.stat()
            except FileNotFoundError:
                if e.name.endswith(".crt"):
                    # A dangling symbolic link (or a file removed since the listing): containers/image
                    # warns and goes on for a CA file; a half pair is refused below, by name.
                    log.warning("cannot read CA certificate %s: it does not exist (a dangling symbolic link?)",
                                os.path.join(cert_dir, e.name))
                    continue
                out.append((e.name, -1, -1))
                continue
            except OSError:
                # A symbolic link loop, a permission problem: _build reads it and names the reason.
                # Skipping it would trust fewer CAs, or present no client certificate, in silence.
                out.append((e.name, -1, -1))
                continue
            out.append((e.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def settings_key(cert_dir: str | None, verify: bool) -> tuple[str | None, bool, tuple[tuple[str, int, int], ...]]:
    """What a context depends on: the directory, verification, and the directory's files.

    Raises:
        ConfigError: the directory cannot be read.
    """
    return cert_dir, verify, _dir_fingerprint(cert_dir)


def build_context(key: tuple[str | None, bool, tuple[tuple[str, int, int], ...]]) -> ssl.SSLContext:
    """A new SSL context for the settings :func:`settings_key` returned.

    Raises:
        ConfigError: the directory holds an unpaired or unparsable certificate or key.
    """
    return _build(*key)


def ssl_context(cert_dir: str | None, verify: bool) -> ssl.SSLContext:
    """A new SSL context for a registry (uncached: a RegistrySession keeps the ones it uses).

    Raises:
        ConfigError: the directory holds an unpaired or unparsable certificate or key.
    """
    return build_context(settings_key(cert_dir, verify))


def _build(cert_dir: str | None, verify: bool, files: tuple[tuple[str, int, int], ...]) -> ssl.SSLContext:
    if verify:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if ctx.cert_store_stats().get("x509_ca", 0) == 0:
            _load_fallback_store(ctx)
    else:
        # Nothing is verified: loading the system store would only cost start-up time.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    names = {name for name, _, _ in files}
    for name, _, _ in files:
        path = os.path.join(cert_dir or "", name)
        if name.endswith(".crt"):
            log.debug("trusting CA certificates in %s", path)
            data = _read_regular(path, "CA certificate")
            try:
                # PEM text, or one DER certificate: read by us, so a FIFO cannot block the copy.
                ctx.load_verify_locations(cadata=data.decode("ascii") if data.isascii() else data)
            except (ssl.SSLError, ValueError) as exc:
                raise ConfigError(f"cannot load CA certificate {path}: {exc}", context={"path": path}) from exc
        elif name.endswith(".cert"):
            key = name[: -len(".cert")] + ".key"
            if key not in names:
                raise ConfigError(
                    f"missing key {key} for client certificate {path}",
                    hint="CA certificates must use the .crt extension", context={"path": path},
                )
            log.debug("using client certificate %s", path)
            key_path = os.path.join(cert_dir or "", key)
            # ssl only loads a key pair from paths: check that both are small regular files.
            _read_regular(path, "client certificate")
            _read_regular(key_path, "client key")
            try:
                # An encrypted key would make OpenSSL prompt on the terminal (and wait there);
                # containers/image cannot use one either.
                ctx.load_cert_chain(certfile=path, keyfile=key_path, password=_encrypted_key(key_path))
            except ConfigError:
                raise
            except (ssl.SSLError, OSError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise ConfigError(f"cannot load client certificate {path} with key {key_path}: {reason}",
                                  context={"path": path}) from exc
        elif name.endswith(".key") and name[: -len(".key")] + ".cert" not in names:
            raise ConfigError(f"missing client certificate {name[:-4]}.cert for key {path}", context={"path": path})
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _encrypted_key(key_path: str) -> Callable[[], bytes]:
    """The ``password`` callback of load_cert_chain: refuse an encrypted client key by name."""

    def refuse() -> bytes:
        raise ConfigError(f"client key {key_path} is encrypted; certs.d keys must be unencrypted",
                          context={"path": key_path})

    return refuse


def _read_regular(path: str, what: str) -> bytes:
    """A certs.d file's bytes; FIFOs, devices and oversized files are refused."""
    try:
        return limits.read_file_at_most(path, limits.MAX_KEY_FILE, f"{what} {path}")
    except LimitExceededError as exc:
        raise ConfigError(f"cannot load {what} {path}: {exc.message}", context={"path": path}) from exc
    except OSError as exc:
        raise ConfigError(f"cannot load {what} {path}: {exc.strerror}", context={"path": path}) from exc


def _load_fallback_store(ctx: ssl.SSLContext) -> None:
    """Some Python builds know no system CA path; use certifi's bundle if it is installed."""
    try:
        import certifi
    except ImportError:
        log.debug("no system CA certificates found and certifi is not installed")
        return
    ctx.load_verify_locations(cafile=certifi.where())
