"""Review fixes: standalone-sign's output file (trustcopy/cli/signing.py)."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path
from typing import Any

import pytest

from trustcopy.cli.signing import _write_output
from trustcopy.errors import SignatureError


def _refuse_staging_in(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory we may not create files in (simulated: the suite may run as root)."""
    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if kwargs.get("dir") == str(directory):
            raise PermissionError(errno.EACCES, "Permission denied", str(directory))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_existing_file_in_unwritable_directory_is_written_in_place(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """skopeo (os.WriteFile) and trustcopy before the atomic replace wrote such a file; it failed."""
    out = tmp_path / "sig"
    out.write_bytes(b"old signature")
    _refuse_staging_in(tmp_path, monkeypatch)
    _write_output(str(out), b"new signature")
    assert out.read_bytes() == b"new signature"


def test_new_file_in_unwritable_directory_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "sig"
    _refuse_staging_in(tmp_path, monkeypatch)
    with pytest.raises(SignatureError) as info:
        _write_output(str(out), b"new signature")
    assert info.value.code == "file-unwritable"
    assert str(out) in info.value.message
    assert not out.exists()


def test_writable_directory_still_replaces_atomically(tmp_path: Path) -> None:
    out = tmp_path / "sig"
    out.write_bytes(b"old")
    out.chmod(0o600)
    before = out.stat().st_ino
    _write_output(str(out), b"new")
    assert out.read_bytes() == b"new"
    assert out.stat().st_ino != before  # a rename, not a truncation
    assert out.stat().st_mode & 0o777 == 0o600
