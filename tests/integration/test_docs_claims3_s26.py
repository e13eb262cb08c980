"""The docs' concrete claims, part 3: README.md, guide.md, ARCHITECTURE.md and the remaining command pages.

Parts 1 and 2 (test_docs_claims_s26.py, test_docs_claims2_s26.py) check errors.md, policy.md,
registries.md, sync.md, verify.md and the pages they name. This file reads what the README, the
guide, ARCHITECTURE.md and the pages of list-tags, delete, manifest-digest, standalone-sign,
generate-sigstore-key and policy test *say* and checks it against the code or a run, so that a
page and the code cannot drift apart unnoticed. Claims found false while writing it (fixed in the
pages): ARCHITECTURE.md's layer order (no `sync`, `gojson` and `lazy` on the wrong floors, five
modules missing), its "only cli/main.py catches TrustcopyError", guide.md's policy search path
(no `$XDG_CONFIG_HOME`, no `/usr/share/containers/policy.json`).
"""

from __future__ import annotations

import ast
import base64
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import click
import pytest

import trustcopy
from trustcopy.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (ROOT / name).read_text()


def _flat(name: str) -> str:
    """The page with every run of white space made one space (claims wrap across lines)."""
    return re.sub(r"\s+", " ", _page(name))


def _one(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _command(*path: str) -> click.Command:
    from trustcopy.cli.app import cli

    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, name
        command = found
    return command


def _option_default(path: tuple[str, ...], name: str) -> object:
    for param in _command(*path).params:
        if isinstance(param, click.Option) and name in param.opts:
            return param.default
    raise AssertionError(f"{' '.join(path)} has no {name}")


# --- README.md -------------------------------------------------------------------------------------


def test_readme_transport_table_is_what_help_lists(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's transport table and `trustcopy --help`'s list name the same transports."""
    documented = set(re.findall(r"^\| `([a-z-]+):(?://)?` \|", _page("README.md"), re.M))
    status, out, _ = _run(capsys, "--help")
    assert status == 0
    listed = set(re.findall(r"^  ([a-z-]+):", out.split("Supported transports:")[1], re.M))
    assert documented == listed
    from trustcopy.transports.alltransports import known_transport_names

    assert documented == set(known_transport_names())


def test_readme_numeric_defaults_are_the_codes() -> None:
    """"at a time, default 6" (--max-parallel) and "exponential backoff from 1 s" (the retry delay)."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.types import DEFAULT_RETRY_DELAY

    text = _flat("README.md")
    parallel = int(_one(r"`--max-parallel` \(or `--image-parallel-copies`\) at a time, default (\d+)", text)[1])
    assert parallel == _option_default(("copy",), "--max-parallel") == CopyOptions().max_parallel
    backoff = float(_one(r"exponential backoff from (\d+) s", text)[1])
    assert backoff == DEFAULT_RETRY_DELAY


def test_readme_set_up_packages_are_the_run_scripts() -> None:
    """The Debian packages the README says `./run` installs are the script's list, and CI is lint then test."""
    listed = set(re.findall(r"`([a-z0-9.-]+)`", _one(r"install the Debian packages the tests talk to \((.*?)\)\.",
                                                         _flat("README.md"))[1]))
    script = _one(r"(?ms)^DEBIAN_PACKAGES=\((.*?)\)", _page("run"))[1].split()
    assert listed == set(script)
    ci = [line for line in _page(".ci/run").splitlines() if line.startswith(("./run", "exec ./run", "export CI"))]
    assert ci == ["export CI=1", "./run lint", 'exec ./run test --durations=15 "$@"']


def make_demo_tree(path: Path) -> Path:
    """scripts/demo.sh in ``path`` with links to the checkout's demo inputs, so that out/demo lands there."""
    (path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "demo.sh", path / "scripts" / "demo.sh")
    for name in ("examples", "keys-example", "policies"):
        (path / name).symlink_to(ROOT / name)
    return path


@pytest.fixture
def demo_tree(tmp_path: Path) -> Path:
    """scripts/demo.sh in a copy of the checkout's demo inputs, so that out/demo lands in tmp_path."""
    return make_demo_tree(tmp_path)


def test_demo_does_the_six_steps_the_readme_lists(demo_tree: Path) -> None:
    """Each numbered step of "What the demo does" is the demo's step of that number, with its files."""
    bin_dir = Path(sys.executable).parent
    # A short private TMPDIR: the demo's keyring goes there (not straight into /tmp, where
    # test_review2_s26 looks for keyrings the demo failed to remove while this runs beside it).
    short_tmp = tempfile.mkdtemp(prefix="tcd", dir="/tmp")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": short_tmp}
    try:
        done = subprocess.run(["bash", str(demo_tree / "scripts" / "demo.sh")], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert os.listdir(short_tmp) == []  # and the keyring it made there is gone
    finally:
        shutil.rmtree(short_tmp, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    section = _page("README.md").split("## What the demo does")[1].split("\n## ")[0]
    steps = re.findall(r"^(\d+)\. (.*(?:\n   .*)*)", section, re.M)
    headers = dict(re.findall(r"^=== (\d+)/\d+ (.*)$", done.stdout, re.M))
    assert [int(n) for n, _ in steps] == list(range(1, len(headers) + 1))
    for number, claim in steps:
        for path in re.findall(r"`((?:examples|keys-example|policies)/[^`]*)`", claim):
            assert path.rstrip("/") in headers[number], (number, path, headers[number])
    # 4: the explanation accepts the signed image; 5: the signature verified, so the copy back
    # happened; 6: the unsigned copy refused for want of a signature, nothing written.
    assert re.search(r"^ACCEPTED dir:", done.stdout, re.M)
    assert "Writing manifest to image destination" in done.stdout.split("=== 5/6")[1]
    assert "reason NO_SIGNATURES" in done.stderr
    assert not (demo_tree / "out" / "demo" / "rejected").exists()
    assert (demo_tree / "out" / "demo" / "layout" / "index.json").exists()


# --- docs/guide.md ---------------------------------------------------------------------------------


def test_guide_policy_search_order_is_the_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Found: the guide named files skopeo never reads (session 29: so did the code)."""
    from trustcopy import paths

    sentence = _one(r"without a policy file \((.*?)\) trustcopy refuses", _flat("docs/guide.md"))[1]
    named = re.findall(r"`([^`]+)`", sentence)
    assert named[0] == "--policy FILE"
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # changes nothing
    assert [f.replace("~", str(home)) for f in named[1:]] == paths.policy_search_paths()


def test_guide_scope_candidates_are_the_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    """"for `docker://…` the candidates are the image itself, `…`, …, then the transport's `""`"."""
    from trustcopy.transports.alltransports import parse_image_name

    text = _flat("docs/guide.md")
    claim = _one(r"for `(docker://[^`]+)` the candidates are the image itself, (.*?), then the transport's", text)
    ref = parse_image_name(claim[1])
    documented = re.findall(r"`([^`]+)`", claim[2])
    assert ref.policy_configuration_identity() == claim[1].removeprefix("docker://")
    assert documented == ref.policy_configuration_namespaces()


def test_guide_default_signed_identity_is_the_parsers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"`matchRepoDigestOrExact` (the default …)": what explain shows for a signedBy without signedIdentity."""
    from imagefactory import example_image, write_oci

    default = _one(r"`(\w+)` \(the default", _flat("docs/guide.md"))[1]
    layout = tmp_path / "layout"
    write_oci({"app": example_image()}, str(layout))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys",
                                               "keyPath": str(ROOT / "keys-example" / "pubring.gpg")}]}))
    status, out, _ = _run(capsys, "--policy", str(policy), "policy", "explain", f"oci:{layout}:app")
    assert status == 1
    assert f"signedIdentity: {default})" in out


def test_guide_python_version_is_the_projects() -> None:
    minimum = _one(r"needs Python (\d+\.\d+) or newer", _flat("docs/guide.md"))[1]
    project = tomllib.loads(_page("pyproject.toml"))["project"]
    assert project["requires-python"] == f">={minimum}"


# --- docs/ARCHITECTURE.md --------------------------------------------------------------------------


def test_architecture_layers_are_the_import_contract() -> None:
    """Found: the sentence lacked `sync` and five modules, and put `gojson` and `lazy` on wrong floors."""
    sentence = _one(r"pyproject\.toml fixes (.*?); function-local imports count", _flat("docs/ARCHITECTURE.md"))[1]
    documented = [sorted(floor.strip().split("/")) for floor in sentence.split("→")]
    contracts = tomllib.loads(_page("pyproject.toml"))["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    expected = [sorted(m.strip().removeprefix("trustcopy.") for m in floor.split("|")) for floor in layers]
    assert documented == expected


#: Backticked dotted names on ARCHITECTURE.md that are not trustcopy's (Go, the standard library,
#: dataclass options, file names); every other one must name something in trustcopy.
_FOREIGN_NAMES = {"__eq__", "__match_args__", "dataclasses.dataclass", "double.signature", "find_spec", "kw_only",
                  "manifest.Schema2Image", "re.compile", "runtime.GOOS", "time.Time", "unsafe_hash", "v1.Image",
                  "weakref.finalize"}


def _resolves(token: str, modules: list[str], source: str) -> bool:
    """``token`` names a trustcopy module attribute (by a module's dotted suffix) or a definition."""
    parts = token.split(".")
    for module in ["trustcopy", *modules]:
        names = module.split(".")
        for k in range(1, min(len(names), len(parts)) + 1):
            if names[-k:] != parts[:k]:
                continue
            obj: object = importlib.import_module(module)
            try:
                for attr in parts[k:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                continue
            return True
    if len(parts) == 1:
        name = re.escape(token)
        return re.search(rf"^\s*(?:def|class) {name}\b|^{name}\s*[:=]", source, re.M) is not None
    owner, attr = parts[0], parts[-1]
    return (re.search(rf"^\s*class {re.escape(owner)}\b", source, re.M) is not None
            and re.search(rf"^\s*(?:def {re.escape(attr)}\b|{re.escape(attr)}\s*:)", source, re.M) is not None)


def test_architecture_names_exist() -> None:
    """Every function, class, constant and file the page names in backticks is in the tree."""
    text = _page("docs/ARCHITECTURE.md")
    modules = [m.name for m in pkgutil.walk_packages(trustcopy.__path__, "trustcopy.")]
    source = "\n".join(p.read_text() for p in (ROOT / "trustcopy").rglob("*.py"))
    missing = []
    for token in set(re.findall(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`", text)):
        if (("." in token or "_" in token) and not token.endswith((".py", ".json", ".md", ".go"))
                and token not in _FOREIGN_NAMES and not _resolves(token, modules, source)):
            missing.append(token)
    for path in set(re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.py)`", text)):
        if not any((base / path).exists() for base in (ROOT, ROOT / "trustcopy")):
            missing.append(path)
    assert sorted(missing) == []


def test_architecture_catching_claim_is_true() -> None:
    """Found false as "only cli/main.py catches TrustcopyError": commands catch it, but none prints it or exits."""
    claim = _flat("docs/ARCHITECTURE.md")
    assert "only `cli/main.py` turns a `TrustcopyError` into a message and an exit status" in claim
    handlers = 0
    for path in (ROOT / "trustcopy" / "cli").rglob("*.py"):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ExceptHandler) and "TrustcopyError" in ast.unparse(node.type or ast.Pass())):
                continue
            handlers += 1
            calls = {ast.unparse(c.func) for stmt in node.body for c in ast.walk(stmt) if isinstance(c, ast.Call)}
            assert not calls & {"click.echo", "sys.exit", "ctx.exit", "echo_json", "print"}, (path, node.lineno)
    assert handlers > 0  # the commands that rewrap or report one are still there to check

def test_architecture_limits_are_the_codes() -> None:
    from trustcopy import compression, limits
    from trustcopy.cli import main as cli_main
    from trustcopy.stores import attachments
    from trustcopy.transports.docker import session, uploads

    mib, kib = 1 << 20, 1 << 10
    text = _flat("docs/ARCHITECTURE.md")
    claims = [
        (r"read bounded \((\d+) layers, \d+ pages", attachments.MAX_ATTACHMENT_LAYERS),
        (r"layers, (\d+) pages, \d+ referrers", attachments.MAX_REFERRER_PAGES),
        (r"pages, (\d+) referrers, \d+ MiB each", attachments.MAX_REFERRERS),
        (r"referrers, (\d+) MiB each", limits.MAX_SIGNATURE_BODY // mib),
        (r"bound nesting \((\d+) levels\)", limits.MAX_JSON_DEPTH),
        (r"declaring a window above (\d+) MiB", compression.MAX_ZSTD_WINDOW // mib),
        (r"first collection now waits for ([\d ]+) allocations", cli_main.START_GEN0_THRESHOLD),
        (r": (\d+) MiB shared by the streams", session.SOCKET_READ_BUDGET // mib),
        (r"Uploads read the source (\d+) KiB at a time", uploads._READ_AHEAD_SIZE // kib),
    ]
    wrong = [(p, found, v) for p, v in claims if (found := int(_one(p, text)[1].replace(" ", ""))) != v]
    assert wrong == []


# --- the command pages -----------------------------------------------------------------------------


def test_manifest_digest_as_its_page_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read up to the page's N MiB; default sha256; exit 2 for a usage error; sha512 on request."""
    from imagefactory import example_image

    from trustcopy import limits

    text = _flat("docs/commands/manifest-digest.md")
    cap = int(_one(r"it is read up to (\d+) MiB", text)[1]) << 20
    assert cap == limits.MAX_MANIFEST_BODY
    default = _one(r"\(default (sha\d+)\)", text)[1]
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(example_image().manifest)
    status, out, _ = _run(capsys, "manifest-digest", str(manifest))
    assert (status, out.split(":")[0]) == (0, default)
    status, out, _ = _run(capsys, "manifest-digest", "--manifest-digest", "sha512", str(manifest))
    assert status == 0 and re.fullmatch(r"sha512:[0-9a-f]{128}\n", out)
    big = tmp_path / "big.json"
    big.write_bytes(b'{"a":"' + b"x" * cap + b'"}')
    status, _, err = _run(capsys, "manifest-digest", str(big))
    assert status == 1 and err.startswith("error[limit-exceeded]:")
    usage = int(_one(r"(\d) on a usage error", text)[1])
    assert _run(capsys, "manifest-digest")[0] == usage == 2


def test_list_tags_and_delete_refusals_as_their_pages_say(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imagefactory import example_image, write_oci

    layout = tmp_path / "layout"
    write_oci({"app": example_image()}, str(layout))
    refusal = _one(r"Other transports are refused with exit status (\d) \(`error\[([a-z-]+)\]`\)",
                   _flat("docs/commands/list-tags.md"))
    status, _, err = _run(capsys, "list-tags", f"oci:{layout}")
    assert (status, err.split("]")[0]) == (int(refusal[1]), f"error[{refusal[2]}")
    _one(r"`docker-archive:` and `oci-archive:` images cannot be deleted", _flat("docs/commands/delete.md"))
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"")
    for transport in ("docker-archive", "oci-archive"):
        status, _, err = _run(capsys, "delete", f"{transport}:{archive}")
        assert status == 1 and "not implemented" in err, err


def test_standalone_sign_pipe_wait_is_the_codes() -> None:
    from trustcopy import limits

    wait = int(_one(r"a named pipe nobody reads fails after (\d+) s", _flat("docs/commands/standalone-sign.md"))[1])
    assert wait == limits.FIFO_WRITER_WAIT_SECONDS


def test_generate_sigstore_key_as_its_page_says(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The private key's PEM type, scrypt parameters and mode; no overwrite; no terminal, no prompt."""
    text = _flat("docs/commands/generate-sigstore-key.md")
    mode = int(_one(r"\(mode (0\d{3}),", text)[1], 8)
    pem_type = _one(r"cosign's encrypted format: `([A-Z ]+)`", text)[1]
    scrypt = {k: int(v) for k, v in re.findall(r"\b(N|r|p)=(\d+)", _one(r"scrypt (N=\d+, r=\d+, p=\d+)", text)[1])}
    phrase = tmp_path / "pass"
    phrase.write_text("first line\nsecond line\n")
    prefix = tmp_path / "key"
    generate = ("generate-sigstore-key", "--output-prefix", str(prefix), "--passphrase-file", str(phrase))
    assert _run(capsys, *generate)[0] == 0
    private = Path(f"{prefix}.private").read_text()
    assert private.startswith(f"-----BEGIN {pem_type}-----\n")
    assert Path(f"{prefix}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    assert os.stat(f"{prefix}.private").st_mode & 0o777 == mode
    body = json.loads(base64.b64decode("".join(line for line in private.splitlines() if not line.startswith("-----"))))
    assert body["kdf"]["name"] == "scrypt" and body["kdf"]["params"] == scrypt
    before = Path(f"{prefix}.private").read_bytes()
    status, _, err = _run(capsys, *generate)
    assert status == 1 and Path(f"{prefix}.private").read_bytes() == before, err
    # "with no terminal, the command fails": exit 1, nothing written
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 - closed with the test's process
    status, _, err = _run(capsys, "generate-sigstore-key", "--output-prefix", str(tmp_path / "other"))
    assert status == 1 and "passphrase" in err and not list(tmp_path.glob("other.*"))


def test_policy_test_page_limits_and_example_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases file's bounds, and the page's example error line, from the page's own example file."""
    import yaml

    from trustcopy.copy import policytest
    from trustcopy.stores import registries_d

    text = _flat("docs/commands/policy.md")
    assert int(_one(r"read like registries\.d files: at most (\d+) MiB", text)[1]) << 20 == policytest.MAX_CASES_FILE
    nodes = _one(r"alias expansion bounded \(([\d,]+) nodes\)", text)[1]
    assert int(nodes.replace(",", "")) == registries_d.MAX_YAML_NODES
    page = _page("docs/commands/policy.md")
    example = _one(r"(?s)```yaml\n(# policy-tests\.yaml\n.*?)```", page)[1]
    expected_line = _one(r"```\n(error\[policy-tests-invalid\]: .*)\n```", page)[1]
    key = _one(r"unknown key '(\w+)'", expected_line)[1]
    case = int(_one(r"cases\[(\d+)\]", expected_line)[1])
    doc = yaml.safe_load(example)
    doc["cases"][case][key] = doc["cases"][case].pop(key.removesuffix("ed"))
    monkeypatch.chdir(tmp_path)
    for case_ in doc["cases"]:  # the cases' paths exist, so that only the misspelt key is wrong
        image = case_["image"].split(":", 1)[1]
        if not case_["image"].startswith("docker://"):
            Path(image.split(":")[0]).parent.mkdir(parents=True, exist_ok=True)
        if "registries.d" in case_:
            Path(case_["registries.d"]).mkdir(parents=True, exist_ok=True)
    Path("policy-tests.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    Path("policy.json").write_text(json.dumps({"default": [{"type": "reject"}]}))
    status, _, err = _run(capsys, "policy", "test", "--policy", "policy.json", "policy-tests.yaml")
    assert status == 2
    assert err.splitlines()[0] == expected_line


def test_policy_explain_multi_arch_default_is_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"the platform's instance (default) or all": no --multi-arch judges what `system` judges, not `all`."""
    import hashlib

    from imagefactory import Layer, make_image, make_index, make_tar, write_oci

    _one(r"\| `--multi-arch system\\\|all` \| the platform's instance \(default\) or all \|",
         _page("docs/commands/policy.md"))
    images = [make_image([Layer(make_tar([("a", arch.encode())]))], arch=arch) for arch in ("amd64", "arm64")]
    platforms = [{"architecture": arch, "os": "linux"} for arch in ("amd64", "arm64")]
    index, blobs = make_index(list(zip(images, platforms, strict=True)))
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    layout = tmp_path / "layout"
    write_oci({}, str(layout), index_entries=[{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
                                               "size": len(index),
                                               "annotations": {"org.opencontainers.image.ref.name": "multi"}}])
    for name, data in {**blobs, digest: index}.items():
        (layout / "blobs" / "sha256" / name.split(":")[1]).write_bytes(data)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    base = ["--policy", str(policy), "--override-arch", "arm64", "--override-os", "linux",
            "policy", "explain", "-o", "json"]
    verdicts = {}
    for extra in ([], ["--multi-arch", "system"], ["--multi-arch", "all"]):
        status, out, err = _run(capsys, *base, *extra, f"oci:{layout}:multi")
        assert status == 0, err
        verdicts[" ".join(extra)] = json.loads(out)
    assert verdicts[""] == verdicts["--multi-arch system"] != verdicts["--multi-arch all"]
