"""registries.d: directory choice, bounded YAML, merging, keys, types, and the field-by-field lookup.

Lookup vectors are containers/image's ``docker/registries_d_test.go``
(TestRegistryConfigurationSignatureTopLevel, TestRegistryNamespaceSignatureTopLevel,
TestLookasideStorageURL), carried as data.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ConfigError, LimitExceededError
from trustcopy.reference import parse_normalized_named
from trustcopy.stores.registries_d import (
    MAX_YAML_NODES,
    RegistriesD,
    Section,
    builtin_default_lookaside,
    load_registries_d,
    policy_scopes,
    registries_d_dir,
)

A64 = "a" * 64
MD = Digest.parse("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")


def ref(text: str):  # type: ignore[no-untyped-def]
    return parse_normalized_named(text).tag_name_only()


def load_dir(tmp_path: Path, *files: tuple[str, str], report: bool = False) -> RegistriesD:
    d = tmp_path / "registries.d"
    d.mkdir(exist_ok=True)
    for name, text in files:
        (d / name).write_text(text)
    return load_registries_d(str(d), home=str(tmp_path / "home"), euid=1000, report_warnings=report)


def url(ns: str) -> str:
    return "file:///" + ns


# -- lookup order (TestRegistryConfigurationSignatureTopLevel, plus wildcards) ----------------------

CI_NAMESPACES = ["localhost", "localhost:5000", "example.com", "example.com/ns1", "example.com/ns1/ns2",
                 "example.com/ns1/ns2/repo", "example.com/ns1/ns2/repo:notlatest"]
LOOKUP = [
    ("example.com/ns1/ns2/repo:notlatest", "example.com/ns1/ns2/repo:notlatest"),
    ("example.com/ns1/ns2/repo:unmatched", "example.com/ns1/ns2/repo"),
    ("example.com/ns1/ns2/notrepo:notlatest", "example.com/ns1/ns2"),
    ("example.com/ns1/notns2/repo:notlatest", "example.com/ns1"),
    ("example.com/notns1/ns2/repo:notlatest", "example.com"),
    ("unknown.example.com/busybox", "*.example.com"),
    ("deeper.unknown.example.com/busybox", "*.example.com"),
    ("unknown.example.com:5000/busybox", "*.example.com"),
    ("other.net/busybox", "*.net"),
    ("unknown.example.org/busybox", "=default"),
    ("localhost:5000/busybox", "localhost:5000"),
    ("localhost/busybox", "localhost"),
    ("localhost:9999/busybox", "=default"),
    (f"example.com/ns1/ns2/repo@sha256:{A64}", "example.com/ns1/ns2/repo"),
]


@pytest.fixture
def lookup_config(tmp_path: Path) -> RegistriesD:
    lines = ["default-docker:", f"  lookaside: {url('=default')}", f"  lookaside-staging: {url('=default+w')}",
             "docker:"]
    for ns in [*CI_NAMESPACES, "*.example.com", "*.net"]:
        lines += [f'  "{ns}":', f"    lookaside: {url(ns)}", f"    lookaside-staging: {url(ns + '+w')}"]
    return load_dir(tmp_path, ("all.yaml", "\n".join(lines) + "\n"))


@pytest.mark.parametrize(("image", "section"), LOOKUP, ids=[i for i, _ in LOOKUP])
def test_lookup_order_exact_repository_namespaces_host_wildcards_default(lookup_config: RegistriesD, image: str,
                                                                        section: str) -> None:
    r = ref(image)
    assert lookup_config.lookaside(r, write=False).base_url == url(section)
    assert lookup_config.lookaside(r, write=True).base_url == url(section + "+w")


def test_no_section_anywhere_uses_the_built_in_default(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("x.yaml", f"docker:\n  unmatched.example:\n    lookaside: {url('a')}\n"))
    choice = config.lookaside_choice(ref("thisisnotmatched.example/x"), write=True)
    assert choice.section is None and choice.key is None
    assert choice.location.base_url == "file://" + str(tmp_path / "home" / ".local/share/containers/sigstore")
    assert "built-in default" in choice.location.origin


def test_built_in_default_depends_on_the_user(tmp_path: Path) -> None:
    assert builtin_default_lookaside(euid=0, home="/home/u") == "file:///var/lib/containers/sigstore"
    assert builtin_default_lookaside(euid=1000, home="/home/u") == "file:///home/u/.local/share/containers/sigstore"
    assert builtin_default_lookaside(euid=1000, home="/home/a b") == (
        "file:///home/a%20b/.local/share/containers/sigstore")


# -- one section (TestRegistryNamespaceSignatureTopLevel) ----------------------------------------------

SECTION_VECTORS = [
    ({"lookaside-staging": "a", "lookaside": "b"}, True, "a"),
    ({"lookaside-staging": "a", "lookaside": "b"}, False, "b"),
    ({"lookaside": "b"}, True, "b"),
    ({"lookaside": "b"}, False, "b"),
    ({"lookaside-staging": "a"}, True, "a"),
    ({"lookaside-staging": "a"}, False, None),
    ({}, True, None),
    ({}, False, None),
    ({"lookaside-staging": "a", "lookaside": "b", "sigstore-staging": "c", "sigstore": "d"}, True, "a"),
    ({"lookaside": "b", "sigstore-staging": "c", "sigstore": "d"}, True, "c"),
    ({"lookaside": "b", "sigstore": "d"}, True, "b"),
    ({"sigstore": "d"}, True, "d"),
    ({"lookaside-staging": "a", "lookaside": "b", "sigstore-staging": "c", "sigstore": "d"}, False, "b"),
    ({"lookaside": "b", "sigstore-staging": "c", "sigstore": "d"}, False, "b"),
    ({"lookaside": "b", "sigstore": "d"}, False, "b"),
    ({"sigstore": "d"}, False, "d"),
]


@pytest.mark.parametrize(("urls", "write", "expected"), SECTION_VECTORS,
                         ids=[f"{'+'.join(u) or 'empty'}-{'w' if w else 'r'}" for u, w, _ in SECTION_VECTORS])
def test_section_url_order(urls: dict[str, str], write: bool, expected: str | None) -> None:
    answer = Section("x.example", "f.yaml", urls).url_for(write)
    assert (answer[1] if answer else None) == expected


# -- field by field (c/i's code, not its man page) -----------------------------------------------------------

FALLBACK = [
    # (exact-section YAML body, default-docker YAML body, image, read URL, write URL, attachments)
    ("lookaside: file:///exact", "lookaside-staging: file:///dflt-w", "file:///exact", "file:///exact", False),
    ("lookaside-staging: file:///exact-w", "lookaside: file:///dflt", "file:///dflt", "file:///exact-w", False),
    ("use-sigstore-attachments: true", "lookaside: file:///dflt", "file:///dflt", "file:///dflt", True),
    ('lookaside: ""\n    lookaside-staging: null', "lookaside: file:///dflt", "file:///dflt", "file:///dflt", False),
    ("use-sigstore-attachments: false", "use-sigstore-attachments: true\n  lookaside: file:///dflt", "file:///dflt",
     "file:///dflt", False),
    ("use-sigstore-attachments: null", "use-sigstore-attachments: true", None, None, True),
    ("sigstore: file:///legacy", "lookaside: file:///dflt", "file:///legacy", "file:///legacy", False),
    ("lookaside: file:///new\n    sigstore-staging: file:///legacy-w", "lookaside: file:///dflt", "file:///new",
     "file:///legacy-w", False),
]


@pytest.mark.parametrize(("exact", "default", "read", "write", "attachments"), FALLBACK,
                         ids=["exact-lookaside-beats-broader-staging", "staging-only-reads-broader",
                              "attachments-only", "empty-and-null-fall-through", "attachments-false-wins",
                              "attachments-null-falls-through", "legacy-sigstore", "legacy-sigstore-staging"])
def test_each_question_falls_back_to_broader_sections_separately(
        tmp_path: Path, exact: str, default: str, read: str | None, write: str | None, attachments: bool) -> None:
    text = f"default-docker:\n  {default}\ndocker:\n  example.com/ns/app:\n    {exact}\n"
    config = load_dir(tmp_path, ("a.yaml", text))
    r = ref("example.com/ns/app:1")
    builtin = config.builtin_default
    assert config.lookaside(r, write=False).base_url == (read or builtin)
    assert config.lookaside(r, write=True).base_url == (write or builtin)
    assert config.use_sigstore_attachments(r) is attachments


def test_choice_names_file_section_key_and_the_sections_that_matched(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("a.yaml", "docker:\n  example.com/ns:\n    use-sigstore-attachments: true\n"),
                      ("b.yaml", "default-docker:\n  lookaside: https://sigs.example/x\n"))
    choice = config.lookaside_choice(ref("example.com/ns/app:1"), write=True)
    assert choice.section is not None and choice.section.is_default and choice.key == "lookaside"
    assert choice.matched == ('docker: "example.com/ns"', "default-docker")
    assert choice.location.origin == f"lookaside of default-docker in {tmp_path}/registries.d/b.yaml"
    att = config.attachments_choice(ref("example.com/ns/app:1"))
    assert att.value and att.section is not None and att.section.file.endswith("a.yaml")


# -- lookaside URLs (TestLookasideStorageURL and the repository path) -----------------------------------------


@pytest.mark.parametrize(("base", "n", "expected"), [
    ("file:///tmp", 1, "file:///tmp/ns/app@sha256=" + MD.hex + "/signature-1"),
    ("file:///tmp", 2, "file:///tmp/ns/app@sha256=" + MD.hex + "/signature-2"),
    ("https://localhost:5555/root", 1, "https://localhost:5555/root/ns/app@sha256=" + MD.hex + "/signature-1"),
    ("http://localhost:5555/root", 2, "http://localhost:5555/root/ns/app@sha256=" + MD.hex + "/signature-2"),
    ("https://lookaside.centos.org/", 1, "https://lookaside.centos.org//ns/app@sha256=" + MD.hex + "/signature-1"),
    ("https://s.example/r?x=1", 1, "https://s.example/r/ns/app@sha256=" + MD.hex + "/signature-1?x=1"),
])
def test_signature_urls_leave_the_host_out(tmp_path: Path, base: str, n: int, expected: str) -> None:
    config = load_dir(tmp_path, ("a.yaml", f"default-docker:\n  lookaside: {base}\n"))
    assert config.lookaside(ref("registry.example:5000/ns/app:1"), write=False).signature_url(MD, n) == expected


def test_docker_hub_images_keep_library_in_the_path(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("a.yaml", "default-docker:\n  lookaside: file:///s\n"))
    assert config.lookaside(ref("busybox"), write=False).repository_url == "file:///s/library/busybox"


@pytest.mark.parametrize("bad", [":emptyscheme", "ftp://x/y", "/just/a/path", "file://host/path", "file:relative",
                                 "https:///nohost"])
def test_unusable_url_is_an_error_naming_file_section_and_key(tmp_path: Path, bad: str) -> None:
    config = load_dir(tmp_path, ("a.yaml", f'docker:\n  localhost/invalid/url/test:\n    lookaside: "{bad}"\n'))
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref("localhost/invalid/url/test"), write=False)
    assert exc.value.code == "lookaside-url-invalid"
    assert f'lookaside of docker: "localhost/invalid/url/test" in {tmp_path}/registries.d/a.yaml' in exc.value.message



@pytest.mark.parametrize("bad", ["file://user:S3cret-Pw0rd@host/sigs", "file:///sigs%00x?token=S3cret-Pw0rd",
                                 "file://h/sigs?token=S3cret-Pw0rd"])
def test_a_refused_file_url_never_shows_its_secrets(tmp_path: Path, bad: str) -> None:
    config = load_dir(tmp_path, ("a.yaml", f'docker:\n  localhost/app:\n    lookaside: "{bad}"\n'))
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref("localhost/app"), write=False)
    assert exc.value.code == "lookaside-url-invalid"
    assert "S3cret-Pw0rd" not in exc.value.message and "***" in exc.value.message


# -- merging ------------------------------------------------------------------------------------------------


def test_default_docker_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_dir(tmp_path, ("0.yaml", "default-docker:\n lookaside: file:////tmp/something"),
                 ("1.yaml", "default-docker:\n lookaside: file:////tmp/something"))
    assert exc.value.code == "registries-d-conflict"
    assert "0.yaml" in exc.value.message and "1.yaml" in exc.value.message


def test_namespace_in_two_files_is_refused_even_with_equal_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_dir(tmp_path, ("0.yaml", "docker:\n example.com:\n  lookaside: file:///tmp/same"),
                 ("1.yaml", "docker:\n example.com:\n  lookaside: file:///tmp/same"))
    assert exc.value.code == "registries-d-conflict"
    assert '"example.com"' in exc.value.message
    assert f"{tmp_path}/registries.d/0.yaml and {tmp_path}/registries.d/1.yaml" in exc.value.message


def test_namespace_twice_in_one_file_is_a_duplicate_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"0\.yaml: line 4: duplicate key 'example.com'"):
        load_dir(tmp_path, ("0.yaml", "docker:\n example.com:\n  lookaside: file:///a\n example.com:\n"
                                      "  lookaside: file:///b\n"))


def test_null_default_docker_defines_nothing_so_does_not_conflict(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("0.yaml", "default-docker:\n"), ("1.yaml", "default-docker:\n  lookaside: file:///x\n"))
    assert config.default_docker is not None and config.default_docker.file.endswith("1.yaml")


def test_only_yaml_files_in_name_order_and_the_worked_example_of_containers_image(tmp_path: Path) -> None:
    config = load_dir(
        tmp_path,
        ("emptyConfig.yaml", "{}"),
        ("invalid-but.notyaml", "}"),
        ("internal-example.com.yaml", "docker:\n    example.com:\n        lookaside: https://lookaside.example.com\n"
                                      "    registry.test.example.com:8888:\n"
                                      "        lookaside: http://registry.test.example.com:8889/lookaside\n"
                                      "        lookaside-staging: https://registry.test.example.com:8889/lookaside/x\n"),
        ("internet-user.yaml", "default-docker:\n    lookaside: file:///mnt/companywide/signatures\n"
                               "docker:\n    docker.io/centos/mybetaproduct:\n"
                               "        lookaside: http://localhost:9999/mybetaWIP/lookaside\n"
                               "        lookaside-staging: file:///srv/mybetaWIP/lookaside\n"),
    )
    assert [Path(f).name for f in config.files] == ["emptyConfig.yaml", "internal-example.com.yaml",
                                                    "internet-user.yaml"]
    assert set(config.docker) == {"example.com", "registry.test.example.com:8888", "docker.io/centos/mybetaproduct"}
    assert config.docker["registry.test.example.com:8888"].urls == {
        "lookaside": "http://registry.test.example.com:8889/lookaside",
        "lookaside-staging": "https://registry.test.example.com:8889/lookaside/x"}
    assert config.warnings == ()


# -- keys and types -----------------------------------------------------------------------------------------


def test_unknown_keys_are_warnings_naming_file_and_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = ("default-docker:\n  lookaside: file:///x\n  Lookaside-Staging: file:///y\n"
            "docker:\n  example.com:\n    lookaside_staging: file:///z\n    frobnicate: 1\n"
            "podman-extension: {}\n")
    with caplog.at_level(logging.WARNING, logger="trustcopy.config"):
        config = load_dir(tmp_path, ("a.yaml", text), report=True)
    file = f"{tmp_path}/registries.d/a.yaml"
    assert [(w.file, w.key) for w in config.warnings] == [
        (file, "default-docker.Lookaside-Staging"), (file, 'docker."example.com".lookaside_staging'),
        (file, 'docker."example.com".frobnicate'), (file, "podman-extension")]
    assert 'did you mean "lookaside-staging"?' in config.warnings[0].message
    assert 'did you mean "lookaside-staging"?' in config.warnings[1].message
    assert caplog.text.count(file) == 4
    # the unknown keys change nothing: the known ones still apply
    assert config.lookaside(ref("example.com/a:1"), write=True).base_url == "file:///x"


def test_namespace_that_can_never_match_is_warned_about(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("a.yaml", "docker:\n  busybox:\n    lookaside: file:///x\n"
                                           "  docker.io/library/busybox:\n    lookaside: file:///y\n"))
    assert [w.key for w in config.warnings] == ['docker."busybox"']
    assert "never matches" in config.warnings[0].message


TYPE_ERRORS = [
    ("lookaside-int", "default-docker:\n  lookaside: 123\n", "default-docker.lookaside: must be a string"),
    ("lookaside-list", "docker:\n  example.com:\n    lookaside: [a]\n",
     'docker."example.com".lookaside: must be a string (a URL), not a list'),
    ("attachments-string", "docker:\n  example.com:\n    use-sigstore-attachments: \"true\"\n",
     'docker."example.com".use-sigstore-attachments: must be true or false, not a string'),
    ("section-string", "default-docker: file:///x\n", "default-docker: must be a mapping, not a string"),
    ("docker-list", "docker:\n  - example.com\n", "docker: must be a mapping of namespaces, not a list"),
    # A key "5" is the namespace "5", as in containers/image (yaml.v3): test_registries_d_yaml_goracle.py.
    ("namespace-list", "docker:\n  ? [a]\n  : {}\n", "docker: a key must be a scalar, not a list"),
    ("top-list", "- a\n- b\n", "(top level): must be a mapping, not a list"),
    ("top-scalar", "just text\n", "(top level): must be a mapping, not a string"),
]


@pytest.mark.parametrize(("text", "needle"), [(t, n) for _, t, n in TYPE_ERRORS], ids=[i for i, _, _ in TYPE_ERRORS])
def test_wrong_type_is_an_error_naming_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_dir(tmp_path, ("a.yaml", text))
    assert exc.value.code == "registries-d-invalid"
    assert exc.value.message.startswith(f"{tmp_path}/registries.d/a.yaml: ")
    assert needle in exc.value.message


# -- hostile YAML -------------------------------------------------------------------------------------------

LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "needle"), [
    (LAUGHS, f"expands to more than {MAX_YAML_NODES} nodes"),
    ("a: &a [*a]\n", "recursive YAML alias"),
    ("default-docker: &d\n  lookaside: *d\n", "recursive YAML alias"),
    ("---\ndocker: {}\n---\ndocker: {}\n", "expected a single document"),
    ("[" * 20000, "nested too deeply"),
    ("x: !!python/object/apply:os.system [echo]\n", "could not determine a constructor"),
    ("docker:\n  a: [\n", "invalid YAML"),
    ("}\n", "invalid YAML"),
], ids=["billion-laughs", "recursive-alias", "self-alias", "two-documents", "deep-nesting", "python-tag",
        "unterminated", "c/i-invalid"])
def test_hostile_yaml_is_refused_quickly_naming_the_file(tmp_path: Path, text: str, needle: str) -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError) as exc:
        load_dir(tmp_path, ("evil.yaml", text))
    assert time.monotonic() - start < 5
    assert "evil.yaml" in exc.value.message and needle in exc.value.message
    assert "\n" not in exc.value.message


def test_small_aliases_are_fine(tmp_path: Path) -> None:
    config = load_dir(tmp_path, ("a.yaml", "default-docker: &d\n  lookaside: file:///shared\n"
                                           "docker:\n  example.com: *d\n  quay.io: *d\n"))
    assert config.lookaside(ref("quay.io/x/y:1"), write=False).base_url == "file:///shared"


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "registries.d"
    d.mkdir()
    (d / "a.yaml").write_bytes(b"docker:\n  \xff: {}\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: not UTF-8"):
        load_registries_d(str(d), report_warnings=False)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "registries.d"
    d.mkdir()
    (d / "big.yaml").write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(LimitExceededError, match=r"big\.yaml is larger than"):
        load_registries_d(str(d), report_warnings=False)


def test_fifo_named_yaml_is_refused_without_blocking(tmp_path: Path) -> None:
    d = tmp_path / "registries.d"
    d.mkdir()
    os.mkfifo(d / "fifo.yaml")
    with pytest.raises(LimitExceededError) as exc:
        load_registries_d(str(d), report_warnings=False)
    assert exc.value.code == "not-a-regular-file" and "fifo.yaml" in exc.value.message


# -- which directory ---------------------------------------------------------------------------------------


def test_directory_choice(tmp_path: Path) -> None:
    home, system = tmp_path / "home", str(tmp_path / "etc")
    assert registries_d_dir("/given", home=str(home), system_dir=system) == ("/given", True)
    assert registries_d_dir(None, home=str(home), system_dir=system) == (system, False)
    (home / ".config/containers/registries.d").mkdir(parents=True)
    assert registries_d_dir(None, home=str(home), system_dir=system) == (
        str(home / ".config/containers/registries.d"), False)


def test_named_directory_must_exist_but_a_missing_default_is_empty(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_registries_d(str(tmp_path / "typo"), report_warnings=False)
    assert exc.value.code == "registries-d-not-found" and "typo" in exc.value.message
    config = load_registries_d(None, home=str(tmp_path), system_dir=str(tmp_path / "none"), report_warnings=False)
    assert config.directory is None and config.files == () and config.docker == {}


# -- the scopes agree with the docker transport's policy scopes -----------------------------------------------

SCOPE_REFS = ["busybox", "example.com/ns/app:1", f"example.com:5000/a/b/c@sha256:{A64}", "localhost/x:y",
              "a.b.c.example.org:443/deep/ns/repo:t", "[::1]:5000/ns/app:1", "127.0.0.1:5000/ns/app:1"]


@pytest.mark.parametrize("text", SCOPE_REFS)
def test_lookup_scopes_match_the_docker_transports_policy_scopes(text: str) -> None:
    """The section keys are what a docker:// reference gives the policy (one rule, in trustcopy.reference)."""
    from trustcopy.transports.alltransports import parse_image_name

    r = ref(text)
    image = parse_image_name(f"docker://{r}")
    assert policy_scopes(r) == [image.policy_configuration_identity(), *image.policy_configuration_namespaces()]
    assert policy_scopes(r)[0] == str(r)


# -- containers/image's own fixture (docker/fixtures/registries.d, TestLoadAndMergeConfig) ------------------------

CI_REGISTRIES_D = Path("/usr/share/gocode/src/github.com/containers/image/docker/fixtures/registries.d")


@pytest.mark.parametrize(("image", "read", "write"), [
    ("example.com/img", "https://lookaside.example.com", None),
    ("registry.test.example.com/img", "http://registry.test.example.com/lookaside", None),
    ("registry.test.example.com:8888/img", "http://registry.test.example.com:8889/lookaside",
     "https://registry.test.example.com:8889/lookaside/specialAPIserverWhichDoesNotExist"),
    ("localhost/img", "file:///home/mitr/mydevelopment1", None),
    ("localhost:8080/img", "file:///home/mitr/mydevelopment2", None),
    ("docker.io/contoso/img", "https://lookaside.contoso.com/fordocker", None),
    ("docker.io/centos/img", "https://lookaside.centos.org/", None),
    ("docker.io/centos/mybetaproduct:1", "http://localhost:9999/mybetaWIP/lookaside", "file:///srv/mybetaWIP/lookaside"),
    ("docker.io/centos/mybetaproduct:latest", "https://lookaside.centos.org/", None),
    ("unknown.example/x", "file:///mnt/companywide/signatures/for/other/repositories", None),
])
def test_containers_image_registries_d_fixture(image: str, read: str, write: str | None) -> None:
    """The fixture's files (an empty one and a non-.yaml one among them) merge as in containers/image."""
    assert CI_REGISTRIES_D.is_dir(), "./run installs golang-github-containers-image-dev"
    config = load_registries_d(str(CI_REGISTRIES_D))
    assert config.lookaside(ref(image), write=False).base_url == read
    assert config.lookaside(ref(image), write=True).base_url == (write or read)


def test_containers_image_registries_d_fixture_invalid_url_fails_only_its_scope() -> None:
    config = load_registries_d(str(CI_REGISTRIES_D))
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref("localhost/invalid/url/test"), write=False)
    assert exc.value.code == "lookaside-url-invalid"
    assert config.lookaside(ref("localhost/invalid/url/other"), write=False).base_url == "file:///home/mitr/mydevelopment1"
