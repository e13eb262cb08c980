"""Acceptance audit of issues 2 (foundation) and 9 (seams), session 27.

Each test here covers a gap the audit found: a requirement no test proved through the real
CLI, or a bad input that got the wrong answer. Expected answers come from skopeo 1.9.3 /
containers/image (stated in each test), not from trustcopy's own output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from imagefactory import example_image, write_oci

# -- global options: --command-timeout takes skopeo's (Go's time.ParseDuration) values -------------


@pytest.fixture
def layout(tmp_path: Path) -> str:
    """A one-image oci: layout (the bundled example image) named ``v1``."""
    write_oci({"v1": example_image()}, str(tmp_path / "src"))
    return f"oci:{tmp_path / 'src'}:v1"


@pytest.mark.parametrize("value", ["0", "0s"])
def test_command_timeout_zero_means_no_timeout(run_cli: Any, layout: str, value: str) -> None:
    """skopeo arms the timeout only when it is > 0 (cmd/skopeo/main.go commandTimeoutContext):
    ``--command-timeout 0`` runs the command. trustcopy used to abort at once (exit 1)."""
    r = run_cli("--command-timeout", value, "--insecure-policy", "inspect", "--raw", layout)
    assert r.exit_code == 0, r.stderr
    assert '"schemaVersion":2' in r.stdout


@pytest.mark.parametrize("value", ["9999999999h", "2562047h47m16.854775808s"])
def test_command_timeout_longer_than_go_allows_is_a_usage_error(run_cli: Any, layout: str, value: str) -> None:
    """Go's Duration is int64 nanoseconds; skopeo refuses these ("invalid duration"). trustcopy
    used to accept them and die in setitimer with an OverflowError traceback."""
    r = run_cli("--command-timeout", value, "--insecure-policy", "inspect", "--raw", layout)
    assert r.exit_code == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "--command-timeout" in r.stderr and value in r.stderr


@pytest.mark.parametrize("value", ["2562047h47m16.854775807s", ".5s", "+5s", "1\u03bcs5m"])
def test_command_timeout_takes_every_go_duration(run_cli: Any, layout: str, value: str) -> None:
    """Values skopeo 1.9.3 accepts (checked by running it): Go's maximum, fractions without
    digits on one side, a leading "+", both micro signs. ".5s", "5.s", "+5s" and the Greek mu
    used to be refused, and Go's maximum died in setitimer."""
    r = run_cli("--command-timeout", value, "--insecure-policy", "inspect", "--raw", layout)
    assert r.exit_code == 0, r.stderr


def test_command_timeout_refuses_what_go_refuses(run_cli: Any, layout: str) -> None:
    """Go refuses each of these; so does trustcopy, as a usage error naming the flag (exit 2).
    ("-1s" is a deliberate difference: skopeo takes it as no timeout, trustcopy refuses it.)"""
    from trustcopy.cli.common import parse_duration

    r = run_cli("--command-timeout", "1h-2m", "--insecure-policy", "inspect", "--raw", layout)
    assert r.exit_code == 2, r.stderr
    assert "Invalid value for '--command-timeout'" in r.stderr
    for value in ("1e3s", ".s", ".", "s", "", "+", "5 s", "-1s", "1d", "1.2.3s"):
        with pytest.raises(click.BadParameter, match="invalid duration"):
            parse_duration(None, None, value)  # type: ignore[arg-type]


def test_parse_duration_values() -> None:
    """The seconds each form stands for (Go's units; a bare number is seconds, documented)."""
    from trustcopy.cli.common import parse_duration

    def seconds(text: str) -> float | None:
        return parse_duration(None, None, text)  # type: ignore[arg-type]

    assert seconds("1h30m") == 5400.0
    assert seconds(".5s") == 0.5
    assert seconds("5.s") == 5.0
    assert seconds("1m0.5s") == 60.5
    assert seconds("1500ms") == 1.5
    assert seconds("2us") == pytest.approx(2e-6)
    assert seconds("90") == 90.0
    assert seconds("0") == 0.0
    assert seconds("1\u00b5s") == seconds("1\u03bcs") == pytest.approx(1e-6)
    assert seconds("2562047h47m16.854775807s") == pytest.approx(9223372036.854775807)


# -- copy --digestfile: refused before anything is copied when it can never be written ---------------


@pytest.mark.parametrize("link_target", ["missing-dir/digest", "../missing-dir/digest"])
def test_digestfile_through_a_dangling_symlink_into_a_missing_directory_copies_nothing(
    run_cli: Any, layout: str, tmp_path: Path, link_target: str
) -> None:
    """A --digestfile that is a symlink to a file in a directory that does not exist can never be
    written (the file is created where the link leads). Like a missing directory given directly,
    it is refused before the copy: exit 1, a message naming the file, no destination. It used to
    copy the whole image and then fail (exit 1 with the image written)."""
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "digest-link"
    link.symlink_to(link_target)
    dest = tmp_path / "out"
    r = run_cli("--insecure-policy", "copy", "-q", "--digestfile", str(link), layout, f"dir:{dest}")
    assert r.exit_code == 1
    assert r.stderr.startswith("error[file-unwritable]: cannot write digest file ") and str(link) in r.stderr
    assert "missing-dir does not exist" in r.stderr
    assert not dest.exists()


def test_digestfile_through_a_dangling_symlink_into_an_existing_directory_is_written(
    run_cli: Any, layout: str, tmp_path: Path
) -> None:
    """The same link whose target's directory exists: the digest is written where it leads (as
    skopeo's os.WriteFile does), the copy succeeds."""
    link = tmp_path / "digest-link"
    link.symlink_to(tmp_path / "digest")
    r = run_cli("--insecure-policy", "copy", "-q", "--digestfile", str(link), layout, f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 0, r.stderr
    digest = (tmp_path / "digest").read_text()
    copied = run_cli("manifest-digest", str(tmp_path / "out" / "manifest.json")).stdout.strip()
    assert digest.startswith("sha256:") and digest == copied
