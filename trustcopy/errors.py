"""The one exception tree of trustcopy.

Every failure a user can cause or fix is a :class:`TrustcopyError`. The CLI catches
exactly this class, prints one line (``error[code]: message``) plus an optional hint,
and exits non-zero; anything else is a bug and keeps its traceback. API misuse by a
Python caller raises ``ValueError``/``TypeError``/``RuntimeError`` instead.

The tree, split by who is at fault::

    TrustcopyError
    ├── UsageError                  an option or argument combination we refuse
    ├── InvalidReferenceError       an image name / transport reference is malformed
    ├── PolicyError                 the policy file cannot be read or is invalid
    ├── PolicyRejected              the policy evaluated and refused the image (has .verdict)
    ├── SignatureError              a signature cannot be created, stored or parsed
    │   └── SignatureVerificationError  one signature failed verification (has .reason)
    ├── ManifestError               a manifest is malformed, unsupported or unconvertible
    ├── DigestMismatchError         content does not match the digest that names it
    ├── LimitExceededError          untrusted input is larger than we are willing to read
    ├── ConfigError                 registries.d, auth.json, certs.d … are invalid
    ├── EncryptionError             a layer cannot be encrypted or decrypted (keys, wrapped keys)
    └── TransportError              a source/destination failed (path, archive, daemon …)
        ├── ImageNotFoundError      the named image/blob/manifest does not exist
        └── RegistryError           talking to a registry failed
            ├── NetworkError        connection refused/reset, DNS, TLS, timeouts
            ├── RegistryAuthError   401/403 or a failed token exchange
            └── RegistryHTTPError   any other HTTP error status (has .status)

``code`` is a stable kebab-case identifier: tests assert it, and docs/errors.md lists
it, so scripts may match on it. ``context`` holds structured facts (file, pointer,
digest …) for JSON output; it must never hold a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from trustcopy.reasons import Reason


class TrustcopyError(Exception):
    """Base of every user-facing failure.

    Args:
        message: one sentence, naming the file/field/reference at fault.
        code: stable kebab-case id; defaults to the class's ``default_code``.
        context: structured, credential-free facts for machine-readable output.
        hint: what the user can do about it, shown on a second line.
    """

    default_code = "trustcopy-error"
    #: Process exit status the CLI uses for this error.
    exit_status = 1

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        context: Mapping[str, Any] | None = None,
        hint: str | None = None,
    ) -> None:
        from trustcopy.redact import mask_userinfo  # errors.py stays import-light

        # Users paste ``user:token@`` into image names, URLs and options; whatever quotes
        # them back (a refusal, a hint suggesting the corrected form) must not print it.
        message = mask_userinfo(message)
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        # The same for the structured facts: a library caller logs ``context`` as it is (the
        # CLI's JSON output scrubs it, a caller does not), and it quoted the rejected name,
        # ``docker://user:token@host/app``, whole.
        self.context: dict[str, Any] = {key: _masked(value) for key, value in (context or {}).items()}
        self.hint = mask_userinfo(hint) if hint else hint

    def rewrapped(self, message: str | None = None, *, exit_status: int | None = None) -> Self:
        """A new error of the same kind (code, context, hint, fields) with another message or exit status.

        Raised exceptions are never modified: a caller that adds context raises this copy
        ``from`` the original, so the traceback (``--debug``) shows both.
        """
        cls = type(self)
        new = cls.__new__(cls)  # not copy.copy: it calls __init__ again, without subclasses' keyword arguments
        new.__dict__.update(self.__dict__)
        new.context = dict(self.context)
        new.args = self.args
        if message is not None:
            from trustcopy.redact import mask_userinfo

            new.message = mask_userinfo(message)
            new.args = (new.message,)
        if exit_status is not None:
            new.exit_status = exit_status
        new.__cause__ = new.__context__ = None
        new.__traceback__ = None
        return new

    @property
    def transient(self) -> bool:
        """Whether the same operation, tried again, may succeed (a dropped connection, a 503)."""
        return False

    def diagnostics(self) -> str:
        """Render the error for a terminal: ``error[code]: message`` and the hint."""
        text = f"error[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.message


def _masked(value: Any) -> Any:
    """``value`` with ``user:password@`` masked in it, if it is text or a list/tuple of texts."""
    from trustcopy.redact import mask_userinfo

    if isinstance(value, str):
        return mask_userinfo(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
        return type(value)(mask_userinfo(v) if isinstance(v, str) else v for v in value)
    return value


class UsageError(TrustcopyError):
    """The user asked for an option combination we refuse rather than ignore."""

    default_code = "usage"
    exit_status = 2


class CommandTimeoutError(TrustcopyError):
    """--command-timeout expired: what the user (and a verify report) sees of :class:`CommandTimedOut`."""

    default_code = "command-timeout"


class CommandTimedOut(BaseException):
    """The --command-timeout alarm, raised in the main thread wherever it is, so staging is cleaned up.

    Not an ``Exception``: the alarm lands between any two bytecodes, also inside an
    ``except Exception`` a library keeps for its own failures. ``threading.Thread.start``
    caught it there just after the new thread had started, undid its bookkeeping a second
    time, and the command ended in a ``KeyError`` traceback. Like SIGTERM's interruption,
    it passes through every such handler; the CLI (and ``verify``, per image) report it
    as :class:`CommandTimeoutError` (:meth:`as_error`).
    """

    def as_error(self) -> CommandTimeoutError:
        """The error to report."""
        return CommandTimeoutError(str(self))


class InvalidReferenceError(TrustcopyError):
    """An image reference or ``transport:name`` string is malformed.

    Named so as not to shadow Python's builtin ``ReferenceError``.
    """

    default_code = "invalid-reference"


class PolicyError(TrustcopyError):
    """The policy cannot be found, read or parsed; nothing is accepted."""

    default_code = "policy-invalid"


class PolicyRejected(TrustcopyError):
    """The policy was evaluated and does not allow the image.

    ``verdict`` carries the full explainable trace (see policy/verdict.py).
    """

    default_code = "policy-rejected"

    def __init__(self, message: str, *, verdict: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.verdict = verdict


class SignatureError(TrustcopyError):
    """A signature cannot be created, stored, copied or parsed."""

    default_code = "signature"


class SignatureVerificationError(SignatureError):
    """One signature was not accepted; ``reason`` says why (trustcopy.reasons.Reason, docs/policy.md)."""

    default_code = "signature-rejected"

    def __init__(self, message: str, *, reason: Reason, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = Reason(reason)


class ManifestError(TrustcopyError):
    """A manifest is malformed, of an unsupported type, or cannot be converted."""

    default_code = "manifest-invalid"


class DigestMismatchError(TrustcopyError):
    """Bytes read do not hash to the digest (or size) that names them."""

    default_code = "digest-mismatch"


class LimitExceededError(TrustcopyError):
    """Untrusted input exceeded a size cap (see limits.py)."""

    default_code = "limit-exceeded"


class ConfigError(TrustcopyError):
    """A configuration file (registries.d, auth.json, certs.d …) is invalid."""

    default_code = "config-invalid"


class EncryptionError(TrustcopyError):
    """A layer cannot be encrypted or decrypted: a key, or a layer's wrapped keys, are unusable."""

    default_code = "encryption"


class TransportError(TrustcopyError):
    """A source or destination failed: missing path, unwritable dir, bad archive …"""

    default_code = "transport"


class ImageNotFoundError(TransportError):
    """The named image, manifest or blob does not exist in the source."""

    default_code = "image-not-found"


class RegistryError(TransportError):
    """Talking to a container registry failed."""

    default_code = "registry"


class NetworkError(RegistryError):
    """Connection, DNS, TLS or timeout failures; usually worth a retry."""

    default_code = "network"

    @property
    def transient(self) -> bool:
        """Everything but TLS failures (a certificate does not get better by asking again) and
        the end of ``--command-timeout`` (the command has failed: nothing may start again)."""
        return self.code not in ("tls-verification", "tls-handshake", "command-timeout")


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (401/403) or the token exchange failed."""

    default_code = "registry-auth"


class RegistryHTTPError(RegistryError):
    """The registry answered with an error status not covered by a subclass."""

    default_code = "registry-http"

    def __init__(self, message: str, *, status: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status

    @property
    def transient(self) -> bool:
        """Timeouts, rate limits and server-side failures (408, 429, 500, 502, 503, 504)."""
        return self.status in TRANSIENT_HTTP_STATUSES


#: HTTP statuses after which a registry request is worth sending again.
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
