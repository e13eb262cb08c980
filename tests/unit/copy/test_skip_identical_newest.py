"""Skipping a copy whose manifest the destination already holds (the newest containers/image's rule).

The newest containers/image (container-libs 4a479f3606) skips only when the destination's
manifest has the very bytes of the source's. trustcopy asks the destination for a digest
(one HEAD), which names the bytes for every manifest but a signed schema1 one: its digest
leaves the JWS signatures out, so another signature block has the same digest. Such a
manifest is therefore never skipped.
"""

from __future__ import annotations

import base64
import json

from trustcopy.copy.single import already_held
from trustcopy.digest import Digest
from trustcopy.manifest.digest import manifest_digest


class _Holding:
    """A destination that says it holds a manifest with this digest (and nothing else)."""

    def __init__(self, digest: Digest | None) -> None:
        self.digest = digest

    def held_manifest_digest(self) -> Digest | None:
        return self.digest


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _signed_schema1(signature: str) -> bytes:
    """A pretty-JWS schema1 manifest with one signature block (not verified by anyone here)."""
    body = {"schemaVersion": 1, "name": "ns/app", "tag": "1", "architecture": "amd64",
            "fsLayers": [{"blobSum": "sha256:" + "a" * 64}],
            "history": [{"v1Compatibility": json.dumps({"id": "b" * 64})}]}
    payload = json.dumps(body, indent=3)
    cut = payload.rindex("}")
    while payload[cut - 1] in " \n":
        cut -= 1
    protected = _b64url(json.dumps({"formatLength": cut, "formatTail": _b64url(payload[cut:].encode()),
                                    "time": "2016-03-04T05:06:07Z"}).encode())
    block = {"header": {"jwk": {"kty": "EC", "crv": "P-256", "x": _b64url(b"\x01" * 32), "y": _b64url(b"\x02" * 32)},
                        "alg": "ES256"}, "signature": signature, "protected": protected}
    signatures = json.dumps([block], indent=3).replace("\n", "\n   ")
    return (payload[:cut] + ',\n   "signatures": ' + signatures + payload[cut:]).encode()


def test_a_plain_manifest_held_under_its_digest_is_skipped() -> None:
    raw = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'
    assert already_held(_Holding(Digest.from_bytes(raw)), raw) == Digest.from_bytes(raw)  # type: ignore[arg-type]
    assert already_held(_Holding(Digest.from_bytes(b"other")), raw) is None  # type: ignore[arg-type]
    assert already_held(_Holding(None), raw) is None  # type: ignore[arg-type]


def test_a_signed_schema1_manifest_is_never_skipped() -> None:
    ours, theirs = _signed_schema1("c2lnbmF0dXJlLW9uZQ"), _signed_schema1("c2lnbmF0dXJlLXR3bw")
    # The two differ only in their signature blocks: one digest names both.
    assert ours != theirs and manifest_digest(ours) == manifest_digest(theirs)
    assert manifest_digest(ours) != Digest.from_bytes(ours)
    # The destination holds "a manifest with this digest": it may be theirs, so copy.
    assert already_held(_Holding(manifest_digest(theirs)), ours) is None  # type: ignore[arg-type]
