"""Hostile configuration inputs: each is a clear, bounded ConfigError/PolicyError, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trustcopy.errors import ConfigError, PolicyError
from trustcopy.policy.parse import load_policy, parse_policy
from trustcopy.stores.registries_d import load_yaml
from trustcopy.sysregistries import load_registries_conf


def _conf(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "registries.conf"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_registries_conf(str(path), system_dir=str(tmp_path / "no-such-dir"), report_warnings=False)
    assert time.monotonic() - start < 5
    assert info.value.code == "registries-conf-invalid"
    assert str(path) in info.value.message
    return info.value


@pytest.mark.parametrize("text", [
    "a = " + "[" * 100_000 + "]" * 100_000,  # RecursionError in tomllib
    "a = " + "{b = " * 50_000 + "1" + "}" * 50_000,
])
def test_registries_conf_deep_nesting_is_a_clear_error(tmp_path: Path, text: str) -> None:
    assert "nested too deeply" in _conf(tmp_path, text).message


@pytest.mark.parametrize("text", [
    "a." * 200_000 + "b = 1\n",  # tomllib: quadratic memory (tens of GiB), minutes
    "[" + "a." * 200_000 + "b]\nx = 1\n",
    "".join(f"k{i}." * 60 + "b = 1\n" for i in range(400)),  # many keys, each under the per-line cap
])
def test_registries_conf_long_dotted_keys_are_refused_before_parsing(tmp_path: Path, text: str) -> None:
    assert "dotted key" in _conf(tmp_path, text).message


def test_registries_conf_dotted_keys_and_dots_in_strings_still_parse(tmp_path: Path) -> None:
    path = tmp_path / "registries.conf"
    hosts = ", ".join(f'"r{i}.a.b.c.example.com"' for i in range(100))
    path.write_text(f"unqualified-search-registries = [{hosts}]\n# a.b.c.d.e.f\n")
    conf = load_registries_conf(str(path), system_dir=str(tmp_path / "none"), report_warnings=False)
    assert conf is not None


def test_registries_conf_huge_integer_is_a_clear_error(tmp_path: Path) -> None:
    error = _conf(tmp_path, '[[registry]]\nlocation = "a.io"\ninsecure = ' + "9" * 100_000 + "\n")
    assert "digits" in error.message
    assert "set_int_max_str_digits" not in error.message


@pytest.mark.parametrize(("data", "expect"), [
    (b"docker: {}\x00\n", "unacceptable character"),  # PyYAML's reader refused it outside the try
    (b"default-docker: {x: " + b"9" * 100_000 + b"}\n", "digits"),
    (b"a: 2001-99-99\n", "month must be in 1..12"),
])
def test_yaml_reader_and_constructor_errors_are_config_errors(data: bytes, expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("/etc/containers/registries.d/x.yaml", data)
    assert info.value.code == "registries-d-invalid"
    assert "/etc/containers/registries.d/x.yaml" in info.value.message
    assert expect in info.value.message


def test_yaml_nul_in_text_mode_too() -> None:
    with pytest.raises(ConfigError):
        load_yaml("sync.yaml", b"a\x00: b\n", scalars_as_text=True)


def test_policy_error_does_not_echo_a_huge_value() -> None:
    data = '{"default":[{"type":"' + "a" * 5_000_000 + '"}]}'
    with pytest.raises(PolicyError) as info:
        parse_policy(data, source="/p.json")
    assert len(info.value.message) < 1000
    assert "characters elided" in info.value.message
    assert "default[0].type" in info.value.message


def test_policy_error_does_not_echo_a_huge_key() -> None:
    data = '{"default":[{"type":"reject"}],"transports":{"docker":{"' + "k" * 1_000_000 + '":[]}}}'
    with pytest.raises(PolicyError) as info:
        parse_policy(data, source="/p.json")
    assert len(info.value.message) < 1000
    assert len(str(info.value.context.get("path", ""))) < 1000


def test_policy_huge_integer_message(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"default":[{"type":"reject"}],"x":' + "9" * 100_000 + "}")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(path) in info.value.message
    assert "set_int_max_str_digits" not in info.value.message
