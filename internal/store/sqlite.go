package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() { drivers["sqlite"] = sqliteDriver{} }

// sqlitePragmas are set on every connection. WAL lets readers run beside the writer;
// synchronous=FULL makes every commit durable across power loss; case_sensitive_like
// gives LIKE the case-sensitive meaning that MLflow's search grammar requires.
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"busy_timeout(10000)",
	"foreign_keys(1)",
	"case_sensitive_like(1)",
}

type sqliteDriver struct{}

// open opens the file named by u: "sqlite:///abs/path.db" or "sqlite://relative.db".
func (sqliteDriver) open(ctx context.Context, u *url.URL, logger *slog.Logger) (*DB, error) {
	path := u.Host + u.Path
	if u.Opaque != "" {
		path = u.Opaque
	}
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("store: sqlite URI %q names no file (an in-memory database would lose every write)", u.String())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	write, err := sqliteOpen(path, false, 1)
	if err != nil {
		lock.Close()
		return nil, err
	}
	// Create the file and switch it to WAL before readers open it.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		lock.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	read, err := sqliteOpen(path, true, 8)
	if err != nil {
		write.Close()
		lock.Close()
		return nil, err
	}
	d := sqliteDialect{}
	return &DB{read: read, dialect: d, writer: newGroupWriter(write, d, logger), logger: logger,
		exclusive: true, lock: lock, where: filepath.Dir(path)}, nil
}

// lockFile takes an exclusive lock that lasts while this process holds the database:
// a second server on the same file would write behind this one's back.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %s is in use by another process (is another mlship server running on this data directory?)", path)
	}
	return f, nil
}

func sqliteOpen(path string, readOnly bool, conns int) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// The writer's statement journals (each write of a group commit runs in a
		// savepoint) stay in memory rather than in a temporary file: they only undo a
		// savepoint, and a crash is recovered from the WAL. The reads keep their large
		// sorts on disk.
		q.Add("_pragma", "temp_store(MEMORY)")
		// A group commit can touch thousands of pages (a request of 1,000 spans touches a
		// page of each of several indexes for every trace): with SQLite's default 2 MB
		// cache the writer spilled dirty pages to the WAL before committing and read them
		// back. The writer's cache holds up to 64 MB, and the WAL is copied back into the
		// database every 10,000 pages (about 40 MB) rather than 1,000, which copies a page
		// changed by many commits once rather than many times.
		q.Add("_pragma", "cache_size(-65536)")
		q.Add("_pragma", "wal_autocheckpoint(10000)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

type sqliteDialect struct{}

func (sqliteDialect) Name() string               { return "sqlite" }
func (sqliteDialect) Rebind(query string) string { return query }
func (sqliteDialect) MaxParams() int             { return 32766 }
func (sqliteDialect) ForUpdate(string) string    { return "" }
func (sqliteDialect) Greatest(a, b string) string {
	return "MAX(" + a + ", " + b + ")"
}

func (sqliteDialect) IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isInterrupt reports whether err is SQLite's answer to a statement interrupted
// because its context ended.
func isInterrupt(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_INTERRUPT ||
		pgCode(err) == "57014" // PostgreSQL's query_canceled
}

// isFull reports whether err is a write that found the disk (or the quota) full.
func isFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	if pgCode(err) == "53100" { // PostgreSQL's disk_full
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
