// The ocilayout oracle: how containers/image's oci: transport reads an OCI layout's index.json.
//
// Request:  {"op": "", "index": "<index.json text>", "image": "NAME or empty"}
// (or "index_b64" instead of "index", for bytes that are not UTF-8), plus per op:
//   - "" (choice): which entry getManifestDescriptor chooses → {"digest": "..."}
//   - "index": the index as getIndex reads it, marshalled again → {"text": "..."}
//   - "source": open an oci: source and read its manifest (GetManifest) → {"text": manifest};
//     "blobs" maps layout-relative paths to file contents
//   - "add": open an oci: destination, add a descriptor ("mediaType", "digest", "size")
//     as PutManifest does → {"text": the index.json Commit would write}
//   - "decode-manifest" / "decode-index": decode "blob_b64" as containers/image's oci: delete reads a
//     nested manifest or index (json.NewDecoder(f).Decode into image-spec's Manifest / Index) →
//     {"digests": [config digest, layer digests...]} / {"entries": [{"mediaType", "digest"}...]}
//     (5.23 has no oci: delete; its vendored image-spec lacks the 1.1 artifactType/subject fields)
//
// Errors: {"error": "...", "class": "more-than-one" | "not-found" | "decode" | "digest" | "read"}
//
// Each request gets a fresh temporary layout directory.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"tcoracle/lineserver"

	"github.com/containers/image/oci/layout"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type request struct {
	Op        string            `json:"op"`
	Index     string            `json:"index"`
	IndexB64  string            `json:"index_b64"`
	Image     string            `json:"image"`
	Blobs     map[string]string `json:"blobs"`
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int64             `json:"size"`
	BlobB64   string            `json:"blob_b64"`
}

type entry struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

type answer struct {
	Digest  string   `json:"digest,omitempty"`
	Text    *string  `json:"text,omitempty"`
	Digests []string `json:"digests,omitempty"`
	Entries *[]entry `json:"entries,omitempty"`
	Error   *string  `json:"error,omitempty"`
	Class   string   `json:"class,omitempty"`
}

func fail(err error, class string) answer {
	msg := err.Error()
	return answer{Error: &msg, Class: class}
}

func text(s string) answer {
	return answer{Text: &s}
}

// classify names an error of the index reading and image choice.
func classify(err error) answer {
	switch {
	case errors.Is(err, layout.ErrMoreThanOneImage):
		return fail(err, "more-than-one")
	case strings.HasPrefix(err.Error(), "no descriptor found for reference"):
		return fail(err, "not-found")
	default:
		return fail(err, "decode")
	}
}

// decode reads blob as the oci: delete reads a nested manifest or index (a Decoder: bytes after
// the first value are never looked at) and reports the digests it would count.
func decode(op string, blob []byte) answer {
	dec := json.NewDecoder(bytes.NewReader(blob))
	if op == "decode-manifest" {
		m := new(imgspecv1.Manifest)
		if err := dec.Decode(m); err != nil {
			return fail(err, "decode")
		}
		out := []string{m.Config.Digest.String()}
		for _, l := range m.Layers {
			out = append(out, l.Digest.String())
		}
		return answer{Digests: out}
	}
	index := new(imgspecv1.Index)
	if err := dec.Decode(index); err != nil {
		return fail(err, "decode")
	}
	out := []entry{}
	for _, d := range index.Manifests {
		out = append(out, entry{MediaType: d.MediaType, Digest: d.Digest.String()})
	}
	return answer{Entries: &out}
}

func handle(req request) answer {
	if req.Op == "decode-manifest" || req.Op == "decode-index" {
		blob, err := base64.StdEncoding.DecodeString(req.BlobB64)
		if err != nil {
			return fail(err, "internal")
		}
		return decode(req.Op, blob)
	}
	dir, err := os.MkdirTemp("", "ocilayout-oracle-")
	if err != nil {
		return fail(err, "internal")
	}
	defer os.RemoveAll(dir)
	index := []byte(req.Index)
	if req.IndexB64 != "" {
		if index, err = base64.StdEncoding.DecodeString(req.IndexB64); err != nil {
			return fail(err, "internal")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o600); err != nil {
		return fail(err, "internal")
	}
	for name, content := range req.Blobs {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fail(err, "internal")
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fail(err, "internal")
		}
	}
	switch req.Op {
	case "":
		digest, err := layout.OracleManifestDescriptor(dir, req.Image)
		if err != nil {
			return classify(err)
		}
		return answer{Digest: digest}
	case "index":
		out, err := layout.OracleIndex(dir)
		if err != nil {
			return fail(err, "decode")
		}
		return text(out)
	case "source":
		m, step, err := layout.OracleSource(dir, req.Image)
		switch {
		case err == nil:
			return text(m)
		case step == "open":
			return classify(err)
		case strings.HasPrefix(err.Error(), "unexpected digest reference"):
			return fail(err, "digest")
		default:
			return fail(err, "read")
		}
	case "add":
		out, err := layout.OracleAdd(dir, req.Image, req.MediaType, req.Digest, req.Size)
		if err != nil {
			return fail(err, "decode")
		}
		return text(out)
	}
	return fail(errors.New("unknown op "+req.Op), "internal")
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail(err, "internal") })
}
