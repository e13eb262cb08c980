"""Credential masking, session 26: the units behind tests/integration/test_leaks_s26.py.

- a URL's ``user:password@`` is registered as the URL spells it too (a lower-case ``%2f``);
- an auth file key is shown as a URL is (``?token=***``, ``***@``);
- secrets of 1..5 characters: what :func:`trustcopy.redact.scrub` does with them, and why.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from trustcopy import redact


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    redact.forget_secrets()
    yield
    redact.forget_secrets()


def test_url_password_is_masked_as_the_url_spells_it() -> None:
    """input: a redirect to ``http://u:Ab%2fcdefgh@store/x`` whose store echoes the URL's own text.
    old: only ``Ab/cdefgh`` and our upper-case ``Ab%2Fcdefgh`` were registered; the echo kept the password.
    new: the spelled form is registered too."""
    redact.register_url_secrets("http://u:Ab%2fcdefgh@store.example/x")
    assert redact.scrub("store said: no such user u:Ab%2fcdefgh") == "store said: no such user u:***"
    assert redact.scrub("decoded Ab/cdefgh, re-encoded Ab%2Fcdefgh") == "decoded ***, re-encoded ***"


def test_url_without_password_registers_nothing() -> None:
    redact.register_url_secrets("http://user-only@store.example/x")
    redact.register_url_secrets("http://store.example/x?digest=sha256:0")
    assert redact.known_secrets() == ()


@pytest.mark.parametrize(("key", "shown"), [
    ("http://h.example:5000/v2/?token=abcdefgh", "http://h.example:5000/v2/?token=***"),
    ("https://u:abcdefgh@h.example/v1/", "https://***@h.example/v1/"),
    ("h.example/ns?token=abcdefgh", "h.example/ns?token=***"),
    ("u:abcdefgh@h.example", "***@h.example"),
    ("h.example:5000", "h.example:5000"),
    ("h.example/ns/repo", "h.example/ns/repo"),
])
def test_auth_file_key_shown_without_its_secrets(key: str, shown: str) -> None:
    from trustcopy.transports.docker.authfile import _shown_key

    assert _shown_key(key) == shown


# -- short secrets ---------------------------------------------------------------------------------
#
# Decision (session 26): a password, token or passphrase shorter than MIN_SCRUBBED_SECRET (6) is
# *not* masked in free text by scrub (the CLI's error line, --debug log, tracebacks, reports).
# Replacing every "a" or "12" of every message would garble digests, paths and references, and
# the masked positions would spell the secret out anyway ("app:***" after --creds u:1). What is
# still masked whatever the length: the ``Basic`` credential (base64 of user:password, always
# 4+ characters longer than the password), and, in text a registry or token server sent back
# (errors.clean_text with the session's secrets), the password itself: only that untrusted text
# is changed. A secret of 1..5 characters is not one a mask could protect.


@pytest.mark.parametrize("password", ["p", "pw", "pw3", "pw3!", "pw3!x"])
def test_short_password_is_not_masked_in_free_text_but_its_basic_form_is(password: str) -> None:
    redact.register_basic("leaker", password)
    basic = base64.b64encode(f"leaker:{password}".encode()).decode()
    assert redact.scrub(f"echo {password} end") == f"echo {password} end"
    assert redact.scrub(f"Authorization: {basic}") == "Authorization: ***"
    assert redact.scrub(f"Authorization: {basic.rstrip('=')}") == "Authorization: ***"


@pytest.mark.parametrize("password", ["p", "pw3", "pw3!x"])
def test_short_password_is_masked_in_what_the_server_sent(password: str) -> None:
    from trustcopy.transports.docker.auth import Credentials
    from trustcopy.transports.docker.errors import clean_text

    creds = Credentials(username="leaker", password=password)
    shown = clean_text(f"registry: bad password {password}!", creds.secrets())
    # Masked where the server echoed it; not inside other words (session 29: "o" turned every
    # "nope" into "n***pe", which showed where the password's letters are).
    assert shown == "registry: bad password ***!"


def test_six_characters_are_masked_everywhere() -> None:
    redact.register_basic("leaker", "pw3!x6")
    assert redact.scrub("echo pw3!x6 end") == "echo *** end"
