"""Peak memory: trustcopy vs skopeo, per scenario, against issue 14's target (peak RSS < 60 MB everywhere).

bench/bench_registry.py and bench/bench_sync_rss.py measure pushes and pulls of a few
hundred MB, and sync's growth per image. This one measures what they do not: every
transport pair a 1 GB layer takes, compression on the way, and the many-small-things
cases (an index of 200 instances, 500 layers, a large config, 300 images in one sync,
100 images with 5 signatures each in one verify). Each scenario runs once per tool (more
with ``--runs``; the largest peak is kept), as its own process; the peak is that process's
VmHWM, polled from /proc (benchutil.run_timed: not ``ru_maxrss``, which a vfork()ed child
inherits from this process). Helper processes (gpg, the registry) are not counted, for
either tool.

Scenarios (``--only`` takes a comma-separated list of their names):

    oci>docker          oci: → docker://            a 1 GB layer (incompressible, gzip)
    docker>docker       docker:// → docker://       the same, to another registry
    docker>dir          docker:// → dir:
    docker>docker-arch  docker:// → docker-archive:  (decompressed into the archive)
    docker-arch>oci     docker-archive: → oci:      a 1 GB uncompressed layer (compressed on the way)
    oci-arch>docker     oci-archive: → docker://    the 1 GB gzip layer
    oci>oci-arch        oci: → oci-archive:
    tarball>oci         tarball: → oci:             a 1 GB tar
    compress-gzip       oci: → dir: --dest-compress                           a 500 MB uncompressed layer
    compress-zstd       oci: → dir: --dest-compress --dest-compress-format zstd
    decompress          oci: → dir: --dest-decompress                         the 1 GB gzip layer
    all-200             copy --all oci: → docker://  an index of 200 instances
    layers-500          oci: → docker://            an image of 500 small layers
    config-4m           oci: → docker-archive:       a config of 3.9 MB (history entries; c/image's
                        limit is 4 MiB) (converted to a Docker config)
    inspect-config-4m   inspect --config oci:        that config
    inspect-4m          inspect oci:                 (its history counted, its layers listed)
    config-20m          oci: → docker-archive:       a 20 MB config: both tools refuse it (4 MiB
    inspect-config-20m  inspect --config oci:        limit); what the refusal costs
    sync-300>dir        sync --src docker --dest dir     300 small images (one repository)
    sync-300>docker     sync --src docker --dest docker  the same, to another registry
    verify-100x5        verify of 100 registry images, 5 lookaside GPG signatures each (4 for
                        another manifest, then the right one); skopeo has no verify
    standalone-sign     standalone-sign of a manifest
    standalone-verify   standalone-verify of that signature

Inputs are generated once under bench/.data (mem-*; about 4 GB); outputs go to
bench/.data/mem-work and are removed after each scenario. A refused scenario (the 20 MB
config) shows its exit status instead of failing the benchmark.

    python bench/bench_memory.py [--runs 1] [--only NAME,...] [--gb 1.0]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))
from benchutil import (  # noqa: E402
    DATA,
    INSECURE_POLICY,
    _layer,
    _put,
    build_layout,
    installed_trustcopy,
    wait_polling_peak,
)
from registry_fixtures import RegistryServer  # noqa: E402

MAX_RSS_MB = 60.0
KEYS = ROOT / "keys-example"
WORK = DATA / "mem-work"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
TLS = ["--src-tls-verify=false", "--dest-tls-verify=false"]


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Run ``cmd``; return (seconds, peak RSS MB of that process alone, exit status, stderr tail)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        status, _usage, peak = wait_polling_peak(proc.pid)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-600:]
    return time.perf_counter() - start, peak / 1024, os.waitstatus_to_exitcode(status), tail


# -- inputs (cached under bench/.data) -----------------------------------------------------------


def _mixed_tar(path: Path, size: int, seed: int) -> str:
    """A tar of one file of ``size`` bytes, one eighth random (compresses to about 1/8); its sha256 hex."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    with path.open("wb") as out:
        def emit(b: bytes) -> None:
            h.update(b)
            out.write(b)

        info = tarfile.TarInfo(f"mixed-{seed}.bin")
        info.size, info.mtime, info.mode = size, 0, 0o644
        emit(info.tobuf(format=tarfile.PAX_FORMAT))
        chunk = 1 << 16
        left = size
        while left:
            n = min(left, chunk)
            emit((rng.randbytes(chunk // 8) + b"\0" * (chunk - chunk // 8))[:n])
            left -= n
        emit(b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024)
    return h.hexdigest()


def _write_layout(layout: Path, entries: list[dict[str, object]]) -> None:
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))


def _image(blobs: Path, layers: list[dict[str, object]], diff_ids: list[str], ref: str,
           extra_config: dict[str, object] | None = None) -> dict[str, object]:
    """Write a config and manifest for ``layers``; return the index.json entry."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}, **(extra_config or {})}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_put(blobs, config)},
                           "layers": layers}).encode()
    return {"mediaType": OCI_MANIFEST, **_put(blobs, manifest),
            "annotations": {"org.opencontainers.image.ref.name": ref}}


def mixed_layout(size: int) -> tuple[Path, Path]:
    """An OCI layout, image ``img``: one uncompressed layer of ``size`` bytes; (layout, the layer's file)."""
    layout = DATA / f"mem-mixed-{size // 1_000_000}"
    blobs = layout / "blobs" / "sha256"
    if not (layout / "index.json").exists():
        shutil.rmtree(layout, ignore_errors=True)
        blobs.mkdir(parents=True)
        tmp = blobs / ".tmp"
        hexd = _mixed_tar(tmp, size, size % 977)
        tmp.rename(blobs / hexd)
        desc = {"mediaType": OCI_LAYER, "digest": f"sha256:{hexd}", "size": (blobs / hexd).stat().st_size}
        _write_layout(layout, [_image(blobs, [desc], [f"sha256:{hexd}"], "img")])
    layer = json.loads((blobs / json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
                        .split(":")[1]).read_text())["layers"][0]["digest"].split(":")[1]
    return layout, blobs / layer


def index_layout(count: int) -> Path:
    """An OCI layout whose ``all`` is an index of ``count`` small images (one 2 kB layer each)."""
    layout = DATA / f"mem-index-{count}"
    if (layout / "index.json").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    instances = []
    for i in range(count):
        desc, diff_id = _layer(blobs, 2000, 20_000 + i)
        entry = _image(blobs, [desc], [diff_id], f"i{i}")
        entry.pop("annotations")
        entry["platform"] = {"architecture": "amd64", "os": "linux", "variant": f"v{i}"}
        instances.append(entry)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": instances}).encode()
    _write_layout(layout, [{"mediaType": OCI_INDEX, **_put(blobs, index),
                            "annotations": {"org.opencontainers.image.ref.name": "all"}}])
    return layout


def config_layout(megabytes: float) -> Path:
    """An OCI layout, image ``img``: one small layer, a config of ``megabytes`` MB (history entries)."""
    layout = DATA / f"mem-config-{megabytes:g}mb"
    if (layout / "index.json").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    desc, diff_id = _layer(blobs, 2000, 30_000)
    entry = {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) " + "x" * 160,
             "empty_layer": True}
    n = int(megabytes * 1_000_000 / (len(json.dumps(entry)) + 2))
    history = [dict(entry, created_by=f"{entry['created_by']} {i}") for i in range(n - 1)]
    history.append({"created": "2024-01-01T00:00:00Z", "created_by": "ADD file"})
    _write_layout(layout, [_image(blobs, [desc], [diff_id], "img", {"history": history})])
    return layout


def archive_of(name: str, tool: list[str], src: str, dest_kind: str, suffix: str) -> Path:
    """``src`` written once (untimed, by trustcopy) to bench/.data/NAME as a ``dest_kind`` archive."""
    path = DATA / name
    if not path.exists():
        tmp = DATA / f".tmp-{name}"
        tmp.unlink(missing_ok=True)
        subprocess.run([*tool, "copy", "-q", src, f"{dest_kind}:{tmp}{suffix}"], check=True)
        tmp.rename(path)
    return path


# -- registries, signatures ----------------------------------------------------------------------


@contextlib.contextmanager
def registry(tag: str) -> Iterator[str]:
    """A fresh, empty registry for one scenario (nothing to mount or skip from earlier ones)."""
    workdir = WORK / f"registry-{tag}"
    shutil.rmtree(workdir, ignore_errors=True)
    server = RegistryServer(workdir).start()
    try:
        yield server.host
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def push_small_images(host: str, repo_of: Callable[[int], str], count: int) -> list[str]:
    """Push ``count`` distinct one-layer images in this process; return their manifest digests."""
    from imagefactory import Layer, make_image, make_tar
    from registry_fixtures import fast_sys, push_image

    from trustcopy.transports.docker.session import RegistrySession

    digests = []
    with RegistrySession() as session:
        ctx = fast_sys(registry_session=session)
        for i in range(count):
            image = make_image([Layer(make_tar([(f"f{i}.txt", random.Random(i).randbytes(1500).hex().encode())]))])
            push_image(host, repo_of(i), image, ctx)
            digests.append(image.digest)
    return digests


def gpg(home: str, *args: str, data: bytes | None = None) -> bytes:
    """Run gpg in the throw-away home (the example key has no passphrase)."""
    cmd = ["gpg", "--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", *args]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def lookaside_store(home: str, host: str, digests: list[str], store: Path, per_image: int) -> None:
    """Image i gets ``per_image`` signatures: of images i+1 … (wrong manifest), then its own."""
    from trustcopy.digest import Digest
    from trustcopy.signature.payload import build_simple_payload

    fpr = (KEYS / "FINGERPRINT").read_text().strip()
    sigs = []
    for i, digest in enumerate(digests):
        payload = build_simple_payload(Digest.parse(digest), f"{host}/mem/v{i}:1", creator="bench", timestamp=0)
        sigs.append(gpg(home, "--local-user", fpr, "--sign", data=payload))
    n = len(digests)
    for i, digest in enumerate(digests):
        where = store / f"mem/v{i}@{digest.replace(':', '=')}"
        where.mkdir(parents=True)
        order = [sigs[(i + k) % n] for k in range(1, per_image)] + [sigs[i]]
        for k, sig in enumerate(order, 1):
            (where / f"signature-{k}").write_bytes(sig)


# -- the run -------------------------------------------------------------------------------------


def main() -> int:
    """Build the inputs, run every scenario with both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--gb", type=float, default=1.0, help="size of the big layer (default 1 GB)")
    parser.add_argument("--tool", default="", help="run only this tool (trustcopy or skopeo)")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    policy = DATA / "policy.json"
    policy.write_text(INSECURE_POLICY)
    big = int(args.gb * 1_000_000_000)
    tools: dict[str, list[str]] = {"trustcopy": installed_trustcopy()}
    tc = [*tools["trustcopy"], "--policy", str(policy)]
    if shutil.which("skopeo"):
        tools["skopeo"] = ["skopeo"]
    if args.tool:
        tools = {args.tool: tools[args.tool]}

    t0 = time.perf_counter()
    rand = build_layout(f"mem-rand-{big // 1_000_000}", {"big": [(big, 11)]})
    mixed, mixed_blob = mixed_layout(big)
    mixed500, _ = mixed_layout(big // 2)
    darchive = archive_of(f"mem-mixed-{big // 1_000_000}.docker.tar", tc, f"oci:{mixed}:img", "docker-archive",
                          ":bench/mixed:1")
    oarchive = archive_of(f"mem-rand-{big // 1_000_000}.oci.tar", tc, f"oci:{rand}:big", "oci-archive", ":big")
    index200 = index_layout(200)
    layers500 = build_layout("mem-layers-500", {"img": [(1000, 40_000 + i) for i in range(500)]})
    config4 = config_layout(3.9)
    config20 = config_layout(20)
    print(f"inputs ready in {time.perf_counter() - t0:.0f} s", flush=True)

    wanted = set(args.only.split(",")) if args.only else None
    rows: list[tuple[str, str, float, float, int, str]] = []
    home = tempfile.mkdtemp(prefix="tcm-", dir="/tmp")
    gpg(home, "--import", str(KEYS / "secret-key.asc"))
    fpr = (KEYS / "FINGERPRINT").read_text().strip()
    gpg_env = {**os.environ, "GNUPGHOME": home}

    def run(name: str, tool: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        worst = None
        for _ in range(args.runs):
            seconds, peak, status, err = measure(cmd, env)
            if worst is None or peak > worst[1]:
                worst = (seconds, peak, status, err)
            if status != 0:
                break
        assert worst is not None
        rows.append((name, tool, worst[0], worst[1], worst[2], worst[3]))
        print(f"  {name:20} {tool:10} {worst[0]:7.1f} s {worst[1]:7.1f} MB"
              + (f"  exit {worst[2]}: {worst[3].strip().splitlines()[-1] if worst[3].strip() else ''}"
                 if worst[2] else ""), flush=True)

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    def out(name: str) -> Path:
        path = WORK / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        return path

    try:
        for tool, command in tools.items():
            base = [*command, "--policy", str(policy)]
            cp = [*base, "copy", "-q", *TLS]
            big_names = {"oci>docker", "docker>docker", "docker>dir", "docker>docker-arch"}
            if wanted is None or wanted & big_names:
                with registry(f"{tool}-big") as reg:
                    # The other docker:// sources need this push: untimed when not asked for.
                    push = [*cp, f"oci:{rand}:big", f"docker://{reg}/mem/big:1"]
                    if want("oci>docker"):
                        run("oci>docker", tool, push)
                    else:
                        subprocess.run(push, check=True)
                    if want("docker>docker"):
                        with registry(f"{tool}-big2") as reg2:
                            run("docker>docker", tool, [*cp, f"docker://{reg}/mem/big:1",
                                                        f"docker://{reg2}/mem/big:1"])
                    if want("docker>dir"):
                        run("docker>dir", tool, [*cp, f"docker://{reg}/mem/big:1", f"dir:{out('dir')}"])
                    if want("docker>docker-arch"):
                        run("docker>docker-arch", tool, [*cp, f"docker://{reg}/mem/big:1",
                                                         f"docker-archive:{out('a.tar')}:mem/big:1"])
                    out("dir"), out("a.tar")
            if want("docker-arch>oci"):
                run("docker-arch>oci", tool, [*cp, f"docker-archive:{darchive}", f"oci:{out('layout')}:img"])
            if want("oci-arch>docker"):
                with registry(f"{tool}-ociarch") as reg:
                    run("oci-arch>docker", tool, [*cp, f"oci-archive:{oarchive}:big", f"docker://{reg}/mem/a:1"])
            if want("oci>oci-arch"):
                run("oci>oci-arch", tool, [*cp, f"oci:{rand}:big", f"oci-archive:{out('o.tar')}:big"])
            if want("tarball>oci"):
                run("tarball>oci", tool, [*cp, f"tarball:{mixed_blob}", f"oci:{out('layout')}:img"])
            if want("compress-gzip"):
                run("compress-gzip", tool, [*cp, "--dest-compress", f"oci:{mixed500}:img", f"dir:{out('dir')}"])
            if want("compress-zstd"):
                run("compress-zstd", tool, [*cp, "--dest-compress", "--dest-compress-format", "zstd",
                                            f"oci:{mixed500}:img", f"dir:{out('dir')}"])
            if want("decompress"):
                run("decompress", tool, [*cp, "--dest-decompress", f"oci:{rand}:big", f"dir:{out('dir')}"])
            out("dir"), out("layout"), out("o.tar")
            if want("all-200"):
                with registry(f"{tool}-all") as reg:
                    run("all-200", tool, [*cp, "--all", f"oci:{index200}:all", f"docker://{reg}/mem/all:1"])
            if want("layers-500"):
                with registry(f"{tool}-layers") as reg:
                    run("layers-500", tool, [*cp, f"oci:{layers500}:img", f"docker://{reg}/mem/layers:1"])
            for size, layout in (("4m", config4), ("20m", config20)):
                if want(f"config-{size}"):
                    run(f"config-{size}", tool, [*cp, f"oci:{layout}:img", f"docker-archive:{out('c.tar')}:m/c:1"])
                if want(f"inspect-config-{size}"):
                    run(f"inspect-config-{size}", tool, [*base, "inspect", "--config", f"oci:{layout}:img"])
                if want(f"inspect-{size}") and size == "4m":
                    run(f"inspect-{size}", tool, [*base, "inspect", f"oci:{layout}:img"])
            out("c.tar")
            if want("sync-300>dir") or want("sync-300>docker"):
                with registry(f"{tool}-sync-src") as src:
                    push_small_images(src, lambda i: f"mem/many:t{i:03d}", 300)
                    sync = [*base, "sync", *TLS, "--src", "docker"]
                    if want("sync-300>dir"):
                        run("sync-300>dir", tool, [*sync, "--dest", "dir", f"{src}/mem/many", str(out("sync"))])
                    if want("sync-300>docker"):
                        with registry(f"{tool}-sync-dest") as dest:
                            run("sync-300>docker", tool, [*sync, "--dest", "docker", f"{src}/mem/many",
                                                          f"{dest}/mirror"])
                    out("sync")
            if want("verify-100x5") and tool == "trustcopy":
                with registry("verify") as reg:
                    digests = push_small_images(reg, lambda i: f"mem/v{i}:1", 100)
                    store = out("sigstore")
                    lookaside_store(home, reg, digests, store, 5)
                    regd = out("registries.d")
                    regd.mkdir()
                    (regd / "bench.yaml").write_text(json.dumps({"docker": {reg: {"lookaside": f"file://{store}"}}}))
                    signed = out("signed-policy.json")
                    signed.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
                        f"{reg}/mem": [{"type": "signedBy", "keyType": "GPGKeys",
                                        "keyPath": str(KEYS / "pubring.gpg")}]}}}))
                    run("verify-100x5", tool, [*command, "--policy", str(signed), "--registries.d", str(regd),
                                               "verify", "--tls-verify=false",
                                               *[f"docker://{reg}/mem/v{i}:1" for i in range(100)]])
            if want("standalone-sign") or want("standalone-verify"):
                manifest = json.loads((rand / "index.json").read_text())["manifests"][0]["digest"].split(":")[1]
                manifest_path = rand / "blobs" / "sha256" / manifest
                sig = out(f"sig-{tool}")
                ref = "registry.example.com/mem/big:1"
                run("standalone-sign", tool, [*command, "standalone-sign", "-o", str(sig), str(manifest_path), ref,
                                              fpr], env=gpg_env)
                if want("standalone-verify"):
                    run("standalone-verify", tool, [*command, "standalone-verify", str(manifest_path), ref, fpr,
                                                    str(sig)], env=gpg_env)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(WORK, ignore_errors=True)

    print(f"\npeak RSS of one process per scenario (largest of {args.runs} run(s)); big layer {big / 1e9:g} GB; "
          f"target < {MAX_RSS_MB:.0f} MB")
    print(f"{'scenario':20} {'trustcopy MB':>12} {'skopeo MB':>10} {'ratio':>6} {'tc s':>7} {'skopeo s':>8} "
          f"{'target':>7}")
    by = {(r[0], r[1]): r for r in rows}
    over = []
    for name in dict.fromkeys(r[0] for r in rows):
        ours, theirs = by.get((name, "trustcopy")), by.get((name, "skopeo"))

        def cell(r: tuple[str, str, float, float, int, str] | None, unit: int) -> str:
            if r is None:
                return "n/a"
            text = f"{r[unit]:.1f}"
            return text + (f" (exit {r[4]})" if r[4] and unit == 3 else "")

        ratio = f"{ours[3] / theirs[3]:.2f}" if ours and theirs else ""
        verdict = "" if ours is None else ("OK" if ours[3] < MAX_RSS_MB else "OVER")
        if verdict == "OVER":
            over.append(name)
        print(f"{name:20} {cell(ours, 3):>12} {cell(theirs, 3):>10} {ratio:>6} {cell(ours, 2):>7} "
              f"{cell(theirs, 2):>8} {verdict:>7}")
    print(f"trustcopy over {MAX_RSS_MB:.0f} MB: {', '.join(over) if over else 'none'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
