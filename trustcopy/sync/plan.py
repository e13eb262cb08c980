"""What a sync will copy: the source's entries, the images each names, and where each one goes.

Sources (``--src``), as skopeo sync reads them:

- ``docker``: ``REGISTRY/REPO[:TAG|@DIGEST]``; a repository without tag or digest means
  every tag it lists (none at all is an error, as in skopeo).
- ``dir``: a directory; every directory below it (itself included) that holds a
  ``manifest.json`` is an image, and nothing below an image is searched. Symbolic links
  to directories are not followed. Order is by name, so it is deterministic.
- ``yaml``: a sync YAML (sync/config.py): one entry per repository and section.

Destination names (skopeo's): the source's full name (``registry.example.com/busybox:1``
for a registry, the path below the source directory for ``dir``) with ``--scoped``, its
last path element (``busybox:1``) without; joined to the destination with Go's
``path.Join`` (which cleans ``//`` and ``.``), then ``--append-suffix`` appended.

Invariants:
- Every entry resolves on its own: a failure (no such registry, a missing repository,
  a tag list that never ends: limits in the docker transport) fails that entry only,
  and is reported with its label.
- Two entries naming the same destination for *different* sources are a failure of the
  later one (skopeo copies both, one over the other, in an order Go randomises); the same
  source and destination twice is one image.
- ``--shard I/N`` keeps the images whose destination name hashes (SHA-256) to I modulo N:
  a given image lands in the same shard on every machine, whatever order the registries
  list tags in and whatever tags were added since; failed entries are reported by every
  shard (none of them can know which of the entry's images were its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import posixpath
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING

from trustcopy.errors import ConfigError, InvalidReferenceError, TransportError, TrustcopyError, UsageError
from trustcopy.lazy import dataclass
from trustcopy.sync.config import Selector, SelectorKind
from trustcopy.transports.base import ImageReference
from trustcopy.types import SystemContext

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference

log = logging.getLogger("trustcopy.sync")


class SourceKind(StrEnum):
    """``--src``."""

    DOCKER = "docker"
    DIR = "dir"
    YAML = "yaml"


class DestinationKind(StrEnum):
    """``--dest``."""

    DOCKER = "docker"
    DIR = "dir"


@dataclass(frozen=True)
class Shard:
    """``--shard INDEX/COUNT``: this run takes the INDEX-th (from 0) of COUNT slices."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UsageError(f"invalid shard {self.index}/{self.count}: the index counts from 0 to COUNT-1 "
                             f"(e.g. 0/4 … 3/4)", code="invalid-shard")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` → Shard.

        Raises:
            UsageError: not two integers, or I outside 0 … N-1.
        """
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise UsageError(f"invalid --shard {text!r}: expected INDEX/COUNT, e.g. 0/4", code="invalid-shard")
        return cls(int(index), int(count))

    def takes(self, destination: str) -> bool:
        """Whether this shard copies the image going to ``destination``."""
        if self.count == 1:
            return True
        value = int.from_bytes(hashlib.sha256(destination.encode()).digest()[:8], "big")
        return value % self.count == self.index


@dataclass(frozen=True)
class Entry:
    """One unit of the source: resolves (maybe over the network) to image references."""

    label: str
    ctx: SystemContext
    resolve: Callable[[], list[ImageReference]]
    #: For ``dir`` sources: the resolved source directory the destination names are relative to.
    base: str | None = None


@dataclass(frozen=True)
class WorkItem:
    """One image to sync: where from, with which settings, and where to."""

    entry: str
    source: ImageReference
    source_ctx: SystemContext
    destination: str  #: ``docker://…`` (as the transport prints it) or ``dir:…``: reports, digest file
    kind: DestinationKind
    target: str  #: the destination within its transport (``host/repo:tag``, or the directory)

    def destination_reference(self) -> ImageReference:
        """The destination as a reference (a ``dir:`` target's parent must exist by then).

        Raises:
            InvalidReferenceError: the name is not a valid reference (``--append-suffix``
                after a digest, say).
        """
        from trustcopy.transports.alltransports import parse_image_name

        return parse_image_name(self.destination)


@dataclass(frozen=True)
class EntryFailure:
    """An entry (or one image of it) that cannot be synced."""

    label: str
    error: TrustcopyError
    source: str | None = None


# -- Go's path package, for destination names ---------------------------------------------


def go_clean(path: str) -> str:
    """Go ``path.Clean`` (POSIX normpath, except that a leading ``//`` becomes ``/``)."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def go_join(*elements: str) -> str:
    """Go ``path.Join``: the non-empty elements joined with ``/`` and cleaned ("" if none)."""
    parts = [e for e in elements if e]
    return go_clean("/".join(parts)) if parts else ""


def go_base(path: str) -> str:
    """Go ``path.Base``: the last element, trailing slashes ignored ("." for "", "/" for slashes)."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def destination_for(entry: Entry, source: ImageReference, kind: DestinationKind, destination: str, *,
                    scoped: bool, append_suffix: str) -> tuple[str, str]:
    """``(transport:name, name)`` of the image ``source`` at the destination (module docstring)."""
    docker = source.docker_reference() if source.transport.name == "docker" else None
    if docker is not None:
        suffix = str(docker)
    else:
        resolved = source.policy_configuration_identity()  # dir: the resolved path
        base = entry.base or ""
        suffix = resolved[len(base):] if base and resolved.startswith(base) else resolved
        if not suffix:
            suffix = go_base(base)
    if not scoped:
        suffix = go_base(suffix)
    target = go_join(destination, suffix) + append_suffix
    return (f"docker://{target}" if kind is DestinationKind.DOCKER else f"dir:{target}"), target


# -- entries of each source kind ---------------------------------------------------------------


def docker_entries(source: str, ctx: SystemContext) -> list[Entry]:
    """``--src docker SOURCE``: one image, or every tag of a repository.

    Raises:
        InvalidReferenceError: SOURCE is not a reference.
    """
    from trustcopy.reference import parse_normalized_named
    from trustcopy.transports.docker.reference import new_reference

    try:
        named = parse_normalized_named(source)
    except InvalidReferenceError as exc:
        raise InvalidReferenceError(f"invalid --src docker source {source!r}: {exc.message}", code=exc.code,
                                    hint=exc.hint) from exc
    if not named.is_name_only:
        image = new_reference(named)
        return [Entry(source, ctx, lambda: [image])]

    def every_tag() -> list[ImageReference]:
        refs = _tagged(named, ctx, lambda _tag: True, source)
        if not refs:
            raise TransportError(f"no images to sync found in {source!r}: the repository has no tags",
                                 code="sync-nothing-found")
        return refs

    return [Entry(source, ctx, every_tag)]


def _image_dirs(base: str, fail: Callable[[OSError], None]) -> Iterator[str]:
    """The directories below ``base`` (itself included) holding a ``manifest.json`` file, in
    lexical depth-first order, as skopeo's ``filepath.WalkDir``; nothing below an image is
    searched (skopeo: ``SkipDir``) and symbolic links to directories are not followed.

    Iterative: ``os.walk`` recurses once per level (before Python 3.12), so a source tree
    nested a thousand levels deep ended the command with a RecursionError traceback.
    """
    stack = [base]
    while stack:
        dirpath = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError as exc:
            fail(exc)
            continue
        subdirs: list[str] = []
        has_manifest = False
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows a link, as os.walk sorts entries
            except OSError:
                is_dir = False
            if not is_dir:
                has_manifest = has_manifest or entry.name == "manifest.json"
            elif not entry.is_symlink():
                subdirs.append(entry.name)
        if has_manifest:
            yield dirpath
            continue
        stack.extend(os.path.join(dirpath, name) for name in sorted(subdirs, reverse=True))


def dir_entries(source: str, ctx: SystemContext) -> list[Entry]:
    """``--src dir SOURCE``: every image directory below SOURCE (one entry).

    Raises:
        TransportError: SOURCE is not a directory.
    """
    from trustcopy.fsutil import resolve_path_to_fully_explicit

    if not os.path.isdir(source):
        raise TransportError(f"invalid --src dir source {source!r}: not a directory", code="sync-source-invalid")
    base = resolve_path_to_fully_explicit(source)

    def walk() -> list[ImageReference]:
        from trustcopy.transports.dir import TRANSPORT

        found: list[ImageReference] = []

        def fail(exc: OSError) -> None:
            raise TransportError(f"reading {source}: {exc.filename}: {exc.strerror}", code="sync-source-invalid")

        for dirpath in _image_dirs(base, fail):
            found.append(TRANSPORT.parse_reference(dirpath))
        if not found:
            raise TransportError(f"no images to sync found in {source!r}", code="sync-nothing-found")
        return found

    return [Entry(source, ctx, walk, base=base)]


def yaml_entries(path: str, ctx: SystemContext,
                 warn: Callable[[str], None]) -> tuple[list[Entry], list[EntryFailure]]:
    """``--src yaml FILE``: one entry per repository and section (sync/config.py).

    ``warn`` receives the file's warnings now, and those of resolving (an entry that
    found no tags) when they happen, from any thread.

    Returns:
        The entries, and the file's problems as failures.

    Raises:
        ConfigError: the file cannot be read or is not a sync YAML at all.
    """
    from trustcopy.sync.config import load_sync_file

    sync_file = load_sync_file(path)
    failures = [EntryFailure(p.label, p.error) for p in sync_file.problems]
    entries: list[Entry] = []
    for warning in sync_file.warnings:
        warn(warning)
    for registry in sync_file.registries:
        s = registry.settings
        reg_ctx = dataclasses.replace(ctx, extra=dict(ctx.extra))
        if s.tls_verify is not None:
            reg_ctx.docker_tls_verify = s.tls_verify
        if s.cert_dir is not None:
            reg_ctx.docker_cert_path = s.cert_dir
        if s.username is not None or s.password is not None:
            reg_ctx.docker_username, reg_ctx.docker_password = s.username or "", s.password or ""
            reg_ctx.docker_no_creds = False
        for selector in registry.selectors:
            entries.append(Entry(selector.label, reg_ctx, _selector_resolver(selector, reg_ctx, warn)))
    return entries, failures


def _selector_resolver(selector: Selector, ctx: SystemContext,
                       warn: Callable[[str], None]) -> Callable[[], list[ImageReference]]:
    """What resolving a YAML selector does: its listed refs, or the repository's tags it keeps."""
    from trustcopy.reference import parse_normalized_named
    from trustcopy.transports.docker.reference import new_reference

    repo = parse_normalized_named(f"{selector.registry}/{selector.repository}")

    def resolve() -> list[ImageReference]:
        from trustcopy.digest import Digest

        if selector.kind is SelectorKind.IMAGES and selector.refs:
            return [new_reference(repo.with_digest(Digest.parse(r)) if ":" in r else repo.with_tag(r))
                    for r in selector.refs]
        if selector.kind is SelectorKind.IMAGES:
            keep: Callable[[str], bool] = lambda _tag: True  # noqa: E731
        elif selector.kind is SelectorKind.TAG_REGEX:
            from trustcopy.sync.semver import compile_re2

            pattern = compile_re2(selector.pattern)
            keep = lambda tag: pattern.search(tag) is not None  # noqa: E731
        else:
            from trustcopy.sync.semver import parse_constraint

            keep = parse_constraint(selector.pattern).check_tag
        refs = _tagged(repo, ctx, keep, selector.label)
        if not refs:
            warn(f"{selector.label}: no tags to sync found")
        return refs

    return resolve


def _tagged(repo: DockerReference, ctx: SystemContext, keep: Callable[[str], bool],
            label: str) -> list[ImageReference]:
    """The repository's tags that ``keep`` accepts, as references (invalid tags skipped with a warning)."""
    from trustcopy.transports.docker.reference import new_reference
    from trustcopy.transports.docker.source import repository_tags

    refs: list[ImageReference] = []
    for tag in repository_tags(new_reference(repo.tag_name_only()), ctx):
        try:
            tagged = repo.with_tag(tag)
        except InvalidReferenceError:
            log.warning("%s: the registry lists an invalid tag %r; skipped", label, tag[:140])
            continue
        if keep(tag):
            refs.append(new_reference(tagged))
    return refs


def plan_items(entries: list[Entry], resolved: list[list[ImageReference] | TrustcopyError],
               kind: DestinationKind, destination: str, *, scoped: bool, append_suffix: str,
               shard: Shard | None) -> tuple[list[WorkItem], list[EntryFailure]]:
    """Name the destination of every resolved image; drop duplicates, fail collisions, keep the shard's.

    Args:
        resolved: for each entry, its references or the error resolving it raised.
    """
    items: list[WorkItem] = []
    failures: list[EntryFailure] = []
    taken: dict[str, str] = {}
    for entry, result in zip(entries, resolved, strict=True):
        if isinstance(result, TrustcopyError):
            failures.append(EntryFailure(entry.label, result))
            continue
        for source in result:
            name, target = destination_for(entry, source, kind, destination, scoped=scoped,
                                           append_suffix=append_suffix)
            if shard is not None and not shard.takes(name):
                continue
            earlier = taken.get(name)
            if earlier == str(source):
                continue  # the same image named twice (by two sections, say)
            if earlier is not None:
                failures.append(EntryFailure(entry.label, ConfigError(
                    f"{source} would go to {name}, where {earlier} goes already", code="sync-destination-collision",
                    hint="use --scoped to keep the source's full name at the destination"), str(source)))
                continue
            shown = name
            if kind is DestinationKind.DOCKER:
                try:
                    # As the transport prints it (skopeo's transports.ImageName): Docker Hub names short,
                    # the same for a copied and a skipped image, in the report and the digest file.
                    shown = str(WorkItem(entry.label, source, entry.ctx, name, kind, target).destination_reference())
                except InvalidReferenceError as exc:
                    failures.append(EntryFailure(entry.label, exc, str(source)))
                    continue
            taken[name] = str(source)
            items.append(WorkItem(entry.label, source, entry.ctx, shown, kind, target))
    return items, failures
