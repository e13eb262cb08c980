"""Talking to sigstore's services while signing: a Fulcio certificate, a Rekor log entry.

Both speak the protocol containers/image speaks (so a signature trustcopy makes is one
skopeo would make): Fulcio's ``POST /api/v1/signingCert`` with the OIDC ID token as a
bearer token and a proof of key possession (the token subject, signed); Rekor's ``POST
/api/v1/log/entries`` with a ``hashedrekord`` entry (the SHA-256 of the signed payload, the
signature, the key or certificate), whose answer becomes the SET annotation that
policies with ``rekorPublicKeyPath`` verify. A conflict (the entry is already logged) is
answered by fetching that entry, as containers/image does.

Everything a service sends back is untrusted: sizes are bounded, every field is checked,
and a certificate's key must be the key just generated. Nothing here is verified against a
policy: the verifying side (trustcopy.signature.sigstore) does that, for every reader.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from trustcopy.errors import SignatureError

if TYPE_CHECKING:
    import httpx

#: The largest answer accepted from Fulcio or Rekor.
MAX_ANSWER = 1 << 20
#: Attempts of one request (containers/image: retryablehttp with 3 retries), and the first wait.
ATTEMPTS = 4
RETRY_DELAY = 1.0
_USER_AGENT = "trustcopy (+containers/image compatible)"


def _error(message: str, code: str) -> SignatureError:
    return SignatureError(message, code=code)


def _client() -> httpx.Client:
    """A client with the system's CAs and the proxy variables (Go's cleanhttp default client)."""
    import ssl

    import httpx

    from trustcopy.proxies import routing_transport

    context = ssl.create_default_context()
    return httpx.Client(transport=routing_transport(lambda proxy: httpx.HTTPTransport(verify=context, proxy=proxy)),
                        timeout=httpx.Timeout(60.0), follow_redirects=False, headers={"User-Agent": _USER_AGENT})


def _send(client: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> tuple[int, bytes, Any]:
    """One request, retried on connection failures, 429 and 5xx (not 501); the answer bounded."""
    import httpx

    from trustcopy.redact import redact_url

    delay = RETRY_DELAY
    for attempt in range(ATTEMPTS):
        try:
            with client.stream(method, url, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER:
                        raise _error(f"{what}: the answer of {redact_url(url)} is larger than {MAX_ANSWER} bytes",
                                     "sigstore-service")
                status, headers = response.status_code, response.headers
        except httpx.HTTPError as exc:
            if attempt + 1 < ATTEMPTS:
                time.sleep(delay)
                delay *= 2
                continue
            raise _error(f"{what}: {redact_url(url)}: {type(exc).__name__}: {exc}", "sigstore-service") from None
        if (status == 429 or (status >= 500 and status != 501)) and attempt + 1 < ATTEMPTS:
            time.sleep(delay)
            delay *= 2
            continue
        return status, bytes(body), headers
    raise AssertionError("unreachable")


def _service_error(what: str, url: str, status: int, body: bytes, secrets: tuple[str, ...] = ()) -> SignatureError:
    """The service's answer, quoted safely: printable, bounded, and without ``secrets`` (a
    Fulcio that echoes the ID token it refused must not put the token in a CI log)."""
    from trustcopy.redact import redact_text, redact_url

    # Masked before it is shortened: a secret cut in two by the limit would keep its head.
    detail = body[:64 << 10].decode("utf-8", "replace")
    detail = redact_text("".join(c if c.isprintable() else " " for c in detail).strip(), secrets)
    detail = detail[:300]
    return _error(f"{what}: {redact_url(url)} answered HTTP {status}" + (f": {detail}" if detail else ""),
                  "sigstore-service")


# -- Rekor ---------------------------------------------------------------------------------------


def hashedrekord_entry(key_or_cert_pem: bytes, signature: bytes, payload: bytes) -> dict[str, Any]:
    """The proposed entry (containers/image's RekorHashedrekord, Go's field order)."""
    import hashlib

    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "publicKey": {"content": base64.b64encode(key_or_cert_pem).decode()}},
        },
    }


def upload_to_rekor(rekor_url: str, key_or_cert_pem: bytes, signature: bytes, payload: bytes) -> str:
    """Log a signature in Rekor; return the ``dev.sigstore.cosign/bundle`` annotation (the SET).

    Raises:
        SignatureError: ``sigstore-service``: Rekor cannot be reached or refuses the entry,
            or its answer is not a well-formed log entry.
    """
    from trustcopy.gojson import go_marshal

    base = rekor_url.rstrip("/")
    entries = f"{base}/api/v1/log/entries"
    what = "uploading the signature to Rekor"
    with _client() as client:
        status, body, headers = _send(client, "POST", entries, what,
                                      content=go_marshal(hashedrekord_entry(key_or_cert_pem, signature, payload)),
                                      headers={"Content-Type": "application/json", "Accept": "application/json"})
        if status == 409 and "/" in headers.get("Location", ""):
            uuid = headers["Location"].rstrip("/").rsplit("/", 1)[1]
            from urllib.parse import quote

            url = f"{entries}/{quote(uuid, safe='')}"
            status, body, _ = _send(client, "GET", url, f"reading the Rekor entry {uuid} logged before",
                                    headers={"Accept": "application/json"})
            if status != 200:
                raise _service_error("reading an existing Rekor entry", url, status, body)
        elif status != 201:
            raise _service_error(what, entries, status, body)
    return rekor_set(body)


def rekor_set(answer: bytes) -> str:
    """The SET annotation for Rekor's answer (one log entry by UUID), as containers/image writes it.

    Raises:
        SignatureError: the answer is not exactly one well-formed entry.
    """
    from trustcopy.gojson import go_marshal

    def bad(why: str) -> SignatureError:
        return _error(f"Rekor's answer is not a usable log entry: {why}", "sigstore-service")

    try:
        doc = json.loads(answer)
    except (ValueError, RecursionError):
        raise bad("not JSON") from None
    if not isinstance(doc, dict) or len(doc) != 1:
        raise bad(f"expected 1 Rekor entry, got {len(doc) if isinstance(doc, dict) else 'no mapping'}")
    [entry] = doc.values()
    if not isinstance(entry, dict):
        raise bad("the entry is not a mapping")
    verification = entry.get("verification")
    set_b64 = verification.get("signedEntryTimestamp") if isinstance(verification, dict) else None
    body, when, index, log_id = (entry.get(k) for k in ("body", "integratedTime", "logIndex", "logID"))
    if not isinstance(set_b64, str) or not isinstance(log_id, str) or not isinstance(body, str):
        raise bad("missing data (body, logID, verification.signedEntryTimestamp)")
    for name, value in (("integratedTime", when), ("logIndex", index)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 63:
            raise bad(f"{name} is not an integer")
    try:
        body_bytes = base64.b64decode(body, validate=True)
        set_bytes = base64.b64decode(set_b64, validate=True)
    except ValueError:
        raise bad("body or signedEntryTimestamp is not base64") from None
    # Go: json.Marshal(map[string]any{...}) sorts the keys; []byte values become base64.
    payload = {"body": base64.b64encode(body_bytes).decode(), "integratedTime": when, "logID": log_id,
               "logIndex": index}
    return go_marshal({"Payload": payload, "SignedEntryTimestamp": base64.b64encode(set_bytes).decode()}).decode()


# -- Fulcio --------------------------------------------------------------------------------------


def token_subject(token: str) -> str:
    """The identity an OIDC ID token names, read without verifying it (Fulcio verifies it).

    As sigstore's ``SubjectFromUnverifiedToken``: the ``email`` claim when there is one (it
    must be ``email_verified``), else ``sub``. This subject is what the proof of possession
    signs.

    Raises:
        SignatureError: ``sigstore-token-invalid``: not a JWT, or an unverified email.
    """
    def bad(why: str) -> SignatureError:
        return _error(f"the OIDC ID token in the signing parameters {why}", "sigstore-token-invalid")

    parts = token.strip().split(".")
    if len(parts) != 3:
        raise bad("is not a JWT (three dot-separated parts)")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        raise bad("has an unreadable payload") from None
    if not isinstance(claims, dict):
        raise bad("has a payload that is not a JSON object")
    email, verified, subject = claims.get("email"), claims.get("email_verified"), claims.get("sub")
    if isinstance(email, str) and email:
        if verified is not True:
            raise bad(f"names the email {email!r}, not verified by the identity provider")
        return email
    if not isinstance(subject, str) or not subject:
        raise bad("names no subject (sub) and no email")
    return subject


def fulcio_certificate(fulcio_url: str, token: str) -> tuple[Any, bytes, bytes]:
    """A new P-256 key and Fulcio's certificate for it: ``(private_key, cert_pem, chain_pem)``.

    Raises:
        SignatureError: ``sigstore-token-invalid`` (see :func:`token_subject`),
            ``sigstore-service`` (Fulcio unreachable, refusing, or certifying another key).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from trustcopy.gojson import go_marshal

    subject = token_subject(token)
    # ECDSA P-256 is the only interoperable choice (cosign's SIGNATURE_SPEC), as containers/image.
    key = ec.generate_private_key(ec.SECP256R1())
    public_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    proof = key.sign(subject.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    request = {"publicKey": {"content": base64.b64encode(public_der).decode(), "algorithm": "ecdsa"},
               "signedEmailAddress": base64.b64encode(proof).decode()}
    url = f"{fulcio_url.rstrip('/')}/api/v1/signingCert"
    what = "requesting a signing certificate from Fulcio"
    with _client() as client:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token.strip()}"}
        status, body, _ = _send(client, "POST", url, what, content=go_marshal(request), headers=headers)
    if status != 201:
        raise _service_error(what, url, status, body, (token.strip(),))
    blocks = _pem_certificates(body)
    if not blocks:
        raise _error(f"{what}: Fulcio's answer holds no PEM certificate", "sigstore-service")
    try:
        leaf = x509.load_pem_x509_certificate(blocks[0])
    except ValueError:
        raise _error(f"{what}: Fulcio's certificate cannot be parsed", "sigstore-service") from None
    got = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if got != public_der:
        raise _error(f"{what}: Fulcio certified another key than the one sent", "sigstore-service")
    return key, blocks[0], b"".join(blocks[1:])


def _pem_certificates(data: bytes) -> list[bytes]:
    """The ``CERTIFICATE`` PEM blocks of ``data``, each re-encoded alone (leaf first, as Fulcio sends)."""
    out: list[bytes] = []
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    pos = 0
    while (start := data.find(begin, pos)) != -1:
        stop = data.find(end, start)
        if stop == -1:
            break
        out.append(data[start:stop + len(end)] + b"\n")
        pos = stop + len(end)
    return out
