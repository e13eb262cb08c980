// The schema1 signature oracle: does a pretty-JWS schema1 manifest parse and verify as
// containers/image (manifest.Schema1FromManifest, manifest.Digest) and docker/libtrust
// (ParsePrettySignature, Verify) see it? One JSON request per line.
//
// Request:  {"op": "Verify" | "Sign", "manifest": base64} or
//
//	{"op": "Serialize", "manifest": base64, "layers": [digest, ...] (base first; optional),
//	 "reference": "name[:tag]" (optional)}
//
// Answer:   {"error": "...", "stage": "parse" | "jws" | "verify" | "digest" | "update"} or
//
//	Verify: {"name", "tag", "payload": base64, "digest", "key_ids": [...], "curves": [...]}
//	Serialize: {"output": base64}: what manifestSchema1.UpdatedImage(LayerInfos,
//	EmbeddedDockerReference) serializes (the Name/Tag update restated: it is three lines of
//	internal/image, which a program outside the module cannot import), signed by Go's own
//	throw-away key.
//	Sign: {"output": base64}: manifest.AddDummyV2S1Signature of the bytes as they are (any JSON
//	object, indented or not; nothing parsed as schema1).
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	"tcoracle/lineserver"

	"github.com/containers/image/docker/reference"
	"github.com/containers/image/manifest"
	"github.com/containers/image/types"
	"github.com/docker/libtrust"
	"github.com/opencontainers/go-digest"
)

type request struct {
	Op        string   `json:"op"`
	Manifest  []byte   `json:"manifest"`
	Layers    []string `json:"layers"`
	Reference string   `json:"reference"`
}

type answer struct {
	Error   *string  `json:"error,omitempty"`
	Stage   string   `json:"stage,omitempty"`
	Name    string   `json:"name"`
	Tag     string   `json:"tag"`
	Payload []byte   `json:"payload,omitempty"`
	Digest  string   `json:"digest,omitempty"`
	KeyIDs  []string `json:"key_ids,omitempty"`
	Curves  []string `json:"curves,omitempty"`
	Output  []byte   `json:"output,omitempty"`
}

func fail(stage string, err error) answer {
	msg := err.Error()
	return answer{Error: &msg, Stage: stage}
}

func serialize(req request, s1 *manifest.Schema1) answer {
	if req.Layers != nil {
		infos := []types.BlobInfo{}
		for _, d := range req.Layers {
			infos = append(infos, types.BlobInfo{Digest: digest.Digest(d), Size: -1})
		}
		if err := s1.UpdateLayerInfos(infos); err != nil {
			return fail("update", err)
		}
	}
	if req.Reference != "" {
		ref, err := reference.ParseNormalizedNamed(req.Reference)
		if err != nil {
			return fail("update", err)
		}
		s1.Name = reference.Path(ref)
		s1.Tag = ""
		if tagged, ok := ref.(reference.NamedTagged); ok {
			s1.Tag = tagged.Tag()
		}
	}
	out, err := s1.Serialize()
	if err != nil {
		return fail("update", err)
	}
	return answer{Output: out}
}

func handle(req request) answer {
	if req.Op == "Sign" {
		out, err := manifest.AddDummyV2S1Signature(req.Manifest)
		if err != nil {
			return fail("update", err)
		}
		return answer{Output: out}
	}
	s1, err := manifest.Schema1FromManifest(req.Manifest)
	if err != nil {
		return fail("parse", err)
	}
	if req.Op == "Serialize" {
		return serialize(req, s1)
	}
	js, err := libtrust.ParsePrettySignature(req.Manifest, "signatures")
	if err != nil {
		return fail("jws", err)
	}
	keys, err := js.Verify()
	if err != nil {
		return fail("verify", err)
	}
	payload, err := js.Payload()
	if err != nil {
		return fail("jws", err)
	}
	d, err := manifest.Digest(req.Manifest)
	if err != nil {
		return fail("digest", err)
	}
	out := answer{Name: s1.Name, Tag: s1.Tag, Payload: payload, Digest: d.String()}
	for _, k := range keys {
		out.KeyIDs = append(out.KeyIDs, k.KeyID())
		if ec, ok := k.(interface{ CurveName() string }); ok {
			out.Curves = append(out.Curves, ec.CurveName())
		}
	}
	return out
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { msg := err.Error(); return answer{Error: &msg, Stage: "request"} })
}
