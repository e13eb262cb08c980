"""Signatures of registry images: a lookaside store, or the registry's own signature API.

As containers/image (``docker_image_src.go``/``docker_image_dest.go``), a registry image's
simple-signing signatures live in one of two places:

- **The registry's signature API**, when its ``GET /v2/`` answer carried
  ``X-Registry-Supports-Signatures: 1`` (OpenShift's integrated registry):
  ``GET /extensions/v2/NAME/signatures/DIGEST`` answers ``{"signatures": [{"schemaVersion":
  2, "name": "DIGEST@…", "type": "atomic", "content": BASE64}, …]}``; entries of another
  version or type are skipped, as containers/image skips them. Writing PUTs each new
  signature (one not already listed, byte for byte) as such an entry with a fresh random
  name (``DIGEST@32 hex digits``) and expects ``201 Created``; the API cannot remove one.
  A PUT is retried like any replayable request; a ``409`` after a retry is success only
  when the list now holds that signature under that very name (the first attempt's
  answer was lost after the registry stored it).
- **Otherwise, a lookaside store** (stores/lookaside.py) chosen by registries.d: for
  reading, the store of the *physical* reference pulled from (a mirror's own store when
  the pull went through a mirror), over ``file://`` or ``http(s)://`` with the registry's
  TLS settings; for writing and deleting, the write store of the reference pushed to
  (``file://`` only).

Sigstore signatures are not stored here: containers/image keeps them as registry
attachments (``use-sigstore-attachments``, stores/attachments.py), whatever the above says.

Invariants:
- Every answer is read bounded (the signature list at 4 MiB) and parsed strictly: a
  list that is not what the API returns is an error naming the URL, never "no signatures".
- Every signature carries ``location``: the lookaside URL of its ``signature-N``, or the
  API's URL with ``#N`` (its position in the list), so a rejection names where it was.
- Nothing here decides whether a signature is good: that is the policy's job.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from trustcopy import limits
from trustcopy.errors import RegistryError, SignatureError
from trustcopy.gojson import fold
from trustcopy.redact import redact_url

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.reference import DockerReference
    from trustcopy.signature.formats import Signature
    from trustcopy.transports.docker.client import RegistryClient

log = logging.getLogger("trustcopy.docker")

#: c/i ``extensionSignatureSchemaVersion`` and ``extensionSignatureTypeAtomic``.
EXTENSION_SCHEMA_VERSION = 2
EXTENSION_TYPE_ATOMIC = "atomic"


def extension_path(repository: str, digest: Digest) -> str:
    """``/extensions/v2/NAME/signatures/DIGEST`` (c/i ``extensionsSignaturePath``)."""
    return f"/extensions/v2/{repository}/signatures/{digest}"


# -- reading ----------------------------------------------------------------------------


def read_signatures(client: RegistryClient, ref: DockerReference, digest: Digest) -> list[Signature]:
    """The simple-signing signatures of ``digest`` in ``ref``'s repository (the physical reference).

    Args:
        client: the client of the registry actually pulled from (pinged here if needed).
        ref: the physical reference (a mirror's, when the pull went through one).
        digest: the manifest digest (an instance's, for an instance of a list).

    Raises:
        RegistryError / NetworkError: the signature API failed or answered nonsense.
        TransportError / LimitExceededError / ConfigError: reading the lookaside store failed
            (stores/lookaside.py names the URL and the index).
    """
    client.ensure_ping()
    if client.supports_signatures_extension:
        return [sig for _, sig in _extension_list(client, digest)]
    from trustcopy.stores.lookaside import read_signatures as read_lookaside

    location = client.config.lookaside(ref, write=False)
    log.debug("reading signatures of %s@%s from the lookaside %s", ref.name, digest,
              redact_url(location.repository_url))
    http, pool = client.lookaside_http()
    return read_lookaside(location, digest, http=http, client=pool if location.scheme != "file" else None)


def _extension_list(client: RegistryClient, digest: Digest) -> list[tuple[dict[str, Any], Signature]]:
    """Every entry of the API's list, with the SimpleSigning of the version-2 ``atomic`` ones.

    Returns:
        (entry, signature) for the entries containers/image uses; the others are skipped.
    """
    return _used_entries(*_extension_entries(client, digest))


def _extension_entries(client: RegistryClient, digest: Digest) -> tuple[list[dict[str, Any]], str, str]:
    """(every entry of the API's list, its URL for locations, what is read for messages)."""
    path = extension_path(client.path, digest)
    url = redact_url(str(client.url(path)))
    what = f"reading signatures of {client.domain}/{client.path}@{digest} from the registry's signature API ({url})"
    _, body = client.get_whole(path, limits.MAX_SIGNATURE_LIST_BODY, what)
    return parse_signature_list(body, what), url, what


def _used_entries(entries: list[dict[str, Any]], url: str, what: str) -> list[tuple[dict[str, Any], Signature]]:
    """The version-2 ``atomic`` entries (c/i ``appendSignaturesFromAPIExtension``), as SimpleSignings."""
    from trustcopy.signature.formats import SimpleSigning

    out: list[tuple[dict[str, Any], Signature]] = []
    for index, entry in enumerate(entries, start=1):
        if entry["schemaVersion"] == EXTENSION_SCHEMA_VERSION and entry["type"] == EXTENSION_TYPE_ATOMIC:
            out.append((entry, SimpleSigning(entry["content"], location=f"{url}#{index}")))
        else:
            log.debug("%s: skipping entry %d (schemaVersion %r, type %r)", what, index, entry["schemaVersion"],
                      entry["type"][:40])
    return out


class _JSONObject(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs, in document order (Go's decoder sees every one)."""


_INT64 = range(-(1 << 63), 1 << 63)


def _go_members(obj: _JSONObject, fields: dict[str, str]) -> list[tuple[str, Any]]:
    """(field, value) for each member naming one of ``fields`` (keyed by folded name), in order.

    As Go's ``json.Unmarshal`` into a struct: keys match field names in any letter case,
    unknown keys are ignored, and of several keys naming one field the last one wins.
    """
    out = []
    for key, value in obj:
        folded = fold(key)
        if folded in fields:
            out.append((fields[folded], value))
    return out


_LIST_FIELDS = {"signatures": "signatures"}
_ENTRY_FIELDS = {"schemaversion": "schemaVersion", "name": "name", "type": "type", "content": "content"}


def parse_signature_list(body: bytes, what: str) -> list[dict[str, Any]]:
    """The API's ``{"signatures": [...]}`` body → entries with checked types, content decoded.

    Go's ``json.Unmarshal`` into containers/image's structs (c/i ``getExtensionsSignatures``)
    is the model: keys match in any letter case (the last of several wins), unknown keys
    are ignored, ``null`` leaves a field at its zero value (a ``null`` body or entry is
    an empty one), and a value of the wrong type (a number out of int64 range, ``content``
    that is not base64) fails the whole list. Invalid UTF-8 inside strings becomes
    U+FFFD, as Go's decoder does.

    Raises:
        RegistryError: the body is not such a list (naming ``what``).
    """
    from trustcopy.signature.sigstore_keys import go_b64decode

    def bad(why: str) -> RegistryError:
        return RegistryError(f"{what}: the signature list is malformed: {why}", code="registry")

    try:
        doc = limits.load_json(body.decode("utf-8", "replace"), what, object_pairs_hook=_JSONObject)
    except (ValueError, RecursionError):
        raise bad("not JSON") from None
    if doc is None:
        return []
    if not isinstance(doc, _JSONObject):
        raise bad("not a JSON object")
    raw: list[Any] = []
    for _, value in _go_members(doc, _LIST_FIELDS):
        if value is not None and (not isinstance(value, list) or isinstance(value, _JSONObject)):
            raise bad('"signatures" is not a list')
        raw = value or []
    entries = []
    for index, item in enumerate(raw, start=1):
        if item is not None and not isinstance(item, _JSONObject):
            raise bad(f"entry {index} is not an object")
        entry: dict[str, Any] = {"schemaVersion": 0, "name": "", "type": "", "content": b""}
        for field_name, value in _go_members(item or _JSONObject(), _ENTRY_FIELDS):
            if field_name == "content":
                if value is not None and not isinstance(value, str):
                    raise bad(f"entry {index}: content is not a base64 string")
                try:
                    entry["content"] = b"" if value is None else go_b64decode(value)
                except ValueError:
                    raise bad(f"entry {index}: content is not base64") from None
            elif value is None:
                continue  # Go: null has no effect on an int or a string
            elif field_name == "schemaVersion":
                if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
                    raise bad(f"entry {index}: schemaVersion is not an integer")
                entry["schemaVersion"] = value
            elif not isinstance(value, str):
                raise bad(f"entry {index}: name and type must be strings")
            else:
                entry[field_name] = value
        entries.append(entry)
    return entries


# -- writing ----------------------------------------------------------------------------


def write_problem(client: RegistryClient, ref: DockerReference) -> str | None:
    """Why signatures for ``ref`` could not be written, or None (checked before anything is pushed).

    The signature API takes them; otherwise the write store of registries.d must be a
    writable ``file://`` directory (stores/lookaside.py ``writable_problem``).

    Raises:
        RegistryError / NetworkError: the registry cannot be pinged.
        ConfigError: the store's URL is unusable.
    """
    client.ensure_ping()
    if client.supports_signatures_extension:
        return None
    from trustcopy.stores.lookaside import writable_problem

    return writable_problem(client.config.lookaside(ref, write=True))


def write_signatures(client: RegistryClient, ref: DockerReference, digest: Digest,
                     signatures: Sequence[Signature]) -> Callable[[], None] | None:
    """Store simple-signing (and carried unknown-format) signatures for ``digest``.

    Args:
        client: the destination registry's client.
        ref: the reference pushed to (its registries.d write store; never a mirror's).
        digest: the manifest digest the signatures are for.
        signatures: what to store; an empty list changes nothing.

    Raises:
        SignatureError: the store cannot be written (``lookaside-not-writable``,
            ``lookaside-unwritable``), or the API cannot take a signature's format.
        RegistryError / NetworkError: the signature API refused or failed.

    Returns:
        For a lookaside store, what puts its previous signature files of ``digest`` back
        (the copy failed after writing them: its manifest never arrived, and an image already
        published under that digest must keep its signatures); None for the API, which only adds.
    """
    if not signatures:
        return None
    client.ensure_ping()
    if client.supports_signatures_extension:
        _put_extension(client, digest, signatures)
        return None
    from trustcopy.stores.lookaside import restore_signatures
    from trustcopy.stores.lookaside import write_signatures as write_lookaside

    location = client.config.lookaside(ref, write=True)
    log.debug("writing %d signature(s) of %s@%s to the lookaside %s", len(signatures), ref.name, digest,
              redact_url(location.repository_url))
    before = write_lookaside(location, digest, signatures)
    return lambda: restore_signatures(location, digest, before)


def _put_extension(client: RegistryClient, digest: Digest, signatures: Sequence[Signature]) -> None:
    """PUT each signature the API does not list yet (c/i ``putSignaturesToAPIExtension``).

    The API has no way to remove a signature, so (as containers/image) this only adds.
    """
    from trustcopy.signature.formats import SimpleSigning

    blobs = []
    for sig in signatures:
        if not isinstance(sig, SimpleSigning):
            raise SignatureError(
                f"{client.domain}: the registry's signature API stores only simple-signing signatures, "
                f"not a {sig.format_id} signature", code="signatures-unsupported")
        blobs.append(sig.untrusted_blob)
    entries, url, what = _extension_entries(client, digest)
    names = {entry["name"] for entry in entries}  # every entry's: a new name must not collide with any
    have = {entry["content"] for entry, _ in _used_entries(entries, url, what)}  # as c/i: v2 "atomic" only
    path = extension_path(client.path, digest)
    for blob in blobs:
        if blob in have:
            log.debug("signature already stored by %s for %s", client.domain, digest)
            continue
        name = f"{digest}@{os.urandom(16).hex()}"
        while name in names:  # pragma: no cover (2^-128)
            name = f"{digest}@{os.urandom(16).hex()}"
        names.add(name)
        body = json.dumps({"schemaVersion": EXTENSION_SCHEMA_VERSION, "name": name, "type": EXTENSION_TYPE_ATOMIC,
                           "content": base64.b64encode(blob).decode("ascii")}, separators=(",", ":")).encode()
        doing = f"uploading a signature of {client.domain}/{client.path}@{digest} to the registry's signature API"
        response = client.send("PUT", path, what=doing, content=body)
        try:
            client.check(response, doing, ok=(201,))
        except RegistryError as exc:
            if not (exc.context.get("status") == 409 and _landed(client, digest, name, blob)):
                raise
            # The client retried a PUT whose answer was lost after the registry stored it:
            # the "exists" is our own signature under our own (random) name, so it is stored.
            log.debug("%s: stored by an earlier attempt whose answer was lost", doing)
        response.close()
        have.add(blob)


def _landed(client: RegistryClient, digest: Digest, name: str, blob: bytes) -> bool:
    """Whether the API lists ``blob`` under ``name`` (a random name only this PUT used)."""
    entries, _, _ = _extension_entries(client, digest)
    return any(entry["name"] == name and entry["content"] == blob for entry in entries)


# -- deleting ------------------------------------------------------------------------------


def delete_signatures(client: RegistryClient, ref: DockerReference, digest: Digest) -> int:
    """Remove ``digest``'s signatures from the write store of ``ref`` (``file://`` only).

    containers/image's ``delete`` removes them from the lookaside whether or not the
    registry has the signature API (which cannot delete).

    Returns:
        How many signature files were removed.

    Raises:
        SignatureError: the store is not ``file://`` or removal failed.
    """
    from trustcopy.stores.lookaside import delete_signatures as delete_lookaside

    return delete_lookaside(client.config.lookaside(ref, write=True), digest)
