// The evaluate oracle: containers/image's policy evaluation of a signed image, one JSON request per line.
//
// Requests and answers:
//
//	{"op": "evaluate", "policy": BASE64, "image": "docker reference", "manifest": BASE64, "signatures": [BASE64…]}
//	    → {"allowed": bool, "error": "…" (why not), "accepted": [{"digest", "reference"}] | null,
//	       "accepted_error": "…", "requirements": [[{"result", "error", "digest", "reference"}…]…]}
//	  allowed/error: PolicyContext.IsRunningImageAllowed; accepted: GetSignaturesWithAcceptedAuthor;
//	  requirements: each requirement's isSignatureAuthorAccepted for each simple signature.
//	  The image is docker://IMAGE (c/image's own docker transport reference); its manifest and
//	  signature blobs are the given bytes.
//	{"op": "sign", "secret_key": BASE64 (armored or binary), "fingerprint": "…" (the signing key or subkey),
//	 "digest": "…", "reference": "…"} → {"signature": BASE64}
//	  The payload c/image writes for (digest, reference), signed with golang.org/x/crypto/openpgp
//	  (the openpgp mechanism cannot sign): a signature made by other code than gpg.
package main

import (
	"bytes"
	"context"
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"fmt"
	"strings"
	"tcoracle/lineserver"

	"github.com/containers/image/docker"
	"github.com/containers/image/signature"
	"golang.org/x/crypto/openpgp"
	"golang.org/x/crypto/openpgp/packet"
)

type request struct {
	Op          string   `json:"op"`
	Policy      []byte   `json:"policy"`
	Image       string   `json:"image"`
	Manifest    []byte   `json:"manifest"`
	Signatures  [][]byte `json:"signatures"`
	SecretKey   []byte   `json:"secret_key"`
	Fingerprint string   `json:"fingerprint"`
	Digest      string   `json:"digest"`
	Reference   string   `json:"reference"`
}

type accepted struct {
	Digest    string `json:"digest"`
	Reference string `json:"reference"`
}

type answer struct {
	Fatal             *string                             `json:"fatal,omitempty"`
	Allowed           bool                                `json:"allowed"`
	Error             string                              `json:"error,omitempty"`
	Accepted          []accepted                          `json:"accepted"`
	AcceptedError     string                              `json:"accepted_error,omitempty"`
	Requirements      [][]signature.OracleSignatureResult `json:"requirements"`
	RequirementsError string                              `json:"requirements_error,omitempty"`
	Signature         []byte                              `json:"signature,omitempty"`
}

func fatal(err error) answer {
	msg := err.Error()
	return answer{Fatal: &msg}
}

func evaluate(req request) answer {
	policy, err := signature.NewPolicyFromBytes(req.Policy)
	if err != nil {
		return fatal(fmt.Errorf("policy: %w", err))
	}
	ref, err := docker.ParseReference("//" + req.Image)
	if err != nil {
		return fatal(fmt.Errorf("image: %w", err))
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return fatal(err)
	}
	defer func() { _ = pc.Destroy() }()
	ctx := context.Background()
	image := signature.OracleUnparsedImage(ref, req.Manifest, req.Signatures)
	var a answer
	a.Allowed, err = pc.IsRunningImageAllowed(ctx, image)
	if err != nil {
		a.Error = err.Error()
	}
	sigs, err := pc.GetSignaturesWithAcceptedAuthor(ctx, image)
	if err != nil {
		a.AcceptedError = err.Error()
	} else {
		a.Accepted = []accepted{}
		for _, s := range sigs {
			a.Accepted = append(a.Accepted, accepted{s.DockerManifestDigest.String(), s.DockerReference})
		}
	}
	a.Requirements, err = pc.OracleSignatureResults(ctx, image)
	if err != nil {
		a.RequirementsError = err.Error()
	}
	return a
}

func sign(req request) answer {
	keys, err := openpgp.ReadKeyRing(bytes.NewReader(req.SecretKey))
	if err != nil {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(req.SecretKey))
		if err != nil {
			return fatal(fmt.Errorf("secret key: %w", err))
		}
	}
	if len(keys) != 1 {
		return fatal(fmt.Errorf("secret key: %d entities, want 1", len(keys)))
	}
	entity := *keys[0]
	// openpgp.Sign signs with the first signing subkey, else the primary key: keep only the requested one.
	want := strings.ToUpper(req.Fingerprint)
	subkeys := entity.Subkeys
	entity.Subkeys = nil
	found := fmt.Sprintf("%X", entity.PrimaryKey.Fingerprint) == want
	for _, sub := range subkeys {
		if !found && fmt.Sprintf("%X", sub.PublicKey.Fingerprint) == want {
			entity.Subkeys = []openpgp.Subkey{sub}
			found = true
		}
	}
	if !found {
		return fatal(fmt.Errorf("no secret key %s", req.Fingerprint))
	}
	payload, err := signature.OracleSimplePayload(req.Digest, req.Reference)
	if err != nil {
		return fatal(err)
	}
	var out bytes.Buffer
	w, err := openpgp.Sign(&out, &entity, nil, &packet.Config{})
	if err != nil {
		return fatal(err)
	}
	if _, err := w.Write(payload); err != nil {
		return fatal(err)
	}
	if err := w.Close(); err != nil {
		return fatal(err)
	}
	return answer{Signature: out.Bytes()}
}

func handle(req request) answer {
	switch req.Op {
	case "evaluate":
		return evaluate(req)
	case "sign":
		return sign(req)
	}
	return fatal(fmt.Errorf("unknown op %q", req.Op))
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return fatal(err) })
}
