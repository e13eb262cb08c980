"""Concurrent writers and readers of one local destination, as parallel CI jobs run them.

Real ``trustcopy`` processes (4-8 at once, repeated) write different tags, or the same tag,
into one ``oci:`` layout, share a ``--dest-shared-blob-dir``, rewrite a ``dir:`` image
(``copy`` and ``sync --dest dir``) while others read it, and copy into a layout while
``delete`` removes another of its images. What must hold at the end of every round:

- every tag written by a process that succeeded is in index.json (no lost entry), and
  index.json is valid JSON whenever anyone reads it (it is replaced by rename, under a lock);
- every blob a committed entry references is present and matches its digest (no blob a
  concurrent ``delete`` removed; nothing half-written under its final name);
- a process that must fail says why in one ``error[CODE]`` line, never with a traceback;
- no staging entry is left beside or inside the destination.

For the record (same scenarios, run with skopeo 1.9.3 while these tests were written):
skopeo reads index.json when the destination opens and rewrites it in place (truncate, then
write; no lock, no re-read) at commit, so parallel copies of different tags keep only the
last committer's entry (7 of 8 lost in most rounds, with a shared blob directory too), and a
writer opening the layout while another truncates it fails with ``EOF``. Its ``dir:`` writers
empty the directory and write into it, so concurrent readers fail on a missing
``manifest.json`` and the directory ends with blobs of several images. It has no ``delete``
for ``oci:`` ("Deleting images not implemented for oci: images"); the newest
containers/image has one, which takes no lock either (oci_delete.go).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, Layer, make_image, make_tar, random_layer, write_oci
from registry_fixtures import RegistryServer, fast_sys, push_image

from trustcopy.fsutil import STAGING_PREFIX

REF_NAME = "org.opencontainers.image.ref.name"
TRUSTCOPY = [sys.executable, "-m", "trustcopy"]


def _images(count: int, seed: int = 0) -> dict[str, Image]:
    """``count`` small images sharing one layer, each with its own (so that blobs overlap)."""
    shared = Layer(make_tar([("shared.txt", b"in every image\n")]))
    return {f"s{i}": make_image([shared, Layer(make_tar([(f"own{i}.txt", f"image {seed}/{i}\n".encode() * 64)])),
                                 random_layer(40_000, 1000 * seed + i)])
            for i in range(count)}


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.json"
    p.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return p


def _start(policy: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*TRUSTCOPY, "--policy", str(policy), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd="/")


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        out.append((p.returncode, stdout, stderr))
    return out


def _names(layout: Path) -> dict[str, dict[str, Any]]:
    index = json.loads((layout / "index.json").read_bytes())
    return {m["annotations"][REF_NAME]: m for m in index["manifests"] if REF_NAME in m.get("annotations", {})}


def _blob(root: Path, digest: str) -> bytes:
    algorithm, hexpart = digest.split(":")
    data = (root / algorithm / hexpart).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hexpart, f"{digest} does not match its blob"
    return data


def _check_layout(layout: Path, blobs: Path | None = None) -> None:
    """Every entry's manifest, config and layers are present and match their digests; no staging is left."""
    root = blobs or layout / "blobs"
    for entry in json.loads((layout / "index.json").read_bytes())["manifests"]:
        manifest = json.loads(_blob(root, entry["digest"]))
        for desc in [manifest["config"], *manifest["layers"]]:
            _blob(root, desc["digest"])
    for directory in (layout, layout.parent, root, *(root.iterdir() if root.is_dir() else ())):
        assert not [n for n in os.listdir(directory) if n.startswith((STAGING_PREFIX, ".tmp-", ".put-"))], directory


@pytest.mark.parametrize("existing", [False, True], ids=["new-layout", "existing-layout"])
def test_parallel_copies_of_different_tags_keep_every_entry(tmp_path: Path, policy: Path, existing: bool) -> None:
    """8 copies into one layout, each its own tag: all 8 entries (and the earlier one) are there."""
    images = _images(8)
    write_oci(images, str(tmp_path / "src"))
    for round_ in range(1 if existing else 2):
        layout = tmp_path / f"dst{round_}"
        if existing:
            assert _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s0", f"oci:{layout}:before")])[0][0] == 0
        results = _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s{i}", f"oci:{layout}:t{i}")
                           for i in range(8)])
        assert [r[0] for r in results] == [0] * 8, [r[2] for r in results]
        names = _names(layout)
        assert set(names) == {f"t{i}" for i in range(8)} | ({"before"} if existing else set())
        for i in range(8):
            assert names[f"t{i}"]["digest"] == images[f"s{i}"].digest
        _check_layout(layout)


def test_parallel_copies_of_one_tag(tmp_path: Path, policy: Path) -> None:
    """6 copies of different images to the same tag: one entry keeps the name, the others stay unnamed
    (containers/image's addManifest: the name moves), none is lost and the layout stays whole."""
    images = _images(6, seed=1)
    write_oci(images, str(tmp_path / "src"))
    layout = tmp_path / "dst"
    results = _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s{i}", f"oci:{layout}:latest")
                       for i in range(6)])
    assert [r[0] for r in results] == [0] * 6, [r[2] for r in results]
    index = json.loads((layout / "index.json").read_bytes())
    named = [m for m in index["manifests"] if REF_NAME in m.get("annotations", {})]
    assert len(named) == 1 and named[0]["annotations"][REF_NAME] == "latest"
    assert {m["digest"] for m in index["manifests"]} == {im.digest for im in images.values()}
    _check_layout(layout)


class _IndexWatcher:
    """Reads index.json (or manifest.json) in a loop while the processes run: it must always parse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                continue
            finally:
                time.sleep(0.002)  # two CPUs may be all the processes watched get
            try:
                json.loads(data)
            except ValueError as exc:
                self.errors.append(f"{exc}: {data[:80]!r}")
            self.reads += 1

    def __enter__(self) -> _IndexWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_readers_during_writers_of_a_layout(tmp_path: Path, policy: Path) -> None:
    """``inspect`` and ``copy oci:L:t`` while others rewrite ``t`` and add tags: every reader succeeds
    with one of the images ``t`` has named, and index.json is always valid JSON."""
    images = _images(4, seed=2)
    write_oci(images, str(tmp_path / "src"))
    layout = tmp_path / "lay"
    assert _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s0", f"oci:{layout}:t")])[0][0] == 0
    digests = {im.digest for im in images.values()}
    with _IndexWatcher(layout / "index.json") as watcher:
        for round_ in range(2):
            writers = [_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s{(i + round_) % 4}",
                              f"oci:{layout}:{'t' if i % 2 else f'w{i}'}") for i in range(4)]
            readers = [_start(policy, "inspect", "--raw", f"oci:{layout}:t") for _ in range(2)]
            readers += [_start(policy, "copy", "-q", f"oci:{layout}:t", f"dir:{tmp_path}/out{round_}-{i}")
                        for i in range(2)]
            results = _finish(writers + readers)
            assert [r[0] for r in results] == [0] * 8, [r[2] for r in results]
            for _, stdout, _ in results[4:6]:
                assert "sha256:" + hashlib.sha256(stdout.encode()).hexdigest() in digests
            for i in range(2):
                copied = (tmp_path / f"out{round_}-{i}" / "manifest.json").read_bytes()
                assert "sha256:" + hashlib.sha256(copied).hexdigest() in digests
    assert watcher.reads > 0 and watcher.errors == []
    _check_layout(layout)


def test_parallel_copies_sharing_a_blob_directory(tmp_path: Path, policy: Path) -> None:
    """6 copies into 3 layouts with one ``--dest-shared-blob-dir``: every file in it is a whole,
    verified blob, every entry is there, and no temporary is left in it."""
    images = _images(4, seed=3)
    write_oci(images, str(tmp_path / "src"))
    shared = tmp_path / "shared"
    shared.mkdir()
    layouts = [tmp_path / f"lay{i % 3}" for i in range(6)]
    results = _finish([_start(policy, "copy", "-q", "--dest-shared-blob-dir", str(shared),
                              f"oci:{tmp_path}/src:s{i % 4}", f"oci:{layouts[i]}:t{i}") for i in range(6)])
    assert [r[0] for r in results] == [0] * 6, [r[2] for r in results]
    for i, layout in enumerate(layouts):
        assert _names(layout)[f"t{i}"]["digest"] == images[f"s{i % 4}"].digest
    for layout in set(layouts):
        _check_layout(layout, shared)
        assert list((layout / "blobs").iterdir()) == []  # every blob went to the shared directory
    for f in (shared / "sha256").iterdir():
        _blob(shared, f"sha256:{f.name}")  # nothing else (no half-copied temporary) is in it


def test_second_of_two_copies_into_a_shared_blob_directory_keeps_no_blob_in_its_layout(tmp_path: Path) -> None:
    """Found here: two copies of one image, each into a new layout, with one shared blob directory.
    Both stage every blob (none was there when they began); the second to commit found them in the
    shared directory already, left its staged copies in place, and its staging directory, renamed
    into the new layout, kept a second copy of every blob in blobs/sha256. Now they are dropped."""
    import io

    from trustcopy.digest import Digest
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import BlobInfo, SystemContext

    image = _images(1, seed=8)["s0"]
    shared = tmp_path / "shared"
    shared.mkdir()
    sys_ctx = SystemContext(oci_shared_blob_dirs=(str(shared),))
    dests = [parse_image_name(f"oci:{tmp_path}/lay{i}:t").new_image_destination(sys_ctx) for i in range(2)]
    try:
        for dest in dests:
            for digest, data in image.blobs.items():
                info = BlobInfo(digest=Digest.parse(digest), size=len(data))
                assert dest.try_reusing_blob(info) is None
                dest.put_blob(io.BytesIO(data), info)
            dest.put_manifest(image.manifest)
        for dest in dests:
            dest.commit(image.manifest)
    finally:
        for dest in dests:
            dest.close()
    for i in range(2):
        assert _names(tmp_path / f"lay{i}")["t"]["digest"] == image.digest
        assert list((tmp_path / f"lay{i}" / "blobs").iterdir()) == []
        _check_layout(tmp_path / f"lay{i}", shared)


def _delete_race_layout(tmp_path: Path, name: str) -> tuple[Path, Path, Image]:
    """A layout holding ``u`` (whose layers nothing else uses) and ``keep``; a source of ``t``,
    which has all of ``u``'s layers and one more: copying ``t`` reuses ``u``'s layers."""
    big = [random_layer(60_000, 7000 + k) for k in range(3)]
    u, t = make_image(big), make_image([*big, Layer(make_tar([("t.txt", b"t\n")]))])
    layout, src = tmp_path / f"lay-{name}", tmp_path / f"src-{name}"
    write_oci({"u": u, "keep": make_image([Layer(make_tar([("k.txt", b"k\n")]))])}, str(layout))
    write_oci({"t": t}, str(src))
    return layout, src, t


def _reuse_then_delete_then_commit(layout: Path, src: Path) -> None:
    """Drive an oci: destination by hand: reuse ``u``'s layers, let ``delete oci:L:u`` run (it
    removes them, as nothing in index.json uses them yet), then commit ``t``."""
    from trustcopy.digest import Digest
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import BlobInfo, SystemContext

    sys_ctx = SystemContext()
    with parse_image_name(f"oci:{src}:t").new_image_source(sys_ctx) as source:
        manifest, _ = source.get_manifest()
        parsed = json.loads(manifest)
        dest = parse_image_name(f"oci:{layout}:t").new_image_destination(sys_ctx)
        try:
            for desc in [parsed["config"], *parsed["layers"]]:
                info = BlobInfo(digest=Digest.parse(desc["digest"]), size=desc["size"])
                if dest.try_reusing_blob(info) is None:
                    stream, _ = source.get_blob(info)
                    with stream:
                        dest.put_blob(stream, info)
            r = subprocess.run([*TRUSTCOPY, "delete", f"oci:{layout}:u"], check=False, capture_output=True,
                               text=True)
            assert r.returncode == 0, r.stderr
            dest.put_manifest(manifest)
            dest.commit(manifest)
        finally:
            dest.close()


def test_delete_between_reuse_and_commit_removes_no_blob_of_the_new_image(tmp_path: Path) -> None:
    """Found here: ``copy`` reused ``u``'s layers from blobs/, ``delete oci:L:u`` removed them
    (nothing indexed used them), and the copy's commit indexed ``t`` naming three missing blobs
    (a reader then failed with blob not found). Now a reused blob is held by a hard link in
    staging, which commit puts back under the same lock the delete takes."""
    layout, src, t = _delete_race_layout(tmp_path, "held")
    _reuse_then_delete_then_commit(layout, src)
    assert set(_names(layout)) == {"keep", "t"} and _names(layout)["t"]["digest"] == t.digest
    _check_layout(layout)


def test_delete_between_reuse_and_commit_without_hard_links_refuses_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no hard link can be made (``fs.protected_hardlinks`` for another user's blob, a
    filesystem without links), commit checks under the lock and refuses: index.json is left as the
    delete made it, the message names the blob and says why."""
    from trustcopy.errors import TransportError

    def no_link(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "link", no_link)
    layout, src, _ = _delete_race_layout(tmp_path, "nolink")
    with pytest.raises(TransportError, match=r"blob sha256:[0-9a-f]{64}, already in the layout when this copy "
                                             r"began, was removed meanwhile") as info:
        _reuse_then_delete_then_commit(layout, src)
    assert info.value.code == "transport"
    assert set(_names(layout)) == {"keep"}
    _check_layout(layout)


def test_copies_racing_deletes_of_a_layout(tmp_path: Path, policy: Path) -> None:
    """The same race with real processes, at varied offsets: the copy always succeeds and its
    entry's blobs are all present (before the fix some rounds lost them)."""
    for round_ in range(4):
        layout, src, _ = _delete_race_layout(tmp_path, f"r{round_}")
        copy = _start(policy, "copy", "-q", f"oci:{src}:t", f"oci:{layout}:t")
        time.sleep(0.05 * round_)
        delete = _start(policy, "delete", f"oci:{layout}:u")
        (copy_rc, _, copy_err), (delete_rc, _, delete_err) = _finish([copy, delete])
        assert copy_rc == 0 and delete_rc == 0, (copy_err, delete_err)
        assert set(_names(layout)) == {"keep", "t"}
        _check_layout(layout)


def test_dir_writers_and_readers(tmp_path: Path, policy: Path) -> None:
    """``copy`` into one ``dir:`` from 4 processes while 4 read it: the writers succeed and the
    directory ends as one whole image (never blobs of several); a reader either gets a whole image
    or fails in one line saying the directory was replaced while it was read (a copy swaps in a
    complete new directory, so an image read across the swap has lost its blobs)."""
    images = _images(4, seed=4)
    write_oci(images, str(tmp_path / "src"))
    target = tmp_path / "img"
    assert _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s0", f"dir:{target}")])[0][0] == 0
    digests = {im.digest for im in images.values()}
    writers = [_start(policy, "copy", "-q", f"oci:{tmp_path}/src:s{i}", f"dir:{target}")
               for i in range(4)]
    readers = [_start(policy, "copy", "-q", f"dir:{target}", f"oci:{tmp_path}/out:r{i}")
               for i in range(4)]
    results = _finish(writers + readers)
    assert [r[0] for r in results[:4]] == [0] * 4, [r[2] for r in results[:4]]
    for rc, _, stderr in results[4:]:
        assert rc == 0 or ("error[image-not-found]" in stderr and "replaced by another image" in stderr), stderr
    _assert_whole_dir_image(target, digests)


def _assert_whole_dir_image(target: Path, digests: set[str]) -> None:
    manifest = (target / "manifest.json").read_bytes()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() in digests
    parsed = json.loads(manifest)
    blobs = {d["digest"].split(":")[1] for d in [parsed["config"], *parsed["layers"]]}
    assert set(os.listdir(target)) == blobs | {"manifest.json", "version"}
    for name in blobs:
        assert hashlib.sha256((target / name).read_bytes()).hexdigest() == name
    assert not [n for n in os.listdir(target.parent) if n.startswith(STAGING_PREFIX)]


def test_dir_source_names_a_replaced_directory(tmp_path: Path) -> None:
    """A ``dir:`` image replaced by a copy between reading its manifest and a blob: the missing
    blob's error says the directory was replaced (before: only "blob … not found", in what looks,
    read again, like an intact image)."""
    from trustcopy.digest import Digest
    from trustcopy.errors import ImageNotFoundError
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import BlobInfo, SystemContext

    images = _images(2, seed=5)
    write_oci(images, str(tmp_path / "src"))
    sys_ctx = SystemContext()
    target = tmp_path / "img"

    def copy_into(name: str) -> None:
        from trustcopy.cli.main import main

        assert main(["--insecure-policy", "copy", "-q", f"oci:{tmp_path}/src:{name}", f"dir:{target}"]) == 0

    copy_into("s0")
    with parse_image_name(f"dir:{target}").new_image_source(sys_ctx) as source:
        manifest = json.loads(source.get_manifest()[0])
        copy_into("s1")
        own = manifest["layers"][1]
        with pytest.raises(ImageNotFoundError, match="replaced by another image while it was read") as info:
            source.get_blob(BlobInfo(digest=Digest.parse(own["digest"]), size=own["size"]))
        assert info.value.hint and "concurrent copy" in info.value.hint
    # a blob merely missing from an image nobody replaced keeps the plain message
    with parse_image_name(f"dir:{target}").new_image_source(sys_ctx) as source:
        layer = json.loads(source.get_manifest()[0])["layers"][1]
        (target / layer["digest"].split(":")[1]).unlink()
        with pytest.raises(ImageNotFoundError, match="not found") as info:
            source.get_blob(BlobInfo(digest=Digest.parse(layer["digest"]), size=layer["size"]))
        assert "replaced" not in str(info.value)


@pytest.fixture
def pushed(plain_registry: RegistryServer) -> Iterator[tuple[RegistryServer, dict[str, Image]]]:
    images = _images(3, seed=6)
    for tag, image in images.items():
        push_image(plain_registry.host, f"lib/app:{tag}", image, fast_sys())
    yield plain_registry, images


@pytest.mark.registry
def test_parallel_syncs_to_dir_while_copies_read(tmp_path: Path, policy: Path,
                                                 pushed: tuple[RegistryServer, dict[str, Image]]) -> None:
    """Three ``sync --dest dir`` of one repository into one directory, while ``copy`` reads the
    images it writes: every sync succeeds, each image directory is whole, readers never see half
    of one (they succeed, or fail saying the directory was replaced)."""
    registry, images = pushed
    out = tmp_path / "mirror"
    out.mkdir()
    # Other images under the names the sync writes: each sync must replace them while readers read.
    older = _images(3, seed=7)
    write_oci(older, str(tmp_path / "older"))
    assert [r[0] for r in _finish([_start(policy, "copy", "-q", f"oci:{tmp_path}/older:{tag}", f"dir:{out}/app:{tag}")
                                   for tag in older])] == [0] * 3
    digests = {im.digest for im in [*images.values(), *older.values()]}
    sync = ["sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", f"{registry.host}/lib/app", str(out)]
    syncs = [_start(policy, *sync) for _ in range(3)]
    readers = [_start(policy, "copy", "-q", f"dir:{out}/app:s{i % 3}", f"oci:{tmp_path}/read:r{i}") for i in range(3)]
    results = _finish(syncs + readers)
    assert [r[0] for r in results[:3]] == [0] * 3, [r[2] for r in results[:3]]
    for rc, _, stderr in results[3:]:
        assert rc == 0 or "replaced by another image" in stderr, stderr
    assert sorted(p.name for p in out.iterdir()) == ["app:s0", "app:s1", "app:s2"]
    for tag, image in images.items():
        _assert_whole_dir_image(out / f"app:{tag}", digests)
        written = (out / f"app:{tag}" / "manifest.json").read_bytes()
        assert "sha256:" + hashlib.sha256(written).hexdigest() == image.digest
