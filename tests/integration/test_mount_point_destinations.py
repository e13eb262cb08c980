"""A destination directory that is a mount point: ``docker run -v "$PWD/out:/out" … dir:/out``.

Staging beside such a directory cannot be renamed into it (``EXDEV``) nor over it
(``EBUSY``), and in a container its parent is often read-only. The copies here run in a
private mount namespace (``unshare --mount --map-root-user``, no privileges needed where
user namespaces are allowed) with a tmpfs mounted on the destination and its parent made
read-only, and are checked by skopeo in that namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from imagefactory import Layer, make_image, make_tar, write_oci

SCENARIO = textwrap.dedent("""
    set -e
    mount -t tmpfs tmpfs "$P/dir"
    mount -t tmpfs tmpfs "$P/oci"
    mount -t tmpfs tmpfs "$P/arc"
    : > "$P/arc/out.tar" && : > "$P/arc/elsewhere" && mount --bind "$P/arc/elsewhere" "$P/arc/out.tar"
    mount --rbind "$P" "$P" && mount -o remount,bind,ro "$P"
    run() { "$PY" -m trustcopy --policy "$POLICY" copy -q "$@"; echo "rc=$?"; }
    set +e
    run oci:"$SRC":one dir:"$P/dir"
    skopeo inspect --raw dir:"$P/dir" | head -c 2000; echo
    run oci:"$SRC":two dir:"$P/dir"
    skopeo inspect --raw dir:"$P/dir" | head -c 2000; echo
    run oci:"$SRC":one oci:"$P/oci":first
    run oci:"$SRC":two oci:"$P/oci":second
    skopeo inspect --raw oci:"$P/oci":first | head -c 2000; echo
    skopeo inspect --raw oci:"$P/oci":second | head -c 2000; echo
    ls -A "$P/dir"; echo "--"; ls -A "$P/oci"
    run oci:"$SRC":one docker-archive:"$P/arc/out.tar"
    echo "=="; ls -A "$P/arc"; wc -c < "$P/arc/out.tar"
""")


def test_destinations_on_mount_points_under_a_read_only_parent(tmp_path: Path,
                                                                 insecure_policy: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "--map-root-user", "true"],
                                                         capture_output=True, check=False).returncode != 0:
        pytest.skip("no private mount namespace here (unshare --mount --map-root-user)")
    one = make_image([Layer(make_tar([("one.txt", b"one\n")]))])
    two = make_image([Layer(make_tar([("two.txt", b"two\n")])), Layer(make_tar([("2b.txt", b"2b\n")]))])
    write_oci({"one": one, "two": two}, str(tmp_path / "src"))
    parent = tmp_path / "parent"
    for name in ("dir", "oci", "arc"):
        (parent / name).mkdir(parents=True)
    env = {"P": str(parent), "SRC": str(tmp_path / "src"), "PY": sys.executable, "POLICY": str(insecure_policy),
           "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", SCENARIO], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout.splitlines()
    assert [line for line in out if line.startswith("rc=")] == ["rc=0"] * 4 + ["rc=1"], done.stdout + done.stderr
    manifests = [json.loads(line) for line in out if line.startswith("{")]
    assert manifests == [json.loads(m) for m in (one.manifest, two.manifest, one.manifest, two.manifest)]
    last_json = max(i for i, line in enumerate(out) if line.startswith("{"))
    listing = out[last_json + 1: out.index("--")]  # the dir: image after the second copy
    assert sorted(listing) == sorted(["manifest.json", "version", *(d.partition(":")[2] for d in two.blobs)])
    assert sorted(out[out.index("--") + 1: out.index("rc=1")]) == ["blobs", "index.json", "oci-layout"]
    # A bind-mounted archive file cannot be renamed over: refused, saying why, and nothing written.
    assert "is a mount point (a bind-mounted file?)" in done.stderr
    assert "cannot write" in done.stderr
    assert out[out.index("==") + 1:] == ["elsewhere", "out.tar", "0"]  # no staging file left, the file untouched
