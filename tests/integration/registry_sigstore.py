"""Helpers for sigstore tests on a real registry: configuration, policies, and an independent cosign writer.

:class:`Site` holds one test's registries.d directory (``use-sigstore-attachments`` per
host or namespace), an empty registries.conf, a cosign key pair made by
``generate-sigstore-key`` and the policies; :meth:`Site.run` runs trustcopy in-process
with them.

The "cosign" functions write attachments and referrers straight from the published
layouts (cosign's SIGNATURE_SPEC: an OCI manifest tagged ``sha256-HEX.sig``, one layer
per signature with the ``dev.cosignproject.cosign/signature`` annotation; cosign v3's
BUNDLE_SPEC: an artifact manifest whose ``subject`` is the image, listed in the OCI 1.1
referrers fallback index ``sha256-HEX``), with plain httpx and literal JSON: trustcopy's
own writer is never used, so a bug in it cannot hide in a matching bug here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from imagefactory import Image, write_oci

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "signature"))

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
COSIGN_MIME = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANN = "dev.cosignproject.cosign/signature"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}, application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    """``sha256:HEX`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sig_tag(digest: str) -> str:
    """``sha256-HEX.sig``."""
    return digest.replace(":", "-") + ".sig"


# -- reading the registry directly ------------------------------------------------------


def get_manifest(host: str, repo: str, ref: str) -> httpx.Response:
    """GET a manifest (plain HTTP) with every type accepted."""
    return httpx.get(f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})


def get_blob(host: str, repo: str, digest: str) -> bytes:
    """A blob's bytes (checked)."""
    r = httpx.get(f"http://{host}/v2/{repo}/blobs/{digest}", follow_redirects=True)
    assert r.status_code == 200, r.text
    assert sha256(r.content) == digest
    return r.content


def repositories(host: str) -> list[str]:
    """The registry's catalog."""
    return httpx.get(f"http://{host}/v2/_catalog").json()["repositories"] or []


# -- an independent writer ---------------------------------------------------------------


def push_blob(host: str, repo: str, data: bytes) -> dict[str, Any]:
    """Upload a blob (monolithic POST + PUT); its descriptor without a media type."""
    digest = sha256(data)
    r = httpx.post(f"http://{host}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = httpx.URL(f"http://{host}").join(r.headers["location"])
    r = httpx.put(location.copy_merge_params({"digest": digest}), content=data)
    assert r.status_code == 201, r.text
    return {"digest": digest, "size": len(data)}


def push_manifest(host: str, repo: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
    """PUT a manifest by tag or digest; its digest."""
    r = httpx.put(f"http://{host}/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media_type})
    assert r.status_code == 201, r.text
    return sha256(body)


def push_image(host: str, repo: str, tag: str, image: Image) -> str:
    """An image pushed without trustcopy; its digest."""
    for data in image.blobs.values():
        push_blob(host, repo, data)
    return push_manifest(host, repo, tag, image.manifest, json.loads(image.manifest)["mediaType"])


@dataclass(frozen=True)
class Layer:
    """One attachment layer as cosign writes it."""

    payload: bytes
    annotations: dict[str, str]
    mime: str = COSIGN_MIME


def cosign_attachment(layers: list[Layer], blob_digest: Callable[[Layer], str] | None = None) -> tuple[bytes, bytes]:
    """(manifest, config) of a cosign ``.sig`` image (cosign's own config shape)."""
    descs = [{"mediaType": layer.mime, "size": len(layer.payload),
              "digest": blob_digest(layer) if blob_digest else sha256(layer.payload),
              "annotations": layer.annotations} for layer in layers]
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
                         "config": {}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "size": len(config), "digest": sha256(config)},
                           "layers": descs}).encode()
    return manifest, config


def push_attachment(host: str, repo: str, image_digest: str, layers: list[Layer]) -> str:
    """Write the ``sha256-HEX.sig`` image of ``image_digest``; returns the tag."""
    manifest, config = cosign_attachment(layers)
    push_blob(host, repo, config)
    for layer in layers:
        push_blob(host, repo, layer.payload)
    tag = sig_tag(image_digest)
    push_manifest(host, repo, tag, manifest)
    return tag


def bundle_referrer(bundle: bytes, subject_digest: str, subject_size: int) -> bytes:
    """cosign v3's referrer manifest for a bundle."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": BUNDLE_TYPE, "digest": sha256(bundle), "size": len(bundle)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
    }).encode()


def index_of(entries: list[dict[str, Any]]) -> bytes:
    """An OCI image index (a referrers list)."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def referrer_entry(manifest: bytes, artifact_type: str = BUNDLE_TYPE) -> dict[str, Any]:
    """The referrers-list descriptor of a referrer manifest."""
    return {"mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest),
            "artifactType": artifact_type}


def push_bundle_referrer(host: str, repo: str, bundle: bytes, subject_digest: str, subject_size: int) -> str:
    """Push a bundle referrer and list it in the fallback index (no referrers API); the referrer's digest."""
    push_blob(host, repo, b"{}")
    push_blob(host, repo, bundle)
    manifest = bundle_referrer(bundle, subject_digest, subject_size)
    digest = push_manifest(host, repo, sha256(manifest), manifest)
    push_manifest(host, repo, subject_digest.replace(":", "-"), index_of([referrer_entry(manifest)]), OCI_INDEX)
    return digest


# -- one test's configuration ---------------------------------------------------------------


@dataclass
class Site:
    """registries.d, registries.conf, a cosign key pair and policies in ``tmp``, for ``host``."""

    tmp: Path
    host: str
    run_cli: Callable[..., Any]
    regd: Path = field(init=False)
    conf: Path = field(init=False)

    def __post_init__(self) -> None:
        self.regd = self.tmp / "registries.d"
        self.regd.mkdir(exist_ok=True)
        self.conf = self.tmp / "registries.conf"
        self.conf.write_text("")
        (self.tmp / "pass").write_text("pw\n")
        self.attachments({self.host: True})
        r = self.run("generate-sigstore-key", "--output-prefix", str(self.tmp / "key"), "--passphrase-file",
                     str(self.tmp / "pass"))
        assert r.exit_code == 0, r.stderr

    @property
    def public_key(self) -> Path:
        """The key pair's public half (PEM)."""
        return self.tmp / "key.pub"

    def attachments(self, sections: dict[str, bool]) -> None:
        """registries.d: ``use-sigstore-attachments`` per section; every store in the test's directory."""
        docker = {scope: {"use-sigstore-attachments": on, "lookaside": f"file://{self.tmp}/store",
                          "lookaside-staging": f"file://{self.tmp}/store"} for scope, on in sections.items()}
        (self.regd / "test.yaml").write_text(json.dumps(
            {"docker": docker, "default-docker": {"lookaside": f"file://{self.tmp}/default-store"}}))

    def policy(self, requirement: dict[str, Any] | None = None, *, identity: dict[str, str] | None = None,
               name: str = "policy.json") -> Path:
        """``docker`` scope host → the requirement (a sigstoreSigned by the key pair by default); else accept."""
        req = requirement or {"type": "sigstoreSigned", "keyPath": str(self.public_key),
                              "signedIdentity": identity or {"type": "matchRepository"}}
        path = self.tmp / name
        path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                                    "transports": {"docker": {self.host: [req]}}}))
        return path

    def run(self, *args: str, policy: Path | None = None) -> Any:
        """``trustcopy --policy P --registries.d D --registries-conf C ARGS`` in-process."""
        head = ["--policy", str(policy)] if policy is not None else ["--insecure-policy"]
        return self.run_cli(*head, "--registries.d", str(self.regd), "--registries-conf", str(self.conf), *args)

    def sign_push(self, image: Image, dest: str, *extra: str, policy: Path | None = None) -> Any:
        """Copy ``image`` (from an OCI layout) to ``docker://HOST/dest``, signed with the key pair."""
        src = self.tmp / f"src-{hashlib.sha256(image.manifest).hexdigest()[:8]}"
        write_oci({"t": image}, str(src))
        return self.run("copy", "-q", "--dest-tls-verify=false", "--sign-by-sigstore-private-key",
                        str(self.tmp / "key.private"), "--sign-passphrase-file", str(self.tmp / "pass"), *extra,
                        f"oci:{src}:t", f"docker://{self.host}/{dest}", policy=policy)

    def verify(self, ref: str, *extra: str, policy: Path | None = None) -> Any:
        """``verify --tls-verify=false docker://HOST/ref`` under ``policy`` (the key pair's by default)."""
        return self.run("verify", "--tls-verify=false", *extra, f"docker://{self.host}/{ref}",
                        policy=policy or self.policy())


def locations(report: Any) -> Iterator[str]:
    """Every non-empty ``location`` in a JSON report."""
    if isinstance(report, dict):
        for key, value in report.items():
            if key == "location" and value:
                yield value
            else:
                yield from locations(value)
    elif isinstance(report, list):
        for item in report:
            yield from locations(item)


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode()


def use_proxy(site: Site, proxy: Any) -> None:
    """Point ``site`` at a proxy in front of its registry, with sigstore attachments on for it."""
    site.host = proxy.host
    site.attachments({proxy.host: True})


def isolated_site(tmp_path: Path, host: str, run_cli: Any, monkeypatch: Any) -> Site:
    """A Site whose commands see no credentials of the machine (HOME, XDG_RUNTIME_DIR, REGISTRY_AUTH_FILE)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return Site(tmp_path, host, run_cli)
