package docker

// Thin exported wrappers around unexported containers/image functions, compiled into this
// package only for the auth oracle (go build -overlay); nothing here re-implements them.

import (
	"fmt"
	"net/http"
)

// OracleParseValueAndParams exposes parseValueAndParams (one WWW-Authenticate value).
func OracleParseValueAndParams(header string) (string, map[string]string) {
	return parseValueAndParams(header)
}

// OracleParseAuthHeader exposes parseAuthHeader on a response carrying these WWW-Authenticate values.
func OracleParseAuthHeader(values []string) ([]string, []map[string]string) {
	h := http.Header{}
	for _, v := range values {
		h.Add("WWW-Authenticate", v)
	}
	var schemes []string
	var params []map[string]string
	for _, c := range parseAuthHeader(h) {
		schemes = append(schemes, c.Scheme)
		params = append(params, c.Parameters)
	}
	return schemes, params
}

// OracleBearerToken exposes newBearerTokenFromJSONBlob: the token and its (raised) lifetime.
// A panic (5.23 dereferences the nil token of a "null" answer) is returned as an error.
func OracleBearerToken(blob []byte) (token string, expiresIn int, err error) {
	defer func() {
		if r := recover(); r != nil {
			token, expiresIn, err = "", 0, fmt.Errorf("panic: %v", r)
		}
	}()
	t, err := newBearerTokenFromJSONBlob(blob)
	if err != nil {
		return "", 0, err
	}
	return t.Token, t.ExpiresIn, nil
}
