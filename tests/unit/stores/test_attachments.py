"""stores/attachments.py: cosign attachment manifests and OCI referrers, from recorded bytes.

The docker transport (phase 2) calls these functions; here the "registry" is a dict of
blobs and recorded referrers responses (Debian's registry 2.8 has no referrers API).
"""

from __future__ import annotations

import json
import time

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import SignatureError
from trustcopy.signature.formats import SigstoreSignature
from trustcopy.stores.attachments import (
    BUNDLE_ARTIFACT_TYPE,
    OCI_MANIFEST,
    Descriptor,
    attachment_not_found,
    attachment_tag,
    build_attachment_update,
    build_bundle_referrer,
    bundle_referrers,
    collect_referrers,
    parse_attachment_manifest,
    parse_referrers_index,
    read_attachment_signatures,
    read_bundle_referrer,
    referrers_fallback_tag,
    updated_fallback_index,
)

MIME = "application/vnd.dev.cosign.simplesigning.v1+json"
DIGEST = Digest.from_bytes(b"manifest")
WHERE = "registry.example/app:sha256-x.sig"


def sig(payload: bytes, annotations: dict[str, str] | None = None, mime: str = MIME) -> SigstoreSignature:
    return SigstoreSignature(mime, payload, annotations or {"dev.cosignproject.cosign/signature": "c2ln"})


class Blobs:
    """A registry's blob store; counts fetches."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.fetched = 0

    def add(self, data: bytes) -> None:
        self.blobs[str(Digest.from_bytes(data))] = data

    def fetch(self, desc: Descriptor, limit: int) -> bytes:
        self.fetched += 1
        return self.blobs[str(desc.digest)][: limit + 1]


def test_tags() -> None:
    assert attachment_tag(DIGEST) == f"sha256-{DIGEST.hex}.sig"
    assert referrers_fallback_tag(DIGEST) == f"sha256-{DIGEST.hex}"


def test_new_attachment_manifest_layout_and_round_trip() -> None:
    update = build_attachment_update(None, None, [sig(b"one"), sig(b"two")], WHERE)
    manifest = json.loads(update.manifest)
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["mediaType"] == OCI_MANIFEST
    layer = manifest["layers"][0]
    assert list(layer) == ["mediaType", "digest", "size", "annotations"]
    assert layer == {"mediaType": MIME, "digest": str(Digest.from_bytes(b"one")), "size": 3,
                     "annotations": {"dev.cosignproject.cosign/signature": "c2ln"}}
    assert json.loads(update.config) == {"architecture": "", "os": "", "config": {},
                                         "rootfs": {"type": "layers", "diff_ids": [str(Digest.from_bytes(b"one")),
                                                                                   str(Digest.from_bytes(b"two"))]}}
    blobs = Blobs()
    for _, data in update.blobs:
        blobs.add(data)
    parsed = parse_attachment_manifest(update.manifest, OCI_MANIFEST, WHERE)
    read = read_attachment_signatures(parsed, blobs.fetch, WHERE)
    assert [s.untrusted_payload for s in read] == [b"one", b"two"]
    assert [s.location for s in read] == [f"{WHERE} layer 0", f"{WHERE} layer 1"]


def test_append_deduplicates_as_containers_image() -> None:
    first = build_attachment_update(None, None, [sig(b"one")], WHERE)
    existing = parse_attachment_manifest(first.manifest, OCI_MANIFEST, WHERE)
    again = build_attachment_update(existing, first.config, [sig(b"one"), sig(b"one", {"other": "x"}),
                                                             sig(b"one", mime="text/plain"), sig(b"three")], WHERE)
    layers = json.loads(again.manifest)["layers"]
    assert len(layers) == 4 and again.added == 3  # same bytes with other annotations or type is another layer
    assert len(json.loads(again.config)["rootfs"]["diff_ids"]) == 4
    assert build_attachment_update(existing, first.config, [sig(b"one")], WHERE).added == 0


def test_reading_checks_media_type_size_and_digest() -> None:
    update = build_attachment_update(None, None, [sig(b"payload")], WHERE)
    parsed = parse_attachment_manifest(update.manifest, OCI_MANIFEST, WHERE)
    with pytest.raises(SignatureError, match="unexpected MIME type"):
        parse_attachment_manifest(update.manifest, "application/vnd.docker.distribution.manifest.v2+json", WHERE)
    blobs = Blobs()
    blobs.blobs[str(Digest.from_bytes(b"payload"))] = b"PAYLOAD"  # corrupt
    with pytest.raises(SignatureError, match="layer 0: digest mismatch"):
        read_attachment_signatures(parsed, blobs.fetch, WHERE)


def test_oversized_layer_is_refused_before_fetching() -> None:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "x", "digest": str(DIGEST), "size": 2},
                           "layers": [{"mediaType": MIME, "digest": str(DIGEST), "size": 100 << 20}]}).encode()
    blobs = Blobs()
    with pytest.raises(SignatureError, match="larger than"):
        read_attachment_signatures(parse_attachment_manifest(manifest, OCI_MANIFEST, WHERE), blobs.fetch, WHERE)
    assert blobs.fetched == 0


def test_ten_thousand_layer_attachment_manifest_fails_fast() -> None:
    layer = {"mediaType": MIME, "digest": str(DIGEST), "size": 8}
    manifest = json.dumps({"schemaVersion": 2, "config": layer, "layers": [layer] * 10_000}).encode()
    start = time.monotonic()
    with pytest.raises(SignatureError, match="10000 layers, more than 256"):
        parse_attachment_manifest(manifest, OCI_MANIFEST, WHERE)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(("status", "errors", "missing"), [
    (404, [("MANIFEST_UNKNOWN", "manifest unknown")], True),
    (404, [], True),
    (404, [("UNKNOWN", "Not Found")], True),  # registry.redhat.io
    (404, [("UNKNOWN", "artifact x not found")], True),  # Harbor
    (404, [("NOT_FOUND", "artifact library/x:sha256-y.sig not found")], True),  # Harbor's own code (Go: UNKNOWN)
    (404, [("NAME_UNKNOWN", "repository not found")], False),  # a known code: not "unknown"
    (404, [("NAME_UNKNOWN", "x"), ("MANIFEST_UNKNOWN", "y")], False),  # only the first error counts (c/i)
    (500, [("UNKNOWN", "internal error")], False),
    (404, [("NAME_UNKNOWN", "repository unknown")], False),
    (401, [("UNAUTHORIZED", "no")], False),
    (500, [], False),
])
def test_not_found_rules(status: int, errors: list[tuple[str, str]], missing: bool) -> None:
    assert attachment_not_found(status, errors) is missing


def _index(entries: list[dict[str, object]]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": entries}).encode()


def test_bundle_referrer_round_trip_and_fallback_index() -> None:
    subject = Descriptor(OCI_MANIFEST, DIGEST, 8)
    upload = build_bundle_referrer(b'{"bundle":1}', subject)
    manifest = json.loads(upload.manifest)
    assert manifest["artifactType"] == BUNDLE_ARTIFACT_TYPE and manifest["subject"]["digest"] == str(DIGEST)
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    index = updated_fallback_index(None, upload.manifest_descriptor, "fallback")
    assert updated_fallback_index(index, upload.manifest_descriptor, "fallback") == index  # kept once
    # Recorded referrers API response: one bundle, one SBOM.
    sbom = {"mediaType": OCI_MANIFEST, "digest": str(Digest.from_bytes(b"sbom")), "size": 4,
            "artifactType": "application/spdx+json"}
    entries = bundle_referrers(parse_referrers_index(_index([json.loads(json.dumps(
        upload.manifest_descriptor.to_json())), sbom]), "api"))
    assert [e.digest for e in entries] == [upload.manifest_descriptor.digest]
    blobs = Blobs()
    for _, data in upload.blobs:
        blobs.add(data)
    found = read_bundle_referrer(upload.manifest, entries[0], blobs.fetch, "registry.example/app")
    assert found.untrusted_payload == b'{"bundle":1}'
    assert found.location == f"registry.example/app referrer {upload.manifest_descriptor.digest}"
    # A manifest that does not match the index's digest is refused.
    with pytest.raises(SignatureError, match="does not match its digest"):
        read_bundle_referrer(upload.manifest + b" ", entries[0], blobs.fetch, "registry.example/app")


def test_referrers_that_page_forever_fail_bounded() -> None:
    calls = []

    def forever(url: str | None) -> tuple[bytes, str | None]:
        calls.append(url)
        return _index([]), f"/v2/app/referrers/x?n={len(calls)}"

    with pytest.raises(SignatureError, match="more than 16 pages"):
        collect_referrers(forever, "registry.example/app")
    assert len(calls) == 16

    def looping(url: str | None) -> tuple[bytes, str | None]:
        return _index([]), "/v2/app/referrers/x?last=a"

    with pytest.raises(SignatureError, match="loop"):
        collect_referrers(looping, "registry.example/app")


def test_referrers_pages_are_followed_and_too_many_entries_refused() -> None:
    entry = {"mediaType": OCI_MANIFEST, "digest": str(DIGEST), "size": 1, "artifactType": BUNDLE_ARTIFACT_TYPE}
    pages = {None: (_index([entry]), "p2"), "p2": (_index([entry]), None)}
    assert len(collect_referrers(lambda u: pages[u], "r")) == 2
    big = {None: (_index([entry] * 200), "p2"), "p2": (_index([entry] * 200), None)}
    with pytest.raises(SignatureError, match="more than 256 referrers"):
        collect_referrers(lambda u: big[u], "r")
