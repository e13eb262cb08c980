"""Manifests: media types, strict parsing, digests and format conversion.

Everything here answers as containers/image 5.23 (skopeo 1.9.3) answers for the same
bytes: the sniffed type, the digest (signed schema1 included), the bytes a conversion
produces. Where trustcopy is stricter (invalid digests, ambiguous keys), the module
says so. Modules:

- :mod:`.mediatypes` constants, ``guess_mime_type``, ``normalize_mime_type``, ``is_list``
- :mod:`.parse`      ``parse_manifest`` → frozen Schema2/OCI/Schema1 manifests and lists
- :mod:`.digest`     ``manifest_digest``, ``matches_digest``
- :mod:`.convert`    ``convert_image``/``convert_manifest``, ``convert_list``, layer types
- :mod:`.ociconfig`  the OCI config a schema2 → OCI conversion writes
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use: most commands need only mediatypes/digest, and the
# CLI's start-up time is part of every copy (see bench/).
_LAZY: dict[str, str] = {
    "Conversion": "convert", "convert_image": "convert", "convert_list": "convert",
    "convert_manifest": "convert", "layer_compression": "convert", "layer_media_type_for": "convert",
    "manifest_digest": "digest", "matches_digest": "digest",
    "DEFAULT_REQUEST_TYPES": "mediatypes", "SUPPORTED_TYPES": "mediatypes", "guess_mime_type": "mediatypes",
    "is_list": "mediatypes", "normalize_mime_type": "mediatypes",
    "oci_config_from_docker": "ociconfig",
    "Descriptor": "parse", "DockerManifestList": "parse", "ImageManifest": "parse", "ListUpdate": "parse",
    "ManifestList": "parse", "OCIIndex": "parse", "OCIManifest": "parse", "Platform": "parse",
    "Schema1Manifest": "parse", "Schema2Manifest": "parse", "parse_image_manifest": "parse",
    "parse_manifest": "parse", "parse_manifest_list": "parse",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trustcopy.manifest' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"trustcopy.manifest.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_REQUEST_TYPES",
    "SUPPORTED_TYPES",
    "Conversion",
    "Descriptor",
    "DockerManifestList",
    "ImageManifest",
    "ListUpdate",
    "ManifestList",
    "OCIIndex",
    "OCIManifest",
    "Platform",
    "Schema1Manifest",
    "Schema2Manifest",
    "convert_image",
    "convert_list",
    "convert_manifest",
    "guess_mime_type",
    "is_list",
    "layer_compression",
    "layer_media_type_for",
    "manifest_digest",
    "matches_digest",
    "normalize_mime_type",
    "oci_config_from_docker",
    "parse_image_manifest",
    "parse_manifest",
    "parse_manifest_list",
]
