// Thin exported wrapper around containers/image's unexported image choice in an OCI layout,
// compiled into package layout by the ocilayout oracle's `go build -overlay` (tests/goracle.py).
// Nothing here decides anything: it builds a reference and calls the package's own code.
package layout

// OracleManifestDescriptor reads dir/index.json and returns the digest of the descriptor
// getManifestDescriptor chooses for image ("" = the only image), or its error.
func OracleManifestDescriptor(dir, image string) (string, error) {
	d, err := ociReference{dir: dir, resolvedDir: dir, image: image}.getManifestDescriptor()
	if err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}
