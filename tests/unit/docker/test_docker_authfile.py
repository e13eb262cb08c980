"""containers-auth.json lookup order, key matching, writing, and secrecy of its contents."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from trustcopy.errors import ConfigError, UsageError
from trustcopy.transports.docker import authfile
from trustcopy.transports.docker.auth import Credentials
from trustcopy.types import SystemContext


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _write(path: Path, auths: dict[str, object], *, legacy: bool = False,
           helpers: dict[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = auths if legacy else {"auths": auths}
    if helpers:
        doc["credHelpers"] = helpers
    path.write_text(json.dumps(doc))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME with no auth-related environment."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for var in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return h


def test_lookup_order_paths(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [p.path for p in authfile.auth_file_paths(SystemContext())]
    assert paths == [
        str(tmp_path / "run" / "containers" / "auth.json"),
        str(home / ".config" / "containers" / "auth.json"),
        str(home / ".docker" / "config.json"),
        str(home / ".dockercfg"),
    ]
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/env/auth.json")
    assert authfile.auth_file_paths(SystemContext())[0].path == "/env/auth.json"
    assert authfile.auth_file_paths(SystemContext(auth_file="/flag.json"))[0].path == "/flag.json"
    monkeypatch.delenv("REGISTRY_AUTH_FILE")  # a file the user names is the only one read
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert authfile.auth_file_paths(None)[2].path == str(tmp_path / "dc" / "config.json")
    assert authfile.auth_file_paths(None)[3].legacy


def test_first_file_with_a_match_wins(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {"reg.example": _auth("primary", "p1")})
    _write(home / ".docker" / "config.json", {"reg.example/ns/app": _auth("docker", "p2")})
    creds = authfile.get_credentials(None, "reg.example/ns/app")
    assert (creds.username, creds.password) == ("primary", "p1")


def test_most_specific_key_wins_within_a_file(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {
        "reg.example": _auth("host", "h"),
        "reg.example/ns": _auth("namespace", "n"),
        "reg.example/ns/app": _auth("repo", "r"),
    })
    assert authfile.get_credentials(None, "reg.example/ns/app").username == "repo"
    assert authfile.get_credentials(None, "reg.example/ns/other").username == "namespace"
    assert authfile.get_credentials(None, "reg.example/other").username == "host"
    assert authfile.get_credentials(None, "other.example/x").anonymous


def test_namespace_match_needs_a_slash_boundary(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {"reg.example/ns": _auth("ns", "x")})
    assert authfile.get_credentials(None, "reg.example/nsother/app").anonymous


def test_docker_url_keys_and_docker_io_aliases(home: Path) -> None:
    _write(home / ".docker" / "config.json", {"https://index.docker.io/v1/": _auth("hub", "h"),
                                              "http://reg.example:5000/v2/": _auth("old", "o")})
    assert authfile.get_credentials(None, "docker.io/library/busybox").username == "hub"
    assert authfile.get_credentials(None, "reg.example:5000/app").username == "old"


def test_legacy_dockercfg(home: Path) -> None:
    _write(home / ".dockercfg", {"https://reg.example": {**_auth("legacy", "l"), "email": "x@y"}}, legacy=True)
    assert authfile.get_credentials(None, "reg.example/app").username == "legacy"


def test_identity_token_and_password_nul_padding(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {
        "a.example": {**_auth("u", "pw\x00\x00"), "identitytoken": "refresh-me"},
        "b.example": {"identitytoken": "only-token"},
    })
    a = authfile.get_credentials(None, "a.example/x")
    assert (a.username, a.password, a.identity_token) == ("u", "pw", "refresh-me")
    # No "user:" in "auth": containers/image's decodeDockerAuth drops the whole entry, token included.
    assert authfile.get_credentials(None, "b.example/x").anonymous


def test_malformed_file_is_an_error_that_never_quotes_it(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "run" / "containers" / "auth.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"auths": {"reg.example": {"auth": "c2VjcmV0LXBhc3N3b3Jk"}, }')  # trailing comma
    with pytest.raises(ConfigError) as info:
        authfile.get_credentials(None, "reg.example/app")
    assert str(path) in str(info.value)
    assert "c2VjcmV0" not in str(info.value)


def test_invalid_base64_never_quoted(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {"reg.example": {"auth": "not base64 secret!!"}})
    with pytest.raises(ConfigError) as info:
        authfile.get_credentials(None, "reg.example/app")
    assert "secret" not in str(info.value)


def test_oversized_file_refused(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "run" / "containers" / "auth.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"auths": {}, "pad": "' + "x" * (2 << 20) + '"}')
    with pytest.raises(ConfigError, match="larger than"):
        authfile.get_credentials(None, "reg.example/app")


def test_missing_xdg_runtime_dir_falls_through_for_reads(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent/runtime")
    _write(home / ".config" / "containers" / "auth.json", {"reg.example": _auth("cfg", "c")})
    assert authfile.get_credentials(None, "reg.example/app").username == "cfg"
    with pytest.raises(ConfigError, match="XDG_RUNTIME_DIR"):
        authfile.set_credentials(None, "reg.example", "u", "p")


@pytest.mark.parametrize("key", ["https://reg.example", "reg.example/app:tag", "reg.example/app@sha256:00", "/x"])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(UsageError):
        authfile.validate_key(key)


def test_port_in_host_is_fine() -> None:
    assert authfile.validate_key("localhost:5000") is False
    assert authfile.validate_key("localhost:5000/ns") is True


def test_flags_override_files(home: Path, tmp_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {"reg.example": _auth("file", "f")})
    sys = SystemContext(docker_username="flag", docker_password="p")
    assert authfile.credentials_for_reference(sys, "reg.example/app") == Credentials("flag", "p")
    assert authfile.credentials_for_reference(SystemContext(docker_no_creds=True), "reg.example/app").anonymous
    assert authfile.credentials_for_reference(SystemContext(), "reg.example/app").username == "file"


def test_set_and_remove_write_0600_and_keep_other_keys(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "run" / "containers" / "auth.json"
    _write(path, {"other.example": _auth("o", "o")})
    doc = json.loads(path.read_text())
    doc["custom"] = {"keep": True}
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o644)
    written = authfile.set_credentials(None, "reg.example", "alice", "s3cret")
    assert written == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["custom"] == {"keep": True}
    assert set(doc["auths"]) == {"other.example", "reg.example"}
    assert authfile.get_credentials(None, "reg.example/x").password == "s3cret"
    assert authfile.remove_credentials(None, "reg.example") is True
    assert authfile.remove_credentials(None, "reg.example") is False
    authfile.remove_all_credentials(None)
    assert json.loads(path.read_text())["auths"] == {}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".auth-")]


def test_new_directory_is_0700(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "dir" / "auth.json"
    authfile.set_credentials(SystemContext(auth_file=str(target)), "reg.example", "u", "p")
    assert stat.S_IMODE(os.stat(target.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_credential_helper(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-fake"
    helper.write_text(
        "#!/bin/sh\nread host\n"
        'if [ "$host" = "reg.example" ]; then echo \'{"Username":"helped","Secret":"from-helper"}\'; exit 0; fi\n'
        'if [ "$host" = "tok.example" ]; then echo \'{"Username":"<token>","Secret":"idtok"}\'; exit 0; fi\n'
        "echo 'credentials not found in native keychain'; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    _write(tmp_path / "run" / "containers" / "auth.json", {},
           helpers={"reg.example": "fake", "tok.example": "fake", "none.example": "fake", "bad.example": "../x"})
    assert authfile.get_credentials(None, "reg.example/a") == Credentials("helped", "from-helper")
    assert authfile.get_credentials(None, "tok.example/a") == Credentials(identity_token="idtok")
    assert authfile.get_credentials(None, "none.example/a").anonymous
    with pytest.raises(ConfigError):
        authfile.get_credentials(None, "bad.example/a")


# -- registries.conf credential-helpers (containers/image's list, asked in order) ---------------------


def _helper(bindir: Path, name: str, script: str) -> None:
    bindir.mkdir(exist_ok=True)
    helper = bindir / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\nread host\n" + script)
    helper.chmod(0o755)


@pytest.fixture
def helpers_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    _helper(bindir, "ecr", 'if [ "$host" = "reg.example" ]; then echo \'{"Username":"AWS","Secret":"ecr-token"}\'; '
                           "exit 0; fi\necho 'credentials not found in native keychain'; exit 1\n")
    _helper(bindir, "broken", "echo 'segfault' >&2; exit 3\n")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return bindir


def test_credential_helpers_are_asked_in_order(home: Path, tmp_path: Path, helpers_on_path: Path) -> None:
    _write(tmp_path / "run" / "containers" / "auth.json", {"reg.example": _auth("file", "pw")})
    assert authfile.get_credentials(None, "reg.example/a", ("ecr",)) == Credentials("AWS", "ecr-token")
    assert authfile.get_credentials(None, "reg.example/a", ("containers-auth.json", "ecr")) == Credentials("file", "pw")
    assert authfile.get_credentials(None, "reg.example/a", ()) == Credentials("file", "pw")  # the default
    # A helper that does not know the registry passes to the next; none knowing it is anonymous.
    assert authfile.get_credentials(None, "other.example/a", ("ecr", "containers-auth.json")).anonymous


def test_a_failing_helper_is_skipped_when_a_later_one_answers(home: Path, tmp_path: Path, helpers_on_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    assert authfile.get_credentials(None, "reg.example/a", ("broken", "ecr")) == Credentials("AWS", "ecr-token")
    assert "docker-credential-broken failed (exit status 3)" in caplog.text
    with pytest.raises(ConfigError, match="docker-credential-broken failed"):
        authfile.get_credentials(None, "other.example/a", ("broken", "ecr"))
    with pytest.raises(ConfigError, match=r"errors looking up credentials for reg\.example/a: .*broken.*missing"):
        authfile.get_credentials(None, "reg.example/a", ("broken", "missing"))


def test_credentials_for_reference_flags_win_over_helpers(home: Path, helpers_on_path: Path) -> None:
    flags = SystemContext(docker_username="u", docker_password="p")
    assert authfile.credentials_for_reference(flags, "reg.example/a", ("ecr",)) == Credentials("u", "p")
    assert authfile.credentials_for_reference(SystemContext(docker_no_creds=True), "reg.example/a", ("ecr",)).anonymous


# -- login/logout through the credential helpers -------------------------------------------------------


def test_login_stores_in_the_first_helper_that_takes_them(home: Path, tmp_path: Path, fake_helper: Path) -> None:
    assert authfile.store_credentials(None, "reg.example", "u", "p", ("fake",)) == "credential helper: fake"
    assert json.loads(fake_helper.read_text()) == {"reg.example": {"Username": "u", "Secret": "p"}}
    assert authfile.get_credentials(None, "reg.example/app", ("fake",)) == Credentials("u", "p")
    assert not (tmp_path / "run" / "containers" / "auth.json").exists()  # the auth file was not the first
    # A helper cannot hold a namespace: the next in the list (the auth file) takes it.
    path = authfile.store_credentials(None, "reg.example/team", "t", "q", ("fake", "containers-auth.json"))
    assert path == str(tmp_path / "run" / "containers" / "auth.json")
    with pytest.raises(ConfigError, match=r"cannot store credentials for a namespace \(reg\.example/team\)"):
        authfile.store_credentials(None, "reg.example/team", "t", "q", ("fake",))


def test_logout_erases_from_every_helper(home: Path, tmp_path: Path, fake_helper: Path) -> None:
    both = ("fake", "containers-auth.json")
    authfile.store_credentials(None, "reg.example", "u", "p", ("fake",))
    authfile.store_credentials(None, "reg.example", "v", "q", ("containers-auth.json",))
    assert authfile.erase_credentials(None, "reg.example", both)
    assert json.loads(fake_helper.read_text()) == {}
    assert authfile.get_credentials(None, "reg.example", both).anonymous
    assert not authfile.erase_credentials(None, "reg.example", both)  # not logged in anywhere now


def test_logout_all_empties_the_auth_file_and_each_helper(home: Path, tmp_path: Path, fake_helper: Path) -> None:
    for host in ("a.example", "b.example"):
        authfile.store_credentials(None, host, "u", "p", ("fake",))
    authfile.store_credentials(None, "c.example", "u", "p", ())
    where = authfile.erase_all_credentials(None, ("fake", "containers-auth.json"))
    assert where == f"credential helper: fake, {tmp_path / 'run' / 'containers' / 'auth.json'}"
    assert json.loads(fake_helper.read_text()) == {}
    assert authfile.get_credentials(None, "c.example", ()).anonymous


def test_helper_failures_in_login_and_logout_are_named(home: Path, tmp_path: Path, fake_helper: Path,
                                                       helpers_on_path: Path) -> None:
    """``broken`` exits 3 on everything; a failure is never taken for "not logged in"."""
    with pytest.raises(ConfigError, match=r"errors storing credentials for reg\.example: .*broken.*missing"):
        authfile.store_credentials(None, "reg.example", "u", "p", ("broken", "missing"))
    authfile.store_credentials(None, "reg.example", "u", "p", ("fake",))
    with pytest.raises(ConfigError, match="docker-credential-broken failed"):
        authfile.erase_credentials(None, "reg.example", ("fake", "broken"))
    assert json.loads(fake_helper.read_text()) == {}  # the helper that works was still emptied
    _helper(helpers_on_path, "badlist", "echo 'not json'\n")
    with pytest.raises(ConfigError, match="docker-credential-badlist listed malformed output"):
        authfile.erase_all_credentials(None, ("badlist",))
    with pytest.raises(ConfigError, match=r"invalid credential helper name '\.\./x'"):
        authfile.store_credentials(None, "reg.example", "u", "p", ("../x",))


# -- containers/image's own vectors (pkg/docker/config: testdata and TestGetAuth*) --------------------------------

CI_AUTH_TESTDATA = Path("/usr/share/gocode/src/github.com/containers/image/pkg/docker/config/testdata")

# (auth file, key, expected credentials); None: anonymous
CI_GET_AUTH = [
    (None, "index.docker.io", None),
    ("example.json", "example.org", Credentials("example", "org")),
    ("example.json", "registry.example.org", None),
    ("full.json", "docker.io", Credentials("docker", "io")),
    ("abnormal.json", "docker.io", Credentials("index", "docker.io")),
    ("full.json", "normalize.example.org", Credentials("normalize", "example")),
    ("full.json", "localhost", Credentials("local", "host")),
    ("full.json", "10.10.30.45:5000", Credentials("10.10", "30.45-5000")),
    ("abnormal.json", "localhost:5000", Credentials("local", "host-5000")),
    ("example_identitytoken.json", "example.org",
     Credentials("00000000-0000-0000-0000-000000000000", "", "some very long identity token")),
    ("empty.json", "localhost:5000", None),
    ("refpath.json", "example.org/repo/image", Credentials("example", "org")),
    ("refpath.json", "example.org/repo", Credentials("example", "org")),
    ("refpath.json", "example.org/image", Credentials("local", "host")),
    ("refpath.json", "docker.io/library/busybox", Credentials("library", "busybox")),
    ("refpath.json", "docker.io/library/notbusybox", Credentials("library", "other")),
    ("refpath.json", "docker.io/vendor/product", Credentials("first", "level")),
    ("refpath.json", "docker.io/vendor", Credentials("first", "level")),
    ("refpath.json", "docker.io/other-vendor/other-product", Credentials("top", "level")),
]


@pytest.mark.parametrize("where", ["auth.json", "docker-config.json"])
@pytest.mark.parametrize(("fixture", "key", "expected"), CI_GET_AUTH)
def test_containers_image_get_auth_vectors(home: Path, where: str, fixture: str | None, key: str,
                                           expected: Credentials | None) -> None:
    """TestGetAuth: each file as $XDG_RUNTIME_DIR/containers/auth.json, then as ~/.docker/config.json."""
    assert CI_AUTH_TESTDATA.is_dir(), "./run installs golang-github-containers-image-dev"
    target = (Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json" if where == "auth.json"
              else home / ".docker" / "config.json")
    if fixture is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((CI_AUTH_TESTDATA / fixture).read_bytes())
    assert authfile.get_credentials(None, key) == (expected or Credentials())


@pytest.mark.parametrize(("key", "expected"), [("localhost", Credentials("local", "host-legacy")),
                                               ("docker.io", Credentials("docker", "io-legacy"))])
def test_containers_image_legacy_file_vectors(home: Path, key: str, expected: Credentials) -> None:
    """TestGetAuthFromLegacyFile: ~/.dockercfg, its keys' schemes and paths ignored."""
    (home / ".dockercfg").write_bytes((CI_AUTH_TESTDATA / "legacy.json").read_bytes())
    assert authfile.get_credentials(None, key) == expected
    # TestGetAuthPreferNewConfig: ~/.docker/config.json wins over the legacy file
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_bytes((CI_AUTH_TESTDATA / "full.json").read_bytes())
    assert authfile.get_credentials(None, "docker.io") == Credentials("docker", "io")


@pytest.mark.parametrize(("key", "expected"), [("registry-a.com", Credentials("foo", "bar")),
                                               ("registry-b.com", Credentials("", "", "fizzbuzz"))])
def test_containers_image_credential_helper_vectors(home: Path, monkeypatch: pytest.MonkeyPatch, key: str,
                                                    expected: Credentials) -> None:
    """TestGetAuth's helpers: cred-helper.conf names testdata's docker-credential-helper-registry;
    a ``<token>`` user name means an identity token."""
    from trustcopy.sysregistries import load_registries_conf

    monkeypatch.setenv("PATH", f"{CI_AUTH_TESTDATA}:{os.environ['PATH']}")
    conf = load_registries_conf(str(CI_AUTH_TESTDATA / "cred-helper.conf"), home=str(home),
                                system_dir=str(CI_AUTH_TESTDATA / "IdoNotExist"))
    assert authfile.get_credentials(None, key, conf.credential_helpers) == expected
