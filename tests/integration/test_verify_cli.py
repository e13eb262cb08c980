"""``trustcopy verify``: verdicts, exit statuses, the JSON report (schema-checked), JUnit, the digest file.

Signed, unsigned, tampered and wrongly identified images are ``dir:`` images signed with
the keys-example key by real gpg: ``dir:`` is where signatures live today; registries get
theirs when the docker transport reads lookaside stores (issue 10, phase 2). On a real
registry, the verdicts that need no signature (insecureAcceptAnything, reject, signedBy
with none) are checked, that ``verify`` agrees with ``copy``, that the digest file names
exactly the manifest that was verified, and — through a counting proxy — that no blob
(layer or config) is ever requested.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gpghelpers import KEYS_EXAMPLE, GPGHome
from imagefactory import Layer, example_image, make_image, make_tar, write_dir
from registry_fixtures import FaultProxy, RegistryServer, fast_sys, push_image, running

from trustcopy.copy.verify import load_verify_schema

FPR = (KEYS_EXAMPLE / "FINGERPRINT").read_text().strip()
IDENTITY = "registry.example.com/app:1"
ACCEPT = {"default": [{"type": "insecureAcceptAnything"}]}
REJECT = {"default": [{"type": "reject"}]}
SIGNED_BY = {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(KEYS_EXAMPLE / "public-key.asc"),
                          "signedIdentity": {"type": "exactReference", "dockerReference": IDENTITY}}]}
VALIDATOR = jsonschema.Draft202012Validator(load_verify_schema())


def _policy(tmp_path: Path, policy: dict[str, Any], name: str = "policy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(policy))
    return path


def _report(stdout: str) -> dict[str, Any]:
    """The JSON report, validated against the shipped schema."""
    doc = json.loads(stdout)
    VALIDATOR.validate(doc)
    return doc


def _junit(stdout: str) -> ET.Element:
    root = ET.fromstring(stdout.encode())
    assert root.tag == "testsuites"
    return root


def _signed_dir(path: Path, home: GPGHome, *, identity: str = IDENTITY, image: Any = None,
                tamper: bool = False) -> Path:
    """A dir: image with signature-1 by the keys-example key; ``tamper`` edits the manifest afterwards."""
    from trustcopy.signature.standalone import standalone_sign

    image = image or example_image()
    write_dir(image, str(path))
    (path / "signature-1").write_bytes(standalone_sign(image.manifest, identity, FPR, gnupg_home=home.path))
    if tamper:
        manifest = json.loads(image.manifest)
        manifest["annotations"] = {"tampered": "yes"}
        (path / "manifest.json").write_text(json.dumps(manifest))
    return path


# --- verdicts and exit statuses ------------------------------------------------------------


@pytest.mark.gpg
def test_signed_unsigned_tampered_and_misidentified_images(tmp_path: Path, example_home: GPGHome,
                                                           run_cli: Callable[..., Any]) -> None:
    images = {
        "signed": _signed_dir(tmp_path / "signed", example_home),
        "unsigned": tmp_path / "unsigned",
        "tampered": _signed_dir(tmp_path / "tampered", example_home, tamper=True),
        "other-identity": _signed_dir(tmp_path / "other", example_home, identity="registry.example.com/other:1"),
    }
    write_dir(example_image(), str(images["unsigned"]))
    policy = _policy(tmp_path, SIGNED_BY)
    expected = {"signed": ("accepted", "ALLOWED"), "unsigned": ("rejected", "NO_SIGNATURES"),
                "tampered": ("rejected", "DIGEST_MISMATCH"), "other-identity": ("rejected", "IDENTITY_MISMATCH")}
    for name, path in images.items():
        r = run_cli("--policy", str(policy), "verify", "-o", "json", f"dir:{path}")
        doc = _report(r.stdout)
        status, reason = expected[name]
        assert r.exit_code == (0 if status == "accepted" else 1), (name, r.stderr)
        assert (doc["images"][0]["status"], doc["images"][0]["reason"]) == (status, reason), name
        assert doc["exitStatus"] == r.exit_code
    # All four at once: one line each on stdout, in order; rejected traces on stderr; exit 1.
    r = run_cli("--policy", str(policy), "verify", *(f"dir:{p}" for p in images.values()))
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ACCEPTED", "REJECTED", "REJECTED", "REJECTED"]
    signed_digest = example_image().digest
    assert lines[0] == f"ACCEPTED dir:{images['signed']} {signed_digest}"
    assert "NO_SIGNATURES: A signature was required, but no signature exists" in lines[1]
    assert f"why dir:{images['tampered']} was rejected:" in r.stderr
    assert "DIGEST_MISMATCH" in r.stderr and FPR in r.stderr
    assert r.stderr.rstrip().endswith("4 images: 1 accepted, 3 rejected, 0 errors")


@pytest.mark.gpg
def test_json_carries_scope_requirements_and_signature_outcomes(tmp_path: Path, example_home: GPGHome,
                                                                run_cli: Callable[..., Any]) -> None:
    src = _signed_dir(tmp_path / "misid", example_home, identity="registry.example.com/other:1")
    r = run_cli("--policy", str(_policy(tmp_path, SIGNED_BY)), "verify", "--output", "json", f"dir:{src}")
    image = _report(r.stdout)["images"][0]
    verdict = image["verdict"]
    assert image["digest"] == verdict["digest"] == example_image().digest
    assert verdict["scope"]["label"] == "default"
    requirement = verdict["requirements"][0]
    assert requirement["type"] == "signedBy" and requirement["reason"] == "IDENTITY_MISMATCH"
    signature = requirement["signatures"][0]
    assert signature["keyFingerprint"] == FPR
    assert signature["claimedIdentity"] == "registry.example.com/other:1"
    assert signature["reason"] == "IDENTITY_MISMATCH"
    assert signature["location"].endswith("signature-1")


@pytest.mark.gpg
def test_verify_and_explain_agree_on_signed_lists(tmp_path: Path, example_home: GPGHome,
                                                  run_cli: Callable[..., Any]) -> None:
    """The manifest-list cases of test_evaluation_agrees: verify's verdict is explain's, field for field."""
    from test_evaluation_agrees import AMD64, ARM64, CASES, _write_list

    policy = _policy(tmp_path, SIGNED_BY)
    digests = {"amd64": AMD64.digest, "arm64": ARM64.digest}
    for case, (signed, list_level, flags, allowed) in CASES.items():
        src = tmp_path / case
        _write_list(src, example_home, per_instance={digests[a] for a in signed}, list_level=list_level)
        global_flags = [f for f in flags if f != "--all"]
        own = ["--all"] if "--all" in flags else []
        explained = run_cli("--policy", str(policy), *global_flags, "policy", "explain", *own, "-o", "json",
                            f"dir:{src}")
        verified = run_cli("--policy", str(policy), *global_flags, "verify", *own, "-o", "json", f"dir:{src}")
        doc = _report(verified.stdout)
        assert verified.exit_code == explained.exit_code == (0 if allowed else 1), case
        assert doc["images"][0]["verdict"] == json.loads(explained.stdout), case
        assert doc["images"][0]["digest"] == doc["images"][0]["verdict"]["digest"]
        text = run_cli("--policy", str(policy), *global_flags, "verify", *own, f"dir:{src}")
        count = 2 if own else 1
        assert f"(manifest list; {count} instance{'s' if count > 1 else ''} judged)" in text.stdout, case


def test_every_failure_mode_still_gives_schema_valid_json(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "img"
    write_dir(example_image(), str(src))
    good = _policy(tmp_path, ACCEPT)
    malformed = _policy(tmp_path, {"default": []}, "malformed.json")  # type: ignore[dict-item]
    cases: list[tuple[list[str], str]] = [
        (["--policy", str(malformed), "verify", "-o", "json", f"dir:{src}"], "policy-invalid"),
        (["--policy", str(tmp_path / "missing.json"), "verify", "-o", "json", f"dir:{src}"], "policy-invalid"),
        (["--policy", str(good), "verify", "-o", "json", f"dir:{tmp_path}/nope"], "image-not-found"),
        (["--policy", str(good), "verify", "-o", "json", "nosuchtransport:x"], "unknown-transport"),
        (["--insecure-policy", "--require-signed", "verify", "-o", "json", f"dir:{src}"], "usage"),
        (["--policy", str(good), "verify", "-o", "json", "--all", "--multi-arch", "system", f"dir:{src}"], "usage"),
        (["--policy", str(good), "verify", "-o", "json", "--creds", "a:b", "--no-creds", f"dir:{src}"], "usage"),
    ]
    for args, code in cases:
        r = run_cli(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        doc = _report(r.stdout)
        assert doc["allowed"] is False and doc["exitStatus"] == 2
        assert doc["images"][0]["status"] == "error"
        assert doc["images"][0]["error"]["code"] == code, args
        assert f"error[{code}]" in r.stderr


def test_malformed_policy_in_junit_is_an_error_per_image_never_an_empty_suite(tmp_path: Path,
                                                                             run_cli: Callable[..., Any]) -> None:
    malformed = _policy(tmp_path, {"default": [{"type": "nope"}]})
    r = run_cli("--policy", str(malformed), "verify", "--output", "junit", "dir:/a", "dir:/b")
    assert r.exit_code == 2
    root = _junit(r.stdout)
    assert root.get("tests") == "2" and root.get("errors") == "2"
    errors = root.findall("./testsuite/testcase/error")
    assert [e.get("type") for e in errors] == ["policy-invalid", "policy-invalid"]


def test_text_mode_usage_error_is_one_line_exit_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("--insecure-policy", "verify", "--creds", "u:p", "--no-creds", "dir:/x")
    assert r.exit_code == 2
    assert r.stderr.startswith("error[usage]: --creds and --no-creds")
    assert run_cli("verify").exit_code == 2  # IMAGE-NAME is required (click)


def test_error_and_rejection_together_exit_2_and_both_are_reported(tmp_path: Path,
                                                                   run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "img"
    write_dir(example_image(), str(src))
    r = run_cli("--policy", str(_policy(tmp_path, REJECT)), "verify", "-o", "junit", f"dir:{src}",
                f"dir:{tmp_path}/missing")
    assert r.exit_code == 2
    root = _junit(r.stdout)
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [f"dir:{src}", f"dir:{tmp_path}/missing"]
    assert cases[0].find("failure").get("type") == "SCOPE_REJECT"  # type: ignore[union-attr]
    assert "Running image" in cases[0].find("failure").text  # type: ignore[union-attr, operator]
    assert cases[1].find("error").get("type") == "image-not-found"  # type: ignore[union-attr]


# --- the digest file ------------------------------------------------------------------------


def test_digestfile_lists_accepted_images_and_replaces_a_stale_one(tmp_path: Path,
                                                                   run_cli: Callable[..., Any]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_dir(example_image(), str(a))
    write_dir(make_image([Layer(make_tar([("b", b"b\n")]))]), str(b))
    policy = _policy(tmp_path, {"default": [{"type": "reject"}],
                                "transports": {"dir": {str(a): ACCEPT["default"]}}})
    digestfile = tmp_path / "verified.txt"
    digestfile.write_text("stale-from-an-earlier-run@sha256:0\n")
    r = run_cli("--policy", str(policy), "verify", "--digestfile", str(digestfile), f"dir:{a}", f"dir:{b}")
    assert r.exit_code == 1
    assert digestfile.read_text() == f"dir:{a}@{example_image().digest}\n"
    r = run_cli("--policy", str(policy), "verify", "--digestfile", str(digestfile), f"dir:{b}")
    assert r.exit_code == 1
    assert digestfile.read_text() == ""  # nothing accepted: the stale list is gone too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "policy.json", "verified.txt"]  # no temp left


def test_unwritable_digestfile_exits_2_with_the_report(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "img"
    write_dir(example_image(), str(src))
    target = tmp_path / "no" / "such" / "dir" / "d.txt"
    r = run_cli("--policy", str(_policy(tmp_path, ACCEPT)), "verify", "-o", "json", "--digestfile", str(target),
                f"dir:{src}")
    assert r.exit_code == 2
    doc = _report(r.stdout)
    assert doc["images"][0]["status"] == "accepted"
    assert doc["error"]["code"] == "file-unwritable" and str(target) in doc["error"]["message"]
    r = run_cli("--policy", str(_policy(tmp_path, ACCEPT)), "verify", "-o", "junit", "--digestfile", str(target),
                f"dir:{src}")
    root = _junit(r.stdout)
    assert root.get("errors") == "1" and root.get("tests") == "2"


def test_registries_d_is_accepted_and_reaches_the_system_context(tmp_path: Path, run_cli: Callable[..., Any],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """copy still refuses --registries.d; verify takes it (it takes effect once docker:// reads lookasides)."""
    import trustcopy.copy.verify as verify_mod

    seen: list[Any] = []
    real = verify_mod.verify_images

    def spy(names: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["options"].source_ctx)
        return real(names, **kwargs)

    monkeypatch.setattr(verify_mod, "verify_images", spy)
    src = tmp_path / "img"
    write_dir(example_image(), str(src))
    regd = tmp_path / "registries.d"
    regd.mkdir()
    r = run_cli("--policy", str(_policy(tmp_path, ACCEPT)), "verify", "--registries.d", str(regd), f"dir:{src}")
    assert r.exit_code == 0, r.stderr
    assert seen[0].registries_d == str(regd)


# --- a real registry ---------------------------------------------------------------------------


@pytest.mark.registry
def test_registry_verdicts_agree_with_copy(tmp_path: Path, plain_registry: RegistryServer,
                                           run_cli: Callable[..., Any]) -> None:
    image = example_image()
    push_image(plain_registry.host, "team/app:1", image, fast_sys())
    name = f"docker://{plain_registry.host}/team/app:1"
    for policy, status, reason in ((ACCEPT, 0, "ALLOWED"), (REJECT, 1, "SCOPE_REJECT"),
                                   (SIGNED_BY, 1, "NO_SIGNATURES")):
        path = _policy(tmp_path, policy, f"{reason}.json")
        r = run_cli("--policy", str(path), "verify", "--tls-verify=false", "-o", "json", name)
        assert r.exit_code == status, r.stdout + r.stderr
        doc = _report(r.stdout)
        assert doc["images"][0]["reason"] == reason
        assert doc["images"][0]["digest"] == image.digest
        copied = run_cli("--policy", str(path), "copy", "-q", "--src-tls-verify=false", name,
                         f"dir:{tmp_path}/copy-{reason}")
        assert copied.exit_code == status, copied.stderr
        assert os.path.exists(tmp_path / f"copy-{reason}") == (status == 0)


@pytest.mark.registry
def test_digestfile_names_the_repository_at_the_verified_digest(tmp_path: Path, plain_registry: RegistryServer,
                                                                run_cli: Callable[..., Any]) -> None:
    """Time of check = time of use: the line pins the manifest that was judged, even if the tag moves."""
    first = example_image()
    push_image(plain_registry.host, "team/app:1", first, fast_sys())
    policy = _policy(tmp_path, ACCEPT)
    digestfile = tmp_path / "verified.txt"
    r = run_cli("--policy", str(policy), "verify", "--tls-verify=false", "--digestfile", str(digestfile),
                f"docker://{plain_registry.host}/team/app:1")
    assert r.exit_code == 0, r.stderr
    line = digestfile.read_text()
    assert line == f"{plain_registry.host}/team/app@{first.digest}\n"
    push_image(plain_registry.host, "team/app:1", make_image([Layer(make_tar([("new", b"moved\n")]))]), fast_sys())
    r = run_cli("--policy", str(policy), "copy", "-q", "--src-tls-verify=false", f"docker://{line.strip()}",
                f"dir:{tmp_path}/out")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == first.manifest


@pytest.mark.registry
def test_verify_reads_manifests_never_a_blob(tmp_path: Path, plain_registry: RegistryServer,
                                             run_cli: Callable[..., Any]) -> None:
    image = example_image()
    push_image(plain_registry.host, "team/app:1", image, fast_sys())
    push_image(plain_registry.host, "team/app:2", image, fast_sys())
    with running(FaultProxy(plain_registry.port)) as proxy:
        for policy in (ACCEPT, REJECT, SIGNED_BY):
            r = run_cli("--policy", str(_policy(tmp_path, policy)), "verify", "--tls-verify=false",
                        f"docker://{proxy.host}/team/app:1", f"docker://{proxy.host}/team/app:2")
            assert r.exit_code in (0, 1), r.stderr
        assert proxy.count("GET", "/manifests/") >= 6
        blob_requests = [(m, p) for m, p, _ in proxy.seen if "/blobs/" in p]
        assert blob_requests == []
        # The same proxy does see blobs when something reads them: the count above can fail.
        copied = run_cli("--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                         f"docker://{proxy.host}/team/app:1", f"dir:{tmp_path}/out")
        assert copied.exit_code == 0, copied.stderr
        assert proxy.count("GET", "/blobs/") >= 1


@pytest.mark.registry
def test_missing_image_and_refused_auth_exit_2_with_json(tmp_path: Path, plain_registry: RegistryServer,
                                                         htpasswd_registry: RegistryServer,
                                                         run_cli: Callable[..., Any]) -> None:
    from registry_fixtures import USERS

    policy = _policy(tmp_path, ACCEPT)
    push_image(plain_registry.host, "team/app:1", example_image(), fast_sys())
    push_image(htpasswd_registry.host, "private/app:1", example_image(),
               fast_sys(docker_username="alice", docker_password=USERS["alice"]))
    missing = f"docker://{plain_registry.host}/team/app:nope"
    private = f"docker://{htpasswd_registry.host}/private/app:1"
    authfile = tmp_path / "auth.json"
    authfile.write_text("{}")
    r = run_cli("--policy", str(policy), "verify", "--tls-verify=false", "--authfile", str(authfile), "-o", "json",
                f"docker://{plain_registry.host}/team/app:1", missing, private)
    assert r.exit_code == 2
    doc = _report(r.stdout)
    assert [i["status"] for i in doc["images"]] == ["accepted", "error", "error"]
    assert doc["images"][1]["error"]["code"] == "image-not-found"
    assert doc["images"][2]["error"]["code"].startswith("registry-")
    r = run_cli("--policy", str(policy), "verify", "--tls-verify=false", "--authfile", str(authfile),
                "--creds", f"alice:{USERS['alice']}", private)
    assert r.exit_code == 0, r.stderr
    assert USERS["alice"] not in r.stdout + r.stderr


@pytest.mark.registry
def test_command_timeout_ends_the_run_and_reports_every_image(tmp_path: Path, plain_registry: RegistryServer,
                                                              run_cli: Callable[..., Any]) -> None:
    import time

    from registry_fixtures import Fault

    push_image(plain_registry.host, "team/app:1", example_image(), fast_sys())
    stall = lambda m, p, h: Fault(stall=30) if m == "GET" and "/manifests/" in p else None  # noqa: E731
    with running(FaultProxy(plain_registry.port, stall)) as proxy:
        t0 = time.monotonic()
        r = run_cli("--policy", str(_policy(tmp_path, ACCEPT)), "--command-timeout", "1s", "verify",
                    "--tls-verify=false", "-o", "json", f"docker://{proxy.host}/team/app:1",
                    f"docker://{proxy.host}/team/app:1")
        assert time.monotonic() - t0 < 15
    assert r.exit_code == 2
    doc = _report(r.stdout)
    assert [i["error"]["code"] for i in doc["images"]] == ["command-timeout", "command-timeout"]


def test_a_usage_error_still_replaces_the_digestfile(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    digestfile = tmp_path / "verified.txt"
    digestfile.write_text("stale@sha256:0\n")
    r = run_cli("--insecure-policy", "verify", "--all", "--multi-arch", "system", "--digestfile", str(digestfile),
                "dir:/x")
    assert r.exit_code == 2 and r.stderr.startswith("error[usage]: --all and --multi-arch")
    assert digestfile.read_text() == ""
