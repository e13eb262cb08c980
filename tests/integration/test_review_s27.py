"""Second-look review of session 27's library changes (wave 4).

Each test here proves a defect the review found in a change made earlier this session (it
failed before the fix beside it), or pins a neighbouring case the change could have broken.
Expected answers come from Go / containers/image / skopeo (stated in each test), never from
trustcopy's own output.
"""

from __future__ import annotations

import click
import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

# -- --command-timeout / --retry-delay: Go's time.ParseDuration, exactly ---------------------------

oracle = oracle_fixture("duration", "Go's time.ParseDuration")

_UNITS = ["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h", "", "d", "S", "sec", "mm", "hs"]
_NUMBERS = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=22),
    st.builds(lambda a, b: f"{a}.{b}", st.text(alphabet="0123456789", max_size=12),
              st.text(alphabet="0123456789", max_size=25)),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "9223372036854775809", "2562047",
                     "0" * 30 + "1", "\u0661", "\u0661\u0662", "\uff11", "1_0", " 1", "."]),
)
_DURATIONS = st.builds(
    lambda sign, parts: sign + "".join(parts),
    st.sampled_from(["", "", "+", "-", "++"]),
    st.lists(st.builds(lambda n, u: n + u, _NUMBERS, st.sampled_from(_UNITS)), min_size=0, max_size=4),
)


def _ours(text: str) -> float | None:
    from trustcopy.cli.common import parse_duration

    try:
        return parse_duration(None, None, text)  # type: ignore[arg-type]
    except click.BadParameter:
        return None


def _go_seconds(oracle: Oracle, text: str) -> float | None:
    """What skopeo's flag would hold, as our seconds: None where Go refuses the text."""
    answer = oracle.ask({"text": text})
    return None if "error" in answer else answer["ns"] / 10**9


@given(_DURATIONS)
@example("0.5ns")  # Go truncates to 0 (no timeout); was 5e-10 s, a timeout armed at 1 ms
@example("0.9999ns")
@example("1.0000000001s")  # Go: exactly 1 s
@example("2562047h47m16.8547758079s")  # Go truncates the tenth of a nanosecond: its maximum, accepted (was refused)
@example("\u0661s")  # Arabic-Indic one: Go refuses non-ASCII digits (was 1 s)
@example("\uff11h")  # fullwidth one
@example("+0")  # Go: zero (was refused)
@example("-0")
@example("-0s")
@example("9223372036854775808ns")
@example("9223372036854775807ns")
@example("1." + "9" * 30 + "h")  # leadingFraction stops accumulating, never refuses
@example("0." + "0" * 25 + "1s")
def test_parse_duration_is_go_parse_duration(oracle: Oracle, text: str) -> None:
    """Every value is read as time.ParseDuration reads it (skopeo's pflag Duration flags), except
    the documented differences of parse_duration (trustcopy/cli/common.py): a bare number is
    seconds, a negative duration is refused, blanks around it are ignored."""
    go = _go_seconds(oracle, text)
    ours = _ours(text)
    bare = text.isascii() and text.replace(".", "", 1).isdigit() and not text.startswith(".") \
        and not text.endswith(".")
    if bare:  # documented: a bare number is seconds
        go = _go_seconds(oracle, text + "s")
    if go is not None and go < 0:  # documented: refused
        go = None
    if text.strip() != text:
        go = None if not text.strip() else _ours(text.strip())
    assert ours == go, (text, ours, go)


def test_sub_nanosecond_command_timeout_is_no_timeout(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """skopeo's --command-timeout 0.5ns is Go's 0: no timeout, the command runs. trustcopy
    armed a 1 ms alarm and failed the command ("did not finish within --command-timeout")."""
    from imagefactory import example_image, write_oci

    write_oci({"v1": example_image()}, str(tmp_path / "src"))
    r = run_cli("--command-timeout", "0.5ns", "--insecure-policy", "inspect", "--raw", f"oci:{tmp_path / 'src'}:v1")
    assert r.exit_code == 0, r.stderr
    assert '"schemaVersion":2' in r.stdout


def test_command_timeout_zero_forms_and_non_ascii_digits() -> None:
    """Go reads "+0" and "-0s" as zero (was: refused) and refuses non-ASCII digits (was: "\\u0661s"
    and "\\u0661\\u0662" read as 1 s and 12 s, through Python's Unicode ``\\d``)."""
    assert _ours("+0") == 0.0 and _ours("-0s") == 0.0
    assert _ours("\u0661s") is None and _ours("\u0661\u0662") is None


# -- redact.mask_userinfo: the local-reference exemption ends at any whitespace --------------------


@pytest.mark.parametrize("space", ["\x0b", "\x0c", "\u00a0", "\u2028", "\u3000", "\x1c"])
def test_credentials_after_a_local_reference_and_any_whitespace_are_masked(space: str) -> None:
    """_USERINFO starts a match after any whitespace (``\\s``); the exemption's word start knew
    only space, tab, CR and LF, so "oci:/a<no-break space>user:token@host/x" counted as one
    local word and the token was printed (before this session's exemption it was masked)."""
    from trustcopy.redact import mask_userinfo

    masked = mask_userinfo(f"oci:/srv/a{space}user:s3cret@registry.example/img")
    assert "s3cret" not in masked
    # the exemption itself still holds: a layout and its tag with an "@"
    assert mask_userinfo(f"oci:/srv/lay:v1@beta{space}x") == f"oci:/srv/lay:v1@beta{space}x"


# -- verify --digestfile: one line per accepted image, whatever the path holds ---------------------


@pytest.mark.parametrize("odd", ["a\u2028b", "c\x85d", "e\u2029f", "g\x9bh"])
def test_digestfile_escapes_every_line_break_and_c1_control(run_cli, tmp_path, odd: str) -> None:  # type: ignore[no-untyped-def]
    """docs/commands/verify.md: "a control character in the name ... is written \\xNN so that
    each image stays one line". C1 controls (U+0080-U+009F: NEL, CSI) and the Unicode line and
    paragraph separators were written raw: str.splitlines() (and any Unicode-aware reader) saw
    two lines, the first naming no digest; a CSI reaches the terminal of whoever cats the file."""
    import json

    from imagefactory import example_image, write_dir

    image = tmp_path / odd
    write_dir(example_image(), str(image))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    digestfile = tmp_path / "verified.txt"
    r = run_cli("--policy", str(policy), "verify", "--digestfile", str(digestfile), "-o", "json", f"dir:{image}")
    assert r.exit_code == 0, r.stderr
    text = digestfile.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 1, repr(text)
    assert not any(c in text for c in "\x85\x9b\u2028\u2029"), repr(text)
    assert text.endswith(f"@{json.loads(r.stdout)['images'][0]['digest']}\n")


def test_digestfile_line_of_a_path_that_is_not_utf8(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A path of bytes that are not UTF-8 (argv decodes them as surrogate escapes): its digest
    file line could not be encoded (with_digestfile's UTF-8 write died in a UnicodeEncodeError
    traceback). The byte is written \\xNN as the control characters are. (The report printed
    for such a path has the same older problem: listed in the review report, not fixed here.)"""
    import os

    from trustcopy.copy.verify import verified_reference
    from trustcopy.digest import Digest
    from trustcopy.transports.alltransports import parse_image_name

    path = os.fsdecode(bytes(tmp_path) + b"/e\xfff")
    os.mkdir(path)
    digest = Digest.parse("sha256:" + "ab" * 32)
    line = verified_reference(parse_image_name(f"dir:{path}"), digest)
    assert line.encode("utf-8") == f"dir:{tmp_path}/e\\xfff@{digest}".encode()
