"""The documented walkthroughs run as written: docs/promotion.md (dir: and registries) and docs/ci.md's GitLab job.

Both run the page's own shell lines with bash and the installed ``trustcopy`` on PATH; only
the environment is the test's (a temporary directory, throw-away GPG keys, a real TLS
registry whose CA sits in ``$HOME/.config/containers/certs.d``, as a CI runner would have
its registry's CA).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from gpghelpers import GPGHome
from imagefactory import example_image, write_oci
from registry_fixtures import RegistryServer, push_image

from trustcopy.types import SystemContext

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def fenced_blocks(page: Path, language: str) -> Iterator[str]:
    """The contents of the page's ```LANGUAGE blocks."""
    for match in re.finditer(rf"^```{language}\n(.*?)^```", page.read_text(), re.M | re.S):
        yield match.group(1)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


@pytest.mark.gpg
def test_promotion_walkthrough_runs_as_written(tmp_path: Path, new_home: Callable[[], GPGHome]) -> None:
    script = next(fenced_blocks(ROOT / "docs" / "promotion.md", "sh"))
    assert script.startswith("WORK=/srv/promotion\n")
    work = tmp_path / "promotion"
    script = f"WORK={work}\n" + script.split("\n", 1)[1]
    home = new_home()
    ci = home.gen_key("CI <ci@example.com>")
    release = home.gen_key("Release <release@example.com>")
    write_oci({"app": example_image()}, str(work / "build"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=_env(GNUPGHOME=home.path, CI_FPR=ci, RELEASE_FPR=release), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"key {ci}" in proc.stdout  # policy explain showed CI's verified signature
    prod = work / "prod" / "app"
    assert (prod / "signature-1").exists() and (prod / "signature-2").exists()
    digest = example_image().digest
    assert (work / "verified.txt").read_text() == f"dir:{prod}@{digest}\n"


@pytest.mark.gpg
def test_promotion_refuses_what_ci_did_not_sign(tmp_path: Path, new_home: Callable[[], GPGHome]) -> None:
    """The same script, with step 1 signed by the wrong key: step 2 refuses, nothing reaches production."""
    script = next(fenced_blocks(ROOT / "docs" / "promotion.md", "sh"))
    work = tmp_path / "promotion"
    script = f"WORK={work}\n" + script.split("\n", 1)[1]
    script = script.replace('--sign-by "$CI_FPR"', '--sign-by "$RELEASE_FPR"', 1)
    home = new_home()
    env = _env(GNUPGHOME=home.path, CI_FPR=home.gen_key("CI <ci@example.com>"),
               RELEASE_FPR=home.gen_key("Release <release@example.com>"))
    write_oci({"app": example_image()}, str(work / "build"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 1
    assert "UNKNOWN_KEY" in proc.stdout + proc.stderr
    assert list((work / "prod").iterdir()) == []  # nothing reached production, not even staging debris


@pytest.mark.registry
def test_gitlab_job_runs_as_written(tmp_path: Path, tls_registry: RegistryServer) -> None:
    """Its login, policy test and verify lines, against a real TLS registry; verify fails closed (an unsigned image)."""
    job = next(yaml.safe_load(b) for b in fenced_blocks(ROOT / "docs" / "ci.md", "yaml") if "verify-image" in b)
    lines = [line for line in [*job["verify-image"]["before_script"], *job["verify-image"]["script"]]
             if "trustcopy" in line]
    assert len(lines) == 3
    host = tls_registry.host
    assert tls_registry.tls is not None
    certs = tmp_path / "home" / ".config" / "containers" / "certs.d" / host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(tls_registry.tls.ca_cert.read_bytes())
    image = example_image()
    push_image(host, "group/project:abc1234", image, SystemContext(docker_per_host_cert_dir=str(certs.parent)))
    (tmp_path / "ci" / "registries.d").mkdir(parents=True)
    (tmp_path / "ci" / "policy.json").write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "docker": {f"{host}/group": [{"type": "signedBy", "keyType": "GPGKeys",
                                      "keyPath": str(ROOT / "keys-example" / "public-key.asc")}]}}}))
    (tmp_path / "ci" / "policy-tests.yaml").write_text(
        f"cases:\n  - {{image: 'docker://{host}/group/project:abc1234', expect: rejected, reason: NO_SIGNATURES}}\n")
    (tmp_path / "run").mkdir()
    env = _env(HOME=str(tmp_path / "home"), XDG_RUNTIME_DIR=str(tmp_path / "run"), CI_REGISTRY=host,
               CI_REGISTRY_USER="ci-bot", CI_REGISTRY_PASSWORD="not-checked-by-this-registry",
               IMAGE=f"{host}/group/project:abc1234")
    statuses = []
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        statuses.append(proc.returncode)
        assert "not-checked-by-this-registry" not in proc.stdout + proc.stderr
    assert statuses == [0, 0, 1]  # login, policy test pass; verify rejects: the image is not signed
    assert (tmp_path / "run" / "containers" / "auth.json").exists()
    cases = ET.parse(tmp_path / "policy-tests.xml").getroot()
    assert cases.get("tests") == "1" and cases.get("failures") == "0"
    report = ET.parse(tmp_path / "verify.xml").getroot()
    failure = report.find("./testsuite/testcase/failure")
    assert failure is not None and failure.get("type") == "NO_SIGNATURES"
    assert (tmp_path / "verified.txt").read_text() == ""


def _registry_walkthrough(tmp_path: Path, registry: RegistryServer, home: GPGHome, *,
                          wrong_ci_key: bool = False) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    """docs/promotion.md's registry block, with its WORK and REGISTRY lines replaced."""
    script = list(fenced_blocks(ROOT / "docs" / "promotion.md", "sh"))[1]
    assert script.startswith("WORK=/srv/promotion-registry\nREGISTRY=registry.example.com\n")
    work = tmp_path / "promotion"
    script = f"WORK={work}\nREGISTRY={registry.host}\n" + script.split("\n", 2)[2]
    if wrong_ci_key:
        script = script.replace('--sign-by "$CI_FPR"', '--sign-by "$RELEASE_FPR"', 1)
    assert registry.tls is not None
    certs = tmp_path / "home" / ".config" / "containers" / "certs.d" / registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(registry.tls.ca_cert.read_bytes())
    ci = home.gen_key("CI <ci@example.com>")
    release = home.gen_key("Release <release@example.com>")
    write_oci({"app": example_image()}, str(work / "build"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=_env(HOME=str(tmp_path / "home"), GNUPGHOME=home.path, CI_FPR=ci, RELEASE_FPR=release,
                                   XDG_RUNTIME_DIR=str(tmp_path / "home")),
                          check=False)
    return proc, work, ci


@pytest.mark.gpg
@pytest.mark.registry
def test_promotion_between_registries_runs_as_written(tmp_path: Path, new_home: Callable[[], GPGHome],
                                                      tls_registry: RegistryServer) -> None:
    proc, work, ci = _registry_walkthrough(tmp_path, tls_registry, new_home())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"key {ci}" in proc.stdout  # policy explain showed CI's verified signature
    digest = example_image().digest
    hexd = digest.split(":")[1]
    store = work / "sigstore"
    assert sorted(str(p.relative_to(store)) for p in store.rglob("signature-*")) == [
        f"prod/app@sha256={hexd}/signature-1", f"prod/app@sha256={hexd}/signature-2",
        f"staging/app@sha256={hexd}/signature-1"]
    assert (work / "verified.txt").read_text() == f"{tls_registry.host}/prod/app@{digest}\n"  # pullable by digest


@pytest.mark.gpg
@pytest.mark.registry
def test_registry_promotion_refuses_what_ci_did_not_sign(tmp_path: Path, new_home: Callable[[], GPGHome],
                                                         tls_registry: RegistryServer) -> None:
    proc, work, _ = _registry_walkthrough(tmp_path, tls_registry, new_home(), wrong_ci_key=True)
    assert proc.returncode == 1
    assert "UNKNOWN_KEY" in proc.stdout + proc.stderr
    assert not (work / "sigstore" / "prod").exists()
    assert tls_registry.tls is not None
    with httpx.Client(verify=ssl.create_default_context(cafile=str(tls_registry.tls.ca_cert))) as client:
        assert client.get(f"{tls_registry.url}/v2/_catalog").json()["repositories"] == ["staging/app"]
