// The schema1 conversion oracle: containers/image's manifest.Schema1 (Schema1FromManifest,
// ToSchema2Config, UpdateLayerInfos), one JSON request per line.
//
// Request:  {"op": "ToSchema2Config" | "UpdatedPayload", "manifest": base64, "diff_ids": [...],
//
//	"layers": [digest, ...] (base first; UpdatedPayload)}
//
// Answer:   {"error": "...", "stage": "parse" | "convert" | "update"} or {"output": base64, "empty": [bool...]}
//
// UpdatedPayload answers json.Marshal of the updated Schema1 struct: the payload Serialize would
// sign (Serialize itself signs with a fresh random key).
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"tcoracle/lineserver"

	"github.com/containers/image/manifest"
	"github.com/containers/image/types"
	"github.com/opencontainers/go-digest"
)

type request struct {
	Op       string   `json:"op"`
	Manifest []byte   `json:"manifest"`
	DiffIDs  []string `json:"diff_ids"`
	Layers   []string `json:"layers"`
}

type answer struct {
	Error  *string `json:"error,omitempty"`
	Stage  string  `json:"stage,omitempty"`
	Output []byte  `json:"output,omitempty"`
	Empty  []bool  `json:"empty,omitempty"`
}

func fail(stage string, err error) answer {
	msg := err.Error()
	return answer{Error: &msg, Stage: stage}
}

func handle(req request) answer {
	s1, err := manifest.Schema1FromManifest(req.Manifest)
	if err != nil {
		return fail("parse", err)
	}
	empty := []bool{}
	for _, l := range s1.LayerInfos() {
		empty = append(empty, l.EmptyLayer)
	}
	switch req.Op {
	case "ToSchema2Config":
		ids := []digest.Digest{}
		for _, d := range req.DiffIDs {
			ids = append(ids, digest.Digest(d))
		}
		config, err := s1.ToSchema2Config(ids)
		if err != nil {
			return fail("convert", err)
		}
		return answer{Output: config, Empty: empty}
	case "UpdatedPayload":
		infos := []types.BlobInfo{}
		for _, d := range req.Layers {
			infos = append(infos, types.BlobInfo{Digest: digest.Digest(d), Size: -1})
		}
		if err := s1.UpdateLayerInfos(infos); err != nil {
			return fail("update", err)
		}
		payload, err := json.Marshal(*s1)
		if err != nil {
			return fail("update", err)
		}
		return answer{Output: payload, Empty: empty}
	}
	return fail("request", fmt.Errorf("unknown op %q", req.Op))
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { msg := err.Error(); return answer{Error: &msg, Stage: "request"} })
}
