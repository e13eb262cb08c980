"""Fault injection through a loopback proxy in front of a real registry.

Drops mid-blob, 503 bursts, 429 with Retry-After, flipped bytes, stalls, failed pushes.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable

import pytest
from imagefactory import example_image, make_image, random_layer
from registry_fixtures import Fault, FaultProxy, RegistryServer, docker_ref, fast_sys, pull_blob, push_image

from trustcopy.digest import Digest
from trustcopy.errors import DigestMismatchError, ImageNotFoundError, NetworkError, RegistryHTTPError
from trustcopy.types import BlobInfo

pytestmark = pytest.mark.registry


def once(pred: Callable[[str, str, dict[str, str]], bool], fault: Fault, times: int = 1) -> object:
    """A rule applying ``fault`` to the first ``times`` matching requests."""
    left = itertools.count()
    lock = threading.Lock()

    def rule(method: str, path: str, headers: dict[str, str]) -> Fault | None:
        if not pred(method, path, headers):
            return None
        with lock:
            return fault if next(left) < times else None

    return rule


def is_blob_get(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "GET" and "/blobs/sha256:" in p


@pytest.fixture
def big_image(plain_registry: RegistryServer) -> object:
    image = make_image([random_layer(3 << 20, 21)])
    push_image(plain_registry.host, "app:1", image, fast_sys())
    return image


def _layer(image: object) -> tuple[str, bytes]:
    return max(image.blobs.items(), key=lambda kv: len(kv[1]))  # type: ignore[attr-defined]


def test_dropped_blob_download_resumes_with_range(fault_proxy: FaultProxy, big_image: object) -> None:
    fault_proxy.rule = once(is_blob_get, Fault(drop_after=1_000_000))
    digest, data = _layer(big_image)
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys()) as src:
        assert pull_blob(src, digest, len(data)) == data
    ranges = [h.get("Range") for m, p, h in fault_proxy.seen if is_blob_get(m, p, h)]
    assert ranges == [None, "bytes=1000000-"]


def test_repeated_drops_without_progress_give_up(fault_proxy: FaultProxy, big_image: object) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(drop_after=0 if h.get("Range") else 500_000) if is_blob_get(m, p, h) \
        else None
    digest, data = _layer(big_image)
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(retry_times=2)) as src, \
            pytest.raises(NetworkError, match="after 500000 bytes"):
        pull_blob(src, digest, len(data))
    assert fault_proxy.count("GET", "/blobs/sha256:") == 3


def test_flipped_byte_fails_the_blob(fault_proxy: FaultProxy, big_image: object) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(flip_at=12345) if is_blob_get(m, p, h) else None
    digest, data = _layer(big_image)
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(DigestMismatchError, match="digest mismatch"):
        pull_blob(src, digest, len(data))


@pytest.mark.parametrize("what", ["ping", "manifest", "blob", "head", "upload-start", "manifest-put"])
def test_503_burst_is_retried(fault_proxy: FaultProxy, plain_registry: RegistryServer, what: str) -> None:
    preds = {
        "ping": lambda m, p, h: p == "/v2/",
        "manifest": lambda m, p, h: m == "GET" and "/manifests/" in p,
        "blob": is_blob_get,
        "head": lambda m, p, h: m == "HEAD",
        "upload-start": lambda m, p, h: m == "POST",
        "manifest-put": lambda m, p, h: m == "PUT" and "/manifests/" in p,
    }
    fault_proxy.rule = once(preds[what], Fault(status=503), times=2)
    image = example_image()
    if what in ("head", "upload-start", "manifest-put"):
        push_image(fault_proxy.host, "app:1", image, fast_sys())
    else:
        push_image(plain_registry.host, "app:1", image, fast_sys())
        with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys()) as src:
            assert src.get_manifest()[0] == image.manifest
            for digest, data in image.blobs.items():
                assert pull_blob(src, digest, len(data)) == data
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest


def test_429_retry_after_is_honoured(fault_proxy: FaultProxy, plain_registry: RegistryServer) -> None:
    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    fault_proxy.rule = once(lambda m, p, h: "/manifests/" in p, Fault(status=429, headers={"Retry-After": "1"}))
    start = time.monotonic()
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(docker_retry_delay=0.01)) as src:
        src.get_manifest()
    assert time.monotonic() - start >= 0.95


def test_persistent_503_gives_a_readable_error(fault_proxy: FaultProxy) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(status=503) if "/manifests/" in p else None
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(retry_times=2)) as src, \
            pytest.raises(RegistryHTTPError) as info:
        src.get_manifest()
    assert info.value.status == 503 and "injected fault" in str(info.value)
    assert fault_proxy.count("GET", "/manifests/") == 3


def test_stall_times_out_and_resumes(fault_proxy: FaultProxy, big_image: object) -> None:
    fault_proxy.rule = once(is_blob_get, Fault(stall=3.0))
    digest, data = _layer(big_image)
    start = time.monotonic()
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(docker_timeout=0.5)) as src:
        assert pull_blob(src, digest, len(data)) == data
    assert time.monotonic() - start < 3.0
    assert fault_proxy.count("GET", "/blobs/sha256:") == 2


def test_stall_forever_fails_with_a_timeout(fault_proxy: FaultProxy, big_image: object) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(stall=2.0) if "/manifests/" in p else None
    with docker_ref(fault_proxy.host, "app:1").new_image_source(fast_sys(docker_timeout=0.3, retry_times=1)) as src, \
            pytest.raises(NetworkError) as info:
        src.get_manifest()
    assert info.value.code == "network-timeout"


def test_failed_upload_leaves_no_tag(fault_proxy: FaultProxy, plain_registry: RegistryServer) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(status=500) if m == "PATCH" else None
    image = make_image([random_layer(2 << 20, 31)])
    with pytest.raises(RegistryHTTPError):
        push_image(fault_proxy.host, "app:1", image, fast_sys())
    assert not [t for t in threading.enumerate() if t.name == "trustcopy-upload-read-ahead"]
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()


def test_small_upload_is_retried_as_a_whole(fault_proxy: FaultProxy, plain_registry: RegistryServer) -> None:
    fault_proxy.rule = once(lambda m, p, h: m == "PUT" and "/uploads/" in p, Fault(status=503), times=2)
    data = b"small blob" * 100
    with docker_ref(fault_proxy.host, "app:1").new_image_destination(fast_sys()) as dest:
        dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
    assert fault_proxy.count("POST", "/uploads/") == 3


def test_lost_answer_to_the_final_put(fault_proxy: FaultProxy, plain_registry: RegistryServer) -> None:
    # The registry commits the blob, but the client never sees the 201.
    fault_proxy.rule = once(lambda m, p, h: m == "PUT" and "/uploads/" in p, Fault(lose_answer=True))
    data = bytes(range(256)) * 8192  # 2 MiB: a streamed upload
    with docker_ref(fault_proxy.host, "app:1").new_image_destination(fast_sys()) as dest:
        stored = dest.put_blob(io.BytesIO(data), BlobInfo(digest=Digest.from_bytes(data), size=len(data)))
    assert stored.size == len(data)
    assert fault_proxy.count("HEAD", "/blobs/") >= 1


def _push_cli(run_cli, policy: object, tmp_path: object, image: object, dest: str, *flags: str):  # type: ignore[no-untyped-def]
    from imagefactory import write_oci

    write_oci({"t": image}, f"{tmp_path}/src")
    return run_cli("--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", "--retry-delay", "10ms", *flags,
                   f"oci:{tmp_path}/src:t", dest)


@pytest.mark.parametrize("fault", [Fault(status=503), Fault(lose_answer=True)], ids=["503", "connection-lost"])
def test_streamed_upload_failure_copies_the_blob_again(run_cli, fault_proxy: FaultProxy,  # type: ignore[no-untyped-def]
                                                       plain_registry: RegistryServer, tmp_path: object,
                                                       insecure_policy: object, fault: Fault,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A PATCH cannot be replayed by the client; the copy starts that blob again from the source."""
    fault_proxy.rule = once(lambda m, p, h: m == "PATCH", fault)
    image = make_image([random_layer(3 << 20, 41)])
    r = _push_cli(run_cli, insecure_policy, tmp_path, image, f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    again = [rec.getMessage() for rec in caplog.records if rec.name == "trustcopy.copy"]
    assert len(again) == 1 and "again in 0.0s (1/3)" in again[0]
    assert fault_proxy.count("PATCH", "/uploads/") == 2
    digest, data = _layer(image)
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src:
        assert src.get_manifest()[0] == image.manifest  # type: ignore[attr-defined]
        assert pull_blob(src, digest, len(data)) == data


def test_persistent_upload_failure_gives_up_and_leaves_no_tag(run_cli, fault_proxy: FaultProxy,  # type: ignore[no-untyped-def]
                                                              plain_registry: RegistryServer, tmp_path: object,
                                                              insecure_policy: object) -> None:
    fault_proxy.rule = lambda m, p, h: Fault(status=503) if m == "PATCH" else None
    image = make_image([random_layer(3 << 20, 42)])
    r = _push_cli(run_cli, insecure_policy, tmp_path, image, f"docker://{fault_proxy.host}/app:1", "--retry-times", "2")
    assert r.exit_code == 1
    assert "error[" in r.stderr and "injected fault" in r.stderr
    assert fault_proxy.count("PATCH", "/uploads/") == 3  # the first attempt and two more
    assert fault_proxy.count("PUT", "/manifests/") == 0
    with docker_ref(plain_registry.host, "app:1").new_image_source(fast_sys()) as src, \
            pytest.raises(ImageNotFoundError):
        src.get_manifest()


def test_source_failures_are_not_copied_again(run_cli, fault_proxy: FaultProxy, big_image: object,  # type: ignore[no-untyped-def]
                                              tmp_path: object, insecure_policy: object) -> None:
    """The source already retried and resumed; a second round would only multiply the wait."""
    fault_proxy.rule = lambda m, p, h: Fault(drop_after=0 if h.get("Range") else 500_000) if is_blob_get(m, p, h) \
        else None
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--retry-times", "2",
                "--retry-delay", "10ms", f"docker://{fault_proxy.host}/app:1", f"dir:{tmp_path}/out")
    assert r.exit_code == 1 and "after 500000 bytes" in r.stderr
    layer_digest, _ = _layer(big_image)
    assert fault_proxy.count("GET", f"/blobs/{layer_digest}") == 3
    assert not (tmp_path / "out").exists()  # type: ignore[operator]


# -- a manifest body cut short (issue 14) ---------------------------------------------------------


def is_manifest_get(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "GET" and "/manifests/" in p


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_manifest_cut_mid_body_is_fetched_again_and_verified(run_cli, fault_proxy: FaultProxy,  # type: ignore[no-untyped-def]
                                                             plain_registry: RegistryServer, tmp_path,
                                                             insecure_policy, caplog, by: str) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    # The registry declares the whole Content-Length, then closes after 100 bytes, twice.
    fault_proxy.rule = once(is_manifest_get, Fault(drop_after=100), times=2)
    ref = f"docker://{fault_proxy.host}/app:1" if by == "tag" else f"docker://{fault_proxy.host}/app@{image.digest}"
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=2",
                "--retry-delay=0.01s", ref, f"dir:{tmp_path}/out")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == image.manifest
    assert fault_proxy.count("GET", "/manifests/") == 3
    assert caplog.text.count("the answer was cut short") == 2  # logged as a warning, like other retries


def test_manifest_cut_more_often_than_retry_times_fails_naming_it(run_cli, fault_proxy: FaultProxy,  # type: ignore[no-untyped-def]
                                                                  plain_registry: RegistryServer, tmp_path,
                                                                  insecure_policy) -> None:
    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    fault_proxy.rule = lambda m, p, h: Fault(drop_after=100) if is_manifest_get(m, p, h) else None
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=1",
                "--retry-delay=0.01s", f"docker://{fault_proxy.host}/app:1", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    line = [x for x in r.stderr.splitlines() if x.startswith("error[")]
    assert len(line) == 1 and line[0].startswith("error[network]:")
    assert f"manifest 1 in {fault_proxy.host}/app" in line[0]
    assert fault_proxy.count("GET", "/manifests/") == 2
    assert not (tmp_path / "out").exists()


def test_manifest_fetched_again_after_a_cut_is_still_checked_against_the_digest(
        run_cli, fault_proxy: FaultProxy, plain_registry: RegistryServer, tmp_path,  # type: ignore[no-untyped-def]
        insecure_policy) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    answers = iter([Fault(drop_after=100), Fault(flip_at=30)])
    fault_proxy.rule = lambda m, p, h: next(answers, None) if is_manifest_get(m, p, h) else None
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=2",
                "--retry-delay=0.01s", f"docker://{fault_proxy.host}/app@{image.digest}", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    line = [x for x in r.stderr.splitlines() if x.startswith("error[")]
    assert len(line) == 1 and line[0].startswith("error[digest-mismatch]:") and image.digest in line[0]
    assert fault_proxy.count("GET", "/manifests/") == 2
    assert not (tmp_path / "out").exists()
