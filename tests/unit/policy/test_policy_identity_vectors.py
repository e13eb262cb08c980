"""signedIdentity matchers, driven by containers/image's policy_reference_match_test vectors.

The tables are c/i's data (not code): symmetric tables run in both directions, and the
matchRepoDigestOrExact / remapIdentity tables are bounded by the other two ("accepts
everything matchExact accepts, rejects everything matchRepository rejects").
"""

from __future__ import annotations

import pytest
from policy_fakes import FakeRef

from trustcopy.errors import InvalidReferenceError
from trustcopy.policy.identity import (
    ExactReference,
    ExactRepository,
    IdentityMatcher,
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    RemapIdentity,
    repo_digest_or_exact_match,
)
from trustcopy.policy.model import PolicySpecError
from trustcopy.reference import parse_normalized_named

FULL_RHEL = "registry.access.redhat.com/rhel7/rhel:7.2.3"
UNTAGGED_RHEL = "registry.access.redhat.com/rhel7/rhel"
D = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
D_OTHER = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

# (refA, refB, result): exact reference match, symmetric.
EXACT_TABLE = [
    ("busybox:latest", "busybox:latest", True),
    (FULL_RHEL, FULL_RHEL, True),
    ("busybox" + D, "busybox" + D, True),
    ("library/busybox:latest", "busybox:latest", True),
    ("docker.io/library/busybox:latest", "busybox:latest", True),
    ("library/busybox" + D, "busybox" + D, True),
    ("busybox:latest", "busybox:notlatest", False),
    ("busybox:latest", "notbusybox:latest", False),
    ("busybox:latest", "hostname/library/busybox:notlatest", False),
    ("hostname/library/busybox:latest", "busybox:notlatest", False),
    ("busybox:latest", FULL_RHEL, False),
    ("busybox" + D, "notbusybox" + D, False),
    ("busybox:latest", "busybox" + D, False),
    ("busybox" + D, "busybox" + D_OTHER, False),
    ("busybox", "busybox:latest", False),
    ("busybox", "busybox" + D, False),
    ("busybox", "busybox", False),
    ("busybox:latest" + D, "busybox:latest" + D, True),
    ("busybox:latest" + D, "busybox:latest" + D_OTHER, False),
    ("busybox:latest" + D, "busybox:notlatest" + D, False),
    ("busybox:latest" + D, "busybox" + D, False),
    ("busybox:latest" + D, "busybox:latest", False),
    ("UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", "busybox:latest", False),
    ("", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", False),
    ("INVALID", "INVALID", False),
]

# Repository-only match, symmetric.
REPO_TABLE = [
    ("busybox:latest", "busybox:latest", True),
    (FULL_RHEL, FULL_RHEL, True),
    ("busybox" + D, "busybox" + D, True),
    ("library/busybox:latest", "busybox:latest", True),
    ("docker.io/library/busybox:latest", "busybox:latest", True),
    ("library/busybox" + D, "busybox" + D, True),
    ("busybox:latest", "busybox:notlatest", True),
    (FULL_RHEL + "tagsuffix", FULL_RHEL, True),
    ("library/busybox:latest", "busybox:notlatest", True),
    ("busybox:latest", "library/busybox:notlatest", True),
    ("docker.io/library/busybox:notlatest", "busybox:latest", True),
    ("busybox:notlatest", "docker.io/library/busybox:latest", True),
    ("busybox:latest", "busybox" + D, True),
    ("busybox" + D, "busybox" + D_OTHER, True),
    ("busybox", "busybox:notlatest", True),
    (FULL_RHEL, UNTAGGED_RHEL, True),
    ("busybox", "busybox" + D, True),
    ("library/busybox", "busybox", True),
    ("docker.io/library/busybox", "busybox", True),
    ("busybox:latest", "notbusybox:latest", False),
    ("hostname/library/busybox:latest", "busybox:notlatest", False),
    ("busybox:latest", FULL_RHEL, False),
    ("busybox" + D, "notbusybox" + D, False),
    ("busybox:latest" + D, "busybox:latest" + D, True),
    ("busybox:latest" + D, "busybox:latest" + D_OTHER, True),
    ("busybox:latest" + D, "busybox:notlatest" + D, True),
    ("busybox:latest" + D, "busybox" + D, True),
    ("busybox:latest" + D, "busybox:latest", True),
    ("UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", "busybox:latest", False),
    ("", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", False),
    ("INVALID", "INVALID", False),
]

# matchRepoDigestOrExact, asymmetric: (image, signature, result).
MRDOE_TABLE = [
    ("busybox:latest", "busybox:notlatest", False),
    (FULL_RHEL + "tagsuffix", FULL_RHEL, False),
    ("library/busybox:latest", "busybox:notlatest", False),
    ("busybox:latest", "library/busybox:notlatest", False),
    ("docker.io/library/busybox:notlatest", "busybox:latest", False),
    ("busybox:notlatest", "docker.io/library/busybox:latest", False),
    ("busybox", "busybox:latest", False),
    ("busybox:latest", "busybox", False),
    ("busybox", "busybox" + D, False),
    ("busybox" + D, "busybox", False),
    (FULL_RHEL, UNTAGGED_RHEL, False),
    ("busybox", "busybox", False),
    ("busybox:latest", "busybox" + D, False),
    ("busybox" + D, "busybox:latest", True),
    ("busybox" + D, "busybox" + D_OTHER, True),
    ("busybox:latest" + D, "busybox:latest", False),
    ("busybox:latest" + D, "busybox:notlatest", False),
    ("busybox:latest", "busybox:latest" + D, False),
    ("busybox:latest" + D, "busybox:latest" + D_OTHER, False),
    ("busybox:latest" + D, "busybox:notlatest" + D_OTHER, False),
]


def _valid(ref: str) -> bool:
    try:
        parse_normalized_named(ref)
    except InvalidReferenceError:
        return False
    return True


def _both_ways(table: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    return [*table, *((b, a, r) for a, b, r in table)]


def _image_cases(table: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """Directions whose image side is a valid reference (an invalid one cannot exist)."""
    return [c for c in _both_ways(table) if _valid(c[0])]


def _ids(cases: list[tuple[str, str, bool]]) -> list[str]:
    return [f"{a or '<empty>'}~{b or '<empty>'}->{r}" for a, b, r in cases]


def _check(matcher: IdentityMatcher, image: str, signed: str, expected: bool) -> None:
    result = matcher.matches(FakeRef(image), signed)
    assert result.ok is expected, result.reason
    assert result.reason


EXACT_CASES = _image_cases(EXACT_TABLE)
REPO_CASES = _image_cases(REPO_TABLE)


@pytest.mark.parametrize(("image", "signed", "expected"), EXACT_CASES, ids=_ids(EXACT_CASES))
def test_match_exact_vectors(image: str, signed: str, expected: bool) -> None:
    _check(MatchExact(), image, signed, expected)


@pytest.mark.parametrize(("image", "signed", "expected"), REPO_CASES, ids=_ids(REPO_CASES))
def test_match_repository_vectors(image: str, signed: str, expected: bool) -> None:
    _check(MatchRepository(), image, signed, expected)


MRDOE_BOUNDED = [c for c in EXACT_CASES if c[2]] + [c for c in REPO_CASES if not c[2]] + MRDOE_TABLE


@pytest.mark.parametrize(("image", "signed", "expected"), MRDOE_BOUNDED, ids=_ids(MRDOE_BOUNDED))
def test_match_repo_digest_or_exact_vectors(image: str, signed: str, expected: bool) -> None:
    _check(MatchRepoDigestOrExact(), image, signed, expected)


def _exact_reference(ref: str) -> ExactReference | None:
    try:
        return ExactReference(ref)
    except PolicySpecError:
        return None


@pytest.mark.parametrize(("fixed", "signed", "expected"), _both_ways(EXACT_TABLE), ids=_ids(_both_ways(EXACT_TABLE)))
def test_exact_reference_vectors(fixed: str, signed: str, expected: bool) -> None:
    matcher = _exact_reference(fixed)
    if matcher is None:  # invalid or name-only: refused when the policy is loaded
        assert not expected
        return
    result = matcher.matches(FakeRef(None), signed)  # the image's own reference is irrelevant
    assert result.ok is expected, result.reason


@pytest.mark.parametrize(("fixed", "signed", "expected"), _both_ways(REPO_TABLE), ids=_ids(_both_ways(REPO_TABLE)))
def test_exact_repository_vectors(fixed: str, signed: str, expected: bool) -> None:
    try:
        matcher = ExactRepository(fixed)
    except PolicySpecError:
        assert not expected
        return
    assert matcher.matches(FakeRef(None), signed).ok is expected


@pytest.mark.parametrize("matcher", [MatchExact(), MatchRepoDigestOrExact(), MatchRepository(),
                                     RemapIdentity("docker.io", "docker.io")], ids=lambda m: m.type_name)
@pytest.mark.parametrize("signed", ["", "busybox:latest"])
def test_image_without_docker_identity_never_matches(matcher: IdentityMatcher, signed: str) -> None:
    result = matcher.matches(FakeRef(None, transport="dir", name="/srv/img"), signed)
    assert not result.ok
    assert "no known Docker reference identity" in result.reason
    assert "exactReference or exactRepository" in result.reason


def test_exact_matchers_work_for_images_without_docker_identity() -> None:
    ref = FakeRef(None, transport="dir", name="/srv/img")
    assert ExactReference("quay.io/ns/app:1").matches(ref, "quay.io/ns/app:1").ok
    assert ExactRepository("quay.io/ns/app").matches(ref, "quay.io/ns/app:2").ok


@pytest.mark.parametrize(
    ("ref", "prefix", "expected"),
    [
        ("docker.io/image", "docker.io", True),
        ("docker.io/image", "example.com", False),
        ("example.com:5000/image", "example.com:5000", True),
        ("example.com:50000/image", "example.com:5000", False),
        ("example.com:5000/image", "example.com", False),
        ("example.com/foo", "example.com", True),
        ("example.com/foo/bar", "example.com", True),
        ("example.com/foo/bar:baz", "example.com", True),
        ("example.com/foo/bar" + D, "example.com", True),
        ("docker.io/ns/image", "docker.io/library", False),
        ("example.com/library", "docker.io/library", False),
        ("docker.io/libraryy/image", "docker.io/library", False),
        ("docker.io/library/busybox", "docker.io/library", True),
        ("example.com/ns/image", "example.com/ns", True),
        ("example.com/ns2/image", "example.com/ns", False),
        ("example.com/n2/image", "example.com/ns", False),
        ("example.com", "example.com/library/busybox", False),
        ("example.com:5000/ns/image", "example.com/ns", False),
        ("example.com/ns/image", "example.com:5000/ns", False),
        ("docker.io/library/busybox", "docker.io/library/busybox", True),
        ("example.com/library/busybox", "docker.io/library/busybox", False),
        ("docker.io/library/busybox2", "docker.io/library/busybox", False),
        ("example.com/ns/image", "example.com/ns/image", True),
        ("example.com/ns/imag2", "example.com/ns/image", False),
        ("example.com/ns/imagee", "example.com/ns/image", False),
        ("example.com:5000/ns/image", "example.com/ns/image", False),
        ("example.com/ns/image", "example.com:5000/ns/image", False),
        ("example.com/ns/image:tag", "example.com/ns/image", True),
        ("example.com/ns/image" + D, "example.com/ns/image", True),
        ("example.com/ns/image:tag" + D, "example.com/ns/image", True),
    ],
)
def test_remap_prefix_requires_slash_boundary(ref: str, prefix: str, expected: bool) -> None:
    matcher = RemapIdentity(prefix, "docker.io/library/signed-prefix")
    assert matcher.applies_to(parse_normalized_named(ref)) is expected


@pytest.mark.parametrize(
    ("prefix", "signed_prefix", "ref", "expected"),
    [
        ("mirror.example", "vendor.example", "mirror.example/ns/image:tag", "vendor.example/ns/image:tag"),
        ("mirror.example", "vendor.example", "different.com/ns/image:tag", "different.com/ns/image:tag"),
        ("mirror.example/ns", "vendor.example/vendor-ns", "mirror.example/different-ns/image:tag",
         "mirror.example/different-ns/image:tag"),
        ("docker.io", "not-docker-signed.example/ns", "busybox", "not-docker-signed.example/ns/library/busybox"),
        ("example.com/mirror", "example.com/vendor", "example.com/mirror/image:tag", "example.com/vendor/image:tag"),
        ("example.com/ns/mirror", "example.com/ns/vendor", "example.com/ns/mirror:tag", "example.com/ns/vendor:tag"),
        ("mirror.example", "vendor.example", "prefixmirror.example/ns/image:tag", "prefixmirror.example/ns/image:tag"),
        ("docker.io", "not-docker-signed.example", "busybox", "not-docker-signed.example/library/busybox"),
        ("docker.io/library", "not-docker-signed.example/ns", "busybox", "not-docker-signed.example/ns/busybox"),
        ("docker.io/library/busybox", "not-docker-signed.example/ns/notbusybox", "busybox",
         "not-docker-signed.example/ns/notbusybox"),
        ("mirror.example", "vendor.example", "mirror.example/image", "vendor.example/image"),
        ("mirror.example", "vendor.example", "mirror.example/image:tag", "vendor.example/image:tag"),
        ("mirror.example", "vendor.example", "mirror.example/image" + D, "vendor.example/image" + D),
        ("mirror.example", "vendor.example", "mirror.example/image:tag" + D, "vendor.example/image:tag" + D),
        # Rewrites producing something invalid, or a short name implying docker.io, fail.
        ("mirror.example/ns/image", "vendor.example:5000", "mirror.example/ns/image:tag", None),
        ("mirror.example/ns/image", "vendor.example:5000", "mirror.example/ns/image" + D, None),
        ("mirror.example/ns/image", "notlocalhost", "mirror.example/ns/image:tag", None),
    ],
)
def test_remap_rewrites_only_matching_prefix(prefix: str, signed_prefix: str, ref: str, expected: str | None) -> None:
    parsed = parse_normalized_named(ref)
    if expected is None and signed_prefix == "notlocalhost":
        # c/i accepts this prefix and fails at match time; we refuse it when loading.
        with pytest.raises(PolicySpecError, match="not a registry host"):
            RemapIdentity(prefix, signed_prefix)
        return
    matcher = RemapIdentity(prefix, signed_prefix)
    if expected is None:
        with pytest.raises(InvalidReferenceError):
            matcher.remap(parsed)
        assert not matcher.matches(FakeRef(ref), ref).ok
    else:
        assert str(matcher.remap(parsed)) == expected


@pytest.mark.parametrize(
    ("prefix", "signed_prefix", "image", "signed", "expected"),
    [
        ("does-not-match.com", "does-not-match.rewritten", "busybox:latest", "busybox:latest", True),
        ("does-not-match.com", "does-not-match.rewritten", "busybox:latest", "notbusybox:latest", False),
        ("mirror.example", "public.com", "mirror.example/busybox:1", "public.com/busybox:1", True),
        ("mirror.example", "public.com", "mirror.example/busybox:1", "public.com/busybox:not1", False),
        ("mirror.example", "docker.io/library", "mirror.example/busybox:latest", "busybox:latest", True),
        ("mirror.example", "docker.io/library", "mirror.example/alpine:latest", "busybox:latest", False),
        ("docker.io/library", "original.com", "copied:latest", "original.com/copied:latest", True),
        ("docker.io/library", "original.com", "copied:latest", "original.com/ns/copied:latest", False),
        # The mirror's own identity is no longer accepted once remapped.
        ("mirror.example", "public.com", "mirror.example/busybox:1", "mirror.example/busybox:1", False),
        # A digest reference accepts any tag of the remapped repository.
        ("mirror.example", "public.com", "mirror.example/busybox" + D, "public.com/busybox:1", True),
        ("mirror.example", "public.com", "mirror.example/busybox" + D, "mirror.example/busybox:1", False),
    ],
)
def test_remap_identity_matches(prefix: str, signed_prefix: str, image: str, signed: str, expected: bool) -> None:
    assert RemapIdentity(prefix, signed_prefix).matches(FakeRef(image), signed).ok is expected


def _modified(text: str) -> str:
    first = text[0]
    return ("a" if first == "z" else chr(ord(first) + 1)) + text[1:]


@pytest.mark.parametrize(("image", "signed", "expected"), MRDOE_BOUNDED, ids=_ids(MRDOE_BOUNDED))
def test_remap_identity_otherwise_behaves_like_repo_digest_or_exact(image: str, signed: str, expected: bool) -> None:
    no_rewrite = RemapIdentity("never-causes-a-rewrite.example", "never-causes-a-rewrite.example")
    assert no_rewrite.matches(FakeRef(image), signed).ok is expected
    parsed = parse_normalized_named(image)
    rewriting = RemapIdentity(_modified(parsed.domain), parsed.domain)
    moved = str(parse_normalized_named(_modified(str(parsed))))
    assert rewriting.matches(FakeRef(moved), signed).ok is expected


@pytest.mark.parametrize(
    ("prefix", "valid"),
    [
        ("docker.io", True), ("example.com:5000", True), ("localhost", True), ("docker.io/library", True),
        ("example.com/ns/repo", True), ("[::1]:5000/ns", True), ("Upper.example.com", True),
        ("registry", False), ("index.docker.io", False), ("busybox/x", False), ("ns/shortname", False),
        ("", False), ("example.com/ns/repo:tag", False),
        ("example.com/ns/repo" + D, False), ("example.com/UPPER", False), ("*.example.com", False),
        ("example.com/", False), ("https://example.com", False),
    ],
)
def test_remap_prefix_validation(prefix: str, valid: bool) -> None:
    if valid:
        RemapIdentity(prefix, "example.com")
        RemapIdentity("example.com", prefix)
    else:
        with pytest.raises(PolicySpecError) as exc:
            RemapIdentity(prefix, "example.com")
        assert exc.value.path == ("prefix",)
        with pytest.raises(PolicySpecError) as exc:
            RemapIdentity("example.com", prefix)
        assert exc.value.path == ("signedPrefix",)


def test_remap_prefix_that_could_never_match_is_refused_unlike_ci() -> None:
    # c/i accepts "registry" and "ns/shortname"; no normalized name starts with them.
    assert parse_normalized_named("registry/x:1").name == "docker.io/registry/x"
    with pytest.raises(PolicySpecError, match="not a registry host name"):
        RemapIdentity("registry", "example.com")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("busybox", "neither a tag nor a digest"), ("", "invalid format"), ("UPPER:1", "invalid format"),
     ("a" * 64, "invalid format")],
)
def test_exact_reference_refuses_name_only_or_invalid(value: str, fragment: str) -> None:
    with pytest.raises(PolicySpecError, match=fragment) as exc:
        ExactReference(value)
    assert exc.value.path == ("dockerReference",)


def test_signature_claiming_tag_does_not_match_digest_only_signature_for_tagged_image() -> None:
    result = repo_digest_or_exact_match(parse_normalized_named("busybox:1"), parse_normalized_named("busybox" + D))
    assert not result.ok


def test_signature_with_unparseable_identity_is_rejected_with_reason() -> None:
    result = MatchRepository().matches(FakeRef("busybox:latest"), "not a reference!")
    assert not result.ok
    assert "not a valid Docker reference" in result.reason


def test_non_string_identity_in_constructors_is_refused() -> None:
    with pytest.raises(PolicySpecError):
        ExactRepository(1)  # type: ignore[arg-type]
    with pytest.raises(PolicySpecError):
        RemapIdentity(None, "x.io")  # type: ignore[arg-type]
