"""Credential handling found wanting by an auth review (session 29).

- A ``--registry-token`` holding a line break (``"$(cat token-file)"``) went into the
  Authorization header; h11 refused it and its error quoted the header value, so the part
  after the break was printed (four times under ``--debug``). Refused at the command line now,
  and h11's header errors are never quoted.
- A password shorter than redact.MIN_SCRUBBED_SECRET was masked inside every word of a
  registry's message ("nope" with password "o" became "n***pe"), which shows the password.
- A token realm carrying its own ``user:pass@`` replaced the user's credentials in the token
  request (httpx builds Basic auth from a URL's userinfo over an explicit header; Go does not).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trustcopy.transports.docker.credentials import Credentials
from trustcopy.transports.docker.errors import network_error


@pytest.mark.parametrize("token", ["first\nsecond-half-SECRET", "tok\ren", "tok\x00en", " padded", "tab\there"])
@pytest.mark.parametrize("flag", [("inspect", "--registry-token"), ("copy", "--src-registry-token")])
def test_a_registry_token_with_control_characters_is_refused(run_cli: Callable[..., Any], token: str,
                                                            flag: tuple[str, str], tmp_path: Any) -> None:
    command, option = flag
    args = [command, option, token, "docker://127.0.0.1:9/ns/app:1"]
    if command == "copy":
        args = ["--insecure-policy", *args, f"dir:{tmp_path / 'out'}"]
    r = run_cli(*args)
    assert r.exit_code == 2
    assert f"error[usage]: {option} holds a line break, a control character or surrounding spaces" in r.stderr
    assert "SECRET" not in r.stdout + r.stderr and "second-half" not in r.stderr


def test_h11s_illegal_header_errors_are_never_quoted() -> None:
    exc = httpx.LocalProtocolError("Illegal header value b'Bearer abc\\nsecond-half-SECRET'")
    err = network_error(exc, "reading manifest 1")
    assert "SECRET" not in err.message and "refused" in err.message


@pytest.mark.parametrize(("password", "said", "shown"), [
    ("o", "manifest unknown: nope", "manifest unknown: nope"),  # not "n***pe"
    ("o", "bad password o!", "bad password ***!"),  # echoed whole: still masked
    ("p", "bad password p", "bad password ***"),
    ("pw3", "pw3pw3 and pw3.", "pw3pw3 and ***."),
])
def test_a_short_password_is_masked_only_as_a_word_of_its_own(password: str, said: str, shown: str) -> None:
    from trustcopy.transports.docker.errors import clean_text

    creds = Credentials(username="alice", password=password)
    assert clean_text(said, creds.secrets()) == shown


def test_a_realms_userinfo_does_not_replace_the_users_credentials() -> None:
    """The token request carries the user's Basic credential, not the realm URL's ``user:pass@``."""
    from trustcopy.transports.docker.challenge import Challenge

    sent: list[httpx.Request] = []

    def fetch(request: httpx.Request, limit: int, what: str) -> tuple[httpx.Response, bytes]:
        sent.append(request)
        return httpx.Response(200, request=request), b'{"token": "t0k3n-value"}'

    challenge = Challenge("bearer", {"realm": "https://tu:tp@auth.example.com/token", "service": "reg"})
    auth = _auth_session(Credentials(username="alice", password="S3cretPassw0rd"), fetch)
    auth._fetch_token(challenge, ())
    (request,) = sent
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:S3cretPassw0rd").decode()
    assert request.url.userinfo == b""  # nothing for httpx to build a BasicAuth from, over our header
    assert request.url.host == "auth.example.com" and request.url.params["account"] == "alice"


def _auth_session(creds: Credentials, fetch: Callable[..., Any]) -> Any:
    from trustcopy.transports.docker.auth import AuthSession

    return AuthSession(creds, None, lambda request: httpx.Response(500), fetch=fetch)
