"""Review of trustcopy/manifest/schema1sign.py against docker/libtrust (tests/goracle/schema1sign's
``Sign`` = containers/image's ``AddDummyV2S1Signature``, ``Verify`` = libtrust's ``ParsePrettySignature``
+ ``Verify``), on payload layouts the first tests did not draw: whitespace of every JSON kind between
any tokens, an indent that holds a newline, escapes and raw non-ASCII, inputs Go's json.Unmarshal
and Python's json module judge differently, and signatures / key coordinates with leading zero bytes.

Found and fixed here:
- an indent holding a newline (``{\\n  \\n  "a": 1}``) gave a signature block laid out unlike
  ``json.MarshalIndent`` (the replace that added the prefix also hit the indent's own newline);
- what the payload is was decided by Python's json: ``NaN``, ``1e400`` and a UTF-8 BOM were signed
  (Go refuses them), invalid UTF-8 inside a string was refused (Go signs it).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.manifest._jwk import jose_b64decode
from trustcopy.manifest.digest import jws_payload
from trustcopy.manifest.schema1sign import add_dummy_signature

oracle = oracle_fixture("schema1sign", "containers/image's AddDummyV2S1Signature and docker/libtrust (Verify)")

pytestmark = pytest.mark.goracle


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _skeleton(raw: bytes) -> bytes:
    """``raw`` with what a fresh key and another second change (x, y, kid, signature, the
    protected header's time) replaced by placeholders; works on output that is not JSON."""
    out = re.sub(rb'("(?:x|y|kid|signature)": ?")[^"]*"', rb'\1Z"', raw)

    def protected(match: re.Match[bytes]) -> bytes:
        header = json.loads(jose_b64decode(match.group(2).decode()))
        header["time"] = "T"
        return match.group(1) + json.dumps(header).encode() + b'"'

    return re.sub(rb'("protected": ?")([^"]*)"', protected, out)


def _ours(payload: bytes) -> bytes | None:
    try:
        return add_dummy_signature(payload)
    except ValueError:
        return None


def _compare(oracle: Oracle, payload: bytes) -> bytes | None:
    """Our signature of ``payload`` and Go's: both refused, or the same but for key, signature, time."""
    ours = _ours(payload)
    theirs = oracle.ask({"op": "Sign", "manifest": _b64(payload)})
    assert (ours is None) == (theirs.get("error") is not None), (payload, theirs)
    if ours is not None:
        assert _skeleton(ours) == _skeleton(base64.b64decode(theirs["output"]))
    return ours


# -- layouts ----------------------------------------------------------------------------------

SPACE = st.sampled_from(["", " ", "\n", "\t", "\r\n", "\r", "  \n  ", "\n\n"])
STRINGS = st.sampled_from(['"a"', '"\\u003c\\u003e\\u0026"', '"é😀"', '"\\u2028"', '"\\n\\t"', '"}"',
                           '"\\"}"', '"\\ud83d\\ude00"', '""', '"a,"'])
SCALARS = st.one_of(STRINGS, st.sampled_from(["0", "-1.5e3", "1E2", "true", "false", "null", "123456789012345"]))


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["scalar", "scalar", "array", "object"] if depth < 2 else ["scalar"]))
    if kind == "scalar":
        return draw(SCALARS)
    if kind == "array":
        items = draw(st.lists(values(depth + 1), max_size=3))
        return "[" + draw(SPACE) + ("," + draw(SPACE)).join(items) + draw(SPACE) + "]"
    return objects_text(draw, depth + 1)


def objects_text(draw: st.DrawFn, depth: int) -> str:
    members = [draw(SPACE) + draw(STRINGS) + draw(SPACE) + ":" + draw(SPACE) + draw(values(depth)) + draw(SPACE)
               for _ in range(draw(st.integers(0 if depth else 1, 3)))]
    return "{" + ",".join(members) + "}"


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """A JSON object laid out anyhow; sometimes "indented" (``{`` and a newline, then an indent)."""
    body = objects_text(draw, 0)
    if draw(st.booleans()):
        body = "{\n" + draw(st.sampled_from(["   ", "\t", "  \n  ", "\r\n", " \t"])) + body[1:].lstrip(" \t\r\n")
    return (draw(st.sampled_from(["", " ", "\n"])) + body + draw(SPACE)).encode()


@given(payloads())
@example(b'{\n  \n  "a": 1\n}')
@example(b'{\n\r\n"a":1}')
@example(b'{\n\n"a": {"b": [1, {"c": 2}]}\n}\n')
@example(b'{"a":1 \r\n\t }\r\n')
@example(b'{\n\t"a": "\\u003c\xc3\xa9"\n}')
@example(b' {"a":"}"}\n\n')
def test_any_layout_signed_as_libtrust_signs_it(oracle: Oracle, payload: bytes) -> None:
    ours = _compare(oracle, payload)
    assert ours is not None
    assert jws_payload(ours) == payload


def test_an_indent_holding_a_newline_is_the_prefix_of_every_line() -> None:
    """json.MarshalIndent(blocks, I, I): each new line is I, then I once per level (I = "  \\n  ")."""
    ours = add_dummy_signature(b'{\n  \n  "a": 1\n}')
    indent = b"  \n  "
    assert ours.startswith(b'{\n  \n  "a": 1,\n' + indent + b'"signatures": [\n' + indent * 2 + b"{\n"
                           + indent * 3 + b'"header": {\n' + indent * 4 + b'"jwk": {\n' + indent * 5 + b'"crv": ')
    assert ours.endswith(b"\n" + indent * 2 + b"}\n" + indent + b"]\n}")
    assert json.loads(ours)["a"] == 1


# -- what counts as a JSON object: Go's json.Unmarshal into a map ---------------------------------

@pytest.mark.parametrize(("payload", "signed"), [
    (b'{"a":NaN}', False), (b'{"a":1e400}', False), (b'{"a":[-1e999]}', False), (b'\xef\xbb\xbf{"a":1}', False),
    (b'{"a":"\xff"}', True), (b'{"a":"\\ud800"}', True), (b'{"a":1e-400}', True), (b'{"a":1,"a":2}', True),
    (b'{"a":[1,2,]}', False), (b'{"a":1}\x00', False), (b"null", False), (b'{"a":1,}', False),
])
def test_payloads_refused_exactly_where_go_refuses_them(oracle: Oracle, payload: bytes, signed: bool) -> None:
    ours = _compare(oracle, payload)
    assert (ours is not None) == signed
    if ours is not None:
        assert jws_payload(ours) == payload


def test_a_refusal_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^schema1 signing: the payload is not a JSON object: .*NaN"):
        add_dummy_signature(b'{"a":NaN}')


# -- fixed-width numbers: r || s and the JWK coordinates, each 32 bytes --------------------------

def test_leading_zero_bytes_are_kept_and_libtrust_verifies(oracle: Oracle) -> None:
    """An r, s, x or y below 2**248 (about 1 in 256 each) is still written as 32 bytes; libtrust
    refuses a signature or a coordinate of any other length. Signs until each case was seen."""
    payload = b'{"schemaVersion":1,"name":"a/b","tag":"1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:' \
        + b"0" * 64 + b'"}],"history":[{"v1Compatibility":"{\\"id\\":\\"' + b"a" * 64 + b'\\"}"}]}'
    seen: dict[str, bytes] = {}
    for _ in range(6000):
        out = add_dummy_signature(payload)
        block: dict[str, Any] = json.loads(out)["signatures"][0]
        sig = jose_b64decode(block["signature"])
        parts = {"r": sig[:32], "s": sig[32:], "x": jose_b64decode(block["header"]["jwk"]["x"]),
                 "y": jose_b64decode(block["header"]["jwk"]["y"])}
        assert {len(v) for v in parts.values()} == {32}
        for name, value in parts.items():
            if value[0] == 0 and name not in seen:
                seen[name] = out
        if len(seen) == 4:
            break
    assert sorted(seen) == ["r", "s", "x", "y"]
    for out in seen.values():
        checked = oracle.ask({"op": "Verify", "manifest": _b64(out)})
        assert checked.get("error") is None, checked
        assert base64.b64decode(checked["payload"]) == payload
        assert checked["key_ids"] == [json.loads(out)["signatures"][0]["header"]["jwk"]["kid"]]
