"""trustcopy's registries.conf handling against containers/image's pkg/sysregistriesv2, on generated files.

The vectors in test_sysregistries_cimage_vectors.py restate containers/image's tests; here
hypothesis assembles registries.conf files (and drop-ins) from the format's pieces: ``[[registry]]``
entries with prefixes (``*.example.com`` wildcards, ports, paths, tags and digests, trailing
slashes), locations (empty, with URI schemes), ``[[registry.mirror]]`` tables with
``pull-from-mirror``, ``blocked``/``insecure``, ``mirror-by-digest-only``, the top-level keys,
the version 1 ``[registries.*]`` lists (alone and mixed with version 2 keys), unknown keys, keys
spelled in other letter cases, written as table headers or inline. The Go oracle
(tests/goracle/registries) loads the same files through a ``SystemContext`` and answers whether
loading fails (and why), the merged entries, ``FindRegistry`` for names and hosts,
``PullSourcesFromReference`` (with what blocks each physical reference) and the credential
helpers; trustcopy must agree.

trustcopy keeps neither the search registries, the short-name mode nor the aliases (it does not
resolve short names): for those only accepting or refusing a file is compared.

Known differences, each asserted narrowly where it applies (see :func:`_known_refusal`):

- trustcopy follows the *newest* containers/image where 5.23 (the oracle) differs: a mirror's
  location loses its trailing slashes (5.23 keeps them; NOTE(go-diff) in ``load._parse_mirror``),
  so the oracle is given the file with them already removed; and a version 1 list or a
  version 2 key set to an empty array decides the format (``hasSetField``, package docstring of
  ``trustcopy.sysregistries``).
- trustcopy is stricter (package docstring, "parsed strictly"): a prefix or location that cannot
  begin a reference (containers/image fails only when it rewrites a reference with it, or never
  matches it), a wildcard that is not ``*.`` and a host, a credential helper that is a path
  (``load.is_valid_helper_name``).
- Bracketed IPv6 hosts (NOTE(go-diff) in trustcopy/reference.py).
"""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import event, example, given
from hypothesis import strategies as st

from trustcopy.errors import ConfigError, InvalidReferenceError, LimitExceededError
from trustcopy.reference import DockerReference, parse_named
from trustcopy.sysregistries import RegistriesConf, Registry, load_registries_conf

pytestmark = pytest.mark.goracle

A64 = "a" * 64
DIGEST = "@sha256:" + A64


oracle = oracle_fixture("registries", "containers/image's sysregistriesv2")


# -- a small TOML model: tables keep their keys as written (several spellings of one key) --------


class Table(list[tuple[str, Any]]):
    """A TOML table as (key as written, value) pairs, in order."""


def _fold(key: str) -> str:
    """A key as Go's ``strings.EqualFold`` compares it with our ASCII field names."""
    return key.replace("\u017f", "s").replace("\u212a", "k").lower()


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Table):
        return "{" + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value) + "}"
    return "[" + ", ".join(_inline(v) for v in value) + "]"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, Table) and bool(value) and all(
        isinstance(v, Table) for v in value)


def _render_body(table: Table, path: list[str], lines: list[str]) -> None:
    later = []
    for k, v in table:
        if _is_table_array(v) or isinstance(v, Table):
            later.append((k, v))
        else:
            lines.append(f"{_key(k)} = {_inline(v)}")
    for k, v in later:
        name = ".".join(_key(p) for p in [*path, k])
        if isinstance(v, Table):
            lines.append(f"[{name}]")
            _render_body(v, [*path, k], lines)
        else:
            for t in v:
                lines.append(f"[[{name}]]")
                _render_body(t, [*path, k], lines)


def render(doc: Table, headers: bool) -> str:
    """``doc`` as TOML: with ``[[table]]`` headers, or every value inline."""
    if not headers:
        return "".join(f"{_key(k)} = {_inline(v)}\n" for k, v in doc)
    lines: list[str] = []
    _render_body(doc, [], lines)
    return "\n".join(lines) + "\n"


def _lookup(table: Table, name: str) -> list[Any]:
    """Every value ``table`` gives the field ``name`` (any spelling)."""
    return [v for k, v in table if _fold(k) == name]


def _as_523(doc: Table) -> Table:
    """``doc`` as containers/image 5.23 must see it to behave as the newest does: mirror
    locations without trailing slashes (the newest stores parseLocation's result, 5.23 drops it)."""
    def mirror(t: Table) -> Table:
        return Table((k, v.rstrip("/") if _fold(k) == "location" and isinstance(v, str) else v) for k, v in t)

    def registry(t: Any) -> Any:
        if not isinstance(t, Table):
            return t
        return Table((k, [mirror(m) if isinstance(m, Table) else m for m in v]
                      if _fold(k) == "mirror" and isinstance(v, list) else v) for k, v in t)

    return Table((k, [registry(r) for r in v] if _fold(k) == "registry" and isinstance(v, list) else v)
                 for k, v in doc)


# -- generating the pieces --------------------------------------------------------------------

HOSTS = ["example.com", "example.com:5000", "sub.example.com", "a.sub.example.com", "localhost", "localhost:5000",
         "reg.io", "docker.io", "10.0.0.1:443", "mirror.org"]
BAD_HOSTS = ["Example.com", "foo", "ex_ample.com", "[::1]:5000", "-x.com", "example.com:x"]
PATHS = ["", "/ns", "/ns/repo", "/library", "/ns/repo/sub", "/repo"]
BAD_PATHS = ["/Ns", "//ns", "/-x", "/ns:tag/x"]
SUFFIXES = ["", "/", "//", ":tag", DIGEST]
WILDCARDS = ["*.example.com", "*.sub.example.com", "*.com", "*.io", "*.org", "*.example.com:5000", "*.example.com/ns",
             "*example.com", "**.example.com", "*.", "*.Example.com", "*.ex*ample.com", "*.example.com/", "*.x@y"]


def _spellings(name: str) -> st.SearchStrategy[str]:
    """``name`` as written: mostly exact, sometimes in another case (or with a Unicode fold)."""
    variants = {name.capitalize(), name.upper(), name.title(), name.swapcase()}
    if "s" in name:
        variants.add(name.replace("s", "\u017f", 1))
    if "k" in name:
        variants.add(name.replace("k", "\u212a", 1))
    variants.discard(name)
    return st.one_of(st.just(name), st.just(name), st.just(name), st.sampled_from(sorted(variants)))


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], percent: int) -> st.SearchStrategy[Any]:
    """``good``, and ``bad`` about ``percent`` % of the time: one fault a file, not a fault a line."""
    return st.integers(0, 99).flatmap(lambda n: bad if n < percent else good)


hosts = mostly(st.sampled_from(HOSTS), st.sampled_from(BAD_HOSTS), 2)
paths = mostly(st.sampled_from(PATHS), st.sampled_from(BAD_PATHS), 2)
suffixes = mostly(st.just(""), st.sampled_from(SUFFIXES), 8)
schemes = mostly(st.just(""), st.sampled_from(["http://", "https://"]), 1)
locations = mostly(st.builds(lambda s, h, p, x: s + h + p + x, schemes, hosts, paths, suffixes),
                   st.sampled_from(["", "/"]), 2)
prefixes = mostly(locations, mostly(st.sampled_from(WILDCARDS[:5]), st.sampled_from(WILDCARDS[5:]), 15), 25)
helpers = mostly(st.sampled_from(["pass", "secretservice", "containers-auth.json", "osxkeychain"]),
                 st.sampled_from(["", "../evil", ".hidden", "a/b"]), 8)
search_entries = mostly(st.sampled_from(HOSTS), hosts | st.sampled_from(["example.com/ns", "http://x.com", "x.com/",
                                                                          "", "*.example.com"]), 8)
modes = mostly(st.sampled_from(["enforcing", "permissive", "disabled"]), st.sampled_from(["prompt", "", "Enforcing"]),
               8)
alias_names = mostly(st.sampled_from(["foo", "ns/foo", "library/bar"]),
                     st.sampled_from(["Foo", "example.com/foo", "foo:tag", "foo" + DIGEST, "localhost/x"]), 10)
alias_values = mostly(st.sampled_from(["example.com/foo", "docker.io/library/foo", "docker.io/foo", "",
                                       "localhost/x"]),
                      st.sampled_from(["foo", "example.com/foo:tag", "Example.com/x", "example.com/x" + DIGEST]), 10)
unknown_keys = st.sampled_from(["mirrors", "Prefixx", "foo", "location2", "registries-search", "x"])
scalars = st.one_of(st.booleans(), st.integers(0, 3), st.sampled_from(["", "x", "true"]))


def _optional(draw: st.DrawFn, table: Table, name: str, values: st.SearchStrategy[Any], p: float) -> None:
    """Add ``name`` (in some spelling) with a drawn value, with probability about ``p``; rarely the
    same value a second time under another spelling (containers/image reads either)."""
    if draw(st.integers(0, 99)) >= p * 100:
        return
    value = draw(values)
    spelled = draw(_spellings(name))
    table.append((spelled, value))
    if not isinstance(value, list) and draw(st.integers(0, 19)) == 0:
        other = draw(_spellings(name))
        if other != spelled:
            table.append((other, value))


def _unknown(draw: st.DrawFn, table: Table, p: float) -> None:
    if draw(st.integers(0, 99)) < p * 100:
        key = draw(unknown_keys)
        if all(_fold(k) != _fold(key) for k, _ in table):
            table.append((key, draw(scalars)))


bools = st.booleans()
# Rarely a wrong type: the TOML decoder refuses it.
flags = mostly(bools, st.sampled_from(["true", 1]), 2)


@st.composite
def mirrors(draw: st.DrawFn) -> Table:
    """A ``[[registry.mirror]]`` table."""
    t = Table()
    _optional(draw, t, "location", locations, 0.98)
    _optional(draw, t, "insecure", flags, 0.3)
    _optional(draw, t, "pull-from-mirror", mostly(st.sampled_from(["all", "digest-only", "tag-only", ""]),
                                                  st.sampled_from(["Digest-Only", "bogus"]), 5), 0.4)
    _unknown(draw, t, 0.05)
    return t


@st.composite
def registries(draw: st.DrawFn) -> Table:
    """A ``[[registry]]`` table."""
    t = Table()
    _optional(draw, t, "prefix", prefixes, 0.7)
    _optional(draw, t, "location", locations, 0.95)
    _optional(draw, t, "insecure", flags, 0.3)
    _optional(draw, t, "blocked", flags, 0.3)
    _optional(draw, t, "mirror-by-digest-only", flags, 0.1)
    _optional(draw, t, "pull-from-mirror", st.sampled_from(["all", "digest-only"]), 0.02)
    _optional(draw, t, "mirror", st.lists(mirrors(), max_size=3), 0.5)
    _unknown(draw, t, 0.1)
    return t


@st.composite
def v1_lists(draw: st.DrawFn) -> Table:
    """The version 1 ``[registries]`` table: some of search/insecure/block, lists maybe empty."""
    t = Table()
    for section, values in (("search", search_entries), ("insecure", locations), ("block", locations)):
        if draw(st.booleans()):
            inner = Table()
            if draw(st.integers(0, 9)) < 8:
                inner.append((draw(_spellings("registries")), draw(st.lists(values, max_size=3))))
            t.append((draw(_spellings(section)), inner))
    return t


@st.composite
def documents(draw: st.DrawFn, dropin: bool = False) -> Table:
    """One registries.conf file: version 2 keys, sometimes version 1 lists (alone or mixed)."""
    doc = Table()
    v1 = draw(st.integers(0, 99)) < (5 if dropin else 15)
    if not v1 or draw(st.integers(0, 3)) == 0:
        _optional(draw, doc, "unqualified-search-registries", st.lists(search_entries, max_size=3), 0.3)
        _optional(draw, doc, "credential-helpers", st.lists(helpers, max_size=3), 0.2)
        _optional(draw, doc, "short-name-mode", modes, 0.15)
        _optional(draw, doc, "aliases", st.lists(st.tuples(alias_names, alias_values), max_size=3).map(
            lambda pairs: Table(dict(pairs).items())), 0.15)
        _optional(draw, doc, "registry", st.lists(registries(), max_size=2 if dropin else 4), 0.9)
        # Newest containers/image only (5.23 ignores it as an unknown key).
        _optional(draw, doc, "additional-layer-store-auth-helper", st.sampled_from(["", "helper"]), 0.03)
    if v1:
        doc.append((draw(_spellings("registries")), draw(v1_lists())))
    _unknown(draw, doc, 0.1)
    return doc


@st.composite
def setups(draw: st.DrawFn) -> tuple[Table | None, list[tuple[str, Table]], bool]:
    """A main file (None: missing), drop-ins by name, and whether to write table headers."""
    main = None if draw(st.integers(0, 49)) == 0 else draw(documents())
    names = draw(st.permutations(["01-a.conf", "02-b.conf", "10.conf", "x.ignore"]))[:draw(st.integers(0, 2))]
    return main, [(n, draw(documents(dropin=True))) for n in names], draw(st.booleans())


# -- what to ask about ------------------------------------------------------------------------

REF_PATHS = ["/ns/repo", "/repo", "/library/busybox", "/ns/repo/sub", "/x", "/library/x"]


def _queries(docs: list[Table]) -> tuple[list[str], list[str], list[str]]:
    """Names (and hosts) for FindRegistry, references to pull, and every prefix/location written."""
    written: list[str] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Table):
            for k, v in value:
                walk(v, _fold(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in ("prefix", "location", "registries"):
            written.append(value)

    for doc in docs:
        walk(doc, "")
    hosts_seen = set(HOSTS)
    for w in written:
        host = w.split("://")[-1].lstrip("*.").split("/")[0].split("@")[0]
        if host:
            hosts_seen.add(host)
    refs = []
    for host in sorted(hosts_seen):
        for path in REF_PATHS:
            for tail in (":latest", DIGEST):
                text = host + path + tail
                try:
                    parse_named(text)
                except InvalidReferenceError:
                    continue
                refs.append(text)
    refs = refs[:: max(1, len(refs) // 30)]
    # And references under each prefix written (for a wildcard: under a host it matches).
    for value in written:
        w = value.rstrip("/")
        base = "sub" + w[1:] if w.startswith("*.") else w
        for tail in ("/repo:latest", "/ns/x" + DIGEST):
            try:
                parse_named(base + tail)
            except InvalidReferenceError:
                continue
            refs.append(base + tail)
    refs = sorted(set(refs))
    names = sorted({r.split(":latest")[0].split("@")[0] for r in refs} | hosts_seen
                   | {w.rstrip("/") for w in written if w})
    return names, refs, sorted(set(written) | {w.rstrip("/") for w in written} | {"x" + w[1:] for w in written
                                                                                  if w.startswith("*")})


# -- comparing ----------------------------------------------------------------------------------


def _go_class(message: str) -> str:
    """The reason of a containers/image loading error, without its wording."""
    for needle, cls in (("toml:", "toml"), ("type mismatch", "toml"), ("incompatible types", "toml"),
                        ("no such file", "not-found"), ("URI schemes are not supported", "uri-scheme"),
                        ("mixing sysregistry v1/v2", "mixing"), ("must be in v2 format but is in v1", "dropin-v1"),
                        ("unset", "unset"), ("pull-from-mirror", "pull-from-mirror"),
                        ("mirror-by-digest-only", "pull-from-mirror"), ("conflicting", "conflict"),
                        ("unqualified-search-registries", "search"), ("short-name mode", "short-name-mode"),
                        ("Wildcarded prefix", "wildcard"), ("short-name aliases", "aliases")):
        if needle in message:
            return cls
    return "other: " + message


def _our_class(message: str) -> str:
    """The reason of trustcopy's error, in the same terms as :func:`_go_class`."""
    for needle, cls in (("does not exist", "not-found"), ("URI schemes are not supported", "uri-scheme"),
                        ("mixing sysregistry v1/v2", "mixing"), ("must use the version 2 format", "dropin-v1"),
                        ("unset", "unset"), ("pull-from-mirror", "pull-from-mirror"),
                        ("conflicting", "conflict"), ("unqualified-search-registries", "search"),
                        ("registries.search:", "search"), ("short-name mode", "short-name-mode"),
                        ("wildcarded prefix should be", "wildcard"), (": aliases:", "aliases"),
                        ("invalid TOML", "toml"), (" must be ", "toml"),
                        ("not a registry host", "strict-location"),
                        ("only a prefix may be a *.domain wildcard", "strict-location"),
                        ("invalid credential helper name", "helper")):
        if needle in message:
            return cls
    return "other: " + message


def _nonempty_523(value: Any) -> bool:
    """containers/image 5.23's ``Nonempty``: an empty array or table counts as not set."""
    return value != [] and value != Table() and value != {}


def _format_sets(doc: Table) -> dict[str, bool]:
    """What decides the version 1/2 question, by the newest (``hasSetField``) and by 5.23 (``Nonempty``)."""
    v1_new = v1_523 = False
    for section_table in _lookup(doc, "registries"):
        if not isinstance(section_table, Table):
            continue
        for k, inner in section_table:
            if _fold(k) in ("search", "insecure", "block") and isinstance(inner, Table):
                for lists in _lookup(inner, "registries"):
                    v1_new = True
                    v1_523 = v1_523 or _nonempty_523(lists)
    v2_keys = ("registry", "unqualified-search-registries", "credential-helpers", "aliases", "short-name-mode")
    v2_values = [v for k, v in doc if _fold(k) in v2_keys]
    v2_new = any(v != "" for v in v2_values) or any(
        v != "" for v in _lookup(doc, "additional-layer-store-auth-helper"))
    v2_523 = any(v != "" and _nonempty_523(v) for v in v2_values)
    return {"v1_new": v1_new, "v1_523": v1_523, "v2_new": v2_new, "v2_523": v2_523}


def _known_refusal(cls: str, message: str, main: Table | None, dropins: list[tuple[str, Table]],
                   parsable: dict[str, bool], helpers_written: list[str]) -> bool:
    """Whether trustcopy refusing a file containers/image 5.23 accepts is a documented difference."""
    if cls == "strict-location" or cls == "wildcard":
        # The value our message names is one containers/image's own parser cannot begin a
        # reference with (for a wildcard: its host part).
        named = [v for v in parsable if repr(v) in message or repr(v.rstrip("/")) in message]
        candidates = [("x" + v[1:]) if v.startswith("*.") else v for v in named]
        return bool(candidates) and any(not parsable.get(c.rstrip("/"), True) or "[" in c for c in candidates)
    if cls == "helper":
        return any(h == "" or "/" in h or h.startswith(".") for h in helpers_written)
    if cls in ("mixing", "dropin-v1"):
        docs = [d for d in [main, *(d for n, d in dropins if n.endswith(".conf"))] if d is not None]
        for doc in docs:
            sets = _format_sets(doc)
            if cls == "mixing" and sets["v1_new"] and sets["v2_new"] and not (sets["v1_523"] and sets["v2_523"]):
                return True
            if cls == "dropin-v1" and sets["v1_new"] and not sets["v1_523"]:
                return True
        return False
    return False


def _registry_json(reg: Registry | None) -> dict[str, Any] | None:
    if reg is None:
        return None
    return {"prefix": reg.prefix, "location": reg.location, "insecure": reg.insecure, "blocked": reg.blocked,
            "mirrorByDigestOnly": reg.mirror_by_digest_only,
            "mirrors": [{"location": m.location, "insecure": m.insecure, "pullFromMirror": m.pull_from_mirror}
                        for m in reg.mirrors]}


def _pull_json(conf: RegistriesConf, ref: DockerReference) -> dict[str, Any]:
    registry = conf.find_registry(ref.name)
    out: dict[str, Any] = {"registry": registry.prefix if registry is not None else None, "sources": []}
    try:
        plan = conf.pull_plan(ref)
    except ConfigError as exc:
        out["error"] = exc.message
        return out
    assert plan.registry == registry
    out["sources"] = [{"reference": str(s.reference), "location": s.endpoint.location, "insecure": s.endpoint.insecure,
                       "pullFromMirror": s.endpoint.pull_from_mirror,
                       "blockedBy": s.blocked_by.prefix if s.blocked_by is not None else None}
                      for s in plan.sources]
    assert [s.mirror for s in plan.sources] == [True] * (len(plan.sources) - 1) + [False]
    if registry is None:
        # Without an entry, c/image pulls through a made-up one whose location is the whole
        # reference; ours is the repository name. Either way the reference itself is pulled.
        assert [(s.reference, s.endpoint.location) for s in plan.sources] == [(ref, ref.name)]
        out["sources"][0]["location"] = str(ref)
    return out


def check(oracle: Oracle, main: Table | None, dropins: list[tuple[str, Table]], headers: bool) -> None:
    """Load the files with both, compare everything trustcopy keeps."""
    docs = [d for d in [main, *(d for _, d in dropins)] if d is not None]
    names, refs, written = _queries(docs)
    helpers_written = [h for d in docs for v in _lookup(d, "credential-helpers") if isinstance(v, list) for h in v]
    with tempfile.TemporaryDirectory(prefix="tc-regconf-") as tmp:
        go_dir, our_dir = Path(tmp, "go"), Path(tmp, "ours")
        go = oracle.ask({"dir": str(go_dir), "conf": None if main is None else render(_as_523(main), headers),
                         "dropins": [[n, render(_as_523(d), headers)] for n, d in dropins],
                         "names": names, "refs": refs, "locations": written})
        our_dir.mkdir()
        (our_dir / "registries.conf.d").mkdir()
        texts = {"registries.conf": None if main is None else render(main, headers),
                 **{f"registries.conf.d/{n}": render(d, headers) for n, d in dropins}}
        for rel, text in texts.items():
            if text is not None:
                tomllib.loads(text)  # the generator writes valid TOML
                (our_dir / rel).write_text(text)
        described = "\n".join(f"--- {rel}\n{text}" for rel, text in texts.items())
        try:
            conf = load_registries_conf(str(our_dir / "registries.conf"), env={}, home=str(our_dir / "home"),
                                        system_dir=str(our_dir / "registries.conf.d"), report_warnings=False)
        except ConfigError as exc:
            ours = _our_class(exc.message)
            event(f"refused: {ours}")
            if "error" in go:
                theirs = _go_class(go["error"])
                # Two faults, each loader naming the one it checks first: ours must be one too.
                if ours != theirs and not _known_refusal(ours, exc.message, main, dropins, go["parsable"],
                                                         helpers_written):
                    again = _confirm(oracle, exc, main, dropins, headers, Path(tmp, "again"))
                    assert again == ours, (
                        f"both refuse, for different reasons: c/image {go['error']!r}, we {exc.message!r}; "
                        f"c/image on the part we blame: {again}\n{described}")
                return
            assert _known_refusal(ours, exc.message, main, dropins, go["parsable"], helpers_written), (
                f"we refuse, c/image accepts: {exc.message}\n{described}")
            return
    assert "error" not in go or _ipv6_only(go["error"]), (
        f"we accept, c/image refuses: {go['error']}\n{described}")
    if "error" in go:
        return
    event("accepted")
    assert [_registry_json(r) for r in conf.registries] == go["registries"], described
    assert list(conf.credential_helpers or ("containers-auth.json",)) == go["credentialHelpers"], described
    for name in names:
        assert _registry_json(conf.find_registry(name)) == go["find"][name], f"FindRegistry({name!r})\n{described}"
    for text in refs:
        ours_pull, theirs_pull = _pull_json(conf, parse_named(text)), go["pulls"][text]
        if "error" in theirs_pull and "error" not in ours_pull and any(
                "[" in r for r in [text, *(s["reference"] for s in ours_pull["sources"])]):
            continue  # IPv6: a bracketed host c/image's reference grammar lacks (NOTE(go-diff) in reference.py)
        assert ("error" in ours_pull) == ("error" in theirs_pull), (
            f"pull of {text}: c/image {theirs_pull}, we {ours_pull}\n{described}")
        if "error" in ours_pull:
            assert ours_pull["registry"] == theirs_pull["registry"]
            continue
        assert ours_pull == {"registry": theirs_pull["registry"], "sources": theirs_pull["sources"]}, (
            f"pull of {text}\n{described}")
        if len(ours_pull["sources"]) > 1:
            event("a pull through mirrors")
        if any(s["blockedBy"] for s in ours_pull["sources"]):
            event("a pull with a blocked source")


#: The boolean fields: the generator sometimes gives them a string or an integer, which Go's TOML
#: decoder refuses before containers/image checks anything else.
_FLAGS = ("insecure", "blocked", "mirror-by-digest-only")


def _without_wrong_types(value: Any) -> Any:
    if isinstance(value, Table):
        return Table((k, _without_wrong_types(v)) for k, v in value
                     if not (_fold(k) in _FLAGS and not isinstance(v, bool)))
    if isinstance(value, list):
        return [_without_wrong_types(v) for v in value]
    return value


def _blamed_part(doc: Table, exc: ConfigError) -> Table:
    """The part of ``doc`` our error names: one ``[[registry]]`` entry, one top-level key, or all of it."""
    if _our_class(exc.message) != "toml":
        doc = _without_wrong_types(doc)
    entry = str(exc.context.get("entry", ""))
    match = re.match(r"\[\[registry\]\] #(\d+)", entry)
    if match is not None and "conflicting" not in exc.message:
        index = int(match[1]) - 1
        mirror = re.search(r"\[\[registry\.mirror\]\] #(\d+)", entry)

        def narrowed(reg: Any) -> Any:
            # An entry's own fault: the entry without its mirrors; a mirror's: the entry with that one;
            # a bad prefix or location: that value alone, beside values that are fine.
            if not isinstance(reg, Table):
                return reg
            if re.search(r"(invalid|wildcarded) prefix ", exc.message):
                return Table([("prefix", _lookup(reg, "prefix")[0]), ("location", "reg.io")])
            if "invalid location " in exc.message:
                if mirror is None:
                    return Table([("location", _lookup(reg, "location")[0])])
                bad = [m for m in _lookup(reg, "mirror")[0] if isinstance(m, Table)][int(mirror[1]) - 1]
                return Table([("location", "reg.io"), ("mirror", [Table([("location", _lookup(bad, "location")[0])])])])
            if mirror is None:
                return Table((k, v) for k, v in reg if _fold(k) != "mirror")
            m = int(mirror[1]) - 1
            return Table((k, [v[m]] if _fold(k) == "mirror" and isinstance(v, list) and len(v) > m else v)
                         for k, v in reg)

        return Table((k, [narrowed(v[index])] if isinstance(v, list) and len(v) > index else v)
                     for k, v in doc if _fold(k) == "registry")
    top = entry.split(".", maxsplit=1)[0] if entry else ""
    if top and top != "registries" and "conflicting" not in exc.message:
        return Table((k, v) for k, v in doc if _fold(k) == top)
    return doc


def _confirm(oracle: Oracle, exc: ConfigError, main: Table | None, dropins: list[tuple[str, Table]], headers: bool,
             where: Path) -> str:
    """c/image's reason for refusing only the part of the files our error blames (its class)."""
    blamed = str(exc.context.get("file", ""))
    name = Path(blamed).name
    request: dict[str, Any]
    if blamed.endswith("/registries.conf") and main is not None:
        request = {"conf": render(_as_523(_blamed_part(main, exc)), headers), "dropins": []}
    else:
        doc = next(d for n, d in dropins if n == name)
        request = {"conf": "", "dropins": [[name, render(_as_523(_blamed_part(doc, exc)), headers)]]}
    go = oracle.ask({"dir": str(where), **request, "names": [], "refs": [], "locations": []})
    return _go_class(go["error"]) if "error" in go else "accepted"


def _ipv6_only(message: str) -> bool:
    """c/image refuses a bracketed IPv6 search registry trustcopy accepts (NOTE(go-diff) in reference.py)."""
    return "unqualified-search-registries" in message and "[" in message


def T(*pairs: tuple[str, Any]) -> Table:
    """A table, for the examples."""
    return Table(pairs)


def R(*pairs: tuple[str, Any]) -> Table:
    """A file with the one ``[[registry]]`` entry ``pairs``."""
    return T(("registry", [T(*pairs)]))


def V1(**lists: list[str]) -> Table:
    """A version 1 file: ``[registries.SECTION] registries = [...]``."""
    return T(("registries", T(*((section, T(("registries", values))) for section, values in lists.items()))))


Setup = tuple[Table | None, list[tuple[str, Table]], bool]


@given(setups())
# Fixed: Docker Hub itself as a prefix or location (the commonest mirror setup) was refused, since
# "docker.io/x" is not canonical; now "docker.io/x/x" vouches for it.
@example((R(("prefix", "docker.io"), ("location", "docker.io"), ("mirror", [T(("location", "mirror.gcr.io"))])),
          [], True))
@example((R(("location", "docker.io"), ("prefix", "example.com/ns")), [], False))
# Fixed: a version 1 list entry "" or "/" was read as an entry with an empty prefix; c/image refuses it
# (after checking every location of both lists: a URI scheme later in the file is its error).
@example((V1(block=["/"]), [], True))
@example((V1(insecure=[""], block=["reg.io"]), [], False))
@example((V1(block=["/", "http://reg.io/library"]), [], True))
# Fixed: FindRegistry never answers with an entry whose prefix trims to "" (prefix = "/").
@example((R(("prefix", "/"), ("location", "example.com/ns/repo")), [], True))
# Known differences: a mirror's trailing slash (newest c/image), a version 2 key set to an empty
# array beside version 1 lists, and a version 1 drop-in of empty lists (newest: hasSetField),
# a credential helper that is a path (stricter), IPv6 hosts.
@example((R(("location", "example.com"), ("mirror", [T(("location", "mirror.org/ns/"))])), [], True))
@example((T(("credential-helpers", []), *V1(search=["reg.io"])), [], False))
@example((R(("location", "reg.io")), [("01-a.conf", V1(block=[]))], True))
@example((T(("credential-helpers", ["../evil"])), [], False))
@example((R(("prefix", "[::1]:5000"), ("location", "reg.io/ns")), [], True))
@example((T(("unqualified-search-registries", ["[::1]:5000"])), [], False))
# Keys in other letter cases (Unicode folds too), drop-ins replacing entries and credential helpers.
@example((T(("Registry", [T(("PREFIX", "example.com"), ("Location", "reg.io"), ("in\u017fecure", True),
                             ("Blocked", True))])), [], True))
@example((T(("credential-helpers", ["pass"]), *R(("location", "example.com"), ("insecure", True))),
          [("01-a.conf", R(("location", "example.com"), ("blocked", True), ("insecure", True))),
           ("02-b.conf", T(("credential-helpers", []))), ("x.ignore", T(("registry", 1)))], False))
def test_registries_conf_agrees_with_containers_image(oracle: Oracle, setup: Setup) -> None:
    main, dropins, headers = setup
    check(oracle, main, dropins, headers)


# -- drop-ins that are symbolic links (the generator writes regular files only) ----------------------


def _load_with_link(oracle: Oracle, tmp_path: Path, target: Path) -> tuple[dict[str, Any], Exception | RegistriesConf]:
    """c/image's answer and ours for an empty main file and a drop-in ``10-link.conf`` -> ``target``."""
    dropin_dir = tmp_path / "registries.conf.d"
    dropin_dir.mkdir()
    (dropin_dir / "10-link.conf").symlink_to(target)
    go = oracle.ask({"dir": str(tmp_path), "conf": "", "dropins": [], "names": [], "refs": [], "locations": []})
    try:
        ours: Exception | RegistriesConf = load_registries_conf(
            str(tmp_path / "registries.conf"), env={}, home=str(tmp_path / "home"), system_dir=str(dropin_dir),
            report_warnings=False)
    except (ConfigError, LimitExceededError) as exc:
        ours = exc
    return go, ours


def test_a_dropin_linking_to_a_directory_is_refused_as_containers_image_refuses_it(
        oracle: Oracle, tmp_path: Path) -> None:
    # Fixed: it was skipped as if it were a directory; filepath.WalkDir does not follow the link.
    (tmp_path / "elsewhere.conf").mkdir()
    go, ours = _load_with_link(oracle, tmp_path, tmp_path / "elsewhere.conf")
    assert "is a directory" in go.get("error", "")
    assert isinstance(ours, LimitExceededError) and "10-link.conf" in ours.message


def test_a_dangling_dropin_link_is_skipped_as_the_newest_containers_image_skips_it(
        oracle: Oracle, tmp_path: Path) -> None:
    # Known difference (NOTE(go-diff) in load.load_registries_conf): 5.23 fails to open it, the
    # newest ignores a drop-in that does not exist (fs.ErrNotExist) as removed since the listing.
    go, ours = _load_with_link(oracle, tmp_path, tmp_path / "nothing.conf")
    assert "no such file or directory" in go.get("error", "")
    assert isinstance(ours, RegistriesConf) and ours.files == (str(tmp_path / "registries.conf"),)
