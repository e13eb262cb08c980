"""registries.d / registries.conf in the docker transport, without a registry: loading once, blocked, insecure.

RegistryClient and DockerImageSource are built against addresses nothing listens on: every
decision tested here (configuration, blocked, TLS verification, credentials for mirrors,
where signatures go) is made before a request is sent.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ConfigError, TransportError
from trustcopy.reference import parse_named
from trustcopy.stores.lookaside import LookasideLocation, writable_problem
from trustcopy.stores.registries_d import load_registries_d, policy_scopes
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.docker import regconfig
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.transports.docker.session import RegistrySession
from trustcopy.transports.docker.signatures import parse_signature_list
from trustcopy.types import SystemContext

HOST = "127.0.0.1:9"  # the discard port: never contacted in these tests


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text(f'docker:\n  "{HOST}":\n    lookaside: file://{tmp_path}/store\n')
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{HOST}/insecure"\ninsecure = true\n'
                    f'[[registry]]\nlocation = "{HOST}/blocked"\nblocked = true\n'
                    f'[[registry]]\nprefix = "{HOST}/mirrored"\nlocation = "{HOST}/primary"\n'
                    f'[[registry.mirror]]\nlocation = "mirror.example:5000/m"\n')
    return regd, conf


def test_configuration_is_loaded_once_per_session_and_setting(files: tuple[Path, Path], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    regd, conf = files
    loads: list[tuple[str | None, str | None]] = []
    real = regconfig.load_registry_config

    def counting(d: str | None, c: str | None) -> regconfig.RegistryConfig:
        loads.append((d, c))
        return real(d, c)

    monkeypatch.setattr(regconfig, "load_registry_config", counting)
    with RegistrySession() as session:
        sys = SystemContext(registries_d=str(regd), registries_conf=str(conf), registry_session=session)
        configs = []
        threads = [threading.Thread(target=lambda: configs.append(session.registry_config(sys))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for path in ("ns/a:1", "ns/b:1", "insecure/x:1"):
            RegistryClient(sys, HOST, path.split(":")[0], "pull").close()
        assert all(c is configs[0] for c in configs)
        assert loads == [(str(regd), str(conf))]
        other = SystemContext(registries_d=str(regd), registries_conf=None, registry_session=session)
        assert session.registry_config(other) is not configs[0]
        assert loads == [(str(regd), str(conf)), (str(regd), None)]


def test_a_broken_configuration_is_not_cached(tmp_path: Path) -> None:
    conf = tmp_path / "registries.conf"
    conf.write_text("[[registry]]\nlocation = 5\n")
    with RegistrySession() as session:
        sys = SystemContext(registries_conf=str(conf), registry_session=session)
        for _ in range(2):
            with pytest.raises(ConfigError, match=r"registries\.conf"):
                session.registry_config(sys)
        conf.write_text("")
        assert session.registry_config(sys).registries_conf.registries == ()


def _client(sys: SystemContext, path: str) -> RegistryClient:
    return RegistryClient(sys, HOST, path, "pull")


@pytest.mark.parametrize(("path", "flag", "explicit", "verify"), [
    ("plain/app", True, False, True),        # no entry: verified
    ("insecure/app", True, False, False),    # insecure entry: not verified (plain HTTP may be tried)
    ("insecure/app", True, True, True),      # --tls-verify=true given: wins over the entry, as in skopeo
    ("plain/app", False, True, False),       # --tls-verify=false: never verified
    ("insecure/app", False, False, False),
])
def test_tls_verification_follows_registries_conf_unless_the_user_said(
        files: tuple[Path, Path], path: str, flag: bool, explicit: bool, verify: bool) -> None:
    regd, conf = files
    with RegistrySession() as session:
        sys = SystemContext(registries_d=str(regd), registries_conf=str(conf), registry_session=session,
                            docker_tls_verify=flag, docker_tls_verify_explicit=explicit)
        client = _client(sys, path)
        assert client.verify is verify
        assert client.lookaside_http()[0].verify is verify


def test_blocked_registry_is_refused_naming_the_rule(files: tuple[Path, Path]) -> None:
    regd, conf = files
    sys = SystemContext(registries_d=str(regd), registries_conf=str(conf))
    with pytest.raises(TransportError) as info:
        _client(sys, "blocked/app")
    assert info.value.code == "registry-blocked"
    assert f'[[registry]] #2 (prefix "{HOST}/blocked") in {conf}' in info.value.message
    with pytest.raises(TransportError) as info:
        parse_image_name(f"docker://{HOST}/blocked/app:1").new_image_destination(sys)
    assert info.value.code == "registry-blocked"


def test_pulls_go_to_the_mirror_with_the_logical_credentials_withheld(files: tuple[Path, Path]) -> None:
    """A --creds/--registry-token user and password are for the logical registry only (containers/image)."""
    from trustcopy.transports.docker.source import DockerImageSource

    regd, conf = files
    sys = SystemContext(registries_d=str(regd), registries_conf=str(conf), docker_username="alice",
                        docker_password="s3cret", docker_bearer_token="tok")
    plan = DockerImageSource.__new__(DockerImageSource)
    plan._logical = parse_named(f"{HOST}/mirrored/app:1")
    mirror = plan._endpoint_sys(sys, parse_named("mirror.example:5000/m/app:1"))
    assert (mirror.docker_username, mirror.docker_password, mirror.docker_bearer_token) == (None, None, None)
    assert plan._endpoint_sys(sys, parse_named(f"{HOST}/primary/app:1")) is sys  # same host: kept


def test_signatures_are_written_for_the_reference_pushed_to(files: tuple[Path, Path], tmp_path: Path) -> None:
    regd, _ = files
    config = load_registries_d(str(regd), report_warnings=False)
    location = config.lookaside(parse_named(f"{HOST}/ns/app:1"), write=True)
    assert location.base_url == f"file://{tmp_path}/store"
    assert writable_problem(location) is None
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert "not a directory" in str(writable_problem(LookasideLocation(f"file://{blocked}", "ns/app")))
    problem = writable_problem(LookasideLocation("https://sigs.example/x", "ns/app", "lookaside of default-docker"))
    assert problem is not None and "lookaside-staging" in problem and "https://sigs.example/x" in problem


def test_a_push_without_a_tag_is_looked_up_by_its_repository() -> None:
    assert policy_scopes(parse_named("example.com/ns/app")) == ["example.com/ns/app", "example.com/ns",
                                                                "example.com", "*.com"]
    with pytest.raises(ValueError, match="at most one"):
        policy_scopes(parse_named(f"example.com/ns/app:1@sha256:{'a' * 64}"))


# -- the signature API's list (the shape OpenShift's registry answers with) ---------------------------------------

DIGEST = Digest.parse("sha256:" + "4" * 64)


def test_signature_list_as_the_api_sends_it() -> None:
    name = str(DIGEST).encode() + b"@0123456789abcdef0123456789abcdef"
    body = (b'{"signatures":[{"schemaVersion":2,"name":"' + name + b'",'
            b'"type":"atomic","content":"aGVsbG8="},{"schemaVersion":2,"name":"x","type":"AtomicImageV1",'
            b'"content":null},{"name":"only a name"}]}')
    entries = parse_signature_list(body, "reading")
    assert [(e["schemaVersion"], e["type"], e["content"]) for e in entries] == [
        (2, "atomic", b"hello"), (2, "AtomicImageV1", b""), (0, "", b"")]
    assert parse_signature_list(b'{"signatures":null}', "reading") == []
    assert parse_signature_list(b"{}", "reading") == []


@pytest.mark.parametrize("body", [b"", b"[]", b'{"signatures":"x"}', b'{"signatures":[1]}',
                                  b'{"signatures":[{"schemaVersion":true}]}', b'{"signatures":[{"name":5}]}',
                                  b'{"signatures":[{"content":"not base64!"}]}', b'{"signatures":[{"content":[1]}]}'])
def test_malformed_signature_lists_are_errors(body: bytes) -> None:
    from trustcopy.errors import RegistryError

    with pytest.raises(RegistryError, match="reading: the signature list is malformed"):
        parse_signature_list(body, "reading")


def test_a_deeply_nested_signature_list_is_refused_before_parsing() -> None:
    from trustcopy.errors import LimitExceededError

    with pytest.raises(LimitExceededError, match="reading: JSON nested more than"):
        parse_signature_list(b"[" * 100_000, "reading")
