"""The least a click + httpx program does for the bench's short registry copies: the stack's own floor.

Issue 14 keeps click and httpx (the project's stack) and asks for short copies within 2.0
(re-push, 30 small images) and 1.5 (mount) of skopeo's time. This program measures what
that stack costs before any of trustcopy's own work: it parses the same command line with
click and makes the same requests with httpx (TLS probe and fallback to plain HTTP as
``--tls-verify=false`` does, ping, the destination tag's HEAD, then blob HEAD/POST/PUT or
cross-repository mounts, the manifest PUT), and nothing else: no policy, no
registries.conf/registries.d/auth files, no manifest parsing beyond ``json.loads``, no
error handling beyond raising. bench_registry.py times it beside trustcopy and skopeo in
the re-push, mount and small30 scenarios: when this program alone misses a target, the
target is below what the stack allows on that machine.

Only the forms the bench uses are accepted:
    minimal_client.py --policy P copy -q [--src-tls-verify=false] [--dest-tls-verify=false]
        oci:LAYOUT:NAME docker://HOST/REPO:TAG      (push, skipped when the tag has the digest)
        docker://HOST/REPO:TAG docker://HOST/OTHER:TAG   (same registry: mount every blob)
"""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.modules["httpx._main"] = types.ModuleType("httpx._main")  # httpx's CLI (rich, pygments): trustcopy skips it too

import click  # noqa: E402
import httpx  # noqa: E402

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")


def connect(host: str) -> httpx.Client:
    """One client for ``host``: HTTPS when it answers TLS, else plain HTTP (as ``--tls-verify=false``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = httpx.Client(verify=context, follow_redirects=False)
    for scheme in ("https", "http"):
        try:
            client.get(f"{scheme}://{host}/v2/")
        except httpx.TransportError:
            continue
        client.base_url = httpx.URL(f"{scheme}://{host}")
        return client
    raise SystemExit(f"{host} answers neither HTTPS nor HTTP")


def split(ref: str) -> tuple[str, str, str]:
    """``docker://HOST/REPO:TAG`` → (host, repo, tag)."""
    host, rest = ref.removeprefix("docker://").split("/", 1)
    repo, tag = rest.rsplit(":", 1)
    return host, repo, tag


def tag_has(client: httpx.Client, repo: str, tag: str, digest: str) -> bool:
    """Whether ``repo:tag`` already names ``digest`` (one HEAD, as trustcopy's skip-identical)."""
    answer = client.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
    return answer.status_code == 200 and answer.headers.get("Docker-Content-Digest") == digest


def push(layout: str, name: str, dest: str) -> None:
    """oci: → docker://: upload the blobs the registry lacks, then the manifest."""
    with open(f"{layout}/index.json", "rb") as f:
        index = json.load(f)
    entry = next(m for m in index["manifests"]
                 if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name)
    digest = entry["digest"]
    with open(f"{layout}/blobs/sha256/{digest[7:]}", "rb") as f:
        raw = f.read()
    manifest: dict[str, Any] = json.loads(raw)
    host, repo, tag = split(dest)
    client = connect(host)
    if tag_has(client, repo, tag, digest):
        return
    for desc in (manifest["config"], *manifest["layers"]):
        blob = desc["digest"]
        if client.head(f"/v2/{repo}/blobs/{blob}").status_code == 200:
            continue
        with open(f"{layout}/blobs/sha256/{blob[7:]}", "rb") as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != blob:
            raise SystemExit(f"blob {blob} does not match its digest")
        location = client.post(f"/v2/{repo}/blobs/uploads/").raise_for_status().headers["Location"]
        joiner = "&" if "?" in location else "?"  # the Location keeps its own query (_state)
        client.put(f"{location}{joiner}digest={blob}", content=data,
                   headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    client.put(f"/v2/{repo}/manifests/{tag}", content=raw,
               headers={"Content-Type": manifest["mediaType"]}).raise_for_status()


def mount(src: str, dest: str) -> None:
    """docker:// → docker:// on one registry: mount every blob (in parallel), then put the manifest."""
    host, src_repo, src_tag = split(src)
    dest_host, repo, tag = split(dest)
    if dest_host != host:
        raise SystemExit("only copies within one registry are supported")
    client = connect(host)
    answer = client.get(f"/v2/{src_repo}/manifests/{src_tag}", headers={"Accept": MANIFEST_TYPES}).raise_for_status()
    raw, digest = answer.content, answer.headers["Docker-Content-Digest"]
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise SystemExit("the manifest does not match its digest")
    if tag_has(client, repo, tag, digest):
        return
    manifest: dict[str, Any] = json.loads(raw)

    def mount_one(desc: dict[str, Any]) -> None:
        done = client.post(f"/v2/{repo}/blobs/uploads/", params={"mount": desc["digest"], "from": src_repo})
        if done.status_code != 201:
            raise SystemExit(f"mount of {desc['digest']} answered {done.status_code}")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(mount_one, (manifest["config"], *manifest["layers"])))
    client.put(f"/v2/{repo}/manifests/{tag}", content=raw,
               headers={"Content-Type": manifest["mediaType"]}).raise_for_status()


@click.group()
@click.option("--policy")
def cli(policy: str | None) -> None:
    """The bench's copy command line, nothing more."""


@cli.command()
@click.option("-q", "quiet", is_flag=True)
@click.option("--src-tls-verify")
@click.option("--dest-tls-verify")
@click.argument("src")
@click.argument("dest")
def copy(quiet: bool, src_tls_verify: str | None, dest_tls_verify: str | None, src: str, dest: str) -> None:
    """Copy SRC to DEST (the two forms in the module docstring)."""
    if src.startswith("oci:"):
        layout, name = src.removeprefix("oci:").rsplit(":", 1)
        push(layout, name, dest)
    else:
        mount(src, dest)


if __name__ == "__main__":
    cli()
