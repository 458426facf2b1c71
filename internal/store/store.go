// Package store owns mlship's metadata database: opening it by URI, applying the embedded
// migrations, and the write path.
//
// Every write goes through DB.Write, which runs it inside a transaction that is durable
// before Write returns. On SQLite one goroutine owns the only write connection and commits
// concurrent writes together (group commit), so a commit's fsync is shared by many
// requests; each write runs in its own savepoint, so one failed write never undoes
// another. Reads use a separate pool and never wait for the writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// ErrNotFound is returned when a queried row does not exist.
var ErrNotFound = errors.New("not found")

// Querier is what both the read pool and a write transaction offer.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Dialect hides the differences between SQL engines that the domain packages must know.
type Dialect interface {
	// Name is the driver's name, e.g. "sqlite".
	Name() string
	// Rebind rewrites a query written with ? placeholders into the engine's own.
	Rebind(query string) string
	// IsUniqueViolation reports whether err is a unique or primary-key violation.
	IsUniqueViolation(err error) bool
	// MaxParams is the largest number of bind parameters one statement may carry.
	MaxParams() int
	// ForUpdate is the clause that ends a SELECT in a write to lock the rows it reads of
	// table (a name or the alias the query gives it) until the write commits: "" where
	// writes never run side by side (SQLite), " FOR UPDATE OF table" on PostgreSQL.
	ForUpdate(table string) string
	// Greatest is the larger of two expressions: SQLite's MAX(a, b), GREATEST(a, b)
	// elsewhere.
	Greatest(a, b string) string
}

// A driver opens one engine. Drivers register themselves by URI scheme.
type driver interface {
	open(ctx context.Context, u *url.URL, logger *slog.Logger) (*DB, error)
}

var drivers = map[string]driver{}

// DB is an open metadata database.
type DB struct {
	read      *sql.DB
	dialect   Dialect
	writer    writer
	logger    *slog.Logger
	exclusive bool     // this process is the database's only writer
	lock      *os.File // held while open, for exclusive engines
	// readTimeout is the deadline of every statement on the read pool; 0 means none.
	readTimeout time.Duration
	where       string // where the database's files are, for messages
	// migrateLock, when set, is run first in every migration's transaction: it makes
	// servers that start together on one database apply each migration once.
	migrateLock string
	changes     changes
}

// writer runs write functions transactionally and durably.
type writer interface {
	write(ctx context.Context, fn func(tx *Tx) error) error
	close() error
}

// Open opens the database named by uri ("sqlite:///path/to/mlship.db" or
// "postgresql://user:password@host:5432/database") and migrates it to the newest schema.
func Open(ctx context.Context, uri string, logger *slog.Logger) (*DB, error) {
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URI, which may hold a password
		}
		return nil, fmt.Errorf("store: the database URI does not parse: %w", err)
	}
	d, ok := drivers[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, fmt.Errorf("store: unsupported database URI scheme %q (supported: sqlite, postgresql)", u.Scheme)
	}
	db, err := d.open(ctx, u, logger)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Redact returns a database URI fit for logs: its password, in the user part or the
// query, replaced by "xxxxx".
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(a database URI that does not parse)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Dialect returns the engine's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Reader returns the read pool. Queries must be written with ? placeholders and passed
// through Rebind.
func (db *DB) Reader() Querier { return rebinding{db.read, db.dialect, db.readTimeout} }

// SetReadTimeout gives every statement on the read pool a deadline, so that one costly
// search cannot hold a read connection for minutes while others wait for it. Writes
// have none: interrupting a statement would roll back the group commit it shares.
func (db *DB) SetReadTimeout(d time.Duration) { db.readTimeout = d }

// Write runs fn in a transaction and returns once the transaction is durable, or fn's
// error (in which case nothing fn did is kept).
// A write that finds the disk full is a fault.InsufficientStorage error.
// When ctx carries a Trail not yet committed, its record is written after fn in the
// same transaction.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	fn, done := withTrail(ctx, fn)
	err := db.noSpace(db.writer.write(ctx, fn))
	done(err)
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Exclusive reports whether this process is the database's only writer, so that
// caches of its contents stay true.
func (db *DB) Exclusive() bool { return db.exclusive }

// Close stops the writer, closes all connections and releases the lock.
func (db *DB) Close() error {
	db.changes.stop()
	err := errors.Join(db.writer.close(), db.read.Close())
	if db.lock != nil {
		err = errors.Join(err, db.lock.Close())
	}
	return err
}

// Tx is a write transaction. Its methods accept ? placeholders.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	stmts   *stmtCache // nil: the driver caches its statements itself
	// abortsOnError: the engine aborts the transaction at a failed statement
	// (PostgreSQL), rather than undoing that statement alone (SQLite).
	abortsOnError bool
}

// Lock takes a lock named key, held until the transaction ends, for a write that
// decides what to write from what it reads and has no row to lock with ForUpdate (the
// next version of a dataset that has none yet, say). Writes on SQLite never run side by
// side, so there it does nothing.
func (t *Tx) Lock(ctx context.Context, key string) error {
	if !t.abortsOnError {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	_, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64()))
	return err
}

// Try runs fn, statements whose failure the caller answers itself (a unique violation
// it turns into "already exists" before querying on, say): when fn fails, what its
// statements did is undone and the transaction stays usable, on every engine.
func (t *Tx) Try(ctx context.Context, fn func() error) error {
	if !t.abortsOnError {
		return fn()
	}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT try"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT try"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT try")
	return err
}

// stmt returns q prepared for this transaction, from the statement cache when there is
// one.
func (t *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	q = t.dialect.Rebind(q)
	if t.stmts != nil {
		if s := t.stmts.get(q); s != nil {
			return t.tx.StmtContext(ctx, s), nil
		}
	}
	return t.tx.PrepareContext(ctx, q)
}

// ExecContext executes a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := checkParams(t.dialect, args); err != nil {
		return nil, err
	}
	if t.stmts == nil {
		return t.tx.ExecContext(ctx, t.dialect.Rebind(q), args...)
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := checkParams(t.dialect, args); err != nil {
		return nil, err
	}
	if t.stmts == nil {
		return t.tx.QueryContext(ctx, t.dialect.Rebind(q), args...)
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if t.stmts == nil {
		return t.tx.QueryRowContext(ctx, t.dialect.Rebind(q), args...)
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		// Let the error surface from Scan, as database/sql does.
		return t.tx.QueryRowContext(ctx, t.dialect.Rebind(q), args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// Dialect returns the engine's dialect.
func (t *Tx) Dialect() Dialect { return t.dialect }

type rebinding struct {
	db      *sql.DB
	d       Dialect
	timeout time.Duration
}

func (r rebinding) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := checkParams(r.d, args); err != nil {
		return nil, err
	}
	sctx, cancel := r.deadline(ctx)
	defer cancel()
	res, err := r.db.ExecContext(sctx, r.d.Rebind(q), args...)
	return res, Classify(ctx, err)
}

func (r rebinding) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := checkParams(r.d, args); err != nil {
		return nil, err
	}
	sctx, cancel := r.deadline(ctx)
	rows, err := r.db.QueryContext(sctx, r.d.Rebind(q), args...)
	if err != nil {
		cancel()
		return nil, Classify(ctx, err)
	}
	// The rows outlive this call, so cancel cannot wait for them here: the context is
	// released by its own deadline or when the caller's context ends, whichever is first.
	_ = cancel
	return rows, nil
}

func (r rebinding) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, cancel := r.deadline(ctx)
	_ = cancel // as in QueryContext: the row is read after this call returns
	return r.db.QueryRowContext(ctx, r.d.Rebind(q), args...)
}
