"""Acceptance audit of issue 10 (session 27): hostile lookaside stores through the real CLI, and ``lookaside where``.

The store-level unit tests (tests/unit/stores/test_lookaside_file.py) refuse FIFOs, symlinks
out of the store, oversized and too many signatures; here the same hostile stores sit
behind a real registry and ``trustcopy copy docker://… dir:…`` must fail naming the URL,
exit 1, and leave no destination directory. Writing: a ``signature-N`` that is a
directory fails the copy naming that file (before, only the directory was named).
``lookaside where``: a base URL's query stays after the path in the signature template,
and two sections naming one file store in different spellings are warned about.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image
from registry_fixtures import RegistryServer
from registry_signing import FPR, Env, oci_source, signed_by_policy

from trustcopy.digest import Digest
from trustcopy.errors import SignatureError
from trustcopy.reference import parse_named
from trustcopy.signature.formats import SimpleSigning
from trustcopy.stores.lookaside import LookasideLocation, write_signatures
from trustcopy.stores.registries_d import load_registries_d
from trustcopy.stores.where import Where, where
from trustcopy.sysregistries import load_registries_conf

A64 = "a" * 64
DIGEST = Digest.parse("sha256:" + "ab" * 32)


# -- lookaside where (unit) -----------------------------------------------------------------------------------------


def _where(tmp_path: Path, yaml: str, image: str) -> Where:
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text(yaml)
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    return where(parse_named(image),
                 load_registries_d(str(regd), home=str(tmp_path), euid=1000, report_warnings=False),
                 load_registries_conf(str(conf), home=str(tmp_path), system_dir=str(tmp_path / "none"),
                                      report_warnings=False))


@pytest.mark.parametrize("base", ["https://sigs.example/s?tok=1", "file:///srv/s?x=1", "https://sigs.example/s"])
def test_where_template_puts_the_signature_path_before_the_bases_query(tmp_path: Path, base: str) -> None:
    """Old: ``https://sigs.example/s/ns/app?tok=1@ALGO=HEX/signature-N`` (the suffix after the query)."""
    w = _where(tmp_path, f"docker:\n  reg.example:\n    lookaside: '{base}'\n", "reg.example/ns/app:1")
    choice = w.reads[0].lookaside
    template = w.signature_url(choice, parse_named("reg.example/ns/app:1"))
    with_digest = w.signature_url(choice, parse_named(f"reg.example/ns/app@sha256:{A64}"))
    # the template is the digest's URL with the digest and index left open, the query still last
    assert template.replace("@ALGO=HEX/signature-N", f"@sha256={A64}/signature-1") == with_digest
    assert "/ns/app@ALGO=HEX/signature-N" in template
    assert template.endswith(("?tok=1", "?x=1", "signature-N"))


@pytest.mark.parametrize("other", ["file:///srv/store/", "file://localhost/srv/store", "file:///srv//store"])
def test_where_warns_about_one_file_store_spelt_two_ways(tmp_path: Path, other: str) -> None:
    """containers/image opens the same files for these spellings; old: no warning unless byte-equal."""
    w = _where(tmp_path, f"docker:\n  a.example:\n    lookaside: file:///srv/store\n"
                         f"  b.example:\n    lookaside: '{other}'\n", "a.example/ns/app:1")
    sharing = w.sharing
    assert any("b.example/ns/app would use the same files" in m for m in sharing), sharing


def test_where_does_not_warn_about_a_different_store(tmp_path: Path) -> None:
    w = _where(tmp_path, "docker:\n  a.example:\n    lookaside: file:///srv/store\n"
                         "  b.example:\n    lookaside: file:///srv/store2\n", "a.example/ns/app:1")
    assert w.sharing == ()


# -- writing names the file at fault (unit) ----------------------------------------------------------------------


@pytest.mark.parametrize("blocked", [1, 2])
def test_a_directory_in_place_of_a_signature_file_is_named(tmp_path: Path, blocked: int) -> None:
    store = LookasideLocation(f"file://{tmp_path}/store", "ns/app", "test store")
    directory = Path(store.signature_dir(DIGEST))
    (directory / f"signature-{blocked}").mkdir(parents=True)
    with pytest.raises(SignatureError) as caught:
        write_signatures(store, DIGEST, [SimpleSigning(bytes([0xA3]) + b"one")])
    assert caught.value.code == "lookaside-unwritable"
    assert f"({directory}/signature-{blocked})" in caught.value.message
    assert caught.value.context["file"] == f"{directory}/signature-{blocked}"


# -- hostile stores behind a real registry (CLI) -------------------------------------------------------------------


@pytest.mark.registry
@pytest.mark.gpg
def test_hostile_lookaside_files_fail_the_registry_copy_naming_the_url_and_write_nothing(
        tmp_path: Path, plain_registry: RegistryServer, example_home: GPGHome) -> None:
    env = Env(tmp_path, example_home)
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    pushed = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                     oci_source(tmp_path, image), f"docker://{host}/ns/app:1")
    assert pushed.returncode == 0, pushed.stderr
    sig_dir = store / f"ns/app@sha256={Digest.parse(image.digest).hex}"
    good = (sig_dir / "signature-1").read_bytes()
    policy = signed_by_policy(tmp_path / "policy.json", f"{host}/ns")
    (tmp_path / "outside").write_bytes(good)

    def fifo() -> None:
        os.mkfifo(sig_dir / "signature-2")

    def symlink_out() -> None:
        os.symlink(tmp_path / "outside", sig_dir / "signature-2")

    def oversize() -> None:
        (sig_dir / "signature-2").write_bytes(b"\0" * (4 * 1024 * 1024 + 1))

    def too_many() -> None:
        for n in range(2, 129):
            (sig_dir / f"signature-{n}").write_bytes(good)

    def repository_symlink_out() -> None:
        shutil.copytree(store / "ns", tmp_path / "ns-copy", symlinks=True)
        shutil.rmtree(store / "ns")
        os.symlink(tmp_path / "ns-copy", store / "ns")

    cases = [
        (fifo, "error[not-a-regular-file]", f"{sig_dir}/signature-2"),
        (symlink_out, "error[lookaside-outside-store]", f"signature-2 at file://{sig_dir}/signature-2"),
        (oversize, "error[limit-exceeded]", f"file://{sig_dir}/signature-2"),
        (too_many, "error[lookaside-too-many-signatures]", f"file://{store}/ns/app has 128 or more"),
        (repository_symlink_out, "error[lookaside-outside-store]", f"signature-1 at file://{sig_dir}/signature-1"),
    ]
    for make, code, names in cases:
        pristine = tmp_path / "pristine"
        shutil.copytree(store, pristine, symlinks=True)
        make()
        out = tmp_path / f"out-{make.__name__}"
        r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1", f"dir:{out}",
                    policy=policy)
        assert r.returncode == 1, (make.__name__, r.stderr)
        assert code in r.stderr and names in r.stderr, (make.__name__, r.stderr)
        assert not out.exists(), make.__name__
        if (store / "ns").is_symlink():
            (store / "ns").unlink()
        shutil.rmtree(store)
        shutil.move(pristine, store)
    # the store restored: the same copy passes (the failures above came from the hostile files)
    r = env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/ns/app:1",
                f"dir:{tmp_path}/out-ok", policy=policy)
    assert r.returncode == 0, r.stderr


@pytest.mark.registry
@pytest.mark.gpg
def test_signing_into_a_store_whose_signature_1_is_a_directory_names_it(
        tmp_path: Path, plain_registry: RegistryServer, example_home: GPGHome) -> None:
    """As containers/image, signatures are written after the manifest; the failure names the file."""
    env = Env(tmp_path, example_home)
    host = plain_registry.host
    store = env.store("store", host)
    image = example_image()
    sig_dir = store / f"ns/sig-dir@sha256={Digest.parse(image.digest).hex}"
    (sig_dir / "signature-1").mkdir(parents=True)
    r = env.run("trustcopy", "copy", "-q", "--dest-tls-verify=false", "--sign-by", FPR,
                oci_source(tmp_path, image), f"docker://{host}/ns/sig-dir:1")
    assert r.returncode == 1, r.stderr
    assert "error[lookaside-unwritable]" in r.stderr and f"({sig_dir}/signature-1)" in r.stderr, r.stderr
    assert (sig_dir / "signature-1").is_dir() and list((sig_dir / "signature-1").iterdir()) == []
