// Package inspect (an oracle-only package: skopeo's sources are not installed) holds the struct
// skopeo inspect formats, declared here field for field so that %T and %#v print its real name,
// "inspect.Output", as in skopeo. The layer type is containers/image's own.
package inspect

import (
	"time"

	"github.com/containers/image/types"
	digest "github.com/opencontainers/go-digest"
)

// Output has the fields, types, order and JSON tags of skopeo's cmd/skopeo/inspect.Output.
type Output struct {
	Name          string `json:",omitempty"`
	Tag           string `json:",omitempty"`
	Digest        digest.Digest
	RepoTags      []string
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Os            string
	Layers        []string
	LayersData    []types.ImageInspectLayer
	Env           []string
}
