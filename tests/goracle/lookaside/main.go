// The lookaside oracle: containers/image's registries.d loading and lookaside URL lookups,
// one JSON request per line.
//
// Request: {"files": {"name.yaml": "contents", ...}, "raw_files": {"name.yaml": base64 bytes, ...},
//
//	"yaml": "5.23" | "newest", "queries": [{"ref": "...", "digest": "sha256:...", "index": 0}, ...]}
//
// Answer:  {"error": "..."} (loading failed) or {"config": the merged configuration as JSON,
//
//	"results": [{"error": "..."} or {"read": side, "write": side, "attachments": bool}, ...]}
//	side: {"top": configured URL or "", "error": "...", "base": URL, "base_path": decoded path,
//	       "sig": URL of signature index, "sig_path": its decoded path,
//	       "scheme", "host": of the base URL, "old_base": 5.23's base URL, or "old_error": its error}
//	"base" … "sig_path" are the newest containers/image's (see OracleNewestBaseURL in the overlay).
//
// "yaml": "5.23" loads the files as containers/image 5.23 does (github.com/ghodss/yaml);
// "newest" decodes each file as the newest containers/image does (gopkg.in/yaml.v3, exact
// `yaml:` key names), writes it back as canonical JSON and loads that with the same code,
// so that only the YAML decoding differs.
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"tcoracle/lineserver"

	"github.com/containers/image/docker"
	digest "github.com/opencontainers/go-digest"
	"gopkg.in/yaml.v3"
)

// The registries.d schema, with the key names of the newest containers/image.
type newestNamespace struct {
	Lookaside              string `yaml:"lookaside" json:"lookaside"`
	LookasideStaging       string `yaml:"lookaside-staging" json:"lookaside-staging"`
	SigStore               string `yaml:"sigstore" json:"sigstore"`
	SigStoreStaging        string `yaml:"sigstore-staging" json:"sigstore-staging"`
	UseSigstoreAttachments *bool  `yaml:"use-sigstore-attachments,omitempty" json:"use-sigstore-attachments,omitempty"`
}

type newestConfig struct {
	DefaultDocker *newestNamespace           `yaml:"default-docker" json:"default-docker"`
	Docker        map[string]newestNamespace `yaml:"docker" json:"docker"`
}

type query struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Index  int    `json:"index"`
}

type request struct {
	Files   map[string]string `json:"files"`
	Raw     map[string][]byte `json:"raw_files"` // bytes that are not UTF-8 text (UTF-16, invalid UTF-8)
	YAML    string            `json:"yaml"`
	Queries []query           `json:"queries"`
}

type side struct {
	Top      string  `json:"top"`
	Error    *string `json:"error,omitempty"`
	Base     string  `json:"base,omitempty"`
	BasePath string  `json:"base_path,omitempty"`
	Sig      string  `json:"sig,omitempty"`
	SigPath  string  `json:"sig_path,omitempty"`
	Scheme   string  `json:"scheme,omitempty"`
	Host     string  `json:"host,omitempty"`
	OldError *string `json:"old_error,omitempty"`
	OldBase  string  `json:"old_base,omitempty"`
}

type result struct {
	Error       *string `json:"error,omitempty"`
	Read        *side   `json:"read,omitempty"`
	Write       *side   `json:"write,omitempty"`
	Attachments bool    `json:"attachments"`
}

type answer struct {
	Error   *string              `json:"error,omitempty"`
	Config  *docker.OracleConfig `json:"config,omitempty"`
	Results []result             `json:"results,omitempty"`
}

func message(err error) *string {
	msg := err.Error()
	return &msg
}

// unmarshalNewest is yaml.v3's Unmarshal; a runtime panic inside it (a merge key beside a
// mapping used as a key hashes that mapping) is returned as an error: containers/image
// would crash, which refuses the file too.
func unmarshalNewest(data []byte, config *newestConfig) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return yaml.Unmarshal(data, config)
}

func writeFiles(dir string, req request) error {
	files := map[string][]byte{}
	for name, contents := range req.Files {
		files[name] = []byte(contents)
	}
	for name, contents := range req.Raw {
		files[name] = contents
	}
	for name, data := range files {
		if req.YAML == "newest" && strings.HasSuffix(name, ".yaml") { // other files are never read
			var config newestConfig
			if err := unmarshalNewest(data, &config); err != nil {
				return fmt.Errorf("parsing %s: %w", name, err)
			}
			var err error
			if data, err = json.Marshal(config); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func lookup(config *docker.OracleConfig, ref any, q query, write bool) *side {
	s := side{Top: docker.OracleTopLevel(config, ref, write)}
	if old, err := docker.OracleBaseURL(config, ref, write); err != nil {
		s.OldError = message(err)
	} else {
		s.OldBase = old.String()
	}
	base, err := docker.OracleNewestBaseURL(config, ref, write)
	if err != nil {
		s.Error = message(err)
		return &s
	}
	s.Base, s.BasePath, s.Scheme, s.Host = base.String(), base.Path, base.Scheme, base.Host
	sig := docker.OracleSignatureURL(base, digest.Digest(q.Digest), q.Index)
	s.Sig, s.SigPath = sig.String(), sig.Path
	return &s
}

func handle(req request) answer {
	dir, err := os.MkdirTemp("", "lookaside-oracle-")
	if err != nil {
		return answer{Error: message(err)}
	}
	defer os.RemoveAll(dir)
	if err := writeFiles(dir, req); err != nil {
		return answer{Error: message(err)}
	}
	config, err := docker.OracleLoad(dir)
	if err != nil {
		return answer{Error: message(err)}
	}
	results := []result{}
	for _, q := range req.Queries {
		ref, err := docker.OracleReference(q.Ref)
		if err != nil {
			results = append(results, result{Error: message(err)})
			continue
		}
		results = append(results, result{Read: lookup(config, ref, q, false), Write: lookup(config, ref, q, true),
			Attachments: docker.OracleUseAttachments(config, ref)})
	}
	return answer{Config: config, Results: results}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return answer{Error: message(err)} })
}
