"""``inspect --format TEMPLATE``: the real skopeo (1.9.3) and trustcopy on the same templates, the same image.

skopeo formats with Go's text/template; there is no Go library oracle for the whole command, so
this is a differential test of the two programs: for each template (hand-written vectors, and
templates generated from the grammar: field chains, pipelines, parentheses, every builtin with
argument type mixes, if/with/range/else/else if, break/continue, variables, trim markers,
comments, string/raw/char/number literals, printf verbs, and near misses: syntax errors,
unknown functions, wrong argument counts and types) both must succeed with the same stdout
bytes, or both fail (non-zero exit). The image comes from a local registry, so ``Name`` and
``RepoTags`` are set; ``--config`` templates run over the image's config.

trustcopy follows the newest skopeo (containers/common's ``report`` package); skopeo 1.9.3
differs in ways the generator knows and avoids, asserted instead on trustcopy alone
(``test_newest_skopeo_behaviour``):

- 1.9.3 parses with a bare text/template: ``json join lower upper title split truncate pad``
  are "not defined" there;
- 1.9.3 writes through a tabwriter it never flushes: a ``\\t`` in the output aligns columns, and
  the lines after the last tab-free line are lost (so is an unterminated last line: ``{{.Os -}}``
  prints nothing there, the comparison cuts trustcopy's output after its last newline);
- 1.9.3 always wraps the format in ``{{range .}}…{{end}}``; the newest leaves a format that
  ranges over ``.`` itself alone (``report.EnforceRange``), and parses a format whose ``\\n``
  escapes break it (``{{printf "\\n"}}``) as written;
- 1.9.3's ``Output`` has no ``LayersData``; ``table`` formats are refused by trustcopy.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from imagefactory import Image, Layer, make_image, make_tar, sha256
from registry_fixtures import RegistryServer, _require_registry, fast_sys, push_image, running

pytestmark = [pytest.mark.registry, pytest.mark.skopeo]


@dataclass
class Target:
    ref: str
    #: The same image with other ``created`` times (for the time.Time vectors), by tag.
    dated: dict[str, str]


#: ``created`` times as Go writes and reads them: fractions, a zone offset, year 1, a leap day.
CREATED = {"frac": "2023-03-05T14:07:09.0123456Z", "offset": "2021-12-31T23:59:59.999999999+05:30",
           "west": "1999-07-04T01:02:03.1-08:00", "zero": "0001-01-01T00:00:00Z", "leap": "2024-02-29T12:00:00Z"}


def _with_created(image: Image, created: str) -> Image:
    """The image with its config's ``created`` replaced (a new config blob, the manifest pointing at it)."""
    config_obj = json.loads(image.config)
    config_obj["created"] = created
    config = json.dumps(config_obj).encode()
    manifest = json.loads(image.manifest)
    manifest["config"].update(digest=sha256(config), size=len(config))
    blobs = {d: b for d, b in image.blobs.items() if b != image.config}
    blobs[sha256(config)] = config
    return Image(manifest=json.dumps(manifest).encode(), config=config, blobs=blobs)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    _require_registry()
    work = tmp_path_factory.mktemp("gotemplate-diff")
    with running(RegistryServer(work / "registry")) as reg:
        image = make_image([Layer(make_tar([("a", b"1")])), Layer(make_tar([("b", b"2")]), compressed=False)],
                           docker=True, labels={"z": "1", "a": "<x>&", "k": "v w", "e": "é\u2028"},
                           env=["A=1", "B=two words", "C="])
        for tag in ("1", "latest"):
            push_image(reg.host, f"app:{tag}", image, fast_sys())
        for tag, created in CREATED.items():
            push_image(reg.host, f"app:{tag}", _with_created(image, created), fast_sys())
        yield Target(f"docker://{reg.host}/app:1", {tag: f"docker://{reg.host}/app:{tag}" for tag in CREATED})


def _skopeo(target: Target, template: str, config: bool) -> tuple[bool, bytes]:
    args = ["skopeo", "inspect", "--tls-verify=false", *(["--config"] if config else []), "--format", template,
            target.ref]
    # The machine zone is UTC for both programs (``.Created.Local``; see test_time_vectors_agree_with_skopeo).
    done = subprocess.run(args, capture_output=True, check=False, timeout=60, env={**os.environ, "TZ": "UTC"})
    return done.returncode == 0, done.stdout if done.returncode == 0 else b""


def _ours(target: Target, template: str, config: bool) -> tuple[bool, bytes]:
    from trustcopy.cli.main import main

    out = io.BytesIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.StringIO()
    try:
        code = main(["inspect", "--tls-verify=false", *(["--config"] if config else []), "--format", template,
                     target.ref])
        sys.stdout.flush()
    finally:
        sys.stdout, sys.stderr = saved
    return code == 0, out.getvalue() if code == 0 else b""


def _differences(target: Target, cases: list[tuple[str, bool]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        theirs = list(pool.map(lambda case: _skopeo(target, *case), cases))
    out = []
    for (template, config), want in zip(cases, theirs, strict=True):
        ok, printed = _ours(target, template, config)
        assert b"\t" not in printed and b"\v" not in printed and b"\f" not in printed, template  # (the generator's job)
        got = ok, printed[:printed.rfind(b"\n") + 1]  # 1.9.3's unflushed tabwriter drops an unterminated tail
        if got != want:
            out.append(f"{template!r} (config={config}): skopeo {want!r}, trustcopy {got!r}")
    return out


# -- hand-written vectors (each found interesting while hunting, or a near miss) ------------------------

VECTORS = [
    # fields, chains, nil forms, maps, methods
    "{{.Name}}", "{{.Tag}}|{{.Digest}}", "{{.RepoTags}}", "{{.Created}}", "{{.DockerVersion}}|", "{{.Labels}}",
    "{{.Architecture}}/{{.Os}}", "{{.Layers}}", "{{.Env}}", "{{.Labels.a}}", "{{.Labels.missing}}",
    "{{.Labels.missing.deeper}}", "{{.Nope}}", "{{.Os.x}}", "{{$.Os}}", "{{len $}}", "{{.Digest.Algorithm}}",
    "{{.Digest.Encoded}}", "{{.Digest.Hex}}", "{{.Created.Year}}", "{{(.Labels).a}}", "{{(.Digest).Algorithm}}",
    "{{.Os 1}}", "{{.Labels.a 1}}", "{{1 | .Os}}", "{{.Digest.Algorithm 1}}",
    # literals
    "{{'a'}}", "{{'\\''}}", "{{0x1F}}", "{{017}}", "{{0o17}}", "{{0b101}}", "{{1_000}}", "{{-3}}",
    "{{+4}}", "{{3.5}}", "{{1e3}}", "{{-2.5e-3}}", "{{.5}}", "{{5.}}", "{{1e6}}", "{{123456.0}}", "{{1234567.0}}",
    "{{0.0001}}", "{{0.00001}}", "{{2i}}", "{{0x1p4}}", "{{09}}", "{{1e}}", "{{0x}}", "{{99999999999999999999}}",
    "{{3.0}}", "{{true}}", "{{false}}", "{{nil}}", '{{"a\\"b"}}', '{{"\\x41\\u00e9"}}', "{{`raw \\n`}}",
    '{{"unterminated}}', "{{'ab'}}", "{{''}}", '{{"\\q"}}', "{{1a}}", "{{.5.5}}", "{{-}}", "{{3-}}",
    # trimming, comments, text escapes
    "a  {{- .Os -}}  b", "a {{-.Os}}", "{{.Os-}} b", "{{- /* c */ -}} x", "{{/* c */}}x", "{{ /* c */ }}",
    "{{/* c */ .Os}}", "{{/* unclosed", "x\\ny\\n", "\\n", "{{.Os}}\\n\\n", "é <&>", "{{ .Os }}", "{{\n.Os\n}}",
    # pipelines, parentheses, non-functions
    "{{.Os | print}}", "{{.Os | printf \"%s!\"}}", "{{(print .Os) | len}}", "{{3 4}}", '{{"a" | "b"}}',
    "{{.Os | .Os}}", "{{print (.Os) (len .Env)}}", "{{(1)}}", "{{()}}", "{{(.Os}}", "{{.Os)}}", "{{|}}", "{{.Os|}}",
    "{{print .Os|len}}", "{{print.Os}}", "{{(print .Os).x}}", '{{"a".x}}',
    # functions and type mixes
    "{{len .Os}}", "{{len .Labels}}", "{{len .Labels.missing}}", "{{len 3}}", "{{len .Created}}", "{{len .}}",
    "{{len}}", "{{len .Os .Os}}", '{{index .Labels "a"}}', '{{index .Labels "nope"}}', "{{index .Labels 1}}",
    "{{index .Layers 1}}", "{{index .Layers 2}}", "{{index .Layers -1}}", '{{index .Layers "0"}}',
    "{{index .Os 0}}", "{{index .Os 1.0}}", "{{index .RepoTags}}", "{{index nil 1}}", "{{index .Layers nil}}",
    "{{index .Created 0}}", "{{slice .Os 1 3}}", "{{slice .Os 2}}", "{{slice .Os 3 1}}", "{{slice .Os 1 2 3}}",
    "{{slice .Env 1}}", "{{slice .Env 0 1 2}}", "{{slice .Os 9}}", "{{slice 3}}",
    "{{print 1 2 \"a\" 3 4 .Os true nil}}", "{{println .Os 1 2}}", "{{print}}", "{{println}}",
    "{{print .Labels.missing}}",
    "{{html .Labels.a}}", "{{html .Labels.missing}}", "{{js .Labels}}", "{{js \"a'b\\\"<=>&\"}}",
    "{{urlquery .Labels.k \"?&=/\"}}",
    "{{html 1 2}}", "{{not .Os}}", "{{not .Env}}", "{{not \"\"}}", "{{not 0}}", "{{not nil}}", "{{not}}",
    "{{not .Labels.missing}}", "{{and .Os .Env}}", "{{and .Os 1}}", "{{or \"\" 0 .Os}}", "{{or}}",
    "{{and 0 (index .Layers 99)}}", "{{or 1 .Nope}}", "{{and 1 .Nope}}", "{{.Os | and 1}}", "{{0 | or false}}",
    "{{and .Labels.missing 1}}",
    # comparisons
    '{{eq .Os "linux"}}', '{{eq .Os "a" "linux"}}', "{{eq .Os 1}}", "{{eq 1 1.0}}", "{{eq 1 'a' 97}}", "{{eq 1}}",
    "{{eq .Env .Env}}", "{{eq .Labels.missing \"\"}}", "{{eq .Created .Created}}", "{{eq . .}}", "{{eq nil nil}}",
    '{{eq .Digest .Digest}}', '{{ne .Os "linux"}}', "{{ne 1 2 3}}", '{{lt "a" "b"}}', "{{lt 1 2.0}}",
    "{{lt true false}}",
    "{{lt .Env .Env}}", "{{le 2 2}}", "{{gt 2.5 1.5}}", "{{ge 'b' 'a'}}", "{{lt 1}}", '{{lt "é" "z"}}',
    # printf verbs
    '{{printf "%s %v %q %d" .Os .Os .Os 42}}', '{{printf "%x %X" .Os 255}}', '{{printf "%+v" .Labels}}',
    '{{printf "%#v" .Env}}', '{{printf "%#v" .Labels}}', '{{printf "%#v" .Os}}',
    '{{printf "%T %T %T %T %T" . .Os 1 1.5 \'a\'}}',
    '{{printf "%T %T %T" .Labels .Env .Digest}}', '{{printf "%5.2f|%-8s|%8s|%%" 3.14159 "ab" "cd"}}',
    '{{printf "%d" .Os}}', '{{printf "%s" 1}}', '{{printf "%d %d" 1}}', '{{printf "%d" 1 2}}', '{{printf "%"}}',
    '{{printf "%z" 1}}', '{{printf "%v" nil}}', '{{printf "%s" nil}}', '{{printf "%v %s" .Created .Created}}',
    '{{printf "%q" .Env}}', '{{printf "%x" .Env}}', '{{printf "%05d|%+d|% d|%x|%o|%b|%c|%U" 42 42 42 -255 8 5 65 65}}',
    '{{printf "%e %E %g %f %.3g %.1e" 1234.5678 0.5 1e21 2.0 3.14159 12345.0}}', '{{printf "%t %t" true 1}}',
    '{{printf .Os}}', '{{printf 1}}', '{{printf}}',
    '{{printf "%s" .Labels.missing}}', '{{printf "%.2s|%5.1s|%-5d|%#x|%#o" "abc" "xyz" 7 255 8}}',
    '{{printf "%v %v %v" 1e6 1e-5 123456789.0}}', '{{printf "%6.2f%%" 99.5}}', '{{printf "%q" 65}}',
    # printf: argument indexes, * widths and precisions, flags as fmt applies them (element by element)
    '{{printf "%[2]s %[1]s|%[3]d|%[0]d|%[x]d|%[2]*[1]d|%-*d|%.*f|%*s|%[1]s %s" "a" "b" 5}}',
    '{{printf "%*d|%.*d|%[1]*d" "x" 1 2}}', '{{printf "%[1]d %[1]x %[1]o" 42 7}}', '{{printf "%[3]v" 1 2}}',
    '{{printf "%*d|%-*d|%.*f|%*.*f" 5 42 -5 42 2 3.14159 8 3 2.5}}', '{{printf "%[2]*[1]d|%.[2]d" 7 4}}',
    '{{printf "%[1]*d" 3}}', '{{printf "%[2]" 1 2}}', '{{printf "%[" 1}}', '{{printf "%[1" 1}}', '{{printf "%5." 1}}',
    '{{printf "%05s|%-05d|%+v|% v|%5s|%-4v|%3d|%x" "ab" 3 5 5 .RepoTags .Env .Env .Labels}}',
    '{{printf "%+q|%#q|%#q|% x|%# x|%#X|%.1x|%5.1q" "é" "a" "a`b" "hi" "hi" "hi" "hi" "abc"}}',
    '{{printf "%08.3f|%+.2e|%-8.1f|% f|%+d|% d|%+05d|%x|%#o|%O|%#b" 3.14159 12345.678 2.5 1.5 3 3 -3 -255 8 8 5}}',
    '{{printf "%c|%q|%U|%#U|%5c|%-4q|" 65 233 233 9731 66 67}}', '{{printf "%.0d|%.3d|%5.0d|" 0 7 0}}',
    '{{printf "%t|%5t|%d" true false true}}', '{{printf "%5T|%-6v|" 1 nil}}', '{{printf "%!" 1}}',
    '{{printf "%5d|%-6t|%x|%q" "x" "y" "\\xff" "\\xff"}}',
    '{{printf "%8.3v|%+.1v|%08v|%-08d|% 06.1f|%+08.2e|%6.2g|%G" 3.14159 2.0 -1.5 -3 2.25 -12.5 1234.5 1e-7}}',
    # control structures
    "{{if .Os}}y{{end}}", "{{if .Env}}y{{else}}n{{end}}", "{{if .Labels.missing}}y{{else if .Os}}o{{else}}n{{end}}",
    "{{if}}{{end}}", "{{if .Os}}", "{{end}}", "{{else}}", "{{if .Os}}a{{else}}b{{else}}c{{end}}",
    "{{with .Labels}}{{.a}}{{end}}", "{{with .Labels.missing}}y{{else}}n{{end}}", "{{with .Env}}{{.}}{{end}}",
    "{{with $x := .Os}}{{$x}}{{end}}", "{{with .Os}}{{else with .Env}}{{end}}",
    "{{range .RepoTags}}[{{.}}]{{end}}", "{{range .Labels}}{{.}},{{end}}", "{{range .Labels.missing}}x{{else}}e{{end}}",
    "{{range .Os}}{{end}}", "{{range 3}}{{end}}", "{{range .Created}}{{end}}",
    "{{range $i, $e := .Env}}{{$i}}:{{$e}} {{end}}",
    "{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "{{range $e := .Layers}}{{$e}}{{end}}",
    "{{range $a, $b, $c := .Env}}{{end}}", "{{range .Env}}{{if eq . \"C=\"}}{{break}}{{end}}{{.}};{{end}}",
    "{{range .Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}};{{end}}", "{{break}}", "{{if .Os}}{{continue}}{{end}}",
    "{{range .Env}}{{break 1}}{{end}}", "{{range $}}{{.Os}}{{end}}",
    # variables
    "{{$x := .Os}}{{$x}}", "{{$x := 1}}{{$x = 2}}{{$x}}", "{{$x}}", "{{$x = 1}}", "{{$x := 1}}{{$x := 2}}{{$x}}",
    "{{if .Os}}{{$x := 1}}{{end}}{{$x}}", "{{$x := .Labels}}{{$x.a}}", "{{$x, $y := 1}}", "{{$ := 1}}",
    "{{$x := .Env}}{{range $x}}{{$x}}{{end}}", "{{with $x := .Os}}{{end}}{{$x}}",
    # define/template/block and the rest
    '{{template "x"}}', '{{define "x"}}{{end}}', '{{block "x" .}}{{end}}', "{{call .Os}}", "{{foo}}",
    "{{.Os}}{{end}}{{range .RepoTags}}{{.}}",  # the user's {{end}} closes skopeo's own range
]

CONFIG_VECTORS = [
    "{{.}}", "{{.Architecture}} {{.OS}} {{.Variant}}|", "{{.Config.Env}}", "{{.Config.Labels}}", "{{.Config.Cmd}}",
    "{{.RootFS}}", "{{.RootFS.DiffIDs}}", "{{.History}}", "{{range .History}}{{.CreatedBy}};{{end}}",
    "{{(index .History 0).Created}}", "{{.Created}}", "{{.Author}}|", "{{.Os}}", "{{printf \"%T\" .History}}",
    '{{index .Config.Labels "z"}}', "{{len .Config.Env}}", "{{.Config.ExposedPorts}}", "{{.Config.User}}|",
    "{{.Config}}", "{{printf \"%+v\" .RootFS}}",
]


def test_vectors_agree_with_skopeo(target: Target) -> None:
    cases = [(t, False) for t in VECTORS] + [(t, True) for t in CONFIG_VECTORS]
    assert _differences(target, cases) == []


#: ``*time.Time`` (``.Created``) and the time.Time, time.Month and time.Weekday values its methods give.
TIME_VECTORS = [
    "{{.Created}}|{{.Created.String}}|{{.Created.UTC}}|{{.Created.Local}}|{{.Created.IsZero}}|{{.Created.UTC.IsZero}}",
    '{{.Created.Format "2006-01-02"}}|{{.Created.Format "2006-01-02T15:04:05Z07:00"}}|'
    '{{.Created.Format "2006-01-02T15:04:05.999999999Z07:00"}}|{{.Created.Format "Jan 2, 2006 at 3:04pm (MST)"}}',
    '{{.Created.Format "Monday Mon January Jan 01/02/06 _2 __2 002 03 PM pm -0700 -07:00 -07 Z0700 Z07 MST"}}',
    '{{.Created.Format ".000 .999 ,00 .000000000 .9999999999 15:04:05.000000 2006_2 _2006 Z070000 -07:00:00"}}',
    '{{.Created.Format "Janx Monx Mont Mond 1504 0x 5.0001 .9x 2 1 3 4 5 PMpm"}}|{{.Created.Format ""}}|'
    '{{.Created.UTC.Format "Mon Jan _2 15:04:05 MST 2006"}}|{{.Created.Local.Format "2006 MST -0700"}}',
    "{{.Created.Year}} {{.Created.Month}} {{.Created.Day}} {{.Created.Hour}} {{.Created.Minute}} {{.Created.Second}} "
    "{{.Created.Nanosecond}} {{.Created.YearDay}} {{.Created.Weekday}}",
    "{{.Created.Unix}} {{.Created.UnixNano}} {{.Created.UnixMilli}} {{.Created.UnixMicro}} {{.Created.UTC.Unix}}",
    '{{printf "%d %v %q %x %s|%d %v|%T %T %T %T %T" .Created.Month .Created.Month .Created.Month .Created.Month '
    ".Created.Weekday .Created.Weekday .Created.Weekday .Created .Created.UTC .Created.Month .Created.Weekday "
    ".Created.Unix}}",
    '{{eq .Created.Month 3}} {{lt .Created.Weekday 1}} {{eq .Created.Year 2023}} {{len (.Created.Format "Jan")}}',
    '{{printf "%#v|%v|%30s|%-5v|%.4s" .Created .Created.UTC .Created .Created.Month .Created}}',
    '{{printf "%d|%5d|%x|%t" .Created.UTC .Created.UTC .Created.UTC .Created.UTC}}',
    "{{.Created.Format}}", "{{.Created.Format 1}}", "{{.Created.Year 1}}", "{{.Created.Nope}}",
    "{{.Created.Month.String}}", "{{.Created.UTC.UTC.Local.Hour}}", "{{if .Created.IsZero}}zero{{else}}set{{end}}",
    "{{with .Created}}{{.Day}}{{end}}", '{{.Created.Weekday | printf "%d"}}',
]
#: Templates valid only when the time is UTC (Go prints a time zone's address for the others).
UTC_TIME_VECTORS = ['{{printf "%d|%5d|%-3o" .Created .Created .Created}}', '{{printf "%t %v" .Created .Created}}']


def test_time_vectors_agree_with_skopeo(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """``.Created`` as Go's time.Time prints it; ``Local`` is the machine zone, UTC for both programs here."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        found = []
        for tag, ref in target.dated.items():
            utc = CREATED[tag].endswith("Z")
            cases = [(t, False) for t in TIME_VECTORS + (UTC_TIME_VECTORS if utc else [])]
            found += _differences(Target(ref, {}), cases)
        assert found == []
    finally:
        monkeypatch.undo()
        time.tzset()


# -- generated templates -------------------------------------------------------------------------------

#: Not "." itself: the whole Output prints LayersData, which 1.9.3's Output lacks (newest-only vectors cover it).
FIELDS = [".Name", ".Tag", ".Digest", ".RepoTags", ".Created", ".DockerVersion", ".Labels", ".Architecture", ".Os",
          ".Layers", ".Env", ".Labels.a", ".Labels.k", ".Labels.missing", ".Digest.Algorithm", ".Nope",
          ".Created.Month", ".Created.Unix"]
LITERALS = ['"linux"', '"a"', '""', '"é<&>"', "`raw`", "'a'", "0", "1", "2", "-1", "0x10", "010", "1.5", "2.0",
            "1e2", "true", "false", "nil"]
BUILTINS = ["len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or",
            "not", "html", "js", "urlquery"]
FORMATS = ['"%s"', '"%v"', '"%q"', '"%d"', '"%x"', '"%+v"', '"%T"', '"%5.2f"', '"%-8s|"', '"%%"', '"%v-%v"', '"%d %s"',
           '"%[2]v %[1]q"', '"%*d"', '"%-*.*s|"', '"%05v"']


@st.composite
def operand(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 2 else 5))
    if choice <= 3:
        return draw(st.sampled_from(FIELDS))
    if choice <= 5:
        return draw(st.sampled_from(LITERALS))
    return "(" + draw(command(depth + 1)) + ")"


@st.composite
def command(draw: st.DrawFn, depth: int = 0) -> str:
    name = draw(st.sampled_from(BUILTINS))
    args = draw(st.lists(operand(depth), max_size=3))
    if name == "printf" and draw(st.booleans()):
        args = [draw(st.sampled_from(FORMATS)), *args]
    return " ".join([name, *args])


@st.composite
def pipeline(draw: st.DrawFn) -> str:
    first = draw(st.one_of(operand(), command()))
    rest = draw(st.lists(command(1), max_size=2))
    return " | ".join([first, *rest])


TEXTS = ["", " ", "x", ":", "\\n", "é", "<&>", "  \n "]


@st.composite
def template(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(st.sampled_from(TEXTS)))
        kind = draw(st.integers(0, 9 if depth < 2 else 4))
        left = draw(st.sampled_from(["{{", "{{", "{{- "]))
        right = draw(st.sampled_from(["}}", "}}", " -}}"]))
        if kind <= 3:
            parts.append(left + draw(pipeline()) + right)
        elif kind == 4:
            parts.append(left + "/* " + draw(st.sampled_from(["c", "", "x y"])) + " */" + right)
        elif kind in (5, 6):
            word = draw(st.sampled_from(["if", "with", "range"]))
            head = draw(pipeline()) if word != "range" else draw(st.sampled_from(
                [".RepoTags", ".Labels", ".Env", ".Layers", ".Labels.missing", ".Os", "$"]))
            if word == "range" and draw(st.booleans()):
                head = "$i, $e := " + head
            body = draw(template(depth + 1))
            orelse = draw(st.sampled_from(["", "{{else}}-", "{{else if .Env}}E"])) if word == "if" else \
                draw(st.sampled_from(["", "{{else}}-"]))
            parts.append(f"{{{{{word} {head}}}}}{body}{orelse}{{{{end}}}}")
        elif kind == 7:
            parts.append("{{$v := " + draw(pipeline()) + "}}{{$v}}")
        else:
            parts.append(left + draw(pipeline()) + right)
    return "".join(parts)


NEAR_MISSES = ["{{", "}}", "{{end}}", "{{else}}", "{{.Os", "{{(", "{{)}}", "{{foo}}", "{{ .Os .Os }}", "{{$y}}"]


@given(st.one_of(template(), st.tuples(template(), st.sampled_from(NEAR_MISSES), template()).map("".join)))
@example("{{printf \"%v-%v\" .Labels.missing (len .Os)}}")
@example("{{(printf .Name .Labels.missing)}}")  # %!(EXTRA <nil>): no type for a nil
@example("{{.Name -}}")
@example('{{.Created | printf "%d"}}')  # fmt shows time.Time's fields: &{0 63839664000 0}
def test_generated_templates_agree_with_skopeo(target: Target, text: str) -> None:
    assert _differences(target, [(text, False)]) == []


# -- what the newest skopeo does and 1.9.3 does not -------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('{{json .Labels}}', '{"a":"<x>&","e":"é\\u2028","k":"v w","z":"1"}\n'),
    ('{{join .Env ","}}|{{lower "AB"}}{{upper .Os}}|{{title "ab cd-ef"}}', "A=1,B=two words,C=|abLINUX|Ab Cd-Ef\n"),
    ('{{split .Labels.k " "}} {{truncate .Os 3}} [{{pad .Os 1 2}}] [{{pad "" 1 2}}]', "[v w] lin [ linux  ] []\n"),
    ("{{.Os}}\\t{{.Architecture}}", "linux\tamd64\n"),  # no tabwriter for a user's format
    ("{{range .}}{{.Os}}{{end}}", "linux\n"),  # EnforceRange: not wrapped (1.9.3: range over a struct fails)
    ('{{printf "a\\nb"}}', "a\nb"),  # parsed as written after the normalized form failed
    ("{{len .LayersData}} {{(index .LayersData 1).Size}} {{printf \"%T\" (index .LayersData 0).Size}}",
     "2 10240 int64\n"),
    ("{{'\\n'}}", "10"),
    ("{{.Os -}}", "linux"),  # the char literal broken by the expansion: parsed as written
    ("{{.}}", None), ('{{printf "%+v" .}}', None),  # checked below: they show LayersData
    ("{{truncate .Os 1.5}}", None), ("{{join .Os \",\"}}", None), ("table {{.Os}}", None),
])
def test_newest_skopeo_behaviour(target: Target, text: str, expected: str | None) -> None:
    ok, out = _ours(target, text, False)
    if text in ("{{.}}", '{{printf "%+v" .}}'):
        assert ok and (b" [{application/vnd.docker.image.rootfs.diff.tar.gzip sha256:" in out or
                       b" LayersData:[{MIMEType:application/vnd.docker.image.rootfs.diff.tar.gzip " in out), out
        return
    assert (ok, out.decode() if ok else None) == (expected is not None, expected)


def test_skopeo_is_the_one_we_compare_with() -> None:
    assert shutil.which("skopeo") is not None
    version = subprocess.run(["skopeo", "--version"], capture_output=True, text=True, check=True).stdout
    assert "1.9.3" in version, version
    assert Path(shutil.which("skopeo") or "").exists()
