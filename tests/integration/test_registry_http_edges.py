"""The docker:// client against registries (and the CDNs and proxies in front of them) that bend HTTP.

Each answer below is written raw by the fake registry of test_registry_hostile.py, so the
test says exactly which bytes go over the wire. The cases, and what Go's net/http client
(skopeo's) does with them, which trustcopy matches unless a test says otherwise:

- ``HEAD`` answers with a body, without ``Content-Length`` or ``Docker-Content-Digest``, or with
  a content-encoded length: the connection stays in step, a missing digest is "unknown", an
  encoded length is not the blob's size (Go drops the length of a body it decodes);
- ``Content-Encoding``: Go asks for gzip only (and decodes it), not for a Range request;
  codings it did not ask for are handed over raw, so the digest is checked on those bytes and
  nothing that does not match is ever accepted;
- chunked answers with chunk extensions and trailers, cut mid-chunk (a drop: resumed/retried);
- 1xx informational answers before the real one;
- redirects of manifest GET/HEAD (relative, absolute to another origin: no credentials there);
- upload locations: relative, on another host, carrying their own query (``_state``), which
  is kept when ``digest`` is added;
- several ``WWW-Authenticate`` headers on one 401: the first supported one is used, in header order.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from imagefactory import example_image
from registry_fixtures import docker_ref, fast_sys, pull_blob
from test_registry_hostile import (  # the fixtures as well: no ambient credentials, the registry
    OCI_MANIFEST,
    Handler,
    HostileRegistry,
    _no_ambient_credentials,  # noqa: F401
    hostile,  # noqa: F401
)

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, NetworkError, RegistryAuthError
from trustcopy.manifest.digest import manifest_digest
from trustcopy.transports.docker.probe import head_manifest
from trustcopy.transports.docker.session import RegistrySession
from trustcopy.types import BlobInfo

USER, PASSWORD = "edge-user", "edge-pa55word-n3ver-sent-elsewhere"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture
def reg(hostile: HostileRegistry) -> HostileRegistry:  # noqa: F811 (the imported fixture, requested)
    """test_registry_hostile's registry (serving nothing yet, stopped after the test), by this file's name."""
    return hostile


@pytest.fixture
def session() -> Iterator[RegistrySession]:
    """One session (pool, pings) for the test: requests share kept-alive connections."""
    with RegistrySession() as s:
        yield s


def sys_for(session: RegistrySession, **kwargs: Any) -> Any:
    """A plain-HTTP SystemContext on ``session`` with fast retries."""
    kwargs.setdefault("retry_times", 2)
    return fast_sys(registry_session=session, **kwargs)


def raw(h: Handler, data: bytes) -> None:
    """Write bytes as they are (headers, bodies, anything) to the client."""
    h.wfile.write(data)
    h.wfile.flush()


def head(status: str, headers: dict[str, str]) -> bytes:
    """A status line and headers, as bytes ending with the blank line."""
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def gzipped(data: bytes) -> bytes:
    """A gzip stream of ``data``."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def chunked(body: bytes, *, size: int = 64 << 10, trailer: bool = True) -> bytes:
    """``body`` in chunks of ``size`` bytes, each with chunk extensions, then trailers."""
    out = bytearray()
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b'%x;n=%d;note="a;b"\r\n' % (len(piece), i) + piece + b"\r\n"
    out += b"0\r\nX-Checksum: whatever\r\nExpires: 0\r\n\r\n" if trailer else b"0\r\n\r\n"
    return bytes(out)


# -- 1. HEAD answers ------------------------------------------------------------------------------


def test_a_head_answered_with_a_body_does_not_desync_the_connection(reg: HostileRegistry,
                                                                    session: RegistrySession) -> None:
    """A manifest HEAD answered with the manifest's bytes after the headers (h11 knows a HEAD
    answer has no body: those bytes would be read as the next request's answer)."""
    image = example_image()
    reg.serve_image(image)
    digest = manifest_digest(image.manifest)

    def manifest(h: Handler) -> None:
        headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(digest),
                   "Content-Length": str(len(image.manifest))}
        raw(h, head("200 OK", headers) + image.manifest)  # the body even for HEAD

    reg.routes["/v2/app/manifests/1"] = manifest
    sys_ctx = sys_for(session, retry_times=0)  # a desync must not be hidden by a retry
    ref = docker_ref(reg.host, "app:1")
    for _ in range(3):
        found = head_manifest(ref, sys_ctx)
        assert found is not None and found.digest == digest
        src = ref.new_image_source(sys_ctx)
        assert src.get_manifest()[0] == image.manifest
        for blob_digest, blob in image.blobs.items():
            assert pull_blob(src, blob_digest, len(blob)) == blob
        src.close()


@pytest.mark.parametrize("headers, expect", [
    ({"Content-Type": OCI_MANIFEST}, None),  # 200 without Docker-Content-Digest: unknown
    ({"Docker-Content-Digest": "sha256:not-a-digest"}, None),
    ({"Docker-Content-Digest": "DIGEST", "Transfer-Encoding": "chunked"}, "DIGEST"),  # no Content-Length
    ({"Docker-Content-Digest": "DIGEST", "Content-Length": "999999999"}, "DIGEST"),  # a length for nothing
], ids=["no-digest", "bad-digest", "no-length", "wrong-length"])
def test_a_manifest_head_without_a_usable_digest_is_unknown(reg: HostileRegistry, session: RegistrySession,
                                                            headers: dict[str, str], expect: str | None) -> None:
    image = example_image()
    digest = str(manifest_digest(image.manifest))
    sent = {k: v.replace("DIGEST", digest) for k, v in headers.items()}
    reg.routes["/v2/app/manifests/1"] = lambda h: raw(h, head("200 OK", sent))
    found = head_manifest(docker_ref(reg.host, "app:1"), sys_for(session))
    assert found is not None
    assert found.digest == (Digest.parse(digest) if expect else None)
    # The same connection still answers the next request properly.
    reg.routes["/v2/app/manifests/2"] = lambda h: h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST})
    src = docker_ref(reg.host, "app:2").new_image_source(sys_for(session, retry_times=0))
    assert src.get_manifest()[0] == image.manifest


def test_a_digested_head_answered_with_another_digest_is_not_believed(reg: HostileRegistry,
                                                                      session: RegistrySession) -> None:
    image = example_image()
    digest = manifest_digest(image.manifest)
    reg.routes[f"/v2/app/manifests/{digest}"] = lambda h: h.reply(
        200, b"", {"Docker-Content-Digest": "sha256:" + "0" * 64, "Content-Type": OCI_MANIFEST})
    found = head_manifest(docker_ref(reg.host, f"app@{digest}"), sys_for(session))
    assert found is not None and found.digest is None


@pytest.mark.parametrize("answer, reused", [
    ("plain", True),
    ("no-length", True),
    ("gzip-length", True),  # the encoded length says nothing about the blob
    ("other-length", False),  # a registry claiming another size is not trusted to hold it
], ids=["plain", "no-length", "gzip-length", "other-length"])
def test_blob_head_lengths(reg: HostileRegistry, session: RegistrySession, answer: str, reused: bool) -> None:
    """The destination's blob-exists HEAD: which Content-Length counts as the blob's size."""
    data = os.urandom(5000)
    info = BlobInfo(digest=Digest.parse("sha256:" + hashlib.sha256(data).hexdigest()), size=len(data))
    headers = {
        "plain": {"Content-Length": str(len(data))},
        "no-length": {"Transfer-Encoding": "chunked"},
        "gzip-length": {"Content-Encoding": "gzip", "Content-Length": str(len(gzipped(data)))},
        "other-length": {"Content-Length": str(len(data) - 1)},
    }[answer]
    reg.routes[f"/v2/app/blobs/{info.digest}"] = lambda h: raw(h, head("200 OK", headers))
    dest = docker_ref(reg.host, "app:1").new_image_destination(sys_for(session))
    try:
        found = dest.try_reusing_blob(info)
    finally:
        dest.close()
    if reused:
        assert found is not None and found.digest == info.digest and found.size == len(data)
    else:
        assert found is None


# -- 3. Content-Encoding --------------------------------------------------------------------------


def cdn(body: bytes, content_type: str) -> Callable[[Handler], None]:
    """A CDN in front of the registry: compresses with the best coding the client accepts."""
    def route(h: Handler) -> None:
        accepted = [c.split(";")[0].strip().lower() for c in h.headers.get("Accept-Encoding", "").split(",")]
        headers = {"Content-Type": content_type}
        out = body
        if "zstd" in accepted:
            import zstandard

            out, headers["Content-Encoding"] = zstandard.ZstdCompressor().compress(body), "zstd"
        elif "br" in accepted:
            headers["Content-Encoding"] = "br"  # no encoder here: the client must not ask for it
            out = b"\x0b" + body
        elif "gzip" in accepted:
            out, headers["Content-Encoding"] = gzipped(body), "gzip"
        h.reply(200, out, headers)
    return route


def test_manifests_are_asked_for_in_gzip_only_as_go_asks(reg: HostileRegistry, session: RegistrySession) -> None:
    """httpx's default Accept-Encoding names zstd (and br) when their modules are installed, but
    only gzip and deflate are undone: a CDN answering in zstd made the compressed bytes the manifest.
    Go's transport asks for gzip alone and decodes it; so does trustcopy now."""
    image = example_image()
    digest = manifest_digest(image.manifest)
    reg.routes["/v2/app/manifests/1"] = cdn(image.manifest, OCI_MANIFEST)
    reg.routes[f"/v2/app/manifests/{digest}"] = cdn(image.manifest, OCI_MANIFEST)
    sys_ctx = sys_for(session)
    assert docker_ref(reg.host, "app:1").new_image_source(sys_ctx).get_manifest()[0] == image.manifest
    # By digest: verified on the decoded bytes (the ones Go hands to containers/image).
    assert docker_ref(reg.host, f"app@{digest}").new_image_source(sys_ctx).get_manifest()[0] == image.manifest
    asked = {r[2].get("Accept-Encoding") for r in reg.requests("/manifests/") if r[0] == "GET"}
    assert asked == {"gzip"}


@pytest.mark.parametrize("coding", ["zstd", "br", "x-unknown"])
def test_a_manifest_in_a_coding_nobody_asked_for_never_passes_its_digest(reg: HostileRegistry,
                                                                         session: RegistrySession,
                                                                         coding: str) -> None:
    """Go hands over the raw bytes of a coding it did not ask for, and so do we: by digest they
    are checked, and refused."""
    image = example_image()
    digest = manifest_digest(image.manifest)
    encoded = zlib.compress(image.manifest)  # anything but the manifest's own bytes
    reg.routes[f"/v2/app/manifests/{digest}"] = lambda h: h.reply(
        200, encoded, {"Content-Type": OCI_MANIFEST, "Content-Encoding": coding})
    with pytest.raises(DigestMismatchError):
        docker_ref(reg.host, f"app@{digest}").new_image_source(sys_for(session, retry_times=0)).get_manifest()


def blob_route(blob: bytes, encoding: str | None, body: bytes | None = None) -> Callable[[Handler], None]:
    """A blob answer with ``Content-Encoding: encoding`` and ``body`` (default: ``blob`` so encoded)."""
    if body is None:
        body = gzipped(blob) if encoding == "gzip" else blob
    headers = {"Content-Type": "application/octet-stream"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding

    def route(h: Handler) -> None:
        h.reply(200, body, headers)
    return route


@pytest.mark.parametrize("encoding", ["gzip", "identity", "x-unknown"])
def test_a_blob_answer_in_a_coding_is_read_and_verified(reg: HostileRegistry, session: RegistrySession,
                                                        encoding: str) -> None:
    """gzip (a CDN compressing anyway): decoded, its encoded Content-Length not taken for the blob's
    size (it made the copy fail with size-mismatch; Go decodes and drops that length);
    identity and unknown codings: the bytes as sent, checked against the digest."""
    blob = os.urandom(2000) + b"\x00" * 20000  # compressible: the gzip length differs a lot
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    reg.routes[f"/v2/app/blobs/{digest}"] = blob_route(blob, encoding)
    assert pull_blob(_blob_source(reg, session), digest, len(blob)) == blob


@pytest.mark.parametrize("encoding, body", [
    ("gzip", "gzip-of-other"),  # decodes fine, to other bytes
    ("zstd", "zstd"),  # not asked for, not decoded: the compressed bytes
    ("x-unknown", "other"),
], ids=["gzip-other", "zstd", "unknown-other"])
def test_a_blob_answer_in_a_coding_never_passes_with_wrong_bytes(reg: HostileRegistry, session: RegistrySession,
                                                                 encoding: str, body: str) -> None:
    import zstandard

    blob = os.urandom(3000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    other = blob[:-1] + bytes([blob[-1] ^ 1])
    sent = {"gzip-of-other": gzipped(other), "zstd": zstandard.ZstdCompressor().compress(blob),
            "other": other}[body]
    reg.routes[f"/v2/app/blobs/{digest}"] = blob_route(blob, encoding, sent)
    src = _blob_source(reg, session)
    with pytest.raises(DigestMismatchError):
        pull_blob(src, digest, len(blob))


def _blob_source(reg: HostileRegistry, session: RegistrySession, **kwargs: Any) -> Any:
    """A DockerImageSource of ``app:1`` (its manifest served honestly) for reading blobs."""
    image = example_image()
    reg.routes["/v2/app/manifests/1"] = lambda h: h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST})
    return docker_ref(reg.host, "app:1").new_image_source(sys_for(session, **kwargs))


def test_a_resumed_range_answer_that_is_content_encoded_is_refused(reg: HostileRegistry,
                                                                   session: RegistrySession) -> None:
    """Go never asks for gzip on a Range request and hands over what comes raw; an encoded 206 is
    never stitched in (its offsets would be the encoded bytes')."""
    blob = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    def route(h: Handler) -> None:
        rng = h.headers.get("Range")
        if rng is None:  # cut after 100000 bytes
            raw(h, head("200 OK", {"Content-Length": str(len(blob))}) + blob[:100_000])
            h.close_connection = True
            return
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        body = gzipped(blob[start:])
        raw(h, head("206 Partial Content", {"Content-Encoding": "gzip", "Content-Length": str(len(body)),
                                            "Content-Range": f"bytes {start}-{len(blob) - 1}/{len(blob)}"}) + body)

    reg.routes[f"/v2/app/blobs/{digest}"] = route
    with pytest.raises(NetworkError, match="content-encoded"):
        pull_blob(_blob_source(reg, session), digest, len(blob))
    assert [r[2].get("Accept-Encoding") for r in reg.requests("/blobs/")] == ["identity", "identity"]


# -- 4. Transfer-Encoding: chunked ------------------------------------------------------------------


def test_chunked_answers_with_extensions_and_trailers(reg: HostileRegistry, session: RegistrySession) -> None:
    image = example_image()
    digest = manifest_digest(image.manifest)

    def manifest(h: Handler) -> None:
        hdr = head("200 OK", {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked",
                              "Trailer": "X-Checksum, Expires", "Docker-Content-Digest": str(digest)})
        raw(h, hdr if h.command == "HEAD" else hdr + chunked(image.manifest, size=100))

    def blob(h: Handler) -> None:
        data = image.blobs[h.path.rsplit("/", 1)[1]]
        raw(h, head("200 OK", {"Transfer-Encoding": "chunked"}) + chunked(data, size=77))

    reg.routes["/v2/app/manifests/1"] = manifest
    reg.routes["/v2/app/blobs/*"] = blob
    sys_ctx = sys_for(session, retry_times=0)
    for _ in range(2):  # and the kept-alive connection stays in step after the trailers
        found = head_manifest(docker_ref(reg.host, "app:1"), sys_ctx)
        assert found is not None and found.digest == digest
        src = docker_ref(reg.host, "app:1").new_image_source(sys_ctx)
        assert src.get_manifest()[0] == image.manifest
        for blob_digest, data in image.blobs.items():
            assert pull_blob(src, blob_digest, len(data)) == data


def test_a_chunked_body_cut_mid_chunk_is_a_drop(reg: HostileRegistry, session: RegistrySession) -> None:
    """Cut inside a chunk (the peer closes): the manifest is fetched again, the blob resumed with Range."""
    image = example_image()
    blob = os.urandom(600_000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    cuts = {"manifest": 1, "blob": 2}

    def manifest(h: Handler) -> None:
        body = chunked(image.manifest, size=100)
        hdr = head("200 OK", {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"})
        if cuts["manifest"]:
            cuts["manifest"] -= 1
            raw(h, hdr + body[:150])
            h.close_connection = True
        else:
            raw(h, hdr + body)

    def blob_route(h: Handler) -> None:
        rng = h.headers.get("Range")
        start = int(rng.removeprefix("bytes=").rstrip("-")) if rng else 0
        headers = {"Transfer-Encoding": "chunked"}
        if rng:
            headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
        body = chunked(blob[start:])
        if cuts["blob"]:
            cuts["blob"] -= 1
            raw(h, head("206 Partial Content" if rng else "200 OK", headers) + body[:len(body) // 3])
            h.close_connection = True
            return
        raw(h, head("206 Partial Content" if rng else "200 OK", headers) + body)

    reg.routes["/v2/app/manifests/1"] = manifest
    reg.routes[f"/v2/app/blobs/{digest}"] = blob_route
    src = docker_ref(reg.host, "app:1").new_image_source(sys_for(session))
    assert src.get_manifest()[0] == image.manifest
    assert pull_blob(src, digest, len(blob)) == blob
    ranges = [r[2].get("Range") for r in reg.requests("/blobs/")]
    assert ranges[0] is None and len(ranges) == 3 and all(r and r.startswith("bytes=") for r in ranges[1:])
    assert len(reg.requests("/manifests/")) == 2


# -- 5. 1xx informational answers -----------------------------------------------------------------------


def test_informational_answers_before_the_real_one_are_skipped(reg: HostileRegistry,
                                                               session: RegistrySession) -> None:
    image = example_image()
    digest = manifest_digest(image.manifest)
    infos = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"

    def manifest(h: Handler) -> None:
        raw(h, infos)
        h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(digest)})

    def blob(h: Handler) -> None:
        raw(h, infos)
        h.reply(200, image.blobs[h.path.rsplit("/", 1)[1]])

    reg.routes["/v2/app/manifests/1"] = manifest
    reg.routes["/v2/app/blobs/*"] = blob
    sys_ctx = sys_for(session, retry_times=0)
    for _ in range(2):
        found = head_manifest(docker_ref(reg.host, "app:1"), sys_ctx)
        assert found is not None and found.digest == digest
        src = docker_ref(reg.host, "app:1").new_image_source(sys_ctx)
        assert src.get_manifest()[0] == image.manifest
        for blob_digest, data in image.blobs.items():
            assert pull_blob(src, blob_digest, len(data)) == data


# -- 6. redirects of manifests ----------------------------------------------------------------------------


def basic_auth(reg: HostileRegistry) -> None:
    """``/v2/`` and the repository want Basic credentials (a 401 with a challenge otherwise)."""
    def challenge(h: Handler) -> bool:
        if h.headers.get("Authorization") == BASIC:
            return False
        h.error_json(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": 'Basic realm="r"'})
        return True

    def ping(h: Handler) -> None:
        if not challenge(h):
            h.reply(200, b"{}", {"Content-Type": "application/json"})

    reg.routes["/v2/"] = ping
    reg.challenge = challenge  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["relative", "dotdot", "other-origin"])
def test_a_redirected_manifest_get_and_head(reg: HostileRegistry, session: RegistrySession, where: str) -> None:
    """CDN-fronted registries redirect manifests too: followed for GET and HEAD, the Accept list
    kept (else the target may convert the manifest), credentials only for the registry's origin."""
    other = HostileRegistry()
    try:
        image = example_image()
        digest = manifest_digest(image.manifest)
        basic_auth(reg)
        location = {"relative": "/cdn/m", "dotdot": "../../../cdn/m", "other-origin": f"http://{other.host}/cdn/m"}
        served = other if where == "other-origin" else reg

        def manifest(h: Handler) -> None:
            if not reg.challenge(h):  # type: ignore[attr-defined]
                h.reply(307, b"", {"Location": location[where]})

        def target(h: Handler) -> None:
            if where != "other-origin" and reg.challenge(h):  # type: ignore[attr-defined]
                return
            h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(digest)})

        reg.routes["/v2/app/manifests/1"] = manifest
        served.routes["/cdn/m"] = target
        sys_ctx = sys_for(session, docker_username=USER, docker_password=PASSWORD)
        found = head_manifest(docker_ref(reg.host, "app:1"), sys_ctx)
        assert found is not None and found.digest == digest and found.media_type == OCI_MANIFEST
        assert docker_ref(reg.host, "app:1").new_image_source(sys_ctx).get_manifest()[0] == image.manifest
        at_target = served.requests("/cdn/m")
        assert {r[0] for r in at_target} == {"HEAD", "GET"}
        for _method, _path, headers, _body in at_target:
            assert OCI_MANIFEST in headers.get("Accept", "")
            if where == "other-origin":
                assert "Authorization" not in headers
            else:
                assert headers.get("Authorization") == BASIC
    finally:
        other.stop()


# -- 7. upload locations --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 3 << 20], ids=["monolithic", "streamed"])
@pytest.mark.parametrize("where", ["query", "relative", "other-host"])
def test_upload_locations(reg: HostileRegistry, session: RegistrySession, size: int, where: str) -> None:
    """POST/PATCH answer Locations: resolved against the URL that answered, their query
    (``_state``, percent-encoded) kept when ``digest`` is added, no credentials to another host."""
    other = HostileRegistry()
    try:
        basic_auth(reg)
        data = os.urandom(size)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        post_location = {"query": "/up/1?_state=a%2Bb%3D%3D&n=1",
                         "relative": "../../../../up/1?_state=rel",
                         "other-host": f"http://{other.host}/up/1?_state=far"}[where]

        def post(h: Handler) -> None:
            if not reg.challenge(h):  # type: ignore[attr-defined]
                h.reply(202, b"", {"Location": post_location, "Docker-Upload-UUID": "u"})

        def upload(h: Handler) -> None:
            if h.command == "PATCH":
                h.reply(202, b"", {"Location": "2?_state=next", "Range": f"0-{size - 1}"})  # relative to /up/1
            elif h.command == "PUT":
                h.reply(201, b"", {"Docker-Content-Digest": digest})
            else:
                h.reply(204)

        reg.routes["/v2/app/blobs/uploads/"] = post
        reg.routes[f"/v2/app/blobs/{digest}"] = lambda h: h.error_json(404, "BLOB_UNKNOWN", "no such blob")
        served = other if where == "other-host" else reg
        served.routes["/up/*"] = upload
        dest = docker_ref(reg.host, "app:1").new_image_destination(
            sys_for(session, docker_username=USER, docker_password=PASSWORD))
        try:
            dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.parse(digest), size=size))
        finally:
            dest.close()
        sent = [(m, p, hdrs) for m, p, hdrs, _ in served.requests("/up/")]
        quoted = digest.replace(":", "%3A")
        state = {"query": "_state=a%2Bb%3D%3D&n=1", "relative": "_state=rel", "other-host": "_state=far"}[where]
        if size <= 1 << 20:
            assert [(m, p) for m, p, _ in sent] == [("PUT", f"/up/1?{state}&digest={quoted}")]
        else:
            assert [(m, p) for m, p, _ in sent] == [("PATCH", f"/up/1?{state}"),
                                                    ("PUT", f"/up/2?_state=next&digest={quoted}")]
        for _m, _p, hdrs in sent:
            assert hdrs.get("Authorization") == (None if where == "other-host" else BASIC)
    finally:
        other.stop()


# -- 2. several challenges ---------------------------------------------------------------------------------


@pytest.mark.parametrize("challenges, expect", [
    (['Basic realm="r"', 'Bearer realm="REALM",service="s"'], "basic"),
    (['Bearer realm="REALM",service="s"', 'Basic realm="r"'], "bearer"),
    (['"Bearer" realm="REALM"', 'Basic realm="r"'], "basic"),  # no scheme token: no challenge (as c/image)
    (['Bearer realm=', 'Basic realm="r"'], "error"),  # a bearer challenge without a realm, chosen first
    (['Negotiate abc==', 'Basic realm="r"'], "basic"),  # an unsupported scheme is passed over
    (['Basic realm="r", Bearer realm="REALM",service="s"'], "basic"),  # two in one value: the first
    (['Newauth realm="x", Bearer realm="REALM",service="s"'], "bearer"),  # RFC 7235's list (go-diff: challenge.py)
], ids=["basic-bearer", "bearer-basic", "unparsed-basic", "no-realm-basic", "unsupported-basic", "one-value",
        "one-value-newauth"])
def test_the_first_supported_challenge_is_used(reg: HostileRegistry, session: RegistrySession,
                                               challenges: list[str], expect: str) -> None:
    image = example_image()
    realm = f"http://{reg.host}/token"
    token = "issued-t0ken"

    def guarded(h: Handler, answer: Callable[[], None]) -> None:
        if h.headers.get("Authorization") in (BASIC, f"Bearer {token}"):
            answer()
            return
        h.send_response(401)
        for value in challenges:
            h.send_header("WWW-Authenticate", value.replace("REALM", realm))
        h.send_header("Content-Length", "0")
        h.end_headers()

    reg.routes["/v2/"] = lambda h: guarded(h, lambda: h.reply(200, b"{}"))
    reg.routes["/v2/app/manifests/1"] = lambda h: guarded(
        h, lambda: h.reply(200, image.manifest, {"Content-Type": OCI_MANIFEST}))
    reg.routes["/token"] = lambda h: h.reply(200, b'{"token": "' + token.encode() + b'"}',
                                             {"Content-Type": "application/json"})
    sys_ctx = sys_for(session, docker_username=USER, docker_password=PASSWORD)
    if expect == "error":  # as containers/image: the first challenge it reads is taken, and fails
        with pytest.raises(RegistryAuthError, match="names no token realm"):
            docker_ref(reg.host, "app:1").new_image_source(sys_ctx).get_manifest()
        return
    src = docker_ref(reg.host, "app:1").new_image_source(sys_ctx)
    assert src.get_manifest()[0] == image.manifest
    used = {r[2].get("Authorization", "").split(" ")[0].lower() for r in reg.requests("/manifests/")} - {""}
    assert used == {expect}
    assert bool(reg.requests("/token")) == (expect == "bearer")


def test_an_informational_answer_never_followed_by_one_is_a_clean_error(reg: HostileRegistry,
                                                                        session: RegistrySession) -> None:
    """A 1xx that never ends in a final answer (the peer closes): a NetworkError, not an h11 leak."""
    def only_continue(h: Handler) -> None:
        raw(h, b"HTTP/1.1 100 Continue\r\n\r\n")
        h.close_connection = True

    reg.routes["/v2/app/manifests/1"] = only_continue
    with pytest.raises(NetworkError):
        docker_ref(reg.host, "app:1").new_image_source(sys_for(session, retry_times=0)).get_manifest()
