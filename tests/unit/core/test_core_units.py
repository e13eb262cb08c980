"""Small core modules: digests, the verifying reader, Go JSON, redaction, limits, public API."""

from __future__ import annotations

import io

import pytest

from trustcopy.digest import Digest, DigestingReader, is_valid_digest
from trustcopy.errors import DigestMismatchError, LimitExceededError

E3B = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (f"sha256:{E3B}", True),
        ("sha512:" + "a" * 128, True),
        ("sha384:" + "0" * 96, True),
        (f"sha256:{E3B.upper()}", False),
        (f"sha256:{E3B[:-1]}", False),
        (f"sha256:{E3B}0", False),
        (f"md5:{E3B}", False),
        (E3B, False),
        (f"SHA256:{E3B}", False),
        (f"sha256:{E3B[:-1]}g", False),
        ("sha256:", False),
        ("", False),
        (f"sha256:../../{E3B[6:]}", False),
    ],
    ids=lambda v: str(v)[:24],
)
def test_digest_parsing(text: str, ok: bool) -> None:
    assert is_valid_digest(text) is ok
    if ok:
        assert str(Digest.parse(text)) == text


def test_digest_of_empty() -> None:
    assert str(Digest.from_bytes(b"")) == f"sha256:{E3B}"


def test_reader_accepts_matching_bytes() -> None:
    data = b"x" * 100_000
    r = DigestingReader(io.BytesIO(data), Digest.from_bytes(data), expected_size=len(data))
    out = b"".join(iter(lambda: r.read(4096), b""))
    assert out == data and r.bytes_read == len(data)


def test_reader_raises_at_eof_on_flipped_byte() -> None:
    data = bytearray(b"y" * 10_000)
    expected = Digest.from_bytes(bytes(data))
    data[5000] ^= 1
    r = DigestingReader(io.BytesIO(bytes(data)), expected, what="blob X")
    with pytest.raises(DigestMismatchError, match="blob X: digest mismatch"):
        while r.read(1000):
            pass


def test_reader_refuses_extra_bytes_before_hashing_them_all() -> None:
    r = DigestingReader(io.BytesIO(b"abcdef"), Digest.from_bytes(b"abc"), expected_size=3)
    with pytest.raises(DigestMismatchError, match="size"):
        r.read(6)


def test_go_marshal_escapes_like_go() -> None:
    from trustcopy.gojson import go_marshal

    assert go_marshal({"a": "<&>\b\f\u2028é", "b": [1, None]}) == (
        b'{"a":"\\u003c\\u0026\\u003e\\u0008\\u000c\\u2028\xc3\xa9","b":[1,null]}'
    )
    assert go_marshal({"k": "back\\bslash"}) == b'{"k":"back\\\\bslash"}'


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "expected"), [
    ('"docker://alice:hunter2@reg.example:5000/app"', '"docker://***@reg.example:5000/app"'),
    ('invalid reference "alice:hunter2@reg/app"', 'invalid reference "***@reg/app"'),
    ("https://bob:tok-3n@host/x", "https://***@host/x"),
    ("--creds=alice:pw@reg", "--creds=***@reg"),
    # Valid references with a digest are not credentials:
    (f'"busybox:latest@{DIGEST}"', f'"busybox:latest@{DIGEST}"'),
    (f'"reg:5000/app@{DIGEST}"', f'"reg:5000/app@{DIGEST}"'),
    (f'"reg.example/app:1.0@{DIGEST}"', f'"reg.example/app:1.0@{DIGEST}"'),
    # Nor a user without a password, an IPv6 zone, or a plain tag:
    ('"docker://alice@reg/app"', '"docker://alice@reg/app"'),
    ('"[fe80::1%@zone]:5000/repo"', '"[fe80::1%@zone]:5000/repo"'),
    ('"oci:/srv/layout:1.0"', '"oci:/srv/layout:1.0"'),
    # Nor a source index, or a mistyped one: no host follows the "@".
    ('invalid image name "oci:lay:@"', 'invalid image name "oci:lay:@"'),
    ("invalid oci: reference 'lay:@-1': source index", "invalid oci: reference 'lay:@-1': source index"),
    ('"docker-archive:/a.tar:@12"', '"docker-archive:/a.tar:@12"'),
    ("docker-archive:/a.tar:@3: invalid source index @3", "docker-archive:/a.tar:@3: invalid source index @3"),
    ("alice:pw@5000:5000/app: refused", "***@5000:5000/app: refused"),
    # ... but a number with more after it may be a host: masked.
    ('"https://alice:pw@10.0.0.1/app"', '"https://***@10.0.0.1/app"'),
])
def test_mask_userinfo(text: str, expected: str) -> None:
    from trustcopy.redact import mask_userinfo

    assert mask_userinfo(text) == expected


def test_invalid_reference_errors_never_quote_a_password() -> None:
    from trustcopy.errors import InvalidReferenceError
    from trustcopy.transports.alltransports import parse_image_name

    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name("docker://alice:hunter2@reg.example:5000/app:1")
    assert "hunter2" not in str(info.value) and "***@reg.example:5000/app" in str(info.value)


def test_no_error_quotes_a_password_in_its_message_or_hint() -> None:
    """Every error (usage, transport, policy …): a pasted ``user:token@`` never reaches the terminal."""
    from trustcopy.errors import PolicyError, TransportError, UsageError

    for cls in (UsageError, TransportError, PolicyError):
        err = cls("SOURCE 'docker://alice:hunter2@x/y' is wrong", hint="write 'alice:hunter2@x/y'")
        assert "hunter2" not in err.diagnostics() and "***@x/y" in err.message and "***@x/y" in (err.hint or "")
        assert "hunter2" not in err.rewrapped("again: docker://alice:hunter2@x/y").message


def test_sync_refusing_a_transport_prefix_does_not_quote_the_password(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("sync", "--src", "docker", "--dest", "dir", "docker://alice:hunter2@x/y", "/nonexistent/out")
    assert r.exit_code == 2
    assert "hunter2" not in r.stderr and "***@x/y" in r.stderr


def test_click_usage_errors_do_not_quote_the_password(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("copy", "a", "b", "docker://alice:hunter2@x/y")
    assert r.exit_code == 2
    assert "hunter2" not in r.stderr and "Got unexpected extra argument (docker://***@x/y)" in r.stderr


def test_redact_url_removes_userinfo_and_tokens() -> None:
    from trustcopy.redact import redact_text, redact_url

    out = redact_url("https://user:hunter2@reg.example/v2/?token=abc&n=1")
    assert "hunter2" not in out and "abc" not in out and "n=1" in out
    assert "s3cr3t" not in redact_text("Authorization: Bearer s3cr3t")


@pytest.mark.parametrize("url", [
    # the signed redirects registries send blob downloads to
    "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab/ab/data?verify=1700000000-S3CRET",
    "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:ab?se=2026&sig=S3CRET&sp=r&sv=2019",
    "https://bucket.s3.amazonaws.com/x?X-Amz-Credential=S3CRET&X-Amz-Signature=S3CRET&X-Amz-Expires=60",
    "https://storage.googleapis.com/b/x?X-Goog-Signature=S3CRET&X-Goog-Credential=S3CRET",
    "https://d1.cloudfront.net/x?Policy=S3CRET&Signature=S3CRET&Key-Pair-Id=S3CRET",
    "https://cdn.example.com/x?hdnts=S3CRET",
])
def test_signed_blob_store_urls_are_masked(url: str) -> None:
    from trustcopy.redact import redact_url

    out = redact_url(url)
    assert "S3CRET" not in out and out.partition("?")[0] == url.partition("?")[0]


@pytest.mark.parametrize("text", [
    "connection refused", "Authorization: Bearer s3cr3t", "BASIC dXNlcjpwdw==", "bAsIc  x", "basically fine",
    "B\u0130SIC x", "bearer", "Bearer \u017f3cret", "ba\u017fic abc", "\u212aey: basic abc", "caf\xe9 Bearer t0k",
    "line\nbreak\x1b[31m red", "tab\tand \u2028 sep", "\u202eevil", "nbsp\xa0here", "\x85next", "",
])
def test_clean_and_redact_skip_their_patterns_only_where_the_patterns_cannot_match(text: str) -> None:
    """clean_text and redact_text avoid compiling their patterns for ordinary text (issue 14);
    the result is what the patterns alone give, ASCII or not."""
    import re

    from trustcopy.redact import MASK, redact_text
    from trustcopy.transports.docker.errors import _CONTROL, clean_text

    by_pattern = re.sub(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", lambda m: f"{m.group(1)} {MASK}", text)
    assert redact_text(text) == by_pattern
    assert clean_text(text) == redact_text(re.sub(_CONTROL, " ", text).strip())


def test_every_character_the_control_pattern_matches_is_unprintable() -> None:
    """Why clean_text may skip _CONTROL for ``str.isprintable()`` text: over all of Unicode."""
    import re

    from trustcopy.transports.docker.errors import _CONTROL

    control = re.compile(_CONTROL)
    assert [hex(c) for c in range(0x110000) if chr(c).isprintable() and control.match(chr(c))] == []


def test_read_at_most_refuses_oversized_input() -> None:
    from trustcopy.limits import read_at_most

    assert read_at_most(io.BytesIO(b"12345"), 5, "five") == b"12345"
    with pytest.raises(LimitExceededError, match="six"):
        read_at_most(io.BytesIO(b"123456"), 5, "six")


def test_public_api_is_curated_and_importable() -> None:
    import trustcopy

    for name in trustcopy.__all__:
        assert getattr(trustcopy, name) is not None, name
    assert "copy_image" in trustcopy.__all__ and "load_policy" in trustcopy.__all__
    with pytest.raises(AttributeError):
        trustcopy.not_a_thing  # noqa: B018


@pytest.mark.parametrize(("text", "expected"), [
    # A local transport's reference is a path and a tag: shown whole, so the error names the path.
    ("oci:/srv/lay:v1@beta: no image named 'v1@beta'", "oci:/srv/lay:v1@beta: no image named 'v1@beta'"),
    ('invalid reference "oci:src:a@b"', 'invalid reference "oci:src:a@b"'),
    ("docker-archive:/x.tar:@1a: invalid source index", "docker-archive:/x.tar:@1a: invalid source index"),
    ("dir:/tmp/u:p@h", "dir:/tmp/u:p@h"),
    # ... each word for itself: credentials beside it are still masked,
    ("copy oci:/a:b@c to docker://u:pw@reg/x", "copy oci:/a:b@c to docker://***@reg/x"),
    # and a URL typed after a local transport's name is a URL.
    ("oci:https://alice:hunter2@reg/x", "oci:https://***@reg/x"),
])
def test_mask_userinfo_leaves_local_references_whole(text: str, expected: str) -> None:
    from trustcopy.redact import mask_userinfo

    assert mask_userinfo(text) == expected
