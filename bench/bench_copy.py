"""Local copy benchmark: time and peak memory of trustcopy vs skopeo on the same work.

Builds (once, cached under bench/.data) a deterministic image with one large layer
(default 300 MB of incompressible data, gzip-wrapped) in an OCI layout, then copies it
oci: → dir: and dir: → oci: with each tool, in the same run, and prints wall time,
peak RSS and the trustcopy/skopeo ratio. The foundation issue's target: peak RSS while
copying a 300 MB layer stays under 100 MB.

    python bench/bench_copy.py [--size-mb 300] [--runs 3]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import run_measured

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}'


def _write_layer(path: Path, size: int, seed: int) -> tuple[str, int, str]:
    """A gzip'd tar holding one file of ``size`` random bytes; returns (digest, size, diff_id)."""
    rng = random.Random(seed)
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)
    blob_hash, diff_hash = hashlib.sha256(), hashlib.sha256()
    written = 0
    with path.open("wb") as out:
        def emit(raw: bytes) -> None:
            nonlocal written
            diff_hash.update(raw)
            comp = gz.compress(raw)
            blob_hash.update(comp)
            out.write(comp)
            written += len(comp)

        info = tarfile.TarInfo("data.bin")
        info.size, info.mtime, info.mode = size, 0, 0o644
        emit(info.tobuf(format=tarfile.PAX_FORMAT))
        left = size
        while left:
            n = min(left, 1 << 22)
            emit(rng.randbytes(n))
            left -= n
        pad = (512 - size % 512) % 512
        emit(b"\0" * pad + b"\0" * 1024)
        tail = gz.flush()
        blob_hash.update(tail)
        out.write(tail)
        written += len(tail)
    return "sha256:" + blob_hash.hexdigest(), written, "sha256:" + diff_hash.hexdigest()


def build_layout(size_mb: int) -> Path:
    """OCI layout with one image ``big`` whose single layer is ``size_mb`` MB."""
    layout = DATA / f"layout-{size_mb}mb"
    if (layout / "index.json").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    tmp = layout / "layer.tmp"
    digest, size, diff_id = _write_layer(tmp, size_mb * 1_000_000, seed=size_mb)
    tmp.rename(blobs / digest.split(":")[1])
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    (blobs / hashlib.sha256(config).hexdigest()).write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}],
    }).encode()
    (blobs / hashlib.sha256(manifest).hexdigest()).write_bytes(manifest)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "big"}}]}))
    return layout


def main() -> int:
    """Build the data, run both tools, print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    layout = build_layout(args.size_mb)
    policy = DATA / "policy.json"
    policy.write_text(POLICY)
    work = DATA / "work"
    trustcopy = [sys.executable, "-m", "trustcopy", "--policy", str(policy), "copy", "-q"]
    tools = {"trustcopy": trustcopy}
    if shutil.which("skopeo"):
        tools["skopeo"] = ["skopeo", "--policy", str(policy), "copy", "-q"]
    scenarios = {
        "oci→dir": (f"oci:{layout}:big", f"dir:{work}/dir"),
        "dir→oci": (f"dir:{work}/dir-src", f"oci:{work}/oci:big"),
    }
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    subprocess.run([*trustcopy, f"oci:{layout}:big", f"dir:{work}/dir-src"], check=True)
    results: dict[tuple[str, str], tuple[float, float]] = {}
    for name, (src, dest) in scenarios.items():
        for tool, base in tools.items():
            best = (float("inf"), 0.0)
            for _ in range(args.runs):
                for p in (work / "dir", work / "oci"):
                    shutil.rmtree(p, ignore_errors=True)
                t, rss = run_measured([*base, src, dest])
                best = (min(best[0], t), max(best[1], rss))
            results[(name, tool)] = best
    print(f"{args.size_mb} MB single layer, best of {args.runs} runs")
    print(f"{'scenario':10} {'tool':10} {'seconds':>8} {'peak RSS MB':>12} {'ratio':>6}")
    for name in scenarios:
        for tool in tools:
            t, rss = results[(name, tool)]
            ratio = ""
            if "skopeo" in tools:
                ratio = f"{t / results[(name, 'skopeo')][0]:.2f}"
            print(f"{name:10} {tool:10} {t:8.2f} {rss:12.1f} {ratio:>6}")
    worst = max(results[(n, "trustcopy")][1] for n in scenarios)
    print(f"trustcopy peak RSS {worst:.1f} MB (target < 100 MB): {'OK' if worst < 100 else 'OVER'}")
    return 0 if worst < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
