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


class _FormatDest:
    """A destination that stores some signature formats only (as docker:// with or without attachments)."""

    def __init__(self, refused: set[str]) -> None:
        from trustcopy.transports.alltransports import parse_image_name

        self.reference = parse_image_name("docker://registry.example/ns/app:1")
        self.refused = refused
        self.asked: list[set[str]] = []

    def supports_signature_formats(self, formats: set[str]) -> str | None:
        self.asked.append(set(formats))
        bad = formats & self.refused
        return f"cannot store {sorted(bad)}" if bad else None


@pytest.mark.parametrize(("refused", "carried", "sign", "code"), [
    (set(), ["simple-signing", "sigstore-json"], "both", None),
    ({"sigstore-json"}, ["sigstore-json"], "none", "signatures-unsupported"),
    ({"sigstore-json"}, ["simple-signing"], "sigstore", "sigstore-signing-unsupported"),
    ({"sigstore-json"}, ["simple-signing"], "gpg", None),
    ({"simple-signing"}, [], "gpg", "signatures-unsupported"),
    ({"simple-signing"}, [], "sigstore", None),
], ids=["all-storable", "carried-sigstore", "new-sigstore", "gpg-only", "new-gpg", "sigstore-only"])
def test_signatures_are_checked_by_format_before_anything_is_written(
        refused: set[str], carried: list[str], sign: str, code: str | None) -> None:
    from trustcopy.copy.options import CopyOptions
    from trustcopy.copy.single import check_signatures_storable
    from trustcopy.errors import SignatureError
    from trustcopy.signature.formats import SigstoreSignature, SimpleSigning

    sigs = [SimpleSigning(b"\x88x") if f == "simple-signing" else SigstoreSignature("a/b", b"p") for f in carried]
    options = CopyOptions(sign_by="F" * 40 if sign in ("gpg", "both") else None,
                          sign_by_sigstore_private_key="key" if sign in ("sigstore", "both") else None)
    dest = _FormatDest(refused)
    if code is None:
        check_signatures_storable(dest, sigs, options)  # type: ignore[arg-type]
        return
    with pytest.raises(SignatureError) as info:
        check_signatures_storable(dest, sigs, options)  # type: ignore[arg-type]
    assert info.value.code == code
    assert ("--remove-signatures" in (info.value.hint or "")) is (code == "signatures-unsupported" and bool(carried))
    if code == "sigstore-signing-unsupported":
        assert "use-sigstore-attachments" in (info.value.hint or "")
