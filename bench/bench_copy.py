"""Local copy benchmark: time and peak memory of trustcopy vs skopeo on the same work.

Builds (once, cached under bench/.data) a deterministic image with one large layer
(default 300 MB of incompressible data, gzip-wrapped) in an OCI layout, then copies it
oci: → dir: and dir: → oci: with each tool, in the same run, and prints wall time,
peak RSS and the trustcopy/skopeo ratio. The foundation issue's target: peak RSS while
copying a 300 MB layer stays under 100 MB.

    python bench/bench_copy.py [--size-mb 300] [--runs 3]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import DATA, INSECURE_POLICY, big_layer_args, run_measured


def main() -> int:
    """Build the data, run both tools, print a table."""
    args, layout = big_layer_args(__doc__)
    policy = DATA / "policy.json"
    policy.write_text(INSECURE_POLICY)
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
