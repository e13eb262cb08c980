"""``trustcopy sync`` when one image of twenty meets a fault, beside skopeo 1.9.3's sync.

Faults are injected by a FaultProxy in front of a real registry (registry_fixtures.py), or
on the local disk (a full disk: the image's blob file is pointed at ``/dev/full``, which
answers every write with ENOSPC, no root needed). What is asserted each time: the faulty
image alone fails (or is retried and copied), it is named in the summary, the exit status
is 1, the other images are copied in the same session (a fault does not poison it), and
nothing half written is left at the destination: a ``dir:`` destination of a failed image
does not exist, or still is the complete image it was before.

skopeo 1.9.3, for comparison (cmd/skopeo/sync.go): images one at a time in listing order;
without ``--keep-going`` the first error ends the sync (exit 1), with it every image is
tried and the sync exits 1; ``--retry-times`` (default 0) retries a whole image, so a
single 503 fails the image; a failed ``dir:`` image is left as a directory holding only
``version`` (c/image writes into the destination directly).
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Image, Layer, make_image, make_tar, write_dir
from registry_fixtures import Fault, FaultProxy, RegistryServer, fast_sys, push_image, running
from sync_output import outcomes

pytestmark = [pytest.mark.registry]

N = 20
FAULTY = "t06"  # the seventh image
FAST_RETRY = ("--retry-times", "1", "--retry-delay", "1ms")


def image(i: int, salt: str = "") -> Image:
    return make_image([Layer(make_tar([(f"f{i}.txt", f"image {i}{salt}\n".encode() * 40)]))])


@pytest.fixture
def source(plain_registry: RegistryServer) -> Iterator[tuple[RegistryServer, FaultProxy, dict[str, Image]]]:
    """``team/app:t00`` … ``t19`` in a registry, and a (scriptable) FaultProxy in front of it."""
    from trustcopy.transports.docker.session import RegistrySession

    images = {f"t{i:02d}": image(i) for i in range(N)}
    with RegistrySession() as session:
        ctx = fast_sys(registry_session=session)
        for tag, img in images.items():
            push_image(plain_registry.host, f"team/app:{tag}", img, ctx)
    with running(FaultProxy(plain_registry.port)) as proxy:
        yield plain_registry, proxy, images


def sync_cli(run_cli: Any, policy: Path, src: str, dest_kind: str, dest: str, *flags: str) -> Any:
    return run_cli("--policy", str(policy), "sync", "--src", "docker", "--dest", dest_kind, "--src-tls-verify=false",
                   "--dest-tls-verify=false", *flags, src, dest)


def skopeo_sync(policy: Path, src: str, dest_kind: str, dest: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--policy", str(policy), "sync", "--src", "docker", "--dest", dest_kind,
                           "--src-tls-verify=false", "--dest-tls-verify=false", *flags, src, dest],
                          capture_output=True, text=True, timeout=120, check=False)


def complete_images(root: Path) -> set[str]:
    """Image directories below ``root`` that hold a manifest (what a reader would take for an image)."""
    return {p.parent.name for p in root.glob("*/manifest.json")}


def leftovers(root: Path) -> list[str]:
    """Hidden entries (staging) anywhere below ``root``."""
    return [str(p) for p in root.rglob(".*")]


def tag_of(line: str) -> str:
    return line.split(" ", maxsplit=1)[0].rsplit(":", 1)[1]


@pytest.mark.skopeo
def test_one_image_that_keeps_failing_fails_alone_as_in_skopeo_and_nothing_of_it_is_written(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any) -> None:
    _, proxy, _ = source
    proxy.rule = lambda m, p, h: Fault(status=503) if p.endswith(f"/manifests/{FAULTY}") else None
    repo = f"{proxy.host}/team/app"

    # --keep-going: every other image is copied, by both; exit status 1 for both.
    theirs = skopeo_sync(insecure_policy, repo, "dir", str(tmp_path / "skopeo"), "--keep-going")
    ours = sync_cli(run_cli, insecure_policy, repo, "dir", str(tmp_path / "ours"), "--keep-going", *FAST_RETRY)
    assert theirs.returncode == 1 and ours.exit_code == 1, theirs.stderr + ours.stderr
    expected = {f"app:t{i:02d}" for i in range(N)} - {f"app:{FAULTY}"}
    assert complete_images(tmp_path / "skopeo") == complete_images(tmp_path / "ours") == expected
    # skopeo leaves the failed image's directory half made; trustcopy leaves nothing of it.
    assert (tmp_path / "skopeo" / f"app:{FAULTY}").is_dir()
    assert not (tmp_path / "ours" / f"app:{FAULTY}").exists() and leftovers(tmp_path / "ours") == []
    got = outcomes(ours.stdout)
    assert len(got["COPIED"]) == N - 1 and [tag_of(line) for line in got["FAILED"]] == [FAULTY]
    failed_section = ours.stderr.split("failed:\n", 1)[1]
    assert f"team/app:{FAULTY} -> dir:{tmp_path / 'ours'}/app:{FAULTY}: error[registry-http]" in failed_section
    assert "1 failed" in ours.stderr

    # Without it, one at a time: both stop at the faulty image, having copied the same images before it.
    theirs = skopeo_sync(insecure_policy, repo, "dir", str(tmp_path / "skopeo1"))
    ours = sync_cli(run_cli, insecure_policy, repo, "dir", str(tmp_path / "ours1"), "--parallel-images", "1",
                    *FAST_RETRY)
    assert theirs.returncode == 1 and ours.exit_code == 1
    assert complete_images(tmp_path / "ours1") == complete_images(tmp_path / "skopeo1")
    got = outcomes(ours.stdout)
    before = {f"app:{tag_of(line)}" for line in got["COPIED"]}
    assert before == complete_images(tmp_path / "ours1")
    assert len(got["COPIED"]) + len(got.get("NOT ATTEMPTED", [])) == N - 1
    assert not (tmp_path / "ours1" / f"app:{FAULTY}").exists()


def test_a_burst_of_503_on_one_image_is_retried_per_request_in_one_session(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any,
        second_plain_registry: RegistryServer) -> None:
    """skopeo 1.9.3 (``--retry-times`` 0 by default) fails this image; trustcopy retries the request."""
    _, proxy, _ = source
    seen = {"n": 0}
    lock = threading.Lock()

    def burst(method: str, path: str, _h: dict[str, str]) -> Fault | None:
        if method == "GET" and path.endswith(f"/manifests/{FAULTY}"):
            with lock:
                seen["n"] += 1
                return Fault(status=503) if seen["n"] <= 3 else None
        return None

    proxy.rule = burst
    r = sync_cli(run_cli, insecure_policy, f"{proxy.host}/team/app", "docker", f"{second_plain_registry.host}/m",
                 "--retry-times", "3", "--retry-delay", "1ms")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert len(outcomes(r.stdout)["COPIED"]) == N
    assert seen["n"] == 4  # three refusals, then the answer: per request, not per image
    assert proxy.count("GET", f"/manifests/{FAULTY}") == 4
    assert proxy.count("GET", "/v2/") - proxy.count("GET", "/v2/team") == 1  # pinged once, fault or not
    assert "sync of 20 images: 20 copied" in r.stderr


def test_dropped_connections_fail_one_image_and_the_session_serves_the_next(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any,
        second_plain_registry: RegistryServer) -> None:
    """Every read of one layer is cut after 10 bytes: that image fails after its retries; the
    connections cut are not handed to later images (they are all copied, one at a time)."""
    _, proxy, images = source
    layer = next(d for d in images[FAULTY].blobs if d != _config_digest(images[FAULTY]))
    proxy.rule = lambda m, p, h: Fault(drop_after=10) if m == "GET" and p.endswith(f"/blobs/{layer}") else None
    dest = second_plain_registry
    r = sync_cli(run_cli, insecure_policy, f"{proxy.host}/team/app", "docker", f"{dest.host}/m", "--keep-going",
                 "--parallel-images", "1", *FAST_RETRY)
    assert r.exit_code == 1
    got = outcomes(r.stdout)
    assert [tag_of(line) for line in got["FAILED"]] == [FAULTY]
    assert len(got["COPIED"]) == N - 1
    assert f"team/app:{FAULTY}" in r.stderr.split("failed:\n", 1)[1]
    assert _manifest_status(dest, f"m/app/manifests/{FAULTY}") == 404  # nothing visible of the failed image
    assert _manifest_status(dest, "m/app/manifests/t19") == 200


def test_a_tag_gone_between_listing_and_copying_fails_that_image_only(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any) -> None:
    _, proxy, _ = source
    proxy.rule = lambda m, p, h: Fault(status=404) if f"/manifests/{FAULTY}" in p else None
    out = tmp_path / "out"
    r = sync_cli(run_cli, insecure_policy, f"{proxy.host}/team/app", "dir", str(out), "--keep-going")
    assert r.exit_code == 1
    got = outcomes(r.stdout)
    assert len(got["COPIED"]) == N - 1 and len(got["FAILED"]) == 1
    assert f"app:{FAULTY}" in got["FAILED"][0] and "error[image-not-found]" in got["FAILED"][0]
    assert not (out / f"app:{FAULTY}").exists() and leftovers(out) == []


def test_an_image_the_policy_rejects_after_reading_it_leaves_nothing(
        run_cli: Any, tmp_path: Path, source: Any) -> None:
    """A signedBy scope for one tag: judged (manifest read), rejected, reported; the rest copied."""
    import json

    _, proxy, _ = source
    (tmp_path / "key.gpg").write_bytes(b"")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {
        f"{proxy.host}/team/app:{FAULTY}": [{"type": "signedBy", "keyType": "GPGKeys",
                                             "keyPath": str(tmp_path / "key.gpg")}]}}}))
    out = tmp_path / "out"
    r = sync_cli(run_cli, policy, f"{proxy.host}/team/app", "dir", str(out), "--keep-going")
    assert r.exit_code == 1
    got = outcomes(r.stdout)
    assert [tag_of(line) for line in got["REJECTED"]] == [FAULTY] and len(got["COPIED"]) == N - 1
    assert "rejected by policy:\n" in r.stderr and f"app:{FAULTY}" in r.stderr.split("rejected by policy:\n", 1)[1]
    assert proxy.count("GET", f"/manifests/{FAULTY}") >= 1  # judged on what it read, not by name
    assert not (out / f"app:{FAULTY}").exists() and leftovers(out) == []


def _full_disk_for(monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    """Blob files staged for a destination whose name holds ``marker`` write to /dev/full (ENOSPC)."""
    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, path = real(*args, **kwargs)
        if marker in str(kwargs.get("dir", "")):
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)  # trustcopy.transports.localblobs imports it where used


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep-going", "stop"])
def test_a_full_disk_for_one_image_fails_it_and_keeps_the_previous_image(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any, monkeypatch: pytest.MonkeyPatch,
        keep_going: bool) -> None:
    _, proxy, images = source
    out = tmp_path / "out"
    write_dir(image(6, " (an older build)"), str(out / f"app:{FAULTY}"))
    before = {p.name: p.read_bytes() for p in (out / f"app:{FAULTY}").iterdir()}
    _full_disk_for(monkeypatch, f"app:{FAULTY}")
    flags = ["--keep-going"] if keep_going else ["--parallel-images", "1"]
    r = sync_cli(run_cli, insecure_policy, f"{proxy.host}/team/app", "dir", str(out), *flags)
    assert r.exit_code == 1, r.stdout + r.stderr
    got = outcomes(r.stdout)
    assert [tag_of(line) for line in got["FAILED"]] == [FAULTY]
    assert "error[destination-unwritable]" in got["FAILED"][0] and "No space left on device" in got["FAILED"][0]
    assert "1 failed" in r.stderr and f"app:{FAULTY}" in r.stderr.split("failed:\n", 1)[1]
    if keep_going:
        assert len(got["COPIED"]) == N - 1
    # The previous complete image, byte for byte; no staging left anywhere.
    assert {p.name: p.read_bytes() for p in (out / f"app:{FAULTY}").iterdir()} == before
    assert leftovers(out) == []
    copied = {f"app:{tag_of(line)}" for line in got["COPIED"]}
    for name in copied:
        tag = name.split(":")[1]
        assert (out / name / "manifest.json").read_bytes() == images[tag].manifest


def test_an_unwrapped_os_error_fails_its_image_not_the_sync(tmp_path: Path, source: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever local error a transport lets through (EIO reading a file, say) is that image's
    failure, in the report: it never ends the run (and loses the report) under --keep-going."""
    from trustcopy.copy import pipeline
    from trustcopy.copy.options import CopyOptions
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.sync import Outcome, SyncOptions, sync

    _, proxy, _ = source
    real = pipeline.copy_image

    def copy_image(policy: Any, dest: Any, src: Any, options: Any) -> Any:
        if str(src).endswith(f":{FAULTY}"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), "/var/lib/some/file")
        return real(policy, dest, src, options)

    monkeypatch.setattr(pipeline, "copy_image", copy_image)
    ctx = fast_sys()
    options = SyncOptions(source_kind="docker", destination_kind="dir", keep_going=True, parallel_images=4,
                          copy=CopyOptions(source_ctx=ctx, dest_ctx=ctx))
    with PolicyContext(insecure_accept_anything_policy()) as policy:
        report = sync(policy, f"{proxy.host}/team/app", str(tmp_path / "out"), options)
    assert report.exit_status == 1
    failed = [r for r in report.results if r.outcome is Outcome.FAILED]
    assert [r.source.rsplit(":", 1)[1] for r in failed] == [FAULTY]
    assert failed[0].error is not None and failed[0].error.message == "/var/lib/some/file: Input/output error"
    assert report.count(Outcome.COPIED) == N - 1


def test_dir_destination_write_failures_are_transport_errors_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC writing a blob, the manifest or the version file of a ``dir:`` image: a TransportError
    (``destination-unwritable``) naming the file; the target stays as it was (here: absent)."""
    import io

    from trustcopy.digest import Digest
    from trustcopy.errors import TransportError
    from trustcopy.transports import dir as dir_transport
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.types import BlobInfo, SystemContext

    img = image(1)
    target = tmp_path / "img"
    config = next(iter(img.blobs.items()))

    def enospc(*_a: Any, **_k: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with parse_image_name(f"dir:{target}").new_image_destination(SystemContext()) as dest:
        with pytest.raises(TransportError) as caught, monkeypatch.context() as m:
            _full_disk_for(m, ".")
            dest.put_blob(io.BytesIO(config[1]), BlobInfo(digest=Digest.parse(config[0]), size=len(config[1])))
        assert caught.value.code == "destination-unwritable" and "No space left on device" in caught.value.message
        with pytest.raises(TransportError) as caught, monkeypatch.context() as m:
            m.setattr(dir_transport, "write_file_atomic", enospc)
            dest.put_manifest(img.manifest)
        assert caught.value.code == "destination-unwritable" and "manifest.json" in caught.value.message
        dest.put_manifest(img.manifest)
        with pytest.raises(TransportError) as caught, monkeypatch.context() as m:
            m.setattr(dir_transport, "write_file_atomic", enospc)
            dest.commit(img.manifest)
        assert caught.value.code == "destination-unwritable" and "version" in caught.value.message
    assert not target.exists() and leftovers(tmp_path) == []


def _config_digest(img: Image) -> str:
    import json

    return str(json.loads(img.manifest)["config"]["digest"])


def _manifest_status(reg: RegistryServer, path: str) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{reg.url}/v2/{path}", method="HEAD",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.skopeo
def test_dry_run_predicts_a_dir_destination_the_copy_would_refuse(
        run_cli: Any, tmp_path: Path, insecure_policy: Path, source: Any) -> None:
    """skopeo 1.9.3's dry run refuses an existing destination directory; trustcopy's predicts what its
    copy would refuse (a file, a directory that is not an image) and writes nothing either way."""
    _, proxy, _ = source
    for tool in ("skopeo", "ours"):
        (tmp_path / tool / f"app:{FAULTY}").mkdir(parents=True)
        (tmp_path / tool / f"app:{FAULTY}" / "notes.txt").write_text("mine\n")
        (tmp_path / tool / "app:t07").write_text("a file\n")
    repo = f"{proxy.host}/team/app"
    theirs = skopeo_sync(insecure_policy, repo, "dir", str(tmp_path / "skopeo"), "--dry-run")
    ours = sync_cli(run_cli, insecure_policy, repo, "dir", str(tmp_path / "ours"), "--dry-run", "--keep-going")
    assert theirs.returncode == 1 and "Refusing to overwrite destination directory" in theirs.stderr
    assert ours.exit_code == 1, ours.stdout + ours.stderr
    got = outcomes(ours.stdout)
    assert len(got["WOULD COPY"]) == N - 2
    assert sorted((tag_of(line), line.split("error[")[1].split("]")[0]) for line in got["FAILED"]) == [
        (FAULTY, "destination-not-image-dir"), ("t07", "destination-not-a-directory")]
    assert "dry run: sync of 20 images: 18 would copy" in ours.stderr
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == [f"app:{FAULTY}", "app:t07"]
    assert (tmp_path / "ours" / "app:t07").read_text() == "a file\n"
