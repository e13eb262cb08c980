// The layercompression oracle: what containers/image's copy pipeline does to one layer's compression.
//
// Request:  {"manifest": "...", "mime": "...", "desired": 0|1|2 (PreserveOriginal|Decompress|Compress),
//
//	"format": "gzip"|"zstd"|...|"", "canModify": bool, "mediaType": "...", "data": base64}
//
// Answer:   {"operation": 0|1|2, "uploaded": name or "", "changed": bool, "detected": name or ""}
//
//	or {"error": "..."}
package main

import (
	"tcoracle/lineserver"

	"github.com/containers/image/copy"
	"github.com/containers/image/types"
)

type request struct {
	Manifest  string `json:"manifest"`
	MIME      string `json:"mime"`
	Desired   int    `json:"desired"`
	Format    string `json:"format"`
	CanModify bool   `json:"canModify"`
	MediaType string `json:"mediaType"`
	Data      []byte `json:"data"`
}

type answer struct {
	Error     *string `json:"error,omitempty"`
	Operation int     `json:"operation"`
	Uploaded  string  `json:"uploaded"`
	Changed   bool    `json:"changed"`
	Detected  string  `json:"detected"`
}

func fail(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func handle(req request) answer {
	op, uploaded, changed, detected, err := copy.OracleCompressionStep([]byte(req.Manifest), req.MIME,
		types.LayerCompression(req.Desired), req.Format, req.CanModify, req.MediaType, req.Data)
	if err != nil {
		return fail(err)
	}
	return answer{Operation: int(op), Uploaded: uploaded, Changed: changed, Detected: detected}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) }, func(err error) any { return fail(err) })
}
