"""``trustcopy inspect`` of Docker schema1 images against what skopeo prints, on generated manifests.

The Go oracle (tests/goracle/inspect) serves a schema1 manifest from memory (its MIME type guessed:
``+prettyjws`` when it has ``signatures``, ``+json`` otherwise) and no blob at all, as a schema1 image
has no config blob; containers/image 5.23 parses it with ``image.FromUnparsedImage`` and then
answers as skopeo does: ``Inspect()`` (skopeo's output struct), ``OCIConfig()`` (``inspect --config``,
which converts the newest v1Compatibility entry and the history into a schema2 config first) or
``ConfigBlob()`` (``inspect --config --raw``: nothing). trustcopy inspects the same manifest written as
a ``dir:`` image. The v1Compatibility strings are generated field by field (the config fields Go's
``Schema2V1Image`` and ``Schema1V1Compatibility`` decode, with odd JSON types, nulls, repeated and
case-folded keys, invalid UTF-8), the ID chain sometimes broken, the layer and history counts
sometimes different. Both must refuse the same manifests (by class) and print the same bytes otherwise.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st
from test_inspect_goracle import (
    BAD_UTF8,
    MODES,
    Pairs,
    Raw,
    dump,
    encode,
    inner_configs,
    inspect_dir,
    odd,
    scalars,
    strings,
    times,
)

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("inspect", "containers/image's schema1 Inspect/OCIConfig/ConfigBlob as skopeo prints them")

IDS = ["1" * 64, "2" * 64, "3" * 64, "4" * 64, "5" * 64]
LAYERS = ["sha256:" + c * 64 for c in "abcdef"]


GOOD_TIMES = st.sampled_from(["2020-01-02T03:04:05Z", "2020-01-02T03:04:05.120000000Z", "2020-01-02T03:04:05+01:00",
                              "2020-01-02T03:04:05.123456789123-00:00", "0001-01-01T00:00:00Z", "2020-01-02t03:04:05z"])


@st.composite
def good_inner_configs(draw: st.DrawFn) -> Any:
    """A ``config``/``container_config`` object with well-typed fields (nulls, repeats and case-folded keys kept)."""
    fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("Env", st.sampled_from([["A=1", "B=<&>"], [], None, ["x", None], ["\u2028"]])),
        ("Labels", st.sampled_from([Pairs([("b", "1"), ("a", "2")]), Pairs([]), None, Pairs([("a", None)]),
                                    Pairs([("a", "1"), ("a", "2")])])),
        ("Cmd", st.sampled_from([["sh", "-c", "x"], "sh -c x", [], None, [None, "y"]])),
        ("Entrypoint", st.sampled_from([["/e"], "/e", [], None])), ("User", strings), ("WorkingDir", strings),
        ("ExposedPorts", st.sampled_from([Pairs([("80/tcp", {}), ("443", {})]), Pairs([]), None])),
        ("Volumes", st.sampled_from([Pairs([("/v", {}), ("/a", {})]), Pairs([]), None])),
        ("StopSignal", strings), ("ArgsEscaped", st.booleans()), ("Hostname", strings), ("Image", strings),
        ("StopTimeout", st.sampled_from([None, 10])), ("Shell", st.sampled_from([["sh"], "sh", None])),
        ("OnBuild", st.sampled_from([["RUN x"], None])),
    ]
    chosen = draw(st.lists(st.sampled_from(fields), max_size=5))
    return Pairs([(_key(draw, name), draw(strategy)) for name, strategy in chosen])


def _key(draw: st.DrawFn, name: str) -> str:
    """The key, or a spelling Go's case-insensitive matching also takes."""
    return draw(st.sampled_from([name, name, name, name, name.upper(), name.title()]))


def rarely(draw: st.DrawFn, odds: int = 12) -> bool:
    """True about once in ``odds`` draws (hypothesis favours small integers, so not ``integers() == 0``)."""
    return draw(st.sampled_from([False] * (odds - 1) + [True]))


@st.composite
def v1_compatibility(draw: st.DrawFn, ident: Any, parent: Any, noisy: bool) -> Any:
    """One v1Compatibility object: its ID chain link and some of the config fields, plausible or odd."""
    text = scalars if noisy else strings
    fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("created", (times | odd) if noisy else GOOD_TIMES), ("author", text), ("architecture", text), ("os", text),
        ("variant", text), ("docker_version", st.sampled_from(["1.8.2", "1.8.3", "1.10.0", "1.8", "1.x", "",
                                                              "0.9.1-dev", "17.03.1-ce", "+1.8.2", "1.08.2x",
                                                              "99999999999999999999.1"]) | text),
        ("config", inner_configs() if noisy else good_inner_configs()),
        ("container_config", inner_configs() if noisy else good_inner_configs()), ("comment", text),
        ("os.version", text), ("os.features", st.sampled_from([["a"], [], None])),
        ("throwaway", st.sampled_from([True, False, True, None, "yes", 1])), ("container", scalars),
        ("Size", st.sampled_from([1, "1", Raw("1e2"), None])), ("unknown", odd),
        ("parent_id", strings), ("layer_id", strings),
        ("rootfs", st.sampled_from([{"type": "layers", "diff_ids": ["sha256:" + "9" * 64]}, None, 1])),
        ("history", st.sampled_from([[{"created_by": "x"}], None, "x"])),
    ]
    pairs: list[tuple[str, Any]] = []
    if ident is not None:
        pairs.append((_key(draw, "id"), ident))
    if parent is not None:
        pairs.append((_key(draw, "parent"), parent))
    for name, strategy in draw(st.lists(st.sampled_from(fields), max_size=6)):
        pairs.append((_key(draw, name), draw(strategy)))
    pairs = draw(st.permutations(pairs))
    return draw(odd) if noisy and rarely(draw, 30) else Pairs(pairs)


@st.composite
def history_texts(draw: st.DrawFn) -> list[str]:
    """v1Compatibility strings, newest first: a parent chain of IDs, sometimes repeated or broken."""
    n = draw(st.integers(1, 4))
    ids = draw(st.lists(st.sampled_from(IDS[:3]), min_size=n, max_size=n))
    texts = []
    for i, ident in enumerate(ids):
        noisy = rarely(draw, 4)
        parent: Any = next((p for p in ids[i + 1:] if p != ident), None)
        if rarely(draw, 20):
            parent = draw(st.sampled_from(["", "9" * 64, None, 1, IDS[4]]))
        link: Any = draw(st.sampled_from(["A" * 64, "abc", None, 7, ""])) if rarely(draw, 30) else ident
        compat = draw(v1_compatibility(link, parent, noisy))
        texts.append(encode(compat, draw(st.booleans())).decode("utf-8", "surrogateescape"))
    return texts


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def manifest_bytes(history: list[str], layers: list[str], top: list[tuple[str, Any]], signed: Any) -> bytes:
    """A schema1 manifest; ``signed``: False (no key), None (``"signatures": null``) or True (a pretty JWS)."""
    body = Pairs([("schemaVersion", 1), *top, ("fsLayers", [{"blobSum": d} for d in layers]),
                  ("history", [{"v1Compatibility": h} for h in history])])
    # The history strings may hold lone surrogates standing for invalid UTF-8: they go out as bytes.
    payload = _pretty(body).encode("utf-8", "surrogateescape")
    if signed is False:
        return payload
    if signed is None:
        return payload[:-2] + b',\n   "signatures": null\n}'
    cut = payload.rindex(b"\n}")
    header = {"formatLength": cut, "formatTail": _b64url(payload[cut:]), "time": "2016-03-04T05:06:07Z"}
    block = {"header": {"alg": "ES256"}, "signature": "c2ln", "protected": _b64url(json.dumps(header).encode())}
    return payload[:cut] + b',\n   "signatures": ' + json.dumps([block]).encode() + payload[cut:]


def _pretty(body: Pairs) -> str:
    """The top level indented by three spaces (as libtrust writes it), members on one line each."""
    lines = [f"   {json.dumps(k)}: {dump(v, False)}" for k, v in body.pairs]
    return "{\n" + ",\n".join(lines) + "\n}"


@st.composite
def schema1_manifests(draw: st.DrawFn) -> bytes:
    history = draw(history_texts())
    n = len(history)
    if rarely(draw, 20):
        n = draw(st.sampled_from([0, n + 1, max(n - 1, 0)]))
    layers = [draw(st.sampled_from(LAYERS[:3])) for _ in range(n)]
    top = [("name", draw(st.sampled_from(["library/x", "", None] + [1] * rarely(draw)))),
           ("tag", draw(st.sampled_from(["latest", "", "<t&>", None, BAD_UTF8, "\u2028"] + [1] * rarely(draw)))),
           ("architecture", draw(st.sampled_from(["amd64", "", None] + [2] * rarely(draw))))]
    top = draw(st.lists(st.sampled_from(top), unique_by=lambda p: p[0], max_size=3))
    blob = manifest_bytes(history, layers, top, draw(st.sampled_from([False, True, None])))
    return blob.replace(BAD_UTF8.encode(), b"\xfe\x80")



def compare(oracle: Oracle, manifest: bytes, mode: str) -> None:
    go = oracle.ask({"manifest": base64.b64encode(manifest).decode(), "mode": mode})
    ours, error = inspect_dir(manifest, None, MODES[mode])
    what = f"mode {mode!r}, manifest {manifest!r}"
    if error is not None:
        assert "error" in go, f"{what}: skopeo prints\n{go.get('output')}\nwe fail: {error.code}: {error.message}"
        # Parsing the manifest (or computing its digest) fails as a manifest error; decoding the newest
        # v1Compatibility as an image config (Inspect, OCIConfig) as an invalid config.
        expected = "image-config-invalid" if go["stage"] in ("inspect", "config") else "manifest-invalid"
        assert error.code == expected, f"{what}: skopeo fails with {go['error']!r}, we {error.code}: {error.message}"
        return
    assert "error" not in go, f"{what}: we print\n{ours!r}\nskopeo fails: {go['stage']}: {go['error']}"
    expected = base64.b64decode(go.get("raw", "")) if mode == "rawconfig" else go["output"].encode()
    assert ours == expected, what


def s1(*compat: Any, signed: Any = False, layers: int | None = None) -> bytes:
    """A schema1 manifest over these v1Compatibility objects (newest first), IDs chained in order."""
    texts = []
    for i, c in enumerate(compat):
        link = [("id", IDS[i])] + ([("parent", IDS[i + 1])] if i + 1 < len(compat) else [])
        texts.append(dump(Pairs(link + c.pairs)))
    return manifest_bytes(texts, LAYERS[:len(texts) if layers is None else layers], [("tag", "t")], signed)


CREATED = ("created", "2020-01-02T03:04:05Z")


@given(schema1_manifests(), st.sampled_from(sorted(MODES)))
# --config converts to a schema2 config first (we printed the v1Compatibility entry as if it were an OCI config):
# rootfs with an empty diff ID per non-throwaway layer, history base first with zero times where none.
@example(s1(Pairs([CREATED, ("config", Pairs([("Env", ["A=1"])])), ("throwaway", True)]), Pairs([("author", "me")])),
         "config")
@example(s1(Pairs([CREATED, ("container_config", Pairs([("Cmd", ["sh", None, "x"])]))]), signed=True), "config")
@example(s1(Pairs([("os.version", "1"), ("Os", "linux"), ("os", "plan9")]), signed=None), "config")  # sorted keys
# docker_version < 1.8.3: the entry is re-encoded from Schema2V1Image first (a string Cmd becomes a list, created
# appears as Go's zero time, os.version is lost); without it a string Cmd fails the OCI decoding.
@example(s1(Pairs([("docker_version", "1.8.2"), ("config", Pairs([("Cmd", "sh -c x")])), ("os.version", "1")])),
         "config")
@example(s1(Pairs([("docker_version", "1.8.3"), ("config", Pairs([("Cmd", "sh -c x")]))])), "config")
@example(s1(Pairs([("docker_version", "+1.08.2x"), ("config", Pairs([("Cmd", "x")]))])), "config")
@example(s1(Pairs([CREATED]), Pairs([("throwaway", True)])), "rawconfig")  # no config blob: skopeo prints nothing
# A repeated list key decodes onto the list already there (here, after Go's map round trip sorts the keys):
# element 0 of "history" keeps created_by "x" from "HISTORY".
@example(s1(Pairs([CREATED, ("HISTORY", [Pairs([("created_by", "x")])])])), "config")
@example(s1(Pairs([CREATED]), layers=2), "")  # fsLayers and history counts differ
@example(s1(Pairs([("created", "2020-01-02T03:04:05Z"), ("created", None), ("config", Pairs([("Labels", None)]))]),
            signed=True), "")
def test_schema1_inspect_agrees_with_skopeo(oracle: Oracle, manifest: bytes, mode: str) -> None:
    compare(oracle, manifest, mode)
