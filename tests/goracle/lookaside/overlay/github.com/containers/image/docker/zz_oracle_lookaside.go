// Thin wrappers compiled into containers/image's docker package by `go build -overlay`
// (tests/goracle.py): they expose registries.d loading and the lookaside lookups to the
// oracle program, changing nothing.
package docker

import (
	"fmt"
	"net/url"

	"github.com/containers/image/v5/docker/reference"
	"github.com/opencontainers/go-digest"
)

// OracleConfig is a merged registries.d configuration.
type OracleConfig = registryConfiguration

// OracleLoad is loadAndMergeConfig.
func OracleLoad(dir string) (*OracleConfig, error) {
	return loadAndMergeConfig(dir)
}

// OracleReference is the docker transport's reference for a reference string (newReference).
func OracleReference(input string) (any, error) {
	named, err := reference.ParseNormalizedNamed(input)
	if err != nil {
		return nil, err
	}
	return newReference(named)
}

// OracleTopLevel is signatureTopLevel: the URL string configured for ref ("" for none).
func OracleTopLevel(config *OracleConfig, ref any, write bool) string {
	return config.signatureTopLevel(ref.(dockerReference), write)
}

// OracleBaseURL is lookasideStorageBaseURL: the store's URL for ref's repository.
// In 5.23 a configured URL is parsed by the Parse method of a nil *url.URL (a local
// variable named url shadows the package): a relative URL panics, and an absolute one goes
// through ResolveReference, which removes "." and ".." path segments. The panic is
// returned as an error.
func OracleBaseURL(config *OracleConfig, ref any, write bool) (u *url.URL, err error) {
	defer func() {
		if p := recover(); p != nil {
			u, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return config.lookasideStorageBaseURL(ref.(dockerReference), write)
}

// OracleNewestBaseURL is lookasideStorageBaseURL as the newest containers/image has it: the
// shadowing is gone, so the configured URL is parsed with url.Parse, then the repository
// path is appended to its path as in 5.23.
func OracleNewestBaseURL(config *OracleConfig, ref any, write bool) (*url.URL, error) {
	dr := ref.(dockerReference)
	top := config.signatureTopLevel(dr, write)
	if top == "" { // the built-in default: 5.23's code parses nothing on this path
		return config.lookasideStorageBaseURL(dr, write)
	}
	u, err := url.Parse(top)
	if err != nil {
		return nil, fmt.Errorf("Invalid signature storage URL %s: %w", top, err)
	}
	u.Path = u.Path + "/" + reference.Path(dr.ref)
	return u, nil
}

// OracleSignatureURL is lookasideStorageURL: the URL of signature index (from 0) for manifestDigest.
func OracleSignatureURL(base *url.URL, manifestDigest digest.Digest, index int) *url.URL {
	return lookasideStorageURL(base, manifestDigest, index)
}

// OracleUseAttachments is useSigstoreAttachments.
func OracleUseAttachments(config *OracleConfig, ref any) bool {
	return config.useSigstoreAttachments(ref.(dockerReference))
}
