"""Credential leaks, session 26: secrets that reached a message, a log line or a report.

Each test hands trustcopy a distinctive random secret where an error, the ``--debug`` log or a
report could quote it, makes a server (a fake registry, a blob store, a token server) echo it
back, and asserts it is in none of stdout, stderr or the files written.

Covered here: a redirect ``Location`` (blob GET, upload session, lookaside store) carrying only
``user:password@`` (no query string), whose password was never registered as a secret; a Bearer
challenge whose token ``realm`` carries ``user:password@``; an auth file key written as a URL
with a ``?token=`` query, quoted verbatim when its ``auth`` value is broken.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagefactory import example_image, write_dir
from registry_fixtures import (
    AnswerHandler,
    assert_no_secret,
    free_port,
    isolate_credentials,
    serve_in_thread,
    stop_server,
)

#: Random per run (and URL-safe, so a Location can carry it raw): no fixed string can make a test pass.
KEYS_EXAMPLE = Path(__file__).resolve().parents[2] / "keys-example"
SECRET = "Qz7" + secrets.token_hex(10)


def _assert_clean(*texts: str, secret: str = SECRET) -> None:
    assert_no_secret(*texts, secret=secret)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_credentials(monkeypatch, tmp_path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustcopy", *args], capture_output=True, text=True, check=False,
                          timeout=120)


# -- a redirect Location carrying only user:password@ --------------------------------------------


@pytest.fixture
def userinfo_redirects() -> Iterator[str]:
    """A registry sending blob GETs, upload sessions and lookaside reads to ``http://u:SECRET@…``
    URLs (no query string) on a store that refuses them, echoing the password it was given
    (as a store quoting the credentials of the URL in its error does)."""
    image = example_image()
    port = free_port()
    store = f"http://u:{SECRET}@127.0.0.1:{port}"
    echo = json.dumps({"errors": [{"code": "DENIED", "message": f"password {SECRET} refused"}]}).encode()

    class Handler(AnswerHandler):
        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            if self.headers.get("Content-Length"):
                self.rfile.read(int(self.headers["Content-Length"]))
            if path == "/v2/":
                self.send_answer(200, b"{}")
            elif path == "/v2/app/manifests/1":
                self.send_answer(200, image.manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            elif path.startswith("/v2/app/blobs/") and self.command == "GET":
                self.send_answer(307, headers={"Location": f"{store}/store{path[len('/v2/app/blobs'):]}"})
            elif path == "/v2/dst/blobs/uploads/" and self.command == "POST":
                self.send_answer(202, headers={"Location": f"{store}/upload/1"})
            elif path.startswith("/sigs/"):
                self.send_answer(302, headers={"Location": f"{store}/real{path}"})
            elif path.startswith(("/store/", "/upload/", "/real/")):
                self.send_answer(403, echo, {"Content-Type": "application/json"})
            else:
                self.send_answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}',
                                 {"Content-Type": "application/json"})

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    server = serve_in_thread(port, Handler)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_server(server)


@pytest.mark.parametrize("debug", [False, True])
def test_blob_redirect_with_only_userinfo(userinfo_redirects: str, tmp_path: Path, insecure_policy: Path,
                                          debug: bool) -> None:
    """input: a blob GET redirected to ``http://u:PW@store/…``; the store echoes PW.
    old: "reading blob …: password PW refused" (only a query's secrets were registered).
    new: "password *** refused"."""
    r = _cli(*(["--debug"] if debug else []), "--policy", str(insecure_policy), "copy", "--retry-times=0",
             "--src-tls-verify=false", f"docker://{userinfo_redirects}/app:1", f"dir:{tmp_path}/out")
    assert r.returncode == 1
    assert "password *** refused" in r.stderr
    _assert_clean(r.stdout, r.stderr)


@pytest.mark.parametrize("debug", [False, True])
def test_upload_location_with_only_userinfo(userinfo_redirects: str, tmp_path: Path, insecure_policy: Path,
                                            debug: bool) -> None:
    """input: ``POST …/blobs/uploads/`` answered with ``Location: http://u:PW@store/upload/1``.
    old: the PATCH/PUT refusal quoted "password PW refused" (upload locations were never registered).
    new: masked."""
    write_dir(example_image(), str(tmp_path / "src"))
    r = _cli(*(["--debug"] if debug else []), "--policy", str(insecure_policy), "copy", "--retry-times=0",
             "--dest-tls-verify=false", f"dir:{tmp_path}/src", f"docker://{userinfo_redirects}/dst:1")
    assert r.returncode == 1
    assert "password *** refused" in r.stderr
    _assert_clean(r.stdout, r.stderr)


@pytest.mark.parametrize("debug", [False, True])
def test_lookaside_redirect_with_only_userinfo(userinfo_redirects: str, tmp_path: Path, debug: bool) -> None:
    """input: a lookaside store redirecting ``signature-1`` to ``http://u:PW@…``."""
    dirs = tmp_path / "registries.d"
    dirs.mkdir()
    (dirs / "site.yaml").write_text(f"docker:\n  {userinfo_redirects}:\n    lookaside: http://{userinfo_redirects}/sigs\n")
    policy = tmp_path / "signed.json"
    policy.write_text(json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys",
                                               "keyPath": str(KEYS_EXAMPLE / "pubring.gpg")}]}))
    r = _cli(*(["--debug"] if debug else []), "--policy", str(policy), "--registries.d", str(dirs),
             "verify", "-o", "json", "--retry-times=0", "--tls-verify=false", f"docker://{userinfo_redirects}/app:1")
    assert r.returncode != 0
    assert "lookaside-http" in r.stdout + r.stderr, r.stdout + r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- a token realm carrying user:password@ ------------------------------------------------------


@pytest.fixture
def userinfo_realm() -> Iterator[str]:
    """A registry whose Bearer challenge names ``http://tu:SECRET@…/token``; the token server
    refuses every request with a 400 whose body echoes that password."""
    port = free_port()

    class Handler(AnswerHandler):
        def _answer(self) -> None:
            if self.headers.get("Content-Length"):
                self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.startswith("/token"):
                body = json.dumps({"details": f"realm password {SECRET} is not accepted here"}).encode()
                self.send_answer(400, body, {"Content-Type": "application/json"})
                return
            challenge = f'Bearer realm="http://tu:{SECRET}@127.0.0.1:{port}/token",service="svc"'
            self.send_answer(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}',
                             {"WWW-Authenticate": challenge, "Content-Type": "application/json"})

        do_GET = do_HEAD = do_POST = _answer

    server = serve_in_thread(port, Handler)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_server(server)


@pytest.mark.parametrize("creds", [[], ["--creds", "u:another-pw-123"]], ids=["anonymous", "creds"])
@pytest.mark.parametrize("debug", [False, True])
def test_token_realm_with_userinfo_echoed_by_the_token_server(userinfo_realm: str, debug: bool,
                                                              creds: list[str]) -> None:
    """input: ``WWW-Authenticate: Bearer realm="http://tu:PW@host/token"``; the token server's 400 quotes PW.
    old: "requesting a bearer token from http://***@…/token: … (… realm password PW is not accepted …)":
    the realm's URL was masked, the password it carried was not registered.
    new: "realm password *** is not accepted"."""
    r = _cli(*(["--debug"] if debug else []), "inspect", "--raw", "--retry-times=0", "--tls-verify=false", *creds,
             f"docker://{userinfo_realm}/app:1")
    assert r.returncode != 0
    assert "realm password *** is not accepted" in r.stderr
    _assert_clean(r.stdout, r.stderr)


# -- an auth file key quoted in a message ---------------------------------------------------------


@pytest.mark.parametrize("auth", ["!!not-base64", "/w=="], ids=["invalid-base64", "no-colon"])
def test_auth_file_key_with_a_token_query(tmp_path: Path, auth: str) -> None:
    """input: ``{"auths": {"http://HOST/v2/?token=SECRET": {"auth": …}}}`` (a key written as a URL; Docker
    and c/image accept the URL form and match it on its host) whose ``auth`` is broken.
    old: 'the "auth" value for 'http://HOST/v2/?token=SECRET' is not valid base64' (the error) and
    '… has no ":"; ignoring it' (the warning) quoted the key verbatim.
    new: the key is shown as redact_url shows a URL: ``?token=***``."""
    host = f"127.0.0.1:{free_port()}"  # nothing listens: the command fails after reading the file
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"auths": {f"http://{host}/v2/?token={SECRET}": {"auth": auth}}}))
    for debug in ([], ["--debug"]):
        r = _cli(*debug, "inspect", "--raw", "--retry-times=0", "--tls-verify=false", "--authfile", str(authfile),
                 f"docker://{host}/app:1")
        assert r.returncode != 0
        assert f"the \"auth\" value for 'http://{host}/v2/?token=***'" in r.stderr
        _assert_clean(r.stdout, r.stderr)
