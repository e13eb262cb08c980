"""The sync YAML: skopeo's format, read as yaml.v2 reads it, with every bad entry reported for itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy.errors import ConfigError
from trustcopy.sync.config import SelectorKind, load_sync_file

#: The example of man skopeo-sync(1), verbatim.
SKOPEO_EXAMPLE = """\
registry.example.com:
    images:
        busybox: []
        redis:
            - "1.0"
            - "2.0"
            - "sha256:0000000000000000000000000000000011111111111111111111111111111111"
    images-by-tag-regex:
        nginx: ^1\\.13\\.[12]-alpine-perl$
    credentials:
        username: john
        password: this is a secret
    tls-verify: true
    cert-dir: /home/john/certs
quay.io:
    tls-verify: false
    images:
        coreos/etcd:
            - latest
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "sync.yaml"
    path.write_text(text)
    return load_sync_file(str(path))


def test_skopeo_man_page_example(tmp_path: Path) -> None:
    f = load(tmp_path, SKOPEO_EXAMPLE)
    assert not f.problems and not f.warnings
    example, quay = f.registries
    assert example.name == "registry.example.com"
    assert example.settings.tls_verify is True and example.settings.cert_dir == "/home/john/certs"
    assert (example.settings.username, example.settings.password) == ("john", "this is a secret")
    assert [(s.repository, s.kind, s.refs, s.pattern) for s in example.selectors] == [
        ("busybox", SelectorKind.IMAGES, (), ""),
        ("redis", SelectorKind.IMAGES,
         ("1.0", "2.0", "sha256:0000000000000000000000000000000011111111111111111111111111111111"), ""),
        ("nginx", SelectorKind.TAG_REGEX, (), r"^1\.13\.[12]-alpine-perl$"),
    ]
    assert quay.settings.tls_verify is False and quay.settings.username is None
    assert [(s.repository, s.refs) for s in quay.selectors] == [("coreos/etcd", ("latest",))]


def test_password_never_in_repr(tmp_path: Path) -> None:
    f = load(tmp_path, SKOPEO_EXAMPLE)
    assert "this is a secret" not in repr(f)


def test_tags_stay_the_text_written(tmp_path: Path) -> None:
    """yaml.v2 reads 1.10 into a string field as "1.10"; a float would make it "1.1"."""
    f = load(tmp_path, "reg.example.com:\n  images:\n    app: [1.10, 2, 3.0, true, 1e3]\n")
    assert f.registries[0].selectors[0].refs == ("1.10", "2", "3.0", "true", "1e3")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("yes", True), ("On", True), ("false", False),
                                                 ("no", False), ("OFF", False), ("", None), ("null", None)])
def test_tls_verify_values(tmp_path: Path, value: str, expected: bool | None) -> None:
    f = load(tmp_path, f"reg.example.com:\n  tls-verify: {value}\n  images: {{app: [a]}}\n")
    assert f.registries[0].settings.tls_verify is expected


def test_null_and_empty_mean_every_tag(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images:\n    a:\n    b: ~\n    c: []\n")
    assert [s.refs for s in f.registries[0].selectors] == [(), (), ()]


def test_unknown_keys_warn_naming_the_key(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  image:\n    app: []\n  tls_verify: false\n"
                       "  credentials: {username: u, password: p, token: x}\n  images: {a: [b]}\n")
    text = "\n".join(f.warnings)
    for key in ("'image'", "'tls_verify'", "'token'"):
        assert key in text
    assert str(tmp_path / "sync.yaml") in text and "reg.example.com" in text
    assert f.registries[0].selectors  # the known keys still count


def test_registry_without_images_warns(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  tls-verify: false\n")
    assert any("no images specified" in w for w in f.warnings)


def test_bad_regex_is_a_problem_of_that_entry_only(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images-by-tag-regex:\n    bad: '(a'\n    good: '^v1'\n"
                       "    lookahead: '(?=x)'\n")
    assert [p.label for p in f.problems] == ["reg.example.com/bad (images-by-tag-regex)",
                                            "reg.example.com/lookahead (images-by-tag-regex)"]
    assert all(p.error.code == "sync-regex-invalid" for p in f.problems)
    assert "missing )" in f.problems[0].error.message
    assert [s.repository for s in f.registries[0].selectors] == ["good"]


def test_bad_semver_is_a_problem_of_that_entry_only(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images-by-semver:\n    bad: '>= foo'\n    good: '>= 1.2, < 2'\n")
    assert [(p.label, p.error.code) for p in f.problems] == [
        ("reg.example.com/bad (images-by-semver)", "semver-constraint-invalid")]
    assert [s.pattern for s in f.registries[0].selectors] == [">= 1.2, < 2"]


def test_bad_refs_are_problems_of_those_refs(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images:\n    app: ['ok', '-bad', 'sha256:beef', 'x' ]\n"
                       "    allbad: ['.nope']\n")
    assert [p.label for p in f.problems] == ["reg.example.com/app:-bad", "reg.example.com/app@sha256:beef",
                                            "reg.example.com/allbad:.nope"]
    # app keeps its good refs; allbad is not turned into "every tag".
    assert [(s.repository, s.refs) for s in f.registries[0].selectors] == [("app", ("ok", "x"))]


def test_bad_repository_names(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images:\n    UPPER: []\n    app:1: []\n    fine: []\n")
    labels = [p.label for p in f.problems]
    assert labels == ["reg.example.com/UPPER (images)", "reg.example.com/app:1 (images)"]
    assert "not a repository" in f.problems[1].error.message or "names an image" in f.problems[1].error.message


@pytest.mark.parametrize("body", [
    "  tls-verify: maybe\n  images: {a: []}\n",
    "  credentials: [u, p]\n  images: {a: []}\n",
    "  credentials: {identitytoken: t}\n  images: {a: []}\n",
    "  cert-dir: [x]\n  images: {a: []}\n",
])
def test_bad_registry_settings_fail_the_whole_registry(tmp_path: Path, body: str) -> None:
    f = load(tmp_path, "reg.example.com:\n" + body + "other.example.com:\n  images: {b: [c]}\n")
    assert [p.label for p in f.problems] == ["reg.example.com"]
    assert [r.name for r in f.registries] == ["other.example.com"]  # nothing of reg.example.com is fetched


@pytest.mark.parametrize(("body", "label"), [
    ("  images: [a, b]\n", "reg.example.com (images)"),
    ("  images: {a: {b: c}}\n", "reg.example.com/a (images)"),
    ("  images-by-tag-regex: {a: [x]}\n", "reg.example.com/a (images-by-tag-regex)"),
    ("  images-by-semver: 3\n", "reg.example.com (images-by-semver)"),
])
def test_wrong_types_name_the_entry(tmp_path: Path, body: str, label: str) -> None:
    f = load(tmp_path, "reg.example.com:\n" + body)
    assert label in [p.label for p in f.problems]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "a: [\n"])
def test_not_a_sync_file_fails_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.code == "sync-yaml-invalid"
    assert "sync.yaml" in info.value.message


def test_duplicate_registry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="duplicate key"):
        load(tmp_path, "reg.example.com: {images: {a: []}}\nreg.example.com: {images: {b: []}}\n")


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))
    with pytest.raises(ConfigError, match="nodes"):
        load(tmp_path, bomb)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_sync_file(str(tmp_path / "nope.yaml"))
    assert info.value.code == "config-unreadable"


def test_empty_file_is_no_registries(tmp_path: Path) -> None:
    f = load(tmp_path, "")
    assert f.registries == () and f.problems == ()


def test_the_documented_examples_load_without_problems_or_warnings(tmp_path: Path) -> None:
    """docs/commands/sync.md and the cookbook's mirror recipe show YAML users copy: it must be clean."""
    import re

    root = Path(__file__).resolve().parents[3]
    found = 0
    for page in (root / "docs" / "commands" / "sync.md", root / "docs" / "cookbook.md"):
        for block in re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.M | re.S):
            if "images" not in block or "apiVersion" in block or "jobs:" in block or "script:" in block:
                continue  # CI and Kubernetes snippets
            f = load(tmp_path, block)
            assert not f.problems and not f.warnings, (page.name, f.problems, f.warnings)
            assert f.registries
            found += 1
    assert found == 2


def test_a_sync_file_from_a_pipe(tmp_path: Path) -> None:
    """``sync --src yaml <(generate-sync-config)``: read once, like any other file."""
    import os
    import threading

    fifo = tmp_path / "sync.yaml"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as f:
            f.write("registry.example.com:\n  images:\n    busybox: [\"1.36\"]\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    loaded = load_sync_file(str(fifo))
    writer.join(5)
    assert not loaded.problems
    assert [(r.name, [(s.repository, s.refs) for s in r.selectors]) for r in loaded.registries] == [
        ("registry.example.com", [("busybox", ("1.36",))])]


# -- yaml.v3's reading (the newest skopeo), where the old yaml.v2-like reading differed ----------------------


@pytest.mark.parametrize(("listed", "refs"), [
    ("[~]", ()),  # yaml.v3 drops null items: [] is every tag (it was the invalid tag "~")
    ("[a, ~, null]", ("a",)),
    ("['~', b]", ("b",)),  # a quoted ~ is the text "~": an invalid tag, reported; b is kept
    ("[!!binary djEuMg==]", ("v1.2",)),
])
def test_tag_lists_as_yaml_v3_decodes_them(tmp_path: Path, listed: str, refs: tuple[str, ...]) -> None:
    f = load(tmp_path, f"reg.example.com:\n  images:\n    app: {listed}\n")
    assert [s.refs for s in f.registries[0].selectors] == [refs]


def test_null_regex_is_the_empty_regex_that_matches_every_tag(tmp_path: Path) -> None:
    """A Go map[string]string sets "" for a null value (the old reading kept the text "~")."""
    f = load(tmp_path, "reg.example.com:\n  images-by-tag-regex:\n    a: ~\n    b:\n    c: '~'\n")
    assert [(s.repository, s.pattern) for s in f.registries[0].selectors] == [("a", ""), ("b", ""), ("c", "~")]


@pytest.mark.parametrize(("value", "expected"), [
    ("'no'", False), ('"ON"', True), ("!!binary eWVz", True),
    ('"true"', "problem"), ('"null"', "problem"), ("!!str false", "problem"), ("{a: b}", "problem")])
def test_tls_verify_as_a_go_bool_through_yaml_v3(tmp_path: Path, value: str, expected: object) -> None:
    f = load(tmp_path, f"reg.example.com:\n  tls-verify: {value}\n  images: {{app: [a]}}\n")
    if expected == "problem":
        assert [p.label for p in f.problems] == ["reg.example.com"] and not f.registries
    else:
        assert f.registries[0].settings.tls_verify is expected


@pytest.mark.parametrize("text", [
    "reg.example.com:\n  images: {app: [!!int abc]}\n",  # an explicit tag that does not fit its text
    "reg.example.com:\n  images: {app: [a]}\n  images: {b: [c]}\n",
    "reg.example.com:\n  images: {app: [a], 'app': [b]}\n",  # the same key, quoted or not
    "reg.example.com:\n  credentials: {username: u}\n  images: {UPPER: [a], UPPER: [b]}\n",
    "[a]: {images: {}}\n",
])
def test_what_yaml_v3_refuses_fails_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.code == "sync-yaml-invalid"


def test_a_password_never_appears_in_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "reg.example.com:\n  credentials: {username: u, password: !!int hunter2}\n")
    assert "hunter2" not in str(info.value) and "not shown" in info.value.message


def test_utf16_and_merge_keys(tmp_path: Path) -> None:
    text = "base: &b {tls-verify: no}\nreg.example.com:\n  <<: *b\n  images: {app: [a]}\n"
    path = tmp_path / "sync.yaml"
    path.write_bytes(text.encode("utf-16"))
    f = load_sync_file(str(path))
    reg = next(r for r in f.registries if r.name == "reg.example.com")
    assert reg.settings.tls_verify is False and reg.selectors[0].refs == ("a",)


def test_empty_identitytoken_is_no_token(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  credentials: {username: u, password: p, identitytoken: ''}\n"
                       "  images: {app: [a]}\n")
    assert not f.problems and f.registries[0].settings.username == "u"


def test_an_empty_images_section_warns_as_skopeo(tmp_path: Path) -> None:
    f = load(tmp_path, "reg.example.com:\n  images: {}\n  tls-verify: false\n")
    assert any("no images specified" in w for w in f.warnings)


def test_a_list_item_of_the_wrong_type_is_named_as_the_item(tmp_path: Path) -> None:
    """``images: {a/b: [[x]]}``: the list is fine, its item is not; the problem says which."""
    path = tmp_path / "sync.yaml"
    path.write_text("reg.example:\n  images:\n    a/b: [[x]]\n")
    f = load_sync_file(str(path))
    assert [p.label for p in f.problems] == ["reg.example/a/b (images)"]
    assert "not a list holding a list" in f.problems[0].error.message
