"""Running skopeo 1.9.3 and trustcopy side by side on registry images with signatures.

Both programs run as subprocesses with the same environment: a GNUPGHOME holding the
keys-example secret key, an empty ``$HOME`` (so no user registries.d / registries.conf /
certs.d leaks in), and the same registries.d directory and registries.conf file given
on the command line. :class:`Env` builds those files; :func:`run` runs either tool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Image, _dumps, write_oci

ROOT = Path(__file__).resolve().parents[2]
FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
PUBRING = KEYS_EXAMPLE / "pubring.gpg"
TOOLS = ["skopeo", "trustcopy"]
#: registries.d keys: the current names and the legacy ones skopeo 1.9.3 also reads.
KEYS = {"current": ("lookaside", "lookaside-staging"), "legacy": ("sigstore", "sigstore-staging")}


def command(tool: str) -> list[str]:
    """The command line that starts ``tool``."""
    return ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]


@dataclass
class Env:
    """A test's environment: home, GnuPG home, registries.d directory, registries.conf file."""

    tmp: Path
    gpg: GPGHome
    regd: Path = field(init=False)
    conf: Path = field(init=False)
    home: Path = field(init=False)
    #: registries.d ``docker:`` sections written so far (store() adds one per host).
    sections: dict[str, dict[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.home = self.tmp / "home"
        self.home.mkdir(exist_ok=True)
        self.regd = self.tmp / "registries.d"
        self.regd.mkdir(exist_ok=True)
        self.conf = self.tmp / "registries.conf"
        self.conf.write_text("")
        self.registries_d({})

    def environ(self) -> dict[str, str]:
        """The environment both tools run with."""
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {k: v for k, v in os.environ.items() if k not in ("CONTAINERS_REGISTRIES_CONF", "REGISTRIES_CONFIG_PATH",
                                                                "REGISTRY_AUTH_FILE")}
        return {**env, "HOME": str(self.home), "GNUPGHOME": self.gpg.path, "PYTHONPATH": pythonpath,
                "XDG_RUNTIME_DIR": str(self.home)}

    def run(self, tool: str, *args: str, policy: Path | None = None, conf: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``tool [--policy P | --insecure-policy] --registries.d D [--registries-conf C] ARGS``."""
        head = ["--policy", str(policy)] if policy is not None else ["--insecure-policy"]
        head += ["--registries.d", str(self.regd)]
        if conf:
            head += ["--registries-conf", str(self.conf)]
        return subprocess.run([*command(tool), *head, *args], env={**self.environ(), **(env or {})},
                              capture_output=True, text=True, timeout=180, check=False)

    def registries_d(self, sections: dict[str, dict[str, Any]], default: dict[str, Any] | None = None) -> None:
        """Write ``registries.d/test.yaml`` (JSON is YAML).

        ``default-docker`` is a store in the test's directory unless given: without one, both
        tools would write to the built-in default (``/var/lib/containers/sigstore`` for root).
        """
        doc: dict[str, Any] = {"docker": sections,
                               "default-docker": default or {"lookaside": f"file://{self.tmp}/default-store"}}
        (self.regd / "test.yaml").write_text(json.dumps(doc))

    def store(self, name: str, host: str, keys: tuple[str, str] = KEYS["current"]) -> Path:
        """A file:// store read and written for ``host`` (returned), with the given key names."""
        path = self.tmp / name
        self.sections[host] = {keys[0]: f"file://{path}", keys[1]: f"file://{path}"}
        self.registries_d(self.sections)
        return path


def signed_by_policy(path: Path, scope: str, identity: dict[str, str] | None = None) -> Path:
    """A policy: ``docker`` scope → signedBy the keys-example key (optionally with a signedIdentity); else reject."""
    req: dict[str, Any] = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(PUBRING)}
    if identity is not None:
        req["signedIdentity"] = identity
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {scope: [req]}}}))
    return path


def write_oci_list(path: Path, name: str, index: bytes, blobs: dict[str, bytes]) -> str:
    """An OCI layout whose ``name`` is a manifest list (``make_index`` output); returns the list's digest."""
    import hashlib

    write_oci({}, str(path))
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    for d, data in {**blobs, digest: index}.items():
        (path / "blobs" / "sha256" / d.split(":", 1)[1]).write_bytes(data)
    entry = {"mediaType": json.loads(index)["mediaType"], "digest": digest, "size": len(index),
             "annotations": {"org.opencontainers.image.ref.name": name}}
    (path / "index.json").write_bytes(_dumps({"schemaVersion": 2, "manifests": [entry]}))
    return digest


def signature_files(store: Path) -> list[str]:
    """Every file under a store, relative to it, sorted."""
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def oci_source(tmp: Path, image: Image, tag: str = "t") -> str:
    """Write ``image`` to an OCI layout; return its ``oci:`` name."""
    write_oci({tag: image}, str(tmp / "src"))
    return f"oci:{tmp / 'src'}:{tag}"
