// The copy oracle: containers/image's copy decisions and compression detection, one JSON request per line.
//
// Requests:
//
//	{"op": "detect", "data": base64}  → {"algorithm": name or "", "decompressor": bool, "rest": base64}
//	    (pkg/compression.DetectCompressionFormat and DetectCompression; rest is everything the
//	    returned reader yields, which must be the whole input)
//	{"op": "decompress", "data": base64}  → {"algorithm": ..., "output": base64} or {"error": ...}
//	    (the detected decompressor, read to its end)
//	{"op": "conversion", "src": ..., "supported": [...] or null, "force": ..., "encryption": bool,
//	 "cannotModify": ...}  → {"preferred": ..., "needsConversion": bool, "others": [...]} or {"error": ...}
//	    (copy's determineManifestConversion, through the overlay wrapper)
package main

import (
	"bytes"
	"fmt"
	"io"
	"tcoracle/lineserver"

	"github.com/containers/image/copy"
	"github.com/containers/image/pkg/compression"
)

type request struct {
	Op           string   `json:"op"`
	Data         []byte   `json:"data"`
	Src          string   `json:"src"`
	Supported    []string `json:"supported"`
	Force        string   `json:"force"`
	Encryption   bool     `json:"encryption"`
	CannotModify string   `json:"cannotModify"`
}

type answer struct {
	Error           *string  `json:"error,omitempty"`
	Algorithm       string   `json:"algorithm"`
	Decompressor    bool     `json:"decompressor"`
	Rest            []byte   `json:"rest,omitempty"`
	Output          []byte   `json:"output,omitempty"`
	Preferred       string   `json:"preferred,omitempty"`
	NeedsConversion bool     `json:"needsConversion"`
	Others          []string `json:"others,omitempty"`
}

func fail(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func detect(data []byte) answer {
	algo, decompressor, rest, err := compression.DetectCompressionFormat(bytes.NewReader(data))
	if err != nil {
		return fail(err)
	}
	restBytes, err := io.ReadAll(rest)
	if err != nil {
		return fail(err)
	}
	// DetectCompression must agree (it is the same decision without the name).
	decompressor2, _, err := compression.DetectCompression(bytes.NewReader(data))
	if err != nil {
		return fail(err)
	}
	if (decompressor == nil) != (decompressor2 == nil) {
		return fail(fmt.Errorf("DetectCompression and DetectCompressionFormat disagree"))
	}
	return answer{Algorithm: algo.Name(), Decompressor: decompressor != nil, Rest: restBytes}
}

func decompress(data []byte) answer {
	algo, decompressor, rest, err := compression.DetectCompressionFormat(bytes.NewReader(data))
	if err != nil {
		return fail(err)
	}
	if decompressor == nil {
		return fail(fmt.Errorf("not compressed"))
	}
	reader, err := decompressor(rest)
	if err != nil {
		return fail(err)
	}
	defer reader.Close()
	out, err := io.ReadAll(reader)
	if err != nil {
		return fail(err)
	}
	return answer{Algorithm: algo.Name(), Decompressor: true, Output: out}
}

func handle(req request) answer {
	switch req.Op {
	case "detect":
		return detect(req.Data)
	case "decompress":
		return decompress(req.Data)
	case "conversion":
		preferred, needs, others, err := copy.OracleDetermineManifestConversion(req.Src, req.Supported, req.Force,
			req.Encryption, req.CannotModify)
		if err != nil {
			return fail(err)
		}
		return answer{Preferred: preferred, NeedsConversion: needs, Others: others}
	default:
		return fail(fmt.Errorf("unknown op %q", req.Op))
	}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) }, func(err error) any { return fail(err) })
}
