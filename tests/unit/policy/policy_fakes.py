"""Test doubles for the policy engine: references, images, and a GPG-free keyring.

The fake keyring implements the SigningMechanism protocol, so the *real*
``verify_simple_signing`` (key check, payload parsing, digest and identity callbacks) runs
in these tests; only the OpenPGP crypto is replaced. A fake signed blob is ``0x88``
(an OpenPGP signature packet tag, so formats.py classifies it as simple signing)
followed by JSON naming the signing key and the payload.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from trustcopy.digest import Digest
from trustcopy.errors import SignatureVerificationError
from trustcopy.policy.context import PolicyContext
from trustcopy.policy.model import KeyLoadError
from trustcopy.reference import DockerReference, parse_normalized_named
from trustcopy.signature.formats import Signature, stored_signature
from trustcopy.signature.mechanism import VerifiedMessage
from trustcopy.signature.payload import build_simple_payload
from trustcopy.signature.sigstore import SigstoreTrustRoot
from trustcopy.transports.base import ImageReference, ImageTransport
from trustcopy.transports.docker.reference import docker_reference_identity, docker_reference_namespaces
from trustcopy.types import SystemContext

FPR_A = "A" * 40
FPR_B = "B" * 40
FPR_EVIL = "E" * 40
MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
OTHER_MANIFEST = b'{"schemaVersion":2,"note":"something else"}'
DIGEST = Digest.from_bytes(MANIFEST)
OTHER_DIGEST = Digest.from_bytes(OTHER_MANIFEST)

#: keyPath → fingerprints the fake keyring holds (None: the file cannot be read).
KEY_FILES: dict[str, frozenset[str] | None] = {
    "/keys/a.gpg": frozenset({FPR_A}),
    "/keys/b.gpg": frozenset({FPR_B}),
    "/keys/ab.gpg": frozenset({FPR_A, FPR_B}),
    "/keys/empty.gpg": frozenset(),
    "/keys/missing.gpg": None,
}


class FakeKeyring:
    """A SigningMechanism trusting exactly ``fingerprints``; see module docstring."""

    def __init__(self, fingerprints: frozenset[str]) -> None:
        self.fingerprints = fingerprints

    def verify_message(self, message: bytes) -> VerifiedMessage:
        """Check the fake signature blob."""
        data = json.loads(message[1:])
        if data.get("fail"):
            raise SignatureVerificationError("the OpenPGP signature is invalid", reason=data["fail"])
        if data["key"] not in self.fingerprints:
            raise SignatureVerificationError(f"signature by key {data['key']} is not trusted", reason="UNKNOWN_KEY")
        return VerifiedMessage(base64.b64decode(data["payload"]), data["key"], data["key"])


def fake_sig(identity: str, digest: Digest = DIGEST, key: str = FPR_A, *, fail: str | None = None) -> bytes:
    """A fake simple-signing blob by ``key`` claiming ``identity`` and ``digest``."""
    payload = build_simple_payload(digest, identity, creator="test", timestamp=1)
    body = {"key": key, "payload": base64.b64encode(payload).decode(), "fail": fail}
    return b"\x88" + json.dumps(body).encode()


def sigstore_blob(mime: str = "application/vnd.dev.cosign.simplesigning.v1+json") -> bytes:
    """A sigstore-json envelope (never verifiable here)."""
    chunk = json.dumps({"mimeType": mime, "payload": base64.b64encode(b"{}").decode(), "annotations": {}})
    return b"\x00sigstore-json\n" + chunk.encode()


def keyring_for(requirement: Any) -> FakeKeyring:
    """The fake keyring a signedBy requirement's keyPath(s) name."""
    paths = [requirement.key_path] if requirement.key_path else list(requirement.key_paths or [])
    fingerprints: set[str] = set()
    for path in paths:
        held = KEY_FILES.get(path)
        if held is None:
            raise KeyLoadError(f"cannot read key file {path!r}: No such file or directory")
        fingerprints |= held
    return FakeKeyring(frozenset(fingerprints))


def sigstore_root_for(requirement: Any) -> SigstoreTrustRoot:
    """A sigstore trust root holding one fresh key that signed nothing (tests replace the verifier)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return SigstoreTrustRoot("keys", (ec.generate_private_key(ec.SECP256R1()).public_key(),))


class FakeKeysContext(PolicyContext):
    """A PolicyContext whose keyrings come from :data:`KEY_FILES` (no gpg)."""

    def gpg_keyring(self, requirement: Any) -> FakeKeyring:
        """See :func:`keyring_for`."""
        return keyring_for(requirement)

    def sigstore_trust_root(self, requirement: Any) -> SigstoreTrustRoot:
        """See :func:`sigstore_root_for`."""
        return sigstore_root_for(requirement)


class FakeEnv:
    """EvalResources for calling requirements directly."""

    def gpg_keyring(self, requirement: Any) -> FakeKeyring:
        """See :func:`keyring_for`."""
        return keyring_for(requirement)

    def sigstore_trust_root(self, requirement: Any) -> SigstoreTrustRoot:
        """See :func:`sigstore_root_for`."""
        return sigstore_root_for(requirement)


class FakeTransport(ImageTransport):
    """A transport that only has a name (scope validation accepts anything)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def parse_reference(self, reference: str) -> ImageReference:
        """Not used."""
        raise NotImplementedError

    def validate_policy_configuration_scope(self, scope: str) -> None:
        """Anything goes."""


class FakeRef(ImageReference):
    """A reference with a chosen transport name, Docker reference, identity and namespaces.

    By default identity and namespaces follow the docker: rules for ``docker_ref``; the
    Docker reference may be name-only or have both tag and digest (which docker: refuses),
    as containers/image's own mocks allow.
    """

    def __init__(
        self,
        docker_ref: DockerReference | str | None,
        *,
        transport: str = "docker",
        identity: str | None = None,
        namespaces: Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        self._ref = parse_normalized_named(docker_ref) if isinstance(docker_ref, str) else docker_ref
        self._transport = FakeTransport(transport)
        self._identity = identity
        self._namespaces = namespaces
        self._name = name

    @property
    def transport(self) -> ImageTransport:
        """The fake transport."""
        return self._transport

    def string_within_transport(self) -> str:
        """``//familiar`` or the given name."""
        if self._name is not None:
            return self._name
        return "//" + self._ref.familiar_string() if self._ref is not None else "(no docker reference)"

    def docker_reference(self) -> DockerReference | None:
        """The chosen reference (possibly None)."""
        return self._ref

    def policy_configuration_identity(self) -> str:
        """Given, or docker: rules."""
        if self._identity is not None:
            return self._identity
        assert self._ref is not None
        return docker_reference_identity(self._ref)

    def policy_configuration_namespaces(self) -> list[str]:
        """Given, or docker: rules."""
        if self._namespaces is not None:
            return list(self._namespaces)
        assert self._ref is not None
        return docker_reference_namespaces(self._ref)

    def new_image_source(self, sys: SystemContext) -> Any:
        """Not used."""
        raise AssertionError("tests must not open a fake reference")

    def new_image_destination(self, sys: SystemContext) -> Any:
        """Not used."""
        raise AssertionError("tests must not open a fake reference")


class FakeImage:
    """An UnparsedImage stand-in; ``forbid_reads`` makes manifest/signature access fail the test."""

    #: Not an instance of a manifest list (UnparsedImage's attributes for instances).
    instance_digest: Digest | None = None
    manifest_list: Any = None

    def __init__(
        self,
        reference: ImageReference,
        signatures: Sequence[bytes] = (),
        manifest: bytes = MANIFEST,
        *,
        forbid_reads: bool = False,
    ) -> None:
        self.reference = reference
        self._signatures = list(signatures)
        self._manifest = manifest
        self.forbid_reads = forbid_reads
        self.reads: list[str] = []

    def manifest(self) -> tuple[bytes, str]:
        """The manifest bytes."""
        assert not self.forbid_reads, "the manifest must not be read"
        self.reads.append("manifest")
        return self._manifest, "application/vnd.oci.image.manifest.v1+json"

    def manifest_digest(self) -> Digest:
        """sha256 of the manifest."""
        return Digest.from_bytes(self.manifest()[0])

    def signatures(self) -> list[Signature]:
        """The signature blobs, parsed as a transport parses what it reads."""
        assert not self.forbid_reads, "signatures must not be read"
        self.reads.append("signatures")
        return [stored_signature(blob, f"fake/signature-{i}") for i, blob in enumerate(self._signatures, start=1)]

    def signature_search(self) -> str:
        """Where the fake source "looked" (for the no-signature message)."""
        return "looked in fake/signature-1"


def docker_image(ref: str, signatures: Sequence[bytes] = (), **kwargs: Any) -> FakeImage:
    """A FakeImage for ``docker://ref`` (the real docker: reference)."""
    from trustcopy.transports.docker.reference import TRANSPORT

    return FakeImage(TRANSPORT.parse_reference("//" + ref), signatures, **kwargs)
