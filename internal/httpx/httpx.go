// Package httpx is the HTTP plumbing every API of mlship shares: one handler shape, the
// single table that maps errors to HTTP statuses and MLflow error codes, request limits,
// and middleware (request ids, recovery, access logs).
//
// A handler returns (result, error). Handle encodes the result as JSON, or maps the error
// to a status and a {error_code, message} body. The message comes from the error's
// fault.Error; any other error is internal: its text is logged under the request id and
// the client sees only a generic message.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mlship/mlship/internal/fault"
)

// HandlerFunc is the one handler shape. A nil result with a nil error means the handler
// wrote the response itself (a streamed download, say).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// Empty is the result of a call that returns nothing: it encodes as {}.
var Empty = struct{}{}

// Handle adapts a HandlerFunc to http.Handler.
func Handle(logger *slog.Logger, fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := fn(w, r)
		if err != nil {
			WriteError(w, r, logger, err)
			return
		}
		if res != nil {
			WriteJSON(w, http.StatusOK, res)
		}
	})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// errorBody is MLflow's error shape, used by every API of mlship.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// WriteError maps err to a status and an error body, and logs it.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	p := Describe(w, r, logger, err)
	WriteJSON(w, p.Status, errorBody{ErrorCode: p.Code, Message: p.Message})
}

// Problem is how an error is shown to a client: the status, the MLflow error code and
// the client-facing message.
type Problem struct {
	Status  int
	Code    string
	Message string
}

// Describe maps err through the error table, logs it, and sets Retry-After where the
// kind asks for one. Protocols with their own error bodies (the inference protocols)
// write p themselves; everything else uses WriteError.
func Describe(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) Problem {
	m := mapError(err)
	msg := fault.Message(err)
	if msg == "" || m.status == http.StatusInternalServerError {
		msg = m.fallback
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		m = mapping{status: 499, code: "CANCELLED"}
		msg = "request cancelled"
	}
	level := slog.LevelDebug
	if m.status >= 500 {
		level = slog.LevelError
	}
	logger.Log(r.Context(), level, "request failed", "request_id", RequestID(r.Context()),
		"method", r.Method, "path", r.URL.Path, "status", m.status, "code", m.code, "err", err)
	if m.retryAfter != "" {
		w.Header().Set("Retry-After", m.retryAfter)
	}
	return Problem{Status: m.status, Code: m.code, Message: msg}
}

type mapping struct {
	status     int
	code       string
	fallback   string
	retryAfter string
}

// errorTable is the one place that maps error kinds to HTTP statuses and MLflow error
// codes (MLflow's ERROR_CODE_TO_HTTP_STATUS). Deterministic failures never get a 5xx,
// because MLflow clients retry 5xx answers for minutes.
var errorTable = map[fault.Kind]mapping{
	fault.Invalid:             {http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "invalid request", ""},
	fault.NotFound:            {http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "not found", ""},
	fault.AlreadyExists:       {http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "already exists", ""},
	fault.Conflict:            {http.StatusConflict, "RESOURCE_CONFLICT", "conflict", ""},
	fault.TooLarge:            {http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED", "request too large", ""},
	fault.Unauthenticated:     {http.StatusUnauthorized, "UNAUTHENTICATED", "authentication required", ""},
	fault.PermissionDenied:    {http.StatusForbidden, "PERMISSION_DENIED", "permission denied", ""},
	fault.Unavailable:         {http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "temporarily unavailable, retry later", "1"},
	fault.Exhausted:           {http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "too many requests, retry later", "1"},
	fault.DeadlineExceeded:    {http.StatusGatewayTimeout, "DEADLINE_EXCEEDED", "deadline exceeded", ""},
	fault.NotImplemented:      {http.StatusNotImplemented, "NOT_IMPLEMENTED", "not implemented", ""},
	fault.InsufficientStorage: {http.StatusInsufficientStorage, "RESOURCE_EXHAUSTED", "the server's storage is full", ""},
	fault.Internal:            {http.StatusInternalServerError, "INTERNAL_ERROR", "internal error; see the server log", ""},
}

func mapError(err error) mapping {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return mapping{status: http.StatusRequestEntityTooLarge, code: "REQUEST_LIMIT_EXCEEDED",
			fallback: "request body too large"}
	}
	m := errorTable[fault.KindOf(err)]
	var ce *CodedError
	if errors.As(err, &ce) {
		m.code = ce.Code
		if ce.Status != 0 {
			m.status = ce.Status
		}
	}
	return m
}

// CodedError lets a caller choose the MLflow error code for a fault, where the same kind
// has several codes on the wire (ENDPOINT_NOT_FOUND against RESOURCE_DOES_NOT_EXIST),
// and, for routing failures, the status.
type CodedError struct {
	Code   string
	Status int // 0 keeps the kind's status
	Err    error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }
