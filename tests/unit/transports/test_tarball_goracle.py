"""``tarball:`` images against containers/image's own tarball transport, on generated files.

The Go oracle (tests/goracle/tarball) parses ``tarball:PATH[:PATH…]`` with containers/image's
ParseReference, opens the image source and reads the manifest, the config and every layer.
trustcopy must accept and refuse the same names (at the same step: parsing or opening the
source), agree on the string within the transport, the policy identity (``""``), the
namespaces (none) and the scope check, and build the *same bytes*: manifest, config (so the
same config digest), layer digests, sizes and media types. Files are generated: plain tars,
gzip (several members, trailing bytes, truncated, a gzip magic with a bad header), zstd,
bzip2, xz, empty files, bytes that are no tar, a tar whose first name starts like bzip2,
directories, symbolic links (to a file, to a directory, dangling, looping), missing files,
names with ``@``, spaces, a leading ``-``, non-ASCII, and names holding ``:`` (the separator:
no such file can be named), the same file several times, and standard input (``-``).

Times: the config's ``created`` values are the files' modification times in Go's local time
zone (``time.Local``); each example sets file times to the nanosecond and a zone ($TZ here,
``time.Local`` in the oracle), including zones with half-hour offsets, +14:00, and local
mean time before a zone's first transition (offsets with seconds).

Known differences, each narrow and documented in trustcopy/transports/tarball.py (NOTE(go-diff)):

- zstd: 5.23 takes a zstd file as an uncompressed tar (media type ``tar``, diff ID = the
  file's digest); trustcopy, as the newest containers/image, makes a ``tar+zstd`` layer with
  the content's diff ID. The test turns 5.23's answer into the newest's (media type, diff ID,
  history, config digest) and compares those bytes; a corrupt zstd file is refused.
- bzip2/xz magic: refused (5.23: an uncompressed tar; the newest: a ``tar+gzip`` label).
- gzip magic without a gzip stream: refused, as the newest does (5.23: an uncompressed tar).
- standard input: its time is "now" in both; that one value is masked.
- FIFOs and devices (plain tests below): containers/image blocks on a FIFO; trustcopy refuses.
- ``-`` twice (plain test below): containers/image reads standard input twice (the second
  reading is empty, and wins); trustcopy refuses the name.
"""

from __future__ import annotations

import base64
import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import zstandard
from goracle import Oracle, oracle_fixture
from hypothesis import event, example, given
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import InvalidReferenceError, TrustcopyError
from trustcopy.transports import tarball
from trustcopy.transports.base import ImageReference
from trustcopy.transports.tarball import TRANSPORT, go_time
from trustcopy.types import BlobInfo, SystemContext

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("tarball", "containers/image's tarball transport")

_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_REFUSED_MAGIC = (b"BZh", b"\xfd7zXZ\x00")

ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "Pacific/Kiritimati", "Europe/Amsterdam",
         "America/Los_Angeles", "Africa/Monrovia", "Australia/Lord_Howe", "Etc/GMT+12"]


# --- generated inputs --------------------------------------------------------------------------


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


tars = st.builds(_tar, st.lists(st.tuples(st.text(alphabet="abBZh./", min_size=1, max_size=8),
                                          st.binary(max_size=64)), max_size=3))


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    """A layer file's bytes: a tar, plain or compressed, or something bent out of shape."""
    kind = draw(st.sampled_from(["tar"] * 4 + ["gzip"] * 3 + ["zstd"] + ["gzip2", "gzip-trailing", "gzip-truncated",
                                 "gzip-bad-header", "zstd", "zstd-truncated", "bzip2", "xz", "empty", "junk",
                                 "bzh-tar"]))
    tar = draw(tars)
    if kind == "tar":
        return tar
    if kind == "gzip":
        return gzip.compress(tar, mtime=draw(st.integers(0, 2**32 - 1)))
    if kind == "gzip2":
        return gzip.compress(tar[:512], mtime=0) + gzip.compress(tar[512:], mtime=0)
    if kind == "gzip-trailing":
        return gzip.compress(tar, mtime=0) + draw(st.sampled_from([b"\0" * 8, b"junk", _GZIP_MAGIC]))
    if kind == "gzip-truncated":
        data = gzip.compress(tar, mtime=0)
        return data[:draw(st.integers(3, len(data) - 1))]
    if kind == "gzip-bad-header":
        return _GZIP_MAGIC + draw(st.sampled_from([b"", b"\xe0", b"\x00\x00\x00\x00\x00\x00\xff", b"\x00"]))
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    if kind == "zstd-truncated":
        data = zstandard.ZstdCompressor().compress(tar)
        return data[:draw(st.integers(4, len(data) - 1))]
    if kind == "bzip2":
        return bz2.compress(tar)
    if kind == "xz":
        return lzma.compress(tar)
    if kind == "empty":
        return b""
    if kind == "junk":
        return draw(st.binary(min_size=1, max_size=40))
    return _tar([("BZh.txt", b"x")])  # bzh-tar: an uncompressed tar starting with bzip2's magic


names = st.one_of(st.text(alphabet="ab@-. é", min_size=1, max_size=6).filter(lambda n: n not in (".", "..", "-")),
                  st.sampled_from(["sub/layer.tar", "a@sha256", "-x", "a:b", "x y"]))
#: seconds within what ext4 stores (1901 … 2446), and the nanoseconds
mtimes = st.builds(lambda s, ns: s * 1_000_000_000 + ns, st.integers(-(2**31), 2**34 - 1),
                   st.integers(0, 999_999_999) | st.just(0))


@st.composite
def trees(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Files to create: regular files, directories, symbolic links."""
    entries: list[dict[str, Any]] = []
    for name in draw(st.lists(names, min_size=1, max_size=4, unique=True)):
        kind = draw(st.sampled_from(["file"] * 6 + ["dir", "link", "dangling", "loop"]))
        entry: dict[str, Any] = {"name": name, "kind": kind}
        if kind == "file":
            entry["data"], entry["mtime"] = draw(contents()), draw(mtimes)
        elif kind == "link":
            entry["target"] = draw(st.sampled_from(["."] + [e["name"] for e in entries]))
        entries.append(entry)
    return entries


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A tree, a ``tarball:`` reference into it, standard input and a time zone."""
    tree = draw(trees())
    pool = [e["name"] for e in tree if e["kind"] == "file"] * 6 + [e["name"] for e in tree] + ["missing", ""]
    refs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
    stdin = None
    if draw(st.booleans()):
        refs.insert(draw(st.integers(0, len(refs))), "-")
        stdin = draw(contents())
    return {"tree": tree, "ref": ":".join(refs), "stdin": stdin, "tz": draw(st.sampled_from(ZONES))}


def _build(root: Path, tree: list[dict[str, Any]]) -> None:
    for entry in tree:
        path = root / entry["name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry["kind"] == "file":
            path.write_bytes(entry["data"])
            os.utime(path, ns=(entry["mtime"], entry["mtime"]))
        elif entry["kind"] == "dir":
            path.mkdir()
        elif entry["kind"] == "link":
            path.symlink_to(os.path.relpath(root / entry["target"], path.parent))
        elif entry["kind"] == "dangling":
            path.symlink_to("nowhere")
        else:
            path.symlink_to(path.name)


@contextlib.contextmanager
def _zone(tz: str) -> Iterator[None]:
    """$TZ for this process's local time (what Go's time.Local is in skopeo)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


# --- trustcopy's answer ------------------------------------------------------------------------


def _any_ref(ref: ImageReference) -> ImageReference:
    """The reference as any transport's (whose Docker reference may be set)."""
    return ref


def _ours(ref_text: str, stdin: bytes | None) -> dict[str, Any]:
    """What trustcopy makes of the reference, in the oracle's terms (stage of an error, or every output)."""
    try:
        ref = TRANSPORT.parse_reference(ref_text)
    except InvalidReferenceError as exc:
        return {"error": exc, "stage": "parse"}
    try:
        TRANSPORT.validate_policy_configuration_scope(ref_text)
        scope_error = ""
    except ValueError as exc:
        scope_error = str(exc)
    answer: dict[str, Any] = {
        "within": ref.string_within_transport(), "identity": ref.policy_configuration_identity(),
        "namespaces": ref.policy_configuration_namespaces(), "docker_ref": _any_ref(ref).docker_reference() is not None,
        "scope_error": scope_error,
    }
    with mock.patch.object(tarball, "sys_stdin", lambda: io.BytesIO(stdin or b"")):
        try:
            src = ref.new_image_source(SystemContext())
        except TrustcopyError as exc:
            return {"error": exc, "stage": "source"}
    with src:
        manifest, answer["mime"] = src.get_manifest()
        answer["manifest"] = manifest.decode()
        parsed = json.loads(manifest)
        blobs = []
        for desc in [parsed["config"], *parsed["layers"]]:
            stream, size = src.get_blob(BlobInfo(digest=Digest.parse(desc["digest"])))
            with stream:
                data = stream.read()
            if desc is parsed["config"]:
                answer["config"] = data.decode()
            blobs.append({"digest": desc["digest"], "size": size, "read_size": len(data),
                          "read_digest": "sha256:" + hashlib.sha256(data).hexdigest()})
        answer["blobs"] = blobs
    return answer


# --- known differences -------------------------------------------------------------------------


def _layer_bytes(root: Path, name: str, stdin: bytes | None) -> bytes | None:
    if name == "-":
        return stdin
    path = root / name
    return path.read_bytes() if path.is_file() else None


def _decodes(data: bytes, magic: bytes) -> bool:
    """Whether Python's own decoder reads the whole stream (several members/frames, nothing after)."""
    try:
        if magic == _GZIP_MAGIC:
            gzip.decompress(data)
        else:  # one frame, its size in its header (as the generator makes them)
            zstandard.ZstdDecompressor().decompress(data)
        return True
    except (OSError, EOFError, zlib.error, zstandard.ZstdError):
        return False


def _with_config(manifest: str, old_config: str, new_config: str) -> str:
    """The manifest with its config descriptor pointing at ``new_config`` instead of ``old_config``."""
    def desc(config: str) -> str:
        return f'"digest":"sha256:{hashlib.sha256(config.encode()).hexdigest()}","size":{len(config.encode())}'
    assert desc(old_config) in manifest
    return manifest.replace(desc(old_config), desc(new_config), 1)


def _newest(go: dict[str, Any], layers: list[bytes | None]) -> dict[str, Any]:
    """5.23's answer as the newest containers/image gives it: zstd files are tar+zstd layers of their content."""
    manifest, config = go["manifest"], go["config"]
    descriptors, diff_ids = json.loads(manifest)["layers"], json.loads(config)["rootfs"]["diff_ids"]
    done = set()
    for i, data in enumerate(layers):
        if data is None or not data.startswith(_ZSTD_MAGIC):
            continue
        blob = descriptors[i]
        assert blob["mediaType"] == _LAYER_TAR  # 5.23: an uncompressed tar ...
        assert diff_ids[i] == blob["digest"]  # ... whose diff ID is the file's
        if blob["digest"] in done:  # the same file again: replaced already
            continue
        done.add(blob["digest"])
        diff_id = hashlib.sha256(zstandard.ZstdDecompressor().decompress(data)).hexdigest()
        config = config.replace(blob["digest"].removeprefix("sha256:"), diff_id)
        old = f'"mediaType":"{_LAYER_TAR}","digest":"{blob["digest"]}"'
        assert old in manifest
        manifest = manifest.replace(old, f'"mediaType":"{_LAYER_ZSTD}","digest":"{blob["digest"]}"')
    manifest = _with_config(manifest, go["config"], config)
    return {**go, "manifest": manifest, "config": config, "blobs": [
        {**go["blobs"][0], "digest": f"sha256:{hashlib.sha256(config.encode()).hexdigest()}",
         "size": len(config.encode()), "read_size": len(config.encode()),
         "read_digest": f"sha256:{hashlib.sha256(config.encode()).hexdigest()}"}, *go["blobs"][1:]]}


def _mask_now(answer: dict[str, Any], index: int) -> dict[str, Any]:
    """The answer with the standard-input layer's time ("now", different in each program) masked."""
    config = answer["config"]
    now = json.loads(config)["history"][index]["created"]
    masked = config.replace(f'"{now}"', '"NOW"')
    digest = f"sha256:{hashlib.sha256(masked.encode()).hexdigest()}"
    return {**answer, "config": masked, "manifest": _with_config(answer["manifest"], config, masked),
            "blobs": [{**answer["blobs"][0], "digest": digest, "read_digest": digest,
                       "size": len(masked.encode()), "read_size": len(masked.encode())}, *answer["blobs"][1:]]}


def _refusal_is_known(ours: dict[str, Any], layers: list[bytes | None]) -> bool:
    """Whether trustcopy's refusal of an image 5.23 builds is a documented one (module docstring).

    The files are read in order, so the refusal is for the first file of a known kind,
    with that kind's error.
    """
    code = ours["error"].code
    for data in layers:
        assert data is not None  # 5.23 built the image: every name is a file or "-"
        if data.startswith(_REFUSED_MAGIC):
            return code == "manifest-layer-compression-unsupported"
        for magic in (_GZIP_MAGIC, _ZSTD_MAGIC):
            if data.startswith(magic) and not _decodes(data, magic):
                return code == "corrupt-compressed-data"
    return False


# --- the comparison ----------------------------------------------------------------------------


def _compare(oracle: Oracle, case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="tc-tarball-") as tmp:
        root = Path(tmp)
        _build(root, case["tree"])
        ref, stdin = case["ref"], case["stdin"]
        request: dict[str, Any] = {"ref": ref, "cwd": str(root), "tz": case["tz"]}
        if stdin is not None:
            request["stdin"] = base64.b64encode(stdin).decode()
        go = oracle.ask(request)
        assert go.get("stage") != "setup", go
        with _zone(case["tz"]), contextlib.chdir(root):
            ours = _ours(ref, stdin)
            layers = [_layer_bytes(root, name, stdin) for name in ref.split(":")]
        event(f"c/image: {go.get('stage', 'builds')}, trustcopy: {ours.get('stage', 'builds')}")
        if "error" in go:
            assert "error" in ours, f"tarball:{ref}: c/image refuses ({go['stage']}): {go['error']}; we accept"
            assert ours["stage"] == go["stage"], (ref, go, ours["error"].message)
            if ours["stage"] == "parse":
                assert ours["error"].code == "invalid-path", (ref, ours["error"].message)
            return
        if "error" in ours:
            assert _refusal_is_known(ours, layers), \
                f"tarball:{ref}: c/image builds it, we refuse ({ours['stage']}): {ours['error'].message}"
            return
        want = _newest(go, layers)
        if "-" in ref.split(":"):
            index = ref.split(":").index("-")
            want, ours = _mask_now(want, index), _mask_now(ours, index)
        for key in ("within", "identity", "docker_ref", "scope_error", "mime", "config", "manifest", "blobs"):
            assert ours[key] == want[key], f"tarball:{ref} ({case['tz']}): {key}"
        assert ours["namespaces"] == (want["namespaces"] or [])


def _file(name: str, data: bytes, mtime: int = 1_700_000_000_123_456_789) -> dict[str, Any]:
    return {"name": name, "kind": "file", "data": data, "mtime": mtime}


_TAR = _tar([("etc/hostname", b"box\n")])


@given(cases())
@example({"tree": [_file("a", _TAR), _file("b.gz", gzip.compress(_TAR, mtime=0), 1_800_000_000 * 10**9)],
          "ref": "a:b.gz:a", "stdin": None, "tz": "Europe/Berlin"})
@example({"tree": [_file("z", zstandard.ZstdCompressor().compress(_TAR))], "ref": "z", "stdin": None,
          "tz": "America/St_Johns"})
@example({"tree": [_file("old", _TAR, -(2**31) * 10**9 + 5)], "ref": "old", "stdin": None,
          "tz": "Europe/Amsterdam"})  # local mean time: +00:19:32, shown as +00:19
@example({"tree": [_file("e", b"")], "ref": "e:-", "stdin": b"", "tz": "UTC"})
@example({"tree": [_file("a@sha256", _TAR), {"name": "d", "kind": "dir"}], "ref": "a@sha256:d", "stdin": None,
          "tz": "UTC"})
@example({"tree": [_file("t", _tar([("BZh.txt", b"x")]))], "ref": "t", "stdin": None, "tz": "UTC"})
@example({"tree": [_file("g", _GZIP_MAGIC + b"\xe0")], "ref": "g", "stdin": None, "tz": "UTC"})
@example({"tree": [_file("a:b", _TAR), _file("a", _TAR)], "ref": "a:b", "stdin": None, "tz": "UTC"})
@example({"tree": [_file("f", _TAR), {"name": "l", "kind": "link", "target": "f"},
                   {"name": "loop", "kind": "loop"}], "ref": "l:loop", "stdin": None, "tz": "UTC"})
@example({"tree": [_file("f", _TAR)], "ref": "f:", "stdin": None, "tz": "UTC"})
def test_tarball_images_agree_with_containers_image(oracle: Oracle, case: dict[str, Any]) -> None:
    _compare(oracle, case)


# --- plain tests: what the oracle cannot be asked ----------------------------------------------


@pytest.mark.parametrize(("ns", "tz", "want"), [
    (1_700_000_000_123_450_000, "UTC", "2023-11-14T22:13:20.12345Z"),
    (1_700_000_000_000_000_000, "Europe/Berlin", "2023-11-14T23:13:20+01:00"),
    (1_700_000_000_000_000_001, "America/St_Johns", "2023-11-14T18:43:20.000000001-03:30"),
    (-(2**31) * 10**9, "Europe/Amsterdam", "1901-12-13T21:05:24+00:19"),  # LMT +00:19:32
])
def test_times_are_local_as_go_marshals_them(ns: int, tz: str, want: str) -> None:
    # Found by the oracle: the config's times were always UTC ("Z"), skopeo's local
    # (Go's time.Local), so on a machine outside UTC the config digest differed.
    with _zone(tz):
        assert go_time(ns) == want


@pytest.mark.parametrize("ns", [253_402_300_800 * 10**9, 10**30, -62_135_596_801 * 10**9])
def test_time_outside_years_0_to_9999_is_an_error(ns: int) -> None:
    # Go's json refuses to marshal such a time (containers/image then fails to build the
    # config); a filesystem with 64-bit seconds (btrfs) can store one. It crashed with a
    # ValueError/OverflowError before.
    with _zone("UTC"), pytest.raises(TrustcopyError, match="year outside"):
        go_time(ns)


@pytest.mark.parametrize("tz", ["JST-9", "CET-1CEST,M3.5.0,M10.5.0/3", ":Asia/Tokyo", "",
                                "/usr/share/zoneinfo/Asia/Kolkata", "UTC", "No/Such_Zone"])
def test_zone_from_tz_as_go_reads_it(tmp_path: Path, tz: str) -> None:
    # Go takes $TZ only as a zone file, else UTC; the C library also takes POSIX rules
    # ("JST-9": +09:00 for Python, UTC for skopeo). A separate oracle with this $TZ.
    path = tmp_path / "layer.tar"
    path.write_bytes(_TAR)
    os.utime(path, ns=(1_700_000_000_5 * 10**8, 1_700_000_000_5 * 10**8))
    with _zone(tz):
        go_process = Oracle("tarball")
        try:
            go = go_process.ask({"ref": str(path)})
        finally:
            go_process.close()
        ours = _ours(str(path), None)
    assert "error" not in go and "error" not in ours, (go, ours)
    assert ours["config"] == go["config"]


def test_unreadable_file_is_refused_when_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # containers/image opens every file while parsing; root reads anything, so EACCES is simulated.
    path = tmp_path / "locked.tar"
    path.write_bytes(_TAR)
    real_open = os.open

    def deny(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(InvalidReferenceError, match="Permission denied") as exc:
        TRANSPORT.parse_reference(str(path))
    assert exc.value.code == "invalid-path"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    # containers/image blocks in open() until a writer comes; trustcopy must neither hang
    # nor release (and then break) a writer waiting on the FIFO.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            TRANSPORT.parse_reference(str(fifo)).new_image_source(SystemContext())
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock it before failing
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        pytest.fail("tarball: a FIFO blocked")
    assert isinstance(outcome[0], TrustcopyError) and outcome[0].code == "not-a-regular-file", outcome


def test_device_is_refused() -> None:
    # /dev/zero would be read forever by containers/image (it takes any file that opens).
    with pytest.raises(TrustcopyError) as exc:
        TRANSPORT.parse_reference("/dev/zero").new_image_source(SystemContext())
    assert exc.value.code == "not-a-regular-file"


def test_standard_input_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidReferenceError, match="only once"):
        TRANSPORT.parse_reference("-:-")
