// The dockerarchive oracle: containers/image's docker-archive: source (docker/archive over
// docker/internal/tarfile), one JSON request per line.
//
// Request:  {"ref": "PATH[:NAME[:TAG]|:@N]", "tmp": "directory for a decompressed copy"}
// Answer:   {"stage": "parse"|"open"|"manifest"|"config"|"layer", "error": "..."} or
//
//	{"manifest": "<generated manifest>", "mime": "...", "config": "<base64 config bytes>",
//	 "layers": [{"digest": "<diff ID asked for>", "size": <size GetBlob reports>,
//	             "sha256": "<digest of the bytes read>", "length": <bytes read>}]}
//
// Each layer is read in full through GetBlob (decompressed as c/image serves it), so a test
// sees which bytes c/image takes for a path named twice or reached through a link.
package main

import (
	"context"
	"crypto/sha256"
	_ "crypto/sha512" // go-digest accepts only algorithms whose hash is linked in
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"

	"tcoracle/lineserver"

	"github.com/containers/image/docker/archive"
	"github.com/containers/image/manifest"
	"github.com/containers/image/pkg/blobinfocache/none"
	"github.com/containers/image/types"
)

type request struct {
	Ref string `json:"ref"`
	Tmp string `json:"tmp"`
}

type layer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Length int64  `json:"length"`
}

type answer struct {
	Stage    string  `json:"stage,omitempty"`
	Error    *string `json:"error,omitempty"`
	Manifest string  `json:"manifest,omitempty"`
	MIME     string  `json:"mime,omitempty"`
	Config   string  `json:"config,omitempty"`
	Layers   []layer `json:"layers,omitempty"`
}

func fail(stage string, err error) answer {
	msg := err.Error()
	return answer{Stage: stage, Error: &msg}
}

func handle(req request) answer {
	ctx := context.Background()
	ref, err := archive.Transport.ParseReference(req.Ref)
	if err != nil {
		return fail("parse", err)
	}
	sys := &types.SystemContext{BigFilesTemporaryDir: req.Tmp}
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return fail("open", err)
	}
	defer src.Close()
	raw, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return fail("manifest", err)
	}
	var m manifest.Schema2
	if err := json.Unmarshal(raw, &m); err != nil {
		return fail("manifest", err)
	}
	a := answer{Manifest: string(raw), MIME: mime}
	cfg, _, err := src.GetBlob(ctx, types.BlobInfo{Digest: m.ConfigDescriptor.Digest, Size: -1}, none.NoCache)
	if err != nil {
		return fail("config", err)
	}
	cfgBytes, err := io.ReadAll(cfg)
	cfg.Close()
	if err != nil {
		return fail("config", err)
	}
	a.Config = base64.StdEncoding.EncodeToString(cfgBytes)
	for _, d := range m.LayersDescriptors {
		rc, size, err := src.GetBlob(ctx, types.BlobInfo{Digest: d.Digest, Size: -1}, none.NoCache)
		if err != nil {
			return fail("layer", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fail("layer", err)
		}
		a.Layers = append(a.Layers, layer{Digest: d.Digest.String(), Size: size,
			SHA256: "sha256:" + hex.EncodeToString(h.Sum(nil)), Length: n})
	}
	return a
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail("request", err) })
}
