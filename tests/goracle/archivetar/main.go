// The archivetar oracle: Go's archive/tar reader (what containers/image's tarfile reader and
// archive sources iterate with), one JSON request per line.
//
// Request:  {"tar": [bytes]}
// Answer:   {"entries": [{"name": ..., "link": ..., "type": "0", "size": n}], "error": "..."}
//
// Every entry Next returns is listed (global "g" headers too), up to the first error.
package main

import (
	"archive/tar"
	"bytes"
	"io"
	"tcoracle/lineserver"
)

type request struct {
	Tar []byte `json:"tar"`
}

type entry struct {
	Name string `json:"name"`
	Link string `json:"link"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

type answer struct {
	Entries []entry `json:"entries"`
	Error   *string `json:"error,omitempty"`
}

func handle(req request) any {
	out := answer{Entries: []entry{}}
	r := tar.NewReader(bytes.NewReader(req.Tar))
	for {
		h, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			msg := err.Error()
			out.Error = &msg
			return out
		}
		out.Entries = append(out.Entries, entry{Name: h.Name, Link: h.Linkname, Type: string([]byte{h.Typeflag}), Size: h.Size})
	}
}

func main() {
	lineserver.Serve(handle, func(err error) any { msg := err.Error(); return answer{Error: &msg} })
}
