"""Images and lists at the sizes the caps allow: legitimate big work must stay linear.

Measured by hand at full size (25,000 layers, 10,000 instances) against skopeo 1.9.3; these
tests use the sizes that show each problem, so the default run stays short.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import OCI_INDEX, Layer, make_image, make_index, make_tar, write_oci

SHARED_LAYER = Layer(make_tar([("f", b"shared\n")]))


def _big_index(path: Path, instances: int) -> None:
    """An OCI layout whose one tag is an index over ``instances`` single-layer images."""
    images = [(make_image([SHARED_LAYER], env=[f"I={i}"]), {"architecture": f"arch{i}", "os": "linux"})
              for i in range(instances)]
    index, blobs = make_index(images)
    write_oci({}, str(path))
    blob_dir = path / "blobs" / "sha256"
    for digest, data in {**blobs, _sha256(index): index}.items():
        (blob_dir / digest.split(":", 1)[1]).write_bytes(data)
    entry = {"mediaType": OCI_INDEX, "digest": _sha256(index), "size": len(index),
             "annotations": {"org.opencontainers.image.ref.name": "t"}}
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def _sha256(data: bytes) -> str:
    """sha256 digest string of ``data``."""
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


class _ScandirCounter:
    """Counts the directory entries every ``os.scandir`` in the process yields."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.entries = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        counter = self
        inner = self.real(*args, **kwargs)

        class _Wrapped:
            def __enter__(self) -> _Wrapped:
                inner.__enter__()
                return self

            def __exit__(self, *exc: object) -> None:
                inner.__exit__(*exc)

            def __iter__(self) -> Iterator[os.DirEntry[str]]:
                return self

            def __next__(self) -> os.DirEntry[str]:
                entry: os.DirEntry[str] = next(inner)
                counter.entries += 1
                return entry

            def close(self) -> None:
                inner.close()

        return _Wrapped()


@pytest.mark.parametrize("dest_kind", ["oci", "dir"])
def test_copy_all_of_a_big_index_reads_each_directory_entry_a_bounded_number_of_times(
        tmp_path: Path, insecure_policy: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch, dest_kind: str) -> None:
    """Writing each instance's manifest used to rescan the whole staging directory for abandoned
    staging files: quadratic in the instances (2,000: 4 of 35 s; 10,000 would be minutes)."""
    instances = 300
    src = tmp_path / "src"
    _big_index(src, instances)
    counter = _ScandirCounter(os.scandir)
    monkeypatch.setattr(os, "scandir", counter)
    dest = f"oci:{tmp_path / 'out'}:t" if dest_kind == "oci" else f"dir:{tmp_path / 'out'}"
    res = run_cli("--policy", str(insecure_policy), "copy", "-q", "--all", f"oci:{src}:t", dest)
    assert res.exit_code == 0, res.stderr
    # Linear: a few scans of directories holding O(instances) entries, not one per instance.
    assert counter.entries < 40 * instances, counter.entries
    if dest_kind == "oci":
        names = set(os.listdir(tmp_path / "out" / "blobs" / "sha256"))
        assert len(names) == 2 * instances + 2  # manifests + configs, the shared layer, the index
    else:
        manifests = [n for n in os.listdir(tmp_path / "out") if n.endswith("manifest.json")]
        assert len(manifests) == instances + 1
        assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".")]
