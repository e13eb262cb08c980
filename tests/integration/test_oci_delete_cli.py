"""``trustcopy delete oci:LAYOUT:NAME`` (newer skopeo): the entry and its own blobs go, shared blobs stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imagefactory import Layer, example_image, make_image, make_tar, write_oci


def test_delete_from_a_layout(run_cli: Any, tmp_path: Path, insecure_policy: Path) -> None:
    shared = Layer(make_tar([("shared.txt", b"both images have this\n")]))
    own = Layer(make_tar([("own.txt", b"only a has this\n")]))
    a, b, c = make_image([shared, own]), make_image([shared]), example_image()
    write_oci({"a": a, "b": b, "c": c}, str(tmp_path / "lay"))
    blobs = tmp_path / "lay" / "blobs" / "sha256"
    before = {p.name for p in blobs.iterdir()}

    r = run_cli("delete", f"oci:{tmp_path}/lay:a")
    assert r.exit_code == 0, r.stderr
    names = [m["annotations"]["org.opencontainers.image.ref.name"]
             for m in json.loads((tmp_path / "lay" / "index.json").read_text())["manifests"]]
    assert names == ["b", "c"]
    gone = before - {p.name for p in blobs.iterdir()}
    only_a = {a.digest, *a.blobs} - {b.digest, *b.blobs} - {c.digest, *c.blobs}
    assert gone == {d.split(":")[1] for d in only_a}  # a's manifest, config and own layer; not the shared layer
    # what is left still copies; the deleted name is "not found" (exit 2, as newer skopeo)
    assert run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{tmp_path}/lay:b",
                   f"dir:{tmp_path}/b").exit_code == 0
    r = run_cli("inspect", f"oci:{tmp_path}/lay:a")
    assert r.exit_code == 2 and "no image named 'a'" in r.stderr


def test_delete_of_a_missing_name_changes_nothing(run_cli: Any, tmp_path: Path) -> None:
    write_oci({"a": example_image()}, str(tmp_path / "lay"))
    index = (tmp_path / "lay" / "index.json").read_bytes()
    r = run_cli("delete", f"oci:{tmp_path}/lay:nope")
    assert r.exit_code != 0 and "no image named 'nope'" in r.stderr
    assert (tmp_path / "lay" / "index.json").read_bytes() == index
