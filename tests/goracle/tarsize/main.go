// The tarsize oracle: how Go's archive/tar (what containers/image writes docker-archive
// members with, and reads every archive with) encodes and decodes member sizes, one JSON
// request per line. Nothing of a member's data is written or read: only headers.
//
// Request:  {"op": "write", "name": "...", "size": n}
// Answer:   {"header": "<base64 of every byte WriteHeader wrote>"} or {"error": "..."}
//
//	(the header c/image's docker/internal/tarfile writer sends for a file of n bytes:
//	tar.FileInfoHeader of a 0444 regular file with mtime 0, as its tarFI describes it)
//
// Request:  {"op": "read", "tar": "<base64>"}
// Answer:   {"entries": [{"name": ..., "type": "0", "size": n}], "error": "..."}
//
//	(every entry Next returns before the first error; a header-only archive of a huge
//	member ends with an unexpected-EOF error after that member's entry)
package main

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"time"

	"tcoracle/lineserver"
)

type request struct {
	Op   string `json:"op"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Tar  string `json:"tar"`
}

type entry struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

type answer struct {
	Header  string  `json:"header,omitempty"`
	Entries []entry `json:"entries,omitempty"`
	Error   *string `json:"error,omitempty"`
}

// fileInfo is a regular 0444 file of the requested size with mtime 0: what c/image's
// tarFI reports for a member it sends.
type fileInfo struct {
	name string
	size int64
}

func (f fileInfo) Name() string       { return f.name }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() os.FileMode  { return 0444 }
func (f fileInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() any           { return nil }

func fail(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func handle(req request) any {
	switch req.Op {
	case "write":
		hdr, err := tar.FileInfoHeader(fileInfo{name: req.Name, size: req.Size}, "")
		if err != nil {
			return fail(err)
		}
		var buf bytes.Buffer
		if err := tar.NewWriter(&buf).WriteHeader(hdr); err != nil {
			return fail(err)
		}
		return answer{Header: base64.StdEncoding.EncodeToString(buf.Bytes())}
	case "read":
		raw, err := base64.StdEncoding.DecodeString(req.Tar)
		if err != nil {
			return fail(err)
		}
		out := answer{Entries: []entry{}}
		r := tar.NewReader(bytes.NewReader(raw))
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
			out.Entries = append(out.Entries, entry{Name: h.Name, Type: string([]byte{h.Typeflag}), Size: h.Size})
		}
	}
	msg := "unknown op " + req.Op
	return answer{Error: &msg}
}

func main() {
	lineserver.Serve(handle, func(err error) any { return fail(err) })
}
