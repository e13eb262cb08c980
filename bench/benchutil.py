"""Measuring a child process: wall time and its own peak RSS.

The peak is the child's VmHWM, polled from /proc while it runs. ``ru_maxrss`` from
wait4 is wrong here: a vfork()ed child inherits the (large) benchmark process's
high-water mark across exec.
"""

from __future__ import annotations

import subprocess
import time


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS in MB) of that child alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, vm_hwm_kb(proc.pid))
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    return elapsed, peak / 1024
