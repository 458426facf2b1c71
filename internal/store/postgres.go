package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

func init() {
	drivers["postgresql"] = pgDriver{}
	drivers["postgres"] = pgDriver{}
}

// pgMaxConns bounds the connections of each of a server's two pools, reads and writes:
// many servers may share the database.
const pgMaxConns = 16

type pgDriver struct{}

// open connects to "postgresql://user:password@host:port/database?sslmode=...". Every
// parameter libpq's URIs take is understood (pgx parses them); others are sent to the
// server as run-time settings, e.g. search_path=mlship.
func (pgDriver) open(ctx context.Context, u *url.URL, logger *slog.Logger) (*DB, error) {
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("store: postgresql URI: %w", err)
	}
	where := "PostgreSQL at " + cfg.Host
	write := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(pgAfterConnect))
	write.SetMaxOpenConns(pgMaxConns)
	write.SetMaxIdleConns(pgMaxConns / 2)
	write.SetConnMaxIdleTime(5 * time.Minute)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", where, err)
	}
	// Reads run in read-only transactions, so that a read that would write fails.
	rcfg := cfg.Copy()
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"
	read := stdlib.OpenDB(*rcfg, stdlib.OptionAfterConnect(pgAfterConnect))
	read.SetMaxOpenConns(pgMaxConns)
	read.SetMaxIdleConns(pgMaxConns / 2)
	read.SetConnMaxIdleTime(5 * time.Minute)
	d := pgDialect{}
	db := &DB{read: read, dialect: d, writer: newTxWriter(write, d, logger), logger: logger, where: where,
		migrateLock: "SELECT pg_advisory_xact_lock(" + strconv.Itoa(pgMigrateLock) + ")"}
	db.changes.listen = pgListen(cfg.Copy(), &db.changes, db)
	db.changes.notify = func(ctx context.Context, topic string) error {
		_, err := write.ExecContext(ctx, "SELECT pg_notify($1, $2)", changesChannel, topic)
		return err
	}
	return db, nil
}

// pgAfterConnect readies a new connection for the schema's types: flags are integer
// columns holding 0 or 1, as on SQLite, and the domain packages bind Go booleans to them.
func pgAfterConnect(_ context.Context, c *pgx.Conn) error {
	m := c.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{wrapBoolAsInt}, m.TryWrapEncodePlanFuncs...)
	return nil
}

// wrapBoolAsInt lets a bool be bound where the column is an integer: true is 1.
func wrapBoolAsInt(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	b, ok := value.(bool)
	if !ok {
		return nil, nil, false
	}
	return &boolAsIntPlan{}, boolInt(b), true
}

type boolInt bool

func (b boolInt) Int64Value() (pgtype.Int8, error) {
	v := int64(0)
	if b {
		v = 1
	}
	return pgtype.Int8{Int64: v, Valid: true}, nil
}

type boolAsIntPlan struct{ next pgtype.EncodePlan }

func (p *boolAsIntPlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *boolAsIntPlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(boolInt(value.(bool)), buf)
}

// pgMigrateLock is the advisory lock key that serialises migrations between servers
// starting together on one database.
const pgMigrateLock = 0x6d6c7368 // "mlsh"

// txWriter runs each write in a transaction of its own: the database orders concurrent
// writers with its row locks, so writes from many processes can run side by side.
type txWriter struct {
	db      *sql.DB
	dialect Dialect
	logger  *slog.Logger

	mu      sync.RWMutex // held for reading while a write runs, for writing while closing
	closed  bool
	running sync.WaitGroup
}

func newTxWriter(db *sql.DB, d Dialect, logger *slog.Logger) *txWriter {
	return &txWriter{db: db, dialect: d, logger: logger}
}

// pgRetries is how often a write the database aborted to resolve a deadlock or a
// serialization conflict is tried again.
const pgRetries = 5

func (w *txWriter) write(ctx context.Context, fn func(tx *Tx) error) error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errClosed
	}
	w.running.Add(1)
	w.mu.RUnlock()
	defer w.running.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once begun, the write is carried out even if ctx ends, as on SQLite: a caller
	// must never be told "failed" about a write that was committed.
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; ; attempt++ {
		err = w.once(ctx, fn)
		if err == nil || attempt == pgRetries || !pgRetryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

func (w *txWriter) once(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			w.logger.Error("store: write panicked", "panic", p)
			err = fmt.Errorf("store: write panicked: %v", p)
		}
	}()
	if err := fn(&Tx{tx: sqlTx, dialect: w.dialect, abortsOnError: true}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// close refuses new writes, waits for those running and closes the write pool.
func (w *txWriter) close() error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if already {
		return nil
	}
	w.running.Wait()
	return w.db.Close()
}

// pgRetryable reports whether err is a transaction the database aborted so that
// another could go on: running it again may succeed.
func pgRetryable(err error) bool {
	c := pgCode(err)
	return c == "40001" || c == "40P01" // serialization_failure, deadlock_detected
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

type pgDialect struct{}

func (pgDialect) Name() string   { return "postgres" }
func (pgDialect) MaxParams() int { return 65535 }

func (pgDialect) ForUpdate(table string) string { return " FOR UPDATE OF " + table }
func (pgDialect) Greatest(a, b string) string {
	return "GREATEST(" + a + ", " + b + ")"
}

func (pgDialect) IsUniqueViolation(err error) bool { return pgCode(err) == "23505" }

// Rebind numbers the ? placeholders: "a = ? AND b = ?" → "a = $1 AND b = $2". A ? in a
// string literal, a quoted identifier or a comment is left alone.
func (pgDialect) Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				i = len(q)
				continue
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
