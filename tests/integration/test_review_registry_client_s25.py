"""Review of the registry client's HTTP changes (stray-bytes guard, Accept-Encoding, error bodies,
pre-signed URL secrets) against a fake registry that writes exactly the bytes each case needs.

Each test names the behaviour Go's net/http client and containers/image (skopeo) show, which
trustcopy must match or better.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image
from registry_fixtures import docker_ref, fast_sys
from test_registry_hostile import (  # the fixtures as well: no ambient credentials, the registry
    OCI_MANIFEST,
    Handler,
    HostileRegistry,
    _no_ambient_credentials,  # noqa: F401
    hostile,  # noqa: F401
)

from trustcopy import limits
from trustcopy.errors import LimitExceededError
from trustcopy.manifest.digest import manifest_digest

#: A signature as a blob store's Location writes it: "/" escaped in lower case, "=" left raw (both
#: are valid in a query), so the text an echo of the URL carries is neither the decoded value
#: nor Python's re-encoding of it.
RAW_SIGNATURE = "Zm9vYmFyYmF6cXV4%2fc2VjcmV0LXNpZw=="


@pytest.fixture
def reg(hostile: HostileRegistry) -> HostileRegistry:  # noqa: F811 (the imported fixture, requested)
    """test_registry_hostile's registry (serving nothing yet, stopped after the test), by this file's name."""
    return hostile


def gzipped(data: bytes) -> bytes:
    """A gzip stream of ``data``."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


# -- pre-signed URL secrets ---------------------------------------------------------------------------


def test_an_echo_of_the_pre_signed_url_as_the_registry_wrote_it_is_masked(reg: HostileRegistry, tmp_path: Path,
                                                                           insecure_policy: Path,
                                                                           run_cli: Any) -> None:
    """The registry redirects a blob GET to a store URL whose signature is percent-encoded its own
    way (lower-case ``%2f``, a raw ``=``); the store refuses it and echoes the URL it was given.
    Only the decoded signature and Python's upper-case re-encoding were registered, so the echo,
    byte for byte the Location, printed the signature."""
    image = example_image()
    reg.serve_image(image)
    store_path = "/store/blob"

    def redirect(h: Handler) -> None:
        h.reply(307, b"", {"Location": f"http://{reg.host}{store_path}?X-Expires=300&sig={RAW_SIGNATURE}"})

    def store(h: Handler) -> None:
        h.reply(403, f"expired: {h.path.partition('?')[2]}".encode(), {"Content-Type": "text/plain"})

    reg.routes["/v2/app/blobs/*"] = redirect
    reg.routes[store_path] = store
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                f"docker://{reg.host}/app:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code != 0
    assert any(p.startswith(store_path) for _, p, _, _ in reg.requests(store_path))  # the store was asked
    assert "expired: X-Expires=300&sig=" in r.stderr  # the echo reached the output (whole) ...
    assert "Zm9vYmFy" not in r.stderr and "c2VjcmV0" not in r.stderr  # ... with none of the signature


def test_an_echo_cut_short_inside_the_signature_leaves_none_of_it(reg: HostileRegistry, tmp_path: Path,
                                                                  insecure_policy: Path, run_cli: Any) -> None:
    """The store's refusal quotes the (decoded) signature far enough in that the error's quote of
    the body (80 characters) ends inside it. The registered secret was masked only at the CLI's
    output, after the cut: the cut-off head of the signature no longer matched it and was printed."""
    image = example_image()
    reg.serve_image(image)
    signature = "S1gnatureHeadPart0123456789abcdefSIGNATURETAILabcdefghij"

    def redirect(h: Handler) -> None:
        h.reply(307, b"", {"Location": f"http://{reg.host}/store/blob?sig={signature}"})

    def store(h: Handler) -> None:
        h.reply(403, f"AccessDenied: request signature does not match: {signature}".encode(),
                {"Content-Type": "text/plain"})

    reg.routes["/v2/app/blobs/*"] = redirect
    reg.routes["/store/blob"] = store
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                f"docker://{reg.host}/app:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code != 0
    assert "AccessDenied" in r.stderr  # the refusal is quoted ...
    assert "S1gnatureHead" not in r.stderr  # ... without any of the signature


def test_a_long_url_secret_echoed_across_the_first_200_bytes_is_masked(reg: HostileRegistry, tmp_path: Path,
                                                                       insecure_policy: Path,
                                                                       run_cli: Any) -> None:
    """A pre-signed URL's ``X-Amz-Security-Token`` is hundreds of characters long. The store's
    refusal quotes it from its 30th character on: a plain-text body was cut to 200 bytes *before*
    masking, so the token, cut there, no longer matched and its head made the 80 quoted characters."""
    image = example_image()
    reg.serve_image(image)
    token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN" + "A" * 400 + "END"

    def redirect(h: Handler) -> None:
        h.reply(307, b"", {"Location": f"http://{reg.host}/store/blob?X-Amz-Security-Token={token}"})

    def store(h: Handler) -> None:
        h.reply(403, f"InvalidToken: the token {token} has expired".encode(), {"Content-Type": "text/plain"})

    reg.routes["/v2/app/blobs/*"] = redirect
    reg.routes["/store/blob"] = store
    r = run_cli("--policy", str(insecure_policy), "copy", "--src-tls-verify=false", "--retry-times=0",
                f"docker://{reg.host}/app:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code != 0
    assert "InvalidToken: the token" in r.stderr
    assert "IQoJb3JpZ2lu" not in r.stderr


# -- Accept-Encoding: gzip on manifests --------------------------------------------------------------


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_a_gzip_bomb_manifest_is_bounded_on_its_decoded_bytes(reg: HostileRegistry, by: str) -> None:
    """Manifests are now asked for in gzip: a registry answering a few KiB of twice-gzipped zeros
    (8 times the limit decoded) is refused at MAX_MANIFEST_BODY decoded bytes, in bounded time."""
    bomb = gzipped(gzipped(b"\0" * (limits.MAX_MANIFEST_BODY * 8)))
    assert len(bomb) < limits.MAX_MANIFEST_BODY // 64
    tail = "1" if by == "tag" else str(manifest_digest(example_image().manifest))
    reg.routes[f"/v2/app/manifests/{tail}"] = lambda h: h.reply(
        200, bomb, {"Content-Type": OCI_MANIFEST, "Content-Encoding": "gzip, gzip"})
    with pytest.raises(LimitExceededError):
        docker_ref(reg.host, f"app:{tail}" if by == "tag" else f"app@{tail}").new_image_source(
            fast_sys(retry_times=0)).get_manifest()


def test_a_gzipped_manifest_is_digested_on_its_decoded_bytes(reg: HostileRegistry) -> None:
    """As Go's transport hands c/image the decoded bytes of a gzip answer it asked for: by digest
    the decoded manifest passes (and is what is returned), its encoded length is not the limit's."""
    image = example_image()
    digest = manifest_digest(image.manifest)
    reg.routes[f"/v2/app/manifests/{digest}"] = lambda h: h.reply(
        200, gzipped(image.manifest), {"Content-Type": OCI_MANIFEST, "Content-Encoding": "GZIP"})
    body, mime = docker_ref(reg.host, f"app@{digest}").new_image_source(fast_sys()).get_manifest()
    assert (body, mime) == (image.manifest, OCI_MANIFEST)
