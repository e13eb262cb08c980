"""trustcopy's ``docker-archive:`` source against containers/image's (docker/archive over
docker/internal/tarfile), on archives assembled from the format's pieces and near misses.

hypothesis builds a ``docker save`` archive (layers, a config, manifest.json) and bends it:
manifest.json with case-folded or repeated keys, nulls, wrong types, invalid UTF-8 or a BOM;
several images and RepoTags; layer paths spelled ``./x``, ``d/../x``, ``/x``, ``../x``, or
reached through symbolic and hard links (inside and out of the archive, chained); the same
name twice; missing members, directories, a config that is not JSON or has a wrong type
somewhere; a legacy ``repositories`` file alone; the whole archive gzip-compressed; and a
``:NAME[:TAG]`` or ``:@N`` choice. The Go oracle (tests/goracle/dockerarchive) opens it as
skopeo would and reads the generated manifest, the config and every layer. Both must agree:
the same manifest bytes, config bytes and layer contents, or a refusal of the same class.

Known differences, each allowed only where the archive has the feature that causes it
(NOTE(go-diff) in trustcopy/transports/dockertar.py and archivereader.py):
- a name used twice is refused (c/image takes the first member of that name);
- links out of the archive (absolute or through ``..``), a symbolic link to a link, and any
  hard link are refused with a named error (c/image follows one symlink by joining names, so
  an absolute target names a member inside; it reads a hard link's own empty data);
- a layer reached through a symlink has its target's size (c/image: the link header's, 0);
- a diff ID that is not a valid digest is refused (c/image writes it into the manifest);
- a compressed layer whose diff ID is wrong is refused when opening (c/image only measures it);
- containers/image 5.23 cannot read a gzip-compressed archive at all; the newest reads it (as
  the same archive uncompressed), and so do we.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import TrustcopyError
from trustcopy.transports.docker_archive import TRANSPORT
from trustcopy.transports.dockertar import go_clean
from trustcopy.types import BlobInfo, SystemContext

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("dockerarchive", "containers/image's docker-archive: transport (tarfile Reader/Source)")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Archive:
    """The members of a generated archive, in order: (name, kind, data or link target)."""

    members: list[tuple[str, str, Any]] = field(default_factory=list)
    gzip_whole: bool = False

    def add(self, name: str, kind: str, value: Any = None) -> None:
        self.members.append((name, kind, value))

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name, kind, value in self.members:
                info = tarfile.TarInfo(name)
                if kind == "file":
                    info.size = len(value)
                    tar.addfile(info, io.BytesIO(value))
                    continue
                info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[kind]
                info.linkname = value or ""
                tar.addfile(info)
        return buf.getvalue()

    def duplicated(self) -> bool:
        """Some non-directory name appears twice (after cleaning)."""
        seen: dict[str, str] = {}
        for name, kind, _ in self.members:
            key = go_clean(name)
            if key in seen and not (seen[key] == kind == "dir"):
                return True
            seen[key] = kind
        return False

    def unsafe_names(self) -> bool:
        return any(go_clean(n).startswith(("/", "../")) or go_clean(n) == ".." for n, _, _ in self.members)

    def kinds(self) -> set[str]:
        """How the archive's names resolve, the way trustcopy refuses them (see module doc)."""
        out: set[str] = set()
        by_name = {go_clean(n): (k, v) for n, k, v in self.members}
        for name, kind, value in self.members:
            if kind == "hardlink":
                target = go_clean(value)
                out.add("escape" if target.startswith(("/", "../")) or target == ".." else "hardlink")
            if kind != "symlink":
                continue
            target = go_clean(str(Path(go_clean(name)).parent / value)) if not value.startswith("/") else "/"
            if target.startswith(("/", "../")) or target == "..":
                out.add("escape")
            elif by_name.get(target, ("", None))[0] in ("symlink", "hardlink"):
                out.add("chain")
            else:
                out.add("symlink")
        return out


# -- generation ------------------------------------------------------------------------

layer_bodies = st.binary(min_size=0, max_size=24)


def rarely(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (shrinking towards False)."""
    return st.sampled_from([False] * (n - 1) + [True])
spellings = st.sampled_from(["plain", "plain", "plain", "dot", "updown", "absolute", "parent", "symlink",
                             "symlink-abs", "symlink-out", "chain", "hardlink", "hardlink-out", "missing", "dir"])


def _spell(archive: Archive, name: str, how: str) -> str:
    """The path manifest.json uses for member ``name`` (adding link members as needed)."""
    if how == "dot":
        return "./" + name
    if how == "updown":
        return "sub/../" + name
    if how == "absolute":
        return "/" + name
    if how == "parent":
        return "../" + name
    if how == "missing":
        return "gone-" + name
    if how == "dir":
        archive.add("d-" + name, "dir")
        return "d-" + name
    link = {"symlink": ("symlink", name), "symlink-abs": ("symlink", "/" + name),
            "symlink-out": ("symlink", "../" + name), "hardlink": ("hardlink", name),
            "hardlink-out": ("hardlink", "../" + name)}.get(how)
    if link is not None:
        archive.add("l/" + name if how == "symlink" else "l-" + name, link[0], link[1] if how != "symlink"
                    else "../" + name)
        return "l/" + name if how == "symlink" else "l-" + name
    if how == "chain":
        archive.add("c1-" + name, "symlink", "c2-" + name)
        archive.add("c2-" + name, "symlink", name)
        return "c1-" + name
    return name


config_extras = st.sampled_from([
    {}, {}, {"architecture": 1}, {"created": "yesterday"}, {"created": "2020-01-02T03:04:05.5+01:00"},
    {"config": {"Cmd": "sh"}}, {"config": {"Cmd": ["sh", None]}}, {"config": {"Cmd": [1]}},
    {"config": {"Labels": {"a": 1}}}, {"history": [{"empty_layer": "yes"}]}, {"Size": 1.5}, {"os.features": None},
    {"rootfs": None}, {"ROOTFS": "fold"}, {"unknown": [1, {"x": None}]},
])
manifest_quirks = st.sampled_from(["none", "none", "lower-keys", "upper-keys", "repeat-config", "null-tags",
                                   "parent-number", "parent-string", "layer-sources-list", "layer-sources-ok",
                                   "invalid-utf8", "bom", "null-item", "null", "object", "tags-number",
                                   "trailing", "nan"])
repo_tags = st.sampled_from([[], ["busybox:latest"], ["busybox"], ["example.com/app:1", "busybox:latest"],
                             ["UPPER:x"], ["busybox@sha256:" + "a" * 64], ["example.com/app:1"]])
choices = st.sampled_from([""] * 12 + [":@0", ":@0", ":@1", ":@2", ":@-1", ":@x", ":busybox", ":busybox:latest",
                           ":example.com/app:1", ":missing:1", ":", ":busybox@sha256:" + "a" * 64, ":UPPER"])


@st.composite
def archives(draw: st.DrawFn) -> tuple[Archive, str]:
    """An archive and the ``:CHOICE`` suffix of the reference (see the module doc)."""
    archive = Archive()
    bodies = draw(st.lists(layer_bodies, min_size=0, max_size=3, unique=True))
    names = []
    for i, body in enumerate(bodies):
        stored = gzip.compress(body, mtime=0) if draw(st.booleans()) and i == 0 else body
        archive.add(f"L{i}.tar", "file", stored)
        names.append(f"L{i}.tar")
    diff_ids: list[Any] = [_sha(b) for b in bodies]
    if diff_ids and draw(rarely(8)):
        diff_ids[0] = draw(st.sampled_from([_sha(b"other"), "sha256:zz", None, 7]))
    config_obj: dict[str, Any] = {"architecture": "amd64", "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    extra = draw(config_extras)
    if extra.get("ROOTFS") == "fold":
        config_obj["ROOTFS"] = config_obj.pop("rootfs")
    else:
        config_obj.update(extra)
    config = json.dumps(config_obj).encode()
    if draw(rarely(10)):
        config = draw(st.sampled_from([b"not json", b"null", b"[]", b"{}", config + b"x"]))
    config_how = draw(st.sampled_from(["plain"] * 6 + ["dot", "symlink", "hardlink", "missing", "dir"]))
    archive.add("cfg.json", "file", config)
    config_path = _spell(archive, "cfg.json", config_how)
    layer_paths = [_spell(archive, n, draw(spellings)) for n in names]
    if layer_paths and draw(rarely(6)):  # the same layer listed twice, or a count mismatch
        layer_paths.append(draw(st.sampled_from([layer_paths[0], "./" + names[0]])))
        if draw(st.booleans()):
            config_obj["rootfs"] = {"diff_ids": [*diff_ids, diff_ids[0]]}
    items: list[dict[str, Any]] = [{"Config": config_path, "RepoTags": draw(repo_tags), "Layers": layer_paths}
                                   for _ in range(draw(st.integers(1, 3)))]
    text = _manifest_bytes(items, draw(manifest_quirks))
    where = draw(st.sampled_from(["file"] * 8 + ["symlink", "none", "legacy"]))
    if where == "symlink":
        archive.add("real-manifest.json", "file", text)
        archive.add("manifest.json", "symlink", "real-manifest.json")
    elif where == "legacy":
        archive.add("repositories", "file", b'{"busybox":{"latest":"' + b"a" * 64 + b'"}}')
    elif where != "none":
        archive.add("manifest.json", "file", text)
    if draw(rarely(10)):  # a name used twice
        archive.add(draw(st.sampled_from(["manifest.json", "./cfg.json", "L0.tar", "other"])), "file", b"again")
        archive.add("other", "file", b"x")
    archive.gzip_whole = draw(rarely(8))
    return archive, draw(choices)


def _manifest_bytes(items: list[dict[str, Any]], quirk: str) -> bytes:
    if quirk in ("lower-keys", "upper-keys"):
        change = str.lower if quirk == "lower-keys" else str.upper
        items = [{change(k): v for k, v in item.items()} for item in items]
    text = json.dumps(items)
    if quirk == "repeat-config":
        text = text.replace('{"Config": ', '{"config": "nothing.json", "Config": ', 1)
    elif quirk == "null-tags":
        text = text.replace('"RepoTags": [', '"RepoTags": null, "repotags": [', 1)
    elif quirk in ("parent-number", "parent-string", "layer-sources-list", "layer-sources-ok", "tags-number"):
        extra = {"parent-number": '"Parent": 1', "parent-string": '"Parent": "sha256:x"',
                 "layer-sources-list": '"LayerSources": []', "tags-number": '"RepoTags": 5',
                 "layer-sources-ok": '"LayerSources": {"sha256:x": {"mediaType": "m", "size": 3, "urls": null}}'}
        text = text.replace("{", "{" + extra[quirk] + ", ", 1)
    elif quirk == "invalid-utf8":
        return text.replace("{", '{"Comment": "\udcff", ', 1).encode("utf-8", "surrogateescape")
    elif quirk == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    elif quirk == "null-item":
        text = text.replace("[", "[null, ", 1)
    elif quirk == "null":
        text = "null"
    elif quirk == "object":
        text = text[1:-1] if len(items) == 1 else "{}"
    elif quirk == "trailing":
        text += " ]"
    elif quirk == "nan":
        text = text.replace("{", '{"Size": NaN, ', 1)
    return text.encode()


# -- the two readers -------------------------------------------------------------------


def _ours(ref: str) -> dict[str, Any]:
    try:
        src = TRANSPORT.parse_reference(ref).new_image_source(SystemContext())
    except TrustcopyError as exc:
        return {"error": exc.message, "code": exc.code}
    try:
        raw, mime = src.get_manifest()
        manifest = json.loads(raw)
        stream, _ = src.get_blob(BlobInfo(digest=Digest.parse(manifest["config"]["digest"])))
        out: dict[str, Any] = {"manifest": raw.decode(), "mime": mime,
                               "config": base64.b64encode(stream.read()).decode(), "layers": []}
        for desc in manifest["layers"]:
            stream, size = src.get_blob(BlobInfo(digest=Digest.parse(desc["digest"])))
            data = stream.read()
            stream.close()
            out["layers"].append({"digest": desc["digest"], "size": size, "sha256": _sha(data), "length": len(data)})
        return out
    finally:
        src.close()


def go_class(answer: dict[str, Any]) -> str:
    """The reason of a containers/image refusal, as one of our classes."""
    msg = answer["error"]
    rules = [
        (answer.get("stage") == "parse", "reference"),
        ("opening file" in msg, "file"),
        ("manifest.json: file does not exist" in msg, "manifest-missing"),
        ("not a regular file" in msg, "not-a-file"),
        ("decoding tar manifest.json" in msg or "Invalid tag" in msg, "manifest-invalid"),
        (("Tag" in msg and "not found" in msg) or "Invalid source index @" in msg or "expected 1 item" in msg,
         "choose"),
        ("file does not exist" in msg or "layer tarfiles are missing" in msg, "missing"),
        (any(s in msg for s in ("decoding tar config", "rootFS is not set", "Inconsistent layer count",
                                "two different DiffID")), "config-invalid"),
        ("auto-decompressing" in msg or "to find its size" in msg, "layer-corrupt"),
        ("archive/tar" in msg or "unexpected EOF" in msg, "archive-invalid"),
    ]
    return next((cls for hit, cls in rules if hit), "other: " + msg)


def our_class(answer: dict[str, Any]) -> str:
    """The reason of a trustcopy refusal, as one of the classes of :func:`go_class`."""
    code, msg = answer["code"], answer["error"]
    if code in ("invalid-archive-reference", "invalid-path") or code.startswith(("invalid-reference", "reference-")):
        return "reference"
    if code == "archive-json-invalid":
        return "manifest-invalid" if "manifest.json:" in msg else "config-invalid"
    return {"archive-manifest-missing": "manifest-missing", "archive-manifest-invalid": "manifest-invalid",
            "archive-not-a-file": "not-a-file", "archive-member-missing": "missing",
            "archive-config-invalid": "config-invalid", "image-not-found": "choose",
            "archive-ambiguous-image": "choose", "archive-invalid": "archive-invalid",
            "archive-truncated": "archive-invalid", "corrupt-compressed-data": "layer-corrupt",
            }.get(code, "other: " + code)


def _known_difference(archive: Archive, go: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Whether ``ours`` differs from ``go`` only as the module doc allows, for this archive."""
    if "error" not in ours:
        return False
    code, kinds = ours["code"], archive.kinds()
    if code == "archive-duplicate-member":
        return archive.duplicated()
    if code == "archive-unsafe-name":
        return archive.unsafe_names()
    if code == "archive-unsafe-link":
        return bool(kinds & {"escape", "chain"})
    if code == "archive-not-a-file" and "hard link" in ours["error"]:
        return "hardlink" in kinds
    if code == "archive-config-invalid" and "diff_ids[" in ours["error"] and "error" not in go:
        return any(not desc["digest"].startswith("sha256:") or len(desc["digest"]) != 71
                   for desc in json.loads(go["manifest"])["layers"])
    if code == "digest-mismatch" and "error" not in go:
        return any(layer["sha256"] != layer["digest"] for layer in go.get("layers", []))
    return False


def _compare(oracle: Oracle, archive: Archive, choice: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        plain = archive.tar()
        path.write_bytes(plain)
        go = oracle.ask({"ref": f"{path}{choice}", "tmp": tmp})  # newest c/image reads gzip as this
        if archive.gzip_whole:
            path.write_bytes(gzip.compress(plain, mtime=0))
        ours = _ours(f"{path}{choice}")
        if archive.gzip_whole:  # the point of the NOTE above: 5.23 really cannot
            compressed = oracle.ask({"ref": f"{path}{choice}", "tmp": tmp})
            assert "error" in compressed or "error" in go or compressed == go, compressed
    where = f"{archive.members!r} gzip={archive.gzip_whole} choice={choice!r}"
    if "error" in go and "error" in ours:
        if our_class(ours) == go_class(go) or _known_difference(archive, go, ours):
            return
        raise AssertionError(f"{where}: c/image says {go['error']!r}, we {ours['code']}: {ours['error']!r}")
    if "error" in go:
        raise AssertionError(f"{where}: c/image refuses ({go['error']!r}), we accept")
    if "error" in ours:
        assert _known_difference(archive, go, ours), f"{where}: c/image accepts, we refuse: {ours['error']!r}"
        return
    assert ours["config"] == go["config"], where
    assert [(la["sha256"], la["length"]) for la in ours["layers"]] == \
        [(la["sha256"], la["length"]) for la in go.get("layers", [])], where
    if ours["manifest"] == go["manifest"]:
        assert ours["mime"] == go["mime"], where
        return
    # A layer behind a symlink: c/image's size is the link header's (0), ours the target's.
    assert "symlink" in archive.kinds(), f"{where}: manifests differ:\n{go['manifest']}\n{ours['manifest']}"
    theirs, mine = json.loads(go["manifest"]), json.loads(ours["manifest"])
    for a, b in zip(theirs["layers"], mine["layers"], strict=True):
        if a["size"] != b["size"]:
            assert a["size"] == 0, where
            a["size"] = b["size"]
    assert theirs == mine, where


# -- the tests -------------------------------------------------------------------------


def _simple(manifest: bytes | None, *, layers: tuple[bytes, ...] = (b"one", b"two"),
            config: bytes | None = None, extra: tuple[tuple[str, str, Any], ...] = ()) -> Archive:
    archive = Archive()
    for i, body in enumerate(layers):
        archive.add(f"L{i}.tar", "file", body)
    archive.add("cfg.json", "file", config if config is not None else json.dumps(
        {"rootfs": {"type": "layers", "diff_ids": [_sha(b) for b in layers]}}).encode())
    for member in extra:
        archive.add(*member)
    if manifest is not None:
        archive.add("manifest.json", "file", manifest)
    return archive


_ITEM = b'{"Config":"cfg.json","RepoTags":["busybox:latest"],"Layers":["L0.tar","L1.tar"]}'


@given(archives())
# Go decodes manifest.json keys case-insensitively, the last repeat winning (we read only "Config").
@example((_simple(b'[{"config":"cfg.json","LAYERS":["L0.tar","L1.tar"]}]'), ""))
@example((_simple(b'[{"Config":"nothing.json","config":"cfg.json","Layers":["L0.tar","L1.tar"]}]'), ""))
# A wrong type in Parent or LayerSources fails Go's Unmarshal (we ignored both).
@example((_simple(b'[{"Config":"cfg.json","Layers":["L0.tar","L1.tar"],"Parent":1}]'), ""))
@example((_simple(b'[{"Config":"cfg.json","Layers":["L0.tar","L1.tar"],"LayerSources":[]}]'), ""))
# Invalid UTF-8 is U+FFFD for Go (we refused the file); a BOM is refused by Go (we skipped it).
@example((_simple(b'[{"Config":"cfg.json","Layers":["L0.tar","L1.tar"],"X":"\xff"}]'), ""))
@example((_simple(b"\xef\xbb\xbf[" + _ITEM + b"]"), ""))
# Paths are compared after Go's path.Clean: "sub/../L0.tar" is L0.tar (we refused "..").
@example((_simple(b'[{"Config":"cfg.json","Layers":["sub/../L0.tar","./L1.tar"]}]'), ""))
# One symlink is followed, not two (we followed eight).
@example((_simple(b'[{"Config":"cfg.json","Layers":["c1","L1.tar"]}]',
                  extra=(("c1", "symlink", "c2"), ("c2", "symlink", "L0.tar"))), ""))
# The config is decoded into Schema2Image: a wrong type anywhere fails (we read only rootfs) …
@example((_simple(b"[" + _ITEM + b"]", config=json.dumps(
    {"architecture": 1, "rootfs": {"diff_ids": [_sha(b"one"), _sha(b"two")]}}).encode()), ""))
# … and its keys are case-folded too.
@example((_simple(b"[" + _ITEM + b"]", config=json.dumps(
    {"ROOTFS": {"DIFF_IDS": [_sha(b"one"), _sha(b"two")]}}).encode()), ""))
@example((_simple(b"[" + _ITEM + b"," + _ITEM.replace(b"busybox:latest", b"example.com/a:1") + b"]"),
          ":example.com/a:1"))
@example((_simple(b"[" + _ITEM + b"]", extra=(("l", "hardlink", "L0.tar"),)), ""))
# A member that looks like gzip but is cut short, used by no image, inside a compressed archive:
# it failed the whole archive (the first pass measured every member); c/image never reads it.
@example((Archive(_simple(b"[" + _ITEM + b"]", extra=(("junk", "file", b"\x1f\x8b\x08"),)).members, True), ""))
@example((_simple(b"[" + _ITEM + b"]", layers=(b"\x1f\x8b\x08", b"two")), ""))
def test_docker_archive_source_agrees_with_containers_image(oracle: Oracle, case: tuple[Archive, str]) -> None:
    _compare(oracle, *case)


@pytest.mark.parametrize(("layer_path", "link", "code"), [
    ("out", ("out", "symlink", "../L0.tar"), "archive-unsafe-link"),
    ("out", ("out", "symlink", "/etc/passwd"), "archive-unsafe-link"),
    ("abs", ("abs", "symlink", "/L0.tar"), "archive-unsafe-link"),
    ("hl", ("hl", "hardlink", "../../L0.tar"), "archive-unsafe-link"),
    ("hl", ("hl", "hardlink", "L0.tar"), "archive-not-a-file"),
    ("c1", ("c1", "symlink", "c1"), "archive-unsafe-link"),
], ids=str)
def test_links_that_leave_the_archive_or_go_on_fail_closed(tmp_path: Path, layer_path: str,
                                                          link: tuple[str, str, str], code: str) -> None:
    """Security first: whatever c/image makes of them, such links are refused, naming the member."""
    manifest = json.dumps([{"Config": "cfg.json", "Layers": [layer_path, "L1.tar"]}]).encode()
    path = tmp_path / "a.tar"
    path.write_bytes(_simple(manifest, extra=(link,)).tar())
    answer = _ours(str(path))
    assert answer.get("code") == code, answer
    assert repr(layer_path) in answer["error"]
