"""Review fixes in trustcopy/sysregistries/load.py."""

from __future__ import annotations

import pytest

from trustcopy.errors import ConfigError
from trustcopy.sysregistries.load import parse_toml


@pytest.mark.parametrize("literal", ["0x" + "f" * 5000, "0o" + "7" * 20000, "0b" + "1" * 20000])
def test_huge_non_decimal_integer_is_a_named_error(literal: str) -> None:
    """tomllib reads a hex/octal/binary integer of any length; printing it in decimal raised ValueError."""
    with pytest.raises(ConfigError) as info:
        parse_toml("registries.conf", f"x = {literal}\n".encode())
    assert info.value.code == "registries-conf-invalid"
    assert "registries.conf" in info.value.message
    assert "out of range for int64" in info.value.message
    assert len(info.value.message) < 200


def test_small_out_of_range_integer_still_shows_its_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_toml("registries.conf", b"x = 0x10000000000000000\n")
    assert "18446744073709551616 is out of range for int64" in info.value.message
