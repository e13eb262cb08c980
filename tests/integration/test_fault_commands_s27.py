"""Registry faults for the commands other than ``copy``: inspect, list-tags, delete, login,
sync, verify, ``copy --all`` and signature reads from an http lookaside.

The s26 matrix (test_fault_matrix_s26.py) covers copy, and one row of request kinds each for
inspect, list-tags, delete and sync. This file reuses its world (a real docker-registry per
worker, a FaultProxy per cell, ``Cell.apply`` rules, the kill -9 restart) and adds what that
row does not reach: ``inspect --raw`` / ``--config`` bodies; tag lists that page (a fault on
page 2, a ``Link`` to another host, a ``Link`` loop); the ping and a 401 loop of ``login``;
one image of several failing in ``sync`` docker→docker; ``verify``'s manifest and signature
reads; the second instance of a list in ``copy --all``; and a delete by digest.

Distribution 2.8 does not page tag lists, so a small pager (a ScriptedProxy answering
``tags/list`` one tag a page, ``Link: <...?last=T>; rel="next"``) sits between the FaultProxy
and the registry: faults still hit real pages on the wire.

Expected everywhere: a transient fault retried within ``--retry-times`` (a 429 after its
``Retry-After``); a lasting one reported once, naming the request or the image, exit 1
(``verify``: 2, "could not be evaluated"); a flipped byte caught by the digest; nothing half
written at a local destination; no credentials in any message.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from imagefactory import Image, make_image, make_index, random_layer
from registry_fixtures import (
    USERS,
    Fault,
    FaultProxy,
    RegistryServer,
    fast_sys,
    free_port,
    push_image,
    registry_request,
    running,
    serve_in_thread,
    stop_server,
)
from scripted_proxy import Answer, ScriptedProxy, Seen
from test_fault_matrix_s26 import (
    BURST_FLAGS,
    CONFIG,
    IMAGE,
    KILL_FLAGS,
    TRANSIENT_FLAGS,
    Cell,
    assert_dir_image,
    cell,  # noqa: F401 (a fixture)
    error_lines,
    fault_of,
    registry,  # noqa: F401 (a fixture)
)
from test_signature_fetch_faults import Fault as StoreFault
from test_signature_fetch_faults import World, always, first, world  # noqa: F401 (fixture)

pytestmark = [pytest.mark.registry]


@pytest.fixture
def c(cell: Cell) -> Cell:  # noqa: F811 (the imported fixture, requested)
    """The s26 matrix's cell (a repository, a FaultProxy in front of the worker's registry, the CLI)."""
    return cell


@pytest.fixture
def w(world: World) -> World:  # noqa: F811 (the imported fixture, requested)
    """test_signature_fetch_faults's world: ``ns/app:1`` signed, its signature in an http lookaside."""
    return world


PASSWORD = USERS["alice"]


def one_error(r: Any, *needles: str, code: str | None = None) -> str:
    """The single ``error[...]`` line of a failed run, holding every needle, no traceback, no password."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert code is None or lines[0].startswith(f"error[{code}]:"), lines[0]
    assert PASSWORD not in r.stdout + r.stderr
    return lines[0]


# -- inspect --------------------------------------------------------------------------------------------------------


def test_inspect_raw_survives_a_503_on_the_manifest(c: Cell) -> None:
    c.seed()
    c.apply("manifest-get", fault_of("503"))
    r = c.cli("inspect", "--tls-verify=false", "--raw", *TRANSIENT_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.encode() == IMAGE.manifest
    assert c.proxy.count("GET", "/manifests/1") == 2


def test_inspect_raw_config_survives_a_cut_config_body(c: Cell) -> None:
    c.seed()
    c.apply("config-get", fault_of("cut"))
    r = c.cli("inspect", "--tls-verify=false", "--config", "--raw", *TRANSIENT_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.encode() == IMAGE.blobs[CONFIG]
    assert c.proxy.count("GET", f"/blobs/{CONFIG}") == 2


def test_inspect_config_survives_a_kill_of_the_registry(c: Cell) -> None:
    c.seed()
    c.apply("config-get", "kill")
    r = c.cli("inspect", "--tls-verify=false", "--config", *KILL_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(IMAGE.blobs[CONFIG])


@pytest.mark.parametrize("args", [("--config", "--raw"), ()], ids=["config-raw", "default"])
def test_inspect_never_prints_a_config_with_a_flipped_byte(c: Cell, args: tuple[str, ...]) -> None:
    c.seed()
    c.apply("config-get", Fault(flip_at=5), times=None)
    r = c.cli("inspect", "--tls-verify=false", *args, *BURST_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, CONFIG, code="digest-mismatch")
    assert r.stdout == ""


def test_inspect_raw_by_digest_never_prints_a_flipped_manifest(c: Cell) -> None:
    c.seed()
    c.apply("manifest-get", Fault(flip_at=5), times=None)
    r = c.cli("inspect", "--tls-verify=false", "--raw", *BURST_FLAGS, f"docker://{c.name}@{IMAGE.digest}")
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, c.repo, code="digest-mismatch")
    assert r.stdout == ""


def test_inspect_config_waits_for_retry_after(c: Cell) -> None:
    c.seed()
    c.apply("config-get", fault_of("429-seconds"))
    start = time.monotonic()
    r = c.cli("inspect", "--tls-verify=false", "--config", "--raw", *TRANSIENT_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 0, r.stderr
    assert 0.9 <= time.monotonic() - start < 10
    assert r.stdout.encode() == IMAGE.blobs[CONFIG]


def test_inspect_config_burst_fails_naming_the_config(c: Cell) -> None:
    c.seed()
    c.apply("config-get", fault_of("503"), times=None)
    r = c.cli("inspect", "--tls-verify=false", "--config", *BURST_FLAGS, f"docker://{c.name}:1")
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, c.repo, CONFIG, "injected fault")
    assert c.proxy.count("GET", f"/blobs/{CONFIG}") == 2
    assert r.stdout == ""


# -- list-tags over pages -------------------------------------------------------------------------------------------

TAGS = ["a", "b", "c"]


class Pager:
    """A ScriptedProxy in front of the registry answering ``tags/list`` one tag a page, as
    Distribution 3 does for ``?n=1``: the page after ``last`` and a ``Link`` to the next one
    (``link`` overrides that header, given the page's ``last``). With ``auth``, every request
    without Basic credentials gets a 401 challenge (so a client sends them wherever it goes)."""

    def __init__(self, reg: RegistryServer, *, auth: bool = False) -> None:
        self.reg = reg
        self.auth = auth
        self.link: Any = None
        self.proxy = ScriptedProxy(reg.port, answer=self.answer)

    def answer(self, seen: Seen) -> Answer | None:
        if self.auth and not seen.headers.get("authorization", "").startswith("Basic "):
            return Answer(401, {"WWW-Authenticate": 'Basic realm="pager"', "Content-Type": "application/json"},
                          b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        url = urllib.parse.urlsplit(seen.path)
        if seen.method != "GET" or not url.path.endswith("/tags/list"):
            return None
        status, body = registry_request(self.reg.url, url.path.removeprefix("/v2/"))
        if status != 200:
            return Answer(status)
        name = json.loads(body)["name"]
        everything = sorted(json.loads(body)["tags"])
        last = urllib.parse.parse_qs(url.query).get("last", [""])[0]
        rest = [t for t in everything if t > last]
        headers = {"Content-Type": "application/json"}
        link = self.link(last) if self.link is not None else (
            f'</v2/{name}/tags/list?n=1&last={rest[0]}>; rel="next"' if len(rest) > 1 else None)
        if link:
            headers["Link"] = link
        return Answer(200, headers, json.dumps({"name": name, "tags": rest[:1]}).encode())

    def start(self) -> Pager:
        self.proxy.start()
        return self

    def stop(self) -> None:
        self.proxy.stop()


@pytest.fixture
def paged(c: Cell) -> Iterator[tuple[Cell, Pager]]:
    """The cell's repository with tags a, b, c, its FaultProxy in front of a Pager in front of the registry."""
    for tag in TAGS:
        push_image(c.reg.host, f"{c.repo}:{tag}", IMAGE, fast_sys())
    with running(Pager(c.reg)) as pager, running(FaultProxy(pager.proxy.port)) as proxy:
        c.proxy = proxy
        yield c, pager


PAGE2 = "last=a"


def page2(c: Cell, fault: Fault | str, times: int | None = 1) -> None:
    """``fault`` for the first ``times`` requests of page 2."""
    from test_fault_matrix_s26 import KINDS

    KINDS.setdefault("tags-page2", lambda m, p, h: m == "GET" and "/tags/list" in p and PAGE2 in p)
    c.apply("tags-page2", fault, times)


def list_tags(c: Cell, *flags: str) -> Any:
    return c.cli("list-tags", "--tls-verify=false", *flags, f"docker://{c.name}")


def test_without_faults_every_page_is_read(paged: tuple[Cell, Pager]) -> None:
    c, _ = paged
    r = list_tags(c, *TRANSIENT_FLAGS)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["Tags"] == TAGS
    assert c.proxy.count("GET", "/tags/list") == 3


@pytest.mark.parametrize("fault", ["lost", "cut", "kill"])
def test_a_transient_fault_on_page_two_is_retried(paged: tuple[Cell, Pager], fault: str) -> None:
    c, _ = paged
    page2(c, fault_of(fault))
    r = list_tags(c, *(KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["Tags"] == TAGS
    assert c.hits >= 1 and c.proxy.count("GET", PAGE2) >= 2


def test_a_429_on_page_two_waits_for_retry_after(paged: tuple[Cell, Pager]) -> None:
    c, _ = paged
    page2(c, fault_of("429-seconds"))
    start = time.monotonic()
    r = list_tags(c, *TRANSIENT_FLAGS)
    assert r.exit_code == 0, r.stderr
    assert 0.9 <= time.monotonic() - start < 10
    assert json.loads(r.stdout)["Tags"] == TAGS


def test_without_retries_a_cut_page_two_fails_at_once(paged: tuple[Cell, Pager]) -> None:
    c, _ = paged
    page2(c, fault_of("cut"))
    r = list_tags(c, "--retry-times", "0")
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, f"listing tags of {c.name}", code="network")
    assert c.proxy.count("GET", PAGE2) == 1


def test_a_burst_on_page_two_fails_naming_the_listing(paged: tuple[Cell, Pager]) -> None:
    c, _ = paged
    page2(c, fault_of("503"), times=None)
    r = list_tags(c, *BURST_FLAGS, "--creds", f"alice:{PASSWORD}")
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, f"listing tags of {c.name}", "injected fault")
    assert base64.b64encode(f"alice:{PASSWORD}".encode()).decode() not in r.stderr
    assert r.stdout == ""
    assert c.proxy.count("GET", PAGE2) == 2


def test_a_link_to_another_host_is_followed_on_the_registry_without_leaking_credentials(
        paged: tuple[Cell, Pager]) -> None:
    """As containers/image: only the Link's path and query are used, on the registry itself."""
    c, pager = paged
    pager.auth = True
    elsewhere: list[dict[str, str]] = []

    import http.server

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            elsewhere.append(dict(self.headers.items()))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    other = serve_in_thread(free_port(), Elsewhere)
    try:
        host = f"127.0.0.1:{other.server_address[1]}"
        pager.link = lambda last: (f'<http://{host}/v2/{c.repo}/tags/list?n=1&last={chr(ord(last or "`") + 1)}>; '
                                   'rel="next"' if last < "b" else None)
        r = list_tags(c, *TRANSIENT_FLAGS, "--creds", f"alice:{PASSWORD}")
    finally:
        stop_server(other)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["Tags"] == TAGS
    assert elsewhere == []
    page_two = pager.proxy.requests(PAGE2)
    assert page_two and all(seen.headers.get("authorization", "").startswith("Basic ") for seen in page_two)
    assert PASSWORD not in r.stdout + r.stderr


@pytest.mark.parametrize("loop", ["self", "back-to-first"])
def test_a_link_loop_ends(paged: tuple[Cell, Pager], loop: str) -> None:
    c, pager = paged
    if loop == "self":
        pager.link = lambda last: f'</v2/{c.repo}/tags/list?n=1&last=a>; rel="next"'
    else:  # page 1 → page 2 → page 1
        pager.link = lambda last: (f'</v2/{c.repo}/tags/list?n=1&last=a>; rel="next"' if not last
                                   else f'</v2/{c.repo}/tags/list>; rel="next"')
    start = time.monotonic()
    r = list_tags(c, *TRANSIENT_FLAGS)
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, f"listing tags of {c.name}", "loops")
    assert time.monotonic() - start < 5
    assert c.proxy.count("GET", "/tags/list") <= 3


def test_inspect_reads_every_page_of_repo_tags_through_a_fault(paged: tuple[Cell, Pager]) -> None:
    c, _ = paged
    page2(c, fault_of("cut"))
    r = c.cli("inspect", "--tls-verify=false", *TRANSIENT_FLAGS, f"docker://{c.name}:a")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["RepoTags"] == TAGS


@pytest.mark.parametrize("lasting", [False, True])
def test_sync_of_a_repository_whose_tag_list_fails_on_page_two(paged: tuple[Cell, Pager], lasting: bool) -> None:
    c, _ = paged
    page2(c, fault_of("503"), times=None if lasting else 1)
    r = c.cli("sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", *BURST_FLAGS, c.name,
              f"{c.tmp}/out")
    base = c.repo.rsplit("/", 1)[1]
    if not lasting:
        assert r.exit_code == 0, r.stderr
        for tag in TAGS:
            assert_dir_image(c.tmp / "out" / f"{base}:{tag}")
        return
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert f"listing tags of {c.name}" in r.stderr and "injected fault" in r.stderr
    assert not (c.tmp / "out").exists() or list((c.tmp / "out").iterdir()) == []


def test_the_fixed_retry_delay_is_the_wait_between_attempts(c: Cell) -> None:
    """--retry-delay is a fixed delay (skopeo's help), not the start of an exponential backoff."""
    c.seed()
    c.apply("config-get", fault_of("503"), times=2)
    start = time.monotonic()
    r = c.cli("inspect", "--tls-verify=false", "--config", "--raw", "--retry-times", "2", "--retry-delay", "400ms",
                 f"docker://{c.name}:1")
    waited = time.monotonic() - start
    assert r.exit_code == 0, r.stderr
    assert 0.8 <= waited < 1.6
    assert c.proxy.count("GET", f"/blobs/{CONFIG}") == 3


# -- delete by digest -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["lost", "kill"])
def test_delete_by_digest_survives_a_transient_fault_on_the_delete(c: Cell, fault: str) -> None:
    c.seed()
    c.apply("delete", fault_of(fault))
    r = c.cli("delete", "--tls-verify=false", *(KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS),
                 f"docker://{c.name}@{IMAGE.digest}")
    assert r.exit_code == 0, r.stderr
    assert registry_request(c.reg.url, f"{c.repo}/manifests/{IMAGE.digest}", "HEAD")[0] == 404


def test_delete_burst_fails_and_the_image_stays(c: Cell) -> None:
    c.seed()
    c.apply("delete", fault_of("503"), times=None)
    r = c.cli("delete", "--tls-verify=false", *BURST_FLAGS, f"docker://{c.name}@{IMAGE.digest}")
    assert r.exit_code == 1, r.stderr
    one_error(r, c.repo, "injected fault")
    assert registry_request(c.reg.url, f"{c.repo}/manifests/1")[1] == IMAGE.manifest


# -- login ------------------------------------------------------------------------------------------------------------


def login(c: Cell, *flags: str) -> Any:
    return c.cli("login", "--tls-verify=false", "--authfile", str(c.tmp / "auth.json"), "-u", "alice",
                 "-p", PASSWORD, *flags, c.proxy.host)


def test_login_survives_a_lost_ping(c: Cell, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustcopy import types

    monkeypatch.setattr(types, "DEFAULT_RETRY_DELAY", 0.05)
    c.apply("ping", fault_of("lost"))
    r = login(c)
    assert r.exit_code == 0, r.stderr
    assert c.proxy.host in json.loads((c.tmp / "auth.json").read_text())["auths"]


@pytest.mark.parametrize("fault", ["503", "lost"])
def test_login_whose_ping_keeps_failing_fails_and_stores_nothing(c: Cell, fault: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """login has no --retry-times: the defaults apply (types.DEFAULT_RETRY_TIMES retries, the delay
    doubling from DEFAULT_RETRY_DELAY, here shortened). skopeo 1.9.3 sends one ping and gives up.
    (A stalled body does not matter: login judges the status, as containers/image's CheckAuth.)"""
    from trustcopy import types

    monkeypatch.setattr(types, "DEFAULT_RETRY_DELAY", 0.05)
    c.apply("ping", fault_of(fault), times=None)
    start = time.monotonic()
    r = login(c)
    waited = time.monotonic() - start
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, c.proxy.host)
    assert not (c.tmp / "auth.json").exists()
    assert c.proxy.count("GET", "/v2/") == 1 + types.DEFAULT_RETRY_TIMES
    assert 0.05 * (2 ** types.DEFAULT_RETRY_TIMES - 1) <= waited < 5
    assert base64.b64encode(f"alice:{PASSWORD}".encode()).decode() not in r.stderr


@pytest.mark.parametrize("challenge", ['Basic realm="r"', "Bearer realm=\"{realm}\",service=\"s\""])
def test_login_against_a_401_loop_ends_and_stores_nothing(c: Cell, challenge: str) -> None:
    """A registry that answers 401 whatever it is sent: refused credentials, not a loop. (A 401
    to a fresh token is asked again once with another token: client.py's module docstring.)"""
    tokens: list[str] = []
    import http.server

    class Realm(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            tokens.append(self.headers.get("Authorization", ""))
            body = b'{"token":"t0ken"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    realm = serve_in_thread(free_port(), Realm)
    try:
        value = challenge.format(realm=f"http://127.0.0.1:{realm.server_address[1]}/token")
        c.apply("ping", Fault(status=401, headers={"WWW-Authenticate": value}), times=None)
        start = time.monotonic()
        r = login(c)
    finally:
        stop_server(realm)
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, c.proxy.host, "invalid username/password")
    assert not (c.tmp / "auth.json").exists()
    assert c.proxy.count("GET", "/v2/") <= 3 and len(tokens) <= 2
    assert time.monotonic() - start < 5


# -- sync docker → docker, one image of several ------------------------------------------------------------------------


def _sync_world(c: Cell) -> list[Image]:
    images = [make_image([random_layer(3000, 2700 + i)]) for i in range(3)]
    for i, img in enumerate(images):
        push_image(c.reg.host, f"{c.repo}:t{i}", img, fast_sys())
    return images


def sync_d2d(c: Cell, *flags: str) -> Any:
    return c.cli("sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false",
                 "--parallel-images", "1", *flags, c.name, f"{c.proxy.host}/{c.repo}-dest")


@pytest.mark.parametrize("fault", ["kill"])
def test_sync_to_a_registry_survives_a_fault_on_a_manifest_put(c: Cell, fault: str) -> None:
    images = _sync_world(c)
    c.apply("manifest-put", fault_of(fault))
    r = sync_d2d(c, *(KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS))
    assert r.exit_code == 0, r.stderr
    base = c.repo.rsplit("/", 1)[1]
    for i, img in enumerate(images):
        assert registry_request(c.reg.url, f"{c.repo}-dest/{base}/manifests/t{i}")[1] == img.manifest


@pytest.mark.parametrize("keep_going", [True, False])
def test_sync_to_a_registry_with_one_image_failing(c: Cell, keep_going: bool) -> None:
    images = _sync_world(c)
    bad = f"/v2/{c.repo}/manifests/t1"  # (the layers are mounted, never read: the same registry)
    c.proxy.rule = lambda m, p, h: Fault(status=503) if m == "GET" and p == bad else None
    r = sync_d2d(c, *BURST_FLAGS, *(("--keep-going",) if keep_going else ()))
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    base = c.repo.rsplit("/", 1)[1]
    got = {i: registry_request(c.reg.url, f"{c.repo}-dest/{base}/manifests/t{i}")[1] for i in range(3)}
    assert got[0] == images[0].manifest
    assert got[1] == b""  # never tagged
    assert got[2] == (images[2].manifest if keep_going else b"")
    failed = r.stderr.split("failed:\n", 1)[1]
    assert f"{c.repo}:t1" in failed and "injected fault" in failed, failed
    assert PASSWORD not in r.stdout + r.stderr


# -- copy --all: the second instance of a list ------------------------------------------------------------------------


@pytest.fixture
def listed(c: Cell) -> tuple[Cell, Image, Image, bytes]:
    amd = make_image([random_layer(2000, 2711)], arch="amd64")
    arm = make_image([random_layer(2000, 2712)], arch="arm64")
    index, _ = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                           (arm, {"architecture": "arm64", "os": "linux"})])
    for img in (amd, arm):
        push_image(c.reg.host, f"{c.repo}@{img.digest}", img, fast_sys())
    push_image(c.reg.host, f"{c.repo}:l", SimpleNamespace(blobs={}, manifest=index), fast_sys())
    return c, amd, arm, index


def copy_all(c: Cell, dest: str, *flags: str) -> Any:
    return c.cli("copy", "-q", "--all", "--src-tls-verify=false", *flags, f"docker://{c.name}:l", dest)


@pytest.mark.parametrize("fault", ["cut", "503", "kill"])
def test_copy_all_survives_a_fault_on_the_second_instance(listed: Any, fault: str) -> None:
    c, amd, arm, _ = listed
    KINDS_ARM = f"/manifests/{arm.digest}"
    from test_fault_matrix_s26 import KINDS

    KINDS.setdefault(f"get-{arm.digest}", lambda m, p, h: m == "GET" and p.endswith(KINDS_ARM))
    c.apply(f"get-{arm.digest}", fault_of(fault))
    r = copy_all(c, f"oci:{c.tmp}/out:l", *(KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS))
    assert r.exit_code == 0, r.stderr
    out = c.tmp / "out"
    for img in (amd, arm):
        assert (out / "blobs" / "sha256" / img.digest.split(":", 1)[1]).read_bytes() == img.manifest
    assert c.hits >= 1


@pytest.mark.parametrize(("dest", "what", "fault", "code"), [
    ("oci", "manifest", Fault(status=503), None),
    ("dir", "manifest", Fault(flip_at=5), "digest-mismatch"),
    ("oci", "layer", Fault(flip_at=5), "digest-mismatch"),
    ("dir", "layer", Fault(drop_after=10), "network"),
], ids=["oci-manifest-503", "dir-manifest-flip", "oci-layer-flip", "dir-layer-cut"])
def test_copy_all_whose_second_instance_keeps_failing_writes_nothing(listed: Any, what: str, fault: Fault,
                                                                     code: str | None, dest: str) -> None:
    c, _, arm, _ = listed
    target = arm.digest if what == "manifest" else json.loads(arm.manifest)["layers"][0]["digest"]
    c.proxy.rule = lambda m, p, h: fault if m == "GET" and p.endswith(target) else None
    r = copy_all(c, f"{dest}:{c.tmp}/out" + (":l" if dest == "oci" else ""), *BURST_FLAGS)
    assert r.exit_code == 1, r.stdout + r.stderr
    one_error(r, target, code=code)
    assert not (c.tmp / "out").exists(), list((c.tmp / "out").rglob("*"))
    assert [p.name for p in c.tmp.iterdir() if p.name.startswith(".")] == []


# -- verify: manifests through the proxy, signatures from an http lookaside --------------------------------------------


def verify(c: Cell, ref: str, *flags: str) -> Any:
    return c.cli("verify", "--tls-verify=false", *flags, ref)


@pytest.mark.parametrize("fault", ["cut", "kill"])
def test_verify_survives_a_transient_manifest_fault(c: Cell, fault: str) -> None:
    c.seed()
    c.apply("manifest-get", fault_of(fault))
    r = verify(c, f"docker://{c.name}:1", *(KILL_FLAGS if fault == "kill" else TRANSIENT_FLAGS))
    assert r.exit_code == 0, r.stderr
    assert IMAGE.digest in r.stdout
    assert c.proxy.count("GET", "/manifests/1") >= 2
    assert c.proxy.count("GET", "/blobs/") == 0


@pytest.mark.parametrize(("fault", "code"), [(Fault(status=503), None), (Fault(flip_at=5), "digest-mismatch")])
def test_verify_whose_manifest_keeps_failing_cannot_evaluate(c: Cell, fault: Fault, code: str | None) -> None:
    c.seed()
    c.apply("manifest-get", fault, times=None)
    r = verify(c, f"docker://{c.name}@{IMAGE.digest}", *BURST_FLAGS)
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert c.repo in r.stdout + r.stderr
    assert code is None or f"error[{code}]" in r.stdout + r.stderr


def _verify_world(w: World, *flags: str) -> Any:
    return w.run_cli("--policy", str(w.policy()), "--registries.d", str(w.regd), "--registries-conf", str(w.conf),
                     "verify", "--tls-verify=false", "--retry-delay", "10ms", *flags, f"docker://{w.host}/ns/app:1")


@pytest.mark.gpg
@pytest.mark.parametrize("fault", [StoreFault(status=503), StoreFault(drop=True), StoreFault(cut_at=10)],
                         ids=["503", "dropped", "cut"])
def test_verify_survives_a_transient_lookaside_fault(w: World, fault: StoreFault) -> None:
    w.store.script = first("signature-1", fault)
    r = _verify_world(w, "--retry-times", "1")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert w.store.gets("signature-1") == 2


@pytest.mark.gpg
def test_verify_whose_lookaside_keeps_failing_cannot_evaluate_and_names_the_url(w: World) -> None:
    w.store.script = always("signature-1", StoreFault(status=503))
    r = _verify_world(w, "--retry-times", "1")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert f"{w.store.url}/sigs/ns/app@sha256=" in r.stdout + r.stderr
    assert w.store.gets("signature-1") == 2


@pytest.mark.gpg
def test_verify_with_a_flipped_lookaside_signature_is_rejected(w: World) -> None:
    w.store.script = always("signature-1", StoreFault(flip_at=40))
    r = _verify_world(w, "--retry-times", "1")
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr

