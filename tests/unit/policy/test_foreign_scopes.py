"""Scopes of transports skopeo has and trustcopy does not build: containers-storage and sif.

A policy.json is shared with skopeo and podman. containers/image refuses the whole file when
one of these scopes is malformed, so trustcopy does too (fail closed); the vectors are
containers/image's own (storage/storage_transport_test.go, sif/transport_test.go).
"""

from __future__ import annotations

import json

import pytest

from trustcopy.errors import PolicyError
from trustcopy.policy import parse_policy
from trustcopy.policy.lint import lint_policy_bytes
from trustcopy.policy.scopes import validate_scope

ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
DIGEST2 = "sha256:" + "a" * 64
DRIVER, ROOT = "overlay", "/var/lib/containers/storage"
STORE = f"[{DRIVER}@{ROOT}]"

STORAGE_VALID = [
    f"[{ROOT}suffix1]",
    f"[{DRIVER}@{ROOT}suffix3]",
    f"{STORE}@{ID}",
    f"{STORE}docker.io",
    f"{STORE}docker.io/library",
    f"{STORE}docker.io/library/busybox",
    f"{STORE}docker.io/library/busybox:notlatest",
    f"{STORE}docker.io/library/busybox:notlatest@{ID}",
    f"{STORE}docker.io/library/busybox@{DIGEST2}",
    f"{STORE}docker.io/library/busybox@{DIGEST2}@{ID}",
    f"{STORE}docker.io/library/busybox:notlatest@{DIGEST2}",
    f"{STORE}docker.io/library/busybox:notlatest@{DIGEST2}@{ID}",
]
STORAGE_INVALID = [
    "busybox",
    "[unterminated",
    "[]",
    "[relative/path]",
    f"[{DRIVER}@relative/path]",
    f"{STORE}@",
    f"{STORE}docker.io/library/busybox@sha256:ab",
    f"{STORE}docker.io/library/busybox@ab",
    f"{STORE}docker.io/library/busybox@",
    f"{STORE}docker.io/library/busybox@@{ID}",
    f"{STORE}docker.io/library/busybox@ab@{ID}",
    f"{STORE}docker.io/library/busybox@sha256:ab@{ID}",
    f"{STORE}docker.io/library/busybox@{DIGEST2}@",
    f"{STORE}docker.io/library/busybox@{DIGEST2}@ab",
    f"[@{ROOT}]",  # a driver that is empty
    f"[{DRIVER}@]",  # a graph root that is empty
]
SIF_VALID = ["/etc/passwd", "/this/does/not/exist"]
SIF_INVALID = ["relative/path", "/double//slashes", "/has/./dot", "/has/dot/../dot", "/trailing/slash/", "/"]


@pytest.mark.parametrize(("transport", "scope"), [("containers-storage", s) for s in STORAGE_VALID]
                         + [("sif", s) for s in SIF_VALID])
def test_valid_scopes(transport: str, scope: str) -> None:
    validate_scope(transport, scope)


@pytest.mark.parametrize(("transport", "scope"), [("containers-storage", s) for s in STORAGE_INVALID]
                         + [("sif", s) for s in SIF_INVALID])
def test_invalid_scopes(transport: str, scope: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        validate_scope(transport, scope)


def _policy(transport: str, scope: str) -> str:
    return json.dumps({"default": [{"type": "reject"}],
                       "transports": {transport: {scope: [{"type": "insecureAcceptAnything"}]}}})


def test_a_malformed_storage_scope_refuses_the_whole_policy_naming_it() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(_policy("containers-storage", "[relative/path]busybox"), source="/etc/containers/policy.json")
    message = info.value.message
    assert 'transports["containers-storage"]["[relative/path]busybox"]' in message
    assert "the store's graph root 'relative/path' is not an absolute path" in message


def test_messages_say_which_rule() -> None:
    with pytest.raises(ValueError, match=r"must start with the store, \[GRAPHROOT\] or \[DRIVER@GRAPHROOT\]"):
        validate_scope("containers-storage", "busybox")
    with pytest.raises(ValueError, match="'ab' is neither an image ID nor a digest"):
        validate_scope("containers-storage", f"{STORE}busybox@ab")
    with pytest.raises(ValueError, match="must be an absolute path"):
        validate_scope("sif", "relative/path")


def test_lint_still_says_these_scopes_never_apply_here() -> None:
    findings = lint_policy_bytes(_policy("containers-storage", f"{STORE}docker.io/library/busybox").encode(),
                                 "policy.json").findings
    unknown = [f for f in findings if f.code == "unknown-transport"]
    assert len(unknown) == 1 and not [f for f in findings if f.severity == "error"]
    assert "never apply here" in unknown[0].message and "not validated" not in unknown[0].message
    findings = lint_policy_bytes(_policy("ostree", "anything").encode(), "policy.json").findings
    assert any(f.code == "unknown-transport" and "not validated" in f.message for f in findings)
