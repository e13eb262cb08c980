// The manifest oracle: containers/image's manifest package, one JSON request per line.
//
// Every request carries the manifest as base64 ("blob") so that any bytes can be asked about.
//
//	{"op": "guess", "blob": ...}                      → {"mime": GuessMIMEType(blob)}
//	{"op": "digest", "blob": ...}                     → {"digest": Digest(blob)} or {"error": ...}
//	{"op": "matches", "blob": ..., "expected": ...}   → {"matches": MatchesDigest(blob, expected), "error"?: ...}
//	{"op": "parse", "blob": ..., "mime": ..., "update": [info...]?}
//	    single images (FromBlob): {"kind": "image", "config": info, "layers": [info + "empty"], "serialized"?: ...,
//	                               "updated"?: ..., "updateError"?: ...}
//	    lists (ListFromBlob):      {"kind": "list", "mime": ..., "instances": [...], "serialized": ...}
//	    or {"error": ...}
//	{"op": "choose", "blob": ..., "mime": ..., "os": ..., "arch": ..., "variant": ...}
//	    → {"chosen": digest} or {"chooseError": ...} (ListFromBlob, then ChooseInstance with a
//	       SystemContext carrying the three choices) or {"error": ...} when the list does not parse
//	{"op": "listcopy", "blob": ..., "mime": ..., "listUpdates": [{"digest", "size", "mediaType"}...]?, "target"?: ...}
//	    the list steps of 5.23's copyMultipleImages: ListFromBlob, Clone, UpdateInstances (positional; only
//	    when "listUpdates" is given), ConvertToMIMEType(target) when target is set and differs from MIMEType()
//	    → {"mime": the result's MIMEType(), "updated": its Serialize(), "serialized": the parsed list's
//	       Serialize() (what copyMultipleImages compares with)} or {"updateError"|"convertError": ...},
//	       or {"error": ...} when the list does not parse
//	{"op": "instance", "blob": ..., "mime": ..., "expected": digest}
//	    → {"listUpdate": {"digest", "size", "mediaType"}} or {"instanceError": ...} (Instance)
//
// An info is {"digest", "size", "mediaType", "urls", "annotations", "digestValid"}; "digestValid"
// says whether go-digest's Validate accepts the digest (containers/image never checks it here).
// A Go panic (libtrust has some) is answered as {"panic": ...}.
// Schema1 manifests are not serialized: Serialize signs them with a fresh random key.
package main

import (
	_ "crypto/sha256" // go-digest accepts only algorithms whose hash is linked in
	_ "crypto/sha512"
	"fmt"
	"tcoracle/lineserver"

	"github.com/containers/image/manifest"
	"github.com/containers/image/types"
	digest "github.com/opencontainers/go-digest"
)

type info struct {
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	MediaType   string            `json:"mediaType"`
	URLs        []string          `json:"urls"`
	Annotations map[string]string `json:"annotations"`
	DigestValid bool              `json:"digestValid"`
	Empty       bool              `json:"empty"`
}

type request struct {
	Op       string  `json:"op"`
	Blob     []byte  `json:"blob"`
	Mime     string  `json:"mime"`
	Expected string  `json:"expected"`
	OS       string  `json:"os"`
	Arch     string  `json:"arch"`
	Variant  string  `json:"variant"`
	Update   *[]info `json:"update"`
	Target   string  `json:"target"`
	// Updates for a list's instances, positional.
	ListUpdates *[]listUpdate `json:"listUpdates"`
}

type listUpdate struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

type answer struct {
	Error       *string     `json:"error,omitempty"`
	Panic       string      `json:"panic,omitempty"`
	Mime        *string     `json:"mime,omitempty"`
	Digest      string      `json:"digest,omitempty"`
	Matches     *bool       `json:"matches,omitempty"`
	Kind        string      `json:"kind,omitempty"`
	Config      *info       `json:"config,omitempty"`
	Layers      []info      `json:"layers,omitempty"`
	Instances   []string    `json:"instances,omitempty"`
	Serialized  []byte      `json:"serialized,omitempty"`
	Updated     []byte      `json:"updated,omitempty"`
	UpdateError *string     `json:"updateError,omitempty"`
	Chosen      string      `json:"chosen,omitempty"`
	ChooseError *string     `json:"chooseError,omitempty"`
	Converted   []byte      `json:"converted,omitempty"`
	ConvertErr  *string     `json:"convertError,omitempty"`
	ListUpdate  *listUpdate `json:"listUpdate,omitempty"`
	InstanceErr *string     `json:"instanceError,omitempty"`
}

func errText(err error) *string {
	msg := err.Error()
	return &msg
}

func describe(b types.BlobInfo, empty bool) info {
	return info{Digest: b.Digest.String(), Size: b.Size, MediaType: b.MediaType, URLs: b.URLs,
		Annotations: b.Annotations, DigestValid: b.Digest.Validate() == nil, Empty: empty}
}

func parseImage(req request) answer {
	m, err := manifest.FromBlob(req.Blob, req.Mime)
	if err != nil {
		return answer{Error: errText(err)}
	}
	config := describe(m.ConfigInfo(), false)
	a := answer{Kind: "image", Config: &config, Layers: []info{}}
	for _, l := range m.LayerInfos() {
		a.Layers = append(a.Layers, describe(l.BlobInfo, l.EmptyLayer))
	}
	if _, schema1 := m.(*manifest.Schema1); schema1 {
		return a
	}
	if a.Serialized, err = m.Serialize(); err != nil {
		a.Error = errText(err)
		return a
	}
	if req.Update != nil {
		infos := []types.BlobInfo{}
		for _, u := range *req.Update {
			infos = append(infos, types.BlobInfo{Digest: digest.Digest(u.Digest), Size: u.Size, URLs: u.URLs,
				Annotations: u.Annotations})
		}
		if err := m.UpdateLayerInfos(infos); err != nil {
			a.UpdateError = errText(err)
		} else if a.Updated, err = m.Serialize(); err != nil {
			a.UpdateError = errText(err)
		}
	}
	return a
}

func parseList(req request) (manifest.List, answer) {
	l, err := manifest.ListFromBlob(req.Blob, req.Mime)
	if err != nil {
		return nil, answer{Error: errText(err)}
	}
	a := answer{Kind: "list", Instances: []string{}}
	mime := l.MIMEType()
	a.Mime = &mime
	for _, d := range l.Instances() {
		a.Instances = append(a.Instances, d.String())
	}
	if a.Serialized, err = l.Serialize(); err != nil {
		a.Error = errText(err)
	}
	return l, a
}

// listOp answers the list ops on a parsed list.
func listOp(l manifest.List, req request) answer {
	switch req.Op {
	case "listcopy":
		original, err := l.Serialize()
		if err != nil {
			return answer{Error: errText(err)}
		}
		updated := l.Clone()
		if req.ListUpdates != nil {
			updates := []manifest.ListUpdate{}
			for _, u := range *req.ListUpdates {
				updates = append(updates, manifest.ListUpdate{Digest: digest.Digest(u.Digest), Size: u.Size,
					MediaType: u.MediaType})
			}
			if err := updated.UpdateInstances(updates); err != nil {
				return answer{UpdateError: errText(err)}
			}
		}
		if req.Target != "" && req.Target != updated.MIMEType() {
			if updated, err = updated.ConvertToMIMEType(req.Target); err != nil {
				return answer{ConvertErr: errText(err)}
			}
		}
		out, err := updated.Serialize()
		if err != nil {
			return answer{ConvertErr: errText(err)}
		}
		mime := updated.MIMEType()
		return answer{Mime: &mime, Updated: out, Serialized: original}
	default: // "instance"
		u, err := l.Instance(digest.Digest(req.Expected))
		if err != nil {
			return answer{InstanceErr: errText(err)}
		}
		return answer{ListUpdate: &listUpdate{Digest: u.Digest.String(), Size: u.Size, MediaType: u.MediaType}}
	}
}

func handle(req request) (a answer) {
	// libtrust panics on some hostile signature blocks (a negative formatLength): report it.
	defer func() {
		if r := recover(); r != nil {
			a = answer{Panic: fmt.Sprint(r)}
		}
	}()
	switch req.Op {
	case "guess":
		mime := manifest.GuessMIMEType(req.Blob)
		return answer{Mime: &mime}
	case "digest":
		d, err := manifest.Digest(req.Blob)
		if err != nil {
			return answer{Error: errText(err)}
		}
		return answer{Digest: d.String()}
	case "matches":
		ok, err := manifest.MatchesDigest(req.Blob, digest.Digest(req.Expected))
		a := answer{Matches: &ok}
		if err != nil {
			a.Error = errText(err)
		}
		return a
	case "parse":
		if manifest.MIMETypeIsMultiImage(manifest.NormalizedMIMEType(req.Mime)) {
			_, a := parseList(req)
			return a
		}
		return parseImage(req)
	case "choose":
		l, a := parseList(req)
		if l == nil {
			return a
		}
		ctx := &types.SystemContext{OSChoice: req.OS, ArchitectureChoice: req.Arch, VariantChoice: req.Variant}
		chosen, err := l.ChooseInstance(ctx)
		if err != nil {
			return answer{ChooseError: errText(err)}
		}
		return answer{Chosen: chosen.String()}
	case "listcopy", "instance":
		l, a := parseList(req)
		if l == nil {
			return a
		}
		return listOp(l, req)
	}
	return answer{Error: errText(fmt.Errorf("unknown op %q", req.Op))}
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { msg := err.Error(); return answer{Error: &msg} })
}
