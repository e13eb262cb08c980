"""containers-auth.json: finding, reading and writing registry credentials.

Lookup order (containers/image ``pkg/docker/config``; the first file holding a matching
entry wins, and within a file the most specific key wins)::

    1. --authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
       (else /run/containers/$UID/auth.json)                     ← also where login writes;
       a file the user named (--authfile, $REGISTRY_AUTH_FILE) is the ONLY one read, as in
       current containers/image (getAuthFilePaths' userSpecifiedPath)
    2. $XDG_CONFIG_HOME/containers/auth.json (default ~/.config/containers/auth.json; a
       relative $XDG_CONFIG_HOME is ignored, as trustcopy.paths does for policy.json)
    3. $DOCKER_CONFIG/config.json, else ~/.docker/config.json
    4. ~/.dockercfg                                               (legacy format)

Keys are ``host[:port]`` or ``host[:port]/namespace[/repo]``; for ``reg/a/b/c`` the keys
``reg/a/b/c``, ``reg/a/b``, ``reg/a``, ``reg`` are tried in this order, then Docker's
URL-shaped keys (``https://index.docker.io/v1/``) normalized to their host. A
``credHelpers`` entry for the host runs ``docker-credential-NAME get`` (and login/logout store
in / erase from that helper instead of the file). registries.conf's
``credential-helpers`` decides whether these files are read at all, and what else is asked
(:func:`get_credentials`).

Invariants:
- Files are read with a size cap; a malformed file is a ConfigError naming the path,
  never quoting its content.
- Writes replace the file atomically with mode 0600 (directory 0700), in containers/image's
  bytes (json.MarshalIndent with tabs), keep every other top-level field of the file
  (NOTE(go-diff) in _modify), and never touch the read-only fallbacks (2-4).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
from typing import Any

from trustcopy import limits
from trustcopy.errors import ConfigError, LimitExceededError, UsageError
from trustcopy.gojson import GoObject, go_marshal, loads
from trustcopy.lazy import dataclass
from trustcopy.transports.docker.credentials import Credentials, go_field
from trustcopy.types import SystemContext

log = logging.getLogger("trustcopy.docker")

_CRED_HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class AuthPath:
    """One candidate auth file; ``legacy`` is the ~/.dockercfg format (no "auths" wrapper);
    ``named`` when the user named it (--authfile, $REGISTRY_AUTH_FILE): then a file we may not
    read is an error, as in containers/image, never silently no credentials."""

    path: str
    legacy: bool = False
    named: bool = False


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def user_specified_auth_file(sys: SystemContext | None) -> str | None:
    """The auth file the user named (--authfile, else $REGISTRY_AUTH_FILE, which is skopeo's
    --authfile default), or None for the defaults."""
    if sys is not None and sys.auth_file:
        return sys.auth_file
    if sys is not None and sys.docker_compat_auth_file:
        return sys.docker_compat_auth_file  # read as any auth file (containers/image getPathToAuth)
    return os.environ.get("REGISTRY_AUTH_FILE") or None


def primary_auth_file(sys: SystemContext | None) -> str:
    """The file ``login``/``logout`` write, and the first one read.

    Raises:
        ConfigError: $XDG_RUNTIME_DIR names a directory that does not exist.
    """
    explicit = user_specified_auth_file(sys)
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        if not os.path.isdir(runtime):
            raise ConfigError(
                f"the directory {runtime!r} named by $XDG_RUNTIME_DIR does not exist",
                hint="create it, or unset $XDG_RUNTIME_DIR, or pass --authfile",
            )
        return os.path.join(runtime, "containers", "auth.json")
    return f"/run/containers/{os.getuid()}/auth.json"


def auth_file_paths(sys: SystemContext | None) -> list[AuthPath]:
    """The files searched for credentials, in order (see the module docstring).

    A file the user named is the only one: no fallback to ~/.docker/config.json and the
    rest (containers/image since 5.29, TestGetPathToAuth's ``expectedUserSpecified``).
    """
    explicit = user_specified_auth_file(sys)
    if explicit:
        return [AuthPath(explicit, named=True)]
    paths: list[AuthPath] = []
    try:
        paths.append(AuthPath(primary_auth_file(sys)))
    except ConfigError as exc:
        log.warning("%s; trying other credential files", exc.message)
    home = _home()
    from trustcopy.paths import user_config_dir

    # NOTE(go-diff): a relative $XDG_CONFIG_HOME is ignored (as for policy.json, and as the XDG
    # spec says); containers/image would read credentials relative to the working directory.
    config_dir = user_config_dir()
    if config_dir is not None:
        paths.append(AuthPath(os.path.join(config_dir, "auth.json")))
    docker_config = os.environ.get("DOCKER_CONFIG")
    paths.append(AuthPath(os.path.join(docker_config or os.path.join(home, ".docker"), "config.json")))
    paths.append(AuthPath(os.path.join(home, ".dockercfg"), legacy=True))
    return paths


def validate_key(key: str) -> bool:
    """Check an auth-file key; return whether it is namespaced (has a ``/``).

    Raises:
        UsageError: a URL, a tag or a digest instead of ``host[:port][/path]``.
    """
    if key.startswith(("http://", "https://")):
        raise UsageError(f"credential key {key!r} must not contain an http[s]:// prefix")
    if "@" in key:
        raise UsageError(f"credential key {key!r} must not contain '@'")
    host, slash, rest = key.partition("/")
    if not host:
        # NOTE(go-diff): containers/image looks an empty host up as the key "" (or "/ns");
        # every key we are given comes from a reference or the login argument, which has one.
        raise UsageError(f"credential key {key!r} has no registry host")
    if slash and ":" in rest:
        raise UsageError(f"credential key {key!r} must not contain a tag (':' after host[:port])")
    return bool(slash)


def _read_bytes(path: str, *, strict: bool) -> bytes | None:
    """The file's bytes (bounded), or None when it does not exist (or, unless ``strict``, is unreadable).

    Raises:
        ConfigError: unreadable (``strict``, or another error than EACCES), or too large.
    """
    try:
        return limits.read_file_at_most(path, limits.MAX_AUTH_FILE, path)
    except FileNotFoundError:
        return None
    except (OSError, LimitExceededError) as exc:
        if isinstance(exc, PermissionError) and not strict:
            # NOTE(go-diff): the newest containers/image fails the lookup on a file it may not
            # read; a default location we cannot read holds no credentials for us, and the next
            # one is asked. A file the user named is read ``strict`` (AuthPath.named).
            log.debug("skipping unreadable credential file %s", path)
            return None
        reason = exc.strerror if isinstance(exc, OSError) else exc.message
        raise ConfigError(f"cannot read credential file {path}: {reason}", context={"path": path}) from exc


def _read_json(path: str, legacy: bool, *, strict: bool = False) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist (or, unless ``strict``, is unreadable).

    Raises:
        ConfigError: unreadable, too large, not JSON, or of the wrong shape.
    """
    raw = _read_bytes(path, strict=strict)
    if raw is None:
        return None
    try:
        doc = limits.load_json(raw, path)
    except (ValueError, RecursionError, LimitExceededError):
        raise ConfigError(f"credential file {path} is not valid JSON", context={"path": path}) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"credential file {path} must hold a JSON object", context={"path": path})
    if legacy:
        return {"auths": doc}
    for section in ("auths", "credHelpers"):
        if section in doc and doc[section] is not None and not isinstance(doc[section], dict):
            raise ConfigError(f"credential file {path}: {section!r} must be an object", context={"path": path})
    return doc


class _GoTypeError(Exception):
    """A value of the wrong JSON type for its Go field: containers/image's Unmarshal fails."""


def _go_map(value: Any, into: dict[str, Any] | None, element: Any) -> dict[str, Any] | None:
    """Decode a JSON object into a Go map as encoding/json does: ``null`` sets it to nil, an
    object adds its entries to the map already there (a repeated field merges), last key wins."""
    if value is None:
        return None
    if not isinstance(value, GoObject):
        raise _GoTypeError
    out = into if into is not None else {}
    for k, v in value.pairs:
        out[k] = element(v)
    return out


def _go_string(value: Any, default: str) -> str:
    if value is None:
        return default  # null leaves a Go string as it was
    if not isinstance(value, str):
        raise _GoTypeError
    return value


def _go_entry(value: Any) -> dict[str, str]:
    """One ``auths`` entry as containers/image's dockerAuthConfig (other fields ignored)."""
    out = {"auth": "", "identitytoken": ""}
    if value is None:
        return out
    if not isinstance(value, GoObject):
        raise _GoTypeError
    for k, v in value.pairs:
        f = go_field(k, ("auth", "identitytoken"))
        if f is not None:
            out[f] = _go_string(v, out[f])
    return out


#: A file's contents as containers/image decodes them: ``auths`` (entries of ``auth`` and
#: ``identitytoken``), ``credHelpers``, and the other top-level fields in file order.
_GoDoc = tuple[dict[str, dict[str, str]], dict[str, str], list[tuple[str, Any]]]


def _go_doc(path: str, legacy: bool, *, strict: bool = False) -> _GoDoc | None:
    """The ``auths`` and ``credHelpers`` of a file, read exactly as containers/image reads them
    (json.Unmarshal into its dockerConfigFile), and the fields it does not read; None when the
    file does not exist (or, unless ``strict``, cannot be read for lack of permission).

    Go's decoder differs from a plain ``json.loads`` in ways a hand-edited file reaches:
    field names match case-insensitively (``"Auths"``), a repeated field merges, ``null``
    anywhere means "empty", a value of the wrong type anywhere fails the whole file (even an
    entry for another registry), a top-level ``null`` is an empty file, a BOM or a UTF-16
    file is not JSON, and invalid UTF-8 inside strings is replaced rather than refused.

    Raises:
        ConfigError: unreadable, too large, not JSON, or of the wrong shape.
    """
    raw = _read_bytes(path, strict=strict)
    if raw is None:
        return None
    try:
        doc = loads(raw)
    except ValueError:  # (TooDeepError included)
        raise ConfigError(f"credential file {path} is not valid JSON", context={"path": path}) from None
    extras: dict[str, Any] = {}
    try:
        if legacy:
            return _go_map(doc, None, _go_entry) or {}, {}, []
        if doc is not None and not isinstance(doc, GoObject):
            raise _GoTypeError
        auths: dict[str, Any] | None = None
        helpers: dict[str, Any] | None = None
        for k, v in doc.pairs if doc is not None else ():
            field = go_field(k, ("auths", "credhelpers"))
            if field == "auths":
                auths = _go_map(v, auths, _go_entry)
            elif field == "credhelpers":
                helpers = _go_map(v, helpers, lambda h: _go_string(h, ""))
            else:
                extras[k] = v
    except _GoTypeError:
        raise ConfigError(f"credential file {path}: a value has the wrong JSON type (auths must map keys to "
                          f"objects of strings, credHelpers keys to helper names)", context={"path": path}) from None
    return auths or {}, helpers or {}, list(extras.items())


def _lookup_doc(path: str, legacy: bool, *, strict: bool = False
                ) -> tuple[dict[str, dict[str, str]], dict[str, str]] | None:
    """The ``auths`` and ``credHelpers`` of a file as containers/image reads them (:func:`_go_doc`)."""
    doc = _go_doc(path, legacy, strict=strict)
    return None if doc is None else (doc[0], doc[1])


def _go_indent(compact: bytes) -> bytes:
    """Go's ``json.Indent(…, "", "\t")`` of compact JSON: what ``json.MarshalIndent`` writes
    (no final newline; ``{}`` and ``[]`` stay on one line)."""
    out = bytearray()
    depth = 0
    need_indent = in_string = escaped = False
    for c in compact:
        if in_string:
            out.append(c)
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:
                in_string = False
            continue
        if need_indent and c not in b"}]":
            need_indent = False
            out += b"\n" + b"\t" * depth
        if c == 0x22:
            in_string = True
            out.append(c)
        elif c in b"{[":
            out.append(c)
            depth += 1
            need_indent = True
        elif c == 0x2C:  # ,
            out += b",\n" + b"\t" * depth
        elif c == 0x3A:  # :
            out += b": "
        elif c in b"}]":
            depth -= 1
            if need_indent:
                need_indent = False
            else:
                out += b"\n" + b"\t" * depth
            out.append(c)
        else:
            out.append(c)
    return bytes(out)


def keys_for(key: str) -> list[str]:
    """``reg/a/b`` → ``[reg/a/b, reg/a, reg]``: most specific first."""
    out = [key]
    while "/" in key:
        key = key.rsplit("/", 1)[0]
        out.append(key)
    return out


def normalize_registry(host: str) -> str:
    """docker.io's several names → ``index.docker.io`` (as Docker's own keys)."""
    return "index.docker.io" if host in ("docker.io", "registry-1.docker.io") else host


def _normalize_entry_key(key: str, legacy: bool) -> str:
    stripped = key.removeprefix("http://").removeprefix("https://")
    if legacy or stripped != key:
        stripped = stripped.split("/", 1)[0]
    return normalize_registry(stripped)


def _shown_key(key: str) -> str:
    """An ``auths`` key fit for a message: a URL-shaped key may carry ``?token=…`` or ``user:pass@``."""
    from trustcopy.redact import mask_userinfo, redact_url

    return redact_url(key) if "://" in key or "?" in key else mask_userinfo(key)


def _decode_entry(path: str, key: str, entry: dict[str, str]) -> Credentials | None:
    """containers/image's decodeDockerAuth: ``auth`` is base64 of ``user:password``.

    An entry whose ``auth`` is empty or has no ``:`` holds nothing, its ``identitytoken``
    included (Docker writes ``{}`` entries for registries of a credential helper), and
    credentials that are all empty are "not found": the search goes on in the next file.
    """
    auth, identity = entry["auth"], entry["identitytoken"]
    try:
        # Go's base64.StdEncoding (containers/image) skips "\r" and "\n"; nothing else is lenient.
        decoded = base64.b64decode(auth.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        # Never quote the value: it is a secret, even when broken.
        raise ConfigError(f"credential file {path}: the \"auth\" value for {_shown_key(key)!r} is not valid base64",
                          context={"path": path}) from None
    user_b, sep, password_b = decoded.partition(b":")
    if not sep:
        if decoded:
            log.warning('credential file %s: the "auth" value for %r has no ":"; ignoring it', path, _shown_key(key))
        return None
    try:
        user, password = user_b.decode("utf-8"), password_b.decode("utf-8")
    except UnicodeDecodeError:
        # NOTE(go-diff): Go strings are bytes and containers/image sends whatever the file
        # holds; we refuse credentials that are not UTF-8 text rather than guess an encoding.
        raise ConfigError(f"credential file {path}: the \"auth\" value for {_shown_key(key)!r} is not UTF-8 text",
                          context={"path": path}) from None
    creds = Credentials(username=user, password=password.strip("\x00"), identity_token=identity)
    return None if creds.anonymous else creds


class _HelperMissingError(ConfigError):
    """``docker-credential-NAME`` is not on $PATH (``logout --all`` skips such a helper, as c/i)."""


#: Most bytes of a helper's stdout kept: its answer is one small JSON object (``list`` names
#: every registry, still far below this). More is refused, the helper killed: a helper printing
#: without end (``cat /dev/zero``) must not fill memory for the whole timeout.
_HELPER_STDOUT_LIMIT = limits.MAX_AUTH_FILE
#: Most bytes of its stderr kept: only searched for "credentials not found".
_HELPER_STDERR_LIMIT = 64 * 1024
#: How long the pipes may stay open after the helper exited: a child it left behind (a
#: daemon it started) may hold them for ever; what the helper itself printed is there already.
_HELPER_EXIT_GRACE = 1.0


def _communicate(program: str, action: str, data: bytes) -> tuple[int, bytes, bytes]:
    """Run ``program action`` with ``data`` on stdin; (exit status, stdout, stderr), all bounded.

    ``subprocess.run(capture_output=True)`` keeps everything a helper prints until it exits
    or times out (gigabytes from a runaway helper) and waits for EOF on its pipes, which a
    grandchild may hold open. Here stdout over _HELPER_STDOUT_LIMIT kills the helper at once,
    stderr is truncated, and pipes still open _HELPER_EXIT_GRACE after the exit are abandoned.

    Raises:
        OSError: the program cannot be started (missing, not executable, ...).
        ConfigError: it printed too much, or did not finish within _CRED_HELPER_TIMEOUT.
    """
    import selectors
    import subprocess  # only for credential helpers: a costly import every copy would pay
    import time

    proc = subprocess.Popen([program, action], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    pending = memoryview(data)
    deadline = time.monotonic() + _CRED_HELPER_TIMEOUT
    exited_at: float | None = None
    try:
        with selectors.DefaultSelector() as selector:
            os.set_blocking(proc.stdin.fileno(), False)
            if pending:
                selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
            selector.register(proc.stdout, selectors.EVENT_READ, out)
            selector.register(proc.stderr, selectors.EVENT_READ, err)
            while selector.get_map():
                now = time.monotonic()
                if now >= deadline:
                    raise ConfigError(f"credential helper {program} did not answer in time")
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > _HELPER_EXIT_GRACE:
                    break  # the helper is gone; whoever still holds its pipes is not answering for it
                for key, _ in selector.select(min(deadline - now, 0.1)):
                    if key.fileobj is proc.stdin:
                        try:
                            pending = pending[os.write(proc.stdin.fileno(), pending[:65536]):]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:  # it does not read its input: its answer will say so
                            pending = pending[:0]
                        if not pending:
                            selector.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer: bytearray = key.data
                    if buffer is out and len(out) + len(chunk) > _HELPER_STDOUT_LIMIT:
                        raise ConfigError(f"credential helper {program} printed more than "
                                          f"{_HELPER_STDOUT_LIMIT} bytes")
                    if buffer is err:
                        chunk = chunk[: max(0, _HELPER_STDERR_LIMIT - len(err))]
                    buffer += chunk
        try:
            status = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise ConfigError(f"credential helper {program} did not answer in time") from None
        return status, bytes(out), bytes(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()


def _run_helper(helper: str, action: str, data: bytes) -> bytes | None:
    """``docker-credential-HELPER ACTION`` with ``data`` on stdin: its output, or None for "not found".

    Raises:
        ConfigError: a bad name, a helper missing, not executable, stalled, printing without
            end or failing (never quoting what it printed: it may echo a secret).
    """
    from trustcopy.sysregistries.load import is_valid_helper_name

    if not is_valid_helper_name(helper):
        raise ConfigError(f"invalid credential helper name {helper!r}")
    program = f"docker-credential-{helper}"
    try:
        status, out, err = _communicate(program, action, data)
    except FileNotFoundError:
        raise _HelperMissingError(f"credential helper {program} is not installed") from None
    except OSError as exc:  # found on $PATH but not runnable (not executable, bad interpreter...)
        raise ConfigError(f"cannot run credential helper {program}: {exc.strerror or exc}") from None
    if status != 0:
        if b"credentials not found" in out.lower() or b"credentials not found" in err.lower():
            return None
        raise ConfigError(f"credential helper {program} failed (exit status {status})")
    return out


def _from_helper(helper: str, registry: str) -> Credentials | None:
    """Ask ``docker-credential-HELPER get`` for ``registry``'s credentials."""
    program = f"docker-credential-{helper}"
    out = _run_helper(helper, "get", registry.encode())
    if out is None:
        return None
    try:
        doc = limits.load_json(out, program)
    except (ValueError, RecursionError, LimitExceededError):
        raise ConfigError(f"credential helper {program} returned malformed output") from None
    # As docker-credential-helpers' client.Get: missing fields (``{}``, ``null``) are empty,
    # and empty credentials are "not found" (containers/image then asks the next source).
    if doc is None:
        doc = {}
    user, secret = (doc.get("Username"), doc.get("Secret")) if isinstance(doc, dict) else (None, None)
    if not isinstance(doc, dict) or not isinstance(user or "", str) or not isinstance(secret or "", str):
        raise ConfigError(f"credential helper {program} returned malformed output")
    user, secret = user or "", secret or ""
    creds = Credentials(identity_token=secret) if user == "<token>" else Credentials(username=user, password=secret)
    return None if creds.anonymous else creds


def find_in_file(auth_path: AuthPath, key: str) -> Credentials | None:
    """The credentials for ``key`` in one file, or None (containers/image findCredentialsInFile)."""
    doc = _lookup_doc(auth_path.path, auth_path.legacy, strict=auth_path.named)
    if doc is None:
        return None
    auths, helpers = doc
    registry = key.split("/", 1)[0]
    if registry in helpers:
        log.debug("looking up %s with credential helper %s (from %s)", registry, helpers[registry], auth_path.path)
        return _from_helper(helpers[registry], registry)
    candidates = [registry] if auth_path.legacy else keys_for(key)
    for k in candidates:
        if k in auths:
            return _decode_entry(auth_path.path, k, auths[k])
    wanted = normalize_registry(registry)
    # Several keys may normalize to the registry; containers/image then takes any one of them
    # (Go map order), we take the first in the file.
    for k, entry in auths.items():
        if _normalize_entry_key(k, auth_path.legacy) == wanted:
            return _decode_entry(auth_path.path, k, entry)
    return None


#: The ``credential-helpers`` name (registries.conf) of the auth files themselves: the default list.
AUTH_FILES_HELPER = "containers-auth.json"


def _from_auth_files(sys: SystemContext | None, key: str) -> Credentials | None:
    for auth_path in auth_file_paths(sys):
        creds = find_in_file(auth_path, key)
        if creds is not None:
            log.debug("found credentials for %s in %s", key, auth_path.path)
            return creds
    return None


def _combined(failures: list[ConfigError], doing: str, key: str) -> ConfigError:
    """The one error of a helper list that failed: the only failure, or all of them named (as c/i)."""
    if len(failures) == 1:
        return failures[0]
    return ConfigError(f"errors {doing} credentials for {key}: " + "; ".join(f.message for f in failures))


def get_credentials(sys: SystemContext | None, key: str, helpers: tuple[str, ...] = ()) -> Credentials:
    """Credentials for ``key`` (``host[:port][/path]``); anonymous if none.

    ``helpers`` is registries.conf's ``credential-helpers``, asked in order as containers/image
    asks them: ``containers-auth.json`` is the auth files (the default when the list is empty),
    any other name runs ``docker-credential-NAME get`` for the host. The first that knows the
    registry wins; one that fails is skipped if a later one answers, else its error is raised.

    Raises:
        ConfigError: a file on the path is malformed, or a helper failed, and no other source
            had credentials (we never silently skip a failure).
    """
    validate_key(key)
    failures: list[ConfigError] = []
    for helper in helpers or (AUTH_FILES_HELPER,):
        try:
            creds = (_from_auth_files(sys, key) if helper == AUTH_FILES_HELPER
                     else _from_helper(helper, key.split("/", 1)[0]))
        except ConfigError as exc:
            failures.append(exc)
            continue
        if creds is not None:
            for failure in failures:
                log.warning("looking up credentials for %s: %s; using %s", key, failure.message, helper)
            return creds
    if failures:
        raise _combined(failures, "looking up", key)
    log.debug("no credentials for %s found", key)
    return Credentials()


def credentials_for_reference(sys: SystemContext | None, name: str, helpers: tuple[str, ...] = ()) -> Credentials:
    """What to authenticate with for repository ``name`` (``host/path``), honouring the flags.

    ``--no-creds`` → anonymous; ``--creds``/``--username`` → those; otherwise the credential
    helpers (``helpers``, see :func:`get_credentials`).
    """
    if sys is not None and sys.docker_no_creds:
        return Credentials()
    if sys is not None and sys.docker_username is not None:
        return Credentials(username=sys.docker_username, password=sys.docker_password or "")
    return get_credentials(sys, name, helpers)


def _compat(sys: SystemContext | None) -> bool:
    return sys is not None and bool(sys.docker_compat_auth_file)


def compat_key(sys: SystemContext | None, key: str) -> str:
    """The key as ``--compat-auth-file`` records it: Docker's ``https://index.docker.io/v1/`` for
    docker.io; a namespaced key is refused (Docker has none), as containers/image's prepareForEdit.

    Raises:
        ConfigError: a namespaced key with --compat-auth-file.
    """
    if not _compat(sys):
        return key
    if "/" in key:
        raise ConfigError(f"Credentials cannot be recorded in Docker-compatible format with namespaced key {key!r}")
    return "https://index.docker.io/v1/" if key == "docker.io" else key


def _entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    """An ``auths`` entry as containers/image writes its dockerAuthConfig: ``auth`` and
    ``identitytoken`` only, each omitted when empty (Docker's ``email`` and the like are dropped)."""
    return {f: entry[f] for f in ("auth", "identitytoken") if isinstance(entry.get(f), str) and entry[f]}


def _modify(sys: SystemContext | None, edit: Any) -> str:
    """Read the primary file, apply ``edit(doc) -> bool``, write it back atomically if True.

    The file is read as containers/image's modifyJSON reads it (:func:`_go_doc`: ``"Auths"``
    is ``auths``, a repeated field merges, a wrongly typed value fails) and written as it
    writes it: ``json.MarshalIndent(…, "", "\t")`` of ``auths`` (keys sorted, entries of
    ``auth``/``identitytoken``) then ``credHelpers`` (omitted when empty), no final newline:
    skopeo's bytes.

    With ``--compat-auth-file`` the file is Docker's ``config.json``: every top-level field
    but ``auths`` is written back as it was (Docker may add fields we do not know), and
    ``credHelpers`` is read but never changed, as containers/image's modifyDockerConfigJSON.
    """
    path = primary_auth_file(sys)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        _make_private_dirs(directory)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc.strerror}", context={"path": path}) from exc
    extras: list[tuple[str, Any]] = []
    if _compat(sys):
        raw = _read_json(path, legacy=False, strict=True) or {}
        doc = dict(raw)
        doc.setdefault("auths", {})
        if doc["auths"] is None:
            doc["auths"] = {}
    else:
        auths, helpers, extras = _go_doc(path, legacy=False, strict=True) or ({}, {}, [])
        doc = {"auths": auths, "credHelpers": helpers}
    try:
        changed = edit(doc)
    except ConfigError as exc:  # as c/i's modifyJSON: name the file being updated
        raise exc.rewrapped(f"updating {path}: {exc.message}") from exc
    if not changed:
        return path
    # Go writes maps sorted by key (code points of UTF-8: Python's str order).
    entries = {k: _entry_out(e) for k, e in sorted(doc["auths"].items())}
    if _compat(sys):
        # Go's json.MarshalIndent of the raw map: keys sorted; only auths changed.
        out = dict(sorted({**raw, "auths": entries}.items()))
    else:
        out = {"auths": entries}
        helpers = _file_helpers(doc)
        if helpers:
            out["credHelpers"] = dict(sorted(helpers.items()))
        # NOTE(go-diff): containers/image's modifyJSON drops every other top-level field of the
        # file (its struct has only these two); we keep them, after its own, as its newer
        # modifyDockerConfigJSON keeps Docker's: a login must not lose what another tool wrote.
        out.update(extras)
    try:
        compact = go_marshal(out)
    except ValueError:  # a number beyond a double (1e400) read as infinity: JSON cannot hold it
        raise ConfigError(f"cannot update credential file {path}: a field holds a number too large to write "
                          f"back (beyond a double); edit the file", context={"path": path}) from None
    data = _go_indent(compact)
    # The temporary file is a locked staging file beside the auth file (fsutil.Staging): one that a
    # kill -9 left, holding credentials, is removed by the next login or logout instead of staying
    # for good (it would outlive a logout). It is created 0600, as the auth file is written.
    from trustcopy.fsutil import make_staging_file  # only login/logout write

    staging = None
    try:
        staging, fd = make_staging_file(path)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(staging.path, path)
    except OSError as exc:
        if staging is not None:
            with contextlib.suppress(OSError):
                os.unlink(staging.path)
        raise ConfigError(f"cannot write credential file {path}: {exc.strerror or exc}", code="file-unwritable",
                          context={"path": path}) from exc
    finally:
        if staging is not None:
            staging.release()
    return path


def _file_helpers(doc: dict[str, Any]) -> dict[str, Any]:
    helpers = doc.get("credHelpers")
    return helpers if isinstance(helpers, dict) else {}


def _store_payload(key: str, username: str, password: str) -> bytes:
    return json.dumps({"ServerURL": key, "Username": username, "Secret": password}).encode()


def _store_in_helper(helper: str, key: str, username: str, password: str) -> None:
    """``docker-credential-HELPER store``; any failure, "credentials not found" included, is one
    (docker-credential-helpers' client.Store, as containers/image uses it).

    Raises:
        ConfigError: the helper failed.
    """
    if _run_helper(helper, "store", _store_payload(key, username, password)) is None:
        raise ConfigError(f"credential helper docker-credential-{helper} failed to store credentials for {key}")


def set_credentials(sys: SystemContext | None, key: str, username: str, password: str) -> str:
    """Store ``username:password`` for ``key`` in the primary auth file; return where they went.

    A ``credHelpers`` entry of the file for ``key`` sends them to that helper instead (the
    file is not rewritten), as containers/image's SetCredentials does: the result is then
    "credential helper: NAME".
    """
    namespaced = validate_key(key)
    key = compat_key(sys, key)
    where = ""

    def edit(doc: dict[str, Any]) -> bool:
        """Set the entry, or hand it to the credential helper the file names for ``key``."""
        nonlocal where
        helpers = _file_helpers(doc)
        if key in helpers:
            helper = str(helpers[key])
            if namespaced:
                raise ConfigError(f"namespaced key is not supported for credential helper {helper}")
            _store_in_helper(helper, key, username, password)
            where = f"credential helper: {helper}"
            return False
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        doc["auths"][key] = {"auth": token}
        return True

    path = _modify(sys, edit)
    return where or path


def remove_credentials(sys: SystemContext | None, key: str) -> bool:
    """Remove ``key`` from the primary auth file (and from the helper its ``credHelpers`` names
    for ``key``); return whether it was in either.

    Raises:
        ConfigError: that helper failed (other than "not found"); the file is then left as it was.
    """
    namespaced = validate_key(key)
    key = compat_key(sys, key)
    removed = False

    def edit(doc: dict[str, Any]) -> bool:
        """Drop the entry; the file is written back even without it, as containers/image does
        (a missing file is created, a hand-edited one rewritten as it writes auth files)."""
        nonlocal removed
        helpers = _file_helpers(doc)
        # c/i never asks a helper about a namespace; "not found" there is not logged in.
        # NOTE(go-diff): that is what containers/image's RemoveAuthentication means, but its
        # check never matches the error docker-credential-helpers' client wraps the answer in,
        # so it fails (writing nothing); we do what it means.
        if key in helpers and not namespaced and _run_helper(str(helpers[key]), "erase", key.encode()) is not None:
            removed = True
        if key in doc["auths"]:
            del doc["auths"][key]
            removed = True
        return True

    _modify(sys, edit)
    return removed


def remove_all_credentials(sys: SystemContext | None) -> str:
    """Empty ``auths`` and ``credHelpers`` of the primary auth file, erasing first what each
    ``credHelpers`` helper holds for its registry; return the file's path.

    Raises:
        ConfigError: one of those helpers failed (the file is then left as it was).
    """

    def edit(doc: dict[str, Any]) -> bool:
        """Empty the file's credentials."""
        for registry, helper in _file_helpers(doc).items():
            # NOTE(go-diff): a helper answering "credentials not found" holds nothing to erase.
            # containers/image fails then (and leaves every credential in the file): its check
            # for that answer never matches the error docker-credential-helpers' client wraps it in.
            _run_helper(str(helper), "erase", str(registry).encode())
        doc["auths"] = {}
        doc.pop("credHelpers", None)
        return True

    return _modify(sys, edit)


def _external_key(helper: str, key: str) -> str:
    """The registry host a helper stores ``key`` under; helpers know no namespaces (as c/i)."""
    if "/" in key:
        raise ConfigError(f"credential helper docker-credential-{helper} cannot store credentials for a "
                          f"namespace ({key}): log into the registry host instead")
    return key


def store_credentials(sys: SystemContext | None, key: str, username: str, password: str,
                      helpers: tuple[str, ...] = ()) -> str:
    """``login``: store in the first of registries.conf's ``credential-helpers`` that takes them.

    ``containers-auth.json`` (the default) is the primary auth file; another NAME is
    ``docker-credential-NAME store``. Returns where they went (a path, or "credential
    helper: NAME"), as skopeo reports it.

    Raises:
        ConfigError: no helper took them (every failure named).
    """
    validate_key(key)
    failures: list[ConfigError] = []
    for helper in helpers or (AUTH_FILES_HELPER,):
        try:
            if helper == AUTH_FILES_HELPER:
                return set_credentials(sys, key, username, password)
            _store_in_helper(helper, _external_key(helper, key), username, password)
            return f"credential helper: {helper}"
        except ConfigError as exc:
            failures.append(exc)
    raise _combined(failures, "storing", key)


def erase_credentials(sys: SystemContext | None, key: str, helpers: tuple[str, ...] = ()) -> bool:
    """``logout``: remove ``key`` from every listed helper; whether any of them had it.

    Raises:
        ConfigError: a helper failed (other than "not found").
    """
    validate_key(key)
    found = False
    failures: list[ConfigError] = []
    for helper in helpers or (AUTH_FILES_HELPER,):
        try:
            if helper == AUTH_FILES_HELPER:
                found = remove_credentials(sys, key) or found
            elif "/" not in key:  # a namespace is never in a helper (c/i skips it the same way)
                found = _run_helper(helper, "erase", key.encode()) is not None or found
        except ConfigError as exc:
            failures.append(exc)
    if failures:
        raise _combined(failures, "removing", key)
    return found


def erase_all_credentials(sys: SystemContext | None, helpers: tuple[str, ...] = ()) -> str:
    """``logout --all``: empty the auth file and erase what each listed helper holds; describe where.

    Raises:
        ConfigError: a helper failed, or listed something that is not a JSON object.
    """
    places: list[str] = []
    failures: list[ConfigError] = []
    for helper in helpers or (AUTH_FILES_HELPER,):
        try:
            if helper == AUTH_FILES_HELPER:
                places.append(remove_all_credentials(sys))
                continue
            try:
                listed = _run_helper(helper, "list", b"") or b"{}"
            except _HelperMissingError:
                log.debug("credential helper docker-credential-%s is not installed: nothing to erase", helper)
                continue  # as c/i's RemoveAllAuthentication: a helper that does not exist holds nothing
            try:
                servers = limits.load_json(listed, f"docker-credential-{helper} list")
            except (ValueError, RecursionError, LimitExceededError):
                servers = None
            if not isinstance(servers, dict):
                raise ConfigError(f"credential helper docker-credential-{helper} listed malformed output")
            for server in servers:
                _run_helper(helper, "erase", str(server).encode())
            places.append(f"credential helper: {helper}")
        except ConfigError as exc:  # as c/i: every helper is still emptied, then all failures are reported
            failures.append(exc)
    if failures:
        raise _combined(failures, "removing", "all registries")
    return ", ".join(places)


def _make_private_dirs(directory: str) -> None:
    """Go's ``os.MkdirAll(dir, 0o700)``: every directory created, not only the last, is 0700.

    (``os.makedirs(mode=)`` gives the mode to the leaf only; the others got the umask's
    default, 0755, where skopeo makes them private.)
    """
    parent = os.path.dirname(directory)
    if parent != directory and not os.path.isdir(parent):
        _make_private_dirs(parent)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise
