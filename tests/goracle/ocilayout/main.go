// The ocilayout oracle: which index.json entry containers/image's oci: transport chooses.
//
// Request:  {"index": "<index.json text>", "image": "NAME or empty"}
// Answer:   {"digest": "..."} or {"error": "...", "class": "more-than-one" | "not-found" | "decode"}
//
// The index is written to a fresh temporary layout directory for each request.
package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"tcoracle/lineserver"

	"github.com/containers/image/oci/layout"
)

type request struct {
	Index string `json:"index"`
	Image string `json:"image"`
}

type answer struct {
	Digest string  `json:"digest,omitempty"`
	Error  *string `json:"error,omitempty"`
	Class  string  `json:"class,omitempty"`
}

func fail(err error, class string) answer {
	msg := err.Error()
	return answer{Error: &msg, Class: class}
}

func handle(req request) answer {
	dir, err := os.MkdirTemp("", "ocilayout-oracle-")
	if err != nil {
		return fail(err, "internal")
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(req.Index), 0o600); err != nil {
		return fail(err, "internal")
	}
	digest, err := layout.OracleManifestDescriptor(dir, req.Image)
	switch {
	case err == nil:
		return answer{Digest: digest}
	case errors.Is(err, layout.ErrMoreThanOneImage):
		return fail(err, "more-than-one")
	case strings.HasPrefix(err.Error(), "no descriptor found for reference"):
		return fail(err, "not-found")
	default:
		return fail(err, "decode")
	}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail(err, "internal") })
}
