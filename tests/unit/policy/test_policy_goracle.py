"""trustcopy's policy engine against containers/image's signature package, on generated inputs.

The vector tests (test_policy_parse.py, test_policy_identity_vectors.py,
test_policy_scope_lookup.py) restate the cases containers/image's authors wrote down; here
hypothesis assembles policy.json documents, image references, signed identities and scope
sets from their pieces and near misses, and the Go oracle (tests/goracle/policy) says what
containers/image 5.23 makes of each:

1. parsing: ``signature.NewPolicyFromBytes`` against ``parse_policy`` (accept/reject, the
   parsed policy itself, and for single mutations of a valid policy the field we blame);
2. identity matching: each ``signedIdentity`` type's ``matchesDockerReference`` against
   ``IdentityMatcher.matches``;
3. scope selection: ``PolicyContext.requirementsForImageRef`` against ``requirements_for``.

Every difference allowed below is one trustcopy documents, and each is allowed only where
it applies (:func:`_known_strictness`, :func:`_newer_than_5_23`, :func:`_ipv6`).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st
from policy_fakes import FakeRef

from trustcopy.errors import InvalidReferenceError, PolicyError
from trustcopy.policy.parse import parse_policy
from trustcopy.policy.scopes import json_pointer, requirements_for
from trustcopy.transports.alltransports import parse_image_name

pytestmark = pytest.mark.goracle

D1 = "sha256:" + "0123456789abcdef" * 4
D2 = "sha256:" + "a" * 64
KEY = base64.b64encode(b"-----BEGIN PGP PUBLIC KEY BLOCK-----").decode()


oracle = oracle_fixture("policy", "containers/image's signature package")


# --- JSON documents with duplicate keys ----------------------------------------------------


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as (key, value) pairs, so that a document may repeat a key."""

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of ``key``."""
        return next((v for k, v in self if k == key), default)

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return any(k == key for k, _ in self)


def dump(value: Any) -> str:
    """Serialize, keeping repeated keys."""
    if isinstance(value, Obj):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def plain(value: Any) -> Any:
    """Obj → dict (for comparing parsed forms)."""
    if isinstance(value, Obj):
        return {k: plain(v) for k, v in value}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- pieces ------------------------------------------------------------------------------

DOMAINS = ["", "docker.io", "index.docker.io", "example.com", "example.com:5000", "localhost", "localhost:5000",
           "quay.io", "Example.COM", "reg.sub.example.com"]
PATHS = ["busybox", "library/busybox", "ns/app", "ns/sub/app", "a", "ns/app-x"]


@st.composite
def docker_refs(draw: st.DrawFn, tag: bool = True, digest: bool = True) -> str:
    """A valid reference: domain, path, and a tag and/or digest (or neither)."""
    domain, path = draw(st.sampled_from(DOMAINS)), draw(st.sampled_from(PATHS))
    text = f"{domain}/{path}" if domain else path
    if tag and draw(st.booleans()):
        text += ":" + draw(st.sampled_from(["latest", "v1", "v2"]))
    if digest and draw(st.booleans()):
        text += "@" + draw(st.sampled_from([D1, D2]))
    return text


BAD_REFS = ["", "UPPER/case:x", "busybox:", "a//b", "example.com/ns/", ":tag", "@" + D1, "a:b:c",
            "busybox@sha256:abc", "[::1]:5000/ns/app:v1", "[fe80::1]/x"]
references = docker_refs() | st.sampled_from(BAD_REFS)


@st.composite
def prefixes(draw: st.DrawFn) -> str:
    """remapIdentity prefixes: hosts, namespaces, repositories, with near misses."""
    domain = draw(st.sampled_from([d for d in DOMAINS if d] + ["busybox", "library", "ns", "[::1]:5000"]))
    path = draw(st.sampled_from(PATHS)).split("/")
    text = "/".join([domain, *path[: draw(st.integers(0, len(path)))]])
    return text + draw(st.sampled_from(["", "", "", "/", ":tag", "@" + D1, "/X"]))


def identities() -> st.SearchStrategy[Any]:
    """signedIdentity objects, valid and not."""
    simple = st.sampled_from(["matchExact", "matchRepoDigestOrExact", "matchRepository"]).map(
        lambda t: Obj([("type", t)]))
    exact_ref = references.map(lambda r: Obj([("type", "exactReference"), ("dockerReference", r)]))
    exact_repo = references.map(lambda r: Obj([("type", "exactRepository"), ("dockerRepository", r)]))
    remap = st.builds(lambda p, s: Obj([("type", "remapIdentity"), ("prefix", p), ("signedPrefix", s)]),
                      prefixes(), prefixes())
    odd: st.SearchStrategy[Any] = st.sampled_from([
        Obj([("type", "MatchExact")]), Obj([("type", "")]), Obj([]), Obj([("type", None)]),
        Obj([("type", "exactReference")]), Obj([("type", "remapIdentity"), ("prefix", "example.com")]),
        Obj([("type", "matchExact"), ("dockerReference", "busybox:latest")]), "matchExact", None, [],
    ])
    return st.one_of(simple, exact_ref, exact_repo, remap, odd)


PATH_VALUES = ["/keys/a.gpg", "", None, 7, "relative.gpg"]
PATHS_VALUES: list[Any] = [["/keys/a.gpg"], ["/keys/a.gpg", "/keys/b.gpg"], [], [""], [None], "/keys/a.gpg", None]
DATA_VALUES: list[Any] = [KEY, "", None, "not base64!", "YQ", "YQ==\n", 5]
DATAS_VALUES: list[Any] = [[KEY], [], [""], KEY, None]


@st.composite
def some_fields(draw: st.DrawFn, choices: dict[str, list[Any]]) -> list[tuple[str, Any]]:
    """A subset of ``choices``' fields, each with one of its values."""
    names = draw(st.lists(st.sampled_from(sorted(choices)), unique=True, max_size=3))
    return [(n, draw(st.sampled_from(choices[n]))) for n in names]


@st.composite
def fulcio_objects(draw: st.DrawFn) -> Any:
    fields = draw(some_fields({"caPath": PATH_VALUES, "caData": DATA_VALUES,
                               "oidcIssuer": ["https://issuer.example", "", None],
                               "subjectEmail": ["dev@example.com", "", None]}))
    return Obj(fields)


@st.composite
def pki_objects(draw: st.DrawFn) -> Any:
    fields = draw(some_fields({"caRootsPath": PATH_VALUES, "caRootsData": DATA_VALUES,
                               "caIntermediatesPath": PATH_VALUES, "caIntermediatesData": DATA_VALUES,
                               "subjectEmail": ["dev@example.com", "", None],
                               "subjectHostname": ["host.example.com", ""]}))
    return Obj(fields)


@st.composite
def requirements(draw: st.DrawFn) -> Any:
    """One requirement object of any type, with any combination of its fields."""
    kind = draw(st.sampled_from(["insecureAcceptAnything", "reject", "signedBy", "signedBy", "sigstoreSigned",
                                 "sigstoreSigned", "signedBaseLayer", "Reject", "unknownType"]))
    fields: list[tuple[str, Any]] = [("type", kind)]
    if kind == "signedBy":
        key_type = draw(st.sampled_from(["GPGKeys", "GPGKeys", "signedByGPGKeys", "X509Certificates",
                                         "signedByX509CAs", "gpgkeys", None, 1]))
        if draw(st.integers(0, 9)):
            fields.append(("keyType", key_type))
        fields += draw(some_fields({"keyPath": PATH_VALUES, "keyPaths": PATHS_VALUES, "keyData": DATA_VALUES}))
    elif kind == "sigstoreSigned":
        old = draw(some_fields({"keyPath": PATH_VALUES, "keyData": DATA_VALUES}))
        new: list[tuple[str, Any]] = []
        if draw(st.integers(0, 2)) == 0:  # newer containers/image fields, now and then
            new = draw(some_fields({"keyPaths": PATHS_VALUES, "keyDatas": DATAS_VALUES,
                                    "fulcio": [draw(fulcio_objects())], "pki": [draw(pki_objects())],
                                    "rekorPublicKeyPath": PATH_VALUES, "rekorPublicKeyPaths": PATHS_VALUES,
                                    "rekorPublicKeyData": DATA_VALUES, "rekorPublicKeyDatas": DATAS_VALUES}))
        fields += old + new
    if kind in ("signedBy", "sigstoreSigned") and draw(st.booleans()):
        fields.append(("signedIdentity", draw(identities())))
    if kind == "signedBaseLayer" and draw(st.integers(0, 5)):
        fields.append(("baseLayerIdentity", draw(identities())))
    if draw(st.integers(0, 15)) == 0:
        fields.append(draw(st.sampled_from([("Type", kind), ("extra", 1), ("keypath", "/k")])))
    draw(st.randoms()).shuffle(fields)
    return Obj(fields)


requirement_lists: st.SearchStrategy[Any] = (st.lists(requirements(), min_size=1, max_size=2)
                                             | st.sampled_from([[], None, {}, "reject"]))

SCOPES = {
    "docker": ["", "busybox", "docker.io/library/busybox", "example.com/ns", "*.example.com", "a*.com",
               "example.com:5000/ns/app:v1", "UPPER", "example.com/ns@" + D1],
    "atomic": ["", "example.com/ns", "anything at all"],
    "dir": ["", "/srv/images", "/srv/images/", "relative", "/", "/srv/../x", "/srv//x"],
    "oci": ["", "/srv/layout", "/srv/layout:tag", "rel/layout", "/", "/a:b/c", "/srv/layout:", "/srv/layout:@0",
            "/srv/layout/:x", "//srv", "/srv/layout:a/b"],
    "oci-archive": ["", "/srv/a.tar", "a.tar", "/srv/./a.tar", "/srv/a.tar:name", "/a:b/c.tar"],
    "docker-archive": ["", "/srv/a.tar", "/srv/a.tar:busybox:latest"],
    "docker-daemon": ["", "busybox:latest", "sha256:" + "0" * 64],
    "tarball": ["", "/srv/t.tar"],
    "sif": ["", "/srv/x.sif", "x.sif", "/"],
    "containers-storage": ["", "[/var/lib/containers/storage]", "[overlay@/var/lib/containers/storage]busybox",
                           "[/var/lib/containers/storage]docker.io/library/busybox:latest",
                           "[relative]busybox", "busybox", "[overlay@]x", "[/root]x@" + "0" * 64,
                           "[/root]x@" + D1, "[/root]x@" + D1 + "@" + "1" * 64, "[/root]x@nothex"],
    "ostree": ["", "whatever"],
    "nosuch": ["", "whatever"],
}


@st.composite
def transports_sections(draw: st.DrawFn) -> Any:
    names = draw(st.lists(st.sampled_from(sorted(SCOPES)), unique=True, max_size=2))
    out = Obj()
    for name in names:
        scopes = draw(st.lists(st.sampled_from(SCOPES[name]), unique=True, max_size=2))
        out.append((name, Obj((s, draw(requirement_lists)) for s in scopes)))
    return out


@st.composite
def policies(draw: st.DrawFn) -> Any:
    """A whole policy.json document, often broken somewhere."""
    doc = Obj()
    if draw(st.integers(0, 15)):
        doc.append(("default", draw(requirement_lists)))
    if draw(st.booleans()):
        doc.append(("transports", draw(transports_sections() | st.sampled_from([None, [], {}]))))
    if draw(st.integers(0, 15)) == 0:
        doc.append(draw(st.sampled_from([("default", [Obj([("type", "reject")])]), ("extra", True)])))
    return doc


# --- the differences trustcopy documents --------------------------------------------------

NEWER_SIGSTORE_FIELDS = ("keyPaths", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths",
                         "rekorPublicKeyData", "rekorPublicKeyDatas")


def _requirement_objects(doc: Any) -> Iterator[tuple[tuple[str | int, ...], Obj]]:
    """Every requirement object of a document, with its path."""
    lists: list[tuple[tuple[str | int, ...], Any]] = []
    if isinstance(doc, Obj):
        lists.append((("default",), doc.get("default")))
        transports = doc.get("transports")
        if isinstance(transports, Obj):
            for name, scopes in transports:
                if isinstance(scopes, Obj):
                    lists += [(("transports", name, scope), reqs) for scope, reqs in scopes]
    for path, reqs in lists:
        if isinstance(reqs, list):
            yield from (((*path, i), r) for i, r in enumerate(reqs) if isinstance(r, Obj))


def _host_first(prefix: Any) -> bool:
    """The documented rule trustcopy adds for remapIdentity prefixes (see below)."""
    if not isinstance(prefix, str):
        return True
    host = prefix.split("/", 1)[0]
    return ("." in host or ":" in host or host == "localhost") and host != "index.docker.io"


def _known_strictness(doc: Any) -> list[str]:
    """JSON pointers of values containers/image 5.23 loads and trustcopy refuses, on purpose.

    - docs/policy.md "Differences from containers/image" and trustcopy/policy/requirements.py
      ``check_path``/``check_data``: empty ``keyPaths``/``keyData`` (and an empty path in a
      list) are refused; c/i loads them and then rejects every signature.
    - trustcopy/policy/parse.py docstring and ``_base64``: wrong JSON types, ``null``
      included, are refused; Go's decoder turns ``null`` inside a list of strings into
      ``""``, and reads a JSON array of small numbers (``[]`` too) as the bytes of a
      ``keyData`` (a ``[]byte``).
    - sigstoreSigned ``keyPath`` ``""``/``null`` and ``keyData`` ``null``: 5.23 loads them (no key
      at all); the newest containers/image refuses them (policy_config_sigstore.go counts only
      non-empty paths and non-nil data), and trustcopy follows the newest
      (trustcopy/policy/sigstore_requirement.py docstring).
    - trustcopy/policy/identity.py ``validate_remap_prefix``: a remapIdentity prefix must
      start with a registry host; c/i's own source says it does not reject short names.
    """
    out = []
    for path, req in _requirement_objects(doc):
        kind = req.get("type")
        if kind in ("signedBy", "sigstoreSigned"):
            for name in ("keyPaths", "rekorPublicKeyPaths", "keyDatas", "rekorPublicKeyDatas"):
                value = req.get(name)
                if isinstance(value, list) and (not value or any(v in ("", None) or isinstance(v, list)
                                                                 for v in value)):
                    out.append(json_pointer((*path, name)))
            for name in ("keyData", "rekorPublicKeyData"):
                if req.get(name) == "" or isinstance(req.get(name), list):
                    out.append(json_pointer((*path, name)))
        if kind == "sigstoreSigned":
            for name in ("keyPath", "keyData"):
                if req.has(name) and req.get(name) in ("", None):
                    out.append(json_pointer((*path, name)))
        for name in ("signedIdentity", "baseLayerIdentity"):
            ident = req.get(name)
            if isinstance(ident, Obj) and ident.get("type") == "remapIdentity":
                for field in ("prefix", "signedPrefix"):
                    if not _host_first(ident.get(field)):
                        out.append(json_pointer((*path, name, field)))
    return out


def _newer_than_5_23(doc: Any, go_error: str) -> bool:
    """5.23 refuses a sigstoreSigned field that the newest containers/image (and trustcopy) has."""
    return any(req.get("type") == "sigstoreSigned" and req.has(f) and go_error == f'Unknown key "{f}"'
               for _, req in _requirement_objects(doc) for f in NEWER_SIGSTORE_FIELDS)


def _ipv6(text: str, go_error: str) -> bool:
    """trustcopy/reference.py NOTE(go-diff): bracketed IPv6 hosts, which c/image has no grammar for."""
    return "[" in text and ("invalid reference format" in go_error or "is not valid" in go_error)


def _ours(text: str) -> tuple[Any, PolicyError | None]:
    try:
        return parse_policy(text, source="policy.json").to_json(), None
    except PolicyError as exc:
        return None, exc


def _go_form(policy: dict[str, Any]) -> dict[str, Any]:
    if not policy.get("transports"):
        policy.pop("transports", None)
    return policy


def _compare_parse(oracle: Oracle, doc: Any, text: str) -> tuple[dict[str, Any], PolicyError | None]:
    go = oracle.ask({"op": "parse", "data": base64.b64encode(text.encode()).decode()})
    ours, exc = _ours(text)
    if exc is None and "error" in go:
        assert _newer_than_5_23(doc, go["error"]) or _ipv6(text, go["error"]), (
            f"we accept what c/image refuses ({go['error']}):\n{text}")
    elif exc is not None and "error" not in go:
        pointer = exc.context["pointer"]
        excused = _known_strictness(doc)
        assert any(pointer == p or pointer.startswith(p + "/") for p in excused), (
            f"c/image accepts, we refuse at {pointer} ({exc.message}); documented differences here: {excused}\n{text}")
    elif exc is None:
        assert ours == _go_form(go["policy"]), text
    return go, exc


@given(policies())
@example(Obj([("default", [Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyPaths", [])])])]))
@example(Obj([("default", [Obj([("type", "sigstoreSigned"), ("keyPath", "")])])]))
@example(Obj([("default", [Obj([("type", "sigstoreSigned"), ("keyData", None)])])]))
@example(Obj([("default", [Obj([("type", "sigstoreSigned"), ("keyPath", "/k"), ("fulcio", Obj())])])]))
@example(Obj([("default", [Obj([("type", "reject")])]), ("transports", Obj([("docker-daemon", Obj(
    [("busybox:latest", [Obj([("type", "reject")])])]))]))]))
@example(Obj([("default", [Obj([("type", "reject")])]), ("transports", Obj([("containers-storage", Obj(
    [("[/root]x@" + D1 + "@" + "1" * 64, [Obj([("type", "reject")])])]))]))]))
def test_parse_agrees_with_containers_image(oracle: Oracle, doc: Any) -> None:
    _compare_parse(oracle, doc, dump(doc))


# --- one fault in a valid policy: both refuse, and we blame that fault ----------------------

VALID_IDENTITIES = [
    Obj([("type", "matchExact")]), Obj([("type", "matchRepository")]),
    Obj([("type", "exactReference"), ("dockerReference", "example.com/ns/app:v1")]),
    Obj([("type", "exactRepository"), ("dockerRepository", "busybox")]),
    Obj([("type", "remapIdentity"), ("prefix", "example.com/ns"), ("signedPrefix", "quay.io/mirror")]),
]
VALID_REQUIREMENTS = [
    Obj([("type", "insecureAcceptAnything")]), Obj([("type", "reject")]),
    Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyPath", "/keys/a.gpg")]),
    Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyPaths", ["/keys/a.gpg", "/keys/b.gpg"])]),
    Obj([("type", "signedBy"), ("keyType", "signedByGPGKeys"), ("keyData", KEY)]),
    Obj([("type", "sigstoreSigned"), ("keyPath", "/keys/cosign.pub")]),
    Obj([("type", "sigstoreSigned"), ("keyData", KEY)]),
    Obj([("type", "signedBaseLayer"), ("baseLayerIdentity", Obj([("type", "matchRepository")]))]),
]
VALID_SCOPES = [("docker", "example.com/ns"), ("docker", ""), ("dir", "/srv/images"), ("oci", "/srv/layout"),
                ("atomic", "example.com"), ("containers-storage", "[/var/lib/containers/storage]busybox")]


@st.composite
def valid_policies(draw: st.DrawFn) -> Any:
    def req() -> Any:
        r = copy.deepcopy(draw(st.sampled_from(VALID_REQUIREMENTS)))  # mutated later: never share
        if r.get("type") in ("signedBy", "sigstoreSigned") and draw(st.booleans()):
            r.append(("signedIdentity", copy.deepcopy(draw(st.sampled_from(VALID_IDENTITIES)))))
        return r

    doc = Obj([("default", [req() for _ in range(draw(st.integers(1, 2)))])])
    scopes = draw(st.lists(st.sampled_from(VALID_SCOPES), unique_by=lambda s: s[0], max_size=2))
    if scopes:
        doc.append(("transports", Obj((t, Obj([(s, [req()])])) for t, s in scopes)))
    return doc


def _nodes(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, value
    if isinstance(value, Obj):
        for k, v in value:
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*path, i))


def _json_kind(value: Any) -> str:
    return "object" if isinstance(value, Obj) else type(value).__name__


@st.composite
def mutated_policies(draw: st.DrawFn) -> tuple[Any, str, tuple[str | int, ...]]:
    """A valid policy with one fault, the fault's kind, and where it is."""
    doc = draw(valid_policies())
    nodes = list(_nodes(doc))
    kind = draw(st.sampled_from(["unknown", "duplicate", "retype", "drop"]))
    objects = [(p, v) for p, v in nodes if isinstance(v, Obj) and (kind != "duplicate" or v)]
    if kind in ("unknown", "duplicate", "drop"):
        path, obj = draw(st.sampled_from(objects))
        if kind == "unknown":
            key = draw(st.sampled_from(["extra", "Type", "keypath", "", "signedidentity"]))
            obj.insert(draw(st.integers(0, len(obj))), (key, draw(st.sampled_from([1, "x", None]))))
        elif kind == "duplicate":
            key, value = obj[draw(st.integers(0, len(obj) - 1))]
            obj.append((key, value))
        else:
            if not obj:
                return doc, kind, path
            index = draw(st.integers(0, len(obj) - 1))
            key, _ = obj.pop(index)
        return doc, kind, (*path, key) if kind != "drop" else path
    path, old = draw(st.sampled_from(nodes[1:]))
    new = draw(st.sampled_from([None, 1, True, "s", [], Obj(), [Obj([("type", "reject")])]]).filter(
        lambda v: _json_kind(v) != _json_kind(old)))
    parent = doc
    for part in path[:-1]:
        parent = parent.get(part) if isinstance(parent, Obj) else parent[part]
    if isinstance(parent, Obj):
        index = next(i for i, (k, _) in enumerate(parent) if k == path[-1])
        parent[index] = (path[-1], new)
    else:
        parent[path[-1]] = new
    return doc, kind, path


@given(valid_policies())
def test_valid_policies_load_identically(oracle: Oracle, doc: Any) -> None:
    go, exc = _compare_parse(oracle, doc, dump(doc))
    assert exc is None and "error" not in go, dump(doc)


@given(mutated_policies())
@example((Obj([("default", [Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyPaths", [None])])])]),
          "retype", ("default", 0, "keyPaths", 0)))
@example((Obj([("default", [Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyData", [])])])]),
          "retype", ("default", 0, "keyData")))
def test_one_fault_is_refused_where_it_is(oracle: Oracle, case: tuple[Any, str, tuple[str | int, ...]]) -> None:
    doc, kind, path = case
    go, exc = _compare_parse(oracle, doc, dump(doc))
    if exc is None or "error" not in go:
        return  # both accept (a harmless change), or a documented difference checked above
    pointer, at = exc.context["pointer"], json_pointer(path)
    if kind in ("unknown", "duplicate"):
        assert pointer == at, f"{kind} key at {at}, we blame {pointer}: {exc.message}"
    else:  # the value itself, something inside it, or the object holding it (a missing field)
        parent = json_pointer(path[:-1]) if kind == "retype" else at
        assert pointer.startswith(at) or pointer.startswith(parent), (
            f"{kind} at {at}, we blame {pointer}: {exc.message}")


def test_invalid_utf8_and_lone_surrogates_are_refused_but_loaded_by_go(oracle: Oracle) -> None:
    """docs/policy.md: JSON that Go tolerates (it substitutes U+FFFD) is refused here."""
    for data in (b'{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k\xff"}]}',
                 b'{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k\\ud800"}]}'):
        go = oracle.ask({"op": "parse", "data": base64.b64encode(data).decode()})
        assert "policy" in go
        with pytest.raises(PolicyError):
            parse_policy(data)


# --- identity matching --------------------------------------------------------------------


def _matcher(identity: Any) -> Any:
    doc = Obj([("default", [Obj([("type", "signedBy"), ("keyType", "GPGKeys"), ("keyPath", "/k"),
                                 ("signedIdentity", identity)])])])
    return parse_policy(dump(doc)).default[0].signed_identity  # type: ignore[attr-defined]


@st.composite
def remap_identities(draw: st.DrawFn) -> Any:
    """remapIdentity made of the images' own pieces, so that the prefix often applies."""
    def prefix() -> str:
        domain = draw(st.sampled_from([d for d in DOMAINS if d not in ("", "index.docker.io")]))
        path = draw(st.sampled_from(PATHS)).split("/")
        return "/".join([domain, *path[: draw(st.integers(0, len(path)))]]) + draw(st.sampled_from(["", "", "/"]))
    return Obj([("type", "remapIdentity"), ("prefix", prefix()), ("signedPrefix", prefix())])


matchers = st.one_of(
    st.sampled_from(["matchExact", "matchRepoDigestOrExact", "matchRepository"]).map(lambda t: Obj([("type", t)])),
    docker_refs().map(lambda r: Obj([("type", "exactReference"), ("dockerReference", r)])),
    docker_refs().map(lambda r: Obj([("type", "exactRepository"), ("dockerRepository", r)])),
    remap_identities(), identities(),
)


@given(matchers, docker_refs() | st.none(), references)
@example(Obj([("type", "remapIdentity"), ("prefix", "example.com/ns"), ("signedPrefix", "quay.io/x")]),
         "example.com/ns/app:v1", "quay.io/x/app:v1")
@example(Obj([("type", "remapIdentity"), ("prefix", "example.com/ns/"), ("signedPrefix", "quay.io/x/")]),
         "example.com/ns/app:v1", "quay.io/x/app:v1")
@example(Obj([("type", "remapIdentity"), ("prefix", "example.com/ns"), ("signedPrefix", "quay.io/x")]),
         "example.com/nsx/app:v1", "example.com/nsx/app:v1")
@example(Obj([("type", "remapIdentity"), ("prefix", "docker.io/library"), ("signedPrefix", "example.com")]),
         "busybox:latest", "example.com/busybox:latest")
@example(Obj([("type", "matchRepoDigestOrExact")]), "busybox:v1@" + D1, "busybox:v1@" + D2)
@example(Obj([("type", "matchRepoDigestOrExact")]), "busybox@" + D1, "busybox:anything")
@example(Obj([("type", "matchExact")]), "busybox", "busybox")
@example(Obj([("type", "exactRepository"), ("dockerRepository", "busybox:v1")]), None, "busybox:v2")
def test_identity_matching_agrees_with_containers_image(oracle: Oracle, identity: Any, image: str | None,
                                                        signed: str) -> None:
    go = oracle.ask({"op": "match", "matcher": json.loads(dump(identity)), "image": image, "signed": signed})
    assert not go.get("error", "").startswith("image:"), go  # generated images are valid
    try:
        matcher = _matcher(identity)
    except PolicyError as exc:
        if "error" not in go:
            excused = _known_strictness(Obj([("default", [Obj([("type", "signedBy"),
                                                                ("signedIdentity", identity)])])]))
            assert excused, f"c/image accepts {dump(identity)}, we refuse: {exc.message}"
        return
    if "error" in go:
        assert _ipv6(dump(identity), go["error"]), f"we accept {dump(identity)}, c/image refuses: {go['error']}"
        return
    ours = matcher.matches(FakeRef(image), signed)
    assert ours.ok == go["match"], f"{dump(identity)} image={image} signed={signed}: we say {ours.reason}"


# --- scope selection ---------------------------------------------------------------------


@st.composite
def scope_cases(draw: st.DrawFn) -> tuple[str, list[str], str]:
    """An image (docker:), scopes made from its own pieces and near misses, and their transport."""
    domain = draw(st.sampled_from([d for d in DOMAINS if d != "Example.COM"]))
    path = draw(st.sampled_from(PATHS))
    name = f"{domain}/{path}" if domain else path
    suffix = draw(st.sampled_from(["", ":latest", ":v1", "@" + D1]))
    image = name + suffix
    full_domain = {"": "docker.io", "index.docker.io": "docker.io"}.get(domain, domain)
    full_path = f"library/{path}" if full_domain == "docker.io" and "/" not in path else path
    full = f"{full_domain}/{full_path}"
    parts = full.split("/")
    host = full_domain.split(":")[0]
    candidates = [full + (suffix or ":latest"), full + suffix, full + ":other", full + "@" + D2, full,
                  full + "/", full + "-x", full[:-1], name, path, host, full_domain, full_domain + ":443",
                  *("/".join(parts[:i]) for i in range(1, len(parts))),
                  *("*." + host.split(".", i)[-1] for i in range(host.count(".") + 1)),
                  "*." + full_domain, "*", "*.", ""]
    scopes = draw(st.lists(st.sampled_from(candidates), unique=True, max_size=6))
    transport = draw(st.sampled_from(["docker", "docker", "docker", "atomic", "dir"]))
    return image, scopes, transport


@given(scope_cases())
@example(("example.com:5000/ns/app:v1", ["*.com", "example.com", "example.com:5000"], "docker"))
@example(("example.com:5000/ns/app:v1", ["*.com", "*.example.com"], "docker"))
@example(("busybox", ["docker.io/library/busybox:latest", "busybox"], "docker"))
@example(("reg.sub.example.com/a@" + D1, ["reg.sub.example.com/a", "reg.sub.example.com/a@" + D1], "docker"))
def test_scope_selection_agrees_with_containers_image(oracle: Oracle, case: tuple[str, list[str], str]) -> None:
    image, scopes, transport = case
    sections = {scope: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": f"/scope/{i}"}]
                for i, scope in enumerate(scopes)}
    text = json.dumps({"default": [{"type": "reject"}], "transports": {transport: sections}})
    go = oracle.ask({"op": "scope", "data": base64.b64encode(text.encode()).decode(), "image": "docker://" + image})
    try:
        ref = parse_image_name("docker://" + image)
    except InvalidReferenceError:
        assert "error" in go, image
        return
    try:
        policy = parse_policy(text)
    except PolicyError as exc:  # a dir scope that is not a path: c/image refuses it too
        assert "error" in go, f"c/image loads {text}, we refuse: {exc.message}"
        return
    assert "error" not in go, go
    chosen = requirements_for(policy, ref).requirements[0].to_json()
    theirs = go["requirements"][0]
    assert chosen.get("keyPath") == theirs.get("keyPath") and chosen["type"] == theirs["type"], (
        f"{image} with scopes {scopes}: we choose {chosen}, c/image {theirs}")


@pytest.fixture(scope="module")
def layout_tree(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``/…/root/srv/images/app`` (a directory), ``/…/root/link`` → ``srv``, nothing else."""
    root = tmp_path_factory.mktemp("scopes")
    (root / "srv" / "images" / "app").mkdir(parents=True)
    (root / "link").symlink_to("srv")
    return str(root)


@st.composite
def path_scope_cases(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """A dir:/oci: image under the tree (maybe through the symlink, maybe not yet existing), and path scopes."""
    transport = draw(st.sampled_from(["dir", "oci"]))
    via = draw(st.sampled_from(["srv", "link"]))
    leaf = draw(st.sampled_from(["images/app", "images/new", "images", "images/app/deeper"]))
    suffix = draw(st.sampled_from(["", ":tag", ":@0"])) if transport == "oci" else ""
    candidates = ["srv/images/app", "srv/images/new", "srv/images", "srv", "link/images", "link", "srv/images/app:tag",
                  "srv/images/app/deeper", "srv/image", "", "/"]
    scopes = draw(st.lists(st.sampled_from(candidates), unique=True, max_size=5))
    return transport, f"{via}/{leaf}{suffix}", scopes


@given(path_scope_cases())
@example(("oci", "srv/images/app:tag", ["srv/images/app:tag", "srv/images"]))
@example(("dir", "link/images/app", ["link/images", "srv/images"]))
def test_path_scope_selection_agrees_with_containers_image(oracle: Oracle, layout_tree: str,
                                                           case: tuple[str, str, list[str]]) -> None:
    transport, image, scopes = case

    def absolute(scope: str) -> str:
        return "" if scope == "" else "/" if scope == "/" else f"{layout_tree}/{scope}"

    sections = {absolute(scope): [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": f"/scope/{i}"}]
                for i, scope in enumerate(scopes)}
    text = json.dumps({"default": [{"type": "reject"}], "transports": {transport: sections}})
    name = f"{transport}:{layout_tree}/{image}"
    go = oracle.ask({"op": "scope", "data": base64.b64encode(text.encode()).decode(), "image": name})
    try:
        policy = parse_policy(text)
        ref = parse_image_name(name)
    except (PolicyError, InvalidReferenceError) as exc:
        assert "error" in go, f"c/image takes {name} with {text}, we refuse: {exc}"
        return
    if "error" in go and image.endswith(":@0"):
        # Known difference: oci:PATH:@N (a source by position) is the newest containers/image's
        # (oci/layout/oci_transport.go sourceIndex; trustcopy/transports/oci_layout.py); 5.23
        # reads "@0" as an image name and refuses it.
        assert go["error"] == "image: Invalid image @0"
        return
    assert "error" not in go, go
    chosen = requirements_for(policy, ref).requirements[0].to_json()
    assert chosen.get("keyPath") == go["requirements"][0].get("keyPath"), (
        f"{name} with scopes {scopes}: we choose {chosen}, c/image {go['requirements'][0]}")
