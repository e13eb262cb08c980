"""registries.d: which lookaside store holds an image's signatures (man containers-registries.d).

Directory (:func:`registries_d_dir`)
    ``--registries.d DIR`` alone when given (it must exist: a typo must not silently
    fall back to the defaults); otherwise ``$HOME/.config/containers/registries.d`` if
    it exists, else ``/etc/containers/registries.d`` (missing = no configuration; a file
    where the directory should be is an error, as in containers/image).

Files
    Only ``*.yaml`` files, read in name order; each is at most 1 MiB, must be a regular
    file, and is decoded as the newest containers/image decodes it (gopkg.in/yaml.v3 into
    its Go schema: keys are their text, YAML 1.2 scalars, duplicate keys refused, merge keys,
    UTF-8 or UTF-16 with a BOM) by :mod:`trustcopy.stores.registries_d_yaml`, which also
    refuses, anywhere in the file, several documents, recursive aliases, non-standard tags,
    and alias expansions beyond 100,000 nodes or nesting beyond 200 levels (a "billion
    laughs" file is refused, code ``registries-d-too-complex``, before anything walks it).

Merging
    ``default-docker`` may appear in one file only, and a ``docker:`` namespace in one
    file only (even with equal values): either is a :class:`ConfigError` naming both
    files, as containers/image.

Keys
    A section (``default-docker`` or a ``docker:`` namespace) has ``lookaside``,
    ``lookaside-staging``, the older ``sigstore`` / ``sigstore-staging``, and
    ``use-sigstore-attachments`` (``true``/``false``, or the YAML 1.1 words containers/image
    also accepts for it: ``yes``/``no``/``on``/``off``/``y``/``n``, even quoted). Unknown
    keys are :class:`ConfigWarning` values naming the file and key (these files are shared
    with podman and buildah, and containers/image ignores unknown keys); a value of the
    wrong type is an error naming the file and key; ``null`` means "not set".

    NOTE(go-diff): a URL written as a YAML scalar that is not a string (``lookaside: yes``,
    ``lookaside: 123``, ``lookaside: 0o17``: a boolean, number or date in YAML 1.1 or in
    yaml.v3) is refused when the file is loaded: a team decision, kept because it is safe.
    The newest containers/image (yaml.v3) reads the scalar's text into its string field and
    fails only when an image uses that section, since such a text never has a scheme and so
    is never a usable URL; we refuse more, never accept more, and name the file and key
    (``_url`` in trustcopy/stores/registries_d_yaml.py; tests/unit/stores/test_lookaside_goracle.py,
    tests/unit/stores/test_registries_d_yaml_goracle.py).

Lookup (:meth:`RegistriesD.lookaside_choice`, :meth:`RegistriesD.attachments_choice`)
    Sections are consulted most specific first: the image itself (``host/repo:tag`` or
    ``host/repo@digest``), its repository, each parent namespace, ``host[:port]``, the
    ``*.domain`` wildcards of the host (port stripped), then ``default-docker``. As in
    containers/image's *code* (the man page says only the most specific section is
    used), each question is answered by the first section that has an answer for it:

    - the read URL: ``lookaside``, else ``sigstore``;
    - the write URL: ``lookaside-staging``, else ``sigstore-staging``, else ``lookaside``,
      else ``sigstore`` — all four from the same section before a broader one is tried;
    - ``use-sigstore-attachments``: the first section where it is set (default false).

    With no URL anywhere, the built-in default store is used:
    ``file:///var/lib/containers/sigstore`` for root, else
    ``$HOME/.local/share/containers/sigstore``. docs/registries.md has worked examples.

Nothing is cached in the module: a :class:`RegistriesD` is a value the caller keeps
for the command (the docker transport's session, in phase 2).
"""

from __future__ import annotations

import errno
import os
import types
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from trustcopy.errors import ConfigError, InvalidReferenceError
from trustcopy.lazy import dataclass
from trustcopy.limits import MiB, read_file_at_most
from trustcopy.reference import (
    DockerReference,
    docker_reference_identity,
    docker_reference_namespaces,
    is_valid_domain,
    parse_named,
    parse_normalized_named,
    split_docker_domain,
)
from trustcopy.sysregistries import ConfigWarning, report

if TYPE_CHECKING:
    from trustcopy.stores.lookaside import LookasideLocation

SYSTEM_REGISTRIES_D = "/etc/containers/registries.d"
USER_REGISTRIES_D = os.path.join(".config", "containers", "registries.d")
ROOT_DEFAULT_LOOKASIDE_DIR = "/var/lib/containers/sigstore"
USER_DEFAULT_LOOKASIDE_DIR = os.path.join(".local", "share", "containers", "sigstore")
MAX_REGISTRIES_D_FILE = 1 * MiB
#: Nodes a YAML document may have once every alias is expanded (here and in registries_d_yaml).
MAX_YAML_NODES = 100_000

READ_KEYS = ("lookaside", "sigstore")
WRITE_KEYS = ("lookaside-staging", "sigstore-staging", "lookaside", "sigstore")
URL_KEYS = ("lookaside", "lookaside-staging", "sigstore", "sigstore-staging")
ATTACHMENTS_KEY = "use-sigstore-attachments"
SECTION_KEYS = (*URL_KEYS, ATTACHMENTS_KEY)
TOP_KEYS = ("default-docker", "docker")
DEFAULT_DOCKER = "default-docker"


@dataclass(frozen=True)
class Section:
    """One section of a registries.d file: ``default-docker`` or a ``docker:`` namespace."""

    #: ``default-docker``, or the namespace key under ``docker:``.
    name: str
    file: str
    #: URL key → value, only the keys set to a non-empty string.
    urls: Mapping[str, str] = field(default_factory=dict, hash=False)
    use_sigstore_attachments: bool | None = None
    is_default: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "urls", types.MappingProxyType(dict(self.urls)))

    @property
    def label(self) -> str:
        """``default-docker`` or ``docker: "example.com/ns"``, for messages."""
        return DEFAULT_DOCKER if self.is_default else f'docker: "{self.name}"'

    def url_for(self, write: bool) -> tuple[str, str] | None:
        """``(key, url)`` this section gives for reading or writing, or None (containers/image order)."""
        for key in WRITE_KEYS if write else READ_KEYS:
            if key in self.urls:
                return key, self.urls[key]
        return None

    def to_json(self) -> dict[str, Any]:
        """The section as a JSON object."""
        out: dict[str, Any] = {"file": self.file, "section": self.label, **dict(self.urls)}
        if self.use_sigstore_attachments is not None:
            out[ATTACHMENTS_KEY] = self.use_sigstore_attachments
        return out


@dataclass(frozen=True)
class LookasideChoice:
    """The store chosen for an image, and why."""

    location: LookasideLocation
    write: bool
    #: The section that gave the URL; None for the built-in default.
    section: Section | None
    #: The key that gave the URL (``lookaside-staging`` …); None for the built-in default.
    key: str | None
    #: Labels of the sections that matched the image, most specific first (a section that
    #: matched without answering shows why a broader one was used).
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttachmentsChoice:
    """Whether sigstore attachments are used for an image, and which section said so."""

    value: bool
    section: Section | None


def policy_scopes(ref: DockerReference) -> list[str]:
    """The lookup keys for ``ref``, most specific first: the docker transport's policy scopes.

    c/i ``PolicyConfigurationIdentity`` + ``Namespaces``, from :mod:`trustcopy.reference`
    (the same functions the docker transport uses, so the two cannot drift apart). A
    name-only reference (a push without a tag, ``NAME@@unknown-digest@@``) starts at its
    repository, as containers/image's identity for it is the repository name.

    Raises:
        ValueError: ``ref`` has both a tag and a digest (API misuse).
    """
    if ref.tag is not None and ref.digest is not None:
        raise ValueError(f"a lookaside lookup needs at most one of a tag and a digest: {ref}")
    if ref.is_name_only:
        return docker_reference_namespaces(ref)
    return [docker_reference_identity(ref), *docker_reference_namespaces(ref)]


@dataclass(frozen=True)
class RegistriesD:
    """The merged registries.d configuration, and the built-in default store."""

    #: The directory read (None: it did not exist).
    directory: str | None = None
    files: tuple[str, ...] = ()
    default_docker: Section | None = None
    docker: Mapping[str, Section] = field(default_factory=dict, hash=False)
    #: The built-in default store URL (depends on the user; fixed at load time).
    builtin_default: str = ""
    warnings: tuple[ConfigWarning, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "docker", types.MappingProxyType(dict(self.docker)))
        if not self.builtin_default:
            object.__setattr__(self, "builtin_default", builtin_default_lookaside())

    def sections_for(self, ref: DockerReference) -> list[Section]:
        """The sections matching ``ref``, in lookup order (``default-docker`` last)."""
        out = [self.docker[s] for s in policy_scopes(ref) if s in self.docker]
        if self.default_docker is not None:
            out.append(self.default_docker)
        return out

    def lookaside_choice(self, ref: DockerReference, *, write: bool) -> LookasideChoice:
        """The store for reading (``write=False``) or writing ``ref``'s signatures, and why.

        Raises:
            ConfigError: the URL chosen is unusable (code ``lookaside-url-invalid``),
                naming the file, section and key.
            ValueError: ``ref`` has both a tag and a digest.
        """
        # Imported here: a command that never reads or writes signatures (a push from a local
        # layout) does not load the stores, nor the signature formats they import (issue 14).
        from trustcopy.stores.lookaside import LookasideLocation

        sections = self.sections_for(ref)
        matched = tuple(s.label for s in sections)
        for section in sections:
            answer = section.url_for(write)
            if answer is not None:
                key, url = answer
                origin = f"{key} of {section.label} in {section.file}"
                return LookasideChoice(LookasideLocation(url, ref.path, origin), write, section, key, matched)
        origin = "the built-in default (no registries.d section sets a URL)"
        return LookasideChoice(LookasideLocation(self.builtin_default, ref.path, origin), write, None, None, matched)

    def lookaside(self, ref: DockerReference, *, write: bool) -> LookasideLocation:
        """The store for ``ref``'s signatures (see :meth:`lookaside_choice`)."""
        return self.lookaside_choice(ref, write=write).location

    def attachments_choice(self, ref: DockerReference) -> AttachmentsChoice:
        """Whether to read and write sigstore attachments for ``ref``, and which section said so."""
        for section in self.sections_for(ref):
            if section.use_sigstore_attachments is not None:
                return AttachmentsChoice(section.use_sigstore_attachments, section)
        return AttachmentsChoice(False, None)

    def use_sigstore_attachments(self, ref: DockerReference) -> bool:
        """Whether to read and write sigstore attachments for ``ref``."""
        return self.attachments_choice(ref).value


def _home(home: str | None) -> str:
    return home or os.environ.get("HOME") or os.path.expanduser("~")


def builtin_default_lookaside(*, euid: int | None = None, home: str | None = None) -> str:
    """The store used when registries.d sets no URL (containers/image's built-in default)."""
    uid = os.geteuid() if euid is None else euid
    path = ROOT_DEFAULT_LOOKASIDE_DIR if uid == 0 else os.path.join(_home(home), USER_DEFAULT_LOOKASIDE_DIR)
    return "file://" + quote(path)


def registries_d_dir(explicit: str | None = None, *, home: str | None = None,
                     system_dir: str = SYSTEM_REGISTRIES_D) -> tuple[str, bool]:
    """The registries.d directory to read, and whether the user named it.

    Raises:
        ConfigError: the user directory exists but cannot be examined.
    """
    if explicit:
        return explicit, True
    user = os.path.join(_home(home), USER_REGISTRIES_D)
    try:
        os.stat(user)
        return user, False
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise ConfigError(f"cannot examine the registries.d directory {user}: {exc.strerror}",
                              code="config-unreadable", context={"file": user}) from None
    return system_dir, False


def load_registries_d(
    directory: str | None = None,
    *,
    home: str | None = None,
    euid: int | None = None,
    system_dir: str = SYSTEM_REGISTRIES_D,
    report_warnings: bool = True,
) -> RegistriesD:
    """Read and merge a registries.d directory.

    Args:
        directory: ``--registries.d DIR``; None chooses as :func:`registries_d_dir` says.
        home: the home directory (``$HOME`` when None).
        euid: the effective user id choosing the built-in default (the process's when None).
        system_dir: the system directory (tests point this elsewhere).
        report_warnings: log unknown keys (a CLI that renders ``.warnings`` itself passes False).

    Returns:
        The merged configuration.

    Raises:
        ConfigError: the named directory is missing, a file is unreadable or invalid
            (naming it), or two files define the same section (naming both).
        LimitExceededError: a file is over 1 MiB or not a regular file.
    """
    path, explicit = registries_d_dir(directory, home=home, system_dir=system_dir)
    default = builtin_default_lookaside(euid=euid, home=home)
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        if exc.errno == errno.ENOENT and not explicit:
            # Only a missing default directory is "no configuration": one that exists but is not
            # a directory (or a path through a file) is an error, as containers/image's os.Open
            # / Readdirnames fail for it.
            return RegistriesD(None, builtin_default=default)
        if exc.errno == errno.ENOENT:
            raise ConfigError(f"registries.d directory {path} does not exist", code="registries-d-not-found",
                              context={"file": path}) from None
        raise ConfigError(f"cannot read the registries.d directory {path}: {exc.strerror}",
                          code="config-unreadable", context={"file": path}) from None
    warnings: list[ConfigWarning] = []
    files: list[str] = []
    default_docker: Section | None = None
    docker: dict[str, Section] = {}
    for name in names:
        if not name.endswith(".yaml"):
            continue
        file = os.path.join(path, name)
        try:
            data = read_file_at_most(file, MAX_REGISTRIES_D_FILE, f"registries.d file {file}")
        except FileNotFoundError:
            continue  # removed since the listing, as containers/image tolerates
        except OSError as exc:
            raise ConfigError(f"cannot read registries.d file {file}: {exc.strerror}", code="config-unreadable",
                              context={"file": file}) from None
        files.append(file)
        file_default, file_docker = parse_registries_d_file(file, data, warnings)
        if file_default is not None:
            if default_docker is not None:
                raise ConfigError(
                    f'"default-docker" is defined both in {default_docker.file} and {file}',
                    code="registries-d-conflict", context={"files": [default_docker.file, file]},
                )
            default_docker = file_default
        for ns, section in file_docker.items():
            if ns in docker:
                raise ConfigError(
                    f'"docker" namespace "{ns}" is defined both in {docker[ns].file} and {file}',
                    code="registries-d-conflict", context={"files": [docker[ns].file, file], "namespace": ns},
                )
            docker[ns] = section
    if report_warnings:
        report(warnings)
    return RegistriesD(path, tuple(files), default_docker, docker, default, tuple(warnings))


# -- one file --------------------------------------------------------------------------------


def _unknown(file: str, key: str, name: str, known: tuple[str, ...]) -> ConfigWarning:
    hint = next((k for k in known if k == name.lower().replace("_", "-")), None)
    message = "unknown key, ignored (containers/image ignores it too)"
    if hint is not None:
        message += f'; did you mean "{hint}"?'
    return ConfigWarning(file, key, message)


def _scope_problem(scope: str) -> str | None:
    """Why a ``docker:`` namespace can never match an image, or None."""
    if scope.startswith("*."):
        domain = scope[2:]
        if domain and is_valid_domain(domain) and not any(c in domain for c in ":/[]"):
            return None
        return 'a wildcard must be "*." followed by a domain without port or path, e.g. "*.example.com"'
    if "/" not in scope:
        if is_valid_domain(scope) and split_docker_domain(scope + "/x/y")[0] == scope:
            return None
        return 'not a registry host (a host needs a "." or ":", or is "localhost")'
    try:
        parse_named(scope)  # a canonical repository or image
        return None
    except InvalidReferenceError:
        pass
    try:  # a namespace that is not itself a canonical repository, e.g. docker.io/library
        if parse_normalized_named(scope + "/x").name == scope + "/x":
            return None
    except InvalidReferenceError:
        pass
    try:
        expanded = f'; perhaps "{parse_normalized_named(scope)}"'
    except InvalidReferenceError:
        expanded = ""
    return f"not a fully expanded repository, namespace or image{expanded}"


def parse_registries_d_file(file: str, data: bytes,
                            warnings: list[ConfigWarning]) -> tuple[Section | None, dict[str, Section]]:
    """One registries.d file → its ``default-docker`` section (or None) and ``docker:`` sections.

    The YAML is decoded as the newest containers/image decodes it (gopkg.in/yaml.v3 into its
    Go schema; deliberate differences, each refusing more, are the NOTE(go-diff) items of
    :mod:`trustcopy.stores.registries_d_yaml`).

    Args:
        file: the path, for messages.
        data: the file's bytes (already size-bounded).
        warnings: unknown keys are appended here.

    Raises:
        ConfigError: invalid YAML or a value of the wrong type, naming the file and key.
    """
    from trustcopy.stores.registries_d_yaml import decode_registries_d

    def unknown(key: str, name: str, known: tuple[str, ...]) -> None:
        warnings.append(_unknown(file, key, name, known))

    decoded = decode_registries_d(file, data, unknown)
    default: Section | None = None
    if decoded.default_docker is not None:
        default = Section(DEFAULT_DOCKER, file, decoded.default_docker.urls,
                          decoded.default_docker.use_sigstore_attachments, is_default=True)
    docker: dict[str, Section] = {}
    for ns, raw in decoded.docker.items():
        problem = _scope_problem(ns)
        if problem is not None:
            warnings.append(ConfigWarning(file, f'docker."{ns}"', f"this namespace never matches an image: {problem}"))
        docker[ns] = Section(ns, file, raw.urls, raw.use_sigstore_attachments, is_default=False)
    return default, docker


# -- YAML, bounded ------------------------------------------------------------------------------


def load_yaml(file: str, data: bytes, *, scalars_as_text: bool = False) -> Any:
    """Parse one YAML document safely: safe loader, no duplicate keys, bounded alias expansion.

    PyYAML's ``safe_load`` builds a "billion laughs" document quickly (aliases become
    shared objects), but anything that then walks the result expands it; we measure the
    node graph with every alias expanded before constructing anything, and refuse
    recursive aliases and graphs over :data:`MAX_YAML_NODES`.

    ``scalars_as_text``: every scalar is returned as the text written (PyYAML's
    BaseLoader), for formats read by Go's yaml.v2 into string fields, where ``1.10`` is
    the tag "1.10", not the number 1.1 (sync YAML). The caller interprets booleans and
    nulls itself.

    Raises:
        ConfigError: not UTF-8, invalid YAML, several documents, a duplicate key, a
            recursive alias, too many nodes or too deep nesting (naming the file).
    """
    import yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})", code="registries-d-invalid",
                          context={"file": file}) from None
    try:  # the reader refuses NUL and other non-printable characters as it starts
        loader = yaml.BaseLoader(text) if scalars_as_text else yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {_yaml_problem(exc)}", code="registries-d-invalid",
                          context={"file": file}) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(file, node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {_yaml_problem(exc)}", code="registries-d-invalid",
                          context={"file": file}) from None
    except RecursionError:
        raise ConfigError(f"{file}: YAML nested too deeply", code="registries-d-invalid",
                          context={"file": file}) from None
    except ValueError as exc:  # a scalar its constructor refuses: an int of 100,000 digits, a 2001-99-99 date
        raise ConfigError(f"{file}: invalid YAML: {str(exc).split(';')[0]}", code="registries-d-invalid",
                          context={"file": file}) from None
    finally:
        loader.dispose()


def _yaml_problem(exc: Exception) -> str:
    """One line for a PyYAML error: the problem and its line/column."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        context = getattr(exc, "context", None)
        text = f"{context}, {problem}" if context else problem
        if problem.startswith("found undefined tag handle"):  # its handle may be a password: ``password: !s3cret!x``
            text = f"{context}, found undefined tag handle" if context else "found undefined tag handle"
        return f"{text} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def _check_graph(file: str, root: Any) -> None:
    """Expanded size, recursion and duplicate keys of a composed YAML node graph (iteratively)."""
    import yaml

    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            size = 1 + sum(sizes[id(c)] for c in children(node))
            if size > MAX_YAML_NODES:
                raise ConfigError(f"{file}: YAML document expands to more than {MAX_YAML_NODES} nodes "
                                  "(aliases included)", code="registries-d-invalid", context={"file": file})
            sizes[nid] = size
            continue
        if nid in sizes:
            continue
        if nid in on_path:
            raise ConfigError(f"{file}: recursive YAML alias", code="registries-d-invalid", context={"file": file})
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    if ident in seen:
                        raise ConfigError(f"{file}: line {key.start_mark.line + 1}: duplicate key {key.value!r}",
                                          code="registries-d-invalid", context={"file": file, "key": key.value})
                    seen.add(ident)
        on_path.add(nid)
        stack.append((node, True))
        stack.extend((c, False) for c in children(node) if id(c) not in sizes)
