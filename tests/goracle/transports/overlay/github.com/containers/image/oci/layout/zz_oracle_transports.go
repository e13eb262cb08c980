package layout

import "github.com/containers/image/v5/types"

// OracleParts exposes an oci: reference's directory and image name (5.23 has no source index: -1).
func OracleParts(ref types.ImageReference) (path, image string, index int, ok bool) {
	r, ok := ref.(ociReference)
	if !ok {
		return "", "", -1, false
	}
	return r.dir, r.image, -1, true
}
