"""A scope whose requirements are all ``reject`` refuses an image from its reference alone.

This is what lets a sync skip every request for a repository the policy refuses; it must
give the same verdict as the full evaluation, and must never decide anything else
without reading the image.
"""

from __future__ import annotations

import json

import pytest

from trustcopy.copy.evaluate import rejection_without_reading
from trustcopy.errors import PolicyRejected
from trustcopy.policy import PolicyContext, parse_policy
from trustcopy.transports.alltransports import parse_image_name

POLICY = {
    "default": [{"type": "insecureAcceptAnything"}],
    "transports": {
        "docker": {
            "reg.example.com/refused": [{"type": "reject"}],
            "reg.example.com/twice": [{"type": "reject"}, {"type": "reject"}],
            "reg.example.com/mixed": [{"type": "reject"}, {"type": "insecureAcceptAnything"}],
            "reg.example.com/signed": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent.gpg"}],
            "reg.example.com": [{"type": "reject"}],
        },
    },
}


@pytest.fixture
def policy() -> PolicyContext:
    with PolicyContext(parse_policy(json.dumps(POLICY))) as pc:
        yield pc


@pytest.mark.parametrize("image", ["reg.example.com/refused:1", "reg.example.com/twice:1",
                                   "reg.example.com/other/app:2", f"reg.example.com/refused@sha256:{'a' * 64}"])
def test_reject_only_scopes_refuse_without_reading(policy: PolicyContext, image: str) -> None:
    refusal = rejection_without_reading(policy, parse_image_name(f"docker://{image}"))
    assert isinstance(refusal, PolicyRejected)
    assert refusal.verdict.reason == "SCOPE_REJECT"
    assert image.split("@", maxsplit=1)[0].split(":", maxsplit=1)[0] in refusal.message


@pytest.mark.parametrize("image", ["reg.example.com/mixed:1", "reg.example.com/signed:1", "other.example.com/x:1"])
def test_any_other_scope_is_left_to_the_full_evaluation(policy: PolicyContext, image: str) -> None:
    assert rejection_without_reading(policy, parse_image_name(f"docker://{image}")) is None


def test_a_policy_that_is_not_a_context_is_left_alone() -> None:
    class Evaluator:
        def evaluate(self, unparsed: object) -> object:
            raise AssertionError("must not be called")

    assert rejection_without_reading(Evaluator(), parse_image_name("docker://reg.example.com/refused:1")) is None  # type: ignore[arg-type]


def test_the_reference_only_source_refuses_every_read() -> None:
    from trustcopy.copy.evaluate import _ReferenceOnlySource

    src = _ReferenceOnlySource(parse_image_name("docker://reg.example.com/x:1"))
    for call in (src.get_manifest, src.get_signatures, lambda: src.get_blob(None)):
        with pytest.raises(RuntimeError, match="internal error"):
            call()
