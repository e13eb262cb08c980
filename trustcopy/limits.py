"""Size caps for every read of untrusted data.

A registry, an archive or a directory we copy from may be hostile: a "manifest" of
10 GiB or an endless error body must not exhaust memory. Every in-memory read of data
we did not produce goes through :func:`read_at_most` with one of these caps. The values
follow containers/image's ``internal/iolimits`` so that whatever skopeo accepts, we
accept too. Blobs are never read into memory; they stream through DigestingReader.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from trustcopy.errors import LimitExceededError, TransportError

if TYPE_CHECKING:
    import re

MiB = 1 << 20

MAX_MANIFEST_BODY = 4 * MiB
MAX_AUTH_TOKEN_BODY = 1 * MiB
MAX_CONFIG_BODY = 4 * MiB
MAX_ERROR_BODY = 1 * MiB
MAX_SIGNATURE_BODY = 4 * MiB
#: A registry's X-Registry-Supports-Signatures answer (every signature of an image, base64).
MAX_SIGNATURE_LIST_BODY = 4 * MiB
MAX_POLICY_FILE = 64 * MiB
MAX_AUTH_FILE = 1 * MiB
MAX_KEY_FILE = 4 * MiB
MAX_OCI_INDEX = 4 * MiB
#: All pages of a registry's tag list together (list-tags, inspect's RepoTags).
MAX_TAG_LIST_BODY = 32 * MiB

#: dir: signature-N files are read until the first missing one; cap N.
MAX_DIR_SIGNATURES = 256

#: Most bytes one step of HTTP ``Content-Encoding`` decoding may produce: a gzip bomb
#: expands about 1000-fold, and twice stacked ("gzip, gzip") a million-fold.
MAX_DECODE_STEP = 1 << 16
#: Most ``Content-Encoding`` layers we undo; real servers apply one.
MAX_CONTENT_ENCODINGS = 2


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_at_most(stream: _Readable, limit: int, what: str) -> bytes:
    """Read a whole stream into memory, refusing more than ``limit`` bytes.

    Args:
        stream: any object with ``read(n)``.
        limit: the largest accepted size in bytes.
        what: names the source in the error (a path or a redacted URL).

    Returns:
        All bytes of the stream.

    Raises:
        LimitExceededError: the stream has more than ``limit`` bytes.
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 16, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise LimitExceededError(
                f"{what} is larger than the {limit} bytes accepted",
                context={"what": what, "limit": limit},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def read_iter_at_most(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """Join an iterable of chunks (an HTTP body), refusing more than ``limit`` bytes.

    Raises:
        LimitExceededError: the chunks add up to more than ``limit`` bytes.
    """
    out: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise LimitExceededError(
                f"{what} is larger than the {limit} bytes accepted", context={"what": what, "limit": limit}
            )
        out.append(chunk)
    return b"".join(out)


def read_file_at_most(path: str, limit: int, what: str | None = None, *, allow_fifo: bool = False) -> bytes:
    """Read a file of untrusted size, refusing more than ``limit`` bytes.

    Only regular files are read: a FIFO or device could block or never end. A file the
    user names explicitly on the command line (a policy, a manifest) may be a pipe,
    e.g. ``--policy <(generate-policy)``, when ``allow_fifo`` is set; it is still bounded.

    Raises:
        LimitExceededError: the file is too large.
        OSError: the file cannot be opened, or its name has a NUL byte (EINVAL) (callers wrap
            it with their own context).
    """
    import errno
    import os
    import stat

    label = what or path
    if "\0" in path:  # from a JSON or YAML string; os.open would raise ValueError, which callers do not expect
        raise OSError(errno.EINVAL, "the file name contains a NUL byte", path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if allow_fifo and stat.S_ISFIFO(st.st_mode):
            fifo, fd = fd, -1  # _read_fifo closes it
            return _read_fifo(fifo, limit, label)
        if not stat.S_ISREG(st.st_mode):
            raise LimitExceededError(
                f"{label} is not a regular file", code="not-a-regular-file", context={"path": path}
            )
        if st.st_size > limit:
            raise LimitExceededError(
                f"{label} is larger than the {limit} bytes accepted",
                context={"what": label, "limit": limit},
            )
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            return read_at_most(f, limit, label)
    finally:
        if fd >= 0:
            os.close(fd)


#: How long a named pipe the user gave us may have no writer at all: long enough for a
#: writer started beside us (``mkfifo p; gen > p & trustcopy --policy p``) to open it,
#: short enough that a pipe nobody will ever write fails a CI job quickly instead of hanging it.
FIFO_WRITER_WAIT_SECONDS = 5.0
#: How long a writer that has opened the pipe may stay silent (a generator fetching its
#: output over the network may take a while to write the first byte).
FIFO_STALL_SECONDS = 30.0


def _read_fifo(fd: int, limit: int, label: str) -> bytes:
    """Read a pipe to its end (see :func:`fifo_chunks`), refusing more than ``limit`` bytes."""
    import contextlib

    with contextlib.closing(fifo_chunks(fd, label, piece=min(1 << 16, limit + 1))) as pieces:
        return read_iter_at_most(pieces, limit, label)


def fifo_chunks(fd: int, label: str, *, piece: int = 1 << 16) -> Generator[bytes, None, None]:
    """The bytes of a pipe until its writer closes it, waiting for a writer that comes late, but not for ever.

    Opened without blocking (so that opening never hangs), a pipe with no writer yet
    reads as empty at once: ``mkfifo p; (sleep 1; gen > p) &`` would be read as an empty
    file. So an empty read before any writer showed up waits (``poll``) for one, at most
    FIFO_WRITER_WAIT_SECONDS; a writer that is there but silent (the read would block) is
    given FIFO_STALL_SECONDS between pieces. On Linux, ``poll`` reports nothing while no
    writer ever opened the pipe, and a hang-up once one closed it. ``fd`` (opened with
    ``O_NONBLOCK``) is closed when the iteration ends, however it ends.

    Raises:
        LimitExceededError: (``pipe-stalled``) no writer came, or the writer went silent.
    """
    import os
    import select
    import time

    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        writer_seen = False
        writer_deadline = time.monotonic() + FIFO_WRITER_WAIT_SECONDS
        while True:
            try:
                chunk = os.read(fd, piece)
            except BlockingIOError:  # a writer has it open and has not written (yet)
                writer_seen = True
                if not poller.poll(int(FIFO_STALL_SECONDS * 1000)):
                    raise LimitExceededError(
                        f"{label} is a pipe whose writer sent nothing for {FIFO_STALL_SECONDS:g} seconds",
                        code="pipe-stalled", context={"what": label},
                    ) from None
                continue
            if chunk:
                writer_seen = True
                yield chunk
                continue
            if writer_seen:
                return  # the writer closed its end
            # No writer has the pipe open. Wait for one, in short slices: poll wakes up when
            # it writes or hangs up, and the next read blocks (EAGAIN) once it has opened.
            remaining = writer_deadline - time.monotonic()
            if remaining <= 0:
                raise LimitExceededError(
                    f"{label} is a pipe that no writer opened within {FIFO_WRITER_WAIT_SECONDS:g} seconds",
                    code="pipe-stalled", context={"what": label},
                )
            if poller.poll(max(1, int(min(remaining, 0.1) * 1000))):
                writer_seen = True  # it wrote, or opened and closed it (an empty pipe)
    finally:
        os.close(fd)


#: Deepest nesting of arrays and objects accepted in any JSON document we read. Real
#: manifests, indexes, configs, policies and signatures nest fewer than 10 levels; the
#: bound keeps every recursive walk (Python's own parser, jsonschema, our decoders) far
#: from the interpreter's recursion limit, so 100,000 ``[`` is a clear error, never a
#: RecursionError traceback.
MAX_JSON_DEPTH = 200

_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # deleting these leaves only brackets
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # opening +1, closing -1 (signed)


@functools.cache
def _json_string_pattern() -> re.Pattern[bytes]:
    """A JSON string, or an unterminated one up to the end: compiled on first use, for start-up time.

    The pattern can never fail once it has seen a quote (the loop is possessive and stops only
    at an unescaped quote or at the end), so each byte is read once: a pattern that had to find
    the closing quote backtracked from every quote of an unterminated ``"\\"\\"\\"…`` to the
    end (minutes for 100 KiB). An unterminated string is not JSON anyway.
    """
    import re

    return re.compile(rb'"(?:[^"\\]|\\.?)*+(?:"|\Z)', re.S)


def json_depth_exceeds(data: bytes | str) -> bool:
    """Whether ``data`` nests arrays/objects deeper than MAX_JSON_DEPTH, without parsing it.

    Strings are removed, then the brackets left are read as steps of +1 (opening) and -1
    (closing): the depth is the highest running sum, computed in C (``accumulate``). One
    linear pass whatever the shape: removing innermost pairs one level per pass cost
    MAX_JSON_DEPTH passes over a document of many deep arrays (seconds at 4 MiB).
    Unbalanced brackets (the sum dips below zero or does not end at zero) count as too
    deep (such a document is not JSON anyway).
    """
    import array
    import itertools

    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False  # cannot be too deep: the common, cheap case
    brackets = _json_string_pattern().sub(b"", raw).translate(None, _NOT_BRACKETS)
    steps = array.array("b", brackets.translate(_BRACKET_STEPS))  # b"\xff" is -1 as a signed byte
    if sum(steps) != 0 or min(itertools.accumulate(steps), default=0) < 0:
        return True
    return max(itertools.accumulate(steps), default=0) > MAX_JSON_DEPTH


def check_json_depth(data: bytes | str, what: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before anything walks it.

    Every reader of untrusted JSON calls this (directly or through :func:`load_json`).

    Raises:
        LimitExceededError: naming ``what`` and the limit.
    """
    if json_depth_exceeds(data):
        raise LimitExceededError(f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep",
                                 context={"what": what, "limit": MAX_JSON_DEPTH})


def load_json(data: bytes | str, what: str, **kwargs: Any) -> Any:
    """``json.loads`` for untrusted data: depth-bounded first (:func:`check_json_depth`).

    Raises:
        LimitExceededError: nested too deeply (not a ValueError: callers' "not JSON"
            handling does not swallow it).
        ValueError / UnicodeDecodeError: not JSON, as ``json.loads`` raises them.
    """
    import json

    check_json_depth(data, what)
    return json.loads(data, **kwargs)
def _inflate(chunks: Iterable[bytes], wbits: int, encoding: str, what: str) -> Iterator[bytes]:
    """Undo one gzip/deflate layer, never producing more than MAX_DECODE_STEP bytes at once."""
    decoder: zlib._Decompress | None = None
    for raw in chunks:
        data = raw
        try:
            if decoder is None:
                decoder = zlib.decompressobj(wbits)
                if encoding == "deflate":  # zlib-wrapped, or raw as some servers send it (as httpx)
                    try:
                        out = decoder.decompress(data, MAX_DECODE_STEP)
                    except zlib.error:
                        decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                        out = decoder.decompress(data, MAX_DECODE_STEP)
                    data = decoder.unconsumed_tail
                    if out:
                        yield out
            while data and not decoder.eof:
                out = decoder.decompress(data, MAX_DECODE_STEP)
                data = decoder.unconsumed_tail
                if out:
                    yield out
        except zlib.error as exc:
            raise TransportError(f"{what}: the body is not valid {encoding} data ({exc})",
                                 code="content-decoding") from None
    # Output still held back after the last input (at most one step each time).
    while decoder is not None and not decoder.eof:
        try:
            out = decoder.decompress(b"", MAX_DECODE_STEP)
        except zlib.error as exc:
            raise TransportError(f"{what}: the body is not valid {encoding} data ({exc})",
                                 code="content-decoding") from None
        if not out:
            break
        yield out


def decode_content(chunks: Iterable[bytes], content_encoding: list[str], what: str) -> Iterator[bytes]:
    """Undo an HTTP ``Content-Encoding`` incrementally, so a decompression bomb stays bounded.

    httpx's own decoding (``iter_bytes``) inflates each network chunk in one call: 64 KiB of
    "gzip, gzip" expands to 64 GiB before any size cap can look at it. Here every step
    produces at most MAX_DECODE_STEP bytes, and the caller's cap (read_iter_at_most, a
    digest's expected size) stops the stream. Unknown encodings are skipped as httpx skips
    them (the bytes are then verified, or parsed, as they came).

    Args:
        chunks: the raw (still encoded) body.
        content_encoding: the ``Content-Encoding`` tokens, in the order they were applied.
        what: names the body in errors.

    Raises:
        TransportError: the body is not valid gzip/deflate data (code ``content-decoding``).
        LimitExceededError: more than MAX_CONTENT_ENCODINGS layers.
    """
    codings = [c.strip().lower() for c in content_encoding]
    codings = [c for c in codings if c in ("gzip", "x-gzip", "deflate")]
    if len(codings) > MAX_CONTENT_ENCODINGS:
        raise LimitExceededError(f"{what}: more than {MAX_CONTENT_ENCODINGS} content encodings",
                                 context={"what": what, "limit": MAX_CONTENT_ENCODINGS})
    stream: Iterable[bytes] = chunks
    for coding in reversed(codings):
        wbits = zlib.MAX_WBITS if coding == "deflate" else zlib.MAX_WBITS | 16
        stream = _inflate(stream, wbits, coding, what)
    return iter(stream)
