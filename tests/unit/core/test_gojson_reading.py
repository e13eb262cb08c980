"""trustcopy.gojson's reading rules: what every reader of a file containers/image unmarshals relies on.

The manifest, signature, auth-file and token readers all decode through these, so a
difference from Go here would be one in each of them at once.
"""

from __future__ import annotations

import pytest

from trustcopy.gojson import GoObject, TooDeepError, field, fold, go_string, loads


@pytest.mark.parametrize(("key", "folded"), [
    ("mediaType", "mediatype"), ("MEDIATYPE", "mediatype"),
    ("\u212aey", "key"),  # Kelvin sign
    ("\u017fize", "size"),  # long s
    ("\u0130d", "id"), ("\u0131d", "id"),  # dotted and dotless I: Go 1.21+ folds them to I (1.19 did not)
    ("é", "é"), ("É", "É"),  # other non-ASCII letters never reach an ASCII field name
])
def test_fold_is_gos_field_name_folding(key: str, folded: str) -> None:
    assert fold(key) == folded


def test_field_is_the_last_key_naming_it() -> None:
    obj = loads(b'{"Digest": "a", "other": 1, "DIGEST": "b"}')
    assert isinstance(obj, GoObject)
    assert field(obj, "digest") == (True, "b")
    assert field(obj, "size") == (False, None)


def test_strings_decode_as_go_decodes_them() -> None:
    # One U+FFFD per invalid byte (Go's utf8.DecodeRune loop), and for each lone surrogate escape.
    assert loads(b'["a\xe2\x82b", "\\ud800x"]') == ["a\ufffd\ufffdb", "\ufffdx"]
    assert go_string("ok\udc80") == "ok\ufffd"


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf{}", "{}".encode("utf-16"), b"[NaN]", b"[Infinity]", b"{} x"])
def test_what_go_does_not_take_for_json_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads(data)


def test_nesting_past_the_limit_is_its_own_error() -> None:
    with pytest.raises(TooDeepError):
        loads(b"[" * 100_000 + b"]" * 100_000)
