"""A copy killed in the middle leaves the destination as it was: no partial image, ever.

The kill must provably land mid-copy, so the source is held, not raced: the image comes
from a real registry through a ScriptedProxy that sends the first MiB of the big layer and
then waits. When the proxy says it is holding, the copy process is alive, has opened its
destination (the staging directory exists, which the test asserts) and cannot finish
(the rest of a blob it needs has not been sent). Only then does the signal go out.

- SIGKILL: nothing can clean up; a hidden ``.trustcopy-staging-*`` may stay behind, but
  the destination path is absent (or, for an existing layout, byte-identical). The next
  copy to that destination removes it, and never the staging of a copy still running.
- SIGTERM: the copy stops, removes its staging, and exits 143 while the source stays
  stalled: a blob worker blocked in that read is not waited for (its read would only time
  out after 60 s), so the process must end well within the 30 s the test allows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, random_layer, write_oci
from registry_fixtures import RegistryServer, fast_sys, push_image, running
from scripted_proxy import Hold, ScriptedProxy

from trustcopy.fsutil import STAGING_PREFIX

pytestmark = pytest.mark.registry

#: Where the copy goes, and what was there before.
DESTS = ["dir", "oci-new", "oci-existing"]
HELD_AFTER = 1 << 20


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _staging(parent: Path) -> list[str]:
    return sorted(p for p in os.listdir(parent) if p.startswith(STAGING_PREFIX))


def _push_big_image(registry: RegistryServer) -> str:
    """Push an image with a 6 MB layer; return that layer's digest."""
    image = make_image([random_layer(6_000_000, 11), Layer(make_tar([("small", b"s")]))])
    push_image(registry.host, "app:1", image, fast_sys())
    big = max(image.blobs, key=lambda d: len(image.blobs[d]))
    assert len(image.blobs[big]) > 4 * HELD_AFTER
    return big


def _destination(out: Path, kind: str) -> tuple[str, Path, dict[str, bytes] | None]:
    """(transport:path, the path, its files before the copy or None if it did not exist)."""
    if kind == "dir":
        return f"dir:{out}/image", out / "image", None
    if kind == "oci-new":
        return f"oci:{out}/layout:x", out / "layout", None
    write_oci({"other": make_image([Layer(make_tar([("o", b"o")]))])}, str(out / "layout"))
    return f"oci:{out}/layout:x", out / "layout", _tree(out / "layout")


def _start_copy(proxy: ScriptedProxy, policy: Path, dest: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "-q", "--src-tls-verify=false",
         f"docker://{proxy.host}/app:1", dest],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _kill_mid_blob(registry: RegistryServer, tmp_path: Path, policy: Path, kind: str,
                   sig: signal.Signals) -> tuple[int, str, Path, Path, dict[str, bytes] | None, list[str]]:
    """Copy, wait until the big layer is held mid-body, send ``sig``, release, wait.

    Returns (exit status, stderr, output parent, destination path, its files before,
    staging directories present when the signal was sent).
    """
    big = _push_big_image(registry)
    out = tmp_path / "out"
    out.mkdir()
    dest, path, before = _destination(out, kind)
    hold = Hold(lambda method, p: method == "GET" and p.endswith(f"/blobs/{big}"), after=HELD_AFTER)
    with running(ScriptedProxy(registry.port, hold=hold)) as proxy:
        proc = _start_copy(proxy, policy, dest)
        try:
            assert hold.reached.wait(60), "the copy never started downloading the big layer"
            assert proc.poll() is None, "the copy ended while a blob it needs was held"
            staging = _staging(out)
            assert staging, "the copy is mid-blob but has no staging directory"
            assert not (kind != "oci-existing" and path.exists()), "the destination appeared before commit"
            # Let the worker drain the bytes already sent, so that it is blocked in a read of
            # the stalled body (not between reads, where it would see the cancellation anyway).
            time.sleep(0.5)
            proc.send_signal(sig)
            # The source stays stalled (see the module docstring): the copy must stop anyway.
            _, err = proc.communicate(timeout=30)
        finally:
            hold.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    return proc.returncode, err.decode(errors="replace"), out, path, before, staging


def _assert_untouched(path: Path, before: dict[str, bytes] | None) -> None:
    if before is None:
        assert not path.exists()
    else:
        assert _tree(path) == before


@pytest.mark.parametrize("kind", DESTS)
def test_sigkill_mid_blob_leaves_no_partial_destination(plain_registry: RegistryServer, tmp_path: Path,
                                                        insecure_policy: Path, kind: str) -> None:
    rc, _, out, path, before, staging = _kill_mid_blob(plain_registry, tmp_path, insecure_policy, kind,
                                                       signal.SIGKILL)
    assert rc == -signal.SIGKILL
    _assert_untouched(path, before)
    # Only the staging directories that existed at the kill (hidden, never an image) may remain.
    leftovers = sorted(set(os.listdir(out)) - ({path.name} if before is not None else set()))
    assert leftovers == staging


@pytest.mark.parametrize("kind", DESTS)
def test_sigterm_mid_blob_cleans_up_staging(plain_registry: RegistryServer, tmp_path: Path,
                                            insecure_policy: Path, kind: str) -> None:
    rc, err, out, path, before, _ = _kill_mid_blob(plain_registry, tmp_path, insecure_policy, kind,
                                                   signal.SIGTERM)
    assert rc == 143, err
    assert "terminated" in err
    _assert_untouched(path, before)
    assert sorted(os.listdir(out)) == ([path.name] if before is not None else [])


@pytest.mark.parametrize("kind", DESTS)
def test_the_next_copy_removes_what_sigkill_left(plain_registry: RegistryServer, tmp_path: Path,
                                                 insecure_policy: Path, kind: str) -> None:
    """A copy killed mid-blob, then run again: the destination is whole and its parent holds nothing else."""
    _, _, out, path, _, staging = _kill_mid_blob(plain_registry, tmp_path, insecure_policy, kind,
                                                      signal.SIGKILL)
    assert set(staging) <= set(os.listdir(out))
    dest = f"dir:{out}/image" if kind == "dir" else f"oci:{out}/layout:x"  # (as _destination names them)
    done = subprocess.run(
        [sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "--debug", "copy", "-q",
         "--src-tls-verify=false", f"docker://{plain_registry.host}/app:1", dest],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == [path.name]
    for name in staging:
        assert f"removed {out / name}, left beside" in done.stderr


def test_a_copy_running_beside_keeps_its_staging(plain_registry: RegistryServer, tmp_path: Path,
                                                 insecure_policy: Path) -> None:
    """Two copies to one dir: destination: the second one's start must not take the first one's staging."""
    big = _push_big_image(plain_registry)
    push_image(plain_registry.host, "small:1", make_image([Layer(make_tar([("s", b"small")]))]), fast_sys())
    out = tmp_path / "out"
    out.mkdir()
    dest = f"dir:{out}/image"
    hold = Hold(lambda method, p: method == "GET" and p.endswith(f"/blobs/{big}"), after=HELD_AFTER)
    with running(ScriptedProxy(plain_registry.port, hold=hold)) as proxy:
        first = _start_copy(proxy, insecure_policy, dest)
        try:
            assert hold.reached.wait(60), "the first copy never started downloading the big layer"
            held = _staging(out)
            assert len(held) == 1
            second = subprocess.run(
                [sys.executable, "-m", "trustcopy", "--policy", str(insecure_policy), "copy", "-q",
                 "--src-tls-verify=false", f"docker://{plain_registry.host}/small:1", dest],
                capture_output=True, text=True, timeout=120, check=False)
            assert second.returncode == 0, second.stderr
            assert _staging(out) == held, "the second copy removed the first one's staging"
        finally:
            hold.release.set()
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err.decode(errors="replace")
    assert sorted(os.listdir(out)) == ["image"]
    # The first copy committed last: its image, with the whole big layer (digest-checked on the way).
    assert str(big) in (out / "image" / "manifest.json").read_text()
    assert (out / "image" / str(big).partition(":")[2]).stat().st_size > 4 * HELD_AFTER
