"""CLI behaviour users and scripts rely on: exit statuses, one-line errors, global flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, write_dir, write_oci


def test_version(run_cli) -> None:  # type: ignore[no-untyped-def]
    from trustcopy import __version__

    r = run_cli("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"trustcopy version {__version__}"


def test_help_lists_transports_and_commands(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--help")
    assert r.exit_code == 0
    for word in ("copy", "inspect", "manifest-digest", "dir:PATH", "oci:PATH"):
        assert word in r.stdout


def test_usage_error_exits_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("copy", "only-one-argument")
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ["docker://" + "a" * 100_000, "b" * 100_000, "x" * 100_000 + ":y",
                                  "docker://reg.example/" + "C" * 100_000])
def test_a_huge_image_name_gives_a_short_error(run_cli, insecure_policy: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """A 100,000-character name is quoted cut at 300 characters, not echoed whole."""
    r = run_cli("--policy", str(insecure_policy), "inspect", name)
    assert r.exit_code == 1 and r.stderr.startswith("error[")
    assert len(r.stderr) < 2_000, len(r.stderr)


def test_bad_reference_is_one_line_exit_1(run_cli, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--policy", str(insecure_policy), "copy", "nosuchtransport:x", "dir:/tmp/y")
    assert r.exit_code == 1
    assert r.stderr.startswith('error[unknown-transport]: invalid image name "nosuchtransport:x"')
    assert "Traceback" not in r.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "no-colon", "dir:/tmp/y")
    assert r.exit_code == 1
    assert "expected colon-separated transport:reference" in r.stderr


def test_debug_shows_traceback(insecure_policy: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "trustcopy", "--debug", "--policy", str(insecure_policy), "copy",
         f"dir:{tmp_path}/missing", f"dir:{tmp_path}/out"],
        capture_output=True, text=True, check=False,
    )
    assert r.returncode == 1
    assert "Traceback" in r.stderr


def test_global_options_before_and_after_the_command(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    write_dir(example_image(), str(tmp_path / "src"))
    before = run_cli("--policy", str(insecure_policy), "copy", "-q", f"dir:{tmp_path}/src", f"dir:{tmp_path}/a")
    after = run_cli("copy", "-q", "--policy", str(insecure_policy), f"dir:{tmp_path}/src", f"dir:{tmp_path}/b")
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_missing_policy_file_rejects(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--policy", str(tmp_path / "nope.json"), "copy", f"dir:{tmp_path}/src", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "nope.json" in r.stderr
    assert not (tmp_path / "out").exists()


def test_copy_progress_and_digestfile(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    image = example_image()
    write_oci({"1.0": image}, str(tmp_path / "lay"))
    r = run_cli("--policy", str(insecure_policy), "copy", "--digestfile", str(tmp_path / "digest"),
                f"oci:{tmp_path}/lay:1.0", f"dir:{tmp_path}/out")
    assert r.exit_code == 0, r.stderr
    assert "Getting image source signatures" in r.stdout
    assert "Writing manifest to image destination" in r.stdout
    assert (tmp_path / "digest").read_text() == image.digest
    q = run_cli("--policy", str(insecure_policy), "copy", "-q", f"oci:{tmp_path}/lay:1.0", f"dir:{tmp_path}/out2")
    assert q.exit_code == 0 and q.stdout == ""


@pytest.mark.parametrize(("flags", "message"), [
    (["--encryption-key", "pgp:alice@example.com"], "error[encryption-key-unsupported]: --encryption-key pgp:…: "
                                                    "the pgp key protocol is not supported"),
    (["--encryption-key", "k.pem"], "error[encryption-key-invalid]: --encryption-key 'k.pem': expected PROTOCOL:PATH"),
    (["--encrypt-layer", "-1"], "error[usage]: --encrypt-layer requires --encryption-key"),
])
def test_encryption_flags_that_cannot_work_are_refused_by_name(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               insecure_policy: Path, flags: list[str],
                                                               message: str) -> None:
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--policy", str(insecure_policy), "copy", *flags, f"dir:{tmp_path}/src", f"dir:{tmp_path}/o")
    assert r.exit_code != 0
    assert message in r.stderr
    assert not (tmp_path / "o").exists()


def test_manifest_digest_command(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = example_image()
    (tmp_path / "m.json").write_bytes(image.manifest)
    r = run_cli("manifest-digest", str(tmp_path / "m.json"))
    assert r.exit_code == 0
    assert r.stdout == image.digest + "\n"
    missing = run_cli("manifest-digest", str(tmp_path / "none.json"))
    assert missing.exit_code == 1 and "none.json" in missing.stderr


@pytest.mark.parametrize("flag", ["--raw", "--config", ""])
def test_inspect_forms(run_cli, tmp_path: Path, flag: str) -> None:  # type: ignore[no-untyped-def]
    import json

    image = example_image()
    write_oci({"1.0": image}, str(tmp_path / "lay"))
    args = ["inspect", *([flag] if flag else []), f"oci:{tmp_path}/lay:1.0"]
    r = run_cli(*args)
    assert r.exit_code == 0, r.stderr
    if flag == "--raw":
        assert r.stdout.encode() == image.manifest
    elif flag == "--config":
        assert json.loads(r.stdout)["architecture"] == "amd64"
    else:
        data = json.loads(r.stdout)
        assert list(data) == ["Digest", "RepoTags", "Created", "DockerVersion", "Labels", "Architecture", "Os",
                              "Layers", "LayersData", "Env"]
        assert data["Digest"] == image.digest


def test_command_timeout_aborts_and_cleans_up(tmp_path: Path, insecure_policy: Path) -> None:
    from imagefactory import make_image, random_layer

    write_oci({"big": make_image([random_layer(30_000_000, s) for s in range(4)])}, str(tmp_path / "src"))
    r = subprocess.run(
        [sys.executable, "-m", "trustcopy", "--command-timeout", "50ms", "--policy", str(insecure_policy), "copy",
         "-q", f"oci:{tmp_path}/src:big", f"dir:{tmp_path}/out"],
        capture_output=True, text=True, check=False,
    )
    assert r.returncode == 1, r.stderr
    assert "error[command-timeout]" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insecure-policy.json", "src"]


def test_command_timeout_passes_through_except_exception(run_cli: Any, tmp_path: Path, insecure_policy: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The alarm may land inside any ``except Exception`` (threading.Thread.start has one: the
    command once ended in its KeyError traceback): it must still end as command-timeout."""
    import time

    import trustcopy.copy.pipeline as pipeline

    def busy(*_args: object, **_kwargs: object) -> None:
        try:
            time.sleep(5)
        except Exception as exc:  # what a library's own handler would do with it
            raise RuntimeError("swallowed by a library") from exc

    monkeypatch.setattr(pipeline, "copy_image", busy)
    r = run_cli("--command-timeout", "50ms", "--policy", str(insecure_policy), "copy", "-q",
                f"oci:{tmp_path}/src:x", f"dir:{tmp_path}/out")
    assert r.exit_code == 1, r.stderr
    assert r.stderr.startswith("error[command-timeout]:"), r.stderr
    assert "swallowed" not in r.stderr


@pytest.mark.parametrize("command", [["inspect"], ["delete"], ["list-tags"], ["verify"], ["policy", "explain"],
                                     ["copy", "--dest-tls-verify=false"]], ids=lambda c: " ".join(c[:2]))
def test_registry_configuration_flags_reach_the_docker_transport(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, insecure_policy: Path, command: list[str]) -> None:
    """Every command that opens docker:// images reads --registries.d and --registries-conf (nothing is contacted:
    a named file or directory that does not exist fails first, naming it)."""
    image = "docker://127.0.0.1:9/ns/app" + ("" if command == ["list-tags"] else ":1")
    extra = [f"dir:{tmp_path}/out"] if command[0] == "copy" else []
    missing = tmp_path / "no-such-registries.d"
    r = run_cli("--policy", str(insecure_policy), "--registries.d", str(missing), *command, image, *extra)
    assert r.exit_code in (1, 2), r.stderr
    assert "error[registries-d-not-found]" in r.stderr and str(missing) in r.stderr
    conf = tmp_path / "no-such-registries.conf"
    r = run_cli("--policy", str(insecure_policy), *command, "--registries-conf", str(conf), image, *extra)
    assert "error[registries-conf-not-found]" in r.stderr and str(conf) in r.stderr
    assert not (tmp_path / "out").exists()


def test_policy_from_a_pipe_like_process_substitution(tmp_path: Path) -> None:
    """`--policy <(generate)` is common in CI scripts: a FIFO the user named is read (bounded)."""
    write_dir(example_image(), str(tmp_path / "src"))
    script = (f'{sys.executable} -m trustcopy --policy <(echo \'{{"default":[{{"type":"insecureAcceptAnything"}}]}}\') '
              f'copy -q dir:{tmp_path}/src dir:{tmp_path}/out')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").exists()


def test_policy_from_a_named_pipe_whose_writer_starts_late(tmp_path: Path) -> None:
    """``mkfifo p; (slow-generator > p) & trustcopy --policy p``: the read waits for the writer."""
    write_dir(example_image(), str(tmp_path / "src"))
    fifo = tmp_path / "policy.pipe"
    os.mkfifo(fifo)
    # The writer gives up after 20 s: if trustcopy failed without reading, nothing is left blocked on the pipe.
    policy = '{"default":[{"type":"insecureAcceptAnything"}]}'
    script = (f"(sleep 0.5; timeout 20 sh -c 'echo \"$0\" > {fifo}' '{policy}') & "
              f"{sys.executable} -m trustcopy --policy {fifo} copy -q dir:{tmp_path}/src dir:{tmp_path}/out; "
              "status=$?; wait; exit $status")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("extra", "status", "needle"),
    [
        (["--sign-identity", "Not/A:Valid@Ref"], 1, "error[reference-"),
        (["--sign-by", "ABCD", "--sign-identity", "busybox"], 1, "canonical"),
        (["--sign-passphrase-file", "/dev/null"], 2, "--sign-passphrase-file requires --sign-by"),
        (["--sign-identity", "docker.io/library/busybox:latest"], 2, "--sign-identity requires"),
        (["--all", "--multi-arch", "system"], 2, "--all and --multi-arch"),
        (["--additional-tag", "x:1"], 2, "docker-archive"),
        (["--preserve-digests", "--format", "v2s2"], 1, "not allowed: --preserve-digests was given"),
        (["--format", "v2s1"], 2, "schema1"),
    ],
    ids=["bad-sign-identity", "sign-identity-not-canonical", "passphrase-without-sign-by",
         "identity-without-signing", "all-vs-multi-arch", "additional-tag-wrong-transport",
         "preserve-digests-with-format", "format-v2s1"],
)
def test_refused_copy_flags_write_nothing(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                                          extra: list[str], status: int, needle: str) -> None:
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--policy", str(insecure_policy), "copy", *extra, f"dir:{tmp_path}/src", f"dir:{tmp_path}/out")
    assert r.exit_code == status, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insecure-policy.json", "src"]


def test_unwritable_digestfile_is_an_error(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    write_dir(example_image(), str(tmp_path / "src"))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--digestfile", str(tmp_path / "no" / "dir" / "d"),
                f"dir:{tmp_path}/src", f"dir:{tmp_path}/out")
    assert r.exit_code == 1
    assert "digest file" in r.stderr


@pytest.mark.parametrize(("flags", "expected"), [([], 6), (["--max-parallel", "3"], 3),
                                                 (["--image-parallel-copies", "2"], 2),
                                                 (["--image-parallel-copies", "0", "--max-parallel", "4"], 4)])
def test_parallel_copies_flags(run_cli, tmp_path: Path, insecure_policy: Path,  # type: ignore[no-untyped-def]
                               monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: int) -> None:
    """skopeo's --image-parallel-copies and our --max-parallel bound the same pool."""
    from trustcopy.copy import blobs

    seen: list[int] = []
    real = blobs.copy_blobs

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["max_parallel"])
        return real(*args, **kwargs)

    monkeypatch.setattr("trustcopy.copy.blobs.copy_blobs", spy)  # (copy.single imports it when it copies)
    write_oci({"1.0": example_image()}, str(tmp_path / "lay"))
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", *flags, f"oci:{tmp_path}/lay:1.0", f"dir:{tmp_path}/o")
    assert r.exit_code == 0, r.stderr
    assert seen == [expected]


def test_parallel_copies_refuses_out_of_range(run_cli, tmp_path: Path, insecure_policy: Path) -> None:  # type: ignore[no-untyped-def]
    write_oci({"1.0": example_image()}, str(tmp_path / "lay"))
    r = run_cli("--policy", str(insecure_policy), "copy", "--image-parallel-copies", "-1",
                f"oci:{tmp_path}/lay:1.0", f"dir:{tmp_path}/o")
    assert r.exit_code == 2 and "--image-parallel-copies" in r.stderr
    assert not (tmp_path / "o").exists()
