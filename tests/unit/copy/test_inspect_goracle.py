"""``trustcopy inspect`` against what skopeo 1.9.3 prints, on generated images.

The Go oracle (tests/goracle/inspect) serves a manifest and a config blob from memory to
containers/image 5.23's ``image.FromUnparsedImage(...).Inspect()`` and fills skopeo's output
struct from it; trustcopy inspects the same two blobs written as a ``dir:`` image. Configs are
generated field by field, with odd JSON types, nulls, repeated and case-folded keys, huge
numbers, invalid UTF-8 and lone surrogates, because Go's ``json.Unmarshal`` into typed structs
decides which configs inspect at all and what each field then holds. Both must refuse the same
images, and print byte-identical JSON for the rest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from typing import Any

import pytest
from click.testing import CliRunner
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.cli.app import cli
from trustcopy.errors import TrustcopyError

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("inspect", "containers/image's image.FromUnparsedImage(...).Inspect() as skopeo prints it")

BAD_UTF8 = "\x00BAD\x00"  # replaced by invalid UTF-8 bytes in the serialized config
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA2_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


class Raw:
    """A JSON text fragment written as is (numbers Python would not print the same way)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text!r})"


class Pairs:
    """A JSON object with its members in order, repeated keys allowed."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"Pairs({self.pairs!r})"


def dump(value: Any, ascii_only: bool = True) -> str:
    """JSON text of ``value`` (Raw and Pairs honoured)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{dump(k, ascii_only)}:{dump(v, ascii_only)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return dump(Pairs(list(value.items())), ascii_only)
    if isinstance(value, list):
        return "[" + ",".join(dump(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def encode(value: Any, ascii_only: bool) -> bytes:
    """Config bytes: lone surrogates pass through as (invalid) UTF-8, BAD_UTF8 becomes stray bytes."""
    return dump(value, ascii_only).encode("utf-8", "surrogatepass").replace(
        json.dumps(BAD_UTF8, ensure_ascii=True)[1:-1].encode(), b"\xff\xc3(").replace(BAD_UTF8.encode(), b"\xfe\x80")


odd = st.sampled_from([None, 0, 1, -1, True, False, [], {}, Raw("1e400"), Raw("123456789012345678901234567890"),
                       Raw("-0"), Raw("1.5"), ["x"], {"a": "b"}])
strings = st.one_of(st.text(max_size=6), st.sampled_from(["amd64", "arm64", "linux", "v8", "<a&b>", "\u2028",
                                                          "\ud800", "x\udfffy", BAD_UTF8, "\x08\x0c\x1f\x7f", ""]))
times = st.sampled_from([
    "2020-01-02T03:04:05Z", "2020-01-02T03:04:05.120000000Z", "2020-01-02T03:04:05.123456789123Z",
    "2020-01-02T03:04:05+01:00", "2020-01-02T03:04:05-00:00", "2020-01-02T03:04:05+00:00", "2020-01-02t03:04:05z",
    "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2020-02-30T00:00:00Z",
    "2020-01-02T24:00:00Z", "2020-01-02T23:59:60Z", "2020-01-02 03:04:05Z", "2020-01-02T03:04:05", "", "now",
    "2020-01-02T03:04:05.Z", "2020-01-02T03:04:05,5Z", "2020-01-02T03:04:05+24:00", "2020-1-2T3:4:5Z",
])
scalars = strings | odd | times


@st.composite
def string_lists(draw: st.DrawFn) -> Any:
    return draw(st.one_of(st.none(), st.just([]), st.lists(strings | st.sampled_from([None, 1, True]), max_size=3),
                          odd))


@st.composite
def string_maps(draw: st.DrawFn) -> Any:
    members = draw(st.lists(st.tuples(strings, strings | st.sampled_from([None, 1, False, []])), max_size=3))
    return draw(st.sampled_from([Pairs(members), Pairs([]), None, [], "x", 3]))


def keyed(name: str) -> st.SearchStrategy[str]:
    """The key, or a spelling Go's case-insensitive matching also takes."""
    return st.sampled_from([name, name, name, name.upper(), name.title(), name.swapcase()])


@st.composite
def inner_configs(draw: st.DrawFn) -> Any:
    fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("Env", string_lists()), ("Labels", string_maps()), ("User", scalars), ("Cmd", string_lists() | strings),
        ("Entrypoint", string_lists() | strings), ("ExposedPorts", st.sampled_from([{"80/tcp": {}}, {"80": 1}, None])),
        ("Volumes", st.sampled_from([{"/v": {}}, {"/v": "x"}, None, []])), ("StopSignal", scalars),
        ("ArgsEscaped", st.sampled_from([True, False, "true", None])), ("Hostname", scalars),
        ("Healthcheck", st.sampled_from([None, {"Test": ["CMD"], "Retries": 3, "Interval": 10}, {"Retries": "3"},
                                         {"Interval": 1.5}, 7])),
        ("StopTimeout", st.sampled_from([None, 10, "10", Raw("1e3")])), ("Shell", string_lists() | strings),
        ("OnBuild", string_lists()), ("Tty", st.sampled_from([True, 1])), ("Unknown", odd),
    ]
    chosen = draw(st.lists(st.sampled_from(fields), max_size=5))
    return draw(st.one_of(
        st.builds(Pairs, st.tuples(*[st.tuples(keyed(n), s) for n, s in chosen]).map(list)),
        odd))


@st.composite
def configs(draw: st.DrawFn) -> Any:
    """A config object: a few top-level fields, each with a plausible or odd value."""
    history_entry = st.builds(Pairs, st.lists(st.one_of(
        st.tuples(st.just("created"), times | odd), st.tuples(st.just("empty_layer"), st.sampled_from([True, False,
                                                                                                        "yes", None])),
        st.tuples(st.sampled_from(["created_by", "author", "comment"]), scalars)), max_size=3)) | odd
    fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("created", times | odd), ("author", scalars), ("architecture", scalars), ("variant", scalars),
        ("os", scalars), ("docker_version", scalars), ("config", inner_configs()),
        ("container_config", inner_configs()),
        ("rootfs", st.builds(lambda t, d: Pairs([("type", t), ("diff_ids", d)]), st.sampled_from(["layers", 1]),
                             string_lists()) | odd),
        ("history", st.lists(history_entry, max_size=3) | odd), ("os.version", scalars),
        ("os.features", string_lists()),
        ("id", scalars), ("parent", scalars), ("container", scalars), ("Size", st.sampled_from([1, "1", Raw("1e2"),
                                                                                                 Raw("9e18"), None])),
        ("unknown", odd),
    ]
    chosen = draw(st.lists(st.sampled_from(fields), max_size=7))
    pairs = [(draw(keyed(name)), draw(strategy)) for name, strategy in chosen]
    return Pairs(pairs) if draw(st.integers(0, 20)) else draw(odd)


def manifest_for(kind: str, config: bytes, layers: int, config_type: str | None = None,
                 annotations: dict[str, str] | None = None) -> bytes:
    """A schema2 or OCI manifest pointing at ``config``, with ``layers`` layers."""
    layer_type = "application/vnd.oci.image.layer.v1.tar+gzip" if kind == OCI else \
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    layer_list: list[dict[str, Any]] = []
    for i in range(layers):
        layer: dict[str, Any] = {"mediaType": layer_type, "digest": "sha256:" + hashlib.sha256(bytes([i])).hexdigest(),
                                 "size": 10 + i}
        if kind == OCI and annotations is not None:
            layer["annotations"] = annotations
        layer_list.append(layer)
    config_type = config_type or (OCI_CONFIG if kind == OCI else SCHEMA2_CONFIG)
    return json.dumps({"schemaVersion": 2, "mediaType": kind, "config": {
        "mediaType": config_type, "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
        "layers": layer_list}).encode()


#: Oracle modes and the trustcopy arguments asking the same.
MODES = {"": [], "config": ["--config"], "rawconfig": ["--config", "--raw"]}


def run_cli(argv: list[str]) -> tuple[bytes | None, TrustcopyError | None]:
    """What ``trustcopy ARGV`` prints, or the TrustcopyError it ends with (anything else is raised)."""
    result = CliRunner().invoke(cli, argv)
    if result.exception is not None:
        if not isinstance(result.exception, TrustcopyError):
            raise result.exception
        return None, result.exception
    assert result.exit_code == 0, result.output
    return result.stdout_bytes, None


def inspect_dir(manifest: bytes, config: bytes | None, args: list[str]) -> tuple[bytes | None, TrustcopyError | None]:
    """``trustcopy inspect ARGS dir:…`` for a directory holding the manifest (and the config blob, if any)."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "manifest.json"), "wb") as f:
            f.write(manifest)
        if config is not None:
            with open(os.path.join(tmp, hashlib.sha256(config).hexdigest()), "wb") as f:
                f.write(config)
        with open(os.path.join(tmp, "version"), "w") as f:
            f.write("Directory Transport Version: 1.1\n")
        return run_cli(["inspect", *args, f"dir:{tmp}"])


def expected_code(go: dict[str, Any], error: TrustcopyError, config_stage: str) -> str:
    """The error code trustcopy must give where the oracle failed at ``go["stage"]``.

    Where Go decodes the config (``config_stage``) it fails as an invalid config; an OCI
    artifact is not an image; any other stage (parsing the manifest) keeps our code.
    """
    if "non-image artifact" in go["error"] or "unsupported image-specific operation" in go["error"]:
        return "manifest-unsupported"
    return "image-config-invalid" if go["stage"] == config_stage else error.code


def trustcopy_inspect(manifest: bytes, config: bytes) -> tuple[str | None, TrustcopyError | None]:
    """What ``trustcopy inspect dir:…`` prints for the image, or the error it raises."""
    out, error = inspect_dir(manifest, config, [])
    return (None if out is None else out.decode()), error


def compare(oracle: Oracle, manifest: bytes, config: bytes) -> None:
    go = oracle.ask({"manifest": base64.b64encode(manifest).decode(), "config": base64.b64encode(config).decode()})
    ours, error = trustcopy_inspect(manifest, config)
    what = f"manifest {manifest!r}, config {config!r}"
    if error is not None:
        assert "error" in go, f"{what}: skopeo prints\n{go.get('output')}\nwe fail: {error.code}: {error.message}"
        expected = expected_code(go, error, "inspect")
        assert error.code == expected, f"{what}: skopeo fails with {go['error']!r}, we {error.code}: {error.message}"
        return
    assert "error" not in go, f"{what}: we print\n{ours}\nskopeo fails: {go['stage']}: {go['error']}"
    assert ours == go["output"], what


@given(st.sampled_from([SCHEMA2, OCI]), configs(), st.booleans(), st.integers(0, 3))
@example(SCHEMA2, Pairs([]), True, 1)
@example(SCHEMA2, None, True, 0)  # a null config: Go decodes nothing, skopeo prints zero values (we refused it)
@example(SCHEMA2, Pairs([("architecture", "\x0c")]), False, 0)  # Go writes \u000c, not \f
@example(OCI, Pairs([("ARCHITECTURE", "arm64"), ("Os", "linux"), ("Docker_Version", "1")]), True, 1)  # folded keys
@example(SCHEMA2, Pairs([("config", Pairs([("Cmd", 1)]))]), True, 1)  # a wrongly typed field fails Unmarshal
@example(OCI, Pairs([("history", [Pairs([("empty_layer", "yes")])])]), True, 1)
@example(SCHEMA2, Pairs([("created", "2020-01-02T03:04:05Z"), ("created", None)]), True, 0)  # null keeps time.Time
@example(OCI, Pairs([("created", "2020-01-02T03:04:05Z"), ("created", None)]), True, 0)  # null resets *time.Time
@example(SCHEMA2, Pairs([("config", Pairs([("Labels", Pairs([("b", None), ("a", "\ud800"), ("a", "x")]))]))]), True, 0)
@example(OCI, Pairs([("config", Pairs([("Env", [None, "A=1"])]))]), True, 0)
@example(OCI, Pairs([("Size", Raw("9e18"))]), True, 0)  # Schema2V1Image's int64 Size: OCI inspect fails too
@example(OCI, Pairs([]), True, 1)
# A repeated list decodes onto the slice already there (null keeps an element; a shorter list keeps the rest of
# the backing array for the next one): Go prints ["a", "b", "c"]; we printed ["", "", ""].
@example(SCHEMA2, Pairs([("config", Pairs([("Env", ["a", "b", "c"]), ("ENV", [None]), ("env", [None, None, None])]))]),
         True, 0)
@example(OCI, Pairs([("config", Pairs([("Env", ["a", "b"]), ("env", [None])]))]), True, 0)
def test_inspect_agrees_with_skopeo(oracle: Oracle, kind: str, config: Any, ascii_only: bool, layers: int) -> None:
    blob = encode(config, ascii_only)
    compare(oracle, manifest_for(kind, blob, layers), blob)


@pytest.mark.parametrize("config_type", [OCI_CONFIG, "application/vnd.example.artifact+json", SCHEMA2_CONFIG, ""])
def test_inspect_refuses_oci_artifacts_as_skopeo(oracle: Oracle, config_type: str) -> None:
    blob = b'{"architecture":"amd64","os":"linux"}'
    compare(oracle, manifest_for(OCI, blob, 1, config_type, {"k": "v"}), blob)
