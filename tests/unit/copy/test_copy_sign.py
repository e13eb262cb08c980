"""copy/sign.py: the passphrase file (skopeo's rules) and create_signatures' guard rails."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from trustcopy.copy.sign import create_signatures, read_passphrase_file
from trustcopy.errors import UsageError


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"secret\n", "secret"),
        (b"secret", "secret"),
        (b"first\nsecond\n", "first"),
        (b"with spaces  \n", "with spaces  "),
        (b"crlf\r\n", "crlf\r"),  # skopeo strips only "\n"
        (b"", ""),
        (b"\n", ""),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
    ids=["newline", "no-newline", "first-line-only", "spaces-kept", "cr-kept", "empty", "blank-line", "utf8"],
)
def test_passphrase_file_first_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "pass"
    path.write_bytes(content)
    assert read_passphrase_file(str(path)) == expected


def test_passphrase_from_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"piped\n"))
    writer.start()
    try:
        assert read_passphrase_file(str(fifo)) == "piped"
    finally:
        writer.join(5)


def test_missing_passphrase_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        read_passphrase_file(str(tmp_path / "missing"))
    assert info.value.code == "passphrase-file"


def test_huge_first_line_refused(tmp_path: Path) -> None:
    path = tmp_path / "pass"
    path.write_bytes(b"x" * (1 << 20))
    with pytest.raises(UsageError, match="too long"):
        read_passphrase_file(str(path))


def test_passphrase_never_appears_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "pass"
    path.write_bytes(b"hunter2\xff\n")
    with pytest.raises(UsageError) as info:
        read_passphrase_file(str(path))
    assert "hunter2" not in str(info.value)


def test_no_sign_by_means_no_signatures() -> None:
    assert create_signatures(b"{}", None, sign_by=None, passphrase=None) == []


def test_signing_without_identity_refused() -> None:
    with pytest.raises(UsageError) as info:
        create_signatures(b"{}", None, sign_by="A" * 40, passphrase=None)
    assert info.value.code == "sign-identity-required"
