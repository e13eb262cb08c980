"""WWW-Authenticate parsing and token scopes: vectors, including hostile quoting."""

from __future__ import annotations

import pytest

from trustcopy.transports.docker.auth import Credentials
from trustcopy.transports.docker.challenge import Challenge, Scope, parse_challenge_header, parse_challenges

VECTORS = [
    ("bearer-basic",
     'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
     [("bearer", {"realm": "https://auth.example.com/token", "service": "registry.example.com",
                  "scope": "repository:a/b:pull"})]),
    ("basic", 'Basic realm="basic-realm"', [("basic", {"realm": "basic-realm"})]),
    ("scheme-case-insensitive", 'BEARER Realm="r"', [("bearer", {"realm": "r"})]),
    # As containers/image's parseValueAndParams: "=" must follow the name at once, and an
    # unquoted value is a token (no "/" or ":"); parsing stops there (tests/unit/docker/test_auth_goracle.py).
    ("spaces-around-equals-stop", 'Bearer realm = "r" ,  service = "s"', [("bearer", {})]),
    ("spaces-around-commas", 'Bearer realm="r" ,  service="s"', [("bearer", {"realm": "r", "service": "s"})]),
    ("comma-inside-quotes", 'Bearer realm="r",scope="repository:a:pull,push"',
     [("bearer", {"realm": "r", "scope": "repository:a:pull,push"})]),
    ("escaped-quote", r'Bearer realm="a\"b",service="c\\d"', [("bearer", {"realm": 'a"b', "service": "c\\d"})]),
    ("token-values", "Bearer realm=reg-realm,service=reg", [("bearer", {"realm": "reg-realm", "service": "reg"})]),
    ("unquoted-url-stops", "Bearer realm=https://x/token,service=reg", [("bearer", {"realm": "https"})]),
    ("two-challenges-one-header", 'Bearer realm="r",service="s", Basic realm="b"',
     [("bearer", {"realm": "r", "service": "s"}), ("basic", {"realm": "b"})]),
    ("insufficient-scope", 'Bearer realm="r",error="insufficient_scope",scope="repository:x:pull,push"',
     [("bearer", {"realm": "r", "error": "insufficient_scope", "scope": "repository:x:pull,push"})]),
    ("first-duplicate-wins", 'Bearer realm="good",realm="evil"', [("bearer", {"realm": "good"})]),
    ("unterminated-quote-keeps-prefix", 'Bearer service="s",realm="never-ends', [("bearer", {"service": "s"})]),
    ("scheme-only", "Negotiate", [("negotiate", {})]),
    ("token68", "Negotiate abc123==", [("negotiate", {})]),
    ("empty", "", []),
    ("garbage", '"quoted-start"', []),
    ("semicolon-garbage-stops", 'Bearer realm="r";junk', [("bearer", {"realm": "r"})]),
]


@pytest.mark.parametrize(("header", "expected"), [(h, e) for _, h, e in VECTORS], ids=[v[0] for v in VECTORS])
def test_challenge_vectors(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    got = [(c.scheme, c.params) for c in parse_challenge_header(header)]
    assert got == expected


def test_challenges_from_several_headers_keep_order() -> None:
    got = parse_challenges(['Basic realm="a"', 'Bearer realm="b"'])
    assert got == [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "b"})]


def test_hostile_header_is_linear_time() -> None:
    # A pathological header must not make the parser backtrack or loop.
    header = "Bearer " + ",".join(f'k{i}="{"x" * 50}"' for i in range(5000)) + ',z="' + "\\" * 10000
    challenges = parse_challenge_header(header)
    assert challenges[0].scheme == "bearer"
    assert len(challenges[0].params) == 5000


SCOPES = [
    ("repository:app:pull", Scope("repository", "app", "pull")),
    ("repository:ns/app:pull,push", Scope("repository", "ns/app", "pull,push")),
    ("repository(plugin):x:pull", Scope("repository(plugin)", "x", "pull")),
    ("registry:catalog:*", Scope("registry", "catalog", "*")),
    ("nonsense", None),
    ("repository::pull", None),
    ("repository:app:", None),
]


@pytest.mark.parametrize(("text", "expected"), SCOPES, ids=[s for s, _ in SCOPES])
def test_scope_parsing(text: str, expected: Scope | None) -> None:
    assert Scope.parse(text) == expected
    if expected is not None:
        assert str(expected) == text


def test_credentials_repr_masks_secrets() -> None:
    creds = Credentials("alice", "hunter2-password", "identity-token-value")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "hunter2-password" not in text
        assert "identity-token-value" not in text
        assert "alice" in text
