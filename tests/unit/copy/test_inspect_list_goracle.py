"""``trustcopy inspect`` of a manifest list (``oci:`` layout whose image is an index or a Docker list).

skopeo's inspect (cmd/skopeo/inspect.go) reads the top-level manifest, then
``image.FromUnparsedImage``, which for a list chooses the instance for the platform and parses
*that* manifest (c/image's manifestSchema2FromManifestList / manifestOCI1FromImageIndex); so
``--config``, ``--config --raw`` and the plain output describe the chosen instance, except the
plain output's ``Digest``, which is the digest of the top-level (list) bytes, and ``--raw``
alone, which prints the list's bytes as they are.

The inspect oracle (tests/goracle/inspect) serves one manifest and one config from memory, and
chooses no instance: it is asked with the chosen instance's manifest and config, which is
what containers/image parses after choosing; for the plain output, its ``Digest`` (of the
instance) is replaced by the list's, as inspect.go computes it from the raw top-level manifest.
trustcopy reads the real list (``--override-os linux --override-arch amd64``, so the choice
does not depend on the machine) from an ``oci:`` layout, where exactly one instance is for
linux/amd64 among others for other platforms. Both must print the same bytes or refuse alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_inspect_config_goracle import good_configs
from test_inspect_goracle import (
    MODES,
    OCI,
    SCHEMA2,
    Pairs,
    Raw,
    configs,
    encode,
    expected_code,
    manifest_for,
    run_cli,
)

from trustcopy.errors import TrustcopyError

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("inspect", "containers/image's Inspect()/OCIConfig()/ConfigBlob(), as skopeo inspect")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
#: Platforms that linux/amd64 must not choose.
OTHERS = [{"architecture": "arm64", "os": "linux", "variant": "v8"},
          {"architecture": "arm", "os": "linux", "variant": "v7"},
          {"architecture": "amd64", "os": "windows"},
          {"architecture": "s390x", "os": "linux"},
          {"architecture": "386", "os": "linux"}]
PLATFORM = ["--override-os", "linux", "--override-arch", "amd64"]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layout(root: Path, list_type: str, instances: list[tuple[bytes, bytes, dict[str, str]]]) -> bytes:
    """An oci: layout holding one list of ``instances`` (manifest, config, platform); returns the list bytes."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for manifest, config, platform in instances:
        for blob in (manifest, config):
            (blobs / _sha(blob).partition(":")[2]).write_bytes(blob)
        entries.append({"mediaType": json.loads(manifest)["mediaType"], "size": len(manifest),
                        "digest": _sha(manifest), "platform": platform})
    listed = json.dumps({"schemaVersion": 2, "mediaType": list_type, "manifests": entries}, indent=3).encode()
    (blobs / _sha(listed).partition(":")[2]).write_bytes(listed)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": list_type, "digest": _sha(listed), "size": len(listed)}]}))
    return listed


def _ours(root: Path, args: list[str]) -> tuple[bytes | None, TrustcopyError | None]:
    return run_cli([*PLATFORM, "inspect", *args, f"oci:{root}"])

def _compare(oracle: Oracle, tmp: Path, list_type: str, kind: str, config: bytes, layers: int, others: int,
             position: int, mode: str) -> None:
    manifest = manifest_for(kind, config, layers)
    instances = [(manifest_for(kind, b'{"os":"%d"}' % i, 1), b'{"os":"%d"}' % i, OTHERS[i]) for i in range(others)]
    instances.insert(min(position, others), (manifest, config, {"architecture": "amd64", "os": "linux"}))
    listed = _layout(tmp / "layout", list_type, instances)
    go = oracle.ask({"manifest": base64.b64encode(manifest).decode(), "config": base64.b64encode(config).decode(),
                     "mode": mode})
    ours, error = _ours(tmp / "layout", MODES[mode])
    what = f"mode {mode!r}, list {listed!r}, instance {manifest!r}, config {config!r}"
    if error is not None:
        assert "error" in go, f"{what}: skopeo prints\n{go.get('output')}\nwe fail: {error.code}: {error.message}"
        expected = expected_code(go, error, "config")
        assert error.code == expected, f"{what}: skopeo fails with {go['error']!r}, we {error.code}: {error.message}"
        return
    assert "error" not in go, f"{what}: we print\n{ours!r}\nskopeo fails: {go['stage']}: {go['error']}"
    if mode == "rawconfig":
        expected = base64.b64decode(go.get("raw", ""))
    elif mode == "config":
        expected = go["output"].encode()
    else:  # inspect.go: Digest is the top-level manifest's (the list), the rest the instance's
        instance_digest = f'"Digest": "{_sha(manifest)}"'
        assert go["output"].count(instance_digest) == 1, go["output"]
        expected = go["output"].replace(instance_digest, f'"Digest": "{_sha(listed)}"').encode()
    assert ours == expected, what


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from([(OCI_INDEX, OCI), (DOCKER_LIST, SCHEMA2), (OCI_INDEX, SCHEMA2), (DOCKER_LIST, OCI)]),
       configs() | good_configs(), st.booleans(), st.integers(0, 2), st.integers(0, 3), st.integers(0, 3),
       st.sampled_from(sorted(MODES)))
@example((OCI_INDEX, OCI), Pairs([("architecture", "amd64"), ("os", "linux")]), True, 1, 2, 1, "")
@example((DOCKER_LIST, SCHEMA2), Pairs([("architecture", "amd64"), ("os", "linux")]), True, 1, 3, 3, "config")
@example((DOCKER_LIST, SCHEMA2), Pairs([("os", Raw("1.5"))]), True, 0, 1, 0, "config")  # Go cannot decode it
@example((OCI_INDEX, OCI), Pairs([("os", 1)]), True, 0, 2, 1, "rawconfig")  # the instance's bytes as they are
@example((OCI_INDEX, SCHEMA2), None, True, 2, 1, 1, "")
def test_inspect_of_a_list_describes_the_chosen_instance(
        oracle: Oracle, tmp_path_factory: pytest.TempPathFactory, types: tuple[str, str], config: Any,
        ascii_only: bool, layers: int, others: int, position: int, mode: str) -> None:
    list_type, kind = types
    _compare(oracle, tmp_path_factory.mktemp("list"), list_type, kind, encode(config, ascii_only), layers, others,
             position, mode)


@pytest.mark.parametrize("list_type", [OCI_INDEX, DOCKER_LIST])
def test_raw_inspect_of_a_list_prints_the_list_bytes(tmp_path: Path, list_type: str) -> None:
    config = b'{"architecture":"amd64","os":"linux"}'
    kind = OCI if list_type == OCI_INDEX else SCHEMA2
    listed = _layout(tmp_path / "layout", list_type, [(manifest_for(kind, config, 1), config,
                                                       {"architecture": "amd64", "os": "linux"})])
    ours, error = _ours(tmp_path / "layout", ["--raw"])
    assert error is None
    assert ours == listed  # indented as written: not re-serialized, not the instance


def test_a_list_without_an_instance_for_the_platform_is_refused(tmp_path: Path) -> None:
    """c/image's ChooseInstance fails ("no image found in manifest list for architecture …"); so do we."""
    config = b'{"architecture":"arm64","os":"linux"}'
    _layout(tmp_path / "layout", OCI_INDEX, [(manifest_for(OCI, config, 1), config, OTHERS[0])])
    for args in MODES.values():
        ours, error = _ours(tmp_path / "layout", args)
        assert ours is None and error is not None
        assert error.code == "manifest-platform-not-found"
