"""trustcopy's TOML reading of registries.conf against BurntSushi/toml, the decoder containers/image uses.

trustcopy reads registries.conf with Python's ``tomllib`` (through
``trustcopy.sysregistries.load.parse_toml``); containers/image with BurntSushi/toml (1.2.0 in
Debian's containers/image 5.23, the oracle; 1.5.0 in the newest containers/image). hypothesis
assembles TOML texts from the grammar's pieces and near misses (keys bare, quoted, dotted and
repeated; every kind of string with good and bad escapes; integers, floats and datetimes at the
edges of their grammar and range; arrays and inline tables, mixed, nested, with trailing commas
and newlines; table headers defined twice or after dotted keys; comments with control
characters; CRLF and lone CR; byte order marks, invalid UTF-8, NUL bytes) and the registries
oracle's ``{"toml": ...}`` mode decodes each into a generic document: both must accept the same
texts and read the same values (types included).

Known differences, each asserted narrowly (:func:`_known`):

- BurntSushi/toml 1.2.0 bugs fixed by 1.5.0 (the newest containers/image), where trustcopy reads
  as 1.5.0 does: a literal U+FFFD anywhere is refused by 1.2.0; a UTF-8 byte order mark is not
  skipped by 1.2.0; a multi-line basic string whose line-ending backslash is followed by
  spaces or tabs is refused by 1.2.0.
- Refused by trustcopy only, fail closed (``parse_toml``'s docstring): dotted keys of more than
  64 parts, nesting past the recursion limit.
"""

from __future__ import annotations

import base64
import datetime
import math
import re
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import event, example, given
from hypothesis import strategies as st

from trustcopy.errors import ConfigError
from trustcopy.sysregistries import load_registries_conf
from trustcopy.sysregistries.load import parse_toml

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("registries", "containers/image's sysregistriesv2 (and its TOML decoder)")


# -- what each side reads ------------------------------------------------------------------------


def typed(value: Any) -> Any:
    """A ``tomllib`` value in the oracle's tagged form (see tests/goracle/registries/main.go)."""
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": _float_key(value)}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, datetime.datetime):
        return {"t": "offset" if value.tzinfo is not None else "datetime-local"}
    if isinstance(value, datetime.date):
        return {"t": "date-local"}
    if isinstance(value, datetime.time):
        return {"t": "time-local"}
    if isinstance(value, list):
        return {"a": [typed(v) for v in value]}
    assert isinstance(value, dict), type(value)
    return {"m": {k: typed(v) for k, v in value.items()}}


def _float_key(value: float) -> str:
    """A float compared exactly (sign of zero included); every NaN alike."""
    return "nan" if math.isnan(value) else value.hex()


def _normalize_go(value: Any) -> Any:
    """The oracle's answer with floats and datetime kinds in the terms of :func:`typed`."""
    (tag, inner), = value.items()
    if tag == "f":
        return {"f": _float_key(float(inner))}
    if tag == "t":
        return {"t": inner if inner in ("datetime-local", "date-local", "time-local") else "offset"}
    if tag == "a":
        return {"a": [_normalize_go(v) for v in inner]}
    if tag == "m":
        return {"m": {k: _normalize_go(v) for k, v in inner.items()}}
    return value


def ours(data: bytes) -> Any:
    """trustcopy's reading: the tagged document, or the ConfigError."""
    try:
        return typed(parse_toml("registries.conf", data))
    except ConfigError as exc:
        return exc


def theirs(oracle: Oracle, data: bytes) -> Any:
    """BurntSushi/toml's reading: the tagged document, or the error message."""
    answer = oracle.ask({"toml": base64.b64encode(data).decode()})
    return answer["error"] if "error" in answer else _normalize_go(answer["doc"])


# -- generating TOML texts ---------------------------------------------------------------------

BARE_KEYS = ["a", "b", "registry", "Prefix", "x-y", "_z", "1", "A_b-2"]
BAD_BARE_KEYS = ["a b", "\u00e9", "a$", "", "-", "a\u00a0"]
QUOTED_KEYS = ['"a"', "'a'", '"a b"', '""', "''", '"\\u0061"', '"\u00e9"', '"a.b"', "'registry'"]
BAD_QUOTED_KEYS = ['"a', "'a", '"\\q"', '"""a"""', "'''a'''", '"\\uD800"']
SEPARATORS = [".", " . ", "\t.\t"]

STRINGS = ['"x"', '""', "'x'", "''", '"a\\tb"', '"\\u00e9\\U0001F600"', '"\\\\"', '"\\"q\\""', '"\u00e9\ufffd"',
           "'C:\\path'", '"""\nmulti\nline"""', '"""a\\\n    b"""', '"""a\\  \n  b"""', '"""a\\\t\n\tb"""',
           "'''\nraw\\n'''", '"""q""""', "'''q''''", '"\\u0000"', '"\\b\\f\\n\\r\\""', '"""\r\nx"""',
           '"""a""b"""', '"tab\there"']
BAD_STRINGS = ['"x', '"\\q"', '"\\x41"', '"\\e"', '"\\uD800"', '"\\U00110000"', '"a\nb"', '"""q"""""', "'''q'''''",
               '"\x7f"', '"\x01"', "'a\x1fb'", '"\\u00E"', '"""a\\ b"""', '"\\ "']
INTEGERS = ["0", "+0", "-0", "1", "-1", "1_000", "0x7FFFFFFFFFFFFFFF", "0xdead_beef", "0o755", "0b1010",
            "9223372036854775807", "-9223372036854775808", "+99"]
BAD_INTEGERS = ["01", "1__2", "_1", "1_", "0X1F", "0x", "+0x1", "9223372036854775808", "-9223372036854775809",
                "0xFFFFFFFFFFFFFFFF", "0b2", "0o8", "1" * 30, "- 1"]
FLOATS = ["1.0", "-0.0", "+0.0", "1e5", "1E-5", "6.02e+23", "1_000.5", "inf", "+inf", "-inf", "nan", "-nan", "+nan",
          "1e-400", "1.7976931348623157e308", "0.1e-999", "5e-324", "3.141_592"]
BAD_FLOATS = [".5", "5.", "1.e5", "1e", "1e_5", "1_.5", "Inf", "NaN", "1e400", "2.5e308", "-1.8e308", "01.5", "1.5_",
              "0x1p3", "1e1_0"]
DATES = ["1979-05-27T07:32:00Z", "1979-05-27 07:32:00", "1979-05-27T07:32:00.999999-07:00", "1979-05-27",
         "07:32:00", "00:32:00.5", "1979-05-27t07:32:00z", "2000-02-29T00:00:00+14:00", "07:32:00.123456789"]
BAD_DATES = ["1979-05-27T07:32:00.1234567890Z", "1979-02-30", "1979-05-27T07:32:60Z", "1:32:00", "07:32",
             "1979-05-27T07:32Z", "1979-5-27",
             "1979-05-27T24:00:00", "1979-05-27T07:32:00+25:00", "1979-05-27 07:32", "2001-02-29"]
BOOLS = ["true", "false"]
BAD_BOOLS = ["True", "FALSE", "yes", "tru"]
COMMENTS = ["", " # c", "# \u00e9", "#", " #\t", " # a \"quoted\" [x]"]
BAD_COMMENTS = [" # \x7f", " # \x00", " # \x01", " # \x1b[0m"]


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], percent: int) -> st.SearchStrategy[Any]:
    """``good``, and ``bad`` about ``percent`` % of the time (a near miss, not noise everywhere)."""
    return st.integers(0, 99).flatmap(lambda n: bad if n < percent else good)


simple_keys = mostly(st.sampled_from(BARE_KEYS + QUOTED_KEYS), st.sampled_from(BAD_BARE_KEYS + BAD_QUOTED_KEYS), 3)
keys = st.builds(lambda parts, sep: sep.join(parts), st.lists(simple_keys, min_size=1, max_size=3),
                 st.sampled_from(SEPARATORS))
scalars = st.one_of(
    mostly(st.sampled_from(STRINGS), st.sampled_from(BAD_STRINGS), 5),
    mostly(st.sampled_from(INTEGERS), st.sampled_from(BAD_INTEGERS), 10),
    mostly(st.sampled_from(FLOATS), st.sampled_from(BAD_FLOATS), 10),
    mostly(st.sampled_from(DATES), st.sampled_from(BAD_DATES), 10),
    mostly(st.sampled_from(BOOLS), st.sampled_from(BAD_BOOLS), 5),
)
comments = mostly(st.sampled_from(COMMENTS), st.sampled_from(BAD_COMMENTS), 3)


def _array(items: list[str], sep: str, trailing: bool) -> str:
    return "[" + sep.join(items) + ("," if trailing else "") + "]"


def _inline_table(pairs: list[tuple[str, str]], trailing: bool, newline: bool) -> str:
    body = ", ".join(f"{k} = {v}" for k, v in pairs)
    return "{" + ("\n" if newline else " ") + body + ("," if trailing else "") + " }"


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(_array, st.lists(inner, max_size=3), st.sampled_from([", ", ",", ",\n  ", " ,# c\n", ",\r\n"]),
                  mostly(st.just(False), st.just(True), 20)),
        st.builds(_inline_table, st.lists(st.tuples(keys, inner), max_size=3), mostly(st.just(False), st.just(True), 3),
                  mostly(st.just(False), st.just(True), 3)),
    ),
    max_leaves=6,
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One statement: a key/value pair, a table header or an array-of-tables header, with a comment."""
    kind = draw(st.integers(0, 9))
    if kind < 6:
        line = draw(keys) + draw(st.sampled_from([" = ", "=", " =\t", " = "])) + draw(values)
    elif kind < 8:
        line = "[" + draw(st.sampled_from(["", " "])) + draw(keys) + "]"
    else:
        line = "[[" + draw(keys) + draw(st.sampled_from(["]]", "]]", " ]]", "] ]"]))
    indent = draw(mostly(st.just(""), st.sampled_from(["  ", "\t"]), 10))
    return indent + line + draw(comments)


BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"\xef\xbb", b"\xfe"]
BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00", b"\xf4\x90\x80\x80"]


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A TOML text: lines joined by LF, CRLF or (rarely) a lone CR, sometimes with a BOM or bad bytes."""
    statements = draw(st.lists(lines(), max_size=8))
    newline = draw(mostly(st.sampled_from(["\n", "\r\n"]), st.sampled_from(["\r", "\n\r", "\r\r\n"]), 3))
    text = newline.join(statements) + draw(st.sampled_from(["", newline, newline + newline]))
    data = text.encode()
    if draw(st.integers(0, 99)) < 8:
        data = draw(st.sampled_from(BOMS)) + data
    if data and draw(st.integers(0, 99)) < 4:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
    return data


# -- comparing ------------------------------------------------------------------------------------

#: tomllib's messages for a key defined twice or a table extended after being closed: refused
#: where BurntSushi/toml reads the text when one definition is an array or an inline table
#: (parse_toml's docstring, NOTE(go-diff)).
_REDEFINITIONS = ("Cannot overwrite a value", "Cannot mutate immutable namespace", "Cannot declare",
                  "Duplicate inline table key")


def _known(data: bytes, mine: Any, go: Any) -> str | None:
    """Why trustcopy's reading of ``data`` may differ from BurntSushi/toml 1.2.0's, or None."""
    go_refused, we_refused = isinstance(go, str), isinstance(mine, ConfigError)
    if go_refused and not we_refused:
        # 1.2.0 bugs fixed by 1.5.0 (what the newest containers/image reads with).
        if "invalid UTF-8 byte: 0xef" in go and "\ufffd".encode() in data:
            return "1.2.0 refuses a literal U+FFFD"
        if "got '\\ufeff'" in go and data.startswith(b"\xef\xbb\xbf"):
            return "1.2.0 keeps a UTF-8 byte order mark"
        return None
    if we_refused and not go_refused:
        if any(m in mine.message for m in _REDEFINITIONS):
            return "a redefinition BurntSushi/toml reads (fail closed)"
        if re.search(rb"\d[+-](2[4-9]|[3-9]\d):\d\d", data):
            return "a time zone offset of 24 hours or more (Go 1.19 reads it)"
        if re.search(rb"(^|[^\d:])\d:\d\d:\d\d", data):
            return "1.2.0 reads a one-digit hour"
        return None
    if not we_refused and not go_refused:
        if _without_empty_key_arrays(mine, go) == go:
            return "BurntSushi/toml drops an array under the empty key beside a dotted key"
        if _dotted_inline_in_array(data):
            return "1.2.0 loses dotted keys of an inline table inside an array"
    return None


def _without_empty_key_arrays(mine: Any, go: Any) -> Any:
    """``mine`` without the arrays under an empty key that ``go`` lacks (a BurntSushi/toml bug, 1.2 and 1.5:
    ``x."" = [1]`` then ``x.a.c = 2`` loses ``x.""``; no key containers/image reads is empty)."""
    if not (isinstance(mine, dict) and isinstance(go, dict)) or set(mine) != set(go):
        return mine
    if "m" in mine:
        inner = {k: _without_empty_key_arrays(v, go["m"].get(k)) for k, v in mine["m"].items()
                 if not (k == "" and "a" in v and "" not in go["m"])}
        return {"m": inner}
    if "a" in mine and len(mine["a"]) == len(go["a"]):
        return {"a": [_without_empty_key_arrays(m, g) for m, g in zip(mine["a"], go["a"], strict=True)]}
    return mine


def _dotted_inline_in_array(data: bytes) -> bool:
    """Whether ``data`` has an inline table with a dotted key inside an array (BurntSushi/toml 1.2.0 bug,
    fixed in 1.4: "Fix inline tables with dotted keys inside inline arrays")."""
    return re.search(rb"=\s*\[[\s\S]*\{[^}]*?[\w\"']\s*\.\s*[\w\"'][^}]*=", data) is not None


def compare(oracle: Oracle, data: bytes) -> None:
    """Both decoders must agree on ``data``: both refuse, or both read the same document."""
    mine, go = ours(data), theirs(oracle, data)
    if isinstance(mine, ConfigError) and isinstance(go, str):
        event("both refuse")
        return
    if mine == go:
        event("both read it alike")
        return
    reason = _known(data, mine, go)
    assert reason is not None, f"{data!r}\n  trustcopy: {mine}\n  BurntSushi/toml 1.2.0: {go}"
    event(f"known: {reason}")


@given(documents())
# A literal U+FFFD, a UTF-8 byte order mark (1.2.0 bugs; read as 1.5.0 reads them) and a UTF-16 one.
@example('a = "\ufffd"\n'.encode())
@example(b"\xef\xbb\xbfa = 1\n")
@example(b"\xff\xfea = 1\n")
# Fixed: out of Go's ranges, read by tomllib: integers beyond int64, floats beyond a double, times
# with more than nine fractional digits.
@example(b"a = 9223372036854775808\n")
@example(b"a = -0x8000000000000001\n")
@example(b"a = 0xFFFFFFFFFFFFFFFF\n")
@example(b"a = 1e400\n")
@example(b"a = [-1.8e308]\n")
@example(b"a = 1979-05-27T07:32:00.1234567890Z\n")
@example(b"a = {b = 07:32:00.1234567891}\n")
# Known: redefinitions BurntSushi/toml reads (fail closed).
@example(b"a = \"x\"\na = []\n")
@example(b"a = [1]\n[a]\n")
@example(b"a = {}\na.b = 1\n")
@example(b"r = {a = \"x\", a = []}\n")
@example(b"a = {b = 1}\n[a.c]\n")
# Known: 1.2.0 reads a one-digit hour (1.5.0 refuses it, as we do), and an offset of 24 hours
# (Go 1.19's time package; we refuse, fail closed).
@example(b"a = 1:32:00\n")
@example(b"a = 1979-05-27T07:32:00+24:00\n")
# Known: 1.2.0 reads [{b.c = 1}] as [{c = 1}] (fixed in 1.4).
@example(b'mirror = [{x.location = "evil.example.com"}]\n')
@example(b'a = [["x",], { a.a = "x" },]')
# Known: an array under the empty key beside a dotted key (a BurntSushi/toml bug).
@example(b'x."" = [1]\nx.a.c = 2\n')
# Both read alike: CRLF, dotted keys, mixed arrays, -nan, \u0000.
@example(b'a.b = [1, "two", 3.5, {c = true}]\r\n[d]\r\ne = "\\u0000"\r\nf = -nan\r\n')
def test_toml_reading_agrees_with_burntsushi_toml(oracle: Oracle, data: bytes) -> None:
    compare(oracle, data)


def test_a_utf8_byte_order_mark_is_skipped_as_the_newest_containers_image_skips_it(
        oracle: Oracle, tmp_path: Path) -> None:
    # Fixed: refused as "not TOML". BurntSushi/toml 1.3 and later (the newest containers/image
    # has 1.5) skip it; 1.2.0 (containers/image 5.23, the oracle) does not.
    text = b'\xef\xbb\xbf[[registry]]\nlocation = "example.com"\nblocked = true\n'
    (tmp_path / "registries.conf").write_bytes(text)
    conf = load_registries_conf(str(tmp_path / "registries.conf"), env={}, home=str(tmp_path / "home"),
                                system_dir=str(tmp_path / "none"), report_warnings=False)
    assert [(r.location, r.blocked) for r in conf.registries] == [("example.com", True)]
    assert "\\ufeff" in theirs(oracle, text)  # 5.23 stops at it
    assert theirs(oracle, text[3:]) == ours(text)


def test_out_of_range_numbers_refuse_the_file_naming_it(tmp_path: Path) -> None:
    # Fixed: tomllib reads any integer and makes 1e400 infinite; containers/image refuses the
    # file, even when the number is under a key nobody reads.
    for value in ("9223372036854775808", "1e400", "1979-05-27T07:32:00.1234567890Z"):
        path = tmp_path / "registries.conf"
        path.write_text(f'unknown-key = {value}\n[[registry]]\nlocation = "example.com"\n')
        with pytest.raises(ConfigError) as caught:
            load_registries_conf(str(path), env={}, home=str(tmp_path / "home"), system_dir=str(tmp_path / "none"),
                                 report_warnings=False)
        assert str(path) in caught.value.message and caught.value.code == "registries-conf-invalid"
