// The dockerclient oracle: how containers/image's docker package reads a registry's error
// answer (handleErrorResponse / registryHTTPResponseToError, through overlay wrappers),
// one JSON request per line.
//
// Request:  {"status": n, "headers": [["Name", "value"], ...], "body": "<bytes, base64>"}
// Answer:   {"kind": "errors" | "unexpected-response" | "unexpected-status" | "other",
//
//	"errors": [{"code": "DENIED", "message": "...", "detail": bool}], "message": "<registryHTTPResponseToError text>"}
package main

import (
	"tcoracle/lineserver"

	"github.com/containers/image/docker"
	"github.com/docker/distribution/registry/api/errcode"
)

type request struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    []byte      `json:"body"`
}

type entry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  bool   `json:"detail"`
}

type answer struct {
	Kind    string  `json:"kind"`
	Errors  []entry `json:"errors,omitempty"`
	Message string  `json:"message"`
	Error   string  `json:"error,omitempty"`
}

func describe(err error) entry {
	switch e := err.(type) {
	case errcode.Error:
		return entry{Code: e.Code.String(), Message: e.Message, Detail: e.Detail != nil}
	case errcode.ErrorCode:
		return entry{Code: e.String(), Message: e.Message()}
	}
	return entry{Code: "?", Message: err.Error()}
}

func handle(req request) answer {
	err := docker.OracleHandleErrorResponse(req.Status, req.Headers, req.Body)
	a := answer{Message: docker.OracleRegistryHTTPResponseToError(req.Status, req.Headers, req.Body).Error()}
	if kind := docker.OracleErrorKind(err); kind != "" {
		a.Kind = kind
		return a
	}
	switch e := err.(type) {
	case errcode.Errors:
		a.Kind = "errors"
		for _, one := range e {
			a.Errors = append(a.Errors, describe(one))
		}
	case errcode.Error, errcode.ErrorCode:
		a.Kind = "errors"
		a.Errors = []entry{describe(e)}
	default:
		a.Kind = "other"
	}
	return a
}

func main() {
	lineserver.Serve(func(req request) any { return handle(req) },
		func(err error) any { return answer{Kind: "bad-request", Error: err.Error()} })
}
