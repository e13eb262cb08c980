"""Manifest lists: platform choice (containers/image semantics), instance updates, cloning.

Vectors: containers/image list_test.go TestChooseInstance (fixtures in go-image/) and
internal/pkg/platform WantedPlatforms; crafted lists checked against containers/image 5.23.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest import mediatypes as mt
from trustcopy.manifest.lists import ListUpdate, wanted_variants
from trustcopy.manifest.parse import DockerManifestList, ManifestList, OCIIndex, parse_manifest_list

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest"


def load(name: str) -> ManifestList:
    return parse_manifest_list((FIXTURES / name).read_bytes())


GO_CHOOSE = [
    ("go-image/schema2list.json", "amd64", "",
     "sha256:030fcb92e1487b18c974784dcc110a93147c9fc402188370fbfd17efabffc6af"),
    ("go-image/schema2list.json", "s390x", "",
     "sha256:e5aa1b0a24620228b75382997a0977f609b3ca3a95533dafdef84c74cc8df642"),
    ("go-image/schema2list.json", "arm", "v7",
     "sha256:b5dbad4bdb4444d919294afe49a095c23e86782f98cdf0aa286198ddb814b50b"),
    ("go-image/schema2list.json", "arm64", "",
     "sha256:dc472a59fb006797aa2a6bfb54cc9c57959bb0a6d11fadaa608df8c16dea39cf"),
    ("go-image/schema2list-variants.json", "amd64", "",
     "sha256:59eec8837a4d942cc19a52b8c09ea75121acc38114a2c68b98983ce9356b8610"),
    ("go-image/schema2list-variants.json", "arm", "v7",
     "sha256:f365626a556e58189fc21d099fc64603db0f440bff07f77c740989515c544a39"),
    ("go-image/schema2list-variants.json", "arm", "v6",
     "sha256:f365626a556e58189fc21d099fc64603db0f440bff07f77c740989515c544a39"),
    ("go-image/schema2list-variants.json", "arm", "v5",
     "sha256:c84b0a3a07b628bc4d62e5047d0f8dff80f7c00979e1e28a821a033ecda8fe53"),
    ("go-image/schema2list-variants.json", "arm", "",
     "sha256:c84b0a3a07b628bc4d62e5047d0f8dff80f7c00979e1e28a821a033ecda8fe53"),
    ("go-image/schema2list-variants.json", "arm", "unrecognized-present",
     "sha256:bcf9771c0b505e68c65440474179592ffdfa98790eb54ffbf129969c5e429990"),
    ("go-image/schema2list-variants.json", "arm", "unrecognized-not-present",
     "sha256:c84b0a3a07b628bc4d62e5047d0f8dff80f7c00979e1e28a821a033ecda8fe53"),
    ("go-image/oci1index.json", "amd64", "", "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"),
    ("go-image/oci1index.json", "ppc64le", "",
     "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"),
]


@pytest.mark.parametrize(("name", "arch", "variant", "expected"), GO_CHOOSE,
                         ids=[f"{n.split('/')[1]}-{a}-{v or 'none'}" for n, a, v, _ in GO_CHOOSE])
def test_go_choose_instance_vectors(name: str, arch: str, variant: str, expected: str) -> None:
    assert str(load(name).choose_instance("linux", arch, variant or None).digest) == expected


@pytest.mark.parametrize("name", ["go-image/schema2list.json", "go-image/schema2list-variants.json",
                                  "go-image/oci1index.json"])
def test_unmatched_platform_error_lists_what_is_offered(name: str) -> None:
    with pytest.raises(ManifestError) as info:
        load(name).choose_instance("linux", "unmatched")
    assert info.value.code == "manifest-platform-not-found"
    assert 'architecture unmatched, variant "", OS linux' in str(info.value)
    assert "linux/amd64" in str(info.value)


def test_os_must_match_too() -> None:
    with pytest.raises(ManifestError):
        load("go-image/oci1index.json").choose_instance("windows", "amd64")


@pytest.mark.parametrize(("arch", "variant", "expected"), [
    ("arm", "v7", ["v7", "v6", "v5", ""]),
    ("arm", "v8", ["v8", "v7", "v6", "v5", ""]),
    ("arm", None, ["", "v8", "v7", "v6", "v5"]),
    ("arm64", "v8", ["v8", ""]),
    ("arm64", None, ["", "v8"]),
    ("amd64", None, [""]),
    ("amd64", "v3", ["v3", ""]),
    ("arm", "unknown", ["unknown", ""]),
])
def test_wanted_variants_follow_containers_image(arch: str, variant: str | None, expected: list[str]) -> None:
    assert wanted_variants(arch, variant) == expected


def _index(entries: list[dict[str, Any]], *, docker: bool = False) -> bytes:
    doc: dict[str, Any] = {"schemaVersion": 2, "manifests": []}
    if docker:
        doc["mediaType"] = mt.DOCKER_V2_LIST
    for i, e in enumerate(entries):
        doc["manifests"].append({"mediaType": mt.OCI_MANIFEST if not docker else mt.DOCKER_V2S2,
                                 "digest": "sha256:" + f"{i:x}" * 64, "size": 10 + i, **e})
    return json.dumps(doc).encode()


def _hexchar(d: Digest) -> str:
    return d.hex[0]


def test_exact_variant_beats_compatible_and_no_variant() -> None:
    lst = parse_manifest_list(_index([{"platform": {"architecture": "arm", "os": "linux"}},
                                      {"platform": {"architecture": "arm", "os": "linux", "variant": "v6"}},
                                      {"platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}]))
    assert _hexchar(lst.choose_instance("linux", "arm", "v7").digest) == "2"
    assert _hexchar(lst.choose_instance("linux", "arm", "v8").digest) == "2"  # v8 runs v7
    assert _hexchar(lst.choose_instance("linux", "arm", "v6").digest) == "1"
    assert _hexchar(lst.choose_instance("linux", "arm", "v5").digest) == "0"  # v5 cannot run v6: plain arm
    assert _hexchar(lst.choose_instance("linux", "arm").digest) == "0"  # no variant wanted: plain entry first


def test_without_a_wanted_variant_the_most_capable_variant_wins_over_less_capable() -> None:
    lst = parse_manifest_list(_index([{"platform": {"architecture": "arm", "os": "linux", "variant": "v6"}},
                                      {"platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}]))
    assert _hexchar(lst.choose_instance("linux", "arm").digest) == "1"


def test_oci_index_falls_back_to_an_entry_without_platform() -> None:
    lst = parse_manifest_list(_index([{"platform": {"architecture": "s390x", "os": "linux"}}, {}, {}]))
    assert isinstance(lst, OCIIndex)
    assert _hexchar(lst.choose_instance("linux", "amd64").digest) == "1"
    assert _hexchar(lst.choose_instance("linux", "s390x").digest) == "0"


def test_instances_and_instance_lookup() -> None:
    lst = load("go-manifest/v2list.manifest.json")
    assert len(lst.instances()) == 5
    first = lst.instances()[0]
    assert lst.instance(first).size == 2094
    with pytest.raises(ManifestError) as info:
        lst.instance(Digest.from_bytes(b"nope"))
    assert info.value.code == "manifest-instance-unknown"


def test_docker_list_platform_details_are_kept() -> None:
    lst = load("go-manifest/v2list.manifest.json")
    assert isinstance(lst, DockerManifestList)
    amd = lst.manifests[1].platform
    assert amd is not None and amd.features == ("sse",)
    arm = lst.manifests[3].platform
    assert arm is not None and (arm.variant, str(arm)) == ("armv7", "linux/arm/armv7")


def test_with_instances_updates_digest_size_and_type() -> None:
    lst = load("go-manifest/v2list.manifest.json")
    old = lst.instances()[2]
    new = Digest.from_bytes(b"converted")
    updated = lst.with_instances({old: ListUpdate(new, 1234, mt.DOCKER_V2S2)})
    entry = updated.manifests[2]
    assert (entry.digest, entry.size, entry.media_type) == (new, 1234, mt.DOCKER_V2S2)
    assert entry.platform == lst.manifests[2].platform
    assert updated.manifests[0] == lst.manifests[0]
    assert updated.raw == updated.serialize()
    assert parse_manifest_list(updated.raw) == updated
    assert lst.instances()[2] == old  # the original is untouched


def test_with_instances_refuses_callers_bugs() -> None:
    lst = load("go-manifest/v2list.manifest.json")
    with pytest.raises(ValueError, match="not in the list"):
        lst.with_instances({Digest.from_bytes(b"x"): (Digest.from_bytes(b"y"), 1, mt.DOCKER_V2S2)})
    with pytest.raises(ValueError, match="invalid update"):
        lst.with_instances({lst.instances()[0]: (Digest.from_bytes(b"y"), -1, mt.DOCKER_V2S2)})
    with pytest.raises(ValueError, match="invalid update"):
        lst.with_instances({lst.instances()[0]: (Digest.from_bytes(b"y"), 1, "")})


def test_oci_clone_keeps_data_and_artifact_type_like_current_go() -> None:
    # containers/image OCI1IndexPublicClone (TestOCI1IndexCloneInternal) keeps every field;
    # 5.23 dropped entries' data and artifactType.
    raw = _index([{"data": "e30=", "artifactType": "application/x-thing", "annotations": {"b": "2", "a": "1"}}])
    lst = parse_manifest_list(raw)
    assert lst.manifests[0].data == b"{}"
    assert b'"data":"e30="' in lst.serialize()
    clone = lst.clone()
    assert clone.manifests[0].data == b"{}" and clone.manifests[0].artifact_type == "application/x-thing"
    assert clone.serialize() == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":'
        b'"application/vnd.oci.image.manifest.v1+json","digest":"sha256:' + b"0" * 64 + b'","size":10,'
        b'"annotations":{"a":"1","b":"2"},"data":"e30=","artifactType":"application/x-thing"}]}'
    )
    assert lst.with_instances({}).serialize() == clone.serialize()


def test_docker_clone_is_identical_to_reencoding() -> None:
    lst = load("go-manifest/v2list.manifest.json")
    assert lst.clone().serialize() == lst.serialize()
