"""The ``--src yaml`` file of ``sync``: registries, the images to take from each, and how to reach them.

The format is skopeo sync's (man skopeo-sync, "YAML file content")::

    registry.example.com:
      images:                      # repository → tags or digests; [] (or nothing) = every tag
        busybox: []
        redis: ["1.0", "2.0", "sha256:0000…1111"]
      images-by-tag-regex:         # repository → regular expression (Go/RE2 syntax, unanchored)
        nginx: ^1\\.13\\.[12]-alpine-perl$
      images-by-semver:            # repository → Masterminds/semver constraint
        alpine: ">= 3.12, < 4"
      credentials: {username: john, password: this is a secret}
      tls-verify: true             # overrides --src-tls-verify only when present
      cert-dir: /home/john/certs

Reading (bounded and strict about what matters, as skopeo is lenient only by accident):

- The file is read with the loader registries.d uses (size cap, no duplicate keys, alias
  expansion bounded); scalars stay the text written, so the tag ``1.10`` is "1.10", as Go's
  yaml.v2 reads it into a string, not the number 1.1.
- An unknown key (``image:``, ``tls_verify:``) is a *warning* naming the file, registry
  and key: skopeo ignores it silently, and a typo there silently drops images.
- A value of the wrong type, a repository name that does not parse, a tag or digest that
  is neither, a regex RE2 refuses and a semver constraint Masterminds refuses are each a
  *problem of that entry* (the registry, or one repository of it): reported for that
  entry, while the other entries go on (skopeo logs and skips most of these, and fails
  the whole file for type errors). A problem of the registry's own settings
  (``tls-verify: maybe``) fails all of that registry's entries: nothing is fetched with
  settings the user did not mean.
- A YAML syntax error, or a document that is not a mapping of registries, fails the file.

Nothing here touches the network; listing tags is sync/plan.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any

from trustcopy.errors import ConfigError
from trustcopy.lazy import dataclass
from trustcopy.limits import MiB

#: A sync YAML larger than this is refused before it is parsed.
MAX_SYNC_YAML = 4 * MiB
_CODE = "sync-yaml-invalid"
REGISTRY_KEYS = ("images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir")
CREDENTIAL_KEYS = ("username", "password")
# yaml.v2 (YAML 1.1) booleans and nulls, as text (the loader keeps scalars as written).
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"})
_NULL = frozenset({"", "~", "null", "Null", "NULL"})


class SelectorKind(StrEnum):
    """Which section of a registry named the repository."""

    IMAGES = "images"
    TAG_REGEX = "images-by-tag-regex"
    SEMVER = "images-by-semver"


@dataclass(frozen=True)
class Selector:
    """One repository of one registry and how its images are chosen.

    ``refs``: for ``images``, the tags and digests listed (empty: every tag).
    ``pattern``: the regex or the semver constraint (already checked to compile).
    """

    registry: str
    repository: str
    kind: SelectorKind
    refs: tuple[str, ...] = ()
    pattern: str = ""

    @property
    def label(self) -> str:
        """How reports name this entry: ``REGISTRY/REPOSITORY (section)``."""
        return f"{self.registry}/{self.repository} ({self.kind})"


@dataclass(frozen=True)
class Problem:
    """An entry of the file that cannot be synced, and why (reported as that entry's failure)."""

    label: str
    error: ConfigError


@dataclass(frozen=True)
class RegistrySettings:
    """How to reach one registry: each None means "keep the command line's setting"."""

    tls_verify: bool | None = None
    cert_dir: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RegistryEntry:
    """One top-level key of the file."""

    name: str
    settings: RegistrySettings
    selectors: tuple[Selector, ...]


@dataclass(frozen=True)
class SyncFile:
    """A parsed sync YAML: the usable entries, the problems of the others, and the warnings."""

    path: str
    registries: tuple[RegistryEntry, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]


def load_sync_file(path: str) -> SyncFile:
    """Read and check a sync YAML (see the module docstring).

    Raises:
        ConfigError: unreadable, too large, not YAML, or not a mapping of registries.
    """
    from trustcopy.limits import read_file_at_most
    from trustcopy.stores.registries_d import load_yaml

    try:
        data = read_file_at_most(path, MAX_SYNC_YAML, f"sync YAML {path}", allow_fifo=True)  # <(gen) works
    except OSError as exc:
        raise ConfigError(f"cannot read sync YAML {path}: {exc.strerror or exc}", code="config-unreadable",
                          context={"file": path}) from None
    try:
        doc = load_yaml(path, data, scalars_as_text=True)
    except ConfigError as exc:
        raise ConfigError(exc.message, code=_CODE, context=exc.context) from exc
    return parse_sync_document(path, doc)


def parse_sync_document(path: str, doc: Any) -> SyncFile:
    """Check a loaded document (scalars as text) and split it into entries, problems and warnings.

    Raises:
        ConfigError: the document is not a mapping of registry names to mappings.
    """
    if doc is None or (isinstance(doc, str) and doc in _NULL):
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: the document must map registry names to their settings",
                          code=_CODE, context={"file": path})
    registries: list[RegistryEntry] = []
    problems: list[Problem] = []
    warnings: list[str] = []
    for name, body in doc.items():
        reader = _RegistryReader(path, str(name), problems, warnings)
        entry = reader.read(body)
        if entry is not None:
            registries.append(entry)
    return SyncFile(path, tuple(registries), tuple(problems), tuple(warnings))


class _RegistryReader:
    """Reads one registry's section, collecting problems and warnings."""

    def __init__(self, path: str, name: str, problems: list[Problem], warnings: list[str]) -> None:
        self.path, self.name = path, name
        self.problems, self.warnings = problems, warnings

    def problem(self, label: str, message: str, hint: str | None = None, code: str = _CODE) -> None:
        """Record that the entry ``label`` cannot be synced (the report names the label; the error, the file)."""
        self.problems.append(Problem(label, ConfigError(f"{self.path}: {message}", code=code,
                                                        context={"file": self.path, "entry": label}, hint=hint)))

    def read(self, body: Any) -> RegistryEntry | None:
        """The registry's entry, or None when its own settings have a problem (recorded)."""
        if _is_null(body):
            body = {}
        if not isinstance(body, Mapping):
            self.problem(self.name, "a registry's value must be a mapping (images, credentials, tls-verify, …)")
            return None
        for key in body:
            if key not in REGISTRY_KEYS:
                self.warnings.append(f"{self.path}: registry {self.name!r}: unknown key {key!r} ignored "
                                     f"(known: {', '.join(REGISTRY_KEYS)})")
        settings = self._settings(body)
        if settings is None:
            return None  # the problem is recorded; nothing of this registry is fetched
        selectors = [*self._images(body.get("images")),
                     *self._patterns(body.get(SelectorKind.TAG_REGEX), SelectorKind.TAG_REGEX),
                     *self._patterns(body.get(SelectorKind.SEMVER), SelectorKind.SEMVER)]
        if not any(not _is_null(body.get(k)) for k in ("images", SelectorKind.TAG_REGEX, SelectorKind.SEMVER)):
            self.warnings.append(f"{self.path}: registry {self.name!r}: no images specified")
        return RegistryEntry(self.name, settings, tuple(selectors))

    def _settings(self, body: Mapping[Any, Any]) -> RegistrySettings | None:
        """tls-verify, cert-dir and credentials; None when any of them is wrong (each recorded)."""
        ok = True
        tls_verify: bool | None = None
        raw = body.get("tls-verify")
        if raw is not None and not _is_null(raw):
            if isinstance(raw, str) and raw in _TRUE | _FALSE:
                tls_verify = raw in _TRUE
            else:
                self.problem(self.name, f"tls-verify must be true or false, not {_shown(raw)}")
                ok = False
        cert_dir = body.get("cert-dir")
        if _is_null(cert_dir):
            cert_dir = None
        elif not isinstance(cert_dir, str):
            self.problem(self.name, "cert-dir must be a path")
            ok = False
        username = password = None
        creds = body.get("credentials")
        if not _is_null(creds):
            if not isinstance(creds, Mapping):
                self.problem(self.name, "credentials must be a mapping with username and password")
                ok = False
            else:
                for key in creds:
                    if key == "identitytoken":
                        self.problem(self.name, "credentials: identitytoken is not supported",
                                     hint="log in with `trustcopy login` and use --src-authfile instead")
                        ok = False
                    elif key not in CREDENTIAL_KEYS:
                        self.warnings.append(f"{self.path}: registry {self.name!r}: credentials: unknown key "
                                             f"{key!r} ignored (known: username, password)")
                values = {k: creds.get(k) for k in CREDENTIAL_KEYS}
                if any(v is not None and not isinstance(v, str) for v in values.values()):
                    self.problem(self.name, "credentials: username and password must be strings")
                    ok = False
                username, password = values["username"] or None, values["password"] or None
        if not ok:
            return None
        return RegistrySettings(tls_verify, cert_dir if isinstance(cert_dir, str) else None, username, password)

    def _section(self, value: Any, kind: SelectorKind) -> Mapping[Any, Any]:
        """A section's mapping of repositories ({} for null, or after recording a type problem)."""
        if _is_null(value):
            return {}
        if not isinstance(value, Mapping):
            self.problem(f"{self.name} ({kind})", f"{kind} must map repository names to "
                         + ("lists of tags or digests" if kind is SelectorKind.IMAGES else "strings"))
            return {}
        return value

    def _repository(self, repo: Any, kind: SelectorKind) -> str | None:
        """The repository name if REGISTRY/NAME parses as a repository (no tag, no digest)."""
        from trustcopy.errors import InvalidReferenceError
        from trustcopy.reference import parse_normalized_named

        label = f"{self.name}/{repo} ({kind})"
        try:
            ref = parse_normalized_named(f"{self.name}/{repo}")
        except InvalidReferenceError as exc:
            self.problem(label, f"not a repository name: {exc.message}")
            return None
        if not ref.is_name_only:
            self.problem(label, "names an image (a tag or digest), not a repository",
                         hint=f"list the tag under the repository: {ref.name.rsplit('/', 1)[-1]}: [TAG]")
            return None
        return str(repo)

    def _images(self, value: Any) -> list[Selector]:
        """The ``images`` section: one selector per repository, with its valid tags and digests."""
        out: list[Selector] = []
        for repo, listed in self._section(value, SelectorKind.IMAGES).items():
            if self._repository(repo, SelectorKind.IMAGES) is None:
                continue
            label = f"{self.name}/{repo} ({SelectorKind.IMAGES})"
            refs = [] if _is_null(listed) else listed
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                self.problem(label, "must be a list of tags or digests ([] for every tag)")
                continue
            good = [r for r in refs if self._ref_ok(repo, r)]
            if refs and not good:
                continue  # every ref had a problem, each reported: this is not "every tag"
            out.append(Selector(self.name, str(repo), SelectorKind.IMAGES, tuple(dict.fromkeys(good))))
        return out

    def _ref_ok(self, repo: str, ref: str) -> bool:
        """Whether a listed ref is a digest or a tag (skopeo tries a digest first); records why not."""
        from trustcopy.digest import Digest
        from trustcopy.errors import TrustcopyError
        from trustcopy.reference import is_valid_tag

        if ":" in ref:
            try:
                Digest.parse(ref)
                return True
            except (TrustcopyError, ValueError) as exc:
                self.problem(f"{self.name}/{repo}@{ref}", f"not a valid digest: {exc}")
                return False
        if not is_valid_tag(ref):
            self.problem(f"{self.name}/{repo}:{ref}", "not a valid tag (letters, digits, '_', '.', '-'; "
                         "at most 128 characters, not starting with '.' or '-')")
            return False
        return True

    def _patterns(self, value: Any, kind: SelectorKind) -> list[Selector]:
        """A regex or semver section: one selector per repository whose pattern compiles."""
        out: list[Selector] = []
        for repo, pattern in self._section(value, kind).items():
            if self._repository(repo, kind) is None:
                continue
            label = f"{self.name}/{repo} ({kind})"
            if not isinstance(pattern, str):
                self.problem(label, "must be a string")
                continue
            error = check_pattern(kind, pattern)
            if error is not None:
                self.problem(label, error.message, hint=error.hint, code=error.code)
                continue
            out.append(Selector(self.name, str(repo), kind, pattern=pattern))
        return out


def check_pattern(kind: SelectorKind, pattern: str) -> ConfigError | None:
    """Why ``pattern`` is not a valid regex (RE2) or semver constraint, or None."""
    if kind is SelectorKind.SEMVER:
        from trustcopy.sync.semver import parse_constraint

        try:
            parse_constraint(pattern)
        except ConfigError as exc:
            return exc
        return None
    from trustcopy.sync.semver import compile_re2

    try:
        compile_re2(pattern)
    except Exception as exc:  # noqa: BLE001 (re2.error; the module is imported lazily)
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return ConfigError(f"invalid regular expression {pattern!r}: {detail}", code="sync-regex-invalid",
                           hint="the syntax is Go's (RE2): no backreferences or lookaround")
    return None


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value in _NULL)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
