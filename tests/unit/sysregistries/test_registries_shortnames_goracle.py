"""Short-name aliases in registries.conf: trustcopy's checks against containers/image's sysregistriesv2.

trustcopy resolves no short names: skopeo (and so trustcopy) reads ``docker://busybox`` as
``docker.io/library/busybox``; neither containers/image's transports nor skopeo call
``pkg/shortnames.Resolve`` or ``ResolveShortNameAlias`` (podman and buildah do). What skopeo
does with aliases is check them while loading registries.conf (``newShortNameAliasCache`` for
each file): a file with an invalid alias is refused, also for a command that never resolves a
short name, and trustcopy must refuse the same files (``load._check_ignored``).

hypothesis writes ``[aliases]`` tables into a main file and drop-ins (names and values built
from a reference's pieces: registries, ``localhost``, ports, upper case, tags, digests, long
names, the empty value that resets an alias) and compares with the registries oracle whether
loading fails, and how many of the names and of the values c/image refuses in the file it
stops at (it reports all of them at once; so do we).

Known difference: bracketed IPv6 hosts (NOTE(go-diff) in trustcopy/reference.py) are
registries to trustcopy, not to containers/image's reference grammar.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import event, example, given
from hypothesis import strategies as st

from trustcopy.errors import ConfigError
from trustcopy.sysregistries import load_registries_conf

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("registries", "containers/image's sysregistriesv2")

DIGEST = "@sha256:" + "a" * 64

DOMAINS = ["", "", "", "example.com/", "localhost/", "localhost:5000/", "reg.io:443/", "10.0.0.1/", "docker.io/",
           "library/", "ns/", "Foo/", "EXAMPLE.com/", "ex_ample.com/", "[::1]:5000/", "foo_bar.com/", "local/"]
COMPONENTS = ["foo", "busybox", "foo-bar", "foo__bar", "foo.bar", "f", "a" * 128, "Foo", "-x", "x-", "foo___bar",
              "foo..bar", "", "ns/foo", "a/b/c", "foo_bar.com", "x" * 250]
TAILS = ["", "", "", "", ":tag", ":Tag", ":", ":-x", DIGEST, ":t" + DIGEST, "@sha256:abc", "/"]

texts = st.builds(lambda d, c, t: d + c + t, st.sampled_from(DOMAINS), st.sampled_from(COMPONENTS),
                  st.sampled_from(TAILS))
names = st.one_of(st.sampled_from(["foo", "busybox", "ns/foo", "library/foo"]), texts)
values = st.one_of(st.sampled_from(["", "example.com/foo", "docker.io/library/foo", "docker.io/foo",
                                    "localhost/foo", "quay.io/ns/busybox"]), texts)
aliases = st.lists(st.tuples(names, values), max_size=3).map(dict)


def render(table: dict[str, Any]) -> str:
    """An ``[aliases]`` table (keys quoted: they hold slashes and colons)."""
    lines = ["[aliases]"] + [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _go_problems(message: str) -> tuple[int, int]:
    """How many names and how many values containers/image's error names."""
    return (len(re.findall(r"cannot parse short name|invalid short name", message)),
            len(re.findall(r"parsing alias|invalid alias", message)))


def _our_problems(message: str) -> tuple[int, int]:
    return len(re.findall(r"invalid short name ", message)), len(re.findall(r"invalid alias ", message))


def _ipv6(*tables: dict[str, Any]) -> bool:
    return any("[" in text for t in tables for pair in t.items() for text in pair)


def check(oracle: Oracle, main: dict[str, Any], dropins: list[dict[str, Any]]) -> None:
    """Load the files with both: the same verdict, and (refused) the same number of bad names and values."""
    files = {"registries.conf": render(main), **{f"registries.conf.d/{i:02}.conf": render(d)
                                                 for i, d in enumerate(dropins)}}
    described = "\n".join(f"--- {name}\n{text}" for name, text in files.items())
    with tempfile.TemporaryDirectory(prefix="tc-aliases-") as tmp:
        go = oracle.ask({"dir": str(Path(tmp, "go")), "conf": files["registries.conf"],
                         "dropins": [[n.split("/")[1], t] for n, t in files.items() if "/" in n],
                         "names": [], "refs": [], "locations": []})
        root = Path(tmp, "ours")
        (root / "registries.conf.d").mkdir(parents=True)
        for name, text in files.items():
            (root / name).write_text(text)
        try:
            load_registries_conf(str(root / "registries.conf"), env={}, home=str(root / "home"),
                                 system_dir=str(root / "registries.conf.d"), report_warnings=False)
        except ConfigError as exc:
            if "error" not in go and _ipv6(main, *dropins):
                event("known: IPv6")
                return
            assert "error" in go, f"we refuse, c/image accepts: {exc.message}\n{described}"
            assert "short-name aliases" in go["error"], go["error"]
            if _ipv6(main, *dropins):
                return
            assert Path(str(exc.context["file"])).name in go["error"], (go["error"], exc.message)
            assert _our_problems(exc.message) == _go_problems(go["error"]), (
                f"c/image: {go['error']}\nwe: {exc.message}\n{described}")
            event("both refuse")
            return
    if "error" in go and _ipv6(main, *dropins):
        event("known: IPv6")
        return
    assert "error" not in go, f"we accept, c/image refuses: {go['error']}\n{described}"
    event("both accept")


@given(aliases, st.lists(aliases, max_size=2))
# An alias reset in a later drop-in (empty value) does not rescue the file that set it badly: each
# file is checked on its own.
@example({"foo": "foo"}, [{"foo": ""}])
@example({"foo": "example.com/foo"}, [{"foo": ""}, {"Foo": ""}])
# Values must name a registry; docker.io/foo is one (normalized to docker.io/library/foo).
@example({"foo": "library/foo", "ns/bar": "localhost:5000/bar:1", "x": "docker.io/foo"}, [])
# Names must not name one; a "domain" without a dot, a colon or "localhost" is a namespace.
@example({"localhost/foo": "example.com/foo", "local/foo": "example.com/foo", "library/foo": "example.com/x"}, [])
# A component that parses as a path only ("foo_bar.com" is no host), tags, digests, upper case, length.
@example({"foo_bar.com/x": "foo_bar.com/x"}, [])
@example({"foo:tag": "example.com/foo", "foo" + DIGEST: "example.com/foo" + DIGEST, "Foo": "EXAMPLE.com/foo"}, [])
@example({"x" * 250 + "/" + "a" * 10: "example.com/" + "x" * 250}, [])
def test_aliases_are_checked_as_containers_image_checks_them(oracle: Oracle, main: dict[str, Any],
                                                           dropins: list[dict[str, Any]]) -> None:
    check(oracle, main, dropins)


def test_the_users_short_name_aliases_conf_is_not_read_when_loading(oracle: Oracle, tmp_path: Path) -> None:
    # containers/image reads short-name-aliases.conf only to resolve a short name
    # (ResolveShortNameAlias), which skopeo never does: a broken one does not stop loading.
    broken = '[aliases]\n"foo:tag" = "nothing"\n'
    conf = '[aliases]\n"foo" = "example.com/foo"\n'
    go = oracle.ask({"dir": str(tmp_path / "go"), "conf": conf, "dropins": [], "names": [], "refs": [],
                     "locations": [], "shortnames": broken, "resolve": ["foo"]})
    assert "error" not in go
    assert "short-name aliases config file" in go["aliases"]["foo"]["error"]  # resolving would fail
    home = tmp_path / "home"
    for where in (home / ".cache" / "containers", home / ".config" / "containers"):
        where.mkdir(parents=True)
        (where / "short-name-aliases.conf").write_text(broken)
    (tmp_path / "registries.conf").write_text(conf)
    loaded = load_registries_conf(str(tmp_path / "registries.conf"), env={"XDG_CACHE_HOME": str(home / ".cache")},
                                  home=str(home), system_dir=str(tmp_path / "none"), report_warnings=False)
    assert loaded.files == (str(tmp_path / "registries.conf"),)
