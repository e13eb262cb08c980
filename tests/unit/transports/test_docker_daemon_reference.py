"""docker-daemon: reference grammar and policy scopes (containers/image daemon_transport_test vectors)."""

from __future__ import annotations

import pytest

from trustcopy.errors import InvalidReferenceError
from trustcopy.transports.docker_daemon import TRANSPORT, daemon_host
from trustcopy.types import SystemContext

ID = "sha256:" + "e" * 64


@pytest.mark.parametrize(("text", "within", "identity"), [
    (ID, ID, ""),
    ("busybox:notlatest", "busybox:notlatest", "docker.io/library/busybox:notlatest"),
    ("example.com/ns/app:1", "example.com/ns/app:1", "example.com/ns/app:1"),
    ("busybox@" + ID, "busybox@" + ID, "docker.io/library/busybox@" + ID),
], ids=str)
def test_references_and_identities(text: str, within: str, identity: str) -> None:
    ref = TRANSPORT.parse_reference(text)
    assert ref.string_within_transport() == within
    assert ref.policy_configuration_identity() == identity
    assert TRANSPORT.parse_reference(ref.string_within_transport()) == ref


def test_namespaces_of_a_name_and_of_an_id() -> None:
    assert TRANSPORT.parse_reference("example.com/ns/app:1").policy_configuration_namespaces() == [
        "example.com/ns/app", "example.com/ns", "example.com", "*.com"]
    assert TRANSPORT.parse_reference(ID).policy_configuration_namespaces() == []
    assert TRANSPORT.parse_reference(ID).docker_reference() is None


@pytest.mark.parametrize("bad", [
    "", "busybox", "sha256:" + "e" * 63, "sha256:" + "E" * 64, "sha256:abc", "sha512:" + "e" * 128,
    "busybox:tag@" + ID, "UPPER:1",
], ids=repr)
def test_invalid_references(bad: str) -> None:
    with pytest.raises(InvalidReferenceError):
        TRANSPORT.parse_reference(bad)


def test_scopes() -> None:
    TRANSPORT.validate_policy_configuration_scope("example.com/ns/app")
    with pytest.raises(ValueError, match="algo:digest"):
        TRANSPORT.validate_policy_configuration_scope(ID)


def test_destination_must_be_name_and_tag() -> None:
    for text in (ID, "busybox@" + ID):
        with pytest.raises(InvalidReferenceError, match="name:tag"):
            TRANSPORT.parse_reference(text).new_image_destination(SystemContext())


def test_host_from_flag_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert daemon_host(SystemContext()) == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/other.sock")
    assert daemon_host(SystemContext()) == "unix:///run/other.sock"
    assert daemon_host(SystemContext(docker_daemon_host="tcp://h:2376")) == "tcp://h:2376"
