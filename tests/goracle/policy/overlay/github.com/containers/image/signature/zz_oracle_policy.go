// Thin exported wrappers around unexported parts of containers/image's signature package,
// compiled into that package by the policy oracle's `go build -overlay` (see tests/goracle.py).
// Nothing here decides anything: each function calls the package's own code.
package signature

import (
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/internal/testing/mocks"
	"github.com/containers/image/v5/types"
)

// oracleImage is an UnparsedImage whose only working method is Reference(); the matchers
// consult nothing else.
type oracleImage struct {
	mocks.ForbiddenUnparsedImage
	ref reference.Named
}

func (img oracleImage) Reference() types.ImageReference {
	return oracleImageReference{ref: img.ref}
}

// oracleImageReference answers DockerReference() with the given value (possibly nil) and
// names itself for the error message c/image builds when that value is nil.
type oracleImageReference struct {
	mocks.ForbiddenImageReference
	ref reference.Named
}

func (ref oracleImageReference) Transport() types.ImageTransport {
	return mocks.NameImageTransport("oracle")
}

func (ref oracleImageReference) StringWithinTransport() string {
	return "image-without-docker-reference"
}

func (ref oracleImageReference) DockerReference() reference.Named {
	return ref.ref
}

// OracleIdentityMatches parses a signedIdentity object as a policy would and asks its
// matchesDockerReference whether signed is accepted for an image whose Docker reference is image
// (nil: an image without one).
func OracleIdentityMatches(matcherJSON []byte, image reference.Named, signed string) (bool, error) {
	prm, err := newPolicyReferenceMatchFromJSON(matcherJSON)
	if err != nil {
		return false, err
	}
	return prm.matchesDockerReference(oracleImage{ref: image}, signed), nil
}

// OracleRequirementsFor is PolicyContext.requirementsForImageRef.
func (pc *PolicyContext) OracleRequirementsFor(ref types.ImageReference) PolicyRequirements {
	return pc.requirementsForImageRef(ref)
}
