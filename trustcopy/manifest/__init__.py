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

from trustcopy.manifest.convert import (
    Conversion,
    convert_image,
    convert_list,
    convert_manifest,
    layer_compression,
    layer_media_type_for,
)
from trustcopy.manifest.digest import manifest_digest, matches_digest
from trustcopy.manifest.mediatypes import (
    DEFAULT_REQUEST_TYPES,
    SUPPORTED_TYPES,
    guess_mime_type,
    is_list,
    normalize_mime_type,
)
from trustcopy.manifest.ociconfig import oci_config_from_docker
from trustcopy.manifest.parse import (
    Descriptor,
    DockerManifestList,
    ImageManifest,
    ListUpdate,
    ManifestList,
    OCIIndex,
    OCIManifest,
    Platform,
    Schema1Manifest,
    Schema2Manifest,
    parse_image_manifest,
    parse_manifest,
    parse_manifest_list,
)

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
