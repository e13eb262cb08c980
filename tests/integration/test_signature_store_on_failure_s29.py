"""A copy that fails after writing its lookaside signatures puts the store back (found in session 29).

The tag moves last (destination.commit writes signatures, then PUTs the manifest), and a
lookaside write replaces the digest's whole ``signature-1..N`` set. When the manifest PUT then
failed, the digest's earlier signatures, those of a tag already published with the same
image, were gone: ``verify`` rejected the published tag afterwards. skopeo (manifest first)
leaves the store untouched. Now the previous set is put back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image
from registry_fixtures import Fault, FaultProxy
from registry_signing import FPR, Env, oci_source, signed_by_policy

from trustcopy.digest import Digest

pytestmark = [pytest.mark.registry, pytest.mark.gpg]


def test_a_failed_push_leaves_the_published_signatures(tmp_path: Path, fault_proxy: FaultProxy,
                                                        example_home: GPGHome) -> None:
    env = Env(tmp_path, example_home)
    host = fault_proxy.host
    store = env.store("store", host)
    image = example_image()
    source = oci_source(tmp_path, image)
    first = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR, source,
                    f"docker://{host}/ns/app:v1")
    assert first.returncode == 0, first.stderr
    sig_dir = store / f"ns/app@sha256={Digest.parse(image.digest).hex}"
    published = (sig_dir / "signature-1").read_bytes()
    policy = signed_by_policy(tmp_path / "policy.json", f"{host}/ns")
    assert env.run("trustcopy", "verify", "--tls-verify=false", f"docker://{host}/ns/app:v1",
                   policy=policy).returncode == 0

    fault_proxy.rule = lambda m, p, h: Fault(status=400) if m == "PUT" and "/manifests/" in p else None
    failed = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--retry-times", "0", "--sign-by", FPR,
                     "--sign-identity", f"{host}/ns/app:v2", source, f"docker://{host}/ns/app:v2")
    assert failed.returncode == 1, failed.stderr
    assert sorted(p.name for p in sig_dir.iterdir()) == ["signature-1"]
    assert (sig_dir / "signature-1").read_bytes() == published

    fault_proxy.rule = lambda m, p, h: None
    again = env.run("trustcopy", "verify", "--tls-verify=false", f"docker://{host}/ns/app:v1", policy=policy)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_failed_first_push_leaves_no_signature(tmp_path: Path, fault_proxy: FaultProxy,
                                                 example_home: GPGHome) -> None:
    env = Env(tmp_path, example_home)
    host = fault_proxy.host
    store = env.store("store", host)
    fault_proxy.rule = lambda m, p, h: Fault(status=400) if m == "PUT" and "/manifests/" in p else None
    failed = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--retry-times", "0", "--sign-by", FPR,
                     oci_source(tmp_path, example_image()), f"docker://{host}/ns/app:v1")
    assert failed.returncode == 1, failed.stderr
    assert [p for p in store.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("carried", [False, True], ids=["unsigned-source", "signed-source"])
def test_signing_into_a_layout_says_where_signing_works(tmp_path: Path, example_home: GPGHome, carried: bool) -> None:
    """The hint no longer offers --remove-signatures where --sign-by would still fail (session 29)."""
    from imagefactory import write_dir

    env = Env(tmp_path, example_home)
    src = tmp_path / "src-dir"
    write_dir(example_image(), str(src))
    if carried:
        (src / "signature-1").write_bytes(b"not a real signature, carried as it is")
    r = env.run("trustcopy", "copy", "-q", "--sign-by", FPR, "--sign-identity", "registry.example.com/a:1",
                f"dir:{src}", f"oci:{tmp_path / 'layout'}:1")
    assert r.returncode == 1
    assert "error[signatures-unsupported]" in r.stderr
    assert "--remove-signatures" not in r.stderr
    assert "dir: or a registry" in r.stderr
    assert not (tmp_path / "layout").exists()
