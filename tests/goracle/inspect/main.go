// The inspect oracle: what `skopeo inspect` (1.9.3, containers/image 5.23) prints for an image.
//
// Request: {"manifest": base64, "config": base64}. A small in-memory ImageSource serves the manifest
// (its MIME type guessed, as the dir: transport does) and the config blob (whatever digest is asked
// for: containers/image verifies it). image.FromUnparsedImage(...).Inspect() runs on it, and the
// answer is skopeo's output struct, filled as skopeo fills it for a reference without a Docker name.
//
// Answer: {"output": "<MarshalIndent text + newline>", "mime": ...} or {"stage": "parse"|"inspect", "error": ...}.
package main

import (
	"bytes"
	"context"
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"io"
	"tcoracle/lineserver"
	"time"

	"github.com/containers/image/directory"
	"github.com/containers/image/image"
	"github.com/containers/image/manifest"
	"github.com/containers/image/types"
	digest "github.com/opencontainers/go-digest"
)

type request struct {
	Manifest []byte `json:"manifest"`
	Config   []byte `json:"config"`
}

type answer struct {
	Output string  `json:"output,omitempty"`
	Mime   string  `json:"mime,omitempty"`
	Stage  string  `json:"stage,omitempty"`
	Error  *string `json:"error,omitempty"`
}

// output restates the field list of skopeo's cmd/skopeo/inspect.Output.
type output struct {
	Name          string `json:",omitempty"`
	Tag           string `json:",omitempty"`
	Digest        digest.Digest
	RepoTags      []string
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Os            string
	Layers        []string
	LayersData    []types.ImageInspectLayer
	Env           []string
}

// memorySource is an ImageSource holding one manifest and one config blob.
type memorySource struct {
	ref              types.ImageReference
	manifest, config []byte
}

func (s *memorySource) Reference() types.ImageReference { return s.ref }
func (s *memorySource) Close() error                    { return nil }
func (s *memorySource) GetManifest(_ context.Context, instance *digest.Digest) ([]byte, string, error) {
	if instance != nil {
		return nil, "", errors.New("no manifest instances in this source")
	}
	return s.manifest, manifest.GuessMIMEType(s.manifest), nil
}
func (s *memorySource) GetBlob(context.Context, types.BlobInfo, types.BlobInfoCache) (io.ReadCloser, int64, error) {
	return io.NopCloser(bytes.NewReader(s.config)), int64(len(s.config)), nil
}
func (s *memorySource) HasThreadSafeGetBlob() bool { return false }
func (s *memorySource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, nil
}
func (s *memorySource) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}

func fail(stage string, err error) answer {
	msg := err.Error()
	return answer{Stage: stage, Error: &msg}
}

func handle(req request) answer {
	ctx := context.Background()
	// A dir: reference only names the source (no Docker name, so skopeo prints no "Name"); nothing is read from it.
	ref, err := directory.NewReference("/")
	if err != nil {
		return fail("request", err)
	}
	src := &memorySource{ref: ref, manifest: req.Manifest, config: req.Config}
	img, err := image.FromUnparsedImage(ctx, nil, image.UnparsedInstance(src, nil))
	if err != nil {
		return fail("parse", err)
	}
	info, err := img.Inspect(ctx)
	if err != nil {
		return fail("inspect", err)
	}
	out := output{Tag: info.Tag, RepoTags: []string{}, Created: info.Created, DockerVersion: info.DockerVersion,
		Labels: info.Labels, Architecture: info.Architecture, Os: info.Os, Layers: info.Layers,
		LayersData: info.LayersData, Env: info.Env}
	if out.Digest, err = manifest.Digest(req.Manifest); err != nil {
		return fail("digest", err)
	}
	text, err := json.MarshalIndent(out, "", "    ")
	if err != nil {
		return fail("marshal", err)
	}
	return answer{Output: string(text) + "\n", Mime: manifest.GuessMIMEType(req.Manifest)}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail("request", err) })
}
