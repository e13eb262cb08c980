// The policy oracle: containers/image's signature package (policy.json parsing, signedIdentity
// matching, scope selection), one JSON request per line.
//
// Requests and answers:
//
//	{"op": "parse", "data": BASE64}                  → {"policy": <the parsed policy, marshalled>} or {"error": "..."}
//	{"op": "match", "matcher": {...}, "image": REF|null, "signed": "..."}
//	                                                → {"match": bool} or {"error": "..."} (invalid matcher or image)
//	{"op": "scope", "data": BASE64, "image": "transport:ref"}
//	                                                → {"requirements": [...]} or {"error": "..."}
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"tcoracle/lineserver"

	"github.com/containers/image/docker/reference"
	"github.com/containers/image/signature"
	"github.com/containers/image/transports/alltransports"
)

type request struct {
	Op      string          `json:"op"`
	Data    []byte          `json:"data"`
	Matcher json.RawMessage `json:"matcher"`
	Image   *string         `json:"image"`
	Signed  string          `json:"signed"`
}

type answer struct {
	Error        *string         `json:"error,omitempty"`
	Policy       json.RawMessage `json:"policy,omitempty"`
	Match        *bool           `json:"match,omitempty"`
	Requirements json.RawMessage `json:"requirements,omitempty"`
}

func fail(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func handle(req request) answer {
	switch req.Op {
	case "parse":
		policy, err := signature.NewPolicyFromBytes(req.Data)
		if err != nil {
			return fail(err)
		}
		out, err := json.Marshal(policy)
		if err != nil {
			return fail(err)
		}
		return answer{Policy: out}
	case "match":
		var image reference.Named
		if req.Image != nil {
			ref, err := reference.ParseNormalizedNamed(*req.Image)
			if err != nil {
				return fail(fmt.Errorf("image: %w", err))
			}
			image = ref
		}
		ok, err := signature.OracleIdentityMatches(req.Matcher, image, req.Signed)
		if err != nil {
			return fail(err)
		}
		return answer{Match: &ok}
	case "scope":
		policy, err := signature.NewPolicyFromBytes(req.Data)
		if err != nil {
			return fail(err)
		}
		if req.Image == nil {
			return fail(fmt.Errorf("no image"))
		}
		ref, err := alltransports.ParseImageName(*req.Image)
		if err != nil {
			return fail(fmt.Errorf("image: %w", err))
		}
		pc, err := signature.NewPolicyContext(policy)
		if err != nil {
			return fail(err)
		}
		defer func() { _ = pc.Destroy() }()
		out, err := json.Marshal(pc.OracleRequirementsFor(ref))
		if err != nil {
			return fail(err)
		}
		return answer{Requirements: out}
	default:
		return fail(fmt.Errorf("unknown op %q", req.Op))
	}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail(err) })
}
