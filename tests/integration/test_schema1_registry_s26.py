"""Schema1 images pushed to a registry that verifies schema1 signatures (Distribution 2.x with
``compatibility: schema1: enabled: true``), trustcopy against skopeo 1.9.3.

A schema1 manifest that a copy rewrites must be signed again, or the registry refuses it:
(a) copied to another repository or tag, its embedded ``name``/``tag`` become the destination's
(containers/image's ``EmbeddedDockerReference`` update), (b) copied with its layers
(de)compressed, its ``fsLayers`` change. Both tools sign the new payload with a throw-away key
(trustcopy/manifest/schema1sign.py). Each case runs skopeo against one registry and trustcopy
against another (the same repository names, so the payloads can be compared byte for byte):
both are accepted, the payloads are the same bytes (the keys, signatures and times differ),
trustcopy's ``--digestfile`` names the registry's digest, and ``skopeo inspect`` reads
trustcopy's push.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_fixtures import RegistryServer, _require_registry, running
from test_conversions_vs_skopeo_s26 import _schema1

from trustcopy.digest import Digest
from trustcopy.manifest.digest import jws_payload

pytestmark = [pytest.mark.skopeo, pytest.mark.registry]

SCHEMA1_ACCEPT = "application/vnd.docker.distribution.manifest.v1+prettyjws"


@pytest.fixture
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RegistryServer]]:
    """tool → its own schema1-enabled registry."""
    _require_registry()
    with running(RegistryServer(tmp_path_factory.mktemp("s1-sk"), schema1=True)) as sk, \
            running(RegistryServer(tmp_path_factory.mktemp("s1-tc"), schema1=True)) as tc:
        yield {"sk": sk, "tc": tc}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("s1-sources")
    _schema1(root / "signed", signed=True)  # name "example/app", tag "1"
    _schema1(root / "unsigned", signed=False)
    out = {"signed": f"dir:{root}/signed", "unsigned": f"dir:{root}/unsigned"}
    for name in ("signed", "unsigned"):  # uncompressed layers (skopeo's own rewrite, signed by its throw-away key)
        done = _skopeo("copy", "-q", "--dest-decompress", out[name], f"dir:{root}/{name}-plain")
        assert done.returncode == 0, done.stderr
        out[f"{name}-plain"] = f"dir:{root}/{name}-plain"
    return out


def _manifest(host: str, repo: str, tag: str) -> tuple[bytes, str]:
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": SCHEMA1_ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.read(), answer.headers["Docker-Content-Digest"]


def _source_doc(source: str) -> dict[str, Any]:
    return json.loads(Path(source.removeprefix("dir:"), "manifest.json").read_bytes())  # type: ignore[no-any-return]


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, check=False,
                          timeout=120)


def _both(run_cli: Any, tmp_path: Path, registries: dict[str, RegistryServer], source: str | None, dest: str,
          options: list[str]) -> dict[str, tuple[int, str]]:
    """Copy with each tool to its own registry; ``source`` None: from the same registry, ``docker://REG/src:1``.
    Returns tool → (exit, stderr)."""
    results = {}
    for tool, reg in registries.items():
        src = source or f"docker://{reg.host}/example/app:1"
        common = ["--src-tls-verify=false", "--dest-tls-verify=false", *options, src, f"docker://{reg.host}/{dest}"]
        if tool == "sk":
            done = _skopeo("copy", "-q", *common)
            results[tool] = (done.returncode, done.stderr)
        else:
            got = run_cli("--insecure-policy", "copy", "-q", "--digestfile", str(tmp_path / "digest"), *common)
            results[tool] = (got.exit_code, got.stderr)
    return results


def _gunzipped(host: str, repo: str, payload: bytes) -> bytes:
    """``payload`` with each blobSum replaced by the digest of the blob's uncompressed bytes: the layers
    each tool gzipped differ by design (docs/ARCHITECTURE.md, "gzip output comes from ISA-L")."""
    for layer in json.loads(payload)["fsLayers"]:
        with urllib.request.urlopen(f"http://{host}/v2/{repo}/blobs/{layer['blobSum']}", timeout=10) as answer:
            plain = gzip.decompress(answer.read())
        payload = payload.replace(layer["blobSum"].encode(), str(Digest.from_bytes(plain)).encode())
    return payload


def _compare(registries: dict[str, RegistryServer], tmp_path: Path, dest: str, *, compressed: bool = False) -> bytes:
    """Both pushes accepted with the same payload (``compressed``: but for the layers each tool gzipped);
    returns trustcopy's payload."""
    repo, tag = dest.rsplit(":", 1)
    (sk, sk_digest), (tc, tc_digest) = (_manifest(registries[t].host, repo, tag) for t in ("sk", "tc"))
    assert b'"signatures"' in sk and b'"signatures"' in tc
    payload = jws_payload(tc)
    if compressed:
        assert _gunzipped(registries["tc"].host, repo, payload) == _gunzipped(registries["sk"].host, repo,
                                                                              jws_payload(sk))
    else:
        assert payload == jws_payload(sk)
        assert tc_digest == sk_digest
    assert tc != sk  # (another key, another signature)
    assert tc_digest == str(Digest.from_bytes(payload)) == (tmp_path / "digest").read_text()
    doc = json.loads(payload)
    assert (doc["name"], doc["tag"]) == (repo, tag)
    inspected = _skopeo("inspect", "--tls-verify=false", f"docker://{registries['tc'].host}/{dest}")
    assert inspected.returncode == 0, inspected.stderr
    info = json.loads(inspected.stdout)
    assert info["Digest"] == tc_digest and info["Tag"] == tag
    return payload


@pytest.mark.parametrize("source", ["signed", "unsigned"])
@pytest.mark.parametrize("dest", ["other:2", "example/app:3", "deep/er/name:latest"])
def test_copy_to_another_name_embeds_it_and_re_signs(run_cli: Any, tmp_path: Path, registries: dict[str, Any],
                                                     sources: dict[str, str], source: str, dest: str) -> None:
    """(a): the embedded name/tag become the destination's; before, trustcopy pushed the source's
    signed manifest unchanged (the registry refused it: the name does not match) and an unsigned one as it was."""
    results = _both(run_cli, tmp_path, registries, sources[source], dest, [])
    assert results["sk"][0] == 0 and results["tc"][0] == 0, results
    payload = _compare(registries, tmp_path, dest)
    assert json.loads(payload)["fsLayers"] == _source_doc(sources[source])["fsLayers"]  # (layers unchanged)


def test_registry_to_registry_to_another_name(run_cli: Any, tmp_path: Path, registries: dict[str, Any],
                                              sources: dict[str, str]) -> None:
    """(a) from a registry: the source pushed as it is (its own name), then copied to another name."""
    for reg in registries.values():
        done = _skopeo("copy", "-q", "--dest-tls-verify=false", sources["signed"],
                       f"docker://{reg.host}/example/app:1")
        assert done.returncode == 0, done.stderr
    results = _both(run_cli, tmp_path, registries, None, "mirror/app:1", [])
    assert results["sk"][0] == 0 and results["tc"][0] == 0, results
    _compare(registries, tmp_path, "mirror/app:1")


@pytest.mark.parametrize("source", ["signed-plain", "unsigned-plain"])
def test_changed_layers_are_signed(run_cli: Any, tmp_path: Path, registries: dict[str, Any],
                                   sources: dict[str, str], source: str) -> None:
    """(b): a registry wants compressed layers, so the uncompressed ones are gzipped (same name and
    tag); before, trustcopy pushed the new payload unsigned and the registry refused it ("manifest invalid")."""
    results = _both(run_cli, tmp_path, registries, sources[source], "example/app:1", [])
    assert results["sk"][0] == 0 and results["tc"][0] == 0, results
    payload = _compare(registries, tmp_path, "example/app:1", compressed=True)
    sums = [f["blobSum"] for f in json.loads(payload)["fsLayers"]]
    before = [f["blobSum"] for f in _source_doc(sources[source])["fsLayers"]]
    assert len(sums) == len(before) == 3 and sums != before  # (as skopeo changes them)


@pytest.mark.parametrize("options", [["--preserve-digests"]])
def test_a_manifest_that_may_not_change_is_refused(run_cli: Any, tmp_path: Path, registries: dict[str, Any],
                                                   sources: dict[str, str], options: list[str]) -> None:
    """Both refuse to rewrite the embedded name when the manifest may not change; nothing is pushed."""
    results = _both(run_cli, tmp_path, registries, sources["signed"], "other:2", options)
    assert results["sk"][0] != 0 and "would change the manifest" in results["sk"][1]
    assert results["tc"][0] != 0 and "manifest-conversion-refused" in results["tc"][1], results
    assert "embedded Docker reference" in results["tc"][1]
    for reg in registries.values():
        with pytest.raises(urllib.error.HTTPError):
            _manifest(reg.host, "other", "2")
