"""Schema1 manifests signed by a throw-away key (trustcopy/manifest/schema1sign.py), and the embedded
name/tag update of a schema1 image copied to another name (trustcopy/copy/single.py).

Each signed manifest is checked twice: by our own reading (our schema1 parser takes it as the signed
variant, ``jws_payload`` gives back the payload, the digest is the payload's, and the ES256 signature
verifies against the key in ``header.jwk``, as libtrust's ``Verify`` checks it), and by Go
(tests/goracle/schema1sign: containers/image 5.23's ``Schema1FromManifest`` and ``manifest.Digest``,
docker/libtrust's ``ParsePrettySignature`` + ``Verify``). Go's own ``Schema1.Serialize`` (after the
``UpdatedImage`` name/tag and layer updates) must give the same bytes but for the key, the signature
and the time. Registry and skopeo comparisons: tests/integration/test_schema1_registry_s26.py.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest._jwk import check_jwk, jose_b64decode, key_id
from trustcopy.manifest.digest import jws_payload, manifest_digest
from trustcopy.manifest.parse import parse_manifest
from trustcopy.manifest.schema1 import Schema1Manifest
from trustcopy.manifest.schema1convert import updated_schema1
from trustcopy.manifest.schema1sign import add_dummy_signature
from trustcopy.reference import parse_normalized_named
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.types import BlobInfo

oracle = oracle_fixture("schema1sign", "containers/image's Schema1 (Serialize) and docker/libtrust (Verify)")

HEX = "0123456789abcdef"


def _manifest(n: int = 2, *, name: str = "a/b", tag: str = "1", indent: int | str | None = None,
              extra: str = "") -> bytes:
    ids = [hashlib.sha256(f"id{i}".encode()).hexdigest() for i in range(n)]
    history = [{"v1Compatibility": json.dumps({"id": ids[i], **({"parent": ids[i - 1]} if i else {}),
                                               "comment": f"step {i} {extra}"})} for i in range(n)]
    doc = {"schemaVersion": 1, "name": name, "tag": tag, "architecture": "amd64",
           "fsLayers": [{"blobSum": "sha256:" + f"{i:x}" * 64} for i in reversed(range(n))],
           "history": list(reversed(history))}
    return json.dumps(doc, indent=indent).encode()


def _parse(raw: bytes) -> Schema1Manifest:
    m = parse_manifest(raw, None, source="test")
    assert isinstance(m, Schema1Manifest)
    return m


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _verify(raw: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """Our reading of a signed schema1 manifest: (payload, decoded protected headers); asserts each
    signature verifies as libtrust's Verify checks it (ES256 over ``protected.payload``, both base64url)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    assert _parse(raw).media_type == mt.DOCKER_V2S1_SIGNED
    payload = jws_payload(raw)
    assert manifest_digest(raw) == Digest.from_bytes(payload)
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    headers = []
    for block in json.loads(raw)["signatures"]:
        jwk = block["header"]["jwk"]
        check_jwk(jwk)
        assert block["header"]["alg"] == "ES256" and jwk["crv"] == "P-256" and jwk["kty"] == "EC"
        public = ec.EllipticCurvePublicNumbers(int.from_bytes(jose_b64decode(jwk["x"]), "big"),
                                               int.from_bytes(jose_b64decode(jwk["y"]), "big"),
                                               ec.SECP256R1()).public_key()
        spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert jwk["kid"] == key_id(spki)
        sig = jose_b64decode(block["signature"])
        assert len(sig) == 64
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public.verify(der, f"{block['protected']}.{encoded}".encode(), ec.ECDSA(hashes.SHA256()))
        headers.append(json.loads(jose_b64decode(block["protected"])))
    return payload, headers


def _skeleton(raw: bytes) -> bytes:
    """``raw`` with the parts a fresh key and another second change (x, y, kid, signature, and
    the protected header's time) replaced by placeholders: what two signers must agree on."""
    out = raw
    for block in json.loads(raw)["signatures"]:
        jwk = block["header"]["jwk"]
        header = json.loads(jose_b64decode(block["protected"]))
        header["time"] = "T"
        for value, mark in ((jwk["x"], b"X"), (jwk["y"], b"Y"), (jwk["kid"], b"KID"),
                            (block["signature"], b"SIG"), (block["protected"], json.dumps(header).encode())):
            out = out.replace(value.encode(), mark)
    return out


# -- our own reading ------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    _manifest(), _manifest(indent=3), _manifest(indent=3) + b"\n \n", _manifest(indent="\t"),
    _manifest(extra="<&> é \u2028 😀"), b'{"schemaVersion":1}', b'{\n"a": 1\n}'],
    ids=["compact", "indented", "trailing-space", "tab", "unicode", "one-member", "indent-empty"])
def test_signed_manifest_verifies_and_keeps_its_payload_and_digest(payload: bytes) -> None:
    out = add_dummy_signature(payload)
    got, headers = _verify(out) if b"fsLayers" in payload else (jws_payload(out), [])
    assert got == payload
    if b'"schemaVersion"' in payload:  # (only what reads as schema1 is hashed without its signatures)
        assert manifest_digest(out) == Digest.from_bytes(payload)
    for header in headers:
        assert header["formatLength"] == len(payload.rstrip()[:-1].rstrip())
        assert jose_b64decode(header["formatTail"]) == payload[header["formatLength"]:]
    json.loads(out)  # still JSON


def test_compact_layout_protected_header_and_time() -> None:
    payload = _manifest()
    when = datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    out = add_dummy_signature(payload, now=when)
    assert out.startswith(payload[:-1] + b',"signatures":[{"header":{"jwk":{"crv":"P-256","kid":"')
    assert out.endswith(b'"}]}') and b"\n" not in out
    block = json.loads(out)["signatures"][0]
    assert list(block) == ["header", "signature", "protected"] and list(block["header"]) == ["jwk", "alg"]
    assert list(block["header"]["jwk"]) == ["crv", "kid", "kty", "x", "y"]
    protected = jose_b64decode(block["protected"])
    assert protected == (b'{"formatLength":%d,"formatTail":"fQ","time":"2024-02-29T21:59:59Z"}' % (len(payload) - 1))
    assert "=" not in block["protected"] + block["signature"]


def test_each_manifest_gets_a_fresh_key() -> None:
    payload = _manifest()
    kids = {json.loads(add_dummy_signature(payload))["signatures"][0]["header"]["jwk"]["kid"] for _ in range(3)}
    assert len(kids) == 3


@pytest.mark.parametrize("payload", [b"[1]", b'"x"', b'{"a":1,}', b"", b"\xff{}", b'{"a":1} x'])
def test_what_is_not_a_json_object_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError, match=r"schema1 signing|Expecting|Extra data"):
        add_dummy_signature(payload)


def test_updated_payload_takes_the_embedded_name_and_tag() -> None:
    m = _parse(_manifest())
    layers = [BlobInfo(digest=d.digest, size=1) for d in m.layers]
    doc = json.loads(updated_schema1(m, layers, embedded=("other/name", "")))
    assert (doc["name"], doc["tag"]) == ("other/name", "")
    assert json.loads(updated_schema1(m, layers))["name"] == "a/b"


# -- the embedded reference update, as containers/image's updateEmbeddedDockerReference ---------

def _dest(name: str) -> Any:
    return SimpleNamespace(reference=parse_image_name(name))


@pytest.mark.parametrize(("dest", "expected"), [
    ("docker://reg.example:5000/other/n:2", ("other/n", "2")),
    ("docker://reg.example:5000/a/b:1", None),  # the registry is not part of the embedded name
    ("docker://a/b:1", None),
    ("docker://busybox", ("library/busybox", "latest")),
    ("docker://reg.example/a/b:2", ("a/b", "2")),
    ("docker-archive:/tmp/x.tar:other/n:3", ("other/n", "3")),
    ("docker-archive:/tmp/x.tar", None), ("dir:/tmp/x", None), ("oci:/tmp/x:a/b", None),
])
def test_embedded_reference_update(dest: str, expected: tuple[str, str] | None) -> None:
    from trustcopy.copy.single import _embedded_reference_update

    assert _embedded_reference_update(_parse(_manifest()), _dest(dest), None) == expected
    if expected is not None:
        with pytest.raises(ManifestError) as info:
            _embedded_reference_update(_parse(_manifest()), _dest(dest), "--preserve-digests was given")
        assert info.value.code == "manifest-conversion-refused"
        assert "embedded Docker reference" in str(info.value) and "--preserve-digests" in str(info.value)
    else:  # nothing to change: nothing refused
        assert _embedded_reference_update(_parse(_manifest()), _dest(dest), "signed") is None


def test_an_untagged_destination_embeds_an_empty_tag() -> None:
    from trustcopy.copy.single import _embedded_reference_update

    digest = "sha256:" + "c" * 64
    m = _parse(_manifest(tag=""))
    assert _embedded_reference_update(m, _dest(f"docker://a/b@{digest}"), None) is None
    assert _embedded_reference_update(m, _dest(f"docker://other/b@{digest}"), None) == ("other/b", "")
    assert _embedded_reference_update(_parse(_manifest()), _dest(f"docker://a/b@{digest}"), None) == ("a/b", "")


# -- against containers/image and libtrust ----------------------------------------------------

references = st.sampled_from(["", "reg.example:5000/other/n:2", "localhost/a/b", "busybox", "docker.io/library/x:1",
                              "quay.io/x/y:Tag_1.0-X", "a/b:1", "r.example/a/b@sha256:" + "d" * 64,
                              "r.example/a/b:t@sha256:" + "e" * 64, "localhost:5000/deep/er/path:9"])
texts = st.text(alphabet=st.sampled_from(list("ab <>&é\u2028\"\\/\n😀\x01")), max_size=8)


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    return _manifest(draw(st.integers(1, 3)), name=draw(texts), tag=draw(texts),
                     indent=draw(st.sampled_from([None, 3, "\t"])), extra=draw(texts))


def _ours(raw: bytes, layers: list[str] | None, reference: str) -> bytes:
    m = _parse(raw)
    stored = [BlobInfo(digest=Digest.parse(d), size=-1) for d in layers] if layers is not None else list(m.layers)
    embedded = None
    if reference:
        named = parse_normalized_named(reference)
        embedded = (named.path, named.tag or "")
    return add_dummy_signature(updated_schema1(m, stored, embedded=embedded))  # type: ignore[arg-type]


@pytest.mark.goracle
@given(manifests(), references, st.none() | st.lists(st.text(alphabet=HEX, min_size=64, max_size=64),
                                                     min_size=3, max_size=3))
@example(_manifest(name="<x>", tag="\u2028"), "reg.example:5000/other/n:2", ["f" * 64] * 3)
def test_serialized_like_containers_image_and_verified_by_libtrust(
        oracle: Oracle, raw: bytes, reference: str, new_layers: list[str] | None) -> None:
    n = len(_parse(raw).layers)
    layers = ["sha256:" + h for h in new_layers[:n]] if new_layers is not None else None
    ours = _ours(raw, layers, reference)
    payload, _headers = _verify(ours)
    theirs = oracle.ask({"op": "Serialize", "manifest": _b64(raw), "layers": layers, "reference": reference})
    assert theirs.get("error") is None, theirs
    go_out = base64.b64decode(theirs["output"])
    assert _skeleton(ours) == _skeleton(go_out)
    assert jws_payload(go_out) == payload
    checked = oracle.ask({"op": "Verify", "manifest": _b64(ours)})
    assert checked.get("error") is None, checked
    assert base64.b64decode(checked["payload"]) == payload
    assert checked["digest"] == str(manifest_digest(ours)) == str(Digest.from_bytes(payload))
    doc = json.loads(payload)
    assert (checked["name"], checked["tag"]) == (doc["name"], doc["tag"])
    kid = json.loads(ours)["signatures"][0]["header"]["jwk"]["kid"]
    assert checked["curves"] == ["P-256"] and checked["key_ids"] == [kid]


@pytest.mark.goracle
@given(manifests(), st.sampled_from([b"", b"\n", b"  \n\t", b"\r\n"]))
@example(_manifest(indent=3), b"\n")
@example(b'{\n  "schemaVersion": 1,\n  "x": {\n    "y": [\n      1\n    ]\n  }\n}', b"")
def test_any_layout_signed_as_libtrust_signs_it(oracle: Oracle, raw: bytes, tail: bytes) -> None:
    """AddDummyV2S1Signature of the bytes as they are: indented payloads get an indented block."""
    payload = raw + tail
    ours = add_dummy_signature(payload)
    theirs = oracle.ask({"op": "Sign", "manifest": _b64(payload)})
    assert theirs.get("error") is None, theirs
    assert _skeleton(ours) == _skeleton(base64.b64decode(theirs["output"]))
    if b"fsLayers" in payload:
        checked = oracle.ask({"op": "Verify", "manifest": _b64(ours)})
        assert checked.get("error") is None, checked
        assert base64.b64decode(checked["payload"]) == payload
