"""Schema1 → schema2 config (ToSchema2Config) and the updated schema1 payload, against containers/image.

hypothesis builds schema1 manifests from generated v1Compatibility histories (throwaway layers,
repeated IDs, missing and null fields, odd JSON types, duplicate and escaped keys, unicode and
HTML characters, huge numbers, old ``docker_version`` values that make Go re-encode the entry
from its struct), and the Go oracle (tests/goracle/schema1convert) says what containers/image
5.23's ``Schema1FromManifest`` + ``ToSchema2Config`` / ``UpdateLayerInfos`` make of each: the
same acceptance, the same stage of failure, the same bytes.

Known difference (trustcopy follows the newest containers/image, see the module doc of
trustcopy/manifest/schema1convert.py): the newest ``Schema2HealthConfig`` has ``StartInterval``,
so an entry re-encoded from the struct (``docker_version`` < 1.8.3) keeps it (and must type-check
it); 5.23 drops it. :func:`test_start_interval_follows_the_newest` encodes exactly that.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest.parse import parse_manifest
from trustcopy.manifest.schema1 import Schema1Manifest
from trustcopy.manifest.schema1convert import to_schema2_config, updated_schema1
from trustcopy.types import BlobInfo

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("schema1convert", "containers/image's manifest.Schema1 (ToSchema2Config, UpdateLayerInfos)")

HEX = "0123456789abcdef"
Pairs = list[tuple[str, str]]  # (key as written, raw JSON value text)


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _obj(pairs: Pairs, space: str = "") -> str:
    return "{" + ("," + space).join(f"{k}:{space}{v}" for k, v in pairs) + "}"


bad_times = st.sampled_from(["2024-13-01T00:00:00Z", "yesterday", "2024-01-01T00:00:00,5Z", "2024-01-01T5:00:00Z",
                             "2024-01-01T00:00:00+0200", "2023-02-29T00:00:00Z", "1"])
times = st.one_of(
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-02-29T23:59:59.123456789+02:00", "1999-12-31T01:02:03.1-00:00",
                     "2024-01-01T00:00:00.000Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59"]),
    st.builds(lambda y, m, d, f: f"{y:04d}-{m:02d}-{d:02d}T12:34:56{f}Z", st.integers(1, 9999), st.integers(1, 12),
              st.integers(1, 28), st.sampled_from(["", ".5", ".000000001", ".1234567891234"])))
texts = st.text(alphabet=st.sampled_from(list("ab <>&é\u2028\u2029\"\\/\n\t\x7f😀\x01")), max_size=6)
versions = st.sampled_from(["", "1.8.2", "1.8.3", "1.10.0", "1.6", "0.9", "abc", "1.8.2.1", "+1.8", "-1",
                            "99999999999999999999.1", "1..8", "1.8.3-rc1", "17.03.1-ce", " 1.7"])
odd_values = st.sampled_from(['1e400', '-0', '12345678901234567890123', '1.5', 'true', 'null', '[]', '{}',
                              '"\\u0000"', '"\\ud800"', '"\\/"', '[1, {"a" : null}]', '"<script>"'])
strslices = st.one_of(st.just("null"), texts.map(_j), st.lists(texts, max_size=3).map(_j),
                      st.sampled_from(['[null, "x"]', '5', '[1]', '{"a": 1}']))


@st.composite
def configs(draw: st.DrawFn) -> str:
    """A Schema2Config-ish object (sometimes with wrongly typed fields)."""
    pairs: Pairs = []
    if draw(st.booleans()):
        pairs.append(('"Cmd"', draw(strslices)))
    if draw(st.booleans()):
        pairs.append(('"Env"', draw(st.sampled_from(['["A=1", "B=<2>"]', "null", "[]", '"A=1"']))))
    if draw(st.booleans()):
        pairs.append(('"Labels"', draw(st.sampled_from(['{"b": "2", "a": "1", "é": "&"}', "{}", "null", '{"a": 1}']))))
    if draw(st.booleans()):
        pairs.append(('"ExposedPorts"', draw(st.sampled_from(['{"80/tcp": {}, "53/udp": {}}', "{}", "null"]))))
    if draw(st.booleans()):
        pairs.append(('"Volumes"', draw(st.sampled_from(['{"/data": {}}', "{}", "null"]))))
    if draw(st.booleans()):
        pairs.append(('"Healthcheck"', draw(st.sampled_from(
            ['{"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 3}', '{}', 'null', '{"Timeout": "1s"}']))))
    if draw(st.booleans()):
        pairs.append(('"StopTimeout"', draw(st.sampled_from(["0", "10", "null", '"x"']))))
    if draw(st.booleans()):
        pairs.append(('"user"', _j(draw(texts))))  # folded onto User
    if draw(st.booleans()):
        pairs.append(('"Shell"', draw(strslices)))
    if draw(st.booleans()):
        pairs.append(('"ArgsEscaped"', draw(st.sampled_from(["true", "false", "1"]))))
    return _obj(pairs, draw(st.sampled_from(["", " ", "\n  "])))


@st.composite
def entries(draw: st.DrawFn, ident: str, parent: str | None, newest: bool) -> str:
    """One v1Compatibility text."""
    pairs: Pairs = [('"id"', _j(ident))]
    if parent is not None:
        pairs.append(('"parent"', _j(parent)))
    if draw(st.integers(0, 4)):
        pairs.append(('"created"', draw(times.map(_j) | st.just("null"))))
    if draw(st.integers(0, 15)) == 15:
        pairs.append(('"Created"', _j(draw(bad_times))))
    if draw(st.booleans()):
        pairs.append(('"container_config"', _obj([('"Cmd"', draw(st.sampled_from(
            [_j(["/bin/sh", "-c", "#(nop) ENV A=<&>"]), "null", "[]", '[null, "x"]', _j(["é\u2028"])])))])))
    if draw(st.booleans()):
        pairs.append(('"throwaway"', draw(st.sampled_from(["true", "false", "null"]))))
    for name in ("author", "comment"):
        if draw(st.booleans()):
            pairs.append((f'"{name}"', _j(draw(texts))))
    if newest:
        if draw(st.booleans()):
            pairs.append(('"docker_version"', _j(draw(versions))))
        if draw(st.booleans()):
            pairs.append(('"config"', draw(configs())))
        if draw(st.booleans()):
            pairs.append(('"container_config"', draw(configs())))
        for name in ("architecture", "os", "variant", "container"):
            if draw(st.booleans()):
                pairs.append((f'"{name}"', _j(draw(texts))))
        if draw(st.booleans()):
            pairs.append(('"Size"', draw(st.sampled_from(["0", "123", "-1", "null"]))))
        for name in ("parent_id", "layer_id", "Size", "\\u0069d", "ID", "x<y", "\\ud800", "é", "rootfs", "history"):
            if draw(st.integers(0, 9)) == 9:
                pairs.append((_j(name) if "\\" not in name else f'"{name}"', draw(odd_values)))
    draw(st.randoms()).shuffle(pairs)
    if draw(st.integers(0, 6)) == 0 and len(pairs) > 1:  # a repeated key: the last one wins in Go's map
        pairs.append(draw(st.sampled_from(pairs)))
    return _obj(pairs, draw(st.sampled_from(["", " ", "\n"])))


@st.composite
def schema1_manifests(draw: st.DrawFn) -> tuple[bytes, int]:
    """A schema1 manifest (unsigned) and its number of history entries."""
    n = draw(st.integers(1, 4))
    ids = [draw(st.text(alphabet=HEX, min_size=64, max_size=64)) for _ in range(n)]
    if n > 1 and draw(st.integers(0, 4)) == 0:  # a repeated (consecutive) ID: collapsed
        ids[1] = ids[0]
    history: list[str] = []
    for i in range(n):  # base first
        parent = None if i == 0 else ids[i - 1]
        if parent == ids[i]:
            parent = ids[i - 2] if i > 1 else None
        history.append(draw(entries(ids[i], parent, i == n - 1)))
    blobs = ["sha256:" + draw(st.text(alphabet=HEX, min_size=64, max_size=64)) for _ in range(n)]
    doc = {"schemaVersion": 1, "name": "x/y", "tag": "t<1>", "architecture": "amd64",
           "fsLayers": [{"blobSum": b} for b in reversed(blobs)],
           "history": [{"v1Compatibility": h} for h in reversed(history)]}
    return json.dumps(doc, indent=draw(st.sampled_from([None, 3]))).encode(), n


def _ours(raw: bytes, diff_ids: list[str]) -> tuple[str, bytes | None, list[bool] | None]:
    try:
        m = parse_manifest(raw, None, source="test")
    except ManifestError:
        return "parse", None, None
    assert isinstance(m, Schema1Manifest)
    try:
        return "", to_schema2_config(m, diff_ids), list(m.empty_layers)
    except ManifestError as exc:
        assert exc.code == "schema1-conversion-invalid"
        return "convert", None, list(m.empty_layers)


def _theirs(oracle: Oracle, op: str, raw: bytes, **extra: Any) -> tuple[str, bytes | None, list[bool] | None]:
    answer = oracle.ask({"op": op, "manifest": base64.b64encode(raw).decode(), **extra})
    if answer.get("error") is not None:
        return answer["stage"], None, None
    return "", base64.b64decode(answer.get("output") or ""), answer.get("empty") or []


def _diff_ids(count: int) -> list[str]:
    return ["sha256:" + f"{i:x}" * 64 for i in range(count)]


@given(schema1_manifests(), st.integers(0, 4))
@example((b'{"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:' + b"a" * 64 + b'"}],"history":[{"v1Compatibility":'
          b'"{\\"id\\":\\"' + b"b" * 64 + b'\\",\\"docker_version\\":\\"1.8.2\\",\\"config\\":{\\"Cmd\\":\\"x\\"},'
          b'\\"created\\":null,\\"Created\\":\\"2020-01-01T00:00:00+01:00\\"}"}]}', 1), 1)
@example((b'{"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:' + b"a" * 64 + b'"}],"history":[{"v1Compatibility":'
          b'"{ \\"id\\" : \\"' + b"b" * 64 + b'\\" , \\"x\\" : [ 1 , \\"<\\u2028>\\" ], \\"\\\\u0069d\\":1,'
          b' \\"throwaway\\": true, \\"n\\": 1E400}"}]}', 1), 0)
def test_to_schema2_config_matches_containers_image(oracle: Oracle, case: tuple[bytes, int], ids: int) -> None:
    raw, _n = case
    diff_ids = _diff_ids(ids)
    ours = _ours(raw, diff_ids)
    theirs = _theirs(oracle, "ToSchema2Config", raw, diff_ids=diff_ids)
    if ours[0] == "parse":
        assert theirs[0] == "parse", theirs
        return
    assert ours[0] == theirs[0], (ours, theirs)
    assert ours[1] == theirs[1]
    if theirs[2] is not None:
        assert ours[2] == theirs[2]


@given(schema1_manifests(), st.data())
def test_updated_payload_matches_containers_image(oracle: Oracle, case: tuple[bytes, int], data: st.DataObject) -> None:
    raw, _n = case
    try:
        m = parse_manifest(raw, None, source="test")
    except ManifestError:
        return  # (parsing is compared above)
    assert isinstance(m, Schema1Manifest)
    layers = [Digest("sha256", data.draw(st.text(alphabet=HEX, min_size=64, max_size=64))) for _ in m.layers]
    theirs = _theirs(oracle, "UpdatedPayload", raw, layers=[str(d) for d in layers])
    assert theirs[0] == ""
    assert updated_schema1(m, [BlobInfo(digest=d, size=1) for d in layers]) == theirs[1]


def test_start_interval_follows_the_newest(oracle: Oracle) -> None:
    """The one known difference: an entry re-encoded from the struct keeps StartInterval (newest)."""
    v1 = {"id": "c" * 64, "docker_version": "1.7.0",
          "config": {"Healthcheck": {"Test": ["CMD"], "StartInterval": 5, "Interval": 7}}}
    raw = json.dumps({"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:" + "d" * 64}],
                      "history": [{"v1Compatibility": json.dumps(v1)}]}).encode()
    ours = _ours(raw, [])
    theirs = _theirs(oracle, "ToSchema2Config", raw, diff_ids=[])
    assert ours[1] is not None and theirs[1] is not None
    assert b'"StartInterval":5' in ours[1] and b"StartInterval" not in theirs[1]
    assert ours[1].replace(b'"StartInterval":5,', b"") == theirs[1]
