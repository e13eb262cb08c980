"""A password pasted into an image name never reaches the terminal, whatever the parser makes of it.

Found in session 29: ``docker://bob:pa$$w0rd#X@host/app:1`` was masked as ``***@host/app:1``
and then quoted whole as the "malformed tag" (the grammar reads ``user:password@host/…`` as
name ``user``, tag ``password``), in ``inspect``, ``copy``, ``list-tags``, ``sync``,
``logout``, and three more times under ``--debug``. Every password containing a character a
tag may not hold, or longer than 128 characters, did that.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trustcopy.redact import MASK, mask_userinfo

PASSWORDS = ["p@ssw0rd", "pa$$w0rd#X", "Sup3rSecret", "x" * 200, "tok!en%41+/=", "ghp_" + "A1b2" * 9, "pw",
             "p@ss//w0rd", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]


def _commands(password: str, tmp_path: Path) -> list[list[str]]:
    image = f"bob:{password}@registry.example.com/team/app:1"
    return [
        ["inspect", f"docker://{image}"],
        ["--insecure-policy", "copy", f"docker://{image}", f"dir:{tmp_path / 'out'}"],
        ["--insecure-policy", "copy", f"dir:{tmp_path}", f"docker://{image}"],
        ["list-tags", f"docker://bob:{password}@registry.example.com/team/app"],
        ["--insecure-policy", "verify", "-o", "json", f"docker://{image}"],
        ["--insecure-policy", "verify", "-o", "junit", f"docker://{image}"],
        ["--insecure-policy", "sync", "--src", "docker", "--dest", "dir", image, str(tmp_path / "sync")],
        ["logout", "--authfile", str(tmp_path / "auth.json"), f"bob:{password}@registry.example.com"],
    ]


@pytest.mark.parametrize("password", PASSWORDS, ids=["at-sign", "tag-illegal", "tag-legal", "200-chars", "symbols",
                                                     "token", "short", "at-and-slashes", "aws-secret-key"])
def test_a_password_in_an_image_name_is_never_printed(run_cli: Callable[..., Any], tmp_path: Path,
                                                      password: str) -> None:
    for args in _commands(password, tmp_path):
        r = run_cli(*args)
        assert r.exit_code != 0, args
        shown = r.stdout + r.stderr
        # Not the password, nor a piece of it (a "/" splits it into repository components).
        pieces = password.replace("@", "/").split("/")
        assert not [piece for piece in pieces if len(piece) >= 4 and piece in shown], (args, shown)
        assert "bob:" not in shown, (args, shown)
        assert not (tmp_path / "out").exists() and not (tmp_path / "sync").exists()


def test_nor_under_debug(tmp_path: Path) -> None:
    """``--debug`` prints the traceback (chained errors, each with its message) on top."""
    password = "pa$$w0rd#X"
    done = subprocess.run([sys.executable, "-m", "trustcopy", "--debug", "inspect",
                           f"docker://bob:{password}@registry.example.com/team/app:1"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "InvalidReferenceError" in done.stderr
    assert password not in done.stdout + done.stderr


def test_the_message_says_what_is_wrong(run_cli: Callable[..., Any]) -> None:
    r = run_cli("inspect", "docker://bob:pa$$w0rd#X@registry.example.com/team/app:1")
    assert r.exit_code == 1  # as skopeo for an invalid image name
    assert "error[invalid-reference]" in r.stderr
    assert "holds a user name and password before the registry host" in r.stderr
    assert "--creds" in r.stderr


def test_a_malformed_digest_is_still_explained_as_a_digest(run_cli: Callable[..., Any]) -> None:
    r = run_cli("inspect", "docker://registry.example.com/app:1@sha256:abc")
    assert 'digest "sha256:abc" is malformed' in r.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ('bad "docker://u:longsecret@h/x": tag "longsecret" is malformed',
     f'bad "docker://{MASK}@h/x": tag "{MASK}" is malformed'),
    # Shorter than redact.MIN_SCRUBBED_SECRET: only the userinfo span (masking "pw" everywhere would
    # garble messages; the reference parser no longer quotes such a tag, test above).
    ('"docker://u:pw@h/x" and pw', f'"docker://{MASK}@h/x" and pw'),
    # Tokens hold "/" (base64), passwords "@": masked up to the last "@" that is no digest's.
    ("docker://bob:ab//cd@host/x:1", f"docker://{MASK}@host/x:1"),
    ("bob:p@ss/w0rd@registry.example.com/a:1", f"{MASK}@registry.example.com/a:1"),
    ('"u:p/w@h/a@sha256:' + "a" * 64 + '"', f'"{MASK}@h/a@sha256:' + "a" * 64 + '"'),
    ("oci:https://alice:hunter2/x@reg/x", f"oci:https://{MASK}@reg/x"),
    # A URL whose path holds an "@" (a lookaside store's "app@sha256=…") is no credentials.
    ("http://127.0.0.1:5000/ns/app@sha256=" + "e" * 64 + "/signature-1",
     "http://127.0.0.1:5000/ns/app@sha256=" + "e" * 64 + "/signature-1"),
    ("docker://alice:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@host/a/b:t", f"docker://{MASK}@host/a/b:t"),
    # A local path with an "@" is no credential, and nothing else is masked.
    ('"oci:/srv/l:v1@beta" longsecret', '"oci:/srv/l:v1@beta" longsecret'),
])
def test_mask_userinfo_masks_the_password_where_it_is_quoted_again(text: str, expected: str) -> None:
    assert mask_userinfo(text) == expected
