"""Registry flags: skopeo's optional booleans, conflicts, and the SystemContext they make."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from trustcopy.cli.docker_options import (
    apply_copy_docker_options,
    copy_docker_options,
    docker_system_context,
    image_docker_options,
    parse_creds,
)
from trustcopy.cli.pflag import PflagCommand
from trustcopy.errors import UsageError
from trustcopy.types import SystemContext

captured: dict[str, Any] = {}


@click.command(cls=PflagCommand)
@click.argument("src")
@click.argument("dest")
@copy_docker_options
def fake_copy(src: str, dest: str, **kwargs: Any) -> None:
    captured.clear()
    captured.update(kwargs, src=src, dest=dest)


@click.command(cls=PflagCommand)
@click.argument("image")
@image_docker_options
def fake_inspect(image: str, **kwargs: Any) -> None:
    captured.clear()
    captured.update(kwargs, image=image)


def _run(cmd: click.Command, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cmd, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(captured)


BOOLS = [
    (["--src-tls-verify", "docker://a", "dir:b"], True),
    (["--src-tls-verify=false", "docker://a", "dir:b"], False),
    (["--src-tls-verify=FALSE", "docker://a", "dir:b"], False),
    (["--src-tls-verify=False", "docker://a", "dir:b"], False),
    (["--src-tls-verify=F", "docker://a", "dir:b"], False),
    (["--src-tls-verify=0", "docker://a", "dir:b"], False),
    (["--src-tls-verify=true", "docker://a", "dir:b"], True),
    (["docker://a", "dir:b", "--src-tls-verify"], True),
    (["docker://a", "dir:b"], None),
]


@pytest.mark.parametrize(("args", "expected"), BOOLS, ids=[" ".join(a) for a, _ in BOOLS])
def test_optional_bool_never_swallows_the_next_argument(args: list[str], expected: bool | None) -> None:
    got = _run(fake_copy, *args)
    assert got["src_tls_verify"] is expected
    assert (got["src"], got["dest"]) == ("docker://a", "dir:b")


@pytest.mark.parametrize("junk", ["maybe", "fAlse", " false", "false ", "no", "off", ""])
def test_optional_bool_rejects_what_strconv_parsebool_rejects(junk: str) -> None:
    """skopeo refuses these (strconv.ParseBool); none of them may turn TLS verification off."""
    result = CliRunner().invoke(fake_copy, [f"--dest-tls-verify={junk}", "a", "b"])
    assert result.exit_code == 2
    assert f"invalid boolean {junk!r} (use --dest-tls-verify=true or --dest-tls-verify=false)" in result.output


def test_hidden_creds_aliases() -> None:
    got = _run(fake_copy, "--screds", "u:p", "--dcreds", "v:q", "a", "b")
    src, dest = apply_copy_docker_options(SystemContext(), SystemContext(), got)
    assert (src.docker_username, dest.docker_username) == ("u", "v")
    assert "--screds" not in CliRunner().invoke(fake_copy, ["--help"]).output


def test_copy_contexts() -> None:
    values = _run(fake_copy, "--src-creds", "alice:pw:with:colons", "--dest-username", "bob", "--dest-password", "x",
                  "--authfile", "/shared.json", "--dest-authfile", "/dest.json", "--src-cert-dir", "/certs",
                  "--tls-verify=false", "--dest-tls-verify", "--retry-times", "5", "--src-registry-token", "tok",
                  "a", "b")
    src, dest = apply_copy_docker_options(SystemContext(), SystemContext(), values)
    assert (src.docker_username, src.docker_password) == ("alice", "pw:with:colons")
    assert (dest.docker_username, dest.docker_password) == ("bob", "x")
    assert src.auth_file == "/shared.json" and dest.auth_file == "/dest.json"
    assert src.docker_cert_path == "/certs" and dest.docker_cert_path is None
    assert src.docker_tls_verify is False  # the deprecated --tls-verify
    assert dest.docker_tls_verify is True  # the prefixed flag wins
    assert src.retry_times == dest.retry_times == 5
    assert src.docker_bearer_token == "tok" and dest.docker_bearer_token is None
    assert src.docker_retry_delay is None and not src.docker_retry_delay_fixed  # exponential from 1s


@pytest.mark.parametrize(("text", "seconds"), [("2s", 2.0), ("1m30s", 90.0), ("250ms", 0.25), ("3", 3.0)])
def test_retry_delay_is_fixed_and_takes_go_durations(text: str, seconds: float) -> None:
    values = _run(fake_copy, "--retry-delay", text, "a", "b")
    src, dest = apply_copy_docker_options(SystemContext(), SystemContext(), values)
    assert src.docker_retry_delay == dest.docker_retry_delay == seconds
    assert src.docker_retry_delay_fixed and dest.docker_retry_delay_fixed
    values = _run(fake_inspect, "--retry-delay", text, "docker://x")
    assert docker_system_context(SystemContext(), values, "").docker_retry_delay == seconds


def test_retry_delay_refuses_junk() -> None:
    result = CliRunner().invoke(fake_copy, ["--retry-delay", "soon", "a", "b"])
    assert result.exit_code == 2 and "invalid duration 'soon'" in result.output


def test_inspect_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/env.json")
    values = _run(fake_inspect, "--no-creds", "--tls-verify=false", "docker://x")
    sys_ctx = docker_system_context(SystemContext(), values, "")
    assert sys_ctx.docker_no_creds and sys_ctx.docker_username is None
    assert sys_ctx.docker_tls_verify is False
    assert sys_ctx.auth_file == "/env.json"


CONFLICTS = [
    ({"creds": "u:p", "no_creds": True}, "--creds and --no-creds"),
    ({"username": "u", "password": "p", "no_creds": True}, "--username and --no-creds"),
    ({"creds": "u:p", "username": "u", "password": "p"}, "--creds and --username"),
    ({"username": "u"}, "--password must be specified when --username"),
    ({"password": "p"}, "--username must be specified when --password"),
    ({"creds": ""}, "credentials can't be empty"),
    ({"creds": ":pw"}, "username can't be empty"),
]


@pytest.mark.parametrize(("values", "message"), CONFLICTS, ids=[m for _, m in CONFLICTS])
def test_refused_combinations(values: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        docker_system_context(SystemContext(), values, "")


def test_prefixed_messages_name_the_prefixed_flags() -> None:
    with pytest.raises(UsageError, match="--src-creds and --src-no-creds"):
        docker_system_context(SystemContext(), {"src_creds": "u", "src_no_creds": True}, "src")


def test_parse_creds() -> None:
    assert parse_creds("user") == ("user", "")
    assert parse_creds("user:") == ("user", "")
    assert parse_creds("u:p:q") == ("u", "p:q")


def test_base_context_is_not_modified() -> None:
    base = SystemContext()
    docker_system_context(base, {"creds": "u:p", "tls_verify": False}, "")
    assert base.docker_username is None and base.docker_tls_verify is True
