"""The air-gapped mirror journey end to end, through the CLI only, as docs/cookbook.md and
docs/archives.md tell an operator to run it (session 27).

Connected side: a vendor publishes signed images to a real registry (GPG signatures in a
lookaside store, cosign-style sigstore attachments made with ``generate-sigstore-key``; two
tags and a multi-arch index); ``sync --src yaml --dest dir --all --scoped`` pulls them, with
their signatures, into a transfer tree, writing each blob once (peak disk is the final size).
Archives and layouts have no place for signatures: they refuse, pointing to ``dir:``.

Far side: the tree is copied, ``sync --src dir --dest docker`` pushes it into a TLS +
htpasswd registry whose registries.d names a lookaside store and sigstore attachments,
``verify --require-signed`` judges it there with a policy requiring both signatures, and
skopeo 1.9.3 verifies the GPG signatures with the same store (its sigstore support is off, so
it only reads).

Then the ways users break it: each must fail naming the image, file and reason, exit 1,
and leave nothing (no tag, no signature) at the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gpghelpers import GPGHome
from imagefactory import Layer, make_image, make_index, make_tar, random_layer, write_oci
from registry_fixtures import (
    _HTPASSWD,
    USERS,
    Fault,
    FaultProxy,
    RegistryServer,
    _require_registry,
    free_port,
    make_tls_material,
    running,
)
from registry_signing import write_oci_list

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = USERS["alice"]
CREDS = f"alice:{PASSWORD}"


@dataclass
class Journey:
    """Everything the connected side made, shared by the tests of this module."""

    tmp: Path
    gpg: GPGHome
    vendor_fpr: str
    src: RegistryServer
    dst: RegistryServer
    certs: Path
    #: the transfer tree ``sync --src yaml --dest dir --scoped`` wrote
    tree: Path
    #: the largest size (bytes) of tree + TMPDIR seen while that sync ran, and the final size
    peak: int
    final: int
    samples: int
    digests: dict[str, str]

    def env(self) -> dict[str, str]:
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "HOME": str(self.tmp / "home"), "GNUPGHOME": self.gpg.path,
                "PYTHONPATH": pythonpath, "TMPDIR": str(self.tmp / "tmpdir"), "XDG_RUNTIME_DIR": str(self.tmp / "home")}

    def tc(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``trustcopy ARGS`` as a user runs it."""
        return subprocess.run([sys.executable, "-m", "trustcopy", *args], env=self.env(), capture_output=True,
                              text=True, timeout=120, check=False)

    def skopeo(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["skopeo", *args], env=self.env(), capture_output=True, text=True, timeout=120,
                              check=False)

    @property
    def vendor_dir(self) -> Path:
        """Where the tree keeps the vendor's images (``--scoped``: REGISTRY/NAMESPACE)."""
        return self.tree / self.src.host / "vendor"

    def far_policy(self, images_root: Path, *, key: str = "vendor.gpg", target: str | None = None) -> Path:
        """The far side's policy: each ``dir:`` image of ``images_root`` needs the vendor's GPG and sigstore
        signatures for the vendor's repository; the target's ``vendor`` namespace needs them for the
        vendor's names (``remapIdentity``)."""
        def reqs(identity: dict[str, str]) -> list[dict[str, Any]]:
            return [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(self.tmp / key),
                     "signedIdentity": identity},
                    {"type": "sigstoreSigned", "keyPath": str(self.tmp / "vendor.pub"), "signedIdentity": identity}]

        dirs = {str(images_root / name): reqs({"type": "exactRepository",
                                               "dockerRepository": f"{self.src.host}/vendor/{name.split(':')[0]}"})
                for name in ("app:1", "app:2", "multi:1", "moving:1")}
        targets = {f"{host}": reqs({"type": "remapIdentity", "prefix": host, "signedPrefix": f"{self.src.host}/vendor"})
                   for host in (f"{self.dst.host}/vendor", *([target] if target else []))}
        path = self.tmp / f"far-policy-{len(list(self.tmp.glob('far-policy-*')))}.json"
        path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"dir": dirs, "docker": targets}}))
        return path

    def target(self, *args: str) -> list[str]:
        """Options that reach the TLS + htpasswd target (its CA, alice's credentials)."""
        return ["--dest-cert-dir", str(self.certs), "--dest-creds", CREDS, *args]

    def target_tags(self, repo: str) -> list[str]:
        resp = httpx.get(f"https://{self.dst.host}/v2/{repo}/tags/list", auth=("alice", PASSWORD),
                         verify=ssl.create_default_context(cafile=self.certs / "ca.crt"))
        return sorted(resp.json().get("tags") or []) if resp.status_code == 200 else []


def _tree_size(*roots: Path) -> int:
    total = 0
    for root in roots:
        for base, _, files in os.walk(root):
            for name in files:
                with contextlib.suppress(FileNotFoundError):  # renamed or removed while counting
                    total += os.lstat(os.path.join(base, name)).st_size
    return total


def _publish(j: Journey, layout: Path, name: str, repo_tag: str, *, sign: bool = True, all_: bool = False) -> None:
    """The vendor's release: push ``oci:LAYOUT:NAME`` with its GPG signature, then add a sigstore one
    (skopeo's rule, kept by trustcopy: one --sign-passphrase-file serves one signing key)."""
    dest = f"docker://{j.src.host}/vendor/{repo_tag}"
    opts = ["--all"] if all_ else []
    sign_opts = ["--sign-by", j.vendor_fpr] if sign else []
    r = j.tc("--policy", str(j.tmp / "vendor-policy.json"), "--registries.d", str(j.tmp / "vendor-regd"), "copy", "-q",
             *opts, "--dest-tls-verify=false", *sign_opts, f"oci:{layout}:{name}", dest)
    assert r.returncode == 0, r.stderr
    if sign:
        r = j.tc("--policy", str(j.tmp / "vendor-policy.json"), "--registries.d", str(j.tmp / "vendor-regd"), "copy",
                 "-q", *opts, "--src-tls-verify=false", "--dest-tls-verify=false", "--sign-by-sigstore-private-key",
                 str(j.tmp / "vendor.private"), "--sign-passphrase-file", str(j.tmp / "pass"), dest, dest)
        assert r.returncode == 0, r.stderr


def _fetch(j: Journey, *extra: str) -> subprocess.CompletedProcess[str]:
    return j.tc("--policy", str(j.tmp / "fetch-policy.json"), "--registries.d", str(j.tmp / "vendor-regd"), "sync",
                "--src", "yaml", "--dest", "dir", "--all", "--scoped", *extra, str(j.tmp / "mirror.yaml"), str(j.tree))


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    _require_registry()
    tmp = tmp_path_factory.mktemp("airgap")
    for d in ("home", "tmpdir", "vendor-regd", "far-regd", "tree"):
        (tmp / d).mkdir()
    gpg = GPGHome()
    dst_work = tmp / "dst-registry"
    tls = make_tls_material(dst_work / "tls")
    (dst_work / "htpasswd").write_text(_HTPASSWD)
    dst_auth = {"htpasswd": {"realm": "far", "path": str(dst_work / "htpasswd")}}
    try:
        with running(RegistryServer(tmp / "src-registry")) as src, \
                running(RegistryServer(dst_work, tls=tls, auth=dst_auth)) as dst:
            vendor_fpr = gpg.gen_key("Vendor <release@vendor.example>")
            other_fpr = gpg.gen_key("Someone Else <else@example.com>")
            (tmp / "vendor.gpg").write_bytes(gpg.export(vendor_fpr))
            (tmp / "other.gpg").write_bytes(gpg.export(other_fpr))
            certs = tmp / "certs"
            certs.mkdir()
            shutil.copy(tls.ca_cert, certs / "ca.crt")
            j = Journey(tmp, gpg, vendor_fpr, src, dst, certs, tmp / "tree", 0, 0, 0, {})
            (tmp / "pass").write_text("pw\n")
            r = j.tc("generate-sigstore-key", "--output-prefix", str(tmp / "vendor"), "--passphrase-file",
                     str(tmp / "pass"))
            assert r.returncode == 0, r.stderr
            # The vendor's side: a store its lookaside serves, sigstore attachments in the registry.
            (tmp / "vendor-regd" / "vendor.yaml").write_text(
                f"docker:\n  {src.host}:\n    lookaside: file://{tmp}/vendor-sigs\n"
                f"    lookaside-staging: file://{tmp}/vendor-sigs\n    use-sigstore-attachments: true\n")
            (tmp / "far-regd" / "far.yaml").write_text(
                f"docker:\n  {dst.host}:\n    lookaside: file://{tmp}/far-sigs\n"
                f"    lookaside-staging: file://{tmp}/far-sigs\n    use-sigstore-attachments: true\n")
            build = tmp / "build"
            write_oci({"1": make_image([random_layer(300_000, 1), Layer(make_tar([("v", b"1\n")]))]),
                       "2": make_image([random_layer(300_000, 1), Layer(make_tar([("v", b"2\n")]))]),
                       "moving-1": make_image([Layer(make_tar([("v", b"moving 1\n")]))]),
                       "moving-2": make_image([Layer(make_tar([("v", b"moving 2\n")]))]),
                       "moving-unsigned": make_image([Layer(make_tar([("v", b"not signed\n")]))])}, str(build))
            index, blobs = make_index([(make_image([random_layer(200_000, 3)], arch="amd64"),
                                        {"architecture": "amd64", "os": "linux"}),
                                       (make_image([random_layer(200_000, 4)], arch="arm64", variant="v8"),
                                        {"architecture": "arm64", "os": "linux", "variant": "v8"})])
            j.digests["multi:1"] = write_oci_list(tmp / "build-multi", "1", index, blobs)
            (tmp / "vendor-policy.json").write_text(json.dumps({
                "default": [{"type": "reject"}],
                "transports": {"oci": {str(build): [{"type": "insecureAcceptAnything"}],
                                       str(tmp / "build-multi"): [{"type": "insecureAcceptAnything"}]},
                               "docker": {f"{src.host}/vendor": [{"type": "insecureAcceptAnything"}]}}}))
            _publish(j, build, "1", "app:1")
            _publish(j, build, "2", "app:2")
            _publish(j, build, "moving-1", "moving:1")
            _publish(j, tmp / "build-multi", "1", "multi:1", all_=True)
            # The connected side's policy: leaving the vendor needs both of its signatures.
            ident = {"type": "matchRepository"}
            (tmp / "fetch-policy.json").write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
                "docker": {f"{src.host}/vendor": [
                    {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(tmp / "vendor.gpg"),
                     "signedIdentity": ident},
                    {"type": "sigstoreSigned", "keyPath": str(tmp / "vendor.pub"), "signedIdentity": ident}]}}}))
            # Named tags: a repository's tag list also holds the sha256-HEX.sig attachment tags.
            (tmp / "mirror.yaml").write_text(
                f"{src.host}:\n  tls-verify: false\n  images:\n    vendor/app: ['1', '2']\n"
                f"    vendor/multi: ['1']\n    vendor/moving: ['1']\n")
            # Sample the disk use (tree + TMPDIR) while the transfer tree is written.
            sizes: list[int] = []
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    sizes.append(_tree_size(j.tree, tmp / "tmpdir"))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                r = _fetch(j, "--parallel-images", "1")
            finally:
                done.set()
                sampler.join()
            assert r.returncode == 0, r.stdout + r.stderr
            j.peak, j.samples = max(sizes), len(sizes)
            j.final = _tree_size(j.tree, tmp / "tmpdir")
            for name in ("app:1", "app:2", "moving:1"):
                j.digests[name] = "sha256:" + hashlib.sha256(
                    (j.vendor_dir / name / "manifest.json").read_bytes()).hexdigest()
            yield j
    finally:
        gpg.close()


def _signatures(image_dir: Path, prefix: str = "") -> list[str]:
    return sorted(p.name for p in image_dir.iterdir() if p.name.startswith(f"{prefix}signature-"))


def _far_copy(j: Journey, name: str) -> Path:
    """"Carry" the tree to the far side: a plain recursive copy; returns its vendor directory."""
    dest = j.tmp / "far" / name
    shutil.copytree(j.tree, dest, symlinks=True)
    return dest / j.src.host / "vendor"


def _push(j: Journey, policy: Path, source: Path, namespace: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return j.tc("--policy", str(policy), "--registries.d", str(j.tmp / "far-regd"), "sync", "--src", "dir",
                "--dest", "docker", "--all", "--scoped", *j.target(*extra), str(source), f"{j.dst.host}/{namespace}")


def _far_signature_files(j: Journey, namespace: str) -> list[str]:
    store = j.tmp / "far-sigs" / namespace
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()) if store.is_dir() else []


def test_connected_side_carries_both_signatures_in_the_tree_writing_each_blob_once(journey: Journey) -> None:
    j = journey
    for name in ("app:1", "app:2", "moving:1"):
        assert _signatures(j.vendor_dir / name) == ["signature-1", "signature-2"], name
    multi = j.vendor_dir / "multi:1"
    assert _signatures(multi) == ["signature-1", "signature-2"]
    instances = [e["digest"] for e in json.loads((multi / "manifest.json").read_bytes())["manifests"]]
    for digest in instances:
        assert _signatures(multi, digest.split(":")[1] + ".") == [f"{digest.split(':')[1]}.signature-{i}"
                                                                 for i in (1, 2)]
    for image_dir in (multi, j.vendor_dir / "app:1"):
        assert (image_dir / "signature-1").read_bytes()[:1] != b"\x00"  # simple signing: a bare GPG message
        assert (image_dir / "signature-2").read_bytes().startswith(b"\x00sigstore-json\n")
    # Streamed: never a second (unpacked, staged) copy beside the image, nothing left in TMPDIR.
    assert j.samples > 0 and j.final > 1_000_000
    assert j.peak <= j.final + 64 * 1024, (j.peak, j.final)
    assert list((j.tmp / "tmpdir").iterdir()) == []
    assert not list(j.tree.rglob(".trustcopy-staging-*"))


@pytest.mark.parametrize("dest", ["oci-archive:{d}/multi.tar:multi", "oci:{d}/layout:multi"])
def test_archives_cannot_carry_signatures_and_say_to_use_dir(journey: Journey, dest: str) -> None:
    j = journey
    out = j.tmp / "archive-out"
    out.mkdir(exist_ok=True)
    name = dest.format(d=out)
    r = j.tc("--policy", str(j.tmp / "fetch-policy.json"), "--registries.d", str(j.tmp / "vendor-regd"), "copy", "-q",
             "--all", "--src-tls-verify=false", f"docker://{j.src.host}/vendor/multi:1", name)
    assert r.returncode == 1
    assert f"error[signatures-unsupported]: cannot copy signatures to {name}" in r.stderr, r.stderr
    assert "copy to dir:" in r.stderr, r.stderr
    assert list(out.iterdir()) == []


def test_far_side_pushes_verifies_and_skopeo_agrees(journey: Journey) -> None:
    j = journey
    images = _far_copy(j, "main")
    policy = j.far_policy(images)
    # The docs' order: check what arrived, then push it.
    r = j.tc("--policy", str(policy), "--require-signed", "verify", "--all",
             *(f"dir:{images / n}" for n in ("app:1", "app:2", "multi:1")))
    assert r.returncode == 0, r.stdout + r.stderr
    r = _push(j, policy, images, "vendor", "--digestfile", str(j.tmp / "pushed.txt"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("COPIED") == 4, r.stdout
    assert j.target_tags("vendor/app") == sorted(["1", "2", f"{j.digests['app:1'].replace(':', '-')}.sig",
                                                  f"{j.digests['app:2'].replace(':', '-')}.sig"])
    # One GPG signature file per manifest digest (the list and both instances too).
    assert len([f for f in _far_signature_files(j, "vendor") if f.startswith("multi@")]) == 3
    refs = [f"docker://{j.dst.host}/vendor/{n}" for n in ("app:1", "app:2", "multi:1")]
    r = j.tc("--policy", str(policy), "--registries.d", str(j.tmp / "far-regd"), "--require-signed", "verify", "--all",
             "--cert-dir", str(j.certs), "--creds", CREDS, *refs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 instances judged" in r.stdout
    # skopeo 1.9.3 with the same store: GPG verified (its sigstore is off), so a GPG-only policy.
    pol = json.loads(policy.read_text())
    for scope in pol["transports"]["docker"].values():
        scope[:] = [req for req in scope if req["type"] == "signedBy"]
    gpg_only = j.tmp / "far-policy-gpg-only.json"
    gpg_only.write_text(json.dumps(pol))
    for ref in refs:
        out = j.tmp / "skopeo-out" / ref.rsplit("/", 1)[1]
        out.parent.mkdir(exist_ok=True)
        s = j.skopeo("--policy", str(gpg_only), "--registries.d", str(j.tmp / "far-regd"), "copy", "--all",
                     "--src-cert-dir", str(j.certs), "--src-creds", CREDS, ref, f"dir:{out}")
        assert s.returncode == 0, s.stderr
    s = j.skopeo("--policy", str(gpg_only), "--registries.d", str(j.tmp / "far-regd"), "copy", "--src-cert-dir",
                 str(j.certs), "--src-creds", CREDS, refs[0].replace("app:1", "app:2"), f"dir:{j.tmp}/skopeo-wrong")
    assert s.returncode == 0, s.stderr
    s = j.skopeo("inspect", "--cert-dir", str(j.certs), "--creds", CREDS, refs[0])
    assert s.returncode == 0 and json.loads(s.stdout)["Digest"] == j.digests["app:1"], s.stderr
    # A digest the vendor did not sign is refused by skopeo too.
    wrong = json.loads(gpg_only.read_text())
    for scope in wrong["transports"]["docker"].values():
        scope[0]["keyPath"] = str(j.tmp / "other.gpg")
    (j.tmp / "far-policy-other-key.json").write_text(json.dumps(wrong))
    s = j.skopeo("--policy", str(j.tmp / "far-policy-other-key.json"), "--registries.d", str(j.tmp / "far-regd"),
                 "copy", "--src-cert-dir", str(j.certs), "--src-creds", CREDS, refs[0], f"dir:{j.tmp}/skopeo-refused")
    assert s.returncode != 0 and "Source image rejected" in s.stderr, s.stderr

    # Re-running the sync is idempotent: skipped at one HEAD per side; and copying again anyway
    # replaces the signatures rather than adding duplicates.
    before = {p: (j.tmp / "far-sigs" / "vendor" / p).read_bytes() for p in _far_signature_files(j, "vendor")}
    r = _push(j, policy, images, "vendor")
    assert r.returncode == 0 and r.stdout.count("SKIPPED") == 4, r.stdout + r.stderr
    r = _push(j, policy, images, "vendor", "--no-skip-identical")
    assert r.returncode == 0 and r.stdout.count("COPIED") == 4, r.stdout + r.stderr
    assert {p: (j.tmp / "far-sigs" / "vendor" / p).read_bytes() for p in _far_signature_files(j, "vendor")} == before
    sig_tag = j.digests["app:1"].replace(":", "-") + ".sig"
    resp = httpx.get(f"https://{j.dst.host}/v2/vendor/app/manifests/{sig_tag}", auth=("alice", PASSWORD),
                     verify=ssl.create_default_context(cafile=j.certs / "ca.crt"),
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert resp.status_code == 200 and len(resp.json()["layers"]) == 1, resp.text


def _break_missing_signature(images: Path) -> tuple[str, str]:
    (images / "app:1" / "signature-1").unlink()
    return "app:1", "NO_SIGNATURES"


def _break_tampered_manifest(images: Path) -> tuple[str, str]:
    path = images / "app:1" / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion": 2'))
    return "app:1", "DIGEST_MISMATCH"


def _break_no_signature_files(images: Path) -> tuple[str, str]:
    for p in images.rglob("*signature-*"):
        p.unlink()
    return "app:1", "NO_SIGNATURES"


def _break_truncated_blob(images: Path) -> tuple[str, str]:
    biggest = max((p for p in (images / "app:1").iterdir()), key=lambda p: p.stat().st_size)
    os.truncate(biggest, biggest.stat().st_size // 3)
    return "app:1", f"blob sha256:{biggest.name}: size mismatch"


def _break_truncated_instance(images: Path) -> tuple[str, str]:
    instance = next((images / "multi:1").glob("*.manifest.json"))
    os.truncate(instance, 50)
    return "multi:1", f"manifest of instance sha256:{instance.name.split('.')[0]} does not match its digest"


def _break_unsigned_instance(images: Path) -> tuple[str, str]:
    instance = next((images / "multi:1").glob("*.manifest.json")).name.split(".")[0]
    for p in (images / "multi:1").glob(f"{instance}.signature-*"):
        p.unlink()
    return "multi:1", f"{instance}.signature-1"


@pytest.mark.parametrize("case", [_break_missing_signature, _break_tampered_manifest, _break_no_signature_files,
                                  _break_truncated_blob, _break_truncated_instance, _break_unsigned_instance],
                         ids=lambda f: f.__name__.removeprefix("_break_"))
def test_a_broken_tree_is_refused_naming_image_and_reason_and_nothing_reaches_the_target(
        journey: Journey, case: Any) -> None:
    j = journey
    images = _far_copy(j, case.__name__)
    name, reason = case(images)
    namespace = case.__name__.strip("_")
    r = _push(j, j.far_policy(images), images / name, namespace)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if f"dir:{images / name} ->" in x)
    assert line.startswith(("REJECTED", "FAILED")), line
    assert reason in line, line
    repo = name.split(":")[0]
    assert j.target_tags(f"{namespace}/{repo}") == [], "a refused image must not be tagged at the target"
    assert _far_signature_files(j, namespace) == []


def test_wrong_key_in_the_far_policy_names_the_signer_and_the_trusted_key(journey: Journey) -> None:
    j = journey
    images = _far_copy(j, "wrong-key")
    r = _push(j, j.far_policy(images, key="other.gpg"), images / "app:2", "wrongkey")
    assert r.returncode == 1
    assert f"signed by key {j.vendor_fpr}" in r.stdout and "not among the trusted keys" in r.stdout, r.stdout
    assert str(j.tmp / "other.gpg") in r.stdout and "UNKNOWN_KEY" in r.stdout, r.stdout
    assert j.target_tags("wrongkey/app") == []


def test_missing_sigstore_signature_does_not_claim_the_gpg_one_is_missing(journey: Journey) -> None:
    """signature-1 (GPG) is there, signature-2 (sigstore) is not: the message must point at the
    file that is missing, not at signature-1 (it said "looked for the file …/signature-1")."""
    j = journey
    images = _far_copy(j, "no-sigstore")
    (images / "app:2" / "signature-2").unlink()
    r = _push(j, j.far_policy(images), images / "app:2", "nosigstore")
    assert r.returncode == 1
    line = next(x for x in r.stdout.splitlines() if x.startswith("REJECTED"))
    assert "sigstoreSigned" in line and "NO_SIGNATURES" in line, line
    assert f"looked for the file {images / 'app:2' / 'signature-1'}" not in line, line
    assert f"the next, {images / 'app:2' / 'signature-2'}, does not exist" in line, line
    assert j.target_tags("nosigstore/app") == []


def test_target_down_mid_sync_fails_the_rest_and_a_rerun_finishes_without_duplicates(
        journey: Journey, tmp_path_factory: pytest.TempPathFactory) -> None:
    j = journey
    images = _far_copy(j, "down")
    work = tmp_path_factory.mktemp("down-registry")
    (work / "htpasswd").write_text(_HTPASSWD)
    with running(RegistryServer(work, auth={"htpasswd": {"realm": "far", "path": str(work / "htpasswd")}})) as reg:
        proxy = FaultProxy(reg.port).start()
        try:
            regd = j.tmp / "far-regd-down"
            regd.mkdir()
            (regd / "far.yaml").write_text(
                f"docker:\n  {proxy.host}:\n    lookaside: file://{j.tmp}/down-sigs\n"
                f"    lookaside-staging: file://{j.tmp}/down-sigs\n    use-sigstore-attachments: true\n")
            policy = j.far_policy(images, target=f"{proxy.host}/vendor")
            up = reg.port

            tagged = threading.Event()

            def down_after_first_tag(method: str, path: str, headers: dict[str, str]) -> Fault | None:
                # The registry goes away just as the first image's tag is to be written (its last
                # request: the signatures are stored before the tag moves).
                if method == "PUT" and path.endswith("/vendor/app/manifests/1"):
                    tagged.set()
                if tagged.is_set():
                    proxy.upstream_port = free_port()
                return None  # forwarded (to nowhere once down: the connection closes unanswered)

            proxy.rule = down_after_first_tag

            def sync(*extra: str) -> subprocess.CompletedProcess[str]:
                return j.tc("--policy", str(policy), "--registries.d", str(regd), "sync", "--src", "dir", "--dest",
                            "docker", "--all", "--parallel-images", "1", "--retry-times", "0", *extra,
                            "--dest-tls-verify=false", "--dest-creds", CREDS, str(images), f"{proxy.host}/vendor")

            r = sync()
            assert r.returncode == 1, r.stdout + r.stderr
            first = r.stdout.splitlines()[0]
            assert first.startswith(f"FAILED        dir:{images / 'app:1'} -> docker://{proxy.host}/vendor/app:1: "
                                    "error[network]: "), r.stdout
            assert r.stdout.count("NOT ATTEMPTED") == 3, r.stdout
            # The signatures were stored, the tag never moved: the target has no app:1 (never an
            # unsigned one), and the failed copy put the store back as it was (session 29: nothing).
            def verify() -> subprocess.CompletedProcess[str]:
                return j.tc("--policy", str(policy), "--registries.d", str(regd), "--require-signed", "verify",
                            "--tls-verify=false", "--creds", CREDS, f"docker://{proxy.host}/vendor/app:1")

            proxy.rule = lambda m, p, h: None
            proxy.upstream_port = up  # the registry is back
            v = verify()
            assert v.returncode != 0 and "NO_SIGNATURES" not in v.stdout, v.stdout + v.stderr
            assert "image-not-found" in v.stdout + v.stderr, v.stdout + v.stderr
            store = j.tmp / "down-sigs" / "vendor"
            assert not list(store.rglob("signature-*"))
            # A plain rerun finishes (nothing identical to skip).
            r = sync()
            assert r.returncode == 0, r.stdout + r.stderr
            assert r.stdout.count("COPIED") == 4, r.stdout
            v = verify()
            assert v.returncode == 0, v.stdout + v.stderr
            files = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
            assert len(files) == 2 + 1 + 3 and all(f.endswith("/signature-1") for f in files), files
            r = sync()
            assert r.returncode == 0 and r.stdout.count("SKIPPED") == 4, r.stdout + r.stderr
        finally:
            proxy.stop()


def test_a_tag_moved_at_the_source_moves_at_the_target_only_when_signed(journey: Journey) -> None:
    j = journey
    images = _far_copy(j, "moved-before")
    r = _push(j, j.far_policy(images), images / "moving:1", "vendor")
    assert r.returncode == 0, r.stdout + r.stderr
    old = j.digests["moving:1"]
    # The vendor re-tags moving:1 to a new signed build: the next transfer carries it and the target moves.
    _publish(j, j.tmp / "build", "moving-2", "moving:1")
    r = _fetch(j)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "COPIED" in next(x for x in r.stdout.splitlines() if "/vendor/moving:1 ->" in x)
    images = _far_copy(j, "moved-after")
    r = _push(j, j.far_policy(images), images / "moving:1", "vendor")
    assert r.returncode == 0, r.stdout + r.stderr
    new = r.stdout.split()[-1]
    assert new != old and new.startswith("sha256:")
    r = j.tc("--policy", str(j.far_policy(images)), "--registries.d", str(j.tmp / "far-regd"), "--require-signed",
             "verify", "--cert-dir", str(j.certs), "--creds", CREDS, f"docker://{j.dst.host}/vendor/moving:1")
    assert r.returncode == 0 and new in r.stdout, r.stdout + r.stderr
    # Now moved to an unsigned build: refused on the connected side; the tree keeps the signed image.
    _publish(j, j.tmp / "build", "moving-unsigned", "moving:1", sign=False)
    before = sorted((p.name, p.read_bytes()) for p in (j.vendor_dir / "moving:1").iterdir())
    r = _fetch(j, "--keep-going")
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "/vendor/moving:1 ->" in x)
    assert line.startswith("REJECTED") and "NO_SIGNATURES" in line, line
    assert sorted((p.name, p.read_bytes()) for p in (j.vendor_dir / "moving:1").iterdir()) == before
    assert "SKIPPED" in next(x for x in r.stdout.splitlines() if "/vendor/app:1 ->" in x)
