// Thin exported wrapper around containers/image's unexported per-layer compression step,
// compiled into package copy by the layercompression oracle's `go build -overlay`
// (tests/goracle.py). It builds the inputs (a source image from a manifest, a destination
// that only answers DesiredLayerCompression) and calls the package's own two steps.
package copy

import (
	"bytes"
	"context"
	"os"

	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/internal/image"
	"github.com/containers/image/v5/internal/private"
	"github.com/containers/image/v5/pkg/compression"
	compressiontypes "github.com/containers/image/v5/pkg/compression/types"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
)

type oracleDest struct {
	private.ImageDestination // nil: only DesiredLayerCompression is asked
	desired                  types.LayerCompression
}

func (d oracleDest) DesiredLayerCompression() types.LayerCompression { return d.desired }

type oracleSource struct {
	types.ImageSource // nil: only Reference and GetManifest are asked
	manifest          []byte
	mime              string
}

// Reference is some reference: the wrapping code asks its transport's name.
func (s oracleSource) Reference() types.ImageReference {
	ref, err := directory.NewReference(os.TempDir())
	if err != nil {
		panic(err)
	}
	return ref
}

func (s oracleSource) GetManifest(context.Context, *digest.Digest) ([]byte, string, error) {
	return s.manifest, s.mime, nil
}

// OracleCompressionStep runs blobPipelineDetectCompressionStep and blobPipelineCompressionStep
// on data, a layer of mediaType in the given source manifest, and returns the step's
// operation, its uploaded algorithm ("" if none), whether the stream was replaced, and the
// detected format ("" if uncompressed).
func OracleCompressionStep(manifestBlob []byte, manifestMIME string, desired types.LayerCompression,
	format string, canModifyBlob bool, mediaType string, data []byte) (types.LayerCompression, string, bool, string, error) {
	ctx := context.Background()
	src, err := image.FromUnparsedImage(ctx, nil, image.UnparsedInstance(oracleSource{manifest: manifestBlob, mime: manifestMIME}, nil))
	if err != nil {
		return 0, "", false, "", err
	}
	var algorithm *compressiontypes.Algorithm
	if format != "" {
		a, err := compression.AlgorithmByName(format)
		if err != nil {
			return 0, "", false, "", err
		}
		algorithm = &a
	}
	ic := &imageCopier{c: &copier{dest: oracleDest{desired: desired}, compressionFormat: algorithm}, src: src}
	stream := sourceStream{reader: bytes.NewReader(data),
		info: types.BlobInfo{Digest: digest.FromBytes(data), Size: int64(len(data)), MediaType: mediaType}}
	detected, err := blobPipelineDetectCompressionStep(&stream, stream.info)
	if err != nil {
		return 0, "", false, "", err
	}
	step, err := ic.blobPipelineCompressionStep(&stream, canModifyBlob, stream.info, detected)
	if err != nil {
		return 0, "", false, "", err
	}
	defer step.close()
	uploaded, found := "", ""
	if step.uploadedAlgorithm != nil {
		uploaded = step.uploadedAlgorithm.Name()
	}
	if detected.isCompressed {
		found = detected.format.Name()
	}
	return step.operation, uploaded, stream.info.Digest == "", found, nil
}
