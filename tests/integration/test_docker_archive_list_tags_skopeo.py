"""``list-tags`` (``docker://``, ``docker-archive:``) and ``docker-archive:`` reading and writing, run
side by side with skopeo 1.9.3 on the same inputs: same stdout bytes, same exit status.

Where the two cannot print the same bytes (skopeo's stderr is a logrus line, ours is
``error[CODE]: …``; skopeo 1.9.3 has no ``LayersData`` in ``inspect``, newest skopeo and we
always print it), the test compares what is comparable and restates skopeo's answer as a vector.

The registry is Distribution 2.8, which ignores ``?n=`` on tag lists; the paginating registry
below is a proxy in front of it that serves the registry's own list in pages of two, with
``Link: <…?last=X&n=2>; rel="next"`` as Distribution 3 and the OCI distribution spec do.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from imagefactory import Layer, example_image, make_image, make_tar, write_oci
from registry_fixtures import USERS, RegistryServer, fast_sys, push_image
from scripted_proxy import Answer, ScriptedProxy, Seen

pytestmark = pytest.mark.skopeo

TOOLS = ("skopeo", "trustcopy")
DIGEST = "sha256:" + "a" * 64


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["skopeo"] if tool == "skopeo" else [sys.executable, "-m", "trustcopy"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)


def _both(*args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """(trustcopy's, skopeo's) run of the same arguments."""
    return _run("trustcopy", *args), _run("skopeo", *args)


def _same(*args: str) -> str:
    """Both tools succeed with the same stdout; returns it."""
    ours, theirs = _both(*args)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    return ours.stdout


def _both_fail(*args: str) -> str:
    """Both tools exit 1 printing nothing on stdout; returns our stderr (never a masked path)."""
    ours, theirs = _both(*args)
    assert (ours.returncode, theirs.returncode) == (1, 1), (ours.stderr, theirs.stderr)
    assert ours.stdout == theirs.stdout == ""
    assert ours.stderr.startswith("error[") and "Traceback" not in ours.stderr
    if "@x" not in " ".join(args):  # "PATH:@x" may be a pasted user:password@host: masked
        assert "***" not in ours.stderr  # "PATH:@N" is not
    return ours.stderr


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def _with_repo_tags(source: Path, target: Path, tags: list[list[str] | None]) -> Path:
    """A copy of the one-image archive ``source`` whose manifest.json lists its image once per
    entry of ``tags``, with those RepoTags (None: no RepoTags key)."""
    buffer = io.BytesIO()
    with tarfile.open(source) as tar_in, tarfile.open(fileobj=buffer, mode="w") as tar_out:
        for member in tar_in.getmembers():
            f = tar_in.extractfile(member) if member.isfile() else None
            data = f.read() if f is not None else None
            if member.name == "manifest.json":
                item = json.loads(data or b"")[0]
                items = [{k: v for k, v in {**item, "RepoTags": t}.items() if v is not None} for t in tags]
                data = json.dumps(items).encode()
                member.size = len(data)
            tar_out.addfile(member, io.BytesIO(data) if data is not None else None)
    target.write_bytes(buffer.getvalue())
    return target


# -- inputs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout: ``img`` (two layers), and ``a``, ``b``, ``c`` (one small layer each)."""
    path = tmp_path_factory.mktemp("layout") / "oci"
    write_oci({"img": example_image(), **{n: make_image([Layer(make_tar([(n, n.encode() * 100)]))]) for n in "abc"}},
              str(path))
    return path


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory, layout: Path) -> Path:
    """The image ``img`` written by skopeo as example.com/a:1, example.com/b:2 and busybox:latest."""
    out = tmp_path_factory.mktemp("tagged") / "skopeo.tar"
    done = _run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{layout}:img",
                f"docker-archive:{out}:example.com/a:1",
                "--additional-tag", "example.com/b:2", "--additional-tag", "busybox:latest")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory, layout: Path) -> Path:
    """Three images written by trustcopy into one archive: example.com/a:1, one untagged, example.com/c:3."""
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.transports.docker_archive import DockerArchiveWriter

    out = tmp_path_factory.mktemp("multi") / "multi.tar"
    with DockerArchiveWriter(str(out)) as writer:
        for name, tag in (("a", "example.com/a:1"), ("b", None), ("c", "example.com/c:3")):
            copy_image(PolicyContext(insecure_accept_anything_policy()), writer.new_reference(tag),
                       parse_image_name(f"oci:{layout}:{name}"))
        writer.commit()
    return out


# -- list-tags docker:// ------------------------------------------------------------------------


def _paginating(registry: RegistryServer, page: int, absolute: bool) -> Callable[[Seen], Answer | None]:
    """A proxy script: tag lists in pages of ``page``, continued by a ``Link`` (a path, or an
    absolute URL of the proxy itself), as a registry honouring ``n`` and ``last`` answers."""
    def answer(seen: Seen) -> Answer | None:
        url = urllib.parse.urlsplit(seen.path)
        if seen.method != "GET" or not url.path.endswith("/tags/list"):
            return None
        conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=10)
        headers = {k: v for k, v in seen.headers.items() if k == "authorization"}
        conn.request("GET", url.path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status != 200:
            return Answer(response.status, {"Content-Type": "application/json",
                                            **{k: v for k, v in response.getheaders() if k == "WWW-Authenticate"}},
                          body)
        doc = json.loads(body)
        query = dict(urllib.parse.parse_qsl(url.query))
        tags = doc["tags"] or []
        start = tags.index(query["last"]) + 1 if "last" in query else 0
        n = int(query.get("n", page))
        out: dict[str, str] = {"Content-Type": "application/json"}
        if start + n < len(tags):
            target = f"{url.path}?last={urllib.parse.quote(tags[start + n - 1])}&n={n}"
            host = seen.headers["host"]
            out["Link"] = f'<{f"http://{host}{target}" if absolute else target}>; rel="next"'
        return Answer(200, out, json.dumps({"name": doc["name"], "tags": tags[start:start + n]}).encode())
    return answer


@pytest.fixture
def paginated(plain_registry: RegistryServer) -> Iterator[Callable[[bool], ScriptedProxy]]:
    proxies: list[ScriptedProxy] = []

    def start(absolute: bool) -> ScriptedProxy:
        proxy = ScriptedProxy(plain_registry.port, answer=_paginating(plain_registry, 2, absolute))
        proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


SEVEN_TAGS = ["b", "a", "latest", "1.0", "v2", "z", "m"]


@pytest.mark.registry
@pytest.mark.parametrize("absolute", [False, True], ids=["link-path", "link-url"])
def test_list_tags_follows_every_page_as_skopeo(plain_registry: RegistryServer,
                                                paginated: Callable[[bool], ScriptedProxy], absolute: bool) -> None:
    for tag in SEVEN_TAGS:
        push_image(plain_registry.host, f"team/app:{tag}", example_image(), fast_sys())
    proxy = paginated(absolute)
    out = _same("list-tags", "--tls-verify=false", f"docker://{proxy.host}/team/app")
    doc = json.loads(out)
    assert doc["Repository"] == f"{proxy.host}/team/app" and sorted(doc["Tags"]) == sorted(SEVEN_TAGS)
    assert out.startswith('{\n    "Repository": ') and out.endswith('\n    ]\n}\n')
    # Four pages of at most two tags, for each tool: every Link followed, none twice.
    pages = [s.path for s in proxy.requests("/tags/list")]
    assert len(pages) == 8 and len(set(pages)) == 4, pages


@pytest.mark.registry
def test_list_tags_of_a_repository_without_tags(plain_registry: RegistryServer) -> None:
    image = example_image()
    push_image(plain_registry.host, "app:1", image, fast_sys())
    request = urllib.request.Request(f"{plain_registry.url}/v2/app/manifests/{image.digest}", method="DELETE")
    with urllib.request.urlopen(request) as done:  # the repository stays, its tags go: "tags": null
        assert done.status == 202
    out = _same("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/app")
    assert out == f'{{\n    "Repository": "{plain_registry.host}/app",\n    "Tags": []\n}}\n'


@pytest.mark.registry
def test_list_tags_of_a_missing_repository(plain_registry: RegistryServer) -> None:
    stderr = _both_fail("list-tags", "--tls-verify=false", f"docker://{plain_registry.host}/nope")
    assert stderr.startswith("error[image-not-found]: Error listing repository tags: ")


@pytest.mark.registry
def test_list_tags_with_and_without_credentials(htpasswd_registry: RegistryServer) -> None:
    for tag in ("2", "1"):
        push_image(htpasswd_registry.host, f"app:{tag}", example_image(),
                   fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    ref = f"docker://{htpasswd_registry.host}/app"
    stderr = _both_fail("list-tags", "--tls-verify=false", "--no-creds", ref)
    assert "Error listing repository tags" in stderr
    _both_fail("list-tags", "--tls-verify=false", "--creds", f"alice:{USERS['bob']}", ref)
    out = _same("list-tags", "--tls-verify=false", "--creds", f"alice:{USERS['alice']}", ref)
    assert sorted(json.loads(out)["Tags"]) == ["1", "2"]


@pytest.mark.parametrize("ref", ["oci:/tmp/x", "oci:/tmp/x:1", "oci-archive:/tmp/x.tar", "dir:/tmp/x"])
def test_list_tags_refuses_other_transports_as_skopeo(ref: str) -> None:
    """Newest skopeo still lists only docker and docker-archive (handlers table, sorted names)."""
    stderr = _both_fail("list-tags", ref)
    transport = ref.split(":", 1)[0]
    assert stderr.startswith(f"error[unsupported-transport]: Unsupported transport '{transport}' for tag listing. "
                             "Only supported: docker, docker-archive")


# -- list-tags docker-archive: ------------------------------------------------------------------


def test_list_tags_of_a_multi_image_archive(multi: Path) -> None:
    out = _same("list-tags", f"docker-archive:{multi}")
    assert out == '{\n    "Tags": [\n        "example.com/a:1",\n        "@1",\n        "example.com/c:3"\n    ]\n}\n'


@pytest.mark.parametrize("suffix", [":@0", ":@7", ":example.com/zz:1", ":example.com/c"])
def test_list_tags_ignores_what_follows_the_path(multi: Path, suffix: str) -> None:
    assert _same("list-tags", f"docker-archive:{multi}{suffix}") == _same("list-tags", f"docker-archive:{multi}")


@pytest.mark.parametrize("suffix", [":@x", ":@-1", ":", ":Upper:1", f":example.com/a@{DIGEST}"])
def test_list_tags_refuses_a_malformed_name_after_the_path(multi: Path, suffix: str) -> None:
    _both_fail("list-tags", f"docker-archive:{multi}{suffix}")


def test_list_tags_prints_the_first_spelling_of_each_tag(tagged: Path, tmp_path: Path) -> None:
    """skopeo looks each RepoTags entry up again and prints the first entry naming the same tag."""
    archive = _with_repo_tags(tagged, tmp_path / "spellings.tar", [
        ["busybox:latest", "library/busybox:latest"], ["docker.io/library/busybox:latest", "b:1"], None, [],
        ["docker.io/library/b:1", "example.com/x:2"]])
    out = _same("list-tags", f"docker-archive:{archive}")
    assert json.loads(out)["Tags"] == ["busybox:latest"] * 3 + ["b:1", "@2", "@3", "b:1", "example.com/x:2"]


@pytest.mark.parametrize("bad", [f"example.com/x:1@{DIGEST}", f"example.com/x@{DIGEST}", "example.com/x"])
def test_list_tags_refuses_a_repo_tag_with_a_digest_or_without_a_tag(tagged: Path, tmp_path: Path, bad: str) -> None:
    archive = _with_repo_tags(tagged, tmp_path / "bad.tar", [["example.com/a:1"], ["b:1", bad]])
    stderr = _both_fail("list-tags", f"docker-archive:{archive}")
    assert stderr.startswith("error[archive-manifest-invalid]: ") and repr(bad) in stderr and "item @1" in stderr


# -- docker-archive: writing ---------------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    ["--additional-tag", "example.com/b:2", "--additional-tag", "busybox:latest"],
    ["--additional-tag", "zz/last:9,busybox:latest", "--additional-tag", "example.com/a:0"],
    ["--additional-tag", "example.com/a:1", "--additional-tag", "", "--additional-tag", "a:1,b:2"],
], ids=["two-flags", "comma-separated", "repeated-and-empty"])
def test_additional_tags_give_skopeos_archive_byte_for_byte(tmp_path: Path, layout: Path, extra: list[str]) -> None:
    for tool in TOOLS:
        done = _run(tool, "--insecure-policy", "copy", "-q", f"oci:{layout}:img",
                    f"docker-archive:{tmp_path / tool}.tar:example.com/a:1", *extra)
        assert done.returncode == 0, done.stderr
    ours, theirs = (tmp_path / "trustcopy.tar").read_bytes(), (tmp_path / "skopeo.tar").read_bytes()
    assert ours == theirs
    # Go marshals "repositories" (a map of maps) with sorted keys, whatever the flags' order.
    repositories = json.loads(_member(tmp_path / "trustcopy.tar", "repositories"))
    assert list(repositories) == sorted(repositories)
    tags = json.loads(_member(tmp_path / "trustcopy.tar", "manifest.json"))[0]["RepoTags"]
    assert tags[0] == "example.com/a:1" and len(tags) == len(set(tags))


@pytest.mark.parametrize("value", ["busybox", f"busybox@{DIGEST}", "Upper:1", "a:1,"])
def test_an_additional_tag_without_a_tag_is_refused_by_both(tmp_path: Path, layout: Path, value: str) -> None:
    """skopeo exits 1; we exit 2, as for every refused option value (docs/errors.md)."""
    results = {tool: _run(tool, "--insecure-policy", "copy", "-q", f"oci:{layout}:img",
                          f"docker-archive:{tmp_path / tool}.tar:example.com/a:1", "--additional-tag", value)
               for tool in TOOLS}
    assert results["skopeo"].returncode == 1 and results["trustcopy"].returncode == 2
    assert results["trustcopy"].stderr.startswith("error[usage]: ")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_archive_is_never_modified(tmp_path: Path, layout: Path) -> None:
    target = tmp_path / "exists.tar"
    target.write_bytes(b"not an archive\n")
    stderr = _both_fail("--insecure-policy", "copy", "-q", f"oci:{layout}:img", f"docker-archive:{target}:a:1")
    assert stderr.startswith("error[archive-exists]: ") and str(target) in stderr
    assert target.read_bytes() == b"not an archive\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.tar"]


def test_an_empty_file_is_written_over(tmp_path: Path, layout: Path) -> None:
    for tool in TOOLS:
        (tmp_path / f"{tool}.tar").write_bytes(b"")
        done = _run(tool, "--insecure-policy", "copy", "-q", f"oci:{layout}:img",
                    f"docker-archive:{tmp_path / tool}.tar")
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "trustcopy.tar").read_bytes() == (tmp_path / "skopeo.tar").read_bytes()
    assert json.loads(_member(tmp_path / "trustcopy.tar", "manifest.json"))[0]["RepoTags"] == []


@pytest.mark.parametrize("suffix", [":@0", f":example.com/a@{DIGEST}", f":example.com/a:1@{DIGEST}", ":"])
def test_a_destination_with_an_index_or_digest_is_refused(tmp_path: Path, layout: Path, suffix: str) -> None:
    stderr = _both_fail("--insecure-policy", "copy", "-q", f"oci:{layout}:img",
                        f"docker-archive:{tmp_path}/x.tar{suffix}")
    if suffix == ":@0":
        assert f"{tmp_path}/x.tar:@0" in stderr and "must not contain a manifest index @0" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--all", "--multi-arch=all"])
def test_copy_writes_one_image_never_a_list(tmp_path: Path, flag: str) -> None:
    """skopeo: "does not support copying multiple images as a group"; copy writes one image per archive."""
    from imagefactory import make_index

    one, two = (make_image([Layer(make_tar([(n, n.encode())]))]) for n in ("x", "y"))
    index, blobs = make_index([(one, {"architecture": "amd64", "os": "linux"}),
                               (two, {"architecture": "arm64", "os": "linux"})])
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    layout = tmp_path / "list"
    write_oci({}, str(layout), index_entries=[{"mediaType": "application/vnd.oci.image.index.v1+json",
                                               "digest": digest, "size": len(index),
                                               "annotations": {"org.opencontainers.image.ref.name": "l"}}])
    for d, data in {**blobs, digest: index}.items():
        (layout / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    stderr = _both_fail("--insecure-policy", "copy", "-q", flag, f"oci:{layout}:l", f"docker-archive:{out}/a.tar")
    assert stderr.startswith("error[manifest-list-unsupported]: ")
    for tool in TOOLS:  # without it, the system's instance, the same archive from both
        done = _run(tool, "--insecure-policy", "copy", "-q", "--override-arch", "arm64", f"oci:{layout}:l",
                    f"docker-archive:{out}/{tool}.tar")
        assert done.returncode == 0, done.stderr
    assert list(out.iterdir()) != [] and (out / "trustcopy.tar").read_bytes() == (out / "skopeo.tar").read_bytes()


# -- docker-archive: reading ---------------------------------------------------------------------


READABLE = [":@0", ":@1", ":@2", ":example.com/c:3", ":example.com/a:1"]


@pytest.mark.parametrize("suffix", READABLE)
@pytest.mark.parametrize("flags", [["--raw"], ["--config"], ["--config", "--raw"]], ids=" ".join)
def test_inspect_raw_and_config_match(multi: Path, suffix: str, flags: list[str]) -> None:
    _same("inspect", *flags, f"docker-archive:{multi}{suffix}")


@pytest.mark.parametrize("suffix", READABLE)
def test_inspect_matches_but_for_layers_data(multi: Path, suffix: str) -> None:
    """skopeo 1.9.3 prints no LayersData; newest skopeo does, and so do we."""
    ours, theirs = (_run(tool, "inspect", f"docker-archive:{multi}{suffix}") for tool in ("trustcopy", "skopeo"))
    assert (ours.returncode, theirs.returncode) == (0, 0), (ours.stderr, theirs.stderr)
    doc = json.loads(ours.stdout)
    assert [d["Digest"] for d in doc.pop("LayersData")] == doc["Layers"]
    assert doc == json.loads(theirs.stdout)


def test_inspect_of_a_tag_spelled_otherwise_in_the_archive(tagged: Path) -> None:
    for name in ("busybox", "docker.io/library/busybox:latest", "example.com/b:2"):
        ours, theirs = (_run(tool, "inspect", f"docker-archive:{tagged}:{name}") for tool in ("trustcopy", "skopeo"))
        assert (ours.returncode, theirs.returncode) == (0, 0), (ours.stderr, theirs.stderr)
        doc = json.loads(ours.stdout)
        doc.pop("LayersData")
        assert doc == json.loads(theirs.stdout)


@pytest.mark.parametrize(("suffix", "code"), [
    ("", "archive-ambiguous-image"), (":@3", "image-not-found"), (":example.com/c", "image-not-found"),
    (":example.com/zz:1", "image-not-found"), (f":example.com/c@{DIGEST}", "invalid-archive-reference"),
])
def test_reading_errors_match(multi: Path, suffix: str, code: str) -> None:
    """Every one exits 1 in skopeo 1.9.3 and in newest skopeo (only oci: layouts' missing images exit 2)."""
    for command in (["inspect"], ["inspect", "--raw"], ["--insecure-policy", "copy", "-q"]):
        dest = [f"docker-archive:{multi.parent}/never.tar"] if "copy" in command else []
        stderr = _both_fail(*command, f"docker-archive:{multi}{suffix}", *dest)
        assert stderr.startswith(f"error[{code}]: ")
        if suffix == ":@3":
            assert f"{multi}:@3: invalid source index @3, only 3 manifest items available" in stderr
    assert not (multi.parent / "never.tar").exists()  # (skopeo removes what it began)


@pytest.mark.parametrize("suffix", [":@1", ":example.com/c:3"])
def test_copy_out_of_an_archive_matches(multi: Path, tmp_path: Path, suffix: str) -> None:
    for tool in TOOLS:
        for dest in (f"dir:{tmp_path / tool}", f"docker-archive:{tmp_path / tool}.tar"):
            done = _run(tool, "--insecure-policy", "copy", "-q", f"docker-archive:{multi}{suffix}", dest)
            assert done.returncode == 0, done.stderr
    assert (tmp_path / "trustcopy.tar").read_bytes() == (tmp_path / "skopeo.tar").read_bytes()
    for name in sorted(p.name for p in (tmp_path / "skopeo").iterdir()):
        assert (tmp_path / "trustcopy" / name).read_bytes() == (tmp_path / "skopeo" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "skopeo").iterdir()) == \
        sorted(p.name for p in (tmp_path / "trustcopy").iterdir())
    # The source's tag is not carried: a destination without a name has no RepoTags (both tools).
    assert json.loads(_member(tmp_path / "trustcopy.tar", "manifest.json"))[0]["RepoTags"] == []
