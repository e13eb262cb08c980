"""redact.mask_userinfo: the same matches as its defining regular expression, in linear time.

Session 29 widened the password of ``user:password@`` to hold "/" and "@" (up to the last
"@" a host name follows). As one regular expression that backtracked for minutes on a
100 KB word of "/a:b@-"; the scanner must find exactly what the expression finds (kept here
as the oracle, run on short texts) and stay fast on any text.
"""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from trustcopy import redact
from trustcopy.redact import MASK, mask_userinfo

ORACLE = (
    r"(?<![^\s\"'/=(])[^\s\"'/@:=\[\]]+:"
    r"(?:(?!//)[^\s\"']*@(?=" + redact._HOST + r")|[^\s\"'/@]*@)"
    r"(?![A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32})"
    r"(?!-?[0-9]*(?:$|[\s\"']|:(?:$|\s)))"
)


def _in_local_reference(text: str, at: int) -> bool:
    start = at
    while start > 0 and not (text[start - 1].isspace() or text[start - 1] in redact._WORD_STARTS):
        start -= 1
    return text.startswith(redact._LOCAL_PREFIXES, start) and "://" not in text[start:at]


def oracle_spans(text: str) -> list[tuple[int, int]]:
    """The expression, searched left to right, a local word's match skipped (as mask_userinfo did)."""
    pattern = re.compile(ORACLE)
    spans, search_from = [], 0
    while (match := pattern.search(text, search_from)) is not None:
        if _in_local_reference(text, match.start()):
            search_from = match.start() + 1
            continue
        spans.append((match.start(), match.end()))
        search_from = match.end()
    return spans


ALPHABET = "ab:/@.-=( \"'0s1h2[]"
PIECES = ["oci:", "dir:", "https://", "docker://", "u:p@", "host.io/", "@sha256:" + "a" * 32, ":@0", "//", "@-",
          "/a:b@", "p@ss", "x/y", "[::1]:5000/", "\u00a0", "\t"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=ALPHABET, min_size=1, max_size=4), st.sampled_from(PIECES)), max_size=14))
def test_the_scanner_finds_what_the_expression_finds(parts: list[str]) -> None:
    text = "".join(parts)
    assert redact._userinfo_spans(text) == oracle_spans(text), text


def test_known_texts() -> None:
    for text in ["docker://bob:ab//cd@host/x:1", "bob:p@ss/w0rd@registry.example.com/a:1",
                 "oci:https://alice:hunter2/x@reg/x", "oci:/srv/l:v1@beta", "https://h:443/p/x@y",
                 "http://127.0.0.1:5000/ns/app@sha256=" + "e" * 64 + "/signature-1", "app:1@sha256:abc",
                 "docker-archive:a.tar:@3: invalid source index", 'see "u:p@h" and (x:y@z/q)']:
        assert redact._userinfo_spans(text) == oracle_spans(text), text
    assert mask_userinfo("docker://bob:p@ss@host/x") == f"docker://{MASK}@host/x"


def test_linear_on_hostile_words() -> None:
    for word in ("/a:b@-", "a:b@", "/x:" + "@" * 3, "oci:/a:b@c/", "u:p/"):
        text = word * 20_000
        start = time.process_time()
        mask_userinfo(text)
        # A hang guard, not a speed target: the expression took minutes on the first word.
        assert time.process_time() - start < 10.0, word
