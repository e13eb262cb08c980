"""registries.conf in the docker transport, with skopeo 1.9.3 on the same files: mirrors, location, insecure, blocked.

Two real registries: ``A`` is the one users name (the logical reference), ``B`` serves as its
mirror or as its rewritten location. Every pull runs with both tools and must end the same
way (the same image, or a refusal). Signatures of a pull through a mirror are read from the
store registries.d gives the *mirror's* reference, as containers/image reads them, while the
policy judges the *logical* name.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gpghelpers import GPGHome
from imagefactory import example_image
from registry_fixtures import RegistryServer
from registry_signing import FPR, TOOLS, Env, oci_source, signature_files, signed_by_policy

from trustcopy.digest import Digest

pytestmark = [pytest.mark.registry, pytest.mark.skopeo, pytest.mark.gpg]

IMAGE = example_image()


@pytest.fixture
def env(tmp_path: Path, example_home: GPGHome) -> Env:
    return Env(tmp_path, example_home)


def push_signed(env: Env, host: str, name: str, identity: str) -> None:
    """Push IMAGE to ``host/name`` with trustcopy, signed for ``identity`` (into the store registries.d gives host)."""
    r = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, "--sign-identity", identity,
                oci_source(env.tmp, IMAGE, name.replace("/", "-").replace(":", "-")), f"docker://{host}/{name}")
    assert r.returncode == 0, r.stderr


def pull_with_both(env: Env, image: str, policy: Path | None = None, *flags: str) -> dict[str, tuple[int, bytes, str]]:
    """Pull ``image`` into dir: with each tool: {tool: (exit status, manifest written or b"", stderr)}."""
    out = {}
    for tool in TOOLS:
        target = env.tmp / f"pulled-{tool}-{len(list(env.tmp.glob('pulled-*')))}"
        r = env.run(tool, "copy", "-q", *flags, image, f"dir:{target}", policy=policy)
        manifest = target / "manifest.json"
        out[tool] = (r.returncode, manifest.read_bytes() if manifest.exists() else b"", r.stderr)
    return out


def conf(env: Env, text: str) -> None:
    env.conf.write_text(text)


def mirrored(a: str, b: str, *, pull_from_mirror: str = "all", insecure: bool = True) -> str:
    return (f'[[registry]]\nprefix = "{a}"\nlocation = "{a}"\ninsecure = {str(insecure).lower()}\n'
            f'[[registry.mirror]]\nlocation = "{b}"\ninsecure = {str(insecure).lower()}\n'
            f'pull-from-mirror = "{pull_from_mirror}"\n')


# -- mirrors -----------------------------------------------------------------------------------------------------


def test_pull_through_a_mirror_reads_the_mirrors_signatures(env: Env, plain_registry: RegistryServer,
                                                            second_plain_registry: RegistryServer) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    store_a = env.store("store-a", a)
    store_b = env.store("store-b", b)
    push_signed(env, b, "ns/app:1", f"{a}/ns/app:1")  # only the mirror has the image and its signature
    assert signature_files(store_a) == [] and len(signature_files(store_b)) == 1
    conf(env, mirrored(a, b))
    policy = signed_by_policy(env.tmp / "policy.json", f"{a}/ns")
    # no --tls-verify flag: registries.conf's insecure lets both tools use plain HTTP
    results = pull_with_both(env, f"docker://{a}/ns/app:1", policy)
    assert {tool: r[:2] for tool, r in results.items()} == {"skopeo": (0, IMAGE.manifest),
                                                            "trustcopy": (0, IMAGE.manifest)}, results

    # the logical registry's own store does not count: the signature moved there is not found by either tool
    hexd = Digest.parse(IMAGE.digest).hex
    (store_a / "ns").mkdir(parents=True)
    (store_b / "ns" / f"app@sha256={hexd}").rename(store_a / "ns" / f"app@sha256={hexd}")
    results = pull_with_both(env, f"docker://{a}/ns/app:1", policy)
    assert [r[0] for r in results.values()] == [1, 1], results
    assert "reason NO_SIGNATURES" in results["trustcopy"][2]


def test_mirror_without_the_image_falls_back_to_the_primary(env: Env, plain_registry: RegistryServer,
                                                            second_plain_registry: RegistryServer) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    env.store("store-a", a)
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    conf(env, mirrored(a, b))
    results = pull_with_both(env, f"docker://{a}/ns/app:1", signed_by_policy(env.tmp / "p.json", f"{a}/ns"))
    assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results


def test_all_endpoints_failing_names_the_mirrors(env: Env, plain_registry: RegistryServer,
                                                 second_plain_registry: RegistryServer) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    conf(env, mirrored(a, b))
    results = pull_with_both(env, f"docker://{a}/ns/missing:1")
    # a missing image exits 2 as in newer skopeo (isNotFoundImageError); 1.9.3 exits 1
    assert (results["trustcopy"][0], results["skopeo"][0]) == (2, 1)
    err = results["trustcopy"][2]
    assert "error[image-not-found]" in err and "mirrors also failed" in err
    assert f"{b}/ns/missing:1" in err and f"{a}/ns/missing:1" in err


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_digest_only_mirror_serves_only_digest_pulls(env: Env, plain_registry: RegistryServer,
                                                      second_plain_registry: RegistryServer, reference: str) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    env.store("store-b", b)
    push_signed(env, b, "ns/app:1", f"{a}/ns/app:1")
    conf(env, mirrored(a, b, pull_from_mirror="digest-only"))
    image = f"docker://{a}/ns/app:1" if reference == "tag" else f"docker://{a}/ns/app@{IMAGE.digest}"
    results = pull_with_both(env, image)
    if reference == "tag":  # a tag pull goes to A, which lacks it: newer skopeo's exit 2 (1.9.3: 1)
        assert (results["trustcopy"][:2], results["skopeo"][:2]) == ((2, b""), (1, b"")), results
    else:
        assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results


def test_location_rewriting(env: Env, plain_registry: RegistryServer, second_plain_registry: RegistryServer) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    env.store("store-b", b)
    push_signed(env, b, "moved/app:1", f"{a}/ns/app:1")
    conf(env, f'[[registry]]\nprefix = "{a}/ns"\nlocation = "{b}/moved"\ninsecure = true\n')
    results = pull_with_both(env, f"docker://{a}/ns/app:1", signed_by_policy(env.tmp / "p.json", f"{a}/ns"))
    assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results


# -- insecure ----------------------------------------------------------------------------------------------------


def test_insecure_allows_plain_http_and_an_explicit_tls_verify_wins(env: Env, plain_registry: RegistryServer) -> None:
    a = plain_registry.host
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    # no entry: both tools insist on HTTPS, which a plain-HTTP registry cannot speak
    results = pull_with_both(env, f"docker://{a}/ns/app:1")
    assert [r[0] for r in results.values()] == [1, 1]
    conf(env, f'[[registry]]\nlocation = "{a}"\ninsecure = true\n')
    results = pull_with_both(env, f"docker://{a}/ns/app:1")
    assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results
    # --src-tls-verify=true given explicitly overrides the entry, in both tools
    results = pull_with_both(env, f"docker://{a}/ns/app:1", None, "--src-tls-verify=true")
    assert [r[0] for r in results.values()] == [1, 1]


# -- blocked -----------------------------------------------------------------------------------------------------


def test_blocked_registry_refuses_pulls_and_pushes(env: Env, plain_registry: RegistryServer) -> None:
    a = plain_registry.host
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    conf(env, f'[[registry]]\nlocation = "{a}"\nblocked = true\n')
    results = pull_with_both(env, f"docker://{a}/ns/app:1", None, "--src-tls-verify=false")
    assert [r[:2] for r in results.values()] == [(1, b"")] * 2, results
    err = results["trustcopy"][2]
    assert "error[registry-blocked]" in err and f'prefix "{a}"' in err and str(env.conf) in err

    r = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", oci_source(env.tmp, IMAGE, "x"),
                f"docker://{a}/ns/pushed:1")
    assert r.returncode == 1 and "error[registry-blocked]" in r.stderr and str(env.conf) in r.stderr
    assert httpx.get(f"http://{a}/v2/_catalog").json()["repositories"] == ["ns/app"]  # nothing pushed
    for command in (["inspect", "--tls-verify=false"], ["delete", "--tls-verify=false"]):
        r = env.run("trustcopy", *command, f"docker://{a}/ns/app:1")
        assert r.returncode == 1 and "error[registry-blocked]" in r.stderr, command
    r = env.run("trustcopy", "list-tags", "--tls-verify=false", f"docker://{a}/ns/app")
    assert r.returncode == 1 and "error[registry-blocked]" in r.stderr


def test_containers_registries_conf_names_the_file_as_the_flag_does(env: Env, plain_registry: RegistryServer) -> None:
    """trustcopy reads $CONTAINERS_REGISTRIES_CONF as podman and buildah do (containers/image's
    pkg/cli/environment); skopeo 1.9.3 does not call that code and ignores the variable."""
    a = plain_registry.host
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    conf(env, f'[[registry]]\nlocation = "{a}"\nblocked = true\n')
    variable = {"CONTAINERS_REGISTRIES_CONF": str(env.conf)}
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{a}/ns/app:1", f"dir:{env.tmp}/out",
                conf=False, env=variable)
    assert r.returncode == 1 and "error[registry-blocked]" in r.stderr and str(env.conf) in r.stderr
    assert not (env.tmp / "out").exists()
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{a}/ns/app:1", f"dir:{env.tmp}/ok",
                conf=False)  # without it: the usual files, which do not block the registry
    assert r.returncode == 0, r.stderr
    r = env.run("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{a}/ns/app:1", f"dir:{env.tmp}/sk",
                conf=False, env=variable)
    assert r.returncode == 0, r.stderr  # the documented difference (docs/registries.md)


def test_blocked_primary_is_still_pulled_through_its_mirror(env: Env, plain_registry: RegistryServer,
                                                            second_plain_registry: RegistryServer) -> None:
    """As containers/image: "blocked" is decided per endpoint, by the entry matching the physical reference."""
    a, b = plain_registry.host, second_plain_registry.host
    push_signed(env, b, "ns/app:1", f"{a}/ns/app:1")
    conf(env, mirrored(a, b).replace("insecure = true\n[[registry.mirror]]", "blocked = true\n[[registry.mirror]]", 1))
    results = pull_with_both(env, f"docker://{a}/ns/app:1")
    assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results


# -- registries.d lookaside URLs, checked when an endpoint is opened -----------------------------------------------


@pytest.mark.parametrize("url", ["file:///tmp/x%zz", "http://h/x%"])
def test_an_unusable_lookaside_url_fails_inspect_and_copy_naming_the_file(env: Env, plain_registry: RegistryServer,
                                                                          url: str) -> None:
    """containers/image works the lookaside store out when it opens an endpoint: even ``inspect``,
    which reads no signature, fails on a URL Go's url.Parse refuses."""
    a = plain_registry.host
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    env.registries_d({a: {"lookaside": url}})
    for command in (["inspect", "--tls-verify=false"], ["copy", "-q", "--src-tls-verify=false"]):
        results = {tool: env.run(tool, *command, f"docker://{a}/ns/app:1",
                                 *([f"dir:{env.tmp}/out-{tool}"] if command[0] == "copy" else []), conf=False)
                   for tool in TOOLS}
        assert [r.returncode for r in results.values()] == [1, 1], results
        err = results["trustcopy"].stderr
        assert "error[lookaside-url-invalid]" in err and "invalid URL escape" in err, err
        assert f"{env.regd}/test.yaml" in err, err
        assert not (env.tmp / "out-trustcopy").exists()


def test_a_mirror_whose_lookaside_url_is_unusable_is_skipped(env: Env, plain_registry: RegistryServer,
                                                             second_plain_registry: RegistryServer) -> None:
    a, b = plain_registry.host, second_plain_registry.host
    env.store("store-a", a)
    push_signed(env, a, "ns/app:1", f"{a}/ns/app:1")
    push_signed(env, b, "ns/app:1", f"{a}/ns/app:1")
    env.registries_d({**env.sections, b: {"lookaside": "file:///tmp/x%zz"}})
    conf(env, mirrored(a, b))
    results = pull_with_both(env, f"docker://{a}/ns/app:1", signed_by_policy(env.tmp / "p.json", f"{a}/ns"))
    assert [r[:2] for r in results.values()] == [(0, IMAGE.manifest)] * 2, results
