"""containers/image's own registries.conf test vectors, run against trustcopy.sysregistries.

Sources: ``pkg/sysregistriesv2/system_registries_v2_test.go`` and ``shortnames_test.go`` of the
newest containers/image (github.com/containers/container-libs, ``image/pkg/sysregistriesv2``),
with its ``testdata/`` read in place from the Debian package (see TESTDATA).
Each block names the Go test it carries. Vectors already asserted in test_sysregistries.py
(refMatchingPrefix, rewriteReference successes, FindRegistry) are not repeated.

trustcopy does not resolve short names, so for unqualified-search-registries, short-name-mode
and aliases only what containers/image *accepts or refuses when loading* is compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy.errors import ConfigError
from trustcopy.reference import parse_named
from trustcopy.sysregistries import RegistriesConf, load_registries_conf, registries_conf_paths, rewrite_reference

#: containers/image 5.23's testdata, read in place from the Debian package golang-github-containers-image-dev
#: (``./run`` installs it). The newest containers/image only adds a variant of mixing-v1-v2.conf (written
#: inline below) and merges pull-sources-mirror-reference.conf into pull-sources-from-reference.conf.
TESTDATA = Path("/usr/share/gocode/src/github.com/containers/image/pkg/sysregistriesv2/testdata")
NOWHERE = "/nonexistent-trustcopy-test"
A64 = "a" * 64
DIGEST = f"@sha256:{A64}"


def load_testdata(name: str, dropin_dir: str = "this-does-not-exist") -> RegistriesConf:
    """``SystemRegistriesConfPath: testdata/NAME, SystemRegistriesConfDirPath: testdata/DIR``."""
    return load_registries_conf(str(TESTDATA / name), env={}, home=NOWHERE, system_dir=str(TESTDATA / dropin_dir),
                                report_warnings=False)


def load_text(tmp_path: Path, text: str, *dropins: tuple[str, str]) -> RegistriesConf:
    conf = tmp_path / "registries.conf"
    conf.write_text(text)
    dropin_dir = tmp_path / "registries.conf.d"
    dropin_dir.mkdir(exist_ok=True)
    for name, content in dropins:
        (dropin_dir / name).write_text(content)
    return load_registries_conf(str(conf), env={}, home=str(tmp_path / "home"), system_dir=str(dropin_dir),
                                report_warnings=False)


def refused(tmp_path: Path, text: str, *dropins: tuple[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text, *dropins)
    assert exc.value.code == "registries-conf-invalid"
    return exc.value


def test_fixtures_are_present() -> None:
    assert len(list(TESTDATA.glob("*.conf"))) == 28


# -- TestV1RegistriesConfNonempty / TestV1RegistriesConfHasSetField ----------------------------------
# The newest containers/image decides "this is a version 1 file" with hasSetField: a version 1 list
# that is present counts even when empty (``registries = []``); a section without the key does not.

V1_SET = [
    # (TOML, is a version 1 file)
    ("", False),
    ("[registries.search]\n", False),
    ("[registries]\n", False),
    ("[registries.search]\nregistries = []\n", True),
    ("[registries.insecure]\nregistries = []\n", True),
    ("[registries.block]\nregistries = []\n", True),
    ('[registries.search]\nregistries = ["example.com"]\n', True),
    ('[registries.insecure]\nregistries = ["example.com"]\n', True),
    ('[registries.block]\nregistries = ["example.com"]\n', True),
]


@pytest.mark.parametrize(("text", "is_v1"), V1_SET, ids=[t or "empty" for t, _ in V1_SET])
def test_v1_has_set_field_decides_the_format(tmp_path: Path, text: str, is_v1: bool) -> None:
    # alone: accepted either way
    load_text(tmp_path, text)
    # in a drop-in: a version 1 file is refused ("registry must be in v2 format but is in v1")
    if is_v1:
        exc = refused(tmp_path, "", ("01.conf", text))
        assert "01.conf: registries:" in exc.message and "registry must be in v2 format but is in v1" in exc.message
    else:
        load_text(tmp_path, "", ("01.conf", text))
    # with any version 2 key set: "mixing sysregistry v1/v2 is not supported"
    mixed = text + "unqualified-search-registries = []\n" if not text.startswith("[") else (
        "unqualified-search-registries = []\n" + text)
    if is_v1:
        assert "mixing sysregistry v1/v2 is not supported" in refused(tmp_path, mixed).message
    else:
        load_text(tmp_path, mixed)


# -- TestV2RegistriesConfNonempty / TestV2RegistriesConfHasSetField ----------------------------------
# What counts as "version 2 set" next to a version 1 list: arrays and tables even when empty,
# strings only when not empty.

V2_SET = [
    ("", False),
    ('short-name-mode = ""\n', False),
    ('additional-layer-store-auth-helper = ""\n', False),
    ("registry = []\n", True),
    ("unqualified-search-registries = []\n", True),
    ("credential-helpers = []\n", True),
    ("aliases = {}\n", True),
    ('[[registry]]\nprefix = "example.com"\nlocation = "example.com"\n', True),
    ('unqualified-search-registries = ["example.com"]\n', True),
    ('credential-helpers = ["a"]\n', True),
    ('short-name-mode = "enforcing"\n', True),
    ('aliases = { a = "example.com/b" }\n', True),
    ('additional-layer-store-auth-helper = "example"\n', True),
]


@pytest.mark.parametrize(("text", "is_v2"), V2_SET, ids=[t or "empty" for t, _ in V2_SET])
def test_v2_has_set_field_next_to_a_v1_list(tmp_path: Path, text: str, is_v2: bool) -> None:
    full = text + '[registries.block]\nregistries = ["b.com"]\n'
    if is_v2:
        exc = refused(tmp_path, full)
        assert "mixing sysregistry v1/v2 is not supported" in exc.message
        assert str(tmp_path / "registries.conf") in exc.message
    else:
        reg = load_text(tmp_path, full).find_registry("b.com/x")
        assert reg is not None and reg.blocked


# -- TestMixingV1andV2 -----------------------------------------------------------------------------------


def test_mixing_v1_and_v2() -> None:
    with pytest.raises(ConfigError, match="mixing sysregistry v1/v2 is not supported") as exc:
        load_testdata("mixing-v1-v2.conf")
    assert str(TESTDATA / "mixing-v1-v2.conf") in exc.value.message


def test_mixing_empty_v1_and_v2_lists(tmp_path: Path) -> None:
    """Newest containers/image (mixing-v1-v2-empty.conf): empty lists of both versions are still both set."""
    err = refused(tmp_path, 'unqualified-search-registries = []\n\n[registries.insecure]\nregistries = []\n\n'
                            '[registries.search]\nregistries = []\n')
    assert "mixing sysregistry v1/v2 is not supported" in err.message


# -- TestParseLocation (through the location and mirror location fields) ----------------------------

PARSE_LOCATION = [
    ("example.com", "example.com"),
    ("example.com/", "example.com"),  # trailing slashes are stripped
    ("example.com//////", "example.com"),
    ("example.com:5000/with/path", "example.com:5000/with/path"),
]


@pytest.mark.parametrize(("given", "parsed"), PARSE_LOCATION, ids=[g for g, _ in PARSE_LOCATION])
def test_parse_location(tmp_path: Path, given: str, parsed: str) -> None:
    conf = load_text(tmp_path, f'[[registry]]\nprefix = "p.com"\nlocation = "{given}"\n'
                               f'[[registry.mirror]]\nlocation = "{given}"\n')
    assert conf.registries[0].location == parsed
    # newest containers/image writes the parsed mirror location back (5.23 kept "example.com/")
    assert conf.registries[0].mirrors[0].location == parsed


def test_parse_location_refuses_uri_schemes(tmp_path: Path) -> None:
    exc = refused(tmp_path, '[[registry]]\nlocation = "https://example.com"\n')
    assert "invalid location 'https://example.com': URI schemes are not supported" in exc.message
    assert '[[registry]] #1 (location "https://example.com")' in exc.message


def test_parse_location_user_at_host_is_refused_deliberately(tmp_path: Path) -> None:
    # parseLocation accepts "john.doe@example.com"; trustcopy also requires a location to start a
    # valid reference (containers/image would fail only when rewriting a pull to it).
    exc = refused(tmp_path, '[[registry]]\nlocation = "john.doe@example.com"\n')
    assert "invalid location 'john.doe@example.com'" in exc.message


# -- TestEmptyConfig ------------------------------------------------------------------------------------


def test_empty_config(tmp_path: Path) -> None:
    assert load_testdata("empty.conf").registries == ()
    # not named explicitly: a missing system file is an empty configuration
    conf = load_registries_conf(env={}, home=str(tmp_path), system_conf=str(TESTDATA / "this-does-not-exist" / "x"),
                                system_dir=str(TESTDATA / "this-does-not-exist"))
    assert conf.registries == () and conf.files == ()


# -- TestMirrors ----------------------------------------------------------------------------------------


def test_mirrors() -> None:
    conf = load_testdata("mirrors.conf")
    assert len(conf.registries) == 2
    reg = conf.find_registry("registry.com/image:tag")
    assert reg is not None
    assert [(m.location, m.insecure) for m in reg.mirrors] == [("mirror-1.registry.com", False),
                                                                ("mirror-2.registry.com", True)]
    blocked = conf.find_registry("blocked.registry.com")
    assert blocked is not None and blocked.blocked


# -- TestNewConfigWrapper -------------------------------------------------------------------------------


def test_new_config_wrapper_no_environment_expansion_in_overridden_paths(tmp_path: Path) -> None:
    assert registries_conf_paths("$HOME", env={}, home=str(tmp_path)).conf == "$HOME"
    # a user file present does not win over an explicit path
    user = tmp_path / ".config/containers/registries.conf"
    user.parent.mkdir(parents=True)
    user.write_text("")
    paths = registries_conf_paths("/this/is/not/the/default/registries.conf", env={}, home=str(tmp_path))
    assert (paths.conf, paths.explicit) == ("/this/is/not/the/default/registries.conf", True)


# -- TestFindRegistry (count; the lookups are in test_sysregistries.py) --------------------------------


def test_find_registry_count_and_missing_explicit_file() -> None:
    conf = load_testdata("find-registry.conf", "registries.conf.d")
    assert len(conf.registries) == 19
    with pytest.raises(ConfigError) as exc:
        load_testdata("this-does-not-exist.conf")
    assert exc.value.code == "registries-conf-not-found"
    assert str(TESTDATA / "this-does-not-exist.conf") in exc.value.message


# -- TestFindUnqualifiedSearchRegistries ---------------------------------------------------------------


def test_find_unqualified_search_registries() -> None:
    assert len(load_testdata("unqualified-search.conf").registries) == 4
    with pytest.raises(ConfigError) as exc:
        load_testdata("invalid-search.conf")
    assert str(TESTDATA / "invalid-search.conf") in exc.value.message
    assert "unqualified-search-registries: Invalid unqualified-search-registries entry " \
           "'registry-a.com/namespace-is-forbidden'" in exc.value.message


# -- TestInvalidV2Configs, TestInvalidMirrorConfig ---------------------------------------------------------
# (file, the substring containers/image's test expects, the entry trustcopy names)

INVALID_FILES = [
    ("insecure-conflicts.conf", "registry 'registry.com' is defined multiple times with conflicting 'insecure' setting",
     '[[registry]] #1 (prefix "registry.com") and [[registry]] #2 (prefix "registry.com")'),
    ("blocked-conflicts.conf", "registry 'registry.com' is defined multiple times with conflicting 'blocked' setting",
     '[[registry]] #1 (prefix "registry.com") and [[registry]] #2 (prefix "registry.com")'),
    ("missing-mirror-location.conf", "invalid condition: mirror location is unset",
     '[[registry]] #2 (location "registry-b.com") [[registry.mirror]] #2'),
    # Go expects "invalid location" (parseLocation's wording for a prefix too); trustcopy names the field.
    ("invalid-prefix.conf", "invalid prefix 'http://schema-is-invalid.com': URI schemes are not supported",
     '[[registry]] #1 (prefix "http://schema-is-invalid.com")'),
    ("invalid-config-level-mirror.conf",
     'pull-from-mirror must not be set for a non-mirror registry "registry-a.com/foo"',
     '[[registry]] #1 (prefix "registry-a.com/foo")'),
    ("invalid-conflict-mirror.conf",
     'cannot set mirror usage mirror-by-digest-only for the registry ("registry-a.com/foo") and pull-from-mirror '
     'for per-mirror ("mirror-1.registry-a.com") at the same time',
     '[[registry]] #1 (prefix "registry-a.com/foo") [[registry.mirror]] #1'),
    ("invalid-value-mirror.conf", 'unsupported pull-from-mirror value "notvalid" for mirror "mirror-1.registry-a.com"',
     '[[registry]] #1 (prefix "registry-a.com/foo") [[registry.mirror]] #1'),
]


@pytest.mark.parametrize(("name", "go_substring", "entry"), INVALID_FILES, ids=[n for n, _, _ in INVALID_FILES])
def test_invalid_v2_configs(name: str, go_substring: str, entry: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_testdata(name)
    assert exc.value.code == "registries-conf-invalid"
    assert exc.value.message.startswith(str(TESTDATA / name) + ": ")
    assert go_substring in exc.value.message
    assert entry in exc.value.message


# -- TestUnmarshalConfig, TestInvalidateCache, TestTryUpdatingCache ---------------------------------------


def test_unmarshal_config() -> None:
    assert len(load_testdata("unmarshal.conf").registries) == 4


def test_invalidate_cache_order() -> None:
    conf = load_testdata("invalidate-cache.conf")
    assert [r.location for r in conf.registries] == [
        "blocked.registry.com", "insecure.registry.com", "registry.com", "untrusted.registry.com"]


def test_try_updating_cache() -> None:
    assert [r.location for r in load_testdata("try-update-cache-valid.conf").registries] == ["registry.com"]
    with pytest.raises(ConfigError, match="invalid TOML") as exc:
        load_testdata("try-update-cache-invalid.conf")
    assert str(TESTDATA / "try-update-cache-invalid.conf") in exc.value.message


# -- TestV1BackwardsCompatibility ---------------------------------------------------------------------


def test_v1_backwards_compatibility() -> None:
    conf = load_testdata("v1-compatibility.conf")
    assert len(conf.registries) == 4
    assert sorted(r.location for r in conf.registries) == [
        "registry-a.com", "registry-b.com", "registry-d.com", "registry-e.com"]
    reg = conf.find_registry("registry-b.com/bar/foo/barfoo:latest")
    assert reg is not None and reg.insecure and reg.blocked  # "registry-b.com////" merged with "registry-b.com"


@pytest.mark.parametrize(("name", "where"), [("v1-invalid-block.conf", "registries.block"),
                                              ("v1-invalid-insecure.conf", "registries.insecure"),
                                              ("v1-invalid-search.conf", "registries.search")])
def test_v1_invalid(name: str, where: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_testdata(name)
    assert exc.value.message.startswith(f"{TESTDATA / name}: {where}: ")
    assert "'http://schema-is-invalid.com': URI schemes are not supported" in exc.value.message


def test_v1_search_entries_must_be_hosts(tmp_path: Path) -> None:
    # ConvertToV2 makes the search list UnqualifiedSearchRegistries, which postProcessRegistries
    # checks against the domain regexp (skopeo 1.9.3: "Invalid unqualified-search-registries entry").
    exc = refused(tmp_path, '[registries.search]\nregistries = ["registry-a.com/ns"]\n'
                            '[registries.block]\nregistries = ["b.com"]\n')
    assert "registries.search: Invalid unqualified-search-registries entry 'registry-a.com/ns'" in exc.message
    assert load_text(tmp_path, '[registries.search]\nregistries = ["registry-a.com////", "[::1]:5000"]\n'
                               '[registries.block]\nregistries = ["b.com"]\n').find_registry("b.com") is not None


# -- TestRewriteReferenceFailedDuringParseNamed (the newest "example.com/f" rows) -------------------------

REWRITE_FAILURES_NEWEST = [
    ("example.com/foo/image", "example.com/f", "example.com/foo"),
    ("example.com/foo:latest", "example.com/f", "example.com/foo"),
    (f"example.com/foo{DIGEST}", "example.com/f", "example.com/foo"),
]


@pytest.mark.parametrize(("ref", "prefix", "location"), REWRITE_FAILURES_NEWEST,
                         ids=[r for r, _, _ in REWRITE_FAILURES_NEWEST])
def test_rewrite_reference_failed_during_parse_named(ref: str, prefix: str, location: str) -> None:
    with pytest.raises(ConfigError, match="does not match"):
        rewrite_reference(parse_named(ref), prefix, location, "[[registry]] #1 in F")


# -- TestPullSourcesFromReference (newest: 9 entries, references and insecure per source) ------------

PULL_SOURCES = [
    # (matched prefix, digest endpoints, their insecure, tag endpoints, their insecure)
    ("registry-a.com/foo", ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
     [False, True, False], ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
     [False, True, False]),
    ("registry-b.com/foo", ["mirror-1.registry-b.com", "mirror-2.registry-b.com", "registry-b.com/bar"],
     [False, False, False], ["registry-b.com/bar"], [False]),
    ("registry-a.com/baz", ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
     [False, True, False], ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
     [False, True, False]),
    ("registry-b.com/baz", ["mirror-1.registry-b.com", "mirror-2.registry-b.com", "registry-b.com/bar"],
     [False, False, False], ["registry-b.com/bar"], [False]),
    ("registry-c.com/baz", ["mirror-1.registry-c.com", "mirror-2.registry-c.com", "registry-c.com/bar"],
     [False, False, False], ["mirror-1.registry-c.com", "registry-c.com/bar"], [False, False]),
    ("registry-d.com/baz", ["mirror-1.registry-d.com", "mirror-2.registry-d.com", "registry-d.com/bar"],
     [False, False, False], ["registry-d.com/bar"], [False]),
    ("registry-e.com/baz", ["registry-e.com/bar"], [False],
     ["mirror-1.registry-e.com", "mirror-2.registry-e.com", "registry-e.com/bar"], [False, False, False]),
    ("registry-f.com/baz", ["mirror-1.registry-f.com", "registry-f.com/bar"], [False, False],
     ["mirror-1.registry-f.com", "mirror-2.registry-f.com", "registry-f.com/bar"], [False, False, False]),
    ("registry-g.com/baz",
     ["mirror-1.registry-g.com", "mirror-3.registry-g.com", "mirror-4.registry-g.com", "registry-g.com/bar"],
     [False] * 4,
     ["mirror-2.registry-g.com", "mirror-3.registry-g.com", "mirror-4.registry-g.com", "registry-g.com/bar"],
     [False] * 4),
]


def test_pull_sources_from_reference_count() -> None:
    # The newest containers/image merges these two files into one of 9 entries.
    assert len(load_testdata("pull-sources-from-reference.conf").registries) == 2
    assert len(load_testdata("pull-sources-mirror-reference.conf").registries) == 7


@pytest.mark.parametrize(("prefix", "digest_eps", "digest_insecure", "tag_eps", "tag_insecure"), PULL_SOURCES,
                         ids=[p[0] for p in PULL_SOURCES])
def test_pull_sources_mirror_from_reference(prefix: str, digest_eps: list[str], digest_insecure: list[bool],
                                            tag_eps: list[str], tag_insecure: list[bool]) -> None:
    conf = load_testdata("pull-sources-mirror-reference.conf")  # the 5.23 file names them …/foo
    prefix = prefix.replace("/baz", "/foo")
    for suffix, endpoints, insecure in ((DIGEST, digest_eps, digest_insecure), (":aaa", tag_eps, tag_insecure)):
        plan = conf.pull_plan(parse_named(f"{prefix}/image{suffix}"))
        assert plan.registry is not None and plan.registry.prefix == prefix
        assert [s.endpoint.location for s in plan.sources] == endpoints
        assert [str(s.reference) for s in plan.sources] == [f"{e}/image{suffix}" for e in endpoints]
        assert [s.endpoint.insecure for s in plan.sources] == insecure


# -- TestRegistriesConfDirectory ----------------------------------------------------------------------


def test_registries_conf_directory() -> None:
    conf = load_testdata("base-for-registries.d.conf", "registries.conf.d")
    assert [r.location for r in conf.registries] == [
        "subdomain-prefix-3-overridden-by-dropin-location.com", "subdomain-prefix-2-overridden-by-dropin-location.com",
        "subdomain-prefix-1-overridden-by-dropin-location.com", "1.com", "2.com", "base.com"]
    reg = conf.find_registry("base.com/test:latest")
    assert reg is not None and reg.blocked and not reg.insecure  # config-2.conf's entry replaces the base one
    assert [Path(f).name for f in conf.files] == [
        "base-for-registries.d.conf", "config-1.conf", "config-2.conf", "config-3.conf",
        "subdomain-override-1.conf", "subdomain-override-2.conf", "subdomain-override-3.conf"]
    # the unqualified-search-registries merge cases load (trustcopy does not resolve short names)
    for dropins in ("registries.conf.d-usr1", "registries.conf.d-usr2"):
        assert len(load_testdata("unqualified-search.conf", dropins).registries) == 4


# -- TestParseShortNameMode / TestGetShortNameMode ------------------------------------------------------


@pytest.mark.parametrize(("name", "ok"), [("aliases.conf", True), ("registries.conf.d/config-2.conf", True),
                                          ("registries.conf.d/config-3.conf", True),
                                          ("invalid-short-name-mode.conf", False)])
def test_get_short_name_mode(name: str, ok: bool) -> None:
    if ok:
        load_testdata(name)
    else:
        with pytest.raises(ConfigError, match=r"short-name-mode: invalid short-name mode 'invalid'"):
            load_testdata(name)


@pytest.mark.parametrize(("mode", "ok"), [("disabled", True), ("enforcing", True), ("permissive", True),
                                          ("", True),  # parseShortNameMode("") fails, but "" in a file is unset
                                          ("xxx", False), ("prompt", False)])
def test_parse_short_name_mode(tmp_path: Path, mode: str, ok: bool) -> None:
    text = f'short-name-mode = "{mode}"\n'
    if ok:
        load_text(tmp_path, text)
    else:
        assert "short-name-mode: invalid short-name mode" in refused(tmp_path, text).message


# -- TestCredentialHelpers ------------------------------------------------------------------------------

CREDENTIAL_HELPERS = [
    ("cred-helper.conf", "this-does-not-exist", ("helper-1", "helper-2")),
    ("empty.conf", "this-does-not-exist", ()),  # () is containers/image's ["containers-auth.json"]
    ("cred-helper.conf", "registries.conf.d-empty-helpers", ()),  # a drop-in's [] resets to the default
    ("cred-helper.conf", "registries.conf.d", ("dropin-1", "dropin-2")),
]


@pytest.mark.parametrize(("name", "dropins", "helpers"), CREDENTIAL_HELPERS,
                         ids=[f"{n}+{d}" for n, d, _ in CREDENTIAL_HELPERS])
def test_credential_helpers(name: str, dropins: str, helpers: tuple[str, ...]) -> None:
    assert load_testdata(name, dropins).credential_helpers == helpers


# -- shortnames_test.go: TestParseShortNameValue, TestValidateShortName (through [aliases]) -------------

ALIAS_VALUES = [
    ("docker.io/library/fedora", True),
    ("localhost/fedora", True),
    ("localhost:5000/fedora", True),
    ("localhost:5000/namespace/fedora", True),
    ("docker.io/fedora", True),
    ("", True),  # an empty value in a file resets an alias (newShortNameAliasCache)
    ("docker.io/library/fedora:latest", False),
    ("docker.io/library/fedora@sha256:b87dd5f837112a9e1e9882963a6406387597698268c0ad371b187151a5dfe6bf", False),
    ("fedora", False),
    ("fedora:latest", False),
    ("library/fedora", False),
    ("library/fedora:latest", False),
    ("$$4455%%", False),
    ("docker://foo", False),
    ("docker-archive://foo", False),
    # TestInvalidAliases (AddShortNameAlias values)
    ("aliases", False),
    ("aliases.conf", False),
    (" ", False),
    ("$$$", False),
]


@pytest.mark.parametrize(("value", "ok"), ALIAS_VALUES, ids=[repr(v) for v, _ in ALIAS_VALUES])
def test_parse_short_name_value(tmp_path: Path, value: str, ok: bool) -> None:
    text = f"[aliases]\n'short' = '{value}'\n"
    if ok:
        load_text(tmp_path, text)
    else:
        exc = refused(tmp_path, text)
        assert f"aliases: invalid alias {value!r}" in exc.message


SHORT_NAMES = [
    ("library/fedora", True),
    ("fedora", True),
    ("1234567489", True),
    ("quay/foo", True),  # aliases.conf
    ("docker.io/library/fedora:latest", False),
    ("docker.io/library/fedora@sha256:b87dd5f837112a9e1e9882963a6406387597698268c0ad371b187151a5dfe6bf", False),
    ("fedora:latest", False),
    ("library/fedora:latest", False),
    ("$$4455%%", False),
    ("docker://foo", False),
    ("docker-archive://foo", False),
    ("", False),
    ("docker.io/fedora", False),  # must not contain a registry
]


@pytest.mark.parametrize(("name", "ok"), SHORT_NAMES, ids=[repr(n) for n, _ in SHORT_NAMES])
def test_validate_short_name(tmp_path: Path, name: str, ok: bool) -> None:
    text = f"[aliases]\n'{name}' = 'example.com/image'\n"
    if ok:
        load_text(tmp_path, text)
    else:
        exc = refused(tmp_path, text)
        assert f"aliases: invalid short name {name!r}" in exc.message


def test_resolve_short_name_alias_files_load() -> None:
    # TestResolveShortNameAlias, TestAliasesWithDropInConfigs: the files are valid
    load_testdata("aliases.conf")
    load_testdata("aliases.conf", "registries.conf.d")


def test_invalid_aliases() -> None:
    with pytest.raises(ConfigError) as exc:
        load_testdata("invalid-aliases.conf")
    # every malformed entry at once, as newShortNameAliasCache reports them
    assert "invalid alias 'quay.io/repo/image:1': must not contain a tag" in exc.value.message
    assert "invalid alias 'image:1': must not contain a tag" in exc.value.message
    assert str(TESTDATA / "invalid-aliases.conf") in exc.value.message


# -- The whole testdata directory: accepted / refused as containers/image's tests expect ----------------

REFUSED = {"blocked-conflicts.conf", "insecure-conflicts.conf", "invalid-aliases.conf",
           "invalid-config-level-mirror.conf", "invalid-conflict-mirror.conf", "invalid-prefix.conf",
           "invalid-search.conf", "invalid-short-name-mode.conf", "invalid-value-mirror.conf",
           "missing-mirror-location.conf", "mixing-v1-v2.conf",
           "try-update-cache-invalid.conf", "v1-invalid-block.conf", "v1-invalid-insecure.conf",
           "v1-invalid-search.conf"}


def test_every_testdata_file_is_accepted_or_refused_as_in_containers_image() -> None:
    outcome = {}
    for path in sorted(TESTDATA.glob("*.conf")):
        try:
            load_testdata(path.name)
            outcome[path.name] = "ok"
        except ConfigError as exc:
            assert str(path) in exc.message
            outcome[path.name] = "refused"
    assert outcome == {p.name: "refused" if p.name in REFUSED else "ok" for p in TESTDATA.glob("*.conf")}
    for path in sorted(TESTDATA.glob("registries.conf.d*/*.conf")):  # drop-ins are valid drop-ins
        load_text_dir = path.parent
        load_registries_conf(str(TESTDATA / "empty.conf"), env={}, home=NOWHERE, system_dir=str(load_text_dir),
                             report_warnings=False)


# -- Not a Go vector: BurntSushi/toml matches keys ignoring case (checked against skopeo 1.9.3) ----------


def test_keys_match_ignoring_case_as_containers_image_decodes_them(tmp_path: Path) -> None:
    # skopeo --registries-conf F inspect docker://127.0.0.1:1/x:tag → "registry 127.0.0.1:1 is blocked"
    conf = load_text(tmp_path, '[[Registry]]\nLocation = "127.0.0.1:1"\nBLOCKED = true\nInsecure = true\n'
                               '[[Registry.Mirror]]\nLOCATION = "m.example"\nPull-From-Mirror = "tag-only"\n'
                               'Credential-Helpers = ["x"]\n')
    reg = conf.find_registry("127.0.0.1:1/x")
    assert reg is not None and reg.blocked and reg.insecure
    assert [(m.location, m.pull_from_mirror) for m in reg.mirrors] == [("m.example", "tag-only")]
    assert any("BLOCKED" in w.key and "read as 'blocked'" in w.message for w in conf.warnings)
    # Go's EqualFold also folds U+017F (long s) onto "s" and U+212A (Kelvin) onto "k", nothing else
    conf = load_text(tmp_path, '[[registry]]\nlocation = "r.example"\n"bloc\u212aed" = true\n"in\u017fecure" = true\n')
    assert conf.registries[0].blocked and conf.registries[0].insecure
    conf = load_text(tmp_path, '[[registry]]\nlocation = "r.example"\n"\u0131nsecure" = true\n"\u0130nsecure" = true\n')
    assert not conf.registries[0].insecure  # dotless i and dotted capital I do not fold onto "i" in Go
    assert [w.message for w in conf.warnings] == ["unknown key, ignored (containers/image ignores it too)"] * 2
    # case-folded top-level keys are checked too
    assert "Invalid unqualified-search-registries entry" in refused(
        tmp_path, 'Unqualified-Search-Registries = ["a.com/ns"]\n').message
    assert "mixing sysregistry v1/v2" in refused(
        tmp_path, '[Registries.Block]\nRegistries = ["b.com"]\n[[registry]]\nlocation = "a.com"\n').message


def test_two_spellings_of_one_key_with_different_values_are_refused(tmp_path: Path) -> None:
    # containers/image would use either (Go map order): trustcopy refuses, naming both keys
    exc = refused(tmp_path, '[[registry]]\nlocation = "r.example"\nblocked = false\nBlocked = true\n')
    assert "keys 'blocked' and 'Blocked' both set 'blocked'" in exc.message
    assert "[[registry]] #1" in exc.message
    conf = load_text(tmp_path, '[[registry]]\nlocation = "r.example"\nblocked = true\nBlocked = true\n')
    assert conf.registries[0].blocked
