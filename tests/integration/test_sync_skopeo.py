"""``trustcopy sync`` and ``skopeo sync`` (1.9.3) on the same YAML and registry: the same images, the same names.

skopeo is the reference for the YAML (tags such as ``1.10`` stay text), the tag filters
and the destination naming (basename, or the full name with ``--scoped``), in both
directions (registry → dir, dir → registry).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer, make_image, make_tar
from registry_fixtures import RegistryServer, fast_sys, push_image

pytestmark = [pytest.mark.registry, pytest.mark.skopeo]

YAML = """\
{host}:
  tls-verify: false
  images:
    lib/app: ["1.10", "v1.2"]
    solo: []
  images-by-tag-regex:
    other/deep/app: '^2'
"""


def tree(root: Path) -> dict[str, str]:
    """Image directory (relative) → digest of its manifest.json."""
    return {str(p.parent.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("manifest.json")}


@pytest.mark.parametrize("scoped", [False, True], ids=["basename", "scoped"])
def test_same_images_and_names_as_skopeo(run_cli: Any, tmp_path: Path, plain_registry: RegistryServer,
                                         second_plain_registry: RegistryServer, scoped: bool) -> None:
    img = make_image([Layer(make_tar([("f.txt", b"interop\n")]))])
    for name in ("lib/app:1.10", "lib/app:1.1", "lib/app:v1.2", "other/deep/app:2", "other/deep/app:3",
                 "solo:latest", "solo:edge"):
        push_image(plain_registry.host, name, img, fast_sys())
    yaml = tmp_path / "sync.yaml"
    yaml.write_text(YAML.format(host=plain_registry.host))
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    flag = ["--scoped"] if scoped else []
    theirs, ours = tmp_path / "skopeo", tmp_path / "trustcopy"
    done = subprocess.run(["skopeo", "--policy", str(policy), "sync", "--src", "yaml", "--dest", "dir", *flag,
                           str(yaml), str(theirs)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    r = run_cli("--policy", str(policy), "sync", "--src", "yaml", "--dest", "dir", *flag, str(yaml), str(ours))
    assert r.exit_code == 0, r.stderr
    assert tree(ours) == tree(theirs)
    assert len(tree(ours)) == 5

    # And back, from the directory skopeo wrote, to a registry: the same repositories and tags.
    import json
    import urllib.request

    for tool, prefix in (("skopeo", "back-s"), ("trustcopy", "back-t")):
        args = ["--policy", str(policy), "sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false",
                str(theirs), f"{second_plain_registry.host}/{prefix}"]
        if tool == "skopeo":
            done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
        else:
            r = run_cli(*args)
            assert r.exit_code == 0, r.stderr
    with urllib.request.urlopen(f"{second_plain_registry.url}/v2/_catalog", timeout=10) as resp:
        repos = json.load(resp)["repositories"]
    assert sorted(r.removeprefix("back-s/") for r in repos if r.startswith("back-s/")) == \
        sorted(r.removeprefix("back-t/") for r in repos if r.startswith("back-t/")) == ["app", "solo"]
    for repo in ("app", "solo"):
        tags = []
        for prefix in ("back-s", "back-t"):
            with urllib.request.urlopen(f"{second_plain_registry.url}/v2/{prefix}/{repo}/tags/list",
                                        timeout=10) as resp:
                tags.append(sorted(json.load(resp)["tags"]))
        assert tags[0] == tags[1], repo
