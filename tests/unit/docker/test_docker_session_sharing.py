"""What the clients of one session share: one token request per identical request, one ping per registry.

A token is shared only between requests that the token server would answer alike:
same registry origin, realm, service, credentials and scopes (auth.AuthSession builds
the key). The real-registry side (a sync's images sharing tokens) is in
tests/integration/test_sync_registry.py.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from trustcopy.transports.docker.auth import AuthSession, Credentials
from trustcopy.transports.docker.challenge import Challenge, Scope
from trustcopy.transports.docker.session import RegistrySession, TokenCache

ORIGIN = ("https", "reg.example.com", None)
BEARER = Challenge("bearer", {"realm": "https://auth.example.com/token", "service": "reg"})


def test_one_fetch_per_key_under_concurrency() -> None:
    cache = TokenCache()
    calls: list[int] = []
    gate = threading.Event()

    def fetch() -> tuple[str, float]:
        calls.append(1)
        gate.wait(2)
        return "tok", time.monotonic() + 60

    threads = [threading.Thread(target=lambda: cache.get(("k",), fetch)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert cache.get(("k",), fetch) == "tok" and len(calls) == 1


def test_expired_and_invalidated_tokens_are_fetched_again() -> None:
    cache = TokenCache()
    n = iter(range(100))

    def expired() -> tuple[str, float]:
        return f"t{next(n)}", time.monotonic() - 1

    assert cache.get(("k",), expired) == "t0"
    assert cache.get(("k",), expired) == "t1"
    fresh = lambda: ("f", time.monotonic() + 60)  # noqa: E731
    assert cache.get(("j",), fresh) == "f"
    cache.invalidate(("j",))
    assert cache.get(("j",), lambda: ("g", time.monotonic() + 60)) == "g"
    assert set(cache.values()) >= {"g"}


def test_cache_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(TokenCache, "MAX_TOKENS", 3)
    cache = TokenCache()
    for i in range(10):
        cache.get((i,), lambda i=i: (f"t{i}", time.monotonic() + 60))
    assert len(cache.values()) == 3


def _answer(request: httpx.Request, token: str) -> httpx.Response:
    """A token server's answer, streamed as httpx hands real ones over."""
    body = json.dumps({"token": token, "expires_in": 300}).encode()
    return httpx.Response(200, stream=httpx.ByteStream(body), request=request)


def _auth(creds: Credentials, cache: TokenCache, issued: list[str]) -> AuthSession:
    def send(request: httpx.Request) -> httpx.Response:
        issued.append(str(request.url))
        return _answer(request, f"token-{len(issued)}")

    auth = AuthSession(creds, None, send, tokens=cache)
    auth.set_challenges(ORIGIN, [BEARER])
    return auth


def test_clients_of_one_session_share_tokens_only_for_identical_requests() -> None:
    session = RegistrySession()
    issued: list[str] = []
    alice = Credentials("alice", "pw")
    pull = (Scope.parse("repository:app:pull"),)
    a1, a2 = _auth(alice, session.tokens, issued), _auth(alice, session.tokens, issued)
    assert a1.authorization(pull) == a2.authorization(pull) == "Bearer token-1"
    assert len(issued) == 1
    # Other credentials, other scopes, another origin: their own tokens.
    bob = _auth(Credentials("bob", "pw"), session.tokens, issued)
    assert bob.authorization(pull) == "Bearer token-2"
    assert a1.authorization((Scope.parse("repository:app:pull,push"),)) == "Bearer token-3"
    other = _auth(alice, session.tokens, issued)
    other.set_challenges(("https", "other.example.com", None), [BEARER])
    assert other.authorization(pull) == "Bearer token-4"
    # A refused token is dropped for everyone sharing it.
    a2.invalidate(pull)
    assert a1.authorization(pull) == "Bearer token-5"
    # Every shared token is masked by every client of the cache.
    assert "token-4" in a1.secrets()


def test_without_a_cache_each_auth_session_keeps_its_own() -> None:
    issued: list[str] = []

    def send(request: httpx.Request) -> httpx.Response:
        issued.append("x")
        return _answer(request, "t")

    pull = (Scope.parse("repository:app:pull"),)
    for _ in range(2):
        auth = AuthSession(Credentials(), None, send)
        auth.set_challenges(ORIGIN, [BEARER])
        auth.authorization(pull)
    assert len(issued) == 2


def test_concurrent_clients_share_one_ping_and_its_failure() -> None:
    from trustcopy.errors import NetworkError

    session = RegistrySession()
    calls: list[int] = []
    started = threading.Event()

    def failing() -> object:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        raise NetworkError("pinging container registry reg.example.com: connection refused")

    errors: list[BaseException] = []

    def client() -> None:
        try:
            session.shared_ping(("reg",), failing)
        except NetworkError as exc:
            errors.append(exc)

    first = threading.Thread(target=client)
    first.start()
    started.wait(2)
    waiters = [threading.Thread(target=client) for _ in range(5)]
    for t in waiters:
        t.start()
    for t in [first, *waiters]:
        t.join()
    assert len(calls) == 1 and len(errors) == 6
    assert len({id(e) for e in errors}) == 6  # each waiter raises its own copy
    # The failure is not remembered: the next client pings again, and a success is kept.
    assert session.shared_ping(("reg",), lambda: "pong") == "pong"
    assert session.shared_ping(("reg",), lambda: "never called") == "pong"
    assert session.ping(("reg",)) == "pong"


def test_an_interrupted_ping_lets_a_waiter_try_itself() -> None:
    session = RegistrySession()
    started = threading.Event()
    results: list[object] = []

    def interrupted() -> object:
        started.set()
        time.sleep(0.2)
        raise KeyboardInterrupt

    def leader() -> None:
        try:
            session.shared_ping(("reg",), interrupted)
        except KeyboardInterrupt:
            results.append("interrupted")

    t = threading.Thread(target=leader)
    t.start()
    started.wait(2)
    results.append(session.shared_ping(("reg",), lambda: "pong"))
    t.join()
    assert sorted(map(str, results)) == ["interrupted", "pong"]
