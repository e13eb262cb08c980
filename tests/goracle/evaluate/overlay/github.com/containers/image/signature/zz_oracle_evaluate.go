// Thin wrappers compiled into containers/image's signature package by the evaluate oracle's
// `go build -overlay` (tests/goracle.py). They decide nothing: the image type only hands
// out the bytes it was given (each signature blob parsed by internal/signature.FromBlob,
// as a dir: source parses what it reads), and the rest call the package's own code.
package signature

import (
	"context"

	isig "github.com/containers/image/v5/internal/signature"
	"github.com/containers/image/v5/internal/unparsedimage"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
)

// oracleUnparsed is an image held in memory: a reference, manifest bytes and signature blobs.
type oracleUnparsed struct {
	ref      types.ImageReference
	manifest []byte
	blobs    [][]byte
}

func (i *oracleUnparsed) Reference() types.ImageReference { return i.ref }

func (i *oracleUnparsed) Manifest(ctx context.Context) ([]byte, string, error) {
	return i.manifest, manifest.GuessMIMEType(i.manifest), nil
}

// UntrustedSignatures fails for a blob of no known format, as reading such an image's
// signatures does in c/image.
func (i *oracleUnparsed) UntrustedSignatures(ctx context.Context) ([]isig.Signature, error) {
	out := []isig.Signature{}
	for _, blob := range i.blobs {
		sig, err := isig.FromBlob(blob)
		if err != nil {
			return nil, err
		}
		out = append(out, sig)
	}
	return out, nil
}

// Signatures keeps the simple-signing ones, as c/image's UnparsedImage does.
func (i *oracleUnparsed) Signatures(ctx context.Context) ([][]byte, error) {
	sigs, err := i.UntrustedSignatures(ctx)
	if err != nil {
		return nil, err
	}
	out := [][]byte{}
	for _, sig := range sigs {
		if simple, ok := sig.(isig.SimpleSigning); ok {
			out = append(out, simple.UntrustedSignature())
		}
	}
	return out, nil
}

// OracleUnparsedImage is an in-memory image with the given reference, manifest and blobs.
func OracleUnparsedImage(ref types.ImageReference, manifestBytes []byte, blobs [][]byte) types.UnparsedImage {
	return &oracleUnparsed{ref: ref, manifest: manifestBytes, blobs: blobs}
}

// OracleSignatureResult is one requirement's isSignatureAuthorAccepted answer for one signature.
type OracleSignatureResult struct {
	Result    string `json:"result"`
	Error     string `json:"error,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// OracleSignatureResults asks every requirement of the image's scope about every simple
// signature of the image (rows: requirements, columns: signatures).
func (pc *PolicyContext) OracleSignatureResults(ctx context.Context, public types.UnparsedImage) ([][]OracleSignatureResult, error) {
	image := unparsedimage.FromPublic(public)
	sigs, err := image.Signatures(ctx)
	if err != nil {
		return nil, err
	}
	out := [][]OracleSignatureResult{}
	for _, req := range pc.requirementsForImageRef(image.Reference()) {
		row := []OracleSignatureResult{}
		for _, sig := range sigs {
			res, accepted, err := req.isSignatureAuthorAccepted(ctx, image, sig)
			r := OracleSignatureResult{Result: string(res)}
			if err != nil {
				r.Error = err.Error()
			}
			if accepted != nil {
				r.Digest, r.Reference = accepted.DockerManifestDigest.String(), accepted.DockerReference
			}
			row = append(row, r)
		}
		out = append(out, row)
	}
	return out, nil
}

// OracleSimplePayload is the payload c/image signs for (digest, reference): newUntrustedSignature, marshalled.
func OracleSimplePayload(d string, ref string) ([]byte, error) {
	return newUntrustedSignature(digest.Digest(d), ref).MarshalJSON()
}
