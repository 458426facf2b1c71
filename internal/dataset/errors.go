package dataset

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Reader errors wrap them in an [*InputError] that carries the
// line number; match them with errors.Is.
var (
	ErrUnknownFormat    = errors.New("unknown data format")
	ErrEmpty            = errors.New("empty input")
	ErrRagged           = errors.New("wrong number of fields")
	ErrFieldTooLarge    = errors.New("field too large")
	ErrRecordTooLarge   = errors.New("record too large")
	ErrInvalidUTF8      = errors.New("invalid UTF-8")
	ErrMalformed        = errors.New("malformed input")
	ErrTooManyColumns   = errors.New("too many columns")
	ErrDuplicateColumn  = errors.New("duplicate column name")
	ErrUnsupported      = errors.New("unsupported column type")
	ErrNotSeekable      = errors.New("parquet needs a seekable input with a known size")
	ErrTooManyRows      = errors.New("too many rows to load in memory")
	ErrIncompatible     = errors.New("incompatible profiles")
	ErrBadProfileFormat = errors.New("bad profile encoding")
)

// InputError locates a problem in the input: the 1-based line of a CSV or
// JSON lines file (the row for Parquet) and, when known, the column.
type InputError struct {
	Line   int64  // 1-based line (CSV, JSON lines) or row (Parquet); 0 when unknown
	Unit   string // "line" or "row"
	Column string // column name, "" when unknown
	Err    error  // the cause; wraps one of the sentinel errors
}

func (e *InputError) Error() string {
	msg := ""
	if e.Line > 0 {
		unit := e.Unit
		if unit == "" {
			unit = "line"
		}
		msg = unit + " " + strconv.FormatInt(e.Line, 10)
	}
	if e.Column != "" {
		if msg != "" {
			msg += ", "
		}
		msg += "column " + strconv.Quote(e.Column)
	}
	if msg == "" {
		return e.Err.Error()
	}
	return msg + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

func lineError(line int64, column string, sentinel error, format string, args ...any) error {
	cause := sentinel
	if format != "" {
		cause = fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
	}
	return &InputError{Line: line, Unit: "line", Column: column, Err: cause}
}

func rowError(row int64, column string, sentinel error, format string, args ...any) error {
	err := lineError(row, column, sentinel, format, args...).(*InputError)
	err.Unit = "row"
	return err
}
