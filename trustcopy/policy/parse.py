"""policy.json → :class:`~trustcopy.policy.model.Policy`, strictly.

The one way in (DESIGN rule 2). Anything unexpected refuses the *whole* file with a
:class:`~trustcopy.errors.PolicyError` that names the file and the JSON path of the fault
(``transports.docker["example.com/x"][1].keyPath``; ``context`` also has the RFC 6901
pointer): unknown or duplicated keys at any depth, wrong JSON types (``null`` included:
Go reads it as "not set", so containers/image loads ``"keyPaths": [null]``),
a missing or empty ``default``, empty lists, unknown ``type`` values, invalid scopes,
identities, prefixes or base64, ``NaN``/``Infinity``, invalid UTF-8, a byte-order mark,
and trailing data after the JSON value. A scope its transport accepts but that can never
match (a ``docker`` scope that is not fully expanded: containers/image loads those too) is
logged as a warning naming the file and the scope. Values are checked by the same constructors the
Python API uses (model.py, identity.py, requirements.py), so both refuse the same things.

A policy that cannot be read or parsed is an error, never an empty or permissive policy.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from trustcopy.errors import LimitExceededError, PolicyError
from trustcopy.limits import MAX_POLICY_FILE, load_json, read_file_at_most
from trustcopy.policy.identity import IDENTITY_TYPES, IdentityMatcher, MatchRepoDigestOrExact
from trustcopy.policy.model import PathPart, Policy, PolicySpecError, Requirement
from trustcopy.policy.requirements import InsecureAcceptAnything, Reject, SignedBaseLayer, SignedBy
from trustcopy.policy.scopes import TransportLookup, format_path, json_pointer, transport_for_scopes

Path = tuple[PathPart, ...]
log = logging.getLogger("trustcopy.policy")


class _Fault(Exception):
    """A fault at ``path``; converted to PolicyError once, at the top."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its raw (key, value) pairs, so duplicates survive until checked."""


def _json_type(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _object(value: Any, path: Path, allowed: tuple[str, ...]) -> dict[str, Any]:
    """An object with no duplicate and only ``allowed`` keys (in document order)."""
    if not isinstance(value, _Pairs):
        raise _Fault(f"expected a JSON object, got {_json_type(value)}", path)
    out: dict[str, Any] = {}
    for key, member in value:
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise _Fault("a key contains an invalid Unicode escape (lone surrogate)", path) from None
        if key in out:
            raise _Fault(f"duplicate key {key!r}", (*path, key))
        if allowed and key not in allowed:
            raise _Fault(f"unknown field {key!r} (expected one of: {', '.join(allowed)})", (*path, key))
        out[key] = member
    return out


def _map(value: Any, path: Path) -> dict[str, Any]:
    """An object with arbitrary (but unique) keys."""
    return _object(value, path, ())


def _string(value: Any, path: Path) -> str:
    if not isinstance(value, str):
        raise _Fault(f"expected a string, got {_json_type(value)}", path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Fault("string contains an invalid Unicode escape (lone surrogate)", path) from None
    return value


def _array(value: Any, path: Path) -> list[Any]:
    if not isinstance(value, list) or isinstance(value, _Pairs):
        raise _Fault(f"expected a JSON array, got {_json_type(value)}", path)
    return value


def _strings(value: Any, path: Path) -> tuple[str, ...]:
    return tuple(_string(v, (*path, i)) for i, v in enumerate(_array(value, path)))


def _base64(value: Any, path: Path) -> bytes:
    """Go ``[]byte`` JSON: standard base64 with padding (CR/LF ignored, as Go does).

    Only the string form: Go's decoder also reads a JSON array of numbers 0-255 (``[]``
    included) into a ``[]byte``, so containers/image loads ``"keyData": []``; nobody writes
    key material that way, and refusing it is one of the "refuses more" differences.
    Padding is checked first: ``b64decode`` takes ``=`` after a complete 4-character quantum
    (``YWJj=``, ``AAAA====``), which Go's decoder refuses.
    """
    text = _string(value, path).replace("\r", "").replace("\n", "")
    data = text.rstrip("=")
    if len(text) % 4 or len(text) - len(data) > 2 or "=" in data:
        raise _Fault("invalid base64 data", path)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Fault("invalid base64 data", path) from None


def _base64s(value: Any, path: Path) -> tuple[bytes, ...]:
    return tuple(_base64(v, (*path, i)) for i, v in enumerate(_array(value, path)))


def _build(path: Path, factory: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return factory(**kwargs)
    except PolicySpecError as exc:
        raise _Fault(exc.message, (*path, *exc.path)) from None


def _typed(value: Any, path: Path, kinds: str) -> tuple[dict[str, Any], str]:
    """Read the ``type`` member first, as containers/image does."""
    if not isinstance(value, _Pairs):
        raise _Fault(f"expected a JSON object, got {_json_type(value)}", path)
    obj = _map(value, path)
    if "type" not in obj:
        raise _Fault(f"missing required field \"type\" ({kinds})", (*path, "type"))
    return obj, _string(obj["type"], (*path, "type"))


def parse_identity_matcher(value: Any, path: Path) -> IdentityMatcher:
    """A ``signedIdentity``/``baseLayerIdentity`` object."""
    obj, kind = _typed(value, path, "policy reference match")
    cls = IDENTITY_TYPES.get(kind)
    if cls is None:
        raise _Fault(f"unknown policy reference match type {kind!r} (expected one of: {', '.join(IDENTITY_TYPES)})",
                     (*path, "type"))
    fields = {"exactReference": ("dockerReference",), "exactRepository": ("dockerRepository",),
              "remapIdentity": ("prefix", "signedPrefix")}.get(kind, ())
    obj = _object(value, path, ("type", *fields))
    for name in fields:
        if name not in obj:
            raise _Fault(f"missing required field {name!r}", (*path, name))
    args = {_snake(name): _string(obj[name], (*path, name)) for name in fields}
    return _build(path, cls, **args)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _signed_by(value: Any, path: Path) -> Requirement:
    obj = _object(value, path, ("type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"))
    if "keyType" not in obj:
        raise _Fault("missing required field \"keyType\" (use \"GPGKeys\")", (*path, "keyType"))
    args: dict[str, Any] = {"key_type": _string(obj["keyType"], (*path, "keyType"))}
    if "keyPath" in obj:
        args["key_path"] = _string(obj["keyPath"], (*path, "keyPath"))
    if "keyPaths" in obj:
        args["key_paths"] = _strings(obj["keyPaths"], (*path, "keyPaths"))
    if "keyData" in obj:
        args["key_data"] = _base64(obj["keyData"], (*path, "keyData"))
    args["signed_identity"] = _identity_member(obj, path, "signedIdentity")
    return _build(path, SignedBy, **args)


def _identity_member(obj: dict[str, Any], path: Path, name: str) -> IdentityMatcher:
    if name not in obj:
        return MatchRepoDigestOrExact()
    return parse_identity_matcher(obj[name], (*path, name))


_SIGSTORE_FIELDS: dict[str, Callable[[Any, Path], Any]] = {
    "keyPath": _string, "keyPaths": _strings, "keyData": _base64, "keyDatas": _base64s,
    "rekorPublicKeyPath": _string, "rekorPublicKeyPaths": _strings,
    "rekorPublicKeyData": _base64, "rekorPublicKeyDatas": _base64s,
}
_FULCIO_FIELDS: dict[str, Callable[[Any, Path], Any]] = {
    "caPath": _string, "caData": _base64, "oidcIssuer": _string, "subjectEmail": _string,
}
_PKI_FIELDS: dict[str, Callable[[Any, Path], Any]] = {
    "caRootsPath": _string, "caRootsData": _base64, "caIntermediatesPath": _string,
    "caIntermediatesData": _base64, "subjectEmail": _string, "subjectHostname": _string,
}


def _fields(obj: dict[str, Any], path: Path, readers: dict[str, Callable[[Any, Path], Any]]) -> dict[str, Any]:
    return {_snake(name): reader(obj[name], (*path, name)) for name, reader in readers.items() if name in obj}


def _sigstore(value: Any, path: Path) -> Requirement:
    # Imported here: most policies have no sigstoreSigned, and every copy loads a policy.
    from trustcopy.policy.sigstore_requirement import FulcioSpec, PKISpec, SigstoreSigned

    obj = _object(value, path, ("type", *_SIGSTORE_FIELDS, "fulcio", "pki", "signedIdentity"))
    args = _fields(obj, path, _SIGSTORE_FIELDS)
    if "fulcio" in obj:
        sub = (*path, "fulcio")
        args["fulcio"] = _build(sub, FulcioSpec, **_fields(_object(obj["fulcio"], sub, tuple(_FULCIO_FIELDS)),
                                                           sub, _FULCIO_FIELDS))
    if "pki" in obj:
        sub = (*path, "pki")
        args["pki"] = _build(sub, PKISpec, **_fields(_object(obj["pki"], sub, tuple(_PKI_FIELDS)), sub, _PKI_FIELDS))
    args["signed_identity"] = _identity_member(obj, path, "signedIdentity")
    return _build(path, SigstoreSigned, **args)


def _simple(cls: type[Requirement]) -> Callable[[Any, Path], Requirement]:
    def parse(value: Any, path: Path) -> Requirement:
        _object(value, path, ("type",))
        return cls()

    return parse


def _base_layer(value: Any, path: Path) -> Requirement:
    obj = _object(value, path, ("type", "baseLayerIdentity"))
    if "baseLayerIdentity" not in obj:
        raise _Fault("missing required field 'baseLayerIdentity'", (*path, "baseLayerIdentity"))
    identity = parse_identity_matcher(obj["baseLayerIdentity"], (*path, "baseLayerIdentity"))
    return _build(path, SignedBaseLayer, base_layer_identity=identity)


_REQUIREMENT_PARSERS: dict[str, Callable[[Any, Path], Requirement]] = {
    "insecureAcceptAnything": _simple(InsecureAcceptAnything),
    "reject": _simple(Reject),
    "signedBy": _signed_by,
    "sigstoreSigned": _sigstore,
    "signedBaseLayer": _base_layer,
}


def parse_requirement(value: Any, path: Path) -> Requirement:
    """One requirement object."""
    _obj, kind = _typed(value, path, "policy requirement")
    parser = _REQUIREMENT_PARSERS.get(kind)
    if parser is None:
        raise _Fault(f"unknown policy requirement type {kind!r} (expected one of: {', '.join(_REQUIREMENT_PARSERS)})",
                     (*path, "type"))
    return parser(value, path)


def _requirements(value: Any, path: Path) -> tuple[Requirement, ...]:
    items = _array(value, path)
    if not items:
        raise _Fault("the list of requirements must not be empty", path)
    return tuple(parse_requirement(item, (*path, i)) for i, item in enumerate(items))


def _document(root: Any, lookup: TransportLookup | None, warn: Callable[[str, Path], None]) -> Policy:
    top = _object(root, (), ("default", "transports"))
    if "default" not in top:
        raise _Fault("the global \"default\" requirements are missing", ("default",))
    default = _requirements(top["default"], ("default",))
    transports: dict[str, dict[str, tuple[Requirement, ...]]] = {}
    if "transports" in top:
        for name, scopes in _map(top["transports"], ("transports",)).items():
            parsed: dict[str, tuple[Requirement, ...]] = {}
            transport = transport_for_scopes(name, lookup)  # None: a transport this build lacks (lint warns)
            for scope, reqs in _map(scopes, ("transports", name)).items():
                path = ("transports", name, scope)
                if scope and transport is not None:
                    try:
                        transport.validate_policy_configuration_scope(scope)
                    except ValueError as exc:
                        raise _Fault(str(exc), path) from None
                    problem = transport.policy_configuration_scope_warning(scope)
                    if problem is not None:
                        warn(f"{problem}; this scope never matches any image", path)
                parsed[scope] = _requirements(reqs, path)
            transports[name] = parsed
    return _build((), Policy, default=default, transports=transports)


#: Longest value or path an error message repeats: a 50 MB "type" must not become a 50 MB message.
_MAX_ECHO = 300


def _clip(text: str) -> str:
    """``text``, its middle elided when longer than _MAX_ECHO characters."""
    if len(text) <= _MAX_ECHO:
        return text
    half = _MAX_ECHO // 2
    return f"{text[:half]}…({len(text) - 2 * half} characters elided)…{text[-half:]}"


def refuse_json_constant(name: str) -> Any:
    """``NaN``/``Infinity``: Python's reader takes them, JSON (and Go) does not."""
    raise ValueError(f"{name} is not valid JSON")


def parse_policy(data: bytes | str, *, source: str | None = None, transports: TransportLookup | None = None,
                 quiet: bool = False) -> Policy:
    """Parse policy.json contents.

    Args:
        data: the file's bytes (UTF-8) or text.
        source: the file name, used in messages and kept as ``Policy.source``.
        transports: finds the transport whose rules check each scope; this build's
            transport table when None.
        quiet: do not log the warnings about a policy that loads (a scope that never
            matches): ``policy lint`` reports them as findings of its own, once.

    Returns:
        The validated policy.

    Raises:
        PolicyError: any fault; the message names ``source`` and the JSON path.
    """
    where = f"invalid policy in {json.dumps(source)}" if source else "invalid policy"
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{where}: not valid UTF-8 (byte offset {exc.start})", context={"file": source}) from None
    if text.startswith("\ufeff"):
        raise PolicyError(
            f"{where}: starts with a byte-order mark, which JSON does not allow", context={"file": source}
        )
    try:
        root = load_json(text, where, object_pairs_hook=_Pairs, parse_constant=refuse_json_constant)
    except LimitExceededError as exc:
        raise PolicyError(exc.message, context={"file": source}) from None
    except json.JSONDecodeError as exc:
        if not exc.doc.strip(" \t\r\n"):  # JSON's whitespace only
            raise PolicyError(f"{where}: the file is empty", context={"file": source}) from None
        detail = "unexpected data after the JSON value" if exc.msg == "Extra data" else exc.msg
        raise PolicyError(f"{where}: line {exc.lineno} column {exc.colno}: {detail}",
                          context={"file": source, "line": exc.lineno, "column": exc.colno}) from None
    except ValueError as exc:  # NaN, or an integer of more than sys.get_int_max_str_digits() digits
        raise PolicyError(f"{where}: {str(exc).split(';')[0]}", context={"file": source}) from None
    try:
        # A warning, not an error: the policy loads (as in containers/image). It must not
        # read "invalid policy", which a user would take for the reason of a later rejection.
        policy = _document(root, transports, lambda message, path: None if quiet else log.warning(
            "warning: policy %s: at %s: %s", json.dumps(source) if source else "(inline)", format_path(path),
            message))
    except _Fault as fault:
        at = _clip(format_path(fault.path))
        raise PolicyError(
            f"{where}: at {at}: {_clip(fault.message)}",
            context={"file": source, "path": at, "pointer": _clip(json_pointer(fault.path))},
        ) from None
    if source is not None:
        object.__setattr__(policy, "source", source)
    return policy


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse a policy file (bounded read; see limits.MAX_POLICY_FILE).

    Raises:
        PolicyError: the file cannot be read (missing, unreadable, not a regular file,
            too large) or is invalid; nothing is ever accepted in that case.
    """
    name = os.fspath(path)
    try:
        data = read_file_at_most(name, MAX_POLICY_FILE, f"policy file {name}", allow_fifo=True)
    except LimitExceededError as exc:
        raise PolicyError(f"cannot read policy {json.dumps(name)}: {exc.message}", context={"file": name}) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy {json.dumps(name)}: {exc.strerror or exc}", context={"file": name},
                          hint="use --policy to name a policy file") from None
    return parse_policy(data, source=name)
