"""VerifiedSignature can only come out of a verify function."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.signature.verified import VerifiedSignature, _issue

DIGEST = Digest.parse("sha256:" + "a" * 64)
PACKAGE = Path(__file__).resolve().parents[3] / "trustcopy"
#: The verify functions; nothing else may mint a VerifiedSignature.
ALLOWED_ISSUERS = {"signature/verified.py", "signature/simple.py", "signature/sigstore.py",
                   "signature/sigstore_bundle.py"}


def issued() -> VerifiedSignature:
    return _issue(docker_manifest_digest=DIGEST, docker_reference="docker.io/a/b:1",
                  key_fingerprint="A" * 40, timestamp=1, creator="c")


def test_direct_construction_refused() -> None:
    with pytest.raises(TypeError, match="verify functions"):
        VerifiedSignature(DIGEST, "docker.io/a/b:1", "A" * 40, None, None)  # type: ignore[call-arg]


def test_dataclasses_replace_cannot_forge_a_changed_copy() -> None:
    with pytest.raises(TypeError):
        dataclasses.replace(issued(), docker_reference="docker.io/evil/image:1")


def test_issued_signature_is_frozen_and_comparable() -> None:
    sig = issued()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sig.docker_reference = "docker.io/evil/image:1"  # type: ignore[misc]
    assert sig == issued()
    assert sig.key_fingerprint == "A" * 40


def test_only_verify_functions_call_issue() -> None:
    callers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\b_issue\b", path.read_text(encoding="utf-8"))
    }
    assert callers <= ALLOWED_ISSUERS, f"VerifiedSignature minted outside the verify functions: {callers}"
