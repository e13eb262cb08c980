// The duration oracle: Go's time.ParseDuration, what pflag's Duration flags (skopeo's
// --command-timeout and --retry-delay) parse their value with, one JSON request per line.
//
// Request:  {"text": "..."}
// Answer:   {"ns": n} or {"error": "..."}
package main

import (
	"time"

	"tcoracle/lineserver"
)

type request struct {
	Text string `json:"text"`
}

type answer struct {
	Ns    *int64  `json:"ns,omitempty"`
	Error *string `json:"error,omitempty"`
}

func main() {
	lineserver.Serve(func(req request) any {
		d, err := time.ParseDuration(req.Text)
		if err != nil {
			msg := err.Error()
			return answer{Error: &msg}
		}
		ns := int64(d)
		return answer{Ns: &ns}
	}, func(err error) any {
		msg := err.Error()
		return answer{Error: &msg}
	})
}
