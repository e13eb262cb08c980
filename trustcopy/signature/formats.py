"""Signature blobs as stored by transports: simple signing vs sigstore, and the envelope.

Storage format (containers/image internal/signature, kept byte-compatible):

- a *simple-signing* signature is stored as the raw OpenPGP message, with no prefix,
  for compatibility with existing ``dir:``/lookaside stores;
- every other format is ``b"\\x00" + format-name + b"\\n" + chunk``; the leading zero
  byte cannot start an OpenPGP packet or text, so the two never collide. Today the only
  such format is ``sigstore-json``, whose chunk is
  ``{"mimeType": …, "payload": base64, "annotations": {…}}``.

Invariants:
- Parsing a blob never verifies anything: :class:`SimpleSigning` and
  :class:`SigstoreSignature` hold untrusted bytes, named ``untrusted_*``.
- A blob we cannot classify is never guessed to be one format or the other:
  :func:`signature_from_blob` raises (reason ``UNSUPPORTED_FORMAT``), and
  :func:`stored_signature` (what transports call, once per blob) keeps it as an
  :class:`UnknownSignature` holding the bytes and the reason, so a copy can carry it
  along while every signature-verifying requirement rejects the image for it.
- ``location`` (where a transport found the signature: a file, a URL, an attachment
  layer) is for traces only; it takes no part in equality.
- :func:`data_hidden_after_compressed_message` finds a second message hidden behind the
  first one's compressed stream (gpg ignores it); the GPG verifier refuses such blobs.
"""

from __future__ import annotations

import base64
import dataclasses
import types
import zlib
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from trustcopy.errors import LimitExceededError, SignatureVerificationError
from trustcopy.gojson import fold, go_marshal, go_string
from trustcopy.lazy import dataclass
from trustcopy.limits import load_json
from trustcopy.reasons import Reason

SIMPLE_SIGNING_FORMAT = "simple-signing"
SIGSTORE_FORMAT = "sigstore-json"

# First bytes of a binary OpenPGP message that c/i recognises as simple signing:
# compressed-data (old format 0xA0-0xA3, new 0xC8), one-pass-signature (old 0x90-0x92,
# new 0xC4) and signature (old 0x88-0x8B, new 0xC2) packets. 0x3D ("=") is in c/i's
# list too, apparently in place of 0x93; we keep c/i's exact set so that both programs
# classify every blob the same way (such a blob still has to pass gpg).
_OPENPGP_FIRST_BYTES = frozenset(
    {0xA0, 0xA1, 0xA2, 0xA3, 0xC8, 0x90, 0x91, 0x92, 0x3D, 0xC4, 0x88, 0x89, 0x8A, 0x8B, 0xC2}
)


@dataclass(frozen=True)
class SimpleSigning:
    """An OpenPGP-signed simple-signing payload, not yet verified."""

    untrusted_blob: bytes
    location: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.untrusted_blob, bytes):
            raise TypeError("SimpleSigning needs bytes")

    @property
    def format_id(self) -> str:
        """The storage format name (``simple-signing``)."""
        return SIMPLE_SIGNING_FORMAT


@dataclass(frozen=True)
class SigstoreSignature:
    """A cosign signature (payload + annotations), not yet verified.

    All annotations are kept, even unknown ones, so that a signature copied through
    trustcopy stays usable by a newer verifier.
    """

    untrusted_mime_type: str
    untrusted_payload: bytes
    untrusted_annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    location: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.untrusted_mime_type, str) or not isinstance(self.untrusted_payload, bytes):
            raise TypeError("SigstoreSignature needs a str MIME type and bytes payload")
        annotations = dict(self.untrusted_annotations)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
            raise TypeError("SigstoreSignature annotations must map str to str")
        object.__setattr__(self, "untrusted_annotations", types.MappingProxyType(annotations))

    @property
    def format_id(self) -> str:
        """The storage format name (``sigstore-json``)."""
        return SIGSTORE_FORMAT


@dataclass(frozen=True)
class UnknownSignature:
    """A stored blob that is no signature format we know (or a malformed one), kept as bytes.

    containers/image fails reading such an image's signatures; we keep the blob so that a
    copy the policy allows (``insecureAcceptAnything``) carries it unchanged, and every
    signature-verifying requirement rejects the image naming ``reason``.
    """

    untrusted_blob: bytes
    reason: str
    location: str = field(default="", compare=False)

    @property
    def format_id(self) -> str:
        """``unknown``: the trace's name for a blob no verifier understands."""
        return "unknown"


Signature = SimpleSigning | SigstoreSignature | UnknownSignature


def _unsupported(message: str) -> SignatureVerificationError:
    """The error for a blob of unknown or malformed format."""
    return SignatureVerificationError(message, reason=Reason.UNSUPPORTED_FORMAT, code="signature-format-invalid")


def signature_from_blob(blob: bytes) -> SimpleSigning | SigstoreSignature:
    """Classify and unwrap a stored signature blob.

    Args:
        blob: the bytes a transport read (already size-bounded by the caller).

    Returns:
        The untrusted signature object.

    Raises:
        SignatureVerificationError: reason ``UNSUPPORTED_FORMAT`` (a SignatureError)
            for an empty blob, an unknown format or a malformed sigstore chunk.
    """
    if not blob:
        raise _unsupported("empty signature blob")
    first = blob[0]
    if first in _OPENPGP_FIRST_BYTES:
        return SimpleSigning(bytes(blob))
    if first != 0x00:
        raise _unsupported(f"unrecognized signature format, starting with binary {first:#x}")
    name, newline, chunk = bytes(blob[1:]).partition(b"\n")
    if not newline:
        raise _unsupported("invalid signature format, missing newline")
    for byte in name:
        if byte < 0x20 or byte >= 0x7F:
            raise _unsupported(f"invalid signature format, non-ASCII byte {byte:#x}")
    format_name = name.decode("ascii")
    if format_name == SIMPLE_SIGNING_FORMAT:
        return SimpleSigning(chunk)
    if format_name == SIGSTORE_FORMAT:
        return _sigstore_from_chunk(chunk)
    raise _unsupported(f"unrecognized signature format {format_name!r}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook refusing duplicated members.

    NOTE(go-diff): Go's decoder lets the last of two equal keys win, in the chunk and in its
    annotations; we refuse such a blob, so that no two readers can see different annotations.
    """
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        key = go_string(raw_key)  # as Go decodes keys: "a\xff" and "a\xfe" are one key
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


_SIGSTORE_FIELDS = {"mimetype": "mimeType", "payload": "payload", "annotations": "annotations"}


def _sigstore_members(data: dict[str, Any]) -> dict[str, Any]:
    """The chunk's members by field, matching keys as Go does (any letter case); unknown keys ignored.

    Go lets the last of several keys naming one field win; we refuse such blobs instead.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        field_name = _SIGSTORE_FIELDS.get(fold(key))
        if field_name is None:
            continue
        if field_name in out:
            raise _unsupported(f"invalid sigstore signature: more than one key names the {field_name} field")
        out[field_name] = value
    return out


def _member(data: dict[str, Any], key: str, zero: Any) -> Any:
    """A member, with Go's zero value for missing or null."""
    value = data.get(key)
    return zero if value is None else value


def _go_uint_literal(text: str) -> int | float:
    """A JSON integer literal; ``-0`` stays a float, since Go's decoding into a uint8 refuses it."""
    return -0.0 if text == "-0" else int(text)


def _byte_array(items: list[Any]) -> bytes:
    """``payload`` written as a JSON array of byte values, which Go's ``[]byte`` decoding accepts.

    Each element is an integer literal 0-255 (null reads as 0, as Go leaves the element zero);
    anything else is refused, as Go refuses it.
    """
    out = bytearray()
    for item in items:
        if item is None:
            out.append(0)
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255:
            out.append(item)
        else:
            raise _unsupported("invalid sigstore signature: payload array elements must be byte values 0-255")
    return bytes(out)


def _sigstore_from_chunk(chunk: bytes) -> SigstoreSignature:
    """Parse the sigstore-json chunk as Go's ``json.Unmarshal`` would (zero values for missing or null members)."""
    from trustcopy.signature.sigstore_keys import go_b64decode

    try:
        # Go reads each invalid UTF-8 byte inside a string as U+FFFD: surrogateescape keeps
        # them as lone surrogates, which go_string replaces (elsewhere they are syntax errors).
        data = load_json(chunk.decode("utf-8", errors="surrogateescape"), "sigstore signature",
                         object_pairs_hook=_no_duplicates, parse_int=_go_uint_literal)
    except (UnicodeDecodeError, ValueError, LimitExceededError) as exc:
        raise _unsupported(f"invalid sigstore signature: {exc}") from None
    if data is None:  # Go's json.Unmarshal of null into the struct: every member zero
        data = {}
    if not isinstance(data, dict):
        raise _unsupported("invalid sigstore signature: JSON object expected")
    members = _sigstore_members(data)
    mime = _member(members, "mimeType", "")
    payload_b64 = _member(members, "payload", "")
    annotations = _member(members, "annotations", {})
    if not isinstance(mime, str) or not isinstance(payload_b64, str | list) or not isinstance(annotations, dict):
        raise _unsupported("invalid sigstore signature: mimeType, payload or annotations has the wrong type")
    if not all(v is None or isinstance(v, str) for v in annotations.values()):
        raise _unsupported("invalid sigstore signature: annotation values must be strings")
    if isinstance(payload_b64, list):  # Go decodes a JSON array into []byte element by element
        payload = _byte_array(payload_b64)
    else:
        try:
            payload = go_b64decode(payload_b64)  # Go's []byte decoding: standard alphabet, CR and LF skipped
        except ValueError as exc:
            raise _unsupported(f"invalid sigstore signature: payload is not base64: {exc}") from None
    # Go stores "" for a null map value; its decoder turns lone surrogate escapes into U+FFFD.
    clean = {go_string(k): go_string(v or "") for k, v in annotations.items()}
    if len(clean) != len(annotations):
        raise _unsupported("invalid sigstore signature: duplicate annotation keys")
    return SigstoreSignature(go_string(mime), payload, clean)


def stored_signature(blob: bytes, location: str = "") -> Signature:
    """Parse a blob a transport read, once; never raises for a bad blob.

    Args:
        blob: the stored bytes (already size-bounded by the transport).
        location: where it was found (``dir:/x/signature-2``, a URL …), for traces.

    Returns:
        The typed signature; an :class:`UnknownSignature` when the blob cannot be parsed.
    """
    try:
        sig = signature_from_blob(blob)
    except SignatureVerificationError as exc:
        return UnknownSignature(bytes(blob), exc.message, location)
    return dataclasses.replace(sig, location=location) if location else sig


def signature_to_blob(sig: Signature) -> bytes:
    """The storage form of ``sig`` (inverse of :func:`signature_from_blob`).

    Raises:
        TypeError: ``sig`` is not a known signature type (a programming error).
    """
    if isinstance(sig, SimpleSigning):
        return bytes(sig.untrusted_blob)  # no envelope, for compatibility with old stores
    if isinstance(sig, SigstoreSignature):
        chunk = go_marshal(
            {
                "mimeType": sig.untrusted_mime_type,
                "payload": base64.b64encode(sig.untrusted_payload).decode("ascii"),
                "annotations": {k: sig.untrusted_annotations[k] for k in sorted(sig.untrusted_annotations)},
            }
        )
        return b"\x00" + SIGSTORE_FORMAT.encode("ascii") + b"\n" + chunk
    if isinstance(sig, UnknownSignature):
        return bytes(sig.untrusted_blob)  # carried along exactly as it was found
    raise TypeError(f"unknown signature type {type(sig).__name__}")


def _first_packet_body(blob: bytes) -> tuple[int, bytes] | None:
    """(tag, body) of the first OpenPGP packet (RFC 4880 section 4.2), or None if malformed."""
    if not blob or not blob[0] & 0x80:
        return None
    first = blob[0]
    if not first & 0x40:  # old format: tag in bits 5-2, length type in bits 1-0
        tag, length_type = (first >> 2) & 0x0F, first & 0x03
        if length_type == 3:
            return tag, blob[1:]  # indeterminate: the packet runs to the end of the data
        size = 1 << length_type
        if len(blob) < 1 + size:
            return None
        length = int.from_bytes(blob[1 : 1 + size], "big")
        return tag, blob[1 + size : 1 + size + length]
    tag, pos = first & 0x3F, 1
    chunks: list[bytes] = []
    while pos < len(blob):  # new format, possibly split into partial body lengths
        octet = blob[pos]
        if octet < 192:
            return tag, b"".join([*chunks, blob[pos + 1 : pos + 1 + octet]])
        if octet < 224:
            if pos + 1 >= len(blob):
                return None
            length = ((octet - 192) << 8) + blob[pos + 1] + 192
            return tag, b"".join([*chunks, blob[pos + 2 : pos + 2 + length]])
        if octet == 255:
            length = int.from_bytes(blob[pos + 1 : pos + 5], "big")
            return tag, b"".join([*chunks, blob[pos + 5 : pos + 5 + length]])
        partial = 1 << (octet & 0x1F)
        chunks.append(blob[pos + 1 : pos + 1 + partial])
        pos += 1 + partial
    return None


#: Packets an OpenPGP signed message can start with (RFC 4880 4.3): signature, one-pass
#: signature, compressed data, literal data.
_MESSAGE_START_TAGS = frozenset({2, 4, 8, 11})


def starts_like_a_message(data: bytes) -> bool:
    """Whether ``data`` opens with a packet a signed message starts with, of a length it holds.

    Tells a second message hidden after the first (an attack, or c/i's ``double.signature``)
    from the leftover of a damaged deflate stream, whose first byte is random.
    """
    if not data or not data[0] & 0x80:
        return False
    first = data[0]
    if not first & 0x40:  # old format
        tag, length_type = (first >> 2) & 0x0F, first & 0x03
        if length_type == 3:
            return tag in _MESSAGE_START_TAGS
        size = 1 << length_type
        declared = int.from_bytes(data[1 : 1 + size], "big") if len(data) >= 1 + size else None
        return tag in _MESSAGE_START_TAGS and declared is not None and 1 + size + declared <= len(data)
    tag = first & 0x3F
    if tag not in _MESSAGE_START_TAGS or len(data) < 2:
        return False
    octet = data[1]
    if octet < 192:
        return 2 + octet <= len(data)
    if octet < 224:
        return len(data) >= 3 and 3 + ((octet - 192) << 8) + data[2] + 192 <= len(data)
    if octet == 255:
        return len(data) >= 6 and 6 + int.from_bytes(data[2:6], "big") <= len(data)
    return 2 + (1 << (octet & 0x1F)) <= len(data)  # a partial body: its first chunk at least


def data_hidden_after_compressed_message(blob: bytes, max_output: int) -> bytes:
    """Bytes that follow the end of the compressed stream inside the first packet.

    gpg stops reading a compressed packet where its deflate/bzip2 stream ends and may
    silently ignore whatever follows (c/i's old ``double.signature``, two signed
    messages concatenated, verifies as the first one). The verifier refuses such
    blobs, so that exactly one message is ever accepted.

    Returns:
        The hidden trailing bytes; ``b""`` when there are none, or when the blob is not
        a well-formed compressed message (gpg then judges it).
    """
    packet = _first_packet_body(blob)
    if packet is None or packet[0] != 8 or not packet[1]:
        return b""
    algorithm, data = packet[1][0], packet[1][1:]
    decompressor: Any
    if algorithm in (1, 2):  # ZIP (raw deflate), ZLIB
        decompressor = zlib.decompressobj(-15 if algorithm == 1 else 15)
    elif algorithm == 3:
        import bz2  # here: rare in signatures, and every registry read loads this module (start-up, issue 14)

        decompressor = bz2.BZ2Decompressor()
    else:
        return b""
    produced = 0
    try:
        while not decompressor.eof and produced <= max_output:
            chunk = decompressor.decompress(data, 1 << 16)
            produced += len(chunk)
            data = decompressor.unconsumed_tail if algorithm != 3 else b""
            if not chunk and not data:
                break
    except (zlib.error, OSError, EOFError, ValueError):
        return b""
    return bytes(decompressor.unused_data) if decompressor.eof else b""
