"""Registry benchmark: trustcopy vs skopeo on the same registry work, in the same run.

Starts one local ``docker-registry`` per tool (127.0.0.1, plain HTTP, fresh storage), builds
deterministic synthetic images (cached under bench/.data), and times each scenario with
both tools, printing wall time, peak RSS and the trustcopy/skopeo ratio:

    push      oci: → docker://   an image of 10 layers x 20 MB
    pull      docker:// → dir:    the same image
    mount     docker:// → docker:// a new repository of the same registry (cross-repo mount)
    repush    oci: → docker://   the same image again (every blob already there)
    small30   oci: → docker://   30 small images, one process per image
    big-push  oci: → docker://   one 300 MB layer
    big-pull  docker:// → dir:    the same

Targets (issue 5): ratio <= 1.0 for push, pull, mount and the 300 MB layer; peak RSS under
60 MB. repush and small30 are dominated by process start-up; they are reported too.

    python bench/bench_registry.py [--runs 3] [--layers 10] [--layer-mb 20] [--big-mb 300]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from registry_fixtures import RegistryServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import run_measured  # noqa: E402


def _layer(blobs: Path, size: int, seed: int) -> tuple[dict[str, object], str]:
    """Write a gzip'd tar of ``size`` incompressible bytes; return (descriptor, diff_id)."""
    rng = random.Random(seed)
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)
    blob_hash, diff_hash = hashlib.sha256(), hashlib.sha256()
    tmp = blobs / f".tmp-{seed}"
    written = 0
    with tmp.open("wb") as out:
        def emit(raw: bytes, final: bool = False) -> None:
            nonlocal written
            diff_hash.update(raw)
            comp = gz.compress(raw) + (gz.flush() if final else b"")
            blob_hash.update(comp)
            out.write(comp)
            written += len(comp)

        info = tarfile.TarInfo(f"data-{seed}.bin")
        info.size, info.mtime, info.mode = size, 0, 0o644
        emit(info.tobuf(format=tarfile.PAX_FORMAT))
        left = size
        while left:
            n = min(left, 1 << 22)
            emit(rng.randbytes(n))
            left -= n
        emit(b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024, final=True)
    digest = blob_hash.hexdigest()
    tmp.rename(blobs / digest)
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{digest}",
            "size": written}
    return desc, f"sha256:{diff_hash.hexdigest()}"


def _put(blobs: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(name: str, images: dict[str, list[tuple[int, int]]]) -> Path:
    """An OCI layout with ``images``: ref name → [(layer size, seed)] (cached)."""
    layout = DATA / name
    if (layout / "index.json").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    entries = []
    for ref, layers in images.items():
        descs, diff_ids = zip(*(_layer(blobs, size, seed) for size, seed in layers), strict=True)
        config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_put(blobs, config)},
            "layers": list(descs)}).encode()
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **_put(blobs, manifest),
                        "annotations": {"org.opencontainers.image.ref.name": ref}})
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return layout


def main() -> int:
    """Build the data, run both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--layer-mb", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--small", type=int, default=30)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    # An installed package has its bytecode compiled; a checkout run with
    # PYTHONDONTWRITEBYTECODE would recompile every module in every process.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "trustcopy")], check=True)
    multi = build_layout(f"reg-multi-{args.layers}x{args.layer_mb}",
                         {"img": [(args.layer_mb * 1_000_000, 100 + i) for i in range(args.layers)]})
    big = build_layout(f"reg-big-{args.big_mb}", {"img": [(args.big_mb * 1_000_000, 7)]})
    small = build_layout(f"reg-small-{args.small}", {f"s{i}": [(20_000, 1000 + i)] for i in range(args.small)})
    policy = DATA / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    work = DATA / "reg-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    tools = {"trustcopy": [sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "-q"]}
    if shutil.which("skopeo"):
        tools["skopeo"] = ["skopeo", "--policy", str(policy), "copy", "-q"]
    flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    results: dict[tuple[str, str], tuple[float, float]] = {}
    for run in range(args.runs):
        for tool, base in tools.items():
            # A fresh registry (new port, empty storage) per tool and run: nothing is there
            # yet, and skopeo's persistent blob-info cache cannot mount from an earlier run.
            server = RegistryServer(work / f"registry-{tool}-{run}").start()
            reg = server.host

            def timed(name: str, *pairs: tuple[str, str], base: list[str] = base, tool: str = tool) -> None:
                total, peak = 0.0, 0.0
                for src, dest in pairs:
                    t, rss = run_measured([*base, *flags, src, dest])
                    total, peak = total + t, max(peak, rss)
                best = results.get((name, tool), (float("inf"), 0.0))
                results[(name, tool)] = (min(best[0], total), max(best[1], peak))

            try:
                for p in ("pull", "bigpull"):
                    shutil.rmtree(work / p, ignore_errors=True)
                timed("push", (f"oci:{multi}:img", f"docker://{reg}/push:1"))
                timed("pull", (f"docker://{reg}/push:1", f"dir:{work}/pull"))
                timed("mount", (f"docker://{reg}/push:1", f"docker://{reg}/mount:1"))
                timed("repush", (f"oci:{multi}:img", f"docker://{reg}/push:1"))
                timed("small30", *[(f"oci:{small}:s{i}", f"docker://{reg}/small:{i}") for i in range(args.small)])
                timed("big-push", (f"oci:{big}:img", f"docker://{reg}/big:1"))
                timed("big-pull", (f"docker://{reg}/big:1", f"dir:{work}/bigpull"))
            finally:
                server.stop()
                shutil.rmtree(work / f"registry-{tool}-{run}", ignore_errors=True)

    scenarios = ["push", "pull", "mount", "repush", "small30", "big-push", "big-pull"]
    print(f"{args.layers} x {args.layer_mb} MB image, {args.big_mb} MB layer, {args.small} small images; "
          f"best of {args.runs} runs")
    print(f"{'scenario':10} {'tool':10} {'seconds':>8} {'peak RSS MB':>12} {'ratio':>6}")
    for name in scenarios:
        for tool in tools:
            t, rss = results[(name, tool)]
            ratio = f"{t / results[(name, 'skopeo')][0]:.2f}" if "skopeo" in tools else ""
            print(f"{name:10} {tool:10} {t:8.2f} {rss:12.1f} {ratio:>6}")
    worst = max(results[(n, "trustcopy")][1] for n in scenarios)
    print(f"trustcopy peak RSS {worst:.1f} MB (target < 60 MB): {'OK' if worst < 60 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
