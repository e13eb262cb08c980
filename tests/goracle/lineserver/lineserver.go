// Package lineserver is the loop every oracle program runs: one JSON request per line of
// stdin, one JSON answer per line of stdout, until stdin ends (tests/goracle.py's Oracle).
package lineserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// Serve decodes each line into a Req and writes handle's answer; a line that is not a
// Req gets bad's answer instead, so the test sees the problem rather than a hang.
func Serve[Req any](handle func(Req) any, bad func(error) any) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req Req
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			_ = out.Encode(bad(fmt.Errorf("bad request: %w", err)))
			continue
		}
		_ = out.Encode(handle(req))
	}
}
