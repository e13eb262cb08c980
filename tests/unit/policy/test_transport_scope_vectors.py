"""Scope validation of the path transports and docker-archive, on containers/image's vectors.

From c/image's TestTransportValidatePolicyConfigurationScope in directory/, oci/layout/,
oci/archive/ and docker/archive/ (docker-daemon's are in
tests/unit/transports/test_docker_daemon_reference.py, containers-storage's and sif's in
test_foreign_scopes.py).
"""

from __future__ import annotations

import pytest

from trustcopy.policy.scopes import validate_scope

PATH_VALID = ["/etc", "/this/does/not/exist"]
PATH_INVALID = ["relative/path", "/double//slashes", "/has/./dot", "/has/dot/../dot", "/trailing/slash/", "/"]
PATH_TRANSPORTS = ["dir", "oci", "oci-archive"]
#: docker-archive images have no identity a scope could name: every scope is refused.
ARCHIVE_INVALID = ["docker.io/library/busybox:notlatest", "docker.io/library/busybox", "docker.io/library", "docker.io"]


@pytest.mark.parametrize(("transport", "scope"), [(t, s) for t in PATH_TRANSPORTS for s in PATH_VALID])
def test_valid(transport: str, scope: str) -> None:
    validate_scope(transport, scope)


@pytest.mark.parametrize(("transport", "scope"), [(t, s) for t in PATH_TRANSPORTS for s in PATH_INVALID]
                         + [("docker-archive", s) for s in ARCHIVE_INVALID])
def test_invalid(transport: str, scope: str) -> None:
    with pytest.raises(ValueError):
        validate_scope(transport, scope)
