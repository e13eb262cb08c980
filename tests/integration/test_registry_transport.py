"""The docker:// source and destination against a real Distribution registry."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, random_layer
from registry_fixtures import FaultProxy, RegistryServer, docker_ref, fast_sys, pull_blob, push_image

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, ManifestError
from trustcopy.transports.docker.session import RegistrySession
from trustcopy.types import BlobInfo

pytestmark = pytest.mark.registry


def test_push_then_pull_round_trip(plain_registry: RegistryServer) -> None:
    image = make_image([random_layer(3 << 20, 1), Layer(make_tar([("a", b"small")]))])
    push_image(plain_registry.host, "team/app:1.0", image, fast_sys(docker_upload_chunk_size=1 << 20))
    with docker_ref(plain_registry.host, "team/app:1.0").new_image_source(fast_sys()) as src:
        raw, mime = src.get_manifest()
        assert raw == image.manifest
        assert mime == "application/vnd.oci.image.manifest.v1+json"
        for digest, data in image.blobs.items():
            assert pull_blob(src, digest, len(data)) == data


def test_manifest_by_digest_is_verified(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    with docker_ref(plain_registry.host, f"app@{image.digest}").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest
        assert src.get_manifest(Digest.parse(image.digest))[0] == image.manifest


def test_manifest_with_flipped_byte_is_refused(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    from registry_fixtures import Fault, running

    rule = lambda m, p, h: Fault(flip_at=10) if "/manifests/" in p and m == "GET" else None  # noqa: E731
    with running(FaultProxy(plain_registry.port, rule)) as proxy, \
            docker_ref(proxy.host, f"app@{image.digest}").new_image_source(fast_sys()) as src, \
            pytest.raises(DigestMismatchError):
        src.get_manifest()


def test_missing_image_and_blob(plain_registry: RegistryServer) -> None:
    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    with docker_ref(plain_registry.host, "app:nope").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError, match="manifest unknown"):
        src.get_manifest()
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        pull_blob(src, "sha256:" + "0" * 64)


def test_existing_blobs_are_skipped_with_head(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    with docker_ref(plain_registry.host, "app:2").new_image_destination(fast_sys()) as dest:
        for digest, data in image.blobs.items():
            reused = dest.try_reusing_blob(BlobInfo(digest=Digest.parse(digest), size=len(data)))
            assert reused is not None and reused.size == len(data)


def test_chunked_upload_of_unknown_size(plain_registry: RegistryServer) -> None:
    data = bytes(range(256)) * 5000
    with docker_ref(plain_registry.host, "app:new").new_image_destination(
            fast_sys(docker_upload_chunk_size=100_000)) as dest:
        stored = dest.put_new_blob(io.BytesIO(data))
    assert stored.digest == Digest.from_bytes(data) and stored.size == len(data)
    with docker_ref(plain_registry.host, "app:new").new_image_source(fast_sys()) as src:
        assert pull_blob(src, str(stored.digest)) == data


def test_put_blob_with_wrong_digest_never_commits(plain_registry: RegistryServer) -> None:
    data = b"x" * (2 << 20)
    wrong = Digest.from_bytes(b"something else")
    with docker_ref(plain_registry.host, "app:1").new_image_destination(fast_sys()) as dest:
        with pytest.raises(DigestMismatchError):
            dest.put_blob(io.BytesIO(data), BlobInfo(digest=wrong, size=len(data)))
        with pytest.raises(DigestMismatchError):
            dest.put_blob(io.BytesIO(b"tiny"), BlobInfo(digest=wrong, size=4))
        assert dest.try_reusing_blob(BlobInfo(digest=wrong)) is None


def test_manifest_naming_a_missing_blob_is_never_pushed(plain_registry: RegistryServer) -> None:
    image = make_image([Layer(make_tar([("never", b"uploaded")]))])
    with docker_ref(plain_registry.host, "app:partial").new_image_destination(fast_sys()) as dest:
        config = json.loads(image.manifest)["config"]["digest"]
        dest.put_blob(io.BytesIO(image.blobs[config]), BlobInfo(digest=Digest.parse(config),
                                                                 size=len(image.blobs[config])))
        with pytest.raises(ManifestError, match="not in the repository"):
            dest.put_manifest(image.manifest)
    with docker_ref(plain_registry.host, "app:partial").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()


def test_cross_repository_mount(plain_registry: RegistryServer) -> None:
    image = make_image([random_layer(2 << 20, 7)])
    push_image(plain_registry.host, "source/app:1", image, fast_sys())
    from registry_fixtures import running

    with running(FaultProxy(plain_registry.port)) as proxy, RegistrySession() as session:
        shared = fast_sys(registry_session=session)
        with docker_ref(proxy.host, "source/app:1").new_image_source(shared) as src:
            src.get_manifest()  # records where the blobs are, in the session
            push_image(proxy.host, "dest/app:1", image, shared)
        mounts = [p for m, p, _ in proxy.seen if m == "POST" and "mount=" in p]
        assert len(mounts) == len(image.blobs)
        assert proxy.count("PATCH", "/uploads/") == 0 and proxy.count("PUT", "/uploads/") == 0
    with docker_ref(plain_registry.host, "dest/app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


def test_declined_mount_falls_back_to_upload(plain_registry: RegistryServer) -> None:
    """A recorded location that is wrong costs one declined mount, then the usual path."""
    image = make_image([random_layer(2 << 20, 8)])
    from registry_fixtures import running

    with running(FaultProxy(plain_registry.port)) as proxy, RegistrySession() as session:
        for digest in image.blobs:
            session.locations.record(proxy.host, "nowhere/app", digest)
        push_image(proxy.host, "dest/app:1", image, fast_sys(registry_session=session))
        assert sum(1 for m, p, _ in proxy.seen if m == "POST" and "mount=" in p) == len(image.blobs)
        # Each session the registry opened instead of mounting is cancelled, not left behind.
        assert proxy.count("DELETE", "/blobs/uploads/") == len(image.blobs)
        assert proxy.count("HEAD", "/v2/dest/app/blobs/") == len(image.blobs)
    with docker_ref(plain_registry.host, "dest/app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest
        for digest, data in image.blobs.items():
            assert pull_blob(src, digest, len(data)) == data


def test_mount_of_a_blob_without_size_learns_it(plain_registry: RegistryServer) -> None:
    """Schema1 sources name no sizes: a mounted blob's size comes from the registry."""
    image = make_image([random_layer(1 << 20, 12)])
    push_image(plain_registry.host, "source/app:1", image, fast_sys())
    digest, data = next((d, b) for d, b in image.blobs.items() if len(b) > 4096)
    session = RegistrySession()
    session.locations.record(plain_registry.host, "source/app", digest)
    with session, docker_ref(plain_registry.host, "other/app:1").new_image_destination(
            fast_sys(registry_session=session)) as dest:
        reused = dest.try_reusing_blob(BlobInfo(digest=Digest.parse(digest), size=-1))
    assert reused is not None and reused.size == len(data)


def test_push_by_digest_and_instance(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, f"app@{image.digest}", image, fast_sys())
    with docker_ref(plain_registry.host, f"app@{image.digest}").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest
    other = make_image([Layer(make_tar([("o", b"other")]))])
    with docker_ref(plain_registry.host, f"app@{image.digest}").new_image_destination(fast_sys()) as dest, \
            pytest.raises(ManifestError):
        dest.put_manifest(other.manifest)


def test_blob_size_lie_detected_before_download(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    digest, data = next(iter(image.blobs.items()))
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(DigestMismatchError, match="the manifest says"):
        src.get_blob(BlobInfo(digest=Digest.parse(digest), size=len(data) + 1))


def test_digest_of_pulled_layers(plain_registry: RegistryServer) -> None:
    layer = random_layer(1 << 20, 3)
    image = make_image([layer])
    push_image(plain_registry.host, "app:1", image, fast_sys())
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        blob = pull_blob(src, f"sha256:{hashlib.sha256(layer.blob).hexdigest()}")
    assert blob == layer.blob


@pytest.mark.parametrize(("chunk", "patches"), [(None, 1), (1 << 20, 3)])
def test_streamed_upload_patches(plain_registry: RegistryServer, chunk: int | None, patches: int) -> None:
    """One PATCH per blob by default (as containers/image); chunks only when configured."""
    from registry_fixtures import running

    data = random_layer((2 << 20) + 12345, 77).blob
    with running(FaultProxy(plain_registry.port)) as proxy:
        with docker_ref(proxy.host, "app:1").new_image_destination(fast_sys(docker_upload_chunk_size=chunk)) as dest:
            dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
        sent = [h for m, p, h in proxy.seen if m == "PATCH"]
    assert len(sent) == patches
    assert sum(int(h["Content-Length"]) for h in sent) == len(data)
    assert sent[-1]["Content-Range"].endswith(f"-{len(data) - 1}")
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert pull_blob(src, str(Digest.from_bytes(data)), len(data)) == data
