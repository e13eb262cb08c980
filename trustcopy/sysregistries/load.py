"""Finding, reading and strictly parsing registries.conf files and drop-ins (see the package docstring)."""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import stat
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from trustcopy.errors import ConfigError, InvalidReferenceError, LimitExceededError
from trustcopy.lazy import dataclass
from trustcopy.limits import MiB, read_file_at_most
from trustcopy.reference import is_valid_domain, parse_named, split_reference
from trustcopy.sysregistries.model import (
    PULL_FROM_MIRROR_VALUES,
    ConfigWarning,
    Endpoint,
    RegistriesConf,
    Registry,
    report,
)

SYSTEM_REGISTRIES_CONF = "/etc/containers/registries.conf"
SYSTEM_REGISTRIES_CONF_DIR = "/etc/containers/registries.conf.d"
USER_REGISTRIES_CONF = os.path.join(".config", "containers", "registries.conf")
USER_REGISTRIES_CONF_DIR = os.path.join(".config", "containers", "registries.conf.d")
ENV_OVERRIDES = ("CONTAINERS_REGISTRIES_CONF", "REGISTRIES_CONFIG_PATH")
MAX_REGISTRIES_CONF_FILE = 4 * MiB

_REGISTRY_KEYS = frozenset({"prefix", "location", "insecure", "blocked", "mirror", "mirror-by-digest-only",
                            "pull-from-mirror"})
_MIRROR_KEYS = frozenset({"location", "insecure", "pull-from-mirror"})
_IGNORED_TOP_KEYS = frozenset({"unqualified-search-registries", "credential-helpers", "short-name-mode", "aliases",
                               "additional-layer-store-auth-helper"})
_V1_SECTIONS = ("search", "insecure", "block")


# -- finding the files -------------------------------------------------------------------


@dataclass(frozen=True)
class ConfPaths:
    """Which registries.conf files to read."""

    conf: str
    #: The main file was named by a flag or the environment: it must exist.
    explicit: bool
    dropin_dirs: tuple[str, ...]


def _home(home: str | None) -> str:
    if home:
        return home
    return os.environ.get("HOME") or os.path.expanduser("~")


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise ConfigError(f"cannot examine {path}: {exc.strerror}", code="config-unreadable",
                          context={"file": path}) from None
    return True


def registries_conf_paths(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    home: str | None = None,
    system_conf: str = SYSTEM_REGISTRIES_CONF,
    system_dir: str = SYSTEM_REGISTRIES_CONF_DIR,
) -> ConfPaths:
    """The main file and drop-in directories, chosen as containers/image chooses them.

    Args:
        explicit: ``--registries-conf``; wins over the environment.
        env: the environment (``os.environ`` when None).
        home: the home directory (``$HOME`` when None).
        system_conf: the system-wide file (tests point this elsewhere).
        system_dir: the system-wide drop-in directory.
    """
    environ = os.environ if env is None else env
    user_conf = os.path.join(_home(home), USER_REGISTRIES_CONF)
    user_dir = os.path.join(_home(home), USER_REGISTRIES_CONF_DIR)
    # As containers/image: the first variable that is *set* wins, even when empty (then: no override).
    override = explicit or next((environ[name] for name in ENV_OVERRIDES if name in environ), "")
    if override:
        return ConfPaths(override, True, (system_dir, user_dir))
    if _exists(user_conf):
        return ConfPaths(user_conf, False, (user_dir,))
    return ConfPaths(system_conf, False, (system_dir, user_dir))


def _dropin_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise ConfigError(f"cannot read the drop-in directory {directory}: {exc.strerror}",
                          code="config-unreadable", context={"file": directory}) from None
    out = []
    for name in names:
        path = os.path.join(directory, name)
        # As containers/image (filepath.WalkDir): only a directory itself is skipped; a symbolic
        # link to one is a drop-in, and reading it fails.
        if name.endswith(".conf") and not (os.path.isdir(path) and not os.path.islink(path)):
            out.append(path)
    return out


def load_registries_conf(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    home: str | None = None,
    system_conf: str = SYSTEM_REGISTRIES_CONF,
    system_dir: str = SYSTEM_REGISTRIES_CONF_DIR,
    report_warnings: bool = True,
) -> RegistriesConf:
    """Read and merge the registries.conf files (see :func:`registries_conf_paths`).

    Args:
        explicit: ``--registries-conf FILE``.
        env: the environment (``os.environ`` when None).
        home: the home directory (``$HOME`` when None).
        system_conf: the system-wide file.
        system_dir: the system-wide drop-in directory.
        report_warnings: log unknown keys (a CLI that renders ``.warnings`` itself passes False).

    Returns:
        The merged configuration (empty when no file exists and none was named).

    Raises:
        ConfigError: a file named explicitly is missing, or any file is unreadable or invalid.
        LimitExceededError: a file is larger than 4 MiB, or is not a regular file (the file
            named explicitly may also be a pipe).
    """
    paths = registries_conf_paths(explicit, env=env, home=home, system_conf=system_conf, system_dir=system_dir)
    warnings: list[ConfigWarning] = []
    files: list[str] = []
    merged: dict[str, Registry] = {}
    helpers: tuple[str, ...] | None = None
    # A file the user names (--registries-conf, $CONTAINERS_REGISTRIES_CONF) may be a pipe, as
    # ``--registries-conf <(generate-config)`` gives and skopeo reads; drop-ins must be files.
    data = _read(paths.conf, must_exist=paths.explicit, allow_fifo=paths.explicit)
    if data is not None:
        files.append(paths.conf)
        registries, helpers = _parse_file(paths.conf, data, warnings, dropin=False)
        for reg in registries:
            merged[reg.prefix] = reg
    for directory in paths.dropin_dirs:
        for path in _dropin_files(directory):
            data = _read(path, must_exist=False)
            if data is None:
                # NOTE(go-diff): gone since the listing, or a dangling symbolic link: skipped, as the
                # newest containers/image does (5.23 fails on it).
                continue
            files.append(path)
            registries, file_helpers = _parse_file(path, data, warnings, dropin=True)
            for reg in registries:
                merged[reg.prefix] = reg
            if file_helpers is not None:  # a later file's list replaces an earlier one, even [] (c/i)
                helpers = file_helpers
    if report_warnings:
        report(warnings)
    return RegistriesConf(tuple(merged[p] for p in sorted(merged)), tuple(files), tuple(warnings),
                          credential_helpers=helpers or ())


def _read(path: str, *, must_exist: bool, allow_fifo: bool = False) -> bytes | None:
    try:
        if allow_fifo and _is_null_device(path):
            return b""  # ``--registries-conf /dev/null``: no configuration, as skopeo reads it
        try:
            data = read_file_at_most(path, MAX_REGISTRIES_CONF_FILE, f"registries configuration {path}",
                                     allow_fifo=allow_fifo)
        except LimitExceededError as exc:
            if exc.code != "pipe-stalled":
                raise
            raise ConfigError(exc.message, code="config-unreadable", context={"file": path}) from None
        if allow_fifo and not data and stat.S_ISFIFO(os.stat(path).st_mode):
            # A writer that closes the pipe without writing gives an empty read, and an empty
            # file is a valid configuration: its [[registry]] rules (``blocked`` ones too)
            # would be silently dropped. Refused instead (fail closed).
            raise ConfigError(f"registries configuration {path} is a pipe that gave no data",
                              code="config-unreadable", context={"file": path})
        return data
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"registries configuration {path} does not exist", code="registries-conf-not-found",
                              context={"file": path}) from None
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read registries configuration {path}: {exc.strerror}",
                          code="config-unreadable", context={"file": path}) from None


def _is_null_device(path: str) -> bool:
    """Whether ``path`` is the null device (the one device a configuration file may be: it is empty)."""
    try:
        st, null = os.stat(path), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev


# -- parsing one file ----------------------------------------------------------------------


def _invalid(file: str, where: str, message: str) -> ConfigError:
    return ConfigError(f"{file}: {where}: {message}", code="registries-conf-invalid",
                       context={"file": file, "entry": where})


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _q(text: str) -> str:
    """``text`` in double quotes, as Go's ``%q`` in containers/image's messages (close enough: JSON escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _get(table: Mapping[str, Any], key: str, kind: type, file: str, where: str, default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        expected = "a boolean" if kind is bool else _type_name(kind())
        raise _invalid(file, where, f"{key} must be {expected}, not {_type_name(value)}")
    return value


#: The non-ASCII runes Go's ``strings.EqualFold`` folds onto an ASCII letter (``unicode.SimpleFold``
#: orbits): U+017F LATIN SMALL LETTER LONG S with "s", U+212A KELVIN SIGN with "k".
_GO_EXTRA_FOLDS = {"s": "\u017f", "k": "\u212a"}


def _go_equal_fold(key: str, name: str) -> bool:
    """``strings.EqualFold(name, key)`` for an ASCII lower-case field ``name`` (as BurntSushi/toml matches)."""
    if len(key) != len(name):
        return False
    for k, n in zip(key, name, strict=True):
        if k != n and not (n.isalpha() and (k == n.upper() or k == _GO_EXTRA_FOLDS.get(n))):
            return False
    return True


def _canonical_keys(table: Mapping[str, Any], known: frozenset[str], file: str, where: str,
                    warnings: list[ConfigWarning]) -> dict[str, Any]:
    """``table`` with its keys matched to ``known`` as containers/image's TOML decoder matches them.

    BurntSushi/toml fills a field from a key of the same name or, failing that, from a key equal to
    it ignoring case (``Blocked = true`` blocks, as skopeo shows): such a key is used under its
    canonical name, with a warning. Two keys for one field with different values are an error
    (containers/image would pick one at random); a key matching no field is an unknown key (warned).
    """
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in table.items():
        canonical = key if key in known else next((n for n in sorted(known) if _go_equal_fold(key, n)), None)
        if canonical is None:
            warnings.append(ConfigWarning(file, f"{where}.{key}" if where else key,
                                          "unknown key, ignored (containers/image ignores it too)"))
            continue
        if canonical != key:
            warnings.append(ConfigWarning(file, f"{where}.{key}" if where else key,
                                          f"read as {canonical!r} (containers/image matches keys ignoring case)"))
        if canonical in out and out[canonical] != value:
            raise _invalid(file, where or canonical,
                           f"keys {spelled[canonical]!r} and {key!r} both set {canonical!r}, to different values "
                           "(containers/image would use either)")
        out[canonical] = value
        spelled[canonical] = key
    return out


def _check_location(value: str, file: str, where: str, key: str) -> str:
    """containers/image ``parseLocation`` plus a check that the value can start a reference."""
    trimmed = value.rstrip("/")
    if trimmed.startswith(("http://", "https://")):
        raise _invalid(file, where, f"invalid {key} {value!r}: URI schemes are not supported")
    if not trimmed:
        return ""
    if trimmed.startswith("*."):
        if key != "prefix":
            raise _invalid(file, where, f"invalid {key} {value!r}: only a prefix may be a *.domain wildcard")
        domain = trimmed[2:]
        if any(c in domain for c in "/@:") or not is_valid_domain(domain) or "*" in domain:
            raise _invalid(file, where, f"wildcarded prefix should be in the format *.example.com, not {value!r}")
        return trimmed
    # "/x/x": "docker.io" (and "docker.io/x") begin only references of two or more path
    # components ("docker.io/x" is not canonical: it means docker.io/library/x).
    for candidate in (trimmed, trimmed + "/x", trimmed + "/x/x"):
        try:
            parse_named(candidate)
            return trimmed
        except InvalidReferenceError:
            continue
    raise _invalid(file, where, f"invalid {key} {value!r}: not a registry host[:port][/path] "
                                "(a host needs a \".\" or \":\", or is \"localhost\") or a fully expanded reference")


def _parse_mirror(raw: Any, file: str, where: str, reg_digest_only: bool, prefix: str,
                  warnings: list[ConfigWarning]) -> Endpoint:
    if not isinstance(raw, dict):
        raise _invalid(file, where, f"must be a table, not {_type_name(raw)}")
    raw = _canonical_keys(raw, _MIRROR_KEYS, file, where, warnings)
    # NOTE(go-diff): the mirror's location without its trailing slashes, as the newest
    # containers/image keeps it; 5.23 (skopeo 1.9) checks the trimmed value but keeps the
    # original, so "mirror.example.com/" rewrites to an invalid "mirror.example.com//ns/repo".
    location = _check_location(_get(raw, "location", str, file, where, ""), file, where, "location")
    if not location:
        raise _invalid(file, where, "invalid condition: mirror location is unset")
    pull_from = _get(raw, "pull-from-mirror", str, file, where, "")
    if pull_from and reg_digest_only:  # checked first, as containers/image does
        raise _invalid(file, where, f"cannot set mirror usage mirror-by-digest-only for the registry ({_q(prefix)}) "
                                    f"and pull-from-mirror for per-mirror ({_q(location)}) at the same time")
    if pull_from and pull_from not in PULL_FROM_MIRROR_VALUES:
        raise _invalid(file, where, f"unsupported pull-from-mirror value {_q(pull_from)} for mirror {_q(location)} "
                                    f"(use one of {', '.join(PULL_FROM_MIRROR_VALUES)})")
    return Endpoint(location, _get(raw, "insecure", bool, file, where, False), pull_from)


def _parse_registry(raw: Any, file: str, entry: int, warnings: list[ConfigWarning]) -> Registry:
    where = f"[[registry]] #{entry}"
    if not isinstance(raw, dict):
        raise _invalid(file, where, f"must be a table, not {_type_name(raw)}")
    named = _canonical_keys(raw, _REGISTRY_KEYS, file, where, [])  # for the label; warned below
    given_prefix = named.get("prefix")
    if isinstance(given_prefix, str) and given_prefix:
        where += f' (prefix "{given_prefix}")'
    elif isinstance(named.get("location"), str):
        where += f' (location "{named["location"]}")'
    raw = _canonical_keys(raw, _REGISTRY_KEYS, file, where, warnings)
    location = _check_location(_get(raw, "location", str, file, where, ""), file, where, "location")
    prefix = _get(raw, "prefix", str, file, where, "")
    if prefix:
        prefix = _check_location(prefix, file, where, "prefix")
        if not location and not prefix.startswith("*."):
            raise _invalid(file, where, "invalid condition: location is unset and prefix is not in the format "
                                        "*.example.com")
    else:
        if not location:
            raise _invalid(file, where, "invalid condition: both location and prefix are unset")
        prefix = location
    if _get(raw, "pull-from-mirror", str, file, where, ""):
        raise _invalid(file, where, f"pull-from-mirror must not be set for a non-mirror registry {_q(prefix)}")
    digest_only = _get(raw, "mirror-by-digest-only", bool, file, where, False)
    raw_mirrors = _get(raw, "mirror", list, file, where, [])
    mirrors = tuple(
        _parse_mirror(m, file, f"{where} [[registry.mirror]] #{i}", digest_only, prefix, warnings)
        for i, m in enumerate(raw_mirrors, 1)
    )
    return Registry(
        prefix=prefix, location=location, insecure=_get(raw, "insecure", bool, file, where, False),
        blocked=_get(raw, "blocked", bool, file, where, False), mirror_by_digest_only=digest_only,
        mirrors=mirrors, file=file, entry=entry,
    )


def _check_ignored(doc: Mapping[str, Any], file: str) -> None:
    """Check the keys we accept without using them as containers/image does when loading.

    skopeo refuses a file whose search registries, short-name mode or aliases are invalid,
    also for a command that never resolves a short name: so do we, naming the entry.
    """
    for key in ("unqualified-search-registries", "credential-helpers"):
        value = doc.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _invalid(file, key, "must be an array of strings")
    for key in ("short-name-mode", "additional-layer-store-auth-helper"):
        if key in doc and not isinstance(doc[key], str):
            raise _invalid(file, key, f"must be a string, not {_type_name(doc[key])}")
    aliases = doc.get("aliases")
    if aliases is not None and not (isinstance(aliases, dict) and all(isinstance(v, str) for v in aliases.values())):
        raise _invalid(file, "aliases", "must be a table of strings")
    _check_search(doc.get("unqualified-search-registries") or [], file, "unqualified-search-registries")
    for helper in doc.get("credential-helpers") or []:
        if not is_valid_helper_name(helper):
            raise _invalid(file, "credential-helpers", f"invalid credential helper name {helper!r}")
    mode = doc.get("short-name-mode")
    if mode not in (None, *SHORT_NAME_MODES):
        raise _invalid(file, "short-name-mode", f"invalid short-name mode {mode!r}: must be one of "
                       + ", ".join(repr(m) for m in SHORT_NAME_MODES if m))
    problems = [problem for name, value in (aliases or {}).items()
                for problem in (_alias_problem(name, value=False), value and _alias_problem(value, value=True))
                if problem]
    if problems:  # all of them at once, as containers/image reports them
        raise _invalid(file, "aliases", "; ".join(problems))


def _check_search(entries: Sequence[str], file: str, where: str) -> None:
    """containers/image's check of ``UnqualifiedSearchRegistries`` (also the version 1 search list):
    ``parseLocation``, then the whole entry must be a registry host[:port]."""
    for entry in entries:
        registry = entry.rstrip("/")
        if registry.startswith(("http://", "https://")):
            raise _invalid(file, where, f"invalid location {entry!r}: URI schemes are not supported")
        if not is_valid_domain(registry):
            raise _invalid(file, where, f"Invalid unqualified-search-registries entry {entry!r}: must be a "
                                        "registry host[:port], without a path")


def is_valid_helper_name(name: str) -> bool:
    """A NAME that runs ``docker-credential-NAME`` from PATH, never a path (``../x``, ``.hidden``)
    nor a name no program can have (a NUL byte: ``exec`` would raise ValueError)."""
    return bool(name) and "/" not in name and "\0" not in name and not name.startswith(".")


#: ``short-name-mode`` values (``""``: the default, ``enforcing``).
SHORT_NAME_MODES = ("", "disabled", "permissive", "enforcing")


def _alias_problem(text: str, *, value: bool) -> str | None:
    """containers/image ``validateShortName`` (an alias's key: a short name) or, for the
    ``value``, ``parseShortNameValue`` (registry and repository); neither tagged nor digested."""
    what = "alias" if value else "short name"
    try:
        domain, _path, tag, digest = split_reference(text)
    except InvalidReferenceError as exc:
        return f"invalid {what} {text!r}: {exc.message}"
    if digest is not None:
        return f"invalid {what} {text!r}: must not contain a digest"
    if tag is not None:
        return f"invalid {what} {text!r}: must not contain a tag"
    has_registry = "." in domain or ":" in domain or domain == "localhost"
    if value and not has_registry:
        return f"invalid {what} {text!r}: must contain registry and repository"
    if not value and has_registry:
        return f"invalid {what} {text!r}: must not contain a registry"
    return None


def _v1_registries(doc: Mapping[str, Any], file: str, warnings: list[ConfigWarning]) -> dict[str, list[str]]:
    """The version 1 lists the file *sets* (containers/image ``hasSetField``: ``registries = []`` counts)."""
    raw = doc.get("registries")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _invalid(file, "registries", f"must be a table, not {_type_name(raw)}")
    out: dict[str, list[str]] = {}
    for section, raw_table in _canonical_keys(raw, frozenset(_V1_SECTIONS), file, "registries", warnings).items():
        where = f"registries.{section}"
        if not isinstance(raw_table, dict):
            raise _invalid(file, where, "must be a table")
        table = _canonical_keys(raw_table, frozenset({"registries"}), file, where, warnings)
        if "registries" not in table:
            continue
        values = table["registries"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _invalid(file, f"{where}.registries", "must be an array of strings")
        out[section] = values
    return out


def _v1_to_registries(v1: Mapping[str, list[str]], file: str) -> list[Registry]:
    """containers/image ``ConvertToV2``: one entry per location, blocked and insecure flags merged."""
    order: list[str] = []
    flags: dict[str, dict[str, bool]] = {}
    empty: tuple[str, str] | None = None
    for section, flag in (("block", "blocked"), ("insecure", "insecure")):
        for value in v1.get(section, []):
            location = _check_location(value, file, f"registries.{section}", "location")
            if not location and empty is None:
                empty = (section, value)
            if location not in flags:
                order.append(location)
                flags[location] = {"blocked": False, "insecure": False}
            flags[location][flag] = True
    if empty is not None:
        # "" or "/": containers/image refuses the entry it converts this to (after checking every
        # location of both lists, as we do).
        raise _invalid(file, f"registries.{empty[0]}", "invalid condition: both location and prefix are unset "
                                                       f"(entry {_q(empty[1])})")
    # The search list becomes unqualified-search-registries, checked as such (hosts only), last.
    _check_search(v1.get("search", []), file, "registries.search")
    return [Registry(prefix=loc, location=loc, insecure=flags[loc]["insecure"], blocked=flags[loc]["blocked"],
                     file=file) for loc in order]


def _v2_set_keys(doc: Mapping[str, Any]) -> list[str]:
    """The version 2 keys the file sets, as containers/image's ``hasSetField`` sees them: an array or
    table counts even when empty, a string only when not empty."""
    return [k for k in ("registry", "unqualified-search-registries", "credential-helpers", "aliases",
                        "short-name-mode", "additional-layer-store-auth-helper")
            if k in doc and doc[k] != ""]


#: Most dots one line of TOML may hold outside strings (a dotted key ``a.b.c`` or table header).
_TOML_MAX_DOTS_PER_LINE = 64
#: Sum over lines of (dots outside strings)²: tomllib keeps every prefix of a dotted key, so
#: its memory and time grow with the square of a key's length (a 4 MiB ``a.a.a…= 1`` takes
#: tens of GiB).
_TOML_DOT_BUDGET = 1 << 20


def _outside_strings(text: str) -> str:
    """``text`` with every string replaced by ``""`` and every comment removed (roughly: for counting)."""
    import re

    return re.sub(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*', '""', text)


def _toml_too_complex(text: str) -> str | None:
    """Why ``text`` is refused before tomllib sees it (dotted keys too long), or None."""
    if text.count(".") <= _TOML_MAX_DOTS_PER_LINE:
        return None  # the common, cheap case
    outside = _outside_strings(text)
    budget = 0
    for number, line in enumerate(outside.splitlines(), 1):
        dots = line.count(".")
        budget += dots * dots
        if dots > _TOML_MAX_DOTS_PER_LINE:
            return f"line {number}: a dotted key or table name with more than {_TOML_MAX_DOTS_PER_LINE} parts"
        if budget > _TOML_DOT_BUDGET:
            return f"line {number}: too many long dotted keys"
    return None


def parse_toml(file: str, data: bytes) -> dict[str, Any]:
    """The TOML document ``data`` (the contents of ``file``), read as containers/image's decoder
    (BurntSushi/toml) reads it, or a :class:`ConfigError` naming ``file``.

    Python's ``tomllib`` and BurntSushi/toml implement the same TOML 1.0; where they differ,
    the newest containers/image's (BurntSushi/toml 1.5) behaviour is followed, or refusing is
    documented here (tests/unit/sysregistries/test_registries_toml_goracle.py compares them):

    - A leading byte order mark is skipped: UTF-8's, and (as BurntSushi/toml does) the two
      bytes of a UTF-16 one in either order. The rest must be UTF-8.
    - As BurntSushi/toml, and unlike ``tomllib``: integers outside the signed 64-bit range,
      floats too large for a double (``1e400``; ``inf`` is written as such) and times with
      more than nine fractional digits of a second are refused.
    - NOTE(go-diff): refused, fail closed, though BurntSushi/toml (1.2 and 1.5) reads them:
      text that is not TOML 1.0, where a key is defined a second time and either value is an
      array (``a = []`` then ``a = "x"``, or ``[a]``; the last one wins in Go), or a table
      defined inline is extended later (``a = {}`` then ``a.b = 1`` or ``[a.b]``). Which
      definition the author meant is ambiguous.
    - Refused, fail closed (BurntSushi/toml reads them): a dotted key or table name of more
      than 64 parts (tomllib's memory grows with the square of its length), arrays or inline
      tables nested past the interpreter's recursion limit, files over 4 MiB (see
      :func:`load_registries_conf`), a time zone offset of 24 hours or more (Go before 1.20
      reads any).
    """
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if data.startswith(bom):
            data = data[len(bom):]
            break
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                          code="registries-conf-invalid", context={"file": file}) from None
    problem = _toml_too_complex(text)
    if problem is not None:
        raise ConfigError(f"{file}: invalid TOML: {problem}", code="registries-conf-invalid",
                          context={"file": file})
    try:
        doc = tomllib.loads(text, parse_float=_parse_toml_float)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}", code="registries-conf-invalid",
                          context={"file": file}) from None
    except RecursionError:  # arrays/inline tables nested past the interpreter's recursion limit
        raise ConfigError(f"{file}: invalid TOML: arrays or inline tables nested too deeply",
                          code="registries-conf-invalid", context={"file": file}) from None
    except ValueError as exc:  # e.g. an integer of more than sys.get_int_max_str_digits() digits
        raise ConfigError(f"{file}: invalid TOML: {str(exc).split(';')[0]}", code="registries-conf-invalid",
                          context={"file": file}) from None
    problem = _beyond_go_ranges(doc, text)
    if problem is not None:
        raise ConfigError(f"{file}: invalid TOML: {problem}", code="registries-conf-invalid", context={"file": file})
    return doc


def _parse_toml_float(text: str) -> float:
    """A TOML float, refused (as BurntSushi/toml refuses it) when it is too large for a double."""
    value = float(text)
    if math.isinf(value) and "inf" not in text:
        raise ValueError(f"{text} is out of range for float64")
    return value


def _beyond_go_ranges(doc: Any, text: str) -> str | None:
    """What in ``doc`` Go's decoder cannot hold: an integer beyond int64, a time beyond nanoseconds."""
    stack = [doc]
    has_time = False
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < 1 << 63:
            # A hex, octal or binary literal has no digit limit in tomllib, but printing it in
            # decimal does (sys.get_int_max_str_digits): name a long one by its size instead.
            if value.bit_length() > 256:
                return f"an integer of {value.bit_length()} bits is out of range for int64"
            return f"{value} is out of range for int64"
        elif isinstance(value, datetime.date | datetime.time):
            has_time = True
    if has_time:
        import re

        match = re.search(r"\d:\d\d\.\d{10,}", _outside_strings(text))
        if match is not None:
            return f"a time with more than nine fractional digits of a second ({match[0]})"
    return None


def _parse_file(file: str, data: bytes, warnings: list[ConfigWarning], *,
                dropin: bool) -> tuple[list[Registry], tuple[str, ...] | None]:
    """One file → its entries (deduplicated by prefix, first wins, as containers/image) and its
    ``credential-helpers`` (None when it does not set the key; an empty list is set)."""
    doc = parse_toml(file, data)
    doc = _canonical_keys(doc, _REGISTRY_TOP_KEYS, file, "", warnings)
    _check_ignored(doc, file)
    v1 = _v1_registries(doc, file, warnings)
    if v1:  # containers/image: any version 1 list set, even an empty one, makes a version 1 file
        if dropin:
            raise _invalid(file, "registries", "a drop-in file must use the version 2 format "
                                               "(registry must be in v2 format but is in v1)")
        v2_keys = _v2_set_keys(doc)
        if v2_keys:
            raise _invalid(file, "registries", "mixing sysregistry v1/v2 is not supported: the version 1 "
                                               f"[registries.*] lists cannot be combined with {', '.join(v2_keys)}")
        registries = _v1_to_registries(v1, file)
    else:
        raw = doc.get("registry", [])
        if not isinstance(raw, list):
            raise _invalid(file, "registry", f"must be an array of tables ([[registry]]), not {_type_name(raw)}")
        registries = [_parse_registry(r, file, i, warnings) for i, r in enumerate(raw, 1)]
    _check_conflicts(registries, file)
    unique: dict[str, Registry] = {}
    for reg in registries:
        if reg.prefix in unique:
            warnings.append(ConfigWarning(file, reg.label,
                                          f"ignored: {unique[reg.prefix].label} has the same prefix and comes first"))
            continue
        unique[reg.prefix] = reg
    helpers = doc.get("credential-helpers")
    return list(unique.values()), None if helpers is None else tuple(helpers)


_REGISTRY_TOP_KEYS = frozenset({"registry", "registries"}) | _IGNORED_TOP_KEYS


def _check_conflicts(registries: Sequence[Registry], file: str) -> None:
    """Entries for the same location must agree on ``insecure`` and ``blocked``."""
    by_location: dict[str, Registry] = {}
    for reg in registries:
        key = reg.location or reg.prefix
        other = by_location.setdefault(key, reg)
        for flag in ("insecure", "blocked"):
            if getattr(reg, flag) != getattr(other, flag):
                raise ConfigError(
                    f"{file}: registry {key!r} is defined multiple times with conflicting {flag!r} setting "
                    f"({other.label} and {reg.label})",
                    code="registries-conf-invalid", context={"file": file, "location": key},
                )
