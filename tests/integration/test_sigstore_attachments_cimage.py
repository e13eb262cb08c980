"""Sigstore attachments in a real registry, byte for byte as current containers/image writes and reads them.

The expectations restate, in this file's own words, what containers/image's Go code does
(function names cited per test); the expected bytes are literal JSON written here, never
produced by trustcopy's writer:

- ``putSignaturesToSigstoreAttachments`` (docker/docker_image_dest.go): a new attachment is
  ``OCI1FromComponents`` + a zero ``imgspecv1.Image`` with ``rootfs.type`` "layers"; an
  existing one is decoded into ``manifest.OCI1`` / ``imgspecv1.Image`` (image-spec 1.1.1)
  and encoded again, so another writer's config comes back in Go's field order, with
  unknown fields dropped and times re-formatted, and the manifest keeps its 1.1 fields;
  signature blobs, then the config, then the tagged manifest are pushed, and config and
  manifest are pushed even when every signature was there already.
- ``getSigstoreAttachmentManifest`` (docker/docker_client.go) with ``manifest.OCI1FromManifest``:
  an attachment manifest that also carries ``manifests`` is refused
  (``ValidateUnambiguousManifestFormat``); one without ``layers`` holds no signatures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image
from registry_fixtures import RegistryServer
from registry_sigstore import (
    COSIGN_MIME,
    OCI_MANIFEST,
    SIG_ANN,
    Layer,
    Site,
    get_blob,
    get_manifest,
    isolated_site,
    push_attachment,
    push_blob,
    push_image,
    push_manifest,
    sha256,
    sig_tag,
    use_proxy,
)
from scripted_proxy import Answer, ScriptedProxy, Seen

pytestmark = [pytest.mark.registry]

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@pytest.fixture
def site(tmp_path: Path, plain_registry: RegistryServer, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    return isolated_site(tmp_path, plain_registry.host, run_cli, monkeypatch)


def raw_attachment(site: Site, repo: str, digest: str) -> tuple[bytes, bytes]:
    """(manifest bytes, config bytes) of the ``.sig`` tag, as stored."""
    r = get_manifest(site.host, repo, sig_tag(digest))
    assert r.status_code == 200, r.text
    config = json.loads(r.content)["config"]["digest"]
    return r.content, get_blob(site.host, repo, config)


def layer_json(layer: dict[str, Any]) -> str:
    """A signature layer descriptor as Go's imgspecv1.Descriptor encodes it."""
    ann = ",".join(f'"{k}":"{v}"' for k, v in sorted(layer.get("annotations", {}).items()))
    tail = f',"annotations":{{{ann}}}' if ann else ""
    return f'{{"mediaType":"{layer["mediaType"]}","digest":"{layer["digest"]}","size":{layer["size"]}{tail}}}'


def config_desc(config: bytes) -> str:
    return f'{{"mediaType":"{OCI_CONFIG}","digest":"{sha256(config)}","size":{len(config)}}}'


# -- writing ---------------------------------------------------------------------------------


def test_a_new_attachment_is_oci1_from_components_and_a_zero_image_config(site: Site) -> None:
    """putSignaturesToSigstoreAttachments, no existing manifest: exact bytes of both documents."""
    image = example_image()
    assert site.sign_push(image, "team/app:1").exit_code == 0
    manifest, config = raw_attachment(site, "team/app", image.digest)
    layer = json.loads(manifest)["layers"][0]
    assert config == ('{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["'
                      + layer["digest"] + '"]}}').encode()
    assert manifest == (f'{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{config_desc(config)},'
                        f'"layers":[{layer_json(layer)}]}}').encode()


def test_appending_to_a_cosign_attachment_re_encodes_its_config_as_go(site: Site) -> None:
    """cosign's config (go-containerregistry field order, zero times) comes back in imgspecv1.Image order."""
    image = example_image()
    push_image(site.host, "team/app", "1", image)
    first = Layer(b'{"cosign":"first"}', {SIG_ANN: "Zmlyc3Q="})
    push_attachment(site.host, "team/app", image.digest, [first])
    assert site.sign_push(image, "team/app:1").exit_code == 0
    manifest, config = raw_attachment(site, "team/app", image.digest)
    layers = json.loads(manifest)["layers"]
    assert len(layers) == 2 and layers[0]["digest"] == sha256(first.payload)
    assert config == ('{"created":"0001-01-01T00:00:00Z","architecture":"","os":"","config":{},'
                      f'"rootfs":{{"type":"layers","diff_ids":["{layers[0]["digest"]}","{layers[1]["digest"]}"]}},'
                      '"history":[{"created":"0001-01-01T00:00:00Z"}]}').encode()
    assert manifest == (f'{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{config_desc(config)},'
                        f'"layers":[{layer_json(layers[0])},{layer_json(layers[1])}]}}').encode()


def test_re_encoding_keeps_image_spec_1_1_fields_and_drops_unknown_config_fields(site: Site) -> None:
    """manifest.OCI1 keeps artifactType, subject, annotations, a layer's data and platform; the config
    loses what imgspecv1.Image has no field for, re-formats times, sorts maps, and keeps rootfs.type
    (here absent: Go writes "" then, it sets "layers" only for a new attachment)."""
    image = example_image()
    push_image(site.host, "team/app", "1", image)
    sbom = b"an SBOM"
    push_blob(site.host, "team/app", sbom)
    config = json.dumps({
        "Architecture": "amd64", "os": "linux", "variant": "v8", "created": "2020-01-02T03:04:05.120+02:00",
        "unknown": [1, 2], "config": {"Labels": {"b": "1", "a": "2"}, "Env": [], "Healthcheck": {"Test": ["x"]}},
        "history": [{"created": "2020-01-02T01:04:05Z", "empty_layer": True, "comment": ""}],
    }).encode()
    push_blob(site.host, "team/app", config)
    subject = {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest)}
    foreign = {"mediaType": "text/spdx", "digest": sha256(sbom), "size": len(sbom),
               "annotations": {"z": "1", "a": "2"}, "data": "YW4gU0JPTQ==",
               "platform": {"os": "linux", "architecture": "arm64"}}
    body = json.dumps({"schemaVersion": 2, "artifactType": "application/x-attachments",
                       "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config),
                                  "annotations": {"dropped": "yes"}},
                       "layers": [foreign], "subject": subject, "annotations": {"k": "v"}}).encode()
    push_manifest(site.host, "team/app", sig_tag(image.digest), body)
    assert site.sign_push(image, "team/app:1").exit_code == 0
    manifest, new_config = raw_attachment(site, "team/app", image.digest)
    added = json.loads(manifest)["layers"][1]
    assert added["mediaType"] == COSIGN_MIME
    assert new_config == ('{"created":"2020-01-02T03:04:05.12+02:00","architecture":"amd64","os":"linux",'
                          '"variant":"v8","config":{"Labels":{"a":"2","b":"1"}},'
                          f'"rootfs":{{"type":"","diff_ids":["{added["digest"]}"]}},'
                          '"history":[{"created":"2020-01-02T01:04:05Z","empty_layer":true}]}').encode()
    # no "mediaType" in the original: Go's omitempty keeps it absent
    assert manifest == (
        '{"schemaVersion":2,"artifactType":"application/x-attachments",'
        f'"config":{config_desc(new_config)},'
        f'"layers":[{{"mediaType":"text/spdx","digest":"{sha256(sbom)}","size":{len(sbom)},'
        '"annotations":{"a":"2","z":"1"},"data":"YW4gU0JPTQ==","platform":{"architecture":"arm64","os":"linux"}},'
        f'{layer_json(added)}],'
        f'"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{image.digest}","size":{len(image.manifest)}}},'
        '"annotations":{"k":"v"}}').encode()


def test_nothing_new_still_pushes_the_config_and_manifest_re_encoded(site: Site) -> None:
    """putSignaturesToSigstoreAttachments uploads config + manifest even when every signature is a duplicate."""
    image = example_image()
    push_image(site.host, "team/app", "1", image)
    sig = Layer(b'{"cosign":"one"}', {SIG_ANN: "b25l"})
    push_attachment(site.host, "team/app", image.digest, [sig])
    push_image(site.host, "prod/app", "1", image)
    push_attachment(site.host, "prod/app", image.digest, [sig])  # cosign's bytes already there
    before = get_manifest(site.host, "prod/app", sig_tag(image.digest)).content
    r = site.run("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                 f"docker://{site.host}/team/app:1", f"docker://{site.host}/prod/app:1")
    assert r.exit_code == 0, r.stderr
    manifest, config = raw_attachment(site, "prod/app", image.digest)
    assert manifest != before
    assert json.loads(manifest)["layers"] == json.loads(before)["layers"]
    assert config.startswith(b'{"created":"0001-01-01T00:00:00Z","architecture":"","os":""')


def test_uploads_are_signature_blobs_then_config_then_the_tag(site: Site, proxied: ScriptedProxy) -> None:
    """putSignaturesToSigstoreAttachments: putBlobBytesAsOCI per new signature, the config, uploadManifest."""
    image = example_image()
    use_proxy(site, proxied)
    assert site.sign_push(image, "team/app:1").exit_code == 0
    manifest = json.loads(get_manifest(proxied.host, "team/app", sig_tag(image.digest)).content)
    writes = [s for s in proxied.requests() if s.method in ("PUT", "POST")]
    # The image's own tag moves last, after its signatures (destination.py commit).
    assert writes[-1].method == "PUT" and writes[-1].path == "/v2/team/app/manifests/1"
    writes = writes[:-1]
    tag_put = [i for i, s in enumerate(writes) if s.path.endswith(f"/manifests/{sig_tag(image.digest)}")]
    assert len(tag_put) == 1 and tag_put[0] == len(writes) - 1
    assert writes[-1].headers["content-type"] == OCI_MANIFEST
    blob_puts = [s.path for s in writes[:tag_put[0]] if s.method == "PUT" and "/blobs/uploads/" in s.path]
    sig_digest, config_digest = manifest["layers"][0]["digest"], manifest["config"]["digest"]
    order = [p for p in blob_puts if sig_digest.replace(":", "%3A") in p or config_digest.replace(":", "%3A") in p
             or sig_digest in p or config_digest in p]
    assert len(order) == 2 and (sig_digest in order[0] or sig_digest.replace(":", "%3A") in order[0])


# -- reading ---------------------------------------------------------------------------------


def serve_attachment(site: Site, proxied: ScriptedProxy, body: bytes) -> str:
    digest = push_image(site.host, "team/app", "1", example_image())
    use_proxy(site, proxied)

    def answer(seen: Seen) -> Answer | None:
        if seen.path.endswith(sig_tag(digest)):
            return Answer(200, {"Content-Type": OCI_MANIFEST}, body)
        return None

    proxied.answer = answer
    return digest


def test_an_ambiguous_attachment_manifest_is_refused(site: Site, proxied: ScriptedProxy) -> None:
    """OCI1FromManifest → ValidateUnambiguousManifestFormat: "manifests" in an image manifest fails the read."""
    config = {"mediaType": OCI_CONFIG, "digest": sha256(b"{}"), "size": 2}
    serve_attachment(site, proxied, json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                                "layers": [], "manifests": []}).encode())
    r = site.verify("team/app:1")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "ambiguous" in r.stdout + r.stderr
    assert not proxied.requests("/blobs/")


@pytest.mark.parametrize("layers", ["absent", "null"])
def test_an_attachment_manifest_without_layers_holds_no_signatures(site: Site, proxied: ScriptedProxy,
                                                                   layers: str) -> None:
    """appendSignaturesFromSigstoreAttachments: Go decodes absent/null "layers" as none, without an error."""
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": sha256(b"{}"), "size": 2}}
    if layers == "null":
        doc["layers"] = None
    serve_attachment(site, proxied, json.dumps(doc).encode())
    r = site.verify("team/app:1")
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "NO_SIGNATURES" in r.stdout + r.stderr
