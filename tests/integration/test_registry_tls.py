"""TLS: system trust by default, --cert-dir and certs.d, --tls-verify=false, no silent HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagefactory import example_image
from registry_fixtures import RegistryServer, docker_ref, fast_sys, make_tls_material, push_image, running
from scripted_proxy import ScriptedProxy

from trustcopy.errors import NetworkError
from trustcopy.types import SystemContext

pytestmark = pytest.mark.registry


def _verifying(**kw: object) -> SystemContext:
    return fast_sys(docker_tls_verify=True, **kw)


def test_unknown_ca_is_refused_with_a_hint(tls_registry: RegistryServer) -> None:
    with docker_ref(tls_registry.host, "app:1").new_image_source(_verifying()) as src, \
            pytest.raises(NetworkError) as info:
        src.get_manifest()
    assert info.value.code == "tls-verification"
    assert info.value.hint and "--cert-dir" in info.value.hint


def test_cert_dir_trusts_the_ca(tls_registry: RegistryServer, tmp_path: Path) -> None:
    assert tls_registry.tls is not None
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(tls_registry.tls.ca_cert, certs / "ca.crt")
    push_image(tls_registry.host, "app:1", example_image(), _verifying(docker_cert_path=str(certs)))
    with docker_ref(tls_registry.host, "app:1").new_image_source(_verifying(docker_cert_path=str(certs))) as src:
        assert src.get_manifest()[0] == example_image().manifest


def test_per_host_certs_d(tls_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls_registry.tls is not None
    monkeypatch.setenv("HOME", str(tmp_path))
    host_dir = tmp_path / ".config" / "containers" / "certs.d" / tls_registry.host
    host_dir.mkdir(parents=True)
    shutil.copy(tls_registry.tls.ca_cert, host_dir / "ca.crt")
    push_image(tls_registry.host, "app:1", example_image(), _verifying())


def test_tls_verify_false_still_uses_https(tls_registry: RegistryServer, plain_registry: RegistryServer,
                                          tmp_path: Path) -> None:
    """--tls-verify=false skips certificate checks, not TLS: HTTP is only the fallback."""
    image = example_image()
    unverified = fast_sys(docker_tls_verify=False)
    # An HTTPS-only registry whose CA nobody trusts.
    push_image(tls_registry.host, "app:1", image, unverified)
    with docker_ref(tls_registry.host, "app:1").new_image_source(unverified) as src:
        assert src.get_manifest()[0] == image.manifest
    # A port answering both HTTP and HTTPS: every request, push and pull, goes over HTTPS.
    with running(ScriptedProxy(plain_registry.port, tls=make_tls_material(tmp_path / "tls"))) as proxy:
        push_image(proxy.host, "app:2", image, unverified)
        with docker_ref(proxy.host, "app:2").new_image_source(unverified) as src:
            assert src.get_manifest()[0] == image.manifest
        seen = proxy.requests()
    assert any(s.method == "PUT" and "/manifests/" in s.path for s in seen)
    assert any(s.method == "GET" and "/manifests/" in s.path for s in seen)
    assert {s.scheme for s in seen} == {"https"}, [(s.scheme, s.method, s.path) for s in seen if s.scheme != "https"]


def test_plain_http_registry_needs_tls_verify_false(plain_registry: RegistryServer) -> None:
    with docker_ref(plain_registry.host, "app:1").new_image_source(_verifying()) as src, \
            pytest.raises(NetworkError) as info:
        src.get_manifest()
    assert info.value.code == "tls-handshake"
    assert "--tls-verify=false" in (info.value.hint or "")


def test_cli_cert_dir(run_cli, tls_registry: RegistryServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert tls_registry.tls is not None
    push_image(tls_registry.host, "app:1", example_image(), fast_sys(docker_tls_verify=False))
    r = run_cli("list-tags", f"docker://{tls_registry.host}/app")
    assert r.exit_code == 1 and "tls-verification" in r.stderr
    certs = tmp_path / "c"
    certs.mkdir()
    shutil.copy(tls_registry.tls.ca_cert, certs / "ca.crt")
    r = run_cli("list-tags", "--cert-dir", str(certs), f"docker://{tls_registry.host}/app")
    assert r.exit_code == 0, r.stderr
    assert '"1"' in r.stdout


def test_der_ca_certificate_is_trusted(tls_registry: RegistryServer, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    assert tls_registry.tls is not None
    ca = x509.load_pem_x509_certificate(tls_registry.tls.ca_cert.read_bytes())
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    push_image(tls_registry.host, "app:1", example_image(), _verifying(docker_cert_path=str(certs)))


@pytest.mark.parametrize("name", ["ca.crt", "client.key"])
def test_fifo_in_cert_dir_is_refused_not_waited_on(tls_registry: RegistryServer, tmp_path: Path, name: str) -> None:
    """A FIFO (or device) in certs.d would block the copy forever when opened."""
    import os

    from trustcopy.errors import ConfigError

    certs = tmp_path / "certs"
    certs.mkdir()
    if name == "client.key":
        (certs / "client.cert").write_text("not used\n")
    os.mkfifo(certs / name)
    with pytest.raises(ConfigError, match="not a regular file") as info:
        docker_ref(tls_registry.host, "app:1").new_image_source(_verifying(docker_cert_path=str(certs)))
    assert str(certs / name) in str(info.value)
