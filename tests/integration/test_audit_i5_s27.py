"""Acceptance audit of issue 5 (docker://), session 27: the gaps an independent review found.

Each test here proves a requirement of issue 5 (or issue 14 item 3) that no earlier test
proved through the real tool, or pins a bug found by this audit (failing before its fix).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from registry_fixtures import free_port

pytestmark = pytest.mark.registry


# -- retries of the ping when TLS verification is off ------------------------------------------------


def test_ping_with_tls_off_retries_the_https_http_pair_retry_times_times(run_cli, caplog) -> None:  # type: ignore[no-untyped-def]
    """--retry-times N means N retries: with TLS off the ping tries HTTPS then HTTP in each round
    (as containers/image under skopeo's retry), not N retries of HTTPS followed by N of HTTP
    (which doubled the retries and the wait on an unreachable registry)."""
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    caplog.set_level(logging.WARNING)
    r = run_cli("inspect", "--tls-verify=false", "--retry-times=2", "--retry-delay=10ms", f"docker://{host}/app:1")
    assert r.exit_code != 0
    errors = [x for x in r.stderr.splitlines() if x.startswith("error[")]
    assert len(errors) == 1 and errors[0].startswith("error[network]:")
    assert f"pinging container registry {host}" in errors[0]
    retries = [rec.getMessage() for rec in caplog.records if "retrying in" in rec.getMessage()]
    assert len(retries) == 2, retries
    assert retries[-1].endswith("(2/2)")


# -- issue 14 item 3: a manifest GET cut mid-body, in the places the existing tests do not reach -------


def _manifest_get(m: str, p: str, h: dict[str, str]) -> bool:
    return m == "GET" and "/manifests/" in p


def _first(n: int, pred, fault):  # type: ignore[no-untyped-def]
    """A FaultProxy rule: ``fault`` for the first ``n`` requests matching ``pred``."""
    import threading

    left = [n]
    lock = threading.Lock()

    def rule(m: str, p: str, h: dict[str, str]):  # type: ignore[no-untyped-def]
        if not pred(m, p, h):
            return None
        with lock:
            left[0] -= 1
            return fault if left[0] >= 0 else None

    return rule


@pytest.mark.parametrize("cut_after", [0, 1, 100])
def test_inspect_survives_a_manifest_cut_short(run_cli, fault_proxy, plain_registry, caplog,  # type: ignore[no-untyped-def]
                                               cut_after: int) -> None:
    """`inspect` (not only `copy`) fetches a cut manifest again, whether the registry closed before
    any body byte, after one, or later; the retried body is what it prints the digest of."""
    from imagefactory import example_image
    from registry_fixtures import Fault, fast_sys, push_image

    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    fault_proxy.rule = _first(1, _manifest_get, Fault(drop_after=cut_after))
    r = run_cli("inspect", "--tls-verify=false", "--retry-times=1", "--retry-delay=10ms",
                f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    import json

    assert json.loads(r.stdout)["Digest"] == image.digest
    assert fault_proxy.count("GET", "/manifests/") == 2


def test_instance_manifest_of_a_list_cut_short_is_fetched_again(run_cli, fault_proxy, plain_registry,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path, insecure_policy) -> None:
    """The per-platform manifest a copy picks from a manifest list is a second manifest GET: a cut
    there is retried too, and the copy is exactly the instance (verified against the list's digest)."""
    from imagefactory import make_image, make_index, random_layer
    from registry_signing import write_oci_list

    amd = make_image([random_layer(2000, 1)], arch="amd64")
    arm = make_image([random_layer(2000, 2)], arch="arm64")
    index, blobs = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                               (arm, {"architecture": "arm64", "os": "linux"})])
    write_oci_list(tmp_path / "src", "l", index, blobs)
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--all", "--dest-tls-verify=false",
                f"oci:{tmp_path / 'src'}:l", f"docker://{plain_registry.host}/multi:1")
    assert r.exit_code == 0, r.stderr
    from registry_fixtures import Fault

    fault_proxy.rule = _first(1, lambda m, p, h: m == "GET" and p.endswith(f"/manifests/{arm.digest}"),
                              Fault(drop_after=50))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--retry-times=1",
                "--retry-delay=10ms", "--override-arch=arm64", "--override-os=linux",
                f"docker://{fault_proxy.host}/multi:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == arm.manifest
    assert fault_proxy.count("GET", f"/manifests/{arm.digest}") == 2


# -- TLS client certificates against a registry that requires them -------------------------------------


def _client_cert(directory: Path) -> tuple[Path, bytes, bytes]:
    """A client CA (its PEM file) and a client certificate/key pair it signed (PEM bytes)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "audit client CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "client-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return (ca_path, cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture
def mtls_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real HTTPS registry that requires a client certificate signed by its client CA
    (Distribution's ``http.tls.clientcas``); yields (registry, client cert PEM, client key PEM)."""
    import json

    from registry_fixtures import RegistryServer, _require_registry, make_tls_material, running

    _require_registry()
    work = tmp_path_factory.mktemp("registry-mtls")
    reg = RegistryServer(work, tls=make_tls_material(work / "tls"))
    client_ca, cert, key = _client_cert(work / "client")
    config = json.loads(reg.config_path.read_text())
    config["http"]["tls"]["clientcas"] = [str(client_ca)]
    reg.config_path.write_text(json.dumps(config))
    with running(reg):
        yield reg, cert, key


def test_client_certificate_from_cert_dir_is_presented(run_cli, mtls_registry, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       insecure_policy) -> None:
    """`--cert-dir` with NAME.cert + NAME.key: the registry (which verifies client certificates
    itself) lets the push and the inspect through; without the pair it refuses, and the error
    says so (non-zero exit, nothing tagged)."""
    from imagefactory import example_image, write_oci

    reg, cert, key = mtls_registry
    only_ca = tmp_path / "only-ca"
    only_ca.mkdir()
    (only_ca / "ca.crt").write_bytes(reg.tls.ca_cert.read_bytes())
    full = tmp_path / "full"
    full.mkdir()
    (full / "ca.crt").write_bytes(reg.tls.ca_cert.read_bytes())
    (full / "client.cert").write_bytes(cert)
    (full / "client.key").write_bytes(key)
    image = example_image()
    write_oci({"t": image}, str(tmp_path / "src"))

    # A certificate the registry's client CA did not sign is refused as surely as none.
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "ca.crt").write_bytes(reg.tls.ca_cert.read_bytes())
    _, other_cert, other_key = _client_cert(tmp_path / "other-ca")
    (stranger / "client.cert").write_bytes(other_cert)
    (stranger / "client.key").write_bytes(other_key)
    for cert_dir in (only_ca, stranger):
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--retry-times=0", "--dest-cert-dir",
                    str(cert_dir), f"oci:{tmp_path / 'src'}:t", f"docker://{reg.host}/app:1")
        assert r.exit_code != 0
        errors = [x for x in r.stderr.splitlines() if x.startswith("error[")]
        assert len(errors) == 1 and errors[0].startswith("error[tls-handshake]:") and reg.host in errors[0], r.stderr
        # The hint points at the client certificate the registry refused, not at its CA (which we trust).
        hint = r.stderr.split("hint: ", 1)[1]
        assert "client certificate" in hint and ".cert" in hint and "CA certificate" not in hint, r.stderr
    assert run_cli("list-tags", "--cert-dir", str(full), f"docker://{reg.host}/app").exit_code != 0  # nothing pushed

    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-cert-dir", str(full),
                f"oci:{tmp_path / 'src'}:t", f"docker://{reg.host}/app:1")
    assert r.exit_code == 0, r.stderr
    r = run_cli("inspect", "--cert-dir", str(full), f"docker://{reg.host}/app:1")
    assert r.exit_code == 0, r.stderr
    import json

    assert json.loads(r.stdout)["Digest"] == image.digest


# -- hints name flags the command has ----------------------------------------------------------------


def test_copy_tls_hints_name_the_side_flags(run_cli, plain_registry, tls_registry, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            insecure_policy) -> None:
    """copy has no --tls-verify or --cert-dir (as skopeo's): a hint telling a copy's user to pass
    one names an option click then refuses. The hints mention the --src-/--dest- forms."""
    from imagefactory import example_image, write_oci

    write_oci({"t": example_image()}, str(tmp_path / "src"))
    for host, why in ((plain_registry.host, "does not speak HTTPS"), (tls_registry.host, "CA certificate")):
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--retry-times=0", f"oci:{tmp_path / 'src'}:t",
                    f"docker://{host}/app:1")
        assert r.exit_code != 0 and "error[tls-" in r.stderr
        hint = r.stderr.split("hint: ", 1)[1]
        assert why in hint and "--tls-verify=false" in hint and "--dest-" in hint, r.stderr
