"""Signed registry images, with skopeo 1.9.3, on a real registry and one registries.d directory.

- Interop both ways (every signer and verifier of {skopeo, trustcopy}), with the current
  ``lookaside``/``lookaside-staging`` keys and the legacy ``sigstore``/``sigstore-staging``.
- Promotion registry → registry: the carried signature and the new one; ``--remove-signatures``.
- ``--all --sign-by`` on a manifest list: both tools sign the list and every instance.
- Signatures that must not pass (tampered, another key, another digest, another identity):
  refused by both tools, trustcopy's reason naming the store URL and the signature index,
  nothing written at the destination.
- A lookaside served over HTTP by a loopback server: read like a file store; 403 and 500
  fail the copy (never "no signatures"); an http(s) store cannot be written (refused
  before anything is pushed).
- ``delete`` removes the signatures from a file:// store (as skopeo); ``verify`` accepts.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from gpghelpers import GPGHome
from imagefactory import Layer, example_image, make_image, make_index, make_tar
from registry_fixtures import QuietHTTPServer, RegistryServer, free_port
from registry_signing import FPR, KEYS, TOOLS, Env, oci_source, signature_files, signed_by_policy, write_oci_list

from trustcopy.digest import Digest
from trustcopy.signature.simple import sign_simple_signing

pytestmark = [pytest.mark.registry, pytest.mark.skopeo, pytest.mark.gpg]


@pytest.fixture
def env(tmp_path: Path, example_home: GPGHome) -> Env:
    return Env(tmp_path, example_home)


def manifest_of(host: str, name: str) -> bytes:
    """The manifest a registry serves (plain HTTP), or b"" when it has none."""
    repo, _, tag = name.partition(":")
    r = httpx.get(f"http://{host}/v2/{repo}/manifests/{tag}",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                     "application/vnd.oci.image.index.v1+json"})
    return r.content if r.status_code == 200 else b""


# -- interop, both ways -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", list(KEYS.values()), ids=list(KEYS))
@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_signed_in_a_registry_by_one_tool_accepted_by_the_other(
        env: Env, plain_registry: RegistryServer, signer: str, verifier: str, keys: tuple[str, str]) -> None:
    host = plain_registry.host
    store = env.store("store", host, keys)
    image = example_image()
    pushed = env.run(signer, "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, oci_source(env.tmp, image),
                     f"docker://{host}/ns/app:1")
    assert pushed.returncode == 0, pushed.stderr
    assert signature_files(store) == [f"ns/app@sha256={Digest.parse(image.digest).hex}/signature-1"]

    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    pulled = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                     f"dir:{env.tmp}/out", policy=policy)
    assert pulled.returncode == 0, pulled.stderr
    assert (env.tmp / "out" / "manifest.json").read_bytes() == image.manifest
    assert (env.tmp / "out" / "signature-1").read_bytes() == next(store.rglob("signature-1")).read_bytes()

    # Without the registries.d section nothing finds the signature (the default store is empty): both refuse.
    env.registries_d({})
    refused = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                      f"dir:{env.tmp}/refused", policy=policy)
    assert refused.returncode == 1
    assert nothing_written(verifier, env.tmp / "refused")


def nothing_written(tool: str, path: Path) -> bool:
    """trustcopy leaves nothing at a refused destination; skopeo leaves a directory with a ``version`` file
    (docs/ARCHITECTURE.md, "Differences"), but no image."""
    if tool == "skopeo" and path.exists():
        return [p.name for p in path.iterdir()] == ["version"]
    return not path.exists()


def test_trustcopy_verify_accepts_a_signed_registry_image(env: Env, plain_registry: RegistryServer) -> None:
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    assert env.run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, oci_source(env.tmp, image),
                   f"docker://{host}/ns/app:1").returncode == 0
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    r = env.run("trustcopy", "--require-signed", "verify", "--tls-verify=false", "--output", "json",
                f"docker://{host}/ns/app:1", policy=policy)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    [verdict] = report["images"]
    assert verdict["status"] == "accepted" and verdict["digest"] == image.digest
    [sig] = verdict["verdict"]["requirements"][0]["signatures"]
    assert sig["location"] == f"file://{store}/ns/app@sha256={Digest.parse(image.digest).hex}/signature-1"
    assert sig["verified"] and sig["keyFingerprint"] == FPR
    # an image with no signature in the store: rejected (exit 1), fail closed
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", oci_source(env.tmp, image, "u"),
                   f"docker://{host}/ns/unsigned:1").returncode == 0
    r = env.run("trustcopy", "verify", "--tls-verify=false", f"docker://{host}/ns/unsigned:1", policy=policy)
    assert r.returncode == 1 and "NO_SIGNATURES" in r.stdout + r.stderr


def test_signing_an_image_the_registry_already_holds_writes_the_signature(env: Env,
                                                                           plain_registry: RegistryServer) -> None:
    """An identical image is skipped only when nothing new would be written: --sign-by still signs it."""
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    source = oci_source(env.tmp, image)
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", source,
                   f"docker://{host}/ns/app:1").returncode == 0
    assert signature_files(store) == []
    r = env.run("trustcopy", "copy", "--dest-tls-verify=false", "--sign-by", FPR, source, f"docker://{host}/ns/app:1")
    assert r.returncode == 0, r.stderr
    assert "Skipping: image already present" not in r.stdout
    assert signature_files(store) == [f"ns/app@sha256={Digest.parse(image.digest).hex}/signature-1"]
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    assert env.run("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                   f"dir:{env.tmp}/out", policy=policy).returncode == 0


# -- promotion, registry to registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("verifier", TOOLS)
def test_promotion_carries_the_signature_and_adds_one(env: Env, plain_registry: RegistryServer,
                                                      verifier: str) -> None:
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    hexd = Digest.parse(image.digest).hex
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                   oci_source(env.tmp, image), f"docker://{host}/staging/app:1").returncode == 0
    staging_policy = signed_by_policy(env.tmp / "staging.json", f"{host}/staging")
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--sign-by", FPR,
                f"docker://{host}/staging/app:1", f"docker://{host}/prod/app:1", policy=staging_policy)
    assert r.returncode == 0, r.stderr
    staging_sig = (store / f"staging/app@sha256={hexd}" / "signature-1").read_bytes()
    assert signature_files(store / "prod") == [f"app@sha256={hexd}/signature-1", f"app@sha256={hexd}/signature-2"]
    assert (store / f"prod/app@sha256={hexd}" / "signature-1").read_bytes() == staging_sig
    # production accepts only signatures for the production name: the carried one claims staging, the new one prod
    prod_policy = signed_by_policy(env.tmp / "prod.json", f"{host}/prod",
                                   {"type": "exactReference", "dockerReference": f"{host}/prod/app:1"})
    ok = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/prod/app:1", f"dir:{env.tmp}/o",
                 policy=prod_policy)
    assert ok.returncode == 0, ok.stderr

    # --remove-signatures: only the new signature (the store's signature-2 is removed too)
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--remove-signatures",
                "--sign-by", FPR, f"docker://{host}/staging/app:1", f"docker://{host}/prod/app:1",
                policy=staging_policy)
    assert r.returncode == 0, r.stderr
    assert signature_files(store / "prod") == [f"app@sha256={hexd}/signature-1"]
    assert (store / f"prod/app@sha256={hexd}" / "signature-1").read_bytes() != staging_sig


# -- manifest lists ----------------------------------------------------------------------

AMD64 = make_image([Layer(make_tar([("amd64.txt", b"amd64 signed\n")]))], arch="amd64")
ARM64 = make_image([Layer(make_tar([("arm64.txt", b"arm64 signed\n")]))], arch="arm64")
INDEX, INDEX_BLOBS = make_index([(AMD64, {"os": "linux", "architecture": "amd64"}),
                                 (ARM64, {"os": "linux", "architecture": "arm64"})])


@pytest.mark.parametrize("signer", TOOLS)
def test_all_with_sign_by_signs_the_list_and_every_instance(env: Env, plain_registry: RegistryServer,
                                                            signer: str) -> None:
    """skopeo 1.9.3 signs each instance and the list (same identity); trustcopy does the same."""
    host = plain_registry.host
    store = env.store("store", host)
    list_digest = write_oci_list(env.tmp / "src", "multi", INDEX, INDEX_BLOBS)
    r = env.run(signer, "copy", "-q", "--all", "--dest-tls-verify=false", "--sign-by", FPR,
                f"oci:{env.tmp}/src:multi", f"docker://{host}/ns/multi:1")
    assert r.returncode == 0, r.stderr
    expected = sorted(f"ns/multi@sha256={Digest.parse(d).hex}/signature-1"
                      for d in (list_digest, AMD64.digest, ARM64.digest))
    assert signature_files(store) == expected
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns",
                              {"type": "exactReference", "dockerReference": f"{host}/ns/multi:1"})
    for verifier in TOOLS:
        out = env.tmp / f"out-{verifier}"
        ok = env.run(verifier, "copy", "-q", "--all", "--src-tls-verify=false", f"docker://{host}/ns/multi:1",
                     f"dir:{out}", policy=policy)
        assert ok.returncode == 0, ok.stderr
    # one instance's signature removed: --all refuses (that instance is judged too)
    (store / f"ns/multi@sha256={Digest.parse(ARM64.digest).hex}" / "signature-1").unlink()
    refused = env.run("trustcopy", "copy", "-q", "--all", "--src-tls-verify=false", f"docker://{host}/ns/multi:1",
                      f"dir:{env.tmp}/refused", policy=policy)
    assert refused.returncode == 1 and ARM64.digest in refused.stderr
    assert not (env.tmp / "refused").exists()


# -- signatures that must not pass ----------------------------------------------------------------------


def _bad_signature(kind: str, manifest: bytes, identity: str, new_home: GPGHome, example: GPGHome) -> bytes:
    if kind == "tampered":
        # The signed payload altered inside a well-formed message (a random flipped bit would make
        # any reason, or none: the literal packet's date is not signed).
        blob = sign_simple_signing(manifest, identity, FPR, gnupg_home=example.path)
        assert blob[0] == 0xA3 and blob[1] in (1, 2), "gpg's default: a ZIP or ZLIB compressed packet"
        wbits = -15 if blob[1] == 1 else 15
        inner = zlib.decompress(blob[2:], wbits)
        altered = inner.replace(b"atomic container signature", b"atomic container signaturE")
        assert altered != inner
        deflate = zlib.compressobj(wbits=wbits)
        return blob[:2] + deflate.compress(altered) + deflate.flush()
    if kind == "foreign-key":
        other = new_home.gen_key("Someone else <else@example.com>")
        return sign_simple_signing(manifest, identity, other, gnupg_home=new_home.path)
    if kind == "other-digest":
        return sign_simple_signing(make_image([Layer(make_tar([("x", b"another image")]))]).manifest, identity, FPR,
                                   gnupg_home=example.path)
    assert kind == "other-identity"
    return sign_simple_signing(manifest, identity.replace("/ns/app", "/ns/other"), FPR, gnupg_home=example.path)


BAD = {"tampered": "INVALID_SIGNATURE", "foreign-key": "UNKNOWN_KEY", "other-digest": "DIGEST_MISMATCH",
       "other-identity": "IDENTITY_MISMATCH"}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_signature_in_the_store_is_refused_naming_the_store_and_index(
        env: Env, plain_registry: RegistryServer, new_home: object, example_home: GPGHome, kind: str) -> None:
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", oci_source(env.tmp, image),
                   f"docker://{host}/ns/app:1").returncode == 0
    sig_dir = store / f"ns/app@sha256={Digest.parse(image.digest).hex}"
    sig_dir.mkdir(parents=True)
    (sig_dir / "signature-1").write_bytes(
        _bad_signature(kind, image.manifest, f"{host}/ns/app:1", new_home(), example_home))  # type: ignore[operator]
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    for tool in TOOLS:
        r = env.run(tool, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out-{tool}", policy=policy)
        assert r.returncode == 1, (tool, r.stderr)
        assert nothing_written(tool, env.tmp / f"out-{tool}")
    assert "error[policy-rejected]" in r.stderr
    assert f"signature 1 at file://{sig_dir}/signature-1" in r.stderr
    assert f"reason {BAD[kind]}" in r.stderr
    # policy explain has no --tls-verify: registries.conf marks the plain-HTTP registry as insecure
    env.conf.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    r = env.run("trustcopy", "policy", "explain", "--output", "json", f"docker://{host}/ns/app:1",
                policy=policy)
    assert r.returncode == 1, r.stderr
    [sig] = json.loads(r.stdout)["requirements"][0]["signatures"]
    assert (sig["index"], sig["location"], sig["reason"]) == (1, f"file://{sig_dir}/signature-1", BAD[kind])


# -- a lookaside over HTTP ----------------------------------------------------------------------


@contextlib.contextmanager
def static_server(root: Path, fail: dict[str, int] | None = None) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1; paths ending with a key of ``fail`` answer that status instead."""
    failures = fail or {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            for suffix, status in failures.items():
                if self.path.endswith(suffix):
                    self.send_error(status)
                    return
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = QuietHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _http_setup(env: Env, host: str) -> tuple[Path, str]:
    """Sign into a staging store with skopeo; return (store, image digest hex)."""
    staging = env.tmp / "published"
    env.registries_d({host: {"lookaside-staging": f"file://{staging}"}})
    image = example_image()
    assert env.run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, oci_source(env.tmp, image),
                   f"docker://{host}/ns/app:1").returncode == 0
    return staging, Digest.parse(image.digest).hex


@pytest.mark.parametrize("verifier", TOOLS)
def test_lookaside_over_http_is_read_like_a_file_store(env: Env, plain_registry: RegistryServer,
                                                       verifier: str) -> None:
    host = plain_registry.host
    staging, _ = _http_setup(env, host)
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    with static_server(staging) as url:
        env.registries_d({host: {"lookaside": url}})
        r = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out", policy=policy)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("status", [403, 500])
def test_lookaside_http_error_fails_the_copy(env: Env, plain_registry: RegistryServer, status: int) -> None:
    host = plain_registry.host
    staging, hexd = _http_setup(env, host)
    with static_server(staging, {"/signature-1": status}) as url:
        env.registries_d({host: {"lookaside": url}})
        # even a policy that needs no signature: an unreadable store is an error, never "no signatures"
        r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out")
        skopeo = env.run("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                         f"dir:{env.tmp}/out-skopeo")
    assert r.returncode == 1 and skopeo.returncode != 0
    assert "error[lookaside-http]" in r.stderr and f"status {status}" in r.stderr
    assert f"{url}/ns/app@sha256={hexd}/signature-1" in r.stderr
    assert not (env.tmp / "out").exists()


def test_missing_signature_over_http_means_none(env: Env, plain_registry: RegistryServer) -> None:
    host = plain_registry.host
    staging, _ = _http_setup(env, host)
    with static_server(staging, {"/signature-1": 404}) as url:
        env.registries_d({host: {"lookaside": url}})
        policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
        r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out", policy=policy)
    assert r.returncode == 1 and "reason NO_SIGNATURES" in r.stderr


def test_signing_to_an_http_lookaside_is_refused_before_anything_is_pushed(
        env: Env, plain_registry: RegistryServer) -> None:
    host = plain_registry.host
    env.registries_d({host: {"lookaside": "https://sigs.example.com/store"}})
    r = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                oci_source(env.tmp, example_image()), f"docker://{host}/ns/new:1")
    assert r.returncode == 1
    assert "error[signatures-unsupported]" in r.stderr and "lookaside-staging" in r.stderr
    assert "https://sigs.example.com/store" in r.stderr
    assert manifest_of(host, "ns/new:1") == b""
    assert httpx.get(f"http://{host}/v2/_catalog").json()["repositories"] == []


# -- delete ----------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_delete_removes_the_signatures_from_a_file_store(env: Env, plain_registry: RegistryServer, tool: str) -> None:
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                   oci_source(env.tmp, image), f"docker://{host}/ns/app:1").returncode == 0
    assert signature_files(store) != []
    r = env.run(tool, "delete", "--tls-verify=false", f"docker://{host}/ns/app:1")
    assert r.returncode == 0, r.stderr
    assert manifest_of(host, "ns/app:1") == b""
    assert signature_files(store) == []


def test_delete_with_an_http_store_is_refused_before_deleting(env: Env, plain_registry: RegistryServer) -> None:
    host = plain_registry.host
    image = example_image()
    assert env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", oci_source(env.tmp, image),
                   f"docker://{host}/ns/app:1").returncode == 0
    env.registries_d({host: {"lookaside": "https://sigs.example.com/store"}})
    r = env.run("trustcopy", "delete", "--tls-verify=false", f"docker://{host}/ns/app:1")
    assert r.returncode == 1
    assert "error[lookaside-not-writable]" in r.stderr and "lookaside-staging" in r.stderr
    assert manifest_of(host, "ns/app:1") == image.manifest
