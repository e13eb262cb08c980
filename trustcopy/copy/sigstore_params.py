"""``copy --sign-by-sigstore PARAM-FILE``: containers-sigstore-signing-params.yaml(5).

The file says how to make a sigstore signature: with a private key file (and its
passphrase file), or with a short-lived key certified by Fulcio for an OIDC identity, and
whether to log the signature in Rekor (whose SET then travels in the signature, so that
policies with ``rekorPublicKeyPath`` accept it). As containers/image, the file is strict:
an unknown or duplicate key refuses it, and the combinations it refuses are refused here,
with containers/image's wording and the file named.

Fulcio's ``staticToken`` mode is built (a CI job passes the ID token its OIDC provider
gave it); ``deviceGrant`` and ``interactive`` need a person at a browser and are refused
by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from trustcopy.errors import ConfigError, SignatureError, UsageError
from trustcopy.lazy import dataclass

#: containers/image's field names (params.SigningParameterFile, SigningParameterFileFulcio).
TOP_KEYS = ("privateKeyFile", "privateKeyPassphraseFile", "fulcio", "rekorURL")
FULCIO_KEYS = ("fulcioURL", "oidcMode", "oidcIDToken", "oidcIssuerURL", "oidcClientID", "oidcClientSecret")
OIDC_MODES = ("staticToken", "deviceGrant", "interactive")
MAX_PARAMS_FILE = 1 << 20


@dataclass(frozen=True)
class FulcioParams:
    """The ``fulcio:`` section (validated: a URL, a mode, and the token for ``staticToken``)."""

    url: str
    oidc_mode: str
    oidc_id_token: str = ""
    oidc_issuer_url: str = ""

    def __repr__(self) -> str:  # the token is a credential
        return f"FulcioParams(url={self.url!r}, oidc_mode={self.oidc_mode!r})"


@dataclass(frozen=True)
class SigningParams:
    """One parameter file: exactly one key source (a private key file, or Fulcio), maybe Rekor."""

    path: str
    private_key_file: str = ""
    private_key_passphrase_file: str = ""
    fulcio: FulcioParams | None = None
    rekor_url: str = ""


def _error(path: str, message: str) -> SignatureError:
    # skopeo: "Error using --sign-by-sigstore: setting up signing using parameter file …"
    return SignatureError(f"--sign-by-sigstore {path}: {message}", code="sigstore-params-invalid",
                          context={"path": path})


def _string(table: dict[str, Any], key: str, path: str, where: str) -> str:
    value = table.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _error(path, f"{where}{key} must be a string, not {type(value).__name__}")
    return value


def _known(table: Any, keys: tuple[str, ...], path: str, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _error(path, f"{where.rstrip('.') or 'the document'} must be a mapping")
    for key in table:
        if key not in keys:
            # yaml.v4 KnownFields(true): "field X not found in type params.SigningParameterFile"
            raise _error(path, f"unknown field {where}{key!s} (known: {', '.join(keys)})")
    return table


def _url(value: str, path: str, key: str) -> str:
    """A URL as containers/image needs it: an http(s) scheme and a host; user info is refused (it would leak)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise _error(path, f"parsing {key} {value!r}: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise _error(path, f"parsing {key} {value!r}: an http(s) URL with a host is needed")
    if parts.username is not None or parts.password is not None:
        raise _error(path, f"{key}: credentials inside the URL are not accepted")
    return value


def load_signing_params(path: str) -> SigningParams:
    """Read and check a parameter file (a pipe works, as ``<(generate-params)``).

    Raises:
        SignatureError: ``sigstore-params-invalid``: unreadable, not YAML, an unknown or
            duplicate key, a wrong type, or a combination containers/image refuses (no key
            source, both a key and Fulcio, Fulcio without URL or mode, ``staticToken``
            without a token, an unknown or interactive OIDC mode).
    """
    from trustcopy.limits import read_file_at_most
    from trustcopy.stores.registries_d import load_yaml

    try:
        data = read_file_at_most(path, MAX_PARAMS_FILE, f"sigstore signing parameter file {path}", allow_fifo=True)
    except OSError as exc:
        raise _error(path, f"reading {path}: {exc.strerror or exc}") from exc
    try:
        doc = load_yaml(path, data)
    except ConfigError as exc:
        raise _error(path, exc.message) from exc
    top = _known({} if doc is None else doc, TOP_KEYS, path, "")
    fulcio = None
    if top.get("fulcio") is not None:
        section = _known(top["fulcio"], FULCIO_KEYS, path, "fulcio.")
        fulcio = _fulcio(section, path)
    for key in ("privateKeyFile", "privateKeyPassphraseFile"):
        if "\0" in _string(top, key, path, ""):  # no file has such a name (os.open: ValueError)
            raise _error(path, f"{key} contains a NUL byte")
    params = SigningParams(
        path=path,
        private_key_file=_string(top, "privateKeyFile", path, ""),
        private_key_passphrase_file=_string(top, "privateKeyPassphraseFile", path, ""),
        fulcio=fulcio,
        rekor_url=_string(top, "rekorURL", path, ""),
    )
    if params.rekor_url:
        _url(params.rekor_url, path, "rekorURL")
    if params.private_key_file and fulcio is not None:
        raise _error(path, "multiple private key sources specified when preparing to create sigstore signatures")
    if not params.private_key_file and fulcio is None:
        raise _error(path, "no private key source provided (neither a private key nor Fulcio) when preparing "
                           "to create sigstore signatures")
    if params.private_key_passphrase_file and not params.private_key_file:
        raise _error(path, "privateKeyPassphraseFile is set without privateKeyFile")
    return params


def _fulcio(section: dict[str, Any], path: str) -> FulcioParams:
    """containers/image's fulcioOption checks, in its order."""
    fulcio_url = _string(section, "fulcioURL", path, "fulcio.")
    if not fulcio_url:
        raise _error(path, "missing fulcioURL")
    _url(fulcio_url, path, "fulcioURL")
    mode = _string(section, "oidcMode", path, "fulcio.")
    token = _string(section, "oidcIDToken", path, "fulcio.")
    issuer = _string(section, "oidcIssuerURL", path, "fulcio.")
    if mode == "staticToken":
        if not token:
            raise _error(path, "missing oidcToken")
        from trustcopy.redact import register_secret

        register_secret(token, token.strip())
        return FulcioParams(fulcio_url, mode, oidc_id_token=token)
    if not issuer:
        raise _error(path, "missing oidcIssuerURL")
    _url(issuer, path, "oidcIssuerURL")
    if mode == "":
        raise _error(path, "missing oidcMode")
    if mode not in OIDC_MODES:
        raise _error(path, f"unknown oidcMode value {mode!r}")
    raise SignatureError(
        f"--sign-by-sigstore {path}: oidcMode {mode} needs a person at a browser, which trustcopy does not drive",
        code="sigstore-signing-unsupported", context={"path": path},
        hint="use oidcMode: staticToken with the ID token your CI's OIDC provider issues")


@dataclass(frozen=True)
class PreparedSigner:
    """What ``--sign-by-sigstore`` signs with, set up once before the copy writes anything.

    Made before the copy (as skopeo makes its signer), so that a wrong passphrase or a
    Fulcio that refuses the token fails the command before a blob is written; then used
    for every manifest the command signs (``--all``, every image of a sync).

    Attributes:
        key: the private key (cryptography's object).
        key_or_cert_pem: what Rekor is told signed: the public key, or Fulcio's certificate.
        certificate / chain: Fulcio's certificate and its chain (PEM), or empty.
        rekor_url: where each signature is logged ("" for no Rekor).
        describe: for progress lines ("key PATH", "a Fulcio certificate for SUBJECT").
    """

    key: Any = field(repr=False)
    key_or_cert_pem: bytes = field(repr=False)
    certificate: bytes = b""
    chain: bytes = b""
    rekor_url: str = ""
    describe: str = ""


def prepare_signer(params: SigningParams, prompt: Callable[[str], str] | None = None) -> PreparedSigner:
    """Read the key (asking for its passphrase through ``prompt`` when the file names no
    passphrase file), or get a Fulcio certificate for a new key.

    Raises:
        UsageError: a private key without passphrase file, and no way to ask.
        SignatureError: the key cannot be read or decrypted; Fulcio refuses or is unreachable.
    """
    from trustcopy.signature.sigstore_keys import load_private_key, public_key_pem

    if params.fulcio is not None:
        from trustcopy.signature.sigstore_services import fulcio_certificate, token_subject

        subject = token_subject(params.fulcio.oidc_id_token)
        key, certificate, chain = fulcio_certificate(params.fulcio.url, params.fulcio.oidc_id_token)
        return PreparedSigner(key, certificate, certificate, chain, params.rekor_url,
                              f"a Fulcio certificate for {subject}")
    from trustcopy.copy.sign import private_key_file, read_passphrase_file

    path = params.private_key_file
    if params.private_key_passphrase_file:
        passphrase = read_passphrase_file(params.private_key_passphrase_file)
    elif prompt is not None:
        passphrase = prompt(path)
    else:
        raise UsageError(f"--sign-by-sigstore {params.path}: no passphrase for the private key {path}",
                         code="passphrase-file", hint="set privateKeyPassphraseFile, or run on a terminal")
    try:
        pem = private_key_file(path)
    except OSError as exc:
        raise SignatureError(f"--sign-by-sigstore {params.path}: reading private key from {path}: "
                             f"{exc.strerror or exc}", code="sigstore-key-invalid") from exc
    key = load_private_key(pem, passphrase.encode("utf-8"), path)
    return PreparedSigner(key, public_key_pem(key.public_key()), rekor_url=params.rekor_url, describe=f"key {path}")
