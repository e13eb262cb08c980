"""trustcopy's ``inspect --format`` engine against Go's own text/template, on generated templates.

tests/integration/test_gotemplate_skopeo_differential.py runs the real skopeo, one process a
template (so few of them); here the Go oracle (tests/goracle/gotemplate) runs Go's text/template
in-process over the same Go values skopeo formats (its inspect ``Output``, the OCI ``v1.Image`` for
``--config``), wrapped as containers/common's ``report`` package wraps a user's format, with
report's functions restated. hypothesis builds templates from the grammar's pieces: fields,
variables, every literal form, pipelines, parentheses, if/with/range/else chains, break/continue,
comparisons of mixed kinds, printf with every verb, flag, width, precision and argument index,
time methods and Format layouts, non-ASCII text and escapes, and near misses of all of these. For
each, ``render`` and Go must both succeed with the same bytes, or both fail in the same phase
(parsing or executing).

Known differences, each a refusal or bound the package docstring of trustcopy/cli/gotemplate
documents (``_documented_refusal``): ``table`` formats, ``{{define}}``, the ``time.Time`` methods
gotime.py does not restate, ``%p``, and the bounds of errors.py (texts over 64 Mi characters,
nesting over 100, template calls over 100 deep).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from goracle import Oracle, oracle_fixture
from hypothesis import example, given
from hypothesis import strategies as st

from trustcopy.cli.gotemplate import TemplateError, config_value, inspect_value, is_json_format, render

pytestmark = pytest.mark.goracle

oracle = oracle_fixture("gotemplate", "Go's text/template with containers/common's report wrapping")

# -- the data (JSON as skopeo prints it, and an OCI config) ----------------------------------------

_LAYERS = [
    {"MIMEType": "application/vnd.oci.image.layer.v1.tar+gzip", "Digest": "sha256:" + "a1" * 32, "Size": 1234,
     "Annotations": {"k": "v", "é": "<&>"}},
    {"MIMEType": "", "Digest": "sha512:" + "0f" * 64, "Size": -1, "Annotations": None},
]
INSPECT: dict[str, dict[str, Any]] = {
    "full": {"Name": "localhost:5000/app", "Tag": "1", "Digest": "sha256:" + "5e" * 32, "RepoTags": ["1", "latest"],
             "Created": "2023-03-05T14:07:09.0123456Z", "DockerVersion": "20.10.7",
             "Labels": {"z": "1", "a": "<x>&", "k": "v w", "e": "é\u2028", "": "empty"},
             "Architecture": "amd64", "Os": "linux", "Layers": ["sha256:" + "a1" * 32, "sha512:" + "0f" * 64],
             "LayersData": _LAYERS, "Env": ["A=1", "B=two words", "C="]},
    "offset": {"Digest": "sha256:" + "00" * 32, "Created": "2021-12-31T23:59:59.999999999+05:30",
               "Labels": {}, "RepoTags": [], "Os": "ÿindows", "Architecture": "arm64"},
    "empty": {"Digest": "", "Created": "0001-01-01T00:00:00Z"},
    "nil": {"Digest": "sha256:" + "ab" * 32},
    "west": {"Digest": "sha256:" + "cd" * 32, "Created": "1999-07-04T01:02:03.1-08:00", "Env": [],
             "Labels": {"a": "1"}},
}
CONFIG: dict[str, dict[str, Any]] = {
    "full": {"created": "2024-02-29T12:00:00Z", "author": "me <m@x>", "architecture": "amd64", "os": "linux",
             "variant": "v8", "os.features": ["f1"],
             "config": {"User": "1000:1000", "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}, "Env": ["PATH=/bin"],
                        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Volumes": {"/data": {}},
                        "WorkingDir": "/w", "Labels": {"a": "1", "b": "ü"}, "StopSignal": "SIGTERM",
                        "ArgsEscaped": True},
             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "12" * 32]},
             "history": [{"created": "2024-02-29T11:00:00.5+01:00", "created_by": "RUN x", "empty_layer": True},
                         {"comment": "c", "author": "a"}]},
    "bare": {"architecture": "", "os": "", "rootfs": {"type": "", "diff_ids": None}},
}

# -- template pieces -------------------------------------------------------------------------------

INSPECT_FIELDS = [
    ".", ".Name", ".Tag", ".Digest", ".RepoTags", ".Created", ".DockerVersion", ".Labels", ".Architecture", ".Os",
    ".Layers", ".LayersData", ".Env", ".Labels.a", ".Labels.e", ".Labels.missing", ".Labels.missing.x",
    ".Digest.Algorithm", ".Digest.Encoded", ".Digest.Hex", ".Digest.Validate", ".Digest.String", ".Nope",
    ".Os.x", "$.Os", ".Created.Year", ".Created.Unix", ".Created.Month", ".Created.Weekday", ".Created.Nanosecond",
    ".Created.UTC", ".Created.Local", ".Created.IsZero", ".Created.String", ".Created.YearDay",
]
CONFIG_FIELDS = [
    ".", ".Created", ".Author", ".Architecture", ".Variant", ".OS", ".OSVersion", ".OSFeatures", ".Config",
    ".Config.User", ".Config.ExposedPorts", ".Config.Env", ".Config.Entrypoint", ".Config.Cmd", ".Config.Volumes",
    ".Config.WorkingDir", ".Config.Labels", ".Config.Labels.b", ".Config.StopSignal", ".Config.ArgsEscaped",
    ".RootFS", ".RootFS.Type", ".RootFS.DiffIDs", ".History", ".Os", ".Config.Nope", ".Created.Day",
]
TIME_METHODS = ["String", "Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond", "YearDay", "Weekday",
                "Unix", "UnixMilli", "UnixMicro", "UnixNano", "UTC", "Local", "IsZero", "GoString"]
LAYOUT_CHUNKS = ["2006", "06", "01", "1", "Jan", "January", "02", "2", "_2", "002", "__2", "15", "3", "03", "04",
                 "4", "05", "5", "PM", "pm", "MST", "Z0700", "Z07:00", "Z07", "Z070000", "Z07:00:00", "-0700",
                 "-07:00", "-07", "-070000", "-07:00:00", ".000", ".999999999", ",000", ".0", ".9", ",9", "Mon",
                 "Monday", "T", " ", "-", ":", "x", "é", "Janu", "Mo", "2006-01-02T15:04:05Z07:00", "06x", ".", "0"]
FUNCS = ["and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery",
         "eq", "ne", "lt", "le", "gt", "ge", "json", "join", "lower", "upper", "title", "split", "truncate", "pad",
         "call", "nope"]
TEXTS = ["x", " ", "é", "<&>", "\\n", "\\t", "\n", "a\\tb", "\u2028", "日本", "\\", "{", "}", "$", "%", "\\x"]

ints = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["0x1F", "0X1f", "017", "0o17", "0O7", "0b101", "0B1", "1_000", "0x_1", "-0x10", "+4", "-0",
                     "00", "09", "1__0", "_1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                     "18446744073709551615", "1e3", "1E2", "0x10p0", "1.0", "-1.5", "2.5e-3", ".5", "5.", "3.0",
                     "1e100", "2i", "0i", "1.5i", "0x1p4", "1_0.5", "0.1e1", "1e", "0x", "1a", "0b2", "0o8",
                     "123456.0", "1234567.0", "0.0001", "0.00001", "1e21", "1e20", "1٣", "٣", "1²", ".٣"]))
chars = st.sampled_from(["'a'", "'\\n'", "'\\x41'", "'\\u00e9'", "'é'", "'\\''", "'\\\\'", "''", "'ab'",
                         "'\\U0001F600'", "'\\377'", "'\\400'", "'\\q'", "'\\ud800'", "'日'"])
strings = st.one_of(
    st.text(alphabet="ab %-é\\\"\tn{}", max_size=6).map(lambda s: '"' + s + '"'),
    st.sampled_from(['"a\\"b"', '"\\x41\\u00e9"', '"\\xff"', '"\\a\\b\\f\\v\\r"', '"\\q"', '"\\400"', '"\\U0010FFFF"',
                     '"\\U00110000"', '"\\ud800"', "`raw \\n`", "``", "`a\nb`", '"unterminated', "`x", '"%"',
                     '"linux"', '"amd64"', '"a"', '"1"', '""', '" "', '"<x>&"', '"é\u2028"']),
)
literals = st.one_of(ints, chars, strings, st.sampled_from(["true", "false", "nil"]))

#: printf format strings: verbs with flags, widths, precisions, argument indexes (and broken ones).
printf_formats = st.lists(
    st.one_of(
        st.builds(lambda flags, width, prec, index, verb: "%" + flags + width + prec + index + verb,
                  st.text(alphabet="+-# 0", max_size=3),
                  st.sampled_from(["", "", "5", "1", "12", "*", "[1]*", "[3]*", "0"]),
                  st.sampled_from(["", "", ".2", ".", ".0", ".*", ".[2]*", ".10"]),
                  st.sampled_from(["", "", "", "[1]", "[2]", "[0]", "[9]", "[x]", "["]),
                  st.sampled_from([*"vdsqxXofFeEgGtTcUbOp%", "", "z", "é", "!"])),
        st.sampled_from(["a", " ", "|", "é", "%%", "%!", "%v%v", "%[1]d%[1]q"]),
    ),
    max_size=4,
).map(lambda parts: '"' + "".join(parts).replace('"', '\\"') + '"')


@st.composite
def operands(draw: st.DrawFn, fields: list[str], depth: int) -> str:
    """One operand: a field chain, variable, literal, or a parenthesized pipeline (with a field after)."""
    choice = draw(st.integers(0, 9 if depth > 0 else 6))
    if choice <= 2:
        return draw(st.sampled_from(fields))
    if choice == 3:
        return draw(st.sampled_from(["$", "$x", "$i", "$e", "$x.Os", "$.Os", "$e.Size", "$undefined"]))
    if choice <= 6:
        return draw(literals)
    inner = draw(pipelines(fields, depth - 1))
    tail = draw(st.sampled_from(["", "", "", ".Os", ".Year", ".Size", ".a", ".x"]))
    return f"({inner}){tail}"


@st.composite
def commands(draw: st.DrawFn, fields: list[str], depth: int) -> str:
    """A command: an operand, or a function (or method) with arguments."""
    choice = draw(st.integers(0, 5))
    if choice <= 1:
        return draw(operands(fields, depth))
    if choice == 2:
        args = draw(st.lists(operands(fields, depth), max_size=3))
        return " ".join(["printf", draw(printf_formats), *args])
    if choice == 3:
        method = draw(st.sampled_from(["Format", "Format", *TIME_METHODS, "Zone", "Add"]))
        layout = "".join(draw(st.lists(st.sampled_from(LAYOUT_CHUNKS), max_size=4)))
        receiver = draw(st.sampled_from([".Created", "$.Created", "(.Created.UTC)", ".Created.Local"]))
        if fields is CONFIG_FIELDS:
            receiver = receiver.replace("$.Created", "(index .History 0).Created")
        arg = f' "{layout}"' if method == "Format" else ""
        return f"{receiver}.{method}{arg}"
    name = draw(st.sampled_from(FUNCS))
    args = draw(st.lists(operands(fields, depth), max_size=3))
    return " ".join([name, *args])


@st.composite
def pipelines(draw: st.DrawFn, fields: list[str], depth: int) -> str:
    """Commands joined by ``|``, sometimes declaring or assigning a variable."""
    cmds = draw(st.lists(commands(fields, depth), min_size=1, max_size=3))
    decl = draw(st.sampled_from(["", "", "", "", "$x := ", "$x = ", "$y := ", "$i, $e := "]))
    return decl + " | ".join(cmds)


@st.composite
def items(draw: st.DrawFn, fields: list[str], depth: int, in_range: bool) -> str:
    """Template text: text, actions, control structures, comments, trim markers, near misses."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.integers(0, 12 if depth > 0 else 5))
        left = draw(st.sampled_from(["{{", "{{", "{{", "{{- ", "{{-", "{{ "]))
        right = draw(st.sampled_from(["}}", "}}", "}}", " -}}", "-}}", " }}"]))
        if choice <= 1:
            out.append(draw(st.sampled_from(TEXTS)))
        elif choice <= 4:
            out.append(left + draw(pipelines(fields, min(depth, 2))) + right)
        elif choice == 5:
            out.append(draw(st.sampled_from([
                "{{/* c */}}", "{{- /* c */ -}}", "{{/* c */ .Os}}", "{{/* x", "{{", "}}", "{{end}}", "{{else}}",
                "{{break}}", "{{continue}}", "{{)}}", "{{(}}", "{{|}}", "{{.Os|}}", "{{$x := 1}}", "{{$x = 2}}",
                "{{.Os²}}", "{{.Labels.é}}", "{{.O٣}}", "{{define \"t\"}}x{{end}}", '{{template "t"}}',
                '{{block "b" .}}[{{.}}]{{end}}', "{{.Os.}}", "{{..Os}}", "{{.Os .Os}}", "{{`x`.y}}"])))
        elif choice <= 7:
            keyword = draw(st.sampled_from(["if", "with"]))
            body = draw(items(fields, depth - 1, in_range))
            text = f"{left}{keyword} {draw(pipelines(fields, 1))}{right}{body}"
            for _ in range(draw(st.integers(0, 2))):
                text += f"{{{{else {keyword} {draw(pipelines(fields, 1))}}}}}"
                text += draw(items(fields, depth - 1, in_range))
            if draw(st.booleans()):
                text += "{{else}}" + draw(items(fields, depth - 1, in_range))
            out.append(text + "{{end}}")
        elif choice <= 10:
            target = draw(st.sampled_from([*fields, "$x", "split .Os \"\"", "$"]))
            decl = draw(st.sampled_from(["", "", "$e := ", "$i, $e := ", "$i, $e = ", "$x, $e := ", "$i, := "]))
            body = draw(items(fields, depth - 1, True))
            if draw(st.booleans()):
                body += draw(st.sampled_from(["{{break}}", "{{continue}}", "{{if $i}}{{break}}{{end}}",
                                              "{{if eq $i 0}}{{continue}}{{end}}"]))
            orelse = "{{else}}" + draw(items(fields, depth - 1, in_range)) if draw(st.booleans()) else ""
            out.append(f"{left}range {decl}{target}{right}{body}{orelse}{{{{end}}}}")
        elif choice == 11:
            a, b = draw(operands(fields, 1)), draw(operands(fields, 1))
            op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
            extra = draw(st.sampled_from(["", "", f" {draw(literals)}"]))
            out.append(f"{{{{{op} {a} {b}{extra}}}}}")
        else:
            out.append(draw(st.sampled_from(["{{break}}", "{{continue}}"])) if in_range else "{{.Os}}")
    return "".join(out)


def templates(fields: list[str]) -> st.SearchStrategy[str]:
    prefix = st.sampled_from(["", "", "", "{{$x := .}}", "{{$x := 1}}", '{{$x := "s"}}', "{{range .}}",
                              "table ", "json", " {{json}} ", "{{ json . }}", "json\u2028", "json\v", "json\n\n",
                              "{{json.}}\r\n"])
    return st.builds(lambda p, body: p + body, prefix, items(fields, 2, False))


# -- the comparison --------------------------------------------------------------------------------

#: trustcopy's documented refusals (package docstring of trustcopy/cli/gotemplate): a template Go
#: runs may fail in trustcopy with one of these, and only these.
_DOCUMENTED_REFUSALS = (
    "table formats are not supported",  # report.py: ``table`` formats
    "{{define}} is not supported in --format",  # parse.py
    "is not supported by trustcopy",  # unrestated time.Time (gotime.py), digest.Digest methods (funcs.py); %p
    "trustcopy's limit",  # errors.py's bounds: MAX_TEXT, MAX_STEPS, MAX_TEMPLATE_DEPTH, MAX_SPLIT_PARTS
    "nested too deeply for trustcopy",  # report.py: Python's stack
    "more than 100 deep",  # errors.py: MAX_NESTING
)


def _documented_refusal(message: str) -> bool:
    return any(text in message for text in _DOCUMENTED_REFUSALS)


def _compare(oracle: Oracle, template: str, kind: str, data: dict[str, Any]) -> None:
    go = oracle.ask({"template": template, "kind": kind, "data": data})
    assert go.get("phase") not in ("data", "request"), go
    if go.get("json"):
        assert is_json_format(template), f"{template!r}: skopeo prints JSON, trustcopy would run a template"
        return
    assert not is_json_format(template), f"{template!r}: trustcopy prints JSON, skopeo runs a template"
    value = inspect_value(data) if kind == "inspect" else config_value(data)
    try:
        ours = render(template, value, "skopeo inspect").encode("utf-8", "surrogateescape")
    except TemplateError as exc:
        if _documented_refusal(exc.message):
            return
        assert "error" in go, (f"{template!r} ({kind}): Go prints {base64.b64decode(go['output'])!r}, "
                               f"trustcopy fails: {exc.message}")
        assert ('executing "' in exc.message) == (go["phase"] == "exec"), \
            f"{template!r} ({kind}): Go fails {go['phase']}: {go['error']!r}; trustcopy: {exc.message!r}"
        return
    assert "error" not in go, f"{template!r} ({kind}): Go fails: {go['error']!r}; trustcopy prints {ours!r}"
    theirs = base64.b64decode(go.get("output", ""))
    if ours != theirs and "json" in template:
        # Known difference (NOTE(go-diff) in trustcopy/cli/gotemplate/fmt.py go_json): \b and \f as the
        # newest skopeo's Go writes them; Go 1.19 wrote \u0008 and \u000c.
        theirs = theirs.replace(b"\\u0008", b"\\b").replace(b"\\u000c", b"\\f")
    assert ours == theirs, f"{template!r} ({kind})"


@given(template=templates(INSPECT_FIELDS), which=st.sampled_from(sorted(INSPECT)))
@example(template="{{.Os}}", which="full")
# found: a digest.Digest passed where Go wants a string (Go refuses it: a named type)
@example(template="{{upper .Digest}}", which="full")
@example(template='{{printf "" .Digest.Algorithm}}', which="full")  # found: %T of digest.Algorithm
@example(template="{{.Digest.Algorithm.String}}", which="full")
@example(template="{{.Digest.Encoded}}", which="empty")  # found: go-digest panics without a ':'
@example(template='{{printf "" .Digest.Validate}}', which="empty")  # documented refusal
@example(template="{{if false}}{{$x = 2}}{{end}}ok", which="full")  # found: refused at parse time
@example(template="{{$x = 2}}{{$x}}", which="full")
@example(template="json\u2028", which="full")  # found: Python's \s (U+2028, \v) taken for Go's in IsJSON
@example(template="json\v", which="full")
@example(template="{{if false}}{{call}}{{end}}ok", which="full")  # found: Go's builtin call was "not defined"
@example(template="{{call .Os 1}}", which="full")
@example(template="{{.Os²}}", which="full")  # found: "²" is no digit to Go's lexer (unicode.IsDigit is Nd)
@example(template="{{.O٣}}", which="full")
@example(template="{{1٣}}", which="full")
def test_inspect_templates_agree_with_go(oracle: Oracle, template: str, which: str) -> None:
    _compare(oracle, template, "inspect", INSPECT[which])


@given(template=templates(CONFIG_FIELDS), which=st.sampled_from(sorted(CONFIG)))
@example(template="{{.Config.Env}}", which="full")
@example(template="{{range .Created}}x{{end}}", which="bare")  # found: a nil *time.Time ranged as empty
@example(template="{{.}}", which="full")  # found: map[string]struct{} values printed map[], not {}
@example(template="{{ json . }}x", which="bare")  # found: Go field names instead of v1.Image's JSON tags, no omitempty
@example(template="{{json .History}}", which="full")
@example(template='{{join .RootFS.DiffIDs ","}}', which="full")  # found: DiffIDs are []digest.Digest
@example(template="{{range .RootFS.DiffIDs}}{{.Algorithm}}{{end}}", which="full")
@example(template='{{printf "%T %T %#v" .RootFS.DiffIDs .History .RootFS}}', which="bare")
def test_config_templates_agree_with_go(oracle: Oracle, template: str, which: str) -> None:
    _compare(oracle, template, "config", CONFIG[which])


@given(fmt=printf_formats, args=st.lists(st.one_of(literals, st.sampled_from(INSPECT_FIELDS)), max_size=4),
       which=st.sampled_from(sorted(INSPECT)))
def test_printf_agrees_with_go(oracle: Oracle, fmt: str, args: list[str], which: str) -> None:
    _compare(oracle, "{{printf " + " ".join([fmt, *args]) + "}}", "inspect", INSPECT[which])


@given(layout=st.lists(st.sampled_from(LAYOUT_CHUNKS), max_size=6).map("".join),
       receiver=st.sampled_from([".Created", ".Created.UTC", ".Created.Local"]), which=st.sampled_from(sorted(INSPECT)))
def test_time_format_agrees_with_go(oracle: Oracle, layout: str, receiver: str, which: str) -> None:
    _compare(oracle, f'{{{{{receiver}.Format "{layout}"}}}}', "inspect", INSPECT[which])


@given(literal=literals, func=st.sampled_from(["", "print ", "printf \"%v|%T\" ", "len ", "json ", "upper ",
                                              "lower ", "title ", "eq 1 ", "lt 1.5 ", "not "]))
@example(literal="1e3", func="json ")  # found: Python's float text (1000.0), not encoding/json's (1000)
@example(literal="2i", func="json ")  # found: a Python TypeError (Go: the encoder fails, json gives "")
@example(literal='"\\b\\f"', func="json ")
def test_literals_agree_with_go(oracle: Oracle, literal: str, func: str) -> None:
    _compare(oracle, "{{" + func + literal + "}}", "inspect", INSPECT["full"])


#: Characters whose case mappings differ between Go's strings.ToUpper/ToLower/Title (simple, one
#: character at a time) and Python's str methods (full mappings, final sigma); an invalid byte.
CASE_TRICKS = ["ß", "ﬁ", "ǆ", "ǅ", "Ǆ", "İ", "\u0131", "\u03a3", "\u0391\u03a3", "ŉ", "ᾳ", "ᾀ", "ᾈ", "ǰ", "ΐ", "é",
               "a_b", "a-b", "x.y", "'s", "\u2028a", "\u00a0b", "①a", "²a"]


@given(text=st.lists(st.sampled_from(CASE_TRICKS), max_size=5).map(" ".join),
       func=st.sampled_from(["upper", "lower", "title", "json"]), cut=st.booleans())
@example(text="ß ﬁ ŉ ᾳ", func="upper", cut=False)  # found: Python's full mappings (SS, FI, two characters)
@example(text="\u0391\u03a3 İ", func="lower", cut=False)  # found: final sigma, İ → i̇
@example(text="ǆa ß", func="title", cut=False)  # found: ToTitle, not ToUpper
@example(text="é", func="upper", cut=True)  # an invalid byte: strings.Map writes U+FFFD
@example(text="é", func="json", cut=True)  # found: json wrote the invalid byte (Go: \ufffd)
def test_case_functions_agree_with_go(oracle: Oracle, text: str, func: str, cut: bool) -> None:
    quoted = '"' + text + '"'
    argument = f"(slice {quoted} 0 1)" if cut and text else quoted
    _compare(oracle, f"{{{{{func} {argument}}}}}", "inspect", INSPECT["full"])
