"""Sync benchmark: ``trustcopy sync`` next to 30 ``skopeo copy`` runs and to ``skopeo sync``, same source.

One local ``docker-registry`` holds the source: N repositories (default 30) of one small
image each (a 20 kB layer, cached under bench/.data). A sync YAML names them. Every
timed run copies into a fresh, empty destination registry (new port and storage), so
every tool copies every image; the tools take turns run after run and the table shows
the MEDIAN wall time (issue 13's targets) and CPU time (user + system), and the load average:

    copies    30 x ``skopeo copy docker://SRC/rNN:1 docker://DEST/mirror/rNN:1``, one process each
    skopeo    ``skopeo sync --src yaml --dest docker mirror.yaml DEST/mirror``
    trustcopy ``trustcopy sync --src yaml --dest docker mirror.yaml DEST/mirror`` (default --parallel-images)
              target: at most 0.3 of ``copies`` and at most 0.5 of ``skopeo``
    again     each sync a second time onto its own destination: nothing to copy (trustcopy: one
              HEAD per side per image; skopeo copies again, reusing the blobs), for information

With ``--rtt-ms N`` every request to either registry goes through a loopback proxy that
delays it by N ms (a registry across a network, as from a CI runner): what a mirror
meets in practice, where copying images concurrently pays most.

    python bench/bench_sync.py [--runs 5] [--images 30] [--parallel-images 4] [--rtt-ms 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from registry_fixtures import Fault, FaultProxy, RegistryServer  # noqa: E402

sys.path.insert(0, str(HERE))
from benchutil import build_layout, installed_trustcopy, run_timed  # noqa: E402

TARGETS = {"copies": 0.3, "skopeo": 0.5}


def main() -> int:
    """Build the source, run the three ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--parallel-images", type=int, default=None,
                        help="passed to trustcopy sync (default: its own default)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="delay every registry request by this much")
    args = parser.parse_args()
    if not shutil.which("skopeo"):
        raise SystemExit("skopeo is needed for this benchmark")
    DATA.mkdir(exist_ok=True)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    n = args.images
    layout = build_layout(f"sync-small-{n}", {f"r{i:02d}": [(20_000, 2000 + i)] for i in range(n)})
    policy = DATA / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    work = DATA / "sync-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    trustcopy = installed_trustcopy()
    extra = ["--parallel-images", str(args.parallel_images)] if args.parallel_images else []
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}

    delay = Fault(delay=args.rtt_ms / 1000) if args.rtt_ms > 0 else None

    def reachable(server: RegistryServer) -> tuple[str, FaultProxy | None]:
        """The host to name: the registry's, or a delaying proxy's in front of it."""
        if delay is None:
            return server.host, None
        proxy = FaultProxy(server.port, lambda m, p, h: delay).start()
        return proxy.host, proxy

    source = RegistryServer(work / "source").start()
    source_host, source_proxy = reachable(source)
    try:
        for i in range(n):  # untimed: fill the source
            run_timed([*trustcopy, "--policy", str(policy), "copy", "-q", "--dest-tls-verify=false",
                          f"oci:{layout}:r{i:02d}", f"docker://{source.host}/team/r{i:02d}:1"])
        yaml = work / "mirror.yaml"
        yaml.write_text(f"{source_host}:\n  tls-verify: false\n  images:\n"
                        + "".join(f"    team/r{i:02d}: ['1']\n" for i in range(n)))

        def record(name: str, seconds: float, cpu: float, rss: float) -> None:
            times.setdefault(name, []).append(seconds)
            cpus.setdefault(name, []).append(cpu)
            peaks[name] = max(peaks.get(name, 0.0), rss)

        for run in range(args.runs):
            for name in ("copies", "skopeo", "trustcopy"):
                dest = RegistryServer(work / f"dest-{name}-{run}").start()
                dest_host, dest_proxy = reachable(dest)
                try:
                    if name == "copies":
                        total, cpu, peak = 0.0, 0.0, 0.0
                        for i in range(n):
                            t, c, rss = run_timed(["skopeo", "--policy", str(policy), "copy", "-q",
                                                   "--src-tls-verify=false", "--dest-tls-verify=false",
                                                   f"docker://{source_host}/team/r{i:02d}:1",
                                                   f"docker://{dest_host}/mirror/r{i:02d}:1"])
                            total, cpu, peak = total + t, cpu + c, max(peak, rss)
                        record(name, total, cpu, peak)
                        continue
                    tool = ["skopeo"] if name == "skopeo" else [*trustcopy]
                    cmd = [*tool, "--policy", str(policy), "sync", "--src", "yaml", "--dest", "docker",
                           "--dest-tls-verify=false", *(extra if name == "trustcopy" else []), str(yaml),
                           f"{dest_host}/mirror"]
                    record(name, *run_timed(cmd))
                    record(f"{name} again", *run_timed(cmd))
                finally:
                    if dest_proxy is not None:
                        dest_proxy.stop()
                    dest.stop()
                    shutil.rmtree(work / f"dest-{name}-{run}", ignore_errors=True)
    finally:
        if source_proxy is not None:
            source_proxy.stop()
        source.stop()
        shutil.rmtree(work, ignore_errors=True)

    rtt = f", every request delayed {args.rtt_ms:g} ms" if args.rtt_ms else ""
    print(f"{n} small images (20 kB layer each), registry to registry on loopback{rtt}; "
          f"median of {args.runs} interleaved runs; load average {load_before} before, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after")
    print(f"{'way':18} {'seconds':>8} {'min':>7} {'max':>7} {'cpu s':>7} {'peak MB':>8}")
    for name in ("copies", "skopeo", "trustcopy", "skopeo again", "trustcopy again"):
        samples = times[name]
        print(f"{name:18} {statistics.median(samples):8.3f} {min(samples):7.3f} {max(samples):7.3f} "
              f"{statistics.median(cpus[name]):7.3f} {peaks[name]:8.1f}")
    ours, ours_cpu = statistics.median(times["trustcopy"]), statistics.median(cpus["trustcopy"])
    for other, target in TARGETS.items():
        ratio = ours / statistics.median(times[other])
        cpu_ratio = ours_cpu / statistics.median(cpus[other])
        print(f"trustcopy sync / {other:7}: {ratio:.2f} (target <= {target}) {'OK' if ratio <= target else 'OVER'}; "
              f"CPU {cpu_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
