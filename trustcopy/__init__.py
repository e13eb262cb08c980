"""trustcopy: copy container images, letting nothing through that the trust policy does not allow.

The public API is what ``__all__`` lists (a test keeps it curated). Names are imported
lazily so that ``import trustcopy`` and ``trustcopy --version`` stay fast; ``__init__.pyi``
gives a type checker their real types (docs/library.md).
"""

from __future__ import annotations

from trustcopy.lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "copy_image": "trustcopy.copy.pipeline",
    "CopyOptions": "trustcopy.copy.options",
    "parse_image_name": "trustcopy.transports.alltransports",
    "parse_normalized_named": "trustcopy.reference",
    "DockerReference": "trustcopy.reference",
    "Digest": "trustcopy.digest",
    "manifest_digest": "trustcopy.manifest.digest",
    "SystemContext": "trustcopy.transports.base",
    "load_policy": "trustcopy.policy",
    "PolicyContext": "trustcopy.policy",
    "TrustcopyError": "trustcopy.errors",
    "PolicyError": "trustcopy.errors",
    "PolicyRejected": "trustcopy.errors",
    "SignatureError": "trustcopy.errors",
    "InvalidReferenceError": "trustcopy.errors",
    "ManifestError": "trustcopy.errors",
    "TransportError": "trustcopy.errors",
    "RegistryError": "trustcopy.errors",
    "DigestMismatchError": "trustcopy.errors",
    "LimitExceededError": "trustcopy.errors",
}

__all__ = ["__version__", *sorted(_LAZY)]  # noqa: PLE0604 (built from a dict of names)


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
