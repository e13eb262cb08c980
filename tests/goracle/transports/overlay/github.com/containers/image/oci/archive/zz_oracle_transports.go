package archive

import "github.com/containers/image/v5/types"

// OracleParts exposes an oci-archive: reference's file and image name (it has no source index: -1).
func OracleParts(ref types.ImageReference) (path, image string, index int, ok bool) {
	r, ok := ref.(ociArchiveReference)
	if !ok {
		return "", "", -1, false
	}
	return r.file, r.image, -1, true
}
