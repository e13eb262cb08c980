package docker

// Thin exported wrappers around unexported containers/image functions, compiled into this
// package only for the dockerclient oracle (go build -overlay); nothing here re-implements them.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

func oracleResponse(status int, headers [][2]string, body []byte) *http.Response {
	h := http.Header{}
	for _, kv := range headers {
		h.Add(kv[0], kv[1])
	}
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     h,
		Body:       io.NopCloser(bytes.NewReader(body)),
	}
}

// OracleHandleErrorResponse exposes handleErrorResponse on a response built from these parts.
func OracleHandleErrorResponse(status int, headers [][2]string, body []byte) error {
	return handleErrorResponse(oracleResponse(status, headers, body))
}

// OracleRegistryHTTPResponseToError exposes registryHTTPResponseToError likewise.
func OracleRegistryHTTPResponseToError(status int, headers [][2]string, body []byte) error {
	return registryHTTPResponseToError(oracleResponse(status, headers, body))
}

// OracleErrorKind names the unexported error types handleErrorResponse returns ("" for others).
func OracleErrorKind(err error) string {
	switch err.(type) {
	case *unexpectedHTTPResponseError:
		return "unexpected-response"
	case *unexpectedHTTPStatusError:
		return "unexpected-status"
	}
	return ""
}
