"""Copy's plain progress output (stdout not a terminal) compared with skopeo 1.9.3's, line by line.

Each case runs the real skopeo and trustcopy on the same source with stdout piped and compares
the lines: skopeo prints containers/image 5.23's ``Printf`` steps and, off a terminal,
``Copying blob sha256:…`` for every layer of the manifest (no "done", no "skipped: already
exists": those are its terminal bars), then ``Copying config sha256:…``, ``Writing manifest to
image destination``, a signing line, ``Storing signatures`` (always), and for ``--all`` the list's
lines around the instances'.

skopeo starts its layer copies in goroutines, so two layers it starts at once may print in
either order (seen with registry-to-registry copies). The comparison therefore sorts each run
of ``Copying blob`` lines on skopeo's side, and checks trustcopy's separately against the
manifests' layer order, which trustcopy always keeps (trustcopy.copy.progress.ManifestOrder).
Known differences are asserted as such, each naming its line of docs/from-skopeo.md ("Options
and output": the bullet on progress output).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import GPGHome
from hypothesis import example, given
from hypothesis import strategies as st
from imagefactory import OCI_INDEX, Layer, make_image, make_index, make_tar, sha256, write_dir, write_oci
from registry_fixtures import RegistryServer

from trustcopy.copy.progress import BlobAnnounced, BlobDone, BlobStarted, ManifestOrder, Message
from trustcopy.digest import Digest
from trustcopy.types import BlobInfo

pytestmark = pytest.mark.skopeo

BLOB = "Copying blob "


def _layers(n: int, seed: int) -> list[Layer]:
    return [Layer(make_tar([(f"f{seed}-{i}", bytes([seed + i]) * (100 + i))])) for i in range(n)]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sources: L8 (8 layers, more than the 6 copied at once), LDUP (a layer listed twice),
    LL (an OCI index of two images sharing a layer), DD (a schema2 dir:), DA (a docker-archive,
    whose member order is not the manifest's), and the policy."""
    root = tmp_path_factory.mktemp("progress-src")
    many = _layers(8, 1)
    write_oci({"t": make_image(many)}, str(root / "L8"))
    write_oci({"t": make_image([many[0], many[1], many[0]])}, str(root / "LDUP"))
    shared = _layers(3, 40)
    a, b = make_image(shared[:2], arch="amd64"), make_image([shared[0], shared[2]], arch="arm64")
    index, blobs = make_index([(a, {"architecture": "amd64", "os": "linux"}),
                               (b, {"architecture": "arm64", "os": "linux"})])
    (root / "LL" / "blobs" / "sha256").mkdir(parents=True)
    for digest, data in {**blobs, sha256(index): index}.items():
        (root / "LL" / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    (root / "LL" / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "LL" / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": sha256(index), "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
    write_dir(make_image(_layers(3, 80), docker=True), str(root / "DD"))
    # Its config with the keys in reverse order: a conversion to OCI writes a new config (Go's order).
    manifest = json.loads((root / "DD" / "manifest.json").read_text())
    config = json.loads((root / "DD" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config_bytes = json.dumps(dict(reversed(list(config.items())))).encode()
    (root / "DD" / sha256(config_bytes).split(":")[1]).write_bytes(config_bytes)
    manifest["config"].update(digest=sha256(config_bytes), size=len(config_bytes))
    (root / "DD" / "manifest.json").write_text(json.dumps(manifest))
    (root / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    done = _skopeo(root, "copy", f"oci:{root}/L8:t", f"docker-archive:{root}/DA.tar:example.com/a:1")
    assert done.returncode == 0, done.stderr
    return root


def _skopeo(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--policy", str(root / "policy.json"), *args], capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def _runs_sorted(lines: Sequence[str]) -> list[str]:
    """``lines`` with each run of consecutive ``Copying blob`` lines sorted (skopeo's order there is racy)."""
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if line.startswith(BLOB):
            run.append(line)
            continue
        out += sorted(run)
        run = []
        out.append(line)
    return out[:-1]


def _blob_runs(lines: Sequence[str]) -> list[list[str]]:
    """The digests of each run of ``Copying blob`` lines."""
    runs: list[list[str]] = []
    previous = False
    for line in lines:
        if line.startswith(BLOB):
            if not previous:
                runs.append([])
            runs[-1].append(line.removeprefix(BLOB))
        previous = line.startswith(BLOB)
    return runs


def _layout_layers(layout: Path, digest: str | None = None) -> list[str]:
    """Layer digests of an OCI layout's single image (or of the manifest ``digest`` in it)."""
    if digest is None:
        digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_text())
    return [la["digest"] for la in manifest["layers"]]


def _index_instances(layout: Path) -> list[str]:
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    index = json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_text())
    return [m["digest"] for m in index["manifests"]]


def _compare(sk: subprocess.CompletedProcess[str], tc: Any, layer_runs: list[list[str]]) -> list[str]:
    """Assert both succeeded with the same lines (blob runs as sets) and trustcopy's runs in manifest order."""
    assert sk.returncode == 0, sk.stderr
    assert tc.exit_code == 0, tc.stderr
    tc_lines = tc.stdout.splitlines()
    assert _runs_sorted(tc_lines) == _runs_sorted(sk.stdout.splitlines())
    assert _blob_runs(tc_lines) == layer_runs
    return tc_lines  # type: ignore[no-any-return]


class Tools:
    """Runs skopeo (a subprocess, stdout piped) and trustcopy (in-process, stdout captured: not a terminal)."""

    def __init__(self, run_cli: Callable[..., Any], src: Path) -> None:
        self._run_cli = run_cli
        self._src = src

    def skopeo(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _skopeo(self._src, *args)

    def trustcopy(self, *args: str) -> Any:
        return self._run_cli("--policy", str(self._src / "policy.json"), *args)

    def both(self, source: str, dest: str, *flags: str,
             pre: Sequence[str] = ()) -> tuple[subprocess.CompletedProcess[str], Any]:
        """One copy with each tool; ``{tool}`` in ``dest`` becomes ``skopeo``/``trustcopy``; ``pre``: global options."""
        return (self.skopeo(*pre, "copy", *flags, source, dest.format(tool="skopeo")),
                self.trustcopy(*pre, "copy", *flags, source, dest.format(tool="trustcopy")))


@pytest.fixture
def tools(run_cli: Callable[..., Any], src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    """Both tools, with HOME a fresh directory (no user configuration)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return Tools(run_cli, src)


@pytest.fixture
def both(tools: Tools) -> Callable[..., tuple[subprocess.CompletedProcess[str], Any]]:
    """``both(SRC, DEST_PATTERN, *flags)``: see Tools.both."""
    return tools.both


def test_image_to_dir_every_layer_in_manifest_order_then_config(both: Any, src: Path, tmp_path: Path) -> None:
    # The bug: trustcopy printed "Copying blob … done" as blobs finished, the config among the
    # layers, and no "Storing signatures".
    sk, tc = both(f"oci:{src}/L8:t", f"dir:{tmp_path}/{{tool}}")
    lines = _compare(sk, tc, [_layout_layers(src / "L8")])
    assert lines[0] == "Getting image source signatures"
    config = json.loads((tmp_path / "trustcopy" / "manifest.json").read_text())["config"]["digest"]
    assert lines[-3:] == [f"Copying config {config}", "Writing manifest to image destination", "Storing signatures"]
    assert sk.stdout == tc.stdout  # (a local source: skopeo too printed the manifest's order)


def test_a_layer_listed_twice_is_announced_twice(both: Any, src: Path, tmp_path: Path) -> None:
    sk, tc = both(f"oci:{src}/LDUP:t", f"dir:{tmp_path}/{{tool}}")
    layers = _layout_layers(src / "LDUP")
    assert layers[0] == layers[2]
    _compare(sk, tc, [layers])


@pytest.mark.parametrize("dest", ["docker-archive:{path}.tar:example.com/a:1", "oci-archive:{path}.tar:t",
                                  "oci:{path}:t", "dir:{path}"])
def test_archive_and_layout_destinations(both: Any, src: Path, tmp_path: Path, dest: str) -> None:
    sk, tc = both(f"oci:{src}/L8:t", dest.format(path=f"{tmp_path}/{{tool}}"))
    _compare(sk, tc, [_layout_layers(src / "L8")])


def test_docker_archive_source_keeps_manifest_order_not_member_order(both: Any, src: Path, tmp_path: Path) -> None:
    # trustcopy reads an archive in member order (one pass); its lines used to follow that order.
    sk, tc = both(f"docker-archive:{src}/DA.tar", f"dir:{tmp_path}/{{tool}}")
    manifest = json.loads((tmp_path / "skopeo" / "manifest.json").read_text())
    _compare(sk, tc, [[la["digest"] for la in manifest["layers"]]])


def test_conversion_names_the_converted_config(both: Any, src: Path, tmp_path: Path) -> None:
    sk, tc = both(f"dir:{src}/DD", f"oci:{tmp_path}/{{tool}}:t", "--format", "oci")
    source = json.loads((src / "DD" / "manifest.json").read_text())
    lines = _compare(sk, tc, [[la["digest"] for la in source["layers"]]])
    old_config = source["config"]["digest"]
    new_config = json.loads((tmp_path / "trustcopy" / "blobs" / "sha256" / _oci_manifest_hex(tmp_path / "trustcopy"))
                            .read_text())["config"]["digest"]
    assert new_config != old_config and f"Copying config {new_config}" in lines


def _oci_manifest_hex(layout: Path) -> str:
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]).split(":")[1]


@pytest.mark.parametrize("flag", ["--dest-compress", "--dest-decompress"])
def test_recompression_still_names_the_source_blobs(both: Any, src: Path, tmp_path: Path, flag: str) -> None:
    sk, tc = both(f"oci:{src}/L8:t", f"dir:{tmp_path}/{{tool}}", flag)
    _compare(sk, tc, [_layout_layers(src / "L8")])


def test_reused_blobs_print_no_outcome(both: Any, src: Path, tmp_path: Path) -> None:
    # The second copy into the same layout finds every blob there: skopeo (off a terminal)
    # still prints "Copying blob sha256:…", nothing about skipping.
    both(f"oci:{src}/L8:t", f"oci:{tmp_path}/{{tool}}:one")
    sk, tc = both(f"oci:{src}/L8:t", f"oci:{tmp_path}/{{tool}}:two")
    lines = _compare(sk, tc, [_layout_layers(src / "L8")])
    assert not any("skipped" in line or line.endswith(" done") for line in lines)


def test_system_instance_of_a_list(both: Any, src: Path, tmp_path: Path) -> None:
    sk, tc = both(f"oci:{src}/LL:t", f"dir:{tmp_path}/{{tool}}")
    _compare(sk, tc, [_layout_layers(src / "LL", _index_instances(src / "LL")[0])])


def test_all_instances_and_the_list(both: Any, src: Path, tmp_path: Path) -> None:
    sk, tc = both(f"oci:{src}/LL:t", f"oci:{tmp_path}/{{tool}}:t", "--all")
    instances = _index_instances(src / "LL")
    lines = _compare(sk, tc, [_layout_layers(src / "LL", d) for d in instances])
    assert lines[:4] == ["Getting image list signatures", "Copying 2 of 2 images in list",
                         f"Copying image {instances[0]} (1/2)", "Getting image source signatures"]
    assert lines[-2:] == ["Writing manifest list to image destination", "Storing list signatures"]


def test_quiet_prints_nothing(both: Any, src: Path, tmp_path: Path) -> None:
    sk, tc = both(f"oci:{src}/L8:t", f"dir:{tmp_path}/{{tool}}", "-q")
    assert (sk.returncode, sk.stdout, tc.exit_code, tc.stdout) == (0, "", 0, "")


def test_encrypting_and_decrypting(both: Any, src: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "key.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    sk, tc = both(f"oci:{src}/L8:t", f"oci:{tmp_path}/{{tool}}:t", "--encryption-key", f"jwe:{tmp_path}/key.pub")
    _compare(sk, tc, [_layout_layers(src / "L8")])
    # Decrypting skopeo's encrypted copy: both name the encrypted (source) layers.
    sk, tc = both(f"oci:{tmp_path}/skopeo:t", f"dir:{tmp_path}/dec-{{tool}}", "--decryption-key",
                  f"{tmp_path}/key.pem")
    _compare(sk, tc, [_layout_layers(tmp_path / "skopeo")])


@pytest.mark.gpg
def test_signing_carrying_and_removing_signatures(both: Any, src: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    home = GPGHome()
    try:
        fingerprint = home.gen_key("Progress <progress@example.com>")
        monkeypatch.setenv("GNUPGHOME", home.path)
        layers = [_layout_layers(src / "L8")]
        sk, tc = both(f"oci:{src}/L8:t", f"dir:{tmp_path}/{{tool}}", "--sign-by", fingerprint,
                      "--sign-identity", "example.com/app:1")
        lines = _compare(sk, tc, layers)
        assert lines[-3:] == ["Writing manifest to image destination", "Signing manifest using simple signing",
                              "Storing signatures"]
        # A signed source: both check the destination first.
        sk, tc = both(f"dir:{tmp_path}/skopeo", f"dir:{tmp_path}/carried-{{tool}}")
        lines = _compare(sk, tc, layers)
        assert lines[:2] == ["Getting image source signatures", "Checking if image destination supports signatures"]
        # --remove-signatures: skopeo says nothing about signatures before the blobs.
        sk, tc = both(f"dir:{tmp_path}/skopeo", f"dir:{tmp_path}/removed-{{tool}}", "--remove-signatures")
        lines = _compare(sk, tc, layers)
        assert lines[0].startswith(BLOB)
    finally:
        home.close()


def test_sigstore_signing_line(both: Any, src: Path, tmp_path: Path, keys: Path) -> None:
    sk, tc = both(f"oci:{src}/L8:t", f"dir:{tmp_path}/{{tool}}", "--sign-by-sigstore-private-key",
                  str(keys / "key.private"), "--sign-passphrase-file", str(keys / "pass"),
                  "--sign-identity", "example.com/app:1")
    assert tc.exit_code == 0, tc.stderr
    tc_lines = tc.stdout.splitlines()
    assert tc_lines[-3:] == ["Writing manifest to image destination", "Signing manifest using a sigstore signature",
                             "Storing signatures"]
    if sk.returncode == 0:  # a skopeo built with sigstore
        assert _runs_sorted(tc_lines) == _runs_sorted(sk.stdout.splitlines())
    else:
        # Debian's 1.9.3 prints the same line, then fails: "Debian-local change: sigstore disabled".
        assert "sigstore disabled" in sk.stderr
        assert _runs_sorted(tc_lines[:-1]) == _runs_sorted(sk.stdout.splitlines())


@pytest.mark.registry
@pytest.mark.gpg
def test_registry_push_reuse_and_signed_list(tools: Tools, src: Path, tmp_path: Path, plain_registry: RegistryServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    host = plain_registry.host
    (tmp_path / "rd").mkdir()
    (tmp_path / "rd" / "d.yaml").write_text(f"default-docker:\n  lookaside: file://{tmp_path}/lookaside\n")
    tls = ("--src-tls-verify=false", "--dest-tls-verify=false")
    rd = ("--registries.d", str(tmp_path / "rd"))
    layers = [_layout_layers(src / "L8")]
    _compare(*tools.both(f"oci:{src}/L8:t", f"docker://{host}/{{tool}}/app:1", *tls), layers)
    # Again: every blob is reused; the lines are the same, with no outcome ...
    _compare(tools.skopeo("copy", *tls, f"oci:{src}/L8:t", f"docker://{host}/skopeo/app:1"),
             tools.trustcopy("copy", *tls, "--no-skip-identical", f"oci:{src}/L8:t", f"docker://{host}/trustcopy/app:1"),
             layers)
    # ... and by default trustcopy asks the registry first and skips the image (docs/commands/copy.md,
    # "An image the registry already holds"; skopeo 1.9.3's copy has no such check, its sync does).
    tc = tools.trustcopy("copy", *tls, f"oci:{src}/L8:t", f"docker://{host}/trustcopy/app:1")
    assert tc.exit_code == 0 and tc.stdout.splitlines() == ["Getting image source signatures",
                                                            "Skipping: image already present at destination"]

    home = GPGHome()
    try:
        fingerprint = home.gen_key("Progress <progress@example.com>")
        monkeypatch.setenv("GNUPGHOME", home.path)
        instances = _index_instances(src / "LL")
        runs = [_layout_layers(src / "LL", d) for d in instances]
        sk, tc = tools.both(f"oci:{src}/LL:t", f"docker://{host}/{{tool}}/list:1", *tls, "--all",
                            "--sign-by", fingerprint, pre=rd)
        lines = _compare(sk, tc, runs)
        assert lines[-4:] == ["Storing signatures", "Writing manifest list to image destination",
                              "Signing manifest using simple signing", "Storing list signatures"]
        # The signed list as a source: the list's and each instance's signatures are checked for.
        sk, tc = tools.both(f"docker://{host}/{{tool}}/list:1".format(tool="skopeo"), f"docker://{host}/{{tool}}/list:2",
                            *tls, "--all", pre=rd)
        lines = _compare(sk, tc, runs)
        assert lines[:2] == ["Getting image list signatures", "Checking if image list destination supports signatures"]
        assert lines.count("Checking if image destination supports signatures") == 2
    finally:
        home.close()


@pytest.mark.registry
def test_sync_prints_its_report_where_skopeo_prints_each_copy(tools: Tools, src: Path, tmp_path: Path,
                                                              plain_registry: RegistryServer) -> None:
    # skopeo sync hands os.Stdout to each copy (the lines above, per image) and logs the rest to
    # stderr; trustcopy sync keeps its one report line per image (docs/commands/sync.md "Output",
    # and docs/from-skopeo.md's progress bullet).
    host = plain_registry.host
    copied = tools.skopeo("copy", "--dest-tls-verify=false", f"oci:{src}/L8:t", f"docker://{host}/sync/app:1")
    assert copied.returncode == 0, copied.stderr
    (tmp_path / "skopeo").mkdir()
    (tmp_path / "trustcopy").mkdir()
    sk = tools.skopeo("sync", "--src-tls-verify=false", "--src", "docker", "--dest", "dir", f"{host}/sync/app",
                      str(tmp_path / "skopeo"))
    tc = tools.trustcopy("sync", "--src-tls-verify=false", "--src", "docker", "--dest", "dir", f"{host}/sync/app",
                         str(tmp_path / "trustcopy"))
    assert sk.returncode == 0 and tc.exit_code == 0, sk.stderr + tc.stderr
    assert _runs_sorted(sk.stdout.splitlines()) == _runs_sorted(copied.stdout.splitlines())
    [line] = tc.stdout.splitlines()
    assert line.startswith(f"COPIED        docker://{host}/sync/app:1 -> dir:{tmp_path}/trustcopy/app:1 sha256:")


# --- trustcopy.copy.progress.ManifestOrder: the order of the lines whatever the order of the copies ---------

def _info(name: str) -> BlobInfo:
    return BlobInfo(Digest.from_bytes(name.encode()), len(name))


@st.composite
def _copies(draw: st.DrawFn) -> tuple[list[str], str | None, list[tuple[str, str, bool]]]:
    """A manifest (layer names, repeats allowed; a config or none) and the order its blobs start in
    (each distinct one once, as copy_blobs copies it; some found at the destination)."""
    layers = draw(st.lists(st.sampled_from("abcdefg"), min_size=0, max_size=9))
    config = draw(st.sampled_from([None, "cfg", "a"]))
    jobs = [("blob", name) for name in dict.fromkeys(layers)] + ([("config", config)] if config else [])
    order = draw(st.permutations(jobs))
    return layers, config, [(kind, name, draw(st.booleans())) for kind, name in order]


@given(_copies())
@example((["a", "b", "a"], "cfg", [("config", "cfg", False), ("blob", "b", False), ("blob", "a", True)]))
@example((["a", "b"], "a", [("config", "a", False), ("blob", "a", False), ("blob", "b", False)]))
def test_announcements_follow_the_manifest(case: tuple[list[str], str | None, list[tuple[str, str, bool]]]) -> None:
    layers, config, order = case
    seen: list[object] = []
    sink = ManifestOrder([_info(n) for n in layers], _info(config) if config else None, seen.append)
    started: set[tuple[str, str]] = set()
    for kind, name, reused in order:
        info = _info(name)
        if reused:
            sink(BlobDone(kind, info, "skipped: already exists", info))
        else:
            sink(BlobStarted(kind, info))
            sink(BlobDone(kind, info, "done", info, info.size))
        started.add((kind, name))
        # Nothing is announced before its blob (and every earlier entry's) has started.
        announced = [e for e in seen if isinstance(e, BlobAnnounced)]
        wanted = [("blob", n) for n in layers] + ([("config", config)] if config else [])
        assert [(e.kind, e.info.digest) for e in announced] == [(k, _info(n).digest)
                                                                for k, n in wanted[:len(announced)]]
        assert all(entry in started for entry in wanted[:len(announced)])
    assert [(e.kind, e.info) for e in seen if isinstance(e, BlobAnnounced)] == \
        [("blob", _info(n)) for n in layers] + ([("config", _info(config))] if config else [])
    # Every event is passed on, in order.
    assert [e for e in seen if not isinstance(e, BlobAnnounced)] == [
        e for kind, name, reused in order for e in (
            [BlobDone(kind, _info(name), "skipped: already exists", _info(name))] if reused else
            [BlobStarted(kind, _info(name)), BlobDone(kind, _info(name), "done", _info(name), len(name))])]


def test_lines_keep_manifest_order_when_the_source_serves_blobs_backwards(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A real concurrent copy whose blobs start in reverse (as an archive read front to back may)."""
    from trustcopy.copy.options import CopyOptions
    from trustcopy.copy.pipeline import copy_image
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.transports.alltransports import parse_image_name
    from trustcopy.transports.base import ImageSource

    image = make_image(_layers(9, 120))
    write_oci({"t": image}, str(tmp_path / "src"))
    monkeypatch.setattr(ImageSource, "preferred_blob_order", lambda self, infos: list(range(len(infos)))[::-1])
    lines: list[str] = []
    copy_image(PolicyContext(insecure_accept_anything_policy()), parse_image_name(f"dir:{tmp_path}/out"),
               parse_image_name(f"oci:{tmp_path}/src:t"), CopyOptions(report=lines.append, max_parallel=3))
    manifest = json.loads(image.manifest)
    assert lines == ["Getting image source signatures", *(f"Copying blob {la['digest']}" for la in manifest["layers"]),
                     f"Copying config {manifest['config']['digest']}", "Writing manifest to image destination",
                     "Storing signatures"]
    assert Message("x") != BlobAnnounced("blob", _info("x"))  # (distinct event types)
