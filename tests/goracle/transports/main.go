// The transports oracle: containers/image's image-name parsing (alltransports.ParseImageName
// over the transports trustcopy has), one JSON request per line.
//
// Request:  {"name": "transport:reference", "cwd": "/dir"}   (cwd: where relative paths resolve)
// Answer:   {"error": "..."} or {"transport": ..., "within": ..., "docker_ref": string|null,
//
//	"identity": ..., "namespaces": [...], "parts": {"path": ..., "image": ..., "index": N} | null}
//
// The transports are registered by importing their packages, as alltransports does, but only
// those trustcopy supports (alltransports itself also links sif, storage and ostree stubs).
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"fmt"
	"os"
	"strings"
	"tcoracle/lineserver"

	_ "github.com/containers/image/directory"
	_ "github.com/containers/image/docker"
	dockerarchive "github.com/containers/image/docker/archive"
	_ "github.com/containers/image/docker/daemon"
	ociarchive "github.com/containers/image/oci/archive"
	ocilayout "github.com/containers/image/oci/layout"
	_ "github.com/containers/image/tarball"
	"github.com/containers/image/transports"
	"github.com/containers/image/types"
)

type request struct {
	Name string `json:"name"`
	Cwd  string `json:"cwd"`
}

type parts struct {
	Path  string `json:"path"`
	Image string `json:"image"`
	Index int    `json:"index"`
}

type answer struct {
	Error      *string  `json:"error,omitempty"`
	Transport  string   `json:"transport"`
	Within     string   `json:"within"`
	DockerRef  *string  `json:"docker_ref"`
	Identity   string   `json:"identity"`
	Namespaces []string `json:"namespaces"`
	Parts      *parts   `json:"parts"`
}

// parseImageName is alltransports.ParseImageName (which we do not link, see above).
func parseImageName(name string) (types.ImageReference, error) {
	transportName, rest, found := strings.Cut(name, ":")
	if !found {
		return nil, fmt.Errorf(`Invalid image name "%s", expected colon-separated transport:reference`, name)
	}
	transport := transports.Get(transportName)
	if transport == nil {
		return nil, fmt.Errorf(`Invalid image name "%s", unknown transport "%s"`, name, transportName)
	}
	return transport.ParseReference(rest)
}

func fail(err error) answer {
	msg := err.Error()
	return answer{Error: &msg}
}

func handle(req request) answer {
	if req.Cwd != "" {
		if err := os.Chdir(req.Cwd); err != nil {
			return fail(fmt.Errorf("oracle: chdir: %w", err))
		}
	}
	ref, err := parseImageName(req.Name)
	if err != nil {
		return fail(err)
	}
	a := answer{
		Transport:  ref.Transport().Name(),
		Within:     ref.StringWithinTransport(),
		Identity:   ref.PolicyConfigurationIdentity(),
		Namespaces: ref.PolicyConfigurationNamespaces(),
	}
	if a.Namespaces == nil {
		a.Namespaces = []string{}
	}
	if named := ref.DockerReference(); named != nil {
		s := named.String()
		a.DockerRef = &s
	}
	if path, image, index, ok := ocilayout.OracleParts(ref); ok {
		a.Parts = &parts{path, image, index}
	} else if path, image, index, ok := ociarchive.OracleParts(ref); ok {
		a.Parts = &parts{path, image, index}
	} else if path, image, index, ok := dockerarchive.OracleParts(ref); ok {
		a.Parts = &parts{path, image, index}
	}
	return a
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fail(err) })
}
