"""containers/image's own reference and transport-name test vectors, restated (the ones no other test has).

Sources (newest containers/image, now containers/container-libs ``image/``):
docker/reference reference_test.go (TestReferenceParse, TestWithNameFailure, TestSplitHostname) and
regexp_test.go (TestDomainRegexp, TestFullNameRegexp, TestReferenceRegexp, TestIdentifierRegexp);
docker/docker_transport_test.go; transports/alltransports/alltransports_test.go;
directory/directory_transport_test.go; oci/layout/oci_transport_test.go; oci/internal/oci_util_test.go;
oci/archive/oci_transport_test.go; docker/archive/transport_test.go; docker/daemon/daemon_transport_test.go.

Go's ``reference.Parse`` is :func:`~trustcopy.reference.split_reference` (the parts as written); the regexp
tests go through the public functions built on those expressions. Vectors already in test_reference.py,
test_docker_policy_reference.py, test_transport_scope_vectors.py or tests/unit/transports are not repeated.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trustcopy.errors import InvalidReferenceError
from trustcopy.reference import is_full_identifier, is_valid_domain, parse_normalized_named, split_reference
from trustcopy.transports.alltransports import get_transport, parse_image_name
from trustcopy.transports.dir import TRANSPORT as DIR
from trustcopy.transports.docker.reference import TRANSPORT as DOCKER
from trustcopy.transports.docker.reference import new_reference
from trustcopy.transports.docker_archive import TRANSPORT as DOCKER_ARCHIVE
from trustcopy.transports.docker_daemon import TRANSPORT as DAEMON
from trustcopy.transports.oci_archive import TRANSPORT as OCI_ARCHIVE
from trustcopy.transports.oci_layout import TRANSPORT as OCI
from trustcopy.transports.oci_layout import parse_source_index

F64 = "f" * 64
H64 = "0123456789abcdef" * 4  # the transports' sha256digestHex
BE17 = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
UNKNOWN = "@@unknown-digest@@"


# -- docker/reference: Parse ---------------------------------------------------------------------------

# reference_test.go TestReferenceParse: (input, domain, path, tag, digest); Go's repository is domain/path.
PARSE_OK = [
    ("test_com", "", "test_com", None, None),
    ("test.com:tag", "", "test.com", "tag", None),
    ("test.com:5000", "", "test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    ("test:5000/repo", "test:5000", "repo", None, None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    (f"test:5000/repo@sha256:{F64}", "test:5000", "repo", None, f"sha256:{F64}"),
    (f"test:5000/repo:tag@sha256:{F64}", "test:5000", "repo", "tag", f"sha256:{F64}"),
    ("lowercase:Uppercase", "", "lowercase", "Uppercase", None),
    # 255 characters as written: Go's Parse takes "a" as the domain (normalized it is too long, see test_reference.py).
    ("a/" * 127 + "a:tag-puts-this-over-max", "a", "a/" * 126 + "a", "tag-puts-this-over-max", None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", None, None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com",
     None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{'f' * 128}", "xn--7o8h.com", "myimage", "xn--7o8h.com",
     f"sha512:{'f' * 128}"),
    ("foo_bar.com:8080", "", "foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", None),
    # TestSplitHostname (WithName + SplitHostname)
    ("test.com/foo", "test.com", "foo", None, None),
    ("test_com/foo", "", "test_com/foo", None, None),
    ("test:8080/foo", "test:8080", "foo", None, None),
    ("test.com:8080/foo", "test.com:8080", "foo", None, None),
    ("test-com:8080/foo", "test-com:8080", "foo", None, None),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", None, None),
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), PARSE_OK, ids=[c[0][:60] for c in PARSE_OK])
def test_parse_parts_as_written(text: str, domain: str, path: str, tag: str | None, digest: str | None) -> None:
    assert split_reference(text) == (domain, path, tag, digest)


# TestReferenceParse errors, and TestWithNameFailure (a name alone: all refused as references too).
PARSE_ERR = [
    ("", "invalid-reference"),
    (":justtag", "invalid-reference"),
    (f"@sha256:{F64}", "invalid-reference"),
    ("repo@sha256:" + "f" * 34, "reference-digest-invalid"),
    (f"validname@invaliddigest:{F64}", "reference-digest-invalid"),
    ("Uppercase:tag", "reference-name-uppercase"),
    ("test:5000/Uppercase/lowercase:tag", "reference-name-uppercase"),
    ("a/" * 128 + "a:tag", "reference-name-too-long"),
    ("aa/asdf$$^/aa", "invalid-reference"),
]


@pytest.mark.parametrize(("text", "code"), PARSE_ERR, ids=[c[0][:40] or "empty" for c in PARSE_ERR])
def test_parse_refuses(text: str, code: str) -> None:
    for parse in (split_reference, parse_normalized_named):
        with pytest.raises(InvalidReferenceError) as info:
            parse(text)
        assert info.value.code == code


# -- docker/reference: regexp_test.go -------------------------------------------------------------------

# TestDomainRegexp: host[:port] as a whole string.
DOMAINS = [
    ("test.com", True), ("test.com:10304", True), ("test.com:http", False), ("localhost", True),
    ("localhost:8080", True), ("a", True), ("a.b", True), ("ab.cd.com", True), ("a-b.com", True),
    ("-ab.com", False), ("ab-.com", False), ("ab.c-om", True), ("ab.-com", False), ("ab.com-", False),
    ("0101.com", True), ("001a.com", True), ("b.gbc.io:443", True), ("b.gbc.io", True), ("xn--n3h.com", True),
    ("Asdf.com", True),
]


@pytest.mark.parametrize(("text", "valid"), DOMAINS, ids=[d for d, _ in DOMAINS])
def test_domain_grammar(text: str, valid: bool) -> None:
    assert is_valid_domain(text) is valid


def _bare_name(text: str) -> tuple[str, str] | None:
    """(domain, path) when ``text`` is a repository name alone (Go anchoredNameRegexp), else None."""
    try:
        domain, path, tag, digest = split_reference(text)
    except InvalidReferenceError:
        return None
    return (domain, path) if tag is None and digest is None else None


# TestFullNameRegexp: (input, (domain, path)) or (input, None) when not a name.
NAMES: list[tuple[str, tuple[str, str] | None]] = [
    ("", None),
    ("short", ("", "short")),
    ("simple/name", ("simple", "name")),
    ("library/ubuntu", ("library", "ubuntu")),
    ("docker/stevvooe/app", ("docker", "stevvooe/app")),
    ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", ("aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb")),
    ("aa/aa/bb/bb/bb", ("aa", "aa/bb/bb/bb")),
    ("a/a/a/a", ("a", "a/a/a")),
    ("a/a/a/a/", None),
    ("a//a/a", None),
    ("a", ("", "a")),
    ("a/aa", ("a", "aa")),
    ("a/aa/a", ("a", "aa/a")),
    ("foo.com", ("", "foo.com")),
    ("foo.com/", None),
    ("foo.com:8080/bar", ("foo.com:8080", "bar")),
    ("foo.com:http/bar", None),
    ("foo.com/bar", ("foo.com", "bar")),
    ("foo.com/bar/baz", ("foo.com", "bar/baz")),
    ("localhost:8080/bar", ("localhost:8080", "bar")),
    ("sub-dom1.foo.com/bar/baz/quux", ("sub-dom1.foo.com", "bar/baz/quux")),
    ("blog.foo.com/bar/baz", ("blog.foo.com", "bar/baz")),
    ("a^a", None),
    ("aa/asdf$$^/aa", None),
    ("asdf$$^/aa", None),
    ("aa-a/a", ("aa-a", "a")),
    ("a-/a/a/a", None),
    ("foo.com/a-/a/a", None),
    ("-foo/bar", None),
    ("foo/bar-", None),
    ("foo-/bar", None),
    ("foo/-bar", None),
    ("_foo/bar", None),
    ("foo_bar", ("", "foo_bar")),
    ("foo_bar.com", ("", "foo_bar.com")),
    ("foo_bar.com:8080", None),  # a name and a tag, not a name
    ("foo_bar.com:8080/app", None),
    ("foo.com/foo_bar", ("foo.com", "foo_bar")),
    ("____/____", None),
    ("_docker/_docker", None),
    ("docker_/docker_", None),
    ("b.gcr.io/test.example.com/my-app", ("b.gcr.io", "test.example.com/my-app")),
    ("xn--n3h.com/myimage", ("xn--n3h.com", "myimage")),
    ("xn--7o8h.com/myimage", ("xn--7o8h.com", "myimage")),
    ("example.com/xn--7o8h.com/myimage", ("example.com", "xn--7o8h.com/myimage")),
    ("example.com/some_separator__underscore/myimage", ("example.com", "some_separator__underscore/myimage")),
    ("example.com/__underscore/myimage", None),
    ("example.com/..dots/myimage", None),
    ("example.com/.dots/myimage", None),
    ("example.com/nodouble..dots/myimage", None),
    ("docker./docker", None),
    (".docker/docker", None),
    ("docker-/docker", None),
    ("-docker/docker", None),
    ("do..cker/docker", None),
    ("do__cker:8080/docker", None),
    ("do__cker/docker", ("", "do__cker/docker")),
    ("registry.io/foo/project--id.module--name.ver---sion--name",
     ("registry.io", "foo/project--id.module--name.ver---sion--name")),
    ("Asdf.com/foo/bar", ("Asdf.com", "foo/bar")),
    ("Foo/FarB", None),
]


@pytest.mark.parametrize(("text", "parts"), NAMES, ids=[n or "empty" for n, _ in NAMES])
def test_full_name_grammar(text: str, parts: tuple[str, str] | None) -> None:
    assert _bare_name(text) == parts


def test_257_character_name_matches_the_grammar_but_is_too_long() -> None:
    # TestFullNameRegexp: strings.Repeat("a/", 128) + "a" matches the expression; Parse then refuses its length.
    with pytest.raises(InvalidReferenceError) as info:
        split_reference("a/" * 128 + "a")
    assert info.value.code == "reference-name-too-long"


# TestReferenceRegexp: (input, (name, tag, digest)) or (input, None).
REFERENCES: list[tuple[str, tuple[str, str | None, str | None] | None]] = [
    ("registry.com:8080/myapp:tag", ("registry.com:8080/myapp", "tag", None)),
    (f"registry.com:8080/myapp@{BE17}", ("registry.com:8080/myapp", None, BE17)),
    (f"registry.com:8080/myapp:tag2@{BE17}", ("registry.com:8080/myapp", "tag2", BE17)),
    ("registry.com:8080/myapp@sha256:badbadbadbad", None),
    ("registry.com:8080/myapp:invalid~tag", None),
    ("bad_hostname.com:8080/myapp:tag", None),
    (f"localhost:8080@{BE17}", ("localhost", "8080", BE17)),  # "localhost" is the name, 8080 the tag
    (f"localhost:8080/name@{BE17}", ("localhost:8080/name", None, BE17)),
    (f"localhost:http/name@{BE17}", None),
    (f"localhost@{BE17}", ("localhost", None, BE17)),
    ("registry.com:8080/myapp@bad", None),
    ("registry.com:8080/myapp@2bad", None),
]


@pytest.mark.parametrize(("text", "parts"), REFERENCES, ids=[r[:50] for r, _ in REFERENCES])
def test_reference_grammar(text: str, parts: tuple[str, str | None, str | None] | None) -> None:
    if parts is None:
        with pytest.raises(InvalidReferenceError):
            split_reference(text)
        return
    domain, path, tag, digest = split_reference(text)
    assert ("/".join(p for p in (domain, path) if p), tag, digest) == parts


@pytest.mark.parametrize(("text", "full"), [  # TestIdentifierRegexp (full identifiers)
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", True),
    ("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", False),
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", False),
    ("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", False),
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", False),
])
def test_full_identifier(text: str, full: bool) -> None:
    assert is_full_identifier(text) is full


# -- docker: ----------------------------------------------------------------------------------------------

# docker_transport_test.go testParseReference: (input, normalized reference or None, unknown digest)
DOCKER_PARSE = [
    ("busybox", None, False),  # missing "//"
    ("//busybox:notlatest", "docker.io/library/busybox:notlatest", False),
    (f"//busybox@sha256:{H64}", f"docker.io/library/busybox@sha256:{H64}", False),
    ("//busybox", "docker.io/library/busybox:latest", False),
    (f"//busybox:latest@sha256:{H64}", None, False),
    ("//docker.io/library/busybox:latest", "docker.io/library/busybox:latest", False),
    ("//UPPERCASEISINVALID", None, False),
    (f"//busybox{UNKNOWN}", "docker.io/library/busybox", True),
    (f"//example.com/ns/busybox{UNKNOWN}", "example.com/ns/busybox", True),
    (f"//example.com/ns/busybox:tag1{UNKNOWN}", None, False),
    (f"//example.com/ns/busybox@sha256:{H64}{UNKNOWN}", None, False),
]


@pytest.mark.parametrize(("text", "expected", "unknown"), DOCKER_PARSE, ids=[c[0][:50] for c in DOCKER_PARSE])
def test_docker_parse_reference(text: str, expected: str | None, unknown: bool) -> None:
    if expected is None:
        with pytest.raises(InvalidReferenceError):
            DOCKER.parse_reference(text)
        return
    ref = DOCKER.parse_reference(text)
    assert (str(ref.ref), ref.is_unknown_digest) == (expected, unknown)


# validReferenceTestCases: (input after "//", DockerReference, StringWithinTransport, unknown digest)
DOCKER_VALID = [
    ("busybox:notlatest", "docker.io/library/busybox:notlatest", "//busybox:notlatest", False),
    (f"busybox@sha256:{H64}", f"docker.io/library/busybox@sha256:{H64}", f"//busybox@sha256:{H64}", False),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "//busybox:latest", False),
    ("example.com/ns/foo:bar", "example.com/ns/foo:bar", "//example.com/ns/foo:bar", False),
    (f"example.com/ns/busybox{UNKNOWN}", "example.com/ns/busybox", f"//example.com/ns/busybox{UNKNOWN}", True),
    (f"busybox{UNKNOWN}", "docker.io/library/busybox", f"//busybox{UNKNOWN}", True),
]


@pytest.mark.parametrize(("text", "docker_ref", "within", "unknown"), DOCKER_VALID,
                         ids=[c[0][:40] for c in DOCKER_VALID])
def test_docker_reference_forms(text: str, docker_ref: str, within: str, unknown: bool) -> None:
    ref = DOCKER.parse_reference("//" + text)
    assert str(ref.docker_reference()) == docker_ref
    assert ref.string_within_transport() == within
    assert DOCKER.parse_reference(within).string_within_transport() == within
    # TestNewReference / TestNewReferenceUnknownDigest: each constructor takes only its own kind.
    named = parse_normalized_named(text.removesuffix(UNKNOWN))
    made = new_reference(named, unknown_digest=unknown)
    assert (str(made.ref), made.is_unknown_digest) == (docker_ref, unknown)
    with pytest.raises(InvalidReferenceError):
        new_reference(named, unknown_digest=not unknown)


# -- alltransports -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "busybox", ":busybox", "docker:"])  # TestParseImageName
def test_parse_image_name_refuses(name: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_image_name(name)


@pytest.mark.parametrize(("transport", "text", "roundtrip"), [  # TestImageNameHandling
    ("dir", "/etc", "/etc"),
    ("docker", "//busybox", "//busybox:latest"),
    ("docker", "//busybox:notlatest", "//busybox:notlatest"),
    ("docker-archive", "/var/lib/oci/busybox.tar:busybox:latest",
     "/var/lib/oci/busybox.tar:docker.io/library/busybox:latest"),
    ("docker-archive", "busybox.tar:busybox:latest", "busybox.tar:docker.io/library/busybox:latest"),
    ("oci", "/etc:someimage", "/etc:someimage"),
    ("oci", "/etc:someimage:mytag", "/etc:someimage:mytag"),
    ("oci-archive", "/etc:someimage", "/etc:someimage"),
    ("oci-archive", "/etc:someimage:mytag", "/etc:someimage:mytag"),
])
def test_image_name_round_trip(transport: str, text: str, roundtrip: str) -> None:
    ref = parse_image_name(f"{transport}:{text}")
    assert f"{ref.transport.name}:{ref.string_within_transport()}" == f"{transport}:{roundtrip}"
    assert str(ref) == f"{transport}:{roundtrip}"


def test_transport_lookup_by_name() -> None:
    # TestImageNameHandling's registered transports, TestTransportFromImageName's unknown one.
    assert get_transport("docker-daemon") is DAEMON
    assert get_transport("dir") is DIR
    assert get_transport("unknown") is None


# -- dir: ---------------------------------------------------------------------------------------------------

def test_dir_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # testNewReference: each path is kept as given; a missing parent is refused.
    monkeypatch.chdir(tmp_path)
    tmp = os.path.realpath(tmp_path)
    for path in ["/", "/etc", tmp, "relativepath", tmp + "/thisdoesnotexist"]:
        assert DIR.parse_reference(path).string_within_transport() == path
    with pytest.raises(InvalidReferenceError):
        DIR.parse_reference(tmp + "/thisparentdoesnotexist/something")
    # TestReferencePolicyConfigurationIdentity / Namespaces
    assert DIR.parse_reference(tmp + "/.").policy_configuration_identity() == tmp
    assert DIR.parse_reference(tmp).policy_configuration_namespaces()[0] == os.path.dirname(tmp)
    root = DIR.parse_reference("/")
    assert (root.policy_configuration_identity(), root.policy_configuration_namespaces()) == ("/", [])
    for path in ["/usr/share", "/usr/share/./."]:
        assert DIR.parse_reference(path).policy_configuration_namespaces() == ["/usr"]


# -- oci: and oci-archive: ----------------------------------------------------------------------------------

# testParseReference suffixes: (suffix, image, source index); oci-archive has no "@N" in containers/image.
OCI_SUFFIXES = [(":notlatest:image", "notlatest:image", -1), (":latestimage", "latestimage", -1), (":", "", -1),
                ("", "", -1), (":notlatest@1", "notlatest@1", -1)]  # the last from TestParseOCIReferenceName
OCI_INDEX_SUFFIXES = [(":@0", "", 0), (":@10", "", 10), (":@999999", "", 999999)]


@pytest.mark.parametrize("transport", [OCI, OCI_ARCHIVE], ids=["oci", "oci-archive"])
def test_oci_path_and_image(transport: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tmp = os.path.realpath(tmp_path)
    suffixes = OCI_SUFFIXES + (OCI_INDEX_SUFFIXES if transport is OCI else [])
    for path in ["/", "/etc", tmp, "relativepath", tmp + "/thisdoesnotexist"]:
        for suffix, image, index in suffixes:
            ref = transport.parse_reference(path + suffix)  # type: ignore[attr-defined]
            assert (ref.path, ref.image, ref.source_index) == (path, image, index), path + suffix
    for bad in [":invalid'image!value@", ":@-3", ":@-5", ":@invalidIndex", ":@"]:
        with pytest.raises(InvalidReferenceError):
            transport.parse_reference(tmp + bad)  # type: ignore[attr-defined]
    with pytest.raises(InvalidReferenceError):
        transport.parse_reference(tmp + "/thisparentdoesnotexist/something:imageValue")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "within"), [  # TestReferenceStringWithinTransport
    ("/dir1:notlatest:notlatest", "/dir1:notlatest:notlatest"),
    ("/dir3:", "/dir3:"),
    ("/dir4:@1", "/dir4:@1"),
])
def test_oci_string_within_transport(tmp_path: Path, text: str, within: str) -> None:
    ref = OCI.parse_reference(str(tmp_path) + text)
    assert ref.string_within_transport() == str(tmp_path) + within
    assert OCI.parse_reference(ref.string_within_transport()).string_within_transport() == str(tmp_path) + within


def test_oci_identity_ignores_image_and_index(tmp_path: Path) -> None:
    # TestReferencePolicyConfigurationIdentity / Namespaces
    tmp = os.path.realpath(tmp_path)
    for text in [f"{tmp}/.:image2", f"{tmp}/.:@1", f"{tmp}:imageValue"]:
        ref = OCI.parse_reference(text)
        assert ref.policy_configuration_identity() == tmp
        assert ref.policy_configuration_namespaces()[:2] == [tmp, os.path.dirname(tmp)]
    assert OCI.parse_reference("/:image3").policy_configuration_identity() == "/"
    assert OCI.parse_reference("/:@2").policy_configuration_identity() == "/"
    for path in ["/usr/share", "/usr/share/./."]:
        assert OCI.parse_reference(f"{path}:someimage").policy_configuration_namespaces() == ["/usr/share", "/usr"]


# The ":@N" index is read as Go's strconv.Atoi (newest oci/internal parseOCIReferenceName, docker/archive
# ParseReference): optional sign, ASCII digits, int64 range; negative refused.
SOURCE_INDEX = [
    ("0", 0), ("00", 0), ("999999", 999999), ("+5", 5), ("-0", 0), ("9223372036854775807", 2**63 - 1),
    ("0" * 30 + "7", 7),
    ("-1", -1), ("-3", -1), ("", -1), ("+", -1), ("x", -1), ("9223372036854775808", -1), ("1" * 5000, -1),
    ("\u00b2", -1), ("\u0663", -1), (" 5", -1), ("5 ", -1), ("5\n", -1), ("1_0", -1), ("0x1", -1), ("1:x", -1),
]


@pytest.mark.parametrize(("text", "index"), SOURCE_INDEX, ids=[repr(t[:24]) for t, _ in SOURCE_INDEX])
def test_source_index_is_go_atoi(tmp_path: Path, text: str, index: int) -> None:
    assert parse_source_index(text) == index
    for transport in (OCI, DOCKER_ARCHIVE):
        if index < 0:
            with pytest.raises(InvalidReferenceError):
                transport.parse_reference(f"{tmp_path}/x:@{text}")
        else:
            ref = transport.parse_reference(f"{tmp_path}/x:@{text}")
            assert ref.source_index == index
            assert ref.string_within_transport() == f"{tmp_path}/x:@{index}"


# -- docker-archive: ----------------------------------------------------------------------------------------

# testParseReference: (input, path, reference, source index); path None when refused.
ARCHIVE_PARSE: list[tuple[str, str | None, str | None, int]] = [
    ("", None, None, -1),
    ("/path", "/path", None, -1),
    ("/path:busybox:notlatest", "/path", "docker.io/library/busybox:notlatest", -1),
    (f"/path:busybox@sha256:{H64}", None, None, -1),
    ("/path:busybox", "/path", "docker.io/library/busybox:latest", -1),
    (f"/path:busybox:latest@sha256:{H64}", None, None, -1),
    ("/path:docker.io/library/busybox:latest", "/path", "docker.io/library/busybox:latest", -1),
    ("/path:UPPERCASEISINVALID", None, None, -1),
    ("/path:@", None, None, -1),
    ("/path:@0", "/path", None, 0),
    ("/path:@999999", "/path", None, 999999),
    ("/path:@-2", None, None, -1),
    ("/path:@-1", None, None, -1),
    ("/path:busybox@0", None, None, -1),
    ("/path:@0:busybox", None, None, -1),
    ("/path:", None, None, -1),  # Go parses "" as a reference: refused
]


@pytest.mark.parametrize(("text", "path", "tag", "index"), ARCHIVE_PARSE, ids=[repr(c[0][:50]) for c in ARCHIVE_PARSE])
def test_docker_archive_parse_reference(text: str, path: str | None, tag: str | None, index: int) -> None:
    if path is None:
        with pytest.raises(InvalidReferenceError):
            DOCKER_ARCHIVE.parse_reference(text)
        return
    ref = DOCKER_ARCHIVE.parse_reference(text)
    assert (ref.path, None if ref.tag is None else str(ref.tag), ref.source_index) == (path, tag, index)


@pytest.mark.parametrize(("text", "docker_ref", "index", "within"), [  # validReferenceTestCases
    ("/pathonly", None, -1, "/pathonly"),
    ("/path:busybox:notlatest", "docker.io/library/busybox:notlatest", -1, "/path:docker.io/library/busybox:notlatest"),
    ("/path:docker.io/library/busybox:latest", "docker.io/library/busybox:latest", -1,
     "/path:docker.io/library/busybox:latest"),
    ("/path:example.com/ns/foo:bar", "example.com/ns/foo:bar", -1, "/path:example.com/ns/foo:bar"),
    ("/path:@0", None, 0, "/path:@0"),
    ("/path:@999999", None, 999999, "/path:@999999"),
])
def test_docker_archive_reference_forms(text: str, docker_ref: str | None, index: int, within: str) -> None:
    ref = DOCKER_ARCHIVE.parse_reference(text)
    assert ref.string_within_transport() == within
    assert DOCKER_ARCHIVE.parse_reference(within).string_within_transport() == within
    assert (None if ref.docker_reference() is None else str(ref.docker_reference())) == docker_ref
    assert ref.source_index == index
    assert ref.policy_configuration_identity() == ""
    assert ref.policy_configuration_namespaces() == []


def test_docker_archive_refuses_every_scope_even_the_empty_one() -> None:
    with pytest.raises(ValueError):
        DOCKER_ARCHIVE.validate_policy_configuration_scope("")


# -- docker-daemon: -----------------------------------------------------------------------------------------

# testParseReference: (input, image ID, reference); both None when refused.
DAEMON_PARSE: list[tuple[str, str | None, str | None]] = [
    (f"sha256:{H64}", f"sha256:{H64}", None),
    (f"sha512:{H64}{H64}", None, None),
    ("sha256:ab", None, None),
    (f"sha256:{H64}ab", None, None),
    ("sha256:XX" + H64[2:], None, None),
    ("UPPERCASEISINVALID", None, None),
    ("busybox", None, None),
    ("busybox:latest", None, "docker.io/library/busybox:latest"),
    (f"busybox@sha256:{H64}", None, f"docker.io/library/busybox@sha256:{H64}"),
    (f"busybox:latest@sha256:{H64}", None, None),
    ("", None, None),
    ("docker.io/library/busybox:latest", None, "docker.io/library/busybox:latest"),
]


@pytest.mark.parametrize(("text", "image_id", "name"), DAEMON_PARSE, ids=[repr(c[0][:40]) for c in DAEMON_PARSE])
def test_docker_daemon_parse_reference(text: str, image_id: str | None, name: str | None) -> None:
    if image_id is None and name is None:
        with pytest.raises(InvalidReferenceError):
            DAEMON.parse_reference(text)
        return
    ref = DAEMON.parse_reference(text)
    assert (None if ref.image_id is None else str(ref.image_id), None if ref.ref is None else str(ref.ref)) == (
        image_id, name)


@pytest.mark.parametrize(("text", "docker_ref", "within"), [  # validNamedReferenceTestCases
    ("busybox:notlatest", "docker.io/library/busybox:notlatest", "busybox:notlatest"),
    # Go's case concatenates "busybox" and "sha256:…" without "@": a name "busyboxsha256" with a hex tag.
    (f"busyboxsha256:{H64}", f"docker.io/library/busyboxsha256:{H64}", f"busyboxsha256:{H64}"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("example.com/ns/foo:bar", "example.com/ns/foo:bar", "example.com/ns/foo:bar"),
])
def test_docker_daemon_named_forms(text: str, docker_ref: str, within: str) -> None:
    ref = DAEMON.parse_reference(text)
    assert str(ref.docker_reference()) == docker_ref
    assert ref.string_within_transport() == within
    assert DAEMON.parse_reference(within).string_within_transport() == within


def test_docker_daemon_scopes() -> None:
    # TestTransportValidatePolicyConfigurationScope: bare 64-hex is a possible host name; "sha256:…" is not.
    for scope in [f"registry.example.com/ns/stream@sha256:{H64}", "registry.example.com/ns/stream:notlatest",
                  "registry.example.com/ns/stream", "registry.example.com/ns", "registry.example.com",
                  "*.example.com", "*.com", H64]:
        DAEMON.validate_policy_configuration_scope(scope)
    with pytest.raises(ValueError):
        DAEMON.validate_policy_configuration_scope(f"sha256:{H64}")
    ref = DAEMON.parse_reference("busybox:notlatest")
    assert ref.policy_configuration_identity() == "docker.io/library/busybox:notlatest"
    assert ref.policy_configuration_namespaces() == ["docker.io/library/busybox", "docker.io/library", "docker.io",
                                                     "*.io"]
