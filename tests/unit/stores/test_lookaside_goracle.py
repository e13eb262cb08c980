"""registries.d lookups and lookaside URLs against containers/image's own code, on generated configurations.

The Go oracle (tests/goracle/lookaside) writes the generated files into a directory, loads
it with c/image's ``loadAndMergeConfig`` and answers, for each image, the configured URL
(``signatureTopLevel``) for reading and for writing, the store's URL for the repository
(``lookasideStorageBaseURL``), the URL of signature N for a digest (``lookasideStorageURL``)
and ``useSigstoreAttachments``. Configurations are built from what the lookup is made of:
``default-docker`` and ``docker:`` namespaces of every specificity (the image, its
repository, parent namespaces, the host with its port, ``*.domain`` wildcards, near misses),
``lookaside``/``lookaside-staging`` and the older ``sigstore``/``sigstore-staging`` names,
file and http(s) URLs with odd characters, escapes, ports, paths, dot segments, queries and
trailing slashes, several files (conflicts included).

Known differences, each narrow and cited where trustcopy documents it:

- trustcopy follows the newest c/image's YAML decoding (gopkg.in/yaml.v3: exact key names,
  the YAML 1.1 boolean words for ``use-sigstore-attachments`` even quoted), not 5.23's
  ghodss/yaml (trustcopy/stores/registries_d_yaml.py, ``YAML11_BOOL_WORDS``). The oracle decodes the
  files both ways; trustcopy must agree with the newest, and the two Go answers must agree
  whenever a file uses none of these dialect features.
- 5.23 parses a configured URL through the ``Parse`` method of a nil ``*url.URL`` (a
  variable shadows the package): a relative URL panics, an absolute one loses its ``.``
  and ``..`` path segments. The newest c/image uses the path as written, as trustcopy does
  (trustcopy/stores/lookaside.py, ``repository_url``).
- a URL written as a YAML 1.1 boolean, number or date is refused when the file is loaded
  (NOTE(go-diff) in trustcopy/stores/registries_d.py); yaml.v3 reads its text, never a usable URL.
- trustcopy refuses, when the store is chosen, URLs c/image accepts and only fails on (or
  misreads) when it reads or writes: a scheme other than file/http/https, a ``file:`` URL with
  a host or a relative path, an http(s) URL without a host or with a non-ASCII one (which
  Go escapes and cannot resolve) (trustcopy/stores/lookaside.py,
  ``LookasideLocation``; docs/registries.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import ConfigError
from trustcopy.reference import parse_normalized_named
from trustcopy.stores.registries_d import RegistriesD, load_registries_d

pytestmark = pytest.mark.goracle

HEX = "0123456789abcdef"
D0 = "sha256:" + "0" * 64


oracle = oracle_fixture("lookaside", "containers/image's docker package (registries.d)")


# -- generated configurations ---------------------------------------------------------------------

#: The images looked up (each with a tag or a digest, as the docker transport requires).
REFS = ["example.com:5000/ns/app:1", "sigs.sub.example.com/a/b/c@" + D0, "busybox:latest",
        "localhost/x:y", "quay.io/org/repo:v1.0"]
#: Namespace keys: every scope of the images above, and near misses.
NAMESPACES = [
    "example.com:5000/ns/app:1", "example.com:5000/ns/app", "example.com:5000/ns", "example.com:5000", "*.com",
    "example.com", "example.com/ns/app", "sigs.sub.example.com/a/b/c@" + D0, "sigs.sub.example.com/a/b/c",
    "sigs.sub.example.com/a", "sigs.sub.example.com", "*.sub.example.com", "*.example.com", "*.example",
    "docker.io/library/busybox:latest", "docker.io/library/busybox", "docker.io/library", "docker.io", "*.io",
    "busybox", "library/busybox", "docker.io/busybox", "localhost/x:y", "localhost/x", "localhost", "quay.io",
    "quay.io/org", "quay.io/org/repo:v1.0", "*", "*.", "QUAY.io", "quay.io/org/", "",
]

schemes = st.sampled_from(["file://", "file://", "https://", "http://", "FILE://", "HTTPS://", "ftp://", "file:",
                           "", "docker://", "file:/"])
hosts = st.sampled_from(["", "", "localhost", "sigs.example.com", "sigs.example.com:8080", "sigs.example.com:",
                         "[::1]:8443", "user:pa%20ss@sigs.example.com", "h_o.st", "sigs.example.com:port", "h%41st",
                         "bad host"])
path_pieces = st.sampled_from(["srv", "sigs", "a b", "a%20b", "a%2Fb", "%41", "!$&'()*+,;=:@", "\u00fc", "%C3%BC",
                               ".", "..", "", "~user", "a%zz", "%", "x?y", "#frag", "a\tb", "%00"])
tails = st.sampled_from(["", "", "/", "//", "?q=1", "?q=%zz", "#f", "?a=b#c"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    path = "/".join(draw(st.lists(path_pieces, min_size=0, max_size=3)))
    lead = draw(st.sampled_from(["/", "/", "", "//"]))
    return draw(schemes) + draw(hosts) + lead + path + draw(tails)


#: Scalars whose YAML type differs between YAML 1.1 (PyYAML, ghodss/yaml's yaml.v2) and yaml.v3.
dialect_scalars = ["yes", "no", "on", "off", "y", "n", "Yes", "OFF", "true", "True", "FALSE", "123", "1.5", "0x10",
                   "~", "null", "2001-12-14", ""]


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


@st.composite
def url_values(draw: st.DrawFn, dialect: list[bool]) -> str:
    """The YAML text of a URL value."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        dialect[0] = True
        return draw(st.sampled_from(dialect_scalars))
    if choice == 1:
        return draw(st.sampled_from(['""', "null", "~", "[]", "{}", "[a]"]))
    return quoted(draw(urls()))


@st.composite
def attachment_values(draw: st.DrawFn, dialect: list[bool]) -> str:
    value = draw(st.sampled_from(["true", "false", "True", "FALSE", "null", "yes", "no", "on", "Off", "y", "N",
                                  '"yes"', '"off"', '"true"', '"false"', "1", "0", '"x"', "[]"]))
    if value.strip('"') not in ("true", "false", "True", "FALSE", "null", "1", "0", "x", "[]"):
        dialect[0] = True  # a YAML 1.1 word: ghodss/yaml and yaml.v3 read it differently
    return value


KEYS = ["lookaside", "lookaside-staging", "sigstore", "sigstore-staging"]


@st.composite
def sections(draw: st.DrawFn, dialect: list[bool]) -> str:
    """A section's YAML lines (indented by 4), or "null"/"{}" text after the key."""
    lines = []
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        name = key
        if draw(st.integers(0, 14)) == 0:
            name = draw(st.sampled_from([key.upper(), key.capitalize(), key.replace("-", "_")]))
            dialect[0] = dialect[0] or name.lower() == key  # ghodss/yaml matches keys case-insensitively
        lines.append(f"    {name}: {draw(url_values(dialect))}")
    if draw(st.integers(0, 2)) == 0:
        lines.append(f"    use-sigstore-attachments: {draw(attachment_values(dialect))}")
    if not lines and draw(st.booleans()):
        return " " + draw(st.sampled_from(["null", "{}", "~", "[]"]))
    return "\n" + "\n".join(lines)


@st.composite
def files(draw: st.DrawFn, dialect: list[bool]) -> str:
    """One registries.d file."""
    parts = []
    if draw(st.integers(0, 3)) == 0:
        parts.append("default-docker:" + draw(sections(dialect)))
    namespaces = draw(st.lists(st.sampled_from(NAMESPACES), max_size=5, unique=True))
    if namespaces or draw(st.booleans()):
        body = "".join(f"\n  {quoted(ns)}:" + draw(sections(dialect)) for ns in namespaces)
        parts.append("docker:" + (body or " " + draw(st.sampled_from(["null", "{}"]))))
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(st.sampled_from(["unknown-key: 1", "Docker: {}", "default_docker: {}"])))
    return "\n".join(draw(st.permutations(parts))) + "\n"


@st.composite
def configurations(draw: st.DrawFn) -> tuple[dict[str, str], bool]:
    """(file name → contents, whether some file uses a YAML dialect feature)."""
    dialect = [False]
    names = draw(st.lists(st.sampled_from(["a.yaml", "b.yaml", "z.yaml", "c.yml", "d.yaml.bak"]), min_size=1,
                          max_size=3, unique=True))
    return {name: draw(files(dialect)) for name in names}, dialect[0]


queries = st.lists(st.tuples(st.sampled_from(["sha256:" + "a" * 64, "sha512:" + "b" * 128, D0]),
                             st.integers(0, 130)), min_size=len(REFS), max_size=len(REFS))


# -- comparing ------------------------------------------------------------------------------------


def _load(tmp: Path, config: dict[str, str]) -> RegistriesD:
    for old in tmp.iterdir():
        old.unlink()
    for name, text in config.items():
        (tmp / name).write_text(text)
    return load_registries_d(str(tmp), home=os.environ.get("HOME"), report_warnings=False)


def _top(rd: RegistriesD, ref: Any, write: bool) -> str:
    for section in rd.sections_for(ref):
        answer = section.url_for(write)
        if answer is not None:
            return answer[1]
    return ""


def _refused_knowingly(top: str, go: dict[str, Any]) -> bool:
    """Whether trustcopy documents refusing this URL that c/image's lookup accepts."""
    parts = urlsplit(top)
    scheme, host = go.get("scheme", ""), go.get("host", "")
    if scheme not in ("file", "http", "https"):
        return True
    if scheme == "file":
        return host not in ("", "localhost") or not parts.path.startswith("/") or parts.netloc != host
    # NOTE(go-diff) in LookasideLocation: a non-ASCII host, which Go writes %-escaped and cannot resolve.
    return not host or not host.isascii() or "%" in urlsplit(top).netloc.rpartition("@")[2]


def _has_dot_segment(top: str) -> bool:
    return any(segment in (".", "..") for segment in urlsplit(top).path.split("/"))


def _compare_side(rd: RegistriesD, ref: Any, write: bool, digest: Digest, index: int, go: dict[str, Any]) -> None:
    what = f"{ref} {'write' if write else 'read'}"
    top = _top(rd, ref, write)
    assert top == go["top"], what
    if go.get("old_error"):  # 5.23 panics on a relative URL (see the module docstring)
        assert "panic" not in go["old_error"] or not urlsplit(top).scheme, what
    elif "error" not in go and go["old_base"] != go["base"]:
        assert _has_dot_segment(top), f"{what}: 5.23 and the newest c/image differ: {go}"
    try:
        location = rd.lookaside(ref, write=write)
    except ConfigError as exc:
        assert exc.code == "lookaside-url-invalid", what
        if "error" not in go:
            assert _refused_knowingly(top, go), f"{what}: c/image uses {go['base']!r}, we refuse: {exc.message}"
        return
    assert "error" not in go, f"{what}: we use {location.base_url!r}, c/image refuses: {go['error']}"
    if location.scheme == "file":
        assert f"{location.store_root}/{ref.path}" == go["base_path"], what
        assert location.signature_path(digest, index + 1) == go["sig_path"], what
    else:
        # Go's URL keeps a fragment ("#f"), which an HTTP client never sends: we drop it.
        theirs = (go["base"].partition("#")[0], go["sig"].partition("#")[0])
        ours = (location.repository_url, location.signature_url(digest, index + 1))
        assert ours == theirs, f"{what}: {top!r}"


def _compare(oracle: Oracle, tmp: Path, config: dict[str, str], dialect: bool, picks: list[tuple[str, int]]) -> None:
    request = {"files": config, "queries": [{"ref": r, "digest": d, "index": i} for r, (d, i) in zip(REFS, picks,
                                                                                                    strict=True)]}
    go = oracle.ask({**request, "yaml": "newest"})
    old = oracle.ask({**request, "yaml": "5.23"})
    if not dialect:  # the oracle's newest decoding is faithful wherever the dialects agree
        assert ("error" in go) == ("error" in old), f"{config}: {go} / {old}"
        if "error" not in go:
            strip = [[{k: v for k, v in s.items() if not k.startswith("old_")} for s in (r.get("read") or {},
                                                                                       r.get("write") or {})]
                     for r in go["results"]]
            strip_old = [[{k: v for k, v in s.items() if not k.startswith("old_")} for s in (r.get("read") or {},
                                                                                           r.get("write") or {})]
                         for r in old["results"]]
            assert strip == strip_old, config
    try:
        rd = _load(tmp, config)
    except ConfigError as exc:
        if "error" not in go:
            # Known difference (NOTE(go-diff) in trustcopy/stores/registries_d.py): a URL written
            # as a YAML 1.1 boolean, number or date is refused when loading.
            assert exc.code == "registries-d-invalid" and re.search(
                r"must be a string \(a URL\), not (a boolean|an integer|a number|a date|a merge key|a value key)",
                exc.message), (
                f"{config}: c/image loads it, we refuse: {exc.message}")
        return
    assert "error" not in go, f"{config}: we load it, c/image refuses: {go['error']}"
    for ref_text, (digest_text, index), result in zip(REFS, picks, go["results"], strict=True):
        ref = parse_normalized_named(ref_text)
        assert "error" not in result, result
        assert rd.use_sigstore_attachments(ref) == result["attachments"], f"{config}: {ref_text}"
        for write, side in ((False, result["read"]), (True, result["write"])):
            _compare_side(rd, ref, write, Digest.parse(digest_text), index, side)


@given(configurations(), queries)
@example(({"a.yaml": 'docker:\n  "example.com:5000/ns":\n    lookaside: "https://s.example/a%41b!/./c/../d/"\n'},
          False), [(D0, 0)] * len(REFS))
@example(({"a.yaml": "default-docker:\n  sigstore: \"file:///srv/a b/%2F\"\n  sigstore-staging: \"file:///w\"\n"},
          False), [(D0, 127)] * len(REFS))
@example(({"a.yaml": "docker:\n  \"*.com\":\n    use-sigstore-attachments: \"yes\"\n"}, True), [(D0, 0)] * len(REFS))
@example(({"a.yaml": 'default-docker:\n  lookaside: "https://\u00fc/x"\n'}, False), [(D0, 0)] * len(REFS))
@example(({"a.yaml": 'default-docker:\n  lookaside: "https://h%C3%BCst/x"\n'}, False), [(D0, 0)] * len(REFS))
@example(({"a.yaml": "default-docker:\n    lookaside-staging: 2001-12-14\n"}, True), [(D0, 0)] * len(REFS))
@example(({"a.yaml": "docker:\n  quay.io: {}\n", "b.yaml": "docker:\n  quay.io: null\n"}, False),
         [(D0, 0)] * len(REFS))
def test_lookaside_lookup_agrees_with_containers_image(oracle: Oracle, tmp_path_factory: pytest.TempPathFactory,
                                                       config: tuple[dict[str, str], bool],
                                                       picks: list[tuple[str, int]]) -> None:
    tmp = tmp_path_factory.mktemp("registries.d", numbered=True)
    _compare(oracle, tmp, config[0], config[1], picks)
