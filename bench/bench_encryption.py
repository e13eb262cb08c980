"""Encryption benchmark: ``copy --encryption-key`` / ``--decryption-key`` of one large layer, trustcopy vs skopeo.

Builds (once, cached under bench/.data) an OCI layout with one layer (default 300 MB of
incompressible data, gzip-wrapped), makes a throwaway RSA key pair with ``openssl``, then
times, with each tool and in turns, encrypting the image into a new OCI layout and
decrypting an image the *other* tool encrypted (so every run also checks interoperability).
Prints the MEDIAN wall time, the largest peak RSS and the trustcopy/skopeo ratio; no target
is set by an issue (reported for information).

    python bench/bench_encryption.py [--size-mb 300] [--runs 3]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import DATA, INSECURE_POLICY, big_layer_args, installed_trustcopy, run_timed


def main() -> int:
    """Build the data and keys, run both tools, print a table."""
    if not shutil.which("skopeo") or not shutil.which("openssl"):
        raise SystemExit("skopeo and openssl are needed for this benchmark")
    args, layout = big_layer_args(__doc__)
    work = DATA / "encryption-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    policy = work / "policy.json"
    policy.write_text(INSECURE_POLICY)
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                    str(work / "key.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(work / "key.pem"), "-pubout", "-out", str(work / "key.pub")],
                   check=True, capture_output=True)
    tools = {"trustcopy": installed_trustcopy(), "skopeo": ["skopeo"]}
    other = {"trustcopy": "skopeo", "skopeo": "trustcopy"}
    times: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], float] = {}
    try:
        for _ in range(args.runs):
            for tool, command in tools.items():
                base = [*command, "--policy", str(policy), "copy", "-q"]
                shutil.rmtree(work / f"enc-{tool}", ignore_errors=True)
                t, _cpu, rss = run_timed([*base, "--encryption-key", f"jwe:{work}/key.pub", f"oci:{layout}:big",
                                          f"oci:{work}/enc-{tool}:big"])
                times.setdefault(("encrypt", tool), []).append(t)
                peaks[("encrypt", tool)] = max(peaks.get(("encrypt", tool), 0.0), rss)
            for tool, command in tools.items():
                base = [*command, "--policy", str(policy), "copy", "-q"]
                shutil.rmtree(work / f"dec-{tool}", ignore_errors=True)
                t, _cpu, rss = run_timed([*base, "--decryption-key", f"{work}/key.pem",
                                          f"oci:{work}/enc-{other[tool]}:big", f"oci:{work}/dec-{tool}:big"])
                times.setdefault(("decrypt", tool), []).append(t)
                peaks[("decrypt", tool)] = max(peaks.get(("decrypt", tool), 0.0), rss)
            a, b = (sorted(p.name for p in (work / f"dec-{tool}" / "blobs" / "sha256").iterdir()) for tool in tools)
            if a != b:
                raise SystemExit("the two tools decrypted to different blobs")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.size_mb} MB single layer, one RSA recipient, median of {args.runs} interleaved runs "
          "(each tool decrypts what the other encrypted)")
    print(f"{'scenario':10} {'tool':10} {'seconds':>8} {'peak MB':>8} {'ratio':>6}")
    for name in ("encrypt", "decrypt"):
        for tool in tools:
            median = statistics.median(times[(name, tool)])
            ratio = median / statistics.median(times[(name, "skopeo")])
            print(f"{name:10} {tool:10} {median:8.2f} {peaks[(name, tool)]:8.1f} {ratio:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
