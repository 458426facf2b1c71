package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// maxGroup bounds how many writes share one commit, so a burst cannot hold the write
// lock for long.
const maxGroup = 128

// errClosed is returned by writes submitted after Close.
var errClosed = errors.New("store: database is closed")

type writeOp struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
}

// groupWriter owns the only write connection. Concurrent writes queue up while a commit
// is in flight and are then committed together, each inside its own savepoint.
type groupWriter struct {
	db      *sql.DB
	dialect Dialect
	logger  *slog.Logger
	ops     chan *writeOp
	quit    chan struct{}
	wg      sync.WaitGroup
	stmts   *stmtCache

	mu     sync.RWMutex // held for reading while queuing, for writing while closing
	closed bool
}

func newGroupWriter(db *sql.DB, d Dialect, logger *slog.Logger) *groupWriter {
	w := &groupWriter{db: db, dialect: d, logger: logger, stmts: newStmtCache(db, 512),
		ops: make(chan *writeOp, maxGroup), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

func (w *groupWriter) write(ctx context.Context, fn func(tx *Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := w.enqueue(ctx, op); err != nil {
		return err
	}
	// Once queued, the write is carried out even if ctx ends, so wait for its outcome:
	// a caller must never be told "failed" about a write that was committed.
	return <-op.done
}

// enqueue hands op to the writer loop, unless the writer is closed.
func (w *groupWriter) enqueue(ctx context.Context, op *writeOp) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errClosed
	}
	select {
	case w.ops <- op:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting writes, finishes the queued ones and closes the connection.
func (w *groupWriter) close() error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if already {
		return nil
	}
	close(w.quit)
	w.wg.Wait()
	w.stmts.close()
	return w.db.Close()
}

func (w *groupWriter) loop() {
	defer w.wg.Done()
	for {
		select {
		case op := <-w.ops:
			w.commit(w.collect(op))
		case <-w.quit:
			w.drain()
			return
		}
	}
}

// collect gathers op and every write already waiting, up to maxGroup.
func (w *groupWriter) collect(op *writeOp) []*writeOp {
	group := []*writeOp{op}
	for len(group) < maxGroup {
		select {
		case next := <-w.ops:
			group = append(group, next)
		default:
			return group
		}
	}
	return group
}

// drain finishes the writes that were queued before Close.
func (w *groupWriter) drain() {
	for {
		select {
		case op := <-w.ops:
			w.commit(w.collect(op))
		default:
			return
		}
	}
}

// commit runs a group of writes in one transaction. A write whose function fails is
// rolled back to its savepoint and gets its own error; the rest commit together.
func (w *groupWriter) commit(group []*writeOp) {
	results := make([]error, len(group))
	err := w.runGroup(group, results)
	w.stmts.prepareNoted(context.Background())
	for i, op := range group {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		op.done <- results[i]
	}
}

func (w *groupWriter) runGroup(group []*writeOp, results []error) error {
	ctx := context.Background()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: w.dialect, stmts: w.stmts}
	if len(group) == 1 {
		if results[0] = group[0].ctx.Err(); results[0] == nil {
			results[0] = w.call(tx, group[0])
		}
		if results[0] != nil {
			sqlTx.Rollback()
			return nil
		}
	} else {
		for i, op := range group {
			if results[i] = op.ctx.Err(); results[i] != nil {
				continue
			}
			var fatal error
			if results[i], fatal = w.inSavepoint(ctx, tx, op); fatal != nil {
				sqlTx.Rollback()
				return fmt.Errorf("store: savepoint: %w", fatal)
			}
		}
	}
	if err := sqlTx.Commit(); err != nil {
		w.logger.Error("store: commit failed", "err", err, "writes", len(group))
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// inSavepoint runs one write of a group inside a savepoint, so that its failure undoes
// only its own changes. fatal reports that the transaction itself is no longer usable.
func (w *groupWriter) inSavepoint(ctx context.Context, tx *Tx, op *writeOp) (err, fatal error) {
	if _, fatal = tx.ExecContext(ctx, "SAVEPOINT w"); fatal != nil {
		return nil, fatal
	}
	if err = w.call(tx, op); err != nil {
		if _, fatal = tx.ExecContext(ctx, "ROLLBACK TO w"); fatal != nil {
			return err, fatal
		}
	}
	_, fatal = tx.ExecContext(ctx, "RELEASE w")
	return err, fatal
}

// call runs a write function, turning a panic into an error.
func (w *groupWriter) call(tx *Tx, op *writeOp) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.logger.Error("store: write panicked", "panic", p)
			err = fmt.Errorf("store: write panicked: %v", p)
		}
	}()
	return op.fn(tx)
}
