"""Hostile and broken archives fail cleanly: a named error, nothing at the destination, nothing
written anywhere else, bounded time and memory (the builders are in tests/fixtures/archives)."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from trustcopy.policy import PolicyContext, insecure_accept_anything_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "archives"))
from hostile import EXPECTED_CODES as EXPECTED
from hostile import HOSTILE, valid

from trustcopy.copy.pipeline import copy_image
from trustcopy.errors import TrustcopyError
from trustcopy.transports.alltransports import parse_image_name


def _allow() -> PolicyContext:
    """The real engine with an accept-anything policy (these tests are about copying, not policy)."""
    return PolicyContext(insecure_accept_anything_policy())


def _copy(src: str, dest: str) -> None:
    copy_image(_allow(), parse_image_name(dest), parse_image_name(src))


def test_every_failure_mode_has_an_expectation() -> None:
    assert set(EXPECTED) == set(HOSTILE)


def test_the_valid_archive_copies(tmp_path: Path) -> None:
    _copy(f"docker-archive:{valid(tmp_path)}", f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("mode", sorted(HOSTILE), ids=str)
@pytest.mark.parametrize("dest_kind", ["dir", "docker-archive"])
def test_hostile_archive_fails_cleanly(tmp_path: Path, mode: str, dest_kind: str) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    archive = HOSTILE[mode](fixtures)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / ("image" if dest_kind == "dir" else "image.tar")
    before = set(os.listdir(tmp_path))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()  # CPU, not wall: bounded work, whatever else the machine runs
    with pytest.raises(TrustcopyError) as info:
        _copy(f"docker-archive:{archive}", f"{dest_kind}:{dest}")
    assert time.process_time() - start < 30
    assert info.value.code == EXPECTED[mode], info.value.message
    assert str(archive.name) in info.value.message or "docker-archive" in info.value.message
    # nothing at the destination, no staging left, nothing written beside it or outside
    assert os.listdir(out_dir) == []
    assert set(os.listdir(tmp_path)) == before
    assert not Path("/tmp/trustcopy-absolute-escape").exists()
    assert not (fixtures.parent / "escaped").exists()
    # a 100 MB manifest or a 2 GiB bomb is never held in memory
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mib < 64


def test_oci_archive_applies_the_same_name_rules(tmp_path: Path) -> None:
    archive = HOSTILE["escape-by-name"](tmp_path)
    with pytest.raises(TrustcopyError) as info:
        _copy(f"oci-archive:{archive}", f"dir:{tmp_path / 'out'}")
    assert info.value.code == "archive-unsafe-name"
    assert not (tmp_path / "out").exists()
