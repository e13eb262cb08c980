// The auth oracle: containers/image's credential lookup (pkg/docker/config.GetCredentials),
// WWW-Authenticate parsing and bearer token decoding (docker, through overlay wrappers),
// one JSON request per line.
//
// Requests:
//
//	{"op": "GetCredentials", "doc": "<file bytes, base64>", "legacy": bool, "key": "...", "path": "<dir for $PATH>"}
//	  → {"error": "..."} or {"username": b64, "password": b64, "identitytoken": b64}
//	    (base64 of the bytes: Go strings need not be UTF-8)
//	{"op": "Chain", "home": "<dir>", "env": {"XDG_RUNTIME_DIR": "..." or null, ...}, "authFile": "...",
//	 "key": "...", "path": "<dir for $PATH>"}
//	  → as GetCredentials: the whole lookup chain, in an environment the test built (env values
//	    null are unset; authFile is SystemContext.AuthFilePath, "" for none)
//	{"op": "Set"|"Remove"|"RemoveAll", "authFile": "<file>", "key": ..., "username": ..., "password": ...,
//	 "env": {...}, "path": ...}
//	  → {"desc": "..."} or {"error": "..."}: SetCredentials / RemoveAuthentication /
//	    RemoveAllAuthentication on that file (the test reads what it became)
//	{"op": "ParseValueAndParams", "header": "..."} → {"scheme": ..., "params": {...}}
//	{"op": "ParseAuthHeader", "headers": [...]}     → {"schemes": [...], "paramsList": [{...}]}
//	{"op": "BearerToken", "doc": "<bytes, base64>"} → {"error": ...} or {"token": ..., "expiresIn": n}
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"tcoracle/lineserver"

	"github.com/containers/image/docker"
	"github.com/containers/image/pkg/docker/config"
	"github.com/containers/image/types"
)

type request struct {
	Op      string   `json:"op"`
	Doc     []byte   `json:"doc"`
	Legacy  bool     `json:"legacy"`
	Key     string   `json:"key"`
	Path    string   `json:"path"`
	Header  string   `json:"header"`
	Headers []string `json:"headers"`

	Home     string             `json:"home"`
	Env      map[string]*string `json:"env"`
	AuthFile string             `json:"authFile"`
	Username string             `json:"username"`
	Password string             `json:"password"`
}

type answer struct {
	Error         *string             `json:"error,omitempty"`
	Username      []byte              `json:"username,omitempty"`
	Password      []byte              `json:"password,omitempty"`
	IdentityToken []byte              `json:"identitytoken,omitempty"`
	Scheme        string              `json:"scheme,omitempty"`
	Params        map[string]string   `json:"params,omitempty"`
	Schemes       []string            `json:"schemes,omitempty"`
	ParamsList    []map[string]string `json:"paramsList,omitempty"`
	Token         []byte              `json:"token,omitempty"`
	ExpiresIn     int                 `json:"expiresIn,omitempty"`
	Desc          string              `json:"desc,omitempty"`
}

// scratch holds the auth file of each request and an empty registries.conf: nothing of the
// machine's own configuration (~/.docker/config.json, registries.conf helpers) is read.
var scratch string

func getCredentials(req request) answer {
	file := filepath.Join(scratch, "auth.json")
	if err := os.WriteFile(file, req.Doc, 0o600); err != nil {
		panic(err)
	}
	if err := os.Setenv("PATH", req.Path); err != nil {
		panic(err)
	}
	sys := &types.SystemContext{
		SystemRegistriesConfPath:    filepath.Join(scratch, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(scratch, "registries.conf.d"),
	}
	if req.Legacy {
		sys.LegacyFormatAuthFilePath = file
	} else {
		sys.AuthFilePath = file
	}
	creds, err := config.GetCredentials(sys, req.Key)
	if err != nil {
		msg := err.Error()
		return answer{Error: &msg}
	}
	return answer{Username: []byte(creds.Username), Password: []byte(creds.Password),
		IdentityToken: []byte(creds.IdentityToken)}
}

// environ sets (or, for null, unsets) the variables the request names, and $PATH.
func environ(req request) {
	for k, v := range req.Env {
		var err error
		if v == nil {
			err = os.Unsetenv(k)
		} else {
			err = os.Setenv(k, *v)
		}
		if err != nil {
			panic(err)
		}
	}
	if err := os.Setenv("PATH", req.Path); err != nil {
		panic(err)
	}
}

// systemContext names the request's auth file, and an empty registries.conf (no helpers but the files).
func systemContext(req request) *types.SystemContext {
	return &types.SystemContext{
		AuthFilePath:                req.AuthFile,
		SystemRegistriesConfPath:    filepath.Join(scratch, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(scratch, "registries.conf.d"),
	}
}

func chain(req request) answer {
	environ(req)
	creds, err := config.OracleGetCredentialsWithHomeDir(systemContext(req), req.Key, req.Home)
	if err != nil {
		msg := err.Error()
		return answer{Error: &msg}
	}
	return answer{Username: []byte(creds.Username), Password: []byte(creds.Password),
		IdentityToken: []byte(creds.IdentityToken)}
}

func modify(req request) answer {
	environ(req)
	sys := systemContext(req)
	var desc string
	var err error
	switch req.Op {
	case "Set":
		desc, err = config.SetCredentials(sys, req.Key, req.Username, req.Password)
	case "Remove":
		err = config.RemoveAuthentication(sys, req.Key)
	default:
		err = config.RemoveAllAuthentication(sys)
	}
	if err != nil {
		msg := err.Error()
		return answer{Error: &msg}
	}
	return answer{Desc: desc}
}

func handle(req request) answer {
	switch req.Op {
	case "GetCredentials":
		return getCredentials(req)
	case "Chain":
		return chain(req)
	case "Set", "Remove", "RemoveAll":
		return modify(req)
	case "ParseValueAndParams":
		scheme, params := docker.OracleParseValueAndParams(req.Header)
		return answer{Scheme: scheme, Params: params}
	case "ParseAuthHeader":
		schemes, params := docker.OracleParseAuthHeader(req.Headers)
		return answer{Schemes: schemes, ParamsList: params}
	case "BearerToken":
		token, expires, err := docker.OracleBearerToken(req.Doc)
		if err != nil {
			msg := err.Error()
			return answer{Error: &msg}
		}
		return answer{Token: []byte(token), ExpiresIn: expires}
	}
	msg := fmt.Sprintf("unknown op %q", req.Op)
	return answer{Error: &msg}
}

func main() {
	var err error
	if scratch, err = os.MkdirTemp("", "auth-oracle-"); err != nil {
		panic(err)
	}
	defer os.RemoveAll(scratch)
	home := filepath.Join(scratch, "home")
	for _, dir := range []string{home, filepath.Join(scratch, "registries.conf.d")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			panic(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "registries.conf"), nil, 0o600); err != nil {
		panic(err)
	}
	// 5.23 reads the fallback files even after a user-specified one (newer c/image does not):
	// point them all into an empty home.
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"DOCKER_CONFIG": filepath.Join(home, ".docker"), "XDG_RUNTIME_DIR": home} {
		if err := os.Setenv(k, v); err != nil {
			panic(err)
		}
	}
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { msg := err.Error(); return answer{Error: &msg} })
}
