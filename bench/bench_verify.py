"""Signature verification throughput: 200 signatures against one key set.

Signs N distinct payloads with the keys-example key (in a throw-away GNUPGHOME), then:

- trustcopy: one KeyringCache, N ``verify_simple_signing`` calls. The key set is
  imported once (the benchmark counts python-gnupg ``import_keys`` calls and fails if
  there are more than one), then each signature costs one ``gpg --decrypt`` run.
- skopeo: ``skopeo standalone-verify`` in a loop, as a user would script it (each run
  starts a new process and gpgme context), when skopeo is installed.

    python bench/bench_verify.py [--count 200]

Prints signatures per second for both and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ROOT / "keys-example"


def _gpg(home: str, *args: str, data: bytes | None = None) -> bytes:
    cmd = ["gpg", "--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", *args]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def _make_signatures(home: str, work: Path, count: int) -> tuple[bytes, list[tuple[Path, Path, str]]]:
    """``count`` (manifest, signature, reference) triples signed like standalone-sign does."""
    from trustcopy.digest import Digest
    from trustcopy.signature.payload import build_simple_payload

    fpr = (KEYS / "FINGERPRINT").read_text().strip()
    out = []
    for i in range(count):
        manifest = work / f"manifest-{i}.json"
        manifest.write_bytes(b'{"schemaVersion": 2, "bench": %d}' % i)
        reference = f"docker.io/bench/image:{i}"
        payload = build_simple_payload(Digest.from_bytes(manifest.read_bytes()), reference, creator="bench",
                                       timestamp=0)
        sig = work / f"manifest-{i}.sig"
        sig.write_bytes(_gpg(home, "--local-user", fpr, "--sign", data=payload))
        out.append((manifest, sig, reference))
    return (KEYS / "pubring.gpg").read_bytes(), out


def bench_trustcopy(key: bytes, items: list[tuple[Path, Path, str]]) -> float:
    """Seconds to verify every item through one KeyringCache; asserts a single key import."""
    import gnupg

    from trustcopy.signature.formats import SimpleSigning
    from trustcopy.signature.gpg import KeyringCache
    from trustcopy.signature.simple import verify_simple_signing

    imports = 0
    original = gnupg.GPG.import_keys

    def counting(self: gnupg.GPG, *args: object, **kwargs: object) -> object:
        nonlocal imports
        imports += 1
        return original(self, *args, **kwargs)

    gnupg.GPG.import_keys = counting  # type: ignore[method-assign]
    start = time.perf_counter()
    with KeyringCache() as cache:
        for manifest, sig, reference in items:
            data = manifest.read_bytes()

            def digest_ok(d: object, data: bytes = data) -> None:
                from trustcopy.digest import Digest

                assert d == Digest.from_bytes(data)

            def reference_ok(r: str, reference: str = reference) -> None:
                assert r == reference

            verify_simple_signing(SimpleSigning(sig.read_bytes()), cache.get([key]),
                                  validate_signed_docker_reference=reference_ok,
                                  validate_signed_docker_manifest_digest=digest_ok)
    elapsed = time.perf_counter() - start
    gnupg.GPG.import_keys = original  # type: ignore[method-assign]
    if imports != 1:
        raise SystemExit(f"expected one key import for {len(items)} signatures, saw {imports}")
    return elapsed


def bench_skopeo(home: str, items: list[tuple[Path, Path, str]]) -> float:
    """Seconds for ``skopeo standalone-verify`` over every item, one process each."""
    fpr = (KEYS / "FINGERPRINT").read_text().strip()
    env = {"GNUPGHOME": home, "PATH": "/usr/bin:/bin"}
    start = time.perf_counter()
    for manifest, sig, reference in items:
        subprocess.run(["skopeo", "standalone-verify", str(manifest), reference, fpr, str(sig)],
                       env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="number of signatures (default 200)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="tcb-", dir="/tmp")
    try:
        _gpg(home, "--import", str(KEYS / "secret-key.asc"))
        with tempfile.TemporaryDirectory() as tmp:
            key, items = _make_signatures(home, Path(tmp), args.count)
            results = {"trustcopy (one KeyringCache)": bench_trustcopy(key, items)}
            if shutil.which("skopeo"):
                results["skopeo standalone-verify loop"] = bench_skopeo(home, items)
            else:
                print("skopeo not installed: trustcopy only", file=sys.stderr)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    print(f"{'verifier':32} {'seconds':>8} {'sigs/s':>8}")
    for name, seconds in results.items():
        print(f"{name:32} {seconds:8.2f} {args.count / seconds:8.1f}")
    if len(results) == 2:
        tc, sk = results.values()
        print(f"trustcopy is {sk / tc:.1f}x the throughput of the skopeo loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
