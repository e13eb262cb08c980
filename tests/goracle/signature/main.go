// The signature oracle: containers/image's payload parsers and signature blob envelope,
// one JSON request per line.
//
// Request: {"op": "simple" | "sigstore" | "blob", "data": base64 bytes}
// Answer:  {"error": "..."} or, for "simple"/"sigstore", {"digest", "reference", "creator"?, "timestamp"?,
//
//	"digest_parses": bool, "reference_parses": bool}; for "blob", {"format", "mime", "payload" (base64),
//	"annotations"}.
//
// "digest_parses" is go-digest's digest.Parse of the digest (the newest containers/image
// refuses the payload when it fails; 5.23 leaves the check to the caller), and
// "reference_parses" is docker/reference.ParseNormalizedNamed of the reference.
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"fmt"
	"tcoracle/lineserver"

	"github.com/containers/image/docker/reference"
	"github.com/containers/image/signature"
	digest "github.com/opencontainers/go-digest"
)

type request struct {
	Op   string `json:"op"`
	Data []byte `json:"data"`
}

type answer struct {
	Error           *string           `json:"error,omitempty"`
	Digest          string            `json:"digest,omitempty"`
	Reference       string            `json:"reference,omitempty"`
	Creator         *string           `json:"creator,omitempty"`
	Timestamp       *int64            `json:"timestamp,omitempty"`
	DigestParses    bool              `json:"digest_parses"`
	ReferenceParses bool              `json:"reference_parses"`
	Format          string            `json:"format,omitempty"`
	MIME            string            `json:"mime,omitempty"`
	Payload         []byte            `json:"payload,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

func failed(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func handle(req request) answer {
	switch req.Op {
	case "simple", "sigstore":
		parse := signature.OracleParseSimple
		if req.Op == "sigstore" {
			parse = signature.OracleParseSigstore
		}
		p, err := parse(req.Data)
		if err != nil {
			return failed(err)
		}
		_, digestErr := digest.Parse(p.Digest)
		_, refErr := reference.ParseNormalizedNamed(p.Reference)
		return answer{Digest: p.Digest, Reference: p.Reference, Creator: p.Creator, Timestamp: p.Timestamp,
			DigestParses: digestErr == nil, ReferenceParses: refErr == nil}
	case "blob":
		format, mime, payload, annotations, err := signature.OracleFromBlob(req.Data)
		if err != nil {
			return failed(err)
		}
		return answer{Format: format, MIME: mime, Payload: payload, Annotations: annotations}
	}
	return failed(fmt.Errorf("unknown op %q", req.Op))
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return failed(err) })
}
