"""Review of the ``inspect --format`` template engine (trustcopy/cli/gotemplate/): bugs found by fuzzing it.

Each test failed before its fix. Expected outputs are Go 1.19's text/template and fmt (the Go that
Debian's skopeo 1.9.3 is built with), asked while hunting; the contract is "skopeo's bytes, or a
TemplateError" — never a Python traceback, never other bytes, never an out-of-memory kill.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustcopy.cli import gotemplate as g
from trustcopy.cli.gotemplate import errors, execute, funcs

DATA = {
    "Name": "reg.example/app", "Digest": "sha256:abc", "RepoTags": ["1", "2"],
    "Created": "2024-01-02T03:04:05.5Z", "DockerVersion": "", "Labels": {"b": "2", "a": "1", "é": "ü"},
    "Architecture": "amd64", "Os": "linux", "Layers": ["l1", "l2"], "Env": None,
}


def render(text: str, data: dict[str, object] | None = None) -> str:
    return g.render(text, g.inspect_value(DATA if data is None else data), "skopeo inspect")


# -- literals: Go's parser rejects an integer beyond uint64, even where it is never evaluated ---------------


@pytest.mark.parametrize(("literal", "message"), [
    ("99999999999999999999", "integer overflow"),  # a decimal integer ParseFloat can read
    ("-9223372036854775809", "integer overflow"),
    ("18446744073709551616", "integer overflow"),
    ("1_000_000_000_000_000_000_000", "integer overflow"),
    ("0x1ffffffffffffffff", "illegal number syntax"),  # hex without a 'p' exponent: not a float either
    ("0b" + "1" * 65, "illegal number syntax"),
    ("0o" + "7" * 30, "illegal number syntax"),
])
def test_integer_literals_beyond_uint64_are_parse_errors(literal: str, message: str) -> None:
    with pytest.raises(g.TemplateError, match=message):  # was: printed "" (an error only when evaluated)
        render("{{if false}}{{" + literal + "}}{{end}}")


@pytest.mark.parametrize("literal", ["9223372036854775808", "18446744073709551615", "0xffffffffffffffff"])
def test_uint64_literals_fail_only_when_evaluated(literal: str) -> None:
    assert render("{{if false}}{{" + literal + "}}{{end}}") == "\n"
    with pytest.raises(g.TemplateError, match="overflows int"):
        render("{{" + literal + "}}")


# -- nesting: a named error, never Python's RecursionError ----------------------------------------------------

DEEP = 10_000
DEEP_TEMPLATES = {
    "parentheses": "{{" + "(" * DEEP + "1" + ")" * DEEP + "}}",
    "calls": "{{" + "print (" * DEEP + "1" + ")" * DEEP + "}}",
    "if": "{{if 1}}" * DEEP + "x" + "{{end}}" * DEEP,
    "with": "{{with .}}" * DEEP + "x" + "{{end}}" * DEEP,
    "range": "{{range .Layers}}" * DEEP + "x" + "{{end}}" * DEEP,
    "else if": "{{if 0}}" + "{{else if 0}}" * DEEP + "{{end}}",
    "block": "".join(f'{{{{block "b{n}" .}}}}' for n in range(DEEP)) + "{{end}}" * DEEP,
}


@pytest.mark.parametrize("name", DEEP_TEMPLATES)
def test_deep_nesting_is_a_template_error(name: str) -> None:
    with pytest.raises(g.TemplateError, match=f"nested more than {errors.MAX_NESTING} deep"):
        render(DEEP_TEMPLATES[name])  # was: RecursionError


def test_nesting_within_the_limit_runs() -> None:
    depth = errors.MAX_NESTING - 2  # (skopeo's own {{range}} is one level)
    assert render("{{" + "(" * depth + "1" + ")" * depth + "}}") == "1\n"
    assert render("{{" + "print (" * depth + ".Os" + ")" * depth + "}}") == "linux\n"
    assert render("{{if 1}}" * depth + "x" + "{{end}}" * depth) == "x\n"


@pytest.mark.parametrize(("text", "message"), [
    ('{{block "r" .}}{{template "r" .}}{{end}}', "exceeded maximum template depth"),
    ('{{block "r" .}}' + "{{if 1}}" * 20 + '{{template "r" .}}' + "{{end}}" * 20 + "{{end}}", "nested too deeply"),
])
def test_recursive_templates_are_a_template_error(text: str, message: str) -> None:
    with pytest.raises(g.TemplateError, match=message):  # was: RecursionError
        render(text)


# -- resource bombs: bounded, named errors instead of gigabytes ------------------------------------------------


@pytest.mark.parametrize("text", [
    "{{pad .Os 9223372036854775807 0}}",  # was: MemoryError
    "{{pad .Os 0 1000000000}}",  # was: a gigabyte of spaces
    '{{printf "' + "%1000000[1]d" * 100 + '" 1}}',  # fmt bounds each width to 10^6, not their sum
])
def test_texts_beyond_the_bound_are_refused(text: str) -> None:
    with pytest.raises(g.TemplateError, match=f"limit of {errors.MAX_TEXT}"):
        render(text)


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> int:
    """The same bounds, small (the real ones need tens of megabytes to reach)."""
    monkeypatch.setattr(errors, "MAX_TEXT", 1000)
    monkeypatch.setattr(execute, "MAX_TEXT", 1000)
    monkeypatch.setattr(execute, "MAX_STEPS", 5000)
    monkeypatch.setattr(funcs, "MAX_SPLIT_PARTS", 100)
    return 1000


BIG = '{{$x := printf "%600s" "a"}}'  # 600 characters: within the (small) bound, twice of it beyond


@pytest.mark.parametrize("text", [
    BIG + "{{print $x $x}}", BIG + "{{println $x $x}}", BIG + "{{printf \"%s%s\" $x $x}}",
    BIG + '{{join (split "a,b,c" ",") $x | len}}', BIG + "{{$x}}{{$x}}",
    "{{range .Layers}}{{printf \"%600d\" 1}}{{end}}", '{{html "' + "<" * 300 + '"}}', '{{js "' + "=" * 200 + '"}}',
    '{{urlquery "' + "/" * 400 + '"}}', '{{urlquery "' + "é" * 200 + '"}}', '{{split (printf "%200s" "") ""}}',
    '{{split (printf "%200s" "") " "}}', '{{.Created.Format "' + "January" * 150 + '"}}', '{{pad .Os 500 500}}',
])
def test_small_bounds_hold_for_every_way_of_growing_a_text(small_bounds: int, text: str) -> None:
    with pytest.raises(g.TemplateError, match="limit"):
        render(text)


@pytest.mark.parametrize(("text", "length"), [
    ('{{html (printf "%900s" "a")}}', 900), ('{{js (printf "%900s" "a")}}', 900),
    ('{{urlquery (printf "%900s" "a")}}', 900), ('{{split (printf "%90s" "") ""}}', 90 * 2 + 1),
    ('{{pad .Os 400 400}}', 805),
])
def test_small_bounds_refuse_only_what_exceeds_them(small_bounds: int, text: str, length: int) -> None:
    """The escapes are counted, not assumed at their worst: a plain text near the bound passes."""
    assert len(render(text)) == length + 1


def test_nested_ranges_stop_at_the_step_bound(small_bounds: int) -> None:
    text = "{{$l := .Layers}}" + "{{range $l}}" * 20 + "{{end}}" * 20  # 2^20 iterations: Go would take a while
    with pytest.raises(g.TemplateError, match="actions and range iterations"):
        render(text)


def test_a_long_time_layout_takes_linear_time() -> None:
    start = time.monotonic()
    out = render('{{.Created.Format (printf "%2000000s" "Jan")}}')  # was: quadratic, half a minute
    assert len(out) == 2_000_001 and out.endswith("Jan\n")
    assert time.monotonic() - start < 5


# -- outputs that differed from Go's ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # fmtUnicode: the precision sets the number of hex digits (was: always 4)
    ('{{printf "%.6U|%#.6U|%.2U|%08.5U|%-9.5U|" 1 65 1 66 67}}', "U+000001|U+000041 'A'|U+0001| U+00042|U+00043  |"),
    # fmtComplex: every float verb, each part a float, the imaginary one signed (was: %!f(complex128=…) or refused)
    ('{{printf "%f|%e|%.2f|%8.1f|%#v|%G|%+.1e|%v" -1.5i 0i 3i 2i 2i 1e-7i 2.5i 1e21i}}',
     "(0.000000-1.500000i)|(0.000000e+00+0.000000e+00i)|(0.00+3.00i)|(     0.0    +2.0i)|(0+2i)|(0+1E-07i)|"
     "(+0.0e+00+2.5e+00i)|(0+1e+21i)"),
    # JSEscape keeps a byte that is not UTF-8 (Go decodes U+FFFD, printable); QueryEscape escapes it (was: a crash)
    ('{{js "a\\xffb<é\\u00a0"}}|{{urlquery "\\xff é/"}}', "a\udcffb\\u003Cé\\u00A0|%FF+%C3%A9%2F"),
    # eq: a missing map key is equal to a nil slice, map or pointer (Go's isNil on both sides)
    ("{{eq .Env .Labels.missing}} {{eq .Labels.missing .Layers}} {{ne .Labels.missing .Env}} "
     "{{eq . .Labels.missing}} {{eq .Labels.missing .Labels.other}} {{eq .Created .Labels.missing}}",
     "true false false false true false"),
])
def test_outputs_as_go_prints_them(text: str, expected: str) -> None:
    assert render(text) == expected + "\n"


# -- the command line: one error line and exit 1, never a traceback ---------------------------------------------


@pytest.fixture(scope="module")
def oci_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    from imagefactory import example_image, write_oci

    path = tmp_path_factory.mktemp("gotemplate-review") / "oci"
    write_oci({"t": example_image()}, str(path))
    return f"oci:{path}:t"


def _inspect(ref: str, template: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    return subprocess.run([os.fsencode(sys.executable), b"-m", b"trustcopy", b"inspect", b"--format", template,
                           os.fsencode(ref)], capture_output=True, timeout=60, check=False, env=env)


@pytest.mark.parametrize("template", [
    b"{{" + b"(" * DEEP + b".Os" + b")" * DEEP + b"}}",
    b"{{pad .Os 9223372036854775807 0}}",
    b'{{block "r" .}}{{template "r" .}}{{end}}',
])
def test_cli_refuses_with_one_error_line(oci_image: str, template: bytes) -> None:
    done = _inspect(oci_image, template)
    lines = done.stderr.decode(errors="replace").splitlines()
    assert (done.returncode, done.stdout, len(lines)) == (1, b"", 1), done.stderr[-2000:]
    assert lines[0].startswith("error[template-invalid]: ") and "Traceback" not in lines[0]


def test_cli_prints_raw_bytes_of_the_command_line(oci_image: str) -> None:
    done = _inspect(oci_image, b'\xfe{{urlquery "\xff"}}|{{js "\xff"}}|{{.Os}}')  # invalid UTF-8 in argv
    assert (done.returncode, done.stdout, done.stderr) == (0, b"\xfe%FF|\xff|linux\n", b"")


# -- fuzz: arbitrary and near-valid templates raise TemplateError or nothing ---------------------------------------

ATOMS = ["{{", "}}", "{{- ", " -}}", " ", ".", "$", "$x", ":=", "=", "|", "(", ")", ",", "'", '"', "`", "\\", "0x",
         "1e", "1", "-", "i", "p", "_", ".Os", ".Labels", ".Env", ".Layers", ".Created", ".Digest", "range", "if",
         "with", "else", "end", "break", "continue", "block", "template", "nil", "true", "len", "index", "slice",
         "printf", "print", "println", "eq", "lt", "and", "or", "not", "html", "js", "urlquery", "json", "join",
         "split", "truncate", "pad", "title", '"%v"', '"%*d"', '"%[2]d"', '"%.3x"', '"%#v"', '"%+q"', '"%.9U"', '"%c"',
         '"\\xff"', '"\\u00e9"', "'\\x80'", "9999999999999999999", "99999999999999999999", "-9223372036854775808",
         "1e308", "1e999", "0x1p-1074", "2i", "'a'", "/*", "*/", "\\n", "é", "\x00", "\udcff", "\u2028"]


@given(st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(ATOMS), max_size=25).map("".join),
    st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=3)), max_size=25).map(
        lambda parts: "{{$x := 1}}{{" + " ".join(parts) + "}}"),
))
def test_fuzzed_templates_fail_only_by_name(text: str) -> None:
    try:
        out = render(text)
    except g.TemplateError as exc:
        assert str(exc).startswith("template: skopeo inspect: ")
    else:
        assert isinstance(out, str)
