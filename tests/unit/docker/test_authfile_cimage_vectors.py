"""containers/image's own vectors for containers-auth.json (pkg/docker/config/config_test.go).

The Go tests are from containers/image 5.23 (/usr/share/gocode) and, where they differ, the
newest containers/image (now github.com/containers/container-libs, image/pkg/docker/config):
each case names its Go test. Vectors already in test_docker_authfile.py (TestGetAuth's table,
TestGetAuthFromLegacyFile, TestGetAuthPreferNewConfig, the registries.conf helper cases) are
not repeated here.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from trustcopy.errors import ConfigError, UsageError
from trustcopy.transports.docker import authfile
from trustcopy.transports.docker.auth import Credentials
from trustcopy.types import SystemContext

CI_TESTDATA = Path("/usr/share/gocode/src/github.com/containers/image/pkg/docker/config/testdata")
USERNAME_PASSWORD = "dXNlcm5hbWU6cGFzc3dvcmQ="  # base64("username:password"), as TestSetGetCredentials
EXAMPLE_ORG = "ZXhhbXBsZTpvcmc="  # base64("example:org"), as TestRemoveAuthentication


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME; $XDG_RUNTIME_DIR is tmp_path/run (existing), the rest unset."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for var in ("REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "run").mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return h


@pytest.fixture
def runtime_auth(home: Path, tmp_path: Path) -> Path:
    """$XDG_RUNTIME_DIR/containers/auth.json (its directory created, the file not)."""
    path = tmp_path / "run" / "containers" / "auth.json"
    path.parent.mkdir(parents=True)
    return path


@pytest.fixture
def ci_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """testdata's ``docker-credential-helper-registry`` on PATH, as TestGetAuth/TestGetAllCredentials."""
    assert CI_TESTDATA.is_dir(), "./run installs golang-github-containers-image-dev"
    monkeypatch.setenv("PATH", f"{CI_TESTDATA}:{os.environ['PATH']}")


# -- TestGetPathToAuth (linux rows) --------------------------------------------------------------------------


def test_get_path_to_auth_defaults(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TestGetPathToAuth: {nil|{}, linux, ""} → /run/containers/UID/auth.json; XDG_RUNTIME_DIR set →
    $XDG_RUNTIME_DIR/containers/auth.json; XDG_RUNTIME_DIR naming a missing directory → an error."""
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    per_uid = f"/run/containers/{os.getuid()}/auth.json"
    assert authfile.primary_auth_file(None) == per_uid
    assert authfile.primary_auth_file(SystemContext()) == per_uid
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert authfile.primary_auth_file(None) == str(tmp_path / "containers" / "auth.json")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "thisdoesnotexist"))
    with pytest.raises(ConfigError, match="XDG_RUNTIME_DIR"):
        authfile.primary_auth_file(None)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_get_path_to_auth_user_specified_is_the_only_file(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                          how: str) -> None:
    """TestGetPathToAuth (newest): AuthFilePath "/absolute/path" → that file, expectedUserSpecified=true,
    and getAuthFilePaths then searches no other file (skopeo's --authfile defaults to $REGISTRY_AUTH_FILE)."""
    sys = SystemContext(auth_file="/absolute/path") if how == "flag" else SystemContext()
    if how == "env":
        monkeypatch.setenv("REGISTRY_AUTH_FILE", "/absolute/path")
    assert authfile.primary_auth_file(sys) == "/absolute/path"
    assert authfile.auth_file_paths(sys) == [authfile.AuthPath("/absolute/path", named=True)]  # userSpecified
    # ... so credentials in the default fallbacks are not used
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {"example.org": {"auth": EXAMPLE_ORG}}}))
    assert authfile.get_credentials(sys, "example.org").anonymous
    default_sys = None if how == "env" else SystemContext()
    assert authfile.get_credentials(default_sys, "example.org").anonymous == (how == "env")


# -- TestGetAuth: the rows not in test_docker_authfile.py ----------------------------------------------------


def test_get_auth_empty_hostname_is_refused(runtime_auth: Path) -> None:
    """TestGetAuth "empty hostname": Go answers no credentials for key ""; trustcopy refuses the key
    (deliberately stricter: no reference or login argument produces it)."""
    runtime_auth.write_bytes((CI_TESTDATA / "example.json").read_bytes())
    with pytest.raises(UsageError, match="no registry host"):
        authfile.get_credentials(None, "")


def test_get_auth_use_system_context(runtime_auth: Path) -> None:
    """TestGetAuth "use system context": sys.DockerAuthConfig (--creds) wins over example.json."""
    runtime_auth.write_bytes((CI_TESTDATA / "example.json").read_bytes())
    sys = SystemContext(docker_username="foo", docker_password="bar")
    assert authfile.credentials_for_reference(sys, "example.org") == Credentials("foo", "bar")
    assert authfile.credentials_for_reference(SystemContext(), "example.org") == Credentials("example", "org")


# -- TestGetAuthFailsOnBadInput --------------------------------------------------------------------------------


def test_get_auth_fails_on_bad_input(runtime_auth: Path, home: Path) -> None:
    """TestGetAuthFailsOnBadInput: no file → anonymous; a non-JSON auth.json or ~/.dockercfg → an error
    (naming the file); removing the bad file → anonymous again."""
    assert authfile.get_credentials(None, "index.docker.io").anonymous
    runtime_auth.write_text("Json rocks! Unless it doesn't.")
    with pytest.raises(ConfigError, match="is not valid JSON") as info:
        authfile.get_credentials(None, "index.docker.io")
    assert str(runtime_auth) in info.value.message
    runtime_auth.unlink()
    assert authfile.get_credentials(None, "index.docker.io").anonymous
    legacy = home / ".dockercfg"
    legacy.write_text("I'm certainly not a json string.")
    with pytest.raises(ConfigError, match="is not valid JSON") as info:
        authfile.get_credentials(None, "index.docker.io")
    assert str(legacy) in info.value.message


@pytest.mark.parametrize("content", ["", "[]", '{"auths": []}', '{"auths": {"example.org": "x"}}',
                                     '{"auths": {"example.org": {"auth": 1}}}'])
def test_malformed_files_are_errors_naming_the_file(runtime_auth: Path, content: str) -> None:
    """readJSONFile/parse: an empty file, or a file json.Unmarshal rejects, is an error (not "no creds")."""
    runtime_auth.write_text(content)
    with pytest.raises(ConfigError) as info:
        authfile.get_credentials(None, "example.org")
    assert str(runtime_auth) in info.value.message


@pytest.mark.parametrize("content", ['{"auths": null}', '{"auths": {"example.org": {"auth": null}}}',
                                     '{"credHelpers": null}', '{"other": 1}'])
def test_json_nulls_and_missing_sections_mean_no_credentials(runtime_auth: Path, content: str) -> None:
    """readJSONFile: a null or missing "auths"/"credHelpers"/"auth" is empty, not an error."""
    runtime_auth.write_text(content)
    assert authfile.get_credentials(None, "example.org").anonymous


# -- decodeDockerAuth: odd "auth" values ------------------------------------------------------------------------

# (auth value, expected credentials or None = nothing here (the next file is asked), or "error")
DECODE_VECTORS = [
    (_b64("user:pass"), Credentials("user", "pass")),
    (_b64("user:pa:ss"), Credentials("user", "pa:ss")),  # strings.Cut: the first ":" splits
    (_b64(":"), None),  # empty user and password: DockerAuthConfig{} → not found
    (_b64("user:"), Credentials("user", "")),
    (_b64(":pass"), Credentials("", "pass")),
    (_b64("user:\x00pass\x00\x00"), Credentials("user", "pass")),  # strings.Trim(password, "\x00")
    (_b64("\x00user:pass"), Credentials("\x00user", "pass")),  # the user name is not trimmed
    (_b64("nocolon"), None),  # "missing semicolon": skipped, as docker does
    ("", None),  # Docker's credential-helper marker {"auth": ""}
    (_b64("user:pass")[:4] + "\n" + _b64("user:pass")[4:] + "\r\n", Credentials("user", "pass")),  # Go skips \r\n
    (_b64("user:pas").rstrip("="), "error"),  # StdEncoding needs the padding
    (" " + _b64("user:pass"), "error"),
    ("dXNlcjpwYXNz\t", "error"),
    ("dXNlcj-wYXNz", "error"),  # URL-safe alphabet
    ("not base64!!", "error"),
]


@pytest.mark.parametrize(("auth", "expected"), DECODE_VECTORS)
def test_decode_docker_auth(runtime_auth: Path, auth: str, expected: Credentials | str | None) -> None:
    """decodeDockerAuth: base64.StdEncoding, strings.Cut on ":", NULs trimmed off the password."""
    runtime_auth.write_text(json.dumps({"auths": {"example.org": {"auth": auth}}}))
    if expected == "error":
        with pytest.raises(ConfigError) as info:
            authfile.get_credentials(None, "example.org/repo")
        assert str(runtime_auth) in info.value.message and auth.strip() not in info.value.message
        return
    assert authfile.get_credentials(None, "example.org/repo") == (expected or Credentials())


def test_an_unusable_entry_falls_through_to_the_next_file(runtime_auth: Path, home: Path) -> None:
    """findCredentialsInFile/getCredentialsWithHomeDir: the most specific key of a file decides for that
    file, even when it decodes to nothing; then the next file is asked, not a parent key of the same file."""
    runtime_auth.write_text(json.dumps({"auths": {"example.org/repo": {"auth": ""},
                                                  "example.org": {"auth": _b64("parent:p")}}}))
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {"example.org": {"auth": _b64("docker:d")}}}))
    assert authfile.get_credentials(None, "example.org/repo/image") == Credentials("docker", "d")
    assert authfile.get_credentials(None, "example.org/other") == Credentials("parent", "p")


# -- TestGetCredentialsInteroperability (newest): files written by `docker login` -------------------------------


@pytest.mark.parametrize(("login_key", "query_key"), [
    ("example.com", "example.com"),
    ("example.com", "example.com/ns/repo"),
    ("example.com:8000", "example.com:8000"),
    ("example.com:8000", "example.com:8000/ns/repo"),
    ("https://index.docker.io/v1/", "docker.io"),
    ("https://index.docker.io/v1/", "docker.io/library/busybox"),
    ("https://index.docker.io/v1/", "docker.io/notlibrary/busybox"),
])
def test_docker_written_config_json(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    login_key: str, query_key: str) -> None:
    """TestGetCredentialsInteroperability: the keys Docker writes to $DOCKER_CONFIG/config.json are found."""
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    assert authfile.get_credentials(None, query_key).anonymous
    docker_written = {"auths": {login_key: {"auth": _b64("some-user:some-password")}}}
    (config_dir / "config.json").write_text(json.dumps(docker_written))
    assert authfile.get_credentials(None, query_key) == Credentials("some-user", "some-password")


# -- TestAuthKeysForKey / TestAuthKeyLookupOrder ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "expected"), [
    ("quay.io/image", ["quay.io/image", "quay.io"]),  # a top-level repo
    ("quay.io/user/image", ["quay.io/user/image", "quay.io/user", "quay.io"]),  # a second-level repo
    ("quay.io/a/b/c/d/image", ["quay.io/a/b/c/d/image", "quay.io/a/b/c/d", "quay.io/a/b/c", "quay.io/a/b",
                               "quay.io/a", "quay.io"]),  # a deeply-nested repo
    ("docker.io/library/busybox", ["docker.io/library/busybox", "docker.io/library", "docker.io"]),
    ("docker.io/vendor/busybox", ["docker.io/vendor/busybox", "docker.io/vendor", "docker.io"]),
])
def test_auth_key_lookup_order(home: Path, key: str, expected: list[str]) -> None:
    """TestAuthKeyLookupOrder: most specific first; a legacy file is only asked for the registry
    (authKeyLookupOrder(…, true) == [registry]), so there the bare registry's entry wins."""
    assert authfile.keys_for(key) == expected
    entries = {k: {"auth": _b64(f"{k}:x")} for k in reversed(expected)}
    (home / ".dockercfg").write_text(json.dumps(entries))
    assert authfile.get_credentials(None, key).username == expected[-1]
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": entries}))
    assert authfile.get_credentials(None, key).username == expected[0]


# -- TestValidateKey ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["https://my-registry.local", "http://my-registry.local", "host/foo:tag",
                                 "host/foo@digest", "localhost:5000/repo:tag", "localhost:5000/repo@digest"])
def test_validate_key_invalid(key: str) -> None:
    """TestValidateKey, invalid keys: refused by lookups and writes alike."""
    with pytest.raises(UsageError):
        authfile.validate_key(key)
    with pytest.raises(UsageError):
        authfile.get_credentials(None, key)
    with pytest.raises(UsageError):
        authfile.set_credentials(SystemContext(auth_file="/nonexistent/never-written.json"), key, "u", "p")


@pytest.mark.parametrize(("key", "namespaced"), [("my-registry.local", False), ("my-registry.local/path", True),
                                                 ("quay.io/a/b/c/d", True), ("localhost:5000", False),
                                                 ("localhost:5000/repo", True)])
def test_validate_key_valid(key: str, namespaced: bool) -> None:
    """TestValidateKey, valid keys and whether they are namespaced."""
    assert authfile.validate_key(key) is namespaced


# -- TestSetCredentials ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [
    ["quay.io"],
    ["quay.io/a/b/c/d/image"],
    ["quay.io/a/b/c", "quay.io/a/b", "quay.io/a", "quay.io", "my-registry.local", "my-registry.local"],
    ["docker.io", "docker.io/vendor/product", "docker.io/vendor", "docker.io/library/busybox", "docker.io/library"],
])
def test_set_credentials(home: Path, tmp_path: Path, keys: list[str]) -> None:
    """TestSetCredentials: every key is written as is (an overwrite keeps one entry), and reads back."""
    path = tmp_path / "auth.json.set"
    path.write_text("{}")
    sys = SystemContext(auth_file=str(path))
    written: dict[str, int] = {}
    for i, key in enumerate(keys):
        assert authfile.set_credentials(sys, key, f"username-{i}", f"password-{i}") == str(path)
        written[key] = i
    auths = json.loads(path.read_text())["auths"]
    assert set(auths) == set(written)
    assert all(entry == {"auth": _b64(f"username-{written[k]}:password-{written[k]}")} for k, entry in auths.items())
    for key, i in written.items():
        assert authfile.get_credentials(sys, key) == Credentials(f"username-{i}", f"password-{i}")


def test_set_credentials_file_format(home: Path, tmp_path: Path) -> None:
    """modifyJSON: json.MarshalIndent(…, "", "\\t"): tab-indented, "auths" keys sorted as Go's maps are,
    no final newline (compared byte for byte with c/image in test_auth_chain_goracle.py)."""
    path = tmp_path / "auth.json"
    sys = SystemContext(auth_file=str(path))
    for key in ("z.example", "a.example/ns", "a.example"):
        authfile.set_credentials(sys, key, "u", "p")
    assert path.read_text() == ('{\n\t"auths": {\n\t\t"a.example": {\n\t\t\t"auth": "dTpw"\n\t\t},\n'
                                '\t\t"a.example/ns": {\n\t\t\t"auth": "dTpw"\n\t\t},\n'
                                '\t\t"z.example": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t}\n}')  # no final newline


def test_get_all_credentials_docker_io_normalization(home: Path, tmp_path: Path, ci_helper: None) -> None:
    """TestGetAllCredentials' writes (trustcopy has no GetAllCredentials; the lookups it makes are checked):
    keys written as given, index.docker.io found for docker.io; helpers after the auth file still asked."""
    from trustcopy.sysregistries import load_registries_conf

    conf = load_registries_conf(str(CI_TESTDATA / "cred-helper-with-auth-files.conf"), home=str(home),
                                system_dir=str(CI_TESTDATA / "IdoNotExist"))
    assert conf.credential_helpers == ("containers-auth.json", "helper-registry")
    path = tmp_path / "auth.json"
    path.write_text("{}")
    sys = SystemContext(auth_file=str(path))
    for key, user, password in [("example.org", "example-user", "example-password"),
                                ("quay.io", "quay-user", "quay-password"),
                                ("localhost:5000", "local-user", "local-password"),
                                ("docker.io/vendor", "u1", "p1"), ("index.docker.io", "u2", "p2")]:
        assert authfile.store_credentials(sys, key, user, password, conf.credential_helpers) == str(path)
    assert set(json.loads(path.read_text())["auths"]) == {"example.org", "quay.io", "localhost:5000",
                                                          "docker.io/vendor", "index.docker.io"}
    for key, expected in [("example.org", Credentials("example-user", "example-password")),
                          ("quay.io", Credentials("quay-user", "quay-password")),
                          ("localhost:5000", Credentials("local-user", "local-password")),
                          ("docker.io/vendor", Credentials("u1", "p1")),
                          ("docker.io", Credentials("u2", "p2")),
                          ("registry-a.com", Credentials("foo", "bar"))]:
        assert authfile.get_credentials(sys, key, conf.credential_helpers) == expected


def test_get_all_credentials_no_credentials_found(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                  ci_helper: None) -> None:
    """TestGetAllCredentials "no credentials found": $DOCKER_CONFIG=testdata, whose config.json sends
    registry-no-creds.com to a helper answering "credentials not found": no credentials, no error."""
    monkeypatch.setenv("DOCKER_CONFIG", str(CI_TESTDATA))
    assert authfile.get_credentials(None, "registry-no-creds.com").anonymous
    assert authfile.get_credentials(None, "registry-no-creds.com/ns/repo").anonymous


def test_helper_answering_empty_json_means_not_found(runtime_auth: Path, home: Path, ci_helper: None) -> None:
    """getCredsFromCredHelper: helperclient.Get decodes "{}" (testdata's helper for unknown hosts) as empty
    credentials, which are "not found": the next file is asked."""
    runtime_auth.write_text(json.dumps({"credHelpers": {"unknown.example": "helper-registry"}}))
    assert authfile.get_credentials(None, "unknown.example/repo").anonymous
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {"unknown.example": {"auth": _b64("d:x")}}}))
    assert authfile.get_credentials(None, "unknown.example/repo") == Credentials("d", "x")


def test_file_cred_helpers_win_over_auths_and_use_the_registry(runtime_auth: Path, ci_helper: None) -> None:
    """findCredentialsInFile: a credHelpers entry for the registry is tried before "auths" of the same file,
    and is asked for the registry, never the namespace (registry-b.com's helper answers an identity token)."""
    runtime_auth.write_text(json.dumps({"credHelpers": {"registry-a.com": "helper-registry",
                                                        "registry-b.com": "helper-registry"},
                                        "auths": {"registry-a.com/ns": {"auth": _b64("file:f")}}}))
    assert authfile.get_credentials(None, "registry-a.com/ns/repo") == Credentials("foo", "bar")
    assert authfile.get_credentials(None, "registry-b.com/x") == Credentials(identity_token="fizzbuzz")


# -- TestRemoveAuthentication --------------------------------------------------------------------------------------

REMOVE_VECTORS = [
    ({"quay.io": 1}, [("quay.io", True)], {}),
    ({"quay.io": 1}, [("quay.io/user/image", False)], {"quay.io"}),  # not logged in: a parent is not removed
    ({"quay.io": 1, "my-registry.local": 1}, [("my-registry.local", True)], {"quay.io"}),
    ({"quay.io/a/b/c": 1, "quay.io/a/b": 1, "quay.io/a": 1, "quay.io": 1, "my-registry.local": 1},
     [("quay.io/a/b", True), ("quay.io", True), ("my-registry.local", True)], {"quay.io/a/b/c", "quay.io/a"}),
]


@pytest.mark.parametrize(("entries", "removals", "left"), REMOVE_VECTORS)
def test_remove_authentication(tmp_path: Path, entries: dict[str, int], removals: list[tuple[str, bool]],
                               left: set[str]) -> None:
    """TestRemoveAuthentication: only the exact key is removed; "not logged in" otherwise."""
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {k: {"auth": EXAMPLE_ORG} for k in entries}}))
    sys = SystemContext(auth_file=str(path))
    for key, was_there in removals:
        assert authfile.remove_credentials(sys, key) is was_there
    auths = json.loads(path.read_text())["auths"]
    assert set(auths) == set(left) and all(v == {"auth": EXAMPLE_ORG} for v in auths.values())


# -- TestSetGetCredentials -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "get", "legacy", "should_auth"), [
    ("quay.io/foo", "quay.io/foo/a", False, True),  # Should match namespace
    ("quay.io", "quay.io/foo", False, True),  # Should match registry if repository provided
    ("quay.io/foo", "quay.io/bar", False, False),  # Should not match different repository
    ("https://quay.io/v1/", "quay.io/foo", False, True),  # Should match legacy registry entry (new API)
    ("https://quay.io/v1/", "quay.io", True, True),  # Should match legacy registry entry (legacy API)
])
def test_set_get_credentials(home: Path, tmp_path: Path, stored: str, get: str, legacy: bool,
                             should_auth: bool) -> None:
    """TestSetGetCredentials (the legacy-format file is ~/.dockercfg: trustcopy has no
    LegacyFormatAuthFilePath option)."""
    if legacy:
        (home / ".dockercfg").write_text(json.dumps({stored: {"auth": USERNAME_PASSWORD}}))
        sys = None
    else:
        path = tmp_path / "auth.json"
        path.write_text(json.dumps({"auths": {stored: {"auth": USERNAME_PASSWORD}}}))
        sys = SystemContext(auth_file=str(path))
    expected = Credentials("username", "password") if should_auth else Credentials()
    assert authfile.get_credentials(sys, get) == expected


# -- SetCredentials / RemoveAuthentication / RemoveAllAuthentication with a file's credHelpers ------------------------


def test_set_credentials_goes_to_the_files_cred_helper(tmp_path: Path, fake_helper: Path) -> None:
    """SetCredentials: fileContents.CredHelpers[key] → setCredsInCredHelper, the file is not rewritten;
    a namespaced key there → "namespaced key is not supported for credential helper"."""
    path = tmp_path / "auth.json"
    original = json.dumps({"auths": {}, "credHelpers": {"reg.example": "fake", "reg.example/ns": "fake"}})
    path.write_text(original)
    sys = SystemContext(auth_file=str(path))
    assert authfile.set_credentials(sys, "reg.example", "u", "p") == "credential helper: fake"
    assert json.loads(fake_helper.read_text()) == {"reg.example": {"Username": "u", "Secret": "p"}}
    assert path.read_text() == original
    assert authfile.get_credentials(sys, "reg.example/app") == Credentials("u", "p")
    with pytest.raises(ConfigError, match="namespaced key is not supported for credential helper fake") as info:
        authfile.set_credentials(sys, "reg.example/ns", "u", "p")
    assert str(path) in info.value.message
    # Other keys are still written to the file
    assert authfile.set_credentials(sys, "other.example", "o", "q") == str(path)
    assert json.loads(path.read_text())["auths"] == {"other.example": {"auth": _b64("o:q")}}


def test_remove_authentication_erases_from_the_files_cred_helper(tmp_path: Path, fake_helper: Path) -> None:
    """RemoveAuthentication: fileContents.CredHelpers[key] → the credentials are erased from that helper
    (logged in if it had them), as well as any "auths" entry for the key."""
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {}, "credHelpers": {"reg.example": "fake"}}))
    sys = SystemContext(auth_file=str(path))
    authfile.set_credentials(sys, "reg.example", "u", "p")
    assert authfile.remove_credentials(sys, "reg.example") is True
    assert json.loads(fake_helper.read_text()) == {}
    assert authfile.remove_credentials(sys, "reg.example") is False  # "credentials not found": not logged in
    assert json.loads(path.read_text())["credHelpers"] == {"reg.example": "fake"}


def test_remove_authentication_helper_failure_leaves_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RemoveAuthentication: a failing credHelpers helper fails the edit, naming the file; nothing written."""
    path = tmp_path / "auth.json"
    original = json.dumps({"auths": {"reg.example": {"auth": EXAMPLE_ORG}}, "credHelpers": {"reg.example": "absent"}})
    path.write_text(original)
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker-credential-absent
    with pytest.raises(ConfigError, match="docker-credential-absent is not installed") as info:
        authfile.remove_credentials(SystemContext(auth_file=str(path)), "reg.example")
    assert str(path) in info.value.message and EXAMPLE_ORG not in info.value.message
    assert path.read_text() == original


def test_remove_all_authentication_erases_the_files_cred_helpers(tmp_path: Path, fake_helper: Path) -> None:
    """RemoveAllAuthentication: each credHelpers entry is erased from its helper, then "auths" and
    "credHelpers" are emptied."""
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {"x.example": {"auth": EXAMPLE_ORG}},
                                "credHelpers": {"reg.example": "fake", "two.example": "fake"}}))
    sys = SystemContext(auth_file=str(path))
    authfile.set_credentials(sys, "reg.example", "u", "p")
    authfile.set_credentials(sys, "two.example", "v", "q")
    assert authfile.remove_all_credentials(sys) == str(path)
    assert json.loads(fake_helper.read_text()) == {}
    assert json.loads(path.read_text()) == {"auths": {}}


def test_remove_all_authentication_skips_a_missing_external_helper(home: Path, tmp_path: Path,
                                                                   fake_helper: Path) -> None:
    """RemoveAllAuthentication: an external helper that does not exist (exec.ErrNotFound) holds nothing;
    the other helpers are still emptied."""
    path = tmp_path / "auth.json"
    sys = SystemContext(auth_file=str(path))
    authfile.store_credentials(sys, "reg.example", "u", "p", ("fake",))
    authfile.store_credentials(sys, "file.example", "u", "p", ())
    where = authfile.erase_all_credentials(sys, ("not-installed-helper", "fake", "containers-auth.json"))
    assert where == f"credential helper: fake, {path}"
    assert json.loads(fake_helper.read_text()) == {}
    assert json.loads(path.read_text()) == {"auths": {}}


# -- containers/common's Login/Logout (skopeo login/logout) ---------------------------------------------------------


@pytest.mark.parametrize(("arg", "key", "registry"), [
    ("reg.example", "reg.example", "reg.example"),
    ("reg.example:5000/ns/repo", "reg.example:5000/ns/repo", "reg.example:5000"),
    ("docker.io/vendor", "docker.io/vendor", "docker.io"),  # not normalized to docker.io/library/vendor
    ("https://reg.example:5000/v2/path", "reg.example:5000", "reg.example:5000"),  # replaceURLByHostPort
    ("http://user@reg.example/x", "reg.example", "reg.example"),  # url.Parse(…).Host has no user info
])
def test_parse_credentials_key(arg: str, key: str, registry: str) -> None:
    """parseCredentialsKey(arg, acceptRepositories=true), as skopeo login/logout call it."""
    from trustcopy.cli.registry import _registry_key

    assert _registry_key(arg) == (key, registry)


@pytest.mark.parametrize("arg", ["reg.example/repo:tag", "reg.example/repo@sha256:" + "0" * 64, "notahost/repo"])
def test_parse_credentials_key_refused(arg: str) -> None:
    """parseCredentialsKey: a tag or digest, or a first component that is not the registry, is refused."""
    from trustcopy.cli.registry import _registry_key
    from trustcopy.errors import TrustcopyError

    with pytest.raises(TrustcopyError):
        _registry_key(arg)


def test_logout_not_logged_in_but_credentials_elsewhere(run_cli, home: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Logout: RemoveAuthentication → ErrNotLoggedIn, then GetCredentials(key) and CheckAuth: credentials that
    the registry accepts (another file, or a parent key) → the "docker login" notice and success; refused or
    none → "not logged into KEY"."""
    from trustcopy.errors import RegistryAuthError

    accepted: list[tuple[str, str]] = []

    def check_auth(sys_ctx: object, registry: str, username: str, password: str) -> None:
        accepted.append((registry, username))
        if password != "good":
            raise RegistryAuthError("unauthorized")

    monkeypatch.setattr("trustcopy.cli.registry.check_auth", check_auth)
    (tmp_path / "registries.conf").write_text("")  # no credential-helpers: the auth files only
    monkeypatch.setenv("REGISTRIES_CONFIG_PATH", str(tmp_path / "registries.conf"))
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {"docker.example": {"auth": _b64("d:good")},
                                                                        "stale.example": {"auth": _b64("s:bad")}}}))
    primary = tmp_path / "run" / "containers" / "auth.json"
    primary.parent.mkdir(parents=True)
    primary.write_text(json.dumps({"auths": {"quay.example": {"auth": _b64("q:good")}}}))
    notice = "with current tool. Existing credentials were established via docker login"
    r = run_cli("logout", "docker.example")
    assert r.exit_code == 0 and f"Not logged into docker.example {notice}" in r.stdout
    r = run_cli("logout", "quay.example/user/image")  # only the parent key is in the file: not removed
    assert r.exit_code == 0 and f"Not logged into quay.example/user/image {notice}" in r.stdout
    assert accepted == [("docker.example", "d"), ("quay.example", "q")]
    r = run_cli("logout", "stale.example")
    assert r.exit_code == 1 and "not logged into stale.example" in r.stderr and "bad" not in r.stderr
    r = run_cli("logout", "nowhere.example")
    assert r.exit_code == 1 and "not logged into nowhere.example" in r.stderr
    # With --authfile, that file is the only one: the Docker file is not consulted
    r = run_cli("logout", "--authfile", str(primary), "docker.example")
    assert r.exit_code == 1 and "not logged into docker.example" in r.stderr
    assert json.loads(primary.read_text())["auths"] == {"quay.example": {"auth": _b64("q:good")}}
