// Thin exported wrapper around containers/image's unexported image choice in an OCI layout,
// compiled into package layout by the ocilayout oracle's `go build -overlay` (tests/goracle.py).
// Nothing here decides anything: it builds a reference and calls the package's own code.
package layout

import (
	"context"
	"encoding/json"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// OracleManifestDescriptor reads dir/index.json and returns the digest of the descriptor
// getManifestDescriptor chooses for image ("" = the only image), or its error.
func OracleManifestDescriptor(dir, image string) (string, error) {
	d, err := ociReference{dir: dir, resolvedDir: dir, image: image}.getManifestDescriptor()
	if err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}

// OracleIndex decodes dir/index.json as the package does (getIndex) and marshals it again:
// what containers/image reads from that file, in the form it would write it.
func OracleIndex(dir string) (string, error) {
	index, err := ociReference{dir: dir, resolvedDir: dir}.getIndex()
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(index)
	return string(out), err
}

// OracleSource opens dir as an oci: source for image ("" = the only image) and reads its
// manifest (GetManifest), reporting the step that failed: "open" (reading index.json or
// choosing the entry) or "manifest" (the chosen digest, then its blob).
func OracleSource(dir, image string) (manifest string, step string, err error) {
	ref := ociReference{dir: dir, resolvedDir: dir, image: image}
	src, err := newImageSource(nil, ref)
	if err != nil {
		return "", "open", err
	}
	defer src.Close()
	m, _, err := src.GetManifest(context.Background(), nil)
	if err != nil {
		return "", "manifest", err
	}
	return string(m), "", nil
}

// OracleAdd opens dir as an oci: destination for image, adds a descriptor for a manifest
// (addManifest, as PutManifest does) and returns the index.json Commit would write.
func OracleAdd(dir, image, mediaType, dig string, size int64) (string, error) {
	dest, err := newImageDestination(nil, ociReference{dir: dir, resolvedDir: dir, image: image})
	if err != nil {
		return "", err
	}
	defer dest.Close()
	d := dest.(*ociImageDestination)
	desc := imgspecv1.Descriptor{MediaType: mediaType, Digest: digest.Digest(dig), Size: size}
	if image != "" {
		desc.Annotations = map[string]string{imgspecv1.AnnotationRefName: image}
	}
	d.addManifest(&desc)
	out, err := json.Marshal(d.index)
	return string(out), err
}
