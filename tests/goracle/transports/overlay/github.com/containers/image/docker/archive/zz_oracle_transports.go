package archive

import "github.com/containers/image/v5/types"

// OracleParts exposes a docker-archive: reference's path, tag ("" when none) and source index.
func OracleParts(ref types.ImageReference) (path, image string, index int, ok bool) {
	r, ok := ref.(archiveReference)
	if !ok {
		return "", "", -1, false
	}
	if r.ref != nil {
		image = r.ref.String()
	}
	return r.path, image, r.sourceIndex, true
}
