"""This machine's platform in Go's names, and the ARM CPU variant as containers/image detects it.

The variant table restates containers/image's ``internal/pkg/platform`` getCPUVariantArm: the
first ``CPU architecture`` line of /proc/cpuinfo decides, an ARMv7 whose model name says
"ARMv6-compatible" is a v6 (Raspberry Pi Zero), and a machine whose cpuinfo says nothing
usable gets no variant.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from trustcopy import hostplatform
from trustcopy.copy.evaluate import wanted_platform
from trustcopy.manifest.lists import OCIIndex
from trustcopy.manifest.parse import parse_manifest
from trustcopy.types import SystemContext


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Pretend to be a Linux machine named ``name`` whose /proc/cpuinfo holds ``cpuinfo``."""

    def pretend(name: str, cpuinfo: str | None) -> None:
        monkeypatch.setattr(platform, "machine", lambda: name)
        monkeypatch.setattr(platform, "system", lambda: "Linux")
        path = tmp_path / "cpuinfo"
        if cpuinfo is not None:
            path.write_text(cpuinfo)
        monkeypatch.setattr(hostplatform, "CPUINFO", str(path))

    return pretend


# (python machine, cpuinfo text, GOARCH, variant)
HOSTS = [
    ("x86_64", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\n", "amd64", ""),
    ("aarch64", "processor\t: 0\nBogoMIPS\t: 50.00\nCPU architecture: 8\nCPU variant\t: 0x3\n", "arm64", "v8"),
    ("aarch64", "CPU architecture: AArch64\n", "arm64", "v8"),
    ("armv7l", "model name\t: ARMv7 Processor rev 4 (v7l)\nCPU architecture: 7\n", "arm", "v7"),
    ("armv6l", "model name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n", "arm", "v6"),
    ("armv7l", "CPU architecture: 7\n", "arm", ""),  # 7 without a model name: unknown
    ("armv7l", "cpu ARCHITECTURE : 7M\n", "arm", "v7"),  # key and value matched ignoring case
    ("armv7l", "CPU architecture: ?(12)\n", "arm", "v7"),
    ("armv6l", "CPU architecture: 6TEJ\n", "arm", "v6"),
    ("armv6l", "CPU architecture: 5te\n", "arm", "v5"),
    ("armv6l", "CPU architecture: 4t\n", "arm", "v4"),
    ("armv6l", "CPU architecture: 3\n", "arm", "v3"),
    ("armv8l", "CPU architecture: 8\n", "arm", "v8"),  # 32-bit userland on a 64-bit CPU
    ("armv7l", "CPU architecture: 9\n", "arm", ""),  # unknown value
    ("armv7l", "CPU architecture: 8\nCPU architecture: 7\n", "arm", "v8"),  # the first line wins
    ("aarch64", "Features\t: fp asimd\n", "arm64", ""),  # no such line
    ("aarch64", None, "arm64", ""),  # /proc/cpuinfo unreadable: no variant, no error
    ("riscv64", "CPU architecture: 8\n", "riscv64", ""),  # only ARM has variants
    ("sparc64", "", "sparc64", ""),  # unknown machines keep Python's name
]


@pytest.mark.parametrize(("name", "cpuinfo", "arch", "variant"), HOSTS)
def test_host_architecture_and_variant(machine, name: str, cpuinfo: str | None, arch: str,  # type: ignore[no-untyped-def]
                                       variant: str) -> None:
    machine(name, cpuinfo)
    assert hostplatform.go_arch() == arch
    assert hostplatform.go_os() == "linux"
    assert hostplatform.cpu_variant("linux", arch) == variant
    assert wanted_platform(None) == ("linux", arch, variant or None)


def test_darwin_and_windows_have_fixed_variants() -> None:
    assert hostplatform.cpu_variant("darwin", "arm64") == "v8"
    assert hostplatform.cpu_variant("windows", "arm") == "v7"
    assert hostplatform.cpu_variant("darwin", "amd64") == ""


def test_an_arm64_host_prefers_the_v8_entry_of_a_list(machine) -> None:  # type: ignore[no-untyped-def]
    # Before, an arm64 host detected no variant, so the entry without a variant won over the
    # arm64/v8 one (WantedPlatforms without a variant tries "" first).
    machine("aarch64", "CPU architecture: 8\n")
    index = parse_manifest(
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
        b'{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:' + b"a" * 64 + b'","size":1,'
        b'"platform":{"architecture":"arm64","os":"linux"}},'
        b'{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:' + b"b" * 64 + b'","size":1,'
        b'"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}')
    assert isinstance(index, OCIIndex)
    os_name, arch, variant = wanted_platform(None)
    assert str(index.choose_instance(os_name, arch, variant).digest) == "sha256:" + "b" * 64
    # An explicit architecture detects nothing: the entry without a variant wins again.
    os_name, arch, variant = wanted_platform(SystemContext(override_arch="arm64"))
    assert str(index.choose_instance(os_name, arch, variant).digest) == "sha256:" + "a" * 64
