"""Registry benchmark: trustcopy vs skopeo on the same registry work, in the same run.

Starts one local ``docker-registry`` per tool (127.0.0.1, plain HTTP, fresh storage), builds
deterministic synthetic images (cached under bench/.data), and times each scenario with
both tools, printing wall time, peak RSS and the trustcopy/skopeo ratio:

    push      oci: → docker://   an image of 10 layers x 20 MB
    pull      docker:// → dir:    the same image
    mount     docker:// → docker:// a new repository of the same registry (cross-repo mount)
    mount-rtt the same, through a loopback proxy that delays every request by --rtt-ms
              (default 20 ms: a registry across a network, as from a CI runner), after
              an untimed pull through the proxy so that skopeo's blob-info cache knows
              where the blobs are (trustcopy learns that from the source manifest)
    repush    oci: → docker://   the same image again (every blob already there)
    small30   oci: → docker://   30 small images, one process per image
    big-push  oci: → docker://   one 300 MB layer
    big-pull  docker:// → dir:    the same

Targets (issue 5): ratio <= 1.0 for push, pull, mount and the 300 MB layer; peak RSS under
60 MB. repush and small30 are dominated by process start-up; they are reported too.

The table ends with the start-up floor: a Python process that only imports click, httpx
and httpcore (the libraries DESIGN.md builds the CLI and the registry client on), next to
skopeo's whole mount. Where the floor alone is slower than skopeo's whole run, no
trustcopy built on those libraries can reach a ratio of 1.0 for that scenario.

    python bench/bench_registry.py [--runs 3] [--layers 10] [--layer-mb 20] [--big-mb 300]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from registry_fixtures import Fault, FaultProxy, RegistryServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import build_layout, run_measured  # noqa: E402

# What trustcopy's own start-up does before importing these (see trustcopy/transports/docker).
FLOOR = ("import sys, types; sys.modules['httpx._main'] = types.ModuleType('httpx._main'); "
         "import click, httpx, httpcore")


def main() -> int:
    """Build the data, run both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--layer-mb", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--small", type=int, default=30)
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="delay per request for mount-rtt")
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
            delay = Fault(delay=args.rtt_ms / 1000)
            slow = FaultProxy(server.port, lambda m, p, h, delay=delay: delay).start()

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
                # Untimed: skopeo mounts only blobs its blob-info cache has seen under this host name.
                shutil.rmtree(work / "learn", ignore_errors=True)
                run_measured([*base, *flags, f"docker://{slow.host}/push:1", f"dir:{work}/learn"])
                timed("mount-rtt", (f"docker://{slow.host}/push:1", f"docker://{slow.host}/mount-rtt:1"))
                timed("repush", (f"oci:{multi}:img", f"docker://{reg}/push:1"))
                timed("small30", *[(f"oci:{small}:s{i}", f"docker://{reg}/small:{i}") for i in range(args.small)])
                timed("big-push", (f"oci:{big}:img", f"docker://{reg}/big:1"))
                timed("big-pull", (f"docker://{reg}/big:1", f"dir:{work}/bigpull"))
            finally:
                slow.stop()
                server.stop()
                shutil.rmtree(work / f"registry-{tool}-{run}", ignore_errors=True)

    scenarios = ["push", "pull", "mount", "mount-rtt", "repush", "small30", "big-push", "big-pull"]
    print(f"{args.layers} x {args.layer_mb} MB image, {args.big_mb} MB layer, {args.small} small images; "
          f"best of {args.runs} runs")
    print(f"{'scenario':10} {'tool':10} {'seconds':>8} {'peak RSS MB':>12} {'ratio':>6}")
    for name in scenarios:
        for tool in tools:
            t, rss = results[(name, tool)]
            ratio = f"{t / results[(name, 'skopeo')][0]:.2f}" if "skopeo" in tools else ""
            print(f"{name:10} {tool:10} {t:8.2f} {rss:12.1f} {ratio:>6}")
    floor = min(run_measured([sys.executable, "-c", FLOOR])[0] for _ in range(5))
    print(f"start-up floor (python importing click, httpx, httpcore only): {floor:.3f} s"
          + (f"; skopeo's whole mount: {results[('mount', 'skopeo')][0]:.3f} s" if "skopeo" in tools else ""))
    worst = max(results[(n, "trustcopy")][1] for n in scenarios)
    print(f"trustcopy peak RSS {worst:.1f} MB (target < 60 MB): {'OK' if worst < 60 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
