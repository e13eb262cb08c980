"""Sigstore signatures in a real registry (Debian's docker-registry 2.8): attachments and referrers.

- ``copy --sign-by-sigstore-private-key`` to ``docker://`` writes containers/image's
  attachment layout (checked byte by byte, and the signature with ``openssl``); ``verify``
  and ``copy`` accept it under ``sigstoreSigned`` and name where it was found; signing
  again appends, carrying de-duplicates, ``--remove-signatures`` drops; ``--all`` signs
  every instance and the list; a list-only signature is explained.
- Without ``use-sigstore-attachments`` for the destination, signing and carrying are
  refused before anything is pushed.
- Attachments written by an independent cosign-layout writer (registry_sigstore.py) with
  keys, Fulcio + Rekor and PKI material made by the tests are read and verified; the
  rejections (another key, another digest, a mangled signature, a bundle for another
  digest) each have their reason and their location; nothing reaches a destination.
- Sigstore bundles: the fallback index on the real registry (written and read), and the
  OCI 1.1 referrers API answered by recorded responses from a loopback proxy in front
  of the registry (Distribution 2.8 has none): filtering, paging forever (bounded).
- containers/image's cosign fixtures, served through the proxy, verify as in c/i.
- Hostile answers: a 10,000-layer attachment manifest, a corrupt layer, and the
  "not found" rules (Harbor, Red Hat) versus real failures.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer as ImageLayer
from imagefactory import example_image, make_image, make_index, make_tar, write_oci
from registry_fixtures import RegistryServer
from registry_signing import write_oci_list
from registry_sigstore import (
    BUNDLE_TYPE,
    COSIGN_MIME,
    OCI_INDEX,
    OCI_MANIFEST,
    SIG_ANN,
    Layer,
    Site,
    b64,
    cosign_attachment,
    get_blob,
    get_manifest,
    index_of,
    isolated_site,
    locations,
    push_attachment,
    push_bundle_referrer,
    push_image,
    referrer_entry,
    repositories,
    sha256,
    sig_tag,
    use_proxy,
)
from scripted_proxy import Answer, ScriptedProxy, Seen
from sigstore_material import (
    CERT_ANN,
    CHAIN_ANN,
    EMAIL,
    ISSUER,
    SET_ANN,
    cert_pem,
    cosign_payload,
    ec_key,
    hashedrekord,
    make_cert,
    make_set,
    pub_pem,
    sign,
)

from trustcopy.digest import Digest
from trustcopy.signature.formats import signature_from_blob

pytestmark = [pytest.mark.registry]

OTHER = make_image([ImageLayer(make_tar([("other.txt", b"another image\n")]))])


@pytest.fixture
def site(tmp_path: Path, plain_registry: RegistryServer, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    return isolated_site(tmp_path, plain_registry.host, run_cli, monkeypatch)


def attachment(site: Site, repo: str, digest: str) -> dict[str, Any]:
    r = get_manifest(site.host, repo, sig_tag(digest))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == OCI_MANIFEST
    return dict(r.json())


# -- writing: the attachment layout ----------------------------------------------------------------------------


def test_signed_push_writes_the_cosign_attachment_layout(site: Site) -> None:
    image = example_image()
    r = site.sign_push(image, "team/app:1")
    assert r.exit_code == 0, r.stderr
    manifest = attachment(site, "team/app", image.digest)
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["mediaType"] == OCI_MANIFEST and len(manifest["layers"]) == 1
    layer = manifest["layers"][0]
    assert layer["mediaType"] == COSIGN_MIME and list(layer["annotations"]) == [SIG_ANN]
    payload = get_blob(site.host, "team/app", layer["digest"])
    claims = json.loads(payload)
    assert claims["critical"] == {"identity": {"docker-reference": f"{site.host}/team/app:1"},
                                  "image": {"docker-manifest-digest": image.digest},
                                  "type": "cosign container image signature"}
    config = json.loads(get_blob(site.host, "team/app", manifest["config"]["digest"]))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    # the signature verifies with openssl, over the stored payload
    (site.tmp / "payload").write_bytes(payload)
    (site.tmp / "sig").write_bytes(base64.b64decode(layer["annotations"][SIG_ANN]))
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(site.public_key), "-signature",
                          str(site.tmp / "sig"), str(site.tmp / "payload")], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and "Verified OK" in out.stdout
    # sigstore signatures never go to a lookaside store
    assert not (site.tmp / "store").exists() and not (site.tmp / "default-store").exists()


def test_sign_then_verify_and_copy_name_the_attachment(site: Site) -> None:
    image = example_image()
    assert site.sign_push(image, "team/app:1").exit_code == 0
    exact = site.policy(identity={"type": "matchExact"})
    r = site.verify("team/app:1", "-o", "json", policy=exact)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert list(locations(json.loads(r.stdout))) == [f"{site.host}/team/app:{sig_tag(image.digest)} layer 0"]
    # copied out with the image, into dir: (the sigstore-json envelope), and accepted from there
    r = site.run("copy", "-q", "--src-tls-verify=false", f"docker://{site.host}/team/app:1", f"dir:{site.tmp}/out",
                 policy=exact)
    assert r.exit_code == 0, r.stderr
    assert (site.tmp / "out" / "signature-1").read_bytes().startswith(b"\x00sigstore-json\n")


def test_signing_again_appends_carrying_deduplicates_and_remove_signatures_drops(site: Site) -> None:
    image = example_image()
    assert site.sign_push(image, "team/app:1").exit_code == 0
    assert site.sign_push(image, "team/app:1").exit_code == 0  # a second signature (new timestamp)
    layers = attachment(site, "team/app", image.digest)["layers"]
    assert len(layers) == 2 and layers[0] != layers[1]
    for _ in range(2):  # promoted twice: the second copy adds nothing
        r = site.run("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                     f"docker://{site.host}/team/app:1", f"docker://{site.host}/prod/app:1", policy=site.policy())
        assert r.exit_code == 0, r.stderr
        assert attachment(site, "prod/app", image.digest)["layers"] == layers
    r = site.run("copy", "-q", "--remove-signatures", "--src-tls-verify=false", "--dest-tls-verify=false",
                 f"docker://{site.host}/team/app:1", f"docker://{site.host}/bare/app:1", policy=site.policy())
    assert r.exit_code == 0, r.stderr
    assert get_manifest(site.host, "bare/app", sig_tag(image.digest)).status_code == 404
    assert site.verify("bare/app:1").exit_code == 1


# -- refusals before anything is pushed ---------------------------------------------------------------------


def test_signing_without_use_sigstore_attachments_is_refused_before_anything_is_pushed(site: Site) -> None:
    site.attachments({site.host: False})
    r = site.sign_push(example_image(), "team/app:1")
    assert r.exit_code == 1
    assert "error[sigstore-signing-unsupported]" in r.stderr and "use-sigstore-attachments" in r.stderr
    assert repositories(site.host) == []


def test_carrying_attachments_to_a_namespace_without_them_is_refused_before_anything_is_pushed(site: Site) -> None:
    site.attachments({f"{site.host}/team": True, f"{site.host}/prod": False})
    assert site.sign_push(example_image(), "team/app:1").exit_code == 0
    r = site.run("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                 f"docker://{site.host}/team/app:1", f"docker://{site.host}/prod/app:1", policy=site.policy())
    assert r.exit_code == 1
    assert "error[signatures-unsupported]" in r.stderr and "--remove-signatures" in r.stderr
    assert "prod/app" not in repositories(site.host)


def test_attachments_are_not_read_without_the_setting(site: Site) -> None:
    image = example_image()
    assert site.sign_push(image, "team/app:1").exit_code == 0
    site.attachments({site.host: False})
    r = site.verify("team/app:1")
    assert r.exit_code == 1 and "NO_SIGNATURES" in r.stdout + r.stderr


def test_pull_through_a_mirror_reads_the_mirrors_attachments(site: Site,
                                                             second_plain_registry: RegistryServer) -> None:
    """As c/i: attachments of the physical reference pulled from, under the mirror's registries.d setting."""
    primary, mirror = site.host, second_plain_registry.host
    image = example_image()
    site.host = mirror
    site.attachments({mirror: True})
    assert site.sign_push(image, "team/app:1", "--sign-identity", f"{primary}/team/app:1").exit_code == 0
    site.host = primary
    site.conf.write_text(f'[[registry]]\nprefix = "{primary}"\nlocation = "{primary}"\ninsecure = true\n'
                         f'[[registry.mirror]]\nlocation = "{mirror}"\ninsecure = true\n')
    exact = site.policy(identity={"type": "matchExact"})
    site.attachments({primary: False, mirror: True})
    r = site.run("verify", "-o", "json", f"docker://{primary}/team/app:1", policy=exact)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert list(locations(json.loads(r.stdout))) == [f"{mirror}/team/app:{sig_tag(image.digest)} layer 0"]
    site.attachments({primary: True, mirror: False})  # the logical registry's setting does not count
    assert site.run("verify", f"docker://{primary}/team/app:1", policy=exact).exit_code == 1


# -- manifest lists -------------------------------------------------------------------------------------------

AMD64 = make_image([ImageLayer(make_tar([("amd64.txt", b"amd64 sigstore\n")]))], arch="amd64")
ARM64 = make_image([ImageLayer(make_tar([("arm64.txt", b"arm64 sigstore\n")]))], arch="arm64")
INDEX, INDEX_BLOBS = make_index([(AMD64, {"os": "linux", "architecture": "amd64"}),
                                 (ARM64, {"os": "linux", "architecture": "arm64"})])


def push_list(site: Site, *extra: str, sign: bool = True) -> Any:
    list_digest = write_oci_list(site.tmp / "list", "multi", INDEX, INDEX_BLOBS)
    signing = ["--sign-by-sigstore-private-key", str(site.tmp / "key.private"), "--sign-passphrase-file",
               str(site.tmp / "pass")] if sign else []
    r = site.run("copy", "-q", "--all", "--dest-tls-verify=false", *signing, *extra, f"oci:{site.tmp}/list:multi",
                 f"docker://{site.host}/team/multi:1")
    assert r.exit_code == 0, r.stderr
    return list_digest


def test_all_with_a_sigstore_key_signs_every_instance_and_the_list(site: Site) -> None:
    list_digest = push_list(site)
    for digest in (list_digest, AMD64.digest, ARM64.digest):
        assert len(attachment(site, "team/multi", digest)["layers"]) == 1
    exact = site.policy(identity={"type": "matchExact"})
    assert site.verify("team/multi:1", "--all", policy=exact).exit_code == 0


def test_a_signature_on_the_list_alone_is_explained(site: Site) -> None:
    list_digest = push_list(site, sign=False)
    key = ec_key()
    (site.tmp / "cosign.pub").write_bytes(pub_pem(key))
    payload = cosign_payload(Digest.parse(list_digest), f"{site.host}/team/multi")
    push_attachment(site.host, "team/multi", list_digest, [Layer(payload, {SIG_ANN: b64(sign(key, payload))})])
    policy = site.policy({"type": "sigstoreSigned", "keyPath": str(site.tmp / "cosign.pub"),
                          "signedIdentity": {"type": "matchRepository"}})
    r = site.run("--override-arch", "amd64", "verify", "--tls-verify=false", f"docker://{site.host}/team/multi:1",
                 policy=policy)
    assert r.exit_code == 1
    text = r.stdout + r.stderr
    assert f"only its manifest list {list_digest} carries sigstore signatures (1)" in text
    assert "cosign sign --recursive" in text
    assert AMD64.digest in text


# -- attachments from an independent writer: keys, Fulcio + Rekor, PKI ------------------------------------------


def keyed(site: Site, digest: str, reference: str) -> tuple[Layer, Path]:
    key = ec_key()
    path = site.tmp / "independent.pub"
    path.write_bytes(pub_pem(key))
    payload = cosign_payload(Digest.parse(digest), reference)
    return Layer(payload, {SIG_ANN: b64(sign(key, payload))}), path


def test_independent_cosign_attachment_with_a_key_is_read_and_verified(site: Site) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    layer, pub = keyed(site, digest, f"{site.host}/team/app")
    tag = push_attachment(site.host, "team/app", digest, [Layer(b"an SBOM", {}, "text/spdx"), layer])
    policy = site.policy({"type": "sigstoreSigned", "keyPath": str(pub), "signedIdentity": {"type": "matchRepository"}})
    r = site.verify("team/app:1", "-o", "json", policy=policy)
    assert r.exit_code == 0, r.stdout
    assert list(locations(json.loads(r.stdout))) == [f"{site.host}/team/app:{tag} layer 1"]
    # cosign names only the repository: the default identity rule refuses it, and says why
    strict = site.policy({"type": "sigstoreSigned", "keyPath": str(pub)}, name="strict.json")
    r = site.verify("team/app:1", policy=strict)
    assert r.exit_code == 1 and "matchRepository" in r.stdout + r.stderr


def test_fulcio_and_rekor_material_made_by_the_test_verifies(site: Site) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    root = make_cert("fulcio-root", None, ca=True)
    inter = make_cert("fulcio-intermediate", root, ca=True, path_length=0)
    leaf = make_cert("", inter, ca=False, email=EMAIL, oidc_issuer=ISSUER, oidc_issuer_v2=ISSUER)
    rekor = ec_key()
    payload = cosign_payload(Digest.parse(digest), f"{site.host}/team/app")
    signature = sign(leaf.key, payload)
    leaf_pem = cert_pem(leaf.cert)
    annotations = {SIG_ANN: b64(signature), CERT_ANN: leaf_pem.decode(),
                   CHAIN_ANN: cert_pem(inter.cert, root.cert).decode(),
                   SET_ANN: make_set(rekor, hashedrekord(leaf_pem, signature, payload), int(time.time()))}
    push_attachment(site.host, "team/app", digest, [Layer(payload, annotations)])

    def policy(email: str) -> Path:
        return site.policy({"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
                            "fulcio": {"caData": b64(cert_pem(root.cert)), "oidcIssuer": ISSUER,
                                       "subjectEmail": email},
                            "rekorPublicKeyData": b64(pub_pem(rekor))}, name=f"{email}.json")

    assert site.verify("team/app:1", policy=policy(EMAIL)).exit_code == 0
    r = site.verify("team/app:1", policy=policy("else@example.com"))
    assert r.exit_code == 1 and "CERTIFICATE_IDENTITY_MISMATCH" in r.stdout + r.stderr


def test_pki_material_made_by_the_test_verifies(site: Site) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    root = make_cert("pki-root", None, ca=True)
    inter = make_cert("pki-intermediate", root, ca=True)
    leaf = make_cert("signer", inter, ca=False, email=EMAIL, dns=["build.example.com"])
    payload = cosign_payload(Digest.parse(digest), f"{site.host}/team/app")
    push_attachment(site.host, "team/app", digest, [Layer(payload, {
        SIG_ANN: b64(sign(leaf.key, payload)), CERT_ANN: cert_pem(leaf.cert).decode(),
        CHAIN_ANN: cert_pem(inter.cert, root.cert).decode()})])  # as cosign: the chain ends with its root
    policy = site.policy({"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
                          "pki": {"caRootsData": b64(cert_pem(root.cert)), "subjectHostname": "build.example.com"}})
    assert site.verify("team/app:1", policy=policy).exit_code == 0
    other_root = make_cert("another-root", None, ca=True)
    policy = site.policy({"type": "sigstoreSigned", "signedIdentity": {"type": "matchRepository"},
                          "pki": {"caRootsData": b64(cert_pem(other_root.cert)), "subjectEmail": EMAIL}},
                         name="other-ca.json")
    r = site.verify("team/app:1", policy=policy)
    assert r.exit_code == 1 and "CERTIFICATE_INVALID" in r.stdout + r.stderr


# -- rejections, each with its reason and its location; nothing reaches the destination --------------------------


@pytest.mark.parametrize(("case", "reason"), [
    ("another-key", "INVALID_SIGNATURE"),
    ("another-digest", "DIGEST_MISMATCH"),
    ("mangled", "INVALID_SIGNATURE"),
    ("another-identity", "IDENTITY_MISMATCH"),
])
def test_bad_attachment_is_rejected_with_its_reason_and_location(site: Site, case: str, reason: str) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    other_digest = push_image(site.host, "team/app", "other", OTHER)
    layer, pub = keyed(site, other_digest if case == "another-digest" else digest,
                       f"{site.host}/elsewhere/app" if case == "another-identity" else f"{site.host}/team/app")
    if case == "another-key":
        pub.write_bytes(pub_pem(ec_key()))
    if case == "mangled":
        layer = Layer(layer.payload, {SIG_ANN: "%%%not base64%%%"})
    tag = push_attachment(site.host, "team/app", digest, [layer])
    policy = site.policy({"type": "sigstoreSigned", "keyPath": str(pub), "signedIdentity": {"type": "matchRepository"}})
    r = site.run("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{site.host}/team/app:1",
                 f"docker://{site.host}/prod/app:1", policy=policy)
    assert r.exit_code == 1
    assert f"reason {reason}" in r.stderr, r.stderr
    assert f"(signature 1 at {site.host}/team/app:{tag} layer 0)" in r.stderr
    assert "prod/app" not in repositories(site.host)
    r = site.run("copy", "-q", "--src-tls-verify=false", f"docker://{site.host}/team/app:1", f"dir:{site.tmp}/out",
                 policy=policy)
    assert r.exit_code == 1 and not (site.tmp / "out").exists()


# -- Sigstore bundles: the fallback index on the real registry ----------------------------------------------------


def test_bundle_push_writes_a_referrer_and_the_fallback_index(site: Site) -> None:
    image = example_image()
    r = site.sign_push(image, "team/app:1", "--sigstore-bundle")
    assert r.exit_code == 0, r.stderr
    assert get_manifest(site.host, "team/app", sig_tag(image.digest)).status_code == 404  # no attachment
    fallback = get_manifest(site.host, "team/app", image.digest.replace(":", "-"))
    assert fallback.status_code == 200 and fallback.headers["content-type"] == OCI_INDEX
    [entry] = fallback.json()["manifests"]
    assert entry["artifactType"] == BUNDLE_TYPE and entry["mediaType"] == OCI_MANIFEST
    referrer = get_manifest(site.host, "team/app", entry["digest"])
    assert referrer.status_code == 200
    doc = referrer.json()
    assert doc["subject"] == {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest)}
    assert doc["artifactType"] == BUNDLE_TYPE and doc["layers"][0]["mediaType"] == BUNDLE_TYPE
    bundle = json.loads(get_blob(site.host, "team/app", doc["layers"][0]["digest"]))
    assert bundle["mediaType"] == BUNDLE_TYPE
    # trustcopy names the image in the statement: exact identity rules accept it
    r = site.verify("team/app:1", "-o", "json", policy=site.policy(identity={"type": "matchExact"}))
    assert r.exit_code == 0, r.stdout
    assert list(locations(json.loads(r.stdout))) == [f"{site.host}/team/app referrer {entry['digest']}"]
    # signing again with the same bundle bytes is impossible (fresh signature), but the index never repeats
    assert site.sign_push(image, "team/app:1", "--sigstore-bundle").exit_code == 0
    digests = [e["digest"] for e in get_manifest(site.host, "team/app", image.digest.replace(":", "-"))
               .json()["manifests"]]
    assert len(digests) == len(set(digests)) == 2


def test_bundles_are_carried_with_the_image(site: Site) -> None:
    image = example_image()
    assert site.sign_push(image, "team/app:1", "--sigstore-bundle").exit_code == 0
    assert site.sign_push(image, "team/app:1").exit_code == 0  # and a cosign attachment
    r = site.run("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                 f"docker://{site.host}/team/app:1", f"docker://{site.host}/prod/app:1", policy=site.policy())
    assert r.exit_code == 0, r.stderr
    fallback = image.digest.replace(":", "-")
    assert get_manifest(site.host, "prod/app", fallback).json() == get_manifest(site.host, "team/app", fallback).json()
    assert len(attachment(site, "prod/app", image.digest)["layers"]) == 1
    signed_for = site.policy(identity={"type": "exactReference", "dockerReference": f"{site.host}/team/app:1"},
                             name="signed-for.json")
    r = site.verify("prod/app:1", "-o", "json", policy=signed_for)
    assert r.exit_code == 0, r.stdout
    [entry] = get_manifest(site.host, "prod/app", fallback).json()["manifests"]
    assert list(locations(json.loads(r.stdout))) == [f"{site.host}/prod/app:{sig_tag(image.digest)} layer 0",
                                                     f"{site.host}/prod/app referrer {entry['digest']}"]


def test_bundle_for_another_digest_is_rejected_naming_the_referrer(site: Site) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    assert site.sign_push(OTHER, "team/other:1", "--sigstore-bundle").exit_code == 0
    [entry] = get_manifest(site.host, "team/other", OTHER.digest.replace(":", "-")).json()["manifests"]
    other_bundle = get_blob(site.host, "team/other",
                            get_manifest(site.host, "team/other", entry["digest"]).json()["layers"][0]["digest"])
    referrer = push_bundle_referrer(site.host, "team/app", other_bundle, digest, len(example_image().manifest))
    r = site.run("copy", "-q", "--src-tls-verify=false", f"docker://{site.host}/team/app:1", f"dir:{site.tmp}/out",
                 policy=site.policy())
    assert r.exit_code == 1 and "reason DIGEST_MISMATCH" in r.stderr
    assert f"(signature 1 at {site.host}/team/app referrer {referrer})" in r.stderr
    assert not (site.tmp / "out").exists()


# -- the OCI 1.1 referrers API: recorded responses from a proxy in front of the registry --------------------------


def test_referrers_api_is_used_when_the_registry_has_one(site: Site, proxied: ScriptedProxy) -> None:
    """Recorded OCI 1.1 answers: PUT with a subject → ``OCI-Subject``; GET referrers → the index."""
    upstream = int(site.host.rsplit(":", 1)[1])
    use_proxy(site, proxied)
    recorded: dict[str, bytes] = {}

    def answer(seen: Seen) -> Answer | None:
        if seen.method == "PUT" and "/manifests/sha256:" in seen.path and b'"subject"' in seen.body:
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            conn.request("PUT", seen.path, seen.body, {"Content-Type": seen.headers["content-type"]})
            resp = conn.getresponse()
            resp.read()
            subject = json.loads(seen.body)["subject"]["digest"]
            recorded[subject] = index_of([referrer_entry(seen.body),
                                          referrer_entry(b'{"not":"fetched"}', "application/spdx+json")])
            return Answer(resp.status, {"OCI-Subject": subject, "Location": resp.getheader("Location") or ""})
        if seen.method == "GET" and "/referrers/" in seen.path:
            subject = seen.path.split("/referrers/", 1)[1].split("?", 1)[0]
            body = recorded.get(subject, index_of([]))
            return Answer(200, {"Content-Type": OCI_INDEX}, body)
        return None

    proxied.answer = answer
    image = example_image()
    assert site.sign_push(image, "team/app:1", "--sigstore-bundle").exit_code == 0
    # the registry indexed it: no fallback tag was written
    assert get_manifest(site.host, "team/app", image.digest.replace(":", "-")).status_code == 404
    r = site.verify("team/app:1", "-o", "json", policy=site.policy(identity={"type": "matchExact"}))
    assert r.exit_code == 0, r.stdout
    [listed] = proxied.requests("/referrers/")
    assert "artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson" in listed.path
    assert not proxied.requests(sha256(b'{"not":"fetched"}'))  # not a bundle: never fetched


def test_referrers_that_page_forever_fail_bounded(site: Site, proxied: ScriptedProxy) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    use_proxy(site, proxied)

    def answer(seen: Seen) -> Answer | None:
        if "/referrers/" not in seen.path:
            return None
        page = int(seen.path.rsplit("page=", 1)[1]) if "page=" in seen.path else 0
        link = f'</v2/team/app/referrers/{digest}?page={page + 1}>; rel="next"'
        return Answer(200, {"Content-Type": OCI_INDEX, "Link": link}, index_of([]))

    proxied.answer = answer
    start = time.monotonic()
    r = site.verify("team/app:1")
    assert r.exit_code == 2 and "attachment-invalid" in r.stdout + r.stderr
    assert "more than 16 pages" in r.stdout + r.stderr
    assert time.monotonic() - start < 20
    assert len(proxied.requests("/referrers/")) == 16


@pytest.mark.parametrize("answer_kind", ["other-origin", "500", "not-an-index"])
def test_referrers_api_answers_that_fail_closed(site: Site, proxied: ScriptedProxy, answer_kind: str) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    use_proxy(site, proxied)

    def answer(seen: Seen) -> Answer | None:
        if "/referrers/" not in seen.path:
            return None
        if answer_kind == "other-origin":
            return Answer(200, {"Content-Type": OCI_INDEX, "Link": f'<http://127.0.0.2:1/v2/team/app/referrers/'
                                                                   f'{digest}?n=2>; rel="next"'}, index_of([]))
        if answer_kind == "500":
            return Answer(500, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNKNOWN"}]}')
        return Answer(200, {"Content-Type": OCI_INDEX}, b'{"schemaVersion": 2, "mediaType": "text/plain"}')

    proxied.answer = answer
    r = site.run("verify", "--retry-times", "0", "--tls-verify=false", f"docker://{site.host}/team/app:1",
                 policy=site.policy())
    assert r.exit_code == 2, r.stdout + r.stderr
    text = r.stdout + r.stderr
    assert {"other-origin": "pages to another origin", "500": f"team/app referrers of {digest}",
            "not-an-index": "is not an OCI image index"}[answer_kind] in text


def test_an_attachment_tag_holding_something_else_is_never_overwritten(site: Site) -> None:
    image = example_image()
    push_image(site.host, "team/app", "1", image)
    docker_image = make_image([ImageLayer(make_tar([("x", b"x")]))], docker=True)  # not an OCI manifest
    squatter = push_image(site.host, "team/app", sig_tag(image.digest), docker_image)
    r = site.sign_push(image, "team/app:1")
    assert r.exit_code == 1
    assert "error[attachment-invalid]" in r.stderr
    assert sha256(get_manifest(site.host, "team/app", sig_tag(image.digest)).content) == squatter


# -- containers/image's cosign fixtures, served as a registry would ------------------------------------------------

CI = Path("/usr/share/gocode/src/github.com/containers/image/signature/fixtures")


@pytest.mark.parametrize(("fixture", "allowed", "reason"), [
    ("dir-img-cosign-valid", True, ""),
    ("dir-img-cosign-valid-2", True, ""),
    ("dir-img-cosign-modified-manifest", False, "DIGEST_MISMATCH"),
    ("dir-img-cosign-other-attachment", False, "NO_SIGNATURES"),
])
def test_containers_image_cosign_fixtures_read_from_a_registry(site: Site, proxied: ScriptedProxy, fixture: str,
                                                               allowed: bool, reason: str) -> None:
    """The fixture's manifest and its signature-N (as attachment layers) served by the proxy."""
    assert CI.exists(), "./run installs golang-github-containers-image-dev"
    use_proxy(site, proxied)
    directory = CI / fixture
    manifest = directory.joinpath("manifest.json").read_bytes()
    sigs = [signature_from_blob(p.read_bytes()) for p in sorted(directory.glob("signature-*"))]
    layers = [Layer(s.untrusted_payload, dict(s.untrusted_annotations), s.untrusted_mime_type)  # type: ignore[union-attr]
              for s in sigs]
    att_manifest, att_config = cosign_attachment(layers)
    blobs = {sha256(layer.payload): layer.payload for layer in layers} | {sha256(att_config): att_config}
    digest = sha256(manifest)

    def answer(seen: Seen) -> Answer | None:
        path = seen.path.split("?", 1)[0]
        if path == "/v2/ci/cosign/manifests/1" or path == f"/v2/ci/cosign/manifests/{digest}":
            return Answer(200, {"Content-Type": json.loads(manifest)["mediaType"]}, manifest)
        if path == f"/v2/ci/cosign/manifests/{sig_tag(digest)}":
            return Answer(200, {"Content-Type": OCI_MANIFEST}, att_manifest)
        if path.startswith("/v2/ci/cosign/blobs/") and path.rsplit("/", 1)[1] in blobs:
            return Answer(200, {"Content-Type": "application/octet-stream"}, blobs[path.rsplit("/", 1)[1]])
        return None

    proxied.answer = answer
    policy = site.policy({"type": "sigstoreSigned", "keyPath": str(CI / "cosign.pub"),
                          "signedIdentity": {"type": "exactRepository",
                                             "dockerRepository": "192.168.64.2:5000/cosign-signed-single-sample"}})
    r = site.verify("ci/cosign:1", policy=policy)
    assert (r.exit_code == 0) is allowed, r.stdout + r.stderr
    if reason:
        assert reason in r.stdout + r.stderr


# -- hostile answers ---------------------------------------------------------------------------------------------


def test_ten_thousand_layer_attachment_manifest_fails_closed_quickly(site: Site, proxied: ScriptedProxy) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    use_proxy(site, proxied)
    layer = {"mediaType": COSIGN_MIME, "digest": sha256(b"x"), "size": 1}
    huge = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": layer, "layers": [layer] * 10_000})

    def answer(seen: Seen) -> Answer | None:
        if seen.path.endswith(sig_tag(digest)):
            return Answer(200, {"Content-Type": OCI_MANIFEST}, huge.encode())
        return None

    proxied.answer = answer
    start = time.monotonic()
    r = site.verify("team/app:1")
    assert r.exit_code == 2 and "10000 layers, more than 256" in r.stdout + r.stderr
    assert time.monotonic() - start < 10
    assert not proxied.requests("/blobs/")


def test_corrupt_attachment_layer_fails_naming_it(site: Site, proxied: ScriptedProxy) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    layer, _ = keyed(site, digest, f"{site.host}/team/app")
    tag = push_attachment(site.host, "team/app", digest, [layer])
    use_proxy(site, proxied)

    def answer(seen: Seen) -> Answer | None:
        if seen.path.endswith(f"/blobs/{sha256(layer.payload)}"):
            corrupt = layer.payload.replace(b"cosign", b"COSIGN")
            return Answer(200, {"Content-Type": "application/octet-stream"}, corrupt)
        return None

    proxied.answer = answer
    r = site.verify("team/app:1")
    assert r.exit_code == 2
    assert f"team/app:{tag} layer 0: digest mismatch" in r.stdout + r.stderr


@pytest.mark.parametrize(("status", "body", "none"), [
    (404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', True),
    (404, b'{"errors":[{"code":"UNKNOWN","message":"Not Found"}]}', True),  # registry.redhat.io
    (404, b'{"errors":[{"code":"UNKNOWN","message":"artifact team/app:sha256-x.sig not found"}]}', True),  # Harbor
    (404, b'{"errors":[{"code":"NOT_FOUND","message":"artifact team/app:sha256-x.sig not found"}]}', True),
    (404, b"Not found", True),
    (404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}', False),
    (500, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}', False),
    (403, b'{"errors":[{"code":"DENIED","message":"no"}]}', False),
], ids=["manifest-unknown", "redhat", "harbor", "harbor-code", "bare-404", "name-unknown", "500", "403"])
def test_not_found_means_none_and_anything_else_fails(site: Site, proxied: ScriptedProxy, status: int, body: bytes,
                                                      none: bool) -> None:
    digest = push_image(site.host, "team/app", "1", example_image())
    use_proxy(site, proxied)

    def answer(seen: Seen) -> Answer | None:
        if seen.path.endswith(sig_tag(digest)):
            return Answer(status, {"Content-Type": "application/json"}, body)
        return None

    proxied.answer = answer
    r = site.run("--override-arch", "amd64", "verify", "--retry-times", "0", "--tls-verify=false",
                 f"docker://{site.host}/team/app:1", policy=site.policy())
    if none:
        assert r.exit_code == 1 and "NO_SIGNATURES" in r.stdout + r.stderr
    else:
        assert r.exit_code == 2, r.stdout + r.stderr
        assert "NO_SIGNATURES" not in r.stdout + r.stderr


def _push_unsigned(site: Site, repo: str, n: int) -> None:
    for i in range(n):
        image = make_image([ImageLayer(make_tar([(f"f{i}", f"{repo} {i}".encode())]))])
        src = site.tmp / f"plain-{repo}-{i}"
        write_oci({"t": image}, str(src))
        r = site.run("copy", "-q", "--dest-tls-verify=false", f"oci:{src}:t", f"docker://{site.host}/{repo}:{i}")
        assert r.exit_code == 0, r.stderr


def test_sync_decrypts_the_sigstore_key_once_and_signs_every_image(site: Site,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy.copy import sign

    _push_unsigned(site, "syncsrc/app", 3)
    loads: list[str] = []
    real = sign.load_sigstore_private_key
    monkeypatch.setattr(sign, "load_sigstore_private_key", lambda *a: (loads.append(a[0]), real(*a))[1])
    r = site.run("sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false",
                 "--sign-by-sigstore-private-key", str(site.tmp / "key.private"),
                 "--sign-passphrase-file", str(site.tmp / "pass"), f"{site.host}/syncsrc/app", f"{site.host}/mirror")
    assert r.exit_code == 0, r.stderr
    assert loads == [str(site.tmp / "key.private")]  # once for the sync, not once per image
    for i in range(3):
        assert site.verify(f"mirror/app:{i}").exit_code == 0


def test_sync_with_a_wrong_passphrase_fails_before_any_image_is_copied(site: Site) -> None:
    _push_unsigned(site, "syncsrc/other", 2)
    (site.tmp / "wrong").write_text("not-the-passphrase\n")
    r = site.run("sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false",
                 "--sign-by-sigstore-private-key", str(site.tmp / "key.private"),
                 "--sign-passphrase-file", str(site.tmp / "wrong"), f"{site.host}/syncsrc/other",
                 f"{site.host}/mirror2")
    assert r.exit_code == 1
    assert "key.private" in r.stderr
    with urllib.request.urlopen(f"http://{site.host}/v2/_catalog") as answer:  # (loopback registry)
        assert not [repo for repo in json.load(answer)["repositories"] if repo.startswith("mirror2")]
