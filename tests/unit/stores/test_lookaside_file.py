"""file:// lookaside stores: layout, reading until the first gap, hostile files, atomic writes, deletes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from trustcopy import limits
from trustcopy.digest import Digest
from trustcopy.errors import ConfigError, LimitExceededError, SignatureError, TransportError
from trustcopy.signature.formats import SigstoreSignature, SimpleSigning, UnknownSignature
from trustcopy.stores.lookaside import (
    MAX_LOOKASIDE_SIGNATURES,
    LookasideLocation,
    delete_signatures,
    read_signatures,
    write_signatures,
)

DIGEST = Digest.parse("sha256:" + "ab" * 32)
OTHER = Digest.parse("sha256:" + "cd" * 32)


def sig(n: int) -> SimpleSigning:
    """A blob classified as simple signing (0xA3: an old-format compressed packet)."""
    return SimpleSigning(bytes([0xA3]) + f"signature {n}".encode())


@pytest.fixture
def store(tmp_path: Path) -> LookasideLocation:
    return LookasideLocation(f"file://{tmp_path}/store", "ns/app", "test store")


def sigdir(store: LookasideLocation, digest: Digest = DIGEST) -> Path:
    return Path(store.signature_dir(digest))


def test_layout_is_base_repository_path_at_algo_equals_hex(store: LookasideLocation, tmp_path: Path) -> None:
    assert store.signature_path(DIGEST, 3) == f"{tmp_path}/store/ns/app@sha256={'ab' * 32}/signature-3"
    assert store.signature_url(DIGEST, 1) == f"file://{tmp_path}/store/ns/app@sha256={'ab' * 32}/signature-1"


def test_an_empty_store_has_no_signatures(store: LookasideLocation) -> None:
    assert read_signatures(store, DIGEST) == []


def test_write_then_read_round_trips_typed_signatures(store: LookasideLocation) -> None:
    sigstore = SigstoreSignature("application/vnd.dev.cosign.simplesigning.v1+json", b'{"x":1}', {"a": "b"})
    write_signatures(store, DIGEST, [sig(1), sigstore, sig(3)])
    got = read_signatures(store, DIGEST)
    assert got == [sig(1), sigstore, sig(3)]
    assert got[1].location == store.signature_url(DIGEST, 2)
    assert read_signatures(store, OTHER) == []


def test_reading_stops_at_the_first_missing_signature(store: LookasideLocation) -> None:
    write_signatures(store, DIGEST, [sig(1), sig(2), sig(3)])
    os.unlink(store.signature_path(DIGEST, 2))
    assert read_signatures(store, DIGEST) == [sig(1)]


def test_unknown_format_is_kept_typed_as_unknown(store: LookasideLocation) -> None:
    sigdir(store).mkdir(parents=True)
    (sigdir(store) / "signature-1").write_bytes(b"<html>not a signature</html>")
    [got] = read_signatures(store, DIGEST)
    assert isinstance(got, UnknownSignature)
    assert got.location.endswith("/signature-1")


def test_rewriting_removes_the_later_signatures(store: LookasideLocation) -> None:
    write_signatures(store, DIGEST, [sig(1), sig(2), sig(3)])
    write_signatures(store, DIGEST, [sig(9)])
    assert sorted(os.listdir(sigdir(store))) == ["signature-1"]
    assert read_signatures(store, DIGEST) == [sig(9)]


def test_writing_nothing_changes_nothing(store: LookasideLocation) -> None:
    write_signatures(store, DIGEST, [sig(1)])
    write_signatures(store, DIGEST, [])
    assert read_signatures(store, DIGEST) == [sig(1)]


def test_each_file_is_replaced_atomically(store: LookasideLocation) -> None:
    write_signatures(store, DIGEST, [sig(1)])
    path = store.signature_path(DIGEST, 1)
    with open(path, "rb") as reader:  # a reader holding the old file sees it whole, never truncated
        old_inode = os.fstat(reader.fileno()).st_ino
        write_signatures(store, DIGEST, [sig(2)])
        assert reader.read() == sig(1).untrusted_blob
    assert os.stat(path).st_ino != old_inode
    assert sorted(os.listdir(sigdir(store))) == ["signature-1"]  # no temporary file left behind


def test_modes_are_0755_and_0644_whatever_the_umask(store: LookasideLocation, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_signatures(store, DIGEST, [sig(1)])
    finally:
        os.umask(old)
    for d in (tmp_path / "store", tmp_path / "store/ns", tmp_path / f"store/ns/app@sha256={'ab' * 32}"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755, d
    assert stat.S_IMODE(os.stat(store.signature_path(DIGEST, 1)).st_mode) == 0o644


def test_concurrent_reader_never_sees_a_partial_signature(store: LookasideLocation) -> None:
    big = [SimpleSigning(bytes([0xA3]) + bytes([i]) * 200_000) for i in range(1, 4)]
    write_signatures(store, DIGEST, [big[0]])
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for s in read_signatures(store, DIGEST):
                seen.add(s.untrusted_blob if isinstance(s, SimpleSigning) else b"?")

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(30):
            write_signatures(store, DIGEST, [big[i % 3]])
    finally:
        stop.set()
        t.join()
    assert seen <= {b.untrusted_blob for b in big}


def test_delete_removes_every_signature_and_the_empty_directory(store: LookasideLocation) -> None:
    write_signatures(store, DIGEST, [sig(1), sig(2)])
    write_signatures(store, OTHER, [sig(3)])
    assert delete_signatures(store, DIGEST) == 2
    assert not sigdir(store).exists()
    assert read_signatures(store, OTHER) == [sig(3)]
    assert delete_signatures(store, DIGEST) == 0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_stores_are_read_only_with_containers_image_hint(scheme: str) -> None:
    remote = LookasideLocation(f"{scheme}://sigs.example/base", "ns/app", "lookaside of default-docker in x.yaml")
    for action in (lambda: write_signatures(remote, DIGEST, [sig(1)]), lambda: delete_signatures(remote, DIGEST)):
        with pytest.raises(SignatureError) as exc:
            action()
        assert exc.value.code == "lookaside-not-writable"
        assert "lookaside-staging" in (exc.value.hint or "")
        assert "x.yaml" in exc.value.message


# -- hostile stores ----------------------------------------------------------------------------------


def test_fifo_signature_is_refused_without_blocking(store: LookasideLocation) -> None:
    sigdir(store).mkdir(parents=True)
    os.mkfifo(sigdir(store) / "signature-1")
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(store, DIGEST)
    assert exc.value.code == "not-a-regular-file"
    assert "signature-1" in exc.value.message and exc.value.context["index"] == 1


def test_directory_in_place_of_a_signature_is_refused(store: LookasideLocation) -> None:
    (sigdir(store) / "signature-1").mkdir(parents=True)
    with pytest.raises(LimitExceededError, match="signature-1 is not a regular file"):
        read_signatures(store, DIGEST)


def test_symlink_out_of_the_store_is_refused(store: LookasideLocation, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(bytes([0xA3]) + b"outside")
    sigdir(store).mkdir(parents=True)
    (sigdir(store) / "signature-1").symlink_to(secret)
    with pytest.raises(TransportError) as exc:
        read_signatures(store, DIGEST)
    assert exc.value.code == "lookaside-outside-store"
    assert "signature-1" in exc.value.message and str(secret) in exc.value.message


def test_symlinked_repository_directory_out_of_the_store_is_refused_for_reading_and_writing(
        store: LookasideLocation, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / f"app@sha256={'ab' * 32}").mkdir(parents=True)
    (elsewhere / f"app@sha256={'ab' * 32}" / "signature-1").write_bytes(bytes([0xA3]))
    (tmp_path / "store").mkdir()
    (tmp_path / "store/ns").symlink_to(elsewhere)
    with pytest.raises(TransportError, match="leads out of the store"):
        read_signatures(store, DIGEST)
    with pytest.raises(SignatureError) as exc:
        write_signatures(store, OTHER, [sig(1)])
    assert exc.value.code == "lookaside-outside-store"
    assert not (elsewhere / f"app@sha256={'cd' * 32}").exists()


def test_symlinks_inside_the_store_are_followed(store: LookasideLocation, tmp_path: Path) -> None:
    write_signatures(store, OTHER, [sig(5)])
    sigdir(store).mkdir(parents=True)
    (sigdir(store) / "signature-1").symlink_to(store.signature_path(OTHER, 1))
    (sigdir(store) / "signature-2").symlink_to(tmp_path / "store" / "dangling")  # inside, missing: the end
    assert read_signatures(store, DIGEST) == [sig(5)]


def test_store_root_behind_a_symlink_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    store = LookasideLocation(f"file://{tmp_path}/link/store", "ns/app")
    write_signatures(store, DIGEST, [sig(1)])
    assert read_signatures(store, DIGEST) == [sig(1)]


def test_oversized_signature_is_refused_naming_the_url(store: LookasideLocation) -> None:
    sigdir(store).mkdir(parents=True)
    (sigdir(store) / "signature-1").write_bytes(bytes([0xA3]) * limits.MAX_SIGNATURE_BODY)
    assert len(read_signatures(store, DIGEST)) == 1  # exactly the cap is fine
    (sigdir(store) / "signature-1").write_bytes(bytes([0xA3]) * (limits.MAX_SIGNATURE_BODY + 1))
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(store, DIGEST)
    assert store.signature_url(DIGEST, 1) in exc.value.message


def test_at_most_127_signatures(store: LookasideLocation) -> None:
    """containers/image's appendSignaturesFromLookaside: having read signature-128, it refuses."""
    sigdir(store).mkdir(parents=True)
    for n in range(1, MAX_LOOKASIDE_SIGNATURES):
        (sigdir(store) / f"signature-{n}").write_bytes(bytes([0xA3, n % 256]))
    assert len(read_signatures(store, DIGEST)) == MAX_LOOKASIDE_SIGNATURES - 1
    (sigdir(store) / f"signature-{MAX_LOOKASIDE_SIGNATURES}").write_bytes(bytes([0xA3]))
    with pytest.raises(LimitExceededError) as exc:
        read_signatures(store, DIGEST)
    assert exc.value.code == "lookaside-too-many-signatures"
    assert "has 128 or more signatures" in exc.value.message


def test_unreadable_path_component_is_an_error_not_the_end(store: LookasideLocation, tmp_path: Path) -> None:
    (tmp_path / "store/ns").mkdir(parents=True)
    (tmp_path / "store/ns" / f"app@sha256={'ab' * 32}").write_text("a file where a directory should be")
    with pytest.raises(TransportError) as exc:
        read_signatures(store, DIGEST)
    assert exc.value.code == "lookaside-unreadable" and "signature-1" in exc.value.message


# -- locations --------------------------------------------------------------------------------------------

BAD_URLS = ["ftp://x/y", "", "relative/path", "/abs/without/scheme", "file://host/path", "file:relative",
            "http:///nohost", "s3://bucket/x", ":emptyscheme",
            # Go's url.Parse: "invalid URL escape" (skopeo refuses these too)
            "file:///tmp/x%zz", "http://h/x%", "https://h/%4/x", "http://h/x#%g0"]


@pytest.mark.parametrize("bad", BAD_URLS)
def test_unusable_store_urls_are_refused_naming_the_origin(bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        LookasideLocation(bad, "ns/app", "lookaside of default-docker in /etc/containers/registries.d/x.yaml")
    assert exc.value.code == "lookaside-url-invalid"
    assert "/etc/containers/registries.d/x.yaml" in exc.value.message


@pytest.mark.parametrize("good", ["file:///abs", "file:/abs", "file://localhost/abs", "http://h/x", "https://h:5/x/",
                                  "file:///a%20b"])
def test_usable_store_urls(good: str) -> None:
    assert LookasideLocation(good, "ns/app").repository_url.endswith("/ns/app")


@pytest.mark.parametrize("path", ["", "/ns/app", "ns/../app", "ns//app", "./ns"])
def test_repository_path_must_be_clean(path: str) -> None:
    with pytest.raises(ValueError, match="unexpected path elements"):
        LookasideLocation("file:///s", path)


def test_credentials_in_a_store_url_never_reach_messages() -> None:
    remote = LookasideLocation("https://user:s3cr3t@sigs.example/x", "ns/app")
    with pytest.raises(SignatureError) as exc:
        write_signatures(remote, DIGEST, [sig(1)])
    assert "s3cr3t" not in str(exc.value) and "s3cr3t" not in repr(exc.value.context)
    assert "s3cr3t" not in str(remote.to_json())


def test_a_non_ascii_content_length_is_not_a_traceback() -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises: only ASCII digits are a declared length."""
    import httpx

    from trustcopy.stores.lookaside import HTTPOptions, _read_body

    response = httpx.Response(200, headers=[(b"content-length", "\u00b2".encode())],
                              stream=httpx.ByteStream(b"sig"))
    assert _read_body(response, HTTPOptions(), "https://example.test/s", {}) == b"sig"
