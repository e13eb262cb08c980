"""Copies compared with skopeo 1.9.3 byte for byte: each case runs the real skopeo and trustcopy on the
same source and compares the destinations (manifest, config, blob set, file names, index.json, archive
members and their order) and the exit codes.

Where the two differ on purpose the case names the line of docs/from-skopeo.md ("Conversions and
layer compression") that says so and asserts both sides' outcome, so a change of either shows.
Layer bytes that either tool compresses differ by design (trustcopy's gzip is ISA-L's, its zstd
libzstd's; skopeo's are Go's): such cases compare every file with each compressed blob replaced by
its algorithm and uncompressed content, and every reference to it (digest, size, file name) rewritten
the same way, up to index.json.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import zstandard
from imagefactory import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Layer,
    make_image,
    make_index,
    make_tar,
    sha256,
    write_dir,
    write_oci,
)

pytestmark = pytest.mark.skopeo

ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _layers() -> list[Layer]:
    return [Layer(make_tar([("etc/motd", b"hello\n" * 50)])), Layer(make_tar([("bin/tool", b"\x7fELF" + b"t" * 300)]))]


def _put(lay: Path, data: bytes) -> str:
    (lay / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (lay / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()).write_bytes(data)
    return sha256(data)


def _index(lay: Path, manifest: bytes, media_type: str) -> None:
    digest = _put(lay, manifest)
    (lay / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    (lay / "index.json").write_bytes(_dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": media_type, "digest": digest, "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))


def _oci_zstd(lay: Path) -> None:
    layers = _layers()
    blobs = [zstandard.ZstdCompressor(level=3).compress(la.tar) for la in layers]
    config = make_image(layers).config
    manifest = _dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                       "layers": [{"mediaType": ZSTD_LAYER, "digest": sha256(b), "size": len(b)} for b in blobs]})
    for b in [config, *blobs]:
        _put(lay, b)
    _index(lay, manifest, OCI_MANIFEST)


def _oci_multiarch(lay: Path) -> None:
    images = [(make_image([Layer(make_tar([(f"arch-{a}", a.encode() * 40)]))], arch=a, variant=v),
               {"architecture": a, "os": "linux", **({"variant": v} if v else {})})
              for a, v in (("amd64", None), ("arm64", "v8"), ("arm", "v7"))]
    index, blobs = make_index(images)
    for b in blobs.values():
        _put(lay, b)
    _index(lay, index, OCI_INDEX)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: The blob of a throwaway ("empty") schema1 layer: an empty tar (1024 NUL bytes), gzipped.
EMPTY_GZIP_LAYER = gzip.compress(b"\0" * 1024, mtime=0)


def _schema1(path: Path, *, signed: bool) -> None:
    """A dir: image with a schema1 manifest; signed: a libtrust-style JWS by a fixed P-256 key.

    Two layers and, newest, a throwaway entry (an ENV step: the empty gzip layer) carrying the
    config, its ``throwaway`` flag and a key ToSchema2Config drops (``Size``)."""
    blobs = [la.blob for la in _layers()] + [EMPTY_GZIP_LAYER]
    ids = [hashlib.sha256(f"layer-{i}".encode()).hexdigest() for i in range(len(blobs))]
    history = []
    for i in range(len(blobs)):
        v1: dict[str, object] = {"id": ids[i], "created": f"2024-01-01T00:00:0{i}.5+02:00",
                                 "container_config": {"Cmd": [f"/bin/sh -c #(nop) layer {i} <&>"]}}
        if i:
            v1["parent"] = ids[i - 1]
        if i == len(blobs) - 1:
            v1.update({"architecture": "amd64", "os": "linux", "throwaway": True, "Size": 0, "author": "é",
                       "config": {"Cmd": ["/bin/sh"], "Env": ["A=1"], "Labels": {"b": "2", "a": "1"}}})
        history.append({"v1Compatibility": json.dumps(v1, indent=1)})
    doc = {"schemaVersion": 1, "name": "example/app", "tag": "1", "architecture": "amd64",
           "fsLayers": [{"blobSum": sha256(b)} for b in reversed(blobs)], "history": list(reversed(history))}
    body = json.dumps(doc, indent=3).encode()
    if signed:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        key = ec.derive_private_key(1234567, ec.SECP256R1())
        pub = key.public_key().public_numbers()
        cut = len(body) - 2  # the payload ends with "\n}"; formatTail restores it
        protected = _b64url(json.dumps({"formatLength": cut, "formatTail": _b64url(body[cut:]),
                                        "time": "2024-01-01T00:00:00Z"}).encode())
        r, s = decode_dss_signature(key.sign(f"{protected}.{_b64url(body)}".encode(), ec.ECDSA(hashes.SHA256())))
        jwk = {"crv": "P-256", "kty": "EC", "x": _b64url(pub.x.to_bytes(32, "big")),
               "y": _b64url(pub.y.to_bytes(32, "big"))}
        sigs = json.dumps([{"header": {"jwk": jwk, "alg": "ES256"}, "protected": protected,
                            "signature": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}], indent=3)
        body = body[:cut] + b',\n   "signatures": ' + sigs.replace("\n", "\n   ").encode() + body[cut:]
    path.mkdir(parents=True)
    for blob in blobs:
        (path / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    (path / "manifest.json").write_bytes(body)
    (path / "version").write_text("Directory Transport Version: 1.1\n")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """name → source reference; the same inputs for both tools."""
    root = tmp_path_factory.mktemp("sources")
    write_oci({"t": make_image(_layers())}, str(root / "oci-gzip"))
    _oci_zstd(root / "oci-zstd")
    write_oci({"t": make_image([Layer(la.tar, compressed=False) for la in _layers()])}, str(root / "oci-plain"))
    write_dir(make_image(_layers(), docker=True), str(root / "dir-v2s2"))
    _schema1(root / "dir-v2s1", signed=False)
    _schema1(root / "dir-v2s1-signed", signed=True)
    _oci_multiarch(root / "oci-index")
    write_oci({"t": make_image(_layers())}, str(root / "oa"))
    with tarfile.open(root / "oa.tar", "w") as tar:
        for p in sorted((root / "oa").rglob("*")):
            tar.add(p, arcname=str(p.relative_to(root / "oa")), recursive=False)
    r = subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--additional-tag", "example.com/app:2",
                        f"oci:{root}/oci-gzip:t", f"docker-archive:{root}/da.tar:example.com/app:1"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return {"oci-gzip": f"oci:{root}/oci-gzip:t", "oci-zstd": f"oci:{root}/oci-zstd:t",
            "oci-plain": f"oci:{root}/oci-plain:t", "dir-v2s2": f"dir:{root}/dir-v2s2",
            "dir-v2s1": f"dir:{root}/dir-v2s1", "dir-v2s1-signed": f"dir:{root}/dir-v2s1-signed",
            "oci-index": f"oci:{root}/oci-index:t", "oci-archive": f"oci-archive:{root}/oa.tar:t",
            "docker-archive": f"docker-archive:{root}/da.tar:example.com/app:2"}


# -- comparing destinations ---------------------------------------------------------------

def _uncompressed(data: bytes) -> tuple[str, bytes] | None:
    if data[:2] == b"\x1f\x8b":
        return "gzip", gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd", zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return None


def canonical(files: dict[str, bytes]) -> dict[str, bytes]:
    """files (name → bytes, in order) with each compressed blob replaced by its algorithm and uncompressed
    digest, and references to it (digest, the size beside it, the hex in names) rewritten; manifests so
    changed are renamed in turn, up to index.json."""
    out = dict(files)
    tokens: dict[str, str] = {}
    for name, data in files.items():
        got = _uncompressed(data)
        if got is not None:
            token = f"{got[0]}-{hashlib.sha256(got[1]).hexdigest()}"
            tokens[hashlib.sha256(data).hexdigest()] = token
            out[name] = token.encode()
    for _ in range(4):
        if not tokens:
            break
        renamed: dict[str, bytes] = {}
        changed: dict[str, str] = {}
        for old_name, before in out.items():
            name, data = old_name, before
            for hexd, token in tokens.items():
                h, t = hexd.encode(), token.encode()
                data = re.sub(rb'"digest":\s*"sha256:' + h + rb'",(\s*)"size":\s*\d+',
                              rb'"digest":"' + t + rb'",\1"size":"' + t + rb'"', data)
                data = re.sub(rb'"size":\s*\d+,(\s*)"digest":\s*"sha256:' + h + rb'"',
                              rb'"size":"' + t + rb'",\1"digest":"' + t + rb'"', data)
                data = data.replace(h, t)
                name = name.replace(hexd, token)
            base = name.rsplit("/", 1)[-1]
            if data != before and re.fullmatch(r"[0-9a-f]{64}", base):
                changed[base] = "m-" + hashlib.sha256(data).hexdigest()
            renamed[name] = data
        out, tokens = renamed, changed
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _members(data: bytes) -> tuple[dict[str, bytes], list[tuple[str, int, int, bytes]]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    return files, [(m.name, m.mode, m.uid, m.type) for m in members]


ACCEPT = ", ".join(["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])


def _registry_tree(host: str, repo: str) -> dict[str, bytes]:
    """The tag's manifest, and every manifest and blob reachable from it, by digest."""
    def get(path: str) -> bytes:
        req = urllib.request.Request(f"http://{host}/v2/{repo}/{path}", headers={"Accept": ACCEPT})
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.read()  # type: ignore[no-any-return]

    out: dict[str, bytes] = {}

    def walk(ref: str, label: str) -> None:
        out[label] = get(f"manifests/{ref}")
        doc = json.loads(out[label])
        for d in doc.get("manifests", []):
            walk(d["digest"], d["digest"])
        for d in [doc.get("config"), *doc.get("layers", [])]:
            if d:
                out[d["digest"]] = get(f"blobs/{d['digest']}")
    walk("x", "tag x")
    return out


def _dest(kind: str, base: Path, tool: str, host: str) -> str:
    return {"dir": f"dir:{base}/{tool}", "oci": f"oci:{base}/{tool}:x",
            "docker-archive": f"docker-archive:{base}/{tool}.tar:example.com/out:1",
            "oci-archive": f"oci-archive:{base}/{tool}.tar:x", "docker": f"docker://{host}/{tool}:x"}[kind]


def _result(kind: str, base: Path, tool: str, host: str) -> Any:
    if kind in ("dir", "oci"):
        return _tree(base / tool)
    if kind == "docker":
        return _registry_tree(host, tool)
    return (base / f"{tool}.tar").read_bytes()


def _both(run_cli: Any, tmp_path: Path, host: str, source: str, kind: str, options: list[str]) -> tuple[Any, Any]:
    """Copy with skopeo then trustcopy; returns ((exit, stderr) per tool)."""
    common = ["--dest-tls-verify=false", *options, source]
    sk = subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", *common, _dest(kind, tmp_path, "sk", host)],
                        capture_output=True, text=True, check=False, timeout=120)
    tc = run_cli("--insecure-policy", "copy", "-q", *common, _dest(kind, tmp_path, "tc", host))
    return (sk.returncode, sk.stderr), (tc.exit_code, tc.stderr)


SAME, MODULO = "same", "same modulo compression"
#: As SAME, except that both tools sign the rewritten schema1 manifest by a throw-away key of their own
#: (trustcopy/manifest/schema1sign.py): the same payload, so the same manifest digest, other signatures.
UNSIGNED_SCHEMA1 = "same but for each tool's throw-away schema1 signature"
#: (source, destination kind, options, expectation). An expectation is SAME (byte for byte), MODULO
#: (byte for byte but for the bytes of layers either tool compressed: docs/ARCHITECTURE.md, "gzip output
#: comes from ISA-L"), or (skopeo's exit, trustcopy's exit, trustcopy's error code or "", why).
CASES: list[tuple[str, str, list[str], Any]] = [
    # plain copies, every source
    ("oci-gzip", "dir", [], SAME), ("oci-gzip", "oci", [], SAME), ("oci-gzip", "docker-archive", [], SAME),
    ("oci-zstd", "dir", [], SAME), ("oci-zstd", "oci", [], SAME),
    ("oci-plain", "dir", [], SAME), ("oci-plain", "oci", [], MODULO), ("oci-plain", "docker-archive", [], SAME),
    ("dir-v2s2", "dir", [], SAME), ("dir-v2s2", "oci", [], SAME), ("dir-v2s2", "docker-archive", [], SAME),
    ("dir-v2s1", "dir", [], SAME), ("dir-v2s1-signed", "dir", [], SAME),
    ("dir-v2s1-signed", "dir", ["--remove-signatures"], SAME),
    ("docker-archive", "dir", [], SAME), ("docker-archive", "oci", [], MODULO),
    ("docker-archive", "docker-archive", [], SAME),
    ("oci-archive", "dir", [], SAME), ("oci-archive", "oci", [], SAME),
    # --format
    ("oci-gzip", "dir", ["--format", "v2s2"], SAME), ("dir-v2s2", "dir", ["--format", "oci"], SAME),
    ("oci-gzip", "docker-archive", ["--format", "v2s2"], SAME), ("oci-archive", "dir", ["--format", "v2s2"], SAME),
    ("oci-gzip", "docker-archive", ["--format", "oci"], (1, 1, "manifest-type-unsupported", "both refuse")),
    # --dest-compress*, --dest-decompress, --dest-oci-accept-uncompressed-layers
    ("oci-plain", "dir", ["--dest-compress"], MODULO), ("oci-gzip", "dir", ["--dest-decompress"], SAME),
    ("oci-gzip", "oci", ["--dest-decompress"], SAME), ("oci-zstd", "dir", ["--dest-decompress"], SAME),
    ("oci-plain", "oci", ["--dest-oci-accept-uncompressed-layers"], SAME),
    ("oci-gzip", "oci", ["--dest-compress-format", "gzip", "--dest-compress-level", "1"], SAME),
    ("oci-gzip", "oci", ["--dest-compress-format", "zstd"], MODULO),
    ("oci-plain", "oci", ["--dest-compress-format", "zstd", "--dest-compress-level", "19"], MODULO),
    ("oci-zstd", "oci", ["--dest-compress-format", "gzip"], MODULO),
    ("dir-v2s2", "oci", ["--dest-compress-format", "zstd"], MODULO),
    # lists: --all, --multi-arch, --override-*
    ("oci-index", "oci", [], SAME), ("oci-index", "dir", [], SAME), ("oci-index", "oci", ["--all"], SAME),
    ("oci-index", "dir", ["--all"], SAME), ("oci-index", "oci", ["--multi-arch", "system"], SAME),
    ("oci-index", "oci", ["--multi-arch", "all"], SAME),
    ("oci-index", "oci", ["--override-arch", "arm64"], SAME),
    ("oci-index", "dir", ["--override-arch", "arm", "--override-variant", "v7"], SAME),
    ("oci-index", "docker-archive", ["--override-arch", "arm64"], SAME),
    ("oci-index", "oci", ["--override-os", "windows"], (1, 1, "", "no instance for windows: both fail")),
    ("oci-index", "oci", ["--multi-arch", "index-only"],
     (0, 2, "unsupported-option", "docs/from-skopeo.md: options not built are refused")),
    # --preserve-digests
    ("oci-gzip", "dir", ["--preserve-digests"], SAME), ("oci-index", "oci", ["--all", "--preserve-digests"], SAME),
    ("oci-gzip", "docker-archive", ["--preserve-digests"], (1, 1, "manifest-conversion-refused", "both refuse")),
    # deliberate differences (docs/from-skopeo.md, "Conversions and layer compression")
    ("oci-gzip", "dir", ["--format", "v2s1"], (0, 2, "unsupported-option", "schema1 is never written")),
    ("oci-gzip", "dir", ["--format", "v2s2", "--preserve-digests"],
     (0, 1, "manifest-conversion-refused", "skopeo ignores --format when it may not convert")),
    ("dir-v2s2", "oci", ["--preserve-digests"],
     (0, 1, "manifest-conversion-refused", "skopeo writes a schema2 manifest into the layout")),
    ("oci-gzip", "oci", ["--format", "v2s2"],
     (0, 1, "manifest-type-unsupported", "skopeo writes a schema2 manifest into the layout")),
    ("oci-zstd", "dir", ["--format", "v2s2"], (1, 0, "", "zstd layers become schema2 as in newer skopeo")),
    ("oci-zstd", "docker-archive", [], (1, 0, "", "zstd layers become schema2 as in newer skopeo")),
    ("oci-gzip", "docker-archive", ["--dest-compress-format", "zstd"],
     (0, 1, "manifest-layer-compression-unsupported", "skopeo ignores the zstd request")),
    # schema1 sources: converted (config, manifest, the throwaway layer's blob, file names) as skopeo
    ("dir-v2s1", "oci", [], SAME), ("dir-v2s1-signed", "oci", [], SAME),
    ("dir-v2s1-signed", "dir", ["--format", "v2s2"], SAME), ("dir-v2s1", "dir", ["--format", "oci"], SAME),
    ("dir-v2s1", "docker-archive", [], SAME), ("dir-v2s1-signed", "docker-archive", ["--format", "v2s2"], SAME),
    ("dir-v2s1", "oci", ["--dest-decompress"], SAME),
    ("dir-v2s1", "dir", ["--format", "v2s2", "--dest-decompress"], SAME),
    ("dir-v2s1", "dir", ["--dest-compress"], SAME),  # (its layers are gzip already: nothing changes)
    ("dir-v2s1", "dir", ["--dest-decompress"], UNSIGNED_SCHEMA1),
    ("dir-v2s1-signed", "dir", ["--dest-decompress"], UNSIGNED_SCHEMA1),
    ("dir-v2s1", "oci", ["--preserve-digests"],
     (0, 1, "manifest-conversion-refused", "skopeo writes a schema1 manifest into the layout")),
]


def _ids(case: tuple[Any, ...]) -> str:
    options = case[2] if len(case) > 2 else case[1]
    return f"{case[0]}->{case[1] if len(case) > 2 else ''}{''.join(' ' + o for o in options)}"


def _schema1_payload(manifest: bytes) -> bytes:
    """A signed schema1 manifest without its signatures: the payload its JWS signs (libtrust's
    ``formatLength`` bytes, then ``formatTail``)."""
    protected = json.loads(manifest)["signatures"][0]["protected"]
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    tail = base64.urlsafe_b64decode(header["formatTail"] + "=" * (-len(header["formatTail"]) % 4))
    return manifest[:header["formatLength"]] + tail


def _check(expect: Any, kind: str, results: tuple[Any, Any], sk: Any, tc: Any) -> None:
    (sk_exit, sk_err), (tc_exit, tc_err) = results
    if expect == UNSIGNED_SCHEMA1:
        assert (sk_exit, tc_exit) == (0, 0), (sk_err, tc_err)
        assert b'"signatures"' in sk["manifest.json"] and b'"signatures"' in tc["manifest.json"]
        assert _schema1_payload(tc["manifest.json"]) == _schema1_payload(sk["manifest.json"])
        assert tc["manifest.json"] != sk["manifest.json"]
        assert {**tc, "manifest.json": b""} == {**sk, "manifest.json": b""}
        return
    if expect in (SAME, MODULO):
        assert (sk_exit, tc_exit) == (0, 0), (sk_err, tc_err)
        if isinstance(sk, bytes):  # an archive: members, their order and headers
            (sk_files, sk_heads), (tc_files, tc_heads) = _members(sk), _members(tc)
            if expect == SAME:
                assert tc == sk, (sk_heads, tc_heads)
            else:
                assert list(canonical(tc_files).items()) == list(canonical(sk_files).items())
        elif expect == SAME:
            assert tc == sk
        else:
            assert tc != sk  # (else the case is SAME)
            assert canonical(tc) == canonical(sk)
        return
    want_sk, want_tc, code, _why = expect
    assert (sk_exit, tc_exit) == (want_sk, want_tc), (sk_err, tc_err)
    if want_sk:
        assert "level=fatal" in sk_err
    if want_tc:
        error = tc_err[tc_err.find("error["):] if "\nerror[" in tc_err else tc_err  # (after retry warnings)
        assert error.startswith(f"error[{code}]" if code else "error["), tc_err
        assert "Traceback" not in tc_err


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_local_destinations_match_skopeo(run_cli: Any, tmp_path: Path, sources: dict[str, str],
                                         case: tuple[str, str, list[str], Any]) -> None:
    source, kind, options, expect = case
    results = _both(run_cli, tmp_path, "unused", sources[source], kind, options)
    done = results[0][0] == 0 and results[1][0] == 0
    sk = _result(kind, tmp_path, "sk", "") if done else None
    tc = _result(kind, tmp_path, "tc", "") if done else None
    _check(expect, kind, results, sk, tc)


@pytest.mark.parametrize("case", [("oci-gzip", []), ("dir-v2s2", []), ("oci-index", ["--all"]),
                                  ("oci-zstd", ["--dest-compress-format", "gzip"]), ("dir-v2s1", []),
                                  ("dir-v2s1-signed", ["--dest-decompress"])], ids=_ids)
def test_oci_archives_hold_what_skopeos_hold(run_cli: Any, tmp_path: Path, sources: dict[str, str],
                                             case: tuple[str, list[str]]) -> None:
    """Same members with the same contents; their order and modes differ on purpose (docs/archives.md,
    "oci-archive:": ``oci-layout`` first, blobs as they come, ``index.json`` last; skopeo tars a
    temporary layout with its files' times)."""
    source, options = case
    results = _both(run_cli, tmp_path, "unused", sources[source], "oci-archive", options)
    assert (results[0][0], results[1][0]) == (0, 0), results
    (sk_files, _), (tc_files, tc_heads) = (_members(_result("oci-archive", tmp_path, t, "")) for t in ("sk", "tc"))
    assert canonical(tc_files) == canonical(sk_files)
    names = [h[0] for h in tc_heads if h[3] == tarfile.REGTYPE]
    assert names[0] == "oci-layout" and names[-1] == "index.json"


def test_docker_archive_dest_compress_is_small_disk_mode(run_cli: Any, tmp_path: Path, sources: dict[str, str]) -> None:
    """--dest-compress: skopeo ignores it for docker-archive:, trustcopy writes the same members in
    small-disk mode (docs/ARCHITECTURE.md, "--dest-compress means small-disk mode for docker-archive")."""
    results = _both(run_cli, tmp_path, "unused", sources["oci-gzip"], "docker-archive", ["--dest-compress"])
    assert (results[0][0], results[1][0]) == (0, 0), results
    (sk_files, sk_heads), (tc_files, tc_heads) = (_members(_result("docker-archive", tmp_path, t, ""))
                                                  for t in ("sk", "tc"))
    assert len(tc_heads) == len(sk_heads)
    layers = [(_uncompressed(d) or ("", b""))[1] for d in tc_files.values() if _uncompressed(d) is not None]
    assert len(layers) == 2 and all(layer in sk_files.values() for layer in layers)  # the same tars, gzip-compressed
    config = next(n for n in sk_files if n.endswith(".json") and "/" not in n)
    assert tc_files[config] == sk_files[config]


REGISTRY_CASES: list[tuple[str, str, list[str], Any]] = [
    ("oci-gzip", "docker", [], SAME), ("dir-v2s2", "docker", [], SAME), ("oci-index", "docker", ["--all"], SAME),
    ("oci-gzip", "docker", ["--format", "v2s2"], SAME), ("oci-plain", "docker", [], MODULO),
    ("docker-archive", "docker", [], MODULO), ("oci-index", "docker", ["--override-arch", "arm64"], SAME),
    ("oci-zstd", "docker", [], SAME),  # (1.9.3 keeps zstd too: no recompression without a request)
    # (re-signed for the name tc:x by both tools: this registry has schema1 disabled and answers 500;
    # tests/integration/test_schema1_registry_s26.py pushes to one that accepts schema1)
    ("dir-v2s1", "docker", [], (1, 1, "", "the registry refuses schema1 manifests")),
]


@pytest.mark.registry
@pytest.mark.parametrize("case", REGISTRY_CASES, ids=_ids)
def test_registry_destinations_match_skopeo(run_cli: Any, tmp_path: Path, sources: dict[str, str],
                                            plain_registry: Any, case: tuple[str, str, list[str], Any]) -> None:
    # A registry of its own per case: skopeo's blob-info cache must not know any blob of it.
    source, kind, options, expect = case
    host = plain_registry.host
    results = _both(run_cli, tmp_path, host, sources[source], kind, options)
    done = results[0][0] == 0 and results[1][0] == 0
    sk = _registry_tree(host, "sk") if done else None
    tc = _registry_tree(host, "tc") if done else None
    _check(expect, kind, results, sk, tc)
