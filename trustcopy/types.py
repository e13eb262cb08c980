"""Value types shared by several layers: what containers/image keeps in its ``types`` package.

``manifest/`` describes blobs, ``transports/`` stores them and ``copy/`` moves them; all three
need :class:`BlobInfo`, :class:`LayerCompression` and :class:`SystemContext`. Keeping them here,
below all three, is what lets ``manifest/`` import nothing from ``transports/`` (the layer
contract in pyproject.toml checks it). Nothing here does I/O or imports a heavy module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING

from trustcopy.digest import Digest
from trustcopy.lazy import dataclass

if TYPE_CHECKING:
    from trustcopy.reference import DockerReference


class LayerCompression(enum.Enum):
    """What a destination wants done to layers (``types.LayerCompression``)."""

    PRESERVE = "preserve"
    DECOMPRESS = "decompress"
    COMPRESS = "compress"


@dataclass(frozen=True)
class BlobInfo:
    """What is known about a blob. ``size`` is -1 when unknown.

    ``media_type``, ``urls`` and ``annotations`` come from the manifest descriptor and
    are carried so that a destination can record them (OCI index, foreign layers).
    """

    digest: Digest
    size: int = -1
    media_type: str | None = None
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] | None = None


#: Retries of a failed request (and of a blob whose upload failed) when --retry-times is not given.
DEFAULT_RETRY_TIMES = 3
#: First wait before such a retry, in seconds; it doubles each time unless --retry-delay was given.
DEFAULT_RETRY_DELAY = 1.0
#: The longest --retry-delay slept as given (about three years): Go's durations reach 292
#: years, which ``time.sleep`` cannot take (an OverflowError or EINVAL instead of a wait).
MAX_FIXED_RETRY_DELAY = 1e8


def retry_delay_of(asked: float | None) -> float:
    """The first wait before a retry: ``--retry-delay`` as asked (bounded), else the default."""
    return DEFAULT_RETRY_DELAY if asked is None else min(max(0.0, asked), MAX_FIXED_RETRY_DELAY)


@dataclass
class SystemContext:
    """Per-process settings that transports may consult (``types.SystemContext``).

    Only what the user set is here; each transport documents which fields it reads.
    Fields are plain data so that a test can build one in a line.
    """

    override_arch: str | None = None
    override_os: str | None = None
    override_variant: str | None = None
    #: registries.d directory (``--registries.d``): where signatures of registry images are
    #: stored (lookaside). None: ``$HOME/.config/containers/registries.d``, else
    #: ``/etc/containers/registries.d``.
    registries_d: str | None = None
    #: registries.conf file (``--registries-conf``): mirrors, location rewriting, insecure and
    #: blocked registries. None: ``$CONTAINERS_REGISTRIES_CONF``, else the usual files.
    registries_conf: str | None = None
    #: For transports that need temporary space (archives): created beside the target
    #: when None, so that the final rename is atomic.
    tmp_dir: str | None = None
    # Registry options; the docker transport reads these.
    auth_file: str | None = None
    #: ``login``/``logout --compat-auth-file``: a Docker ``config.json`` to update instead of
    #: the auth file (Docker's key for docker.io, no namespaced keys, other fields kept).
    docker_compat_auth_file: str | None = None
    docker_cert_path: str | None = None
    #: docker: False turns TLS verification off (and lets plain HTTP be tried) for every
    #: registry. True verifies, except where registries.conf marks the endpoint ``insecure``
    #: and the user did not ask for verification explicitly (docker_tls_verify_explicit).
    docker_tls_verify: bool = True
    #: docker: docker_tls_verify was given by the user (``--tls-verify[=BOOL]``); it then wins
    #: over registries.conf's ``insecure``, as skopeo's flag does.
    docker_tls_verify_explicit: bool = False
    docker_username: str | None = None
    docker_password: str | None = field(default=None, repr=False)
    docker_bearer_token: str | None = field(default=None, repr=False)
    docker_no_creds: bool = False
    docker_daemon_host: str | None = None
    retry_times: int | None = None
    command_timeout: float | None = None
    #: docker: first backoff delay in seconds between retries (doubles each time); None = 1s.
    docker_retry_delay: float | None = None
    #: docker: wait docker_retry_delay before every retry instead of doubling it (skopeo's
    #: --retry-delay; Retry-After still wins when a registry sends it).
    docker_retry_delay_fixed: bool = False
    #: docker: seconds a connect, a read or a write may stall before it fails; None = 60s.
    docker_timeout: float | None = None
    #: docker: base of per-host certificate directories (``BASE/HOST:PORT``), instead of
    #: ~/.config/containers/certs.d, /etc/containers/certs.d and /etc/docker/certs.d.
    docker_per_host_cert_dir: str | None = None
    #: docker: bytes per PATCH of a chunked blob upload; None = the transport's default.
    docker_upload_chunk_size: int | None = None
    #: docker: skopeo's --dest-precompute-digests (containers/image
    #: ``DockerRegistryPushPrecomputeDigests``): a layer (re)compressed on the way is first
    #: written to a temporary file to learn its digest, and not uploaded when the registry
    #: already has it.
    docker_precompute_digests: bool = False
    #: skopeo's --dest-compress: dir: compresses layers; docker-archive: keeps layers compressed
    #: inside the archive (small-disk mode: no layer is ever decompressed or spooled).
    dest_compress: bool = False
    #: skopeo's --dest-decompress: dir: stores layers uncompressed.
    dest_decompress: bool = False
    #: --dest-compress-format: "gzip" or "zstd" for layers the destination compresses (None: gzip).
    compression_format: str | None = None
    #: --dest-compress-level: the compressor's level (None: its default).
    compression_level: int | None = None
    #: --dest-force-compress-format: a layer the destination holds in another compression is
    #: never reused for it, and the copy is refused when a layer cannot be recompressed.
    force_compression_format: bool = False
    #: docker-archive: more RepoTags for the image (--additional-tag); DockerReference values.
    docker_archive_additional_tags: tuple[DockerReference, ...] = ()
    #: OCI layout sharing: additional directories with blobs to reuse.
    oci_shared_blob_dirs: tuple[str, ...] = ()
    #: Free-form, transport-specific extras (kept small; prefer a named field).
    extra: dict[str, object] = field(default_factory=dict)
    #: docker: the live state the images opened with this context share (pings, TLS contexts,
    #: connection pools, mount candidates): a transports.docker.session.RegistrySession, as
    #: containers/image hands its BlobInfoCache down. Not a setting: typed loosely so that this
    #: module stays below transports/; None gives every source and destination its own.
    registry_session: object | None = field(default=None, repr=False, compare=False)
