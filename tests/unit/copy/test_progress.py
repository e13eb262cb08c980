"""Progress: events are data; the CLI prints skopeo's plain lines off a terminal, live bars on one,
nothing with --quiet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from imagefactory import example_image, write_oci

from trustcopy.cli.render import ProgressRenderer
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.copy.progress import BlobAnnounced, BlobDone, BlobProgress, BlobStarted, Message, plain_line
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name


def _allow() -> PolicyContext:
    """The real engine with an accept-anything policy (these tests are about copying, not policy)."""
    return PolicyContext(insecure_accept_anything_policy())


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    write_oci({"x": example_image()}, str(tmp_path / "layout"))
    return tmp_path / "layout"


def test_events_in_order_per_blob(tmp_path: Path, layout: Path) -> None:
    events: list[object] = []
    lines: list[str] = []
    copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'out'}"), parse_image_name(f"oci:{layout}:x"),
               CopyOptions(progress=events.append, report=lines.append, max_parallel=1))
    started = [e for e in events if isinstance(e, BlobStarted)]
    done = [e for e in events if isinstance(e, BlobDone)]
    assert len(started) == len(done) == len(example_image().blobs)
    for s in started:
        mine = [e for e in events if getattr(e, "info", None) == s.info and not isinstance(e, BlobAnnounced)]
        assert isinstance(mine[0], BlobStarted) and isinstance(mine[-1], BlobDone)
        assert all(isinstance(e, BlobProgress) for e in mine[1:-1])
        assert mine[-1].bytes_read == s.info.size
    # skopeo 1.9.3's plain lines: each layer in the manifest's order, then the config, no outcome.
    manifest = json.loads(example_image().manifest)
    assert lines == ["Getting image source signatures",
                     *(f"Copying blob {la['digest']}" for la in manifest["layers"]),
                     f"Copying config {manifest['config']['digest']}",
                     "Writing manifest to image destination", "Storing signatures"]


def test_plain_renderer_prints_skopeo_lines_and_never_redraws(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              layout: Path) -> None:
    with ProgressRenderer(live=False) as renderer:
        copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'out'}"), parse_image_name(f"oci:{layout}:x"),
                   CopyOptions(progress=renderer))
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    assert out.splitlines()[0] == "Getting image source signatures"
    assert sum(line.startswith("Copying blob sha256:") for line in out.splitlines()) == 2


def test_live_renderer_draws_bars_and_a_summary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                layout: Path) -> None:
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    with ProgressRenderer(live=True) as renderer:
        copy_image(_allow(), parse_image_name(f"dir:{tmp_path / 'out'}"), parse_image_name(f"oci:{layout}:x"),
                   CopyOptions(progress=renderer))
    text = buf.getvalue()
    assert "Copying blob" in text and "done" in text
    assert "Copied 3 blobs" in text


def test_quiet_prints_nothing(run_cli: object, tmp_path: Path, layout: Path, insecure_policy: Path) -> None:
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{layout}:x", f"dir:{tmp_path / 'out'}")  # type: ignore[operator]
    assert r.exit_code == 0 and r.stdout == ""


def test_plain_lines() -> None:
    from trustcopy.digest import Digest
    from trustcopy.types import BlobInfo

    info = BlobInfo(Digest("sha256", "a" * 64), 3)
    assert plain_line(Message("x")) == "x"
    assert plain_line(BlobDone("blob", info, "skipped: already exists")) is None  # (skopeo's bars only)
    assert plain_line(BlobAnnounced("blob", info)) == f"Copying blob sha256:{'a' * 64}"
    assert plain_line(BlobProgress("blob", info, 1)) is None
