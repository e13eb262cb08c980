"""containers/image's registries.d and lookaside test vectors, restated as data.

From ``docker/registries_d_test.go`` (TestSignatureStorageBaseURL, TestRegistriesDirPath,
TestLoadAndMergeConfig, TestRegistryConfigurationSignatureTopLevel, TestLookasideStorageURL,
TestBuiltinDefaultLookasideStorageDir), ``docker/policyconfiguration/naming_test.go``
(TestDockerReference: the lookup scopes, wildcards included) and ``sigstoreAttachmentTag``
(``docker/docker_client.go``). Where the newest containers/image differs from 5.23 (the
YAML decoder is yaml.v3: case-sensitive keys, YAML 1.1 booleans for typed bool fields; a
file removed during the listing is skipped; the digest is validated), the newest is
followed. Vectors already in test_registries_d.py (TestRegistryNamespaceSignatureTopLevel,
the fixture's per-image lookups) are not repeated. The installed fixture is read in place.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

import trustcopy.stores.registries_d as registries_d_module
from trustcopy.digest import Digest
from trustcopy.errors import ConfigError
from trustcopy.reference import parse_normalized_named
from trustcopy.stores.attachments import attachment_tag
from trustcopy.stores.lookaside import LookasideLocation
from trustcopy.stores.registries_d import (
    SYSTEM_REGISTRIES_D,
    USER_REGISTRIES_D,
    RegistriesD,
    builtin_default_lookaside,
    load_registries_d,
    policy_scopes,
    registries_d_dir,
)

CI_REGISTRIES_D = Path("/usr/share/gocode/src/github.com/containers/image/docker/fixtures/registries.d")
MD_HEX = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
MD = Digest.parse("sha256:" + MD_HEX)


def ref(text: str):  # type: ignore[no-untyped-def]
    return parse_normalized_named(text).tag_name_only()


def write_dir(tmp_path: Path, *files: tuple[str, str], name: str = "registries.d") -> Path:
    d = tmp_path / name
    d.mkdir()
    for file, text in files:
        (d / file).write_text(text)
    return d


def load(d: Path | str, **kwargs: Any) -> RegistriesD:
    kwargs.setdefault("home", "/home/u")
    kwargs.setdefault("euid", 1000)
    return load_registries_d(str(d), report_warnings=False, **kwargs)


# -- TestRegistriesDirPath ------------------------------------------------------------------------------
# (RootForImplicitAbsolutePaths has no counterpart: skopeo exposes no option for it.)

NONDEFAULT = "/this/is/not/the/default/registries.d"
DIR_PATH_CASES = [
    # (explicit, user directory present, expected: "system" / "user" / a literal path)
    (None, False, "system"),  # the common case
    ("", False, "system"),  # a context that does not override the path
    (NONDEFAULT, False, NONDEFAULT),  # path overridden
    (None, True, "user"),  # user registries.d present, not overridden
    (NONDEFAULT, True, NONDEFAULT),  # context and user registries.d present simultaneously
    ("$HOME", False, "$HOME"),  # no environment expansion in the overridden path
]


@pytest.mark.parametrize(("explicit", "user_present", "expected"), DIR_PATH_CASES,
                         ids=["nil", "empty-context", "overridden", "user-present", "overridden-and-user",
                              "no-expansion"])
def test_registries_dir_path(tmp_path: Path, explicit: str | None, user_present: bool, expected: str) -> None:
    home = tmp_path / "home"
    user = home / ".config/containers/registries.d"
    if user_present:
        user.mkdir(parents=True)
    want = {"system": SYSTEM_REGISTRIES_D, "user": str(user)}.get(expected, expected)
    assert registries_d_dir(explicit, home=str(home))[0] == want


def test_default_directory_names() -> None:
    assert SYSTEM_REGISTRIES_D == "/etc/containers/registries.d"
    assert USER_REGISTRIES_D == ".config/containers/registries.d"


def test_dangling_user_symlink_falls_back_to_the_system_directory(tmp_path: Path) -> None:
    """c/i's existence check follows symlinks: a dangling one is "not there"."""
    home = tmp_path / "home"
    (home / ".config/containers").mkdir(parents=True)
    (home / ".config/containers/registries.d").symlink_to(tmp_path / "nowhere")
    assert registries_d_dir(None, home=str(home), system_dir="/sys-dir") == ("/sys-dir", False)


# -- TestLoadAndMergeConfig + TestSignatureStorageBaseURL's error cases ---------------------------------------


def test_missing_default_directory_is_an_empty_configuration(tmp_path: Path) -> None:
    config = load_registries_d(None, home=str(tmp_path), system_dir=str(tmp_path / "thisdoesnotexist"),
                               report_warnings=False)
    assert (config.default_docker, dict(config.docker), config.files) == (None, {}, ())


def test_empty_directory_is_an_empty_configuration(tmp_path: Path) -> None:
    config = load(write_dir(tmp_path, name="empty"))
    assert (config.default_docker, dict(config.docker), config.files) == (None, {}, ())


@pytest.mark.parametrize("where", ["explicit", "user", "system"])
def test_a_file_where_the_directory_should_be_is_an_error(tmp_path: Path, where: str) -> None:
    """TestSignatureStorageBaseURL: /dev/null is not a directory. containers/image opens the
    chosen directory and fails reading it, whether it was named or a default."""
    home = tmp_path / "home"
    system = tmp_path / "system"
    system.mkdir()
    if where == "explicit":
        path = "/dev/null"
    elif where == "user":
        (home / ".config/containers").mkdir(parents=True)
        path = str(home / ".config/containers/registries.d")
        Path(path).write_text("")
    else:
        path = str(tmp_path / "system-file")
        Path(path).write_text("")
        system = Path(path)
    with pytest.raises(ConfigError) as exc:
        load_registries_d(path if where == "explicit" else None, home=str(home), system_dir=str(system),
                          report_warnings=False)
    assert exc.value.code == "config-unreadable"
    assert path in exc.value.message and "Not a directory" in exc.value.message


def test_unreadable_directory_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = write_dir(tmp_path, name="unreadable")
    real_listdir = os.listdir

    def listdir(path: Any) -> list[str]:  # as a 0000 directory behaves for a non-root user
        if str(path) == str(d):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(ConfigError) as exc:
        load(d)
    assert exc.value.code == "config-unreadable" and str(d) in exc.value.message


def test_unreadable_file_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = write_dir(tmp_path, ("0.yaml", "{}"), ("1.yaml", ""), name="unreadableFile")
    real = registries_d_module.read_file_at_most

    def read(path: str, *args: Any, **kwargs: Any) -> bytes:  # as a 0000 file for a non-root user
        if path.endswith("1.yaml"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(registries_d_module, "read_file_at_most", read)
    with pytest.raises(ConfigError) as exc:
        load(d)
    assert exc.value.code == "config-unreadable" and f"{d}/1.yaml" in exc.value.message


def test_file_removed_after_the_listing_is_skipped(tmp_path: Path) -> None:
    """Newest c/i: a .yaml file gone between the listing and the read is an expected race."""
    d = write_dir(tmp_path, ("a.yaml", "default-docker:\n  lookaside: file:///a\n"))
    (d / "gone.yaml").symlink_to(tmp_path / "nowhere")
    config = load(d)
    assert [Path(f).name for f in config.files] == ["a.yaml"]


MERGE_ERRORS = [
    # (case, files, substrings every one of which the error names)
    ("invalid-yaml", [("0.yaml", "}")], ["0.yaml", "invalid YAML"]),
    ("duplicate-default-docker",
     [("0.yaml", "default-docker:\n lookaside: file:////tmp/something"),
      ("1.yaml", "default-docker:\n lookaside: file:////tmp/different")],
     ["0.yaml", "1.yaml", '"default-docker"']),
    ("duplicate-namespace",
     [("0.yaml", "docker:\n example.com:\n  lookaside: file:////tmp/something"),
      ("1.yaml", "docker:\n example.com:\n  lookaside: file:////tmp/different")],
     ["0.yaml", "1.yaml", '"example.com"']),
    # yaml.v3 leaves a non-nil pointer for "{}": it counts as defined (checked with yaml.v3).
    ("empty-default-docker-counts", [("0.yaml", "default-docker: {}\n"), ("1.yaml", "default-docker:\n lookaside: x")],
     ["0.yaml", "1.yaml"]),
    # A null namespace is still a map key, so it is still a duplicate.
    ("null-namespace-counts", [("0.yaml", "docker:\n  x.example:\n"), ("1.yaml", "docker:\n  x.example: {}\n")],
     ["0.yaml", "1.yaml", '"x.example"']),
]


@pytest.mark.parametrize(("files", "needles"), [(f, n) for _, f, n in MERGE_ERRORS],
                         ids=[c for c, _, _ in MERGE_ERRORS])
def test_load_and_merge_errors_name_the_files(tmp_path: Path, files: list[tuple[str, str]],
                                              needles: list[str]) -> None:
    d = write_dir(tmp_path, *files)
    with pytest.raises(ConfigError) as exc:
        load(d)
    for needle in needles:
        assert needle in exc.value.message


FIXTURE_MERGED = {
    "example.com": {"lookaside": "https://lookaside.example.com"},
    "registry.test.example.com": {"lookaside": "http://registry.test.example.com/lookaside"},
    "registry.test.example.com:8888": {
        "lookaside": "http://registry.test.example.com:8889/lookaside",
        "lookaside-staging": "https://registry.test.example.com:8889/lookaside/specialAPIserverWhichDoesNotExist"},
    "localhost": {"lookaside": "file:///home/mitr/mydevelopment1"},
    "localhost:8080": {"lookaside": "file:///home/mitr/mydevelopment2"},
    "localhost/invalid/url/test": {"lookaside": ":emptyscheme"},
    "docker.io/contoso": {"lookaside": "https://lookaside.contoso.com/fordocker"},
    "docker.io/centos": {"lookaside": "https://lookaside.centos.org/"},
    "docker.io/centos/mybetaproduct": {"lookaside": "http://localhost:9999/mybetaWIP/lookaside",
                                       "lookaside-staging": "file:///srv/mybetaWIP/lookaside"},
    "docker.io/centos/mybetaproduct:latest": {"lookaside": "https://lookaside.centos.org/"},
}


def test_fully_worked_example_merges_exactly() -> None:
    """TestLoadAndMergeConfig's last case: the whole merged configuration of the fixture."""
    assert CI_REGISTRIES_D.is_dir(), "./run installs golang-github-containers-image-dev"
    config = load(CI_REGISTRIES_D)
    assert config.default_docker is not None
    assert dict(config.default_docker.urls) == {
        "lookaside": "file:///mnt/companywide/signatures/for/other/repositories"}
    assert {ns: dict(s.urls) for ns, s in config.docker.items()} == FIXTURE_MERGED
    assert all(s.use_sigstore_attachments is None for s in config.docker.values())
    assert {Path(f).name for f in config.files} == {"emptyConfig.yaml", "internal-example.com.yaml",
                                                    "internet-user.yaml"}


# -- TestSignatureStorageBaseURL ------------------------------------------------------------------------------


def test_no_match_uses_the_user_default_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    config = load_registries_d(str(write_dir(tmp_path, name="empty")), euid=1000, report_warnings=False)
    got = config.lookaside(ref("this/is/not/in/the:configuration"), write=False).repository_url
    assert got == f"file://{tmp_path}/h/.local/share/containers/sigstore/this/is/not/in/the"
    root = load(tmp_path / "empty", euid=0)
    assert root.lookaside(ref("this/is/not/in/the:configuration"), write=True).repository_url == (
        "file:///var/lib/containers/sigstore/this/is/not/in/the")


def test_fixture_success_and_invalid_url() -> None:
    config = load(CI_REGISTRIES_D)
    assert config.lookaside(ref("example.com/my/project"), write=False).repository_url == (
        "https://lookaside.example.com/my/project")
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref("localhost/invalid/url/test"), write=False)
    assert exc.value.code == "lookaside-url-invalid"
    assert "internal-example.com.yaml" in exc.value.message and "lookaside" in exc.value.message


@pytest.mark.parametrize(("namespace", "url"), [
    ("localhost/file/path/test", "/no/scheme/just/a/path"),
    ("localhost/relative/path/test", "no/scheme/relative/path"),
])
def test_scheme_less_urls_are_refused_when_chosen(tmp_path: Path, namespace: str, url: str) -> None:
    """Newest fixture: c/i returns the scheme-less URL and its readers and writers then refuse
    it ("Unsupported scheme"); trustcopy refuses it as soon as it is chosen, naming where."""
    d = write_dir(tmp_path, ("a.yaml", f'docker:\n  {namespace}:\n    lookaside: "{url}"\n'))
    config = load(d)
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref(namespace), write=False)
    assert exc.value.code == "lookaside-url-invalid"
    assert f'lookaside of docker: "{namespace}" in {d}/a.yaml' in exc.value.message


# -- TestRegistryConfigurationSignatureTopLevel (exactly c/i's configuration, no wildcard sections) ----------

TOP_LEVEL_NAMESPACES = ["localhost", "localhost:5000", "example.com", "example.com/ns1", "example.com/ns1/ns2",
                        "example.com/ns1/ns2/repo", "example.com/ns1/ns2/repo:notlatest"]
TOP_LEVEL = [
    ("example.com/ns1/ns2/repo:notlatest", "example.com/ns1/ns2/repo:notlatest"),
    ("example.com/ns1/ns2/repo:unmatched", "example.com/ns1/ns2/repo"),
    ("example.com/ns1/ns2/notrepo:notlatest", "example.com/ns1/ns2"),
    ("example.com/ns1/notns2/repo:notlatest", "example.com/ns1"),
    ("example.com/notns1/ns2/repo:notlatest", "example.com"),
    ("unknown.example.com/busybox", "=default"),
    ("localhost:5000/busybox", "localhost:5000"),
    ("localhost/busybox", "localhost"),
    ("localhost:9999/busybox", "=default"),
]


@pytest.mark.parametrize(("image", "expected"), TOP_LEVEL, ids=[i for i, _ in TOP_LEVEL])
def test_signature_top_level(tmp_path: Path, image: str, expected: str) -> None:
    lines = ["default-docker:", "  lookaside: file:///=default", "  lookaside-staging: file:///=default+w", "docker:"]
    for ns in TOP_LEVEL_NAMESPACES:
        lines += [f'  "{ns}":', f"    lookaside: file:///{ns}", f"    lookaside-staging: file:///{ns}+w"]
    config = load(write_dir(tmp_path, ("a.yaml", "\n".join(lines) + "\n")))
    assert config.lookaside(ref(image), write=False).base_url == f"file:///{expected}"
    assert config.lookaside(ref(image), write=True).base_url == f"file:///{expected}+w"


def test_signature_top_level_nothing_matches(tmp_path: Path) -> None:
    text = "docker:\n  unmatched:\n    lookaside: a\n    lookaside-staging: b\n"
    config = load(write_dir(tmp_path, ("a.yaml", text)))
    for write in (False, True):
        choice = config.lookaside_choice(ref("thisisnotmatched"), write=write)
        assert choice.section is None and choice.location.base_url == builtin_default_lookaside(euid=1000,
                                                                                                home="/home/u")


# -- the lookup scopes (policyconfiguration TestDockerReference, wildcards included) ----------------------

SCOPES = {
    "example.com/ns/repo": ["example.com/ns/repo", "example.com/ns", "example.com", "*.com"],
    "example.com/repo": ["example.com/repo", "example.com", "*.com"],
    "localhost/ns/repo": ["localhost/ns/repo", "localhost/ns", "localhost"],
    "localhost/repo": ["localhost/repo", "localhost"],
    "notlocalhost/repo": ["docker.io/notlocalhost/repo", "docker.io/notlocalhost", "docker.io", "*.io"],
    "docker.io/ns/repo": ["docker.io/ns/repo", "docker.io/ns", "docker.io", "*.io"],
    "docker.io/library/repo": ["docker.io/library/repo", "docker.io/library", "docker.io", "*.io"],
    "docker.io/repo": ["docker.io/library/repo", "docker.io/library", "docker.io", "*.io"],
    "ns/repo": ["docker.io/ns/repo", "docker.io/ns", "docker.io", "*.io"],
    "library/repo": ["docker.io/library/repo", "docker.io/library", "docker.io", "*.io"],
    "repo": ["docker.io/library/repo", "docker.io/library", "docker.io", "*.io"],
    "yet.another.example.com:8443/ns/repo": ["yet.another.example.com:8443/ns/repo", "yet.another.example.com:8443/ns",
                                             "yet.another.example.com:8443", "*.another.example.com",
                                             "*.example.com", "*.com"],
}


@pytest.mark.parametrize("suffix", [":tag", f"@sha256:{MD_HEX}"])
@pytest.mark.parametrize("name", list(SCOPES))
def test_lookup_scopes(name: str, suffix: str) -> None:
    expected = SCOPES[name]
    assert policy_scopes(parse_normalized_named(name + suffix)) == [expected[0] + suffix, *expected]


def test_wildcard_section_matches_a_host_with_a_port(tmp_path: Path) -> None:
    config = load(write_dir(tmp_path, ("a.yaml", 'docker:\n  "*.example.com":\n    lookaside: file:///wild\n')))
    assert config.lookaside(ref("yet.another.example.com:8443/ns/repo:1"), write=True).base_url == "file:///wild"
    assert config.lookaside(ref("example.com/ns/repo:1"), write=False).base_url != "file:///wild"


# -- TestLookasideStorageURL ----------------------------------------------------------------------------------

STORAGE_URL = [
    # (c/i's base, which already ends with the repository path, index from 0, expected)
    ("file:///tmp", 0, f"file:///tmp@sha256={MD_HEX}/signature-1"),
    ("file:///tmp", 1, f"file:///tmp@sha256={MD_HEX}/signature-2"),
    ("https://localhost:5555/root", 0, f"https://localhost:5555/root@sha256={MD_HEX}/signature-1"),
    ("https://localhost:5555/root", 1, f"https://localhost:5555/root@sha256={MD_HEX}/signature-2"),
    ("http://localhost:5555/root", 0, f"http://localhost:5555/root@sha256={MD_HEX}/signature-1"),
    ("http://localhost:5555/root", 1, f"http://localhost:5555/root@sha256={MD_HEX}/signature-2"),
]


@pytest.mark.parametrize(("base", "index", "expected"), STORAGE_URL)
def test_lookaside_storage_url(base: str, index: int, expected: str) -> None:
    top, _, repo = base.rpartition("/")
    if top in ("file:", "file://"):  # trustcopy's store needs a path: put the repository one level down
        top, repo, expected = "file:///tmp", "ns/app", expected.replace("file:///tmp", "file:///tmp/ns/app")
    location = LookasideLocation(top, repo)
    assert location.signature_url(MD, index + 1) == expected


def test_lookaside_storage_url_refuses_an_invalid_digest() -> None:
    with pytest.raises(ValueError, match="invalid digest"):
        Digest.parse("sha256:../hello")
    with pytest.raises(ValueError):
        LookasideLocation("file:///tmp", "ns/app").signature_url(MD, 0)


def test_lookaside_storage_url_other_algorithm_and_file_path() -> None:
    sha512 = Digest.parse("sha512:" + "ab" * 64)
    location = LookasideLocation("file:///tmp/a%20b", "ns/app")
    assert location.signature_url(sha512, 3) == f"file:///tmp/a%20b/ns/app@sha512={'ab' * 64}/signature-3"
    # c/i reads and writes the URL's decoded path
    assert location.signature_path(MD, 1) == f"/tmp/a b/ns/app@sha256={MD_HEX}/signature-1"


# -- TestBuiltinDefaultLookasideStorageDir -------------------------------------------------------------------


def test_builtin_default_lookaside_storage_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert builtin_default_lookaside(euid=0) == "file:///var/lib/containers/sigstore"
    assert builtin_default_lookaside(euid=1000) == "file:///home/someone/.local/share/containers/sigstore"


# -- sigstoreAttachmentTag -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("digest", "tag"), [
    (f"sha256:{MD_HEX}", f"sha256-{MD_HEX}.sig"),
    ("sha512:" + "cd" * 64, "sha512-" + "cd" * 64 + ".sig"),
])
def test_sigstore_attachment_tag(digest: str, tag: str) -> None:
    assert attachment_tag(Digest.parse(digest)) == tag


# -- the newest decoder (yaml.v3), checked against it ----------------------------------------------------

ATTACHMENT_VALUES = [
    ("true", True), ("false", False), ("True", True), ("yes", True), ("Off", False),
    ("y", True), ("Y", True), ("n", False), ("N", False), ('"yes"', True), ('"on"', True), ("'NO'", False),
]


@pytest.mark.parametrize(("text", "value"), ATTACHMENT_VALUES, ids=[t for t, _ in ATTACHMENT_VALUES])
def test_use_sigstore_attachments_accepts_what_yaml_v3_decodes_into_a_bool(tmp_path: Path, text: str,
                                                                           value: bool) -> None:
    config = load(write_dir(tmp_path, ("a.yaml", f"default-docker:\n  use-sigstore-attachments: {text}\n")))
    assert config.use_sigstore_attachments(ref("example.com/a:1")) is value


@pytest.mark.parametrize("text", ['"true"', "1", "[true]", '"maybe"'])
def test_use_sigstore_attachments_refuses_what_yaml_v3_refuses(tmp_path: Path, text: str) -> None:
    d = write_dir(tmp_path, ("a.yaml", f"docker:\n  example.com:\n    use-sigstore-attachments: {text}\n"))
    with pytest.raises(ConfigError) as exc:
        load(d)
    assert f"{d}/a.yaml" in exc.value.message
    assert 'docker."example.com".use-sigstore-attachments' in exc.value.message


def test_keys_are_case_sensitive_and_merge_keys_work(tmp_path: Path) -> None:
    config = load(write_dir(tmp_path, ("a.yaml", "default-docker:\n  Lookaside: file:///ignored\n"
                                                 "docker:\n  <<: {a.example: {lookaside: file:///merged}}\n")))
    assert config.lookaside(ref("b.example/x:1"), write=False).base_url == config.builtin_default
    assert config.lookaside(ref("a.example/x:1"), write=False).base_url == "file:///merged"


# -- URLs Go's url.Parse refuses ("Invalid signature storage URL"), checked against it ------------------------

GO_INVALID_URLS = [
    ("leading-space", " file:///tmp/x", "cannot start with a space"),
    ("tab", "file:///tmp/a\tb", "control character"),
    ("newline", "http://h.example/x\n", "control character"),
    ("del", "file:///tmp/a\x7fb", "control character"),
    ("port", "https://h.example:notaport/x", "invalid port"),
    ("ipv6-port", "https://[::1]x/x", "invalid port"),
    ("host-space", "https://h ex.example/x", "in host name"),
    ("host-brace", "https://h{x}.example/x", "in host name"),
    ("host-ascii-escape", "https://%41.example/x", "in host name"),
    ("userinfo", "https://u v@h.example/x", "invalid userinfo"),
    ("escape", "file:///tmp/a%zzb", "invalid URL escape"),
]


@pytest.mark.parametrize(("url", "needle"), [(u, n) for _, u, n in GO_INVALID_URLS],
                         ids=[c for c, _, _ in GO_INVALID_URLS])
def test_urls_go_cannot_parse_are_refused_naming_file_section_and_key(tmp_path: Path, url: str,
                                                                       needle: str) -> None:
    escaped = url.replace("\t", "\\t").replace("\n", "\\n").replace("\x7f", "\\x7F")
    d = write_dir(tmp_path, ("a.yaml", f'docker:\n  example.com:\n    lookaside-staging: "{escaped}"\n'))
    config = load(d)
    with pytest.raises(ConfigError) as exc:
        config.lookaside(ref("example.com/ns/app:1"), write=True)
    assert exc.value.code == "lookaside-url-invalid"
    assert needle in exc.value.message
    assert f'lookaside-staging of docker: "example.com" in {d}/a.yaml' in exc.value.message
    assert "\t" not in exc.value.message and "\n" not in exc.value.message


@pytest.mark.parametrize(("url", "path"), [
    ("file:///tmp/x ", "/tmp/x /ns/app"),  # a trailing space is part of the path
    ("FILE:///tmp/x", "/tmp/x/ns/app"),
    ("file:/tmp/x", "/tmp/x/ns/app"),
    ("file:///tmp/a%2Fb", "/tmp/a/b/ns/app"),
    ("file:///tmp/x?q#frag", "/tmp/x/ns/app"),
    ("file:///tmp/\u00e9", "/tmp/\u00e9/ns/app"),
])
def test_urls_go_parses_name_the_same_files(url: str, path: str) -> None:
    assert LookasideLocation(url, "ns/app").signature_path(MD, 1) == f"{path}@sha256={MD_HEX}/signature-1"


@pytest.mark.parametrize("url", ["https://[::1]:5000/x", "https://h.example:/x", "https://u:p%40@h.example/x",
                                 "https://h.example/x?q=%zz", "https://xn--h-e.example:443/x"])
def test_urls_go_parses_are_accepted(url: str) -> None:
    LookasideLocation(url, "ns/app")
