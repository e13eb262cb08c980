"""The docker: transport's references, policy identity/namespaces, and scope validation."""

from __future__ import annotations

import pytest

from trustcopy.errors import InvalidReferenceError
from trustcopy.policy.scopes import validate_scope
from trustcopy.reference import parse_normalized_named
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.docker.reference import (
    TRANSPORT,
    UNKNOWN_DIGEST_SUFFIX,
    DockerImageReference,
    check_docker_scope,
    docker_reference_namespaces,
    docker_scope_problem,
    new_reference,
)

D = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "within", "identity"),
    [
        ("//busybox", "//busybox:latest", "docker.io/library/busybox:latest"),
        ("//busybox:1.36", "//busybox:1.36", "docker.io/library/busybox:1.36"),
        (f"//busybox@{D}", f"//busybox@{D}", f"docker.io/library/busybox@{D}"),
        ("//quay.io/ns/app", "//quay.io/ns/app:latest", "quay.io/ns/app:latest"),
        ("//index.docker.io/someone/app:2", "//someone/app:2", "docker.io/someone/app:2"),
        ("//localhost:5000/app:dev", "//localhost:5000/app:dev", "localhost:5000/app:dev"),
    ],
)
def test_parse_normalizes_and_defaults_to_latest(text: str, within: str, identity: str) -> None:
    ref = TRANSPORT.parse_reference(text)
    assert ref.string_within_transport() == within
    assert ref.policy_configuration_identity() == identity
    assert TRANSPORT.parse_reference(ref.string_within_transport()) == ref
    assert str(ref) == "docker:" + within


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("busybox", "does not start with //"),
        ("/busybox", "does not start with //"),
        (f"//busybox:1@{D}", "both a tag and digest"),
        ("//UPPER/x", "must be lowercase"),
        ("//", "empty"),
        (f"//busybox:1{UNKNOWN_DIGEST_SUFFIX}", "unknown digest"),
    ],
)
def test_parse_refuses(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError, match=fragment):
        TRANSPORT.parse_reference(text)


def test_unknown_digest_reference_has_no_repository_identity_duplicate() -> None:
    ref = TRANSPORT.parse_reference(f"//quay.io/ns/app{UNKNOWN_DIGEST_SUFFIX}")
    assert ref.is_unknown_digest
    assert ref.policy_configuration_identity() == "quay.io/ns/app"
    assert ref.policy_configuration_namespaces() == ["quay.io/ns", "quay.io", "*.io"]
    assert ref.string_within_transport() == f"//quay.io/ns/app{UNKNOWN_DIGEST_SUFFIX}"


def test_new_reference_refuses_name_only() -> None:
    with pytest.raises(InvalidReferenceError, match="neither a tag nor a digest"):
        new_reference(parse_normalized_named("busybox"))


@pytest.mark.parametrize(
    ("name", "namespaces"),
    [
        ("busybox", ["docker.io/library/busybox", "docker.io/library", "docker.io", "*.io"]),
        ("a.b.example.com:5000/ns/repo", ["a.b.example.com:5000/ns/repo", "a.b.example.com:5000/ns",
                                          "a.b.example.com:5000", "*.b.example.com", "*.example.com", "*.com"]),
        ("localhost/app", ["localhost/app", "localhost"]),
        ("[::1]:5000/app", ["[::1]:5000/app", "[::1]:5000"]),
    ],
)
def test_namespaces_most_specific_first(name: str, namespaces: list[str]) -> None:
    assert docker_reference_namespaces(parse_normalized_named(name)) == namespaces


def test_docker_reference_is_the_normalized_user_reference() -> None:
    ref = parse_image_name("docker://busybox")
    assert isinstance(ref, DockerImageReference)
    assert str(ref.docker_reference()) == "docker.io/library/busybox:latest"


VALID_SCOPES = [
    "docker.io", "docker.io/library", "docker.io/library/busybox", "docker.io/library/busybox:latest",
    f"docker.io/library/busybox@{D}", "docker.io/someone", "quay.io/ns/sub/app:v1.2", "example.com:5000",
    "example.com:5000/ns", "localhost", "localhost:5000/x", "*.example.com", "*.com", "*.temporary-project.example.com",
    "hostname:5000/myns/official", "private-mirror:5000/vendor-mirror", "[::1]:5000/app", "Registry.Example.com/x",
]
INVALID_SCOPES = [
    ("busybox", "not a registry host"),
    ("busybox:latest", "docker.io/library/busybox:latest"),
    ("library/busybox", "docker.io/library/busybox"),
    ("someone/app:1", "docker.io/someone/app:1"),
    ("index.docker.io/library/busybox", "fully expanded"),
    ("index.docker.io", "not a registry host"),
    ("docker.io/busybox:latest", "canonical"),
    ("example.com/UPPER", "lowercase"),
    ("example.com/", "invalid"),
    ("example.com//x", "invalid"),
    (f"example.com/app:1@{D}", "both a tag and a digest"),
    ("example.com/app@sha256:abc", "digest"),
    ("*", "only allowed as a leading"),
    ("*.", "wildcard"),
    ("example*.*.com", "only allowed as a leading"),
    ("*.example.com:5000", "wildcard"),
    ("*.example.com/ns", "wildcard"),
    ("*.*.com", "wildcard"),
    ("https://example.com", "invalid"),
    ("example.com/ns repo", "invalid"),
    ("unmatched", "not a registry host"),
]


@pytest.mark.parametrize("scope", VALID_SCOPES)
@pytest.mark.parametrize("transport", ["docker", "atomic"])
def test_valid_docker_scopes(transport: str, scope: str) -> None:
    validate_scope(transport, scope)


@pytest.mark.parametrize(("scope", "fragment"), INVALID_SCOPES, ids=[s for s, _ in INVALID_SCOPES])
@pytest.mark.parametrize("transport", ["docker", "atomic"])
def test_scope_that_never_matches_loads_with_a_reason(transport: str, scope: str, fragment: str) -> None:
    validate_scope(transport, scope)  # containers/image accepts any docker scope string; so do we
    problem = docker_scope_problem(scope)
    assert problem is not None and problem.startswith("invalid scope")
    assert fragment in problem


def test_every_generated_identity_and_namespace_is_a_valid_scope() -> None:
    for text in ["busybox", "quay.io/a/b/c:1", f"example.com:5000/x@{D}", "localhost/y", "Upper.io/z:2"]:
        ref = TRANSPORT.parse_reference("//" + text)
        for scope in [ref.policy_configuration_identity(), *ref.policy_configuration_namespaces()]:
            check_docker_scope(scope)


@pytest.mark.parametrize("scope", ["relative", "/", "/a/../b", "/a/", "/a//b"])
@pytest.mark.parametrize("transport", ["dir", "oci"])
def test_path_transport_scopes_must_be_absolute_and_canonical(transport: str, scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        validate_scope(transport, scope)


@pytest.mark.parametrize("scope", ["/srv/images", "/srv/layout:tag", "/a"])
@pytest.mark.parametrize("transport", ["dir", "oci"])
def test_path_transport_scopes_accepted(transport: str, scope: str) -> None:
    validate_scope(transport, scope)


@pytest.mark.parametrize("scope", ["anything at all", "busybox", "/"])
def test_transport_not_in_this_build_is_not_validated(scope: str) -> None:
    validate_scope("no-such-transport", scope)
