"""What a CI gate's user reads when trustcopy refuses an image: each message names the facts needed to fix it.

Real journeys, end to end with the CLI in a subprocess: a real registry, a file://
lookaside chosen by registries.d, the keys-example GPG key signing with ``copy
--sign-by``, and keys made with real gpg for the wrong, expired and revoked cases.
Each test asserts the facts a rejection must name (the scope and why it applied, the
requirement, the key fingerprints and file, the expected and claimed identity, the
digest, where signatures were looked for), never the exact sentence.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpghelpers import GPGHome
from imagefactory import example_image, make_image, random_layer, write_dir, write_oci
from registry_fixtures import RegistryServer
from registry_signing import FPR, PUBRING, Env, oci_source

pytestmark = [pytest.mark.registry, pytest.mark.gpg]


class Journey:
    """A registry holding ``ns/app:1`` signed by the keys-example key, and a way to run the CLI."""

    def __init__(self, tmp: Path, registry: RegistryServer, gpg: GPGHome) -> None:
        self.tmp = tmp
        self.host = registry.host
        self.env = Env(tmp, gpg)
        self.store = self.env.store("store", self.host)
        self.gpg = gpg
        r = self.env.run("trustcopy", "copy", "--sign-by", FPR, "--dest-tls-verify=false",
                         "--digestfile", str(tmp / "digest"), oci_source(tmp, example_image()),
                         f"docker://{self.host}/ns/app:1")
        assert r.returncode == 0, r.stderr
        self.digest = (tmp / "digest").read_text().strip()
        self.signature = self.store / f"ns/app@sha256={self.digest.split(':')[1]}" / "signature-1"
        assert self.signature.is_file()

    def policy(self, policy: dict[str, Any]) -> Path:
        path = self.tmp / "policy.json"
        path.write_text(json.dumps(policy))
        return path

    def signed_by(self, scope: str, key: Path = PUBRING, identity: dict[str, str] | None = None) -> Path:
        req: dict[str, Any] = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(key)}
        if identity is not None:
            req["signedIdentity"] = identity
        return self.policy({"default": [{"type": "reject"}], "transports": {"docker": {scope: [req]}}})

    def copy(self, policy: Path, image: str) -> str:
        """Run ``copy IMAGE dir:…``; it must be refused with ``policy-rejected``; return stderr."""
        out = self.tmp / "out"
        shutil.rmtree(out, ignore_errors=True)
        extra = ["--src-tls-verify=false"] if image.startswith("docker://") else []
        r = self.env.run("trustcopy", "copy", "-q", *extra, image, f"dir:{out}", policy=policy)
        assert r.returncode == 1, r.stderr
        errors = [line for line in r.stderr.splitlines() if not line.startswith("warning: ")]
        assert errors and errors[0].startswith("error[policy-rejected]: Source image rejected: "), r.stderr
        assert not out.exists()
        return r.stderr


@pytest.fixture
def journey(tmp_path: Path, plain_registry: RegistryServer, example_home: GPGHome) -> Iterator[Journey]:
    yield Journey(tmp_path, plain_registry, example_home)


def _payload(journey: Journey) -> bytes:
    """The signed payload of ns/app:1's signature (to re-sign it with other keys)."""
    return journey.gpg.run("--decrypt", data=journey.signature.read_bytes()).stdout


def test_wrong_key_names_the_signer_and_the_trusted_keys(journey: Journey, new_home: Any) -> None:
    other = new_home()
    fpr = other.gen_key("Other <other@example.com>")
    key = journey.tmp / "other.gpg"
    key.write_bytes(other.export(fpr))
    err = journey.copy(journey.signed_by(f"{journey.host}/ns", key), f"docker://{journey.host}/ns/app:1")
    assert "reason UNKNOWN_KEY" in err
    assert FPR in err  # the signer, in full (skopeo names it too), not only its key ID
    assert f"trusted: {fpr} (from {key})" in err
    assert f"scope transports.docker[\"{journey.host}/ns\"]" in err
    assert f"file://{journey.signature}" in err


def test_expired_and_revoked_keys_are_named_by_fingerprint(journey: Journey, new_home: Any) -> None:
    home = new_home()
    payload = _payload(journey)
    expired = home.gen_key("Exp <e@example.com>", expire="1d", faked_time="20200101T000000")
    revoked = home.gen_key("Rev <r@example.com>")
    expired_sig = home.sign(payload, expired, faked_time="20200101T000100")
    revoked_sig = home.sign(payload, revoked)  # signed before the revocation is imported
    cases = [
        (expired, expired_sig, home.export(expired), "EXPIRED", "has expired"),
        (revoked, revoked_sig, home.revoke(revoked), "INVALID_SIGNATURE", "revoked"),
    ]
    for fpr, signature, public, reason, words in cases:
        key = journey.tmp / f"{fpr}.gpg"
        key.write_bytes(public)
        journey.signature.write_bytes(signature)
        err = journey.copy(journey.signed_by(f"{journey.host}/ns", key), f"docker://{journey.host}/ns/app:1")
        assert f"reason {reason}" in err and words in err and fpr in err, err


def test_moved_tag_names_the_digest_and_where_signatures_were_looked_for(journey: Journey) -> None:
    write_oci({"e": make_image([random_layer(64, 3)])}, str(journey.tmp / "other"))
    r = journey.env.run("trustcopy", "copy", "--dest-tls-verify=false", "--digestfile", str(journey.tmp / "d2"),
                        f"oci:{journey.tmp / 'other'}:e", f"docker://{journey.host}/ns/app:1")
    assert r.returncode == 0, r.stderr
    moved = (journey.tmp / "d2").read_text().strip()
    err = journey.copy(journey.signed_by(f"{journey.host}/ns"), f"docker://{journey.host}/ns/app:1")
    assert "reason NO_SIGNATURES" in err
    assert f"no signature exists for manifest {moved}" in err
    assert f"file://{journey.store}/ns/app@sha256={moved.split(':')[1]}/signature-1" in err
    assert str(journey.env.regd / "test.yaml") in err  # the registries.d file that chose the store
    assert "use-sigstore-attachments" in err
    assert "lookaside where" in err


def test_missing_registries_d_section_names_the_built_in_default(journey: Journey) -> None:
    journey.env.registries_d({}, default={})  # no section gives a URL for this registry
    (journey.env.regd / "test.yaml").write_text("{}")
    err = journey.copy(journey.signed_by(f"{journey.host}/ns"), f"docker://{journey.host}/ns/app:1")
    assert "reason NO_SIGNATURES" in err
    assert "built-in default" in err
    assert f"/ns/app@sha256={journey.digest.split(':')[1]}/signature-1" in err


def test_identity_mismatch_names_claimed_and_expected_identity(journey: Journey) -> None:
    host = journey.host
    r = journey.env.run("trustcopy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                        f"docker://{host}/ns/app:1", f"docker://{host}/ns/app:2")
    assert r.returncode == 0, r.stderr
    cases: list[tuple[dict[str, str] | None, str, list[str]]] = [
        (None, f"docker://{host}/ns/app:2", [f"expected exactly {host}/ns/app:2 (matchRepoDigestOrExact)"]),
        ({"type": "matchExact"}, f"docker://{host}/ns/app@{journey.digest}",
         [f"expected exactly {host}/ns/app@{journey.digest} (matchExact)"]),
        ({"type": "exactReference", "dockerReference": f"{host}/ns/app:9"}, f"docker://{host}/ns/app:1",
         [f"expected exactly {host}/ns/app:9 (exactReference)"]),
        ({"type": "exactRepository", "dockerRepository": f"{host}/ns/other"}, f"docker://{host}/ns/app:1",
         [f"repository {host}/ns/other (exactRepository)"]),
        ({"type": "remapIdentity", "prefix": f"{host}/ns", "signedPrefix": "vendor.example.com/ns"},
         f"docker://{host}/ns/app:1", ["remapped to vendor.example.com/ns/app:1"]),
        ({"type": "remapIdentity", "prefix": f"{host}/other", "signedPrefix": "vendor.example.com/ns"},
         f"docker://{host}/ns/app:2", [f"prefix {host}/other does not cover {host}/ns/app"]),
    ]
    for identity, image, facts in cases:
        err = journey.copy(journey.signed_by(f"{host}/ns", identity=identity), image)
        assert "reason IDENTITY_MISMATCH" in err, err
        assert f'Signature for identity "{host}/ns/app:1" is not accepted' in err, err
        for fact in facts:
            assert fact in err, (fact, err)


def test_fall_through_to_the_default_says_why(journey: Journey) -> None:
    host = journey.host
    accept = [{"type": "insecureAcceptAnything"}]
    image = f"docker://{host}/ns/app:1"
    typo = journey.policy({"default": [{"type": "reject"}],
                           "transports": {"docker": {"ns/app": accept, f"{host}/ns/app:latest": accept}}})
    err = journey.copy(typo, image)
    assert "reason SCOPE_REJECT" in err
    assert f"no scope of transports.docker matches {host}/ns/app:1" in err
    assert '"ns/app"' in err and f'"{host}/ns/app:latest"' in err
    transport_typo = journey.policy({"default": [{"type": "reject"}], "transports": {"dokcer": {"": accept}}})
    assert "the policy has no transports.docker section" in journey.copy(transport_typo, image)


def test_a_more_specific_scope_names_what_it_overrides(journey: Journey) -> None:
    host = journey.host
    policy = journey.policy({"default": [{"type": "reject"}], "transports": {"docker": {
        f"{host}/ns": [{"type": "insecureAcceptAnything"}], f"{host}/ns/app": [{"type": "reject"}]}}})
    err = journey.copy(policy, f"docker://{host}/ns/app:1")
    assert f'scope transports.docker["{host}/ns/app"] (most specific match' in err
    assert f'overrides transports.docker["{host}/ns"]' in err


def test_unsigned_local_images_say_where_signatures_can_be(journey: Journey) -> None:
    policy = journey.policy({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(PUBRING)}]})
    oci = oci_source(journey.tmp, example_image())
    err = journey.copy(policy, oci)
    assert "reason NO_SIGNATURES" in err and "oci: images cannot carry" in err
    assert "the policy has no transports.oci section" in err
    write_dir(example_image(), str(journey.tmp / "plain"))
    err = journey.copy(policy, f"dir:{journey.tmp / 'plain'}")
    assert f"looked for the file {journey.tmp / 'plain' / 'signature-1'}" in err


def test_missing_key_file_is_named(journey: Journey) -> None:
    err = journey.copy(journey.signed_by(f"{journey.host}/ns", journey.tmp / "nope.gpg"),
                       f"docker://{journey.host}/ns/app:1")
    assert "reason KEY_LOAD_FAILED" in err and str(journey.tmp / "nope.gpg") in err


def test_scope_warning_is_a_warning_not_an_invalid_policy(journey: Journey) -> None:
    policy = journey.policy({"default": [{"type": "reject"}],
                             "transports": {"docker": {"ns/app": [{"type": "insecureAcceptAnything"}]}}})
    out = journey.env.run("trustcopy", "copy", "-q", "--src-tls-verify=false", f"docker://{journey.host}/ns/app:1",
                          f"dir:{journey.tmp / 'w'}", policy=policy)
    assert out.returncode == 1
    warning = out.stderr.splitlines()[0]
    assert warning.startswith("warning: policy ") and "invalid policy" not in warning, out.stderr
    assert "docker.io/ns/app" in warning
