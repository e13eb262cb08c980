"""``sync`` exits 2 when a missing image stopped it, as newest skopeo (found in session 29).

Newest skopeo's sync returns the copy's error without ``--keep-going`` (cmd/skopeo/sync.go),
and its main exits 2 for an image that does not exist (``isNotFoundImageError``); with
``--keep-going`` it returns a summary error: 1. trustcopy's ``copy`` and ``inspect`` already
did this; ``sync`` always exited 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image
from registry_fixtures import RegistryServer, fast_sys, push_image

pytestmark = pytest.mark.registry


@pytest.mark.parametrize(("keep_going", "status"), [(False, 2), (True, 1)])
def test_a_missing_image_stops_the_sync_with_skopeos_status(run_cli: Callable[..., Any], tmp_path: Path,
                                                             plain_registry: RegistryServer, insecure_policy: Path,
                                                             keep_going: bool, status: int) -> None:
    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    args = ["--policy", str(insecure_policy), "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false"]
    r = run_cli(*args, *(["--keep-going"] if keep_going else []), f"{plain_registry.host}/app:nope",
                str(tmp_path / "out"))
    assert r.exit_code == status, r.stderr
    assert "error[image-not-found]" in r.stdout + r.stderr


def test_other_failures_stay_1(run_cli: Callable[..., Any], tmp_path: Path, plain_registry: RegistryServer) -> None:
    reject = tmp_path / "reject.json"
    reject.write_text('{"default": [{"type": "reject"}]}')
    push_image(plain_registry.host, "app:1", example_image(), fast_sys())
    r = run_cli("--policy", str(reject), "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false",
                f"{plain_registry.host}/app:1", str(tmp_path / "out"))
    assert r.exit_code == 1, r.stderr
