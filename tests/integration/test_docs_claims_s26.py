"""The docs' concrete claims, checked against the CLI: defaults, exit statuses, error codes.

Where a page states a claim in a parseable form (the errors.md table, ``(default N)`` in
the command pages' option tables, the "exit 1 on every failure" sentence) the test reads it
from the page, so it fails when the page and the code drift apart in either direction.
tests/integration/test_docs_run.py runs the walkthroughs; tests/unit/docs/test_command_pages.py
checks that every option is on its page; tests/unit/core/test_error_codes_documented.py
checks only that every code is on errors.md. This file checks what the pages *say* about them.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from imagefactory import Layer as FactoryLayer
from imagefactory import example_image, make_image, make_index, make_tar, write_oci

import trustcopy.errors as errors_module
from trustcopy.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


# --- docs/errors.md's table --------------------------------------------------------------------------


def _error_rows() -> list[tuple[str, list[str], str]]:
    """(class cell, codes, whole row) of each row of errors.md's table."""
    rows = []
    for line in (DOCS / "errors.md").read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| class"):
            continue
        cells = line.split("|")
        rows.append((cells[1].strip(), re.findall(r"`([a-z0-9-]+)`", cells[2]), line))
    return rows


def _raised_codes() -> dict[str, set[str]]:
    """code -> names of the classes that raise it (``Cls(..., code="x")`` or ``default_code = "x"``)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "trustcopy").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                            and any(getattr(t, "id", None) == "default_code" for t in stmt.targets)):
                        found.setdefault(str(stmt.value.value), set()).add(node.name)
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found.setdefault(kw.value.value, set()).add(str(name))
    return found


def _is_usage_class(name: str) -> bool:
    """UsageError and its private subclasses in the CLI (_ArgumentError, _PromptError)."""
    return name == "UsageError" or name in {"_ArgumentError", "_PromptError"}


def test_usage_row_is_exactly_the_codes_raised_as_usage_errors() -> None:
    """The UsageError row says exit 2: every code raised as a UsageError is in it, and only those.

    ``passphrase-file`` (a UsageError, exit 2 from ``copy``) was listed under SignatureError (exit 1).
    """
    usage_row = next(codes for cls, codes, _ in _error_rows() if cls == "UsageError")
    raised = _raised_codes()
    as_usage = {code for code, classes in raised.items() if any(_is_usage_class(c) for c in classes)}
    assert len(as_usage) >= 5
    assert sorted(as_usage - set(usage_row)) == []
    assert sorted(c for c in usage_row if not any(_is_usage_class(k) for k in raised.get(c, ()))) == []


def test_every_code_is_raised_by_the_class_its_row_names() -> None:
    """A code's row names its class (or says "raised as X"): scripts rely on the class for the exit status."""
    import importlib

    for module in ("trustcopy.cli.gotemplate.errors", "trustcopy.transports.docker_daemon",
                   "trustcopy.transports.tario", "trustcopy.compression", "trustcopy.transports.docker.errors"):
        importlib.import_module(module)  # the modules that define the other TrustcopyError subclasses
    classes: dict[str, type] = {}
    todo: list[type] = [errors_module.TrustcopyError]
    while todo:
        cls = todo.pop()
        classes[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    raised = _raised_codes()
    wrong = []
    for cell, codes, row in _error_rows():
        allowed = [classes[n] for n in re.findall(r"\w+", cell + " " + " ".join(re.findall(r"raised as (\w+)", row)))
                   if n in classes]
        assert allowed, cell
        for code in codes:
            known = [classes[n] for n in raised.get(code, ()) if n in classes]
            if known and not any(issubclass(k, a) for k in known for a in allowed):
                wrong.append((code, cell, sorted(k.__name__ for k in known)))
    assert wrong == []


def test_every_documented_code_exists_in_the_code() -> None:
    """The reverse of test_error_codes_documented: no stale code on the page."""
    literals: set[str] = set()
    for path in (ROOT / "trustcopy").rglob("*.py"):
        literals.update(n.value for n in ast.walk(ast.parse(path.read_text()))
                        if isinstance(n, ast.Constant) and isinstance(n.value, str))
    documented = {code for _, codes, _ in _error_rows() for code in codes}
    assert len(documented) > 100
    assert sorted(documented - literals) == []


# --- defaults ----------------------------------------------------------------------------------------


def _command(path: tuple[str, ...]) -> click.Command:
    from trustcopy.cli.app import cli

    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="trustcopy")
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(ctx, name)
        assert found is not None, path
        ctx = click.Context(found, info_name=name, parent=ctx)
        cmd = found
    return cmd


def _documented_numeric_defaults() -> Iterator[tuple[str, str, int]]:
    """(page, option, N) for each option-table row saying ``(default N)`` on a command page."""
    for page in sorted((DOCS / "commands").glob("*.md")):
        if page.name == "README.md":
            continue
        for line in page.read_text().splitlines():
            match = re.match(r"\| (?:`-\w`, )?`(--[\w.-]+)[^|]*\|[^|]*\(default (\d+)\)", line)
            if match:
                yield page.stem, match.group(1), int(match.group(2))


def test_numeric_defaults_on_command_pages_are_clicks() -> None:
    claims = list(_documented_numeric_defaults())
    assert {(p, o) for p, o, _ in claims} >= {("copy", "--max-parallel"), ("sync", "--parallel-images")}
    for page, option, value in claims:
        param = next(p for p in _command((page,)).params if option in getattr(p, "opts", ()))
        assert param.default == value, (page, option)


def test_sync_parallel_images_range_is_as_documented() -> None:
    row = next(line for line in (DOCS / "commands" / "sync.md").read_text().splitlines()
               if line.startswith("| `--parallel-images"))
    low, high = map(int, re.search(r"(\d+) to (\d+)", row).groups())  # type: ignore[union-attr]
    param = next(p for p in _command(("sync",)).params if "--parallel-images" in getattr(p, "opts", ()))
    assert isinstance(param.type, click.IntRange)
    assert (param.type.min, param.type.max) == (low, high)


def test_retry_times_default_is_the_same_everywhere() -> None:
    """README.md, commands/README.md and every command's --help state the client's default."""
    from click.testing import CliRunner

    from trustcopy.cli.app import cli
    from trustcopy.types import DEFAULT_RETRY_TIMES

    for page in (ROOT / "README.md", DOCS / "commands" / "README.md"):
        stated = re.findall(r"--retry-times[^\n]*?\(default (\d+)\)", page.read_text())
        assert stated == [str(DEFAULT_RETRY_TIMES)], page
    for path in [("copy",), ("inspect",), ("list-tags",), ("delete",), ("verify",), ("sync",), ("policy", "test")]:
        out = CliRunner().invoke(cli, [*path, "--help"], prog_name="trustcopy").output
        assert re.findall(r"\(default\s+(\d+)\)", re.sub(r"\s+", " ", out.split("--retry-times", 1)[1])[:120]) == [
            str(DEFAULT_RETRY_TIMES)], path


def test_documented_single_value_defaults() -> None:
    """``default `text``` (verify -o), ``default sha256`` (manifest-digest), as the pages say."""
    verify = (DOCS / "commands" / "verify.md").read_text()
    assert re.search(r"`--output text\\\|json\\\|junit` \|[^|]*default `text`", verify)
    out = next(p for p in _command(("verify",)).params if "--output" in getattr(p, "opts", ()))
    assert out.default == "text"
    md = (DOCS / "commands" / "manifest-digest.md").read_text()
    assert "(default sha256)" in md


# --- exit statuses and codes, run ------------------------------------------------------------------


def build_two_image_layout(path: Path) -> Path:
    """An OCI layout at ``path`` with one image (`app`) and one two-platform list (`multi`)."""
    import hashlib

    amd = make_image([FactoryLayer(make_tar([("a", b"amd64\n")]))], arch="amd64")
    arm = make_image([FactoryLayer(make_tar([("a", b"arm64\n")]))], arch="arm64")
    index, blobs = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                               (arm, {"architecture": "arm64", "os": "linux"})])
    index_digest = "sha256:" + hashlib.sha256(index).hexdigest()
    write_oci({"app": example_image()}, str(path), index_entries=[{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": len(index),
        "annotations": {"org.opencontainers.image.ref.name": "multi"}}])
    for digest, data in {**blobs, index_digest: index}.items():
        (path / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An OCI layout with one image (`app`) and one two-platform list (`multi`)."""
    return build_two_image_layout(tmp_path / "layout")


@pytest.fixture
def accept(tmp_path: Path) -> Path:
    path = tmp_path / "accept.json"
    path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _skopeo_status_commands() -> list[str]:
    """The commands errors.md says exit 1 on every failure, as skopeo."""
    text = (DOCS / "errors.md").read_text()
    match = re.search(r"((?:`[a-z-]+`/?)+) exit 1 on every failure, as skopeo", text)
    assert match is not None
    return re.findall(r"`([a-z-]+)`", match.group(1))


def test_the_skopeo_status_commands_are_the_same_on_every_page() -> None:
    commands = _skopeo_status_commands()
    assert commands == ["standalone-sign", "standalone-verify", "generate-sigstore-key"]
    readme = (DOCS / "commands" / "README.md").read_text()
    assert "/".join(f"`{c}`" for c in commands) + " exit 1 on every failure" in readme
    for command in commands:
        assert "1 on any failure" in (DOCS / "commands" / f"{command}.md").read_text(), command


def test_skopeo_status_commands_exit_1_for_usage_errors_raised_while_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], accept: Path) -> None:
    """Found: an unreadable --passphrase-file, or --insecure-policy with --require-signed, exited 2."""
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(example_image().manifest)
    missing = str(tmp_path / "no-such-passphrase")
    argv = {
        "standalone-sign": [str(manifest), "registry.example.com/a:1", "ABCDEF", "-o", str(tmp_path / "sig")],
        "standalone-verify": [str(manifest), "registry.example.com/a:1", "ABCDEF", str(tmp_path / "sig")],
        "generate-sigstore-key": ["--output-prefix", str(tmp_path / "key")],
    }
    for command in _skopeo_status_commands():
        status, out = _run(capsys, "--insecure-policy", "--require-signed", command, *argv[command])
        assert (status, "error[usage]") == (1, out[:12]), (command, out)
        if command != "standalone-verify":
            status, out = _run(capsys, "--policy", str(accept), command, "--passphrase-file", missing,
                               *argv[command])
            assert status == 1 and "error[passphrase-file]" in out, (command, out)
    # copy keeps the UsageError's 2 (errors.md: the UsageError row)
    status, out = _run(capsys, "--policy", str(accept), "copy", "--sign-by", "ABCDEF", "--sign-passphrase-file",
                       missing, "oci:/nonexistent:app", f"dir:{tmp_path / 'out'}")
    assert status == 2 and "error[passphrase-file]" in out, out


@pytest.mark.parametrize(("argv", "status", "code"), [
    # docs/from-skopeo.md "Options that are not built are refused": exit 2, unsupported-option
    (["copy", "--format", "v2s1", "oci:{layout}:app", "dir:{out}"], 2, "unsupported-option"),
    (["copy", "--multi-arch", "index-only", "oci:{layout}:multi", "dir:{out}"], 2, "unsupported-option"),
    # … and only for a list source: a single image is copied as it is (copy.md)
    (["copy", "-q", "--multi-arch", "index-only", "oci:{layout}:app", "dir:{out}"], 0, None),
    # from-skopeo.md Transports / References
    (["copy", "oci:{layout}:app", "containers-storage:x"], 1, "unknown-transport"),
    (["copy", "dir:", "dir:{out}"], 1, "invalid-path"),
    (["copy", "oci::app", "dir:{out}"], 1, "invalid-path"),
    # errors.md: image-not-found exits 2 for an oci: name missing from the index
    (["copy", "oci:{layout}:nope", "dir:{out}"], 2, "image-not-found"),
    (["verify", "oci:{layout}:nope"], 2, "image-not-found"),
    (["policy", "explain", "oci:{layout}:nope"], 2, "image-not-found"),
    # inspect.md: --raw with --format is error[usage], exit 1 as skopeo
    (["inspect", "--raw", "--format", "{{{{.Digest}}}}", "oci:{layout}:app"], 1, "usage"),
    # from-skopeo.md: v2s2 into oci: is refused; zstd into docker-archive: is refused
    (["copy", "--format", "v2s2", "oci:{layout}:app", "oci:{out}:x"], 1, "manifest-type-unsupported"),
    (["copy", "--dest-compress-format", "zstd", "oci:{layout}:app", "docker-archive:{out}.tar"], 1,
     "manifest-layer-compression-unsupported"),
    # from-skopeo.md: a --digestfile that is a directory is refused before copying
    (["copy", "--digestfile", "{tmp}", "oci:{layout}:app", "dir:{out}"], 1, "file-unwritable"),
])
def test_documented_exit_status_and_code(tmp_path: Path, layout: Path, accept: Path,
                                         capsys: pytest.CaptureFixture[str], argv: list[str], status: int,
                                         code: str | None) -> None:
    out = tmp_path / "out"
    args = [a.format(layout=layout, out=out, tmp=tmp_path) for a in argv]
    got, text = _run(capsys, "--policy", str(accept), *args)
    assert got == status, text
    if code is None:
        assert "error[" not in text
    else:
        assert f"error[{code}]" in text
        assert code in (DOCS / "errors.md").read_text()
        if args[-1].startswith("dir:") and code != "image-not-found":
            assert not out.exists()  # refused before anything was written


def test_verify_exit_statuses_as_its_table_says(tmp_path: Path, layout: Path, accept: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    table = dict(re.findall(r"^\| (\d) \| ([^|]+) \|", (DOCS / "commands" / "verify.md").read_text(), re.M))
    assert set(table) == {"0", "1", "2"}
    reject = tmp_path / "reject.json"
    reject.write_text(json.dumps({"default": [{"type": "reject"}]}))
    app, nope = f"oci:{layout}:app", f"oci:{layout}:nope"
    assert "accepted" in table["0"] and _run(capsys, "--policy", str(accept), "verify", app)[0] == 0
    assert "rejected" in table["1"] and _run(capsys, "--policy", str(reject), "verify", app)[0] == 1
    assert "does not exist" in table["2"]
    assert _run(capsys, "--policy", str(reject), "verify", app, nope)[0] == 2  # 2 wins over 1


def test_policy_test_exit_statuses(tmp_path: Path, layout: Path, accept: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """commands/policy.md: 1 a case failed or could not be evaluated; 2 the file is invalid (nothing ran)."""
    page = (DOCS / "commands" / "policy.md").read_text()
    assert "1 a case failed or could not be evaluated; 2 the file" in page
    cases = tmp_path / "cases.yaml"
    for body, status in [(f"{{image: 'oci:{layout}:app', expect: accepted}}", 0),
                         (f"{{image: 'oci:{layout}:app', expect: rejected}}", 1),
                         (f"{{image: 'oci:{layout}:nope', expect: rejected}}", 1),
                         (f"{{image: 'oci:{layout}:app', expected: rejected}}", 2)]:
        cases.write_text(f"cases:\n  - {body}\n")
        got, text = _run(capsys, "--policy", str(accept), "policy", "test", str(cases))
        assert got == status, (body, text)
    assert "error[policy-tests-invalid]" in text


def test_policy_rejection_message_has_the_guides_shape(tmp_path: Path, layout: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """guide.md's example refusal: the scope, the requirement and the reason code on the error line."""
    guide = (DOCS / "guide.md").read_text()
    example = next(line for line in guide.splitlines() if line.startswith("error[policy-rejected]"))
    shape = re.escape(example).replace(re.escape("docker://quay.io/x/y:1"), r"(\S+)").replace("docker", r"(\w+)")
    reject = tmp_path / "reject.json"
    reject.write_text(json.dumps({"default": [{"type": "reject"}]}))
    status, text = _run(capsys, "--policy", str(reject), "copy", f"oci:{layout}:app", f"dir:{tmp_path / 'out'}")
    assert status == 1
    first = text.splitlines()[0]
    assert re.fullmatch(shape, first), first
    assert text.strip().splitlines() == [first]  # "one line"


# --- pipes (errors.md: pipe-stalled; policy.md: policy-invalid) -------------------------------------


@pytest.fixture
def short_fifo_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    import trustcopy.limits as limits

    monkeypatch.setattr(limits, "FIFO_WRITER_WAIT_SECONDS", 0.2)


@pytest.mark.usefixtures("short_fifo_wait")
def test_stalled_pipes_have_the_documented_codes(tmp_path: Path, accept: Path, layout: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    errors_md = (DOCS / "errors.md").read_text()
    policy_md = (DOCS / "policy.md").read_text()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "such as `manifest-digest PIPE` or `sync --src yaml PIPE`" in errors_md
    status, text = _run(capsys, "manifest-digest", str(fifo))
    assert (status, text.split(":")[0]) == (1, "error[pipe-stalled]"), text
    status, text = _run(capsys, "--policy", str(accept), "sync", "--src", "yaml", "--dest", "dir", str(fifo),
                        str(tmp_path / "mirror"))
    assert status == 1 and "error[pipe-stalled]" in text, text
    assert "a stalled `--policy PIPE` is `policy-invalid`" in errors_md
    assert "fails with `error[policy-invalid]`" in policy_md
    status, text = _run(capsys, "--policy", str(fifo), "copy", f"oci:{layout}:app", f"dir:{tmp_path / 'out'}")
    assert status == 1 and "error[policy-invalid]" in text, text
    assert "`--registries-conf PIPE` `config-unreadable`" in errors_md
    status, text = _run(capsys, "--policy", str(accept), "--registries-conf", str(fifo), "lookaside", "where",
                        "docker://registry.example.com/a/b:1")
    assert status == 1 and "error[config-unreadable]" in text, text
