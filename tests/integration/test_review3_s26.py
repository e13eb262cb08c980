"""Review of the schema1 re-signing (trustcopy/manifest/schema1sign.py, copy/single.py's embedded
name update), trustcopy against skopeo 1.9.3 on a schema1-enabled registry.

- registry → registry to another name with ``--sign-by``: the simple signing signature is over the
  re-signed manifest (its payload digest), stored under that digest, and each tool's signedBy
  policy accepts the other's push;
- the same image to the same name: nothing rewritten, the source's payload pushed as it is;

(This registry signs each schema1 manifest it serves with its own key, so only payloads compare.)
- a source by digest to a tagged name: rewritten like skopeo's; a tagged manifest to a
  destination by digest: refused by both (the embedded tag would become "");
- a named ``docker-archive:`` destination with ``--preserve-digests``: refused by both, with or
  without a name change, and converted by both without it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpghelpers import GPGHome
from registry_fixtures import RegistryServer, _require_registry, running
from registry_signing import FPR, TOOLS, Env, signature_files, signed_by_policy
from test_conversions_vs_skopeo_s26 import _schema1

from trustcopy.digest import Digest
from trustcopy.manifest.digest import jws_payload, manifest_digest

pytestmark = [pytest.mark.skopeo, pytest.mark.registry, pytest.mark.gpg]

ACCEPT = "application/vnd.docker.distribution.manifest.v1+prettyjws"


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    _require_registry()
    with running(RegistryServer(tmp_path_factory.mktemp("s1-review"), schema1=True)) as reg:
        yield reg


@pytest.fixture
def env(tmp_path: Path, example_home: GPGHome) -> Env:
    return Env(tmp_path, example_home)


def _manifest(host: str, repo: str, ref: str) -> tuple[bytes, str]:
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.read(), answer.headers["Docker-Content-Digest"]


def _has(host: str, repo: str, ref: str) -> bool:
    try:
        _manifest(host, repo, ref)
    except urllib.error.HTTPError:
        return False
    return True


def _seed(env: Env, host: str) -> tuple[bytes, str]:
    """The signed schema1 test image (name example/app, tag 1) pushed by skopeo as it is."""
    _schema1(env.tmp / "s1", signed=True)
    done = env.run("skopeo", "copy", "-q", "--dest-tls-verify=false", f"dir:{env.tmp}/s1",
                   f"docker://{host}/example/app:1")
    assert done.returncode == 0, done.stderr
    raw, digest = _manifest(host, "example/app", "1")
    # (the registry stores the signature block as libtrust writes it back: compare the payloads)
    assert jws_payload(raw) == jws_payload((env.tmp / "s1" / "manifest.json").read_bytes())
    return raw, digest


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_sign_by_signs_the_re_signed_manifest(env: Env, registry: RegistryServer, signer: str,
                                              verifier: str) -> None:
    host = registry.host
    store = env.store("store", host)
    _seed(env, host)
    digestfile = env.tmp / "digest"
    done = env.run(signer, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--sign-by", FPR,
                   "--digestfile", str(digestfile), f"docker://{host}/example/app:1", f"docker://{host}/mirror/app:2")
    assert done.returncode == 0, done.stderr
    assert "reports digest" not in done.stderr  # (trustcopy's warning when Docker-Content-Digest differs)
    pushed, registry_digest = _manifest(host, "mirror/app", "2")
    payload = jws_payload(pushed)
    assert (json.loads(payload)["name"], json.loads(payload)["tag"]) == ("mirror/app", "2")
    digest = Digest.from_bytes(payload)
    assert str(digest) == registry_digest == digestfile.read_text().strip() == str(manifest_digest(pushed))
    assert signature_files(store) == [f"mirror/app@sha256={digest.hex}/signature-1"]

    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/mirror")
    pulled = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/mirror/app:2",
                     f"dir:{env.tmp}/out", policy=policy)
    assert pulled.returncode == 0, pulled.stderr
    assert jws_payload((env.tmp / "out" / "manifest.json").read_bytes()) == payload


@pytest.mark.parametrize("tool", TOOLS)
def test_same_name_is_not_rewritten(env: Env, registry: RegistryServer, tool: str) -> None:
    """Registry → registry under the name and tag the manifest embeds (another registry path is
    not part of it): the manifest goes as it is."""
    host = registry.host
    raw, digest = _seed(env, host)
    with running(RegistryServer(env.tmp / "other-reg", schema1=True)) as other:
        done = env.run(tool, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                       f"docker://{host}/example/app:1", f"docker://{other.host}/example/app:1")
        assert done.returncode == 0, done.stderr
        pushed, pushed_digest = _manifest(other.host, "example/app", "1")
        # The payload is the source's indented one, not json.Marshal's compact rewrite.
        assert jws_payload(pushed) == jws_payload(raw) and b'\n   "name": "example/app"' in jws_payload(pushed)
        assert pushed_digest == digest


@pytest.mark.parametrize("tool", TOOLS)
def test_source_by_digest_to_a_tag(env: Env, registry: RegistryServer, tool: str) -> None:
    host = registry.host
    raw, digest = _seed(env, host)
    done = env.run(tool, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                   f"docker://{host}/example/app@{digest}", f"docker://{host}/example/app:3")
    assert done.returncode == 0, done.stderr
    pushed, _ = _manifest(host, "example/app", "3")
    assert json.loads(jws_payload(pushed))["tag"] == "3"
    expected = jws_payload(raw).replace(b'"tag": "1"', b'"tag": "3"')  # (the rest as Go marshals it)
    assert json.loads(jws_payload(pushed)) == json.loads(expected)


@pytest.mark.parametrize("tool", TOOLS)
def test_tagged_manifest_to_a_destination_by_digest_is_refused(env: Env, registry: RegistryServer,
                                                               tool: str) -> None:
    """The destination's reference has no tag, so the embedded tag "1" would become "": the
    manifest would change, which a destination by digest forbids."""
    host = registry.host
    _raw, digest = _seed(env, host)
    done = env.run(tool, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                   f"docker://{host}/example/app:1", f"docker://{host}/example/app@{digest}")
    assert done.returncode != 0
    assert "would change the manifest" in done.stderr, done.stderr
    if tool == "trustcopy":
        assert "manifest-conversion-refused" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["example/app:1", "other/app:2"])
@pytest.mark.parametrize("tool", TOOLS)
def test_named_archive_destination(env: Env, tool: str, name: str) -> None:
    """docker-archive: holds schema2 only: a schema1 image is converted, so --preserve-digests
    refuses it whether or not the name matches the embedded one (skopeo: the name first)."""
    _schema1(env.tmp / "s1", signed=True)
    refused = env.run(tool, "copy", "-q", "--preserve-digests", f"dir:{env.tmp}/s1",
                      f"docker-archive:{env.tmp}/refused.tar:{name}")
    assert refused.returncode != 0
    assert not (env.tmp / "refused.tar").exists()
    if name.startswith("other"):
        assert "embedded Docker reference" in refused.stderr or "embedded docker reference" in refused.stderr.lower()
    if tool == "trustcopy":
        assert "manifest-conversion-refused" in refused.stderr and "Traceback" not in refused.stderr
    done = env.run(tool, "copy", "-q", f"dir:{env.tmp}/s1", f"docker-archive:{env.tmp}/ok.tar:{name}")
    assert done.returncode == 0, done.stderr
