"""trustcopy used as a Python library, as a platform team's code uses it (docs/library.md).

``copy_image`` with a PolicyContext, SystemContexts and CopyOptions, ``verify_images``,
errors caught by class. What must hold:

- the library leaves the caller's process as it found it, after a success and after each
  kind of failure: nothing printed, no ``sys.exit``, no signal handler, excepthook or
  logging handler installed, umask, cwd, environment, ssl/socket defaults and httpcore's
  class attributes unchanged, no thread, open file or temporary directory left behind;
- two copies in two threads (different images, one destination layout, one registry
  session, one PolicyContext) both land, each with its own image;
- an exception from a progress callback, or a KeyboardInterrupt, mid-copy leaves the
  destination uncommitted and nothing staged;
- every public name is importable, typed for ``mypy --strict`` (``__init__.pyi``),
  documented, and the page's examples run as written;
- errors carry ``code``/``message``/``hint``/``context`` and never a credential.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_image, random_layer, write_dir
from registry_fixtures import (
    USERS,
    AnswerHandler,
    RegistryServer,
    free_port,
    isolate_credentials,
    serve_in_thread,
    stop_server,
)

import trustcopy
from trustcopy import (
    CopyOptions,
    DigestMismatchError,
    PolicyContext,
    PolicyError,
    PolicyRejected,
    RegistryError,
    SystemContext,
    TransportError,
    TrustcopyError,
    copy_image,
    load_policy,
    parse_image_name,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "library.md"
SECRET = "Lib-S3cret-" + base64.b32encode(os.urandom(10)).decode().rstrip("=")

pytestmark = pytest.mark.registry


# -- the caller's process, before and after -------------------------------------------------


def _process_state() -> dict[str, Any]:
    """What a library must not change in its caller's process."""
    mask = os.umask(0o022)
    os.umask(mask)
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                        if isinstance(lg, logging.Logger)]
    state: dict[str, Any] = {
        "threads": sorted(t.name for t in threading.enumerate()),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM,
                                                      signal.SIGPIPE, signal.SIGCHLD, signal.SIGUSR1)},
        "alarm": (signal.getitimer(signal.ITIMER_REAL)[0] > 0, signal.getitimer(signal.ITIMER_REAL)[1]),
        "hooks": (sys.excepthook, threading.excepthook, sys.unraisablehook, sys.displayhook),
        "handlers": {lg.name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers
                     if lg.handlers or lg.level or not lg.propagate or lg.disabled},
        "last_resort": logging.lastResort,
        "umask": mask,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "socket_timeout": socket.getdefaulttimeout(),
        "https_context": ssl._create_default_https_context,
        "tempdir": (tempfile.tempdir, tempfile.gettempdir()),
        "tmp_entries": sorted(os.listdir(tempfile.gettempdir())),
        "recursion": sys.getrecursionlimit(),
        "switch": sys.getswitchinterval(),
    }
    http11 = sys.modules.get("httpcore._sync.http11")
    if http11 is not None:
        state["httpcore_read"] = http11.HTTP11Connection.READ_NUM_BYTES
    return state


def _settle(before: dict[str, Any]) -> dict[str, Any]:
    """The state after, once threads that were ending have ended (a short, bounded wait)."""
    deadline = time.monotonic() + 5
    while True:
        after = _process_state()
        if after["threads"] == before["threads"] or time.monotonic() > deadline:
            return after
        time.sleep(0.02)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private TMPDIR, no ambient credentials or proxies, a policy and two images in dir: form."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read $TMPDIR
    isolate_credentials(monkeypatch, tmp_path)
    (tmp_path / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    (tmp_path / "reject.json").write_text(json.dumps({"default": [{"type": "reject"}]}))
    write_dir(example_image(), str(tmp_path / "build" / "app"))
    write_dir(make_image([random_layer(200_000, 1), random_layer(150_000, 2)]), str(tmp_path / "build" / "other"))
    yield tmp_path


def _copy(world: Path, src: str, dst: str, policy: str = "policy.json", **options: Any) -> Any:
    with PolicyContext(load_policy(str(world / policy))) as pc:
        return copy_image(pc, parse_image_name(dst), parse_image_name(src), CopyOptions(**options))


def _corrupt(world: Path) -> str:
    """``dir:`` image whose largest layer has one byte more than its manifest says."""
    path = world / "build" / "corrupt"
    write_dir(example_image(), str(path))
    manifest = json.loads((path / "manifest.json").read_text())
    layer = max(manifest["layers"], key=lambda d: d["size"])["digest"].split(":", 1)[1]
    with open(path / layer, "ab") as f:
        f.write(b"x")
    return f"dir:{path}"


def _raise(exc: BaseException) -> Callable[[object], None]:
    def progress(event: object) -> None:
        if type(event).__name__ in ("BlobStarted", "BlobProgress", "BlobDone"):
            raise exc
    return progress


def _raise_on_line(exc: BaseException) -> Callable[[str], None]:
    def report(line: str) -> None:
        raise exc
    return report


#: name → (source, destination, policy, options, the exception class expected or None)
def _scenarios(world: Path) -> dict[str, tuple[str, str, str, dict[str, Any], type[BaseException] | None]]:
    app = f"dir:{world}/build/app"
    down = SystemContext(docker_tls_verify=False, retry_times=0, docker_retry_delay=0.01,
                         docker_username="u", docker_password=SECRET)
    return {
        "success": (app, f"oci:{world}/out:ok", "policy.json", {}, None),
        "success-archive": (app, f"docker-archive:{world}/out.tar:x/app:1", "policy.json", {}, None),
        "rejected": (app, f"oci:{world}/out:rej", "reject.json", {}, PolicyRejected),
        "missing-source": (f"dir:{world}/nothing", f"oci:{world}/out:miss", "policy.json", {}, TransportError),
        "missing-policy": (app, f"oci:{world}/out:pol", "no-such-policy.json", {}, PolicyError),
        "digest-mismatch": (_corrupt(world), f"oci:{world}/out:bad", "policy.json", {}, DigestMismatchError),
        "unwritable": (app, "oci:/proc/trustcopy-cannot-write:x", "policy.json", {}, TransportError),
        "registry-down": (app, f"docker://127.0.0.1:{free_port()}/app:1", "policy.json", {"dest_ctx": down},
                          RegistryError),
        "callback-raises": (app, f"oci:{world}/out:cb", "policy.json", {"progress": _raise(RuntimeError("cb"))},
                            RuntimeError),
        "keyboard-interrupt": (f"dir:{world}/build/other", f"oci:{world}/out:kbi", "policy.json",
                               {"progress": _raise(KeyboardInterrupt())}, KeyboardInterrupt),
        "report-raises": (app, f"docker-archive:{world}/cb.tar", "policy.json",
                          {"report": _raise_on_line(ValueError("report"))}, None),
    }


SCENARIOS = ["success", "success-archive", "rejected", "missing-source", "missing-policy", "digest-mismatch",
             "unwritable", "registry-down", "callback-raises", "keyboard-interrupt"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_copy_leaves_the_callers_process_as_it_found_it(world: Path, name: str,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    src, dst, policy, options, expected = _scenarios(world)[name]
    _copy(world, f"dir:{world}/build/app", f"oci:{world}/warm:1")  # modules, loggers, pools made once
    capfd.readouterr()
    before = _process_state()
    stdout, stderr = io.StringIO(), io.StringIO()
    caught: BaseException | None = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            _copy(world, src, dst, policy, **options)
        except BaseException as exc:
            caught = exc
    after = _settle(before)
    if expected is None:
        assert caught is None, repr(caught)
    else:
        assert isinstance(caught, expected), repr(caught)
        assert not isinstance(caught, SystemExit)
    assert stdout.getvalue() == stderr.getvalue() == "", (stdout.getvalue(), stderr.getvalue())
    assert capfd.readouterr() == ("", ""), "written to the process's own stdout/stderr"
    assert {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)} == {}
    # The destination: committed on success only, nothing staged either way.
    if dst.startswith("oci:") and not dst.startswith("oci:/proc"):
        layout = Path(dst[4:].rsplit(":", 1)[0])
        tag = dst.rsplit(":", 1)[1]
        names = [m["annotations"]["org.opencontainers.image.ref.name"]
                 for m in json.loads((layout / "index.json").read_text())["manifests"]] if layout.exists() else []
        assert (tag in names) == (expected is None)
        if layout.exists():
            assert sorted(p.name for p in layout.iterdir()) == ["blobs", "index.json", "oci-layout"]
            assert all(not p.name.startswith(".") for p in (layout / "blobs" / "sha256").iterdir())
    assert sorted(p.name for p in world.iterdir() if p.name.startswith(".")) == []


def test_an_exception_from_report_ends_the_copy_uncommitted(world: Path) -> None:
    src, dst, policy, options, _ = _scenarios(world)["report-raises"]
    with pytest.raises(ValueError, match="report"):
        _copy(world, src, dst, policy, **options)
    assert sorted(p.name for p in world.iterdir() if "cb" in p.name) == []


def test_a_registry_warning_is_logged_not_printed_by_the_library_and_printed_by_the_cli(
        world: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Old: Python's last-resort handler printed ``warning from registry …`` on the caller's stderr."""
    image = example_image()

    class Handler(AnswerHandler):
        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            warn = {"Warning": '299 - "this registry is deprecated"'}
            if path == "/v2/":
                self.send_answer(200, b"{}", warn)
            elif path == "/v2/app/manifests/1":
                self.send_answer(200, image.manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                                                       **warn})
            elif path.startswith("/v2/app/blobs/"):
                self.send_answer(200, image.blobs[path.rsplit("/", 1)[1]], warn)
            else:
                self.send_answer(404)

        do_GET = do_HEAD = _answer

        def handle(self) -> None:
            with contextlib.suppress(ConnectionError):  # a pool closing its idle connection
                super().handle()

    port = free_port()
    server = serve_in_thread(port, Handler)
    try:
        ctx = SystemContext(docker_tls_verify=False)
        with caplog.at_level(logging.WARNING, logger="trustcopy"):
            _copy(world, f"docker://127.0.0.1:{port}/app:1", f"oci:{world}/out:w", source_ctx=ctx)
        assert "this registry is deprecated" in caplog.text  # an application that configures logging sees it
        # A process without logging configuration (pytest's own handlers would hide the difference).
        script = ("from trustcopy import *\n"
                  f"with PolicyContext(load_policy({str(world / 'policy.json')!r})) as pc:\n"
                  f"    copy_image(pc, parse_image_name('oci:{world}/out:s'),"
                  f" parse_image_name('docker://127.0.0.1:{port}/app:1'),"
                  " CopyOptions(source_ctx=SystemContext(docker_tls_verify=False)))\n")
        library = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                 check=False)
        cli = subprocess.run([sys.executable, "-m", "trustcopy", "--policy", str(world / "policy.json"), "copy", "-q",
                              "--src-tls-verify=false", f"docker://127.0.0.1:{port}/app:1", f"oci:{world}/out:c"],
                             capture_output=True, text=True, timeout=60, check=False)
    finally:
        stop_server(server)
    assert (library.returncode, library.stdout, library.stderr) == (0, "", "")
    assert cli.returncode == 0, cli.stderr
    assert cli.stderr.count("this registry is deprecated") == 1, cli.stderr


# -- threads --------------------------------------------------------------------------------


@pytest.fixture
def auth_registry(htpasswd_registry: RegistryServer) -> RegistryServer:
    return htpasswd_registry


def test_two_copies_in_two_threads_share_a_session_a_policy_and_a_layout(auth_registry: RegistryServer,
                                                                          world: Path) -> None:
    from trustcopy.transports.docker.session import RegistrySession

    before = _process_state()
    images = {"app": f"dir:{world}/build/app", "other": f"dir:{world}/build/other"}
    users = list(USERS.items())
    errors: list[BaseException] = []
    digests: dict[str, str] = {}
    barrier = threading.Barrier(2)
    with RegistrySession() as session, PolicyContext(load_policy(str(world / "policy.json"))) as pc:
        contexts = [SystemContext(docker_tls_verify=False, docker_username=u, docker_password=p,
                                  docker_retry_delay=0.05, registry_session=session) for u, p in users]

        def run(index: int, name: str, direction: str) -> None:
            ctx = contexts[index]
            registry_ref = f"docker://{auth_registry.host}/{name}:1"
            try:
                barrier.wait(10)
                if direction == "push":
                    result = copy_image(pc, parse_image_name(registry_ref), parse_image_name(images[name]),
                                        CopyOptions(dest_ctx=ctx))
                else:
                    result = copy_image(pc, parse_image_name(f"oci:{world}/shared:{name}"),
                                        parse_image_name(registry_ref), CopyOptions(source_ctx=ctx))
                digests[f"{direction}-{name}"] = str(result.digest)
            except BaseException as exc:
                errors.append(exc)

        for direction in ("push", "pull", "pull"):
            threads = [threading.Thread(target=run, args=(i, name, direction)) for i, name in enumerate(images)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []
    index = json.loads((world / "shared" / "index.json").read_text())["manifests"]
    assert {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index} == {
        "app": digests["push-app"], "other": digests["push-other"]}
    assert digests["push-app"] != digests["push-other"]
    for name, src in images.items():  # each tag holds its own image (not the other thread's)
        manifest = (world / "shared" / "blobs" / "sha256" / digests[f"push-{name}"].split(":")[1]).read_bytes()
        assert manifest == Path(src[4:], "manifest.json").read_bytes()
    after = _settle(before)
    assert after["threads"] == before["threads"] and after["fds"] == before["fds"]


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("echo", ["json", "text"])
def test_errors_carry_their_attributes_and_never_a_credential(world: Path, echo: str) -> None:
    """A registry echoing the Basic credential (and the password) in its error answers."""

    class Handler(AnswerHandler):
        def _answer(self) -> None:
            if self.headers.get("Content-Length"):
                self.rfile.read(int(self.headers["Content-Length"]))
            auth = self.headers.get("Authorization", "")
            if not auth:
                self.send_answer(401, b"{}", {"WWW-Authenticate": 'Basic realm="r"'})
                return
            said = f"refused {auth} ({base64.b64decode(auth.split()[1]).decode()})"
            if self.path == "/v2/":
                self.send_answer(200, b"{}")
            elif echo == "json":
                self.send_answer(403, json.dumps({"errors": [{"code": "DENIED", "message": said, "detail": said}]})
                                 .encode(), {"Content-Type": "application/json"})
            else:
                self.send_answer(500, said.encode(), {"Content-Type": "text/plain"})

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _answer

    port = free_port()
    server = serve_in_thread(port, Handler)
    ctx = SystemContext(docker_tls_verify=False, docker_username="deploy", docker_password=SECRET, retry_times=0,
                        docker_retry_delay=0.01)
    basic = base64.b64encode(f"deploy:{SECRET}".encode()).decode()
    try:
        for src, dst, side in ((f"docker://127.0.0.1:{port}/app:1", f"oci:{world}/out:e", "source_ctx"),
                               (f"dir:{world}/build/app", f"docker://127.0.0.1:{port}/app:1", "dest_ctx")):
            with pytest.raises(RegistryError) as info:
                _copy(world, src, dst, **{side: ctx})
            exc = info.value
            assert isinstance(exc.code, str) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", exc.code)
            assert isinstance(exc.message, str) and exc.message == str(exc) and f"127.0.0.1:{port}" in exc.message
            assert exc.hint is None or isinstance(exc.hint, str)
            assert isinstance(exc.context, dict) and exc.context.get("status") in (403, 500)
            seen = repr((exc.message, exc.hint, exc.context, exc.args, exc.__dict__))
            cause: BaseException | None = exc
            while cause is not None:
                seen += repr(cause.args)
                cause = cause.__cause__ or cause.__context__
            assert SECRET not in seen and basic[:16] not in seen, seen
    finally:
        stop_server(server)


def test_error_classes_and_codes_for_a_caller_catching_by_class(world: Path) -> None:
    with pytest.raises(PolicyRejected) as rejected:
        _copy(world, f"dir:{world}/build/app", f"oci:{world}/out:r", policy="reject.json")
    assert rejected.value.code == "policy-rejected" and rejected.value.verdict is not None
    assert not rejected.value.verdict.allowed
    with pytest.raises(PolicyError) as policy:
        load_policy(str(world / "nope.json"))
    assert policy.value.code == "policy-invalid" and str(world / "nope.json") in policy.value.message
    with pytest.raises(trustcopy.InvalidReferenceError) as ref:
        parse_image_name(f"docker://user:{SECRET}@example.com/app")
    assert SECRET not in repr((ref.value.message, ref.value.hint, ref.value.context, ref.value.args))
    assert all(issubclass(getattr(trustcopy, n), TrustcopyError) for n in trustcopy.__all__ if n.endswith(
        ("Error", "Rejected")))


# -- the public API: importable, typed, documented, examples run ----------------------------


def _lazy_names() -> dict[str, str]:
    tree = ast.parse((ROOT / "trustcopy" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_LAZY":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise AssertionError("_LAZY not found")


def test_every_public_name_is_importable_typed_and_documented() -> None:
    lazy = _lazy_names()
    assert sorted(trustcopy.__all__) == sorted(["__version__", *lazy])
    for name in lazy:
        value = getattr(trustcopy, name)
        assert value is getattr(__import__(lazy[name], fromlist=[name]), name)
    assert (ROOT / "trustcopy" / "py.typed").exists()
    stub = ast.parse((ROOT / "trustcopy" / "__init__.pyi").read_text())
    typed = {(node.module, a.name, a.asname) for node in stub.body if isinstance(node, ast.ImportFrom)
             for a in node.names}
    # Every lazy name is re-exported by the stub, from where __init__ imports it (or the package above it).
    assert {name for _, name, alias in typed if alias == name} == set(lazy)
    for module, name, _ in typed:
        assert lazy[name] == module or lazy[name].startswith(f"{module}."), (name, module)
    page = PAGE.read_text()
    assert [n for n in lazy if f"`{n}" not in page and f" {n}`" not in page and f"{n}(" not in page] == []


def test_mypy_strict_accepts_a_platform_teams_script(tmp_path: Path) -> None:
    script = tmp_path / "promote.py"
    script.write_text('''\
from __future__ import annotations

import trustcopy
from trustcopy import (CopyOptions, Digest, PolicyContext, PolicyRejected, RegistryError, SystemContext,
                       TrustcopyError, copy_image, load_policy, parse_image_name)
from trustcopy.copy.verify import verify_images
from trustcopy.transports.docker.session import RegistrySession


def promote(src: str, dst: str, policy_path: str) -> tuple[Digest | None, str]:
    with RegistrySession() as session, PolicyContext(load_policy(policy_path)) as pc:
        ctx = SystemContext(docker_tls_verify=False, registry_session=session)
        try:
            result = copy_image(pc, parse_image_name(dst), parse_image_name(src),
                                CopyOptions(source_ctx=ctx, dest_ctx=ctx, max_parallel=2))
        except PolicyRejected as exc:
            return None, f"{exc.code}: {exc.message} {exc.verdict}"
        except RegistryError as exc:
            retry: bool = exc.transient
            return None, f"{exc.code} {retry}"
        except TrustcopyError as exc:
            hint: str | None = exc.hint
            context: dict[str, object] = exc.context
            return None, exc.message + (hint or "") + str(context)
        digest: Digest = result.digest
        manifest: bytes = result.manifest
        return digest, f"{len(manifest)} {trustcopy.__version__}"


ok: bool = verify_images(["dir:x"], policy_path="p.json").allowed
''')
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n\n[mypy-trustcopy.*]\n"
                                       "# as for an installed package: its own errors are not the user's\n"
                                       "ignore_errors = True\n")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp_path / "mypy.ini"), "--cache-dir",
                        str(ROOT / ".mypy_cache" / "library-api"), str(script)], capture_output=True, text=True,
                       env=env, timeout=300, check=False, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # And the names are really typed (not Any): a wrong use is an error.
    script.write_text("from trustcopy import copy_image, CopyOptions\n"
                      "copy_image(1, 2, 3, CopyOptions(max_parallel='x'))\n")
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp_path / "mypy.ini"), "--cache-dir",
                        str(ROOT / ".mypy_cache" / "library-api"), str(script)], capture_output=True, text=True,
                       env=env, timeout=300, check=False, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.count("arg-type") >= 3, r.stdout


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.M | re.S)


def test_the_documented_examples_run_as_written(auth_registry: RegistryServer, world: Path) -> None:
    # (the registry first: docker-registry reads REGISTRY_* variables, and world sets REGISTRY_AUTH_FILE)
    blocks = _python_blocks()
    assert len(blocks) >= 4
    user, password = next(iter(USERS.items()))
    env = {**os.environ, "REGISTRY": auth_registry.host, "REGISTRY_USER": user, "REGISTRY_PASSWORD": password}
    outputs = []
    for block in blocks:
        r = subprocess.run([sys.executable, "-c", block], cwd=world, capture_output=True, text=True, env=env,
                           timeout=120, check=False)
        assert r.returncode == 0 and r.stderr == "", f"{block}\n---\n{r.stdout}{r.stderr}"
        outputs.append(r.stdout)
    assert outputs[0].startswith("copied sha256:")
    assert outputs[1].count("sha256:") == 2
    assert outputs[2].startswith("True 1 image")
    assert re.fullmatch(r"\d+ blobs\n", outputs[3]) and not outputs[3].startswith("0 ")
