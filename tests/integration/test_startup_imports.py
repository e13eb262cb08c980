"""Start-up does what the command needs, nothing more (issue 14): a structural test, not a timed one.

Each test runs one real ``trustcopy`` command in a fresh interpreter (as the console script
does: ``defer_first_collection()``, then ``main``) and looks at what it imported, compiled,
created or collected. Timings vary with the machine; which modules a command loads does not, so this is
what the suite pins. bench/bench_registry.py measures the time.

Modules the interpreter had loaded before trustcopy started (site, an editable install's
import hook) are not counted against trustcopy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_oci

#: Runs ``main(ARGS)`` and records sys.modules before and after, plus what ssl was asked to
#: do (every SSLContext created, every CA store load) and which trustcopy module compiled
#: a regular expression while being imported.
_PROBE = r"""
import sys
before = sorted(sys.modules)
out, args = sys.argv[1], sys.argv[2:]
record = {"ssl": [], "compiled_at_import": []}
if "--watch-ssl" in args:
    args.remove("--watch-ssl")
    import ssl
    _new = ssl.SSLContext.__new__
    def _counting_new(cls, *a, **k):
        record["ssl"].append("SSLContext")
        return _new(cls, *a, **k)
    ssl.SSLContext.__new__ = _counting_new
    for _name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
        def _wrap(self, *a, _orig=getattr(ssl.SSLContext, _name), _n=_name, **k):
            record["ssl"].append(_n)
            return _orig(self, *a, **k)
        setattr(ssl.SSLContext, _name, _wrap)
if "--watch-regex" in args:
    args.remove("--watch-regex")
    import re
    _compile = re.compile
    def _recording_compile(pattern, flags=0):
        frame = sys._getframe(1)
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__", "").startswith("trustcopy"):
            record["compiled_at_import"].append(frame.f_globals["__name__"])
        return _compile(pattern, flags)
    re.compile = _recording_compile
import gc
from trustcopy.cli.main import defer_first_collection, main
collections_before = sum(g["collections"] for g in gc.get_stats())  # site, an editable install's hook
defer_first_collection()
try:
    record["exit"] = main(args)
finally:
    after = sorted(sys.modules)
    import json
    record.update(before=before, after=after)
    record["gc_collections"] = sum(g["collections"] for g in gc.get_stats()) - collections_before
    # Dataclasses (trustcopy.lazy.dataclass) still waiting for a first instance, and those made.
    pending, made, compiled = [], [], []
    for name in after:
        module = sys.modules.get(name)
        if not name.startswith("trustcopy") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                if "__trustcopy_deferred_dataclass__" in value.__dict__:
                    pending.append(f"{name}.{value.__qualname__}")
                elif "__dataclass_fields__" in value.__dict__:
                    made.append(f"{name}.{value.__qualname__}")
                    if not getattr(value.__init__, "from_fields", False):  # dataclasses compiled it
                        compiled.append(f"{name}.{value.__qualname__}")
    record.update(pending_dataclasses=pending, made_dataclasses=made, compiled_dataclasses=compiled)
    with open(out, "w") as f:
        json.dump(record, f)
"""


def probe(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run ``trustcopy ARGS`` in a fresh interpreter; what it loaded and did (see _PROBE)."""
    out = tmp_path / "probe.json"
    r = subprocess.run([sys.executable, "-c", _PROBE, str(out), *args], capture_output=True, text=True,
                       timeout=120, check=False)
    assert out.exists(), r.stderr
    record: dict[str, Any] = json.loads(out.read_text())
    assert record["exit"] == 0, r.stderr
    # transports/docker/__init__ registers an empty placeholder for httpx's own CLI module
    # (so that a later ``import httpx`` skips rich and pygments); it is not httpx.
    record["loaded"] = set(record["after"]) - set(record["before"]) - {"httpx._main"}
    record["stdout"] = r.stdout
    return record


def top_level(modules: set[str]) -> set[str]:
    """The packages the modules belong to."""
    return {m.split(".")[0] for m in modules}


#: Never needed without a registry: the HTTP stack (and its TLS and e-mail header parsing).
NETWORK = {"httpx", "httpcore", "h11", "certifi", "ssl", "socket", "http", "email", "urllib3"}
#: Never needed without signing or verifying: crypto and gpg, and the subprocess they drive.
CRYPTO = {"cryptography", "gnupg", "subprocess"}


@pytest.fixture
def layout(tmp_path: Path) -> str:
    """``oci:DIR:app`` holding a small image."""
    write_oci({"app": example_image()}, str(tmp_path / "layout"))
    return f"oci:{tmp_path / 'layout'}:app"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    """A policy that accepts anything (these tests are about start-up, not policy)."""
    p = tmp_path / "policy.json"
    p.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return p


def test_version_imports_no_click_and_no_command(tmp_path: Path) -> None:
    rec = probe(tmp_path, "--version")
    assert rec["stdout"] == "trustcopy version 0.1.0\n"
    assert {m for m in rec["loaded"] if m.startswith("trustcopy")} == {"trustcopy", "trustcopy.lazy", "trustcopy.cli",
                                                                       "trustcopy.cli.main"}
    assert not top_level(rec["loaded"]) & {"click", "typing", "re", "json", "threading", "signal", "dataclasses"}, \
        sorted(rec["loaded"])


def test_local_copy_imports_no_network_and_no_crypto(tmp_path: Path, layout: str, policy: Path) -> None:
    rec = probe(tmp_path, "--watch-regex", "--policy", str(policy), "copy", "-q", layout, f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").exists()
    loaded = rec["loaded"]
    assert not top_level(loaded) & (NETWORK | CRYPTO | {"rich", "jsonschema", "difflib", "csv"}), sorted(loaded)
    # The command's RegistrySession is made (a few dicts), but no registry code is loaded.
    docker = {m for m in loaded if m.startswith("trustcopy.transports.docker")}
    assert docker <= {"trustcopy.transports.docker", "trustcopy.transports.docker.session"}
    assert not {m for m in loaded if m.startswith(("trustcopy.signature", "trustcopy.reference", "trustcopy.redact"))}
    # Nothing the copy imported compiled a regular expression while being imported.
    assert rec["compiled_at_import"] == []
    # Start-up's long-lived objects are not walked by the cyclic collector (defer_first_collection).
    assert rec["gc_collections"] == 0


def test_policy_lint_imports_no_network_and_no_crypto(tmp_path: Path, policy: Path) -> None:
    rec = probe(tmp_path, "policy", "lint", "--policy", str(policy))
    loaded = rec["loaded"]
    assert not top_level(loaded) & (NETWORK | CRYPTO), sorted(loaded)
    assert not {m for m in loaded if m.startswith(("trustcopy.transports.docker", "trustcopy.copy"))}


def test_modules_of_the_docker_path_compile_no_regex_at_import(tmp_path: Path, policy: Path) -> None:
    """The reference grammar and the docker transport's patterns are compiled on first use."""
    rec = probe(tmp_path, "--watch-regex", "--version")
    assert rec["compiled_at_import"] == []
    script = ("import re, sys\n"
              "seen = []\n"
              "_c = re.compile\n"
              "re.compile = lambda p, f=0: (seen.append(sys._getframe(1).f_globals.get('__name__')), _c(p, f))[1]\n"
              "import trustcopy.reference, trustcopy.digest, trustcopy.redact\n"
              "import trustcopy.transports.docker.source, trustcopy.transports.docker.destination\n"
              "print(sorted({m for m in seen if m and m.startswith('trustcopy')}))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert r.stdout.strip() == "[]", r.stdout


@pytest.mark.registry
def test_plain_http_registry_loads_no_ca_store_and_shares_one_tls_context(
        tmp_path: Path, layout: str, policy: Path, plain_registry: Any) -> None:
    """Registry to registry over plain HTTP: the HTTPS probe containers/image makes first
    (``--tls-verify=false``: HTTPS, then HTTP) needs a TLS context, but one without any CA
    certificates loaded, and one for the whole process (source and destination share it)."""
    from trustcopy.cli.main import main

    assert main(["--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", layout,
                 f"docker://{plain_registry.host}/app:1"]) == 0
    rec = probe(tmp_path, "--watch-ssl", "--watch-regex", "--policy", str(policy), "copy", "-q",
                "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{plain_registry.host}/app:1",
                f"docker://{plain_registry.host}/other:1")
    assert rec["ssl"] == ["SSLContext"]
    assert not top_level(rec["loaded"]) & (CRYPTO | {"rich", "jsonschema"})
    assert rec["compiled_at_import"] == []


#: Dataclasses a registry copy of an unsigned single image under ``insecureAcceptAnything``
#: has no use for: identity matchers, other manifest kinds, signature formats, the
#: signedBy requirement. The classes must not be made (most of their modules are imported).
UNUSED_BY_A_PLAIN_COPY = {
    "trustcopy.policy.identity.MatchRepository", "trustcopy.policy.identity.RemapIdentity",
    "trustcopy.policy.requirements.SignedBy", "trustcopy.manifest.lists.OCIIndex",
    "trustcopy.manifest.lists.DockerManifestList", "trustcopy.manifest.schema1.Schema1Manifest",
    "trustcopy.signature.formats.SimpleSigning", "trustcopy.signature.formats.SigstoreSignature",
}


@pytest.mark.registry
def test_registry_copy_makes_only_the_dataclasses_it_uses(
        tmp_path: Path, layout: str, policy: Path, plain_registry: Any) -> None:
    """trustcopy.lazy.dataclass: a class costs its generated methods only once it has an instance."""
    rec = probe(tmp_path, "--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", layout,
                f"docker://{plain_registry.host}/lazy:1")
    pending, made = set(rec["pending_dataclasses"]), set(rec["made_dataclasses"])
    loaded = {name.rpartition(".")[0] for name in UNUSED_BY_A_PLAIN_COPY} & rec["loaded"]
    assert not made & UNUSED_BY_A_PLAIN_COPY, sorted(made & UNUSED_BY_A_PLAIN_COPY)
    assert pending >= {c for c in UNUSED_BY_A_PLAIN_COPY if c.rpartition(".")[0] in loaded}
    # A push from a local layout reads and writes no signature: their stores and formats stay unloaded.
    assert not {m for m in rec["loaded"] if m.startswith(("trustcopy.signature", "trustcopy.stores.lookaside"))}
    # ... while what the copy did use was made (the probe sees both kinds).
    assert {"trustcopy.types.BlobInfo", "trustcopy.manifest.model.OCIManifest"} <= made
    # ... and made without compiling their methods (trustcopy.dataclass_methods).
    assert rec["compiled_dataclasses"] == []


@pytest.mark.registry
def test_repushing_an_image_the_registry_holds_starts_no_blob_work(
        tmp_path: Path, layout: str, policy: Path, plain_registry: Any) -> None:
    """One HEAD decides (copy --skip-identical): no blob machinery, no thread pool, no compression
    (httpx imports zstandard itself)."""
    from trustcopy.cli.main import main

    dest = f"docker://{plain_registry.host}/again:1"
    assert main(["--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", layout, dest]) == 0
    rec = probe(tmp_path, "--policy", str(policy), "copy", "-q", "--dest-tls-verify=false", layout, dest)
    assert not {m for m in rec["loaded"] if m.startswith(("concurrent", "isal", "trustcopy.copy.blobs",
                                                          "trustcopy.compression"))}, sorted(rec["loaded"])
    assert rec["compiled_dataclasses"] == []
    assert rec["gc_collections"] == 0
