"""The global ``--user-agent-prefix`` (newer skopeo): every registry and token request carries it."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagefactory import make_image, random_layer, write_oci
from registry_fixtures import FaultProxy, TokenRegistry

pytestmark = pytest.mark.registry

OURS = "trustcopy (+containers/image compatible)"


@pytest.mark.parametrize("prefix", [None, "ci-job/42 (promote)"])
def test_registry_requests_carry_the_prefix(run_cli, fault_proxy: FaultProxy, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            insecure_policy: Path, prefix: str | None) -> None:
    write_oci({"t": make_image([random_layer(5000, 71)])}, str(tmp_path / "src"))
    flags = ["--user-agent-prefix", prefix] if prefix else []
    r = run_cli(*flags, "--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false",
                f"oci:{tmp_path}/src:t", f"docker://{fault_proxy.host}/app:1")
    assert r.exit_code == 0, r.stderr
    agents = {h.get("User-Agent") for _m, _p, h in fault_proxy.seen}
    assert agents == {f"{prefix} {OURS}" if prefix else OURS}
    assert len(fault_proxy.seen) >= 5  # ping, HEADs, uploads, the manifest


def test_token_requests_carry_the_prefix(run_cli, token_registry: TokenRegistry,  # type: ignore[no-untyped-def]
                                         tmp_path: Path, insecure_policy: Path) -> None:
    r = run_cli("list-tags", "--user-agent-prefix", "mirror-bot", "--tls-verify=false",
                f"docker://{token_registry.host}/team/none")
    assert r.exit_code != 0  # no such repository; the token was asked for all the same
    requests = token_registry.issuer.requests
    assert requests and {t.user_agent for t in requests} == {f"mirror-bot {OURS}"}
