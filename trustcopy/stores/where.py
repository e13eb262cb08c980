"""``lookaside where``: which configuration decides where an image's signatures are read and written.

For a logical image reference this combines registries.conf (which endpoints a pull
tries, in order, and where a push goes) with registries.d (which store each of those
uses): as in containers/image, signatures of a pull through a mirror are looked up for
the mirror's *physical* reference, with the mirror's registries.d section, while a
push always writes for the logical reference. Nothing is read from any store here.

It also points out where the layout makes two registries share files: the store path
leaves the registry host out (``BASE/REPOSITORY-PATH@…``), so when the section that
chose the store covers several registries (``default-docker``, a ``*.domain`` wildcard,
the built-in default), or another registry's section names the same store,
``a.example/ns/app`` and ``b.example/ns/app`` read and overwrite the same
``signature-N`` files.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from trustcopy.lazy import dataclass
from trustcopy.redact import redact_url
from trustcopy.reference import DockerReference
from trustcopy.stores.registries_d import AttachmentsChoice, LookasideChoice, RegistriesD, Section
from trustcopy.sysregistries import ConfigWarning, PullSource, PushTarget, RegistriesConf, Registry


@dataclass(frozen=True)
class ReadPlace:
    """One pull source and the store its signatures are read from."""

    source: PullSource
    lookaside: LookasideChoice
    attachments: AttachmentsChoice


@dataclass(frozen=True)
class Where:
    """The answer of ``lookaside where`` for one image."""

    reference: DockerReference
    registries_d: RegistriesD
    registries_conf: RegistriesConf
    registry: Registry | None
    reads: tuple[ReadPlace, ...]
    push: PushTarget
    write: LookasideChoice
    write_attachments: AttachmentsChoice
    #: Where two registries' images would share lookaside files.
    sharing: tuple[str, ...]

    @property
    def warnings(self) -> tuple[ConfigWarning, ...]:
        """The configuration warnings of both files sets."""
        return self.registries_d.warnings + self.registries_conf.warnings

    def signature_url(self, choice: LookasideChoice, ref: DockerReference) -> str:
        """``signature-1``'s URL when the digest is known, else a template."""
        if ref.digest is not None:
            return redact_url(choice.location.signature_url(ref.digest, 1))
        # Into the path, not after the URL: a base's query (kept for http(s)) comes last.
        parts = urlsplit(choice.location.repository_url)
        return redact_url(urlunsplit(parts._replace(path=parts.path + "@ALGO=HEX/signature-N")))

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (docs/registries.md, ``lookaside where --output json``)."""
        return {
            "image": str(self.reference),
            "registriesD": {"directory": self.registries_d.directory, "files": list(self.registries_d.files)},
            "registriesConf": {
                "files": list(self.registries_conf.files),
                "entry": self.registry.to_json() if self.registry is not None else None,
            },
            "read": [
                {
                    "reference": str(place.source.reference),
                    "mirror": place.source.mirror,
                    "insecure": place.source.endpoint.insecure,
                    "blockedBy": _rule(place.source.blocked_by),
                    "lookaside": _choice_json(place.lookaside),
                    "signatureURL": self.signature_url(place.lookaside, place.source.reference),
                    "sigstoreAttachments": _attachments_json(place.attachments),
                }
                for place in self.reads
            ],
            "write": {
                "reference": str(self.push.reference),
                "insecure": self.push.insecure,
                "blockedBy": _rule(self.push.blocked_by),
                "lookaside": _choice_json(self.write),
                "signatureURL": self.signature_url(self.write, self.push.reference),
                "sigstoreAttachments": _attachments_json(self.write_attachments),
            },
            "warnings": [w.to_json() for w in self.warnings] + [{"message": m} for m in self.sharing],
        }


def _rule(reg: Registry | None) -> dict[str, Any] | None:
    return None if reg is None else {"file": reg.file, "entry": reg.entry, "prefix": reg.prefix}


def _choice_json(choice: LookasideChoice) -> dict[str, Any]:
    out: dict[str, Any] = choice.location.to_json()
    out["file"] = choice.section.file if choice.section is not None else None
    out["section"] = choice.section.label if choice.section is not None else None
    out["key"] = choice.key
    out["matchedSections"] = list(choice.matched)
    return out


def _attachments_json(choice: AttachmentsChoice) -> dict[str, Any]:
    return {"value": choice.value, "file": choice.section.file if choice.section is not None else None,
            "section": choice.section.label if choice.section is not None else None}


def where(ref: DockerReference, registries_d: RegistriesD, registries_conf: RegistriesConf) -> Where:
    """Explain where ``ref``'s signatures are read from and written to.

    Args:
        ref: the logical reference, with a tag or a digest.
        registries_d: the loaded registries.d configuration.
        registries_conf: the loaded registries.conf configuration.

    Raises:
        ConfigError: a store URL is unusable, or a location rewrites ``ref`` into an
            invalid reference (naming the file and entry).
    """
    plan = registries_conf.pull_plan(ref)
    reads = tuple(
        ReadPlace(source, registries_d.lookaside_choice(source.reference, write=False),
                  registries_d.attachments_choice(source.reference))
        for source in plan.sources
    )
    push = registries_conf.push_target(ref)
    write = registries_d.lookaside_choice(push.reference, write=True)
    sharing: list[str] = []
    for choice, ref_used in [(p.lookaside, p.source.reference) for p in reads] + [(write, push.reference)]:
        for message in sharing_warnings(registries_d, choice, ref_used):
            if message not in sharing:
                sharing.append(message)
    return Where(ref, registries_d, registries_conf, plan.registry, reads, push, write,
                 registries_d.attachments_choice(push.reference), tuple(sharing))


def _same_store(url: str, base_url: str) -> bool:
    """Whether ``url`` names the store ``base_url``: for file:// the same directory, however
    spelt ("file:///s/", "file://localhost/s": containers/image opens the same files)."""
    if url == base_url:
        return True
    a, b = urlsplit(url), urlsplit(base_url)
    if a.scheme != "file" or b.scheme != "file" or a.netloc not in ("", "localhost") \
            or b.netloc not in ("", "localhost"):
        return False
    return posixpath.normpath(unquote(a.path)) == posixpath.normpath(unquote(b.path))


def _section_host(section: Section) -> str:
    return section.name.split("/", 1)[0]


def sharing_warnings(registries_d: RegistriesD, choice: LookasideChoice, ref: DockerReference) -> list[str]:
    """Why images of other registries may share ``choice``'s files with ``ref`` (empty: they do not).

    Args:
        registries_d: the configuration ``choice`` came from.
        choice: the store chosen for ``ref``.
        ref: the reference the store was chosen for.
    """
    files = redact_url(choice.location.repository_url)
    direction = "writing" if choice.write else "reading"
    out: list[str] = []
    section = choice.section
    if section is None or section.is_default:
        which = "the built-in default" if section is None else f"default-docker in {section.file}"
        out.append(
            f"{direction} {ref.name}: the store comes from {which}, which applies to every registry: "
            f"{ref.path} on any other registry uses the same files {files}"
        )
    elif section.name.startswith("*."):
        out.append(
            f"{direction} {ref.name}: the store comes from {section.label} in {section.file}, which applies to "
            f"every registry under {section.name[2:]}: {ref.path} on any of them uses the same files {files}"
        )
    for other in registries_d.docker.values():
        if other is section or other.name.startswith("*.") or _section_host(other) == ref.domain:
            continue
        answer = other.url_for(choice.write)
        if answer is not None and _same_store(answer[1], choice.location.base_url):
            out.append(
                f"{direction} {ref.name}: {other.label} in {other.file} names the same store "
                f"{redact_url(choice.location.base_url)}: {_section_host(other)}/{ref.path} would use the same "
                f"files {files}"
            )
    return out
