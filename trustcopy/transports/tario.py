"""Reading and writing tar headers ourselves: bounded, strict, and never extracting.

Archives (``docker-archive:``, ``oci-archive:``, ``tarball:``, a daemon's ``docker save``
stream) are untrusted. Python's ``tarfile`` reads a PAX or GNU long-name header of any
declared size into memory and follows its own ideas about names; this module parses
the few header forms image archives use, with every size bounded, and turns names into
a form that cannot escape.

Invariants:
- Nothing here touches the file system: members are *described* (name, type, size,
  offset of their data), never extracted.
- A member name is accepted only in canonical relative form after cleaning ``./``
  prefixes and repeated slashes: absolute names, ``..`` components, NUL bytes and empty
  names are refused (:class:`ArchiveFormatError` naming the member).
- PAX and GNU long-name/long-link headers are read only up to :data:`MAX_META_HEADER`
  bytes; sizes and offsets come from validated numeric fields (octal or base-256).
- Header checksums are verified; a header block that is neither valid nor the zero
  end-of-archive marker fails the whole archive (as Go's archive/tar does).
- The writer emits ustar headers (PAX for long names), mode 0444, owner 0, mtime 0, as
  containers/image writes them, and can *reserve* a header whose size and name are
  filled in once the data was streamed (seekable outputs only).
"""

from __future__ import annotations

import enum
import functools
import posixpath
import re
from collections.abc import Iterator
from typing import Protocol

from trustcopy.errors import TransportError
from trustcopy.lazy import dataclass

BLOCK = 512
#: Largest PAX extended header or GNU long name/link we read into memory.
MAX_META_HEADER = 1 << 20
#: Members an archive may have. Every member read is indexed (name, offset), so this bounds
#: the index (about 45 MB at the cap); ``docker save`` writes about 4 per layer, an OCI
#: archive one per blob, so real archives of hundreds of images stay far below it. A
#: compressed archive of empty members (100,000 headers gzip to a few hundred KB) is a
#: memory bomb without it.
MAX_MEMBERS = 100_000
#: Longest member or link name accepted (Linux's PATH_MAX): PAX and GNU headers allow 1 MiB.
MAX_NAME = 4096
#: Octal fields hold at most 11 digits: sizes from 8 GiB up use base-256.
_MAX_OCTAL_SIZE = 8**11 - 1
ZERO_BLOCK = bytes(BLOCK)
#: Member types whose size field is ignored: links, devices, directories, FIFOs.
_HEADER_ONLY = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})


@functools.cache
def _octal_digits() -> re.Pattern[bytes]:
    """A tar header's octal number field (compiled on first use, start-up: issue 14)."""
    return re.compile(rb"[0-7]+")


@functools.cache
def _pax_decimal() -> re.Pattern[str]:
    """A PAX size as Go's strconv.ParseInt(…, 10, 64) reads it: an optional sign, then decimal digits
    (any number of leading zeros); group 1 holds the significant ones (int() of a megabyte of
    zeros would fail on Python's digit limit)."""
    return re.compile(r"[+-]?0*([0-9]{1,19})")


_MAX_SIZE = 2**63 - 1
#: PAX keys of GNU sparse members (formats 0.0, 0.1 and 1.0): their data is a sparse map
#: plus fragments, and GNU.sparse.name renames them; refused like the old GNU 'S' members.
_SPARSE_KEY_PREFIX = "GNU.sparse."


class ArchiveFormatError(TransportError):
    """The bytes are not a tar archive we accept (corrupt, truncated, or a hostile name)."""

    default_code = "archive-invalid"


class MemberType(enum.Enum):
    """What a member is, as far as reading images is concerned."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  #: devices, FIFOs, sockets …: never read


@dataclass(frozen=True)
class Member:
    """One archive member: its cleaned name, kind, data size and where its data starts.

    ``offset`` counts bytes of the *uncompressed* tar stream; ``link`` is the cleaned
    target of a symlink (relative to the member's directory, as stored) or hard link
    (relative to the archive root).
    """

    name: str
    type: MemberType
    size: int
    offset: int
    link: str = ""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def clean_name(raw: str, *, what: str) -> str:
    """The canonical form of a member name, or an error if it could escape the archive.

    ``./a//b/`` → ``a/b``. Refused: absolute names, ``..`` anywhere, NUL, and names
    that clean to nothing (other than the root directory ``./``, returned as ``.``).

    Raises:
        ArchiveFormatError: naming the member.
    """
    if "\x00" in raw:
        raise ArchiveFormatError(f"{what}: member name {raw!r} contains a NUL byte", code="archive-unsafe-name")
    if raw.startswith("/"):
        raise ArchiveFormatError(f"{what}: member name {raw!r} is absolute", code="archive-unsafe-name")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveFormatError(f"{what}: member name {raw!r} contains '..'", code="archive-unsafe-name")
    if not parts:
        if raw.strip("/.") == "" and raw:
            return "."
        raise ArchiveFormatError(f"{what}: empty member name", code="archive-unsafe-name")
    return "/".join(parts)


def _parse_number(field: bytes, what: str, name: str, *, negative_ok: bool = False) -> int:
    """An octal (space/NUL padded) or base-256 numeric header field.

    Base-256 as Go's parseNumeric: bit 0x40 of the first byte makes it a negative number in
    two's complement, which only a member without data may carry (``negative_ok``: Go's
    reader ignores the size of links and directories, whatever it is); beyond int64: refused.
    """
    if field and field[0] & 0x80:
        invert = 0xFF if field[0] & 0x40 else 0
        value = (field[0] ^ invert) & 0x7F
        for b in field[1:]:
            value = (value << 8) | (b ^ invert)
        if value > _MAX_SIZE:
            raise ArchiveFormatError(f"{what}: number out of range in the header of {name!r}")
        if invert:
            if not negative_ok:
                raise ArchiveFormatError(f"{what}: negative number in the header of {name!r}")
            return ~value
        return value
    text = field.strip(b" \x00").split(b"\x00", 1)[0]
    if not text:
        return 0
    # Octal digits only, as Go's strconv.ParseUint(…, 8, 64): Python's int() would also take a
    # sign, "_" and inner blanks, and a negative size would desynchronise the whole scan.
    if not _octal_digits().fullmatch(text):
        raise ArchiveFormatError(f"{what}: invalid numeric field {field!r} in the header of {name!r}")
    return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    stored = block[148:156].replace(b"\x00", b" ").strip()
    try:
        want = int(stored, 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(b - 256 if b > 127 else b for b in block[:148]) + 8 * 32 + sum(
        b - 256 if b > 127 else b for b in block[156:])
    return want in (unsigned, signed)


def _cstr(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", errors="surrogateescape")


def _parse_pax(data: bytes, what: str) -> dict[str, str]:
    """``"%d key=value\\n"`` records; later keys win."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # trailing NUL padding some writers leave
            break
        sp = data.find(b" ", pos)
        if sp < 0:
            raise ArchiveFormatError(f"{what}: malformed PAX header")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise ArchiveFormatError(f"{what}: malformed PAX record length") from None
        if length <= sp - pos + 1 or pos + length > len(data) or data[pos + length - 1] != 0x0A:
            raise ArchiveFormatError(f"{what}: malformed PAX record")
        record = data[sp + 1:pos + length - 1]
        key, eq, value = record.partition(b"=")
        if not eq:
            raise ArchiveFormatError(f"{what}: malformed PAX record")
        out[key.decode("utf-8", errors="surrogateescape")] = value.decode("utf-8", errors="surrogateescape")
        pos += length
    return out


def padding(size: int) -> int:
    """Bytes of zero padding after ``size`` bytes of member data."""
    return -size % BLOCK


class _Counter:
    """Reads exactly, counting the offset; raises on a short read (a truncated archive)."""

    def __init__(self, stream: _Readable, what: str) -> None:
        self._stream, self._what = stream, what
        self.offset = 0

    def read_exact(self, n: int, *, eof_ok: bool = False) -> bytes:
        chunks: list[bytes] = []
        left = n
        while left:
            chunk = self._stream.read(min(left, 1 << 20))
            if not chunk:
                if eof_ok and left == n:
                    return b""
                raise ArchiveFormatError(f"{self._what}: the archive is truncated", code="archive-truncated")
            chunks.append(chunk)
            left -= len(chunk)
        self.offset += n
        return b"".join(chunks)

    def read_some(self, n: int) -> bytes:
        chunk = self._stream.read(min(n, 1 << 20))
        if not chunk:
            raise ArchiveFormatError(f"{self._what}: the archive is truncated", code="archive-truncated")
        self.offset += len(chunk)
        return chunk

    def skip(self, n: int) -> None:
        left = n
        while left:
            left -= len(self.read_some(left))


class _MemberData:
    """The data of the current member, read through the scan's counter."""

    def __init__(self, src: _Counter, size: int) -> None:
        self._src, self.left = src, size

    def read(self, size: int = -1, /) -> bytes:
        if self.left <= 0:
            return b""
        data = self._src.read_some(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


class Watcher(Protocol):
    """Sees the data of each regular member during a sequential scan (see :func:`scan`)."""

    def visit(self, member: Member, data: _Readable) -> None:
        """Read as much of ``data`` as wanted; the scan skips the rest."""


def scan(stream: _Readable, what: str, *, watcher: Watcher | None = None,
         seekable_skip: SeekSkipper | None = None) -> Iterator[Member]:
    """Yield every member of a tar stream, in order, with validated names and sizes.

    Args:
        stream: the uncompressed tar bytes (read sequentially).
        what: names the archive in errors.
        watcher: optionally sees the bytes of regular members (sequential scans of
            compressed archives hash or cache members this way, in the one pass).
        seekable_skip: for seekable inputs, skips data without reading it.

    Raises:
        ArchiveFormatError: a bad header, a hostile or overlong name, an unsupported
            member type (GNU sparse), more than MAX_MEMBERS members, or a truncated archive.
    """
    src = _Counter(stream, what)
    members = 0
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    while True:
        block = src.read_exact(BLOCK, eof_ok=True)
        if not block:
            return  # EOF at a header boundary: Go accepts archives without the end marker
        if block == ZERO_BLOCK:
            nxt = src.read_exact(BLOCK, eof_ok=True)
            if nxt and nxt != ZERO_BLOCK:
                raise ArchiveFormatError(f"{what}: invalid tar header after a zero block")
            return
        if not _checksum_ok(block):
            raise ArchiveFormatError(f"{what}: invalid tar header checksum at offset {src.offset - BLOCK}"
                                     if src.offset > BLOCK else f"{what}: not a tar archive")
        typeflag = block[156:157]
        raw_name = _cstr(block[0:100])
        magic = block[257:263]
        if magic == b"ustar\x00" and block[345]:
            raw_name = _cstr(block[345:500]) + "/" + raw_name
        size = _parse_number(block[124:136], what, raw_name, negative_ok=typeflag in _HEADER_ONLY)
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > MAX_META_HEADER:
                raise ArchiveFormatError(f"{what}: a {typeflag.decode()} header of {size} bytes is larger than "
                                         f"the {MAX_META_HEADER} accepted", code="archive-header-too-large")
            data = src.read_exact(size + padding(size))[:size]
            if typeflag == b"x":
                pax = _parse_pax(data, what)
            elif typeflag == b"L":
                long_name = _cstr(data)
            elif typeflag == b"K":
                long_link = _cstr(data)
            else:
                # A global header ("g") applies to no member; Go's reader returns it as an entry
                # of its own, which also drops the "x", "L" and "K" headers read before it.
                pax, long_name, long_link = {}, None, None
            continue
        if typeflag == b"S":
            raise ArchiveFormatError(f"{what}: GNU sparse member {raw_name!r} is not supported")
        # As Go's archive/tar: PAX path/linkpath replace the header's, and a non-empty GNU long
        # name/link replaces both (whatever order the "x" and "L"/"K" headers came in). Another
        # precedence would read a different member name than containers/image does.
        # An empty PAX path/linkpath keeps the header's own (Go's mergePAX skips empty values).
        merged = {key: value for key, value in pax.items() if value} if pax else pax
        name = long_name or merged.get("path", raw_name)
        link = long_link or merged.get("linkpath", _cstr(block[157:257]))
        for text, kind_of in ((name, "name"), (link, "link target")):
            if len(text) > MAX_NAME:
                raise ArchiveFormatError(f"{what}: a member {kind_of} of {len(text)} characters is longer than "
                                         f"the {MAX_NAME} accepted ({text[:60]!r}…)", code="archive-unsafe-name")
        members += 1
        if members > MAX_MEMBERS:
            raise ArchiveFormatError(f"{what}: the archive has more than {MAX_MEMBERS} members; image archives "
                                     f"hold far fewer", code="archive-too-many-members")
        if any(key.startswith(_SPARSE_KEY_PREFIX) for key in pax):
            raise ArchiveFormatError(f"{what}: GNU sparse member {name[:200]!r} is not supported")
        if "size" in pax:  # an empty one too: Go keeps the header's size then; we refuse the oddity
            # Go takes "+5", "-0" and "000…5" as ParseInt does; a negative size only on a member
            # without data (a link, a directory: their size is ignored below), as Go's reader.
            number = _pax_decimal().fullmatch(pax["size"])
            size = int(number.group(1)) * (-1 if pax["size"].startswith("-") else 1) if number else -1
            if (number is None or not -_MAX_SIZE - 1 <= size <= _MAX_SIZE
                    or (size < 0 and typeflag not in _HEADER_ONLY)):
                raise ArchiveFormatError(f"{what}: invalid PAX size {pax['size'][:40]!r} for {name[:200]!r}")
        pax, long_name, long_link = {}, None, None
        kind = {b"0": MemberType.FILE, b"\x00": MemberType.FILE, b"7": MemberType.FILE, b"5": MemberType.DIR,
                b"2": MemberType.SYMLINK, b"1": MemberType.HARDLINK}.get(typeflag, MemberType.OTHER)
        if kind is MemberType.FILE and typeflag == b"\x00" and raw_name.endswith("/"):
            kind = MemberType.DIR  # old tar: a directory is a "file" whose name ends in /
        if typeflag in _HEADER_ONLY or kind is MemberType.DIR:
            size = 0  # these carry no data, whatever the size field says (as Go reads them)
        cleaned = clean_name(name, what=what)
        member = Member(cleaned, kind, size, src.offset, link)
        yield member
        if watcher is not None and kind is MemberType.FILE and size:
            member_data = _MemberData(src, size)
            watcher.visit(member, member_data)
            src.skip(member_data.left + padding(size))
        elif seekable_skip is not None:
            seekable_skip.skip(src, size + padding(size))
        else:
            src.skip(size + padding(size))


class SeekSkipper(Protocol):
    """Moves a seekable input forward without reading it (and keeps the offset in step)."""

    def skip(self, counter: _Counter, n: int) -> None:
        """Advance ``counter``'s stream and offset by ``n`` bytes."""


# -- writing ---------------------------------------------------------------------------

def _octal(value: int, width: int) -> bytes:
    return (b"%0*o" % (width - 1, value)) + b"\x00"


def _size_field(size: int) -> bytes:
    if size <= _MAX_OCTAL_SIZE:
        return _octal(size, 12)
    out = bytearray(12)
    out[0] = 0x80
    for i in range(11, 0, -1):
        out[i] = size & 0xFF
        size >>= 8
    return bytes(out)


def _put(b: bytearray, start: int, width: int, text: bytes) -> None:
    """Go's formatString: as much of ``text`` as fits, NUL-terminated when shorter than the field."""
    b[start:start + min(len(text), width)] = text[:width]
    if len(text) > width and text[width - 1:width] == b"/":
        # Go: a cut name must not end in "/" (old readers would take the file for a directory).
        b[start + len(text[:width - 1].rstrip(b"/"))] = 0


def _header(name: str, size: int, typeflag: bytes, *, mode: int, link: str = "", prefix: str = "",
            devices: bool = True) -> bytes:
    """One ustar-magic header block; fields too long are cut, as Go's archive/tar cuts them.

    ``devices=False`` leaves devmajor/devminor empty, as Go leaves them in its PAX header blocks.
    """
    b = bytearray(BLOCK)
    _put(b, 0, 100, name.encode())
    b[100:108] = _octal(mode, 8)
    b[108:116] = _octal(0, 8)
    b[116:124] = _octal(0, 8)
    b[124:136] = _size_field(size)
    b[136:148] = _octal(0, 12)
    b[148:156] = b" " * 8
    b[156:157] = typeflag
    _put(b, 157, 100, link.encode())
    b[257:263] = b"ustar\x00"
    b[263:265] = b"00"
    if devices:
        b[329:337] = _octal(0, 8)  # devmajor, devminor: Go's archive/tar fills them for every member
        b[337:345] = _octal(0, 8)
    _put(b, 345, 155, prefix.encode())
    checksum = sum(b)
    b[148:156] = b"%06o\x00 " % checksum
    return bytes(b)


def _split_ustar_path(name: str) -> tuple[str, str] | None:
    """A long ASCII name as ustar's (prefix, name) fields, if it splits at a "/" (Go's splitUSTARPath)."""
    length = len(name)
    if length <= 100 or not name.isascii():
        return None
    if length > 156:
        length = 156
    elif name[length - 1] == "/":
        length -= 1
    i = name.rfind("/", 0, length)
    suffix = len(name) - i - 1
    if i <= 0 or suffix > 100 or suffix == 0 or i > 155:
        return None
    return name[:i], name[i + 1:]


def _to_ascii(text: str) -> str:
    """Go's toASCII: the string without its non-ASCII characters and NULs (for header fields)."""
    return "".join(c for c in text if c < "\x80" and c != "\x00")


def _pax_header_name(name: str) -> str:
    """The name Go's archive/tar gives a member's PAX header: ``path.Join(dir, "PaxHeaders.0", file)``."""
    head, _, tail = name.rpartition("/")
    joined = posixpath.normpath("/".join(part for part in (head if head or not name.startswith("/") else "/",
                                                              "PaxHeaders.0", tail) if part))
    return joined[1:] if joined.startswith("//") else joined


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    length = len(body)
    while True:
        total = len(str(length)) + len(body)
        if total == length:
            break
        length = total
    return str(length).encode() + body


def member_header(name: str, size: int, kind: MemberType = MemberType.FILE, link: str = "") -> bytes:
    """Header block(s) for one member, as containers/image's archive/tar writes them.

    Go's rules (``Header.allowedFormats``, then USTAR before PAX): a ustar header when every
    field fits (a name of over 100 bytes split into ustar's prefix and name fields at a "/");
    otherwise a PAX header first, named ``<dir>/PaxHeaders.0/<file>`` with mode 0, holding
    the sorted ``linkpath``, ``path`` and ``size`` records (a size from 8 GiB up does not
    fit the 11 octal digits), then a main header whose overflowing fields are cut, or zero.
    """
    typeflag = {MemberType.FILE: b"0", MemberType.DIR: b"5", MemberType.SYMLINK: b"2",
                MemberType.HARDLINK: b"1"}[kind]
    mode = {MemberType.FILE: 0o444, MemberType.DIR: 0o755, MemberType.SYMLINK: 0,
            MemberType.HARDLINK: 0o444}[kind]
    if kind is MemberType.DIR and not name.endswith("/"):
        name += "/"
    records: dict[str, str] = {}
    ustar = True
    if len(name.encode()) > 100 or not name.isascii():
        records["path"] = name
        ustar = _split_ustar_path(name) is not None
    if len(link.encode()) > 100 or not link.isascii():
        records["linkpath"] = link
        ustar = False
    if size > _MAX_OCTAL_SIZE:
        records["size"] = str(size)
        ustar = False
    if ustar:
        prefix, short = _split_ustar_path(name) or ("", name)
        return _header(short, size, typeflag, mode=mode, link=link, prefix=prefix)
    body = b"".join(_pax_record(key, records[key]) for key in sorted(records))
    pax_name = _to_ascii(_pax_header_name(name))[:100].rstrip("/")
    main = _header(_to_ascii(name), size if size <= _MAX_OCTAL_SIZE else 0, typeflag, mode=mode,
                   link=_to_ascii(link))
    return _header(pax_name, len(body), b"x", mode=0, devices=False) + body + bytes(padding(len(body))) + main


def fixed_file_header(name: str, size: int) -> bytes:
    """A single-block header for a regular file (no PAX), for headers patched in place.

    NOTE(go-diff): a size from 8 GiB up is written base-256 (GNU's form) into this one block,
    where Go's archive/tar (which knows the size first: containers/image spools such a layer)
    puts a PAX ``size`` record in a header of its own before it. Go, GNU and Docker read both;
    a reserved block cannot grow into three once the data follows it.

    Raises:
        ValueError: the name does not fit a ustar header.
    """
    if len(name.encode()) > 100 or not name.isascii():
        raise ValueError(f"member name {name!r} does not fit a ustar header")
    return _header(name, size, b"0", mode=0o444)


END_OF_ARCHIVE = bytes(2 * BLOCK)


def link_target(member: Member) -> str | None:
    """The archive-relative name a link member points to, or None if it escapes the archive."""
    if member.type is MemberType.SYMLINK:
        if member.link.startswith("/"):
            return None
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.link))
    else:
        joined = posixpath.normpath(member.link)
    if joined.startswith("/") or joined == ".." or joined.startswith("../") or joined == ".":
        return None
    return joined
