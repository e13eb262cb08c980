"""containers/image itself as a test oracle: small Go programs built against its installed sources.

Test vectors restated from containers/image's tests cover the cases its authors thought
of; a differential test asks the real Go code about inputs nobody wrote down (hypothesis
generates them) and compares its answer with trustcopy's. The programs live in
``tests/goracle/<name>/main.go`` (our code: a few lines around one c/image function each)
and are built against the sources Debian's ``golang-github-containers-image-dev`` installs
under ``/usr/share/gocode`` (containers/image 5.23, what skopeo 1.9.3 is built from), in
GOPATH mode and offline. Where trustcopy deliberately follows a newer containers/image,
the test names the difference.

Much of what we compare is unexported (identity matching, payload parsing, lookaside URLs):
a program may add files to a containers/image package at build time, without copying or
changing anything, through ``go build -overlay``: ``tests/goracle/<name>/overlay/<import
path>/<file>.go`` is compiled as if it were in that package's directory, and can export
a thin wrapper (``func OracleMatches(...)``) for the program to call.

Each program answers one JSON request per line of stdin with one JSON line on stdout
(the loop is tests/goracle/lineserver, a package every program imports), so one process
serves a whole test module. Builds are cached per source hash under
``$XDG_CACHE_HOME/trustcopy-tests`` (with Go's build cache beside it), and serialized with
a file lock, since pytest-xdist workers may ask for the same oracle at once.

Tests using an oracle carry the ``goracle`` marker: without ``go`` they skip locally and
fail under ``CI=1`` (tests/conftest.py), like every other real tool.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "goracle"
GOCODE = Path("/usr/share/gocode")
#: Pure Go throughout: the openpgp signature mechanism instead of gpgme (no C library).
BUILD_FLAGS = ("-tags", "containers_image_openpgp")


def _cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = base / "trustcopy-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def build(name: str) -> Path:
    """The oracle binary for ``tests/goracle/<name>``, built if its source changed."""
    source = SOURCES / name
    overlay = {GOCODE / "src" / p.relative_to(source / "overlay"): p for p in sorted(source.glob("overlay/**/*.go"))}
    files = sorted(source.glob("*.go")) + list(overlay.values()) + sorted((SOURCES / "lineserver").glob("*.go"))
    digest = hashlib.sha256(" ".join(BUILD_FLAGS).encode() + b"".join(
        str(p.relative_to(SOURCES)).encode() + b"\0" + p.read_bytes() for p in files)).hexdigest()[:16]
    root = _cache_root()
    binary = root / "bin" / f"{name}-{digest}"
    if binary.exists():
        return binary
    binary.parent.mkdir(exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():  # another worker built it while we waited
            return binary
        # GOPATH mode: the program must sit inside a GOPATH for containers/image's own
        # ".../image/v5/..." imports to resolve (minimal module compatibility).
        # One GOPATH per checkout (several clones may share the cache, and build at once).
        gopath = root / "gopath" / hashlib.sha256(str(SOURCES).encode()).hexdigest()[:12]
        link = gopath / "src" / "tcoracle"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(SOURCES)
        env = {**os.environ, "GOPATH": f"{gopath}:{GOCODE}", "GO111MODULE": "off", "GOFLAGS": "",
               "GOCACHE": str(root / "go-build"), "CGO_ENABLED": "0", "GOPROXY": "off"}
        partial = binary.with_name(binary.name + ".part")
        command = ["go", "build", *BUILD_FLAGS, "-o", str(partial)]
        if overlay:
            mapping = root / f"overlay-{name}-{digest}.json"
            mapping.write_text(json.dumps({"Replace": {str(k): str(v) for k, v in overlay.items()}}))
            command.append(f"-overlay={mapping}")
        done = subprocess.run([*command, "."], cwd=link / name, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building the {name} oracle failed:\n{done.stderr}")
        partial.rename(binary)
    return binary


class Oracle:
    """One running oracle program: :meth:`ask` sends a request and returns its answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._proc = subprocess.Popen([str(build(name))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, encoding="utf-8", bufsize=1)

    def ask(self, request: Any) -> Any:
        """The oracle's JSON answer to one JSON request."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} oracle exited (status {self._proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        """Stop the program (it ends at the end of its input)."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def oracle_fixture(name: str, what: str) -> Any:
    """A module-scoped ``oracle`` fixture running ``tests/goracle/<name>`` (``what``: the c/image code it asks).

    In a test module: ``oracle = oracle_fixture("reference", "containers/image's docker/reference package")``.
    """

    @pytest.fixture(scope="module")
    def oracle() -> Iterator[Oracle]:
        running = Oracle(name)
        yield running
        running.close()

    oracle.__doc__ = f"{what}, running."
    return oracle


def reference_error_class(message: str) -> str:
    """trustcopy's error code for a docker/reference error message of containers/image (its reason, not its wording)."""
    if "must be lowercase" in message:
        return "reference-name-uppercase"
    if "64-byte hexadecimal" in message:
        return "reference-hex-identifier"
    if "must not be more than" in message:
        return "reference-name-too-long"
    if "digest" in message:
        return "reference-digest-invalid"
    if "must be canonical" in message:
        return "reference-not-canonical"
    return "invalid-reference"


class Obj(list[tuple[str, Any]]):
    """A JSON object to write as its (key, value) pairs: keys may repeat, as in a hand-edited file."""


def dump(value: Any) -> str:
    """The JSON text of ``value`` (Obj, list or a JSON scalar), repeated keys kept, non-ASCII as is."""
    if isinstance(value, Obj):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump(v) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
