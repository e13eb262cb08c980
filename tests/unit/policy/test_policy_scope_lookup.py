"""Scope lookup: the most specific scope of the image's transport wins, else "", else default.

The docker rows are containers/image's TestPolicyContextRequirementsForImageRef table (as
data), extended with digests, ports, wildcards, normalization, and the path transports.
Each scope holds a distinct requirement so that the test can tell which one was chosen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_fakes import FakeRef

from trustcopy.policy import Policy, requirements_for
from trustcopy.policy.identity import ExactRepository
from trustcopy.policy.requirements import Reject, SignedBy
from trustcopy.transports.alltransports import parse_image_name

D = "sha256:" + "0123456789abcdef" * 4


def _req(tag: str) -> SignedBy:
    """A requirement unique to ``tag`` (the key path carries it)."""
    return SignedBy(key_path=f"/keys/{tag}", signed_identity=ExactRepository("example.com/x"))


DOCKER_SCOPES = [
    "", "deep.com", "*.very.deep.com", "*.deep.com", "deep.com/n1", "deep.com/n1/n2", "deep.com/n1/n2/n3",
    "deep.com/n1/n2/n3/repo", "deep.com/n1/n2/n3/repo:tag2", f"deep.com/n1/n2/n3/repo@{D}",
    "example.com:5000", "example.com:5000/ns", "*.com", "docker.io/library", "docker.io/library/busybox:1.36",
    "docker.io", "localhost", "localhost:5000/app",
]


def _policy(tmp: Path | None = None) -> Policy:
    transports: dict[str, dict[str, tuple[SignedBy, ...]]] = {
        "docker": {s: (_req(f"docker|{s}"),) for s in DOCKER_SCOPES},
        "atomic": {"unmatched.example.com": (_req("atomic|unmatched"),)},
    }
    if tmp is not None:
        transports["dir"] = {
            str(tmp / "a"): (_req("dir|a"),),
            str(tmp / "a" / "b" / "img"): (_req("dir|img"),),
        }
        transports["oci"] = {
            "": (_req("oci|"),),
            str(tmp / "layouts"): (_req("oci|layouts"),),
            str(tmp / "layouts" / "one"): (_req("oci|one"),),
        }
    return Policy(default=(Reject(),), transports=transports)


def _chosen(policy: Policy, ref: object) -> str:
    reqs = requirements_for(policy, ref).requirements  # type: ignore[arg-type]
    if isinstance(reqs[0], Reject):
        return "default"
    key_path = reqs[0].key_path  # type: ignore[attr-defined]
    return key_path.removeprefix("/keys/")


DOCKER_CASES = [
    # c/i: full match
    ("deep.com/n1/n2/n3/repo:tag2", "docker|deep.com/n1/n2/n3/repo:tag2"),
    # c/i: namespace matches
    ("deep.com/n1/n2/n3/repo:nottag2", "docker|deep.com/n1/n2/n3/repo"),
    ("deep.com/n1/n2/n3/notrepo:tag2", "docker|deep.com/n1/n2/n3"),
    ("deep.com/n1/n2/notn3/repo:tag2", "docker|deep.com/n1/n2"),
    ("deep.com/n1/notn2/n3/repo:tag2", "docker|deep.com/n1"),
    # c/i: host name match
    ("deep.com/notn1/n2/n3/repo:tag2", "docker|deep.com"),
    # c/i: sub-domain matches
    ("very.deep.com/n1/n2/n3/repo:tag2", "docker|*.deep.com"),
    ("not.very.deep.com/n1/n2/n3/repo:tag2", "docker|*.very.deep.com"),
    # c/i: transport default
    ("this.does-not/match:anything", "docker|"),
    # digest identities are their own scopes; a tag scope does not cover the digest
    (f"deep.com/n1/n2/n3/repo@{D}", f"docker|deep.com/n1/n2/n3/repo@{D}"),
    ("deep.com/n1/n2/n3/repo@sha256:" + "f" * 64, "docker|deep.com/n1/n2/n3/repo"),
    # a name without tag is looked up as :latest
    ("deep.com/n1/n2/n3/repo", "docker|deep.com/n1/n2/n3/repo"),
    # ports: host:port scopes, and wildcards strip the port
    ("example.com:5000/ns/app:1", "docker|example.com:5000/ns"),
    ("example.com:5000/other/app:1", "docker|example.com:5000"),
    ("example.com:6000/ns/app:1", "docker|*.com"),
    ("example.com/ns/app:1", "docker|*.com"),
    ("sub.example.com:5000/ns/app:1", "docker|*.com"),
    # the wildcard needs a dot boundary: "xdeep.com" is not under "*.deep.com"
    ("xdeep.com/n1/repo:1", "docker|*.com"),
    # Docker Hub normalization: busybox is docker.io/library/busybox
    ("busybox:1.36", "docker|docker.io/library/busybox:1.36"),
    ("library/busybox:1.36", "docker|docker.io/library/busybox:1.36"),
    ("index.docker.io/library/busybox:1.36", "docker|docker.io/library/busybox:1.36"),
    ("busybox:latest", "docker|docker.io/library"),
    ("alpine", "docker|docker.io/library"),
    ("someone/app:1", "docker|docker.io"),
    # localhost
    ("localhost/app:1", "docker|localhost"),
    ("localhost:5000/app:1", "docker|localhost:5000/app"),
    ("localhost:5001/app:1", "docker|"),
    # a scope for one repository does not cover a repository whose name merely starts with it
    ("deep.com/n1/n2/n3/repository:tag2", "docker|deep.com/n1/n2/n3"),
    ("deep.com/n1x/n2:1", "docker|deep.com"),
]


@pytest.mark.parametrize(("image", "expected"), DOCKER_CASES, ids=[c[0] for c in DOCKER_CASES])
def test_docker_most_specific_scope_wins(image: str, expected: str) -> None:
    assert _chosen(_policy(), parse_image_name("docker://" + image)) == expected


@pytest.mark.parametrize(
    ("transport", "image", "expected"),
    [
        # c/i: a transport with a section but no match and no "" falls back to the global default.
        ("atomic", "this.does-not/match:anything", "default"),
        ("atomic", "unmatched.example.com/ns/x:1", "atomic|unmatched"),
        # c/i: no section at all for the transport
        ("dir-like-unknown", "what/ever:1", "default"),
        # another transport's scopes are never consulted
        ("docker-daemon", "deep.com/n1/n2/n3/repo:tag2", "default"),
    ],
)
def test_other_transports_use_only_their_own_section(transport: str, image: str, expected: str) -> None:
    assert _chosen(_policy(), FakeRef(image, transport=transport)) == expected


def test_reference_without_identity_uses_transport_default() -> None:
    policy = Policy(default=(Reject(),), transports={"tarball": {"": (_req("tarball|"),)}})
    ref = FakeRef(None, transport="tarball", identity="", namespaces=[])
    assert _chosen(policy, ref) == "tarball|"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    for sub in ("a/b/img", "a/c", "layouts/one", "layouts/two", "elsewhere"):
        (root / sub).mkdir(parents=True)
    (root / "link").symlink_to(root / "a" / "b")
    return root


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("dir:{t}/a/b/img", "dir|img"),
        ("dir:{t}/a/b/img/", "dir|img"),
        ("dir:{t}/a/b/other", "dir|a"),
        ("dir:{t}/a/c", "dir|a"),
        ("dir:{t}/a", "dir|a"),
        ("dir:{t}/elsewhere", "default"),
        # symlinks are resolved before lookup
        ("dir:{t}/link/img", "dir|img"),
        ("dir:{t}/a/../a/b/img", "dir|img"),
        # the image name in oci: is not part of the identity
        ("oci:{t}/layouts/one:v1", "oci|one"),
        ("oci:{t}/layouts/one", "oci|one"),
        ("oci:{t}/layouts/one:@0", "oci|one"),
        ("oci:{t}/layouts/two:v1", "oci|layouts"),
        ("oci:{t}/elsewhere:v1", "oci|"),
    ],
)
def test_path_transports_match_directory_and_parents(tree: Path, image: str, expected: str) -> None:
    ref = parse_image_name(image.format(t=tree))
    assert _chosen(_policy(tree), ref) == expected


def test_relative_dir_reference_is_resolved(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree / "a" / "b")
    assert _chosen(_policy(tree), parse_image_name("dir:img")) == "dir|img"


def test_match_records_overridden_general_scopes() -> None:
    match = requirements_for(_policy(), parse_image_name("docker://deep.com/n1/n2/x:1"))
    assert match.scope == "deep.com/n1/n2"
    assert match.kind == "namespace"
    assert match.overridden == (
        'transports.docker["deep.com/n1"]',
        'transports.docker["deep.com"]',
        'transports.docker["*.com"]',
        'transports.docker[""]',
        "default",
    )
    assert match.tried[0] == "deep.com/n1/n2/x:1"
    assert match.tried[-1] == ""


def test_default_match_overrides_nothing() -> None:
    match = requirements_for(_policy(), FakeRef("x.io/a:1", transport="unknown"))
    assert (match.scope, match.kind, match.overridden, match.label) == (None, "global-default", (), "default")


def test_identity_match_kind_and_label() -> None:
    match = requirements_for(_policy(), parse_image_name("docker://busybox:1.36"))
    assert match.kind == "identity"
    assert match.label == 'transports.docker["docker.io/library/busybox:1.36"]'
