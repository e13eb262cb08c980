// The tarball oracle: containers/image's tarball: transport, one JSON request per line.
//
// Request:  {"ref": "a.tar:b.tar.gz", "cwd": "/dir" (optional), "tz": "Europe/Berlin" (optional),
//
//	"stdin": [bytes] (the data a "-" stands for; only with "-")}
//
// Answer:   {"error": "...", "stage": "parse" | "source" | "blob"} or
//
//	{"within": ..., "identity": ..., "namespaces": [...], "scope_error": ..., "manifest": ...,
//	 "mime": ..., "config": ..., "blobs": [{"digest": ..., "size": n, "read_size": n, "read_digest": ...}]}
//
// The line server's standard input carries the requests, so "-" cannot be read from it: a
// reference naming "-" is made with NewReference and the request's bytes (each other file
// is still checked by ParseReference, alone, as ParseReference checks it).
// "tz" replaces time.Local (file times are local times in Go); without it, time.Local is
// what Go made of the program's $TZ (or the last request's "tz").
package main

import (
	"context"
	_ "crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"tcoracle/lineserver"
	"time"

	"github.com/containers/image/tarball"
	"github.com/containers/image/types"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type request struct {
	Ref   string  `json:"ref"`
	Cwd   string  `json:"cwd"`
	TZ    string  `json:"tz"`
	Stdin *[]byte `json:"stdin"`
}

type blob struct {
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	ReadSize   int64  `json:"read_size"`
	ReadDigest string `json:"read_digest"`
}

type answer struct {
	Error      *string  `json:"error,omitempty"`
	Stage      string   `json:"stage,omitempty"`
	Within     string   `json:"within"`
	Identity   string   `json:"identity"`
	Namespaces []string `json:"namespaces"`
	DockerRef  bool     `json:"docker_ref"`
	ScopeError string   `json:"scope_error"`
	Manifest   string   `json:"manifest"`
	Mime       string   `json:"mime"`
	Config     string   `json:"config"`
	Blobs      []blob   `json:"blobs"`
}

func fail(stage string, err error) answer {
	msg := err.Error()
	return answer{Error: &msg, Stage: stage}
}

func parse(req request) (types.ImageReference, error) {
	names := strings.Split(req.Ref, ":")
	stdin := false
	for _, name := range names {
		stdin = stdin || name == "-"
	}
	if !stdin {
		return tarball.Transport.ParseReference(req.Ref)
	}
	for _, name := range names {
		if name != "-" {
			if _, err := tarball.Transport.ParseReference(name); err != nil {
				return nil, err
			}
		}
	}
	data := []byte{}
	if req.Stdin != nil {
		data = *req.Stdin
	}
	return tarball.NewReference(names, data)
}

func readBlob(ctx context.Context, src types.ImageSource, d digest.Digest) (blob, error) {
	reader, size, err := src.GetBlob(ctx, types.BlobInfo{Digest: d, Size: -1}, nil)
	if err != nil {
		return blob{}, err
	}
	defer reader.Close()
	digester := digest.Canonical.Digester()
	n, err := io.Copy(digester.Hash(), reader)
	if err != nil {
		return blob{}, err
	}
	return blob{Digest: d.String(), Size: size, ReadSize: n, ReadDigest: digester.Digest().String()}, nil
}

func handle(req request) answer {
	if req.Cwd != "" {
		if err := os.Chdir(req.Cwd); err != nil {
			return fail("setup", err)
		}
	}
	if req.TZ != "" {
		loc, err := time.LoadLocation(req.TZ)
		if err != nil {
			return fail("setup", err)
		}
		time.Local = loc
	}
	ref, err := parse(req)
	if err != nil {
		return fail("parse", err)
	}
	a := answer{
		Within:     ref.StringWithinTransport(),
		Identity:   ref.PolicyConfigurationIdentity(),
		Namespaces: ref.PolicyConfigurationNamespaces(),
		DockerRef:  ref.DockerReference() != nil,
		Blobs:      []blob{},
	}
	if err := ref.Transport().ValidatePolicyConfigurationScope(req.Ref); err != nil {
		a.ScopeError = err.Error()
	}
	ctx := context.Background()
	src, err := ref.NewImageSource(ctx, nil)
	if err != nil {
		return fail("source", err)
	}
	defer src.Close()
	manifest, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return fail("source", err)
	}
	a.Manifest, a.Mime = string(manifest), mime
	var parsed imgspecv1.Manifest
	if err := json.Unmarshal(manifest, &parsed); err != nil {
		return fail("source", fmt.Errorf("the manifest does not parse: %w", err))
	}
	config, err := readBlob(ctx, src, parsed.Config.Digest)
	if err != nil {
		return fail("blob", err)
	}
	reader, _, _ := src.GetBlob(ctx, types.BlobInfo{Digest: parsed.Config.Digest, Size: -1}, nil)
	configBytes, _ := io.ReadAll(reader)
	reader.Close()
	a.Config = string(configBytes)
	a.Blobs = append(a.Blobs, config)
	for _, layer := range parsed.Layers {
		b, err := readBlob(ctx, src, layer.Digest)
		if err != nil {
			return fail("blob", err)
		}
		a.Blobs = append(a.Blobs, b)
	}
	return a
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail("request", err) })
}
