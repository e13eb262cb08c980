"""Image names (``transport:reference``) against containers/image's ParseImageName, on generated inputs.

What users type as ``copy SRC DST``, ``inspect``, ``sync`` or a policy lookup goes through
:func:`trustcopy.transports.alltransports.parse_image_name`; the Go oracle
(tests/goracle/transports) runs containers/image's own parser over the transports trustcopy
has. Names are assembled from each transport's syntax pieces (``//`` or not, paths with
colons, ``:@N`` indexes, ``NAME:TAG``, image IDs, ``:``-joined file lists) and near misses.
Both must accept the same names, refuse the rest for the same reason (the error *class*),
and agree on everything the policy engine and the copy see: the string within the
transport, the Docker reference, the policy identity and namespaces, and the path /
image / index parts of the archive and layout references.

Path transports resolve paths (symbolic links of existing parents, a missing last
component), so both parsers run in one working directory holding real directories, files
and symbolic links (to a directory, to a file, absolute, dangling, looping).

Known differences, each narrow and documented where trustcopy keeps it:

- ``oci:PATH:@N``: the newest containers/image (and trustcopy) select an image by
  position; 5.23 refuses ``@N`` as an image name (NOTE(go-diff) in
  trustcopy/transports/oci_layout.py, parse_path_and_image).
  The index is checked before the path, as the newest does (5.23 resolves the path first).
- ``oci-archive:PATH:@N``: trustcopy's extension, refused by every containers/image
  (NOTE(go-diff) in the same function).
- An empty path (``dir:``, ``oci::img``, ``docker-archive::name``) is refused; containers/image
  takes it as the working directory (NOTE(go-diff) in trustcopy/transports/dir.py).
- Bracketed IPv6 registry hosts in the Docker reference grammar (NOTE(go-diff) in
  trustcopy/reference.py).
- ``tarball:-`` (standard input) is not asked of the oracle: its standard input carries
  the requests. Its own test is plain.
- ``docker://NAME@@unknown-digest@@`` (an untagged push target, newest containers/image;
  trustcopy/transports/docker/reference.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture, reference_error_class
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.errors import InvalidReferenceError
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.base import ImageReference
from trustcopy.transports.docker.reference import UNKNOWN_DIGEST_SUFFIX, DockerImageReference
from trustcopy.transports.docker_archive import DockerArchiveReference
from trustcopy.transports.oci_layout import PathAndImageReference

HEX = "0123456789abcdef"
#: Where the generated names resolve: the same directory tree for both parsers.
_ROOT: dict[str, str] = {}


oracle = oracle_fixture("transports", "containers/image's transports")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A working directory with the things paths in image names meet."""
    root = Path(os.path.realpath(tmp_path_factory.mktemp("names")))
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "file.tar").write_bytes(b"x")
    (root / "f").write_bytes(b"x")
    (root / "c:d").mkdir()  # a colon in a directory's name
    (root / "ld").symlink_to("d")
    (root / "lf").symlink_to("f")
    (root / "la").symlink_to(root / "d" / "sub")
    (root / "dangling").symlink_to("missing-target")
    (root / "loop").symlink_to("loop")
    (root / "d" / "up").symlink_to("..")
    (root / "sp ace").mkdir()
    (root / "é").mkdir()
    _ROOT["root"] = str(root)
    return str(root)


# --- generated names ---------------------------------------------------------------------

_PATH_PIECES = [
    "d", "d/sub", "d/file.tar", "f", "ld", "ld/sub", "lf", "la", "la/new", "dangling", "loop", "loop/x",
    "missing", "missing/x", "d/new", "ld/new", "ld/..", "d/./sub", "./d", "..", ".", "d/", "d//sub", "f/x",
    "d/up/d", "d/up/f", "d/sub/..", "sp ace", "é", "é/new", "d/new/", "dangling/x", "\x00", "d/\n", "/", "",
    "d/sub/../../f", "-", "~", "$HOME", "c:d", "c:d/new", "c:", "c:d:e", "d/file.tar:", "d:@0",
    "missing/../d/new", "missing/../f/", "missing/..", "missing/../.", "-/../", "la/../new", "//", "d/up/../../",
]
relative_paths = st.sampled_from(_PATH_PIECES)
paths = relative_paths | st.builds(lambda p: "\0ROOT/" + p, relative_paths) | st.sampled_from(["/tmp", "/etc"])

components = st.text(alphabet="abcz09", min_size=1, max_size=5)
docker_names = st.one_of(
    st.sampled_from(["busybox", "library/busybox", "docker.io/library/busybox", "index.docker.io/a/b",
                     "localhost:5000/a", "quay.io/a/b/c", "Upper", "a//b", "[::1]:5000/a", "sha256", "a_b",
                     "127.0.0.1/x", "-a", "a" * 64, "example.com:65536/a", "é"]),
    st.builds(lambda a, b: f"{a}/{b}", components, components),
    components,
)
tags = st.one_of(st.just(""), st.sampled_from(["latest", "v1.0", "Tag_1", "1", ".x", "a" * 128, "a" * 129, "a:b",
                                               "a@b"]),
                 st.text(alphabet="aZ09_.-", min_size=1, max_size=6))
digests = st.one_of(
    st.just(""),
    st.builds(lambda h: "sha256:" + h, st.text(alphabet=HEX, min_size=64, max_size=64)),
    st.sampled_from(["sha256:" + "a" * 63, "sha512:" + "b" * 128, "sha384:" + "c" * 96, "md5:" + "d" * 32,
                     "sha256:" + "A" * 64, "sha256:"]),
)


@st.composite
def docker_refs(draw: st.DrawFn) -> str:
    """NAME[:TAG][@DIGEST] from the grammar's pieces."""
    text = draw(docker_names)
    tag, digest = draw(tags), draw(digests)
    if tag:
        text += ":" + tag
    if digest:
        text += "@" + digest
    return text


oci_images = st.one_of(
    st.sampled_from(["a", "a:b", "a@b", "A-b.c", "a/b", "a//b", "a--b", "a---b", "a+b", "a:", ":a", "a b", "é",
                     "@0", "@1", "@-1", "@+1", "@00", "@x", "@", "@ 1", "@1.0", "@9223372036854775807",
                     "@9223372036854775808", "@-0", "a:@0", "@0:a", "a/b:c@d", "latest", "1"]),
    st.text(alphabet="aZ9:@/._-+", min_size=1, max_size=8),
)
indexes = st.sampled_from(["@0", "@3", "@-1", "@+2", "@x", "@", "@01", "@٣", "@ 1", "@1_0", "@9223372036854775808"])
daemon_ids = st.one_of(
    st.builds(lambda h: "sha256:" + h, st.text(alphabet=HEX, min_size=64, max_size=64)),
    st.sampled_from(["sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha512:" + "b" * 128, "sha384:" + "c" * 96,
                     "sha256:" + "A" * 64, "sha256:", "sha256:latest", "md5:" + "d" * 32, "foo:" + "e" * 64,
                     "SHA256:" + "e" * 64, "sha256+b64:" + "f" * 43, "a" * 64, "sha256", "busybox",
                     "sha256:" + "0" * 64 + "/x", "ªa:" + "0" * 64, "sha256:" + "a" * 64 + "\n",
                     " sha256:" + "a" * 64, "sha256:" + "a" * 64 + ":x", "sha256:" + "a" * 64 + "@sha256:" + "b" * 64,
                     "sha256:" + "a" * 64 + "\u0660"]),
)
unknown_transports = st.sampled_from(["", "Docker", "DIR", "oci-layout", "containers-storage", "ostree", "sif",
                                      "atomic", "docker-daemon ", " dir", "x"])


@st.composite
def image_names(draw: st.DrawFn) -> str:
    """``transport:reference`` for one transport, from its syntax pieces."""
    kind = draw(st.sampled_from(["docker", "dir", "oci", "oci-archive", "docker-archive", "docker-daemon",
                                 "tarball", "unknown"]))
    if kind == "docker":
        prefix = draw(st.sampled_from(["//"] * 6 + ["", "/", "///"]))
        suffix = draw(st.sampled_from(["", "", "@@unknown-digest@@"]))
        return f"docker:{prefix}{draw(docker_refs())}{suffix}"
    if kind == "dir":
        return "dir:" + draw(paths)
    if kind in ("oci", "oci-archive"):
        text = draw(paths)
        if draw(st.booleans()):
            text += ":" + draw(oci_images | st.just(""))
        return f"{kind}:{text}"
    if kind == "docker-archive":
        text = draw(paths)
        if draw(st.booleans()):
            text += ":" + draw(docker_refs() | indexes | st.just(""))
        return "docker-archive:" + text
    if kind == "docker-daemon":
        return "docker-daemon:" + draw(daemon_ids | docker_refs())
    if kind == "tarball":
        files = draw(st.lists(paths.filter(lambda p: p != "-"), min_size=1, max_size=3))
        return "tarball:" + ":".join(files)
    return draw(unknown_transports) + draw(st.sampled_from([":", ":", ""])) + draw(paths | docker_refs())


noise = st.builds(
    lambda prefix, text: prefix + text,
    st.sampled_from(["", "docker:", "docker://", "dir:", "oci:", "oci-archive:", "docker-archive:", "docker-daemon:",
                     "tarball:"]),
    st.text(alphabet="dfo-:/@a.0 é\t\u2028", max_size=16),
).filter(lambda name: not (name.startswith("tarball:") and "-" in name[8:].split(":")))  # the oracle's stdin


# --- comparison --------------------------------------------------------------------------


def _go_class(transport: str, message: str) -> str:
    """Our error code for the oracle's error message on a name for ``transport``."""
    if "expected colon-separated" in message:
        return "invalid-reference"
    if "unknown transport" in message:
        return "unknown-transport"
    if transport in ("dir", "oci", "oci-archive", "tarball") and "Invalid image" not in message:
        return "invalid-path"
    if transport in ("oci", "oci-archive"):
        return "invalid-oci-reference"
    if transport == "docker-archive":
        if message.startswith("docker-archive parsing reference: "):
            return reference_error_class(message.removeprefix("docker-archive parsing reference: "))
        return "invalid-archive-reference"
    if transport == "docker-daemon":
        if any(s in message for s in ("only digest algorithm", "is reserved for", "neither a tag nor a digest",
                                      "both a tag and digest")):
            return "invalid-daemon-reference"
        return reference_error_class(message)
    # docker: the reference's own reasons; "//", tag-and-digest and unknown-digest refusals are generic
    if "does not start with //" in message or "unknown digest" in message or "both a tag and digest" in message:
        return "invalid-reference"
    return reference_error_class(message)


def _parts(ref: object) -> dict[str, object] | None:
    if isinstance(ref, PathAndImageReference):
        return {"path": ref.path, "image": ref.image, "index": ref.source_index}
    if isinstance(ref, DockerArchiveReference):
        return {"path": ref.path, "image": str(ref.tag) if ref.tag is not None else "", "index": ref.source_index}
    return None


def _known_difference(oracle: Oracle, name: str, go: dict[str, Any], ours: ImageReference | None,
                      error: InvalidReferenceError | None) -> bool:
    """Whether (name, answers) is one of the documented differences (module docstring), checked narrowly."""
    transport, _, rest = name.partition(":")
    if re.search(r"\[[0-9A-Fa-f:.]+\](?::[0-9]*)?/", name) and go.get("error", "").endswith("invalid reference format"):
        # a bracketed IPv6 registry host (trustcopy/reference.py): c/image refuses the host itself;
        # we take it, and so may accept the name or refuse it for what follows the host.
        assert ours is None or "[" in str(ours.docker_reference()), (name, go)
        return True
    if isinstance(ours, DockerImageReference) and ours.is_unknown_digest:
        # NAME@@unknown-digest@@ (newest c/image): NAME's reference without a tag, and its scopes
        # without the repository itself (an untagged push is no image of it yet).
        assert go.get("error") == "invalid reference format", (name, go)
        base = oracle.ask({"name": name.removesuffix(UNKNOWN_DIGEST_SUFFIX), "cwd": _ROOT["root"]})
        assert base["docker_ref"] == f"{ours.docker_reference()}:latest", (name, base)
        assert ours.policy_configuration_identity() == str(ours.docker_reference())
        assert ours.policy_configuration_namespaces() == base["namespaces"][1:]
        assert ours.string_within_transport() == base["within"].removesuffix(":latest") + UNKNOWN_DIGEST_SUFFIX
        return True
    if (error is not None and transport == "docker" and name.endswith(UNKNOWN_DIGEST_SUFFIX)
            and go.get("error") == "invalid reference format"):
        # the same suffix on a name refused: refused for what is wrong with NAME, or for its tag or digest
        base = oracle.ask({"name": name.removesuffix(UNKNOWN_DIGEST_SUFFIX), "cwd": _ROOT["root"]})
        if "error" in base:
            assert error.code == _go_class(transport, base["error"]), (name, base, error.message)
        else:
            assert "has unknown digest set" in error.message and error.code == "invalid-reference", (name, error)
        return True
    if (error is not None and transport in ("oci", "oci-archive") and "source index" in error.message
            and _go_class(transport, go.get("error", "")) == "invalid-path"):
        # the newest c/image checks an oci index before the path (ours too); 5.23 has no index,
        # resolves the path first and only then refuses "@..." as an image name.
        assert rest.partition(":")[2].startswith("@"), (name, error)
        return True
    if isinstance(ours, PathAndImageReference) and ours.source_index >= 0:
        # oci:PATH:@N (newest c/image) and oci-archive:PATH:@N (ours): 5.23 refuses "@N" as an image
        # name, after resolving the path as we did.
        assert go.get("error") == f"Invalid image {rest.partition(':')[2]}", (name, go)
        return True
    if error is not None and error.code == "invalid-path" and transport in ("dir", "oci", "oci-archive",
                                                                             "docker-archive"):
        path = rest if transport == "dir" else rest.partition(":")[0]
        if path == "":
            # c/image's empty path is the working directory: accepted, or refused for another part.
            if "error" not in go:
                assert go["within"].partition(":")[0] == "" and go["identity"] in ("", _ROOT["root"]), (name, go)
            else:
                assert _go_class(transport, go["error"]) != "invalid-path", (name, go)
            return True
    return False


def _compare(oracle: Oracle, root: str, raw: str) -> None:
    name = raw.replace("\0ROOT", root)
    go = oracle.ask({"name": name, "cwd": root})
    before = os.getcwd()
    os.chdir(root)
    try:
        try:
            ref = parse_image_name(name)
        except InvalidReferenceError as exc:
            if _known_difference(oracle, name, go, None, exc):
                return
            assert "error" in go, f"{name!r}: c/image accepts it as {go['transport']}:{go['within']}, we refuse: " \
                                  f"{exc.message}"
            transport = name.partition(":")[0]
            assert exc.code == _go_class(transport, go["error"]), f"{name!r}: c/image says {go['error']!r}, " \
                                                                  f"we {exc.code}: {exc.message!r}"
            return
    finally:
        os.chdir(before)
    if _known_difference(oracle, name, go, ref, None):
        return
    assert "error" not in go, f"{name!r}: we accept it as {ref}, c/image refuses: {go['error']}"
    docker_ref = ref.docker_reference()
    ours = {"transport": ref.transport.name, "within": ref.string_within_transport(),
            "docker_ref": str(docker_ref) if docker_ref is not None else None,
            "identity": ref.policy_configuration_identity(), "namespaces": ref.policy_configuration_namespaces(),
            "parts": _parts(ref)}
    assert ours == go, f"{name!r}"
    # What we print must parse back to the same reference (c/image's promise for StringWithinTransport).
    os.chdir(root)
    try:
        again = parse_image_name(f"{ref.transport.name}:{ref.string_within_transport()}")
    finally:
        os.chdir(before)
    go_again = oracle.ask({"name": f"{go['transport']}:{go['within']}", "cwd": root})
    assert again.string_within_transport() == go_again["within"] == go["within"]


@pytest.mark.goracle
@given(image_names() | noise)
@example("dir:\0ROOT/d")
@example("dir:ld/new")
@example("oci:\0ROOT/d:a:b")
@example("oci:d:@0")
@example("oci-archive:d/file.tar:@1")
@example("docker-archive:d/file.tar:busybox:latest")
@example("docker-archive:d/file.tar:@2")
@example("docker-daemon:sha256:" + "0" * 64)
@example("docker://busybox")
@example("tarball:f:d/file.tar")
@example("dir:dangling")  # c/image cannot resolve it: refused (we resolved it to the missing target)
@example("oci:loop:a")
@example("dir:\x00")  # refused as a path (we raised ValueError)
@example("oci:dangling:a//b")  # the path is checked before the image name (we named the image)
@example("oci:dangling:@x")  # ... but after the index (newest c/image)
@example("oci::a")
@example("dir:")
@example("docker-archive::busybox")
@example("docker://busybox@@unknown-digest@@")
@example("docker://busybox:1@@unknown-digest@@")
@example("docker://[::1]:5000/a:1")
@example("docker-daemon:sha512:" + "b" * 128)
@example("docker-daemon:sha256:" + "A" * 64)
@example("docker-daemon:sha256:latest")
@example("oci:c:d:e")
@example("dir:c:d")
@example("tarball:d:d/up/f")
@example("dir:missing/../d/new")  # a missing path's parent is cleaned lexically, then resolved (we refused)
@example("oci:-/../:a")
@example("dir:missing/../f/")
@example("dir:missing/../.")
@example("dir:dangling/..")
@example("dir:la/../new")
@example("dir://")
def test_parse_image_name_agrees_with_containers_image(oracle: Oracle, tree: str, raw: str) -> None:
    _compare(oracle, tree, raw)


# --- plain vectors: the fixes, and what the oracle cannot be asked --------------------------


@pytest.fixture
def in_tree(tree: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generated names' working directory, as the current one."""
    monkeypatch.chdir(tree)
    return tree


@pytest.mark.parametrize("name", ["dir:dangling", "dir:loop", "oci:dangling", "oci:loop:a", "oci-archive:dangling:a",
                                  "dir:ld/../dangling"])
def test_a_dangling_or_looping_symlink_is_refused(in_tree: str, name: str) -> None:
    # c/image's EvalSymlinks cannot resolve it; a non-strict resolution named the link's target,
    # while a destination writes at the link.
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name(name)
    assert info.value.code == "invalid-path"


@pytest.mark.parametrize("name", ["dir:\x00", "dir:d/\x00x", "oci:a\x00:img", "oci-archive:\x00"])
def test_a_nul_byte_in_a_path_is_an_invalid_reference(in_tree: str, name: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name(name)
    assert info.value.code == "invalid-path"


@pytest.mark.parametrize(("name", "code"), [
    ("oci:dangling:a//b", "invalid-path"),  # path before image name
    ("oci:missing/x:a//b", "invalid-path"),
    ("oci:d:a//b", "invalid-oci-reference"),
    ("oci:missing/x:@x", "invalid-oci-reference"),  # index before path
    ("oci-archive:missing/x:@-1", "invalid-oci-reference"),
])
def test_oci_names_are_checked_in_containers_image_order(in_tree: str, name: str, code: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name(name)
    assert info.value.code == code


@pytest.mark.parametrize(("name", "identity"), [
    ("dir:missing/../d/new", "d/new"),  # the parent "missing/../d/" is cleaned to "d" before it is resolved
    ("oci:missing/../f/:img", "f"),
    ("dir:ld/new", "d/new"),
])
def test_a_missing_paths_parent_is_resolved_as_containers_image_resolves_it(in_tree: str, name: str,
                                                                            identity: str) -> None:
    assert parse_image_name(name).policy_configuration_identity() == os.path.join(in_tree, identity)


def test_tarball_standard_input_once(in_tree: str) -> None:
    assert parse_image_name("tarball:-:f").string_within_transport() == "-:f"
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name("tarball:-:f:-")
    assert info.value.code == "invalid-path"
