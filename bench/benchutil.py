"""Measuring a child process: wall time and its own peak RSS.

The peak is the child's VmHWM, polled from /proc while it runs. ``ru_maxrss`` from
wait4 is wrong here: a vfork()ed child inherits the (large) benchmark process's
high-water mark across exec.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import tarfile
import time
import zlib
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"


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


def wait_polling_peak(pid: int) -> tuple[int, object, int]:
    """Wait for the child ``pid``, polling its VmHWM; return (wait status, rusage, peak RSS in KiB)."""
    import os

    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak
        peak = max(peak, vm_hwm_kb(pid))
        time.sleep(0.002)


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS in MB) of that child alone."""
    seconds, _cpu, peak = run_timed(cmd)
    return seconds, peak


def run_timed(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall seconds, CPU seconds, peak RSS in MB) of that child alone.

    CPU is user + system time of the child and its threads (``wait4``'s rusage; the child
    runs no processes of its own). Other work on the machine stretches the wall time of
    a run, much less its CPU time: on a shared machine, compare both.
    """
    import os

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status, usage, peak = wait_polling_peak(proc.pid)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    return elapsed, usage.ru_utime + usage.ru_stime, peak / 1024


def _layer(blobs: Path, size: int, seed: int) -> tuple[dict[str, object], str]:
    """Write a gzip'd tar of ``size`` incompressible bytes; return (descriptor, diff_id)."""
    rng = random.Random(seed)
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)
    blob_hash, diff_hash = hashlib.sha256(), hashlib.sha256()
    tmp = blobs / f".tmp-{seed}"
    written = 0
    with tmp.open("wb") as out:
        def emit(raw: bytes, final: bool = False) -> None:
            nonlocal written
            diff_hash.update(raw)
            comp = gz.compress(raw) + (gz.flush() if final else b"")
            blob_hash.update(comp)
            out.write(comp)
            written += len(comp)

        info = tarfile.TarInfo(f"data-{seed}.bin")
        info.size, info.mtime, info.mode = size, 0, 0o644
        emit(info.tobuf(format=tarfile.PAX_FORMAT))
        left = size
        while left:
            n = min(left, 1 << 22)
            emit(rng.randbytes(n))
            left -= n
        emit(b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024, final=True)
    digest = blob_hash.hexdigest()
    tmp.rename(blobs / digest)
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{digest}",
            "size": written}
    return desc, f"sha256:{diff_hash.hexdigest()}"


def _put(blobs: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(name: str, images: dict[str, list[tuple[int, int]]]) -> Path:
    """An OCI layout under bench/.data with ``images``: ref name → [(layer size, seed)] (cached)."""
    layout = DATA / name
    if (layout / "index.json").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    entries = []
    for ref, layers in images.items():
        descs, diff_ids = zip(*(_layer(blobs, size, seed) for size, seed in layers), strict=True)
        config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_put(blobs, config)},
            "layers": list(descs)}).encode()
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **_put(blobs, manifest),
                        "annotations": {"org.opencontainers.image.ref.name": ref}})
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return layout


#: The policy every benchmark copies under: what is timed is the copy, not a verification.
INSECURE_POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}'


def big_layer_args(doc: str | None) -> tuple[argparse.Namespace, Path]:
    """``--size-mb`` (300) and ``--runs`` (3) of a one-big-layer benchmark, and that layout (cached).

    The layer is incompressible data, gzip-wrapped, in image ``big`` of ``bench/.data/layout-NmB``.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    return args, build_layout(f"layout-{args.size_mb}mb", {"big": [(args.size_mb * 1_000_000, args.size_mb)]})


def compile_bytecode() -> None:
    """Compile trustcopy and its dependencies, as pip does when it installs them.

    A checkout whose sources changed since their ``.pyc`` was written (or a shell with
    ``PYTHONDONTWRITEBYTECODE`` set) would otherwise recompile them in every timed process:
    measured here, 0.27 s instead of 0.25 s for a re-push, 8.2 s instead of 7.7 s for small30.
    """
    import compileall
    import sysconfig

    for tree in (Path(__file__).resolve().parent.parent / "trustcopy", Path(sysconfig.get_paths()["purelib"])):
        compileall.compile_dir(tree, quiet=1, workers=0)


def bench_python() -> str:
    """The interpreter the measured trustcopy runs on: ``$TRUSTCOPY_BENCH_PYTHON``, else the system's.

    The README's target is a Debian machine's own Python 3.11 (``/usr/bin/python3``). A
    development machine may put another build first on PATH: here pyenv's 3.11.7,
    configured without ``--enable-optimizations``, imports click and httpx in 0.13 s where
    Debian's 3.11.2 takes 0.10 s. The system interpreter is used when it has this
    checkout's minor version; the output says which one ran, and
    ``TRUSTCOPY_BENCH_PYTHON=$(which python3)`` measures the other.
    """
    import os
    import sys

    chosen = os.environ.get("TRUSTCOPY_BENCH_PYTHON")
    if chosen:
        return chosen
    system = "/usr/bin/python3"
    if os.path.exists(system):
        probe = subprocess.run([system, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.stdout.strip() == str(tuple(sys.version_info[:2])):
            return system
    return sys.executable


def installed_trustcopy() -> list[str]:
    """The ``trustcopy`` command as a user's installation runs it, for fair start-up figures.

    A development checkout is installed editable: pip's import hook for that (a ``.pth``
    that imports a finder, which imports pathlib, importlib.util and re) runs in *every*
    process of that virtualenv, about 15 ms of start-up a non-editable install does not
    pay. So the benchmark makes its own virtualenv under bench/.data, on
    :func:`bench_python`, whose ``.pth`` only names two directories (this checkout, and
    the site-packages holding click and httpx: the same minor version, so the same
    compiled modules), plus the console script pip would generate
    (``from trustcopy.cli.main import entrypoint``).
    """
    import hashlib as _hashlib
    import os
    import sysconfig

    root = Path(__file__).resolve().parent.parent
    compile_bytecode()
    interpreter = bench_python()
    real = os.path.realpath(interpreter)
    env = DATA / f"installed-venv-{_hashlib.sha256(real.encode()).hexdigest()[:8]}"
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([interpreter, "-m", "venv", "--without-pip", "--symlinks", str(env)], check=True)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "trustcopy-bench.pth").write_text(f"{root}\n{sysconfig.get_paths()['purelib']}\n")
    script = env / "bin" / "trustcopy"
    script.write_text(f"#!{python}\nimport sys\nfrom trustcopy.cli.main import entrypoint\nsys.exit(entrypoint())\n")
    os.chmod(script, 0o755)
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"trustcopy runs on {real} (Python {version})")
    return [str(script)]
