"""Review of session 26's memos, closes and read-ahead bounds (no network, no gpg).

- CopyOptions remembers the checked ``--sign-by`` key and the decrypted sigstore key, and
  dataclasses.replace carries the memo (so that sync pays once). A replace naming *another*
  key carried it too: the other GPG key was never checked, and the other sigstore key (or
  the same key with another passphrase) was never read: the copy signed with the old key.
- BlobReader.close() ends a download for good. A close that lands while a resume's request
  is under way found no response to release; the resumed response then downloaded on.
  A read after close raised httpx's StreamClosed (a RuntimeError, not a TrustcopyError).
- copy_blob waits INTERRUPT_GRACE for a read-ahead thread stuck in the socket, then leaves it:
  bytes that reach that thread later were still reported as progress of a copy that had
  already failed (and been reported), to a sink that may belong to the next image of a sync.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from trustcopy.copy import blobs
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.progress import BlobDone, BlobProgress
from trustcopy.digest import Digest
from trustcopy.errors import NetworkError, TransportError
from trustcopy.transports.docker.auth import Credentials
from trustcopy.transports.docker.blobreader import BlobReader
from trustcopy.transports.docker.client import RegistryClient
from trustcopy.types import BlobInfo, SystemContext

# -- CopyOptions memos ------------------------------------------------------------------------------

KEY_A, KEY_B = "A" * 40, "B" * 40


def test_a_replaced_sign_by_key_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.signature import gpg

    checked: list[str] = []
    monkeypatch.setattr(gpg, "check_signing_key", lambda key, **_: checked.append(key))
    options = CopyOptions(sign_by=KEY_A)
    options.check_gpg_signing_key()
    options.check_gpg_signing_key()
    same = dataclasses.replace(options, max_parallel=2)  # as sync makes each image's options
    same.check_gpg_signing_key()
    assert checked == [KEY_A]  # once per copy or sync
    dataclasses.replace(options, sign_by=KEY_B).check_gpg_signing_key()
    assert checked == [KEY_A, KEY_B]


@pytest.fixture(scope="module")
def sigstore_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two cosign key pairs, ``a`` and ``b``, both with the passphrase ``pw``."""
    from trustcopy.cli.main import main

    where = tmp_path_factory.mktemp("keys")
    (where / "pass").write_text("pw\n")
    for name in ("a", "b"):
        assert main(["generate-sigstore-key", "--output-prefix", str(where / name), "--passphrase-file",
                     str(where / "pass")]) == 0
    return where


def _public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def test_a_replaced_sigstore_key_is_the_one_used(sigstore_keys: Path) -> None:
    from trustcopy.copy.sign import load_sigstore_private_key

    a, b = str(sigstore_keys / "a.private"), str(sigstore_keys / "b.private")
    options = CopyOptions(sign_by_sigstore_private_key=a, sign_passphrase="pw")
    first = options.sigstore_private_key()
    assert dataclasses.replace(options, max_parallel=2).sigstore_private_key() is first  # decrypted once
    other = dataclasses.replace(options, sign_by_sigstore_private_key=b).sigstore_private_key()
    assert _public(other) == _public(load_sigstore_private_key(b, "pw")) != _public(first)


def test_a_replaced_passphrase_is_tried(sigstore_keys: Path) -> None:
    from trustcopy.errors import SignatureError

    options = CopyOptions(sign_by_sigstore_private_key=str(sigstore_keys / "a.private"), sign_passphrase="pw")
    options.sigstore_private_key()
    with pytest.raises(SignatureError):
        dataclasses.replace(options, sign_passphrase="wrong").sigstore_private_key()


# -- BlobReader.close ------------------------------------------------------------------------------

REG = "https://reg.example"
PATH = "/v2/app/blobs/sha256:" + "a" * 64
DATA = bytes(range(256)) * 64


class _Dropping(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield DATA[:5000]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class _Tracked(httpx.SyncByteStream):
    """The rest of the blob, remembering whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield DATA[5000:]

    def close(self) -> None:
        self.closed = True


def _client() -> RegistryClient:
    return RegistryClient(SystemContext(docker_retry_delay=0.0), "reg.example", "app", "pull",
                          credentials=Credentials())


def test_a_close_during_the_resume_request_stops_the_download() -> None:
    resumed = _Tracked()
    in_request, closed = threading.Event(), threading.Event()

    def blob(request: httpx.Request) -> httpx.Response:
        if "Range" not in request.headers:
            return httpx.Response(200, stream=_Dropping(), headers={"Content-Length": str(len(DATA))})
        in_request.set()
        assert closed.wait(10)  # the copy closes the reader while the server answers
        return httpx.Response(206, stream=resumed,
                              headers={"Content-Range": f"bytes 5000-{len(DATA) - 1}/{len(DATA)}"})

    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)
        router.get(f"{REG}{PATH}").mock(side_effect=blob)
        client = _client()
        reader = BlobReader(client, PATH, client.send("GET", PATH, what="blob"), "blob", len(DATA))
        assert reader.read(5000) == DATA[:5000]
        outcome: list[object] = []

        def read_on() -> None:
            try:
                outcome.append(reader.read(100_000))
            except Exception as exc:  # (compared below)
                outcome.append(exc)

        thread = threading.Thread(target=read_on)
        thread.start()
        assert in_request.wait(10)
        reader.close()
        closed.set()
        thread.join(10)
    # Old: the read returned the resumed bytes, and that response stayed open.
    assert len(outcome) == 1 and isinstance(outcome[0], NetworkError), outcome
    assert "the download was stopped after 5000 bytes" in str(outcome[0])
    assert resumed.closed


@pytest.mark.parametrize("read_first", [0, -1])
def test_a_read_after_close(read_first: int) -> None:
    with respx.mock() as router:
        router.get(f"{REG}/v2/").respond(200)
        router.get(f"{REG}{PATH}").respond(200, content=DATA, headers={"Content-Length": str(len(DATA))})
        client = _client()
        reader = BlobReader(client, PATH, client.send("GET", PATH, what="blob"), "blob", len(DATA))
        if read_first:
            assert reader.read() == DATA
        reader.close()
        reader.close()  # twice: nothing more
        if read_first:  # after the end: still the end
            assert reader.read(10) == b""
        else:  # old: httpx.StreamClosed, a RuntimeError
            with pytest.raises(NetworkError, match="stopped after 0 bytes"):
                reader.read(10)


# -- a read-ahead thread left behind ---------------------------------------------------------------

class _StuckStream:
    """A source blob whose second read blocks until released, whatever close() does (a socket read)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reads = 0

        self.blocked = threading.Event()

    def read(self, size: int = -1, /) -> bytes:
        self.reads += 1
        if self.reads == 1:
            return b"first"
        if self.reads > 2:
            return b""
        self.blocked.set()
        self.release.wait(10)
        return b"late bytes"

    def close(self) -> None:
        pass


class _Source:
    reference = "docker://reg.example/app:1"

    def __init__(self, stream: _StuckStream) -> None:
        self.stream = stream

    def get_blob(self, info: BlobInfo) -> tuple[_StuckStream, int]:
        return self.stream, info.size


class _FailingArchive:
    """A destination taking one blob at a time (so copy_blob reads ahead) whose write fails."""

    has_thread_safe_put_blob = False
    desired_layer_compression = None
    precompute_digests = None

    def __init__(self, stream: _StuckStream) -> None:
        self.stream = stream
        self.ended = threading.Event()

    def try_reusing_blob(self, info: BlobInfo) -> None:
        return None

    def put_blob(self, stream: Any, info: BlobInfo, *, is_config: bool) -> None:
        assert self.stream.blocked.wait(10)  # the read-ahead thread waits in its second read
        raise TransportError("out.tar: no space left on device", code="write-failed")

    def blob_copy_ended(self, info: BlobInfo) -> None:
        self.ended.set()


def test_a_read_ahead_thread_left_behind_reports_no_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs, "INTERRUPT_GRACE", 0.2)
    stream = _StuckStream()
    info = BlobInfo(Digest.from_bytes(b"firstlate bytes"), 15)
    events: list[object] = []
    with pytest.raises(TransportError, match="no space left"):
        blobs.copy_blob(_Source(stream), _FailingArchive(stream), info, is_config=False,  # type: ignore[arg-type]
                        can_modify=False, say=events.append)
    reported = len(events)
    stream.release.set()  # the stalled read ends after the copy failed (and the error was printed)
    deadline = time.monotonic() + 5
    while any(t.name == "blob-read-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.reads == 3
    assert events[reported:] == []  # old: a BlobProgress of 15 bytes, after the failure
    assert not any(isinstance(e, BlobDone) for e in events)
    assert [e.done for e in events if isinstance(e, BlobProgress)] == [5]
