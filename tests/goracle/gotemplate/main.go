// The gotemplate oracle: Go's text/template (of the installed Go) running a --format as skopeo
// inspect does, over the Go values skopeo formats. One JSON request per line.
//
// Request:  {"template": "...", "kind": "inspect" | "config", "data": {JSON of skopeo's Output, or an OCI config}}
// Answer:   {"json": true} (the format asks for skopeo's indented JSON, not a template), or
//
//	{"output": base64 bytes} or {"error": "...", "phase": "parse" | "exec"}; "bound": true when the
//	run went past a bound trustcopy documents (a text longer than 64 Mi characters).
//
// The wrapping is containers/common's report package as the newest skopeo calls it
// (report.New(...).Parse(report.OriginUser, format), Execute([]any{data})), restated here in our own
// code: \t and \n escapes expanded and a final newline added, the format run once per item unless
// it ranges over "." itself, and parsed as written when the expanded escapes break it; its function
// map (json join lower upper title split truncate pad) is restated below from its documented behaviour.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"tcoracle/lineserver"
	"text/template"

	"github.com/containers/skopeo/cmd/skopeo/inspect"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type request struct {
	Template string          `json:"template"`
	Kind     string          `json:"kind"`
	Data     json.RawMessage `json:"data"`
}

type answer struct {
	JSON   bool    `json:"json,omitempty"`
	Output []byte  `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
	Phase  string  `json:"phase,omitempty"`
	Bound  bool    `json:"bound,omitempty"`
}

// maxText is trustcopy's MAX_TEXT (trustcopy/cli/gotemplate/errors.py): past it trustcopy refuses
// where Go would build the text; the oracle stops there too and says so.
const maxText = 64 * 1024 * 1024

var errBound = errors.New("oracle: past trustcopy's text bound")

type boundedWriter struct {
	buf   bytes.Buffer
	bound bool
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > maxText {
		w.bound = true
		return 0, errBound
	}
	return w.buf.Write(p)
}

// run state the functions report a bound through (one request at a time).
var bounded bool

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func checkLen(n int) error {
	if n > maxText {
		bounded = true
		return errBound
	}
	return nil
}

// The report package's functions: each as its documentation and source describe it.
var funcs = template.FuncMap{
	"join": func(elems []string, sep string) (string, error) {
		n := 0
		for _, e := range elems {
			n += len(e) + len(sep)
		}
		if err := checkLen(n); err != nil {
			return "", err
		}
		return strings.Join(elems, sep), nil
	},
	// json: encoding/json without HTML escaping, the encoder's final newline (and any other
	// surrounding white space) trimmed; an encoding error leaves whatever was written (nothing).
	"json": func(v any) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		_ = e.Encode(v)
		return strings.TrimSpace(b.String())
	},
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	// pad: spaces before and after a non-empty text (a negative count panics in strings.Repeat).
	"pad": func(s string, before, after int) (string, error) {
		if s == "" {
			return "", nil
		}
		if before > maxText || after > maxText {
			return "", checkLen(maxText + 1)
		}
		if err := checkLen(max(before, 0) + max(after, 0) + len(s)); err != nil {
			return "", err
		}
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after), nil
	},
	"split": strings.Split,
	//nolint:staticcheck // strings.Title is what report uses
	"title": strings.Title,
	// truncate: the first n bytes, the text itself when shorter than n (a negative n panics).
	"truncate": func(s string, n int) string {
		if len(s) < n {
			return s
		}
		return s[:n]
	},
}

// rangesOverItems is report's EnforceRange test: does the format range over "." itself?
var rangesOverItems = regexp.MustCompile(`(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`)

var isJSON = regexp.MustCompile(`^\s*(json|{{\s*json\.?\s*}})\s*$`)

func enforceRange(text string) string {
	if rangesOverItems.MatchString(text) {
		return text
	}
	return "{{range .}}" + text + "{{end -}}"
}

func normalize(text string) string {
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text
}

func fail(err error, phase string, bound bool) answer {
	msg := err.Error()
	return answer{Error: &msg, Phase: phase, Bound: bound}
}

func handle(req request) answer {
	if isJSON.MatchString(req.Template) {
		return answer{JSON: true}
	}
	var data any
	switch req.Kind {
	case "inspect":
		var out inspect.Output
		if err := json.Unmarshal(req.Data, &out); err != nil {
			return fail(fmt.Errorf("oracle: bad data: %w", err), "data", false)
		}
		data = out
	case "config":
		var img v1.Image
		if err := json.Unmarshal(req.Data, &img); err != nil {
			return fail(fmt.Errorf("oracle: bad data: %w", err), "data", false)
		}
		data = img
	default:
		return fail(fmt.Errorf("oracle: unknown kind %q", req.Kind), "data", false)
	}
	const name = "skopeo inspect"
	tmpl, err := template.New(name).Funcs(funcs).Parse(enforceRange(normalize(req.Template)))
	if err != nil {
		tmpl, err = template.New(name).Funcs(funcs).Parse(enforceRange(req.Template))
	}
	if err != nil {
		return fail(err, "parse", false)
	}
	bounded = false
	w := &boundedWriter{}
	if err := tmpl.Execute(w, []any{data}); err != nil {
		return fail(err, "exec", bounded || w.bound)
	}
	return answer{Output: w.buf.Bytes()}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail(err, "request", false) })
}
