"""This machine's platform as Go names it: ``runtime.GOOS``/``GOARCH`` and containers/image's CPU variant.

skopeo is a Go program: where it uses "this machine" (choosing an instance of a manifest
list, a ``tarball:`` image's config, converting a list entry without a platform) it
means the Go names of the platform it was built for, and for ARM the CPU variant
containers/image reads from ``/proc/cpuinfo`` (``internal/pkg/platform``). Python names
machines differently (``x86_64``, ``aarch64``, ``armv7l``), so this one table and reader
give every caller the names skopeo would use on the same machine.
"""

from __future__ import annotations

import platform

#: Python's ``platform.machine()`` (lower-cased) → Go's GOARCH.
_GOARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv8l": "arm",
    "armv7l": "arm", "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le",
    "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64",
}

#: Where Linux describes the CPU (a module attribute so that tests can point it elsewhere).
CPUINFO = "/proc/cpuinfo"

#: ``CPU architecture`` values of /proc/cpuinfo → variant (containers/image's getCPUVariantArm).
_ARM_VARIANTS = {
    "8": "v8", "aarch64": "v8",
    "7m": "v7", "?(12)": "v7", "?(13)": "v7", "?(14)": "v7", "?(15)": "v7", "?(16)": "v7", "?(17)": "v7",
    "6": "v6", "6tej": "v6",
    "5": "v5", "5t": "v5", "5te": "v5", "5tej": "v5",
    "4": "v4", "4t": "v4",
    "3": "v3",
}


def go_arch() -> str:
    """This machine's architecture as Go's ``runtime.GOARCH`` (an unknown one as Python names it)."""
    machine = platform.machine().lower()
    return _GOARCH.get(machine, machine)


def go_os() -> str:
    """This machine's OS as Go's ``runtime.GOOS``."""
    return platform.system().lower() or "linux"


def cpu_variant(os_name: str, arch: str) -> str:
    """The CPU variant containers/image detects for this machine ("" for none or unknown).

    Only ARM has variants. On Linux they come from ``/proc/cpuinfo``'s first ``CPU
    architecture`` line (matched ignoring case, as Go's EqualFold); an ARMv7 that names its
    model "ARMv6-compatible" is a v6 (Raspberry Pi Zero kernels report 7). A file that cannot
    be read gives "" (containers/image logs that and goes on without a variant). Darwin and
    Windows have fixed variants.
    """
    if os_name in ("darwin", "windows"):
        return {"arm64": "v8", "arm": "v7"}.get(arch, "")
    if arch not in ("arm", "arm64") or os_name != "linux":
        return ""
    value = _cpuinfo("cpu architecture")
    if value is None:
        return ""
    value = value.lower()
    if value == "7":
        model = _cpuinfo("model name")
        if model is None:
            return ""
        return "v6" if model.lower().startswith("armv6-compatible") else "v7"
    return _ARM_VARIANTS.get(value, "")


def _cpuinfo(key: str) -> str | None:
    """The value of the first ``key: value`` line of /proc/cpuinfo (``key`` lower-case), or None."""
    try:
        with open(CPUINFO, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 1 and parts[0].strip().lower() == key:
                    return parts[1].strip()
    except OSError:
        return None
    return None
