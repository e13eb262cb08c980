"""Reason codes: why a policy accepted or rejected an image, a requirement or a signature.

One closed set, stable and upper-case, so scripts may match on them (``policy explain
--output json``, ``verify``). Every member is documented in docs/policy.md, "Reason codes";
a test keeps the two in sync. Members are ``str`` (a ``StrEnum``), so JSON and messages
show the bare code.

This module sits at the bottom of the layers: signature verification (signature/) raises
with these codes and the policy engine (policy/) reports them.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """A stable reason code; see docs/policy.md for what each one means."""

    ALLOWED = "ALLOWED"
    ACCEPT_ANYTHING = "ACCEPT_ANYTHING"
    SIGNATURE_VERIFIED = "SIGNATURE_VERIFIED"
    SCOPE_REJECT = "SCOPE_REJECT"
    NO_SIGNATURES = "NO_SIGNATURES"
    SIGNATURES_REJECTED = "SIGNATURES_REJECTED"
    KEY_LOAD_FAILED = "KEY_LOAD_FAILED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    REQUIRE_SIGNED = "REQUIRE_SIGNED"
    EMPTY_REQUIREMENTS = "EMPTY_REQUIREMENTS"
    INTERNAL_INCONSISTENCY = "INTERNAL_INCONSISTENCY"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    NOT_SIGNED = "NOT_SIGNED"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    UNTRUSTED_KEY = "UNTRUSTED_KEY"
    EXPIRED = "EXPIRED"
    MULTIPLE_SIGNATURES = "MULTIPLE_SIGNATURES"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"
    IDENTITY_MISMATCH = "IDENTITY_MISMATCH"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    CERTIFICATE_INVALID = "CERTIFICATE_INVALID"
    CERTIFICATE_IDENTITY_MISMATCH = "CERTIFICATE_IDENTITY_MISMATCH"
    REKOR_SET_INVALID = "REKOR_SET_INVALID"
    IDENTITY_NOT_SIGNED = "IDENTITY_NOT_SIGNED"
    BUNDLE_INVALID = "BUNDLE_INVALID"
