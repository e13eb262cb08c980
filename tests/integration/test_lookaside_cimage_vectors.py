"""Simple-signing signatures in lookaside stores, the registry's signature API and dir:/oci:,
checked against the behaviour of the newest containers/image (restated here, not copied).

Each test names the Go function whose behaviour it pins:

- ``docker/docker_image_src.go``: ``appendSignaturesFromLookaside`` (``signature-N`` per index,
  stop at the first missing one, at most ``maxLookasideSignatures``), ``getOneSignature``
  (404 = the end, any other non-200 an error, body read with ``iolimits.MaxSignatureBodySize``),
  ``appendSignaturesFromAPIExtension``.
- ``docker/registries_d.go``: ``lookasideStorageURL`` (the URL is Go's ``url.URL.String()``
  after appending to the decoded path).
- ``docker/docker_image_dest.go``: ``putSignaturesToLookaside`` (``file://`` only, later
  signatures removed up to the first missing one), ``putSignaturesToAPIExtension``.
- ``docker/docker_client.go``: ``getExtensionsSignatures`` (``json.Unmarshal`` into the
  extension structs).
- ``internal/signature/signature.go``: ``Blob`` / ``FromBlob`` framing of simple signatures.
- ``directory/directory_src.go`` / ``directory_dest.go``: ``signature-N`` files; ``oci/layout``:
  none.

A loopback HTTP server started here plays the lookaside; the last test runs skopeo 1.9.3
and trustcopy against the same registry and compares the store files they leave.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from registry_fixtures import free_port, serve_in_thread, stop_server

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import LimitExceededError, RegistryError, SignatureError, TransportError
from trustcopy.signature.formats import SigstoreSignature, SimpleSigning, UnknownSignature, signature_to_blob
from trustcopy.stores.lookaside import MAX_LOOKASIDE_SIGNATURES, LookasideLocation, read_signatures, write_signatures
from trustcopy.transports.docker import signatures as docker_signatures
from trustcopy.transports.docker.signatures import parse_signature_list

DIGEST = Digest.parse("sha256:" + "cd" * 32)
SIGDIR = f"ns/app@sha256={'cd' * 32}"
PGP = bytes([0xA3]) + b"an OpenPGP compressed-data packet"


def pgp(n: int) -> bytes:
    return bytes([0xA3]) + f"signature {n}".encode()


# -- a loopback lookaside recording the raw request paths -------------------------------------------------


@dataclass
class Served:
    """What one path answers: status, body, headers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Lookaside:
    files: dict[str, Served] = field(default_factory=dict)
    raw_paths: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def lookaside() -> Iterator[Lookaside]:
    state = Lookaside()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.raw_paths.append(self.path)
            answer = state.files.get(self.path.split("?", 1)[0], Served(404))
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.status not in (204, 304):
                self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = serve_in_thread(state.port, Handler)
    try:
        yield state
    finally:
        stop_server(server)


def sig_path(n: int, prefix: str = "/sigs") -> str:
    return f"{prefix}/{SIGDIR}/signature-{n}"


# -- lookasideStorageURL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("base_path", "requested"), [
    ("/sigs", "/sigs"),
    ("/a%2Fb", "/a/b"),          # Go decodes the base path, then re-escapes the whole path
    ("/a%41b", "/aAb"),
    ("/a!b(c)", "/a%21b%28c%29"),  # Go's path escaping keeps only $&+,/:;=@ and -_.~ unescaped
    ("/%C3%A9", "/%C3%A9"),
    ("/s@x=y", "/s@x=y"),
])
def test_http_signature_url_is_gos_url_string(base_path: str, requested: str) -> None:
    """lookasideStorageURL: sigURL.Path is the *decoded* base path + "@ALGO=HEX/signature-N",
    and getOneSignature GETs sigURL.String(), i.e. Go's escaping of that path."""
    with lookaside() as server:
        read_signatures(LookasideLocation(server.url + base_path, "ns/app"), DIGEST)
    assert server.raw_paths == [f"{requested}/{SIGDIR}/signature-1"]


def test_http_query_of_the_base_is_kept_after_the_path() -> None:
    with lookaside() as server:
        read_signatures(LookasideLocation(server.url + "/sigs?token=1", "ns/app"), DIGEST)
    assert server.raw_paths == [f"/sigs/{SIGDIR}/signature-1?token=1"]


# -- getOneSignature / appendSignaturesFromLookaside ---------------------------------------------------------


def test_http_reading_stops_at_the_first_404_and_never_asks_beyond() -> None:
    """appendSignaturesFromLookaside: the loop ends at the first missing index; later files are not read."""
    with lookaside() as server:
        server.files[sig_path(1)] = Served(body=pgp(1))
        server.files[sig_path(3)] = Served(body=pgp(3))
        sigs = read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
    assert [s.untrusted_blob for s in sigs if isinstance(s, SimpleSigning)] == [pgp(1)]
    assert server.raw_paths == [sig_path(1), sig_path(2)]


@pytest.mark.parametrize("status", [204, 206, 401, 410, 503])
def test_http_any_status_but_200_and_404_is_an_error(status: int) -> None:
    """getOneSignature: only 404 means "no more"; 204 or 206 is not a signature either."""
    with lookaside() as server:
        server.files[sig_path(1)] = Served(body=pgp(1))
        server.files[sig_path(2)] = Served(status, b"" if status == 204 else b"x")
        with pytest.raises(TransportError) as exc:
            read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
    assert exc.value.code == "lookaside-http"
    assert exc.value.context["index"] == 2 and exc.value.context["status"] == status


def test_http_empty_200_body_is_no_signature() -> None:
    """signature.FromBlob refuses an empty blob ("empty signature blob"); c/i then fails the read,
    trustcopy keeps it as an UnknownSignature that every signature requirement rejects."""
    with lookaside() as server:
        server.files[sig_path(1)] = Served(body=b"")
        [sig] = read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
    assert isinstance(sig, UnknownSignature) and sig.reason == "empty signature blob"


def test_http_content_type_is_not_a_requirement() -> None:
    """getOneSignature: only text/html is warned about; any other type is read as a signature."""
    with lookaside() as server:
        server.files[sig_path(1)] = Served(body=pgp(1), headers={"Content-Type": "text/plain; charset=x"})
        server.files[sig_path(2)] = Served(body=pgp(2), headers={"Content-Type": "application/json"})
        sigs = read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
    assert [type(s) for s in sigs] == [SimpleSigning, SimpleSigning]


def test_http_size_limit_is_inclusive() -> None:
    """iolimits.ReadAtMost(MaxSignatureBodySize = 4 MiB): exactly the limit is read, one byte more is not."""
    assert limits.MAX_SIGNATURE_BODY == 4 * 1024 * 1024
    exact = bytes([0xA3]) * limits.MAX_SIGNATURE_BODY
    with lookaside() as server:
        server.files[sig_path(1)] = Served(body=exact)
        [sig] = read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
        assert isinstance(sig, SimpleSigning) and len(sig.untrusted_blob) == limits.MAX_SIGNATURE_BODY
        server.files[sig_path(1)] = Served(body=exact + b"\xa3")
        with pytest.raises(LimitExceededError):
            read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)


def test_file_size_limit_is_inclusive(tmp_path: Path) -> None:
    """c/i reads file:// signatures whole; trustcopy bounds them as HTTP ones (4 MiB, inclusive)."""
    store = LookasideLocation(f"file://{tmp_path}", "ns/app")
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(bytes([0xA3]) * limits.MAX_SIGNATURE_BODY)
    assert len(read_signatures(store, DIGEST)) == 1
    (directory / "signature-1").write_bytes(bytes([0xA3]) * (limits.MAX_SIGNATURE_BODY + 1))
    with pytest.raises(LimitExceededError):
        read_signatures(store, DIGEST)


def test_http_count_limit(tmp_path: Path) -> None:
    """maxLookasideSignatures = 128: far fewer are read normally; a server serving
    signatures without end is cut after a bounded number of requests."""
    assert MAX_LOOKASIDE_SIGNATURES == 128
    with lookaside() as server:
        for n in range(1, 301):
            server.files[sig_path(n)] = Served(body=pgp(n))
        with pytest.raises(LimitExceededError) as exc:
            read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)
    assert exc.value.code == "lookaside-too-many-signatures"
    assert len(server.raw_paths) <= MAX_LOOKASIDE_SIGNATURES + 1
    with lookaside() as server:
        for n in range(1, 128):
            server.files[sig_path(n)] = Served(body=pgp(n))
        assert len(read_signatures(LookasideLocation(server.url + "/sigs", "ns/app"), DIGEST)) == 127


def test_file_directory_as_signature_is_an_error_not_the_end(tmp_path: Path) -> None:
    """getOneSignature (file): only "does not exist" ends the list; any other read error fails."""
    (tmp_path / SIGDIR / "signature-1").mkdir(parents=True)
    with pytest.raises((TransportError, LimitExceededError)):
        read_signatures(LookasideLocation(f"file://{tmp_path}", "ns/app"), DIGEST)


def test_file_dangling_symlink_inside_the_store_is_the_end(tmp_path: Path) -> None:
    """os.ReadFile through a dangling symlink is "does not exist": the end of the list."""
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(pgp(1))
    (directory / "signature-2").symlink_to(directory / "gone")
    (directory / "signature-3").write_bytes(pgp(3))
    assert len(read_signatures(LookasideLocation(f"file://{tmp_path}", "ns/app"), DIGEST)) == 1


# -- internal/signature framing --------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0xA0, 0xA1, 0xA2, 0xA3, 0xC8, 0x90, 0x91, 0x92, 0x3D, 0xC4,
                                   0x88, 0x89, 0x8A, 0x8B, 0xC2])
def test_frombblob_openpgp_first_bytes_are_simple_signing(tmp_path: Path, first: int) -> None:
    """FromBlob: a blob starting with one of these bytes is a bare simple signature (0x3D included, 0x93 not)."""
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(bytes([first]) + b"rest")
    [sig] = read_signatures(LookasideLocation(f"file://{tmp_path}", "ns/app"), DIGEST)
    assert isinstance(sig, SimpleSigning) and sig.untrusted_blob == bytes([first]) + b"rest"


@pytest.mark.parametrize(("blob", "reason"), [
    (bytes([0x93]) + b"x", "unrecognized signature format, starting with binary 0x93"),
    (b"\x00simple-signing", "invalid signature format, missing newline"),
    (b"\x00simple\x01signing\nx", "invalid signature format, non-ASCII byte 0x1"),
    (b"\x00cosign\nx", "unrecognized signature format 'cosign'"),
    (b"", "empty signature blob"),
])
def test_frombblob_refusals(tmp_path: Path, blob: bytes, reason: str) -> None:
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(blob)
    [sig] = read_signatures(LookasideLocation(f"file://{tmp_path}", "ns/app"), DIGEST)
    assert isinstance(sig, UnknownSignature) and sig.reason == reason
    assert sig.untrusted_blob == blob


def test_enveloped_simple_signing_is_read_and_written_back_bare(tmp_path: Path) -> None:
    """FromBlob accepts "\\x00simple-signing\\n" + chunk; Blob(SimpleSigning) is the bare chunk."""
    store = LookasideLocation(f"file://{tmp_path}", "ns/app")
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(b"\x00simple-signing\n" + PGP)
    [sig] = read_signatures(store, DIGEST)
    assert isinstance(sig, SimpleSigning) and sig.untrusted_blob == PGP
    write_signatures(store, DIGEST, [sig])
    assert (directory / "signature-1").read_bytes() == PGP


def test_sigstore_envelope_in_a_lookaside_is_a_sigstore_signature(tmp_path: Path) -> None:
    """FromBlob: "\\x00sigstore-json\\n" + JSON is a sigstore signature, wherever it is stored."""
    chunk = json.dumps({"mimeType": "m", "payload": base64.b64encode(b"p").decode(), "annotations": {"a": "b"}})
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(b"\x00sigstore-json\n" + chunk.encode())
    [sig] = read_signatures(LookasideLocation(f"file://{tmp_path}", "ns/app"), DIGEST)
    assert isinstance(sig, SigstoreSignature)
    assert (sig.untrusted_mime_type, sig.untrusted_payload, dict(sig.untrusted_annotations)) == ("m", b"p", {"a": "b"})
    assert signature_to_blob(sig).startswith(b"\x00sigstore-json\n{")


# -- putSignaturesToLookaside -----------------------------------------------------------------------------------


def test_write_removes_later_signatures_only_up_to_the_first_missing_one(tmp_path: Path) -> None:
    """putSignaturesToLookaside: signature-N+1 … are deleted until one is missing; one beyond a gap
    stays (a reader stops at the gap anyway)."""
    store = LookasideLocation(f"file://{tmp_path}", "ns/app")
    directory = tmp_path / SIGDIR
    directory.mkdir(parents=True)
    for n in (1, 2, 3, 5):
        (directory / f"signature-{n}").write_bytes(pgp(n))
    write_signatures(store, DIGEST, [SimpleSigning(PGP)])
    assert sorted(os.listdir(directory)) == ["signature-1", "signature-5"]
    assert (directory / "signature-1").read_bytes() == PGP
    assert [s.untrusted_blob for s in read_signatures(store, DIGEST) if isinstance(s, SimpleSigning)] == [PGP]


def test_write_of_nothing_touches_nothing(tmp_path: Path) -> None:
    """putSignaturesToLookaside: an empty list returns before computing any path."""
    store = LookasideLocation(f"file://{tmp_path}/store", "ns/app")
    write_signatures(store, DIGEST, [])
    assert not (tmp_path / "store").exists()


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LookasideLocation(f"file://{tmp_path}", "ns/app")
    write_signatures(store, DIGEST, [SimpleSigning(pgp(1)), SimpleSigning(pgp(2))])
    assert sorted(os.listdir(tmp_path / SIGDIR)) == ["signature-1", "signature-2"]
    assert (tmp_path / SIGDIR / "signature-2").read_bytes() == pgp(2)


def test_write_fails_when_a_later_signature_cannot_be_removed(tmp_path: Path) -> None:
    """deleteOneSignature: an os.Remove error other than "does not exist" fails the write."""
    store = LookasideLocation(f"file://{tmp_path}", "ns/app")
    (tmp_path / SIGDIR / "signature-2").mkdir(parents=True)
    (tmp_path / SIGDIR / "signature-2" / "x").write_bytes(b"x")
    with pytest.raises(SignatureError) as exc:
        write_signatures(store, DIGEST, [SimpleSigning(PGP)])
    assert exc.value.code == "lookaside-unwritable"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_write_to_http_is_refused_before_any_file(scheme: str) -> None:
    """putOneSignature: http(s) lookasides are not writable ("Configure a lookaside-staging")."""
    with pytest.raises(SignatureError) as exc:
        write_signatures(LookasideLocation(f"{scheme}://127.0.0.1:1/sigs", "ns/app"), DIGEST, [SimpleSigning(PGP)])
    assert exc.value.code == "lookaside-not-writable" and "lookaside-staging" in (exc.value.hint or "")


# -- getExtensionsSignatures: json.Unmarshal into extensionSignatureList ---------------------------------------


def test_signature_list_null_body_and_null_entries_are_empty() -> None:
    """Go: null leaves a value untouched, so a null body is an empty list and a null entry a zero one."""
    assert parse_signature_list(b"null", "r") == []
    assert parse_signature_list(b'{"signatures":[null]}', "r") == [
        {"schemaVersion": 0, "name": "", "type": "", "content": b""}]


def test_signature_list_null_fields_keep_their_value() -> None:
    body = b'{"signatures":[{"schemaVersion":2,"name":"n","type":"atomic","content":"YQ==",' \
           b'"schemaVersion":null,"name":null,"type":null}]}'
    assert parse_signature_list(body, "r") == [{"schemaVersion": 2, "name": "n", "type": "atomic", "content": b"a"}]


def test_signature_list_keys_match_in_any_case_last_one_wins() -> None:
    body = b'{"SIGNATURES":[{"SchemaVersion":1,"schemaversion":2,"NAME":"n","Type":"x","type":"atomic",' \
           b'"\xc5\xbfignature":1,"Content":"YQ=="}],"unknown":1}'
    assert parse_signature_list(body, "r") == [{"schemaVersion": 2, "name": "n", "type": "atomic", "content": b"a"}]
    # the long s (U+017F) folds onto "S" in Go's field matching
    assert parse_signature_list('{"\u017fignatures":[{"name":"m"}]}'.encode(), "r")[0]["name"] == "m"


@pytest.mark.parametrize("body", [
    b'{"signatures":[{"schemaVersion":9223372036854775808}]}',   # out of Go's int range
    b'{"signatures":[{"schemaVersion":2.0}]}',
    b'{"signatures":[{"content":"YQ==="}]}',
    b'{"signatures":[{"content":"YQ"}]}',
    b'{"signatures":[]} x',
])
def test_signature_list_refusals(body: bytes) -> None:
    with pytest.raises(RegistryError, match="the signature list is malformed"):
        parse_signature_list(body, "r")


def test_signature_list_invalid_utf8_in_a_string_is_replaced() -> None:
    """Go's decoder turns invalid UTF-8 inside strings into U+FFFD instead of failing."""
    [entry] = parse_signature_list(b'{"signatures":[{"name":"a\xffb"}]}', "r")
    assert entry["name"] == "a\ufffdb"


# -- putSignaturesToAPIExtension / appendSignaturesFromAPIExtension --------------------------------------------


class FakeAPIClient:
    """Just what signatures.py asks of a RegistryClient that advertised the extension."""

    domain = "registry.test"
    path = "ns/app"
    supports_signatures_extension = True

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.listed = json.dumps({"signatures": entries}).encode()
        self.puts: list[dict[str, Any]] = []

    def ensure_ping(self) -> None:
        pass

    def url(self, path: str) -> httpx.URL:
        return httpx.URL(f"https://{self.domain}{path}")

    def get_whole(self, path: str, limit: int, what: str) -> tuple[None, bytes]:
        assert path == f"/extensions/v2/ns/app/signatures/{DIGEST}" and limit == limits.MAX_SIGNATURE_LIST_BODY
        return None, self.listed

    def send(self, method: str, path: str, *, what: str, content: bytes) -> httpx.Response:
        assert (method, path) == ("PUT", f"/extensions/v2/ns/app/signatures/{DIGEST}")
        self.puts.append(json.loads(content))
        return httpx.Response(201)

    def check(self, response: httpx.Response, what: str, ok: tuple[int, ...]) -> httpx.Response:
        assert ok == (201,) and response.status_code in ok
        return response


def entry(content: bytes, *, version: int = 2, kind: str = "atomic", name: str = "") -> dict[str, Any]:
    return {"schemaVersion": version, "name": name or f"{DIGEST}@{'0' * 32}", "type": kind,
            "content": base64.b64encode(content).decode()}


def test_api_read_keeps_only_version_2_atomic_entries_in_order() -> None:
    """appendSignaturesFromAPIExtension: entries of another version or type are skipped, silently."""
    client = FakeAPIClient([entry(pgp(1)), entry(pgp(2), version=1), entry(pgp(3), kind="AtomicImageV1"),
                            entry(pgp(4))])
    sigs = docker_signatures.read_signatures(client, None, DIGEST)  # type: ignore[arg-type]
    assert [s.untrusted_blob for s in sigs if isinstance(s, SimpleSigning)] == [pgp(1), pgp(4)]
    assert sigs[1].location.endswith("#4")


def test_api_put_dedups_only_against_version_2_atomic_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """putSignaturesToAPIExtension: a signature already listed as a v2 "atomic" entry is not PUT again;
    the same bytes under another type do not count. Each PUT is the extension struct, named
    DIGEST@32 hex digits, with a name no listed entry (of any type) has."""
    taken = f"{DIGEST}@{'11' * 16}"
    client = FakeAPIClient([entry(pgp(1)), entry(pgp(2), kind="other", name=taken)])
    draws = iter([bytes([0x11]) * 16, bytes([0x22]) * 16])
    monkeypatch.setattr(docker_signatures.os, "urandom", lambda n: next(draws))
    docker_signatures.write_signatures(client, None, DIGEST,  # type: ignore[arg-type]
                                       [SimpleSigning(pgp(1)), SimpleSigning(pgp(2))])
    assert client.puts == [{"schemaVersion": 2, "name": f"{DIGEST}@{'22' * 16}", "type": "atomic",
                            "content": base64.b64encode(pgp(2)).decode()}]


def test_api_put_refuses_a_non_simple_signature_before_any_request() -> None:
    """Only simple signatures go to the API (signature.UnsupportedFormatError); trustcopy checks
    them all before the first PUT, so nothing is half-written."""
    client = FakeAPIClient([])
    with pytest.raises(SignatureError) as exc:
        docker_signatures.write_signatures(client, None, DIGEST,  # type: ignore[arg-type]
                                           [SimpleSigning(pgp(1)), UnknownSignature(b"x", "why")])
    assert exc.value.code == "signatures-unsupported"
    assert client.puts == []


def test_api_put_of_nothing_asks_nothing() -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"{name} used")

    docker_signatures.write_signatures(Untouchable(), None, DIGEST, [])  # type: ignore[arg-type]


# -- dir: and oci: signature files ---------------------------------------------------------------------------------


def test_dir_signature_files_round_trip_bare_and_per_instance(tmp_path: Path) -> None:
    """dirImageDestination.PutSignaturesWithFormat writes signature.Blob to signature-N (top level)
    and HEX.signature-N (an instance); dirImageSource reads them back until the first missing one."""
    from trustcopy.transports.dir import TRANSPORT, DirImageDestination, DirImageSource

    ref = TRANSPORT.parse_reference(str(tmp_path / "img"))
    instance = Digest.parse("sha256:" + "ef" * 32)
    dest = DirImageDestination(ref)
    try:
        dest.put_manifest(b"{}")
        dest.put_signatures([SimpleSigning(pgp(1)), SimpleSigning(pgp(2))])
        dest.put_signatures([SimpleSigning(pgp(3))], instance)
        dest.commit(b"{}")
    finally:
        dest.close()
    files = sorted(os.listdir(tmp_path / "img"))
    assert {"signature-1", "signature-2", f"{'ef' * 32}.signature-1"} <= set(files)
    assert not [f for f in files if "signature" in f and f not in
                {"signature-1", "signature-2", f"{'ef' * 32}.signature-1"}]
    assert (tmp_path / "img" / "signature-2").read_bytes() == pgp(2)
    src = DirImageSource(ref)
    assert [s.untrusted_blob for s in src.get_signatures() if isinstance(s, SimpleSigning)] == [pgp(1), pgp(2)]
    assert [s.untrusted_blob for s in src.get_signatures(instance) if isinstance(s, SimpleSigning)] == [pgp(3)]


def test_dir_reading_ends_at_a_missing_file_or_a_dangling_symlink(tmp_path: Path) -> None:
    """dirImageSource.GetSignaturesWithFormat: os.IsNotExist ends the list (a dangling symlink too)."""
    from trustcopy.transports.dir import TRANSPORT, DirImageSource

    (tmp_path / "signature-1").write_bytes(pgp(1))
    (tmp_path / "signature-2").symlink_to(tmp_path / "gone")
    (tmp_path / "signature-3").write_bytes(pgp(3))
    src = DirImageSource(TRANSPORT.parse_reference(str(tmp_path)))
    assert [s.untrusted_blob for s in src.get_signatures() if isinstance(s, SimpleSigning)] == [pgp(1)]


def test_dir_unreadable_signature_is_an_error(tmp_path: Path) -> None:
    """Any error but "does not exist" fails the read (a directory in place of a signature here)."""
    from trustcopy.transports.dir import TRANSPORT, DirImageSource

    (tmp_path / "signature-1").mkdir()
    with pytest.raises(TransportError):
        DirImageSource(TRANSPORT.parse_reference(str(tmp_path))).get_signatures()


def test_oci_layout_stores_no_signatures(tmp_path: Path) -> None:
    """oci/layout: "Pushing signatures for OCI images is not supported"; an empty list is fine."""
    from trustcopy.transports.oci_layout import TRANSPORT, OCIImageDestination
    from trustcopy.types import SystemContext

    dest = OCIImageDestination(TRANSPORT.parse_reference(f"{tmp_path}/layout:t"), SystemContext())
    try:
        assert "signatures for OCI images is not supported" in (dest.supports_signatures() or "")
        dest.put_signatures([])
        with pytest.raises(SignatureError, match="signatures for OCI images is not supported"):
            dest.put_signatures([SimpleSigning(PGP)])
    finally:
        dest.close()
    assert not list(tmp_path.rglob("signature-*"))


# -- differential: skopeo 1.9.3 and trustcopy leave the same store files -----------------------------------------


@pytest.mark.registry
@pytest.mark.skopeo
@pytest.mark.gpg
def test_both_tools_replace_signature_1_and_remove_up_to_the_gap(tmp_path: Path, plain_registry: Any,
                                                                  example_home: Any) -> None:
    """putSignaturesToLookaside, by skopeo and by trustcopy on the same registry: a signed push
    writes signature-1, removes signature-2 and -3, stops at the missing signature-4 and
    leaves signature-5; the files are byte-for-byte where each tool's reader finds them."""
    from imagefactory import example_image
    from registry_signing import FPR, TOOLS, Env, oci_source, signature_files

    env = Env(tmp_path, example_home)
    host = plain_registry.host
    image = example_image()
    layouts = {}
    for tool in TOOLS:
        store = env.store(f"store-{tool}", host)
        sigdir = store / f"ns/app@sha256={Digest.parse(image.digest).hex}"
        sigdir.mkdir(parents=True)
        for n in (1, 2, 3, 5):
            (sigdir / f"signature-{n}").write_bytes(pgp(n))
        r = env.run(tool, "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                    oci_source(env.tmp, image, tool), f"docker://{host}/ns/app:1")
        assert r.returncode == 0, (tool, r.stderr)
        layouts[tool] = signature_files(store)
        new = (sigdir / "signature-1").read_bytes()
        assert new != pgp(1) and new[0] in (0xA3, 0x90, 0xC4, 0xA0, 0xC8)  # a fresh bare OpenPGP message
        assert (sigdir / "signature-5").read_bytes() == pgp(5)
        sigs = read_signatures(LookasideLocation(f"file://{store}", "ns/app"), Digest.parse(image.digest))
        assert [s.untrusted_blob for s in sigs if isinstance(s, SimpleSigning)] == [new]
    assert layouts["skopeo"] == layouts["trustcopy"] == [
        f"ns/app@sha256={Digest.parse(image.digest).hex}/signature-1",
        f"ns/app@sha256={Digest.parse(image.digest).hex}/signature-5"]
