"""The X-Registry-Supports-Signatures API, with skopeo 1.9.3: signatures kept by the registry itself.

No registry implementing the API (OpenShift's integrated registry) runs here. So a real
docker-registry is configured to advertise it as OpenShift's does (``X-Registry-Supports-
Signatures: 1`` on every answer), and a loopback proxy in front of it answers
``/extensions/v2/NAME/signatures/DIGEST`` the way OpenShift's handler
(``pkg/dockerregistry/server/signaturedispatcher.go``) does, with recorded answers:

- ``GET``: ``200``, ``Content-Type: application/json; charset=utf-8``, Go's ``json.Marshal`` of
  ``{"signatures": [{"schemaVersion": 2, "name": …, "type": …, "content": base64}]}``;
  ``404`` without a body for an image it does not know;
- ``PUT``: ``201`` without a body; ``400 SIGNATURE_INVALID`` for a schemaVersion other
  than 2, ``409 SIGNATURE_EXISTS`` for a name already used (Distribution error bodies).

Everything else goes to the real registry. Both tools run against the same proxy, so
each reads what the other wrote through the API, and neither touches the lookaside.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image
from registry_fixtures import RegistryServer, _require_registry, running
from registry_signing import FPR, TOOLS, Env, oci_source, signed_by_policy
from scripted_proxy import Answer, ScriptedProxy, Seen

pytestmark = [pytest.mark.registry, pytest.mark.skopeo, pytest.mark.gpg]

IMAGE = example_image()
_PATH = re.compile(r"^/extensions/v2/(?P<name>.+)/signatures/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def go_marshal(value: object) -> bytes:
    """Go's json.Marshal for these plain values (compact, fields in struct order, HTML-safe escapes)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def errcode(code: str, message: str, detail: str) -> bytes:
    """A Distribution ``errcode.ServeJSON`` body."""
    return go_marshal({"errors": [{"code": code, "message": message, "detail": detail}]})


@dataclass
class SignatureAPI:
    """The recorded behaviour of OpenShift's signature endpoint, over an in-memory store."""

    #: (repository, digest) → entries as the API lists them (content as bytes).
    store: dict[tuple[str, str], list[dict[str, object]]] = field(default_factory=dict)
    #: (repository, digest) pairs the image store does not know (GET → 404).
    unknown: set[tuple[str, str]] = field(default_factory=set)
    #: (repository, digest) → a raw body to answer GET with instead.
    raw: dict[tuple[str, str], bytes] = field(default_factory=dict)
    puts: list[dict[str, object]] = field(default_factory=list)
    gets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> Answer | None:
        match = _PATH.match(seen.path)
        if match is None:
            return None  # the registry's own API
        key = (match["name"], match["digest"])
        with self.lock:
            if seen.method == "GET":
                self.gets += 1
                if key in self.raw:
                    return Answer(200, dict(_JSON), self.raw[key])
                if key in self.unknown:
                    return Answer(404)
                entries = [{**e, "content": base64.b64encode(e["content"]).decode()}  # type: ignore[arg-type]
                           for e in self.store.get(key, [])]
                return Answer(200, dict(_JSON), go_marshal({"signatures": entries}))
            if seen.method == "PUT":
                body = json.loads(seen.body)
                self.puts.append(body)
                if body.get("schemaVersion") != 2:
                    return Answer(400, dict(_JSON), errcode("SIGNATURE_INVALID", "invalid image signature",
                                                            "only schemaVersion=2 is currently supported"))
                entries = self.store.setdefault(key, [])
                if any(e["name"] == body["name"] for e in entries):
                    return Answer(409, dict(_JSON), errcode("SIGNATURE_EXISTS", "image signature already exists",
                                                            "already exists"))
                entries.append({"schemaVersion": 2, "name": body["name"], "type": body.get("type") or "atomic",
                                "content": base64.b64decode(body["content"])})
                return Answer(201)
        return Answer(405)


@dataclass
class APIRegistry:
    """The proxy (what the tools talk to) and the API's state."""

    proxy: ScriptedProxy
    api: SignatureAPI

    @property
    def host(self) -> str:
        return self.proxy.host


@pytest.fixture
def api_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIRegistry]:
    _require_registry()
    registry = RegistryServer(tmp_path_factory.mktemp("registry-api"),
                              headers={"X-Registry-Supports-Signatures": ["1"]})
    api = SignatureAPI()
    with running(registry), running(ScriptedProxy(registry.port, answer=api)) as proxy:
        yield APIRegistry(proxy, api)


@pytest.fixture
def env(tmp_path: Path, example_home: GPGHome) -> Env:
    return Env(tmp_path, example_home)  # its registries.d names a default store the API must leave unused


def push(env: Env, tool: str, host: str, *, sign: bool = True) -> None:
    r = env.run(tool, "copy", "-q", "--dest-tls-verify=false", *(["--sign-by", FPR] if sign else []),
                oci_source(env.tmp, IMAGE, f"{tool}-{sign}"), f"docker://{host}/ns/app:1")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("verifier", TOOLS)
@pytest.mark.parametrize("signer", TOOLS)
def test_signature_api_written_by_one_tool_read_by_the_other(env: Env, api_registry: APIRegistry, signer: str,
                                                              verifier: str) -> None:
    host = api_registry.host
    push(env, signer, host)
    [put] = api_registry.api.puts
    assert set(put) == {"schemaVersion", "name", "type", "content"}
    assert put["schemaVersion"] == 2 and put["type"] == "atomic"
    assert re.fullmatch(rf"{IMAGE.digest}@[0-9a-f]{{32}}", str(put["name"]))
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    r = env.run(verifier, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1", f"dir:{env.tmp}/out",
                policy=policy)
    assert r.returncode == 0, r.stderr
    stored = api_registry.api.store[("ns/app", IMAGE.digest)][0]["content"]
    assert (env.tmp / "out" / "signature-1").read_bytes() == stored
    assert not (env.tmp / "default-store").exists()  # the API replaces the lookaside, for reading and writing


def test_signature_api_location_and_rejection_name_the_url(env: Env, api_registry: APIRegistry) -> None:
    host = api_registry.host
    push(env, "skopeo", host, sign=False)
    other = example_image().manifest.replace(b"}", b" }", 1)  # another manifest: its signature names another digest
    from trustcopy.signature.simple import sign_simple_signing

    blob = sign_simple_signing(other, f"{host}/ns/app:1", FPR, gnupg_home=env.gpg.path)
    api_registry.api.store[("ns/app", IMAGE.digest)] = [
        {"schemaVersion": 2, "name": f"{IMAGE.digest}@{'0' * 32}", "type": "atomic", "content": blob}]
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                f"dir:{env.tmp}/out", policy=policy)
    assert r.returncode == 1 and "reason DIGEST_MISMATCH" in r.stderr
    assert f"signature 1 at http://{host}/extensions/v2/ns/app/signatures/{IMAGE.digest}#1" in r.stderr
    assert not (env.tmp / "out").exists()


def test_entries_of_another_version_or_type_are_skipped_by_both(env: Env, api_registry: APIRegistry) -> None:
    host = api_registry.host
    push(env, "trustcopy", host)
    [entry] = api_registry.api.store[("ns/app", IMAGE.digest)]
    api_registry.api.store[("ns/app", IMAGE.digest)] = [{**entry, "type": "AtomicImageV1"},
                                                        {**entry, "schemaVersion": 1}]
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    for tool in TOOLS:
        r = env.run(tool, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out-{tool}", policy=policy)
        assert r.returncode == 1, (tool, r.stderr)
    assert "reason NO_SIGNATURES" in r.stderr


def test_carried_signatures_are_not_put_twice(env: Env, api_registry: APIRegistry) -> None:
    host = api_registry.host
    push(env, "trustcopy", host)
    policy = signed_by_policy(env.tmp / "policy.json", f"{host}/ns")
    for _ in range(2):
        r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{host}/ns/app:1", f"docker://{host}/ns/copy:1", policy=policy)
        assert r.returncode == 0, r.stderr
    assert len(api_registry.api.puts) == 2  # the push, then the first copy; the second copy found it stored
    assert [e["content"] for e in api_registry.api.store[("ns/copy", IMAGE.digest)]] == \
        [e["content"] for e in api_registry.api.store[("ns/app", IMAGE.digest)]]


@pytest.mark.parametrize("answer", [
    pytest.param(b"<html>not json</html>", id="not-json"),
    pytest.param(b'{"signatures": {"a": 1}}', id="not-a-list"),
    pytest.param(b'{"signatures": [{"schemaVersion": 2, "name": "x", "type": "atomic", "content": "%%%"}]}',
                 id="content-not-base64"),
    pytest.param(b'{"signatures": [{"schemaVersion": "2", "name": "x", "type": "atomic", "content": ""}]}',
                 id="version-not-a-number"),
])
def test_malformed_signature_list_fails_the_copy(env: Env, api_registry: APIRegistry, answer: bytes) -> None:
    host = api_registry.host
    push(env, "trustcopy", host, sign=False)
    api_registry.api.raw[("ns/app", IMAGE.digest)] = answer
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                f"dir:{env.tmp}/out")
    assert r.returncode == 1
    assert "error[registry]" in r.stderr and "the signature list is malformed" in r.stderr
    assert f"http://{host}/extensions/v2/ns/app/signatures/{IMAGE.digest}" in r.stderr
    assert not (env.tmp / "out").exists()


def test_unknown_image_in_the_signature_api_is_an_error_for_both(env: Env, api_registry: APIRegistry) -> None:
    """containers/image treats any answer but 200 as an error, even 404: never "no signatures"."""
    host = api_registry.host
    push(env, "trustcopy", host, sign=False)
    api_registry.api.unknown.add(("ns/app", IMAGE.digest))
    for tool in TOOLS:
        r = env.run(tool, "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                    f"dir:{env.tmp}/out-{tool}")
        assert r.returncode == 1, (tool, r.stderr)
    assert "error[image-not-found]" in r.stderr and "signature API" in r.stderr


def test_put_refused_by_the_api_fails_the_copy(env: Env, api_registry: APIRegistry) -> None:
    host = api_registry.host
    push(env, "trustcopy", host)
    name = str(api_registry.api.puts[0]["name"])
    # a registry refusing every new signature (here: its name "already exists")
    api_registry.api.store[("ns/app", IMAGE.digest)][0]["content"] = b"something else"
    original = api_registry.api.__call__

    def refuse(seen: Seen) -> Answer | None:
        if seen.method == "PUT" and seen.path.startswith("/extensions/"):
            return Answer(409, dict(_JSON), errcode("SIGNATURE_EXISTS", "image signature already exists", name))
        return original(seen)

    api_registry.proxy.answer = refuse
    r = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                oci_source(env.tmp, IMAGE, "again"), f"docker://{host}/ns/app:1")
    assert r.returncode == 1
    assert "error[registry-http]" in r.stderr and "signature API: signature exists" in r.stderr
