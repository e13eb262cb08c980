"""certs.d lookup and the SSL context built from it."""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

import pytest

from trustcopy.errors import ConfigError
from trustcopy.transports.docker import certs
from trustcopy.types import SystemContext

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
from registry_fixtures import make_tls_material


def test_cert_dir_flag_wins() -> None:
    assert certs.cert_dir_for(SystemContext(docker_cert_path="/flag"), "reg:5000") == "/flag"


def test_per_host_base_override() -> None:
    sys_ctx = SystemContext(docker_per_host_cert_dir="/base")
    assert certs.cert_dir_for(sys_ctx, "reg.example:5000") == "/base/reg.example:5000"


def test_default_lookup_prefers_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert certs.cert_dir_for(None, "no-such-host.invalid:1") is None
    d = tmp_path / ".config" / "containers" / "certs.d" / "reg.example:5000"
    d.mkdir(parents=True)
    assert certs.cert_dir_for(None, "reg.example:5000") == str(d)


def test_context_trusts_extra_ca_and_verifies(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "m")
    d = tmp_path / "certs"
    d.mkdir()
    (d / "ca.crt").write_bytes(tls.ca_cert.read_bytes())
    ctx = certs.ssl_context(str(d), True)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert any(b"trustcopy test CA" in der for der in ctx.get_ca_certs(binary_form=True))


def test_verify_off_disables_checks(tmp_path: Path) -> None:
    ctx = certs.ssl_context(None, False)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


def test_client_certificate_pairs(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "m")
    d = tmp_path / "client"
    d.mkdir()
    (d / "client.cert").write_bytes(tls.server_cert.read_bytes())
    (d / "client.key").write_bytes(tls.server_key.read_bytes())
    certs.ssl_context(str(d), True)  # loads without error
    (d / "lonely.key").write_bytes(tls.server_key.read_bytes())
    with pytest.raises(ConfigError, match=r"missing client certificate lonely\.cert"):
        certs.ssl_context(str(d), True)


def test_unpaired_cert_and_bad_pem_are_errors(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / "x.cert").write_text("not pem")
    with pytest.raises(ConfigError, match=r"missing key x\.key"):
        certs.ssl_context(str(d), True)
    (d / "x.cert").unlink()
    (d / "bad.crt").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"bad\.crt"):
        certs.ssl_context(str(d), True)


def test_missing_dir_is_fine() -> None:
    assert isinstance(certs.ssl_context("/nonexistent/certs.d/x", True), ssl.SSLContext)


def test_context_is_built_once_per_session_and_setting(tmp_path: Path) -> None:
    from trustcopy.transports.docker.session import RegistrySession

    one, two = RegistrySession(), RegistrySession()
    key, ctx = one.tls(None, True)
    assert one.tls(None, True) == (key, ctx)
    assert one.tls(None, False)[1] is not ctx
    assert two.tls(None, True)[1] is not ctx  # sessions share nothing
    d = tmp_path / "certs.d"
    d.mkdir()
    first = one.tls(str(d), True)[1]
    (d / "ca.crt").write_bytes(make_tls_material(tmp_path / "m").ca_cert.read_bytes())
    assert one.tls(str(d), True)[1] is not first  # a changed directory gets a new context


# -- containers/image's own test data (pkg/tlsclientconfig/testdata, TestSetupCertificates) ----------------------

CI_TLS_TESTDATA = "/usr/share/gocode/src/github.com/containers/image/pkg/tlsclientconfig/testdata"


def test_containers_image_full_certs_dir_loads_its_cas() -> None:
    from trustcopy.transports.docker.certs import ssl_context

    assert os.path.isdir(CI_TLS_TESTDATA), "./run installs golang-github-containers-image-dev"
    without = {c["serialNumber"] for c in ssl_context(None, True).get_ca_certs()}
    loaded = {c["serialNumber"] for c in ssl_context(f"{CI_TLS_TESTDATA}/full", True).get_ca_certs()}
    assert len(loaded - without) == 2  # ca-cert-1.crt and ca-cert-2.crt, beside the system's


@pytest.mark.parametrize(("directory", "message"), [
    ("missing-cert", "missing client certificate client-cert-1.cert for key"),
    ("missing-key", "missing key client-cert-1.key for client certificate"),
    ("unreadable-cert", "missing client certificate client-cert-1.cert for key"),
    ("unreadable-key", "missing key client-cert-1.key for client certificate"),
])
def test_containers_image_incomplete_client_certificates_are_refused(directory: str, message: str) -> None:
    from trustcopy.transports.docker.certs import ssl_context

    with pytest.raises(ConfigError, match=message):
        ssl_context(f"{CI_TLS_TESTDATA}/{directory}", True)
