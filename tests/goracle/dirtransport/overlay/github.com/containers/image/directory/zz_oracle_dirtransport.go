// Thin wrappers compiled into containers/image's directory package by `go build -overlay`
// (tests/goracle.py): the signature methods with formats, which the public (Compat) ones hide
// (GetSignatures drops sigstore signatures; PutSignatures takes every blob as simple signing).
package directory

import (
	"context"

	"github.com/containers/image/v5/internal/signature"
	"github.com/containers/image/v5/types"
	"github.com/opencontainers/go-digest"
)

// OracleGetSignatures runs dirImageSource.GetSignaturesWithFormat and returns each signature's storage form.
func OracleGetSignatures(src types.ImageSource, instance *digest.Digest) ([][]byte, error) {
	sigs, err := src.(*dirImageSource).GetSignaturesWithFormat(context.Background(), instance)
	if err != nil {
		return nil, err
	}
	out := [][]byte{}
	for _, s := range sigs {
		blob, err := signature.Blob(s)
		if err != nil {
			return nil, err
		}
		out = append(out, blob)
	}
	return out, nil
}

// OraclePutSignatures parses each blob as a copy would have read it (FromBlob) and runs
// dirImageDestination.PutSignaturesWithFormat.
func OraclePutSignatures(dest types.ImageDestination, blobs [][]byte, instance *digest.Digest) error {
	sigs := []signature.Signature{}
	for _, b := range blobs {
		s, err := signature.FromBlob(b)
		if err != nil {
			return err
		}
		sigs = append(sigs, s)
	}
	return dest.(*dirImageDestination).PutSignaturesWithFormat(context.Background(), sigs, instance)
}
