// The reference oracle: containers/image's docker/reference parsing, one JSON request per line.
//
// Request:  {"op": "ParseNormalizedNamed" | "ParseNamed" | "ParseAnyReference" | "ParseDockerRef", "input": "..."}
// Answer:   {"error": "..."} or {"string": ..., "name": ..., "familiar": ..., "domain": ..., "path": ...,
//
//	"tag": ..., "digest": ..., "tagged": bool, "digested": bool}
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"fmt"
	"tcoracle/lineserver"

	"github.com/containers/image/docker/reference"
)

type request struct {
	Op    string `json:"op"`
	Input string `json:"input"`
}

type answer struct {
	Error    *string `json:"error,omitempty"`
	String   string  `json:"string,omitempty"`
	Name     string  `json:"name,omitempty"`
	Familiar string  `json:"familiar,omitempty"`
	Domain   string  `json:"domain,omitempty"`
	Path     string  `json:"path,omitempty"`
	Tag      string  `json:"tag,omitempty"`
	Digest   string  `json:"digest,omitempty"`
	Tagged   bool    `json:"tagged"`
	Digested bool    `json:"digested"`
}

func describe(ref reference.Reference) answer {
	a := answer{String: ref.String()}
	if named, ok := ref.(reference.Named); ok {
		a.Name = named.Name()
		a.Familiar = reference.FamiliarString(named)
		a.Domain = reference.Domain(named)
		a.Path = reference.Path(named)
	}
	if tagged, ok := ref.(reference.Tagged); ok {
		a.Tagged, a.Tag = true, tagged.Tag()
	}
	if digested, ok := ref.(reference.Digested); ok {
		a.Digested, a.Digest = true, digested.Digest().String()
	}
	return a
}

func handle(req request) answer {
	var ref reference.Reference
	var err error
	switch req.Op {
	case "ParseNormalizedNamed":
		ref, err = reference.ParseNormalizedNamed(req.Input)
	case "ParseNamed":
		ref, err = reference.ParseNamed(req.Input)
	case "ParseAnyReference":
		ref, err = reference.ParseAnyReference(req.Input)
	case "ParseDockerRef":
		ref, err = reference.ParseDockerRef(req.Input)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		msg := err.Error()
		return answer{Error: &msg}
	}
	return describe(ref)
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { msg := err.Error(); return answer{Error: &msg} })
}
