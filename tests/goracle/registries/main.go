// The registries oracle: containers/image's pkg/sysregistriesv2 loading registries.conf files,
// one JSON request per line.
//
// Request: {"dir": "/tmp/x", "conf": "TOML text" | null, "dropins": [["name.conf", "TOML text"], ...],
//
//	"names": ["example.com/ns/repo", ...], "refs": ["example.com/ns/repo:tag", ...],
//	"locations": ["Example.com", ...]}
//
// The program writes conf to DIR/registries.conf (not at all when null: a missing file) and each
// drop-in to DIR/registries.conf.d/NAME, then loads them with a SystemContext naming exactly those
// (SystemRegistriesConfPath, SystemRegistriesConfDirPath), the cache invalidated first.
//
// Answer: {"error": "...", "invalidRegistries": bool} when loading fails, else
//
//	{"registries": [registry...], "search": [...], "searchOrigin": "...", "shortNameMode": "...",
//	 "credentialHelpers": [...],
//	 "find": {name: registry | null},
//	 "pulls": {ref: {"registry": prefix | null, "sources": [source...]} | {"error": "..."}},
//	 "parsable": {location: bool}}  (also beside "error")
//
// A request {"toml": base64 bytes} instead asks only BurntSushi/toml (the decoder c/image reads
// every registries.conf file with) to decode those bytes into a generic document: the answer is
// {"doc": value} or {"error": "..."}, each value tagged with its TOML type: {"s": string},
// {"i": "decimal"}, {"f": "strconv 'g' text"}, {"b": bool}, {"t": "datetime kind"}, {"a": [values]},
// {"m": {key: value}}.
//
// registry: {"prefix", "location", "insecure", "blocked", "mirrorByDigestOnly", "mirrors": [endpoint...]}
// source:   {"reference", "location", "insecure", "pullFromMirror", "blockedBy": prefix | null}
// where blockedBy is what docker.newDockerClient decides for the physical reference: the entry
// FindRegistry returns for its name, when that entry is blocked.
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"tcoracle/lineserver"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/containers/image/docker/reference"
	"github.com/containers/image/pkg/sysregistriesv2"
	"github.com/containers/image/types"
)

type request struct {
	Dir     string      `json:"dir"`
	Conf    *string     `json:"conf"`
	Dropins [][2]string `json:"dropins"`
	Names   []string    `json:"names"`
	Refs    []string    `json:"refs"`
	// Values a location may start a reference with: answered in "parsable".
	Locations []string `json:"locations"`
	// The user's short-name-aliases.conf (written to DIR/short-name-aliases.conf, named by
	// UserShortNameAliasConfPath; not at all when null), and short names to resolve with
	// ResolveShortNameAlias after loading: answered in "aliases".
	ShortNames *string  `json:"shortnames"`
	Resolve    []string `json:"resolve"`
	// Bytes to decode as TOML only (see above).
	Toml *[]byte `json:"toml"`
}

type endpoint struct {
	Location       string `json:"location"`
	Insecure       bool   `json:"insecure"`
	PullFromMirror string `json:"pullFromMirror"`
}

type registry struct {
	Prefix             string     `json:"prefix"`
	Location           string     `json:"location"`
	Insecure           bool       `json:"insecure"`
	Blocked            bool       `json:"blocked"`
	MirrorByDigestOnly bool       `json:"mirrorByDigestOnly"`
	Mirrors            []endpoint `json:"mirrors"`
}

type source struct {
	Reference      string  `json:"reference"`
	Location       string  `json:"location"`
	Insecure       bool    `json:"insecure"`
	PullFromMirror string  `json:"pullFromMirror"`
	BlockedBy      *string `json:"blockedBy"`
}

type pull struct {
	Error    *string  `json:"error,omitempty"`
	Registry *string  `json:"registry"`
	Sources  []source `json:"sources"`
}

type answer struct {
	Error             *string              `json:"error,omitempty"`
	InvalidRegistries bool                 `json:"invalidRegistries,omitempty"`
	Registries        []registry           `json:"registries"`
	Search            []string             `json:"search"`
	SearchOrigin      string               `json:"searchOrigin"`
	ShortNameMode     string               `json:"shortNameMode"`
	CredentialHelpers []string             `json:"credentialHelpers"`
	Find              map[string]*registry `json:"find"`
	Pulls             map[string]pull      `json:"pulls"`
	Parsable          map[string]bool      `json:"parsable"`
	Aliases           map[string]resolved  `json:"aliases"`
}

// resolved is ResolveShortNameAlias's answer: the alias (null: none, or reset by an empty value),
// the file it comes from, or the error.
type resolved struct {
	Value  *string `json:"value"`
	Origin string  `json:"origin"`
	Error  *string `json:"error,omitempty"`
}

func describe(r *sysregistriesv2.Registry) *registry {
	if r == nil {
		return nil
	}
	out := &registry{Prefix: r.Prefix, Location: r.Location, Insecure: r.Insecure, Blocked: r.Blocked,
		MirrorByDigestOnly: r.MirrorByDigestOnly, Mirrors: []endpoint{}}
	for _, m := range r.Mirrors {
		out.Mirrors = append(out.Mirrors, endpoint{m.Location, m.Insecure, m.PullFromMirror})
	}
	return out
}

func write(req request) error {
	if err := os.MkdirAll(filepath.Join(req.Dir, "registries.conf.d"), 0o700); err != nil {
		return err
	}
	if req.Conf != nil {
		if err := os.WriteFile(filepath.Join(req.Dir, "registries.conf"), []byte(*req.Conf), 0o600); err != nil {
			return err
		}
	}
	if req.ShortNames != nil {
		if err := os.WriteFile(filepath.Join(req.Dir, "short-name-aliases.conf"), []byte(*req.ShortNames), 0o600); err != nil {
			return err
		}
	}
	for _, d := range req.Dropins {
		if err := os.WriteFile(filepath.Join(req.Dir, "registries.conf.d", d[0]), []byte(d[1]), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func fail(err error) answer {
	msg := err.Error()
	var invalid *sysregistriesv2.InvalidRegistries
	return answer{Error: &msg, InvalidRegistries: errors.As(err, &invalid)}
}

func pullSources(ctx *types.SystemContext, text string) pull {
	ref, err := reference.ParseNamed(text)
	if err != nil {
		msg := "parsing the reference: " + err.Error()
		return pull{Error: &msg}
	}
	reg, err := sysregistriesv2.FindRegistry(ctx, ref.Name())
	if err != nil {
		msg := err.Error()
		return pull{Error: &msg}
	}
	res := pull{Sources: []source{}}
	if reg != nil {
		res.Registry = &reg.Prefix
	} else {
		// What docker.newImageSource uses when no entry matches.
		reg = &sysregistriesv2.Registry{Endpoint: sysregistriesv2.Endpoint{Location: ref.String()}, Prefix: ref.String()}
	}
	sources, err := reg.PullSourcesFromReference(ref)
	if err != nil {
		msg := err.Error()
		res.Error = &msg
		return res
	}
	for _, s := range sources {
		out := source{Reference: s.Reference.String(), Location: s.Endpoint.Location, Insecure: s.Endpoint.Insecure,
			PullFromMirror: s.Endpoint.PullFromMirror}
		blocking, err := sysregistriesv2.FindRegistry(ctx, s.Reference.Name())
		if err != nil {
			msg := err.Error()
			res.Error = &msg
			return res
		}
		if blocking != nil && blocking.Blocked {
			out.BlockedBy = &blocking.Prefix
		}
		res.Sources = append(res.Sources, out)
	}
	return res
}

// parsable says whether reference.ParseNamed accepts text, or text followed by one or two path
// components, as a reference naming a registry: whether text, as a location, can begin a
// reference at all ("docker.io" begins only references of two components or more).
func parsable(texts []string) map[string]bool {
	out := map[string]bool{}
	for _, t := range texts {
		out[t] = false
		for _, candidate := range []string{t, t + "/x", t + "/x/x"} {
			if named, err := reference.ParseNamed(candidate); err == nil && reference.Domain(named) != "" {
				out[t] = true
			}
		}
	}
	return out
}

// typed is a decoded TOML value with its type made explicit (JSON alone would mix integers and
// floats, and cannot hold NaN).
func typed(v any) any {
	switch v := v.(type) {
	case string:
		return map[string]any{"s": v}
	case int64:
		return map[string]any{"i": strconv.FormatInt(v, 10)}
	case float64:
		return map[string]any{"f": strconv.FormatFloat(v, 'g', -1, 64)}
	case bool:
		return map[string]any{"b": v}
	case time.Time:
		return map[string]any{"t": v.Location().String()}
	case []map[string]any:
		out := []any{}
		for _, e := range v {
			out = append(out, typed(e))
		}
		return map[string]any{"a": out}
	case []any:
		out := []any{}
		for _, e := range v {
			out = append(out, typed(e))
		}
		return map[string]any{"a": out}
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = typed(e)
		}
		return map[string]any{"m": out}
	}
	return map[string]any{"?": fmt.Sprintf("%T", v)}
}

type tomlAnswer struct {
	Doc   any     `json:"doc,omitempty"`
	Error *string `json:"error,omitempty"`
}

func decodeTOML(data []byte) tomlAnswer {
	doc := map[string]any{}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		msg := err.Error()
		return tomlAnswer{Error: &msg}
	}
	return tomlAnswer{Doc: typed(doc)}
}

func handle(req request) answer {
	if err := write(req); err != nil {
		msg := "oracle: writing the files: " + err.Error()
		return answer{Error: &msg}
	}
	sysregistriesv2.InvalidateCache()
	ctx := &types.SystemContext{
		SystemRegistriesConfPath:    filepath.Join(req.Dir, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(req.Dir, "registries.conf.d"),
		UserShortNameAliasConfPath:  filepath.Join(req.Dir, "short-name-aliases.conf"),
	}
	regs, err := sysregistriesv2.GetRegistries(ctx)
	if err != nil {
		a := fail(err)
		a.Parsable = parsable(req.Locations)
		return a
	}
	a := answer{Registries: []registry{}, Find: map[string]*registry{}, Pulls: map[string]pull{},
		Parsable: parsable(req.Locations)}
	for i := range regs {
		a.Registries = append(a.Registries, *describe(&regs[i]))
	}
	if a.Search, a.SearchOrigin, err = sysregistriesv2.UnqualifiedSearchRegistriesWithOrigin(ctx); err != nil {
		return fail(err)
	}
	mode, err := sysregistriesv2.GetShortNameMode(ctx)
	if err != nil {
		return fail(err)
	}
	a.ShortNameMode = map[types.ShortNameMode]string{types.ShortNameModeDisabled: "disabled",
		types.ShortNameModePermissive: "permissive", types.ShortNameModeEnforcing: "enforcing"}[mode]
	if a.CredentialHelpers, err = sysregistriesv2.CredentialHelpers(ctx); err != nil {
		return fail(err)
	}
	for _, name := range req.Names {
		reg, err := sysregistriesv2.FindRegistry(ctx, name)
		if err != nil {
			return fail(err)
		}
		a.Find[name] = describe(reg)
	}
	for _, ref := range req.Refs {
		a.Pulls[ref] = pullSources(ctx, ref)
	}
	a.Aliases = map[string]resolved{}
	for _, name := range req.Resolve {
		value, origin, err := sysregistriesv2.ResolveShortNameAlias(ctx, name)
		r := resolved{Origin: origin}
		if err != nil {
			msg := err.Error()
			r.Error = &msg
		} else if value != nil {
			text := value.String()
			r.Value = &text
		}
		a.Aliases[name] = r
	}
	return a
}

func main() {
	lineserver.Serve(func(req request) any {
		if req.Toml != nil {
			return decodeTOML(*req.Toml)
		}
		return handle(req)
	},
		func(err error) any { msg := "oracle: " + err.Error(); return answer{Error: &msg} })
}
