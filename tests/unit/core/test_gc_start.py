"""cli.main.defer_first_collection: start-up runs without the cyclic collector, then it is as before.

Each case runs in a fresh interpreter: the collector's thresholds and callbacks are
process-wide, and pytest's own must stay as they are.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CASE = r"""
import gc, json, sys
from trustcopy.cli.main import START_GEN0_THRESHOLD, defer_first_collection
gc.set_threshold(500, 7, 9)        # a process's own settings, restored afterwards
gc.collect()
before = sum(g["collections"] for g in gc.get_stats())
defer_first_collection()
seen = []
gc.callbacks.append(lambda phase, info: seen.append(phase))  # registered after ours
out = {"during": gc.get_threshold(), "start": START_GEN0_THRESHOLD}
if sys.argv[1] == "allocate":
    keep = [[] for _ in range(START_GEN0_THRESHOLD // 2)]
    out["after_half"] = gc.get_threshold()
    out["collections_after_half"] = sum(g["collections"] for g in gc.get_stats()) - before
    keep += [[] for _ in range(START_GEN0_THRESHOLD)]  # passes the threshold: the collector runs
else:
    gc.collect()
out["after"] = gc.get_threshold()
out["collections"] = sum(g["collections"] for g in gc.get_stats()) - before
out["seen"] = seen[:4]
gc.collect()
out["after_second"] = gc.get_threshold()
print(json.dumps(out))
"""


def run_case(mode: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", _CASE, mode], capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, object] = json.loads(r.stdout)
    return result


def test_the_collector_waits_for_the_start_threshold_then_gets_the_process_thresholds_back() -> None:
    out = run_case("allocate")
    assert out["during"] == [out["start"], 7, 9]
    # Half the threshold's allocations: no collection yet, the raised threshold still holds.
    assert out["collections_after_half"] == 0
    assert out["after_half"] == [out["start"], 7, 9]
    # Past it: the collector ran by itself, and from then on the process's own thresholds hold.
    assert out["collections"] >= 1
    assert out["after"] == [500, 7, 9]
    assert out["after_second"] == [500, 7, 9]


def test_an_explicit_collection_also_ends_the_start_phase_and_other_callbacks_still_run() -> None:
    out = run_case("collect")
    assert out["during"] == [out["start"], 7, 9]
    assert out["after"] == [500, 7, 9]
    # The callback registered after ours saw both phases of that collection (ours is not
    # removed from gc.callbacks while the collector iterates over it).
    assert out["seen"][:2] == ["start", "stop"]
