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

Reading: as the newest skopeo reads it (``yaml.Unmarshal`` of gopkg.in/yaml.v3 into
``map[string]registrySyncConfig``; skopeo 1.9.3 used yaml.v2, and the newest wins), with the
yaml.v3 rules of trustcopy/stores/registries_d_yaml.py applied to PyYAML's parser events:

- A string field takes any scalar's text: the tag ``1.10`` is "1.10", ``true`` is "true"
  (``!!binary`` decoded); an explicit tag must fit its text (``!!int abc`` fails the file).
- ``tls-verify`` is a Go bool: ``true``/``false`` (``True``, ``FALSE``) or YAML 1.1's words
  (``yes``, ``off``, ``y`` …), even quoted; a quoted ``"true"`` is a string, refused.
- Null: a null registry, section or tag list is "not given" (``app: ~`` is every tag); a null
  item of a tag list is dropped (``app: [~]`` is ``[]``: every tag); a null regex is "" (it
  matches every tag); a null key is skipped.
- A key written twice in a mapping (``a`` and ``"a"`` too), a collection as a key, or a
  merge (``<<``) of something that is not a mapping fail the file, as in yaml.v3; merge keys
  add the keys not written explicitly.
- An unknown key (``image:``, ``tls_verify:``) is a *warning* naming the file, registry
  and key: skopeo ignores it silently, and a typo there silently drops images.
- A value of the wrong type, a repository name that does not parse, a tag or digest that
  is neither, a regex RE2 refuses and a semver constraint Masterminds refuses are each a
  *problem of that entry* (the registry, or one repository of it): reported for that
  entry (without ``--keep-going`` the sync then stops before copying anything).
  NOTE(go-diff): yaml.v3 fails the whole file for a value of the wrong type, and skopeo
  logs and skips the other problems; with ``--keep-going`` trustcopy syncs the other
  entries (docs/commands/sync.md). A problem of the registry's own settings
  (``tls-verify: maybe``) fails all of that registry's entries: nothing is fetched with
  settings the user did not mean.
- NOTE(go-diff): as for registries.d (registries_d_yaml's docstring), more than one
  document, a tag outside YAML's standard ones (``!foo``), an alias bomb or deep nesting
  refuse the file; yaml.v3 reads the first document only and keeps a custom tag's text.
- A YAML syntax error, or a document that is not a mapping of registries, fails the file.
- Credentials never appear in a message (not even in "this value does not fit its tag").

Nothing here touches the network; listing tags is sync/plan.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING

from trustcopy.errors import ConfigError
from trustcopy.lazy import dataclass
from trustcopy.limits import MiB

if TYPE_CHECKING:
    from trustcopy.stores.registries_d_yaml import YamlNode

#: A sync YAML larger than this is refused before it is parsed.
MAX_SYNC_YAML = 4 * MiB
_CODE = "sync-yaml-invalid"
REGISTRY_KEYS = ("images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir")
#: skopeo's Credentials field is containers/image's DockerAuthConfig: yaml.v3 lowercases its field names.
CREDENTIAL_KEYS = ("username", "password", "identitytoken")


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
    from trustcopy.stores.registries_d_yaml import compose_document

    try:
        data = read_file_at_most(path, MAX_SYNC_YAML, f"sync YAML {path}", allow_fifo=True)  # <(gen) works
    except OSError as exc:
        raise ConfigError(f"cannot read sync YAML {path}: {exc.strerror or exc}", code="config-unreadable",
                          context={"file": path}) from None
    try:
        return decode_sync_document(path, compose_document(path, data))
    except ConfigError as exc:
        if exc.code == _CODE:
            raise
        raise ConfigError(exc.message, code=_CODE, context=exc.context) from exc


def decode_sync_document(path: str, root: YamlNode | None) -> SyncFile:
    """Decode a composed document as skopeo's ``yaml.Unmarshal`` into ``map[string]registrySyncConfig``.

    Raises:
        ConfigError: the document is not a mapping of registry names, or a key is a collection,
            repeated, or a scalar's explicit tag does not fit its text (yaml.v3 fails the file).
    """
    from trustcopy.stores.registries_d_yaml import follow, kind_name

    registries: list[RegistryEntry] = []
    problems: list[Problem] = []
    warnings: list[str] = []
    if root is None:
        return SyncFile(path, (), (), ())
    try:
        pairs = _mapping(path, "(top level)", root)
    except _WrongType:
        raise ConfigError(f"{path}: the document must map registry names to their settings, not "
                          f"{kind_name(path, follow(root))}", code=_CODE, context={"file": path}) from None
    for name, body in dict(pairs or ()).items():  # a key repeated through !!binary: the last one, as a Go map
        entry = _RegistryReader(path, name, problems, warnings).read(body)
        if entry is not None:
            registries.append(entry)
    return SyncFile(path, tuple(registries), tuple(problems), tuple(warnings))


class _WrongType(Exception):
    """A value yaml.v3 cannot decode into skopeo's Go type (the argument says what it is instead)."""


def _mapping(path: str, where: str, node: YamlNode) -> list[tuple[str, YamlNode]] | None:
    """A Go map's or struct's (key, value) pairs; None for null.

    Raises:
        _WrongType: a scalar or a list.
        ConfigError: a repeated or collection key (yaml.v3 fails the whole file).
    """
    from trustcopy.stores.registries_d_yaml import follow, kind_name, mapping_pairs, resolve_tag

    node = follow(node)
    if node.kind == "map":
        return list(mapping_pairs(path, where, node))
    if node.kind == "scalar" and resolve_tag(path, node) == "!!null":
        return None
    raise _WrongType(kind_name(path, node))


def _text(path: str, node: YamlNode) -> str | None:
    """A Go string: any scalar's text (``1.10``, ``true``, ``1e3`` as written; ``!!binary`` decoded); None for null.

    Raises:
        _WrongType: a list or a mapping.
        ConfigError: an explicit tag that does not fit the text (``!!int abc``), as yaml.v3's resolver.
    """
    from trustcopy.stores.registries_d_yaml import follow, kind_name, string_value

    node = follow(node)
    if node.kind != "scalar":
        raise _WrongType(kind_name(path, node))
    return string_value(path, node)


def _secret_text(path: str, where: str, node: YamlNode) -> str | None:
    """:func:`_text` for a credential: no message ever shows the value."""
    try:
        return _text(path, node)
    except ConfigError:
        raise ConfigError(f"{path}: {where}: the value does not fit its YAML tag (value not shown)", code=_CODE,
                          context={"file": path, "key": where}) from None


def _text_list(path: str, node: YamlNode) -> list[str] | None:
    """A Go ``[]string``: None for null; null items are dropped, as yaml.v3 drops them (``[~]`` is ``[]``)."""
    from trustcopy.stores.registries_d_yaml import follow, kind_name, resolve_tag

    node = follow(node)
    if node.kind == "scalar" and resolve_tag(path, node) == "!!null":
        return None
    if node.kind != "seq":
        raise _WrongType(kind_name(path, node))
    out: list[str] = []
    for item in node.items:
        try:
            text = _text(path, item)
        except _WrongType as exc:  # the item is at fault, not the list: say so
            raise _WrongType(f"a list holding {exc}") from None
        if text is not None:
            out.append(text)
    return out


def _flag(path: str, node: YamlNode) -> bool | None:
    """skopeo's ``tls-verify`` (a Go bool, yaml.v3): true/false, or YAML 1.1's words even quoted; None for null."""
    from trustcopy.stores.registries_d_yaml import YAML11_BOOL_WORDS, binary_text, follow, kind_name, resolve_tag

    node = follow(node)
    if node.kind != "scalar":
        raise _WrongType(kind_name(path, node))
    tag = resolve_tag(path, node)
    if tag == "!!null":
        return None
    if tag == "!!bool":
        return node.value.lower() == "true"
    text = binary_text(path, node) if tag == "!!binary" else node.value
    if tag in ("!!str", "!!binary", "!!map", "!!seq", "!!merge") and text in YAML11_BOOL_WORDS:
        return YAML11_BOOL_WORDS[text]
    raise _WrongType(kind_name(path, node))


class _RegistryReader:
    """Reads one registry's section, collecting problems and warnings."""

    def __init__(self, path: str, name: str, problems: list[Problem], warnings: list[str]) -> None:
        self.path, self.name = path, name
        self.problems, self.warnings = problems, warnings

    def problem(self, label: str, message: str, hint: str | None = None, code: str = _CODE) -> None:
        """Record that the entry ``label`` cannot be synced (the report names the label; the error, the file)."""
        self.problems.append(Problem(label, ConfigError(f"{self.path}: {message}", code=code,
                                                        context={"file": self.path, "entry": label}, hint=hint)))

    def fields(self, where: str, pairs: list[tuple[str, YamlNode]], known: tuple[str, ...],
               what: str) -> dict[str, YamlNode]:
        """A Go struct's known fields (unknown keys warned about: skopeo ignores them silently).

        Raises:
            ConfigError: a field written twice under two spellings (``!!binary``): yaml.v3's "already set".
        """
        out: dict[str, YamlNode] = {}
        for key, value in pairs:
            if key not in known:
                self.warnings.append(f"{self.path}: registry {self.name!r}: {what}unknown key {key!r} ignored "
                                     f"(known: {', '.join(known)})")
            elif key in out:
                raise ConfigError(f"{self.path}: {where}.{key}: set twice", code=_CODE,
                                  context={"file": self.path, "key": key})
            else:
                out[key] = value
        return out

    def read(self, body: YamlNode) -> RegistryEntry | None:
        """The registry's entry, or None when its own settings have a problem (recorded)."""
        try:
            pairs = _mapping(self.path, self.name, body) or []
        except _WrongType as exc:
            self.problem(self.name, f"a registry's value must be a mapping (images, credentials, tls-verify, …), "
                                    f"not {exc}")
            return None
        fields = self.fields(self.name, pairs, REGISTRY_KEYS, "")
        # Every field is decoded before any is judged: yaml.v3 decodes them all, so a repeated key
        # or an ill-tagged scalar anywhere fails the file whatever else is wrong.
        sections = {kind: self._section(fields.get(kind), kind) for kind in SelectorKind}
        selectors = [*self._images(sections[SelectorKind.IMAGES]),
                     *self._patterns(sections[SelectorKind.TAG_REGEX], SelectorKind.TAG_REGEX),
                     *self._patterns(sections[SelectorKind.SEMVER], SelectorKind.SEMVER)]
        settings = self._settings(fields)
        if settings is None:
            return None  # the problem is recorded; nothing of this registry is fetched
        if not any(sections.values()):  # skopeo: len(Images) == 0 && len(ImagesByTagRegex) == 0 && …
            self.warnings.append(f"{self.path}: registry {self.name!r}: no images specified")
        return RegistryEntry(self.name, settings, tuple(selectors))

    def _settings(self, fields: Mapping[str, YamlNode]) -> RegistrySettings | None:
        """tls-verify, cert-dir and credentials; None when any of them is wrong (each recorded)."""
        ok = True
        tls_verify: bool | None = None
        if "tls-verify" in fields:
            try:
                tls_verify = _flag(self.path, fields["tls-verify"])
            except _WrongType as exc:
                self.problem(self.name, f"tls-verify must be true or false, not {exc}")
                ok = False
        cert_dir: str | None = None
        if "cert-dir" in fields:
            try:
                cert_dir = _text(self.path, fields["cert-dir"]) or None
            except _WrongType as exc:
                self.problem(self.name, f"cert-dir must be a path, not {exc}")
                ok = False
            if cert_dir is not None and "\0" in cert_dir:  # no directory has such a name (os.scandir: ValueError)
                self.problem(self.name, "cert-dir contains a NUL byte")
                ok = False
        username = password = None
        if "credentials" in fields:
            where = f"{self.name}.credentials"
            try:
                pairs = _mapping(self.path, where, fields["credentials"]) or []
            except _WrongType as exc:
                self.problem(self.name, f"credentials must be a mapping with username and password, not {exc}")
                return None
            except ConfigError:  # an ill-tagged scalar (``credentials: !!int user:pass``): never quoted
                from trustcopy.stores.registries_d_yaml import follow

                if follow(fields["credentials"]).kind != "scalar":
                    raise  # a repeated key: the message names the key, not a value
                raise ConfigError(f"{self.path}: {where}: the value does not fit its YAML tag (value not shown)",
                                  code=_CODE, context={"file": self.path, "key": where}) from None
            creds = self.fields(where, pairs, CREDENTIAL_KEYS, "credentials: ")
            try:
                values = {k: _secret_text(self.path, f"{where}.{k}", v) for k, v in creds.items()}
            except _WrongType:  # never shown: the kind of a secret is no secret, but keep messages plain
                self.problem(self.name, "credentials: username, password and identitytoken must be strings")
                return None
            # NOTE(go-diff): skopeo sends an identitytoken from the YAML as a refresh token; trustcopy
            # refuses the registry (docs/commands/sync.md): log in and use --src-authfile instead.
            if values.get("identitytoken"):
                self.problem(self.name, "credentials: identitytoken is not supported",
                             hint="log in with `trustcopy login` and use --src-authfile instead")
                ok = False
            username, password = values.get("username") or None, values.get("password") or None
        if not ok:
            return None
        return RegistrySettings(tls_verify, cert_dir, username, password)

    def _section(self, value: YamlNode | None, kind: SelectorKind) -> dict[str, YamlNode]:
        """A section's repositories ({} when absent or null, or after recording a type problem)."""
        if value is None:
            return {}
        try:
            pairs = _mapping(self.path, f"{self.name}.{kind}", value)
        except _WrongType as exc:
            self.problem(f"{self.name} ({kind})", f"{kind} must map repository names to "
                         + ("lists of tags or digests" if kind is SelectorKind.IMAGES else "strings") + f", not {exc}")
            return {}
        return dict(pairs or ())  # a repository repeated through !!binary: the last one, as a Go map

    def _repository(self, repo: str, kind: SelectorKind) -> str | None:
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
        return repo

    def _images(self, section: Mapping[str, YamlNode]) -> list[Selector]:
        """The ``images`` section: one selector per repository, with its valid tags and digests."""
        out: list[Selector] = []
        for repo, listed in section.items():
            label = f"{self.name}/{repo} ({SelectorKind.IMAGES})"
            try:
                refs = _text_list(self.path, listed) or []
            except _WrongType as exc:
                self.problem(label, f"must be a list of tags or digests ([] for every tag), not {exc}")
                continue
            if self._repository(repo, SelectorKind.IMAGES) is None:
                continue
            good = [r for r in refs if self._ref_ok(repo, r)]
            if refs and not good:
                continue  # every ref had a problem, each reported: this is not "every tag"
            out.append(Selector(self.name, repo, SelectorKind.IMAGES, tuple(dict.fromkeys(good))))
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

    def _patterns(self, section: Mapping[str, YamlNode], kind: SelectorKind) -> list[Selector]:
        """A regex or semver section: one selector per repository whose pattern compiles."""
        out: list[Selector] = []
        for repo, node in section.items():
            label = f"{self.name}/{repo} ({kind})"
            try:
                pattern = _text(self.path, node) or ""  # null is "" in a Go map: the regex that matches every tag
            except _WrongType as exc:
                self.problem(label, f"must be a string, not {exc}")
                continue
            if self._repository(repo, kind) is None:
                continue
            error = check_pattern(kind, pattern)
            if error is not None:
                self.problem(label, error.message, hint=error.hint, code=error.code)
                continue
            out.append(Selector(self.name, repo, kind, pattern=pattern))
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
        if _has_any_byte_escape(pattern):  # RE2 takes \C (any byte); Go's regexp, skopeo's, refuses it
            raise ValueError("invalid escape sequence: `\\C` (Go's regexp has no any-byte escape)")
    except Exception as exc:  # noqa: BLE001 (re2.error; the module is imported lazily)
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return ConfigError(f"invalid regular expression {pattern!r}: {detail}", code="sync-regex-invalid",
                           hint="the syntax is Go's (RE2): no backreferences or lookaround")
    return None


def _has_any_byte_escape(pattern: str) -> bool:
    """Whether ``pattern`` uses ``\\C`` outside ``\\Q…\\E``: the one escape RE2 has and Go's regexp refuses.

    (Inside a character class RE2 refuses it too.) Escaped backslashes (``\\\\C``) are a
    literal backslash then ``C``, so the scan steps over each escape pair.
    """
    i, n = 0, len(pattern)
    while i < n - 1:
        if pattern[i] != "\\":
            i += 1
            continue
        following = pattern[i + 1]
        if following == "C":
            return True
        if following == "Q":  # literal text up to \E (or the end)
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return False
            i = end + 2
            continue
        i += 2
    return False
