"""Destination names (skopeo's), Go's path functions, shards, collisions and the dir walk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from trustcopy.errors import TransportError, UsageError
from trustcopy.sync.plan import (
    DestinationKind,
    Entry,
    Shard,
    dir_entries,
    docker_entries,
    go_base,
    go_clean,
    go_join,
    plan_items,
)
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import SystemContext

# Go's path package, from its own tests (path_test.go: cleantests, jointests, basetests).
CLEAN = [("", "."), ("abc", "abc"), ("abc/def", "abc/def"), ("a/b/c", "a/b/c"), (".", "."), ("..", ".."),
         ("../..", "../.."), ("../../abc", "../../abc"), ("/abc", "/abc"), ("/", "/"), ("abc/", "abc"),
         ("abc/def/", "abc/def"), ("a/b/c/", "a/b/c"), ("./", "."), ("../", ".."), ("/abc/", "/abc"),
         ("abc//def//ghi", "abc/def/ghi"), ("//abc", "/abc"), ("///abc", "/abc"), ("//abc//", "/abc"),
         ("abc//", "abc"), ("abc/./def", "abc/def"), ("/./abc/def", "/abc/def"), ("abc/.", "abc"),
         ("abc/def/ghi/../jkl", "abc/def/jkl"), ("abc/def/../ghi/../jkl", "abc/jkl"), ("abc/def/..", "abc"),
         ("abc/def/../..", "."), ("/abc/def/../..", "/"), ("abc/def/../../..", ".."),
         ("/abc/def/../../..", "/"), ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
         ("abc/./../def", "def"), ("abc//./../def", "def"), ("abc/../../././../def", "../../def")]
JOIN = [((), ""), (("",), ""), (("a",), "a"), (("a", "b"), "a/b"), (("a", ""), "a"), (("", "b"), "b"),
        (("/", "a"), "/a"), (("/", ""), "/"), (("a/", "b"), "a/b"), (("a/", ""), "a"), (("", ""), "")]
BASE = [("", "."), (".", "."), ("/.", "."), ("/", "/"), ("////", "/"), ("x/", "x"), ("abc", "abc"),
        ("abc/def", "def"), ("a/b/.x", ".x"), ("a/b/c.", "c."), ("a/b/c.x", "c.x")]


@pytest.mark.parametrize(("path", "want"), CLEAN)
def test_go_clean(path: str, want: str) -> None:
    assert go_clean(path) == want


@pytest.mark.parametrize(("parts", "want"), JOIN)
def test_go_join(parts: tuple[str, ...], want: str) -> None:
    assert go_join(*parts) == want


@pytest.mark.parametrize(("path", "want"), BASE)
def test_go_base(path: str, want: str) -> None:
    assert go_base(path) == want


def docker_entry(*names: str) -> Entry:
    refs = [parse_image_name(f"docker://{n}") for n in names]
    return Entry("entry", SystemContext(), lambda: refs)


def names(entry: Entry, destination: str, *, kind: DestinationKind = DestinationKind.DOCKER, scoped: bool = False,
          suffix: str = "", shard: Shard | None = None) -> list[str]:
    items, failures = plan_items([entry], [entry.resolve()], kind, destination, scoped=scoped,
                                 append_suffix=suffix, shard=shard)
    assert not failures, failures
    return [i.destination for i in items]


def test_docker_names_as_skopeo() -> None:
    e = docker_entry("registry.example.com/busybox:1-glibc", "registry.example.com/repo/busybox:latest",
                     "busybox:1")
    assert names(e, "my-registry.local.lan") == [
        "docker://my-registry.local.lan/busybox:1-glibc", "docker://my-registry.local.lan/busybox:latest",
        "docker://my-registry.local.lan/busybox:1"]
    assert names(e, "my-registry.local.lan/repo/", scoped=True) == [
        "docker://my-registry.local.lan/repo/registry.example.com/busybox:1-glibc",
        "docker://my-registry.local.lan/repo/registry.example.com/repo/busybox:latest",
        "docker://my-registry.local.lan/repo/docker.io/library/busybox:1"]
    assert names(e, "/media/usb", kind=DestinationKind.DIR, suffix="-mirror") == [
        "dir:/media/usb/busybox:1-glibc-mirror", "dir:/media/usb/busybox:latest-mirror",
        "dir:/media/usb/busybox:1-mirror"]


def test_digest_source_keeps_the_digest() -> None:
    digest = "sha256:" + "a" * 64
    assert names(docker_entry(f"reg.example.com/app@{digest}"), "mirror.example.com") == [
        f"docker://mirror.example.com/app@{digest}"]


def test_suffix_after_a_digest_fails_that_image() -> None:
    e = docker_entry(f"reg.example.com/app@sha256:{'a' * 64}", "reg.example.com/app:1")
    items, failures = plan_items([e], [e.resolve()], DestinationKind.DOCKER, "mirror.example.com", scoped=False,
                                 append_suffix="-x", shard=None)
    assert [i.destination for i in items] == ["docker://mirror.example.com/app:1-x"]
    assert len(failures) == 1 and failures[0].error.code.startswith(("invalid", "reference"))


def test_collision_fails_the_later_source_and_duplicates_merge() -> None:
    a = docker_entry("one.example.com/app:1", "one.example.com/app:1")
    b = docker_entry("two.example.com/app:1")
    items, failures = plan_items([a, b], [a.resolve(), b.resolve()], DestinationKind.DOCKER, "m.example.com",
                                 scoped=False, append_suffix="", shard=None)
    assert [str(i.source) for i in items] == ["docker://one.example.com/app:1"]
    assert [(f.source, f.error.code) for f in failures] == [("docker://two.example.com/app:1",
                                                             "sync-destination-collision")]
    items, failures = plan_items([a, b], [a.resolve(), b.resolve()], DestinationKind.DOCKER, "m.example.com",
                                 scoped=True, append_suffix="", shard=None)
    assert len(items) == 2 and not failures


def test_entry_errors_become_failures() -> None:
    e = docker_entry("reg.example.com/app:1")
    boom = TransportError("no such registry")
    items, failures = plan_items([e], [boom], DestinationKind.DOCKER, "m.example.com", scoped=False,
                                 append_suffix="", shard=None)
    assert not items and failures[0].error is boom and failures[0].label == "entry"


def test_shards_partition_the_work_whatever_the_order() -> None:
    all_names = [f"reg.example.com/app{i}:v{j}" for i in range(20) for j in range(5)]
    e = docker_entry(*all_names)
    full = names(e, "m.example.com")
    parts = [names(e, "m.example.com", shard=Shard(i, 3)) for i in range(3)]
    assert sorted(n for p in parts for n in p) == sorted(full)
    assert all(parts) and len({n for p in parts for n in p}) == len(full)
    reordered = docker_entry(*reversed(all_names))
    assert sorted(names(reordered, "m.example.com", shard=Shard(1, 3))) == sorted(parts[1])
    assert names(e, "m.example.com", shard=Shard(0, 1)) == full


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1", "a/b", "1/0", "/2", "0/-1"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(UsageError) as info:
        Shard.parse(text)
    assert info.value.code == "invalid-shard"


def test_shard_parse() -> None:
    assert Shard.parse("2/4") == Shard(2, 4)


def make_image_dir(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"schemaVersion": 2}))
    (path / "version").write_text("Directory Transport Version: 1.1\n")


def test_dir_walk_names_relative_to_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "usb"
    for sub in ("busybox:1-glibc", "team/app:2", "team/app:2/nested:3", "b/c/d:1"):
        if sub != "team/app:2/nested:3":
            make_image_dir(root / sub)
    make_image_dir(root / "team/app:2/nested:3")  # below an image: never searched
    (root / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    for source in (str(root), "usb", "./usb/"):  # relative sources name the same images (skopeo: only absolute)
        [entry] = dir_entries(source, SystemContext())
        assert names(entry, "reg.example.com/test") == [
            "docker://reg.example.com/test/d:1", "docker://reg.example.com/test/busybox:1-glibc",
            "docker://reg.example.com/test/app:2"]
        assert names(entry, "reg.example.com/test", scoped=True) == [
            "docker://reg.example.com/test/b/c/d:1", "docker://reg.example.com/test/busybox:1-glibc",
            "docker://reg.example.com/test/team/app:2"]


def test_dir_source_that_is_an_image(tmp_path: Path) -> None:
    make_image_dir(tmp_path / "busybox:1-glibc")
    [entry] = dir_entries(str(tmp_path / "busybox:1-glibc"), SystemContext())
    assert names(entry, "my-registry.local.lan/test/") == ["docker://my-registry.local.lan/test/busybox:1-glibc"]
    assert names(entry, "my-registry.local.lan/test/", scoped=True) == [
        "docker://my-registry.local.lan/test/busybox:1-glibc"]


def test_dir_source_errors(tmp_path: Path) -> None:
    with pytest.raises(TransportError) as info:
        dir_entries(str(tmp_path / "missing"), SystemContext())
    assert info.value.code == "sync-source-invalid"
    (tmp_path / "empty").mkdir()
    [entry] = dir_entries(str(tmp_path / "empty"), SystemContext())
    with pytest.raises(TransportError) as info:
        entry.resolve()
    assert info.value.code == "sync-nothing-found"


def test_dir_walk_does_not_follow_symlinks(tmp_path: Path) -> None:
    make_image_dir(tmp_path / "elsewhere" / "img:1")
    (tmp_path / "src").mkdir()
    make_image_dir(tmp_path / "src" / "real:1")
    os.symlink(tmp_path / "elsewhere", tmp_path / "src" / "link")
    [entry] = dir_entries(str(tmp_path / "src"), SystemContext())
    assert names(entry, "r.example.com") == ["docker://r.example.com/real:1"]


def test_docker_source_image_or_repository() -> None:
    [single] = docker_entries("reg.example.com/app:1", SystemContext())
    assert [str(r) for r in single.resolve()] == ["docker://reg.example.com/app:1"]
    with pytest.raises(Exception, match="invalid --src docker source"):
        docker_entries("UPPER/x", SystemContext())
