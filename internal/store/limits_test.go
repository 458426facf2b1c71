package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// slowQuery counts to a billion: minutes of work for SQLite unless interrupted.
const slowQuery = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)
	SELECT COUNT(*) FROM c`

// TestReadDeadlineStopsTheStatement: the statement is interrupted inside the engine when
// its deadline passes, the error says so, and the connection serves the next read.
func TestReadDeadlineStopsTheStatement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		db.SetReadTimeout(200 * time.Millisecond)
		ctx := context.Background()
		for _, name := range []string{"ScanEach", "QueryRow"} {
			t.Run(name, func(t *testing.T) {
				start := time.Now()
				var err error
				if name == "ScanEach" {
					err = store.ScanEach(ctx, db.Reader(), slowQuery, nil, func(*sql.Rows) error { return nil })
				} else {
					var n int
					err = store.Classify(ctx, db.Reader().QueryRowContext(ctx, slowQuery).Scan(&n))
				}
				took := time.Since(start)
				t.Logf("stopped after %s: %v", took, err)
				if !errors.Is(err, fault.DeadlineExceeded) {
					t.Fatalf("err = %v, want a deadline fault", err)
				}
				if !strings.Contains(fault.Message(err), "--sql-statement-timeout") {
					t.Errorf("the message does not name the flag: %q", fault.Message(err))
				}
				if took > 5*time.Second {
					t.Errorf("the statement ran %s past a 200ms deadline", took)
				}
			})
		}
		// Every connection of the pool still answers.
		for range 16 {
			var one int
			if err := db.Reader().QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("a read after the interrupted ones: %v", err)
			}
		}
	})
}

// TestCallerCancelIsNotATimeout: a read stopped because its caller went away keeps
// the caller's error.
func TestCallerCancelIsNotATimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		db.SetReadTimeout(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := store.ScanEach(ctx, db.Reader(), slowQuery, nil, func(*sql.Rows) error { return nil })
		if err == nil || errors.Is(err, fault.DeadlineExceeded) {
			t.Fatalf("err = %v, want the caller's own cancellation", err)
		}
	})
}

func TestTooManyBindValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		createCounter(t, db)
		ctx := context.Background()
		n := db.Dialect().MaxParams() + 1
		args := make([]any, n)
		for i := range args {
			args[i] = i
		}
		q := `SELECT k FROM kv WHERE v IN (` + store.Placeholders(n) + `)`
		err := store.ScanEach(ctx, db.Reader(), q, args, func(*sql.Rows) error { return nil })
		if !errors.Is(err, fault.Invalid) {
			t.Fatalf("read: err = %v, want an invalid-request fault", err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE v IN (`+store.Placeholders(n)+`)`, args...)
			return err
		})
		if !errors.Is(err, fault.Invalid) {
			t.Fatalf("write: err = %v, want an invalid-request fault", err)
		}
		// At the limit the statement runs.
		err = store.ScanEach(ctx, db.Reader(), `SELECT k FROM kv WHERE v IN (`+store.Placeholders(n-1)+`)`, args[:n-1],
			func(*sql.Rows) error { return nil })
		if err != nil {
			t.Fatalf("at the limit: %v", err)
		}
	})
}

// TestFullDatabase: a write that finds the database full (SQLITE_FULL, here through a
// page limit, as a full disk gives it) is an insufficient-storage fault naming where
// the database is; reads keep working, and writes succeed once there is room.
func TestFullDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if db.Dialect().Name() != "sqlite" {
			t.Skip("a full disk is simulated through SQLite's page limit; PostgreSQL's disk_full (53100) is mapped the same way")
		}
		createCounter(t, db)
		ctx := context.Background()
		limit := func(pages string) {
			t.Helper()
			if err := db.Write(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, `PRAGMA max_page_count = `+pages)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		var pages int
		if err := db.Reader().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			t.Fatal(err)
		}
		limit(fmt.Sprint(pages))
		big := strings.Repeat("x", 1<<20)
		err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES (?, 1)`, big)
			return err
		})
		if !errors.Is(err, fault.InsufficientStorage) {
			t.Fatalf("err = %v, want an insufficient-storage fault", err)
		}
		if !strings.Contains(fault.Message(err), "is full") {
			t.Errorf("message %q", fault.Message(err))
		}
		if n := count(t, db); n != 0 {
			t.Errorf("%d rows after the failed write, want 0", n)
		}
		limit("1073741823")
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES (?, 1)`, big)
			return err
		}); err != nil {
			t.Fatalf("a write once there is room: %v", err)
		}
	})
}
