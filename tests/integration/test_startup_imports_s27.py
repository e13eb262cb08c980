"""Start-up proportional to EVERY command (issue 14, item 1): what each command and its common variants import.

test_startup_imports.py pins a few commands (``--version``, a local copy, ``policy lint``, a
plain-HTTP registry copy); this file runs every other command once, in a fresh interpreter,
with that file's probe, and pins what each must NOT load: the HTTP stack (httpx, ssl,
sockets) where no registry is reached, gpg where nothing is signed or verified with GPG keys,
cryptography where no sigstore key is involved, rich/jsonschema/yaml where nothing renders,
validates a schema or reads YAML, and the standard modules a command only needs when it
writes (tempfile, shutil) or when an input is unusual (bz2 for a bzip2-compressed signature
packet, difflib for a "did you mean" hint). What a command does need is asserted too, so that
a probe which silently ran nothing cannot pass.

Structural, not timed (timings vary with the machine): bench/bench_registry.py measures time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image, write_oci
from registry_fixtures import RegistryServer, _require_registry, running
from test_startup_imports import CRYPTO, NETWORK, probe, top_level

from trustcopy.cli.main import main

pytestmark = pytest.mark.registry

#: Modules a command that reads no registry has no use for. ``socket`` and ``email`` are left
#: out for the gpg commands: python-gnupg itself imports them (email.utils), which we cannot avoid.
HTTP_STACK = {"httpx", "httpcore", "h11", "anyio", "certifi", "ssl", "zstandard", "urllib3"}
#: Only a command that writes files stages them (fsutil.make_staging_*): tempfile, and shutil
#: with the bz2/lzma modules it imports.
WRITERS_ONLY = {"tempfile", "shutil", "bz2", "lzma"}
#: Output and input helpers of particular commands.
RENDERING = {"rich", "jsonschema", "yaml", "difflib"}
IDENTITY = "example.com/startup/app:1"


@dataclass
class World:
    """What the commands of this file work on (made once per module)."""

    root: Path
    layout: str  # oci:DIR:app
    dir_image: Path  # dir: copy of the layout's image, unsigned
    gpg_signed: Path  # dir: image with a GPG signature for IDENTITY
    sigstore_signed: Path  # dir: image with a sigstore signature for IDENTITY
    manifest: Path
    gpg_signature: Path  # standalone signature of ``manifest`` for IDENTITY
    home: GPGHome
    fingerprint: str
    passphrase: Path
    sigstore_key: Path
    insecure: Path  # policy: insecureAcceptAnything
    gpg_policy: Path  # policy: signedBy for dir:, insecureAcceptAnything for oci:
    sigstore_policy: Path  # policy: sigstoreSigned for dir:, insecureAcceptAnything for oci:
    host: str  # plain-HTTP registry holding app:1

    def run(self, *args: str) -> None:
        """Run a trustcopy command in this process (set-up only)."""
        assert main(list(args)) == 0, args


def _policy(path: Path, dir_requirement: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "dir": {"": [dir_requirement]}, "oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _require_registry()
    root = tmp_path_factory.mktemp("startup-s27")
    write_oci({"app": example_image()}, str(root / "layout"))
    home = GPGHome()
    try:
        fpr = home.gen_key("startup <startup@example.com>")
        (root / "pub.gpg").write_bytes(home.export(fpr))
        (root / "pass").write_text("startup-pass\n")
        identity = {"type": "exactReference", "dockerReference": IDENTITY}
        insecure = root / "insecure.json"
        insecure.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        with pytest.MonkeyPatch.context() as mp, running(RegistryServer(root / "registry")) as reg:
            mp.setenv("GNUPGHOME", home.path)
            w = World(root=root, layout=f"oci:{root / 'layout'}:app", dir_image=root / "plain",
                      gpg_signed=root / "gpg-signed", sigstore_signed=root / "sigstore-signed",
                      manifest=root / "plain" / "manifest.json", gpg_signature=root / "standalone.sig",
                      home=home, fingerprint=fpr, passphrase=root / "pass", sigstore_key=root / "sk.private",
                      insecure=insecure,
                      gpg_policy=_policy(root / "gpg.json", {"type": "signedBy", "keyType": "GPGKeys",
                                                             "keyPath": str(root / "pub.gpg"),
                                                             "signedIdentity": identity}),
                      sigstore_policy=_policy(root / "sigstore.json", {"type": "sigstoreSigned",
                                                                       "keyPath": str(root / "sk.pub"),
                                                                       "signedIdentity": identity}),
                      host=reg.host)
            w.run("generate-sigstore-key", "--output-prefix", str(root / "sk"), "--passphrase-file", str(w.passphrase))
            ins = ("--policy", str(insecure), "copy", "-q")
            w.run(*ins, w.layout, f"dir:{w.dir_image}")
            w.run(*ins, "--sign-by", fpr, "--sign-identity", IDENTITY, w.layout, f"dir:{w.gpg_signed}")
            w.run(*ins, "--sign-by-sigstore-private-key", str(w.sigstore_key), "--sign-passphrase-file",
                  str(w.passphrase), "--sign-identity", IDENTITY, w.layout, f"dir:{w.sigstore_signed}")
            w.run("standalone-sign", "-o", str(w.gpg_signature), str(w.manifest), IDENTITY, fpr)
            for tag in ("app:1", "delete-me:1"):
                w.run(*ins, "--dest-tls-verify=false", w.layout, f"docker://{reg.host}/{tag}")
            (root / "sync-source").mkdir()
            w.run(*ins, w.layout, f"dir:{root / 'sync-source' / 'img'}")
            yield w
    finally:
        home.close()


@dataclass(frozen=True)
class Case:
    """One command line and what its process may and must load (top-level package names, and
    trustcopy module prefixes)."""

    args: Callable[[World, Path], list[str]]
    forbidden: frozenset[str]
    required: frozenset[str] = frozenset()
    forbidden_trustcopy: tuple[str, ...] = ()
    gnupghome: bool = False


def _case(args: Callable[[World, Path], list[str]], forbidden: Iterable[str], required: Iterable[str] = (),
          forbidden_trustcopy: tuple[str, ...] = (), gnupghome: bool = False) -> Case:
    return Case(args, frozenset(forbidden), frozenset(required), forbidden_trustcopy, gnupghome)


LOCAL = NETWORK | CRYPTO
NO_REGISTRY = ("trustcopy.transports.docker.client", "trustcopy.transports.docker.auth", "trustcopy.keepalive",
               "trustcopy.proxies")
GPG_ONLY = HTTP_STACK | {"cryptography", "nacl"}
SIGSTORE_ONLY = HTTP_STACK | {"gnupg", "subprocess"}

CASES: dict[str, Case] = {
    # -- read-only local commands: nothing written, so no staging either
    "inspect oci:": _case(lambda w, t: ["--policy", str(w.insecure), "inspect", w.layout],
                          LOCAL | WRITERS_ONLY | RENDERING, {"json"}, (*NO_REGISTRY, "trustcopy.policy",)),
    "inspect --config oci:": _case(lambda w, t: ["--policy", str(w.insecure), "inspect", "--config", w.layout],
                                   LOCAL | WRITERS_ONLY | RENDERING, {"json"}, (*NO_REGISTRY, "trustcopy.policy",)),
    "manifest-digest": _case(lambda w, t: ["manifest-digest", str(w.manifest)], LOCAL | WRITERS_ONLY | RENDERING,
                             {"hashlib"}, ("trustcopy.transports", "trustcopy.policy", "trustcopy.signature")),
    "lookaside where": _case(lambda w, t: ["lookaside", "where", f"docker://{IDENTITY}"],
                             LOCAL | WRITERS_ONLY | RENDERING, set(), (*NO_REGISTRY, "trustcopy.copy",)),
    "generate-sigstore-key": _case(lambda w, t: ["generate-sigstore-key", "--output-prefix", str(t / "k"),
                                                 "--passphrase-file", str(w.passphrase)],
                                   NETWORK | {"gnupg", "subprocess"} | RENDERING, {"cryptography"},
                                   ("trustcopy.transports", "trustcopy.policy")),
    "standalone-sign": _case(lambda w, t: ["standalone-sign", "-o", str(t / "sig"), str(w.manifest), IDENTITY,
                                           w.fingerprint],
                             GPG_ONLY | {"rich", "jsonschema", "yaml"}, {"gnupg"},
                             ("trustcopy.transports", "trustcopy.policy"), gnupghome=True),
    "standalone-verify": _case(lambda w, t: ["standalone-verify", "--public-key-file", str(w.root / "pub.gpg"),
                                             str(w.manifest), IDENTITY, w.fingerprint, str(w.gpg_signature)],
                               GPG_ONLY | RENDERING, {"gnupg"}, ("trustcopy.transports", "trustcopy.policy")),
    # -- policy commands on local images
    "verify oci:": _case(lambda w, t: ["--policy", str(w.insecure), "verify", w.layout],
                         LOCAL | WRITERS_ONLY | {"jsonschema", "yaml", "difflib"}, {"rich"},
                         (*NO_REGISTRY, "trustcopy.copy.blobs", "trustcopy.copy.pipeline")),
    "policy explain (insecureAcceptAnything)": _case(
        lambda w, t: ["policy", "explain", "--policy", str(w.insecure), w.layout],
        LOCAL | WRITERS_ONLY | {"jsonschema", "yaml", "difflib"}, {"rich"},
        (*NO_REGISTRY, "trustcopy.copy.blobs", "trustcopy.signature")),
    "policy explain (signedBy for another transport)": _case(
        lambda w, t: ["policy", "explain", "--policy", str(w.gpg_policy), w.layout],
        LOCAL | WRITERS_ONLY | {"jsonschema", "yaml", "difflib"}, {"rich"}, (*NO_REGISTRY, "trustcopy.signature",)),
    "policy explain (signedBy)": _case(
        lambda w, t: ["policy", "explain", "--policy", str(w.gpg_policy), f"dir:{w.gpg_signed}"],
        GPG_ONLY | {"jsonschema", "yaml"},
        {"gnupg", "rich"}, NO_REGISTRY, gnupghome=True),
    "policy test": _case(lambda w, t: ["policy", "test", "--policy", str(w.insecure), str(_policy_tests(w, t))],
                         LOCAL | WRITERS_ONLY | {"jsonschema", "difflib"}, {"yaml"}, NO_REGISTRY),
    "policy lint (signedBy)": _case(lambda w, t: ["policy", "lint", "--policy", str(w.gpg_policy)],
                                    GPG_ONLY | {"yaml"}, {"jsonschema", "gnupg"}, (*NO_REGISTRY, "trustcopy.copy",)),
    "policy lint (sigstoreSigned)": _case(lambda w, t: ["policy", "lint", "--policy", str(w.sigstore_policy)],
                                          SIGSTORE_ONLY | {"yaml"}, {"jsonschema", "cryptography"},
                                          (*NO_REGISTRY, "trustcopy.copy",)),
    # -- local copies
    "copy oci: → oci-archive:": _case(lambda w, t: ["--policy", str(w.insecure), "copy", "-q", w.layout,
                                                    f"oci-archive:{t / 'a.tar'}"],
                                      LOCAL | RENDERING, {"tempfile"}, (*NO_REGISTRY, "trustcopy.signature",)),
    "copy oci: → docker-archive:": _case(lambda w, t: ["--policy", str(w.insecure), "copy", "-q", w.layout,
                                                       f"docker-archive:{t / 'a.tar'}:a/b:1"],
                                         LOCAL | RENDERING, set(), (*NO_REGISTRY, "trustcopy.signature",)),
    "copy oci: → dir: --sign-by": _case(lambda w, t: ["--policy", str(w.insecure), "copy", "-q", "--sign-by",
                                                      w.fingerprint, "--sign-identity", IDENTITY, w.layout,
                                                      f"dir:{t / 'd'}"],
                                        GPG_ONLY | RENDERING, {"gnupg"}, NO_REGISTRY, gnupghome=True),
    "copy dir: → dir: under signedBy": _case(lambda w, t: ["--policy", str(w.gpg_policy), "copy", "-q",
                                                           f"dir:{w.gpg_signed}", f"dir:{t / 'd'}"],
                                             GPG_ONLY | RENDERING, {"gnupg"}, NO_REGISTRY, gnupghome=True),
    "copy oci: → dir: --sign-by-sigstore-private-key": _case(
        lambda w, t: ["--policy", str(w.insecure), "copy", "-q", "--sign-by-sigstore-private-key",
                      str(w.sigstore_key), "--sign-passphrase-file", str(w.passphrase), "--sign-identity", IDENTITY,
                      w.layout, f"dir:{t / 'd'}"],
        SIGSTORE_ONLY | RENDERING, {"cryptography"}, NO_REGISTRY),
    "copy dir: → dir: under sigstoreSigned": _case(lambda w, t: ["--policy", str(w.sigstore_policy), "copy", "-q",
                                                                 f"dir:{w.sigstore_signed}", f"dir:{t / 'd'}"],
                                                   SIGSTORE_ONLY | RENDERING, {"cryptography"}, NO_REGISTRY),
    # -- the registry (plain HTTP), unsigned images under insecureAcceptAnything: no crypto at all
    "inspect docker://": _case(lambda w, t: ["--policy", str(w.insecure), "inspect", "--tls-verify=false",
                                             f"docker://{w.host}/app:1"],
                               CRYPTO | RENDERING | {"concurrent"}, {"httpx"}, ("trustcopy.policy", "trustcopy.copy")),
    "inspect --config docker://": _case(lambda w, t: ["--policy", str(w.insecure), "inspect", "--config",
                                                      "--tls-verify=false", f"docker://{w.host}/app:1"],
                                        CRYPTO | RENDERING | {"concurrent"}, {"httpx"},
                                        ("trustcopy.policy", "trustcopy.copy")),
    "list-tags": _case(lambda w, t: ["list-tags", "--tls-verify=false", f"docker://{w.host}/app"],
                       CRYPTO | RENDERING | {"concurrent"}, {"httpx"},
                       ("trustcopy.policy", "trustcopy.copy", "trustcopy.signature", "trustcopy.manifest.model")),
    "verify docker://": _case(lambda w, t: ["--policy", str(w.insecure), "verify", "--tls-verify=false",
                                            f"docker://{w.host}/app:1"],
                              CRYPTO | {"jsonschema", "yaml", "difflib", "concurrent"}, {"httpx", "rich"},
                              ("trustcopy.copy.blobs", "trustcopy.transports.docker.destination")),
    "delete": _case(lambda w, t: ["delete", "--tls-verify=false", f"docker://{w.host}/delete-me:1"],
                    CRYPTO | RENDERING | {"concurrent"}, {"httpx"}, ("trustcopy.policy", "trustcopy.copy")),
    "login": _case(lambda w, t: ["login", "--authfile", str(t / "auth.json"), "--tls-verify=false", "-u", "u",
                                 "-p", "p", w.host],
                   CRYPTO | RENDERING | {"concurrent"}, {"httpx"}, ("trustcopy.policy", "trustcopy.copy")),
    "copy docker:// → dir:": _case(lambda w, t: ["--policy", str(w.insecure), "copy", "-q", "--src-tls-verify=false",
                                                 f"docker://{w.host}/app:1", f"dir:{t / 'd'}"],
                                   CRYPTO | RENDERING, {"httpx"}, ("trustcopy.transports.docker.destination",)),
    "sync docker → dir": _case(lambda w, t: ["--policy", str(w.insecure), "sync", "--src", "docker", "--dest", "dir",
                                             "--src-tls-verify=false", f"{w.host}/app", str(t / "out")],
                               CRYPTO | RENDERING, {"httpx"}, ("trustcopy.transports.docker.destination",)),
    "sync dir → docker": _case(lambda w, t: ["--policy", str(w.insecure), "sync", "--src", "dir", "--dest", "docker",
                                             "--dest-tls-verify=false", str(w.root / "sync-source"),
                                             f"{w.host}/synced"],
                               CRYPTO | RENDERING, {"httpx"}, ("trustcopy.transports.docker.source",)),
}


def _within(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules that are one of ``packages`` or inside one."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def _policy_tests(w: World, tmp: Path) -> Path:
    path = tmp / "cases.yaml"
    path.write_text(f"cases:\n  - image: {w.layout}\n    expect: accepted\n")
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_command_loads_only_what_it_uses(name: str, world: World, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    if case.gnupghome:
        monkeypatch.setenv("GNUPGHOME", world.home.path)
    rec = probe(tmp_path, "--watch-regex", *case.args(world, tmp_path))
    loaded = rec["loaded"]
    packages = top_level(loaded)
    assert not packages & case.forbidden, sorted(packages & case.forbidden)
    assert packages >= case.required, sorted(case.required - packages)
    assert _within(loaded, case.forbidden_trustcopy) == []
    assert rec["compiled_at_import"] == []


def test_a_plain_http_inspect_creates_one_tls_context_and_loads_no_ca(world: World, tmp_path: Path) -> None:
    """The HTTPS probe before plain HTTP (``--tls-verify=false``) needs a context, never the CA store."""
    rec = probe(tmp_path, "--watch-ssl", "--policy", str(world.insecure), "inspect", "--tls-verify=false",
                f"docker://{world.host}/app:1")
    assert json.loads(rec["stdout"])["Name"] == f"{world.host}/app"
    assert rec["ssl"] == ["SSLContext"]


def test_logout_reads_the_auth_file_without_the_http_stack(world: World, tmp_path: Path) -> None:
    """``logout`` removes an entry written by ``login``: it works (the entry is gone), and without httpx."""
    auth = tmp_path / "auth.json"
    assert main(["login", "--authfile", str(auth), "--tls-verify=false", "-u", "someone", "-p", "secret",
                 world.host]) == 0
    assert world.host in json.loads(auth.read_text())["auths"]
    rec = probe(tmp_path, "logout", "--authfile", str(auth), world.host)
    assert world.host not in json.loads(auth.read_text()).get("auths", {})
    assert not top_level(rec["loaded"]) & (NETWORK | CRYPTO | RENDERING), sorted(top_level(rec["loaded"]))
    assert _within(rec["loaded"], (*NO_REGISTRY, "trustcopy.copy", "trustcopy.policy")) == []
    assert "trustcopy.transports.docker.credentials" in rec["loaded"]


def test_no_trustcopy_module_compiles_a_regex_while_being_imported() -> None:
    """Every module, not only those of the commands above (the rule of docs: compile lazily).

    gpg's fingerprint patterns, the JUnit writer's, rekor's hex and the tar reader's numbers
    were compiled at import: every signed copy, ``verify`` and archive command paid for them."""
    import subprocess
    import sys

    script = ("import importlib, pkgutil, re, sys\n"
              "import trustcopy\n"
              "seen = []\n"
              "_c = re.compile\n"
              "def rec(pattern, flags=0):\n"
              "    g = sys._getframe(1)\n"
              "    if g.f_code.co_name == '<module>': seen.append(g.f_globals.get('__name__'))\n"
              "    return _c(pattern, flags)\n"
              "re.compile = rec\n"
              "for m in pkgutil.walk_packages(trustcopy.__path__, 'trustcopy.'):\n"
              "    if m.name != 'trustcopy.__main__':  # (runs the CLI)\n"
              "        importlib.import_module(m.name)\n"
              "print(len(sys.modules), sorted({m for m in seen if m and m.startswith('trustcopy')}))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    count, _, compiled = r.stdout.strip().partition(" ")
    assert int(count) > 150  # the walk imported the package (a broken walk would pass vacuously)
    assert compiled == "[]", compiled
