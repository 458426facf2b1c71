package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

func createCounter(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Reader().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM kv`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentWritesAllCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		createCounter(t, db)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for i := range 400 {
			wg.Go(func() {
				errs <- db.Write(ctx, func(tx *store.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint(i), i)
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, db); n != 400 {
			t.Fatalf("rows = %d, want 400", n)
		}
	})
}

// A failing write in a group must undo only itself.
func TestFailedWriteUndoesOnlyItself(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		createCounter(t, db)
		ctx := context.Background()
		boom := errors.New("boom")
		var wg sync.WaitGroup
		results := make([]error, 200)
		for i := range 200 {
			wg.Go(func() {
				results[i] = db.Write(ctx, func(tx *store.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint(i), i); err != nil {
						return err
					}
					switch i % 3 {
					case 1:
						return boom
					case 2:
						// A duplicate key fails inside the database.
						_, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint(i), i)
						if !db.Dialect().IsUniqueViolation(err) {
							t.Errorf("want a unique violation, got %v", err)
						}
						return err
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range results {
			if (i%3 == 0) != (err == nil) {
				t.Fatalf("write %d: err = %v", i, err)
			}
		}
		var want int
		for i := range 200 {
			if i%3 == 0 {
				want++
			}
		}
		if n := count(t, db); n != want {
			t.Fatalf("rows = %d, want %d", n, want)
		}
	})
}

func TestPanickingWriteBecomesError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		createCounter(t, db)
		err := db.Write(context.Background(), func(tx *store.Tx) error { panic("bad") })
		if err == nil {
			t.Fatal("want an error from a panicking write")
		}
		if n := count(t, db); n != 0 {
			t.Fatalf("rows = %d, want 0", n)
		}
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	uri := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, uri, log)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := db.SchemaVersion(ctx)
	createCounter(t, db)
	db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES ('a', 1)`)
		return err
	})
	db.Close()
	db, err = store.Open(ctx, uri, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v2, _ := db.SchemaVersion(ctx); v2 != v1 || v1 == 0 {
		t.Fatalf("schema version %d then %d", v1, v2)
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("rows = %d after reopen", n)
	}
}

func TestOpenRejectsBadURIs(t *testing.T) {
	for _, uri := range []string{"mysql://x/y", "sqlite://", "sqlite://:memory:", "::bad"} {
		t.Run(uri, func(t *testing.T) {
			if db, err := store.Open(context.Background(), uri, slog.New(slog.DiscardHandler)); err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", uri)
			}
		})
	}
}

func TestReaderCannotWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		createCounter(t, db)
		if _, err := db.Reader().ExecContext(context.Background(), `INSERT INTO kv VALUES ('a', 1)`); err == nil {
			t.Fatal("a write through the read pool succeeded")
		}
	})
}

func TestWriteAfterCloseFails(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	db.Close()
	if err := db.Write(context.Background(), func(*store.Tx) error { return nil }); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestSecondOpenOfSameFileIsRefused(t *testing.T) {
	uri := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, uri, log)
	if err != nil {
		t.Fatal(err)
	}
	if !db.Exclusive() {
		t.Fatal("an SQLite database should be exclusive to its process")
	}
	if db2, err := store.Open(ctx, uri, log); err == nil {
		db2.Close()
		t.Fatal("a second Open of the same file succeeded while the first was open")
	}
	db.Close()
	db, err = store.Open(ctx, uri, log)
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	db.Close()
}
