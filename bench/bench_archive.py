"""Archive benchmark: trustcopy vs skopeo, side by side in one run: time, peak RSS and peak disk.

Scenarios (an image of 10 layers x 20 MB of incompressible data, cached under bench/.data):

    reg→docker-archive        docker://  → docker-archive:  (layers decompressed into the archive)
    reg→docker-archive small  trustcopy --dest-compress (small-disk mode: layers stay compressed)
    docker-archive→oci        docker-archive: → oci:  (every layer recompressed)

Each run of a scenario is made twice: once unobserved, for the time, and once sampled, for
peak RSS and peak disk. Peak disk is the largest total size, at any moment of the run, of every file the tool
writes: the destination and the tool's temporary directory (both tools get ``--tmpdir``,
which is where skopeo spools layers of unknown size; /var/tmp otherwise), plus deleted
files the process still holds open (read from /proc/PID/fd), sampled every 10 ms (a
spooled 20 MB layer lives far longer; sampling more often steals CPU from the tools). "extra"
is that peak minus the size of the final result.

Targets (issue 12): reg→docker-archive time <= 0.8 of skopeo's, extra disk <= 1 MiB;
docker-archive→oci time <= 1.0 of skopeo's, trustcopy peak RSS under 60 MB.

    python bench/bench_archive.py [--runs 3] [--layers 10] [--layer-mb 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from registry_fixtures import RegistryServer  # noqa: E402

sys.path.insert(0, str(HERE))
from benchutil import build_layout, compile_bytecode, vm_hwm_kb  # noqa: E402

MiB = 1 << 20


def _tree_size(path: Path | str) -> int:
    total = 0
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        total += _tree_size(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total


def _deleted_open_files(pid: int) -> int:
    total = 0
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return 0
    for fd in fds:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
            if target.endswith(" (deleted)") and target.startswith("/"):
                total += os.stat(f"{fd_dir}/{fd}").st_size
        except OSError:
            pass
    return total


def run_timed(cmd: list[str]) -> float:
    """Run ``cmd`` unobserved (sampling would steal CPU from it on a small machine); return seconds."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr.decode()}")
    return elapsed


def run_watched(cmd: list[str], watch: list[Path]) -> tuple[float, float, int]:
    """Run ``cmd``; return (seconds, peak RSS MB, peak bytes on disk under ``watch`` + its deleted files)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_rss = peak_disk = 0
    while proc.poll() is None:
        peak_rss = max(peak_rss, vm_hwm_kb(proc.pid))
        peak_disk = max(peak_disk, sum(_tree_size(p) for p in watch) + _deleted_open_files(proc.pid))
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    peak_disk = max(peak_disk, sum(_tree_size(p) for p in watch))
    return elapsed, peak_rss / 1024, peak_disk


def main() -> int:
    """Build the data, run both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--layer-mb", type=int, default=20)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    compile_bytecode()
    layout = build_layout(f"reg-multi-{args.layers}x{args.layer_mb}",
                          {"img": [(args.layer_mb * 1_000_000, 100 + i) for i in range(args.layers)]})
    work = DATA / "archive-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    tools = {"trustcopy": [sys.executable, "-m", "trustcopy", "--insecure-policy"]}
    if shutil.which("skopeo"):
        tools["skopeo"] = ["skopeo", "--insecure-policy"]
    flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    server = RegistryServer(work / "registry").start()
    results: dict[tuple[str, str], tuple[float, float, int, int]] = {}
    try:
        subprocess.run([*tools["trustcopy"], "copy", "-q", *flags, f"oci:{layout}:img",
                        f"docker://{server.host}/bench/img:1"], check=True)
        scenarios: list[tuple[str, str, list[str], str, str]] = []
        for tool in tools:
            scenarios.append(("reg→docker-archive", tool, [], f"docker://{server.host}/bench/img:1", "{out}/a.tar"))
        scenarios.append(("reg→docker-archive small", "trustcopy", ["--dest-compress"],
                          f"docker://{server.host}/bench/img:1", "{out}/a.tar"))
        archive = work / "source.tar"
        subprocess.run([*tools["trustcopy"], "copy", "-q", *flags, f"docker://{server.host}/bench/img:1",
                        f"docker-archive:{archive}:example.com/bench:1"], check=True)
        for tool in tools:
            scenarios.append(("docker-archive→oci", tool, [], f"docker-archive:{archive}", "{out}/layout:img"))
        for _ in range(args.runs):
            for name, tool, extra, src, dest_pattern in scenarios:
                out, tmp = work / f"out-{tool}", work / f"tmp-{tool}"
                for p in (out, tmp):
                    shutil.rmtree(p, ignore_errors=True)
                    p.mkdir()
                dest_kind = "docker-archive" if "docker-archive" in name.split("→")[1] else "oci"
                dest = f"{dest_kind}:{dest_pattern.format(out=out)}"
                cmd = [*tools[tool], "--tmpdir", str(tmp), "copy", "-q", *flags, *extra, src, dest]
                t = run_timed(cmd)
                for p in (out, tmp):
                    shutil.rmtree(p, ignore_errors=True)
                    p.mkdir()
                _, rss, disk = run_watched(cmd, [out, tmp])
                final = _tree_size(out)
                best = results.get((name, tool))
                if best is None or t < best[0]:
                    results[(name, tool)] = (t, max(rss, best[1] if best else 0.0),
                                             max(disk, best[2] if best else 0), final)
                else:
                    results[(name, tool)] = (best[0], max(rss, best[1]), max(disk, best[2]), final)
    finally:
        server.stop()
    print(f"{args.layers} x {args.layer_mb} MB image (incompressible), best of {args.runs} runs")
    print(f"{'scenario':26} {'tool':10} {'seconds':>8} {'ratio':>6} {'peak RSS MB':>12} {'peak disk MB':>13} "
          f"{'final MB':>9} {'extra MiB':>10}")
    ok = True
    for name, tool, *_ in scenarios:
        if (name, tool) not in results:
            continue
        t, rss, disk, final = results[(name, tool)]
        base = results.get((name.replace(" small", ""), "skopeo"))
        ratio = f"{t / base[0]:.2f}" if base else ""
        extra = (disk - final) / MiB
        print(f"{name:26} {tool:10} {t:8.2f} {ratio:>6} {rss:12.1f} {disk / 1e6:13.1f} {final / 1e6:9.1f} "
              f"{extra:10.2f}")
        results[(name, tool)] = (t, rss, disk, final)
    if "skopeo" in tools:
        t_reg = results[("reg→docker-archive", "trustcopy")][0] / results[("reg→docker-archive", "skopeo")][0]
        t_oci = results[("docker-archive→oci", "trustcopy")][0] / results[("docker-archive→oci", "skopeo")][0]
        extra = (results[("reg→docker-archive", "trustcopy")][2] - results[("reg→docker-archive", "trustcopy")][3])
        rss = results[("docker-archive→oci", "trustcopy")][1]
        checks = [("reg→docker-archive time ratio <= 0.8", t_reg <= 0.8),
                  ("reg→docker-archive extra disk <= 1 MiB", extra <= MiB),
                  ("docker-archive→oci time ratio <= 1.0", t_oci <= 1.0),
                  ("docker-archive→oci peak RSS < 60 MB", rss < 60)]
        for label, passed in checks:
            print(f"{label}: {'OK' if passed else 'MISSED'}")
            ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
