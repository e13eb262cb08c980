"""More credential-leak paths: each test feeds trustcopy a distinctive random secret where a
message, a report or a traceback could quote it, and asserts it is nowhere in stdout, stderr
or the files written.

Covered here (the rest is in test_credential_leaks_adversarial.py and its neighbours):
``verify`` reports (text, JSON, JUnit) of an image name holding ``user:token@``; ``verify``
and ``sync`` output of an error quoting a known secret; sync YAML whose registry key holds
``user:token@`` or whose unquoted password YAML reads as an alias, a tag or a tagged
credentials scalar; a registries.d lookaside URL with a ``token=`` refused for its YAML tag;
a proxy URL with a ``token=`` query; a blob store echoing its pre-signed URL; and the
traceback of an unexpected exception without ``--debug``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image
from registry_fixtures import (
    AnswerHandler,
    assert_no_secret,
    files_text,
    free_port,
    isolate_credentials,
    serve_in_thread,
    stop_server,
)

#: Random per run, so that no fixed string in the code could make a test pass by accident.
SECRET = "Lk9" + secrets.token_hex(10)


def _assert_clean(*texts: str, secret: str = SECRET) -> None:
    assert_no_secret(*texts, secret=secret)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_credentials(monkeypatch, tmp_path)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustcopy", *args], capture_output=True, text=True, check=False,
                          timeout=120, env=env)


# -- verify --------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["text", "json", "junit"])
@pytest.mark.parametrize("name", [f"docker://leaker:{SECRET}@127.0.0.1:1/app:1", f"leaker:{SECRET}@127.0.0.1:1/app:1"],
                         ids=["docker", "no-transport"])  # (ids without the secret: it differs per process)
def test_verify_report_of_a_name_holding_a_password(tmp_path: Path, insecure_policy: Path, output: str,
                                                    name: str) -> None:
    """The name was the text line's first word, the JSON's ``image`` and the JUnit test case's name."""
    r = _cli("--policy", str(insecure_policy), "verify", "-o", output, "--digestfile", str(tmp_path / "digests"), name)
    assert r.returncode == 2
    assert "***@127.0.0.1:1/app:1" in r.stdout
    if output == "json":
        assert json.loads(r.stdout)["images"][0]["image"].endswith("***@127.0.0.1:1/app:1")
    _assert_clean(r.stdout, r.stderr, files_text(tmp_path))


@pytest.mark.parametrize("output", ["text", "json", "junit"])
def test_verify_masks_a_known_secret_quoted_by_an_error(run_cli: Any, monkeypatch: pytest.MonkeyPatch,
                                                        insecure_policy: Path, output: str) -> None:
    """verify printed its errors (stderr, JSON, JUnit) around the masking of the CLI's error line."""
    from trustcopy.errors import TransportError

    password = f"{SECRET}&<x>"  # as XML escapes it in a JUnit report, masked before escaping

    def leaky(*_args: Any, **_kwargs: Any) -> Any:
        raise TransportError(f"a library quoted {password}")

    monkeypatch.setattr("trustcopy.transports.docker.source.DockerImageSource.__init__", leaky)
    r = run_cli("--policy", str(insecure_policy), "verify", "-o", output, "--creds", f"u:{password}",
                "docker://registry.example.invalid/app:1")
    assert r.exit_code == 2
    assert "a library quoted ***" in r.stdout + r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- sync ----------------------------------------------------------------------------------------


def test_sync_masks_a_known_secret_quoted_by_an_error(run_cli: Any, monkeypatch: pytest.MonkeyPatch,
                                                      insecure_policy: Path, tmp_path: Path) -> None:
    """sync's per-image lines and summary quoted each image's error as it was."""
    from trustcopy.errors import TransportError

    def leaky(*_args: Any, **_kwargs: Any) -> Any:
        raise TransportError(f"a library quoted {SECRET}")

    monkeypatch.setattr("trustcopy.transports.docker.source.DockerImageSource.__init__", leaky)
    r = run_cli("--policy", str(insecure_policy), "sync", "--src", "docker", "--dest", "dir", "--src-creds",
                f"u:{SECRET}", "registry.example.invalid/app:1", str(tmp_path / "out"))
    assert r.exit_code == 1
    assert "a library quoted ***" in r.stdout
    _assert_clean(r.stdout, r.stderr)


def test_sync_yaml_registry_key_holding_a_password(tmp_path: Path, insecure_policy: Path) -> None:
    """A registry written ``user:token@host`` labels its images' lines and the summary."""
    yaml = tmp_path / "sync.yaml"
    yaml.write_text(f"leaker:{SECRET}@127.0.0.1:1:\n  images:\n    app: ['1']\n")
    r = _cli("--policy", str(insecure_policy), "sync", "--retry-times=0", "--src", "yaml", "--dest", "dir", str(yaml),
             str(tmp_path / "out"))
    assert r.returncode == 1
    assert "***@127.0.0.1:1/app (images)" in r.stdout
    _assert_clean(r.stdout, r.stderr, files_text(tmp_path / "out") if (tmp_path / "out").exists() else "")


@pytest.mark.parametrize("credentials", [
    f"{{username: u, password: *{SECRET}}}",  # an alias of an unknown anchor
    f"{{username: u, password: !{SECRET} x}}",  # a tag outside YAML's standard ones
    f"{{username: u, password: !!{SECRET} x}}",  # the same, in the standard namespace
    f"{{username: u, password: !{SECRET}!x y}}",  # an undefined tag handle
    f"!!int u:{SECRET}",  # the whole credentials scalar, ill-tagged
    f"!!bool u:{SECRET}",
], ids=["alias", "tag", "standard-tag", "tag-handle", "int-credentials", "bool-credentials"])
@pytest.mark.parametrize("debug", [False, True])
def test_sync_yaml_password_read_as_yaml_syntax(tmp_path: Path, insecure_policy: Path, credentials: str,
                                                debug: bool) -> None:
    """An unquoted password starting with ``*`` or ``!`` is YAML syntax; the error named it."""
    yaml = tmp_path / "sync.yaml"
    yaml.write_text(f"127.0.0.1:1:\n  images:\n    app: ['1']\n  credentials: {credentials}\n")
    r = _cli(*(["--debug"] if debug else []), "--policy", str(insecure_policy), "sync", "--retry-times=0",
             "--src", "yaml", "--dest", "dir", str(yaml), str(tmp_path / "out"))
    assert r.returncode == 1
    assert "error[sync-yaml-invalid]" in r.stderr
    assert f"{yaml}: line 4" in r.stderr or f"{yaml}: invalid YAML" in r.stderr or "value not shown" in r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- registries.d, proxies -----------------------------------------------------------------------


def test_registries_d_tagged_lookaside_url_with_a_token(tmp_path: Path, insecure_policy: Path) -> None:
    """``lookaside: !!int https://…?token=…`` was quoted whole in "cannot decode … as a !!int"."""
    dirs = tmp_path / "registries.d"
    dirs.mkdir()
    (dirs / "site.yaml").write_text(f"docker:\n  127.0.0.1:1:\n    lookaside: !!int https://h.example/sigs?token={SECRET}\n")
    for args in (["verify", "--retry-times=0"], ["lookaside", "where"]):
        r = _cli("--policy", str(insecure_policy), "--registries.d", str(dirs), *args, "docker://127.0.0.1:1/app:1")
        assert r.returncode != 0
        assert "registries-d-invalid" in r.stdout + r.stderr
        _assert_clean(r.stdout, r.stderr)


@pytest.mark.parametrize("debug", [False, True])
def test_proxy_url_with_a_token_query(debug: bool) -> None:
    """The proxy was named as written (userinfo masked, a ``token=`` query not) in errors and --debug."""
    port = free_port()  # nothing listens: the request through the proxy fails, naming it
    env = {**os.environ, "HTTPS_PROXY": f"http://127.0.0.1:{port}/?token={SECRET}"}
    r = _cli(*(["--debug"] if debug else []), "inspect", "--raw", "--retry-times=0",
             "docker://registry.example.invalid/app:1", env=env)
    assert r.returncode != 0
    assert f"through the proxy http://127.0.0.1:{port}/?token=***" in r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- a blob store echoing its pre-signed URL -----------------------------------------------------


@pytest.fixture
def echoing_blob_store() -> Iterator[tuple[str, dict[str, str]]]:
    """A registry redirecting blobs to a pre-signed URL whose store refuses it, echoing the URL."""
    image = example_image()
    port = free_port()
    mode = {"answer": "json"}

    class Handler(AnswerHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/v2/":
                self.send_answer(200, b"{}")
            elif path == "/v2/app/manifests/1":
                self.send_answer(200, image.manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            elif path.startswith("/v2/app/blobs/"):
                target = f"http://127.0.0.1:{port}/store{path[len('/v2/app/blobs'):]}?X-Amz-Signature={SECRET}"
                self.send_answer(307, headers={"Location": target})
            elif path.startswith("/store/") and mode["answer"] == "json":
                body = {"errors": [{"code": "DENIED", "message": f"signature {SECRET} refused for {self.path}"}]}
                self.send_answer(403, json.dumps(body).encode(), {"Content-Type": "application/json"})
            elif path.startswith("/store/"):
                self.send_answer(404, b"", {"Warning": f'299 - "no such object at {self.path}"'})
            else:
                self.send_answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}')

        do_HEAD = do_GET

    server = serve_in_thread(port, Handler)
    try:
        yield f"127.0.0.1:{port}", mode
    finally:
        stop_server(server)


@pytest.mark.parametrize("answer", ["json", "warning"])
@pytest.mark.parametrize("command", ["copy", "sync"])
@pytest.mark.parametrize("debug", [False, True])
def test_blob_store_echoing_its_presigned_url(echoing_blob_store: tuple[str, dict[str, str]], tmp_path: Path,
                                              insecure_policy: Path, answer: str, command: str, debug: bool) -> None:
    host, mode = echoing_blob_store
    mode["answer"] = answer
    args = (["copy", "--src-tls-verify=false", f"docker://{host}/app:1", f"dir:{tmp_path}/out"] if command == "copy"
            else ["sync", "--src-tls-verify=false", "--src", "docker", "--dest", "dir", f"{host}/app:1",
                  str(tmp_path / "out")])
    r = _cli(*(["--debug"] if debug else []), "--policy", str(insecure_policy), *args[:1], "--retry-times=0",
             *args[1:])
    assert r.returncode == 1
    assert "reading blob sha256:" in r.stdout + r.stderr
    if answer == "json":
        assert "signature *** refused" in r.stdout + r.stderr
    else:
        assert "no such object at /store/sha256:" in r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- an unexpected exception ---------------------------------------------------------------------


#: A source that fails as a bug would: an unexpected exception chained on a library's quoting the secret.
_CHAINED_BUG = f"""
    try:
        raise OSError("a library quoted {SECRET}")
    except OSError as exc:
        raise RuntimeError("unexpected") from exc
"""


def _run_with_a_buggy_source(body: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``trustcopy inspect`` through the console script's entry point, with --creds holding the
    secret and DockerImageSource.__init__ replaced by ``body`` (before any registry is reached)."""
    script = "\n".join([
        "import sys, threading", prelude,
        "from trustcopy.transports.docker import source",
        "def buggy(*args, **kwargs):", textwrap.indent(textwrap.dedent(body).strip(), "    "),
        "source.DockerImageSource.__init__ = buggy",
        "from trustcopy.cli.main import entrypoint",
        f"sys.argv = ['trustcopy', 'inspect', '--raw', '--tls-verify=false', '--creds', 'u:{SECRET}',"
        " 'docker://registry.example.invalid/app:1']",
        "entrypoint()",
    ])
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)


def test_traceback_of_an_unexpected_exception_is_masked_without_debug() -> None:
    """Only --debug installed the masking hook: a bug's traceback printed what its message quoted."""
    r = _run_with_a_buggy_source(_CHAINED_BUG)
    assert r.returncode != 0
    assert "Traceback" in r.stderr
    assert "OSError: a library quoted ***" in r.stderr  # the chained exception is printed, masked
    _assert_clean(r.stdout, r.stderr)


def test_uncaught_exception_in_a_thread_is_masked() -> None:
    """A thread's uncaught exception is printed by threading.excepthook, not sys.excepthook:
    it is masked the same way."""
    r = _run_with_a_buggy_source(f"""
        def work():
            raise OSError("a thread quoted {SECRET}")
        t = threading.Thread(target=work, name="reader")
        t.start()
        t.join()
        raise RuntimeError("unexpected")
    """)
    assert r.returncode != 0
    assert "Exception in thread reader" in r.stderr and "OSError: a thread quoted ***" in r.stderr
    _assert_clean(r.stdout, r.stderr)


def test_console_script_masks_over_a_hook_a_sitecustomize_installed() -> None:
    """A hook installed before trustcopy starts (Ubuntu's apport does so in sitecustomize) prints
    tracebacks unmasked; the console script's process is trustcopy's, so its hooks replace it."""
    r = _run_with_a_buggy_source(_CHAINED_BUG, prelude="sys.excepthook = lambda *exc: sys.__excepthook__(*exc)")
    assert r.returncode != 0
    assert "OSError: a library quoted ***" in r.stderr
    _assert_clean(r.stdout, r.stderr)
