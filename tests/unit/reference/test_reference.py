"""Vectors for trustcopy.reference, carried over from the Go reference packages' tests.

Sources: containers/image docker/reference (reference_test.go TestReferenceParse,
TestParseNamed, TestWithTag, TestWithDigest; normalize_test.go TestValidateReferenceName,
TestValidateRemoteName, TestParseRepositoryInfo, TestNormalizedSplitHostname,
TestParseAnyReference, TestParseDockerRef) and the newest github.com/distribution/reference
(IPv4/IPv6 hosts; its upper-case-first-component-is-a-host rule is NOT followed, as
containers/image does not follow it). Go's TestReferenceParse exercises
the non-normalizing ``Parse``; here the same inputs go through ``parse_normalized_named``,
so their expectations are the normalized ones (a single component lands in docker.io/library).
"""

from __future__ import annotations

import json
import time
from typing import NamedTuple

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import InvalidReferenceError
from trustcopy.reference import (
    DEFAULT_DOMAIN,
    NAME_TOTAL_LENGTH_MAX,
    DockerReference,
    is_full_identifier,
    is_valid_domain,
    is_valid_tag,
    parse_named,
    parse_normalized_named,
    split_docker_domain,
    split_reference,
)

F64 = "sha256:" + "f" * 64
F128 = "sha512:" + "f" * 128
D_86E0 = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
D_DBCC = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
SONG = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"  # 64 chars, not hex


class Valid(NamedTuple):
    """An input and every form of the reference it must parse to."""

    input: str
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None
    familiar: str | None = None  # familiar_string(); defaults to the input


VALID: dict[str, Valid] = {
    # TestReferenceParse (normalized)
    "single-component-underscore": Valid("test_com", "docker.io", "library/test_com"),
    "dotted-single-component-is-name-with-tag": Valid("test.com:tag", "docker.io", "library/test.com", "tag"),
    "dotted-single-component-port-is-a-tag": Valid("test.com:5000", "docker.io", "library/test.com", "5000"),
    "domain-repo-tag": Valid("test.com/repo:tag", "test.com", "repo", "tag"),
    "host-port-repo": Valid("test:5000/repo", "test:5000", "repo"),
    "host-port-repo-tag": Valid("test:5000/repo:tag", "test:5000", "repo", "tag"),
    "host-port-repo-digest": Valid(f"test:5000/repo@{F64}", "test:5000", "repo", None, F64),
    "host-port-repo-tag-digest": Valid(f"test:5000/repo:tag@{F64}", "test:5000", "repo", "tag", F64),
    "uppercase-tag": Valid("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase"),
    "subdomain-deep-path": Valid("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux"),
    "subdomain-long-tag": Valid(
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag"
    ),
    "dotted-path-and-tag": Valid(
        "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com"
    ),
    "punycode-domain": Valid("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com"),
    "punycode-tag-sha512": Valid(
        f"xn--7o8h.com/myimage:xn--7o8h.com@{F128}", "xn--7o8h.com", "myimage", "xn--7o8h.com", F128
    ),
    "underscore-dotted-name-with-port-like-tag": Valid("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080"),
    "namespace-dotted-repo": Valid("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080"),
    "ipv4-alone-is-a-name": Valid("192.168.1.1", "docker.io", "library/192.168.1.1"),
    "ipv4-alone-with-tag": Valid("192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag"),
    "ipv4-alone-port-is-a-tag": Valid("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000"),
    "ipv4-host": Valid("192.168.1.1/repo", "192.168.1.1", "repo"),
    "ipv4-host-port": Valid("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo"),
    "ipv4-host-port-numeric-tag": Valid("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050"),
    "ipv6-host": Valid("[2001:db8::1]/repo", "[2001:db8::1]", "repo"),
    "ipv6-full-host-tag": Valid("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag"),
    "ipv6-host-port": Valid("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo"),
    "ipv6-host-port-tag": Valid("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"),
    "ipv6-host-port-digest": Valid(f"[2001:db8::1]:5000/repo@{F64}", "[2001:db8::1]:5000", "repo", None, F64),
    "ipv6-host-port-tag-digest": Valid(f"[2001:db8::1]:5000/repo:tag@{F64}", "[2001:db8::1]:5000", "repo", "tag", F64),
    "ipv6-trailing-colons": Valid("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo"),
    "ipv6-loopback": Valid("[::1]:5000/repo", "[::1]:5000", "repo"),
    "name-exactly-255": Valid("example.com/" + "a" * 243, "example.com", "a" * 243),
    # TestValidateReferenceName / TestValidateRemoteName
    "hub-namespace": Valid("docker/docker", "docker.io", "docker/docker"),
    "hub-library-explicit": Valid("library/debian", "docker.io", "library/debian", familiar="debian"),
    "hub-official": Valid("debian", "docker.io", "library/debian"),
    "localhost-library": Valid("localhost/library/debian", "localhost", "library/debian"),
    "localhost-single": Valid("localhost/debian", "localhost", "debian"),
    "docker-io-namespace": Valid("docker.io/docker/docker", "docker.io", "docker/docker", familiar="docker/docker"),
    "docker-io-library": Valid("docker.io/library/debian", "docker.io", "library/debian", familiar="debian"),
    "docker-io-official": Valid("docker.io/debian", "docker.io", "library/debian", familiar="debian"),
    "legacy-index-namespace": Valid(
        "index.docker.io/docker/docker", "docker.io", "docker/docker", familiar="docker/docker"
    ),
    "legacy-index-library": Valid("index.docker.io/library/debian", "docker.io", "library/debian", familiar="debian"),
    "legacy-index-official": Valid("index.docker.io/debian", "docker.io", "library/debian", familiar="debian"),
    "ipv4-port-namespace": Valid("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker"),
    "ipv4-port-library-kept": Valid("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian"),
    "ipv4-port-single-no-library": Valid("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian"),
    "ipv4-alone-port-80-is-a-tag": Valid("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80"),
    "ipv4-short-port": Valid("192.168.0.1:8/debian", "192.168.0.1:8", "debian"),
    "ipv4-long-port": Valid("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian"),
    "64-char-non-hex-name": Valid(SONG, "docker.io", f"library/{SONG}"),
    "ipv6-port-single": Valid("[fc00::1]:5000/docker", "[fc00::1]:5000", "docker"),
    "ipv6-port-namespace": Valid("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker"),
    "ipv6-eight-groups": Valid(
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian"
    ),
    "hex-name-with-domain": Valid(f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}", familiar=HEX64),
    "embedded-hyphen": Valid("docker-rules/docker", "docker.io", "docker-rules/docker"),
    "multiple-hyphens": Valid("docker---rules/docker", "docker.io", "docker---rules/docker"),
    "short-namespace": Valid("doc/docker", "docker.io", "doc/docker"),
    "one-letter-namespace": Valid("d/docker", "docker.io", "d/docker"),
    "one-letter-repo": Valid("jess/t", "docker.io", "jess/t"),
    "double-underscore": Valid("dock__er/docker", "docker.io", "dock__er/docker"),
    # TestParseRepositoryInfo / TestNormalizedSplitHostname
    "other-library-repo": Valid("other/library", "docker.io", "other/library"),
    "ipv4-port-two-components": Valid("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase"),
    "domain-port-single": Valid("example.com:8000/privatebasee", "example.com:8000", "privatebasee"),
    "library-nested-keeps-prefix": Valid("library/foo/bar", "docker.io", "library/foo/bar"),
    "docker-io-library-nested": Valid(
        "docker.io/library/foo/bar", "docker.io", "library/foo/bar", familiar="library/foo/bar"
    ),
    "dotted-official-name": Valid("ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base"),
    "hyphenated-host-port": Valid("test-com:8080/foo", "test-com:8080", "foo"),
    "punycode-host-port": Valid("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    # TestParseReferenceWithTagAndDigest / TestParseAnyReference
    "official-tag-and-digest": Valid(f"busybox:latest@{D_86E0}", "docker.io", "library/busybox", "latest", D_86E0),
    "official-digest": Valid(f"redis@{D_DBCC}", "docker.io", "library/redis", None, D_DBCC),
    "namespace-digest": Valid(f"dmcgowan/myapp@{D_DBCC}", "docker.io", "dmcgowan/myapp", None, D_DBCC),
    "canonical-namespace-tag": Valid(
        "docker.io/mcgowan/myapp:latest", "docker.io", "mcgowan/myapp", "latest", familiar="mcgowan/myapp:latest"
    ),
    "63-hex-is-a-name": Valid(HEX64[:63], "docker.io", f"library/{HEX64[:63]}"),
    "localhost-port-tag": Valid("localhost:5000/busybox:v1.0_RC-2", "localhost:5000", "busybox", "v1.0_RC-2"),
    "max-length-tag": Valid("busybox:" + "t" * 128, "docker.io", "library/busybox", "t" * 128),
}


@pytest.mark.parametrize("case", VALID.values(), ids=VALID.keys())
def test_valid_reference_parses_to_normalized_fields(case: Valid) -> None:
    ref = parse_normalized_named(case.input)
    suffix = (f":{case.tag}" if case.tag else "") + (f"@{case.digest}" if case.digest else "")
    assert (ref.domain, ref.path, ref.tag) == (case.domain, case.path, case.tag)
    assert ref.digest == (Digest.parse(case.digest) if case.digest else None)
    assert ref.name == f"{case.domain}/{case.path}"
    assert str(ref) == ref.name + suffix
    assert ref.familiar_string() == (case.familiar or case.input)
    assert ref.familiar_string() == ref.familiar_name() + suffix
    assert ref.is_name_only == (case.tag is None and case.digest is None)


@pytest.mark.parametrize("case", VALID.values(), ids=VALID.keys())
def test_every_spelling_round_trips(case: Valid) -> None:
    ref = parse_normalized_named(case.input)
    assert parse_normalized_named(str(ref)) == ref
    assert parse_named(str(ref)) == ref
    if is_full_identifier(ref.familiar_name()):
        # docker.io/library/<64 hex> displays as "<64 hex>", which is refused as an image ID (as in Go).
        with pytest.raises(InvalidReferenceError):
            parse_normalized_named(ref.familiar_string())
    else:
        assert parse_normalized_named(ref.familiar_string()) == ref
    assert hash(parse_normalized_named(str(ref))) == hash(ref)
    assert DockerReference(ref.domain, ref.path, ref.tag, ref.digest) == ref


class Invalid(NamedTuple):
    """An input, the error code it must raise, and a fragment naming the rule broken."""

    input: str
    code: str
    rule: str


NAME_MALFORMED = "repository name"
INVALID: dict[str, Invalid] = {
    # TestReferenceParse
    "empty": Invalid("", "invalid-reference", "empty"),
    "just-tag": Invalid(":justtag", "invalid-reference", NAME_MALFORMED),
    "just-digest": Invalid(f"@{F64}", "invalid-reference", NAME_MALFORMED),
    "digest-too-short-for-sha256": Invalid("repo@sha256:" + "f" * 34, "reference-digest-invalid", "64 hex"),
    "digest-unsupported-algorithm": Invalid(
        "validname@invaliddigest:" + "f" * 64, "reference-digest-invalid", "unsupported algorithm"
    ),
    "uppercase-first-component-is-not-host": Invalid(
        "Uppercase/lowercase:tag", "reference-name-uppercase", "lowercase"
    ),
    "uppercase-host-library": Invalid("LOCALDOMAIN/library/debian", "reference-name-uppercase", "lowercase"),
    "uppercase-host-single": Invalid("LOCALDOMAIN/debian", "reference-name-uppercase", "lowercase"),
    "all-caps-first-component-is-not-host": Invalid("DOCKER/docker", "reference-name-uppercase", "lowercase"),
    "capitalised-first-component-is-not-host": Invalid("Docker/docker", "reference-name-uppercase", "lowercase"),
    "uppercase-single-component": Invalid("Uppercase:tag", "reference-name-uppercase", "must be lowercase"),
    "uppercase-path-after-host": Invalid("test:5000/Uppercase/lowercase:tag", "reference-name-uppercase", "lowercase"),
    "name-over-255": Invalid("a/" * 128 + "a:tag", "reference-name-too-long", "255 characters"),
    # Go's Parse accepts this 255-character name with domain "a"; normalized it is docker.io/a/a/… (265).
    "255-name-too-long-once-normalized": Invalid(
        "a/" * 127 + "a:tag-puts-this-over-max", "reference-name-too-long", "has 265"
    ),
    # Newest distribution/reference only limits the path; we limit the whole name like containers/image.
    "path-255-plus-host-too-long": Invalid("example.com/" + "a" * 255 + ":tag", "reference-name-too-long", "has 267"),
    "name-256": Invalid("example.com/" + "a" * 244, "reference-name-too-long", "has 256"),
    "shell-characters": Invalid("aa/asdf$$^/aa", "invalid-reference", NAME_MALFORMED),
    "ipv6-alone": Invalid("[2001:db8::1]", "invalid-reference", NAME_MALFORMED),
    "ipv6-port-alone": Invalid("[2001:db8::1]:5000", "invalid-reference", NAME_MALFORMED),
    "ipv6-tag-alone": Invalid("[2001:db8::1]:tag", "invalid-reference", NAME_MALFORMED),
    "ipv6-zone-id": Invalid("[fe80::1%eth0]:5000/repo", "invalid-reference", NAME_MALFORMED),
    "ipv6-zone-with-at": Invalid("[fe80::1%@invalidzone]:5000/repo", "invalid-reference", "invalid reference format"),
    # TestValidateReferenceName / TestValidateRemoteName
    "url": Invalid("https://github.com/docker/docker", "invalid-reference", NAME_MALFORMED),
    "uppercase-repo": Invalid("docker/Docker", "reference-name-uppercase", '"docker/Docker" must be lowercase'),
    "leading-hyphen": Invalid("-docker", "invalid-reference", NAME_MALFORMED),
    "leading-hyphen-namespace": Invalid("-docker/docker", "invalid-reference", NAME_MALFORMED),
    "leading-hyphen-host": Invalid("-docker.io/docker/docker", "invalid-reference", NAME_MALFORMED),
    "triple-slash": Invalid("docker///docker", "invalid-reference", NAME_MALFORMED),
    "uppercase-repo-with-host": Invalid("docker.io/docker/Docker", "reference-name-uppercase", "lowercase"),
    "triple-slash-with-host": Invalid("docker.io/docker///docker", "invalid-reference", NAME_MALFORMED),
    "ipv6-single-alone": Invalid("[fc00::1]", "invalid-reference", NAME_MALFORMED),
    "ipv6-single-port-alone": Invalid("[fc00::1]:5000", "invalid-reference", NAME_MALFORMED),
    "ipv6-without-brackets": Invalid("fc00::1:5000/debian", "invalid-reference", NAME_MALFORMED),
    "ipv6-zone-id-eth0": Invalid("[fe80::1%eth0]:5000/debian", "invalid-reference", NAME_MALFORMED),
    "ipv4-mapped-ipv6": Invalid("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid-reference", NAME_MALFORMED),
    "64-hex-identifier": Invalid(HEX64, "reference-hex-identifier", "64-byte hexadecimal"),
    "trailing-hyphen-namespace": Invalid("docker-/docker", "invalid-reference", NAME_MALFORMED),
    "hyphens-both-ends": Invalid("-docker-/docker", "invalid-reference", NAME_MALFORMED),
    "only-underscores": Invalid("____/____", "invalid-reference", NAME_MALFORMED),
    "leading-underscores": Invalid("_docker/_docker", "invalid-reference", NAME_MALFORMED),
    "consecutive-periods": Invalid("dock..er/docker", "invalid-reference", NAME_MALFORMED),
    "underscore-period": Invalid("dock_.er/docker", "invalid-reference", NAME_MALFORMED),
    "hyphen-period": Invalid("dock-.er/docker", "invalid-reference", NAME_MALFORMED),
    "no-repository": Invalid("docker/", "invalid-reference", NAME_MALFORMED),
    "namespace-too-long": Invalid(
        "this_is_not_a_valid_namespace_because_its_length_is_greater_than_255_" * 4 + "x/docker",
        "reference-name-too-long",
        "255 characters",
    ),
    # TestInvalidReferenceComponents and tag/digest grammar
    "tag-leading-hyphen": Invalid("busybox:-foo", "invalid-reference", 'tag "-foo" is malformed'),
    "tag-leading-period": Invalid("busybox:.foo", "invalid-reference", 'tag ".foo" is malformed'),
    "tag-129-chars": Invalid("busybox:" + "t" * 129, "invalid-reference", "is malformed; a tag"),
    "empty-tag": Invalid("busybox:", "invalid-reference", 'tag "" is malformed'),
    "digest-not-hex": Invalid("busybox@sha256:xyz", "invalid-reference", 'digest "sha256:xyz" is malformed'),
    "digest-uppercase-hex": Invalid("busybox@sha256:" + "F" * 64, "reference-digest-invalid", "lower-case"),
    "two-digests": Invalid(f"busybox@{F64}@{F64}", "invalid-reference", "is malformed; a digest"),
    "digest-then-tag": Invalid(f"busybox@{F64}:tag", "invalid-reference", "invalid reference format"),
    # Go checks the lower-case rule on everything before the first ':', digest included.
    "uppercase-digest-algorithm-go-order": Invalid(
        f"busybox@SHA256:{'f' * 64}", "reference-name-uppercase", "lowercase"
    ),
    "uppercase-invalid-host-is-lowercase-error": Invalid("Foo_Bar/x", "reference-name-uppercase", "must be lowercase"),
    # Go returns a reference with an empty domain here; we refuse (see NOTE(go-diff) in reference.py).
    "underscore-in-host": Invalid("foo_bar.com/app", "invalid-reference", '"foo_bar.com" is not a valid registry host'),
    # Python-specific traps: "$" matches before a trailing newline, "\w" is Unicode.
    "trailing-newline": Invalid("busybox\n", "invalid-reference", NAME_MALFORMED),
    "trailing-newline-after-tag": Invalid("busybox:latest\n", "invalid-reference", 'tag "latest\\n"'),
    "trailing-newline-after-digest": Invalid(f"busybox@{F64}\n", "invalid-reference", "a digest is"),
    "unicode-tag": Invalid("busybox:lätest", "invalid-reference", "a tag is"),
    "unicode-digit-tag": Invalid("busybox:١٢٣", "invalid-reference", "a tag is"),
    "cyrillic-lowercase-name": Invalid("b\u0443\u0441ybox", "invalid-reference", '"b\\u0443\\u0441ybox" is malformed'),
    "cyrillic-uppercase-name": Invalid("\u0411usybox", "reference-name-uppercase", "lowercase"),
    "nul-byte": Invalid("busy\x00box", "invalid-reference", NAME_MALFORMED),
    "space": Invalid("busy box", "invalid-reference", NAME_MALFORMED),
    "transport-prefix": Invalid("docker://busybox", "invalid-reference", NAME_MALFORMED),
}


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
def test_invalid_reference_names_input_and_rule(case: Invalid) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_normalized_named(case.input)
    err = info.value
    assert err.code == case.code
    assert err.message.startswith(f"invalid reference {json.dumps(case.input)[:120]}")
    assert case.rule in err.message
    assert "\n" not in err.message
    assert err.context == {"reference": case.input}


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
def test_invalid_reference_rejected_by_parse_named(case: Invalid) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_named(case.input)
    assert info.value.code == case.code


PARSE_NAMED: dict[str, tuple[str, str | None]] = {
    # TestParseNamed: input -> domain when canonical, None when it must be rejected
    "domain-path": ("test.com/foo", "test.com"),
    "host-port-path": ("test:8080/foo", "test:8080"),
    "underscore-namespace-on-hub": ("test_com/foo", None),
    "dotted-single-component": ("test.com", None),
    "official-familiar": ("foo", None),
    "library-without-domain": ("library/foo", None),
    "full-official": ("docker.io/library/foo", "docker.io"),
    "hub-without-library": ("docker.io/foo", None),
    "legacy-index-domain": ("index.docker.io/library/foo", None),
    "full-with-tag-and-digest": (f"docker.io/library/foo:1@{F64}", "docker.io"),
    "ipv6-canonical": ("[::1]:5000/foo", "[::1]:5000"),
}


@pytest.mark.parametrize(("text", "domain"), PARSE_NAMED.values(), ids=PARSE_NAMED.keys())
def test_parse_named_requires_canonical_form(text: str, domain: str | None) -> None:
    if domain is not None:
        ref = parse_named(text)
        assert ref.domain == domain
        assert str(ref) == text
        return
    with pytest.raises(InvalidReferenceError) as info:
        parse_named(text)
    expected = str(parse_normalized_named(text))
    assert info.value.code == "reference-not-canonical"
    assert "must be canonical" in info.value.message
    assert expected in info.value.message
    assert info.value.hint is not None
    assert expected in info.value.hint


# TestParseRepositoryInfo: each group of spellings is one repository.
EQUIVALENT: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # id: (domain, path, familiar name, spellings)
    "hub-namespace": (
        "docker.io",
        "fooo/bar",
        "fooo/bar",
        ("fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"),
    ),
    "hub-official": ("docker.io", "library/ubuntu", "ubuntu", ("ubuntu", "docker.io/library/ubuntu", "library/ubuntu")),
    "hub-nonlibrary": ("docker.io", "nonlibrary/ubuntu", "nonlibrary/ubuntu", ("nonlibrary/ubuntu",)),
    "ipv4-host": ("127.0.0.1:8000", "privatebase", "127.0.0.1:8000/privatebase", ("127.0.0.1:8000/privatebase",)),
    "domain-two-components": (
        "example.com",
        "private/moonbase",
        "example.com/private/moonbase",
        ("example.com/private/moonbase",),
    ),
    "hub-dotted-official": (
        "docker.io",
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        ("ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "index.docker.io/library/ubuntu-12.04-base"),
    ),
    "hub-official-short": ("docker.io", "library/foo", "foo", ("foo", "docker.io/library/foo", "docker.io/foo")),
    "hub-store": ("docker.io", "store/foo/bar", "store/foo/bar", ("store/foo/bar", "docker.io/store/foo/bar")),
    "localhost": ("localhost", "fooo", "localhost/fooo", ("localhost/fooo",)),
    "uppercase-dotted-host": ("Example.COM", "fooo/bar", "Example.COM/fooo/bar", ("Example.COM/fooo/bar",)),
}


@pytest.mark.parametrize(("domain", "path", "familiar", "spellings"), EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_equivalent_spellings_parse_equal(domain: str, path: str, familiar: str, spellings: tuple[str, ...]) -> None:
    refs = {parse_normalized_named(s) for s in spellings}
    assert refs == {DockerReference(domain, path)}
    assert all(r.familiar_name() == familiar for r in refs)


SPLIT: dict[str, tuple[str, tuple[str, str]]] = {
    "official": ("foo", ("docker.io", "library/foo")),
    "official-with-tag": ("foo:1", ("docker.io", "library/foo:1")),
    "namespace": ("docker/migrator", ("docker.io", "docker/migrator")),
    "underscore-namespace": ("test_com/foo", ("docker.io", "test_com/foo")),
    "dotted-host": ("test.com/foo", ("test.com", "foo")),
    "host-port": ("test.com:8080/foo", ("test.com:8080", "foo")),
    "localhost": ("localhost/foo", ("localhost", "foo")),
    "uppercase-first-component-stays-on-hub": ("Docker/docker", ("docker.io", "Docker/docker")),
    "legacy-index": ("index.docker.io/foo", ("docker.io", "library/foo")),
    "hub-explicit-nested": ("docker.io/library/foo/bar", ("docker.io", "library/foo/bar")),
    "ipv6": ("[::1]:5000/foo", ("[::1]:5000", "foo")),
}


@pytest.mark.parametrize(("text", "expected"), SPLIT.values(), ids=SPLIT.keys())
def test_split_docker_domain(text: str, expected: tuple[str, str]) -> None:
    assert split_docker_domain(text) == expected


def test_with_tag_keeps_digest_and_validates() -> None:
    # TestWithTag / TestWithDigest / TestInvalidReferenceComponents
    ref = parse_normalized_named("test.com:8000/foo")
    digest = Digest.parse(F64)
    assert str(ref.with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    assert str(ref.with_digest(digest).with_tag("TAG5")) == f"test.com:8000/foo:TAG5@{F64}"
    assert str(ref.with_tag("latest").with_digest(digest)) == f"test.com:8000/foo:latest@{F64}"
    assert parse_normalized_named("foo").with_tag("tag2").familiar_string() == "foo:tag2"
    for bad in ("-foo", ".foo", "", "t" * 129, "lätest", "a/b", "a:b", "latest\n"):
        with pytest.raises(InvalidReferenceError) as info:
            ref.with_tag(bad)
        assert info.value.code == "reference-tag-invalid"
        assert json.dumps(bad) in info.value.message
    with pytest.raises(TypeError):
        ref.with_digest("sha256:" + "f" * 64)  # type: ignore[arg-type]


def test_trim_named_and_tag_name_only() -> None:
    # TestParseDockerRef's tag defaulting (TagNameOnly), without its tag+digest trimming.
    full = parse_normalized_named(f"gcr.io/library/busybox:latest@{F64}")
    assert str(full.trim_named()) == "gcr.io/library/busybox"
    assert full.trim_named().is_name_only
    assert full.tag_name_only() is full
    for text in ("busybox", "library/busybox", "docker.io/busybox", "docker.io/library/busybox"):
        assert str(parse_normalized_named(text).tag_name_only()) == "docker.io/library/busybox:latest"
    assert str(parse_normalized_named("busybox:1").tag_name_only()) == "docker.io/library/busybox:1"
    digested = parse_normalized_named(f"busybox@{F64}")
    assert digested.tag_name_only() == digested


@pytest.mark.parametrize(
    ("domain", "path", "tag"),
    [
        ("docker.io", "busybox", None),  # not normalized: missing library/
        ("index.docker.io", "library/busybox", None),  # legacy domain
        ("example", "foo", None),  # would parse back as docker.io/example/foo
        ("", "foo", None),
        ("example.com", "Foo", None),
        ("example.com", "foo/", None),
        ("example.com", "a" * 244, None),  # 256 characters
        ("example.com", "foo", "-bad"),
        ("example.com", "foo", "bad\n"),
    ],
    ids=[
        "hub-without-library",
        "legacy-domain",
        "host-not-recognisable",
        "empty-domain",
        "uppercase-path",
        "trailing-slash",
        "too-long",
        "bad-tag",
        "tag-newline",
    ],
)
def test_constructor_rejects_unnormalized_fields(domain: str, path: str, tag: str | None) -> None:
    with pytest.raises(ValueError):
        DockerReference(domain, path, tag)


def test_constructor_rejects_string_digest() -> None:
    with pytest.raises(TypeError):
        DockerReference("example.com", "foo", None, F64)  # type: ignore[arg-type]


def test_non_string_input_is_api_misuse() -> None:
    with pytest.raises(TypeError):
        parse_normalized_named(b"busybox")  # type: ignore[arg-type]


def test_long_input_is_truncated_in_message_but_kept_in_context() -> None:
    text = "a" * 5000 + "!"
    with pytest.raises(InvalidReferenceError) as info:
        parse_normalized_named(text)
    assert len(info.value.message) < 1000
    assert info.value.context["reference"] == text


@pytest.mark.parametrize(
    "text",
    [
        "a" * 50000 + "!",
        "a-" * 25000 + "!",
        "a." * 25000 + "!",
        "a_" * 25000 + "!",
        "a/" * 25000 + "!",
        "a-a" * 20000 + "_",
        "A" * 50000 + "/x!",
        "[" + "a:" * 25000,
        "x:" + "a" * 50000,
        "x@sha256:" + "a" * 50000 + "!",
        "ab.cd-" * 10000 + "/X",
    ],
    ids=lambda t: f"{t[:6]}…{len(t)}",
)
def test_adversarial_input_does_not_backtrack(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(InvalidReferenceError):
        parse_normalized_named(text)
    assert time.perf_counter() - start < 1.0


def test_helpers() -> None:
    assert is_valid_tag("v1.0_RC-2")
    assert not is_valid_tag("-x")
    assert not is_valid_tag("x\n")
    assert is_valid_domain("[::1]:5000")
    assert is_valid_domain("LOCALDOMAIN")
    assert not is_valid_domain("foo_bar.com")
    assert not is_valid_domain("example.com/")
    assert is_full_identifier(HEX64)
    assert not is_full_identifier(HEX64[:63])
    assert not is_full_identifier(HEX64 + "\n")
    assert NAME_TOTAL_LENGTH_MAX == 255
    assert DEFAULT_DOMAIN == "docker.io"


def test_name_split_without_the_name_pattern_is_what_the_name_pattern_gives() -> None:
    """reference._split_name replaces ``_NAME.fullmatch`` (one compile less per process, issue 14):
    same domain and path on every name built from the grammar's edge pieces, valid or not."""
    import itertools
    import random
    import re

    from trustcopy.reference import _NAME, _split_name

    pieces = ["a", "b1", "ex.com", "localhost", "local:5000", "ex.com:99999", "[::1]:5000", "[::1]", "A",
              "Ex.Com", "-x", "x-", "a_b", "a__b", "a___b", "a--b", "a.b", "x.", ".x", ":", "[", "]", "..",
              "_", "", "a:b", "1.2.3.4", "h-1.x-y.z", "[fe80::1]", "a b"]
    names = ["/".join(combo) for n in (1, 2, 3) for combo in itertools.product(pieces, repeat=n)]
    rng = random.Random(14)
    names += ["".join(rng.choice("ab.:/-_[]1A") for _ in range(rng.randint(1, 12))) for _ in range(20000)]
    pattern = re.compile(_NAME)
    for name in names:
        m = pattern.fullmatch(name)
        expected = (m["domain"], m["path"]) if m is not None and m["domain"] is not None else None
        domain, path = _split_name(name)
        assert (None if domain is None else (domain, path)) == expected, name


# -- Go reference.Parse: the parts as written (registries.conf aliases) --------------------------------

HEX = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
SPLIT_VECTORS = [  # distribution/reference TestReferenceParse: (input, domain, path, tag, digest)
    ("test_com", "", "test_com", None, None),
    ("test.com:tag", "", "test.com", "tag", None),
    ("test.com:5000", "", "test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    ("test:5000/repo", "test:5000", "repo", None, None),
    (f"test:5000/repo:tag@sha256:{HEX}", "test:5000", "repo", "tag", f"sha256:{HEX}"),
    ("lowercase:Uppercase", "", "lowercase", "Uppercase", None),
    ("foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", None),
    ("192.168.1.1:5000", "", "192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1", "repo", None, None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, None),
    ("[::1]:5000/repo:tag", "[::1]:5000", "repo", "tag", None),
    ("library/busybox", "library", "busybox", None, None),  # Go's "domain": not a registry
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), SPLIT_VECTORS, ids=[v[0] for v in SPLIT_VECTORS])
def test_split_reference_keeps_what_was_written(text: str, domain: str, path: str, tag: str | None,
                                               digest: str | None) -> None:
    assert split_reference(text) == (domain, path, tag, digest)


@pytest.mark.parametrize(("text", "code"), [
    ("", "invalid-reference"),
    (":justtag", "invalid-reference"),
    (f"@sha256:{HEX}", "invalid-reference"),
    ("repo@sha256:ffffffffffffffffffffffffffffffffff", "reference-digest-invalid"),  # too short for sha256
    ("Uppercase:tag", "reference-name-uppercase"),
    ("test:5000/Uppercase/lowercase:tag", "reference-name-uppercase"),
    ("a/" * 127 + "ab", "reference-name-too-long"),
    ("[2001:db8::1]:5000", "invalid-reference"),
    ("[fe80::1%eth0]:5000/repo", "invalid-reference"),
], ids=repr)
def test_split_reference_refuses_what_go_refuses(text: str, code: str) -> None:
    with pytest.raises(InvalidReferenceError) as exc:
        split_reference(text)
    assert exc.value.code == code
