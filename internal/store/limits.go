package store

import (
	"context"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// deadline returns ctx with the read pool's statement deadline, if there is one.
func (r rebinding) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// checkParams refuses a statement with more bind values than the engine takes: the
// values came from the client (ids, an IN list), so it is the client's error.
func checkParams(d Dialect, args []any) error {
	if max := d.MaxParams(); len(args) > max {
		return fault.Invalidf("the request needs %d values in one database query, more than the %d the database accepts: "+
			"ask for fewer ids or values", len(args), max)
	}
	return nil
}

// Classify turns the error of a read that ran past its statement deadline, or that
// carried more values than the engine takes, into a client-facing fault; other errors
// are returned as they are. ctx is the caller's context: a statement stopped because
// the caller went away is not a timeout.
func Classify(ctx context.Context, err error) error {
	if err == nil || fault.KindOf(err) != fault.Internal {
		return err
	}
	if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || isInterrupt(err)) {
		return fault.Wrap(fault.DeadlineExceeded, err, "the query took longer than the server's statement deadline "+
			"(--sql-statement-timeout) and was stopped: narrow the search (fewer experiments, a simpler filter)")
	}
	if strings.Contains(err.Error(), "too many SQL variables") {
		return fault.Wrap(fault.Invalid, err, "the request needs more values in one database query than the database accepts: "+
			"ask for fewer ids or values")
	}
	return err
}

// noSpace turns a write that failed because the disk is full into a fault the client
// can act on: the server's disk is full, the request is not wrong.
func (db *DB) noSpace(err error) error {
	if err == nil || fault.KindOf(err) != fault.Internal || !isFull(err) {
		return err
	}
	return fault.Wrap(fault.InsufficientStorage, err, "The server's storage at %s is full: the database refuses "+
		"writes until space is freed there; reads keep working", db.where)
}
