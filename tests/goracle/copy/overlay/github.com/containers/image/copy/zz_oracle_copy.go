// Thin exported wrapper around containers/image's unexported manifest conversion decision,
// compiled into package copy by the copy oracle's `go build -overlay` (see tests/goracle.py).
// Nothing here decides anything: it builds the inputs and calls the package's own code.
package copy

// OracleDetermineManifestConversion calls determineManifestConversion with the given inputs
// and returns the plan's fields.
func OracleDetermineManifestConversion(srcMIMEType string, destSupported []string, forceManifestMIMEType string,
	requiresOCIEncryption bool, cannotModifyManifestReason string) (string, bool, []string, error) {
	plan, err := determineManifestConversion(determineManifestConversionInputs{
		srcMIMEType:                    srcMIMEType,
		destSupportedManifestMIMETypes: destSupported,
		forceManifestMIMEType:          forceManifestMIMEType,
		requiresOCIEncryption:          requiresOCIEncryption,
		cannotModifyManifestReason:     cannotModifyManifestReason,
	})
	return plan.preferredMIMEType, plan.preferredMIMETypeNeedsConversion, plan.otherMIMETypeCandidates, err
}
