"""The ``docker save`` archive format, shared by ``docker-archive:`` and ``docker-daemon:``.

Layout (containers/image ``docker/internal/tarfile``)::

    manifest.json          [{"Config": "<hex>.json", "RepoTags": ["reg/name:tag"], "Layers": ["<hex>.tar", …]}]
    repositories           {"reg/name": {"tag": "<legacy id of the top layer>"}}  (legacy)
    <hex>.json             an image config
    <hex>.tar              a layer (uncompressed, or compressed: readers detect it)
    <legacy id>/layer.tar  symlink to ../<hex>.tar, with <legacy id>/VERSION and /json (legacy)

Reading (:class:`DockerTarSource`): ``manifest.json`` is read bounded (1 MiB), the config
bounded (4 MiB), both decoded as containers/image's ``json.Unmarshal`` decodes them (into
``[]ManifestItem`` and ``manifest.Schema2Image``: folded keys, the last repeat winning, a
wrong type anywhere refused); paths in manifest.json are compared after Go's ``path.Clean``
and follow one symlink (:data:`DOCKER_LINKS`); the config's ``rootfs.diff_ids`` must be as
many as the layers (tests/unit/transports/test_docker_archive_goracle.py compares all this
with containers/image). As in containers/image, the image is presented as a Docker schema2 manifest
whose layers are the diff IDs with their uncompressed sizes, so every layer is verified
against its diff ID while it streams; a compressed layer is decompressed on the way,
and its diff ID and size were checked once before anything is copied (containers/image
only measures the size then). Legacy archives without manifest.json are refused.

Writing (:class:`DockerTarWriter`): Docker schema2 only; ``RepoTags`` fully qualified;
layers, configs and legacy entries as they come; ``manifest.json`` and ``repositories``
last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from trustcopy import limits
from trustcopy.compression import Algorithm, DecompressingStream, Readable
from trustcopy.digest import Digest, DigestingReader
from trustcopy.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    InvalidReferenceError,
    ManifestError,
    TransportError,
)
from trustcopy.gojson import go_marshal, sorted_map
from trustcopy.lazy import dataclass
from trustcopy.transports.archivereader import ArchiveReader, Uncompressed
from trustcopy.transports.archivewriter import TarWriter
from trustcopy.transports.base import ImageDestination, ImageReference, ImageSource
from trustcopy.transports.stubs import NoManifestLists, NoSignatures, NoSourceSignatures
from trustcopy.transports.tario import Member, MemberType
from trustcopy.types import BlobInfo, LayerCompression

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference

MANIFEST_FILE = "manifest.json"
REPOSITORIES_FILE = "repositories"
#: iolimits.MaxTarFileManifestSize
MAX_TAR_MANIFEST = 1 << 20
#: JSON nesting accepted in manifest.json and configs (no real file comes near it).
MAX_JSON_DEPTH = 64
#: How members named by manifest.json are looked up: as containers/image's tarfile reader, one
#: symbolic link is followed (a link to a link is refused). NOTE(go-diff): a hard link is refused
#: (``archive-not-a-file``): c/image reads its own, empty, data, so its copy fails later on the
#: digest (a config or manifest.json on the JSON). Links out of the archive (absolute, or
#: through ``..``) are refused (``archive-unsafe-link``) where c/image compares the joined name
#: with the members' (an absolute target then names a member inside).
DOCKER_LINKS: dict[str, Any] = {"symlink_hops": 1, "hard_links": False}

DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
#: What containers/image's generated manifest calls every layer (DockerV2Schema2LayerMediaType), even
#: though the layers it serves are uncompressed: kept, so that the manifest digest is skopeo's.
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def load_json(data: bytes, what: str) -> Any:
    """Parse untrusted JSON with nesting bounded (a 100,000-deep array fails cleanly).

    Raises:
        ManifestError: not JSON, or nested deeper than :data:`MAX_JSON_DEPTH`.
    """
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise ManifestError(f"{what}: JSON nested too deeply", code="archive-json-invalid") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what}: invalid JSON: {exc}", code="archive-json-invalid") from exc
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ManifestError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels",
                                code="archive-json-invalid")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


@dataclass(frozen=True)
class ManifestItem:
    """One entry of manifest.json."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


#: containers/image's tarfile.ManifestItem with Go's types (Parent: imageID; LayerSources:
#: map[digest.Digest]manifest.Schema2Descriptor): a wrong type in any of them fails Unmarshal.
_SCHEMA2_DESCRIPTOR = ("struct", {"mediaType": "string", "size": "int", "digest": "string",
                                  "urls": ("list", "string")})
_MANIFEST_ITEMS = ("list", ("struct", {"Config": "string", "RepoTags": ("list", "string"),
                                       "Layers": ("list", "string"), "Parent": "string",
                                       "LayerSources": ("map", _SCHEMA2_DESCRIPTOR)}))


def _go_json(data: bytes, spec: Any, where: str, kind: str) -> Any:
    """``data`` as Go's json.Unmarshal decodes it into ``spec`` (trustcopy.manifest._gojson):
    keys matched case-insensitively, the last repeat winning, invalid UTF-8 as U+FFFD, a BOM
    or NaN refused, and a value of the wrong type anywhere in the struct an error.

    Raises:
        ManifestError: not JSON for Go (``archive-json-invalid``), or a type error (``kind``).
    """
    from trustcopy.manifest import _gojson

    try:
        value = _gojson.loads(data)
    except (ValueError, RecursionError) as exc:  # TooDeepError included
        raise ManifestError(f"{where}: invalid JSON: {exc}", code="archive-json-invalid") from exc
    try:
        return _gojson.decode(value, spec, None, "")
    except _gojson.GoTypeError as exc:
        raise ManifestError(f"{where}: {exc}", code=kind) from exc


def parse_tar_manifest(data: bytes, what: str) -> list[ManifestItem]:
    """manifest.json → items, as containers/image's ``json.Unmarshal`` into ``[]ManifestItem``
    reads it (see :func:`_go_json`): ``null`` is no item, a ``null`` item has empty fields.

    Raises:
        ManifestError: naming the item and field at fault.
    """
    decoded = _go_json(data, _MANIFEST_ITEMS, f"{what}: {MANIFEST_FILE}", "archive-manifest-invalid") or []
    return [ManifestItem(obj.get("Config") or "", tuple(obj.get("RepoTags") or ()), tuple(obj.get("Layers") or ()))
            for obj in decoded]


def read_tar_manifest(archive: ArchiveReader, what: str) -> list[ManifestItem]:
    """The archive's manifest.json, parsed (:func:`parse_tar_manifest`).

    Raises:
        ManifestError: there is none (not a docker-archive, or a legacy one), or it is invalid.
    """
    try:
        raw = archive.read_member(MANIFEST_FILE, MAX_TAR_MANIFEST, **DOCKER_LINKS)
    except ImageNotFoundError as exc:
        raise ManifestError(f"{what}: the archive has no {MANIFEST_FILE}: not a docker-archive, or a legacy "
                            "(pre-1.10) one, which is not supported", code="archive-manifest-missing") from exc
    return parse_tar_manifest(raw, what)


def list_repo_tags(items: Sequence[ManifestItem], what: str) -> list[str]:
    """Every image's RepoTags, ``@N`` for an image without any: what ``skopeo list-tags
    docker-archive:PATH`` prints.

    Each tag is checked as containers/image's archive Reader.List checks it: a reference
    with a tag and without a digest. skopeo then prints, for each tag, the spelling of the
    *first* RepoTags entry in the archive naming the same tag (ManifestTagsForReference
    looks each one up again): ``busybox:latest`` and a later ``docker.io/library/busybox:latest``
    both print as ``busybox:latest``.

    Raises:
        ManifestError: a RepoTags entry is not a tagged reference, or has a digest
            (code ``archive-manifest-invalid``).
    """
    first: dict[str, str] = {}  # normalized NAME:TAG → its first spelling in manifest.json
    names: list[list[str]] = []
    for i, item in enumerate(items):
        names.append([])
        for t in item.repo_tags:
            ref = _parse_repo_tag(t, i, what)
            if ref.tag is None:
                raise ManifestError(f"{what}: invalid tag {t!r} in {MANIFEST_FILE} item @{i}: it has no tag",
                                    code="archive-manifest-invalid")
            if ref.digest is not None:
                raise ManifestError(f"{what}: invalid tag {t!r} in {MANIFEST_FILE} item @{i}: docker-archive "
                                    "doesn't support digest references", code="archive-manifest-invalid")
            names[-1].append(str(ref))
            first.setdefault(str(ref), t)
    tags: list[str] = []
    for i, normalized in enumerate(names):
        tags.extend([first[n] for n in normalized] or [f"@{i}"])
    return tags


def _parse_repo_tag(text: str, index: int, what: str) -> DockerReference:
    """A RepoTags entry of item ``@index``, normalized.

    Raises:
        ManifestError: not a reference (code ``archive-manifest-invalid``), naming the entry.
    """
    from trustcopy.reference import parse_normalized_named

    try:
        return parse_normalized_named(text)
    except InvalidReferenceError as exc:
        raise ManifestError(f"{what}: invalid tag {text!r} in {MANIFEST_FILE} item @{index}: {exc.message}",
                            code="archive-manifest-invalid") from exc


def choose_item(items: Sequence[ManifestItem], tag: Any, index: int, what: str) -> ManifestItem:
    """The item named by ``tag`` (a DockerReference), by position ``index``, or the only one.

    Raises:
        ImageNotFoundError: no such tag or position.
        TransportError: several images and no choice.
        ManifestError: a RepoTags entry is not a valid reference.
    """
    if tag is not None:
        want = str(tag)
        for i, item in enumerate(items):
            for t in item.repo_tags:
                if str(_parse_repo_tag(t, i, what)) == want:
                    return item
        present = sorted({t for item in items for t in item.repo_tags})
        raise ImageNotFoundError(f"{what}: tag {want!r} not found in the archive",
                                 hint=("tags present: " + ", ".join(present)) if present else "the archive has no tags")
    if index >= 0:
        if index >= len(items):
            raise ImageNotFoundError(f"{what}: invalid source index @{index}, only {len(items)} manifest items "
                                     "available")
        return items[index]
    if not items:  # (no selector can help: "choose one" would be advice nobody can follow)
        raise TransportError(f"{what}: the archive holds no image: its manifest.json lists none",
                             code="archive-ambiguous-image")
    if len(items) != 1:
        raise TransportError(f"{what}: the archive holds {len(items)} images, choose one with :NAME:TAG or :@INDEX",
                             code="archive-ambiguous-image")
    return items[0]


@dataclass
class _Layer:
    member: Member
    size: int
    compressed: Algorithm | None


def _diff_ids(config: bytes, where: str) -> list[Digest]:
    """The config's ``rootfs.diff_ids``, after decoding it as containers/image does (manifest.Schema2Image).

    Raises:
        ManifestError: not JSON, a type error anywhere, no ``rootfs``, or an invalid digest.
    """
    from trustcopy.manifest.dockerconfig import SCHEMA2_IMAGE, strslice_problem

    decoded = _go_json(config, SCHEMA2_IMAGE, where, "archive-config-invalid") or {}
    for name in ("config", "container_config"):
        key = strslice_problem(decoded.get(name))  # StrSlice's UnmarshalJSON
        if key is not None:
            raise ManifestError(f"{where}: {name}.{key} is neither a string nor a list of strings",
                                code="archive-config-invalid")
    rootfs = decoded.get("rootfs")
    if rootfs is None:
        raise ManifestError(f"invalid image config (rootfs is not set): {where}", code="archive-config-invalid")
    out = []
    for i, d in enumerate(rootfs.get("diff_ids") or []):
        try:
            out.append(Digest.parse(d))
        except (ValueError, TypeError) as exc:
            # NOTE(go-diff): containers/image puts any string into the generated manifest (its copy
            # then fails on it); an invalid digest is refused here, as in every manifest we read.
            raise ManifestError(f"{where}: rootfs.diff_ids[{i}]: {exc}", code="archive-config-invalid") from exc
    return out


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: how containers/image compares manifest.json's paths with member names."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    text = "/".join(parts)
    return "/" + text if rooted else text or "."


def _archive_path(text: str, what: str, role: str) -> str:
    """A path manifest.json names, cleaned as containers/image cleans it (``./a``, ``x/../a`` → ``a``).

    Raises:
        ImageNotFoundError: it leaves the archive (absolute, or above it through ``..``): no
            member can have that name (such members are refused), as c/image finds none.
    """
    cleaned = go_clean(text)
    if cleaned.startswith("/") or cleaned == ".." or cleaned.startswith("../"):
        raise ImageNotFoundError(f"{what}: {MANIFEST_FILE} names {role} {text!r}, which is outside the archive",
                                 code="archive-member-missing", context={"member": text})
    return cleaned


class DockerTarSource(NoSourceSignatures, ImageSource):
    """One image of a docker-save archive, as a Docker schema2 image (see the module doc).

    Subclasses set ``reference`` and open the archive; this class does the rest.
    """

    _archive: ArchiveReader

    def _load(self, tag: Any, index: int) -> None:
        """Choose the image and check it in containers/image's order (tarfile Source's
        ensureCachedDataIsPresent): config, diff IDs against layers, paths, then the members."""
        what = str(self.reference)
        archive = self._archive
        item = choose_item(read_tar_manifest(archive, what), tag, index, what)
        try:
            self._config = archive.read_member(_archive_path(item.config, what, "config"), limits.MAX_CONFIG_BODY,
                                               **DOCKER_LINKS)
        except ImageNotFoundError as exc:
            raise ManifestError(f"{what}: config {item.config!r} is missing from the archive",
                                code="archive-member-missing") from exc
        self._config_digest = Digest.from_bytes(self._config)
        diff_ids = _diff_ids(self._config, f"{what}: config {item.config}")
        if len(item.layers) != len(diff_ids):
            raise ManifestError(f"{what}: inconsistent layer count: {len(item.layers)} in {MANIFEST_FILE}, "
                                f"{len(diff_ids)} in the config", code="archive-config-invalid")
        wanted: dict[Digest, tuple[str, str]] = {}  # diff ID → (path as written, cleaned)
        paths: set[str] = set()
        for diff_id, path in zip(diff_ids, item.layers, strict=True):
            if diff_id in wanted:
                continue  # the same layer twice: docker save links the second to the first
            cleaned = go_clean(path)
            if cleaned in paths:
                raise ManifestError(f"{what}: layer file {path!r} is used for two different diff IDs",
                                    code="archive-config-invalid")
            paths.add(cleaned)
            wanted[diff_id] = (path, cleaned)
        # In containers/image's order: layers stored as files are measured in archive order (a
        # corrupt one fails first), then missing paths fail, then links are resolved.
        cleaned_paths = {cleaned for _path, cleaned in wanted.values()}
        measured: dict[str, Uncompressed | None] = {}
        for member in archive.order:
            if member.type is MemberType.FILE and member.name in cleaned_paths and member.name not in measured:
                measured[member.name] = archive.uncompressed(member)
        for path, _cleaned in wanted.values():
            if _archive_path(path, what, "layer") not in archive.members:
                raise ImageNotFoundError(f"{what}: layer {path!r} is missing from the archive",
                                         code="archive-member-missing", context={"member": path})
        # NOTE(go-diff): a layer reached through a symbolic link has the size of its target;
        # containers/image reports the link's own header size (0) in the manifest it makes.
        members = {diff_id: archive.lookup(cleaned, **DOCKER_LINKS) for diff_id, (_path, cleaned) in wanted.items()}
        self._layers: dict[Digest, _Layer] = {}
        for diff_id, member in members.items():
            if member.name not in measured:
                measured[member.name] = archive.uncompressed(member)
            found = measured[member.name]
            if found is None:
                self._layers[diff_id] = _Layer(member, member.size, None)
                continue
            if found.digest != diff_id:  # checked now, before anything is written anywhere
                raise DigestMismatchError(f"{what}: layer {member.name!r} decompresses to {found.digest}, "
                                          f"the config says {diff_id}",
                                          context={"expected": str(diff_id), "actual": str(found.digest)})
            self._layers[diff_id] = _Layer(member, found.size, found.algorithm)
        layers = [{"mediaType": DOCKER_LAYER, "size": self._layers[d].size, "digest": str(d)} for d in diff_ids]
        self._manifest = go_marshal({
            "schemaVersion": 2,
            "mediaType": DOCKER_V2S2,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(self._config), "digest": str(self._config_digest)},
            "layers": layers,
        })
        self.repo_tags = item.repo_tags

    def get_manifest(self, instance_digest: Digest | None = None) -> tuple[bytes, str]:
        """The generated schema2 manifest (layers named by diff ID)."""
        if instance_digest is not None:
            raise ManifestError(f"{self.reference}: manifest lists are not supported by docker archives")
        return self._manifest, DOCKER_V2S2

    def get_blob(self, info: BlobInfo) -> tuple[BinaryIO, int]:
        """The config from memory; a layer from the archive, decompressed if stored compressed."""
        if info.digest == self._config_digest:
            return io.BytesIO(self._config), len(self._config)
        layer = self._layers.get(info.digest)
        if layer is None:
            raise ImageNotFoundError(f"{self.reference}: unknown blob {info.digest}")
        stream = self._archive.open_member(layer.member)
        if layer.compressed is None:
            return stream, layer.size
        dec = DecompressingStream(stream, layer.compressed, what=f"{self.reference}: {layer.member.name}")
        return dec, layer.size  # type: ignore[return-value]

    @property
    def has_thread_safe_get_blob(self) -> bool:
        """Seekable archives serve members concurrently; streams one at a time."""
        return self._archive.thread_safe

    def preferred_blob_order(self, infos: Sequence[BlobInfo]) -> list[int]:
        """Archive order, so that a sequential archive is read in one pass."""
        def key(i: int) -> int:
            layer = self._layers.get(infos[i].digest)
            return layer.member.offset if layer is not None else -1

        return sorted(range(len(infos)), key=key)

    def close(self) -> None:
        """Close the archive."""
        self._archive.close()


# -- writing -------------------------------------------------------------------------


@dataclass
class DockerTarWriter:
    """Adds images to a docker-save archive being written (containers/image tarfile.Writer)."""

    tar: TarWriter
    blobs: dict[Digest, int] = field(default_factory=dict)
    repositories: dict[str, dict[str, str]] = field(default_factory=dict)
    legacy_layers: set[str] = field(default_factory=set)
    items: list[dict[str, Any]] = field(default_factory=list)
    by_config: dict[Digest, int] = field(default_factory=dict)
    #: configs written (they are small): the legacy entries of each image need its config
    configs: dict[Digest, bytes] = field(default_factory=dict)

    @staticmethod
    def layer_path(digest: Digest) -> str:
        """Where a layer blob goes (containers/image physicalLayerPath)."""
        return f"{digest.hex}.tar"

    @staticmethod
    def config_path(digest: Digest) -> str:
        """Where a config goes."""
        return f"{digest.hex}.json"

    def state(self) -> tuple[Any, ...]:
        """A checkpoint of what was written (to undo an image that failed)."""
        return (self.tar.checkpoint(), dict(self.blobs), set(self.legacy_layers), json.dumps(self.items),
                json.dumps(self.repositories), dict(self.by_config), dict(self.configs))

    def restore(self, state: tuple[Any, ...], why: str) -> None:
        """Undo everything written since ``state`` (or mark the archive broken when it cannot be)."""
        offset, blobs, legacy, items, repositories, by_config, configs = state
        self.tar.rollback(offset, why)
        self.blobs, self.legacy_layers, self.configs = blobs, legacy, configs
        self.items, self.repositories, self.by_config = json.loads(items), json.loads(repositories), by_config

    def put_config(self, config: bytes, digest: Digest) -> None:
        """Store a config (verified by the caller)."""
        if digest not in self.blobs:
            self.tar.add_bytes(self.config_path(digest), config)
            self.blobs[digest] = len(config)
            self.configs[digest] = config

    def put_layer(self, stream: Readable, digest: Digest | None, size: int, what: str) -> BlobInfo:
        """Store a layer, verifying it against ``digest`` (and ``size``) while it streams.

        With ``digest`` None or ``size`` -1 the member is written first and named (or
        sized) afterwards (see archivewriter).
        """
        reader = DigestingReader(stream, digest, expected_size=size, what=what)
        if digest is not None and size >= 0:
            self.tar.add_stream(self.layer_path(digest), reader, size)
            reader.verify()
            self.blobs[digest] = size
            return BlobInfo(digest=digest, size=size)

        def name() -> str | None:
            digest = reader.verify()
            return None if digest in self.blobs else self.layer_path(digest)  # already here: keep one

        written = self.tar.add_stream_unknown_size(reader, name)
        actual = reader.verify()
        self.blobs[actual] = written
        return BlobInfo(digest=actual, size=written)

    def add_image(self, layer_digests: Sequence[Digest], config_digest: Digest, config: bytes,
                  repo_tags: Sequence[Any]) -> None:
        """Legacy per-layer entries, repositories, and the manifest.json item of one image."""
        self._legacy(layer_digests, config, repo_tags)
        new_item: dict[str, Any] = {"Config": self.config_path(config_digest), "RepoTags": [],
                    "Layers": [self.layer_path(d) for d in layer_digests]}
        index = self.by_config.get(config_digest)
        if index is None:
            self.by_config[config_digest] = len(self.items)
            self.items.append(new_item)
            item = new_item
        else:
            item = self.items[index]
            if item["Layers"] != new_item["Layers"]:
                raise TransportError(f"{self.tar.what}: internal error: two images with config {config_digest} "
                                     "and different layers")
        for tag in repo_tags:
            text = f"{tag.name}:{tag.tag}"
            if text not in item["RepoTags"]:
                item["RepoTags"].append(text)

    def _legacy(self, layer_digests: Sequence[Digest], config: bytes, repo_tags: Sequence[Any]) -> None:
        chain: str | None = None
        last = ""
        parsed = load_json(config, f"{self.tar.what}: config")
        for i, digest in enumerate(layer_digests):
            layer_config: dict[str, Any] = {}
            if last:
                layer_config["parent"] = last
            if i == len(layer_digests) - 1:
                for attr in ("architecture", "config", "container", "container_config", "created",
                             "docker_version", "os"):
                    layer_config[attr] = parsed.get(attr) if isinstance(parsed, dict) else None
            chain = str(digest) if chain is None else "sha256:" + hashlib.sha256(
                f"{chain} {digest}".encode()).hexdigest()
            layer_config["layer_id"] = chain
            layer_id = hashlib.sha256(go_marshal(dict(sorted(layer_config.items())))).hexdigest()
            del layer_config["layer_id"]
            layer_config["id"] = layer_id
            if layer_id not in self.legacy_layers:
                self.tar.add_symlink(f"{layer_id}/layer.tar", f"../{self.layer_path(digest)}")
                self.tar.add_bytes(f"{layer_id}/VERSION", b"1.0")
                self.tar.add_bytes(f"{layer_id}/json", go_marshal(dict(sorted(layer_config.items()))))
                self.legacy_layers.add(layer_id)
            last = layer_id
        if last:
            for tag in repo_tags:
                self.repositories.setdefault(tag.name, {})[tag.tag] = last

    def finish(self) -> None:
        """manifest.json and repositories, then the end of the archive."""
        self.tar.add_bytes(MANIFEST_FILE, go_marshal(self.items) if self.items else b"null")
        # A Go map[string]map[string]string: both levels marshal with sorted keys, whatever
        # the order the tags were given in (skopeo's --additional-tag order is not kept).
        repositories = {name: sorted_map(tags) for name, tags in sorted(self.repositories.items())}
        self.tar.add_bytes(REPOSITORIES_FILE, go_marshal(repositories))
        self.tar.finish()


def check_schema2(manifest: bytes, what: str) -> tuple[Digest, list[tuple[Digest, str]]]:
    """The config digest and (digest, media type) of each layer of a Docker schema2 manifest.

    Raises:
        ManifestError: not a schema2 manifest (docker archives store nothing else).
    """
    try:
        value = json.loads(manifest)
    except ValueError as exc:
        raise ManifestError(f"{what}: parsing manifest: {exc}") from exc
    if not isinstance(value, dict) or value.get("schemaVersion") != 2 or value.get("mediaType") != DOCKER_V2S2:
        raise ManifestError(f"{what}: unsupported manifest type, need a Docker schema 2 manifest",
                            code="manifest-type-unsupported")
    try:
        config = Digest.parse(value["config"]["digest"])
        layers = [(Digest.parse(layer["digest"]), str(layer.get("mediaType", ""))) for layer in value["layers"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{what}: malformed schema2 manifest: {exc}") from exc
    return config, layers


def verified_bytes(stream: Readable, info: BlobInfo, limit: int, what: str) -> bytes:
    """Read a small blob (a config) into memory, verified and bounded.

    Raises:
        LimitExceededError / DigestMismatchError.
    """
    reader = DigestingReader(stream, info.digest, expected_size=info.size, what=what)
    data = limits.read_at_most(reader, limit, what)
    reader.verify()
    return data


class TarImageWriter(Protocol):
    """What a docker-save destination writes through (an archive file, or a daemon's load)."""

    docker: DockerTarWriter
    images: int

    def commit(self) -> None:
        """Finish and publish everything written."""

    def close(self) -> None:
        """Release; without commit, leave nothing behind."""


class DockerTarDestination(NoSignatures, NoManifestLists, ImageDestination):
    """Writes one image in docker-save form through a :class:`TarImageWriter`.

    Args:
        own: this destination owns the writer (commits and closes it); otherwise the
            writer is shared by several images and an uncommitted image is rolled back.
        tags: the RepoTags to record.
        keep_compressed: store layers compressed (small-disk mode) instead of decompressing.
    """

    def __init__(self, ref: ImageReference, writer: TarImageWriter, *, own: bool, tags: list[Any],
                 keep_compressed: bool) -> None:
        self.reference = ref
        self._what = str(ref)
        self._init_no_signatures(f"{self._what}: storing signatures for docker tar files is not supported")
        self._own = own
        self._writer = writer
        self._docker = writer.docker
        self._state = self._docker.state()
        self._tags = tags
        self._keep_compressed = keep_compressed
        self._committed = self._closed = False

    def supported_manifest_mime_types(self) -> Sequence[str]:
        """Docker schema2 only."""
        return [DOCKER_V2S2]

    @property
    def desired_layer_compression(self) -> LayerCompression:
        """Uncompressed layers (as skopeo), or compressed ones in small-disk mode."""
        return LayerCompression.COMPRESS if self._keep_compressed else LayerCompression.DECOMPRESS

    @property
    def has_thread_safe_put_blob(self) -> bool:
        """One tar stream: one blob at a time."""
        return False

    def put_blob(self, stream: BinaryIO, info: BlobInfo, *, is_config: bool = False) -> BlobInfo:
        """A config into memory (and the archive); a layer into the archive, verified."""
        what = f"{self._what}: blob {info.digest}"
        if is_config:
            config = verified_bytes(stream, info, limits.MAX_CONFIG_BODY, what)
            self._docker.put_config(config, info.digest)
            return BlobInfo(digest=info.digest, size=len(config), media_type=info.media_type)
        stored = self._docker.put_layer(stream, info.digest, info.size, what)
        return dataclasses.replace(stored, media_type=info.media_type)

    def put_new_blob(self, stream: BinaryIO, *, media_type: str | None = None, is_config: bool = False) -> BlobInfo:
        """A layer whose digest and size are learnt while it is written."""
        if is_config:
            return super().put_new_blob(stream, media_type=media_type, is_config=True)
        stored = self._docker.put_layer(stream, None, -1, f"{self._what}: new layer")
        return dataclasses.replace(stored, media_type=media_type)

    def try_reusing_blob(self, info: BlobInfo) -> BlobInfo | None:
        """A blob already in this archive is not written twice."""
        size = self._docker.blobs.get(info.digest)
        if size is None or (info.size >= 0 and size != info.size):
            return None
        return BlobInfo(digest=info.digest, size=size, media_type=info.media_type)

    def put_manifest(self, manifest: bytes, instance_digest: Digest | None = None) -> None:
        """Record the image (legacy entries now; manifest.json at commit)."""
        if instance_digest is not None:
            raise ManifestError(f"{self._what}: manifest lists are not supported for docker tar files",
                                code="manifest-list-unsupported")
        config_digest, layers = check_schema2(manifest, self._what)
        config = self._docker.configs.get(config_digest)
        if config is None:
            raise ManifestError(f"{self._what}: internal error: the config {config_digest} was not written first")
        self._docker.add_image([d for d, _ in layers], config_digest, config, self._tags)

    def commit(self, toplevel_manifest: bytes) -> None:
        """Finish the archive (when this destination owns it) and move it into place."""
        if self._committed:
            raise RuntimeError("commit() called twice")
        self._committed = True
        self._writer.images += 1
        if self._own:
            self._writer.commit()

    def close(self) -> None:
        """Without commit: roll this image back; remove the archive if this destination owns it."""
        if self._closed:
            return
        self._closed = True
        if not self._committed and not self._own:
            self._docker.restore(self._state, f"the copy of {self._what} did not complete")
        if self._own:
            self._writer.close()

