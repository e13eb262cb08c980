"""``trustcopy inspect --config`` (and ``--config --raw``) of schema2/OCI images against containers/image.

The Go oracle (tests/goracle/inspect) serves a manifest and its config blob from memory to
containers/image 5.23's ``image.FromUnparsedImage``, then answers as skopeo does: ``OCIConfig()``
(mode "config": for schema2 *and* OCI a plain ``json.Unmarshal`` of the blob into image-spec's
``v1.Image``, so Docker-only fields such as ``container_config``, ``docker_version``, ``Healthcheck``,
``OnBuild`` or ``Shell`` vanish and a string ``Cmd`` fails; OCI artifacts are refused), re-marshalled
in the newest image-spec's layout that trustcopy prints; or ``ConfigBlob()`` (mode "rawconfig": the
blob's bytes). trustcopy inspects the same two blobs written as a ``dir:`` image. The generators are
those of test_inspect_goracle (odd JSON types, nulls, repeated and case-folded keys, invalid UTF-8)
plus well-typed configs, so that most generated images are printed rather than refused. Both must
refuse the same images (by class) and print the same bytes otherwise.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st
from test_inspect_goracle import (
    BAD_UTF8,
    OCI,
    OCI_CONFIG,
    SCHEMA2,
    SCHEMA2_CONFIG,
    Pairs,
    Raw,
    configs,
    encode,
    expected_code,
    inspect_dir,
    manifest_for,
    strings,
)
from test_inspect_schema1_goracle import GOOD_TIMES, good_inner_configs, s1
from test_inspect_schema1_goracle import compare as schema1_compare

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("inspect", "containers/image's OCIConfig()/ConfigBlob() as skopeo inspect --config prints them")

#: Modes of the oracle and the trustcopy arguments that ask the same.
MODES = {"config": ["--config"], "rawconfig": ["--config", "--raw"]}


def _key(draw: st.DrawFn, name: str) -> str:
    """The key, or a spelling Go's case-insensitive matching also takes."""
    return draw(st.sampled_from([name, name, name, name, name.upper(), name.title()]))


@st.composite
def good_configs(draw: st.DrawFn) -> Any:
    """A config whose fields have the types ``v1.Image`` wants (nulls, repeats and case-folded keys kept)."""
    history_entry = st.builds(Pairs, st.lists(st.one_of(
        st.tuples(st.sampled_from(["created", "Created"]), GOOD_TIMES | st.none()),
        st.tuples(st.just("empty_layer"), st.sampled_from([True, False, None])),
        st.tuples(st.sampled_from(["created_by", "author", "comment", "Comment"]), strings | st.none())), max_size=3))
    fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("created", GOOD_TIMES | st.none()), ("author", strings), ("architecture", strings | st.none()),
        ("variant", strings), ("os", strings), ("os.version", strings),
        ("os.features", st.sampled_from([["a", "b"], [], None, [None, "x"]])),
        ("config", good_inner_configs()), ("config", good_inner_configs() | st.sampled_from([Pairs([]), None])),
        ("container_config", good_inner_configs()), ("docker_version", strings),
        ("rootfs", st.sampled_from([Pairs([("type", "layers"), ("diff_ids", ["sha256:" + "9" * 64])]), Pairs([]),
                                    None, Pairs([("type", "layers")]), Pairs([("diff_ids", [])]),
                                    Pairs([("TYPE", "x"), ("type", "layers"), ("Diff_IDs", None)])])),
        ("history", st.lists(history_entry, max_size=3) | st.none()),
        ("id", strings), ("container", strings), ("Size", st.sampled_from([1, None])),
    ]
    chosen = draw(st.lists(st.sampled_from(fields), max_size=7))
    return Pairs([(_key(draw, name), draw(strategy)) for name, strategy in chosen])



def compare(oracle: Oracle, manifest: bytes, config: bytes, mode: str) -> None:
    go = oracle.ask({"manifest": base64.b64encode(manifest).decode(), "config": base64.b64encode(config).decode(),
                     "mode": mode})
    ours, error = inspect_dir(manifest, config, MODES[mode])
    what = f"mode {mode!r}, manifest {manifest!r}, config {config!r}"
    if error is not None:
        assert "error" in go, f"{what}: skopeo prints\n{go.get('output')}\nwe fail: {error.code}: {error.message}"
        expected = expected_code(go, error, "config")  # OCIConfig's json.Unmarshal
        assert error.code == expected, f"{what}: skopeo fails with {go['error']!r}, we {error.code}: {error.message}"
        return
    assert "error" not in go, f"{what}: we print\n{ours!r}\nskopeo fails: {go['stage']}: {go['error']}"
    expected = base64.b64decode(go.get("raw", "")) if mode == "rawconfig" else go["output"].encode()
    assert ours == expected, what


@given(st.sampled_from([SCHEMA2, OCI]), configs() | good_configs(), st.booleans(), st.integers(0, 2),
       st.sampled_from(sorted(MODES)))
@example(SCHEMA2, None, True, 0, "config")  # a null config: Go decodes nothing and prints zero values (we refused it)
@example(OCI, Pairs([("config", Pairs([("Cmd", "sh -c x")]))]), True, 1, "config")  # v1 Cmd is []string: Go refuses
@example(SCHEMA2, Pairs([("os", Raw("1.5")), ("architecture", "amd64")]), True, 0, "config")  # we printed "os": 1.5
@example(SCHEMA2, Pairs([("config", Pairs([("ExposedPorts", Pairs([("80", 1)]))]))]), True, 0, "config")
@example(OCI, Pairs([("VARIANT", "v8"), ("OS", "linux"), ("Architecture", "arm64")]), True, 0, "config")  # folded keys
@example(OCI, Pairs([("history", [Pairs([]), Pairs([("EMPTY_LAYER", True)])])]), True, 0, "config")  # {} entries stay
@example(SCHEMA2, Pairs([("author", "\ud800")]), False, 0, "config")  # invalid UTF-8: we crashed writing it out
@example(SCHEMA2, Pairs([("author", BAD_UTF8)]), True, 0, "config")
@example(SCHEMA2, Pairs([("architecture", None), ("rootfs", Pairs([("type", None)]))]), True, 0, "config")
# A repeated list decodes onto the slice already there (["a"], not ["a", "b", "c"]); repeated maps merge.
@example(SCHEMA2, Pairs([("config", Pairs([("Env", ["a", "b", "c"]), ("ENV", [None]), ("Labels", Pairs([("b", "1")])),
                                           ("labels", Pairs([("a", "2")]))]))]), True, 0, "config")
# Docker-only fields are not in v1.Image: Go never looks at them, so even wrongly typed ones do not matter here.
@example(SCHEMA2, Pairs([("container_config", Pairs([("Cmd", 1)])), ("docker_version", 1), ("Size", Raw("1e400")),
                         ("config", Pairs([("Healthcheck", 7), ("OnBuild", "x"), ("Shell", 1), ("Hostname", 2),
                                           ("Env", [])]))]), True, 0, "config")
@example(OCI, Pairs([("created", "2020-01-02T03:04:05Z"), ("created", None), ("config", Pairs([]))]), True, 0, "config")
@example(SCHEMA2, Pairs([("created", "2020-01-02t03:04:05.120z")]), False, 0, "config")
@example(SCHEMA2, [], True, 0, "config")
@example(SCHEMA2, Pairs([("os", 1)]), True, 0, "rawconfig")  # ConfigBlob does not decode: the bytes as they are
def test_inspect_config_agrees_with_skopeo(oracle: Oracle, kind: str, config: Any, ascii_only: bool, layers: int,
                                           mode: str) -> None:
    blob = encode(config, ascii_only)
    compare(oracle, manifest_for(kind, blob, layers), blob, mode)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("config_type", [OCI_CONFIG, "application/vnd.example.artifact+json", SCHEMA2_CONFIG])
def test_inspect_config_of_oci_artifacts_as_skopeo(oracle: Oracle, config_type: str, mode: str) -> None:
    blob = b'{"architecture":"amd64","os":"linux"}'
    compare(oracle, manifest_for(OCI, blob, 1, config_type), blob, mode)



@pytest.mark.parametrize("entry", [
    # A null architecture/os leaves Go's "" (oci_config_newest printed null).
    Pairs([("architecture", None), ("os", None), ("created", "2020-01-02T03:04:05Z")]),
    Pairs([("os", "linux"), ("OS", None), ("variant", None)]),
])
def test_schema1_config_null_scalars_as_skopeo(oracle: Oracle, entry: Pairs) -> None:
    # oci_config_newest prints schema1's converted config too: same zero values as Go.
    schema1_compare(oracle, s1(entry), "config")
