"""A registry tag never moves to an image whose signatures were not stored (session 27).

containers/image PUTs the top-level manifest (moving the tag) and writes the signatures
afterwards; a failure in between left the tag on an unsigned image, which a later
``sync`` skipped as identical. trustcopy writes the signatures first and moves the tag
last (transports/docker/destination.py ``commit``). Each test: a tag holding an older
image, a signed copy whose signature cannot be stored (a lookaside path that is a file,
or the sigstore attachment PUT answered 500 by the FaultProxy in front of the real
registry): exit 1, the tag still on the older image; the same copy once repaired signs
and moves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gpghelpers import GPGHome
from imagefactory import Layer, example_image, make_image, make_index, make_tar, write_oci
from registry_fixtures import Fault, FaultProxy, RegistryServer, running
from registry_signing import FPR, write_oci_list
from registry_sigstore import Site, get_manifest, sig_tag

from trustcopy.digest import Digest

pytestmark = [pytest.mark.registry, pytest.mark.gpg]

OLD = example_image()
NEW = make_image([Layer(make_tar([("new.txt", b"the new image, signed\n")]))])
AMD64 = make_image([Layer(make_tar([("amd64.txt", b"amd64, sign before tag\n")]))], arch="amd64")
ARM64 = make_image([Layer(make_tar([("arm64.txt", b"arm64, sign before tag\n")]))], arch="arm64")
INDEX, INDEX_BLOBS = make_index([(AMD64, {"os": "linux", "architecture": "amd64"}),
                                 (ARM64, {"os": "linux", "architecture": "arm64"})])


@pytest.fixture
def proxy(plain_registry: RegistryServer) -> Any:
    with running(FaultProxy(plain_registry.port)) as p:
        yield p


@pytest.fixture
def site_factory(tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch, example_home: GPGHome) -> Any:
    """A Site (registries.d, keys, in-process CLI) for a registry address, with the example GnuPG home."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("GNUPGHOME", example_home.path)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return lambda host: Site(tmp_path, host, run_cli)


@pytest.fixture
def site(proxy: FaultProxy, site_factory: Any) -> Site:
    return site_factory(proxy.host)


def tag_digest(site: Site, repo: str, tag: str) -> str:
    """What the registry's tag names now (Docker-Content-Digest of a GET)."""
    r = get_manifest(site.host, repo, tag)
    assert r.status_code == 200, r.text
    return r.headers["docker-content-digest"]


def push_old(site: Site, repo: str) -> None:
    write_oci({"t": OLD}, str(site.tmp / "old"))
    r = site.run("copy", "-q", "--dest-tls-verify=false", f"oci:{site.tmp}/old:t", f"docker://{site.host}/{repo}:1")
    assert r.exit_code == 0, r.stderr
    assert tag_digest(site, repo, "1") == OLD.digest


def block(site: Site, repo: str, digest: str) -> Path:
    """Make the lookaside directory of ``digest`` a regular file: writing its signature fails (also as root)."""
    path = site.tmp / "store" / f"{repo}@sha256={Digest.parse(digest).hex}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("in the way\n")
    return path


def test_unwritable_lookaside_leaves_the_tag_on_the_old_image(site: Site, proxy: FaultProxy) -> None:
    push_old(site, "ns/app")
    write_oci({"t": NEW}, str(site.tmp / "new"))
    args = ("copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, f"oci:{site.tmp}/new:t",
            f"docker://{site.host}/ns/app:1")
    blocker = block(site, "ns/app", NEW.digest)
    r = site.run(*args)
    assert r.exit_code == 1, r.stderr
    assert tag_digest(site, "ns/app", "1") == OLD.digest
    assert f"the tag {site.host}/ns/app:1 was left as it was" in r.stderr, r.stderr
    # no manifest PUT at all: the new image's manifest is not even stored by digest
    assert proxy.count("PUT", "/manifests/") == 1  # push_old's
    assert get_manifest(site.host, "ns/app", NEW.digest).status_code == 404

    blocker.unlink()
    r = site.run(*args)
    assert r.exit_code == 0, r.stderr
    assert tag_digest(site, "ns/app", "1") == NEW.digest
    assert (blocker / "signature-1").is_file()


def test_sigstore_attachment_refused_leaves_the_tag_on_the_old_image(site: Site, proxy: FaultProxy) -> None:
    push_old(site, "ns/app")
    write_oci({"t": NEW}, str(site.tmp / "new"))
    attachment = f"/manifests/{sig_tag(NEW.digest)}"
    proxy.rule = lambda m, p, h: Fault(status=500) if m == "PUT" and p.endswith(attachment) else None
    args = ("copy", "-q", "--dest-tls-verify=false", "--retry-times", "0", "--sign-by-sigstore-private-key",
            str(site.tmp / "key.private"), "--sign-passphrase-file", str(site.tmp / "pass"),
            f"oci:{site.tmp}/new:t", f"docker://{site.host}/ns/app:1")
    r = site.run(*args)
    assert r.exit_code == 1, r.stderr
    assert proxy.count("PUT", attachment) >= 1
    assert tag_digest(site, "ns/app", "1") == OLD.digest
    assert f"the tag {site.host}/ns/app:1 was left as it was" in r.stderr, r.stderr

    proxy.rule = lambda m, p, h: None
    r = site.run(*args)
    assert r.exit_code == 0, r.stderr
    assert tag_digest(site, "ns/app", "1") == NEW.digest
    assert get_manifest(site.host, "ns/app", sig_tag(NEW.digest)).status_code == 200


def test_list_with_an_unwritable_instance_signature_leaves_the_tag(site: Site, proxy: FaultProxy) -> None:
    """``copy --all --sign-by``: instances are PUT by digest (no tag moves); the list's tag waits for all signatures."""
    push_old(site, "ns/multi")
    list_digest = write_oci_list(site.tmp / "list", "multi", INDEX, INDEX_BLOBS)
    args = ("copy", "-q", "--all", "--dest-tls-verify=false", "--sign-by", FPR, f"oci:{site.tmp}/list:multi",
            f"docker://{site.host}/ns/multi:1")
    blocker = block(site, "ns/multi", ARM64.digest)
    r = site.run(*args)
    assert r.exit_code == 1, r.stderr
    assert tag_digest(site, "ns/multi", "1") == OLD.digest
    assert f"the tag {site.host}/ns/multi:1 was left as it was" in r.stderr, r.stderr
    assert get_manifest(site.host, "ns/multi", list_digest).status_code == 404

    blocker.unlink()
    r = site.run(*args)
    assert r.exit_code == 0, r.stderr
    assert tag_digest(site, "ns/multi", "1") == list_digest
    store = site.tmp / "store" / "ns"
    for digest in (list_digest, AMD64.digest, ARM64.digest):
        assert (store / f"multi@sha256={Digest.parse(digest).hex}" / "signature-1").is_file()


def test_signature_api_gets_the_image_by_digest_before_the_tag(tmp_path_factory: pytest.TempPathFactory,
                                                                site_factory: Any) -> None:
    """OpenShift's signature API keeps signatures on an image it must know (GET/PUT of an unknown one: 404).

    So, for it, the manifest is PUT by digest first (no tag moves), then the signatures,
    then the tag. The API here answers 404 while the real registry behind it lacks the manifest.
    """
    from scripted_proxy import Answer, ScriptedProxy, Seen
    from test_registry_signature_api import SignatureAPI

    registry = RegistryServer(tmp_path_factory.mktemp("registry-api"),
                              headers={"X-Registry-Supports-Signatures": ["1"]})
    api = SignatureAPI()

    def openshift(seen: Seen) -> Answer | None:
        if seen.path.startswith("/extensions/v2/"):
            digest = seen.path.rsplit("/", 1)[1]
            if get_manifest(registry.host, "ns/app", digest).status_code != 200:
                return Answer(404)
        return api(seen)

    with running(registry), running(ScriptedProxy(registry.port, answer=openshift)) as proxy:
        site = site_factory(proxy.host)
        push_old(site, "ns/app")
        write_oci({"t": NEW}, str(site.tmp / "new"))
        r = site.run("copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, f"oci:{site.tmp}/new:t",
                     f"docker://{site.host}/ns/app:1")
        assert r.exit_code == 0, r.stderr
        assert tag_digest(site, "ns/app", "1") == NEW.digest
        assert len(api.puts) == 1
        order = [(s.method, s.path.rsplit("/", 1)[1]) for s in proxy.seen
                 if s.method == "PUT" and ("/manifests/" in s.path or s.path.startswith("/extensions/"))]
        assert order[1:] == [("PUT", NEW.digest), ("PUT", NEW.digest), ("PUT", "1")]  # [0]: push_old
        assert not (site.tmp / "store").exists()  # the lookaside is left alone
