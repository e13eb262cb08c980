"""Content digests (``algorithm:hex``) and a reader that verifies while it streams.

Invariants:
- A :class:`Digest` is always valid: known algorithm, lower-case hex of the exact
  length. Parse untrusted strings with :meth:`Digest.parse`, never by splitting.
- Blob bytes are trusted only after :class:`DigestingReader` reached EOF without
  raising. Consumers must write to a temporary and commit only after EOF.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, BinaryIO, Protocol

from trustcopy.errors import DigestMismatchError
from trustcopy.lazy import dataclass

#: Algorithm name → length of its hex encoding (as go-digest registers them).
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
CANONICAL = "sha256"

_HEX_DIGITS = frozenset("0123456789abcdef")
# go-digest's grammar for the algorithm component; only needed to word an error, so it is
# compiled then (re's own cache), not at import.
_ALGO = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*"


def _is_lower_hex(text: str) -> bool:
    return bool(text) and _HEX_DIGITS.issuperset(text)


@dataclass(frozen=True, order=True)
class Digest:
    """A validated content digest such as ``sha256:e3b0…``."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported digest algorithm {self.algorithm!r}")
        if not isinstance(self.hex, str) or len(self.hex) != ALGORITHMS[self.algorithm] \
                or not _is_lower_hex(self.hex):
            raise ValueError(f"invalid {self.algorithm} hex {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``algorithm:hex``.

        Raises:
            ValueError: with a message naming the rule broken (callers wrap it
                in the error type that fits their input: manifest, reference …).
        """
        if not isinstance(text, str):
            raise TypeError(f"digest must be a string, not {type(text).__name__}")
        algo, sep, hexpart = text.partition(":")
        if not sep:
            raise ValueError(f"invalid digest {text!r}: missing ':' between algorithm and hex")
        if algo not in ALGORITHMS:
            if not algo or not re.fullmatch(_ALGO, algo):
                raise ValueError(f"invalid digest {text!r}: malformed algorithm {algo!r}")
            raise ValueError(f"invalid digest {text!r}: unsupported algorithm {algo!r}")
        want = ALGORITHMS[algo]
        if len(hexpart) != want:
            raise ValueError(
                f"invalid digest {text!r}: {algo} needs {want} hex characters, got {len(hexpart)}"
            )
        if not _is_lower_hex(hexpart):
            raise ValueError(f"invalid digest {text!r}: hex part must be lower-case [a-f0-9]")
        return cls(algo, hexpart)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        """Digest of ``data`` with ``algorithm``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> Any:
        """A fresh hashlib object for this digest's algorithm."""
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def encoded(self) -> str:
        """The hex part (go-digest's ``Encoded()``)."""
        return self.hex


def is_valid_digest(text: str) -> bool:
    """True when ``text`` parses as a supported digest."""
    try:
        Digest.parse(text)
    except ValueError:
        return False
    return True


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class DigestingReader:
    """Wrap a stream; hash (and count) every byte; raise at EOF on a mismatch.

    The check happens when ``read`` returns its first empty result, so a consumer
    that reads to EOF cannot miss it. ``verify()`` may be called explicitly too.

    Args:
        stream: the untrusted byte stream.
        expected: the digest the bytes must have; ``None`` only computes it.
        expected_size: the size they must have; ``None``/-1 for unknown.
        what: names the blob (path, redacted URL or reference) in errors.
    """

    def __init__(
        self,
        stream: _Readable | BinaryIO,
        expected: Digest | None,
        *,
        expected_size: int | None = None,
        what: str = "blob",
        algorithm: str = CANONICAL,
    ) -> None:
        self._stream = stream
        self.expected = expected
        self.expected_size = expected_size if expected_size is not None and expected_size >= 0 else None
        self.what = what
        self._hash = (expected.hasher() if expected is not None else hashlib.new(algorithm))
        self.bytes_read = 0
        self._done = False
        self._computed: Digest | None = None

    def read(self, size: int = -1, /) -> bytes:
        """Read and hash; at EOF, verify digest and size."""
        if self._done:
            return b""
        data = self._stream.read(size)
        if data:
            self.bytes_read += len(data)
            if self.expected_size is not None and self.bytes_read > self.expected_size:
                raise DigestMismatchError(
                    f"{self.what}: size mismatch, more than the expected {self.expected_size} bytes",
                    code="size-mismatch",
                    context={"what": self.what, "expected_size": self.expected_size},
                )
            self._hash.update(data)
            return data
        self._done = True
        self.verify()
        return b""

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """``readinto`` for shutil-style consumers."""
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    @property
    def digest(self) -> Digest:
        """The digest of all bytes read so far (final once EOF was reached)."""
        if self._computed is not None:
            return self._computed
        algo = self.expected.algorithm if self.expected is not None else self._hash.name
        return Digest(algo, self._hash.copy().hexdigest())

    def verify(self) -> Digest:
        """Check digest and size of everything read; return the computed digest.

        Raises:
            DigestMismatchError: the bytes do not match.
        """
        actual = self.digest
        self._computed = actual
        if self.expected_size is not None and self.bytes_read != self.expected_size:
            raise DigestMismatchError(
                f"{self.what}: size mismatch, expected {self.expected_size} bytes, got {self.bytes_read}",
                code="size-mismatch",
                context={"what": self.what, "expected_size": self.expected_size, "size": self.bytes_read},
            )
        if self.expected is not None and actual != self.expected:
            raise DigestMismatchError(
                f"{self.what}: digest mismatch, expected {self.expected}, got {actual}",
                context={"what": self.what, "expected": str(self.expected), "actual": str(actual)},
            )
        return actual
