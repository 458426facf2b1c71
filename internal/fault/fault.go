// Package fault classifies errors by what went wrong from the caller's point of view.
//
// Domain packages return errors that carry a Kind and a message meant for the client;
// the HTTP layer maps each Kind to a status and an MLflow error code in one table
// (internal/httpx). Any other error is an internal error: its text is logged, never shown.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is a class of failure. A Kind is itself an error, so errors.Is(err, fault.NotFound)
// tells whether err, or anything it wraps, is of that kind.
type Kind int

// The kinds, in the order of the questions a client asks about a failure.
const (
	Invalid             Kind = iota + 1 // the request is malformed or breaks a rule: fix it, don't retry
	NotFound                            // the named thing does not exist
	AlreadyExists                       // a thing with that name exists already
	Conflict                            // the request collides with the current state
	TooLarge                            // the request is over a size limit
	Unauthenticated                     // no valid credentials
	PermissionDenied                    // valid credentials, not allowed
	Unavailable                         // temporarily unable to serve: retry later
	Exhausted                           // a queue or quota is full: retry after a pause
	DeadlineExceeded                    // the work did not finish within its deadline
	NotImplemented                      // the server does not support this
	InsufficientStorage                 // the server's disk is full: retry once space is freed
	Internal                            // the server's fault
)

var kindNames = map[Kind]string{
	Invalid: "invalid", NotFound: "not found", AlreadyExists: "already exists",
	Conflict: "conflict", TooLarge: "too large", Unauthenticated: "unauthenticated",
	PermissionDenied: "permission denied", Unavailable: "unavailable",
	Exhausted: "exhausted", DeadlineExceeded: "deadline exceeded",
	NotImplemented: "not implemented", InsufficientStorage: "insufficient storage", Internal: "internal",
}

func (k Kind) Error() string { return kindNames[k] }

// Error is an error of a known kind. Msg is safe to show to the client; Err, if set, is
// the underlying cause, which is logged but not shown.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	// A message that already tells its cause (Wrap(k, err, "...: %v", err)) is not
	// followed by it again, so that wrapping does not repeat the cause at every layer.
	cause := e.Err.Error()
	if strings.Contains(e.Msg, cause) {
		return e.Msg
	}
	return e.Msg + ": " + cause
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so that errors.Is(err, fault.NotFound) works.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// New returns an error of kind k with a client-facing message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a client-facing message and a logged cause.
func Wrap(k Kind, cause error, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Invalidf is shorthand for New(Invalid, ...), the most common client mistake.
func Invalidf(format string, args ...any) error { return New(Invalid, format, args...) }

// Missing is MLflow's error for a required request parameter left out or empty.
func Missing(name string) error {
	return New(Invalid, "Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

// NotFoundf is shorthand for New(NotFound, ...).
func NotFoundf(format string, args ...any) error { return New(NotFound, format, args...) }

// KindOf returns the kind of err, or Internal when err carries none.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Internal
}

// Message returns the client-facing message of err, or "" when err carries none.
func Message(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return ""
}
