"""Registry credentials and the Go field matching of auth JSON: what reading an auth file needs.

Apart from :mod:`trustcopy.transports.docker.auth` (which re-exports both) because that
module is the httpx authentication hook and imports httpx; ``logout`` and
``login --get-login`` only read and write auth files (start-up, issue 14).
"""

from __future__ import annotations

from trustcopy.gojson import fold
from trustcopy.lazy import dataclass
from trustcopy.redact import MASK, basic_forms, register_basic, register_secret, secret_forms


@dataclass(frozen=True, repr=False)
class Credentials:
    """Username and password (or an OAuth2 identity token) for one registry.

    WARNING: never format ``password``/``identity_token``; ``repr`` masks them.
    """

    username: str = ""
    password: str = ""
    identity_token: str = ""

    @property
    def anonymous(self) -> bool:
        """No credentials at all."""
        return not (self.username or self.password or self.identity_token)

    def __post_init__(self) -> None:
        # Whatever found them (flags, auth.json, a credential helper), the CLI's output
        # points mask them from now on (trustcopy.redact.scrub).
        register_basic(self.username, self.password)
        register_secret(self.identity_token)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in output (for redact_text), longest first.

        The password and identity token, their percent-/form-encoded forms, and the Basic
        credential (base64 of ``user:password``): a hostile server may echo the
        ``Authorization`` header's value without its ``Basic`` prefix.
        """
        forms = [*secret_forms(self.password), *secret_forms(self.identity_token)]
        if self.password:
            forms += basic_forms(self.username, self.password)
        return tuple(sorted(dict.fromkeys(f for f in forms if f), key=len, reverse=True))

    def __repr__(self) -> str:
        pw = MASK if self.password else ""
        tok = MASK if self.identity_token else ""
        return f"Credentials(username={self.username!r}, password={pw!r}, identity_token={tok!r})"

    __str__ = __repr__


def go_field(name: str, fields: tuple[str, ...]) -> str | None:
    """The struct field (its lower-case JSON name, one of ``fields``) that Go's encoding/json
    stores object key ``name`` in, if any: ``"Token"`` and ``"TOKEN"`` are ``token`` there."""
    folded = fold(name)
    return folded if folded in fields else None
