"""Review of the registry client's secret masking: pre-signed URL query values (redact.py
register_url_secrets) and the registry text quoted in errors (errors.py clean_text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trustcopy import redact
from trustcopy.transports.docker.errors import MAX_QUOTED, clean_text


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    redact.forget_secrets()
    yield
    redact.forget_secrets()


@pytest.mark.parametrize("query", ["sig=AbCdEf%2fGh%3d%3d", "sig=AbCdEf%2FGh==", "Sig=AbCdEf/Gh%3d%3D",
                                   "X-Amz-Signature=AbCdEf%2fGh%3D%3d"])
def test_a_signature_echoed_as_the_url_spells_it_is_masked(query: str) -> None:
    """Any spelling of the value the URL itself used is masked, not only the decoded value and its
    upper-case, all-escaping re-encoding."""
    url = f"https://store.example/blob?X-Expires=300&{query}"
    redact.register_url_secrets(url)
    assert "AbCdEf" not in redact.scrub(f"refused {url}")
    assert "AbCdEf" not in redact.scrub("refused AbCdEf/Gh==")


def test_short_and_non_secret_query_values_are_not_registered() -> None:
    """``?sig=1`` must not mask every "1" of later messages (MIN_SCRUBBED_SECRET), and values of
    keys that are not secrets (an expiry, a digest) are never masked."""
    redact.register_url_secrets("https://store.example/blob?sig=1&Expires=1700000000&digest=sha256%3Aabcdef012345")
    assert redact.known_secrets() == ()
    assert redact.scrub("layer 1 of 1, expires 1700000000, sha256:abcdef012345") == \
        "layer 1 of 1, expires 1700000000, sha256:abcdef012345"


def test_registered_secrets_are_masked_before_the_quote_is_cut() -> None:
    """A registered secret that the MAX_QUOTED cut would end inside is masked whole first."""
    secret = "T0kenHead" + "x" * 100
    redact.register_url_secrets(f"https://store.example/blob?X-Amz-Security-Token={secret}")
    text = clean_text("a" * (MAX_QUOTED - 20) + " " + secret)
    assert "T0ken" not in text and redact.MASK in text
    assert "T0ken" not in redact.scrub(text)


def test_a_secret_inside_a_longer_one_leaves_nothing_of_the_longer() -> None:
    """Longest first: the caller's short secret inside a registered longer one does not split it."""
    redact.register_url_secrets("https://store.example/blob?sig=prefix-PASSWORD-suffix")
    assert clean_text("echo prefix-PASSWORD-suffix", ("PASSWORD",)) == f"echo {redact.MASK}"
