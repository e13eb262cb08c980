// The inspect oracle: what `skopeo inspect` (1.9.3, containers/image 5.23) prints for an image.
//
// Request: {"manifest": base64, "config": base64, "mode": ""|"config"|"rawconfig"}. A small in-memory
// ImageSource serves the manifest (its MIME type guessed, as the dir: transport does) and the config
// blob (whatever digest is asked for: containers/image verifies it; without "config" there is no
// blob, as for a schema1 image). image.FromUnparsedImage(...) parses it, and then, as skopeo does:
//   - mode "": Inspect(), answered as skopeo's output struct, filled as skopeo fills it for a
//     reference without a Docker name (`skopeo inspect`);
//   - mode "config": OCIConfig(), marshalled in the newest image-spec's v1.Image shape (`skopeo
//     inspect --config`; see newestImage);
//   - mode "rawconfig": ConfigBlob(), in "raw" (`skopeo inspect --config --raw`).
//
// Answer: {"output": "<MarshalIndent text + newline>", "mime": ..., "raw": base64} or
// {"stage": "parse"|"inspect"|"config"|"digest", "error": ...}.
package main

import (
	"bytes"
	"context"
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"tcoracle/lineserver"
	"time"

	"github.com/containers/image/directory"
	"github.com/containers/image/image"
	"github.com/containers/image/manifest"
	"github.com/containers/image/types"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type request struct {
	Manifest []byte `json:"manifest"`
	Config   []byte `json:"config"`
	Mode     string `json:"mode"`
}

type answer struct {
	Output string  `json:"output,omitempty"`
	Raw    []byte  `json:"raw,omitempty"`
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

// newestImage restates the field list of the newest image-spec's v1.Image, which trustcopy's
// `inspect --config` prints (NOTE(go-diff): 5.23's image-spec 1.1.0-rc2 puts "variant" before "os"
// and always prints "config"; the newest embeds Platform, so "variant" follows "os.features",
// and "config" is `omitzero`, which Go 1.19 lacks: a nil pointer stands for a zero ImageConfig).
type newestImage struct {
	Created      *time.Time             `json:"created,omitempty"`
	Author       string                 `json:"author,omitempty"`
	Architecture string                 `json:"architecture"`
	OS           string                 `json:"os"`
	OSVersion    string                 `json:"os.version,omitempty"`
	OSFeatures   []string               `json:"os.features,omitempty"`
	Variant      string                 `json:"variant,omitempty"`
	Config       *imgspecv1.ImageConfig `json:"config,omitempty"`
	RootFS       imgspecv1.RootFS       `json:"rootfs"`
	History      []imgspecv1.History    `json:"history,omitempty"`
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
	if s.config == nil {
		return nil, -1, errors.New("this source has no blobs")
	}
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
	switch req.Mode {
	case "rawconfig":
		blob, err := img.ConfigBlob(ctx)
		if err != nil {
			return fail("config", err)
		}
		return answer{Raw: blob, Mime: manifest.GuessMIMEType(req.Manifest)}
	case "config":
		config, err := img.OCIConfig(ctx)
		if err != nil {
			return fail("config", err)
		}
		newest := newestImage{Created: config.Created, Author: config.Author, Architecture: config.Architecture,
			OS: config.OS, OSVersion: config.OSVersion, OSFeatures: config.OSFeatures, Variant: config.Variant,
			RootFS: config.RootFS, History: config.History}
		if !reflect.ValueOf(config.Config).IsZero() {
			newest.Config = &config.Config
		}
		text, err := json.MarshalIndent(newest, "", "    ")
		if err != nil {
			return fail("marshal", err)
		}
		return answer{Output: string(text) + "\n", Mime: manifest.GuessMIMEType(req.Manifest)}
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
