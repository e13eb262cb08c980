"""registries.conf v2: prefix matching, rewriting, mirrors, blocked/insecure, files and errors.

The vectors (and the .conf contents) are containers/image's
``pkg/sysregistriesv2/system_registries_v2_test.go`` and ``testdata/``, carried as data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from trustcopy.errors import ConfigError, TransportError
from trustcopy.reference import parse_named
from trustcopy.sysregistries import (
    ConfigWarning,
    RegistriesConf,
    load_registries_conf,
    ref_matching_prefix,
    registries_conf_paths,
    rewrite_reference,
)

A64 = "a" * 64
NOWHERE = "/nonexistent-trustcopy-test"


def load(tmp_path: Path, text: str, *dropins: tuple[str, str], report: bool = True) -> RegistriesConf:
    """Load ``text`` as the only registries.conf (plus drop-ins), isolated from the machine's files."""
    conf = tmp_path / "registries.conf"
    conf.write_text(text)
    dropin_dir = tmp_path / "registries.conf.d"
    dropin_dir.mkdir(exist_ok=True)
    for name, content in dropins:
        (dropin_dir / name).write_text(content)
    return load_registries_conf(str(conf), home=str(tmp_path / "home"), system_dir=str(dropin_dir),
                                report_warnings=report)


# -- refMatchingPrefix (TestRefMatchingSubdomainPrefix, TestRefMatchingPrefix) ----------------------

SUBDOMAIN_VECTORS = [
    ("docker.io", "*.io", len("docker.io")),
    ("docker.io/foo", "*.com", -1),
    ("example.com/foo", "*.co", -1),
    ("example.com/foo", "*.example.com", -1),
    ("example.com/foo", "*.com", len("example.com")),
    ("example.com/foo:bar", "*.com", len("example.com")),
    ("example.com/foo/bar:baz", "*.com", len("example.com")),
    ("yet.another.example.com/foo", "**.example.com", -1),
    ("yet.another.example.com/foo", "***.another.example.com", -1),
    ("yet.another.example.com/foo", "**********.another.example.com", -1),
    ("yet.another.example.com/foo/bar", "**********.another.example.com", -1),
    ("yet.another.example.com/foo/bar", "*.another.example.com", len("yet.another.example.com")),
    ("another.example.com/namespace.com/foo/bar/bbq:baz", "*.example.com", len("another.example.com")),
    ("example.net/namespace-ends-in.com/foo/bar/bbq:baz", "*.com", -1),
    ("another.example.com/namespace.com/foo/bar/bbq:baz", "*.namespace.com", -1),
    ("sub.example.com/foo/bar", "*.com", len("sub.example.com")),
    ("sub.example.com/foo/bar", "*.example.com", len("sub.example.com")),
    ("another.sub.example.com/foo/bar/bbq:baz", "*.example.com", len("another.sub.example.com")),
    ("another.sub.example.com/foo/bar/bbq:baz", "*.sub.example.com", len("another.sub.example.com")),
    (f"yet.another.example.com/foo/bar@sha256:{A64}", "*.example.com", len("yet.another.example.com")),
    (f"yet.another.sub.example.com/foo/bar@sha256:{A64}", "*.sub.example.com", len("yet.another.sub.example.com")),
]

PREFIX_VECTORS = [
    ("docker.io", "docker.io", len("docker.io")),
    ("docker.io", "example.com", -1),
    ("example.com:5000", "example.com:5000", len("example.com:5000")),
    ("example.com:50000", "example.com:5000", -1),
    ("example.com:5000", "example.com", len("example.com")),  # unintended in c/i, but it is what c/i does
    ("example.com/foo", "example.com", len("example.com")),
    ("example.com/foo/bar", "example.com", len("example.com")),
    ("example.com/foo/bar:baz", "example.com", len("example.com")),
    (f"example.com/foo/bar@sha256:{A64}", "example.com", len("example.com")),
    ("docker.io", "docker.io/library", -1),
    ("docker.io/library", "docker.io/library", len("docker.io/library")),
    ("example.com/library", "docker.io/library", -1),
    ("docker.io/libraryy", "docker.io/library", -1),
    ("docker.io/library/busybox", "docker.io/library", len("docker.io/library")),
    ("docker.io", "docker.io/library/busybox", -1),
    ("docker.io/library/busybox", "docker.io/library/busybox", len("docker.io/library/busybox")),
    ("example.com/library/busybox", "docker.io/library/busybox", -1),
    ("docker.io/library/busybox2", "docker.io/library/busybox", -1),
    ("example.com", "example.com/foo:bar", -1),
    ("example.com/foo", "example.com/foo:bar", -1),
    ("example.com/foo:bar", "example.com/foo:bar", len("example.com/foo:bar")),
    ("example.com/foo:bar2", "example.com/foo:bar", -1),
    ("example.com", f"example.com/foo@sha256:{A64}", -1),
    ("example.com/foo", f"example.com/foo@sha256:{A64}", -1),
    (f"example.com/foo@sha256:{A64}", f"example.com/foo@sha256:{A64}", len(f"example.com/foo@sha256:{A64}")),
    (f"example.com/foo@sha256:{'b' * 64}", f"example.com/foo@sha256:{A64}", -1),
    ("example.com/foo", "*", -1),
]


@pytest.mark.parametrize(("ref", "prefix", "expected"), SUBDOMAIN_VECTORS + PREFIX_VECTORS,
                         ids=[f"{r}~{p}" for r, p, _ in SUBDOMAIN_VECTORS + PREFIX_VECTORS])
def test_ref_matching_prefix(ref: str, prefix: str, expected: int) -> None:
    assert ref_matching_prefix(ref, prefix) == expected


# -- rewriteReference (TestRewriteReferenceSuccess / FailedDuringParseNamed) ------------------------

REWRITES = [
    ("example.com/image", "example.com", "example.com", "example.com/image"),
    ("example.com/image:latest", "example.com", "example.com", "example.com/image:latest"),
    ("example.com:5000/image", "example.com:5000", "example.com:5000", "example.com:5000/image"),
    ("example.com:5000/image:latest", "example.com:5000", "example.com:5000", "example.com:5000/image:latest"),
    (f"example.com/foo@sha256:{A64}", "example.com", "example.com", f"example.com/foo@sha256:{A64}"),
    ("example.com/foo/image:latest", "example.com/foo", "example.com", "example.com/image:latest"),
    ("example.com/foo/image:latest", "example.com/foo", "example.com/path", "example.com/path/image:latest"),
    ("docker.io/library/image:latest", "docker.io", "docker.io", "docker.io/library/image:latest"),
    ("docker.io/library/image", "docker.io/library", "example.com", "example.com/image"),
    ("docker.io/library/image", "docker.io", "example.com", "example.com/library/image"),
    ("docker.io/library/prefix/image", "docker.io/library/prefix", "example.com", "example.com/image"),
    ("docker.io/namespace/image", "*.io", "example.com", "example.com/namespace/image"),
    ("docker.io/library/prefix/image", "*.io", "example.com", "example.com/library/prefix/image"),
    ("sub.example.io/library/prefix/image", "*.example.io", "example.com", "example.com/library/prefix/image"),
    ("another.sub.example.io:5000/library/prefix/image:latest", "*.sub.example.io", "example.com",
     "example.com:5000/library/prefix/image:latest"),
    ("foo.bar.io/ns1/ns2/ns3/ns4", "*.bar.io", "omg.bbq.com/roflmao", "omg.bbq.com/roflmao/ns1/ns2/ns3/ns4"),
    ("abc.internal.registry.com/foo:bar", "*.internal.registry.com", "", "abc.internal.registry.com/foo:bar"),
    ("blah.foo.bar.com/omg:bbq", "*.com", "", "blah.foo.bar.com/omg:bbq"),
    ("alien.vs.predator.foobar.io:5000/omg", "*.foobar.io", "", "alien.vs.predator.foobar.io:5000/omg"),
    (f"alien.vs.predator.foobar.io:5000/foo@sha256:{A64}", "*.foobar.io", "",
     f"alien.vs.predator.foobar.io:5000/foo@sha256:{A64}"),
]

REWRITE_FAILURES = [
    ("example.com/foo/image:latest", "example.com/foo", "example.com/path/"),
    (f"example.com/foo@sha256:{A64}", "example.com/foo", "example.com"),
    ("example.com:5000/image:latest", "example.com", ""),
    ("example.com:5000/image:latest", "example.com", "example.com:5000"),
    ("example.com/foo/image:latest", "example.com//foo", "example.com/path"),
    ("example.com/image:latest", "image", "anotherimage"),
    ("example.com/foo/image:latest", "example.com/foo/", "example.com"),
    ("example.com/foo/image", "example.com/fo", "example.com/foo"),
    ("example.com/foo:latest", "example.com/fo", "example.com/foo"),
    (f"example.com/foo@sha256:{A64}", "example.com/fo", "example.com/foo"),
    ("docker.io/library/image", "example.com", "example.com"),
    ("docker.io/library/image", "*.com", "example.com"),
    ("foo.docker.io/library/image", "*.example.com", "example.com/image"),
    ("foo.docker.io/library/image", "*.docker.com", "example.com/image"),
]


@pytest.mark.parametrize(("ref", "prefix", "location", "expected"), REWRITES, ids=[r[0] + "~" + r[1] for r in REWRITES])
def test_rewrite_reference(ref: str, prefix: str, location: str, expected: str) -> None:
    assert str(rewrite_reference(parse_named(ref), prefix, location, "entry")) == expected


@pytest.mark.parametrize(("ref", "prefix", "location"), REWRITE_FAILURES,
                         ids=[f"{r}~{p}~{loc}" for r, p, loc in REWRITE_FAILURES])
def test_rewrite_reference_failures_name_the_entry(ref: str, prefix: str, location: str) -> None:
    with pytest.raises(ConfigError) as exc:
        rewrite_reference(parse_named(ref), prefix, location, "[[registry]] #7 in F")
    assert "[[registry]] #7 in F" in exc.value.message


# -- FindRegistry (TestFindRegistry, with find-registry.conf and its drop-ins) ---------------------------

FIND_REGISTRY_CONF = """
[[registry]]
location = "registry.com:5000"
prefix = "simple-prefix.com"

[[registry]]
location = "another-registry.com:5000"
prefix = "complex-prefix.com:4000/with/path"

[[registry]]
location = "registry.com:5000"
prefix = "another-registry.com"

[[registry]]
location = "no-prefix.com"

[[registry]]
location = "empty-prefix.com"
prefix = ""

[[registry]]
location = "subdomain-prefix.com"
prefix = "*.so.simple-prefix.com"

[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.simple-prefix.com"

[[registry]]
location = "subdomain-prefix-1.com"
prefix = "*.not.quite.simple-prefix.com"

[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.docker.io"

[[registry]]
location = "subdomain-prefix-3.com"
prefix = "*.bar.example.com"

[[registry]]
location = "subdomain-prefix-4.com"
prefix = "*.bar.docker.io"

[[registry]]
location = "subdomain-prefix-5.com"
prefix = "foo.bar.example.com:5000"

[[registry]]
prefix="*.internal.registry.com"

[[registry]]
prefix="*.com"

[[registry]]
prefix="*.foobar.io"
"""
FIND_REGISTRY_DROPINS = [
    ("subdomain-override-1.conf", '[[registry]]\nlocation = "subdomain-prefix-1-overridden-by-dropin-location.com"\n'
                                  'prefix = "*.not.quite.simple-prefix.com"\n'),
    ("subdomain-override-2.conf", '[[registry]]\nlocation = "subdomain-prefix-2-overridden-by-dropin-location.com"\n'
                                  'prefix = "*.docker.com"\n'),
    ("subdomain-override-3.conf", '[[registry]]\nlocation = "subdomain-prefix-3-overridden-by-dropin-location.com"\n'
                                  'prefix = "*.bar.example.com"\n'),
    ("config-3.ignore", '[[registry]]\nlocation = "ignore-me-because-i-have-a-wrong-suffix.com"\n'),
]

FIND_VECTORS = [
    ("simple-prefix.com/foo/bar:latest", "simple-prefix.com", "registry.com:5000"),
    ("simple-prefix.com/", "simple-prefix.com", "registry.com:5000"),
    ("simple-prefix.com", "simple-prefix.com", "registry.com:5000"),
    ("not.so.simple-prefix.com/", "*.so.simple-prefix.com", "subdomain-prefix.com"),
    ("not.quite.simple-prefix.com/", "*.simple-prefix.com", "subdomain-prefix-2.com"),
    ("not.quite.simple-prefix.com:5000/with/path/and/beyond:tag", "*.simple-prefix.com", "subdomain-prefix-2.com"),
    ("really.not.quite.simple-prefix.com:5000/with/path/and/beyond:tag", "*.not.quite.simple-prefix.com",
     "subdomain-prefix-1-overridden-by-dropin-location.com"),
    ("foo.docker.io:5000/omg/wtf/bbq:foo", "*.docker.io", "subdomain-prefix-2.com"),
    (f"foo.bar.example.com:6000/omg/wtf/bbq@sha256:{A64}", "*.bar.example.com",
     "subdomain-prefix-3-overridden-by-dropin-location.com"),
    ("foo.bar.docker.io:5000/omg/wtf/bbq:foo", "*.bar.docker.io", "subdomain-prefix-4.com"),
    ("foo.bar.example.com:5000/omg/wtf/bbq:foo", "foo.bar.example.com:5000", "subdomain-prefix-5.com"),
    ("simple-prefix.comx", None, None),
    ("complex-prefix.com:4000/with/path/and/beyond:tag", "complex-prefix.com:4000/with/path",
     "another-registry.com:5000"),
    ("no-prefix.com/foo:tag", "no-prefix.com", "no-prefix.com"),
    ("empty-prefix.com/foo:tag", "empty-prefix.com", "empty-prefix.com"),
]


@pytest.fixture
def find_conf(tmp_path: Path) -> RegistriesConf:
    return load(tmp_path, FIND_REGISTRY_CONF, *FIND_REGISTRY_DROPINS)


def test_find_registry_reads_drop_ins_and_merges_by_prefix(find_conf: RegistriesConf) -> None:
    assert len(find_conf.registries) == 16  # 15 in the file + 1 new prefix from a drop-in (c/i: 19 with its others)
    assert [r.prefix for r in find_conf.registries] == sorted(r.prefix for r in find_conf.registries)
    assert not any("ignore-me" in r.location for r in find_conf.registries)


@pytest.mark.parametrize(("ref", "prefix", "location"), FIND_VECTORS, ids=[v[0] for v in FIND_VECTORS])
def test_find_registry(find_conf: RegistriesConf, ref: str, prefix: str | None, location: str | None) -> None:
    reg = find_conf.find_registry(ref)
    found = (reg.prefix, reg.location) if reg is not None else (None, None)
    assert found == (prefix, location)


# -- pull sources (TestPullSourcesFromReference, TestPullSourcesMirrorFromReference) -------------------

MIRROR_CONF = """
[[registry]]
prefix = "registry-a.com/foo"
location = "registry-a.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-a.com"
[[registry.mirror]]
location = "mirror-2.registry-a.com"
insecure = true

[[registry]]
prefix = "registry-b.com/foo"
location = "registry-b.com/bar"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-1.registry-b.com"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-2.registry-b.com"

[[registry]]
prefix = "registry-c.com/foo"
location = "registry-c.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-c.com"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-2.registry-c.com"

[[registry]]
prefix = "registry-d.com/foo"
location = "registry-d.com/bar"
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror-1.registry-d.com"
[[registry.mirror]]
location = "mirror-2.registry-d.com"

[[registry]]
prefix = "registry-e.com/foo"
location = "registry-e.com/bar"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-1.registry-e.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-e.com"

[[registry]]
prefix = "registry-f.com/foo"
location = "registry-f.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-f.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-f.com"

[[registry]]
prefix = "registry-g.com/foo"
location = "registry-g.com/bar"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-1.registry-g.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-g.com"
[[registry.mirror]]
location = "mirror-3.registry-g.com"
[[registry.mirror]]
pull-from-mirror = "all"
location = "mirror-4.registry-g.com"
"""

MIRROR_VECTORS = [
    ("registry-a.com/foo/image", ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
     ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"]),
    ("registry-b.com/foo/image", ["mirror-1.registry-b.com", "mirror-2.registry-b.com", "registry-b.com/bar"],
     ["registry-b.com/bar"]),
    ("registry-c.com/foo/image", ["mirror-1.registry-c.com", "mirror-2.registry-c.com", "registry-c.com/bar"],
     ["mirror-1.registry-c.com", "registry-c.com/bar"]),
    ("registry-d.com/foo/image", ["mirror-1.registry-d.com", "mirror-2.registry-d.com", "registry-d.com/bar"],
     ["registry-d.com/bar"]),
    ("registry-e.com/foo/image", ["registry-e.com/bar"],
     ["mirror-1.registry-e.com", "mirror-2.registry-e.com", "registry-e.com/bar"]),
    ("registry-f.com/foo/image", ["mirror-1.registry-f.com", "registry-f.com/bar"],
     ["mirror-1.registry-f.com", "mirror-2.registry-f.com", "registry-f.com/bar"]),
    ("registry-g.com/foo/image",
     ["mirror-1.registry-g.com", "mirror-3.registry-g.com", "mirror-4.registry-g.com", "registry-g.com/bar"],
     ["mirror-2.registry-g.com", "mirror-3.registry-g.com", "mirror-4.registry-g.com", "registry-g.com/bar"]),
]


@pytest.mark.parametrize(("name", "digest_sources", "tag_sources"), MIRROR_VECTORS, ids=[v[0] for v in MIRROR_VECTORS])
def test_pull_sources_follow_pull_from_mirror(tmp_path: Path, name: str, digest_sources: list[str],
                                              tag_sources: list[str]) -> None:
    conf = load(tmp_path, MIRROR_CONF)
    digested = conf.pull_plan(parse_named(f"{name}@sha256:{A64}"))
    assert [s.endpoint.location for s in digested.sources] == digest_sources
    tagged = conf.pull_plan(parse_named(f"{name}:aaa"))
    assert [s.endpoint.location for s in tagged.sources] == tag_sources
    assert [s.mirror for s in tagged.sources] == [True] * (len(tag_sources) - 1) + [False]


def test_pull_sources_are_rewritten_and_carry_each_endpoints_insecure_flag(tmp_path: Path) -> None:
    conf = load(tmp_path, MIRROR_CONF)
    plan = conf.pull_plan(parse_named(f"registry-a.com/foo/image@sha256:{A64}"))
    assert [str(s.reference) for s in plan.sources] == [
        f"mirror-1.registry-a.com/image@sha256:{A64}", f"mirror-2.registry-a.com/image@sha256:{A64}",
        f"registry-a.com/bar/image@sha256:{A64}"]
    assert [s.endpoint.insecure for s in plan.sources] == [False, True, False]
    assert plan.registry is not None and plan.registry.prefix == "registry-a.com/foo"
    assert str(plan.logical) == f"registry-a.com/foo/image@sha256:{A64}"  # the policy keeps the logical one


def test_no_matching_entry_pulls_the_reference_itself(tmp_path: Path) -> None:
    plan = load(tmp_path, MIRROR_CONF).pull_plan(parse_named("other.example/app:1"))
    assert plan.registry is None
    assert [(str(s.reference), s.mirror, s.endpoint.insecure) for s in plan.sources] == [
        ("other.example/app:1", False, False)]


# -- blocked and insecure --------------------------------------------------------------------------

BLOCKED_CONF = """
[[registry]]
location = "blocked.example"
blocked = true
[[registry.mirror]]
location = "mirror.example/m"
insecure = true

[[registry]]
location = "fully-blocked.example"
blocked = true

[[registry]]
prefix = "fully-blocked.example/ns"
location = "fully-blocked.example/ns"
blocked = true
[[registry.mirror]]
location = "blocked-mirror.example"

[[registry]]
location = "blocked-mirror.example"
blocked = true

[[registry]]
location = "insecure.example"
insecure = true
"""


def test_blocked_registry_is_pulled_through_its_mirror_as_containers_image_does(tmp_path: Path) -> None:
    conf = load(tmp_path, BLOCKED_CONF)
    plan = conf.pull_plan(parse_named("blocked.example/app:1"))
    assert [(str(s.reference), s.blocked_by is not None) for s in plan.sources] == [
        ("mirror.example/m/app:1", False), ("blocked.example/app:1", True)]
    assert [str(s.reference) for s in plan.allowed_sources()] == ["mirror.example/m/app:1"]
    assert plan.allowed_sources()[0].endpoint.insecure


def test_pull_with_every_source_blocked_fails_naming_the_rule(tmp_path: Path) -> None:
    conf = load(tmp_path, BLOCKED_CONF)
    with pytest.raises(TransportError) as exc:
        conf.pull_plan(parse_named("fully-blocked.example/app:1")).allowed_sources()
    assert exc.value.code == "registry-blocked"
    assert '[[registry]] #2 (prefix "fully-blocked.example")' in exc.value.message
    assert str(tmp_path / "registries.conf") in exc.value.message
    # the mirror itself is blocked by its own entry: every endpoint refused
    plan = conf.pull_plan(parse_named("fully-blocked.example/ns/app:1"))
    assert [s.blocked_by.prefix for s in plan.sources if s.blocked_by] == ["blocked-mirror.example",
                                                                           "fully-blocked.example/ns"]
    with pytest.raises(TransportError, match=r"blocked by \[\[registry\]\]"):
        plan.allowed_sources()


def test_push_to_blocked_registry_fails_naming_the_rule_and_is_never_rewritten(tmp_path: Path) -> None:
    conf = load(tmp_path, BLOCKED_CONF)
    push = conf.push_target(parse_named("blocked.example/app:1"))
    assert str(push.reference) == "blocked.example/app:1"  # no mirror, no rewriting for pushes
    with pytest.raises(TransportError) as exc:
        push.check_allowed()
    assert exc.value.code == "registry-blocked"
    assert 'prefix "blocked.example"' in exc.value.message
    conf.push_target(parse_named("other.example/app:1")).check_allowed()


def test_insecure_applies_to_pull_and_push(tmp_path: Path) -> None:
    conf = load(tmp_path, BLOCKED_CONF)
    assert conf.push_target(parse_named("insecure.example/app:1")).insecure
    assert conf.pull_plan(parse_named("insecure.example/app:1")).sources[0].endpoint.insecure
    assert not conf.push_target(parse_named("secure.example/app:1")).insecure


# -- invalid files: each names the file and the entry ------------------------------------------------

INVALID = [
    ("insecure-conflict", '[[registry]]\nlocation = "registry.com"\n[[registry]]\nprefix = "registry.com/x"\n'
                          'location = "registry.com"\ninsecure = true\n',
     "registry 'registry.com' is defined multiple times with conflicting 'insecure' setting"),
    ("blocked-conflict", '[[registry]]\nlocation = "registry.com"\n[[registry]]\nprefix = "registry.com/x"\n'
                         'location = "registry.com"\nblocked = true\n',
     "conflicting 'blocked' setting"),
    ("mirror-location-missing", '[[registry]]\nlocation = "r.com"\n[[registry.mirror]]\ninsecure = true\n',
     "[[registry]] #1 (location \"r.com\") [[registry.mirror]] #1: invalid condition: mirror location is unset"),
    ("scheme-in-prefix", '[[registry]]\nlocation = "registry.com:5000"\nprefix = "http://schema-is-invalid.com"\n',
     "URI schemes are not supported"),
    ("scheme-in-location", '[[registry]]\nlocation = "https://registry.com"\n', "URI schemes are not supported"),
    ("both-unset", '[[registry]]\ninsecure = true\n', "both location and prefix are unset"),
    ("empty-location-plain-prefix", '[[registry]]\nprefix = "example.com"\n',
     "location is unset and prefix is not in the format"),
    ("wildcard-with-path", '[[registry]]\nprefix = "*.example.com/ns"\nlocation = "x.com"\n',
     "wildcarded prefix should be in the format"),
    ("location-not-a-host", '[[registry]]\nlocation = "not a host"\n', "invalid location 'not a host'"),
    ("pull-from-mirror-on-primary", '[[registry]]\nprefix = "registry-a.com/foo"\nlocation = "registry-a.com/bar"\n'
                                    'pull-from-mirror = "digest-only"\n',
     'pull-from-mirror must not be set for a non-mirror registry "registry-a.com/foo"'),
    ("digest-only-twice", '[[registry]]\nprefix = "registry-a.com/foo"\nlocation = "registry-a.com/bar"\n'
                          'mirror-by-digest-only = true\n[[registry.mirror]]\npull-from-mirror = "digest-only"\n'
                          'location = "mirror-1.registry-a.com"\n',
     'cannot set mirror usage mirror-by-digest-only for the registry ("registry-a.com/foo") and pull-from-mirror'),
    ("pull-from-mirror-value", '[[registry]]\nlocation = "r.com"\n[[registry.mirror]]\nlocation = "m.com"\n'
                               'pull-from-mirror = "notvalid"\n', 'unsupported pull-from-mirror value "notvalid"'),
    ("insecure-type", '[[registry]]\nlocation = "r.com"\ninsecure = "yes"\n',
     "[[registry]] #1 (location \"r.com\"): insecure must be a boolean, not a string"),
    ("blocked-type", '[[registry]]\nlocation = "r.com"\nblocked = 1\n', "blocked must be a boolean, not an integer"),
    ("location-type", '[[registry]]\nlocation = 5\n', "location must be a string, not an integer"),
    ("registry-not-array", 'registry = "r.com"\n', "registry: must be an array of tables"),
    ("mirror-not-table", '[[registry]]\nlocation = "r.com"\nmirror = ["m.com"]\n', "must be a table, not a string"),
    ("search-type", 'unqualified-search-registries = "docker.io"\n', "must be an array of strings"),
    ("short-name-mode-type", 'short-name-mode = 1\n', "short-name-mode: must be a string"),
    ("aliases-type", '[aliases]\nx = 1\n', "aliases: must be a table of strings"),
    # The values containers/image checks when it loads a file (skopeo refuses these files too):
    ("search-with-path", 'unqualified-search-registries = ["docker.io/library"]\n',
     "unqualified-search-registries: Invalid unqualified-search-registries entry 'docker.io/library': must be a "
     "registry host[:port]"),
    ("search-with-scheme", 'unqualified-search-registries = ["https://quay.io"]\n',
     "invalid location 'https://quay.io': URI schemes are not supported"),
    ("short-name-mode-value", 'short-name-mode = "bogus"\n',
     "short-name-mode: invalid short-name mode 'bogus': must be one of 'disabled', 'permissive', 'enforcing'"),
    ("alias-key-with-registry", '[aliases]\n"docker.io/busybox" = "docker.io/library/busybox"\n',
     "aliases: invalid short name 'docker.io/busybox': must not contain a registry"),
    ("alias-key-localhost", '[aliases]\n"localhost/busybox" = "docker.io/library/busybox"\n',
     "invalid short name 'localhost/busybox': must not contain a registry"),
    ("alias-key-tagged", '[aliases]\n"busybox:1" = "docker.io/library/busybox"\n',
     "invalid short name 'busybox:1': must not contain a tag"),
    ("alias-key-digest", f'[aliases]\n"busybox@sha256:{"a" * 64}" = "docker.io/library/busybox"\n',
     "must not contain a digest"),
    ("alias-key-uppercase", '[aliases]\n"BusyBox" = "docker.io/library/busybox"\n',
     "invalid short name 'BusyBox': invalid reference \"BusyBox\": repository name must be lowercase"),
    ("alias-value-no-registry", '[aliases]\n"busybox" = "library/busybox"\n',
     "invalid alias 'library/busybox': must contain registry and repository"),
    ("alias-value-tagged", '[aliases]\n"busybox" = "docker.io/library/busybox:1"\n',
     "invalid alias 'docker.io/library/busybox:1': must not contain a tag"),
    ("alias-value-garbage", '[aliases]\n"busybox" = "not a name"\n', "invalid alias 'not a name': invalid reference"),
    ("invalid-toml", '[[registry]\nlocation = "r.com"\n', "invalid TOML"),
    ("mixing-v1-v2", 'unqualified-search-registries = ["a.com"]\n[registries.block]\nregistries = ["b.com"]\n',
     "mixing sysregistry v1/v2 is not supported"),
]


@pytest.mark.parametrize(("text", "needle"), [(t, n) for _, t, n in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_registries_conf_names_file_and_entry(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert exc.value.code == "registries-conf-invalid"
    assert str(tmp_path / "registries.conf") in exc.value.message
    assert needle in exc.value.message


def test_every_bad_alias_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, '[aliases]\n"docker.io/a" = "docker.io/library/a"\n"b" = "b"\n"ok" = "quay.io/ok/ok"\n')
    assert "invalid short name 'docker.io/a'" in exc.value.message and "invalid alias 'b'" in exc.value.message
    assert "quay.io/ok/ok" not in exc.value.message


def test_what_containers_image_accepts_in_the_keys_it_checks(tmp_path: Path) -> None:
    conf = load(tmp_path, """
unqualified-search-registries = ["docker.io", "quay.io/", "localhost:5000", "[::1]:5000", "Registry.Example.com"]
short-name-mode = "permissive"
[aliases]
"library/busybox" = "docker.io/library/busybox"
"cleared" = ""
"local" = "localhost/local"
"ported" = "registry.example.com:5000/team/app"
""")
    assert conf.warnings == () and conf.registries == ()
    for mode in ("", "disabled", "enforcing"):
        assert load(tmp_path, f'short-name-mode = "{mode}"\n').registries == ()


def test_v1_format_in_a_drop_in_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"01\.conf: registries: a drop-in file must use the version 2 format"):
        load(tmp_path, "", ("01.conf", '[registries.block]\nregistries = ["b.com"]\n'))


def test_v1_format_is_converted(tmp_path: Path) -> None:
    conf = load(tmp_path, '[registries.search]\nregistries = ["registry-a.com"]\n[registries.block]\n'
                          'registries = ["registry-b.com"]\n[registries.insecure]\n'
                          'registries = ["registry-d.com", "registry-b.com"]\n')
    reg = conf.find_registry("registry-b.com/bar/foo/barfoo:latest")
    assert reg is not None and reg.blocked and reg.insecure
    d = conf.find_registry("registry-d.com/x")
    assert d is not None and d.insecure and not d.blocked
    assert conf.find_registry("registry-a.com/x") is None  # search lists place nothing


# -- unknown and ignored keys ----------------------------------------------------------------------------


def test_unknown_keys_warn_naming_the_file_and_known_ignored_keys_are_silent(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = """
unqualified-search-registries = ["docker.io"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]
additional-layer-store-auth-helper = "helper"
frobnicate = true
[aliases]
"skopeo" = "quay.io/skopeo/stable"
[[registry]]
location = "r.com"
mirrorz = 1
[[registry.mirror]]
location = "m.com"
insecurre = true
"""
    with caplog.at_level(logging.WARNING, logger="trustcopy.config"):
        conf = load(tmp_path, text)
    file = str(tmp_path / "registries.conf")
    assert [(w.file, w.key) for w in conf.warnings] == [
        (file, "frobnicate"),
        (file, '[[registry]] #1 (location "r.com").mirrorz'),
        (file, '[[registry]] #1 (location "r.com") [[registry.mirror]] #1.insecurre'),
    ]
    assert all(isinstance(w, ConfigWarning) for w in conf.warnings)
    assert caplog.text.count(file) == 3
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trustcopy.config"):
        load(tmp_path, text, report=False)
    assert caplog.text == ""


def test_same_prefix_twice_in_one_file_keeps_the_first_and_warns(tmp_path: Path) -> None:
    conf = load(tmp_path, '[[registry]]\nprefix = "p.com"\nlocation = "first.com"\n'
                          '[[registry]]\nprefix = "p.com"\nlocation = "second.com"\n')
    assert [r.location for r in conf.registries] == ["first.com"]
    assert conf.warnings[0].key == '[[registry]] #2 (prefix "p.com")'


def test_later_drop_in_replaces_an_entry_with_the_same_prefix(tmp_path: Path) -> None:
    conf = load(tmp_path, '[[registry]]\nlocation = "base.com"\n',
                ("20-b.conf", '[[registry]]\nlocation = "base.com"\nblocked = true\n'),
                ("10-a.conf", '[[registry]]\nlocation = "base.com"\ninsecure = true\n'))
    reg = conf.find_registry("base.com/x")
    assert reg is not None and reg.blocked and not reg.insecure
    assert reg.file.endswith("20-b.conf")
    assert [Path(f).name for f in conf.files] == ["registries.conf", "10-a.conf", "20-b.conf"]


# -- which files ------------------------------------------------------------------------------------------


def test_paths_follow_flag_then_environment_then_user_file_then_system(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sysconf, sysdir = str(tmp_path / "etc.conf"), str(tmp_path / "etc.d")
    user_dir = str(home / ".config/containers/registries.conf.d")
    kw = {"home": str(home), "system_conf": sysconf, "system_dir": sysdir}
    p = registries_conf_paths(env={}, **kw)
    assert (p.conf, p.explicit, p.dropin_dirs) == (sysconf, False, (sysdir, user_dir))
    (home / ".config/containers").mkdir(parents=True)
    (home / ".config/containers/registries.conf").write_text("")
    p = registries_conf_paths(env={}, **kw)
    assert (p.conf, p.explicit, p.dropin_dirs) == (str(home / ".config/containers/registries.conf"), False,
                                                   (user_dir,))
    p = registries_conf_paths(env={"REGISTRIES_CONFIG_PATH": "/r2"}, **kw)
    assert (p.conf, p.explicit, p.dropin_dirs) == ("/r2", True, (sysdir, user_dir))
    p = registries_conf_paths(env={"REGISTRIES_CONFIG_PATH": "/r2", "CONTAINERS_REGISTRIES_CONF": "/r1"}, **kw)
    assert p.conf == "/r1"
    p = registries_conf_paths("/flag", env={"CONTAINERS_REGISTRIES_CONF": "/r1"}, **kw)
    assert (p.conf, p.explicit) == ("/flag", True)
    # as containers/image: a set-but-empty first variable hides the second, and means "no override"
    p = registries_conf_paths(env={"CONTAINERS_REGISTRIES_CONF": "", "REGISTRIES_CONFIG_PATH": "/r2"}, **kw)
    assert (p.conf, p.explicit) == (str(home / ".config/containers/registries.conf"), False)


def test_missing_named_file_is_an_error_but_a_missing_system_file_is_empty(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_registries_conf(str(tmp_path / "nope.conf"), home=str(tmp_path), system_dir=NOWHERE)
    assert exc.value.code == "registries-conf-not-found"
    assert str(tmp_path / "nope.conf") in exc.value.message
    conf = load_registries_conf(env={}, home=str(tmp_path), system_conf=str(tmp_path / "none.conf"),
                                system_dir=NOWHERE)
    assert conf.registries == () and conf.files == ()


def test_drop_in_directories_skip_subdirectories_and_other_suffixes(tmp_path: Path) -> None:
    (tmp_path / "registries.conf.d" / "sub.conf").mkdir(parents=True)
    conf = load(tmp_path, "", ("x.conf.bak", '[[registry]]\nlocation = "bak.com"\n'),
                ("y.conf", '[[registry]]\nlocation = "y.com"\n'))
    assert [r.location for r in conf.registries] == ["y.com"]


def test_the_machines_shortnames_drop_in_is_accepted_without_warnings(tmp_path: Path) -> None:
    text = ('[aliases]\n  # almalinux\n  "almalinux" = "docker.io/library/almalinux"\n'
            '  "skopeo" = "quay.io/skopeo/stable"\n')
    conf = load(tmp_path, "", ("shortnames.conf", text))
    assert conf.warnings == () and conf.registries == ()


def test_the_file_named_explicitly_may_be_a_pipe_as_skopeo_reads_it(tmp_path: Path) -> None:
    """``--registries-conf <(generate-config)``: the shell hands over ``/dev/fd/N``, a pipe whose
    writer is already there; the named file is read through it."""
    import os

    from trustcopy.sysregistries import registries_conf_paths

    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b'[[registry]]\nlocation = "blocked.example"\nblocked = true\n')
        os.close(write_end)
        path = f"/dev/fd/{read_end}"
        assert registries_conf_paths(path).explicit
        conf = load_registries_conf(path, home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))
    finally:
        os.close(read_end)
    found = conf.find_registry("blocked.example/app")
    assert found is not None and found.blocked


def test_a_drop_in_that_is_a_pipe_is_refused_not_read(tmp_path: Path) -> None:
    """Only the file the user names may be a pipe: a FIFO among the drop-ins could block the command."""
    import os

    from trustcopy.errors import LimitExceededError

    dropins = tmp_path / "dropins"
    dropins.mkdir()
    os.mkfifo(dropins / "50-pipe.conf")
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    with pytest.raises(LimitExceededError, match=r"50-pipe\.conf is not a regular file"):
        load_registries_conf(str(conf), home=str(tmp_path / "home"), system_dir=str(dropins))


def test_a_named_pipe_without_a_writer_is_refused_not_read_as_an_empty_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Empty is a valid registries.conf: read from a pipe nobody writes, it would drop every rule
    (``blocked`` ones too). The command fails instead, after the writer wait (never a hang)."""
    import os

    from trustcopy import limits

    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.2)
    fifo = tmp_path / "nobody-writes.conf"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is a pipe that no writer opened within 0\.2 seconds") as info:
        load_registries_conf(str(fifo), home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))
    assert info.value.code == "config-unreadable"


def test_a_named_pipe_closed_empty_is_refused_and_a_late_writer_is_read(tmp_path: Path) -> None:
    import os
    import threading
    import time

    fifo = tmp_path / "late.conf"
    os.mkfifo(fifo)

    def write(data: bytes) -> None:
        time.sleep(0.3)
        with open(fifo, "wb") as f:  # the reader is open by then: does not block
            f.write(data)

    empty = threading.Thread(target=write, args=(b"",), daemon=True)
    empty.start()
    with pytest.raises(ConfigError, match=r"late\.conf is a pipe that gave no data$"):
        load_registries_conf(str(fifo), home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))
    empty.join(5)
    late = threading.Thread(target=write, args=(b'[[registry]]\nlocation = "blocked.example"\nblocked = true\n',),
                            daemon=True)
    late.start()
    conf = load_registries_conf(str(fifo), home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))
    late.join(5)
    assert [r.location for r in conf.registries] == ["blocked.example"]


def test_the_null_device_named_explicitly_is_no_configuration_and_other_devices_are_refused(tmp_path: Path) -> None:
    """``--registries-conf /dev/null`` (or ``CONTAINERS_REGISTRIES_CONF=/dev/null``) turns the system's
    files off, as in skopeo; another device is refused (it could be endless or block)."""
    from trustcopy.errors import LimitExceededError

    dropins = tmp_path / "dropins"
    dropins.mkdir()
    (dropins / "10-block.conf").write_text('[[registry]]\nlocation = "blocked.example"\nblocked = true\n')
    conf = load_registries_conf("/dev/null", home=str(tmp_path / "home"), system_dir=str(dropins))
    assert conf.files == ("/dev/null", str(dropins / "10-block.conf"))
    blocked = conf.find_registry("blocked.example/app")
    assert blocked is not None and blocked.blocked  # drop-ins still apply, as containers/image reads them
    env_conf = load_registries_conf(None, env={"CONTAINERS_REGISTRIES_CONF": "/dev/null"},
                                    home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))
    assert env_conf.find_registry("blocked.example/app") is None
    with pytest.raises(LimitExceededError, match="is not a regular file"):
        load_registries_conf("/dev/zero", home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"))


def test_credential_helpers_of_the_last_file_that_sets_them(tmp_path: Path) -> None:
    assert load(tmp_path, "").credential_helpers == ()
    assert load(tmp_path, 'credential-helpers = ["ecr", "containers-auth.json"]\n').credential_helpers == (
        "ecr", "containers-auth.json")
    conf = load(tmp_path, 'credential-helpers = ["ecr"]\n', ("01.conf", 'credential-helpers = ["gcr"]\n'),
                ("02.conf", '[[registry]]\nlocation = "r.com"\n'))
    assert conf.credential_helpers == ("gcr",)  # 02.conf sets none: 01.conf's list stays
    with pytest.raises(ConfigError, match=r"credential-helpers: invalid credential helper name '\.\./x'"):
        load(tmp_path, 'credential-helpers = ["../x"]\n')


# -- containers/image's own test data (pkg/sysregistriesv2/testdata, from golang-github-containers-image-dev) --

CI_TESTDATA = Path("/usr/share/gocode/src/github.com/containers/image/pkg/sysregistriesv2/testdata")
#: The files containers/image's tests expect GetRegistries to refuse (system_registries_v2_test.go).
CI_INVALID = {"blocked-conflicts.conf", "insecure-conflicts.conf", "invalid-aliases.conf",
              "invalid-config-level-mirror.conf", "invalid-conflict-mirror.conf", "invalid-prefix.conf",
              "invalid-search.conf", "invalid-short-name-mode.conf", "invalid-value-mirror.conf",
              "missing-mirror-location.conf", "mixing-v1-v2.conf", "try-update-cache-invalid.conf",
              "v1-invalid-block.conf", "v1-invalid-insecure.conf", "v1-invalid-search.conf"}


def test_containers_image_test_data_is_accepted_and_refused_as_there(tmp_path: Path) -> None:
    assert CI_TESTDATA.is_dir(), "./run installs golang-github-containers-image-dev"
    files = sorted(p.name for p in CI_TESTDATA.glob("*.conf"))
    assert set(files) >= CI_INVALID and len(files) > len(CI_INVALID) + 10
    outcome = {}
    for name in files:
        try:
            load_registries_conf(str(CI_TESTDATA / name), home=str(tmp_path / "home"), system_dir=str(tmp_path / "no"))
            outcome[name] = "ok"
        except ConfigError as exc:
            assert exc.context.get("file") == str(CI_TESTDATA / name) or str(CI_TESTDATA / name) in exc.message
            outcome[name] = "refused"
    assert outcome == {name: "refused" if name in CI_INVALID else "ok" for name in files}


def test_v1_search_registries_are_checked_as_locations(tmp_path: Path) -> None:
    """ConvertToV2 parses every v1 list, search first: a scheme there refuses the file."""
    with pytest.raises(ConfigError, match=r"registries\.search.*http://schema-is-invalid\.com"):
        load(tmp_path, '[registries.search]\nregistries = ["registry-a.com////", "http://schema-is-invalid.com"]\n')
    conf = load(tmp_path, '[registries.search]\nregistries = ["registry-a.com////"]\n')
    assert conf.registries == ()


#: containers/image's TestFindRegistry: find-registry.conf with the drop-ins of registries.conf.d.
CI_FIND_REGISTRY = [
    ("simple-prefix.com/foo/bar:latest", ("simple-prefix.com", "registry.com:5000")),
    ("simple-prefix.com/", ("simple-prefix.com", "registry.com:5000")),
    ("simple-prefix.com", ("simple-prefix.com", "registry.com:5000")),
    ("not.so.simple-prefix.com/", ("*.so.simple-prefix.com", "subdomain-prefix.com")),
    ("not.quite.simple-prefix.com/", ("*.simple-prefix.com", "subdomain-prefix-2.com")),
    ("really.not.quite.simple-prefix.com:5000/with/path/and/beyond:tag",
     ("*.not.quite.simple-prefix.com", "subdomain-prefix-1-overridden-by-dropin-location.com")),
    ("foo.docker.io:5000/omg/wtf/bbq:foo", ("*.docker.io", "subdomain-prefix-2.com")),
    ("foo.bar.example.com:6000/omg/wtf/bbq@sha256:" + "a" * 64,
     ("*.bar.example.com", "subdomain-prefix-3-overridden-by-dropin-location.com")),
    ("foo.bar.docker.io:5000/omg/wtf/bbq:foo", ("*.bar.docker.io", "subdomain-prefix-4.com")),
    ("foo.bar.example.com:5000/omg/wtf/bbq:foo", ("foo.bar.example.com:5000", "subdomain-prefix-5.com")),
    ("simple-prefix.comx", None),
    ("complex-prefix.com:4000/with/path/and/beyond:tag",
     ("complex-prefix.com:4000/with/path", "another-registry.com:5000")),
    ("no-prefix.com/foo:tag", ("no-prefix.com", "no-prefix.com")),
    ("empty-prefix.com/foo:tag", ("empty-prefix.com", "empty-prefix.com")),
]


def test_containers_image_find_registry_vectors() -> None:
    conf = load_registries_conf(str(CI_TESTDATA / "find-registry.conf"), home="/nonexistent",
                                system_dir=str(CI_TESTDATA / "registries.conf.d"))
    assert len(conf.registries) == 19
    found = {}
    for name, _ in CI_FIND_REGISTRY:
        registry = conf.find_registry(name)
        found[name] = registry and (registry.prefix, registry.location)
    assert found == dict(CI_FIND_REGISTRY)


def test_containers_image_registries_conf_directory_vectors() -> None:
    """TestRegistriesConfDirectory: drop-ins override the base file's entries, in containers/image's order."""
    conf = load_registries_conf(str(CI_TESTDATA / "base-for-registries.d.conf"), home="/nonexistent",
                                system_dir=str(CI_TESTDATA / "registries.conf.d"))
    assert [r.location for r in conf.registries] == [
        "subdomain-prefix-3-overridden-by-dropin-location.com", "subdomain-prefix-2-overridden-by-dropin-location.com",
        "subdomain-prefix-1-overridden-by-dropin-location.com", "1.com", "2.com", "base.com"]
    found = conf.find_registry("base.com/test:latest")
    assert found is not None and found.blocked
