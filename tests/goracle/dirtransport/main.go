// The dirtransport oracle: containers/image's dir: transport (directory/) reading and writing
// real directories the test prepared.
//
// Requests (one JSON line each):
//   - {"op": "source", "path": DIR, "reads": [{"what": "manifest"|"signatures"|"blob", "digest": D}]}
//     opens a dir: source (NewImageSource) and does each read in turn; "digest" is the instance
//     digest of a manifest / signatures (empty: the top level) or the blob's digest.
//     → {"reads": [{"data": base64} | {"sigs": [base64...]} | {"error": ..., "class": ...}]}
//   - {"op": "dest", "path": DIR, "blobs": [{"data": base64, "digest": D}],
//     "manifests": [{"data": base64, "digest": instance or ""}],
//     "signatures": [{"digest": instance or "", "blobs": [base64...]}], "commit": true}
//     opens a dir: destination (NewImageDestination), puts the blobs, manifests and signatures
//     in that order and commits → {} or {"error": ..., "class": ..., "stage": "open"|"blob"|...}
//   - {"op": "scope", "path": SCOPE}: Transport.ValidatePolicyConfigurationScope → {} or {"error": ...}
//
// Signatures go through the formats (overlay/…/directory/zz_oracle_dirtransport.go): read with
// GetSignaturesWithFormat, written parsed by FromBlob, as a copy does.
//
// The test inspects the directory itself afterwards. Error classes: "not-exist" (os.IsNotExist),
// "is-dir" (EISDIR), "not-dir" (ENOTDIR), "not-image-dir" (ErrNotContainerImageDir),
// "signature-parse" (a signature file that is not a signature), "other".
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"tcoracle/lineserver"

	"github.com/containers/image/directory"
	"github.com/containers/image/pkg/blobinfocache/none"
	"github.com/containers/image/types"
	"github.com/opencontainers/go-digest"
)

type read struct {
	What   string `json:"what"`
	Digest string `json:"digest"`
}

type blob struct {
	Data   []byte `json:"data"`
	Digest string `json:"digest"`
}

type sigs struct {
	Digest string   `json:"digest"`
	Blobs  [][]byte `json:"blobs"`
}

type request struct {
	Op         string `json:"op"`
	Path       string `json:"path"`
	Reads      []read `json:"reads"`
	Blobs      []blob `json:"blobs"`
	Manifests  []blob `json:"manifests"`
	Signatures []sigs `json:"signatures"`
	Commit     bool   `json:"commit"`
}

type result struct {
	Data  *string   `json:"data,omitempty"`
	Sigs  *[]string `json:"sigs,omitempty"`
	Error string    `json:"error,omitempty"`
	Class string    `json:"class,omitempty"`
	Stage string    `json:"stage,omitempty"`
}

type answer struct {
	Reads []result `json:"reads,omitempty"`
	result
}

func classify(err error, stage string) result {
	class := "other"
	switch {
	case errors.Is(err, directory.ErrNotContainerImageDir):
		class = "not-image-dir"
	case os.IsNotExist(err):
		class = "not-exist"
	case errors.Is(err, syscall.EISDIR):
		class = "is-dir"
	case errors.Is(err, syscall.ENOTDIR):
		class = "not-dir"
	case strings.HasPrefix(err.Error(), "parsing signature"):
		class = "signature-parse"
	}
	return result{Error: err.Error(), Class: class, Stage: stage}
}

func instance(text string) *digest.Digest {
	if text == "" {
		return nil
	}
	d := digest.Digest(text)
	return &d
}

func b64(data []byte) *string {
	s := base64.StdEncoding.EncodeToString(data)
	return &s
}

func source(req request) answer {
	ctx := context.Background()
	ref, err := directory.NewReference(req.Path)
	if err != nil {
		return answer{result: classify(err, "reference")}
	}
	src, err := ref.NewImageSource(ctx, nil)
	if err != nil {
		return answer{result: classify(err, "open")}
	}
	defer src.Close()
	out := answer{Reads: []result{}}
	for _, r := range req.Reads {
		switch r.What {
		case "manifest":
			m, _, err := src.GetManifest(ctx, instance(r.Digest))
			if err != nil {
				out.Reads = append(out.Reads, classify(err, "manifest"))
			} else {
				out.Reads = append(out.Reads, result{Data: b64(m)})
			}
		case "signatures":
			ss, err := directory.OracleGetSignatures(src, instance(r.Digest))
			if err != nil {
				out.Reads = append(out.Reads, classify(err, "signatures"))
				continue
			}
			got := []string{}
			for _, s := range ss {
				got = append(got, *b64(s))
			}
			out.Reads = append(out.Reads, result{Sigs: &got})
		case "blob":
			rc, _, err := src.GetBlob(ctx, types.BlobInfo{Digest: digest.Digest(r.Digest), Size: -1}, none.NoCache)
			if err != nil {
				out.Reads = append(out.Reads, classify(err, "blob"))
				continue
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				out.Reads = append(out.Reads, classify(err, "blob"))
			} else {
				out.Reads = append(out.Reads, result{Data: b64(data)})
			}
		default:
			out.Reads = append(out.Reads, result{Error: "unknown read " + r.What, Class: "bad-request"})
		}
	}
	return out
}

func dest(req request) answer {
	ctx := context.Background()
	ref, err := directory.NewReference(req.Path)
	if err != nil {
		return answer{result: classify(err, "reference")}
	}
	d, err := ref.NewImageDestination(ctx, nil)
	if err != nil {
		return answer{result: classify(err, "open")}
	}
	defer d.Close()
	for _, b := range req.Blobs {
		info := types.BlobInfo{Digest: digest.Digest(b.Digest), Size: int64(len(b.Data))}
		if _, err := d.PutBlob(ctx, bytes.NewReader(b.Data), info, none.NoCache, false); err != nil {
			return answer{result: classify(err, "blob")}
		}
	}
	for _, m := range req.Manifests {
		if err := d.PutManifest(ctx, m.Data, instance(m.Digest)); err != nil {
			return answer{result: classify(err, "manifest")}
		}
	}
	for _, s := range req.Signatures {
		if err := directory.OraclePutSignatures(d, s.Blobs, instance(s.Digest)); err != nil {
			return answer{result: classify(err, "signatures")}
		}
	}
	if req.Commit {
		if err := d.Commit(ctx, nil); err != nil {
			return answer{result: classify(err, "commit")}
		}
	}
	return answer{}
}

func main() {
	lineserver.Serve(func(req request) any {
		switch req.Op {
		case "source":
			return source(req)
		case "dest":
			return dest(req)
		case "scope":
			if err := directory.Transport.ValidatePolicyConfigurationScope(req.Path); err != nil {
				return answer{result: result{Error: err.Error(), Class: "invalid-scope"}}
			}
			return answer{}
		}
		return answer{result: result{Error: "unknown op " + req.Op, Class: "bad-request"}}
	}, func(err error) any {
		return answer{result: result{Error: err.Error(), Class: "bad-request"}}
	})
}
