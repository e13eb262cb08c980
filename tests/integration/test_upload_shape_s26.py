"""The shape of a large blob's upload as the registry sees it (issue 14, the 300 MB layer push).

Measured in session 26 (registry utime+stime per push, strace of both clients): Docker
Distribution spends the same CPU on trustcopy's push of a 300 MB layer as on skopeo's, because
both send the same requests: one ``POST``, one ``PATCH`` framed by ``Content-Length`` (no chunked
framing to parse, no ``Expect: 100-continue`` round trip), then a body-less ``PUT ?digest=`` that
the registry checks against the hash it kept while writing (nothing to re-read), and no
``HEAD``/``GET`` of the blob afterwards. These tests pin that shape structurally (requests and
headers through FaultProxy), not by timing, so that a change which would make the registry work
harder shows up here.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from imagefactory import make_image, random_layer, write_oci
from registry_fixtures import FaultProxy, RegistryServer, docker_ref, fast_sys, pull_blob, running

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError
from trustcopy.transports.docker.destination import MONOLITHIC_MAX
from trustcopy.types import BlobInfo

pytestmark = pytest.mark.registry

NOTLS = ("--src-tls-verify=false", "--dest-tls-verify=false")
#: Large enough to be streamed (not sent from memory) and to take many read-ahead pieces.
BIG = 3 * MONOLITHIC_MAX + 4321

Seen = list[tuple[str, str, dict[str, str]]]


def _header(headers: dict[str, str], name: str) -> str | None:
    """A request header, whatever case the client wrote it in."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _upload_requests(seen: Seen, session: str) -> Seen:
    """The requests of one upload session (its UUID is in every location the registry hands out)."""
    return [(m, p, h) for m, p, h in seen if session in p]


def _session_of(seen: Seen, digest: str) -> str:
    """The upload UUID of the session whose final PUT names ``digest``."""
    puts = [p for m, p, _ in seen if m == "PUT" and "/blobs/uploads/" in p and digest.replace(":", "%3A") in p]
    assert len(puts) == 1, puts
    return puts[0].split("/blobs/uploads/")[1].split("?")[0]


def test_large_layer_push_is_one_post_one_patch_one_put(run_cli, plain_registry: RegistryServer,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path, insecure_policy: Path) -> None:
    layer = random_layer(BIG, 2614)
    image = make_image([layer])
    digest = f"sha256:{hashlib.sha256(layer.blob).hexdigest()}"
    write_oci({"t": image}, str(tmp_path / "src"))
    with running(FaultProxy(plain_registry.port)) as proxy:
        r = run_cli("--policy", str(insecure_policy), "copy", *NOTLS, f"oci:{tmp_path}/src:t",
                    f"docker://{proxy.host}/big:1")
        assert r.exit_code == 0, r.stderr
        seen = list(proxy.seen)
    session = _session_of(seen, digest)
    steps = _upload_requests(seen, session)
    # POST (its answer names the session), one PATCH with every byte, the final PUT.
    assert [m for m, _, _ in steps] == ["PATCH", "PUT"]
    posts = [i for i, (m, p, _) in enumerate(seen) if m == "POST" and p.endswith("/blobs/uploads/")]
    assert len(posts) == len(image.blobs)  # one session per blob (the config is sent from memory)
    _, _, patch = steps[0]
    assert _header(patch, "Content-Length") == str(len(layer.blob))  # one length-framed body
    assert _header(patch, "Transfer-Encoding") is None  # nothing chunked for the registry to parse
    assert _header(patch, "Content-Range") == f"0-{len(layer.blob) - 1}"
    assert _header(patch, "Content-Type") == "application/octet-stream"
    _, put_path, put = steps[1]
    assert f"digest={digest.replace(':', '%3A')}" in put_path  # the registry checks its own running hash
    assert _header(put, "Content-Length") == "0" and _header(put, "Transfer-Encoding") is None
    # No request waits for a 100 Continue, and the blob is not asked about once it is committed.
    assert all(_header(h, "Expect") is None for _, _, h in seen)
    put_at = seen.index(steps[1])
    after = [(m, p) for m, p, _ in seen[put_at + 1:] if f"/blobs/{digest}" in p]
    assert after == []
    assert sum(1 for m, p, _ in seen if f"/blobs/{digest}" in p and m in ("HEAD", "GET")) <= 1  # the reuse check
    assert seen[-1][0] == "PUT" and "/manifests/1" in seen[-1][1]
    with docker_ref(plain_registry.host, "big:1").new_image_source(fast_sys()) as src:
        assert pull_blob(src, digest, len(layer.blob)) == layer.blob


def test_unknown_size_blob_is_one_chunked_patch(plain_registry: RegistryServer) -> None:
    """A blob of unknown size (put_new_blob: compressed on the fly) streams as one chunked PATCH,
    as containers/image sends a body of unknown length; its digest is computed while it streams."""
    data = random_layer(BIG, 2615).blob
    with running(FaultProxy(plain_registry.port)) as proxy:
        with docker_ref(proxy.host, "new:1").new_image_destination(fast_sys()) as dest:
            info = dest.put_new_blob(io.BytesIO(data))
        seen = list(proxy.seen)
    assert str(info.digest) == f"sha256:{hashlib.sha256(data).hexdigest()}" and info.size == len(data)
    steps = _upload_requests(seen, _session_of(seen, str(info.digest)))
    assert [m for m, _, _ in steps] == ["PATCH", "PUT"]
    _, _, patch = steps[0]
    assert (_header(patch, "Transfer-Encoding") or "").lower() == "chunked"
    assert _header(patch, "Content-Length") is None and _header(patch, "Content-Range") is None
    with docker_ref(plain_registry.host, "new:1").new_image_source(fast_sys()) as src:
        assert pull_blob(src, str(info.digest), len(data)) == data


@pytest.mark.parametrize("flip_at", [0, -1])  # the first byte, the last
def test_streamed_blob_that_fails_its_digest_is_never_committed(plain_registry: RegistryServer, flip_at: int) -> None:
    """The digest is still verified on the client: bytes that do not match are streamed (the PATCH
    cannot know in advance) but the PUT that would commit them is never sent."""
    data = bytearray(random_layer(BIG, 2616).blob)
    digest = Digest.from_bytes(bytes(data))
    data[flip_at] ^= 0xFF
    with running(FaultProxy(plain_registry.port)) as proxy:
        with docker_ref(proxy.host, "bad:1").new_image_destination(fast_sys()) as dest, \
                pytest.raises(DigestMismatchError):
            dest.put_blob(io.BytesIO(bytes(data)), BlobInfo(digest=digest, size=len(data)))
        seen = list(proxy.seen)
    assert not any(m == "PUT" and "/blobs/uploads/" in p for m, p, _ in seen)
    assert sum(1 for m, _, _ in seen if m == "PATCH") <= 1
