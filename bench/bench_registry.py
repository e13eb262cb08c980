"""Registry benchmark: trustcopy vs skopeo on the same registry work, in the same run.

Starts one local ``docker-registry`` per tool and run (127.0.0.1, plain HTTP, fresh
storage), builds deterministic synthetic images (cached under bench/.data), and times each
scenario with both tools, the tools taking turns run after run (A B A B …). It prints the
MEDIAN wall time over the runs, the median CPU time (user + system of the process: on a
shared machine other work stretches wall time far more than CPU time), the largest peak
RSS, both trustcopy/skopeo ratios (of the medians; "paired" is the median of run-by-run
ratios, steadier when the machine's speed drifts), the load average before and after, and the
target of issue 14 (judged on the ratio of medians):

    version   trustcopy --version / skopeo --version      (target: at most 30 ms wall)
    push      oci: → docker://   an image of 10 layers x 20 MB       (ratio at most 0.8)
    pull      docker:// → dir:    the same image                    (ratio at most 0.6)
    mount     docker:// → docker:// a new repository of the same registry: cross-repo
              mount                                               (ratio at most 1.5)
    mount-rtt the same, through a loopback proxy that delays every request by --rtt-ms
              (default 20 ms: a registry across a network, as from a CI runner), after
              an untimed pull through the proxy so that skopeo's blob-info cache knows
              where the blobs are (trustcopy learns that from the source manifest)
    repush    oci: → docker://   the same image again (every blob already there) (2.0):
              trustcopy asks the tag's digest (one HEAD) and writes nothing; skopeo
              checks every blob and puts the manifest again
    repush-all the same with trustcopy --no-skip-identical: the same requests as skopeo
    small30   oci: → docker://   30 small images, one process per image          (2.0)
    big-push  oci: → docker://   one 300 MB layer                                (1.0)
    big-pull  docker:// → dir:    the same
    and a peak RSS under 60 MB everywhere.

trustcopy runs as an installed command would (benchutil.installed_trustcopy: not through
the editable install's import hook, which costs every process of a development virtualenv
about 15 ms), on the system's Python 3.11 when there is one (benchutil.bench_python;
``TRUSTCOPY_BENCH_PYTHON`` picks another). The table ends with the start-up floor: that
Python importing only click, httpx and httpcore, next to skopeo's whole mount. In the mount,
repush and small30 scenarios a third program runs too, ``httpx-min`` (bench/minimal_client.py):
click and httpx making the same requests as trustcopy and nothing else, the least the
project's stack can take for that work.

    python bench/bench_registry.py [--runs 3] [--layers 10] [--layer-mb 20] [--big-mb 300]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import build_layout, installed_trustcopy, run_timed  # noqa: E402

# What trustcopy's own start-up does before importing these (see trustcopy/transports/docker).
FLOOR = ("import sys, types; sys.modules['httpx._main'] = types.ModuleType('httpx._main'); "
         "import click, httpx, httpcore")


#: Issue 14's targets: scenario → (the largest trustcopy/skopeo ratio, or None), and
#: ``version`` is an absolute bound in seconds.
TARGETS: dict[str, float | None] = {"version": 0.030, "push": 0.8, "pull": 0.6, "mount": 1.5, "mount-rtt": None,
                                    "repush": 2.0, "repush-all": None, "small30": 2.0, "big-push": 1.0,
                                    "big-pull": None}
MAX_RSS_MB = 60.0
#: The third "tool": bench/minimal_client.py, timed in the short scenarios it can do.
MINIMAL = "httpx-min"
MINIMAL_SCENARIOS = {"mount", "repush", "small30"}
VERSION_SAMPLES = 5


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of run-by-run ratios (run k of one tool against run k of the other).

    The machine's speed drifts by 10-20% over a benchmark; a ratio of medians mixes
    fast and slow moments, while each pair was measured minutes apart at most. Shown
    next to the ratio of medians, which the verdict keeps using.
    """
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def main() -> int:
    """Build the data, run both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--layer-mb", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--small", type=int, default=30)
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="delay per request for mount-rtt")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run (default: all)")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    multi = build_layout(f"reg-multi-{args.layers}x{args.layer_mb}",
                         {"img": [(args.layer_mb * 1_000_000, 100 + i) for i in range(args.layers)]})
    big = build_layout(f"reg-big-{args.big_mb}", {"img": [(args.big_mb * 1_000_000, 7)]})
    small = build_layout(f"reg-small-{args.small}", {f"s{i}": [(20_000, 1000 + i)] for i in range(args.small)})
    policy = DATA / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    work = DATA / "reg-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    wanted = set(args.only.split(",")) if args.only else set(TARGETS)

    commands = {"trustcopy": installed_trustcopy()}
    if shutil.which("skopeo"):
        commands["skopeo"] = ["skopeo"]
    # The stack's floor in the short scenarios: click + httpx making the same requests, nothing else.
    # (Imported rather than run as a script, so that its compiled form is cached like trustcopy's.)
    commands[MINIMAL] = [str(Path(commands["trustcopy"][0]).parent / "python"), "-c",
                         f"import sys; sys.path.insert(0, {str(HERE)!r}); from minimal_client import cli; cli()"]
    flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    times: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], float] = {}

    def record(name: str, tool: str, seconds: float, cpu: float, rss: float) -> None:
        times.setdefault((name, tool), []).append(seconds)
        cpus.setdefault((name, tool), []).append(cpu)
        peaks[(name, tool)] = max(peaks.get((name, tool), 0.0), rss)

    for run in range(args.runs):
        for tool, command in commands.items():
            base = [*command, "--policy", str(policy), "copy", "-q"]
            here = wanted & MINIMAL_SCENARIOS if tool == MINIMAL else wanted
            if "version" in here:
                for _ in range(VERSION_SAMPLES):
                    record("version", tool, *run_timed([*command, "--version"]))
            # A fresh registry (new port, empty storage) per tool and run: nothing is there
            # yet, and skopeo's persistent blob-info cache cannot mount from an earlier run.
            server = RegistryServer(work / f"registry-{tool}-{run}").start()
            reg = server.host
            delay = Fault(delay=args.rtt_ms / 1000)
            slow = FaultProxy(server.port, lambda m, p, h, delay=delay: delay).start()

            def timed(name: str, *pairs: tuple[str, str], base: list[str] = base, tool: str = tool,
                      own: tuple[str, ...] = (), here: set[str] = here) -> None:
                if name not in here:
                    return
                total, cpu, peak = 0.0, 0.0, 0.0
                extra = list(own) if tool == "trustcopy" else []
                for src, dest in pairs:
                    t, c, rss = run_timed([*base, *flags, *extra, src, dest])
                    total, cpu, peak = total + t, cpu + c, max(peak, rss)
                record(name, tool, total, cpu, peak)

            def untimed(src: str, dest: str, base: list[str] = base) -> None:
                run_timed([*base, *flags, src, dest])

            try:
                for p in ("pull", "bigpull", "learn"):
                    shutil.rmtree(work / p, ignore_errors=True)
                # Every scenario needs what earlier ones pushed: run them untimed when not wanted.
                push = (f"oci:{multi}:img", f"docker://{reg}/push:1")
                if "push" in here:
                    timed("push", push)
                else:
                    untimed(*push)
                timed("pull", (f"docker://{reg}/push:1", f"dir:{work}/pull"))
                timed("mount", (f"docker://{reg}/push:1", f"docker://{reg}/mount:1"))
                if "mount-rtt" in here:
                    # Untimed: skopeo mounts only blobs its blob-info cache has seen under this host name.
                    untimed(f"docker://{slow.host}/push:1", f"dir:{work}/learn")
                timed("mount-rtt", (f"docker://{slow.host}/push:1", f"docker://{slow.host}/mount-rtt:1"))
                timed("repush", (f"oci:{multi}:img", f"docker://{reg}/push:1"))
                timed("repush-all", (f"oci:{multi}:img", f"docker://{reg}/push:1"), own=("--no-skip-identical",))
                timed("small30", *[(f"oci:{small}:s{i}", f"docker://{reg}/small:{i}") for i in range(args.small)])
                bigpush = (f"oci:{big}:img", f"docker://{reg}/big:1")
                if "big-pull" in here and "big-push" not in here:
                    untimed(*bigpush)
                timed("big-push", bigpush)
                timed("big-pull", (f"docker://{reg}/big:1", f"dir:{work}/bigpull"))
            finally:
                slow.stop()
                server.stop()
                shutil.rmtree(work / f"registry-{tool}-{run}", ignore_errors=True)

    print(f"{args.layers} x {args.layer_mb} MB image, {args.big_mb} MB layer, {args.small} small images; "
          f"median of {args.runs} interleaved runs (version: of {args.runs * VERSION_SAMPLES}); "
          f"load average {load_before} before, {' '.join(f'{x:.2f}' for x in os.getloadavg())} after")
    print(f"{'scenario':10} {'tool':10} {'seconds':>8} {'min':>7} {'max':>7} {'cpu s':>7} {'peak MB':>8} "
          f"{'ratio':>6} {'cpu ratio':>9} {'paired':>6} {'target':>8}")
    for name, target in TARGETS.items():
        if name not in wanted:
            continue
        for tool in commands:
            if (name, tool) not in times:
                continue
            samples = times[(name, tool)]
            median = statistics.median(samples)
            cpu = statistics.median(cpus[(name, tool)])
            ratio, cpu_ratio, paired, verdict = "", "", "", ""
            if "skopeo" in commands:
                ratio = f"{median / statistics.median(times[(name, 'skopeo')]):.2f}"
                cpu_ratio = f"{cpu / statistics.median(cpus[(name, 'skopeo')]):.2f}"
                if tool != "skopeo":
                    paired = f"{paired_ratio(samples, times[(name, 'skopeo')]):.2f}"
            if tool == "trustcopy" and target is not None:
                value = median if name == "version" else float(ratio or "nan")
                bound = f"{target * 1000:.0f} ms" if name == "version" else f"<= {target}"
                verdict = f"{bound} {'OK' if value <= target else 'OVER'}"
            print(f"{name:10} {tool:10} {median:8.3f} {min(samples):7.3f} {max(samples):7.3f} {cpu:7.3f} "
                  f"{peaks[(name, tool)]:8.1f} {ratio:>6} {cpu_ratio:>9} {paired:>6} {verdict:>8}")
    python = str(Path(commands["trustcopy"][0]).parent / "python")
    floor_runs = [run_timed([python, "-c", FLOOR]) for _ in range(5)]
    floor = statistics.median(r[0] for r in floor_runs)
    print(f"start-up floor (python importing click, httpx, httpcore only): {floor:.3f} s, "
          f"{statistics.median(r[1] for r in floor_runs):.3f} s CPU"
          + (f"; skopeo's whole mount: {statistics.median(times[('mount', 'skopeo')]):.3f} s"
             if "skopeo" in commands and "mount" in wanted else ""))
    if "skopeo" in commands and "small30" in wanted:
        per_image = statistics.median(times[("small30", "skopeo")]) / args.small
        print(f"small30: skopeo's whole copy of one small image takes {per_image:.3f} s; the start-up floor "
              f"alone is {floor / per_image:.2f} times that (the target ratio is {TARGETS['small30']})")
    if "skopeo" in commands:
        for name in sorted(MINIMAL_SCENARIOS & wanted):
            least = statistics.median(times[(name, MINIMAL)]) / statistics.median(times[(name, "skopeo")])
            print(f"{name}: click + httpx making the same requests and nothing else ({MINIMAL}) is {least:.2f} times "
                  f"skopeo's time (target for trustcopy: {TARGETS[name]})")
    worst = max(peaks[(n, "trustcopy")] for n in TARGETS if n in wanted)
    print(f"trustcopy peak RSS {worst:.1f} MB (target < {MAX_RSS_MB:.0f} MB): "
          f"{'OK' if worst < MAX_RSS_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
