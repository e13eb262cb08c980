"""``docker-archive:/dev/stdout > image.tar`` writes the archive, as skopeo does (found in session 29).

With stdout redirected to a regular file, /dev/stdout is a link (through /proc) to that file:
the writer refused it as "a symbolic link". It is now written into, as a pipe is; a
docker-archive still refuses a non-empty file (``>>``), as containers/image does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import example_image, write_oci


@pytest.mark.parametrize(("transport", "name"), [("docker-archive", "/dev/stdout"), ("oci-archive", "/dev/stdout"),
                                                ("docker-archive", "/dev/fd/1"), ("oci-archive", "/proc/self/fd/1")])
def test_an_archive_written_to_redirected_stdout(tmp_path: Path, transport: str, name: str) -> None:
    write_oci({"v1": example_image()}, str(tmp_path / "src"))
    out = tmp_path / "image.tar"
    with out.open("wb") as stdout:
        done = subprocess.run([sys.executable, "-m", "trustcopy", "--insecure-policy", "copy", "-q",
                               f"oci:{tmp_path / 'src'}:v1", f"{transport}:{name}"],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 0, done.stderr
    back = subprocess.run([sys.executable, "-m", "trustcopy", "--insecure-policy", "copy", "-q",
                           f"{transport}:{out}", f"dir:{tmp_path / 'back'}"], capture_output=True, text=True,
                          check=False)
    assert back.returncode == 0, back.stderr
    if shutil.which("skopeo"):  # ./run installs it
        assert subprocess.run(["skopeo", "inspect", f"{transport}:{out}"], capture_output=True,
                              check=False).returncode == 0


def test_a_docker_archive_never_appends_to_a_non_empty_stdout_file(tmp_path: Path) -> None:
    write_oci({"v1": example_image()}, str(tmp_path / "src"))
    out = tmp_path / "image.tar"
    out.write_bytes(b"already here")
    with out.open("ab") as stdout:
        done = subprocess.run([sys.executable, "-m", "trustcopy", "--insecure-policy", "copy", "-q",
                               f"oci:{tmp_path / 'src'}:v1", "docker-archive:/dev/stdout"],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 1 and "error[archive-exists]" in done.stderr
    assert out.read_bytes() == b"already here"
