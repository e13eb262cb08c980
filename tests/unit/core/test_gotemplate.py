"""The Go-template subset behind ``inspect --format`` (expected outputs are Go's)."""

from __future__ import annotations

import pytest

from trustcopy.cli import gotemplate as g

DATA = {
    "Name": "reg.example/app", "Digest": "sha256:abc", "RepoTags": ["1", "2"],
    "Created": "2024-01-02T03:04:05.5Z", "DockerVersion": "", "Labels": {"b": "2", "a": "1"},
    "Architecture": "amd64", "Os": "linux", "Layers": ["l1", "l2"],
    "LayersData": [{"MIMEType": "m", "Digest": "d1", "Size": 3, "Annotations": None}], "Env": None,
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{{.Digest}}", "sha256:abc\n"),
    ("Name: {{.Name}} Digest: {{.Digest}}", "Name: reg.example/app Digest: sha256:abc\n"),
    ("{{.RepoTags}}", "[1 2]\n"),
    ("{{.Labels}}", "map[a:1 b:2]\n"),
    ("{{.Labels.a}}", "1\n"),
    ("{{.Labels.missing}}", "<no value>\n"),
    ('{{index .Labels "b"}}', "2\n"),
    ("{{json .Labels}}", '{"a":"1","b":"2"}\n'),  # Go sorts map keys
    ("{{json .Env}}", "null\n"),  # a nil slice
    ("{{.Env}}", "[]\n"),
    ("{{range .RepoTags}}{{.}},{{end}}", "1,2,\n"),
    ('{{join .RepoTags ","}}', "1,2\n"),
    ("{{.Created}}", "2024-01-02 03:04:05.5 +0000 UTC\n"),
    ("{{len .Layers}}", "2\n"),
    ("{{if .Env}}env{{else}}none{{end}}", "none\n"),
    ("{{if eq .Os \"linux\"}}L{{else if eq .Os \"windows\"}}W{{end}}", "L\n"),
    ("{{range .LayersData}}{{.Digest}} {{.Size}}\\n{{end}}", "d1 3\n\n"),
    ("{{- .Os -}}  ", "linux"),
    ("{{.Architecture | upper}}", "AMD64\n"),
    ('{{printf "%s-%d" .Os 5}}', "linux-5\n"),
    ("{{(index .Layers 1)}}", "l2\n"),
    ("{{with .Labels}}{{.a}}{{end}}", "1\n"),
    ("{{.Os}}\\t{{.Architecture}}", "linux\tamd64\n"),
    ("{{$x := .Os}}{{$x}}{{range $i, $e := .RepoTags}} {{$i}}={{$e}}{{end}}", "linux 0=1 1=2\n"),
    ("{{range .RepoTags}}{{if eq . \"1\"}}{{continue}}{{end}}{{.}}{{break}}{{end}}", "2\n"),
    ('{{printf "%q|%5.2f|%-4s|%x|%T|%d" .Os 3.14159 "ab" "hi" .Created 07}}', '"linux"| 3.14|ab  |6869|*time.Time|7\n'),
    ("{{.Digest.Algorithm}} {{len .Os}} {{index .Os 0}} {{slice .Os 1 3}}", "sha256 5 108 in\n"),
    ("{{range .}}{{.Os}}{{end}}", "linux\n"),  # EnforceRange: the format ranges over the items itself
    ('{{printf "\\n"}}', "\n"),  # the escape breaks the normalized template: parsed as written
    ("{{range .LayersData}}{{.Annotations}}{{end}}", "map[]\n"),
    ("{{.Tag}}|{{.DockerVersion}}|", "||\n"),  # fields the data leaves out are Go zero values
    ('{{json .}}', '{"Name":"reg.example/app","Digest":"sha256:abc","RepoTags":["1","2"],'
                   '"Created":"2024-01-02T03:04:05.5Z","DockerVersion":"","Labels":{"a":"1","b":"2"},'
                   '"Architecture":"amd64","Os":"linux","Layers":["l1","l2"],"LayersData":[{"MIMEType":"m",'
                   '"Digest":"d1","Size":3,"Annotations":null}],"Env":null}\n'),
])
def test_render(template: str, expected: str) -> None:
    assert g.render(template, g.inspect_value(DATA), "skopeo inspect") == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{{.Nope}}", 'executing "skopeo inspect": can\'t evaluate field Nope in type inspect.Output'),
    ("{{$.Os}}", "can't evaluate field Os in type []interface {}"),  # $ is the list of items, as in skopeo
    ("{{foo .}}", 'function "foo" not defined'),
    ("{{if .Os}}", "unexpected EOF"),
    ("{{.Os", "template: skopeo inspect:"),
    ("{{$x}}", "undefined variable '$x'"),
    ("{{eq .Os 1}}", "incompatible types for comparison"),
    ("{{lt .RepoTags .Layers}}", "invalid type for comparison"),
    ("{{nil}}", "nil is not a command"),
    ("table {{.Os}}", "table formats are not supported"),
    ("{{range .Os}}{{end}}", "range can't iterate over linux"),
    ("{{index .Layers 5}}", "index out of range: 5"),
    ('{{template "x"}}', "no such template 'x'"),
    ('{{define "x"}}{{end}}', "{{define}} is not supported"),
])
def test_errors_name_the_construct(template: str, message: str) -> None:
    with pytest.raises(g.TemplateError) as info:
        g.render(template, g.inspect_value(DATA), "skopeo inspect")
    assert message in str(info.value) and info.value.exit_status == 1


@pytest.mark.parametrize(("text", "is_json"), [("json", True), ("  json ", True), ("{{json}}", True),
                                                ("{{ json. }}", True), ("{{json .}}", False), ("{{.Name}}", False)])
def test_json_format_detection(text: str, is_json: bool) -> None:
    """containers/common's IsJSON: these print indented JSON instead of running a template."""
    assert g.is_json_format(text) is is_json


def test_config_fields_have_go_names_and_zero_values() -> None:
    config = {"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:1"]},
              "config": {"Env": ["A=1"]}, "created": "2024-01-01T00:00:00Z"}
    out = g.render("{{.OS}}/{{.Architecture}} {{.Config.Env}} {{.Config.Cmd}} {{.RootFS.DiffIDs}} {{.Author}}|",
                   g.config_value(config), "skopeo inspect")
    assert out == "linux/arm64 [A=1] [] [sha256:1] |\n"


@pytest.mark.parametrize(("created", "template", "message"), [
    ("2024-01-02T03:04:05+05:30", '{{printf "%d" .Created}}', "%d of a *time.Time that is not in UTC"),  # Go: address
    ("2024-01-02T03:04:05Z", '{{printf "%d" .Created.Local}}', "%d of a time.Time that is not in UTC"),
    ("2024-01-02T03:04:05Z", "{{.Created.Zone}}", "method Zone of *time.Time is not supported"),
    ("2024-01-02T03:04:05Z", "{{.Created.UTC.AddDate 1 0 0}}", "method AddDate of time.Time is not supported"),
    ("2024-01-02T03:04:05Z", '{{printf "%p" .Created}}', "%p of *time.Time is not supported"),
    ("2024-01-02T03:04:05Z", '{{printf "%#g" 1.5}}', "%#g of a float64 is not supported"),
    ("0000-01-01T00:00:00Z", "{{.Created.Year}}", "error calling Year: cannot compute with the time"),
])
def test_what_go_would_print_differently_is_refused(created: str, template: str, message: str) -> None:
    """Never a text other than Go's: a time's address, an unrestated method or verb is a named error."""
    with pytest.raises(g.TemplateError) as info:
        g.render(template, g.inspect_value({**DATA, "Created": created}), "skopeo inspect")
    assert message in str(info.value)


@pytest.mark.parametrize(("created", "template", "expected"), [
    ("2024-01-02T03:04:05.5Z", '{{.Created.Format "Mon Jan _2 15:04:05.000 MST 2006"}}',
     "Tue Jan  2 03:04:05.500 UTC 2024"),
    ("2024-01-02T03:04:05-07:00", '{{.Created.Format "3:04PM Z07:00 MST"}} {{.Created.UTC.Hour}}',
     "3:04AM -07:00 -0700 10"),
    ("0001-01-01T00:00:00.5Z", "{{.Created.IsZero}} {{.Created.Month}} {{.Created.Weekday}}", "false January Monday"),
    ("2024-01-02T03:04:05Z", '{{json .Created}} {{printf "%[2]d-%[1]*d" 4 7}}', '"2024-01-02T03:04:05Z" 7-   7'),
])
def test_time_methods_and_printf_indexes(created: str, template: str, expected: str) -> None:
    assert g.render(template, g.inspect_value({**DATA, "Created": created}), "skopeo inspect") == expected + "\n"
