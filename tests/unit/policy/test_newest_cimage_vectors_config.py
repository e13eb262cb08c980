"""The newest containers/image policy-config vectors that test_policy_eval_cimage_vectors.py lacks.

Sources (newest c/i, go.podman.io/image/v5 ``signature/``): policy_config_sigstore_test.go
(TestNewPRSigstoreSigned's success matrix of key sources x Rekor sources and its failure list,
the duplicateFields of TestPRSigstoreSignedUnmarshalJSON / ...FulcioUnmarshalJSON /
...PKIUnmarshalJSON, TestNewPRSigstoreSignedPKI's success combinations) and
policy_config_test.go (TestPolicyUnmarshalJSON's valid policy with the ``atomic`` and an
unknown transport, its duplicateFields, TestPolicyTransportScopesWithTransportUnmarshalJSON's
duplicated scope). c/i's constructors take Go options; here each case is written as the
policy.json text that reaches the same validation (UnmarshalJSON calls those constructors).

Where trustcopy is deliberately stricter (docs/policy.md "Differences from containers/image":
empty key sources are refused), the case says so.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest

from trustcopy.errors import PolicyError
from trustcopy.policy import SigstoreSigned
from trustcopy.policy.parse import parse_policy


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ID = {"type": "matchRepoDigestOrExact"}
FULCIO = {"caPath": "/fixtures/fulcio_v1.crt.pem", "oidcIssuer": "https://github.com/login/oauth",
          "subjectEmail": "mitr@redhat.com"}
PKI = {"caRootsPath": "/fixtures/pki_root_crts.pem", "caIntermediatesPath": "/fixtures/pki_intermediate_crts.pem",
       "subjectHostname": "myhost.example.com"}
KEY_SOURCES: dict[str, dict[str, Any]] = {
    "keyPath": {"keyPath": "/foo/bar"},
    "keyPaths": {"keyPaths": ["/foo/bar", "/baz/bar"]},
    "keyData": {"keyData": b64(b"abc")},
    "keyDatas": {"keyDatas": [b64(b"abc"), b64(b"def")]},
    "pki": {"pki": PKI},
    "fulcio": {"fulcio": FULCIO},
}
REKOR_SOURCES: dict[str, dict[str, Any]] = {
    "none": {},
    "rekorPublicKeyPath": {"rekorPublicKeyPath": "/foo/baz"},
    "rekorPublicKeyPaths": {"rekorPublicKeyPaths": ["/foo/baz", "/foo/bar"]},
    "rekorPublicKeyData": {"rekorPublicKeyData": b64(b"def")},
    "rekorPublicKeyDatas": {"rekorPublicKeyDatas": [b64(b"def"), b64(b"abc")]},
}


def sigstore(**members: Any) -> str:
    return json.dumps({"default": [{"type": "sigstoreSigned", **members, "signedIdentity": ID}]})


def loads(text: str) -> bool:
    try:
        parse_policy(text.encode(), source="policy.json")
    except PolicyError as exc:
        assert str(exc).startswith('invalid policy in "policy.json": ')
        return False
    return True


def refused_at(text: str) -> str:
    with pytest.raises(PolicyError) as exc:
        parse_policy(text.encode(), source="policy.json")
    path = exc.value.context["path"]
    assert isinstance(path, str)
    return path


# --- TestNewPRSigstoreSigned: key source x Rekor source -------------------------------------

MATRIX = list(itertools.product(KEY_SOURCES, REKOR_SOURCES))


@pytest.mark.parametrize(("key", "rekor"), MATRIX, ids=[f"{k}+{r}" for k, r in MATRIX])
def test_key_source_times_rekor_source(key: str, rekor: str) -> None:
    # rekorRequired for fulcio, rekorForbidden for pki, rekorOptional for the four key forms.
    expected = not ((key == "fulcio" and rekor == "none") or (key == "pki" and rekor != "none"))
    text = sigstore(**KEY_SOURCES[key], **REKOR_SOURCES[rekor])
    assert loads(text) is expected
    if expected:
        [req] = parse_policy(text.encode()).default
        assert isinstance(req, SigstoreSigned)
        assert parse_policy(json.dumps({"default": [req.to_json()]}).encode()).default == (req,)
    else:
        assert refused_at(text) == "default[0]"


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(KEY_SOURCES, 2)),
                         ids=[f"{a}+{b}" for a, b in itertools.combinations(KEY_SOURCES, 2)])
def test_two_key_sources_refused(a: str, b: str) -> None:
    # "Both keyPath and keyData specified", "Both keyPath and fulcio", "Both fulcio and pki", …
    rekor = {"rekorPublicKeyPath": "/foo/baz"} if "fulcio" in (a, b) and "pki" not in (a, b) else {}
    text = sigstore(**KEY_SOURCES[a], **KEY_SOURCES[b], **rekor)
    with pytest.raises(PolicyError) as exc:
        parse_policy(text.encode(), source="policy.json")
    assert exc.value.context["path"] == "default[0]"
    assert "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki" in str(exc.value)


REKOR_PAIRS = list(itertools.combinations([r for r in REKOR_SOURCES if r != "none"], 2))


@pytest.mark.parametrize(("a", "b"), REKOR_PAIRS, ids=[f"{a}+{b}" for a, b in REKOR_PAIRS])
def test_two_rekor_sources_refused(a: str, b: str) -> None:
    # "Both rekorKeyPath and rekorKeyData", "… rekorKeyPath and rekorKeyPaths", "… rekorKeyData and rekorKeyDatas"
    text = sigstore(keyPath="/foo/bar", **REKOR_SOURCES[a], **REKOR_SOURCES[b])
    assert refused_at(text) == "default[0]"


# --- duplicateFields (TestPRSigstoreSigned*UnmarshalJSON, TestPolicyUnmarshalJSON) -----------

def _dup_member(text: str, owner: str | None, name: str, value: Any) -> str:
    """``text`` with ``"name": value`` added again, to the object under ``owner`` (None: the requirement)."""
    member = f'"{name}": {json.dumps(value)}, '
    marker = '{"type": "sigstoreSigned", ' if owner is None else f'"{owner}": {{'
    assert text.count(marker) == 1
    at = text.index(marker) + len(marker)
    duplicated = text[:at] + member + text[at:]
    assert duplicated != text
    return duplicated


SIGSTORE_DUPLICATES: list[tuple[str, dict[str, Any], str | None, str]] = [
    *(("keyPath+rekorPublicKeyPath", {"keyPath": "/k", "rekorPublicKeyPath": "/r"}, None, f)
      for f in ("type", "keyPath", "rekorPublicKeyPath", "signedIdentity")),
    *(("keyPaths+rekorPublicKeyPaths", {"keyPaths": ["/a", "/b"], "rekorPublicKeyPaths": ["/r1", "/r2"]}, None, f)
      for f in ("keyPaths", "rekorPublicKeyPaths")),
    *(("keyDatas+rekorPublicKeyData", {"keyDatas": [b64(b"a")], "rekorPublicKeyData": b64(b"r")}, None, f)
      for f in ("keyDatas", "rekorPublicKeyData")),
    ("keyData+rekorPublicKeyDatas", {"keyData": b64(b"a"), "rekorPublicKeyDatas": [b64(b"r")]}, None,
     "rekorPublicKeyDatas"),
    ("fulcio", {"fulcio": FULCIO, "rekorPublicKeyPath": "/r"}, None, "fulcio"),
    ("pki", {"pki": PKI}, None, "pki"),
    *(("fulcio/caPath", {"fulcio": FULCIO, "rekorPublicKeyPath": "/r"}, "fulcio", f)
      for f in ("caPath", "oidcIssuer", "subjectEmail")),
    ("fulcio/caData", {"fulcio": {**{k: v for k, v in FULCIO.items() if k != "caPath"}, "caData": b64(b"abc")},
                       "rekorPublicKeyPath": "/r"}, "fulcio", "caData"),
    *(("pki/paths", {"pki": {**PKI, "subjectEmail": "qiwan@redhat.com"}}, "pki", f)
      for f in ("caRootsPath", "caIntermediatesPath", "subjectHostname", "subjectEmail")),
    *(("pki/data", {"pki": {"caRootsData": b64(b"abc"), "caIntermediatesData": b64(b"def"),
                            "subjectHostname": "myhost.example.com", "subjectEmail": "qiwan@redhat.com"}}, "pki", f)
      for f in ("caRootsData", "caIntermediatesData")),
]


@pytest.mark.parametrize(("members", "owner", "field"), [c[1:] for c in SIGSTORE_DUPLICATES],
                         ids=[f"{c[0]}:{c[3]}" for c in SIGSTORE_DUPLICATES])
def test_sigstore_duplicate_fields_refused(members: dict[str, Any], owner: str | None, field: str) -> None:
    req = {"type": "sigstoreSigned", **members, "signedIdentity": ID}
    text = json.dumps({"default": [req]})
    assert loads(text)
    value = (req if owner is None else req[owner])[field]
    path = refused_at(_dup_member(text, owner, field, value))
    assert path == (f"default[0].{field}" if owner is None else f"default[0].{owner}.{field}")


def test_policy_duplicate_default_and_scope_refused() -> None:
    # TestPolicyUnmarshalJSON duplicateFields ("default"; "transports" is in the older table) and
    # TestPolicyTransportScopesWithTransportUnmarshalJSON's duplicated non-default scope.
    reject = '[{"type":"reject"}]'
    assert refused_at(f'{{"default":{reject},"default":{reject}}}') == "default"
    text = f'{{"default":{reject},"transports":{{"docker":{{"docker.io/library/busybox":{reject},' \
           f'"docker.io/library/busybox":{reject}}}}}}}'
    assert refused_at(text) == 'transports.docker["docker.io/library/busybox"]'


def test_policy_valid_object_with_atomic_and_unknown_transports() -> None:
    # TestPolicyUnmarshalJSON's newValidObject: "atomic" scopes are validated as docker's, an
    # unknown transport's section loads (and never applies).
    def signed_by(data: bytes, identity: str) -> dict[str, Any]:
        return {"type": "signedBy", "keyType": "GPGKeys", "keyData": b64(data), "signedIdentity": {"type": identity}}

    policy = {"default": [signed_by(b"abc", "matchRepoDigestOrExact")], "transports": {
        "docker": {"docker.io/library/busybox": [signed_by(b"def", "matchRepoDigestOrExact")],
                   "registry.access.redhat.com": [signed_by(b"RH", "matchRepository")]},
        "atomic": {"registry.access.redhat.com/rhel7": [signed_by(b"RHatomic", "matchRepository")]},
        "unknown": {"registry.access.redhat.com/rhel7": [signed_by(b"RHatomic", "matchRepository")]}}}
    parsed = parse_policy(json.dumps(policy).encode(), source="policy.json")
    assert set(parsed.transports) == {"docker", "atomic", "unknown"}


# --- TestNewPRSigstoreSignedPKI: success combinations ----------------------------------------

PKI_ROOTS = {"caRootsPath": {"caRootsPath": "/foo/bar"}, "caRootsData": {"caRootsData": b64(b"abc")}}
PKI_INTERMEDIATES = {"none": {}, "caIntermediatesPath": {"caIntermediatesPath": "/foo/baz"},
                     "caIntermediatesData": {"caIntermediatesData": b64(b"def")}}
PKI_SUBJECTS = {"hostname": {"subjectHostname": "https://example.com"},  # c/i's testSubjectHostname, as is
                "email": {"subjectEmail": "test@example.com"},
                "both": {"subjectHostname": "https://example.com", "subjectEmail": "test@example.com"}}
PKI_COMBINATIONS = list(itertools.product(PKI_ROOTS, PKI_INTERMEDIATES, PKI_SUBJECTS))


@pytest.mark.parametrize(("roots", "intermediates", "subject"), PKI_COMBINATIONS,
                         ids=["+".join(c) for c in PKI_COMBINATIONS])
def test_pki_success_combinations(roots: str, intermediates: str, subject: str) -> None:
    pki = {**PKI_ROOTS[roots], **PKI_INTERMEDIATES[intermediates], **PKI_SUBJECTS[subject]}
    assert loads(sigstore(pki=pki))


@pytest.mark.parametrize(("pki", "path"), [
    ({"subjectHostname": "h"}, "default[0].pki"),  # neither caRootsPath nor caRootsData
    ({"caRootsPath": "/a", "caRootsData": "", "subjectEmail": "e"}, "default[0].pki"),
    ({"caRootsPath": "/a", "caIntermediatesPath": "/b", "caIntermediatesData": "", "subjectEmail": "e"},
     "default[0].pki"),
    ({"caRootsPath": "/a"}, "default[0].pki"),  # missing subjectEmail and subjectHostname
], ids=["no-roots", "rootsPath+rootsData", "intermediatesPath+intermediatesData", "no-subject"])
def test_pki_failures(pki: dict[str, Any], path: str) -> None:
    assert refused_at(sigstore(pki=pki)) == path


# --- deliberate differences: empty or null values c/i reads as "not given" -------------------

@pytest.mark.parametrize(("members", "path"), [
    # c/i: keyPath "" is "no keyPath", so keyData alone is the source; refused here (docs/policy.md:
    # empty key sources are refused).
    ({"keyPath": "", "keyData": b64(b"a")}, "default[0]"),
    ({"keyData": ""}, "default[0].keyData"),  # c/i: an empty key, which then rejects every signature
    ({"keyData": b64(b"a"), "rekorPublicKeyPath": ""}, "default[0].rekorPublicKeyPath"),
    # c/i: a JSON null slice is "not given"; here null is a wrong type, as everywhere in the policy.
    ({"keyData": b64(b"a"), "keyPaths": None}, "default[0].keyPaths"),
    ({"keyData": b64(b"a"), "keyDatas": None}, "default[0].keyDatas"),
], ids=["empty-keyPath-beside-keyData", "empty-keyData", "empty-rekorPublicKeyPath", "null-keyPaths",
        "null-keyDatas"])
def test_empty_or_null_values_refused_unlike_ci(members: dict[str, Any], path: str) -> None:
    assert refused_at(sigstore(**members)) == path
