"""The docs' concrete claims, part 2: policy.md, registries.md, verify.md, sync.md, ci.md, login/logout, limits.

Where a page states a claim in a parseable form (a table, a JSON example, a sentence with a
number) the test reads it from the page, so it fails when page and code drift apart in
either direction. Part 1 (test_docs_claims_s26.py) covers errors.md, the command pages'
numeric defaults and the skopeo-status commands; tests/unit/docs/test_doc_snippets.py
checks that the pages' commands parse and their policies load; test_docs_run.py runs the
walkthroughs. Everything here runs in-process or against nothing at all (a destination
that cannot be reached proves that no request was made).
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from trustcopy.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text()


def _json_blocks(name: str) -> list[Any]:
    return [json.loads(b) for b in re.findall(r"^```json\n(.*?)^```", _page(name), re.M | re.S)]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _keys(doc: dict[str, Any]) -> set[str]:
    """A documented object's keys; ``"…"`` stands for "more fields" and is not one."""
    return set(doc) - {"…"}


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An OCI layout with one image (`app`) and one two-platform list (`multi`)."""
    from test_docs_claims_s26 import build_two_image_layout

    return build_two_image_layout(tmp_path / "layout")


def _policy(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def policies(tmp_path: Path, layout: Path) -> dict[str, str]:
    """accept, reject, signed (a signedBy on the layout: NO_SIGNATURES, oci: carries none), invalid."""
    signed = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(ROOT / "keys-example" / "pubring.gpg")}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    return {
        "accept": _policy(tmp_path, "accept", {"default": [{"type": "insecureAcceptAnything"}]}),
        "reject": _policy(tmp_path, "reject", {"default": [{"type": "reject"}]}),
        "signed": _policy(tmp_path, "signed", {"default": [{"type": "reject"}],
                                               "transports": {"oci": {str(layout): [signed]}}}),
        "invalid": str(bad),
    }


# --- docs/policy.md: policy lint ---------------------------------------------------------------------


def _lint_table() -> dict[str, str]:
    """code -> severity, from policy.md's `| finding | severity | meaning |` table."""
    text = _page("policy.md").split("| finding | severity | meaning |", 1)[1].split("\n\n", 1)[0]
    table: dict[str, str] = {}
    for line in text.splitlines()[2:]:
        cells = line.split("|")
        for code in re.findall(r"`([a-z-]+)`", cells[1]):
            table[code] = cells[2].strip()
    return table


def _lint_codes_in_code() -> dict[str, str]:
    """code -> severity of every finding trustcopy/policy/lint.py can report."""
    found: dict[str, str] = {}
    tree = ast.parse((ROOT / "trustcopy" / "policy" / "lint.py").read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None)
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args[:2]]
        if name == "Finding" and isinstance(args[0], str) and isinstance(args[1], str):
            found[args[1]] = args[0]
        elif name == "warn" and isinstance(args[0], str):
            found[args[0]] = "warning"
    return found


def test_lint_findings_table_is_what_lint_reports() -> None:
    documented = _lint_table()
    assert len(documented) >= 15
    assert documented == _lint_codes_in_code()


def test_documented_policies_lint_without_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every policy JSON block of the docs passes `policy lint` (parser *and* schema); only missing keys warn."""
    checked = 0
    for page in sorted(DOCS.rglob("*.md")):
        for block in re.findall(r"^```json\n(.*?)^```", page.read_text(), re.M | re.S):
            doc = json.loads(block)
            if not (isinstance(doc, dict) and "default" in doc):
                continue
            path = tmp_path / f"p{checked}.json"
            path.write_text(block)
            status, out, err = _run(capsys, "--policy", str(path), "policy", "lint", "--output", "json")
            report = json.loads(out)
            assert (status, report["errors"]) == (0, 0), (page.name, out, err)
            assert {f["code"] for f in report["findings"]} <= {"key-file-missing"}, (page.name, out)
            checked += 1
    assert checked >= 7


def test_lint_exit_statuses_as_documented(tmp_path: Path, policies: dict[str, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert "Exit 0 when\nthere are no errors, 1 otherwise; with `--strict`, warnings count as errors." in _page(
        "policy.md")
    assert _run(capsys, "--policy", policies["reject"], "policy", "lint")[0] == 0
    assert _run(capsys, "--policy", policies["accept"], "policy", "lint")[0] == 0  # a warning only
    assert _run(capsys, "--policy", policies["accept"], "policy", "lint", "--strict")[0] == 1
    assert _run(capsys, "--policy", policies["invalid"], "policy", "lint")[0] == 1


def test_explain_exit_statuses_as_documented(layout: Path, policies: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = re.sub(r"\s+", " ", _page("policy.md"))
    assert "Exit status: 0 accepted, 1 rejected, 2 any other error (unreadable or invalid policy, bad image name" \
        in text
    app = f"oci:{layout}:app"
    assert _run(capsys, "--policy", policies["accept"], "policy", "explain", app)[0] == 0
    assert _run(capsys, "--policy", policies["reject"], "policy", "explain", app)[0] == 1
    assert _run(capsys, "--policy", policies["invalid"], "policy", "explain", app)[0] == 2
    assert _run(capsys, "--policy", policies["accept"], "policy", "explain", "nosuch:x")[0] == 2
    assert _run(capsys, "--policy", policies["accept"], "policy", "explain", f"oci:{layout}:nope")[0] == 2


# --- docs/policy.md: the verdict JSON -----------------------------------------------------------------


def test_verdict_json_has_the_documented_fields(layout: Path, policies: dict[str, str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from trustcopy.copy.verify import load_verify_schema

    single, listed = [b for b in _json_blocks("policy.md") if "schemaVersion" in b]
    status, out, _ = _run(capsys, "--policy", policies["signed"], "policy", "explain", "--output", "json",
                          f"oci:{layout}:app")
    assert status == 1
    real = json.loads(out)
    assert set(real) == _keys(single)
    assert set(real["scope"]) == _keys(single["scope"])
    assert set(real["requirements"][0]) == _keys(single["requirements"][0])
    assert real["reason"] == real["requirements"][0]["reason"] == "NO_SIGNATURES"
    defs = load_verify_schema()["$defs"]
    assert set(defs["signature"]["required"]) == _keys(single["requirements"][0]["signatures"][0])
    # scope kinds: "`scope.kind` is `global-default` …; other kinds are `identity`, `namespace`, `transport-default`"
    kinds_line = re.search(r"`scope\.matched` is `null`.*?\.\n", _page("policy.md"), re.S)
    assert kinds_line is not None
    assert set(re.findall(r"`([a-z-]+)`", kinds_line.group(0))) - {"null"} == set(defs["scope"]["properties"]
                                                                                  ["kind"]["enum"])
    # a manifest list: the list's fields, and per instance every single-image field but digest
    status, out, _ = _run(capsys, "--policy", policies["accept"], "policy", "explain", "--output", "json", "--all",
                          f"oci:{layout}:multi")
    assert status == 0
    real = json.loads(out)
    assert set(real) == _keys(listed)
    instance = listed["instances"][0]
    assert "every field of a single-image verdict but digest" in instance["…"]
    assert len(real["instances"]) == 2
    for got in real["instances"]:
        assert set(got) == (_keys(single) - {"digest"}) | _keys(instance)


# --- docs/commands/verify.md ---------------------------------------------------------------------------


def test_verify_json_example_is_the_schema_and_the_output(layout: Path, policies: dict[str, str],
                                                          capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    import jsonschema

    from trustcopy.copy.verify import load_verify_schema

    schema = load_verify_schema()
    (example,) = _json_blocks("commands/verify.md")
    assert set(example) == set(schema["required"]) == set(schema["properties"])
    image_def = schema["$defs"]["image"]
    for entry in example["images"]:
        assert set(entry) == set(image_def["required"]) == set(image_def["properties"])
    text = re.sub(r"\s+", " ", _page("commands/verify.md"))
    statuses = re.search(r"`status` is `(\w+)`, `(\w+)` or `(\w+)`", text)
    assert statuses is not None and list(statuses.groups()) == image_def["properties"]["status"]["enum"]
    # accepted, rejected, error: in that order, each as the page describes it
    accepted = tmp_path / "copy"
    import shutil

    shutil.copytree(layout, accepted)  # outside the signedBy scope: the default
    policy = json.loads(Path(policies["signed"]).read_text())
    policy["default"] = [{"type": "insecureAcceptAnything"}]
    digestfile = tmp_path / "verified.txt"
    status, out, _ = _run(capsys, "--policy", _policy(tmp_path, "mixed", policy), "verify", "--output", "json",
                          "--digestfile", str(digestfile), f"oci:{accepted}:app", f"oci:{layout}:app",
                          f"oci:{layout}:nope")
    report = json.loads(out)
    jsonschema.Draft202012Validator(schema).validate(report)
    assert set(report) == set(example)
    assert status == report["exitStatus"] == 2  # "2 wins over 1"
    assert [i["status"] for i in report["images"]] == ["accepted", "rejected", "error"]
    assert report["summary"] == {"images": 3, "accepted": 1, "rejected": 1, "errors": 1}
    error = report["images"][2]
    assert (error["digest"], error["reason"], error["verdict"]) == (None, None, None)  # "error entries have … null"
    assert set(error["error"]) == {"code", "message", "hint"} and error["error"]["code"] == "image-not-found"
    # the verdict is exactly what `policy explain --output json` prints
    _, explained, _ = _run(capsys, "--policy", _policy(tmp_path, "mixed", policy), "policy", "explain", "--output",
                           "json", f"oci:{layout}:app")
    assert report["images"][1]["verdict"] == json.loads(explained)
    # digest file: only the accepted image, `NAME@DIGEST` for a non-docker transport
    assert digestfile.read_text() == f"oci:{accepted}:app@{report['images'][0]['digest']}\n"


def test_verify_junit_is_shaped_as_documented(layout: Path, policies: dict[str, str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = re.sub(r"\s+", " ", _page("commands/verify.md"))
    suite = re.search(r'one `<testsuite name="([^"]+)">`', text)
    classname = re.search(r"`classname` = `([^`]+)`", text)
    assert suite is not None and classname is not None
    assert '`<failure type="REASON" message="REASON: message">`' in text
    assert 'could not be evaluated is an `<error type="error-code">`' in text
    status, out, _ = _run(capsys, "--policy", policies["signed"], "verify", "--output", "junit",
                          f"oci:{layout}:multi", f"oci:{layout}:app", f"oci:{layout}:nope")
    assert status == 2
    root = ET.fromstring(out)
    (testsuite,) = root.iter("testsuite")
    assert testsuite.get("name") == suite.group(1)
    cases = testsuite.findall("testcase")
    assert [c.get("name") for c in cases] == [f"oci:{layout}:multi", f"oci:{layout}:app", f"oci:{layout}:nope"]
    assert {c.get("classname") for c in cases} == {classname.group(1)}
    for case in cases[:2]:
        failure = case.find("failure")
        assert failure is not None
        assert failure.get("type") == "NO_SIGNATURES"
        assert (failure.get("message") or "").startswith("NO_SIGNATURES: ")
    error = cases[2].find("error")
    assert error is not None and error.get("type") == "image-not-found"
    # a run that could not start: one <error> per image, never an empty (green) suite
    status, out, _ = _run(capsys, "--policy", policies["invalid"], "verify", "--output", "junit",
                          f"oci:{layout}:app", f"oci:{layout}:multi")
    cases = ET.fromstring(out).findall("./testsuite/testcase")
    assert status == 2 and len(cases) == 2
    assert [c.find("error").get("type") for c in cases] == ["policy-invalid"] * 2  # type: ignore[union-attr]


# --- docs/registries.md --------------------------------------------------------------------------------


def test_registries_d_lookup_example_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The "Lookup" example: the page's YAML, and its table of read/write URLs and attachments, per image."""
    page = _page("registries.md")
    section = page.split("### Lookup: which section, field by field", 1)[1].split("## Lookaside stores", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    (tmp_path / "rd").mkdir()
    (tmp_path / "rd" / "example.yaml").write_text(block.group(1))
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)`[^|]* \| `([^`]+)`[^|]* \| (true|false)[^|]* \|$", section, re.M)
    assert len(rows) == 4
    for image, read, write, attachments in rows:
        status, out, err = _run(capsys, "--registries.d", str(tmp_path / "rd"), "--registries-conf", "/dev/null",
                                "lookaside", "where", "--output", "json", image)
        assert status == 0, err
        report = json.loads(out)
        assert report["read"][0]["lookaside"]["url"] == read, image
        assert report["write"]["lookaside"]["url"] == write, image
        assert report["read"][0]["sigstoreAttachments"]["value"] is (attachments == "true"), image


def test_lookaside_where_json_has_the_documented_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = _json_blocks("registries.md")
    (tmp_path / "rd").mkdir()
    (tmp_path / "rd" / "10-site.yaml").write_text(
        "default-docker:\n  lookaside: https://sigs.example/all\n"
        "docker:\n  example.com/ns:\n    use-sigstore-attachments: true\n    lookaside_staging: x\n")
    conf = tmp_path / "registries.conf"
    conf.write_text('[[registry]]\nprefix = "example.com"\nlocation = "example.com"\n'
                    '[[registry.mirror]]\nlocation = "mirror.local:5000/ex"\ninsecure = true\n'
                    'pull-from-mirror = "digest-only"\n')
    status, out, err = _run(capsys, "--registries.d", str(tmp_path / "rd"), "--registries-conf", str(conf),
                            "lookaside", "where", "--output", "json", "example.com/ns/app")
    assert status == 0, err
    real = json.loads(out)

    def same_shape(doc: Any, got: Any, where: str) -> None:
        if isinstance(doc, dict):
            assert isinstance(got, dict), where
            if "…" not in doc:
                assert set(got) == set(doc), where
            for key, value in doc.items():
                if key != "…" and key in got:
                    same_shape(value, got[key], f"{where}.{key}")
        elif isinstance(doc, list) and doc and isinstance(got, list):
            for i, item in enumerate(got):
                same_shape(doc[min(i, len(doc) - 1)], item, f"{where}[{i}]")

    same_shape(example, real, "")
    assert set(real["write"]) == {k for k in example["write"] if k != "…"}
    # the text output's stderr carries the warning as the page quotes it
    status, _, err = _run(capsys, "--registries.d", str(tmp_path / "rd"), "--registries-conf", str(conf),
                          "lookaside", "where", "example.com/ns/app")
    assert status == 0, err
    page = re.sub(r"\s+", " ", _page("registries.md"))
    quoted = re.search(r'\(`warning: a\.yaml: docker\."example\.com"\.lookaside_staging: ([^`]+)`\)', page)
    assert quoted is not None
    assert f'docker."example.com/ns".lookaside_staging: {quoted.group(1)}' in err


# --- docs/commands/sync.md -----------------------------------------------------------------------------


def test_sync_exit_statuses_and_rejection_from_the_name_alone(tmp_path: Path, layout: Path,
                                                              policies: dict[str, str],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Status 2 for `dir` to `dir` and a bad --shard; 1 for a rejection, decided without any request."""
    table = dict(re.findall(r"^\| (\d) \| ([^|]+) \|$", _page("commands/sync.md"), re.M))
    assert set(table) == {"0", "1", "2"}
    assert "`dir` to `dir`" in table["2"] and "`--shard`" in table["2"]
    source = tmp_path / "images"
    source.mkdir()
    assert main(["--policy", policies["accept"], "copy", "-q", f"oci:{layout}:app", f"dir:{source / 'app'}"]) == 0
    capsys.readouterr()
    status, _, err = _run(capsys, "--policy", policies["accept"], "sync", "--src", "dir", "--dest", "dir",
                          str(source), str(tmp_path / "out"))
    assert status == 2, err
    status, _, err = _run(capsys, "--policy", policies["accept"], "sync", "--src", "dir", "--dest", "docker",
                          "--shard", "4/4", str(source), "127.0.0.1:1/mirror")
    assert status == 2 and "error[invalid-shard]" in err, err
    # "If every requirement of the policy scope matching the source is `reject`, the image is rejected
    # from its name alone: no request at all": the destination is a port nothing listens on.
    assert "rejected from its name alone: no request at all" in re.sub(r"\s+", " ", _page("commands/sync.md"))
    status, out, err = _run(capsys, "--policy", policies["reject"], "sync", "--src", "dir", "--dest", "docker",
                            "--retry-times", "0", str(source), "127.0.0.1:1/mirror")
    assert "rejected by" in table["1"] and status == 1, err
    assert out.startswith("REJECTED") and "error[policy-rejected]" in out, out
    assert "1 rejected by policy, 0 failed" in err


# --- docs/ci.md ----------------------------------------------------------------------------------------


def test_ci_jobs_read_signatures_where_the_page_says() -> None:
    """"Both jobs expect … `ci/registries.d/`": the GitHub job's verify lacked --registries.d (the default store)."""
    page = _page("ci.md")
    assert "Both jobs expect, in the repository:" in page and "- `ci/registries.d/`:" in page
    verify_lines = []
    for block in re.findall(r"^```yaml\n(.*?)^```", page, re.M | re.S):
        jobs = yaml.safe_load(block)
        scripts = json.dumps(jobs)
        verify_lines += re.findall(r"trustcopy verify [^\"\\]*(?:\\\"[^\"\\]*)*", scripts)
    assert len(verify_lines) == 2
    for line in verify_lines:
        assert "--registries.d ci/registries.d" in line, line


# --- docs/commands/login.md, logout.md -----------------------------------------------------------------


def test_compat_auth_file_against_authfile_and_registry_auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Refused with --authfile (exit 2); wins over $REGISTRY_AUTH_FILE (found: the pages said "not with" it)."""
    for page in ("commands/login.md", "commands/logout.md"):
        assert ("not with `--authfile` (exit 2), but it wins over `$REGISTRY_AUTH_FILE`, as newer skopeo"
                in _page(page)), page
    entry = {"auths": {"registry.example.com": {"auth": "YTpi"}}}
    compat, env_file, other = tmp_path / "config.json", tmp_path / "env.json", tmp_path / "other.json"
    for path in (compat, env_file, other):
        path.write_text(json.dumps({**entry, "keep": 1} if path == compat else entry))
    status, _, err = _run(capsys, "logout", "--compat-auth-file", str(compat), "--authfile", str(other),
                          "registry.example.com")
    assert status == 2 and "error[usage]" in err, err
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env_file))
    status, _, err = _run(capsys, "logout", "--compat-auth-file", str(compat), "registry.example.com")
    assert status == 0, err
    assert json.loads(compat.read_text()) == {"auths": {}, "keep": 1}
    assert json.loads(env_file.read_text()) == entry  # untouched


# --- limits stated on the pages ------------------------------------------------------------------------


def _limit_claims() -> list[tuple[str, str, int]]:
    """(page, regex whose group is the number, the value in the code)."""
    from trustcopy import compression, limits
    from trustcopy.signature import sigstore_x509
    from trustcopy.stores import attachments, lookaside, registries_d, registries_d_yaml
    from trustcopy.sync import run as sync_run
    from trustcopy.transports import archivereader, docker_daemon, dockertar, tario
    from trustcopy.transports.docker import source

    mib = 1 << 20
    return [
        ("policy.md", r"waits up to (\d+) seconds for a\s+writer", int(limits.FIFO_WRITER_WAIT_SECONDS)),
        ("policy.md", r"and up to (\d+) seconds between the\s+pieces", int(limits.FIFO_STALL_SECONDS)),
        ("policy.md", r"\((\d+) certificates from a signature", sigstore_x509.MAX_UNTRUSTED_CERTS),
        ("policy.md", r"(\d+) deep,", sigstore_x509.MAX_CHAIN_DEPTH),
        ("policy.md", r"(\d+) signature checks\)", sigstore_x509.MAX_SIGNATURE_CHECKS),
        ("policy.md", r"or more than (\d+) MiB \(refused by its size", limits.MAX_KEY_FILE // mib),
        ("registries.md", r"regular file of at most (\d+) MiB", registries_d.MAX_REGISTRIES_D_FILE // mib),
        ("registries.md", r"more than ([\d,]+) nodes", registries_d_yaml.MAX_YAML_NODES),
        ("registries.md", r"nest\s+more than (\d+) levels", registries_d_yaml.MAX_YAML_DEPTH),
        ("registries.md", r"At most (\d+) signatures, as containers/image",
         lookaside.MAX_LOOKASIDE_SIGNATURES - 1),
        ("registries.md", r"a `signature-(\d+)` is", lookaside.MAX_LOOKASIDE_SIGNATURES),
        ("registries.md", r"Each signature at most (\d+) MiB", limits.MAX_SIGNATURE_BODY // mib),
        ("registries.md", r"\((\d+) s by default\)", int(lookaside.HTTPOptions().deadline)),
        ("registries.md", r"redirects are followed \(at most (\d+)\)", lookaside.HTTPOptions().max_redirects),
        ("registries.md", r"OCI image manifest of at most (\d+) layers", attachments.MAX_ATTACHMENT_LAYERS),
        ("registries.md", r"and (\d+) entries in all", attachments.MAX_REFERRERS),
        ("registries.md", r"bounded at (\d+) layers", attachments.MAX_ATTACHMENT_LAYERS),
        ("commands/sync.md", r"`(\d+) / N` blobs", sync_run.MAX_BLOBS_IN_FLIGHT),
        ("commands/sync.md", r"at most ([\d,]+) pages", source.MAX_TAG_PAGES),
        ("commands/sync.md", r"pages and (\d+) MiB of tags", limits.MAX_TAG_LIST_BODY // mib),
        ("archives.md", r"`manifest\.json` is read bounded \((\d+) MiB\)", dockertar.MAX_TAR_MANIFEST // mib),
        ("archives.md", r"\(\d+ MiB\), configs (\d+) MiB", limits.MAX_CONFIG_BODY // mib),
        ("archives.md", r"at most (\d+) hops", archivereader.MAX_LINK_HOPS),
        ("archives.md", r"long-name headers are bounded \((\d+) MiB\)", tario.MAX_META_HEADER // mib),
        ("archives.md", r"link\s+targets to (\d+) characters", tario.MAX_NAME),
        ("archives.md", r"an archive to ([\d,]+) members", tario.MAX_MEMBERS),
        ("archives.md", r"window above (\d+) MiB", compression.MAX_ZSTD_WINDOW // mib),
        ("archives.md", r"at most\s+1\.(\d+), as Docker's client", docker_daemon.MAX_API_VERSION[1]),
        ("archives.md", r"writer opens within (\d+) s", int(limits.FIFO_WRITER_WAIT_SECONDS)),
        ("archives.md", r"stays silent for (\d+) s", int(limits.FIFO_STALL_SECONDS)),
    ]


def test_documented_limits_are_the_codes() -> None:
    wrong = []
    for page, pattern, value in _limit_claims():
        found = re.findall(pattern, re.sub(r"\s+", " ", _page(page)))
        assert found, (page, pattern)
        numbers = {int(n.replace(",", "")) for n in found}
        if numbers != {value}:
            wrong.append((page, pattern, sorted(numbers), value))
    assert wrong == []
