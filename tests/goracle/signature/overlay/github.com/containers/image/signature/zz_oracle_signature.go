// Thin wrappers compiled into containers/image's signature package by `go build -overlay`
// (tests/goracle.py): they expose the unexported payload parsers and internal/signature's
// FromBlob to the oracle program, changing nothing.
package signature

import (
	"encoding/json"

	isig "github.com/containers/image/v5/internal/signature"
	"github.com/containers/image/v5/signature/internal"
)

// OraclePayload is what a payload parser extracted (pointers: absent fields stay nil).
type OraclePayload struct {
	Digest    string
	Reference string
	Creator   *string
	Timestamp *int64
}

// OracleParseSimple runs json.Unmarshal into untrustedSignature, as verifyAndExtractSignature does.
func OracleParseSimple(data []byte) (OraclePayload, error) {
	var s untrustedSignature
	err := json.Unmarshal(data, &s)
	return OraclePayload{string(s.UntrustedDockerManifestDigest), s.UntrustedDockerReference,
		s.UntrustedCreatorID, s.UntrustedTimestamp}, err
}

// OracleParseSigstore runs json.Unmarshal into internal.UntrustedSigstorePayload, as the sigstore verifier does.
func OracleParseSigstore(data []byte) (OraclePayload, error) {
	var s internal.UntrustedSigstorePayload
	err := json.Unmarshal(data, &s)
	return OraclePayload{string(s.UntrustedDockerManifestDigest), s.UntrustedDockerReference,
		s.UntrustedCreatorID, s.UntrustedTimestamp}, err
}

// OracleFromBlob runs internal/signature.FromBlob: the format, and the parts of the signature
// (for simple signing the OpenPGP bytes, in payload).
func OracleFromBlob(blob []byte) (format string, mime string, payload []byte, annotations map[string]string, err error) {
	sig, err := isig.FromBlob(blob)
	if err != nil {
		return "", "", nil, nil, err
	}
	if s, ok := sig.(isig.Sigstore); ok {
		return string(sig.FormatID()), s.UntrustedMIMEType(), s.UntrustedPayload(), s.UntrustedAnnotations(), nil
	}
	if s, ok := sig.(isig.SimpleSigning); ok {
		return string(sig.FormatID()), "", s.UntrustedSignature(), nil, nil
	}
	return string(sig.FormatID()), "", nil, nil, nil
}
