"""Sizes beyond 4 and 8 GiB: tar headers as Go's archive/tar writes and reads them, Content-Length
and Range resume offsets past 2**32, descriptor sizes near int64's limits.

No test creates or reads a large file: tar headers are compared without their data (the
tarsize oracle writes and reads headers only), HTTP answers are built in memory, and a
resume "after 5 GiB" sets the reader's count instead of reading that much.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from goracle import oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.errors import NetworkError, TrustcopyError
from trustcopy.transports import tario
from trustcopy.transports.docker import blobreader
from trustcopy.transports.docker.blobreader import BlobReader, declared_length, parse_content_range
from trustcopy.transports.tario import ArchiveFormatError, MemberType, fixed_file_header, member_header, scan

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("tarsize", "Go's archive/tar Writer and Reader (headers only)")

GIB = 1 << 30
OCTAL_LIMIT = 8**11 - 1  # the largest size a ustar header's 11 octal digits hold (8 GiB - 1)
INT64_MAX = (1 << 63) - 1


def _go_header(oracle: Any, name: str, size: int) -> bytes:
    answer = oracle.ask({"op": "write", "name": name, "size": size})
    assert "error" not in answer, answer
    return base64.b64decode(answer["header"])


def _go_read(oracle: Any, raw: bytes) -> tuple[list[tuple[str, int]], bool]:
    answer = oracle.ask({"op": "read", "tar": base64.b64encode(raw).decode()})
    return [(e["name"], e["size"]) for e in answer.get("entries") or []], "error" in answer


def _our_read(raw: bytes) -> tuple[list[tuple[str, int]], bool]:
    """Members scanned before the first error, and whether there was one (data may be missing)."""
    out: list[tuple[str, int]] = []
    try:
        for member in scan(io.BytesIO(raw), "t.tar"):
            out.append((member.name, member.size))
    except ArchiveFormatError:
        return out, True
    return out, False


# -- writing: the bytes Go's archive/tar writes ------------------------------------------

_NAME_PART = st.text(alphabet=st.sampled_from("abz09._-ü"), min_size=1, max_size=60)
_NAMES = st.lists(_NAME_PART, min_size=1, max_size=5).map("/".join)
_SIZES = st.one_of(st.sampled_from([0, 1, 2**31, 2**32, OCTAL_LIMIT, OCTAL_LIMIT + 1, 9 * GIB, 2**53 + 1,
                                    INT64_MAX]),
                   st.integers(min_value=0, max_value=INT64_MAX))


@given(name=_NAMES, size=_SIZES)
@example(name="a.tar", size=OCTAL_LIMIT)  # the last size ustar holds: one block
@example(name="a.tar", size=OCTAL_LIMIT + 1)  # was base-256 in the ustar block; Go: PAX "size" record
@example(name="a" * 64 + ".tar", size=9 * GIB)  # a docker-archive layer of 9 GiB
@example(name="x" * 120, size=5)  # was "PaxHeaders/x…" mode 0644 with device fields; Go: PaxHeaders.0, mode 0
@example(name="d/" + "x" * 99, size=1)  # was a PAX header; Go splits it into ustar's prefix and name
@example(name="d/" + "x" * 99, size=2**33)  # splittable, but the size needs PAX: path and size records
@example(name="ü.json", size=3)  # non-ASCII: PAX path, the main header's name without the ü
@example(name="y" * 99 + "/zz", size=INT64_MAX)
@example(name="a/" * 60 + "b", size=1)
def test_member_headers_are_the_bytes_go_writes(oracle: Any, name: str, size: int) -> None:
    assert member_header(name, size) == _go_header(oracle, name, size)


@pytest.mark.parametrize("size", [OCTAL_LIMIT + 1, 9 * GIB, 2**40, INT64_MAX])
def test_a_huge_member_header_reads_back_the_same_in_go_and_here(oracle: Any, size: int) -> None:
    raw = member_header("a" * 64 + ".tar", size)
    # No data follows: both read the member's entry, then fail on the missing data.
    assert _go_read(oracle, raw) == _our_read(raw) == ([("a" * 64 + ".tar", size)], True)


@pytest.mark.parametrize("size", [OCTAL_LIMIT + 1, 9 * GIB, INT64_MAX])
def test_an_in_place_header_of_a_huge_member_is_base256_and_go_reads_it(oracle: Any, size: int) -> None:
    raw = fixed_file_header("b" * 64 + ".tar", size)
    assert len(raw) == tario.BLOCK and raw[124] == 0x80  # (see NOTE(go-diff) in fixed_file_header)
    assert _go_read(oracle, raw) == _our_read(raw) == ([("b" * 64 + ".tar", size)], True)


# -- reading: sizes as Go's archive/tar reads them ---------------------------------------

def _pax_member(size_record: str, typeflag: bytes) -> bytes:
    records = tario._pax_record("size", size_record)
    return (tario._header("PaxHeaders.0/m", len(records), b"x", mode=0, devices=False) + records
            + bytes(tario.padding(len(records))) + tario._header("m", 0, typeflag, mode=0o444))


@given(value=st.one_of(st.from_regex(r"\A[+-]?0{0,25}[0-9]{1,20}\Z"), st.text(max_size=8)),
       typeflag=st.sampled_from([b"0", b"2", b"5"]))
@example(value="+5", typeflag=b"0")  # was refused; Go's ParseInt takes the sign
@example(value="-0", typeflag=b"0")  # was refused; Go: 0
@example(value="0" * 25 + "7", typeflag=b"0")  # was refused (over 19 characters); Go: 7
@example(value="-5", typeflag=b"2")  # was refused; Go ignores a link's size
@example(value="-5", typeflag=b"0")
@example(value="-9223372036854775809", typeflag=b"2")  # beyond int64 even for a link
@example(value="9223372036854775807", typeflag=b"0")
@example(value="9223372036854775808", typeflag=b"0")
@example(value="0" * 5000 + "1", typeflag=b"0")  # int() of so many digits would raise
@example(value=" 5", typeflag=b"0")
@example(value="٣", typeflag=b"0")
def test_pax_size_records_are_read_as_go_reads_them(oracle: Any, value: str, typeflag: bytes) -> None:
    if value == "" or "\n" in value or "\x00" in value:
        return  # (an empty size is refused on purpose: see scan; NUL/newline change the record itself)
    raw = _pax_member(value, typeflag)
    go_entries, go_failed = _go_read(oracle, raw)
    ours, failed = _our_read(raw)
    assert [name for name, _ in ours] == [name for name, _ in go_entries]
    assert failed == go_failed
    if ours and typeflag == b"0":
        assert ours == go_entries  # a link or directory carries no data: we report 0, Go the record


def _size_field_member(field: bytes, typeflag: bytes) -> bytes:
    block = bytearray(tario._header("m", 0, typeflag, mode=0o444))
    block[124:136] = field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


@given(field=st.one_of(st.binary(min_size=12, max_size=12).map(lambda b: bytes([b[0] | 0x80]) + b[1:]),
                       st.integers(min_value=0, max_value=INT64_MAX).map(
                           lambda n: b"\x80" + n.to_bytes(11, "big"))),
       typeflag=st.sampled_from([b"0", b"2"]))
@example(field=b"\x80" + (2**33).to_bytes(11, "big"), typeflag=b"0")
@example(field=b"\x80" + INT64_MAX.to_bytes(11, "big"), typeflag=b"0")
@example(field=b"\x80" + (2**63).to_bytes(11, "big"), typeflag=b"0")  # beyond int64
@example(field=b"\xff" * 12, typeflag=b"2")  # -1 on a symlink: was refused; Go ignores it
@example(field=b"\xff" * 11 + b"\xfb", typeflag=b"0")  # -5 on a file
@example(field=b"\xc0" + bytes(11), typeflag=b"2")  # negative beyond int64
@example(field=b"\xbf" + b"\xff" * 11, typeflag=b"0")
def test_base256_sizes_are_read_as_go_reads_them(oracle: Any, field: bytes, typeflag: bytes) -> None:
    raw = _size_field_member(field, typeflag)
    go_entries, go_failed = _go_read(oracle, raw)
    ours, failed = _our_read(raw)
    assert failed == go_failed
    assert [name for name, _ in ours] == [name for name, _ in go_entries]
    if ours and typeflag == b"0":
        assert ours == go_entries


# -- HTTP: Content-Length, Content-Range and the resume offset ---------------------------

@pytest.mark.parametrize(("value", "size"), [
    ("4294967296", 4 * GIB), ("9663676416", 9 * GIB), (" 5 ", 5), ("007", 7),
    ("999999999999999999", 10**18 - 1),
    ("1000000000000000000", 10**18),  # 19 digits: was -1 ("unknown"); Go's ParseUint(…, 10, 63) takes it
    (str(INT64_MAX), INT64_MAX),  # was -1
    (str(INT64_MAX + 1), -1), ("1" * 30, -1), ("", -1), ("+5", -1), ("-1", -1), ("5x", -1),
    ("٣", -1),  # a Unicode digit: was 3 (str.isdigit)
    ("²", -1),  # was a ValueError traceback (isdigit, then int())
])
def test_content_length_is_read_as_go_reads_it(value: str, size: int) -> None:
    assert declared_length(value) == size


def test_a_blob_head_and_get_report_a_19_digit_length() -> None:
    from trustcopy.transports.docker.source import _content_length

    response = httpx.Response(200, headers={"Content-Length": str(INT64_MAX)})
    assert _content_length(response) == INT64_MAX
    gzipped = httpx.Response(200, headers={"Content-Length": str(9 * GIB), "Content-Encoding": "gzip"})
    assert _content_length(gzipped) == -1


@pytest.mark.parametrize(("value", "parsed"), [
    (f"bytes {5 * GIB}-{9 * GIB - 1}/{9 * GIB}", (5 * GIB, 9 * GIB - 1, 9 * GIB)),
    (f"bytes {2**32}-{2**32}/*", (2**32, 2**32, -1)),
    (f"bytes {INT64_MAX - 1}-{INT64_MAX - 1}/{INT64_MAX}", (INT64_MAX - 1, INT64_MAX - 1, INT64_MAX)),
])
def test_content_ranges_past_4_gib_parse(value: str, parsed: tuple[int, int, int]) -> None:
    assert parse_content_range(value) == parsed


@pytest.mark.parametrize("value", [f"bytes 0-{INT64_MAX}/{INT64_MAX + 1}", f"bytes {2**64}-{2**64}/*",
                                   f"bytes 0-{10**19}/*"])
def test_content_ranges_beyond_int64_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_content_range(value)


class _Auth:
    def secrets(self) -> list[str]:
        return []


class _Client:
    """Just what BlobReader's resume asks of a RegistryClient; answers each GET with ``answer``."""

    retry_times, retry_delay = 3, 0.0

    def __init__(self, answer: httpx.Response) -> None:
        self.auth, self.answer, self.sent = _Auth(), answer, []

    def send(self, method: str, path: str, *, what: str, headers: dict[str, str]) -> httpx.Response:
        self.sent.append(headers)
        return self.answer


def _dropping(first: bytes) -> Iterator[bytes]:
    yield first
    raise httpx.ReadError("connection reset")


@pytest.mark.parametrize("offset", [2**32 + 3, 5 * GIB, 2**53 + 1])
def test_a_resume_past_4_gib_asks_for_and_accepts_that_offset(offset: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobreader.time, "sleep", lambda _s: None)
    total = offset + 3
    resumed = httpx.Response(206, headers={"Content-Range": f"bytes {offset}-{total - 1}/{total}"},
                             content=iter([b"xyz"]))
    client = _Client(resumed)
    reader = BlobReader(client, "/v2/r/blobs/sha256:" + "0" * 64,  # type: ignore[arg-type]
                        httpx.Response(200, content=_dropping(b"a")), "blob", total)
    assert reader.read(1) == b"a"
    reader.received = offset  # as if the first GET had delivered that many bytes
    assert reader.read(10) == b"xyz"
    assert client.sent[0]["Range"] == f"bytes={offset}-"
    assert reader.received == total


def test_a_resume_answer_for_another_offset_past_4_gib_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobreader.time, "sleep", lambda _s: None)
    offset = 5 * GIB
    # An answer starting 4 GiB earlier (what a 32-bit wrap of the offset would ask for).
    wrapped = offset - 2**32
    resumed = httpx.Response(206, headers={"Content-Range": f"bytes {wrapped}-{offset + 2}/{offset + 3}"},
                             content=iter([b"xyz"]))
    reader = BlobReader(_Client(resumed), "/v2/r/blobs/x", httpx.Response(200, content=_dropping(b"a")),  # type: ignore[arg-type]
                        "blob", offset + 3)
    reader.read(1)
    reader.received = offset
    with pytest.raises(NetworkError, match="does not continue at 5368709120"):
        reader.read(10)


# -- descriptor sizes in manifests -------------------------------------------------------

manifest_oracle = oracle_fixture("manifest", "containers/image's manifest package")

_DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("size", ["2147483648", "4294967296", "9007199254740993", str(INT64_MAX),
                                  str(INT64_MAX + 1), str(2**64), "1e3", "4294967296.0", "1E19", "-0"])
def test_descriptor_sizes_near_int64_limits_as_go(manifest_oracle: Any, size: str) -> None:
    from trustcopy.manifest.parse import parse_manifest

    raw = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
           f'{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{_DIGEST}","size":{size}}},'
           f'"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{_DIGEST}","size":{size}}}]}}'
           ).encode()
    go = manifest_oracle.ask({"op": "parse", "blob": base64.b64encode(raw).decode(),
                              "mime": "application/vnd.oci.image.manifest.v1+json"})
    try:
        parsed = parse_manifest(raw)
    except TrustcopyError as exc:
        assert "error" in go, go
        assert exc.code == "manifest-invalid" and "config.size" in exc.message
        return
    assert "error" not in go, go
    assert parsed.config.size == go["config"]["size"]
    assert [layer.size for layer in parsed.layers] == [layer["size"] for layer in go["layers"]]
    assert isinstance(parsed.config.size, int)  # never a float (2**53 + 1 stays exact)


def test_a_directory_member_of_a_huge_size_needs_no_data() -> None:
    # A directory's size field is ignored (as Go): a 9 GiB one is followed directly by the next member.
    raw = member_header("d", 9 * GIB, MemberType.DIR) + member_header("f", 1) + b"x" + bytes(511)
    assert [(m.name, m.size) for m in scan(io.BytesIO(raw), "t.tar")] == [("d", 0), ("f", 1)]
