"""Review of the rejection/acceptance messages (aa0865e, 18534e1): they must not mislead, leak, crash or explode.

Each test pins one defect found in review (or a property the review checked): a sentence
that states a wrong cause, an untrusted certificate's text reaching a message raw
(control characters: a forged line in a CI log) or unbounded, lists of trusted keys or
key files that grow with the policy, a hint naming an identity rule that cannot help, and
the "no signature exists" decoration, which must make no request (a real registry behind a
FaultProxy counts them, then answers 503, as a registry gone down after the manifest and
signatures were read), must hide a lookaside URL's credentials and token, and must state
truly which registries.d setting decided about sigstore attachments. Sigstore material is
made here (tests/unit/signature/sigstore_material.py).
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from imagefactory import example_image
from registry_fixtures import Fault, FaultProxy, docker_ref, fast_sys, push_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "signature"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "policy"))
from policy_fakes import FakeEnv, docker_image, fake_sig
from sigstore_material import (
    CERT_ANN,
    DIGEST,
    MIME,
    NOW,
    SET_ANN,
    SIG_ANN,
    FakeImage,
    cert_pem,
    cosign_payload,
    ec_key,
    envelope,
    hashedrekord,
    make_cert,
    make_set,
    pub_der,
    pub_pem,
    sign,
)

from trustcopy.image.unparsed import UnparsedImage
from trustcopy.policy import PolicyContext
from trustcopy.policy.parse import parse_policy
from trustcopy.policy.requirements import SignedBy
from trustcopy.policy.sigstore_requirement import SigstoreSigned
from trustcopy.reasons import Reason
from trustcopy.signature.gpg import judge_status
from trustcopy.signature.sigstore import SigstoreTrustRoot

REF = "quay.io/ns/app:1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _fingerprint(key: Any) -> str:
    import hashlib

    return hashlib.sha256(pub_der(key)).hexdigest().upper()


def _summary(requirement: dict[str, Any], image: Any) -> str:
    requirement.setdefault("signedIdentity", {"type": "matchRepository"})
    with PolicyContext(parse_policy(json.dumps({"default": [requirement]}))) as ctx:
        verdict = ctx.evaluate(image)
    assert not verdict.allowed
    return str(verdict.summary())


def test_a_rekor_set_logging_an_untrusted_key_is_not_called_a_copied_set() -> None:
    """A signature made (and properly logged) with a key the requirement does not trust: the
    SET logs that key, so "publicKey in Rekor SET does not match" every trusted key. The
    cause is the signer, not a SET copied from another signature; the message must say so
    and name the trusted keys, as it does without rekorPublicKey."""
    trusted, signer, rekor = ec_key(), ec_key(), ec_key()
    payload = cosign_payload(DIGEST, REF)
    signature = sign(signer, payload)
    logged = make_set(rekor, hashedrekord(pub_pem(signer), signature, payload), int(NOW.timestamp()))
    image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(signature), SET_ANN: logged})])
    summary = _summary({"type": "sigstoreSigned", "keyData": _b64(pub_pem(trusted)),
                        "rekorPublicKeyData": _b64(pub_pem(rekor))}, image)
    assert "reason REKOR_SET_INVALID" in summary
    assert "copied from another signature" not in summary, summary
    assert "not one of the trusted keys" in summary, summary
    assert f"{_fingerprint(trusted)} (from keyData)" in summary, summary
    # A SET for this very key but another payload still reads as a copied/re-made SET.
    other = cosign_payload(DIGEST, "quay.io/ns/app:2")
    copied = make_set(rekor, hashedrekord(pub_pem(trusted), sign(trusted, other), other), int(NOW.timestamp()))
    image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(sign(trusted, payload)), SET_ANN: copied})])
    summary = _summary({"type": "sigstoreSigned", "keyData": _b64(pub_pem(trusted)),
                        "rekorPublicKeyData": _b64(pub_pem(rekor))}, image)
    assert "another signature" in summary and "not one of the trusted keys" not in summary, summary


def test_the_trusted_sigstore_keys_listed_are_bounded() -> None:
    """A requirement with hundreds of keyDatas: the rejection lists a few, and counts the rest."""
    keys = [ec_key() for _ in range(60)]
    payload = cosign_payload(DIGEST, REF)
    image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(sign(ec_key(), payload))})])
    summary = _summary({"type": "sigstoreSigned", "keyDatas": [_b64(pub_pem(k)) for k in keys]}, image)
    assert "reason INVALID_SIGNATURE" in summary
    assert f"{_fingerprint(keys[0])} (from keyDatas[0])" in summary
    assert _fingerprint(keys[-1]) not in summary
    assert "and 52 more" in summary, summary
    assert len(summary) < 2000, len(summary)


def test_every_trusted_key_is_listed_even_with_fewer_names_than_keys() -> None:
    """A trust root built through the API with fewer ``key_names`` than keys: no key may vanish
    from the "trusted:" list (zip would drop it silently)."""
    first, second = ec_key(), ec_key()
    root = SigstoreTrustRoot("keys", (first.public_key(), second.public_key()), key_names=("one.pub",))
    requirement = SigstoreSigned(key_paths=("one.pub", "two.pub"))

    class Env(FakeEnv):
        def sigstore_trust_root(self, requirement: Any) -> SigstoreTrustRoot:
            return root

    payload = cosign_payload(DIGEST, REF)
    image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(sign(ec_key(), payload))})])
    result = requirement.is_image_allowed(image, Env())  # type: ignore[arg-type]
    message = result.signatures[0].message
    assert result.signatures[0].reason is Reason.INVALID_SIGNATURE
    assert f"{_fingerprint(first)} (from one.pub)" in message, message
    assert _fingerprint(second) in message, message


def _hostile_leaf(issuer_cn: str, names: list[x509.GeneralName]) -> str:
    root = make_cert("root", None, ca=True)
    key = ec_key()
    builder = (x509.CertificateBuilder().subject_name(x509.Name([]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
               .add_extension(x509.SubjectAlternativeName(names), critical=False))
    return cert_pem(builder.sign(root.key, hashes.SHA256())).decode()


def test_an_attached_certificate_is_named_escaped_and_bounded() -> None:
    """The certificate a keyless signature carries is untrusted: its names must not put a
    newline or a terminal escape into the message (a forged "ACCEPTED" line in a CI log),
    nor thousands of names into one line."""
    payload = cosign_payload(DIGEST, REF)
    key = ec_key()
    # Built unvalidated: RFC822Name() checks its value with email.utils.parseaddr, which refuses
    # this one on some Python 3.11 releases (3.11.2, Debian 12's) and accepts it on others.
    # A forger's certificate carries whatever bytes they like.
    hostile_email = x509.RFC822Name._init_without_validation("a@example.com\nACCEPTED docker://quay.io/ns/app:1")
    forged = _hostile_leaf("evil\nACCEPTED docker://x\x1b[2J", [hostile_email, x509.DNSName("b\x1b[31m.example.com")])
    many = _hostile_leaf("many", [x509.RFC822Name(f"user{i}@example.com") for i in range(5000)])
    trusted = ec_key()
    for pem in (forged, many):
        image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(sign(key, payload)), CERT_ANN: pem})])
        summary = _summary({"type": "sigstoreSigned", "keyData": _b64(pub_pem(trusted))}, image)
        assert "reason INVALID_SIGNATURE" in summary and "carries a certificate" in summary, summary
        assert "\n" not in summary and "\x1b" not in summary, summary
        assert len(summary) < 3000, len(summary)
    assert "user0@example.com" in summary and "user4999@example.com" not in summary


def test_the_cosign_hint_under_exact_reference_names_exact_repository() -> None:
    """exactReference pins one reference whatever the image is called (a mirror, a dir:);
    matchRepository compares the image's own name instead and would not accept a cosign
    signature there. The equivalent for a repository-only claim is exactRepository."""
    key = ec_key()
    payload = cosign_payload(DIGEST, "quay.io/ns/app")  # cosign signs the repository only
    image = FakeImage("mirror.example.com/copy/app:1",
                      [envelope(MIME, payload, {SIG_ANN: _b64(sign(key, payload))})])
    summary = _summary({"type": "sigstoreSigned", "keyData": _b64(pub_pem(key)),
                        "signedIdentity": {"type": "exactReference", "dockerReference": REF}}, image)
    assert "reason IDENTITY_MISMATCH" in summary
    assert '"exactRepository"' in summary and '"dockerRepository": "quay.io/ns/app"' in summary, summary
    assert "matchRepository" not in summary.split("signedIdentity: exactReference")[0], summary
    # The rule suggested accepts the signature; the one suggested before did not.
    for identity, allowed in (({"type": "exactRepository", "dockerRepository": "quay.io/ns/app"}, True),
                              ({"type": "matchRepository"}, False)):
        policy = {"default": [{"type": "sigstoreSigned", "keyData": _b64(pub_pem(key)), "signedIdentity": identity}]}
        with PolicyContext(parse_policy(json.dumps(policy))) as ctx:
            assert ctx.evaluate(image).allowed is allowed, identity


def test_the_files_an_unknown_key_rejection_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """signedBy with a thousand keyPaths: the "trusted: … (from …)" clause lists a few files."""
    import policy_fakes

    paths = [f"/keys/k{i}.gpg" for i in range(1000)]
    monkeypatch.setattr(policy_fakes, "KEY_FILES", {**policy_fakes.KEY_FILES, **{p: frozenset({"C" * 40})
                                                                                  for p in paths}})
    requirement = SignedBy(key_paths=tuple(paths))
    image = docker_image("quay.io/ns/app:1", [fake_sig("quay.io/ns/app:1", key="D" * 40)])
    result = requirement.is_image_allowed(image, FakeEnv())  # type: ignore[arg-type]
    message = result.signatures[0].message
    assert result.signatures[0].reason is Reason.UNKNOWN_KEY
    assert "/keys/k0.gpg" in message and "/keys/k999.gpg" not in message, message
    assert len(message) < 1000, len(message)


def test_an_errsig_fingerprint_is_reported_as_the_signature_s_claim() -> None:
    """ERRSIG NO_PUBKEY: gpg had no key, so the fingerprint is the signature's own (unsigned)
    issuer claim. The message may show it, but not as a verified fact."""
    fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
    statuses = [("NEWSIG", ""), ("ERRSIG", f"89ABCDEF01234567 1 8 00 1700000000 9 {fpr}"),
                ("NO_PUBKEY", "89ABCDEF01234567")]
    with pytest.raises(Exception) as info:
        judge_status(statuses, 2, 10)
    message = str(info.value)
    assert fpr in message
    assert "claims" in message, message


def _duplicate_extension_pem() -> str:
    """A certificate with two extensions of one OID (made by renaming the second's OID in the DER)."""
    from cryptography.hazmat.primitives import serialization

    root = make_cert("root", None, ca=True)
    key = ec_key()
    builder = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(root.cert.subject)
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
               .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), False)
               .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.6"), b"\x05\x00"), False))
    der = builder.sign(root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    marker = bytes.fromhex("06042a030406")
    assert der.count(marker) == 1
    der = der.replace(marker, bytes.fromhex("06042a030405"))
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("annotation", [
    "-----BEGIN CERTIFICATE-----\n\udc80\udcff\n-----END CERTIFICATE-----\n",  # not UTF-8 (lone surrogates)
    "not PEM at all",
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",  # not DER
    "duplicate-extension",
    "many",
], ids=["non-utf8", "garbage", "bad-der", "duplicate-extension", "many-certificates"])
def test_a_hostile_certificate_annotation_never_escapes_the_decoration(annotation: str) -> None:
    """Under a key requirement the certificate is only described: whatever it holds, the
    signature is rejected with the verifier's reason and nothing escapes evaluation."""
    if annotation == "duplicate-extension":
        annotation = _duplicate_extension_pem()
    elif annotation == "many":
        root = make_cert("root", None, ca=True)
        annotation = cert_pem(*[root.cert] * 300).decode()
    payload = cosign_payload(DIGEST, REF)
    key = ec_key()
    chain = cert_pem(make_cert("root", None, ca=True).cert).decode()
    image = FakeImage(REF, [envelope(MIME, payload, {SIG_ANN: _b64(sign(key, payload)), CERT_ANN: annotation,
                                                     "dev.sigstore.cosign/chain": chain})])
    summary = _summary({"type": "sigstoreSigned", "keyData": _b64(pub_pem(ec_key()))}, image)
    assert "reason INVALID_SIGNATURE" in summary and "trusted: " in summary, summary
    assert len(summary) < 2000
    # Under a fulcio requirement the same annotation is a certificate failure, never a crash.
    root = make_cert("fulcio", None, ca=True)
    summary = _summary({"type": "sigstoreSigned", "fulcio": {"caData": _b64(cert_pem(root.cert)),
                                                             "oidcIssuer": "https://i.example.com",
                                                             "subjectEmail": "a@example.com"},
                        "rekorPublicKeyData": _b64(pub_pem(ec_key()))}, image)
    assert "reason CERTIFICATE_INVALID" in summary or "reason REKOR_SET_INVALID" in summary, summary


# -- the no-signature decoration against a real registry --------------------------------------------------


def _public_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _setup(tmp_path: Path, proxy: FaultProxy, section: dict[str, Any]) -> Any:
    """Push ns/app:1 through ``proxy``; registries.d gives ``section`` for the proxy's host."""
    push_image(proxy.host, "ns/app:1", example_image(), fast_sys())
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "r.yaml").write_text(json.dumps({"docker": {proxy.host: section}}))
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    return fast_sys(registries_d=str(regd), registries_conf=str(conf))


def _policy(kind: str) -> Any:
    if kind == "sigstoreSigned":
        req: dict[str, Any] = {"type": "sigstoreSigned", "keyData": base64.b64encode(_public_key_pem()).decode(),
                               "signedIdentity": {"type": "matchRepository"}}
    else:
        req = {"type": "signedBy", "keyType": "GPGKeys", "keyData": base64.b64encode(b"unused").decode()}
    return parse_policy(json.dumps({"default": [req]}))


@pytest.mark.registry
@pytest.mark.parametrize("kind", ["sigstoreSigned", "signedBy"])
def test_no_signature_message_makes_no_request_and_hides_lookaside_secrets(
        tmp_path: Path, fault_proxy: FaultProxy, kind: str) -> None:
    # The lookaside is the registry itself (which answers 404 there: "no signatures"), with
    # credentials in the URL and a token in its query.
    url = f"http://reader:Pa55w0rdXYZ@{fault_proxy.host}/sigstore?token=T0KENSECRET&v=1"
    sys_ctx = _setup(tmp_path, fault_proxy, {"lookaside": url, "use-sigstore-attachments": False})
    with docker_ref(fault_proxy.host, "ns/app:1").new_image_source(sys_ctx) as source:
        image = UnparsedImage(source)
        assert image.signatures() == []
        image.manifest_digest()
        before = len(fault_proxy.seen)
        fault_proxy.rule = lambda method, path, headers: Fault(status=503)  # the registry is down now
        with PolicyContext(_policy(kind)) as ctx:
            verdict = ctx.evaluate(image)
        assert len(fault_proxy.seen) == before, fault_proxy.seen[before:]
    summary = verdict.summary()
    assert not verdict.allowed and "reason NO_SIGNATURES" in summary, summary
    assert f"/sigstore/ns/app@sha256={image.manifest_digest().hex}/signature-1" in summary, summary
    assert "Pa55w0rdXYZ" not in summary and "T0KENSECRET" not in summary, summary
    # use-sigstore-attachments is set (to false) by a section: the message must not say no section sets it.
    assert "no registries.d section sets" not in summary, summary
    assert "use-sigstore-attachments" in summary and str(tmp_path / "registries.d" / "r.yaml") in summary, summary


@pytest.mark.registry
def test_no_section_setting_attachments_is_said_so(tmp_path: Path, fault_proxy: FaultProxy) -> None:
    store = tmp_path / "store"
    sys_ctx = _setup(tmp_path, fault_proxy, {"lookaside": f"file://{store}"})
    with docker_ref(fault_proxy.host, "ns/app:1").new_image_source(sys_ctx) as source:
        image = UnparsedImage(source)
        with PolicyContext(_policy("sigstoreSigned")) as ctx:
            summary = ctx.evaluate(image).summary()
    assert "reason NO_SIGNATURES" in summary
    assert f"file://{store}/ns/app@sha256=" in summary
    assert "no registries.d section sets use-sigstore-attachments" in summary, summary
