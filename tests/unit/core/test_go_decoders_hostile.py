"""Hostile input for the Go-style decoders: work must stay bounded at the size caps.

Each test here failed before its fix (structurally: a copy where Go decodes in place, or
an answer that never came), and none relies on a tight wall-clock bound.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy import limits
from trustcopy.errors import ManifestError
from trustcopy.manifest import _gojson
from trustcopy.manifest.parse import parse_manifest
from trustcopy.manifest.schema1convert import _atoi
from trustcopy.manifest.schema1convert import docker_version_less as _docker_version_less
from trustcopy.transports.oci_index import parse_index

_OCI = "application/vnd.oci.image.manifest.v1+json"
_DIGEST = "sha256:" + "a" * 64
_CONFIG = '{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' + _DIGEST + '","size":1}'
_LAYER = '{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"' + _DIGEST + '","size":1}'


def _obj(pairs: list[tuple[str, Any]]) -> _gojson.GoObject:
    obj = _gojson.GoObject(pairs)
    obj.pairs = pairs
    return obj


# -- repeated keys decode in place (no copy per repeat: a long value then many short ones was quadratic) --


def test_repeated_array_reuses_the_backing_array() -> None:
    spec = ("struct", {"l": ("list", "string")})
    first = _gojson.decode(_obj([("l", ["a"] * 1000)]), spec, {})
    earlier = first["l"]
    again = _gojson.decode(_obj([("l", ["b"])]), spec, first)
    # Go decodes into the slice already there: same backing array, not a 1500-element copy.
    assert again["l"].backing is earlier.backing
    assert again["l"] == ["b"]
    assert earlier == ["a"] * 1000  # the earlier slice's elements are left as they were
    assert len(again["l"].backing) >= 1000 and again["l"].backing[1] == "a"


def test_repeated_map_merges_in_place_but_never_into_a_callers_dict() -> None:
    spec = ("map", "string")
    first = _gojson.decode(_obj([(f"k{i}", "v") for i in range(1000)]), spec, None)
    merged = _gojson.decode(_obj([("x", "y")]), spec, first)
    assert merged is first  # a Go map is a reference: no copy of 1000 entries per repeat
    assert merged["x"] == "y" and merged["k999"] == "v"
    mine = {"a": "1"}
    out = _gojson.decode(_obj([("b", "2")]), spec, mine)
    assert out == {"a": "1", "b": "2"} and mine == {"a": "1"}


@pytest.mark.parametrize("field, big, small", [
    ("layers", ",".join(["{}"] * 20_000), "{}"),
    ("annotations", ",".join(f'"k{i}":""' for i in range(20_000)), ""),
])
def test_long_value_then_many_short_repeats_is_refused_by_name(field: str, big: str, small: str) -> None:
    brackets = "[]" if field == "layers" else "{}"
    repeat = f',"{field}":{brackets[0]}{small}{brackets[1]}'
    body = (f'{{"schemaVersion":2,"mediaType":"{_OCI}","config":{_CONFIG},"layers":[{_LAYER}],'
            f'"{field}":{brackets[0]}{big}{brackets[1]}' + repeat * 5000 + f',"layers":[{_LAYER}]}}')
    with pytest.raises(ManifestError) as info:
        parse_manifest(body.encode(), _OCI)
    assert info.value.code == "manifest-ambiguous"


def test_index_with_long_manifests_then_many_short_repeats() -> None:
    body = ('{"schemaVersion":2,"manifests":[' + ",".join(["{}"] * 20_000) + "]"
            + ',"manifests":[{}]' * 5000 + "}")
    with pytest.raises(ManifestError) as info:
        parse_index(body.encode(), "index.json", "oci:x")
    assert info.value.code == "oci-index-ambiguous"


def test_index_keys_in_other_cases_still_match_their_fields() -> None:
    body = ('{"SCHEMAVERSION":2,"Manifests":[{"MEDIATYPE":"' + _OCI + '","Digest":"' + _DIGEST
            + '","SIZE":3,"É":1}]}').encode()
    index = parse_index(body, "index.json", "oci:x")
    assert index["manifests"] == [{"mediaType": _OCI, "digest": _DIGEST, "size": 3, "É": 1}]


# -- the depth check reads each byte once ------------------------------------------------------------


def _reference_depth_exceeds(data: bytes) -> bool:
    """Straightforward scan: skip strings (an unterminated one runs to the end), count brackets."""
    if data.count(b"[") + data.count(b"{") <= limits.MAX_JSON_DEPTH:
        return False  # too few brackets to be too deep (balanced or not)
    depth, i, deepest = 0, 0, 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            i += 1
            while i < len(data) and data[i:i + 1] != b'"':
                i += 2 if data[i:i + 1] == b"\\" else 1
        elif c in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif c in (b"]", b"}"):
            depth -= 1
            if depth < 0:
                return True
        i += 1
    return depth != 0 or deepest > limits.MAX_JSON_DEPTH


_D = limits.MAX_JSON_DEPTH


@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"x", b"[" * 60, b"]" * 60]), max_size=40))
@example([b"[" * _D, b"]" * _D])
@example([b"[" * (_D + 1), b"]" * (_D + 1)])
@example([b"[" * _D, b'"]["', b"]" * _D])
@example([b"[" * 150, b"]" * 150, b"[" * 150, b"]" * 151])
@example([b"]", b"[" * 300])
def test_depth_check_matches_a_plain_scan(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert limits.json_depth_exceeds(data) == _reference_depth_exceeds(data)


def test_many_arrays_at_the_depth_limit_are_accepted() -> None:
    unit = b"[" * (_D - 1) + b"]" * (_D - 1)
    assert not limits.json_depth_exceeds(b"[" + b",".join([unit] * 1000) + b"]")  # siblings: depth _D
    assert limits.json_depth_exceeds(b"[[" + unit + b"]]")


def test_unterminated_escaped_quotes_do_not_backtrack() -> None:
    # Before: the string pattern retried from every quote to the end: 160 KiB took about a
    # minute, the 1 MiB here hours. Now one pass (milliseconds); 10 s is a very wide margin.
    data = b"[" * (_D + 1) + b'"' + b'\\"' * (1 << 19)
    start = time.monotonic()
    assert limits.json_depth_exceeds(data)  # unbalanced (the string swallows the rest)
    assert time.monotonic() - start < 10
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, _OCI)
    assert info.value.code == "manifest-invalid"


# -- inspect's docker_version comparison -------------------------------------------------------------


def test_docker_version_with_thousands_of_digits_clamps_as_go() -> None:
    # int() refuses more than 4300 digits (ValueError, reported as a broken config); Go's Atoi clamps.
    assert _atoi("9" * 5000) == (1 << 63) - 1
    assert _atoi("-" + "9" * 5000) == -(1 << 63)
    assert _atoi("0" * 5000 + "7") == 7
    assert not _docker_version_less("1." + "9" * 5000, "1.8.3")
    assert _docker_version_less("1.8.2", "1.8.3")
