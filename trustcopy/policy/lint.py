"""``trustcopy policy lint``: the strict parser, the JSON Schema, and semantic warnings.

Errors come from the parser (the authority) and from the JSON Schema shipped as
``trustcopy/data/policy.schema.json`` (identical to ``policies/policy.schema.json``); a
policy with any error is unusable. Warnings flag policies that load but probably do not
do what their author meant: key files that are missing or hold no keys (GPG keys imported
into a throw-away keyring; sigstore keys, Rekor keys and Fulcio/PKI CA certificates, files
or inline data, parsed as verification parses them), scopes that can never match, a
default that accepts anything, ``reject`` mixed with other requirements, identity rules
that cannot work for the transport, requirements that always reject in this build. Keep
in sync with docs/policy.md ("policy lint").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from trustcopy.errors import LimitExceededError, PolicyError
from trustcopy.lazy import dataclass
from trustcopy.limits import MAX_KEY_FILE, MAX_POLICY_FILE, load_json, read_file_at_most
from trustcopy.policy.identity import IdentityMatcher, RemapIdentity
from trustcopy.policy.model import PathPart, Policy, Requirement
from trustcopy.policy.parse import parse_policy, refuse_json_constant
from trustcopy.policy.requirements import InsecureAcceptAnything, Reject, SignedBaseLayer, SignedBy
from trustcopy.policy.scopes import format_path, transport_for_scopes
from trustcopy.policy.sigstore_requirement import SigstoreSigned

#: Transports whose references never carry a Docker identity (c/i DockerReference() == nil).
NO_DOCKER_IDENTITY = frozenset({"dir", "oci", "oci-archive", "tarball"})
#: Transports whose scopes are filesystem paths resolved without symlinks.
PATH_TRANSPORTS = frozenset({"dir", "oci", "oci-archive"})


@dataclass(frozen=True)
class Finding:
    """One lint result: ``severity`` is ``error`` or ``warning``; ``code`` is stable."""

    severity: str
    code: str
    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        """Machine form."""
        return {"severity": self.severity, "code": self.code, "path": self.path, "message": self.message}


@dataclass
class LintReport:
    """Everything lint found about one policy file."""

    source: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        """Findings that make the policy unusable."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings about a usable but suspicious policy."""
        return [f for f in self.findings if f.severity == "warning"]

    def exit_status(self, *, strict: bool) -> int:
        """0 clean; 1 with errors (or, with ``strict``, warnings)."""
        return 1 if self.errors or (strict and self.warnings) else 0

    def to_json(self) -> dict[str, Any]:
        """Machine form."""
        return {"policy": self.source, "errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [f.to_json() for f in self.findings]}


def load_schema() -> dict[str, Any]:
    """The JSON Schema shipped with trustcopy (package data)."""
    from importlib.resources import files

    return json.loads(files("trustcopy").joinpath("data/policy.schema.json").read_text(encoding="utf-8"))


def schema_findings(data: bytes) -> list[Finding]:
    """Validate ``data`` against the JSON Schema (nothing when it is not JSON at all)."""
    import jsonschema

    try:
        document = _json_document(data)
    except (ValueError, LimitExceededError):
        return []  # not JSON by the parser's rules: its one error says why, the schema adds nothing
    validator = jsonschema.Draft202012Validator(load_schema())
    out = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        best = jsonschema.exceptions.best_match([error])
        out.append(Finding("error", "schema", format_path(list(best.absolute_path)), best.message))
    return out


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _json_document(data: bytes) -> Any:
    """``data`` read with the parser's JSON rules (parse.py), so the schema judges only what the parser read.

    Python's reader is more lenient: it turns ``NaN``/``Infinity`` into floats, keeps lone
    surrogate escapes, keeps the last of duplicated keys and skips a byte-order mark. The
    schema would then report the parser's one JSON fault a second time, about a value that
    is not in the file (``nan is not of type 'array'``).

    Raises:
        ValueError: not JSON by those rules. LimitExceededError: nested too deeply.
    """
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        raise ValueError("byte-order mark")
    document = load_json(text, "policy", object_pairs_hook=_unique_pairs, parse_constant=refuse_json_constant)
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError: a lone surrogate somewhere
    return document


def _implicit_identities(data: bytes) -> frozenset[tuple[PathPart, ...]]:
    """Paths of the ``sigstoreSigned`` requirements that do not set ``signedIdentity`` (of a parsed policy)."""
    document = _json_document(data)
    sections: list[tuple[tuple[PathPart, ...], Any]] = [(("default",), document.get("default"))]
    for name, scopes in (document.get("transports") or {}).items():
        sections += [(("transports", name, scope), reqs) for scope, reqs in scopes.items()]
    return frozenset((*base, index) for base, reqs in sections for index, req in enumerate(reqs or ())
                     if req.get("type") == "sigstoreSigned" and "signedIdentity" not in req)


def lint_policy_bytes(data: bytes, source: str) -> LintReport:
    """Lint policy.json contents (``source`` names it in messages)."""
    report = LintReport(source)
    policy: Policy | None = None
    try:
        policy = parse_policy(data, source=source, quiet=True)  # its warnings are findings here
    except PolicyError as exc:
        where = str(exc.context.get("path", "(top level)"))
        detail = exc.message.split(f": at {where}: ", 1)[-1] if "path" in exc.context else exc.message
        report.findings.append(Finding("error", "parse", where, detail))
    report.findings.extend(schema_findings(data))
    if policy is not None:
        report.findings.extend(semantic_findings(policy, implicit_identity=_implicit_identities(data)))
    return report


def lint_policy_file(path: str) -> LintReport:
    """Lint a policy file; an unreadable file is an error finding."""
    try:
        data = read_file_at_most(path, MAX_POLICY_FILE, f"policy file {path}", allow_fifo=True)
    except (OSError, PolicyError) as exc:
        report = LintReport(path)
        reason = getattr(exc, "strerror", None) or str(exc)
        report.findings.append(Finding("error", "unreadable", "(top level)", f"cannot read policy {path!r}: {reason}"))
        return report
    except Exception as exc:  # LimitExceededError and friends carry a message  # noqa: BLE001
        report = LintReport(path)
        report.findings.append(Finding("error", "unreadable", "(top level)", str(exc)))
        return report
    return lint_policy_bytes(data, path)


def _sections(policy: Policy) -> Iterator[tuple[str | None, str | None, tuple[Requirement, ...]]]:
    yield None, None, policy.default
    for name, scopes in policy.transports.items():
        for scope, reqs in scopes.scopes.items():
            yield name, scope, reqs


def _base(transport: str | None, scope: str | None) -> tuple[PathPart, ...]:
    return ("default",) if transport is None or scope is None else ("transports", transport, scope)


def semantic_findings(policy: Policy, *,
                      implicit_identity: frozenset[tuple[PathPart, ...]] | None = None) -> list[Finding]:
    """Warnings about a policy that parsed; see the module docstring.

    Args:
        implicit_identity: the paths of the ``sigstoreSigned`` requirements whose
            ``signedIdentity`` the file leaves to its default; None (no file text) counts every
            ``matchRepoDigestOrExact`` as the default.
    """
    out: list[Finding] = []

    def warn(code: str, parts: tuple[PathPart, ...], message: str) -> None:
        out.append(Finding("warning", code, format_path(parts), message))

    if any(isinstance(r, InsecureAcceptAnything) for r in policy.default) and not any(
        r.verifies_signatures or isinstance(r, Reject) for r in policy.default  # reject-mixed says that one
    ):
        warn("default-accepts-anything", ("default",),
             "the global default accepts any image without verification; prefer [{\"type\": \"reject\"}] "
             "and allow what you need explicitly")
    from trustcopy.transports.alltransports import get_transport

    for name in policy.transports:
        if get_transport(name) is None:
            warn("unknown-transport", ("transports", name),
                 f"there is no {name!r} transport in this build of trustcopy: these scopes never apply here"
                 + ("" if transport_for_scopes(name) is not None else ", and they are not validated"))
    for transport, scope, reqs in _sections(policy):
        base = _base(transport, scope)
        if transport is not None and scope:
            out.extend(_scope_findings(transport, scope, base))
        if len(reqs) > 1 and any(isinstance(r, Reject) for r in reqs):
            warn("reject-mixed", base, "reject refuses every image, so the other requirements here have no effect")
        for index, req in enumerate(reqs):
            out.extend(_requirement_findings(transport, scope, req, (*base, index)))
            if _cosign_signatures_rejected(policy, transport, scope, req, (*base, index), implicit_identity):
                warn("identity-rejects-cosign", (*base, index), COSIGN_IDENTITY_WARNING)
    return out


#: The ``identity-rejects-cosign`` warning (docs/policy.md, "sigstoreSigned").
COSIGN_IDENTITY_WARNING = (
    "signedIdentity is not set, so the default matchRepoDigestOrExact applies: it needs a signature naming the "
    "image's tag (only an image named by digest accepts a repository), and cosign's signatures name only the "
    "repository, so cosign-signed images copied by tag will be rejected; for cosign signatures use "
    '"signedIdentity": {"type": "matchRepository"} (or {"type": "exactRepository", "dockerRepository": "…"} '
    "to accept one repository's signatures); if your signatures name the tag (skopeo or trustcopy "
    '--sign-by-sigstore-private-key), write "signedIdentity": {"type": "matchRepoDigestOrExact"} to say so'
)


def _cosign_signatures_rejected(policy: Policy, transport: str | None, scope: str | None, req: Requirement,
                                parts: tuple[PathPart, ...],
                                implicit_identity: frozenset[tuple[PathPart, ...]] | None) -> bool:
    """A ``sigstoreSigned`` left at the default identity where registry images named by tag are judged.

    Only ``docker:`` images carry cosign attachments (archives and the daemon hold no
    signatures; ``dir:``/``oci:`` get ``identity-needs-docker-reference``): a ``docker`` scope
    that is not a digest, or the global default unless the ``docker`` transport has its own.
    """
    from trustcopy.policy.identity import MatchRepoDigestOrExact
    from trustcopy.signature import sigstore

    if not (isinstance(req, SigstoreSigned) and isinstance(req.signed_identity, MatchRepoDigestOrExact)
            and sigstore.VERIFICATION_IMPLEMENTED):
        return False
    if implicit_identity is not None and parts not in implicit_identity:
        return False  # the author wrote matchRepoDigestOrExact: a choice, not an oversight
    if transport is None:
        docker = policy.transports.get("docker")
        return docker is None or "" not in docker.scopes
    return transport == "docker" and "@" not in (scope or "")


def _scope_findings(transport: str, scope: str, base: tuple[PathPart, ...]) -> list[Finding]:
    out: list[Finding] = []
    where = format_path(base)
    handler = transport_for_scopes(transport)
    problem = handler.policy_configuration_scope_warning(scope) if handler is not None and scope else None
    if problem is not None:
        out.append(Finding("warning", "scope-never-matches", where,
                           f"{problem}; this scope never matches any image (containers/image loads it and "
                           f"ignores it too)"))
    elif transport == "oci" and ":" in scope:
        out.append(Finding("warning", "scope-never-matches", where,
                           f"oci: scopes are directories; the image name after ':' is not part of an image's "
                           f"identity (as in containers/image), so this scope never matches; use "
                           f"{scope.split(':', 1)[0]!r} for the whole layout"))
    elif transport in PATH_TRANSPORTS and scope.startswith("/") and os.path.lexists(scope):
        real = os.path.realpath(scope)
        if real != scope:
            out.append(Finding("warning", "scope-never-matches", where,
                               f"the path contains a symbolic link; images are matched by their resolved path, "
                               f"so this scope never matches; use {real!r}"))
    return out


def _identity_of(req: Requirement) -> IdentityMatcher | None:
    if isinstance(req, (SignedBy, SigstoreSigned)):
        return req.signed_identity
    if isinstance(req, SignedBaseLayer):
        return req.base_layer_identity
    return None


def _requirement_findings(
    transport: str | None, scope: str | None, req: Requirement, parts: tuple[PathPart, ...]
) -> list[Finding]:
    out: list[Finding] = []

    def warn(code: str, message: str, *sub: PathPart) -> None:
        out.append(Finding("warning", code, format_path((*parts, *sub)), message))

    identity = _identity_of(req)
    if identity is not None and transport in NO_DOCKER_IDENTITY and identity.needs_docker_identity:
        warn("identity-needs-docker-reference",
             f"{transport}: images have no Docker reference, so {identity.type_name} always rejects them; "
             "use exactReference or exactRepository")
    remap_checked = transport in ("docker", "atomic") and bool(scope) and not str(scope).startswith("*.")
    if isinstance(identity, RemapIdentity) and remap_checked and scope:
        repo = scope.split("@", 1)[0]
        if ":" in repo.rsplit("/", 1)[-1] and "/" in repo:
            repo = repo.rsplit(":", 1)[0]
        if not (_under(repo, identity.prefix) or _under(identity.prefix, repo)):
            warn("remap-prefix-outside-scope",
                 f"prefix {identity.prefix!r} never applies to images in scope {scope!r}, so no remapping happens",
                 "signedIdentity", "prefix")
    if isinstance(req, SignedBaseLayer):
        warn("always-rejects",
             "signedBaseLayer is not implemented (here or in containers/image): it rejects every image")
    if isinstance(req, SignedBy):
        if req.key_type != "GPGKeys":
            warn("key-type-unimplemented",
                 f'keyType "{req.key_type}" is not implemented (here or in containers/image): this requirement '
                 'rejects every signature; use "GPGKeys"', "keyType")
        out.extend(_key_findings(req, parts))
    if isinstance(req, SigstoreSigned):
        from trustcopy.signature import sigstore

        if not sigstore.VERIFICATION_IMPLEMENTED:
            warn("always-rejects", "sigstore signature verification is not available in this build: "
                 "sigstoreSigned rejects every image")
        else:
            out.extend(_sigstore_findings(req, parts))
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + "/")


def _file_findings(path: str, parts: tuple[PathPart, ...]) -> tuple[list[Finding], bytes | None]:
    """Read a key file named by the policy as verification reads it: (warnings, its bytes or None).

    Bounded, and never blocking: a FIFO, a device or a directory is refused without being
    opened for reading (read_file_at_most), as evaluation refuses it, so lint cannot hang
    on a key path however hostile; a 10 GB file is refused by its size.
    """
    where = format_path(parts)
    out = []
    if not os.path.isabs(path):
        out.append(Finding("warning", "relative-key-path", where,
                           f"{path!r} is relative: it is resolved against the current directory at run time"))
    try:
        return out, read_file_at_most(path, MAX_KEY_FILE, f"key file {path}")
    except FileNotFoundError:
        out.append(Finding("warning", "key-file-missing", where, f"{path!r} does not exist: every signature will be "
                           "rejected"))
    except OSError as exc:
        out.append(Finding("warning", "key-file-unreadable", where,
                           f"{path!r} cannot be read ({exc.strerror or exc}): every signature will be rejected"))
    except LimitExceededError as exc:
        out.append(Finding("warning", "key-file-unreadable", where,
                           f"{exc.message}: every signature will be rejected"))
    return out, None


def _sigstore_sources(req: SigstoreSigned) -> Iterator[tuple[str, tuple[PathPart, ...], str | None, bytes | None]]:
    """Every key or certificate file/data of a sigstoreSigned requirement: (kind, field path, path, data).

    ``kind`` says how verification parses it: ``key`` (a PEM public key), ``rekor`` (an
    ECDSA PEM public key) or ``certs`` (PEM certificates).
    """
    if req.key_path is not None:
        yield "key", ("keyPath",), req.key_path, None
    for i, path in enumerate(req.key_paths or ()):
        yield "key", ("keyPaths", i), path, None
    if req.key_data is not None:
        yield "key", ("keyData",), None, req.key_data
    for i, data in enumerate(req.key_datas or ()):
        yield "key", ("keyDatas", i), None, data
    if req.rekor_public_key_path is not None:
        yield "rekor", ("rekorPublicKeyPath",), req.rekor_public_key_path, None
    for i, path in enumerate(req.rekor_public_key_paths or ()):
        yield "rekor", ("rekorPublicKeyPaths", i), path, None
    if req.rekor_public_key_data is not None:
        yield "rekor", ("rekorPublicKeyData",), None, req.rekor_public_key_data
    for i, data in enumerate(req.rekor_public_key_datas or ()):
        yield "rekor", ("rekorPublicKeyDatas", i), None, data
    if (fulcio := req.fulcio) is not None:
        if fulcio.ca_path is not None:
            yield "certs", ("fulcio", "caPath"), fulcio.ca_path, None
        if fulcio.ca_data is not None:
            yield "certs", ("fulcio", "caData"), None, fulcio.ca_data
    if (pki := req.pki) is not None:
        pki_sources: tuple[tuple[str, str | None, bytes | None], ...] = (
            ("caRoots", pki.ca_roots_path, pki.ca_roots_data),
            ("caIntermediates", pki.ca_intermediates_path, pki.ca_intermediates_data))
        for name, pki_path, pki_data in pki_sources:
            if pki_path is not None:
                yield "certs", ("pki", f"{name}Path"), pki_path, None
            if pki_data is not None:
                yield "certs", ("pki", f"{name}Data"), None, pki_data


def _sigstore_findings(req: SigstoreSigned, parts: tuple[PathPart, ...]) -> list[Finding]:
    """Each key, Rekor key and CA file or data parsed as verification parses it (PolicyContext)."""
    from trustcopy.errors import SignatureError
    from trustcopy.signature.sigstore_keys import load_public_key
    from trustcopy.signature.sigstore_rekor import load_rekor_keys
    from trustcopy.signature.sigstore_x509 import load_roots

    out: list[Finding] = []
    for kind, sub, path, inline in _sigstore_sources(req):
        where = (*parts, *sub)
        data = inline
        if path is not None:
            problems, data = _file_findings(path, where)
            out.extend(problems)
        if data is None:
            continue
        name = path or format_path(sub)
        try:
            if kind == "key":
                load_public_key(data, name)
            elif kind == "rekor":
                load_rekor_keys([data], [name])
            else:
                load_roots(data, name)
        except SignatureError as exc:
            expected = "PEM certificates" if kind == "certs" else "a PEM public key"
            hint = ("; it looks like an OpenPGP key, which signedBy uses" if kind == "key" and _looks_like_openpgp(data)
                    else "")
            out.append(Finding("warning", "key-invalid", format_path(where),
                               f"{exc.message} (expected {expected}){hint}: every signature will be rejected"))
    return out


def _looks_like_openpgp(data: bytes) -> bool:
    """An armored or binary OpenPGP public key (its first packet a public key: tag 6), for a hint only."""
    head = data.lstrip()[:64]
    return head.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") or (
        bool(head) and head[0] in (0x99, 0x98, 0xC6))


def _looks_like_pem_public_key(data: bytes) -> bool:
    """A PEM public key (a cosign/sigstore key), for a hint only."""
    return data.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----")


def _key_findings(req: SignedBy, parts: tuple[PathPart, ...]) -> list[Finding]:
    out: list[Finding] = []
    sources: list[tuple[tuple[PathPart, ...], str | None, bytes | None]] = []
    if req.key_path is not None:
        sources.append(((*parts, "keyPath"), req.key_path, None))
    for i, path in enumerate(req.key_paths or ()):
        sources.append(((*parts, "keyPaths", i), path, None))
    if req.key_data is not None:
        sources.append(((*parts, "keyData"), None, req.key_data))
    for sub, key_file, inline in sources:
        data = inline
        if key_file is not None:
            problems, data = _file_findings(key_file, sub)
            out.extend(problems)
            if data is None:
                continue
        message = _gpg_key_problem(data or b"")
        if message and _looks_like_pem_public_key(data or b""):
            message += "; it is a PEM public key (a sigstore/cosign key), which sigstoreSigned uses"
        if message:
            out.append(Finding("warning", "no-public-keys", format_path(sub),
                               f"{key_file!r} {message}" if key_file is not None else message))
    return out


def _gpg_key_problem(data: bytes) -> str | None:
    """Why ``data`` holds no usable public key, or None (also None when gpg is unavailable)."""
    import shutil

    if shutil.which("gpg") is None:
        return None
    from trustcopy.errors import SignatureError
    from trustcopy.signature.gpg import GPGKeyring

    try:
        with GPGKeyring([data]) as keyring:
            return None if keyring.fingerprints else "holds no public keys"
    except SignatureError as exc:
        return f"holds no usable public keys: {exc.message}"
