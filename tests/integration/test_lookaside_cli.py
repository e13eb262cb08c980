"""``trustcopy lookaside where``: text and JSON output, warnings, and errors naming files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

A64 = "a" * 64


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user registries.conf / registries.d of the machine leaks into these tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    monkeypatch.delenv("REGISTRIES_CONFIG_PATH", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> tuple[Path, Path]:
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "10-site.yaml").write_text(
        "default-docker:\n  lookaside: https://sigs.example/all\n"
        "docker:\n"
        "  example.com/ns:\n    lookaside-staging: file:///srv/staging\n    use-sigstore-attachments: true\n"
        "  mirror.local:5000:\n    lookaside: file:///srv/mirror-sigs\n    lookasid: typo\n"
    )
    conf = tmp_path / "registries.conf"
    conf.write_text(
        "frobnicate = 1\n"
        '[[registry]]\nprefix = "example.com"\nlocation = "example.com"\n'
        '[[registry.mirror]]\nlocation = "mirror.local:5000/ex"\ninsecure = true\npull-from-mirror = "digest-only"\n'
        '[[registry]]\nlocation = "blocked.example"\nblocked = true\n'
    )
    return regd, conf


def test_where_text_names_files_sections_urls_and_mirrors(run_cli, config: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    regd, conf = config
    r = run_cli("lookaside", "where", "--registries.d", str(regd), "--registries-conf", str(conf),
                f"docker://example.com/ns/app@sha256:{A64}")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert f'entry: [[registry]] #1 (prefix "example.com") in {conf}' in out
    assert f"1. mirror.local:5000/ex/ns/app@sha256:{A64} (mirror, insecure)" in out
    assert f"2. example.com/ns/app@sha256:{A64} (primary)" in out
    # the mirror's signatures are read for the mirror's physical reference, with its own section
    mirror_section = f'(lookaside of docker: "mirror.local:5000" in {regd}/10-site.yaml)'
    assert f"lookaside: file:///srv/mirror-sigs  {mirror_section}" in out
    assert f"signatures: file:///srv/mirror-sigs/ex/ns/app@sha256={A64}/signature-1" in out
    # the primary falls back from the repository section (no read URL) to default-docker
    assert f"lookaside: https://sigs.example/all  (lookaside of default-docker in {regd}/10-site.yaml)" in out
    assert "sigstore attachments: yes (docker: \"example.com/ns\"" in out
    assert f'write: example.com/ns/app@sha256:{A64}' in out
    assert 'lookaside: file:///srv/staging  (lookaside-staging of docker: "example.com/ns"' in out
    err = r.stderr
    assert f'warning: {regd}/10-site.yaml: docker."mirror.local:5000".lookasid: unknown key' in err
    assert f"warning: {conf}: frobnicate: unknown key" in err
    assert "applies to every registry: ns/app on any other registry uses the same files" in err


def test_where_json(run_cli, config: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    regd, conf = config
    r = run_cli("lookaside", "where", "--registries.d", str(regd), "--registries-conf", str(conf), "-o", "json",
                "example.com/ns/app")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["image"] == "example.com/ns/app:latest"
    assert data["registriesD"] == {"directory": str(regd), "files": [f"{regd}/10-site.yaml"]}
    assert data["registriesConf"]["entry"]["prefix"] == "example.com"
    # digest-only mirror: a tag pull goes to the primary only
    assert [p["reference"] for p in data["read"]] == ["example.com/ns/app:latest"]
    read = data["read"][0]
    assert read["lookaside"]["section"] == "default-docker" and read["lookaside"]["key"] == "lookaside"
    assert read["lookaside"]["matchedSections"] == ['docker: "example.com/ns"', "default-docker"]
    assert read["signatureURL"] == "https://sigs.example/all/ns/app@ALGO=HEX/signature-N"
    assert read["sigstoreAttachments"] == {"value": True, "file": f"{regd}/10-site.yaml",
                                           "section": 'docker: "example.com/ns"'}
    assert data["write"]["lookaside"]["url"] == "file:///srv/staging"
    assert data["write"]["blockedBy"] is None
    keys = [w.get("key") for w in data["warnings"]]
    assert 'docker."mirror.local:5000".lookasid' in keys and "frobnicate" in keys
    assert r.stderr == ""


def test_where_shows_blocked_registries(run_cli, config: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    regd, conf = config
    r = run_cli("lookaside", "where", "--registries.d", str(regd), "--registries-conf", str(conf), "-o", "json",
                "blocked.example/app:1")
    data = json.loads(r.stdout)
    assert data["read"][0]["blockedBy"] == {"file": str(conf), "entry": 2, "prefix": "blocked.example"}
    assert data["write"]["blockedBy"]["prefix"] == "blocked.example"


def test_where_warns_about_another_registry_naming_the_same_store(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text("docker:\n  quay.io:\n    lookaside: file:///srv/sigs\n"
                                 "  registry.example:\n    lookaside: file:///srv/sigs\n")
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    r = run_cli("lookaside", "where", "--registries.d", str(regd), "--registries-conf", str(conf),
                "registry.example/team/app:1")
    assert r.exit_code == 0, r.stderr
    assert ('docker: "quay.io" in ' + str(regd / "a.yaml") + " names the same store file:///srv/sigs: "
            "quay.io/team/app would use the same files file:///srv/sigs/team/app") in r.stderr


def test_where_refuses_conflicting_files_naming_both(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text("default-docker:\n  lookaside: file:///a\n")
    (regd / "b.yaml").write_text("default-docker:\n  lookaside: file:///a\n")
    r = run_cli("lookaside", "where", "--registries.d", str(regd), "busybox")
    assert r.exit_code == 1
    assert "error[registries-d-conflict]" in r.stderr
    assert f"{regd}/a.yaml" in r.stderr and f"{regd}/b.yaml" in r.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--registries-conf", "/nonexistent/registries.conf", "busybox"], "error[registries-conf-not-found]"),
    (["--registries.d", "/nonexistent/registries.d", "busybox"], "error[registries-d-not-found]"),
    (["docker:busybox"], "does not start with //"),
    ([f"example.com/a:1@sha256:{A64}"], "both a tag and a digest"),
    (["Busybox"], "error[reference-name-uppercase]"),
])
def test_where_errors(run_cli, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("lookaside", "where", *args)
    assert r.exit_code != 0
    assert needle in r.stderr


def test_registry_configuration_given_before_or_after_the_command(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    """--registries.d and --registries-conf are global options: before the command or after it (the later wins)."""
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text("docker:\n  example.com:\n    lookaside: file:///srv/sigs\n")
    conf = tmp_path / "mirrors.conf"
    conf.write_text('[[registry]]\nlocation = "example.com"\n[[registry.mirror]]\nlocation = "mirror.local:5000"\n')
    before = run_cli("--registries.d", str(regd), "--registries-conf", str(conf), "lookaside", "where", "--output",
                     "json", "example.com/ns/app:1")
    after = run_cli("lookaside", "where", "--registries.d", str(regd), "--registries-conf", str(conf), "--output",
                    "json", "example.com/ns/app:1")
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    doc = json.loads(before.stdout)
    assert doc["registriesConf"]["files"][0] == str(conf)
    assert [r["reference"] for r in doc["read"]] == ["mirror.local:5000/ns/app:1", "example.com/ns/app:1"]
    assert doc["write"]["lookaside"]["url"] == "file:///srv/sigs"


def test_lookaside_is_listed_in_help(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--help")
    assert "lookaside" in r.stdout
