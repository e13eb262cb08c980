"""Long-run resources of ``sync``: memory, descriptors, threads and connections over many images.

One local ``docker-registry`` holds N small images (default 200: one repository, one tag each
``t000`` …, one 2 kB layer each, built with examples/imagefactory.py). Four syncs run in this
process through the library, each into a fresh destination:

    reg->dir    --src docker REGISTRY/bench/many  --dest dir    DIR
    reg->reg    --src docker REGISTRY/bench/many  --dest docker REGISTRY2/mirror
    yaml->reg   --src yaml (N repositories)       --dest docker REGISTRY2/yaml
    dir->reg    --src dir DIR (reg->dir's output) --dest docker REGISTRY2/fromdir

For each, the table shows RSS, open descriptors, threads and TCP connections of this process
after the 20th image finished and after the last, and what is left once sync() returned. A
leak per image shows as growth from the 20th to the Nth image (connections and threads must
not grow at all: one session, one pool per registry, one thread pool per run); after
``sync()`` returns, descriptors and threads are back to what they were before it.

    python bench/bench_sync_rss.py [--images 200] [--parallel-images 8]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE.parent / "examples"))
from imagefactory import Layer, make_image, make_tar  # noqa: E402
from registry_fixtures import RegistryServer, fast_sys, push_image  # noqa: E402


def sample() -> dict[str, float]:
    """This process now: RSS and its peak (MB), descriptors, threads, TCP connections."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    fds = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                sockets += 1
        except OSError:
            pass
    return {"rss": int(status["VmRSS"].split()[0]) / 1024, "hwm": int(status["VmHWM"].split()[0]) / 1024,
            "fds": len(fds), "threads": threading.active_count(), "sockets": sockets}


def run_one(name: str, source: str, destination: str, kinds: tuple[str, str], n: int, parallel: int) -> list[Any]:
    """One sync; return the row of the table."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.sync import SyncOptions, sync

    gc.collect()
    before = sample()
    marks: dict[str, dict[str, float]] = {}
    done = 0

    def on_result(_result: Any) -> None:
        nonlocal done
        done += 1
        if done in (20, n):  # while the run is still going: its session and threads are open
            gc.collect()
            marks["20" if done == 20 else "end"] = sample()

    ctx = fast_sys()
    options = SyncOptions(source_kind=kinds[0], destination_kind=kinds[1], parallel_images=parallel,
                          keep_going=True, copy=CopyOptions(source_ctx=ctx, dest_ctx=ctx), on_result=on_result)
    start = time.perf_counter()
    with PolicyContext(insecure_accept_anything_policy()) as policy:
        report = sync(policy, source, destination, options)
    elapsed = time.perf_counter() - start
    gc.collect()
    after = sample()
    if not report.ok or len(report.results) != n:
        raise SystemExit(f"{name}: {report.summary()}")
    a, b = marks["20"], marks["end"]
    per_image = (b["rss"] - a["rss"]) * 1024 / max(1, n - 20)
    return [name, f"{elapsed:.1f}", f"{a['rss']:.0f}/{b['rss']:.0f}", f"{per_image:+.1f}", f"{b['hwm']:.0f}",
            f"{a['fds']:.0f}/{b['fds']:.0f}", f"{a['threads']:.0f}/{b['threads']:.0f}",
            f"{a['sockets']:.0f}/{b['sockets']:.0f}",
            f"{after['fds'] - before['fds']:+.0f}/{after['threads'] - before['threads']:+.0f}"]


def main() -> int:
    """Build the source, run the four syncs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--parallel-images", type=int, default=8)
    args = parser.parse_args()
    n = args.images
    from trustcopy.transports.docker.session import RegistrySession

    work = Path(tempfile.mkdtemp(prefix="bench-sync-rss-"))
    source = RegistryServer(work / "source").start()
    dest = RegistryServer(work / "dest").start()
    try:
        with RegistrySession() as session:
            ctx = fast_sys(registry_session=session)
            for i in range(n):
                image = make_image([Layer(make_tar([(f"f{i}.txt", os.urandom(1500).hex().encode())]))])
                push_image(source.host, f"bench/many:t{i:03d}", image, ctx)
                push_image(source.host, f"bench/r{i:03d}:1", image, ctx)
        yaml = work / "mirror.yaml"
        yaml.write_text(f"{source.host}:\n  tls-verify: false\n  images:\n"
                        + "".join(f"    bench/r{i:03d}: ['1']\n" for i in range(n)))
        rows = [["sync", "s", "RSS MB @20/@N", "KB/img", "peak MB", "fds @20/@N", "threads", "sockets",
                 "left fds/thr"]]
        rows.append(run_one("reg->dir", f"{source.host}/bench/many", str(work / "out"), ("docker", "dir"), n,
                            args.parallel_images))
        rows.append(run_one("reg->reg", f"{source.host}/bench/many", f"{dest.host}/mirror", ("docker", "docker"),
                            n, args.parallel_images))
        rows.append(run_one("yaml->reg", str(yaml), f"{dest.host}/yaml", ("yaml", "docker"), n,
                            args.parallel_images))
        rows.append(run_one("dir->reg", str(work / "out"), f"{dest.host}/fromdir", ("dir", "docker"), n,
                            args.parallel_images))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
        print(json.dumps({"images": n, "parallel_images": args.parallel_images}))
    finally:
        source.stop()
        dest.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
